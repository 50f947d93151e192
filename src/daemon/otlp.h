/* Alerts to an OpenTelemetry pipeline: each alert becomes an OTLP log record,
 * sent over OTLP/HTTP with the protobuf encoding (the definitions Debian's
 * opentelemetry-proto ships, compiled by protoc-c at build time) to a configured
 * endpoint (an OpenTelemetry Collector's http://HOST:4318/v1/logs).
 *
 * Tracing never waits for it: otlp__alert copies the alert into a bounded queue
 * under a mutex and returns; one thread batches (otlp_batch records, or what came
 * within otlp_flush), POSTs with libcurl (otlp_timeout), and retries a batch that
 * got no answer, 429 or 5xx with exponential backoff (0.5 s doubling, at most
 * 30 s, otlp_retries times) before dropping it. A full queue drops new alerts.
 * Every drop is counted (otlp__stats, the daemon's /metrics). The record's
 * fields are listed in docs/otlp.md. */
#ifndef CT_DAEMON_OTLP_H
#define CT_DAEMON_OTLP_H

#include <stdbool.h>
#include <stdint.h>

struct otlp;
struct alert;
struct output_cfg;

/* Who raised an alert: the daemon's target and the process. */
struct otlp_source {
	const char *target;   /* [target NAME] */
	int pid;              /* host pid */
	const char *exe;      /* executable path */
	const struct container_info *ci; /* util/container.h; NULL: not known */
};
struct container_info;

/* Starts the sender thread. NULL with errno and ct_errmsg(). */
struct otlp *otlp__new(const struct output_cfg *cfg);
/* Queues the alert (copied); never blocks on the network. */
void otlp__alert(struct otlp *o, const struct otlp_source *src, const struct alert *a);

struct otlp_stats {
	uint64_t queued;        /* waiting now, the batch being sent included */
	uint64_t accepted;      /* records the endpoint took */
	uint64_t dropped_full;  /* alerts dropped: the queue was full */
	uint64_t dropped_failed;   /* records dropped after the last retry */
	uint64_t dropped_rejected; /* records the endpoint refused (4xx other than 429, partial success) */
	uint64_t requests_ok, requests_failed; /* failed: no answer, or a status other than 2xx */
	uint64_t retries;
	uint64_t metrics_ok, metrics_failed; /* metrics requests */
	uint64_t metrics_replaced;  /* metrics requests replaced by newer ones before they went */
};
void otlp__stats(struct otlp *o, struct otlp_stats *st);

/* The daemon's metrics as OTLP metrics (OTLP/JSON to the logs endpoint's
 * .../v1/metrics; every otlp_metrics_interval): begin, then every family and
 * sample as /metrics has them (daemon/metrics.h's sink), then end, which hands
 * the request to the sender thread (one attempt; a newer one replaces one not yet
 * sent). begin returns NULL when metrics are not sent. counters are cumulative
 * sums from start_unix_ns, the rest gauges. */
struct otlp_metrics;
struct prom_label;
struct otlp_metrics *otlp__metrics_begin(struct otlp *o, uint64_t start_unix_ns);
void otlp__metrics_family(struct otlp_metrics *m, const char *name, const char *type, const char *help);
void otlp__metrics_sample(struct otlp_metrics *m, const struct prom_label *labels, int nlabels, double v,
			  bool counter);
void otlp__metrics_end(struct otlp_metrics *m);
/* Stops the thread after one last attempt for what is queued (bounded by the
 * request timeout). Takes NULL. */
void otlp__free(struct otlp *o);

#endif
