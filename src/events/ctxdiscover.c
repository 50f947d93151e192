/* Contexts the decoder knows (created, or read from memory), and contexts read
 * from the target's memory when first met as a parent: pre-existing ones (created
 * before attach) and discovered ones (known only from references). */
#include <errno.h>
#include <string.h>

#include "events/decoder_int.h"
#include "events/event.h"
#include "events/gotypes.h"
#include "events/procmem.h"
#include "util/hash.h"

#define MAX_DEPTH 16   /* parents read from memory, one after the other */
#define MIN_OBJECT_ADDR 0x10000 /* below: never a Go object (mmap_min_addr) */

/* ---- known contexts ---- */

static struct known *kgen_find(struct decoder *d, struct kgen *g, uint64_t id)
{
	uint32_t mask = d->kcap - 1;

	for (uint32_t i = ct_mix64(id) & mask;; i = (i + 1) & mask) {
		if (g->slots[i].id == id)
			return &g->slots[i];
		if (!g->slots[i].id)
			return NULL;
	}
}

static struct known *known_put(struct decoder *d, uint64_t id)
{
	struct kgen *g = &d->gen[d->cur];
	uint32_t mask = d->kcap - 1, i;

	for (i = ct_mix64(id) & mask; g->slots[i].id && g->slots[i].id != id; i = (i + 1) & mask)
		;
	if (!g->slots[i].id) {
		if (g->count + 1 > d->kcap / 2) {
			/* Rotate: the previous generation goes, the current one becomes it. */
			d->cur ^= 1;
			g = &d->gen[d->cur];
			memset(g->slots, 0, d->kcap * sizeof(*g->slots));
			g->count = 0;
			for (i = ct_mix64(id) & mask; g->slots[i].id; i = (i + 1) & mask)
				;
		}
		g->count++;
	}
	memset(&g->slots[i], 0, sizeof(g->slots[i]));
	g->slots[i].id = id;
	return &g->slots[i];
}

static bool known_get(struct decoder *d, uint64_t id, struct known *out)
{
	struct known *k = kgen_find(d, &d->gen[d->cur], id);

	if (k) {
		*out = *k;
		return true;
	}
	k = kgen_find(d, &d->gen[d->cur ^ 1], id);
	if (!k)
		return false;
	*out = *k;
	*known_put(d, id) = *out;
	return true;
}

void dec_set_ancestry(struct ev_ctx_create *c, const struct cref *p)
{
	c->parent = p->id;
	c->parent_kind = p->kind;
	c->ancestor = p->anc;
	c->ancestor_kind = p->anc_kind;
}

void dec_self_ref(struct cref *out, uint64_t id, enum ctx_kind kind, const char *type,
		     const struct ev_ctx_create *c)
{
	out->id = id;
	out->kind = kind;
	out->type = type;
	if (kind == CTX_VALUE || kind == CTX_CUSTOM) {
		out->anc = c->ancestor;
		out->anc_kind = c->ancestor_kind;
		/* A custom context whose parent could not be found is its own ancestor. */
		if (kind == CTX_CUSTOM && c->parent_kind == CTX_UNKNOWN && !c->parent) {
			out->anc = id;
			out->anc_kind = kind;
		}
	} else {
		out->anc = id;
		out->anc_kind = kind;
	}
}

void dec_remember(struct decoder *d, const struct cref *r, uint64_t vsig)
{
	struct known *k = known_put(d, r->id);

	k->kind = r->kind;
	k->anc = r->anc;
	k->anc_kind = r->anc_kind;
	k->vsig = vsig;
}

/* ---- reading contexts from memory ---- */


int dec_read_words(struct decoder *d, uint64_t addr, uint64_t *w, size_t n)
{
	int err = procmem__read(d->o.mem, addr, w, n * 8);

	if (err)
		d->st.mem_errors++;
	return err;
}

