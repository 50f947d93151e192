#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "daemon/config.h"
#include "daemon/loop.h"
#include "daemon/metrics.h"
#include "daemon/outputs.h"
#include "daemon/server.h"

static char dir[64];

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/ct-test-outputs.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int count_lines(const char *path, char *first, size_t size)
{
	FILE *f = fopen(path, "r");
	char buf[4096];
	int n = 0;

	if (!f)
		return -1;
	while (fgets(buf, sizeof(buf), f)) {
		if (!n && first) {
			size_t k = strnlen(buf, size - 1);

			memcpy(first, buf, k);
			first[k] = '\0';
		}
		n++;
	}
	fclose(f);
	return n;
}

static long file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) ? -1 : (long)st.st_size;
}

/* 100 lines of 40 bytes into files of at most 400 bytes, 3 kept: the newest 40
 * lines survive, numbered in order across FILE.3 FILE.2 FILE.1 FILE. */
static void test_rotation(void **state)
{
	char path[128], p[160], line[64], first[64];
	struct jsonl_file *f;
	int total = 0, expect_next;

	snprintf(path, sizeof(path), "%s/a.jsonl", dir);
	f = jsonl_file__open(path, 400, 3);
	assert_non_null(f);
	for (int i = 0; i < 100; i++) {
		int n = snprintf(line, sizeof(line), "{\"n\":%04d,\"pad\":\"xxxxxxxxxxxxxxxxxxxx\"}", i);

		assert_int_equal(n, 39);
		assert_int_equal(jsonl_file__write(f, line, (size_t)n), 0);
	}
	/* 10 lines per file: 9 rotations for 100 lines. */
	assert_int_equal(jsonl_file__rotations(f), 9);
	jsonl_file__close(f);
	expect_next = 60;
	for (int k = 3; k >= 0; k--) {
		int n;

		if (k)
			snprintf(p, sizeof(p), "%s.%d", path, k);
		else
			snprintf(p, sizeof(p), "%s", path);
		assert_true(file_size(p) <= 400);
		n = count_lines(p, first, sizeof(first));
		assert_int_equal(n, 10);
		assert_int_equal(atoi(first + 5), expect_next);
		expect_next += n;
		total += n;
	}
	assert_int_equal(total, 40);
	snprintf(p, sizeof(p), "%s.4", path);
	assert_int_equal(file_size(p), -1);

	/* keep = 0: the file starts over. */
	f = jsonl_file__open(path, 400, 0);
	for (int i = 0; i < 15; i++)
		assert_int_equal(jsonl_file__write(f, line, 39), 0);
	jsonl_file__close(f);
	assert_int_equal(count_lines(path, NULL, 0), 5);

	/* Removed under the daemon (logrotate): a new file appears. */
	f = jsonl_file__open(path, 4096, 1);
	unlink(path);
	assert_int_equal(jsonl_file__write(f, line, 39), 0);
	jsonl_file__close(f);
	assert_int_equal(count_lines(path, NULL, 0), 1);
}

static int on_request(void *cookie, const char *verb, const char *arg, bool text, FILE *f, bool *follow, char *msg,
		      size_t msglen)
{
	if (!strcmp(verb, "status")) {
		fprintf(f, text ? "status in text\n" : "{\"type\":\"status\"}\n");
		return 0;
	}
	if (!strcmp(verb, "alerts")) {
		fprintf(f, "{\"old\":1}\n");
		*follow = arg && !strcmp(arg, "follow");
		return 0;
	}
	/* "lines N": N numbered lines of 100 bytes, the last one without its newline. */
	if (!strcmp(verb, "lines") || !strcmp(verb, "graph")) {
		int n = arg ? atoi(arg) : 0;

		for (int i = 0; i < n; i++)
			fprintf(f, "{\"line\":%06d,\"pid\":%06d,\"pad\":\"%062d\"}%s", i, (int)getpid(), 0,
				i + 1 < n ? "\n" : "");
		return 0;
	}
	snprintf(msg, msglen, "unknown request '%s'", verb);
	return -EINVAL;
}

static int dial(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* Runs the loop until fd has something to read (or 2 s pass). */
static void pump(struct loop *l, int fd)
{
	for (int i = 0; i < 200; i++) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		loop__run_once(l, 10);
		if (poll(&p, 1, 0) > 0)
			return;
	}
}

/* Reads everything until EOF, running the loop meanwhile. */
static size_t read_all(struct loop *l, int fd, char *buf, size_t size)
{
	size_t off = 0;

	for (int i = 0; i < 500; i++) {
		ssize_t n;

		pump(l, fd);
		n = recv(fd, buf + off, size - 1 - off, MSG_DONTWAIT);
		if (n == 0)
			break;
		if (n > 0)
			off += (size_t)n;
	}
	buf[off] = '\0';
	return off;
}

