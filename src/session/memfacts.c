/* Facts from memory instead of probes (see memfacts.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "binary/offsets.h"
#include "events/ctxmem.h"
#include "events/event.h"
#include "events/framescan.h"
#include "events/goroutines.h"
#include "events/procmem.h"
#include "graph/lineage.h"
#include "session/memfacts.h"
#include "util/clock.h"

#define DEFAULT_INTERVAL_NS 500000000ULL
/* A scan may take at most this share of the wall clock (1/10). */
#define SCAN_SHARE 10
#define WAIT_SLOTS 8192     /* waits already read: goid -> sched pc/sp, direct mapped */
#define WAITS_PER_TICK 1024 /* parked goroutines read per scan at most */
#define MAX_WAIT_CHANS 8
#define MAX_FRAME_CTX 16
#define OPEN_PER_TICK 1024  /* open contexts read per scan after a gap (one read) */

struct wait_seen {
	uint64_t goid, pc, sp;
};

struct goid_set {
	uint64_t *v;
	size_t n, cap;
};

struct memfacts {
	struct memfacts_opts o;
	struct goid_set live;    /* this scan's goroutines, sorted */
	struct goid_set absent;  /* alive in the graph but absent from the previous scan, sorted */
	struct goid_set next;    /* building the next `absent` */
	uint64_t next_scan_ns;
	struct wait_seen *waits;
	struct go_g *parked;     /* this scan's goroutines parked with a sudog list */
	size_t nparked, parked_cap;
	struct memfacts_stats st;
	/* After a gap: the open contexts created before gap_from, read in batches,
	 * a pass over the open list at a time; pending: a gap ended during the pass
	 * (what the pass read before it is read again by the next). */
	bool verifying, pending;
	uint64_t gap_from;
	uint32_t open_cursor;
};


