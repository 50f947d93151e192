#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "daemon/config.h"
#include "daemon/loop.h"
#include "daemon/outputs.h"
#include "daemon/selectors.h"
#include "daemon/status.h"
#include "daemon/targets.h"
#include "session/session.h"
#include "events/event.h"
#include "graph/lineage.h"
#include "output/alert_out.h"
#include "output/graph_out.h"
#include "probes/execwatch.h"
#include "rules/rules.h"
#include "util/clock.h"
#include "util/container.h"
#include "util/json.h"
#include "util/log.h"
#include "util/proc.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

#define NAME_STATS_MAX 1024 /* distinct [target] names remembered for metrics */
#define FAILED_MAX 1024     /* processes not retried until the next reload */

struct tgt {
	struct loop_watch w; /* the pidfd: readable when the process exits */
	struct targets *ts;
	struct tgt *next;
	int pid;
	uint64_t start_time;
	char exe[PATH_MAX];
	char name[72];
	struct container_info ci; /* namespace pid, cgroup, container, pod */
	struct rule_cfg rules;
	void *h;
	struct target_counts *ns;
	char attached_at[40];
	uint64_t attached_mono_ns;
	uint64_t events, alerts, ctx_created, ctx_cancelled, go_created, go_exited, lost;
	bool dead;
	bool sampling; /* told in a target_budget record */
};

struct failed {
	int pid;
	uint64_t start_time;
};

struct targets {
	struct loop *loop;
	struct outputs *out;
	void (*sink)(void *cookie, const struct target_alert *who, const struct alert *a);
	void *sink_cookie;
	struct target_backend be;
	const struct config *cfg;
	struct tgt *list;
	struct target_counts *names;
	int nnames;
	struct execwatch *ew;
	struct loop_watch ew_w;
	struct failed failed[FAILED_MAX];
	int nfailed, failed_next;
	struct targets_stats st;
	pid_t self;
	bool applied; /* once: later scans are reloads */
};

static struct target_counts *counts_of(struct targets *ts, const char *name)
{
	struct target_counts *ns;

	for (ns = ts->names; ns; ns = ns->next) {
		if (!strcmp(ns->name, name))
			return ns;
	}
	if (ts->nnames >= NAME_STATS_MAX)
		return NULL;
	ns = calloc(1, sizeof(*ns));
	if (!ns)
		return NULL;
	snprintf(ns->name, sizeof(ns->name), "%s", name);
	ns->next = ts->names;
	ts->names = ns;
	ts->nnames++;
	return ns;
}

struct lifecycle {
	const struct tgt *g;
	enum out_kind kind;
	const char *name, *exe, *type, *extra_key, *extra_val;
	int pid;
};

/* Where the process runs (docs/containers.md): in every record about a target. */
static void container_members(struct json_w *w, const struct container_info *ci)
{
	json_w__kv_int(w, "ns_pid", ci->ns_pid);
	json_w__kv_str(w, "cgroup", ci->cgroup);
	json_w__key(w, "container_id");
	if (ci->id[0])
		json_w__str(w, ci->id);
	else
		json_w__null(w);
	json_w__key(w, "container_runtime");
	if (ci->runtime[0])
		json_w__str(w, ci->runtime);
	else
		json_w__null(w);
	json_w__key(w, "pod_uid");
	if (ci->pod_uid[0])
		json_w__str(w, ci->pod_uid);
	else
		json_w__null(w);
}

static void lifecycle_members(struct json_w *w, const void *arg)
{
	const struct lifecycle *l = arg;
	char now[40];

	outputs__timestamp(now, sizeof(now));
	json_w__kv_str(w, "type", l->type);
	json_w__kv_str(w, "time", now);
	json_w__kv_str(w, "target", l->name);
	json_w__kv_int(w, "pid", l->pid);
	if (l->exe)
		json_w__kv_str(w, "exe", l->exe);
	if (l->extra_key)
		json_w__kv_str(w, l->extra_key, l->extra_val);
	if (l->g)
		container_members(w, &l->g->ci);
	if (l->g && l->kind == OUT_ATTACH)
		status__rules_json(w, &l->g->rules);
	if (l->g && l->kind == OUT_DETACH) {
		json_w__kv_double(w, "attached_seconds", (double)(ct_mono_ns() - l->g->attached_mono_ns) / 1e9);
		json_w__kv_uint(w, "events", l->g->events);
		json_w__kv_uint(w, "alerts", l->g->alerts);
	}
}

