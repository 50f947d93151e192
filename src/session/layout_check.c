#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "binary/goelf.h"
#include "binary/offsets.h"
#include "events/goroutines.h"
#include "events/procmem.h"
#include "probes/probe_plan.h"
#include "session/layout_check.h"
#include "util/log.h"

#define CHECK_GS 16
#define ATTEMPTS 3

static bool in_func(const struct layout_check_in *in, uint64_t pc)
{
	struct go_func f;

	return pc >= in->bias && goelf__func_at(in->ge, pc - in->bias, &f) == 0;
}

static bool live(uint32_t status)
{
	return status != GO_STATUS_IDLE && status != GO_STATUS_DEAD && status != GO_STATUS_DEADEXTRA;
}

/* Statuses the runtime uses (5 and 7 are unused placeholders). */
static bool known_status(uint32_t status)
{
	return status <= GO_STATUS_DEADEXTRA && status != 5 && status != 7;
}

/* A running g's m points back at it, and its procid is a thread of the target. */
static int check_m(const struct layout_check_in *in, const struct go_g *g, int i)
{
	int64_t off_m = in->off->v[GO_OFF_G_M], off_curg = in->off->v[GO_OFF_M_CURG];
	int64_t off_procid = in->off->v[GO_OFF_M_PROCID];
	uint64_t m, curg, procid;
	struct go_g again;
	char task[64];

	if (off_m < 0 || off_curg < 0 || procmem__read_u64(in->mem, g->addr + off_m, &m) || !m ||
	    procmem__read_u64(in->mem, m + off_curg, &curg))
		return 0;
	if (curg != g->addr) {
		/* It may have stopped running between the reads. */
		if (!goroutines__read_g(in->gs, g->addr, &again) && again.status != GO_STATUS_RUNNING)
			return 0;
		ct_errmsg_set("allgs[%d] (goid %llu) is running on an m whose curg is 0x%llx, not it", i,
			      (unsigned long long)g->goid, (unsigned long long)curg);
		return -EPROTO;
	}
	if (off_procid < 0 || procmem__read_u64(in->mem, m + off_procid, &procid))
		return 0;
	snprintf(task, sizeof(task), "/proc/%d/task/%llu", in->pid, (unsigned long long)procid);
	if (in->pid && (procid == 0 || procid > (1u << 22) || access(task, F_OK))) {
		ct_errmsg_set("m.procid of running allgs[%d] is %llu, not a thread of pid %d", i,
			      (unsigned long long)procid, in->pid);
		return -EPROTO;
	}
	return 0;
}

