/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Types shared by bpf/syscalls.bpf.c and src/probes/systrace.c: which system call
 * each thread of the target is in, and since when. */
#ifndef CT_SYSCALLS_SHARED_H
#define CT_SYSCALLS_SHARED_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define CT_SYSCALL_THREADS 16384 /* threads tracked at once */
#define CT_SYSCALL_NR_MAX 512    /* size of the blocking-syscall bitmap */

/* Value of the in_syscall map, keyed by thread id (__u32). */
struct ct_syscall {
	__s32 nr;
	__u32 pad;
	__u64 since_ns; /* CLOCK_MONOTONIC (bpf_ktime_get_ns) at sys_enter */
};

#endif
