/* lineage-break: a new root context, derived from context.Background() or TODO(),
 * created by the user's code in a goroutine that runs in the scope of a live
 * context (lineage.h, LG_SCOPE_NOW): the live context's cancellation will never
 * reach the new root. Judged when the context is created, reported --grace later.
 *
 * A context derived from context.WithoutCancel(parent) (Go 1.21+) is a detachment
 * the code asked for: reported under the same rule at severity "info", as lineage
 * information, with the context it was detached from. */
#include <stdio.h>
#include <string.h>

#include "graph/lineage.h"
#include "rules/rules_int.h"

static bool complete(const struct ct_stack *st)
{
	return st && st->n && st->frames[st->n - 1].func &&
	       !strcmp(st->frames[st->n - 1].func, "runtime.goexit");
}

/* Index (innermost first) of the frame that called into the context package: the
 * first one outside packages context and runtime; -1 when there is none. */
static int64_t creator_frame(const struct ct_stack *st)
{
	for (uint32_t i = 0; i < st->n; i++) {
		const char *f = st->frames[i].func;

		if (f && !func_in_pkg(f, "context") && !func_in_pkg(f, "runtime"))
			return i;
	}
	return -1;
}

static bool frame_same_call(const struct ct_frame *a, const struct ct_frame *b)
{
	return a->func && b->func && !strcmp(a->func, b->func) && a->line == b->line &&
	       (a->file == b->file || (a->file && b->file && !strcmp(a->file, b->file)));
}

/* Whether sc is a context the code creating the new root (cur) runs in: the frame F
 * that created sc in this goroutine must be strictly a caller of the new root's
 * creator on the current stack. Stacks hold pcs only, so "the same frame" is
 * proved by the call path: F sits at the same depth from the outermost frame, is
 * the same function, and every frame outer to it is suspended at the same call
 * (same function and line) in both stacks; the new root's creator sits strictly
 * deeper than F. An earlier pass of a loop, an earlier call of the same function,
 * or a sibling made at the same depth is never a scope (it is not a caller), and
 * neither is a context made by a callee that has returned. Cut stacks (deeper
 * than the probe records) prove nothing: not a scope.
 *
 * What a pc stack cannot tell: F returned and was called again from the very same
 * call of the very same caller frames (a loop around F), and this call made no
 * context of its own while the earlier call leaked one (a lost-cancel, raised on
 * its own). docs/alerts.md says so.
 *
 * Contexts inherited from the goroutine's parent are its scope by the go
 * statement (docs/graph.md); contexts made by package testing (t.Context(), Go
 * 1.24+) are not a scope: see docs/alerts.md. */
static bool scope_of(const struct lg_ctx *sc, uint64_t goid, const struct ct_stack *cur)
{
	const struct ct_stack *st = sc->stack;
	const struct ct_frame *site = st ? site_ctx_display(st) : NULL;
	int64_t fi, gi, dF, dG;

	if (site && site->func && func_in_pkg(site->func, "testing"))
		return false;
	if (sc->creator_goid != goid)
		return true;
	if (!complete(st) || !complete(cur))
		return false;
	fi = creator_frame(st);
	gi = creator_frame(cur);
	if (fi < 0 || gi < 0)
		return false;
	dF = (int64_t)st->n - 1 - fi;  /* depth from the outermost frame (goexit: 0) */
	dG = (int64_t)cur->n - 1 - gi;
	if (dF >= dG)
		return false;
	for (int64_t d = 0; d < dF; d++) {
		if (!frame_same_call(&st->frames[st->n - 1 - d], &cur->frames[cur->n - 1 - d]))
			return false;
	}
	{
		const struct ct_frame *a = &st->frames[fi], *b = &cur->frames[cur->n - 1 - dF];

		return a->func && b->func && !strcmp(a->func, b->func);
	}
}

/* The innermost live context of goid's current scope other than skip (the new
 * one) that is a scope of the code at cur (scope_of). */
static bool live_scope(struct rules *r, const struct lineage *lg, uint64_t goid, uint64_t skip,
		       const struct ct_stack *cur, uint64_t now, struct lg_ctx *out, bool *confirmed)
{
	struct lg_ctx sc[LINEAGE_SCOPE_MAX + 1];
	int n = lineage__go_scope(lg, goid, LG_SCOPE_NOW, sc, LINEAGE_SCOPE_MAX + 1);

	for (int i = 0; i < n; i++) {
		if (sc[i].id == skip || sc[i].kind == CTX_WITHOUTCANCEL || sc[i].state != LG_CTX_LIVE ||
		    !scope_of(&sc[i], goid, cur))
			continue;
		/* live as far as the records tell: its cancel may be in a lost record */
		if (rules_in_doubt(r, sc[i].created_ns, now, false)) {
			if (!rules_confirm_uncancelled(r, &sc[i])) {
				r->st.unconfirmed++;
				continue;
			}
			r->st.confirmed++;
			*confirmed = true;
		}
		*out = sc[i];
		return true;
	}
	return false;
}

