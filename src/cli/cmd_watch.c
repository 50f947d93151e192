/* ctxtrace watch -p PID: streams leak alerts, or with --events the target's
 * decoded events, one per line (text or JSON), until the target exits, DUR
 * passes or Ctrl-C. The rule settings (--grace, --min-count, --retention) come
 * from the same table as the daemon's configuration. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/run_loop.h"
#include "events/event.h"
#include "output/events_out.h"
#include "output/pprof_out.h"
#include "probes/probe_plan.h"
#include "rules/memjudge.h"
#include "session/session.h"
#include "output/alert_out.h"
#include "rules/rules.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/options.h"
#include "util/proc.h"
#include "util/settings.h"

/* Text is for people: a growing alert is printed again at most every
 * TEXT_REPRINT_NS (its latest count held until then, and printed at the end);
 * JSON keeps the re-emission contract of docs/alerts.md. */
#define TEXT_REPRINT_NS (30ULL * 1000000000ULL)
#define TEXT_HELD_MAX 256

struct held_alert {
	char id[17];
	uint64_t printed_ns;
	char *pending; /* the latest text not printed yet */
};

struct watch_run {
	struct events_out *out;
	bool json;
	uint64_t alerts;
	struct pprof_out *prof;
	int err;
	struct held_alert held[TEXT_HELD_MAX];
	int nheld;
};

static void text_print(struct watch_run *run, const char *text)
{
	if (run->err)
		return;
	printf("%s\n", text);
	if (fflush(stdout))
		run->err = -errno;
}

/* Prints the held texts due by now (all of them when all). */
static void text_release(struct watch_run *run, bool all)
{
	uint64_t now = ct_mono_ns();

	for (int i = 0; i < run->nheld; i++) {
		struct held_alert *h = &run->held[i];

		if (!h->pending || (!all && now - h->printed_ns < TEXT_REPRINT_NS))
			continue;
		text_print(run, h->pending);
		free(h->pending);
		h->pending = NULL;
		h->printed_ns = now;
	}
}

static void text_alert(struct watch_run *run, const struct alert *a)
{
	struct held_alert *h = NULL;
	uint64_t now = ct_mono_ns();
	char id[17];
	char *text = alert_out__text_str(a);

	if (!text) {
		run->err = -ENOMEM;
		return;
	}
	memcpy(id, a->id, sizeof(id));
	for (int i = 0; *id && i < run->nheld; i++) {
		if (!strcmp(run->held[i].id, id))
			h = &run->held[i];
	}
	if (!h && *id && run->nheld < TEXT_HELD_MAX) {
		h = &run->held[run->nheld++];
		memcpy(h->id, id, sizeof(h->id));
		h->pending = NULL;
		h->printed_ns = 0;
	} else if (h && now - h->printed_ns < TEXT_REPRINT_NS) {
		free(h->pending);
		h->pending = text;
		return;
	}
	text_print(run, text);
	free(text);
	if (h) {
		free(h->pending);
		h->pending = NULL;
		h->printed_ns = now;
	}
}

static const char usage[] =
	"usage: ctxtrace watch -p PID [--json] [--duration DUR] [--grace DUR] [--min-count N]\n"
	"       ctxtrace watch -p PID --events [--json] [--duration DUR] [--record FILE]\n"
	"Streams leak alerts for the Go process (docs/alerts.md), or with --events what it\n"
	"does with contexts and goroutines, one per line, until it exits, DUR passes\n"
	"(500ms, 10s, 2m) or Ctrl-C.\n";

/* 0, 1 for --help, -EINVAL for a usage error (reported). */
static int parse_args(int argc, char **argv, struct cli_opts *o, struct rule_cfg *rules)
{
	bool budget = options__flag_given(argc, argv, "--max-overhead");
	int r = options__parse_cmd(OPT_WATCH, argc, argv, o, rules, NULL, usage);

	if (r)
		return r;
	if (!budget)
		rules->max_overhead = 0; /* the table's default is the daemon's */
	if (o->json)
		ct_log_json = true;
	if (o->profile && o->events) {
		error("--profile needs the leak rules: it does not go with --events");
		return -EINVAL;
	}
	return 0;
}

static void on_alert(void *cookie, const struct alert *a)
{
	struct watch_run *run = cookie;

	run->alerts++;
	if (run->err)
		return;
	if (!run->json) {
		text_alert(run, a);
		return;
	}
	run->err = alert_out__json(stdout, a, false);
	if (!run->err && (putchar('\n') == EOF || fflush(stdout)))
		run->err = -errno;
}

static void on_goroutine(void *cookie, const struct memjudge_go *g)
{
	struct watch_run *run = cookie;

	if (run->prof && pprof_out__add(run->prof, g) < 0 && !run->err)
		run->err = -ENOMEM;
}

/* The stuck goroutines at the end: judged once more from memory while the target
 * lives, else as the last judgement read them. */
static int write_profile(struct session *s, struct watch_run *run, const char *path, bool exited)
{
	struct memjudge_limits lim;
	int err = -ESRCH;

	if (!exited) {
		session__limits(s, &lim);
		err = session__judge_final(s, &lim, NULL, NULL);
	}
	if (err < 0)
		session__report_goroutines(s);
	if (run->err)
		return run->err;
	err = pprof_out__write(run->prof, path);
	if (err)
		error("%s", ct_errmsg());
	else
		info("%u stuck goroutines written to %s", pprof_out__samples(run->prof), path);
	return err;
}

static void on_event(void *cookie, const struct ct_event *ev)
{
	struct watch_run *run = cookie;

	if (!run->err)
		run->err = events_out__print(run->out, ev);
}

/* The reader of a pipe went away (| head): the kernel reports it on the write end
 * without a write. */