/* The Context interface stored at addr (a cancelCtx's parent, say). */
static void resolve_at(struct decoder *d, uint64_t addr, uint64_t ts, struct cref *out)
{
	uint64_t w[2];

	memset(out, 0, sizeof(*out));
	for (int hops = 0; hops < 4; hops++) {
		const char *name;

		if (dec_read_words(d, addr, w, 2) || !w[0])
			return;
		/* Go 1.21+: a parent with an AfterFunc method is stored wrapped in a
		 * context.stopCtx{Context, stop}; the real parent is inside. */
		name = gotypes__itab_name(d->o.types, w[0]);
		if (!name || strcmp(name, "context.stopCtx"))
			break;
		addr = w[1];
	}
	dec_resolve(d, w[0], w[1], ts, out);
}

static uint64_t value_sig(const uint64_t *w)
{
	uint64_t h = 0x77;

	for (int i = 0; i < 6; i++)
		h = ct_mix64(h ^ w[i]);
	return h | 1;
}

int dec_read_bytes(struct decoder *d, uint64_t addr, void *buf, size_t n)
{
	int err = procmem__read(d->o.mem, addr, buf, n);

	if (err)
		d->st.mem_errors++;
	return err;
}

/* {Context, key, val} of the valueCtx at addr, in one read (the fields are
 * adjacent in every Go version). */
static int read_value(struct decoder *d, uint64_t addr, uint64_t *w)
{
	int64_t lo = d->off_value[0], hi = d->off_value[0];
	uint64_t buf[16];

	for (int i = 1; i < 3; i++) {
		lo = d->off_value[i] < lo ? d->off_value[i] : lo;
		hi = d->off_value[i] > hi ? d->off_value[i] : hi;
	}
	if (hi + 16 - lo > (int64_t)sizeof(buf) || (lo | hi) & 7)
		return -EINVAL;
	if (dec_read_words(d, addr + lo, buf, (hi + 16 - lo) / 8))
		return -EFAULT;
	for (int i = 0; i < 3; i++)
		memcpy(&w[2 * i], (char *)buf + (d->off_value[i] - lo), 16);
	return 0;
}

/* Heuristic for user-defined Context types: the first interface in the object's
 * first 64 bytes whose interface type is context.Context is the parent. */
static void scan_custom(struct decoder *d, uint64_t data, uint64_t ts, struct cref *out)
{
	uint64_t w[8];

	memset(out, 0, sizeof(*out));
	if (dec_read_words(d, data, w, 8))
		return;
	for (int i = 0; i < 7; i++) {
		const char *iface;

		if (!w[i] || !w[i + 1] || (w[i] & 7))
			continue;
		iface = gotypes__itab_iface_name(d->o.types, w[i]);
		if (iface && !strcmp(iface, "context.Context")) {
			dec_resolve(d, w[i], w[i + 1], ts, out);
			return;
		}
	}
}

/* A context not seen before: read it from memory and emit its ctx_create (after
 * its own unknown parents). */
