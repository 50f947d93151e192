/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Types shared by bpf/ctxtrace.bpf.c and userspace. Fixed-width fields, explicit
 * padding; every ring-buffer record starts with struct ct_hdr whose type tag the
 * consumer dispatches on. */
#ifndef CTXTRACE_H
#define CTXTRACE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define CT_MAX_STACK 32 /* user frames captured per record */
#define CT_DONE_SKIP_MAX 4

/* What a probe site is; the uprobe's bpf cookie carries it. */
enum ct_probe_kind {
	CT_PROBE_NONE = 0,
	CT_PROBE_PROPAGATE_CANCEL,     /* 1.21+ (*cancelCtx).propagateCancel(parent, child) */
	CT_PROBE_PROPAGATE_CANCEL_OLD, /* 1.19/1.20 propagateCancel(parent, child) */
	CT_PROBE_CANCELCTX_CANCEL,     /* (*cancelCtx).cancel(removeFromParent, err[, cause]) */
	CT_PROBE_TIMERCTX_CANCEL,      /* (*timerCtx).cancel(...) */
	CT_PROBE_WITH_VALUE,           /* WithValue(parent, key, val) */
	CT_PROBE_CANCELCTX_DONE,       /* (*cancelCtx).Done() */
	CT_PROBE_GO_START,             /* call runqput(pp, newg, ...) in runtime.newproc.func1 */
	CT_PROBE_GO_EXIT,              /* runtime.goexit1 */
	CT_PROBE_KIND_MAX,
};

/* The bpf cookie of a site: the kind in the low byte, site flags above. */
#define CT_COOKIE_KIND_MASK 0xffULL
/* Go 1.19/1.20 prologues save %rbp with a mov, so there is no push %rbp to probe:
 * the site is the stack-bound check's jbe (emulated by the kernel as a branch).
 * A hit with the branch taken is ignored (morestack re-runs the function), and
 * the direct caller, not yet in the frame-pointer chain, is read from [%rsp]. */
#define CT_COOKIE_AT_BRANCH (1ULL << 8)

enum ct_rec_type {
	CT_REC_CTX_CREATE = 1,
	CT_REC_CTX_CANCEL,
	CT_REC_VALUE_CREATE,
	CT_REC_CTX_DONE,
	CT_REC_GO_CREATE,
	CT_REC_GO_EXIT,
};

/* Indexes of the per-CPU counters map. */
enum ct_counter {
	CT_CNT_EVENTS = 0,    /* records submitted */
	CT_CNT_DROPS,         /* ring buffer full: record lost */
	CT_CNT_READ_ERRORS,   /* bpf_probe_read_user failed */
	CT_CNT_STACK_ERRORS,  /* bpf_get_stack failed */
	CT_CNT_HITS,          /* probe hits in the target */
	CT_CNT_DONE_DEDUP,    /* Done() hits suppressed by the (goid, ctx) filter */
	CT_CNT_HITS_BY_KIND,  /* + enum ct_probe_kind: probe hits per site kind */
	CT_CNT_MAX = CT_CNT_HITS_BY_KIND + CT_PROBE_KIND_MAX,
};

struct ct_hdr {
	__u32 type; /* enum ct_rec_type */
	__u32 tid;
	__u64 ts_ns; /* CLOCK_MONOTONIC (bpf_ktime_get_ns) */
	__u64 goid;  /* goroutine running the probed code (user g, not g0) */
	__u32 pid;   /* tgid */
	__u16 nstack;
	__u16 probe; /* enum ct_probe_kind */
};

/* ct_hdr is followed by a fixed body; records with a stack end with pcs[]. */
struct ct_iface {
	__u64 tab;  /* itab or type pointer */
	__u64 data;
};

struct ct_ctx_create {
	struct ct_hdr h;
	__u64 ctx;            /* the new context's address */
	struct ct_iface parent;
	struct ct_iface child; /* canceler interface: tells cancel/timer/afterfunc */
	__u8 deadline[24];    /* time.Time raw, for timerCtx */
	__u64 stack[CT_MAX_STACK];
};

struct ct_ctx_cancel {
	struct ct_hdr h;
	__u64 ctx;
	struct ct_iface err;
	struct ct_iface cause; /* 1.20+ (WithCancelCause); zero before */
	__u64 already_err;     /* ctx's err.tab before this call: non-zero = was cancelled */
	__u8 remove_from_parent;
	__u8 timer;            /* hit on (*timerCtx).cancel */
	__u8 pad[6];
	__u64 stack[CT_MAX_STACK];
};

struct ct_value_create {
	struct ct_hdr h;
	struct ct_iface parent;
	struct ct_iface key;
	struct ct_iface val;
	__u64 stack[CT_MAX_STACK];
};

struct ct_ctx_done {
	struct ct_hdr h;
	__u64 ctx;
	__u64 pc; /* return address: who asked for Done */
};

struct ct_go_create {
	struct ct_hdr h; /* goid = the goroutine executing the go statement */
	__u64 new_goid;
	__u64 gopc;
	__u64 startpc;
	__u64 g; /* address of the new g */
};

struct ct_go_exit {
	struct ct_hdr h;
	__u64 g;
};

/* Offsets and switches the BPF side needs; a copy sits in .rodata. */
struct ct_bpf_config {
	__u32 target_tgid;
	/* Benchmarks only (CTXTRACE_BENCH_HIT_NS): each hit spins this long in the
	 * program, as on a machine whose trap costs that much more. 0: never. */
	__u32 bench_hit_ns;
	__u64 g_goid;
	__u64 g_m;
	__u64 m_curg;
	__u64 ctx_err;        /* cancelCtx.err */
	__u64 timer_deadline; /* timerCtx.deadline */
	__u8 cancel_has_cause; /* 1.20+: cancel(removeFromParent, err, cause) */
	__u8 pad1[7];
	__u64 g_gopc;
	__u64 g_startpc;
	/* Run-time [lo, hi) of the context package's own callers of Done() while it
	 * derives a child (propagateCancel, parentCancelCtx): such calls are not a
	 * goroutine waiting, and must not use up the (goid, ctx) dedup slot. */
	__u64 done_skip_lo[CT_DONE_SKIP_MAX];
	__u64 done_skip_hi[CT_DONE_SKIP_MAX];
};

#endif
