#include <string.h>

#include "events/event.h"
#include "util/fmt.h"

static const char *const kind_names[CTX_KIND_MAX] = {
	[CTX_UNKNOWN] = "unknown",
	[CTX_BACKGROUND] = "background",
	[CTX_TODO] = "todo",
	[CTX_CANCEL] = "cancel",
	[CTX_TIMER] = "timer",
	[CTX_AFTERFUNC] = "afterfunc",
	[CTX_VALUE] = "value",
	[CTX_WITHOUTCANCEL] = "withoutcancel",
	[CTX_CUSTOM] = "custom",
};

static const char *const reason_names[CANCEL_REASON_MAX] = {
	[CANCEL_UNKNOWN] = "unknown",
	[CANCEL_EXPLICIT] = "explicit",
	[CANCEL_DEADLINE] = "deadline",
	[CANCEL_PARENT] = "parent",
};

static const char *const type_names[EV_TYPE_MAX] = {
	[EV_CTX_CREATE] = "ctx_create",
	[EV_CTX_CANCEL] = "ctx_cancel",
	[EV_CTX_DONE] = "ctx_done",
	[EV_GO_CREATE] = "go_create",
	[EV_GO_EXIT] = "go_exit",
	[EV_LOST] = "lost",
	[EV_TARGET_EXIT] = "target_exit",
};

#define N(t) (sizeof(t) / sizeof(t[0]))

const char *ctx_kind_name(enum ctx_kind k)
{
	return enum_name(kind_names, N(kind_names), k, "unknown");
}

enum ctx_kind ctx_kind_parse(const char *s)
{
	int k = enum_parse(kind_names, N(kind_names), s);

	return k < 0 ? CTX_UNKNOWN : k;
}

const char *cancel_reason_name(enum cancel_reason r)
{
	return enum_name(reason_names, N(reason_names), r, "unknown");
}

enum cancel_reason cancel_reason_parse(const char *s)
{
	int r = enum_parse(reason_names, N(reason_names), s);

	return r < 0 ? CANCEL_UNKNOWN : r;
}

const char *ev_type_name(enum ct_event_type t)
{
	return enum_name(type_names, N(type_names), t, "unknown");
}

const struct ct_frame *ct_stack_user_frame(const struct ct_stack *st)
{
	if (!st || !st->n)
		return NULL;
	for (uint32_t i = 0; i < st->n; i++) {
		const char *f = st->frames[i].func;

		/* Unsymbolized frames (NULL) are skipped as well. */
		if (f && strncmp(f, "context.", 8))
			return &st->frames[i];
	}
	return &st->frames[st->n - 1];
}
