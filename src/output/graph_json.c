/* The whole graph as JSON (docs/graph.md). */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "events/event.h"
#include "graph/lineage.h"
#include "output/graph_fold.h"
#include "output/graph_out.h"
#include "rules/memjudge.h"
#include "util/json.h"
#include "util/stack.h"

#define SCOPE_OUT 16

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

static void j_time(struct json_w *w, const struct fold *s, const char *key, uint64_t mono)
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

/* A goroutine id; null for 0 (none, or unknown). */
static void j_goid(struct json_w *w, const char *key, uint64_t goid)
{
	json_w__key(w, key);
	if (goid)
		json_w__uint(w, goid);
	else
		json_w__null(w);
}

static int by_creator(const void *a, const void *b, void *cookie)
{
	const struct fold *sn = cookie;
	const struct lg_ctx *x = &sn->c[*(const uint32_t *)a], *y = &sn->c[*(const uint32_t *)b];

	if (x->creator_goid != y->creator_goid)
		return x->creator_goid < y->creator_goid ? -1 : 1;
	return fold__by_created(a, b, cookie);
}

/* "memory": what the memory judgement read of a goroutine that existed at
 * attach (docs/graph.md), null when nothing was read. */
static void j_memory(struct json_w *w, const struct fold *s, uint32_t i)
{
	const struct memjudge_go *m = &s->gmem[i];

	json_w__key(w, "memory");
	if (!s->has_gmem[i]) {
		json_w__null(w);
		return;
	}
	json_w__obj_open(w);
	json_w__kv_str(w, "wait_reason", m->wait);
	ct_frame__kv_json(w, "blocked_at", m->block_site);
	ct_stack__kv_json(w, "stack", m->stack);
	if (m->waiting_ns) {
		json_w__kv_uint(w, "waiting_ns", m->waiting_ns);
		json_w__kv_str(w, "waiting_from", "waitsince");
	} else {
		json_w__kv_uint(w, "waiting_ns", fold__age(s, s->g[i].created_ns));
		json_w__kv_str(w, "waiting_from", "attach");
	}
	json_w__kv_bool(w, "leaked_by_runtime", m->leaked);
	json_w__kv_uint(w, "contexts_held", m->contexts_held);
	json_w__kv_bool(w, "waits_on_done", m->waits_on_done);
	json_w__key(w, "cancelled_context");
	if (m->ctx.known) {
		json_w__obj_open(w);
		json_w__kv_hex(w, "id", m->ctx.id);
		json_w__kv_str(w, "kind", ctx_kind_name(m->ctx.kind));
		json_w__kv_str(w, "type", m->ctx.type_name);
		json_w__kv_str(w, "err", m->ctx.err);
		json_w__kv_str(w, "cause", m->ctx.cause);
		if (m->ctx.has_deadline)
			json_w__kv_int(w, "deadline_unix_ns", m->ctx.deadline_unix_ns);
		json_w__kv_str(w, "tie", "held");
		json_w__obj_close(w);
	} else if (m->ancestry.known) {
		json_w__obj_open(w);
		json_w__kv_hex(w, "id", m->ancestry.id);
		json_w__kv_str(w, "kind", ctx_kind_name(m->ancestry.kind));
		json_w__kv_str(w, "type", m->ancestry.type_name);
		json_w__kv_str(w, "err", m->ancestry.err);
		json_w__kv_str(w, "cause", m->ancestry.cause);
		if (m->ancestry.has_deadline)
			json_w__kv_int(w, "deadline_unix_ns", m->ancestry.deadline_unix_ns);
		json_w__kv_str(w, "tie", "ancestry");
		json_w__kv_uint(w, "parent_goid", m->ancestry_parent);
		json_w__obj_close(w);
	} else {
		json_w__null(w);
	}
	json_w__kv_str(w, "rule", m->rule != RULE_MAX ? rule_name(m->rule) : NULL);
	json_w__kv_bool(w, "reported", m->rule != RULE_MAX && m->alerted);
	json_w__obj_close(w);
}

int graph_json__write(struct fold *s, FILE *out)
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
		ct_frame__kv_json(w, "created_at", graph_site(x->stack));
		ct_stack__kv_json(w, "created_stack", x->stack);
		j_goid(w, "created_by", x->creator_goid);
		json_w__kv_uint(w, "created_ns", x->created_ns);
		j_time(w, s, "created_time", x->created_ns);
		json_w__kv_uint(w, "age_ns", fold__age(s, x->created_ns));
		if (x->state == LG_CTX_CANCELLED) {
			json_w__kv_uint(w, "cancelled_ns", x->cancelled_ns);
			j_time(w, s, "cancelled_time", x->cancelled_ns);
			if (x->canceller_goid)
				json_w__kv_uint(w, "cancelled_by", x->canceller_goid);
			ct_frame__kv_json(w, "cancelled_at", graph_site(x->cancel_stack));
			ct_stack__kv_json(w, "cancel_stack", x->cancel_stack);
		}
		if (x->has_deadline) {
			json_w__kv_int(w, "deadline_unix_ns", x->deadline_unix_ns);
			j_unix(w, "deadline", x->deadline_unix_ns);
		}
		json_w__kv_bool(w, "cancel_called", x->cancel_called);
		json_w__kv_bool(w, "collected", x->collected);
		json_w__kv_bool(w, "preexisting", x->preexisting);
		json_w__kv_bool(w, "discovered", x->discovered);
		json_w__kv_bool(w, "placeholder", x->placeholder);
		json_w__kv_bool(w, "leaking", s->cout[bycr[k]]);
		json_w__kv_bool(w, "marked_leak", s->cleak[bycr[k]]);
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
		j_goid(w, "parent_goid", x->parent_goid);
		ct_frame__kv_json(w, "created_at", f);
		ct_stack__kv_json(w, "go_stack", x->go_site);
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
		json_w__kv_bool(w, "leaking", s->gout[i]);
		json_w__kv_bool(w, "marked_leak", s->gleak[i] || fold__mem_reported(s, i));
		j_memory(w, s, i);
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

