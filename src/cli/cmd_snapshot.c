/* ctxtrace snapshot -p PID: the leak judgement of `watch`, from the target's
 * memory alone: no probe, no BPF, the target never stopped. Alerts as `watch`
 * prints them (source "memory"), then a summary of what was read and what could
 * not be. The rule settings (--grace, --min-count, --stuck-min) come from the
 * same table as watch's and the daemon's. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "daemon/config.h"
#include "rules/memjudge.h"
#include "session/session.h"
#include "util/json.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/settings.h"

struct snap_opts {
	int pid;
	bool json;
	struct rule_cfg rules;
};

struct snap_run {
	bool json;
	uint64_t alerts;
	int err;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: ctxtrace snapshot -p PID [--json] [--grace DUR] [--min-count N] [--stuck-min N]\n"
		   "Reads the Go process's goroutines and the contexts they hold from its memory and\n"
		   "judges them as `watch` does (docs/alerts.md), with no probe. The process is never\n"
		   "stopped. Goroutines blocked for less than --grace are looked at again --grace later.\n"
		   "  -p, --pid PID       the process to read\n"
		   "      --json          one JSON object per line: the alerts, then a summary\n");
	settings__print_help(f, rule_settings, rule_settings_n, SETTINGS_HELP_FLAGS);
}

static int parse_args(int argc, char **argv, struct snap_opts *o)
{
	static const struct option longopts[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	char err[256];
	int c, kept = 1;

	if (settings__defaults(rule_settings, rule_settings_n, &o->rules, err, sizeof(err))) {
		error("%s", err);
		return -EINVAL;
	}
	for (int i = 1; i < argc; i++) {
		const struct setting *st;
		const char *val;
		int m = settings__match_flag(rule_settings, rule_settings_n, argc, argv, &i, &st, &val,
					     err, sizeof(err));

		if (m < 0 || (m > 0 && settings__set(st, &o->rules, val, err, sizeof(err)))) {
			error("%s", err);
			return -EINVAL;
		}
		if (m == 0)
			argv[kept++] = argv[i];
	}
	argc = kept;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:p:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (proc_parse_pid(optarg, &o->pid)) {
				error("%s", ct_errmsg());
				return -EINVAL;
			}
			break;
		case 'j':
			o->json = true;
			ct_log_json = true;
			break;
		case 'h':
			usage(stdout);
			return 1;
		case ':':
			error("option '%s' needs a value (see ctxtrace snapshot --help)", argv[optind - 1]);
			return -EINVAL;
		default:
			error("unknown option '%s' (see ctxtrace snapshot --help)", argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		error("unexpected argument '%s' (see ctxtrace snapshot --help)", argv[optind]);
		return -EINVAL;
	}
	if (!o->pid) {
		error("missing -p PID (see ctxtrace snapshot --help)");
		return -EINVAL;
	}
	return 0;
}

static void on_alert(void *cookie, const char *json, const char *text)
{
	struct snap_run *run = cookie;

	run->alerts++;
	if (run->err)
		return;
	printf("%s\n", run->json ? json : text);
	if (fflush(stdout))
		run->err = -errno;
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
	if (err)
		return err > 0 ? 0 : EXIT_USAGE;
	run.json = o.json;
	so.pid = o.pid;
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
	if (!session__memory_stats(s, &st))
		summary(&run, o.pid, &st);
	rc = 0;
cleanup:
	session__free(s);
	return rc;
}
