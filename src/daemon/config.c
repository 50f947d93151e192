#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "daemon/config.h"
#include "util/settings.h"

#define NS_MS 1000000ULL
#define NS_S 1000000000ULL

static const char *const log_choices[] = { "auto", "journal", "stderr", NULL };

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
	return config__parse_listen(v, &ss, &len, err, errlen);
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

static int check_glob(const struct setting *s, const void *dst, char *err, size_t errlen)
{
	const char *v = *(char *const *)dst;

	if (!*v) {
		snprintf(err, errlen, "is empty");
		return -EINVAL;
	}
	return 0;
}

const struct setting daemon_settings[] = {
	{ "max_targets", SET_INT, SETTING_OFF(struct daemon_cfg, max_targets), 1, 4096, "64", NULL,
	  "processes traced at once; more matches are refused and counted" },
	{ "poll_interval", SET_DURATION, SETTING_OFF(struct daemon_cfg, poll_interval), 10 * NS_MS,
	  10 * NS_S, "100ms", NULL, "how often every target's events are read" },
	{ "log", SET_ENUM, SETTING_OFF(struct daemon_cfg, log), .def = "auto",
	  .help = "where alerts and target events are logged (auto: journald when it runs)",
	  .choices = log_choices },
	{ "log_events", SET_BOOL, SETTING_OFF(struct daemon_cfg, log_events), .def = "true",
	  .help = "log target attach/detach events too, not only alerts" },
};
const size_t daemon_settings_n = sizeof(daemon_settings) / sizeof(daemon_settings[0]);

const struct setting output_settings[] = {
	{ "socket", SET_STRING, SETTING_OFF(struct output_cfg, socket), .def = "/run/ctxtrace/ctxtraced.sock",
	  .metavar = "PATH", .help = "JSON Lines unix socket for ctxtrace status/alerts (\"\": none)",
	  .check = check_socket },
	{ "socket_mode", SET_OCTAL, SETTING_OFF(struct output_cfg, socket_mode), 0, 0777, "0660", NULL,
	  "the socket's permission bits" },
	{ "socket_group", SET_STRING, SETTING_OFF(struct output_cfg, socket_group), .def = "ctxtrace",
	  .metavar = "GROUP", .help = "group owning the socket (\"\": the daemon's)", .check = check_group },
	{ "socket_buffer", SET_SIZE, SETTING_OFF(struct output_cfg, socket_buffer), 4096, 64LL << 20, "1M",
	  NULL, "bytes queued per subscriber; beyond, lines are dropped and the drop is told" },
	{ "max_clients", SET_INT, SETTING_OFF(struct output_cfg, max_clients), 1, 1024, "64", NULL,
	  "socket connections at once" },
	{ "json_file", SET_STRING, SETTING_OFF(struct output_cfg, json_file), .def = "", .metavar = "PATH",
	  .help = "JSON Lines file of alerts and target events (\"\": none)", .check = check_path },
	{ "json_file_max_size", SET_SIZE, SETTING_OFF(struct output_cfg, json_file_max_size), 4096,
	  16LL << 30, "10M", NULL, "rotate the JSON file when it grows past this" },
	{ "json_file_keep", SET_INT, SETTING_OFF(struct output_cfg, json_file_keep), 0, 100, "5", NULL,
	  "rotated files kept (FILE.1 ... FILE.N)" },
	{ "metrics_listen", SET_STRING, SETTING_OFF(struct output_cfg, metrics_listen), .def = "",
	  .metavar = "ADDR:PORT", .help = "Prometheus metrics on this loopback address (\"\": none)",
	  .check = check_listen },
	{ "otlp_endpoint", SET_STRING, SETTING_OFF(struct output_cfg, otlp_endpoint), .def = "",
	  .metavar = "URL", .help = "send alerts as OTLP/HTTP log records to this URL, e.g. "
	  "http://127.0.0.1:4318/v1/logs (\"\": none)", .check = check_url },
	{ "otlp_queue", SET_INT, SETTING_OFF(struct output_cfg, otlp_queue), 1, 1000000, "4096", NULL,
	  "alerts waiting to be sent at most; beyond, they are dropped and counted" },
	{ "otlp_batch", SET_INT, SETTING_OFF(struct output_cfg, otlp_batch), 1, 10000, "256", NULL,
	  "log records per request at most" },
	{ "otlp_flush", SET_DURATION, SETTING_OFF(struct output_cfg, otlp_flush), NS_S / 100, 60 * NS_S, "1s",
	  NULL, "how long an alert may wait for a fuller batch" },
	{ "otlp_timeout", SET_DURATION, SETTING_OFF(struct output_cfg, otlp_timeout), NS_S / 10, 300 * NS_S,
	  "10s", NULL, "per request" },
	{ "otlp_retries", SET_INT, SETTING_OFF(struct output_cfg, otlp_retries), 0, 100, "5", NULL,
	  "retries of a batch that failed (no answer, 429, 5xx), with backoff, before it is dropped" },
	{ "profile_dir", SET_STRING, SETTING_OFF(struct output_cfg, profile_dir), .def = "", .metavar = "DIR",
	  .help = "write each target's stuck goroutines as a pprof profile TARGET-PID.pb.gz here (\"\": none)",
	  .check = check_path },
	{ "profile_interval", SET_DURATION, SETTING_OFF(struct output_cfg, profile_interval), NS_S, 86400 * NS_S,
	  "60s", NULL, "how often profile_dir's profiles are written (each a memory judgement of the target)" },
	{ "otlp_metrics_interval", SET_DURATION, SETTING_OFF(struct output_cfg, otlp_metrics_interval), 0,
	  86400 * NS_S, "60s", NULL, "how often the daemon's metrics go to the endpoint's /v1/metrics (0: never)" },
	{ "otlp_service", SET_STRING, SETTING_OFF(struct output_cfg, otlp_service), .def = "ctxtraced",
	  .metavar = "NAME", .help = "the resource's service.name" },
};
const size_t output_settings_n = sizeof(output_settings) / sizeof(output_settings[0]);

