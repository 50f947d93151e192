/* The graph as an indented tree, for people. */
#include <inttypes.h>
#include <string.h>

#include "events/event.h"
#include "graph/lineage.h"
#include "output/graph_fold.h"
#include "output/graph_out.h"

struct tree_ctx {
	FILE *out;
	char prefix[4 * DEPTH_MAX + 8];
};

static int tree_groups(const struct fold *s, struct tree_ctx *t, struct groups *gs, uint32_t nparent, int depth);

static int tree_group(const struct fold *s, struct tree_ctx *t, const struct group *g, uint32_t per, bool last,
		      int depth)
{
	char line[1024];
	size_t plen = strlen(t->prefix);
	struct groups kids;
	int err;

	fold__describe(s, g, per, line, sizeof(line), "  ");
	fprintf(t->out, "%s%s%s\n", t->prefix, depth == 0 ? "" : last ? "`-- " : "|-- ", line);
	if (g->is_go)
		return 0;
	if (depth >= DEPTH_MAX) {
		fprintf(t->out, "%s    ...\n", t->prefix);
		return 0;
	}
	err = fold__child_groups(s, g->m, g->n, &kids);
	if (!err) {
		if (depth > 0)
			strcat(t->prefix, last ? "    " : "|   ");
		err = tree_groups(s, t, &kids, g->n, depth + 1);
		t->prefix[plen] = 0;
	}
	fold__groups_free(&kids);
	return err;
}

static int tree_groups(const struct fold *s, struct tree_ctx *t, struct groups *gs, uint32_t nparent, int depth)
{
	uint32_t done = 0;

	/* goroutines first: they are what hangs off this context */
	for (int pass = 0; pass < 2; pass++) {
		for (uint32_t i = 0; i < gs->n; i++) {
			struct group *g = &gs->v[i];
			int err;

			if (g->is_go != (pass == 0))
				continue;
			done++;
			err = tree_group(s, t, g, nparent ? g->n / nparent : g->n, done == gs->n, depth);
			if (err)
				return err;
		}
	}
	return 0;
}

int graph_tree__write(struct fold *s, FILE *out)
{
	struct tree_ctx t = { .out = out };
	struct lineage_stats st;
	struct groups gs;
	char line[1024];
	int err;

	lineage__stats(s->lg, &st);
	if (s->o->pid)
		fprintf(out, "pid %u: ", s->o->pid);
	fprintf(out, "%" PRIu64 " contexts (%" PRIu64 " live, %" PRIu64 " cancelled), %" PRIu64
		     " goroutines (%" PRIu64 " alive, %" PRIu64 " exited)",
		st.ctx_live + st.ctx_cancelled, st.ctx_live, st.ctx_cancelled, st.go_alive + st.go_exited,
		st.go_alive, st.go_exited);
	if (s->nleak)
		fprintf(out, "; %u cancelled contexts with goroutines still running", s->nleak);
	fputc('\n', out);
	if (st.lost_records || st.evicted_cap || st.evicted_live)
		fprintf(out, "note: %" PRIu64 " records lost, %" PRIu64 " nodes evicted early (max nodes)\n",
			st.lost_records, st.evicted_cap + st.evicted_live);
	fputc('\n', out);
	err = fold__roots(s, &gs);
	if (!err)
		err = tree_groups(s, &t, &gs, 1, 0);
	fold__groups_free(&gs);
	if (err)
		return err;
	for (int alive = 1; alive >= 0; alive--) {
		err = fold__unbound(s, &gs, alive);
		if (!err && gs.n) {
			uint32_t total = 0;

			for (uint32_t i = 0; i < gs.n; i++)
				total += gs.v[i].n;
			fprintf(out, "\n%u %s goroutines in no context's scope%s\n", total, alive ? "alive" : "exited",
				alive ? ":" : "");
			for (uint32_t i = 0; alive && i < gs.n; i++) {
				fold__describe(s, &gs.v[i], gs.v[i].n, line, sizeof(line), "  ");
				fprintf(out, "  %s\n", line);
			}
		}
		fold__groups_free(&gs);
		if (err)
			return err;
	}
	return 0;
}

