/* The lineage graph on hand-built event sequences: the expected structure is
 * written out by hand in each test from what the event sequence describes. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "events/event.h"
#include "graph/lineage.h"

struct stack1 {
	uint32_t n, hash;
	struct ct_frame frames[1];
};

static const struct stack1 s_main = { 1, 11, { { "main.main", "/src/app/main.go", 10, false } } };
static const struct stack1 s_handler = { 1, 12, { { "main.handler", "/src/app/h.go", 20, false } } };
static const struct stack1 s_derive = { 1, 13, { { "context.(*cancelCtx).propagateCancel", "context.go", 480, false } } };
static const struct stack1 s_derive_old = { 1, 14, { { "context.parentCancelCtx", "context.go", 300, true } } };
#define STK(s) ((const struct ct_stack *)&(s))

static uint64_t clk;

static struct ct_event ev(enum ct_event_type t, uint64_t goid)
{
	struct ct_event e;

	memset(&e, 0, sizeof(e));
	e.type = t;
	e.pid = 42;
	e.goid = goid;
	clk += 1000;
	e.ts_ns = clk;
	return e;
}

static void create(struct lineage *lg, uint64_t goid, uint64_t id, enum ctx_kind kind, uint64_t parent,
		   enum ctx_kind pkind)
{
	struct ct_event e = ev(EV_CTX_CREATE, goid);

	e.ctx_create.id = id;
	e.ctx_create.kind = kind;
	e.ctx_create.parent = parent;
	e.ctx_create.parent_kind = pkind;
	e.ctx_create.ancestor = parent;
	e.ctx_create.ancestor_kind = pkind;
	e.ctx_create.stack = STK(s_main);
	e.ctx_create.type_name = kind == CTX_TIMER ? "*context.timerCtx" : "*context.cancelCtx";
	assert_int_equal(lineage__apply(lg, &e), 0);
}

static void cancel(struct lineage *lg, uint64_t goid, uint64_t id, enum cancel_reason why)
{
	struct ct_event e = ev(EV_CTX_CANCEL, goid);

	e.ctx_cancel.id = id;
	e.ctx_cancel.reason = why;
	e.ctx_cancel.effective = true;
	e.ctx_cancel.err = why == CANCEL_DEADLINE ? "context deadline exceeded" : "context canceled";
	e.ctx_cancel.stack = why == CANCEL_EXPLICIT ? STK(s_handler) : NULL;
	assert_int_equal(lineage__apply(lg, &e), 0);
}

static void go(struct lineage *lg, uint64_t parent, uint64_t goid)
{
	struct ct_event e = ev(EV_GO_CREATE, parent);

	e.go_create.goid = goid;
	e.go_create.parent_goid = parent;
	e.go_create.go_site = STK(s_handler);
	e.go_create.start_func = "main.worker";
	assert_int_equal(lineage__apply(lg, &e), 0);
}

static void go_pre(struct lineage *lg, uint64_t goid)
{
	struct ct_event e = ev(EV_GO_CREATE, 0);

	e.go_create.goid = goid;
	e.go_create.preexisting = true;
	e.go_create.start_func = "main.main";
	assert_int_equal(lineage__apply(lg, &e), 0);
}

static void go_exit(struct lineage *lg, uint64_t goid)
{
	struct ct_event e = ev(EV_GO_EXIT, goid);

	e.go_exit.goid = goid;
	assert_int_equal(lineage__apply(lg, &e), 0);
}

static void done(struct lineage *lg, uint64_t goid, uint64_t id)
{
	struct ct_event e = ev(EV_CTX_DONE, goid);

	e.ctx_done.id = id;
	assert_int_equal(lineage__apply(lg, &e), 0);
}

static struct lineage *new_graph(uint64_t retention, uint32_t max)
{
	struct lineage_opts o = { .retention_ns = retention, .max_nodes = max };
	struct lineage *lg = lineage__new(&o);

	assert_non_null(lg);
	clk = 1000000;
	return lg;
}

static struct lg_ctx getc_(struct lineage *lg, uint64_t id)
{
	struct lg_ctx c;

	assert_int_equal(lineage__ctx(lg, id, &c), 0);
	return c;
}

/* Background -> A(cancel) -> V(value) -> T(timer); cancelling A ends V too. */
static void test_value_chain(void **state)
{
	struct lineage *lg = new_graph(0, 0);
	struct lg_ctx c, x;
	struct lg_ref it = { 0 };
	int n = 0;

	go_pre(lg, 1);
	create(lg, 1, 0xa0, CTX_CANCEL, 0xb0, CTX_BACKGROUND);
	create(lg, 1, 0xc0, CTX_VALUE, 0xa0, CTX_CANCEL);
	{
		struct ct_event e = ev(EV_CTX_CREATE, 1);

		e.ctx_create.id = 0xd0;
		e.ctx_create.kind = CTX_TIMER;
		e.ctx_create.parent = 0xc0;
		e.ctx_create.parent_kind = CTX_VALUE;
		e.ctx_create.ancestor = 0xa0;
		e.ctx_create.ancestor_kind = CTX_CANCEL;
		e.ctx_create.has_deadline = true;
		e.ctx_create.deadline_unix_ns = 1700000000000000000LL;
		assert_int_equal(lineage__apply(lg, &e), 0);
	}
	c = getc_(lg, 0xb0);
	assert_int_equal(c.kind, CTX_BACKGROUND);
	assert_true(c.placeholder);
	assert_int_equal(c.nchildren, 1);
	c = getc_(lg, 0xd0);
	assert_int_equal(c.parent_id, 0xc0);
	assert_int_equal(c.parent_kind, CTX_VALUE);
	assert_true(c.has_deadline);
	assert_int_equal(c.deadline_unix_ns, 1700000000000000000LL);
	assert_int_equal(lineage__ctx_ancestor(lg, c.ref, &x), 0);
	assert_int_equal(x.id, 0xa0);
	assert_int_equal(lineage__ctx_at(lg, c.parent, &x), 0);
	assert_int_equal(x.id, 0xc0);
	assert_int_equal(x.creator_goid, 1);
	assert_ptr_equal(x.stack, STK(s_main));
	while (lineage__ctx_child_next(lg, getc_(lg, 0xa0).ref, &it, &x))
		n++, assert_int_equal(x.id, 0xc0);
	assert_int_equal(n, 1);

	cancel(lg, 1, 0xa0, CANCEL_EXPLICIT);
	c = getc_(lg, 0xa0);
	assert_int_equal(c.state, LG_CTX_CANCELLED);
	assert_int_equal(c.reason, CANCEL_EXPLICIT);
	assert_true(c.cancel_called);
	assert_int_equal(c.canceller_goid, 1);
	assert_ptr_equal(c.cancel_stack, STK(s_handler));
	assert_string_equal(c.err, "context canceled");
	c = getc_(lg, 0xc0);
	assert_int_equal(c.state, LG_CTX_CANCELLED);
	assert_int_equal(c.reason, CANCEL_PARENT);
	assert_int_equal(getc_(lg, 0xd0).state, LG_CTX_LIVE); /* its own event has not come yet */
	cancel(lg, 1, 0xd0, CANCEL_PARENT);
	c = getc_(lg, 0xd0);
	assert_int_equal(c.state, LG_CTX_CANCELLED);
	assert_false(c.cancel_called);
	lineage__free(lg);
}

