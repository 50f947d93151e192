#!/usr/bin/env bash
# Probe sites and the live tracer.
# Static, for every installed Go toolchain x plain/stripped/pie/cgo build of
# tests/go/inspect_target: every role is found; the function address equals
# `go tool nm`; the probed instruction is, per `go tool objdump`, the prologue's
# PUSHQ BP (Go 1.21+), the stack check's JBE right after CMPQ ...0x10(R14) (Go
# 1.19/1.20, which have no push), or the CALL runtime.runqput that follows CALL
# runtime.newproc1; it is never the first instruction; the bytes at the file
# offset are the bytes objdump shows; runtime.allgs found by disassembly equals
# `go tool nm` (stripped: the RIP-relative targets binutils objdump decodes).
# Live, for every toolchain (plain; pie for the oldest and newest): attached to
# tests/go/probe_bench, the records match what the program prints about itself
# (context addresses, goroutine ids), stacks reach the direct caller and symbolize
# (binutils addr2line, from DWARF); detaching restores every probed byte in the
# target and leaves no BPF object behind; attach errors read in the user's terms.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
plan_dump=$OUT/tools/plan_dump
trace_dump=$OUT/tools/trace_dump
work=$OUT/e2e-probe-plan
rm -rf "$work" && mkdir -p "$work"
N=20

for t in "$plan_dump" "$trace_dump"; do
	[ -x "$t" ] || { not_ok "$t built" "run make $t"; done_testing; exit; }
done
if ! GO_PROGRAMS="inspect_target probe_bench" scripts/build-go-tests.sh "$GOBIN_DIR" >"$work/build.log" 2>&1; then
	not_ok "test programs build" "$(tail -20 "$work/build.log")"
	done_testing; exit
fi

