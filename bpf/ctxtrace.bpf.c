// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* One uprobe program for every ctxtrace site; the attach cookie says which site
 * (enum ct_probe_kind) fired. It only reads registers and target memory and
 * writes records to the ring buffer; it never changes the target. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "ctxtrace.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define EFLAGS_CF 0x0001
#define EFLAGS_ZF 0x0040

const volatile struct ct_bpf_config cfg = {};

/* The ring buffer sits in the one slot of an array of maps, so userspace can
 * swap in a larger ring while attached (tracer.c: ring_grow). Userspace creates
 * every ring and fills the slot before attaching; the inner definition is only
 * the template (ring sizes may differ: the kernel does not compare a ring's
 * max_entries). The lookup is inlined by the verifier (a few instructions). */
struct ring_inner {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct ring_inner);
} rings SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CT_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

struct done_key {
	__u64 goid;
	__u64 ctx;
};

/* (goid, ctx) pairs whose Done() was already reported. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct done_key);
	__type(value, __u8);
} done_seen SEC(".maps");

static __always_inline void cnt_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &idx);

	if (v)
		*v += 1;
}

static __always_inline __u64 read_u64(__u64 addr)
{
	__u64 v = 0;

	if (bpf_probe_read_user(&v, sizeof(v), (const void *)addr)) {
		cnt_inc(CT_CNT_READ_ERRORS);
		return 0;
	}
	return v;
}

static __always_inline __u64 goid_of(__u64 g)
{
	return g ? read_u64(g + cfg.g_goid) : 0;
}

static __always_inline void *reserve(__u32 size, __u32 type, __u32 kind, __u64 goid)
{
	__u32 zero = 0;
	void *ring = bpf_map_lookup_elem(&rings, &zero);
	struct ct_hdr *h = ring ? bpf_ringbuf_reserve(ring, size, 0) : NULL;
	__u64 pid_tgid;

	if (!h) {
		cnt_inc(CT_CNT_DROPS);
		return NULL;
	}
	pid_tgid = bpf_get_current_pid_tgid();
	h->type = type;
	h->tid = (__u32)pid_tgid;
	h->pid = pid_tgid >> 32;
	h->ts_ns = bpf_ktime_get_ns();
	h->goid = goid;
	h->nstack = 0;
	h->probe = kind;
	return h;
}

/* A wakeup costs the probed thread ~3 us (measured on the WithValue benchmark), so
 * userspace is woken only by the record that fills the ring past a quarter; it
 * drains the ring then, and finds slower trickles when its poll times out
 * (tracer__poll). */
static __always_inline void submit(void *rec, __u64 size)
{
	__u32 zero = 0;
	void *ring = bpf_map_lookup_elem(&rings, &zero);
	__u64 flags = BPF_RB_NO_WAKEUP;

	/* The ring the record was reserved in, unless it was swapped meanwhile: then
	 * only the wakeup is judged on the new one. */
	if (ring) {
		__u64 avail = bpf_ringbuf_query(ring, BPF_RB_AVAIL_DATA);
		__u64 mark = bpf_ringbuf_query(ring, BPF_RB_RING_SIZE) / 4;

		/* avail counts this record (and its 8-byte header) already. */
		if (avail >= mark && avail < mark + size + 8)
			flags = BPF_RB_FORCE_WAKEUP;
	}
	bpf_ringbuf_submit(rec, flags);
	cnt_inc(CT_CNT_EVENTS);
}

#define STACK_CHUNK 4096 /* bytes of the goroutine stack read at once */
#define CHUNK_WORDS (STACK_CHUNK / 8)

struct stack_chunk {
	__u64 w[CHUNK_WORDS];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct stack_chunk);
} scratch SEC(".maps");

/* User stack into stack[]: the probed pc, the direct caller, then the callers.
 * Every site is at or before the prologue's push %rbp (or its Go 1.19/1.20 mov),
 * so the return address is at [%rsp] and %rbp still is the caller's frame pointer.
 * Go keeps frame pointers on amd64, so the chain is walked here: bpf_get_stack's
 * perf unwinder cost about 1.2 us per record, twice the uprobe itself. Each read
 * of target memory costs ~40 ns, so the first STACK_CHUNK bytes above %rsp, where
 * the innermost frames are, are read at once. */