/* Emits one target lifecycle record (docs/daemon.md). */
static void emit(struct targets *ts, enum out_kind kind, int prio, const struct tgt *g, const char *name, int pid,
		 const char *exe, const char *type, const char *extra_key, const char *extra_val, const char *text)
{
	struct lifecycle l = { g, kind, name, exe, type, extra_key, extra_val, pid };
	struct out_event ev = { .kind = kind, .text = text, .priority = prio, .target = name, .pid = pid };
	char *json = json_w__object_str(lifecycle_members, &l);

	if (!json) {
		error("%s: lost (out of memory)", text);
		return;
	}
	ev.json = json;
	outputs__emit(ts->out, &ev);
	free(json);
}

static bool is_failed(struct targets *ts, int pid, uint64_t start)
{
	for (int i = 0; i < ts->nfailed; i++) {
		if (ts->failed[i].pid == pid && ts->failed[i].start_time == start)
			return true;
	}
	return false;
}

static void add_failed(struct targets *ts, int pid, uint64_t start)
{
	ts->failed[ts->failed_next] = (struct failed){ pid, start };
	ts->failed_next = (ts->failed_next + 1) % FAILED_MAX;
	if (ts->nfailed < FAILED_MAX)
		ts->nfailed++;
}

static void on_event(void *cookie, const struct ct_event *ev)
{
	static struct target_counts discard; /* names past NAME_STATS_MAX */
	struct tgt *g = cookie;
	struct target_counts *ns = g->ns ? g->ns : &discard;

	g->events++;
	if (ev->type > 0 && ev->type < EV_TYPE_MAX)
		ns->events[ev->type]++;
	switch (ev->type) {
	case EV_CTX_CREATE:
		g->ctx_created++;
		ns->ctx_created++;
		break;
	case EV_CTX_CANCEL:
		if (ev->ctx_cancel.effective) {
			g->ctx_cancelled++;
			ns->ctx_cancelled++;
		}
		break;
	case EV_GO_CREATE:
		g->go_created++;
		ns->go_created++;
		break;
	case EV_GO_EXIT:
		g->go_exited++;
		ns->go_exited++;
		break;
	case EV_LOST:
		g->lost += ev->lost.ringbuf_drops + ev->lost.read_errors + ev->lost.decode_errors;
		ns->lost_ringbuf += ev->lost.ringbuf_drops;
		ns->lost_read += ev->lost.read_errors;
		ns->lost_decode += ev->lost.decode_errors;
		break;
	default:
		break;
	}
}

struct alert_record {
	const struct tgt *g;
	const struct alert *a;
};

/* The alert's object with the [target] name it was selected by in front. */
static void alert_members(struct json_w *w, const void *arg)
{
	const struct alert_record *r = arg;

	json_w__kv_str(w, "target", r->g->name);
	alert_out__json_members(w, r->a);
	container_members(w, &r->g->ci);
}

static void count_alert(struct target_counts *ns, const char *rule)
{
	int i;

	ns->alerts_total++;
	for (i = 0; i < ns->nrules; i++) {
		if (!strcmp(ns->alerts[i].rule, rule))
			break;
	}
	if (i == ns->nrules && ns->nrules < TARGET_COUNTS_RULES_MAX)
		snprintf(ns->alerts[ns->nrules++].rule, sizeof(ns->alerts[0].rule), "%s", rule);
	if (i < ns->nrules)
		ns->alerts[i].n++;
}

static void on_alert(void *cookie, const struct alert *a)
{
	struct tgt *g = cookie;
	struct alert_record r = { g, a };
	const char *rule = rule_name(a->rule);
	char *json, *text, *txt = NULL;
	struct out_event ev = { .kind = OUT_ALERT, .priority = LOG_WARNING, .target = g->name, .pid = g->pid,
				.rule = rule };

	g->alerts++;
	if (g->ns)
		count_alert(g->ns, rule);
	json = json_w__object_str(alert_members, &r);
	text = alert_out__text_str(a);
	if (!json || !text || asprintf(&txt, "target %s pid %d: %s", g->name, g->pid, text) < 0) {
		error("target %s pid %d: %s alert %s lost: out of memory", g->name, g->pid, rule, a->id);
		txt = NULL;
	} else {
		ev.json = json;
		ev.text = txt;
		outputs__emit(g->ts->out, &ev);
	}
	if (g->ts->sink) {
		struct target_alert who = { .name = g->name, .pid = g->pid, .exe = g->exe, .ci = &g->ci };

		g->ts->sink(g->ts->sink_cookie, &who, a);
	}
	free(json);
	free(text);
	free(txt);
}

