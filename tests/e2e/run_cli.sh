#!/usr/bin/env bash
# `ctxtrace run`: a leak check for test binaries, against independent truths, with
# the oldest and the newest installed Go:
#  1. Go's own `context` package tests (`go test -c context`) pass under
#     `ctxtrace run --fail-on error`: exit 0, "PASS", no error finding.
#  2. tests/go/run_leaktest built with `go test -c` (plain; newest Go also stripped
#     and PIE): with a planted leak, `--fail-on error` exits 3 and names it: an
#     outlived-context finding whose go and blocking sites are the ones the test
#     prints about itself (runtime.Caller) and its count; the program's own output is
#     intact. Clean: exit 0, no finding at error.
#     snap_target (newest, plain and PIE): a lost-cancel only the probes can see
#     is reported while it runs: the probes were there from its first instruction.
#  3. The program's exit status passes through (a usage error of the test binary:
#     2, as without ctxtrace; killed by SIGKILL: 137); `go test -exec 'ctxtrace run
#     --fail-on error --'` fails the package with the leak and passes it without.
#  4. Bad input: no such program, not a Go program, no program, bad --fail-on:
#     one line, exit 1 or 2.
cd "$(dirname "$0")/../.." || exit 1
source tests/lib.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

all=$(go_versions)
oldest=${all%%$'\n'*}
newest=${all##*$'\n'}
export GOTOOLCHAIN=local GOFLAGS=-mod=mod GOPROXY=off
export GOCACHE=${GOCACHE:-${HOME:-/root}/.cache/go-build}

# judge TRUTH_LINE ALERTS SEVERITY: "ok" or why not; the leak must be one finding
# with the truth's go and block sites and its count (the requests that timed out:
# under load a worker may win the race): outlived-context at error, or at
# warning stuck-goroutines (the context not found in the goroutines' frames).
judge() {
	jq -rRn --argjson t "$1" --arg sev "$3" '
	def loc: if . == null then null else "\(.file | split("/") | last):\(.line)" end;
	[inputs | fromjson? | select(.type == "alert")] as $a
	| [$a[] | select(.severity == $sev and (.rule == "outlived-context" or ($sev == "warning" and .rule == "stuck-goroutines"))
		and (.goroutine.go_site | loc) == $t.sites.go
		and ([.blocking[].site | loc] | index([$t.sites.block])) != null and .count == $t.timeouts)] as $m
	| if ($m | length) == 1 then "ok"
	  else "expected one x\($t.timeouts) at go \($t.sites.go) block \($t.sites.block), got: \([$a[] | "\(.rule) x\(.count) \(.goroutine.go_site | loc)"] | join("; "))" end' "$2"
}

for v in $(printf '%s\n' "$oldest" "$newest" | sort -u); do
	go=$(go_tool "$v")
	# 1. Go's context package tests.
	if ! (cd "$tmp" && "$go" test -c -o "$tmp/context-$v.test" context) >"$tmp/build.log" 2>&1; then
		not_ok "go$v: go test -c context" "$(tail -5 "$tmp/build.log")"
		continue
	fi
	(cd "$tmp" && "$OLDPWD/$CTXTRACE" run --json --fail-on error -- "./context-$v.test" -test.v \
		>"$tmp/ctx.out" 2>"$tmp/ctx.err")
	rc=$?
	errs=$(grep -c '"severity":"error"' "$tmp/ctx.err")
	if [ $rc -eq 0 ] && grep -q '^PASS$' "$tmp/ctx.out" && ! grep -q -- '--- FAIL' "$tmp/ctx.out" && [ "$errs" = 0 ]; then
		ok "go$v: Go's context tests pass under ctxtrace run --fail-on error ($(grep -c -- '--- PASS' "$tmp/ctx.out") passed)"
	else
		not_ok "go$v: Go's context tests under ctxtrace run" "exit $rc, $errs error findings" \
			"$(tail -5 "$tmp/ctx.out")" "$(tail -5 "$tmp/ctx.err")"
	fi

	# 2. A leaking and a clean test binary.
	modes="plain"
	[ "$v" = "$newest" ] && modes="plain stripped pie"
	for m in $modes; do
		flags=()
		case $m in stripped) flags=(-ldflags=-s\ -w) ;; pie) flags=(-buildmode=pie) ;; esac
		bin=$tmp/leak-$v-$m.test
		if ! (cd tests/go && "$go" test -c "${flags[@]}" -o "$bin" ./run_leaktest) >"$tmp/build.log" 2>&1; then
			not_ok "go$v $m: go test -c run_leaktest" "$(tail -5 "$tmp/build.log")"
			continue
		fi
		sev=error
		CTXTRACE_PLANT_LEAK=1 "$CTXTRACE" run --json --fail-on $sev -- "$bin" -test.v >"$tmp/leak.out" 2>"$tmp/leak.err"
		rc=$?
		truth=$(grep '"type":"truth"' "$tmp/leak.out")
		verdict=$( [ -n "$truth" ] && judge "$truth" "$tmp/leak.err" $sev)
		if [ $rc -eq 3 ] && [ "$verdict" = ok ] && grep -q '^PASS$' "$tmp/leak.out"; then
			ok "go$v $m: planted leak: --fail-on $sev exits 3, the finding names its go and blocking sites"
		else
			not_ok "go$v $m: planted leak" "exit $rc (want 3); ${verdict:-no truth line}" "$(tail -3 "$tmp/leak.err")"
		fi
		"$CTXTRACE" run --json --fail-on error -- "$bin" >"$tmp/clean.out" 2>"$tmp/clean.err"
		rc=$?
		errs=$(grep -c '"severity":"error"' "$tmp/clean.err")
		if [ $rc -eq 0 ] && [ "$errs" = 0 ] && grep -q '^PASS$' "$tmp/clean.out"; then
			ok "go$v $m: clean test binary: exit 0, no finding at error"
		else
			not_ok "go$v $m: clean test binary" "exit $rc, $errs error findings" "$(tail -3 "$tmp/clean.err")"
		fi
	done
