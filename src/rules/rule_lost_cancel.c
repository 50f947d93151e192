/* lost-cancel: contexts from one creation site whose cancel func is never called.
 *
 * - Expired: a WithDeadline/WithTimeout whose timer fired and whose cancel func
 *   was still not called --grace later. Counted once, when it crosses that line
 *   (so it counts even after the graph has let the context go).
 * - Live: never cancelled and older than --grace, with nobody left who could
 *   still call the cancel func, as far as the graph can tell:
 *     - no live goroutine started right after it, in its scope, holds it (see
 *       mark_holders), except goroutines whose latest Done() was this
 *       context's (they wait for it; they do not cancel it);
 *     - and its creator goroutine has exited, or made at least max(--min-count,
 *       LOST_LOOP_MIN) such contexts at the same site (a loop dropping them: they
 *       pile up in their parent).
 *   A context cancelled through its parent was released by the runtime and is
 *   not reported.
 * - Collected: never cancelled, and its address was reused by a new context (the
 *   GC freed it: nothing held its cancel func). Counted once, when seen.
 * A finding whose cancel may sit in a lost record or before every probe was live
 * (rules_in_doubt) is confirmed from memory (the context's err still nil) or
 * dropped; an expired or collected one cannot be confirmed any more: dropped.
 * Only contexts created directly by the user's code count: the frame that called
 * the context package holds the cancel func. Goroutines still waiting on a lost
 * context's Done are named in the alert. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/lineage.h"
#include "rules/rules_int.h"
#include "util/array.h"

static int cand_cmp(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	if (x->site_hash != y->site_hash)
		return x->site_hash < y->site_hash ? -1 : 1;
	return x->creator < y->creator ? -1 : x->creator > y->creator;
}

static int cand_push(struct rules *r, const struct cand *c)
{
	if (array_reserve(&r->cands, &r->cands_cap, r->ncands + 1, sizeof(*r->cands), 256))
		return -ENOMEM;
	r->cands[r->ncands++] = *c;
	return 0;
}

static uint64_t ref_hash(struct lg_ref ref)
{
	return hmap_hash((uint64_t)ref.gen << 32 | ref.idx);
}

struct ref_key {
	const struct rules *r;
	struct lg_ref ref;
};

static bool cand_eq(const void *cookie, uint64_t v)
{
	const struct ref_key *k = cookie;
	const struct cand *c = &k->r->cands[v];

	return c->ref.idx == k->ref.idx && c->ref.gen == k->ref.gen;
}

static int lost_map_build(struct rules *r)
{
	hmap__clear(&r->lost_map);
	if (hmap__reserve(&r->lost_map, r->ncands))
		return -ENOMEM;
	for (uint32_t i = 0; i < r->ncands; i++)
		hmap__add(&r->lost_map, ref_hash(r->cands[i].ref), i); /* reserved: cannot fail */
	return 0;
}

static struct cand *lost_find(const struct rules *r, struct lg_ref ref)
{
	struct ref_key k = { r, ref };
	const uint64_t *i = hmap__find(&r->lost_map, ref_hash(ref), cand_eq, &k);

	return i ? &r->cands[*i] : NULL;
}

/* d derives from c (c is d or one of its ancestors), as far as the graph knows. */
static bool derives_from(const struct lineage *lg, const struct lg_ctx *d, const struct lg_ctx *c)
{
	struct lg_ctx x = *d;

	for (int i = 0; i < 16; i++) {
		if (x.ref.idx == c->ref.idx && x.ref.gen == c->ref.gen)
			return true;
		if (!x.parent.gen || lineage__ctx_at(lg, x.parent, &x))
			return false;
	}
	return false;
}

/* Marks the candidates a live goroutine started in their scope may hold: those
 * it was started right after (every context inner to them in its start scope
 * derives from them: `ctx, cancel := ...; go f(ctx, cancel)`, possibly through
 * WithValue/WithTimeout(ctx)). A goroutine whose latest Done() is the context's
 * waits on it instead. Older siblings made by the same loop are not held. */
