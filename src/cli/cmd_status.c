/* ctxtrace status: what a running ctxtraced traces, from its socket. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "daemon/client.h"
#include "util/log.h"
#include "util/options.h"

static const char usage[] = "usage: ctxtrace status [--json] [--socket PATH]\n\n"
			    "What a running ctxtraced traces: its targets, selectors and counters.\n";

int cmd_status(int argc, char **argv)
{
	struct cli_opts o = { 0 };
	int rc = 0, r = options__parse_cmd(OPT_STATUS, argc, argv, &o, NULL, NULL, usage);

	if (r) {
		options__free(&o);
		return r > 0 ? 0 : EXIT_USAGE;
	}
	if (o.json)
		ct_log_json = true;
	if (daemon_client__request(o.socket ? o.socket : daemon_client__socket(), o.json ? "status" : "status text",
				   stdout)) {
		error("%s", ct_errmsg());
		rc = EXIT_CANNOT;
	}
	options__free(&o);
	return rc;
}
