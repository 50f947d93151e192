/* Where leaks are decided. Five rules in four files (outlived-context and
 * unreachable-cancel share one), over the lineage graph
 * (graph/lineage.h) and goroutine states read on demand from the target:
 *
 *   rule_lost_cancel.c     lost-cancel          contexts whose cancel func is never called
 *   rule_outlived.c        outlived-context     goroutines alive after their context was
 *                          unreachable-cancel   cancelled (Go primitive / syscall, IO, cgo)
 *   rule_lineage_break.c   lineage-break        new roots created inside a live context
 *   rule_propagate.c       propagate-goroutine  watchers of contexts with custom parents
 *
 * rules.c groups findings by rule and sites, applies --grace and --min-count and
 * (re-)emits alerts; sites.c picks the user's frame out of a stack. docs/alerts.md
 * describes the alerts and why the defaults are what they are.
 *
 * Driving it: after lineage__apply(lg, ev) call rules__on_event(r, lg, ev) for every
 * event; about once a second call rules__tick(r, lg, now, emit, cookie). */
#ifndef CT_RULES_H
#define CT_RULES_H

#include <stdbool.h>
#include <stdint.h>

#include "events/event.h"
#include "events/gstate.h"

struct rules;
struct lineage;

#define RULES_DEFAULT_GRACE_NS (5ULL * 1000000000ULL)
#define RULES_DEFAULT_MIN_COUNT 3
#define RULES_DEFAULT_MAX_GROUPS 4096
#define RULES_DEFAULT_READS_PER_TICK 4096

enum rule_id {
	RULE_LOST_CANCEL = 0,
	RULE_OUTLIVED_CONTEXT,
	RULE_UNREACHABLE_CANCEL,
	RULE_LINEAGE_BREAK,
	RULE_PROPAGATE_GOROUTINE,
	RULE_STUCK_GOROUTINES, /* from memory only (rules/memjudge.h): no context found */
	RULE_MAX,
};

enum alert_severity {
	SEV_INFO = 0,    /* lineage information, not a leak (WithoutCancel) */
	SEV_WARNING,     /* bounded cost: contexts that expired by deadline */
	SEV_ERROR,       /* goroutines or live contexts piling up */
	SEV_MAX,
};

/* A context's state read from the target's memory (events/ctxmem.h): 0 with
 * *cancelled set; -ENOENT when the address holds no such context any more, or
 * holds another one (its parent is not parent_id, or not a root of parent_kind:
 * the allocator reuses addresses, and the new one's create may be lost too);
 * -errno when it cannot be read. */
typedef int (*rules_ctxstate_fn)(void *cookie, uint64_t id, enum ctx_kind kind, uint64_t parent_id,
				 enum ctx_kind parent_kind, bool *cancelled);

/* 0; -ENOENT when the goroutine no longer exists; -errno when it cannot be read.
 * Must set syscall_nr to -1 when it does not know it. */
typedef int (*rules_gstate_fn)(void *cookie, uint64_t goid, struct rules_gstate *out);

struct rules_opts {
	int pid;
	uint64_t grace_ns;         /* 0: RULES_DEFAULT_GRACE_NS */
	uint32_t min_count;        /* 0: RULES_DEFAULT_MIN_COUNT */
	uint32_t max_groups;       /* 0: RULES_DEFAULT_MAX_GROUPS */
	uint32_t reads_per_tick;   /* goroutine state reads per tick; 0: RULES_DEFAULT_READS_PER_TICK */
	/* NULL: goroutine rules still run, without blocking sites (then never
	 * unreachable-cancel, since a syscall cannot be seen). */
	rules_gstate_fn gstate;
	void *gstate_cookie;
	/* The system call a thread is in: 0 with *nr and *since_ns (CLOCK_MONOTONIC,
	 * 0 when unknown), -ENOENT when none. NULL: /proc tells (no start time). */
	int (*syscall_of)(void *cookie, uint32_t tid, int *nr, uint64_t *since_ns);
	void *syscall_cookie;
	/* Confirms from memory that a context the graph holds live was never
	 * cancelled, when its cancel may be in a lost record or before attach.
	 * NULL: such findings are dropped (counted in stats.unconfirmed). */
	rules_ctxstate_fn ctxstate;
	void *ctxstate_cookie;
	/* Whether the probes were detached (the overhead budget's gaps) at some time
	 * in [from, to]: what happened then is in doubt, like a lost record. NULL: never. */
	bool (*gap_in)(void *cookie, uint64_t from_ns, uint64_t to_ns);
	void *gap_cookie;
};

/* ---- alerts ---- */

#define ALERT_MAX_WAITERS 4
#define ALERT_MAX_BLOCK_SITES 4

struct alert_ctx {
	bool known;
	uint64_t id;
	enum ctx_kind kind;
	const char *type_name;
	enum ctx_kind parent_kind;
	const struct ct_stack *stack;  /* creation stack */
	const struct ct_frame *site;   /* the user's frame of it */
	bool has_deadline;
	int64_t deadline_unix_ns;
	bool cancelled;
	enum cancel_reason reason;
	int64_t cancelled_unix_ns;
	const char *err;
	const char *cause;
	const struct ct_stack *cancel_stack;
	const struct ct_frame *cancel_site;
	bool cancel_called;
};

