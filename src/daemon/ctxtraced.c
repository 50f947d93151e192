/* ctxtraced: traces the Go processes its config selects, as they start, and
 * streams their alerts to journald, a JSON Lines socket and file, and Prometheus.
 * docs/daemon.md describes the whole; man ctxtraced(8), ctxtraced.conf(5). */
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

#include "daemon/config.h"
#include "daemon/loop.h"
#include "daemon/metrics.h"
#include "daemon/otlp.h"
#include "daemon/outputs.h"
#include "daemon/server.h"
#include "daemon/session_backend.h"
#include "daemon/status.h"
#include "daemon/targets.h"
#include "probes/bpf_log.h"
#include "util/clock.h"
#include "util/json.h"
#include "util/log.h"
#include "version.h"

struct daemon {
	struct loop *loop;
	struct config *cfg;
	const char *config_path;
	bool config_optional;
	struct config_flag *flags;
	size_t nflags;
	struct server *srv;
	struct metrics_http *metrics;
	struct outputs *out;
	struct targets *targets;
	struct otlp *otlp;
	struct loop_watch sig_w;
	bool stop;
	char started[40];
	uint64_t started_mono;
	time_t started_unix;
	uint64_t reloads_ok, reloads_refused;
};

struct daemon_record {
	const char *what, *message;
};

static void daemon_members(struct json_w *w, const void *arg)
{
	const struct daemon_record *r = arg;
	char now[40];

	outputs__timestamp(now, sizeof(now));
	json_w__kv_str(w, "type", "daemon");
	json_w__kv_str(w, "time", now);
	json_w__kv_str(w, "event", r->what);
	if (r->message)
		json_w__kv_str(w, "message", r->message);
}

static void daemon_event(struct daemon *d, int prio, const char *what, const char *message)
{
	struct daemon_record r = { what, message };
	char *json = json_w__object_str(daemon_members, &r), *text = NULL;
	struct out_event ev = { .kind = OUT_DAEMON, .priority = prio };

	if (!json)
		return;
	if (asprintf(&text, "%s%s%s", what, message ? ": " : "", message ? message : "") < 0)
		text = NULL;
	ev.json = json;
	ev.text = text ? text : what;
	if (d->out)
		outputs__emit(d->out, &ev);
	free(json);
	free(text);
}

