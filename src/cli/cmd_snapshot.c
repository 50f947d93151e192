/* ctxtrace snapshot -p PID: the leak judgement of `watch`, from the target's
 * memory alone: no probe, no BPF, the target never stopped. Alerts as `watch`
 * prints them (source "memory"), then a summary of what was read and what could
 * not be. The rule settings (--grace, --min-count, --stuck-min) come from the
 * same table as watch's and the daemon's. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "output/alert_out.h"
#include "output/pprof_out.h"
#include "rules/memjudge.h"
#include "session/session.h"
#include "util/fmt.h"
#include "util/json.h"
#include "util/log.h"
#include "util/options.h"
#include "util/proc.h"
#include "util/settings.h"

struct snap_opts {
	struct cli_opts cli;
	struct rule_cfg rules;
};

struct snap_run {
	bool json;
	bool goroutines;
	uint64_t alerts;
	struct pprof_out *prof;
	int err;
};

static const char usage[] =
	"usage: ctxtrace snapshot -p PID [--json] [--grace DUR] [--min-count N] [--stuck-min N]\n"
	"       ctxtrace snapshot -p PID --format pprof -o FILE\n"
	"Reads the Go process's goroutines and the contexts they hold from its memory and\n"
	"judges them as `watch` does (docs/alerts.md), with no probe. The process is never\n"
	"stopped. Goroutines blocked for less than --grace are looked at again --grace later.\n";

static int parse_args(int argc, char **argv, struct snap_opts *o)
{
	int r = options__parse_cmd(OPT_SNAPSHOT, argc, argv, &o->cli, &o->rules, NULL, usage);
	bool pprof = o->cli.snap_format == 2;

	if (r)
		return r;
	if (o->cli.snap_format == 1)
		o->cli.json = true;
	if (o->cli.json)
		ct_log_json = true;
	if (pprof != !!o->cli.output) {
		error(pprof ? "--format pprof needs -o FILE (see ctxtrace snapshot --help)"
			    : "-o FILE is for --format pprof (see ctxtrace snapshot --help)");
		return -EINVAL;
	}
	return 0;
}

static void on_alert(void *cookie, const struct alert *a)
{
	struct snap_run *run = cookie;

	run->alerts++;
	if (run->err)
		return;
	run->err = run->json ? alert_out__json(stdout, a, false) : alert_out__text(stdout, a);
	if (!run->err && (putchar('\n') == EOF || fflush(stdout)))
		run->err = -errno;
}

static void on_goroutine(void *cookie, const struct memjudge_go *g)
{
	struct snap_run *run = cookie;
	/* As Go's own dump: the main goroutine has no "created by". */
	const struct ct_frame *gs = g->go_site && g->go_site->n && g->goid != 1 ? &g->go_site->frames[0] : NULL;

	if (run->prof && !run->err && pprof_out__add(run->prof, g) < 0)
		run->err = -ENOMEM;
	if (!run->goroutines || run->err)
		return;
	if (run->json) {
		struct json_w *w = json_w__new(stdout, false);

		if (!w)
			return;
		json_w__obj_open(w);
		json_w__kv_str(w, "type", "goroutine");
		json_w__kv_uint(w, "goid", g->goid);
		json_w__kv_uint(w, "parent_goid", g->parent_goid);
		json_w__kv_str(w, "state", g->wait);
		json_w__kv_bool(w, "runtime", g->system);
		if (g->leaked)
			json_w__kv_bool(w, "leaked", true);
		json_w__kv_bool(w, "judged", g->judged);
		if (g->waiting_ns)
			json_w__kv_uint(w, "waiting_ms", g->waiting_ns / 1000000);
		json_w__kv_str(w, "start_func", g->start_func);
		json_w__key(w, "go_site");
		if (gs)
			ct_frame__json(w, gs);
		else
			json_w__null(w);
		json_w__key(w, "stack");
		json_w__arr_open(w);
		for (uint32_t i = 0; g->stack && i < g->stack->n; i++)
			ct_frame__json(w, &g->stack->frames[i]);
		json_w__arr_close(w);
		json_w__kv_uint(w, "contexts_held", g->contexts_held);
		json_w__kv_bool(w, "waits_on_done", g->waits_on_done);
		if (g->ancestry.known) {
			/* docs/alerts.md: a weaker tie than a context it holds */
			json_w__key(w, "ancestry");
			json_w__obj_open(w);
			json_w__kv_uint(w, "parent_goid", g->ancestry_parent);
			json_w__kv_hex(w, "context", g->ancestry.id);
			json_w__kv_str(w, "type", g->ancestry.type_name);
			json_w__kv_str(w, "err", g->ancestry.err);
			json_w__obj_close(w);
		}
		json_w__obj_close(w);
		json_w__free(w);
		putchar('\n');
		return;
	}
	if (g->system && ct_verbosity < 1)
		return;
	printf("goroutine %" PRIu64 " [%s%s", g->goid, g->wait ? g->wait : "?", g->leaked ? " (leaked)" : "");
	if (g->waiting_ns >= 60000000000ULL)
		printf(", %" PRIu64 " minutes", (uint64_t)(g->waiting_ns / 60000000000ULL));
	printf("]%s", g->system ? " (runtime)" : "");
	if (g->stack && g->stack->n)
		printf(" %s at %s:%u", g->stack->frames[0].func ? g->stack->frames[0].func : "?",
		       file_base(g->stack->frames[0].file), g->stack->frames[0].line);
	if (gs)
		printf(", created by %s at %s:%u", gs->func ? gs->func : "?", file_base(gs->file), gs->line);
	if (g->contexts_held || g->waits_on_done)
		printf("; %u context%s held%s", g->contexts_held, g->contexts_held == 1 ? "" : "s",
		       g->waits_on_done ? ", waits on a Done channel" : "");
	if (g->ancestry.known)
		printf("; its parent goroutine %" PRIu64 " holds a cancelled context (%s) in the frame that "
		       "started it (by ancestry)", g->ancestry_parent, g->ancestry.err ? g->ancestry.err : "?");
	putchar('\n');
}

