/* One traced target: ELF -> offsets -> probe plan -> BPF -> decoder -> events
 * (on_event, the recording) -> lineage graph -> rules -> alerts (on_alert). */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "binary/ctxvars.h"
#include "binary/goelf.h"
#include "binary/offsets.h"
#include "events/ctxmem.h"
#include "events/decoder.h"
#include "events/framescan.h"
#include "events/event.h"
#include "events/goroutines.h"
#include "events/gotypes.h"
#include "events/ctxmem.h"
#include "events/gstate.h"
#include "events/procmem.h"
#include "events/record.h"
#include "graph/lineage.h"
#include "probes/probe_plan.h"
#include "probes/systrace.h"
#include "probes/tracer.h"
#include "rules/memjudge.h"
#include "rules/rules.h"
#include "session/budget.h"
#include "session/layout_check.h"
#include "session/memfacts.h"
#include "session/session.h"
#include "util/clock.h"
#include "util/intern.h"
#include "util/log.h"
#include "util/proc.h"
#include "version.h"

#define POLL_MS 10
#define DETACHED_POLL_MS 100
#define CONSUME_CHUNK 2048 /* records decoded between two budget steps */
#define RULES_TICK_NS 500000000ULL /* alerts come within --grace + 0.5 s */
/* Memory judgements during a watch: at attach, --grace later for what was not yet
 * blocked that long, then this often (a pass reads every goroutine: about 0.3 s of
 * one core per 10k goroutines, see make bench). */
#define MEMJUDGE_INTERVAL_NS (60ULL * 1000000000ULL)

struct session {
	char st_why[256]; /* why syscall tracing is unavailable; "" */
	struct session_opts o;
	char exe_path[64];
	char exe_name[PATH_MAX];
	struct goelf *ge;
	struct go_offsets off;
	struct probe_plan plan;
	struct procmem *mem;
	struct intern *in;
	struct gotypes *gt;
	struct goroutines *gs;
	struct decoder *dec;
	struct tracer *tr;
	struct record *rec;
	struct lineage *lg;
	struct systrace *st;
	struct gstate_src *gsrc;
	struct rules *rules;
	struct memfacts *mf;
	struct budget *bud;
	/* With a budget, a thread of its own runs the duty cycle: decoding may fall
	 * behind a busy target for seconds, the cycle must not. bud_mu guards bud
	 * and the attach state. */
	pthread_t bud_thread;
	bool bud_thread_on;
	bool bud_stop;
	pthread_mutex_t bud_mu;
	pthread_cond_t bud_cv; /* wakes the thread to stop */
	bool sampling_told;
	uint32_t since_budget;   /* records decoded since the last budget step */
	uint64_t records;        /* decoded */
	uint32_t ring_empty_polls; /* polls in a row that found no record */
	uint64_t gap_told;       /* end of the last budget gap given to memfacts */
	struct ctxmem *cm;
	uint64_t ctx_itab[CTX_KIND_MAX]; /* a context.Context itab per kind; 1: none found */
	struct framescan *fs;
	struct memjudge *mj;
	uint64_t md_addr, md_types;
	uint64_t next_mem_ns; /* next memory judgement; 0: none */
	bool mem_looked_again; /* the pass --grace after the first was scheduled */
	/* Goroutines that existed at attach, sorted: the memory judgement's business;
	 * the ones started later are the probe-driven rules'. */
	uint64_t *pre_goids;
	size_t npre, pre_cap;
	/* The last memory judgement's view of those goroutines, by goid (the graph
	 * shows it: session__go_memory). */
	struct memjudge_go *mem_gos;
	size_t nmem, mem_cap;
	bool mem_oom;
	uint64_t last_tick;
	int pidfd;
	bool exited;
	int rec_err;
	uint64_t bias;
	/* Loss counters already reported in EV_LOST events. */
	uint64_t rep_drops, rep_read_errors, rep_decode_errors;
	struct session_ring ring;
};

static void deliver(void *cookie, const struct ct_event *ev)
{
	struct session *s = cookie;

	if (s->rec && !s->rec_err) {
		s->rec_err = record__write(s->rec, ev);
		if (s->rec_err)
			error("recording stopped: %s", ct_errmsg());
	}
	/* losses are part of the alert stream too (README): an alert may be missing */
	if ((s->o.events || ev->type == EV_LOST) && s->o.on_event)
		s->o.on_event(s->o.cookie, ev);
	if (s->lg && lineage__apply(s->lg, ev) == 0 && s->rules)
		rules__on_event(s->rules, s->lg, ev);
}

static bool bud_gap_in(struct session *s, uint64_t from, uint64_t to)
{
	bool gap;

	if (!s->bud)
		return false;
	pthread_mutex_lock(&s->bud_mu);
	gap = budget__gap_in(s->bud, from, to);
	pthread_mutex_unlock(&s->bud_mu);
	return gap;
}

static void bud_cost(const struct session *s, struct budget_cost *bc)
{
	pthread_mutex_lock((pthread_mutex_t *)&s->bud_mu);
	budget__cost(s->bud, bc);
	pthread_mutex_unlock((pthread_mutex_t *)&s->bud_mu);
}

static void emit_alert(void *cookie, const struct alert *a)
{
	struct session *s = cookie;

	struct alert marked;
	struct budget_cost bc;

	if (!s->o.on_alert)
		return;
	if (s->bud) {
		bud_cost(s, &bc);
		if (bc.gaps && bud_gap_in(s, s->last_tick > s->o.retention_ns ? s->last_tick - s->o.retention_ns : 0,
					      s->last_tick)) {
			marked = *a;
			marked.sampled = true;
			a = &marked;
		}
	}
	s->o.on_alert(s->o.cookie, a);
}

/* What the default probe set, or the budget's gaps, leave to memory. */
static void facts_tick(struct session *s, uint64_t now)
{
	const struct lineage *lg = s->lg ? s->lg : s->o.lineage;
	uint64_t from, to;

	/* a gap closed: what memory says of the contexts it hid */
	if (s->mf && s->bud) {
		pthread_mutex_lock(&s->bud_mu);
		if (budget__last_gap(s->bud, &from, &to) && to != s->gap_told) {
			s->gap_told = to;
			memfacts__gap_ended(s->mf, from);
		}
		pthread_mutex_unlock(&s->bud_mu);
	}

	if (s->mf && lg && (s->o.probes == PROBES_DEFAULT || bud_gap_in(s, 0, now)))
		memfacts__tick(s->mf, lg, now);
}

static bool preexisting(void *cookie, uint64_t goid);

