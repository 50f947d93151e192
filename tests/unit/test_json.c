/* util/json.h: the writer's escaping read back by the reader, and the reader
 * against malformed documents (it reads the daemon's replies in the client). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "util/json.h"

static void test_reads_top_level_member(void **state)
{
	char out[64];

	assert_int_equal(json_r__str_member("{\"type\":\"error\",\"message\":\"no such pid\"}\n", "message", out,
					    sizeof(out)), 0);
	assert_string_equal(out, "no such pid");
	/* Members of nested objects, and values that look like the key, are not it. */
	assert_int_equal(json_r__str_member("{\"a\":{\"message\":\"inner\"},\"b\":[\"message\",1,-2.5e3,true,null],"
					    "\"message\":\"outer\"}", "message", out, sizeof(out)), 0);
	assert_string_equal(out, "outer");
	assert_int_equal(json_r__str_member("{\"a\":\"\\\"message\\\":\\\"fake\\\"\"}", "message", out, sizeof(out)),
			 -ENOENT);
	assert_int_equal(json_r__str_member("{\"message\":42}", "message", out, sizeof(out)), -ENOENT);
	assert_int_equal(json_r__str_member(" { } ", "message", out, sizeof(out)), -ENOENT);
}

static void test_unescapes(void **state)
{
	char out[64];

	assert_int_equal(json_r__str_member("{\"m\":\"a\\\"b\\\\c\\/d\\n\\t\\u00e9\\ud83d\\ude00\"}", "m", out,
					    sizeof(out)), 0);
	assert_string_equal(out, "a\"b\\c/d\n\t\xc3\xa9\xf0\x9f\x98\x80");
	/* A lone surrogate is no character. */
	assert_int_equal(json_r__str_member("{\"m\":\"\\ud800x\"}", "m", out, sizeof(out)), 0);
	assert_string_equal(out, "\xef\xbf\xbdx");
	/* Truncated to the buffer, still terminated. */
	assert_int_equal(json_r__str_member("{\"m\":\"abcdefgh\"}", "m", out, 4), 0);
	assert_string_equal(out, "abc");
}

static void test_refuses_malformed(void **state)
{
	static const char *const bad[] = {
		"", "[]", "\"m\"", "{", "{\"m\"}", "{\"m\":}", "{\"m\":\"x\"", "{\"m\":\"x\",}", "{\"m\":\"x\"} junk",
		"{\"m\":\"x\\q\"}", "{\"m\":\"x\\u12\"}", "{\"m\":\"a\nb\"}", "{\"a\":[1,2}", "{\"a\":tru}", "{m:\"x\"}",
		"{\"a\":-}", "error: no",
	};
	char out[16];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (json_r__str_member(bad[i], "m", out, sizeof(out)) != -EINVAL)
			fail_msg("accepted: %s", bad[i]);
	}
}

static void test_refuses_deep_nesting(void **state)
{
	char doc[400], out[8];
	size_t n = 0;

	n += (size_t)snprintf(doc + n, sizeof(doc) - n, "{\"a\":");
	for (int i = 0; i < 100; i++)
		doc[n++] = '[';
	for (int i = 0; i < 100; i++)
		doc[n++] = ']';
	snprintf(doc + n, sizeof(doc) - n, "}");
	assert_int_equal(json_r__str_member(doc, "m", out, sizeof(out)), -EINVAL);
}

static void members(struct json_w *w, const void *arg)
{
	json_w__kv_str(w, "type", "error");
	json_w__kv_str(w, "message", arg);
	json_w__kv_int(w, "n", -3);
}

/* Every byte the writer can be given comes back from the reader as it was
 * (invalid UTF-8 as U+FFFD). */
static void test_writer_round_trip(void **state)
{
	char msg[128], out[512], *json;
	int k = 0;

	for (int c = 1; c < 0x80; c++)
		msg[k++] = (char)c;
	msg[k] = '\0';
	json = json_w__object_str(members, msg);
	assert_non_null(json);
	assert_null(strchr(json, '\n'));
	assert_int_equal(json_r__str_member(json, "message", out, sizeof(out)), 0);
	assert_string_equal(out, msg);
	assert_int_equal(json_r__str_member(json, "type", out, sizeof(out)), 0);
	assert_string_equal(out, "error");
	free(json);
	json = json_w__object_str(members, "bad \xff utf-8");
	assert_int_equal(json_r__str_member(json, "message", out, sizeof(out)), 0);
	assert_string_equal(out, "bad \xef\xbf\xbd utf-8");
	free(json);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reads_top_level_member),
		cmocka_unit_test(test_unescapes),
		cmocka_unit_test(test_refuses_malformed),
		cmocka_unit_test(test_refuses_deep_nesting),
		cmocka_unit_test(test_writer_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
