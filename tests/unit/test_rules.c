/* The leak rules on hand-built event sequences, through the real lineage graph,
 * with a fake goroutine-state provider: each test writes out the program it
 * stands for and the alerts that program must (or must not) raise. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "events/event.h"
#include "graph/lineage.h"
#include "output/alert_out.h"
#include "rules/rules.h"
#include "rules/rules_int.h"

#define SEC 1000000000ULL
#define GRACE (2 * SEC)

/* ---- stacks ---- */

struct stk {
	uint32_t n, hash;
	struct ct_frame frames[6];
};
#define STK(s) ((const struct ct_stack *)&(s))

/* main.go:21 subscribe: ctx, _ := context.WithCancel(base) */
static const struct stk s_create_cancel = { 3, 1, {
	{ "context.(*cancelCtx).propagateCancel", "/go/src/context/context.go", 480, false },
	{ "context.WithCancel", "/go/src/context/context.go", 237, false },
	{ "main.subscribe", "/app/main.go", 21, false } } };
/* main.go:30 lookup: context.WithTimeout(base, 50ms), inlined layers */
static const struct stk s_create_timer = { 4, 2, {
	{ "context.(*cancelCtx).propagateCancel", "/go/src/context/context.go", 480, false },
	{ "context.WithDeadlineCause", "/go/src/context/context.go", 610, true },
	{ "context.WithTimeout", "/go/src/context/context.go", 690, false },
	{ "main.lookup", "/app/main.go", 30, false } } };
/* net/http's own per-connection context */
static const struct stk s_create_std = { 3, 3, {
	{ "context.(*cancelCtx).propagateCancel", "/go/src/context/context.go", 480, false },
	{ "context.WithCancel", "/go/src/context/context.go", 237, false },
	{ "net/http.(*conn).serve", "/go/src/net/http/server.go", 1990, false } } };
static const struct stk s_create_base = { 2, 4, {
	{ "context.WithCancel", "/go/src/context/context.go", 237, false },
	{ "main.main", "/app/main.go", 50, false } } };
static const struct stk s_create_req = { 2, 5, {
	{ "context.WithCancel", "/go/src/context/context.go", 237, false },
	{ "main.serve", "/app/main.go", 42, false } } };
static const struct stk s_create_root = { 2, 6, {
	{ "context.WithTimeout", "/go/src/context/context.go", 690, false },
	{ "main.auditLog", "/app/main.go", 23, false } } };
static const struct stk s_create_detached = { 2, 7, {
	{ "context.WithTimeout", "/go/src/context/context.go", 690, false },
	{ "main.audit", "/app/without_cancel.go", 13, false } } };
static const struct stk s_create_derive = { 2, 8, {
	{ "context.WithCancel", "/go/src/context/context.go", 237, false },
	{ "main.call", "/app/main.go", 41, false } } };
static const struct stk s_cancel = { 2, 9, {
	{ "context.(*cancelCtx).cancel", "/go/src/context/context.go", 540, false },
	{ "main.handle", "/app/main.go", 35, false } } };

static const struct stk s_go_worker = { 1, 20, { { "main.fetch", "/app/main.go", 20, false } } };
static const struct stk s_go_std = { 1, 21, { { "net/http.(*Server).Serve", "/go/src/net/http/server.go", 3285, false } } };
static const struct stk s_go_waiter = { 1, 22, { { "main.subscribe", "/app/main.go", 23, false } } };
static const struct stk s_go_watch = { 1, 23, {
	{ "context.(*cancelCtx).propagateCancel", "/go/src/context/context.go", 510, false } } };

static const struct stk s_blk_send = { 3, 30, {
	{ "runtime.gopark", "/go/src/runtime/proc.go", 398, false },
	{ "runtime.chansend1", "/go/src/runtime/chan.go", 145, false },
	{ "main.fetch.func1", "/app/main.go", 22, false } } };
static const struct stk s_blk_read = { 4, 31, {
	{ "syscall.Syscall", "/go/src/syscall/syscall_linux.go", 69, false },
	{ "syscall.read", "/go/src/syscall/zsyscall_linux_amd64.go", 721, false },
	{ "syscall.Read", "/go/src/syscall/syscall_unix.go", 181, false },
	{ "main.readPipe", "/app/main.go", 44, false } } };
static const struct stk s_blk_done = { 3, 32, {
	{ "runtime.gopark", "/go/src/runtime/proc.go", 398, false },
	{ "runtime.chanrecv1", "/go/src/runtime/chan.go", 442, false },
	{ "main.subscribe.func1", "/app/main.go", 24, false } } };
static const struct stk s_blk_cgo = { 3, 33, {
	{ "runtime.cgocall", "/go/src/runtime/cgocall.go", 167, false },
	{ "main._Cfunc_wait_forever", "_cgo_gotypes.go", 55, false },
	{ "main.startCgo.func1", "/app/cgo.go", 32, false } } };

/* ---- a fake target: events through the real graph, states from a table ---- */

struct fake_g {
	uint64_t goid;
	int err; /* returned by the provider; 0 */
	struct rules_gstate st;
};

static struct fake_g gtab[256];
static int ngtab;
static uint64_t clk;
static int reads;

static int fake_gstate(void *cookie, uint64_t goid, struct rules_gstate *out)
{
	(void)cookie;
	reads++;
	for (int i = 0; i < ngtab; i++) {
		if (gtab[i].goid == goid) {
			if (gtab[i].err)
				return gtab[i].err;
			*out = gtab[i].st;
			return 0;
		}
	}
	return -ENOENT;
}

static void set_state(uint64_t goid, enum rules_gstatus status, const char *wait,
		      const struct ct_stack *stack, int sc)
{
	struct fake_g *g = NULL;

	for (int i = 0; i < ngtab; i++) {
		if (gtab[i].goid == goid)
			g = &gtab[i];
	}
	if (!g) {
		assert_true(ngtab < 256);
		g = &gtab[ngtab++];
	}
	memset(g, 0, sizeof(*g));
	g->goid = goid;
	g->st.status = status;
	g->st.wait_reason = wait;
	g->st.stack = stack;
	g->st.syscall_nr = sc;
	g->st.waiting_ns = 3 * SEC;
	g->st.syscall_ns = sc >= 0 ? 4 * SEC : 0;
	g->st.in_cgo = status == RULES_G_SYSCALL && sc == 202 && stack == STK(s_blk_cgo);
}

struct world {
	struct lineage *lg;
	struct rules *r;
	struct alert got[64];
	char json[64][8192];
	int ngot;
};

static void on_alert(void *cookie, const struct alert *a)
{
	struct world *w = cookie;
	char *j = alert_out__json_str(a);

	assert_non_null(j);
	assert_true(w->ngot < 64);
	w->got[w->ngot] = *a;
	snprintf(w->json[w->ngot], sizeof(w->json[0]), "%s", j);
	if (getenv("TEST_RULES_VERBOSE"))
		fprintf(stderr, "%s\n", j);
	free(j);
	w->ngot++;
}

static void world_init(struct world *w, uint32_t min_count, bool with_state)
{
	struct lineage_opts lo = { .retention_ns = 600 * SEC };
	struct rules_opts ro = {
		.pid = 4242, .grace_ns = GRACE, .min_count = min_count,
		.gstate = with_state ? fake_gstate : NULL,
	};

	memset(w, 0, sizeof(*w));
	w->lg = lineage__new(&lo);
	w->r = rules__new(&ro);
	assert_non_null(w->lg);
	assert_non_null(w->r);
	clk = 1000 * SEC;
	ngtab = 0;
	reads = 0;
}

static void world_free(struct world *w)
{
	rules__free(w->r);
	lineage__free(w->lg);
}

