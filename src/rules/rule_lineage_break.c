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

/* Whether the function that created sc in this goroutine is still running where
 * the new root is made (cur): a context a returned callee made and leaked is not
 * the scope the caller works in. Both stacks share their outer frames while that
 * function runs, so its frame sits at the same depth from the outermost one.
 * Contexts inherited from the parent goroutine, or with a cut stack, count. */
static bool creator_active(const struct lg_ctx *sc, uint64_t goid, const struct ct_stack *cur)
{
	const struct ct_stack *st = sc->stack;
	uint32_t i;
	int64_t j;

	if (sc->creator_goid != goid || !complete(st) || !complete(cur))
		return true;
	for (i = 0; i < st->n; i++) {
		const char *f = st->frames[i].func;

		if (f && !func_in_pkg(f, "context") && !func_in_pkg(f, "runtime"))
			break;
	}
	if (i == st->n)
		return true;
	j = (int64_t)cur->n - (int64_t)(st->n - i);
	return j >= 0 && cur->frames[j].func && !strcmp(cur->frames[j].func, st->frames[i].func);
}

/* The innermost live context of goid's current scope other than skip (the new
 * one) whose creating function is still running at cur. */
static bool live_scope(const struct lineage *lg, uint64_t goid, uint64_t skip, const struct ct_stack *cur,
		       struct lg_ctx *out)
{
	struct lg_ctx sc[LINEAGE_SCOPE_MAX + 1];
	int n = lineage__go_scope(lg, goid, LG_SCOPE_NOW, sc, LINEAGE_SCOPE_MAX + 1);

	for (int i = 0; i < n; i++) {
		if (sc[i].id == skip || sc[i].kind == CTX_WITHOUTCANCEL || sc[i].state != LG_CTX_LIVE ||
		    !creator_active(&sc[i], goid, cur))
			continue;
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
	bool info;

	if (e->discovered || e->preexisting || !e->stack || !ev->goid)
		return 0;
	info = e->parent_kind == CTX_WITHOUTCANCEL;
	if (!info && e->parent_kind != CTX_BACKGROUND && e->parent_kind != CTX_TODO)
		return 0;
	site = site_creation(e->stack);
	if (!site)
		return 0;
	if (info) {
		if (!detached_from(lg, e->parent, &scope) && !live_scope(lg, ev->goid, e->id, e->stack, &scope))
			memset(&scope, 0, sizeof(scope));
	} else if (!live_scope(lg, ev->goid, e->id, e->stack, &scope)) {
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
	return pending_push(r, group_index(r, g), ev->ts_ns);
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
