/* Prometheus text exposition (format 0.0.4) and the loopback HTTP endpoint that
 * serves it. The writer is separate from the server so it can be tested alone. */
#ifndef CT_DAEMON_METRICS_H
#define CT_DAEMON_METRICS_H

#include <stdint.h>
#include <stdio.h>

struct loop;
struct metrics_http;

struct prom_label {
	const char *name;
	const char *value;
};

/* A second, typed receiver of every family and sample written (the OTLP
 * exporter), set around one render; NULL: none. With a sink the FILE may be NULL
 * (no text). The daemon's loop only. */
struct metric_sink {
	void (*family)(void *cookie, const char *name, const char *type, const char *help);
	void (*sample)(void *cookie, const char *name, const struct prom_label *labels, int nlabels, double v);
	void *cookie;
};
void metrics__set_sink(const struct metric_sink *s);

/* "# HELP" and "# TYPE" lines of one metric family; type: counter, gauge. */
void prom__family(FILE *f, const char *name, const char *type, const char *help);
/* One sample; label values are escaped (backslash, quote, newline). */
void prom__sample(FILE *f, const char *name, const struct prom_label *labels, int nlabels, uint64_t v);
void prom__sample_double(FILE *f, const char *name, const struct prom_label *labels, int nlabels, double v);

/* Writes every metric into f when /metrics is fetched. */
typedef void (*metrics_render_fn)(void *cookie, FILE *f);

/* The HTTP server's bounds (docs/daemon.md): connections at once (and queued
 * in the listen backlog), seconds a connection may stay idle, and how long a
 * request waits for the loop to render before it gets 503. */
#define METRICS_MAX_CONNECTIONS 32
#define METRICS_TIMEOUT_S 5
#define METRICS_WAIT_MS 2000

/* Serves GET /metrics on addr ("127.0.0.1:9464"; options__parse_listen): HTTP
 * in a thread of its own, fn called on the loop l. NULL with errno and
 * ct_errmsg(). */
struct metrics_http *metrics_http__new(struct loop *l, const char *addr, metrics_render_fn fn, void *cookie);
uint64_t metrics_http__requests(const struct metrics_http *m);
const char *metrics_http__addr(const struct metrics_http *m);
void metrics_http__free(struct metrics_http *m); /* takes NULL */

#endif