static void apply(struct world *w, struct ct_event *e)
{
	clk += 1000;
	e->ts_ns = clk;
	e->pid = 4242;
	assert_int_equal(lineage__apply(w->lg, e), 0);
	assert_int_equal(rules__on_event(w->r, w->lg, e), 0);
}

static void create(struct world *w, uint64_t goid, uint64_t id, enum ctx_kind kind, uint64_t parent,
		   enum ctx_kind pkind, const struct ct_stack *stack)
{
	struct ct_event e = { .type = EV_CTX_CREATE, .goid = goid };

	e.ctx_create.id = id;
	e.ctx_create.kind = kind;
	e.ctx_create.type_name = kind == CTX_TIMER ? "*context.timerCtx" : "*context.cancelCtx";
	e.ctx_create.parent = parent;
	e.ctx_create.parent_kind = pkind;
	e.ctx_create.ancestor = parent;
	e.ctx_create.ancestor_kind = pkind;
	e.ctx_create.stack = stack;
	apply(w, &e);
}

/* A context the decoder only discovered (WithoutCancel, a custom parent). */
static void discover(struct world *w, uint64_t id, enum ctx_kind kind, const char *type,
		     uint64_t parent, enum ctx_kind pkind)
{
	struct ct_event e = { .type = EV_CTX_CREATE, .goid = 0 };

	e.ctx_create.id = id;
	e.ctx_create.kind = kind;
	e.ctx_create.type_name = type;
	e.ctx_create.parent = parent;
	e.ctx_create.parent_kind = pkind;
	e.ctx_create.discovered = true;
	apply(w, &e);
}

static void cancel(struct world *w, uint64_t goid, uint64_t id, enum cancel_reason why, bool effective)
{
	struct ct_event e = { .type = EV_CTX_CANCEL, .goid = goid };

	e.ctx_cancel.id = id;
	e.ctx_cancel.reason = why;
	e.ctx_cancel.effective = effective;
	e.ctx_cancel.err = why == CANCEL_DEADLINE ? "context deadline exceeded" : "context canceled";
	e.ctx_cancel.stack = why == CANCEL_EXPLICIT ? STK(s_cancel) : NULL;
	apply(w, &e);
}

static void go(struct world *w, uint64_t parent, uint64_t goid, const struct ct_stack *site,
	       const char *start)
{
	struct ct_event e = { .type = EV_GO_CREATE, .goid = parent };

	e.go_create.goid = goid;
	e.go_create.parent_goid = parent;
	e.go_create.go_site = site;
	e.go_create.start_func = start;
	apply(w, &e);
}

static void go_exit(struct world *w, uint64_t goid)
{
	struct ct_event e = { .type = EV_GO_EXIT, .goid = goid };

	e.go_exit.goid = goid;
	apply(w, &e);
}

static void done(struct world *w, uint64_t goid, uint64_t id)
{
	struct ct_event e = { .type = EV_CTX_DONE, .goid = goid };

	e.ctx_done.id = id;
	apply(w, &e);
}

static int tick(struct world *w, uint64_t advance)
{
	int n;

	clk += advance;
	n = rules__tick(w->r, w->lg, clk, on_alert, w);
	assert_true(n >= 0);
	return n;
}

static const struct alert *find(struct world *w, enum rule_id rule)
{
	for (int i = w->ngot - 1; i >= 0; i--) {
		if (w->got[i].rule == rule)
			return &w->got[i];
	}
	return NULL;
}

static void assert_site(const struct ct_frame *f, const char *file_suffix, uint32_t line)
{
	assert_non_null(f);
	assert_non_null(f->file);
	assert_non_null(strstr(f->file, file_suffix));
	assert_int_equal(f->line, line);
}

#define MAIN_G 1
#define BASE 0x1000

static void start_main(struct world *w)
{
	create(w, MAIN_G, BASE, CTX_CANCEL, 0, CTX_BACKGROUND, STK(s_create_base));
}

/* ---- lost-cancel ---- */

/* for i in 0..n: go func() { ctx, _ := WithCancel(base); go func() { <-ctx.Done() }() }() */
static void test_lost_cancel_live(void **state)
{
	struct world w;
	const struct alert *a;

	(void)state;
	world_init(&w, 3, true);
	start_main(&w);
	for (uint64_t i = 0; i < 5; i++) {
		uint64_t creator = 100 + i, waiter = 200 + i, ctx = 0x2000 + 0x100 * i;

		go(&w, MAIN_G, creator, STK(s_go_worker), "main.request");
		create(&w, creator, ctx, CTX_CANCEL, BASE, CTX_CANCEL, STK(s_create_cancel));
		go(&w, creator, waiter, STK(s_go_waiter), "main.subscribe.func1");
		done(&w, waiter, ctx);
		set_state(waiter, RULES_G_WAITING, "chan receive", STK(s_blk_done), -1);
		go_exit(&w, creator);
	}
	assert_int_equal(tick(&w, GRACE / 2), 0); /* not yet past --grace */
	assert_int_equal(tick(&w, GRACE), 1);
	a = find(&w, RULE_LOST_CANCEL);
	assert_non_null(a);
	assert_int_equal(a->count, 5);
	assert_int_equal(a->live, 5);
	assert_int_equal(a->expired, 0);
	assert_int_equal(a->severity, SEV_ERROR);
	assert_true(a->first);
	assert_site(a->ctx.site, "main.go", 21);
	assert_string_equal(a->ctx.site->func, "main.subscribe");
	assert_int_equal(a->nwaiters_total, 5);
	assert_int_equal(a->nwaiters, 1);
	assert_site(a->waiters[0].go_site, "main.go", 23);
	assert_site(a->waiters[0].block.site, "main.go", 24);
	assert_string_equal(a->waiters[0].block.wait_reason, "chan receive");
	assert_int_equal(a->waiters[0].block.count, 5);
	assert_non_null(strstr(a->message, "main.go:21"));
	assert_non_null(strstr(a->message, "context.WithCancel"));
	/* nothing changed: no re-emission */
	assert_int_equal(tick(&w, SEC), 0);
	/* the base context itself (one, its creator alive) is no lost cancel */
	assert_null(strstr(w.json[0], "main.go\",\"line\":50"));
	world_free(&w);
}

/* One long-lived goroutine (alive) creating contexts it never cancels: reported
 * once it made --min-count of them at one site; two are not enough. */
static void test_lost_cancel_creator_alive(void **state)
{
	struct world w;

	(void)state;
	world_init(&w, 3, true);
	start_main(&w);
	create(&w, MAIN_G, 0x3000, CTX_CANCEL, BASE, CTX_CANCEL, STK(s_create_cancel));
	create(&w, MAIN_G, 0x3100, CTX_CANCEL, BASE, CTX_CANCEL, STK(s_create_cancel));
	assert_int_equal(tick(&w, 2 * GRACE), 0);
	create(&w, MAIN_G, 0x3200, CTX_CANCEL, BASE, CTX_CANCEL, STK(s_create_cancel));
	assert_int_equal(tick(&w, GRACE / 2), 0); /* the third is younger than --grace */
	assert_int_equal(tick(&w, GRACE), 1);
	assert_int_equal(find(&w, RULE_LOST_CANCEL)->count, 3);
	world_free(&w);
}

/* `ctx, cancel := WithTimeout(base, 50ms); if early { return }` vs the healthy
 * `defer cancel()` that runs after the deadline fired. */
