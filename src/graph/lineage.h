/* The live context lineage graph: contexts, goroutines, and which goroutines run
 * in the scope of which contexts. Built only from decoded events (no memory reads,
 * no BPF), so a replayed recording gives the same graph as the live run.
 * docs/graph.md describes the model, the scope rule and the memory bounds. */
#ifndef CT_LINEAGE_H
#define CT_LINEAGE_H

#include <stdbool.h>
#include <stdint.h>

#include "events/event.h"

struct lineage;

struct lineage_opts {
	uint64_t retention_ns; /* cancelled contexts / exited goroutines stay this long; 0: 60s.
				* A cancelled context a live goroutine is in the scope of (or
				* waits on) stays until that goroutine exits. */
	uint32_t max_nodes;    /* hard cap on contexts + goroutines; 0: LINEAGE_DEFAULT_MAX_NODES */
};

#define LINEAGE_DEFAULT_RETENTION_NS (60ULL * 1000000000ULL)
#define LINEAGE_DEFAULT_MAX_NODES (1U << 20)
#define LINEAGE_SCOPE_MAX 8 /* own contexts a goroutine's scope keeps; see docs/graph.md */
#define LINEAGE_DONE_MAX 4  /* most recent contexts a goroutine asked Done() of */

/* A node handle that stays valid while the node is in the graph; a node that left
 * (evicted, or replaced by a new node at a reused address) no longer resolves.
 * gen 0 is "none". */
struct lg_ref {
	uint32_t idx;
	uint32_t gen;
};

enum lg_ctx_state {
	LG_CTX_LIVE = 0,
	LG_CTX_CANCELLED, /* value contexts: when their nearest cancellable ancestor was */
};

enum lg_go_state {
	LG_GO_ALIVE = 0,
	LG_GO_EXITED,
};

/* Copies out of the graph; pointers are interned and outlive the graph. */
struct lg_ctx {
	struct lg_ref ref;
	uint64_t id;                  /* the context's address */
	enum ctx_kind kind;
	const char *type_name;        /* NULL when unknown */
	const struct ct_stack *stack; /* creation stack; NULL when unknown */
	uint64_t created_ns;          /* graph clock (CLOCK_MONOTONIC, see lineage__now) */
	uint64_t creator_goid;        /* 0 when unknown */
	bool has_deadline;
	int64_t deadline_unix_ns;
	bool preexisting;             /* created before attach */
	bool discovered;              /* known only because something referenced it */
	bool placeholder;             /* never described by a ctx_create: only its id is known */
	enum lg_ctx_state state;
	enum cancel_reason reason;    /* when cancelled */
	uint64_t cancelled_ns;        /* 0 when live */
	uint64_t canceller_goid;
	const struct ct_stack *cancel_stack;
	const char *err;
	const char *cause;
	bool cancel_called;           /* its cancel func was called, even after the deadline */
	bool collected;               /* its address was reused: the GC freed it (never in a
				       * LG_SCOPE_NOW scope; lineage__ctx(id) finds the new one) */
	uint64_t collected_ns;        /* when the reuse was seen; 0 unless collected */
	uint64_t parent_id;           /* direct parent's address (possibly a value context); 0 none */
	enum ctx_kind parent_kind;
	struct lg_ref parent;         /* gen 0 when the parent is not in the graph */
	uint32_t nchildren;
};

struct lg_go {
	struct lg_ref ref;
	uint64_t goid;
	uint64_t parent_goid;         /* 0 when unknown */
	struct lg_ref parent;         /* gen 0 when the parent is not in the graph */
	const struct ct_stack *go_site; /* the go statement; NULL when unknown */
	const char *start_func;
	uint64_t created_ns;          /* graph clock; time of attach for pre-existing ones */
	uint64_t exited_ns;           /* 0 while alive */
	enum lg_go_state state;
	bool preexisting;
	bool placeholder;             /* seen only as the goroutine of some event */
	uint32_t nchildren;
};

struct lineage_stats {
	uint64_t events;           /* applied */
	uint64_t ctx_live, ctx_cancelled;
	uint64_t ctx_open;          /* live ones the rules walk (lineage__ctx_next_open) */
	uint64_t go_alive, go_exited;
	uint64_t evicted_retention; /* left after retention_ns */
	uint64_t evicted_cap;       /* finished nodes pushed out early by max_nodes */
	uint64_t evicted_live;      /* live nodes pushed out by max_nodes (no finished left) */
	uint64_t replaced;          /* a create at an address/goid still in the graph: new generation */
	uint64_t ctx_collected;     /* never-cancelled contexts kept after their address was reused */
	uint64_t collected_uncancelled; /* cumulative: contexts collected (address reused) never cancelled */
	uint64_t unknown_refs;      /* cancels / Done / exits of nodes not in the graph */
	uint64_t lost_records;      /* sum of EV_LOST counts */
	uint64_t apply_failed;      /* events not applied in full: out of memory */
	uint64_t bytes;             /* bytes the graph allocated (interned stacks and strings excluded) */
	uint64_t scope_cells;       /* live scope-chain cells */
	uint64_t done_derive;       /* Done() calls made by deriving a child (not a wait): ignored */
	uint64_t ctx_held;          /* cancelled contexts kept past retention: goroutines still alive in their scope */
	bool target_exited;
};

