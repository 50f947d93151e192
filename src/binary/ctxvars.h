/* Go 1.19/1.20: Background() and TODO() are *emptyCtx values told apart by the
 * objects the package variables context.background and context.todo point to.
 * This finds those variables in the binary. */
#ifndef CT_BINARY_CTXVARS_H
#define CT_BINARY_CTXVARS_H

#include <stdint.h>

struct goelf;

/* Link-time addresses of context.background (vars[0]) and context.todo (vars[1]):
 * from the symbol table, or without one from the machine code of
 * context.(*emptyCtx).String. 0 or -ENOENT. */
int ctxvars__find(const struct goelf *ge, uint64_t vars[2]);

#endif
