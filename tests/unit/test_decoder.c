/* The decoder on hand-built records over a fake target: a memory image with a
 * Go types section (type descriptors and names laid out as the runtime does),
 * itabs and context objects, and a fake symbolizer. Expected events are written
 * out by hand from what each record sequence describes. Also: malformed and
 * random records, and the decoder's throughput on a synthetic stream. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "binary/goelf.h"
#include "ctxtrace.h"
#include "events/decoder.h"
#include "events/event.h"
#include "events/gotypes.h"
#include "events/procmem.h"
#include "util/intern.h"

/* ---- fake memory ---- */

#include "fake_target.h"

static uint64_t t_context; /* the interface type context.Context */

static uint64_t ctx_itab(const char *type_name, bool extra_star)
{
	return mk_itab(t_context, mk_type_star(type_name, extra_star));
}

/* ---- fake symbolizer: function i spans [FN(i), FN(i)+0x100), line = pc & 0xff ---- */

#define TEXT 0x401000ULL
#define BIAS 0x10000ULL
#define FN(i) (TEXT + (uint64_t)(i) * 0x100)

enum fn {
	F_PROPAGATE, F_WITHCANCEL, F_MAIN, F_CANCEL, F_TIMER_CANCEL, F_AFTERFUNC_CANCEL,
	F_WITHCANCEL_FUNC1, F_WITHDEADLINE_FUNC2, F_PROPAGATE_FUNC1, F_AFTERFUNC_FUNC1,
	F_WITHVALUE, F_DONE, F_WORKER, F_GOEXIT, F_INLINED, F_HANDLER, F_COUNT,
};

static const char *const fn_names[F_COUNT] = {
	"context.(*cancelCtx).propagateCancel", "context.WithCancel", "main.main",
	"context.(*cancelCtx).cancel", "context.(*timerCtx).cancel", "context.(*afterFuncCtx).cancel",
	"context.WithCancel.func1", "context.WithDeadlineCause.func2",
	"context.(*cancelCtx).propagateCancel.func1", "context.AfterFunc.func1",
	"context.WithValue", "context.(*cancelCtx).Done", "main.worker", "runtime.goexit",
	"main.helper", "main.handler",
};

static int sym_calls;

static int fake_symbolize(void *cookie, uint64_t pc, struct go_frame *fr, int max)
{
	uint64_t i;

	sym_calls++;
	if (pc < TEXT || pc >= FN(F_COUNT))
		return -ENOENT;
	i = (pc - TEXT) / 0x100;
	/* main.helper is inlined into main.handler. */
	if (i == F_INLINED && max >= 2) {
		fr[0] = (struct go_frame){ "main.helper", "/src/h.go", (int)(pc & 0xff), true };
		fr[1] = (struct go_frame){ "main.handler", "/src/h.go", 100, false };
		return 2;
	}
	fr[0] = (struct go_frame){ fn_names[i], i == F_MAIN || i == F_WORKER ? "/src/main.go" : "/go/context.go",
				   (int)(pc & 0xff), false };
	return 1;
}

/* Runtime pc of a probe hit at line of function f (frame 0), and of a return
 * address whose call is at line (other frames: the decoder looks up pc - 1). */
static uint64_t ip(enum fn f, int line) { return FN(f) + (uint64_t)line + BIAS; }
static uint64_t ret(enum fn f, int line) { return FN(f) + (uint64_t)line + 1 + BIAS; }

/* ---- fixture ---- */

#define MAXEV 1024

struct fx {
	struct procmem *mem;
	struct intern *in;
	struct gotypes *gt;
	struct decoder *dec;
	struct ct_event ev[MAXEV];
	int n;
	uint64_t it_background, it_todo, it_cancel, it_timer, it_afterfunc, it_value, it_without,
		it_custom, it_stopctx, it_err_string, it_err_deadline;
	uint64_t canceler, t_error;
};

static void on_event(void *cookie, const struct ct_event *ev)
{
	struct fx *f = cookie;

	if (f->n < MAXEV)
		f->ev[f->n] = *ev;
	f->n++;
}

static struct fx *fx_new(int go_minor)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct gotypes_opts go = { 0 };
	struct decoder_opts o = { 0 };

	types_used = 8;
	itab_used = heap_used = 0;
	memset(types_mem, 0, sizeof(types_mem));
	memset(itab_mem, 0, sizeof(itab_mem));
	memset(heap_mem, 0, sizeof(heap_mem));
	t_context = mk_type_star("context.Context", true);
	f->canceler = mk_type_star("context.canceler", true);
	f->t_error = mk_type_star("error", false);
	f->it_background = ctx_itab("context.backgroundCtx", true);
	f->it_todo = ctx_itab("context.todoCtx", true);
	f->it_cancel = mk_itab(f->canceler, mk_type_star("*context.cancelCtx", false));
	f->it_timer = mk_itab(f->canceler, mk_type_star("*context.timerCtx", false));
	f->it_afterfunc = mk_itab(f->canceler, mk_type_star("*context.afterFuncCtx", false));
	f->it_value = ctx_itab("*context.valueCtx", false);
	f->it_without = ctx_itab("context.withoutCancelCtx", true);
	f->it_custom = ctx_itab("*main.myCtx", false);
	f->it_stopctx = ctx_itab("context.stopCtx", true);
	f->it_err_string = mk_itab(f->t_error, mk_type_star("*errors.errorString", false));
	f->it_err_deadline = mk_itab(f->t_error, mk_type_star("context.deadlineExceededError", true));

	f->mem = procmem__open_cb(fake_read, NULL);
	f->in = intern__new(0);
	go.mem = f->mem;
	go.in = f->in;
	go.types = TYPES;
	go.etypes = TYPES + REGION;
	go.go_minor = go_minor;
	f->gt = gotypes__new(&go);
	o.pid = 4242;
	o.go_minor = go_minor;
	o.symbolize = fake_symbolize;
	o.load_bias = BIAS;
	o.mem = f->mem;
	o.types = f->gt;
	o.in = f->in;
	o.emit = on_event;
	o.cookie = f;
	f->dec = decoder__new(&o);
	assert_non_null(f->dec);
	return f;
}

static void fx_free(struct fx *f)
{
	decoder__free(f->dec);
	gotypes__free(f->gt);
	intern__free(f->in);
	procmem__free(f->mem);
	free(f);
}

static uint64_t clk = 1000000000;

static struct ct_hdr hdr(uint32_t type, uint64_t goid, int nstack)
{
	struct ct_hdr h = { .type = type, .tid = 77, .goid = goid, .pid = 4242, .nstack = (uint16_t)nstack };

	clk += 1000;
	h.ts_ns = clk;
	return h;
}

/* A ctx_create record for child (kind by itab) under parent (itab, data), created
 * at main.main:line through WithCancel. */
static void rec_create(struct fx *f, uint64_t child_itab, uint64_t id, uint64_t ptab, uint64_t pdata,
		       int line, uint64_t goid)
{
	struct ct_ctx_create r = { 0 };

	r.h = hdr(CT_REC_CTX_CREATE, goid, 3);
	r.h.probe = CT_PROBE_PROPAGATE_CANCEL;
	r.ctx = id;
	r.parent.tab = ptab;
	r.parent.data = pdata;
	r.child.tab = child_itab;
	r.child.data = id;
	r.stack[0] = ip(F_PROPAGATE, 1);
	r.stack[1] = ret(F_WITHCANCEL, 5);
	r.stack[2] = ret(F_MAIN, line);
	assert_int_equal(decoder__record(f->dec, &r, sizeof(r)), 0);
}

