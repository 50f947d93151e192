#!/usr/bin/env bash
# `ctxtrace graph -p` on a program whose leaks were complete before attach
# (tests/go/snap_target, idle for a few seconds first): the goroutines that existed
# at attach show what memory holds, checked against what the program says it made
# (its truth line: go site, blocking site, wait reason, count, rule, when, and the
# goroutine id it read from its own stack trace):
#  - json on every installed Go version (plain; newest also stripped): each expected
#    group's goroutines carry its blocking site, wait reason and rule, reported;
#    the holders carry the cancelled context ("context canceled"), those of a type
#    whose itab the runtime made too; goroutines that hold none, started by one that
#    does, are tied to it by ancestry (the parent's goid as Go prints it); the listeners on
#    a live context's Done say so; no other goroutine is reported; the age comes
#    from the runtime's waitsince (longer than the time since attach, shorter than
#    the time since the program made them), not from attach;
#  - tree, dot and svg on the newest Go: the same verdicts, folded with the count.
source "$(dirname "$0")/../lib.sh"
cd "$(dirname "$0")/../.."

if [ ! -x "$CTXTRACE" ]; then
	skip "graph_memory: $CTXTRACE not built"
	exit 0
fi
versions=$(go_versions)
newest=$(echo $versions | awk '{print $NF}')
GO_VERSIONS="$versions" GO_MODES="plain stripped" GO_PROGRAMS=snap_target \
	scripts/build-go-tests.sh "$GOBIN_DIR" >/dev/null || { not_ok "graph_memory: build snap_target"; exit 1; }
tmp=$(mktemp -d /tmp/ct-graph-mem.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done; rm -rf "$tmp"; }
trap cleanup EXIT

# start BIN: runs snap_target, waits for its truth line, lets it idle; sets $pid.
start() {
	local out=$tmp/truth
	rm -f "$out"
	"$1" -children 50 -rtitab 3 -ancestry 5 -life 90s >"$out" 2>"$tmp/err" &
	pid=$!
	pids+=("$pid")
	for _ in $(seq 150); do grep -qs '"type":"truth"' "$out" && break; sleep 0.1; done
	grep -s '"type":"truth"' "$out" >"$tmp/truth.json" || return 1
	sleep 3 # idle: the waits now predate attach by seconds
}

# check_json GRAPH.json: one line per problem
check_json() {
	python3 - "$tmp/truth.json" "$1" "$2" "$3" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
g = json.load(open(sys.argv[2]))
attach_gap_ms = int(sys.argv[3])  # ms from the program's last leak to attach, at least
end_ms = int(sys.argv[4])         # wall clock when the graph was printed, at most
def loc(f):
    return None if not f else "%s:%d" % (f["file"].split("/")[-1], f["line"])
gos = [x for x in g["goroutines"] if x["state"] == "alive"]
anc_parent = [n.split()[-1] for n in t.get("notes", []) if n.startswith("ancestry parent ")]
anc_parent = anc_parent[0] if anc_parent else None
bad = []
expected = set()
for e in t["expect"]:
    if e["rule"] not in ("stuck-goroutines", "outlived-context"):
        continue
    site = e["sites"]["go"]
    expected.add(site)
    mine = [x for x in gos if loc(x["created_at"]) == site]
    if len(mine) != e["count"]:
        bad.append("%s: %d goroutines started at %s in the graph, the program made %d" % (e["rule"], len(mine), site, e["count"]))
    for x in mine:
        m = x["memory"]
        if m is None:
            bad.append("goroutine %d (%s): no memory state" % (x["goid"], site)); continue
        if loc(m["blocked_at"]) != e["sites"]["block"]:
            bad.append("goroutine %d: blocked at %s, the program blocks at %s" % (x["goid"], loc(m["blocked_at"]), e["sites"]["block"]))
        if m["wait_reason"] not in e["wait"]:
            bad.append("goroutine %d: wait %r, expected one of %s" % (x["goid"], m["wait_reason"], e["wait"]))
        if m["rule"] != e["rule"] or not m["reported"] or not x["marked_leak"]:
            bad.append("goroutine %d: rule %s reported %s marked %s, expected %s reported" % (x["goid"], m["rule"], m["reported"], x["marked_leak"], e["rule"]))
        c = m["cancelled_context"]
        if e["rule"] == "outlived-context" and (c is None or c["err"] != "context canceled" or c["tie"] != "held"):
            bad.append("goroutine %d: cancelled context %s, expected one held, 'context canceled'" % (x["goid"], c))
        if e["rule"] == "stuck-goroutines" and "started by a goroutine holding" in e["what"]:
            # tied by ancestry: the parent whose goid the program printed from its own stack
            if c is None or c["tie"] != "ancestry" or str(c["parent_goid"]) != anc_parent or c["err"] != "context canceled":
                bad.append("goroutine %d: %s, expected tied by ancestry to goroutine %s's cancelled context" % (x["goid"], c, anc_parent))
        elif e["rule"] == "stuck-goroutines" and c is not None:
            bad.append("goroutine %d: a cancelled context %s where the program holds none" % (x["goid"], c))
        since_attach = g["now_ns"] - x["created_ns"]
        if m["waiting_from"] == "waitsince":
            # older than attach by the idle time, younger than the program's own clock says
            if m["waiting_ns"] < since_attach + attach_gap_ms * 10**6 // 2:
                bad.append("goroutine %d: waiting %.1fs, not longer than the %.1fs since attach" % (x["goid"], m["waiting_ns"] / 1e9, since_attach / 1e9))
            if m["waiting_ns"] > (end_ms - e["first_ms"] + 1000) * 10**6:
                bad.append("goroutine %d: waiting %.1fs, longer than the %.1fs since the program made it" % (x["goid"], m["waiting_ns"] / 1e9, (end_ms - e["first_ms"]) / 1e3))
        elif m["waiting_ns"] != since_attach:
            bad.append("goroutine %d: waiting_from attach but %d != %d" % (x["goid"], m["waiting_ns"], since_attach))
    if sum(1 for x in mine if x["memory"] and x["memory"]["waiting_from"] == "waitsince") < len(mine) // 2:
        bad.append("%s: fewer than half have the runtime's waitsince" % site)
for x in gos:
    m = x["memory"]
    if loc(x["created_at"]) not in expected and (x["marked_leak"] or (m and m["reported"])):
        bad.append("goroutine %d (%s, started at %s) reported, the program made no leak there" % (x["goid"], x["start_func"], loc(x["created_at"])))
listeners = [x for x in gos if x["start_func"] == "main.main.func2"]
if len(listeners) != 6 or not all(x["memory"] and x["memory"]["waits_on_done"] for x in listeners):
    bad.append("the 6 listeners on a live context's Done: %s" % [(x["goid"], x["memory"] and x["memory"]["waits_on_done"]) for x in listeners])
print("\n".join(bad))
PY
}

