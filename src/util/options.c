#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "util/log.h"
#include "util/options.h"
#include "util/settings.h"

#define NS_MS 1000000ULL
#define NS_S 1000000000ULL

static const char *const log_choices[] = { "auto", "journal", "stderr", NULL };
/* In the order of enum probe_mode (probes/probe_plan.h). */
static const char *const probes_choices[] = { "default", "all", NULL };

static int check_path(const struct setting *s, const void *dst, char *err, size_t errlen)
{
	const char *v = *(char *const *)dst;

	if (!*v)
		return 0; /* "": off */
	if (v[0] != '/') {
		snprintf(err, errlen, "is not an absolute path");
		return -EINVAL;
	}
	if (strlen(v) > 1024) {
		snprintf(err, errlen, "is longer than 1024 bytes");
		return -EINVAL;
	}
	return 0;
}

static int check_socket(const struct setting *s, const void *dst, char *err, size_t errlen)
{
	const char *v = *(char *const *)dst;

	if (check_path(s, dst, err, errlen))
		return -EINVAL;
	if (strlen(v) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		snprintf(err, errlen, "is longer than a unix socket path may be (%zu bytes)",
			 sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
		return -EINVAL;
	}
	return 0;
}

static int check_listen(const struct setting *s, const void *dst, char *err, size_t errlen)
{
	const char *v = *(char *const *)dst;
	struct sockaddr_storage ss;
	unsigned int len;

	if (!*v)
		return 0;
	return options__parse_listen(v, &ss, &len, err, errlen);
}

static int check_group(const struct setting *s, const void *dst, char *err, size_t errlen)
{
	const char *v = *(char *const *)dst;

	for (const char *p = v; *p; p++) {
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-' && *p != '.') {
			snprintf(err, errlen, "is not a group name");
			return -EINVAL;
		}
	}
	return 0;
}

static int check_unit(const struct setting *s, const void *dst, char *err, size_t errlen)
{
	const char *v = *(char *const *)dst;

	if (!*v || strchr(v, '/')) {
		snprintf(err, errlen, "is not a unit name (like myapp.service or myapp*)");
		return -EINVAL;
	}
	return 0;
}

static int check_url(const struct setting *s, const void *dst, char *err, size_t errlen)
{
	const char *v = *(char *const *)dst;

	if (!*v)
		return 0;
	if (strncmp(v, "http://", 7) && strncmp(v, "https://", 8)) {
		snprintf(err, errlen, "is not an http:// or https:// URL");
		return -EINVAL;
	}
	if (strlen(v) > 1024 || strpbrk(v, " \t\r\n")) {
		snprintf(err, errlen, "is not a URL (spaces, or longer than 1024 bytes)");
		return -EINVAL;
	}
	return 0;
}

static int check_container(const struct setting *s, const void *dst, char *err, size_t errlen)
{
	const char *v = *(char *const *)dst;
	size_t n = strlen(v);

	if (!n)
		return 0;
	if (n < 12 || n > 64 || strspn(v, "0123456789abcdef") != n) {
		snprintf(err, errlen, "is not a container id (12 to 64 lowercase hex digits)");
		return -EINVAL;
	}
	return 0;
}

static int check_glob(const struct setting *s, const void *dst, char *err, size_t errlen)
{
	const char *v = *(char *const *)dst;

	if (!*v) {
		snprintf(err, errlen, "is empty");
		return -EINVAL;
	}
	return 0;
}

#define D OPT_CTXTRACED

const struct setting daemon_settings[] = {
	{ "max_targets", SET_INT, SETTING_OFF(struct daemon_cfg, max_targets), 1, 4096, "64", NULL,
	  "processes traced at once; more matches are refused and counted", .cmds = D },
	{ "poll_interval", SET_DURATION, SETTING_OFF(struct daemon_cfg, poll_interval), 10 * NS_MS,
	  10 * NS_S, "100ms", NULL, "how often every target's events are read", .cmds = D },
	{ "log", SET_ENUM, SETTING_OFF(struct daemon_cfg, log), .def = "auto",
	  .help = "where alerts and target events are logged (auto: journald when it runs)",
	  .choices = log_choices, .cmds = D },
	{ "log_events", SET_BOOL, SETTING_OFF(struct daemon_cfg, log_events), .def = "true",
	  .help = "log target attach/detach events too, not only alerts", .cmds = D },
};
const size_t daemon_settings_n = sizeof(daemon_settings) / sizeof(daemon_settings[0]);

