#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "binary/goelf.h"
#include "binary/offsets.h"
#include "util/log.h"

struct go_off_spec {
	const char *key;   /* stable JSON key */
	const char *ident; /* enumerator, for the generated table */
	const char *type;  /* DWARF struct name */
	const char *path;  /* member path in it */
};

#define SPEC(e, k, t, p) [e] = { k, #e, t, p }
static const struct go_off_spec specs[GO_OFF_COUNT] = {
	SPEC(GO_OFF_G_GOID, "goid", "runtime.g", "goid"),
	SPEC(GO_OFF_G_ATOMICSTATUS, "atomicstatus", "runtime.g", "atomicstatus"),
	SPEC(GO_OFF_G_WAITREASON, "waitreason", "runtime.g", "waitreason"),
	SPEC(GO_OFF_G_WAITSINCE, "waitsince", "runtime.g", "waitsince"),
	SPEC(GO_OFF_G_M, "m", "runtime.g", "m"),
	SPEC(GO_OFF_G_SCHED_SP, "sched.sp", "runtime.g", "sched.sp"),
	SPEC(GO_OFF_G_SCHED_PC, "sched.pc", "runtime.g", "sched.pc"),
	SPEC(GO_OFF_G_SCHED_BP, "sched.bp", "runtime.g", "sched.bp"),
	SPEC(GO_OFF_G_GOPC, "gopc", "runtime.g", "gopc"),
	SPEC(GO_OFF_G_STARTPC, "startpc", "runtime.g", "startpc"),
	SPEC(GO_OFF_G_PARENTGOID, "parentGoid", "runtime.g", "parentGoid"),
	SPEC(GO_OFF_G_SYSCALLSP, "syscallsp", "runtime.g", "syscallsp"),
	SPEC(GO_OFF_G_SYSCALLPC, "syscallpc", "runtime.g", "syscallpc"),
	SPEC(GO_OFF_G_STACK_LO, "stack.lo", "runtime.g", "stack.lo"),
	SPEC(GO_OFF_G_STACK_HI, "stack.hi", "runtime.g", "stack.hi"),
	SPEC(GO_OFF_M_CURG, "m.curg", "runtime.m", "curg"),
	SPEC(GO_OFF_M_PROCID, "m.procid", "runtime.m", "procid"),
	SPEC(GO_OFF_CANCELCTX_CONTEXT, "cancelCtx.Context", "context.cancelCtx", "Context"),
	SPEC(GO_OFF_CANCELCTX_MU, "cancelCtx.mu", "context.cancelCtx", "mu"),
	SPEC(GO_OFF_CANCELCTX_DONE, "cancelCtx.done", "context.cancelCtx", "done"),
	SPEC(GO_OFF_CANCELCTX_CHILDREN, "cancelCtx.children", "context.cancelCtx", "children"),
	SPEC(GO_OFF_CANCELCTX_ERR, "cancelCtx.err", "context.cancelCtx", "err"),
	SPEC(GO_OFF_CANCELCTX_CAUSE, "cancelCtx.cause", "context.cancelCtx", "cause"),
	SPEC(GO_OFF_TIMERCTX_CANCELCTX, "timerCtx.cancelCtx", "context.timerCtx", "cancelCtx"),
	SPEC(GO_OFF_TIMERCTX_TIMER, "timerCtx.timer", "context.timerCtx", "timer"),
	SPEC(GO_OFF_TIMERCTX_DEADLINE, "timerCtx.deadline", "context.timerCtx", "deadline"),
	SPEC(GO_OFF_VALUECTX_CONTEXT, "valueCtx.Context", "context.valueCtx", "Context"),
	SPEC(GO_OFF_VALUECTX_KEY, "valueCtx.key", "context.valueCtx", "key"),
	SPEC(GO_OFF_VALUECTX_VAL, "valueCtx.val", "context.valueCtx", "val"),
	SPEC(GO_OFF_AFTERFUNCCTX_CANCELCTX, "afterFuncCtx.cancelCtx", "context.afterFuncCtx", "cancelCtx"),
	SPEC(GO_OFF_AFTERFUNCCTX_ONCE, "afterFuncCtx.once", "context.afterFuncCtx", "once"),
	SPEC(GO_OFF_AFTERFUNCCTX_F, "afterFuncCtx.f", "context.afterFuncCtx", "f"),
	SPEC(GO_OFF_WITHOUTCANCELCTX_C, "withoutCancelCtx.c", "context.withoutCancelCtx", "c"),
	SPEC(GO_OFF_G_WAITING, "waiting", "runtime.g", "waiting"),
	SPEC(GO_OFF_SUDOG_G, "sudog.g", "runtime.sudog", "g"),
	SPEC(GO_OFF_SUDOG_ELEM, "sudog.elem", "runtime.sudog", "elem"),
	SPEC(GO_OFF_SUDOG_C, "sudog.c", "runtime.sudog", "c"),
	SPEC(GO_OFF_SUDOG_WAITLINK, "sudog.waitlink", "runtime.sudog", "waitlink"),
	SPEC(GO_OFF_SUDOG_ISSELECT, "sudog.isSelect", "runtime.sudog", "isSelect"),
	SPEC(GO_OFF_HCHAN_QCOUNT, "hchan.qcount", "runtime.hchan", "qcount"),
	SPEC(GO_OFF_HCHAN_DATAQSIZ, "hchan.dataqsiz", "runtime.hchan", "dataqsiz"),
	SPEC(GO_OFF_HCHAN_CLOSED, "hchan.closed", "runtime.hchan", "closed"),
	SPEC(GO_OFF_HCHAN_ELEMTYPE, "hchan.elemtype", "runtime.hchan", "elemtype"),
	SPEC(GO_OFF_HCHAN_RECVQ, "hchan.recvq", "runtime.hchan", "recvq"),
	SPEC(GO_OFF_HCHAN_SENDQ, "hchan.sendq", "runtime.hchan", "sendq"),
	SPEC(GO_OFF_MODULEDATA_ITABLINKS, "moduledata.itablinks", "runtime.moduledata", "itablinks"),
	SPEC(GO_OFF_MODULEDATA_ITABOFFSET, "moduledata.itaboffset", "runtime.moduledata", "itaboffset"),
	SPEC(GO_OFF_MODULEDATA_ITABSIZE, "moduledata.itabsize", "runtime.moduledata", "itabsize"),
};
#undef SPEC

