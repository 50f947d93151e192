// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Which system call each thread of one process is in. sys_enter/sys_exit
 * tracepoints, filtered by tgid in the kernel and by a bitmap of the calls that
 * can block, keep a thread -> (syscall, start time) hash; userspace looks a thread
 * up when a goroutine is found in a syscall. Nothing is sent: no ring buffer, and
 * no probe on the Go runtime. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "syscalls.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile __u32 target_tgid = 0;
/* bit nr set: track syscall nr */
const volatile __u64 blocking[CT_SYSCALL_NR_MAX / 64] = {};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CT_SYSCALL_THREADS);
	__type(key, __u32);
	__type(value, struct ct_syscall);
} in_syscall SEC(".maps");

static __always_inline bool tracked(long id)
{
	__u64 nr = (__u64)id;

	if (nr >= CT_SYSCALL_NR_MAX)
		return false;
	return (blocking[nr / 64] >> (nr % 64)) & 1;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(ct_sys_enter, struct pt_regs *regs, long id)
{
	__u64 pt = bpf_get_current_pid_tgid();
	struct ct_syscall v = {};
	__u32 tid = (__u32)pt;

	(void)ctx, (void)regs; /* BPF_PROG's context; regs precedes id */

	if ((__u32)(pt >> 32) != target_tgid || !tracked(id))
		return 0;
	v.nr = (__s32)id;
	v.since_ns = bpf_ktime_get_ns();
	bpf_map_update_elem(&in_syscall, &tid, &v, BPF_ANY);
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(ct_sys_exit, struct pt_regs *regs)
{
	__u64 pt = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pt;

	(void)ctx; /* BPF_PROG's context */

	if ((__u32)(pt >> 32) != target_tgid || !tracked(regs->orig_ax))
		return 0;
	bpf_map_delete_elem(&in_syscall, &tid);
	return 0;
}