static int check_g(const struct layout_check_in *in, const struct go_g *g, int i, uint64_t main_pc,
		   uint64_t *goids, int ngoids)
{
	uint64_t size = g->stack_hi - g->stack_lo;

	if (!known_status(g->status)) {
		ct_errmsg_set("allgs[%d] has status %u, not a goroutine status", i, g->status);
		return -EPROTO;
	}
	if (i == 0 && g->goid != 1) {
		ct_errmsg_set("allgs[0] has goid %llu, not 1 (the main goroutine)",
			      (unsigned long long)g->goid);
		return -EPROTO;
	}
	if (i == 0 && g->startpc != main_pc) {
		ct_errmsg_set("allgs[0] starts at 0x%llx, not runtime.main (0x%llx)",
			      (unsigned long long)g->startpc, (unsigned long long)main_pc);
		return -EPROTO;
	}
	if (!live(g->status))
		return 0;
	if (!g->goid || g->goid >= (1ULL << 48)) {
		ct_errmsg_set("allgs[%d] has goid %llu", i, (unsigned long long)g->goid);
		return -EPROTO;
	}
	for (int k = 0; k < ngoids; k++) {
		if (goids[k] == g->goid) {
			ct_errmsg_set("allgs[%d] has goid %llu, like an earlier one", i,
				      (unsigned long long)g->goid);
			return -EPROTO;
		}
	}
	/* Goroutine stacks are power-of-two sized (runtime.stackalloc). */
	if (g->stack_lo >= g->stack_hi || size < 2048 || size > (1ULL << 30) || (size & (size - 1))) {
		ct_errmsg_set("allgs[%d] (goid %llu) has stack bounds 0x%llx-0x%llx", i,
			      (unsigned long long)g->goid, (unsigned long long)g->stack_lo,
			      (unsigned long long)g->stack_hi);
		return -EPROTO;
	}
	if (!in_func(in, g->startpc) || (g->goid > 1 && !in_func(in, g->gopc))) {
		ct_errmsg_set("allgs[%d] (goid %llu) has start pc 0x%llx and go statement pc 0x%llx, "
			      "not both in functions", i, (unsigned long long)g->goid,
			      (unsigned long long)g->startpc, (unsigned long long)g->gopc);
		return -EPROTO;
	}
	if (in->off->v[GO_OFF_G_PARENTGOID] >= 0 && g->parent_goid >= g->goid) {
		ct_errmsg_set("allgs[%d] (goid %llu) has parent goid %llu", i, (unsigned long long)g->goid,
			      (unsigned long long)g->parent_goid);
		return -EPROTO;
	}
	if (g->status == GO_STATUS_WAITING &&
	    (g->sched_sp < g->stack_lo || g->sched_sp > g->stack_hi || !in_func(in, g->sched_pc))) {
		ct_errmsg_set("waiting allgs[%d] (goid %llu) saved sp 0x%llx, pc 0x%llx: not on its stack "
			      "and in a function", i, (unsigned long long)g->goid,
			      (unsigned long long)g->sched_sp, (unsigned long long)g->sched_pc);
		return -EPROTO;
	}
	if (g->status == GO_STATUS_WAITING && !goroutines__waitreason(in->gs, g->waitreason)) {
		ct_errmsg_set("waiting allgs[%d] (goid %llu) has wait reason %u, not one Go has", i,
			      (unsigned long long)g->goid, g->waitreason);
		return -EPROTO;
	}
	if (g->status == GO_STATUS_RUNNING)
		return check_m(in, g, i);
	return 0;
}

static int check_allgs(const struct layout_check_in *in, uint64_t main_pc)
{
	uint64_t hdr[2], ptrs[CHECK_GS], goids[CHECK_GS];
	int n, ngoids = 0, err;
	struct go_g g;

	if (!in->allgs_addr) {
		ct_errmsg_set("runtime.allgs not found");
		return -EPROTO;
	}
	err = procmem__read(in->mem, in->allgs_addr, hdr, sizeof(hdr));
	if (err) {
		ct_errmsg_set("cannot read runtime.allgs (%s)", strerror(-err));
		return err;
	}
	if (!hdr[1] || !hdr[0] || hdr[1] > (1u << 24)) {
		ct_errmsg_set("runtime.allgs holds %llu goroutines", (unsigned long long)hdr[1]);
		return -EPROTO;
	}
	n = hdr[1] < CHECK_GS ? (int)hdr[1] : CHECK_GS;
	err = procmem__read(in->mem, hdr[0], ptrs, n * sizeof(ptrs[0]));
	if (err) {
		ct_errmsg_set("cannot read the goroutine list (%s)", strerror(-err));
		return err;
	}
	for (int i = 0; i < n; i++) {
		err = goroutines__read_g(in->gs, ptrs[i], &g);
		if (err) {
			ct_errmsg_set("cannot read allgs[%d] at 0x%llx (%s)", i, (unsigned long long)ptrs[i],
				      strerror(-err));
			return err;
		}
		err = check_g(in, &g, i, main_pc, goids, ngoids);
		if (err)
			return err;
		if (live(g.status))
			goids[ngoids++] = g.goid;
	}
	return 0;
}

int layout_check__run(const struct layout_check_in *in)
{
	struct go_func main_fn;
	int err;

	err = probe_plan__check_offsets(in->ge, in->off);
	if (err)
		return err;
	if (goelf__find_func(in->ge, "runtime.main", &main_fn)) {
		ct_errmsg_set("runtime.main not found");
		return -EPROTO;
	}
	/* The target runs on: a g may change between reads. Try again before refusing. */
	for (int a = 0; a < ATTEMPTS; a++) {
		err = check_allgs(in, main_fn.entry + in->bias);
		if (!err || err == -ESRCH)
			break;
		nanosleep(&(struct timespec){ .tv_nsec = 20 * 1000000 }, NULL);
	}
	return err;
}