static bool stdout_closed(void)
{
	struct pollfd p = { .fd = STDOUT_FILENO, .events = 0 };

	return poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP));
}

/* After every poll: what was printed goes out; a reader that went away ends it. */
static int after_poll(void *cookie)
{
	struct watch_run *run = cookie;

	if (!run->json)
		text_release(run, false);
	if (!run->err)
		run->err = events_out__flush(run->out);
	if (!run->err && stdout_closed())
		run->err = -EPIPE;
	return run->err;
}

/* What tracing cost the target: probe hits by role and the estimate. */
static void print_cost(const struct session *s, int pid)
{
	struct session_cost c;
	char by[256] = "";
	size_t n = 0;

	if (session__cost(s, &c))
		return;
	for (int k = 0; k < CT_PROBE_KIND_MAX_; k++) {
		const char *role = probe_kind_role((enum ct_probe_kind)k);
		uint64_t h = c.hits_by_kind[k];

		/* kinds sharing a role are summed under it */
		for (int j = k + 1; j < CT_PROBE_KIND_MAX_; j++)
			if (role && probe_kind_role((enum ct_probe_kind)j) &&
			    !strcmp(role, probe_kind_role((enum ct_probe_kind)j)))
				h += c.hits_by_kind[j], c.hits_by_kind[j] = 0;
		if (!role || !h || n >= sizeof(by))
			continue;
		n += snprintf(by + n, sizeof(by) - n, "%s%s %llu", n ? ", " : "", role, (unsigned long long)h);
	}
	info("pid %d: %llu probe hits (%s; probes=%s); estimated cost since attach %.4f CPU s/s, %.2f%% of "
	     "the target's CPU (hits: one hit costs %.0f ns here to trap and %.0f ns in ctxtrace's program; "
	     "and ctxtrace's own work)%s", pid, (unsigned long long)c.hits, n ? by : "none",
	     c.probes, c.avg_cost_cpu, c.avg_pct, c.trap_ns, c.prog_ns,
	     c.gaps ? "; sampled (probes attached part-time, --max-overhead)" : "");
}

int cmd_watch(int argc, char **argv)
{
	struct cli_opts o = { 0 };
	struct rule_cfg rules;
	struct watch_run run = { 0 };
	struct session_opts so = { 0 };
	struct session *s = NULL;
	int rc = EXIT_CANNOT, err;
	bool exited = false;

	/* opterr is reset so that getopt's own messages never appear. */
	err = parse_args(argc, argv, &o, &rules);
	if (err) {
		options__free(&o);
		return err > 0 ? 0 : EXIT_USAGE;
	}
	run.json = o.json;
	run.out = events_out__new(stdout, o.json);
	if (!run.out) {
		error("out of memory");
		options__free(&o);
		return EXIT_CANNOT;
	}
	so.pid = (int)o.pid;
	so.events = o.events;
	so.rules = !o.events;
	so.grace_ns = rules.grace;
	so.min_count = (uint32_t)rules.min_count;
	so.retention_ns = rules.retention;
	so.max_nodes = (uint32_t)rules.max_nodes;
	so.stuck_min = (uint32_t)rules.stuck_min;
	so.probes = rules.probes;
	so.max_overhead = (uint32_t)rules.max_overhead;
	so.ring_max = rules.ring_max;
	so.record_path = o.record;
	so.on_event = on_event;
	so.on_alert = on_alert;
	so.cookie = &run;
	if (o.profile) {
		char path[64], exe[4096] = "";

		proc_exe((int)o.pid, path, sizeof(path), exe, sizeof(exe));
		run.prof = pprof_out__new((int)o.pid, exe);
		if (!run.prof) {
			error("out of memory");
			goto cleanup;
		}
		so.on_goroutine = on_goroutine;
	}
	/* A closed stdout ends the watch (after_poll), not SIGPIPE. */
	run_loop__signals();
	signal(SIGPIPE, SIG_IGN);
	run_loop__watch_exec(so.pid);
	s = session__open(&so);
	if (!s) {
		error("%s", ct_errmsg());
		goto cleanup;
	}
	events_out__flush(run.out);
	err = run_loop__run(s, o.duration, after_poll, &run);
	/* After an exec the memory is another program's: the profile, like after an
	 * exit, holds what was seen before. */
	exited = err == -ESRCH || err == RUN_LOOP_EXEC;
	if (err == RUN_LOOP_EXEC) {
		/* The probes sat in the old image, the goroutines they saw are gone:
		 * nothing more can be judged (docs: the watch ends on exec). */
		info("target %d executed %s: the Go program watched is gone, the watch ends", (int)o.pid,
		     run_loop__exec_file());
		if (!run.err)
			run.err = events_out__flush(run.out);
		goto done;
	}
	if (err == -ESRCH) {
		info("target %d exited", (int)o.pid);
	} else if (err && err != run.err) {
		error("%s", ct_errmsg());
		goto cleanup;
	}
	session__finish(s);
	text_release(&run, true);
	if (!run.err)
		run.err = events_out__flush(run.out);
done:
	/* A reader that went away (| head) is the end of the watch, not a failure. */
	if (run.err && run.err != -EPIPE) {
		error("cannot write to standard output: %s", strerror(-run.err));
		goto cleanup;
	}
	if (!o.events)
		info("%llu alert%s", (unsigned long long)run.alerts, run.alerts == 1 ? "" : "s");
	print_cost(s, (int)o.pid);
	if (run.prof && write_profile(s, &run, o.profile, exited))
		goto cleanup;
	rc = 0;
cleanup:
	pprof_out__free(run.prof);
	session__free(s);
	run_loop__free();
	for (int i = 0; i < run.nheld; i++)
		free(run.held[i].pending);
	events_out__free(run.out);
	options__free(&o);
	return rc;
}
