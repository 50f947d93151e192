#!/usr/bin/env bash
# Opening and indexing a Go binary of 15 MB or more (tests/go/inspect_target, plain
# build) must take well under 100 ms: `ctxtrace inspect` has 200 ms for everything.
# The budget is GOELF_OPEN_MS (default 100 ms, mean of 20 opens after a warm-up).
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/lib.sh
DUMP=${GOELF_DUMP:-$OUT/tools/goelf_dump}
budget=${GOELF_OPEN_MS:-100}
[ -x "$DUMP" ] || { not_ok "goelf_dump built" "missing $DUMP"; exit 1; }

seen=0
for v in $(go_versions); do
	for m in plain stripped pie cgo; do
		b=$(go_bin "$v" "$m" inspect_target)
		[ -f "$b" ] || continue
		size=$(stat -c %s "$b")
		if [ "$m" = plain ]; then
			seen=$((seen + 1))
			[ "$size" -ge $((15 * 1024 * 1024)) ] && ok "go$v plain inspect_target is $((size / 1024 / 1024)) MB (>= 15 MB)" ||
				not_ok "go$v plain inspect_target >= 15 MB" "it is $size bytes: link more of the standard library"
		fi
		"$DUMP" time "$b" 2 >/dev/null
		ms=$("$DUMP" time "$b" 20)
		if awk -v t="$ms" -v b="$budget" 'BEGIN { exit !(t + 0 < b + 0 && t != "") }'; then
			ok "go$v $m: open + index $((size / 1024 / 1024)) MB in $ms ms (budget $budget ms)"
		else
			not_ok "go$v $m: open + index within $budget ms" "took $ms ms"
		fi
	done
done
[ "$seen" -gt 0 ] || not_ok "inspect_target builds present" "none under $GOBIN_DIR"
done_testing
