#!/usr/bin/env bash
# Leak profiles in pprof's format (`snapshot --format pprof -o FILE`, `watch
# --profile FILE`, `run --profile FILE`), read back by `go tool pprof` of the same
# toolchain (an independent decoder), for tests/go/snap_target built by the oldest
# and the newest installed Go, plain and stripped:
#  1. -raw: sample type goroutines/count; for each group the program says it made
#     (its truth line: rule, go site, blocking site, count), exactly that many
#     samples labelled with that rule whose stack holds the blocking site with the
#     go statement's site below it (lost-cancel's waiters listen to a live Done:
#     not stuck, not in the profile); outlived-context samples carry context_kind and
#     a "cancelled (...)" context_state; every sample an age label.
#  2. -top: the total is the number of samples ctxtrace said it wrote.
#  3. -traces: the labels and file:line frames appear as pprof prints them.
#  4. watch --profile on the same process: the same groups.
#  5. run --profile on a leaking test binary: the leak's samples; the daemon's
#     profile_dir: a profile per target with the same groups, alerts still raised.
#  6. Bad input: --format pprof without -o, -o without it, an unknown format, an
#     unwritable path: one line, exit 1 or 2, no file left behind.
cd "$(dirname "$0")/../.." || exit 1
source tests/lib.sh
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done; rm -rf "$tmp"; }
trap cleanup EXIT

