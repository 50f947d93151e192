#!/usr/bin/env bash
# The Go binary reader on inputs it must refuse or survive: a missing file, a
# directory, a non-ELF file, a non-Go ELF (/bin/ls), a wrong architecture, truncated
# and corrupted Go binaries (random bytes flipped in .gopclntab and .go.buildinfo), a
# build info claiming go1.12 and a pre-1.18 pclntab. Each must end in exit 0, or exit
# 1 with one "error: ..." line, within seconds, never with a signal.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/lib.sh
DUMP=${GOELF_DUMP:-$OUT/tools/goelf_dump}
tmp=$(mktemp -d /tmp/ct-goelf-bad.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
[ -x "$DUMP" ] || { not_ok "goelf_dump built" "missing $DUMP"; exit 1; }

src=""
for v in $(go_versions | sort -t. -k2 -rn); do
	b=$(go_bin "$v" plain inspect_target)
	[ -f "$b" ] && { src=$b; break; }
done

# expect_error NAME FILE REGEX: exit 1, exactly one line, "error: " + REGEX.
expect_error() {
	local n=$1 f=$2 re=$3 out rc
	out=$(timeout 20 "$DUMP" info "$f" 2>&1)
	rc=$?
	if [ $rc -eq 1 ] && [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] && [[ $out =~ ^error:\ $re ]]; then
		ok "$n: $out"
	else
		not_ok "$n" "exit $rc, want 1 and 'error: $re'" "$out"
	fi
}

# survives NAME FILE: exits 0 or 1 (one error line), and when it opens, listing the
# functions and symbolizing pcs inside them neither crashes nor hangs.
survives() {
	local n=$1 f=$2 out rc
	out=$(timeout 20 "$DUMP" info "$f" 2>&1)
	rc=$?
	if [ $rc -eq 1 ] && [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] && [[ $out == error:* ]]; then
		echo "$out"
		return 0
	fi
	[ $rc -eq 0 ] || { echo "info exit $rc: $(echo "$out" | tail -2)"; return 1; }
	timeout 60 "$DUMP" funcs "$f" >"$tmp/funcs" 2>&1 || { echo "funcs exit $?"; return 1; }
	awk 'NR % 7 == 0 && NR < 28000 {print $1; print $2}' "$tmp/funcs" >"$tmp/pcs"
	timeout 60 "$DUMP" sym "$f" <"$tmp/pcs" >/dev/null 2>&1 || { echo "sym exit $?"; return 1; }
	awk 'NR <= 3000 {sub(/^[^ ]+ [^ ]+ [^ ]+ /, ""); print}' "$tmp/funcs" >"$tmp/names"
	timeout 60 "$DUMP" find "$f" <"$tmp/names" >/dev/null 2>&1 || { echo "find exit $?"; return 1; }
	echo "opened; $(wc -l <"$tmp/funcs") functions listed and symbolized"
}

expect_error "missing file" /nonexistent/ctxtrace-x 'No such file or directory$'
expect_error "directory" /tmp 'a directory, not an executable$'
expect_error "/bin/ls" /bin/ls 'not a Go program \(no \.gopclntab section\)$'
printf 'hello\n%.0s' $(seq 20) >"$tmp/text"
expect_error "text file" "$tmp/text" 'not an ELF executable$'
: >"$tmp/empty"
expect_error "empty file" "$tmp/empty" 'not an ELF executable \(0 bytes\)$'

if [ -z "$src" ]; then
	not_ok "a Go build of inspect_target to corrupt" "none under $GOBIN_DIR"
	done_testing
	exit
fi
size=$(stat -c %s "$src")

# patch OUT PYTHON-EXPR...: a copy of $src edited by python (d: bytearray, sec(name): (off, size)).
patch() {
	local out=$1; shift
	python3 - "$src" "$out" "$@" <<'PY'
import random, struct, sys
src, out, code = sys.argv[1], sys.argv[2], sys.argv[3]
d = bytearray(open(src, 'rb').read())
shoff, = struct.unpack_from('<Q', d, 0x28)
shentsize, shnum, shstrndx = struct.unpack_from('<HHH', d, 0x3a)
def shdr(i):
    return struct.unpack_from('<IIQQQQIIQQ', d, shoff + i * shentsize)
stroff = shdr(shstrndx)[4]
def sec(name):
    for i in range(shnum):
        h = shdr(i)
        n = d[stroff + h[0]:d.index(b'\0', stroff + h[0])].decode()
        if n == name:
            return h[4], h[5]
    raise SystemExit('no section ' + name)
exec(code)
open(out, 'wb').write(d)
PY
}

patch "$tmp/arm64" 'struct.pack_into("<H", d, 18, 183)'
expect_error "wrong architecture (aarch64)" "$tmp/arm64" 'unsupported architecture \(ELF machine 183\); only x86-64 is supported$'
patch "$tmp/elf32" 'd[4] = 1'
expect_error "32-bit ELF" "$tmp/elf32" 'not a 64-bit little-endian ELF file$'
# Without its section the table is still found (runtime.pclntab, or its header in a
# read-only segment: Go 1.19 external PIE links have no .gopclntab); with the header
# gone too, the binary is refused.
patch "$tmp/nopcln" 'o, n = sec(".gopclntab"); s = d.index(b".gopclntab"); d[s:s+10] = b".xopclntab"'
want=$("$DUMP" --no-symtab info "$src" | grep -E '^(nfunc|text_start)=' | tr '\n' ' ')
got=$("$DUMP" --no-symtab info "$tmp/nopcln" | grep -E '^(nfunc|text_start)=' | tr '\n' ' ')
[ -n "$want" ] && [ "$got" = "$want" ] && ok "no .gopclntab section: table found by its header ($got)" ||
	not_ok "no .gopclntab section: table found by its header" "want $want" "got $got"
patch "$tmp/nopcln2" 'o, n = sec(".gopclntab"); s = d.index(b".gopclntab"); d[s:s+10] = b".xopclntab"; d[o:o+4] = b"\0\0\0\0"'
expect_error "no .gopclntab section, header wiped (runtime.pclntab in .symtab)" "$tmp/nopcln2" 'unknown pclntab magic 0x00000000$'
out=$(timeout 20 "$DUMP" --no-symtab info "$tmp/nopcln2" 2>&1)
[ "$out" = "error: not a Go program (no .gopclntab section)" ] && ok "no .gopclntab section, header wiped, no .symtab: $out" ||
	not_ok "no .gopclntab section, header wiped, no .symtab" "$out"

for frac in 2 3 10; do
	head -c $((size / frac)) "$src" >"$tmp/trunc"
	expect_error "truncated to 1/$frac" "$tmp/trunc" 'truncated file'
done
head -c 100 "$src" >"$tmp/trunc"
expect_error "truncated to 100 bytes" "$tmp/trunc" '(truncated|corrupted)'

patch "$tmp/go112" 'o, n = sec(".go.buildinfo"); i = d.index(b"go1.", o); e = d.index(b"\n", i) if False else i + 1 + d[i - 1] - 1; old = bytes(d[i:i + d[i - 1]]); new = b"go1.12.17".ljust(len(old), b" ")[:len(old)]; d[i:i + len(old)] = new'
out=$(timeout 20 "$DUMP" info "$tmp/go112" 2>&1)
# go1.12.17 cut to the length of the version it replaces ("go1.27.4": go1.12.1).
if grep -q '^minor=12$' <<<"$out" && grep -q '^version=go1\.12\.1' <<<"$out"; then
	ok "fake build info claiming go1.12: opens and reports 1.12 for the caller to reject"
else
	not_ok "fake build info claiming go1.12" "$(echo "$out" | head -5)"
fi

patch "$tmp/pcln116" 'o, n = sec(".gopclntab"); struct.pack_into("<I", d, o, 0xfffffffa)'
out=$(timeout 20 "$DUMP" info "$tmp/pcln116" 2>&1)
if grep -q '^func_error=pclntab of Go 1.17 or older is not supported$' <<<"$out" && grep -q '^nfunc=0$' <<<"$out"; then
	ok "pre-1.18 pclntab magic: opens, no functions, the reason in func_error"
else
	not_ok "pre-1.18 pclntab magic" "$(echo "$out" | grep -E 'func_error|nfunc|error')"
fi
patch "$tmp/badmagic" 'o, n = sec(".gopclntab"); struct.pack_into("<I", d, o, 0x12345678)'
expect_error "unknown pclntab magic" "$tmp/badmagic" 'unknown pclntab magic 0x12345678$'
patch "$tmp/nobi" 'o, n = sec(".go.buildinfo"); d[o:o + 14] = b"\0" * 14'
expect_error "build info header wiped" "$tmp/nobi" 'no Go build info header'

# A PIE whose pointers are only in R_X86_64_RELATIVE addends (the file holds zeros,
# as some linkers leave it): moduledata, and with it runtime.text and go:func.*,
# must still be found without .symtab, equal to what the untouched file gives.
pie=""
for v in $(go_versions | sort -t. -k2 -rn); do
	b=$(go_bin "$v" pie inspect_target)
	[ -f "$b" ] && { pie=$b; break; }
done
if [ -n "$pie" ]; then
	python3 - "$pie" "$tmp/pie-zeroed" <<'PY'
import struct, sys
d = bytearray(open(sys.argv[1], 'rb').read())
shoff, = struct.unpack_from('<Q', d, 0x28)
shentsize, shnum = struct.unpack_from('<HH', d, 0x3a)
phoff, = struct.unpack_from('<Q', d, 0x20)
phentsize, phnum = struct.unpack_from('<HH', d, 0x36)
segs = []
for i in range(phnum):
    t, fl, off, va, pa, fsz, msz, al = struct.unpack_from('<IIQQQQQQ', d, phoff + i * phentsize)
    if t == 1:
        segs.append((va, off, fsz))
def foff(va):
    for s_va, s_off, s_fsz in segs:
        if s_va <= va < s_va + s_fsz:
            return s_off + va - s_va
zeroed = 0
for i in range(shnum):
    name, typ, flags, addr, off, size, link, info, align, ent = struct.unpack_from('<IIQQQQIIQQ', d, shoff + i * shentsize)
    if typ != 4 or not flags & 2:
        continue
    for r in range(off, off + size, 24):
        r_off, r_info, r_add = struct.unpack_from('<QQq', d, r)
        if r_info & 0xffffffff == 8:
            o = foff(r_off)
            if o is not None:
                struct.pack_into('<Q', d, o, 0)
                zeroed += 1
print(zeroed, 'relocated words zeroed')
open(sys.argv[2], 'wb').write(d)
PY
	want=$("$DUMP" --no-symtab info "$pie" | grep -E '^(text_start|moduledata|gofunc|nfunc)=' | tr '\n' ' ')
	got=$("$DUMP" --no-symtab info "$tmp/pie-zeroed" | grep -E '^(text_start|text_source|moduledata|gofunc|nfunc)=' | tr '\n' ' ')
	if [ -n "$want" ] && [[ $got == *"text_source=moduledata"* ]] &&
		[ "$(echo "$got" | sed 's/text_source=[^ ]* //')" = "$want" ]; then
		ok "PIE with relocation-only pointers: $got"
	else
		not_ok "PIE with relocation-only pointers" "untouched: $want" "zeroed: $got"
	fi
fi

# Random corruption: each must be refused cleanly or read without a crash.
for seed in $(seq 1 ${GOELF_CORRUPT_SEEDS:-12}); do
	for what in .gopclntab .go.buildinfo; do
		case $what in
		.gopclntab) flips=$((seed * 40)) region="o + 72 if $seed % 3 else o" ;;
		*) flips=$((seed % 5 + 1)) region="o" ;;
		esac
		patch "$tmp/corrupt" "random.seed($seed); o, n = sec('$what')
for _ in range($flips):
    i = random.randrange($region, o + n)
    d[i] ^= 1 << random.randrange(8)"
		check "corrupted $what (seed $seed, $flips bits)" survives "corrupted $what" "$tmp/corrupt"
	done
done
# The pclntab's header fields, one at a time, set to extreme values.
for field in 8 16 24 32 40 48 56 64; do
	for val in 0 0xffffffffffffffff 0x7fffffff; do
		patch "$tmp/hdr" "o, n = sec('.gopclntab'); struct.pack_into('<Q', d, o + $field, $val)"
		check "pclntab header field +$field = $val" survives "header" "$tmp/hdr"
	done
done
done_testing
