/* Which processes the daemon traces: [target] selectors matched against each
 * process (at start, on reload, and on every exec), one session per attached
 * process, detached when it exits, is no longer selected, or execs. */
#ifndef CT_DAEMON_TARGETS_H
#define CT_DAEMON_TARGETS_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct targets;
struct loop;
struct outputs;
struct config;
struct target_cfg;
struct rule_cfg;
struct json_w;
struct ct_event;
struct lineage;

/* What the selectors look at, read from /proc/PID. */
struct proc_info {
	int pid;
	uint64_t start_time;   /* /proc/PID/stat field 22: tells a reused pid apart */
	char exe[PATH_MAX];    /* readlink of /proc/PID/exe, " (deleted)" removed; "" when unreadable */
	bool exe_unreadable;   /* not allowed to look (another user's process, no CAP_SYS_PTRACE) */
	char cgroup[1024];     /* /proc/PID/cgroup, as read (one or more lines) */
};

/* 0, or -errno (-ENOENT: the process is gone). A process whose executable the
 * daemon may not see is still read (its cgroup), with exe_unreadable set. */
int proc_info__read(int pid, struct proc_info *pi);
/* Does one [target] section select this process? Every selector it sets must match. */
bool target_cfg__match(const struct target_cfg *t, const struct proc_info *pi);
/* The first [target] section that selects the process, or NULL. */
const struct target_cfg *targets__select(const struct config *c, const struct proc_info *pi);
/* The unit selector against /proc/PID/cgroup text: a path component equal to (or
 * matching the glob) unit, or unit.service. */
bool cgroup_match_unit(const char *cgroup, const char *unit);

/* The pipeline a target runs: the session by default; tests put in a fake. */
struct session_cost;

struct target_backend {
	/* Returns a handle, or NULL with errno and ct_errmsg(). */
	void *(*open)(int pid, const struct target_cfg *t, const struct rule_cfg *rules,
		      void (*on_event)(void *cookie, const struct ct_event *ev),
		      void (*on_alert)(void *cookie, const char *json, const char *text), void *cookie);
	int (*poll)(void *h);  /* 0, -ESRCH when the target exited, -errno */
	/* Optional: new rule settings for a running target; 0, or -errno to
	 * have it re-opened instead. */
	int (*configure)(void *h, const struct rule_cfg *rules);
	void (*free)(void *h);
	/* Optional: the target's live lineage graph, NULL when it keeps none. */
	const struct lineage *(*lineage)(void *h);
	/* Optional: probe hits in the target since attach. */
	uint64_t (*probe_hits)(void *h);
	/* Optional: what tracing costs the target (session__cost). 0 or -errno. */
	int (*cost)(void *h, struct session_cost *out);
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
/* Status: {"targets":[...],"selectors":[...]} members into an open object. */
void targets__write_status(const struct targets *t, struct json_w *w);
void targets__write_status_text(const struct targets *t, FILE *f);
void targets__write_metrics(const struct targets *t, FILE *f);
/* A target's lineage graph into f: JSON (one line), or the tree when text.
 * 0, or -errno with msg: -ESRCH not a target, -ENOTSUP no graph kept. */
int targets__graph(const struct targets *t, int pid, bool text, FILE *f, char *msg, size_t msglen);
/* Does the target with this pid exist? */
bool targets__has_pid(const struct targets *t, int pid);

void targets__free(struct targets *t); /* detaches everything; takes NULL */

#endif