static void tgt_free(struct tgt *g)
{
	struct targets *ts = g->ts;

	if (g->h)
		ts->be.free(g->h);
	if (g->w.fd >= 0) {
		loop__del(ts->loop, &g->w);
		close(g->w.fd);
	}
	free(g);
}

static void detach(struct targets *ts, struct tgt *g, const char *reason)
{
	char text[PATH_MAX + 256];
	struct tgt **pp;

	for (pp = &ts->list; *pp; pp = &(*pp)->next) {
		if (*pp == g) {
			*pp = g->next;
			break;
		}
	}
	/* The last events before the process went away. */
	if (g->h && !strcmp(reason, "exited"))
		ts->be.poll(g->h);
	ts->st.attached--;
	ts->st.detaches++;
	if (g->ns)
		g->ns->detaches++;
	snprintf(text, sizeof(text), "detached from pid %d (%s) of target %s: %s", g->pid, g->exe, g->name, reason);
	emit(ts, OUT_DETACH, LOG_INFO, g, g->name, g->pid, g->exe, "target_detach", "reason", reason, text);
	tgt_free(g);
}

/* Once each time a target's overhead budget starts or stops sampling. */
static void budget_told(struct targets *ts, struct tgt *g)
{
	struct session_cost c;
	char text[PATH_MAX + 400], est[32];

	if (!ts->be.cost || ts->be.cost(g->h, &c) || c.sampling == g->sampling)
		return;
	g->sampling = c.sampling;
	snprintf(est, sizeof(est), "%.2f", c.full_pct);
	if (c.sampling)
		snprintf(text, sizeof(text), "pid %d (%.4000s) of target %s: the probes would cost %.1f%% of its CPU, "
			 "over max_overhead %u%%: sampling, attached %.0f%% of the time", g->pid, g->exe, g->name,
			 c.full_pct, c.max_overhead, 100 * c.duty);
	else
		snprintf(text, sizeof(text), "pid %d (%.4000s) of target %s: the probes cost %.1f%% of its CPU, within "
			 "max_overhead %u%%: attached all the time", g->pid, g->exe, g->name, c.full_pct, c.max_overhead);
	emit(ts, OUT_BUDGET, LOG_NOTICE, g, g->name, g->pid, g->exe, c.sampling ? "target_sampling" : "target_sampling_end",
	     "estimated_pct", est, text);
}

static void on_pidfd(struct loop_watch *w, uint32_t events)
{
	struct tgt *g = (struct tgt *)w;

	detach(g->ts, g, "exited");
}

static struct tgt *find_pid(const struct targets *ts, int pid)
{
	for (struct tgt *g = ts->list; g; g = g->next) {
		if (g->pid == pid)
			return g;
	}
	return NULL;
}

/* The graph's own counts, when the session keeps a graph. */
static bool graph_stats(const struct targets *ts, const struct tgt *g, struct lineage_stats *st)
{
	const struct lineage *lg = ts->be.lineage ? ts->be.lineage(g->h) : NULL;

	if (!lg)
		return false;
	lineage__stats(lg, st);
	return true;
}

/* Goroutines alive: the graph's count, else created minus exited as events tell. */
static uint64_t goroutines_alive(const struct targets *ts, const struct tgt *g)
{
	struct lineage_stats st;

	if (graph_stats(ts, g, &st))
		return st.go_alive;
	return g->go_created > g->go_exited ? g->go_created - g->go_exited : 0;
}

