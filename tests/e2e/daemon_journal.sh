#!/usr/bin/env bash
# ctxtraced logs to journald with structured fields when journald is there. In a
# private mount namespace (nothing changes for the host), a stand-in listens on
# /run/systemd/journal/socket and decodes the native protocol datagrams.
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
CTXTRACED=${CTXTRACED:-$OUT/ctxtraced}

[ "$(id -u)" -eq 0 ] || { skip "daemon_journal: needs root (BPF, mount namespace)"; exit 0; }
command -v python3 >/dev/null || { skip "daemon_journal: needs python3"; exit 0; }
latest=$(go_versions | tail -1)
prog=$(go_bin "$latest" plain daemon_target)
[ -x "$prog" ] || { not_ok "daemon_journal: $prog must be built"; exit 1; }
if pgrep -x daemon_target >/dev/null; then
	skip "daemon_journal: another daemon_target is running on this machine"
	exit 0
fi
tmp=$(mktemp -d /tmp/ct-e2e-journal.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/journal.py" <<'PY'
# Decodes journald's native protocol: KEY=VALUE lines, or KEY, newline, 64-bit
# little-endian size, VALUE, newline. One JSON object per datagram.
import json, socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as out:
    while True:
        b = s.recv(1 << 20)
        f, i = {}, 0
        while i < len(b):
            nl = b.index(b"\n", i)
            line = b[i:nl]
            if b"=" in line:
                k, v = line.split(b"=", 1)
                i = nl + 1
            else:
                k = line
                n = struct.unpack("<Q", b[nl + 1:nl + 9])[0]
                v = b[nl + 9:nl + 9 + n]
                i = nl + 9 + n + 1
            f[k.decode()] = v.decode(errors="replace")
        out.write(json.dumps(f) + "\n")
PY
printf '[daemon]\nlog = auto\npoll_interval = 50ms\n[output]\nsocket = %s/d.sock\nsocket_group =\n[target tgt]\nexe = daemon_target\n' \
	"$tmp" >"$tmp/d.conf"

# Inside: tmpfs on /run, the stand-in journald, the daemon, one target, SIGTERM.
unshare -m bash -s "$tmp" "$CTXTRACED" "$prog" >"$tmp/inner.log" 2>&1 <<'INNER'
tmp=$1 ctxtraced=$2 prog=$3
mount --make-rprivate / && mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/journal || exit 1
python3 "$tmp/journal.py" /run/systemd/journal/socket "$tmp/fields.jsonl" &
jp=$!
for _ in $(seq 50); do [ -S /run/systemd/journal/socket ] && break; sleep 0.1; done
"$ctxtraced" --config "$tmp/d.conf" 2>"$tmp/stderr" &
dp=$!
for _ in $(seq 50); do [ -S "$tmp/d.sock" ] && break; sleep 0.1; done
"$prog" >/dev/null &
tp=$!
echo "target $tp"
for _ in $(seq 100); do grep -q '"CTXTRACE_EVENT": "target_attach"' "$tmp/fields.jsonl" 2>/dev/null && break; sleep 0.1; done
kill -TERM $tp; wait $tp
for _ in $(seq 50); do grep -q '"CTXTRACE_EVENT": "target_detach"' "$tmp/fields.jsonl" 2>/dev/null && break; sleep 0.1; done
kill -TERM $dp; wait $dp; echo "daemon exit $?"
sleep 0.2
kill $jp; wait $jp 2>/dev/null
exit 0
INNER
tp=$(sed -n 's/^target //p' "$tmp/inner.log")
rec() { jq -c "select(.CTXTRACE_EVENT == \"$1\")" "$tmp/fields.jsonl" 2>/dev/null | head -1; }
a=$(rec target_attach)
if [ -n "$a" ] && [ -n "$tp" ] &&
	echo "$a" | jq -e --arg pid "$tp" '.CTXTRACE_PID == $pid and .CTXTRACE_TARGET == "tgt" and
		.SYSLOG_IDENTIFIER == "ctxtraced" and .PRIORITY == "6" and
		.MESSAGE_ID == "5e2a4c1b7d9f4e3a8b6c0d1e2f3a4b02" and (.MESSAGE | contains("attached to pid")) and
		((.CTXTRACE_JSON | fromjson) as $j | $j.type == "target_attach" and ($j.pid | tostring) == $pid)' >/dev/null; then
	ok "daemon_journal: attach to pid $tp sent to journald with its fields: $(echo "$a" | jq -c 'del(.CTXTRACE_JSON)')"
else
	not_ok "daemon_journal: attach record in the journal" "$a" "$(cat "$tmp/inner.log" "$tmp/stderr" 2>/dev/null | tail -5)"
fi
d=$(rec target_detach)
if echo "$d" | jq -e --arg pid "$tp" '.CTXTRACE_PID == $pid and (.CTXTRACE_JSON | fromjson | .reason == "exited")' >/dev/null 2>&1; then
	ok "daemon_journal: detach sent to journald"
else
	not_ok "daemon_journal: detach record in the journal" "$d"
fi
# With the journal there, nothing of this goes to stderr.
if ! grep -q 'attached to pid .* for target tgt' "$tmp/stderr" 2>/dev/null && grep -q 'daemon exit 0' "$tmp/inner.log"; then
	ok "daemon_journal: records went to the journal, not stderr; exit 0"
else
	not_ok "daemon_journal: stderr / exit" "$(cat "$tmp/stderr" "$tmp/inner.log")"
fi
done_testing
