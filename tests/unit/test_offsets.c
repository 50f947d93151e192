#include <elf.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "binary/offsets.h"
#include "util/log.h"

/* The JSON keys are an interface: changing one breaks saved outputs and readers. */
static const char *const golden_keys[GO_OFF_COUNT] = {
	"goid", "atomicstatus", "waitreason", "waitsince", "m", "sched.sp", "sched.pc",
	"sched.bp", "gopc", "startpc", "parentGoid", "syscallsp", "syscallpc", "stack.lo",
	"stack.hi", "m.curg", "m.procid", "cancelCtx.Context", "cancelCtx.mu",
	"cancelCtx.done", "cancelCtx.children", "cancelCtx.err", "cancelCtx.cause",
	"timerCtx.cancelCtx", "timerCtx.timer", "timerCtx.deadline", "valueCtx.Context",
	"valueCtx.key", "valueCtx.val", "afterFuncCtx.cancelCtx", "afterFuncCtx.once",
	"afterFuncCtx.f", "withoutCancelCtx.c", "waiting", "sudog.g", "sudog.elem", "sudog.c",
	"sudog.waitlink", "sudog.isSelect", "hchan.qcount", "hchan.dataqsiz", "hchan.closed",
	"hchan.elemtype", "hchan.recvq", "hchan.sendq", "moduledata.itablinks",
	"moduledata.itaboffset", "moduledata.itabsize",
};

static void test_names_stable_unique(void **state)
{
	for (int f = 0; f < GO_OFF_COUNT; f++) {
		assert_non_null(go_off_name(f));
		assert_string_equal(go_off_name(f), golden_keys[f]);
		assert_int_equal(go_off_by_name(golden_keys[f]), f);
		assert_non_null(go_off_ident(f));
		assert_int_equal(strncmp(go_off_ident(f), "GO_OFF_", 7), 0);
		for (int g = 0; g < f; g++) {
			assert_string_not_equal(go_off_name(f), go_off_name(g));
			assert_string_not_equal(go_off_ident(f), go_off_ident(g));
		}
	}
	assert_null(go_off_name(GO_OFF_COUNT));
	assert_null(go_off_name((enum go_off)-1));
	assert_null(go_off_ident(GO_OFF_COUNT));
	assert_int_equal(go_off_by_name("nope"), -ENOENT);
	assert_int_equal(go_off_by_name(NULL), -ENOENT);
}

static void test_dwarf_paths(void **state)
{
	for (int f = 0; f < GO_OFF_COUNT; f++) {
		const char *type, *path;

		go_off_dwarf_path(f, &type, &path);
		assert_non_null(type);
		assert_non_null(path);
		assert_true(strncmp(type, "runtime.", 8) == 0 || strncmp(type, "context.", 8) == 0);
	}
}

/* The generated table must describe the enum it is compiled with. */
static void test_table_current(void **state)
{
	assert_int_equal(go_offsets_table_nkeys, GO_OFF_COUNT);
	for (int f = 0; f < GO_OFF_COUNT; f++)
		assert_string_equal(go_offsets_table_keys[f], go_off_name(f));
	assert_true(go_offsets_table_len >= 2);
	for (int i = 1; i < go_offsets_table_len; i++)
		assert_true(go_offsets_table[i].minor > go_offsets_table[i - 1].minor);
	assert_int_equal(offsets__table_min_minor(), 19);
	assert_true(offsets__table_max_minor() >= 26);
}

static void test_table_lookup(void **state)
{
	struct go_offsets o;

	for (int i = 0; i < go_offsets_table_len; i++) {
		int minor = go_offsets_table[i].minor;
		char want[16];

		snprintf(want, sizeof(want), "go1.%d.", minor);
		assert_int_equal(strncmp(go_offsets_table[i].go_version, want, strlen(want)), 0);
		assert_int_equal(offsets__from_table(minor, &o), 0);
		assert_int_equal(o.table_minor, minor);
		for (int f = 0; f < GO_OFF_COUNT; f++) {
			if (!go_off_in(f, minor)) {
				/* Not in this Go version: absent, never 0. */
				assert_int_equal(o.v[f], -1);
				assert_int_equal(o.src[f], GO_OFF_ABSENT);
			} else {
				assert_true(o.v[f] >= 0 && o.v[f] < 4096);
				assert_int_equal(o.src[f], GO_OFF_TABLE);
			}
		}
		/* Layout facts that hold in every version: embedded first fields, and
		 * the struct types' field order. */
		assert_int_equal(o.v[GO_OFF_CANCELCTX_CONTEXT], 0);
		assert_int_equal(o.v[GO_OFF_TIMERCTX_CANCELCTX], 0);
		assert_int_equal(o.v[GO_OFF_G_STACK_LO], 0);
		assert_int_equal(o.v[GO_OFF_G_STACK_HI], 8);
		assert_true(o.v[GO_OFF_G_SCHED_SP] < o.v[GO_OFF_G_SCHED_PC]);
		assert_true(o.v[GO_OFF_G_ATOMICSTATUS] < o.v[GO_OFF_G_GOID]);
		assert_true(o.v[GO_OFF_G_GOPC] < o.v[GO_OFF_G_STARTPC]);
		assert_true(o.v[GO_OFF_VALUECTX_KEY] < o.v[GO_OFF_VALUECTX_VAL]);
	}
	assert_int_equal(offsets__from_table(19, &o), 0);
	assert_int_equal(o.v[GO_OFF_G_PARENTGOID], -1);
	assert_int_equal(o.v[GO_OFF_CANCELCTX_CAUSE], -1);
	assert_int_equal(o.v[GO_OFF_AFTERFUNCCTX_F], -1);
	assert_int_equal(o.v[GO_OFF_WITHOUTCANCELCTX_C], -1);
}

