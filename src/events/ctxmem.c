#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "binary/offsets.h"
#include "events/ctxmem.h"
#include "events/decoder.h"
#include "events/gotypes.h"
#include "events/procmem.h"
#include "util/hash.h"

#define ITAB_SLOTS 4096 /* power of two */
#define ITABLINKS_MAX (1u << 20)
#define CHAIN_CUSTOM_WORDS 8
#define ERRTEXT_MAX 256

struct itab_ent {
	uint64_t itab; /* 0: empty */
	bool ctx;
};

struct ctxmem {
	struct ctxmem_opts o;
	struct itab_ent *itabs;
	int64_t o_ctx, o_done, o_children, o_err, o_cause, o_deadline, o_val_ctx, o_without_c,
		o_closed;
	struct ctxmem_stats st;
};

static int64_t off_or(const struct ctxmem_opts *o, enum go_off f, int64_t def)
{
	return o->off && o->off->v[f] >= 0 ? o->off->v[f] : def;
}

struct ctxmem *ctxmem__new(const struct ctxmem_opts *opts)
{
	struct ctxmem *cm;

	if (!opts->mem || !opts->types || !opts->off) {
		errno = EINVAL;
		return NULL;
	}
	cm = calloc(1, sizeof(*cm));
	if (!cm)
		return NULL;
	cm->o = *opts;
	cm->itabs = calloc(ITAB_SLOTS, sizeof(*cm->itabs));
	if (!cm->itabs) {
		free(cm);
		errno = ENOMEM;
		return NULL;
	}
	/* Every supported version has these in the table; -1 leaves the field unread. */
	cm->o_ctx = off_or(opts, GO_OFF_CANCELCTX_CONTEXT, -1);
	cm->o_done = off_or(opts, GO_OFF_CANCELCTX_DONE, -1);
	cm->o_children = off_or(opts, GO_OFF_CANCELCTX_CHILDREN, -1);
	cm->o_err = off_or(opts, GO_OFF_CANCELCTX_ERR, -1);
	cm->o_cause = off_or(opts, GO_OFF_CANCELCTX_CAUSE, -1);
	cm->o_deadline = off_or(opts, GO_OFF_TIMERCTX_DEADLINE, -1);
	cm->o_val_ctx = off_or(opts, GO_OFF_VALUECTX_CONTEXT, -1);
	cm->o_without_c = off_or(opts, GO_OFF_WITHOUTCANCELCTX_C, -1);
	cm->o_closed = off_or(opts, GO_OFF_HCHAN_CLOSED, -1);
	return cm;
}

void ctxmem__free(struct ctxmem *cm)
{
	if (!cm)
		return;
	free(cm->itabs);
	free(cm);
}

static int rd(struct ctxmem *cm, uint64_t addr, void *buf, size_t len)
{
	int err;

	cm->st.reads++;
	err = procmem__read(cm->o.mem, addr, buf, len);
	if (err)
		cm->st.read_errors++;
	return err;
}

