/* Judging the target's memory (see memjudge.h). */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "events/ctxmem.h"
#include "events/decoder.h"
#include "events/framescan.h"
#include "events/goroutines.h"
#include "events/gstate.h"
#include "rules/memjudge.h"
#include "rules/rules_int.h"
#include "util/clock.h"
#include "util/hash.h"
#include "util/log.h"
#include "util/syscalls.h"

#define MAX_HELD 8        /* contexts kept per goroutine */
#define MAX_CHANS 4       /* channels kept per goroutine */
#define MAX_CHAIN 32      /* parents followed per context */
#define MAX_GROUPS 4096
#define MAX_REASONS 64

/* ---- a u64 -> u32 map (open addressing, grows) ---- */

struct umap {
	uint64_t *keys; /* 0: empty */
	uint32_t *vals;
	uint32_t cap, n;
};

static void umap_clear(struct umap *m)
{
	if (m->keys)
		memset(m->keys, 0, m->cap * sizeof(*m->keys));
	m->n = 0;
}

static void umap_free(struct umap *m)
{
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}

static uint32_t *umap_find(const struct umap *m, uint64_t k)
{
	if (!m->cap || !k)
		return NULL;
	for (uint32_t i = (uint32_t)ct_mix64(k) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		if (m->keys[i] == k)
			return &m->vals[i];
		if (!m->keys[i])
			return NULL;
	}
}

static int umap_grow(struct umap *m)
{
	struct umap nm = { 0 };

	nm.cap = m->cap ? m->cap * 2 : 1024;
	nm.keys = calloc(nm.cap, sizeof(*nm.keys));
	nm.vals = calloc(nm.cap, sizeof(*nm.vals));
	if (!nm.keys || !nm.vals) {
		free(nm.keys);
		free(nm.vals);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < m->cap; i++) {
		if (!m->keys[i])
			continue;
		uint32_t j = (uint32_t)ct_mix64(m->keys[i]) & (nm.cap - 1);

		while (nm.keys[j])
			j = (j + 1) & (nm.cap - 1);
		nm.keys[j] = m->keys[i];
		nm.vals[j] = m->vals[i];
		nm.n++;
	}
	umap_free(m);
	*m = nm;
	return 0;
}

/* The value slot of k, inserted with val when absent (*added set). NULL on ENOMEM. */
static uint32_t *umap_put(struct umap *m, uint64_t k, uint32_t val, bool *added)
{
	uint32_t i;

	*added = false;
	if (!k)
		return NULL;
	if ((m->n + 1) * 2 > m->cap && umap_grow(m))
		return NULL;
	for (i = (uint32_t)ct_mix64(k) & (m->cap - 1); m->keys[i] && m->keys[i] != k; i = (i + 1) & (m->cap - 1))
		;
	if (!m->keys[i]) {
		m->keys[i] = k;
		m->vals[i] = val;
		m->n++;
		*added = true;
	}
	return &m->vals[i];
}

/* ---- state ---- */

struct mctx {
	struct ctxmem_state st;
	uint32_t scope;   /* nearest cancellable ancestor-or-self (index), NONE32 */
	uint32_t parent;  /* index, NONE32 */
	bool resolved;
};

struct mgo {
	struct go_g g;
	struct rules_gstate gs;
	const struct ct_stack *go_site;
	const char *start_func;
	uint64_t chans[MAX_CHANS];
	uint32_t held[MAX_HELD];
	uint8_t nchans, nheld;
	bool judged, system, on_done;
	/* This pass's verdict (memjudge__report_goroutines): its group, the cancelled
	 * context it holds (index, NONE32), how long it has waited. */
	struct group *gr;
	uint32_t cancelled;
	uint64_t age;
	bool age_known;
	/* Tied by ancestry (tie_by_ancestry): the cancelled context its parent holds
	 * in the frame that started it (index, NONE32), and that parent. */
	uint32_t anc_ctx;
	uint64_t anc_parent;
};

/* When a goroutine was first seen in its current wait. */
struct seen {
	uint64_t g, sp, pc, waiting;
	uint64_t first_ns;
	uint64_t pass;
};

struct memjudge {
	struct memjudge_opts o;
	struct mgo *gos;
	uint32_t ngo, gcap;
	struct mctx *ctxs;
	uint32_t nctx, ccap;
	struct umap ctx_by_addr, done_by_chan, chan_waiters, seen_by_goid;
	struct umap lost_by_ctx; /* lost-cancel: context address -> group, kept across passes */
	struct umap go_by_goid;  /* this pass: goid -> index in gos */
	struct umap parent_by_fn; /* this pass, before 1.21: go statement's function -> parent */
	struct seen *seen;
	uint32_t nseen, seencap;
	struct group *groups;
	uint32_t ngroups;
	struct ct_frame reasons[MAX_REASONS]; /* wait reasons as group keys */
	int nreasons;
	uint64_t pass;
	uint32_t pending;
	int64_t mono_to_unix;
	bool (*keep)(void *cookie, uint64_t goid);
	void *keep_cookie;
	bool emit_all; /* memjudge__run_final: every group at its threshold, grown or not */
	struct memjudge_stats st;
};

void memjudge__set_filter(struct memjudge *mj, bool (*keep)(void *cookie, uint64_t goid),
			  void *cookie)
{
	mj->keep = keep;
	mj->keep_cookie = cookie;
}

