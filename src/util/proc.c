#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"
#include "util/proc.h"

int proc_parse_pid(const char *s, int *pid)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (!*s || *end || errno || v <= 0 || v > INT_MAX) {
		ct_errmsg_set("invalid PID '%s' (a positive number)", s);
		return -EINVAL;
	}
	*pid = (int)v;
	return 0;
}

int proc_tgid(int pid)
{
	char p[64], line[128];
	int tgid = -ESRCH;
	FILE *f;

	snprintf(p, sizeof(p), "/proc/%d/status", pid);
	f = fopen(p, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "Tgid:", 5)) {
			tgid = atoi(line + 5);
			break;
		}
	}
	fclose(f);
	return tgid;
}

int proc_exe(int pid, char *path, size_t path_len, char *exe_name, size_t name_len)
{
	char dir[64];
	struct stat st;
	ssize_t n;
	int tgid;

	snprintf(dir, sizeof(dir), "/proc/%d", pid);
	if (stat(dir, &st)) {
		ct_errmsg_set("no such process");
		return -ESRCH;
	}
	/* /proc/TID exists too, unlisted: a thread's id is not a process's. */
	tgid = proc_tgid(pid);
	if (tgid > 0 && tgid != pid) {
		ct_errmsg_set("%d is a thread of process %d, not a process (use -p %d)", pid, tgid, tgid);
		return -EINVAL;
	}
	snprintf(path, path_len, "/proc/%d/exe", pid);
	n = readlink(path, exe_name, name_len - 1);
	if (n < 0) {
		int err = errno;

		if (err == ENOENT) {
			/* Kernel threads and zombies have no executable. */
			ct_errmsg_set("pid %d has no executable (kernel thread or exited)", pid);
			return -ENOENT;
		}
		if (err == EACCES || err == EPERM) {
			ct_errmsg_set("cannot read /proc/%d/exe: permission denied (need CAP_SYS_PTRACE or the same user)", pid);
			return -EACCES;
		}
		ct_errmsg_set("cannot read /proc/%d/exe: %s", pid, strerror(err));
		return -err;
	}
	exe_name[n] = '\0';
	return 0;
}
