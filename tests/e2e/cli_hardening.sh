#!/usr/bin/env bash
# The command line against odd inputs (issue 15): files that are not regular
# files are refused at once, numbers out of range are usage errors, a closed
# pipe ends a watch quietly, a full disk is named, and a target that executes
# another program ends the watch or graph with a notice.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/lib.sh

tmp=$(mktemp -d /tmp/ct-cli-hardening.XXXXXX)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$tmp"' EXIT
CTXTRACED=${CTXTRACED:-$OUT/ctxtraced}

# expect NAME RC REGEX CMD...: CMD exits RC within 10 s, with one stderr line
# matching REGEX (besides the "attached" notice).
expect() {
	local name=$1 rc=$2 re=$3 got
	shift 3
	timeout 10 "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	got=$?
	if [ "$got" = "$rc" ] && grep -Eq "$re" "$tmp/err" && [ "$(grep -vc "attached to pid" "$tmp/err")" -le 1 ]; then
		ok "$name"
	else
		not_ok "$name" "exit $got (want $rc)" "$(head -c 600 "$tmp/err")"
	fi
}

# --- files that are not regular files
mkfifo "$tmp/fifo"
expect "inspect FIFO: refused" 1 "^ctxtrace: cannot inspect $tmp/fifo: a FIFO, not a regular file$" \
	"$CTXTRACE" inspect "$tmp/fifo"
expect "replay FIFO: refused" 1 "^ctxtrace: cannot open recording $tmp/fifo: a FIFO, not a regular file$" \
	"$CTXTRACE" replay "$tmp/fifo"
expect "check-config FIFO: refused" 1 "^ctxtraced: $tmp/fifo: cannot read the config: a FIFO, not a regular file$" \
	"$CTXTRACED" --check-config --config "$tmp/fifo"
expect "config /dev/zero: refused" 1 "cannot read the config: a character device, not a regular file$" \
	"$CTXTRACED" --check-config --config /dev/zero
expect "inspect /proc file: refused" 1 "a /proc file, not a regular file$" "$CTXTRACE" inspect /proc/self/status
head -c $((2 << 20)) /dev/zero | tr '\0' '#' >"$tmp/big.conf"
expect "config over 1 MB: refused" 1 "cannot read the config: 2.0 MB, more than the 1.0 MB accepted$" \
	"$CTXTRACED" --check-config --config "$tmp/big.conf"
printf '[output]\nsocket_group = ctx\0trace\n' >"$tmp/nul.conf"
expect "NUL byte in a config value: refused" 1 "nul.conf:2: NUL byte in line" \
	"$CTXTRACED" --check-config --config "$tmp/nul.conf"

echo "[output]" >"$tmp/ok.conf"
expect "check-config: a socket_group that does not exist is refused" 1 \
	"socket_group: group 'no-such-group-ct' does not exist$" \
	"$CTXTRACED" --check-config --config "$tmp/ok.conf" --socket-group no-such-group-ct
check "check-config: an existing socket_group is fine" \
	"$CTXTRACED" --check-config --config "$tmp/ok.conf" --socket-group root

# --- numbers: one range per option, checked by the settings table
true &
dead=$!
wait $dead
expect "--duration past 365d: usage error" 2 "^ctxtrace: --duration: 18446744073709000000ns is out of range 1ns\.\.8760h" \
	"$CTXTRACE" watch -p "$dead" --duration 18446744073709000000ns
for cmd in watch graph; do
	expect "$cmd --retention 500ms: accepted (the same range for every command)" 1 "no such process" \
		"$CTXTRACE" "$cmd" -p "$dead" --retention 500ms
	expect "$cmd --max-nodes: accepted" 1 "no such process" "$CTXTRACE" "$cmd" -p "$dead" --max-nodes 5000
	expect "$cmd --max-nodes 5: usage error" 2 "^ctxtrace: --max-nodes: 5 is out of range 16\.\.100000000" \
		"$CTXTRACE" "$cmd" -p "$dead" --max-nodes 5
done

latest=$(go_versions | tail -1)
target=$(go_bin "$latest" plain exec_target)
if [ ! -x "$target" ]; then
	skip "cli hardening with a target: $target not built"
	done_testing
	exit
fi

# start_target MODE: starts exec_target, sets $tp once the program runs.
start_target() {
	rm -f "$tmp/go"
	"$target" "$tmp/go" "$1" >"$tmp/prog.out" 2>&1 &
	tp=$!
	pids+=("$tp")
	for ((i = 0; i < 200; i++)); do
		[ "$(readlink "/proc/$tp/exe")" = "$(realpath "$target")" ] && return 0
		sleep 0.01
	done
}

# --- messages say what is true, once
sz=$(stat -c %s "$target")
head -c $((sz - 1)) "$target" >"$tmp/cut"
expect "a binary cut by one byte: damaged, not 'older than 1.13'" 1 \
	"cannot inspect $tmp/cut: damaged ELF file: its section headers are cut off" "$CTXTRACE" inspect "$tmp/cut"
