#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon/loop.h"
#include "daemon/server.h"
#include "util/json.h"
#include "util/log.h"

#define REQUEST_MAX 1024
#define FORKED_CAP 8
#define CHILD_STALL_S 5

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
	time_t last_progress; /* the queue last drained or started filling */
	bool waiting;         /* a forked verb waiting for a free child slot */
	char verb[32], arg[64];
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
	struct {
		pid_t pid;
		time_t started;
	} children[FORKED_CAP];
	int nchildren;
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
	s->st.queued_bytes -= c->qlen;
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
		c->srv->st.queued_bytes -= (size_t)n;
		c->last_progress = time(NULL);
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

/* Makes *buf hold at least need bytes, doubling from 4 KB. */
static int grow(char **buf, size_t *cap, size_t need)
{
	size_t c = *cap ? *cap : 4096;
	char *b;

	if (need <= *cap)
		return 0;
	while (c < need)
		c *= 2;
	b = realloc(*buf, c);
	if (!b)
		return -ENOMEM;
	*buf = b;
	*cap = c;
	return 0;
}

static void error_members(struct json_w *w, const void *msg)
{
	json_w__kv_str(w, "type", "error");
	json_w__kv_str(w, "message", msg);
}

/* {"type":"error","message":"..."} or "error: ..." */
static void error_line(FILE *f, bool text, const char *msg)
{
	char *json = text ? NULL : json_w__object_str(error_members, msg);

	if (text)
		fprintf(f, "error: %s\n", msg);
	else if (json)
		fprintf(f, "%s\n", json);
	free(json);
}

/* Appends to the queue; limited: refuse what passes the subscriber's bound. */
static int enqueue(struct client *c, const char *data, size_t len, bool limited)
{
	if (limited && (c->qlen + len > c->srv->opts.queue_bytes ||
			c->srv->st.queued_bytes + len > c->srv->opts.memory_max))
		return -ENOBUFS;
	if (!c->qlen)
		c->last_progress = time(NULL);
	if (c->qhead && c->qhead + c->qlen + len > c->qcap) {
		memmove(c->q, c->q + c->qhead, c->qlen);
		c->qhead = 0;
	}
	if (grow(&c->q, &c->qcap, c->qhead + c->qlen + len))
		return -ENOMEM;
	memcpy(c->q + c->qhead + c->qlen, data, len);
	c->qlen += len;
	c->srv->st.queued_bytes += len;
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

/* An answer's writer: passes whole lines to sink while they fit in max bytes;
 * past that, swallows the rest and ends with a truncation line. So the answer
 * held or sent is bounded, and cut where a reader can still parse it. */
struct capw {
	FILE *sink;
	char *line;
	size_t llen, lcap;
	size_t total, max;
	bool over;
};

static ssize_t capw_write(void *cookie, const char *data, size_t n)
{
	struct capw *w = cookie;
	size_t done = 0;

	while (done < n && !w->over) {
		const char *nl = memchr(data + done, '\n', n - done);
		size_t chunk = nl ? (size_t)(nl - (data + done)) + 1 : n - done;

		if (w->total + w->llen + chunk > w->max) {
			w->over = true;
			break;
		}
		if (grow(&w->line, &w->lcap, w->llen + chunk)) {
			w->over = true;
			break;
		}
		memcpy(w->line + w->llen, data + done, chunk);
		w->llen += chunk;
		done += chunk;
		if (nl) {
			fwrite(w->line, 1, w->llen, w->sink);
			w->total += w->llen;
			w->llen = 0;
		}
	}
	return (ssize_t)n;
}

static FILE *capw_open(struct capw *w, FILE *sink, size_t max)
{
	static const cookie_io_functions_t io = { .write = capw_write };

	memset(w, 0, sizeof(*w));
	w->sink = sink;
	w->max = max;
	return fopencookie(w, "w", io);
}

/* Closes f; the last line gets its newline; 1 when the answer was cut. */
static int capw_close(struct capw *w, FILE *f, bool text)
{
	fclose(f);
	if (!w->over && w->llen) {
		fwrite(w->line, 1, w->llen, w->sink);
		fputc('\n', w->sink);
	}
	if (w->over) {
		if (text)
			fprintf(w->sink, "truncated: the answer is longer than %zu bytes, the daemon's limit\n", w->max);
		else
			fprintf(w->sink, "{\"type\":\"truncated\",\"limit\":%zu}\n", w->max);
	}
	free(w->line);
	return w->over;
}

static bool is_forked(const struct server *s, const char *verb)
{
	for (const char *const *v = s->opts.forked_verbs; v && *v; v++) {
		if (!strcmp(*v, verb))
			return true;
	}
	return false;
}

/* The child: answers on the client's socket (blocking, so a client that does
 * not read stops it, and the alarm ends it), then exits. */
static void child_answer(struct server *s, struct client *c, const char *verb, const char *arg)
{
	char msg[512] = "";
	struct capw w;
	bool follow = false;
	sigset_t none;
	FILE *sink, *f;
	int fd = c->w.fd, r;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	alarm(s->opts.answer_timeout_s);
	/* Nothing of the daemon's but this client: the other sockets must see EOF
	 * when the daemon closes them, not when this child exits. */
	if (fd > 3)
		close_range(3, (unsigned int)fd - 1, 0);
	close_range((unsigned int)fd + 1, ~0U, 0);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	/* A client that stops reading frees the slot after CHILD_STALL_S. */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &(struct timeval){ .tv_sec = CHILD_STALL_S }, sizeof(struct timeval));
	sink = fdopen(fd, "w");
	if (!sink)
		_exit(1);
	f = capw_open(&w, sink, s->opts.answer_max);
	if (!f)
		_exit(1);
	r = s->opts.on_request(s->opts.cookie, verb, arg, c->text, f, &follow, msg, sizeof(msg));
	if (r) {
		fclose(f);
		free(w.line);
		error_line(sink, c->text, msg[0] ? msg : strerror(-r));
	} else {
		capw_close(&w, f, c->text);
	}
	fflush(sink);
	shutdown(fd, SHUT_WR);
	_exit(0);
}

