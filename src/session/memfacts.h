/* The facts the default probe set (probes=default) leaves to the target's
 * memory, turned into the same events the probes would have sent, so that the
 * lineage graph, the rules and a recording see one model whatever the mode:
 * - go_exit: a goroutine of the graph that is no longer in the runtime's allgs
 *   (absent from two scans in a row: one read of a moving target can miss it);
 * - ctx_done: a parked goroutine whose sudog waits on a context's done channel:
 *   the contexts of its scope in the graph, else the ones its frames hold
 *   (events/framescan.h), are compared by their done channel. Each wait (same
 *   goroutine, same sched pc/sp) is read once.
 * Read-only; at most one scan per `interval`, longer when a scan is slow. */
#ifndef CT_MEMFACTS_H
#define CT_MEMFACTS_H

#include <stdint.h>

struct memfacts;
struct lineage;
struct goroutines;
struct procmem;
struct ctxmem;
struct framescan;
struct go_offsets;
struct ct_event;

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
};

struct memfacts_stats {
	uint64_t scans;        /* allgs scans */
	uint64_t scan_errors;  /* scans that could not read allgs (no exit is told then) */
	uint64_t exits;        /* go_exit events told from memory */
	uint64_t waits_read;   /* parked goroutines whose wait channels were read */
	uint64_t frame_scans;  /* ... whose frames were scanned for contexts */
	uint64_t dones;        /* ctx_done events told from memory */
	uint64_t scan_ns;      /* time spent scanning */
};

struct memfacts *memfacts__new(const struct memfacts_opts *opts); /* NULL with errno */
void memfacts__free(struct memfacts *mf);
/* Compares the graph with memory when a scan is due (now: CLOCK_MONOTONIC ns)
 * and emits what changed. 0 or -errno. */
int memfacts__tick(struct memfacts *mf, const struct lineage *lg, uint64_t now_ns);
void memfacts__stats(const struct memfacts *mf, struct memfacts_stats *st);

#endif