const struct tgt *targets__next(const struct targets *ts, const struct tgt *prev, struct target_view *v)
{
	const struct tgt *g = prev ? prev->next : ts->list;
	struct lineage_stats gs;

	if (!g)
		return NULL;
	*v = (struct target_view){
		.name = g->name, .exe = g->exe, .attached_at = g->attached_at, .pid = g->pid, .rules = &g->rules,
		.ci = &g->ci,
		.events = g->events, .alerts = g->alerts, .ctx_created = g->ctx_created,
		.ctx_cancelled = g->ctx_cancelled, .lost = g->lost, .goroutines = goroutines_alive(ts, g),
	};
	if (graph_stats(ts, g, &gs)) {
		v->has_graph = true;
		v->ctx_live = gs.ctx_live;
		v->ctx_cancelled_in_graph = gs.ctx_cancelled;
	}
	if (ts->be.probe_hits) {
		v->has_probe_hits = true;
		v->probe_hits = ts->be.probe_hits(g->h);
	}
	if (ts->be.cost) {
		struct session_cost c;

		if (!ts->be.cost(g->h, &c)) {
			v->has_cost = true;
			v->cost = (struct session_cost_view){
				.probes = c.probes, .trap_ns = c.trap_ns, .hits_per_s = c.hits_per_s,
				.cost_cpu = c.cost_cpu, .trap_cpu = c.trap_cpu, .self_cpu = c.self_cpu,
				.target_cpu = c.target_cpu, .pct = c.pct,
				.full_pct = c.full_pct, .duty = c.duty, .sampling = c.sampling,
				.max_overhead = c.max_overhead,
			};
		}
	}
	if (ts->be.ring_fill) {
		v->has_ring = true;
		ts->be.ring_fill(g->h, &v->ring_fill_pct, &v->ring_max_fill_pct, &v->ring_bytes);
	}
	return g;
}

const struct target_counts *targets__counts(const struct targets *ts)
{
	return ts->names;
}

const struct config *targets__config(const struct targets *ts)
{
	return ts->cfg;
}

int targets__graph(const struct targets *ts, int pid, bool text, FILE *f, char *msg, size_t msglen)
{
	const struct tgt *g = find_pid(ts, pid);
	const struct lineage *lg = g && ts->be.lineage ? ts->be.lineage(g->h) : NULL;
	struct graph_out_opts o = { .format = text ? GRAPH_TREE : GRAPH_JSON, .pid = (uint32_t)pid };
	int err;

	if (!g) {
		snprintf(msg, msglen, "pid %d is not traced by this ctxtraced (see ctxtrace status)", pid);
		return -ESRCH;
	}
	if (!lg) {
		snprintf(msg, msglen, "pid %d: its session keeps no graph", pid);
		return -ENOTSUP;
	}
	o.now_ns = ct_mono_ns();
	o.mono_to_real_ns = (int64_t)(ct_clock_ns(CLOCK_REALTIME) - o.now_ns);
	o.go_leaking = ts->be.go_outlived;
	o.leak_cookie = g->h;
	o.go_memory = ts->be.go_memory;
	o.memory_cookie = g->h;
	/* Straight into f: the server bounds the answer and ends its last line. */
	err = graph_out__write(lg, &o, f);
	if (err) {
		snprintf(msg, msglen, "%s", ct_errmsg());
		return err;
	}
	return 0;
}

bool targets__has_pid(const struct targets *ts, int pid)
{
	return find_pid(ts, pid) != NULL;
}

static void attach_failed(struct targets *ts, const struct target_cfg *sel, const struct proc_info *pi,
			  const char *why)
{
	char text[PATH_MAX + 600];
	struct target_counts *ns = counts_of(ts, sel->name);

	ts->st.attach_failures++;
	if (ns)
		ns->failures++;
	add_failed(ts, pi->pid, pi->start_time);
	snprintf(text, sizeof(text), "cannot attach to pid %d (%s) for target %s: %s", pi->pid, pi->exe, sel->name,
		 why);
	emit(ts, OUT_ATTACH_FAILED, LOG_WARNING, NULL, sel->name, pi->pid, pi->exe, "target_attach_failed", "error",
	     why, text);
}

