/* ctxtrace replay FILE: rebuilds the lineage graph from a recording, offline,
 * without BPF or privileges, and prints it as `ctxtrace graph` would. */
#include <errno.h>
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
#include "util/options.h"
#include "util/settings.h"

static const char usage[] =
	"usage: ctxtrace replay [--format tree|json|dot|svg] [-o FILE] [--retention DUR]\n"
	"                      [--max-nodes N] [--stats] RECORDING\n"
	"Rebuilds the context lineage graph from a recording made with\n"
	"'ctxtrace watch --events --record FILE' and prints it.\n";

int cmd_replay(int argc, char **argv)
{
	struct cli_opts o = { 0 };
	struct rule_cfg rules;
	struct lineage_opts lo;
	const char *path;
	int npos;
	struct graph_out_opts go = { 0 };
	struct lineage *lg = NULL;
	struct record *rec = NULL;
	struct lineage_stats st;
	struct ct_event ev;
	char errmsg[512] = "";
	FILE *out = stdout;
	int rc = EXIT_CANNOT, err;

	err = options__parse_cmd(OPT_REPLAY, argc, argv, &o, &rules, &npos, usage);
	if (!err && npos != 1) {
		error(npos ? "too many arguments (see ctxtrace replay --help)"
			   : "missing RECORDING (see ctxtrace replay --help)");
		err = -EINVAL;
	}
	if (err) {
		options__free(&o);
		return err > 0 ? 0 : EXIT_USAGE;
	}
	path = argv[1];
	rec = record__open(path);
	if (!rec) {
		error("%s", ct_errmsg());
		goto cleanup;
	}
	lo = (struct lineage_opts){ .retention_ns = rules.retention, .max_nodes = (uint32_t)rules.max_nodes };
	lg = lineage__new(&lo);
	if (!lg) {
		error("%s", ct_errmsg());
		goto cleanup;
	}
	while ((err = record__next(rec, &ev)) > 0) {
		if (lineage__apply(lg, &ev)) {
			error("cannot replay %s: out of memory", path);
			goto cleanup;
		}
	}
	/* a damaged recording still shows what was complete, then fails */
	if (err < 0)
		snprintf(errmsg, sizeof(errmsg), "%s: %s", path, ct_errmsg());
	if (o.output && !(out = fopen(o.output, "w"))) {
		error("cannot write %s: %s", o.output, strerror(errno));
		out = stdout;
		goto cleanup;
	}
	go.format = (enum graph_format)o.format;
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
		error("cannot write %s: %s", o.output, strerror(errno));
		rc = EXIT_CANNOT;
	}
	lineage__free(lg);
	record__close(rec);
	options__free(&o);
	return rc;
}
