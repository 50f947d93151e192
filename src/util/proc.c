#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
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

int proc_exe(int pid, char *path, size_t path_len, char *exe_name, size_t name_len)
{
	char dir[64];
	struct stat st;
	ssize_t n;

	snprintf(dir, sizeof(dir), "/proc/%d", pid);
	if (stat(dir, &st)) {
		ct_errmsg_set("no such process");
		return -ESRCH;
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

int proc_cpu_ns(int pid, uint64_t *ns)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	long hz = sysconf(_SC_CLK_TCK);
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return n < 0 ? -errno : -EINVAL;
	buf[n] = '\0';
	/* comm may hold spaces and parentheses: fields restart after the last ')'. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2 ||
	    hz <= 0)
		return -EINVAL;
	*ns = (uint64_t)(ut + st) * (1000000000ULL / (uint64_t)hz);
	return 0;
}
