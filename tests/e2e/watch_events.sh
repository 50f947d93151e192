#!/usr/bin/env bash
# ctxtrace watch --events --json against tests/go/ev_basic on every installed Go
# version, plain, stripped, PIE and cgo. The program prints what it did (every
# context with its address, kind, parent, creating goroutine and line, and the
# cancel calls it made or caused; the goroutines it started; its Done waits);
# ctxtrace's events must say exactly that, no more and no less.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/lib.sh

tmp=$(mktemp -d /tmp/ct-watch-events.XXXXXX)
trap 'rm -rf "$tmp"; jobs -p | xargs -r kill 2>/dev/null' EXIT

cat >"$tmp/check.py" <<'EOF'
# check.py PROGRAM_JSON EVENTS_JSONL: exits 1 and prints every mismatch.
import json, re, sys

prog = json.load(open(sys.argv[1]))
events = []
errors = []
for n, line in enumerate(open(sys.argv[2]), 1):
    try:
        events.append(json.loads(line))
    except ValueError:
        errors.append("line %d is not JSON: %r" % (n, line[:200]))

def err(msg):
    errors.append(msg)

pid = prog["pid"]
time_re = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$")
for e in events:
    if e.get("pid") != pid or not isinstance(e.get("ts_ns"), int) or not time_re.match(e.get("time", "")):
        err("bad common fields: %s" % json.dumps(e)[:300])
if not events or events[-1]["type"] != "target_exit":
    err("the last event is not target_exit")
if any(e["type"] == "lost" for e in events):
    err("lost events: %s" % [e for e in events if e["type"] == "lost"])

def user_frame(stack):
    for f in stack or []:
        if f["func"] and not f["func"].startswith("context."):
            return f
    return None

creates = [e for e in events if e["type"] == "ctx_create"]
cancels = {}
for e in events:
    if e["type"] == "ctx_cancel":
        cancels.setdefault(e["id"], []).append(e)
by_id = {}
for e in creates:
    if e["id"] is not None:
        if e["id"] in by_id:
            err("two ctx_create for %s" % e["id"])
        by_id[e["id"]] = e
matched = set()

def check_create(c, e, what):
    def eq(field, want, got):
        if want != got:
            err("%s %s: %s is %r, the program says %r" % (what, c["id"], field, got, want))
    eq("kind", c["kind"], e["kind"])
    eq("go_type", c["type"], e["go_type"])
    eq("parent", c["parent"], e["parent"])
    eq("parent_kind", c["parent_kind"], e["parent_kind"])
    eq("ancestor", c["ancestor"], e["ancestor"])
    eq("ancestor_kind", c["ancestor_kind"], e["ancestor_kind"])
    eq("preexisting", c["preexisting"], e["preexisting"])
    eq("discovered", c["discovered"], e["discovered"])
    eq("goid", c["goid"] or None, e["goid"])
    eq("deadline_unix_ns", c["deadline_unix_ns"] or None, e["deadline_unix_ns"])
    if c["func"]:
        f = user_frame(e["stack"])
        eq("creation site", "%s:%d" % (c["func"], c["line"]), f and "%s:%d" % (f["func"], f["line"]))
    elif e["stack"] is not None:
        err("%s %s: a stack for a context the program did not see created" % (what, c["id"]))

def check_cancels(c, id_):
    got = [(x["reason"], x["effective"], x["err"], x["cause"]) for x in cancels.get(id_, [])]
    want = [(x["reason"], x["effective"], x["err"], x["cause"]) for x in c["cancels"]]
    if got != want:
        err("context %s (%s at line %d): cancels %s, the program says %s" % (id_, c["kind"], c["line"], got, want))
    for x in cancels.get(id_, []):
        if x["reason"] == "explicit" and not user_frame(x["stack"]):
            err("context %s: explicit cancel without a user frame" % id_)

anon_want = {}
for c in prog["contexts"]:
    if c["kind"] == "value" and not c["referenced"] and not c["preexisting"]:
        # Nothing derives from it: its address is never learnt (id null).
        key = (c["parent"], c["func"], c["line"])
        anon_want[key] = anon_want.get(key, 0) + 1
        if c["id"] in by_id:
            err("unreferenced value context %s has an address" % c["id"])
        continue
    if c["id"] is None:
        # AfterFunc: the program cannot see the address; find it by parent and line.
        cand = [e for e in creates if e["id"] not in matched and e["kind"] == c["kind"]
                and e["parent"] == c["parent"] and user_frame(e["stack"])
                and user_frame(e["stack"])["line"] == c["line"]]
        if len(cand) != 1:
            err("%s context under %s at line %d: %d events" % (c["kind"], c["parent"], c["line"], len(cand)))
            continue
        c = dict(c, id=cand[0]["id"])
    e = by_id.get(c["id"])
    if not e:
        err("no ctx_create for %s (%s at %s:%d)" % (c["id"], c["kind"], c["func"], c["line"]))
        continue
    matched.add(c["id"])
    check_create(c, e, "context")
    check_cancels(c, c["id"])

