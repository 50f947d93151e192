/* Goroutine state for the rules, from the target's memory (see gstate.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "binary/offsets.h"
#include "events/decoder.h"
#include "events/event.h"
#include "events/goroutines.h"
#include "events/procmem.h"
#include "events/gstate.h"
#include "util/clock.h"

#define STACK_MAX 32

struct gstate_src {
	struct gstate_src_opts o;
};

struct gstate_src *gstate_src__new(const struct gstate_src_opts *opts)
{
	struct gstate_src *src;

	if (!opts->gs || !opts->mem || !opts->off || !opts->dec) {
		errno = EINVAL;
		return NULL;
	}
	src = calloc(1, sizeof(*src));
	if (!src) {
		errno = ENOMEM;
		return NULL;
	}
	src->o = *opts;
	return src;
}

void gstate_src__free(struct gstate_src *src)
{
	free(src);
}

/* The OS thread of the M the goroutine is on: g.m.procid. 0 when unknown. */
static uint32_t thread_of(struct gstate_src *src, const struct go_g *g)
{
	int64_t om = src->o.off->v[GO_OFF_G_M], op = src->o.off->v[GO_OFF_M_PROCID];
	uint64_t m = 0, procid = 0;

	if (om < 0 || op < 0 || procmem__read_u64(src->o.mem, g->addr + (uint64_t)om, &m) || !m)
		return 0;
	if (procmem__read_u64(src->o.mem, m + (uint64_t)op, &procid))
		return 0;
	return (uint32_t)procid;
}

/* A goroutine in a syscall or cgo call on Go 1.19 to 1.22: entersyscall saves
 * the caller's pc and sp but not its frame pointer (1.23 added it), so the walk
 * from the saved registers stops at once. The caller's frame record (saved BP,
 * return address) lies a few words above the saved sp: take the first pair whose
 * BP points further up the goroutine's stack, whose return address is code, and
 * whose chain goes on the same way one step more; walk on from there. */
static bool code_at(struct gstate_src *src, uint64_t pc)
{
	const struct ct_stack *st = decoder__stack(src->o.dec, &pc, 1, false);

	return st && st->n && st->frames[0].func;
}

static bool frame_ok(struct gstate_src *src, const struct go_g *g, uint64_t at, uint64_t bp, uint64_t ret)
{
	return bp > at && bp + 16 <= g->stack_hi && !(bp & 7) && code_at(src, ret);
}

static int walk_from_syscall_sp(struct gstate_src *src, const struct go_g *g, uint64_t *pcs, int max)
{
	uint64_t w[2], nx[2];
	int n = 0;

	if (!g->syscall_sp || !g->syscall_pc || !g->stack_hi || max < 2)
		return 0;
	for (uint64_t a = g->syscall_sp; a < g->syscall_sp + 64 * 8 && a + 8 < g->stack_hi; a += 8) {
		if (procmem__read(src->o.mem, a - 8, w, sizeof(w)) || !frame_ok(src, g, a, w[0], w[1]))
			continue;
		if (procmem__read(src->o.mem, w[0], nx, sizeof(nx)) ||
		    (nx[0] && !frame_ok(src, g, w[0], nx[0], nx[1])))
			continue;
		pcs[n++] = g->syscall_pc;
		pcs[n++] = w[1];
		for (uint64_t bp = w[0]; n < max && bp;) {
			if (procmem__read(src->o.mem, bp, nx, sizeof(nx)) || !nx[1])
				break;
			pcs[n++] = nx[1];
			if (nx[0] <= bp || nx[0] + 16 > g->stack_hi)
				break;
			bp = nx[0];
		}
		return n;
	}
	return 0;
}

static enum rules_gstatus map_status(uint32_t s)
{
	switch (s) {
	case GO_STATUS_RUNNABLE:
	case GO_STATUS_PREEMPTED: return RULES_G_RUNNABLE;
	case GO_STATUS_RUNNING: return RULES_G_RUNNING;
	case GO_STATUS_SYSCALL: return RULES_G_SYSCALL;
	case GO_STATUS_WAITING:
	case GO_STATUS_COPYSTACK:
	case GO_STATUS_LEAKED: return RULES_G_WAITING;
	case GO_STATUS_DEAD:
	case GO_STATUS_DEADEXTRA: return RULES_G_DEAD;
	default: return RULES_G_UNKNOWN;
	}
}

int gstate_src__read(void *cookie, uint64_t goid, struct rules_gstate *out)
{
	struct gstate_src *src = cookie;
	struct go_g g;
	int err;

	memset(out, 0, sizeof(*out));
	out->syscall_nr = -1;
	err = goroutines__state(src->o.gs, goid, &g);
	if (err)
		return err;
	return gstate_src__read_g(src, &g, out);
}

int gstate_src__read_g(struct gstate_src *src, const struct go_g *gp, struct rules_gstate *out)
{
	return gstate_src__read_g_pcs(src, gp, NULL, 0, out);
}

int gstate_src__read_g_pcs(struct gstate_src *src, const struct go_g *gp, const uint64_t *given,
			   int ngiven, struct rules_gstate *out)
{
	uint64_t pcs[STACK_MAX];
	struct go_g g = *gp;
	int n;

	memset(out, 0, sizeof(*out));
	out->syscall_nr = -1;
	out->status = map_status(g.status);
	if (out->status == RULES_G_DEAD)
		return -ENOENT;
	if (out->status == RULES_G_WAITING) {
		uint64_t now = ct_mono_ns();

		out->wait_reason = goroutines__waitreason(src->o.gs, g.waitreason);
		/* the runtime sets waitsince lazily (at the next GC): often unknown */
		if (g.waitsince > 0 && (uint64_t)g.waitsince < now)
			out->waiting_ns = now - (uint64_t)g.waitsince;
	}
	n = -1;
	if (ngiven >= 2 && out->status != RULES_G_SYSCALL) {
		n = ngiven < STACK_MAX ? ngiven : STACK_MAX;
		memcpy(pcs, given, (size_t)n * sizeof(pcs[0]));
	}
	/* Go 1.19-1.22 leave sched.bp stale in a syscall: a walk from it may follow
	 * an old chain, so look for the caller's frame record first. */
	if (out->status == RULES_G_SYSCALL && (src->o.go_minor == 0 || src->o.go_minor < 23))
		n = walk_from_syscall_sp(src, &g, pcs, STACK_MAX);
	if (n < 2)
		n = goroutines__stack(src->o.gs, &g, pcs, STACK_MAX);
	if (out->status == RULES_G_SYSCALL && n <= 1) {
		int k = walk_from_syscall_sp(src, &g, pcs, STACK_MAX);

		if (k > n)
			n = k;
	}
	if (n > 0)
		out->stack = decoder__stack(src->o.dec, pcs, n, false); /* pcs[0] is a return address too */
	if (out->status == RULES_G_SYSCALL) {
		out->tid = thread_of(src, &g);
		for (uint32_t i = 0; out->stack && i < out->stack->n; i++) {
			const char *f = out->stack->frames[i].func;

			if (f && (!strcmp(f, "runtime.cgocall") || !strcmp(f, "runtime.asmcgocall"))) {
				out->in_cgo = true;
				break;
			}
		}
	}
	return 0;
}
