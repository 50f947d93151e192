/* Struct field offsets ctxtrace reads in a target: from DWARF, or for stripped
 * binaries from the built-in table keyed by Go version. */
#ifndef CT_OFFSETS_H
#define CT_OFFSETS_H

#include <stdint.h>

struct goelf;

enum go_off {
	GO_OFF_G_GOID,
	GO_OFF_G_ATOMICSTATUS,
	GO_OFF_G_WAITREASON,
	GO_OFF_G_WAITSINCE,
	GO_OFF_G_M,
	GO_OFF_G_SCHED_SP,
	GO_OFF_G_SCHED_PC,
	GO_OFF_G_SCHED_BP,
	GO_OFF_G_GOPC,
	GO_OFF_G_STARTPC,
	GO_OFF_G_PARENTGOID, /* 1.21+ */
	GO_OFF_G_SYSCALLSP,
	GO_OFF_G_SYSCALLPC,
	GO_OFF_G_STACK_LO,
	GO_OFF_G_STACK_HI,
	GO_OFF_M_CURG,
	GO_OFF_M_PROCID,
	GO_OFF_CANCELCTX_CONTEXT,
	GO_OFF_CANCELCTX_MU,
	GO_OFF_CANCELCTX_DONE,
	GO_OFF_CANCELCTX_CHILDREN,
	GO_OFF_CANCELCTX_ERR,
	GO_OFF_CANCELCTX_CAUSE, /* 1.20+ */
	GO_OFF_TIMERCTX_CANCELCTX,
	GO_OFF_TIMERCTX_TIMER,
	GO_OFF_TIMERCTX_DEADLINE,
	GO_OFF_VALUECTX_CONTEXT,
	GO_OFF_VALUECTX_KEY,
	GO_OFF_VALUECTX_VAL,
	GO_OFF_AFTERFUNCCTX_CANCELCTX, /* 1.21+ */
	GO_OFF_AFTERFUNCCTX_ONCE,
	GO_OFF_AFTERFUNCCTX_F,
	GO_OFF_WITHOUTCANCELCTX_C, /* 1.21+ */
	GO_OFF_COUNT,
};

enum go_off_source {
	GO_OFF_ABSENT = 0, /* the field does not exist in this Go version */
	GO_OFF_DWARF,
	GO_OFF_TABLE,
};

struct go_offsets {
	int64_t v[GO_OFF_COUNT]; /* -1 when absent */
	enum go_off_source src[GO_OFF_COUNT];
	int table_minor; /* Go minor version of the table row used, 0 if none */
};

/* Stable JSON key of a field: "goid", "atomicstatus", "sched.pc", "m.curg",
 * "cancelCtx.err", ... */
const char *go_off_name(enum go_off f);

/* DWARF (libdw). -ENODATA when the binary has no DWARF; -errno otherwise with
 * ct_errmsg() set. Fields missing in DWARF stay -1/GO_OFF_ABSENT. */
int offsets__from_dwarf(const char *path, struct go_offsets *out);
/* Built-in table for Go 1.minor: -ENOENT when the version is not in the table. */
int offsets__from_table(int minor, struct go_offsets *out);
/* DWARF when present, else the table; the policy inspect and watch use.
 * Warns (once) when the version is newer than the table. */
int offsets__resolve(const struct goelf *ge, struct go_offsets *out);
/* The oldest and newest Go minor versions the table knows. */
int offsets__table_min_minor(void);
int offsets__table_max_minor(void);

#endif