static int set_push(struct goid_set *s, uint64_t v)
{
	if (s->n == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 1024;
		uint64_t *nv = realloc(s->v, ncap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		s->v = nv;
		s->cap = ncap;
	}
	s->v[s->n++] = v;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static bool set_has(const struct goid_set *s, uint64_t v)
{
	return s->n && bsearch(&v, s->v, s->n, sizeof(v), cmp_u64);
}

struct memfacts *memfacts__new(const struct memfacts_opts *opts)
{
	struct memfacts *mf;

	if (!opts || !opts->gs || !opts->emit) {
		errno = EINVAL;
		return NULL;
	}
	mf = calloc(1, sizeof(*mf));
	if (!mf) {
		errno = ENOMEM;
		return NULL;
	}
	mf->o = *opts;
	mf->waits = calloc(WAIT_SLOTS, sizeof(*mf->waits));
	if (!mf->waits) {
		free(mf);
		errno = ENOMEM;
		return NULL;
	}
	if (!mf->o.interval_ns)
		mf->o.interval_ns = DEFAULT_INTERVAL_NS;
	return mf;
}

void memfacts__free(struct memfacts *mf)
{
	if (!mf)
		return;
	free(mf->live.v);
	free(mf->absent.v);
	free(mf->next.v);
	free(mf->waits);
	free(mf->parked);
	free(mf);
}

static int collect(void *cookie, const struct go_g *g)
{
	struct memfacts *mf = cookie;

	/* Parked on channels (a sudog list): whose Done it waits on is read next. */
	if (g->status == GO_STATUS_WAITING && g->waiting && mf->o.mem && mf->nparked < WAITS_PER_TICK) {
		if (mf->nparked == mf->parked_cap) {
			size_t ncap = mf->parked_cap ? mf->parked_cap * 2 : 64;
			struct go_g *np = realloc(mf->parked, ncap * sizeof(*np));

			if (!np)
				return -ENOMEM;
			mf->parked = np;
			mf->parked_cap = ncap;
		}
		mf->parked[mf->nparked++] = *g;
	}
	return set_push(&mf->live, g->goid);
}

/* Goroutines of the graph that left allgs: exited. */
static int scan_exits(struct memfacts *mf, const struct lineage *lg)
{
	struct lg_go g;
	uint32_t cur = 0;
	uint64_t t0 = ct_mono_ns();
	int err;

	mf->live.n = 0;
	mf->nparked = 0;
	err = goroutines__foreach(mf->o.gs, collect, mf);
	mf->st.scans++;
	if (err) {
		/* Nothing is told from a failed scan; the absent list waits. */
		mf->st.scan_errors++;
		mf->st.scan_ns += ct_mono_ns() - t0;
		return err == -ENOMEM ? err : 0;
	}
	qsort(mf->live.v, mf->live.n, sizeof(uint64_t), cmp_u64);
	mf->next.n = 0;
	while (lineage__go_next_alive(lg, &cur, &g)) {
		if (g.state != LG_GO_ALIVE || set_has(&mf->live, g.goid))
			continue;
		/* Exits are emitted after the walk: the graph must not change during it. */
		if (set_has(&mf->absent, g.goid)) {
			if (set_push(&mf->next, g.goid | (1ULL << 63)))
				return -ENOMEM;
			continue;
		}
		if (set_push(&mf->next, g.goid))
			return -ENOMEM;
	}
	mf->absent.n = 0;
	for (size_t i = 0; i < mf->next.n; i++) {
		uint64_t v = mf->next.v[i];

		if (v >> 63) {
			struct ct_event ev = { .type = EV_GO_EXIT, .pid = (uint32_t)mf->o.pid,
					       .ts_ns = ct_mono_ns(), .goid = v & ~(1ULL << 63) };

			ev.go_exit.goid = ev.goid;
			mf->o.emit(mf->o.cookie, &ev);
			mf->st.exits++;
		} else if (set_push(&mf->absent, v)) {
			return -ENOMEM;
		}
	}
	qsort(mf->absent.v, mf->absent.n, sizeof(uint64_t), cmp_u64);
	mf->st.scan_ns += ct_mono_ns() - t0;
	return 0;
}

/* The chan Done() returns for the cancelCtx at addr (first field of timerCtx and
 * afterFuncCtx): cancelCtx.done is an atomic.Value holding it; 0 until made. */
static uint64_t done_chan_at(struct memfacts *mf, uint64_t addr)
{
	int64_t o = mf->o.off->v[GO_OFF_CANCELCTX_DONE];
	uint64_t w[2];

	if (o < 0 || procmem__read(mf->o.mem, addr + (uint64_t)o, w, sizeof(w)) || !w[0])
		return 0;
	return w[1];
}

static bool has_chan(const uint64_t *chans, int n, uint64_t c)
{
	for (int i = 0; c && i < n; i++)
		if (chans[i] == c)
			return true;
	return false;
}

static void emit_done(struct memfacts *mf, uint64_t goid, uint64_t ctx)
{
	struct ct_event ev = { .type = EV_CTX_DONE, .pid = (uint32_t)mf->o.pid, .ts_ns = ct_mono_ns(),
			       .goid = goid };

	ev.ctx_done.id = ctx;
	mf->o.emit(mf->o.cookie, &ev);
	mf->st.dones++;
}

/* Which context's done channel a parked goroutine waits on. 1 when it told one. */
static int wait_of(struct memfacts *mf, const struct lineage *lg, const struct go_g *g)
{
	struct lg_ctx sc[2 * LINEAGE_SCOPE_MAX];
	struct framescan_ctx fc[MAX_FRAME_CTX];
	struct framescan_result fr;
	uint64_t chans[MAX_WAIT_CHANS];
	int nch, n, k;

	nch = goroutines__wait_chans(mf->o.gs, g, chans, MAX_WAIT_CHANS);
	mf->st.waits_read++;
	if (nch <= 0)
		return 0;
	n = lineage__go_scope(lg, g->goid, LG_SCOPE_START, sc, LINEAGE_SCOPE_MAX);
	k = lineage__go_scope(lg, g->goid, LG_SCOPE_NOW, sc + (n > 0 ? n : 0), LINEAGE_SCOPE_MAX);
	n = (n > 0 ? n : 0) + (k > 0 ? k : 0);
	for (int i = 0; i < n; i++) {
		if ((sc[i].kind == CTX_CANCEL || sc[i].kind == CTX_TIMER || sc[i].kind == CTX_AFTERFUNC) &&
		    has_chan(chans, nch, done_chan_at(mf, sc[i].id))) {
			emit_done(mf, g->goid, sc[i].id);
			return 1;
		}
	}
	/* A context handed over another way: the ones its frames hold. */
	if (!mf->o.fs || !mf->o.cm)
		return 0;
	mf->st.frame_scans++;
	if (framescan__scan(mf->o.fs, g, fc, MAX_FRAME_CTX, &fr))
		return 0;
	for (int i = 0; i < fr.nctx; i++) {
		struct ctxmem_state st;

		if (ctxmem__cancel_scope(mf->o.cm, fc[i].itab, fc[i].data, &st) == 0 &&
		    has_chan(chans, nch, st.done_chan)) {
			emit_done(mf, g->goid, st.addr);
			return 1;
		}
	}
	return 0;
}

/* Parked goroutines of the graph in a new wait (from this scan's allgs read). */
static void scan_waits(struct memfacts *mf, const struct lineage *lg)
{
	struct lg_go lgo;

	for (size_t i = 0; i < mf->nparked; i++) {
		const struct go_g *g = &mf->parked[i];
		struct wait_seen *w = &mf->waits[(g->goid * 0x9e3779b97f4a7c15ULL >> 40) % WAIT_SLOTS];

		if (w->goid == g->goid && w->pc == g->sched_pc && w->sp == g->sched_sp)
			continue; /* the same wait, read already */
		if (lineage__go(lg, g->goid, &lgo) || lgo.state != LG_GO_ALIVE || lgo.placeholder)
			continue;
		w->goid = g->goid;
		w->pc = g->sched_pc;
		w->sp = g->sched_sp;
		/* emits at most one event: the graph is not walked here */
		wait_of(mf, lg, g);
	}
}

void memfacts__gap_ended(struct memfacts *mf, uint64_t gap_from_ns)
{
	if (!mf || !mf->o.ctxstates)
		return;
	mf->gap_from = gap_from_ns;
	if (mf->verifying) {
		mf->pending = true;
		return;
	}
	mf->verifying = true;
	mf->open_cursor = 0;
}

/* A batch of the open contexts created before the gap: read together, then told
 * (after the walk: the graph must not change during it). */
static void verify_open(struct memfacts *mf, const struct lineage *lg)
{
	struct memfacts_ctx batch[OPEN_PER_TICK];
	int state[OPEN_PER_TICK];
	struct lg_ctx c;
	int n = 0;
	bool more = true;

	while (n < OPEN_PER_TICK && (more = lineage__ctx_next_open(lg, &mf->open_cursor, &c))) {
		if (c.created_ns >= mf->gap_from)
			continue;
		batch[n].id = c.id;
		batch[n].kind = c.kind;
		batch[n].parent_id = c.parent_id;
		batch[n].parent_kind = c.parent_kind;
		n++;
	}
	if (!more) {
		mf->verifying = mf->pending;
		mf->pending = false;
		mf->open_cursor = 0;
	}
	if (!n)
		return;
	mf->o.ctxstates(mf->o.ctxstates_cookie, batch, n, state);
	for (int i = 0; i < n; i++) {
		struct ct_event ev = { .pid = (uint32_t)mf->o.pid, .ts_ns = ct_mono_ns() };

		mf->st.open_read++;
		if (state[i] == 1) {
			/* who cancelled it and why is not in memory: an unknown reason */
			ev.type = EV_CTX_CANCEL;
			ev.ctx_cancel.id = batch[i].id;
			ev.ctx_cancel.reason = CANCEL_UNKNOWN;
			ev.ctx_cancel.effective = true;
			mf->o.emit(mf->o.cookie, &ev);
			mf->st.open_cancelled++;
		} else if (state[i] == -ENOENT) {
			ev.type = EV_CTX_CREATE;
			ev.ctx_create.id = batch[i].id;
			ev.ctx_create.kind = CTX_UNKNOWN;
			ev.ctx_create.discovered = true;
			ev.ctx_create.replaces = true;
			mf->o.emit(mf->o.cookie, &ev);
			mf->st.open_replaced++;
		}
	}
}

int memfacts__tick(struct memfacts *mf, const struct lineage *lg, uint64_t now_ns)
{
	uint64_t t0;
	int err;

	if (!mf || !lg || now_ns < mf->next_scan_ns)
		return 0;
	t0 = ct_mono_ns();
	err = scan_exits(mf, lg);
	if (!err)
		scan_waits(mf, lg);
	if (!err && mf->verifying)
		verify_open(mf, lg);
	t0 = ct_mono_ns() - t0;
	/* A slow scan (many goroutines) waits longer: at most 1/SCAN_SHARE of the time. */
	mf->next_scan_ns = now_ns + (t0 * SCAN_SHARE > mf->o.interval_ns ? t0 * SCAN_SHARE : mf->o.interval_ns);
	return err;
}

void memfacts__stats(const struct memfacts *mf, struct memfacts_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (mf)
		*st = mf->st;
}
