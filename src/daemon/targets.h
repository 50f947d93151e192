/* Which processes the daemon traces: [target] selectors matched against each
 * process (at start, on reload, and on every exec), one session per attached
 * process, detached when it exits, is no longer selected, or execs. */
#ifndef CT_DAEMON_TARGETS_H
#define CT_DAEMON_TARGETS_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "events/event.h"

struct targets;
struct loop;
struct outputs;
struct config;
struct target_cfg;
struct rule_cfg;
struct json_w;
struct ct_event;
struct lineage;
struct alert;

/* The pipeline a target runs: the session by default; tests put in a fake. */
struct memjudge_go;
struct session_cost;

struct target_backend {
	/* Returns a handle, or NULL with errno and ct_errmsg(). */
	void *(*open)(int pid, const struct target_cfg *t, const struct rule_cfg *rules,
		      void (*on_event)(void *cookie, const struct ct_event *ev),
		      void (*on_alert)(void *cookie, const struct alert *a), void *cookie);
	int (*poll)(void *h);  /* 0, -ESRCH when the target exited, -errno */
	/* Optional: new rule settings for a running target; 0, or -errno to
	 * have it re-opened instead. */
	int (*configure)(void *h, const struct rule_cfg *rules);
	void (*free)(void *h);
	/* Optional: the target's live lineage graph, NULL when it keeps none. */
	const struct lineage *(*lineage)(void *h);
	/* Optional: probe hits in the target since attach. */
	uint64_t (*probe_hits)(void *h);
	/* Optional: the ring buffer's fill level in percent, now and the highest
	 * since attach. */
	void (*ring_fill)(void *h, uint32_t *now_pct, uint32_t *max_pct, uint64_t *bytes);
	/* Optional: the rules' verdict on a goroutine, for the graph's LEAK marks. */
	bool (*go_outlived)(const void *h, uint64_t goid);
	/* Optional: what the memory judgement read of a goroutine that existed at
	 * attach, for the graph (session__go_memory). */
	bool (*go_memory)(const void *h, uint64_t goid, struct memjudge_go *out);
	/* Optional: what tracing costs the target (session__cost). 0 or -errno. */
	int (*cost)(void *h, struct session_cost *out);
	/* Optional: writes the target's stuck goroutines as a pprof profile to path
	 * (output/pprof_out.h). 0 or -errno with ct_errmsg(). */
	int (*profile)(void *h, int pid, const char *exe, const char *path);
};

struct targets_stats {
	uint64_t attached;        /* now */
	uint64_t attaches, attach_failures, detaches, refused_max;
	uint64_t execs_seen, execs_lost, execs_matched;
	uint64_t exe_unreadable;  /* processes whose executable could not be read */
};

/* backend NULL: the real session (session/session.h). */
struct targets *targets__new(struct loop *l, struct outputs *out, const struct target_backend *backend);
/* Starts watching execs (the BPF exec tracepoint). 0 or -errno with ct_errmsg(). */
int targets__watch_execs(struct targets *t);
/* Applies a config (the first, or a reload): targets no longer selected are
 * detached, the kept ones keep their sessions (re-attached only when their rule
 * settings changed), then /proc is scanned for new matches. The config must
 * outlive its use: the caller keeps it until the next apply. */
int targets__apply(struct targets *t, const struct config *c);
/* Considers one process (an exec, say). */
void targets__consider(struct targets *t, int pid, bool exec);
/* Reads every target's events; detaches those that exited. */
void targets__tick(struct targets *t);
/* Detaches everything (reason: shutdown). */
void targets__detach_all(struct targets *t, const char *reason);

void targets__stats(const struct targets *t, struct targets_stats *st);
/* Every target's leak profile into dir, as TARGET-PID.pb.gz (replaced each time).
 * Returns how many could not be written (each one logged). */
int targets__write_profiles(struct targets *t, const char *dir);

/* Who raised an alert, for the typed alert sink (the OTLP exporter). */
struct container_info;
struct target_alert {
	const char *name;  /* [target NAME] */
	int pid;
	const char *exe;
	const struct container_info *ci; /* util/container.h */
};
/* fn gets every alert, typed, after the outputs did; NULL: none. */
void targets__set_alert_sink(struct targets *t,
			     void (*fn)(void *cookie, const struct target_alert *who, const struct alert *a),
			     void *cookie);

/* One attached process, as status and metrics show it. */
struct target_view {
	const char *name, *exe, *attached_at;
	int pid;
	const struct rule_cfg *rules;
	uint64_t events, alerts, ctx_created, ctx_cancelled, lost;
	uint64_t goroutines;      /* alive: the graph's count, else created minus exited */
	bool has_graph;           /* the session keeps a graph, whose counts follow */
	uint64_t ctx_live, ctx_cancelled_in_graph;
	bool has_probe_hits;      /* the backend counts probe hits */
	uint64_t probe_hits;
	bool has_ring;            /* the backend tells its ring buffer's fill level */
	uint32_t ring_fill_pct, ring_max_fill_pct;
	uint64_t ring_bytes;      /* its size now (it grows with the record rate) */
	bool has_cost;            /* the backend estimates what tracing costs */
	struct session_cost_view {
		const char *probes;   /* "default", "all" */
		double trap_ns, hits_per_s, cost_cpu, trap_cpu, self_cpu, target_cpu, pct, full_pct, duty;
		bool sampling;
		uint32_t max_overhead;
	} cost;
	const struct container_info *ci; /* namespace pid, cgroup, container, pod */
};

#define TARGET_COUNTS_RULES_MAX 16 /* distinct rule names counted per target name */

/* Counters of one [target] name over every process it selected, for metrics. */
struct target_counts {
	struct target_counts *next;
	char name[72];
	uint64_t attaches, detaches, failures;
	uint64_t events[EV_TYPE_MAX];
	uint64_t ctx_created, ctx_cancelled, go_created, go_exited;
	uint64_t lost_ringbuf, lost_read, lost_decode;
	struct {
		char rule[48];
		uint64_t n;
	} alerts[TARGET_COUNTS_RULES_MAX];
	int nrules;
	uint64_t alerts_total;
};

/* The attached processes, newest first: prev NULL for the first, then the
 * value returned; fills v; NULL at the end. */
struct tgt;
const struct tgt *targets__next(const struct targets *t, const struct tgt *prev, struct target_view *v);
/* Every [target] name's counters (a list through ->next). */
const struct target_counts *targets__counts(const struct targets *t);
/* The config last applied; NULL before the first. */
const struct config *targets__config(const struct targets *t);
/* Prometheus text of the targets (daemon/metrics.c). */
void targets__write_metrics(const struct targets *t, FILE *f);
/* A target's lineage graph into f: JSON (one line), or the tree when text.
 * 0, or -errno with msg: -ESRCH not a target, -ENOTSUP no graph kept. */
int targets__graph(const struct targets *t, int pid, bool text, FILE *f, char *msg, size_t msglen);
/* Does the target with this pid exist? */
bool targets__has_pid(const struct targets *t, int pid);

void targets__free(struct targets *t); /* detaches everything; takes NULL */

#endif
