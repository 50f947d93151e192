/* The overhead budget (session/budget.h) against this process's own CPU time
 * (CLOCK_PROCESS_CPUTIME_ID): hits that cost a known share of the CPU give that
 * estimate, a duty cycle of budget / estimate, and gaps that gap_in finds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "session/budget.h"
#include "util/clock.h"


/* Busy for ns of wall clock; returns the CPU time it used. */
static uint64_t burn(uint64_t ns)
{
	uint64_t c0 = ct_clock_ns(CLOCK_PROCESS_CPUTIME_ID), t0 = ct_clock_ns(CLOCK_MONOTONIC);
	volatile uint64_t x = 0;

	while (ct_clock_ns(CLOCK_MONOTONIC) - t0 < ns)
		x++;
	return ct_clock_ns(CLOCK_PROCESS_CPUTIME_ID) - c0;
}

static void test_estimate_and_duty(void **state)
{
	struct budget_opts o = { .pid = getpid(), .trap_ns = 1000, .max_pct = 2, .period_ns = 1000000000ULL };
	struct budget *b = budget__new(&o);
	struct budget_cost c;
	uint64_t t0, cpu, hits;
	bool on;

	assert_non_null(b);
	t0 = ct_clock_ns(CLOCK_MONOTONIC);
	assert_true(budget__update(b, t0, 0, 0, 0, true));
	cpu = burn(1200000000ULL);
	/* hits whose traps (1 us each) are 10% of the CPU this process used */
	hits = cpu / 10 / 1000;
	on = budget__update(b, ct_clock_ns(CLOCK_MONOTONIC), hits, 0, 0, true);
	budget__cost(b, &c);
	/* /proc/PID/stat counts in clock ticks: allow 20% */
	assert_true(c.pct > 8 && c.pct < 12.5);
	assert_true(c.full_pct > 8 && c.full_pct < 12.5);
	assert_true(c.sampling);
	assert_true(c.duty > 2 / 12.5 && c.duty < 2 / 8.0);
	assert_false(budget__gap_in(b, 0, ct_clock_ns(CLOCK_MONOTONIC)));
	/* the cycle: attached for duty x period, then detached (hits come while
	 * attached, at the rate they came, and this process keeps burning: the next
	 * decision keeps the duty) */
	{
		uint64_t start = ct_clock_ns(CLOCK_MONOTONIC), now = start, off_at = 0, last = start;
		double rate = hits / ((start - t0) / 1e9);

		while (now - start < 1500000000ULL) {
			bool want;

			if (on)
				hits += (uint64_t)(rate * (now - last) / 1e9);
			last = now;
			want = budget__update(b, now, hits, 0, 0, on);

			if (on && !want && !off_at)
				off_at = now;
			on = want;
			burn(5000000ULL);
			now = ct_clock_ns(CLOCK_MONOTONIC);
		}
		assert_true(off_at != 0);
		assert_true(budget__gap_in(b, off_at, off_at));
		/* 1.5 s in, detached again (the second gap is open): the newest ended gap
		 * is the first one (a poll can miss a short on-phase between two gaps) */
		{
			uint64_t from, to;

			assert_false(on);
			assert_true(budget__last_gap(b, &from, &to));
			assert_true(from == off_at && to > from && to - from < 1000000000ULL);
		}
		/* the thread's next wake: the next switch, or now when the attach state is
		 * not what the cycle wants (an attach that outlasted its on-phase) */
		{
			uint64_t now2 = ct_clock_ns(CLOCK_MONOTONIC);
			bool want = budget__update(b, now2, hits, 0, 0, on);
			uint64_t next = budget__next_ns(b, now2, want);

			assert_true(next > now2 && next <= now2 + 1000000000ULL);
			assert_true(budget__next_ns(b, now2, !want) == now2);
		}
		assert_false(budget__gap_in(b, t0, off_at - 1));
		budget__cost(b, &c);
		assert_true(c.gaps >= 1);
	}
	budget__free(b);
}

/* No budget: always attached, whatever the estimate. */
static void test_no_budget(void **state)
{
	struct budget_opts o = { .pid = getpid(), .trap_ns = 1000 };
	struct budget *b = budget__new(&o);
	struct budget_cost c;
	uint64_t t0 = ct_clock_ns(CLOCK_MONOTONIC);

	assert_non_null(b);
	assert_true(budget__update(b, t0, 0, 0, 0, true));
	burn(1100000000ULL);
	assert_true(budget__update(b, ct_clock_ns(CLOCK_MONOTONIC), 1000000, 0, 0, true));
	budget__cost(b, &c);
	assert_false(c.sampling);
	assert_true(c.duty == 1);
	assert_true(c.pct > 50);
	budget__free(b);
}