static void mark_holders(struct rules *r, const struct lineage *lg)
{
	struct lg_ctx sc[LINEAGE_SCOPE_MAX], last;
	struct lg_go g;
	uint32_t cur = 0;

	while (lineage__go_next_alive(lg, &cur, &g)) {
		bool have_last;
		int n;

		if (g.state != LG_GO_ALIVE || g.placeholder || g.preexisting ||
		    site_is_propagate_watcher(g.go_site, g.start_func))
			continue;
		n = lineage__go_scope(lg, g.goid, LG_SCOPE_START, sc, LINEAGE_SCOPE_MAX);
		if (n <= 0)
			continue;
		have_last = lineage__go_done(lg, g.goid, &last, 1) == 1;
		for (int i = 0; i < n; i++) {
			struct cand *cd = lost_find(r, sc[i].ref);
			bool inner_derived = true;

			for (int j = 0; j < i && inner_derived; j++)
				inner_derived = derives_from(lg, &sc[j], &sc[i]);
			if (!inner_derived)
				break; /* outer ones are older siblings' ancestors at best */
			if (!cd)
				continue;
			if (have_last && last.ref.idx == cd->ref.idx && last.ref.gen == cd->ref.gen)
				continue; /* waits on it */
			cd->held = true;
		}
	}
}

/* An unknown creator is taken as alive: not enough to call it lost; one the
 * graph no longer holds has exited long ago. Asked only when a site's loop does
 * not decide alone. */
static bool creator_alive(const struct lineage *lg, uint64_t goid)
{
	struct lg_go g;

	if (!goid)
		return true;
	return lineage__go(lg, goid, &g) == 0 && g.state == LG_GO_ALIVE;
}

/* A finished context the rule counts (expired: cum; collected uncancelled: gone),
 * unless a lost record or a gap between its creation and `until` could hide its
 * cancel: memory cannot tell any more. */
static void count_finished(struct rules *r, const struct lg_ctx *c, uint64_t until, bool gone)
{
	const struct ct_frame *site = site_creation(c->stack);
	struct group *g;

	if (!site)
		return;
	if (rules_in_doubt(r, c->created_ns, until, false)) {
		r->st.unconfirmed++;
		return;
	}
	g = group_get(r, RULE_LOST_CANCEL, site, NULL, NULL);
	if (!g)
		return;
	if (gone)
		g->gone++;
	else
		g->cum++;
	if (!g->detail_set) {
		alert_ctx_fill(r, &g->a.ctx, c);
		g->detail_set = true;
	}
}

/* One context of the tick's walks: counts it, or makes it a candidate. */
static int consider(struct rules *r, const struct lineage *lg, const struct lg_ctx *c, uint64_t now)
{
	const struct ct_frame *site;
	int err;

	if ((c->kind != CTX_CANCEL && c->kind != CTX_TIMER) || c->preexisting || c->discovered ||
	    c->placeholder || !c->stack)
		return 0;
	/* site_creation() walks the stack's names: only for contexts that can count
	 * (most are cancelled by their cancel func and skipped before it) */
	if (c->state == LG_CTX_CANCELLED) {
		uint64_t due = c->cancelled_ns + r->o.grace_ns;

		if (c->reason != CANCEL_DEADLINE || c->cancel_called || due > now)
			return 0;
		count_finished(r, c, due, false);
		return 0;
	}
	if (c->collected) {
		/* Never cancelled and its address reused: the GC freed it, so nothing
		 * held its cancel func any more. Counted once, when seen. */
		count_finished(r, c, c->collected_ns, true);
		return 0;
	}
	if (c->created_ns + r->o.grace_ns > now)
		return 0;
	site = site_creation(c->stack);
	if (!site)
		return 0;
	{
		struct cand cd = { .ref = c->ref, .site = site, .site_hash = frame_hash(site),
				   .creator = c->creator_goid, .created_ns = c->created_ns, .group = NONE32 };

		err = cand_push(r, &cd);
		if (err)
			return err;
	}
	return 0;
}

