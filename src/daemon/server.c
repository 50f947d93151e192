#include <errno.h>
#include <grp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "daemon/loop.h"
#include "daemon/server.h"
#include "util/json.h"
#include "util/log.h"

#define REQUEST_MAX 1024

struct client {
	struct loop_watch w; /* first: the loop hands back &w */
	struct server *srv;
	struct client *prev, *next;
	char in[REQUEST_MAX];
	size_t inlen;
	bool requested;
	bool follow, alerts_only, text;
	bool closing; /* close once the queue is flushed */
	bool want_out;
	bool in_eof; /* the client half-closed: stop polling for input */
	char *q;
	size_t qhead, qlen, qcap;
	uint64_t dropped; /* since the subscriber was last told */
	time_t accepted;
};

struct server {
	struct loop_watch w;
	struct loop *loop;
	struct server_opts opts;
	char *path;
	ino_t ino;
	dev_t dev;
	struct client *clients;
	struct server_stats st;
};

static void client_close(struct client *c)
{
	struct server *s = c->srv;

	loop__del(s->loop, &c->w);
	close(c->w.fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->st.clients--;
	if (c->follow)
		s->st.subscribers--;
	free(c->q);
	free(c);
}

static void set_events(struct client *c, bool out)
{
	if (out == c->want_out)
		return;
	c->want_out = out;
	loop__mod(c->srv->loop, &c->w, (c->in_eof ? 0 : EPOLLIN | EPOLLRDHUP) | (out ? EPOLLOUT : 0));
}

/* Sends what the queue holds; returns -1 when the client was closed. */
static int flush(struct client *c)
{
	while (c->qlen) {
		ssize_t n = send(c->w.fd, c->q + c->qhead, c->qlen, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				set_events(c, true);
				return 0;
			}
			if (errno == EINTR)
				continue;
			client_close(c);
			return -1;
		}
		c->qhead += (size_t)n;
		c->qlen -= (size_t)n;
	}
	c->qhead = 0;
	set_events(c, false);
	if (c->closing) {
		shutdown(c->w.fd, SHUT_WR);
		client_close(c);
		return -1;
	}
	return 0;
}

/* Appends to the queue; limited: refuse what passes the subscriber's bound. */
static int enqueue(struct client *c, const char *data, size_t len, bool limited)
{
	if (limited && c->qlen + len > c->srv->opts.queue_bytes)
		return -ENOBUFS;
	if (c->qhead && c->qhead + c->qlen + len > c->qcap) {
		memmove(c->q, c->q + c->qhead, c->qlen);
		c->qhead = 0;
	}
	if (c->qlen + len > c->qcap) {
		size_t cap = c->qcap ? c->qcap : 4096;
		char *q;

		while (cap < c->qlen + len)
			cap *= 2;
		q = realloc(c->q, cap);
		if (!q)
			return -ENOMEM;
		c->q = q;
		c->qcap = cap;
	}
	memcpy(c->q + c->qhead + c->qlen, data, len);
	c->qlen += len;
	return 0;
}

/* Queue memory shrinks back once a burst has drained. */
static void maybe_shrink(struct client *c)
{
	if (c->qlen == 0 && c->qcap > 65536) {
		free(c->q);
		c->q = NULL;
		c->qcap = 0;
		c->qhead = 0;
	}
}

static void error_members(struct json_w *w, const void *msg)
{
	json_w__kv_str(w, "type", "error");
	json_w__kv_str(w, "message", msg);
}

/* {"type":"error","message":"..."}, or "error: ..." in text mode. */
static void reply_error(struct client *c, const char *msg)
{
	char *json = c->text ? NULL : json_w__object_str(error_members, msg), *line = NULL;

	if ((!c->text && !json) || asprintf(&line, "%s%s\n", c->text ? "error: " : "", c->text ? msg : json) < 0) {
		free(json);
		client_close(c);
		return;
	}
	enqueue(c, line, strlen(line), false);
	free(json);
	free(line);
	c->closing = true;
	flush(c);
}