const struct setting output_settings[] = {
	{ "socket", SET_STRING, SETTING_OFF(struct output_cfg, socket), .def = "/run/ctxtrace/ctxtraced.sock",
	  .metavar = "PATH", .help = "JSON Lines unix socket for ctxtrace status/alerts (\"\": none)",
	  .check = check_socket, .cmds = D },
	{ "socket_mode", SET_OCTAL, SETTING_OFF(struct output_cfg, socket_mode), 0, 0777, "0660", NULL,
	  "the socket's permission bits", .cmds = D },
	{ "socket_group", SET_STRING, SETTING_OFF(struct output_cfg, socket_group), .def = "ctxtrace",
	  .metavar = "GROUP", .help = "group owning the socket (\"\": the daemon's)", .check = check_group,
	  .cmds = D },
	{ "socket_buffer", SET_SIZE, SETTING_OFF(struct output_cfg, socket_buffer), 4096, 64LL << 20, "1M",
	  NULL, "bytes queued per subscriber; beyond, lines are dropped and the drop is told", .cmds = D },
	{ "max_clients", SET_INT, SETTING_OFF(struct output_cfg, max_clients), 1, 1024, "64", NULL,
	  "socket connections at once", .cmds = D },
	{ "socket_answer_max", SET_SIZE, SETTING_OFF(struct output_cfg, socket_answer_max), 64LL << 10, 1LL << 30,
	  "16M", NULL, "longest answer (status, alerts, graph); a longer one is cut and says so", .cmds = D },
	{ "socket_memory_max", SET_SIZE, SETTING_OFF(struct output_cfg, socket_memory_max), 1LL << 20, 16LL << 30,
	  "128M", NULL, "bytes queued for all socket clients together; past it answers are refused as busy",
	  .cmds = D },
	{ "json_file", SET_STRING, SETTING_OFF(struct output_cfg, json_file), .def = "", .metavar = "PATH",
	  .help = "JSON Lines file of alerts and target events (\"\": none)", .check = check_path, .cmds = D },
	{ "json_file_max_size", SET_SIZE, SETTING_OFF(struct output_cfg, json_file_max_size), 4096,
	  16LL << 30, "10M", NULL, "rotate the JSON file when it grows past this", .cmds = D },
	{ "json_file_keep", SET_INT, SETTING_OFF(struct output_cfg, json_file_keep), 0, 100, "5", NULL,
	  "rotated files kept (FILE.1 ... FILE.N)", .cmds = D },
	{ "metrics_listen", SET_STRING, SETTING_OFF(struct output_cfg, metrics_listen), .def = "",
	  .metavar = "ADDR:PORT", .help = "Prometheus metrics on this loopback address (\"\": none)",
	  .check = check_listen, .cmds = D },
	{ "otlp_endpoint", SET_STRING, SETTING_OFF(struct output_cfg, otlp_endpoint), .def = "",
	  .metavar = "URL", .help = "send alerts as OTLP/HTTP log records to this URL, e.g. "
	  "http://127.0.0.1:4318/v1/logs (\"\": none)", .check = check_url, .cmds = D },
	{ "otlp_queue", SET_INT, SETTING_OFF(struct output_cfg, otlp_queue), 1, 1000000, "4096", NULL,
	  "alerts waiting to be sent at most; beyond, they are dropped and counted", .cmds = D },
	{ "otlp_batch", SET_INT, SETTING_OFF(struct output_cfg, otlp_batch), 1, 10000, "256", NULL,
	  "log records per request at most", .cmds = D },
	{ "otlp_flush", SET_DURATION, SETTING_OFF(struct output_cfg, otlp_flush), NS_S / 100, 60 * NS_S, "1s",
	  NULL, "how long an alert may wait for a fuller batch", .cmds = D },
	{ "otlp_timeout", SET_DURATION, SETTING_OFF(struct output_cfg, otlp_timeout), NS_S / 10, 300 * NS_S,
	  "10s", NULL, "per request", .cmds = D },
	{ "otlp_retries", SET_INT, SETTING_OFF(struct output_cfg, otlp_retries), 0, 100, "5", NULL,
	  "retries of a batch that failed (no answer, 429, 5xx), with backoff, before it is dropped", .cmds = D },
	{ "profile_dir", SET_STRING, SETTING_OFF(struct output_cfg, profile_dir), .def = "", .metavar = "DIR",
	  .help = "write each target's stuck goroutines as a pprof profile TARGET-PID.pb.gz here (\"\": none)",
	  .check = check_path, .cmds = D },
	{ "profile_interval", SET_DURATION, SETTING_OFF(struct output_cfg, profile_interval), NS_S, 86400 * NS_S,
	  "60s", NULL, "how often profile_dir's profiles are written (each a memory judgement of the target)", .cmds = D },
	{ "otlp_metrics_interval", SET_DURATION, SETTING_OFF(struct output_cfg, otlp_metrics_interval), 0,
	  86400 * NS_S, "60s", NULL, "how often the daemon's metrics go to the endpoint's /v1/metrics (0: never)", .cmds = D },
	{ "otlp_service", SET_STRING, SETTING_OFF(struct output_cfg, otlp_service), .def = "ctxtraced",
	  .metavar = "NAME", .help = "the resource's service.name", .cmds = D },
};
const size_t output_settings_n = sizeof(output_settings) / sizeof(output_settings[0]);