const struct setting rule_settings[] = {
	{ "grace", SET_DURATION, SETTING_OFF(struct rule_cfg, grace), 0, 86400 * NS_S, "5s", NULL,
	  "how long a goroutine may outlive its cancelled context before it counts" },
	{ "min_count", SET_INT, SETTING_OFF(struct rule_cfg, min_count), 1, 1000000, "3", NULL,
	  "findings from one site before an alert" },
	{ "retention", SET_DURATION, SETTING_OFF(struct rule_cfg, retention), NS_S, 86400 * NS_S, "60s", NULL,
	  "how long cancelled contexts and exited goroutines stay in the graph" },
	{ "stuck_min", SET_INT, SETTING_OFF(struct rule_cfg, stuck_min), 1, 1000000, "5", NULL,
	  "blocked goroutines with no context found, from one site, before a stuck-goroutines alert" },
};
const size_t rule_settings_n = sizeof(rule_settings) / sizeof(rule_settings[0]);

const struct setting select_settings[] = {
	{ "exe", SET_GLOB, SETTING_OFF(struct target_cfg, exe),
	  .help = "select processes whose executable's base name or full path matches", .check = check_glob },
	{ "unit", SET_GLOB, SETTING_OFF(struct target_cfg, unit), .metavar = "UNIT",
	  .help = "select processes in this systemd unit (a cgroup path component; globs allowed)",
	  .check = check_unit },
	{ "pid", SET_INT, SETTING_OFF(struct target_cfg, pid), 1, 4194304, NULL, NULL,
	  "select this process (at start and on reload)" },
	{ "cgroup", SET_GLOB, SETTING_OFF(struct target_cfg, cgroup), .metavar = "GLOB",
	  .help = "select processes whose cgroup v2 path matches, e.g. /kubepods.slice/*", .check = check_glob },
	{ "container", SET_STRING, SETTING_OFF(struct target_cfg, container), .metavar = "ID",
	  .help = "select processes of this container (its id, or a prefix of 12 or more hex digits)",
	  .check = check_container },
};
const size_t select_settings_n = sizeof(select_settings) / sizeof(select_settings[0]);

enum section { SEC_NONE = 0, SEC_DAEMON, SEC_OUTPUT, SEC_DEFAULTS, SEC_TARGET };

struct parse_state {
	struct config *c;
	enum section sec;
	struct target_cfg *t;
};

int config__parse_listen(const char *s, void *addr, unsigned int *addrlen, char *err, size_t errlen)
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

static void target_cfg_free(struct target_cfg *t)
{
	free(t->name);
	settings__free(select_settings, select_settings_n, t);
}

void config__free(struct config *c)
{
	if (!c)
		return;
	free(c->path);
	settings__free(daemon_settings, daemon_settings_n, &c->daemon);
	settings__free(output_settings, output_settings_n, &c->output);
	settings__free(rule_settings, rule_settings_n, &c->defaults);
	for (size_t i = 0; i < c->ntargets; i++)
		target_cfg_free(&c->targets[i]);
	free(c->targets);
	free(c);
}

static bool valid_target_name(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > 64)
		return false;
	for (; *s; s++) {
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
			return false;
	}
	return true;
}

static struct target_cfg *add_target(struct config *c, const char *name, int line, char *err, size_t errlen)
{
	struct target_cfg *t;

