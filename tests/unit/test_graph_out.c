/* Graph printers on a small hand-built program: a server context, three identical
 * requests each with a worker goroutine (one request cancelled while its worker
 * still runs), a value context in the chain and an unbound goroutine. */
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
#include "graph/lineage.h"
#include "output/graph_out.h"
#include "rules/memjudge.h"

struct stack2 {
	uint32_t n, hash;
	struct ct_frame frames[2];
};

static const struct stack2 s_base = { 2, 1, { { "context.WithCancel", "/go/src/context/context.go", 237, false },
					       { "main.main", "/src/app/main.go", 12, false } } };
static const struct stack2 s_req = { 2, 2, { { "context.WithTimeout", "/go/src/context/context.go", 700, false },
					      { "main.serve", "/src/app/serve.go", 31, false } } };
static const struct stack2 s_val = { 1, 3, { { "main.serve", "/src/app/serve.go", 29, false } } };
static const struct stack2 s_go = { 1, 4, { { "main.serve", "/src/app/serve.go", 33, false } } };
static const struct stack2 s_tick = { 1, 5, { { "main.main", "/src/app/main.go", 20, false } } };
#define STK(s) ((const struct ct_stack *)&(s))

static uint64_t clk = 1000000000ULL;

static void apply(struct lineage *lg, struct ct_event *e)
{
	e->pid = 77;
	e->ts_ns = clk += 1000000;
	assert_int_equal(lineage__apply(lg, e), 0);
}

static void ctx(struct lineage *lg, uint64_t goid, uint64_t id, enum ctx_kind k, uint64_t parent, enum ctx_kind pk,
		const struct ct_stack *st)
{
	struct ct_event e = { .type = EV_CTX_CREATE, .goid = goid };

	e.ctx_create.id = id;
	e.ctx_create.kind = k;
	e.ctx_create.parent = parent;
	e.ctx_create.parent_kind = pk;
	e.ctx_create.stack = st;
	if (k == CTX_TIMER) {
		e.ctx_create.has_deadline = true;
		e.ctx_create.deadline_unix_ns = 1700000000123456789LL;
	}
	apply(lg, &e);
}

static void go(struct lineage *lg, uint64_t parent, uint64_t goid, const struct ct_stack *site, const char *fn)
{
	struct ct_event e = { .type = EV_GO_CREATE, .goid = parent };

	e.go_create.goid = goid;
	e.go_create.parent_goid = parent;
	e.go_create.go_site = site;
	e.go_create.start_func = fn;
	apply(lg, &e);
}

/* ids: base 0xb00, value 0xc0N, request 0xd0N; goroutines: requests 12/22/32, workers 100+N */
static struct lineage *program(void)
{
	struct lineage *lg = lineage__new(NULL);
	struct ct_event e = { .type = EV_GO_CREATE };

	assert_non_null(lg);
	e.go_create.goid = 1;
	e.go_create.preexisting = true;
	e.go_create.start_func = "main.main";
	apply(lg, &e);
	ctx(lg, 1, 0xb00, CTX_CANCEL, 0xa00, CTX_BACKGROUND, STK(s_base));
	go(lg, 1, 5, STK(s_tick), "main.ticker");
	for (int i = 0; i < 3; i++) {
		go(lg, 1, 2 + 10 * (i + 1), STK(s_go), "main.serve");
		ctx(lg, 2 + 10 * (i + 1), 0xc00 + i, CTX_VALUE, 0xb00, CTX_CANCEL, STK(s_val));
		ctx(lg, 2 + 10 * (i + 1), 0xd00 + i, CTX_TIMER, 0xc00 + i, CTX_VALUE, STK(s_req));
		go(lg, 2 + 10 * (i + 1), 100 + i, STK(s_go), "main.serve.func1");
	}
	/* main waits on request 2's context: main is no worker of it */
	memset(&e, 0, sizeof(e));
	e.type = EV_CTX_DONE;
	e.goid = 1;
	e.ctx_done.id = 0xd02;
	apply(lg, &e);
	/* request 2 times out; its worker (goroutine 102) keeps running */
	memset(&e, 0, sizeof(e));
	e.type = EV_CTX_CANCEL;
	e.ctx_cancel.id = 0xd02;
	e.ctx_cancel.reason = CANCEL_DEADLINE;
	e.ctx_cancel.effective = true;
	e.ctx_cancel.err = "context deadline exceeded";
	apply(lg, &e);
	return lg;
}

static char *render(struct lineage *lg, enum graph_format f)
{
	struct graph_out_opts o = { .format = f, .pid = 77, .mono_to_real_ns = 1700000000000000000LL };
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	assert_non_null(m);
	assert_int_equal(graph_out__write(lg, &o, m), 0);
	fclose(m);
	return buf;
}