static void summary(const struct snap_run *run, int pid, const struct memjudge_stats *st)
{
	if (run->json) {
		struct json_w *w = json_w__new(stdout, false);

		if (!w)
			return;
		json_w__obj_open(w);
		json_w__kv_str(w, "type", "snapshot");
		json_w__kv_int(w, "pid", pid);
		json_w__kv_uint(w, "alerts", run->alerts);
		json_w__kv_uint(w, "passes", st->passes);
		json_w__kv_uint(w, "goroutines", st->goroutines);
		json_w__kv_uint(w, "runtime", st->system);
		json_w__kv_uint(w, "judged", st->user);
		json_w__kv_uint(w, "running", st->running);
		json_w__kv_uint(w, "left_out", st->left_out);
		json_w__kv_uint(w, "over_max", st->over_max);
		json_w__kv_uint(w, "leaked", st->leaked);
		json_w__kv_uint(w, "contexts", st->contexts);
		json_w__kv_uint(w, "contexts_unreadable", st->ctx_unreadable);
		json_w__kv_uint(w, "holding_context", st->tied_held);
		json_w__kv_uint(w, "waiting_on_done", st->tied_waiting);
		json_w__kv_uint(w, "tied_by_ancestry", st->tied_ancestry);
		json_w__kv_uint(w, "elapsed_ms", st->elapsed_ns / 1000000);
		json_w__obj_close(w);
		json_w__free(w);
		putchar('\n');
	} else {
		printf("pid %d: %u goroutines (%u of the runtime), %u judged: %u holding a context, "
		       "%u waiting on a Done channel; %u contexts read; %" PRIu64 " alert%s\n",
		       pid, st->goroutines, st->system, st->user, st->tied_held, st->tied_waiting,
		       st->contexts, run->alerts, run->alerts == 1 ? "" : "s");
		if (st->left_out || st->running || st->ctx_unreadable || st->over_max)
			printf("  not judged: %u running, %u changed while read or unreadable, %u over the "
			       "limit; %u context values that did not check out\n",
			       st->running, st->left_out, st->over_max, st->ctx_unreadable);
		if (st->leaked)
			printf("  %u goroutines marked leaked by the Go runtime\n", st->leaked);
		printf("  read in %.0f ms (last pass of %" PRIu64 ")\n", (double)st->elapsed_ns / 1e6,
		       st->passes);
	}
	fflush(stdout);
}

int cmd_snapshot(int argc, char **argv)
{
	struct snap_opts o = { 0 };
	struct snap_run run = { 0 };
	struct session_opts so = { 0 };
	struct memjudge_stats st;
	struct session *s = NULL;
	int rc = EXIT_CANNOT, err;

	err = parse_args(argc, argv, &o);
	if (err) {
		options__free(&o.cli);
		return err > 0 ? 0 : EXIT_USAGE;
	}
	run.json = o.cli.json;
	run.goroutines = o.cli.goroutines;
	if (o.cli.snap_format == 2) {
		char path[64], exe[4096] = "";

		proc_exe((int)o.cli.pid, path, sizeof(path), exe, sizeof(exe));
		run.prof = pprof_out__new((int)o.cli.pid, exe);
		if (!run.prof) {
			error("out of memory");
			options__free(&o.cli);
			return EXIT_CANNOT;
		}
	}
	so.on_goroutine = on_goroutine;
	so.pid = (int)o.cli.pid;
	so.memory_only = true;
	so.grace_ns = o.rules.grace;
	so.min_count = (uint32_t)o.rules.min_count;
	so.stuck_min = (uint32_t)o.rules.stuck_min;
	so.on_alert = on_alert;
	so.cookie = &run;
	signal(SIGPIPE, SIG_IGN);
	s = session__open(&so);
	if (!s) {
		error("%s", ct_errmsg());
		goto cleanup;
	}
	err = session__snapshot(s);
	if (err) {
		error("%s", ct_errmsg());
		goto cleanup;
	}
	if (run.err) {
		if (run.err != -EPIPE)
			error("cannot write alerts: %s", strerror(-run.err));
		goto cleanup;
	}
	if (run.prof) {
		if (pprof_out__write(run.prof, o.cli.output)) {
			error("%s", ct_errmsg());
			goto cleanup;
		}
		info("%u stuck goroutines written to %s", pprof_out__samples(run.prof), o.cli.output);
	}
	if (!session__memory_stats(s, &st))
		summary(&run, (int)o.cli.pid, &st);
	rc = 0;
cleanup:
	pprof_out__free(run.prof);
	session__free(s);
	options__free(&o.cli);
	return rc;
}
