/* Facts about a process from /proc. */
#ifndef CT_PROC_H
#define CT_PROC_H

#include <stddef.h>

/* Path through which the target's executable can be opened: "/proc/PID/exe" works
 * across mount namespaces. Fills exe_name with what the link points to (for
 * messages). 0, or -ESRCH (no such process) / -EACCES / -errno with ct_errmsg(). */
int proc_exe(int pid, char *path, size_t path_len, char *exe_name, size_t name_len);
/* The process a thread id belongs to (its own id for a process), or -errno. */
int proc_tgid(int pid);
/* Parses a PID argument: -EINVAL with ct_errmsg() for junk, 0 and *pid otherwise. */
int proc_parse_pid(const char *s, int *pid);

#endif
