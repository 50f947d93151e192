#include <errno.h>
#include <fcntl.h>
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

/* /proc/PID/stat read into buf; *fields: what follows comm (from the state field,
 * after a space). comm may hold spaces and parentheses: fields restart after the
 * last ')'. 0 or a negative errno. */
static int read_stat(int pid, char *buf, size_t size, char **fields)
{
	char path[64], *p;
	int n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	n = proc_read_file(path, buf, size);
	if (n < 0)
		return n;
	p = strrchr(buf, ')');
	if (!p)
		return -EINVAL;
	*fields = p + 1;
	return 0;
}

int proc_cpu_ns(int pid, uint64_t *ns)
{
	char buf[1024], *p;
	unsigned long long ut, st;
	long hz = sysconf(_SC_CLK_TCK);
	int n;

	n = read_stat(pid, buf, sizeof(buf), &p);
	if (n < 0)
		return n;
	if (sscanf(p, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2 ||
	    hz <= 0)
		return -EINVAL;
	*ns = (uint64_t)(ut + st) * (1000000000ULL / (uint64_t)hz);
	return 0;
}

int proc_read_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;
	size_t off = 0;

	if (fd < 0)
		return -errno;
	while (off + 1 < size) {
		n = read(fd, buf + off, size - 1 - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			n = -errno;
			close(fd);
			return (int)n;
		}
		if (n == 0)
			break;
		off += (size_t)n;
	}
	buf[off] = '\0';
	close(fd);
	return (int)off;
}

/* In the effective set, as /proc/self/status tells. */
bool proc_have_cap(int cap)
{
	char buf[4096], *p;
	unsigned long long eff;

	if (proc_read_file("/proc/self/status", buf, sizeof(buf)) < 0 || !(p = strstr(buf, "\nCapEff:")))
		return false;
	eff = strtoull(p + 9, NULL, 16);
	return (eff >> cap) & 1;
}

int proc_start_time(int pid, uint64_t *start)
{
	char buf[1024], *p;
	int n;

	n = read_stat(pid, buf, sizeof(buf), &p);
	if (n < 0)
		return n;
	for (int field = 3; field < 22; field++) {
		p = strchr(p + 1, ' ');
		if (!p)
			return -EINVAL;
	}
	*start = strtoull(p + 1, NULL, 10);
	return 0;
}

int proc_info__read(int pid, struct proc_info *pi)
{
	char path[64];
	ssize_t n;
	int r;

	memset(pi, 0, sizeof(*pi));
	pi->pid = pid;
	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	n = readlink(path, pi->exe, sizeof(pi->exe) - 1);
	if (n < 0 && errno != EACCES && errno != EPERM)
		return -errno;
	if (n < 0) {
		pi->exe_unreadable = true;
		n = 0;
	}
	pi->exe[n] = '\0';
	if (n > 10 && !strcmp(pi->exe + n - 10, " (deleted)"))
		pi->exe[n - 10] = '\0';
	r = proc_start_time(pid, &pi->start_time);
	if (r)
		return r;
	snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
	r = proc_read_file(path, pi->cgroup, sizeof(pi->cgroup));
	return r < 0 ? r : 0;
}
