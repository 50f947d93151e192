#!/usr/bin/env bash
# make bench: the daemon's main loop under a large rules tick (issues 14, 15):
# tests/go/graph_big with 40k never-cancelled contexts (every one a lost-cancel
# finding) and 2000 goroutines waiting on them, traced by ctxtraced; for 20 s
# `ctxtrace status` is timed every 0.2 s. A rules tick runs in the main loop, so
# the slowest answer bounds the slowest tick. Goal: every answer within 1 s.
# With perf, uprobes on the daemon itself (not the target) time rules__tick and
# count allgs walks (goroutines__foreach): goal at most one walk per tick, plus
# one per memory pass.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-build}
CT=$OUT/ctxtrace
CTXTRACED=${CTXTRACED:-$OUT/ctxtraced}
. scripts/go-versions.sh
v=${BENCH_GO:-$(go_known | tail -1)}
GO_VERSIONS=$v GO_MODES=plain GO_PROGRAMS=graph_big scripts/build-go-tests.sh "$OUT/go" >/dev/null || exit 1
prog=$OUT/go/$v/plain/graph_big
tmp=$(mktemp -d /tmp/ct-bench-ticks.XXXXXX)
pids=()
cleanup() {
	[ -n "${prec:-}" ] && kill -INT "$prec" 2>/dev/null
	for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	[ -n "${prec:-}" ] && perf probe -q -d "probe_ctxtraced:*" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
wait_for() {
	local t=$1; shift
	for _ in $(seq $((t * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
	return 1
}

echo "== rules tick with 40k lost contexts and 2000 waiting goroutines: status latency (goal: < 1000 ms)"
cat >"$tmp/d.conf" <<EOC
[daemon]
log = stderr
poll_interval = 50ms
[output]
socket = $tmp/d.sock
socket_group =
[target big]
exe = graph_big
retention = 10m
EOC
"$CTXTRACED" --config "$tmp/d.conf" >"$tmp/daemon.log" 2>&1 & pids+=($!)
wait_for 10 "$CT" status --socket "$tmp/d.sock" || { echo "  the daemon did not start: $(tail -2 "$tmp/daemon.log")"; exit 0; }
"$prog" "$tmp/go" 40000 2000 keep >"$tmp/prog.out" 2>&1 & pids+=($!)
wait_for 10 bash -c "'$CT' status --json --socket '$tmp/d.sock' | jq -e '.targets | length == 1'"
touch "$tmp/go"
wait_for 30 grep -q ready "$tmp/prog.out" || { echo "  graph_big not ready"; exit 0; }
probes=
if command -v perf >/dev/null && perf probe -q -x "$CTXTRACED" rules__tick 2>/dev/null; then
	perf probe -q -x "$CTXTRACED" 'rules__tick%return' && perf probe -q -x "$CTXTRACED" goroutines__foreach &&
		probes=1
	perf record -q -o "$tmp/perf.data" -e 'probe_ctxtraced:*' -p "${pids[0]}" >/dev/null 2>&1 & prec=$!
fi
n=0 worst=0 slow=0 t_end=$(( $(date +%s) + ${BENCH_TICK_SECONDS:-20} ))
while [ "$(date +%s)" -lt "$t_end" ]; do
	t0=$(date +%s%N)
	timeout 30 "$CT" status --socket "$tmp/d.sock" >/dev/null 2>&1 || slow=$((slow + 1))
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	[ "$ms" -gt "$worst" ] && worst=$ms
	[ "$ms" -ge 1000 ] && slow=$((slow + 1))
	n=$((n + 1))
	sleep 0.2
done
if [ -n "${prec:-}" ]; then
	kill -INT "$prec"; wait "$prec" 2>/dev/null
	[ -n "$probes" ] && perf script -i "$tmp/perf.data" 2>/dev/null | awk '
		{ for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+\.[0-9]+:$/) t = substr($i, 1, length($i) - 1) }
		/goroutines__foreach/ { walks++; next }
		/rules__tick__return/ { if (s) { d = (t - s) * 1000; n++; sum += d; if (d > mx) mx = d } next }
		/rules__tick/ { s = t }
		END { if (n) printf "  rules ticks: %d, mean %.1f ms, max %.1f ms; allgs walks %d (%.2f per tick; goal <= 1 plus memory passes)\n", n, sum / n, mx, walks, walks / n }'
	perf probe -q -d 'probe_ctxtraced:*' 2>/dev/null
fi
alerts=$("$CT" alerts --json --socket "$tmp/d.sock" 2>/dev/null | jq -s 'length' 2>/dev/null)
printf '  go%s: %d status calls in %ss, slowest %d ms, %d over 1 s (%s alerts) %s\n' "$v" "$n" \
	"${BENCH_TICK_SECONDS:-20}" "$worst" "$slow" "${alerts:-?}" "$([ "$slow" -eq 0 ] && echo ok || echo OVER GOAL)"
exit 0