struct memjudge *memjudge__new(const struct memjudge_opts *opts)
{
	struct memjudge *mj;

	if (!opts->mem || !opts->gs || !opts->cm || !opts->fs || !opts->gsrc || !opts->dec) {
		errno = EINVAL;
		return NULL;
	}
	mj = calloc(1, sizeof(*mj));
	if (!mj)
		return NULL;
	mj->o = *opts;
	if (!mj->o.grace_ns)
		mj->o.grace_ns = RULES_DEFAULT_GRACE_NS;
	if (!mj->o.min_count)
		mj->o.min_count = RULES_DEFAULT_MIN_COUNT;
	if (!mj->o.stuck_min)
		mj->o.stuck_min = MEMJUDGE_DEFAULT_STUCK_MIN;
	if (!mj->o.children_min)
		mj->o.children_min = MEMJUDGE_DEFAULT_CHILDREN_MIN;
	if (!mj->o.max_goroutines)
		mj->o.max_goroutines = MEMJUDGE_DEFAULT_MAX_GOROUTINES;
	mj->groups = calloc(2 * MAX_GROUPS, sizeof(*mj->groups));
	if (!mj->groups) {
		free(mj);
		errno = ENOMEM;
		return NULL;
	}
	return mj;
}

void memjudge__free(struct memjudge *mj)
{
	if (!mj)
		return;
	free(mj->gos);
	free(mj->ctxs);
	free(mj->seen);
	free(mj->groups);
	umap_free(&mj->ctx_by_addr);
	umap_free(&mj->done_by_chan);
	umap_free(&mj->chan_waiters);
	umap_free(&mj->seen_by_goid);
	umap_free(&mj->lost_by_ctx);
	umap_free(&mj->go_by_goid);
	umap_free(&mj->parent_by_fn);
	free(mj);
}

static void fill_ctx(struct memjudge *mj, struct alert_ctx *out, const struct mctx *c);

void memjudge__report_goroutines(struct memjudge *mj)
{
	for (uint32_t i = 0; mj->o.on_goroutine && i < mj->ngo; i++) {
		struct mgo *m = &mj->gos[i];
		struct memjudge_go g = {
			.goid = m->g.goid, .parent_goid = m->g.parent_goid, .status = m->g.status,
			.waiting_ns = m->gs.waiting_ns, .stack = m->gs.stack, .go_site = m->go_site,
			.block_site = site_first_user(m->gs.stack),
			.start_func = m->start_func, .system = m->system, .judged = m->judged,
			.contexts_held = m->nheld, .chans = m->nchans, .waits_on_done = m->on_done,
			.leaked = m->g.status == GO_STATUS_LEAKED,
			.rule = RULE_MAX,
		};

		if (m->judged && m->gr) {
			uint32_t min = m->gr->rule == RULE_STUCK_GOROUTINES ? mj->o.stuck_min : mj->o.min_count;

			g.rule = m->gr->rule;
			g.alerted = m->gr->emitted >= min;
			g.age_ns = m->age;
			g.age_known = m->age_known;
			if (m->cancelled != NONE32)
				fill_ctx(mj, &g.ctx, &mj->ctxs[m->cancelled]);
		}
		if (m->judged && m->anc_ctx != NONE32) {
			fill_ctx(mj, &g.ancestry, &mj->ctxs[m->anc_ctx]);
			g.ancestry_parent = m->anc_parent;
		}

		/* The runtime's own words, as its goroutine dump prints them. */
		switch (m->g.status) {
		case GO_STATUS_WAITING:
		case GO_STATUS_LEAKED:
			g.wait = goroutines__waitreason(mj->o.gs, m->g.waitreason);
			break;
		case GO_STATUS_PREEMPTED:
			g.wait = "runnable";
			break;
		default:
			g.wait = go_status_name(m->g.status);
		}
		mj->o.on_goroutine(mj->o.cookie, &g);
	}
}

void memjudge__report_to(struct memjudge *mj, void (*fn)(void *cookie, const struct memjudge_go *g), void *cookie)
{
	struct memjudge_opts saved = mj->o;

	mj->o.on_goroutine = fn;
	mj->o.cookie = cookie;
	memjudge__report_goroutines(mj);
	mj->o = saved;
}

uint32_t memjudge__pending(const struct memjudge *mj)
{
	return mj->pending;
}

void memjudge__stats(const struct memjudge *mj, struct memjudge_stats *st)
{
	*st = mj->st;
}

