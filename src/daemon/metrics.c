#include <inttypes.h>
#include <math.h>

#include "daemon/metrics.h"
#include "daemon/targets.h"
#include "util/container.h"
#include "events/event.h"

static const struct metric_sink *sink;

void metrics__set_sink(const struct metric_sink *s)
{
	sink = s;
}

void prom__family(FILE *f, const char *name, const char *type, const char *help)
{
	if (sink)
		sink->family(sink->cookie, name, type, help);
	if (!f)
		return;
	fprintf(f, "# HELP %s ", name);
	/* HELP text escapes only backslash and newline. */
	for (const char *p = help; *p; p++) {
		if (*p == '\\')
			fputs("\\\\", f);
		else if (*p == '\n')
			fputs("\\n", f);
		else
			fputc(*p, f);
	}
	fprintf(f, "\n# TYPE %s %s\n", name, type);
}

static void labels_out(FILE *f, const struct prom_label *labels, int n)
{
	if (!n)
		return;
	fputc('{', f);
	for (int i = 0; i < n; i++) {
		fprintf(f, "%s%s=\"", i ? "," : "", labels[i].name);
		for (const unsigned char *p = (const unsigned char *)(labels[i].value ? labels[i].value : "");
		     *p; p++) {
			if (*p == '\\')
				fputs("\\\\", f);
			else if (*p == '"')
				fputs("\\\"", f);
			else if (*p == '\n')
				fputs("\\n", f);
			else if (*p < 0x20 || *p == 0x7f)
				fputc('?', f);
			else
				fputc(*p, f);
		}
		fputc('"', f);
	}
	fputc('}', f);
}

void prom__sample(FILE *f, const char *name, const struct prom_label *labels, int nlabels, uint64_t v)
{
	if (sink)
		sink->sample(sink->cookie, name, labels, nlabels, (double)v);
	if (!f)
		return;
	fputs(name, f);
	labels_out(f, labels, nlabels);
	fprintf(f, " %" PRIu64 "\n", v);
}

void prom__sample_double(FILE *f, const char *name, const struct prom_label *labels, int nlabels, double v)
{
	if (sink)
		sink->sample(sink->cookie, name, labels, nlabels, v);
	if (!f)
		return;
	fputs(name, f);
	labels_out(f, labels, nlabels);
	if (isnan(v))
		fputs(" NaN\n", f);
	else if (isinf(v))
		fputs(v > 0 ? " +Inf\n" : " -Inf\n", f);
	else
		fprintf(f, " %.17g\n", v);
}