for v in $versions; do
	modes=plain
	[ "$v" = "$newest" ] && modes="plain stripped"
	for mode in $modes; do
		name="graph_memory $v $mode"
		if ! start "$(go_bin "$v" "$mode" snap_target)"; then
			not_ok "$name: snap_target did not start" "$(tail -3 "$tmp/err")"
			continue
		fi
		t0=$(date +%s%3N)
		last=$(jq -r '[.expect[].last_ms] | max' "$tmp/truth.json")
		if ! "$CTXTRACE" graph -p "$pid" --duration 7s --format json -o "$tmp/g.json" 2>"$tmp/graph.err"; then
			not_ok "$name: graph failed" "$(tail -3 "$tmp/graph.err")"
		else
			problems=$(check_json "$tmp/g.json" $((t0 - last)) "$(date +%s%3N)")
			if [ -z "$problems" ]; then ok "$name: json memory state as the program made it"
			else not_ok "$name: json memory state" "${problems//$'\n'/$'\n'# }"; fi
		fi
		if [ "$v" = "$newest" ] && [ "$mode" = plain ]; then
			eval "$(jq -r '[.expect[] | select(.rule=="stuck-goroutines")][0] | "sgo=\(.sites.go) sblk=\(.sites.block) sn=\(.count)"' "$tmp/truth.json")"
			eval "$(jq -r '[.expect[] | select(.rule=="outlived-context")][0] | "ogo=\(.sites.go) oblk=\(.sites.block)"' "$tmp/truth.json")"
			eval "$(jq -r '.expect[] | select(.what | test("started by a goroutine holding")) | "ago=\(.sites.go)"' "$tmp/truth.json")"
			"$CTXTRACE" graph -p "$pid" --duration 7s >"$tmp/tree" 2>"$tmp/graph.err"
			if grep -F "started at $sgo " "$tmp/tree" | grep -F "chan send at $sblk for " |
				grep -F "no context found in memory" | grep -F "STUCK: stuck-goroutines (memory)" | grep -q "x$sn\$" &&
				grep -F "started at $ogo " "$tmp/tree" | grep -F "chan receive at $oblk for " |
				grep -F "holds cancelled *context.cancelCtx" | grep -q "LEAK: outlived-context (memory)" &&
				! grep -F -e "main.main.func1" -e "main.main.func2" "$tmp/tree" | grep -q -e LEAK -e STUCK &&
				grep -F "started at $ago " "$tmp/tree" | grep -F "holds cancelled *context.cancelCtx" |
				grep -F "in the frame that started it (by ancestry)" | grep -q "STUCK: stuck-goroutines (memory)"; then
				ok "$name: tree shows the memory verdicts"
			else
				not_ok "$name: tree shows the memory verdicts" "$(grep -e "$sgo" -e "$ogo" -e main.main.func "$tmp/tree" | head -6)"
			fi
			"$CTXTRACE" graph -p "$pid" --duration 7s --format dot >"$tmp/dot" 2>"$tmp/graph.err"
			if grep -F "chan send at $sblk" "$tmp/dot" | grep -F "STUCK: stuck-goroutines (memory)" | grep -q "color=red" &&
				! grep -F "main.main.func2" "$tmp/dot" | grep -q "color=red"; then
				ok "$name: dot marks the reported groups red, the listeners not"
			else
				not_ok "$name: dot marks" "$(grep -e "$sblk" -e main.main.func2 "$tmp/dot" | head -4)"
			fi
			"$CTXTRACE" graph -p "$pid" --duration 7s --format svg >"$tmp/svg" 2>"$tmp/graph.err"
			# well-formed, and the verdict is a red text line (graphviz escapes '-')
			if python3 - "$tmp/svg" <<'PY'
import sys, xml.dom.minidom as m
d = m.parse(sys.argv[1])
t = [(e.getAttribute("fill"), "".join(n.data for n in e.childNodes if n.nodeType == n.TEXT_NODE))
     for e in d.getElementsByTagName("text")]
sys.exit(0 if ("red", "LEAK: outlived-context (memory)") in t and ("red", "STUCK: stuck-goroutines (memory)") in t else 1)
PY
			then
				ok "$name: svg well-formed with the memory verdicts"
			else
				not_ok "$name: svg" "$(head -c 300 "$tmp/svg")" "$(tail -2 "$tmp/graph.err")"
			fi
		fi
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
done
done_testing