static void rec_cancel(struct fx *f, uint64_t id, bool timer, uint64_t err_itab, uint64_t err_data,
		       uint64_t already, const enum fn *callers, int ncallers, uint64_t goid)
{
	struct ct_ctx_cancel r = { 0 };

	r.h = hdr(CT_REC_CTX_CANCEL, goid, 1 + ncallers);
	r.h.probe = timer ? CT_PROBE_TIMERCTX_CANCEL : CT_PROBE_CANCELCTX_CANCEL;
	r.ctx = id;
	r.timer = timer;
	r.err.tab = err_itab;
	r.err.data = err_data;
	r.already_err = already;
	r.stack[0] = ip(timer ? F_TIMER_CANCEL : F_CANCEL, 1);
	for (int i = 0; i < ncallers; i++)
		r.stack[1 + i] = ret(callers[i], 10 + i);
	assert_int_equal(decoder__record(f->dec, &r, sizeof(r)), 0);
}

static void rec_value(struct fx *f, uint64_t ptab, uint64_t pdata, uint64_t key, uint64_t val, int line)
{
	struct ct_value_create r = { 0 };

	r.h = hdr(CT_REC_VALUE_CREATE, 1, 2);
	r.h.probe = CT_PROBE_WITH_VALUE;
	r.parent.tab = ptab;
	r.parent.data = pdata;
	r.key.tab = TYPES + 8; /* any type pointer: compared, never read */
	r.key.data = key;
	r.val.tab = TYPES + 8;
	r.val.data = val;
	r.stack[0] = ip(F_WITHVALUE, 1);
	r.stack[1] = ret(F_MAIN, line);
	assert_int_equal(decoder__record(f->dec, &r, sizeof(r)), 0);
}

/* A valueCtx object in memory matching rec_value(f, ptab, pdata, key, val). */
static uint64_t mem_value(uint64_t ptab, uint64_t pdata, uint64_t key, uint64_t val)
{
	uint64_t v = alloc(48);

	poke64(v, ptab);
	poke64(v + 8, pdata);
	poke64(v + 16, TYPES + 8);
	poke64(v + 24, key);
	poke64(v + 32, TYPES + 8);
	poke64(v + 40, val);
	return v;
}

/* A cancelCtx (or timerCtx) object whose parent is (ptab, pdata). */
static uint64_t mem_cancel(uint64_t ptab, uint64_t pdata, size_t size)
{
	uint64_t c = alloc(size);

	poke64(c, ptab);
	poke64(c + 8, pdata);
	return c;
}

static uint64_t mem_errstring(const char *s)
{
	uint64_t str = alloc(strlen(s) + 1), e = alloc(16);

	poke(str, s, strlen(s));
	poke64(e, str);
	poke64(e + 8, strlen(s));
	return e;
}

static const struct ct_frame *user_frame(const struct ct_event *e)
{
	return ct_stack_user_frame(e->type == EV_CTX_CREATE ? e->ctx_create.stack : e->ctx_cancel.stack);
}

/* ---- tests ---- */

static void test_create_from_background(void **state)
{
	struct fx *f = fx_new(26);
	uint64_t c = alloc(80);
	const struct ct_event *e;

	rec_create(f, f->it_cancel, c, f->it_background, 0x5f0000, 42, 1);
	assert_int_equal(f->n, 1);
	e = &f->ev[0];
	assert_int_equal(e->type, EV_CTX_CREATE);
	assert_int_equal(e->pid, 4242);
	assert_int_equal(e->goid, 1);
	assert_int_equal(e->ctx_create.id, c);
	assert_int_equal(e->ctx_create.kind, CTX_CANCEL);
	assert_string_equal(e->ctx_create.type_name, "*context.cancelCtx");
	assert_int_equal(e->ctx_create.parent, 0);
	assert_int_equal(e->ctx_create.parent_kind, CTX_BACKGROUND);
	assert_int_equal(e->ctx_create.ancestor_kind, CTX_BACKGROUND);
	assert_false(e->ctx_create.preexisting);
	assert_non_null(e->ctx_create.stack);
	assert_int_equal(e->ctx_create.stack->n, 3);
	assert_string_equal(e->ctx_create.stack->frames[0].func, "context.(*cancelCtx).propagateCancel");
	assert_int_equal(e->ctx_create.stack->frames[0].line, 1);
	assert_string_equal(user_frame(e)->func, "main.main");
	assert_int_equal(user_frame(e)->line, 42);
	assert_string_equal(user_frame(e)->file, "/src/main.go");

	/* TODO is told from Background by its type (Go 1.21+). */
	rec_create(f, f->it_cancel, alloc(80), f->it_todo, 0x5f0000, 43, 1);
	assert_int_equal(f->ev[1].ctx_create.parent_kind, CTX_TODO);
	fx_free(f);
}

static void test_emptyctx_go119(void **state)
{
	struct fx *f = fx_new(19);
	uint64_t it_empty = ctx_itab("*context.emptyCtx", false);
	uint64_t bg = alloc(8), todo = alloc(8);
	struct gotypes_opts go = { .mem = f->mem, .in = f->in, .types = TYPES, .etypes = TYPES + REGION,
				   .go_minor = 19, .background_obj = bg, .todo_obj = todo };
	struct gotypes *gt = gotypes__new(&go);
	const char *name;

	assert_int_equal(gotypes__ctx_kind(gt, it_empty, bg, &name), CTX_BACKGROUND);
	assert_string_equal(name, "*context.emptyCtx");
	assert_int_equal(gotypes__ctx_kind(gt, it_empty, todo, NULL), CTX_TODO);
	gotypes__free(gt);
	fx_free(f);
}

static void test_type_names(void **state)
{
	struct fx *f = fx_new(26);
	uint64_t t = mk_type_star("main.someLongTypeName", true);
	char longname[300];
	uint64_t lt, junk = alloc(64);

	/* tflagExtraStar: the stored "*main.someLongTypeName" names main.someLongTypeName. */
	assert_string_equal(gotypes__type_name(f->gt, t), "main.someLongTypeName");
	/* A two-byte varint length. */
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	memcpy(longname, "main.", 5);
	lt = mk_type_star(longname, false);
	assert_string_equal(gotypes__type_name(f->gt, lt), longname);
	/* Pointers outside the types section are not types. */
	assert_null(gotypes__type_name(f->gt, junk));
	assert_null(gotypes__itab_name(f->gt, 0x1234568));
	assert_string_equal(gotypes__itab_iface_name(f->gt, f->it_custom), "context.Context");
	assert_string_equal(gotypes__itab_name(f->gt, f->it_custom), "*main.myCtx");
	/* Cached: no more reads. */
	mem_reads = 0;
	assert_string_equal(gotypes__itab_name(f->gt, f->it_custom), "*main.myCtx");
	assert_int_equal(mem_reads, 0);
	fx_free(f);
}

