/* ctxtrace graph -p PID: observes a running Go process for a while, builds the
 * context lineage graph from its events and prints it. */
#include <errno.h>
#include <getopt.h>
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
#include "util/proc.h"
#include "util/settings.h"

#define DEFAULT_DURATION_NS (10ULL * 1000000000ULL)

struct graph_opts {
	int pid;
	uint64_t duration_ns;
	enum graph_format format;
	const char *out;
	const char *record;
	struct lineage_opts lg;
	bool daemon;
	const char *socket;
};

struct graph_run {
	struct lineage *lg;
	int err;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: ctxtrace graph -p PID [--duration DUR] [--format tree|json|dot|svg] [-o FILE]\n"
		   "                     [--record FILE] [--retention DUR] [--max-nodes N]\n"
		   "       ctxtrace graph -p PID --daemon [--format tree|json] [--socket PATH]\n"
		   "Observes the process for DUR (default 10s, or until Ctrl-C) and prints how its\n"
		   "contexts derive from each other and which goroutines run under each. With\n"
		   "--daemon, asks a running ctxtraced for the graph it keeps of that process.\n");
}

static int parse_args(int argc, char **argv, struct graph_opts *o)
{
	static const struct option longopts[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "duration", required_argument, NULL, 'd' },
		{ "format", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ "record", required_argument, NULL, 'R' },
		{ "retention", required_argument, NULL, 'r' },
		{ "max-nodes", required_argument, NULL, 'm' },
		{ "daemon", no_argument, NULL, 'D' },
		{ "socket", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+p:d:f:o:h", longopts, NULL)) != -1) {
		int g = graph_out__parse_opt(c, optarg, &o->format, &o->lg);

		if (g < 0)
			return -EINVAL;
		if (g > 0)
			continue;
		switch (c) {
		case 'p':
			if (proc_parse_pid(optarg, &o->pid)) {
				error("%s", ct_errmsg());
				return -EINVAL;
			}
			break;
		case 'd':
			if (parse_duration(optarg, &o->duration_ns) || o->duration_ns == 0) {
				error("--duration: '%s' is not a duration above 0 (e.g. 10s, 2m)", optarg);
				return -EINVAL;
			}
			break;
		case 'o':
			o->out = optarg;
			break;
		case 'R':
			o->record = optarg;
			break;
		case 'D':
			o->daemon = true;
			break;
		case 'S':
			o->socket = optarg;
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			error("graph: unknown option or missing value: '%s' (see ctxtrace graph --help)",
			      argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (o->daemon && o->format != GRAPH_TREE && o->format != GRAPH_JSON) {
		error("--daemon gives the graph as tree or json only");
		return -EINVAL;
	}
	if (optind != argc) {
		error("unexpected argument '%s' (see ctxtrace graph --help)", argv[optind]);
		return -EINVAL;
	}
	if (!o->pid) {
		error("missing -p PID (see ctxtrace graph --help)");
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
static int graph_from_daemon(const struct graph_opts *o)
{
	const char *sock = o->socket ? o->socket : daemon_client__socket();
	char req[64];
	FILE *out = stdout;
	int err;

	if (o->out && !(out = fopen(o->out, "w"))) {
		error("cannot write %s: %s", o->out, strerror(errno));
		return EXIT_CANNOT;
	}
	snprintf(req, sizeof(req), "graph %d%s", o->pid, o->format == GRAPH_TREE ? " text" : "");
	err = daemon_client__request(sock, req, out);
	if (out != stdout && fclose(out) && !err) {
		error("cannot write %s: %s", o->out, strerror(errno));
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
	struct graph_opts o = { .duration_ns = DEFAULT_DURATION_NS, .format = GRAPH_TREE };
	struct session_opts so = { 0 };
	struct graph_out_opts go = { 0 };
	struct graph_run run = { 0 };
	struct session *s = NULL;
	FILE *out = stdout;
	int rc = EXIT_CANNOT, err;

	err = parse_args(argc, argv, &o);
	if (err)
		return err > 0 ? 0 : EXIT_USAGE;
	if (o.daemon)
		return graph_from_daemon(&o);
	/* open the output first: a bad -o should not cost a whole observation */
	if (o.out && !(out = fopen(o.out, "w"))) {
		error("cannot write %s: %s", o.out, strerror(errno));
		return EXIT_CANNOT;
	}
	run.lg = lineage__new(&o.lg);
	if (!run.lg) {
		error("%s", ct_errmsg());
		goto cleanup;
	}
	so.pid = o.pid;
	so.events = true;
	so.rules = true; /* what the tree marks as leaking is the rules' verdict */
	so.retention_ns = o.lg.retention_ns;
	so.record_path = o.record;
	so.on_event = on_event;
	so.cookie = &run;
	run_loop__signals();
	s = session__open(&so);
	if (!s) {
		error("%s", ct_errmsg());
		goto cleanup;
	}
	err = run_loop__run(s, o.duration_ns, expire_graph, &run);
	if (err == -ESRCH) {
		info("process %d exited; the graph is as it was at exit", o.pid);
	} else if (err && !run.err) {
		error("%s", ct_errmsg());
		goto cleanup;
	}
	/* what the target did up to now: records still queued, unreferenced values */
	if (!run.err)
		session__finish(s);
	if (run.err) {
		error("cannot build the graph: out of memory");
		goto cleanup;
	}
	/* print before detaching: the session owns the interned sites the graph points to */
	go.format = o.format;
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
	lineage__free(run.lg);
	if (out != stdout && fclose(out) && rc == 0) {
		error("cannot write %s: %s", o.out, strerror(errno));
		rc = EXIT_CANNOT;
	}
	return rc;
}
