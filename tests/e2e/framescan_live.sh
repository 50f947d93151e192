#!/usr/bin/env bash
# Contexts held in stack frames are read only from the slots live at each frame's
# pc (the compiler's stack maps, as Go's garbage collector reads them), never from
# dead slots or stack memory left by exited goroutines. Every installed Go version:
#  1. tests/go/snap_target -reuse N (plain, stripped, PIE, cgo): goroutines whose
#     live frames hold a cancelled context are found (outlived-context, also when
#     the runtime made the itab); N closures that capture no context, started after
#     N goroutines that held a cancelled context (kept valid in a global) exited,
#     are stuck-goroutines, not tied to that context. The alerts equal the
#     program's truth line. (A guard: the whole-stack scan before did not tie this
#     group either, the stale words it found there failed the context check; the
#     demo below is the case that failed before.)
#  2. tests/go/demo_leaky (plain): fetchPrice's closure captures only its channel
#     and order (main.go:21, read by the test from the source); its stack reuses
#     those of exited goroutines that held the request's context (context's own
#     timer and cancel goroutines). ctxtrace snapshot reports its goroutines as
#     stuck-goroutines, never as holding a context.
cd "$(dirname "$0")/../.." || exit 1
source tests/lib.sh
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done; rm -rf "$tmp"; }
trap cleanup EXIT

all=$(go_versions)
if ! GO_PROGRAMS="snap_target demo_leaky" scripts/build-go-tests.sh "$GOBIN_DIR" >"$tmp/build.log" 2>&1; then
	not_ok "Go test programs build" "$(tail -20 "$tmp/build.log")"
	done_testing; exit
fi

start() { # BIN OUT [ARGS...]: waits for the truth line; sets $pid
	local bin=$1 out=$2; shift 2
	rm -f "$out" "$out.err"
	"$bin" -delay 0 -interval 2ms -life 60s "$@" >"$out" 2>"$out.err" &
	pid=$!
	pids+=("$pid")
	for _ in $(seq 150); do grep -qs '"type":"truth"' "$out" && return 0; sleep 0.1; done
	return 1
}

# Alerts (stdin) against the truth line ($1): each outlived-context and
# stuck-goroutines expectation matched exactly by rule, go site and blocking site;
# an alert with a go site no expectation of its rule has is false. One line per
# problem.
judge() {
	jq -rn --slurpfile t "$1" '
	def loc: if . == null then null else "\(.file // "?" | split("/") | last):\(.line)" end;
	[inputs | select(.type == "alert")] as $a
	| ($t[0].expect | map(select(.sites.go != null and .sites.block != null
	      and (.rule == "outlived-context" or .rule == "stuck-goroutines")))) as $e
	| ($e[] | . as $w | select([$a[] | select(.rule == $w.rule and (.goroutine.go_site | loc) == $w.sites.go
	      and ([.blocking[]?.site | loc] | index([$w.sites.block])) != null)] | length == 0)
	   | "missed \(.rule) go \(.sites.go) block \(.sites.block) (\(.what))"),
	  ($a[] | select(.goroutine.go_site != null and .rule != "lost-cancel") | . as $x
	   | select([$e[] | select(.rule == $x.rule and .sites.go == ($x.goroutine.go_site | loc))] | length == 0)
	   | "false \(.rule) x\(.count): \(.message)")'
}

for v in $all; do
	for m in plain stripped pie cgo; do
		bin=$(go_bin "$v" "$m" snap_target)
		name="framescan_live $v/$m snap_target -reuse"
		[ -x "$bin" ] || { not_ok "$name: $bin not built"; continue; }
		if ! start "$bin" "$tmp/t" -n 4 -children 50 -rtitab 2 -reuse 300; then
			not_ok "$name: the program printed no truth line" "$(head -5 "$tmp/t.err")"; continue
		fi
		"$CTXTRACE" snapshot -p "$pid" --json --grace 300ms --min-count 1 --stuck-min 2 >"$tmp/s" 2>"$tmp/s.err"
		rc=$?
		kill -KILL "$pid"; wait "$pid" 2>/dev/null
		if [ $rc -ne 0 ]; then
			not_ok "$name: exit $rc" "$(head -5 "$tmp/s.err")"; continue
		fi
		problems=$(judge <(grep '"type":"truth"' "$tmp/t") <"$tmp/s")
		reuse=$(jq -r 'select(.type == "alert" and .rule == "stuck-goroutines") | select(.blocking[0].site.func // "" | test("leakReuse")) | .count' "$tmp/s" | tail -1)
		if [ -z "$problems" ] && [ "${reuse:-0}" -eq 300 ]; then
			ok "$name: holders found, the 300 closures on reused stacks are stuck-goroutines"
		else
			mapfile -t lines <<<"$problems"
			not_ok "$name" "reuse group: ${reuse:-none}" "${lines[@]}"
		fi
	done
done

# The go statement of fetchPrice's closure, from the source.
line=$(grep -n 'go func() {' tests/go/demo_leaky/main.go | head -1 | cut -d: -f1)
for v in $all; do
	bin=$(go_bin "$v" plain demo_leaky)
	name="framescan_live $v/plain demo_leaky"
	[ -x "$bin" ] || { not_ok "$name: $bin not built"; continue; }
	"$bin" >"$tmp/d" 2>&1 &
	pid=$!
	pids+=("$pid")
	sleep 6
	"$CTXTRACE" snapshot -p "$pid" --json >"$tmp/s" 2>"$tmp/s.err"
	rc=$?
	kill -KILL "$pid"; wait "$pid" 2>/dev/null
	if [ $rc -ne 0 ]; then
		not_ok "$name: exit $rc" "$(head -5 "$tmp/s.err")"; continue
	fi
	got=$(jq -r --arg l "main.go:$line" 'select(.type == "alert")
		| select("\(.goroutine.go_site.file // "" | split("/") | last):\(.goroutine.go_site.line)" == $l)
		| "\(.rule) x\(.count)"' "$tmp/s" | sort | tr '\n' ' ')
	# Alone in its group, or again with a higher count ("grew") in the second pass.
	if [[ $got == "stuck-goroutines x"* ]] && ! grep -qv '^stuck-goroutines' <<<"${got// stuck/$'\n'stuck}"; then
		ok "$name: fetchPrice's goroutines (main.go:$line) are $got, tied to no context"
	else
		not_ok "$name: fetchPrice's goroutines (main.go:$line)" "got: ${got:-no alert}"
	fi
done
done_testing
