/* The cost estimate and the duty cycle (see budget.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "session/budget.h"
#include "util/log.h"
#include "util/proc.h"

#define WINDOW_NS 1000000000ULL   /* the estimate is refreshed this often */
/* With a budget the first window is shorter: every site is attached until its
 * decision (a busy target pays the full cost that long). */
#define FIRST_WINDOW_NS 250000000ULL
#define DEFAULT_PERIOD_NS 1000000000ULL
#define MIN_DUTY 0.005            /* always some history, however busy the target */
/* An on-phase shorter than this is mostly attaching and detaching (6-40 ms of
 * wall clock each): a smaller duty stretches the period instead. */
#define MIN_ON_PHASE_NS 50000000ULL
#define MIN_ON_NS 50000000ULL     /* attached time a duty decision is measured over, at least */
/* ... and the target's CPU time (/proc counts it in 10-ms ticks), unless this
 * much time passed (a target that hardly runs) */
#define MIN_CPU_NS 50000000ULL
#define MAX_DECIDE_NS 5000000000ULL
#define VAR_FLOOR 0.001           /* CPU s/s: sampling saving less is not done */
#define GAPS_KEPT 64              /* recent gaps remembered for budget__gap_in */

struct gap {
	uint64_t from, to; /* to == 0: still open */
};

struct budget {
	struct budget_opts o;
	struct budget_cost c;
	uint64_t win_start, win_hits, win_cpu, win_self;
	uint64_t self_ns;                         /* the last value given */
	uint64_t last_ns, last_hits;
	uint64_t cycle_start, period;              /* the duty cycle's, now */
	uint64_t start_ns, start_hits, start_cpu; /* at the first update */
	uint64_t cpu_ns, cpu_read_ns, cpu_hits;   /* the last good CPU reading, and when */
	uint64_t start_self, cpu_self;
	uint64_t prog_ns, win_prog, start_prog, cpu_prog; /* the programs' run time */
	/* Since the last duty decision (over windows, until the sites were attached
	 * long enough to measure): attached time, the hits' cost (traps and program),
	 * ctxtrace's CPU, wall time and the target's CPU, ns. */
	uint64_t acc_on, acc_hit_ns, acc_self, acc_wall, acc_cpu;
	bool started, decided;
	struct gap gaps[GAPS_KEPT];
	uint32_t ngaps;   /* total; gaps[(ngaps - 1) % GAPS_KEPT] is the newest */
	uint64_t first_gap_ns;
};

struct budget *budget__new(const struct budget_opts *opts)
{
	struct budget *b = calloc(1, sizeof(*b));

	if (!b) {
		errno = ENOMEM;
		return NULL;
	}
	b->o = *opts;
	if (!b->o.period_ns)
		b->o.period_ns = DEFAULT_PERIOD_NS;
	b->period = b->o.period_ns;
	b->c.trap_ns = opts->trap_ns;
	b->c.duty = 1;
	return b;
}

void budget__free(struct budget *b)
{
	free(b);
}

/* The duty, from what was measured since the last decision (over windows, until
 * the sites were attached long enough to measure their hit rate). Only the hits
 * are scaled by the duty (they come while attached); ctxtrace's own CPU is taken
 * as measured at the present duty (its work on records shrinks with the duty,
 * the rest does not: memory scans, wakeups, attaching), so successive decisions
 * converge on the duty that fits. It takes at most three quarters of the
 * budget: beyond that a shorter duty cannot reduce ctxtrace's cost much, it
 * would only lose history.
 * Sampling that would save less than VAR_FLOOR is not done (a quiet target:
 * history lost for nothing). */