static void keep_mem_go(void *cookie, const struct memjudge_go *g)
{
	struct session *s = cookie;

	if (g->system || !preexisting(s, g->goid))
		return;
	if (s->nmem == s->mem_cap) {
		size_t cap = s->mem_cap ? 2 * s->mem_cap : 256;
		struct memjudge_go *p = realloc(s->mem_gos, cap * sizeof(*p));

		if (!p) {
			s->mem_oom = true;
			return;
		}
		s->mem_gos = p;
		s->mem_cap = cap;
	}
	/* its pointers (stacks, names) are interned for the session's life */
	s->mem_gos[s->nmem++] = *g;
}

static int cmp_mem_go(const void *a, const void *b)
{
	const struct memjudge_go *x = a, *y = b;

	return x->goid < y->goid ? -1 : x->goid > y->goid;
}

/* Keeps what the pass read of the goroutines that existed at attach. */
static void keep_memory_view(struct session *s)
{
	s->nmem = 0;
	s->mem_oom = false;
	memjudge__report_to(s->mj, keep_mem_go, s);
	qsort(s->mem_gos, s->nmem, sizeof(*s->mem_gos), cmp_mem_go);
	if (s->mem_oom)
		verbose("pid %d: out of memory keeping the memory view: the graph shows part of it", s->o.pid);
}

bool session__go_memory(const void *cookie, uint64_t goid, struct memjudge_go *out)
{
	const struct session *s = cookie;
	struct memjudge_go key = { .goid = goid };
	const struct memjudge_go *g;

	if (!s || !s->nmem)
		return false;
	g = bsearch(&key, s->mem_gos, s->nmem, sizeof(key), cmp_mem_go);
	if (!g)
		return false;
	*out = *g;
	return true;
}

static void memory_judge(struct session *s, uint64_t now)
{
	int err;

	if (!s->mj)
		return;
	err = memjudge__run(s->mj, now, emit_alert, s);
	if (err < 0 && err != -ESRCH)
		verbose("pid %d: memory judgement failed: %s", s->o.pid, strerror(-err));
	if (err >= 0 && s->npre)
		keep_memory_view(s);
	if (memjudge__pending(s->mj) && !s->mem_looked_again) {
		s->mem_looked_again = true;
		s->next_mem_ns = now + (s->o.grace_ns ? s->o.grace_ns : RULES_DEFAULT_GRACE_NS) +
				 RULES_TICK_NS;
	} else {
		struct memjudge_stats st;
		uint64_t every = MEMJUDGE_INTERVAL_NS;

		/* At most 1% of the time in memory passes (a pass blocks the event loop:
		 * records wait in the ring buffer meanwhile). */
		memjudge__stats(s->mj, &st);
		if (st.elapsed_ns * 100 > every)
			every = st.elapsed_ns * 100;
		s->next_mem_ns = now + every;
	}
}

static void rules_tick(struct session *s, uint64_t now, bool force)
{
	bool mem_due = s->next_mem_ns && now >= s->next_mem_ns;
	bool tick_due = s->lg && (force || now - s->last_tick >= RULES_TICK_NS);

	/* One allgs walk serves this round's memory passes and rules tick (goroutines.h). */
	if (s->gs && (mem_due || tick_due))
		goroutines__new_pass(s->gs);
	facts_tick(s, now);
	if (mem_due)
		memory_judge(s, now);
	if (!tick_due)
		return;
	s->last_tick = now;
	lineage__expire(s->lg, now);
	if (s->rules)
		rules__tick(s->rules, s->lg, now, emit_alert, s);
}

static bool gap_in(void *cookie, uint64_t from, uint64_t to)
{
	struct session *s = cookie;

	return bud_gap_in(s, from, to);
}

static int syscall_of(void *st, uint32_t tid, int *nr, uint64_t *since_ns)
{
	return systrace__lookup(st, tid, nr, since_ns);
}

/* A context's state from memory, for the rules' confirmation (rules.h). */
static int ctx_state(void *cookie, uint64_t id, enum ctx_kind kind, uint64_t parent_id,
		     enum ctx_kind parent_kind, bool *cancelled)
{
	struct session *s = cookie;
	struct ctxmem_state st;
	int err;

	if (!s->cm || (unsigned)kind >= CTX_KIND_MAX)
		return -ENOTSUP;
	if (!s->ctx_itab[kind]) {
		uint64_t itabs[512];
		int n = ctxmem__ctx_itabs(s->cm, itabs, 512);

		s->ctx_itab[kind] = 1;
		for (int i = 0; i < n; i++) {
			const char *tn = NULL;

			if (gotypes__ctx_kind(s->gt, itabs[i], 0, &tn) == kind && tn && !strncmp(tn, "*context.", 9)) {
				s->ctx_itab[kind] = itabs[i];
				break;
			}
		}
	}
	if (s->ctx_itab[kind] == 1)
		return -ENOTSUP;
	err = ctxmem__read(s->cm, s->ctx_itab[kind], id, &st);
	if (err)
		return err == -EINVAL ? -ENOENT : err;
	if (st.kind != kind)
		return -ENOENT;
	/* the same context, not a new one at its address: the same parent */
	if (parent_kind == CTX_BACKGROUND || parent_kind == CTX_TODO) {
		enum ctx_kind pk = gotypes__ctx_kind(s->gt, st.parent_itab, st.parent_data, NULL);

		if (pk != CTX_BACKGROUND && pk != CTX_TODO)
			return -ENOENT;
	} else if (!parent_id || st.parent_data != parent_id) {
		return -ENOENT;
	}
	*cancelled = st.cancelled;
	return 0;
}

static bool root_kind(enum ctx_kind k)
{
	return k == CTX_BACKGROUND || k == CTX_TODO;
}

/* Many open contexts at once (memfacts, after a gap): one read for their parent
 * and err words; the same context when the parent is the one it was created with
 * (a stopCtx wrapper in between is read the long way). */