static void test_lost_cancel_expired(void **state)
{
	struct world w;
	const struct alert *a;

	(void)state;
	world_init(&w, 3, true);
	start_main(&w);
	for (uint64_t i = 0; i < 4; i++) {
		uint64_t g = 300 + i, lost = 0x4000 + 0x100 * i, fine = 0x8000 + 0x100 * i;

		go(&w, MAIN_G, g, STK(s_go_worker), "main.request");
		create(&w, g, lost, CTX_TIMER, BASE, CTX_CANCEL, STK(s_create_timer));
		create(&w, g, fine, CTX_TIMER, BASE, CTX_CANCEL, STK(s_create_cancel));
		cancel(&w, 0, lost, CANCEL_DEADLINE, true);
		cancel(&w, 0, fine, CANCEL_DEADLINE, true);
		cancel(&w, g, fine, CANCEL_EXPLICIT, false); /* deferred cancel after the deadline */
		go_exit(&w, g);
	}
	assert_int_equal(tick(&w, GRACE / 2), 0);
	assert_int_equal(tick(&w, GRACE), 1);
	a = find(&w, RULE_LOST_CANCEL);
	assert_int_equal(a->count, 4);
	assert_int_equal(a->expired, 4);
	assert_int_equal(a->live, 0);
	assert_int_equal(a->severity, SEV_WARNING);
	assert_site(a->ctx.site, "main.go", 30);
	assert_string_equal(a->ctx.site->func, "main.lookup");
	assert_true(a->ctx.cancelled);
	assert_int_equal(a->ctx.reason, CANCEL_DEADLINE);
	/* counted once: later ticks do not count them again */
	assert_int_equal(tick(&w, SEC), 0);
	assert_int_equal(tick(&w, 10 * SEC), 0);
	/* a fifth one grows the group past a tenth: re-emitted, same id */
	go(&w, MAIN_G, 399, STK(s_go_worker), "main.request");
	create(&w, 399, 0x4f00, CTX_TIMER, BASE, CTX_CANCEL, STK(s_create_timer));
	cancel(&w, 0, 0x4f00, CANCEL_DEADLINE, true);
	go_exit(&w, 399);
	assert_int_equal(tick(&w, GRACE + SEC), 1);
	assert_int_equal(w.got[w.ngot - 1].count, 5);
	assert_false(w.got[w.ngot - 1].first);
	assert_string_equal(w.got[w.ngot - 1].id, w.got[0].id);
	world_free(&w);
}

/* An accept loop: for { ctx, cancel := WithCancel(base); go serve(ctx, cancel) }.
 * The connection goroutines hold the cancel funcs (they are not waiting on the
 * context's Done): not lost, however many there are and however long they live. */
static void test_lost_cancel_held(void **state)
{
	struct world w;

	(void)state;
	world_init(&w, 3, true);
	start_main(&w);
	for (uint64_t i = 0; i < 6; i++) {
		create(&w, MAIN_G, 0x5000 + 0x100 * i, CTX_CANCEL, BASE, CTX_CANCEL, STK(s_create_cancel));
		go(&w, MAIN_G, 450 + i, STK(s_go_worker), "main.serve");
		set_state(450 + i, RULES_G_WAITING, "IO wait", STK(s_blk_read), -1);
	}
	assert_int_equal(tick(&w, 3 * GRACE), 0);
	/* the connections end without cancelling: now nobody holds them */
	for (uint64_t i = 0; i < 6; i++)
		go_exit(&w, 450 + i);
	assert_int_equal(tick(&w, SEC), 1);
	assert_int_equal(find(&w, RULE_LOST_CANCEL)->live, 6);
	world_free(&w);
}

/* Released by the runtime (cancelled through the parent), or made by the
 * standard library: not the user's lost cancel. */
static void test_lost_cancel_not_reported(void **state)
{
	struct world w;

	(void)state;
	world_init(&w, 1, true);
	start_main(&w);
	create(&w, MAIN_G, 0x5000, CTX_CANCEL, BASE, CTX_CANCEL, STK(s_create_req));
	for (uint64_t i = 0; i < 4; i++) {
		go(&w, MAIN_G, 400 + i, STK(s_go_std), "net/http.(*conn).serve");
		create(&w, 400 + i, 0x5100 + 0x10 * i, CTX_CANCEL, 0x5000, CTX_CANCEL, STK(s_create_cancel));
		create(&w, 400 + i, 0x6100 + 0x10 * i, CTX_CANCEL, BASE, CTX_CANCEL, STK(s_create_std));
		go_exit(&w, 400 + i);
	}
	cancel(&w, MAIN_G, 0x5000, CANCEL_EXPLICIT, true);
	for (uint64_t i = 0; i < 4; i++)
		cancel(&w, 0, 0x5100 + 0x10 * i, CANCEL_PARENT, true);
	assert_int_equal(tick(&w, 3 * GRACE), 0);
	assert_int_equal(w.ngot, 0);
	world_free(&w);
}

/* The allocator reuses addresses: a healthy context made at a leaked one's
 * address must not erase the leak. go func() { ctx, _ := WithCancel(base) }()
 * twenty times, each address then reused by a healthy request context. */
static void test_lost_cancel_collected(void **state)
{
	struct world w;
	const struct alert *a;
	struct rules_stats st;

	(void)state;
	world_init(&w, 3, true);
	start_main(&w);
	for (uint64_t i = 0; i < 20; i++) {
		uint64_t addr = 0x7000 + 0x100 * (i % 4), lg = 500 + i, hg = 600 + i;

		go(&w, MAIN_G, lg, STK(s_go_worker), "main.request");
		create(&w, lg, addr, CTX_CANCEL, BASE, CTX_CANCEL, STK(s_create_cancel));
		go_exit(&w, lg);
		go(&w, MAIN_G, hg, STK(s_go_worker), "main.serve");
		create(&w, hg, addr, CTX_CANCEL, BASE, CTX_CANCEL, STK(s_create_req));
		cancel(&w, hg, addr, CANCEL_EXPLICIT, true);
		go_exit(&w, hg);
		if (i == 9)
			tick(&w, SEC); /* counted once whichever tick sees it */
	}
	tick(&w, GRACE + SEC);
	a = find(&w, RULE_LOST_CANCEL);
	assert_non_null(a);
	assert_int_equal(a->count, 20);
	assert_int_equal(a->collected, 20);
	assert_int_equal(a->live, 0);
	assert_non_null(strstr(a->message, "since been collected by the GC"));
	assert_null(strstr(a->message, "live"));
	assert_int_equal(tick(&w, SEC), 0);
	/* four more, never reused: live */
	for (uint64_t i = 0; i < 4; i++) {
		go(&w, MAIN_G, 700 + i, STK(s_go_worker), "main.request");
		create(&w, 700 + i, 0x9000 + 0x100 * i, CTX_CANCEL, BASE, CTX_CANCEL, STK(s_create_cancel));
		go_exit(&w, 700 + i);
	}
	tick(&w, GRACE + SEC);
	a = find(&w, RULE_LOST_CANCEL);
	assert_int_equal(a->count, 24);
	assert_int_equal(a->live, 4);
	assert_non_null(strstr(a->message, "4 not cancelled so far, 20 collected by the GC"));
	rules__stats(w.r, &st);
	assert_int_equal(st.unconfirmed, 0);
	world_free(&w);
}

static int fake_ctxstate_calls;
static int fake_ctxstate(void *cookie, uint64_t id, enum ctx_kind kind, uint64_t parent_id,
			 enum ctx_kind parent_kind, bool *cancelled)
{
	(void)cookie;
	(void)kind;
	(void)parent_kind;
	assert_int_equal(parent_id, BASE);
	fake_ctxstate_calls++;
	*cancelled = id >= 0xa200; /* the last two of each batch were cancelled unseen */
	return 0;
}

static void lost_records(struct world *w, uint64_t n)
{
	struct ct_event e = { .type = EV_LOST };

	e.lost.ringbuf_drops = n;
	apply(w, &e);
}

