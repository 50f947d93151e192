#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "util/settings.h"

#define NS_S 1000000000ULL

struct cfg {
	bool flag;
	int64_t count;
	int64_t mode;
	uint64_t grace;
	uint64_t max_size;
	char *path;
	char *exe;
	int level;
};

static const char *const levels[] = { "auto", "journal", "stderr", NULL };

static int check_abs(const struct setting *s, const void *dst, char *err, size_t errlen)
{
	const char *v = *(char *const *)dst;

	if (v[0] != '/') {
		snprintf(err, errlen, "is not an absolute path");
		return -EINVAL;
	}
	return 0;
}

static const struct setting tab[] = {
	{ "flag", SET_BOOL, SETTING_OFF(struct cfg, flag), .def = "true", .help = "a flag" },
	{ "min_count", SET_INT, SETTING_OFF(struct cfg, count), 1, 1000000, "3", NULL, "a count" },
	{ "mode", SET_OCTAL, SETTING_OFF(struct cfg, mode), 0, 0777, "0660", NULL, "a mode" },
	{ "grace", SET_DURATION, SETTING_OFF(struct cfg, grace), NS_S, 86400 * NS_S, "30s", NULL, "grace" },
	{ "max_size", SET_SIZE, SETTING_OFF(struct cfg, max_size), 4096, 1LL << 30, "10M", NULL, "size" },
	{ "path", SET_STRING, SETTING_OFF(struct cfg, path), .def = "/run/x.sock", .help = "a path",
	  .check = check_abs },
	{ "exe", SET_GLOB, SETTING_OFF(struct cfg, exe), .help = "a glob" },
	{ "level", SET_ENUM, SETTING_OFF(struct cfg, level), .def = "auto", .help = "where",
	  .choices = levels },
};
#define NTAB (sizeof(tab) / sizeof(tab[0]))

/* A long bad value full of control bytes is quoted into the message, escaped and
 * cut with "...", without overrunning the quoting buffer (found by fuzz_config). */
static void test_long_bad_value_quoted(void **state)
{
	struct cfg c = { 0 };
	char v[301], err[512];

	for (int len = 1; len < 300; len++) {
		memset(v, 0x01, (size_t)len);
		v[len] = '\0';
		assert_int_equal(settings__set(&tab[1], &c, v, err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "min_count"));
		assert_non_null(strstr(err, "\\x01"));
		if (len > 30)
			assert_non_null(strstr(err, "..."));
	}
}

static void test_durations(void **state)
{
	static const struct {
		const char *in;
		uint64_t ns;
	} good[] = {
		{ "0", 0 },
		{ "500ms", 500000000ULL },
		{ "10s", 10 * NS_S },
		{ "2m", 120 * NS_S },
		{ "1h", 3600 * NS_S },
		{ "1m30s", 90 * NS_S },
		{ "1d", 86400 * NS_S },
		{ "250us", 250000ULL },
		{ "7ns", 7ULL },
		{ "1h1m1s1ms", 3661 * NS_S + 1000000ULL },
	};
	static const char *const bad[] = { "", "10", "10x", "s", "-1s", "1.5s", " 1s", "1s ", "1sm", "ms" };
	uint64_t ns;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(parse_duration(good[i].in, &ns), 0);
		assert_int_equal(ns, good[i].ns);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_not_equal(parse_duration(bad[i], &ns), 0);
	assert_int_equal(parse_duration("99999999999999999999h", &ns), -ERANGE);
	assert_int_equal(parse_duration("9999999999999h", &ns), -ERANGE);
}

static void test_duration_roundtrip(void **state)
{
	uint64_t vals[] = { 0, 1, 999, 1000, 1500000, NS_S, 90 * NS_S, 3661 * NS_S + 7, 86400 * NS_S * 3 };
	char buf[64];
	uint64_t back;

	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		format_duration(buf, sizeof(buf), vals[i]);
		assert_int_equal(parse_duration(buf, &back), 0);
		assert_int_equal(back, vals[i]);
	}
	format_duration(buf, sizeof(buf), 90 * NS_S);
	assert_string_equal(buf, "1m30s");
	format_duration(buf, sizeof(buf), 500000000ULL);
	assert_string_equal(buf, "500ms");
}