static void ctx_states(void *cookie, const struct memfacts_ctx *c, int n, int *state)
{
	struct session *s = cookie;
	uint64_t *addrs = malloc((size_t)n * sizeof(*addrs));
	struct ctxmem_brief *b = malloc((size_t)n * sizeof(*b));
	int err = -ENOMEM;

	for (int i = 0; i < n && addrs; i++)
		addrs[i] = c[i].id;
	if (addrs && b)
		err = s->cm ? ctxmem__cancel_briefs(s->cm, addrs, n, b) : -ENOTSUP;
	for (int i = 0; i < n; i++) {
		bool cancelled = false, same;

		if (err) {
			state[i] = err;
			continue;
		}
		if (b[i].err) {
			/* not a cancelCtx's words any more: another object is there */
			state[i] = b[i].err == -EINVAL ? -ENOENT : b[i].err;
			continue;
		}
		if (root_kind(c[i].parent_kind))
			same = root_kind(gotypes__ctx_kind(s->gt, b[i].parent_itab, b[i].parent_data, NULL));
		else
			same = b[i].parent_data == c[i].parent_id;
		if (!same) {
			const char *name = gotypes__itab_name(s->gt, b[i].parent_itab);

			if (name && !strcmp(name, "context.stopCtx")) {
				int e = ctx_state(s, c[i].id, c[i].kind, c[i].parent_id, c[i].parent_kind, &cancelled);

				state[i] = e ? e : cancelled;
				continue;
			}
			state[i] = -ENOENT;
			continue;
		}
		state[i] = b[i].cancelled;
	}
	free(addrs);
	free(b);
}

/* The graph and the rules, when asked for. Syscall tracing is optional: without
 * it unreachable-cancel cannot name the call, and the user is told so. */
static int open_analysis(struct session *s)
{
	struct lineage_opts lo = { .retention_ns = s->o.retention_ns, .max_nodes = s->o.max_nodes };
	struct gstate_src_opts gso = { .gs = s->gs, .mem = s->mem, .off = &s->off, .dec = s->dec,
				       .go_minor = goelf__buildinfo(s->ge)->minor };
	struct rules_opts ro = { .pid = s->o.pid, .grace_ns = s->o.grace_ns, .min_count = s->o.min_count };

	struct memfacts_opts mfo = { .gs = s->gs, .pid = s->o.pid, .emit = deliver, .cookie = s,
				     .mem = s->mem, .off = &s->off };

	if (s->o.rules || s->o.memory_only) {
		struct ctxmem_opts co = { .mem = s->mem, .types = s->gt, .off = &s->off,
					  .go_minor = gso.go_minor, .moduledata = s->md_addr,
					  .types_start = s->md_types };
		struct memjudge_opts mo = { .pid = s->o.pid, .go_minor = gso.go_minor,
					    .grace_ns = s->o.grace_ns, .min_count = s->o.min_count,
					    .stuck_min = s->o.stuck_min, .mem = s->mem, .gs = s->gs,
					    .dec = s->dec, .on_goroutine = s->o.on_goroutine,
					    .cookie = s->o.cookie };

		s->gsrc = gstate_src__new(&gso);
		s->cm = s->gsrc ? ctxmem__new(&co) : NULL;
		s->fs = s->cm ? framescan__new(&(struct framescan_opts){ .mem = s->mem, .gs = s->gs,
									  .cm = s->cm, .ge = s->ge,
									  .bias = s->bias }) : NULL;
		mo.cm = s->cm;
		mo.fs = s->fs;
		mo.gsrc = s->gsrc;
		s->mj = s->fs ? memjudge__new(&mo) : NULL;
		if (!s->mj)
			return -ENOMEM;
	}
	if (s->o.memory_only || (!s->o.rules && !s->o.graph && !s->o.lineage))
		return 0;
	if (s->o.rules || s->o.graph) {
		s->lg = lineage__new(&lo);
		if (!s->lg)
			return -ENOMEM;
	}
	/* ctxtrace graph keeps no rules: the readers for Done waiters are its own */
	if (!s->cm) {
		struct ctxmem_opts co = { .mem = s->mem, .types = s->gt, .off = &s->off,
					  .go_minor = gso.go_minor, .moduledata = s->md_addr,
					  .types_start = s->md_types };

		s->cm = ctxmem__new(&co);
		s->fs = s->cm ? framescan__new(&(struct framescan_opts){ .mem = s->mem, .gs = s->gs,
									  .cm = s->cm, .ge = s->ge,
									  .bias = s->bias }) : NULL;
	}
	if (!s->fs)
		verbose("pid %d: context readers unavailable: Done() waiters known from the scope only", s->o.pid);
	mfo.cm = s->cm;
	mfo.fs = s->fs;
	mfo.ctxstates = ctx_states;
	mfo.ctxstates_cookie = s;
	s->mf = memfacts__new(&mfo);
	if (!s->mf)
		return -ENOMEM;
	if (!s->lg)
		return 0;
	if (!s->o.rules)
		return 0;
	s->st = systrace__open(s->o.pid);
	/* Told after the attach: when the uprobes fail too, their error is the one line. */
	if (!s->st)
		snprintf(s->st_why, sizeof(s->st_why), "%s", ct_errmsg());
	ro.gstate = gstate_src__read;
	ro.gstate_cookie = s->gsrc;
	if (s->st) {
		ro.syscall_of = syscall_of;
		ro.syscall_cookie = s->st;
	}
	if (s->cm) {
		ro.ctxstate = ctx_state;
		ro.ctxstate_cookie = s;
	}
	ro.gap_in = gap_in;
	ro.gap_cookie = s;
	s->rules = rules__new(&ro);
	return s->rules ? 0 : -errno;
}

bool session__go_outlived(const void *cookie, uint64_t goid)
{
	const struct session *s = cookie;
	struct memjudge_go m;

	if (!s)
		return false;
	if (rules__go_outlived(s->rules, goid))
		return true;
	/* a goroutine that existed at attach: the memory judgement's verdict */
	return session__go_memory(s, goid, &m) && m.alerted &&
	       (m.rule == RULE_OUTLIVED_CONTEXT || m.rule == RULE_UNREACHABLE_CANCEL);
}

void session__ring(const struct session *s, struct session_ring *out)
{
	if (s)
		*out = s->ring;
	else
		memset(out, 0, sizeof(*out));
}

/* Samples the fill level before a poll collects the records. */
static void ring_sample(struct session *s)
{
	size_t used, size;

	tracer__ring_fill(s->tr, &used, &size);
	s->ring.size = size;
	s->ring.fill_pct = size ? (uint32_t)(used * 100 / size) : 0;
	if (s->ring.fill_pct > s->ring.max_fill_pct)
		s->ring.max_fill_pct = s->ring.fill_pct;
}

uint64_t session__probe_hits(const struct session *s)
{
	struct tracer_counters c;

	if (!s || !s->tr || tracer__counters(s->tr, &c))
		return 0;
	return c.v[CT_CNT_HITS];
}

const struct lineage *session__lineage(const struct session *s)
{
	return s ? s->lg : NULL;
}

