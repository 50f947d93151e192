/* Placeholder: replaced by the owner of this command. */
#include "cli/commands.h"
#include "util/log.h"

int cmd_graph(int argc, char **argv)
{
	error("'graph' is not implemented yet");
	return EXIT_CANNOT;
}
