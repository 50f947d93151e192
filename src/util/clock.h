/* Clocks in nanoseconds. Events, the graph and the rules run on CLOCK_MONOTONIC
 * (what bpf_ktime_get_ns() returns); wall times are derived from it by an offset. */
#ifndef CT_UTIL_CLOCK_H
#define CT_UTIL_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t ct_clock_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static inline uint64_t ct_mono_ns(void)
{
	return ct_clock_ns(CLOCK_MONOTONIC);
}

/* CLOCK_REALTIME - CLOCK_MONOTONIC, now: add it to a monotonic time for the wall time. */
static inline int64_t ct_mono_to_real_ns(void)
{
	uint64_t mono = ct_mono_ns();

	return (int64_t)(ct_clock_ns(CLOCK_REALTIME) - mono);
}

#endif