static void budget_step(struct session *s);
static void *budget_thread(void *arg);
/* Records decoded by every session of this process, for self_cpu_ns. */
static uint64_t all_records;

static void on_record(void *cookie, const void *data, size_t len)
{
	struct session *s = cookie;

	decoder__record(s->dec, data, len);
	s->records++;
	all_records++;
	/* Decoding reads target memory and may fall behind a busy target: the
	 * budget keeps its pace anyway. */
	if (++s->since_budget >= 256) {
		s->since_budget = 0;
		budget_step(s);
	}
}

/* "cannot attach to pid N: " + why, unless why says so already. */
static void attach_error(int pid, const char *why)
{
	char buf[512];

	if (!strncmp(why, "cannot attach", 13)) {
		snprintf(buf, sizeof(buf), "%s", why);
	} else {
		snprintf(buf, sizeof(buf), "cannot attach to pid %d: %s", pid, why);
	}
	ct_errmsg_set("%s", buf);
}

/* Runtime addresses of the types section, for type names. */
static int find_types(struct session *s, struct go_moduledata *md)
{
	int minor = goelf__buildinfo(s->ge)->minor;
	uint64_t link_md = goelf__moduledata(s->ge);

	if (link_md) {
		md->addr = link_md + s->bias;
		if (!gotypes__read_moduledata(s->mem, minor, md))
			return 0;
	}
	return gotypes__find_moduledata(s->mem, goelf__pclntab_addr(s->ge) + s->bias,
					goelf__text_start(s->ge) + s->bias, minor, md);
}

/* Go 1.19/1.20: Background() and TODO() are *emptyCtx values told apart by the
 * objects context.background and context.todo point to. */
static void empty_ctx_objects(struct session *s, struct gotypes_opts *go)
{
	uint64_t vars[2];

	if (go->go_minor >= 21)
		return;
	if (ctxvars__find(s->ge, vars)) {
		verbose("Go 1.%d: context.todo not found: context.TODO() is reported as background",
			go->go_minor);
		return;
	}
	procmem__read_u64(s->mem, vars[0] + s->bias, &go->background_obj);
	procmem__read_u64(s->mem, vars[1] + s->bias, &go->todo_obj);
	go->todo_var = vars[1] + s->bias;
}

static const void *image_at(void *cookie, uint64_t addr, size_t len)
{
	struct session *s = cookie;

	return addr >= s->bias ? goelf__at(s->ge, addr - s->bias, len) : NULL;
}

/* A Go newer than the offset table: the newest known layout, used only when it
 * fits this process; one warning line when it does, the reason when not. */
static int check_assumed_layout(struct session *s)
{
	struct layout_check_in in = { .ge = s->ge, .mem = s->mem, .gs = s->gs, .off = &s->off,
				      .bias = s->bias, .pid = s->o.pid };
	char newer[160], why[400];
	int err;

	in.allgs_addr = s->plan.allgs_addr ? s->plan.allgs_addr + s->bias : 0;
	offsets__newer_msg(s->ge, &s->off, newer, sizeof(newer));
	err = layout_check__run(&in);
	if (err) {
		snprintf(why, sizeof(why), "%s and Go 1.%d's layout does not fit it: %s", newer,
			 s->off.assumed_minor, ct_errmsg());
		attach_error(s->o.pid, why);
		return err == -ESRCH ? err : -ENOTSUP;
	}
	info("warning: %s: Go 1.%d's layout fits pid %d (context code, goroutine list) and is used",
	     newer, s->off.assumed_minor, s->o.pid);
	return 0;
}

struct snap {
	struct session *s;
	uint64_t ts;
	int n;
};

static int snap_cb(void *cookie, const struct go_g *g)
{
	struct snap *sn = cookie;

	/* gopc/startpc are runtime addresses; the decoder subtracts the bias. */
	decoder__preexisting_go(sn->s->dec, g->goid, g->parent_goid, g->gopc, g->startpc, sn->ts);
	sn->n++;
	if (sn->s->mj && sn->s->npre == sn->s->pre_cap) {
		size_t cap = sn->s->pre_cap ? 2 * sn->s->pre_cap : 1024;
		uint64_t *p = realloc(sn->s->pre_goids, cap * sizeof(*p));

		if (!p)
			return 0; /* not judged from memory: the probes still see it */
		sn->s->pre_goids = p;
		sn->s->pre_cap = cap;
	}
	if (sn->s->mj)
		sn->s->pre_goids[sn->s->npre++] = g->goid;
	return 0;
}

/* The machine's cost of one probe hit, measured once per process (the daemon
 * attaches many targets). */
static double trap_cost_ns(void)
{
	static double ns = -1;

	if (ns < 0) {
		int err = tracer__calibrate(0, &ns);

		if (err) {
			verbose("trap cost calibration failed (%s): no cost estimate", strerror(-err));
			ns = 0;
		} else {
			verbose("calibration: one probe hit costs %.0f ns on this machine", ns);
		}
	}
	return ns;
}

