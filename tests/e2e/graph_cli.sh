#!/usr/bin/env bash
# ctxtrace graph as a command: formats on a live target, --duration, a target that
# exits during the observation, and the errors (dead pid, non-Go pid, usage).
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
	skip "graph_cli: $CTXTRACE not built"
	exit 0
fi
v=$(go_versions | tail -1)
GO_VERSIONS=$v GO_MODES=plain GO_PROGRAMS=graph_tree scripts/build-go-tests.sh "$GOBIN_DIR" >/dev/null ||
	{ not_ok "graph_cli: build graph_tree"; exit 1; }
bin=$(go_bin "$v" plain graph_tree)
tmp=$(mktemp -d /tmp/ct-graph-cli.XXXXXX)
pid=
trap 'kill $pid 2>/dev/null; rm -rf "$tmp"' EXIT

# A target that has built its graph and waits.
"$bin" "$tmp/go" >"$tmp/expected.json" 2>/dev/null &
pid=$!
wait_exec "$pid" "$bin"
touch "$tmp/go"
for _ in $(seq 100); do [ -s "$tmp/expected.json" ] && break; sleep 0.1; done

# --duration ends the observation by itself
t0=$(date +%s%N)
"$CTXTRACE" graph -p "$pid" --duration 1s --format dot >"$tmp/g.dot" 2>"$tmp/err"
rc=$? ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "graph_cli: --duration 1s exits 0" test $rc -eq 0
check "graph_cli: --duration 1s takes about 1s (${ms} ms)" test $ms -ge 900 -a $ms -lt 10000
check "graph_cli: dot output is a digraph" grep -q '^digraph ctxtrace {' "$tmp/g.dot"
if command -v dot >/dev/null; then
	check "graph_cli: graphviz reads the dot output" dot -Tplain -o /dev/null "$tmp/g.dot"
fi
# contexts created before attach are seen when referenced: the pre-existing goroutines are listed
"$CTXTRACE" graph -p "$pid" --duration 1s >"$tmp/tree.txt" 2>"$tmp/err"
check "graph_cli: tree output with the pid in its first line" grep -q "^pid $pid: [0-9]* contexts" "$tmp/tree.txt"
check "graph_cli: tree lists the pre-existing main goroutine" grep -q "goroutine 1 " "$tmp/tree.txt"
"$CTXTRACE" graph -p "$pid" --duration 1s --format svg -o "$tmp/g.svg" 2>"$tmp/err"
check "graph_cli: -o writes a well-formed svg" python3 -c 'import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])' "$tmp/g.svg"

# the target exits while observed: the graph as it was, exit 0, and a message
( sleep 1.5; kill "$pid" ) &
"$CTXTRACE" graph -p "$pid" --duration 30s --format json >"$tmp/exit.json" 2>"$tmp/err"
rc=$?
check "graph_cli: target exit ends the observation (exit $rc)" test $rc -eq 0
check "graph_cli: ... says so" grep -q "process $pid exited" "$tmp/err"
check "graph_cli: ... and prints the graph" python3 -c 'import json,sys; g=json.load(open(sys.argv[1])); sys.exit(0 if g["stats"]["target_exited"] else 1)' "$tmp/exit.json"

# errors: one line, exit 1 (cannot) or 2 (usage)
expect() { # NAME EXIT REGEX CMD...
	local name=$1 want=$2 re=$3 rc; shift 3
	"$@" >/dev/null 2>"$tmp/err"
	rc=$?
	if [ $rc -eq "$want" ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -Eq -e "$re" "$tmp/err"; then
		ok "graph_cli: $name"
	else
		not_ok "graph_cli: $name (exit $rc)" "$(head -c 400 "$tmp/err")"
	fi
}
sleep 30 & sp=$!
wait_exec "$sp" "$(command -v sleep)"
expect "dead pid" 1 'cannot attach to pid 999999: no such process' "$CTXTRACE" graph -p 999999 --duration 1s
expect "non-Go pid" 1 "cannot attach to pid $sp: /usr/bin/sleep: not a Go program" "$CTXTRACE" graph -p "$sp" --duration 1s
kill $sp
expect "missing -p" 2 'missing -p PID' "$CTXTRACE" graph
expect "bad duration" 2 "--duration: 'soon' is not a duration" "$CTXTRACE" graph -p 1 --duration soon
expect "bad format" 2 "--format: 'pdf' is not one of tree, json, dot, svg" "$CTXTRACE" graph -p 1 --format pdf
expect "unwritable -o" 1 'cannot write /nonexistent/x.svg' "$CTXTRACE" graph -p 1 -o /nonexistent/x.svg
done_testing