static void attach(struct targets *ts, const struct target_cfg *sel, const struct proc_info *pi, const char *via)
{
	char text[PATH_MAX + 256], why[600];
	struct tgt *g;
	uint64_t start;
	int fd;

	if (ts->st.attached >= (uint64_t)ts->cfg->daemon.max_targets) {
		ts->st.refused_max++;
		snprintf(why, sizeof(why), "max_targets (%" PRId64 ") processes are traced already",
			 ts->cfg->daemon.max_targets);
		attach_failed(ts, sel, pi, why);
		return;
	}
	fd = (int)syscall(SYS_pidfd_open, pi->pid, 0);
	if (fd < 0) {
		if (errno != ESRCH) {
			snprintf(why, sizeof(why), "cannot watch the process (pidfd_open: %s)", strerror(errno));
			attach_failed(ts, sel, pi, why);
		}
		return; /* ESRCH: gone already */
	}
	/* The pidfd pins the process; make sure it is the one we looked at. */
	if (proc_start_time(pi->pid, &start) || start != pi->start_time) {
		close(fd);
		return;
	}
	g = calloc(1, sizeof(*g));
	if (!g) {
		close(fd);
		attach_failed(ts, sel, pi, "out of memory");
		return;
	}
	g->w.fd = fd;
	g->w.fn = on_pidfd;
	g->ts = ts;
	g->pid = pi->pid;
	g->start_time = pi->start_time;
	snprintf(g->exe, sizeof(g->exe), "%s", pi->exe);
	snprintf(g->name, sizeof(g->name), "%s", sel->name);
	container__read(pi->pid, pi->cgroup, &g->ci);
	config__target_rules(ts->cfg, sel, &g->rules);
	g->ns = counts_of(ts, sel->name);
	outputs__timestamp(g->attached_at, sizeof(g->attached_at));
	g->attached_mono_ns = ct_mono_ns();
	g->h = ts->be.open(pi->pid, sel, &g->rules, on_event, on_alert, g);
	if (!g->h) {
		snprintf(why, sizeof(why), "%s", ct_errmsg());
		close(fd);
		free(g);
		attach_failed(ts, sel, pi, why);
		return;
	}
	if (loop__add(ts->loop, &g->w, EPOLLIN)) {
		ts->be.free(g->h);
		close(fd);
		free(g);
		attach_failed(ts, sel, pi, "cannot watch the process");
		return;
	}
	g->next = ts->list;
	ts->list = g;
	ts->st.attached++;
	ts->st.attaches++;
	if (g->ns)
		g->ns->attaches++;
	snprintf(text, sizeof(text), "attached to pid %d (%s) for target %s", g->pid, g->exe, g->name);
	emit(ts, OUT_ATTACH, LOG_INFO, g, g->name, g->pid, g->exe, "target_attach", "via", via, text);
}

static void consider(struct targets *ts, int pid, const char *via)
{
	struct proc_info pi;
	const struct target_cfg *sel;
	struct tgt *g;

	if (pid == ts->self || !ts->cfg)
		return;
	g = find_pid(ts, pid);
	if (g) {
		/* A new image under a traced pid: the old probes point at the old file. */
		if (strcmp(via, "exec"))
			return;
		detach(ts, g, "exec");
	}
	if (proc_info__read(pid, &pi))
		return;
	if (pi.exe_unreadable) {
		ts->st.exe_unreadable++;
		/* Once: without CAP_SYS_PTRACE every other user's process looks like this. */
		if (ts->st.exe_unreadable == 1 && !proc_have_cap(CAP_SYS_PTRACE))
			error("cannot read the executable of pid %d: permission denied; processes of other users "
			      "cannot be selected by exe (the daemon needs CAP_SYS_PTRACE)", pid);
		else
			verbose("cannot read the executable of pid %d: permission denied", pid);
	}
	sel = targets__select(ts->cfg, &pi);
	if (!sel || is_failed(ts, pid, pi.start_time))
		return;
	if (!strcmp(via, "exec"))
		ts->st.execs_matched++;
	attach(ts, sel, &pi, via);
}

void targets__consider(struct targets *ts, int pid, bool exec)
{
	consider(ts, pid, exec ? "exec" : "scan");
}

static void on_exec(void *cookie, int pid, const char *filename)
{
	consider(cookie, pid, "exec");
}

static void on_execwatch(struct loop_watch *w, uint32_t events)
{
	struct targets *ts = (struct targets *)((char *)w - offsetof(struct targets, ew_w));

	execwatch__consume(ts->ew);
}

struct targets *targets__new(struct loop *l, struct outputs *out, const struct target_backend *backend)
{
	struct targets *ts = calloc(1, sizeof(*ts));

	if (!ts) {
		ct_errmsg_set("out of memory");
		errno = ENOMEM;
		return NULL;
	}
	ts->loop = l;
	ts->out = out;
	if (backend)
		ts->be = *backend;
	ts->self = getpid();
	ts->ew_w.fd = -1;
	return ts;
}

