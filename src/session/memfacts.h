/* The facts the default probe set (probes=default) leaves to the target's
 * memory, turned into the same events the probes would have sent, so that the
 * lineage graph, the rules and a recording see one model whatever the mode:
 * - go_exit: a goroutine of the graph that is no longer in the runtime's allgs
 *   (absent from two scans in a row: one read of a moving target can miss it);
 * - ctx_done: a parked goroutine whose sudog waits on a context's done channel:
 *   the contexts of its scope in the graph, else the ones its frames hold
 *   (events/framescan.h), are compared by their done channel. Each wait (same
 *   goroutine, same sched pc/sp) is read once.
 * - after a gap in the probes (the budget's duty cycle), the fate of the open
 *   contexts created before it (their cancel may have come in the gap): ctx_cancel
 *   when memory says cancelled, a replacing ctx_create when the address holds
 *   another context now (the GC freed this one; its fate is unknown). A batch per
 *   scan, oldest first, until every such context was read once.
 * Read-only; at most one scan per `interval`, longer when a scan is slow. */
#ifndef CT_MEMFACTS_H
#define CT_MEMFACTS_H

#include <stdbool.h>
#include <stdint.h>

#include "events/event.h"

struct memfacts;
struct lineage;
struct goroutines;
struct procmem;
struct ctxmem;
struct framescan;
struct go_offsets;
struct ct_event;

struct memfacts_ctx {
	uint64_t id, parent_id;
	enum ctx_kind kind, parent_kind;
};

struct memfacts_opts {
	struct goroutines *gs;
	/* For ctx_done; any NULL: no ctx_done from memory. */
	struct procmem *mem;
	const struct go_offsets *off;
	struct ctxmem *cm;
	struct framescan *fs;
	int pid;
	uint64_t interval_ns; /* 0: 500 ms */
	void (*emit)(void *cookie, const struct ct_event *ev);
	void *cookie;
	/* The state of n contexts by address, with the kind and parent each was
	 * created with: state[i] 1 cancelled, 0 live, -ENOENT another context is at the
	 * address now, other -errno unreadable. NULL: open contexts are not read after
	 * a gap. */
	void (*ctxstates)(void *cookie, const struct memfacts_ctx *c, int n, int *state);
	void *ctxstates_cookie;
};

struct memfacts_stats {
	uint64_t scans;        /* allgs scans */
	uint64_t scan_errors;  /* scans that could not read allgs (no exit is told then) */
	uint64_t exits;        /* go_exit events told from memory */
	uint64_t waits_read;   /* parked goroutines whose wait channels were read */
	uint64_t frame_scans;  /* ... whose frames were scanned for contexts */
	uint64_t dones;        /* ctx_done events told from memory */
	uint64_t scan_ns;      /* time spent scanning */
	uint64_t open_read;      /* open contexts read after a gap */
	uint64_t open_cancelled; /* ... found cancelled: ctx_cancel told */
	uint64_t open_replaced;  /* ... found replaced by another context: collected */
};

struct memfacts *memfacts__new(const struct memfacts_opts *opts); /* NULL with errno */
void memfacts__free(struct memfacts *mf);
/* Compares the graph with memory when a scan is due (now: CLOCK_MONOTONIC ns)
 * and emits what changed. 0 or -errno. */
int memfacts__tick(struct memfacts *mf, const struct lineage *lg, uint64_t now_ns);
void memfacts__stats(const struct memfacts *mf, struct memfacts_stats *st);
/* The probes were detached from gap_from_ns on: the open contexts created before
 * it are read again at the next scans. */
void memfacts__gap_ended(struct memfacts *mf, uint64_t gap_from_ns);

#endif
