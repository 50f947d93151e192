/* Recordings: what is written is read back, a replayed recording gives the same
 * graph as the events applied directly, and damaged files are refused clearly. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "events/event.h"
#include "events/record.h"
#include "graph/lineage.h"
#include "output/graph_out.h"
#include "util/log.h"

struct stack3 {
	uint32_t n, hash;
	struct ct_frame frames[3];
};

static const struct stack3 s_create = { 3, 0x1234, { { "context.WithCancel", "/usr/lib/go/src/context/context.go", 237, false },
						     { "main.helper", "/src/app/main.go", 15, true },
						     { "main.handler", "/src/app/main.go", 41, false } } };
static const struct stack3 s_go = { 1, 0x55, { { "main.handler", "/src/app/main.go", 44, false } } };
static const struct stack3 s_empty = { 0, 0, { { NULL, NULL, 0, false } } };
#define STK(s) ((const struct ct_stack *)&(s))

static char dir[64];
static char path[128];

static int setup(void **state)
{
	strcpy(dir, "/tmp/ct-test-record.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/rec", dir);
	return 0;
}

static int teardown(void **state)
{
	unlink(path);
	rmdir(dir);
	return 0;
}

/* A varied event sequence: every type, deadlines, time going backwards a bit,
 * a chunk boundary every second of event time. */
static int make_events(struct ct_event *v, int max)
{
	uint64_t t = 5000000000ULL;
	int n = 0;

#define NEXT() (memset(&v[n], 0, sizeof(v[n])), v[n].pid = 4242, v[n].tid = 4243 + n % 3, &v[n])
	for (int i = 0; i < 40 && n + 8 <= max; i++) {
		struct ct_event *e;
		uint64_t goid = 100 + i, id = 0xc000010000ULL + (uint64_t)i * 0x100;

		e = NEXT();
		e->type = EV_GO_CREATE;
		e->ts_ns = t += 1000;
		e->goid = 1;
		e->go_create.goid = goid;
		e->go_create.parent_goid = 1;
		e->go_create.go_site = STK(s_go);
		e->go_create.start_func = "main.handler.func1";
		e->go_create.start_site = i % 2 ? STK(s_empty) : NULL;
		n++;
		e = NEXT();
		e->type = EV_CTX_CREATE;
		e->ts_ns = t += 5000;
		e->goid = goid;
		e->ctx_create.id = id;
		e->ctx_create.kind = i % 3 ? CTX_TIMER : CTX_CANCEL;
		e->ctx_create.type_name = i % 3 ? "*context.timerCtx" : "*context.cancelCtx";
		e->ctx_create.parent = i ? id - 0x100 : 0x6a0000;
		e->ctx_create.parent_kind = i ? (i - 1) % 3 ? CTX_TIMER : CTX_CANCEL : CTX_BACKGROUND;
		e->ctx_create.ancestor = e->ctx_create.parent;
		e->ctx_create.ancestor_kind = e->ctx_create.parent_kind;
		e->ctx_create.has_deadline = i % 3;
		e->ctx_create.deadline_unix_ns = i % 3 ? 1700000000123456789LL - i : 0;
		e->ctx_create.preexisting = i == 5;
		e->ctx_create.discovered = i == 7;
		e->ctx_create.replaces = i == 7;
		e->ctx_create.stack = STK(s_create);
		n++;
		e = NEXT();
		e->type = EV_CTX_DONE;
		e->ts_ns = t - 100; /* slightly out of order, as across CPUs */
		e->goid = goid;
		e->ctx_done.id = id;
		e->ctx_done.site = STK(s_go);
		n++;
		if (i % 4 == 0) {
			e = NEXT();
			e->type = EV_CTX_CANCEL;
			e->ts_ns = t += 300000000ULL;
			e->goid = goid;
			e->ctx_cancel.id = id;
			e->ctx_cancel.reason = i % 8 ? CANCEL_EXPLICIT : CANCEL_DEADLINE;
			e->ctx_cancel.effective = i != 12;
			e->ctx_cancel.err = i % 8 ? "context canceled" : "context deadline exceeded";
			e->ctx_cancel.cause = i == 4 ? "main.errShutdown \"bye\"\n" : NULL;
			e->ctx_cancel.stack = STK(s_create);
			n++;
			e = NEXT();
			e->type = EV_GO_EXIT;
			e->ts_ns = t += 10;
			e->goid = goid;
			e->go_exit.goid = goid;
			n++;
		}
		if (i == 20) {
			e = NEXT();
			e->type = EV_LOST;
			e->ts_ns = t += 1;
			e->lost.ringbuf_drops = 7;
			e->lost.read_errors = 1ULL << 40;
			e->lost.decode_errors = 3;
			n++;
		}
	}
	v[n].type = EV_TARGET_EXIT;
	v[n].ts_ns = t + 1;
	v[n].pid = 4242;
	return n + 1;
#undef NEXT
}