	if (c->ntargets >= CONFIG_MAX_TARGETS) {
		snprintf(err, errlen, "target %s: more than %d [target] sections", name, CONFIG_MAX_TARGETS);
		return NULL;
	}
	for (size_t i = 0; i < c->ntargets; i++) {
		if (!strcmp(c->targets[i].name, name)) {
			if (c->targets[i].line)
				snprintf(err, errlen, "target %s: already defined at line %d", name,
					 c->targets[i].line);
			else
				snprintf(err, errlen, "target %s: already defined on the command line", name);
			return NULL;
		}
	}
	t = realloc(c->targets, (c->ntargets + 1) * sizeof(*t));
	if (!t) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->targets = t;
	t = &c->targets[c->ntargets];
	memset(t, 0, sizeof(*t));
	t->name = strdup(name);
	if (!t->name) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	t->line = line;
	c->ntargets++;
	return t;
}

static int set_target_key(struct target_cfg *t, const char *key, const char *value, char *err, size_t errlen)
{
	const struct setting *s = settings__find(select_settings, select_settings_n, key);

	if (s)
		return settings__set(s, t, value, err, errlen);
	s = settings__find(rule_settings, rule_settings_n, key);
	if (s) {
		int r = settings__set(s, &t->rules, value, err, errlen);

		if (!r)
			t->rules_set |= 1u << (s - rule_settings);
		return r;
	}
	snprintf(err, errlen, "%s: unknown setting in [target %s] (known: exe, unit, pid, cgroup, container, grace, min_count, retention)",
		 key, t->name);
	return -EINVAL;
}

static int on_ini(void *cookie, const char *section, const char *arg, const char *key, const char *value,
		  int line, char *err, size_t errlen)
{
	struct parse_state *ps = cookie;
	const struct setting *tab = NULL, *s;
	size_t n = 0;
	void *obj = NULL;
	const char *secname = section;

	if (!key) {
		static const struct {
			const char *name;
			enum section sec;
		} secs[] = { { "daemon", SEC_DAEMON }, { "output", SEC_OUTPUT },
			     { "defaults", SEC_DEFAULTS }, { "target", SEC_TARGET } };

		ps->sec = SEC_NONE;
		for (size_t i = 0; i < sizeof(secs) / sizeof(secs[0]); i++) {
			if (!strcmp(section, secs[i].name))
				ps->sec = secs[i].sec;
		}
		if (ps->sec == SEC_NONE) {
			snprintf(err, errlen, "[%s]: unknown section (expected daemon, output, defaults or target NAME)",
				 section);
			return -EINVAL;
		}
		if (ps->sec == SEC_TARGET) {
			if (!*arg) {
				snprintf(err, errlen, "[target]: needs a name, as in [target myapp]");
				return -EINVAL;
			}
			if (!valid_target_name(arg)) {
				snprintf(err, errlen, "[target %.64s]: a name is 1-64 letters, digits, '-', '_' or '.'",
					 arg);
				return -EINVAL;
			}
			ps->t = add_target(ps->c, arg, line, err, errlen);
			return ps->t ? 0 : -EINVAL;
		}
		if (*arg) {
			snprintf(err, errlen, "[%s %.64s]: this section takes no name", section, arg);
			return -EINVAL;
		}
		return 0;
	}
	switch (ps->sec) {
	case SEC_DAEMON:
		tab = daemon_settings;
		n = daemon_settings_n;
		obj = &ps->c->daemon;
		break;
	case SEC_OUTPUT:
		tab = output_settings;
		n = output_settings_n;
		obj = &ps->c->output;
		break;
	case SEC_DEFAULTS:
		tab = rule_settings;
		n = rule_settings_n;
		obj = &ps->c->defaults;
		break;
	case SEC_TARGET:
		return set_target_key(ps->t, key, value, err, errlen);
	default:
		snprintf(err, errlen, "%s: setting outside a known section", key);
		return -EINVAL;
	}
	s = settings__find(tab, n, key);
	if (!s) {
		char known[512];
		size_t o = 0;

		known[0] = '\0';
		for (size_t i = 0; i < n && o < sizeof(known); i++)
			o += snprintf(known + o, sizeof(known) - o, "%s%s", i ? ", " : "", tab[i].name);
		snprintf(err, errlen, "%s: unknown setting in [%s] (known: %s)", key, secname, known);
		return -EINVAL;
	}
	return settings__set(s, obj, value, err, errlen);
}

int config__match_flag(int argc, char **argv, int *i, struct config_flag *out, char *err, size_t errlen)
{
	static const struct {
		const struct setting *tab;
		const size_t *n;
	} tabs[] = {
		{ daemon_settings, &daemon_settings_n },
		{ output_settings, &output_settings_n },
		{ rule_settings, &rule_settings_n },
		{ select_settings, &select_settings_n },
	};

	for (size_t k = 0; k < sizeof(tabs) / sizeof(tabs[0]); k++) {
		int r = settings__match_flag(tabs[k].tab, *tabs[k].n, argc, argv, i, &out->s, &out->value, err,
					     errlen);

		if (r) {
			out->tab = tabs[k].tab;
			out->tab_n = *tabs[k].n;
			return r;
		}
	}
	return 0;
}

