#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

#include "events/procmem.h"
#include "util/log.h"

struct procmem {
	int pid;
	int memfd;         /* /proc/PID/mem, opened on the first fallback */
	bool use_memfd;    /* process_vm_readv is not permitted or not built in */
	procmem_read_fn cb;
	void *cookie;
	procmem_image_fn image;
	void *image_cookie;
	struct procmem_stats st;
};

struct procmem *procmem__open(int pid)
{
	struct procmem *pm;
	char path[64];
	struct stat sb;

	snprintf(path, sizeof(path), "/proc/%d", pid);
	if (pid <= 0 || stat(path, &sb)) {
		errno = ESRCH;
		ct_errmsg_set("no process with pid %d", pid);
		return NULL;
	}
	pm = calloc(1, sizeof(*pm));
	if (!pm)
		return NULL;
	pm->pid = pid;
	pm->memfd = -1;
	return pm;
}

struct procmem *procmem__open_cb(procmem_read_fn read, void *cookie)
{
	struct procmem *pm = calloc(1, sizeof(*pm));

	if (!pm)
		return NULL;
	pm->memfd = -1;
	pm->cb = read;
	pm->cookie = cookie;
	return pm;
}

void procmem__free(struct procmem *pm)
{
	if (!pm)
		return;
	if (pm->memfd >= 0)
		close(pm->memfd);
	free(pm);
}

void procmem__set_image(struct procmem *pm, procmem_image_fn at, void *cookie)
{
	pm->image = at;
	pm->image_cookie = cookie;
}

int procmem__pid(const struct procmem *pm)
{
	return pm->pid;
}

static int read_memfd(struct procmem *pm, uint64_t addr, void *buf, size_t len)
{
	ssize_t n;

	if (pm->memfd < 0) {
		char path[64];

		snprintf(path, sizeof(path), "/proc/%d/mem", pm->pid);
		pm->memfd = open(path, O_RDONLY | O_CLOEXEC);
		if (pm->memfd < 0)
			return errno == ENOENT ? -ESRCH : -errno;
	}
	n = pread(pm->memfd, buf, len, (off_t)addr);
	if (n < 0)
		return errno == EIO ? -EFAULT : -errno;
	if ((size_t)n != len)
		return n == 0 && kill(pm->pid, 0) && errno == ESRCH ? -ESRCH : -EFAULT;
	return 0;
}

int procmem__read(struct procmem *pm, uint64_t addr, void *buf, size_t len)
{
	int err;

	if (!len)
		return 0;
	pm->st.reads++;
	if (addr + len < addr) {
		err = -EFAULT;
		goto cleanup;
	}
	if (pm->cb) {
		err = pm->cb(pm->cookie, addr, buf, len);
		goto cleanup;
	}
	if (!pm->use_memfd) {
		struct iovec local = { .iov_base = buf, .iov_len = len };
		struct iovec remote = { .iov_base = (void *)(uintptr_t)addr, .iov_len = len };
		ssize_t n = process_vm_readv(pm->pid, &local, 1, &remote, 1, 0);

		if (n == (ssize_t)len) {
			err = 0;
			goto cleanup;
		}
		if (n >= 0 || errno == EFAULT) {
			err = -EFAULT;
			goto cleanup;
		}
		if (errno == ESRCH) {
			err = -ESRCH;
			goto cleanup;
		}
		/* EPERM under some LSM policies, ENOSYS on kernels built without it. */
		if (errno != EPERM && errno != ENOSYS) {
			err = -errno;
			debug("procmem: pid %d: process_vm_readv(0x%llx, %zu): %s", pm->pid,
			      (unsigned long long)addr, len, strerror(errno));
			goto cleanup;
		}
		debug("procmem: pid %d: process_vm_readv: %s: reading /proc/PID/mem instead", pm->pid,
		      strerror(errno));
		pm->use_memfd = true;
	}
	err = read_memfd(pm, addr, buf, len);
cleanup:
	/* Only for a process that is gone: a live one's data may differ from the file. */
	if (err == -ESRCH && pm->image) {
		const void *p = pm->image(pm->image_cookie, addr, len);

		if (p) {
			memcpy(buf, p, len);
			err = 0;
		}
	}
	if (err)
		pm->st.read_errors++;
	else
		pm->st.bytes += len;
	return err;
}

#define READ_MANY_IOV 1024 /* UIO_MAXIOV */

