#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "binary/offsets.h"
#include "events/goroutines.h"
#include "events/procmem.h"
#include "util/hash.h"
#include "util/hashmap.h"

#define GSCAN 0x1000
#define MAX_ALLGS (1u << 24)
#define REMEMBER_SLOTS 65536 /* power of two */

struct gslot {
	uint64_t goid, g;
};

struct goroutines {
	struct goroutines_opts o;
	struct gslot *slots; /* goid -> g, direct mapped */
	/* goid -> g of every live goroutine at the last complete allgs walk; a miss
	 * is an answer ("gone") only when that walk is of the current pass. */
	struct hmap index;
	uint64_t pass, index_pass, walk_pass; /* walk_pass: goroutines__state walked */
	bool index_whole;
	struct goroutines_stats st;
};

/* runtime.waitReasonStrings in the order of the waitReason constants, per Go
 * version (runtime/runtime2.go; the order changed in 1.26). Generated from the
 * toolchains' sources. */
/* Go 1.19 */
static const char *const waitreasons_19[] = {
	"", "GC assist marking", "IO wait", "chan receive (nil chan)", "chan send (nil chan)",
	"dumping heap", "garbage collection", "garbage collection scan", "panicwait", "select",
	"select (no cases)", "GC assist wait", "GC sweep wait", "GC scavenge wait",
	"chan receive", "chan send", "finalizer wait", "force gc (idle)", "semacquire", "sleep",
	"sync.Cond.Wait", "timer goroutine (idle)", "trace reader (blocked)", "wait for GC cycle",
	"GC worker (idle)", "preempted", "debug call",
};
/* Go 1.21 to 1.23: 1.22 and 1.23 only add names at the end (1.21 has the first
 * 32, 1.22 the first 37). */
static const char *const waitreasons_21[] = {
	"", "GC assist marking", "IO wait", "chan receive (nil chan)", "chan send (nil chan)",
	"dumping heap", "garbage collection", "garbage collection scan", "panicwait", "select",
	"select (no cases)", "GC assist wait", "GC sweep wait", "GC scavenge wait",
	"chan receive", "chan send", "finalizer wait", "force gc (idle)", "semacquire", "sleep",
	"sync.Cond.Wait", "sync.Mutex.Lock", "sync.RWMutex.RLock", "sync.RWMutex.Lock",
	"trace reader (blocked)", "wait for GC cycle", "GC worker (idle)", "GC worker (active)",
	"preempted", "debug call", "GC mark termination", "stopping the world",
	"flushing proc caches", "trace goroutine status", "trace proc status", "page trace flush",
	"coroutine", "GC weak to strong wait",
};
/* Go 1.24 */
static const char *const waitreasons_24[] = {
	"", "GC assist marking", "IO wait", "chan receive (nil chan)", "chan send (nil chan)",
	"dumping heap", "garbage collection", "garbage collection scan", "panicwait", "select",
	"select (no cases)", "GC assist wait", "GC sweep wait", "GC scavenge wait",
	"chan receive", "chan send", "finalizer wait", "force gc (idle)", "semacquire", "sleep",
	"sync.Cond.Wait", "sync.Mutex.Lock", "sync.RWMutex.RLock", "sync.RWMutex.Lock",
	"sync.WaitGroup.Wait", "trace reader (blocked)", "wait for GC cycle", "GC worker (idle)",
	"GC worker (active)", "preempted", "debug call", "GC mark termination",
	"stopping the world", "flushing proc caches", "trace goroutine status",
	"trace proc status", "page trace flush", "coroutine", "GC weak to strong wait",
	"synctest.Run", "synctest.Wait", "chan receive (synctest)", "chan send (synctest)",
	"select (synctest)",
};
/* Go 1.25 */
static const char *const waitreasons_25[] = {
	"", "GC assist marking", "IO wait", "chan receive (nil chan)", "chan send (nil chan)",
	"dumping heap", "garbage collection", "garbage collection scan", "panicwait", "select",
	"select (no cases)", "GC assist wait", "GC sweep wait", "GC scavenge wait",
	"chan receive", "chan send", "finalizer wait", "force gc (idle)",
	"GOMAXPROCS updater (idle)", "semacquire", "sleep", "sync.Cond.Wait", "sync.Mutex.Lock",
	"sync.RWMutex.RLock", "sync.RWMutex.Lock", "sync.WaitGroup.Wait",
	"trace reader (blocked)", "wait for GC cycle", "GC worker (idle)", "GC worker (active)",
	"preempted", "debug call", "GC mark termination", "stopping the world",
	"flushing proc caches", "trace goroutine status", "trace proc status", "page trace flush",
	"coroutine", "GC weak to strong wait", "synctest.Run", "synctest.Wait",
	"chan receive (durable)", "chan send (durable)", "select (durable)",
	"sync.WaitGroup.Wait (durable)", "cleanup wait",
};
/* Go 1.26; Go 1.27 has the same list. */
static const char *const waitreasons_26[] = {
	"", "GC assist marking", "IO wait", "dumping heap", "garbage collection",
	"garbage collection scan", "panicwait", "GC assist wait", "GC sweep wait",
	"GC scavenge wait", "finalizer wait", "force gc (idle)", "GOMAXPROCS updater (idle)",
	"semacquire", "sleep", "chan receive (nil chan)", "chan send (nil chan)",
	"select (no cases)", "select", "chan receive", "chan send", "sync.Cond.Wait",
	"sync.Mutex.Lock", "sync.RWMutex.RLock", "sync.RWMutex.Lock", "sync.WaitGroup.Wait",
	"trace reader (blocked)", "wait for GC cycle", "GC worker (idle)", "GC worker (active)",
	"preempted", "debug call", "GC mark termination", "stopping the world",
	"flushing proc caches", "trace goroutine status", "trace proc status", "page trace flush",
	"coroutine", "GC weak to strong wait", "synctest.Run", "synctest.Wait",
	"chan receive (durable)", "chan send (durable)", "select (durable)",
	"sync.WaitGroup.Wait (durable)", "cleanup wait",
};

