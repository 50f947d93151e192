#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "binary/goelf.h"
#include "binary/offsets.h"
#include "ctxtrace.h"
#include "events/decoder.h"
#include "events/event.h"
#include "events/gotypes.h"
#include "events/procmem.h"
#include "util/hash.h"
#include "util/hashmap.h"
#include "util/intern.h"

#define DEF_VALUE_AGE_NS (2ULL * 1000000000ULL)
#define DEF_VALUE_MAX 4096
#define DEF_KNOWN_MAX (1u << 18)
#define DEF_STACK_CACHE 16384
#define MAX_DEPTH 16   /* parents read from memory, one after the other */
#define MIN_OBJECT_ADDR 0x10000 /* below: never a Go object (mmap_min_addr) */
#define MAX_FRAMES 128 /* per stack, inline frames expanded */
#define ERRTEXT_SLOTS 256
#define ERRTEXT_RECHECK_NS 100000000ULL

/* A context seen (created, or read from memory). anc is what a child of it takes
 * as its ancestor: itself, or for value and custom contexts their own ancestor. */
struct known {
	uint64_t id; /* 0: empty slot */
	uint64_t anc;
	uint64_t vsig; /* value contexts: signature of {Context, key, val} */
	uint8_t kind, anc_kind;
};

/* Contexts are remembered in two generations: when the current one is half full
 * the previous one is dropped, so memory is bounded and recently used contexts
 * (promoted on lookup) stay. */
struct kgen {
	struct known *slots;
	uint32_t count;
};

struct cref {
	uint64_t id;
	enum ctx_kind kind;
	const char *type;
	uint64_t anc;
	enum ctx_kind anc_kind;
};

/* A WithValue call waiting to learn the address of the context it made. */
struct pval {
	uint64_t w[6]; /* parent tab/data, key tab/data, val tab/data */
	uint64_t ts, goid;
	uint32_t tid;
	bool live;
	int32_t next; /* bucket chain */
	struct cref parent;
	const struct ct_stack *stack;
};

struct scache {
	uint64_t key;
	const struct ct_stack *st;
};

struct errtext {
	uint64_t data, ptr, len, checked;
	const char *text;
};

struct decoder {
	struct decoder_opts o;
	struct kgen gen[2];
	int cur;
	uint32_t kcap; /* slots per generation */
	struct pval *pv;
	uint32_t pv_cap, pv_head, pv_len, pv_live;
	int32_t *pv_buckets;
	uint32_t pv_nbuckets;
	struct scache *sc;
	uint32_t sc_cap;
	struct hmap snap; /* goids emitted as pre-existing */
	struct errtext errtext[ERRTEXT_SLOTS]; /* by object address */
	int64_t off_cancel_ctx, off_timer_deadline, off_value[3], off_without_c;
	const char *n_value, *n_cancel, *n_timer, *n_afterfunc, *s_deadline;
	int depth;
	/* The last (*timerCtx).cancel hit, to drop its inner (*cancelCtx).cancel hit
	 * when the stack cannot tell. */
	uint64_t last_timer_goid, last_timer_ctx;
	struct decoder_stats st;
};

static uint32_t pow2_at_least(uint64_t n)
{
	uint32_t p = 16;

	while (p < n && p < (1u << 30))
		p <<= 1;
	return p;
}

static int64_t off_of(const struct decoder *d, enum go_off f)
{
	int64_t v = offsets__get(d->o.off, d->o.go_minor, f);

	return v >= 0 ? v : 0;
}

bool go_time_unix_ns(const void *raw, int64_t *out)
{
	/* time.Time: wall's top bit says whether it holds seconds since 1885 (33 bits)
	 * beside the nanoseconds (30 bits); otherwise ext holds seconds since year 1. */
	const int64_t wall_to_internal = (1884LL * 365 + 1884 / 4 - 1884 / 100 + 1884 / 400) * 86400;
	const int64_t unix_to_internal = (1969LL * 365 + 1969 / 4 - 1969 / 100 + 1969 / 400) * 86400;
	uint64_t wall;
	int64_t ext, sec, nsec;

	memcpy(&wall, raw, 8);
	memcpy(&ext, (const char *)raw + 8, 8);
	nsec = (int64_t)(wall & ((1u << 30) - 1));
	if (wall >> 63)
		sec = wall_to_internal + (int64_t)((wall << 1) >> 31);
	else
		sec = ext;
	if (!(wall >> 63) && !sec && !nsec)
		return false;
	sec -= unix_to_internal;
	if (sec > INT64_MAX / 1000000000LL - 1)
		*out = INT64_MAX;
	else if (sec < INT64_MIN / 1000000000LL + 1)
		*out = INT64_MIN;
	else
		*out = sec * 1000000000LL + nsec;
	return true;
}

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

