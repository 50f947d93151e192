/* The daemon's status of its targets: JSON and text (see status.h). */
#include <inttypes.h>
#include <stdio.h>

#include "daemon/config.h"
#include "daemon/status.h"
#include "daemon/targets.h"
#include "util/json.h"
#include "util/settings.h"

void status__rules_json(struct json_w *w, const struct rule_cfg *r)
{
	char buf[64];

	json_w__key(w, "rules");
	json_w__obj_open(w);
	for (size_t i = 0; i < rule_settings_n; i++) {
		const struct setting *s = &rule_settings[i];

		settings__format(s, r, buf, sizeof(buf));
		if (s->type == SET_INT)
			json_w__kv_int(w, s->name, *(const int64_t *)((const char *)r + s->offset));
		else
			json_w__kv_str(w, s->name, buf);
	}
	json_w__obj_close(w);
}

void targets__write_status(const struct targets *ts, struct json_w *w)
{
	const struct config *cfg = targets__config(ts);
	struct target_view v;

	json_w__key(w, "targets");
	json_w__arr_open(w);
	for (const struct tgt *g = targets__next(ts, NULL, &v); g; g = targets__next(ts, g, &v)) {
		json_w__obj_open(w);
		json_w__kv_str(w, "target", v.name);
		json_w__kv_int(w, "pid", v.pid);
		json_w__kv_str(w, "exe", v.exe);
		json_w__kv_str(w, "attached", v.attached_at);
		status__rules_json(w, v.rules);
		json_w__kv_uint(w, "events", v.events);
		json_w__kv_uint(w, "contexts_created", v.ctx_created);
		json_w__kv_uint(w, "contexts_cancelled", v.ctx_cancelled);
		json_w__kv_uint(w, "goroutines", v.goroutines);
		if (v.has_graph) {
			json_w__kv_uint(w, "contexts_live", v.ctx_live);
			json_w__kv_uint(w, "contexts_cancelled_in_graph", v.ctx_cancelled_in_graph);
		}
		json_w__kv_uint(w, "alerts", v.alerts);
		json_w__kv_uint(w, "lost", v.lost);
		if (v.has_cost) {
			/* what tracing costs the target (docs/daemon.md) */
			json_w__key(w, "cost");
			json_w__obj_open(w);
			json_w__kv_str(w, "probes", v.cost.probes);
			if (v.has_probe_hits)
				json_w__kv_uint(w, "probe_hits", v.probe_hits);
			json_w__kv_double(w, "hits_per_second", v.cost.hits_per_s);
			json_w__kv_double(w, "trap_ns", v.cost.trap_ns);
			json_w__kv_double(w, "cpu_seconds_per_second", v.cost.cost_cpu);
			json_w__kv_double(w, "trap_cpu_seconds_per_second", v.cost.trap_cpu);
			json_w__kv_double(w, "ctxtrace_cpu_seconds_per_second", v.cost.self_cpu);
			json_w__kv_double(w, "target_cpu_seconds_per_second", v.cost.target_cpu);
			json_w__kv_double(w, "percent_of_target_cpu", v.cost.pct);
			json_w__kv_double(w, "full_percent", v.cost.full_pct);
			json_w__kv_uint(w, "max_overhead", v.cost.max_overhead);
			json_w__kv_bool(w, "sampling", v.cost.sampling);
			json_w__kv_double(w, "duty", v.cost.duty);
			json_w__obj_close(w);
		}
		json_w__obj_close(w);
	}
	json_w__arr_close(w);
	json_w__key(w, "selectors");
	json_w__arr_open(w);
	for (size_t i = 0; cfg && i < cfg->ntargets; i++) {
		const struct target_cfg *t = &cfg->targets[i];
		struct rule_cfg r;

		config__target_rules(cfg, t, &r);
		json_w__obj_open(w);
		json_w__kv_str(w, "target", t->name);
		if (t->exe)
			json_w__kv_str(w, "exe", t->exe);
		if (t->unit)
			json_w__kv_str(w, "unit", t->unit);
		if (t->pid)
			json_w__kv_int(w, "pid", t->pid);
		if (t->cgroup)
			json_w__kv_str(w, "cgroup", t->cgroup);
		if (t->container)
			json_w__kv_str(w, "container", t->container);
		status__rules_json(w, &r);
		json_w__obj_close(w);
	}
	json_w__arr_close(w);
}

void targets__write_status_text(const struct targets *ts, FILE *f)
{
	const struct config *cfg = targets__config(ts);
	struct target_view v;
	char grace[32], ret[32];
	int n = 0;

	for (const struct tgt *g = targets__next(ts, NULL, &v); g; g = targets__next(ts, g, &v))
		n++;
	fprintf(f, "%d target%s attached\n", n, n == 1 ? "" : "s");
	if (n)
		fprintf(f, "%-16s %8s %10s %10s %8s %8s %9s  %s\n", "TARGET", "PID", "CONTEXTS", "GOROUTINES", "ALERTS",
			"LOST", "COST", "EXE");
	for (const struct tgt *g = targets__next(ts, NULL, &v); g; g = targets__next(ts, g, &v)) {
		char cost[32] = "-";

		/* per cent of the target's CPU the probes cost; "~" while sampling */
		if (v.has_cost && v.cost.trap_ns > 0)
			snprintf(cost, sizeof(cost), "%s%.2f%%", v.cost.sampling ? "~" : "", v.cost.pct);
		fprintf(f, "%-16s %8d %10" PRIu64 " %10" PRIu64 " %8" PRIu64 " %8" PRIu64 " %9s  %s\n", v.name, v.pid,
			v.ctx_created, v.goroutines, v.alerts, v.lost, cost, v.exe);
	}
	fprintf(f, "selectors:\n");
	for (size_t i = 0; cfg && i < cfg->ntargets; i++) {
		const struct target_cfg *t = &cfg->targets[i];
		struct rule_cfg r;

		config__target_rules(cfg, t, &r);
		format_duration(grace, sizeof(grace), r.grace);
		format_duration(ret, sizeof(ret), r.retention);
		fprintf(f, "  [target %s]", t->name);
		if (t->exe)
			fprintf(f, " exe=%s", t->exe);
		if (t->unit)
			fprintf(f, " unit=%s", t->unit);
		if (t->pid)
			fprintf(f, " pid=%" PRId64, t->pid);
		if (t->cgroup)
			fprintf(f, " cgroup=%s", t->cgroup);
		if (t->container)
			fprintf(f, " container=%s", t->container);
		fprintf(f, " grace=%s min_count=%" PRId64 " retention=%s\n", grace, r.min_count, ret);
	}
}
