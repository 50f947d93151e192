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

#endif