static void test_sizes(void **state)
{
	static const struct {
		const char *in;
		uint64_t b;
	} good[] = {
		{ "0", 0 },           { "4096", 4096 },        { "64K", 65536 },      { "10M", 10485760 },
		{ "1G", 1073741824 }, { "10MB", 10485760 },    { "10MiB", 10485760 }, { "100B", 100 },
		{ "2k", 2048 },       { "1T", 1099511627776 },
	};
	static const char *const bad[] = { "", "M", "10Q", "-1", "1.5M", "10 M", "10MBB", "0x10" };
	uint64_t b;
	char buf[32];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(parse_size(good[i].in, &b), 0);
		assert_int_equal(b, good[i].b);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_not_equal(parse_size(bad[i], &b), 0);
	assert_int_equal(parse_size("99999999999999999999", &b), -ERANGE);
	assert_int_equal(parse_size("99999999999T", &b), -ERANGE);
	format_size(buf, sizeof(buf), 10485760);
	assert_string_equal(buf, "10M");
	format_size(buf, sizeof(buf), 10485761);
	assert_string_equal(buf, "10485761");
}

static void test_defaults_and_set(void **state)
{
	struct cfg c = { 0 };
	char err[256], buf[64];

	assert_int_equal(settings__defaults(tab, NTAB, &c, err, sizeof(err)), 0);
	assert_true(c.flag);
	assert_int_equal(c.count, 3);
	assert_int_equal(c.mode, 0660);
	assert_int_equal(c.grace, 30 * NS_S);
	assert_int_equal(c.max_size, 10 * 1024 * 1024);
	assert_string_equal(c.path, "/run/x.sock");
	assert_null(c.exe);
	assert_int_equal(c.level, 0);

	assert_int_equal(settings__set(&tab[1], &c, "1000000", err, sizeof(err)), 0);
	assert_int_equal(c.count, 1000000);
	assert_int_equal(settings__set(&tab[3], &c, "1m30s", err, sizeof(err)), 0);
	assert_int_equal(c.grace, 90 * NS_S);
	assert_int_equal(settings__set(&tab[6], &c, "myapp*", err, sizeof(err)), 0);
	assert_string_equal(c.exe, "myapp*");
	assert_int_equal(settings__set(&tab[7], &c, "stderr", err, sizeof(err)), 0);
	assert_int_equal(c.level, 2);
	assert_int_equal(settings__set(&tab[0], &c, "off", err, sizeof(err)), 0);
	assert_false(c.flag);

	settings__format(&tab[3], &c, buf, sizeof(buf));
	assert_string_equal(buf, "1m30s");
	settings__format(&tab[2], &c, buf, sizeof(buf));
	assert_string_equal(buf, "0660");
	settings__format(&tab[7], &c, buf, sizeof(buf));
	assert_string_equal(buf, "stderr");
	settings__free(tab, NTAB, &c);
	assert_null(c.path);
	assert_null(c.exe);
}

static void expect_error(int idx, const char *value, const char *msg)
{
	struct cfg c = { 0 };
	char err[256] = "";

	assert_int_equal(settings__defaults(tab, NTAB, &c, err, sizeof(err)), 0);
	assert_int_equal(settings__set(&tab[idx], &c, value, err, sizeof(err)), -EINVAL);
	if (strcmp(err, msg)) {
		print_error("value '%s': got \"%s\", want \"%s\"\n", value, err, msg);
		fail();
	}
	settings__free(tab, NTAB, &c);
}

static void test_errors(void **state)
{
	expect_error(1, "0", "min_count: 0 is out of range 1..1000000");
	expect_error(1, "1000001", "min_count: 1000001 is out of range 1..1000000");
	expect_error(1, "99999999999999999999", "min_count: 99999999999999999999 is out of range 1..1000000");
	expect_error(1, "three", "min_count: 'three' is not an integer");
	expect_error(1, "", "min_count: '' is not an integer");
	expect_error(3, "100ms", "grace: 100ms is out of range 1s..24h");
	expect_error(3, "2d", "grace: 2d is out of range 1s..24h");
	expect_error(3, "10", "grace: '10' is not a duration (like 500ms, 10s, 2m, 1h)");
	expect_error(4, "2G", "max_size: 2G is out of range 4K..1G");
	expect_error(4, "10Q", "max_size: '10Q' is not a size (like 4096, 64K, 10M, 1G)");
	expect_error(2, "0778", "mode: '0778' is not an octal number (like 0660)");
	expect_error(2, "01000", "mode: 01000 is out of range 0..0777");
	expect_error(0, "maybe", "flag: 'maybe' is not a boolean (use true or false)");
	expect_error(5, "rel/x", "path: 'rel/x' is not an absolute path");
	expect_error(6, "app[", "exe: 'app[' is not a valid glob (unclosed '[' or trailing '\\')");
	expect_error(7, "syslog", "level: 'syslog' is not one of auto, journal, stderr");
	/* Control characters never reach a message raw. */
	expect_error(1, "\x1b[31m", "min_count: '\\x1b[31m' is not an integer");
}

