/* Replay benchmark for scripts/bench-replay.sh.
 *   replay_bench gen FILE RATE SECONDS   writes a synthetic recording: RATE requests
 *       per second of simulated time, each a handler goroutine, a value context, a
 *       timer context under it, a worker goroutine waiting on it, the cancel and
 *       both exits (8 events); context addresses are reused as Go's allocator does.
 *   replay_bench run FILE RETENTION_S    replays it into a lineage graph, timing
 *       read+apply and read alone, sampling the graph's memory every simulated
 *       minute. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "events/event.h"
#include "events/record.h"
#include "graph/lineage.h"

#define NSTACKS 50
#define LIFE_NS 5000000ULL /* a request lives 5 ms */
#define ADDR_REUSE 100000  /* context addresses come back after this many requests */

struct stack2 {
	uint32_t n, hash;
	struct ct_frame frames[2];
};

static struct stack2 stacks[NSTACKS];
static char names[NSTACKS][32];

static double now_s(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static long rss_kb(const char *field)
{
	char line[256];
	long v = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, field, strlen(field)))
			v = strtol(line + strlen(field), NULL, 10);
	if (f)
		fclose(f);
	return v;
}

static int put(struct record *w, struct ct_event *e)
{
	int err = record__write(w, e);

	if (err) {
		fprintf(stderr, "replay_bench: write failed: %s\n", strerror(-err));
		exit(1);
	}
	return 0;
}

static int gen(const char *path, uint64_t rate, uint64_t seconds)
{
	struct record_header h = { .pid = 4242, .binary = "/synthetic/server", .go_version = "go1.22.0" };
	struct record *w = record__create(path, &h);
	uint64_t n = rate * seconds, step = 1000000000ULL / rate, goid = 100;
	const uint64_t base = 0xc000100000ULL;
	struct ct_event e;
	/* pending ends: (time, ctx, handler, worker), in time order since lifetimes are equal */
	struct pend {
		uint64_t t, ctx, h, w;
	} *q;
	size_t qh = 0, qt = 0, qcap = LIFE_NS / step + 16;

	if (!w) {
		fprintf(stderr, "replay_bench: %s\n", strerror(errno));
		return 1;
	}
	q = calloc(qcap, sizeof(*q));
	for (int i = 0; i < NSTACKS; i++) {
		snprintf(names[i], sizeof(names[i]), "main.handler%d", i);
		stacks[i].n = 2;
		stacks[i].hash = i + 1;
		stacks[i].frames[0] = (struct ct_frame){ "context.WithTimeout", "/go/src/context/context.go", 700, false };
		stacks[i].frames[1] = (struct ct_frame){ names[i], "/srv/app/handlers.go", 10 + i, false };
	}
	memset(&e, 0, sizeof(e));
	e.type = EV_GO_CREATE;
	e.ts_ns = 1000;
	e.go_create.goid = 1;
	e.go_create.preexisting = true;
	e.go_create.start_func = "main.main";
	put(w, &e);
	memset(&e, 0, sizeof(e));
	e.type = EV_CTX_CREATE;
	e.ts_ns = 2000;
	e.goid = 1;
	e.ctx_create.id = 0xc000010000ULL;
	e.ctx_create.kind = CTX_CANCEL;
	e.ctx_create.parent = 0xc000000100ULL;
	e.ctx_create.parent_kind = CTX_BACKGROUND;
	e.ctx_create.stack = (const struct ct_stack *)&stacks[0];
	put(w, &e);
	for (uint64_t i = 0; i < n; i++) {
		uint64_t t = 1000000 + i * step, slot = i % ADDR_REUSE;
		uint64_t vctx = base + slot * 0x100, tctx = vctx + 0x60, hg = goid++, wg = goid++;
		const struct ct_stack *st = (const struct ct_stack *)&stacks[i % NSTACKS];

		while (qh != qt && q[qh % qcap].t <= t) {
			struct pend *p = &q[qh++ % qcap];

			memset(&e, 0, sizeof(e));
			e.type = EV_CTX_CANCEL;
			e.ts_ns = p->t;
			e.goid = p->h;
			e.ctx_cancel.id = p->ctx;
			e.ctx_cancel.reason = CANCEL_EXPLICIT;
			e.ctx_cancel.effective = true;
			e.ctx_cancel.err = "context canceled";
			e.ctx_cancel.stack = st;
			put(w, &e);
			memset(&e, 0, sizeof(e));
			e.type = EV_GO_EXIT;
			e.ts_ns = p->t + 1000;
			e.goid = p->w;
			e.go_exit.goid = p->w;
			put(w, &e);
			e.ts_ns = p->t + 2000;
			e.goid = p->h;
			e.go_exit.goid = p->h;
			put(w, &e);
		}
		memset(&e, 0, sizeof(e));
		e.type = EV_GO_CREATE;
		e.ts_ns = t;
		e.goid = 1;
		e.go_create.goid = hg;
		e.go_create.parent_goid = 1;
		e.go_create.go_site = st;
		e.go_create.start_func = "main.serve.func1";
		put(w, &e);
		memset(&e, 0, sizeof(e));
		e.type = EV_CTX_CREATE;
		e.ts_ns = t + 1000;
		e.goid = hg;
		e.ctx_create.id = vctx;
		e.ctx_create.kind = CTX_VALUE;
		e.ctx_create.type_name = "*context.valueCtx";
		e.ctx_create.parent = 0xc000010000ULL;
		e.ctx_create.parent_kind = CTX_CANCEL;
		e.ctx_create.ancestor = 0xc000010000ULL;
		e.ctx_create.ancestor_kind = CTX_CANCEL;
		e.ctx_create.stack = st;
		put(w, &e);
		e.ts_ns = t + 2000;
		e.ctx_create.id = tctx;
		e.ctx_create.kind = CTX_TIMER;
		e.ctx_create.type_name = "*context.timerCtx";
		e.ctx_create.parent = vctx;
		e.ctx_create.parent_kind = CTX_VALUE;
		e.ctx_create.has_deadline = true;
		e.ctx_create.deadline_unix_ns = 1700000000000000000LL + (int64_t)t;
		put(w, &e);
		memset(&e, 0, sizeof(e));
		e.type = EV_GO_CREATE;
		e.ts_ns = t + 3000;
		e.goid = hg;
		e.go_create.goid = wg;
		e.go_create.parent_goid = hg;
		e.go_create.go_site = st;
		e.go_create.start_func = "main.worker";
		put(w, &e);
		memset(&e, 0, sizeof(e));
		e.type = EV_CTX_DONE;
		e.ts_ns = t + 4000;
		e.goid = wg;
		e.ctx_done.id = tctx;
		put(w, &e);
		q[qt++ % qcap] = (struct pend){ t + LIFE_NS, tctx, hg, wg };
	}
	free(q);
	if (record__close(w)) {
		fprintf(stderr, "replay_bench: closing %s failed\n", path);
		return 1;
	}
	return 0;
}