static int cmp_goid(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static bool preexisting(void *cookie, uint64_t goid)
{
	struct session *s = cookie;

	return bsearch(&goid, s->pre_goids, s->npre, sizeof(goid), cmp_goid) != NULL;
}

struct session *session__open(const struct session_opts *opts)
{
	struct session *s = calloc(1, sizeof(*s));
	struct gotypes_opts go = { 0 };
	struct goroutines_opts gso = { 0 };
	struct decoder_opts dopts = { 0 };
	struct tracer_opts topts = { 0 };
	struct go_moduledata md = { 0 };
	const struct go_buildinfo *bi;
	struct snap sn = { 0 };
	uint64_t off;
	int err = 0;

	if (!s) {
		ct_errmsg_set("out of memory");
		errno = ENOMEM;
		return NULL;
	}
	s->o = *opts;
	s->pidfd = -1;
	pthread_mutex_init(&s->bud_mu, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&s->bud_cv, &ca);
		pthread_condattr_destroy(&ca);
	}
	err = proc_exe(opts->pid, s->exe_path, sizeof(s->exe_path), s->exe_name, sizeof(s->exe_name));
	if (err) {
		attach_error(opts->pid, ct_errmsg());
		goto cleanup;
	}
	/* Before anything slow: a pidfd tells when this very process exits. */
	s->pidfd = (int)syscall(SYS_pidfd_open, opts->pid, 0);
	s->ge = goelf__open(s->exe_path);
	if (!s->ge) {
		char why[600];

		err = -errno;
		/* Name the executable: a pid caught between fork and exec is the shell. */
		if (err == -EACCES || err == -EPERM)
			snprintf(why, sizeof(why),
				 "%.300s: cannot read the executable: Permission denied (another user's "
				 "file needs CAP_DAC_READ_SEARCH)", s->exe_name);
		else
			snprintf(why, sizeof(why), "%.300s: %.280s", s->exe_name, ct_errmsg());
		attach_error(opts->pid, why);
		goto cleanup;
	}
	bi = goelf__buildinfo(s->ge);
	err = offsets__resolve(s->ge, &s->off);
	if (err) {
		attach_error(opts->pid, ct_errmsg());
		goto cleanup;
	}
	err = probe_plan__build(s->ge, &s->plan);
	if (err) {
		attach_error(opts->pid, ct_errmsg());
		goto cleanup;
	}
	s->mem = procmem__open(opts->pid);
	if (!s->mem) {
		err = -errno;
		attach_error(opts->pid, ct_errmsg());
		goto cleanup;
	}
	err = goelf__vaddr_to_offset(s->ge, goelf__text_section(s->ge), &off);
	if (!err)
		err = procmem__exe_bias(s->mem, goelf__text_section(s->ge), off, &s->bias);
	if (err) {
		attach_error(opts->pid, err == -ESRCH ? "no such process"
				       : "cannot find the executable's mappings in /proc/PID/maps");
		goto cleanup;
	}
	procmem__set_image(s->mem, image_at, s);
	err = find_types(s, &md);
	s->md_addr = md.addr;
	s->md_types = md.types;
	if (err) {
		/* Type names are how contexts are told apart: without them, no events. */
		attach_error(opts->pid, "cannot find the Go type descriptors (runtime.firstmoduledata) in memory");
		goto cleanup;
	}
	s->in = intern__new(0);
	if (!s->in) {
		err = -ENOMEM;
		attach_error(opts->pid, "out of memory");
		goto cleanup;
	}
	go.mem = s->mem;
	go.in = s->in;
	go.types = md.types;
	go.etypes = md.etypes;
	go.go_minor = bi->minor;
	empty_ctx_objects(s, &go);
	s->gt = gotypes__new(&go);
	gso.mem = s->mem;
	gso.off = &s->off;
	gso.allgs_addr = s->plan.allgs_addr ? s->plan.allgs_addr + s->bias : 0;
	gso.go_minor = bi->minor;
	s->gs = goroutines__new(&gso);
	dopts.pid = opts->pid;
	dopts.go_minor = bi->minor;
	dopts.ge = s->ge;
	dopts.load_bias = s->bias;
	dopts.off = &s->off;
	dopts.mem = s->mem;
	dopts.types = s->gt;
	dopts.in = s->in;
	dopts.timer_unprobed = true; /* the probe plan leaves (*timerCtx).cancel out */
	dopts.values_unprobed = opts->probes == PROBES_DEFAULT;
	dopts.emit = deliver;
	dopts.cookie = s;
	s->dec = s->gt ? decoder__new(&dopts) : NULL;
	if (!s->gt || !s->gs || !s->dec) {
		err = -ENOMEM;
		attach_error(opts->pid, "out of memory");
		goto cleanup;
	}
	if (s->off.assumed_minor) {
		err = check_assumed_layout(s);
		if (err)
			goto cleanup;
	}
	if (opts->record_path) {
		struct record_header h = { .pid = (uint32_t)opts->pid };

		h.start_ns = ct_mono_ns();
		h.mono_to_real_ns = (int64_t)(ct_clock_ns(CLOCK_REALTIME) - h.start_ns);
		snprintf(h.binary, sizeof(h.binary), "%.1000s", s->exe_name);
		snprintf(h.go_version, sizeof(h.go_version), "%.60s", bi->version);
		snprintf(h.tool_version, sizeof(h.tool_version), "ctxtrace %s", CTXTRACE_VERSION);
		s->rec = record__create(opts->record_path, &h);
		if (!s->rec) {
			err = -errno;
			goto cleanup;
		}
	}
	err = open_analysis(s);
	if (err) {
		attach_error(opts->pid, ct_errmsg());
		goto cleanup;
	}
	if (opts->memory_only) {
		info("reading pid %d (%s, %s) from memory, no probe", opts->pid, s->exe_name, bi->version);
		return s;
	}
	topts.on_record = on_record;
	topts.cookie = s;
	topts.exe_path = s->exe_path;
	topts.load_bias = s->bias;
	topts.probes = opts->probes;
	topts.ring_max = opts->ring_max;
	s->tr = tracer__open(opts->pid, &s->plan, &s->off, &topts);
	if (!s->tr) {
		err = -errno;
		attach_error(opts->pid, ct_errmsg());
		goto cleanup;
	}
	/* Probes went live one by one: a context created before the last did may
	 * have been cancelled unseen (its create probe was live, its cancel probe not
	 * yet). What began before this is unknown, not leaked, unless memory says. */
	if (s->rules)
		rules__set_attached(s->rules, ct_mono_ns());
	/* Goroutines that exist already: after attach, so none is missed; the ones
	 * created in between are reported once (the decoder drops their records). */
	sn.s = s;
	sn.ts = ct_mono_ns();
	err = goroutines__foreach(s->gs, snap_cb, &sn);
	if (err < 0)
		verbose("pid %d: goroutine list not read (%s): pre-existing goroutines not reported",
			opts->pid, strerror(-err));
	err = 0;
	{
		struct budget_opts bo = { .pid = opts->pid, .trap_ns = trap_cost_ns(),
					  .max_pct = opts->max_overhead };

		s->bud = budget__new(&bo);
		if (!s->bud) {
			err = -ENOMEM;
			attach_error(opts->pid, "out of memory");
			goto cleanup;
		}
		if (opts->max_overhead && bo.trap_ns > 0) {
			err = -pthread_create(&s->bud_thread, NULL, budget_thread, s);
			if (err) {
				attach_error(opts->pid, "cannot start the overhead budget's thread");
				goto cleanup;
			}
			s->bud_thread_on = true;
		}
	}
	info("attached to pid %d (%s, %s, %d probes via %s, probes=%s, %d goroutines)", opts->pid, s->exe_name,
	     bi->version, tracer__nsites(s->tr), tracer__attach_mode(s->tr), probe_mode_name(opts->probes), sn.n);
	if (s->st_why[0])
		info("pid %d: syscall tracing unavailable (%s): unreachable-cancel alerts cannot name the "
		     "blocking call", opts->pid, s->st_why);
	/* What was there before attach: judged from memory at the first poll, once
	 * the caller knows the session (the daemon announces the target first). */
	if (s->mj) {
		qsort(s->pre_goids, s->npre, sizeof(*s->pre_goids), cmp_goid);
		memjudge__set_filter(s->mj, preexisting, s);
		s->next_mem_ns = ct_mono_ns();
	}
	return s;
cleanup:
	session__free(s);
	errno = err ? -err : EINVAL;
	return NULL;
}