static const struct {
	int minor;
	const char *const *names;
	size_t n;
} waitreason_tables[] = {
#define WR(v) { v, waitreasons_##v, sizeof(waitreasons_##v) / sizeof(waitreasons_##v[0]) }
	WR(19), { 21, waitreasons_21, 32 }, { 22, waitreasons_21, 37 }, { 23, waitreasons_21, 38 },
	WR(24), WR(25), WR(26),
#undef WR
};

const char *go_waitreason_name(int go_minor, uint8_t reason)
{
	int pick = -1;
	size_t n = sizeof(waitreason_tables) / sizeof(waitreason_tables[0]);

	/* The newest table not newer than the target (Go 1.20 is not installed here:
	 * it gets 1.19's table, unverified). */
	for (size_t i = 0; i < n; i++) {
		if (waitreason_tables[i].minor <= go_minor)
			pick = (int)i;
	}
	if (pick < 0 || reason >= waitreason_tables[pick].n)
		return NULL;
	return waitreason_tables[pick].names[reason];
}

const char *goroutines__waitreason(const struct goroutines *gs, uint8_t reason)
{
	return go_waitreason_name(gs->o.go_minor, reason);
}

const char *go_status_name(uint32_t status)
{
	static const char *const names[] = {
		[GO_STATUS_IDLE] = "idle",         [GO_STATUS_RUNNABLE] = "runnable",
		[GO_STATUS_RUNNING] = "running",   [GO_STATUS_SYSCALL] = "syscall",
		[GO_STATUS_WAITING] = "waiting",   [5] = "moribund",
		[GO_STATUS_DEAD] = "dead",         [7] = "enqueue",
		[GO_STATUS_COPYSTACK] = "copystack", [GO_STATUS_PREEMPTED] = "preempted",
		[GO_STATUS_LEAKED] = "leaked",     [GO_STATUS_DEADEXTRA] = "dead",
	};

	status &= ~GSCAN;
	return status < sizeof(names) / sizeof(names[0]) && names[status] ? names[status] : "unknown";
}

static int64_t off(const struct goroutines *gs, enum go_off f)
{
	return gs->o.off->v[f];
}

struct goroutines *goroutines__new(const struct goroutines_opts *opts)
{
	struct goroutines *gs;
	static const enum go_off need[] = { GO_OFF_G_GOID, GO_OFF_G_ATOMICSTATUS, GO_OFF_G_GOPC,
					    GO_OFF_G_STARTPC };