static void test_preexisting_chain(void **state)
{
	struct fx *f = fx_new(26);
	/* background <- T (timer, deadline) <- V (value) <- X (cancel) <- new child */
	uint64_t t = mem_cancel(f->it_background, 0x5f0000, 96);
	uint64_t deadline[3] = { 0x75bcd15ULL, 64039878489ULL, 0 };
	uint64_t v, x, child = alloc(80);

	poke(t + 88, deadline, 24);
	v = mem_value(ctx_itab("*context.timerCtx", false), t, 0x111, 0x222);
	x = mem_cancel(f->it_value, v, 80);
	rec_create(f, f->it_cancel, child, ctx_itab("*context.cancelCtx", false), x, 50, 9);
	assert_int_equal(f->n, 4);
	/* Parents first, oldest first. */
	assert_int_equal(f->ev[0].ctx_create.id, t);
	assert_int_equal(f->ev[0].ctx_create.kind, CTX_TIMER);
	assert_true(f->ev[0].ctx_create.preexisting);
	assert_true(f->ev[0].ctx_create.has_deadline);
	assert_int_equal(f->ev[0].ctx_create.deadline_unix_ns, 1904281689123456789LL);
	assert_int_equal(f->ev[0].ctx_create.parent_kind, CTX_BACKGROUND);
	assert_int_equal(f->ev[0].goid, 0);
	assert_null(f->ev[0].ctx_create.stack);
	assert_int_equal(f->ev[1].ctx_create.id, v);
	assert_int_equal(f->ev[1].ctx_create.kind, CTX_VALUE);
	assert_true(f->ev[1].ctx_create.preexisting);
	assert_int_equal(f->ev[1].ctx_create.parent, t);
	assert_int_equal(f->ev[1].ctx_create.ancestor, t);
	assert_int_equal(f->ev[2].ctx_create.id, x);
	assert_int_equal(f->ev[2].ctx_create.parent, v);
	assert_int_equal(f->ev[2].ctx_create.parent_kind, CTX_VALUE);
	assert_int_equal(f->ev[2].ctx_create.ancestor, t);
	assert_int_equal(f->ev[2].ctx_create.ancestor_kind, CTX_TIMER);
	assert_int_equal(f->ev[3].ctx_create.id, child);
	assert_int_equal(f->ev[3].ctx_create.parent, x);
	assert_int_equal(f->ev[3].ctx_create.ancestor, x);
	assert_false(f->ev[3].ctx_create.preexisting);
	assert_int_equal(f->ev[3].goid, 9);

	/* Known now: a second child emits only itself. */
	rec_create(f, f->it_cancel, alloc(80), ctx_itab("*context.cancelCtx", false), x, 51, 9);
	assert_int_equal(f->n, 5);
	fx_free(f);
}

static void test_value_matching(void **state)
{
	struct fx *f = fx_new(26);
	uint64_t c = alloc(80), child = alloc(80), v1, v2;
	uint64_t it_cancel_ctx = ctx_itab("*context.cancelCtx", false);
	uint64_t ts_v1;
	struct decoder_stats st;

	rec_create(f, f->it_cancel, c, f->it_background, 1, 10, 1);
	rec_value(f, it_cancel_ctx, c, 0xa1, 0xb1, 20);
	ts_v1 = clk;
	v1 = mem_value(it_cancel_ctx, c, 0xa1, 0xb1);
	/* WithValue(v1, ...): v1 is referenced, so it is matched right away. */
	rec_value(f, f->it_value, v1, 0xa2, 0xb2, 21);
	assert_int_equal(f->n, 2);
	assert_int_equal(f->ev[1].ctx_create.id, v1);
	assert_int_equal(f->ev[1].ctx_create.kind, CTX_VALUE);
	assert_false(f->ev[1].ctx_create.preexisting);
	assert_int_equal(f->ev[1].ts_ns, ts_v1);
	assert_int_equal(f->ev[1].goid, 1);
	assert_int_equal(user_frame(&f->ev[1])->line, 20);
	assert_int_equal(f->ev[1].ctx_create.parent, c);
	v2 = mem_value(f->it_value, v1, 0xa2, 0xb2);
	rec_create(f, f->it_cancel, child, f->it_value, v2, 30, 1);
	assert_int_equal(f->n, 4);
	assert_int_equal(f->ev[2].ctx_create.id, v2);
	assert_int_equal(user_frame(&f->ev[2])->line, 21);
	assert_int_equal(f->ev[2].ctx_create.parent, v1);
	assert_int_equal(f->ev[2].ctx_create.ancestor, c);
	assert_int_equal(f->ev[3].ctx_create.parent, v2);
	assert_int_equal(f->ev[3].ctx_create.ancestor, c);
	assert_int_equal(f->ev[3].ctx_create.ancestor_kind, CTX_CANCEL);

	/* Never referenced: emitted with id 0 once older than 2 s, or at flush. */
	rec_value(f, it_cancel_ctx, c, 0xa3, 0xb3, 40);
	rec_value(f, it_cancel_ctx, c, 0xa4, 0xb4, 41);
	decoder__stats(f->dec, &st);
	assert_int_equal(st.values_pending, 2);
	decoder__expire(f->dec, clk + 1000000000ULL);
	assert_int_equal(f->n, 4);
	decoder__expire(f->dec, clk + 2000000000ULL - 1000);
	assert_int_equal(f->n, 5);
	assert_int_equal(f->ev[4].ctx_create.id, 0);
	assert_int_equal(f->ev[4].ctx_create.kind, CTX_VALUE);
	assert_int_equal(f->ev[4].ctx_create.parent, c);
	assert_int_equal(user_frame(&f->ev[4])->line, 40);
	decoder__flush(f->dec);
	assert_int_equal(f->n, 6);
	assert_int_equal(user_frame(&f->ev[5])->line, 41);
	decoder__stats(f->dec, &st);
	assert_int_equal(st.values_pending, 0);
	assert_int_equal(st.values_matched, 2);
	assert_int_equal(st.values_anonymous, 2);

	/* A value context made before attach (no pending call): pre-existing. */
	v1 = mem_value(it_cancel_ctx, c, 0xa9, 0xb9);
	rec_create(f, f->it_cancel, alloc(80), f->it_value, v1, 50, 1);
	assert_int_equal(f->n, 8);
	assert_true(f->ev[6].ctx_create.preexisting);
	assert_int_equal(f->ev[6].ctx_create.parent, c);

	/* The address reused by another value context after a GC: found anew. */
	poke64(v1 + 24, 0xaa);
	rec_create(f, f->it_cancel, alloc(80), f->it_value, v1, 51, 1);
	assert_int_equal(f->n, 10);
	assert_int_equal(f->ev[8].ctx_create.id, v1);
	fx_free(f);
}

static void test_value_bound(void **state)
{
	struct fx *f = fx_new(26);
	struct decoder_stats st;

	/* More pending calls than the table holds: the oldest are emitted, none lost. */
	for (int i = 0; i < 5000; i++)
		rec_value(f, f->it_background, 1, 0x1000 + i, 7, 60);
	decoder__stats(f->dec, &st);
	assert_int_equal(st.values_pending, 4096);
	assert_int_equal(f->n, 5000 - 4096);
	decoder__flush(f->dec);
	assert_int_equal(f->n, 5000);
	fx_free(f);
}