versions=$(go_versions)
oldest=$(echo $versions | cut -d' ' -f1)
latest=${versions##*$'\n'}
required="ctx_create ctx_cancel value done go_create go_exit"

# nm_addr FILE: "name addr" lines of text and data symbols, from go tool nm.
# objdump lines: "addr hexbytes INSN..." for the functions of interest.
static_check() { # VERSION MODE
	local v=$1 m=$2 minor=${1#1.} bin ref go pd dis nm
	bin=$(go_bin "$v" "$m" inspect_target)
	ref=$(go_bin "$v" plain inspect_target) # stripped builds: symbols from the plain twin
	[ "$m" = stripped ] || ref=$bin
	go=$(go_tool "$v")
	pd=$work/plan-$v-$m.txt
	if ! "$plan_dump" "$bin" >"$pd" 2>&1; then
		not_ok "go$v $m: plan builds" "$(cat "$pd")"
		return
	fi
	nm=$work/nm-$v-$m.txt
	"$go" tool nm "$ref" | awk '{print $3, $1}' >"$nm"
	dis=$work/objdump-$v-$m.txt
	"$go" tool objdump -s '^(context\.|runtime\.newproc\.func1$|runtime\.goexit1$|runtime\.forEachG$)' "$ref" |
		awk '/^TEXT/ {fn=$2; sub(/\(SB\)$/, "", fn); next}
		     {a=$2; sub(/^0x/, "", a); hex=$3; $1=$2=$3=""; sub(/^ +/, ""); print fn, a, hex, $0}' >"$dis"
	local role fn kind st faddr addr foff ioff insn note errs=() bad
	for role in $required; do
		IFS=$'\t' read -r _ _ fn kind st faddr addr foff ioff insn note < <(grep -P "^site\t$role\t" "$pd")
		if [ "$st" != ok ]; then
			errs+=("$role: status ${st:-missing} ($note)")
			continue
		fi
		# ctx_create: 1.21+ probe the method, older the function (go tool nm says which exists).
		if grep -q '^context.(\*cancelCtx).propagateCancel ' "$nm"; then
			[ "$fn" = 'context.(*cancelCtx).propagateCancel' ] || [ "$role" != ctx_create ] ||
				errs+=("ctx_create picked $fn while the method exists")
		elif [ "$role" = ctx_create ] && [ "$fn" != context.propagateCancel ]; then
			errs+=("ctx_create picked $fn")
		fi
		local want
		want=$(awk -v f="$fn" '$1 == f {print "0x" $2}' "$nm" | head -1)
		[ $((want)) -eq $((faddr)) ] || errs+=("$role: $fn at $faddr, go tool nm says ${want:-nothing}")
		[ $((addr)) -ne $((faddr)) ] || errs+=("$role: probe on the first instruction of $fn")
		local line prev hex text
		line=$(awk -v f="$fn" -v a="${addr#0x}" '$1 == f && $2 == a' "$dis")
		prev=$(awk -v f="$fn" -v a="${addr#0x}" '$1 == f && $2 == a {print p; exit} $1 == f {p=$0}' "$dis")
		if [ -z "$line" ]; then
			errs+=("$role: $addr is not an instruction boundary of $fn per go tool objdump")
			continue
		fi
		hex=$(echo "$line" | awk '{print $3}')
		text=$(echo "$line" | cut -d' ' -f4-)
		case $role:$text in
		go_create:'CALL runtime.runqput(SB)'*)
			# the previous CALL in the function is the one to newproc1
			bad=$(awk -v f="$fn" -v a="${addr#0x}" '$1 == f && $2 == a {print c; exit} $1 == f && $4 == "CALL" {c=$5}' "$dis")
			[ "$bad" = 'runtime.newproc1(SB)' ] || errs+=("go_create: the call before runqput is $bad") ;;
		go_create:*) errs+=("go_create: $addr is '$text', not CALL runtime.runqput") ;;
		*:'PUSHQ BP'*) ;;
		*:JBE*)
			[ "$minor" -le 20 ] || errs+=("$role: JBE site on go$v, which has push %rbp")
			[[ $prev == *CMPQ*'0x10(R14)'* ]] || errs+=("$role: JBE not after the stack check: $prev") ;;
		*) errs+=("$role: $addr is '$text', not PUSHQ BP") ;;
		esac
		local got
		got=$(xxd -p -s $((foff)) -l $((${#hex} / 2)) "$bin")
		[ "$got" = "$hex" ] || errs+=("$role: file offset $foff holds $got, objdump shows $hex at $addr")
	done
	# allgs by disassembly
	local allgs src code truth
	read -r _ allgs src < <(grep -P '^allgs\t' "$pd" | tr '\t' ' ')
	read -r _ code < <(grep -P '^allgs_code\t' "$pd" | tr '\t' ' ')
	if [ "$m" = stripped ]; then
		local feg
		feg=$(awk '$1 == "runtime.forEachG" {print "0x" $2}' "$nm")
		truth=$(objdump -d --start-address=$((feg)) --stop-address=$((feg + 0x80)) "$bin" |
			grep -o '# 0x[0-9a-f]*' | awk '{print $2}' | sort -u)
		[ "$src" = disassembly ] || errs+=("allgs: source $src on a stripped binary")
		grep -qx "$(printf '0x%x' $((allgs)))" <<<"$truth" && grep -qx "$(printf '0x%x' $((allgs + 8)))" <<<"$truth" ||
			errs+=("allgs: $allgs and +8 are not both loaded by forEachG per binutils objdump: $(echo $truth)")
	else
		truth=$(awk '$1 == "runtime.allgs" {print "0x" $2}' "$nm")
		[ $((allgs)) -eq $((truth)) ] && [ "$src" = symtab ] || errs+=("allgs: $allgs ($src), go tool nm says $truth")
		[ $((code)) -eq $((truth)) ] || errs+=("allgs by disassembly: $code, go tool nm says $truth")
	fi
	if [ ${#errs[@]} -eq 0 ]; then
		ok "go$v $m: probe sites match go tool nm/objdump"
	else
		not_ok "go$v $m: probe sites match go tool nm/objdump" "${errs[@]}"
	fi
}

for v in $versions; do
	for m in plain stripped pie cgo; do
		[ -x "$(go_bin "$v" "$m" inspect_target)" ] || { not_ok "go$v $m inspect_target built"; continue; }
		static_check "$v" "$m"
	done
done

# ---- live ----
# wait_exec PID BIN: until PID runs BIN (right after `BIN &`, PID may still be bash).
wait_exec() {
	local i want
	want=$(realpath "$2")
	for i in $(seq 200); do
		[ "$(readlink "/proc/$1/exe" 2>/dev/null)" = "$want" ] && return 0
		sleep 0.01
	done
	return 1
}

# live_check VERSION MODE: starts probe_bench smoke, attaches, releases it, compares.
live_check() {
	local v=$1 m=$2 bin d pp tp i
	bin=$(go_bin "$v" "$m" probe_bench)
	d=$work/live-$v-$m
	mkdir -p "$d"
	"$bin" smoke "$d/start" $N >"$d/prog.out" 2>&1 &
	pp=$!
	wait_exec $pp "$bin"
	"$trace_dump" $pp >"$d/trace.out" 2>"$d/trace.err" &
	tp=$!
	for i in $(seq 100); do grep -q '^attached' "$d/trace.out" && break; sleep 0.1; done
	touch "$d/start"
	wait $pp
	wait $tp
	local errs=()
	grep -q '^attached' "$d/trace.out" || { not_ok "go$v $m: tracer attaches" "$(cat "$d/trace.err")"; return; }
	# contexts: every address the program printed was created, once
	local a n
	for a in $(awk '/^(cancel|timer)_ctx/ {print $2}' "$d/prog.out"); do
		n=$(grep -c " ctx_create ctx=$a " "$d/trace.out")
		[ "$n" -eq 1 ] || errs+=("ctx $a: $n ctx_create records")
	done
	for a in $(awk '/^cancel_ctx/ {print $2}' "$d/prog.out"); do
		grep " ctx_cancel ctx=$a " "$d/trace.out" | grep -q 'already=0x0 ' || errs+=("ctx $a: no first cancel")
		grep " ctx_cancel ctx=$a " "$d/trace.out" | grep -qv 'already=0x0 ' || errs+=("ctx $a: no repeated cancel seen as already cancelled")
		n=$(grep -c " done ctx=$a " "$d/trace.out")
		[ "$n" -eq 1 ] || errs+=("ctx $a: $n Done records (2 calls, expected 1 after dedup)")
	done
	for a in $(awk '/^timer_ctx/ {print $2}' "$d/prog.out"); do
		# (*timerCtx).cancel is not probed: its embedded (*cancelCtx).cancel is.
		grep -q " ctx_cancel ctx=$a " "$d/trace.out" || errs+=("timer ctx $a: no cancel record")
	done
	n=$(grep -c ' value parent=' "$d/trace.out")
	[ "$n" -ge $N ] || errs+=("$n WithValue records, the program made $N")
	# goroutines: ids as the program printed them, parent = main's goroutine
	local main_goid
	main_goid=$(awk '/^main_goid/ {print $2}' "$d/prog.out")
	for a in $(awk '/^goroutine/ {print $2}' "$d/prog.out"); do
		grep -q "goid=$main_goid go_create new_goid=$a " "$d/trace.out" || errs+=("goroutine $a: no go_create from goroutine $main_goid")
		grep -q "goid=$a go_exit " "$d/trace.out" || errs+=("goroutine $a: no go_exit")
	done
	grep -q '^counters .* drops=0 read_errors=0 stack_errors=0 ' "$d/trace.out" ||
		errs+=("counters: $(grep '^counters' "$d/trace.out")")
	# symbols: the load bias is stack[0] minus the plan's link-time site address
	local site bias rec pcs
	site=$("$plan_dump" "$bin" | awk -F'\t' '$2 == "ctx_create" {print $7}')
	a=$(awk '/^cancel_ctx/ {print $2; exit}' "$d/prog.out")
	rec=$(grep " ctx_create ctx=$a " "$d/trace.out" | head -1)
	pcs=$(echo "$rec" | grep -o 'stack=[0-9a-fx,]*' | cut -d= -f2 | tr ',' ' ')
	set -- $pcs
	if [ $# -lt 3 ]; then
		errs+=("ctx_create stack too short: $rec")
	else
		bias=$(($1 - site))
		local syms gopc startpc
		syms=$(for p in "$@"; do printf '0x%x\n' $((p - bias)); done | addr2line -f -e "$bin" | awk 'NR % 2 == 1')
		[ "$(echo "$syms" | sed -n 1p)" = "$("$plan_dump" "$bin" | awk -F'\t' '$2 == "ctx_create" {print $3}')" ] ||
			errs+=("stack[0] is not the probed function: $(echo $syms)")
		# the direct caller is there (the kernel adds it at push %rbp, the BPF side at jbe)
		[[ $(echo "$syms" | sed -n 2p) == context.* ]] || errs+=("stack[1] is not the context package's caller: $(echo $syms)")
		echo "$syms" | grep -qx 'main.smoke' || errs+=("stack does not reach main.smoke: $(echo $syms)")
		# the whole frame-pointer chain, down to the main goroutine's root
		echo "$syms" | grep -qx 'runtime.main' || errs+=("stack does not reach runtime.main: $(echo $syms)")
		rec=$(grep " go_create " "$d/trace.out" | head -1)
		gopc=$(echo "$rec" | grep -o 'gopc=0x[0-9a-f]*' | cut -d= -f2)
		startpc=$(echo "$rec" | grep -o 'startpc=0x[0-9a-f]*' | cut -d= -f2)
		syms=$(printf '0x%x\n0x%x\n' $((gopc - bias)) $((startpc - bias)) | addr2line -f -e "$bin" | awk 'NR % 2 == 1' | tr '\n' ' ')
		[[ $syms == 'main.smoke '*'main.smoke.'* ]] || errs+=("go_create gopc/startpc symbolize to: $syms")
	fi
	if [ ${#errs[@]} -eq 0 ]; then
		ok "go$v $m: live records match what the program printed ($(grep '^count ' "$d/trace.out"))"
	else
		not_ok "go$v $m: live records match what the program printed" "${errs[@]}" "see $d"
	fi
}

detach_check() { # VERSION MODE ATTACH-FLAG
	local bin pp out
	bin=$(go_bin "$1" "$2" probe_bench)
	"$bin" smoke "$work/never" 1 >/dev/null 2>&1 &
	pp=$!
	wait_exec $pp "$bin"
	out=$("$trace_dump" -q --check-detach $3 -d 0.3 $pp 2>&1)
	kill $pp 2>/dev/null
	wait $pp 2>/dev/null
	if grep -q '^detach_check ok' <<<"$out" && ! grep -q FAIL <<<"$out"; then
		ok "go$1 $2 ${3:---multi}: int3 in the target while attached, original bytes and no BPF fd after free"
	else
		not_ok "go$1 $2 ${3:---multi}: detach restores the target" "$out"
	fi
}

for v in $versions; do
	live_check "$v" plain
done
# Once when only one toolchain is tested (GO_VERSIONS=1.27): a second run would
# find the first one's start file.
for v in $(printf '%s\n' $oldest $latest | sort -u); do
	live_check "$v" pie
	detach_check "$v" pie ""
	detach_check "$v" plain --single
done

# Privileges, as a non-root user (setpriv): none -> refused in the user's terms;
# CAP_BPF + CAP_PERFMON suffice for a process of the same user, records arrive.
priv_check() {
	local bin pp out d=$work/priv
	bin=$(go_bin "$latest" plain probe_bench)
	mkdir -p "$d" && chmod 777 "$d"
	setpriv --reuid=nobody --regid=nogroup --clear-groups "$bin" smoke "$d/start" 3 >/dev/null 2>&1 &
	pp=$!
	wait_exec $pp "$bin"
	out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups "$trace_dump" -q -d 0.2 $pp 2>&1)
	[[ $out == *"cannot attach to pid $pp: missing privileges"* ]] &&
		ok "no capabilities: missing privileges" || not_ok "no capabilities: missing privileges" "$out"
	setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=+bpf,+perfmon \
		--ambient-caps=+bpf,+perfmon "$trace_dump" -q $pp >"$d/out" 2>&1 &
	local tp=$! i
	for i in $(seq 100); do grep -q '^attached' "$d/out" && break; sleep 0.1; done
	touch "$d/start"
	wait $pp
	wait $tp
	grep -q '^count ctx_create=6 ' "$d/out" &&
		ok "CAP_BPF+CAP_PERFMON trace a process of the same user" ||
		not_ok "CAP_BPF+CAP_PERFMON trace a process of the same user" "$(cat "$d/out")"
}
if command -v setpriv >/dev/null && [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	priv_check
else
	skip "privileges: needs root, setpriv and user nobody"
fi

# Errors in the user's terms.
out=$("$trace_dump" -q --exe "$(go_bin "$latest" plain probe_bench)" 999999 2>&1)
[[ $out == *"no such process"* ]] && ok "dead pid: no such process" || not_ok "dead pid: no such process" "$out"
out=$("$plan_dump" /bin/true 2>&1)
[ $? -ne 0 ] && ok "non-Go binary refused" || not_ok "non-Go binary refused" "$out"

done_testing
