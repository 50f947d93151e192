#!/usr/bin/env bash
# make eval: runs every program of the leak corpus (tests/go/leak_*, healthy_*)
# under `ctxtrace watch --json --grace 1s` on every Go version and build mode it is
# built in, and prints found / missed / false alerts per program and version,
# compared with what each program says about itself (tests/eval/compare.jq).
#   EVAL_VERSIONS="1.19 1.26" EVAL_MODES="plain" EVAL_PROGRAMS="leak_waitgroup"
#   EVAL_JOBS=2 (programs traced at once), EVAL_GRACE=1 (seconds)
# Results, one JSON line per run: $OUT/eval/results.jsonl. Exit 1 when an alert
# was missed or false, or a run failed.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-build}
export CTXTRACE=${CTXTRACE:-$OUT/ctxtrace}
source tests/lib.sh
versions=${EVAL_VERSIONS:-$(go_versions)}
modes=${EVAL_MODES:-plain stripped cgo}
programs=${EVAL_PROGRAMS:-$(cd tests/go && ls -d leak_* healthy_*)}
jobs=${EVAL_JOBS:-2}
grace=${EVAL_GRACE:-1}
dir=$OUT/eval
mkdir -p "$dir"
: >"$dir/results.jsonl"

# Leaks are all made within ~1 s of the start delay; healthy programs are watched
# longer (healthy_http's last burst comes 8 s after its start).
secs_for() { case $1 in healthy_*) echo 12 ;; *) echo 6 ;; esac; }

run() { # VERSION MODE PROGRAM
	local bin res
	bin=$(go_bin "$1" "$2" "$3")
	res=$(tests/eval/run_one.sh "$bin" "$grace" "$(secs_for "$3")")
	jq -c --arg v "$1" --arg m "$2" --arg p "$3" '. + {version: $v, mode: $m, program: (.program // $p)}' <<<"$res"
}

runs=()
for v in $versions; do
	for m in $modes; do
		for p in $programs; do
			[ -x "$(go_bin "$v" "$m" "$p")" ] && runs+=("$v $m $p")
		done
	done
done
[ ${#runs[@]} -gt 0 ] || { echo "eval: no corpus binary under $GOBIN_DIR (make go-tests)" >&2; exit 1; }
[ -x "$CTXTRACE" ] || { echo "eval: $CTXTRACE not built (make)" >&2; exit 1; }
echo "eval: ${#runs[@]} runs, $jobs at a time, --grace ${grace}s" >&2

running=0
for r in "${runs[@]}"; do
	# shellcheck disable=SC2086
	run $r >>"$dir/results.jsonl" &
	running=$((running + 1))
	if [ $running -ge "$jobs" ]; then wait -n; running=$((running - 1)); fi
done
wait

jq -rs '
  def pad($n): tostring | if length < $n then . + (" " * ($n - length)) else . end;
  sort_by(.program, (.version | split(".") | map(tonumber)), .mode) as $r
  | ("program                 go    mode      exp found miss false  counts                     latency_ms  note"),
    ($r[] | [(.program | pad(23)), (.version | pad(5)), (.mode | pad(9)),
             ((.expected // "-") | pad(3)), ((.found // "-") | pad(5)), ((.missed // "-") | pad(4)),
             ((.false // "-") | pad(5)),
             ([.results[]? | "\(.count)/\(.expected_count)"] | join(" ") | pad(26)),
             ((.latency_ms_max // "-") | pad(11)),
             (if .status != "ok" then "\(.status): \(.reason)"
              else ([.false_alerts[]? | "false \(.rule) x\(.count): \(.message)"] | join("; ")) end)]
            | join(" ")),
    "",
    ([$r[] | select(.status == "ok")] as $ok
     | "total: \($r | length) runs, \($ok | map(.expected) | add // 0) expected alerts, " +
       "\($ok | map(.found) | add // 0) found, \($ok | map(.missed) | add // 0) missed, " +
       "\($ok | map(.false) | add // 0) false; \($r | map(select(.status != "ok")) | length) runs skipped or failed")
' "$dir/results.jsonl"
rc_watch=0
jq -se 'all(.status == "ok" and .missed == 0 and .false == 0)' "$dir/results.jsonl" >/dev/null || rc_watch=1

# The corpus attached late (`ctxtrace snapshot`), every installed Go version and mode.
echo
echo "== ctxtrace snapshot, the corpus attached late (every version and mode)"
SNAPSHOT_MATRIX=all OUT=$OUT tests/e2e/snapshot.sh >"$dir/snapshot.log" 2>&1
rc_snap=$?
grep -E '^(not ok|# )' "$dir/snapshot.log" | head -40
echo "snapshot: $(grep -c '^ok' "$dir/snapshot.log") passed, $(grep -c '^not ok' "$dir/snapshot.log") failed"

# Attach/detach stress on every layout family (make check runs two of them).
echo
echo "== attach/detach stress (1.19 plain and PIE, 1.21 PIE, the newest plain and PIE)"
STRESS_CONFIGS=all OUT=$OUT bash tests/e2e/stress_attach.sh >"$dir/stress.log" 2>&1
rc_stress=$?
grep -E '^(not ok|ok|# )' "$dir/stress.log" | head -20

# Debian's etcd and caddy under an overhead budget (make check runs them without):
# no alert but the expected ones while the probes are attached part-time.
echo
echo "== real software under --max-overhead 1"
REALSW_WATCH_ARGS="--max-overhead 1" OUT=$OUT bash tests/e2e/realsw.sh >"$dir/realsw-budget.log" 2>&1
rc_realsw=$?
grep -E '^(not ok|ok|# )' "$dir/realsw-budget.log" | head -20
[ $rc_watch -eq 0 ] && [ $rc_snap -eq 0 ] && [ $rc_stress -eq 0 ] && [ $rc_realsw -eq 0 ]
