#!/usr/bin/env bash
# Regenerates ctxtrace's offset table (make offsets-table): builds tests/go/offsets_probe
# with every installed Go toolchain, reads each binary's DWARF with ctxtrace's own reader
# (build/tools/offsets_dump) and writes the C table to FILE (default: stdout), replacing
# it only when everything succeeded.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-build}
dest=${1:-}
export GOTOOLCHAIN=local

. scripts/go-versions.sh
versions=$(go_installed)
[ -n "$versions" ] || { echo "gen-offsets: no Go toolchain in /usr/lib/go-1.* (run make deps)" >&2; exit 1; }

make -s OUT="$OUT" "$OUT/tools/offsets_dump" >&2
GO_VERSIONS="$versions" GO_MODES=plain GO_PROGRAMS=offsets_probe scripts/build-go-tests.sh "$OUT/go" >&2

args=()
for v in $versions; do
	gover=$(/usr/lib/go-"$v"/bin/go env GOVERSION)
	case $gover in
	go"$v" | go"$v".*) ;;
	*) echo "gen-offsets: /usr/lib/go-$v/bin/go says it is $gover" >&2; exit 1 ;;
	esac
	args+=("$gover=$OUT/go/$v/plain/offsets_probe")
done

tmp=$(mktemp "$OUT/offsets_table.c.XXXXXX")
trap 'rm -f "$tmp"' EXIT
"$OUT/tools/offsets_dump" --gen-c "${args[@]}" > "$tmp"
if [ -n "$dest" ] && cmp -s "$tmp" "$dest"; then
	echo "gen-offsets: $dest is up to date (Go $(echo $versions))" >&2
elif [ -n "$dest" ]; then
	cp "$tmp" "$dest.tmp" && mv "$dest.tmp" "$dest"
	echo "gen-offsets: wrote $dest (Go $(echo $versions))" >&2
else
	cat "$tmp"
fi