/* retention and max_nodes bound the graph (graph/lineage.h): the same range for
 * watch, graph, replay and the daemon. */
const struct setting rule_settings[] = {
	{ "grace", SET_DURATION, SETTING_OFF(struct rule_cfg, grace), 0, 86400 * NS_S, "5s", NULL,
	  "how long a goroutine may outlive its cancelled context before it counts",
	  .cmds = D | OPT_WATCH | OPT_SNAPSHOT | OPT_RUN },
	{ "min_count", SET_INT, SETTING_OFF(struct rule_cfg, min_count), 1, 1000000, "3", NULL,
	  "findings from one site before an alert", .cmds = D | OPT_WATCH | OPT_SNAPSHOT | OPT_RUN },
	{ "retention", SET_DURATION, SETTING_OFF(struct rule_cfg, retention), 100 * NS_MS, 86400 * NS_S, "60s",
	  NULL, "how long cancelled contexts and exited goroutines stay in the graph",
	  .cmds = D | OPT_WATCH | OPT_GRAPH | OPT_REPLAY | OPT_RUN },
	{ "max_nodes", SET_INT, SETTING_OFF(struct rule_cfg, max_nodes), 16, 100000000, "1048576", NULL,
	  "contexts and goroutines the graph holds at most; the oldest finished ones go first",
	  .cmds = D | OPT_WATCH | OPT_GRAPH | OPT_REPLAY | OPT_RUN },
	{ "stuck_min", SET_INT, SETTING_OFF(struct rule_cfg, stuck_min), 1, 1000000, "5", NULL,
	  "blocked goroutines with no context found, from one site, before a stuck-goroutines alert",
	  .cmds = D | OPT_WATCH | OPT_SNAPSHOT | OPT_RUN },
	{ "probes", SET_ENUM, SETTING_OFF(struct rule_cfg, probes), .def = "default", .metavar = "MODE",
	  .help = "probe sites attached: default (what memory cannot tell: context creation and cancel, "
		  "go statements) or all (also every Done() caller, goroutine exit and WithValue call, "
		  "for --events)",
	  .choices = probes_choices, .cmds = D | OPT_WATCH | OPT_GRAPH | OPT_RUN },
	/* ctxtraced's default: it runs always-on beside services, which must keep
	 * >= 97% of their rate; the estimate is within a third of the measured cost,
	 * so 2% stays under 3%. watch and run have no budget unless given
	 * (options__flag_given). */
	{ "max_overhead", SET_INT, SETTING_OFF(struct rule_cfg, max_overhead), 0, 100, "2", "PCT",
	  "estimated per cent of the target's CPU tracing may cost; over it the probes are attached "
	  "part-time (0: no budget)", .cmds = D | OPT_WATCH | OPT_RUN, .nodef_cmds = OPT_WATCH | OPT_RUN },
	/* The ring starts at 4 MiB and doubles while records arrive faster than it
	 * holds for 400 ms or are dropped; 64 MiB keeps up with 160 MiB/s of records
	 * (about a million records per second) without drops. */
	{ "ring_max", SET_SIZE, SETTING_OFF(struct rule_cfg, ring_max), 64LL << 10, 1LL << 30, "64M", NULL,
	  "the ring buffer starts at 4M and grows (doubling) with the record rate up to this; it never "
	  "shrinks while attached", .cmds = D | OPT_WATCH | OPT_RUN },
};
const size_t rule_settings_n = sizeof(rule_settings) / sizeof(rule_settings[0]);