/* A cancel in a lost record, or before every probe was live, must not make a
 * lost-cancel: confirmed from memory (err still nil) or dropped and counted. */
static void test_lost_cancel_doubt(void **state)
{
	struct world w;
	struct rules_stats st;
	const struct alert *a;

	(void)state;
	/* 1: records lost after the creations, no memory reader: nothing raised */
	world_init(&w, 3, true);
	start_main(&w);
	for (uint64_t i = 0; i < 4; i++) {
		go(&w, MAIN_G, 800 + i, STK(s_go_worker), "main.request");
		create(&w, 800 + i, 0xa000 + 0x100 * i, CTX_CANCEL, BASE, CTX_CANCEL, STK(s_create_cancel));
		go_exit(&w, 800 + i);
	}
	lost_records(&w, 12);
	tick(&w, GRACE + SEC);
	assert_null(find(&w, RULE_LOST_CANCEL));
	rules__stats(w.r, &st);
	assert_int_equal(st.unconfirmed, 4);
	assert_int_equal(st.loss_windows, 1);
	/* created after the loss report: not in doubt */
	for (uint64_t i = 0; i < 3; i++) {
		go(&w, MAIN_G, 900 + i, STK(s_go_worker), "main.request");
		create(&w, 900 + i, 0xb000 + 0x100 * i, CTX_CANCEL, BASE, CTX_CANCEL, STK(s_create_cancel));
		go_exit(&w, 900 + i);
	}
	tick(&w, GRACE + SEC);
	a = find(&w, RULE_LOST_CANCEL);
	assert_non_null(a);
	assert_int_equal(a->count, 3);
	world_free(&w);

	/* 2: with a memory reader: the ones still uncancelled in memory are raised */
	{
		struct lineage_opts lo = { .retention_ns = 600 * SEC };
		struct rules_opts ro = { .pid = 4242, .grace_ns = GRACE, .min_count = 1,
					 .gstate = fake_gstate, .ctxstate = fake_ctxstate };

		memset(&w, 0, sizeof(w));
		w.lg = lineage__new(&lo);
		w.r = rules__new(&ro);
		clk = 1000 * SEC;
		ngtab = 0;
	}
	start_main(&w);
	fake_ctxstate_calls = 0;
	for (uint64_t i = 0; i < 4; i++) {
		go(&w, MAIN_G, 800 + i, STK(s_go_worker), "main.request");
		create(&w, 800 + i, 0xa000 + 0x100 * i, CTX_CANCEL, BASE, CTX_CANCEL, STK(s_create_cancel));
		go_exit(&w, 800 + i);
	}
	lost_records(&w, 3);
	tick(&w, GRACE + SEC);
	a = find(&w, RULE_LOST_CANCEL);
	assert_non_null(a);
	assert_int_equal(a->count, 2);
	rules__stats(w.r, &st);
	assert_int_equal(st.confirmed, 2);
	assert_int_equal(st.unconfirmed, 2);
	assert_true(fake_ctxstate_calls >= 4);
	world_free(&w);

	/* 3: the attach window: created before every probe was live */
	world_init(&w, 3, true);
	start_main(&w);
	for (uint64_t i = 0; i < 4; i++) {
		go(&w, MAIN_G, 800 + i, STK(s_go_worker), "main.request");
		create(&w, 800 + i, 0xa000 + 0x100 * i, CTX_CANCEL, BASE, CTX_CANCEL, STK(s_create_cancel));
		go_exit(&w, 800 + i);
	}
	rules__set_attached(w.r, clk + 1);
	tick(&w, GRACE + SEC);
	assert_null(find(&w, RULE_LOST_CANCEL));
	rules__stats(w.r, &st);
	assert_int_equal(st.unconfirmed, 4);
	world_free(&w);
}

/* ---- outlived-context / unreachable-cancel ---- */

/* handle(): ctx := WithTimeout(base); go fetch's producer (blocks on send); cancel */
static void handle_once(struct world *w, uint64_t h, uint64_t ctx, uint64_t worker)
{
	go(w, MAIN_G, h, STK(s_go_worker), "main.handle");
	create(w, h, ctx, CTX_TIMER, BASE, CTX_CANCEL, STK(s_create_timer));
	go(w, h, worker, STK(s_go_worker), "main.fetch.func1");
	cancel(w, h, ctx, CANCEL_EXPLICIT, true);
	go_exit(w, h);
}

static void test_outlived(void **state)
{
	struct world w;
	const struct alert *a;
	char id[17];

	(void)state;
	world_init(&w, 3, true);
	start_main(&w);
	for (uint64_t i = 0; i < 4; i++) {
		handle_once(&w, 500 + i, 0x7000 + 0x100 * i, 600 + i);
		set_state(600 + i, RULES_G_WAITING, "chan send", STK(s_blk_send), -1);
	}
	assert_int_equal(tick(&w, GRACE / 2), 0);
	assert_int_equal(tick(&w, GRACE), 1);
	a = find(&w, RULE_OUTLIVED_CONTEXT);
	assert_non_null(a);
	assert_int_equal(a->count, 4);
	assert_int_equal(a->severity, SEV_ERROR);
	assert_site(&a->go_site->frames[0], "main.go", 20);
	assert_site(a->ctx.site, "main.go", 30);
	assert_int_equal(a->ctx.reason, CANCEL_EXPLICIT);
	assert_site(a->ctx.cancel_site, "main.go", 35);
	assert_int_equal(a->nblocks, 1);
	assert_site(a->blocks[0].site, "main.go", 22);
	assert_string_equal(a->blocks[0].wait_reason, "chan send");
	assert_int_equal(a->blocks[0].count, 4);
	assert_true(a->outlived_min_ns >= GRACE);
	assert_non_null(strstr(a->message, "main.go:20"));
	assert_non_null(strstr(a->message, "chan send"));
	assert_non_null(strstr(w.json[0], "\"rule\":\"outlived-context\""));
	assert_non_null(strstr(w.json[0], "\"func\":\"main.fetch.func1\",\"file\":\"/app/main.go\",\"line\":22"));
	memcpy(id, a->id, sizeof(id));

	/* one exits, one is gone without an exit event yet: 2 left, no re-emission */
	go_exit(&w, 600);
	gtab[1].err = -ENOENT;
	assert_int_equal(tick(&w, SEC), 0);
	/* the group grows past its last count: re-emitted with the same id */
	for (uint64_t i = 4; i < 8; i++) {
		handle_once(&w, 500 + i, 0x7000 + 0x100 * i, 600 + i);
		set_state(600 + i, RULES_G_WAITING, "chan send", STK(s_blk_send), -1);
	}
	assert_int_equal(tick(&w, GRACE + SEC), 1);
	a = &w.got[w.ngot - 1];
	assert_int_equal(a->count, 6);
	assert_false(a->first);
	assert_string_equal(a->id, id);
	world_free(&w);
}

/* The leaked goroutines' contexts are collected and their addresses reused by
 * healthy requests (issue 14's undercount): every leaked goroutine still counts. */
static void test_outlived_address_reuse(void **state)
{
	struct world w;
	const struct alert *a;

	(void)state;
	world_init(&w, 3, true);
	start_main(&w);
	for (uint64_t i = 0; i < 6; i++) {
		handle_once(&w, 500 + i, 0x7000 + 0x100 * (i % 2), 600 + i);
		set_state(600 + i, RULES_G_WAITING, "chan send", STK(s_blk_send), -1);
		for (uint64_t k = 0; k < 3; k++) {
			go(&w, MAIN_G, 700 + 10 * i + k, STK(s_go_worker), "main.serve");
			create(&w, 700 + 10 * i + k, 0x7000 + 0x100 * (k % 2), CTX_CANCEL, BASE, CTX_CANCEL,
			       STK(s_create_req));
			cancel(&w, 700 + 10 * i + k, 0x7000 + 0x100 * (k % 2), CANCEL_EXPLICIT, true);
			go_exit(&w, 700 + 10 * i + k);
		}
	}
	tick(&w, GRACE + SEC);
	a = find(&w, RULE_OUTLIVED_CONTEXT);
	assert_non_null(a);
	assert_int_equal(a->count, 6);
	assert_site(a->ctx.site, "main.go", 30);
	world_free(&w);
}

