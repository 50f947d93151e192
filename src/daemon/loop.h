/* The daemon's one event loop (epoll): every file descriptor it waits on is a
 * watch whose callback runs in the loop's thread, so nothing needs a lock. */
#ifndef CT_DAEMON_LOOP_H
#define CT_DAEMON_LOOP_H

#include <stdint.h>

struct loop;
struct loop_watch;

typedef void (*loop_fn)(struct loop_watch *w, uint32_t events);

struct loop_watch {
	int fd;
	loop_fn fn;
};

struct loop *loop__new(void);
void loop__free(struct loop *l);
/* events: EPOLLIN, EPOLLOUT... 0 or -errno. */
int loop__add(struct loop *l, struct loop_watch *w, uint32_t events);
int loop__mod(struct loop *l, struct loop_watch *w, uint32_t events);
/* Safe from a callback, also for a watch with events pending in the same round. */
void loop__del(struct loop *l, struct loop_watch *w);
/* Waits up to timeout_ms (-1 forever) and runs the callbacks of ready watches.
 * Returns how many ran, or -errno (-EINTR is not an error). */
int loop__run_once(struct loop *l, int timeout_ms);

#endif
