/* Symbolized stacks: the frame type every stage shares, interned by util/intern.h. */
#ifndef CT_UTIL_STACK_H
#define CT_UTIL_STACK_H

#include <stdbool.h>
#include <stdint.h>

struct ct_frame {
	const char *func; /* "main.handler", "main.main.func1" */
	const char *file;
	uint32_t line;
	bool inlined; /* inlined into the next (outer) frame */
};

/* A symbolized stack, innermost frame first, inline frames expanded. Interned:
 * equal stacks are the same pointer, so a site compares by pointer. */
struct ct_stack {
	uint32_t n;
	uint32_t hash;
	struct ct_frame frames[];
};

/* {"func":..,"file":..,"line":..} with "inlined":true when it is; null for NULL.
 * (The event stream writes its own, with "inlined" always: output/events_out.c.) */
struct json_w;
void ct_frame__json(struct json_w *w, const struct ct_frame *f);
/* An array of frames, innermost first; null for NULL. */
void ct_stack__json(struct json_w *w, const struct ct_stack *st);
/* The same as the value of member key. */
void ct_frame__kv_json(struct json_w *w, const char *key, const struct ct_frame *f);
void ct_stack__kv_json(struct json_w *w, const char *key, const struct ct_stack *st);

#endif
