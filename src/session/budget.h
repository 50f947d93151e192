/* What tracing costs the target, and the overhead budget.
 *
 * The cost of one probe hit is the trap, not the BPF program (an empty program
 * at the same instruction costs the same): it is measured once at attach
 * (tracer__calibrate) and multiplied by the live hit rate from the BPF
 * counters. The target's own CPU time comes from /proc/PID/stat. ctxtrace's own
 * CPU time for the target (decoding its records, reading its memory) is added:
 * on a machine whose CPUs the target keeps busy it is taken from the target.
 *
 * With a budget (max_pct > 0), when the estimate with every site attached is
 * above it, the sites are attached for a share `duty` of each period and
 * detached for the rest. The duty scales the hits' cost (they come while
 * attached); ctxtrace's own CPU is counted as measured at the present duty and
 * leaves the hits at least a quarter of the budget. */
#ifndef CT_BUDGET_H
#define CT_BUDGET_H

#include <stdbool.h>
#include <stdint.h>

struct budget;

struct budget_opts {
	int pid;
	double trap_ns;     /* cost of one hit; 0: unknown (no estimate, no duty cycle) */
	double max_pct;     /* per cent of the target's CPU; 0: no budget */
	uint64_t period_ns; /* duty-cycle period; 0: 1 s */
};

struct budget_cost {
	double trap_ns;       /* calibrated cost of one hit's trap (an empty program) */
	double prog_ns;       /* and of running our program, per hit, over the last window */
	double hits_per_s;    /* over the last window, wall clock */
	double trap_cpu;      /* CPU seconds per second the hits cost the target (traps and program) */
	double self_cpu;      /* CPU seconds per second ctxtrace spent on the target */
	double cost_cpu;      /* estimated cost: trap_cpu + self_cpu */
	double target_cpu;    /* CPU seconds per second the target used (probes included) */
	double pct;           /* cost_cpu / target_cpu * 100; 0 when unknown */
	double full_pct;      /* the estimate with every site attached all the time */
	double duty;          /* share of the time the sites are attached (1: always) */
	bool sampling;        /* the duty cycle is on */
	uint64_t gaps;        /* detached periods so far */
	uint64_t hits;        /* since attach */
	/* Since attach, up to the last reading of the target's CPU time: */
	double avg_cost_cpu;  /* estimated CPU s/s */
	double avg_pct;       /* per cent of the target's CPU */
	double avg_prog_ns;   /* our program's run time per hit */
};

struct budget *budget__new(const struct budget_opts *opts); /* NULL with errno */
void budget__free(struct budget *b);
/* Called often (every poll): hits = the BPF hit counter now, self_ns = the CPU
 * time ctxtrace spent on this target so far, prog_ns = the time the kernel spent
 * running the probes' program so far (0 when unknown: the trap alone is counted). Returns whether the sites should be
 * attached now. */
bool budget__update(struct budget *b, uint64_t now_ns, uint64_t hits, uint64_t self_ns, uint64_t prog_ns,
		    bool attached);
/* When budget__update is next needed: the next switch of the duty cycle or the
 * end of the estimate's window (a thread can sleep until then). */
uint64_t budget__next_ns(const struct budget *b, uint64_t now_ns, bool attached);
void budget__cost(const struct budget *b, struct budget_cost *out);
/* The newest detached period that has ended (the sites may be detached again
 * since): true and its bounds. */
bool budget__last_gap(const struct budget *b, uint64_t *from_ns, uint64_t *to_ns);
/* Whether the sites were detached at some time in [from_ns, to_ns]. */
bool budget__gap_in(const struct budget *b, uint64_t from_ns, uint64_t to_ns);

#endif
