/* The event printers: each JSON line is parsed back with jq and its fields
 * compared with the event that was printed; the text line is checked for the
 * facts it must carry. */
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
#include "output/events_out.h"

struct stack2 {
	uint32_t n, hash;
	struct ct_frame frames[2];
};

static const struct stack2 stk = { 2, 1, { { "context.WithCancel", "/go/context.go", 240, true },
					  { "main.handler", "/src/app/h.go", 42, false } } };
#define STK ((const struct ct_stack *)&stk)

static char raw[8192]; /* the last line printed */

/* Prints ev as JSON into a file and runs jq FILTER on it; returns jq's output. */
static char *jq(const struct ct_event *ev, const char *filter)
{
	char path[] = "/tmp/ct-events-out-XXXXXX", cmd[1024];
	static char out[4096];
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w"), *p;
	struct events_out *eo = events_out__new(f, true);
	size_t n;

	/* 2026-01-01T00:00:00Z at monotonic 0. */
	events_out__set_clock(eo, 1767225600LL * 1000000000LL);
	assert_int_equal(events_out__print(eo, ev), 0);
	assert_int_equal(events_out__flush(eo), 0);
	events_out__free(eo);
	fclose(f);
	f = fopen(path, "r");
	assert_non_null(fgets(raw, sizeof(raw), f));
	fclose(f);
	snprintf(cmd, sizeof(cmd), "jq -c -r '%s' %s", filter, path);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	if (n && out[n - 1] == '\n')
		out[n - 1] = '\0';
	assert_int_equal(pclose(p), 0);
	unlink(path);
	return out;
}

static struct ct_event base(enum ct_event_type t)
{
	struct ct_event e;

	memset(&e, 0, sizeof(e));
	e.type = t;
	e.pid = 4242;
	e.tid = 4243;
	e.ts_ns = 1500000123;
	e.goid = 17;
	return e;
}

static void test_ctx_create(void **state)
{
	struct ct_event e = base(EV_CTX_CREATE);

	e.ctx_create.id = 0xc000012345;
	e.ctx_create.kind = CTX_TIMER;
	e.ctx_create.type_name = "*context.timerCtx";
	e.ctx_create.parent = 0xc000010000;
	e.ctx_create.parent_kind = CTX_VALUE;
	e.ctx_create.ancestor = 0xc000000100;
	e.ctx_create.ancestor_kind = CTX_CANCEL;
	e.ctx_create.has_deadline = true;
	e.ctx_create.deadline_unix_ns = 1904281689123456789LL;
	e.ctx_create.stack = STK;
	assert_string_equal(jq(&e, "[.type,.pid,.time,.ts_ns,.id,.kind,.go_type,.parent,.parent_kind,.ancestor,"
				   ".ancestor_kind,.deadline,.deadline_unix_ns,.goid,.preexisting,.discovered]"),
			    "[\"ctx_create\",4242,\"2026-01-01T00:00:01.500000123Z\",1500000123,"
			    "\"0xc000012345\",\"timer\",\"*context.timerCtx\",\"0xc000010000\",\"value\","
			    "\"0xc000000100\",\"cancel\",\"2030-05-06T07:08:09.123456789Z\","
			    "1904281689123456800,17,false,false]");
	/* jq reads numbers as doubles: the exact integer is checked in the text. */
	assert_non_null(strstr(raw, "\"deadline_unix_ns\":1904281689123456789,"));
	assert_string_equal(jq(&e, ".stack"),
			    "[{\"func\":\"context.WithCancel\",\"file\":\"/go/context.go\",\"line\":240,"
			    "\"inlined\":true},{\"func\":\"main.handler\",\"file\":\"/src/app/h.go\","
			    "\"line\":42,\"inlined\":false}]");
	assert_string_equal(jq(&e, "keys|length"), "17");

	/* Unknown and empty values are null. */
	e.ctx_create.id = 0;
	e.ctx_create.parent = 0;
	e.ctx_create.ancestor = 0;
	e.ctx_create.parent_kind = CTX_BACKGROUND;
	e.ctx_create.has_deadline = false;
	e.ctx_create.stack = NULL;
	e.ctx_create.preexisting = true;
	e.goid = 0;
	assert_string_equal(jq(&e, "[.id,.parent,.parent_kind,.ancestor,.deadline,.deadline_unix_ns,.goid,"
				   ".stack,.preexisting]"),
			    "[null,null,\"background\",null,null,null,null,null,true]");
}

static void test_ctx_type_field(void **state)
{
	struct ct_event e = base(EV_CTX_CREATE);

	e.ctx_create.id = 1;
	e.ctx_create.kind = CTX_CUSTOM;
	e.ctx_create.type_name = "*main.myCtx";
	/* One "type" key (the event's; jq would keep the last of two, so count them
	 * in the raw text); the Go type is "go_type". */
	assert_string_equal(jq(&e, "[.type, .go_type]"), "[\"ctx_create\",\"*main.myCtx\"]");
	assert_non_null(strstr(raw, "\"type\":"));
	assert_null(strstr(strstr(raw, "\"type\":") + 1, "\"type\":"));
}