static void decide(struct budget *b)
{
	double wall = b->acc_wall / 1e9;
	double target = b->acc_cpu / 1e9 / wall;
	double trap = b->acc_hit_ns / 1e9 / wall;               /* what the hits cost, CPU s/s */
	double full_trap = b->acc_hit_ns / 1e9 / (b->acc_on / 1e9); /* ... attached all the time */
	double self = b->acc_self / 1e9 / wall;
	/* the target's own work: what it used but the traps (a trap cost measured
	 * high on a loaded machine must not make it vanish) */
	double base = target - trap;

	if (base < 0.1 * target)
		base = 0.1 * target;
	/* 0 when unknown: the target did not run (its CPU time counts in ticks) */
	b->c.full_pct = base > 0 ? 100.0 * (self + full_trap) / (base + self + full_trap) : 0;
	/* a target that did not run: nothing to scale by */
	if (b->o.max_pct > 0 && b->o.trap_ns > 0 && base > 0) {
		double m = b->o.max_pct / 100, allowed = m / (1 - m) * base; /* CPU s/s */
		double for_hits = allowed - self > allowed / 4 ? allowed - self : allowed / 4;
		double duty = full_trap > VAR_FLOOR ? for_hits / full_trap : 1;

		/* Back to always-on only with room to spare, so it does not flap (its
		 * own work grows with the records): nearly always-on until then. */
		if (b->c.duty < 1 && duty >= 1 && full_trap > VAR_FLOOR && full_trap > 0.8 * for_hits)
			duty = 0.95;
		b->c.duty = duty < MIN_DUTY ? MIN_DUTY : duty > 1 ? 1 : duty;
		b->period = b->o.period_ns;
		if (b->c.duty < 1 && b->c.duty * b->period < MIN_ON_PHASE_NS)
			b->period = (uint64_t)(MIN_ON_PHASE_NS / b->c.duty);
	}
	b->acc_on = b->acc_hit_ns = b->acc_self = b->acc_wall = b->acc_cpu = 0;
	b->decided = true;
}

static uint64_t window_ns(const struct budget *b)
{
	return b->o.max_pct > 0 && !b->decided ? FIRST_WINDOW_NS : WINDOW_NS;
}

static void window_close(struct budget *b, uint64_t now, uint64_t hits)
{
	uint64_t cpu = 0, dt = now - b->win_start;
	double secs = dt / 1e9;

	if (proc_cpu_ns(b->o.pid, &cpu)) {
		cpu = b->win_cpu;
	} else {
		b->cpu_ns = cpu;
		b->cpu_read_ns = now;
		b->cpu_hits = hits;
		b->cpu_self = b->self_ns;
		b->cpu_prog = b->prog_ns;
	}
	b->c.hits_per_s = (hits - b->win_hits) / secs;
	/* a hit: the trap (calibrated) and our program's run (the kernel's count) */
	b->c.prog_ns = hits > b->win_hits ? (double)(b->prog_ns - b->win_prog) / (double)(hits - b->win_hits) : 0;
	b->c.trap_cpu = b->c.hits_per_s * (b->o.trap_ns + b->c.prog_ns) / 1e9;
	b->c.self_cpu = (b->self_ns - b->win_self) / 1e9 / secs;
	b->c.cost_cpu = b->c.trap_cpu + b->c.self_cpu;
	b->c.target_cpu = cpu > b->win_cpu ? (cpu - b->win_cpu) / 1e9 / secs : 0;
	/* the traps are in the target's CPU time, ctxtrace's own time is not */
	b->c.pct = b->c.target_cpu > 0 ? 100.0 * b->c.cost_cpu / (b->c.target_cpu + b->c.self_cpu) : 0;
	b->acc_wall += dt;
	b->acc_cpu += cpu > b->win_cpu ? cpu - b->win_cpu : 0;
	b->acc_hit_ns += (uint64_t)((hits - b->win_hits) * b->o.trap_ns) + (b->prog_ns - b->win_prog);
	b->acc_self += b->self_ns - b->win_self;
	if (b->acc_on >= MIN_ON_NS && (b->acc_cpu >= MIN_CPU_NS || b->acc_wall >= MAX_DECIDE_NS))
		decide(b);
	b->c.sampling = b->c.duty < 1;
	verbose("pid %d: %.0f hits/s, estimated %.4f CPU s/s (hits %.4f: %.0f ns trap + %.0f ns program each; "
		"ctxtrace %.4f), %.2f%% of the target's %.2f CPU s/s (%.2f%% with every probe attached all the "
		"time), attached %.0f%% of the time", b->o.pid, b->c.hits_per_s, b->c.cost_cpu, b->c.trap_cpu,
		b->o.trap_ns, b->c.prog_ns, b->c.self_cpu, b->c.pct,
		b->c.target_cpu, b->c.full_pct, 100 * b->c.duty);
	b->win_start = now;
	b->win_hits = hits;
	b->win_cpu = cpu;
	b->win_self = b->self_ns;
	b->win_prog = b->prog_ns;
}

