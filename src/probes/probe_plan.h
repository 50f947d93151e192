/* Where probe sites are chosen: which function covers each role in this Go
 * version, and which instruction in it is emulated by the kernel (push %rbp, or
 * a call), found by disassembly. */
#ifndef CT_PROBE_PLAN_H
#define CT_PROBE_PLAN_H

#include <stdbool.h>
#include <stdint.h>

#include "ctxtrace.h"

struct goelf;
struct go_offsets;

enum probe_status {
	PROBE_OK = 0,      /* probed at the chosen instruction */
	PROBE_COVERED,     /* inlined/absent/not needed: another site covers it (see note) */
	PROBE_ABSENT,      /* the function does not exist in this Go version */
	PROBE_NO_SITE,     /* present but no emulated instruction found: not probed */
};

struct probe_site {
	const char *role;   /* "ctx_create", "ctx_cancel", "go_create", ... */
	const char *func;   /* the Go function, e.g. "context.(*cancelCtx).propagateCancel" */
	enum ct_probe_kind kind; /* CT_PROBE_NONE for informational rows */
	enum probe_status status;
	uint64_t func_addr; /* entry, link-time address */
	uint64_t addr;      /* the probed instruction */
	uint64_t file_offset; /* of the probed instruction: what the uprobe is given */
	uint32_t insn_offset; /* addr - func_addr */
	char insn[48];      /* "push %rbp", "call runtime.runqput" */
	char note[160];     /* why covered/absent, or a caveat */
	uint64_t cookie;    /* bpf cookie: kind | CT_COOKIE_* flags (include/ctxtrace.h) */
	bool at_branch;     /* Go 1.19/1.20: probed at the stack check's jbe (no push %rbp) */
	bool all_only;      /* attached only with --probes=all: memory tells its facts otherwise */
};

/* Which sites are attached (the `probes` setting). PROBES_DEFAULT leaves out the
 * sites whose facts the rules read from the target's memory when they judge
 * (Done() callers, goroutine exits, WithValue calls): fewer traps per request. */
enum probe_mode {
	PROBES_DEFAULT = 0,
	PROBES_ALL,
};

const char *probe_mode_name(enum probe_mode m); /* "default", "all" */
/* The plan role a probe kind serves ("ctx_create", "done", ...); NULL for none. */
const char *probe_kind_role(enum ct_probe_kind k);
/* Whether the site is attached in this mode (status OK and a probe kind). */
bool probe_site__used(const struct probe_site *s, enum probe_mode m);

#define PROBE_PLAN_MAX 32

struct probe_plan {
	int n;
	struct probe_site sites[PROBE_PLAN_MAX];
	uint64_t allgs_addr; /* runtime.allgs slice header; 0 when not found */
	const char *allgs_source; /* "symtab", "disassembly" */
	/* Link-time [lo, hi) of the context functions that call Done() while deriving
	 * a child: the BPF side ignores Done() hits they cause. */
	int n_done_skip;
	uint64_t done_skip_lo[CT_DONE_SKIP_MAX], done_skip_hi[CT_DONE_SKIP_MAX];
};

/* Builds the plan. -errno with ct_errmsg() set when a required site is missing
 * (the binary cannot be traced); informational rows never fail. */
int probe_plan__build(const struct goelf *ge, struct probe_plan *plan);
const char *probe_status_name(enum probe_status s);
/* runtime.allgs found by disassembling runtime.forEachG (a pair of loads of X and
 * X+8), the path used when .symtab is absent; 0 when not found. */
uint64_t probe_plan__allgs_from_code(const struct goelf *ge);
/* Checks context offsets against the context package's code (methods whose
 * first load from the receiver is a known field), for offsets assumed for a Go
 * newer than the table. -EPROTO with ct_errmsg() naming the method and field
 * that do not fit. */
int probe_plan__check_offsets(const struct goelf *ge, const struct go_offsets *off);

#endif
