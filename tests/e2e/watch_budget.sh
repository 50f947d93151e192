#!/usr/bin/env bash
# What tracing costs, told by ctxtrace itself, and the overhead budget, on the
# context-churn program (tests/go/bench_ctxheavy: one timeout context, one
# goroutine and one cancel per operation, so 3 probe hits per operation with the
# default probes; the program's own count of operations is the truth):
# - the summary at exit counts hits by role: ctx_create, ctx_cancel and go_create
#   each about once per operation, no done/go_exit/value hits by default, and
#   done/go_exit hits with --probes all; a trap cost and an estimate are printed;
# - --max-overhead 1 on a program whose probes cost far more: sampling is told once,
#   the hit rate falls to a fraction of the unbudgeted one, the summary says sampled;
# - contexts created while the probes are attached and cancelled while they are not
#   (tests/go/held_contexts holds each 100-400 ms, then cancels all it made):
#   read from memory when the gap ends, they are cancelled in the graph, none stays
#   open, and no alert is raised (the program cancels every one).
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/lib.sh

tmp=$(mktemp -d /tmp/ct-watch-budget.XXXXXX)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$tmp"' EXIT
v=$(go_versions | tail -1)
bin=$(go_bin "$v" plain bench_ctxheavy)
if [ ! -x "$bin" ]; then
	skip "watch_budget: $bin not built"
	exit 0
fi

# run NAME SECONDS WATCH_ARGS...: the program runs SECONDS under watch -v; leaves
# $tmp/NAME.prog (its JSON line) and $tmp/NAME.err (watch's stderr).
run() {
	local name=$1 secs=$2 pid wp i
	shift 2
	"$bin" -seconds "$secs" -work 0 >"$tmp/$name.prog" &
	pid=$!
	pids+=("$pid")
	for i in $(seq 100); do grep -q ready "$tmp/$name.prog" && break; sleep 0.05; done
	"$CTXTRACE" -v watch -p "$pid" "$@" >/dev/null 2>"$tmp/$name.err" &
	wp=$!
	for i in $(seq 200); do grep -q "attached to pid" "$tmp/$name.err" && break; sleep 0.05; done
	kill -USR1 "$pid"
	wait "$pid"
	wait "$wp"
}

# hits ROLE FILE: the role's hits in watch's summary (0 when absent)
hits() { sed -n "s/.* probe hits (.*\b$1 \([0-9]*\).*/\1/p" "$2" | tail -1 | grep . || echo 0; }

run plain 2
ops=$(grep -o '"all_ops": [0-9]*' "$tmp/plain.prog" | awk '{print $2}')
c=$(hits ctx_create "$tmp/plain.err") x=$(hits ctx_cancel "$tmp/plain.err") g=$(hits go_create "$tmp/plain.err")
d=$(hits done "$tmp/plain.err") e=$(hits go_exit "$tmp/plain.err")
# each at least once per operation, and not more than the runtime adds (timers, ...)
if [ "$ops" -gt 0 ] && [ "$c" -ge "$ops" ] && [ "$x" -ge "$ops" ] && [ "$g" -ge "$ops" ] &&
	[ "$c" -le $((ops + ops / 10 + 50)) ] && [ "$d" = 0 ] && [ "$e" = 0 ] &&
	grep -q "one hit costs [1-9][0-9]* ns here" "$tmp/plain.err" && grep -q "probes=default" "$tmp/plain.err"; then
	ok "watch summary: $ops operations, hits ctx_create $c, ctx_cancel $x, go_create $g, none of done/go_exit"
else
	not_ok "watch summary" "operations $ops: ctx_create $c ctx_cancel $x go_create $g done $d go_exit $e" \
		"$(grep "probe hits" "$tmp/plain.err")"
fi

run all 1 --probes all
ops=$(grep -o '"all_ops": [0-9]*' "$tmp/all.prog" | awk '{print $2}')
d=$(hits done "$tmp/all.err") e=$(hits go_exit "$tmp/all.err")
if [ "$d" -ge "$ops" ] && [ "$e" -ge "$ops" ] && grep -q "probes=all" "$tmp/all.err"; then
	ok "watch --probes all: done $d and go_exit $e hits for $ops operations"
else
	not_ok "watch --probes all" "operations $ops: done $d go_exit $e" "$(grep "probe hits" "$tmp/all.err")"
fi

