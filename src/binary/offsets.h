/* Struct field offsets ctxtrace reads in a target: from DWARF, or for stripped
 * binaries from the built-in table keyed by Go version.
 *
 * Policy of offsets__resolve, field by field:
 *  - DWARF, when the binary has it and its DWARF describes the field (source DWARF);
 *  - else the table row of the binary's Go minor version (source TABLE). This covers
 *    stripped binaries, and types the linker left out of DWARF because the program
 *    does not use them (afterFuncCtx when AfterFunc is never called);
 *  - else the field is absent (-1, ABSENT): it does not exist in that Go version
 *    (parentGoid before 1.21), or the version is not in the table.
 * Go older than 1.19 is refused. Go newer than the table takes DWARF where the
 * binary has it and the newest row for the rest, marked assumed (assumed_minor):
 * nothing may attach with those before they were checked against the process
 * (session: layout_check). The table is generated from DWARF by
 * scripts/gen-offsets.sh (make offsets-table). */
#ifndef CT_OFFSETS_H
#define CT_OFFSETS_H

#include <stddef.h>
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
	/* Memory readers (goroutines__wait_chans, ctxmem, framescan): a parked
	 * goroutine's sudog list and the channels it names; the itabs of the module. */
	GO_OFF_G_WAITING,
	GO_OFF_SUDOG_G,
	GO_OFF_SUDOG_ELEM,
	GO_OFF_SUDOG_C,
	GO_OFF_SUDOG_WAITLINK,
	GO_OFF_SUDOG_ISSELECT,
	GO_OFF_HCHAN_QCOUNT,
	GO_OFF_HCHAN_DATAQSIZ,
	GO_OFF_HCHAN_CLOSED,
	GO_OFF_HCHAN_ELEMTYPE,
	GO_OFF_HCHAN_RECVQ,
	GO_OFF_HCHAN_SENDQ,
	GO_OFF_MODULEDATA_ITABLINKS,   /* until 1.26 */
	GO_OFF_MODULEDATA_ITABOFFSET,  /* 1.27+: the itabs sit in the types section */
	GO_OFF_MODULEDATA_ITABSIZE,
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
	/* A Go newer than the table: the row (the newest) whose layout is assumed for
	 * what DWARF does not give; 0 when the binary's own version has a row. */
	int assumed_minor;
};

/* Stable JSON key of a field: "goid", "atomicstatus", "sched.pc", "m.curg",
 * "cancelCtx.err", ... NULL when f is out of range. */
const char *go_off_name(enum go_off f);
/* The field whose key is name, or -ENOENT. */
int go_off_by_name(const char *name);
/* C enumerator name ("GO_OFF_G_GOID"), for the table generator. */
const char *go_off_ident(enum go_off f);
/* Where DWARF describes f: struct type name ("runtime.g") and member path
 * ("sched.sp": member sched, then its member sp). */
void go_off_dwarf_path(enum go_off f, const char **type, const char **path);
/* The Go minor version that added f (parentGoid 21, cancelCtx.cause 20,
 * afterFuncCtx and withoutCancelCtx 21); 19 for fields as old as ctxtrace's
 * oldest supported Go. */
int go_off_since(enum go_off f);
/* The last Go minor version that has f (moduledata.itablinks: 26); 0 when every
 * version since go_off_since(f) has it. */
int go_off_until(enum go_off f);
/* Whether Go 1.minor has f: since <= minor <= until. */
int go_off_in(enum go_off f, int minor);
/* "DWARF", "table" or "absent". */
const char *go_off_source_name(enum go_off_source s);

/* DWARF (libdw; reads zlib-compressed sections, SHF_COMPRESSED or .zdebug_*).
 * -ENODATA when the binary has no DWARF, -ENOEXEC when it is not ELF; -errno
 * otherwise; ct_errmsg() is set on every error. Fields missing in DWARF stay
 * -1/GO_OFF_ABSENT. */
int offsets__from_dwarf(const char *path, struct go_offsets *out);
/* The same on an open file (not closed, offset unused): for memfds. */
int offsets__from_dwarf_fd(int fd, struct go_offsets *out);
/* Built-in table for Go 1.minor: -ENOENT when the version is not in the table. */
int offsets__from_table(int minor, struct go_offsets *out);
/* The policy above, the one inspect and watch use. -ENOTSUP with ct_errmsg()
 * set when the version is refused ("Go 1.18 is not supported (1.19 or newer)",
 * or Go 1.20, which has no table row, without DWARF). DWARF that cannot be read
 * falls back to the table (logged at verbose). Tests only: with assumed offsets,
 * CTXTRACE_TEST_OFFSETS="key=N,..." replaces fields of the assumed row, to check
 * that a layout that does not fit is refused. */
int offsets__resolve(const struct goelf *ge, struct go_offsets *out);
/* Field f from off when it has it (off may be NULL), else from the table row of
 * Go 1.minor, or of the nearest newer version the table has, or of the newest
 * (Go 1.20 has no row: its context structs are those of 1.21). -1 when absent. */
int64_t offsets__get(const struct go_offsets *off, int minor, enum go_off f);
/* "Go 1.28 is newer than ctxtrace's offset table (1.19-1.27)": the first words of
 * every message about assumed offsets. */
void offsets__newer_msg(const struct goelf *ge, const struct go_offsets *o, char *buf, size_t len);
/* The oldest and newest Go minor versions the table knows. */
int offsets__table_min_minor(void);
int offsets__table_max_minor(void);

/* The generated table (offsets_table.c); rows sorted by minor. keys[] lists
 * go_off_name() at generation time: a test compares it with the enum to catch a
 * table that was not regenerated after the enum changed. */
struct go_offsets_row {
	int minor;
	const char *go_version; /* toolchain it was read from: "go1.22.12" */
	int32_t v[GO_OFF_COUNT]; /* -1: not in that version */
};
extern const struct go_offsets_row go_offsets_table[];
extern const int go_offsets_table_len;
extern const char *const go_offsets_table_keys[];
extern const int go_offsets_table_nkeys;

#endif
