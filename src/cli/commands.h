/* The ctxtrace subcommands; each lives in src/cli/cmd_<name>.c. They return the
 * process exit status: 0 done, 1 cannot do it, 2 usage error. */
#ifndef CT_COMMANDS_H
#define CT_COMMANDS_H

int cmd_inspect(int argc, char **argv);
int cmd_watch(int argc, char **argv);
int cmd_snapshot(int argc, char **argv);
int cmd_graph(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_alerts(int argc, char **argv);
int cmd_run(int argc, char **argv);

#define EXIT_CANNOT 1
#define EXIT_USAGE 2

#endif
