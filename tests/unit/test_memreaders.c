/* The shared memory readers (goroutines__wait_chans, ctxmem, framescan) over a
 * fake target laid out as the runtime lays it out, with the offsets of the
 * checked-in table for Go 1.22 and 1.26 (cancelCtx.err an error, then an
 * atomic.Value): contexts live, cancelled, by deadline, with children; parent
 * chains; sudog lists; stacks holding contexts. And the faults: objects that
 * are not what their itab says, sudogs of another goroutine, lists that loop, a
 * goroutine that changes while read, a target that is gone. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sys/mman.h>
#include <unistd.h>

#include "binary/offsets.h"
#include "events/ctxmem.h"
#include "events/framescan.h"
#include "events/goroutines.h"
#include "events/gotypes.h"
#include "events/procmem.h"
#include "util/intern.h"

#include "fake_target.h"

/* After this many reads, write change_val at change_addr (a goroutine moving). */
static long change_after = -1;
static uint64_t change_addr, change_val;
static long nreads;
static bool change_always; /* change_addr gets a new value at every read */
static uint64_t allgs_at; /* reads of the allgs slice header are counted: walks */
static long allgs_reads;

/* Before each read: the goroutine moving (change_after / change_always), and the
 * walks counted (reads of the allgs slice header). */
static void on_read(uint64_t addr)
{
	if (allgs_at && addr == allgs_at)
		allgs_reads++;
	if (change_after >= 0 && nreads++ == change_after)
		poke64(change_addr, change_val);
	if (change_always)
		poke64(change_addr, change_val + 8 * (uint64_t)(nreads++ % 4));
}

struct fx {
	int minor;
	struct go_offsets off;
	struct procmem *mem;
	struct intern *in;
	struct gotypes *gt;
	struct ctxmem *cm;
	struct goroutines *gs;
	uint64_t it_bg, it_cancel, it_timer, it_value, it_stop, it_errstr_err, t_errstr,
		t_deadline_err, it_deadline_err, t_chan, it_reader;
	uint64_t moduledata;
	int64_t o[GO_OFF_COUNT];
};

static struct fx F;

static int setup(int minor)
{
	uint64_t t_ctx, t_error, t_reader, links;

	memset(&F, 0, sizeof(F));
	memset(types_mem, 0, sizeof(types_mem));
	memset(itab_mem, 0, sizeof(itab_mem));
	memset(heap_mem, 0, sizeof(heap_mem));
	memset(stack_mem, 0, sizeof(stack_mem));
	types_used = 8;
	itab_used = heap_used = 0;
	mem_gone = false;
	change_after = -1;
	change_always = false;
	nreads = 0;
	allgs_at = 0;
	allgs_reads = 0;
	F.minor = minor;
	assert_int_equal(offsets__from_table(minor, &F.off), 0);
	for (int f = 0; f < GO_OFF_COUNT; f++)
		F.o[f] = F.off.v[f];
	t_ctx = mk_type("context.Context");
	t_error = mk_type("error");
	t_reader = mk_type("io.Reader");
	F.it_bg = mk_itab(t_ctx, mk_type("context.backgroundCtx"));
	F.it_cancel = mk_itab(t_ctx, mk_type("*context.cancelCtx"));
	F.it_timer = mk_itab(t_ctx, mk_type("*context.timerCtx"));
	F.it_value = mk_itab(t_ctx, mk_type("*context.valueCtx"));
	F.it_stop = mk_itab(t_ctx, mk_type("context.stopCtx"));
	F.t_errstr = mk_type("*errors.errorString");
	F.it_errstr_err = mk_itab(t_error, F.t_errstr);
	F.t_deadline_err = mk_type("context.deadlineExceededError");
	F.it_deadline_err = mk_itab(t_error, F.t_deadline_err);
	F.t_chan = mk_type("chan struct {}");
	F.it_reader = mk_itab(t_reader, F.t_errstr);
	/* moduledata.itablinks: every itab above. */
	F.moduledata = alloc(512);
	links = alloc(16 * 8);
	for (uint64_t i = 0; i < itab_used / 32; i++)
		poke64(links + i * 8, ITABS + i * 32);
	poke64(F.moduledata + (uint64_t)F.o[GO_OFF_MODULEDATA_ITABLINKS], links);
	poke64(F.moduledata + (uint64_t)F.o[GO_OFF_MODULEDATA_ITABLINKS] + 8, itab_used / 32);

	mem_on_read = on_read;
	F.mem = procmem__open_cb(fake_read, NULL);
	F.in = intern__new(0);
	F.gt = gotypes__new(&(struct gotypes_opts){ .mem = F.mem, .in = F.in, .types = TYPES,
						    .etypes = TYPES + REGION, .go_minor = minor });
	F.cm = ctxmem__new(&(struct ctxmem_opts){ .mem = F.mem, .types = F.gt, .off = &F.off,
						  .go_minor = minor, .moduledata = F.moduledata });
	F.gs = goroutines__new(&(struct goroutines_opts){ .mem = F.mem, .off = &F.off, .go_minor = minor });
	assert_non_null(F.cm);
	assert_non_null(F.gs);
	return 0;
}