static void write_status(struct daemon *d, FILE *f, bool text)
{
	struct targets_stats ts;
	struct outputs_stats os;
	struct server_stats ss = { 0 };
	double uptime = (double)(ct_mono_ns() - d->started_mono) / 1e9;

	targets__stats(d->targets, &ts);
	outputs__stats(d->out, &os);
	if (d->srv)
		server__stats(d->srv, &ss);
	if (text) {
		fprintf(f, "ctxtraced %s, pid %d, up %.0fs, config %s\n", CTXTRACE_VERSION, getpid(), uptime,
			d->cfg->path ? d->cfg->path : "(none)");
		fprintf(f, "log %s; socket %s; json file %s; metrics %s\n", outputs__log_name(d->out),
			d->srv ? server__path(d->srv) : "off",
			d->cfg->output.json_file && *d->cfg->output.json_file ? d->cfg->output.json_file : "off",
			d->metrics ? metrics_http__addr(d->metrics) : "off");
		fprintf(f, "attaches %" PRIu64 ", failures %" PRIu64 ", detaches %" PRIu64 ", alerts %" PRIu64
			   ", execs seen %" PRIu64 "\n",
			ts.attaches, ts.attach_failures, ts.detaches, os.emitted[OUT_ALERT], ts.execs_seen);
		targets__write_status_text(d->targets, f);
		return;
	}
	struct json_w *w = json_w__new(f, false);

	json_w__obj_open(w);
	json_w__kv_str(w, "type", "status");
	json_w__kv_str(w, "version", CTXTRACE_VERSION);
	json_w__kv_int(w, "pid", getpid());
	json_w__kv_str(w, "started", d->started);
	json_w__kv_double(w, "uptime_seconds", uptime);
	json_w__kv_str(w, "config", d->cfg->path);
	json_w__kv_str(w, "log", outputs__log_name(d->out));
	json_w__kv_str(w, "socket", d->srv ? server__path(d->srv) : NULL);
	json_w__kv_str(w, "json_file",
		       d->cfg->output.json_file && *d->cfg->output.json_file ? d->cfg->output.json_file : NULL);
	json_w__kv_str(w, "metrics", d->metrics ? metrics_http__addr(d->metrics) : NULL);
	json_w__key(w, "counters");
	json_w__obj_open(w);
	json_w__kv_uint(w, "attaches", ts.attaches);
	json_w__kv_uint(w, "attach_failures", ts.attach_failures);
	json_w__kv_uint(w, "detaches", ts.detaches);
	json_w__kv_uint(w, "alerts", os.emitted[OUT_ALERT]);
	json_w__kv_uint(w, "execs_seen", ts.execs_seen);
	json_w__kv_uint(w, "execs_lost", ts.execs_lost);
	json_w__kv_uint(w, "exe_unreadable", ts.exe_unreadable);
	json_w__kv_uint(w, "reloads", d->reloads_ok);
	json_w__kv_uint(w, "reloads_refused", d->reloads_refused);
	json_w__kv_uint(w, "subscribers", ss.subscribers);
	json_w__kv_uint(w, "lines_dropped", ss.lines_dropped);
	json_w__kv_uint(w, "clients_stalled", ss.stalled);
	json_w__kv_uint(w, "answers_truncated", ss.truncated);
	json_w__kv_uint(w, "answers_busy", ss.busy);
	json_w__kv_uint(w, "answers_forked", ss.forked);
	json_w__kv_uint(w, "answers_forked_killed", ss.forked_killed);
	json_w__kv_uint(w, "socket_queued_bytes", ss.queued_bytes);
	json_w__obj_close(w);
	targets__write_status(d->targets, w);
	json_w__obj_close(w);
	json_w__free(w);
	fputc('\n', f);
}

static int on_request(void *cookie, const char *verb, const char *arg, bool text, FILE *f, bool *follow,
		      char *msg, size_t msglen)
{
	struct daemon *d = cookie;

	if (!strcmp(verb, "status") && !arg) {
		write_status(d, f, text);
		return 0;
	}
	if (!strcmp(verb, "alerts") && (!arg || !strcmp(arg, "follow"))) {
		outputs__write_history(d->out, f, text);
		*follow = arg != NULL;
		return 0;
	}
	if (!strcmp(verb, "graph")) {
		char *end;
		long pid = arg ? strtol(arg, &end, 10) : 0;

		if (!arg || *end || pid <= 0 || pid > INT32_MAX) {
			snprintf(msg, msglen, "graph needs a pid: graph PID");
			return -EINVAL;
		}
		return targets__graph(d->targets, (int)pid, text, f, msg, msglen);
	}
	snprintf(msg, msglen, "unknown request '%.64s' (try: status, alerts, alerts follow, subscribe, graph PID)",
		 verb);
	return -EINVAL;
}

static void otlp_metrics(struct daemon *d, FILE *f);