/* Reports what the BPF side and the decoder lost since the last report. */
static void check_lost(struct session *s)
{
	struct tracer_counters c;
	struct decoder_stats ds;
	struct ct_event ev = { .type = EV_LOST, .pid = (uint32_t)s->o.pid };
	uint64_t reads;

	if (tracer__counters(s->tr, &c))
		return;
	decoder__stats(s->dec, &ds);
	reads = c.v[CT_CNT_READ_ERRORS] + c.v[CT_CNT_STACK_ERRORS];
	if (c.v[CT_CNT_DROPS] == s->rep_drops && reads == s->rep_read_errors &&
	    ds.decode_errors == s->rep_decode_errors)
		return;
	ev.ts_ns = ct_mono_ns();
	ev.lost.ringbuf_drops = c.v[CT_CNT_DROPS] - s->rep_drops;
	ev.lost.read_errors = reads - s->rep_read_errors;
	ev.lost.decode_errors = ds.decode_errors - s->rep_decode_errors;
	s->rep_drops = c.v[CT_CNT_DROPS];
	s->rep_read_errors = reads;
	s->rep_decode_errors = ds.decode_errors;
	deliver(s, &ev);
}

/* ctxtrace's CPU time spent on this target: the process's, shared among its
 * sessions (the daemon's) by the records each decoded. */
static uint64_t self_cpu_ns(const struct session *s)
{
	uint64_t cpu = ct_clock_ns(CLOCK_PROCESS_CPUTIME_ID);

	if (!all_records || s->records >= all_records)
		return cpu;
	return (uint64_t)((double)cpu * s->records / all_records);
}

/* The estimate, and the duty cycle when over budget. */
/* One step of the estimate and the duty cycle. Attaching and detaching take
 * tens of ms: done without bud_mu, so status and the rules never wait on them
 * (only this step changes the attach state). */
static void budget_cycle(struct session *s)
{
	bool on, was = tracer__attached(s->tr);
	uint64_t hits, t0, c0, prog;

	if (tracer__hits(s->tr, &hits))
		return;
	pthread_mutex_lock(&s->bud_mu);
	/* The syscall tracepoints' programs run for every system call of the machine
	 * (filtered inside): not the target's CPU, not in its estimate (they are
	 * duty-cycled with the uprobes all the same). */
	if (tracer__prog_ns(s->tr, &prog))
		prog = 0;
	on = budget__update(s->bud, ct_mono_ns(), hits, self_cpu_ns(s), prog, was);
	pthread_mutex_unlock(&s->bud_mu);
	if (on == was)
		return;
	t0 = ct_mono_ns();
	c0 = ct_clock_ns(CLOCK_THREAD_CPUTIME_ID);
	if (tracer__set_attached(s->tr, on))
		verbose("pid %d: %s", s->o.pid, ct_errmsg());
	else if (systrace__set_attached(s->st, on))
		verbose("pid %d: syscall tracepoints not attached again", s->o.pid);
	debug("pid %d: probes %s in %.1f ms (%.1f ms CPU)", s->o.pid, on ? "attached" : "detached",
	      (ct_mono_ns() - t0) / 1e6, (ct_clock_ns(CLOCK_THREAD_CPUTIME_ID) - c0) / 1e6);
}

#define BUDGET_MIN_SLEEP_NS 1000000ULL /* at most this often */

/* Sleeps until the duty cycle's next switch or the estimate's next window: a few
 * wakeups a second, not a poll (its wakeups are ctxtrace's cost too). */
static void *budget_thread(void *arg)
{
	struct session *s = arg;

	pthread_mutex_lock(&s->bud_mu);
	while (!s->bud_stop) {
		uint64_t now, next;
		struct timespec ts;

		pthread_mutex_unlock(&s->bud_mu);
		budget_cycle(s);
		pthread_mutex_lock(&s->bud_mu);
		now = ct_mono_ns();
		next = budget__next_ns(s->bud, now, tracer__attached(s->tr));
		if (next < now + BUDGET_MIN_SLEEP_NS)
			next = now + BUDGET_MIN_SLEEP_NS;
		ts.tv_sec = (time_t)(next / 1000000000ULL);
		ts.tv_nsec = (long)(next % 1000000000ULL);
		if (!s->bud_stop)
			pthread_cond_timedwait(&s->bud_cv, &s->bud_mu, &ts);
	}
	pthread_mutex_unlock(&s->bud_mu);
	return NULL;
}

/* The estimate (without a budget), and telling a change of the sampling state. */
static void budget_step(struct session *s)
{
	struct session_cost sc;
	struct budget_cost bc;

	if (!s->bud)
		return;
	if (!s->bud_thread_on)
		budget_cycle(s);
	/* Run every 256 records: the BPF counters (a syscall per map) only when
	 * there is a change to tell. */
	bud_cost(s, &bc);
	if (bc.sampling == s->sampling_told || session__cost(s, &sc) || sc.sampling == s->sampling_told)
		return;
	s->sampling_told = sc.sampling;
	if (sc.sampling)
		info("pid %d: the probes would cost %.1f%% of the target's CPU, over --max-overhead %u%%: "
		     "sampling, attached %.0f%% of the time; findings are marked sampled", s->o.pid,
		     sc.full_pct, s->o.max_overhead, 100 * sc.duty);
	else
		info("pid %d: the probes cost %.1f%% of the target's CPU, within --max-overhead %u%%: "
		     "attached all the time again", s->o.pid, sc.full_pct, s->o.max_overhead);
	if (s->o.on_budget)
		s->o.on_budget(s->o.cookie, &sc);
}

