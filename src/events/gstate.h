/* The goroutine-state provider the rules use in a live session: wraps
 * events/goroutines.h (status, wait reason, frame-pointer stack), symbolizes the
 * stack through the decoder, and finds the thread of a goroutine in a syscall
 * (g.m.procid) so probes/systrace.h can name the call. Read-only. */
#ifndef CT_EVENTS_GSTATE_H
#define CT_EVENTS_GSTATE_H

#include <stdbool.h>
#include <stdint.h>

struct gstate_src;
struct goroutines;
struct procmem;
struct go_offsets;
struct decoder;
struct ct_stack;

/* What the rules read of a goroutine, on demand. */
enum rules_gstatus {
	RULES_G_UNKNOWN = 0,
	RULES_G_RUNNABLE,
	RULES_G_RUNNING,
	RULES_G_SYSCALL,  /* in a system call or a cgo call */
	RULES_G_WAITING,  /* parked: see wait_reason */
	RULES_G_DEAD,     /* exited (the exit event may not have arrived yet) */
};

struct rules_gstate {
	enum rules_gstatus status;
	const char *wait_reason;      /* the runtime's text ("chan send", "IO wait"); NULL if none */
	uint64_t waiting_ns;          /* how long it has been waiting; 0 when unknown */
	const struct ct_stack *stack; /* where it is now, innermost first; NULL when unknown */
	uint32_t tid;                 /* thread it runs or is blocked on (syscall, cgo); 0 unknown */
	bool in_cgo;                  /* in a cgo call */
	int32_t syscall_nr;           /* -1 unknown; filled from the systrace when 0 is not set */
	uint64_t syscall_ns;          /* how long the current syscall has lasted; 0 unknown */
};

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