static void test_cancel_reasons(void **state)
{
	struct fx *f = fx_new(26);
	uint64_t c = alloc(80), t = alloc(96), child = alloc(80);
	uint64_t canceled = mem_errstring("context canceled"), boom = mem_errstring("boom");
	static const enum fn explicit_callers[] = { F_WITHCANCEL_FUNC1, F_MAIN };
	static const enum fn timer_callers[] = { F_WITHDEADLINE_FUNC2 };
	static const enum fn dup_callers[] = { F_TIMER_CANCEL, F_WITHDEADLINE_FUNC2 };
	static const enum fn parent_callers[] = { F_CANCEL, F_WITHCANCEL_FUNC1, F_MAIN };
	static const enum fn propagate_callers[] = { F_PROPAGATE_FUNC1 };
	int n;

	rec_create(f, f->it_cancel, c, f->it_background, 1, 10, 1);
	rec_create(f, f->it_timer, t, f->it_background, 1, 11, 1);
	rec_create(f, f->it_cancel, child, ctx_itab("*context.cancelCtx", false), c, 12, 1);
	n = f->n;

	/* The timer fires: (*timerCtx).cancel from the timer closure, then its own
	 * (*cancelCtx).cancel, which is dropped. */
	rec_cancel(f, t, true, f->it_err_deadline, 0, 0, timer_callers, 1, 30);
	rec_cancel(f, t, false, f->it_err_deadline, 0, 0, dup_callers, 2, 30);
	assert_int_equal(f->n, n + 1);
	assert_int_equal(f->ev[n].ctx_cancel.id, t);
	assert_int_equal(f->ev[n].ctx_cancel.reason, CANCEL_DEADLINE);
	assert_true(f->ev[n].ctx_cancel.effective);
	assert_string_equal(f->ev[n].ctx_cancel.err, "context deadline exceeded");
	/* Go 1.21+: no cause given means the error is the cause. */
	assert_string_equal(f->ev[n].ctx_cancel.cause, "context deadline exceeded");
	assert_int_equal(f->ev[n].goid, 30);
	/* The deferred cancel after expiry: explicit, no effect. */
	rec_cancel(f, t, true, f->it_err_string, canceled, 1, explicit_callers, 2, 1);
	assert_int_equal(f->ev[n + 1].ctx_cancel.reason, CANCEL_EXPLICIT);
	assert_false(f->ev[n + 1].ctx_cancel.effective);
	assert_string_equal(f->ev[n + 1].ctx_cancel.err, "context canceled");
	assert_string_equal(user_frame(&f->ev[n + 1])->func, "main.main");
	rec_cancel(f, t, false, f->it_err_string, canceled, 1, dup_callers, 2, 1);
	assert_int_equal(f->n, n + 2);

	/* Explicit cancel of c with a cause, then its child by propagation. */
	{
		struct ct_ctx_cancel r = { 0 };

		r.h = hdr(CT_REC_CTX_CANCEL, 1, 3);
		r.ctx = c;
		r.err.tab = f->it_err_string;
		r.err.data = canceled;
		r.cause.tab = f->it_err_string;
		r.cause.data = boom;
		r.stack[0] = ip(F_CANCEL, 1);
		r.stack[1] = ret(F_WITHCANCEL_FUNC1, 3);
		r.stack[2] = ret(F_MAIN, 70);
		assert_int_equal(decoder__record(f->dec, &r, sizeof(r)), 0);
	}
	assert_int_equal(f->ev[n + 2].ctx_cancel.reason, CANCEL_EXPLICIT);
	assert_true(f->ev[n + 2].ctx_cancel.effective);
	assert_string_equal(f->ev[n + 2].ctx_cancel.cause, "boom");
	rec_cancel(f, child, false, f->it_err_string, canceled, 0, parent_callers, 3, 1);
	assert_int_equal(f->ev[n + 3].ctx_cancel.reason, CANCEL_PARENT);
	assert_true(f->ev[n + 3].ctx_cancel.effective);
	/* The watcher goroutine of a custom parent. */
	rec_cancel(f, child, false, f->it_err_string, canceled, 1, propagate_callers, 1, 5);
	assert_int_equal(f->ev[n + 4].ctx_cancel.reason, CANCEL_PARENT);
	assert_false(f->ev[n + 4].ctx_cancel.effective);
	assert_int_equal(f->n, n + 5);
	/* Records read after the target exited: known type names and error texts
	 * are remembered. */
	mem_gone = true;
	rec_cancel(f, child, false, f->it_err_string, canceled, 1, explicit_callers, 2, 1);
	mem_gone = false;
	assert_int_equal(f->n, n + 6);
	assert_string_equal(f->ev[n + 5].ctx_cancel.err, "context canceled");
	fx_free(f);
}

static void test_cancel_go119(void **state)
{
	struct fx *f = fx_new(19);
	uint64_t c = alloc(64);
	uint64_t canceled = mem_errstring("context canceled");
	static const enum fn explicit_callers[] = { F_WITHCANCEL_FUNC1, F_MAIN };

	rec_create(f, f->it_cancel, c, f->it_background, 1, 10, 1);
	rec_cancel(f, c, false, f->it_err_string, canceled, 0, explicit_callers, 2, 1);
	assert_int_equal(f->n, 2);
	assert_int_equal(f->ev[1].ctx_cancel.reason, CANCEL_EXPLICIT);
	/* Before 1.21 there are no causes. */
	assert_null(f->ev[1].ctx_cancel.cause);
	/* The error object's address now holds another errorString (after a GC):
	 * read again once the cached text is 100 ms old. */
	{
		uint64_t other = mem_errstring("other error");
		uint64_t hdr[2] = { 0 };

		assert_int_equal(fake_read(NULL, other, hdr, 16), 0);
		poke(canceled, hdr, 16);
		rec_cancel(f, c, false, f->it_err_string, canceled, 1, explicit_callers, 2, 1);
		assert_string_equal(f->ev[2].ctx_cancel.err, "context canceled");
		clk += 200000000;
		rec_cancel(f, c, false, f->it_err_string, canceled, 1, explicit_callers, 2, 1);
		assert_string_equal(f->ev[3].ctx_cancel.err, "other error");
	}
	fx_free(f);
}

static void test_afterfunc_and_unknown(void **state)
{
	struct fx *f = fx_new(26);
	uint64_t parent = alloc(80), a, b;
	uint64_t canceled = mem_errstring("context canceled");
	static const enum fn stop_callers[] = { F_AFTERFUNC_CANCEL, F_AFTERFUNC_FUNC1, F_MAIN };
	static const enum fn parent_callers[] = { F_AFTERFUNC_CANCEL, F_CANCEL, F_WITHCANCEL_FUNC1 };

	rec_create(f, f->it_cancel, parent, f->it_background, 1, 10, 1);
	a = mem_cancel(ctx_itab("*context.cancelCtx", false), parent, 112);
	/* AfterFunc's context created before attach: its first cancel hit
	 * discovers it, as an AfterFunc context (from the caller). */
	rec_cancel(f, a, false, f->it_err_string, canceled, 0, stop_callers, 3, 1);
	assert_int_equal(f->n, 3);
	assert_int_equal(f->ev[1].type, EV_CTX_CREATE);
	assert_int_equal(f->ev[1].ctx_create.id, a);
	assert_int_equal(f->ev[1].ctx_create.kind, CTX_AFTERFUNC);
	assert_true(f->ev[1].ctx_create.preexisting);
	assert_int_equal(f->ev[1].ctx_create.parent, parent);
	assert_int_equal(f->ev[2].ctx_cancel.reason, CANCEL_EXPLICIT);
	b = mem_cancel(ctx_itab("*context.cancelCtx", false), parent, 112);
	rec_create(f, f->it_afterfunc, b, ctx_itab("*context.cancelCtx", false), parent, 11, 1);
	rec_cancel(f, b, false, f->it_err_string, canceled, 0, parent_callers, 3, 1);
	assert_int_equal(f->ev[3].ctx_create.kind, CTX_AFTERFUNC);
	assert_int_equal(f->ev[4].ctx_cancel.reason, CANCEL_PARENT);
	fx_free(f);
}

