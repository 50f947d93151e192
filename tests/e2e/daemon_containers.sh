#!/usr/bin/env bash
# ctxtraced and containers: a Go program started in its own PID and mount
# namespaces (unshare) inside a cgroup made for the test, laid out as containerd
# lays out a Kubernetes pod's container (kubepods-besteffort-pod<UID>.slice/
# cri-containerd-<ID>.scope), is found by the daemon's `container =` selector,
# attached, and every record about it carries the right fields. The truths: the
# pid the program prints about itself (its own namespace's view: 1), the pid the
# shell sees (the host's), the cgroup path, container id and pod UID the test made.
# Also: the `cgroup =` selector picks the same process; a selector that matches no
# container attaches nothing.
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
CTXTRACED=${CTXTRACED:-$OUT/ctxtraced}

e2e_tmpdir cont
cgroot=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
slice=ctxtrace-e2e-$$.slice
uid=7c1c6a8e-2d7b-4a4e-9b0e-$(printf '%012x' $$)
id=$(printf '%s' "ctxtrace-e2e-$$" | sha256sum | cut -c1-64)
cg=/$slice/kubepods-besteffort-pod${uid//-/_}.slice/cri-containerd-$id.scope
cleanup_extra() {
	[ -n "$cgroot" ] && for d in "$cgroot$cg" "$(dirname "$cgroot$cg")" "$cgroot/$slice"; do
		[ -d "$d" ] && { for p in $(cat "$d/cgroup.procs" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done; sleep 0.2; rmdir "$d" 2>/dev/null; }
	done
}

[ "$(id -u)" -eq 0 ] || { skip "containers: needs root"; exit 0; }
[ -n "$cgroot" ] || { skip "containers: no cgroup v2 hierarchy mounted"; exit 0; }
command -v unshare >/dev/null || { not_ok "containers: unshare (util-linux) is installed"; exit 1; }
latest=$(go_versions | tail -1)
GO_VERSIONS=$latest GO_MODES=plain GO_PROGRAMS=daemon_target scripts/build-go-tests.sh "$GOBIN_DIR" >"$tmp/build.log" 2>&1 ||
	{ not_ok "containers: daemon_target builds" "$(tail -5 "$tmp/build.log")"; exit 1; }
prog=$tmp/cont_target_$$
cp "$(go_bin "$latest" plain daemon_target)" "$prog"
mkdir -p "$cgroot$cg" || { not_ok "containers: cannot make the test cgroup $cgroot$cg"; exit 1; }


daemon() { # SELECTOR-LINE
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
	otlp_endpoint = http://127.0.0.1:$rport/v1/logs
	otlp_flush = 100ms
	[target pod]
	$1
	grace = 1s
	min_count = 1
	EOF
	"$CTXTRACED" --config "$tmp/d.conf" >"$tmp/daemon.log" 2>&1 &
	dpid=$!
	wait_for 10 st || { not_ok "containers: daemon starts" "$(tail -5 "$tmp/daemon.log")"; exit 1; }
}

start_in_container() { # sets $hostpid: the program, as this shell's namespace sees it
	sh -c "echo \$\$ > '$cgroot$cg/cgroup.procs' && exec unshare --pid --mount --fork --mount-proc '$prog'" >"$tmp/t.out" 2>&1 &
	upid=$!
	wait_for 10 grep -q ready "$tmp/t.out" || { not_ok "containers: the program starts" "$(cat "$tmp/t.out")"; return 1; }
	hostpid=$(cat /proc/$upid/task/*/children 2>/dev/null | awk '{print $1}')
	selfpid=$(sed -n 's/^daemon_target pid \([0-9]*\) ready$/\1/p' "$tmp/t.out")
}

stop_all() {
	kill -KILL "$upid" "$hostpid" 2>/dev/null
	wait "$upid" 2>/dev/null
	kill -TERM "$dpid"
	wait "$dpid" 2>/dev/null
}

# An OTLP receiver that decodes with python3-opentelemetry-proto.
/usr/bin/python3 tests/tools/otlp_receiver.py "$tmp/r.port" "$tmp/r.jsonl" 2>"$tmp/r.err" &
wait_for 10 test -s "$tmp/r.port" || { not_ok "containers: OTLP receiver starts" "$(cat "$tmp/r.err")"; exit 1; }
rport=$(cat "$tmp/r.port")

# --- container selector
daemon "container = ${id:0:12}"
start_in_container || exit 1
if [ -z "$hostpid" ] || [ "$hostpid" = "$selfpid" ] || [ "$(readlink /proc/$hostpid/ns/pid)" = "$(readlink /proc/self/ns/pid)" ]; then
	not_ok "containers: the program runs in its own pid namespace" "host pid '$hostpid', its own '$selfpid'"
fi
attached() { [ "$(st | jq -c '[.targets[].pid]')" = "[$hostpid]" ]; }
if wait_for 15 attached; then
	ok "containers: pid $hostpid (pid $selfpid in its namespace) attached by its container id"
else
	not_ok "containers: attached by container id" "status: $(st | jq -c .targets)" "$(tail -5 "$tmp/daemon.log")"
fi
wait_for 20 bash -c "jq -e 'select(.type == \"alert\")' '$tmp/d.jsonl' >/dev/null 2>&1"
fields='select(.pid == $hp) | [.ns_pid, .cgroup, .container_id, .container_runtime, .pod_uid] == [$sp, $cg, $id, "containerd", $uid]'
jqargs=(--argjson hp "$hostpid" --argjson sp "${selfpid:-0}" --arg cg "$cg" --arg id "$id" --arg uid "$uid")
for type in target_attach alert; do
	n=$(jq -c "select(.type == \"$type\")" "$tmp/d.jsonl" | wc -l)
	good=$(jq -c "${jqargs[@]}" "select(.type == \"$type\") | $fields" "$tmp/d.jsonl" | grep -c true)
	if [ "$n" -ge 1 ] && [ "$good" = "$n" ]; then
		ok "containers: $n $type record(s): host pid, ns_pid $selfpid, cgroup, container id, runtime, pod UID right"
	else
		not_ok "containers: $type records" "$good of $n right" "$(jq -c "select(.type == \"$type\") | {pid, ns_pid, cgroup, container_id, container_runtime, pod_uid}" "$tmp/d.jsonl" | head -3)"
	fi
done
info=$(curl -s "http://127.0.0.1:$mport/metrics" | grep '^ctxtrace_target_info{')
want="ctxtrace_target_info{target=\"pod\",pid=\"$hostpid\",exe=\"$prog\",ns_pid=\"$selfpid\",cgroup=\"$cg\",container_id=\"$id\",pod_uid=\"$uid\"} 1"
[ "$info" = "$want" ] && ok "containers: /metrics ctxtrace_target_info carries ns_pid, cgroup, container_id, pod_uid" ||
	not_ok "containers: target_info metric" "got:  $info" "want: $want"
wait_for 10 test -s "$tmp/r.jsonl"
otlp=$(jq -c --argjson hp "$hostpid" --argjson sp "${selfpid:-0}" --arg cg "$cg" --arg id "$id" --arg uid "$uid" \
	'.attributes | [."process.pid" == $hp, ."ctxtrace.ns_pid" == $sp, ."ctxtrace.cgroup" == $cg, ."container.id" == $id,
	 ."container.runtime" == "containerd", ."k8s.pod.uid" == $uid] | all' "$tmp/r.jsonl" | sort -u)
[ "$otlp" = true ] && ok "containers: OTLP log records carry process.pid, ctxtrace.ns_pid, ctxtrace.cgroup, container.id, container.runtime, k8s.pod.uid" ||
	not_ok "containers: OTLP attributes" "$otlp" "$(head -1 "$tmp/r.jsonl" | jq -c .attributes)"
stop_all

# --- cgroup selector
daemon "cgroup = /$slice/*"
start_in_container || exit 1
wait_for 15 attached && ok "containers: attached by a cgroup path glob" ||
	not_ok "containers: attached by cgroup glob" "status: $(st | jq -c .targets)"
stop_all

# --- a container id that is not this one: nothing attached
daemon "container = 0123456789ab"
start_in_container || exit 1
sleep 2
n=$(st | jq '.targets | length')
[ "$n" = 0 ] && ok "containers: another container's id selects nothing" ||
	not_ok "containers: wrong id" "$n targets attached"
stop_all
done_testing
