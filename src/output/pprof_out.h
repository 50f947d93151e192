/* Leak profiles in pprof's format: a gzipped profile.proto (the definition from
 * Debian's golang-github-google-pprof-dev, encoded by protobuf-c) that `go tool
 * pprof`, Pyroscope and Grafana open. One sample per stuck goroutine, value 1 of
 * sample type goroutines/count (pprof sums equal stacks); its stack is where the
 * goroutine is now, innermost first, with the frames of its go statement below
 * it (runtime.goexit left out); its labels:
 *
 *   rule             outlived-context, unreachable-cancel, stuck-goroutines, ...
 *   wait             the runtime's wait reason ("chan send", "select", "IO wait")
 *   age              how long it has been blocked: "<10s", "10s-1m", "1m-10m",
 *                    "10m-1h", ">1h", "unknown" (the runtime did not record it)
 *   context_kind     the cancelled context it holds: cancel, timer, ...
 *   context_state    "cancelled (context deadline exceeded)"
 *   context_created_at  file:line, when known
 *   alerted          "true" when its group reached the alert threshold
 *
 * Memory: strings, functions and locations once each; at most PPROF_MAX_SAMPLES
 * samples (the rest counted in a comment). docs/pprof.md shows how to read it. */
#ifndef CT_PPROF_OUT_H
#define CT_PPROF_OUT_H

#include <stdint.h>

struct pprof_out;
struct memjudge_go;

#define PPROF_MAX_SAMPLES (1u << 20)

/* exe names the program's mapping. NULL with errno. */
struct pprof_out *pprof_out__new(int pid, const char *exe);
/* Adds the goroutine when a memory judgement found it stuck (g->rule set): 1
 * added, 0 not stuck, -ENOMEM. Copies what it keeps. */
int pprof_out__add(struct pprof_out *p, const struct memjudge_go *g);
/* Samples added so far. */
uint32_t pprof_out__samples(const struct pprof_out *p);
/* Writes the profile, gzipped, to path (through a temporary file and a rename, so
 * a reader never sees half of one). 0 or -errno with ct_errmsg(). */
int pprof_out__write(struct pprof_out *p, const char *path);
void pprof_out__free(struct pprof_out *p); /* takes NULL */

#endif