static void render_metrics(void *cookie, FILE *f)
{
	struct daemon *d = cookie;
	struct outputs_stats os;
	struct server_stats ss = { 0 };
	static const char *const kinds[OUT_KIND_MAX] = { "alert", "target_attach", "target_detach",
							 "target_attach_failed", "daemon" };

	outputs__stats(d->out, &os);
	if (d->srv)
		server__stats(d->srv, &ss);
	prom__family(f, "ctxtrace_daemon_start_time_seconds", "gauge", "When ctxtraced started (unix time).");
	prom__sample(f, "ctxtrace_daemon_start_time_seconds", NULL, 0, (uint64_t)d->started_unix);
	prom__family(f, "ctxtrace_reloads_total", "counter", "Config reloads, by result.");
	prom__sample(f, "ctxtrace_reloads_total", (struct prom_label[]){ { "result", "ok" } }, 1, d->reloads_ok);
	prom__sample(f, "ctxtrace_reloads_total", (struct prom_label[]){ { "result", "refused" } }, 1,
		     d->reloads_refused);
	prom__family(f, "ctxtrace_records_total", "counter", "Records the daemon emitted, by type.");
	for (int k = 0; k < OUT_KIND_MAX; k++)
		prom__sample(f, "ctxtrace_records_total", (struct prom_label[]){ { "type", kinds[k] } }, 1,
			     os.emitted[k]);
	prom__family(f, "ctxtrace_socket_subscribers", "gauge", "Socket clients following the stream.");
	prom__sample(f, "ctxtrace_socket_subscribers", NULL, 0, ss.subscribers);
	prom__family(f, "ctxtrace_socket_lines_dropped_total", "counter",
		     "Lines not sent to slow subscribers (their queue was full).");
	prom__sample(f, "ctxtrace_socket_lines_dropped_total", NULL, 0, ss.lines_dropped);
	prom__family(f, "ctxtrace_json_file_errors_total", "counter", "Failed writes to the JSON file.");
	prom__sample(f, "ctxtrace_json_file_errors_total", NULL, 0, os.file_errors);
	prom__family(f, "ctxtrace_json_file_rotations_total", "counter", "JSON file rotations.");
	prom__sample(f, "ctxtrace_json_file_rotations_total", NULL, 0, os.file_rotations);
	otlp_metrics(d, f);
	targets__write_metrics(d->targets, f);
}

static bool str_same(const char *a, const char *b)
{
	return !strcmp(a ? a : "", b ? b : "");
}

static void otlp_metrics(struct daemon *d, FILE *f)
{
	struct otlp_stats st;

	if (!d->otlp)
		return;
	otlp__stats(d->otlp, &st);
	prom__family(f, "ctxtrace_otlp_log_records_total", "counter",
		     "Alerts for the OTLP endpoint, by result: accepted, or dropped because the queue "
		     "was full, the retries ran out, or the endpoint refused them.");
	prom__sample(f, "ctxtrace_otlp_log_records_total", (struct prom_label[]){ { "result", "accepted" } }, 1,
		     st.accepted);
	prom__sample(f, "ctxtrace_otlp_log_records_total", (struct prom_label[]){ { "result", "queue_full" } }, 1,
		     st.dropped_full);
	prom__sample(f, "ctxtrace_otlp_log_records_total", (struct prom_label[]){ { "result", "failed" } }, 1,
		     st.dropped_failed);
	prom__sample(f, "ctxtrace_otlp_log_records_total", (struct prom_label[]){ { "result", "rejected" } }, 1,
		     st.dropped_rejected);
	prom__family(f, "ctxtrace_otlp_queue_length", "gauge", "Alerts waiting for the OTLP endpoint.");
	prom__sample(f, "ctxtrace_otlp_queue_length", NULL, 0, st.queued);
	prom__family(f, "ctxtrace_otlp_requests_total", "counter", "OTLP/HTTP requests, by result.");
	prom__sample(f, "ctxtrace_otlp_requests_total", (struct prom_label[]){ { "result", "ok" } }, 1,
		     st.requests_ok);
	prom__sample(f, "ctxtrace_otlp_requests_total", (struct prom_label[]){ { "result", "failed" } }, 1,
		     st.requests_failed);
	prom__family(f, "ctxtrace_otlp_retries_total", "counter", "OTLP/HTTP requests retried after a failure.");
	prom__sample(f, "ctxtrace_otlp_retries_total", NULL, 0, st.retries);
	prom__family(f, "ctxtrace_otlp_metrics_requests_total", "counter",
		     "OTLP metrics requests, by result (replaced: a newer one came before it was sent).");
	prom__sample(f, "ctxtrace_otlp_metrics_requests_total", (struct prom_label[]){ { "result", "ok" } }, 1,
		     st.metrics_ok);
	prom__sample(f, "ctxtrace_otlp_metrics_requests_total", (struct prom_label[]){ { "result", "failed" } }, 1,
		     st.metrics_failed);
	prom__sample(f, "ctxtrace_otlp_metrics_requests_total", (struct prom_label[]){ { "result", "replaced" } },
		     1, st.metrics_replaced);
}