const struct setting select_settings[] = {
	{ "exe", SET_GLOB, SETTING_OFF(struct target_cfg, exe),
	  .help = "select processes whose executable's base name or full path matches", .check = check_glob,
	  .cmds = D },
	{ "unit", SET_GLOB, SETTING_OFF(struct target_cfg, unit), .metavar = "UNIT",
	  .help = "select processes in this systemd unit (a cgroup path component; globs allowed)",
	  .check = check_unit, .cmds = D },
	{ "pid", SET_PID, SETTING_OFF(struct target_cfg, pid), 1, 4194304, NULL, NULL,
	  "select this process (at start and on reload)", .cmds = D },
	{ "cgroup", SET_GLOB, SETTING_OFF(struct target_cfg, cgroup), .metavar = "GLOB",
	  .help = "select processes whose cgroup v2 path matches, e.g. /kubepods.slice/*", .check = check_glob, .cmds = D },
	{ "container", SET_STRING, SETTING_OFF(struct target_cfg, container), .metavar = "ID",
	  .help = "select processes of this container (its id, or a prefix of 12 or more hex digits)",
	  .check = check_container, .cmds = D },
};
const size_t select_settings_n = sizeof(select_settings) / sizeof(select_settings[0]);

static const char *const format_choices[] = { "tree", "json", "dot", "svg", NULL };
static const char *const snap_format_choices[] = { "text", "json", "pprof", NULL };
/* rules/rules.h's enum alert_severity, then SEV_MAX as never */
static const char *const severity_choices[] = { "info", "warning", "error", "never", NULL };

/* The commands' own flags. --config and --check-config are ctxtraced's; its
 * other flags are the config keys above. */
