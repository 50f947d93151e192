/* WithValue calls waiting to learn the address of the value context they made
 * (the probe sees the call's arguments, not its result): matched when the context
 * is met as a parent, emitted with id 0 when they age out or the queue is full. */
#include <string.h>

#include "events/decoder.h"
#include "events/decoder_int.h"
#include "events/event.h"
#include "util/hash.h"

static uint32_t pv_bucket(const struct decoder *d, const uint64_t *w)
{
	uint64_t h = 0;

	for (int i = 0; i < 6; i++)
		h = ct_mix64(h ^ w[i]) + i;
	return h & (d->pv_nbuckets - 1);
}

void dec_pv_unlink(struct decoder *d, int32_t idx)
{
	int32_t *p = &d->pv_buckets[pv_bucket(d, d->pv[idx].w)];

	while (*p >= 0 && *p != idx)
		p = &d->pv[*p].next;
	if (*p == idx)
		*p = d->pv[idx].next;
	d->pv[idx].live = false;
	d->pv_live--;
}

static void pv_emit_anonymous(struct decoder *d, struct pval *v)
{
	struct ct_event ev = { .type = EV_CTX_CREATE, .pid = d->o.pid, .tid = v->tid,
			       .ts_ns = v->ts, .goid = v->goid };

	ev.ctx_create.kind = CTX_VALUE;
	ev.ctx_create.type_name = d->n_value;
	dec_set_ancestry(&ev.ctx_create, &v->parent);
	ev.ctx_create.stack = v->stack;
	d->st.values_anonymous++;
	dec_emit(d, &ev);
}

/* Drops the oldest slot, emitting it when still pending. */
static void pv_pop(struct decoder *d)
{
	uint32_t tail = (d->pv_head + d->pv_cap - d->pv_len) % d->pv_cap;
	struct pval *v = &d->pv[tail];

	if (v->live) {
		dec_pv_unlink(d, (int32_t)tail);
		pv_emit_anonymous(d, v);
	}
	d->pv_len--;
}

void dec_pv_push(struct decoder *d, const struct pval *nv)
{
	int32_t idx, *p;

	if (d->pv_len == d->pv_cap)
		pv_pop(d);
	idx = (int32_t)d->pv_head;
	d->pv[idx] = *nv;
	d->pv[idx].live = true;
	d->pv[idx].next = -1;
	/* Appended at the chain's end: equal calls match oldest first. */
	for (p = &d->pv_buckets[pv_bucket(d, nv->w)]; *p >= 0; p = &d->pv[*p].next)
		;
	*p = idx;
	d->pv_head = (d->pv_head + 1) % d->pv_cap;
	d->pv_len++;
	d->pv_live++;
}

struct pval *dec_pv_match(struct decoder *d, const uint64_t *w)
{
	for (int32_t i = d->pv_buckets[pv_bucket(d, w)]; i >= 0; i = d->pv[i].next) {
		if (!memcmp(d->pv[i].w, w, sizeof(d->pv[i].w)))
			return &d->pv[i];
	}
	return NULL;
}

void decoder__expire(struct decoder *d, uint64_t now_ns)
{
	while (d->pv_len) {
		uint32_t tail = (d->pv_head + d->pv_cap - d->pv_len) % d->pv_cap;
		struct pval *v = &d->pv[tail];

		if (v->live && v->ts + d->o.value_max_age_ns > now_ns)
			break;
		pv_pop(d);
	}
}

void decoder__flush(struct decoder *d)
{
	while (d->pv_len)
		pv_pop(d);
}
