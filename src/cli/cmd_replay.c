/* Placeholder: replaced by the owner of this command. */
#include "cli/commands.h"
#include "util/log.h"

int cmd_replay(int argc, char **argv)
{
	error("'replay' is not implemented yet");
	return EXIT_CANNOT;
}
