#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon/client.h"
#include "util/json.h"
#include "util/log.h"

/* Who may connect: the socket's group (socket_group in the daemon's config). */
static const char *who_may(const char *path)
{
	static char buf[160];
	struct group *g;
	struct stat st;

	if (stat(path, &st)) /* a directory on the way is closed */
		return "its directory is not open to you; use sudo";
	g = getgrgid(st.st_gid);
	if (g && st.st_gid != 0 && (st.st_mode & S_IWGRP))
		snprintf(buf, sizeof(buf), "join group %.64s, or use sudo", g->gr_name);
	else
		snprintf(buf, sizeof(buf), "only %s may connect; use sudo", st.st_gid ? "its owner" : "root");
	return buf;
}

const char *daemon_client__socket(void)
{
	const char *s = getenv("CTXTRACE_SOCKET");

	return s && *s ? s : DAEMON_SOCKET_DEFAULT;
}

static int dial(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, err;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		ct_errmsg_set("cannot reach ctxtraced at %s: the path is too long", path);
		return -ENAMETOOLONG;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = -errno;
		ct_errmsg_set("cannot create a socket: %s", strerror(-err));
		return err;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		err = -errno;
		close(fd);
		if (err == -ENOENT || err == -ECONNREFUSED)
			ct_errmsg_set("cannot reach ctxtraced at %s: %s (is the daemon running?)", path,
				      strerror(-err));
		else if (err == -EACCES || err == -EPERM)
			ct_errmsg_set("cannot reach ctxtraced at %s: permission denied (%s)", path, who_may(path));
		else
			ct_errmsg_set("cannot reach ctxtraced at %s: %s", path, strerror(-err));
		return err;
	}
	return fd;
}

/* An error reply: "error: MESSAGE" (text mode) or {"type":"error","message":...}.
 * True with the message, on one line, in msg. */
static bool error_reply(const char *line, char *msg, size_t size)
{
	char type[16];

	if (!strncmp(line, "error: ", 7)) {
		snprintf(msg, size, "%.*s", (int)strcspn(line + 7, "\n"), line + 7);
		return true;
	}
	if (json_r__str_member(line, "type", type, sizeof(type)) || strcmp(type, "error"))
		return false;
	if (json_r__str_member(line, "message", msg, size))
		snprintf(msg, size, "%.*s", (int)strcspn(line, "\n"), line);
	for (char *p = msg; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
	return true;
}

int daemon_client__request(const char *path, const char *request, FILE *out)
{
	char *req = NULL, *line = NULL;
	size_t cap = 0;
	ssize_t n;
	FILE *in;
	bool first = true;
	int fd, err = 0;

	fd = dial(path);
	if (fd < 0)
		return fd;
	if (asprintf(&req, "%s\n", request) < 0) {
		close(fd);
		ct_errmsg_set("out of memory");
		return -ENOMEM;
	}
	for (size_t off = 0, len = strlen(req); off < len;) {
		ssize_t w = send(fd, req + off, len - off, MSG_NOSIGNAL);

		if (w < 0) {
			err = -errno;
			if (err == -EINTR)
				continue;
			ct_errmsg_set("cannot talk to ctxtraced at %s: %s", path, strerror(-err));
			free(req);
			close(fd);
			return err;
		}
		off += (size_t)w;
	}
	free(req);
	in = fdopen(fd, "r");
	if (!in) {
		err = -errno;
		close(fd);
		ct_errmsg_set("cannot read from ctxtraced: %s", strerror(-err));
		return err;
	}
	while ((n = getline(&line, &cap, in)) > 0) {
		char msg[512];

		if (first && error_reply(line, msg, sizeof(msg))) {
			ct_errmsg_set("ctxtraced: %s", msg);
			err = -EPROTO;
			break;
		}
		first = false;
		if (!strncmp(line, "truncated: ", 11) || !strncmp(line, "{\"type\":\"truncated\"", 19)) {
			/* What came before is whole lines; the rest did not fit the daemon's limit. */
			ct_errmsg_set("ctxtraced cut its answer at its socket_answer_max (%lld bytes): the rest is "
				      "missing", strtoll(line + strcspn(line, "0123456789"), NULL, 10));
			err = -EFBIG;
			break;
		}
		fwrite(line, 1, (size_t)n, out);
		fflush(out);
		if (ferror(out)) {
			err = -EPIPE;
			ct_errmsg_set("cannot write the output: %s", strerror(errno));
			break;
		}
	}
	free(line);
	fclose(in);
	return err;
}
