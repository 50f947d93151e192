#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>
#include <signal.h>
#include <time.h>

#include "cli/run_loop.h"
#include "probes/execwatch.h"
#include "session/session.h"
#include "util/clock.h"
#include "util/log.h"

#define MAX_WAIT_MS 200

static volatile sig_atomic_t stop;
static struct {
	struct execwatch *ew;
	int pid;
	bool hit;
	char file[256];
} ex;

static void on_exec(void *cookie, int pid, const char *filename)
{
	if (pid != ex.pid || ex.hit)
		return;
	ex.hit = true;
	snprintf(ex.file, sizeof(ex.file), "%s", filename);
}

int run_loop__watch_exec(int pid)
{
	ex.pid = pid;
	ex.ew = execwatch__open(on_exec, NULL);
	if (!ex.ew) {
		verbose("%s; an exec of pid %d will not be noticed", ct_errmsg(), pid);
		return -errno;
	}
	return 0;
}

const char *run_loop__exec_file(void)
{
	return ex.file;
}

void run_loop__free(void)
{
	execwatch__free(ex.ew);
	ex.ew = NULL;
}

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
	uint64_t now = ct_mono_ns();
	/* The settings table bounds DUR; saturate anyway rather than wrap. */
	uint64_t end = !duration_ns ? 0 : duration_ns > UINT64_MAX - now ? UINT64_MAX : now + duration_ns;

	while (!stop) {
		int timeout = MAX_WAIT_MS, err, r;

		if (end) {
			uint64_t now = ct_mono_ns();

			if (now >= end)
				return 0;
			if ((end - now) / 1000000 < MAX_WAIT_MS)
				timeout = (int)((end - now) / 1000000) + 1;
		}
		/* Before the session's records: the image they would be judged against is gone. */
		if (ex.ew && (execwatch__consume(ex.ew), ex.hit))
			return RUN_LOOP_EXEC;
		err = session__poll(s, timeout);
		if (ex.ew && (execwatch__consume(ex.ew), ex.hit))
			return RUN_LOOP_EXEC;
		r = after_poll ? after_poll(cookie) : 0;
		if (r)
			return r;
		if (err && err != -EINTR)
			return err;
	}
	return 0;
}