/* Issue 14: memory that is not a context must not become one. A parent whose
 * itab is not a context.Context itab (a zapcore.Level as a fmt.Stringer, a
 * zero-size type's address), or whose data is no object pointer (0x4), is no
 * context: the new context's parent is unknown, nothing is discovered. */
static void test_not_a_context(void **state)
{
	struct fx *f = fx_new(26);
	uint64_t stringer = mk_type_star("fmt.Stringer", false);
	uint64_t it_level = mk_itab(stringer, mk_type_star("zapcore.Level", false));
	uint64_t lvl = alloc(16), v = alloc(48), c, it_cancel_ctx = ctx_itab("*context.cancelCtx", false);
	struct decoder_stats st;

	(void)state;
	rec_create(f, f->it_cancel, alloc(80), it_level, lvl, 10, 1);
	assert_int_equal(f->n, 1);
	assert_int_equal(f->ev[0].ctx_create.parent, 0);
	assert_int_equal(f->ev[0].ctx_create.parent_kind, CTX_UNKNOWN);
	/* a cancelCtx whose stored parent is (Context itab, 0x4) */
	c = mem_cancel(it_cancel_ctx, 0x4, 80);
	rec_create(f, f->it_cancel, alloc(80), it_cancel_ctx, c, 20, 1);
	assert_int_equal(f->n, 3);
	assert_int_equal(f->ev[1].ctx_create.id, c);
	assert_int_equal(f->ev[1].ctx_create.parent, 0);
	assert_int_equal(f->ev[2].ctx_create.parent, c);
	/* a value context whose Context field holds a non-Context itab */
	poke64(v, it_level);
	poke64(v + 8, lvl);
	rec_create(f, f->it_cancel, alloc(80), f->it_value, v, 30, 1);
	for (int i = 3; i < f->n; i++)
		assert_int_not_equal(f->ev[i].ctx_create.kind, CTX_CUSTOM);
	decoder__stats(f->dec, &st);
	assert_true(st.not_context >= 3);
	fx_free(f);
}

static void test_custom_withoutcancel_stopctx(void **state)
{
	struct fx *f = fx_new(26);
	uint64_t c = alloc(80), m, w, s, x, it_cancel_ctx = ctx_itab("*context.cancelCtx", false);

	rec_create(f, f->it_cancel, c, f->it_background, 1, 10, 1);
	/* *main.myCtx{tag int; Context} with the Context at offset 8. */
	m = alloc(32);
	poke64(m, 12345);
	poke64(m + 8, it_cancel_ctx);
	poke64(m + 16, c);
	rec_create(f, f->it_cancel, alloc(80), f->it_custom, m, 20, 1);
	assert_int_equal(f->n, 3);
	assert_int_equal(f->ev[1].ctx_create.id, m);
	assert_int_equal(f->ev[1].ctx_create.kind, CTX_CUSTOM);
	assert_string_equal(f->ev[1].ctx_create.type_name, "*main.myCtx");
	assert_true(f->ev[1].ctx_create.discovered);
	assert_false(f->ev[1].ctx_create.preexisting);
	assert_int_equal(f->ev[1].ctx_create.parent, c);
	assert_int_equal(f->ev[2].ctx_create.parent, m);
	assert_int_equal(f->ev[2].ctx_create.parent_kind, CTX_CUSTOM);
	assert_int_equal(f->ev[2].ctx_create.ancestor, c);
	assert_int_equal(f->ev[2].ctx_create.ancestor_kind, CTX_CANCEL);

	/* WithoutCancel(c) as a parent. */
	w = alloc(16);
	poke64(w, it_cancel_ctx);
	poke64(w + 8, c);
	rec_create(f, f->it_cancel, alloc(80), f->it_without, w, 30, 1);
	assert_int_equal(f->ev[3].ctx_create.kind, CTX_WITHOUTCANCEL);
	assert_true(f->ev[3].ctx_create.discovered);
	assert_int_equal(f->ev[3].ctx_create.parent, c);
	assert_int_equal(f->ev[4].ctx_create.ancestor, w);
	assert_int_equal(f->ev[4].ctx_create.ancestor_kind, CTX_WITHOUTCANCEL);

	/* A pre-existing cancelCtx whose Context is a stopCtx wrapping m. */
	s = alloc(24);
	poke64(s, f->it_custom);
	poke64(s + 8, m);
	x = mem_cancel(f->it_stopctx, s, 80);
	rec_create(f, f->it_cancel, alloc(80), it_cancel_ctx, x, 40, 1);
	assert_int_equal(f->n, 7);
	assert_int_equal(f->ev[5].ctx_create.id, x);
	assert_int_equal(f->ev[5].ctx_create.parent, m);
	assert_int_equal(f->ev[5].ctx_create.parent_kind, CTX_CUSTOM);
	assert_int_equal(f->ev[5].ctx_create.ancestor, c);
	fx_free(f);
}

static void test_goroutines_and_done(void **state)
{
	struct fx *f = fx_new(26);
	struct ct_go_create g = { 0 };
	struct ct_go_exit x = { 0 };
	struct ct_ctx_done dn = { 0 };

	decoder__preexisting_go(f->dec, 7, 1, ret(F_MAIN, 30), FN(F_WORKER) + BIAS, 5);
	assert_int_equal(f->n, 1);
	assert_true(f->ev[0].go_create.preexisting);
	assert_int_equal(f->ev[0].go_create.goid, 7);
	assert_string_equal(f->ev[0].go_create.start_func, "main.worker");
	assert_string_equal(f->ev[0].go_create.go_site->frames[0].func, "main.main");
	assert_int_equal(f->ev[0].go_create.go_site->frames[0].line, 30);
	/* The same goroutine's record (created between attach and the snapshot) is dropped. */
	g.h = hdr(CT_REC_GO_CREATE, 1, 0);
	g.new_goid = 7;
	g.gopc = ret(F_MAIN, 30);
	g.startpc = FN(F_WORKER) + BIAS;
	assert_int_equal(decoder__record(f->dec, &g, sizeof(g)), 0);
	assert_int_equal(f->n, 1);
	g.new_goid = 8;
	g.gopc = ret(F_INLINED, 33);
	assert_int_equal(decoder__record(f->dec, &g, sizeof(g)), 0);
	assert_int_equal(f->n, 2);
	assert_int_equal(f->ev[1].go_create.goid, 8);
	assert_int_equal(f->ev[1].go_create.parent_goid, 1);
	assert_false(f->ev[1].go_create.preexisting);
	/* An inlined go statement: the innermost frame is the inlined function. */
	assert_int_equal(f->ev[1].go_create.go_site->n, 2);
	assert_string_equal(f->ev[1].go_create.go_site->frames[0].func, "main.helper");
	assert_true(f->ev[1].go_create.go_site->frames[0].inlined);
	assert_int_equal(f->ev[1].go_create.go_site->frames[0].line, 33);
	x.h = hdr(CT_REC_GO_EXIT, 8, 0);
	assert_int_equal(decoder__record(f->dec, &x, sizeof(x)), 0);
	assert_int_equal(f->ev[2].type, EV_GO_EXIT);
	assert_int_equal(f->ev[2].go_exit.goid, 8);
	dn.h = hdr(CT_REC_CTX_DONE, 8, 0);
	dn.ctx = 0xc000001000;
	dn.pc = ret(F_WORKER, 55);
	assert_int_equal(decoder__record(f->dec, &dn, sizeof(dn)), 0);
	assert_int_equal(f->ev[3].type, EV_CTX_DONE);
	assert_int_equal(f->ev[3].ctx_done.id, 0xc000001000);
	assert_int_equal(f->ev[3].ctx_done.site->frames[0].line, 55);
	assert_string_equal(f->ev[3].ctx_done.site->frames[0].func, "main.worker");
	fx_free(f);
}

