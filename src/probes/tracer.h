/* The BPF side of one target: loads bpf/ctxtrace.bpf.c configured for the
 * target's Go version, attaches it to every site of the probe plan and delivers
 * raw ring-buffer records (include/ctxtrace.h) to a callback. */
#ifndef CT_TRACER_H
#define CT_TRACER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctxtrace.h"

struct tracer;
struct probe_plan;
struct go_offsets;

enum tracer_prog {
	TRACER_PROG_FULL = 0, /* the real program */
	TRACER_PROG_EMPTY,    /* an empty program at the same sites (benchmarks) */
};

enum tracer_attach {
	TRACER_ATTACH_AUTO = 0,   /* uprobe_multi, else one uprobe per site */
	TRACER_ATTACH_MULTI,      /* uprobe_multi only */
	TRACER_ATTACH_SINGLE,     /* one uprobe link per site */
};

struct tracer_opts {
	size_t ringbuf_bytes;     /* first ring size; 0: 4 MiB; rounded up to a power of two */
	size_t ring_max;          /* the ring grows up to this (tracer__adapt); 0: 64 MiB */
	uint32_t done_entries;    /* Done() dedup LRU size; 0: 65536 */
	uint64_t load_bias;       /* run-time minus link-time addresses of the executable */
	/* One record, valid only during the call; len is the record's size. */
	void (*on_record)(void *cookie, const void *data, size_t len);
	void *cookie;
	const char *exe_path;     /* file to attach to; NULL: /proc/PID/exe */
	enum tracer_prog prog;
	enum tracer_attach attach;
	int probes;               /* enum probe_mode (probes/probe_plan.h): which sites */
};

struct tracer_counters {
	uint64_t v[CT_CNT_MAX]; /* indexed by enum ct_counter, summed over CPUs */
};

/* Loads and attaches. NULL with errno and ct_errmsg(): "cannot attach to pid 42:
 * missing privileges (...)", "cannot attach to pid 42: no such process", ...
 * Privileges (measured with setpriv as a non-root user, kernel 6.18): CAP_BPF and
 * CAP_PERFMON for a process of the same user; CAP_SYS_PTRACE as well for another
 * user's process (to open /proc/PID/exe), and CAP_DAC_READ_SEARCH when its
 * executable is not readable by the tracing user. The sites are attached through
 * /proc/PID/exe, which reaches the file in any mount namespace. */
struct tracer *tracer__open(int pid, const struct probe_plan *plan, const struct go_offsets *off,
			    const struct tracer_opts *opts);
/* Waits up to timeout_ms, at most 100 ms (-1: 100 ms), and delivers the records
 * that are ready. Records reach userspace within one poll period: the kernel side
 * wakes a poller only when a quarter of the ring is used. Returns the number
 * delivered, or -errno. */
int tracer__poll(struct tracer *t, int timeout_ms);
/* Delivers what is ready without waiting. Returns the number delivered, or -errno. */
int tracer__consume(struct tracer *t);
/* As tracer__consume, at most max records (0: all). */
int tracer__consume_n(struct tracer *t, int max);
/* A file descriptor that becomes readable when the ring is a quarter full (epoll);
 * call tracer__consume at least every 100 ms as well. */
int tracer__fd(const struct tracer *t);
int tracer__counters(const struct tracer *t, struct tracer_counters *out);
/* Sizes the ring from the measured record rate: once per 100 ms window, when the
 * records of the window would fill the ring within 400 ms (4 collection periods),
 * or some were dropped, a ring of the next power of two that holds them (at least
 * double, at most ring_max) replaces it; see ring_grow in tracer.c for why no
 * record is lost, reordered or seen twice. It never shrinks during a session: a
 * burst that filled it once comes again (GC, a load spike), a smaller ring would
 * drop exactly those records, and the memory is bounded by ring_max. Called by
 * tracer__poll; call it after consuming otherwise. Delivers records. 0. */
int tracer__adapt(struct tracer *t);
unsigned tracer__ring_grows(const struct tracer *t); /* times the ring grew */
/* The ring buffer: bytes queued now, and its size. */
void tracer__ring_fill(const struct tracer *t, size_t *used, size_t *size);
/* The hit counter alone (one map lookup): for frequent reads. */
int tracer__hits(const struct tracer *t, uint64_t *hits);
/* The time the kernel spent running the uprobe programs since load (kernel BPF
 * run-time statistics, on while the tracer lives): part of what a hit costs the
 * target beside the trap itself. -ENOTSUP when the kernel keeps none. */
int tracer__prog_ns(const struct tracer *t, uint64_t *ns);
/* Detaches every site (on = false) or attaches them again, keeping the BPF
 * object, its maps and the ring buffer: the overhead budget's duty cycle.
 * 0 or -errno (ct_errmsg set). */
int tracer__set_attached(struct tracer *t, bool on);
bool tracer__attached(const struct tracer *t);
/* "uprobe_multi" or "uprobe": how the sites were attached. */
const char *tracer__attach_mode(const struct tracer *t);
int tracer__nsites(const struct tracer *t); /* sites attached */
/* Time the kernel spent in our BPF program and how often it ran, as counted while
 * BPF run-time statistics are enabled (bpf_enable_stats(BPF_STATS_RUN_TIME) or
 * sysctl kernel.bpf_stats_enabled=1); zeros otherwise. For benchmarks. */
int tracer__prog_stats(const struct tracer *t, uint64_t *run_ns, uint64_t *run_cnt);
/* The machine's cost of one probe hit: an empty uprobe on an emulated push %rbp
 * in a function of ctxtrace's own, called `calls` times (0: 1000) with and
 * without it; the fastest of 20 rounds each. 0 or -errno. */
int tracer__calibrate(int calls, double *ns_per_hit);
/* Detaches every probe and frees everything; takes NULL. */
void tracer__free(struct tracer *t);

#endif