/* Started by the standard library, started before the cancel-less base only,
 * or handed a live context on purpose: none of them outlived anything. */
static void test_outlived_not_reported(void **state)
{
	struct world w;

	(void)state;
	world_init(&w, 1, true);
	start_main(&w);
	for (uint64_t i = 0; i < 3; i++) {
		uint64_t h = 700 + i, ctx = 0x9000 + 0x100 * i;

		go(&w, MAIN_G, h, STK(s_go_worker), "main.handle");
		create(&w, h, ctx, CTX_TIMER, BASE, CTX_CANCEL, STK(s_create_timer));
		go(&w, h, 710 + i, STK(s_go_std), "net/http.(*persistConn).readLoop");
		go(&w, h, 720 + i, STK(s_go_worker), "main.pool");
		done(&w, 720 + i, BASE); /* bound to the process's context */
		cancel(&w, h, ctx, CANCEL_EXPLICIT, true);
		go_exit(&w, h);
		set_state(710 + i, RULES_G_WAITING, "IO wait", STK(s_blk_send), -1);
		set_state(720 + i, RULES_G_WAITING, "select", STK(s_blk_send), -1);
	}
	go(&w, MAIN_G, 730, STK(s_go_worker), "main.background"); /* scope: base, live */
	set_state(730, RULES_G_WAITING, "sleep", STK(s_blk_send), -1);
	assert_int_equal(tick(&w, 3 * GRACE), 0);
	world_free(&w);
}

static void test_unreachable(void **state)
{
	struct world w;
	const struct alert *a;
	bool saw_read = false, saw_io = false, saw_cgo = false;

	(void)state;
	world_init(&w, 2, true);
	start_main(&w);
	for (uint64_t i = 0; i < 6; i++) {
		static const struct stk go_read = { 1, 40, { { "main.handle", "/app/main.go", 51, false } } };
		static const struct stk go_net = { 1, 41, { { "main.handle", "/app/main.go", 50, false } } };
		static const struct stk go_cgo = { 1, 42, { { "main.startCgo", "/app/cgo.go", 30, false } } };
		const struct stk *gs = i % 3 == 0 ? &go_read : i % 3 == 1 ? &go_net : &go_cgo;
		uint64_t h = 800 + i, ctx = 0xa000 + 0x100 * i, wk = 900 + i;

		go(&w, MAIN_G, h, STK(s_go_worker), "main.handle");
		create(&w, h, ctx, CTX_TIMER, BASE, CTX_CANCEL, STK(s_create_timer));
		go(&w, h, wk, STK(*gs), "main.x");
		cancel(&w, 0, ctx, CANCEL_DEADLINE, true);
		cancel(&w, h, ctx, CANCEL_EXPLICIT, false); /* the deferred cancel */
		if (i % 3 == 0)
			set_state(wk, RULES_G_SYSCALL, NULL, STK(s_blk_read), 0);
		else if (i % 3 == 1)
			set_state(wk, RULES_G_WAITING, "IO wait", STK(s_blk_send), -1);
		else
			set_state(wk, RULES_G_SYSCALL, NULL, STK(s_blk_cgo), 202);
	}
	assert_int_equal(tick(&w, GRACE + SEC), 3);
	assert_null(find(&w, RULE_OUTLIVED_CONTEXT));
	for (int i = 0; i < w.ngot; i++) {
		a = &w.got[i];
		assert_int_equal(a->rule, RULE_UNREACHABLE_CANCEL);
		assert_int_equal(a->count, 2);
		assert_int_equal(a->ctx.reason, CANCEL_DEADLINE);
		if (a->blocks[0].syscall && !strcmp(a->blocks[0].syscall, "read")) {
			saw_read = true;
			assert_site(a->blocks[0].site, "main.go", 44);
			assert_string_equal(a->blocks[0].wait_reason, "syscall");
			assert_true(a->syscall_max_ns == 4 * SEC);
			assert_non_null(strstr(a->message, "syscall read"));
		} else if (a->blocks[0].syscall && !strcmp(a->blocks[0].syscall, "futex")) {
			saw_cgo = true;
			/* the cgo stub is skipped: the user's call into C */
			assert_site(a->blocks[0].site, "cgo.go", 32);
			assert_string_equal(a->blocks[0].wait_reason, "cgo call");
		} else {
			saw_io = true;
			assert_string_equal(a->blocks[0].wait_reason, "IO wait");
			assert_non_null(strstr(a->message, "deadline"));
		}
	}
	assert_true(saw_read && saw_io && saw_cgo);
	world_free(&w);
}

/* Without a state provider the goroutine rule still sees the outliving goroutines. */
static void test_outlived_without_state(void **state)
{
	struct world w;
	const struct alert *a;

	(void)state;
	world_init(&w, 2, false);
	start_main(&w);
	handle_once(&w, 500, 0x7000, 600);
	handle_once(&w, 501, 0x7100, 601);
	assert_int_equal(tick(&w, GRACE + SEC), 1);
	a = find(&w, RULE_OUTLIVED_CONTEXT);
	assert_int_equal(a->count, 2);
	assert_string_equal(a->blocks[0].wait_reason, "unknown");
	assert_int_equal(reads, 0);
	world_free(&w);
}

/* The reads budget bounds the work of one tick. */
static void test_reads_budget(void **state)
{
	struct lineage_opts lo = { .retention_ns = 600 * SEC };
	struct rules_opts ro = { .grace_ns = GRACE, .min_count = 1, .gstate = fake_gstate, .reads_per_tick = 3 };
	struct world w;
	struct rules_stats st;

	(void)state;
	memset(&w, 0, sizeof(w));
	w.lg = lineage__new(&lo);
	w.r = rules__new(&ro);
	clk = 1000 * SEC;
	ngtab = 0;
	reads = 0;
	start_main(&w);
	for (uint64_t i = 0; i < 10; i++) {
		handle_once(&w, 500 + i, 0x7000 + 0x100 * i, 600 + i);
		set_state(600 + i, RULES_G_WAITING, "chan send", STK(s_blk_send), -1);
	}
	tick(&w, GRACE + SEC);
	assert_int_equal(reads, 3);
	rules__stats(w.r, &st);
	assert_int_equal(st.gstate_skipped, 7);
	assert_int_equal(find(&w, RULE_OUTLIVED_CONTEXT)->count, 10);
	world_free(&w);
}

/* ---- lineage-break ---- */

