#!/usr/bin/env bash
# `ctxtrace watch` alerts on the leak corpus, against what each program says about
# itself (tests/eval): every expected alert found with its sites, no false alert,
# counts, arrival within --grace + 1s of the condition (+0.5s for scheduling),
# re-emission with the same id and a higher count, --min-count, ids stable across
# sessions and the text output. `make eval` runs the whole version x mode matrix;
# this runs the newest Go and Go 1.19 plain, and the newest stripped and cgo on a few.
cd "$(dirname "$0")/../.." || exit 1
source tests/lib.sh
export CTXTRACE
GRACE=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

all=$(go_versions)
newest=${all##*$'\n'}
versions=${RULES_VERSIONS:-$(echo "1.19 $newest" | tr ' ' '\n' | sort -u)}
programs=$(cd tests/go && ls -d leak_* healthy_*)
secs_for() { case $1 in healthy_*) echo 12 ;; *) echo 6 ;; esac; }

# ctxtrace watch must be able to report alerts at all; else every check is a skip.
probe_bin=$(go_bin "$newest" plain leak_ignores_ctx)
if [ ! -x "$probe_bin" ]; then
	skip "rules_watch: $probe_bin not built (make go-tests)"
	exit 0
fi
res=$(tests/eval/run_one.sh "$probe_bin" $GRACE 3 -n 3)
if [ "$(jq -r .status <<<"$res")" = skip ]; then
	skip "rules_watch - $(jq -r .reason <<<"$res")"
	exit 0
fi

check_run() { # VERSION MODE PROGRAM [RUN_ONE_ENV...]
	local v=$1 m=$2 p=$3 bin res st name problems
	bin=$(go_bin "$v" "$m" "$p")
	[ -x "$bin" ] || return 0
	name="watch $v/$m/$p"
	res=$(tests/eval/run_one.sh "$bin" $GRACE "$(secs_for "$p")")
	st=$(jq -r .status <<<"$res")
	case $st in
	skip) skip "$name - $(jq -r .reason <<<"$res")"; return ;;
	ok) ;;
	*) not_ok "$name" "$(jq -r .reason <<<"$res")"; return ;;
	esac
	problems=$(jq -r --argjson lim $((GRACE * 1000 + 1500)) '
		(.results[] | select(.found | not) | "missed \(.rule) \(.sites | tostring) (\(.what))"),
		(.results[] | select(.found and (.count < ((.expected_count * 9 + 9) / 10 | floor) or .count > .expected_count))
		 | "\(.rule) \(.sites | tostring): count \(.count), the program made \(.expected_count)"),
		(.results[] | select(.found and (.wait_ok | not)) | "\(.rule) \(.sites | tostring): not blocked in \(.wait | join(" or "))"),
		(.results[] | select(.found and .latency_ms > $lim) | "\(.rule) \(.sites | tostring): arrived \(.latency_ms)ms after its condition"),
		(.false_alerts[] | "false \(.rule) x\(.count): \(.message)")' <<<"$res")
	if [ -z "$problems" ]; then
		ok "$name: $(jq -r '"\(.found)/\(.expected) alerts, latency \(.latency_ms_max // "-")ms"' <<<"$res")"
	else
		local lines=()
		mapfile -t lines <<<"$problems"
		not_ok "$name" "${lines[@]}"
	fi
}

# The newest Go and 1.19 plain, the whole corpus; the newest stripped and cgo, a
# program per rule family (RULES_MODES=all: the whole corpus; make eval has the
# whole version x mode matrix).
mode_programs="leak_ignores_ctx leak_lost_cancel leak_unreachable leak_lineage_break healthy_http"
[ "${RULES_MODES:-}" = all ] && mode_programs=$programs
for v in $versions; do
	for m in plain stripped cgo; do
		[ "$v" != "$newest" ] && [ $m != plain ] && continue
		for p in $programs; do
			[ $m != plain ] && [[ " $mode_programs " != *" $p "* ]] && continue
			check_run "$v" "$m" "$p"
		done
	done
done

bin=$(go_bin "$newest" plain leak_ignores_ctx)
# A leak that keeps growing: one alert per group, re-emitted with the same id.
KEEP_ALERTS=$tmp/grow tests/eval/run_one.sh "$bin" $GRACE 9 -n 14 -interval 400ms >/dev/null
if jq -se '
	[.[] | select(.type == "alert")] | group_by(.id) | length == 2 and all(
	  length >= 2 and (map(.count) as $c | [range(1; $c | length) | $c[.] > $c[. - 1]] | all)
	  and .[0].first and (.[1:] | all(.first | not)))' "$tmp/grow" >/dev/null; then
	ok "watch: a growing group is re-emitted with the same id and a higher count ($(jq -sc '[.[] | .count]' "$tmp/grow"))"
else
	not_ok "watch: re-emission" "$(jq -c '{id, count, first}' "$tmp/grow" | head -20)"
fi

# --min-count above what the program makes: nothing.
res=$(MIN_COUNT=31 tests/eval/run_one.sh "$(go_bin "$newest" plain leak_ignores_ctx)" $GRACE 6)
if [ "$(jq '.found + .false' <<<"$res")" = 0 ] && [ "$(jq .status <<<"$res")" = '"ok"' ]; then
	ok "watch --min-count 31: no alert for groups of 30 goroutines"
else
	not_ok "watch --min-count 31" "$(jq -c '{status, found, false, reason}' <<<"$res")"
fi

# Text output: the same groups with the same ids as the JSON run (ids are stable
# across sessions), one header line per alert.
KEEP_ALERTS=$tmp/json tests/eval/run_one.sh "$(go_bin "$newest" plain leak_waitgroup)" $GRACE 6 >/dev/null
"$(go_bin "$newest" plain leak_waitgroup)" -life 30s >"$tmp/truth2" &
pid=$!
"$CTXTRACE" watch -p $pid --grace ${GRACE}s --duration 6s >"$tmp/text" 2>/dev/null
kill -KILL $pid; wait $pid 2>/dev/null
json_ids=$(jq -r 'select(.type == "alert") | .id' "$tmp/json" | sort -u | tr '\n' ' ')
text_ids=$(sed -n 's/^\[[a-z]*\] [a-z-]* x[0-9]*  id \([0-9a-f]\{16\}\) .*/\1/p' "$tmp/text" | sort -u | tr '\n' ' ')
block=$(jq -r 'select(.type == "truth") | .expect[] | select(.rule == "outlived-context") | .sites.block' "$tmp/truth2" | head -1)
if [ -n "$json_ids" ] && [ "$json_ids" = "$text_ids" ] && grep -q "at $block (" "$tmp/text"; then
	ok "watch text: same alert ids as --json ($json_ids), blocking site $block shown"
else
	not_ok "watch text output" "json ids: $json_ids" "text ids: $text_ids" "$(head -20 "$tmp/text")"
fi
done_testing