all=$(go_versions)
oldest=${all%%$'\n'*}
newest=${all##*$'\n'}
vers=$(printf '%s\n' "$oldest" "$newest" | sort -u)
if ! GO_VERSIONS="$(echo $vers)" GO_MODES="plain stripped" GO_PROGRAMS=snap_target \
	scripts/build-go-tests.sh "$GOBIN_DIR" >"$tmp/build.log" 2>&1; then
	not_ok "Go test programs build" "$(tail -20 "$tmp/build.log")"
	done_testing; exit
fi

start() { # BIN OUT: sets $pid once its truth line is out
	# OUT may hold the previous run's truth line: the shell truncates it only in
	# the child, which can run after the first grep below (seen under load).
	rm -f "$2"
	"$1" -delay 0 -life 120s -children 10 >"$2" 2>&1 &
	pid=$!
	pids+=("$pid")
	for _ in $(seq 150); do grep -qs "\"type\":\"truth\",.*\"pid\":$pid," "$2" && return 0; sleep 0.1; done
	return 1
}

# check_raw RAW TRUTH [RULES]: "ok" or the problems, from `go tool pprof -raw`.
check_raw() {
	python3 - "$1" "$2" "${3:-}" <<'EOF'
import json, re, sys
raw, truth = open(sys.argv[1]).read(), json.loads(open(sys.argv[2]).read())
# Goroutines waiting on a lost context's Done listen to it: not stuck, not profiled.
only = sys.argv[3].split() if sys.argv[3] else ["outlived-context", "unreachable-cancel", "stuck-goroutines"]
probs = []
if not re.search(r'^goroutines/count$', raw, re.M):
    probs.append("no goroutines/count sample type")
# Locations: "  ID: 0xADDR M=1 func file:line s=0", inlined frames on following lines.
locs, cur = {}, None
sec = None
samples = []
for line in raw.splitlines():
    if line in ("Samples:", "Locations", "Mappings"):
        sec = line
        continue
    if sec == "Locations":
        # Newer pprof prints file:line:column.
        m = re.match(r'\s+(\d+): 0x[0-9a-f]+ M=\d+ (\S+) (\S+?):(\d+)(?::\d+)? s=\d+', line)
        if m:
            cur = int(m.group(1))
            locs[cur] = [(m.group(2), m.group(3).split('/')[-1] + ':' + m.group(4))]
            continue
        m = re.match(r'\s+(\S+) (\S+?):(\d+)(?::\d+)? s=\d+', line)
        if m and cur:
            locs[cur].append((m.group(1), m.group(2).split('/')[-1] + ':' + m.group(3)))
    elif sec == "Samples:":
        m = re.match(r'\s+(\d+): ([\d ]+)$', line)
        if m:
            samples.append({"v": int(m.group(1)), "locs": [int(x) for x in m.group(2).split()], "labels": {}})
            continue
        if samples and line.strip().startswith(tuple("abcdefghijklmnopqrstuvwxyz")):
            for k, v in re.findall(r'(\w+):\[([^\]]*)\]', line):
                samples[-1]["labels"][k] = v
for s in samples:
    s["sites"] = [site for l in s["locs"] for _, site in locs.get(l, [])]
    if "age" not in s["labels"]:
        probs.append("a sample without an age label")
        break
for e in truth["expect"]:
    if only and e["rule"] not in only:
        continue
    go, block = e["sites"].get("go"), e["sites"].get("block")
    if not go or not block:
        continue
    match = [s for s in samples if s["labels"].get("rule") == e["rule"] and block in s["sites"]
             and go in s["sites"][s["sites"].index(block):]]
    n = sum(s["v"] for s in match)
    if n != e["count"]:
        probs.append("%s go %s block %s: %d samples, want %d" % (e["rule"], go, block, n, e["count"]))
    if e["rule"] == "outlived-context":
        bad = [s for s in match if s["labels"].get("context_kind") in (None, "") or
               not s["labels"].get("context_state", "").startswith("cancelled (")]
        if bad:
            probs.append("%d outlived-context samples without context_kind/context_state" % len(bad))
print("ok" if not probs else "; ".join(probs))
print(len(samples), file=sys.stderr)
EOF
}

for v in $vers; do
	go=$(go_tool "$v")
	for m in plain stripped; do
		bin=$(go_bin "$v" "$m" snap_target)
		if ! start "$bin" "$tmp/out"; then
			not_ok "go$v $m: snap_target started" "$(tail -3 "$tmp/out")"
			continue
		fi
		grep '"type":"truth"' "$tmp/out" >"$tmp/truth"
		prof=$tmp/snap-$v-$m.pb.gz
		"$CTXTRACE" snapshot -p "$pid" --grace 0 --format pprof -o "$prof" >"$tmp/snap.out" 2>"$tmp/snap.err"
		rc=$?
		wrote=$(sed -n 's/^\([0-9]*\) stuck goroutines written to .*/\1/p' "$tmp/snap.err")
		if [ $rc -ne 0 ] || [ ! -s "$prof" ]; then
			not_ok "go$v $m: snapshot --format pprof" "exit $rc" "$(tail -3 "$tmp/snap.err")"
			kill -KILL "$pid"; continue
		fi
		"$go" tool pprof -raw "$prof" >"$tmp/raw" 2>"$tmp/raw.err"
		verdict=$(check_raw "$tmp/raw" "$tmp/truth" 2>/dev/null)
		[ "$verdict" = ok ] && ok "go$v $m: go tool pprof -raw: every expected group, its sites and labels" ||
			not_ok "go$v $m: pprof -raw" "$verdict" "$(head -3 "$tmp/raw.err")"
		total=$("$go" tool pprof -top "$prof" 2>/dev/null | sed -n 's/.*accounting for \([0-9]*\), .* of \([0-9]*\) total.*/\2/p')
		[ -n "$wrote" ] && [ "$total" = "$wrote" ] && ok "go$v $m: go tool pprof -top: $total goroutines, as written" ||
			not_ok "go$v $m: pprof -top total" "top says '${total}', ctxtrace wrote '${wrote}'"
		holder=$(jq -r '.expect[] | select(.rule == "outlived-context") | .sites.block' "$tmp/truth")
		"$go" tool pprof -traces -lines "$prof" >"$tmp/traces" 2>&1
		if grep -q 'rule:  outlived-context' "$tmp/traces" && grep -q 'context_state:  cancelled (context canceled)' "$tmp/traces" &&
			grep -Eq "/$holder(:[0-9]+)?\$" "$tmp/traces" && grep -q '^Type: goroutines$' "$tmp/traces"; then
			ok "go$v $m: go tool pprof -traces shows the labels and the blocking site $holder"
		else
			not_ok "go$v $m: pprof -traces" "$(head -20 "$tmp/traces")"
		fi
		if [ "$v" = "$newest" ] && [ "$m" = plain ]; then
			wprof=$tmp/watch.pb.gz
			"$CTXTRACE" watch -p "$pid" --duration 3s --grace 1s --profile "$wprof" >/dev/null 2>"$tmp/watch.err"
			rc=$?
			"$go" tool pprof -raw "$wprof" >"$tmp/wraw" 2>/dev/null
			verdict=$(check_raw "$tmp/wraw" "$tmp/truth" "outlived-context stuck-goroutines" 2>/dev/null)
			[ $rc -eq 0 ] && [ "$verdict" = ok ] && ok "watch --profile: the same groups" ||
				not_ok "watch --profile" "exit $rc; $verdict" "$(tail -3 "$tmp/watch.err")"
		fi
		kill -KILL "$pid"
		wait "$pid" 2>/dev/null
	done
done

# run --profile: the leak of tests/go/run_leaktest in the profile of its exit.
go=$(go_tool "$newest")
if (cd tests/go && GOTOOLCHAIN=local GOFLAGS=-mod=mod GOPROXY=off "$go" test -c -o "$tmp/leak.test" ./run_leaktest) >"$tmp/build.log" 2>&1; then
	CTXTRACE_PLANT_LEAK=1 "$CTXTRACE" run --profile "$tmp/run.pb.gz" -- "$tmp/leak.test" >"$tmp/run.out" 2>"$tmp/run.err"
	rc=$?
	python3 -c '
import json, sys
t = json.loads([l for l in open(sys.argv[1]) if "\"truth\"" in l][0])
print(json.dumps({"expect": [{"rule": "outlived-context", "count": t["timeouts"], "sites": t["sites"]}]}))' "$tmp/run.out" >"$tmp/rtruth" 2>/dev/null
	"$go" tool pprof -raw "$tmp/run.pb.gz" >"$tmp/rraw" 2>/dev/null
	verdict=$(check_raw "$tmp/rraw" "$tmp/rtruth" 2>/dev/null)
	[ $rc -eq 0 ] && [ "$verdict" = ok ] && ok "run --profile: the leak at exit, its sites and labels" ||
		not_ok "run --profile" "exit $rc; $verdict" "$(tail -3 "$tmp/run.err")"
else
	not_ok "go test -c run_leaktest" "$(tail -3 "$tmp/build.log")"
fi

# The daemon's periodic profile per target (profile_dir, profile_interval).
dprog=$tmp/pprof_snap_$$
cp "$(go_bin "$newest" plain snap_target)" "$dprog"
mkdir -p "$tmp/profiles"
cat >"$tmp/d.conf" <<EOF2
[daemon]
log = stderr
poll_interval = 50ms
[output]
socket = $tmp/d.sock
socket_group =
profile_dir = $tmp/profiles
profile_interval = 2s
[target snap]
exe = pprof_snap_*
grace = 1s
min_count = 1
EOF2
"${CTXTRACED:-$OUT/ctxtraced}" --config "$tmp/d.conf" >"$tmp/daemon.log" 2>&1 &
dpid=$!
pids+=("$dpid")
sleep 1
start "$dprog" "$tmp/dout"
grep '"type":"truth"' "$tmp/dout" >"$tmp/dtruth"
dfile=$tmp/profiles/snap-$pid.pb.gz
verdict=
for _ in $(seq 20); do
	sleep 1
	[ -s "$dfile" ] || continue
	"$go" tool pprof -raw "$dfile" >"$tmp/draw" 2>/dev/null || continue
	verdict=$(check_raw "$tmp/draw" "$tmp/dtruth" 2>/dev/null)
	[ "$verdict" = ok ] && break
done
[ "$verdict" = ok ] && ok "daemon profile_dir: $(basename "$dfile") holds every expected group, sites and labels" ||
	not_ok "daemon profile_dir" "${verdict:-no profile $dfile}" "$(ls "$tmp/profiles")" "$(tail -3 "$tmp/daemon.log")"
# The profiles' passes tell no alert: the daemon still alerts on the same groups.
if jq -e 'select(.type == "alert")' <("$CTXTRACE" alerts --json --socket "$tmp/d.sock" 2>/dev/null) >/dev/null 2>&1; then
	ok "daemon profile_dir: alerts still raised beside the profiles"
else
	not_ok "daemon profile_dir: alerts" "$("$CTXTRACE" alerts --socket "$tmp/d.sock" 2>&1 | tail -3)"
fi
kill -TERM "$dpid"
kill -KILL "$pid"

# Bad input.
bad() { # NAME WANT_RC ARGS...
	local name=$1 want=$2; shift 2
	"$CTXTRACE" "$@" >"$tmp/bad.out" 2>"$tmp/bad.err"
	local rc=$? lines
	lines=$(grep -c . "$tmp/bad.err")
	if [ $rc -eq "$want" ] && [ "$lines" -eq 1 ] && grep -q '^ctxtrace: ' "$tmp/bad.err"; then
		ok "bad input: $name: exit $rc, one line"
	else
		not_ok "bad input: $name" "exit $rc (want $want), $lines lines" "$(head -3 "$tmp/bad.err")"
	fi
}
bin=$(go_bin "$newest" plain snap_target)
start "$bin" "$tmp/out2"
bad "--format pprof without -o" 2 snapshot -p "$pid" --format pprof
bad "-o without --format pprof" 2 snapshot -p "$pid" -o "$tmp/x.pb.gz"
bad "unknown format" 2 snapshot -p "$pid" --format svg -o "$tmp/x.pb.gz"
"$CTXTRACE" snapshot -p "$pid" --format pprof -o "$tmp/no/such/dir/p.pb.gz" >/dev/null 2>"$tmp/bad.err"
rc=$?
if [ $rc -eq 1 ] && grep -q 'cannot write the profile' "$tmp/bad.err" && [ -z "$(ls "$tmp"/no 2>/dev/null)" ]; then
	ok "bad input: unwritable profile path: exit 1, says so"
else
	not_ok "unwritable profile path" "exit $rc" "$(cat "$tmp/bad.err")"
fi
done_testing