const struct setting cli_settings[] = {
	{ "pid", SET_PID, SETTING_OFF(struct cli_opts, pid), 1, INT32_MAX, NULL, NULL, "the Go process",
	  .cmds = OPT_WATCH | OPT_GRAPH | OPT_INSPECT | OPT_SNAPSHOT, .short_name = 'p',
	  .required = OPT_WATCH | OPT_GRAPH | OPT_SNAPSHOT },
	{ "events", SET_BOOL, SETTING_OFF(struct cli_opts, events),
	  .help = "print decoded events (ctx_create, ctx_cancel, ctx_done, go_create, go_exit, lost, target_exit)",
	  .cmds = OPT_WATCH },
	{ "json", SET_BOOL, SETTING_OFF(struct cli_opts, json), .help = "JSON output (docs/*.md describe it)",
	  .cmds = OPT_WATCH | OPT_INSPECT | OPT_STATUS | OPT_ALERTS | OPT_SNAPSHOT | OPT_RUN },
	{ "duration", SET_DURATION, SETTING_OFF(struct cli_opts, duration), 1, 365 * 86400 * NS_S, NULL, NULL,
	  "stop after DURATION (watch: default until the target exits; graph: default 10s)",
	  .cmds = OPT_WATCH | OPT_GRAPH, .short_name = 'd' },
	{ "record", SET_STRING, SETTING_OFF(struct cli_opts, record), .metavar = "FILE",
	  .help = "also record the events for `ctxtrace replay`", .cmds = OPT_WATCH | OPT_GRAPH },
	{ "output", SET_STRING, SETTING_OFF(struct cli_opts, output), .metavar = "FILE",
	  .help = "write the graph (snapshot: the pprof profile) to FILE",
	  .cmds = OPT_GRAPH | OPT_REPLAY | OPT_SNAPSHOT, .short_name = 'o' },
	{ "format", SET_ENUM, SETTING_OFF(struct cli_opts, format), .def = "tree", .help = "the graph's format",
	  .choices = format_choices, .cmds = OPT_GRAPH | OPT_REPLAY, .short_name = 'f' },
	/* The same flag, snapshot's formats (a table entry per set of choices). */
	{ "format", SET_ENUM, SETTING_OFF(struct cli_opts, snap_format), .def = "text",
	  .help = "text, json, or pprof: the stuck goroutines as a gzipped pprof profile written to -o FILE "
	  "(docs/pprof.md)", .choices = snap_format_choices, .cmds = OPT_SNAPSHOT },
	{ "profile", SET_STRING, SETTING_OFF(struct cli_opts, profile), .metavar = "FILE",
	  .help = "at the end (run: at the program's exit), the stuck goroutines as a pprof profile "
	  "(docs/pprof.md)", .cmds = OPT_WATCH | OPT_RUN },
	{ "fail_on", SET_ENUM, SETTING_OFF(struct cli_opts, fail_on), .def = "never", .metavar = "SEVERITY",
	  .help = "exit 3 when the program exited 0 but a finding at its exit is at or above this",
	  .choices = severity_choices, .cmds = OPT_RUN },
	{ "daemon", SET_BOOL, SETTING_OFF(struct cli_opts, daemon),
	  .help = "ask a running ctxtraced for the graph it keeps (tree or json)", .cmds = OPT_GRAPH },
	{ "socket", SET_STRING, SETTING_OFF(struct cli_opts, socket), .metavar = "PATH",
	  .help = "the daemon's socket (default $CTXTRACE_SOCKET or /run/ctxtrace/ctxtraced.sock)",
	  .cmds = OPT_GRAPH | OPT_STATUS | OPT_ALERTS },
	{ "stats", SET_BOOL, SETTING_OFF(struct cli_opts, stats), .help = "print the replay's counts to stderr",
	  .cmds = OPT_REPLAY },
	{ "follow", SET_BOOL, SETTING_OFF(struct cli_opts, follow), .help = "then every new alert, until interrupted",
	  .cmds = OPT_ALERTS, .short_name = 'f' },
	{ "all", SET_BOOL, SETTING_OFF(struct cli_opts, all),
	  .help = "with --follow: every record (target attach/detach, reloads), not only alerts",
	  .cmds = OPT_ALERTS },
	{ "addr2line", SET_BOOL, SETTING_OFF(struct cli_opts, addr2line),
	  .help = "resolve ADDR... to function, file and line", .cmds = OPT_INSPECT },
	{ "goroutines", SET_BOOL, SETTING_OFF(struct cli_opts, goroutines),
	  .help = "also list every goroutine read (state, go site, stack)", .cmds = OPT_SNAPSHOT },
	{ "config", SET_STRING, SETTING_OFF(struct cli_opts, config), .metavar = "FILE",
	  .help = "the config (default /etc/ctxtrace/ctxtraced.conf; absent: built-in defaults)",
	  .cmds = OPT_CTXTRACED },
	{ "check_config", SET_BOOL, SETTING_OFF(struct cli_opts, check_config),
	  .help = "read the config and flags, report, exit", .cmds = OPT_CTXTRACED },
};
const size_t cli_settings_n = sizeof(cli_settings) / sizeof(cli_settings[0]);

#undef D

