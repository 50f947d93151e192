#!/usr/bin/env bash
# ctxtraced's OTLP/HTTP log export, against a local receiver that decodes what it
# gets with Debian's python3-opentelemetry-proto (tests/tools/otlp_receiver.py),
# not with ctxtrace's encoder:
#  1. Every alert the daemon wrote to its JSON file arrives as a log record whose
#     every field matches it: body = message, severity text and number, time,
#     attributes rule, id, count, first, source, target, process.pid (the pid the
#     shell started), process.executable.path, ctxtrace.sites (context, go and
#     blocking sites); resource service.name and host.name; scope ctxtrace.
#     The daemon's metrics arrive as OTLP metrics (OTLP/JSON, parsed by protobuf's
#     own JSON mapping): every /metrics family, counters as cumulative monotonic
#     sums, gauges as gauges, with the same label names.
#  2. A receiver answering 500 to its first requests: the batch is retried and
#     arrives; the retries and failed requests are counted in /metrics.
#  3. A receiver answering 429 always, queue of 2, 1 retry: the daemon keeps
#     tracing (alerts keep reaching its JSON file, its socket answers at once), the
#     dropped records are counted (failed, queue_full), the queue gauge stays <= 3
#     (2 queued and the batch of 1 in flight),
#     the daemon's memory does not grow with the drops.
#  4. A slow receiver (answers after 3 s, timeout 1 s) and one that is down: the
#     socket answers within 0.5 s meanwhile; SIGTERM ends the daemon within the
#     request timeout plus a margin.
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
CTXTRACED=${CTXTRACED:-$OUT/ctxtraced}
PY=/usr/bin/python3

e2e_tmpdir otlp

[ "$(id -u)" -eq 0 ] || { skip "otlp: needs root (BPF)"; exit 0; }
if ! $PY -c 'from opentelemetry.proto.collector.logs.v1 import logs_service_pb2' 2>/dev/null; then
	not_ok "otlp: python3-opentelemetry-proto is installed (make deps)"
	exit 1
fi
latest=$(go_versions | tail -1)
GO_VERSIONS=$latest GO_MODES=plain GO_PROGRAMS=daemon_target scripts/build-go-tests.sh "$GOBIN_DIR" >"$tmp/build.log" 2>&1 ||
	{ not_ok "otlp: daemon_target builds" "$(tail -5 "$tmp/build.log")"; exit 1; }
# A name of our own: other tests' daemon_target instances must not be selected.
prog=$tmp/otlp_target_$$
cp "$(go_bin "$latest" plain daemon_target)" "$prog"

metric() { # NAME [LABEL-MATCH]: the value from /metrics
	curl -s "http://127.0.0.1:$mport/metrics" | grep -F "$1${2:+{$2\}} " | grep -v '^#' | awk '{print $2}'
}
nrecs() { [ -f "$1" ] && wc -l <"$1" || echo 0; }

receiver() { # NAME ARGS...: starts a receiver, sets $rport
	local name=$1; shift
	rm -f "$tmp/$name.port"
	$PY tests/tools/otlp_receiver.py "$tmp/$name.port" "$tmp/$name.jsonl" "$@" 2>"$tmp/$name.err" &
	wait_for 10 test -s "$tmp/$name.port" || { not_ok "otlp: receiver $name starts" "$(cat "$tmp/$name.err")"; exit 1; }
	rport=$(cat "$tmp/$name.port")
}

daemon() { # ENDPOINT EXTRA-OUTPUT-SETTINGS
	mport=$((20000 + RANDOM % 20000))
	rm -f "$tmp/d.jsonl" "$tmp/d.sock"
	cat >"$tmp/d.conf" <<-EOF
	[daemon]
	log = stderr
	poll_interval = 50ms
	[output]
	socket = $tmp/d.sock
	socket_group =
	json_file = $tmp/d.jsonl
	metrics_listen = 127.0.0.1:$mport
	otlp_endpoint = $1
	otlp_flush = 200ms
	otlp_timeout = 1s
	otlp_metrics_interval = ${METRICS:-0}
	$2
	[target otlp]
	exe = otlp_target_*
	grace = 1s
	min_count = 1
	EOF
	"$CTXTRACED" --config "$tmp/d.conf" >"$tmp/daemon.log" 2>&1 &
	dpid=$!
	wait_for 10 st || { not_ok "otlp: daemon starts" "$(tail -5 "$tmp/daemon.log")"; exit 1; }
}