static int run(const char *path, uint64_t retention_s)
{
	struct lineage_opts o = { .retention_ns = retention_s * 1000000000ULL };
	struct record *r;
	struct lineage *lg;
	struct lineage_stats st;
	struct ct_event ev;
	uint64_t n = 0, next_sample = 60ULL * 1000000000ULL, peak_nodes = 0;
	double t0, c0, t_apply, c_apply, c_read;
	int err;

	/* pass 1: read only */
	r = record__open(path);
	if (!r) {
		fprintf(stderr, "replay_bench: %s\n", strerror(errno));
		return 1;
	}
	t0 = now_s(CLOCK_MONOTONIC);
	c0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
	while ((err = record__next(r, &ev)) > 0)
		n++;
	c_read = now_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
	record__close(r);
	if (err < 0) {
		fprintf(stderr, "replay_bench: read failed\n");
		return 1;
	}

	/* pass 2: read + apply, sampling memory each simulated minute */
	r = record__open(path);
	lg = lineage__new(&o);
	if (!r || !lg)
		return 1;
	printf("  sim-time  nodes-in-graph  graph-bytes  bytes/node  rss-MB\n");
	n = 0;
	t0 = now_s(CLOCK_MONOTONIC);
	c0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
	while ((err = record__next(r, &ev)) > 0) {
		if (lineage__apply(lg, &ev)) {
			fprintf(stderr, "replay_bench: apply failed\n");
			return 1;
		}
		n++;
		if (ev.ts_ns >= next_sample) {
			uint64_t nodes;

			lineage__stats(lg, &st);
			nodes = st.ctx_live + st.ctx_cancelled + st.go_alive + st.go_exited;
			peak_nodes = nodes > peak_nodes ? nodes : peak_nodes;
			printf("  %6.0fs  %14" PRIu64 "  %11" PRIu64 "  %10.1f  %6.1f\n", ev.ts_ns / 1e9, nodes, st.bytes,
			       (double)st.bytes / (double)(nodes ? nodes : 1), rss_kb("VmRSS:") / 1024.0);
			next_sample += 60ULL * 1000000000ULL;
		}
	}
	t_apply = now_s(CLOCK_MONOTONIC) - t0;
	c_apply = now_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
	lineage__stats(lg, &st);
	/* per CPU second: one core's rate, whatever else shares the machine */
	printf("  events: %" PRIu64 "; read only: %.2f M events/s; read + graph: %.2f M events per CPU second"
	       " (%.2f M/s wall clock, %.0f%% of a core)\n",
	       n, n / c_read / 1e6, n / c_apply / 1e6, n / t_apply / 1e6, 100 * c_apply / t_apply);
	printf("  graph: %" PRIu64 " bytes for %" PRIu64 " nodes at the end (%.1f bytes/node, interned stacks excluded),"
	       " peak %" PRIu64 " nodes; evicted by retention %" PRIu64 ", by cap %" PRIu64 ", replaced %" PRIu64 "\n",
	       st.bytes, st.ctx_live + st.ctx_cancelled + st.go_alive + st.go_exited,
	       (double)st.bytes / (double)(st.ctx_live + st.ctx_cancelled + st.go_alive + st.go_exited + 1), peak_nodes,
	       st.evicted_retention, st.evicted_cap + st.evicted_live, st.replaced);
	printf("  peak RSS: %.1f MB\n", rss_kb("VmHWM:") / 1024.0);
	lineage__free(lg);
	record__close(r);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "gen"))
		return gen(argv[2], strtoull(argv[3], NULL, 10), strtoull(argv[4], NULL, 10));
	if (argc == 4 && !strcmp(argv[1], "run"))
		return run(argv[2], strtoull(argv[3], NULL, 10));
	fprintf(stderr, "usage: replay_bench gen FILE RATE SECONDS | run FILE RETENTION_SECONDS\n");
	return 2;
}