static int setup22(void **state) { (void)state; return setup(22); }
static int setup26(void **state) { (void)state; return setup(26); }

static int teardown(void **state)
{
	(void)state;
	framescan__free(NULL);
	goroutines__free(F.gs);
	ctxmem__free(F.cm);
	gotypes__free(F.gt);
	intern__free(F.in);
	procmem__free(F.mem);
	return 0;
}

static uint64_t mk_string(const char *s)
{
	uint64_t a = alloc(strlen(s) + 1), hdr = alloc(16);

	poke(a, s, strlen(s));
	poke64(hdr, a);
	poke64(hdr + 8, strlen(s));
	return hdr;
}

static uint64_t mk_chan(bool closed)
{
	uint64_t c = alloc(128);
	uint32_t v = closed;

	poke(c + (uint64_t)F.o[GO_OFF_HCHAN_CLOSED], &v, 4);
	return c;
}

/* A cancelCtx (timer: a timerCtx) whose parent is (ptab, pdata). */
static uint64_t mk_cancel(bool timer, uint64_t ptab, uint64_t pdata)
{
	uint64_t c = alloc(128);

	poke64(c + (uint64_t)F.o[GO_OFF_CANCELCTX_CONTEXT], ptab);
	poke64(c + (uint64_t)F.o[GO_OFF_CANCELCTX_CONTEXT] + 8, pdata);
	(void)timer;
	return c;
}

static void set_done(uint64_t c, uint64_t ch)
{
	poke64(c + (uint64_t)F.o[GO_OFF_CANCELCTX_DONE], F.t_chan);
	poke64(c + (uint64_t)F.o[GO_OFF_CANCELCTX_DONE] + 8, ch);
}

/* Stores err as Go does: an error interface (itab) before 1.25, an atomic.Value
 * (type word) from 1.25. */
static void set_err(uint64_t c, bool deadline)
{
	uint64_t word0 = deadline ? (F.minor >= 25 ? F.t_deadline_err : F.it_deadline_err)
				  : (F.minor >= 25 ? F.t_errstr : F.it_errstr_err);

	poke64(c + (uint64_t)F.o[GO_OFF_CANCELCTX_ERR], word0);
	poke64(c + (uint64_t)F.o[GO_OFF_CANCELCTX_ERR] + 8, deadline ? 0 : mk_string("context canceled"));
}

static void set_children(uint64_t c, uint64_t n)
{
	uint64_t m = alloc(48);

	poke64(m, n);
	poke64(c + (uint64_t)F.o[GO_OFF_CANCELCTX_CHILDREN], m);
}