anon_got = {}
for e in creates:
    if e["id"] is None:
        f = user_frame(e["stack"])
        key = (e["parent"], f and f["func"], f and f["line"])
        anon_got[key] = anon_got.get(key, 0) + 1
if anon_got != anon_want:
    err("value contexts without address: %s, the program says %s" % (anon_got, anon_want))
for e in creates:
    if e["id"] is not None and e["id"] not in matched:
        err("ctx_create the program did not make: %s" % json.dumps(e)[:400])
for id_ in cancels:
    if id_ not in matched:
        err("ctx_cancel of a context the program did not make: %s" % id_)

gocreates = {}
for e in events:
    if e["type"] == "go_create":
        if e["goid"] in gocreates:
            err("two go_create for goroutine %d" % e["goid"])
        gocreates[e["goid"]] = e
exits = [e["goid"] for e in events if e["type"] == "go_exit"]
for g in prog["goroutines"]:
    e = gocreates.get(g["goid"])
    if not e:
        err("no go_create for goroutine %d" % g["goid"])
        continue
    site = e["go_site"] and "%s:%d" % (e["go_site"]["func"], e["go_site"]["line"])
    parent = g["parent_goid"]
    if g["preexisting"] and int(re.match(r"go1\.(\d+)", prog["go"]).group(1)) < 21:
        parent = None  # the runtime records a goroutine's parent since Go 1.21
    for field, want, got in (("parent_goid", parent, e["parent_goid"]),
                             ("go_site", "%s:%d" % (g["func"], g["line"]), site),
                             ("start_func", g["start_func"], e["start_func"]),
                             ("preexisting", g["preexisting"], e["preexisting"])):
        if want != got:
            err("goroutine %d: %s is %r, the program says %r" % (g["goid"], field, got, want))
    if g["exited"] and exits.count(g["goid"]) != 1:
        err("goroutine %d: %d go_exit events" % (g["goid"], exits.count(g["goid"])))
# Goroutines started by main.* code are the program's; the runtime and the
# context and time packages start others (timers, AfterFunc).
mine = {g["goid"] for g in prog["goroutines"]}
for e in gocreates.values():
    if not e["preexisting"] and e["go_site"] and e["go_site"]["func"].startswith("main.") and e["goid"] not in mine:
        err("go_create the program did not make: %s" % json.dumps(e)[:300])
for d in prog["done"]:
    if not [e for e in events if e["type"] == "ctx_done" and e["id"] == d["id"] and e["goid"] == d["goid"]]:
        err("no ctx_done for %s in goroutine %d" % (d["id"], d["goid"]))

for m in errors[:40]:
    print(m)
sys.exit(1 if errors else 0)
EOF

# run_watch BIN OUTDIR [watch args...]: starts BIN, attaches, lets it act, waits.
# Leaves prog.json, events.json, watch.err, prog.rc, watch.rc in OUTDIR.
run_watch() {
	local bin=$1 d=$2 ppid wpid i
	shift 2
	mkdir -p "$d"
	"$bin" "$d/go" >"$d/prog.json" 2>"$d/prog.err" &
	ppid=$!
	# $! is the forked shell until it has exec'd the program.
	for ((i = 0; i < 200; i++)); do
		[ "$(readlink "/proc/$ppid/exe")" = "$(realpath "$bin")" ] && break
		sleep 0.01
	done
	"$CTXTRACE" watch -p "$ppid" --events "$@" >"$d/events.json" 2>"$d/watch.err" &
	wpid=$!
	for ((i = 0; i < 600; i++)); do
		grep -qs "attached to pid" "$d/watch.err" && break
		kill -0 "$wpid" 2>/dev/null || break
		sleep 0.05
	done
	touch "$d/go"
	wait "$ppid"
	echo $? >"$d/prog.rc"
	# The watch ends by itself when the target exits.
	for ((i = 0; i < 200; i++)); do
		kill -0 "$wpid" 2>/dev/null || break
		sleep 0.05
	done
	kill "$wpid" 2>/dev/null
	wait "$wpid"
	echo $? >"$d/watch.rc"
	echo "$ppid" >"$d/pid"
}