static void test_flags(void **state)
{
	char *argv[] = { "prog", "--min-count=5", "--grace", "10s", "--no-flag", "--flag", "--other",
			 "--max-size", NULL };
	int argc = 8, i;
	const struct setting *s;
	const char *v;
	char err[128];

	i = 1;
	assert_int_equal(settings__match_flag(tab, NTAB, argc, argv, &i, &s, &v, err, sizeof(err)), 1);
	assert_string_equal(s->name, "min_count");
	assert_string_equal(v, "5");
	i = 2;
	assert_int_equal(settings__match_flag(tab, NTAB, argc, argv, &i, &s, &v, err, sizeof(err)), 1);
	assert_string_equal(s->name, "grace");
	assert_string_equal(v, "10s");
	assert_int_equal(i, 3);
	i = 4;
	assert_int_equal(settings__match_flag(tab, NTAB, argc, argv, &i, &s, &v, err, sizeof(err)), 1);
	assert_string_equal(s->name, "flag");
	assert_string_equal(v, "false");
	i = 5;
	assert_int_equal(settings__match_flag(tab, NTAB, argc, argv, &i, &s, &v, err, sizeof(err)), 1);
	assert_string_equal(v, "true");
	i = 6;
	assert_int_equal(settings__match_flag(tab, NTAB, argc, argv, &i, &s, &v, err, sizeof(err)), 0);
	i = 7;
	assert_int_equal(settings__match_flag(tab, NTAB, argc, argv, &i, &s, &v, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "option '--max-size' needs a value");
}

static void test_help(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	settings__print_help(f, tab, NTAB, SETTINGS_HELP_FLAGS);
	settings__print_help(f, tab, NTAB, SETTINGS_HELP_CONFIG);
	fclose(f);
	assert_non_null(strstr(buf, "--min-count N"));
	assert_non_null(strstr(buf, "--[no-]flag"));
	assert_non_null(strstr(buf, "default 30s; 1s..24h"));
	assert_non_null(strstr(buf, "grace = DURATION"));
	assert_non_null(strstr(buf, "one of auto journal stderr"));
	free(buf);
}

struct seen {
	char lines[32][160];
	int n;
	int fail_line;
};

static int record(void *cookie, const char *section, const char *arg, const char *key, const char *value,
		  int line, char *err, size_t errlen)
{
	struct seen *s = cookie;

	if (line == s->fail_line) {
		snprintf(err, errlen, "%s: refused", key ? key : section);
		return -EINVAL;
	}
	if (s->n < 32)
		snprintf(s->lines[s->n++], 160, "%d|%s|%s|%s|%s", line, section, arg, key ? key : "-",
			 value ? value : "-");
	return 0;
}

static int parse_str(const char *text, struct seen *s, int *errline, char *err, size_t errlen)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	int r = ini__parse(f, record, s, errline, err, errlen);

	fclose(f);
	return r;
}

static void test_ini(void **state)
{
	const char *text = "# comment\n"
			   "; also\n"
			   "\n"
			   "[output]\n"
			   "socket = /run/ctxtrace/ctxtraced.sock\n"
			   "  json_file=/var/log/x.jsonl   # trailing comment\n"
			   "[target web]\n"
			   "exe = \"my app #1\"\n"
			   "grace = 10s;not-a-comment\n"
			   "[ target   \"two words\" ]\n"
			   "pid=42\r\n";
	struct seen s = { .fail_line = -1 };
	char err[256];
	int line;

	assert_int_equal(parse_str(text, &s, &line, err, sizeof(err)), 0);
	assert_int_equal(s.n, 8);
	assert_string_equal(s.lines[0], "4|output||-|-");
	assert_string_equal(s.lines[1], "5|output||socket|/run/ctxtrace/ctxtraced.sock");
	assert_string_equal(s.lines[2], "6|output||json_file|/var/log/x.jsonl");
	assert_string_equal(s.lines[3], "7|target|web|-|-");
	assert_string_equal(s.lines[4], "8|target|web|exe|my app #1");
	assert_string_equal(s.lines[5], "9|target|web|grace|10s;not-a-comment");
	assert_string_equal(s.lines[6], "10|target|two words|-|-");
	assert_string_equal(s.lines[7], "11|target|two words|pid|42");
}

static void expect_ini_error(const char *text, int want_line, const char *want)
{
	struct seen s = { .fail_line = -1 };
	char err[256] = "";
	int line;

	assert_int_equal(parse_str(text, &s, &line, err, sizeof(err)), -EINVAL);
	assert_int_equal(line, want_line);
	if (strcmp(err, want)) {
		print_error("got \"%s\", want \"%s\"\n", err, want);
		fail();
	}
}

