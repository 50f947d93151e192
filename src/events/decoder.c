/* The decoder's record dispatch: one ring-buffer record -> its events, and the
 * decoder's life (new, free, stats). Its other jobs live beside it: stackcache.c
 * (stack symbolization), ctxdiscover.c (known, pre-existing and discovered
 * contexts), values.c (WithValue calls waiting for their address), cancel_class.c
 * (why a context was cancelled, error texts); decoder_int.h holds what they share. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "binary/offsets.h"
#include "ctxtrace.h"
#include "events/decoder.h"
#include "events/decoder_int.h"
#include "events/event.h"
#include "events/gotypes.h"
#include "util/hashmap.h"
#include "util/intern.h"

#define DEF_VALUE_AGE_NS (2ULL * 1000000000ULL)
#define DEF_VALUE_MAX 4096
#define DEF_KNOWN_MAX (1u << 18)
#define DEF_STACK_CACHE 16384

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

/* ---- emitting ---- */

void dec_emit(struct decoder *d, const struct ct_event *ev)
{
	d->st.events++;
	if (d->o.emit)
		d->o.emit(d->o.cookie, ev);
}

/* ---- records ---- */

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
	dec_resolve(d, r->parent.tab, r->parent.data, r->h.ts_ns, &p);
	dec_set_ancestry(c, &p);
	if (kind == CTX_TIMER)
		c->has_deadline = go_time_unix_ns(r->deadline, &c->deadline_unix_ns);
	c->stack = decoder__stack(d, (const uint64_t *)r->stack, r->h.nstack, true);
	dec_self_ref(&self, c->id, kind, type, c);
	dec_remember(d, &self, 0);
	dec_emit(d, &ev);
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
	dec_resolve(d, r->parent.tab, r->parent.data, r->h.ts_ns, &v.parent);
	v.stack = decoder__stack(d, (const uint64_t *)r->stack, r->h.nstack, true);
	dec_pv_push(d, &v);
	return 0;
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
	c->reason = dec_classify(d, r, c->stack, deadline_err, &drop, &afterfunc, &timer);
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
	dec_ensure_known(d, r->ctx, timer ? CTX_TIMER : afterfunc ? CTX_AFTERFUNC : CTX_CANCEL,
			       r->h.ts_ns);
	c->effective = r->already_err == 0;
	c->err = dec_error_text(d, r->err.tab, r->err.data, r->h.ts_ns);
	if (r->cause.tab)
		c->cause = dec_error_text(d, r->cause.tab, r->cause.data, r->h.ts_ns);
	else if (d->o.go_minor >= 20)
		/* Go 1.20+ (which added the cause) store err as the cause when none is given. */
		c->cause = c->err;
	dec_emit(d, &ev);
	return 0;
}

static int on_ctx_done(struct decoder *d, const struct ct_ctx_done *r)
{
	struct ct_event ev = { 0 };

	fill_hdr(d, &ev, &r->h, EV_CTX_DONE);
	ev.ctx_done.id = r->ctx;
	ev.ctx_done.site = decoder__stack(d, (const uint64_t *)&r->pc, 1, false);
	dec_emit(d, &ev);
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
	dec_emit(d, ev);
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
	dec_emit(d, &ev);
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