/* A value parent never seen is hung under the ancestor the decoder named. */
static void test_unseen_value_parent(void **state)
{
	struct lineage *lg = new_graph(0, 0);
	struct ct_event e = ev(EV_CTX_CREATE, 1);
	struct lg_ctx c, x;

	e.ctx_create.id = 0x300;
	e.ctx_create.kind = CTX_CANCEL;
	e.ctx_create.parent = 0x200;
	e.ctx_create.parent_kind = CTX_VALUE;
	e.ctx_create.ancestor = 0x100;
	e.ctx_create.ancestor_kind = CTX_TODO;
	assert_int_equal(lineage__apply(lg, &e), 0);
	c = getc_(lg, 0x300);
	assert_int_equal(lineage__ctx_ancestor(lg, c.ref, &x), 0);
	assert_int_equal(x.id, 0x100);
	assert_int_equal(x.kind, CTX_TODO);
	x = getc_(lg, 0x200);
	assert_int_equal(x.kind, CTX_VALUE);
	assert_int_equal(x.parent_id, 0x100);
	lineage__free(lg);
}

/* Custom parent types, WithoutCancel (survives its parent's cancel), AfterFunc. */
static void test_custom_withoutcancel_afterfunc(void **state)
{
	struct lineage *lg = new_graph(0, 0);
	struct ct_event e = ev(EV_CTX_CREATE, 1);
	struct lg_ctx c, out[8];

	go_pre(lg, 1);
	/* the decoder names a custom parent it discovered */
	e.ctx_create.id = 0x500;
	e.ctx_create.kind = CTX_CUSTOM;
	e.ctx_create.type_name = "*main.myCtx";
	e.ctx_create.discovered = true;
	e.ctx_create.parent = 0xb0;
	e.ctx_create.parent_kind = CTX_BACKGROUND;
	assert_int_equal(lineage__apply(lg, &e), 0);
	create(lg, 1, 0x510, CTX_CANCEL, 0x500, CTX_CUSTOM);
	c = getc_(lg, 0x500);
	assert_string_equal(c.type_name, "*main.myCtx");
	assert_true(c.discovered);
	assert_false(c.placeholder);
	assert_int_equal(c.nchildren, 1);

	create(lg, 1, 0x600, CTX_CANCEL, 0xb0, CTX_BACKGROUND);
	e = ev(EV_CTX_CREATE, 1);
	e.ctx_create.id = 0x610;
	e.ctx_create.kind = CTX_WITHOUTCANCEL;
	e.ctx_create.parent = 0x600;
	e.ctx_create.parent_kind = CTX_CANCEL;
	e.ctx_create.discovered = true;
	assert_int_equal(lineage__apply(lg, &e), 0);
	create(lg, 1, 0x620, CTX_VALUE, 0x610, CTX_WITHOUTCANCEL);
	create(lg, 1, 0x630, CTX_AFTERFUNC, 0x600, CTX_CANCEL);
	cancel(lg, 1, 0x600, CANCEL_EXPLICIT);
	cancel(lg, 1, 0x630, CANCEL_PARENT);
	assert_int_equal(getc_(lg, 0x610).state, LG_CTX_LIVE);
	assert_int_equal(getc_(lg, 0x620).state, LG_CTX_LIVE);
	assert_int_equal(getc_(lg, 0x630).state, LG_CTX_CANCELLED);
	assert_int_equal(getc_(lg, 0x630).kind, CTX_AFTERFUNC);
	/* discovered WithoutCancel is not pushed into goroutine 1's scope (its creator is unknown) */
	go(lg, 1, 2);
	assert_int_equal(lineage__go_scope(lg, 2, LG_SCOPE_START, out, 8), 1);
	assert_int_equal(out[0].id, 0x510);
	lineage__free(lg);
}

