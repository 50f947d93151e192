#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "binary/goelf.h"
#include "binary/pclntab.h"
#include "events/ctxmem.h"
#include "events/framescan.h"
#include "events/goroutines.h"
#include "events/procmem.h"
#include "util/hash.h"

#define DEF_MAX_STACK (256u * 1024)
#define MAX_CTX_ITABS 4096
#define RT_SLOTS 4096      /* runtime itab lookups cached (direct-mapped) */
#define RT_BUDGET 64       /* uncached lookups per goroutine scan */

struct framescan {
	struct framescan_opts o;
	uint64_t *buf;
	uint64_t itabs[MAX_CTX_ITABS]; /* the module's context.Context itabs, sorted */
	int nitabs;                    /* -1: unknown, judge word by word */
	uint64_t ctx_inter;            /* context.Context's interfacetype; 0: unknown */
	struct { uint64_t addr; bool ctx; } rt[RT_SLOTS]; /* words looked up as runtime itabs */
	uint32_t rt_budget;            /* lookups left in this scan */
	uint64_t stack_lo, stack_hi;   /* the goroutine being scanned */
	uint64_t goexit;               /* runtime.goexit's entry (file address); 0: unknown */
	uint64_t last_sp, last_len;    /* the copy in buf of the last scan that succeeded */
	struct framescan_stats st;
};

struct framescan *framescan__new(const struct framescan_opts *opts)
{
	struct framescan *fs;

	if (!opts->mem || !opts->gs || !opts->cm) {
		errno = EINVAL;
		return NULL;
	}
	fs = calloc(1, sizeof(*fs));
	if (!fs)
		return NULL;
	fs->o = *opts;
	if (!fs->o.max_stack_bytes)
		fs->o.max_stack_bytes = DEF_MAX_STACK;
	fs->o.max_stack_bytes &= ~7u;
	fs->buf = malloc(fs->o.max_stack_bytes);
	if (!fs->buf) {
		free(fs);
		errno = ENOMEM;
		return NULL;
	}
	fs->nitabs = ctxmem__ctx_itabs(fs->o.cm, fs->itabs, MAX_CTX_ITABS);
	if (fs->nitabs < 0)
		fs->nitabs = -1;
	/* itab.inter is its first word: the same interfacetype for every context itab */
	if (fs->nitabs > 0 && procmem__read_u64(fs->o.mem, fs->itabs[0], &fs->ctx_inter))
		fs->ctx_inter = 0;
	if (fs->o.ge) {
		struct go_func f;

		if (!goelf__find_func(fs->o.ge, "runtime.goexit.abi0", &f) ||
		    !goelf__find_func(fs->o.ge, "runtime.goexit", &f))
			fs->goexit = f.entry;
	}
	return fs;
}

void framescan__free(struct framescan *fs)
{
	if (!fs)
		return;
	free(fs->buf);
	free(fs);
}

/* An itab getitab made at run time (not in the module's list): its interface is
 * context.Context's. One read of its first word, cached; words into the stack
 * being scanned are none. */
static bool is_runtime_ctx_itab(struct framescan *fs, uint64_t w)
{
	uint64_t inter;
	uint32_t slot = (uint32_t)(ct_mix64(w) & (RT_SLOTS - 1));

	if (!fs->ctx_inter || (w >= fs->stack_lo && w < fs->stack_hi))
		return false;
	if (fs->rt[slot].addr == w)
		return fs->rt[slot].ctx;
	if (!fs->rt_budget) {
		fs->st.rt_skipped++;
		return false;
	}
	fs->rt_budget--;
	fs->st.rt_reads++;
	if (procmem__read_u64(fs->o.mem, w, &inter))
		inter = 0; /* unmapped: not an itab (itabs are never freed) */
	fs->rt[slot].addr = w;
	fs->rt[slot].ctx = inter == fs->ctx_inter && ctxmem__is_context_iface(fs->o.cm, w);
	fs->st.rt_found += fs->rt[slot].ctx;
	return fs->rt[slot].ctx;
}

static bool is_ctx_itab(struct framescan *fs, uint64_t w)
{
	int lo = 0, hi = fs->nitabs;

	if (!w || (w & 7))
		return false;
	if (fs->nitabs > 0) {
		while (lo < hi) {
			int mid = (lo + hi) / 2;

			if (fs->itabs[mid] == w)
				return true;
			if (fs->itabs[mid] < w)
				lo = mid + 1;
			else
				hi = mid;
		}
		return is_runtime_ctx_itab(fs, w);
	}
	return ctxmem__is_context_iface(fs->o.cm, w);
}

/* A word pair at stack address a of frame: recorded (true) when it is a
 * context value, innermost occurrence first. */
