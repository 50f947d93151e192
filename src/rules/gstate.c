/* Goroutine state for the rules, from the target's memory (see gstate.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "binary/offsets.h"
#include "events/decoder.h"
#include "events/goroutines.h"
#include "events/procmem.h"
#include "rules/gstate.h"
#include "rules/rules.h"

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

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
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
	uint64_t pcs[STACK_MAX];
	struct go_g g;
	int err, n;

	memset(out, 0, sizeof(*out));
	out->syscall_nr = -1;
	err = goroutines__state(src->o.gs, goid, &g);
	if (err)
		return err;
	out->status = map_status(g.status);
	if (out->status == RULES_G_DEAD)
		return -ENOENT;
	if (out->status == RULES_G_WAITING) {
		uint64_t now = mono_ns();

		out->wait_reason = goroutines__waitreason(src->o.gs, g.waitreason);
		/* the runtime sets waitsince lazily (at the next GC): often unknown */
		if (g.waitsince > 0 && (uint64_t)g.waitsince < now)
			out->waiting_ns = now - (uint64_t)g.waitsince;
	}
	n = goroutines__stack(src->o.gs, &g, pcs, STACK_MAX);
	if (n > 0)
		out->stack = decoder__stack(src->o.dec, pcs, n, true);
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
