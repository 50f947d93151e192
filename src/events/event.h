/* Decoded events: what the decoder makes of ring-buffer records, and what the
 * lineage graph, the rules, the recorder and the outputs consume. Strings and
 * stacks are interned (util/intern.h) and live as long as the intern table. */
#ifndef CT_EVENT_H
#define CT_EVENT_H

#include <stdbool.h>
#include <stdint.h>

#include "util/stack.h"

enum ctx_kind {
	CTX_UNKNOWN = 0,
	CTX_BACKGROUND,
	CTX_TODO,
	CTX_CANCEL,    /* *context.cancelCtx (WithCancel, WithCancelCause) */
	CTX_TIMER,     /* *context.timerCtx (WithDeadline*, WithTimeout*) */
	CTX_AFTERFUNC, /* *context.afterFuncCtx (AfterFunc), 1.21+ */
	CTX_VALUE,     /* *context.valueCtx */
	CTX_WITHOUTCANCEL, /* context.withoutCancelCtx, 1.21+ */
	CTX_CUSTOM,    /* a user-defined Context type; see type_name */
	CTX_KIND_MAX,
};

enum cancel_reason {
	CANCEL_UNKNOWN = 0,
	CANCEL_EXPLICIT, /* its cancel func was called */
	CANCEL_DEADLINE, /* its timer fired (or the deadline had passed at creation) */
	CANCEL_PARENT,   /* propagated from a cancelled ancestor */
	CANCEL_REASON_MAX,
};

enum ct_event_type {
	EV_CTX_CREATE = 1,
	EV_CTX_CANCEL,
	EV_CTX_DONE,   /* a goroutine asked a context for its Done channel (first time) */
	EV_GO_CREATE,
	EV_GO_EXIT,
	EV_LOST,       /* records lost or unreadable since the previous EV_LOST */
	EV_TARGET_EXIT,
	EV_TYPE_MAX,
};

struct ev_ctx_create {
	uint64_t id;             /* the context's address; 0 for an unreferenced value context */
	enum ctx_kind kind;
	const char *type_name;   /* Go type, e.g. "*context.cancelCtx", "*main.myCtx" */
	uint64_t parent;         /* direct parent's address (may be a value context) */
	enum ctx_kind parent_kind;
	uint64_t ancestor;       /* nearest ancestor that is not a value context */
	enum ctx_kind ancestor_kind;
	bool has_deadline;
	int64_t deadline_unix_ns;
	bool preexisting;        /* created before attach, discovered when referenced */
	bool discovered;         /* seen only when referenced (e.g. WithoutCancel, inlined) */
	bool replaces;           /* memory shows another context at the address: the one
	                          * known there was collected (never merged with it); with
	                          * kind CTX_UNKNOWN nothing is known of the new one: the
	                          * event only ends the old one */
	const struct ct_stack *stack; /* creation stack; NULL when unknown */
};

struct ev_ctx_cancel {
	uint64_t id;
	enum cancel_reason reason;
	bool effective;          /* false: it was already cancelled (a deferred cancel, say) */
	const char *err;         /* "context canceled", "context deadline exceeded" */
	const char *cause;       /* cause error's text or type; NULL when none */
	const struct ct_stack *stack; /* the cancel site, for explicit cancels */
};

struct ev_ctx_done {
	uint64_t id;
	const struct ct_stack *site; /* where Done() was called */
};

struct ev_go_create {
	uint64_t goid;           /* the new goroutine */
	uint64_t parent_goid;    /* 0 when unknown */
	const struct ct_stack *go_site; /* the go statement (gopc), inline expanded */
	const char *start_func;  /* startpc's function */
	const struct ct_stack *start_site;
	bool preexisting;        /* read from the runtime's goroutine list at attach */
};

struct ev_go_exit {
	uint64_t goid;
};

struct ev_lost {
	uint64_t ringbuf_drops;  /* records the kernel could not queue */
	uint64_t read_errors;    /* probe-side reads of target memory that failed */
	uint64_t decode_errors;  /* records userspace could not decode */
};

struct ct_event {
	enum ct_event_type type;
	uint32_t pid;
	uint32_t tid;
	uint64_t ts_ns;          /* CLOCK_MONOTONIC */
	uint64_t goid;           /* goroutine that caused the event; 0 when none */
	union {
		struct ev_ctx_create ctx_create;
		struct ev_ctx_cancel ctx_cancel;
		struct ev_ctx_done ctx_done;
		struct ev_go_create go_create;
		struct ev_go_exit go_exit;
		struct ev_lost lost;
	};
};

const char *ctx_kind_name(enum ctx_kind k);          /* "cancel", "timer", ... */
enum ctx_kind ctx_kind_parse(const char *s);         /* CTX_UNKNOWN when unknown */
const char *cancel_reason_name(enum cancel_reason r); /* "explicit", "deadline", "parent" */
enum cancel_reason cancel_reason_parse(const char *s);
const char *ev_type_name(enum ct_event_type t);      /* "ctx_create", "go_exit", ... */

/* The creation/cancel site as a user sees it: the first symbolized frame outside
 * package context (its frames stay in the stack); the last frame when there is
 * none; NULL for NULL or empty stacks. */
const struct ct_frame *ct_stack_user_frame(const struct ct_stack *st);

#endif