int rule_lost_cancel_tick(struct rules *r, const struct lineage *lg, uint64_t now)
{
	uint32_t loop_min = r->o.min_count > LOST_LOOP_MIN ? r->o.min_count : LOST_LOOP_MIN;
	struct lg_ctx c;
	uint32_t cur = 0;
	uint64_t seq;
	int err;

	r->ncands = 0;
	/* Open contexts, and the finished ones each once, where the last tick
	 * stopped: not every context the graph keeps for history. */
	while (lineage__ctx_next_open(lg, &cur, &c)) {
		err = consider(r, lg, &c, now);
		if (err)
			return err;
	}
	while (lineage__ctx_finished_next(lg, &r->fin_seq_collected, &c)) {
		if (c.state == LG_CTX_CANCELLED)
			continue;
		err = consider(r, lg, &c, now);
		if (err)
			return err;
	}
	for (seq = r->fin_seq_deadline; lineage__ctx_finished_next(lg, &seq, &c); r->fin_seq_deadline = seq) {
		/* in finish order: the rest are due later */
		if ((c.state == LG_CTX_CANCELLED ? c.cancelled_ns : c.collected_ns) + r->o.grace_ns > now)
			break;
		if (c.state != LG_CTX_CANCELLED)
			continue;
		err = consider(r, lg, &c, now);
		if (err)
			return err;
	}
	if (!r->ncands)
		return 0;
	qsort(r->cands, r->ncands, sizeof(*r->cands), cand_cmp);
	err = lost_map_build(r);
	if (err)
		return err;
	mark_holders(r, lg);
	for (uint32_t i = 0; i < r->ncands;) {
		uint32_t j = i, unheld = 0;
		int alive = -1; /* the group's creator: asked once, when needed */

		while (j < r->ncands && r->cands[j].site_hash == r->cands[i].site_hash &&
		       r->cands[j].creator == r->cands[i].creator)
			unheld += !r->cands[j++].held;
		for (uint32_t k = i; k < j; k++) {
			struct cand *cd = &r->cands[k];
			struct group *g;

			if (cd->held)
				continue;
			if (unheld < loop_min && alive < 0)
				alive = creator_alive(lg, cd->creator);
			cd->accepted = unheld >= loop_min || !alive;
			if (!cd->accepted)
				continue;
			if (rules_in_doubt(r, cd->created_ns, now, false) && lineage__ctx_at(lg, cd->ref, &c) == 0) {
				if (!rules_confirm_uncancelled(r, &c)) {
					cd->accepted = false;
					r->st.unconfirmed++;
					continue;
				}
				r->st.confirmed++;
			}
			g = group_get(r, RULE_LOST_CANCEL, cd->site, NULL, NULL);
			if (!g) {
				cd->accepted = false;
				continue;
			}
			cd->group = group_index(r, g);
			g->now++;
			if (!g->detail_set && lineage__ctx_at(lg, cd->ref, &c) == 0) {
				alert_ctx_fill(r, &g->a.ctx, &c);
				g->detail_set = true;
			}
		}
		i = j;
	}
	return 0;
}

