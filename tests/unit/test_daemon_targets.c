/* The daemon's target selection and lifecycle with a fake pipeline: real child
 * processes (a copy of sleep under a unique name), real pidfds and /proc, and the
 * records the daemon writes to its JSON file. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "daemon/config.h"
#include "daemon/loop.h"
#include "daemon/outputs.h"
#include "daemon/status.h"
#include "daemon/targets.h"
#include "graph/lineage.h"
#include "rules/rules.h"
#include "util/json.h"
#include "util/log.h"

#define NS_S 1000000000ULL

static char dir[64], exe[128], jsonl[128], conf[128];

struct fake {
	int pid;
	uint64_t grace;
	void (*on_alert)(void *cookie, const struct alert *a);
	void *cookie;
	bool alert;
};

static int opens, frees, configures;
static int fail_pid;
static bool alert_on_poll, configure_ok;
static int children[16], nchildren;

static void *fake_open(int pid, const struct target_cfg *t, const struct rule_cfg *r,
		       void (*on_event)(void *cookie, const struct ct_event *ev),
		       void (*on_alert)(void *cookie, const struct alert *a), void *cookie)
{
	struct fake *f;

	opens++;
	if (pid == fail_pid) {
		ct_errmsg_set("cannot attach to pid %d: not a Go program (fake)", pid);
		errno = ENOEXEC;
		return NULL;
	}
	f = calloc(1, sizeof(*f));
	f->pid = pid;
	f->grace = r->grace;
	f->on_alert = on_alert;
	f->cookie = cookie;
	return f;
}

static int fake_poll(void *h)
{
	struct fake *f = h;

	if (alert_on_poll && !f->alert) {
		struct alert a = { .rule = RULE_LOST_CANCEL, .id = "0123456789abcdef", .pid = f->pid, .count = 3,
				   .first = true, .severity = SEV_ERROR, .message = "3 lost cancels" };

		f->alert = true;
		f->on_alert(f->cookie, &a);
	}
	return 0;
}

static int fake_configure(void *h, const struct rule_cfg *r)
{
	if (!configure_ok)
		return -EOPNOTSUPP;
	configures++;
	((struct fake *)h)->grace = r->grace;
	return 0;
}

static void fake_free(void *h)
{
	frees++;
	free(h);
}

static struct lineage *graph; /* the fake sessions' graph, when they keep one */

static const struct lineage *fake_lineage(void *h)
{
	return graph;
}

static const struct target_backend backend = { fake_open, fake_poll, fake_configure, fake_free, fake_lineage };

static int setup(void **state)
{
	char cmd[256];

	snprintf(dir, sizeof(dir), "/tmp/ct-test-targets.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	/* A name no other process on the machine has. */
	snprintf(exe, sizeof(exe), "%s/ct-sleeper-%d", dir, getpid());
	snprintf(cmd, sizeof(cmd), "cp /bin/sleep '%s'", exe);
	if (system(cmd))
		return -1;
	snprintf(jsonl, sizeof(jsonl), "%s/out.jsonl", dir);
	snprintf(conf, sizeof(conf), "%s/d.conf", dir);
	opens = frees = configures = 0;
	fail_pid = 0;
	alert_on_poll = false;
	configure_ok = false;
	nchildren = 0;
	return 0;
}

/* Only our own children, once each: a reaped pid may be someone else's next. */
static void reap(int pid)
{
	for (int i = 0; i < nchildren; i++) {
		if (children[i] != pid)
			continue;
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		children[i] = children[--nchildren];
		return;
	}
}

/* Children are killed here too, so a failed test leaves none behind. */
static int teardown(void **state)
{
	char cmd[128];

	while (nchildren)
		reap(children[0]);

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) ? -1 : 0;
}

static int spawn(void)
{
	char link[64], path[PATH_MAX];
	int pid = fork();

	if (pid == 0) {
		execl(exe, exe, "30", (char *)NULL);
		_exit(127);
	}
	if (nchildren < 16)
		children[nchildren++] = pid;
	/* Until the exec is done, /proc shows the test binary. */
	snprintf(link, sizeof(link), "/proc/%d/exe", pid);
	for (int i = 0; i < 1000; i++) {
		ssize_t n = readlink(link, path, sizeof(path) - 1);

		if (n > 0) {
			path[n] = '\0';
			if (!strcmp(path, exe))
				break;
		}
		usleep(1000);
	}
	return pid;
}

static struct config *load(const char *extra)
{
	char err[512];
	FILE *f = fopen(conf, "w");
	struct config *c;
	const char *base = strrchr(exe, '/') + 1;

	fprintf(f, "[daemon]\nlog = stderr\nlog_events = false\n[output]\njson_file = %s\n[target sleepers]\nexe = %s\n%s",
		jsonl, base, extra);
	fclose(f);
	c = config__load(conf, false, NULL, 0, err, sizeof(err));
	if (!c)
		fail_msg("%s", err);
	return c;
}

