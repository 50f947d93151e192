#!/usr/bin/env bash
# make bench: the performance numbers the issues set goals for. Prints a readable
# report; each section says what it measured and against what.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-build}
CT=$OUT/ctxtrace
. scripts/go-versions.sh
v=${BENCH_GO:-$(go_known | tail -1)}
GO_VERSIONS=$v GO_MODES=plain GO_PROGRAMS="inspect_target bench_ctxheavy" scripts/build-go-tests.sh "$OUT/go" || exit 1

ms() { echo $(( $(date +%s%N) / 1000000 )); }

echo "== inspect of a large Go binary (goal: < 200 ms)"
bin=$OUT/go/$v/plain/inspect_target
times=()
for _ in 1 2 3 4 5 6 7 8 9 10 11; do
	t0=$(date +%s%N); "$CT" inspect --json "$bin" >/dev/null || { echo "inspect failed"; break; }
	times+=($(( ($(date +%s%N) - t0) / 1000 )))
done
if [ ${#times[@]} -gt 0 ]; then
	median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (${#times[@]} + 1) / 2 ))p")
	printf '  %s (%.1f MB, go%s): median %.1f ms over %d runs\n' "$bin" \
		"$(echo "$(stat -c %s "$bin") / 1000000" | bc -l)" "$v" "$(echo "$median / 1000" | bc -l)" ${#times[@]}
fi

if [ -x scripts/bench-probes.sh ]; then
	echo; echo "== cost per probe hit (goal: within 1.2x of an empty uprobe on the same emulated instruction)"
	OUT=$OUT scripts/bench-probes.sh
fi

ctxheavy() { # LABEL WORK MODE(untraced|events|alerts)
	local bin=$OUT/go/$v/plain/bench_ctxheavy out pid tp=
	out=$(mktemp)
	"$bin" -seconds "${BENCH_SECONDS:-3}" -work "$2" >"$out" & pid=$!
	for _ in $(seq 50); do grep -q ready "$out" && break; sleep 0.1; done
	case $3 in
	events)
		# The reader's own rate: events decoded and printed, and drops (to tmpfs).
		"$CT" watch -p "$pid" --events --json >"/dev/shm/ctxtrace-bench.$$" 2>"$out.ct" & tp=$! ;;
	alerts) "$CT" watch -p "$pid" --json >/dev/null 2>"$out.ct" & tp=$! ;;
	esac
	[ -n "$tp" ] && sleep 1.5
	kill -USR1 "$pid"; wait "$pid"
	[ -n "$tp" ] && { kill -INT "$tp" 2>/dev/null; wait "$tp" 2>/dev/null; }
	if [ -f "/dev/shm/ctxtrace-bench.$$" ]; then
		nev=$(wc -l < "/dev/shm/ctxtrace-bench.$$")
		ndrop=$(grep -o '"ringbuf_drops":[0-9]*' "/dev/shm/ctxtrace-bench.$$" | awk -F: '{ d += $2 } END { print d + 0 }')
		rm -f "/dev/shm/ctxtrace-bench.$$"
		secs=$(grep -o '"seconds": [0-9.]*' "$out" | awk '{print $2}')
		echo "    reader: $nev events in the ${secs}s measured run and its warm-up (~$(echo "$nev / ($secs + 1.5)" | bc) events/s), $ndrop ring-buffer drops" >&2
	fi
	grep -o '"ops_per_sec": [0-9]*' "$out" | awk '{print $2}'
	rm -f "$out" "$out.ct"
}

echo; echo "== context-heavy program: ops/s untraced vs traced, same run (goal: traced >= 95%)"
for work in ${BENCH_WORKS:-0 20 200}; do
	u=$(ctxheavy untraced $work untraced)
	e=$(ctxheavy events $work events)
	a=$(ctxheavy alerts $work alerts)
	desc=$([ "$work" = 0 ] && echo "no work per op (pure context churn)" || echo "$work sha256 rounds of 1 KiB per op (the request's own work)")
	printf '  %s:\n    untraced %s ops/s; traced --events %s ops/s (%s%%); traced with rules %s ops/s (%s%%)\n' \
		"$desc" "$u" "${e:-?}" "$( [ -n "$e" ] && [ -n "$u" ] && echo "scale=1; 100*$e/$u" | bc)" \
		"${a:-?}" "$( [ -n "$a" ] && [ -n "$u" ] && echo "scale=1; 100*$a/$u" | bc)"
done

for s in scripts/bench-http.sh scripts/bench-replay.sh scripts/bench-snapshot.sh scripts/bench-ticks.sh; do
	[ -x "$s" ] && { echo; OUT=$OUT "$s"; }
done
exit 0
