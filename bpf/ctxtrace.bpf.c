// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* One uprobe program for every ctxtrace site; the attach cookie says which site
 * (enum ct_probe_kind) fired. It only reads registers and target memory and
 * writes records to the ring buffer; it never changes the target. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "ctxtrace.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define EFLAGS_CF 0x0001
#define EFLAGS_ZF 0x0040

const volatile struct ct_bpf_config cfg = {};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20); /* userspace sets the size before load */
} events SEC(".maps");

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
	struct ct_hdr *h = bpf_ringbuf_reserve(&events, size, 0);
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

static __always_inline void submit(void *rec)
{
	bpf_ringbuf_submit(rec, 0);
	cnt_inc(CT_CNT_EVENTS);
}

/* User stack into stack[]: innermost pc first, then the direct caller. */
static __always_inline __u16 fill_stack(struct pt_regs *ctx, __u64 *stack, bool at_branch)
{
	long n;

	if (!at_branch) {
		/* At push %rbp the kernel adds the caller from [%rsp] itself. */
		n = bpf_get_stack(ctx, stack, CT_MAX_STACK * sizeof(__u64), BPF_F_USER_STACK);
		if (n < 0) {
			cnt_inc(CT_CNT_STACK_ERRORS);
			return 0;
		}
		return n / sizeof(__u64);
	}
	/* At the stack check (Go 1.19/1.20) the frame-pointer chain starts at the
	 * caller's frame, which skips the caller: [ip, caller's caller, ...]. Insert
	 * the return address at [%rsp] as the second entry. */
	n = bpf_get_stack(ctx, &stack[1], (CT_MAX_STACK - 1) * sizeof(__u64), BPF_F_USER_STACK);
	if (n < 0) {
		cnt_inc(CT_CNT_STACK_ERRORS);
		return 0;
	}
	stack[0] = ctx->ip;
	stack[1] = read_u64(ctx->sp);
	return n / sizeof(__u64) + 1;
}

static __always_inline int on_ctx_create(struct pt_regs *ctx, __u32 kind, bool at_branch, __u64 goid)
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
	r->h.nstack = fill_stack(ctx, r->stack, at_branch);
	submit(r);
	return 0;
}

static __always_inline int on_ctx_cancel(struct pt_regs *ctx, __u32 kind, bool at_branch, __u64 goid)
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
	r->h.nstack = fill_stack(ctx, r->stack, at_branch);
	submit(r);
	return 0;
}

static __always_inline int on_value(struct pt_regs *ctx, __u32 kind, bool at_branch, __u64 goid)
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
	r->h.nstack = fill_stack(ctx, r->stack, at_branch);
	submit(r);
	return 0;
}

static __always_inline int on_done(struct pt_regs *ctx, __u32 kind, __u64 goid)
{
	struct done_key key = { .goid = goid, .ctx = ctx->ax };
	struct ct_ctx_done *r;
	__u8 one = 1;

	if (bpf_map_lookup_elem(&done_seen, &key)) {
		cnt_inc(CT_CNT_DONE_DEDUP);
		return 0;
	}
	bpf_map_update_elem(&done_seen, &key, &one, BPF_ANY);
	r = reserve(sizeof(*r), CT_REC_CTX_DONE, kind, goid);
	if (!r)
		return 0;
	r->ctx = key.ctx;
	r->pc = read_u64(ctx->sp);
	submit(r);
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
	submit(r);
	return 0;
}

static __always_inline int on_go_exit(struct pt_regs *ctx, __u32 kind, __u64 goid)
{
	struct ct_go_exit *r = reserve(sizeof(*r), CT_REC_GO_EXIT, kind, goid);

	if (!r)
		return 0;
	r->g = ctx->r14;
	submit(r);
	return 0;
}

static __always_inline int dispatch(struct pt_regs *ctx)
{
	__u64 cookie = bpf_get_attach_cookie(ctx);
	__u32 kind = cookie & CT_COOKIE_KIND_MASK;
	bool at_branch = cookie & CT_COOKIE_AT_BRANCH;
	__u64 goid;

	if ((bpf_get_current_pid_tgid() >> 32) != cfg.target_tgid)
		return 0;
	/* Branch taken: morestack follows and the function starts over. */
	if (at_branch && (ctx->flags & (EFLAGS_CF | EFLAGS_ZF)))
		return 0;
	cnt_inc(CT_CNT_HITS);
	if (kind == CT_PROBE_GO_START)
		return on_go_start(ctx, kind);
	goid = goid_of(ctx->r14);
	switch (kind) {
	case CT_PROBE_PROPAGATE_CANCEL:
	case CT_PROBE_PROPAGATE_CANCEL_OLD:
		return on_ctx_create(ctx, kind, at_branch, goid);
	case CT_PROBE_CANCELCTX_CANCEL:
	case CT_PROBE_TIMERCTX_CANCEL:
		return on_ctx_cancel(ctx, kind, at_branch, goid);
	case CT_PROBE_WITH_VALUE:
		return on_value(ctx, kind, at_branch, goid);
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
	return 0;
}