static void test_is_context_iface(void **state)
{
	long first = mem_reads;

	(void)state;
	assert_true(ctxmem__is_context_iface(F.cm, F.it_cancel));
	assert_true(mem_reads > first); /* the first ask reads the itab */
	assert_true(ctxmem__is_context_iface(F.cm, F.it_bg));
	assert_false(ctxmem__is_context_iface(F.cm, F.it_errstr_err));
	assert_false(ctxmem__is_context_iface(F.cm, F.it_reader));
	assert_false(ctxmem__is_context_iface(F.cm, 0));
	assert_false(ctxmem__is_context_iface(F.cm, F.it_cancel + 3));
	assert_false(ctxmem__is_context_iface(F.cm, 0xdead0000));
	/* Cached by address for the process's life (an itab's interface never
	 * changes): asking again, context or not, reads nothing. */
	long before = mem_reads;

	for (int i = 0; i < 1000; i++) {
		assert_true(ctxmem__is_context_iface(F.cm, F.it_cancel));
		assert_false(ctxmem__is_context_iface(F.cm, F.it_reader));
	}
	assert_int_equal(mem_reads, before);

	uint64_t itabs[16];
	int n = ctxmem__ctx_itabs(F.cm, itabs, 16);

	assert_int_equal(n, 5); /* background, cancel, timer, value, stopCtx */
	for (int i = 1; i < n; i++)
		assert_true(itabs[i - 1] < itabs[i]);
}

static void test_ctx_states(void **state)
{
	struct ctxmem_state s, ch[8];
	uint64_t root = alloc(16), live, cancelled, timer, value, lazy;
	uint8_t dl[24] = { 0 };

	(void)state;
	live = mk_cancel(false, F.it_bg, root);
	set_done(live, mk_chan(false));
	set_children(live, 3000);
	assert_int_equal(ctxmem__read(F.cm, F.it_cancel, live, &s), 0);
	assert_int_equal(s.kind, CTX_CANCEL);
	assert_false(s.cancelled);
	assert_null(s.err);
	assert_int_equal(s.children, 3000);
	assert_true(s.done_chan != 0);
	assert_false(s.done_closed);
	assert_int_equal(s.parent_itab, F.it_bg);

	cancelled = mk_cancel(false, F.it_cancel, live);
	set_done(cancelled, mk_chan(true));
	set_err(cancelled, false);
	assert_int_equal(ctxmem__read(F.cm, F.it_cancel, cancelled, &s), 0);
	assert_true(s.cancelled);
	assert_string_equal(s.err, "context canceled");
	assert_false(s.deadline_err);
	assert_int_equal(s.children, 0);

	/* A timer that fired, wrapped parent (stopCtx) on the way up; Done never called. */
	uint64_t stop = alloc(32);

	poke64(stop, F.it_cancel);
	poke64(stop + 8, cancelled);
	timer = mk_cancel(true, F.it_stop, stop);
	set_err(timer, true);
	/* wall: no monotonic bit; ext: seconds since year 1 of 2026-01-01. */
	int64_t ext = 63902822400LL;

	memcpy(dl + 8, &ext, 8);
	poke(timer + (uint64_t)F.o[GO_OFF_TIMERCTX_DEADLINE], dl, 24);
	assert_int_equal(ctxmem__read(F.cm, F.it_timer, timer, &s), 0);
	assert_int_equal(s.kind, CTX_TIMER);
	assert_true(s.cancelled);
	assert_true(s.deadline_err);
	assert_string_equal(s.err, "context deadline exceeded");
	assert_int_equal(s.done_chan, 0);
	assert_true(s.has_deadline);
	assert_int_equal(s.deadline_unix_ns, 1767225600LL * 1000000000LL);
	assert_int_equal(s.parent_itab, F.it_cancel); /* unwrapped */
	assert_int_equal(s.parent_data, cancelled);

	value = alloc(64);
	poke64(value + (uint64_t)F.o[GO_OFF_VALUECTX_CONTEXT], F.it_timer);
	poke64(value + (uint64_t)F.o[GO_OFF_VALUECTX_CONTEXT] + 8, timer);
	assert_int_equal(ctxmem__chain(F.cm, F.it_value, value, ch, 8), 5);
	assert_int_equal(ch[0].kind, CTX_VALUE);
	assert_int_equal(ch[1].kind, CTX_TIMER);
	assert_int_equal(ch[2].kind, CTX_CANCEL);
	assert_int_equal(ch[3].kind, CTX_CANCEL);
	assert_int_equal(ch[4].kind, CTX_BACKGROUND);
	assert_int_equal(ctxmem__chain(F.cm, F.it_value, value, ch, 2), 2);
	assert_int_equal(ctxmem__cancel_scope(F.cm, F.it_value, value, &s), 0);
	assert_int_equal(s.addr, timer);
	assert_int_equal(ctxmem__cancel_scope(F.cm, F.it_bg, root, &s), -ENOENT);

	/* Cancelled, but its done chan not closed yet (cancel in progress) on both
	 * reads: refused, counted. */
	lazy = mk_cancel(false, F.it_bg, root);
	set_done(lazy, mk_chan(false));
	set_err(lazy, false);
	assert_int_equal(ctxmem__read(F.cm, F.it_cancel, lazy, &s), -EAGAIN);
	struct ctxmem_stats st;

	ctxmem__stats(F.cm, &st);
	assert_int_equal(st.changed, 2);
	/* ... and once the close lands between the reads, accepted. */
	uint64_t ch2 = mk_chan(false);
	uint32_t one = 1;

	set_done(lazy, ch2);
	change_after = 3; /* after the first object read */
	nreads = 0;
	change_addr = ch2 + (uint64_t)F.o[GO_OFF_HCHAN_CLOSED];
	change_val = one;
	int rc = ctxmem__read(F.cm, F.it_cancel, lazy, &s);

	assert_true(rc == 0 || rc == -EAGAIN);
	change_after = -1;
}