/* Lines of the JSON file holding every needle. */
static int records(const char *n1, const char *n2)
{
	FILE *f = fopen(jsonl, "r");
	char line[8192];
	int n = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (strstr(line, n1) && (!n2 || strstr(line, n2)))
			n++;
	}
	fclose(f);
	return n;
}

static char *pidkey(int pid)
{
	static char buf[4][32];
	static int k;

	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "\"pid\":%d,", pid);
	return buf[k];
}

struct env {
	struct loop *l;
	struct outputs *o;
	struct targets *t;
};

static void env_open(struct env *e, struct config *c)
{
	e->l = loop__new();
	e->o = outputs__new(c, NULL);
	assert_non_null(e->o);
	e->t = targets__new(e->l, e->o, &backend);
	assert_non_null(e->t);
}

static void env_close(struct env *e)
{
	targets__free(e->t);
	outputs__free(e->o);
	loop__free(e->l);
}

static uint64_t attached(struct env *e)
{
	struct targets_stats st;

	targets__stats(e->t, &st);
	return st.attached;
}

static void test_scan_attach_detach(void **state)
{
	struct config *c = load("");
	struct env e;
	int a = spawn(), b = spawn();

	env_open(&e, c);
	assert_int_equal(targets__apply(e.t, c), 0);
	assert_int_equal(opens, 2);
	assert_int_equal(attached(&e), 2);
	assert_true(targets__has_pid(e.t, a));
	assert_true(targets__has_pid(e.t, b));
	assert_int_equal(records("\"type\":\"target_attach\"", pidkey(a)), 1);
	assert_int_equal(records("\"type\":\"target_attach\"", pidkey(b)), 1);
	assert_int_equal(records("\"via\":\"scan\"", "\"target\":\"sleepers\""), 2);

	/* A second scan attaches nothing new. */
	targets__consider(e.t, a, false);
	assert_int_equal(opens, 2);

	reap(a);
	for (int i = 0; i < 100 && attached(&e) == 2; i++)
		loop__run_once(e.l, 10);
	assert_int_equal(attached(&e), 1);
	assert_false(targets__has_pid(e.t, a));
	assert_int_equal(frees, 1);
	assert_int_equal(records("\"type\":\"target_detach\"", pidkey(a)), 1);
	assert_int_equal(records("\"reason\":\"exited\"", pidkey(a)), 1);

	targets__detach_all(e.t, "shutdown");
	assert_int_equal(frees, 2);
	assert_int_equal(records("\"reason\":\"shutdown\"", pidkey(b)), 1);
	env_close(&e);
	reap(b);
	config__free(c);
}

static void test_reload(void **state)
{
	struct config *c1 = load("grace = 1s\n"), *c2 = load("grace = 2s\n"), *c3, *c4;
	struct env e;
	int a = spawn();
	char *st = NULL;
	size_t len = 0;
	FILE *f;
	struct json_w *w;

	env_open(&e, c1);
	assert_int_equal(targets__apply(e.t, c1), 0);
	assert_int_equal(opens, 1);

	/* Same selection and rules: the session stays. */
	c3 = load("grace = 1s\n");
	assert_int_equal(targets__apply(e.t, c3), 0);
	assert_int_equal(opens, 1);
	assert_int_equal(frees, 0);

	/* New rules, the session cannot take them live: re-opened with them. */
	assert_int_equal(targets__apply(e.t, c2), 0);
	assert_int_equal(opens, 2);
	assert_int_equal(frees, 1);
	assert_int_equal(records("\"reason\":\"reconfigured\"", pidkey(a)), 1);
	assert_int_equal(records("\"via\":\"reload\"", "\"grace\":\"2s\""), 1);

	/* With a live update the session stays and takes the new rules. */
	configure_ok = true;
	assert_int_equal(targets__apply(e.t, c3), 0);
	assert_int_equal(opens, 2);
	assert_int_equal(configures, 1);
	f = open_memstream(&st, &len);
	w = json_w__new(f, false);
	json_w__obj_open(w);
	targets__write_status(e.t, w);
	json_w__obj_close(w);
	json_w__free(w);
	fclose(f);
	assert_non_null(strstr(st, "\"rules\":{\"grace\":\"1s\""));
	free(st);

	/* No longer selected. */
	{
		char err[256];

		f = fopen(conf, "w");
		fprintf(f, "[daemon]\nlog = stderr\n[output]\njson_file = %s\n[target other]\nexe = nothing-like-it\n",
			jsonl);
		fclose(f);
		c4 = config__load(conf, false, NULL, 0, err, sizeof(err));
		assert_non_null(c4);
	}
	assert_int_equal(targets__apply(e.t, c4), 0);
	assert_int_equal(attached(&e), 0);
	assert_int_equal(records("\"reason\":\"deselected\"", pidkey(a)), 1);
	env_close(&e);
	reap(a);
	config__free(c1);
	config__free(c2);
	config__free(c3);
	config__free(c4);
}