/* main(1) creates A, starts 2; 2 creates B, cancels a short-lived C, starts 3;
 * 3 starts 4; 4 creates D. Scopes follow the go statements. */
static void test_goroutine_tree_scope(void **state)
{
	struct lineage *lg = new_graph(0, 0);
	struct lg_ctx out[8];
	struct lg_go g, x;
	struct lg_ref it = { 0 };
	int n;

	go_pre(lg, 1);
	create(lg, 1, 0xa, CTX_CANCEL, 0xb0, CTX_BACKGROUND);
	go(lg, 1, 2);
	create(lg, 2, 0xb, CTX_TIMER, 0xa, CTX_CANCEL);
	create(lg, 2, 0xc, CTX_CANCEL, 0xb, CTX_TIMER);
	cancel(lg, 2, 0xc, CANCEL_EXPLICIT);
	go(lg, 2, 3);
	create(lg, 2, 0xe, CTX_CANCEL, 0xb, CTX_TIMER); /* after the go statement */
	go(lg, 3, 4);
	create(lg, 4, 0xd, CTX_CANCEL, 0xb, CTX_TIMER);

	n = lineage__go_scope(lg, 2, LG_SCOPE_START, out, 8);
	assert_int_equal(n, 1);
	assert_int_equal(out[0].id, 0xa);
	n = lineage__go_scope(lg, 3, LG_SCOPE_START, out, 8);
	assert_int_equal(n, 2);
	assert_int_equal(out[0].id, 0xb);
	assert_int_equal(out[1].id, 0xa);
	n = lineage__go_scope(lg, 4, LG_SCOPE_START, out, 8);
	assert_int_equal(n, 2);
	assert_int_equal(out[0].id, 0xb);
	n = lineage__go_scope(lg, 4, LG_SCOPE_NOW, out, 8);
	assert_int_equal(n, 3);
	assert_int_equal(out[0].id, 0xd);
	assert_int_equal(lineage__go_bound(lg, 4, &out[0]), 0);
	assert_int_equal(out[0].id, 0xb);

	/* cancelled later: still the start scope, no longer the scope now */
	cancel(lg, 2, 0xb, CANCEL_DEADLINE);
	n = lineage__go_scope(lg, 3, LG_SCOPE_START, out, 8);
	assert_int_equal(n, 2);
	assert_int_equal(out[0].state, LG_CTX_CANCELLED);
	n = lineage__go_scope(lg, 3, LG_SCOPE_NOW, out, 8);
	assert_int_equal(n, 1);
	assert_int_equal(out[0].id, 0xa);
	n = lineage__go_scope(lg, 1, LG_SCOPE_NOW, out, 8);
	assert_int_equal(n, 1);
	assert_int_equal(lineage__go_scope(lg, 1, LG_SCOPE_START, out, 8), 0);

	/* tree edges */
	assert_int_equal(lineage__go(lg, 4, &g), 0);
	assert_int_equal(g.parent_goid, 3);
	assert_ptr_equal(g.go_site, STK(s_handler));
	assert_string_equal(g.start_func, "main.worker");
	assert_int_equal(lineage__go_at(lg, g.parent, &x), 0);
	assert_int_equal(x.goid, 3);
	assert_int_equal(lineage__go(lg, 1, &g), 0);
	assert_true(g.preexisting);
	assert_int_equal(g.nchildren, 1);
	assert_true(lineage__go_child_next(lg, g.ref, &it, &x));
	assert_int_equal(x.goid, 2);
	assert_false(lineage__go_child_next(lg, g.ref, &it, &x));

	/* Done binds a goroutine to the context it waits on */
	done(lg, 4, 0xd);
	assert_int_equal(lineage__go_bound(lg, 4, &out[0]), 0);
	assert_int_equal(out[0].id, 0xd);
	assert_int_equal(lineage__go_done(lg, 4, out, 8), 1);
	/* deriving a child asks the parent for Done(): that is no wait */
	{
		struct ct_event e = ev(EV_CTX_DONE, 4);
		struct lineage_stats st;

		e.ctx_done.id = 0xb;
		e.ctx_done.site = STK(s_derive);
		assert_int_equal(lineage__apply(lg, &e), 0);
		e.ctx_done.site = STK(s_derive_old);
		assert_int_equal(lineage__apply(lg, &e), 0);
		assert_int_equal(lineage__go_done(lg, 4, out, 8), 1);
		assert_int_equal(out[0].id, 0xd);
		lineage__stats(lg, &st);
		assert_int_equal(st.done_derive, 2);
	}
	/* an exited goroutine keeps its bound context only */
	go_exit(lg, 4);
	assert_int_equal(lineage__go_bound(lg, 4, &out[0]), 0);
	assert_int_equal(out[0].id, 0xd);
	assert_int_equal(lineage__go_scope(lg, 4, LG_SCOPE_START, out, 8), 0);
	assert_int_equal(lineage__go_done(lg, 4, out, 8), 0);
	go_exit(lg, 3);
	assert_int_equal(lineage__go_bound(lg, 3, &out[0]), 0);
	assert_int_equal(out[0].id, 0xb);
	lineage__free(lg);
}