int options__parse_listen(const char *s, void *addr, unsigned int *addrlen, char *err, size_t errlen)
{
	char host[128];
	const char *colon, *port_s;
	int64_t port;
	struct sockaddr_in *in4 = addr;
	struct sockaddr_in6 *in6 = addr;

	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		if (!end || end[1] != ':' || (size_t)(end - s - 1) >= sizeof(host))
			goto bad;
		memcpy(host, s + 1, end - s - 1);
		host[end - s - 1] = '\0';
		port_s = end + 2;
	} else {
		colon = strrchr(s, ':');
		if (!colon || (size_t)(colon - s) >= sizeof(host) || memchr(s, ':', colon - s))
			goto bad;
		memcpy(host, s, colon - s);
		host[colon - s] = '\0';
		port_s = colon + 1;
	}
	if (parse_int(port_s, &port, 10) || port < 1 || port > 65535) {
		snprintf(err, errlen, "has no valid port (1..65535)");
		return -EINVAL;
	}
	memset(addr, 0, sizeof(struct sockaddr_storage));
	if (!strcmp(host, "localhost"))
		snprintf(host, sizeof(host), "127.0.0.1");
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		if ((ntohl(in4->sin_addr.s_addr) >> 24) != 127)
			goto not_loopback;
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		*addrlen = sizeof(*in4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		if (!IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
			goto not_loopback;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*addrlen = sizeof(*in6);
		return 0;
	}
bad:
	snprintf(err, errlen, "is not ADDR:PORT (like 127.0.0.1:9464 or [::1]:9464)");
	return -EINVAL;
not_loopback:
	snprintf(err, errlen, "is not a loopback address (metrics are unauthenticated: use 127.0.0.1 or ::1)");
	return -EINVAL;
}


int options__parse_cmd(unsigned int cmd, int argc, char **argv, struct cli_opts *cli, struct rule_cfg *rules,
		       int *npos, const char *usage)
{
	struct settings_group g[2] = { { cli_settings, cli_settings_n, cli } };
	size_t ng = 1;
	char err[512];
	int r;

	if (settings__defaults(cli_settings, cli_settings_n, cli, err, sizeof(err)) ||
	    (rules && settings__defaults(rule_settings, rule_settings_n, rules, err, sizeof(err)))) {
		error("%s", err);
		return -EINVAL;
	}
	if (rules)
		g[ng++] = (struct settings_group){ rule_settings, rule_settings_n, rules };
	/* Errors in the JSON form from the start when --json is asked for anywhere. */
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		if (!strcmp(argv[i], "--json") && settings__find(cli_settings, cli_settings_n, "json")->cmds & cmd)
			ct_log_json = true;
	}
	r = cmd == OPT_RUN ? settings__parse_argv_until_arg(g, ng, cmd, argc, argv, npos, err, sizeof(err))
			   : settings__parse_argv(g, ng, cmd, argc, argv, npos, err, sizeof(err));
	if (r == 1) {
		fputs(usage, stdout);
		settings__print_flags(stdout, cli_settings, cli_settings_n, cmd);
		if (rules)
			settings__print_flags(stdout, rule_settings, rule_settings_n, cmd);
		return 1;
	}
	if (r) {
		error("%s (see ctxtrace %s --help)", err, argv[0]);
		return -EINVAL;
	}
	return 0;
}

void options__free(struct cli_opts *cli)
{
	settings__free(cli_settings, cli_settings_n, cli);
}

int options__match(unsigned int cmd, int argc, char **argv, int *i, struct cli_opts *cli, char *err,
		   size_t errlen)
{
	for (size_t k = 0; k < cli_settings_n; k++) {
		const struct setting *s;
		const char *v;
		int r;

		if (!(cli_settings[k].cmds & cmd))
			continue;
		r = settings__match_flag(&cli_settings[k], 1, argc, argv, i, &s, &v, err, errlen);
		if (r > 0 && settings__set_flag(s, cli, v, err, errlen))
			return -EINVAL;
		if (r)
			return r;
	}
	return 0;
}

bool options__flag_given(int argc, char **argv, const char *flag)
{
	size_t n = strlen(flag);

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if (!strncmp(argv[i], flag, n) && (argv[i][n] == '\0' || argv[i][n] == '='))
			return true;
	}
	return false;
}
