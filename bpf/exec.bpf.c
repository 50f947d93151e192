// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Reports every exec on the host to ctxtraced, which decides in userspace whether
 * the new program is a target (its selectors need /proc: exe path, cgroup). The
 * program only reads the tracepoint's arguments. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "exec.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 << 10);
} exec_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, EXEC_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} exec_counters SEC(".maps");

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&exec_counters, &idx);

	if (v)
		*v += 1;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct exec_rec *r;

	(void)ctx; /* BPF_PROG's context */
	count(EXEC_CNT_SEEN);
	r = bpf_ringbuf_reserve(&exec_events, sizeof(*r), 0);
	if (!r) {
		count(EXEC_CNT_LOST);
		return 0;
	}
	r->type = 1;
	r->pid = BPF_CORE_READ(p, tgid);
	r->old_pid = old_pid;
	r->pad = 0;
	bpf_probe_read_kernel_str(r->filename, sizeof(r->filename), BPF_CORE_READ(bprm, filename));
	bpf_ringbuf_submit(r, 0);
	return 0;
}