static void test_ini_errors(void **state)
{
	char *big = malloc(10000);

	expect_ini_error("grace = 1s\n", 1, "grace: setting before any [section]");
	expect_ini_error("[output]\nnonsense\n", 2, "expected 'key = value' or '[section]'");
	expect_ini_error("[output\n", 1, "expected '[section]' or '[section NAME]'");
	expect_ini_error("[out put]\n[]\n", 2, "bad section name ''");
	expect_ini_error("[output]\n\n\nx = \"abc\n", 4, "x: unterminated quote");
	expect_ini_error("[output]\nbad key = 1\n", 2, "bad setting name 'bad key'");

	memset(big, 'a', 9999);
	big[0] = '[';
	big[9999] = '\0';
	expect_ini_error(big, 1, "line longer than 4096 bytes");
	free(big);
}

static void test_ini_callback_error_line(void **state)
{
	struct seen s = { .fail_line = 3 };
	char err[256];
	int line;

	assert_int_equal(parse_str("[a]\nx=1\ny=2\nz=3\n", &s, &line, err, sizeof(err)), -EINVAL);
	assert_int_equal(line, 3);
	assert_string_equal(err, "y: refused");
	assert_int_equal(s.n, 2);
}

struct argv_cfg {
	int64_t pid;
	bool json;
	uint64_t dur;
	int64_t other;
};

/* One table, two commands: each takes only its flags; short names, "=",
 * "--", positional arguments kept in order, PIDs, ranges. */
static void test_parse_argv(void **state)
{
	static const struct setting t[] = {
		{ "pid", SET_PID, SETTING_OFF(struct argv_cfg, pid), 1, 4194304, .help = "p", .cmds = 1, .short_name = 'p' },
		{ "json", SET_BOOL, SETTING_OFF(struct argv_cfg, json), .help = "j", .cmds = 1 | 2 },
		{ "duration", SET_DURATION, SETTING_OFF(struct argv_cfg, dur), 1, 86400 * NS_S, .help = "d", .cmds = 1,
		  .short_name = 'd' },
		{ "other", SET_INT, SETTING_OFF(struct argv_cfg, other), .help = "o", .cmds = 2 },
	};
	struct argv_cfg c = { 0 };
	struct settings_group g = { t, 4, &c };
	char err[256];
	int npos;
	char *a1[] = { "cmd", "-p", "42", "x", "--json", "-d500ms", "--", "--json", NULL };
	char *a2[] = { "cmd", "--other", "3", NULL };
	char *a3[] = { "cmd", "--pid=abc", NULL };
	char *a4[] = { "cmd", "--pid", "5000000", NULL };
	char *a5[] = { "cmd", "--duration", NULL };
	char *a6[] = { "cmd", "-h", NULL };
	char *a7[] = { "cmd", "--duration", "0", NULL };

	assert_int_equal(settings__parse_argv(&g, 1, 1, 8, a1, &npos, err, sizeof(err)), 0);
	assert_int_equal(c.pid, 42);
	assert_true(c.json);
	assert_int_equal(c.dur, 500 * 1000000ULL);
	assert_int_equal(npos, 2);
	assert_string_equal(a1[1], "x");
	assert_string_equal(a1[2], "--json");
	/* --other is command 2's only */
	assert_int_equal(settings__parse_argv(&g, 1, 1, 3, a2, &npos, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "unknown option '--other'");
	assert_int_equal(settings__parse_argv(&g, 1, 2, 3, a2, &npos, err, sizeof(err)), 0);
	assert_int_equal(c.other, 3);
	assert_int_equal(settings__parse_argv(&g, 1, 1, 2, a3, &npos, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "--pid: invalid PID 'abc' (a positive number)");
	assert_int_equal(settings__parse_argv(&g, 1, 1, 3, a4, &npos, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "--pid: 5000000 is out of range 1..4194304");
	assert_int_equal(settings__parse_argv(&g, 1, 1, 2, a5, &npos, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "option '--duration' needs a value");
	assert_int_equal(settings__parse_argv(&g, 1, 1, 2, a6, &npos, err, sizeof(err)), 1);
	assert_int_equal(settings__parse_argv(&g, 1, 1, 3, a7, &npos, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "--duration: '0' is not a duration above 0 (like 500ms, 10s, 2m)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_argv),
		cmocka_unit_test(test_long_bad_value_quoted),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_duration_roundtrip),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_defaults_and_set),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_help),
		cmocka_unit_test(test_ini),
		cmocka_unit_test(test_ini_errors),
		cmocka_unit_test(test_ini_callback_error_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