stop_all() { # kills the target, stops the daemon; sets $stop_ms
	kill -KILL "$tpid" 2>/dev/null
	wait "$tpid" 2>/dev/null
	local t0 t1
	t0=$(date +%s%N)
	kill -TERM "$dpid"
	wait "$dpid" 2>/dev/null
	t1=$(date +%s%N)
	stop_ms=$(((t1 - t0) / 1000000))
}

alerts_in_file() { jq -c 'select(.type == "alert")' "$tmp/d.jsonl" 2>/dev/null | wc -l; }

# --- 1. every field
receiver ok
METRICS=1s daemon "http://127.0.0.1:$rport/v1/logs" ""
"$prog" >"$tmp/t.out" 2>&1 &
tpid=$!
wait_for 30 bash -c "[ \$(jq -c 'select(.type == \"alert\")' '$tmp/d.jsonl' 2>/dev/null | wc -l) -ge 2 ]" ||
	not_ok "otlp: the daemon made alerts" "$(tail -5 "$tmp/daemon.log")"
sleep 1
kill -STOP "$tpid" # no new alerts while comparing
sleep 1.5
nfile=$(alerts_in_file)
wait_for 10 bash -c "[ \$(wc -l <'$tmp/ok.jsonl' 2>/dev/null || echo 0) -ge $nfile ]"
verdict=$($PY - "$tmp/d.jsonl" "$tmp/ok.jsonl" "$tpid" "$prog" "$(hostname)" <<'EOF'
import json, sys, calendar, datetime
alerts = [json.loads(l) for l in open(sys.argv[1]) if '"type":"alert"' in l]
recs = [json.loads(l) for l in open(sys.argv[2])]
pid, exe, host = int(sys.argv[3]), sys.argv[4], sys.argv[5]
sevnum = {"info": 9, "warning": 13, "error": 17}
def base(p): return p.split("/")[-1]
def site(role, f):
    return "%s %s:%d %s" % (role, base(f["file"]), f["line"], f["func"]) if f else None
probs = []
if len(recs) != len(alerts):
    probs.append("%d records for %d alerts" % (len(recs), len(alerts)))
byid = {}
for r in recs:
    byid.setdefault((r["attributes"].get("ctxtrace.alert.id"), r["attributes"].get("ctxtrace.alert.count")), []).append(r)
for a in alerts:
    m = byid.get((a["id"], a["count"]))
    if not m:
        probs.append("alert %s x%d: no record" % (a["id"], a["count"])); continue
    r = m[0]
    t = a["time"]
    sec = calendar.timegm(datetime.datetime.strptime(t[:19], "%Y-%m-%dT%H:%M:%S").timetuple())
    ms = int(t[20:23]) if len(t) > 20 else 0
    want_sites = [s for s in [site("context", (a.get("context") or {}).get("created_at")),
                              site("go", (a.get("goroutine") or {}).get("go_site"))]
                  + [site("block", b.get("site")) for b in a.get("blocking") or []] if s]
    checks = {
        "body": (r["body"], a["message"]),
        "severity_text": (r["severity_text"], a["severity"]),
        "severity_number": (r["severity_number"], sevnum[a["severity"]]),
        "time (ms)": (r["time_unix_nano"] // 1000000, sec * 1000 + ms),
        "event_name": (r["event_name"], "ctxtrace.alert"),
        "rule": (r["attributes"].get("ctxtrace.rule"), a["rule"]),
        "first": (r["attributes"].get("ctxtrace.alert.first"), a["first"]),
        "source": (r["attributes"].get("ctxtrace.alert.source"), a.get("source", "probes")),
        "target": (r["attributes"].get("ctxtrace.target"), a.get("target")),
        "process.pid": (r["attributes"].get("process.pid"), pid),
        "process.pid in the alert": (a["pid"], pid),
        "process.executable.path": (r["attributes"].get("process.executable.path"), exe),
        "sites": (r["attributes"].get("ctxtrace.sites"), want_sites),
        "service.name": (r["resource"].get("service.name"), "ctxtraced"),
        "host.name": (r["resource"].get("host.name"), host),
        "scope": (r["scope"]["name"], "ctxtrace"),
    }
    for k, (got, want) in checks.items():
        if got != want:
            probs.append("alert %s x%d: %s: got %r, want %r" % (a["id"], a["count"], k, got, want))
print("ok %d" % len(alerts) if not probs else "; ".join(probs[:6]))
EOF
)
case $verdict in
ok*) ok "otlp: every alert arrived as a log record with every field right (${verdict#ok } alerts)" ;;
*) not_ok "otlp: records match the alerts" "$verdict" ;;
esac
reqs=$(jq -r 'select(.path == "/v1/logs") | "\(.path) \(.content_type)"' "$tmp/ok.jsonl.requests" | sort -u)
[ "$reqs" = "/v1/logs application/x-protobuf" ] && ok "otlp: POST /v1/logs, application/x-protobuf" ||
	not_ok "otlp: requests" "$reqs"