/* One place where goroutines of the group are blocked, and how many. */
struct alert_block {
	const struct ct_frame *site;   /* the user's frame; NULL: running, or unknown */
	const struct ct_stack *stack;
	const char *wait_reason;       /* "chan send"; "running", "runnable", "syscall" */
	const char *syscall;           /* "futex", "read"; NULL when not in a syscall */
	uint32_t count;
};

/* Goroutines waiting on the Done of lost contexts, grouped by go and blocking site. */
struct alert_waiter {
	const struct ct_frame *go_site;
	const char *start_func;
	struct alert_block block;
};

/* Where a finding's evidence came from. */
enum alert_source {
	ALERT_SRC_PROBES = 0, /* events seen since attach */
	ALERT_SRC_MEMORY,     /* the target's memory alone (at attach, or `ctxtrace snapshot`) */
};

struct alert {
	enum rule_id rule;
	enum alert_source source;
	char id[17];                   /* 16 hex digits: hash of the rule and its sites */
	int pid;
	int64_t time_unix_ns;
	uint32_t count;
	bool first;                    /* first emission of this id */
	bool sampled;                  /* made while the overhead budget sampled (probes part-time) */
	enum alert_severity severity;
	char message[512];

	struct alert_ctx ctx;          /* the context (lost, cancelled, new root, derived) */
	struct alert_ctx scope;        /* lineage-break: the live context it should derive from;
	                                  propagate-goroutine: the custom parent */

	/* outlived-context / unreachable-cancel / propagate-goroutine */
	const struct ct_stack *go_site;
	const char *start_func;
	struct alert_block blocks[ALERT_MAX_BLOCK_SITES]; /* most frequent first */
	int nblocks;
	uint64_t outlived_min_ns, outlived_max_ns;       /* alive since the cancel */
	uint64_t waiting_min_ns, waiting_max_ns;         /* in the current wait; 0 unknown */
	uint64_t syscall_min_ns, syscall_max_ns;

	/* lost-cancel */
	uint32_t live, expired;        /* still live / expired by deadline, never cancelled */
	uint32_t collected;            /* never cancelled, since collected by the GC */
	uint32_t nwaiters_total;
	struct alert_waiter waiters[ALERT_MAX_WAITERS];
	int nwaiters;

	/* memory findings (source ALERT_SRC_MEMORY) */
	uint32_t leaked;               /* goroutines the Go runtime itself marked leaked (1.26+) */
	/* stuck-goroutines from memory: how many of them are tied by ancestry only to a
	 * cancelled context (the first one's, held by parent goroutine
	 * ancestry_parent_goid in the frame that started it; docs/alerts.md). */
	uint32_t ancestry_count;
	struct alert_ctx ancestry;
	uint64_t ancestry_parent_goid;
	uint32_t age_unknown;          /* goroutines whose wait began at an unknown time */
	int64_t children;              /* lost-cancel: the context's never-cancelled children; 0 n/a */
	uint32_t prev_count;           /* the count of the previous judgement; 0 none */
};

typedef void (*rules_emit_fn)(void *cookie, const struct alert *a);

/* NULL with errno and ct_errmsg() on failure. */
struct rules *rules__new(const struct rules_opts *opts);
void rules__free(struct rules *r); /* takes NULL */

/* Feed every event, after lineage__apply(lg, ev). 0 or -ENOMEM. */
int rules__on_event(struct rules *r, const struct lineage *lg, const struct ct_event *ev);
/* Judges the graph at now_ns (CLOCK_MONOTONIC, the events' clock) and emits the
 * alerts that are new or whose group grew. Returns how many were emitted. */
int rules__tick(struct rules *r, const struct lineage *lg, uint64_t now_ns,
		rules_emit_fn emit, void *cookie);

struct rules_stats {
	uint64_t ticks;
	uint64_t alerts;          /* emitted, re-emissions included */
	uint32_t groups;          /* groups with at least one finding */
	uint64_t groups_dropped;  /* findings lost because max_groups was reached */
	uint64_t gstate_reads, gstate_errors, gstate_skipped; /* skipped: over reads_per_tick */
	uint64_t pending_dropped; /* lineage-break findings over the pending queue's bound */
	/* findings dropped because records were lost, or the probes were still being
	 * attached, while they could have happened, and memory could not confirm them */
	uint64_t unconfirmed;
	uint64_t confirmed;       /* such findings memory confirmed */
	uint64_t loss_windows;    /* EV_LOST reports seen */
};
/* The time (CLOCK_MONOTONIC) from which every probe was live: what was created
 * before it may have been cancelled unseen. */
void rules__set_attached(struct rules *r, uint64_t ns);
/* Whether the last tick counted goid in an outlived-context or unreachable-cancel
 * group (--grace passed, alive in memory, the user's goroutine): what the graph
 * marks as leaking. */
bool rules__go_outlived(const struct rules *r, uint64_t goid);
void rules__stats(const struct rules *r, struct rules_stats *st);

const char *rule_name(enum rule_id r);             /* "lost-cancel", ... */
enum rule_id rule_parse(const char *s);            /* RULE_MAX when unknown */
const char *severity_name(enum alert_severity s);  /* "info", "warning", "error" */

#endif