static void test_cancel_done_go(void **state)
{
	struct ct_event e = base(EV_CTX_CANCEL);

	e.ctx_cancel.id = 0xc000012345;
	e.ctx_cancel.reason = CANCEL_DEADLINE;
	e.ctx_cancel.effective = false;
	e.ctx_cancel.err = "context deadline exceeded";
	e.ctx_cancel.cause = "slow \"backend\"\n\x01";
	e.ctx_cancel.stack = STK;
	assert_string_equal(jq(&e, "[.type,.id,.reason,.effective,.err,.cause,.goid,(.stack|length)]"),
			    "[\"ctx_cancel\",\"0xc000012345\",\"deadline\",false,"
			    "\"context deadline exceeded\",\"slow \\\"backend\\\"\\n\\u0001\",17,2]");

	e = base(EV_CTX_DONE);
	e.ctx_done.id = 0xc0000aaaa0;
	e.ctx_done.site = STK;
	assert_string_equal(jq(&e, "[.type,.id,.goid,.site[1].func]"),
			    "[\"ctx_done\",\"0xc0000aaaa0\",17,\"main.handler\"]");

	e = base(EV_GO_CREATE);
	e.go_create.goid = 99;
	e.go_create.parent_goid = 17;
	e.go_create.go_site = STK;
	e.go_create.start_func = "main.worker";
	assert_string_equal(jq(&e, "[.type,.goid,.parent_goid,.go_site.func,.go_site.line,.start_func,"
				   ".preexisting,(.go_stack|length)]"),
			    "[\"go_create\",99,17,\"context.WithCancel\",240,\"main.worker\",false,2]");
	e.go_create.parent_goid = 0;
	e.go_create.go_site = NULL;
	e.go_create.start_func = NULL;
	e.go_create.preexisting = true;
	assert_string_equal(jq(&e, "[.parent_goid,.go_site,.start_func,.preexisting]"), "[null,null,null,true]");

	e = base(EV_GO_EXIT);
	e.go_exit.goid = 99;
	assert_string_equal(jq(&e, "[.type,.goid]"), "[\"go_exit\",99]");

	e = base(EV_LOST);
	e.lost.ringbuf_drops = 3;
	e.lost.read_errors = 4;
	e.lost.decode_errors = 5;
	assert_string_equal(jq(&e, "[.type,.ringbuf_drops,.read_errors,.decode_errors]"), "[\"lost\",3,4,5]");

	e = base(EV_TARGET_EXIT);
	assert_string_equal(jq(&e, "[.type,.pid]"), "[\"target_exit\",4242]");
}

static void test_text(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct events_out *eo = events_out__new(f, false);
	struct ct_event e = base(EV_CTX_CANCEL);

	events_out__set_clock(eo, 1767225600LL * 1000000000LL);
	e.ctx_cancel.id = 0xc000012345;
	e.ctx_cancel.reason = CANCEL_EXPLICIT;
	e.ctx_cancel.effective = false;
	e.ctx_cancel.err = "context canceled";
	e.ctx_cancel.stack = STK;
	assert_int_equal(events_out__print(eo, &e), 0);
	e = base(EV_CTX_CREATE);
	e.ctx_create.id = 0xc000012345;
	e.ctx_create.kind = CTX_CANCEL;
	e.ctx_create.parent_kind = CTX_BACKGROUND;
	e.ctx_create.stack = STK;
	assert_int_equal(events_out__print(eo, &e), 0);
	events_out__flush(eo);
	events_out__free(eo);
	fclose(f);
	/* One line each, the time of day first, the user frame as the site. */
	assert_non_null(strstr(buf, "00:00:01.500000123 ctx_cancel  0xc000012345 explicit (already cancelled)"));
	assert_non_null(strstr(buf, "at main.handler (/src/app/h.go:42)\n"));
	assert_non_null(strstr(buf, "ctx_create  0xc000012345 cancel parent=-(background) goid=17"));
	assert_int_equal(strchr(strchr(buf, '\n') + 1, '\n') - buf + 1, (long)len);
	free(buf);
}

static void test_format_time(void **state)
{
	char buf[48];

	ct_format_time(0, buf, sizeof(buf));
	assert_string_equal(buf, "1970-01-01T00:00:00.000000000Z");
	ct_format_time(-1, buf, sizeof(buf));
	assert_string_equal(buf, "1969-12-31T23:59:59.999999999Z");
	ct_format_time(946684799999999999LL, buf, sizeof(buf));
	assert_string_equal(buf, "1999-12-31T23:59:59.999999999Z");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ctx_create),
		cmocka_unit_test(test_ctx_type_field),
		cmocka_unit_test(test_cancel_done_go),
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_format_time),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