static int grow(void **arr, uint32_t *cap, uint32_t need, size_t size, uint32_t max)
{
	uint32_t ncap = *cap ? *cap : 256;
	void *p;

	if (need <= *cap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	if (ncap > max)
		ncap = max;
	if (need > ncap)
		return -ENOSPC;
	p = realloc(*arr, (size_t)ncap * size);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

/* ---- reading ---- */

static int collect_cb(void *cookie, const struct go_g *g)
{
	struct memjudge *mj = cookie;

	mj->st.goroutines++;
	if (mj->ngo >= mj->o.max_goroutines) {
		mj->st.over_max++;
		return 0;
	}
	if (grow((void **)&mj->gos, &mj->gcap, mj->ngo + 1, sizeof(*mj->gos), mj->o.max_goroutines))
		return -ENOMEM;
	memset(&mj->gos[mj->ngo], 0, sizeof(mj->gos[0]));
	mj->gos[mj->ngo++].g = *g;
	return 0;
}

/* The context object at data (with its itab): its index, read when new. */
static uint32_t ctx_get(struct memjudge *mj, uint64_t itab, uint64_t data)
{
	struct ctxmem_state st;
	uint32_t *slot;
	bool added;
	int err;

	slot = umap_find(&mj->ctx_by_addr, data);
	if (slot)
		return *slot;
	err = ctxmem__read(mj->o.cm, itab, data, &st);
	if (err) {
		mj->st.ctx_unreadable++;
		debug("context value 0x%llx/0x%llx (%s) left out: %s", (unsigned long long)itab,
		      (unsigned long long)data, st.type_name ? st.type_name : "?", strerror(-err));
		return NONE32;
	}
	if (grow((void **)&mj->ctxs, &mj->ccap, mj->nctx + 1, sizeof(*mj->ctxs), 1u << 22))
		return NONE32;
	slot = umap_put(&mj->ctx_by_addr, data, mj->nctx, &added);
	if (!slot)
		return NONE32;
	mj->ctxs[mj->nctx] = (struct mctx){ .st = st, .scope = NONE32, .parent = NONE32 };
	return mj->nctx++;
}

static bool cancellable(enum ctx_kind k)
{
	return k == CTX_CANCEL || k == CTX_TIMER || k == CTX_AFTERFUNC;
}

/* Parent links and cancel scopes, and every Done channel of the chain. */
static void resolve_ctx(struct memjudge *mj, uint32_t i, int depth)
{
	struct mctx *c = &mj->ctxs[i];
	uint32_t p;
	bool added;

	if (c->resolved)
		return;
	c->resolved = true;
	if (c->st.done_chan)
		umap_put(&mj->done_by_chan, c->st.done_chan, i, &added);
	if (cancellable(c->st.kind))
		c->scope = i;
	if (!c->st.parent_itab || depth >= MAX_CHAIN || c->st.kind == CTX_WITHOUTCANCEL)
		return;
	p = ctx_get(mj, c->st.parent_itab, c->st.parent_data);
	c = &mj->ctxs[i]; /* ctxs may have moved */
	c->parent = p;
	if (p == NONE32)
		return;
	resolve_ctx(mj, p, depth + 1);
	c = &mj->ctxs[i];
	if (c->scope == NONE32)
		c->scope = mj->ctxs[p].scope;
}

static bool system_goroutine(const char *start_func)
{
	/* As the runtime's isSystemGoroutine: started in package runtime, runtime.main
	 * excepted (the finalizer goroutine counts as the runtime's while idle). */
	return start_func && !strncmp(start_func, "runtime.", 8) && strcmp(start_func, "runtime.main");
}

static void dead_done(struct memjudge *mj, struct mgo *m, const struct framescan_ctx *live, int nlive)
{
	struct framescan_ctx dead[MAX_HELD];
	int n = framescan__dead(mj->o.fs, live, nlive, dead, MAX_HELD);

	for (int i = 0; i < n; i++) {
		struct ctxmem_state st;

		if (umap_find(&mj->ctx_by_addr, dead[i].data))
			continue; /* known: its Done channel is mapped when resolved */
		if (ctxmem__read(mj->o.cm, dead[i].itab, dead[i].data, &st) || !st.done_chan)
			continue;
		for (int k = 0; k < m->nchans; k++)
			if (st.done_chan == m->chans[k]) {
				ctx_get(mj, dead[i].itab, dead[i].data);
				mj->st.done_dead++;
				break;
			}
	}
}

static void read_goroutine(struct memjudge *mj, struct mgo *m)
{
	struct framescan_ctx fc[MAX_HELD];
	struct framescan_result res;
	const struct ct_stack *st;
	bool scanned;
	uint64_t pc;
	int n;

	pc = m->g.gopc;
	m->go_site = pc ? decoder__stack(mj->o.dec, &pc, 1, false) : NULL;
	pc = m->g.startpc;
	st = pc ? decoder__stack(mj->o.dec, &pc, 1, true) : NULL;
	m->start_func = st && st->n ? st->frames[st->n - 1].func : NULL;
	if (system_goroutine(m->start_func)) {
		m->system = true;
		mj->st.system++;
		return;
	}
	mj->st.user++;
	if (m->g.status == GO_STATUS_LEAKED)
		mj->st.leaked++;
	if (m->g.status == GO_STATUS_RUNNING) {
		mj->st.running++;
		return;
	}
	/* One read of the stack gives the frames and the contexts in them. */
	n = framescan__scan(mj->o.fs, &m->g, fc, MAX_HELD, &res);
	scanned = n == 0;
	if (n == -EAGAIN || n == -EFAULT) {
		mj->st.left_out++;
		return;
	}
	if (gstate_src__read_g_pcs(mj->o.gsrc, &m->g, res.pcs, n == 0 ? res.npcs : 0, &m->gs)) {
		mj->st.left_out++;
		return;
	}
	/* Which system call, from /proc (no probe): the thread must still be in it. */
	if (m->gs.status == RULES_G_SYSCALL && m->gs.tid && mj->o.pid > 0) {
		int nr;

		if (!syscall_of_thread(mj->o.pid, m->gs.tid, &nr))
			m->gs.syscall_nr = nr;
	}
	for (int i = 0; n == 0 && i < res.nctx; i++) {
		uint32_t c = ctx_get(mj, fc[i].itab, fc[i].data);

		if (c != NONE32)
			m->held[m->nheld++] = c;
	}
	n = goroutines__wait_chans(mj->o.gs, &m->g, m->chans, MAX_CHANS);
	if (n == -EAGAIN) {
		mj->st.left_out++;
		return;
	}
	m->nchans = n > 0 ? (uint8_t)n : 0;
	m->judged = true;
	/* A channel it waits on may be the Done channel of a context no live slot
	 * holds (ctx.Done() called, ctx dead after): words left in its stack name
	 * candidates, kept only when the context's own done field is that channel. */
	if (scanned && m->nchans)
		dead_done(mj, m, fc, res.nctx);
}

/* ---- ancestry ---- */

/* The function a pc is in (the physical one, inlined frames folded): its name,
 * interned, unique in the binary. first_is_ip: pc is where a goroutine resumes,
 * not a return address. */
static const char *pc_func(struct memjudge *mj, uint64_t pc, bool first_is_ip)
{
	const struct ct_stack *st = pc ? decoder__stack(mj->o.dec, &pc, 1, first_is_ip) : NULL;

	return st && st->n ? st->frames[st->n - 1].func : NULL;
}

/* The goroutine that ran the go statement that started m, alive this pass: its
 * parentGoid (1.21+; goids are never reused, so the g that has it now is that
 * goroutine), else the one goroutine whose stack is in the go statement's
 * function (none or several: unknown). NULL when unknown. */
static struct mgo *parent_of(struct memjudge *mj, const struct mgo *m, const char *gofn)
{
	struct mgo *found = NULL;
	uint32_t *known;
	bool added;

	if (m->g.parent_goid) {
		uint32_t *p = umap_find(&mj->go_by_goid, m->g.parent_goid);

		if (!p || mj->gos[*p].g.goid != m->g.parent_goid)
			return NULL;
		return &mj->gos[*p];
	}
	/* once per function and pass: the children of one go site share it */
	known = umap_find(&mj->parent_by_fn, (uint64_t)(uintptr_t)gofn);
	if (known)
		return *known == NONE32 ? NULL : &mj->gos[*known];
	for (uint32_t i = 0; i < mj->ngo; i++) {
		const struct ct_stack *st = mj->gos[i].gs.stack;
		bool in = false;

		if (!mj->gos[i].judged || !st)
			continue;
		for (uint32_t k = 0; k < st->n && !in; k++)
			in = !st->frames[k].inlined && st->frames[k].func && !strcmp(st->frames[k].func, gofn);
		if (in && found) {
			found = NULL;
			break;
		}
		if (in)
			found = &mj->gos[i];
	}
	umap_put(&mj->parent_by_fn, (uint64_t)(uintptr_t)gofn, found ? (uint32_t)(found - mj->gos) : NONE32,
		 &added);
	return found == m ? NULL : found;
}

/* A goroutine that holds no context and waits on no context's Done, whose parent
 * goroutine is alive and holds a cancelled context in the frame of the function
 * that ran the go statement (or in that frame's argument spill area, the next
 * frame up): tied to that context by ancestry. A weaker tie than a context in its
 * own frames: the parent's slot may hold a context made after the child started,
 * so it stays stuck-goroutines and says so (docs/alerts.md). */
static void tie_by_ancestry(struct memjudge *mj)
{
	struct framescan_ctx fc[MAX_HELD];
	struct framescan_result res;
	const char *pfn[FRAMESCAN_MAX_FRAMES];
	uint64_t scanned = 0; /* the parent in fc, res, pfn */
	bool ok = false, added;

	for (uint32_t i = 0; i < mj->ngo; i++)
		umap_put(&mj->go_by_goid, mj->gos[i].g.goid, i, &added);
	for (uint32_t i = 0; i < mj->ngo; i++) {
		struct mgo *m = &mj->gos[i], *p;
		const char *gofn;
		bool on_done = false;
		int f = -1;

		m->anc_ctx = NONE32;
		if (!m->judged || m->system || m->nheld || !m->g.gopc)
			continue;
		for (int k = 0; k < m->nchans && !on_done; k++)
			on_done = umap_find(&mj->done_by_chan, m->chans[k]) != NULL;
		gofn = on_done ? NULL : pc_func(mj, m->g.gopc, false);
		p = gofn ? parent_of(mj, m, gofn) : NULL;
		if (!p || !p->judged || p->system || !p->nheld)
			continue;
		if (scanned != p->g.goid) {
			/* the parent's stack again, frame by frame (read_goroutine kept none) */
			scanned = p->g.goid;
			ok = framescan__scan(mj->o.fs, &p->g, fc, MAX_HELD, &res) == 0;
			mj->st.ancestry_scans++;
			for (int k = 0; ok && k < res.npcs; k++)
				pfn[k] = pc_func(mj, res.pcs[k], k == 0);
		}
		for (int k = 0; ok && k < res.npcs && f != -2; k++)
			if (pfn[k] && !strcmp(pfn[k], gofn))
				f = f == -1 ? k : -2; /* twice (recursion): which one started it? */
		if (!ok || f < 0)
			continue;
		for (int j = 0; j < res.nctx; j++) {
			uint32_t c, sc;

			if (fc[j].frame != f && fc[j].frame != f + 1 && fc[j].frame_outer != f &&
			    fc[j].frame_outer != f + 1)
				continue;
			c = ctx_get(mj, fc[j].itab, fc[j].data);
			if (c == NONE32)
				continue;
			resolve_ctx(mj, c, 0);
			sc = mj->ctxs[c].scope;
			if (sc != NONE32 && mj->ctxs[sc].st.cancelled) {
				m->anc_ctx = sc;
				m->anc_parent = p->g.goid;
				mj->st.tied_ancestry++;
				break;
			}
		}
	}
}

/* ---- judging ---- */

static const struct ct_frame *reason_key(struct memjudge *mj, const char *reason)
{
	for (int i = 0; i < mj->nreasons; i++)
		if (!strcmp(mj->reasons[i].func, reason))
			return &mj->reasons[i];
	if (mj->nreasons == MAX_REASONS)
		return &mj->reasons[MAX_REASONS - 1];
	/* wait reasons and status labels are static strings */
	mj->reasons[mj->nreasons] = (struct ct_frame){ .func = reason, .file = "wait" };
	return &mj->reasons[mj->nreasons++];
}

static struct group *mgroup_get(struct memjudge *mj, enum rule_id rule, const struct ct_frame *k0,
				const struct ct_frame *k1, const struct ct_frame *k2)
{
	return group_lookup(mj->groups, 2 * MAX_GROUPS, &mj->ngroups, MAX_GROUPS, rule, k0, k1, k2);
}

static const char *wait_label(const struct rules_gstate *gs)
{
	switch (gs->status) {
	case RULES_G_SYSCALL: return gs->in_cgo ? "cgo call" : "syscall";
	case RULES_G_WAITING: return gs->wait_reason ? gs->wait_reason : "waiting";
	case RULES_G_RUNNABLE: return "runnable";
	default: return "unknown";
	}
}

/* Parked to receive: a pool's worker waiting for its next job looks like this. */
static bool receive_wait(const char *w)
{
	return w && (!strcmp(w, "chan receive") || !strcmp(w, "select") ||
		     !strncmp(w, "chan receive (", 14) || !strncmp(w, "select (", 8));
}

/* How long it has been in this wait: the runtime's waitsince when set (*known),
 * else since the first pass that saw it there (0: seen for the first time now). */
static uint64_t wait_age(struct memjudge *mj, const struct mgo *m, uint64_t now, bool *known)
{
	uint32_t *slot;
	struct seen *s;
	bool added;
	uint64_t age = m->gs.waiting_ns;

	*known = age != 0;
	slot = umap_put(&mj->seen_by_goid, m->g.goid, mj->nseen, &added);
	if (!slot)
		return age;
	if (added) {
		/* Full: the key names an entry that does not exist; checked below. */
		if (!grow((void **)&mj->seen, &mj->seencap, mj->nseen + 1, sizeof(*mj->seen),
			  mj->o.max_goroutines)) {
			memset(&mj->seen[mj->nseen], 0, sizeof(mj->seen[0]));
			mj->nseen++;
		}
	}
	if (*slot >= mj->nseen)
		return age;
	s = &mj->seen[*slot];
	/* goids are never reused, but a goroutine may leave its wait and enter another. */
	if (added || s->g != m->g.addr || s->sp != m->g.sched_sp || s->pc != m->g.sched_pc ||
	    s->waiting != m->g.waiting) {
		s->g = m->g.addr;
		s->sp = m->g.sched_sp;
		s->pc = m->g.sched_pc;
		s->waiting = m->g.waiting;
		s->first_ns = now;
	}
	s->pass = mj->pass;
	/* From the first sighting: a lower bound, still "unknown" in the alert. */
	if (now - s->first_ns > age)
		age = now - s->first_ns;
	return age;
}

static void fill_ctx(struct memjudge *mj, struct alert_ctx *out, const struct mctx *c)
{
	memset(out, 0, sizeof(*out));
	out->known = true;
	out->id = c->st.addr;
	out->kind = c->st.kind;
	out->type_name = c->st.type_name;
	out->parent_kind = c->parent != NONE32 ? mj->ctxs[c->parent].st.kind : CTX_UNKNOWN;
	out->has_deadline = c->st.has_deadline;
	out->deadline_unix_ns = c->st.deadline_unix_ns;
	out->cancelled = c->st.cancelled;
	if (c->st.cancelled && c->st.deadline_err && c->st.has_deadline) {
		out->reason = CANCEL_DEADLINE;
		out->cancelled_unix_ns = c->st.deadline_unix_ns;
	}
	out->err = c->st.err;
	out->cause = c->st.cause;
}

static void judge_go(struct memjudge *mj, struct mgo *m, uint64_t now)
{
	const struct ct_frame *go_site, *block;
	const char *wait = wait_label(&m->gs);
	uint32_t cancelled = NONE32, live_done = NONE32;
	bool leaked = m->g.status == GO_STATUS_LEAKED;
	enum rule_id rule;
	struct group *gr;
	uint64_t age;
	bool known, blocked = m->gs.status == RULES_G_WAITING || m->gs.status == RULES_G_SYSCALL;

	m->gr = NULL;
	m->cancelled = NONE32;
	if (!m->judged || (!blocked && m->gs.status != RULES_G_RUNNABLE))
		return;
	if (mj->keep && !mj->keep(mj->keep_cookie, m->g.goid)) {
		mj->st.other++;
		return;
	}
	/* Waiting on a live context's Done: it listens. Unless the runtime itself
	 * found it leaked (1.26+): then nothing can cancel that context any more. */
	for (int i = 0; i < m->nchans; i++) {
		uint32_t *c = umap_find(&mj->done_by_chan, m->chans[i]);

		if (c) {
			mj->st.tied_waiting++;
			m->on_done = true;
			if (!mj->ctxs[*c].st.cancelled && !leaked)
				return;
			if (!mj->ctxs[*c].st.cancelled)
				live_done = *c;
		}
	}
	/* Parked to receive on a channel other goroutines wait on too: a pool (the
	 * runtime's leak verdict overrides: nothing will ever send on it). */
	if (receive_wait(wait) && !leaked) {
		for (int i = 0; i < m->nchans; i++) {
			uint32_t *n = umap_find(&mj->chan_waiters, m->chans[i]);

			if (n && *n >= 2)
				return;
		}
	}
	block = site_first_user(m->gs.stack);
	go_site = site_go(m->go_site);
	/* The standard library's own loops (keep-alive connections, signal handling). */
	if (!block && !go_site)
		return;
	if (m->nheld)
		mj->st.tied_held++;
	for (int i = 0; i < m->nheld; i++) {
		uint32_t s = mj->ctxs[m->held[i]].scope;

		if (s != NONE32 && mj->ctxs[s].st.cancelled) {
			cancelled = s;
			break;
		}
	}
	if (cancelled == NONE32 && m->nheld && live_done == NONE32) {
		/* Holds live contexts only: not stuck without a context, and not outlived. */
		for (int i = 0; i < m->nheld; i++)
			if (mj->ctxs[m->held[i]].scope != NONE32)
				return;
	}
	if (cancelled == NONE32 && !blocked)
		return;
	age = wait_age(mj, m, now, &known);
	if (age < mj->o.grace_ns) {
		mj->pending++;
		return;
	}
	if (live_done != NONE32 && cancelled == NONE32) {
		/* Leaked waiting on a live context's Done: its cancel func is gone. */
		rule = RULE_LOST_CANCEL;
		gr = mgroup_get(mj, rule, go_site, block, NULL);
		cancelled = live_done; /* for the context's details below */
	} else if (cancelled != NONE32) {
		rule = RULE_OUTLIVED_CONTEXT;
		if (m->gs.status == RULES_G_SYSCALL || (wait && !strcmp(wait, "IO wait")))
			rule = RULE_UNREACHABLE_CANCEL;
		gr = mgroup_get(mj, rule, NULL, go_site, block);
	} else {
		rule = RULE_STUCK_GOROUTINES;
		gr = mgroup_get(mj, rule, go_site, block, reason_key(mj, wait));
		if (gr && m->anc_ctx != NONE32) {
			if (!gr->a.ancestry_count++) {
				fill_ctx(mj, &gr->a.ancestry, &mj->ctxs[m->anc_ctx]);
				gr->a.ancestry_parent_goid = m->anc_parent;
			}
		}
	}
	if (!gr)
		return;
	m->gr = gr;
	m->cancelled = cancelled;
	m->age = age;
	m->age_known = known;
	gr->now++;
	if (m->g.status == GO_STATUS_LEAKED)
		gr->a.leaked++;
	if (!known)
		gr->a.age_unknown++;
	range_add(&gr->a.waiting_min_ns, &gr->a.waiting_max_ns, age);
	group_add_block(gr, &m->gs, true);
	if (!gr->detail_set) {
		gr->a.go_site = m->go_site;
		gr->a.start_func = m->start_func;
		if (cancelled != NONE32)
			fill_ctx(mj, &gr->a.ctx, &mj->ctxs[cancelled]);
		gr->detail_set = true;
	}
	if (rule == RULE_LOST_CANCEL) {
		struct alert_waiter *w = &gr->a.waiters[0];

		gr->a.live = gr->now;
		gr->a.nwaiters = 1;
		gr->a.nwaiters_total = gr->now;
		w->go_site = go_site;
		w->start_func = m->start_func;
		w->block.site = block;
		w->block.stack = m->gs.stack;
		w->block.wait_reason = wait;
		w->block.count = gr->now;
	}
	if (cancelled != NONE32 && gr->a.ctx.cancelled_unix_ns) {
		int64_t now_unix = (int64_t)now + mj->mono_to_unix;
		int64_t since = now_unix - mj->ctxs[cancelled].st.deadline_unix_ns;

		if (since > 0)
			range_add(&gr->a.outlived_min_ns, &gr->a.outlived_max_ns, (uint64_t)since);
	}
}

/* A live context with children_min never-cancelled children. */
static void judge_ctx(struct memjudge *mj, uint32_t i)
{
	struct mctx *c = &mj->ctxs[i];
	const struct ct_frame *holder = NULL;
	struct mgo *hm = NULL;
	struct group *gr;
	uint32_t *slot;
	bool added;

	if (c->st.cancelled || c->st.children < (int64_t)mj->o.children_min)
		return;
	/* Keyed by where a goroutine holding it waits: memory has no creation site. */
	for (uint32_t k = 0; k < mj->ngo && !holder; k++) {
		struct mgo *m = &mj->gos[k];

		for (int h = 0; h < m->nheld && !holder; h++) {
			if (m->held[h] == i) {
				holder = site_first_user(m->gs.stack);
				hm = m;
			}
		}
	}
	/* One group per context for the whole session: the first holder found keys
	 * it (the holder found first may differ between passes). */
	slot = umap_find(&mj->lost_by_ctx, c->st.addr);
	if (slot) {
		gr = &mj->groups[*slot];
	} else {
		gr = mgroup_get(mj, RULE_LOST_CANCEL, holder, NULL, NULL);
		if (gr)
			umap_put(&mj->lost_by_ctx, c->st.addr, (uint32_t)(gr - mj->groups), &added);
	}
	if (!gr)
		return;
	gr->now += (uint32_t)(c->st.children > UINT32_MAX / 2 ? UINT32_MAX / 2 : c->st.children);
	gr->a.children += c->st.children;
	if (!gr->detail_set) {
		fill_ctx(mj, &gr->a.ctx, c);
		gr->detail_set = true;
	}
	/* The goroutines holding it, by go site and where they wait. */
	for (uint32_t k = 0; hm && k < mj->ngo; k++) {
		struct mgo *m = &mj->gos[k];
		const struct ct_frame *gsite = site_go(m->go_site), *bsite = site_first_user(m->gs.stack);
		int h, w;

		for (h = 0; h < m->nheld && m->held[h] != i; h++)
			;
		if (h == m->nheld)
			continue;
		gr->a.nwaiters_total++;
		for (w = 0; w < gr->a.nwaiters; w++) {
			if (frame_equal(gr->a.waiters[w].go_site, gsite) &&
			    frame_equal(gr->a.waiters[w].block.site, bsite))
				break;
		}
		if (w == gr->a.nwaiters) {
			if (w == ALERT_MAX_WAITERS)
				continue;
			gr->a.nwaiters++;
			gr->a.waiters[w] = (struct alert_waiter){
				.go_site = gsite, .start_func = m->start_func,
				.block = { .site = bsite, .stack = m->gs.stack, .wait_reason = wait_label(&m->gs) },
			};
		}
		gr->a.waiters[w].block.count++;
	}
}

/* ---- messages ---- */

static void message(struct alert *a)
{
	const struct ct_frame *gs = a->go_site && a->go_site->n ? &a->go_site->frames[0] : NULL;
	const struct alert_block *b = a->nblocks ? &a->blocks[0] : NULL;
	char where[200] = "", age[80] = "", started[240];

	if (b && b->site)
		snprintf(where, sizeof(where), " at %s:%u", file_base(b->site->file), b->site->line);
	if (a->waiting_max_ns)
		fmt_range(age, sizeof(age), a->waiting_min_ns, a->waiting_max_ns);
	snprintf(started, sizeof(started), "%u goroutine%s started at %s:%u (%s)", a->count, PL(a->count),
		 gs ? file_base(gs->file) : "?", gs ? gs->line : 0, gs && gs->func ? gs->func : "?");
	switch (a->rule) {
	case RULE_STUCK_GOROUTINES:
		snprintf(a->message, sizeof(a->message),
			 "%s %s blocked in %s%s for %s%s; no context was found that they hold or wait on "
			 "(read from memory)%s: make the other side receive, send or close, or give them a "
			 "context and select on ctx.Done() beside the operation that blocks.",
			 started, ARE(a->count), b ? b->wait_reason : "?", where,
			 a->age_unknown ? "at least " : "", *age ? age : "?",
			 a->leaked ? "; the Go runtime itself marked them leaked" : "");
		if (a->ancestry_count) {
			size_t len = strlen(a->message);

			snprintf(a->message + len, sizeof(a->message) - len,
				 " By ancestry only: %u of them were started by goroutine %llu, whose frame that "
				 "started them holds a %s context that was cancelled (%s).",
				 a->ancestry_count, (unsigned long long)a->ancestry_parent_goid,
				 ctx_kind_name(a->ancestry.kind), a->ancestry.err ? a->ancestry.err : "?");
		}
		break;
	case RULE_OUTLIVED_CONTEXT:
	case RULE_UNREACHABLE_CANCEL: {
		char since[80] = "";

		if (a->outlived_max_ns) {
			char r[64];

			fmt_range(r, sizeof(r), a->outlived_min_ns, a->outlived_max_ns);
			snprintf(since, sizeof(since), " %s after", r);
		}
		snprintf(a->message, sizeof(a->message),
			 "%s %s still blocked in %s%s%s, holding a %s context that was cancelled (%s)%s%s "
			 "(read from memory: where it was created and cancelled is not known): %s.",
			 started, ARE(a->count), b ? b->wait_reason : "?", b && b->syscall ? " " : "",
			 b && b->syscall ? b->syscall : "", ctx_kind_name(a->ctx.kind),
			 a->ctx.err ? a->ctx.err : "?", where, since,
			 a->rule == RULE_UNREACHABLE_CANCEL
				 ? "cancellation cannot reach this call: set a deadline on it, or close what it "
				   "waits on when ctx.Done() is closed"
				 : "make them return when ctx.Done() is closed, with a select on it beside the "
				   "operation that blocks");
		break;
	}
	case RULE_LOST_CANCEL:
		snprintf(a->message, sizeof(a->message),
			 "a live %s context (%s) holds %lld children that were never cancelled: contexts "
			 "derived from it whose cancel func is never called stay linked to it until it "
			 "ends (read from memory): call every cancel func, with defer cancel().",
			 ctx_kind_name(a->ctx.kind), a->ctx.type_name ? a->ctx.type_name : "?",
			 (long long)a->children);
		break;
	default:
		a->message[0] = 0;
	}
}

static int block_cmp(const void *x, const void *y)
{
	const struct alert_block *a = x, *b = y;

	return a->count < b->count ? 1 : a->count > b->count ? -1 : 0;
}

/* ---- a pass ---- */

static void reset_pass(struct memjudge *mj)
{
	uint32_t keep = 0;

	mj->ngo = 0;
	mj->nctx = 0;
	mj->pending = 0;
	umap_clear(&mj->ctx_by_addr);
	umap_clear(&mj->done_by_chan);
	umap_clear(&mj->chan_waiters);
	umap_clear(&mj->go_by_goid);
	umap_clear(&mj->parent_by_fn);
	for (uint32_t i = 0; i < 2 * MAX_GROUPS; i++) {
		struct group *g = &mj->groups[i];
		uint32_t prev = g->emitted;

		if (!g->used)
			continue;
		memset(&g->a, 0, sizeof(g->a));
		g->a.prev_count = prev;
		g->now = 0;
		g->detail_set = false;
	}
	/* Forget first-seen times of goroutines not seen in the last two passes. */
	for (uint32_t i = 0; i < mj->nseen; i++)
		if (mj->seen[i].pass + 2 > mj->pass)
			keep++;
	if (keep < mj->nseen / 2) {
		/* Mostly gone: start again (what is still there is seen anew: later, never
		 * earlier, so nothing is reported too soon). */
		mj->nseen = 0;
		umap_clear(&mj->seen_by_goid);
	}
	memset(&mj->st, 0, offsetof(struct memjudge_stats, elapsed_ns));
}

int memjudge__run(struct memjudge *mj, uint64_t now, rules_emit_fn emit, void *cookie)
{
	uint64_t passes = mj->st.passes, t0 = ct_mono_ns();
	int err, emitted = 0;
	bool added;

	mj->mono_to_unix = ct_mono_to_real_ns();
	mj->pass++;
	reset_pass(mj);
	mj->st.passes = passes + 1;
	err = goroutines__foreach(mj->o.gs, collect_cb, mj);
	if (err < 0)
		return err;
	for (uint32_t i = 0; i < mj->ngo; i++)
		read_goroutine(mj, &mj->gos[i]);
	for (uint32_t i = 0; i < mj->nctx; i++)
		resolve_ctx(mj, i, 0);
	tie_by_ancestry(mj);
	mj->st.contexts = mj->nctx;
	for (uint32_t i = 0; i < mj->ngo; i++) {
		struct mgo *m = &mj->gos[i];

		for (int k = 0; m->judged && k < m->nchans; k++) {
			uint32_t *n = umap_put(&mj->chan_waiters, m->chans[k], 0, &added);

			if (n)
				(*n)++;
		}
	}
	for (uint32_t i = 0; i < mj->ngo; i++)
		judge_go(mj, &mj->gos[i], now);
	for (uint32_t i = 0; i < mj->nctx; i++)
		judge_ctx(mj, i);
	for (uint32_t i = 0; i < 2 * MAX_GROUPS; i++) {
		struct group *g = &mj->groups[i];
		struct alert *a = &g->a;
		uint32_t min = g->rule == RULE_STUCK_GOROUTINES ? mj->o.stuck_min
			       : g->rule == RULE_LOST_CANCEL   ? 1
							       : mj->o.min_count;
		uint64_t h = g->hash;

		if (!g->used || g->now < min || (g->now <= g->emitted && !mj->emit_all))
			continue;
		a->rule = g->rule;
		a->source = ALERT_SRC_MEMORY;
		for (int k = 15; k >= 0; k--, h >>= 4)
			a->id[k] = "0123456789abcdef"[h & 15];
		a->id[16] = 0;
		a->pid = mj->o.pid;
		a->time_unix_ns = (int64_t)now + mj->mono_to_unix;
		a->count = g->now;
		a->first = g->emitted == 0;
		a->severity = g->rule == RULE_STUCK_GOROUTINES && !a->leaked ? SEV_WARNING : SEV_ERROR;
		if (g->rule == RULE_LOST_CANCEL)
			a->live = g->now;
		qsort(a->blocks, (size_t)a->nblocks, sizeof(a->blocks[0]), block_cmp);
		message(a);
		/* No receiver (a profile's pass): nothing is told, so nothing counts as told. */
		if (!emit)
			continue;
		emit(cookie, a);
		g->emitted = g->now;
		emitted++;
	}
	mj->st.alerts = (uint32_t)emitted;
	mj->st.elapsed_ns = ct_mono_ns() - t0;
	return emitted;
}

int memjudge__run_final(struct memjudge *mj, uint64_t now, const struct memjudge_limits *lim,
			rules_emit_fn emit, void *cookie)
{
	struct memjudge_opts saved = mj->o;
	bool (*keep)(void *, uint64_t) = mj->keep;
	int err;

	/* Every goroutine: at the end nothing is left for the probes' rules to judge. */
	mj->keep = NULL;
	mj->o.grace_ns = lim->grace_ns;
	mj->o.min_count = lim->min_count ? lim->min_count : 1;
	mj->o.stuck_min = lim->stuck_min ? lim->stuck_min : 1;
	mj->emit_all = true;
	err = memjudge__run(mj, now, emit, cookie);
	mj->emit_all = false;
	mj->keep = keep;
	mj->o = saved;
	return err;
}