	if (!opts->mem || !opts->off) {
		errno = EINVAL;
		return NULL;
	}
	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
		if (opts->off->v[need[i]] < 0) {
			errno = EINVAL;
			return NULL;
		}
	}
	gs = calloc(1, sizeof(*gs));
	if (!gs)
		return NULL;
	gs->o = *opts;
	gs->pass = 1;
	gs->slots = calloc(REMEMBER_SLOTS, sizeof(*gs->slots));
	if (!gs->slots) {
		free(gs);
		errno = ENOMEM;
		return NULL;
	}
	return gs;
}

void goroutines__free(struct goroutines *gs)
{
	if (!gs)
		return;
	free(gs->slots);
	hmap__free(&gs->index);
	free(gs);
}

/* The g's fields sit in its first 512 bytes in every supported version. */
#define G_READ 512

static uint64_t field(const unsigned char *buf, int64_t o, size_t size)
{
	uint64_t v = 0;

	if (o < 0 || (size_t)o + size > G_READ)
		return 0;
	memcpy(&v, buf + o, size);
	return v;
}

int goroutines__read_g(struct goroutines *gs, uint64_t addr, struct go_g *out)
{
	unsigned char buf[G_READ];
	int err;

	memset(out, 0, sizeof(*out));
	if (!addr)
		return -EINVAL;
	gs->st.g_reads++;
	err = procmem__read(gs->o.mem, addr, buf, sizeof(buf));
	if (err) {
		gs->st.g_read_errors++;
		return err;
	}
	out->addr = addr;
	out->goid = field(buf, off(gs, GO_OFF_G_GOID), 8);
	out->status = (uint32_t)field(buf, off(gs, GO_OFF_G_ATOMICSTATUS), 4) & ~GSCAN;
	out->gopc = field(buf, off(gs, GO_OFF_G_GOPC), 8);
	out->startpc = field(buf, off(gs, GO_OFF_G_STARTPC), 8);
	out->parent_goid = field(buf, off(gs, GO_OFF_G_PARENTGOID), 8);
	out->waitreason = (uint8_t)field(buf, off(gs, GO_OFF_G_WAITREASON), 1);
	out->waitsince = (int64_t)field(buf, off(gs, GO_OFF_G_WAITSINCE), 8);
	out->sched_pc = field(buf, off(gs, GO_OFF_G_SCHED_PC), 8);
	out->sched_sp = field(buf, off(gs, GO_OFF_G_SCHED_SP), 8);
	out->sched_bp = field(buf, off(gs, GO_OFF_G_SCHED_BP), 8);
	out->syscall_pc = field(buf, off(gs, GO_OFF_G_SYSCALLPC), 8);
	out->syscall_sp = field(buf, off(gs, GO_OFF_G_SYSCALLSP), 8);
	out->stack_lo = field(buf, off(gs, GO_OFF_G_STACK_LO), 8);
	out->stack_hi = field(buf, off(gs, GO_OFF_G_STACK_HI), 8);
	out->waiting = field(buf, off(gs, GO_OFF_G_WAITING), 8);
	return 0;
}

int goroutines__foreach(struct goroutines *gs, int (*fn)(void *cookie, const struct go_g *g),
			void *cookie)
{
	enum { BATCH = 512 };
	uint64_t hdr[2], ptrs[BATCH];
	struct go_g g;
	bool indexed;
	int err, rc;

	if (!gs->o.allgs_addr)
		return -ENOENT;
	err = procmem__read(gs->o.mem, gs->o.allgs_addr, hdr, sizeof(hdr));
	if (err)
		return err;
	if (hdr[1] > MAX_ALLGS || (hdr[1] && !hdr[0]))
		return -EINVAL;
	gs->st.scans++;
	/* Every walk rebuilds the index; without the memory it only stays partial. */
	gs->index_whole = false;
	hmap__clear(&gs->index);
	indexed = !hmap__reserve(&gs->index, hdr[1]);
	for (uint64_t i = 0; i < hdr[1]; i += BATCH) {
		size_t n = hdr[1] - i < BATCH ? hdr[1] - i : BATCH;

		err = procmem__read(gs->o.mem, hdr[0] + i * 8, ptrs, n * 8);
		if (err)
			return err;
		for (size_t k = 0; k < n; k++) {
			if (goroutines__read_g(gs, ptrs[k], &g))
				continue;
			if (g.status == GO_STATUS_IDLE || g.status == GO_STATUS_DEAD ||
			    g.status == GO_STATUS_DEADEXTRA || !g.goid)
				continue;
			goroutines__remember(gs, g.goid, g.addr);
			if (indexed && !hmap__get_u64(&gs->index, g.goid))
				hmap__add(&gs->index, hmap_key(g.goid), g.addr);
			rc = fn(cookie, &g);
			if (rc)
				return rc;
		}
	}
	gs->index_whole = indexed;
	gs->index_pass = gs->pass;
	return 0;
}

