#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
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
#include "daemon/execwatch.h"
#include "daemon/loop.h"
#include "daemon/metrics.h"
#include "daemon/outputs.h"
#include "daemon/targets.h"
#include "events/event.h"
#include "graph/lineage.h"
#include "output/graph_out.h"
#include "util/json.h"
#include "util/log.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

#define NAME_STATS_MAX 1024 /* distinct [target] names remembered for metrics */
#define RULES_MAX 16        /* distinct rule names counted per target name */
#define FAILED_MAX 1024     /* processes not retried until the next reload */

struct name_stats {
	struct name_stats *next;
	char name[72];
	uint64_t attaches, detaches, failures;
	uint64_t events[EV_TYPE_MAX];
	uint64_t ctx_created, ctx_cancelled, go_created, go_exited;
	uint64_t lost_ringbuf, lost_read, lost_decode;
	struct {
		char rule[48];
		uint64_t n;
	} alerts[RULES_MAX];
	int nrules;
	uint64_t alerts_total;
};

struct tgt {
	struct loop_watch w; /* the pidfd: readable when the process exits */
	struct targets *ts;
	struct tgt *next;
	int pid;
	uint64_t start_time;
	char exe[PATH_MAX];
	char name[72];
	struct rule_cfg rules;
	void *h;
	struct name_stats *ns;
	char attached_at[40];
	uint64_t attached_mono_ns;
	uint64_t events, alerts, ctx_created, ctx_cancelled, go_created, go_exited, lost;
	bool dead;
};

struct failed {
	int pid;
	uint64_t start_time;
};

struct targets {
	struct loop *loop;
	struct outputs *out;
	struct target_backend be;
	const struct config *cfg;
	struct tgt *list;
	struct name_stats *names;
	int nnames;
	struct execwatch *ew;
	struct loop_watch ew_w;
	struct failed failed[FAILED_MAX];
	int nfailed, failed_next;
	struct targets_stats st;
	pid_t self;
	bool applied; /* once: later scans are reloads */
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int read_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;
	size_t off = 0;

	if (fd < 0)
		return -errno;
	while (off + 1 < size) {
		n = read(fd, buf + off, size - 1 - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			n = -errno;
			close(fd);
			return (int)n;
		}
		if (n == 0)
			break;
		off += (size_t)n;
	}
	buf[off] = '\0';
	close(fd);
	return (int)off;
}

/* In the effective set, as /proc/self/status tells. */
static bool have_cap(int cap)
{
	char buf[4096], *p;
	unsigned long long eff;

	if (read_file("/proc/self/status", buf, sizeof(buf)) < 0 || !(p = strstr(buf, "\nCapEff:")))
		return false;
	eff = strtoull(p + 9, NULL, 16);
	return (eff >> cap) & 1;
}

static int read_start_time(int pid, uint64_t *start)
{
	char path[64], buf[1024], *p;
	int n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	n = read_file(path, buf, sizeof(buf));
	if (n < 0)
		return n;
	/* comm may hold spaces and parentheses: fields restart after the last ')'. */
	p = strrchr(buf, ')');
	if (!p)
		return -EINVAL;
	p++;
	for (int field = 3; field < 22; field++) {
		p = strchr(p + 1, ' ');
		if (!p)
			return -EINVAL;
	}
	*start = strtoull(p + 1, NULL, 10);
	return 0;
}

int proc_info__read(int pid, struct proc_info *pi)
{
	char path[64];
	ssize_t n;
	int r;

	memset(pi, 0, sizeof(*pi));
	pi->pid = pid;
	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	n = readlink(path, pi->exe, sizeof(pi->exe) - 1);
	if (n < 0 && errno != EACCES && errno != EPERM)
		return -errno;
	if (n < 0) {
		pi->exe_unreadable = true;
		n = 0;
	}
	pi->exe[n] = '\0';
	if (n > 10 && !strcmp(pi->exe + n - 10, " (deleted)"))
		pi->exe[n - 10] = '\0';
	r = read_start_time(pid, &pi->start_time);
	if (r)
		return r;
	snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
	r = read_file(path, pi->cgroup, sizeof(pi->cgroup));
	return r < 0 ? r : 0;
}