static __always_inline __u16 fill_stack(struct pt_regs *ctx, __u64 *stack)
{
	struct {
		__u64 bp;
		__u64 ret;
	} fr;
	__u64 sp = ctx->sp, bp = ctx->bp, have = 0;
	struct stack_chunk *c;
	__u32 zero = 0;
	__u16 n = 2;
	int i;

	stack[0] = ctx->ip;
	c = bpf_map_lookup_elem(&scratch, &zero);
	if (c) {
		if (!bpf_probe_read_user(c->w, sizeof(c->w), (const void *)sp))
			have = STACK_CHUNK;
		/* The chunk crossed into an unmapped page: the rest of sp's page then. */
		else if (!bpf_probe_read_user(c->w, (4096 - (sp & 4095)) & 4095, (const void *)sp))
			have = (4096 - (sp & 4095)) & 4095;
	}
	if (have)
		stack[1] = c->w[0];
	else if (bpf_probe_read_user(&stack[1], sizeof(stack[1]), (const void *)sp)) {
		cnt_inc(CT_CNT_STACK_ERRORS);
		return 1;
	}
	for (i = 2; i < CT_MAX_STACK; i++) {
		__u64 off = (bp - sp) / 8;

		if (!bp)
			break;
		if (c && bp >= sp && off < CHUNK_WORDS - 1 && off * 8 + 16 <= have) {
			fr.bp = c->w[off];
			fr.ret = c->w[off + 1];
		} else if (bpf_probe_read_user(&fr, sizeof(fr), (const void *)bp)) {
			break;
		}
		if (!fr.ret)
			break;
		stack[i] = fr.ret;
		n = i + 1;
		/* The stack grows down: a caller's frame is above its callee's. */
		if (fr.bp <= bp)
			break;
		bp = fr.bp;
	}
	return n;
}

static __always_inline int on_ctx_create(struct pt_regs *ctx, __u32 kind, __u64 goid)
{
	struct ct_ctx_create *r = reserve(sizeof(*r), CT_REC_CTX_CREATE, kind, goid);

	if (!r)
		return 0;
	if (kind == CT_PROBE_PROPAGATE_CANCEL) {
		/* 1.21+: (c *cancelCtx).propagateCancel(parent Context, child canceler) */
		r->ctx = ctx->ax;
		r->parent.tab = ctx->bx;
		r->parent.data = ctx->cx;
		r->child.tab = ctx->di;
		r->child.data = ctx->si;
	} else {
		/* 1.19/1.20: propagateCancel(parent Context, child canceler) */
		r->parent.tab = ctx->ax;
		r->parent.data = ctx->bx;
		r->child.tab = ctx->cx;
		r->child.data = ctx->di;
		r->ctx = ctx->di;
	}
	/* Whether the child is a timerCtx is decided in userspace from its itab; the
	 * read is speculative, so a failure is not an error. */
	if (bpf_probe_read_user(r->deadline, sizeof(r->deadline),
				(const void *)(r->ctx + cfg.timer_deadline)))
		__builtin_memset(r->deadline, 0, sizeof(r->deadline));
	r->h.nstack = fill_stack(ctx, r->stack);
	submit(r, sizeof(*r));
	return 0;
}

static __always_inline int on_ctx_cancel(struct pt_regs *ctx, __u32 kind, __u64 goid)
{
	struct ct_ctx_cancel *r = reserve(sizeof(*r), CT_REC_CTX_CANCEL, kind, goid);

	if (!r)
		return 0;
	/* (c *cancelCtx|*timerCtx).cancel(removeFromParent bool, err error[, cause error]) */
	r->ctx = ctx->ax;
	r->remove_from_parent = ctx->bx & 1;
	r->err.tab = ctx->cx;
	r->err.data = ctx->di;
	if (cfg.cancel_has_cause) {
		r->cause.tab = ctx->si;
		r->cause.data = ctx->r8;
	} else {
		r->cause.tab = 0;
		r->cause.data = 0;
	}
	/* err is an error (1.19-1.22) or an atomic.Value (later): its first word is
	 * non-zero once the context was cancelled. */
	r->already_err = read_u64(r->ctx + cfg.ctx_err);
	r->timer = kind == CT_PROBE_TIMERCTX_CANCEL;
	__builtin_memset(r->pad, 0, sizeof(r->pad));
	r->h.nstack = fill_stack(ctx, r->stack);
	submit(r, sizeof(*r));
	return 0;
}

static __always_inline int on_value(struct pt_regs *ctx, __u32 kind, __u64 goid)
{
	struct ct_value_create *r = reserve(sizeof(*r), CT_REC_VALUE_CREATE, kind, goid);

	if (!r)
		return 0;
	/* WithValue(parent Context, key, val any) */
	r->parent.tab = ctx->ax;
	r->parent.data = ctx->bx;
	r->key.tab = ctx->cx;
	r->key.data = ctx->di;
	r->val.tab = ctx->si;
	r->val.data = ctx->r8;
	r->h.nstack = fill_stack(ctx, r->stack);
	submit(r, sizeof(*r));
	return 0;
}

static __always_inline bool done_internal(__u64 pc)
{
	for (int i = 0; i < CT_DONE_SKIP_MAX; i++) {
		if (pc >= cfg.done_skip_lo[i] && pc < cfg.done_skip_hi[i])
			return true;
	}
	return false;
}