for v in $(go_versions); do
	for m in plain stripped pie cgo; do
		bin=$(go_bin "$v" "$m" ev_basic)
		name="watch events go$v $m"
		if [ ! -x "$bin" ]; then
			skip "$name: $bin not built"
			continue
		fi
		d=$tmp/$v-$m
		# every call, exactly: the all-probes mode (docs/events.md)
		run_watch "$bin" "$d" --json --probes all
		if [ "$(cat "$d/watch.rc")" != 0 ] || [ "$(cat "$d/prog.rc")" != 0 ]; then
			not_ok "$name" "watch exit $(cat "$d/watch.rc"), program exit $(cat "$d/prog.rc")" \
				"$(tail -5 "$d/watch.err")" "$(tail -3 "$d/prog.err")"
			continue
		fi
		if ! grep -q "target $(cat "$d/pid") exited" "$d/watch.err"; then
			not_ok "$name" "no 'target exited' message" "$(tail -3 "$d/watch.err")"
			continue
		fi
		if out=$(python3 "$tmp/check.py" "$d/prog.json" "$d/events.json" 2>&1); then
			ok "$name ($(grep -c . "$d/events.json") events)"
		else
			not_ok "$name" "$out"
			cp -r "$d" "/tmp/ct-watch-events-failed-$v-$m" 2>/dev/null
		fi
	done
done

# The default probe set: no ctx_done, go_exit or WithValue events; the same
# creations, cancels and go statements as with every probe.
for v in $(go_versions | sed -n '1p;$p' | sort -u); do
	bin=$(go_bin "$v" plain ev_basic)
	[ -x "$bin" ] && [ -s "$tmp/$v-plain/events.json" ] || continue
	d=$tmp/$v-default
	run_watch "$bin" "$d" --json
	if out=$(python3 - "$tmp/$v-plain/events.json" "$d/events.json" 2>&1 <<'PY'
import json, sys
def load(p):
    return [json.loads(l) for l in open(p) if l.startswith("{")]
def count(evs, t, pred=lambda e: True):
    return sum(1 for e in evs if e.get("type") == t and pred(e))
allm, dflt = load(sys.argv[1]), load(sys.argv[2])
bad = [e["type"] for e in dflt if e.get("type") in ("ctx_done", "go_exit")]
assert not bad, "default mode streamed %s" % sorted(set(bad))
nonvalue = lambda e: e.get("kind") != "value"
for t, pred in (("ctx_create", nonvalue), ("ctx_cancel", lambda e: True)):
    a, d = count(allm, t, pred), count(dflt, t, pred)
    assert a == d, "%s: %d with every probe, %d by default" % (t, a, d)
assert count(dflt, "go_create", lambda e: not e.get("preexisting")) == \
    count(allm, "go_create", lambda e: not e.get("preexisting")), "go_create counts differ"
assert count(dflt, "target_exit") == 1, "no target_exit"
PY
	); then
		ok "watch events go$v default probes: no done/exit events, same creations and cancels"
	else
		not_ok "watch events go$v default probes" "$out"
	fi
done

# Text output: one line per event, the same number as in JSON.
latest=$(go_versions | tail -1)
bin=$(go_bin "$latest" plain ev_basic)
if [ -x "$bin" ]; then
	run_watch "$bin" "$tmp/text"
	if [ "$(cat "$tmp/text/watch.rc")" = 0 ] && grep -q "^[0-9:.]* ctx_cancel  0x[0-9a-f]* deadline" "$tmp/text/events.json" &&
		grep -q "^[0-9:.]* target_exit" "$tmp/text/events.json" && ! grep -q '^{' "$tmp/text/events.json"; then
		ok "watch events text output"
	else
		not_ok "watch events text output" "$(head -5 "$tmp/text/events.json")" "$(tail -3 "$tmp/text/watch.err")"
	fi
fi