void goroutines__new_pass(struct goroutines *gs)
{
	gs->pass++;
}

void goroutines__remember(struct goroutines *gs, uint64_t goid, uint64_t g)
{
	struct gslot *s = &gs->slots[ct_mix64(goid) & (REMEMBER_SLOTS - 1)];

	s->goid = goid;
	s->g = g;
}

static int nothing_cb(void *cookie, const struct go_g *g)
{
	(void)cookie;
	(void)g;
	return 0;
}

/* g structs are reused after exit: a g is goid's only while it still holds goid.
 * A goroutine never moves to another g, so a g holding another goid means goid
 * exited. 1: the answer is in *out or rc; 0: g tells nothing. */
static int state_at(struct goroutines *gs, uint64_t g, uint64_t goid, struct go_g *out, int *rc)
{
	if (goroutines__read_g(gs, g, out))
		return 0;
	if (out->goid != goid)
		*rc = -ENOENT;
	else
		*rc = out->status == GO_STATUS_DEAD || out->status == GO_STATUS_DEADEXTRA ||
				      out->status == GO_STATUS_IDLE ? -ENOENT : 0;
	return 1;
}

int goroutines__state(struct goroutines *gs, uint64_t goid, struct go_g *out)
{
	struct gslot *s = &gs->slots[ct_mix64(goid) & (REMEMBER_SLOTS - 1)];
	uint64_t *g;
	int rc;

	if (s->goid == goid && state_at(gs, s->g, goid, out, &rc) && out->goid == goid)
		return rc;
	if (!goid)
		return -ENOENT;
	/* One allgs walk per pass: later lookups go through its index, and a goid
	 * not in it (exited, its exit record maybe lost) is gone without a walk. */
	if ((!gs->index_whole || gs->index_pass != gs->pass) && gs->walk_pass != gs->pass) {
		gs->walk_pass = gs->pass;
		rc = goroutines__foreach(gs, nothing_cb, NULL);
		if (rc < 0)
			return rc;
	}
	g = hmap__get_u64(&gs->index, goid);
	if (g && state_at(gs, *g, goid, out, &rc))
		return rc;
	memset(out, 0, sizeof(*out));
	/* A walk that failed this pass is not tried again before the next one. */
	return gs->index_whole && gs->index_pass == gs->pass ? -ENOENT : -EAGAIN;
}

int goroutines__stack(struct goroutines *gs, const struct go_g *g, uint64_t *pcs, int max)
{
	uint64_t pc = g->sched_pc, bp = g->sched_bp, fr[2];
	int n = 0;

	if (g->status == GO_STATUS_RUNNING)
		return -EBUSY;
	/* In a syscall the saved pc/sp are the syscall's caller's (entersyscall saves
	 * its caller's pc, sp and bp into sched as well). */
	if (g->status == GO_STATUS_SYSCALL && g->syscall_pc)
		pc = g->syscall_pc;
	if (!pc)
		return -ENOENT;
	if (max <= 0)
		return 0;
	pcs[n++] = pc;
	while (n < max && bp) {
		/* Frames live on the goroutine's stack; anything else ends the walk. */
		if (g->stack_hi && (bp < g->stack_lo || bp + 16 > g->stack_hi))
			break;
		if (procmem__read(gs->o.mem, bp, fr, sizeof(fr)))
			break;
		if (!fr[1])
			break;
		pcs[n++] = fr[1];
		if (fr[0] <= bp)
			break;
		bp = fr[0];
	}
	return n;
}

