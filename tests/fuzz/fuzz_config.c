/* libFuzzer harness: the daemon's INI configuration (settings table, INI reader,
 * section and selector checks). A config is read from a file, so the input goes
 * through a memfd. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "daemon/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64], err[512];
	struct config *c;
	int fd = memfd_create("cfg", 0);

	if (fd < 0)
		return 0;
	if (write(fd, data, size) == (ssize_t)size) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		c = config__load(path, false, NULL, 0, err, sizeof(err));
		config__free(c);
	}
	close(fd);
	return 0;
}
