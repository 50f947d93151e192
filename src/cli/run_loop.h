/* The loop `watch` and `graph` share: poll a session until a duration passes,
 * SIGINT/SIGTERM arrives, the target exits, or the caller says stop. */
#ifndef CT_RUN_LOOP_H
#define CT_RUN_LOOP_H

#include <stdint.h>

struct session;

/* Installs the SIGINT/SIGTERM handlers the loop watches (no SA_RESTART, so a
 * signal wakes the poll). Call before session__open: a signal then ends it too. */
void run_loop__signals(void);
/* duration_ns 0: no limit. after_poll (may be NULL) runs after every poll; a
 * non-zero return ends the loop with it. Returns 0 when time ran out or a signal
 * came, -ESRCH when the target exited, after_poll's value, or -errno from the
 * session (ct_errmsg() set). */
int run_loop__run(struct session *s, uint64_t duration_ns, int (*after_poll)(void *cookie), void *cookie);

#endif
