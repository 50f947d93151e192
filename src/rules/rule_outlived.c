/* outlived-context and unreachable-cancel: goroutines started (by the user's go
 * statement) in the scope of a context that was cancelled more than --grace ago
 * and still alive.
 *
 * The context a goroutine belongs to is the innermost one of its start scope
 * (lineage.h, LG_SCOPE_START): the newest live context its parent held at the go
 * statement. A WithoutCancel-derived or a new root context is innermost when it
 * was made right before the go statement, so detached work is not reported here.
 * A goroutine that asked Done() of a context still live, that existed before it
 * started and that it did not create itself, was handed a longer-lived context on
 * purpose: not reported either.
 *
 * Where it is now decides the rule: in a system call, a cgo call or a network
 * wait (netpoll's "IO wait") cancellation cannot reach it: unreachable-cancel;
 * parked on a Go primitive or running: outlived-context. Goroutines the standard
 * library starts (net/http connection loops, database/sql openers, timers) are
 * pools by design and never reported. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "graph/lineage.h"
#include "rules/rules_int.h"

static bool bound_elsewhere(const struct lineage *lg, const struct lg_go *g)
{
	struct lg_ctx done[LINEAGE_DONE_MAX];
	int n = lineage__go_done(lg, g->goid, done, LINEAGE_DONE_MAX);

	for (int i = 0; i < n; i++) {
		if (done[i].state == LG_CTX_LIVE && done[i].created_ns <= g->created_ns &&
		    done[i].creator_goid != g->goid)
			return true;
	}
	return false;
}

void rule_outlived_go(struct rules *r, const struct lineage *lg, const struct lg_go *g, uint64_t now)
{
	const struct ct_frame *go_site = site_go(g->go_site);
	struct rules_gstate gs;
	struct lg_ctx sc;
	struct group *gr;
	enum rule_id rule = RULE_OUTLIVED_CONTEXT;
	bool have;
	int err;

	if (!go_site || lineage__go_scope(lg, g->goid, LG_SCOPE_START, &sc, 1) != 1)
		return;
	if (sc.state != LG_CTX_CANCELLED || sc.cancelled_ns + r->o.grace_ns > now)
		return;
	if (bound_elsewhere(lg, g))
		return;
	err = rules_read_gstate(r, g->goid, &gs);
	if (err == -ENOENT)
		return; /* exited; its exit event is on its way */
	have = err == 0;
	/* its exit may be in a lost record: only memory can say it is alive */
	if (!have && rules_in_doubt(r, g->created_ns, now, true)) {
		r->st.unconfirmed++;
		return;
	}
	if (have && (gs.status == RULES_G_SYSCALL ||
		     (gs.status == RULES_G_WAITING && gs.wait_reason && !strcmp(gs.wait_reason, "IO wait"))))
		rule = RULE_UNREACHABLE_CANCEL;
	gr = group_get(r, rule, site_ctx_display(sc.stack), go_site, NULL);
	if (!gr)
		return;
	gr->now++;
	if (!hmap__find(&r->outlived, hmap_key(g->goid), NULL, NULL))
		(void)hmap__add(&r->outlived, hmap_key(g->goid), g->goid); /* -ENOMEM: the graph shows no verdict */
	range_add(&gr->a.outlived_min_ns, &gr->a.outlived_max_ns, now - sc.cancelled_ns);
	group_add_block(gr, &gs, have);
	if (!gr->detail_set) {
		alert_ctx_fill(r, &gr->a.ctx, &sc);
		gr->a.go_site = g->go_site;
		gr->a.start_func = g->start_func;
		gr->detail_set = true;
	}
}

void fmt_range(char *buf, size_t size, uint64_t lo, uint64_t hi)
{
	char a[32], b[32];

	fmt_duration(a, sizeof(a), lo);
	fmt_duration(b, sizeof(b), hi);
	if (!strcmp(a, b))
		snprintf(buf, size, "%s", a);
	else
		snprintf(buf, size, "%s-%s", a, b);
}

void rule_outlived_message(struct alert *a)
{
	const struct ct_frame *gs = a->go_site && a->go_site->n ? &a->go_site->frames[0] : NULL;
	const struct alert_block *b = a->nblocks ? &a->blocks[0] : NULL;
	const struct ct_frame *cs = a->ctx.site;
	char where[200] = "", outl[64], how[96];
	const char *advice;

	if (b && b->site)
		snprintf(where, sizeof(where), " at %s:%u", file_base(b->site->file), b->site->line);
	fmt_range(outl, sizeof(outl), a->outlived_min_ns, a->outlived_max_ns);
	if (a->rule == RULE_UNREACHABLE_CANCEL) {
		char dur[64] = "";

		if (a->syscall_max_ns)
			fmt_range(dur, sizeof(dur), a->syscall_min_ns, a->syscall_max_ns);
		else if (a->waiting_max_ns)
			fmt_range(dur, sizeof(dur), a->waiting_min_ns, a->waiting_max_ns);
		if (b && b->syscall)
			snprintf(how, sizeof(how), "blocked in %s %s%s%s", b->wait_reason, b->syscall,
				 *dur ? " for " : "", dur);
		else
			snprintf(how, sizeof(how), "blocked in %s%s%s", b ? b->wait_reason : "a system call",
				 *dur ? " for " : "", dur);
		if (b && !strcmp(b->wait_reason, "IO wait"))
			advice = "set a deadline on the connection or close it when ctx.Done() is closed";
		else if (b && !strcmp(b->wait_reason, "cgo call"))
			advice = "give the C code a way to stop (a timeout, or a wake-up when ctx.Done() is closed)";
		else
			advice = "use a descriptor the runtime can poll (os.File, net.Conn with deadlines) "
				 "or close it when ctx.Done() is closed";
		snprintf(a->message, sizeof(a->message),
			 "%u goroutine%s started at %s:%u (%s) %s %s%s, where cancelling the context "
			 "from %s:%u (cancelled %s ago) cannot reach them: %s.",
			 a->count, PL(a->count), gs ? file_base(gs->file) : "?", gs ? gs->line : 0,
			 gs && gs->func ? gs->func : "?", ARE(a->count), how, where,
			 cs ? file_base(cs->file) : "?", cs ? cs->line : 0, outl, advice);
		return;
	}
	if (!b || !strcmp(b->wait_reason, "unknown"))
		snprintf(how, sizeof(how), "still alive");
	else if (!strcmp(b->wait_reason, "running") || !strcmp(b->wait_reason, "runnable"))
		snprintf(how, sizeof(how), "still %s", b->wait_reason);
	else
		snprintf(how, sizeof(how), "still blocked in %s", b->wait_reason);
	snprintf(a->message, sizeof(a->message),
		 "%u goroutine%s started at %s:%u (%s) %s %s%s %s after the context from %s:%u "
		 "was cancelled (%s): make them return when ctx.Done() is closed, with a select on it "
		 "beside the operation that blocks.",
		 a->count, PL(a->count), gs ? file_base(gs->file) : "?", gs ? gs->line : 0,
		 gs && gs->func ? gs->func : "?", ARE(a->count), how, where, outl, cs ? file_base(cs->file) : "?",
		 cs ? cs->line : 0, cancel_reason_name(a->ctx.reason));
}