static __always_inline int on_done(struct pt_regs *ctx, __u32 kind, __u64 goid)
{
	struct done_key key = { .goid = goid, .ctx = ctx->ax };
	struct ct_ctx_done *r;
	__u64 ret = read_u64(ctx->sp);
	__u8 one = 1;

	/* The caller, or through a method wrapper ((*timerCtx).Done) its caller: the
	 * probe sits before the frame is pushed, so bp is still the caller's frame. */
	if (done_internal(ret) || done_internal(read_u64(ctx->bp + 8))) {
		cnt_inc(CT_CNT_DONE_DEDUP);
		return 0;
	}
	if (bpf_map_lookup_elem(&done_seen, &key)) {
		cnt_inc(CT_CNT_DONE_DEDUP);
		return 0;
	}
	bpf_map_update_elem(&done_seen, &key, &one, BPF_ANY);
	r = reserve(sizeof(*r), CT_REC_CTX_DONE, kind, goid);
	if (!r)
		return 0;
	r->ctx = key.ctx;
	r->pc = ret;
	submit(r, sizeof(*r));
	return 0;
}

/* The call to runqput in runtime.newproc.func1 (system stack, R14 = g0):
 * RBX is the new g, with goid, gopc and startpc set by newproc1. */
static __always_inline int on_go_start(struct pt_regs *ctx, __u32 kind)
{
	struct ct_go_create *r;
	__u64 g = ctx->r14, m, curg, newg = ctx->bx;
	__u64 goid = 0;

	m = read_u64(g + cfg.g_m);
	curg = m ? read_u64(m + cfg.m_curg) : 0;
	goid = goid_of(curg);
	r = reserve(sizeof(*r), CT_REC_GO_CREATE, kind, goid);
	if (!r)
		return 0;
	r->g = newg;
	r->new_goid = read_u64(newg + cfg.g_goid);
	r->gopc = read_u64(newg + cfg.g_gopc);
	r->startpc = read_u64(newg + cfg.g_startpc);
	submit(r, sizeof(*r));
	return 0;
}

static __always_inline int on_go_exit(struct pt_regs *ctx, __u32 kind, __u64 goid)
{
	struct ct_go_exit *r = reserve(sizeof(*r), CT_REC_GO_EXIT, kind, goid);

	if (!r)
		return 0;
	r->g = ctx->r14;
	submit(r, sizeof(*r));
	return 0;
}

static long spin_step(__u64 i, void *end)
{
	(void)i;
	return bpf_ktime_get_ns() >= *(__u64 *)end; /* 1: stop */
}

static __always_inline int dispatch(struct pt_regs *ctx)
{
	__u64 cookie = bpf_get_attach_cookie(ctx);
	__u32 kind = cookie & CT_COOKIE_KIND_MASK;
	bool at_branch = cookie & CT_COOKIE_AT_BRANCH;
	__u64 goid;

	if (cfg.target_tgid && (bpf_get_current_pid_tgid() >> 32) != cfg.target_tgid)
		return 0;
	/* Branch taken: morestack follows and the function starts over. */
	if (at_branch && (ctx->flags & (EFLAGS_CF | EFLAGS_ZF)))
		return 0;
	cnt_inc(CT_CNT_HITS);
	if (kind < CT_PROBE_KIND_MAX)
		cnt_inc(CT_CNT_HITS_BY_KIND + kind);
	/* (bpf_loop is 5.17+: on an older kernel the branch is dead and loads) */
	if (cfg.bench_hit_ns && bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_loop)) {
		__u64 end = bpf_ktime_get_ns() + cfg.bench_hit_ns;

		bpf_loop(100000, spin_step, &end, 0);
	}
	if (kind == CT_PROBE_GO_START)
		return on_go_start(ctx, kind);
	goid = goid_of(ctx->r14);
	switch (kind) {
	case CT_PROBE_PROPAGATE_CANCEL:
	case CT_PROBE_PROPAGATE_CANCEL_OLD:
		return on_ctx_create(ctx, kind, goid);
	case CT_PROBE_CANCELCTX_CANCEL:
	case CT_PROBE_TIMERCTX_CANCEL:
		return on_ctx_cancel(ctx, kind, goid);
	case CT_PROBE_WITH_VALUE:
		return on_value(ctx, kind, goid);
	case CT_PROBE_CANCELCTX_DONE:
		return on_done(ctx, kind, goid);
	case CT_PROBE_GO_EXIT:
		return on_go_exit(ctx, kind, goid);
	}
	return 0;
}

SEC("uprobe.multi")
int ctxtrace_multi(struct pt_regs *ctx)
{
	return dispatch(ctx);
}

/* The same program for kernels without uprobe_multi links: one link per site. */
SEC("uprobe")
int ctxtrace_single(struct pt_regs *ctx)
{
	return dispatch(ctx);
}

/* Benchmarks only: the cost of an empty program at the same instruction. */
SEC("uprobe")
int ctxtrace_empty(struct pt_regs *ctx)
{
	(void)ctx;
	return 0;
}