static void handle_request(struct client *c, char *line)
{
	struct server *s = c->srv;
	char *tok[4] = { 0 }, *save = NULL, *verb = NULL, *arg = NULL;
	char msg[512] = "";
	int ntok = 0, r;
	char *out = NULL;
	size_t outlen = 0;
	bool follow = false;
	FILE *f;

	for (char *t = strtok_r(line, " \t\r", &save); t; t = strtok_r(NULL, " \t\r", &save)) {
		if (ntok == 4) {
			reply_error(c, "too many words in the request");
			return;
		}
		tok[ntok++] = t;
	}
	for (int i = 0; i < ntok; i++) {
		if (!strcmp(tok[i], "text"))
			c->text = true;
		else if (!strcmp(tok[i], "json"))
			c->text = false;
		else if (!verb)
			verb = tok[i];
		else if (!arg)
			arg = tok[i];
		else {
			reply_error(c, "too many arguments in the request");
			return;
		}
	}
	if (!verb) {
		reply_error(c, "empty request (try: status, alerts, alerts follow, subscribe, graph PID)");
		return;
	}
	f = open_memstream(&out, &outlen);
	if (!f) {
		client_close(c);
		return;
	}
	if (!strcmp(verb, "subscribe") && !arg) {
		follow = true;
		r = 0;
	} else {
		r = s->opts.on_request(s->opts.cookie, verb, arg, c->text, f, &follow, msg, sizeof(msg));
	}
	fclose(f);
	if (r) {
		free(out);
		reply_error(c, msg[0] ? msg : strerror(-r));
		return;
	}
	enqueue(c, out, outlen, false);
	free(out);
	if (follow) {
		c->follow = true;
		c->alerts_only = !strcmp(verb, "alerts");
		s->st.subscribers++;
	} else {
		c->closing = true;
	}
	flush(c);
}

static void on_client(struct loop_watch *w, uint32_t events)
{
	struct client *c = (struct client *)w;

	if (events & EPOLLOUT) {
		if (flush(c) < 0)
			return;
		maybe_shrink(c);
	}
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
		char buf[REQUEST_MAX];
		ssize_t n = recv(c->w.fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			/* A one-shot client may half-close after its request. */
			if (n == 0 && c->requested && !c->follow && c->qlen) {
				c->in_eof = true;
				loop__mod(c->srv->loop, &c->w, EPOLLOUT);
				return;
			}
			client_close(c);
			return;
		}
		if (n < 0 || c->requested)
			return; /* one request per connection; later bytes are ignored */
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\n') {
				c->in[c->inlen] = '\0';
				c->requested = true;
				handle_request(c, c->in);
				return;
			}
			if (c->inlen + 1 >= sizeof(c->in)) {
				c->requested = true;
				reply_error(c, "request too long");
				return;
			}
			c->in[c->inlen++] = buf[i];
		}
	}
}

