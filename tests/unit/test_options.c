/* The settings tables (util/options.c) against the man pages: every flag a
 * ctxtrace command takes is in ctxtrace(8)'s OPTIONS with exactly those
 * commands, every flag there exists, every command's synopsis names only its
 * own flags, and ctxtraced.conf(5) lists exactly the config keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "util/options.h"

static const struct {
	const char *name;
	unsigned int bit;
} cmds[] = {
	{ "inspect", OPT_INSPECT }, { "watch", OPT_WATCH },   { "graph", OPT_GRAPH },
	{ "replay", OPT_REPLAY },   { "status", OPT_STATUS }, { "alerts", OPT_ALERTS },
	{ "snapshot", OPT_SNAPSHOT }, { "run", OPT_RUN },
};
#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text;
	long len;

	if (!f)
		fail_msg("cannot read %s", path);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	text = calloc(1, (size_t)len + 1);
	assert_int_equal(fread(text, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	return text;
}

/* The commands a ctxtrace flag ("min-count") belongs to; 0: none. */
static unsigned int flag_cmds(const char *flag, const struct setting **found)
{
	const struct setting *tabs[] = { cli_settings, rule_settings };
	size_t ns[] = { cli_settings_n, rule_settings_n };
	unsigned int m = 0;

	for (size_t t = 0; t < 2; t++) {
		for (size_t i = 0; i < ns[t]; i++) {
			const struct setting *s = &tabs[t][i];
			size_t k = 0;

			for (; s->name[k] && flag[k]; k++) {
				if ((s->name[k] == '_' ? '-' : s->name[k]) != flag[k])
					break;
			}
			if (s->name[k] || flag[k] || !(s->cmds & ~OPT_CTXTRACED))
				continue;
			m |= s->cmds & ~OPT_CTXTRACED;
			if (found)
				*found = s;
		}
	}
	return m;
}

