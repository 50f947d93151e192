/* Printing the lineage graph: tree (for people), json (documented in
 * docs/graph.md), dot (graphviz) and svg (rendered with the graphviz library). */
#ifndef CT_GRAPH_OUT_H
#define CT_GRAPH_OUT_H

#include <stdint.h>
#include <stdio.h>

struct lineage;
struct ct_stack;
struct ct_frame;
struct memjudge_go;

enum graph_format {
	GRAPH_TREE = 0,
	GRAPH_JSON,
	GRAPH_DOT,
	GRAPH_SVG,
};

struct graph_out_opts {
	enum graph_format format;
	uint32_t pid;
	int64_t mono_to_real_ns; /* CLOCK_REALTIME - CLOCK_MONOTONIC; 0: unknown (no wall times) */
	uint64_t now_ns;         /* ages are relative to this; 0: lineage__now() */
	uint32_t max_nodes;      /* dot/svg: folded nodes drawn at most; 0: 2000 */
	/* The rules' verdict: a goroutine alive in the scope of a cancelled context is
	 * marked leaking only when this says so (--grace, memory, the standard
	 * library's own goroutines: rules__go_outlived). NULL: marked from the graph
	 * alone (replay). */
	bool (*go_leaking)(const void *cookie, uint64_t goid);
	const void *leak_cookie;
	/* What the memory judgement read of a goroutine that existed at attach
	 * (rules/memjudge.h: where it blocks, its wait reason, how long from the
	 * runtime's waitsince, the context tied to it and the rules' verdict on it).
	 * false or NULL: nothing read (replay, a goroutine started after attach). */
	bool (*go_memory)(const void *cookie, uint64_t goid, struct memjudge_go *out);
	const void *memory_cookie;
};

/* "tree", "json", "dot", "svg": 0, or -EINVAL. */
int graph_format_parse(const char *s, enum graph_format *f);
/* 0, or -errno with ct_errmsg() set (svg: "cannot render svg: ..."). */
int graph_out__write(const struct lineage *lg, const struct graph_out_opts *o, FILE *out);

/* The frame that names a site: ct_stack_user_frame (the first frame outside
 * package context: the caller of WithCancel, not WithCancel). */
const struct ct_frame *graph_site(const struct ct_stack *st);

#endif
