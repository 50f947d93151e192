/* The goroutine-state provider the rules use in a live session: wraps
 * events/goroutines.h (status, wait reason, frame-pointer stack), symbolizes the
 * stack through the decoder, and finds the thread of a goroutine in a syscall
 * (g.m.procid) so rules/systrace.h can name the call. Read-only. */
#ifndef CT_RULES_GSTATE_H
#define CT_RULES_GSTATE_H

#include <stdint.h>

struct gstate_src;
struct goroutines;
struct procmem;
struct go_offsets;
struct decoder;
struct rules_gstate;

struct gstate_src_opts {
	struct goroutines *gs;
	struct procmem *mem;
	const struct go_offsets *off;
	struct decoder *dec;
	int go_minor; /* Go 1.minor of the target; 0 when unknown (then as before 1.23) */
};

struct gstate_src *gstate_src__new(const struct gstate_src_opts *opts); /* NULL with errno */
void gstate_src__free(struct gstate_src *src);

/* A rules_gstate_fn: pass gstate_src__read as rules_opts.gstate and the source as
 * its cookie. 0, -ENOENT when the goroutine is gone, -errno. */
int gstate_src__read(void *src, uint64_t goid, struct rules_gstate *out);
/* The same for a g already read (events/goroutines.h); -ENOENT when it is dead. */
struct go_g;
int gstate_src__read_g(struct gstate_src *src, const struct go_g *g, struct rules_gstate *out);
/* The same with the frame-pointer walk already done (pcs as goroutines__stack
 * gives them, e.g. from framescan): used unless it is in a syscall, whose walk
 * needs care on Go 1.19-1.22. */
int gstate_src__read_g_pcs(struct gstate_src *src, const struct go_g *g, const uint64_t *pcs, int n,
			   struct rules_gstate *out);

#endif