int session__cost(const struct session *s, struct session_cost *out)
{
	struct tracer_counters c;
	struct budget_cost bc;

	memset(out, 0, sizeof(*out));
	if (!s || !s->tr || !s->bud)
		return -EINVAL;
	bud_cost(s, &bc);
	out->trap_ns = bc.trap_ns;
	out->prog_ns = bc.avg_prog_ns;
	out->hits_per_s = bc.hits_per_s;
	out->cost_cpu = bc.cost_cpu;
	out->trap_cpu = bc.trap_cpu;
	out->self_cpu = bc.self_cpu;
	out->target_cpu = bc.target_cpu;
	out->pct = bc.pct;
	out->full_pct = bc.full_pct;
	out->duty = bc.duty;
	out->sampling = bc.sampling;
	out->gaps = bc.gaps;
	out->avg_cost_cpu = bc.avg_cost_cpu;
	out->avg_pct = bc.avg_pct;
	out->max_overhead = s->o.max_overhead;
	out->probes = probe_mode_name(s->o.probes);
	if (!tracer__counters(s->tr, &c)) {
		out->hits = c.v[CT_CNT_HITS];
		for (int k = 0; k < CT_PROBE_KIND_MAX && k < CT_PROBE_KIND_MAX_; k++)
			out->hits_by_kind[k] = c.v[CT_CNT_HITS_BY_KIND + k];
	}
	return 0;
}

static bool target_gone(struct session *s)
{
	struct pollfd p = { .fd = s->pidfd, .events = POLLIN };
	char path[64];

	if (s->pidfd >= 0)
		return poll(&p, 1, 0) == 1;
	snprintf(path, sizeof(path), "/proc/%d", s->o.pid);
	return access(path, F_OK) != 0;
}

/* Everything the target left: records still queued, WithValue calls never
 * referenced, losses; then target_exit. */
static void finish(struct session *s, bool exited)
{
	struct ct_event ev = { .type = EV_TARGET_EXIT, .pid = (uint32_t)s->o.pid };

	while (tracer__consume(s->tr) > 0)
		;
	decoder__flush(s->dec);
	check_lost(s);
	if (s->rep_drops || s->rep_read_errors || s->rep_decode_errors)
		info("pid %d: %llu records lost (ring buffer full), %llu unreadable, %llu undecodable",
		     s->o.pid, (unsigned long long)s->rep_drops, (unsigned long long)s->rep_read_errors,
		     (unsigned long long)s->rep_decode_errors);
	if (s->lg) {
		struct lineage_stats ls;

		lineage__stats(s->lg, &ls);
		if (ls.apply_failed)
			info("pid %d: %llu events not applied to the graph in full (out of memory): the rules did not "
			     "see them", s->o.pid, (unsigned long long)ls.apply_failed);
	}
	{
		struct decoder_stats ds;
		struct intern_stats is;
		struct gotypes_stats gs;
		struct procmem_stats ps;

		procmem__stats(s->mem, &ps);
		decoder__stats(s->dec, &ds);
		intern__stats(s->in, &is);
		gotypes__stats(s->gt, &gs);
		verbose("pid %d: %llu records, %llu events; %llu pre-existing and %llu discovered contexts; "
			"values %llu matched, %llu anonymous; stacks %llu cached, %llu symbolized; "
			"interned %llu strings, %llu stacks, %llu KiB (%llu refused); types %llu lookups, "
			"%llu read errors; memory: %llu reads, %llu failed while decoding",
			s->o.pid, (unsigned long long)ds.records, (unsigned long long)ds.events,
			(unsigned long long)ds.preexisting, (unsigned long long)ds.discovered,
			(unsigned long long)ds.values_matched, (unsigned long long)ds.values_anonymous,
			(unsigned long long)ds.stack_hits, (unsigned long long)ds.stack_misses,
			(unsigned long long)is.strings, (unsigned long long)is.stacks,
			(unsigned long long)is.bytes / 1024, (unsigned long long)is.refused,
			(unsigned long long)gs.lookups, (unsigned long long)gs.read_errors,
			(unsigned long long)ps.reads, (unsigned long long)ds.mem_errors);
		verbose("pid %d: ring buffer %llu KiB (grew %u times), fill at most %u%%", s->o.pid,
			(unsigned long long)s->ring.size / 1024, s->ring.grows, s->ring.max_fill_pct);
		if (s->rules) {
			struct rules_stats rs;

			rules__stats(s->rules, &rs);
			verbose("pid %d: findings memory confirmed %llu, dropped unconfirmed (lost records, attach "
				"window) %llu; %llu not-context interface values refused", s->o.pid,
				(unsigned long long)rs.confirmed, (unsigned long long)rs.unconfirmed,
				(unsigned long long)ds.not_context);
		}
	}
	if (s->mf) {
		struct memfacts_stats ms;

		memfacts__stats(s->mf, &ms);
		verbose("pid %d: from memory: %llu allgs scans (%llu failed, %.1f ms), %llu exits; %llu waits read, "
			"%llu frame scans, %llu Done waits; after gaps %llu open contexts read, %llu cancelled, "
			"%llu replaced", s->o.pid, (unsigned long long)ms.scans,
			(unsigned long long)ms.scan_errors, ms.scan_ns / 1e6, (unsigned long long)ms.exits,
			(unsigned long long)ms.waits_read, (unsigned long long)ms.frame_scans,
			(unsigned long long)ms.dones, (unsigned long long)ms.open_read,
			(unsigned long long)ms.open_cancelled, (unsigned long long)ms.open_replaced);
	}
	if (s->lg) {
		struct lineage_stats ls;

		lineage__stats(s->lg, &ls);
		verbose("pid %d: graph: %llu contexts live (%llu open), %llu cancelled, %llu collected uncancelled; "
			"%llu goroutines alive, %llu exited; %llu KiB; evicted %llu by retention, %llu by max_nodes "
			"(%llu live)", s->o.pid, (unsigned long long)ls.ctx_live, (unsigned long long)ls.ctx_open,
			(unsigned long long)ls.ctx_cancelled, (unsigned long long)ls.ctx_collected,
			(unsigned long long)ls.go_alive, (unsigned long long)ls.go_exited,
			(unsigned long long)(ls.bytes / 1024), (unsigned long long)ls.evicted_retention,
			(unsigned long long)ls.evicted_cap, (unsigned long long)ls.evicted_live);
	}
	rules_tick(s, ct_mono_ns(), true);
	if (exited) {
		ev.ts_ns = ct_mono_ns();
		deliver(s, &ev);
		s->exited = true;
	}
	if (s->rec)
		record__flush(s->rec);
}

