/* libFuzzer harness: goelf__open on arbitrary bytes (from memory, and through a
 * file for odd-sized inputs), then every query the rest of ctxtrace makes. */
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "binary/goelf.h"

static void exercise(struct goelf *ge)
{
	static const char *names[] = { "main.a", "runtime.x", "runtime.x.abi0", "main.f.1",
				       "context.WithCancel", "f[int]", "runtime.newproc1" };
	struct go_frame fr[16];
	struct go_func f;
	uint64_t a, s, off;
	size_t i, n = goelf__func_count(ge);

	goelf__buildinfo(ge);
	for (i = 0; i < n && i < 256; i++) {
		if (goelf__func(ge, i, &f))
			continue;
		goelf__symbolize(ge, f.entry, fr, 16);
		goelf__symbolize(ge, f.entry + (f.end - f.entry) / 2, fr, 16);
		goelf__symbolize(ge, f.end - 1, fr, 16);
		goelf__func_at(ge, f.end, &f);
	}
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		goelf__find_func(ge, names[i], &f);
	goelf__find_data(ge, "runtime.allgs", &a, &s);
	goelf__symbolize(ge, goelf__text_start(ge), fr, 1);
	goelf__vaddr_to_offset(ge, goelf__pclntab_addr(ge), &off);
	goelf__at(ge, goelf__text_section(ge), 64);
	goelf__at(ge, UINT64_MAX - 8, 16);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct goelf_opts opts = { .no_symtab = size % 3 == 0 };
	struct goelf *ge;

	if (size % 2) {
		int fd = memfd_create("fuzz_elf", MFD_CLOEXEC);
		char path[64];

		if (fd < 0)
			return 0;
		if (write(fd, data, size) == (ssize_t)size) {
			snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
			ge = goelf__open_opts(path, &opts);
			if (ge)
				exercise(ge);
			goelf__free(ge);
		}
		close(fd);
		return 0;
	}
	ge = goelf__open_mem(data, size, "fuzz", &opts);
	if (ge)
		exercise(ge);
	goelf__free(ge);
	return 0;
}
