#!/usr/bin/env bash
# Offsets: for every installed Go toolchain, the checked-in table equals the DWARF of
# tests/go/offsets_probe as read by ctxtrace's libdw reader (offsets_dump) AND by Go's
# own debug/dwarf (the probe reading itself), in plain and cgo (external linker)
# builds; .zdebug_* and uncompressed DWARF read the same; offsets__resolve takes the
# table for stripped binaries and for types a program leaves out of DWARF, and refuses
# Go versions outside the table when there is no DWARF.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
dump=${OFFSETS_DUMP:-$OUT/tools/offsets_dump}
work=$OUT/e2e-offsets
mkdir -p "$work"

if [ ! -x "$dump" ]; then
	not_ok "offsets_dump built" "$dump is missing: run make $OUT/tools/offsets_dump"
	done_testing; exit
fi
if ! GO_PROGRAMS=offsets_probe scripts/build-go-tests.sh "$GOBIN_DIR" >"$work/build.log" 2>&1; then
	not_ok "offsets_probe builds" "$(tail -20 "$work/build.log")"
	done_testing; exit
fi

# same NAME EXPECTED ACTUAL: the two "key offset" listings are equal.
same() {
	if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "$(diff <(echo "$2") <(echo "$3") | head -20)"; fi
}
# Fields Go 1.$1 has (see go_off_since, go_off_until): 40 on 1.19, + cause on 1.20,
# 46 from 1.21, 47 from 1.27 (moduledata.itablinks gone, itaboffset and itabsize new).
nfields() { if [ "$1" -ge 27 ]; then echo 47; elif [ "$1" -ge 21 ]; then echo 46; elif [ "$1" -ge 20 ]; then echo 41; else echo 40; fi; }

versions=$(go_versions)
latest=${versions##*$'\n'}
for v in $versions; do
	minor=${v#1.}
	plain=$(go_bin "$v" plain offsets_probe)
	truth=$("$plain" 2>&1) # Go's debug/dwarf on its own binary
	n=$(printf '%s\n' "$truth" | grep -c '^[a-zA-Z.]* [0-9]*$')
	if [ "$n" -ne "$(nfields "$minor")" ] || ! grep -q '^goid [0-9]' <<<"$truth"; then
		not_ok "go$v: debug/dwarf finds the $(nfields "$minor") fields" "$truth"
		continue
	fi
	same "go$v: libdw reader = debug/dwarf ($n fields)" "$truth" "$("$dump" "$plain" 2>&1)"
	same "go$v: checked-in table = DWARF" "$truth" "$("$dump" --table "$minor" 2>&1)"

	cgo=$(go_bin "$v" cgo offsets_probe)
	if [ -x "$cgo" ]; then
		same "go$v cgo (external linker): libdw reader = table" "$truth" "$("$dump" "$cgo" 2>&1)"
		same "go$v cgo (external linker): debug/dwarf = table" "$truth" "$("$plain" "$cgo" 2>&1)"
	fi

	stripped=$(go_bin "$v" stripped offsets_probe)
	out=$("$dump" "$stripped" 2>&1)
	rc=$?
	if [ $rc -eq 3 ] && grep -q 'no DWARF' <<<"$out"; then
		ok "go$v stripped: DWARF reader says no DWARF"
	else
		not_ok "go$v stripped: DWARF reader says no DWARF" "rc=$rc $out"
	fi
	# Stripped: every field from the table, values equal to the plain build's DWARF.
	res=$("$dump" --resolve "$stripped" 2>&1)
	same "go$v stripped: resolve takes every field from the table" \
		"$(echo "$truth" | sed 's/$/ table/')" "$(grep -v ' absent$' <<<"$res")"
	res=$("$dump" --resolve "$plain" 2>&1)
	same "go$v plain: resolve takes every field from DWARF" \
		"$(echo "$truth" | sed 's/$/ DWARF/')" "$(grep -v ' absent$' <<<"$res")"
done

# Compressed forms: Go writes SHF_COMPRESSED sections; older Go wrote .zdebug_*, and
# external linkers may write either or none. objcopy makes each from the same DWARF.
for v in $(echo "$versions" | head -1) "$latest"; do
	plain=$(go_bin "$v" plain offsets_probe)
	truth=$("$plain")
	for form in as-built zlib-gnu none; do
		f=$work/probe-$v-$form
		case $form in
		as-built) cp "$plain" "$f" ;;
		zlib-gnu) objcopy --compress-debug-sections=zlib-gnu "$plain" "$f" ;;
		none) objcopy --decompress-debug-sections "$plain" "$f" ;;
		esac
		sec=$(readelf -SW "$f" | grep -E '\.z?debug_info ')
		case $form in
		as-built) grep -q '^ *\[ *[0-9]*\] \.debug_info .* C ' <<<"$sec" ;;
		zlib-gnu) grep -q '\.zdebug_info ' <<<"$sec" ;;
		none) grep -q '\.debug_info ' <<<"$sec" && ! grep -q ' C ' <<<"$sec" ;;
		esac || { not_ok "go$v DWARF $form: section as expected" "$sec"; continue; }
		same "go$v DWARF $form: libdw reader = debug/dwarf" "$truth" "$("$dump" "$f" 2>&1)"
	done