static void test_table_missing_version(void **state)
{
	struct go_offsets o;

	assert_int_equal(offsets__from_table(18, &o), -ENOENT);
	assert_int_equal(o.table_minor, 0);
	for (int f = 0; f < GO_OFF_COUNT; f++) {
		assert_int_equal(o.v[f], -1);
		assert_int_equal(o.src[f], GO_OFF_ABSENT);
	}
	/* No 1.20 toolchain generated a row. */
	assert_int_equal(offsets__from_table(20, &o), -ENOENT);
	assert_int_equal(offsets__from_table(offsets__table_max_minor() + 1, &o), -ENOENT);
	assert_int_equal(offsets__from_table(-1, &o), -ENOENT);
}

static void write_tmp(char *path, const void *buf, size_t len)
{
	int fd;

	strcpy(path, "/tmp/ct-test-offsets.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	close(fd);
}

static void assert_all_absent(const struct go_offsets *o)
{
	for (int f = 0; f < GO_OFF_COUNT; f++) {
		assert_int_equal(o->v[f], -1);
		assert_int_equal(o->src[f], GO_OFF_ABSENT);
	}
}

static void test_dwarf_not_elf(void **state)
{
	char path[64];
	struct go_offsets o;
	static const char text[] = "#!/bin/sh\necho not an ELF file\n";

	write_tmp(path, text, sizeof(text) - 1);
	assert_int_equal(offsets__from_dwarf(path, &o), -ENOEXEC);
	assert_non_null(strstr(ct_errmsg(), "not an ELF"));
	assert_all_absent(&o);
	unlink(path);

	write_tmp(path, "", 0);
	assert_int_equal(offsets__from_dwarf(path, &o), -ENOEXEC);
	unlink(path);

	assert_int_equal(offsets__from_dwarf("/nonexistent/ctxtrace-test", &o), -ENOENT);
	assert_non_null(strstr(ct_errmsg(), "/nonexistent/ctxtrace-test"));
	assert_all_absent(&o);
}

/* A valid ELF header with no sections at all: no DWARF. */
static void test_dwarf_none(void **state)
{
	Elf64_Ehdr eh = { 0 };
	char path[64];
	struct go_offsets o;

	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_type = ET_EXEC;
	eh.e_machine = EM_X86_64;
	eh.e_version = EV_CURRENT;
	eh.e_ehsize = sizeof(eh);
	write_tmp(path, &eh, sizeof(eh));
	assert_int_equal(offsets__from_dwarf(path, &o), -ENODATA);
	assert_non_null(strstr(ct_errmsg(), "no DWARF"));
	assert_all_absent(&o);
	unlink(path);
}

/* This test program has DWARF (built with -g) but no Go types: every field absent. */
static void test_dwarf_not_go(void **state)
{
	struct go_offsets o;

	assert_int_equal(offsets__from_dwarf("/proc/self/exe", &o), 0);
	assert_all_absent(&o);
	assert_int_equal(o.table_minor, 0);
}

/* The structs of tests/fuzz/seeds/dwarf/gen-seeds.sh: the compiler's offsetof is the
 * truth the reader must find in each DWARF form the seeds hold. */
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

static void test_dwarf_forms(void **state)
{
	static const char *const seeds[] = { "dwarf2", "dwarf4", "dwarf5", "dwarf4-zlib", "dwarf4-zdebug" };
	int64_t want[GO_OFF_COUNT] = {
		[GO_OFF_G_GOID] = offsetof(struct runtime_g, goid),
		[GO_OFF_G_ATOMICSTATUS] = offsetof(struct runtime_g, atomicstatus),
		[GO_OFF_G_WAITREASON] = offsetof(struct runtime_g, waitreason),
		[GO_OFF_G_WAITSINCE] = offsetof(struct runtime_g, waitsince),
		[GO_OFF_G_M] = offsetof(struct runtime_g, m),
		[GO_OFF_G_SCHED_SP] = offsetof(struct runtime_g, sched.sp),
		[GO_OFF_G_SCHED_PC] = offsetof(struct runtime_g, sched.pc),
		[GO_OFF_G_SCHED_BP] = offsetof(struct runtime_g, sched.bp),
		[GO_OFF_G_GOPC] = offsetof(struct runtime_g, gopc),
		[GO_OFF_G_STARTPC] = offsetof(struct runtime_g, startpc),
		[GO_OFF_G_PARENTGOID] = offsetof(struct runtime_g, parentGoid),
		[GO_OFF_G_SYSCALLSP] = offsetof(struct runtime_g, syscallsp),
		[GO_OFF_G_SYSCALLPC] = offsetof(struct runtime_g, syscallpc),
		[GO_OFF_G_STACK_LO] = offsetof(struct runtime_g, stack.lo),
		[GO_OFF_G_STACK_HI] = offsetof(struct runtime_g, stack.hi),
		[GO_OFF_M_CURG] = offsetof(struct runtime_m, curg),
		[GO_OFF_M_PROCID] = offsetof(struct runtime_m, procid),
		[GO_OFF_CANCELCTX_CONTEXT] = offsetof(struct context_cancelCtx, Context),
		[GO_OFF_CANCELCTX_MU] = offsetof(struct context_cancelCtx, mu),
		[GO_OFF_CANCELCTX_DONE] = offsetof(struct context_cancelCtx, done),
		[GO_OFF_CANCELCTX_CHILDREN] = offsetof(struct context_cancelCtx, children),
		[GO_OFF_CANCELCTX_ERR] = offsetof(struct context_cancelCtx, err),
		[GO_OFF_CANCELCTX_CAUSE] = offsetof(struct context_cancelCtx, cause),
		[GO_OFF_TIMERCTX_CANCELCTX] = offsetof(struct context_timerCtx, cancelCtx),
		[GO_OFF_TIMERCTX_TIMER] = offsetof(struct context_timerCtx, timer),
		[GO_OFF_TIMERCTX_DEADLINE] = offsetof(struct context_timerCtx, deadline),
		[GO_OFF_VALUECTX_CONTEXT] = offsetof(struct context_valueCtx, Context),
		[GO_OFF_VALUECTX_KEY] = offsetof(struct context_valueCtx, key),
		[GO_OFF_VALUECTX_VAL] = offsetof(struct context_valueCtx, val),
		[GO_OFF_AFTERFUNCCTX_CANCELCTX] = offsetof(struct context_afterFuncCtx, cancelCtx),
		[GO_OFF_AFTERFUNCCTX_ONCE] = offsetof(struct context_afterFuncCtx, once),
		[GO_OFF_AFTERFUNCCTX_F] = offsetof(struct context_afterFuncCtx, f),
		[GO_OFF_WITHOUTCANCELCTX_C] = offsetof(struct context_withoutCancelCtx, c),
	};
	struct go_offsets o;
	char path[128];

	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		snprintf(path, sizeof(path), "tests/fuzz/seeds/dwarf/seed-%s.elf", seeds[i]);
		if (offsets__from_dwarf(path, &o) != 0)
			fail_msg("%s: %s", path, ct_errmsg());
		for (int f = 0; f < GO_OFF_COUNT; f++) {
			/* The seeds describe no sudog, hchan or moduledata: those stay absent. */
			if (f >= GO_OFF_G_WAITING) {
				if (o.src[f] != GO_OFF_ABSENT || o.v[f] != -1)
					fail_msg("%s: %s = %lld, want absent", path, go_off_name(f),
						 (long long)o.v[f]);
				continue;
			}
			if (o.src[f] != GO_OFF_DWARF || o.v[f] != want[f])
				fail_msg("%s: %s = %lld (%s), want %lld", path, go_off_name(f),
					 (long long)o.v[f], go_off_source_name(o.src[f]), (long long)want[f]);
		}
	}
	assert_int_equal(offsets__from_dwarf("tests/fuzz/seeds/dwarf/seed-nodwarf.elf", &o), -ENODATA);
}

static void test_source_names(void **state)
{
	assert_string_equal(go_off_source_name(GO_OFF_DWARF), "DWARF");
	assert_string_equal(go_off_source_name(GO_OFF_TABLE), "table");
	assert_string_equal(go_off_source_name(GO_OFF_ABSENT), "absent");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_stable_unique),
		cmocka_unit_test(test_dwarf_paths),
		cmocka_unit_test(test_table_current),
		cmocka_unit_test(test_table_lookup),
		cmocka_unit_test(test_table_missing_version),
		cmocka_unit_test(test_dwarf_not_elf),
		cmocka_unit_test(test_dwarf_none),
		cmocka_unit_test(test_dwarf_not_go),
		cmocka_unit_test(test_dwarf_forms),
		cmocka_unit_test(test_source_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
