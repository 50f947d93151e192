#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "events/event.h"
#include "output/pprof_out.h"
#include "proto/profile.pb-c.h"
#include "rules/memjudge.h"
#include "rules/rules.h"
#include "util/fmt.h"
#include "util/hash.h"
#include "util/log.h"
#include "util/stack.h"

#define MAX_LABELS 8

/* One pprof Line: function id and line number. */
struct pline {
	uint64_t func;
	int64_t line;
};

struct ploc {
	uint32_t first, n; /* in lines[]: innermost first */
	uint64_t hash;
};

struct pfunc {
	int64_t name, file;
};

struct psample {
	uint32_t first, n; /* in locids[] */
	int64_t keys[MAX_LABELS], vals[MAX_LABELS];
	int nlabels;
};

/* Open addressing over indexes + 1 (0: empty); the caller compares. */
struct itab {
	uint32_t *slots;
	uint64_t *hashes;
	uint32_t cap, n;
};

struct pprof_out {
	int pid;
	char **strs;
	uint32_t nstrs, capstrs;
	struct itab str_tab, func_tab, loc_tab;
	struct pfunc *funcs;
	uint32_t nfuncs, capfuncs;
	struct pline *lines;
	uint32_t nlines, caplines;
	struct ploc *locs;
	uint32_t nlocs, caplocs;
	uint64_t *locids;
	uint32_t nlocids, caplocids;
	struct psample *samples;
	uint32_t nsamples, capsamples;
	uint64_t dropped;
	int64_t exe;
};

