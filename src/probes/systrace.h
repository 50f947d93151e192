/* Which system call a thread of the target is in, and for how long: the BPF side
 * (bpf/syscalls.bpf.c) keeps a thread -> (syscall, start) map for one tgid, filtered
 * in the kernel; lookups read the map on demand. Threads that entered their call
 * before attach are read from /proc/PID/task/TID/syscall (no start time then). */
#ifndef CT_PROBES_SYSTRACE_H
#define CT_PROBES_SYSTRACE_H

#include <stdbool.h>
#include <stdint.h>

struct systrace;

/* NULL with errno and ct_errmsg() ("cannot trace syscalls of pid 42: ..."). */
struct systrace *systrace__open(int pid);
void systrace__free(struct systrace *st); /* detaches; takes NULL */

/* 0 with *nr and *since_ns (CLOCK_MONOTONIC; 0 when unknown); -ENOENT when the
 * thread is not in a system call (or runs). */
int systrace__lookup(struct systrace *st, uint32_t tid, int *nr, uint64_t *since_ns);
/* Detaches or attaches again the tracepoints (the overhead budget's duty cycle);
 * lookups stay right meanwhile (/proc confirms what the map may hold stale). */
int systrace__set_attached(struct systrace *st, bool on);

#include "util/syscalls.h" /* names, and /proc's view without BPF */

#endif