# A Go newer than ctxtrace's table: the newest known build with its version strings
# rewritten (same length) to the next minor version. Its layout is that of the
# newest known, so it must be checked against the process, used with one warning,
# and its events be exact; with offsets that do not fit (the table perturbed for
# this test, or an older Go's binary carrying the new version) watch must refuse,
# naming what did not fit, and never attach.
known=$(go_known_max)
gover=$("$(go_tool "$known")" env GOVERSION 2>/dev/null)
next=1.$((${known#1.} + 1))
newer=go$next${gover#go"$known"}
if [ -z "${GO_VERSIONS:-}" ] || [[ " $GO_VERSIONS " == *" $known "* ]] && [ ${#newer} -eq ${#gover} ]; then
	for m in plain stripped; do
		src=$(go_bin "$known" "$m" ev_basic)
		[ -x "$src" ] || { skip "go$next (rewritten) $m: $src not built"; continue; }
		bin=$tmp/newer-$m/ev_basic
		mkdir -p "${bin%/*}" && perl -pe "s/\Q$gover\E/$newer/g" "$src" >"$bin" && chmod +x "$bin"
		d=$tmp/newer-$m/run
		run_watch "$bin" "$d" --json --probes all
		name="go$next (rewritten $m $known build): validated, one warning, exact events"
		warn=$(grep -c "^warning: Go $next is newer than ctxtrace's offset table (1.19-$known): Go $known's layout fits pid $(cat "$d/pid") (context code, goroutine list) and is used$" "$d/watch.err")
		if [ "$(cat "$d/watch.rc")" != 0 ] || [ "$warn" != 1 ] || [ "$(grep -c '^warning' "$d/watch.err")" != 1 ]; then
			not_ok "$name" "watch exit $(cat "$d/watch.rc"), $warn matching warning lines" "$(head -5 "$d/watch.err")"
		elif out=$(python3 "$tmp/check.py" "$d/prog.json" "$d/events.json" 2>&1); then
			ok "$name ($(grep -c . "$d/events.json") events)"
		else
			not_ok "$name" "$out"
		fi
	done
	# refused NAME BIN REGEX [ENV...]: exit 1, one error line matching, no probe left.
	refused() {
		local name=$1 bin=$2 re=$3 d=$tmp/refused-$RANDOM pp rc
		shift 3
		mkdir -p "$d"
		"$bin" "$d/go" >"$d/prog.json" 2>"$d/prog.err" &
		pp=$!
		for ((i = 0; i < 200; i++)); do
			[ "$(readlink "/proc/$pp/exe")" = "$(realpath "$bin")" ] && break
			sleep 0.01
		done
		sleep 0.2
		env "$@" "$CTXTRACE" watch -p "$pp" --events >"$d/events" 2>"$d/err"
		rc=$?
		touch "$d/go"
		wait "$pp"
		if [ $rc -eq 1 ] && [ "$(wc -l <"$d/err")" -eq 1 ] && [ ! -s "$d/events" ] &&
			grep -qE "^ctxtrace: cannot attach to pid $pp: Go $next is newer than ctxtrace's offset table \(1\.19-$known\) and Go $known's layout does not fit it: $re" "$d/err"; then
			ok "$name: $(sed "s/.*does not fit it: //" "$d/err")"
		else
			not_ok "$name" "exit $rc" "$(head -3 "$d/err")" "$(head -3 "$d/events")"
		fi
	}
	bin=$tmp/newer-stripped/ev_basic
	if [ -x "$bin" ]; then
		refused "go$next, goid offset perturbed: refused" "$bin" 'allgs\[0\] has goid [0-9]+, not 1' \
			CTXTRACE_TEST_OFFSETS=goid=$(($("$OUT/tools/offsets_dump" --table "${known#1.}" | awk '$1=="goid"{print $2}') + 8))
		refused "go$next, stack bounds perturbed: refused" "$bin" 'allgs\[0\] \(goid 1\) has stack bounds' \
			CTXTRACE_TEST_OFFSETS=stack.hi=16
		refused "go$next, cancelCtx.err perturbed: refused" "$bin" \
			'context\.\(\*cancelCtx\)\.Err reads its receiver at \+[0-9]+, not cancelCtx\.err at \+[0-9]+' \
			CTXTRACE_TEST_OFFSETS=cancelCtx.err=$(($("$OUT/tools/offsets_dump" --table "${known#1.}" | awk '$1=="cancelCtx.err"{print $2}') + 8))
	fi
	# A Go 1.22 program (another layout) claiming to be the newer Go.
	old=$(go_bin 1.22 stripped ev_basic)
	ogover=$("$(go_tool 1.22)" env GOVERSION 2>/dev/null)
	onewer=go$next${ogover#go1.22}
	if [ -x "$old" ] && [ ${#onewer} -eq ${#ogover} ]; then
		perl -pe "s/\Q$ogover\E/$onewer/g" "$old" >"$tmp/old-as-newer" && chmod +x "$tmp/old-as-newer"
		refused "go1.22 build claiming go$next: refused" "$tmp/old-as-newer" '.+'
	fi
else
	skip "newer-Go checks: Go $known not among GO_VERSIONS, or $gover cannot be rewritten in place"
fi

done_testing
