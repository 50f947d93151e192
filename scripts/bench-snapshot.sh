#!/usr/bin/env bash
# make bench: `ctxtrace snapshot` of a process with 10k and 100k goroutines (tests/go/
# snap_target -extra N): wall and CPU time of one pass, peak memory of ctxtrace, and
# the target's own throughput (channel round trips per second, measured by the
# program itself every 100 ms) before and while it is read. Goal: 10k goroutines
# in under 1 s on one core; the target's throughput unaffected.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-build}
CT=$OUT/ctxtrace
. scripts/go-versions.sh
v=${BENCH_GO:-$(go_known | tail -1)}
GO_VERSIONS=$v GO_MODES=plain GO_PROGRAMS=snap_target scripts/build-go-tests.sh "$OUT/go" || exit 1
bin=$OUT/go/$v/plain/snap_target

echo "== snapshot of a process with many goroutines (goal: 10k in < 1 s on one core; target unaffected)"
for n in ${BENCH_SNAPSHOT_GOROUTINES:-10000 100000}; do
	out=$(mktemp)
	"$bin" -delay 0 -n 10 -extra "$n" -spin -life 120s >"$out" 2>/dev/null &
	pid=$!
	for _ in $(seq 300); do grep -q '"type":"truth"' "$out" && break; sleep 0.1; done
	sleep 1
	t0=$(date +%s%3N)
	# --grace 1ms: every goroutine is judged in the first pass, one pass only.
	/usr/bin/time -f '%e %U %S %M' -o "$out.time" "$CT" snapshot -p "$pid" --json --grace 1ms >"$out.snap" 2>/dev/null
	t1=$(date +%s%3N)
	sleep 0.3
	kill "$pid"; wait "$pid" 2>/dev/null
	read -r wall user sys rss <"$out.time"
	before=$(jq -r --argjson t "$t0" 'select(.type == "rate" and .unix_ms < $t) | .per_s' "$out" | tail -10 | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
	during=$(jq -r --argjson a "$t0" --argjson b "$t1" 'select(.type == "rate" and .unix_ms > $a + 100 and .unix_ms <= $b) | .per_s' "$out" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
	pass=$(jq -r 'select(.type == "snapshot") | "\(.goroutines) goroutines, \(.judged) judged, \(.left_out) left out, pass \(.elapsed_ms) ms"' "$out.snap")
	printf '  %s goroutines: %s; ctxtrace wall %s s, CPU %.2f s (user %s + sys %s), peak RSS %d MiB\n' \
		"$n" "$pass" "$wall" "$(echo "$user + $sys" | bc)" "$user" "$sys" $((rss / 1024))
	printf '    target round trips/s: %s before, %s while read (%s%%)\n' "${before:-?}" "${during:-?}" \
		"$( [ -n "$before" ] && [ -n "$during" ] && echo "scale=1; 100*$during/$before" | bc)"
	rm -f "$out" "$out.time" "$out.snap"
done