static bool in_range(enum go_off f)
{
	return (unsigned)f < GO_OFF_COUNT;
}

const char *go_off_name(enum go_off f)
{
	return in_range(f) ? specs[f].key : NULL;
}

const char *go_off_ident(enum go_off f)
{
	return in_range(f) ? specs[f].ident : NULL;
}

int go_off_by_name(const char *name)
{
	for (int f = 0; f < GO_OFF_COUNT; f++)
		if (name && specs[f].key && strcmp(specs[f].key, name) == 0)
			return f;
	return -ENOENT;
}

void go_off_dwarf_path(enum go_off f, const char **type, const char **path)
{
	*type = in_range(f) ? specs[f].type : NULL;
	*path = in_range(f) ? specs[f].path : NULL;
}

int go_off_since(enum go_off f)
{
	switch (f) {
	case GO_OFF_CANCELCTX_CAUSE: /* WithCancelCause, Go 1.20 */
		return 20;
	case GO_OFF_G_PARENTGOID: /* Go 1.21 */
	case GO_OFF_AFTERFUNCCTX_CANCELCTX: /* AfterFunc, Go 1.21 */
	case GO_OFF_AFTERFUNCCTX_ONCE:
	case GO_OFF_AFTERFUNCCTX_F:
	case GO_OFF_WITHOUTCANCELCTX_C: /* WithoutCancel, Go 1.21 */
		return 21;
	case GO_OFF_MODULEDATA_ITABOFFSET: /* Go 1.27 */
	case GO_OFF_MODULEDATA_ITABSIZE:
		return 27;
	default:
		return 19;
	}
}

int go_off_until(enum go_off f)
{
	/* Go 1.27 put the itabs in the types section (itaboffset, itabsize). */
	return f == GO_OFF_MODULEDATA_ITABLINKS ? 26 : 0;
}

int go_off_in(enum go_off f, int minor)
{
	return minor >= go_off_since(f) && (!go_off_until(f) || minor <= go_off_until(f));
}

const char *go_off_source_name(enum go_off_source s)
{
	switch (s) {
	case GO_OFF_DWARF:
		return "DWARF";
	case GO_OFF_TABLE:
		return "table";
	case GO_OFF_ABSENT:
		break;
	}
	return "absent";
}

static void offsets_clear(struct go_offsets *out)
{
	for (int f = 0; f < GO_OFF_COUNT; f++) {
		out->v[f] = -1;
		out->src[f] = GO_OFF_ABSENT;
	}
	out->table_minor = 0;
	out->assumed_minor = 0;
}

static const struct go_offsets_row *table_row(int minor)
{
	for (int i = 0; i < go_offsets_table_len; i++)
		if (go_offsets_table[i].minor == minor)
			return &go_offsets_table[i];
	return NULL;
}