/* The next "\-\-name" in [p, end): its name with '-', or NULL. */
static const char *next_flag(const char *p, const char *end, char *name, size_t size, const char **after)
{
	const char *q = strstr(p, "\\-\\-");

	if (!q || q >= end)
		return NULL;
	q += 4;
	size_t o = 0;

	while (q < end && o + 1 < size) {
		if (!strncmp(q, "\\-", 2)) {
			name[o++] = '-';
			q += 2;
		} else if ((*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9')) {
			name[o++] = *q++;
		} else {
			break;
		}
	}
	name[o] = '\0';
	*after = q;
	return name;
}

static unsigned int cmds_of(const char *list, size_t len)
{
	unsigned int m = 0;

	for (size_t c = 0; c < NCMDS; c++) {
		const char *p = list;

		while ((p = strstr(p, cmds[c].name)) && p < list + len) {
			m |= cmds[c].bit;
			p++;
		}
	}
	return m;
}

static void test_ctxtrace_man_options(void **state)
{
	char *man = slurp("packaging/man/ctxtrace.8");
	const char *sec = strstr(man, "\n.SH OPTIONS"), *end, *p;
	unsigned int listed[64] = { 0 };
	const struct setting *tabs[] = { cli_settings, rule_settings };
	size_t ns[] = { cli_settings_n, rule_settings_n };

	assert_non_null(sec);
	end = strstr(sec + 1, "\n.SH ");
	assert_non_null(end);
	for (p = strstr(sec, "\n.TP\n"); p && p < end; p = strstr(p + 1, "\n.TP\n")) {
		const char *line = p + 5, *eol = strchr(line, '\n'), *body, *after;
		const struct setting *s = NULL;
		char name[64];
		unsigned int want;

		assert_non_null(next_flag(line, eol, name, sizeof(name), &after));
		want = flag_cmds(name, &s);
		if (!want)
			fail_msg("ctxtrace(8) OPTIONS lists --%s, which no command takes", name);
		body = eol + 1;
		if (*body != '(')
			fail_msg("ctxtrace(8) --%s: the line after it should start with (COMMANDS)", name);
		if (cmds_of(body, strcspn(body, ")")) != want)
			fail_msg("ctxtrace(8) --%s: the commands listed differ from the settings table", name);
		if (s->short_name && s->cmds != OPT_SNAPSHOT) {
			char sh[8];

			snprintf(sh, sizeof(sh), "\\-%c ", s->short_name);
			if (!strstr(line, sh) || strstr(line, sh) > eol)
				fail_msg("ctxtrace(8) --%s: the short flag -%c is missing", name, s->short_name);
		}
		/* a flag may be several entries (snapshot's --format has its own choices) */
		for (size_t t = 0; t < 2; t++) {
			for (size_t i = 0; i < ns[t]; i++) {
				if (!strcmp(tabs[t][i].name, s->name))
					listed[t * 32 + i]++;
			}
		}
	}
	for (size_t t = 0; t < 2; t++) {
		for (size_t i = 0; i < ns[t]; i++) {
			if ((tabs[t][i].cmds & ~OPT_CTXTRACED) && listed[t * 32 + i] != 1)
				fail_msg("ctxtrace(8) OPTIONS lists --%s %u times, not once", tabs[t][i].name,
					 listed[t * 32 + i]);
		}
	}
	free(man);
}

/* Each command's synopsis (the .TP line of COMMANDS) names only its own flags,
 * and its description only its own flags or other commands' quoted ones. */
static void test_ctxtrace_man_synopses(void **state)
{
	char *man = slurp("packaging/man/ctxtrace.8");
	const char *sec = strstr(man, "\n.SH COMMANDS"), *end, *p;
	int seen = 0;

	assert_non_null(sec);
	end = strstr(sec + 1, "\n.SH ");
	for (p = strstr(sec, "\n.TP\n"); p && p < end; p = strstr(p + 1, "\n.TP\n")) {
		const char *line = p + 5, *eol = strchr(line, '\n'), *q = line, *after;
		unsigned int bit = 0;
		char name[64];

		for (size_t c = 0; c < NCMDS; c++) {
			if (!strncmp(line + 5, cmds[c].name, strlen(cmds[c].name)) && line[5 + strlen(cmds[c].name)] == ' ')
				bit = cmds[c].bit;
		}
		if (!bit)
			fail_msg("ctxtrace(8) COMMANDS: '%.40s' names no command", line);
		seen++;
		while (next_flag(q, eol, name, sizeof(name), &after)) {
			if (!name[0]) { /* "--" before the program */
				q = after;
				continue;
			}
			if (!(flag_cmds(name, NULL) & bit))
				fail_msg("ctxtrace(8): the synopsis '%.20s' names --%s, which that command does not take",
					 line, name);
			q = after;
		}
	}
	assert_int_equal(seen, NCMDS);
	free(man);
}

/* ctxtraced's own flags (--config, --check-config) are in ctxtraced(8). */
static void test_ctxtraced_man_flags(void **state)
{
	char *man = slurp("packaging/man/ctxtraced.8");

	for (size_t i = 0; i < cli_settings_n; i++) {
		char want[96], *o = want;

		if (!(cli_settings[i].cmds & OPT_CTXTRACED))
			continue;
		o += sprintf(o, "\\-\\-");
		for (const char *p = cli_settings[i].name; *p; p++)
			o += *p == '_' ? sprintf(o, "\\-") : sprintf(o, "%c", *p);
		if (!strstr(man, want))
			fail_msg("ctxtraced(8) does not describe %s", want);
	}
	free(man);
}

static void test_conf_man_keys(void **state)
{
	char *man = slurp("packaging/man/ctxtraced.conf.5");
	const struct setting *tabs[] = { daemon_settings, output_settings, rule_settings, select_settings };
	size_t ns[] = { daemon_settings_n, output_settings_n, rule_settings_n, select_settings_n };
	size_t total = 0, keys = 0;

	for (size_t t = 0; t < 4; t++) {
		for (size_t i = 0; i < ns[t]; i++) {
			char want[96];

			snprintf(want, sizeof(want), "\n.BI %s \" = ", tabs[t][i].name);
			if (!strstr(man, want))
				fail_msg("ctxtraced.conf(5) does not describe %s", tabs[t][i].name);
			total++;
		}
	}
	for (const char *p = strstr(man, "\n.BI "); p; p = strstr(p + 1, "\n.BI ")) {
		if (strstr(p + 5, " \" = ") == strpbrk(p + 5, " "))
			keys++;
	}
	if (keys != total)
		fail_msg("ctxtraced.conf(5) describes %zu keys, the tables have %zu", keys, total);
	free(man);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ctxtrace_man_options),
		cmocka_unit_test(test_ctxtrace_man_synopses),
		cmocka_unit_test(test_conf_man_keys),
		cmocka_unit_test(test_ctxtraced_man_flags),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