static void test_ctx_garbage(void **state)
{
	struct ctxmem_state s;
	uint64_t junk = alloc(128), ch[4];

	(void)state;
	/* Not a context itab, no data. */
	assert_int_equal(ctxmem__read(F.cm, F.it_errstr_err, junk, &s), -EINVAL);
	assert_int_equal(ctxmem__read(F.cm, F.it_cancel, 0, &s), -EINVAL);
	/* The itab says cancelCtx, the memory is not one (no parent context). */
	poke64(junk, 0x1234);
	assert_int_equal(ctxmem__read(F.cm, F.it_cancel, junk, &s), -EINVAL);
	/* done holds something that is not a chan struct{}. */
	uint64_t c = mk_cancel(false, F.it_bg, alloc(16));

	poke64(c + (uint64_t)F.o[GO_OFF_CANCELCTX_DONE], F.t_errstr);
	assert_int_equal(ctxmem__read(F.cm, F.it_cancel, c, &s), -EINVAL);
	/* Unmapped. */
	assert_true(ctxmem__read(F.cm, F.it_cancel, 0x7000000, &s) < 0);
	/* A parent chain that loops ends at max. */
	uint64_t a = mk_cancel(false, F.it_cancel, 0), b = mk_cancel(false, F.it_cancel, a);

	poke64(a + (uint64_t)F.o[GO_OFF_CANCELCTX_CONTEXT] + 8, b);
	struct ctxmem_state chain[4];

	assert_int_equal(ctxmem__chain(F.cm, F.it_cancel, a, chain, 4), 4);
	/* The target is gone. */
	mem_gone = true;
	assert_true(ctxmem__read(F.cm, F.it_cancel, b, &s) < 0);
	assert_true(ctxmem__chain(F.cm, F.it_cancel, b, chain, 4) < 0);
	mem_gone = false;
	(void)ch;
}

/* A g at addr parked with status st on sudog list head. */
static uint64_t mk_g(uint64_t goid, uint32_t st, uint64_t waiting)
{
	uint64_t g = alloc(512);

	poke64(g + (uint64_t)F.o[GO_OFF_G_GOID], goid);
	poke(g + (uint64_t)F.o[GO_OFF_G_ATOMICSTATUS], &st, 4);
	poke64(g + (uint64_t)F.o[GO_OFF_G_WAITING], waiting);
	return g;
}

static uint64_t mk_sudog(uint64_t g, uint64_t c, uint64_t next)
{
	uint64_t s = alloc(128);

	poke64(s + (uint64_t)F.o[GO_OFF_SUDOG_G], g);
	poke64(s + (uint64_t)F.o[GO_OFF_SUDOG_C], c);
	poke64(s + (uint64_t)F.o[GO_OFF_SUDOG_WAITLINK], next);
	return s;
}

