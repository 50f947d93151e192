/* The folded view of the lineage graph the printers share (output/graph_*.c;
 * not for other modules): a snapshot of the graph with, per node, its place,
 * its children, the goroutines bound to it, whether it leaks, and a signature
 * such that equal signatures draw identical subtrees. tree, dot and svg show
 * groups of alike siblings once with a count; json lists every node. */
#ifndef CT_OUTPUT_GRAPH_FOLD_H
#define CT_OUTPUT_GRAPH_FOLD_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "graph/lineage.h"
#include "util/hashmap.h"
#include "output/graph_out.h"

#define DEPTH_MAX 64

struct fold {
	const struct lineage *lg;
	const struct graph_out_opts *o;
	uint64_t now;
	struct lg_ctx *c;
	struct lg_go *g;
	uint32_t nc, ng;
	int32_t *cpos, *gpos; /* node index -> position */
	uint32_t ncpos, ngpos;
	uint32_t *kid_off, *kids;   /* ctx -> raw ctx children, by creation time */
	uint32_t *bnd_off, *bnd;    /* ctx -> goroutines bound to it */
	int32_t *bound;             /* goroutine -> ctx position, -1 */
	bool *cleak, *gleak;   /* marked LEAK (tree, dot): the rules' verdict, else as below */
	bool *cout, *gout;     /* alive under a cancelled context it started under (json "leaking") */
	uint64_t *csig, *gsig;
	/* What memory holds of a goroutine that existed at attach (graph_out_opts.go_memory). */
	struct memjudge_go *gmem;
	bool *has_gmem;
	uint32_t nleak;
	uint32_t drawn;             /* dot: nodes written */
	bool clipped;
};

struct group {
	bool is_go;
	uint64_t sig;
	uint32_t *m; /* members: positions */
	uint32_t n, cap;
};

struct groups {
	struct group *v;
	uint32_t n, cap;
	struct hmap by_sig; /* (is_go, sig) -> index in v */
};

/* 0 or -ENOMEM; fold__free either way. */
int fold__build(struct fold *s, const struct lineage *lg, const struct graph_out_opts *o);
void fold__free(struct fold *s);
/* Position of a context in s->c, -1 when it is not in the snapshot. */
int32_t fold__ctx_pos(const struct fold *s, struct lg_ref r);
/* qsort_r order of context positions by creation (cookie: the fold). */
int fold__by_created(const void *a, const void *b, void *cookie);
uint64_t fold__age(const struct fold *s, uint64_t t);
/* The memory judgement reported goroutine position g in a group of its own rule
 * (stuck-goroutines, outlived-context, ...): the graph marks it like a leak. */
bool fold__mem_reported(const struct fold *s, uint32_t g);

/* Groups of alike nodes: the roots, the children of a group of alike contexts,
 * the goroutines bound to no context (alive or exited). 0 or -ENOMEM; free
 * with fold__groups_free either way. */
int fold__roots(const struct fold *s, struct groups *gs);
int fold__child_groups(const struct fold *s, const uint32_t *members, uint32_t nm, struct groups *gs);
int fold__unbound(const struct fold *s, struct groups *gs, bool alive);
void fold__groups_free(struct groups *gs);
/* One line describing a group (no newline); sep separates its parts. */
void fold__describe(const struct fold *s, const struct group *g, uint32_t per_parent, char *buf, size_t size,
		    const char *sep);

/* The renderers: 0 or -errno (svg: with ct_errmsg()). */
int graph_tree__write(struct fold *s, FILE *out);
int graph_dot__write(struct fold *s, FILE *out);
int graph_svg__write(struct fold *s, FILE *out);
int graph_json__write(struct fold *s, FILE *out);

#endif