bool cgroup_match_unit(const char *cgroup, const char *unit)
{
	char withsvc[300];
	const char *line = cgroup;

	snprintf(withsvc, sizeof(withsvc), "%s.service", unit);
	while (line && *line) {
		const char *eol = strchr(line, '\n'), *path;
		size_t len = eol ? (size_t)(eol - line) : strlen(line);
		char buf[1024], *comp, *save = NULL;

		/* "ID:controllers:/path" */
		path = memchr(line, ':', len);
		path = path ? memchr(path + 1, ':', len - (size_t)(path + 1 - line)) : NULL;
		if (path && (size_t)(line + len - path - 1) < sizeof(buf)) {
			memcpy(buf, path + 1, line + len - path - 1);
			buf[line + len - path - 1] = '\0';
			for (comp = strtok_r(buf, "/", &save); comp; comp = strtok_r(NULL, "/", &save)) {
				if (!fnmatch(unit, comp, 0) || !fnmatch(withsvc, comp, 0))
					return true;
			}
		}
		line = eol ? eol + 1 : NULL;
	}
	return false;
}

bool target_cfg__match(const struct target_cfg *t, const struct proc_info *pi)
{
	if (!t->exe && !t->unit && !t->pid)
		return false;
	if (t->pid && t->pid != pi->pid)
		return false;
	if (t->exe) {
		const char *base = strrchr(pi->exe, '/');

		base = base ? base + 1 : pi->exe;
		if (pi->exe_unreadable || !pi->exe[0] || (fnmatch(t->exe, base, 0) && fnmatch(t->exe, pi->exe, 0)))
			return false;
	}
	if (t->unit && !cgroup_match_unit(pi->cgroup, t->unit))
		return false;
	return true;
}

const struct target_cfg *targets__select(const struct config *c, const struct proc_info *pi)
{
	for (size_t i = 0; c && i < c->ntargets; i++) {
		if (target_cfg__match(&c->targets[i], pi))
			return &c->targets[i];
	}
	return NULL;
}

