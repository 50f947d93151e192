/* libFuzzer harness for the recording reader. An input whose first byte is odd
 * has its header and chunk checksums recomputed before reading, so the fuzzer
 * gets past the CRCs into the record decoder. Seeds: tests/fuzz/seeds/record. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "events/event.h"
#include "events/record.h"

static uint32_t get_u32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = v >> (8 * i);
}

/* The layout of docs/record-format.md, written out independently of record.c. */
static void fix_crcs(uint8_t *d, size_t n)
{
	size_t pos;
	uint32_t hlen;

	if (n < 16)
		return;
	hlen = get_u32(d + 12);
	if (hlen > n || 16 + (size_t)hlen + 4 > n)
		return;
	put_u32(d + 16 + hlen, (uint32_t)crc32(0, d, 16 + hlen));
	for (pos = 16 + (size_t)hlen + 4; pos + 16 <= n;) {
		uint32_t len = get_u32(d + pos + 4);
		uLong c;

		if (len > n - pos - 16)
			return;
		c = crc32(0, d + pos + 4, 8);
		put_u32(d + pos + 12, (uint32_t)crc32(c, d + pos + 16, len));
		pos += 16 + len;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy;
	struct record *r;
	struct ct_event ev;
	FILE *f;
	int err, n = 0;

	if (size < 1)
		return 0;
	copy = malloc(size);
	if (!copy)
		abort();
	memcpy(copy, data + 1, size - 1);
	if (data[0] & 1)
		fix_crcs(copy, size - 1);
	f = fmemopen(copy, size - 1 ? size - 1 : 1, "rb");
	if (!f)
		abort();
	if (size == 1)
		fgetc(f); /* fmemopen refuses size 0: read the one byte and be at EOF */
	r = record__open_file(f, "fuzz");
	if (!r) {
		free(copy);
		return 0;
	}
	while ((err = record__next(r, &ev)) == 1) {
		n++;
		/* everything an event points to must be readable */
		if (ev.type <= 0 || ev.type >= EV_TYPE_MAX)
			abort();
		if (ev.type == EV_CTX_CREATE) {
			if (ev.ctx_create.type_name)
				(void)strlen(ev.ctx_create.type_name);
			for (uint32_t i = 0; ev.ctx_create.stack && i < ev.ctx_create.stack->n; i++)
				if (ev.ctx_create.stack->frames[i].func)
					(void)strlen(ev.ctx_create.stack->frames[i].func);
		}
		if (ev.type == EV_CTX_CANCEL && ev.ctx_cancel.cause)
			(void)strlen(ev.ctx_cancel.cause);
	}
	/* errors are the documented ones; the end comes only after all events */
	if (err != 0 && err != -ENODATA && err != -EBADMSG && err != -ENOMEM && err != -EIO)
		abort();
	if ((uint64_t)n != record__count(r))
		abort();
	record__close(r);
	free(copy);
	return 0;
}
