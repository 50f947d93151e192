#!/usr/bin/env bash
# Builds every Go test program in tests/go/*/ with every installed Go toolchain, in
# four modes: plain, stripped (-s -w), pie and cgo (external linking, import "C").
# Output: OUTDIR/<go minor version, e.g. 1.22>/<mode>/<program>. Incremental.
# A program's tests/go/NAME/build.conf may narrow its matrix (the default is every
# version, plain and stripped):
#   modes=plain stripped pie cgo
#   versions=all | latest | 1.19 1.26
set -euo pipefail
outdir=$(realpath -m "${1:-build/go}")
src=tests/go
export GOTOOLCHAIN=local GOFLAGS=-mod=mod GOPROXY=off GO111MODULE=on
export GOCACHE=${GOCACHE:-${HOME:-/root}/.cache/go-build}
cd "$(dirname "$0")/.."
. scripts/go-versions.sh
versions=$(echo $(go_installed))
programs=${GO_PROGRAMS:-$(for d in "$src"/*/; do [ -f "$d/main.go" ] && basename "$d"; done)}
[ -n "$versions" ] || { echo "build-go-tests: no Go toolchain in /usr/lib/go-1.* (run make deps)" >&2; exit 1; }
[ -n "$programs" ] || exit 0

conf() { # PROGRAM KEY DEFAULT
	local f=$src/$1/build.conf val
	val=$( [ -f "$f" ] && sed -n "s/^$2=//p" "$f" | tail -1)
	echo "${val:-$3}"
}

jobs=()
# "latest" (alone or in a list): the newest toolchain ctxtrace knows (the tests'
# newest, tests/lib.sh).
latest=$(go_known 2>/dev/null | tail -1)
for p in $programs; do
	pv=$(conf "$p" versions all) pm=$(conf "$p" modes "plain stripped")
	case $pv in all) pv=$versions ;; *) pv=${pv//latest/$latest} ;; esac
	for v in $pv; do
		# GO_VERSIONS / GO_MODES narrow further (development, make bench).
		case " $versions " in *" $v "*) ;; *) continue ;; esac
		for m in $pm; do
			[ -n "${GO_MODES:-}" ] && case " $GO_MODES " in *" $m "*) ;; *) continue ;; esac
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

# Two builds at a time: linking is single-threaded.
rc=0 running=0
for j in "${jobs[@]}"; do
	# shellcheck disable=SC2086
	build_one $j &
	running=$((running + 1))
	if [ $running -ge "${GO_BUILD_JOBS:-2}" ]; then
		wait -n || rc=1
		running=$((running - 1))
	fi
done
while [ $running -gt 0 ]; do wait -n || rc=1; running=$((running - 1)); done
exit $rc