done

# A program without AfterFunc/WithoutCancel: the linker leaves afterFuncCtx and
# withoutCancelCtx out of DWARF, and resolve fills them from the table.
src=$work/noafter
mkdir -p "$src"
cat >"$src/main.go" <<'EOF'
package main

import (
	"context"
	"fmt"
)

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	fmt.Println(ctx.Err())
}
EOF
printf 'module noafter\n\ngo 1.19\n' >"$src/go.mod"
bin=$(realpath -m "$work/noafter-$latest")
if (cd "$src" && GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0 "$(go_tool "$latest")" build -o "$bin" .) >"$work/noafter.log" 2>&1; then
	probe=$(go_bin "$latest" plain offsets_probe)
	godw=$("$probe" "$bin")
	if grep -q '^afterFuncCtx\|^withoutCancelCtx' <<<"$godw" || ! grep -q '^cancelCtx.err ' <<<"$godw"; then
		not_ok "go$latest without AfterFunc: DWARF lacks afterFuncCtx, has cancelCtx" "$godw"
	else
		ok "go$latest without AfterFunc: DWARF lacks afterFuncCtx, has cancelCtx"
	fi
	same "go$latest without AfterFunc: libdw reader = debug/dwarf" "$godw" "$("$dump" "$bin" 2>&1)"
	res=$("$dump" --resolve "$bin" 2>&1)
	# Fields its DWARF has come from DWARF, the rest (afterFuncCtx, timerCtx...) from
	# the table, whose values the probe's DWARF gives.
	want=$( (echo "$godw" | sed 's/$/ DWARF/'
		"$probe" | awk 'NR == FNR { have[$1] = 1; next } !($1 in have) { print $0 " table" }' <(echo "$godw") -) | sort)
	same "go$latest without AfterFunc: resolve fills the missing types from the table" \
		"$want" "$(grep -v ' absent$' <<<"$res" | sort)"
else
	not_ok "go$latest builds a program without AfterFunc" "$(tail -5 "$work/noafter.log")"
fi