static void test_wait_chans(void **state)
{
	struct go_g g;
	uint64_t chans[8], c1 = mk_chan(false), c2 = mk_chan(true), ga, s1, s2;
	struct goroutines_stats st;

	(void)state;
	/* A select on two channels. */
	ga = mk_g(7, GO_STATUS_WAITING, 0);
	s2 = mk_sudog(ga, c2, 0);
	s1 = mk_sudog(ga, c1, s2);
	poke64(ga + (uint64_t)F.o[GO_OFF_G_WAITING], s1);
	assert_int_equal(goroutines__read_g(F.gs, ga, &g), 0);
	assert_int_equal(g.waiting, s1);
	assert_int_equal(goroutines__wait_chans(F.gs, &g, chans, 8), 2);
	assert_int_equal(chans[0], c1);
	assert_int_equal(chans[1], c2);
	assert_int_equal(goroutines__wait_chans(F.gs, &g, chans, 1), 1);

	struct go_chan ch;

	assert_int_equal(goroutines__chan(F.gs, c2, &ch), 0);
	assert_true(ch.closed);
	assert_int_equal(goroutines__chan(F.gs, c1, &ch), 0);
	assert_false(ch.closed);
	assert_int_equal(goroutines__chan(F.gs, 0, &ch), -EINVAL);

	/* Not parked: no channel. */
	g.status = GO_STATUS_RUNNABLE;
	assert_int_equal(goroutines__wait_chans(F.gs, &g, chans, 8), 0);
	g.status = GO_STATUS_WAITING;

	/* A sudog of another goroutine (reused after g woke). */
	poke64(s2 + (uint64_t)F.o[GO_OFF_SUDOG_G], ga + 4096);
	assert_int_equal(goroutines__wait_chans(F.gs, &g, chans, 8), -EINVAL);
	poke64(s2 + (uint64_t)F.o[GO_OFF_SUDOG_G], ga);
	/* A list that loops. */
	poke64(s2 + (uint64_t)F.o[GO_OFF_SUDOG_WAITLINK], s1);
	assert_int_equal(goroutines__wait_chans(F.gs, &g, chans, 8), -EINVAL);
	poke64(s2 + (uint64_t)F.o[GO_OFF_SUDOG_WAITLINK], 0);
	/* The goroutine exits and its g is reused (new goid) during the walk. */
	change_after = 2;
	nreads = 0;
	change_addr = ga + (uint64_t)F.o[GO_OFF_G_GOID];
	change_val = 99;
	assert_int_equal(goroutines__wait_chans(F.gs, &g, chans, 8), -EAGAIN);
	change_after = -1;
	goroutines__stats(F.gs, &st);
	assert_true(st.changed >= 1);
	assert_int_equal(st.sudog_bad, 2);
	/* Gone. */
	poke64(ga + (uint64_t)F.o[GO_OFF_G_GOID], 7);
	mem_gone = true;
	assert_true(goroutines__wait_chans(F.gs, &g, chans, 8) < 0);
	mem_gone = false;
}

