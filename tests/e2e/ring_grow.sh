#!/usr/bin/env bash
# The ring buffer grows with the record rate (probes/tracer.h: tracer__adapt).
# tests/go/ring_ramp doubles its rate of context operations every quarter second;
# traced with every probe from a 16 KiB first ring (CTXTRACE_RING_START, a
# test-only setting) the ring must grow several times while records arrive, and
# the events must still be exactly what the program says it did: every
# operation's ctx_create, ctx_cancel, ctx_done, go_create and go_exit once, each
# cancel after its own create, no record lost (a record lost, reordered or seen
# twice across a swap of the rings fails it). The same run on a ring held at
# 64 KiB (--ring-max) prints the drops growth avoided.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/lib.sh

tmp=$(mktemp -d /tmp/ct-ring-grow.XXXXXX)
trap 'rm -rf "$tmp"; jobs -p | xargs -r kill 2>/dev/null' EXIT

cat >"$tmp/check.py" <<'PY'
# check.py PROGRAM_JSON EVENTS_JSONL: prints the mismatches, exits 1 if any.
import json, sys
prog = json.load(open(sys.argv[1]))
events = [json.loads(l) for l in open(sys.argv[2]) if l.startswith("{")]
ops, errs = prog["ops"], []

def user(stack, prefix):
    return any(f["func"] and f["func"].startswith(prefix) for f in stack or [])

lost = sum(e.get("ringbuf_drops", 0) for e in events if e["type"] == "lost")
if lost:
    errs.append("%d records lost" % lost)
creates = [e for e in events if e["type"] == "ctx_create" and user(e["stack"], "main.op")]
gos = {}
for e in events:
    if e["type"] == "go_create" and e["go_site"] and e["go_site"]["func"] == "main.op":
        if e["goid"] in gos:
            errs.append("two go_create for goroutine %d" % e["goid"])
        gos[e["goid"]] = e
exits = [e for e in events if e["type"] == "go_exit" and e["goid"] in gos]
mine = {e["id"] for e in creates}
dones = [e for e in events if e["type"] == "ctx_done" and e["id"] in mine and e["goid"] in gos]
for what, n in (("ctx_create", len(creates)), ("go_create", len(gos)), ("go_exit", len(exits)),
                ("ctx_done", len(dones))):
    if n != ops:
        errs.append("%d %s events, the program made %d operations" % (n, what, ops))
# Addresses are reused: per address, creates and cancels alternate, create first.
open_ = {}
ncancel = 0
for e in events:
    if e["type"] == "ctx_create" and e["id"] in mine:
        if open_.get(e["id"]):
            errs.append("ctx_create of %s again before its cancel (ts %d)" % (e["id"], e["ts_ns"]))
        open_[e["id"]] = True
    elif e["type"] == "ctx_cancel" and e["id"] in mine:
        if not open_.get(e["id"]):
            errs.append("ctx_cancel of %s without its create before it (ts %d)" % (e["id"], e["ts_ns"]))
        open_[e["id"]] = False
        ncancel += 1
if ncancel != ops:
    errs.append("%d ctx_cancel events, the program made %d operations" % (ncancel, ops))
print("\n".join(errs[:20]))
sys.exit(1 if errs else 0)
PY

# run BIN DIR RING_START [watch args...]
run() {
	local bin=$1 d=$2 start=$3 ppid wpid i
	shift 3
	mkdir -p "$d"
	"$bin" "$d/go" >"$d/prog.json" 2>"$d/prog.err" &
	ppid=$!
	for ((i = 0; i < 200; i++)); do
		[ "$(readlink "/proc/$ppid/exe")" = "$(realpath "$bin")" ] && break
		sleep 0.01
	done
	CTXTRACE_RING_START=$start "$CTXTRACE" -v watch -p "$ppid" --events --json --probes all "$@" \
		>"$d/events.json" 2>"$d/watch.err" &
	wpid=$!
	for ((i = 0; i < 600; i++)); do
		grep -qs "attached to pid" "$d/watch.err" && break
		kill -0 "$wpid" 2>/dev/null || break
		sleep 0.05
	done
	# Records of the first moments after "attached" can be missed (the attach
	# window, issue 14): start the load once the session runs.
	sleep 1
	touch "$d/go"
	wait "$ppid"
	echo $? >"$d/prog.rc"
	for ((i = 0; i < 200; i++)); do
		kill -0 "$wpid" 2>/dev/null || break
		sleep 0.05
	done
	kill "$wpid" 2>/dev/null
	wait "$wpid"
	echo $? >"$d/watch.rc"
}

versions=$(echo $(go_versions | sed -n '1p;$p' | sort -u))
GO_VERSIONS="$versions" GO_MODES=plain GO_PROGRAMS=ring_ramp scripts/build-go-tests.sh "$GOBIN_DIR" >"$tmp/build.log" 2>&1 ||
	{ not_ok "build ring_ramp" "$(tail -5 "$tmp/build.log")"; exit 1; }

drops() { python3 -c 'import json,sys; print(sum(json.loads(l).get("ringbuf_drops", 0) for l in open(sys.argv[1]) if l.startswith("{") and "\"lost\"" in l))' "$1"; }

for v in $versions; do
	bin=$(go_bin "$v" plain ring_ramp)
	name="ring grows go$v"
	if [ ! -x "$bin" ]; then
		skip "$name: $bin not built"
		continue
	fi
	d=$tmp/$v
	run "$bin" "$d" 16384
	grows=$(grep -c "^ring buffer grown from" "$d/watch.err")
	if [ "$(cat "$d/watch.rc")" != 0 ] || [ "$(cat "$d/prog.rc")" != 0 ]; then
		not_ok "$name" "watch exit $(cat "$d/watch.rc"), program exit $(cat "$d/prog.rc")" "$(tail -5 "$d/watch.err")"
	elif [ "$grows" -lt 2 ] || ! grep -q "ring buffer [0-9]* KiB (grew $grows times)" "$d/watch.err"; then
		not_ok "$name" "grew $grows times (want 2 or more, and said in the stats)" "$(grep -i ring "$d/watch.err")"
	elif out=$(python3 "$tmp/check.py" "$d/prog.json" "$d/events.json" 2>&1); then
		ok "$name: $grows times, 16384 to $(grep "^ring buffer grown" "$d/watch.err" | tail -1 | awk '{print $(NF-1)}') bytes;" \
			"$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ops"])' "$d/prog.json") operations, events exact, 0 drops"
	else
		not_ok "$name" "$out" "$(grep -i ring "$d/watch.err")"
		cp -r "$d" "/tmp/ct-ring-grow-failed-$v" 2>/dev/null
	fi
	# the same on a ring that may not grow: the drops growth avoided (printed, the
	# machine decides how many)
	run "$bin" "$d-fixed" 65536 --ring-max 64K
	if [ "$(grep -c "^ring buffer grown" "$d-fixed/watch.err")" = 0 ] && [ "$(cat "$d-fixed/watch.rc")" = 0 ]; then
		ok "ring held at 64 KiB go$v: does not grow, $(drops "$d-fixed/events.json") records dropped (grown: $(drops "$d/events.json"))"
	else
		not_ok "ring held at 64 KiB go$v" "$(grep -i ring "$d-fixed/watch.err" | head -5)"
	fi
done
done_testing
