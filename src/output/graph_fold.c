/* The folded view of the lineage graph: snapshot, signatures, groups (graph_fold.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "events/event.h"
#include "graph/lineage.h"
#include "output/graph_fold.h"
#include "output/graph_out.h"
#include "rules/memjudge.h"
#include "util/array.h"
#include "util/fmt.h"
#include "util/hash.h"

/* ---- snapshot and analysis ---- */

int32_t fold__ctx_pos(const struct fold *s, struct lg_ref r)
{
	if (r.gen == 0 || r.idx >= s->ncpos)
		return -1;
	int32_t p = s->cpos[r.idx];

	return p >= 0 && s->c[p].ref.gen == r.gen ? p : -1;
}

void fold__free(struct fold *s)
{
	free(s->c);
	free(s->g);
	free(s->cpos);
	free(s->gpos);
	free(s->kid_off);
	free(s->kids);
	free(s->bnd_off);
	free(s->bnd);
	free(s->bound);
	free(s->cleak);
	free(s->gleak);
	free(s->cout);
	free(s->gout);
	free(s->csig);
	free(s->gsig);
	free(s->gmem);
	free(s->has_gmem);
}

int fold__by_created(const void *a, const void *b, void *cookie)
{
	const struct fold *sn = cookie;
	const struct lg_ctx *x = &sn->c[*(const uint32_t *)a], *y = &sn->c[*(const uint32_t *)b];

	if (x->created_ns != y->created_ns)
		return x->created_ns < y->created_ns ? -1 : 1;
	return x->ref.idx < y->ref.idx ? -1 : x->ref.idx > y->ref.idx;
}

