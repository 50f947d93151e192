/* ctxtrace replay FILE: rebuilds the lineage graph from a recording, offline,
 * without BPF or privileges, and prints it as `ctxtrace graph` would. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "events/event.h"
#include "events/record.h"
#include "graph/lineage.h"
#include "output/graph_out.h"
#include "util/log.h"
#include "util/settings.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: ctxtrace replay [--format tree|json|dot|svg] [-o FILE] [--retention DUR]\n"
		   "                      [--max-nodes N] [--stats] RECORDING\n"
		   "Rebuilds the context lineage graph from a recording made with\n"
		   "'ctxtrace watch --events --record FILE' and prints it.\n");
}

struct replay_opts {
	enum graph_format format;
	const char *out;
	const char *path;
	struct lineage_opts lg;
	bool stats;
};

static int parse_args(int argc, char **argv, struct replay_opts *o)
{
	static const struct option longopts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ "retention", required_argument, NULL, 'r' },
		{ "max-nodes", required_argument, NULL, 'm' },
		{ "stats", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "f:o:h", longopts, NULL)) != -1) {
		int g = graph_out__parse_opt(c, optarg, &o->format, &o->lg);

		if (g < 0)
			return -EINVAL;
		if (g > 0)
			continue;
		switch (c) {
		case 'o':
			o->out = optarg;
			break;
		case 's':
			o->stats = true;
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (argc - optind != 1) {
		error(argc == optind ? "missing RECORDING (see ctxtrace replay --help)" : "too many arguments");
		return -EINVAL;
	}
	o->path = argv[optind];
	return 0;
}

int cmd_replay(int argc, char **argv)
{
	struct replay_opts o = { .format = GRAPH_TREE };
	struct graph_out_opts go = { 0 };
	struct lineage *lg = NULL;
	struct record *rec = NULL;
	struct lineage_stats st;
	struct ct_event ev;
	char errmsg[512] = "";
	FILE *out = stdout;
	int rc = EXIT_CANNOT, err;

	err = parse_args(argc, argv, &o);
	if (err)
		return err > 0 ? 0 : EXIT_USAGE;
	rec = record__open(o.path);
	if (!rec) {
		error("%s", ct_errmsg());
		goto cleanup;
	}
	lg = lineage__new(&o.lg);
	if (!lg) {
		error("%s", ct_errmsg());
		goto cleanup;
	}
	while ((err = record__next(rec, &ev)) > 0) {
		if (lineage__apply(lg, &ev)) {
			error("cannot replay %s: out of memory", o.path);
			goto cleanup;
		}
	}
	/* a damaged recording still shows what was complete, then fails */
	if (err < 0)
		snprintf(errmsg, sizeof(errmsg), "%s: %s", o.path, ct_errmsg());
	if (o.out && !(out = fopen(o.out, "w"))) {
		error("cannot write %s: %s", o.out, strerror(errno));
		out = stdout;
		goto cleanup;
	}
	go.format = o.format;
	go.pid = record__header(rec)->pid;
	go.mono_to_real_ns = record__header(rec)->mono_to_real_ns;
	if (graph_out__write(lg, &go, out)) {
		error("%s", ct_errmsg());
		goto cleanup;
	}
	if (o.stats) {
		lineage__stats(lg, &st);
		fprintf(stderr,
			"replayed %" PRIu64 " events: %" PRIu64 " contexts, %" PRIu64 " goroutines in the graph, %" PRIu64
			" bytes, %" PRIu64 " evicted\n",
			record__count(rec), st.ctx_live + st.ctx_cancelled, st.go_alive + st.go_exited, st.bytes,
			st.evicted_retention + st.evicted_cap + st.evicted_live);
	}
	if (errmsg[0]) {
		error("%s", errmsg);
		goto cleanup;
	}
	rc = 0;
cleanup:
	if (out != stdout && fclose(out) && rc == 0) {
		error("cannot write %s: %s", o.out, strerror(errno));
		rc = EXIT_CANNOT;
	}
	lineage__free(lg);
	record__close(rec);
	return rc;
}
