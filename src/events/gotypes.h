/* Go runtime type names read from a target's memory: itab -> _type -> name, the
 * way the runtime's own reflection does it (names are offsets from the module's
 * types section). Works on stripped binaries. Names are interned. */
#ifndef CT_GOTYPES_H
#define CT_GOTYPES_H

#include <stdint.h>

#include "events/event.h"

struct gotypes;
struct procmem;
struct intern;

struct go_moduledata {
	uint64_t addr;          /* runtime address of runtime.firstmoduledata */
	uint64_t types, etypes; /* runtime addresses of the types section */
};

/* Finds runtime.firstmoduledata in the target's writable executable mappings: the
 * word that points at the pclntab header (pclntab_rt, runtime address) followed by
 * the module's text start (text_rt, runtime address; 0 to skip that check).
 * go_minor selects the layout. -ENOENT when not found. */
int gotypes__find_moduledata(struct procmem *mem, uint64_t pclntab_rt, uint64_t text_rt,
			     int go_minor, struct go_moduledata *md);
/* Reads the types range of the moduledata at md->addr. */
int gotypes__read_moduledata(struct procmem *mem, int go_minor, struct go_moduledata *md);

struct gotypes_opts {
	struct procmem *mem;
	struct intern *in;
	uint64_t types, etypes;
	int go_minor;
	/* Go 1.19/1.20: Background() and TODO() are both *emptyCtx; they differ only by
	 * the object they point to: the runtime addresses of those objects (the values of
	 * context.background and context.todo), 0 when unknown. */
	uint64_t background_obj, todo_obj;
	/* Runtime address of the context.todo variable: todo_obj is read from it when
	 * still 0 (the package's init had not run at attach). 0 when unknown. */
	uint64_t todo_var;
};

struct gotypes *gotypes__new(const struct gotypes_opts *opts);
void gotypes__free(struct gotypes *gt);

/* Type name of an abi.Type at runtime address type ("*context.cancelCtx"); NULL when
 * it cannot be read or lies outside the types section. */
const char *gotypes__type_name(struct gotypes *gt, uint64_t type);
/* The dynamic type of an itab ("*main.myCtx" for the itab of *main.myCtx as Context). */
int gotypes__itab_type(struct gotypes *gt, uint64_t itab, uint64_t *type);
const char *gotypes__itab_name(struct gotypes *gt, uint64_t itab);
/* The interface type of an itab ("context.Context", "error"). */
const char *gotypes__itab_iface_name(struct gotypes *gt, uint64_t itab);

/* The context kind of a Context interface value (itab, data). *type_name gets the
 * dynamic type's name (NULL when unreadable; then CTX_UNKNOWN). */
enum ctx_kind gotypes__ctx_kind(struct gotypes *gt, uint64_t itab, uint64_t data,
				const char **type_name);
/* Kind from a type name alone; *context.emptyCtx gives CTX_BACKGROUND. */
enum ctx_kind gotypes__kind_of_name(const char *type_name);

/* s interned in the table names are interned in (for texts made beside them). */
const char *gotypes__intern(struct gotypes *gt, const char *s);

struct gotypes_stats {
	uint64_t lookups, misses, read_errors;
};
void gotypes__stats(const struct gotypes *gt, struct gotypes_stats *st);

#endif