/* NULL with errno (and ct_errmsg) on failure. */
struct lineage *lineage__new(const struct lineage_opts *opts);
void lineage__free(struct lineage *lg); /* takes NULL */

/* Applies one decoded event. Also evicts what outlived retention_ns by the
 * event's time. 0, or -ENOMEM when the event could not be applied in full:
 * part of it may be (the clock, evictions, a placeholder parent); counted in
 * lineage_stats.apply_failed. */
int lineage__apply(struct lineage *lg, const struct ct_event *ev);
/* Evicts by time when no events arrive (a quiet target). */
void lineage__expire(struct lineage *lg, uint64_t now_ns);
/* The graph clock: the latest event time, kept strictly increasing. */
uint64_t lineage__now(const struct lineage *lg);
void lineage__stats(const struct lineage *lg, struct lineage_stats *st);

/* Lookups: 0, or -ENOENT. */
int lineage__ctx(const struct lineage *lg, uint64_t id, struct lg_ctx *out);
int lineage__ctx_at(const struct lineage *lg, struct lg_ref ref, struct lg_ctx *out);
int lineage__go(const struct lineage *lg, uint64_t goid, struct lg_go *out);
int lineage__go_at(const struct lineage *lg, struct lg_ref ref, struct lg_go *out);

/* Iteration in no particular order: start with *cursor = 0, loop while true.
 * The graph must not change during an iteration. */
bool lineage__ctx_next(const struct lineage *lg, uint32_t *cursor, struct lg_ctx *out);
bool lineage__go_next(const struct lineage *lg, uint32_t *cursor, struct lg_go *out);
/* What periodic rules walk, oldest first: open contexts (live, a cancelCtx or
 * timerCtx, its creation seen: not discovered, pre-existing or a placeholder) and
 * alive goroutines. */
bool lineage__ctx_next_open(const struct lineage *lg, uint32_t *cursor, struct lg_ctx *out);
/* (A cursor kept while the graph changes goes back to the start when its node has
 * left the list.) */
bool lineage__go_next_alive(const struct lineage *lg, uint32_t *cursor, struct lg_go *out);
/* Finished contexts (cancelled, or collected uncancelled) in the order they
 * finished, from sequence number *seq on (0: the oldest kept); *seq moves past
 * the one returned, so a reader resumes where it stopped. */
bool lineage__ctx_finished_next(const struct lineage *lg, uint64_t *seq, struct lg_ctx *out);
/* Children of a node: start with *it = (struct lg_ref){0}. */
bool lineage__ctx_child_next(const struct lineage *lg, struct lg_ref parent,
			     struct lg_ref *it, struct lg_ctx *out);
bool lineage__go_child_next(const struct lineage *lg, struct lg_ref parent,
			    struct lg_ref *it, struct lg_go *out);

/* Scope (docs/graph.md): which contexts a goroutine runs under, innermost first.
 * LG_SCOPE_START: the contexts in whose scope the goroutine was started -- created
 *   (by its parent, or transitively its ancestors) before its go statement and live
 *   then, whatever their state now. This is what "outlived its context" is about.
 * LG_SCOPE_NOW: the contexts still live now that it inherited or created itself
 *   (what a context it creates now should derive from: "lineage break").
 * Value contexts are never in a scope (they cannot be cancelled); WithoutCancel,
 * AfterFunc and custom contexts are, with their kind. An exited goroutine has
 * no scope and no Done list any more (it let go of its contexts); only its
 * bound context is remembered.
 * Writes up to max contexts to out; returns how many (0 for an unknown goid). */
enum lg_scope_mode {
	LG_SCOPE_START = 0,
	LG_SCOPE_NOW,
};
int lineage__go_scope(const struct lineage *lg, uint64_t goid, enum lg_scope_mode mode,
		      struct lg_ctx *out, int max);
/* The contexts goid asked Done() of, most recent first (at most LINEAGE_DONE_MAX).
 * The Done() calls the context package makes while deriving a child do not count. */
int lineage__go_done(const struct lineage *lg, uint64_t goid, struct lg_ctx *out, int max);
/* The goroutine's bound context: the most recent one it asked Done() of, else
 * the innermost of its start scope (for an exited goroutine: as it was at its
 * exit, while that context is in the graph). 0, or -ENOENT when it has none. */
int lineage__go_bound(const struct lineage *lg, uint64_t goid, struct lg_ctx *out);

/* The direct non-value ancestor (folds value contexts); -ENOENT for a root or
 * when the chain leaves the graph. */
int lineage__ctx_ancestor(const struct lineage *lg, struct lg_ref ref, struct lg_ctx *out);

#endif