static void str_eq(const char *a, const char *b)
{
	if (!a || !b)
		assert_ptr_equal(a, b);
	else
		assert_string_equal(a, b);
}

static void stack_eq(const struct ct_stack *a, const struct ct_stack *b)
{
	if (!a || !b) {
		assert_ptr_equal(a, b);
		return;
	}
	assert_int_equal(a->n, b->n);
	for (uint32_t i = 0; i < a->n; i++) {
		str_eq(a->frames[i].func, b->frames[i].func);
		str_eq(a->frames[i].file, b->frames[i].file);
		assert_int_equal(a->frames[i].line, b->frames[i].line);
		assert_int_equal(a->frames[i].inlined, b->frames[i].inlined);
	}
}

static void event_eq(const struct ct_event *a, const struct ct_event *b)
{
	assert_int_equal(a->type, b->type);
	assert_int_equal(a->pid, b->pid);
	assert_int_equal(a->tid, b->tid);
	assert_int_equal(a->ts_ns, b->ts_ns);
	assert_int_equal(a->goid, b->goid);
	switch (a->type) {
	case EV_CTX_CREATE:
		assert_int_equal(a->ctx_create.id, b->ctx_create.id);
		assert_int_equal(a->ctx_create.kind, b->ctx_create.kind);
		str_eq(a->ctx_create.type_name, b->ctx_create.type_name);
		assert_int_equal(a->ctx_create.parent, b->ctx_create.parent);
		assert_int_equal(a->ctx_create.parent_kind, b->ctx_create.parent_kind);
		assert_int_equal(a->ctx_create.ancestor, b->ctx_create.ancestor);
		assert_int_equal(a->ctx_create.ancestor_kind, b->ctx_create.ancestor_kind);
		assert_int_equal(a->ctx_create.has_deadline, b->ctx_create.has_deadline);
		assert_int_equal(a->ctx_create.deadline_unix_ns, b->ctx_create.deadline_unix_ns);
		assert_int_equal(a->ctx_create.preexisting, b->ctx_create.preexisting);
		assert_int_equal(a->ctx_create.discovered, b->ctx_create.discovered);
		assert_int_equal(a->ctx_create.replaces, b->ctx_create.replaces);
		stack_eq(a->ctx_create.stack, b->ctx_create.stack);
		break;
	case EV_CTX_CANCEL:
		assert_int_equal(a->ctx_cancel.id, b->ctx_cancel.id);
		assert_int_equal(a->ctx_cancel.reason, b->ctx_cancel.reason);
		assert_int_equal(a->ctx_cancel.effective, b->ctx_cancel.effective);
		str_eq(a->ctx_cancel.err, b->ctx_cancel.err);
		str_eq(a->ctx_cancel.cause, b->ctx_cancel.cause);
		stack_eq(a->ctx_cancel.stack, b->ctx_cancel.stack);
		break;
	case EV_CTX_DONE:
		assert_int_equal(a->ctx_done.id, b->ctx_done.id);
		stack_eq(a->ctx_done.site, b->ctx_done.site);
		break;
	case EV_GO_CREATE:
		assert_int_equal(a->go_create.goid, b->go_create.goid);
		assert_int_equal(a->go_create.parent_goid, b->go_create.parent_goid);
		stack_eq(a->go_create.go_site, b->go_create.go_site);
		str_eq(a->go_create.start_func, b->go_create.start_func);
		stack_eq(a->go_create.start_site, b->go_create.start_site);
		assert_int_equal(a->go_create.preexisting, b->go_create.preexisting);
		break;
	case EV_GO_EXIT:
		assert_int_equal(a->go_exit.goid, b->go_exit.goid);
		break;
	case EV_LOST:
		assert_int_equal(a->lost.ringbuf_drops, b->lost.ringbuf_drops);
		assert_int_equal(a->lost.read_errors, b->lost.read_errors);
		assert_int_equal(a->lost.decode_errors, b->lost.decode_errors);
		break;
	default:
		break;
	}
}

static const struct record_header hdr = {
	.pid = 4242,
	.mono_to_real_ns = 1700000000000000000LL,
	.start_ns = 4999999999ULL,
	.binary = "/srv/app/server",
	.go_version = "go1.22.12",
	.tool_version = "0.1.0",
};