static void test_framescan(void **state)
{
	struct framescan *fs;
	struct framescan_ctx out[8];
	struct framescan_result res;
	struct go_g g;
	uint64_t root = alloc(16), c = mk_cancel(false, F.it_bg, root), ga;
	uint64_t sp = STACK + 0x1000, bp0 = sp + 0x40, bp1 = bp0 + 0x60, hi = STACK + 0x2000;
	struct framescan_stats st;

	(void)state;
	ga = mk_g(11, GO_STATUS_WAITING, 0);
	poke64(ga + (uint64_t)F.o[GO_OFF_G_SCHED_SP], sp);
	poke64(ga + (uint64_t)F.o[GO_OFF_G_SCHED_BP], bp0);
	poke64(ga + (uint64_t)F.o[GO_OFF_G_SCHED_PC], 0x401234);
	poke64(ga + (uint64_t)F.o[GO_OFF_G_STACK_LO], STACK);
	poke64(ga + (uint64_t)F.o[GO_OFF_G_STACK_HI], hi);
	/* frame 0: a non-context interface and an io.Reader itab; frame 1: the
	 * cancelCtx; frame 2 (outermost): the same again and Background. */
	poke64(sp + 8, F.it_reader);
	poke64(sp + 16, c);
	poke64(bp0, bp1);
	poke64(bp0 + 8, 0x402222);
	poke64(bp0 + 24, F.it_cancel);
	poke64(bp0 + 32, c);
	poke64(bp1, 0);
	poke64(bp1 + 8, 0x403333);
	poke64(bp1 + 16, F.it_cancel);
	poke64(bp1 + 24, c);
	poke64(bp1 + 40, F.it_bg);
	poke64(bp1 + 48, root);
	/* An itab word with a zero data word is no value. */
	poke64(bp1 + 64, F.it_cancel);

	fs = framescan__new(&(struct framescan_opts){ .mem = F.mem, .gs = F.gs, .cm = F.cm });
	assert_non_null(fs);
	assert_int_equal(goroutines__read_g(F.gs, ga, &g), 0);
	assert_int_equal(framescan__scan(fs, &g, out, 8, &res), 0);
	assert_int_equal(res.npcs, 3);
	assert_int_equal(res.pcs[0], 0x401234);
	assert_int_equal(res.pcs[1], 0x402222);
	assert_int_equal(res.pcs[2], 0x403333);
	assert_int_equal(res.nctx, 2);
	assert_int_equal(out[0].itab, F.it_cancel);
	assert_int_equal(out[0].data, c);
	assert_int_equal(out[0].frame, 1);
	assert_int_equal(out[0].frame_outer, 2);
	assert_int_equal(out[1].itab, F.it_bg);
	assert_int_equal(out[1].frame, 2);
	/* Room for one: the other is counted. */
	assert_int_equal(framescan__scan(fs, &g, out, 1, &res), 0);
	assert_int_equal(res.nctx, 1);
	assert_int_equal(res.nctx_dropped, 1);

	/* Running: its saved registers are stale. */
	g.status = GO_STATUS_RUNNING;
	assert_int_equal(framescan__scan(fs, &g, out, 8, &res), -EBUSY);
	g.status = GO_STATUS_WAITING;
	/* Moves once while read: read again, found. */
	change_after = 0;
	nreads = 0;
	change_addr = ga + (uint64_t)F.o[GO_OFF_G_SCHED_PC];
	change_val = 0x401240;
	assert_int_equal(framescan__scan(fs, &g, out, 8, &res), 0);
	assert_int_equal(res.pcs[0], 0x401240);
	change_after = -1;
	framescan__stats(fs, &st);
	assert_int_equal(st.retried, 1);
	assert_int_equal(st.changed, 0);
	/* Moves on every read: left out after one retry, counted. */
	change_always = true;
	change_val = 0x401300;
	assert_int_equal(framescan__scan(fs, &g, out, 8, &res), -EAGAIN);
	assert_int_equal(res.nctx, 0);
	change_always = false;
	poke64(ga + (uint64_t)F.o[GO_OFF_G_SCHED_PC], 0x401234);
	assert_int_equal(goroutines__read_g(F.gs, ga, &g), 0);
	/* A corrupt g: sched.sp outside its stack: refused, no stack read. */
	poke64(ga + (uint64_t)F.o[GO_OFF_G_SCHED_SP], hi + 0x100);
	assert_int_equal(goroutines__read_g(F.gs, ga, &g), 0);
	assert_int_equal(framescan__scan(fs, &g, out, 8, &res), -EINVAL);
	poke64(ga + (uint64_t)F.o[GO_OFF_G_SCHED_SP], sp);
	assert_int_equal(goroutines__read_g(F.gs, ga, &g), 0);
	/* A frame-pointer chain pointing outside the stack ends the walk. */
	poke64(bp0, 0x1000);
	assert_int_equal(framescan__scan(fs, &g, out, 8, &res), 0);
	assert_int_equal(res.npcs, 2);
	/* Gone. */
	mem_gone = true;
	assert_true(framescan__scan(fs, &g, out, 8, &res) < 0);
	mem_gone = false;
	framescan__stats(fs, &st);
	assert_true(st.changed >= 1);
	framescan__free(fs);
}

