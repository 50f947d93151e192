#!/usr/bin/env bash
# Runs every test: cmocka unit tests, fuzz smoke runs and end-to-end scenarios.
# Ends with one summary line: "check: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-build}
export OUT
passed=0 failed=0 skipped=0
log=$OUT/test-logs
mkdir -p "$log"

count() { # FILE: counts cmocka and TAP-style results
	local p f s
	p=$(grep -cE '^(ok - |\[       OK \])' "$1")
	f=$(grep -cE '^(not ok - |\[  FAILED  \] [^0-9])' "$1")
	s=$(grep -cE '^(skip - |\[  SKIPPED \] [^0-9])' "$1")
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
	echo "  $2: $p passed, $f failed${s:+, $s skipped}"
}

run() { # NAME CMD...
	local name=$1 rc; shift
	local f=$log/${name//\//_}.log
	timeout --kill-after=10 "${TEST_TIMEOUT:-900}" "$@" >"$f" 2>&1
	rc=$?
	grep -E '^(not ok|\[  FAILED  \] [^0-9])' -A5 "$f" | head -60
	count "$f" "$name"
	# A runner that died without reporting a failure still fails.
	if [ $rc -ne 0 ] && ! grep -qE '^(not ok|\[  FAILED  \] [^0-9])' "$f"; then
		echo "not ok - $name exited $rc"; tail -20 "$f"; failed=$((failed + 1))
	fi
}

only=${TESTS:-}
for t in "$OUT"/tests/test_*; do
	[ -x "$t" ] || continue
	[ -n "$only" ] && [[ $t != *$only* ]] && continue
	run "unit/${t##*/}" "$t"
done
for t in "$OUT"/fuzz/fuzz_*; do
	[ -x "$t" ] || continue
	[ -n "$only" ] && [[ $t != *$only* ]] && continue
	run "fuzz/${t##*/}" tests/fuzz/smoke.sh "$t"
done
for t in tests/e2e/*.sh; do
	[ -f "$t" ] || continue
	[ -n "$only" ] && [[ $t != *$only* ]] && continue
	run "e2e/$(basename "$t" .sh)" bash "$t"
done
echo "check: $passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