/* A goroutine that creates contexts in a loop and never cancels them keeps a bounded scope. */
static void test_scope_bounded(void **state)
{
	struct lineage *lg = new_graph(0, 0);
	struct lg_ctx out[64];
	struct lineage_stats st;
	int n;

	go_pre(lg, 1);
	for (uint64_t i = 0; i < 10000; i++)
		create(lg, 1, 0x10000 + i * 16, CTX_CANCEL, 0xb0, CTX_BACKGROUND);
	lineage__stats(lg, &st);
	assert_true(st.scope_cells <= 2 * LINEAGE_SCOPE_MAX + 1);
	go(lg, 1, 2);
	n = lineage__go_scope(lg, 2, LG_SCOPE_START, out, 64);
	assert_true(n >= LINEAGE_SCOPE_MAX && n <= 2 * LINEAGE_SCOPE_MAX + 1);
	assert_int_equal(out[0].id, 0x10000 + 9999 * 16);
	/* and when each one is cancelled before the next, the chain does not grow */
	for (uint64_t i = 0; i < 10000; i++) {
		create(lg, 2, 0x900000 + i * 16, CTX_CANCEL, 0xb0, CTX_BACKGROUND);
		cancel(lg, 2, 0x900000 + i * 16, CANCEL_EXPLICIT);
	}
	lineage__stats(lg, &st);
	assert_true(st.scope_cells <= 4 * LINEAGE_SCOPE_MAX + 2);
	lineage__free(lg);
}