static bool pair(struct framescan *fs, uint64_t tab, uint64_t data, uint64_t a, int frame,
		 struct framescan_ctx *out, int max, struct framescan_result *res)
{
	int k;

	if (!data || (data & 7) || !is_ctx_itab(fs, tab))
		return false;
	for (k = 0; k < res->nctx; k++)
		if (out[k].itab == tab && out[k].data == data)
			break;
	if (k < res->nctx)
		out[k].frame_outer = (uint16_t)frame;
	else if (res->nctx < max)
		out[res->nctx++] = (struct framescan_ctx){ .itab = tab, .data = data, .slot = a,
							  .frame = (uint16_t)frame,
							  .frame_outer = (uint16_t)frame };
	else
		res->nctx_dropped++;
	return true;
}

/* The live words of [base, base + 8n) by a pointer bitmap, within the copy of
 * [sp, lim): an interface value is live when its data word's bit is set (the
 * compiler marks only that word: cmd/compile typebits.Set, "the first word isn't
 * a pointer"); its itab word is the one before. */
static void scan_bitmap(struct framescan *fs, const uint64_t *w, uint64_t sp, uint64_t lim,
			uint64_t base, uint32_t n, const uint8_t *bits, int frame,
			struct framescan_ctx *out, int max, struct framescan_result *res)
{
	for (uint32_t i = 1; i < n; i++) {
		uint64_t a = base + 8ull * (i - 1);

		if (!(bits[i / 8] >> (i % 8) & 1) || a < sp || a + 16 > lim)
			continue;
		pair(fs, w[(a - sp) / 8], w[(a - sp) / 8 + 1], a, frame, out, max, res);
	}
}

/* Frames by their size (pcsp) and only the slots live at each frame's pc, as
 * Go's garbage collector reads them (runtime getStackMap, scanframeworker): a dead
 * slot, or stack memory reused from an exited goroutine, keeps old interface
 * values that no live variable holds. A frame at an unsafe point (an asynchronous
 * preemption: the runtime scans it conservatively) or of assembly (no maps) gives
 * nothing. Stack objects (address-taken locals that do not escape) are not read. */
static void scan_live(struct framescan *fs, const uint64_t *w, uint64_t sp, uint64_t lim,
		      uint64_t pc, struct framescan_ctx *out, int max, struct framescan_result *res)
{
	uint64_t bias = fs->o.bias, sp0 = sp; /* w[0] is the word at sp0 */

	res->pcs[res->npcs++] = pc;
	for (int frame = 0;; frame++) {
		struct pclntab_stackmap m;
		uint64_t fp, varp, ret;

		if (pc < bias || goelf__stackmap(fs->o.ge, pc - bias, &m)) {
			fs->st.no_maps++;
			break;
		}
		fp = sp + (uint64_t)m.spdelta + 8;
		if (fp > lim) {
			res->truncated = lim < fs->stack_hi;
			break;
		}
		varp = fp - 8;
		if (varp > sp)
			varp -= 8; /* the saved frame pointer */
		if (!m.has_maps || m.unsafe_point) {
			fs->st.frames_unmapped += m.entry != fs->goexit;
		} else {
			if (m.nlocals && varp >= sp + 8ull * m.nlocals) /* within this frame */
				scan_bitmap(fs, w, sp0, lim, varp - 8ull * m.nlocals, m.nlocals, m.locals,
					    frame, out, max, res);
			if (m.nargs)
				scan_bitmap(fs, w, sp0, lim, fp, m.nargs, m.args, frame, out, max, res);
		}
		if (m.entry == fs->goexit || fp >= lim || res->npcs >= FRAMESCAN_MAX_FRAMES)
			break;
		ret = w[(fp - 8 - sp0) / 8];
		if (!ret)
			break;
		res->pcs[res->npcs++] = ret;
		pc = ret;
		sp = fp;
	}
}

static int scan_once(struct framescan *fs, const struct go_g *g, struct framescan_ctx *out, int max,
		     struct framescan_result *res)
{
	uint64_t sp = g->sched_sp, bp = g->sched_bp, pc = g->sched_pc, len, lim;
	uint64_t *w = fs->buf;

