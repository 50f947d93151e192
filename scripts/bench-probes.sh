#!/usr/bin/env bash
# Cost of one probe hit. tests/go/probe_bench calls a probed function in a tight
# loop and reports ns per call; the cost per hit is that minus the untraced run.
# Compared, at the same site and the same call:
#   empty     an empty BPF program at our site (push %rbp; jbe on Go 1.19/1.20)
#   ours      ctxtrace's program at our site (uprobe_multi link)
#   ours-1by1 ctxtrace's program, one uprobe link per site (the fallback)
#   entry     ctxtrace's program at the function's first instruction (single-stepped)
# Functions: value = context.WithValue (a full record with a user stack),
#            done = (*cancelCtx).Done (deduplicated in the kernel: no record).
# ns/call is the best of $REPS runs (the machine is shared); the Go program runs
# with GOMAXPROCS=1 on the last CPU, the tracer (which drains the ring) on CPU 0.
# prog-ns is the BPF program's own time per run (BPF run-time statistics), stable
# where wall clock is not; est is (empty's ns/hit + prog-ns - empty's prog-ns) /
# empty's ns/hit, the ratio the wall-clock vs-empty column measures noisily.
# Env: OUT, TRACE_DUMP, BENCH_GO (default: newest and oldest toolchain), BENCH_FUNCS ("value
# done"), ITERS, ENTRY_ITERS, REPS.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-build}
trace_dump=${TRACE_DUMP:-$OUT/tools/trace_dump}
. scripts/go-versions.sh
versions=${BENCH_GO:-$(go_known | sed -n '1p;$p' | sort -t. -k2 -rn)}
funcs=${BENCH_FUNCS:-value done}
iters=${ITERS:-300000}
entry_iters=${ENTRY_ITERS:-30000}
reps=${REPS:-3}
last_cpu=$(($(nproc) - 1))
work=$(mktemp -d /tmp/ctxtrace-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

[ -x "$trace_dump" ] || make -s "$trace_dump" || exit 1
GO_VERSIONS="$versions" GO_MODES=plain GO_PROGRAMS=probe_bench scripts/build-go-tests.sh "$OUT/go" || exit 1

# one BIN FN ITERS [trace_dump flags...]: prints "NS_PER_CALL PROG_NS DROPS", "-" when unknown.
one() {
	local bin=$1 fn=$2 n=$3 pp tp i ns prog drops
	shift 3
	rm -f "$work/start" "$work/t.out" "$work/p.out"
	GOMAXPROCS=1 taskset -c "$last_cpu" "$bin" bench "$work/start" "$fn" "$n" >"$work/p.out" 2>&1 &
	pp=$!
	for i in $(seq 200); do [ "$(readlink /proc/$pp/exe)" = "$(realpath "$bin")" ] && break; sleep 0.01; done
	if [ $# -gt 0 ]; then
		taskset -c 0 "$trace_dump" -q --stats "$@" $pp >"$work/t.out" 2>&1 &
		tp=$!
		for i in $(seq 200); do grep -q '^attached' "$work/t.out" 2>/dev/null && break; sleep 0.05; done
		if ! grep -q '^attached' "$work/t.out"; then
			kill $pp $tp 2>/dev/null
			echo "bench-probes: trace_dump did not attach: $(cat "$work/t.out")" >&2
			echo "- - -"
			return
		fi
	fi
	touch "$work/start"
	wait $pp
	[ $# -gt 0 ] && wait $tp
	ns=$(awk '/^ns_per_op/ {print $2}' "$work/p.out")
	prog=$(sed -n 's/.*ns_per_run=\([0-9.]*\).*/\1/p' "$work/t.out" 2>/dev/null)
	drops=$(sed -n 's/.* drops=\([0-9]*\) .*/\1/p' "$work/t.out" 2>/dev/null)
	echo "${ns:--} ${prog:--} ${drops:--}"
}

best() { # BIN FN ITERS [flags]: the run with the lowest ns/call of $reps
	local r line b= bl="- - -"
	for r in $(seq "$reps"); do
		line=$(one "$@")
		set -- "$@"
		[ "${line%% *}" = - ] && continue
		if [ -z "$b" ] || awk -v a="${line%% *}" -v b="$b" 'BEGIN {exit !(a < b)}'; then
			b=${line%% *} bl=$line
		fi
	done
	echo "$bl"
}

printf '%-5s %-6s %-10s %9s %8s %9s %8s %6s  %s\n' go func config ns/call ns/hit vs-empty prog-ns est drops
for v in $versions; do
	bin=$OUT/go/$v/plain/probe_bench
	for fn in $funcs; do
		read -r base _ _ < <(best "$bin" "$fn" "$iters")
		printf '%-5s %-6s %-10s %9s %8s %9s %8s %6s  %s\n' "$v" "$fn" untraced "$base" - - - - -
		ehit= eprog=
		for cfg in empty ours ours-1by1 entry; do
			case $cfg in
			empty) read -r ns prog drops < <(best "$bin" "$fn" "$iters" --empty) ;;
			ours) read -r ns prog drops < <(best "$bin" "$fn" "$iters" --multi) ;;
			ours-1by1) read -r ns prog drops < <(best "$bin" "$fn" "$iters" --single) ;;
			entry) read -r ns prog drops < <(best "$bin" "$fn" "$entry_iters" --entry) ;;
			esac
			hit=$(awk -v r="$ns" -v b="$base" 'BEGIN {if (r == "-" || b == "-") print "-"; else printf "%.0f", r - b}')
			[ "$cfg" = empty ] && ehit=$hit eprog=$prog
			ratio=$(awk -v h="$hit" -v e="$ehit" 'BEGIN {if (h == "-" || e == "-" || e <= 0) print "-"; else printf "%.2fx", h / e}')
			est=$(awk -v p="$prog" -v ep="$eprog" -v e="$ehit" 'BEGIN {if (p == "-" || ep == "-" || e == "-" || e <= 0) print "-"; else printf "%.2fx", (e + p - ep) / e}')
			[ "$cfg" = entry ] && est=- # single-stepping costs outside the program
			printf '%-5s %-6s %-10s %9s %8s %9s %8s %6s  %s\n' "$v" "$fn" "$cfg" "$ns" "$hit" "$ratio" "$prog" "$est" "$drops"
		done
	done
done