int offsets__from_table(int minor, struct go_offsets *out)
{
	const struct go_offsets_row *row = table_row(minor);

	offsets_clear(out);
	if (!row) {
		ct_errmsg_set("Go 1.%d is not in ctxtrace's offset table", minor);
		return -ENOENT;
	}
	for (int f = 0; f < GO_OFF_COUNT; f++) {
		out->v[f] = row->v[f];
		out->src[f] = row->v[f] >= 0 ? GO_OFF_TABLE : GO_OFF_ABSENT;
	}
	out->table_minor = minor;
	return 0;
}

int offsets__table_min_minor(void)
{
	return go_offsets_table_len ? go_offsets_table[0].minor : 0;
}

int offsets__table_max_minor(void)
{
	return go_offsets_table_len ? go_offsets_table[go_offsets_table_len - 1].minor : 0;
}

/* Fields DWARF lacks come from the table row, when there is one. */
static void fill_from_row(struct go_offsets *out, const struct go_offsets_row *row)
{
	bool used = false;

	for (int f = 0; f < GO_OFF_COUNT; f++) {
		if (out->src[f] != GO_OFF_ABSENT || row->v[f] < 0)
			continue;
		out->v[f] = row->v[f];
		out->src[f] = GO_OFF_TABLE;
		used = true;
	}
	if (used)
		out->table_minor = row->minor;
}

/* Tests only: CTXTRACE_TEST_OFFSETS="cancelCtx.err=56,goid=160" over assumed offsets. */
static void test_perturb(struct go_offsets *out)
{
	const char *env = getenv("CTXTRACE_TEST_OFFSETS");
	char buf[512], *save = NULL;

	if (!env || !*env)
		return;
	snprintf(buf, sizeof(buf), "%s", env);
	for (char *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		int f;

		if (!eq)
			continue;
		*eq = 0;
		f = go_off_by_name(kv);
		if (f >= 0) {
			out->v[f] = strtoll(eq + 1, NULL, 0);
			out->src[f] = GO_OFF_TABLE;
		}
	}
}

void offsets__newer_msg(const struct goelf *ge, const struct go_offsets *o, char *buf, size_t len)
{
	const struct go_buildinfo *bi = goelf__buildinfo(ge);

	snprintf(buf, len, "Go 1.%d is newer than ctxtrace's offset table (1.%d-1.%d)",
		 bi ? bi->minor : 0, offsets__table_min_minor(), o->assumed_minor);
}

int offsets__resolve(const struct goelf *ge, struct go_offsets *out)
{
	const struct go_buildinfo *bi = goelf__buildinfo(ge);
	int minor = bi && bi->major == 1 ? bi->minor : 0;
	int min = offsets__table_min_minor(), max = offsets__table_max_minor();
	bool dwarf = goelf__has_dwarf(ge);
	const struct go_offsets_row *row;
	int err;

	offsets_clear(out);
	if (bi && bi->major == 1 && minor < 19) {
		ct_errmsg_set("Go 1.%d is not supported (1.19 or newer)", minor);
		return -ENOTSUP;
	}
	if (minor == 0 && !dwarf) {
		ct_errmsg_set("cannot tell the Go version (no build info) and the binary has no DWARF");
		return -ENOTSUP;
	}
	/* Newer than the table: the newest layout, to be checked before use. */
	row = table_row(minor > max ? max : minor);
	if (!row && !dwarf) {
		/* 1.20: no toolchain of that version was at hand to generate its row. */
		ct_errmsg_set("Go 1.%d is not in ctxtrace's offset table (1.%d-1.%d) and the binary has no DWARF",
			      minor, min, max);
		return -ENOTSUP;
	}

	if (dwarf) {
		err = offsets__from_dwarf(goelf__path(ge), out);
		if (err && !row)
			return err;
		if (err) {
			verbose("%s: cannot read DWARF (%s): using the Go 1.%d offset table",
				goelf__path(ge), ct_errmsg(), row->minor);
			offsets_clear(out);
		}
	}
	if (row)
		fill_from_row(out, row);
	if (minor > max && row) {
		out->assumed_minor = max;
		test_perturb(out);
	}
	return 0;
}

int64_t offsets__get(const struct go_offsets *off, int minor, enum go_off f)
{
	const struct go_offsets_row *row = NULL;

	if (!in_range(f))
		return -1;
	if (off && off->v[f] >= 0)
		return off->v[f];
	/* The row of minor, else of the nearest newer version, else the newest. */
	for (int i = 0; i < go_offsets_table_len && !row; i++)
		if (go_offsets_table[i].minor >= minor)
			row = &go_offsets_table[i];
	if (!row && go_offsets_table_len)
		row = &go_offsets_table[go_offsets_table_len - 1];
	return row ? row->v[f] : -1;
}