bool goroutines__unchanged(struct goroutines *gs, const struct go_g *g)
{
	struct go_g now;

	if (goroutines__read_g(gs, g->addr, &now) || now.goid != g->goid ||
	    now.status != g->status || now.sched_pc != g->sched_pc ||
	    now.sched_sp != g->sched_sp || now.waiting != g->waiting ||
	    now.syscall_sp != g->syscall_sp) {
		gs->st.changed++;
		return false;
	}
	return true;
}

#define SUDOG_MAX 256 /* a select has at most 65536 cases; a list this long is garbage */

int goroutines__wait_chans(struct goroutines *gs, const struct go_g *g, uint64_t *chans, int max)
{
	int64_t o_g = off(gs, GO_OFF_SUDOG_G), o_c = off(gs, GO_OFF_SUDOG_C),
		o_link = off(gs, GO_OFF_SUDOG_WAITLINK);
	uint64_t sg = g->waiting, w;
	int n = 0, hops = 0;

	if (o_g < 0 || o_c < 0 || o_link < 0 || off(gs, GO_OFF_G_WAITING) < 0)
		return -ENOTSUP;
	if (g->status != GO_STATUS_WAITING && g->status != GO_STATUS_LEAKED)
		return 0;
	while (sg) {
		if ((sg & 7) || ++hops > SUDOG_MAX) {
			gs->st.sudog_bad++;
			return goroutines__unchanged(gs, g) ? -EINVAL : -EAGAIN;
		}
		/* A sudog is reused once its goroutine wakes: it must still be g's. */
		if (procmem__read_u64(gs->o.mem, sg + o_g, &w) || w != g->addr) {
			gs->st.sudog_bad++;
			return goroutines__unchanged(gs, g) ? -EINVAL : -EAGAIN;
		}
		if (procmem__read_u64(gs->o.mem, sg + o_c, &w))
			return goroutines__unchanged(gs, g) ? -EFAULT : -EAGAIN;
		if (w && n < max)
			chans[n++] = w;
		if (procmem__read_u64(gs->o.mem, sg + o_link, &sg))
			return goroutines__unchanged(gs, g) ? -EFAULT : -EAGAIN;
	}
	if (!goroutines__unchanged(gs, g))
		return -EAGAIN;
	return n;
}

int goroutines__chan(struct goroutines *gs, uint64_t addr, struct go_chan *out)
{
	int64_t o[] = { off(gs, GO_OFF_HCHAN_QCOUNT), off(gs, GO_OFF_HCHAN_DATAQSIZ),
			off(gs, GO_OFF_HCHAN_CLOSED), off(gs, GO_OFF_HCHAN_ELEMTYPE),
			off(gs, GO_OFF_HCHAN_RECVQ), off(gs, GO_OFF_HCHAN_SENDQ) };
	unsigned char buf[128];
	uint32_t closed;
	uint64_t rq, sq;
	int64_t len = 0;

	memset(out, 0, sizeof(*out));
	if (!addr || (addr & 7))
		return -EINVAL;
	for (size_t i = 0; i < sizeof(o) / sizeof(o[0]); i++) {
		if (o[i] < 0 || o[i] + 8 > (int64_t)sizeof(buf))
			return -ENOTSUP;
		len = o[i] + 8 > len ? o[i] + 8 : len;
	}
	if (procmem__read(gs->o.mem, addr, buf, (size_t)len))
		return -EFAULT;
	out->addr = addr;
	memcpy(&out->qcount, buf + o[0], 8);
	memcpy(&out->dataqsiz, buf + o[1], 8);
	memcpy(&closed, buf + o[2], 4);
	memcpy(&out->elemtype, buf + o[3], 8);
	memcpy(&rq, buf + o[4], 8); /* waitq.first */
	memcpy(&sq, buf + o[5], 8);
	out->closed = closed != 0;
	out->recv_waiters = rq != 0;
	out->send_waiters = sq != 0;
	if (out->qcount > out->dataqsiz || closed > 1)
		return -EINVAL; /* not a channel, or one being changed */
	return 0;
}

void goroutines__stats(const struct goroutines *gs, struct goroutines_stats *st)
{
	*st = gs->st;
}
