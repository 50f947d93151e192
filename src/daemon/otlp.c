#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>

#include "daemon/config.h"
#include "daemon/metrics.h"
#include "daemon/otlp.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.pb-c.h"
#include "rules/rules.h"
#include "util/clock.h"
#include "util/container.h"
#include "util/fmt.h"
#include "util/json.h"
#include "util/log.h"
#include "util/stack.h"
#include "version.h"

#define BACKOFF_FIRST_NS 500000000ULL
#define BACKOFF_MAX_NS (30ULL * 1000000000ULL)
#define MAX_SITES (2 + ALERT_MAX_BLOCK_SITES)

/* One alert, copied: everything the record needs, nothing pointing back. */
struct rec {
	int64_t time_unix_ns;
	int64_t observed_unix_ns;
	enum alert_severity severity;
	char rule[32];
	char id[17];
	char source[8];
	uint32_t count;
	bool first;
	int pid;
	char *message, *target, *exe;
	struct container_info ci;
	bool has_ci;
	char *sites[MAX_SITES];
	int nsites;
};

struct otlp {
	char *url, *service;
	char *metrics_url;       /* NULL: metrics not sent */
	char *mbody;             /* the latest metrics request, not yet taken by the thread */
	size_t mlen;
	char host[256];
	uint32_t queue_max, batch_max, retries;
	uint64_t flush_ns, timeout_ns;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop, started;
	struct rec **q;          /* ring of queue_max */
	uint32_t head, n;
	uint64_t oldest_ns;      /* when the oldest queued record came */
	uint32_t inflight;
	struct otlp_stats st;
	CURL *curl;
};

static void rec_free(struct rec *r)
{
	if (!r)
		return;
	free(r->message);
	free(r->target);
	free(r->exe);
	for (int i = 0; i < r->nsites; i++)
		free(r->sites[i]);
	free(r);
}

static void add_site(struct rec *r, const char *role, const struct ct_frame *f)
{
	char *s;

	if (!f || !f->file || r->nsites >= MAX_SITES)
		return;
	if (asprintf(&s, "%s %s:%u %s", role, file_base(f->file), f->line, f->func ? f->func : "?") >= 0)
		r->sites[r->nsites++] = s;
}

static struct rec *rec_new(const struct otlp_source *src, const struct alert *a)
{
	struct rec *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->time_unix_ns = a->time_unix_ns;
	r->observed_unix_ns = (int64_t)ct_clock_ns(CLOCK_REALTIME);
	r->severity = a->severity;
	snprintf(r->rule, sizeof(r->rule), "%s", rule_name(a->rule));
	memcpy(r->id, a->id, sizeof(r->id));
	snprintf(r->source, sizeof(r->source), "%s", a->source == ALERT_SRC_MEMORY ? "memory" : "probes");
	r->count = a->count;
	r->first = a->first;
	r->pid = src->pid;
	r->message = strdup(a->message);
	r->target = strdup(src->target ? src->target : "");
	r->exe = strdup(src->exe ? src->exe : "");
	if (src->ci) {
		r->ci = *src->ci;
		r->has_ci = true;
	}
	if (!r->message || !r->target || !r->exe) {
		rec_free(r);
		return NULL;
	}
	add_site(r, "context", a->ctx.site);
	if (a->go_site && a->go_site->n)
		add_site(r, "go", &a->go_site->frames[0]);
	for (int i = 0; i < a->nblocks; i++)
		add_site(r, "block", a->blocks[i].site);
	return r;
}

void otlp__alert(struct otlp *o, const struct otlp_source *src, const struct alert *a)
{
	struct rec *r;

	pthread_mutex_lock(&o->mu);
	if (o->n >= o->queue_max) {
		o->st.dropped_full++;
		pthread_mutex_unlock(&o->mu);
		return;
	}
	pthread_mutex_unlock(&o->mu);
	r = rec_new(src, a); /* outside the lock: the sender thread never waits for it */
	pthread_mutex_lock(&o->mu);
	if (!r || o->n >= o->queue_max) {
		o->st.dropped_full++;
		pthread_mutex_unlock(&o->mu);
		rec_free(r);
		return;
	}
	if (!o->n)
		o->oldest_ns = ct_mono_ns();
	o->q[(o->head + o->n) % o->queue_max] = r;
	o->n++;
	pthread_cond_signal(&o->cv);
	pthread_mutex_unlock(&o->mu);
}