static void otlp_sink(void *cookie, const struct target_alert *who, const struct alert *a)
{
	struct daemon *d = cookie;
	struct otlp_source src = { .target = who->name, .pid = who->pid, .exe = who->exe, .ci = who->ci };

	if (d->otlp)
		otlp__alert(d->otlp, &src, a);
}

struct metrics_run {
	struct otlp_metrics *m;
	bool counter;
};

static void sink_family(void *cookie, const char *name, const char *type, const char *help)
{
	struct metrics_run *r = cookie;

	r->counter = !strcmp(type, "counter");
	otlp__metrics_family(r->m, name, type, help);
}

static void sink_sample(void *cookie, const char *name, const struct prom_label *labels, int nlabels, double v)
{
	struct metrics_run *r = cookie;

	otlp__metrics_sample(r->m, labels, nlabels, v, r->counter);
}

/* The /metrics families, typed, to the OTLP endpoint. */
static void otlp_send_metrics(struct daemon *d)
{
	struct metrics_run r = { .m = otlp__metrics_begin(d->otlp, (uint64_t)d->started_unix * 1000000000ULL) };
	struct metric_sink s = { sink_family, sink_sample, &r };

	if (!r.m)
		return;
	metrics__set_sink(&s);
	render_metrics(d, NULL);
	metrics__set_sink(NULL);
	otlp__metrics_end(r.m);
}

static bool otlp_same(const struct output_cfg *a, const struct output_cfg *b)
{
	return str_same(a->otlp_endpoint, b->otlp_endpoint) && str_same(a->otlp_service, b->otlp_service) &&
	       a->otlp_queue == b->otlp_queue && a->otlp_batch == b->otlp_batch &&
	       a->otlp_flush == b->otlp_flush && a->otlp_timeout == b->otlp_timeout &&
	       a->otlp_retries == b->otlp_retries && a->otlp_metrics_interval == b->otlp_metrics_interval;
}

/* The exporter the config asks for (none when otlp_endpoint is ""). 0 or -errno. */
static int otlp_start(struct daemon *d, const struct config *c)
{
	if (!c->output.otlp_endpoint || !*c->output.otlp_endpoint)
		return 0;
	d->otlp = otlp__new(&c->output);
	return d->otlp ? 0 : -errno;
}

static struct server *make_server(struct daemon *d, const struct config *c)
{
	/* A large graph takes seconds to write: a child process does it. */
	static const char *const forked[] = { "graph", NULL };
	struct server_opts so = {
		.forked_verbs = forked,
		.path = c->output.socket,
		.mode = (unsigned int)c->output.socket_mode,
		.group = c->output.socket_group,
		.queue_bytes = c->output.socket_buffer,
		.max_clients = (int)c->output.max_clients,
		.answer_max = c->output.socket_answer_max,
		.memory_max = c->output.socket_memory_max,
		.on_request = on_request,
		.cookie = d,
	};

	return server__new(d->loop, &so);
}

