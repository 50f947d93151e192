/* A context's state read from the target's memory, with no probe: cancelled or
 * not and why (err, cause), its Done channel, its deadline, its parent and its
 * count of never-cancelled children. Used at attach (what memory holds about
 * contexts made before ctxtrace came) and by `ctxtrace snapshot`.
 *
 * The state only moves one way (live -> cancelled; children come and go), so one
 * read of the object is a consistent snapshot except for a cancel that lands in
 * the middle of it: err and done are read again when they disagree (counted in
 * changed). Works on stripped binaries: types are named from the runtime's own
 * type data (events/gotypes.h). */
#ifndef CT_CTXMEM_H
#define CT_CTXMEM_H

#include <stdbool.h>
#include <stdint.h>

#include "events/event.h"

struct ctxmem;
struct procmem;
struct gotypes;
struct go_offsets;

struct ctxmem_opts {
	struct procmem *mem;
	struct gotypes *types;
	const struct go_offsets *off;
	int go_minor;
	/* Runtime address of the module's firstmoduledata: its itablinks list every
	 * itab the linker made, so context.Context itabs are known before any is
	 * met (ctxmem__ctx_itabs). 0: itabs are judged one by one. */
	uint64_t moduledata;
	uint64_t types_start; /* runtime address of the module's types section (Go 1.27 itabs) */
};

/* One context, as read. Strings are interned (gotypes' intern table). */
struct ctxmem_state {
	uint64_t addr;             /* the object (the interface's data word) */
	enum ctx_kind kind;
	const char *type_name;     /* "*context.timerCtx", "*main.myCtx"; NULL unreadable */
	/* cancel, timer and afterfunc kinds: */
	bool cancelled;            /* err != nil */
	const char *err;           /* "context canceled", "context deadline exceeded", or the
	                              error's type name; NULL while live */
	bool deadline_err;         /* err is context.DeadlineExceeded */
	const char *cause;         /* cause's text or type (1.20+); NULL when none */
	uint64_t done_chan;        /* the chan Done() returns: 0 until someone called Done
	                              (made lazily), the shared closed chan when cancelled first */
	bool done_closed;          /* that channel is closed */
	int64_t children;          /* len(children): never-cancelled children; -1 unknown */
	/* timer kind: */
	bool has_deadline;
	int64_t deadline_unix_ns;
	/* every kind but the roots: the Context it was derived from (context.stopCtx
	 * wrappers of Go 1.21+ removed); 0/0 for roots and unreadable custom types. */
	uint64_t parent_itab, parent_data;
};

struct ctxmem *ctxmem__new(const struct ctxmem_opts *opts); /* NULL with errno */
void ctxmem__free(struct ctxmem *cm);

/* True only when itab is an itab whose interface type is context.Context (any
 * dynamic type). Cached by address; unreadable itabs are false. */
bool ctxmem__is_context_iface(struct ctxmem *cm, uint64_t itab);
/* The context.Context itabs of the module (from moduledata.itablinks; Go 1.27+:
 * the itabs packed in the types section), sorted, at most max; returns the count
 * or -errno (-ENOTSUP without moduledata). */
int ctxmem__ctx_itabs(struct ctxmem *cm, uint64_t *out, int max);

/* Reads the context held as the interface value (itab, data), whose itab must be
 * a context.Context itab. 0; -EINVAL when itab is not one or data is 0; -EAGAIN
 * when it changed under two reads (counted); -errno when unreadable. */
int ctxmem__read(struct ctxmem *cm, uint64_t itab, uint64_t data, struct ctxmem_state *out);
/* Many contexts of the cancel, timer or afterfunc kinds at once (their object
 * starts with a cancelCtx), with one system call for up to 1024: the parent as
 * the object holds it (stopCtx wrappers not removed) and whether err is set.
 * err: 0; -EINVAL when the words are not a cancelCtx's (no context parent);
 * -errno when unreadable. Returns 0, or -errno for all (-ENOTSUP: no layout). */
struct ctxmem_brief {
	uint64_t parent_itab, parent_data;
	bool cancelled;
	int err;
};
int ctxmem__cancel_briefs(struct ctxmem *cm, const uint64_t *addrs, int n, struct ctxmem_brief *out);
/* The context and its ancestors: out[0] the context itself, then its parent, up
 * to and including a root (Background, TODO) or an unreadable one, at most max.
 * Returns the count (>= 1) or -errno when the first cannot be read. */
int ctxmem__chain(struct ctxmem *cm, uint64_t itab, uint64_t data, struct ctxmem_state *out,
		  int max);
/* The nearest ancestor-or-self that can be cancelled (cancel, timer, afterfunc):
 * value and WithoutCancel layers skipped. 0, or -ENOENT when the chain reaches a
 * root first (nothing can cancel it). */
int ctxmem__cancel_scope(struct ctxmem *cm, uint64_t itab, uint64_t data,
			 struct ctxmem_state *out);

struct ctxmem_stats {
	uint64_t reads, read_errors;
	uint64_t changed;       /* read twice because it changed while read */
	uint64_t itab_checks, itab_hits;
};
void ctxmem__stats(const struct ctxmem *cm, struct ctxmem_stats *st);

#endif