/* ---- emitting ---- */

static void emit(struct decoder *d, const struct ct_event *ev)
{
	d->st.events++;
	if (d->o.emit)
		d->o.emit(d->o.cookie, ev);
}

static void set_ancestry(struct ev_ctx_create *c, const struct cref *p)
{
	c->parent = p->id;
	c->parent_kind = p->kind;
	c->ancestor = p->anc;
	c->ancestor_kind = p->anc_kind;
}

static void self_ref(struct cref *out, uint64_t id, enum ctx_kind kind, const char *type,
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

static void remember(struct decoder *d, const struct cref *r, uint64_t vsig)
{
	struct known *k = known_put(d, r->id);

	k->kind = r->kind;
	k->anc = r->anc;
	k->anc_kind = r->anc_kind;
	k->vsig = vsig;
}

/* ---- pending WithValue calls ---- */

static uint32_t pv_bucket(const struct decoder *d, const uint64_t *w)
{
	uint64_t h = 0;

	for (int i = 0; i < 6; i++)
		h = ct_mix64(h ^ w[i]) + i;
	return h & (d->pv_nbuckets - 1);
}

static void pv_unlink(struct decoder *d, int32_t idx)
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
	set_ancestry(&ev.ctx_create, &v->parent);
	ev.ctx_create.stack = v->stack;
	d->st.values_anonymous++;
	emit(d, &ev);
}

/* Drops the oldest slot, emitting it when still pending. */
static void pv_pop(struct decoder *d)
{
	uint32_t tail = (d->pv_head + d->pv_cap - d->pv_len) % d->pv_cap;
	struct pval *v = &d->pv[tail];

	if (v->live) {
		pv_unlink(d, (int32_t)tail);
		pv_emit_anonymous(d, v);
	}
	d->pv_len--;
}

static void pv_push(struct decoder *d, const struct pval *nv)
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

static struct pval *pv_match(struct decoder *d, const uint64_t *w)
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

/* ---- stacks ---- */

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

/* ---- reading contexts from memory ---- */

static void resolve(struct decoder *d, uint64_t tab, uint64_t data, uint64_t ts, struct cref *out);

static int read_words(struct decoder *d, uint64_t addr, uint64_t *w, size_t n)
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

		if (read_words(d, addr, w, 2) || !w[0])
			return;
		/* Go 1.21+: a parent with an AfterFunc method is stored wrapped in a
		 * context.stopCtx{Context, stop}; the real parent is inside. */
		name = gotypes__itab_name(d->o.types, w[0]);
		if (!name || strcmp(name, "context.stopCtx"))
			break;
		addr = w[1];
	}
	resolve(d, w[0], w[1], ts, out);
}

static uint64_t value_sig(const uint64_t *w)
{
	uint64_t h = 0x77;

	for (int i = 0; i < 6; i++)
		h = ct_mix64(h ^ w[i]);
	return h | 1;
}