/* serve(): req := WithCancel(base); go func() { auditLog: WithTimeout(Background()) }() */
static void test_lineage_break(void **state)
{
	struct world w;
	const struct alert *a;

	(void)state;
	world_init(&w, 3, true);
	start_main(&w);
	for (uint64_t i = 0; i < 4; i++) {
		uint64_t req = 0xb000 + 0x100 * i, rg = 1000 + i, root = 0xc000 + 0x100 * i;

		create(&w, MAIN_G, req, CTX_CANCEL, BASE, CTX_CANCEL, STK(s_create_req));
		go(&w, MAIN_G, rg, STK(s_go_worker), "main.serve.func1");
		create(&w, rg, root, CTX_TIMER, 0, CTX_BACKGROUND, STK(s_create_root));
		cancel(&w, rg, root, CANCEL_EXPLICIT, true);
		go_exit(&w, rg);
		cancel(&w, MAIN_G, req, CANCEL_EXPLICIT, true);
	}
	/* main.main's own base is a root too, but nothing was live around it */
	assert_int_equal(tick(&w, GRACE / 2), 0);
	assert_int_equal(tick(&w, GRACE), 1);
	a = find(&w, RULE_LINEAGE_BREAK);
	assert_int_equal(a->count, 4);
	assert_int_equal(a->severity, SEV_WARNING);
	assert_site(a->ctx.site, "main.go", 23);
	assert_site(a->scope.site, "main.go", 42);
	assert_non_null(strstr(a->message, "context.Background()"));
	assert_non_null(strstr(w.json[0], "\"scope\":{"));
	/* cumulative: later ticks keep the count and do not re-emit */
	assert_int_equal(tick(&w, SEC), 0);
	world_free(&w);
}

/* demo_leaky's loop in main.main: req := WithCancel(base); audit(base) makes a
 * context and returns (dropping it); notify() makes a root from Background. The
 * root broke away from req, whose creator (main.main) still runs, not from the
 * context the returned audit() leaked. Stacks are complete (end in goexit). */
static void test_lineage_break_scope_on_stack(void **state)
{
	static const struct stk req = { 4, 60, {
		{ "context.WithCancel", "/go/src/context/context.go", 237, false },
		{ "main.main", "/app/main.go", 66, false },
		{ "runtime.main", "/go/src/runtime/proc.go", 271, false },
		{ "runtime.goexit", "/go/src/runtime/asm_amd64.s", 1700, false } } };
	static const struct stk audit = { 5, 61, {
		{ "context.WithCancel", "/go/src/context/context.go", 237, false },
		{ "main.audit", "/app/main.go", 41, false },
		{ "main.main", "/app/main.go", 69, false },
		{ "runtime.main", "/go/src/runtime/proc.go", 271, false },
		{ "runtime.goexit", "/go/src/runtime/asm_amd64.s", 1700, false } } };
	static const struct stk notify = { 5, 62, {
		{ "context.WithCancel", "/go/src/context/context.go", 237, false },
		{ "main.notify", "/app/main.go", 48, false },
		{ "main.main", "/app/main.go", 71, false },
		{ "runtime.main", "/go/src/runtime/proc.go", 271, false },
		{ "runtime.goexit", "/go/src/runtime/asm_amd64.s", 1700, false } } };
	struct world w;
	const struct alert *a;

	(void)state;
	world_init(&w, 3, true);
	start_main(&w);
	for (uint64_t i = 0; i < 3; i++) {
		create(&w, MAIN_G, 0x300000 + 0x100 * i, CTX_CANCEL, BASE, CTX_CANCEL, STK(req));
		create(&w, MAIN_G, 0x310000 + 0x100 * i, CTX_CANCEL, BASE, CTX_CANCEL, STK(audit));
		create(&w, MAIN_G, 0x320000 + 0x100 * i, CTX_CANCEL, 0, CTX_BACKGROUND, STK(notify));
		cancel(&w, MAIN_G, 0x300000 + 0x100 * i, CANCEL_EXPLICIT, true);
	}
	tick(&w, GRACE + SEC);
	a = find(&w, RULE_LINEAGE_BREAK);
	assert_non_null(a);
	assert_int_equal(a->count, 3);
	assert_site(a->ctx.site, "main.go", 48);
	assert_site(a->scope.site, "main.go", 66);
	world_free(&w);
}

#define GOEXIT_F { "runtime.goexit", "/go/src/runtime/asm_amd64.s", 1700, false }

/* Issue 14's reproductions: an earlier pass of a loop, or an earlier call of the
 * same function, is never the scope of the next one. */
static void test_lineage_break_not_sibling(void **state)
{
	/* for { mk() } where mk does ctx, _ := WithCancel(Background()) (a true lost-cancel) */
	static const struct stk mk = { 4, 70, {
		{ "context.WithCancel", "/go/src/context/context.go", 237, false },
		{ "main.mk", "/app/main.go", 12, false },
		{ "main.main", "/app/main.go", 30, false }, GOEXIT_F } };
	/* grpc's reader loop: operateHeaders makes each stream's root at one line */
	static const struct stk oh = { 5, 71, {
		{ "context.WithCancel", "/go/src/context/context.go", 237, false },
		{ "google.golang.org/grpc/internal/transport.(*http2Server).operateHeaders", "/grpc/http2_server.go", 338, false },
		{ "google.golang.org/grpc/internal/transport.(*http2Server).HandleStreams", "/grpc/http2_server.go", 460, false },
		{ "google.golang.org/grpc.(*Server).serveStreams", "/grpc/server.go", 700, false }, GOEXIT_F } };
	/* TestChildFinishesFirst: a loop in the test function, one line */
	static const struct stk tl = { 4, 72, {
		{ "context.WithCancel", "/go/src/context/context.go", 237, false },
		{ "context.TestChildFinishesFirst", "/go/src/context/context_test.go", 120, false },
		{ "testing.tRunner", "/go/src/testing/testing.go", 1689, false }, GOEXIT_F } };
	/* main calls f() at line 40 (f leaks a context, returns), then f() at line 41,
	 * where f's callee g makes a root: the first f is not a caller of g */
	static const struct stk f1 = { 4, 73, {
		{ "context.WithCancel", "/go/src/context/context.go", 237, false },
		{ "main.f", "/app/main.go", 10, false },
		{ "main.main", "/app/main.go", 40, false }, GOEXIT_F } };
	static const struct stk g2 = { 5, 74, {
		{ "context.WithCancel", "/go/src/context/context.go", 237, false },
		{ "main.g", "/app/main.go", 20, false },
		{ "main.f", "/app/main.go", 11, false },
		{ "main.main", "/app/main.go", 41, false }, GOEXIT_F } };
	const struct ct_stack *roots[] = { STK(mk), STK(oh), STK(tl) };
	struct world w;

	(void)state;
	world_init(&w, 1, true);
	for (uint64_t k = 0; k < 3; k++) {
		for (uint64_t i = 0; i < 5; i++)
			create(&w, 10 + k, 0x400000 + 0x10000 * k + 0x100 * i, CTX_CANCEL, 0,
			       CTX_BACKGROUND, roots[k]);
	}
	for (uint64_t i = 0; i < 5; i++) {
		create(&w, 20, 0x480000 + 0x100 * i, CTX_CANCEL, 0, CTX_BACKGROUND, STK(f1));
		create(&w, 20, 0x490000 + 0x100 * i, CTX_CANCEL, 0, CTX_BACKGROUND, STK(g2));
	}
	tick(&w, GRACE + SEC);
	assert_null(find(&w, RULE_LINEAGE_BREAK));
	world_free(&w);
}

/* What is a scope: a live caller's context, through recursion; and what is not:
 * t.Context() (made by package testing), or a frame a cut stack cannot place. */
