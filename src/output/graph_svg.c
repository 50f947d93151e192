/* The graph as svg: the dot text laid out and rendered by the graphviz library. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <graphviz/cgraph.h>
#include <graphviz/gvc.h>

#include "output/graph_fold.h"
#include "util/log.h"

int graph_svg__write(struct fold *s, FILE *out)
{
	char *dot = NULL, *svg = NULL;
	size_t dlen = 0;
	unsigned int slen = 0;
	FILE *m = open_memstream(&dot, &dlen);
	GVC_t *gvc = NULL;
	Agraph_t *g = NULL;
	int err;

	if (!m)
		return -ENOMEM;
	err = graph_dot__write(s, m);
	if (fclose(m) && !err)
		err = -ENOMEM;
	if (err)
		goto cleanup;
	gvc = gvContext();
	if (!gvc) {
		err = -ENOMEM;
		ct_errmsg_set("cannot render svg: graphviz failed to start");
		goto cleanup;
	}
	g = agmemread(dot);
	if (!g) {
		err = -EINVAL;
		ct_errmsg_set("cannot render svg: graphviz could not read the graph");
		goto cleanup;
	}
	if (gvLayout(gvc, g, "dot") != 0) {
		err = -EINVAL;
		ct_errmsg_set("cannot render svg: graphviz layout failed (is the dot layout plugin installed?)");
		goto cleanup;
	}
	if (gvRenderData(gvc, g, "svg", &svg, &slen) != 0 || !svg) {
		err = -EINVAL;
		ct_errmsg_set("cannot render svg: graphviz has no svg renderer");
		gvFreeLayout(gvc, g);
		goto cleanup;
	}
	if (fwrite(svg, 1, slen, out) != slen)
		err = -EIO;
	gvFreeLayout(gvc, g);
cleanup:
	if (svg)
		gvFreeRenderData(svg);
	if (g)
		agclose(g);
	if (gvc)
		gvFreeContext(gvc);
	free(dot);
	return err;
}
