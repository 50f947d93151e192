/* libFuzzer harness: .go.buildinfo parsing, both layouts. The input is the
 * section and also the image the old layout's pointers lead into (vaddr
 * 0x400000 = input offset 0). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "binary/buildinfo.h"
#include "binary/goelf.h"

struct image {
	const uint8_t *p;
	size_t n;
};

static const void *read_image(void *ctx, uint64_t vaddr, size_t len)
{
	const struct image *im = ctx;

	if (vaddr < 0x400000 || vaddr - 0x400000 > im->n || len > im->n - (vaddr - 0x400000))
		return NULL;
	return im->p + (vaddr - 0x400000);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct image im = { data, size };
	struct go_buildinfo bi;
	int ma, mi, pa;
	char *s;

	buildinfo__parse(data, size, read_image, &im, &bi);
	buildinfo__parse(data, size, NULL, NULL, &bi);
	buildinfo__parse_modinfo((const char *)data, size, &bi);
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	buildinfo__parse_version(s, &ma, &mi, &pa);
	free(s);
	return 0;
}