static void test_stack_cache_and_unknown_pcs(void **state)
{
	struct fx *f = fx_new(26);
	uint64_t pcs[3] = { ip(F_MAIN, 5), 0xdeadbeef, ret(F_WORKER, 9) };
	const struct ct_stack *a, *b;

	sym_calls = 0;
	a = decoder__stack(f->dec, pcs, 3, true);
	assert_non_null(a);
	assert_int_equal(a->n, 3);
	assert_null(a->frames[1].func);
	assert_int_equal(sym_calls, 3);
	b = decoder__stack(f->dec, pcs, 3, true);
	assert_ptr_equal(a, b);
	assert_int_equal(sym_calls, 3);
	/* Trailing zero pcs are not frames. */
	{
		uint64_t z[4] = { ip(F_MAIN, 5), 0xdeadbeef, ret(F_WORKER, 9), 0 };

		assert_ptr_equal(decoder__stack(f->dec, z, 4, true), a);
	}
	assert_null(decoder__stack(f->dec, pcs, 0, true));
	fx_free(f);
}

static void test_malformed(void **state)
{
	struct fx *f = fx_new(26);
	struct ct_ctx_create r = { 0 };
	unsigned char buf[sizeof(struct ct_ctx_cancel) + 64];
	struct decoder_stats st;

	r.h = hdr(CT_REC_CTX_CREATE, 1, 3);
	assert_int_equal(decoder__record(f->dec, &r, 10), -EINVAL);
	assert_int_equal(decoder__record(f->dec, &r, offsetof(struct ct_ctx_create, stack)), -EINVAL);
	r.h.nstack = 40;
	assert_int_equal(decoder__record(f->dec, &r, sizeof(r)), -EINVAL);
	r.h.nstack = 0;
	/* No address at all. */
	assert_int_equal(decoder__record(f->dec, &r, sizeof(r)), -EINVAL);
	r.h.type = 99;
	assert_int_equal(decoder__record(f->dec, &r, sizeof(r)), -EINVAL);
	assert_int_equal(decoder__record(f->dec, NULL, 0), -EINVAL);
	decoder__stats(f->dec, &st);
	assert_int_equal(st.decode_errors, 6);
	assert_int_equal(f->n, 0);
	/* Random records of every type: never a crash (ASan/valgrind catch the rest). */
	srand(1);
	for (int i = 0; i < 20000; i++) {
		struct ct_hdr *h = (struct ct_hdr *)buf;
		size_t len = (size_t)rand() % sizeof(buf);

		for (size_t k = 0; k < sizeof(buf); k++)
			buf[k] = (unsigned char)rand();
		/* Pointers that sometimes land in the fake image. */
		for (size_t k = sizeof(*h); k + 8 <= sizeof(buf); k += 8) {
			uint64_t v = rand() % 3 == 0 ? (rand() % 2 ? HEAP : ITABS) + (uint64_t)(rand() % 4096) * 8 : 0;

			if (v)
				memcpy(buf + k, &v, 8);
		}
		h->type = 1 + (uint32_t)(rand() % 6);
		h->nstack = (uint16_t)(rand() % 40);
		decoder__record(f->dec, buf, len);
	}
	decoder__flush(f->dec);
	fx_free(f);
}

static void test_go_time(void **state)
{
	/* Raw time.Time words and UnixNano() printed by Go 1.26 for the same values. */
	static const struct {
		uint64_t wall;
		int64_t ext;
		int64_t unix_ns;
	} v[] = {
		{ 0xc2b90151364c6ed3ULL, 30038158, 1795395012910978771LL },
		{ 0xc2b90150f4839eb2ULL, -999899549, 1795395011881041074LL },
		{ 0x75bcd15ULL, 64039878489LL, 1904281689123456789LL },
		{ 0x3b9ac9ffULL, 63082281599LL, 946684799999999999LL },
		{ 0x1ULL, 62135596800LL, 1 },
		{ 0x5ULL, 69393715200LL, 7258118400000000005LL },
	};
	uint64_t raw[3] = { 0 };
	int64_t ns;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		raw[0] = v[i].wall;
		raw[1] = (uint64_t)v[i].ext;
		assert_true(go_time_unix_ns(raw, &ns));
		assert_int_equal(ns, v[i].unix_ns);
	}
	raw[0] = raw[1] = 0;
	assert_false(go_time_unix_ns(raw, &ns));
}

static void test_known_bound(void **state)
{
	struct fx *f = fx_new(26);
	struct decoder_opts o = { 0 };
	struct decoder *d;
	uint64_t first = alloc(80);
	int n0;

	/* A small memory of known contexts: old ones are forgotten and, when
	 * referenced again, read from memory again (pre-existing). */
	o.go_minor = 26;
	o.symbolize = fake_symbolize;
	o.load_bias = BIAS;
	o.mem = f->mem;
	o.types = f->gt;
	o.in = f->in;
	o.emit = on_event;
	o.cookie = f;
	o.known_max = 64;
	d = decoder__new(&o);
	decoder__free(f->dec);
	f->dec = d;
	poke64(first, f->it_background);
	rec_create(f, f->it_cancel, first, f->it_background, 1, 10, 1);
	for (int i = 0; i < 300; i++)
		rec_create(f, f->it_cancel, HEAP + REGION - 8 * (uint64_t)(i + 1), f->it_background, 1, 10, 1);
	n0 = f->n;
	rec_create(f, f->it_cancel, alloc(80), ctx_itab("*context.cancelCtx", false), first, 11, 1);
	assert_int_equal(f->n, n0 + 2);
	assert_true(f->ev[n0].ctx_create.preexisting);
	fx_free(f);
}

static void bench_sink(void *cookie, const struct ct_event *ev)
{
	(*(uint64_t *)cookie)++;
}

/* Throughput on a synthetic stream shaped like a busy server: per request a
 * goroutine, a WithTimeout under a per-request value context, a Done, the
 * cancel, the exit; stacks from a few hundred sites. */
