/* Context values held in a goroutine's stack frames, read from memory: word
 * pairs (itab, data) whose itab is a context.Context itab, frame by frame along
 * the frame-pointer chain. A parked goroutine's frames hold the contexts its
 * functions were given or made (arguments spilled, locals, closure pointers).
 *
 * An itab made at run time (getitab: a value of the program's own type asserted
 * to context.Context, no static conversion in the program) is not in the
 * module's itab list: a word is taken for one when its interface word is
 * context.Context's interfacetype (the one the module's context itabs point to)
 * and ctxmem__is_context_iface agrees; such lookups are cached and bounded per
 * goroutine (framescan_stats.rt_*).
 *
 * A slot of a frame may be dead (a variable no longer used), or stack memory
 * reused from a goroutine that exited, and still hold an old value: with the
 * function table (opts.ge) only the slots the compiler's stack maps say are live
 * at each frame's pc are read, as Go's garbage collector does. Reads race with the target: the
 * goroutine is read again after its stack and left out when it moved (counted). */
#ifndef CT_FRAMESCAN_H
#define CT_FRAMESCAN_H

#include <stdbool.h>
#include <stdint.h>

struct framescan;
struct procmem;
struct goroutines;
struct ctxmem;
struct go_g;
struct goelf;

#define FRAMESCAN_MAX_FRAMES 128

struct framescan_opts {
	struct procmem *mem;
	struct goroutines *gs;
	struct ctxmem *cm;
	uint32_t max_stack_bytes; /* bytes read per goroutine from its sp; 0: 256 KiB */
	/* The program's function table: frames by their size and only the slots live
	 * at their pc (the stack maps). NULL: every word from sp, frames along the
	 * frame-pointer chain (tests on fake memory). */
	const struct goelf *ge;
	uint64_t bias;            /* runtime address - file address (PIE) */
};

/* One context value found on the stack. */
struct framescan_ctx {
	uint64_t itab, data;
	uint64_t slot;         /* stack address of its itab word (innermost occurrence) */
	uint16_t frame;        /* innermost frame holding it: index in pcs (0: where it waits) */
	uint16_t frame_outer;  /* outermost frame holding it */
};

/* A goroutine's frames and the contexts in them. */
struct framescan_result {
	uint64_t pcs[FRAMESCAN_MAX_FRAMES]; /* as goroutines__stack: pcs[0] where it resumes */
	int npcs;
	int nctx;              /* entries written to the caller's array */
	int nctx_dropped;      /* more than fit */
	bool truncated;        /* the stack was longer than max_stack_bytes */
};

struct framescan *framescan__new(const struct framescan_opts *opts); /* NULL with errno */
void framescan__free(struct framescan *fs);

/* Scans g (not running) and writes each distinct context value once, innermost
 * first, at most max. 0; -EBUSY for a running goroutine; -EAGAIN when it changed
 * while read (after one retry); -ENOENT without a saved pc; -errno. */
int framescan__scan(struct framescan *fs, const struct go_g *g, struct framescan_ctx *out, int max,
		    struct framescan_result *res);

/* Context values in the words of the last goroutine scanned (framescan__scan
 * returned 0, the stack copy still in hand) that no live slot holds: dead slots
 * and stack memory left by exited goroutines. Never evidence that the goroutine
 * holds them; only for confirming, against memory, that a channel it waits on is
 * one of those contexts' Done channel. At most max, those in live left out. */
int framescan__dead(struct framescan *fs, const struct framescan_ctx *live, int nlive,
		    struct framescan_ctx *out, int max);

struct framescan_stats {
	uint64_t goroutines, bytes;
	uint64_t changed;      /* left out: moved while read, twice */
	uint64_t retried;      /* read again once */
	uint64_t read_errors;
	uint64_t truncated;
	uint64_t found;        /* context values found */
	/* Itabs made at run time (getitab: a type asserted to context.Context), not in
	 * the module's list: words looked up (one 8-byte read each, cached), found,
	 * and words not looked up once a goroutine's budget was spent. */
	uint64_t rt_reads, rt_found, rt_skipped;
	/* Walks that stopped at a pc without a function or maps; frames read as
	 * holding nothing (assembly, an unsafe point). */
	uint64_t no_maps, frames_unmapped;
};
void framescan__stats(const struct framescan *fs, struct framescan_stats *st);

#endif
