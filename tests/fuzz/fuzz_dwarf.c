/* libFuzzer harness for ctxtrace's DWARF offset reader (libdw). libdw reads files,
 * so each input goes to a memfd. Seeds: tests/fuzz/seeds/dwarf (gen-seeds.sh). */
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "binary/offsets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	struct go_offsets o;
	int err;

	if (fd < 0)
		fd = memfd_create("fuzz_dwarf", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	err = offsets__from_dwarf_fd(fd, &o);
	for (int f = 0; f < GO_OFF_COUNT; f++) {
		/* Found fields are sane offsets; everything else is absent. */
		if (o.src[f] == GO_OFF_DWARF ? (err || o.v[f] < 0 || o.v[f] >= (1 << 20))
					      : (o.src[f] != GO_OFF_ABSENT || o.v[f] != -1))
			abort();
	}
	return 0;
}