static int reload(struct daemon *d)
{
	char err[1024];
	struct config *nc;
	struct server *nsrv = NULL;
	struct metrics_http *nm = NULL;
	bool new_srv, new_metrics;

	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%" PRIu64 "\nSTATUS=reloading", ct_mono_ns() / 1000);
	nc = config__load(d->config_path, d->config_optional, d->flags, d->nflags, err, sizeof(err));
	if (!nc)
		goto refused;
	new_srv = !str_same(nc->output.socket, d->cfg->output.socket) ||
		  nc->output.socket_mode != d->cfg->output.socket_mode ||
		  !str_same(nc->output.socket_group, d->cfg->output.socket_group);
	new_metrics = !str_same(nc->output.metrics_listen, d->cfg->output.metrics_listen);
	if (new_srv && nc->output.socket && *nc->output.socket) {
		/* The same path: the old socket must go first. */
		if (d->srv && !strcmp(server__path(d->srv), nc->output.socket)) {
			server__free(d->srv);
			d->srv = NULL;
		}
		nsrv = make_server(d, nc);
		if (!nsrv) {
			snprintf(err, sizeof(err), "%s", ct_errmsg());
			goto refused;
		}
	}
	if (new_metrics && nc->output.metrics_listen && *nc->output.metrics_listen) {
		metrics_http__free(d->metrics);
		d->metrics = NULL;
		nm = metrics_http__new(d->loop, nc->output.metrics_listen, render_metrics, d);
		if (!nm) {
			snprintf(err, sizeof(err), "%s", ct_errmsg());
			goto refused;
		}
	}
	if (outputs__configure(d->out, nc)) {
		snprintf(err, sizeof(err), "%s", ct_errmsg());
		goto refused;
	}
	if (new_srv) {
		server__free(d->srv);
		d->srv = nsrv;
		outputs__set_server(d->out, nsrv);
	} else if (d->srv) {
		server__set_limits(d->srv, nc->output.socket_buffer, (int)nc->output.max_clients,
				   nc->output.socket_answer_max, nc->output.socket_memory_max);
	}
	if (new_metrics) {
		metrics_http__free(d->metrics);
		d->metrics = nm;
	}
	if (!otlp_same(&nc->output, &d->cfg->output)) {
		/* The old one gets one last try for what it holds (one request timeout). */
		otlp__free(d->otlp);
		d->otlp = NULL;
		if (otlp_start(d, nc))
			daemon_event(d, LOG_ERR, "OTLP export off", ct_errmsg());
	}
	targets__apply(d->targets, nc);
	config__free(d->cfg);
	d->cfg = nc;
	d->reloads_ok++;
	daemon_event(d, LOG_NOTICE, "reloaded", d->cfg->path);
	sd_notifyf(0, "READY=1\nSTATUS=reloaded %s", d->cfg->path ? d->cfg->path : "");
	return 0;
refused:
	/* The old config stays; what the new one started is undone. */
	server__free(nsrv);
	metrics_http__free(nm);
	if (!d->srv && d->cfg->output.socket && *d->cfg->output.socket) {
		d->srv = make_server(d, d->cfg);
		outputs__set_server(d->out, d->srv);
	}
	if (!d->metrics && d->cfg->output.metrics_listen && *d->cfg->output.metrics_listen)
		d->metrics = metrics_http__new(d->loop, d->cfg->output.metrics_listen, render_metrics, d);
	config__free(nc);
	d->reloads_refused++;
	daemon_event(d, LOG_ERR, "reload refused, the old config stays", err);
	sd_notifyf(0, "READY=1\nSTATUS=reload refused: %s", err);
	return -EINVAL;
}

static void on_signal(struct loop_watch *w, uint32_t events)
{
	struct daemon *d = (struct daemon *)((char *)w - offsetof(struct daemon, sig_w));
	struct signalfd_siginfo si;

	while (read(w->fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP)
			reload(d);
		else
			d->stop = true;
	}
}

static void usage(FILE *f)
{
	fprintf(f, "usage: ctxtraced [--config FILE] [--check-config] [-v] [SETTING FLAGS]\n\n"
		   "Traces the Go processes its config selects, as they start, and streams the\n"
		   "context and goroutine leak alerts it finds to journald, a JSON Lines socket\n"
		   "and file, and Prometheus metrics.\n\n"
		   "  -v, --verbose              more messages (twice: libbpf's too)\n"
		   "  --version                  print the version\n");
	settings__print_flags(f, cli_settings, cli_settings_n, OPT_CTXTRACED);
	config__print_help(f);
	fprintf(f, "\nSignals: SIGHUP reloads the config, SIGTERM detaches everything and exits.\n"
		   "man ctxtraced(8), ctxtraced.conf(5).\n");
}

