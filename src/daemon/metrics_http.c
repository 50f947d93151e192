#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <microhttpd.h>

#include "daemon/config.h"
#include "daemon/loop.h"
#include "daemon/metrics.h"
#include "util/log.h"

struct metrics_http {
	struct loop_watch w;
	struct loop *loop;
	struct MHD_Daemon *d;
	metrics_render_fn fn;
	void *cookie;
	uint64_t requests;
	char addr[128];
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
	r = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				  const char *version, const char *upload_data, size_t *upload_size,
				  void **con_cls)
{
	struct metrics_http *m = cls;
	char *body = NULL;
	size_t len = 0;
	FILE *f;

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
	f = open_memstream(&body, &len);
	if (!f)
		return MHD_NO;
	m->requests++;
	m->fn(m->cookie, f);
	fclose(f);
	return queue_text(conn, MHD_HTTP_OK, body, len, "text/plain; version=0.0.4; charset=utf-8");
}

static void on_ready(struct loop_watch *w, uint32_t events)
{
	struct metrics_http *m = (struct metrics_http *)w;

	MHD_run(m->d);
}

struct metrics_http *metrics_http__new(struct loop *l, const char *addr, metrics_render_fn fn, void *cookie)
{
	struct metrics_http *m = calloc(1, sizeof(*m));
	struct sockaddr_storage ss;
	const union MHD_DaemonInfo *info;
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
	snprintf(m->addr, sizeof(m->addr), "%s", addr);
	if (options__parse_listen(addr, &ss, &sslen, why, sizeof(why))) {
		ct_errmsg_set("metrics_listen: '%s' %s", addr, why);
		err = -EINVAL;
		goto cleanup;
	}
	m->d = MHD_start_daemon(MHD_USE_EPOLL | (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0), 0, NULL, NULL,
				on_request, m, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned int)16, MHD_OPTION_CONNECTION_TIMEOUT,
				(unsigned int)10, MHD_OPTION_END);
	if (!m->d) {
		err = errno ? -errno : -EADDRINUSE;
		ct_errmsg_set("cannot serve metrics on %s: %s", addr, strerror(-err));
		goto cleanup;
	}
	info = MHD_get_daemon_info(m->d, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info) {
		err = -ENOTSUP;
		ct_errmsg_set("cannot serve metrics on %s: libmicrohttpd has no epoll support", addr);
		goto cleanup;
	}
	m->w.fd = info->epoll_fd;
	m->w.fn = on_ready;
	err = loop__add(l, &m->w, EPOLLIN);
	if (err) {
		ct_errmsg_set("cannot serve metrics on %s: %s", addr, strerror(-err));
		m->w.fn = NULL;
		goto cleanup;
	}
	return m;
cleanup:
	metrics_http__free(m);
	errno = -err;
	return NULL;
}

void metrics_http__tick(struct metrics_http *m)
{
	if (m)
		MHD_run(m->d);
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
	if (m->w.fn)
		loop__del(m->loop, &m->w);
	if (m->d)
		MHD_stop_daemon(m->d);
	free(m);
}