/* ---- encoding ---- */

typedef Opentelemetry__Proto__Common__V1__KeyValue KV;
typedef Opentelemetry__Proto__Common__V1__AnyValue AV;

/* Attribute storage for one record: key-values and their values side by side. */
#define REC_ATTRS 16
struct rec_msg {
	Opentelemetry__Proto__Logs__V1__LogRecord lr;
	AV body;
	KV kv[REC_ATTRS];
	AV av[REC_ATTRS];
	KV *kvp[REC_ATTRS];
	Opentelemetry__Proto__Common__V1__ArrayValue arr;
	AV site_av[MAX_SITES];
	AV *site_avp[MAX_SITES];
};

static AV *attr(struct rec_msg *m, const char *key)
{
	size_t i = m->lr.n_attributes++;

	opentelemetry__proto__common__v1__key_value__init(&m->kv[i]);
	opentelemetry__proto__common__v1__any_value__init(&m->av[i]);
	m->kv[i].key = (char *)key;
	m->kv[i].value = &m->av[i];
	m->kvp[i] = &m->kv[i];
	return &m->av[i];
}

static void attr_str(struct rec_msg *m, const char *key, char *v)
{
	AV *a = attr(m, key);

	a->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
	a->string_value = v;
}

static void attr_int(struct rec_msg *m, const char *key, int64_t v)
{
	AV *a = attr(m, key);

	a->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
	a->int_value = v;
}

static void attr_bool(struct rec_msg *m, const char *key, bool v)
{
	AV *a = attr(m, key);

	a->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
	a->bool_value = v;
}

static void fill_record(struct rec_msg *m, struct rec *r)
{
	static const Opentelemetry__Proto__Logs__V1__SeverityNumber sev[SEV_MAX] = {
		[SEV_INFO] = OPENTELEMETRY__PROTO__LOGS__V1__SEVERITY_NUMBER__SEVERITY_NUMBER_INFO,
		[SEV_WARNING] = OPENTELEMETRY__PROTO__LOGS__V1__SEVERITY_NUMBER__SEVERITY_NUMBER_WARN,
		[SEV_ERROR] = OPENTELEMETRY__PROTO__LOGS__V1__SEVERITY_NUMBER__SEVERITY_NUMBER_ERROR,
	};
	AV *sites;

	memset(m, 0, sizeof(*m));
	opentelemetry__proto__logs__v1__log_record__init(&m->lr);
	opentelemetry__proto__common__v1__any_value__init(&m->body);
	m->lr.time_unix_nano = (uint64_t)r->time_unix_ns;
	m->lr.observed_time_unix_nano = (uint64_t)r->observed_unix_ns;
	m->lr.severity_number = r->severity < SEV_MAX ? sev[r->severity] : 0;
	m->lr.severity_text = (char *)severity_name(r->severity);
	m->lr.event_name = "ctxtrace.alert";
	m->body.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
	m->body.string_value = r->message;
	m->lr.body = &m->body;
	m->lr.attributes = m->kvp;
	attr_str(m, "ctxtrace.rule", r->rule);
	attr_str(m, "ctxtrace.alert.id", r->id);
	attr_int(m, "ctxtrace.alert.count", r->count);
	attr_bool(m, "ctxtrace.alert.first", r->first);
	attr_str(m, "ctxtrace.alert.source", r->source);
	attr_str(m, "ctxtrace.target", r->target);
	attr_int(m, "process.pid", r->pid);
	attr_str(m, "process.executable.path", r->exe);
	if (r->has_ci) {
		attr_int(m, "ctxtrace.ns_pid", r->ci.ns_pid);
		attr_str(m, "ctxtrace.cgroup", r->ci.cgroup);
		if (r->ci.id[0])
			attr_str(m, "container.id", r->ci.id);
		if (r->ci.runtime[0])
			attr_str(m, "container.runtime", r->ci.runtime);
		if (r->ci.pod_uid[0])
			attr_str(m, "k8s.pod.uid", r->ci.pod_uid);
	}
	sites = attr(m, "ctxtrace.sites");
	opentelemetry__proto__common__v1__array_value__init(&m->arr);
	for (int i = 0; i < r->nsites; i++) {
		opentelemetry__proto__common__v1__any_value__init(&m->site_av[i]);
		m->site_av[i].value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
		m->site_av[i].string_value = r->sites[i];
		m->site_avp[i] = &m->site_av[i];
	}
	m->arr.n_values = (size_t)r->nsites;
	m->arr.values = m->site_avp;
	sites->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE;
	sites->array_value = &m->arr;
}