static int count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static const char *line_with(const char *text, const char *needle, char *out, size_t size)
{
	const char *p = strstr(text, needle), *b, *e;

	if (!p)
		return NULL;
	for (b = p; b > text && b[-1] != '\n'; b--)
		;
	e = strchr(p, '\n');
	snprintf(out, size, "%.*s", (int)(e ? e - b : (long)strlen(b)), b);
	return out;
}

static void test_tree(void **state)
{
	struct lineage *lg = program();
	char *t = render(lg, GRAPH_TREE), line[512];

	assert_non_null(strstr(t, "pid 77: 8 contexts (7 live, 1 cancelled), 8 goroutines (8 alive, 0 exited)"));
	/* the two live requests fold into one line, the cancelled one stands apart */
	assert_non_null(line_with(t, "main.serve  serve.go:31  live", line, sizeof(line)));
	assert_non_null(strstr(line, "x2"));
	/* the documented wording (docs/graph.md): "live, age 6ms-10ms", "cancelled (deadline) 2.1s ago" */
	assert_non_null(strstr(line, "  live, age "));
	assert_non_null(line_with(t, "main.serve  serve.go:31 [0xd02]  cancelled (deadline)", line, sizeof(line)));
	assert_non_null(strstr(line, "LEAK"));
	assert_non_null(strstr(line, "cancel never called"));
	assert_non_null(strstr(line, " ago, cancel never called"));
	assert_null(strstr(line, "x2"));
	/* its worker is under it, marked */
	assert_non_null(line_with(t, "goroutine 102 main.serve.func1", line, sizeof(line)));
	assert_non_null(strstr(line, "LEAK"));
	assert_non_null(strstr(line, "started at serve.go:33"));
	/* value contexts are folded away; the site is the caller of WithCancel */
	assert_null(strstr(t, "value"));
	assert_non_null(strstr(t, "cancel main.main  main.go:12"));
	assert_null(strstr(t, "context.go"));
	/* the ticker was started after main created the base context: bound to it */
	assert_non_null(line_with(t, "goroutine 5 main.ticker", line, sizeof(line)));
	assert_null(strstr(t, "in no context's scope"));
	/* main waits on the cancelled request: under it, but not leaking */
	assert_non_null(line_with(t, "goroutine 1 main.main", line, sizeof(line)));
	assert_null(strstr(line, "LEAK"));
	assert_true(strstr(t, "goroutine 1 main.main") > strstr(t, "[0xd02]"));
	/* the request goroutines fold too */
	assert_non_null(line_with(t, "goroutines main.serve ", line, sizeof(line)));
	assert_non_null(strstr(line, "x3"));
	/* tree shape: the requests are indented below the base context */
	assert_true(strstr(t, "background") < strstr(t, "cancel main.main"));
	assert_true(strstr(t, "cancel main.main") < strstr(t, "timer main.serve"));
	free(t);
	lineage__free(lg);
}

static bool verdict_102(const void *cookie, uint64_t goid)
{
	(void)cookie;
	return goid == 102;
}

static bool verdict_none(const void *cookie, uint64_t goid)
{
	(void)cookie;
	(void)goid;
	return false;
}

/* Issue 14: the tree marks what the rules judged (grace, memory, the standard
 * library's goroutines), not every goroutine alive under a cancelled context. */
static void test_tree_verdict(void **state)
{
	struct lineage *lg = program();
	struct graph_out_opts o = { .format = GRAPH_TREE, .pid = 77, .go_leaking = verdict_none };
	char *buf = NULL, line[512];
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	(void)state;
	assert_int_equal(graph_out__write(lg, &o, m), 0);
	fclose(m);
	assert_null(strstr(buf, "LEAK"));
	/* the header says what the graph holds, a fact either way */
	assert_non_null(strstr(buf, "1 cancelled contexts with goroutines still running"));
	free(buf);
	buf = NULL;
	o.go_leaking = verdict_102;
	m = open_memstream(&buf, &len);
	assert_int_equal(graph_out__write(lg, &o, m), 0);
	fclose(m);
	assert_non_null(line_with(buf, "goroutine 102 main.serve.func1", line, sizeof(line)));
	assert_non_null(strstr(line, "LEAK"));
	free(buf);
	lineage__free(lg);
}

/* Issue 9: goroutines that existed at attach show what memory holds of them, and
 * the memory judgement's verdict, not an age counted from attach. */
static const struct ct_frame f_block = { "main.leak.func1", "/src/app/leak.go", 12, false };

