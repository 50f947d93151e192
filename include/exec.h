/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Types shared by bpf/exec.bpf.c and ctxtraced's exec watcher
 * (src/daemon/execwatch.c): one record per successful exec on the host. */
#ifndef CT_EXEC_H
#define CT_EXEC_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define EXEC_FILENAME_MAX 128

enum exec_counter {
	EXEC_CNT_SEEN = 0, /* execs seen */
	EXEC_CNT_LOST,     /* ring buffer full: exec not reported */
	EXEC_CNT_MAX,
};

struct exec_rec {
	__u32 type; /* always 1: the consumer dispatches on the tag, as for ctxtrace.h */
	__u32 pid;  /* tgid after the exec */
	__u32 old_pid; /* differs when a non-leader thread exec'd */
	__u32 pad;
	char filename[EXEC_FILENAME_MAX]; /* as passed to execve, truncated */
};

#endif
