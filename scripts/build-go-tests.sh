#!/usr/bin/env bash
# Builds every Go test program in tests/go/*/ with every installed Go toolchain, in
# four modes: plain, stripped (-s -w), pie and cgo (external linking, import "C").
# Output: OUTDIR/<go minor version, e.g. 1.22>/<mode>/<program>. Incremental.
set -euo pipefail
outdir=${1:-build/go}
src=tests/go
export GOTOOLCHAIN=local GOFLAGS=-mod=mod GOPROXY=off GO111MODULE=on
export GOCACHE=${GOCACHE:-${HOME:-/root}/.cache/go-build}
versions=${GO_VERSIONS:-$(for d in /usr/lib/go-1.*; do [ -x "$d/bin/go" ] && echo "${d##*/go-}"; done | sort -t. -k2 -n)}
modes=${GO_MODES:-plain stripped pie cgo}
programs=${GO_PROGRAMS:-$(for d in "$src"/*/; do [ -f "$d/main.go" ] && basename "$d"; done)}
[ -n "$versions" ] || { echo "build-go-tests: no Go toolchain in /usr/lib/go-1.* (run make deps)" >&2; exit 1; }
[ -n "$programs" ] || exit 0

jobs=()
for v in $versions; do
	for m in $modes; do
		for p in $programs; do
			jobs+=("$v $m $p")
		done
	done
done

build_one() {
	local v=$1 m=$2 p=$3
	local out=$outdir/$v/$m/$p go=/usr/lib/go-$v/bin/go dir=$src/$p
	if [ -x "$out" ] && [ -z "$(find "$dir" "$src/go.mod" -newer "$out" -print -quit)" ]; then
		return 0
	fi
	mkdir -p "$outdir/$v/$m"
	local flags=() env=(CGO_ENABLED=0) pkgdir=$dir
	case $m in
	plain) ;;
	stripped) flags=(-ldflags=-s\ -w) ;;
	pie) flags=(-buildmode=pie) ;;
	cgo)
		env=(CGO_ENABLED=1)
		flags=(-ldflags=-linkmode=external)
		# A copy of the program with one file importing "C", so runtime/cgo is linked.
		pkgdir=$outdir/.cgo-src/$v/$p
		rm -rf "$pkgdir" && mkdir -p "$pkgdir" && cp "$dir"/*.go "$pkgdir"/
		printf 'package main\n\n// int ctxtrace_cgo_marker(void) { return 42; }\nimport "C"\n\nvar _ = C.ctxtrace_cgo_marker\n' > "$pkgdir/zz_ctxtrace_cgo.go"
		printf 'module ctxtrace.test/%s\n\ngo 1.19\n' "$p" > "$pkgdir/go.mod"
		;;
	*) echo "build-go-tests: unknown mode $m" >&2; return 1 ;;
	esac
	local abs_out
	abs_out=$(realpath -m "$out")
	if ! (cd "$pkgdir" && env "${env[@]}" "$go" build "${flags[@]}" -o "$abs_out.tmp" .) \
		>"$out.log" 2>&1; then
		echo "build-go-tests: go$v $m $p failed:" >&2; cat "$out.log" >&2; return 1
	fi
	mv "$out.tmp" "$out" && rm -f "$out.log"
}

rc=0
for j in "${jobs[@]}"; do
	# shellcheck disable=SC2086
	build_one $j || rc=1
done
exit $rc
