/* Graph printers: the format, and the renderer for it (graph_fold.h). */
#include <errno.h>
#include <string.h>

#include "events/event.h"
#include "graph/lineage.h"
#include "output/graph_fold.h"
#include "output/graph_out.h"
#include "util/log.h"

int graph_format_parse(const char *s, enum graph_format *f)
{
	static const char *const names[] = { "tree", "json", "dot", "svg" };

	for (int i = 0; s && i < 4; i++) {
		if (!strcmp(s, names[i])) {
			*f = i;
			return 0;
		}
	}
	return -EINVAL;
}

const struct ct_frame *graph_site(const struct ct_stack *st)
{
	return ct_stack_user_frame(st);
}

static int (*const renderers[])(struct fold *s, FILE *out) = {
	[GRAPH_TREE] = graph_tree__write,
	[GRAPH_JSON] = graph_json__write,
	[GRAPH_DOT] = graph_dot__write,
	[GRAPH_SVG] = graph_svg__write,
};

int graph_out__write(const struct lineage *lg, const struct graph_out_opts *o, FILE *out)
{
	struct fold s;
	int err;

	err = fold__build(&s, lg, o);
	if (err) {
		ct_errmsg_set("cannot print the graph: out of memory");
		goto cleanup;
	}
	if ((unsigned)o->format < sizeof(renderers) / sizeof(renderers[0]) && renderers[o->format])
		err = renderers[o->format](&s, out);
	else
		err = -EINVAL;
	if (err == -ENOMEM)
		ct_errmsg_set("cannot print the graph: out of memory");
	if (!err && (fflush(out) || ferror(out))) {
		err = -EIO;
		ct_errmsg_set("cannot write the graph: %s", strerror(errno));
	}
cleanup:
	fold__free(&s);
	return err;
}
