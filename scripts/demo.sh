#!/usr/bin/env bash
# make demo: run the bundled leaking Go service and attach ctxtrace to it.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-build}
DEMO_SECONDS=${DEMO_SECONDS:-15}
. scripts/go-versions.sh
v=$(go_known | tail -1)
[ -n "$v" ] || { echo "demo: no Go toolchain installed (run: sudo make deps)" >&2; exit 1; }
GO_VERSIONS=$v GO_MODES=plain GO_PROGRAMS=demo_leaky scripts/build-go-tests.sh "$OUT/go"
bin=$OUT/go/$v/plain/demo_leaky
"$bin" & pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
sleep 0.5
echo "== ctxtrace inspect -p $pid (what will be probed)"
"$OUT/ctxtrace" inspect -p "$pid" | sed '/^offsets/,$d'
echo
echo "== ctxtrace watch -p $pid --duration ${DEMO_SECONDS}s (leak alerts)"
"$OUT/ctxtrace" watch -p "$pid" --duration "${DEMO_SECONDS}s"
