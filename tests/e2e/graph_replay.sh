#!/usr/bin/env bash
# ctxtrace watch --events --record FILE, then ctxtrace replay FILE: the replayed
# graph has what the program (tests/go/graph_tree) says it built; damaged
# recordings are refused with one clear line and exit 1 (after printing what was
# complete), usage errors exit 2.
source "$(dirname "$0")/../lib.sh"
cd "$(dirname "$0")/../.."

# a background job's pid names the shell until the exec: wait for the Go program
wait_exec() { # PID BINARY
	local want i
	want=$(realpath "$2")
	for i in $(seq 100); do [ "$(readlink "/proc/$1/exe" 2>/dev/null)" = "$want" ] && return 0; sleep 0.05; done
	return 1
}

if [ ! -x "$CTXTRACE" ]; then
	skip "graph_replay: $CTXTRACE not built"
	exit 0
fi
v=$(go_versions | tail -1)
GO_VERSIONS=$v GO_MODES=plain GO_PROGRAMS=graph_tree scripts/build-go-tests.sh "$GOBIN_DIR" >/dev/null ||
	{ not_ok "graph_replay: build graph_tree"; exit 1; }
tmp=$(mktemp -d /tmp/ct-graph-replay.XXXXXX)
pid= wp=
trap 'kill $pid $wp 2>/dev/null; rm -rf "$tmp"' EXIT

# record with watch
"$(go_bin "$v" plain graph_tree)" "$tmp/go" >"$tmp/expected.json" 2>"$tmp/prog.err" &
pid=$!
wait_exec "$pid" "$(go_bin "$v" plain graph_tree)"
"$CTXTRACE" watch -p "$pid" --events --json --record "$tmp/rec" >"$tmp/events.json" 2>"$tmp/watch.err" &
wp=$!
for _ in $(seq 100); do grep -q "attached to pid" "$tmp/watch.err" && break; kill -0 "$wp" 2>/dev/null || break; sleep 0.1; done
touch "$tmp/go"
for _ in $(seq 100); do [ -s "$tmp/expected.json" ] && break; sleep 0.1; done
sleep 0.3
kill -INT "$wp"
wait "$wp"
rc=$?
kill "$pid" 2>/dev/null
if [ $rc -ne 0 ] || [ ! -s "$tmp/rec" ] || [ ! -s "$tmp/expected.json" ]; then
	not_ok "graph_replay: watch --events --record (exit $rc)" "$(cat "$tmp/watch.err" "$tmp/prog.err")"
	done_testing
	exit
fi
ok "graph_replay: watch --events --record wrote a recording"

replay_json() { "$CTXTRACE" replay "$1" --format json -o "$2"; }
chmod 755 "$tmp" && chmod 644 "$tmp/rec"
check "graph_replay: replay exits 0 without privileges" setpriv --reuid=65534 --regid=65534 --clear-groups \
	--inh-caps=-all --bounding-set=-all "$CTXTRACE" replay "$tmp/rec" --format tree -o /dev/null
check "graph_replay: replay json" replay_json "$tmp/rec" "$tmp/replay.json"
# every context and goroutine the program made is in the replayed graph, as it made it
check "graph_replay: replayed graph = what the program built" python3 - "$tmp/expected.json" "$tmp/replay.json" <<'PY'
import json, sys
exp, g = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
ctx = {c["id"]: c for c in g["contexts"]}
gos = {x["goid"]: x for x in g["goroutines"]}
bad = []
for e in exp["contexts"]:
    c = ctx.get(e["id"])
    if not c or c["kind"] != e["kind"] or c["state"] != e["state"] or (e["parent"] and c["parent"] != e["parent"]):
        bad.append((e, c))
for e in exp["goroutines"]:
    x = gos.get(e["goid"])
    if not x or x["scope"] != e["scope"] or x["bound"] != e["bound"] or x["parent_goid"] != e["parent_goid"]:
        bad.append((e, x))
for b in bad[:5]:
    print(json.dumps(b)[:400])
sys.exit(1 if bad else 0)
PY
# the replayed events are the streamed ones: as many contexts created
check "graph_replay: replay saw every streamed ctx_create" python3 - "$tmp/events.json" "$tmp/replay.json" <<'PY'
import json, sys
ids = set()
for line in open(sys.argv[1]):
    try:
        e = json.loads(line)
    except ValueError:
        continue
    if e.get("type") == "ctx_create" and e.get("id") not in (None, "0x0"):
        ids.add(e["id"])
have = {c["id"] for c in json.load(open(sys.argv[2]))["contexts"]}
miss = ids - have
print("streamed but not replayed:", sorted(miss)[:10]) if miss else None
sys.exit(1 if miss or not ids else 0)
PY

size=$(stat -c %s "$tmp/rec")
# expect_fail NAME FILE REGEX: exit 1, one line on stderr matching REGEX
expect_fail() {
	local name=$1 file=$2 re=$3 rc lines
	"$CTXTRACE" replay "$file" --format json >"$tmp/out" 2>"$tmp/err"
	rc=$?
	lines=$(wc -l <"$tmp/err")
	if [ $rc -eq 1 ] && [ "$lines" -eq 1 ] && grep -Eq -e "$re" "$tmp/err"; then
		ok "graph_replay: $name"
	else
		not_ok "graph_replay: $name (exit $rc, $lines lines)" "$(head -c 500 "$tmp/err")"
	fi
}
# without its 24-byte end marker (a writer killed before closing): every
# complete chunk replays, then the error
head -c $((size - 24)) "$tmp/rec" >"$tmp/trunc"
expect_fail "truncated recording" "$tmp/trunc" '^ctxtrace: .*/trunc: truncated recording after [1-9][0-9]* events$'
check "graph_replay: a truncated recording still prints what was complete" \
	python3 -c 'import json,sys; g=json.load(open(sys.argv[1])); sys.exit(0 if g["contexts"] else 1)' "$tmp/out"
python3 - "$tmp/rec" "$tmp/corrupt" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[len(b) // 2] ^= 0x40
open(sys.argv[2], "wb").write(b)
PY
expect_fail "corrupt recording" "$tmp/corrupt" '^ctxtrace: .*/corrupt: corrupt recording: checksum mismatch in the chunk at byte [0-9]+ \(after [0-9]+ events\)$'
python3 - "$tmp/rec" "$tmp/future" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[8:12] = (9).to_bytes(4, "little")
open(sys.argv[2], "wb").write(b)
PY
expect_fail "future version" "$tmp/future" 'recording format version 9, newer than this ctxtrace reads \(1\)'
expect_fail "not a recording" "$(go_bin "$v" plain graph_tree)" 'is not a ctxtrace recording \(bad magic\)$'
expect_fail "missing file" "$tmp/nope" 'cannot open recording .*/nope: No such file or directory$'
"$CTXTRACE" replay >/dev/null 2>&1
check "graph_replay: no FILE is a usage error (exit 2)" test $? -eq 2
"$CTXTRACE" replay "$tmp/rec" --format png >/dev/null 2>"$tmp/err"
check "graph_replay: a bad --format is a usage error (exit 2)" test $? -eq 2
check "graph_replay: ... and says why" grep -q "png' is not one of tree, json, dot, svg" "$tmp/err"
done_testing