static struct server *make_opts(struct loop *l, struct server_opts *o)
{
	char path[128];
	struct server *s;

	snprintf(path, sizeof(path), "%s/s.sock", dir);
	o->path = path;
	o->mode = 0600;
	o->on_request = on_request;
	s = server__new(l, o);
	assert_non_null(s);
	return s;
}

/* Answers are cut after a whole line at answer_max and say so; a short answer
 * gets its last newline; forked verbs come from a child process (the pid in
 * the lines is not ours) and are cut the same way. */
static void test_answer_limits(void **state)
{
	static const char *const forked[] = { "graph", NULL };
	struct server_opts o = { .queue_bytes = 4096, .max_clients = 8, .answer_max = 64 * 1024,
				 .forked_verbs = forked };
	struct loop *l = loop__new();
	struct server *s = make_opts(l, &o);
	static char buf[1 << 20];
	struct server_stats st;
	char want[64];
	size_t n;
	int fd;

	for (int pass = 0; pass < 2; pass++) {
		const char *verb = pass ? "graph" : "lines";
		char req[64];

		/* 3 lines: whole, newline added */
		fd = dial(server__path(s));
		n = (size_t)snprintf(req, sizeof(req), "%s 3\n", verb);
		assert_int_equal(write(fd, req, n), (ssize_t)n);
		n = read_all(l, fd, buf, sizeof(buf));
		close(fd);
		assert_int_equal(n, 3 * 100);
		assert_int_equal(buf[n - 1], '\n');
		/* 1000 lines = 100 KB: cut after line 654 (65,500 bytes), then the marker */
		fd = dial(server__path(s));
		n = (size_t)snprintf(req, sizeof(req), "%s 1000\n", verb);
		assert_int_equal(write(fd, req, n), (ssize_t)n);
		n = read_all(l, fd, buf, sizeof(buf));
		close(fd);
		snprintf(want, sizeof(want), "{\"type\":\"truncated\",\"limit\":%d}\n", 64 * 1024);
		assert_true(n == 655 * 100 + strlen(want));
		assert_memory_equal(buf + 655 * 100, want, strlen(want));
		assert_true(!strncmp(buf + 654 * 100, "{\"line\":000654,", 15));
		{
			char self[32];

			snprintf(self, sizeof(self), "\"pid\":%06d", (int)getpid());
			/* the child's lines name the child */
			assert_true(pass ? !strstr(buf, self) : strstr(buf, self) == buf + 15);
		}
	}
	server__tick(s);
	server__stats(s, &st);
	assert_int_equal(st.truncated, 1);
	assert_int_equal(st.forked, 2);
	server__free(s);
	loop__free(l);
}

/* A client that asks and never reads is closed after answer_timeout_s, and its
 * queue with it. */
static void test_stalled_client(void **state)
{
	struct server_opts o = { .queue_bytes = 4096, .max_clients = 8, .answer_timeout_s = 1 };
	struct loop *l = loop__new();
	struct server *s = make_opts(l, &o);
	struct server_stats st;
	int fd, rcv = 4096;

	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	{
		struct sockaddr_un sa = { .sun_family = AF_UNIX };

		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", server__path(s));
		assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	}
	assert_int_equal(write(fd, "lines 5000\n", 11), 11);
	for (int i = 0; i < 20; i++)
		loop__run_once(l, 10);
	server__stats(s, &st);
	assert_true(st.queued_bytes > 100000);
	sleep(2);
	server__tick(s);
	server__stats(s, &st);
	assert_int_equal(st.stalled, 1);
	assert_int_equal(st.clients, 0);
	assert_int_equal(st.queued_bytes, 0);
	close(fd);
	server__free(s);
	loop__free(l);
}

static struct server *make(struct loop *l, size_t queue, int max_clients)
{
	char path[128];
	struct server_opts o = { .mode = 0600, .queue_bytes = queue, .max_clients = max_clients,
				 .on_request = on_request };
	struct server *s;

	snprintf(path, sizeof(path), "%s/s.sock", dir);
	o.path = path;
	s = server__new(l, &o);
	assert_non_null(s);
	return s;
}