static struct name_stats *name_stats(struct targets *ts, const char *name)
{
	struct name_stats *ns;

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

static void rules_json(struct json_w *w, const struct rule_cfg *r)
{
	char buf[64];

	json_w__key(w, "rules");
	json_w__obj_open(w);
	for (size_t i = 0; i < rule_settings_n; i++) {
		const struct setting *s = &rule_settings[i];

		settings__format(s, r, buf, sizeof(buf));
		if (s->type == SET_INT)
			json_w__kv_int(w, s->name, *(const int64_t *)((const char *)r + s->offset));
		else
			json_w__kv_str(w, s->name, buf);
	}
	json_w__obj_close(w);
}

/* Emits one lifecycle record built by the caller's JSON members. */
static void emit(struct targets *ts, enum out_kind kind, int prio, const struct tgt *g, const char *name, int pid,
		 const char *exe, const char *type, const char *extra_key, const char *extra_val, const char *text)
{
	char *json = NULL, now[40];
	size_t len = 0;
	FILE *f = open_memstream(&json, &len);
	struct json_w *w;
	struct out_event ev = { .kind = kind, .text = text, .priority = prio, .target = name, .pid = pid };

	if (!f)
		return;
	w = json_w__new(f, false);
	if (!w) {
		fclose(f);
		free(json);
		return;
	}
	outputs__timestamp(now, sizeof(now));
	json_w__obj_open(w);
	json_w__kv_str(w, "type", type);
	json_w__kv_str(w, "time", now);
	json_w__kv_str(w, "target", name);
	json_w__kv_int(w, "pid", pid);
	if (exe)
		json_w__kv_str(w, "exe", exe);
	if (extra_key)
		json_w__kv_str(w, extra_key, extra_val);
	if (g && kind == OUT_ATTACH)
		rules_json(w, &g->rules);
	if (g && kind == OUT_DETACH) {
		json_w__kv_double(w, "attached_seconds", (double)(mono_ns() - g->attached_mono_ns) / 1e9);
		json_w__kv_uint(w, "events", g->events);
		json_w__kv_uint(w, "alerts", g->alerts);
	}
	json_w__obj_close(w);
	json_w__free(w);
	fclose(f);
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
	struct tgt *g = cookie;
	struct name_stats *ns = g->ns;

	g->events++;
	if (ns && ev->type > 0 && ev->type < EV_TYPE_MAX)
		ns->events[ev->type]++;
	switch (ev->type) {
	case EV_CTX_CREATE:
		g->ctx_created++;
		if (ns)
			ns->ctx_created++;
		break;
	case EV_CTX_CANCEL:
		if (ev->ctx_cancel.effective) {
			g->ctx_cancelled++;
			if (ns)
				ns->ctx_cancelled++;
		}
		break;
	case EV_GO_CREATE:
		g->go_created++;
		if (ns)
			ns->go_created++;
		break;
	case EV_GO_EXIT:
		g->go_exited++;
		if (ns)
			ns->go_exited++;
		break;
	case EV_LOST:
		g->lost += ev->lost.ringbuf_drops + ev->lost.read_errors + ev->lost.decode_errors;
		if (ns) {
			ns->lost_ringbuf += ev->lost.ringbuf_drops;
			ns->lost_read += ev->lost.read_errors;
			ns->lost_decode += ev->lost.decode_errors;
		}
		break;
	default:
		break;
	}
}

/* The value of a top-level "key":"value" string member, enough for "rule". */
static void json_str_member(const char *json, const char *key, char *out, size_t size)
{
	char pat[64];
	const char *p;
	size_t o = 0;

	out[0] = '\0';
	snprintf(pat, sizeof(pat), "\"%s\":\"", key);
	p = strstr(json, pat);
	if (!p)
		return;
	for (p += strlen(pat); *p && *p != '"' && o + 1 < size; p++) {
		if (*p == '\\')
			break;
		out[o++] = *p;
	}
	out[o] = '\0';
}

static void on_alert(void *cookie, const char *json, const char *text)
{
	struct tgt *g = cookie;
	struct targets *ts = g->ts;
	char rule[48], *line = NULL, *txt = NULL, esc[160];
	struct out_event ev = { .kind = OUT_ALERT, .priority = LOG_WARNING, .target = g->name, .pid = g->pid };
	struct name_stats *ns = g->ns;

	while (*json == ' ' || *json == '\n')
		json++;
	if (*json != '{')
		return;
	json_str_member(json, "rule", rule, sizeof(rule));
	g->alerts++;
	if (ns) {
		int i;

		ns->alerts_total++;
		for (i = 0; i < ns->nrules; i++) {
			if (!strcmp(ns->alerts[i].rule, rule[0] ? rule : "unknown"))
				break;
		}
		if (i == ns->nrules && ns->nrules < RULES_MAX)
			snprintf(ns->alerts[ns->nrules++].rule, sizeof(ns->alerts[0].rule), "%s",
				 rule[0] ? rule : "unknown");
		if (i < ns->nrules)
			ns->alerts[i].n++;
	}
	/* The session's object, with the [target] name it was selected by in front. */
	json_escape(esc, sizeof(esc), g->name, strlen(g->name));
	if (asprintf(&line, "{\"target\":\"%s\"%s%s", esc, json[1] == '}' ? "" : ",", json + 1) < 0)
		return;
	if (asprintf(&txt, "target %s pid %d: %s", g->name, g->pid, text ? text : rule) < 0)
		txt = NULL;
	ev.json = line;
	ev.text = txt ? txt : (text ? text : "alert");
	ev.rule = rule[0] ? rule : NULL;
	outputs__emit(ts->out, &ev);
	free(line);
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

static uint64_t clock_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
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
	o.now_ns = clock_ns(CLOCK_MONOTONIC);
	o.mono_to_real_ns = (int64_t)(clock_ns(CLOCK_REALTIME) - o.now_ns);
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
	struct name_stats *ns = name_stats(ts, sel->name);

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
	if (read_start_time(pi->pid, &start) || start != pi->start_time) {
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
	config__target_rules(ts->cfg, sel, &g->rules);
	g->ns = name_stats(ts, sel->name);
	outputs__timestamp(g->attached_at, sizeof(g->attached_at));
	g->attached_mono_ns = mono_ns();
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
		if (ts->st.exe_unreadable == 1 && !have_cap(CAP_SYS_PTRACE))
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
	return a->grace == b->grace && a->min_count == b->min_count && a->retention == b->retention;
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

void targets__write_status(const struct targets *ts, struct json_w *w)
{
	json_w__key(w, "targets");
	json_w__arr_open(w);
	for (const struct tgt *g = ts->list; g; g = g->next) {
		struct lineage_stats gs;

		json_w__obj_open(w);
		json_w__kv_str(w, "target", g->name);
		json_w__kv_int(w, "pid", g->pid);
		json_w__kv_str(w, "exe", g->exe);
		json_w__kv_str(w, "attached", g->attached_at);
		rules_json(w, &g->rules);
		json_w__kv_uint(w, "events", g->events);
		json_w__kv_uint(w, "contexts_created", g->ctx_created);
		json_w__kv_uint(w, "contexts_cancelled", g->ctx_cancelled);
		json_w__kv_uint(w, "goroutines", goroutines_alive(ts, g));
		if (graph_stats(ts, g, &gs)) {
			json_w__kv_uint(w, "contexts_live", gs.ctx_live);
			json_w__kv_uint(w, "contexts_cancelled_in_graph", gs.ctx_cancelled);
		}
		json_w__kv_uint(w, "alerts", g->alerts);
		json_w__kv_uint(w, "lost", g->lost);
		json_w__obj_close(w);
	}
	json_w__arr_close(w);
	json_w__key(w, "selectors");
	json_w__arr_open(w);
	for (size_t i = 0; ts->cfg && i < ts->cfg->ntargets; i++) {
		const struct target_cfg *t = &ts->cfg->targets[i];
		struct rule_cfg r;

		config__target_rules(ts->cfg, t, &r);
		json_w__obj_open(w);
		json_w__kv_str(w, "target", t->name);
		if (t->exe)
			json_w__kv_str(w, "exe", t->exe);
		if (t->unit)
			json_w__kv_str(w, "unit", t->unit);
		if (t->pid)
			json_w__kv_int(w, "pid", t->pid);
		rules_json(w, &r);
		json_w__obj_close(w);
	}
	json_w__arr_close(w);
}

void targets__write_status_text(const struct targets *ts, FILE *f)
{
	char grace[32], ret[32];
	int n = 0;

	for (const struct tgt *g = ts->list; g; g = g->next)
		n++;
	fprintf(f, "%d target%s attached\n", n, n == 1 ? "" : "s");
	if (n)
		fprintf(f, "%-16s %8s %10s %10s %8s %8s  %s\n", "TARGET", "PID", "CONTEXTS", "GOROUTINES", "ALERTS",
			"LOST", "EXE");
	for (const struct tgt *g = ts->list; g; g = g->next)
		fprintf(f, "%-16s %8d %10" PRIu64 " %10" PRIu64 " %8" PRIu64 " %8" PRIu64 "  %s\n", g->name, g->pid,
			g->ctx_created, goroutines_alive(ts, g), g->alerts, g->lost, g->exe);
	fprintf(f, "selectors:\n");
	for (size_t i = 0; ts->cfg && i < ts->cfg->ntargets; i++) {
		const struct target_cfg *t = &ts->cfg->targets[i];
		struct rule_cfg r;

		config__target_rules(ts->cfg, t, &r);
		format_duration(grace, sizeof(grace), r.grace);
		format_duration(ret, sizeof(ret), r.retention);
		fprintf(f, "  [target %s]", t->name);
		if (t->exe)
			fprintf(f, " exe=%s", t->exe);
		if (t->unit)
			fprintf(f, " unit=%s", t->unit);
		if (t->pid)
			fprintf(f, " pid=%" PRId64, t->pid);
		fprintf(f, " grace=%s min_count=%" PRId64 " retention=%s\n", grace, r.min_count, ret);
	}
}

void targets__write_metrics(const struct targets *ts, FILE *f)
{
	const struct name_stats *ns;
	const struct tgt *g;
	char pid[16];

	prom__family(f, "ctxtrace_targets", "gauge", "Processes traced now.");
	prom__sample(f, "ctxtrace_targets", NULL, 0, ts->st.attached);
	prom__family(f, "ctxtrace_target_info", "gauge", "One series per traced process.");
	for (g = ts->list; g; g = g->next) {
		struct prom_label l[] = { { "target", g->name }, { "pid", pid }, { "exe", g->exe } };

		snprintf(pid, sizeof(pid), "%d", g->pid);
		prom__sample(f, "ctxtrace_target_info", l, 3, 1);
	}
	prom__family(f, "ctxtrace_goroutines", "gauge", "Goroutines alive in a traced process.");
	for (g = ts->list; g; g = g->next) {
		struct prom_label l[] = { { "target", g->name }, { "pid", pid } };

		snprintf(pid, sizeof(pid), "%d", g->pid);
		prom__sample(f, "ctxtrace_goroutines", l, 2, goroutines_alive(ts, g));
	}
	prom__family(f, "ctxtrace_contexts", "gauge",
		     "Contexts in a traced process's graph: live, or cancelled and still retained.");
	for (g = ts->list; g; g = g->next) {
		struct lineage_stats gs;
		struct prom_label l[2][3] = { { { "target", g->name }, { "pid", pid }, { "state", "live" } },
					      { { "target", g->name }, { "pid", pid }, { "state", "cancelled" } } };

		if (!graph_stats(ts, g, &gs))
			continue;
		snprintf(pid, sizeof(pid), "%d", g->pid);
		prom__sample(f, "ctxtrace_contexts", l[0], 3, gs.ctx_live);
		prom__sample(f, "ctxtrace_contexts", l[1], 3, gs.ctx_cancelled);
	}

	prom__family(f, "ctxtrace_probe_hits_total", "counter", "Probe hits in a traced process since attach.");
	for (g = ts->list; g && ts->be.probe_hits; g = g->next) {
		struct prom_label l[] = { { "target", g->name }, { "pid", pid } };

		snprintf(pid, sizeof(pid), "%d", g->pid);
		prom__sample(f, "ctxtrace_probe_hits_total", l, 2, ts->be.probe_hits(g->h));
	}

#define PER_NAME(metric, help, field)                                      \
	do {                                                               \
		prom__family(f, metric, "counter", help);                  \
		for (ns = ts->names; ns; ns = ns->next) {                  \
			struct prom_label l[] = { { "target", ns->name } }; \
			prom__sample(f, metric, l, 1, ns->field);          \
		}                                                          \
	} while (0)
	PER_NAME("ctxtrace_attaches_total", "Processes attached.", attaches);
	PER_NAME("ctxtrace_attach_failures_total", "Selected processes that could not be attached.", failures);
	PER_NAME("ctxtrace_detaches_total", "Processes detached.", detaches);
	PER_NAME("ctxtrace_contexts_created_total", "Contexts created in traced processes.", ctx_created);
	PER_NAME("ctxtrace_contexts_cancelled_total", "Contexts cancelled in traced processes.", ctx_cancelled);
	PER_NAME("ctxtrace_goroutines_created_total", "Goroutines created (or found at attach).", go_created);
	PER_NAME("ctxtrace_goroutines_exited_total", "Goroutines exited.", go_exited);
#undef PER_NAME

	prom__family(f, "ctxtrace_alerts_total", "counter", "Alerts, by rule.");
	for (ns = ts->names; ns; ns = ns->next) {
		for (int i = 0; i < ns->nrules; i++) {
			struct prom_label l[] = { { "target", ns->name }, { "rule", ns->alerts[i].rule } };

			prom__sample(f, "ctxtrace_alerts_total", l, 2, ns->alerts[i].n);
		}
	}
	prom__family(f, "ctxtrace_events_total", "counter", "Decoded events, by type.");
	for (ns = ts->names; ns; ns = ns->next) {
		for (int t = 1; t < EV_TYPE_MAX; t++) {
			struct prom_label l[] = { { "target", ns->name }, { "type", ev_type_name(t) } };

			prom__sample(f, "ctxtrace_events_total", l, 2, ns->events[t]);
		}
	}
	prom__family(f, "ctxtrace_dropped_total", "counter",
		     "Records lost: ringbuf (kernel queue full), read (target memory unreadable), decode.");
	for (ns = ts->names; ns; ns = ns->next) {
		struct prom_label l[3][2] = { { { "target", ns->name }, { "kind", "ringbuf" } },
					      { { "target", ns->name }, { "kind", "read" } },
					      { { "target", ns->name }, { "kind", "decode" } } };

		prom__sample(f, "ctxtrace_dropped_total", l[0], 2, ns->lost_ringbuf);
		prom__sample(f, "ctxtrace_dropped_total", l[1], 2, ns->lost_read);
		prom__sample(f, "ctxtrace_dropped_total", l[2], 2, ns->lost_decode);
	}
	prom__family(f, "ctxtrace_execs_total", "counter", "Execs on the host the daemon saw.");
	prom__sample(f, "ctxtrace_execs_total", NULL, 0, ts->st.execs_seen);
	prom__family(f, "ctxtrace_execs_lost_total", "counter", "Execs not reported (exec ring buffer full).");
	prom__sample(f, "ctxtrace_execs_lost_total", NULL, 0, ts->st.execs_lost);
	prom__family(f, "ctxtrace_refused_max_targets_total", "counter", "Matches refused by max_targets.");
	prom__sample(f, "ctxtrace_refused_max_targets_total", NULL, 0, ts->st.refused_max);
}

void targets__free(struct targets *ts)
{
	struct name_stats *ns, *next;

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
