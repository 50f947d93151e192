/* Tells the daemon about every exec on the host, through a sched_process_exec
 * tracepoint program (bpf/exec.bpf.c). Chosen over the netlink proc connector:
 * it needs no capability beyond the CAP_BPF and CAP_PERFMON the uprobes need
 * anyway (the connector needs CAP_NET_ADMIN), and it reports the new image's
 * pid only after the image is mapped, so /proc/PID/exe is already the new one. */
#ifndef CT_PROBES_EXECWATCH_H
#define CT_PROBES_EXECWATCH_H

#include <stdint.h>

struct execwatch;

typedef void (*execwatch_fn)(void *cookie, int pid, const char *filename);

/* Loads and attaches. NULL with errno and ct_errmsg(). */
struct execwatch *execwatch__open(execwatch_fn fn, void *cookie);
int execwatch__fd(const struct execwatch *w); /* readable when execs are queued */
/* Delivers the queued execs; their count, or -errno. */
int execwatch__consume(struct execwatch *w);
/* Execs seen and lost (ring buffer full), summed over CPUs. */
void execwatch__counters(const struct execwatch *w, uint64_t *seen, uint64_t *lost);
void execwatch__free(struct execwatch *w); /* detaches; takes NULL */

#endif
