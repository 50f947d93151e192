/* ctxtrace alerts: a running ctxtraced's recent alerts, and new ones as they come. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "daemon/client.h"
#include "util/log.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: ctxtrace alerts [--follow] [--all] [--json] [--socket PATH]\n\n"
		   "A running ctxtraced's recent alerts.\n"
		   "  -f, --follow   then every new alert, until interrupted\n"
		   "  --all          with --follow: every record (target attach/detach, reloads), not only alerts\n"
		   "  --json         JSON Lines, as the daemon's socket and file carry them\n"
		   "  --socket PATH  the daemon's socket (default $CTXTRACE_SOCKET or " DAEMON_SOCKET_DEFAULT ")\n");
}

int cmd_alerts(int argc, char **argv)
{
	const char *sock = daemon_client__socket();
	bool json = false, follow = false, all = false;
	char req[64];

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
			ct_log_json = true;
		} else if (!strcmp(argv[i], "-f") || !strcmp(argv[i], "--follow")) {
			follow = true;
		} else if (!strcmp(argv[i], "--all")) {
			all = true;
		} else if (!strcmp(argv[i], "--socket") && i + 1 < argc) {
			sock = argv[++i];
		} else if (!strncmp(argv[i], "--socket=", 9)) {
			sock = argv[i] + 9;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else {
			error("alerts: unknown argument '%s' (see ctxtrace alerts --help)", argv[i]);
			return EXIT_USAGE;
		}
	}
	if (all && !follow) {
		error("alerts: --all goes with --follow (the daemon keeps only alerts for later)");
		return EXIT_USAGE;
	}
	snprintf(req, sizeof(req), "%s%s", all ? "subscribe" : follow ? "alerts follow" : "alerts",
		 json ? "" : " text");
	if (daemon_client__request(sock, req, stdout)) {
		error("%s", ct_errmsg());
		return EXIT_CANNOT;
	}
	return 0;
}
