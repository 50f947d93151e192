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
};
void otlp__stats(struct otlp *o, struct otlp_stats *st);
/* Stops the thread after one last attempt for what is queued (bounded by the
 * request timeout). Takes NULL. */
void otlp__free(struct otlp *o);

#endif
