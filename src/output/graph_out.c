/* Graph printers. tree, dot and svg show the same folded view: value contexts
 * folded into their children, goroutines under the context they are bound to,
 * identical sibling subtrees drawn once with a count. json is the full graph. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <graphviz/cgraph.h>
#include <graphviz/gvc.h>

#include "events/event.h"
#include "graph/lineage.h"
#include "output/graph_out.h"
#include "util/json.h"
#include "util/log.h"

#define DEPTH_MAX 64
#define SCOPE_OUT 16
#define TOOLTIP_IDS 64

struct snap {
	const struct lineage *lg;
	const struct graph_out_opts *o;
	uint64_t now;
	struct lg_ctx *c;
	struct lg_go *g;
	uint32_t nc, ng;
	int32_t *cpos, *gpos; /* node index -> position */
	uint32_t ncpos, ngpos;
	uint32_t *kid_off, *kids;   /* ctx -> raw ctx children, by creation time */
	uint32_t *bnd_off, *bnd;    /* ctx -> goroutines bound to it */
	int32_t *bound;             /* goroutine -> ctx position, -1 */
	bool *cleak, *gleak;
	uint64_t *csig, *gsig;
	uint32_t nleak;
	uint32_t drawn;             /* dot: nodes written */
	bool clipped;
};

int graph_format_parse(const char *s, enum graph_format *f)
{
	static const char *const names[] = { "tree", "json", "dot", "svg" };

	for (int i = 0; s && i < 4; i++) {
		if (!strcmp(s, names[i])) {
			*f = i;
			return 0;
		}
	}
	return -EINVAL;
}

const struct ct_frame *graph_site(const struct ct_stack *st)
{
	return ct_stack_user_frame(st);
}

static const char *base(const char *path)
{
	const char *s;

	if (!path)
		return "?";
	s = strrchr(path, '/');
	return s ? s + 1 : path;
}

/* ---- snapshot and analysis ---- */

static int32_t ctx_pos(const struct snap *s, struct lg_ref r)
{
	if (r.gen == 0 || r.idx >= s->ncpos)
		return -1;
	int32_t p = s->cpos[r.idx];

	return p >= 0 && s->c[p].ref.gen == r.gen ? p : -1;
}

static void snap_free(struct snap *s)
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
	free(s->csig);
	free(s->gsig);
}

static int by_created(const void *a, const void *b, void *cookie)
{
	const struct snap *sn = cookie;
	const struct lg_ctx *x = &sn->c[*(const uint32_t *)a], *y = &sn->c[*(const uint32_t *)b];

	if (x->created_ns != y->created_ns)
		return x->created_ns < y->created_ns ? -1 : 1;
	return x->ref.idx < y->ref.idx ? -1 : x->ref.idx > y->ref.idx;
}

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
	h *= 0xff51afd7ed558ccdULL;
	return h ^ (h >> 32);
}

static uint64_t str_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; s && *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ULL;
	return h;
}