run budget 6 --max-overhead 1
rate_unbudgeted=$(awk -v h="$(grep -o '[0-9]* probe hits' "$tmp/plain.err" | awk '{print $1}')" -v s=2 'BEGIN { print int(h / s) }')
# the windows after sampling started: their hit rates
late=$(sed -n 's/.*: \([0-9]*\) hits\/s, .*attached \([0-9]*\)% of the time/\1 \2/p' "$tmp/budget.err" | tail -3)
told=$(grep -c "over --max-overhead 1%: sampling" "$tmp/budget.err")
max_late=$(awk '{ if ($1 > m) m = $1 } END { print m + 0 }' <<<"$late")
# over the whole run too (a window may hold no on-phase when the period is long)
all_hits=$(grep -o '[0-9]* probe hits' "$tmp/budget.err" | awk '{print $1}' | tail -1)
if [ "$told" = 1 ] && [ -n "$late" ] && [ "$max_late" -lt $((rate_unbudgeted / 3)) ] &&
	[ "${all_hits:-0}" -gt 0 ] && [ "$all_hits" -lt $((rate_unbudgeted * 6 / 3)) ] &&
	grep -q "sampled (probes attached part-time" "$tmp/budget.err"; then
	ok "watch --max-overhead 1: sampling told once, hit rate $max_late/s at most in the last windows, $all_hits hits in 6 s (unbudgeted $rate_unbudgeted/s)"
else
	not_ok "watch --max-overhead 1" "told $told times; last windows (hits/s, attached %): $(tr '\n' ';' <<<"$late"); $all_hits hits in all; unbudgeted $rate_unbudgeted/s" \
		"$(grep -v libbpf "$tmp/budget.err" | tail -8)"
fi
held=$(go_bin "$v" plain held_contexts)
if [ ! -x "$held" ]; then
	skip "watch --max-overhead, contexts cancelled in the gaps: $held not built"
else
	"$held" -seconds 5 -linger 3s >"$tmp/held.prog" &
	pid=$!
	pids+=("$pid")
	for i in $(seq 100); do grep -q ready "$tmp/held.prog" && break; sleep 0.05; done
	"$CTXTRACE" -v watch -p "$pid" --json --max-overhead 1 >"$tmp/held.out" 2>"$tmp/held.err" &
	wp=$!
	for i in $(seq 200); do grep -q "attached to pid" "$tmp/held.err" && break; sleep 0.05; done
	kill -USR1 "$pid"
	wait "$pid"
	wait "$wp"
	created=$(grep -o '"created":[0-9]*' "$tmp/held.prog" | cut -d: -f2)
	# "graph: L contexts live (O open), C cancelled"; "after gaps R open contexts read, X cancelled"
	open=$(sed -n 's/.*graph: [0-9]* contexts live (\([0-9]*\) open), .*/\1/p' "$tmp/held.err" | tail -1)
	cancelled=$(sed -n 's/.*graph: [0-9]* contexts live ([0-9]* open), \([0-9]*\) cancelled.*/\1/p' "$tmp/held.err" | tail -1)
	read_after=$(sed -n 's/.*after gaps \([0-9]*\) open contexts read, \([0-9]*\) cancelled.*/\1 \2/p' "$tmp/held.err" | tail -1)
	alerts=$(grep -c '"rule"' "$tmp/held.out")
	if [ -n "$created" ] && [ "$created" -gt 0 ] && [ "${open:-x}" = 0 ] && [ "${cancelled:-0}" -gt 0 ] &&
		[ "${read_after#* }" -gt 0 ] 2>/dev/null && [ "$alerts" = 0 ] &&
		grep -q "over --max-overhead 1%: sampling" "$tmp/held.err"; then
		ok "watch --max-overhead 1, contexts cancelled in the gaps: $created created, $cancelled cancelled in the graph (${read_after#* } of them read from memory after a gap), none open, no alert"
	else
		not_ok "watch --max-overhead 1, contexts cancelled in the gaps" \
			"program: $(cat "$tmp/held.prog" | tail -1); graph: open ${open:-?}, cancelled ${cancelled:-?}; after gaps (read, cancelled): ${read_after:-?}; alerts $alerts" \
			"$(grep -E "graph:|from memory|sampling" "$tmp/held.err" | tail -4)" "$(head -3 "$tmp/held.out")"
	fi
fi
done_testing
