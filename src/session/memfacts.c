/* Facts from memory instead of probes (see memfacts.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "events/event.h"
#include "events/goroutines.h"
#include "graph/lineage.h"
#include "session/memfacts.h"

#define DEFAULT_INTERVAL_NS 500000000ULL
/* A scan may take at most this share of the wall clock (1/10). */
#define SCAN_SHARE 10

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
	struct memfacts_stats st;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

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
	free(mf);
}

static int collect(void *cookie, const struct go_g *g)
{
	return set_push(cookie, g->goid);
}

/* Goroutines of the graph that left allgs: exited. */
static int scan_exits(struct memfacts *mf, const struct lineage *lg)
{
	struct lg_go g;
	uint32_t cur = 0;
	uint64_t t0 = mono_ns();
	int err;

	mf->live.n = 0;
	err = goroutines__foreach(mf->o.gs, collect, &mf->live);
	mf->st.scans++;
	if (err) {
		/* Nothing is told from a failed scan; the absent list waits. */
		mf->st.scan_errors++;
		mf->st.scan_ns += mono_ns() - t0;
		return err == -ENOMEM ? err : 0;
	}
	qsort(mf->live.v, mf->live.n, sizeof(uint64_t), cmp_u64);
	mf->next.n = 0;
	while (lineage__go_next(lg, &cur, &g)) {
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
					       .ts_ns = mono_ns(), .goid = v & ~(1ULL << 63) };

			ev.go_exit.goid = ev.goid;
			mf->o.emit(mf->o.cookie, &ev);
			mf->st.exits++;
		} else if (set_push(&mf->absent, v)) {
			return -ENOMEM;
		}
	}
	qsort(mf->absent.v, mf->absent.n, sizeof(uint64_t), cmp_u64);
	mf->st.scan_ns += mono_ns() - t0;
	return 0;
}

int memfacts__tick(struct memfacts *mf, const struct lineage *lg, uint64_t now_ns)
{
	uint64_t t0;
	int err;

	if (!mf || !lg || now_ns < mf->next_scan_ns)
		return 0;
	t0 = mono_ns();
	err = scan_exits(mf, lg);
	t0 = mono_ns() - t0;
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
