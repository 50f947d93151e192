/* ctxtrace graph -p PID: observes a running Go process for a while, builds the
 * context lineage graph from its events and prints it. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/commands.h"
#include "cli/run_loop.h"
#include "daemon/client.h"
#include "events/event.h"
#include "graph/lineage.h"
#include "output/graph_out.h"
#include "session/session.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/options.h"
#include "util/proc.h"
#include "util/settings.h"

#define DEFAULT_DURATION_NS (10ULL * 1000000000ULL)

_Static_assert(GRAPH_TREE == 0 && GRAPH_JSON == 1 && GRAPH_DOT == 2 && GRAPH_SVG == 3,
	       "--format's choices (util/options.c) are enum graph_format's order");

struct graph_run {
	struct lineage *lg;
	int err;
};

static const char usage[] =
	"usage: ctxtrace graph -p PID [--duration DUR] [--format tree|json|dot|svg] [-o FILE]\n"
	"                     [--record FILE] [--retention DUR] [--max-nodes N]\n"
	"       ctxtrace graph -p PID --daemon [--format tree|json] [--socket PATH]\n"
	"Observes the process for DUR (default 10s, or until Ctrl-C) and prints how its\n"
	"contexts derive from each other and which goroutines run under each. With\n"
	"--daemon, asks a running ctxtraced for the graph it keeps of that process.\n";

static int parse_args(int argc, char **argv, struct cli_opts *o, struct rule_cfg *rules)
{
	int r = options__parse_cmd(OPT_GRAPH, argc, argv, o, rules, NULL, usage);

	if (r)
		return r;
	if (!o->duration)
		o->duration = DEFAULT_DURATION_NS;
	if (o->daemon && o->format != GRAPH_TREE && o->format != GRAPH_JSON) {
		error("--daemon gives the graph as tree or json only");
		return -EINVAL;
	}
	return 0;
}

static void on_event(void *cookie, const struct ct_event *ev)
{
	struct graph_run *run = cookie;

	if (!run->err)
		run->err = lineage__apply(run->lg, ev);
}

/* The graph a running ctxtraced keeps of the process. */
static int graph_from_daemon(const struct cli_opts *o)
{
	const char *sock = o->socket ? o->socket : daemon_client__socket();
	char req[64];
	FILE *out = stdout;
	int err;

	if (o->output && !(out = fopen(o->output, "w"))) {
		error("cannot write %s: %s", o->output, strerror(errno));
		return EXIT_CANNOT;
	}
	snprintf(req, sizeof(req), "graph %d%s", (int)o->pid, o->format == GRAPH_TREE ? " text" : "");
	err = daemon_client__request(sock, req, out);
	if (out != stdout && fclose(out) && !err) {
		error("cannot write %s: %s", o->output, strerror(errno));
		return EXIT_CANNOT;
	}
	if (err) {
		error("%s", ct_errmsg());
		return EXIT_CANNOT;
	}
	return 0;
}

static int expire_graph(void *cookie)
{
	struct graph_run *run = cookie;

	lineage__expire(run->lg, ct_mono_ns());
	return run->err;
}

int cmd_graph(int argc, char **argv)
{
	struct cli_opts o = { 0 };
	struct rule_cfg rules;
	struct lineage_opts lo;
	struct session_opts so = { 0 };
	struct graph_out_opts go = { 0 };
	struct graph_run run = { 0 };
	struct session *s = NULL;
	FILE *out = stdout;
	int rc = EXIT_CANNOT, err;

	err = parse_args(argc, argv, &o, &rules);
	if (err) {
		rc = err > 0 ? 0 : EXIT_USAGE;
		goto cleanup;
	}
	if (o.daemon) {
		rc = graph_from_daemon(&o);
		goto cleanup;
	}
	/* open the output first: a bad -o should not cost a whole observation */
	if (o.output && !(out = fopen(o.output, "w"))) {
		error("cannot write %s: %s", o.output, strerror(errno));
		out = stdout;
		goto cleanup;
	}
	lo = (struct lineage_opts){ .retention_ns = rules.retention, .max_nodes = (uint32_t)rules.max_nodes };
	run.lg = lineage__new(&lo);
	if (!run.lg) {
		error("%s", ct_errmsg());
		goto cleanup;
	}
	so.pid = (int)o.pid;
	so.events = true;
	so.rules = true; /* what the tree marks as leaking is the rules' verdict */
	so.retention_ns = rules.retention;
	so.max_nodes = (uint32_t)rules.max_nodes;
	so.probes = rules.probes;
	so.lineage = run.lg;
	so.record_path = o.record;
	so.on_event = on_event;
	so.cookie = &run;
	run_loop__signals();
	run_loop__watch_exec(so.pid);
	s = session__open(&so);
	if (!s) {
		error("%s", ct_errmsg());
		goto cleanup;
	}
	err = run_loop__run(s, o.duration, expire_graph, &run);
	if (err == RUN_LOOP_EXEC) {
		info("process %d executed %s; the graph is as it was before", (int)o.pid, run_loop__exec_file());
	} else if (err == -ESRCH) {
		info("process %d exited; the graph is as it was at exit", (int)o.pid);
	} else if (err && !run.err) {
		error("%s", ct_errmsg());
		goto cleanup;
	}
	/* what the target did up to now: records still queued, unreferenced values
	 * (not after an exec: the memory they would be read from is another program's) */
	if (!run.err && err != RUN_LOOP_EXEC)
		session__finish(s);
	if (run.err) {
		error("cannot build the graph: out of memory");
		goto cleanup;
	}
	/* print before detaching: the session owns the interned sites the graph points to */
	go.format = (enum graph_format)o.format;
	go.pid = (uint32_t)o.pid;
	go.now_ns = ct_mono_ns();
	go.mono_to_real_ns = (int64_t)(ct_clock_ns(CLOCK_REALTIME) - go.now_ns);
	go.go_leaking = session__go_outlived;
	go.leak_cookie = s;
	go.go_memory = session__go_memory;
	go.memory_cookie = s;
	if (graph_out__write(run.lg, &go, out)) {
		error("%s", ct_errmsg());
		goto cleanup;
	}
	rc = 0;
cleanup:
	session__free(s);
	run_loop__free();
	lineage__free(run.lg);
	if (out != stdout && fclose(out) && rc == 0) {
		error("cannot write %s: %s", o.output, strerror(errno));
		rc = EXIT_CANNOT;
	}
	options__free(&o);
	return rc;
}