int main(int argc, char **argv)
{
	struct daemon d = { .config_path = CONFIG_DEFAULT_PATH, .config_optional = true };
	struct cli_opts cli = { 0 };
	bool check_only = false;
	char err[1024];
	sigset_t mask;
	uint64_t next_tick, next_profile, next_metrics, watchdog_usec = 0, next_watchdog = 0;
	int rc = 1;

	ct_log_name = "ctxtraced";
	d.flags = calloc((size_t)argc, sizeof(*d.flags));
	if (!d.flags)
		return 1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int r;

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			rc = 0;
			goto cleanup;
		}
		if (!strcmp(a, "--version")) {
			printf("ctxtraced %s\n", CTXTRACE_VERSION);
			rc = 0;
			goto cleanup;
		}
		if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
			ct_verbosity++;
			continue;
		}
		r = options__match(OPT_CTXTRACED, argc, argv, &i, &cli, err, sizeof(err));
		if (r < 0) {
			fprintf(stderr, "ctxtraced: %s\n", err);
			rc = 2;
			goto cleanup;
		}
		if (r > 0)
			continue;
		r = config__match_flag(argc, argv, &i, &d.flags[d.nflags], err, sizeof(err));
		if (r < 0) {
			fprintf(stderr, "ctxtraced: %s\n", err);
			rc = 2;
			goto cleanup;
		}
		if (r == 0) {
			fprintf(stderr, "ctxtraced: unknown option '%s' (see ctxtraced --help)\n", a);
			rc = 2;
			goto cleanup;
		}
		d.nflags++;
	}

	if (cli.config) {
		d.config_path = cli.config;
		d.config_optional = false;
	}
	check_only = cli.check_config;
	d.cfg = config__load(d.config_path, d.config_optional, d.flags, d.nflags, err, sizeof(err));
	if (!d.cfg) {
		fprintf(stderr, "ctxtraced: %s\n", err);
		sd_notifyf(0, "STATUS=bad config: %s", err);
		goto cleanup;
	}
	if (check_only) {
		const char *g = d.cfg->output.socket_group;

		/* At start the daemon only warns (the socket keeps its own group): a
		 * check says it. */
		if (g && *g && d.cfg->output.socket && *d.cfg->output.socket && !getgrnam(g)) {
			fprintf(stderr, "ctxtraced: %s: socket_group: group '%s' does not exist\n",
				d.cfg->path ? d.cfg->path : "--socket-group", g);
			goto cleanup;
		}
		printf("%s: ok, %zu target%s\n", d.cfg->path ? d.cfg->path : "(no config file)", d.cfg->ntargets,
		       d.cfg->ntargets == 1 ? "" : "s");
		rc = 0;
		goto cleanup;
	}
	bpf_log__install();
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);

	d.loop = loop__new();
	if (!d.loop) {
		fprintf(stderr, "ctxtraced: cannot create the event loop: %s\n", strerror(errno));
		goto cleanup;
	}
	d.sig_w.fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	d.sig_w.fn = on_signal;
	if (d.sig_w.fd < 0 || loop__add(d.loop, &d.sig_w, EPOLLIN)) {
		fprintf(stderr, "ctxtraced: cannot watch signals: %s\n", strerror(errno));
		goto cleanup;
	}
	outputs__timestamp(d.started, sizeof(d.started));
	d.started_mono = ct_mono_ns();
	d.started_unix = time(NULL);
	if (d.cfg->output.socket && *d.cfg->output.socket) {
		d.srv = make_server(&d, d.cfg);
		if (!d.srv) {
			fprintf(stderr, "ctxtraced: %s\n", ct_errmsg());
			goto cleanup;
		}
	}
	d.out = outputs__new(d.cfg, d.srv);
	if (!d.out) {
		fprintf(stderr, "ctxtraced: %s\n", ct_errmsg());
		goto cleanup;
	}
	if (d.cfg->output.metrics_listen && *d.cfg->output.metrics_listen) {
		d.metrics = metrics_http__new(d.loop, d.cfg->output.metrics_listen, render_metrics, &d);
		if (!d.metrics) {
			fprintf(stderr, "ctxtraced: %s\n", ct_errmsg());
			goto cleanup;
		}
	}
	d.targets = targets__new(d.loop, d.out, &session_backend);
	if (!d.targets) {
		fprintf(stderr, "ctxtraced: %s\n", ct_errmsg());
		goto cleanup;
	}
	if (otlp_start(&d, d.cfg)) {
		fprintf(stderr, "ctxtraced: %s\n", ct_errmsg());
		goto cleanup;
	}
	targets__set_alert_sink(d.targets, otlp_sink, &d);
	/* Execs first, then the scan: a process starting in between is seen twice
	 * at worst, never missed. */
	if (targets__watch_execs(d.targets)) {
		fprintf(stderr, "ctxtraced: %s\n", ct_errmsg());
		goto cleanup;
	}
	if (targets__apply(d.targets, d.cfg)) {
		fprintf(stderr, "ctxtraced: %s\n", ct_errmsg());
		goto cleanup;
	}
	daemon_event(&d, LOG_INFO, "started", d.cfg->path ? d.cfg->path : "no config file");
	if (sd_watchdog_enabled(0, &watchdog_usec) <= 0)
		watchdog_usec = 0;
	sd_notifyf(0, "READY=1\nSTATUS=tracing; config %s", d.cfg->path ? d.cfg->path : "(none)");

	next_tick = ct_mono_ns() + d.cfg->daemon.poll_interval;
	next_profile = ct_mono_ns() + d.cfg->output.profile_interval;
	next_metrics = ct_mono_ns() + d.cfg->output.otlp_metrics_interval;
	next_watchdog = ct_mono_ns();
	while (!d.stop) {
		uint64_t now = ct_mono_ns();
		int timeout = now >= next_tick ? 0 : (int)((next_tick - now + 999999) / 1000000);
		int r = loop__run_once(d.loop, timeout);

		if (r < 0) {
			fprintf(stderr, "ctxtraced: event loop failed: %s\n", strerror(-r));
			goto cleanup;
		}
		now = ct_mono_ns();
		if (now >= next_tick) {
			targets__tick(d.targets);
			server__tick(d.srv);
			next_tick = now + d.cfg->daemon.poll_interval;
		}
		if (d.otlp && d.cfg->output.otlp_metrics_interval && now >= next_metrics) {
			otlp_send_metrics(&d);
			next_metrics = ct_mono_ns() + d.cfg->output.otlp_metrics_interval;
		}
		if (d.cfg->output.profile_dir && *d.cfg->output.profile_dir && now >= next_profile) {
			targets__write_profiles(d.targets, d.cfg->output.profile_dir);
			next_profile = ct_mono_ns() + d.cfg->output.profile_interval;
		}
		/* Half the watchdog period: proof that the loop still turns. */
		if (watchdog_usec && now >= next_watchdog) {
			sd_notify(0, "WATCHDOG=1");
			next_watchdog = now + watchdog_usec * 1000 / 2;
		}
	}
	sd_notify(0, "STOPPING=1\nSTATUS=detaching");
	targets__detach_all(d.targets, "shutdown");
	daemon_event(&d, LOG_INFO, "stopped", NULL);
	rc = 0;
cleanup:
	targets__free(d.targets);
	otlp__free(d.otlp);
	metrics_http__free(d.metrics);
	outputs__free(d.out);
	server__free(d.srv);
	if (d.sig_w.fd > 0)
		close(d.sig_w.fd);
	loop__free(d.loop);
	config__free(d.cfg);
	free(d.flags);
	options__free(&cli);
	return rc;
}
