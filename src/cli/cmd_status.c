/* Placeholder: replaced by the owner of this command. */
#include "cli/commands.h"
#include "util/log.h"

int cmd_status(int argc, char **argv)
{
	error("'status' is not implemented yet");
	return EXIT_CANNOT;
}
