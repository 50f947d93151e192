/* The graph for graphviz: dot. */
#include <inttypes.h>
#include <stdio.h>

#include "events/event.h"
#include "graph/lineage.h"
#include "output/graph_fold.h"
#include "output/graph_out.h"

#define TOOLTIP_IDS 64

static void dot_str(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', out);
		if (*s == '\n') {
			fputs("\\n", out);
			continue;
		}
		if ((unsigned char)*s < 0x20)
			continue;
		fputc(*s, out);
	}
	fputc('"', out);
}

static void dot_node(const struct fold *s, FILE *out, const struct group *g, uint32_t per, const char *name)
{
	char label[1024], tip[TOOLTIP_IDS * 20 + 32];
	size_t len = 0;
	bool cancelled, leak;

	fold__describe(s, g, per, label, sizeof(label), "\n");
	for (uint32_t i = 0; i < g->n && i < TOOLTIP_IDS; i++)
		len += (size_t)snprintf(tip + len, sizeof(tip) - len, g->is_go ? "%sgoroutine %" PRIu64 : "%s0x%" PRIx64,
					i ? " " : "", g->is_go ? s->g[g->m[i]].goid : s->c[g->m[i]].id);
	if (g->n > TOOLTIP_IDS)
		snprintf(tip + len, sizeof(tip) - len, " ...");
	if (g->is_go) {
		cancelled = s->g[g->m[0]].state != LG_GO_ALIVE;
		leak = s->gleak[g->m[0]] || fold__mem_reported(s, g->m[0]);
	} else {
		cancelled = s->c[g->m[0]].state != LG_CTX_LIVE;
		leak = s->cleak[g->m[0]];
	}
	fprintf(out, "  %s [label=", name);
	dot_str(out, label);
	fprintf(out, ", tooltip=");
	dot_str(out, tip);
	fprintf(out, ", shape=%s", g->is_go ? "box" : "ellipse");
	if (leak)
		fprintf(out, ", color=red, fontcolor=red, penwidth=2%s", cancelled ? ", style=dashed" : "");
	else if (cancelled)
		fprintf(out, ", color=gray50, fontcolor=gray50, style=dashed");
	fprintf(out, "];\n");
}

static int dot_groups(const struct fold *s, FILE *out, struct groups *gs, uint32_t nparent, const char *parent,
		      int depth)
{
	for (uint32_t i = 0; i < gs->n; i++) {
		struct group *g = &gs->v[i];
		char name[32];
		struct groups kids;
		int err;

		if (s->drawn >= (s->o->max_nodes ? s->o->max_nodes : 2000)) {
			((struct fold *)s)->clipped = true;
			return 0;
		}
		snprintf(name, sizeof(name), "n%u", ((struct fold *)s)->drawn++);
		dot_node(s, out, g, nparent ? g->n / nparent : g->n, name);
		if (parent) {
			bool grey = g->is_go ? false : s->c[g->m[0]].state != LG_CTX_LIVE;

			fprintf(out, "  %s -> %s [%s%s];\n", parent, name, g->is_go ? "arrowhead=none, style=dotted" : "",
				grey ? "color=gray50, style=dashed" : "");
		}
		if (g->is_go || depth >= DEPTH_MAX)
			continue;
		err = fold__child_groups(s, g->m, g->n, &kids);
		if (!err)
			err = dot_groups(s, out, &kids, g->n, name, depth + 1);
		fold__groups_free(&kids);
		if (err)
			return err;
	}
	return 0;
}

int graph_dot__write(struct fold *s, FILE *out)
{
	struct groups gs;
	int err;

	fprintf(out, "digraph ctxtrace {\n  rankdir=LR;\n  node [fontname=\"Helvetica\", fontsize=10];\n"
		     "  edge [color=gray30];\n");
	if (s->o->pid)
		fprintf(out, "  label=\"context lineage of pid %u\";\n", s->o->pid);
	s->drawn = 0;
	err = fold__roots(s, &gs);
	if (!err)
		err = dot_groups(s, out, &gs, 1, NULL, 0);
	fold__groups_free(&gs);
	for (int alive = 1; !err && alive >= 0; alive--) {
		err = fold__unbound(s, &gs, alive);
		if (!err)
			err = dot_groups(s, out, &gs, 0, NULL, 0);
		fold__groups_free(&gs);
	}
	if (s->clipped)
		fprintf(out, "  clipped [shape=note, label=\"more nodes not drawn (max %u)\"];\n",
			s->o->max_nodes ? s->o->max_nodes : 2000);
	fprintf(out, "}\n");
	return err;
}

