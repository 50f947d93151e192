#!/usr/bin/env bash
# ctxtraced as the unit runs it: user nobody, no new privileges, and only the
# capabilities packaging/ctxtraced.service grants (read from the unit). It attaches
# to a root-owned Go program started after it; and each of those capabilities is
# needed: without it, the daemon cannot start or cannot attach, and says why.
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
CTXTRACED=${CTXTRACED:-$OUT/ctxtraced}
unit=packaging/ctxtraced.service

e2e_tmpdir priv

[ "$(id -u)" -eq 0 ] || { skip "daemon_privileges: needs root (setpriv)"; exit 0; }
latest=$(go_versions | tail -1)
prog=$(go_bin "$latest" plain daemon_target)
if [ ! -x "$CTXTRACED" ] || [ ! -x "$prog" ]; then
	not_ok "daemon_privileges: $CTXTRACED and $prog must be built"
	exit 1
fi
if pgrep -x daemon_target >/dev/null; then
	skip "daemon_privileges: another daemon_target is running on this machine"
	exit 0
fi

ambient=$(sed -n 's/^AmbientCapabilities=//p' $unit)
bounding=$(sed -n 's/^CapabilityBoundingSet=//p' $unit)
if [ -n "$ambient" ] && [ "$(echo "$ambient" | tr ' ' '\n' | sort)" = "$(echo "$bounding" | tr ' ' '\n' | sort)" ]; then
	ok "daemon_privileges: the unit grants and bounds the same capabilities: $ambient"
else
	not_ok "daemon_privileges: AmbientCapabilities and CapabilityBoundingSet differ" "$ambient" "$bounding"
fi
grep -qx 'NoNewPrivileges=yes' $unit || not_ok "daemon_privileges: the unit sets NoNewPrivileges=yes"
# "CAP_BPF CAP_PERFMON" -> "bpf perfmon"
caps=$(echo "$ambient" | tr 'A-Z' 'a-z' | sed 's/cap_//g')

# A copy of the program only root may read: the case CAP_DAC_READ_SEARCH is for.
mkdir -p "$tmp/priv"
cp "$prog" "$tmp/priv/daemon_target"
chmod 0700 "$tmp/priv/daemon_target"
chown nobody:nogroup "$tmp"
chmod 0755 "$tmp"


# run CAPS PROGRAM: starts the daemon as nobody holding exactly CAPS, then PROGRAM;
# leaves dpid, tpid, $tmp/run/{log,d.jsonl}.
run() {
	local set="" c
	tpid=""
	for c in $1; do set+=",+$c"; done
	rm -rf "$tmp/run"
	mkdir -p "$tmp/run"
	chown nobody:nogroup "$tmp/run"
	printf '[daemon]\nlog = stderr\npoll_interval = 50ms\n[output]\nsocket = %s/run/d.sock\nsocket_group =\njson_file = %s/run/d.jsonl\n[target t]\nexe = daemon_target\n' \
		"$tmp" "$tmp" >"$tmp/run/d.conf"
	chmod 0644 "$tmp/run/d.conf"
	setpriv --reuid nobody --regid nogroup --clear-groups --no-new-privs \
		--inh-caps "-all$set" --ambient-caps "-all$set" --bounding-set "-all$set" \
		"$CTXTRACED" --config "$tmp/run/d.conf" >"$tmp/run/log" 2>&1 &
	dpid=$!
	wait_for 5 test -S "$tmp/run/d.sock" || return 1
	"$2" >"$tmp/run/t.out" 2>&1 &
	tpid=$!
	wait_for 5 grep -q ready "$tmp/run/t.out"
	return 0
}
stop() { # only while they are this shell's unwaited jobs
	local p
	for p in $tpid $dpid; do
		jobs -p | grep -qx "$p" && kill -TERM "$p" 2>/dev/null
	done
	wait 2>/dev/null
	tpid="" dpid=""
}
attached() { jq -e "select(.type == \"target_attach\" and .pid == $tpid)" "$tmp/run/d.jsonl" >/dev/null 2>&1; }
# The daemon's credentials as the kernel has them.
status_field() { awk -v k="$2:" '$1 == k {print $2}' /proc/"$1"/status; }