bool ctxmem__is_context_iface(struct ctxmem *cm, uint64_t itab)
{
	struct itab_ent *e;
	const char *name;

	if (!itab || (itab & 7))
		return false;
	cm->st.itab_checks++;
	e = &cm->itabs[ct_mix64(itab) & (ITAB_SLOTS - 1)];
	if (e->itab == itab) {
		cm->st.itab_hits++;
		return e->ctx;
	}
	name = gotypes__itab_iface_name(cm->o.types, itab);
	if (!name)
		return false; /* unreadable: not cached, an address may become readable */
	e->itab = itab;
	e->ctx = !strcmp(name, "context.Context");
	return e->ctx;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Go 1.27+: the linker's itabs lie one after the other at types + itaboffset,
 * each 32 bytes plus 8 per method of its interface beyond the first (none when
 * fun[0] is 0: the type does not implement it). */
static int itabs_in_types(struct ctxmem *cm, int64_t o_off, int64_t o_size, uint64_t *out, int max)
{
	enum { ITAB_HDR = 32, IFACE_NMETHODS = 64, MAX_BYTES = 16 << 20 };
	uint64_t v[2], nm, p, end;
	unsigned char *buf;
	int n = 0, err;

	if (!cm->o.types_start)
		return -ENOTSUP;
	err = rd(cm, cm->o.moduledata + (uint64_t)o_off, &v[0], 8);
	if (!err)
		err = rd(cm, cm->o.moduledata + (uint64_t)o_size, &v[1], 8);
	if (err)
		return err;
	if (v[1] > MAX_BYTES)
		return -EINVAL;
	buf = malloc(v[1] ? v[1] : 1);
	if (!buf)
		return -ENOMEM;
	p = cm->o.types_start + v[0];
	end = p + v[1];
	if (v[1] && rd(cm, p, buf, v[1])) {
		free(buf);
		return -EFAULT;
	}
	while (p + ITAB_HDR <= end && n < max) {
		uint64_t w[4];

		memcpy(w, buf + (p - (end - v[1])), sizeof(w));
		if (!w[0] || (w[0] & 7) || rd(cm, w[0] + IFACE_NMETHODS, &nm, 8) || nm > 4096)
			break; /* not an itab: the walk lost its step */
		if (ctxmem__is_context_iface(cm, p))
			out[n++] = p;
		p += ITAB_HDR + (w[3] && nm > 1 ? (nm - 1) * 8 : 0);
	}
	free(buf);
	qsort(out, (size_t)n, sizeof(*out), cmp_u64);
	return n;
}

int ctxmem__ctx_itabs(struct ctxmem *cm, uint64_t *out, int max)
{
	enum { BATCH = 512 };
	int64_t o = off_or(&cm->o, GO_OFF_MODULEDATA_ITABLINKS, -1);
	uint64_t sl[2], ptrs[BATCH];
	int n = 0, err;

	if (!cm->o.moduledata)
		return -ENOTSUP;
	if (o < 0 && off_or(&cm->o, GO_OFF_MODULEDATA_ITABOFFSET, -1) >= 0)
		return itabs_in_types(cm, off_or(&cm->o, GO_OFF_MODULEDATA_ITABOFFSET, -1),
				      off_or(&cm->o, GO_OFF_MODULEDATA_ITABSIZE, -1), out, max);
	if (o < 0)
		return -ENOTSUP;
	err = rd(cm, cm->o.moduledata + (uint64_t)o, sl, sizeof(sl));
	if (err)
		return err;
	if (sl[1] > ITABLINKS_MAX || (sl[1] && !sl[0]))
		return -EINVAL;
	for (uint64_t i = 0; i < sl[1]; i += BATCH) {
		size_t k = sl[1] - i < BATCH ? sl[1] - i : BATCH;

		err = rd(cm, sl[0] + i * 8, ptrs, k * 8);
		if (err)
			return err;
		for (size_t j = 0; j < k && n < max; j++)
			if (ctxmem__is_context_iface(cm, ptrs[j]))
				out[n++] = ptrs[j];
	}
	qsort(out, (size_t)n, sizeof(*out), cmp_u64);
	return n;
}

/* Text of an error held as (type-or-itab, data): errors.New strings are read,
 * the deadline error spelled out, anything else named by its type. */
static const char *error_text(struct ctxmem *cm, uint64_t word0, uint64_t data, bool eface,
			      bool *deadline)
{
	const char *name = eface ? gotypes__type_name(cm->o.types, word0)
				 : gotypes__itab_name(cm->o.types, word0);
	uint64_t hdr[2];
	char buf[ERRTEXT_MAX];

	*deadline = false;
	if (!name)
		return NULL;
	if (!strcmp(name, "context.deadlineExceededError")) {
		*deadline = true;
		return gotypes__intern(cm->o.types, "context deadline exceeded");
	}
	if (strcmp(name, "*errors.errorString") || !data || rd(cm, data, hdr, sizeof(hdr)) ||
	    hdr[1] >= sizeof(buf) || (hdr[1] && rd(cm, hdr[0], buf, hdr[1])))
		return name;
	buf[hdr[1]] = '\0';
	return gotypes__intern(cm->o.types, buf);
}

/* Go 1.21+: a parent that has an AfterFunc method is stored wrapped in a
 * context.stopCtx{Context, stop}; the real parent is inside. */
static void unwrap_stop(struct ctxmem *cm, uint64_t *itab, uint64_t *data)
{
	uint64_t w[2];

	for (int hops = 0; hops < 4 && *itab; hops++) {
		const char *name = gotypes__itab_name(cm->o.types, *itab);

		if (!name || strcmp(name, "context.stopCtx") || rd(cm, *data, w, sizeof(w)))
			return;
		*itab = w[0];
		*data = w[1];
	}
}

/* The cancelCtx at addr (the first field of timerCtx and afterFuncCtx). */
static int read_cancel(struct ctxmem *cm, uint64_t addr, struct ctxmem_state *out)
{
	uint64_t w[12] = { 0 }, et = 0;
	int64_t hi = 0;
	uint32_t closed = 0;
	bool eface_err = cm->o.go_minor >= 25; /* err became an atomic.Value in Go 1.25 */

	if (cm->o_ctx < 0 || cm->o_done < 0 || cm->o_children < 0 || cm->o_err < 0)
		return -ENOTSUP;
	hi = (cm->o_cause >= 0 ? cm->o_cause : cm->o_err) + 16;
	if (hi > (int64_t)sizeof(w))
		return -ENOTSUP;
	if (rd(cm, addr, w, (size_t)hi))
		return -EFAULT;
#define W(o, i) w[(o) / 8 + (i)]
	out->parent_itab = W(cm->o_ctx, 0);
	out->parent_data = W(cm->o_ctx, 1);
	/* A cancelCtx always has a parent context: anything else is not one (a stale
	 * stack slot pointing at reused memory, say). */
	if (!ctxmem__is_context_iface(cm, out->parent_itab) || !out->parent_data)
		return -EINVAL;
	/* done: atomic.Value{v any} holding a chan struct{}. */
	if (W(cm->o_done, 0)) {
		const char *tn = gotypes__type_name(cm->o.types, W(cm->o_done, 0));

		if (!tn || strcmp(tn, "chan struct {}"))
			return -EINVAL;
		out->done_chan = W(cm->o_done, 1);
		if (out->done_chan && cm->o_closed >= 0 &&
		    !rd(cm, out->done_chan + (uint64_t)cm->o_closed, &closed, sizeof(closed)))
			out->done_closed = closed != 0;
	}
	if (W(cm->o_children, 0)) {
		/* hmap.count and the swiss map's used (1.24+) are both the first word. */
		if (rd(cm, W(cm->o_children, 0), &et, sizeof(et)) || et > (1ULL << 40))
			out->children = -1;
		else
			out->children = (int64_t)et;
	} else {
		out->children = 0;
	}
	if (W(cm->o_err, 0)) {
		out->cancelled = true;
		out->err = error_text(cm, W(cm->o_err, 0), W(cm->o_err, 1), eface_err, &out->deadline_err);
	}
	if (cm->o_cause >= 0 && W(cm->o_cause, 0)) {
		bool dl;

		out->cause = error_text(cm, W(cm->o_cause, 0), W(cm->o_cause, 1), false, &dl);
	}
#undef W
	return 0;
}

static int read_once(struct ctxmem *cm, uint64_t itab, uint64_t data, struct ctxmem_state *out)
{
	uint64_t w[CHAIN_CUSTOM_WORDS];
	uint8_t raw[24];
	int err;

	memset(out, 0, sizeof(*out));
	out->addr = data;
	out->children = -1;
	out->kind = gotypes__ctx_kind(cm->o.types, itab, data, &out->type_name);
	switch (out->kind) {
	case CTX_BACKGROUND:
	case CTX_TODO:
		return 0;
	case CTX_CANCEL:
	case CTX_TIMER:
	case CTX_AFTERFUNC:
		err = read_cancel(cm, data, out);
		if (err)
			return err;
		if (out->kind == CTX_TIMER && cm->o_deadline >= 0 &&
		    !rd(cm, data + (uint64_t)cm->o_deadline, raw, sizeof(raw)))
			out->has_deadline = go_time_unix_ns(raw, &out->deadline_unix_ns);
		break;
	case CTX_VALUE:
		if (cm->o_val_ctx < 0 || rd(cm, data + (uint64_t)cm->o_val_ctx, w, 16))
			return -EFAULT;
		out->parent_itab = w[0];
		out->parent_data = w[1];
		if (!ctxmem__is_context_iface(cm, w[0]))
			return -EINVAL;
		break;
	case CTX_WITHOUTCANCEL:
		if (cm->o_without_c < 0 || rd(cm, data + (uint64_t)cm->o_without_c, w, 16))
			return -EFAULT;
		out->parent_itab = w[0];
		out->parent_data = w[1];
		break;
	case CTX_CUSTOM:
		/* A user-defined Context: the first context.Context interface in its
		 * first words is taken as the parent (as the decoder does). */
		if (rd(cm, data, w, sizeof(w)))
			return 0;
		for (int i = 0; i + 1 < CHAIN_CUSTOM_WORDS; i++) {
			if (w[i + 1] && ctxmem__is_context_iface(cm, w[i])) {
				out->parent_itab = w[i];
				out->parent_data = w[i + 1];
				break;
			}
		}
		break;
	default:
		return -EINVAL;
	}
	unwrap_stop(cm, &out->parent_itab, &out->parent_data);
	return 0;
}

int ctxmem__cancel_briefs(struct ctxmem *cm, const uint64_t *addrs, int n, struct ctxmem_brief *out)
{
	size_t len;
	uint64_t *buf;
	int *errs;

	if (cm->o_ctx < 0 || cm->o_err < 0)
		return -ENOTSUP;
	len = (size_t)((cm->o_ctx > cm->o_err ? cm->o_ctx : cm->o_err) + 16);
	buf = malloc((size_t)n * len);
	errs = malloc((size_t)n * sizeof(*errs));
	if (!buf || !errs) {
		free(buf);
		free(errs);
		return -ENOMEM;
	}
	cm->st.reads++;
	procmem__read_many(cm->o.mem, addrs, n, len, buf, errs);
	for (int i = 0; i < n; i++) {
		const uint64_t *w = (const uint64_t *)((const char *)buf + (size_t)i * len);

		memset(&out[i], 0, sizeof(out[i]));
		out[i].err = errs[i];
		if (errs[i]) {
			cm->st.read_errors++;
			continue;
		}
		out[i].parent_itab = w[cm->o_ctx / 8];
		out[i].parent_data = w[cm->o_ctx / 8 + 1];
		/* as read_cancel: a cancelCtx always has a parent context */
		if (!ctxmem__is_context_iface(cm, out[i].parent_itab) || !out[i].parent_data) {
			out[i].err = -EINVAL;
			continue;
		}
		out[i].cancelled = w[cm->o_err / 8] != 0;
	}
	free(buf);
	free(errs);
	return 0;
}

int ctxmem__read(struct ctxmem *cm, uint64_t itab, uint64_t data, struct ctxmem_state *out)
{
	int err;

	if (!data || !ctxmem__is_context_iface(cm, itab)) {
		memset(out, 0, sizeof(*out));
		return -EINVAL;
	}
	for (int tries = 0; tries < 2; tries++) {
		err = read_once(cm, itab, data, out);
		if (err)
			return err;
		/* cancel() sets err, then closes done, under the lock: a read in between
		 * (or one racing Done's lazy make) sees them disagree. */
		if (!out->done_chan || out->cancelled == out->done_closed)
			return 0;
		cm->st.changed++;
	}
	return -EAGAIN;
}

int ctxmem__chain(struct ctxmem *cm, uint64_t itab, uint64_t data, struct ctxmem_state *out,
		  int max)
{
	int n = 0, err;

	while (n < max) {
		err = ctxmem__read(cm, itab, data, &out[n]);
		if (err)
			return n ? n : err;
		n++;
		if (out[n - 1].kind == CTX_BACKGROUND || out[n - 1].kind == CTX_TODO ||
		    !out[n - 1].parent_itab)
			break;
		itab = out[n - 1].parent_itab;
		data = out[n - 1].parent_data;
	}
	return n;
}

int ctxmem__cancel_scope(struct ctxmem *cm, uint64_t itab, uint64_t data, struct ctxmem_state *out)
{
	for (int depth = 0; depth < 64; depth++) {
		int err = ctxmem__read(cm, itab, data, out);

		if (err)
			return err;
		switch (out->kind) {
		case CTX_CANCEL:
		case CTX_TIMER:
		case CTX_AFTERFUNC:
			return 0;
		case CTX_BACKGROUND:
		case CTX_TODO:
		case CTX_WITHOUTCANCEL: /* detached on purpose: nothing above cancels it */
			return -ENOENT;
		default:
			if (!out->parent_itab)
				return -ENOENT;
			itab = out->parent_itab;
			data = out->parent_data;
		}
	}
	return -ELOOP;
}

void ctxmem__stats(const struct ctxmem *cm, struct ctxmem_stats *st)
{
	*st = cm->st;
}