static int read_words_bytes(struct decoder *d, uint64_t addr, void *buf, size_t n)
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
	if (read_words(d, addr + lo, buf, (hi + 16 - lo) / 8))
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
	if (read_words(d, data, w, 8))
		return;
	for (int i = 0; i < 7; i++) {
		const char *iface;

		if (!w[i] || !w[i + 1] || (w[i] & 7))
			continue;
		iface = gotypes__itab_iface_name(d->o.types, w[i]);
		if (iface && !strcmp(iface, "context.Context")) {
			resolve(d, w[i], w[i + 1], ts, out);
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
		v = pv_match(d, w);
		if (v) {
			ev.ts_ns = v->ts;
			ev.goid = v->goid;
			ev.tid = v->tid;
			c->stack = v->stack;
			p = v->parent;
			pv_unlink(d, (int32_t)(v - d->pv));
			d->st.values_matched++;
		} else if (d->o.values_unprobed) {
			resolve(d, w[0], w[1], ts, &p);
			c->discovered = true;
			d->st.discovered++;
		} else {
			resolve(d, w[0], w[1], ts, &p);
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
	set_ancestry(c, &p);
	self_ref(out, data, kind, type, c);
	remember(d, out, vsig);
	emit(d, &ev);
	d->depth--;
}

/* A Context interface value (itab, data) as a parent: known, or discovered now. */
static void resolve(struct decoder *d, uint64_t tab, uint64_t data, uint64_t ts, struct cref *out)
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

/* ---- records ---- */

static bool func_is(const struct ct_frame *f, const char *name)
{
	return f && f->func && !strcmp(f->func, name);
}

static bool func_has(const struct ct_frame *f, const char *s)
{
	return f && f->func && strstr(f->func, s);
}

static const struct ct_frame *frame_at(const struct ct_stack *st, uint32_t i)
{
	return st && i < st->n ? &st->frames[i] : NULL;
}

/* Text of an error interface value: errors.New strings are read, the context
 * package's deadline error is spelled out, anything else is its type name.
 * An errorString never changes, but its address may hold another one after a GC:
 * a cached text is checked again (one read) when it is ERRTEXT_RECHECK_NS old.
 * Without that, reading context.Canceled on every cancel was half the decoder's
 * CPU time. When the target is gone, the last text read is used. */
static const char *error_text(struct decoder *d, uint64_t tab, uint64_t data, uint64_t ts)
{
	const char *name;
	uint64_t hdr[2];
	struct errtext *e;
	char buf[256];
	size_t n;

	if (!tab)
		return NULL;
	name = gotypes__itab_name(d->o.types, tab);
	if (!name)
		return NULL;
	if (!strcmp(name, "context.deadlineExceededError"))
		return d->s_deadline;
	if (strcmp(name, "*errors.errorString") || !data)
		return name;
	e = &d->errtext[ct_mix64(data) % ERRTEXT_SLOTS];
	if (e->text && e->data == data && ts >= e->checked && ts - e->checked < ERRTEXT_RECHECK_NS)
		return e->text;
	if (read_words(d, data, hdr, 2))
		return e->text && e->data == data ? e->text : name;
	if (e->text && e->data == data && e->ptr == hdr[0] && e->len == hdr[1]) {
		e->checked = ts;
		return e->text;
	}
	n = hdr[1] < sizeof(buf) - 1 ? hdr[1] : sizeof(buf) - 1;
	if (hdr[1] > (1u << 30) || (n && read_words_bytes(d, hdr[0], buf, n)))
		return name;
	buf[n] = '\0';
	e->data = data;
	e->ptr = hdr[0];
	e->len = hdr[1];
	e->checked = ts;
	e->text = intern__str(d->o.in, buf);
	return e->text ? e->text : name;
}

static void ensure_cancelled_known(struct decoder *d, uint64_t id, enum ctx_kind kind, uint64_t ts)
{
	struct known k;
	struct cref out;

	if (known_get(d, id, &k))
		return;
	discover(d, kind, kind == CTX_TIMER ? d->n_timer : kind == CTX_AFTERFUNC ? d->n_afterfunc : d->n_cancel,
		 id, ts, &out);
}

static void fill_hdr(struct decoder *d, struct ct_event *ev, const struct ct_hdr *h, enum ct_event_type t)
{
	ev->type = t;
	ev->pid = h->pid ? h->pid : (uint32_t)d->o.pid;
	ev->tid = h->tid;
	ev->ts_ns = h->ts_ns;
	ev->goid = h->goid;
}

static int on_ctx_create(struct decoder *d, const struct ct_ctx_create *r)
{
	struct ct_event ev = { 0 };
	struct ev_ctx_create *c = &ev.ctx_create;
	struct cref p, self;
	const char *type = NULL;
	enum ctx_kind kind;

	fill_hdr(d, &ev, &r->h, EV_CTX_CREATE);
	c->id = r->ctx ? r->ctx : r->child.data;
	if (!c->id)
		return -EINVAL;
	kind = gotypes__ctx_kind(d->o.types, r->child.tab, r->child.data, &type);
	c->kind = kind;
	c->type_name = type;
	resolve(d, r->parent.tab, r->parent.data, r->h.ts_ns, &p);
	set_ancestry(c, &p);
	if (kind == CTX_TIMER)
		c->has_deadline = go_time_unix_ns(r->deadline, &c->deadline_unix_ns);
	c->stack = decoder__stack(d, (const uint64_t *)r->stack, r->h.nstack, true);
	self_ref(&self, c->id, kind, type, c);
	remember(d, &self, 0);
	emit(d, &ev);
	return 0;
}

static int on_value(struct decoder *d, const struct ct_value_create *r)
{
	struct pval v = { 0 };

	v.w[0] = r->parent.tab;
	v.w[1] = r->parent.data;
	v.w[2] = r->key.tab;
	v.w[3] = r->key.data;
	v.w[4] = r->val.tab;
	v.w[5] = r->val.data;
	v.ts = r->h.ts_ns;
	v.goid = r->h.goid;
	v.tid = r->h.tid;
	resolve(d, r->parent.tab, r->parent.data, r->h.ts_ns, &v.parent);
	v.stack = decoder__stack(d, (const uint64_t *)r->stack, r->h.nstack, true);
	pv_push(d, &v);
	return 0;
}

/* Why a context was cancelled, from who called the probed cancel method (frame 1
 * of the stack; frame 0 is the method itself) and the error:
 * - (*cancelCtx).cancel called by (*timerCtx).cancel is the timer's own
 *   embedded cancel: when (*timerCtx).cancel has a probe of its own, its hit
 *   already reported it (dropped); when it has none (the plan leaves it out: one
 *   probe hit less per timer cancel), this is the timer's cancel: look one
 *   frame further;
 * - called by (*afterFuncCtx).cancel: the same for an AfterFunc context, which
 *   has no probe of its own: look one frame further;
 * - by a cancel method (of the parent) or propagateCancel (and its closures):
 *   propagated from the parent;
 * - anything else (the With* closures, WithDeadline* for a deadline already
 *   past, the timer's closure): the deadline when err is the deadline error,
 *   else an explicit call of the cancel func.
 * Closure names per Go version (go tool nm): context.WithCancel.func1,
 * context.WithDeadline.func1-4 (1.19), context.WithCancelCause.func1,
 * context.WithDeadlineCause.func1-4 (1.21+), context.AfterFunc.func1 (1.21+),
 * context.propagateCancel.func1 (1.19), context.(*cancelCtx).propagateCancel.func1-2
 * (1.21+). */
static enum cancel_reason classify(struct decoder *d, const struct ct_ctx_cancel *r,
				   const struct ct_stack *st, bool deadline_err, bool *drop,
				   bool *afterfunc, bool *timer)
{
	const struct ct_frame *f = frame_at(st, 1);

	*drop = false;
	*afterfunc = false;
	*timer = r->timer;
	if (!r->timer && func_is(f, "context.(*timerCtx).cancel")) {
		if (!d->o.timer_unprobed) {
			*drop = true;
			return CANCEL_UNKNOWN;
		}
		*timer = true;
		f = frame_at(st, 2);
	}
	if (!r->timer && func_is(f, "context.(*afterFuncCtx).cancel")) {
		*afterfunc = true;
		f = frame_at(st, 2);
	}
	if (!f || !f->func) {
		/* No stack: the deadline error still tells a timer that fired. */
		return deadline_err ? CANCEL_DEADLINE : CANCEL_UNKNOWN;
	}
	if (func_is(f, "context.(*cancelCtx).cancel") || func_is(f, "context.(*timerCtx).cancel") ||
	    func_is(f, "context.(*afterFuncCtx).cancel") ||
	    (!strncmp(f->func, "context.", 8) && func_has(f, "propagateCancel")))
		return CANCEL_PARENT;
	return deadline_err ? CANCEL_DEADLINE : CANCEL_EXPLICIT;
}

static int on_ctx_cancel(struct decoder *d, const struct ct_ctx_cancel *r)
{
	struct ct_event ev = { 0 };
	struct ev_ctx_cancel *c = &ev.ctx_cancel;
	const char *errname;
	bool drop, afterfunc, deadline_err, timer;

	if (!r->ctx)
		return -EINVAL;
	fill_hdr(d, &ev, &r->h, EV_CTX_CANCEL);
	c->id = r->ctx;
	c->stack = decoder__stack(d, (const uint64_t *)r->stack, r->h.nstack, true);
	errname = gotypes__itab_name(d->o.types, r->err.tab);
	deadline_err = errname && !strcmp(errname, "context.deadlineExceededError");
	c->reason = classify(d, r, c->stack, deadline_err, &drop, &afterfunc, &timer);
	if (!drop && !c->stack && !r->timer && d->last_timer_ctx == r->ctx &&
	    d->last_timer_goid == r->h.goid)
		drop = true;
	if (r->timer) {
		d->last_timer_ctx = r->ctx;
		d->last_timer_goid = r->h.goid;
	} else {
		d->last_timer_ctx = 0;
	}
	if (drop) {
		d->st.dup_cancels++;
		return 0;
	}
	ensure_cancelled_known(d, r->ctx, timer ? CTX_TIMER : afterfunc ? CTX_AFTERFUNC : CTX_CANCEL,
			       r->h.ts_ns);
	c->effective = r->already_err == 0;
	c->err = error_text(d, r->err.tab, r->err.data, r->h.ts_ns);
	if (r->cause.tab)
		c->cause = error_text(d, r->cause.tab, r->cause.data, r->h.ts_ns);
	else if (d->o.go_minor >= 20)
		/* Go 1.20+ (which added the cause) store err as the cause when none is given. */
		c->cause = c->err;
	emit(d, &ev);
	return 0;
}

static int on_ctx_done(struct decoder *d, const struct ct_ctx_done *r)
{
	struct ct_event ev = { 0 };

	fill_hdr(d, &ev, &r->h, EV_CTX_DONE);
	ev.ctx_done.id = r->ctx;
	ev.ctx_done.site = decoder__stack(d, (const uint64_t *)&r->pc, 1, false);
	emit(d, &ev);
	return 0;
}

static bool snap_has(const struct decoder *d, uint64_t goid)
{
	return goid && hmap__get_u64(&d->snap, goid);
}

static int snap_add(struct decoder *d, uint64_t goid)
{
	return goid ? hmap__put_u64(&d->snap, goid, 1) : 0;
}

static const char *start_func(struct decoder *d, uint64_t startpc, const struct ct_stack **site)
{
	const struct ct_stack *st = decoder__stack(d, &startpc, 1, true);

	*site = st;
	/* The outermost frame is the function itself (inlined frames come first). */
	return st && st->n ? st->frames[st->n - 1].func : NULL;
}

static void go_create(struct decoder *d, struct ct_event *ev, uint64_t goid, uint64_t parent,
		      uint64_t gopc, uint64_t startpc, bool pre)
{
	struct ev_go_create *g = &ev->go_create;

	g->goid = goid;
	g->parent_goid = parent;
	g->go_site = gopc ? decoder__stack(d, &gopc, 1, false) : NULL;
	g->start_func = startpc ? start_func(d, startpc, &g->start_site) : NULL;
	g->preexisting = pre;
	emit(d, ev);
}

static int on_go_create(struct decoder *d, const struct ct_go_create *r)
{
	struct ct_event ev = { 0 };

	/* Already reported from the goroutine snapshot taken after attach. */
	if (snap_has(d, r->new_goid))
		return 0;
	fill_hdr(d, &ev, &r->h, EV_GO_CREATE);
	go_create(d, &ev, r->new_goid, r->h.goid, r->gopc, r->startpc, false);
	return 0;
}

void decoder__preexisting_go(struct decoder *d, uint64_t goid, uint64_t parent_goid,
			     uint64_t gopc, uint64_t startpc, uint64_t ts_ns)
{
	struct ct_event ev = { .type = EV_GO_CREATE, .pid = d->o.pid, .ts_ns = ts_ns, .goid = parent_goid };

	if (snap_has(d, goid))
		return;
	snap_add(d, goid);
	go_create(d, &ev, goid, parent_goid, gopc, startpc, true);
}

static int on_go_exit(struct decoder *d, const struct ct_go_exit *r)
{
	struct ct_event ev = { 0 };

	fill_hdr(d, &ev, &r->h, EV_GO_EXIT);
	ev.go_exit.goid = r->h.goid;
	emit(d, &ev);
	return 0;
}

static bool stack_fits(const struct ct_hdr *h, size_t len, size_t stack_off)
{
	return h->nstack <= CT_MAX_STACK && len >= stack_off + h->nstack * sizeof(uint64_t);
}

int decoder__record(struct decoder *d, const void *data, size_t len)
{
	const struct ct_hdr *h = data;
	int err = -EINVAL;

	d->st.records++;
	if (!data || len < sizeof(*h))
		goto cleanup;
	if (h->type < sizeof(d->st.by_type) / sizeof(d->st.by_type[0]))
		d->st.by_type[h->type]++;
	switch (h->type) {
	case CT_REC_CTX_CREATE:
		if (stack_fits(h, len, offsetof(struct ct_ctx_create, stack)))
			err = on_ctx_create(d, data);
		break;
	case CT_REC_CTX_CANCEL:
		if (stack_fits(h, len, offsetof(struct ct_ctx_cancel, stack)))
			err = on_ctx_cancel(d, data);
		break;
	case CT_REC_VALUE_CREATE:
		if (stack_fits(h, len, offsetof(struct ct_value_create, stack)))
			err = on_value(d, data);
		break;
	case CT_REC_CTX_DONE:
		if (len >= sizeof(struct ct_ctx_done))
			err = on_ctx_done(d, data);
		break;
	case CT_REC_GO_CREATE:
		if (len >= sizeof(struct ct_go_create))
			err = on_go_create(d, data);
		break;
	case CT_REC_GO_EXIT:
		if (len >= sizeof(struct ct_go_exit))
			err = on_go_exit(d, data);
		break;
	default:
		break;
	}
cleanup:
	if (err)
		d->st.decode_errors++;
	return err;
}

struct decoder *decoder__new(const struct decoder_opts *opts)
{
	struct decoder *d = calloc(1, sizeof(*d));
	int err = -ENOMEM;

	if (!d)
		return NULL;
	d->o = *opts;
	if (!d->o.value_max_age_ns)
		d->o.value_max_age_ns = DEF_VALUE_AGE_NS;
	if (!d->o.value_pending_max)
		d->o.value_pending_max = DEF_VALUE_MAX;
	if (!d->o.known_max)
		d->o.known_max = DEF_KNOWN_MAX;
	if (!d->o.stack_cache)
		d->o.stack_cache = DEF_STACK_CACHE;
	if (!d->o.in || !d->o.types || !d->o.mem) {
		err = -EINVAL;
		goto cleanup;
	}
	d->kcap = pow2_at_least((uint64_t)d->o.known_max * 2);
	d->gen[0].slots = calloc(d->kcap, sizeof(struct known));
	d->gen[1].slots = calloc(d->kcap, sizeof(struct known));
	d->pv_cap = d->o.value_pending_max;
	d->pv = calloc(d->pv_cap, sizeof(*d->pv));
	d->pv_nbuckets = pow2_at_least((uint64_t)d->pv_cap * 2);
	d->pv_buckets = malloc(d->pv_nbuckets * sizeof(*d->pv_buckets));
	d->sc_cap = pow2_at_least(d->o.stack_cache);
	d->sc = calloc(d->sc_cap, sizeof(*d->sc));
	if (!d->gen[0].slots || !d->gen[1].slots || !d->pv || !d->pv_buckets || !d->sc)
		goto cleanup;
	memset(d->pv_buckets, 0xff, d->pv_nbuckets * sizeof(*d->pv_buckets));
	d->off_cancel_ctx = off_of(d, GO_OFF_CANCELCTX_CONTEXT);
	d->off_timer_deadline = off_of(d, GO_OFF_TIMERCTX_DEADLINE);
	d->off_value[0] = off_of(d, GO_OFF_VALUECTX_CONTEXT);
	d->off_value[1] = off_of(d, GO_OFF_VALUECTX_KEY);
	d->off_value[2] = off_of(d, GO_OFF_VALUECTX_VAL);
	d->off_without_c = off_of(d, GO_OFF_WITHOUTCANCELCTX_C);
	d->n_value = intern__str(d->o.in, "*context.valueCtx");
	d->n_cancel = intern__str(d->o.in, "*context.cancelCtx");
	d->n_timer = intern__str(d->o.in, "*context.timerCtx");
	d->n_afterfunc = intern__str(d->o.in, "*context.afterFuncCtx");
	d->s_deadline = intern__str(d->o.in, "context deadline exceeded");
	return d;
cleanup:
	decoder__free(d);
	errno = -err;
	return NULL;
}

void decoder__free(struct decoder *d)
{
	if (!d)
		return;
	free(d->gen[0].slots);
	free(d->gen[1].slots);
	free(d->pv);
	free(d->pv_buckets);
	free(d->sc);
	hmap__free(&d->snap);
	free(d);
}

void decoder__stats(const struct decoder *d, struct decoder_stats *st)
{
	*st = d->st;
	st->values_pending = d->pv_live;
}