/* The request body for a batch; malloc'd, *len set. NULL on ENOMEM. */
static uint8_t *encode(struct otlp *o, struct rec **batch, uint32_t n, size_t *len)
{
	Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceRequest req =
		OPENTELEMETRY__PROTO__COLLECTOR__LOGS__V1__EXPORT_LOGS_SERVICE_REQUEST__INIT;
	Opentelemetry__Proto__Logs__V1__ResourceLogs rl = OPENTELEMETRY__PROTO__LOGS__V1__RESOURCE_LOGS__INIT, *rlp = &rl;
	Opentelemetry__Proto__Logs__V1__ScopeLogs sl = OPENTELEMETRY__PROTO__LOGS__V1__SCOPE_LOGS__INIT, *slp = &sl;
	Opentelemetry__Proto__Resource__V1__Resource res = OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT;
	Opentelemetry__Proto__Common__V1__InstrumentationScope scope =
		OPENTELEMETRY__PROTO__COMMON__V1__INSTRUMENTATION_SCOPE__INIT;
	struct rec_msg rm = { 0 };
	KV *res_kvp[2];
	struct rec_msg *msgs = calloc(n, sizeof(*msgs));
	Opentelemetry__Proto__Logs__V1__LogRecord **lrs = calloc(n, sizeof(*lrs));
	uint8_t *buf = NULL;

	if (!msgs || !lrs)
		goto out;
	/* The resource's attributes, in the same shape as a record's. */
	opentelemetry__proto__logs__v1__log_record__init(&rm.lr);
	rm.lr.attributes = rm.kvp;
	attr_str(&rm, "service.name", o->service);
	attr_str(&rm, "host.name", o->host);
	res_kvp[0] = rm.kvp[0];
	res_kvp[1] = rm.kvp[1];
	res.n_attributes = 2;
	res.attributes = res_kvp;
	scope.name = "ctxtrace";
	scope.version = CTXTRACE_VERSION;
	for (uint32_t i = 0; i < n; i++) {
		fill_record(&msgs[i], batch[i]);
		lrs[i] = &msgs[i].lr;
	}
	sl.scope = &scope;
	sl.n_log_records = n;
	sl.log_records = lrs;
	rl.resource = &res;
	rl.n_scope_logs = 1;
	rl.scope_logs = &slp;
	req.n_resource_logs = 1;
	req.resource_logs = &rlp;
	*len = opentelemetry__proto__collector__logs__v1__export_logs_service_request__get_packed_size(&req);
	buf = malloc(*len ? *len : 1);
	if (buf)
		opentelemetry__proto__collector__logs__v1__export_logs_service_request__pack(&req, buf);
out:
	free(msgs);
	free(lrs);
	return buf;
}

/* ---- sending ---- */

struct resp {
	uint8_t buf[4096];
	size_t len;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *cookie)
{
	struct resp *r = cookie;
	size_t n = size * nmemb, room = sizeof(r->buf) - r->len;

	memcpy(r->buf + r->len, data, n < room ? n : room);
	r->len += n < room ? n : room;
	return n;
}