static void test_requests(void **state)
{
	struct loop *l = loop__new();
	struct server *s = make(l, 4096, 2);
	char buf[4096];
	struct stat st;
	int fd;

	assert_int_equal(stat(server__path(s), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_true(S_ISSOCK(st.st_mode));

	fd = dial(server__path(s));
	assert_int_equal(write(fd, "status\n", 7), 7);
	read_all(l, fd, buf, sizeof(buf));
	assert_string_equal(buf, "{\"type\":\"status\"}\n");
	close(fd);

	fd = dial(server__path(s));
	assert_int_equal(write(fd, "status text\n", 12), 12);
	read_all(l, fd, buf, sizeof(buf));
	assert_string_equal(buf, "status in text\n");
	close(fd);

	fd = dial(server__path(s));
	assert_int_equal(write(fd, "frobnicate\n", 11), 11);
	read_all(l, fd, buf, sizeof(buf));
	assert_string_equal(buf, "{\"type\":\"error\",\"message\":\"unknown request 'frobnicate'\"}\n");
	close(fd);

	fd = dial(server__path(s));
	assert_int_equal(write(fd, "nope text\n", 10), 10);
	read_all(l, fd, buf, sizeof(buf));
	assert_string_equal(buf, "error: unknown request 'nope'\n");
	close(fd);

	/* A second daemon on the same path is refused; the socket stays. */
	{
		struct server_opts o = { .path = server__path(s), .mode = 0600, .queue_bytes = 4096, .max_clients = 1,
					 .on_request = on_request };

		assert_null(server__new(l, &o));
		assert_int_equal(errno, EADDRINUSE);
		assert_int_equal(stat(server__path(s), &st), 0);
	}
	server__free(s);
	{
		char path[128];

		snprintf(path, sizeof(path), "%s/s.sock", dir);
		assert_int_equal(stat(path, &st), -1); /* removed on exit */
	}
	loop__free(l);
}

static void test_max_clients(void **state)
{
	struct loop *l = loop__new();
	struct server *s = make(l, 4096, 1);
	char buf[512];
	int a, b;
	struct server_stats st;

	a = dial(server__path(s));
	loop__run_once(l, 10);
	b = dial(server__path(s));
	read_all(l, b, buf, sizeof(buf));
	assert_string_equal(buf, "{\"type\":\"error\",\"message\":\"too many clients\"}\n");
	server__stats(s, &st);
	assert_int_equal(st.clients, 1);
	assert_int_equal(st.refused, 1);
	close(a);
	close(b);
	server__free(s);
	loop__free(l);
}

/* A client that never asks anything does not keep its slot. */
static void test_request_timeout(void **state)
{
	char path[128];
	struct server_opts o = { .mode = 0600, .queue_bytes = 4096, .max_clients = 1, .request_timeout_s = 1,
				 .on_request = on_request };
	struct loop *l = loop__new();
	struct server *s;
	struct server_stats st;
	char buf[512];
	int a, b;

	snprintf(path, sizeof(path), "%s/s.sock", dir);
	o.path = path;
	s = server__new(l, &o);
	assert_non_null(s);
	a = dial(path);
	loop__run_once(l, 10);
	server__tick(s);
	server__stats(s, &st);
	assert_int_equal(st.clients, 1);
	sleep(2);
	server__tick(s);
	server__stats(s, &st);
	assert_int_equal(st.clients, 0);
	assert_int_equal(st.timeouts, 1);
	assert_int_equal(recv(a, buf, sizeof(buf), 0), 0); /* closed on it */
	/* Its slot is free again. */
	b = dial(path);
	assert_int_equal(write(b, "status\n", 7), 7);
	read_all(l, b, buf, sizeof(buf));
	assert_string_equal(buf, "{\"type\":\"status\"}\n");
	close(a);
	close(b);
	server__free(s);
	loop__free(l);
}

/* A subscriber that does not read: the daemon never blocks, drops what does
 * not fit, and tells the subscriber how many before the next line it gets. */
static void test_slow_subscriber(void **state)
{
	struct loop *l = loop__new();
	struct server *s = make(l, 8192, 4);
	struct server_stats st;
	int fd = dial(server__path(s)), rcv = 4096;
	char line[128], *buf;
	size_t got, cap = 16 << 20;
	uint64_t received = 0, told = 0, published = 0;
	long last = -1;
	bool in_order = true;

	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	assert_int_equal(write(fd, "subscribe\n", 10), 10);
	for (int i = 0; i < 50; i++)
		loop__run_once(l, 1);
	server__stats(s, &st);
	assert_int_equal(st.subscribers, 1);
	for (int i = 0; i < 20000; i++) {
		snprintf(line, sizeof(line), "{\"seq\":%d,\"pad\":\"%060d\"}", i, 0);
		server__publish(s, line, "text", true);
		published++;
	}
	server__stats(s, &st);
	assert_true(st.lines_dropped > 0);
	assert_int_equal(st.lines_sent + st.lines_dropped, published);
	/* Drain, then one more line carries the drop notice. */
	buf = malloc(cap);
	got = 0;
	for (int i = 0; i < 2000; i++) {
		ssize_t n;

		loop__run_once(l, 1);
		n = recv(fd, buf + got, cap - 1 - got, MSG_DONTWAIT);
		if (n > 0)
			got += (size_t)n;
		else if (i > 100)
			break;
	}
	server__publish(s, "{\"seq\":20000}", "text", true);
	published++;
	for (int i = 0; i < 200; i++) {
		ssize_t n;

		loop__run_once(l, 1);
		n = recv(fd, buf + got, cap - 1 - got, MSG_DONTWAIT);
		if (n > 0)
			got += (size_t)n;
		if (got && buf[got - 1] == '\n' && strstr(buf + (got > 64 ? got - 64 : 0), "\"seq\":20000"))
			break;
	}
	buf[got] = '\0';
	for (char *p = buf, *nl; (nl = strchr(p, '\n')); p = nl + 1) {
		long seq;
		uint64_t dropped;

		*nl = '\0';
		if (sscanf(p, "{\"type\":\"dropped\",\"count\":%" SCNu64 "}", &dropped) == 1) {
			told += dropped;
			continue;
		}
		if (sscanf(p, "{\"seq\":%ld", &seq) != 1)
			fail_msg("unexpected line '%s'", p);
		if (seq <= last)
			in_order = false;
		last = seq;
		received++;
	}
	assert_true(in_order);
	assert_int_equal(last, 20000);
	server__stats(s, &st);
	/* Every line arrived or was counted as dropped, and the count was told. */
	assert_int_equal(received + st.lines_dropped, published);
	assert_int_equal(told, st.lines_dropped);
	free(buf);
	close(fd);
	server__free(s);
	loop__free(l);
}

static void test_history_and_fanout(void **state)
{
	char err[256], path[128], *hist = NULL, conf[256], cpath[128];
	size_t hlen = 0;
	struct config *c;
	struct outputs *o;
	FILE *f;
	int n = 0, first = -1, saved;

	snprintf(path, sizeof(path), "%s/out.jsonl", dir);
	snprintf(cpath, sizeof(cpath), "%s/c.conf", dir);
	snprintf(conf, sizeof(conf), "[output]\njson_file = %s\n[daemon]\nlog = stderr\nlog_events = false\n", path);
	f = fopen(cpath, "w");
	fputs(conf, f);
	fclose(f);
	c = config__load(cpath, false, NULL, 0, err, sizeof(err));
	assert_non_null(c);
	o = outputs__new(c, NULL);
	assert_non_null(o);
	/* Alerts are logged to stderr too; not here. */
	fflush(stderr);
	saved = dup(2);
	dup2(open("/dev/null", O_WRONLY), 2);
	for (int i = 0; i < 300; i++) {
		char json[64], text[64];
		struct out_event ev = { .kind = i % 2 ? OUT_ATTACH : OUT_ALERT, .json = json, .text = text,
					.priority = 4 };

		snprintf(json, sizeof(json), "{\"i\":%d}", i);
		snprintf(text, sizeof(text), "event %d", i);
		outputs__emit(o, &ev);
	}
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	/* Every record in the file; the last 128 alerts in the history, oldest first. */
	assert_int_equal(count_lines(path, NULL, 0), 300);
	f = open_memstream(&hist, &hlen);
	outputs__write_history(o, f, false);
	fclose(f);
	for (char *p = hist, *nl; (nl = strchr(p, '\n')); p = nl + 1) {
		int i;

		assert_int_equal(sscanf(p, "{\"i\":%d}", &i), 1);
		assert_int_equal(i % 2, 0);
		if (first < 0)
			first = i;
		n++;
	}
	assert_int_equal(n, 128);
	assert_int_equal(first, 2 * (150 - 128));
	free(hist);
	outputs__free(o);
	config__free(c);
}

static void test_prom(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct prom_label l[] = { { "target", "a\"b\\c\nd" }, { "rule", "lost-cancel" } };

	prom__family(f, "ctxtrace_alerts_total", "counter", "Alerts,\nby rule.");
	prom__sample(f, "ctxtrace_alerts_total", l, 2, 18446744073709551615ULL);
	prom__sample(f, "ctxtrace_targets", NULL, 0, 0);
	prom__sample_double(f, "x", NULL, 0, 0.5);
	fclose(f);
	assert_string_equal(buf, "# HELP ctxtrace_alerts_total Alerts,\\nby rule.\n"
				 "# TYPE ctxtrace_alerts_total counter\n"
				 "ctxtrace_alerts_total{target=\"a\\\"b\\\\c\\nd\",rule=\"lost-cancel\"} 18446744073709551615\n"
				 "ctxtrace_targets 0\n"
				 "x 0.5\n");
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rotation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_clients, setup, teardown),
		cmocka_unit_test_setup_teardown(test_answer_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stalled_client, setup, teardown),
		cmocka_unit_test_setup_teardown(test_request_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slow_subscriber, setup, teardown),
		cmocka_unit_test_setup_teardown(test_history_and_fanout, setup, teardown),
		cmocka_unit_test(test_prom),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