static uint64_t site_hash(const struct ct_stack *st)
{
	const struct ct_frame *f = graph_site(st);

	if (!f)
		return 7;
	return mix(mix(str_hash(f->func), str_hash(f->file)), f->line);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Effective children: raw children with value contexts replaced by theirs. */
static int collect_kids(const struct snap *s, uint32_t p, uint32_t **out, uint32_t *n, uint32_t *cap, int depth)
{
	for (uint32_t k = s->kid_off[p]; k < s->kid_off[p + 1]; k++) {
		uint32_t ch = s->kids[k];

		if (s->c[ch].kind == CTX_VALUE && depth < DEPTH_MAX) {
			int err = collect_kids(s, ch, out, n, cap, depth + 1);

			if (err)
				return err;
			continue;
		}
		if (*n == *cap) {
			uint32_t ncap = *cap ? *cap * 2 : 16;
			uint32_t *nb = realloc(*out, ncap * sizeof(*nb));

			if (!nb)
				return -ENOMEM;
			*out = nb;
			*cap = ncap;
		}
		(*out)[(*n)++] = ch;
	}
	return 0;
}

/* Exited goroutines all look alike: a context shows how many, not which. */
#define EXITED_SIG 0xe71edULL

static uint64_t go_sig(const struct snap *s, uint32_t g)
{
	const struct lg_go *x = &s->g[g];

	if (x->state != LG_GO_ALIVE)
		return EXITED_SIG;
	return mix(mix(str_hash(x->start_func), site_hash(x->go_site)), s->gleak[g]);
}

/* Bottom-up signatures: equal signature = identical display subtree. */
static int ctx_sig(struct snap *s, uint32_t p, int depth)
{
	const struct lg_ctx *x = &s->c[p];
	uint32_t *kids = NULL, n = 0, cap = 0;
	uint64_t *ks = NULL, h;
	uint32_t nb = s->bnd_off[p + 1] - s->bnd_off[p];
	int err;

	h = mix(mix(mix(x->kind, str_hash(x->kind == CTX_CUSTOM ? x->type_name : NULL)), site_hash(x->stack)),
		mix(mix(x->state, x->reason), mix(x->cancel_called, s->cleak[p] | x->placeholder << 1)));
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
		h = mix(h, ks[i]);
	s->csig[p] = h;
cleanup:
	free(kids);
	free(ks);
	return err;
}

static int snap_build(struct snap *s, const struct lineage *lg, const struct graph_out_opts *o)
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
	s->csig = calloc(s->nc + 1, sizeof(*s->csig));
	s->gsig = calloc(s->ng + 1, sizeof(*s->gsig));
	fill = calloc(s->nc + 1, sizeof(*fill));
	if (!s->cpos || !s->gpos || !s->kid_off || !s->kids || !s->bnd_off || !s->bnd || !s->bound ||
	    !s->cleak || !s->gleak || !s->csig || !s->gsig || !fill)
		goto cleanup;
	memset(s->cpos, 0xff, (s->ncpos + 1) * sizeof(*s->cpos));
	memset(s->gpos, 0xff, (s->ngpos + 1) * sizeof(*s->gpos));
	for (i = 0; i < s->nc; i++)
		s->cpos[s->c[i].ref.idx] = i;
	for (i = 0; i < s->ng; i++)
		s->gpos[s->g[i].ref.idx] = i;

	/* children, CSR, sorted by creation */
	for (i = 0; i < s->nc; i++) {
		int32_t p = ctx_pos(s, s->c[i].parent);

		if (p >= 0)
			s->kid_off[p + 1]++;
	}
	for (i = 0; i < s->nc; i++)
		s->kid_off[i + 1] += s->kid_off[i];
	for (i = 0; i < s->nc; i++) {
		int32_t p = ctx_pos(s, s->c[i].parent);

		if (p >= 0)
			s->kids[s->kid_off[p] + fill[p]++] = i;
	}
	for (i = 0; i < s->nc; i++)
		qsort_r(s->kids + s->kid_off[i], s->kid_off[i + 1] - s->kid_off[i], sizeof(*s->kids), by_created, s);

	/* bound context of each goroutine. A live goroutine bound to a cancelled
	 * context that existed when it started is leaking: it outlived the context
	 * it was started under. One that merely asked Done() of a newer context
	 * (main, a pool worker) is not: it was not that context's to begin with. */
	for (i = 0; i < s->ng; i++) {
		struct lg_ctx b;

		s->bound[i] = -1;
		if (lineage__go_bound(lg, s->g[i].goid, &b) == 0)
			s->bound[i] = ctx_pos(s, b.ref);
		if (s->bound[i] >= 0) {
			s->bnd_off[s->bound[i] + 1]++;
			if (s->g[i].state == LG_GO_ALIVE && s->c[s->bound[i]].state == LG_CTX_CANCELLED &&
			    s->c[s->bound[i]].created_ns < s->g[i].created_ns) {
				s->gleak[i] = true;
				if (!s->cleak[s->bound[i]])
					s->nleak++;
				s->cleak[s->bound[i]] = true;
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
		if (ctx_pos(s, s->c[i].parent) < 0) {
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

struct group {
	bool is_go;
	uint64_t sig;
	uint32_t *m; /* members: positions */
	uint32_t n, cap;
};

struct groups {
	struct group *v;
	uint32_t n, cap;
};

static void groups_free(struct groups *gs)
{
	for (uint32_t i = 0; i < gs->n; i++)
		free(gs->v[i].m);
	free(gs->v);
}

static int groups_add(struct groups *gs, bool is_go, uint64_t sig, uint32_t pos)
{
	struct group *g = NULL;

	for (uint32_t i = 0; i < gs->n; i++) {
		if (gs->v[i].is_go == is_go && gs->v[i].sig == sig) {
			g = &gs->v[i];
			break;
		}
	}
	if (!g) {
		if (gs->n == gs->cap) {
			uint32_t ncap = gs->cap ? gs->cap * 2 : 8;
			struct group *nv = realloc(gs->v, ncap * sizeof(*nv));

			if (!nv)
				return -ENOMEM;
			gs->v = nv;
			gs->cap = ncap;
		}
		g = &gs->v[gs->n++];
		memset(g, 0, sizeof(*g));
		g->is_go = is_go;
		g->sig = sig;
	}
	if (g->n == g->cap) {
		uint32_t ncap = g->cap ? g->cap * 2 : 4;
		uint32_t *nm = realloc(g->m, ncap * sizeof(*nm));

		if (!nm)
			return -ENOMEM;
		g->m = nm;
		g->cap = ncap;
	}
	g->m[g->n++] = pos;
	return 0;
}

/* The child groups of a group of identical contexts (members[] all alike). */
static int child_groups(const struct snap *s, const uint32_t *members, uint32_t nm, struct groups *gs)
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

static void fmt_dur(char *buf, size_t size, uint64_t ns)
{
	double v = (double)ns;

	if (ns < 1000000ULL)
		snprintf(buf, size, "%.0fus", v / 1e3);
	else if (ns < 1000000000ULL)
		snprintf(buf, size, "%.0fms", v / 1e6);
	else if (ns < 120ULL * 1000000000ULL)
		snprintf(buf, size, "%.1fs", v / 1e9);
	else if (ns < 7200ULL * 1000000000ULL)
		snprintf(buf, size, "%.1fm", v / 60e9);
	else
		snprintf(buf, size, "%.1fh", v / 3600e9);
}

static uint64_t age(const struct snap *s, uint64_t t)
{
	return s->now > t ? s->now - t : 0;
}

/* One line describing a group (no newline). sep separates parts: " " or "\n". */
static void describe(const struct snap *s, const struct group *g, uint32_t per_parent, char *buf, size_t size,
		     const char *sep)
{
	char a1[32], a2[32];
	size_t len = 0;
	uint64_t amin = UINT64_MAX, amax = 0;

#define ADD(...) (len += (size_t)snprintf(buf + len, len < size ? size - len : 0, __VA_ARGS__))
	if (g->is_go) {
		const struct lg_go *x = &s->g[g->m[0]];
		const struct ct_frame *f = graph_site(x->go_site);

		for (uint32_t i = 0; i < g->n; i++) {
			uint64_t a = age(s, s->g[g->m[i]].created_ns);

			amin = a < amin ? a : amin;
			amax = a > amax ? a : amax;
		}
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
			ADD("%sstarted at %s:%u", sep, base(f->file), f->line);
		else if (x->preexisting)
			ADD("%sstarted before attach", sep);
		if (x->state == LG_GO_ALIVE) {
			fmt_dur(a1, sizeof(a1), amin);
			fmt_dur(a2, sizeof(a2), amax);
			if (amin == amax)
				ADD("%salive %s", sep, a1);
			else
				ADD("%salive %s-%s", sep, a1, a2);
		} else {
			ADD("%sexited", sep);
		}
		if (s->gleak[g->m[0]])
			ADD("%sLEAK: outlived its context", sep);
	} else {
		const struct lg_ctx *x = &s->c[g->m[0]];
		const struct ct_frame *f = graph_site(x->stack);

		for (uint32_t i = 0; i < g->n; i++) {
			uint64_t a = age(s, s->c[g->m[i]].created_ns);

			amin = a < amin ? a : amin;
			amax = a > amax ? a : amax;
		}
		ADD("%s", ctx_kind_name(x->kind));
		if (x->kind == CTX_CUSTOM && x->type_name)
			ADD(" %s", x->type_name);
		if (f)
			ADD(" %s%s%s:%u", f->func ? f->func : "?", sep, base(f->file), f->line);
		else if (x->preexisting)
			ADD(" (before attach)");
		if (g->n == 1)
			ADD(" [0x%" PRIx64 "]", x->id);
		if (x->kind == CTX_BACKGROUND || x->kind == CTX_TODO) {
			/* roots: no state worth printing */
		} else if (x->state == LG_CTX_LIVE) {
			fmt_dur(a1, sizeof(a1), amin);
			fmt_dur(a2, sizeof(a2), amax);
			ADD("%slive, age %s", sep, a1);
			if (amin != amax)
				ADD("-%s", a2);
		} else {
			uint64_t cmin = UINT64_MAX, cmax = 0;

			for (uint32_t i = 0; i < g->n; i++) {
				uint64_t a = age(s, s->c[g->m[i]].cancelled_ns);

				cmin = a < cmin ? a : cmin;
				cmax = a > cmax ? a : cmax;
			}
			fmt_dur(a1, sizeof(a1), cmin);
			fmt_dur(a2, sizeof(a2), cmax);
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

/* ---- tree ---- */

struct tree_ctx {
	FILE *out;
	char prefix[4 * DEPTH_MAX + 8];
};

static int tree_groups(const struct snap *s, struct tree_ctx *t, struct groups *gs, uint32_t nparent, int depth);

static int tree_group(const struct snap *s, struct tree_ctx *t, const struct group *g, uint32_t per, bool last,
		      int depth)
{
	char line[1024];
	size_t plen = strlen(t->prefix);
	struct groups kids;
	int err;

	describe(s, g, per, line, sizeof(line), "  ");
	fprintf(t->out, "%s%s%s\n", t->prefix, depth == 0 ? "" : last ? "`-- " : "|-- ", line);
	if (g->is_go)
		return 0;
	if (depth >= DEPTH_MAX) {
		fprintf(t->out, "%s    ...\n", t->prefix);
		return 0;
	}
	err = child_groups(s, g->m, g->n, &kids);
	if (!err) {
		if (depth > 0)
			strcat(t->prefix, last ? "    " : "|   ");
		err = tree_groups(s, t, &kids, g->n, depth + 1);
		t->prefix[plen] = 0;
	}
	groups_free(&kids);
	return err;
}

static int tree_groups(const struct snap *s, struct tree_ctx *t, struct groups *gs, uint32_t nparent, int depth)
{
	uint32_t done = 0;

	/* goroutines first: they are what hangs off this context */
	for (int pass = 0; pass < 2; pass++) {
		for (uint32_t i = 0; i < gs->n; i++) {
			struct group *g = &gs->v[i];
			int err;

			if (g->is_go != (pass == 0))
				continue;
			done++;
			err = tree_group(s, t, g, nparent ? g->n / nparent : g->n, done == gs->n, depth);
			if (err)
				return err;
		}
	}
	return 0;
}

static int roots(const struct snap *s, struct groups *gs)
{
	uint32_t *r = malloc((s->nc + 1) * sizeof(*r)), n = 0;
	int err = 0;

	memset(gs, 0, sizeof(*gs));
	if (!r)
		return -ENOMEM;
	for (uint32_t i = 0; i < s->nc; i++)
		if (ctx_pos(s, s->c[i].parent) < 0)
			r[n++] = i;
	qsort_r(r, n, sizeof(*r), by_created, (void *)s);
	for (uint32_t i = 0; i < n && !err; i++)
		err = groups_add(gs, false, s->csig[r[i]], r[i]);
	free(r);
	return err;
}

static int unbound_groups(const struct snap *s, struct groups *gs, bool alive)
{
	int err = 0;

	memset(gs, 0, sizeof(*gs));
	for (uint32_t i = 0; i < s->ng && !err; i++)
		if (s->bound[i] < 0 && (s->g[i].state == LG_GO_ALIVE) == alive)
			err = groups_add(gs, true, s->gsig[i], i);
	return err;
}

static int write_tree(const struct snap *s, FILE *out)
{
	struct tree_ctx t = { .out = out };
	struct lineage_stats st;
	struct groups gs;
	char line[1024];
	int err;

	lineage__stats(s->lg, &st);
	if (s->o->pid)
		fprintf(out, "pid %u: ", s->o->pid);
	fprintf(out, "%" PRIu64 " contexts (%" PRIu64 " live, %" PRIu64 " cancelled), %" PRIu64
		     " goroutines (%" PRIu64 " alive, %" PRIu64 " exited)",
		st.ctx_live + st.ctx_cancelled, st.ctx_live, st.ctx_cancelled, st.go_alive + st.go_exited,
		st.go_alive, st.go_exited);
	if (s->nleak)
		fprintf(out, "; %u cancelled contexts with goroutines still running", s->nleak);
	fputc('\n', out);
	if (st.lost_records || st.evicted_cap || st.evicted_live)
		fprintf(out, "note: %" PRIu64 " records lost, %" PRIu64 " nodes evicted early (max nodes)\n",
			st.lost_records, st.evicted_cap + st.evicted_live);
	fputc('\n', out);
	err = roots(s, &gs);
	if (!err)
		err = tree_groups(s, &t, &gs, 1, 0);
	groups_free(&gs);
	if (err)
		return err;
	for (int alive = 1; alive >= 0; alive--) {
		err = unbound_groups(s, &gs, alive);
		if (!err && gs.n) {
			uint32_t total = 0;

			for (uint32_t i = 0; i < gs.n; i++)
				total += gs.v[i].n;
			fprintf(out, "\n%u %s goroutines in no context's scope%s\n", total, alive ? "alive" : "exited",
				alive ? ":" : "");
			for (uint32_t i = 0; alive && i < gs.n; i++) {
				describe(s, &gs.v[i], gs.v[i].n, line, sizeof(line), "  ");
				fprintf(out, "  %s\n", line);
			}
		}
		groups_free(&gs);
		if (err)
			return err;
	}
	return 0;
}

/* ---- dot ---- */

static void dot_str(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', out);
		if (*s == '\n') {
			fputs("\\n", out);
			continue;
		}
		if ((unsigned char)*s < 0x20)
			continue;
		fputc(*s, out);
	}
	fputc('"', out);
}

static void dot_node(const struct snap *s, FILE *out, const struct group *g, uint32_t per, const char *name)
{
	char label[1024], tip[TOOLTIP_IDS * 20 + 32];
	size_t len = 0;
	bool cancelled, leak;

	describe(s, g, per, label, sizeof(label), "\n");
	for (uint32_t i = 0; i < g->n && i < TOOLTIP_IDS; i++)
		len += (size_t)snprintf(tip + len, sizeof(tip) - len, g->is_go ? "%sgoroutine %" PRIu64 : "%s0x%" PRIx64,
					i ? " " : "", g->is_go ? s->g[g->m[i]].goid : s->c[g->m[i]].id);
	if (g->n > TOOLTIP_IDS)
		snprintf(tip + len, sizeof(tip) - len, " ...");
	if (g->is_go) {
		cancelled = s->g[g->m[0]].state != LG_GO_ALIVE;
		leak = s->gleak[g->m[0]];
	} else {
		cancelled = s->c[g->m[0]].state != LG_CTX_LIVE;
		leak = s->cleak[g->m[0]];
	}
	fprintf(out, "  %s [label=", name);
	dot_str(out, label);
	fprintf(out, ", tooltip=");
	dot_str(out, tip);
	fprintf(out, ", shape=%s", g->is_go ? "box" : "ellipse");
	if (leak)
		fprintf(out, ", color=red, fontcolor=red, penwidth=2%s", cancelled ? ", style=dashed" : "");
	else if (cancelled)
		fprintf(out, ", color=gray50, fontcolor=gray50, style=dashed");
	fprintf(out, "];\n");
}

static int dot_groups(const struct snap *s, FILE *out, struct groups *gs, uint32_t nparent, const char *parent,
		      int depth)
{
	for (uint32_t i = 0; i < gs->n; i++) {
		struct group *g = &gs->v[i];
		char name[32];
		struct groups kids;
		int err;

		if (s->drawn >= (s->o->max_nodes ? s->o->max_nodes : 2000)) {
			((struct snap *)s)->clipped = true;
			return 0;
		}
		snprintf(name, sizeof(name), "n%u", ((struct snap *)s)->drawn++);
		dot_node(s, out, g, nparent ? g->n / nparent : g->n, name);
		if (parent) {
			bool grey = g->is_go ? false : s->c[g->m[0]].state != LG_CTX_LIVE;

			fprintf(out, "  %s -> %s [%s%s];\n", parent, name, g->is_go ? "arrowhead=none, style=dotted" : "",
				grey ? "color=gray50, style=dashed" : "");
		}
		if (g->is_go || depth >= DEPTH_MAX)
			continue;
		err = child_groups(s, g->m, g->n, &kids);
		if (!err)
			err = dot_groups(s, out, &kids, g->n, name, depth + 1);
		groups_free(&kids);
		if (err)
			return err;
	}
	return 0;
}

static int write_dot(struct snap *s, FILE *out)
{
	struct groups gs;
	int err;

	fprintf(out, "digraph ctxtrace {\n  rankdir=LR;\n  node [fontname=\"Helvetica\", fontsize=10];\n"
		     "  edge [color=gray30];\n");
	if (s->o->pid)
		fprintf(out, "  label=\"context lineage of pid %u\";\n", s->o->pid);
	s->drawn = 0;
	err = roots(s, &gs);
	if (!err)
		err = dot_groups(s, out, &gs, 1, NULL, 0);
	groups_free(&gs);
	for (int alive = 1; !err && alive >= 0; alive--) {
		err = unbound_groups(s, &gs, alive);
		if (!err)
			err = dot_groups(s, out, &gs, 0, NULL, 0);
		groups_free(&gs);
	}
	if (s->clipped)
		fprintf(out, "  clipped [shape=note, label=\"more nodes not drawn (max %u)\"];\n",
			s->o->max_nodes ? s->o->max_nodes : 2000);
	fprintf(out, "}\n");
	return err;
}

static int write_svg(struct snap *s, FILE *out)
{
	char *dot = NULL, *svg = NULL;
	size_t dlen = 0;
	unsigned int slen = 0;
	FILE *m = open_memstream(&dot, &dlen);
	GVC_t *gvc = NULL;
	Agraph_t *g = NULL;
	int err;

	if (!m)
		return -ENOMEM;
	err = write_dot(s, m);
	if (fclose(m) && !err)
		err = -ENOMEM;
	if (err)
		goto cleanup;
	gvc = gvContext();
	if (!gvc) {
		err = -ENOMEM;
		ct_errmsg_set("cannot render svg: graphviz failed to start");
		goto cleanup;
	}
	g = agmemread(dot);
	if (!g) {
		err = -EINVAL;
		ct_errmsg_set("cannot render svg: graphviz could not read the graph");
		goto cleanup;
	}
	if (gvLayout(gvc, g, "dot") != 0) {
		err = -EINVAL;
		ct_errmsg_set("cannot render svg: graphviz layout failed (is the dot layout plugin installed?)");
		goto cleanup;
	}
	if (gvRenderData(gvc, g, "svg", &svg, &slen) != 0 || !svg) {
		err = -EINVAL;
		ct_errmsg_set("cannot render svg: graphviz has no svg renderer");
		gvFreeLayout(gvc, g);
		goto cleanup;
	}
	if (fwrite(svg, 1, slen, out) != slen)
		err = -EIO;
	gvFreeLayout(gvc, g);
cleanup:
	if (svg)
		gvFreeRenderData(svg);
	if (g)
		agclose(g);
	if (gvc)
		gvFreeContext(gvc);
	free(dot);
	return err;
}

/* ---- json ---- */

static void j_frame(struct json_w *w, const char *key, const struct ct_frame *f)
{
	json_w__key(w, key);
	if (!f) {
		json_w__null(w);
		return;
	}
	json_w__obj_open(w);
	json_w__kv_str(w, "func", f->func);
	json_w__kv_str(w, "file", f->file);
	json_w__kv_uint(w, "line", f->line);
	if (f->inlined)
		json_w__kv_bool(w, "inlined", true);
	json_w__obj_close(w);
}

static void j_stack(struct json_w *w, const char *key, const struct ct_stack *st)
{
	json_w__key(w, key);
	if (!st) {
		json_w__null(w);
		return;
	}
	json_w__arr_open(w);
	for (uint32_t i = 0; i < st->n; i++) {
		const struct ct_frame *f = &st->frames[i];

		json_w__obj_open(w);
		json_w__kv_str(w, "func", f->func);
		json_w__kv_str(w, "file", f->file);
		json_w__kv_uint(w, "line", f->line);
		if (f->inlined)
			json_w__kv_bool(w, "inlined", true);
		json_w__obj_close(w);
	}
	json_w__arr_close(w);
}

/* RFC 3339 UTC with nanoseconds. */
static void j_unix(struct json_w *w, const char *key, int64_t unix_ns)
{
	char buf[64], frac[16];
	struct tm tm;
	int64_t ns = unix_ns % 1000000000;
	time_t sec = (time_t)(unix_ns / 1000000000);

	if (ns < 0) {
		ns += 1000000000;
		sec--;
	}
	if (!gmtime_r(&sec, &tm))
		return;
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(frac, sizeof(frac), ".%09" PRId64 "Z", ns);
	strncat(buf, frac, sizeof(buf) - strlen(buf) - 1);
	json_w__kv_str(w, key, buf);
}

static void j_time(struct json_w *w, const struct snap *s, const char *key, uint64_t mono)
{
	if (!s->o->mono_to_real_ns || !mono)
		return;
	j_unix(w, key, (int64_t)mono + s->o->mono_to_real_ns);
}

static void j_id(struct json_w *w, const char *key, uint64_t id)
{
	if (id)
		json_w__kv_hex(w, key, id);
	else {
		json_w__key(w, key);
		json_w__null(w);
	}
}

static int by_creator(const void *a, const void *b, void *cookie)
{
	const struct snap *sn = cookie;
	const struct lg_ctx *x = &sn->c[*(const uint32_t *)a], *y = &sn->c[*(const uint32_t *)b];

	if (x->creator_goid != y->creator_goid)
		return x->creator_goid < y->creator_goid ? -1 : 1;
	return by_created(a, b, cookie);
}

static int write_json(struct snap *s, FILE *out)
{
	struct json_w *w = json_w__new(out, false);
	struct lineage_stats st;
	struct lg_ctx scope[SCOPE_OUT];
	uint32_t *bycr = malloc((s->nc + 1) * sizeof(*bycr));

	if (!w || !bycr) {
		json_w__free(w);
		free(bycr);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < s->nc; i++)
		bycr[i] = i;
	qsort_r(bycr, s->nc, sizeof(*bycr), by_creator, s);
	lineage__stats(s->lg, &st);
	json_w__obj_open(w);
	json_w__kv_str(w, "type", "graph");
	json_w__kv_int(w, "version", 1);
	if (s->o->pid)
		json_w__kv_uint(w, "pid", s->o->pid);
	json_w__kv_uint(w, "now_ns", s->now);
	j_time(w, s, "time", s->now);
	json_w__key(w, "stats");
	json_w__obj_open(w);
	json_w__kv_uint(w, "events", st.events);
	json_w__kv_uint(w, "contexts_live", st.ctx_live);
	json_w__kv_uint(w, "contexts_cancelled", st.ctx_cancelled);
	json_w__kv_uint(w, "goroutines_alive", st.go_alive);
	json_w__kv_uint(w, "goroutines_exited", st.go_exited);
	json_w__kv_uint(w, "evicted_retention", st.evicted_retention);
	json_w__kv_uint(w, "evicted_cap", st.evicted_cap + st.evicted_live);
	json_w__kv_uint(w, "replaced", st.replaced);
	json_w__kv_uint(w, "lost_records", st.lost_records);
	json_w__kv_bool(w, "target_exited", st.target_exited);
	json_w__obj_close(w);

	json_w__key(w, "contexts");
	json_w__arr_open(w);
	for (uint32_t k = 0; k < s->nc; k++) {
		const struct lg_ctx *x = &s->c[bycr[k]];
		struct lg_ctx anc;

		json_w__obj_open(w);
		json_w__kv_hex(w, "id", x->id);
		j_id(w, "parent", x->parent_id);
		json_w__kv_str(w, "parent_kind", x->parent_id ? ctx_kind_name(x->parent_kind) : NULL);
		j_id(w, "ancestor", lineage__ctx_ancestor(s->lg, x->ref, &anc) == 0 ? anc.id : 0);
		json_w__kv_str(w, "kind", ctx_kind_name(x->kind));
		json_w__kv_str(w, "type", x->type_name);
		json_w__kv_str(w, "state", x->state == LG_CTX_LIVE ? "live" : "cancelled");
		json_w__kv_str(w, "reason", x->state == LG_CTX_LIVE ? NULL : cancel_reason_name(x->reason));
		json_w__kv_str(w, "err", x->err);
		json_w__kv_str(w, "cause", x->cause);
		j_frame(w, "created_at", graph_site(x->stack));
		j_stack(w, "created_stack", x->stack);
		if (x->creator_goid)
			json_w__kv_uint(w, "created_by", x->creator_goid);
		else {
			json_w__key(w, "created_by");
			json_w__null(w);
		}
		json_w__kv_uint(w, "created_ns", x->created_ns);
		j_time(w, s, "created_time", x->created_ns);
		json_w__kv_uint(w, "age_ns", age(s, x->created_ns));
		if (x->state == LG_CTX_CANCELLED) {
			json_w__kv_uint(w, "cancelled_ns", x->cancelled_ns);
			j_time(w, s, "cancelled_time", x->cancelled_ns);
			if (x->canceller_goid)
				json_w__kv_uint(w, "cancelled_by", x->canceller_goid);
			j_frame(w, "cancelled_at", graph_site(x->cancel_stack));
			j_stack(w, "cancel_stack", x->cancel_stack);
		}
		if (x->has_deadline) {
			json_w__kv_int(w, "deadline_unix_ns", x->deadline_unix_ns);
			j_unix(w, "deadline", x->deadline_unix_ns);
		}
		json_w__kv_bool(w, "cancel_called", x->cancel_called);
		json_w__kv_bool(w, "preexisting", x->preexisting);
		json_w__kv_bool(w, "discovered", x->discovered);
		json_w__kv_bool(w, "placeholder", x->placeholder);
		json_w__kv_bool(w, "leaking", s->cleak[bycr[k]]);
		json_w__kv_uint(w, "children", x->nchildren);
		json_w__obj_close(w);
	}
	json_w__arr_close(w);

	json_w__key(w, "goroutines");
	json_w__arr_open(w);
	for (uint32_t i = 0; i < s->ng; i++) {
		const struct lg_go *x = &s->g[i];
		const struct ct_frame *f = graph_site(x->go_site);
		uint32_t lo = 0, hi = s->nc;
		int n;

		json_w__obj_open(w);
		json_w__kv_uint(w, "goid", x->goid);
		if (x->parent_goid)
			json_w__kv_uint(w, "parent_goid", x->parent_goid);
		else {
			json_w__key(w, "parent_goid");
			json_w__null(w);
		}
		j_frame(w, "created_at", f);
		j_stack(w, "go_stack", x->go_site);
		json_w__kv_str(w, "start_func", x->start_func);
		json_w__kv_str(w, "state", x->state == LG_GO_ALIVE ? "alive" : "exited");
		json_w__kv_uint(w, "created_ns", x->created_ns);
		j_time(w, s, "created_time", x->created_ns);
		if (x->state == LG_GO_EXITED) {
			json_w__kv_uint(w, "exited_ns", x->exited_ns);
			j_time(w, s, "exited_time", x->exited_ns);
		}
		json_w__kv_bool(w, "preexisting", x->preexisting);
		json_w__kv_bool(w, "placeholder", x->placeholder);
		json_w__kv_bool(w, "leaking", s->gleak[i]);
		/* contexts it created: binary search in the by-creator order */
		while (lo < hi) {
			uint32_t mid = (lo + hi) / 2;

			if (s->c[bycr[mid]].creator_goid < x->goid)
				lo = mid + 1;
			else
				hi = mid;
		}
		json_w__key(w, "contexts");
		json_w__arr_open(w);
		for (; lo < s->nc && s->c[bycr[lo]].creator_goid == x->goid; lo++)
			if (!s->c[bycr[lo]].discovered)
				json_w__hex(w, s->c[bycr[lo]].id);
		json_w__arr_close(w);
		n = lineage__go_scope(s->lg, x->goid, LG_SCOPE_START, scope, SCOPE_OUT);
		json_w__key(w, "scope");
		json_w__arr_open(w);
		for (int j = 0; j < n; j++)
			json_w__hex(w, scope[j].id);
		json_w__arr_close(w);
		n = lineage__go_done(s->lg, x->goid, scope, SCOPE_OUT);
		json_w__key(w, "done");
		json_w__arr_open(w);
		for (int j = 0; j < n; j++)
			json_w__hex(w, scope[j].id);
		json_w__arr_close(w);
		j_id(w, "bound", s->bound[i] >= 0 ? s->c[s->bound[i]].id : 0);
		json_w__obj_close(w);
	}
	json_w__arr_close(w);
	json_w__obj_close(w);
	fputc('\n', out);
	json_w__free(w);
	free(bycr);
	return 0;
}

int graph_out__write(const struct lineage *lg, const struct graph_out_opts *o, FILE *out)
{
	struct snap s;
	int err;

	err = snap_build(&s, lg, o);
	if (err) {
		ct_errmsg_set("cannot print the graph: out of memory");
		goto cleanup;
	}
	switch (o->format) {
	case GRAPH_TREE:
		err = write_tree(&s, out);
		break;
	case GRAPH_JSON:
		err = write_json(&s, out);
		break;
	case GRAPH_DOT:
		err = write_dot(&s, out);
		break;
	case GRAPH_SVG:
		err = write_svg(&s, out);
		break;
	default:
		err = -EINVAL;
	}
	if (err == -ENOMEM)
		ct_errmsg_set("cannot print the graph: out of memory");
	if (!err && (fflush(out) || ferror(out))) {
		err = -EIO;
		ct_errmsg_set("cannot write the graph: %s", strerror(errno));
	}
cleanup:
	snap_free(&s);
	return err;
}