int targets__watch_execs(struct targets *ts)
{
	int err;

	ts->ew = execwatch__open(on_exec, ts);
	if (!ts->ew)
		return -errno;
	ts->ew_w.fd = execwatch__fd(ts->ew);
	ts->ew_w.fn = on_execwatch;
	err = loop__add(ts->loop, &ts->ew_w, EPOLLIN);
	if (err) {
		ct_errmsg_set("cannot watch execs: %s", strerror(-err));
		execwatch__free(ts->ew);
		ts->ew = NULL;
	}
	return err;
}

static bool rules_equal(const struct rule_cfg *a, const struct rule_cfg *b)
{
	return a->grace == b->grace && a->min_count == b->min_count && a->retention == b->retention &&
	       a->stuck_min == b->stuck_min;
}

int targets__apply(struct targets *ts, const struct config *c)
{
	struct tgt *g, *next;
	DIR *d;
	struct dirent *de;

	ts->cfg = c;
	for (g = ts->list; g; g = next) {
		struct proc_info pi;
		const struct target_cfg *sel;
		struct rule_cfg r;

		next = g->next;
		if (proc_info__read(g->pid, &pi) || pi.start_time != g->start_time) {
			detach(ts, g, "exited");
			continue;
		}
		sel = targets__select(c, &pi);
		if (!sel || strcmp(sel->name, g->name)) {
			detach(ts, g, "deselected");
			continue;
		}
		config__target_rules(c, sel, &r);
		if (rules_equal(&r, &g->rules))
			continue;
		if (ts->be.configure && !ts->be.configure(g->h, &r)) {
			g->rules = r;
			continue;
		}
		/* The session takes its rule settings when it opens. */
		detach(ts, g, "reconfigured");
		attach(ts, sel, &pi, "reload");
	}
	ts->nfailed = 0;
	ts->failed_next = 0;
	d = opendir("/proc");
	if (!d) {
		ct_errmsg_set("cannot list processes in /proc: %s", strerror(errno));
		return -errno;
	}
	while ((de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);

		if (*end || pid <= 0)
			continue;
		consider(ts, (int)pid, ts->applied ? "reload" : "scan");
	}
	closedir(d);
	ts->applied = true;
	return 0;
}

void targets__tick(struct targets *ts)
{
	struct tgt *g, *next;

	for (g = ts->list; g; g = next) {
		int r;

		next = g->next;
		r = ts->be.poll(g->h);
		if (r == 0)
			budget_told(ts, g);
		if (r == -ESRCH) {
			detach(ts, g, "exited");
		} else if (r < 0) {
			char why[128];

			snprintf(why, sizeof(why), "error: %s", strerror(-r));
			detach(ts, g, why);
		}
	}
	if (ts->ew)
		execwatch__counters(ts->ew, &ts->st.execs_seen, &ts->st.execs_lost);
}

void targets__detach_all(struct targets *ts, const char *reason)
{
	while (ts->list)
		detach(ts, ts->list, reason);
}

void targets__stats(const struct targets *ts, struct targets_stats *st)
{
	*st = ts->st;
}

void targets__free(struct targets *ts)
{
	struct target_counts *ns, *next;

	if (!ts)
		return;
	targets__detach_all(ts, "shutdown");
	if (ts->ew) {
		loop__del(ts->loop, &ts->ew_w);
		execwatch__free(ts->ew);
	}
	for (ns = ts->names; ns; ns = next) {
		next = ns->next;
		free(ns);
	}
	free(ts);
}

void targets__set_alert_sink(struct targets *t,
			     void (*fn)(void *cookie, const struct target_alert *who, const struct alert *a),
			     void *cookie)
{
	t->sink = fn;
	t->sink_cookie = cookie;
}

int targets__write_profiles(struct targets *ts, const char *dir)
{
	char path[PATH_MAX];
	int failed = 0;

	if (!ts->be.profile)
		return 0;
	for (struct tgt *g = ts->list; g; g = g->next) {
		if (snprintf(path, sizeof(path), "%s/%s-%d.pb.gz", dir, g->name, g->pid) >= (int)sizeof(path) ||
		    ts->be.profile(g->h, g->pid, g->exe, path)) {
			verbose("target %s pid %d: no profile: %s", g->name, g->pid, ct_errmsg());
			failed++;
		}
	}
	return failed;
}
