#!/usr/bin/env bash
# The lineage graph's replay speed and memory (issue 4 goals: >= 2 million events/s
# on one core; <= 128 bytes per node; memory flat over time). A synthetic recording
# of RATE requests/s for SECONDS of simulated time (each: handler goroutine, value
# context, timer context, worker goroutine waiting on it, cancel, two exits) is
# replayed into a graph with RETENTION seconds of retention.
set -euo pipefail
OUT=${OUT:-build}
rate=${BENCH_REPLAY_RATE:-10000}
secs=${BENCH_REPLAY_SECONDS:-600}
retention=${BENCH_REPLAY_RETENTION:-10}
tool=$OUT/tools/replay_bench
make -s OUT="$OUT" "$tool" >/dev/null
mkdir -p "$OUT/bench"
rec=$OUT/bench/replay-$$.rec
trap 'rm -f "$rec"' EXIT

echo "== lineage graph replay (goals: >= 2M events/s on one core, <= 128 bytes/node, flat memory)"
t0=$(date +%s%N)
"$tool" gen "$rec" "$rate" "$secs"
echo "  recording: $rate contexts/s for ${secs}s simulated, $(( $(stat -c %s "$rec") / 1000000 )) MB," \
	"written in $(( ($(date +%s%N) - t0) / 1000000 )) ms; retention ${retention}s"
# one core: the number is per core, whatever else runs
taskset -c "${BENCH_CPU:-0}" "$tool" run "$rec" "$retention"
