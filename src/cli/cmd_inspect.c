/* Placeholder: replaced by the owner of this command. */
#include "cli/commands.h"
#include "util/log.h"

int cmd_inspect(int argc, char **argv)
{
	error("'inspect' is not implemented yet");
	return EXIT_CANNOT;
}