static void discover(struct decoder *d, enum ctx_kind kind, const char *type, uint64_t data,
		     uint64_t ts, struct cref *out)
{
	struct ct_event ev = { .type = EV_CTX_CREATE, .pid = d->o.pid, .ts_ns = ts };
	struct ev_ctx_create *c = &ev.ctx_create;
	struct cref p = { 0 };
	uint64_t w[6], vsig = 0;
	uint8_t raw[24];

	if (d->depth >= MAX_DEPTH) {
		*out = (struct cref){ .id = data, .kind = kind, .type = type, .anc = data, .anc_kind = kind };
		return;
	}
	d->depth++;
	c->id = data;
	c->kind = kind;
	c->type_name = type;
	switch (kind) {
	case CTX_CANCEL:
	case CTX_TIMER:
	case CTX_AFTERFUNC:
		resolve_at(d, data + d->off_cancel_ctx, ts, &p);
		if (kind == CTX_TIMER && !procmem__read(d->o.mem, data + d->off_timer_deadline, raw, sizeof(raw)))
			c->has_deadline = go_time_unix_ns(raw, &c->deadline_unix_ns);
		c->preexisting = true;
		d->st.preexisting++;
		break;
	case CTX_VALUE: {
		struct pval *v;

		if (read_value(d, data, w)) {
			c->preexisting = true;
			d->st.preexisting++;
			break;
		}
		vsig = value_sig(w);
		v = dec_pv_match(d, w);
		if (v) {
			ev.ts_ns = v->ts;
			ev.goid = v->goid;
			ev.tid = v->tid;
			c->stack = v->stack;
			p = v->parent;
			dec_pv_unlink(d, (int32_t)(v - d->pv));
			d->st.values_matched++;
		} else if (d->o.values_unprobed) {
			dec_resolve(d, w[0], w[1], ts, &p);
			c->discovered = true;
			d->st.discovered++;
		} else {
			dec_resolve(d, w[0], w[1], ts, &p);
			c->preexisting = true;
			d->st.preexisting++;
		}
		break;
	}
	case CTX_WITHOUTCANCEL:
		resolve_at(d, data + d->off_without_c, ts, &p);
		c->discovered = true;
		d->st.discovered++;
		break;
	default:
		scan_custom(d, data, ts, &p);
		c->discovered = true;
		d->st.discovered++;
		break;
	}
	dec_set_ancestry(c, &p);
	dec_self_ref(out, data, kind, type, c);
	dec_remember(d, out, vsig);
	dec_emit(d, &ev);
	d->depth--;
}

/* A Context interface value (itab, data) as a parent: known, or discovered now. */
void dec_resolve(struct decoder *d, uint64_t tab, uint64_t data, uint64_t ts, struct cref *out)
{
	const char *type = NULL, *iface;
	enum ctx_kind kind;
	struct known k;

	memset(out, 0, sizeof(*out));
	if (!tab)
		return;
	/* Only an interface value whose itab is a context.Context itab is a context:
	 * memory that is not one (a stale or reused slot, a zero-size type's address)
	 * must not become a "custom" context. An object a Context points to is a Go
	 * object: aligned, and never in the first pages (a parent of 0x4 is garbage). */
	iface = gotypes__itab_iface_name(d->o.types, tab);
	if (!iface || strcmp(iface, "context.Context")) {
		d->st.not_context++;
		return;
	}
	if (data && (data < MIN_OBJECT_ADDR || (data & 7))) {
		d->st.not_context++;
		return;
	}
	kind = gotypes__ctx_kind(d->o.types, tab, data, &type);
	out->type = type;
	if (kind == CTX_BACKGROUND || kind == CTX_TODO) {
		/* Roots are not objects worth an id: Go 1.21+ gives both the same address. */
		out->kind = out->anc_kind = kind;
		return;
	}
	if (kind == CTX_UNKNOWN || !data) {
		out->id = out->anc = data;
		out->kind = out->anc_kind = CTX_UNKNOWN;
		return;
	}
	if (known_get(d, data, &k) && k.kind == kind) {
		uint64_t w[6];

		/* A value context's address can be reused after a GC: check it still
		 * holds what it held. */
		if (kind != CTX_VALUE || (!read_value(d, data, w) && value_sig(w) == k.vsig)) {
			*out = (struct cref){ .id = data, .kind = kind, .type = type, .anc = k.anc,
					      .anc_kind = k.anc_kind };
			return;
		}
	}
	discover(d, kind, type, data, ts, out);
}

void dec_ensure_known(struct decoder *d, uint64_t id, enum ctx_kind kind, uint64_t ts)
{
	struct known k;
	struct cref out;

	if (known_get(d, id, &k))
		return;
	discover(d, kind, kind == CTX_TIMER ? d->n_timer : kind == CTX_AFTERFUNC ? d->n_afterfunc : d->n_cancel,
		 id, ts, &out);
}