/* The program's run time counts beside the trap: hits whose traps are 5% of the
 * CPU and whose program runs as long again give 10%. */
static void test_program_time(void **state)
{
	struct budget_opts o = { .pid = getpid(), .trap_ns = 1000 };
	struct budget *b = budget__new(&o);
	struct budget_cost c;
	uint64_t t0 = ct_clock_ns(CLOCK_MONOTONIC), cpu, hits;

	(void)state;
	assert_non_null(b);
	assert_true(budget__update(b, t0, 0, 0, 0, true));
	cpu = burn(1200000000ULL);
	hits = cpu / 20 / 1000;
	assert_true(budget__update(b, ct_clock_ns(CLOCK_MONOTONIC), hits, 0, hits * 1000, true));
	budget__cost(b, &c);
	assert_true(c.prog_ns > 999 && c.prog_ns < 1001);
	assert_true(c.pct > 8 && c.pct < 12.5);
	budget__free(b);
}

/* ctxtrace's fixed work (here 5% of the wall clock, attached or not, above the
 * whole 2% budget) takes three quarters of the budget, not all of it: the hits
 * (10% of the CPU) keep a duty near 0.5% / 10%, not the least one; when the hits
 * stop, the sites are attached all the time again. */
static void test_fixed_cost(void **state)
{
	struct budget_opts o = { .pid = getpid(), .trap_ns = 1000, .max_pct = 2, .period_ns = 200000000ULL };
	struct budget *b = budget__new(&o);
	struct budget_cost c;
	uint64_t t0 = ct_clock_ns(CLOCK_MONOTONIC), last = t0, now = t0, hits = 0, self = 0;
	uint64_t cpu_last;
	bool on = true, sampled = false;

	(void)state;
	assert_non_null(b);
	assert_true(budget__update(b, t0, 0, 0, 0, true));
	cpu_last = ct_clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	for (int phase = 0; phase < 2; phase++) {
		uint64_t start = ct_clock_ns(CLOCK_MONOTONIC);

		while ((now = ct_clock_ns(CLOCK_MONOTONIC)) - start < 3000000000ULL) {
			uint64_t cpu = ct_clock_ns(CLOCK_PROCESS_CPUTIME_ID);

			/* while attached, hits whose traps (1 us) are 10% of the CPU this
			 * process used (it may share the machine's CPUs) */
			if (on && !phase)
				hits += (cpu - cpu_last) / 10 / 1000;
			cpu_last = cpu;
			self += (now - last) / 20;
			last = now;
			on = budget__update(b, now, hits, self, 0, on);
			budget__cost(b, &c);
			sampled |= c.sampling;
			if (phase && !c.sampling)
				break;
			burn(2000000ULL);
		}
		budget__cost(b, &c);
		if (!phase) {
			/* (0.5% of the CPU left for the hits) / (10% of it with every site) */
			assert_true(sampled);
			assert_true(c.duty > 0.025 && c.duty < 0.12);
		} else {
			assert_false(c.sampling);
			assert_true(c.duty == 1);
		}
	}
	budget__free(b);
}

/* Hits that cost about all the CPU (a slow trap): the least duty, 0.5%, and the
 * period stretched so that the on-phase stays 50 ms (attaching takes 6-40 ms):
 * 10 s, not 1 s. */
static void test_long_period(void **state)
{
	struct budget_opts o = { .pid = getpid(), .trap_ns = 1000, .max_pct = 2, .period_ns = 1000000000ULL };
	struct budget *b = budget__new(&o);
	struct budget_cost c;
	uint64_t t0 = ct_clock_ns(CLOCK_MONOTONIC), now, cpu;
	bool on;

	(void)state;
	assert_non_null(b);
	assert_true(budget__update(b, t0, 0, 0, 0, true));
	cpu = burn(1100000000ULL);
	now = ct_clock_ns(CLOCK_MONOTONIC);
	on = budget__update(b, now, cpu / 1000, 0, 0, true);
	budget__cost(b, &c);
	assert_true(c.sampling);
	assert_true(c.duty == 0.005);
	/* 1.1 s into a 10-s cycle whose first 50 ms were attached: detached until
	 * the next cycle, attached at its start (the times are given) */
	assert_false(on);
	assert_false(budget__update(b, t0 + 9900000000ULL, cpu / 1000, 0, 0, false));
	assert_true(budget__update(b, t0 + 10010000000ULL, cpu / 1000, 0, 0, false));
	budget__free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_estimate_and_duty),
		cmocka_unit_test(test_no_budget),
		cmocka_unit_test(test_program_time),
		cmocka_unit_test(test_fixed_cost),
		cmocka_unit_test(test_long_period),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
