#!/usr/bin/env bash
# The Go binary reader (src/binary/goelf.c) against the Go toolchain's own tools and
# DWARF, on tests/go/inspect_target built by every installed Go x plain/stripped/pie/cgo:
# - the version equals `go version BINARY`;
# - every `T` symbol of `go tool nm` is found by name at nm's address (with .symtab, and
#   without it, from the pclntab alone); a stripped build is compared with its plain
#   twin's nm only when the two .text sections are byte-identical at the same address;
# - ~200 random pcs give `go tool addr2line`'s function (outermost) and file:line
#   (innermost); where that tool cannot read the binary (Go 1.19 on PIE: it does not
#   know .data.rel.ro.gopclntab), the DWARF's outermost function instead;
# - every frame, inline frames included, equals llvm-symbolizer's DWARF answer
#   (DW_TAG_inlined_subroutine), for builds with DWARF.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/lib.sh
DUMP=${GOELF_DUMP:-$OUT/tools/goelf_dump}
PROG=inspect_target
SAMPLES=${GOELF_SAMPLES:-200}
tmp=$(mktemp -d /tmp/ct-goelf.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

[ -x "$DUMP" ] || { not_ok "goelf_dump built" "missing $DUMP (make $DUMP)"; exit 1; }
command -v python3 >/dev/null || { not_ok "python3 present"; exit 1; }

# nm_T BINARY GO MODE: "addr name" for every text symbol. External linking (cgo) makes
# Go's functions local ("t"); there, Go's own are those with a package-qualified name
# (C names have no '.', but for gcc's clones: x.cold, x.part.0, x.constprop.0), less
# the runtime.text/etext markers.
nm_T() {
	if [ "$3" = cgo ]; then
		"$2" tool nm "$1" | awk '$2=="T"||$2=="t"{a=$1; sub(/^ *[0-9a-f]+ [Tt] /,""); print a" "$0}' |
			grep '\.' | grep -Ev ' runtime\.e?text$|\.(cold|part|constprop|isra|lto_priv)(\.[0-9]+)*$'
	else
		"$2" tool nm "$1" | awk '$2=="T"{a=$1; sub(/^ *[0-9a-f]+ T /,""); print a" "$0}'
	fi
}

# compare_find NMFILE FINDFILE: every nm name found at nm's address.
compare_find() {
	python3 - "$1" "$2" <<'PY'
import sys
nm = [l.rstrip('\n').split(' ', 1) for l in open(sys.argv[1])]
fd = [l.rstrip('\n').rsplit(' ', 1) for l in open(sys.argv[2])]
# Go 1.27 names a closure made by inlining after the function it was written in,
# so several local symbols share one name: any of their addresses is right.
addrs = {}
for a, n in nm:
    addrs.setdefault(n, set()).add(int(a, 16))
bad = []
for (a, n), (n2, f) in zip(nm, fd):
    if n != n2 or f == '-' or int(f, 16) not in addrs[n]:
        bad.append('%s: nm 0x%s, goelf %s' % (n, a, f))
if len(nm) != len(fd) or not nm:
    bad.append('%d names, %d answers' % (len(nm), len(fd)))
print('%d symbols, %d wrong' % (len(nm), len(bad)))
for b in bad[:8]:
    print(b)
sys.exit(1 if bad else 0)
PY
}

# compare_stripped NMFILE FINDFILE ADDR2LINE: every name found; go tool addr2line names
# the function at the address found, and another one just before it (the address is
# the function's start) unless the name has an ABI0 twin of the same pclntab name.
compare_stripped() {
	python3 - "$@" <<'PY'
import sys
nm = [l.rstrip('\n').split(' ', 1)[1] for l in open(sys.argv[1])]
names = set(nm)
fd = [l.rstrip('\n').rsplit(' ', 1) for l in open(sys.argv[2])]
a2l = open(sys.argv[3]).read().split('\n')
def norm(n):
    n = n.replace('\u00b7', '.')
    return n[:-5] if n.endswith('.abi0') else n
bad, k = [], 0
for n, f in fd:
    if f == '-':
        bad.append('%s: not found' % n)
        continue
    at, before = a2l[4 * k], a2l[4 * k + 2]
    k += 1
    base = norm(n)
    twin = (n + '.abi0') in names or n.endswith('.abi0')
    if norm(at) != base or (norm(before) == base and not twin):
        bad.append('%s at %s: addr2line says %s there, %s just before' % (n, f, at, before))
print('%d symbols, %d wrong' % (len(fd), len(bad)))
for b in bad[:8]:
    print(b)
sys.exit(1 if bad or not fd else 0)
PY
}

# pick_pcs FUNCS N SEED: N random pcs inside random functions (from goelf's list: which
# pcs are asked does not decide what the answer must be).
pick_pcs() {
	python3 - "$1" "$2" "$3" <<'PY'
import sys, random
funcs = [l.split(' ', 3) for l in open(sys.argv[1])]
funcs = [f for f in funcs if f[2] == '0']
random.seed(int(sys.argv[3]))
n = int(sys.argv[2])
# Half of the sample from main and context, where the inline helpers are.
ours = [f for f in funcs if f[3].startswith(('main.', 'context.'))]
pick = random.sample(funcs, min(len(funcs), n - n // 4)) + random.sample(ours, min(len(ours), n // 4))
for f in pick:
    print('0x%x' % random.randrange(int(f[0], 16), int(f[1], 16)))
PY
}

# compare_addr2line PCS ADDR2LINE_OUT SYM_OUT
compare_addr2line() {
	python3 - "$@" <<'PY'
import sys
pcs = open(sys.argv[1]).read().split()
go = open(sys.argv[2]).read().split('\n')
me = open(sys.argv[3]).read().rstrip('\n').split('\n')
bad = []
for i, pc in enumerate(pcs):
    gf, gl = go[2 * i], go[2 * i + 1]
    if gl == ':-1' or gl == '?:0':
        gl = '?:0'  # no file table: addr2line prints ":-1", goelf "?" and 0
    fr = me[i].split('\t')[1:]
    if fr == ['-']:
        bad.append('%s: goelf found no function, addr2line %s %s' % (pc, gf, gl))
        continue
    outer = fr[-1].split('@', 1)[0]
    inner = fr[0].split('@', 1)[1].replace('|inl', '')
    if gf != outer or gl != inner:
        bad.append('%s: addr2line %s %s, goelf %s' % (pc, gf, gl, me[i]))
print('%d pcs, %d differ' % (len(pcs), len(bad)))
for b in bad[:8]:
    print(b)
sys.exit(1 if bad or not pcs else 0)
PY
}

# compare_dwarf PCS LLVM_OUT SYM_OUT MODE: MODE=outer compares only the outermost
# function; MODE=all every frame.
compare_dwarf() {
	python3 - "$@" <<'PY'
import sys
def elide(n):
    # Go 1.18/1.19 pclntabs write "f[...]" for type arguments; DWARF spells them out.
    out, d = [], 0
    for c in n:
        if c == '[':
            if d == 0:
                out.append('[...')
            d += 1
        elif c == ']':
            d -= 1
            if d == 0:
                out.append(']')
        elif d == 0:
            out.append(c)
    return ''.join(out)
def norm(fn, fl):
    while fl.startswith('./'):
        fl = fl[2:]
    if fn.endswith('.abi0'):
        fn = fn[:-5]  # DWARF names assembly functions "x.abi0", the pclntab "x"
    return (elide(fn).replace('\u00b7', '.'), fl)
pcs = open(sys.argv[1]).read().split()
ll = open(sys.argv[2]).read().split('\n\n')
me = open(sys.argv[3]).read().rstrip('\n').split('\n')
mode = sys.argv[4]
bad, inl, skipped, wrappers, strict = [], 0, 0, 0, 0
for i, pc in enumerate(pcs):
    lines = ll[i].strip('\n').split('\n')
    dw = [norm(lines[j], lines[j + 1].rsplit(':', 1)[0]) for j in range(0, len(lines) - 1, 2)]
    fr = [norm(*x.replace('|inl', '').split('@', 1)) for x in me[i].split('\t')[1:]]
    if not dw or dw[0][0] == '??':
        skipped += 1  # no DWARF for this pc (assembly without debug info)
        continue
    if fr == [('-',)] or not fr or len(fr[0]) != 2:
        bad.append('%s: goelf found nothing, DWARF %s' % (pc, dw))
        continue
    if len(fr) > 1:
        inl += 1
    if mode == 'outer':
        ok = dw[-1][0] == fr[-1][0]
    elif any('<autogenerated>' in f[1] or '??' in f[1] for f in dw + fr):
        # Compiler-generated wrappers: DWARF has no inline records for them and
        # attributes positions differently; their outermost function must agree.
        wrappers += 1
        ok = dw[-1][0] == fr[-1][0]
    else:
        ok = dw == fr
        strict += len(fr) > 1
    if not ok:
        bad.append('%s: DWARF %s, goelf %s' % (pc, dw, fr))
print('%d pcs, %d with inline frames (%d compared frame by frame), %d wrappers, %d without DWARF, %d differ'
      % (len(pcs), inl, strict, wrappers, skipped, len(bad)))
for b in bad[:8]:
    print(b)
sys.exit(1 if bad or skipped > len(pcs) // 2 or (mode == 'all' and strict < 5) else 0)
PY
}

# run_check NAME CMD...: ok/not ok with CMD's output as the reason.
run_check() {
	local n=$1 out; shift
	if out=$("$@" 2>&1); then ok "$n ($(echo "$out" | head -1))"; else not_ok "$n" "$(echo "$out" | head -12)"; fi
}

seen=0
for v in $(go_versions); do
	go=$(go_tool "$v")
	for m in plain stripped pie cgo; do
		b=$(go_bin "$v" "$m" "$PROG")
		[ -f "$b" ] || continue
		seen=$((seen + 1))
		t="go$v $m"
		if ! "$DUMP" info "$b" >"$tmp/info" 2>&1; then
			not_ok "$t: opens" "$(cat "$tmp/info")"
			continue
		fi
		want=$("$go" version "$b" | sed 's/^[^:]*: //')
		got=$(sed -n 's/^version=//p' "$tmp/info")
		[ "$got" = "$want" ] && ok "$t: version $got" || not_ok "$t: version" "go version: $want" "goelf: $got"
		# Module info against `go version -m` (Go 1.19 does not record -buildmode=exe).
		"$go" version -m "$b" >"$tmp/vm"
		mi() { awk -F'\t' -v k="$1" '$2==k{print $3}' "$tmp/vm"; }
		bs() { awk -F'\t' -v k="$1" '$2=="build" && index($3, k"=")==1 {v=substr($3, length(k)+2); gsub(/^"|"$/, "", v); gsub(/\\"/, "\"", v); print v}' "$tmp/vm"; }
		want="path=$(mi path) mod=$(mi mod) cgo=$([ "$(bs CGO_ENABLED)" = 1 ] && echo 1 || echo 0) buildmode=$(bm=$(bs -buildmode); echo "${bm:-exe}") ldflags=$(bs -ldflags)"
		got="path=$(sed -n 's/^path=//p' "$tmp/info") mod=$(sed -n 's/^mod=//p' "$tmp/info") cgo=$(sed -n 's/^build_cgo=//p' "$tmp/info") buildmode=$(sed -n 's/^buildmode=//p' "$tmp/info") ldflags=$(sed -n 's/^ldflags=//p' "$tmp/info")"
		[ "$got" = "$want" ] && ok "$t: module info ($got)" || not_ok "$t: module info" "go version -m: $want" "goelf: $got"
		exp_pie=0 exp_cgo=0 exp_sym=1
		[ "$m" = pie ] && exp_pie=1
		[ "$m" = cgo ] && exp_cgo=1
		[ "$m" = stripped ] && exp_sym=0
		facts="pie=$(sed -n 's/^pie=//p' "$tmp/info") cgo=$(sed -n 's/^cgo=//p' "$tmp/info") symtab=$(sed -n 's/^symtab=//p' "$tmp/info")"
		[ "$facts" = "pie=$exp_pie cgo=$exp_cgo symtab=$exp_sym" ] && ok "$t: $facts" ||
			not_ok "$t: ELF facts" "want pie=$exp_pie cgo=$exp_cgo symtab=$exp_sym" "got $facts"
		"$DUMP" funcs "$b" >"$tmp/funcs"
		# runtime.firstmoduledata and go:func.* found by the moduledata's structure
		# (without .symtab) where go tool nm puts them.
		if [ "$m" != stripped ]; then
			want=$("$go" tool nm "$b" | awk '$3=="runtime.firstmoduledata"{md=$1} $3=="go:func.*"||$3=="go.func.*"{gf=$1} END{printf "moduledata=0x%s gofunc=0x%s", md, gf}')
			got=$("$DUMP" --no-symtab info "$b" | awk -F= '$1=="moduledata"{md=$2} $1=="gofunc"{gf=$2} END{printf "moduledata=%s gofunc=%s", md, gf}')
			[ "$got" = "$want" ] && ok "$t: pclntab only: $got" || not_ok "$t: moduledata by structure" "go tool nm: $want" "goelf: $got"
		fi

		# Functions by name against go tool nm.
		if [ "$m" != stripped ]; then
			nm_T "$b" "$go" "$m" >"$tmp/nm"
			cut -d' ' -f2- "$tmp/nm" | "$DUMP" find "$b" >"$tmp/find"
			run_check "$t: nm T symbols by name (symtab)" compare_find "$tmp/nm" "$tmp/find"
			# From the pclntab alone; Go 1.19 names generic instantiations "f[...]".
			if [ "$v" = 1.19 ]; then grep -v '\[' "$tmp/nm" >"$tmp/nm2"; else cp "$tmp/nm" "$tmp/nm2"; fi
			cut -d' ' -f2- "$tmp/nm2" | "$DUMP" --no-symtab find "$b" >"$tmp/find"
			run_check "$t: nm T symbols by name (pclntab only)" compare_find "$tmp/nm2" "$tmp/find"
		else
			p=$(go_bin "$v" plain "$PROG")
			if [ -f "$p" ] && objcopy -O binary --only-section=.text "$b" "$tmp/t1" 2>/dev/null &&
				objcopy -O binary --only-section=.text "$p" "$tmp/t2" 2>/dev/null &&
				cmp -s "$tmp/t1" "$tmp/t2" &&
				[ "$(readelf -SW "$b" | awk '$2==".text"{print $4}')" = "$(readelf -SW "$p" | awk '$2==".text"{print $4}')" ]; then
				nm_T "$p" "$go" plain >"$tmp/nm"
				if [ "$v" = 1.19 ]; then grep -v '\[' "$tmp/nm" >"$tmp/nm2"; else cp "$tmp/nm" "$tmp/nm2"; fi
				cut -d' ' -f2- "$tmp/nm2" | "$DUMP" find "$b" >"$tmp/find"
				run_check "$t: plain build's nm T symbols by name (same .text)" compare_find "$tmp/nm2" "$tmp/find"
			elif [ -f "$p" ]; then
				# Another layout: the plain build's names, found in the stripped one,
				# must be where the stripped binary's own pclntab, read by go tool
				# addr2line, puts that function's first instruction.
				nm_T "$p" "$go" plain >"$tmp/nm"
				if [ "$v" = 1.19 ]; then grep -v '\[' "$tmp/nm" >"$tmp/nm2"; else cp "$tmp/nm" "$tmp/nm2"; fi
				cut -d' ' -f2- "$tmp/nm2" | "$DUMP" find "$b" >"$tmp/find"
				python3 -c 'import sys
for l in sys.stdin:
    f = l.split()[-1]
    if f != "-": print("%x\n%x" % (int(f, 16), int(f, 16) - 1))' <"$tmp/find" |
					"$go" tool addr2line "$b" >"$tmp/a2l" 2>&1
				run_check "$t: plain build's nm T symbols by name (addr2line of the stripped build)" \
					compare_stripped "$tmp/nm2" "$tmp/find" "$tmp/a2l"
			else
				skip "$t: no plain build to take names from"
			fi
		fi

		# pc -> function, file:line against go tool addr2line.
		pick_pcs "$tmp/funcs" "$SAMPLES" "${v#1.}" >"$tmp/pcs"
		"$DUMP" sym "$b" <"$tmp/pcs" >"$tmp/sym"
		sed 's/^0x//' "$tmp/pcs" | "$go" tool addr2line "$b" >"$tmp/a2l" 2>&1
		if [ "$(grep -c '^?$' "$tmp/a2l")" -lt "$(wc -l <"$tmp/pcs")" ]; then
			run_check "$t: pcs vs go tool addr2line" compare_addr2line "$tmp/pcs" "$tmp/a2l" "$tmp/sym"
		elif [ "$m" != stripped ]; then
			llvm-symbolizer --obj="$b" --inlines --functions=linkage <"$tmp/pcs" >"$tmp/dw" 2>/dev/null
			run_check "$t: pcs vs DWARF outermost function (addr2line cannot read it)" \
				compare_dwarf "$tmp/pcs" "$tmp/dw" "$tmp/sym" outer
		else
			not_ok "$t: go tool addr2line reads nothing and there is no DWARF"
		fi
		# Inline frames against DWARF.
		if [ "$m" != stripped ]; then
			llvm-symbolizer --obj="$b" --inlines --functions=linkage <"$tmp/pcs" >"$tmp/dw" 2>/dev/null
			run_check "$t: all frames vs DWARF inlined subroutines" \
				compare_dwarf "$tmp/pcs" "$tmp/dw" "$tmp/sym" all
		fi
	done
done
[ "$seen" -gt 0 ] || not_ok "inspect_target builds present" "none under $GOBIN_DIR (scripts/build-go-tests.sh)"
done_testing
