#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "probes/bpf_log.h"
#include "util/log.h"
#include "version.h"

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
} commands[] = {
	{ "inspect", cmd_inspect, "inspect [--json] BINARY | -p PID     what ctxtrace sees in a Go binary" },
	{ "watch", cmd_watch, "watch -p PID [--events] [--json]     stream leak alerts (or raw events)" },
	{ "snapshot", cmd_snapshot, "snapshot -p PID [--json]             judge what memory holds, no probe" },
	{ "graph", cmd_graph, "graph -p PID [--format F]            the context lineage graph" },
	{ "replay", cmd_replay, "replay FILE [--format F]             rebuild the graph from a recording" },
	{ "run", cmd_run, "run [--fail-on SEV] -- CMD [ARGS]    run a Go program traced, judge it at exit" },
	{ "status", cmd_status, "status                               a running ctxtraced's targets" },
	{ "alerts", cmd_alerts, "alerts [--follow]                    a running ctxtraced's alerts" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: ctxtrace [-v] COMMAND [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %s\n", commands[i].help);
	fprintf(f, "\n'ctxtrace COMMAND --help' for a command's options; man ctxtrace(8).\n");
}

int main(int argc, char **argv)
{
	int i = 1;

	bpf_log__install();
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose")) {
			ct_verbosity++;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--version")) {
			printf("ctxtrace %s\n", CTXTRACE_VERSION);
			return 0;
		} else {
			error("unknown option '%s' (see ctxtrace --help)", argv[i]);
			return EXIT_USAGE;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	for (size_t c = 0; c < sizeof(commands) / sizeof(commands[0]); c++) {
		if (!strcmp(argv[i], commands[c].name))
			return commands[c].fn(argc - i, argv + i);
	}
	error("unknown command '%s' (see ctxtrace --help)", argv[i]);
	return EXIT_USAGE;
}