bool budget__update(struct budget *b, uint64_t now, uint64_t hits, uint64_t self_ns, uint64_t prog_ns,
		    bool attached)
{
	bool want;

	if (!b->started) {
		b->started = true;
		b->win_start = b->last_ns = b->cycle_start = now;
		b->win_hits = b->last_hits = hits;
		if (proc_cpu_ns(b->o.pid, &b->win_cpu))
			b->win_cpu = 0;
		b->start_ns = b->cpu_read_ns = now;
		b->start_hits = b->cpu_hits = hits;
		b->win_self = b->start_self = b->cpu_self = b->self_ns = self_ns;
		b->win_prog = b->start_prog = b->cpu_prog = prog_ns;
		b->start_cpu = b->cpu_ns = b->win_cpu;
	}
	if (attached)
		b->acc_on += now - b->last_ns;
	b->self_ns = self_ns;
	b->prog_ns = prog_ns;
	b->last_ns = now;
	b->c.hits = hits;
	if (now - b->win_start >= window_ns(b))
		window_close(b, now, hits);
	if (b->c.duty >= 1)
		want = true;
	else {
		if (now - b->cycle_start >= b->period)
			b->cycle_start = now;
		want = now - b->cycle_start < (uint64_t)(b->c.duty * b->period);
	}
	if (want != attached) {
		if (!want) {
			struct gap *g = &b->gaps[b->ngaps++ % GAPS_KEPT];

			g->from = now;
			g->to = 0;
			if (!b->first_gap_ns)
				b->first_gap_ns = now;
			b->c.gaps++;
		} else if (b->ngaps) {
			b->gaps[(b->ngaps - 1) % GAPS_KEPT].to = now;
		}
	}
	return want;
}

uint64_t budget__next_ns(const struct budget *b, uint64_t now, bool attached)
{
	uint64_t next, on_end, cycle_end;

	if (!b->started)
		return now;
	next = b->win_start + window_ns(b);
	if (b->c.duty < 1) {
		on_end = b->cycle_start + (uint64_t)(b->c.duty * b->period);
		cycle_end = b->cycle_start + b->period;
		/* Not in the state the cycle wants (an attach that outlasted a short
		 * on-phase, say): switch at once. */
		if (now >= cycle_end || attached != (now < on_end))
			return now;
		if (now < on_end && on_end < next)
			next = on_end;
		if (cycle_end < next)
			next = cycle_end;
	} else if (!attached) {
		return now;
	}
	return next > now ? next : now;
}

void budget__cost(const struct budget *b, struct budget_cost *out)
{
	double secs = (b->cpu_read_ns - b->start_ns) / 1e9;

	*out = b->c;
	if (secs > 0) {
		double self = (b->cpu_self - b->start_self) / 1e9 / secs;

		out->avg_cost_cpu = ((b->cpu_hits - b->start_hits) * b->o.trap_ns + (double)(b->cpu_prog - b->start_prog)) /
				    1e9 / secs + self;
		out->avg_prog_ns = b->cpu_hits > b->start_hits
			? (double)(b->cpu_prog - b->start_prog) / (double)(b->cpu_hits - b->start_hits) : 0;
		out->avg_pct = b->cpu_ns > b->start_cpu
			? 100.0 * out->avg_cost_cpu / ((b->cpu_ns - b->start_cpu) / 1e9 / secs + self) : 0;
	}
}

bool budget__last_gap(const struct budget *b, uint64_t *from, uint64_t *to)
{
	const struct gap *g;

	if (!b->ngaps)
		return false;
	g = &b->gaps[(b->ngaps - 1) % GAPS_KEPT];
	/* Detached again (an on-phase can be shorter than a poll): the one before. */
	if (!g->to) {
		if (b->ngaps < 2)
			return false;
		g = &b->gaps[(b->ngaps - 2) % GAPS_KEPT];
	}
	*from = g->from;
	*to = g->to;
	return true;
}

bool budget__gap_in(const struct budget *b, uint64_t from, uint64_t to)
{
	uint32_t n = b->ngaps < GAPS_KEPT ? b->ngaps : GAPS_KEPT;

	if (!b->ngaps || to < b->first_gap_ns)
		return false;
	/* Older than what is kept: assume there was one. */
	if (b->ngaps > GAPS_KEPT && from < b->gaps[b->ngaps % GAPS_KEPT].from)
		return true;
	for (uint32_t i = 0; i < n; i++) {
		const struct gap *g = &b->gaps[i];

		if (g->from <= to && (g->to == 0 || g->to >= from))
			return true;
	}
	return false;
}
