/* One traced target: the whole pipeline for one process (ELF inspection, probe
 * plan, BPF, decoder, lineage graph, rules). Used by `ctxtrace watch/graph` and by
 * the daemon, once per target. */
#ifndef CT_SESSION_H
#define CT_SESSION_H

#include <stdbool.h>
#include <stdint.h>

struct session;
struct ct_event;
struct lineage;
struct session_cost;
struct memjudge_go;
struct alert;
#define CT_PROBE_KIND_MAX_ 16 /* >= CT_PROBE_KIND_MAX (include/ctxtrace.h) */

struct session_opts {
	int pid;
	bool events;            /* deliver decoded events to on_event (EV_LOST always) */
	bool rules;             /* run the leak rules, deliver alerts to on_alert */
	bool graph;             /* keep the lineage graph (implied by rules): session__lineage */
	uint64_t grace_ns;
	uint32_t min_count;
	uint64_t retention_ns;  /* how long exited/cancelled nodes stay in the graph */
	uint32_t max_nodes;     /* the graph's cap; 0: LINEAGE_DEFAULT_MAX_NODES */
	/* No probe, no BPF: read and judge the target's memory only (`ctxtrace
	 * snapshot`); session__snapshot does the work, session__poll is not used. */
	bool memory_only;
	uint32_t stuck_min;     /* stuck-goroutines threshold; 0: the default */
	/* Every goroutine a memory judgement read (rules/memjudge.h); NULL: none. */
	void (*on_goroutine)(void *cookie, const struct memjudge_go *g);
	const char *record_path; /* record raw events here, NULL for none */
	int probes;             /* enum probe_mode: which sites are attached (probes/probe_plan.h) */
	/* A graph the caller builds from on_event (ctxtrace graph): with the default
	 * probes, the exits and Done waits read from memory are compared with it
	 * and delivered as events. Unused when the session keeps its own graph. */
	const struct lineage *lineage;
	uint32_t max_overhead;  /* per cent of the target's CPU the probes may cost; 0: no budget */
	uint64_t ring_max;      /* bytes the ring buffer may grow to; 0: 64 MiB */
	void (*on_event)(void *cookie, const struct ct_event *ev);
	/* One alert (rules/rules.h), valid during the call: outputs render it with
	 * output/alert_out.h. */
	void (*on_alert)(void *cookie, const struct alert *a);
	/* The budget started (sampling) or stopped sampling: once each time. */
	void (*on_budget)(void *cookie, const struct session_cost *c);
	void *cookie;
};

/* What tracing costs the target (session/budget.h). */
struct session_cost {
	double trap_ns;       /* measured cost of one probe hit on this machine; 0 unknown */
	double hits_per_s;
	double cost_cpu;      /* estimated CPU s/s tracing costs the target: trap_cpu + self_cpu */
	double trap_cpu;      /* the probes' hits (traps and program), in the target */
	double prog_ns;       /* our program's run time per hit, since attach (trap_ns: the trap) */
	double self_cpu;      /* ctxtrace's own work for the target (decoding, memory reads) */
	double target_cpu;    /* CPU s/s the target used */
	double pct;           /* cost_cpu / target_cpu, per cent */
	double full_pct;      /* the estimate with every site attached all the time */
	double duty;          /* share of the time the sites are attached */
	bool sampling;        /* the budget's duty cycle is on */
	uint32_t max_overhead; /* the budget, per cent; 0 none */
	uint64_t gaps;        /* detached periods so far */
	uint64_t hits;        /* probe hits since attach */
	double avg_cost_cpu, avg_pct; /* cost_cpu and pct since attach */
	uint64_t hits_by_kind[CT_PROBE_KIND_MAX_]; /* by enum ct_probe_kind */
	const char *probes;   /* "default", "all" */
};

/* NULL with errno and ct_errmsg(): "cannot attach to pid 4242: not a Go program ..." */
struct session *session__open(const struct session_opts *opts);
/* Waits up to timeout_ms for events and processes them. 0, -ESRCH when the
 * target exited, or -errno. */
int session__poll(struct session *s, int timeout_ms);
/* Ends a watch cleanly while the target lives: delivers the records still
 * queued, the WithValue contexts never referenced (id 0) and a last EV_LOST if
 * anything was lost. The target-exit path of session__poll does this itself. */
int session__finish(struct session *s);
void session__free(struct session *s); /* detaches; takes NULL */
/* Judges the target's memory (rules/memjudge.h) and delivers the alerts through
 * on_alert: one pass, and when goroutines looked stuck for less than --grace, a
 * second one --grace later. Never stops the target. 0 or -errno (-ESRCH: gone). */
int session__snapshot(struct session *s);
/* The judgement of a target stopped at its exit (`ctxtrace run`): the records
 * still queued, the rules, then one memory pass with these limits (rules/memjudge.h,
 * memjudge__run_final) whose alerts go to emit, typed. Their count or -errno. */
struct memjudge_limits;
int session__judge_final(struct session *s, const struct memjudge_limits *lim,
			 void (*emit)(void *cookie, const struct alert *a), void *cookie);
/* Calls on_goroutine for every goroutine of the last memory judgement (also
 * after the target exited: what it held when last read). 0 or -EINVAL (none). */
int session__report_goroutines(struct session *s);
/* One memory judgement with the session's limits that tells no alert (the alerts
 * stay to be told by the next judgement) and gives fn every goroutine it read: for
 * a leak profile (output/pprof_out.h). 0 or -errno (-ESRCH: gone). */
int session__profile(struct session *s, void (*fn)(void *cookie, const struct memjudge_go *g), void *cookie);
/* The session's own limits, defaults applied, for session__judge_final. */
void session__limits(const struct session *s, struct memjudge_limits *lim);
struct memjudge_stats;
/* What the last memory judgement read and left out; -ENOENT before any. */
int session__memory_stats(const struct session *s, struct memjudge_stats *st);
/* Probe hits in the target since attach (the BPF side's counter). */
uint64_t session__probe_hits(const struct session *s);
/* The cost estimate now. 0, or -errno. */
int session__cost(const struct session *s, struct session_cost *out);
/* The ring buffer's fill level, in percent: now (before this poll collected it)
 * and the highest seen since attach; its size in bytes. */
struct session_ring {
	uint32_t fill_pct, max_fill_pct;
	uint64_t size;
	uint32_t grows; /* times it grew (probes/tracer.h: tracer__adapt) */
};
void session__ring(const struct session *s, struct session_ring *out);
/* With opts.rules: the rules counted goid as outliving its context at their last
 * judgement (rules__go_outlived). */
bool session__go_outlived(const void *s, uint64_t goid);
/* With opts.rules: what the last memory judgement read of goid, a goroutine that
 * existed at attach (rules/memjudge.h; pointers valid while the session is):
 * false when it read nothing of it (a later goroutine, a runtime one). */
bool session__go_memory(const void *s, uint64_t goid, struct memjudge_go *out);
/* The live graph (with opts.rules or opts.graph), NULL otherwise. */
struct lineage;
const struct lineage *session__lineage(const struct session *s);

#endif
