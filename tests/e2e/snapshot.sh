#!/usr/bin/env bash
# `ctxtrace snapshot` and the memory judgement at attach, against independent truths:
#  1. tests/go/snap_target, every installed Go version in plain, stripped, PIE and
#     cgo builds: the alerts equal what the program says it made (rule, go site,
#     blocking site), and the goroutine list equals the one Go itself prints on
#     SIGQUIT (GOTRACEBACK=all) for the same idle process: same goroutines, states
#     (wait reasons), "created by" sites, parent goroutines (1.21+) and first user
#     frame. Four of its goroutines hold a context of the program's own type whose
#     itab the runtime made (a type assertion; go tool nm shows none in the binary).
#  2. The leak corpus attached late (the leak complete, the program idle): every
#     expected goroutine group found with its go and blocking site, as the same
#     rule or as stuck-goroutines where memory holds no context (docs/alerts.md says
#     which and why); no other alert; healthy programs: none. Newest Go plain,
#     stripped and cgo, and Go 1.19 plain (make eval: SNAPSHOT_MATRIX=all).
#  3. `watch` and ctxtraced attached late report the same groups in their first
#     judgements, marked "source":"memory", without another grace period when the
#     runtime knows how long they have been blocked.
#  4. Bad input and faults: no such process, not a Go program, bad options, a target
#     that exits while read, a target whose goroutines start, grow their stacks and
#     exit while read: one line and exit 1 or 2, never a crash, no false alert.
cd "$(dirname "$0")/../.." || exit 1
source tests/lib.sh
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done; rm -rf "$tmp"; }
trap cleanup EXIT

