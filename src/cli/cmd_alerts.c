/* Placeholder: replaced by the owner of this command. */
#include "cli/commands.h"
#include "util/log.h"

int cmd_alerts(int argc, char **argv)
{
	error("'alerts' is not implemented yet");
	return EXIT_CANNOT;
}