int procmem__read_many(struct procmem *pm, const uint64_t *addrs, int n, size_t len, void *bufs, int *errs)
{
	struct iovec remote[READ_MANY_IOV];
	int i = 0, ok = 0;

	while (i < n) {
		int k = 0;
		ssize_t got;

		/* A callback backend, /proc/PID/mem, or a partial transfer: one by one. */
		if (pm->cb || pm->use_memfd) {
			errs[i] = procmem__read(pm, addrs[i], (char *)bufs + (size_t)i * len, len);
			ok += !errs[i];
			i++;
			continue;
		}
		for (; k < READ_MANY_IOV && i + k < n; k++) {
			remote[k].iov_base = (void *)(uintptr_t)addrs[i + k];
			remote[k].iov_len = len;
		}
		{
			struct iovec local = { .iov_base = (char *)bufs + (size_t)i * len, .iov_len = (size_t)k * len };

			got = process_vm_readv(pm->pid, &local, 1, remote, (unsigned long)k, 0);
		}
		pm->st.reads++;
		if (got < 0) {
			if (errno == ESRCH) {
				for (; i < n; i++)
					errs[i] = -ESRCH;
				pm->st.read_errors++;
				return ok;
			}
			/* EPERM/ENOSYS and the like: procmem__read knows the fallbacks */
			errs[i] = procmem__read(pm, addrs[i], (char *)bufs + (size_t)i * len, len);
			ok += !errs[i];
			i++;
			continue;
		}
		/* Transfers stop at the first element that fails, never inside one. */
		for (int j = 0; j < got / (ssize_t)len; j++)
			errs[i + j] = 0;
		ok += (int)(got / (ssize_t)len);
		pm->st.bytes += (uint64_t)got;
		i += (int)(got / (ssize_t)len);
		if (got < (ssize_t)k * (ssize_t)len) {
			errs[i++] = -EFAULT;
			pm->st.read_errors++;
		}
	}
	return ok;
}

int procmem__read_u64(struct procmem *pm, uint64_t addr, uint64_t *v)
{
	return procmem__read(pm, addr, v, sizeof(*v));
}

int procmem__read_gostring(struct procmem *pm, uint64_t addr, char *buf, size_t size)
{
	uint64_t hdr[2];
	size_t n;
	int err;

	if (!size)
		return -EINVAL;
	buf[0] = '\0';
	err = procmem__read(pm, addr, hdr, sizeof(hdr));
	if (err)
		return err;
	if (hdr[1] > (1u << 30))
		return -EINVAL;
	n = hdr[1] < size - 1 ? hdr[1] : size - 1;
	if (n && (err = procmem__read(pm, hdr[0], buf, n)))
		return err;
	buf[n] = '\0';
	return (int)hdr[1];
}

int procmem__maps(struct procmem *pm, struct pm_map *out, int max)
{
	char path[64], line[4096], perms[8], exe_path[1024];
	struct stat exe;
	bool have_exe;
	ssize_t exe_len;
	FILE *f;
	int n = 0;

	if (!pm->pid)
		return -ENOTSUP;
	snprintf(path, sizeof(path), "/proc/%d/exe", pm->pid);
	have_exe = stat(path, &exe) == 0;
	exe_len = readlink(path, exe_path, sizeof(exe_path) - 1);
	exe_path[exe_len > 0 ? exe_len : 0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/maps", pm->pid);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? -ESRCH : -errno;
	while (n < max && fgets(line, sizeof(line), f)) {
		uint64_t start, end, pgoff, ino;
		unsigned int maj, min;
		struct pm_map *m = &out[n];
		int name = 0;
		char *nl;

		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %x:%x %" SCNu64 " %n", &start,
			   &end, perms, &pgoff, &maj, &min, &ino, &name) != 7)
			continue;
		if ((nl = strchr(line, '\n')))
			*nl = '\0';
		m->start = start;
		m->end = end;
		m->pgoff = pgoff;
		m->r = perms[0] == 'r';
		m->w = perms[1] == 'w';
		m->x = perms[2] == 'x';
		m->exe = have_exe && ino && ino == exe.st_ino && makedev(maj, min) == exe.st_dev;
		/* overlayfs shows the lower layer's device in maps: fall back to the path. */
		if (!m->exe && ino && exe_len > 0 && name > 0 && !strcmp(line + name, exe_path))
			m->exe = true;
		n++;
	}
	fclose(f);
	return n;
}

int procmem__exe_bias(struct procmem *pm, uint64_t vaddr, uint64_t file_off, uint64_t *bias)
{
	struct pm_map *maps;
	int n, err = -ENOENT;

	maps = calloc(4096, sizeof(*maps));
	if (!maps)
		return -ENOMEM;
	n = procmem__maps(pm, maps, 4096);
	if (n < 0) {
		err = n;
		goto cleanup;
	}
	for (int i = 0; i < n; i++) {
		if (!maps[i].exe || file_off < maps[i].pgoff ||
		    file_off - maps[i].pgoff >= maps[i].end - maps[i].start)
			continue;
		*bias = maps[i].start + (file_off - maps[i].pgoff) - vaddr;
		err = 0;
		break;
	}
cleanup:
	free(maps);
	return err;
}

void procmem__stats(const struct procmem *pm, struct procmem_stats *st)
{
	*st = pm->st;
}