acc=$(metric ctxtrace_otlp_log_records_total 'result="accepted"')
[ "$acc" = "$(nrecs "$tmp/ok.jsonl")" ] && ok "otlp: /metrics counts $acc accepted" ||
	not_ok "otlp: accepted metric" "metric '$acc', receiver $(nrecs "$tmp/ok.jsonl")"
# The daemon's metrics as OTLP metrics (OTLP/JSON, parsed strictly by protobuf's
# JSON mapping in the receiver): every family of /metrics, as a cumulative monotonic
# sum for a counter and a gauge otherwise, with the same label names.
curl -s "http://127.0.0.1:$mport/metrics" >"$tmp/prom.txt"
wait_for 10 test -s "$tmp/ok.jsonl.metrics"
sleep 1.2
verdict=$($PY - "$tmp/prom.txt" "$tmp/ok.jsonl.metrics" "$tmp/ok.jsonl.requests" <<'EOF'
import json, re, sys
prom = open(sys.argv[1]).read()
ms = [json.loads(l) for l in open(sys.argv[2])]
reqs = [json.loads(l) for l in open(sys.argv[3]) if '"/v1/metrics"' in l]
last = max(m["request"] for m in ms)
got = {m["name"]: m for m in ms if m["request"] == last}
types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", prom, re.M))
labels = {}
for name, lab in re.findall(r"^([a-z_]+)(?:\{(.*)\})? \S+$", prom, re.M):
    labels.setdefault(name, set()).add(tuple(sorted(k for k, _ in re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', lab or ""))))
probs = []
if not reqs or any(r["content_type"] != "application/json" for r in reqs):
    probs.append("metrics requests not application/json to /v1/metrics")
for name, t in types.items():
    m = got.get(name)
    if not m:
        probs.append("%s missing" % name); continue
    want = "sum" if t == "counter" else "gauge"
    if m["type"] != want or (want == "sum" and (m["monotonic"] is not True or m["temporality"] != 2)):
        probs.append("%s: %s monotonic %s temporality %s, want %s" % (name, m["type"], m["monotonic"], m["temporality"], want))
    names = {tuple(sorted(p["attributes"])) for p in m["points"]}
    if name in labels and names != labels[name]:
        probs.append("%s: label names %s vs %s" % (name, sorted(names), sorted(labels[name])))
    if m["resource"].get("service.name") != "ctxtraced" or m["scope"] != "ctxtrace":
        probs.append("%s: resource/scope" % name)
extra = set(got) - set(types)
if extra:
    probs.append("not in /metrics: %s" % sorted(extra))
print("ok %d" % len(types) if not probs else "; ".join(probs[:5]))
EOF
)
case $verdict in
ok*) ok "otlp: metrics: every /metrics family (${verdict#ok }) as OTLP sum or gauge with the same labels, OTLP/JSON to /v1/metrics" ;;
*) not_ok "otlp: metrics" "$verdict" ;;
esac
kill -CONT "$tpid"
stop_all

# --- 2. 500 first, then accepted
receiver fail --fail 2 --status 500
daemon "http://127.0.0.1:$rport/v1/logs" ""
"$prog" >"$tmp/t.out" 2>&1 &
tpid=$!
if wait_for 30 bash -c "[ \$(wc -l <'$tmp/fail.jsonl' 2>/dev/null || echo 0) -ge 1 ]"; then
	retries=$(metric ctxtrace_otlp_retries_total)
	failed=$(metric ctxtrace_otlp_requests_total 'result="failed"')
	n500=$(jq -s '[.[] | select(.status == 500)] | length' "$tmp/fail.jsonl.requests")
	[ "${retries:-0}" -ge 2 ] && [ "$failed" = "$n500" ] && ok "otlp: 500 twice: retried ($retries retries, $failed failed requests counted), then accepted" ||
		not_ok "otlp: retry after 500" "retries $retries, failed $failed, receiver saw $n500 500s"
else
	not_ok "otlp: records arrive after 500s" "$(tail -3 "$tmp/daemon.log")" "$(cat "$tmp/fail.jsonl.requests" 2>/dev/null)"
fi
stop_all

# --- 3. 429 always, tiny queue
receiver busy --fail -1 --status 429
daemon "http://127.0.0.1:$rport/v1/logs" "otlp_queue = 2
otlp_retries = 1
otlp_batch = 1"
"$prog" >"$tmp/t.out" 2>&1 &
tpid=$!
wait_for 20 bash -c "[ \$(jq -c 'select(.type == \"alert\")' '$tmp/d.jsonl' 2>/dev/null | wc -l) -ge 2 ]"
rss0=$(awk '/VmRSS/ {print $2}' /proc/$dpid/status)
maxq=0 slow=0
for _ in $(seq 20); do
	q=$(metric ctxtrace_otlp_queue_length)
	[ "${q:-0}" -gt "$maxq" ] && maxq=$q
	t0=$(date +%s%N); st >/dev/null; t1=$(date +%s%N)
	[ $(((t1 - t0) / 1000000)) -gt 500 ] && slow=$((slow + 1))
	sleep 0.3
done
rss1=$(awk '/VmRSS/ {print $2}' /proc/$dpid/status)
n1=$(alerts_in_file)
failed=$(metric ctxtrace_otlp_log_records_total 'result="failed"')
full=$(metric ctxtrace_otlp_log_records_total 'result="queue_full"')
acc=$(metric ctxtrace_otlp_log_records_total 'result="accepted"')
if [ "$maxq" -le 3 ] && [ "${failed:-0}" -ge 1 ] && [ "${acc:-1}" = 0 ] && [ $slow -eq 0 ] && [ "$n1" -ge 2 ] &&
	[ $((rss1 - rss0)) -lt 16384 ]; then
	ok "otlp: 429 always: $failed dropped after retries, $full dropped on a full queue, queue <= $maxq, socket fast, RSS +$((rss1 - rss0)) KiB"
else
	not_ok "otlp: 429 always" "queue max $maxq, failed $failed, full $full, accepted $acc, slow answers $slow, alerts $n1, RSS $rss0 -> $rss1 KiB"
fi
stop_all

# --- 4. slow, then down
receiver slow --slow 3
daemon "http://127.0.0.1:$rport/v1/logs" "otlp_retries = 0"
"$prog" >"$tmp/t.out" 2>&1 &
tpid=$!
wait_for 20 bash -c "[ \$(jq -c 'select(.type == \"alert\")' '$tmp/d.jsonl' 2>/dev/null | wc -l) -ge 1 ]"
slow=0
for _ in $(seq 10); do
	t0=$(date +%s%N); st >/dev/null; t1=$(date +%s%N)
	[ $(((t1 - t0) / 1000000)) -gt 500 ] && slow=$((slow + 1))
	sleep 0.3
done
failed=$(metric ctxtrace_otlp_requests_total 'result="failed"')
stop_all
[ $slow -eq 0 ] && [ "${failed:-0}" -ge 1 ] && [ $stop_ms -lt 4000 ] &&
	ok "otlp: slow receiver: requests time out ($failed), the socket stays fast, SIGTERM exits in ${stop_ms} ms" ||
	not_ok "otlp: slow receiver" "slow socket answers $slow, failed requests $failed, stop took $stop_ms ms"

# down: a port nobody listens on
daemon "http://127.0.0.1:1/v1/logs" ""
"$prog" >"$tmp/t.out" 2>&1 &
tpid=$!
wait_for 20 bash -c "[ \$(jq -c 'select(.type == \"alert\")' '$tmp/d.jsonl' 2>/dev/null | wc -l) -ge 1 ]"
wait_for 10 bash -c "[ \"\$(curl -s http://127.0.0.1:$mport/metrics | grep '^ctxtrace_otlp_retries_total ' | awk '{print \$2}')\" -ge 1 ]"
retries=$(metric ctxtrace_otlp_retries_total)
stop_all
[ "${retries:-0}" -ge 1 ] && [ $stop_ms -lt 4000 ] && grep -q '"type":"alert"' "$tmp/d.jsonl" &&
	ok "otlp: receiver down: alerts still in the file, $retries retries, SIGTERM exits in ${stop_ms} ms" ||
	not_ok "otlp: receiver down" "retries $retries, stop $stop_ms ms" "$(tail -3 "$tmp/daemon.log")"

# --- config errors: one line naming the setting
printf '[output]\nsocket =\notlp_endpoint = ftp://x\n' >"$tmp/bad.conf"
"$CTXTRACED" --check-config --config "$tmp/bad.conf" >"$tmp/bad.out" 2>&1
rc=$?
grep -q "bad.conf:3: otlp_endpoint: 'ftp://x' is not an http:// or https:// URL\|bad.conf:3: otlp_endpoint:.*http" "$tmp/bad.out" && [ $rc -ne 0 ] &&
	ok "otlp: a bad otlp_endpoint is refused: $(head -1 "$tmp/bad.out")" ||
	not_ok "otlp: bad otlp_endpoint" "exit $rc: $(cat "$tmp/bad.out")"
done_testing
