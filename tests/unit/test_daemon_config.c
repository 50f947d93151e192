#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "daemon/config.h"
#include "daemon/selectors.h"
#include "daemon/targets.h"
#include "util/proc.h"
#include "util/settings.h"

#define NS_S 1000000000ULL

static char path[64];

static int setup(void **state)
{
	int fd;

	snprintf(path, sizeof(path), "/tmp/ct-test-config.XXXXXX");
	fd = mkstemp(path);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static int teardown(void **state)
{
	unlink(path);
	return 0;
}

static struct config *load_text(const char *text, char *err, size_t errlen)
{
	FILE *f = fopen(path, "w");

	fputs(text, f);
	fclose(f);
	return config__load(path, false, NULL, 0, err, errlen);
}

static void expect_err(const char *text, int line, const char *msg)
{
	char err[1024] = "", want[1024];
	struct config *c = load_text(text, err, sizeof(err));

	if (line)
		snprintf(want, sizeof(want), "%s:%d: %s", path, line, msg);
	else
		snprintf(want, sizeof(want), "%s", msg);
	if (c || strncmp(err, want, strlen(want))) {
		print_error("config:\n%s\ngot \"%s\"\nwant \"%s...\"\n", text, err, want);
		config__free(c);
		fail();
	}
}

static void test_defaults(void **state)
{
	char err[512];
	struct config *c = config__load(NULL, true, NULL, 0, err, sizeof(err));

	assert_non_null(c);
	assert_null(c->path);
	assert_string_equal(c->output.socket, "/run/ctxtrace/ctxtraced.sock");
	assert_int_equal(c->output.socket_mode, 0660);
	assert_string_equal(c->output.socket_group, "ctxtrace");
	assert_int_equal(c->output.socket_buffer, 1 << 20);
	assert_int_equal(c->output.json_file_max_size, 10 << 20);
	assert_int_equal(c->output.json_file_keep, 5);
	assert_string_equal(c->output.metrics_listen, "");
	assert_int_equal(c->defaults.grace, 5 * NS_S);
	assert_int_equal(c->defaults.min_count, 3);
	assert_int_equal(c->defaults.retention, 60 * NS_S);
	assert_int_equal(c->daemon.max_targets, 64);
	assert_int_equal(c->ntargets, 0);
	config__free(c);

	/* An optional file that is missing is the same as none. */
	c = config__load("/nonexistent/ctxtraced.conf", true, NULL, 0, err, sizeof(err));
	assert_non_null(c);
	config__free(c);
	c = config__load("/nonexistent/ctxtraced.conf", false, NULL, 0, err, sizeof(err));
	assert_null(c);
	assert_string_equal(err, "/nonexistent/ctxtraced.conf: cannot read the config: No such file or directory");
}

static void test_full(void **state)
{
	char err[512];
	struct config *c = load_text("# a full config\n"
				     "[daemon]\n"
				     "max_targets = 8\n"
				     "poll_interval = 50ms\n"
				     "log = stderr\n"
				     "[output]\n"
				     "socket = /tmp/x.sock\n"
				     "json_file = /var/log/ctxtrace/a.jsonl\n"
				     "json_file_max_size = 64K\n"
				     "json_file_keep = 0\n"
				     "metrics_listen = 127.0.0.1:9464\n"
				     "[target web]\n"
				     "exe = web*\n"
				     "grace = 10s\n"
				     "[target db]\n"
				     "unit = postgres-exporter\n"
				     "pid = 42\n"
				     "[defaults]\n"
				     "grace = 2s\n"
				     "min_count = 7\n",
				     err, sizeof(err));
	struct rule_cfg r;

	if (!c)
		fail_msg("%s", err);
	assert_int_equal(c->daemon.max_targets, 8);
	assert_int_equal(c->daemon.poll_interval, 50000000ULL);
	assert_int_equal(c->daemon.log, LOG_STDERR);
	assert_string_equal(c->output.socket, "/tmp/x.sock");
	assert_int_equal(c->output.json_file_max_size, 65536);
	assert_int_equal(c->output.json_file_keep, 0);
	assert_int_equal(c->ntargets, 2);
	assert_string_equal(c->targets[0].name, "web");
	assert_string_equal(c->targets[0].exe, "web*");
	assert_int_equal(c->targets[0].line, 12);
	assert_string_equal(c->targets[1].unit, "postgres-exporter");
	assert_int_equal(c->targets[1].pid, 42);
	/* [defaults] after the targets still applies to what they do not set. */
	config__target_rules(c, &c->targets[0], &r);
	assert_int_equal(r.grace, 10 * NS_S);
	assert_int_equal(r.min_count, 7);
	config__target_rules(c, &c->targets[1], &r);
	assert_int_equal(r.grace, 2 * NS_S);
	assert_int_equal(r.min_count, 7);
	assert_int_equal(r.retention, 60 * NS_S);
	config__free(c);
}

static void test_errors(void **state)
{
	expect_err("[defaults]\nmin_count = 0\n", 2, "min_count: 0 is out of range 1..1000000");
	expect_err("[defaults]\n\ngrace = 2d\n", 3, "grace: 2d is out of range 0..24h");
	expect_err("[defaults]\ngrace = soon\n", 2, "grace: 'soon' is not a duration");
	expect_err("[output]\nsockt = /x\n", 2, "sockt: unknown setting in [output] (known: socket, ");
	expect_err("[output]\nsocket = run/x.sock\n", 2, "socket: 'run/x.sock' is not an absolute path");
	expect_err("[output]\njson_file_max_size = 1K\n", 2, "json_file_max_size: 1K is out of range 4K..16G");
	expect_err("[output]\nmetrics_listen = 0.0.0.0:9464\n", 2,
		   "metrics_listen: '0.0.0.0:9464' is not a loopback address");
	expect_err("[output]\nmetrics_listen = 10.1.2.3:9464\n", 2,
		   "metrics_listen: '10.1.2.3:9464' is not a loopback address");
	expect_err("[output]\nmetrics_listen = [::]:9464\n", 2, "metrics_listen: '[::]:9464' is not a loopback address");
	expect_err("[output]\nmetrics_listen = 127.0.0.1\n", 2, "metrics_listen: '127.0.0.1' is not ADDR:PORT");
	expect_err("[output]\nmetrics_listen = 127.0.0.1:70000\n", 2,
		   "metrics_listen: '127.0.0.1:70000' has no valid port (1..65535)");
	expect_err("[output]\nmetrics_listen = example.com:80\n", 2, "metrics_listen: 'example.com:80' is not ADDR:PORT");
	expect_err("[daemon]\nlog = syslog\n", 2, "log: 'syslog' is not one of auto, journal, stderr");
	expect_err("[outptu]\n", 1, "[outptu]: unknown section");
	expect_err("[target]\nexe = x\n", 1, "[target]: needs a name");
	expect_err("[target a/b]\n", 1, "[target a/b]: a name is 1-64 letters");
	expect_err("[output x]\n", 1, "[output x]: this section takes no name");
	expect_err("[target web]\nexe = a\n[target web]\n", 3, "target web: already defined at line 1");
	expect_err("[target web]\nexe = a\nfoo = 1\n", 3, "foo: unknown setting in [target web]");
	expect_err("[target web]\nexe = app[\n", 2, "exe: 'app[' is not a valid glob");
	expect_err("[target web]\nunit = a/b\n", 2, "unit: 'a/b' is not a unit name");
	expect_err("[target web]\npid = 0\n", 2, "pid: 0 is out of range 1..4194304");
	expect_err("\n\n[target web]\ngrace = 1s\n", 3, "target web: needs exe, unit, pid, cgroup or container");
	expect_err("exe = x\n", 1, "exe: setting before any [section]");
}

static void test_listen(void **state)
{
	struct sockaddr_storage ss;
	unsigned int len;
	char err[256];

	assert_int_equal(options__parse_listen("127.0.0.1:9464", &ss, &len, err, sizeof(err)), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 9464);
	assert_int_equal(options__parse_listen("127.9.9.9:1", &ss, &len, err, sizeof(err)), 0);
	assert_int_equal(options__parse_listen("localhost:80", &ss, &len, err, sizeof(err)), 0);
	assert_int_equal(ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr), 0x7f000001);
	assert_int_equal(options__parse_listen("[::1]:9464", &ss, &len, err, sizeof(err)), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(len, sizeof(struct sockaddr_in6));
	assert_int_not_equal(options__parse_listen("::1:9464", &ss, &len, err, sizeof(err)), 0);
	assert_int_not_equal(options__parse_listen("128.0.0.1:9464", &ss, &len, err, sizeof(err)), 0);
	assert_int_not_equal(options__parse_listen("[::ffff:127.0.0.1]:9464", &ss, &len, err, sizeof(err)), 0);
}

static void test_flags(void **state)
{
	char *argv[] = { "ctxtraced", "--grace=7s", "--exe", "myapp", "--min-count", "2", "--socket=/tmp/s",
			 "--no-log-events", NULL };
	int argc = 8;
	struct config_flag flags[8];
	size_t n = 0;
	char err[512];
	struct config *c;
	struct rule_cfg r;

	for (int i = 1; i < argc; i++)
		assert_int_equal(config__match_flag(argc, argv, &i, &flags[n++], err, sizeof(err)), 1);
	c = load_text("[defaults]\ngrace = 1s\n[output]\nsocket = /tmp/file.sock\n", err, sizeof(err));
	config__free(c);
	c = config__load(path, false, flags, n, err, sizeof(err));
	if (!c)
		fail_msg("%s", err);
	/* Flags win over the file. */
	assert_int_equal(c->defaults.grace, 7 * NS_S);
	assert_string_equal(c->output.socket, "/tmp/s");
	assert_false(c->daemon.log_events);
	assert_int_equal(c->ntargets, 1);
	assert_string_equal(c->targets[0].name, "command-line");
	assert_string_equal(c->targets[0].exe, "myapp");
	config__target_rules(c, &c->targets[0], &r);
	assert_int_equal(r.min_count, 2);
	config__free(c);

	{
		char *bad[] = { "ctxtraced", "--min-count=0", NULL };
		int i = 1;

		assert_int_equal(config__match_flag(2, bad, &i, &flags[0], err, sizeof(err)), 1);
		c = config__load(NULL, true, flags, 1, err, sizeof(err));
		assert_null(c);
		assert_string_equal(err, "--min-count: 0 is out of range 1..1000000");
	}
	{
		char *unknown[] = { "ctxtraced", "--nope", NULL };
		int i = 1;

		assert_int_equal(config__match_flag(2, unknown, &i, &flags[0], err, sizeof(err)), 0);
	}
}

static void test_target_same(void **state)
{
	char err[512];
	struct config *a = load_text("[defaults]\ngrace = 1s\n[target w]\nexe = w\n", err, sizeof(err));
	struct config *b = load_text("[defaults]\ngrace = 2s\n[target w]\nexe = w\n", err, sizeof(err));
	struct config *c = load_text("[defaults]\ngrace = 2s\n[target w]\nexe = w\ngrace = 1s\n", err, sizeof(err));

	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	assert_false(config__target_same(a, &a->targets[0], b, &b->targets[0]));
	assert_true(config__target_same(a, &a->targets[0], c, &c->targets[0]));
	config__free(a);
	config__free(b);
	config__free(c);
}

/* The shipped config parses, and names every setting the tables know, so the
 * commented file cannot drift from the code. */
static void test_shipped_config(void **state)
{
	const struct {
		const struct setting *tab;
		size_t n;
	} tabs[] = {
		{ daemon_settings, daemon_settings_n },
		{ output_settings, output_settings_n },
		{ rule_settings, rule_settings_n },
		{ select_settings, select_settings_n },
	};
	char err[512], *text;
	FILE *f = fopen("packaging/ctxtraced.conf", "r");
	struct config *c;
	long len;

	if (!f)
		skip();
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	text = calloc(1, (size_t)len + 1);
	assert_int_equal(fread(text, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	c = config__load("packaging/ctxtraced.conf", false, NULL, 0, err, sizeof(err));
	if (!c)
		fail_msg("%s", err);
	config__free(c);
	for (size_t t = 0; t < sizeof(tabs) / sizeof(tabs[0]); t++) {
		for (size_t i = 0; i < tabs[t].n; i++) {
			char want[128];

			const char *at;

			snprintf(want, sizeof(want), "\n#%s =", tabs[t].tab[i].name);
			at = strstr(text, want);
			if (at && t < 3) {
				/* "Values shown commented out are the built-in defaults": true. */
				const char *def = tabs[t].tab[i].def ? tabs[t].tab[i].def : "";
				const char *v = at + strlen(want);
				size_t vl = strcspn(v, "\n");

				while (vl && *v == ' ')
					v++, vl--;
				if (vl != strlen(def) || strncmp(v, def, vl))
					fail_msg("packaging/ctxtraced.conf shows #%s = %.*s, the default is '%s'",
						 tabs[t].tab[i].name, (int)vl, v, def);
			}
			if (!at) {
				snprintf(want, sizeof(want), "\n%s = ", tabs[t].tab[i].name);
				if (!strstr(text, want))
					fail_msg("packaging/ctxtraced.conf does not mention %s", tabs[t].tab[i].name);
			}
		}
	}
	free(text);
}

static void test_cgroup_units(void **state)
{
	const char *v2 = "0::/system.slice/myapp.service\n";
	const char *v1 = "12:pids:/system.slice/web@1.service\n1:name=systemd:/system.slice/web@1.service\n";
	const char *scope = "0::/user.slice/user-1000.slice/user@1000.service/app.slice/run-r1.scope\n";

	assert_true(cgroup_match_unit(v2, "myapp"));
	assert_true(cgroup_match_unit(v2, "myapp.service"));
	assert_true(cgroup_match_unit(v2, "my*"));
	assert_true(cgroup_match_unit(v2, "system.slice"));
	assert_false(cgroup_match_unit(v2, "myap"));
	assert_false(cgroup_match_unit(v2, "other"));
	assert_true(cgroup_match_unit(v1, "web@1"));
	assert_true(cgroup_match_unit(v1, "web@*"));
	assert_false(cgroup_match_unit(v1, "web"));
	assert_true(cgroup_match_unit(scope, "run-r1.scope"));
	assert_false(cgroup_match_unit("", "x"));
	assert_false(cgroup_match_unit("garbage without colons", "garbage"));
}

static void test_match(void **state)
{
	struct proc_info pi = { .pid = 4242, .exe = "/opt/web/bin/web-server",
				.cgroup = "0::/system.slice/web.service\n" };
	struct target_cfg t = { 0 };

	t.exe = "web-*";
	assert_true(target_cfg__match(&t, &pi));
	t.exe = "/opt/web/*";
	assert_true(target_cfg__match(&t, &pi));
	t.exe = "web";
	assert_false(target_cfg__match(&t, &pi));
	t.exe = "web-server";
	t.unit = "web";
	assert_true(target_cfg__match(&t, &pi));
	t.unit = "db";
	assert_false(target_cfg__match(&t, &pi)); /* every selector must match */
	t.unit = NULL;
	t.pid = 4242;
	assert_true(target_cfg__match(&t, &pi));
	t.pid = 4243;
	assert_false(target_cfg__match(&t, &pi));
	t.exe = NULL;
	t.pid = 0;
	assert_false(target_cfg__match(&t, &pi)); /* no selector selects nothing */
}

/* /proc/self as the kernel tells it through other paths. */
static void test_proc_info_self(void **state)
{
	struct proc_info pi;
	char exe[PATH_MAX], stat[1024], *p;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	FILE *f;
	unsigned long long start = 0;

	assert_true(n > 0);
	exe[n] = '\0';
	assert_int_equal(proc_info__read(getpid(), &pi), 0);
	assert_string_equal(pi.exe, exe);
	f = fopen("/proc/self/stat", "r");
	assert_non_null(fgets(stat, sizeof(stat), f));
	fclose(f);
	p = strrchr(stat, ')');
	/* field 22 is the 20th after the ')' */
	assert_int_equal(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
				&start),
			 1);
	assert_int_equal(pi.start_time, start);
	assert_non_null(strstr(pi.cgroup, "::"));
	assert_int_equal(proc_info__read(INT_MAX - 1, &pi), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test_setup_teardown(test_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
		cmocka_unit_test(test_listen),
		cmocka_unit_test_setup_teardown(test_flags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_target_same, setup, teardown),
		cmocka_unit_test(test_shipped_config),
		cmocka_unit_test(test_cgroup_units),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_proc_info_self),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
