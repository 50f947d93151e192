/* Why a context was cancelled (from the cancel method's callers and the error),
 * and the text of a cancel's error and cause. */
#include <string.h>

#include "ctxtrace.h"
#include "events/decoder_int.h"
#include "events/event.h"
#include "events/gotypes.h"
#include "util/hash.h"
#include "util/intern.h"

#define ERRTEXT_RECHECK_NS 100000000ULL

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
const char *dec_error_text(struct decoder *d, uint64_t tab, uint64_t data, uint64_t ts)
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
	if (dec_read_words(d, data, hdr, 2))
		return e->text && e->data == data ? e->text : name;
	if (e->text && e->data == data && e->ptr == hdr[0] && e->len == hdr[1]) {
		e->checked = ts;
		return e->text;
	}
	n = hdr[1] < sizeof(buf) - 1 ? hdr[1] : sizeof(buf) - 1;
	if (hdr[1] > (1u << 30) || (n && dec_read_bytes(d, hdr[0], buf, n)))
		return name;
	buf[n] = '\0';
	e->data = data;
	e->ptr = hdr[0];
	e->len = hdr[1];
	e->checked = ts;
	e->text = intern__str(d->o.in, buf);
	return e->text ? e->text : name;
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
enum cancel_reason dec_classify(struct decoder *d, const struct ct_ctx_cancel *r,
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