done

# Probes in place from the first instruction, PIE too (there ld.so runs first): a
# lost-cancel that only the probes can see (memory reports lost-cancel from 1000
# children), created where the source says: the line of snap_target's dropped
# cancel funcs.
GO_VERSIONS=$newest GO_MODES="plain pie" GO_PROGRAMS=snap_target scripts/build-go-tests.sh "$GOBIN_DIR" >"$tmp/build.log" 2>&1
site="main.go:$(grep -n 'context.WithCancel(pctx) //nolint:lostcancel' tests/go/snap_target/main.go | cut -d: -f1)"
for m in plain pie; do
	bin=$(go_bin "$newest" $m snap_target)
	[ -x "$bin" ] || { not_ok "go$newest $m snap_target built" "$(tail -3 "$tmp/build.log")"; continue; }
	"$CTXTRACE" run --json --grace 1s --min-count 1 -- "$bin" -delay 0 -life 3s -children 5 >"$tmp/snap.out" 2>"$tmp/snap.err"
	rc=$?
	found=$(jq -Rrn --arg site "$site" '
		[inputs | fromjson? | select(.type == "alert" and .rule == "lost-cancel" and .source == "probes"
		 and "\(.context.created_at.file | split("/") | last):\(.context.created_at.line)" == $site)] | length' "$tmp/snap.err")
	if [ $rc -eq 0 ] && [ "${found:-0}" -ge 1 ]; then
		ok "go$newest $m: probes from the first instruction: lost-cancel of the contexts created at $site"
	else
		not_ok "go$newest $m: probes in place at start" "exit $rc, $found alerts for $site" "$(grep -c '"type":"alert"' "$tmp/snap.err") alerts"
	fi
done

# 3. Exit status passes through.
bin=$tmp/leak-$newest-plain.test
if [ -x "$bin" ]; then
	"$bin" -no-such-flag >/dev/null 2>&1
	want=$?
	"$CTXTRACE" run --fail-on error -- "$bin" -no-such-flag >/dev/null 2>&1
	rc=$?
	[ $rc -eq $want ] && [ $want -ne 0 ] && ok "the program's exit status passes through ($rc)" ||
		not_ok "exit status passes through" "got $rc, the program alone exits $want"
	"$CTXTRACE" run -- "$bin" -test.run TestRequests -test.count 100000 >/dev/null 2>"$tmp/kill.err" &
	runner=$!
	child=
	for _ in $(seq 100); do
		child=$(sed -n 's/.*attached to pid \([0-9]*\) .*/\1/p' "$tmp/kill.err")
		[ -n "$child" ] && break
		sleep 0.1
	done
	sleep 0.3
	[ -n "$child" ] && kill -KILL "$child"
	wait $runner
	rc=$?
	[ $rc -eq 137 ] && ok "a program killed by SIGKILL: exit 137" ||
		not_ok "killed program" "exit $rc (want 137), child ${child:-not found}" "$(tail -3 "$tmp/kill.err")"
fi

# go test -exec, as a CI job would run it: FAIL with the leak, ok without.
go=$(go_tool "$newest")
abs=$(realpath "$CTXTRACE")
(cd tests/go && CTXTRACE_PLANT_LEAK=1 "$go" test -count=1 -exec "$abs run --fail-on error --" ./run_leaktest) >"$tmp/exec.out" 2>&1
rc1=$?
(cd tests/go && "$go" test -count=1 -exec "$abs run --fail-on error --" ./run_leaktest) >"$tmp/exec2.out" 2>&1
rc2=$?
if [ $rc1 -ne 0 ] && grep -q '^FAIL' "$tmp/exec.out" && grep -q 'outlived-context' "$tmp/exec.out" && [ $rc2 -eq 0 ]; then
	ok "go test -exec 'ctxtrace run --fail-on error --': FAIL with the leak, ok without"
else
	not_ok "go test -exec" "leak: exit $rc1, clean: exit $rc2" "$(tail -3 "$tmp/exec.out")" "$(tail -3 "$tmp/exec2.out")"
fi

# 4. Bad input.
bad() { # NAME WANT_RC ARGS...
	local name=$1 want=$2; shift 2
	"$CTXTRACE" run "$@" >"$tmp/bad.out" 2>"$tmp/bad.err"
	local rc=$? lines
	lines=$(wc -l <"$tmp/bad.err")
	if [ $rc -eq "$want" ] && [ "$lines" -eq 1 ] && grep -q '^ctxtrace: ' "$tmp/bad.err"; then
		ok "bad input: $name: exit $rc, one line"
	else
		not_ok "bad input: $name" "exit $rc (want $want), $lines lines" "$(head -3 "$tmp/bad.err")"
	fi
}
bad "no such program" 1 -- "$tmp/no-such-program"
bad "not a Go program" 1 -- /bin/true
bad "no program" 2
bad "no program after --" 2 --fail-on error --
bad "bad --fail-on" 2 --fail-on fatal -- /bin/true
bad "unknown option" 2 --frobnicate -- /bin/true
done_testing