/* Goroutines and contexts known from before attach. */
static void test_preexisting(void **state)
{
	struct lineage *lg = new_graph(0, 0);
	struct ct_event e = ev(EV_CTX_CREATE, 7);
	struct lg_ctx c, out[4];
	struct lg_go g;

	e.ctx_create.id = 0x70;
	e.ctx_create.kind = CTX_CANCEL;
	e.ctx_create.preexisting = true;
	e.ctx_create.parent = 0xb0;
	e.ctx_create.parent_kind = CTX_BACKGROUND;
	assert_int_equal(lineage__apply(lg, &e), 0);
	c = getc_(lg, 0x70);
	assert_true(c.preexisting);
	assert_false(c.placeholder);
	/* an unknown goroutine acting makes a placeholder */
	create(lg, 9, 0x90, CTX_CANCEL, 0x70, CTX_CANCEL);
	assert_int_equal(lineage__go(lg, 9, &g), 0);
	assert_true(g.placeholder);
	assert_int_equal(lineage__go_scope(lg, 9, LG_SCOPE_NOW, out, 4), 1);
	/* its real description arrives later (read from allgs) */
	go_pre(lg, 9);
	assert_int_equal(lineage__go(lg, 9, &g), 0);
	assert_false(g.placeholder);
	assert_true(g.preexisting);
	assert_string_equal(g.start_func, "main.main");
	/* a cancel and a Done of contexts never described */
	cancel(lg, 9, 0x4000, CANCEL_EXPLICIT);
	c = getc_(lg, 0x4000);
	assert_true(c.placeholder && c.preexisting);
	assert_int_equal(c.state, LG_CTX_CANCELLED);
	done(lg, 9, 0x5000);
	assert_int_equal(lineage__go_bound(lg, 9, &c), 0);
	assert_int_equal(c.id, 0x5000);
	lineage__free(lg);
}

static size_t count_ctx(struct lineage *lg)
{
	struct lg_ctx c;
	uint32_t cur = 0;
	size_t n = 0;

	while (lineage__ctx_next(lg, &cur, &c))
		n++;
	return n;
}

