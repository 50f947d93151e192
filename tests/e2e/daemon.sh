#!/usr/bin/env bash
# ctxtraced end to end, as the unit runs it: started with a config selecting a Go
# program by name before that program runs; two instances start and are attached
# (records on the socket and in the file, probes in the kernel); alerts; metrics;
# one instance killed and detached; SIGHUP applies a changed setting and refuses
# a bad config; SIGTERM exits 0 and leaves no probe. The truth is what the programs
# and the kernel say: pids from the shell and the programs' own output, BPF links
# from /proc/PID/fdinfo and bpftool.
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
CTXTRACED=${CTXTRACED:-$OUT/ctxtraced}

e2e_tmpdir daemon

[ "$(id -u)" -eq 0 ] || { skip "daemon: needs root (BPF)"; exit 0; }
latest=$(go_versions | tail -1)
prog=$(go_bin "$latest" plain daemon_target)
if [ ! -x "$CTXTRACED" ] || [ ! -x "$prog" ]; then
	not_ok "daemon: $CTXTRACED and $prog must be built (make all go-tests)"
	exit 1
fi

# records FILE JQ-FILTER: how many JSON lines of FILE pass the filter.
records() { jq -c "select($2)" "$1" 2>/dev/null | wc -l; }
has_records() { [ "$(records "$1" "$2")" -ge "${3:-1}" ]; }
# Our BPF links: the daemon's bpf_link fds, as the kernel lists them.
link_ids() { grep -h '^link_id:' /proc/"$1"/fdinfo/* 2>/dev/null | awk '{print $2}' | sort -n; }
kernel_links() { bpftool -j link list | jq '.[].id' | sort -n; }

# --- a bad config at start: one line naming file, line and setting; exit 1
printf '[output]\nsocket = %s/bad.sock\n[target t]\nexe = x\nmin_count = 0\n' "$tmp" > "$tmp/bad.conf"
"$CTXTRACED" --config "$tmp/bad.conf" >"$tmp/bad.out" 2>&1
rc=$?
want="$tmp/bad.conf:5: min_count: 0 is out of range 1..1000000"
if [ $rc -eq 1 ] && [ "$(wc -l <"$tmp/bad.out")" -eq 1 ] && grep -qF "$want" "$tmp/bad.out" && [ ! -e "$tmp/bad.sock" ]; then
	ok "daemon: bad config at start: exit 1, one line: $(cat "$tmp/bad.out")"
else
	not_ok "daemon: bad config at start" "exit $rc, want 1 and '$want'" "$(cat "$tmp/bad.out")"
fi
check "daemon: --check-config refuses the same file" bash -c "! '$CTXTRACED' --check-config --config '$tmp/bad.conf'"

# --- start, before the program runs (no overhead budget: links are counted below,
# and the budget's duty cycle detaches them part of the time; watch_budget tests it)
port=$((20000 + RANDOM % 20000))
write_conf() { # GRACE [EXTRA]
	cat >"$tmp/d.conf" <<-EOF
	[daemon]
	log = stderr
	poll_interval = 50ms
	[output]
	socket = $tmp/d.sock
	socket_group =
	json_file = $tmp/d.jsonl
	metrics_listen = 127.0.0.1:$port
	[target tgt]
	exe = daemon_target
	grace = $1
	min_count = 1
	max_overhead = 0
	$2
	EOF
}
for attempt in 1 2 3; do
	write_conf 1s ""
	"$CTXTRACED" --config "$tmp/d.conf" >"$tmp/daemon.log" 2>&1 &
	dpid=$!
	wait_for 10 test -S "$tmp/d.sock" && break
	kill "$dpid" 2>/dev/null; wait "$dpid" 2>/dev/null
	port=$((20000 + RANDOM % 20000)) # the port was taken, most likely
done
if ! wait_for 5 st; then
	not_ok "daemon: starts and answers on its socket" "$(tail -5 "$tmp/daemon.log")"
	exit 1
fi
ok "daemon: started (pid $dpid), socket answers"
if pgrep -x daemon_target >/dev/null; then
	# Someone else's instance would be attached too; the counts below would lie.
	skip "daemon: another daemon_target is running on this machine; not testing attach counts"
	exit 0
fi

# A subscriber for everything, from before the programs start.
"$CTXTRACE" alerts --follow --all --json --socket "$tmp/d.sock" >"$tmp/sub.jsonl" 2>"$tmp/sub.err" &
subpid=$!
wait_for 5 bash -c "[ \$('$CTXTRACE' status --json --socket '$tmp/d.sock' | jq .counters.subscribers) -ge 1 ]"

# --- two instances start after the daemon
"$prog" >"$tmp/t1.out" 2>&1 &
t1=$!
"$prog" >"$tmp/t2.out" 2>&1 &
t2=$!
wait_for 10 grep -q ready "$tmp/t1.out"
wait_for 10 grep -q ready "$tmp/t2.out"
self1=$(sed -n 's/^daemon_target pid \([0-9]*\) ready$/\1/p' "$tmp/t1.out")
self2=$(sed -n 's/^daemon_target pid \([0-9]*\) ready$/\1/p' "$tmp/t2.out")
if [ "$self1" != "$t1" ] || [ "$self2" != "$t2" ]; then
	not_ok "daemon: the programs report their pids" "$self1 $self2 vs $t1 $t2"
fi
attached() { [ "$(st | jq -c '[.targets[].pid] | sort')" = "$(printf '%s\n' "$t1" "$t2" | sort -n | jq -sc .)" ]; }
if wait_for 15 attached; then
	ok "daemon: both instances attached (pids $t1 $t2, as the shell and the programs say)"
else
	not_ok "daemon: both instances attached" "status: $(st | jq -c '.targets')" "$(tail -5 "$tmp/daemon.log")"
fi
for p in $t1 $t2; do
	sel=".type == \"target_attach\" and .pid == $p and .target == \"tgt\" and .via == \"exec\""
	if has_records "$tmp/d.jsonl" "$sel" && wait_for 5 has_records "$tmp/sub.jsonl" "$sel"; then
		ok "daemon: pid $p: attach record (via exec) in the file and on the socket"
	else
		not_ok "daemon: pid $p: attach record in the file and on the socket" "$(cat "$tmp/d.jsonl")" "sub: $(cat "$tmp/sub.jsonl")"
	fi
done
# Each target has its probes in the kernel: the daemon holds the exec tracepoint's
# link and at least one uprobe link per target.
links=$(link_ids "$dpid")
nlinks=$(echo "$links" | grep -c .)
klinks=$(kernel_links)
missing=$(comm -23 <(echo "$links") <(echo "$klinks"))
if [ "$nlinks" -ge 3 ] && [ -z "$missing" ]; then
	ok "daemon: $nlinks BPF links held, all listed by the kernel"
else
	not_ok "daemon: BPF links" "daemon holds: $links" "kernel: $klinks"
fi

# --- events flow: contexts counted for both
counted() { [ "$(st | jq '[.targets[] | select(.contexts_created > 0)] | length')" -eq 2 ]; }
if wait_for 10 counted; then
	ok "daemon: both targets count contexts ($(st | jq -c '[.targets[] | {pid, contexts_created, goroutines}]'))"
else
	not_ok "daemon: both targets count contexts" "$(st | jq -c .targets)"
fi

# --- metrics
metrics() { curl -sf "http://127.0.0.1:$port/metrics"; }
m=$(metrics)
if [ -n "$m" ] && echo "$m" | grep -qx 'ctxtrace_targets 2' &&
	echo "$m" | grep -q "^ctxtrace_target_info{target=\"tgt\",pid=\"$t1\"," &&
	echo "$m" | grep -q "^ctxtrace_target_info{target=\"tgt\",pid=\"$t2\"," &&
	echo "$m" | grep -q '^ctxtrace_attaches_total{target="tgt"} 2$' &&
	[ "$(echo "$m" | sed -n 's/^ctxtrace_contexts_created_total{target="tgt"} //p')" -gt 0 ]; then
	ok "daemon: metrics answer on 127.0.0.1:$port: 2 targets, their pids, contexts counted"
else
	not_ok "daemon: metrics" "$(echo "$m" | grep -v '^#' | head -20)"
fi
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/nope")
[ "$code" = 404 ] && ok "daemon: metrics: unknown path is 404" || not_ok "daemon: metrics: unknown path" "HTTP $code"

# --- alerts, whatever rule the session raises
if ! grep -q 'on_alert' src/session/session.c 2>/dev/null; then
	skip "daemon: alerts: the session does not run the rules yet (no on_alert in src/session/session.c)"
elif wait_for 20 has_records "$tmp/d.jsonl" '.type == "alert"'; then
	a=$(jq -c 'select(.type == "alert")' "$tmp/d.jsonl" | head -1)
	rule=$(echo "$a" | jq -r .rule)
	if echo "$a" | jq -e ".target == \"tgt\"" >/dev/null &&
		wait_for 5 has_records "$tmp/sub.jsonl" ".type == \"alert\" and .rule == \"$rule\"" &&
		metrics | grep -q "^ctxtrace_alerts_total{target=\"tgt\",rule=\"$rule\"} [1-9]"; then
		ok "daemon: alert ($rule) in the file, on the socket and in the metrics"
	else
		not_ok "daemon: alert in the file, on the socket and in the metrics" "$a" "$(metrics | grep alerts_total)"
	fi
	if "$CTXTRACE" alerts --socket "$tmp/d.sock" | grep -q .; then
		ok "daemon: ctxtrace alerts shows the recent alerts"
	else
		not_ok "daemon: ctxtrace alerts shows the recent alerts"
	fi
else
	not_ok "daemon: an alert within 20s" "$(tail -5 "$tmp/daemon.log")"
fi

# --- one instance stops: detached
before_kill=$(kernel_links)
kill -TERM "$t1"
wait "$t1" 2>/dev/null
sel=".type == \"target_detach\" and .pid == $t1 and .reason == \"exited\""
if wait_for 5 has_records "$tmp/d.jsonl" "$sel" && wait_for 5 has_records "$tmp/sub.jsonl" "$sel" &&
	[ "$(st | jq -c '[.targets[].pid]')" = "[$t2]" ]; then
	ok "daemon: pid $t1 exited: detached (file, socket, status)"
else
	not_ok "daemon: pid $t1 exited: detached" "$(st | jq -c .targets)" "$(tail -3 "$tmp/d.jsonl")"
fi
gone=$(comm -23 <(echo "$before_kill") <(kernel_links) | grep -c .)
[ "$gone" -ge 1 ] && ok "daemon: pid $t1's $gone BPF link(s) are gone" || not_ok "daemon: pid $t1's BPF links are gone"

# --- SIGHUP with a changed setting
write_conf 3s ""
kill -HUP "$dpid"
applied() { [ "$(st | jq -r '.selectors[0].rules.grace + " " + (.targets[0].rules.grace // "-")')" = "3s 3s" ]; }
if wait_for 10 applied && [ "$(st | jq -c '[.targets[].pid]')" = "[$t2]" ] &&
	has_records "$tmp/d.jsonl" '.type == "daemon" and .event == "reloaded"'; then
	ok "daemon: SIGHUP applied grace = 3s (target $t2 still traced)"
else
	not_ok "daemon: SIGHUP applied grace = 3s" "$(st | jq -c '{selectors, targets}')"
fi

# --- SIGHUP with a bad config: refused, the old one stays
write_conf 7s "min_count = 0"
kill -HUP "$dpid"
sel='.type == "daemon" and (.event | startswith("reload refused")) and (.message | contains("d.conf:14: min_count: 0 is out of range 1..1000000"))'
if wait_for 10 has_records "$tmp/d.jsonl" "$sel" && [ "$(st | jq -r '.selectors[0].rules.grace')" = 3s ] &&
	[ "$(st | jq -c '[.targets[].pid]')" = "[$t2]" ] && [ "$(st | jq .counters.reloads_refused)" = 1 ]; then
	ok "daemon: SIGHUP with a bad config refused ($(jq -r "select($sel) | .message" "$tmp/d.jsonl")); grace stays 3s"
else
	not_ok "daemon: SIGHUP with a bad config refused" "$(tail -3 "$tmp/d.jsonl")" "$(st | jq -c .selectors)"
fi

# --- graph PID: the target's live graph, from the daemon's session
ask() { # REQUEST: one raw request on the socket, the reply
	python3 -c 'import socket,sys
s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall((sys.argv[2]+"\n").encode())
print(s.makefile().read(), end="")' "$tmp/d.sock" "$1"
}
if command -v python3 >/dev/null; then
	g=$(ask "graph $t2")
	tree=$(ask "graph $t2 text")
	n=$(ask "graph 1")
	if echo "$g" | jq -e --argjson pid "$t2" '.type == "graph" and .pid == $pid and
			(.contexts | length) > 0 and .stats.goroutines_alive > 0' >/dev/null &&
		[ "$(echo "$g" | wc -l)" -eq 1 ] && [ -n "$tree" ] && ! echo "$tree" | grep -q '^{' &&
		echo "$n" | jq -e '.type == "error" and (.message | contains("pid 1 is not traced"))' >/dev/null; then
		ok "daemon: graph $t2: one JSON line ($(echo "$g" | jq -c '{contexts: (.contexts | length), stats: {contexts_live: .stats.contexts_live, goroutines_alive: .stats.goroutines_alive}}')), a tree as text; pid 1 refused"
	else
		not_ok "daemon: graph requests" "$(echo "$g" | head -c 300)" "$(echo "$tree" | head -3)" "$n"
	fi
	cg=$("$CTXTRACE" graph -p "$t2" --daemon --format json --socket "$tmp/d.sock")
	if echo "$cg" | jq -e --argjson pid "$t2" '.pid == $pid and (.contexts | length) > 0' >/dev/null &&
		"$CTXTRACE" graph -p "$t2" --daemon --socket "$tmp/d.sock" | grep -q . &&
		! "$CTXTRACE" graph -p 1 --daemon --socket "$tmp/d.sock" 2>/dev/null; then
		ok "daemon: ctxtrace graph --daemon: json and tree of pid $t2; an untraced pid fails"
	else
		not_ok "daemon: ctxtrace graph --daemon" "$(echo "$cg" | head -c 300)"
	fi
	if metrics | grep -qE "^ctxtrace_probe_hits_total\{target=\"tgt\",pid=\"$t2\"\} [1-9]"; then
		ok "daemon: metrics: probe hits of pid $t2"
	else
		not_ok "daemon: metrics: ctxtrace_probe_hits_total" "$(metrics | grep probe_hits)"
	fi
	if metrics | grep -q "^ctxtrace_contexts{target=\"tgt\",pid=\"$t2\",state=\"live\"} [0-9]"; then
		ok "daemon: metrics: the graph's live contexts of pid $t2"
	else
		not_ok "daemon: metrics: ctxtrace_contexts" "$(metrics | grep ctxtrace_contexts)"
	fi
fi

# --- SIGTERM: exit 0, no probe left, the target unharmed
held=$(link_ids "$dpid")
kill -TERM "$dpid"
for _ in $(seq 100); do kill -0 "$dpid" 2>/dev/null || break; sleep 0.1; done
wait "$dpid"
rc=$?
left=$(comm -12 <(echo "$held") <(kernel_links))
if [ $rc -eq 0 ] && [ -z "$left" ] && [ ! -e "$tmp/d.sock" ]; then
	ok "daemon: SIGTERM: exit 0, none of its $(echo "$held" | grep -c .) BPF links left, socket removed"
else
	not_ok "daemon: SIGTERM" "exit $rc" "links left: $left" "$(tail -5 "$tmp/daemon.log")"
fi
if has_records "$tmp/d.jsonl" ".type == \"target_detach\" and .pid == $t2 and .reason == \"shutdown\""; then
	ok "daemon: pid $t2 detached at shutdown"
else
	not_ok "daemon: pid $t2 detached at shutdown" "$(tail -3 "$tmp/d.jsonl")"
fi
wait "$subpid" 2>/dev/null
[ $? -eq 0 ] && ok "daemon: the subscriber saw the stream end" || not_ok "daemon: the subscriber saw the stream end" "$(cat "$tmp/sub.err")"
# The program lived on untouched and stops normally.
if kill -0 "$t2" 2>/dev/null; then
	kill -TERM "$t2"
	wait "$t2"
	rc=$?
	if [ $rc -eq 0 ] && grep -q "pid $t2 stopping" "$tmp/t2.out"; then
		ok "daemon: pid $t2 ran on after the daemon left and stopped normally"
	else
		not_ok "daemon: pid $t2 stopped normally" "exit $rc" "$(tail -3 "$tmp/t2.out")"
	fi
else
	not_ok "daemon: pid $t2 survived the daemon"
fi
done_testing