static void on_accept(struct loop_watch *w, uint32_t events)
{
	struct server *s = (struct server *)w;

	for (;;) {
		int fd = accept4(s->w.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct client *c;

		if (fd < 0)
			return;
		if (s->st.clients >= (uint64_t)s->opts.max_clients) {
			static const char msg[] = "{\"type\":\"error\",\"message\":\"too many clients\"}\n";

			send(fd, msg, sizeof(msg) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
			close(fd);
			s->st.refused++;
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			s->st.refused++;
			continue;
		}
		c->w.fd = fd;
		c->w.fn = on_client;
		c->srv = s;
		c->accepted = time(NULL);
		if (loop__add(s->loop, &c->w, EPOLLIN | EPOLLRDHUP)) {
			close(fd);
			free(c);
			s->st.refused++;
			continue;
		}
		c->next = s->clients;
		if (c->next)
			c->next->prev = c;
		s->clients = c;
		s->st.clients++;
		s->st.accepted++;
	}
}

/* A socket file left by a daemon that died is replaced; one that answers is not. */
static int clear_stale(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, r;

	if (lstat(path, &st)) {
		if (errno == ENOENT)
			return 0;
		ct_errmsg_set("cannot use socket %s: %s", path, strerror(errno));
		return -errno;
	}
	if (!S_ISSOCK(st.st_mode)) {
		ct_errmsg_set("cannot use socket %s: the path exists and is not a socket", path);
		return -EEXIST;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	if (r == 0) {
		ct_errmsg_set("cannot use socket %s: another ctxtraced is listening on it", path);
		return -EADDRINUSE;
	}
	if (unlink(path) && errno != ENOENT) {
		ct_errmsg_set("cannot replace the stale socket %s: %s", path, strerror(errno));
		return -errno;
	}
	return 0;
}

struct server *server__new(struct loop *l, const struct server_opts *opts)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct server *s = calloc(1, sizeof(*s));
	struct stat st;
	mode_t old;
	int err;

	if (!s) {
		ct_errmsg_set("out of memory");
		errno = ENOMEM;
		return NULL;
	}
	s->w.fd = -1;
	s->loop = l;
	s->opts = *opts;
	s->opts.group = NULL;
	if (!s->opts.request_timeout_s)
		s->opts.request_timeout_s = 10;
	s->path = strdup(opts->path);
	if (!s->path) {
		err = -ENOMEM;
		goto cleanup;
	}
	if (strlen(opts->path) >= sizeof(sa.sun_path)) {
		ct_errmsg_set("cannot use socket %s: the path is too long", opts->path);
		err = -ENAMETOOLONG;
		goto cleanup;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", opts->path);
	err = clear_stale(opts->path);
	if (err)
		goto cleanup;
	s->w.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->w.fd < 0) {
		err = -errno;
		ct_errmsg_set("cannot create socket %s: %s", opts->path, strerror(-err));
		goto cleanup;
	}
	/* No moment where the socket is open to more than the final mode allows. */
	old = umask(0177);
	err = bind(s->w.fd, (struct sockaddr *)&sa, sizeof(sa)) ? -errno : 0;
	umask(old);
	if (err) {
		ct_errmsg_set("cannot create socket %s: %s", opts->path, strerror(-err));
		goto cleanup;
	}
	if (!stat(opts->path, &st)) {
		s->ino = st.st_ino;
		s->dev = st.st_dev;
	}
	if (opts->group && *opts->group) {
		struct group *g = getgrnam(opts->group);

		if (!g)
			error("socket %s: group '%s' does not exist; the socket keeps the daemon's group",
			      opts->path, opts->group);
		else if (chown(opts->path, (uid_t)-1, g->gr_gid))
			error("socket %s: cannot give it to group '%s': %s", opts->path, opts->group,
			      strerror(errno));
	}
	if (chmod(opts->path, opts->mode)) {
		err = -errno;
		ct_errmsg_set("cannot set mode %04o on socket %s: %s", opts->mode, opts->path, strerror(-err));
		goto cleanup;
	}
	if (listen(s->w.fd, 64)) {
		err = -errno;
		ct_errmsg_set("cannot listen on socket %s: %s", opts->path, strerror(-err));
		goto cleanup;
	}
	s->w.fn = on_accept;
	err = loop__add(l, &s->w, EPOLLIN);
	if (err) {
		ct_errmsg_set("cannot watch socket %s: %s", opts->path, strerror(-err));
		goto cleanup;
	}
	return s;
cleanup:
	server__free(s);
	errno = -err;
	return NULL;
}

void server__set_limits(struct server *s, size_t queue_bytes, int max_clients)
{
	s->opts.queue_bytes = queue_bytes;
	s->opts.max_clients = max_clients;
}

const char *server__path(const struct server *s)
{
	return s->path;
}

void server__publish(struct server *s, const char *json, const char *text, bool alert)
{
	struct client *c, *next;

	if (!s)
		return;
	for (c = s->clients; c; c = next) {
		const char *line = c->text ? text : json;
		size_t len = strlen(line);

		next = c->next;
		if (!c->follow || (c->alerts_only && !alert))
			continue;
		if (c->dropped) {
			char note[128];
			int n;

			if (c->text)
				n = snprintf(note, sizeof(note),
					     "dropped %llu lines: this subscriber reads too slowly\n",
					     (unsigned long long)c->dropped);
			else
				n = snprintf(note, sizeof(note), "{\"type\":\"dropped\",\"count\":%llu}\n",
					     (unsigned long long)c->dropped);
			if (c->qlen + (size_t)n + len + 1 > s->opts.queue_bytes) {
				c->dropped++;
				s->st.lines_dropped++;
				continue;
			}
			enqueue(c, note, (size_t)n, false);
			c->dropped = 0;
		}
		if (c->qlen + len + 1 > s->opts.queue_bytes || enqueue(c, line, len, true) ||
		    enqueue(c, "\n", 1, false)) {
			c->dropped++;
			s->st.lines_dropped++;
			continue;
		}
		s->st.lines_sent++;
		/* Only write now when nothing is pending; otherwise EPOLLOUT will. */
		if (!c->want_out)
			flush(c);
	}
}

void server__tick(struct server *s)
{
	time_t now = time(NULL);
	struct client *c, *next;

	if (!s)
		return;
	for (c = s->clients; c; c = next) {
		next = c->next;
		if (!c->requested && now - c->accepted >= (time_t)s->opts.request_timeout_s) {
			s->st.timeouts++;
			client_close(c);
		}
	}
}

void server__stats(const struct server *s, struct server_stats *st)
{
	*st = s->st;
}

void server__free(struct server *s)
{
	struct stat st;

	if (!s)
		return;
	while (s->clients)
		client_close(s->clients);
	if (s->w.fd >= 0) {
		if (s->w.fn)
			loop__del(s->loop, &s->w);
		close(s->w.fd);
		/* Only our own socket file: a newer daemon may have replaced it. */
		if (s->ino && !stat(s->path, &st) && st.st_ino == s->ino && st.st_dev == s->dev)
			unlink(s->path);
	}
	free(s->path);
	free(s);
}
