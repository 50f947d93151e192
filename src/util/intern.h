/* Interned strings and stacks: equal contents give the same pointer, so sites and
 * names compare by pointer. Everything returned lives until intern__free. The
 * table is bounded by a byte budget; past it, new contents are refused (NULL) and
 * counted, already interned ones are still found. */
#ifndef CT_INTERN_H
#define CT_INTERN_H

#include <stddef.h>
#include <stdint.h>

struct intern;
struct ct_frame;
struct ct_stack;

struct intern_stats {
	uint64_t strings;  /* distinct strings held */
	uint64_t stacks;   /* distinct stacks held */
	uint64_t bytes;    /* memory held, tables included */
	uint64_t refused;  /* interns refused because the budget was reached */
};

/* max_bytes 0: the default budget (64 MiB). */
struct intern *intern__new(size_t max_bytes);
void intern__free(struct intern *in);

/* NULL when s is NULL or the budget is exhausted. */
const char *intern__str(struct intern *in, const char *s);
const char *intern__strn(struct intern *in, const char *s, size_t n);

/* frames[].func/.file must be interned strings of the same table (or NULL): they
 * compare by pointer. n may be 0. NULL when the budget is exhausted. */
const struct ct_stack *intern__stack(struct intern *in, const struct ct_frame *frames, uint32_t n);

void intern__stats(const struct intern *in, struct intern_stats *st);

#endif