static void test_retention(void **state)
{
	struct lineage *lg = new_graph(1000000000ULL, 0); /* 1 s */
	struct lineage_stats st;
	struct lg_ctx c;
	struct lg_go g;
	struct ct_event e;

	go_pre(lg, 1);
	create(lg, 1, 0xa, CTX_CANCEL, 0xb0, CTX_BACKGROUND);
	create(lg, 1, 0xb, CTX_CANCEL, 0xb0, CTX_BACKGROUND);
	go(lg, 1, 2);
	cancel(lg, 1, 0xa, CANCEL_EXPLICIT);
	go_exit(lg, 2);
	assert_int_equal(count_ctx(lg), 3);
	clk += 500000000ULL;
	e = ev(EV_LOST, 0);
	assert_int_equal(lineage__apply(lg, &e), 0);
	assert_int_equal(lineage__ctx(lg, 0xa, &c), 0);
	clk += 600000000ULL;
	e = ev(EV_LOST, 0);
	e.lost.ringbuf_drops = 3;
	assert_int_equal(lineage__apply(lg, &e), 0);
	assert_int_equal(lineage__ctx(lg, 0xa, &c), -ENOENT);
	assert_int_equal(lineage__go(lg, 2, &g), -ENOENT);
	assert_int_equal(lineage__ctx(lg, 0xb, &c), 0);
	assert_int_equal(lineage__go(lg, 1, &g), 0);
	assert_int_equal(g.nchildren, 0);
	lineage__stats(lg, &st);
	assert_int_equal(st.evicted_retention, 2);
	assert_int_equal(st.lost_records, 3);
	assert_int_equal(st.ctx_live, 2);
	assert_int_equal(st.ctx_cancelled, 0);
	/* a cancelled context stays past retention while a goroutine runs in its scope */
	create(lg, 1, 0xc, CTX_CANCEL, 0xb0, CTX_BACKGROUND);
	go(lg, 1, 3);
	done(lg, 3, 0xc);
	create(lg, 1, 0xd, CTX_CANCEL, 0xb0, CTX_BACKGROUND);
	go(lg, 1, 4);
	cancel(lg, 1, 0xc, CANCEL_EXPLICIT);
	cancel(lg, 1, 0xd, CANCEL_EXPLICIT);
	go_exit(lg, 4);
	lineage__expire(lg, clk + 2000000000ULL);
	clk += 2000000000ULL;
	assert_int_equal(lineage__ctx(lg, 0xc, &c), 0);
	assert_int_equal(lineage__ctx(lg, 0xd, &c), -ENOENT);
	lineage__stats(lg, &st);
	assert_int_equal(st.ctx_held, 1);
	assert_int_equal(lineage__go_bound(lg, 3, &c), 0);
	assert_int_equal(c.id, 0xc);
	go_exit(lg, 3);
	lineage__expire(lg, clk + 10);
	assert_int_equal(lineage__ctx(lg, 0xc, &c), -ENOENT);
	assert_int_equal(lineage__go_scope(lg, 3, LG_SCOPE_START, &c, 1), 0);
	lineage__stats(lg, &st);
	assert_int_equal(st.ctx_held, 0);
	/* a quiet target: expire by the clock */
	cancel(lg, 1, 0xb, CANCEL_EXPLICIT);
	lineage__expire(lg, clk + 2000000000ULL);
	assert_int_equal(lineage__ctx(lg, 0xb, &c), -ENOENT);
	lineage__free(lg);
}

static void test_max_nodes(void **state)
{
	struct lineage *lg = new_graph(3600ULL * 1000000000ULL, 64);
	struct lineage_stats st;
	struct lg_ctx c;

	go_pre(lg, 1);
	for (uint64_t i = 0; i < 1000; i++) {
		create(lg, 1, 0x1000 + i * 16, CTX_CANCEL, 0xb0, CTX_BACKGROUND);
		cancel(lg, 1, 0x1000 + i * 16, CANCEL_EXPLICIT);
		lineage__stats(lg, &st);
		assert_true(st.ctx_live + st.ctx_cancelled + st.go_alive + st.go_exited <= 64);
	}
	assert_true(st.evicted_cap >= 900);
	assert_int_equal(st.evicted_live, 0);
	/* the newest finished ones are still there */
	assert_int_equal(lineage__ctx(lg, 0x1000 + 999 * 16, &c), 0);
	assert_int_equal(lineage__ctx(lg, 0x1000, &c), -ENOENT);
	/* only live ones left: live nodes go */
	for (uint64_t i = 0; i < 1000; i++)
		create(lg, 1, 0x100000 + i * 16, CTX_CANCEL, 0xb0, CTX_BACKGROUND);
	lineage__stats(lg, &st);
	assert_true(st.evicted_live > 0);
	assert_true(st.ctx_live + st.ctx_cancelled + st.go_alive + st.go_exited <= 64);
	assert_int_equal(lineage__ctx(lg, 0x100000 + 999 * 16, &c), 0);
	lineage__free(lg);
}