void rule_lost_cancel_waiter(struct rules *r, const struct lineage *lg, const struct lg_go *g)
{
	struct lg_ctx done[LINEAGE_DONE_MAX];
	int n;

	if (!r->ncands)
		return;
	n = lineage__go_done(lg, g->goid, done, LINEAGE_DONE_MAX);
	for (int i = 0; i < n; i++) {
		const struct cand *cd = lost_find(r, done[i].ref);
		struct group *gr;
		struct rules_gstate gs;
		bool have;
		const struct ct_frame *go_site;
		struct alert_waiter *w = NULL;

		if (!cd || !cd->accepted)
			continue;
		gr = &r->groups[cd->group];
		gr->a.nwaiters_total++;
		have = rules_read_gstate(r, g->goid, &gs) == 0;
		go_site = site_first_user(g->go_site);
		if (!go_site && g->go_site && g->go_site->n)
			go_site = &g->go_site->frames[0];
		for (int k = 0; k < gr->a.nwaiters; k++) {
			struct alert_waiter *x = &gr->a.waiters[k];

			if (frame_equal(x->go_site, go_site) &&
			    frame_equal(x->block.site, have ? site_first_user(gs.stack) : NULL)) {
				w = x;
				break;
			}
		}
		if (!w && gr->a.nwaiters < ALERT_MAX_WAITERS) {
			w = &gr->a.waiters[gr->a.nwaiters++];
			memset(w, 0, sizeof(*w));
			w->go_site = go_site;
			w->start_func = g->start_func;
			w->block.site = have ? site_first_user(gs.stack) : NULL;
			w->block.stack = have ? gs.stack : NULL;
			w->block.wait_reason = have && gs.status == RULES_G_WAITING ? gs.wait_reason : NULL;
		}
		if (w)
			w->block.count++;
		return; /* a goroutine counts once */
	}
}

/* The context function the user called: the outermost context frame before the site. */
static const char *ctx_api(const struct alert_ctx *c)
{
	const char *api = NULL;

	if (!c->stack)
		return NULL;
	for (uint32_t i = 0; i < c->stack->n; i++) {
		const struct ct_frame *f = &c->stack->frames[i];

		if (f == c->site)
			break;
		if (f->func && func_in_pkg(f->func, "context"))
			api = f->func;
	}
	return api;
}

void rule_lost_cancel_message(struct alert *a)
{
	const struct ct_frame *s = a->ctx.site;
	const char *api = ctx_api(&a->ctx);
	char waiters[160] = "";
	char state[160];

	if (a->nwaiters_total && a->nwaiters > 0) {
		const struct alert_waiter *w = &a->waiters[0];

		if (w->block.site)
			snprintf(waiters, sizeof(waiters), "; %u goroutine%s wait%s on their Done, e.g. at %s:%u",
				 a->nwaiters_total, PL(a->nwaiters_total), a->nwaiters_total == 1 ? "s" : "", file_base(w->block.site->file), w->block.site->line);
		else
			snprintf(waiters, sizeof(waiters), "; %u goroutine%s wait%s on their Done",
				 a->nwaiters_total, PL(a->nwaiters_total), a->nwaiters_total == 1 ? "s" : "");
	}
	{
		/* say only what is known: never cancelled so far (a context whose memory
		 * was freed but not reused yet is not known to be gone), expired by its
		 * deadline, or collected (its address was reused) */
		char parts[3][48];
		int np = 0;

		if (a->live)
			snprintf(parts[np++], sizeof(parts[0]), "%u not cancelled so far", a->live);
		if (a->expired)
			snprintf(parts[np++], sizeof(parts[0]), "%u expired by deadline", a->expired);
		if (a->collected)
			snprintf(parts[np++], sizeof(parts[0]), "%u collected by the GC", a->collected);
		if (np == 1 && a->live)
			snprintf(state, sizeof(state), "%s so far", a->count == 1 ? "not cancelled" : "none cancelled");
		else if (np == 1 && a->expired)
			snprintf(state, sizeof(state), "they expired by deadline");
		else if (np == 1)
			snprintf(state, sizeof(state), "%s since been collected by the GC",
				 a->count == 1 ? "it has" : "all have");
		else
			snprintf(state, sizeof(state), "%s, %s%s%s", parts[0], parts[1], np > 2 ? ", " : "",
				 np > 2 ? parts[2] : "");
	}
	snprintf(a->message, sizeof(a->message),
		 "%u context%s created by %s at %s:%u in %s %s never cancelled by %s cancel func "
		 "(%s%s): call cancel on every path, e.g. defer cancel() right after creating it.",
		 a->count, PL(a->count), api ? api : "context", s ? file_base(s->file) : "?", s ? s->line : 0,
		 s && s->func ? s->func : "?", a->count == 1 ? "was" : "were", a->count == 1 ? "its" : "their",
		 state, waiters);
}