static bool memory_of(const void *cookie, uint64_t goid, struct memjudge_go *out)
{
	(void)cookie;
	if (goid < 7 || goid > 9)
		return false;
	memset(out, 0, sizeof(*out));
	out->goid = goid;
	out->wait = "chan send";
	out->block_site = &f_block;
	out->stack = STK(s_tick); /* read: any stack */
	out->waiting_ns = goid == 9 ? 0 : 60000000000ULL + goid * 1000000000ULL;
	out->rule = RULE_STUCK_GOROUTINES;
	out->alerted = true;
	if (goid == 9) {
		out->ancestry.known = true;
		out->ancestry.id = 0xe00;
		out->ancestry.type_name = "*context.timerCtx";
		out->ancestry.err = "context deadline exceeded";
		out->ancestry_parent = 1;
	}
	return true;
}

static void test_tree_memory(void **state)
{
	struct lineage *lg = program();
	struct graph_out_opts o = { .format = GRAPH_TREE, .pid = 77, .go_memory = memory_of };
	struct ct_event e = { .type = EV_GO_CREATE };
	char *buf = NULL, line[1024];
	size_t len = 0;
	FILE *m;

	(void)state;
	for (uint64_t g = 7; g <= 9; g++) {
		e.go_create.goid = g;
		e.go_create.preexisting = true;
		e.go_create.start_func = "main.leak.func1";
		apply(lg, &e);
	}
	m = open_memstream(&buf, &len);
	assert_int_equal(graph_out__write(lg, &o, m), 0);
	fclose(m);
	/* 7 and 8 alike: one line, their waits from waitsince, not from attach */
	assert_non_null(line_with(buf, "goroutines main.leak.func1", line, sizeof(line)));
	assert_non_null(strstr(line, "alive since before attach (at least "));
	assert_non_null(strstr(line, "chan send at leak.go:12 for 1m7s-1m8s"));
	assert_non_null(strstr(line, "no context found in memory"));
	assert_non_null(strstr(line, "STUCK: stuck-goroutines (memory)"));
	assert_non_null(strstr(line, "x2"));
	/* 9: no waitsince, tied by ancestry: a line of its own that says both */
	assert_non_null(line_with(buf, "goroutine 9 main.leak.func1", line, sizeof(line)));
	assert_non_null(strstr(line, "(since attach: no waitsince)"));
	assert_non_null(strstr(line, "parent goroutine 1 holds cancelled *context.timerCtx [0xe00] (context "
				      "deadline exceeded) in the frame that started it (by ancestry)"));
	free(buf);
	buf = NULL;
	o.format = GRAPH_JSON;
	m = open_memstream(&buf, &len);
	assert_int_equal(graph_out__write(lg, &o, m), 0);
	fclose(m);
	assert_non_null(strstr(buf, "\"waiting_from\":\"waitsince\""));
	assert_non_null(strstr(buf, "\"tie\":\"ancestry\""));
	assert_non_null(strstr(buf, "\"memory\":null"));
	free(buf);
	lineage__free(lg);
}

static int sh(const char *cmd)
{
	int rc = system(cmd);

	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void test_json(void **state)
{
	struct lineage *lg = program();
	char *j = render(lg, GRAPH_JSON), path[] = "/tmp/ct-test-graph-XXXXXX", cmd[2048];
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, j, strlen(j)), (ssize_t)strlen(j));
	close(fd);
	if (sh("command -v jq >/dev/null") != 0) {
		unlink(path);
		skip();
	}
#define JQ(expr)                                                                  \
	do {                                                                      \
		snprintf(cmd, sizeof(cmd), "jq -e '%s' %s >/dev/null", expr, path); \
		assert_int_equal(sh(cmd), 0);                                     \
	} while (0)
	JQ(".type == \"graph\" and .version == 1 and .pid == 77");
	JQ(".contexts | length == 8");
	JQ(".goroutines | length == 8");
	JQ("[.contexts[] | select(.kind == \"timer\")] | length == 3");
	JQ(".contexts[] | select(.id == \"0xd02\") | .state == \"cancelled\" and .reason == \"deadline\" "
	   "and .leaking and (.cancel_called | not) and .parent == \"0xc02\" and .ancestor == \"0xb00\" "
	   "and .err == \"context deadline exceeded\" and .created_by == 32");
	JQ(".contexts[] | select(.id == \"0xd00\") | .created_at == {\"func\":\"main.serve\",\"file\":\"/src/app/serve.go\",\"line\":31}");
	JQ(".contexts[] | select(.id == \"0xd00\") | .created_stack | length == 2");
	JQ(".contexts[] | select(.id == \"0xd00\") | .deadline == \"2023-11-14T22:13:20.123456789Z\" "
	   "and .deadline_unix_ns == 1700000000123456789");
	JQ(".contexts[] | select(.id == \"0xb00\") | has(\"deadline\") | not");
	JQ(".contexts[] | select(.id == \"0xc02\") | .kind == \"value\" and .state == \"live\" and .reason == null and .parent == \"0xb00\"");
	JQ(".contexts[] | select(.id == \"0xa00\") | .kind == \"background\" and .placeholder and .parent == null");
	JQ(".goroutines[] | select(.goid == 102) | .parent_goid == 32 and .leaking and .bound == \"0xd02\" "
	   "and .scope == [\"0xd02\", \"0xb00\"] and .start_func == \"main.serve.func1\" and .state == \"alive\"");
	JQ(".goroutines[] | select(.goid == 32) | .contexts == [\"0xc02\", \"0xd02\"] and .scope == [\"0xb00\"]");
	JQ(".goroutines[] | select(.goid == 1) | .preexisting and .parent_goid == null and .contexts == [\"0xb00\"] "
	   "and .bound == \"0xd02\" and .done == [\"0xd02\"] and (.leaking | not)");
	JQ(".goroutines[] | select(.goid == 100) | (.leaking | not) and .created_at.line == 33");
	JQ(".contexts[] | select(.id == \"0xb00\") | .created_time | test(\"^2023-11-14T22:13:2[0-9]\\\\.[0-9]{9}Z$\")");