all=$(go_versions)
newest=${all##*$'\n'}
if ! GO_PROGRAMS="snap_target $(cd tests/go && echo leak_* healthy_*)" scripts/build-go-tests.sh "$GOBIN_DIR" >"$tmp/build.log" 2>&1; then
	not_ok "Go test programs build" "$(tail -20 "$tmp/build.log")"
	done_testing; exit
fi

# start BIN OUT [ARGS...]: runs a corpus program, waits for its truth line; sets $pid.
start() {
	local bin=$1 out=$2; shift 2
	# A truth line left from the previous run must not be taken for this one's.
	rm -f "$out" "$out.err"
	GOTRACEBACK=all "$bin" -delay 0 -interval 2ms -life 60s "$@" >"$out" 2>"$out.err" &
	pid=$!
	pids+=("$pid")
	for _ in $(seq 150); do grep -qs '"type":"truth"' "$out" && return 0; sleep 0.1; done
	return 1
}

# The alerts (JSON lines on stdin) against the truth line ($1): one line per problem.
# An expectation with go and block sites is found by an alert of its rule, or of
# stuck-goroutines (when memory has no context for it: $2 = "stuck ok"), with both
# sites among the alert's; the rest are false alerts. With "stuck ok", lost-cancel
# expectations (goroutines waiting on the Done of a context whose cancel func was
# dropped) are not expected: memory cannot tell that nobody holds the cancel func,
# and waiting on a live context's Done is what a healthy goroutine does.
judge() {
	jq -rn --slurpfile t "$1" --arg stuck "${2:-}" '
	def loc: if . == null then null else "\(.file // "?" | split("/") | last):\(.line)" end;
	def gos: [.goroutine.go_site | loc] + [.waiters.groups[]?.go_site | loc];
	def blocks: [.blocking[]?.site | loc] + [.waiters.groups[]?.site | loc];
	[inputs | select(.type == "alert")] as $a
	| ($t[0].expect | map(select(.sites.go != null and .sites.block != null
	      and ($stuck == "" or .rule != "lost-cancel")))) as $e
	| [$a[] | . as $x | {x: ., m: [$e[] | . as $w | select(($x.rule == $w.rule or ($stuck != "" and $x.rule == "stuck-goroutines"))
	      and ($x | gos | index([$w.sites.go])) != null and ($x | blocks | index([$w.sites.block])) != null)]}] as $matched
	| ($e[] | . as $w | select([$matched[] | select(.m | index([$w]))] | length == 0)
	   | "missed \(.rule) go \(.sites.go) block \(.sites.block) (\(.what))"),
	  ($matched[] | select(.m == []) | "false \(.x.rule) x\(.x.count): \(.x.message)"),
	  ($a[] | select(.source != "memory") | "\(.rule): source \(.source), not memory")'
}

# Parses Go's SIGQUIT dump into "goid|state|created-by file:line|parent|first main frame".
dump_summary() {
	awk '
	function flush() { if (id != "") print id "|" state "|" created "|" parent "|" first; id = "" }
	/^goroutine [0-9]+/ {
		flush(); id = $2
		s = $0; sub(/^[^[]*\[/, "", s); sub(/\].*$/, "", s); sub(/,.*$/, "", s); state = s
		created = ""; parent = ""; first = ""; want = ""; next
	}
	/^created by / { want = "created"; parent = ($0 ~ / in goroutine [0-9]+/) ? $NF : ""; next }
	/^[^\t]/ && id != "" {
		fn = $0; sub(/\(.*$/, "", fn)
		want = (want == "created") ? "created" : ((fn ~ /^main\./ && first == "") ? "first" : "")
		next
	}
	/^\t/ && id != "" {
		loc = $1; n = split(loc, p, "/"); loc = p[n]
		if (want == "first") first = loc
		if (want == "created") created = loc
		want = ""; next
	}
	/^$/ { flush() }
	END { flush() }' | awk -F'|' '$1 != "0"' | sort -t'|' -k1n
}

snap_summary() { # the same from snapshot --goroutines --json
	jq -r 'select(.type == "goroutine") |
		def loc: "\(.file | split("/") | last):\(.line)";
		"\(.goid)|\(.state)\(if .leaked then " (leaked)" else "" end)|\(if .go_site then (.go_site | loc) else "" end)|\(if .parent_goid > 0 then .parent_goid else "" end)|\([.stack[] | select(.func | startswith("main."))][0] // null | if . then loc else "" end)"' |
		sort -t'|' -k1n
}

# 1. snap_target, every version and build mode.
for v in $all; do
	minor=${v#1.}
	# The runtime-made itab is one: the linker made none for that type (1.27's
	# linker names no itab: nothing to check there).
	"$(go_tool "$v")" tool nm "$(go_bin "$v" plain snap_target)" >"$tmp/nm" 2>&1
	if ! grep -q 'go:itab\.' "$tmp/nm"; then
		skip "snapshot $v: go tool nm names no itab on this version"
	elif grep -q 'go:itab\.\*context\.cancelCtx,context\.Context' "$tmp/nm" &&
		! grep -q 'go:itab\.\*main\.rtCtx,context\.Context' "$tmp/nm"; then
		ok "snapshot $v: snap_target has no linker itab for *main.rtCtx (go tool nm)"
	else
		not_ok "snapshot $v: go tool nm on snap_target" "$(grep -e 'itab.*rtCtx' -e 'itab.*cancelCtx' "$tmp/nm" | head -3)"
	fi
	for m in plain stripped pie cgo; do
		bin=$(go_bin "$v" "$m" snap_target)
		[ -x "$bin" ] || { not_ok "snapshot $v/$m: $bin not built"; continue; }
		name="snapshot $v/$m snap_target"
		# -rtitab: 4 goroutines hold a context whose itab the runtime made (no static
		# conversion: checked below with go tool nm), found in their frames all the same.
		if ! start "$bin" "$tmp/t" -n 6 -children 1200 -rtitab 4; then
			not_ok "$name: the program printed no truth line" "$(head -5 "$tmp/t.err")"; continue
		fi
		"$CTXTRACE" snapshot -p "$pid" --json --goroutines --grace 300ms >"$tmp/s" 2>"$tmp/s.err"
		rc=$?
		kill -QUIT "$pid"; wait "$pid" 2>/dev/null
		if [ $rc -ne 0 ]; then
			not_ok "$name: exit $rc" "$(head -5 "$tmp/s.err")"; continue
		fi
		problems=$(judge <(grep '"type":"truth"' "$tmp/t") <"$tmp/s")
		n=$(grep -c '"type":"alert"' "$tmp/s")
		# Where the runtime has a goroutine leak profile, the program wrote it: the
		# goroutines it marked leaked are reported as such.
		if grep -q 'leak profile written' "$tmp/t" &&
			[ "$(jq -s '[.[] | select(.rule == "stuck-goroutines") | .memory.leaked] | add // 0' "$tmp/s")" -lt 6 ]; then
			problems+="${problems:+$'\n'}the leak profile marked the senders leaked; stuck-goroutines does not say so"
		fi
		if [ -z "$problems" ] && [ "$n" -eq 4 ]; then
			ok "$name: the 4 expected alerts with their sites (a runtime-made itab's too), nothing else$(grep -q 'leak profile written' "$tmp/t" && echo ', leaked ones marked')"
		else
			mapfile -t lines <<<"$problems"
			not_ok "$name: alerts" "$n alerts" "${lines[@]}"
		fi
		# Against Go's own dump of the same process. Before 1.21 there is no
		# "in goroutine N" and no parentGoid: the parent column is left out.
		d=$(dump_summary <"$tmp/t.err") s=$(snap_summary <"$tmp/s")
		if [ "$minor" -lt 21 ]; then
			d=$(cut -d'|' -f1-3,5 <<<"$d") s=$(cut -d'|' -f1-3,5 <<<"$s")
		fi
		nd=$(grep -c . <<<"$d")
		if [ "$nd" -ge 20 ] && [ "$d" = "$s" ]; then
			ok "$name: same $nd goroutines, states, created-by sites and first frames as Go's SIGQUIT dump"
		else
			not_ok "$name: goroutines differ from Go's SIGQUIT dump (< go, > ctxtrace)" \
				"$(diff <(echo "$d") <(echo "$s") | head -12)"
		fi
	done
done

# 2. The corpus, attached late.
corpus_versions=$newest
[ "${SNAPSHOT_MATRIX:-}" = all ] && corpus_versions=$all
runs=()
for v in $corpus_versions; do
	for m in plain stripped cgo; do runs+=("$v $m"); done
done
[ "${SNAPSHOT_MATRIX:-}" = all ] || runs+=("1.19 plain")
for r in "${runs[@]}"; do
	read -r v m <<<"$r"
	for p in $(cd tests/go && ls -d leak_* healthy_*); do
		bin=$(go_bin "$v" "$m" "$p")
		[ -x "$bin" ] || continue
		name="snapshot late $v/$m/$p"
		if ! start "$bin" "$tmp/t" -n 10; then
			not_ok "$name: no truth line" "$(head -3 "$tmp/t.err")"; continue
		fi
		sleep 0.3
		"$CTXTRACE" snapshot -p "$pid" --json --grace 300ms >"$tmp/s" 2>"$tmp/s.err"
		rc=$?
		kill -KILL "$pid"; wait "$pid" 2>/dev/null
		if [ $rc -ne 0 ]; then
			not_ok "$name: exit $rc" "$(head -3 "$tmp/s.err")"; continue
		fi
		problems=$(judge <(grep '"type":"truth"' "$tmp/t") "stuck ok" <"$tmp/s")
		got=$(jq -r 'select(.type == "alert") | "\(.rule) x\(.count)"' "$tmp/s" | sort | tr '\n' ',')
		if [ -z "$problems" ]; then
			ok "$name: ${got:-no alert}"
		else
			mapfile -t lines <<<"$problems"
			not_ok "$name" "${lines[@]}"
		fi
	done
done

# 3. watch attached late: memory findings in its first judgements.
bin=$(go_bin "$newest" plain snap_target)
if start "$bin" "$tmp/t" -n 6 -children 1200; then
	# The program ran a GC after its leaks: the runtime knows since when they
	# wait. Attached 2.5 s later with --grace 2s, they are reported by the first
	# memory judgement, at attach; a second look (--grace after attach) would come
	# 2.5 s after attach at the earliest.
	sleep 2.5
	t0=$(date +%s%N)
	"$CTXTRACE" watch -p "$pid" --json --grace 2s --duration 4s >"$tmp/w" 2>"$tmp/w.err"
	rc=$?
	kill -KILL "$pid"; wait "$pid" 2>/dev/null
	problems=$(judge <(grep '"type":"truth"' "$tmp/t") <"$tmp/w")
	late=$(jq -r --argjson t0 "$t0" 'select(.type == "alert") |
		(.time[0:19] + "Z" | fromdate) * 1000 + (.time[20:23] | tonumber) - ($t0 / 1000000 | floor) | select(. > 2400)' "$tmp/w")
	if [ $rc -eq 0 ] && [ -z "$problems" ] && [ -z "$late" ] && [ "$(grep -c '"type":"alert"' "$tmp/w")" -eq 3 ]; then
		ok "watch attached late: the 3 groups from memory at attach, no other grace period, source memory"
	else
		not_ok "watch attached late" "rc=$rc" "$problems" "late by ms: $late" "$(head -3 "$tmp/w.err")"
	fi
else
	not_ok "watch attached late: no truth line"
fi
bin=$(go_bin "$newest" plain leak_blocked_chan)
if start "$bin" "$tmp/t" -n 8; then
	"$CTXTRACE" watch -p "$pid" --json --grace 1s --duration 3s >"$tmp/w" 2>"$tmp/w.err"
	kill -KILL "$pid"; wait "$pid" 2>/dev/null
	problems=$(judge <(grep '"type":"truth"' "$tmp/t") "stuck ok" <"$tmp/w")
	if [ -z "$problems" ] && [ "$(grep -c '"rule":"stuck-goroutines"' "$tmp/w")" -eq 3 ]; then
		ok "watch attached late to leak_blocked_chan: 3 stuck-goroutines groups once blocked --grace"
	else
		not_ok "watch attached late to leak_blocked_chan" "$problems" "$(head -3 "$tmp/w.err")"
	fi
fi

# The daemon, started after the leak: the same memory findings in its alert stream.
CTXTRACED=${CTXTRACED:-$OUT/ctxtraced}
bin=$(go_bin "$newest" plain snap_target)
if [ -x "$CTXTRACED" ] && start "$bin" "$tmp/t" -n 6 -children 1200; then
	port=$((20000 + RANDOM % 20000))
	printf '[daemon]\nlog = stderr\npoll_interval = 50ms\n[output]\nsocket = %s/d.sock\nsocket_group =\njson_file = %s/d.jsonl\nmetrics_listen = 127.0.0.1:%d\n[target snap]\npid = %d\ngrace = 2s\n' \
		"$tmp" "$tmp" "$port" "$pid" >"$tmp/d.conf"
	"$CTXTRACED" --config "$tmp/d.conf" >"$tmp/d.log" 2>&1 &
	dpid=$!
	pids+=("$dpid")
	for _ in $(seq 50); do [ "$(grep -c '"type":"alert"' "$tmp/d.jsonl" 2>/dev/null)" -ge 3 ] && break; sleep 0.1; done
	kill -TERM "$dpid"; wait "$dpid" 2>/dev/null
	kill -KILL "$pid"; wait "$pid" 2>/dev/null
	problems=$(jq -c 'select(.type == "alert")' "$tmp/d.jsonl" 2>/dev/null | judge <(grep '"type":"truth"' "$tmp/t"))
	n=$(grep -c '"type":"alert"' "$tmp/d.jsonl" 2>/dev/null)
	if [ -z "$problems" ] && [ "$n" -eq 3 ] && [ "$(jq -r 'select(.type == "alert") | .target' "$tmp/d.jsonl" | sort -u)" = snap ]; then
		ok "ctxtraced attached late: the 3 groups from memory in its alert stream within 5 s"
	else
		not_ok "ctxtraced attached late" "$n alerts" "$problems" "$(tail -3 "$tmp/d.log")"
	fi
fi

# 4. Bad input and faults.
expect_fail() { # NAME WANT_RC CMD...: exit WANT_RC, one line on stderr, nothing on stdout
	local n=$1 want=$2 rc; shift 2
	"$@" >"$tmp/o" 2>"$tmp/e"
	rc=$?
	if [ $rc -eq "$want" ] && [ "$(wc -l <"$tmp/e")" -eq 1 ] && [ ! -s "$tmp/o" ]; then
		ok "$n: exit $rc, $(cat "$tmp/e")"
	else
		not_ok "$n" "rc=$rc (want $want)" "$(head -3 "$tmp/e")" "$(head -3 "$tmp/o")"
	fi
}
expect_fail "snapshot: no such process" 1 "$CTXTRACE" snapshot -p 4194303
sleep 30 & pids+=($!)
expect_fail "snapshot: not a Go program" 1 "$CTXTRACE" snapshot -p $!
expect_fail "snapshot: bad --grace" 2 "$CTXTRACE" snapshot -p 1 --grace soon
expect_fail "snapshot: no -p" 2 "$CTXTRACE" snapshot --json

bin=$(go_bin "$newest" plain snap_target)
if start "$bin" "$tmp/t" -n 6 -children 1200 -churn 6; then
	bad=0 left=0
	for i in 1 2 3; do
		"$CTXTRACE" snapshot -p "$pid" --json --grace 300ms >"$tmp/s" 2>"$tmp/s.err" || bad=1
		problems=$(judge <(grep '"type":"truth"' "$tmp/t") <"$tmp/s")
		[ -n "$problems" ] && bad=1
		left=$((left + $(jq -r 'select(.type == "snapshot") | .left_out + .running' "$tmp/s")))
	done
	if [ $bad -eq 0 ]; then
		ok "snapshot of a moving target (goroutines churning): 3 runs, expected alerts only, $left goroutines left out or running (counted)"
	else
		not_ok "snapshot of a moving target" "$problems" "$(head -3 "$tmp/s.err")"
	fi
	kill -KILL "$pid"; wait "$pid" 2>/dev/null
fi
if start "$bin" "$tmp/t" -n 4 -extra 100000; then
	"$CTXTRACE" snapshot -p "$pid" --json >"$tmp/s" 2>"$tmp/s.err" &
	sp=$!
	sleep 0.15
	kill -KILL "$pid"; wait "$pid" 2>/dev/null
	wait $sp
	rc=$?
	if [ $rc -le 1 ] && { [ $rc -eq 0 ] || [ "$(wc -l <"$tmp/s.err")" -le 2 ]; }; then
		ok "snapshot of a target killed while read: exit $rc, $(tail -1 "$tmp/s.err")"
	else
		not_ok "snapshot of a target killed while read" "rc=$rc" "$(head -5 "$tmp/s.err")"
	fi
fi
done_testing