enum send_result { SENT, RETRY, REJECTED };

/* One POST of logs (protobuf) or metrics (JSON). *rejected: log records the
 * endpoint said it refused (partial success). */
static enum send_result post(struct otlp *o, const char *url, bool json, const uint8_t *body, size_t len,
			     uint64_t *rejected)
{
	struct curl_slist *hdr = curl_slist_append(NULL, json ? "Content-Type: application/json"
							      : "Content-Type: application/x-protobuf");
	struct resp r = { .len = 0 };
	long status = 0;
	CURLcode rc;

	*rejected = 0;
	curl_easy_setopt(o->curl, CURLOPT_URL, url);
	curl_easy_setopt(o->curl, CURLOPT_POST, 1L);
	curl_easy_setopt(o->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(o->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(o->curl, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(o->curl, CURLOPT_TIMEOUT_MS, (long)(o->timeout_ns / 1000000));
	curl_easy_setopt(o->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)(o->timeout_ns / 1000000));
	curl_easy_setopt(o->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(o->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(o->curl, CURLOPT_WRITEDATA, &r);
	rc = curl_easy_perform(o->curl);
	curl_slist_free_all(hdr);
	if (rc == CURLE_OK)
		curl_easy_getinfo(o->curl, CURLINFO_RESPONSE_CODE, &status);
	pthread_mutex_lock(&o->mu);
	if (rc == CURLE_OK && status >= 200 && status < 300)
		json ? o->st.metrics_ok++ : o->st.requests_ok++;
	else
		json ? o->st.metrics_failed++ : o->st.requests_failed++;
	pthread_mutex_unlock(&o->mu);
	if (rc != CURLE_OK) {
		verbose("otlp: %s: %s", url, curl_easy_strerror(rc));
		return RETRY;
	}
	if (status >= 200 && status < 300 && json)
		return SENT;
	if (status >= 200 && status < 300) {
		Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceResponse *resp =
			r.len ? opentelemetry__proto__collector__logs__v1__export_logs_service_response__unpack(
					NULL, r.len, r.buf)
			      : NULL;

		if (resp && resp->partial_success && resp->partial_success->rejected_log_records > 0)
			*rejected = (uint64_t)resp->partial_success->rejected_log_records;
		if (resp)
			opentelemetry__proto__collector__logs__v1__export_logs_service_response__free_unpacked(resp, NULL);
		return SENT;
	}
	verbose("otlp: %s answered %ld", url, status);
	/* OTLP/HTTP: 429, 502, 503, 504 are retryable; other 5xx we retry as well. */
	return status == 429 || status >= 500 ? RETRY : REJECTED;
}

/* Waits up to ns unless told to stop; true when told. Called with mu held. */
static bool wait_ns(struct otlp *o, uint64_t ns)
{
	uint64_t end = ct_clock_ns(CLOCK_REALTIME) + ns;
	struct timespec ts = { .tv_sec = (time_t)(end / 1000000000ULL), .tv_nsec = (long)(end % 1000000000ULL) };

	while (!o->stop && pthread_cond_timedwait(&o->cv, &o->mu, &ts) != ETIMEDOUT)
		;
	return o->stop;
}

/* True when the endpoint took the batch (or refused it for good). */
static bool send_batch(struct otlp *o, struct rec **batch, uint32_t n)
{
	uint64_t backoff = BACKOFF_FIRST_NS, rejected = 0;
	enum send_result res = RETRY;
	size_t len = 0;
	uint8_t *body = encode(o, batch, n, &len);

	for (uint32_t attempt = 0; body; attempt++) {
		res = post(o, o->url, false, body, len, &rejected);
		if (res != RETRY || attempt >= o->retries)
			break;
		pthread_mutex_lock(&o->mu);
		o->st.retries++;
		/* Stopping: what did not go now is given up. */
		if (wait_ns(o, backoff)) {
			pthread_mutex_unlock(&o->mu);
			break;
		}
		pthread_mutex_unlock(&o->mu);
		backoff = backoff * 2 > BACKOFF_MAX_NS ? BACKOFF_MAX_NS : backoff * 2;
	}
	pthread_mutex_lock(&o->mu);
	if (res == SENT) {
		o->st.accepted += n - (rejected < n ? rejected : n);
		o->st.dropped_rejected += rejected < n ? rejected : n;
	} else if (res == REJECTED) {
		o->st.dropped_rejected += n;
	} else {
		o->st.dropped_failed += n;
	}
	pthread_mutex_unlock(&o->mu);
	if (res != SENT)
		info("otlp: %u alert record%s dropped: %s", n, n == 1 ? "" : "s",
		     res == REJECTED ? "the endpoint refused them" : "the endpoint did not take them after retries");
	free(body);
	return res != RETRY;
}

static void *sender(void *arg)
{
	struct otlp *o = arg;
	struct rec **batch = calloc(o->batch_max, sizeof(*batch));

	pthread_mutex_lock(&o->mu);
	for (;;) {
		uint32_t n;
		bool ok;

		while (!o->stop && !o->n && !o->mbody)
			pthread_cond_wait(&o->cv, &o->mu);
		if (o->mbody) {
			/* Metrics: one attempt; the next interval brings fresh values anyway. */
			char *body = o->mbody;
			size_t len = o->mlen;
			uint64_t rejected;

			o->mbody = NULL;
			pthread_mutex_unlock(&o->mu);
			post(o, o->metrics_url, true, (const uint8_t *)body, len, &rejected);
			free(body);
			pthread_mutex_lock(&o->mu);
			continue;
		}
		if (!o->n)
			break;
		/* A fuller batch, unless the oldest has waited otlp_flush or stopping. */
		while (!o->stop && o->n < o->batch_max) {
			uint64_t age = ct_mono_ns() - o->oldest_ns;

			if (age >= o->flush_ns)
				break;
			wait_ns(o, o->flush_ns - age);
		}
		n = o->n < o->batch_max ? o->n : o->batch_max;
		for (uint32_t i = 0; batch && i < n; i++) {
			batch[i] = o->q[o->head];
			o->head = (o->head + 1) % o->queue_max;
		}
		if (!batch) { /* out of memory: what is queued cannot be sent */
			o->st.dropped_failed += o->n;
			for (uint32_t i = 0; i < o->n; i++)
				rec_free(o->q[(o->head + i) % o->queue_max]);
			o->n = 0;
			continue;
		}
		o->n -= n;
		o->inflight = n;
		o->oldest_ns = ct_mono_ns();
		pthread_mutex_unlock(&o->mu);
		ok = send_batch(o, batch, n);
		for (uint32_t i = 0; i < n; i++)
			rec_free(batch[i]);
		pthread_mutex_lock(&o->mu);
		o->inflight = 0;
		/* Stopping with an endpoint that does not answer: one timeout, not one per batch. */
		if (!ok && o->stop) {
			o->st.dropped_failed += o->n;
			for (uint32_t i = 0; i < o->n; i++)
				rec_free(o->q[(o->head + i) % o->queue_max]);
			o->n = 0;
		}
	}
	pthread_mutex_unlock(&o->mu);
	free(batch);
	return NULL;
}

struct otlp *otlp__new(const struct output_cfg *cfg)
{
	struct otlp *o = calloc(1, sizeof(*o));
	int err = -ENOMEM;

	if (!o) {
		ct_errmsg_set("otlp: out of memory");
		errno = ENOMEM;
		return NULL;
	}
	pthread_mutex_init(&o->mu, NULL);
	pthread_cond_init(&o->cv, NULL);
	o->queue_max = (uint32_t)cfg->otlp_queue;
	o->batch_max = (uint32_t)cfg->otlp_batch;
	o->retries = (uint32_t)cfg->otlp_retries;
	o->flush_ns = cfg->otlp_flush;
	o->timeout_ns = cfg->otlp_timeout;
	o->url = strdup(cfg->otlp_endpoint);
	/* Metrics go beside the logs: .../v1/logs -> .../v1/metrics. */
	if (cfg->otlp_metrics_interval && strlen(cfg->otlp_endpoint) > 8 &&
	    !strcmp(cfg->otlp_endpoint + strlen(cfg->otlp_endpoint) - 8, "/v1/logs") &&
	    asprintf(&o->metrics_url, "%.*s/v1/metrics", (int)strlen(cfg->otlp_endpoint) - 8,
		     cfg->otlp_endpoint) < 0)
		o->metrics_url = NULL;
	o->service = strdup(cfg->otlp_service && *cfg->otlp_service ? cfg->otlp_service : "ctxtraced");
	o->q = calloc(o->queue_max, sizeof(*o->q));
	if (gethostname(o->host, sizeof(o->host) - 1))
		snprintf(o->host, sizeof(o->host), "unknown");
	if (!o->url || !o->service || !o->q) {
		ct_errmsg_set("otlp: out of memory");
		goto fail;
	}
	/* Once per process, before any thread uses curl. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(o->curl = curl_easy_init())) {
		ct_errmsg_set("otlp: cannot initialize libcurl");
		err = -EIO;
		goto fail;
	}
	err = -pthread_create(&o->thread, NULL, sender, o);
	if (err) {
		ct_errmsg_set("otlp: cannot start the sender thread: %s", strerror(-err));
		goto fail;
	}
	o->started = true;
	return o;
fail:
	otlp__free(o);
	errno = -err;
	return NULL;
}

void otlp__stats(struct otlp *o, struct otlp_stats *st)
{
	pthread_mutex_lock(&o->mu);
	*st = o->st;
	st->queued = o->n + o->inflight;
	pthread_mutex_unlock(&o->mu);
}

void otlp__free(struct otlp *o)
{
	if (!o)
		return;
	if (o->started) {
		pthread_mutex_lock(&o->mu);
		o->stop = true;
		pthread_cond_broadcast(&o->cv);
		pthread_mutex_unlock(&o->mu);
		pthread_join(o->thread, NULL);
	}
	for (uint32_t i = 0; o->q && i < o->n; i++)
		rec_free(o->q[(o->head + i) % o->queue_max]);
	if (o->curl)
		curl_easy_cleanup(o->curl);
	free(o->q);
	free(o->url);
	free(o->metrics_url);
	free(o->mbody);
	free(o->service);
	pthread_cond_destroy(&o->cv);
	pthread_mutex_destroy(&o->mu);
	free(o);
}

/* ---- metrics, in OTLP's JSON encoding: Debian's protoc-c (1.4) cannot compile
 * metrics.proto, whose histogram points use proto3 `optional` fields. The JSON
 * mapping's rules: lowerCamelCase names, 64-bit integers as strings, enums as
 * numbers. ---- */

struct otlp_metrics {
	struct otlp *o;
	FILE *f;
	char *buf;
	size_t len;
	struct json_w *w;
	bool in_metric;
	char start[24], now[24]; /* nanoseconds since the epoch, as strings */
};

struct otlp_metrics *otlp__metrics_begin(struct otlp *o, uint64_t start_unix_ns)
{
	struct otlp_metrics *m;

	if (!o || !o->metrics_url || !(m = calloc(1, sizeof(*m))))
		return NULL;
	m->o = o;
	m->f = open_memstream(&m->buf, &m->len);
	m->w = m->f ? json_w__new(m->f, false) : NULL;
	if (!m->w) {
		if (m->f)
			fclose(m->f);
		free(m->buf);
		free(m);
		return NULL;
	}
	snprintf(m->start, sizeof(m->start), "%llu", (unsigned long long)start_unix_ns);
	snprintf(m->now, sizeof(m->now), "%llu", (unsigned long long)ct_clock_ns(CLOCK_REALTIME));
	json_w__obj_open(m->w);
	json_w__key(m->w, "resourceMetrics");
	json_w__arr_open(m->w);
	json_w__obj_open(m->w);
	json_w__key(m->w, "resource");
	json_w__obj_open(m->w);
	json_w__key(m->w, "attributes");
	json_w__arr_open(m->w);
	const char *res[2][2] = { { "service.name", o->service }, { "host.name", o->host } };
	for (int i = 0; i < 2; i++) {
		json_w__obj_open(m->w);
		json_w__kv_str(m->w, "key", res[i][0]);
		json_w__key(m->w, "value");
		json_w__obj_open(m->w);
		json_w__kv_str(m->w, "stringValue", res[i][1]);
		json_w__obj_close(m->w);
		json_w__obj_close(m->w);
	}
	json_w__arr_close(m->w);
	json_w__obj_close(m->w);
	json_w__key(m->w, "scopeMetrics");
	json_w__arr_open(m->w);
	json_w__obj_open(m->w);
	json_w__key(m->w, "scope");
	json_w__obj_open(m->w);
	json_w__kv_str(m->w, "name", "ctxtrace");
	json_w__kv_str(m->w, "version", CTXTRACE_VERSION);
	json_w__obj_close(m->w);
	json_w__key(m->w, "metrics");
	json_w__arr_open(m->w);
	return m;
}

static void close_metric(struct otlp_metrics *m)
{
	if (!m->in_metric)
		return;
	json_w__arr_close(m->w); /* dataPoints */
	json_w__obj_close(m->w); /* gauge / sum */
	json_w__obj_close(m->w); /* metric */
	m->in_metric = false;
}

void otlp__metrics_family(struct otlp_metrics *m, const char *name, const char *type, const char *help)
{
	bool counter = !strcmp(type, "counter");

	close_metric(m);
	json_w__obj_open(m->w);
	json_w__kv_str(m->w, "name", name);
	json_w__kv_str(m->w, "description", help);
	json_w__key(m->w, counter ? "sum" : "gauge");
	json_w__obj_open(m->w);
	if (counter) {
		json_w__kv_int(m->w, "aggregationTemporality", 2); /* AGGREGATION_TEMPORALITY_CUMULATIVE */
		json_w__kv_bool(m->w, "isMonotonic", true);
	}
	json_w__key(m->w, "dataPoints");
	json_w__arr_open(m->w);
	m->in_metric = true;
}

void otlp__metrics_sample(struct otlp_metrics *m, const struct prom_label *labels, int nlabels, double v,
			  bool counter)
{
	if (!m->in_metric)
		return;
	json_w__obj_open(m->w);
	json_w__key(m->w, "attributes");
	json_w__arr_open(m->w);
	for (int i = 0; i < nlabels; i++) {
		json_w__obj_open(m->w);
		json_w__kv_str(m->w, "key", labels[i].name);
		json_w__key(m->w, "value");
		json_w__obj_open(m->w);
		json_w__kv_str(m->w, "stringValue", labels[i].value ? labels[i].value : "");
		json_w__obj_close(m->w);
		json_w__obj_close(m->w);
	}
	json_w__arr_close(m->w);
	if (counter)
		json_w__kv_str(m->w, "startTimeUnixNano", m->start);
	json_w__kv_str(m->w, "timeUnixNano", m->now);
	json_w__kv_double(m->w, "asDouble", v);
	json_w__obj_close(m->w);
}

void otlp__metrics_end(struct otlp_metrics *m)
{
	struct otlp *o;

	if (!m)
		return;
	o = m->o;
	close_metric(m);
	json_w__arr_close(m->w); /* metrics */
	json_w__obj_close(m->w); /* scopeMetrics[0] */
	json_w__arr_close(m->w);
	json_w__obj_close(m->w); /* resourceMetrics[0] */
	json_w__arr_close(m->w);
	json_w__obj_close(m->w);
	json_w__free(m->w);
	fclose(m->f);
	pthread_mutex_lock(&o->mu);
	if (o->mbody) {
		o->st.metrics_replaced++; /* the thread had not taken the last one yet */
		free(o->mbody);
	}
	o->mbody = m->buf;
	o->mlen = m->len;
	pthread_cond_signal(&o->cv);
	pthread_mutex_unlock(&o->mu);
	free(m);
}