#undef JQ
	unlink(path);
	free(j);
	lineage__free(lg);
}

static void test_dot(void **state)
{
	struct lineage *lg = program();
	char *d = render(lg, GRAPH_DOT);

	assert_int_equal(strncmp(d, "digraph ctxtrace {", 18), 0);
	assert_non_null(strstr(d, "}\n"));
	/* leaking parts red, cancelled ones grey and dashed */
	assert_int_equal(count(d, ", color=red"), 2);
	assert_true(count(d, "style=dashed") >= 2);
	/* folded: base, request x2, cancelled request, ticker, goroutines: fewer nodes than contexts + goroutines */
	assert_true(count(d, "[label=") < 16);
	free(d);
	lineage__free(lg);
}

static void test_svg(void **state)
{
	struct lineage *lg = program();
	char *svg = render(lg, GRAPH_SVG), path[] = "/tmp/ct-test-svg-XXXXXX", cmd[256], id[32];
	struct lg_ctx c;
	uint32_t cur = 0;
	int fd = mkstemp(path), ncx = 0;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, svg, strlen(svg)), (ssize_t)strlen(svg));
	close(fd);
	assert_non_null(strstr(svg, "<svg"));
	/* well-formed XML, checked by an independent parser */
	if (sh("command -v xmllint >/dev/null") == 0)
		snprintf(cmd, sizeof(cmd), "xmllint --noout %s", path);
	else
		snprintf(cmd, sizeof(cmd), "python3 -c 'import sys,xml.etree.ElementTree as E; E.parse(sys.argv[1])' %s",
			 path);
	assert_int_equal(sh(cmd), 0);
	/* every non-value context is drawn (folded ones listed in their node's tooltip) */
	while (lineage__ctx_next(lg, &cur, &c)) {
		if (c.kind == CTX_VALUE)
			continue;
		snprintf(id, sizeof(id), "0x%llx", (unsigned long long)c.id);
		assert_non_null(strstr(svg, id));
		ncx++;
	}
	assert_int_equal(ncx, 5);
	unlink(path);
	free(svg);
	lineage__free(lg);
}

static void test_formats(void **state)
{
	enum graph_format f;

	assert_int_equal(graph_format_parse("svg", &f), 0);
	assert_int_equal(f, GRAPH_SVG);
	assert_int_equal(graph_format_parse("tree", &f), 0);
	assert_int_equal(f, GRAPH_TREE);
	assert_int_equal(graph_format_parse("png", &f), -EINVAL);
	assert_int_equal(graph_format_parse(NULL, &f), -EINVAL);
}

/* Many identical subtrees fold into one line with their count. */
static void test_fold_many(void **state)
{
	struct lineage *lg = lineage__new(NULL);
	char *t, line[512];

	for (int i = 0; i < 312; i++) {
		ctx(lg, 1, 0x10000 + i * 16, CTX_CANCEL, 0xa00, CTX_BACKGROUND, STK(s_req));
		go(lg, 1, 100 + i, STK(s_go), "main.worker");
		ctx(lg, 1, 0x90000 + i * 16, CTX_CANCEL, 0x10000 + i * 16, CTX_CANCEL, STK(s_base));
	}
	t = render(lg, GRAPH_TREE);
	assert_non_null(line_with(t, "cancel main.serve", line, sizeof(line)));
	assert_non_null(strstr(line, "x312"));
	assert_true(count(t, "\n") < 12);
	free(t);
	lineage__free(lg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tree),
		cmocka_unit_test(test_tree_verdict), cmocka_unit_test(test_tree_memory),   cmocka_unit_test(test_json),    cmocka_unit_test(test_dot),
		cmocka_unit_test(test_svg),    cmocka_unit_test(test_formats), cmocka_unit_test(test_fold_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
