/* propagate-goroutine: for a context derived from a parent the context package
 * does not know (a user-defined Context type, without an AfterFunc method on Go
 * 1.21+), propagateCancel starts a goroutine that waits for either to be done.
 * They pile up while neither is cancelled. Counted per derive site: the watcher
 * is started right after its child context is created, by the same goroutine, so
 * the child is the innermost context of the watcher's start scope. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "graph/lineage.h"
#include "rules/rules_int.h"

void rule_propagate_go(struct rules *r, const struct lineage *lg, const struct lg_go *g, uint64_t now)
{
	struct lg_ctx child, parent;
	const struct ct_frame *site = NULL;
	bool have_child, have_parent = false;
	struct group *gr;

	struct rules_gstate gs;
	int err;

	if (g->created_ns + r->o.grace_ns > now)
		return;
	/* alive in memory, or at least not in doubt: its exit may be in a lost record */
	err = rules_read_gstate(r, g->goid, &gs);
	if (err == -ENOENT)
		return;
	if (err && rules_in_doubt(r, g->created_ns, now, true)) {
		r->st.unconfirmed++;
		return;
	}
	have_child = lineage__go_scope(lg, g->goid, LG_SCOPE_START, &child, 1) == 1;
	if (have_child) {
		site = site_ctx_display(child.stack);
		have_parent = child.parent.gen && lineage__ctx_at(lg, child.parent, &parent) == 0;
		if (have_parent && parent.kind == CTX_VALUE)
			have_parent = lineage__ctx_ancestor(lg, parent.ref, &parent) == 0;
	}
	gr = group_get(r, RULE_PROPAGATE_GOROUTINE, site, NULL, NULL);
	if (!gr)
		return;
	gr->now++;
	range_add(&gr->a.outlived_min_ns, &gr->a.outlived_max_ns, now - g->created_ns);
	if (!gr->detail_set) {
		if (have_child)
			alert_ctx_fill(r, &gr->a.ctx, &child);
		if (have_parent)
			alert_ctx_fill(r, &gr->a.scope, &parent);
		gr->a.go_site = g->go_site;
		gr->a.start_func = g->start_func;
		gr->detail_set = true;
	}
}

void rule_propagate_message(struct alert *a)
{
	const struct ct_frame *s = a->ctx.site;
	const char *type = a->scope.type_name ? a->scope.type_name : "a custom Context type";

	snprintf(a->message, sizeof(a->message),
		 "%u watcher goroutine%s of the context package %s alive for contexts derived at %s:%u "
		 "(%s) from %s: cancel the derived contexts when done, or derive them from a context of "
		 "the context package (on Go 1.21+, an AfterFunc method on the type also avoids them).",
		 a->count, PL(a->count), ARE(a->count), s ? file_base(s->file) : "?", s ? s->line : 0, s && s->func ? s->func : "?", type);
}
