/* Placeholder: replaced by the owner of this command. */
#include "cli/commands.h"
#include "util/log.h"

int cmd_watch(int argc, char **argv)
{
	error("'watch' is not implemented yet");
	return EXIT_CANNOT;
}
