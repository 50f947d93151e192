#include <errno.h>
#include <signal.h>
#include <time.h>

#include "cli/run_loop.h"
#include "session/session.h"
#include "util/clock.h"

#define MAX_WAIT_MS 200

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

void run_loop__signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

int run_loop__run(struct session *s, uint64_t duration_ns, int (*after_poll)(void *cookie), void *cookie)
{
	uint64_t end = duration_ns ? ct_mono_ns() + duration_ns : 0;

	while (!stop) {
		int timeout = MAX_WAIT_MS, err, r;

		if (end) {
			uint64_t now = ct_mono_ns();

			if (now >= end)
				return 0;
			if ((end - now) / 1000000 < MAX_WAIT_MS)
				timeout = (int)((end - now) / 1000000) + 1;
		}
		err = session__poll(s, timeout);
		r = after_poll ? after_poll(cookie) : 0;
		if (r)
			return r;
		if (err && err != -EINTR)
			return err;
	}
	return 0;
}
