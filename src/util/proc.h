/* Facts about a process from /proc. */
#ifndef CT_PROC_H
#define CT_PROC_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Path through which the target's executable can be opened: "/proc/PID/exe" works
 * across mount namespaces. Fills exe_name with what the link points to (for
 * messages). 0, or -ESRCH (no such process) / -EACCES / -errno with ct_errmsg(). */
int proc_exe(int pid, char *path, size_t path_len, char *exe_name, size_t name_len);
/* The process a thread id belongs to (its own id for a process), or -errno. */
int proc_tgid(int pid);
/* Parses a PID argument: -EINVAL with ct_errmsg() for junk, 0 and *pid otherwise. */
int proc_parse_pid(const char *s, int *pid);

/* CPU time the process used so far (user + system, all threads), in ns, from
 * /proc/PID/stat (clock-tick resolution). 0 or -errno. */
int proc_cpu_ns(int pid, uint64_t *ns);
/* A whole small file (/proc files report size 0) into buf, NUL-terminated and
 * truncated to size: the bytes read, or -errno. */
int proc_read_file(const char *path, char *buf, size_t size);
/* Is the capability in our effective set (/proc/self/status CapEff)? */
bool proc_have_cap(int cap);
/* /proc/PID/stat field 22, the start time that tells a reused pid apart. 0 or -errno. */
int proc_start_time(int pid, uint64_t *start);

/* What the daemon's selectors look at, read from /proc/PID. */
struct proc_info {
	int pid;
	uint64_t start_time;   /* /proc/PID/stat field 22: tells a reused pid apart */
	char exe[PATH_MAX];    /* readlink of /proc/PID/exe, " (deleted)" removed; "" when unreadable */
	bool exe_unreadable;   /* not allowed to look (another user's process, no CAP_SYS_PTRACE) */
	char cgroup[1024];     /* /proc/PID/cgroup, as read (one or more lines) */
};

/* 0, or -errno (-ENOENT: the process is gone). A process whose executable the
 * caller may not see is still read (its cgroup), with exe_unreadable set. */
int proc_info__read(int pid, struct proc_info *pi);

#endif