	memset(res, 0, sizeof(*res));
	if (g->status == GO_STATUS_SYSCALL && g->syscall_pc) {
		pc = g->syscall_pc;
		sp = g->syscall_sp ? g->syscall_sp : sp;
	}
	if (!pc || !sp || (sp & 7))
		return -ENOENT;
	if (!g->stack_hi || sp < g->stack_lo || sp >= g->stack_hi)
		return -EINVAL;
	fs->stack_lo = g->stack_lo;
	fs->stack_hi = g->stack_hi;
	fs->rt_budget = RT_BUDGET;
	len = g->stack_hi - sp;
	if (len > fs->o.max_stack_bytes) {
		len = fs->o.max_stack_bytes;
		res->truncated = true;
	}
	if (procmem__read(fs->o.mem, sp, w, len)) {
		fs->st.read_errors++;
		return -EFAULT;
	}
	fs->st.bytes += len;
	lim = sp + len;
	if (fs->o.ge) {
		scan_live(fs, w, sp, lim, pc, out, max, res);
		return 0;
	}
	/* Frames along the frame-pointer chain, from the copy: frame k spans
	 * [lo_k, bp_k) with lo_0 = sp and lo_k = bp_(k-1) + 16. */
	res->pcs[res->npcs++] = pc;
	uint64_t lo = sp;
	int frame = 0;

	for (;;) {
		uint64_t hi = bp && bp >= lo && bp + 16 <= lim ? bp : lim;

		for (uint64_t a = lo; a + 16 <= hi; a += 8)
			if (pair(fs, w[(a - sp) / 8], w[(a - sp) / 8 + 1], a, frame, out, max, res))
				a += 8;
		if (hi == lim || res->npcs >= FRAMESCAN_MAX_FRAMES)
			break;
		/* [bp] is the caller's bp, [bp+8] the return address into the caller. */
		uint64_t next = w[(bp - sp) / 8], ret = w[(bp - sp) / 8 + 1];

		if (!ret)
			break;
		res->pcs[res->npcs++] = ret;
		frame++;
		lo = bp + 16;
		/* A chain that does not go up ends here: the last frame runs to the top. */
		bp = next > bp ? next : 0;
	}
	return 0;
}

int framescan__scan(struct framescan *fs, const struct go_g *g, struct framescan_ctx *out, int max,
		    struct framescan_result *res)
{
	struct go_g cur = *g;
	int err;

	fs->last_sp = 0;
	if (g->status == GO_STATUS_RUNNING) {
		memset(res, 0, sizeof(*res));
		return -EBUSY;
	}
	fs->st.goroutines++;
	for (int tries = 0; tries < 2; tries++) {
		bool same;

		err = scan_once(fs, &cur, out, max, res);
		same = goroutines__unchanged(fs->o.gs, &cur);
		if (!err && same) {
			fs->last_sp = cur.status == GO_STATUS_SYSCALL && cur.syscall_pc && cur.syscall_sp ?
					      cur.syscall_sp : cur.sched_sp;
			fs->last_len = res->truncated ? fs->o.max_stack_bytes :
							   (cur.stack_hi - fs->last_sp);
			fs->st.found += (uint64_t)res->nctx;
			fs->st.truncated += res->truncated;
			return 0;
		}
		/* Unreadable while it stood still: a corrupt or vanished stack. */
		if (err && (same || err == -ENOENT)) {
			memset(res, 0, sizeof(*res));
			return err;
		}
		/* It moved (or its stack did): read the g again and retry once. */
		if (tries == 0) {
			fs->st.retried++;
			if (goroutines__read_g(fs->o.gs, g->addr, &cur) || cur.goid != g->goid ||
			    cur.status == GO_STATUS_RUNNING || cur.status == GO_STATUS_DEAD)
				break;
		}
	}
	fs->st.changed++;
	memset(res, 0, sizeof(*res));
	return -EAGAIN;
}

static bool listed(const struct framescan_ctx *v, int n, uint64_t tab, uint64_t data)
{
	for (int k = 0; k < n; k++)
		if (v[k].itab == tab && v[k].data == data)
			return true;
	return false;
}

int framescan__dead(struct framescan *fs, const struct framescan_ctx *live, int nlive,
		    struct framescan_ctx *out, int max)
{
	const uint64_t *w = fs->buf;
	uint64_t sp = fs->last_sp, n = fs->last_len / 8;
	int nout = 0;

	if (!fs->o.ge || !sp || fs->last_len > fs->o.max_stack_bytes)
		return 0;
	fs->rt_budget = RT_BUDGET;
	for (uint64_t i = 0; i + 1 < n && nout < max; i++) {
		uint64_t tab = w[i], data = w[i + 1];

		if (!data || (data & 7) || !is_ctx_itab(fs, tab))
			continue;
		if (!listed(live, nlive, tab, data) && !listed(out, nout, tab, data))
			out[nout++] = (struct framescan_ctx){ .itab = tab, .data = data, .slot = sp + 8 * i };
		i++;
	}
	return nout;
}

void framescan__stats(const struct framescan *fs, struct framescan_stats *st)
{
	*st = fs->st;
}
