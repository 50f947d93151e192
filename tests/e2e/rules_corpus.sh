#!/usr/bin/env bash
# The leak corpus checked against Go itself, without ctxtrace: every program's
# truth line (tests/go/_corpus/truth.go) must match the goroutine dump the Go
# runtime prints on SIGQUIT: for each expected goroutine group, at least `count`
# goroutines created at the "go" site, blocked at the "block" site, in one of the
# expected states. A wrong truth would make every ctxtrace test of the corpus wrong.
# The static expectations in tests/eval/expected/PROGRAM.json (rule, severity and
# sites, for that Go version and build mode) must equal the program's truth line.
cd "$(dirname "$0")/../.." || exit 1
source tests/lib.sh

versions=${CORPUS_VERSIONS:-$(go_versions)}
programs=$(cd tests/go && ls -d leak_* healthy_* 2>/dev/null)

# One line per goroutine: state|created-by file:line|first main.* frame file:line
summarize() {
	awk '
	function flush() { if (state != "") print state "|" created "|" first; state = ""; created = ""; first = ""; want = "" }
	/^goroutine [0-9]+/ {
		flush()
		s = $0; sub(/^[^[]*\[/, "", s); sub(/\].*$/, "", s); sub(/,.*$/, "", s)
		state = s; next
	}
	/^created by / { want = "created"; next }
	/^[^\t]/ && state != "" {
		fn = $0; sub(/\(.*$/, "", fn)
		cur = (fn ~ /^main\./ && fn !~ /_Cfunc_|_cgo_/) ? "user" : "other"
		if (cur == "user" && first == "") want = "first"; else if (want != "created") want = ""
		next
	}
	/^\t/ && state != "" {
		loc = $1; n = split(loc, p, "/"); loc = p[n]
		if (want == "first") first = loc
		if (want == "created") created = loc
		want = ""
		next
	}
	/^$/ { flush() }
	END { flush() }'
}

# The runtime prints a thread in a system or cgo call as "syscall".
state_ok() { # STATE WAITS...
	local st=$1 w; shift
	for w in "$@"; do
		case $w in read|futex|write|epoll_wait) w=syscall ;; esac
		[ "$st" = "$w" ] && return 0
	done
	return 1
}

for v in $versions; do
	for m in plain cgo; do
		for p in $programs; do
			bin=$(go_bin "$v" "$m" "$p")
			[ -x "$bin" ] || continue
			out=$(mktemp) err=$(mktemp)
			"$bin" -delay 0 -n 8 -interval 5ms -life 20s >"$out" 2>"$err" &
			pid=$!
			for _ in $(seq 100); do grep -q '"type":"truth"' "$out" && break; sleep 0.1; done
			sleep 0.3
			kill -QUIT $pid 2>/dev/null
			wait $pid 2>/dev/null
			name="corpus $v/$m/$p"
			truth=$(grep '"type":"truth"' "$out")
			if [ -z "$truth" ]; then
				not_ok "$name: no truth line" "$(tail -5 "$err")"
				rm -f "$out" "$err"; continue
			fi
			dump=$(summarize <"$err")
			bad=()
			while IFS=$'\t' read -r rule go block count waits; do
				[ "$go" = null ] || [ "$block" = null ] && continue
				IFS=, read -r -a wl <<<"$waits"
				have=0
				while IFS='|' read -r st cr first; do
					# A running goroutine may be anywhere in its loop, not at its blocking site.
					[ "$cr" = "$go" ] && { [ "$first" = "$block" ] || [ "$st" = running ] || [ "$st" = runnable ]; } &&
						state_ok "$st" "${wl[@]}" && have=$((have + 1))
				done <<<"$dump"
				[ "$have" -ge "$count" ] || bad+=("$rule go=$go block=$block: $have of $count goroutines in [${waits}]")
			done < <(jq -r '.expect[] | [.rule, (.sites.go // "null"), (.sites.block // "null"), .count, ((.wait // []) | join(","))] | @tsv' <<<"$truth")
			nexp=$(jq '.expect | length' <<<"$truth")
			static=tests/eval/expected/$p.json
			if [ ! -f "$static" ]; then
				bad+=("no $static")
			else
				want=$(jq -c --argjson minor "${v#1.}" --arg mode "$m" '
					[.alerts[] | select((.go_min // 0) <= $minor and ((.modes // [$mode]) | index($mode)))
					 | {rule, severity, sites}] | sort' "$static")
				got=$(jq -c '[.expect[] | {rule, severity, sites}] | sort' <<<"$truth")
				[ "$want" = "$got" ] || bad+=("$static differs from the truth line" "static: $want" "truth:  $got")
			fi
			if [ "$(jq .healthy <<<"$truth")" = false ] && [ "$nexp" -eq 0 ]; then
				bad+=("a leak program that expects nothing")
			fi
			if [ ${#bad[@]} -eq 0 ]; then ok "$name ($nexp expected alerts)"; else not_ok "$name" "${bad[@]}"; fi
			rm -f "$out" "$err"
		done
	done
done
done_testing
