#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "daemon/loop.h"

#define LOOP_BATCH 64

struct loop {
	int epfd;
	/* Watches deleted while a round's events are dispatched: their pending
	 * events must not run. */
	struct loop_watch *deleted[LOOP_BATCH];
	int ndeleted;
	bool dispatching;
	bool overflow;
};

struct loop *loop__new(void)
{
	struct loop *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		int err = errno;

		free(l);
		errno = err;
		return NULL;
	}
	return l;
}

void loop__free(struct loop *l)
{
	if (!l)
		return;
	close(l->epfd);
	free(l);
}

int loop__add(struct loop *l, struct loop_watch *w, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	return epoll_ctl(l->epfd, EPOLL_CTL_ADD, w->fd, &ev) ? -errno : 0;
}

int loop__mod(struct loop *l, struct loop_watch *w, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	return epoll_ctl(l->epfd, EPOLL_CTL_MOD, w->fd, &ev) ? -errno : 0;
}

void loop__del(struct loop *l, struct loop_watch *w)
{
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, w->fd, NULL);
	if (!l->dispatching)
		return;
	if (l->ndeleted < LOOP_BATCH)
		l->deleted[l->ndeleted++] = w;
	else
		l->overflow = true;
}

static bool was_deleted(struct loop *l, struct loop_watch *w)
{
	for (int i = 0; i < l->ndeleted; i++) {
		if (l->deleted[i] == w)
			return true;
	}
	return false;
}

int loop__run_once(struct loop *l, int timeout_ms)
{
	struct epoll_event evs[LOOP_BATCH];
	int n, ran = 0;

	n = epoll_wait(l->epfd, evs, LOOP_BATCH, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	l->dispatching = true;
	l->ndeleted = 0;
	l->overflow = false;
	for (int i = 0; i < n; i++) {
		struct loop_watch *w = evs[i].data.ptr;

		/* Past LOOP_BATCH deletions in one round, stop this round; the
		 * survivors' events come back at the next epoll_wait. */
		if (l->overflow)
			break;
		if (was_deleted(l, w))
			continue;
		w->fn(w, evs[i].events);
		ran++;
	}
	l->dispatching = false;
	return ran;
}
