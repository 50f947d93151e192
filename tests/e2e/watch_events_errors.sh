#!/usr/bin/env bash
# ctxtrace watch --events: what cannot be watched fails with one clear line and exit 1,
# usage errors exit 2, and a watch ends cleanly (exit 0) on --duration and on
# SIGINT/SIGTERM while the target keeps running.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/lib.sh

tmp=$(mktemp -d /tmp/ct-watch-errors.XXXXXX)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$tmp"' EXIT

# expect NAME RC REGEX CMD...: CMD exits RC and its stderr matches REGEX.
expect() {
	local name=$1 rc=$2 re=$3 got
	shift 3
	"$@" >"$tmp/out" 2>"$tmp/err"
	got=$?
	if [ "$got" = "$rc" ] && grep -Eq "$re" "$tmp/err" && [ "$(grep -c . "$tmp/err")" -le 2 ]; then
		ok "$name"
	else
		not_ok "$name" "exit $got (want $rc)" "$(head -c 600 "$tmp/err")"
	fi
}

# start_exec PROG ARGS...: starts PROG in the background, waits until it runs
# (not the forked shell), sets $started.
start_exec() {
	"$@" >/dev/null 2>&1 &
	started=$!
	pids+=("$started")
	for ((i = 0; i < 200; i++)); do
		[ "$(readlink "/proc/$started/exe")" = "$(realpath "$(command -v "$1")")" ] && return 0
		sleep 0.01
	done
}

latest=$(go_versions | tail -1)
target=$(go_bin "$latest" plain ev_basic)
[ -x "$target" ] || { skip "watch errors: $target not built"; exit 0; }

# A PID that existed and is gone.
true &
dead=$!
wait $dead
expect "dead pid: exit 1" 1 "^ctxtrace: cannot attach to pid $dead: no such process$" \
	"$CTXTRACE" watch -p "$dead" --events

start_exec sleep 100
expect "non-Go process: exit 1" 1 "^ctxtrace: cannot attach to pid $started: [^ ]*sleep: not a Go program" \
	"$CTXTRACE" watch -p "$started" --events

start_exec "$target" "$tmp/never"
gopid=$started
if command -v setpriv >/dev/null && setpriv --reuid=nobody --regid=nogroup --clear-groups true 2>/dev/null; then
	expect "no privileges: exit 1" 1 "^ctxtrace: cannot attach to pid $gopid: .*(permission denied|privileges)" \
		setpriv --reuid=nobody --regid=nogroup --clear-groups "$CTXTRACE" watch -p "$gopid" --events
	expect "no privileges, JSON error" 1 '^\{"type":"error","message":"cannot attach to pid [0-9]+: .*(permission denied|privileges)' \
		setpriv --reuid=nobody --regid=nogroup --clear-groups "$CTXTRACE" watch -p "$gopid" --events --json
else
	skip "no privileges: setpriv cannot switch to nobody"
fi

expect "missing -p: exit 2" 2 "missing -p PID" "$CTXTRACE" watch --events
expect "bad pid: exit 2" 2 "invalid PID 'abc'" "$CTXTRACE" watch -p abc --events
for d in 10x 0 -1s 1.5.5s ""; do
	expect "bad duration '$d': exit 2" 2 "^ctxtrace: --duration: '$d' is not a duration" \
		"$CTXTRACE" watch -p "$gopid" --events --duration "$d"
done
expect "duration without value: exit 2" 2 "option '--duration' needs a value" "$CTXTRACE" watch -p "$gopid" --events --duration
expect "unknown option: exit 2" 2 "unknown option '--bogus'" "$CTXTRACE" watch -p "$gopid" --events --bogus
expect "extra argument: exit 2" 2 "unexpected argument 'extra'" "$CTXTRACE" watch -p "$gopid" --events extra
if "$CTXTRACE" watch --help | grep -q -- "--duration DUR"; then ok "--help: exit 0"; else not_ok "--help: exit 0"; fi

# --duration: the watch ends by itself, the target lives on; the pre-existing
# goroutines were reported (the program's main goroutine among them).
start=$(date +%s%N)
"$CTXTRACE" watch -p "$gopid" --events --json --duration 700ms >"$tmp/dur.json" 2>"$tmp/dur.err"
rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
if [ $rc = 0 ] && kill -0 "$gopid" && [ $ms -lt 5000 ] &&
	jq -e -s 'map(select(.type=="go_create" and .preexisting and .goid==1)) | length == 1' "$tmp/dur.json" >/dev/null &&
	! grep -q target_exit "$tmp/dur.json"; then
	ok "--duration 700ms: exit 0 after ${ms}ms, target alive"
else
	not_ok "--duration 700ms" "exit $rc after ${ms}ms" "$(head -c 400 "$tmp/dur.err")" "$(head -c 400 "$tmp/dur.json")"
fi

for sig in INT TERM; do
	"$CTXTRACE" watch -p "$gopid" --events >"$tmp/sig.out" 2>"$tmp/sig.err" &
	w=$!
	for ((i = 0; i < 200; i++)); do
		grep -qs "attached to pid" "$tmp/sig.err" && break
		sleep 0.05
	done
	kill -"$sig" $w
	wait $w
	rc=$?
	if [ $rc = 0 ] && kill -0 "$gopid"; then
		ok "SIG$sig: exit 0, target alive"
	else
		not_ok "SIG$sig" "exit $rc" "$(head -c 400 "$tmp/sig.err")"
	fi
done

# A reader that goes away: the watch stops without an error.
# The idle target writes nothing after the first lines: the watch must notice
# the closed pipe by itself, not at the target's exit a minute later.
start_exec "$target" "$tmp/never2"
start=$(date +%s%N)
"$CTXTRACE" watch -p "$started" --events --json 2>"$tmp/pipe.err" | head -1 >/dev/null
rc=${PIPESTATUS[0]}
ms=$((($(date +%s%N) - start) / 1000000))
if [ "$rc" = 0 ] && [ $ms -lt 5000 ] && ! grep -q "cannot write" "$tmp/pipe.err"; then
	ok "closed stdout: exit 0 after ${ms}ms"
else
	not_ok "closed stdout" "exit $rc after ${ms}ms" "$(head -c 400 "$tmp/pipe.err")"
fi

done_testing
