/* The loop `watch` and `graph` share: poll a session until a duration passes,
 * SIGINT/SIGTERM arrives, the target exits, or the caller says stop. */
#ifndef CT_RUN_LOOP_H
#define CT_RUN_LOOP_H

#include <stdint.h>

struct session;

/* Installs the SIGINT/SIGTERM handlers the loop watches (no SA_RESTART, so a
 * signal wakes the poll). Call before session__open: a signal then ends it too. */
void run_loop__signals(void);
/* Watches pid for exec (the daemon's sched_process_exec program): call before
 * session__open, so that no exec between attach and the loop is missed. 0, or
 * -errno (verbose message; the loop then runs without it). */
int run_loop__watch_exec(int pid);
/* The program pid executed, once run_loop__run returned RUN_LOOP_EXEC. */
const char *run_loop__exec_file(void);
void run_loop__free(void);

/* The target executed another program (or itself again): the image probed is
 * gone, so what was attached watches nothing. */
#define RUN_LOOP_EXEC 1

/* duration_ns 0: no limit. after_poll (may be NULL) runs after every poll; a
 * non-zero return ends the loop with it. Returns 0 when time ran out or a signal
 * came, -ESRCH when the target exited, RUN_LOOP_EXEC, after_poll's value, or -errno from the
 * session (ct_errmsg() set). */
int run_loop__run(struct session *s, uint64_t duration_ns, int (*after_poll)(void *cookie), void *cookie);

#endif
