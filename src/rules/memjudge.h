/* Judging what the target's memory holds, with no probe: its goroutines (state,
 * stack, the channels they wait on), the contexts their stack frames hold and
 * those contexts' state (events/ctxmem.h, events/framescan.h). It raises the
 * alerts of rules/rules.h with source ALERT_SRC_MEMORY:
 *
 *   outlived-context    blocked goroutines holding a cancelled context (in their
 *   unreachable-cancel  frames), not waiting on any live context's Done; in a
 *                       system call, cgo call or IO wait: unreachable-cancel
 *   lost-cancel         a live context holding children_min or more never-cancelled
 *                       children
 *   stuck-goroutines    blocked goroutines with no context found, grouped by go
 *                       site, blocking site and wait reason
 *
 * Not reported: runtime goroutines; goroutines waiting on a live context's Done;
 * goroutines parked to receive on a channel other goroutines of the program wait
 * on too (an idle pool on its job channel); blocking stacks with no user frame
 * (net/http keep-alive loops and other standard-library internals). A goroutine is
 * judged once it has been blocked --grace: from the runtime's waitsince when set,
 * else from the first pass that saw it in the same wait (see memjudge__run).
 * docs/alerts.md says why the defaults are what they are. */
#ifndef CT_MEMJUDGE_H
#define CT_MEMJUDGE_H

#include <stdbool.h>
#include <stdint.h>

#include "rules/rules.h"

struct memjudge;
struct procmem;
struct goroutines;
struct ctxmem;
struct framescan;
struct gstate_src;
struct decoder;
struct go_offsets;

#define MEMJUDGE_DEFAULT_STUCK_MIN 5
#define MEMJUDGE_DEFAULT_CHILDREN_MIN 1000
#define MEMJUDGE_DEFAULT_MAX_GOROUTINES (1u << 20)

/* One goroutine as a pass read it (memjudge_opts.on_goroutine). */
struct memjudge_go {
	uint64_t goid, parent_goid;
	uint32_t status;              /* enum go_status */
	const char *wait;             /* "chan send", "sleep", "syscall", "runnable", "running" */
	uint64_t waiting_ns;          /* from the runtime's waitsince; 0 unknown */
	const struct ct_stack *stack; /* where it is, innermost first; NULL: running or unread */
	const struct ct_frame *block_site; /* the user's frame of it the alerts name; NULL: none */
	const struct ct_stack *go_site;
	const char *start_func;
	bool system;                  /* a runtime goroutine (not judged) */
	bool leaked;                  /* the runtime marked it leaked (_Gleaked, 1.26+) */
	bool judged;                  /* read completely (not running, not left out) */
	uint32_t contexts_held;       /* context values its frames hold that checked out */
	uint32_t chans;               /* channels it waits on */
	bool waits_on_done;           /* one of them is a known context's Done channel */
	/* The verdict of the pass: the rule whose group it counts in (RULE_MAX: none),
	 * whether that group was reported (reached its threshold), how long it has been
	 * blocked (age_known: from the runtime's waitsince or an earlier pass), and the
	 * cancelled context it holds (ctx.known false: none). */
	enum rule_id rule;
	bool alerted;
	uint64_t age_ns;
	bool age_known;
	struct alert_ctx ctx;
	/* Tied by ancestry only (no context in its own frames, none whose Done it
	 * waits on): the cancelled context its parent goroutine, still alive, holds
	 * in the frame that ran the go statement (ancestry.known false: none). */
	struct alert_ctx ancestry;
	uint64_t ancestry_parent;
};