static void test_failure_not_retried(void **state)
{
	struct config *c = load("");
	struct env e;
	int a = spawn();

	fail_pid = a;
	env_open(&e, c);
	assert_int_equal(targets__apply(e.t, c), 0);
	assert_int_equal(opens, 1);
	assert_int_equal(attached(&e), 0);
	assert_int_equal(records("\"type\":\"target_attach_failed\"", "not a Go program (fake)"), 1);
	targets__consider(e.t, a, false);
	assert_int_equal(opens, 1);
	/* A reload tries again. */
	assert_int_equal(targets__apply(e.t, c), 0);
	assert_int_equal(opens, 2);
	env_close(&e);
	reap(a);
	config__free(c);
}

static void test_max_targets(void **state)
{
	struct config *c;
	struct env e;
	int a = spawn(), b = spawn();
	struct targets_stats st;

	c = load("");
	c->daemon.max_targets = 1;
	env_open(&e, c);
	assert_int_equal(targets__apply(e.t, c), 0);
	targets__stats(e.t, &st);
	assert_int_equal(st.attached, 1);
	assert_int_equal(st.refused_max, 1);
	assert_int_equal(records("\"type\":\"target_attach_failed\"", "max_targets (1)"), 1);
	env_close(&e);
	reap(a);
	reap(b);
	config__free(c);
}

static void test_exec_reattaches(void **state)
{
	struct config *c = load("");
	struct env e;
	int a = spawn();

	env_open(&e, c);
	assert_int_equal(targets__apply(e.t, c), 0);
	targets__consider(e.t, a, true);
	assert_int_equal(opens, 2);
	assert_int_equal(frees, 1);
	assert_int_equal(records("\"reason\":\"exec\"", pidkey(a)), 1);
	assert_true(targets__has_pid(e.t, a));
	env_close(&e);
	reap(a);
	config__free(c);
}

static void test_alerts(void **state)
{
	struct config *c = load("");
	struct env e;
	int a = spawn(), saved;
	char *m = NULL, want[256];
	size_t len = 0;
	FILE *f;

	alert_on_poll = true;
	env_open(&e, c);
	assert_int_equal(targets__apply(e.t, c), 0);
	fflush(stderr);
	saved = dup(2);
	dup2(open("/dev/null", O_WRONLY), 2);
	targets__tick(e.t);
	targets__tick(e.t);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	/* The session's object, with the target's name in front. */
	assert_int_equal(records("{\"target\":\"sleepers\",\"type\":\"alert\",\"version\":1,\"rule\":\"lost-cancel\",",
				 "\"count\":3,"),
			 1);
	f = open_memstream(&m, &len);
	targets__write_metrics(e.t, f);
	fclose(f);
	assert_non_null(strstr(m, "ctxtrace_alerts_total{target=\"sleepers\",rule=\"lost-cancel\"} 1\n"));
	assert_non_null(strstr(m, "ctxtrace_targets 1\n"));
	/* The child runs in this pid namespace: its pid there is the same. */
	snprintf(want, sizeof(want), "ctxtrace_target_info{target=\"sleepers\",pid=\"%d\",exe=\"%s\",ns_pid=\"%d\",cgroup=\"",
		 a, exe, a);
	assert_non_null(strstr(m, want));
	free(m);
	env_close(&e);
	reap(a);
	config__free(c);
}

static void test_graph(void **state)
{
	struct config *c = load("");
	struct env e;
	int a = spawn();
	char *out = NULL, msg[256], want[64];
	size_t len = 0;
	FILE *f;
	struct lineage_opts lo = { 0 };

	env_open(&e, c);
	assert_int_equal(targets__apply(e.t, c), 0);
	f = open_memstream(&out, &len);
	assert_int_equal(targets__graph(e.t, a + 100000, false, f, msg, sizeof(msg)), -ESRCH);
	assert_non_null(strstr(msg, "is not traced"));
	assert_int_equal(targets__graph(e.t, a, false, f, msg, sizeof(msg)), -ENOTSUP);
	graph = lineage__new(&lo);
	assert_non_null(graph);
	assert_int_equal(targets__graph(e.t, a, false, f, msg, sizeof(msg)), 0);
	fclose(f);
	/* One JSON line about this pid. */
	snprintf(want, sizeof(want), "\"pid\":%d,", a);
	assert_non_null(strstr(out, "{\"type\":\"graph\""));
	assert_non_null(strstr(out, want));
	assert_int_equal(strchr(out, '\n') - out, (long)len - 1);
	free(out);
	lineage__free(graph);
	graph = NULL;
	env_close(&e);
	reap(a);
	config__free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_scan_attach_detach, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reload, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failure_not_retried, setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_targets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_reattaches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alerts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_graph, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