static int count_cb(void *cookie, const struct go_g *g)
{
	(void)g;
	++*(int *)cookie;
	return 0;
}

/* goroutines__state: one allgs walk per pass however many lookups miss, and the
 * answers checked against g reuse (a g holding another goid: goid is gone). */
static void test_state_index(void **state)
{
	enum { N = 120 };
	uint64_t gaddr[N], ptrs, hdr, late;
	struct goroutines *gs;
	struct goroutines_stats st;
	struct go_g g;

	(void)state;
	for (int i = 0; i < N; i++)
		gaddr[i] = mk_g(100 + (uint64_t)i, GO_STATUS_WAITING, 0);
	ptrs = alloc((N + 1) * 8);
	for (int i = 0; i < N; i++)
		poke64(ptrs + (uint64_t)i * 8, gaddr[i]);
	hdr = alloc(24);
	poke64(hdr, ptrs);
	poke64(hdr + 8, N);
	allgs_at = hdr;
	gs = goroutines__new(&(struct goroutines_opts){ .mem = F.mem, .off = &F.off,
						    .go_minor = F.minor, .allgs_addr = hdr });
	assert_non_null(gs);

	/* A tick: every live goroutine and 4096 that exited (their exit records lost). */
	goroutines__new_pass(gs);
	for (int i = 0; i < N; i++) {
		assert_int_equal(goroutines__state(gs, 100 + (uint64_t)i, &g), 0);
		assert_int_equal(g.goid, 100 + (uint64_t)i);
		assert_int_equal(g.addr, gaddr[i]);
	}
	for (uint64_t goid = 1000; goid < 1000 + 4096; goid++)
		assert_int_equal(goroutines__state(gs, goid, &g), -ENOENT);
	assert_int_equal(allgs_reads, 1);

	/* A remembered g that now runs another goroutine: the index answers. */
	goroutines__remember(gs, 110, gaddr[20]);
	assert_int_equal(goroutines__state(gs, 110, &g), 0);
	assert_int_equal(g.addr, gaddr[10]);
	assert_int_equal(allgs_reads, 1);

	/* Next tick: goroutine 105 exited and its g runs new goroutine 500;
	 * goroutine 106 is dead; 107's g is idle; one more was started. */
	poke64(gaddr[5] + (uint64_t)F.o[GO_OFF_G_GOID], 500);
	uint32_t dead = GO_STATUS_DEAD, idle = GO_STATUS_IDLE;
	poke(gaddr[6] + (uint64_t)F.o[GO_OFF_G_ATOMICSTATUS], &dead, 4);
	poke(gaddr[7] + (uint64_t)F.o[GO_OFF_G_ATOMICSTATUS], &idle, 4);
	late = mk_g(501, GO_STATUS_RUNNABLE, 0);
	poke64(ptrs + N * 8, late);
	poke64(hdr + 8, N + 1);
	/* Not in this pass's index: found only in the next pass. */
	assert_int_equal(goroutines__state(gs, 501, &g), -ENOENT);
	goroutines__new_pass(gs);
	assert_int_equal(goroutines__state(gs, 105, &g), -ENOENT);
	assert_int_equal(goroutines__state(gs, 106, &g), -ENOENT);
	assert_int_equal(goroutines__state(gs, 107, &g), -ENOENT);
	assert_int_equal(goroutines__state(gs, 500, &g), 0);
	assert_int_equal(g.addr, gaddr[5]);
	assert_int_equal(goroutines__state(gs, 501, &g), 0);
	assert_int_equal(g.addr, late);
	assert_int_equal(g.status, GO_STATUS_RUNNABLE);
	for (uint64_t goid = 1000; goid < 1100; goid++)
		assert_int_equal(goroutines__state(gs, goid, &g), -ENOENT);
	assert_int_equal(allgs_reads, 2);
	/* A goroutine exits mid-pass: its g read again says so, no walk. */
	poke64(gaddr[30] + (uint64_t)F.o[GO_OFF_G_GOID], 502);
	assert_int_equal(goroutines__state(gs, 130, &g), -ENOENT);
	assert_int_equal(allgs_reads, 2);
	goroutines__stats(gs, &st);
	assert_int_equal(st.scans, 2);

	/* A full walk by someone else (a memory pass) is the pass's index too. */
	goroutines__new_pass(gs);
	assert_int_equal(goroutines__foreach(gs, count_cb, &(int){ 0 }), 0);
	assert_int_equal(goroutines__state(gs, 4242, &g), -ENOENT);
	assert_int_equal(allgs_reads, 3);

	/* A walk that fails (allgs moved away): not retried for every lookup. */
	goroutines__new_pass(gs);
	poke64(hdr, HEAP + REGION);
	assert_true(goroutines__state(gs, 4243, &g) < 0);
	assert_int_equal(goroutines__state(gs, 4244, &g), -EAGAIN);
	assert_int_equal(goroutines__state(gs, 4245, &g), -EAGAIN);
	assert_int_equal(allgs_reads, 4);
	/* What the failed walk cannot tell, a g read still can. */
	assert_int_equal(goroutines__state(gs, 120, &g), 0);
	assert_int_equal(g.addr, gaddr[20]);
	goroutines__free(gs);
}


