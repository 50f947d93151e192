/* The target's goroutines, read from its memory: the runtime's allgs list at
 * attach, and one goroutine's state (status, wait reason, blocking stack) on
 * demand. Reads race with the running target; every value is a snapshot. */
#ifndef CT_GOROUTINES_H
#define CT_GOROUTINES_H

#include <stdbool.h>
#include <stdint.h>

struct goroutines;
struct procmem;
struct go_offsets;

/* runtime g status values (runtime2.go), without the _Gscan bit. */
enum go_status {
	GO_STATUS_IDLE = 0,
	GO_STATUS_RUNNABLE = 1,
	GO_STATUS_RUNNING = 2,
	GO_STATUS_SYSCALL = 3,
	GO_STATUS_WAITING = 4,
	GO_STATUS_DEAD = 6,
	GO_STATUS_COPYSTACK = 8,
	GO_STATUS_PREEMPTED = 9,
	GO_STATUS_LEAKED = 10,    /* 1.26+ */
	GO_STATUS_DEADEXTRA = 11, /* 1.26+ */
};

struct go_g {
	uint64_t addr;  /* the runtime.g */
	uint64_t goid;
	uint64_t parent_goid; /* 1.21+; 0 before */
	uint64_t gopc, startpc;
	uint32_t status;      /* enum go_status (the _Gscan bit cleared) */
	uint8_t waitreason;
	int64_t waitsince;    /* nanotime() when it blocked; 0 when unknown */
	uint64_t sched_pc, sched_sp, sched_bp;
	uint64_t syscall_pc, syscall_sp;
	uint64_t stack_lo, stack_hi;
	uint64_t waiting;     /* first sudog of its g.waiting list; 0 when none */
};

/* A channel (runtime.hchan) as read from memory. */
struct go_chan {
	uint64_t addr;
	uint64_t qcount, dataqsiz; /* buffered elements now / buffer size (0: unbuffered) */
	uint64_t elemtype;         /* runtime address of the element's abi.Type */
	bool closed;
	bool recv_waiters, send_waiters; /* recvq / sendq not empty */
};

struct goroutines_stats {
	uint64_t g_reads, g_read_errors;
	uint64_t changed;   /* a goroutine changed while read: read again or left out */
	uint64_t sudog_bad; /* sudog lists that did not name the goroutine, or looped */
	uint64_t scans;     /* allgs walks */
};

struct goroutines_opts {
	struct procmem *mem;
	const struct go_offsets *off;
	uint64_t allgs_addr; /* runtime address of the runtime.allgs slice header */
	int go_minor;
};

/* NULL with errno (EINVAL when offsets needed are missing). */
struct goroutines *goroutines__new(const struct goroutines_opts *opts);
void goroutines__free(struct goroutines *gs);

int goroutines__read_g(struct goroutines *gs, uint64_t addr, struct go_g *out);
/* Calls fn for every g in allgs that is neither idle nor dead; stops when fn
 * returns non-zero (and returns that). -errno when allgs cannot be read. A walk
 * that runs to the end is also goroutines__state's index for the current pass. */
int goroutines__foreach(struct goroutines *gs, int (*fn)(void *cookie, const struct go_g *g),
			void *cookie);
/* Remembers where goid's g lives (from go_create records), for goroutines__state. */
void goroutines__remember(struct goroutines *gs, uint64_t goid, uint64_t g_addr);
/* The goroutine's current state: through the remembered g when it still runs
 * goid, else through the index of the pass's allgs walk (at most one walk per
 * pass, made by the first lookup that needs it). -ENOENT when it is gone;
 * -EAGAIN when this pass's walk failed and the goroutine is not known. */
int goroutines__state(struct goroutines *gs, uint64_t goid, struct go_g *out);
/* Starts a pass (a rules tick): goroutines started since the last walk are found
 * only after this, by the pass's one new walk. */
void goroutines__new_pass(struct goroutines *gs);
/* Frame-pointer walk of a goroutine that is not running: pcs[0] is where it
 * resumes (sched.pc, or syscallpc in a syscall), then its callers. Every pc is a
 * return address (symbolize pc - 1; decoder__stack(.., false)), as the runtime's
 * own traceback does. Returns the count, -EBUSY for a running goroutine (its
 * saved registers are stale), or -errno. */
int goroutines__stack(struct goroutines *gs, const struct go_g *g, uint64_t *pcs, int max);

/* The channels a parked goroutine waits on: its g.waiting sudog list (one sudog
 * for a plain send or receive, one per channel case of a blocking select), each
 * sudog.c, in list order. Checked against a moving target: every sudog must name
 * g as its goroutine, and g (goid, status, waiting) must read the same after the
 * walk as in *g. Returns the count: 0 when it waits on no channel (not parked, or
 * parked on a lock, a WaitGroup, a timer); -EAGAIN when g changed while read
 * (counted in changed); -ENOTSUP when the offsets are missing; -errno. */
int goroutines__wait_chans(struct goroutines *gs, const struct go_g *g, uint64_t *chans, int max);
/* One channel's state. -EINVAL for 0 or a misaligned address, -errno. */
int goroutines__chan(struct goroutines *gs, uint64_t addr, struct go_chan *out);
/* Reads g again and tells whether it is the same goroutine in the same wait: same
 * goid, status, sched.pc/sp and waiting. false (counted in changed) when not. */
bool goroutines__unchanged(struct goroutines *gs, const struct go_g *g);
void goroutines__stats(const struct goroutines *gs, struct goroutines_stats *st);

const char *go_status_name(uint32_t status);  /* "waiting", "syscall", ... */
/* The runtime's text for a wait reason ("chan receive"); NULL when unknown. */
const char *goroutines__waitreason(const struct goroutines *gs, uint8_t reason);
const char *go_waitreason_name(int go_minor, uint8_t reason);

#endif
