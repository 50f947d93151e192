#!/usr/bin/env bash
# Runs one corpus program under `ctxtrace watch` and prints one JSON line: the
# comparison of the alerts with the program's truth (tests/eval/compare.jq), or
# {"status":"skip"|"error","reason":...}.
#   tests/eval/run_one.sh BINARY [GRACE_SECONDS] [WATCH_SECONDS] [PROGRAM_ARGS...]
# CTXTRACE: the ctxtrace binary (default build/ctxtrace); MIN_COUNT: --min-count;
# KEEP_ALERTS=FILE: keep the raw alert stream (and the truth line, in FILE.truth).
set -uo pipefail
bin=$1 grace=${2:-1} secs=${3:-7}
shift $(($# < 3 ? $# : 3))
ctxtrace=${CTXTRACE:-build/ctxtrace}
tmp=$(mktemp -d)
trap 'kill -KILL $ppid 2>/dev/null; wait $ppid 2>/dev/null; rm -rf "$tmp"' EXIT

emit_status() { jq -cn --arg s "$1" --arg r "$2" --arg b "$bin" '{status: $s, reason: $r, binary: $b}'; }

"$bin" -life $((secs + 20))s "$@" >"$tmp/truth" 2>"$tmp/prog.err" &
ppid=$!
for _ in $(seq 50); do grep -qs '"type":"start"' "$tmp/truth" && break; sleep 0.05; done
if ! grep -q '"type":"start"' "$tmp/truth"; then
	emit_status error "the program did not start: $(head -c 300 "$tmp/prog.err")"
	exit 0
fi
args=(watch -p "$ppid" --json --grace "${grace}s" --duration "${secs}s")
[ -n "${MIN_COUNT:-}" ] && args+=(--min-count "$MIN_COUNT")
"$ctxtrace" "${args[@]}" >"$tmp/alerts" 2>"$tmp/watch.err"
rc=$?
if [ $rc -ne 0 ]; then
	reason=$(grep -v '^{' "$tmp/watch.err" | head -3; jq -r 'select(.type=="error") | .message' "$tmp/watch.err" 2>/dev/null | head -3)
	case $reason in
	*"not implemented"*|*"use --events"*) emit_status skip "ctxtrace watch cannot report alerts yet: $reason" ;;
	*) emit_status error "ctxtrace watch exited $rc: $reason" ;;
	esac
	exit 0
fi
if [ -n "${KEEP_ALERTS:-}" ]; then
	cp "$tmp/alerts" "$KEEP_ALERTS"
	grep '"type":"truth"' "$tmp/truth" >"$KEEP_ALERTS.truth"
fi
if ! grep -q '"type":"truth"' "$tmp/truth"; then
	emit_status error "the program printed no truth line within ${secs}s"
	exit 0
fi
jq -cn --slurpfile t <(grep '"type":"truth"' "$tmp/truth") \
	--slurpfile a <(grep '^{' "$tmp/alerts" || true) --argjson g "$((grace * 1000))" \
	'{truth: $t[0], alerts: $a, grace_ms: $g}' |
	jq -c --arg b "$bin" -f tests/eval/compare.jq | jq -c --arg b "$bin" '. + {status: "ok", binary: $b}'