static void test_lineage_break_caller(void **state)
{
	/* walk(n) makes ctx from Background, then calls walk(n-1), which makes another */
	static const struct stk w1 = { 4, 80, {
		{ "context.WithCancel", "/go/src/context/context.go", 237, false },
		{ "main.walk", "/app/tree.go", 7, false },
		{ "main.main", "/app/tree.go", 30, false }, GOEXIT_F } };
	static const struct stk w2 = { 5, 81, {
		{ "context.WithCancel", "/go/src/context/context.go", 237, false },
		{ "main.walk", "/app/tree.go", 7, false },
		{ "main.walk", "/app/tree.go", 9, false },
		{ "main.main", "/app/tree.go", 30, false }, GOEXIT_F } };
	/* t.Run made the test's context in the parent goroutine; the test uses Background */
	static const struct stk trun = { 3, 82, {
		{ "context.WithCancel", "/go/src/context/context.go", 237, false },
		{ "testing.(*T).Run", "/go/src/testing/testing.go", 1820, false }, GOEXIT_F } };
	static const struct stk tbg = { 4, 83, {
		{ "context.WithTimeout", "/go/src/context/context.go", 690, false },
		{ "main.TestFetch", "/app/fetch_test.go", 15, false },
		{ "testing.tRunner", "/go/src/testing/testing.go", 1689, false }, GOEXIT_F } };
	/* cut: no runtime.goexit at the end */
	static const struct stk c1 = { 2, 84, {
		{ "context.WithCancel", "/go/src/context/context.go", 237, false },
		{ "main.deep", "/app/deep.go", 5, false } } };
	static const struct stk c2 = { 3, 85, {
		{ "context.WithCancel", "/go/src/context/context.go", 237, false },
		{ "main.deeper", "/app/deep.go", 9, false },
		{ "main.deep", "/app/deep.go", 6, false } } };
	struct world w;
	const struct alert *a;

	(void)state;
	world_init(&w, 3, true);
	for (uint64_t i = 0; i < 3; i++) {
		uint64_t g = 30 + i, tg = 40 + i, cg = 50 + i, tp = 60 + i;

		create(&w, g, 0x500000 + 0x100 * i, CTX_CANCEL, 0, CTX_BACKGROUND, STK(w1));
		create(&w, g, 0x510000 + 0x100 * i, CTX_CANCEL, 0, CTX_BACKGROUND, STK(w2));
		create(&w, tp, 0x520000 + 0x100 * i, CTX_CANCEL, 0, CTX_BACKGROUND, STK(trun));
		go(&w, tp, tg, STK(s_go_worker), "testing.tRunner");
		create(&w, tg, 0x530000 + 0x100 * i, CTX_TIMER, 0, CTX_BACKGROUND, STK(tbg));
		create(&w, cg, 0x540000 + 0x100 * i, CTX_CANCEL, 0, CTX_BACKGROUND, STK(c1));
		create(&w, cg, 0x550000 + 0x100 * i, CTX_CANCEL, 0, CTX_BACKGROUND, STK(c2));
	}
	tick(&w, GRACE + SEC);
	a = find(&w, RULE_LINEAGE_BREAK);
	assert_non_null(a);
	assert_int_equal(a->count, 3);
	assert_site(a->ctx.site, "tree.go", 7);
	assert_non_null(a->ctx.stack);
	assert_int_equal(a->ctx.stack->n, 5); /* the inner walk's root */
	assert_site(a->scope.site, "tree.go", 7);
	assert_int_equal(a->scope.stack->n, 4);
	for (int i = 0; i < w.ngot; i++)
		assert_false(w.got[i].rule == RULE_LINEAGE_BREAK && w.got[i].ctx.site != a->ctx.site);
	world_free(&w);
}

/* req := WithCancel(base); ctx, cancel := WithTimeout(WithoutCancel(req)); go
 * writeAudit(ctx); req is cancelled, the audit goroutine goes on: lineage
 * information, never a leak. */
static void test_without_cancel(void **state)
{
	struct world w;
	const struct alert *a;

	(void)state;
	world_init(&w, 3, true);
	start_main(&w);
	for (uint64_t i = 0; i < 3; i++) {
		uint64_t req = 0xd000 + 0x100 * i, wc = 0xd800 + 0x100 * i, t = 0xe000 + 0x100 * i;
		uint64_t h = 1100 + i, wk = 1200 + i;

		go(&w, MAIN_G, h, STK(s_go_worker), "main.handle");
		create(&w, h, req, CTX_CANCEL, BASE, CTX_CANCEL, STK(s_create_req));
		discover(&w, wc, CTX_WITHOUTCANCEL, "context.withoutCancelCtx", req, CTX_CANCEL);
		create(&w, h, t, CTX_TIMER, wc, CTX_WITHOUTCANCEL, STK(s_create_detached));
		go(&w, h, wk, STK(s_go_worker), "main.audit.func1");
		cancel(&w, h, req, CANCEL_EXPLICIT, true);
		go_exit(&w, h);
		set_state(wk, RULES_G_WAITING, "select", STK(s_blk_send), -1);
	}
	assert_int_equal(tick(&w, GRACE + SEC), 1);
	assert_null(find(&w, RULE_OUTLIVED_CONTEXT));
	a = find(&w, RULE_LINEAGE_BREAK);
	assert_non_null(a);
	assert_int_equal(a->severity, SEV_INFO);
	assert_int_equal(a->count, 3);
	assert_site(a->ctx.site, "without_cancel.go", 13);
	assert_site(a->scope.site, "main.go", 42);
	assert_non_null(strstr(a->message, "WithoutCancel"));
	world_free(&w);
}

/* ---- propagate-goroutine ---- */

static void test_propagate(void **state)
{
	struct world w;
	const struct alert *a;

	(void)state;
	world_init(&w, 3, true);
	discover(&w, 0xf000, CTX_CUSTOM, "*main.sessionCtx", 0, CTX_UNKNOWN);
	for (uint64_t i = 0; i < 5; i++) {
		uint64_t child = 0xf100 + 0x10 * i, watcher = 1300 + i;

		create(&w, MAIN_G, child, CTX_CANCEL, 0xf000, CTX_CUSTOM, STK(s_create_derive));
		go(&w, MAIN_G, watcher, STK(s_go_watch), "context.(*cancelCtx).propagateCancel.func2");
		done(&w, watcher, child);
		set_state(watcher, RULES_G_WAITING, "select", STK(s_blk_send), -1);
	}
	/* one that ends (its child was cancelled) */
	create(&w, MAIN_G, 0xf900, CTX_CANCEL, 0xf000, CTX_CUSTOM, STK(s_create_derive));
	go(&w, MAIN_G, 1399, STK(s_go_watch), "context.(*cancelCtx).propagateCancel.func2");
	cancel(&w, MAIN_G, 0xf900, CANCEL_EXPLICIT, true);
	go_exit(&w, 1399);
	assert_int_equal(tick(&w, GRACE / 2), 0);
	tick(&w, GRACE);
	a = find(&w, RULE_PROPAGATE_GOROUTINE);
	assert_non_null(a);
	assert_int_equal(a->count, 5);
	assert_site(a->ctx.site, "main.go", 41);
	assert_string_equal(a->scope.type_name, "*main.sessionCtx");
	assert_non_null(strstr(a->message, "*main.sessionCtx"));
	/* the same contexts, never cancelled by main (alive, made 6 of them): lost */
	a = find(&w, RULE_LOST_CANCEL);
	assert_non_null(a);
	assert_int_equal(a->live, 5);
	assert_int_equal(a->nwaiters_total, 5);
	/* the watchers are not outliving anything */
	assert_null(find(&w, RULE_OUTLIVED_CONTEXT));
	world_free(&w);
}

/* ---- engine ---- */

static void test_min_count_and_ids(void **state)
{
	struct world w1, w2;

	(void)state;
	/* the same program in two sessions gives the same id */
	world_init(&w1, 3, false);
	start_main(&w1);
	for (uint64_t i = 0; i < 3; i++)
		handle_once(&w1, 500 + i, 0x7000 + 0x100 * i, 600 + i);
	tick(&w1, GRACE + SEC);
	world_init(&w2, 4, false);
	start_main(&w2);
	for (uint64_t i = 0; i < 3; i++)
		handle_once(&w2, 510 + i, 0x17000 + 0x100 * i, 610 + i);
	assert_int_equal(tick(&w2, GRACE + SEC), 0); /* 3 < --min-count 4 */
	handle_once(&w2, 520, 0x18000, 620);
	assert_int_equal(tick(&w2, GRACE + SEC), 1);
	assert_int_equal(w1.ngot, 1);
	assert_string_equal(w1.got[0].id, w2.got[0].id);
	assert_int_equal(strlen(w1.got[0].id), 16);
	world_free(&w1);
	world_free(&w2);
}