static int grow(void **arr, uint32_t *cap, uint32_t need, size_t size)
{
	uint32_t ncap = *cap ? *cap : 64;
	void *p;

	if (need <= *cap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	p = realloc(*arr, (size_t)ncap * size);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

static uint64_t hash_bytes(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

static int itab_grow(struct itab *t)
{
	uint32_t ncap = t->cap ? t->cap * 2 : 256;
	uint32_t *slots = calloc(ncap, sizeof(*slots));
	uint64_t *hashes = calloc(ncap, sizeof(*hashes));

	if (!slots || !hashes) {
		free(slots);
		free(hashes);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < t->cap; i++) {
		uint32_t k;

		if (!t->slots[i])
			continue;
		for (k = (uint32_t)ct_mix64(t->hashes[i]) & (ncap - 1); slots[k]; k = (k + 1) & (ncap - 1))
			;
		slots[k] = t->slots[i];
		hashes[k] = t->hashes[i];
	}
	free(t->slots);
	free(t->hashes);
	t->slots = slots;
	t->hashes = hashes;
	t->cap = ncap;
	return 0;
}

/* The slot for hash h whose entry eq() accepts, or the empty one where it goes. */
static uint32_t *itab_slot(struct itab *t, uint64_t h, bool (*eq)(const struct pprof_out *, uint32_t, const void *),
			   const struct pprof_out *p, const void *key)
{
	uint32_t k;

	if ((t->n + 1) * 2 > t->cap && itab_grow(t))
		return NULL;
	for (k = (uint32_t)ct_mix64(h) & (t->cap - 1); t->slots[k]; k = (k + 1) & (t->cap - 1))
		if (t->hashes[k] == h && eq(p, t->slots[k] - 1, key))
			return &t->slots[k];
	t->hashes[k] = h;
	return &t->slots[k];
}

static void itab_free(struct itab *t)
{
	free(t->slots);
	free(t->hashes);
}

static bool str_eq(const struct pprof_out *p, uint32_t i, const void *key)
{
	return !strcmp(p->strs[i], key);
}

/* The string's index in the string table; -1 on ENOMEM. */
static int64_t str_id(struct pprof_out *p, const char *s)
{
	uint32_t *slot;

	if (!s)
		s = "";
	slot = itab_slot(&p->str_tab, hash_bytes(0xcbf29ce484222325ULL, s, strlen(s)), str_eq, p, s);
	if (!slot)
		return -1;
	if (*slot)
		return *slot - 1;
	if (grow((void **)&p->strs, &p->capstrs, p->nstrs + 1, sizeof(*p->strs)))
		return -1;
	p->strs[p->nstrs] = strdup(s);
	if (!p->strs[p->nstrs])
		return -1;
	*slot = ++p->nstrs;
	p->str_tab.n++;
	return p->nstrs - 1;
}

static bool func_eq(const struct pprof_out *p, uint32_t i, const void *key)
{
	const struct pfunc *f = key;

	return p->funcs[i].name == f->name && p->funcs[i].file == f->file;
}

/* Function ids start at 1 (0 means none in profile.proto). 0 on ENOMEM. */
static uint64_t func_id(struct pprof_out *p, const struct ct_frame *fr)
{
	struct pfunc f = { str_id(p, fr->func ? fr->func : "?"), str_id(p, fr->file) };
	uint32_t *slot;

	if (f.name < 0 || f.file < 0)
		return 0;
	slot = itab_slot(&p->func_tab, hash_bytes(hash_bytes(1, &f.name, 8), &f.file, 8), func_eq, p, &f);
	if (!slot)
		return 0;
	if (*slot)
		return *slot;
	if (grow((void **)&p->funcs, &p->capfuncs, p->nfuncs + 1, sizeof(*p->funcs)))
		return 0;
	p->funcs[p->nfuncs] = f;
	*slot = ++p->nfuncs;
	p->func_tab.n++;
	return p->nfuncs;
}

struct lockey {
	const struct pline *lines;
	uint32_t n;
};

static bool loc_eq(const struct pprof_out *p, uint32_t i, const void *key)
{
	const struct lockey *k = key;

	return p->locs[i].n == k->n && !memcmp(&p->lines[p->locs[i].first], k->lines, k->n * sizeof(*k->lines));
}

/* A location for frames (one physical frame and the frames inlined into it,
 * innermost first). Ids start at 1; 0 on ENOMEM. */
static uint64_t loc_id(struct pprof_out *p, const struct pline *lines, uint32_t n)
{
	struct lockey k = { lines, n };
	uint32_t *slot = itab_slot(&p->loc_tab, hash_bytes(2, lines, n * sizeof(*lines)), loc_eq, p, &k);

	if (!slot)
		return 0;
	if (*slot)
		return *slot;
	if (grow((void **)&p->locs, &p->caplocs, p->nlocs + 1, sizeof(*p->locs)) ||
	    grow((void **)&p->lines, &p->caplines, p->nlines + n, sizeof(*p->lines)))
		return 0;
	memcpy(&p->lines[p->nlines], lines, n * sizeof(*lines));
	p->locs[p->nlocs] = (struct ploc){ .first = p->nlines, .n = n };
	p->nlines += n;
	*slot = ++p->nlocs;
	p->loc_tab.n++;
	return p->nlocs;
}

/* Appends the stack's locations to locids[]; the frames of each physical frame
 * (inlined ones first) make one location. 0 or -ENOMEM. */
static int add_stack(struct pprof_out *p, const struct ct_stack *st, bool drop_goexit)
{
	struct pline lines[64];
	uint32_t n = 0, end = st ? st->n : 0;

	if (drop_goexit && end && st->frames[end - 1].func && !strcmp(st->frames[end - 1].func, "runtime.goexit"))
		end--;
	for (uint32_t i = 0; i < end; i++) {
		const struct ct_frame *fr = &st->frames[i];
		uint64_t id;

		lines[n].func = func_id(p, fr);
		lines[n].line = fr->line;
		if (!lines[n].func)
			return -ENOMEM;
		n++;
		if (fr->inlined && i + 1 < end && n < sizeof(lines) / sizeof(lines[0]))
			continue;
		id = loc_id(p, lines, n);
		if (!id || grow((void **)&p->locids, &p->caplocids, p->nlocids + 1, sizeof(*p->locids)))
			return -ENOMEM;
		p->locids[p->nlocids++] = id;
		n = 0;
	}
	return 0;
}

struct pprof_out *pprof_out__new(int pid, const char *exe)
{
	struct pprof_out *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->pid = pid;
	/* String 0 must be "". */
	if (str_id(p, "") != 0 || (p->exe = str_id(p, exe ? exe : "")) < 0) {
		pprof_out__free(p);
		errno = ENOMEM;
		return NULL;
	}
	return p;
}

static const char *age_bucket(const struct memjudge_go *g)
{
	static const struct {
		uint64_t below_s;
		const char *name;
	} b[] = { { 10, "<10s" }, { 60, "10s-1m" }, { 600, "1m-10m" }, { 3600, "10m-1h" } };

	if (!g->age_known)
		return "unknown";
	for (size_t i = 0; i < sizeof(b) / sizeof(b[0]); i++)
		if (g->age_ns < b[i].below_s * 1000000000ULL)
			return b[i].name;
	return ">1h";
}

static int label(struct pprof_out *p, struct psample *s, const char *key, const char *val)
{
	int64_t k, v;

	if (!val || s->nlabels >= MAX_LABELS)
		return 0;
	k = str_id(p, key);
	v = str_id(p, val);
	if (k < 0 || v < 0)
		return -ENOMEM;
	s->keys[s->nlabels] = k;
	s->vals[s->nlabels] = v;
	s->nlabels++;
	return 0;
}

int pprof_out__add(struct pprof_out *p, const struct memjudge_go *g)
{
	struct psample *s;
	char state[160], site[300];
	int err = 0;

	if (g->rule >= RULE_MAX)
		return 0;
	if (p->nsamples >= PPROF_MAX_SAMPLES) {
		p->dropped++;
		return 0;
	}
	if (grow((void **)&p->samples, &p->capsamples, p->nsamples + 1, sizeof(*p->samples)))
		return -ENOMEM;
	s = &p->samples[p->nsamples];
	memset(s, 0, sizeof(*s));
	s->first = p->nlocids;
	err = add_stack(p, g->stack, true);
	if (!err)
		err = add_stack(p, g->go_site, false);
	s->n = p->nlocids - s->first;
	if (!err)
		err = label(p, s, "rule", rule_name(g->rule));
	if (!err)
		err = label(p, s, "wait", g->wait);
	if (!err)
		err = label(p, s, "age", age_bucket(g));
	if (!err)
		err = label(p, s, "alerted", g->alerted ? "true" : "false");
	if (!err && g->ctx.known) {
		err = label(p, s, "context_kind", ctx_kind_name(g->ctx.kind));
		if (g->ctx.cancelled)
			snprintf(state, sizeof(state), "cancelled (%.120s)", g->ctx.err ? g->ctx.err : "?");
		else
			snprintf(state, sizeof(state), "live");
		if (!err)
			err = label(p, s, "context_state", state);
		if (!err && g->ctx.site && g->ctx.site->file) {
			snprintf(site, sizeof(site), "%.250s:%u", file_base(g->ctx.site->file), g->ctx.site->line);
			err = label(p, s, "context_created_at", site);
		}
	}
	if (err) {
		p->nlocids = s->first;
		return -ENOMEM;
	}
	p->nsamples++;
	return 1;
}

uint32_t pprof_out__samples(const struct pprof_out *p)
{
	return p->nsamples;
}

/* Builds the message over the tables (pointers into them, nothing copied),
 * packs it and gzips it to path. */
static int write_profile(struct pprof_out *p, const char *path)
{
	Perftools__Profiles__Profile prof = PERFTOOLS__PROFILES__PROFILE__INIT;
	Perftools__Profiles__ValueType vt = PERFTOOLS__PROFILES__VALUE_TYPE__INIT, *vtp = &vt;
	Perftools__Profiles__ValueType pt = PERFTOOLS__PROFILES__VALUE_TYPE__INIT;
	Perftools__Profiles__Mapping map = PERFTOOLS__PROFILES__MAPPING__INIT, *mapp = &map;
	Perftools__Profiles__Sample *sm = calloc(p->nsamples ? p->nsamples : 1, sizeof(*sm));
	Perftools__Profiles__Sample **smp = calloc(p->nsamples ? p->nsamples : 1, sizeof(*smp));
	Perftools__Profiles__Label *lb = calloc((size_t)(p->nsamples ? p->nsamples : 1) * MAX_LABELS, sizeof(*lb));
	Perftools__Profiles__Label **lbp = calloc((size_t)(p->nsamples ? p->nsamples : 1) * MAX_LABELS, sizeof(*lbp));
	Perftools__Profiles__Location *lc = calloc(p->nlocs ? p->nlocs : 1, sizeof(*lc));
	Perftools__Profiles__Location **lcp = calloc(p->nlocs ? p->nlocs : 1, sizeof(*lcp));
	Perftools__Profiles__Line *ln = calloc(p->nlines ? p->nlines : 1, sizeof(*ln));
	Perftools__Profiles__Line **lnp = calloc(p->nlines ? p->nlines : 1, sizeof(*lnp));
	Perftools__Profiles__Function *fn = calloc(p->nfuncs ? p->nfuncs : 1, sizeof(*fn));
	Perftools__Profiles__Function **fnp = calloc(p->nfuncs ? p->nfuncs : 1, sizeof(*fnp));
	int64_t one = 1, comment[1];
	struct timespec ts;
	uint8_t *buf = NULL;
	size_t len;
	gzFile gz = NULL;
	char tmp[4096];
	int err = 0;

	if (!sm || !smp || !lb || !lbp || !lc || !lcp || !ln || !lnp || !fn || !fnp) {
		err = -ENOMEM;
		goto out;
	}
	vt.type = str_id(p, "goroutines");
	vt.unit = str_id(p, "count");
	pt = vt;
	map.id = 1;
	map.memory_limit = ~0ULL;
	map.filename = p->exe;
	map.has_functions = map.has_filenames = map.has_line_numbers = map.has_inline_frames = 1;
	for (uint32_t i = 0; i < p->nfuncs; i++) {
		perftools__profiles__function__init(&fn[i]);
		fn[i].id = i + 1;
		fn[i].name = fn[i].system_name = p->funcs[i].name;
		fn[i].filename = p->funcs[i].file;
		fnp[i] = &fn[i];
	}
	for (uint32_t i = 0; i < p->nlines; i++) {
		perftools__profiles__line__init(&ln[i]);
		ln[i].function_id = p->lines[i].func;
		ln[i].line = p->lines[i].line;
		lnp[i] = &ln[i];
	}
	for (uint32_t i = 0; i < p->nlocs; i++) {
		perftools__profiles__location__init(&lc[i]);
		lc[i].id = i + 1;
		lc[i].mapping_id = 1;
		lc[i].n_line = p->locs[i].n;
		lc[i].line = &lnp[p->locs[i].first];
		lcp[i] = &lc[i];
	}
	for (uint32_t i = 0; i < p->nsamples; i++) {
		const struct psample *s = &p->samples[i];

		perftools__profiles__sample__init(&sm[i]);
		sm[i].n_location_id = s->n;
		sm[i].location_id = &p->locids[s->first];
		sm[i].n_value = 1;
		sm[i].value = &one;
		for (int k = 0; k < s->nlabels; k++) {
			Perftools__Profiles__Label *l = &lb[(size_t)i * MAX_LABELS + k];

			perftools__profiles__label__init(l);
			l->key = s->keys[k];
			l->str = s->vals[k];
			lbp[(size_t)i * MAX_LABELS + k] = l;
		}
		sm[i].n_label = (size_t)s->nlabels;
		sm[i].label = &lbp[(size_t)i * MAX_LABELS];
		smp[i] = &sm[i];
	}
	snprintf(tmp, sizeof(tmp), "ctxtrace leak profile of pid %d; %llu stuck goroutines over the limit left out",
		 p->pid, (unsigned long long)p->dropped);
	comment[0] = str_id(p, tmp);
	if (vt.type < 0 || vt.unit < 0 || comment[0] < 0) {
		err = -ENOMEM;
		goto out;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	prof.n_sample_type = 1;
	prof.sample_type = &vtp;
	prof.n_sample = p->nsamples;
	prof.sample = smp;
	prof.n_mapping = 1;
	prof.mapping = &mapp;
	prof.n_location = p->nlocs;
	prof.location = lcp;
	prof.n_function = p->nfuncs;
	prof.function = fnp;
	prof.n_string_table = p->nstrs;
	prof.string_table = p->strs;
	prof.time_nanos = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
	prof.period_type = &pt;
	prof.period = 1;
	prof.n_comment = 1;
	prof.comment = comment;
	len = perftools__profiles__profile__get_packed_size(&prof);
	buf = malloc(len ? len : 1);
	if (!buf) {
		err = -ENOMEM;
		goto out;
	}
	perftools__profiles__profile__pack(&prof, buf);
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp)) {
		err = -ENAMETOOLONG;
		goto out;
	}
	gz = gzopen(tmp, "wb");
	if (!gz) {
		err = errno ? -errno : -ENOMEM;
		goto out;
	}
	if (len && gzwrite(gz, buf, (unsigned)len) != (int)len) {
		err = -EIO;
		gzclose(gz);
		unlink(tmp);
		goto out;
	}
	if (gzclose(gz) != Z_OK) {
		err = -EIO;
		unlink(tmp);
		goto out;
	}
	if (rename(tmp, path)) {
		err = -errno;
		unlink(tmp);
	}
out:
	free(buf);
	free(sm);
	free(smp);
	free(lb);
	free(lbp);
	free(lc);
	free(lcp);
	free(ln);
	free(lnp);
	free(fn);
	free(fnp);
	return err;
}

int pprof_out__write(struct pprof_out *p, const char *path)
{
	int err;

	errno = 0;
	err = write_profile(p, path);
	if (err)
		ct_errmsg_set("cannot write the profile %s: %s", path, strerror(-err));
	return err;
}

void pprof_out__free(struct pprof_out *p)
{
	if (!p)
		return;
	for (uint32_t i = 0; i < p->nstrs; i++)
		free(p->strs[i]);
	free(p->strs);
	itab_free(&p->str_tab);
	itab_free(&p->func_tab);
	itab_free(&p->loc_tab);
	free(p->funcs);
	free(p->lines);
	free(p->locs);
	free(p->locids);
	free(p->samples);
	free(p);
}
