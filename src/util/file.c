#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "util/file.h"
#include "util/log.h"

static const char *kind(mode_t m)
{
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISFIFO(m))
		return "a FIFO";
	if (S_ISCHR(m))
		return "a character device";
	if (S_ISBLK(m))
		return "a block device";
	if (S_ISSOCK(m))
		return "a socket";
	return "not a regular file";
}

static void human(char *buf, size_t size, uint64_t b)
{
	if (b >= (1ULL << 30))
		snprintf(buf, size, "%.1f GB", (double)b / (1ULL << 30));
	else if (b >= (1ULL << 20))
		snprintf(buf, size, "%.1f MB", (double)b / (1ULL << 20));
	else
		snprintf(buf, size, "%" PRIu64 " bytes", b);
}

int file_open_regular(const char *path, uint64_t max_size, uint64_t *size)
{
	struct statfs sf;
	struct stat st;
	int fd, err, fl;

	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		err = errno;
		ct_errmsg_set("%s", strerror(err));
		return -err;
	}
	if (fstat(fd, &st)) {
		err = errno;
		ct_errmsg_set("%s", strerror(err));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		err = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
		ct_errmsg_set("%s, not a regular file", kind(st.st_mode));
		goto fail;
	}
	/* /proc and /sys files are "regular" with a size of 0 or 4096 that says nothing
	 * about what they hold. */
	if (!fstatfs(fd, &sf) && (sf.f_type == PROC_SUPER_MAGIC || sf.f_type == SYSFS_MAGIC)) {
		err = EINVAL;
		ct_errmsg_set("a %s file, not a regular file", sf.f_type == PROC_SUPER_MAGIC ? "/proc" : "/sys");
		goto fail;
	}
	if (max_size && (uint64_t)st.st_size > max_size) {
		char have[32], most[32];

		human(have, sizeof(have), (uint64_t)st.st_size);
		human(most, sizeof(most), max_size);
		err = EFBIG;
		ct_errmsg_set("%s, more than the %s accepted", have, most);
		goto fail;
	}
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK)) {
		err = errno;
		ct_errmsg_set("%s", strerror(err));
		goto fail;
	}
	if (size)
		*size = (uint64_t)st.st_size;
	return fd;
fail:
	close(fd);
	return -err;
}

FILE *file_fopen_regular(const char *path, uint64_t max_size)
{
	int fd = file_open_regular(path, max_size, NULL);
	FILE *f;

	if (fd < 0) {
		errno = -fd;
		return NULL;
	}
	f = fdopen(fd, "r");
	if (!f) {
		int err = errno;

		close(fd);
		ct_errmsg_set("%s", strerror(err));
		errno = err;
	}
	return f;
}