/* procmem__read_many on this very process (process_vm_readv on ourselves): 1500
 * objects (two system calls' worth), with unmapped addresses among them; each
 * read equals the memory, each unmapped one fails alone. */
static void test_read_many_self(void **state)
{
	enum { N = 1500, LEN = 24 };
	static uint64_t objs[N][LEN / 8];
	static uint64_t addrs[N];
	static uint8_t bufs[N][LEN];
	static int errs[N];
	struct procmem *pm = procmem__open(getpid());
	long page = sysconf(_SC_PAGESIZE);
	void *hole = mmap(NULL, (size_t)page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int ok;

	(void)state;
	assert_non_null(pm);
	assert_true(hole != MAP_FAILED);
	munmap(hole, (size_t)page); /* now nothing is mapped there */
	for (int i = 0; i < N; i++) {
		for (int w = 0; w < LEN / 8; w++)
			objs[i][w] = 0x1000000ULL * (uint64_t)i + (uint64_t)w;
		addrs[i] = (uint64_t)(uintptr_t)objs[i];
	}
	addrs[0] = (uint64_t)(uintptr_t)hole;
	addrs[700] = (uint64_t)(uintptr_t)hole + 64;
	addrs[1023] = (uint64_t)(uintptr_t)hole;
	addrs[N - 1] = (uint64_t)(uintptr_t)hole;
	ok = procmem__read_many(pm, addrs, N, LEN, bufs, errs);
	assert_int_equal(ok, N - 4);
	for (int i = 0; i < N; i++) {
		if (i == 0 || i == 700 || i == 1023 || i == N - 1) {
			assert_int_equal(errs[i], -EFAULT);
			continue;
		}
		assert_int_equal(errs[i], 0);
		assert_memory_equal(bufs[i], objs[i], LEN);
	}
	procmem__free(pm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_is_context_iface, setup22, teardown),
		cmocka_unit_test_setup_teardown(test_ctx_states, setup22, teardown),
		cmocka_unit_test_setup_teardown(test_ctx_states, setup26, teardown),
		cmocka_unit_test_setup_teardown(test_ctx_garbage, setup26, teardown),
		cmocka_unit_test_setup_teardown(test_wait_chans, setup22, teardown),
		cmocka_unit_test_setup_teardown(test_wait_chans, setup26, teardown),
		cmocka_unit_test_setup_teardown(test_framescan, setup26, teardown),
		cmocka_unit_test_setup_teardown(test_state_index, setup22, teardown),
		cmocka_unit_test_setup_teardown(test_state_index, setup26, teardown),
		cmocka_unit_test(test_read_many_self),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