/* What a WithoutCancel context was detached from: its parent, value contexts folded. */
static bool detached_from(const struct lineage *lg, uint64_t wc_id, struct lg_ctx *out)
{
	struct lg_ctx wc;

	if (lineage__ctx(lg, wc_id, &wc) || !wc.parent.gen)
		return false;
	if (lineage__ctx_at(lg, wc.parent, out))
		return false;
	if (out->kind == CTX_VALUE)
		return lineage__ctx_ancestor(lg, out->ref, out) == 0;
	return true;
}

int rule_lineage_break_event(struct rules *r, const struct lineage *lg, const struct ct_event *ev)
{
	const struct ev_ctx_create *e = &ev->ctx_create;
	const struct ct_frame *site;
	struct lg_ctx scope, self;
	struct group *g;
	bool info, confirmed = false;

	if (e->discovered || e->preexisting || !e->stack || !ev->goid)
		return 0;
	info = e->parent_kind == CTX_WITHOUTCANCEL;
	if (!info && e->parent_kind != CTX_BACKGROUND && e->parent_kind != CTX_TODO)
		return 0;
	site = site_creation(e->stack);
	if (!site)
		return 0;
	if (info) {
		if (!detached_from(lg, e->parent, &scope) && !live_scope(r, lg, ev->goid, e->id, e->stack, ev->ts_ns, &scope, &confirmed))
			memset(&scope, 0, sizeof(scope));
	} else if (!live_scope(r, lg, ev->goid, e->id, e->stack, ev->ts_ns, &scope, &confirmed)) {
		return 0;
	}
	g = group_get(r, RULE_LINEAGE_BREAK, site, scope.stack ? site_ctx_display(scope.stack) : NULL, NULL);
	if (!g)
		return 0;
	g->severity = info ? SEV_INFO : SEV_WARNING;
	if (scope.stack || scope.id)
		alert_ctx_fill(r, &g->a.scope, &scope);
	if (e->id && lineage__ctx(lg, e->id, &self) == 0) {
		alert_ctx_fill(r, &g->a.ctx, &self);
	} else {
		memset(&g->a.ctx, 0, sizeof(g->a.ctx));
		g->a.ctx.known = true;
		g->a.ctx.id = e->id;
		g->a.ctx.kind = e->kind;
		g->a.ctx.type_name = e->type_name;
		g->a.ctx.parent_kind = e->parent_kind;
		g->a.ctx.stack = e->stack;
		g->a.ctx.site = site;
	}
	g->a.ctx.site = site;
	return pending_push(r, group_index(r, g), ev->ts_ns, info ? 0 : scope.created_ns, confirmed);
}

void rule_lineage_break_message(struct alert *a)
{
	const struct ct_frame *s = a->ctx.site, *p = a->scope.site;
	char scope[160];

	if (p)
		snprintf(scope, sizeof(scope), "the context from %s:%u (%s)", file_base(p->file), p->line,
			 p->func ? p->func : "?");
	else
		snprintf(scope, sizeof(scope), "a live context");
	if (a->severity == SEV_INFO) {
		snprintf(a->message, sizeof(a->message),
			 "%u context%s created at %s:%u (%s) %s detached from %s with context.WithoutCancel: "
			 "not cancelled with it, which is fine if that is the intent.",
			 a->count, PL(a->count), s ? file_base(s->file) : "?", s ? s->line : 0,
			 s && s->func ? s->func : "?", ARE(a->count), scope);
		return;
	}
	snprintf(a->message, sizeof(a->message),
		 "%u context%s created at %s:%u (%s) %s new roots from context.%s while the goroutine "
		 "runs in %s, whose cancellation will never reach them: derive from that context instead.",
		 a->count, PL(a->count), s ? file_base(s->file) : "?", s ? s->line : 0,
		 s && s->func ? s->func : "?", ARE(a->count),
		 a->ctx.parent_kind == CTX_TODO ? "TODO()" : "Background()", scope);
}