/* The Go allocator reuses addresses after GC: a create at a known id is a new node. */
static void test_id_reuse(void **state)
{
	struct lineage *lg = new_graph(0, 0);
	struct lineage_stats st;
	struct lg_ctx a, b, out[4];

	go_pre(lg, 1);
	create(lg, 1, 0xa, CTX_CANCEL, 0xb0, CTX_BACKGROUND);
	create(lg, 1, 0xaa, CTX_CANCEL, 0xa, CTX_CANCEL);
	go(lg, 1, 2);
	a = getc_(lg, 0xa);
	cancel(lg, 1, 0xa, CANCEL_EXPLICIT);
	create(lg, 1, 0xa, CTX_TIMER, 0xb0, CTX_BACKGROUND);
	b = getc_(lg, 0xa);
	assert_int_equal(b.kind, CTX_TIMER);
	assert_int_equal(b.state, LG_CTX_LIVE);
	assert_int_equal(lineage__ctx_at(lg, a.ref, &a), -ENOENT);
	/* the old child lost its parent link, not its parent id */
	a = getc_(lg, 0xaa);
	assert_int_equal(a.parent.gen, 0);
	assert_int_equal(a.parent_id, 0xa);
	/* goroutine 2 was in the scope of the old 0xa, not of the new one */
	assert_int_equal(lineage__go_scope(lg, 2, LG_SCOPE_START, out, 4), 1);
	assert_int_equal(out[0].id, 0xaa);
	/* reuse of a live context's address (it was collected without a cancel) */
	create(lg, 1, 0xa, CTX_CANCEL, 0xb0, CTX_BACKGROUND);
	lineage__stats(lg, &st);
	assert_int_equal(st.replaced, 2);
	assert_int_equal(getc_(lg, 0xa).kind, CTX_CANCEL);
	/* goid reuse, defensively */
	go_exit(lg, 2);
	go(lg, 1, 2);
	lineage__stats(lg, &st);
	assert_int_equal(st.replaced, 3);
	assert_int_equal(st.go_alive, 2);
	lineage__free(lg);
}

/* A deferred cancel after the deadline fired still counts as a called cancel. */
static void test_cancel_after_deadline(void **state)
{
	struct lineage *lg = new_graph(0, 0);
	struct ct_event e;
	struct lg_ctx c;

	create(lg, 1, 0xa, CTX_TIMER, 0xb0, CTX_BACKGROUND);
	cancel(lg, 0, 0xa, CANCEL_DEADLINE);
	e = ev(EV_CTX_CANCEL, 1);
	e.ctx_cancel.id = 0xa;
	e.ctx_cancel.reason = CANCEL_EXPLICIT;
	e.ctx_cancel.effective = false;
	assert_int_equal(lineage__apply(lg, &e), 0);
	c = getc_(lg, 0xa);
	assert_int_equal(c.reason, CANCEL_DEADLINE);
	assert_true(c.cancel_called);
	assert_string_equal(c.err, "context deadline exceeded");
	create(lg, 1, 0xb, CTX_TIMER, 0xb0, CTX_BACKGROUND);
	cancel(lg, 0, 0xb, CANCEL_DEADLINE);
	assert_false(getc_(lg, 0xb).cancel_called);
	lineage__free(lg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_value_chain),
		cmocka_unit_test(test_unseen_value_parent),
		cmocka_unit_test(test_custom_withoutcancel_afterfunc),
		cmocka_unit_test(test_goroutine_tree_scope),
		cmocka_unit_test(test_scope_bounded),
		cmocka_unit_test(test_preexisting),
		cmocka_unit_test(test_retention),
		cmocka_unit_test(test_max_nodes),
		cmocka_unit_test(test_id_reuse),
		cmocka_unit_test(test_cancel_after_deadline),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
