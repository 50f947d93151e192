#!/usr/bin/env bash
# ctxtraced speaks sd_notify as Type=notify and WatchdogSec= expect: READY=1 once up,
# WATCHDOG=1 every half watchdog period, RELOADING=1 then READY=1 around SIGHUP,
# STOPPING=1 at SIGTERM. A stand-in for systemd's notify socket records the datagrams.
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
CTXTRACED=${CTXTRACED:-$OUT/ctxtraced}

e2e_tmpdir notify
[ "$(id -u)" -eq 0 ] || { skip "daemon_notify: needs root (BPF)"; exit 0; }
command -v python3 >/dev/null || { skip "daemon_notify: needs python3 for the stand-in notify socket"; exit 0; }

python3 - "$tmp/notify.sock" "$tmp/notify.log" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
t0 = time.monotonic()
with open(sys.argv[2], "a", buffering=1) as log:
    while True:
        msg = s.recv(4096).decode(errors="replace")
        log.write("%.3f %s\n" % (time.monotonic() - t0, msg.replace("\n", "|")))
PY
for _ in $(seq 50); do [ -S "$tmp/notify.sock" ] && break; sleep 0.1; done

printf '[daemon]\nlog = stderr\n[output]\nsocket = %s/d.sock\nsocket_group =\n' "$tmp" >"$tmp/d.conf"
# WATCHDOG_PID must name the daemon: a shell that execs it knows its pid beforehand.
NOTIFY_SOCKET=$tmp/notify.sock WATCHDOG_USEC=400000 \
	bash -c 'WATCHDOG_PID=$$ exec "$0" --config "$1"' "$CTXTRACED" "$tmp/d.conf" >"$tmp/log" 2>&1 &
dpid=$!
for _ in $(seq 100); do grep -q 'READY=1' "$tmp/notify.log" 2>/dev/null && break; sleep 0.1; done
sleep 2
kill -HUP "$dpid"
for _ in $(seq 50); do [ "$(grep -c 'READY=1' "$tmp/notify.log")" -ge 2 ] && break; sleep 0.1; done
kill -TERM "$dpid"
wait "$dpid"
rc=$?
sleep 0.2
seq=$(grep -oE 'READY=1|RELOADING=1|STOPPING=1' "$tmp/notify.log" | tr '\n' ' ')
if [ $rc -eq 0 ] && [ "$seq" = "READY=1 RELOADING=1 READY=1 STOPPING=1 " ] &&
	grep 'RELOADING=1' "$tmp/notify.log" | grep -q 'MONOTONIC_USEC=[0-9]'; then
	ok "daemon_notify: READY, RELOADING (with MONOTONIC_USEC), READY, STOPPING in order"
else
	not_ok "daemon_notify: notify sequence" "exit $rc, got: $seq" "$(cat "$tmp/notify.log")"
fi
# Between READY and the reload (2 s), a WATCHDOG=1 every 200 ms or so; never a gap
# as long as the 400 ms period.
ready=$(awk '/READY=1/ {print $1; exit}' "$tmp/notify.log")
reload=$(awk '/RELOADING=1/ {print $1; exit}' "$tmp/notify.log")
n=$(awk -v a="$ready" -v b="$reload" '/WATCHDOG=1/ && $1 > a && $1 < b' "$tmp/notify.log" | wc -l)
gap=$(awk -v a="$ready" -v b="$reload" '/WATCHDOG=1/ && $1 > a && $1 < b { if (p) { d = $1 - p; if (d > m) m = d } p = $1 } END { print m + 0 }' "$tmp/notify.log")
if [ "$n" -ge 6 ] && awk -v g="$gap" 'BEGIN { exit !(g < 0.4) }'; then
	ok "daemon_notify: $n WATCHDOG=1 in $(awk -v a="$ready" -v b="$reload" 'BEGIN { printf "%.1f", b - a }') s, longest gap ${gap}s (period 0.4 s)"
else
	not_ok "daemon_notify: watchdog pings" "$n pings, longest gap $gap" "$(head -20 "$tmp/notify.log")"
fi
done_testing
