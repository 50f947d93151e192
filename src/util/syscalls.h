/* x86-64 system calls: names, the ones a thread can sleep in, and which one a
 * thread is in as /proc tells (no start time; probes/systrace.h has the BPF view). */
#ifndef CT_UTIL_SYSCALLS_H
#define CT_UTIL_SYSCALLS_H

#include <stdint.h>

/* /proc/PID/task/TID/syscall: 0 with *nr, -ENOENT when not in a syscall, -errno. */
int syscall_of_thread(int pid, uint32_t tid, int *nr);

/* x86-64 names: "futex", "read"; NULL when unknown or nr < 0. */
const char *syscall_name(int nr);
/* The calls a thread can sleep in for long: the ones the BPF side tracks. */
int syscall_blocking(int nr);

#endif