/* Growth below a tenth of the last count waits 10 s after the last report. */
static void test_reemit_backoff(void **state)
{
	struct world w;
	uint64_t n = 0;

	(void)state;
	world_init(&w, 1, false);
	start_main(&w);
	for (; n < 40; n++)
		handle_once(&w, 2000 + n, 0x100000 + 0x100 * n, 3000 + n);
	assert_int_equal(tick(&w, GRACE + SEC), 1);
	handle_once(&w, 2000 + n, 0x100000 + 0x100 * n, 3000 + n), n++;
	assert_int_equal(tick(&w, GRACE + SEC), 0); /* 41 < 40 + 4 */
	for (int k = 0; k < 3; k++, n++)
		handle_once(&w, 2000 + n, 0x100000 + 0x100 * n, 3000 + n);
	assert_int_equal(tick(&w, GRACE + SEC), 1); /* 44 */
	assert_int_equal(w.got[w.ngot - 1].count, 44);
	handle_once(&w, 2000 + n, 0x100000 + 0x100 * n, 3000 + n), n++;
	assert_int_equal(tick(&w, GRACE + SEC), 0);
	assert_int_equal(tick(&w, 5 * SEC), 0);
	assert_int_equal(tick(&w, 3 * SEC), 1); /* 45, 11 s after the report of 44 */
	world_free(&w);
}

static void test_group_bound(void **state)
{
	static struct stk sites[40];
	struct lineage_opts lo = { .retention_ns = 600 * SEC };
	struct rules_opts ro = { .grace_ns = GRACE, .min_count = 1, .max_groups = 16 };
	struct world w;
	struct rules_stats st;

	(void)state;
	memset(&w, 0, sizeof(w));
	w.lg = lineage__new(&lo);
	w.r = rules__new(&ro);
	clk = 1000 * SEC;
	start_main(&w);
	for (uint32_t i = 0; i < 40; i++) {
		sites[i] = (struct stk){ 1, 100 + i, { { "main.many", "/app/many.go", 100 + i, false } } };
		go(&w, MAIN_G, 5000 + i, STK(s_go_worker), "main.h");
		create(&w, 5000 + i, 0x200000 + 0x100 * i, CTX_TIMER, BASE, CTX_CANCEL, STK(s_create_timer));
		go(&w, 5000 + i, 6000 + i, STK(sites[i]), "main.w");
		cancel(&w, 0, 0x200000 + 0x100 * i, CANCEL_DEADLINE, true);
		cancel(&w, 5000 + i, 0x200000 + 0x100 * i, CANCEL_EXPLICIT, false);
	}
	tick(&w, GRACE + SEC);
	rules__stats(w.r, &st);
	assert_int_equal(st.groups, 16);
	assert_true(st.groups_dropped > 0);
	assert_int_equal(w.ngot, 16);
	world_free(&w);
}

static void test_text_output(void **state)
{
	struct world w;
	char *t;

	(void)state;
	world_init(&w, 1, true);
	start_main(&w);
	handle_once(&w, 500, 0x7000, 600);
	set_state(600, RULES_G_WAITING, "chan send", STK(s_blk_send), -1);
	tick(&w, GRACE + SEC);
	assert_int_equal(w.ngot, 1);
	t = alert_out__text_str(&w.got[0]);
	assert_non_null(t);
	assert_non_null(strstr(t, "[error] outlived-context x1"));
	assert_non_null(strstr(t, "main.go:22 (main.fetch.func1)"));
	assert_non_null(strstr(t, w.got[0].id));
	free(t);
	world_free(&w);
}

/* Which package is the user's: Go's own package list is the truth here. */
static void test_sites(void **state)
{
	static const char *const std[] = {
		"context.WithCancel", "net/http.(*conn).serve", "internal/poll.(*FD).Read",
		"vendor/golang.org/x/net/http2/hpack.(*Decoder).Write", "type:.eq.main.T",
		"type..eq.[2]interface {}", "runtime.gopark", "os/signal.NotifyContext.func1",
		"database/sql.(*DB).connectionOpener", "time.Sleep", "sync.(*WaitGroup).Wait",
		"_.goready.func1", "uuid.New",
	};
	static const char *const user[] = {
		"main.main", "main.(*server).handle.func1", "github.com/acme/app/db.Open",
		"ctxtrace.test/programs/x.F", "myapp/server.(*S).Run", "net.example/x.F",
		"golang.org/x/sync/errgroup.(*Group).Go.func1", "gopkg.in/yaml.v3.Unmarshal",
		/* a root's prefix or a root plus more is not the root */
		"netx.F", "ne.F", "i.F", "sync2/x.F", "weakly.F", "ioutil2.F",
	};
	static const struct stk blk = { 4, 50, {
		{ "runtime.cgocall", "/go/src/runtime/cgocall.go", 167, false },
		{ "main._Cfunc_x", "_cgo_gotypes.go", 5, false },
		{ "main.helper", "/app/h.go", 9, true },
		{ "main.run", "/app/h.go", 20, false } } };

	(void)state;
	for (size_t i = 0; i < sizeof(std) / sizeof(std[0]); i++) {
		if (!func_is_std(std[i]))
			fail_msg("%s taken for the user's", std[i]);
	}
	for (size_t i = 0; i < sizeof(user) / sizeof(user[0]); i++) {
		if (func_is_std(user[i]))
			fail_msg("%s taken for the standard library", user[i]);
	}
	assert_site(site_first_user(STK(blk)), "h.go", 9);
	assert_site(site_creation(STK(s_create_timer)), "main.go", 30);
	assert_null(site_creation(STK(s_create_std)));
	assert_null(site_go(STK(s_go_std)));
	assert_true(site_is_propagate_watcher(STK(s_go_watch), NULL));
	assert_true(site_is_propagate_watcher(NULL, "context.propagateCancel.func1"));
	assert_false(site_is_propagate_watcher(STK(s_go_worker), "main.fetch.func1"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lost_cancel_live),
		cmocka_unit_test(test_lost_cancel_creator_alive),
		cmocka_unit_test(test_lost_cancel_collected),
		cmocka_unit_test(test_lost_cancel_doubt),
		cmocka_unit_test(test_lost_cancel_expired),
		cmocka_unit_test(test_lost_cancel_held),
		cmocka_unit_test(test_lost_cancel_not_reported),
		cmocka_unit_test(test_outlived),
		cmocka_unit_test(test_outlived_address_reuse),
		cmocka_unit_test(test_outlived_not_reported),
		cmocka_unit_test(test_unreachable),
		cmocka_unit_test(test_outlived_without_state),
		cmocka_unit_test(test_reads_budget),
		cmocka_unit_test(test_lineage_break),
		cmocka_unit_test(test_lineage_break_scope_on_stack),
		cmocka_unit_test(test_lineage_break_not_sibling),
		cmocka_unit_test(test_lineage_break_caller),
		cmocka_unit_test(test_without_cancel),
		cmocka_unit_test(test_propagate),
		cmocka_unit_test(test_min_count_and_ids),
		cmocka_unit_test(test_reemit_backoff),
		cmocka_unit_test(test_group_bound),
		cmocka_unit_test(test_text_output),
		cmocka_unit_test(test_sites),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
