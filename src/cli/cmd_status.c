/* ctxtrace status: what a running ctxtraced traces, from its socket. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "daemon/client.h"
#include "util/log.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: ctxtrace status [--json] [--socket PATH]\n\n"
		   "What a running ctxtraced traces: its targets, selectors and counters.\n"
		   "  --json         one JSON object\n"
		   "  --socket PATH  the daemon's socket (default $CTXTRACE_SOCKET or " DAEMON_SOCKET_DEFAULT ")\n");
}

int cmd_status(int argc, char **argv)
{
	const char *sock = daemon_client__socket();
	bool json = false;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
			ct_log_json = true;
		} else if (!strcmp(argv[i], "--socket") && i + 1 < argc) {
			sock = argv[++i];
		} else if (!strncmp(argv[i], "--socket=", 9)) {
			sock = argv[i] + 9;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else {
			error("status: unknown argument '%s' (see ctxtrace status --help)", argv[i]);
			return EXIT_USAGE;
		}
	}
	if (daemon_client__request(sock, json ? "status" : "status text", stdout)) {
		error("%s", ct_errmsg());
		return EXIT_CANNOT;
	}
	return 0;
}