static int write_file(const struct ct_event *v, int n)
{
	struct record *w = record__create(path, &hdr);

	assert_non_null(w);
	for (int i = 0; i < n; i++)
		assert_int_equal(record__write(w, &v[i]), 0);
	assert_int_equal(record__count(w), n);
	return record__close(w);
}

static void test_round_trip(void **state)
{
	static struct ct_event v[512], got;
	int n = make_events(v, 500), i = 0, err;
	struct record *r;

	assert_int_equal(write_file(v, n), 0);
	r = record__open(path);
	assert_non_null(r);
	assert_int_equal(record__header(r)->pid, 4242);
	assert_int_equal(record__header(r)->mono_to_real_ns, 1700000000000000000LL);
	assert_int_equal(record__header(r)->start_ns, 4999999999ULL);
	assert_string_equal(record__header(r)->binary, "/srv/app/server");
	assert_string_equal(record__header(r)->go_version, "go1.22.12");
	assert_string_equal(record__header(r)->tool_version, "0.1.0");
	while ((err = record__next(r, &got)) == 1) {
		assert_true(i < n);
		event_eq(&v[i], &got);
		i++;
	}
	assert_int_equal(err, 0);
	assert_int_equal(i, n);
	assert_int_equal(record__next(r, &got), 0);
	assert_int_equal(record__close(r), 0);
}

/* Equal stacks read back as one pointer: sites compare by pointer after replay too. */
static void test_replay_interns(void **state)
{
	static struct ct_event v[512], got;
	const struct ct_stack *first = NULL;
	int n = make_events(v, 500);
	struct record *r;

	assert_int_equal(write_file(v, n), 0);
	r = record__open(path);
	assert_non_null(r);
	while (record__next(r, &got) == 1) {
		if (got.type != EV_CTX_CREATE)
			continue;
		if (!first)
			first = got.ctx_create.stack;
		assert_ptr_equal(got.ctx_create.stack, first);
	}
	assert_non_null(first);
	record__close(r);
}

static char *graph_json(struct lineage *lg)
{
	struct graph_out_opts o = { .format = GRAPH_JSON, .pid = 4242 };
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(graph_out__write(lg, &o, f), 0);
	fclose(f);
	return buf;
}

static void test_replay_same_graph(void **state)
{
	static struct ct_event v[512], got;
	int n = make_events(v, 500);
	struct lineage *live = lineage__new(NULL), *replayed = lineage__new(NULL);
	struct record *r;
	char *a, *b;

	for (int i = 0; i < n; i++)
		assert_int_equal(lineage__apply(live, &v[i]), 0);
	assert_int_equal(write_file(v, n), 0);
	r = record__open(path);
	assert_non_null(r);
	while (record__next(r, &got) == 1)
		assert_int_equal(lineage__apply(replayed, &got), 0);
	a = graph_json(live);
	b = graph_json(replayed);
	assert_true(strlen(a) > 1000);
	assert_non_null(strstr(a, "\"main.handler\""));
	assert_string_equal(a, b);
	free(a);
	free(b);
	lineage__free(live);
	lineage__free(replayed);
	record__close(r);
}

static long file_size(void)
{
	FILE *f = fopen(path, "rb");
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fclose(f);
	return n;
}

static void read_all(uint64_t *nread, int *err)
{
	struct record *r = record__open(path);
	struct ct_event ev;

	*nread = 0;
	if (!r) {
		*err = -errno;
		return;
	}
	while ((*err = record__next(r, &ev)) == 1)
		(*nread)++;
	record__close(r);
}

static void patch(long off, uint8_t xor)
{
	FILE *f = fopen(path, "r+b");
	int c;

	assert_non_null(f);
	fseek(f, off, SEEK_SET);
	c = fgetc(f);
	fseek(f, off, SEEK_SET);
	fputc(c ^ xor, f);
	fclose(f);
}

