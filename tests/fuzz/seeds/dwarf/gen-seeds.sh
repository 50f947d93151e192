#!/usr/bin/env bash
# Regenerates the fuzz_dwarf seeds: tiny ELF executables whose DWARF describes structs
# named like Go's (runtime.g, context.cancelCtx...), in the forms ctxtrace meets:
# DWARF 2 (member offsets as DW_OP_plus_uconst), 4 and 5, SHF_COMPRESSED and .zdebug_*.
# gcc cannot name a struct "runtime.g": the C names use '_' and are rewritten in place.
# (This script is itself a seed: a non-ELF input.)
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/seed.c" <<'C'
typedef unsigned long uintptr;
struct runtime_stack { uintptr lo, hi; };
struct runtime_gobuf { uintptr sp, pc, g, ctxt, ret, lr, bp; };
typedef struct runtime_gobuf gobuf_t;
struct runtime_m;
struct runtime_g {
	struct runtime_stack stack;
	uintptr stackguard0, stackguard1;
	void *panic_, *defer_;
	struct runtime_m *m;
	gobuf_t sched;
	uintptr syscallsp, syscallpc;
	unsigned int atomicstatus;
	unsigned long goid, waitsince;
	unsigned char waitreason;
	unsigned long parentGoid;
	uintptr gopc, ancestors, startpc;
};
struct runtime_m { struct runtime_g *g0; unsigned long procid; struct runtime_g *curg; };
struct iface { void *tab, *data; };
struct context_cancelCtx { struct iface Context; int mu[2]; struct iface done; void *children; struct iface err, cause; };
struct context_timerCtx { struct context_cancelCtx cancelCtx; void *timer; long deadline[3]; };
struct context_valueCtx { struct iface Context, key, val; };
struct context_afterFuncCtx { struct context_cancelCtx cancelCtx; int once[3]; void *f; };
struct context_withoutCancelCtx { struct iface c; };
struct runtime_g g;
struct runtime_m m;
struct context_timerCtx t;
struct context_valueCtx v;
struct context_afterFuncCtx a;
struct context_withoutCancelCtx w;
void _start(void) { for (;;) ; }
C
build() { # NAME GCC-FLAGS... : a static, libc-free executable with only what DWARF needs
	local name=$1; shift
	gcc -O0 "$@" -nostdlib -static -Wl,-N -Wl,--build-id=none -Wl,--no-warn-rwx-segments -o "$tmp/$name" "$tmp/seed.c"
	objcopy -R .comment -R .debug_aranges -R .debug_line -R .debug_line_str -R .debug_frame \
		-R .eh_frame -R .symtab -R .strtab "$tmp/$name"
	perl -pi -e 's/runtime_/runtime./g; s/context_/context./g' "$tmp/$name"
}
build dwarf4 -gdwarf-4
build dwarf5 -gdwarf-5
build dwarf2 -gdwarf-2 -gstrict-dwarf
objcopy --compress-debug-sections=zlib-gabi "$tmp/dwarf4" "$tmp/dwarf4-zlib"
objcopy --compress-debug-sections=zlib-gnu "$tmp/dwarf4" "$tmp/dwarf4-zdebug"
objcopy --strip-debug "$tmp/dwarf4" "$tmp/nodwarf"
for f in dwarf4 dwarf5 dwarf2 dwarf4-zlib dwarf4-zdebug nodwarf; do
	cp "$tmp/$f" "seed-$f.elf"
done
ls -l seed-*.elf