# --- with the unit's capabilities: attached, events flow, nothing else held
if run "$caps" "$tmp/priv/daemon_target" && wait_for 10 attached; then
	uid=$(status_field "$dpid" Uid)
	eff=$(status_field "$dpid" CapEff)
	bnd=$(status_field "$dpid" CapBnd)
	have=$(capsh --decode="$eff" | sed 's/.*=//' | tr ',' '\n' | sort | tr '\n' ' ')
	want=$(echo "$ambient" | tr 'A-Z' 'a-z' | tr ' ' '\n' | sort | tr '\n' ' ')
	if [ "$uid" = "$(id -u nobody)" ] && [ "$have" = "$want" ] && [ "$eff" = "$bnd" ] &&
		[ "$(status_field "$dpid" NoNewPrivs)" = 1 ]; then
		ok "daemon_privileges: as nobody with only $have(CapEff $eff) it attached to root's pid $tpid"
	else
		not_ok "daemon_privileges: credentials" "uid $uid, have '$have', want '$want', bounding $bnd"
	fi
	counted() { "$CTXTRACE" status --json --socket "$tmp/run/d.sock" | jq -e '.targets[0].contexts_created > 0'; }
	if wait_for 10 counted; then
		ok "daemon_privileges: its probes see the target's contexts"
	else
		not_ok "daemon_privileges: its probes see the target's contexts" "$(tail -5 "$tmp/run/log")"
	fi
	held=$(grep -h '^link_id:' /proc/"$dpid"/fdinfo/* 2>/dev/null | awk '{print $2}' | sort -n)
	stop
	left=$(comm -12 <(echo "$held") <(bpftool -j link list | jq '.[].id' | sort -n))
	[ -z "$left" ] && ok "daemon_privileges: SIGTERM left none of its links" || not_ok "daemon_privileges: links left: $left"
else
	not_ok "daemon_privileges: as nobody with $caps it attaches" "$(cat "$tmp/run/log")" "$(cat "$tmp/run/d.jsonl" 2>/dev/null)"
	stop
fi

# --- each capability is needed
for drop in $caps; do
	rest=$(echo " $caps " | sed "s/ $drop / /")
	case $drop in
	bpf | perfmon)
		run "$rest" "$prog"
		wait "$dpid"
		rc=$?
		if [ $rc -eq 1 ] && grep -q "needs CAP_BPF and CAP_PERFMON" "$tmp/run/log"; then
			ok "daemon_privileges: without $drop: exit 1, '$(head -1 "$tmp/run/log")'"
		else
			not_ok "daemon_privileges: without $drop" "exit $rc" "$(cat "$tmp/run/log")"
		fi
		stop
		;;
	sys_ptrace)
		run "$rest" "$prog"
		sleep 2
		if ! attached && grep -q "cannot read the executable of pid .*needs CAP_SYS_PTRACE" "$tmp/run/log"; then
			ok "daemon_privileges: without sys_ptrace: root's program is not seen, and the log says why"
		else
			not_ok "daemon_privileges: without sys_ptrace" "$(cat "$tmp/run/log")"
		fi
		stop
		;;
	dac_read_search)
		run "$rest" "$tmp/priv/daemon_target"
		if wait_for 10 grep -q '"type":"target_attach_failed"' "$tmp/run/d.jsonl" && ! attached &&
			grep -q 'Permission denied (another user.s file needs CAP_DAC_READ_SEARCH)' "$tmp/run/d.jsonl"; then
			ok "daemon_privileges: without dac_read_search: a program only root may read cannot be attached, and the record says why"
		else
			not_ok "daemon_privileges: without dac_read_search" "$(cat "$tmp/run/log")"
		fi
		stop
		;;
	*)
		not_ok "daemon_privileges: no check for capability $drop (add one)"
		;;
	esac
done
done_testing