# Versions outside the table: a binary claiming a newer or older Go (its version
# strings rewritten in place, same length).
mk_version() { # IN OUT FROM TO
	perl -pe "s/\Q$3\E/$4/g" "$1" >"$2" && chmod +x "$2"
}
gover=$("$(go_tool "$latest")" env GOVERSION)       # go1.26.11
newer=go1.$((${latest#1.} + 1)).${gover#go"$latest".} # go1.27.11
newer=${newer%.}
if [ ${#newer} -eq ${#gover} ]; then
	mk_version "$(go_bin "$latest" stripped offsets_probe)" "$work/newer-stripped" "$gover" "$newer"
	mk_version "$(go_bin "$latest" plain offsets_probe)" "$work/newer-plain" "$gover" "$newer"
	nminor=$((${latest#1.} + 1))
	# Stripped: the newest row, assumed (watch checks it against the process first:
	# watch_events.sh); every field from the table, equal to the newest row.
	"$dump" --resolve "$work/newer-stripped" >"$work/newer-s.all" 2>"$work/newer-s.err"
	rc=$?
	# Fields the newest version no longer has (moduledata.itablinks from 1.27) stay absent.
	grep -v ' -1 absent$' "$work/newer-s.all" >"$work/newer-s.out"
	"$dump" --table "${latest#1.}" | sed 's/$/ table/' >"$work/newest-row"
	if [ $rc -eq 0 ] && grep -q "^warning: Go 1.$nminor is newer than ctxtrace's offset table (1.19-$latest): Go $latest's layout assumed$" "$work/newer-s.err" &&
		diff -q "$work/newest-row" "$work/newer-s.out" >/dev/null; then
		ok "go1.$nminor stripped: Go $latest's row assumed, with a warning"
	else
		not_ok "go1.$nminor stripped: Go $latest's row assumed, with a warning" "rc=$rc" "$(cat "$work/newer-s.err")" "$(diff "$work/newest-row" "$work/newer-s.out" | head -5)"
	fi
	# inspect: the context code is checked (the goroutine list needs a process).
	out=$("$CTXTRACE" inspect "$work/newer-stripped" 2>&1 >/dev/null)
	if [ $? -eq 0 ] && [ "$out" = "warning: Go 1.$nminor is newer than ctxtrace's offset table (1.19-$latest): Go $latest's layout fits its context code (the goroutine list is checked when attaching)" ]; then
		ok "go1.$nminor stripped: inspect warns once"
	else
		not_ok "go1.$nminor stripped: inspect warns once" "$out"
	fi
	err_off=$("$dump" --table "${latest#1.}" | awk '$1=="cancelCtx.err"{print $2}')
	out=$(CTXTRACE_TEST_OFFSETS=cancelCtx.err=$((err_off + 8)) "$CTXTRACE" inspect "$work/newer-stripped" 2>&1 >/dev/null)
	if [ $? -eq 1 ] && [ "$(wc -l <<<"$out")" = 1 ] &&
		grep -q "does not fit it: context.(\*cancelCtx).Err reads its receiver at +$err_off, not cancelCtx.err at +$((err_off + 8))$" <<<"$out"; then
		ok "go1.$nminor stripped, cancelCtx.err perturbed: inspect refuses"
	else
		not_ok "go1.$nminor stripped, cancelCtx.err perturbed: inspect refuses" "$out"
	fi
	"$dump" --resolve "$work/newer-plain" >"$work/newer.out" 2>"$work/newer.err"
	rc=$?
	if [ $rc -eq 0 ] && grep -q "Go 1.$nminor is newer" "$work/newer.err" &&
		[ "$(grep -c ' DWARF$' "$work/newer.out")" -eq "$(nfields "$nminor")" ]; then
		ok "go1.$nminor with DWARF: warns and reads DWARF"
	else
		not_ok "go1.$nminor with DWARF: warns and reads DWARF" "rc=$rc" "$(cat "$work/newer.err" "$work/newer.out" | head)"
	fi
else
	skip "newer-Go check: cannot rewrite $gover in place"
fi
oldest=$(echo "$versions" | head -1)
if [ "$oldest" = 1.19 ]; then
	gover=$("$(go_tool 1.19)" env GOVERSION)
	mk_version "$(go_bin 1.19 plain offsets_probe)" "$work/older" "$gover" "go1.18${gover#go1.19}"
	out=$("$dump" --resolve "$work/older" 2>&1)
	if [ $? -ne 0 ] && grep -q "Go 1.18 is not supported (1.19 or newer)" <<<"$out"; then
		ok "go1.18: refused with a clear message"
	else
		not_ok "go1.18: refused with a clear message" "$out"
	fi
fi
done_testing