int session__poll(struct session *s, int timeout_ms)
{
	struct pollfd p[2] = { { .fd = tracer__fd(s->tr), .events = POLLIN },
			       { .fd = s->pidfd, .events = POLLIN } };
	int n, err, cap;
	uint64_t before = s->records;

	if (s->exited)
		return -ESRCH;
	/* The BPF side rarely wakes us (a wakeup costs the target), and records are
	 * decoded by reading the target's memory, which must still hold what they
	 * point to: collect at least every POLL_MS. While the budget has the probes
	 * detached no record of theirs comes: wake less (ctxtrace's wakeups are part
	 * of its cost). */
	cap = s->ring_empty_polls > 1 && !tracer__attached(s->tr) ? DETACHED_POLL_MS : POLL_MS;
	if (timeout_ms < 0 || timeout_ms > cap)
		timeout_ms = cap;
	n = poll(p, s->pidfd >= 0 ? 2 : 1, timeout_ms);
	if (n < 0 && errno == EINTR)
		return -EINTR;
	ring_sample(s);
	/* In chunks: the budget and the rules keep their pace however full the ring. */
	do {
		err = tracer__consume_n(s->tr, CONSUME_CHUNK);
		if (err < 0 && err != -EINTR) {
			ct_errmsg_set("reading events of pid %d: %s", s->o.pid, strerror(-err));
			return err;
		}
		budget_step(s);
		rules_tick(s, ct_mono_ns(), false);
	} while (err == CONSUME_CHUNK);
	s->ring_empty_polls = s->records == before ? s->ring_empty_polls + 1 : 0;
	tracer__adapt(s->tr);
	if (tracer__ring_grows(s->tr) != s->ring.grows) {
		size_t used, size;

		tracer__ring_fill(s->tr, &used, &size);
		s->ring.size = size;
		s->ring.grows = tracer__ring_grows(s->tr);
	}
	decoder__expire(s->dec, ct_mono_ns());
	check_lost(s);
	if (target_gone(s)) {
		finish(s, true);
		return -ESRCH;
	}
	return 0;
}

int session__finish(struct session *s)
{
	if (!s || s->exited)
		return 0;
	finish(s, false);
	return 0;
}

void session__free(struct session *s)
{
	if (!s)
		return;
	/* Detach first: nothing may run against freed state. */
	if (s->bud_thread_on) {
		pthread_mutex_lock(&s->bud_mu);
		s->bud_stop = true;
		pthread_cond_signal(&s->bud_cv);
		pthread_mutex_unlock(&s->bud_mu);
		pthread_join(s->bud_thread, NULL);
	}
	tracer__free(s->tr);
	systrace__free(s->st);
	if (s->rec)
		record__close(s->rec);
	rules__free(s->rules);
	memfacts__free(s->mf);
	budget__free(s->bud);
	pthread_mutex_destroy(&s->bud_mu);
	pthread_cond_destroy(&s->bud_cv);
	memjudge__free(s->mj);
	free(s->mem_gos);
	free(s->pre_goids);
	framescan__free(s->fs);
	ctxmem__free(s->cm);
	gstate_src__free(s->gsrc);
	lineage__free(s->lg);
	decoder__free(s->dec);
	goroutines__free(s->gs);
	gotypes__free(s->gt);
	intern__free(s->in);
	procmem__free(s->mem);
	goelf__free(s->ge);
	if (s->pidfd >= 0)
		close(s->pidfd);
	free(s);
}

int session__snapshot(struct session *s)
{
	uint64_t grace = s->o.grace_ns ? s->o.grace_ns : RULES_DEFAULT_GRACE_NS;
	int err;

	if (!s->mj)
		return -EINVAL;
	err = memjudge__run(s->mj, ct_mono_ns(), emit_alert, s);
	if (err >= 0 && memjudge__pending(s->mj)) {
		struct timespec ts = { .tv_sec = (time_t)(grace / 1000000000ULL),
				       .tv_nsec = (long)(grace % 1000000000ULL) };

		verbose("pid %d: %u goroutines blocked for less than --grace: looking again in %.1fs",
			s->o.pid, memjudge__pending(s->mj), (double)grace / 1e9);
		/* A signal (SIGINT) ends the wait and skips the second look. */
		if (nanosleep(&ts, NULL) == 0)
			err = memjudge__run(s->mj, ct_mono_ns(), emit_alert, s);
	}
	if (err >= 0)
		memjudge__report_goroutines(s->mj);
	if (err == -ESRCH || (err < 0 && target_gone(s))) {
		ct_errmsg_set("pid %d exited while it was read", s->o.pid);
		return -ESRCH;
	}
	if (err < 0) {
		ct_errmsg_set("cannot read the goroutines of pid %d: %s", s->o.pid, strerror(-err));
		return err;
	}
	return 0;
}

int session__memory_stats(const struct session *s, struct memjudge_stats *st)
{
	if (!s || !s->mj)
		return -ENOENT;
	memjudge__stats(s->mj, st);
	return 0;
}

int session__judge_final(struct session *s, const struct memjudge_limits *lim, rules_emit_fn emit,
			 void *cookie)
{
	int n;

	if (!s->mj) {
		ct_errmsg_set("pid %d: no memory judgement in this session", s->o.pid);
		return -EINVAL;
	}
	if (s->tr && !s->exited) {
		while (tracer__consume(s->tr) > 0)
			;
		decoder__expire(s->dec, ct_mono_ns());
		check_lost(s);
		rules_tick(s, ct_mono_ns(), true);
	}
	n = memjudge__run_final(s->mj, ct_mono_ns(), lim, emit, cookie);
	if (n >= 0 && s->o.on_goroutine)
		memjudge__report_goroutines(s->mj);
	if (n < 0)
		ct_errmsg_set("cannot read the goroutines of pid %d: %s", s->o.pid, strerror(-n));
	return n;
}

int session__profile(struct session *s, void (*fn)(void *cookie, const struct memjudge_go *g), void *cookie)
{
	struct memjudge_limits lim;
	int n;

	if (!s->mj)
		return -EINVAL;
	session__limits(s, &lim);
	n = memjudge__run_final(s->mj, ct_mono_ns(), &lim, NULL, NULL);
	if (n < 0)
		return n;
	memjudge__report_to(s->mj, fn, cookie);
	return 0;
}

int session__report_goroutines(struct session *s)
{
	if (!s->mj)
		return -EINVAL;
	memjudge__report_goroutines(s->mj);
	return 0;
}

void session__limits(const struct session *s, struct memjudge_limits *lim)
{
	lim->grace_ns = s->o.grace_ns ? s->o.grace_ns : RULES_DEFAULT_GRACE_NS;
	lim->min_count = s->o.min_count ? s->o.min_count : RULES_DEFAULT_MIN_COUNT;
	lim->stuck_min = s->o.stuck_min ? s->o.stuck_min : MEMJUDGE_DEFAULT_STUCK_MIN;
}
