/* /metrics over HTTP. libmicrohttpd runs in its own thread with poll(): its
 * epoll mode misses a client's FIN that arrives with the request bytes, so
 * half-open connections piled up in CLOSE-WAIT until their timeout, 16 at a
 * time, and /metrics was dead for minutes after a burst. The text itself is
 * still rendered on the daemon's loop (the state it reads lives there): the
 * HTTP thread asks through an eventfd and waits at most METRICS_WAIT_MS. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <microhttpd.h>

#include "daemon/config.h"
#include "daemon/loop.h"
#include "daemon/metrics.h"
#include "util/log.h"

struct metrics_http {
	struct loop_watch w; /* the eventfd the HTTP thread rings */
	struct loop *loop;
	struct MHD_Daemon *d;
	metrics_render_fn fn;
	void *cookie;
	char addr[128];
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char *body;     /* the latest rendering, under mu */
	size_t len;
	uint64_t gen;   /* renderings so far */
	uint64_t requests;
	bool stopping;
};

static enum MHD_Result queue_text(struct MHD_Connection *conn, unsigned int status, char *body, size_t len,
				  const char *type)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	enum MHD_Result r;

	if (!resp) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	r = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return r;
}

/* In the HTTP thread: a fresh rendering from the loop, or NULL when the loop
 * did not answer in time. */
static char *fetch(struct metrics_http *m, size_t *len)
{
	struct timespec until;
	uint64_t one = 1, want;
	char *copy = NULL;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_nsec += (long)METRICS_WAIT_MS * 1000000L;
	until.tv_sec += until.tv_nsec / 1000000000L;
	until.tv_nsec %= 1000000000L;
	pthread_mutex_lock(&m->mu);
	want = m->gen + 1;
	if (write(m->w.fd, &one, sizeof(one)) < 0 && errno != EAGAIN) {
		pthread_mutex_unlock(&m->mu);
		return NULL;
	}
	while (m->gen < want && !m->stopping) {
		if (pthread_cond_timedwait(&m->cv, &m->mu, &until) == ETIMEDOUT)
			break;
	}
	if (m->gen >= want && m->body) {
		copy = malloc(m->len ? m->len : 1);
		if (copy) {
			memcpy(copy, m->body, m->len);
			*len = m->len;
		}
	}
	pthread_mutex_unlock(&m->mu);
	return copy;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				  const char *version, const char *upload_data, size_t *upload_size,
				  void **con_cls)
{
	struct metrics_http *m = cls;
	char *body = NULL;
	size_t len = 0;

	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD)) {
		body = strdup("only GET\n");
		return queue_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, body, body ? strlen(body) : 0,
				  "text/plain; charset=utf-8");
	}
	if (!strcmp(url, "/")) {
		body = strdup("ctxtraced: metrics at /metrics\n");
		return queue_text(conn, MHD_HTTP_OK, body, body ? strlen(body) : 0, "text/plain; charset=utf-8");
	}
	if (strcmp(url, "/metrics")) {
		body = strdup("not found; metrics at /metrics\n");
		return queue_text(conn, MHD_HTTP_NOT_FOUND, body, body ? strlen(body) : 0,
				  "text/plain; charset=utf-8");
	}
	body = fetch(m, &len);
	if (!body) {
		body = strdup("ctxtraced is busy; try again\n");
		return queue_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, body, body ? strlen(body) : 0,
				  "text/plain; charset=utf-8");
	}
	return queue_text(conn, MHD_HTTP_OK, body, len, "text/plain; version=0.0.4; charset=utf-8");
}

/* On the loop: render for the waiting HTTP requests (one rendering serves all
 * that rang before it). */
static void on_ring(struct loop_watch *w, uint32_t events)
{
	struct metrics_http *m = (struct metrics_http *)w;
	uint64_t n;
	char *body = NULL;
	size_t len = 0;
	FILE *f;

	if (read(m->w.fd, &n, sizeof(n)) != sizeof(n))
		return;
	f = open_memstream(&body, &len);
	if (f) {
		m->fn(m->cookie, f);
		if (fclose(f)) {
			free(body);
			body = NULL;
		}
	}
	pthread_mutex_lock(&m->mu);
	if (body) {
		free(m->body);
		m->body = body;
		m->len = len;
	}
	m->gen++;
	m->requests += n;
	pthread_cond_broadcast(&m->cv);
	pthread_mutex_unlock(&m->mu);
}

struct metrics_http *metrics_http__new(struct loop *l, const char *addr, metrics_render_fn fn, void *cookie)
{
	struct metrics_http *m = calloc(1, sizeof(*m));
	struct sockaddr_storage ss;
	pthread_condattr_t ca;
	unsigned int sslen;
	char why[256];
	int err;

	if (!m) {
		ct_errmsg_set("out of memory");
		errno = ENOMEM;
		return NULL;
	}
	m->loop = l;
	m->fn = fn;
	m->cookie = cookie;
	pthread_mutex_init(&m->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&m->cv, &ca);
	pthread_condattr_destroy(&ca);
	snprintf(m->addr, sizeof(m->addr), "%s", addr);
	m->w.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (m->w.fd < 0) {
		err = -errno;
		ct_errmsg_set("cannot serve metrics on %s: %s", addr, strerror(-err));
		goto cleanup;
	}
	if (options__parse_listen(addr, &ss, &sslen, why, sizeof(why))) {
		ct_errmsg_set("metrics_listen: '%s' %s", addr, why);
		err = -EINVAL;
		goto cleanup;
	}
	m->w.fn = on_ring;
	err = loop__add(l, &m->w, EPOLLIN);
	if (err) {
		ct_errmsg_set("cannot serve metrics on %s: %s", addr, strerror(-err));
		m->w.fn = NULL;
		goto cleanup;
	}
	/* Bounds: METRICS_MAX_CONNECTIONS at once, each closed after
	 * METRICS_TIMEOUT_S idle, and a short listen backlog so that a burst is
	 * refused by the kernel rather than queued for minutes. */
	m->d = MHD_start_daemon(MHD_USE_POLL_INTERNAL_THREAD | (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0), 0,
				NULL, NULL, on_request, m, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned int)METRICS_MAX_CONNECTIONS,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)METRICS_TIMEOUT_S,
				MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned int)METRICS_MAX_CONNECTIONS,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(32 * 1024), MHD_OPTION_END);
	if (!m->d) {
		err = errno ? -errno : -EADDRINUSE;
		ct_errmsg_set("cannot serve metrics on %s: %s", addr, strerror(-err));
		goto cleanup;
	}
	return m;
cleanup:
	metrics_http__free(m);
	errno = -err;
	return NULL;
}

uint64_t metrics_http__requests(const struct metrics_http *m)
{
	return m ? m->requests : 0;
}

const char *metrics_http__addr(const struct metrics_http *m)
{
	return m->addr;
}

void metrics_http__free(struct metrics_http *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->mu);
	m->stopping = true;
	pthread_cond_broadcast(&m->cv);
	pthread_mutex_unlock(&m->mu);
	if (m->d)
		MHD_stop_daemon(m->d); /* joins the HTTP thread */
	if (m->w.fn)
		loop__del(m->loop, &m->w);
	if (m->w.fd > 0)
		close(m->w.fd);
	free(m->body);
	pthread_cond_destroy(&m->cv);
	pthread_mutex_destroy(&m->mu);
	free(m);
}
