#!/usr/bin/env bash
# make fuzz: each harness for FUZZ_SECONDS.
set -u
rc=0
for h in "${OUT:-build}"/fuzz/fuzz_*; do
	FUZZ_SMOKE_SECONDS=${FUZZ_SECONDS:-60} tests/fuzz/smoke.sh "$h" || rc=1
done
exit $rc