expect "addr2line 0: says why it fails" 1 "^ctxtrace: 0x0 is in no Go function of " \
	"$CTXTRACE" inspect --addr2line 0 "$target"
expect "addr2line past 64 bits: refused, not clamped" 2 "more than 64 bits" \
	"$CTXTRACE" inspect --addr2line 0x1ffffffffffffffff "$target"
start_target sleep
tid=$(ls "/proc/$tp/task" | grep -vx "$tp" | head -1)
expect "a Go thread's id: named as a thread of its process" 1 \
	"^ctxtrace: cannot attach to pid $tid: $tid is a thread of process $tp, not a process \(use -p $tp\)$" \
	"$CTXTRACE" watch -p "$tid"
kill "$tp" 2>/dev/null
if setpriv --reuid=nobody --regid=nogroup --clear-groups true 2>/dev/null; then
	chmod 755 "$tmp"
	cp "$target" "$tmp/et" && chmod 755 "$tmp/et"
	setpriv --reuid=nobody --regid=nogroup --clear-groups "$tmp/et" "$tmp/never" sleep >/dev/null 2>&1 &
	np=$!
	pids+=("$np")
	sleep 0.5
	np=$(pgrep -f "$tmp/et $tmp/never" | head -1)
	for m in "" --events; do
		expect "unprivileged watch $m: one line, the missing capabilities" 1 \
			"^ctxtrace: cannot attach to pid $np: missing privileges \(need CAP_BPF and CAP_PERFMON" \
			setpriv --reuid=nobody --regid=nogroup --clear-groups "$CTXTRACE" watch -p "$np" $m
	done
	kill "$np" 2>/dev/null
else
	skip "unprivileged watch: setpriv cannot switch to nobody"
fi

# --- a reader that goes away ends the watch quietly; a full disk is named
start_target sleep
"$CTXTRACE" watch -p "$tp" --events --json 2>"$tmp/pipe.err" | head -3 >"$tmp/pipe.out"
rc=${PIPESTATUS[0]}
if [ "$rc" = 0 ] && [ "$(wc -l <"$tmp/pipe.out")" = 3 ] && ! grep -q "cannot\|error" "$tmp/pipe.err"; then
	ok "watch --events | head -3: exit 0, no error"
else
	not_ok "watch --events | head -3: exit 0, no error" "exit $rc" "$(cat "$tmp/pipe.err")"
fi
expect "watch --events > /dev/full: the cause is named" 1 \
	"^ctxtrace: cannot write to standard output: No space left on device$" \
	sh -c "'$CTXTRACE' watch -p $tp --events --duration 2s >/dev/full"
kill "$tp" 2>/dev/null

# --- exec: the watch says so and ends; graph prints what it saw
for mode in sleep self; do
	start_target "$mode"
	"$CTXTRACE" watch -p "$tp" --json --grace 0 --min-count 1 >"$tmp/w.out" 2>"$tmp/w.err" &
	wp=$!
	for ((i = 0; i < 600; i++)); do
		grep -qs "attached to pid" "$tmp/w.err" && break
		sleep 0.05
	done
	touch "$tmp/go"
	for ((i = 0; i < 100; i++)); do
		grep -qs exec "$tmp/prog.out" && break
		sleep 0.05
	done
	start=$(date +%s%N)
	for ((i = 0; i < 100; i++)); do
		kill -0 "$wp" 2>/dev/null || break
		sleep 0.05
	done
	ms=$((($(date +%s%N) - start) / 1000000))
	kill "$wp" 2>/dev/null
	wait "$wp"
	rc=$?
	want=$([ $mode = sleep ] && echo /bin/sleep || realpath "$target")
	if [ "$rc" = 0 ] && grep -q "target $tp executed $want: the Go program watched is gone, the watch ends" "$tmp/w.err" &&
		[ "$ms" -lt 4000 ]; then
		ok "watch: exec into $mode is noticed, the watch ends (${ms} ms after the program said exec)"
	else
		not_ok "watch: exec into $mode is noticed" "exit $rc after ${ms} ms" "$(tail -3 "$tmp/w.err")"
	fi
	kill "$tp" 2>/dev/null
done
start_target self
"$CTXTRACE" graph -p "$tp" --duration 20s --format json >"$tmp/g.json" 2>"$tmp/g.err" &
gp=$!
sleep 1.5
touch "$tmp/go"
wait "$gp"
rc=$?
if [ "$rc" = 0 ] && grep -q "process $tp executed .*; the graph is as it was before" "$tmp/g.err" &&
	jq -e '.type == "graph"' "$tmp/g.json" >/dev/null; then
	ok "graph: exec is noticed, the graph seen before is printed"
else
	not_ok "graph: exec is noticed" "exit $rc" "$(tail -3 "$tmp/g.err")"
fi
kill "$tp" 2>/dev/null
done_testing