/* The targets' series, from their typed view (daemon/targets.h). */
void targets__write_metrics(const struct targets *ts, FILE *f)
{
	const struct target_counts *ns;
	const struct tgt *g;
	struct target_view v;
	struct targets_stats st;
	char pid[16];

	targets__stats(ts, &st);

	prom__family(f, "ctxtrace_targets", "gauge", "Processes traced now.");
	prom__sample(f, "ctxtrace_targets", NULL, 0, st.attached);
	prom__family(f, "ctxtrace_target_info", "gauge",
		     "One series per traced process: where it runs (pid in its namespace, cgroup, container, pod).");
	for (g = targets__next(ts, NULL, &v); g; g = targets__next(ts, g, &v)) {
		char nspid[16];
		struct prom_label l[] = { { "target", v.name }, { "pid", pid }, { "exe", v.exe },
					  { "ns_pid", nspid }, { "cgroup", v.ci->cgroup },
					  { "container_id", v.ci->id }, { "pod_uid", v.ci->pod_uid } };

		snprintf(pid, sizeof(pid), "%d", v.pid);
		snprintf(nspid, sizeof(nspid), "%d", v.ci->ns_pid);
		prom__sample(f, "ctxtrace_target_info", l, 7, 1);
	}
	prom__family(f, "ctxtrace_goroutines", "gauge", "Goroutines alive in a traced process.");
	for (g = targets__next(ts, NULL, &v); g; g = targets__next(ts, g, &v)) {
		struct prom_label l[] = { { "target", v.name }, { "pid", pid } };

		snprintf(pid, sizeof(pid), "%d", v.pid);
		prom__sample(f, "ctxtrace_goroutines", l, 2, v.goroutines);
	}
	prom__family(f, "ctxtrace_contexts", "gauge",
		     "Contexts in a traced process's graph: live, or cancelled and still retained.");
	for (g = targets__next(ts, NULL, &v); g; g = targets__next(ts, g, &v)) {
		struct prom_label l[2][3] = { { { "target", v.name }, { "pid", pid }, { "state", "live" } },
					      { { "target", v.name }, { "pid", pid }, { "state", "cancelled" } } };

		if (!v.has_graph)
			continue;
		snprintf(pid, sizeof(pid), "%d", v.pid);
		prom__sample(f, "ctxtrace_contexts", l[0], 3, v.ctx_live);
		prom__sample(f, "ctxtrace_contexts", l[1], 3, v.ctx_cancelled_in_graph);
	}

	prom__family(f, "ctxtrace_probe_hits_total", "counter", "Probe hits in a traced process since attach.");
	for (g = targets__next(ts, NULL, &v); g && v.has_probe_hits; g = targets__next(ts, g, &v)) {
		struct prom_label l[] = { { "target", v.name }, { "pid", pid } };

		snprintf(pid, sizeof(pid), "%d", v.pid);
		prom__sample(f, "ctxtrace_probe_hits_total", l, 2, v.probe_hits);
	}
	prom__family(f, "ctxtrace_ringbuf_fill_percent", "gauge",
		     "Ring buffer fill level of a traced process, percent: now, and the highest since attach.");
	for (g = targets__next(ts, NULL, &v); g && v.has_ring; g = targets__next(ts, g, &v)) {
		struct prom_label l[2][3] = { { { "target", v.name }, { "pid", pid }, { "at", "now" } },
					      { { "target", v.name }, { "pid", pid }, { "at", "max" } } };

		snprintf(pid, sizeof(pid), "%d", v.pid);
		prom__sample(f, "ctxtrace_ringbuf_fill_percent", l[0], 3, v.ring_fill_pct);
		prom__sample(f, "ctxtrace_ringbuf_fill_percent", l[1], 3, v.ring_max_fill_pct);
	}

	{
		static const struct {
			const char *name, *help;
		} fam[] = {
			{ "ctxtrace_probe_cost_cpu_seconds",
			  "Estimated CPU seconds per second tracing costs a process: its probes' traps (trap cost x "
			  "hit rate) and ctxtraced's own work for it." },
			{ "ctxtrace_probe_cost_ratio", "Estimated share of a traced process's CPU time the probes cost." },
			{ "ctxtrace_probe_trap_seconds",
			  "Measured cost of one probe hit on this machine (an empty uprobe, at attach)." },
			{ "ctxtrace_probe_duty_ratio",
			  "Share of the time the probes are attached: below 1 while the overhead budget samples." },
		};

		for (size_t k = 0; k < sizeof(fam) / sizeof(fam[0]); k++) {
			prom__family(f, fam[k].name, "gauge", fam[k].help);
			for (g = targets__next(ts, NULL, &v); g; g = targets__next(ts, g, &v)) {
				struct prom_label l[] = { { "target", v.name }, { "pid", pid } };
				double x[] = { v.cost.cost_cpu, v.cost.pct / 100, v.cost.trap_ns / 1e9, v.cost.duty };

				if (!v.has_cost)
					continue;
				snprintf(pid, sizeof(pid), "%d", v.pid);
				prom__sample_double(f, fam[k].name, l, 2, x[k]);
			}
		}
	}

#define PER_NAME(metric, help, field)                                      \
	do {                                                               \
		prom__family(f, metric, "counter", help);                  \
		for (ns = targets__counts(ts); ns; ns = ns->next) {                  \
			struct prom_label l[] = { { "target", ns->name } }; \
			prom__sample(f, metric, l, 1, ns->field);          \
		}                                                          \
	} while (0)
	PER_NAME("ctxtrace_attaches_total", "Processes attached.", attaches);
	PER_NAME("ctxtrace_attach_failures_total", "Selected processes that could not be attached.", failures);
	PER_NAME("ctxtrace_detaches_total", "Processes detached.", detaches);
	PER_NAME("ctxtrace_contexts_created_total", "Contexts created in traced processes.", ctx_created);
	PER_NAME("ctxtrace_contexts_cancelled_total", "Contexts cancelled in traced processes.", ctx_cancelled);
	PER_NAME("ctxtrace_goroutines_created_total", "Goroutines created (or found at attach).", go_created);
	PER_NAME("ctxtrace_goroutines_exited_total", "Goroutines exited.", go_exited);
#undef PER_NAME

	prom__family(f, "ctxtrace_alerts_total", "counter", "Alerts, by rule.");
	for (ns = targets__counts(ts); ns; ns = ns->next) {
		for (int i = 0; i < ns->nrules; i++) {
			struct prom_label l[] = { { "target", ns->name }, { "rule", ns->alerts[i].rule } };

			prom__sample(f, "ctxtrace_alerts_total", l, 2, ns->alerts[i].n);
		}
	}
	prom__family(f, "ctxtrace_events_total", "counter", "Decoded events, by type.");
	for (ns = targets__counts(ts); ns; ns = ns->next) {
		for (int t = 1; t < EV_TYPE_MAX; t++) {
			struct prom_label l[] = { { "target", ns->name }, { "type", ev_type_name(t) } };

			prom__sample(f, "ctxtrace_events_total", l, 2, ns->events[t]);
		}
	}
	prom__family(f, "ctxtrace_dropped_total", "counter",
		     "Records lost: ringbuf (kernel queue full), read (target memory unreadable), decode.");
	for (ns = targets__counts(ts); ns; ns = ns->next) {
		struct prom_label l[3][2] = { { { "target", ns->name }, { "kind", "ringbuf" } },
					      { { "target", ns->name }, { "kind", "read" } },
					      { { "target", ns->name }, { "kind", "decode" } } };

		prom__sample(f, "ctxtrace_dropped_total", l[0], 2, ns->lost_ringbuf);
		prom__sample(f, "ctxtrace_dropped_total", l[1], 2, ns->lost_read);
		prom__sample(f, "ctxtrace_dropped_total", l[2], 2, ns->lost_decode);
	}
	prom__family(f, "ctxtrace_execs_total", "counter", "Execs on the host the daemon saw.");
	prom__sample(f, "ctxtrace_execs_total", NULL, 0, st.execs_seen);
	prom__family(f, "ctxtrace_execs_lost_total", "counter", "Execs not reported (exec ring buffer full).");
	prom__sample(f, "ctxtrace_execs_lost_total", NULL, 0, st.execs_lost);
	prom__family(f, "ctxtrace_refused_max_targets_total", "counter", "Matches refused by max_targets.");
	prom__sample(f, "ctxtrace_refused_max_targets_total", NULL, 0, st.refused_max);
}