static uint64_t site_hash(const struct ct_stack *st)
{
	const struct ct_frame *f = graph_site(st);

	if (!f)
		return 7;
	return ct_hash_combine(ct_hash_combine(ct_hash_str(f->func), ct_hash_str(f->file)), f->line);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Effective children: raw children with value contexts replaced by theirs. */
static int collect_kids(const struct fold *s, uint32_t p, uint32_t **out, uint32_t *n, uint32_t *cap, int depth)
{
	for (uint32_t k = s->kid_off[p]; k < s->kid_off[p + 1]; k++) {
		uint32_t ch = s->kids[k];

		if (s->c[ch].kind == CTX_VALUE && depth < DEPTH_MAX) {
			int err = collect_kids(s, ch, out, n, cap, depth + 1);

			if (err)
				return err;
			continue;
		}
		if (array_reserve(out, cap, *n + 1, sizeof(**out), 16))
			return -ENOMEM;
		(*out)[(*n)++] = ch;
	}
	return 0;
}

/* Exited goroutines all look alike: a context shows how many, not which. */
#define EXITED_SIG 0xe71edULL

bool fold__mem_reported(const struct fold *s, uint32_t g)
{
	return s->has_gmem[g] && s->gmem[g].rule != RULE_MAX && s->gmem[g].alerted;
}

/* What memory says of it, as far as the line shows it: goroutines alike in it fold. */
static uint64_t mem_sig(const struct fold *s, uint32_t g)
{
	const struct memjudge_go *m = &s->gmem[g];
	uint64_t h;

	if (!s->has_gmem[g])
		return 0;
	h = ct_hash_combine(ct_hash_str(m->wait), m->block_site ? ct_hash_combine(ct_hash_str(m->block_site->file),
										      m->block_site->line) : 7);
	h = ct_hash_combine(h, (uint64_t)m->rule << 8 | (uint64_t)m->alerted << 1 | (m->waiting_ns != 0));
	h = ct_hash_combine(h, (uint64_t)m->waits_on_done << 2 | (uint64_t)(m->contexts_held != 0) << 1 |
				       m->ctx.known);
	if (m->ctx.known)
		h = ct_hash_combine(h, ct_hash_combine(ct_hash_str(m->ctx.type_name), ct_hash_str(m->ctx.err)));
	if (m->ancestry.known)
		h = ct_hash_combine(h, ct_hash_combine(m->ancestry_parent, ct_hash_str(m->ancestry.err)));
	return h;
}

static uint64_t go_sig(const struct fold *s, uint32_t g)
{
	const struct lg_go *x = &s->g[g];

	if (x->state != LG_GO_ALIVE)
		return EXITED_SIG;
	return ct_hash_combine(ct_hash_combine(ct_hash_str(x->start_func), site_hash(x->go_site)),
			       ct_hash_combine(s->gleak[g], mem_sig(s, g)));
}

/* Bottom-up signatures: equal signature = identical display subtree. */
static int ctx_sig(struct fold *s, uint32_t p, int depth)
{
	const struct lg_ctx *x = &s->c[p];
	uint32_t *kids = NULL, n = 0, cap = 0;
	uint64_t *ks = NULL, h;
	uint32_t nb = s->bnd_off[p + 1] - s->bnd_off[p];
	int err;

	h = ct_hash_combine(ct_hash_combine(ct_hash_combine(x->kind, ct_hash_str(x->kind == CTX_CUSTOM ? x->type_name : NULL)), site_hash(x->stack)),
		ct_hash_combine(ct_hash_combine(x->state, x->reason), ct_hash_combine(x->cancel_called, s->cleak[p] | x->placeholder << 1)));
	if (depth >= DEPTH_MAX) {
		s->csig[p] = h;
		return 0;
	}
	err = collect_kids(s, p, &kids, &n, &cap, 0);
	if (err)
		return err;
	ks = malloc((n + nb + 1) * sizeof(*ks));
	if (!ks) {
		free(kids);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < n; i++) {
		err = ctx_sig(s, kids[i], depth + 1);
		if (err)
			goto cleanup;
		ks[i] = s->csig[kids[i]];
	}
	for (uint32_t i = 0; i < nb; i++)
		ks[n + i] = s->gsig[s->bnd[s->bnd_off[p] + i]] ^ 0x5555;
	qsort(ks, n + nb, sizeof(*ks), cmp_u64);
	for (uint32_t i = 0; i < n + nb; i++)
		h = ct_hash_combine(h, ks[i]);
	s->csig[p] = h;
cleanup:
	free(kids);
	free(ks);
	return err;
}

int fold__build(struct fold *s, const struct lineage *lg, const struct graph_out_opts *o)
{
	struct lineage_stats st;
	uint32_t cur, i, capc, capg, *fill = NULL;
	int err = -ENOMEM;

	memset(s, 0, sizeof(*s));
	s->lg = lg;
	s->o = o;
	s->now = o->now_ns ? o->now_ns : lineage__now(lg);
	lineage__stats(lg, &st);
	capc = (uint32_t)(st.ctx_live + st.ctx_cancelled) + 1;
	capg = (uint32_t)(st.go_alive + st.go_exited) + 1;
	s->c = malloc(capc * sizeof(*s->c));
	s->g = malloc(capg * sizeof(*s->g));
	if (!s->c || !s->g)
		goto cleanup;
	for (cur = 0; s->nc < capc && lineage__ctx_next(lg, &cur, &s->c[s->nc]);)
		s->nc++;
	for (cur = 0; s->ng < capg && lineage__go_next(lg, &cur, &s->g[s->ng]);)
		s->ng++;
	for (i = 0; i < s->nc; i++)
		if (s->c[i].ref.idx + 1 > s->ncpos)
			s->ncpos = s->c[i].ref.idx + 1;
	for (i = 0; i < s->ng; i++)
		if (s->g[i].ref.idx + 1 > s->ngpos)
			s->ngpos = s->g[i].ref.idx + 1;
	s->cpos = malloc((s->ncpos + 1) * sizeof(*s->cpos));
	s->gpos = malloc((s->ngpos + 1) * sizeof(*s->gpos));
	s->kid_off = calloc(s->nc + 2, sizeof(*s->kid_off));
	s->kids = malloc((s->nc + 1) * sizeof(*s->kids));
	s->bnd_off = calloc(s->nc + 2, sizeof(*s->bnd_off));
	s->bnd = malloc((s->ng + 1) * sizeof(*s->bnd));
	s->bound = malloc((s->ng + 1) * sizeof(*s->bound));
	s->cleak = calloc(s->nc + 1, sizeof(*s->cleak));
	s->gleak = calloc(s->ng + 1, sizeof(*s->gleak));
	s->cout = calloc(s->nc + 1, sizeof(*s->cout));
	s->gout = calloc(s->ng + 1, sizeof(*s->gout));
	s->csig = calloc(s->nc + 1, sizeof(*s->csig));
	s->gsig = calloc(s->ng + 1, sizeof(*s->gsig));
	fill = calloc(s->nc + 1, sizeof(*fill));
	s->gmem = calloc(s->ng + 1, sizeof(*s->gmem));
	s->has_gmem = calloc(s->ng + 1, sizeof(*s->has_gmem));
	if (!s->gmem || !s->has_gmem)
		goto cleanup;
	for (i = 0; o->go_memory && i < s->ng; i++)
		if (s->g[i].state == LG_GO_ALIVE && s->g[i].preexisting)
			s->has_gmem[i] = o->go_memory(o->memory_cookie, s->g[i].goid, &s->gmem[i]);
	if (!s->cpos || !s->gpos || !s->kid_off || !s->kids || !s->bnd_off || !s->bnd || !s->bound ||
	    !s->cleak || !s->gleak || !s->cout || !s->gout || !s->csig || !s->gsig || !fill)
		goto cleanup;
	memset(s->cpos, 0xff, (s->ncpos + 1) * sizeof(*s->cpos));
	memset(s->gpos, 0xff, (s->ngpos + 1) * sizeof(*s->gpos));
	for (i = 0; i < s->nc; i++)
		s->cpos[s->c[i].ref.idx] = i;
	for (i = 0; i < s->ng; i++)
		s->gpos[s->g[i].ref.idx] = i;

	/* children, CSR, sorted by creation */
	for (i = 0; i < s->nc; i++) {
		int32_t p = fold__ctx_pos(s, s->c[i].parent);

		if (p >= 0)
			s->kid_off[p + 1]++;
	}
	for (i = 0; i < s->nc; i++)
		s->kid_off[i + 1] += s->kid_off[i];
	for (i = 0; i < s->nc; i++) {
		int32_t p = fold__ctx_pos(s, s->c[i].parent);

		if (p >= 0)
			s->kids[s->kid_off[p] + fill[p]++] = i;
	}
	for (i = 0; i < s->nc; i++)
		qsort_r(s->kids + s->kid_off[i], s->kid_off[i + 1] - s->kid_off[i], sizeof(*s->kids), fold__by_created, s);

	/* bound context of each goroutine. A live goroutine bound to a cancelled
	 * context that existed when it started is leaking: it outlived the context
	 * it was started under. One that merely asked Done() of a newer context
	 * (main, a pool worker) is not: it was not that context's to begin with. */
	for (i = 0; i < s->ng; i++) {
		struct lg_ctx b;

		s->bound[i] = -1;
		if (lineage__go_bound(lg, s->g[i].goid, &b) == 0)
			s->bound[i] = fold__ctx_pos(s, b.ref);
		if (s->bound[i] >= 0) {
			s->bnd_off[s->bound[i] + 1]++;
			if (s->g[i].state == LG_GO_ALIVE && s->c[s->bound[i]].state == LG_CTX_CANCELLED &&
			    s->c[s->bound[i]].created_ns < s->g[i].created_ns) {
				s->gout[i] = true;
				if (!s->cout[s->bound[i]])
					s->nleak++;
				s->cout[s->bound[i]] = true;
				if (!o->go_leaking || o->go_leaking(o->leak_cookie, s->g[i].goid)) {
					s->gleak[i] = true;
					s->cleak[s->bound[i]] = true;
				}
			}
		}
	}
	for (i = 0; i < s->nc; i++)
		s->bnd_off[i + 1] += s->bnd_off[i];
	memset(fill, 0, (s->nc + 1) * sizeof(*fill));
	for (i = 0; i < s->ng; i++)
		if (s->bound[i] >= 0)
			s->bnd[s->bnd_off[s->bound[i]] + fill[s->bound[i]]++] = i;
	for (i = 0; i < s->ng; i++)
		s->gsig[i] = go_sig(s, i);
	for (i = 0; i < s->nc; i++) {
		if (fold__ctx_pos(s, s->c[i].parent) < 0) {
			err = ctx_sig(s, i, 0);
			if (err)
				goto cleanup;
		}
	}
	err = 0;
cleanup:
	free(fill);
	return err;
}

/* ---- folded walk shared by tree and dot ---- */

void fold__groups_free(struct groups *gs)
{
	for (uint32_t i = 0; i < gs->n; i++)
		free(gs->v[i].m);
	free(gs->v);
	hmap__free(&gs->by_sig);
}

struct group_key {
	const struct groups *gs;
	bool is_go;
	uint64_t sig;
};

static bool group_eq(const void *cookie, uint64_t v)
{
	const struct group_key *k = cookie;
	const struct group *g = &k->gs->v[v];

	return g->is_go == k->is_go && g->sig == k->sig;
}

static int groups_add(struct groups *gs, bool is_go, uint64_t sig, uint32_t pos)
{
	struct group_key k = { gs, is_go, sig };
	uint64_t h = hmap_hash(sig ^ is_go), *idx = hmap__find(&gs->by_sig, h, group_eq, &k);
	struct group *g;

	if (idx) {
		g = &gs->v[*idx];
	} else {
		if (array_reserve(&gs->v, &gs->cap, gs->n + 1, sizeof(*gs->v), 8) ||
		    hmap__add(&gs->by_sig, h, gs->n))
			return -ENOMEM;
		g = &gs->v[gs->n++];
		memset(g, 0, sizeof(*g));
		g->is_go = is_go;
		g->sig = sig;
	}
	if (array_reserve(&g->m, &g->cap, g->n + 1, sizeof(*g->m), 4))
		return -ENOMEM;
	g->m[g->n++] = pos;
	return 0;
}

/* The child groups of a group of identical contexts (members[] all alike). */
int fold__child_groups(const struct fold *s, const uint32_t *members, uint32_t nm, struct groups *gs)
{
	uint32_t *kids = NULL, n = 0, cap = 0;
	int err = 0;

	memset(gs, 0, sizeof(*gs));
	for (uint32_t i = 0; i < nm && !err; i++) {
		uint32_t p = members[i];

		n = 0;
		err = collect_kids(s, p, &kids, &n, &cap, 0);
		for (uint32_t k = 0; !err && k < n; k++)
			err = groups_add(gs, false, s->csig[kids[k]], kids[k]);
		for (uint32_t k = s->bnd_off[p]; !err && k < s->bnd_off[p + 1]; k++)
			err = groups_add(gs, true, s->gsig[s->bnd[k]], s->bnd[k]);
	}
	free(kids);
	return err;
}

uint64_t fold__age(const struct fold *s, uint64_t t)
{
	return s->now > t ? s->now - t : 0;
}

enum age_of { AGE_CREATED, AGE_CANCELLED };

/* The youngest and oldest age of a group's members, since creation or cancel. */
static void age_range(const struct fold *s, const struct group *g, enum age_of what, uint64_t *lo, uint64_t *hi)
{
	*lo = UINT64_MAX;
	*hi = 0;
	for (uint32_t i = 0; i < g->n; i++) {
		uint64_t t = g->is_go ? s->g[g->m[i]].created_ns :
			     what == AGE_CREATED ? s->c[g->m[i]].created_ns : s->c[g->m[i]].cancelled_ns;
		uint64_t a = fold__age(s, t);

		*lo = a < *lo ? a : *lo;
		*hi = a > *hi ? a : *hi;
	}
}

/* What memory holds of a group of alike goroutines that existed at attach: where
 * they block and since when, the context tied to them, the rules' verdict. */
static size_t describe_memory(const struct fold *s, const struct group *g, char *buf, size_t size, size_t len,
			      const char *sep)
{
	const struct memjudge_go *m = &s->gmem[g->m[0]];
	const struct ct_frame *b = m->block_site;
	uint64_t lo = UINT64_MAX, hi = 0;
	char a1[32], a2[32];
	bool one;

#define ADD(...) (len += (size_t)snprintf(buf + len, len < size ? size - len : 0, __VA_ARGS__))
	for (uint32_t i = 0; i < g->n; i++) {
		const struct memjudge_go *x = &s->gmem[g->m[i]];
		/* the runtime's waitsince, else at least since attach */
		uint64_t a = x->waiting_ns ? x->waiting_ns : fold__age(s, s->g[g->m[i]].created_ns);

		lo = a < lo ? a : lo;
		hi = a > hi ? a : hi;
	}
	fmt_duration(a1, sizeof(a1), lo);
	fmt_duration(a2, sizeof(a2), hi);
	one = !strcmp(a1, a2);
	if (m->stack) {
		ADD("%s%s", sep, m->wait ? m->wait : "?");
		if (b)
			ADD(" at %s:%u", file_base(b->file), b->line);
		if (m->waiting_ns)
			ADD(" for %s%s%s", a1, one ? "" : "-", one ? "" : a2);
		else
			ADD(" for at least %s%s%s (since attach: no waitsince)", a1, one ? "" : "-", one ? "" : a2);
	} else {
		ADD("%s%s (stack not read)", sep, m->wait ? m->wait : "running");
	}
	if (m->leaked)
		ADD("%smarked leaked by the runtime", sep);
	if (m->ctx.known) {
		ADD("%sholds cancelled %s", sep, m->ctx.type_name ? m->ctx.type_name : "context");
		if (g->n == 1)
			ADD(" [0x%" PRIx64 "]", m->ctx.id);
		if (m->ctx.err)
			ADD(" (%s)", m->ctx.err);
	} else if (m->ancestry.known) {
		ADD("%sparent goroutine %" PRIu64 " holds cancelled %s", sep, m->ancestry_parent,
		    m->ancestry.type_name ? m->ancestry.type_name : "context");
		if (g->n == 1)
			ADD(" [0x%" PRIx64 "]", m->ancestry.id);
		if (m->ancestry.err)
			ADD(" (%s)", m->ancestry.err);
		ADD(" in the frame that started it (by ancestry)");
	} else if (m->waits_on_done) {
		ADD("%swaits on a live context's Done", sep);
	} else if (m->contexts_held) {
		ADD("%sholds %u live context%s", sep, m->contexts_held, m->contexts_held == 1 ? "" : "s");
	} else if (m->stack) {
		ADD("%sno context found in memory", sep);
	}
	if (m->rule != RULE_MAX && m->alerted)
		ADD("%s%s: %s (memory)", sep, m->rule == RULE_STUCK_GOROUTINES ? "STUCK" : "LEAK", rule_name(m->rule));
	else if (m->rule != RULE_MAX)
		ADD("%s%s, below its threshold", sep, rule_name(m->rule));
#undef ADD
	return len;
}

/* One line describing a group (no newline). sep separates parts: " " or "\n". */
void fold__describe(const struct fold *s, const struct group *g, uint32_t per_parent, char *buf, size_t size,
		     const char *sep)
{
	char a1[32], a2[32];
	size_t len = 0;
	uint64_t amin, amax;

#define ADD(...) (len += (size_t)snprintf(buf + len, len < size ? size - len : 0, __VA_ARGS__))
	if (g->is_go) {
		const struct lg_go *x = &s->g[g->m[0]];
		const struct ct_frame *f = graph_site(x->go_site);

		age_range(s, g, AGE_CREATED, &amin, &amax);
		if (x->state != LG_GO_ALIVE && g->n > 1) {
			ADD("%u exited goroutine%s", per_parent, per_parent == 1 ? "" : "s");
			return;
		}
		if (g->n == 1)
			ADD("goroutine %" PRIu64, x->goid);
		else
			ADD("goroutines");
		ADD(" %s", x->start_func ? x->start_func : "?");
		if (f)
			ADD("%sstarted at %s:%u", sep, file_base(f->file), f->line);
		else if (x->preexisting)
			ADD("%sstarted before attach", sep);
		fmt_duration(a1, sizeof(a1), amin);
		fmt_duration(a2, sizeof(a2), amax);
		if (x->state != LG_GO_ALIVE)
			ADD("%sexited", sep);
		else if (x->preexisting)
			/* the runtime keeps no start time: what is known is attach */
			ADD("%salive since before attach (at least %s)", sep, a1);
		else if (amin == amax)
			ADD("%salive %s", sep, a1);
		else
			ADD("%salive %s-%s", sep, a1, a2);
		if (s->has_gmem[g->m[0]])
			len = describe_memory(s, g, buf, size, len, sep);
		if (s->gleak[g->m[0]])
			ADD("%sLEAK: outlived its context", sep);
	} else {
		const struct lg_ctx *x = &s->c[g->m[0]];
		const struct ct_frame *f = graph_site(x->stack);

		age_range(s, g, AGE_CREATED, &amin, &amax);
		ADD("%s", ctx_kind_name(x->kind));
		if (x->kind == CTX_CUSTOM && x->type_name)
			ADD(" %s", x->type_name);
		if (f)
			ADD(" %s%s%s:%u", f->func ? f->func : "?", sep, file_base(f->file), f->line);
		else if (x->preexisting)
			ADD(" (before attach)");
		if (g->n == 1)
			ADD(" [0x%" PRIx64 "]", x->id);
		if (x->kind == CTX_BACKGROUND || x->kind == CTX_TODO) {
			/* roots: no state worth printing */
		} else if (x->state == LG_CTX_LIVE) {
			fmt_duration(a1, sizeof(a1), amin);
			fmt_duration(a2, sizeof(a2), amax);
			ADD("%slive, age %s", sep, a1);
			if (amin != amax)
				ADD("-%s", a2);
		} else {
			uint64_t cmin, cmax;

			age_range(s, g, AGE_CANCELLED, &cmin, &cmax);
			fmt_duration(a1, sizeof(a1), cmin);
			fmt_duration(a2, sizeof(a2), cmax);
			if (cmin == cmax)
				ADD("%scancelled (%s) %s ago", sep, cancel_reason_name(x->reason), a1);
			else
				ADD("%scancelled (%s) %s-%s ago", sep, cancel_reason_name(x->reason), a1, a2);
			if (x->kind != CTX_VALUE && !x->cancel_called && x->reason != CANCEL_EXPLICIT)
				ADD(", cancel never called");
		}
		if (s->cleak[g->m[0]])
			ADD("%sLEAK: goroutines outlived it", sep);
	}
	if (per_parent > 1)
		ADD("%sx%u", sep, per_parent);
#undef ADD
}

int fold__roots(const struct fold *s, struct groups *gs)
{
	uint32_t *r = malloc((s->nc + 1) * sizeof(*r)), n = 0;
	int err = 0;

	memset(gs, 0, sizeof(*gs));
	if (!r)
		return -ENOMEM;
	for (uint32_t i = 0; i < s->nc; i++)
		if (fold__ctx_pos(s, s->c[i].parent) < 0)
			r[n++] = i;
	qsort_r(r, n, sizeof(*r), fold__by_created, (void *)s);
	for (uint32_t i = 0; i < n && !err; i++)
		err = groups_add(gs, false, s->csig[r[i]], r[i]);
	free(r);
	return err;
}

int fold__unbound(const struct fold *s, struct groups *gs, bool alive)
{
	int err = 0;

	memset(gs, 0, sizeof(*gs));
	for (uint32_t i = 0; i < s->ng && !err; i++)
		if (s->bound[i] < 0 && (s->g[i].state == LG_GO_ALIVE) == alive)
			err = groups_add(gs, true, s->gsig[i], i);
	return err;
}