static int validate(struct config *c, const char *where, char *err, size_t errlen)
{
	for (size_t i = 0; i < c->ntargets; i++) {
		struct target_cfg *t = &c->targets[i];

		if (!t->exe && !t->unit && !t->pid && !t->cgroup && !t->container) {
			if (t->line)
				snprintf(err, errlen, "%s:%d: target %s: needs exe, unit, pid, cgroup or container", where, t->line,
					 t->name);
			else
				snprintf(err, errlen, "--exe, --unit or --pid is needed with the target's rule flags");
			return -EINVAL;
		}
	}
	return 0;
}

struct config *config__load(const char *path, bool optional, const struct config_flag *flags, size_t nflags,
			    char *err, size_t errlen)
{
	struct config *c = calloc(1, sizeof(*c));
	struct parse_state ps = { .c = c };
	struct target_cfg *cl = NULL;
	char msg[512];
	FILE *f = NULL;
	int line, r;

	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (settings__defaults(daemon_settings, daemon_settings_n, &c->daemon, err, errlen) ||
	    settings__defaults(output_settings, output_settings_n, &c->output, err, errlen) ||
	    settings__defaults(rule_settings, rule_settings_n, &c->defaults, err, errlen))
		goto fail;
	if (path) {
		f = fopen(path, "r");
		if (!f && !(optional && errno == ENOENT)) {
			snprintf(err, errlen, "%s: cannot read the config: %s", path, strerror(errno));
			goto fail;
		}
	}
	if (f) {
		c->path = strdup(path);
		r = ini__parse(f, on_ini, &ps, &line, msg, sizeof(msg));
		fclose(f);
		if (r) {
			if (line)
				snprintf(err, errlen, "%s:%d: %s", path, line, msg);
			else
				snprintf(err, errlen, "%s: %s", path, msg);
			goto fail;
		}
	}
	for (size_t i = 0; i < nflags; i++) {
		const struct config_flag *fl = &flags[i];
		void *obj;

		if (fl->tab == daemon_settings)
			obj = &c->daemon;
		else if (fl->tab == output_settings)
			obj = &c->output;
		else if (fl->tab == rule_settings)
			obj = &c->defaults;
		else {
			if (!cl) {
				cl = add_target(c, "command-line", 0, msg, sizeof(msg));
				if (!cl) {
					snprintf(err, errlen, "%s", msg);
					goto fail;
				}
			}
			obj = cl;
		}
		if (settings__set(fl->s, obj, fl->value, msg, sizeof(msg))) {
			snprintf(err, errlen, "--%s", msg);
			for (char *p = err + 2; *p && *p != ':'; p++)
				if (*p == '_')
					*p = '-';
			goto fail;
		}
	}
	if (validate(c, path, err, errlen))
		goto fail;
	return c;
fail:
	config__free(c);
	return NULL;
}

void config__target_rules(const struct config *c, const struct target_cfg *t, struct rule_cfg *out)
{
	*out = c->defaults;
	for (size_t i = 0; i < rule_settings_n; i++) {
		if (!(t->rules_set & (1u << i)))
			continue;
		memcpy((char *)out + rule_settings[i].offset, (const char *)&t->rules + rule_settings[i].offset,
		       rule_settings[i].type == SET_INT ? sizeof(int64_t) : sizeof(uint64_t));
	}
}

static bool str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

bool config__target_same(const struct config *a, const struct target_cfg *ta, const struct config *b,
			 const struct target_cfg *tb)
{
	struct rule_cfg ra, rb;

	config__target_rules(a, ta, &ra);
	config__target_rules(b, tb, &rb);
	return str_eq(ta->exe, tb->exe) && str_eq(ta->unit, tb->unit) && ta->pid == tb->pid &&
	       str_eq(ta->cgroup, tb->cgroup) && str_eq(ta->container, tb->container) &&
	       ra.grace == rb.grace && ra.min_count == rb.min_count && ra.retention == rb.retention;
}

void config__print_help(void *file)
{
	FILE *f = file;

	fprintf(f, "\nsettings (flags win over the config file):\n");
	settings__print_help(f, daemon_settings, daemon_settings_n, SETTINGS_HELP_FLAGS);
	settings__print_help(f, output_settings, output_settings_n, SETTINGS_HELP_FLAGS);
	fprintf(f, "\nrule settings ([defaults]; a [target] section may override them):\n");
	settings__print_help(f, rule_settings, rule_settings_n, SETTINGS_HELP_FLAGS);
	fprintf(f, "\nselection (a [target NAME] section; as flags they make a target named command-line):\n");
	settings__print_help(f, select_settings, select_settings_n, SETTINGS_HELP_FLAGS);
}
