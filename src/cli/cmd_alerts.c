/* ctxtrace alerts: a running ctxtraced's recent alerts, and new ones as they come. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "daemon/client.h"
#include "util/log.h"
#include "util/options.h"

static const char usage[] = "usage: ctxtrace alerts [--follow] [--all] [--json] [--socket PATH]\n\n"
			    "A running ctxtraced's recent alerts.\n";

int cmd_alerts(int argc, char **argv)
{
	struct cli_opts o = { 0 };
	char req[64];
	int rc = 0, r = options__parse_cmd(OPT_ALERTS, argc, argv, &o, NULL, NULL, usage);

	if (!r && o.all && !o.follow) {
		error("alerts: --all goes with --follow (the daemon keeps only alerts for later)");
		r = -EINVAL;
	}
	if (r) {
		options__free(&o);
		return r > 0 ? 0 : EXIT_USAGE;
	}
	if (o.json)
		ct_log_json = true;
	snprintf(req, sizeof(req), "%s%s", o.all ? "subscribe" : o.follow ? "alerts follow" : "alerts",
		 o.json ? "" : " text");
	if (daemon_client__request(o.socket ? o.socket : daemon_client__socket(), req, stdout)) {
		error("%s", ct_errmsg());
		rc = EXIT_CANNOT;
	}
	options__free(&o);
	return rc;
}