struct memjudge_opts {
	int pid;
	int go_minor;
	uint64_t grace_ns;        /* 0: RULES_DEFAULT_GRACE_NS */
	uint32_t min_count;       /* outlived-context, unreachable-cancel; 0: RULES_DEFAULT_MIN_COUNT */
	uint32_t stuck_min;       /* stuck-goroutines; 0: MEMJUDGE_DEFAULT_STUCK_MIN */
	uint32_t children_min;    /* lost-cancel; 0: MEMJUDGE_DEFAULT_CHILDREN_MIN */
	uint32_t max_goroutines;  /* read per pass; the rest counted; 0: MEMJUDGE_DEFAULT_MAX_GOROUTINES */
	struct procmem *mem;
	struct goroutines *gs;
	struct ctxmem *cm;
	struct framescan *fs;
	struct gstate_src *gsrc;  /* status, wait reason, symbolized stack */
	struct decoder *dec;      /* symbolizes go sites and start functions */
	/* memjudge__report_goroutines' callback; NULL: none. */
	void (*on_goroutine)(void *cookie, const struct memjudge_go *g);
	void *cookie;
};

struct memjudge *memjudge__new(const struct memjudge_opts *opts); /* NULL with errno */
void memjudge__free(struct memjudge *mj);

/* One pass over the target at now_ns (CLOCK_MONOTONIC, the runtime's nanotime
 * clock): reads, judges, and emits the groups that are new or grew since the
 * previous pass (same id, first = false). Returns the alerts emitted, or -errno
 * when the goroutine list cannot be read (-ESRCH: the target is gone). */
int memjudge__run(struct memjudge *mj, uint64_t now_ns, rules_emit_fn emit, void *cookie);
/* The last judgement of a target about to exit (`ctxtrace run`), or a profile's:
 * one pass over every goroutine (memjudge__set_filter's filter lifted) with these
 * limits (grace 0: blocked at all; a count of 0 means 1) that emits every group at
 * its threshold, reported before or not (emit NULL: none, and none counts as told).
 * The session's limits and filter stay. */
struct memjudge_limits {
	uint64_t grace_ns;
	uint32_t min_count;
	uint32_t stuck_min;
};
int memjudge__run_final(struct memjudge *mj, uint64_t now_ns, const struct memjudge_limits *lim,
			rules_emit_fn emit, void *cookie);
/* Goroutines of the last pass that looked stuck but not yet for --grace: another
 * pass after --grace may report them. */
uint32_t memjudge__pending(const struct memjudge *mj);
/* Judge only the goroutines for which keep returns true (a live session: the
 * ones that existed at attach; later ones are the probe-driven rules'). The rest
 * are still read (channel waiters, contexts) and counted in `other`. */
void memjudge__set_filter(struct memjudge *mj, bool (*keep)(void *cookie, uint64_t goid),
			  void *cookie);
/* Calls on_goroutine for every goroutine the last pass read. */
void memjudge__report_goroutines(struct memjudge *mj);
/* The same to another callback. */
void memjudge__report_to(struct memjudge *mj, void (*fn)(void *cookie, const struct memjudge_go *g), void *cookie);

struct memjudge_stats {
	uint64_t passes;
	uint32_t goroutines;      /* last pass: every goroutine listed */
	uint32_t system;          /* runtime goroutines, not judged */
	uint32_t user;            /* judged */
	uint32_t running;         /* running: stack not readable, not judged */
	uint32_t other;           /* left to the probes (started after attach) */
	uint32_t left_out;        /* changed while read twice, or unreadable: not judged */
	uint32_t over_max;        /* beyond max_goroutines */
	uint32_t contexts;        /* distinct contexts read */
	uint32_t ctx_unreadable;  /* context values found whose object did not check out */
	uint32_t done_dead;       /* Done channels waited on, of contexts no live slot holds */
	uint32_t tied_held, tied_waiting; /* goroutines holding a context / waiting on a Done */
	uint32_t tied_ancestry;   /* goroutines tied by ancestry only (memjudge_go.ancestry) */
	uint32_t ancestry_scans;  /* parents' stacks read again for it */
	uint32_t leaked;          /* status _Gleaked */
	uint32_t alerts;          /* emitted by the last pass */
	uint64_t elapsed_ns;      /* last pass */
};
void memjudge__stats(const struct memjudge *mj, struct memjudge_stats *st);

#endif