/* Every prefix of a recording: the complete chunks replay, then a clear error. */
static void test_truncated(void **state)
{
	static struct ct_event v[512];
	int n = make_events(v, 500), err;
	long size, cut;
	uint64_t nread, last = 0;
	char msg[64];

	assert_int_equal(write_file(v, n), 0);
	size = file_size();
	for (cut = size - 1; cut >= 0; cut--) {
		assert_int_equal(truncate(path, cut), 0);
		read_all(&nread, &err);
		assert_true(err < 0);
		/* the end marker is 24 bytes: cut inside it, every event is there */
		if (cut >= size - 24)
			assert_int_equal(nread, n);
		else
			assert_true(nread < (uint64_t)n);
		if (cut >= 8)
			assert_true(err == -ENODATA);
		if (cut >= 8 && nread > 0) {
			snprintf(msg, sizeof(msg), "truncated recording after %llu events", (unsigned long long)nread);
			assert_string_equal(ct_errmsg(), msg);
		}
		/* shorter files never give more events */
		if (cut < size - 1)
			assert_true(nread <= last);
		last = nread;
	}
	/* the events came in several chunks, so some prefixes replayed part of them */
	assert_int_equal(write_file(v, n), 0);
	assert_int_equal(truncate(path, size - 30), 0);
	read_all(&nread, &err);
	assert_int_equal(err, -ENODATA);
	assert_true(nread > 0 && nread < (uint64_t)n);
	/* cut right before the end marker (24 bytes): every event, then "truncated" */
	assert_int_equal(write_file(v, n), 0);
	assert_int_equal(truncate(path, size - 24), 0);
	read_all(&nread, &err);
	assert_int_equal(err, -ENODATA);
	assert_int_equal(nread, n);
	snprintf(msg, sizeof(msg), "truncated recording after %d events", n);
	assert_string_equal(ct_errmsg(), msg);
}

static void test_corrupt(void **state)
{
	static struct ct_event v[512];
	int n = make_events(v, 500), err;
	uint64_t nread;
	long size;

	/* a flipped bit in the last data chunk: the chunks before it replay */
	assert_int_equal(write_file(v, n), 0);
	size = file_size();
	patch(size - 40, 0x10);
	read_all(&nread, &err);
	assert_int_equal(err, -EBADMSG);
	assert_true(nread < (uint64_t)n);
	assert_non_null(strstr(ct_errmsg(), "corrupt recording: checksum mismatch"));
	/* a flipped bit in the header */
	assert_int_equal(write_file(v, n), 0);
	patch(20, 0x01);
	read_all(&nread, &err);
	assert_int_equal(err, -EBADMSG);
	assert_int_equal(nread, 0);
	assert_non_null(strstr(ct_errmsg(), "damaged header"));
	/* data after the end marker */
	assert_int_equal(write_file(v, n), 0);
	{
		FILE *f = fopen(path, "ab");

		fputs("junk", f);
		fclose(f);
	}
	read_all(&nread, &err);
	assert_int_equal(err, -EBADMSG);
	assert_int_equal(nread, n);
	assert_non_null(strstr(ct_errmsg(), "data after the end marker"));
}

static void test_future_version(void **state)
{
	static struct ct_event v[512];
	int n = make_events(v, 500), err;
	uint64_t nread;

	assert_int_equal(write_file(v, n), 0);
	patch(8, RECORD_VERSION ^ 7); /* version 7 */
	read_all(&nread, &err);
	assert_int_equal(err, -EPROTONOSUPPORT);
	assert_non_null(strstr(ct_errmsg(), "version 7, newer than this ctxtrace reads (1)"));
	assert_null(strchr(ct_errmsg(), '\n'));
}

static void test_not_a_recording(void **state)
{
	FILE *f = fopen(path, "wb");
	uint64_t nread;
	int err;

	fputs("#!/bin/sh\necho hello\n", f);
	fclose(f);
	read_all(&nread, &err);
	assert_int_equal(err, -EINVAL);
	assert_non_null(strstr(ct_errmsg(), "is not a ctxtrace recording"));
	f = fopen(path, "wb");
	fclose(f);
	read_all(&nread, &err);
	assert_int_equal(err, -EINVAL);
	unlink(path);
	read_all(&nread, &err);
	assert_int_equal(err, -ENOENT);
	assert_non_null(strstr(ct_errmsg(), "cannot open recording"));
}

static void test_write_errors(void **state)
{
	struct record *w = record__create("/nonexistent-dir/x/rec", &hdr);

	assert_null(w);
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(ct_errmsg(), "cannot create recording /nonexistent-dir/x/rec"));
	if (access("/dev/full", W_OK) == 0) {
		static struct ct_event v[512];
		int n = make_events(v, 500), err = 0;

		w = record__create("/dev/full", &hdr);
		if (w) {
			for (int i = 0; i < n && !err; i++)
				err = record__write(w, &v[i]);
			if (!err)
				err = record__close(w);
			else
				record__close(w);
		} else {
			err = -errno;
		}
		assert_int_equal(err, -ENOSPC);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replay_interns, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replay_same_graph, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_future_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_a_recording, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_errors, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
