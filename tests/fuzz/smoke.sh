#!/usr/bin/env bash
# A short libFuzzer run of one harness over its seed corpus; make fuzz runs longer.
set -u
h=$1 name=$(basename "$1")
corpus=${OUT:-build}/fuzz/corpus-$name
mkdir -p "$corpus"
seeds=tests/fuzz/seeds/${name#fuzz_}
[ -d "$seeds" ] && cp -n "$seeds"/* "$corpus"/ 2>/dev/null
if "$h" -artifact_prefix="${OUT:-build}/fuzz/" -max_total_time="${FUZZ_SMOKE_SECONDS:-10}" -rss_limit_mb=2048 -timeout=5 -print_final_stats=1 "$corpus" >"$corpus.log" 2>&1; then
	echo "ok - $name ran $(grep -o 'stat::number_of_executed_units: [0-9]*' "$corpus.log" | awk '{print $2}') inputs without a crash"
else
	echo "not ok - $name"; grep -E 'ERROR|SUMMARY|panic|runtime error' "$corpus.log" | head -5 | sed 's/^/# /'
fi