/* 0 when a child took the client (closed here), -EAGAIN when no slot is free. */
static int fork_answer(struct client *c, const char *verb, const char *arg)
{
	struct server *s = c->srv;
	pid_t pid;

	if (s->nchildren >= s->opts.max_forked)
		return -EAGAIN;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0)
		child_answer(s, c, verb, arg);
	s->children[s->nchildren].pid = pid;
	s->children[s->nchildren].started = time(NULL);
	s->nchildren++;
	s->st.forked++;
	client_close(c);
	return 0;
}

static void reply_error(struct client *c, const char *msg);

/* Clients waiting for a child slot, oldest first (the list is newest first). */
static void serve_waiting(struct server *s)
{
	struct client *c, *oldest;

	while (s->nchildren < s->opts.max_forked) {
		oldest = NULL;
		for (c = s->clients; c; c = c->next) {
			if (c->waiting)
				oldest = c;
		}
		if (!oldest)
			return;
		oldest->waiting = false;
		if (fork_answer(oldest, oldest->verb, oldest->arg[0] ? oldest->arg : NULL) < 0)
			reply_error(oldest, "cannot start the answer: out of processes");
	}
}

static void reap_children(struct server *s, bool kill_all)
{
	time_t now = time(NULL);

	for (int i = 0; i < s->nchildren;) {
		pid_t pid = s->children[i].pid;
		int status;

		if (kill_all || now - s->children[i].started > (time_t)s->opts.answer_timeout_s + 1) {
			if (!kill_all)
				s->st.forked_killed++;
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
		} else if (waitpid(pid, &status, WNOHANG) != pid) {
			i++;
			continue;
		}
		if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
			s->st.forked_killed++;
		s->children[i] = s->children[--s->nchildren];
	}
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
	struct capw cw;
	FILE *f, *cf;

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
	if (is_forked(s, verb)) {
		if (strlen(verb) >= sizeof(c->verb) || (arg && strlen(arg) >= sizeof(c->arg))) {
			reply_error(c, "request too long");
			return;
		}
		r = fork_answer(c, verb, arg);
		if (r == -EAGAIN) {
			/* Its turn comes when a child ends (server__tick). */
			snprintf(c->verb, sizeof(c->verb), "%s", verb);
			snprintf(c->arg, sizeof(c->arg), "%s", arg ? arg : "");
			c->waiting = true;
		} else if (r) {
			reply_error(c, "cannot start the answer: out of processes");
		}
		return;
	}
	if (s->st.queued_bytes >= s->opts.memory_max) {
		s->st.busy++;
		reply_error(c, "busy: the daemon's clients hold too much unread data; try again");
		return;
	}
	f = open_memstream(&out, &outlen);
	if (!f) {
		client_close(c);
		return;
	}
	cf = capw_open(&cw, f, s->opts.answer_max);
	if (!cf) {
		fclose(f);
		free(out);
		client_close(c);
		return;
	}
	if (!strcmp(verb, "subscribe") && !arg) {
		follow = true;
		r = 0;
	} else {
		r = s->opts.on_request(s->opts.cookie, verb, arg, c->text, cf, &follow, msg, sizeof(msg));
	}
	if (capw_close(&cw, cf, c->text))
		s->st.truncated++;
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
	if (!s->opts.answer_max)
		s->opts.answer_max = SERVER_ANSWER_MAX;
	if (!s->opts.memory_max)
		s->opts.memory_max = SERVER_MEMORY_MAX;
	if (!s->opts.answer_timeout_s)
		s->opts.answer_timeout_s = SERVER_ANSWER_TIMEOUT_S;
	if (!s->opts.max_forked)
		s->opts.max_forked = SERVER_MAX_FORKED;
	if (s->opts.max_forked > FORKED_CAP)
		s->opts.max_forked = FORKED_CAP;
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

void server__set_limits(struct server *s, size_t queue_bytes, int max_clients, size_t answer_max,
			size_t memory_max)
{
	s->opts.queue_bytes = queue_bytes;
	s->opts.max_clients = max_clients;
	s->opts.answer_max = answer_max ? answer_max : SERVER_ANSWER_MAX;
	s->opts.memory_max = memory_max ? memory_max : SERVER_MEMORY_MAX;
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
		} else if (c->qlen && now - c->last_progress >= (time_t)s->opts.answer_timeout_s) {
			/* It does not read: its queue would sit in memory for ever. */
			s->st.stalled++;
			client_close(c);
		}
	}
	reap_children(s, false);
	serve_waiting(s);
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
	reap_children(s, true);
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
