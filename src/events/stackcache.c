/* Raw stacks (runtime pcs) -> symbolized, interned stacks, through a direct-mapped
 * cache keyed by the pcs. */
#include <errno.h>

#include "binary/goelf.h"
#include "events/decoder.h"
#include "events/decoder_int.h"
#include "events/event.h"
#include "util/hash.h"
#include "util/intern.h"

#define MAX_FRAMES 128 /* per stack, inline frames expanded */

static int symbolize(struct decoder *d, uint64_t pc, struct go_frame *fr, int max)
{
	if (d->o.symbolize)
		return d->o.symbolize(d->o.sym_cookie, pc, fr, max);
	if (!d->o.ge)
		return -ENOENT;
	return goelf__symbolize(d->o.ge, pc, fr, max);
}

const struct ct_stack *decoder__stack(struct decoder *d, const uint64_t *pcs, int n, bool first_is_ip)
{
	struct ct_frame frames[MAX_FRAMES];
	struct go_frame gf[16];
	uint32_t nf = 0;
	uint64_t key;
	struct scache *e;

	while (n > 0 && !pcs[n - 1])
		n--;
	if (n <= 0)
		return NULL;
	key = ct_mix64(n ^ ((uint64_t)first_is_ip << 8));
	for (int i = 0; i < n; i++)
		key = ct_mix64(key ^ pcs[i]) + i;
	e = &d->sc[key & (d->sc_cap - 1)];
	if (e->key == key && e->st) {
		d->st.stack_hits++;
		return e->st;
	}
	d->st.stack_misses++;
	for (int i = 0; i < n && nf < MAX_FRAMES; i++) {
		/* A return address is past its call: look up the call itself. */
		uint64_t pc = pcs[i] - d->o.load_bias - (i > 0 || !first_is_ip ? 1 : 0);
		int k = symbolize(d, pc, gf, 16);

		if (k <= 0) {
			frames[nf++] = (struct ct_frame){ 0 };
			continue;
		}
		for (int j = 0; j < k && nf < MAX_FRAMES; j++) {
			frames[nf].func = intern__str(d->o.in, gf[j].func);
			frames[nf].file = intern__str(d->o.in, gf[j].file);
			frames[nf].line = gf[j].line > 0 ? (uint32_t)gf[j].line : 0;
			frames[nf].inlined = gf[j].inlined;
			nf++;
		}
	}
	e->key = key;
	e->st = intern__stack(d->o.in, frames, nf);
	return e->st;
}