static void test_throughput(void **state)
{
	struct fx *f = fx_new(26);
	struct decoder_opts o = { 0 };
	struct decoder *d;
	uint64_t count = 0, recs = 0;
	uint64_t canceled = mem_errstring("context canceled"), base = alloc(80);
	uint64_t it_cancel_ctx = ctx_itab("*context.cancelCtx", false);
	static const enum fn callers[] = { F_WITHCANCEL_FUNC1, F_MAIN };
	struct timespec t0, t1;
	double secs;
	const int N = 200000;

	o.go_minor = 26;
	o.symbolize = fake_symbolize;
	o.load_bias = BIAS;
	o.mem = f->mem;
	o.types = f->gt;
	o.in = f->in;
	o.emit = bench_sink;
	o.cookie = &count;
	d = decoder__new(&o);
	decoder__free(f->dec);
	f->dec = d;
	rec_create(f, f->it_cancel, base, f->it_background, 1, 10, 1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < N; i++) {
		uint64_t c = HEAP + 0x10000 + (uint64_t)(i % 4096) * 16;
		struct ct_go_create g = { 0 };
		struct ct_go_exit x = { 0 };
		struct ct_ctx_done dn = { 0 };

		g.h = hdr(CT_REC_GO_CREATE, 1, 0);
		g.new_goid = 100 + i;
		g.gopc = ret(F_MAIN, i % 200);
		g.startpc = FN(F_WORKER) + BIAS;
		decoder__record(d, &g, sizeof(g));
		rec_create(f, f->it_timer, c, it_cancel_ctx, base, i % 250, 100 + i);
		dn.h = hdr(CT_REC_CTX_DONE, 100 + i, 0);
		dn.ctx = c;
		dn.pc = ret(F_WORKER, 3);
		decoder__record(d, &dn, sizeof(dn));
		rec_cancel(f, c, true, f->it_err_string, canceled, 0, callers, 2, 100 + i);
		x.h = hdr(CT_REC_GO_EXIT, 100 + i, 0);
		decoder__record(d, &x, sizeof(x));
		recs += 5;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("# decoder throughput: %.0f records/s, %.0f events/s (%llu records in %.3f s)\n",
	       recs / secs, count / secs, (unsigned long long)recs, secs);
	assert_int_equal(count, recs + 1);
	/* A floor far below what it does, to catch an accidental slow path. */
	assert_true(recs / secs > 200000);
	fx_free(f);
}


/* ---- live targets: real Go processes (tests/go/ev_basic, built by make go-tests) ---- */

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "binary/offsets.h"
#include "events/goroutines.h"

static const char *go_dir(void)
{
	static char buf[256];
	const char *out = getenv("OUT");

	snprintf(buf, sizeof(buf), "%s/go", out && *out ? out : "build");
	return buf;
}

/* Starts BIN /nonexistent/go (ev_basic then waits, idle, for a minute), with
 * stderr to errpath and extra environment env (NULL for none). */
static pid_t start_target(const char *bin, const char *errpath, const char *env)
{
	char want[4096], exe[4096], path[64];
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (!pid) {
		int fd = open(errpath ? errpath : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0600);

		dup2(fd, 2);
		if (env)
			putenv((char *)env);
		execl(bin, bin, "/nonexistent-ctxtrace/go", (char *)NULL);
		_exit(127);
	}
	assert_non_null(realpath(bin, want));
	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	for (int i = 0; i < 500; i++) {
		ssize_t n = readlink(path, exe, sizeof(exe) - 1);

		if (n > 0) {
			exe[n] = '\0';
			if (!strcmp(exe, want))
				break;
		}
		usleep(10000);
	}
	/* Let the runtime start and the program reach its wait loop. */
	usleep(300000);
	return pid;
}

static void stop_target(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

struct live {
	pid_t pid;
	struct goelf *ge;
	struct procmem *mem;
	uint64_t bias;
	int minor;
};

static bool live_open(struct live *l, const char *version, const char *mode, const char *errpath,
		      const char *env)
{
	char bin[512];
	uint64_t off;

	snprintf(bin, sizeof(bin), "%s/%s/%s/ev_basic", go_dir(), version, mode);
	if (access(bin, X_OK)) {
		printf("# skipped: %s not built\n", bin);
		return false;
	}
	l->pid = start_target(bin, errpath, env);
	l->ge = goelf__open(bin);
	assert_non_null(l->ge);
	l->minor = goelf__buildinfo(l->ge)->minor;
	l->mem = procmem__open(l->pid);
	assert_non_null(l->mem);
	assert_int_equal(goelf__vaddr_to_offset(l->ge, goelf__text_section(l->ge), &off), 0);
	assert_int_equal(procmem__exe_bias(l->mem, goelf__text_section(l->ge), off, &l->bias), 0);
	return true;
}

static void live_close(struct live *l)
{
	stop_target(l->pid);
	procmem__free(l->mem);
	goelf__free(l->ge);
}

/* Symbol names spell packages by path ("*encoding/json.MarshalerError"), the
 * runtime's type strings by name ("*json.MarshalerError"): drop every path up to
 * its last '/'. */
static void runtime_name(char *s)
{
	char *w = s, *start = s;

	for (char *r = s;; r++) {
		bool word = *r && (isalnum((unsigned char)*r) || strchr("_./-", *r));

		if (word)
			continue;
		/* [start, r) is a word: keep what follows its last '/'. */
		{
			char *from = start, *slash = NULL;

			for (char *q = start; q < r; q++)
				if (*q == '/')
					slash = q;
			if (slash)
				from = slash + 1;
			memmove(w, from, r - from);
			w += r - from;
		}
		if (!*r)
			break;
		*w++ = *r;
		start = r + 1;
	}
	*w = '\0';
}

/* The moduledata scan (the path for stripped binaries) against `go tool nm`'s
 * runtime.types/etypes, and every itab's type and interface names against the
 * itab symbol's name (go:itab.TYPE,IFACE; go.itab. before 1.21). */
static void test_live_types(void **state)
{
	static const char *const versions[] = { "1.19", "1.21", "1.26" };
	static const char *const modes[] = { "plain", "pie", "cgo" };

	for (size_t vi = 0; vi < 3; vi++) {
		for (size_t mi = 0; mi < 3; mi++) {
			struct live l;
			struct go_moduledata md = { 0 };
			struct intern *in;
			struct gotypes *gt;
			struct gotypes_opts go = { 0 };
			char cmd[1024], line[4096], bin[512];
			uint64_t types = 0, etypes = 0;
			int itabs = 0;
			FILE *p;

			if (!live_open(&l, versions[vi], modes[mi], NULL, NULL))
				continue;
			assert_int_equal(gotypes__find_moduledata(l.mem, goelf__pclntab_addr(l.ge) + l.bias,
								  goelf__text_start(l.ge) + l.bias, l.minor, &md),
					 0);
			in = intern__new(0);
			go.mem = l.mem;
			go.in = in;
			go.types = md.types;
			go.etypes = md.etypes;
			go.go_minor = l.minor;
			gt = gotypes__new(&go);
			snprintf(bin, sizeof(bin), "%s/%s/%s/ev_basic", go_dir(), versions[vi], modes[mi]);
			snprintf(cmd, sizeof(cmd), "GOTOOLCHAIN=local /usr/lib/go-%s/bin/go tool nm %s",
				 versions[vi], bin);
			p = popen(cmd, "r");
			assert_non_null(p);
			while (fgets(line, sizeof(line), p)) {
				unsigned long long a;
				char kind, name[4000], *comma, *t;

				if (sscanf(line, "%llx %c %3999[^\n]", &a, &kind, name) != 3)
					continue;
				if (!strcmp(name, "runtime.types"))
					types = a;
				else if (!strcmp(name, "runtime.etypes"))
					etypes = a;
				if (strncmp(name, "go:itab.", 8) && strncmp(name, "go.itab.", 8))
					continue;
				t = name + 8;
				/* TYPE,IFACE: the type may hold commas ("struct { a, b int }"),
				 * the interface is the part after the last one. */
				comma = strrchr(t, ',');
				if (!comma)
					continue;
				*comma = '\0';
				runtime_name(t);
				runtime_name(comma + 1);
				assert_string_equal(gotypes__itab_name(gt, a + l.bias), t);
				assert_string_equal(gotypes__itab_iface_name(gt, a + l.bias), comma + 1);
				itabs++;
			}
			pclose(p);
			printf("# go%s %s: types 0x%llx-0x%llx (bias 0x%llx), %d itabs named\n", versions[vi],
			       modes[mi], (unsigned long long)md.types, (unsigned long long)md.etypes,
			       (unsigned long long)l.bias, itabs);
			assert_int_equal(md.types, types + l.bias);
			assert_int_equal(md.etypes, etypes + l.bias);
			assert_true(itabs > 10);
			gotypes__free(gt);
			intern__free(in);
			live_close(&l);
		}
	}
}

/* Goroutine states and frame-pointer stacks against the runtime's own dump
 * (SIGQUIT with GOTRACEBACK=system): for every goroutine that is parked in both
 * (the wait reason is stable across the two reads), the status text and the
 * (function, line) list must be equal. */
static void test_live_goroutines(void **state)
{
	static const char *const versions[] = { "1.19", "1.21", "1.23", "1.25", "1.26" };

	for (size_t vi = 0; vi < sizeof(versions) / sizeof(versions[0]); vi++) {
		struct live l;
		struct go_offsets off;
		struct goroutines *gs;
		struct goroutines_opts gso = { 0 };
		char errpath[] = "/tmp/ct-test-dump-XXXXXX";
		struct {
			uint64_t goid;
			char reason[64];
			char frames[4096];
		} ours[64], theirs[64];
		int nours = 0, ntheirs = 0, compared = 0;
		uint64_t allgs, size;
		char line[4096];
		FILE *f;
		int fd = mkstemp(errpath);

		close(fd);
		if (!live_open(&l, versions[vi], "plain", errpath, "GOTRACEBACK=system"))
			continue;
		assert_int_equal(offsets__resolve(l.ge, &off), 0);
		assert_int_equal(goelf__find_data(l.ge, "runtime.allgs", &allgs, &size), 0);
		gso.mem = l.mem;
		gso.off = &off;
		gso.allgs_addr = allgs + l.bias;
		gso.go_minor = l.minor;
		gs = goroutines__new(&gso);
		assert_non_null(gs);
		/* Ours first (the dump kills the process). */
		{
			struct ctx {
				struct live *l;
				struct goroutines *gs;
				void *ours;
				int *n;
			};
			uint64_t pcs[64];
			struct go_g g;
			uint64_t hdr[2], ptrs[512];

			assert_int_equal(procmem__read(l.mem, allgs + l.bias, hdr, 16), 0);
			assert_true(hdr[1] > 0 && hdr[1] < 512);
			assert_int_equal(procmem__read(l.mem, hdr[0], ptrs, hdr[1] * 8), 0);
			for (uint64_t i = 0; i < hdr[1] && nours < 64; i++) {
				int n;
				char *o;

				if (goroutines__read_g(gs, ptrs[i], &g) || g.status != GO_STATUS_WAITING)
					continue;
				n = goroutines__stack(gs, &g, pcs, 64);
				if (n <= 0)
					continue;
				ours[nours].goid = g.goid;
				snprintf(ours[nours].reason, sizeof(ours[nours].reason), "%s",
					 go_waitreason_name(l.minor, g.waitreason) ?: "?");
				o = ours[nours].frames;
				o[0] = '\0';
				for (int k = 0; k < n; k++) {
					struct go_frame fr[16];
					int nf = goelf__symbolize(l.ge, pcs[k] - l.bias - 1, fr, 16);

					for (int j = 0; j < nf; j++)
						snprintf(o + strlen(o), sizeof(ours[0].frames) - strlen(o), "%s:%d ",
							 fr[j].func, fr[j].line);
				}
				nours++;
			}
			/* The state read through goroutines__state agrees with the walk. */
			assert_true(nours > 0);
			assert_int_equal(goroutines__state(gs, ours[0].goid, &g), 0);
			assert_int_equal(g.goid, ours[0].goid);
		}
		kill(l.pid, SIGQUIT);
		waitpid(l.pid, NULL, 0);
		f = fopen(errpath, "r");
		assert_non_null(f);
		/* goroutine N [reason]:  /  func(args)  /  \tfile:line +0x..  */
		while (fgets(line, sizeof(line), f)) {
			unsigned long long id;
			char reason[64];

			/* Go 1.23+ with GOTRACEBACK=system: "goroutine 1 gp=0x.. m=nil [sleep]:". */
			if (sscanf(line, "goroutine %llu ", &id) == 1 && strchr(line, '[') &&
			    sscanf(strchr(line, '['), "[%63[^]]]", reason) == 1) {
				if (ntheirs < 64) {
					theirs[ntheirs].goid = id;
					/* "chan receive, 2 minutes": the reason, then the time. */
					reason[strcspn(reason, ",")] = '\0';
					snprintf(theirs[ntheirs].reason, sizeof(theirs[0].reason), "%s", reason);
					theirs[ntheirs].frames[0] = '\0';
					ntheirs++;
				}
				continue;
			}
			if (!ntheirs || !strncmp(line, "created by", 10))
				continue;
			if (line[0] != '\t' && strchr(line, '(')) {
				char *o = theirs[ntheirs - 1].frames, fn[1024], next[4096];
				char *colon;

				snprintf(fn, sizeof(fn), "%.*s", (int)(strrchr(line, '(') - line), line);
				if (!fgets(next, sizeof(next), f))
					break;
				colon = strrchr(next, ':');
				if (colon && strstr(fn, "created by") == NULL)
					snprintf(o + strlen(o), sizeof(theirs[0].frames) - strlen(o), "%s:%d ", fn,
						 atoi(colon + 1));
			}
		}
		fclose(f);
		unlink(errpath);
		for (int i = 0; i < nours; i++) {
			for (int j = 0; j < ntheirs; j++) {
				if (ours[i].goid != theirs[j].goid || strcmp(ours[i].reason, theirs[j].reason))
					continue;
				/* The dump elides the frames of the runtime's exit trampoline. */
				if (strcmp(ours[i].frames, theirs[j].frames))
					printf("# goroutine %llu [%s]\n#  ours:   %s\n#  theirs: %s\n",
					       (unsigned long long)ours[i].goid, ours[i].reason, ours[i].frames,
					       theirs[j].frames);
				assert_string_equal(ours[i].frames, theirs[j].frames);
				compared++;
			}
		}
		printf("# go%s: %d parked goroutines compared with the runtime's dump\n", versions[vi], compared);
		/* At least the forcegc helper, the sweeper and the program's waiter. */
		assert_true(compared >= 3);
		goroutines__free(gs);
		procmem__free(l.mem);
		goelf__free(l.ge);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_from_background),
		cmocka_unit_test(test_emptyctx_go119),
		cmocka_unit_test(test_type_names),
		cmocka_unit_test(test_preexisting_chain),
		cmocka_unit_test(test_value_matching),
		cmocka_unit_test(test_value_bound),
		cmocka_unit_test(test_cancel_reasons),
		cmocka_unit_test(test_cancel_go119),
		cmocka_unit_test(test_afterfunc_and_unknown),
		cmocka_unit_test(test_custom_withoutcancel_stopctx),
		cmocka_unit_test(test_not_a_context),
		cmocka_unit_test(test_goroutines_and_done),
		cmocka_unit_test(test_stack_cache_and_unknown_pcs),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_go_time),
		cmocka_unit_test(test_known_bound),
		cmocka_unit_test(test_throughput),
		cmocka_unit_test(test_live_types),
		cmocka_unit_test(test_live_goroutines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
