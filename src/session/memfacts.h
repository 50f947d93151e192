/* The facts the default probe set (probes=default) leaves to the target's
 * memory, turned into the same events the probes would have sent, so that the
 * lineage graph, the rules and a recording see one model whatever the mode:
 * - go_exit: a goroutine of the graph that is no longer in the runtime's allgs
 *   (absent from two scans in a row: one read of a moving target can miss it);
 * - ctx_done: a parked goroutine whose sudog waits on a context's done channel
 *   (only with the shared readers of events/ctxmem.h, see memfacts.c).
 * Read-only; at most one scan per `interval`, longer when a scan is slow. */
#ifndef CT_MEMFACTS_H
#define CT_MEMFACTS_H

#include <stdint.h>

struct memfacts;
struct lineage;
struct goroutines;
struct ct_event;

struct memfacts_opts {
	struct goroutines *gs;
	int pid;
	uint64_t interval_ns; /* 0: 500 ms */
	void (*emit)(void *cookie, const struct ct_event *ev);
	void *cookie;
};

struct memfacts_stats {
	uint64_t scans;        /* allgs scans */
	uint64_t scan_errors;  /* scans that could not read allgs (no exit is told then) */
	uint64_t exits;        /* go_exit events told from memory */
	uint64_t scan_ns;      /* time spent scanning */
};

struct memfacts *memfacts__new(const struct memfacts_opts *opts); /* NULL with errno */
void memfacts__free(struct memfacts *mf);
/* Compares the graph with memory when a scan is due (now: CLOCK_MONOTONIC ns)
 * and emits what changed. 0 or -errno. */
int memfacts__tick(struct memfacts *mf, const struct lineage *lg, uint64_t now_ns);
void memfacts__stats(const struct memfacts *mf, struct memfacts_stats *st);

#endif
