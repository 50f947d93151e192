#!/usr/bin/env bash
# Attach and detach 100 times while the target grows stacks and churns contexts: the
# target must never crash, its own checks must pass, and no probe may stay behind.
set -u
source "$(dirname "$0")/../lib.sh"
ROUNDS=${STRESS_ROUNDS:-100}

ours_left() { # BPF programs of ours still loaded (they hold the uprobe links)
	bpftool prog list 2>/dev/null | grep -cE 'name ctxtrace_(multi|single)' || true
}

# Go 1.19 probes sit on the stack check's jbe (no push %rbp), where morestack re-runs
# the prologue; 1.21 is the first push %rbp layout. make check runs two configs,
# make eval (STRESS_CONFIGS=all) five.
all=$(go_versions)
newest=${all##*$'\n'}
configs=${STRESS_CONFIGS:-1.19/plain $newest/pie}
[ "$configs" = all ] && configs="1.19/plain 1.19/pie 1.21/pie $newest/plain $newest/pie"
for vm in $configs; do
	v=${vm%/*} m=${vm#*/}
	{
		bin=$(go_bin "$v" "$m" stress_attach)
		[ -x "$bin" ] || { not_ok "stress go$v $m: $bin not built"; continue; }
		out=$(mktemp)
		"$bin" > "$out" 2>&1 & pid=$!
		for _ in $(seq 50); do grep -q ready "$out" && break; sleep 0.1; done
		before=$(ours_left)
		fails=0 events=0 first_err=
		for i in $(seq "$ROUNDS"); do
			n=$("$CTXTRACE" watch -p "$pid" --events --json --duration 100ms 2>"$out.err" | grep -c '"ctx_create"')
			rc=${PIPESTATUS[0]}
			if [ "$rc" -ne 0 ]; then
				fails=$((fails + 1)); [ -z "$first_err" ] && first_err="round $i: rc=$rc $(head -2 "$out.err")"
			fi
			events=$((events + n))
			kill -0 "$pid" 2>/dev/null || break
		done
		alive=yes; kill -0 "$pid" 2>/dev/null || alive=no
		kill -TERM "$pid" 2>/dev/null; wait "$pid"; prc=$?
		errs=()
		[ $alive = yes ] || errs+=("the target died during the attach/detach rounds")
		[ $prc -eq 0 ] || errs+=("the target exited $prc: $(tail -3 "$out")")
		grep -q '"ok": true' "$out" || errs+=("the target's own checks: $(tail -1 "$out")")
		[ $fails -eq 0 ] || errs+=("$fails of $ROUNDS watches failed; $first_err")
		[ $events -gt 0 ] || errs+=("no ctx_create event seen in $ROUNDS rounds")
		# The kernel frees a detached program after an RCU grace period: allow it a moment.
		for _ in $(seq 50); do left=$(ours_left); [ "$left" -le "$before" ] && break; sleep 0.1; done
		[ "$left" -le "$before" ] || errs+=("$((left - before)) BPF programs of ours still loaded after the last detach")
		if [ ${#errs[@]} -eq 0 ]; then
			ok "stress go$v $m: $ROUNDS attach/detach rounds, $events contexts seen, target checks pass ($(tail -1 "$out"))"
		else
			not_ok "stress go$v $m" "${errs[@]}"
		fi
		rm -f "$out" "$out.err"
	}
done
done_testing
