/* libFuzzer harness: a pclntab and its go:func.* bytes, then names, pc lookups
 * and symbolization with inline frames. Input: u16 gofunc length, u16 go minor
 * version, u64 runtime.text, the pclntab, then the gofunc bytes (the last ones). */
#include <stdint.h>
#include <string.h>

#include "binary/goelf.h"
#include "binary/pclntab.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pclntab_params p = { 0 };
	struct go_frame fr[16];
	struct pclntab *t;
	struct go_func f;
	uint16_t glen, minor;
	size_t i, n;

	if (size < 12)
		return 0;
	memcpy(&glen, data, 2);
	memcpy(&minor, data + 2, 2);
	memcpy(&p.text, data + 4, 8);
	data += 12;
	size -= 12;
	if (glen > size)
		glen = size;
	p.data = data;
	p.size = size - glen;
	p.gofunc = glen ? data + size - glen : NULL;
	p.gofunc_size = glen;
	p.go_minor = minor % 64;
	t = pclntab__new(&p);
	if (!t)
		return 0;
	n = pclntab__nfunc(t);
	for (i = 0; i < n && i < 512; i++) {
		char name[600];

		if (pclntab__func(t, i, &f))
			continue;
		pclntab__symbolize(t, f.entry, fr, 16);
		pclntab__symbolize(t, f.end - 1, fr, 16);
		pclntab__symbolize(t, f.entry + (f.end - f.entry) / 3, fr, 3);
		pclntab__find(t, f.name, &f);
		if (strlen(f.name) < 500) {
			strcpy(name, f.name);
			strcat(name, ".abi0");
			pclntab__find(t, name, &f);
		}
	}
	pclntab__func_at(t, p.text - 1, &f);
	pclntab__func_at(t, UINT64_MAX, &f);
	pclntab__find(t, "", &f);
	pclntab__free(t);
	return 0;
}
