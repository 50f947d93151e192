/* ctxtraced's configuration: an INI file ([daemon], [output], [defaults],
 * [target NAME]) plus command-line flags, all described by the settings tables
 * below (util/settings.h), so flags, file and help cannot drift apart.
 * Errors read "FILE:LINE: setting: message". */
#ifndef CT_DAEMON_CONFIG_H
#define CT_DAEMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/settings.h"

#define CONFIG_DEFAULT_PATH "/etc/ctxtrace/ctxtraced.conf"
#define CONFIG_MAX_TARGETS 256 /* [target] sections in one file */

enum log_target { LOG_AUTO = 0, LOG_JOURNAL, LOG_STDERR };

struct daemon_cfg {
	int64_t max_targets;     /* processes attached at once */
	uint64_t poll_interval;  /* ns between session polls */
	int log;                 /* enum log_target */
	bool log_events;         /* attach/detach events to the log too, not only alerts */
};

struct output_cfg {
	char *socket;
	int64_t socket_mode;
	char *socket_group;
	uint64_t socket_buffer;   /* bytes queued per subscriber before lines are dropped */
	int64_t max_clients;
	char *json_file;
	uint64_t json_file_max_size;
	int64_t json_file_keep;
	char *metrics_listen;     /* "127.0.0.1:9464"; NULL: off */
	/* OTLP/HTTP log export of alerts (daemon/otlp.h) */
	char *otlp_endpoint;      /* "http://127.0.0.1:4318/v1/logs"; "": off */
	int64_t otlp_queue;       /* records waiting at most; beyond, dropped and counted */
	int64_t otlp_batch;       /* records per request at most */
	uint64_t otlp_flush;      /* ns a record may wait for a fuller batch */
	uint64_t otlp_timeout;    /* ns per request */
	int64_t otlp_retries;     /* retries of a failed batch before it is dropped */
	char *otlp_service;       /* resource service.name */
	uint64_t otlp_metrics_interval; /* ns between metrics requests; 0: none */
	char *profile_dir;        /* leak profiles per target; "": none */
	uint64_t profile_interval;
};

/* Rule settings: [defaults], overridden per [target]. */
struct rule_cfg {
	uint64_t grace;
	int64_t min_count;
	uint64_t retention;
	int64_t stuck_min;
};

struct target_cfg {
	char *name;
	char *exe;       /* glob against the executable's base name or full path */
	char *unit;      /* systemd unit (or any cgroup path component) */
	int64_t pid;     /* 0: none */
	char *cgroup;    /* glob against the cgroup v2 path */
	char *container; /* container id, or a prefix of 12+ hex digits */
	struct rule_cfg rules;
	uint32_t rules_set; /* bit i: rule_settings[i] set in this section */
	int line;        /* of the section header; 0 for the command line */
};

struct config {
	char *path;      /* NULL: no file */
	struct daemon_cfg daemon;
	struct output_cfg output;
	struct rule_cfg defaults;
	struct target_cfg *targets;
	size_t ntargets;
};

extern const struct setting daemon_settings[];
extern const size_t daemon_settings_n;
extern const struct setting output_settings[];
extern const size_t output_settings_n;
extern const struct setting rule_settings[];
extern const size_t rule_settings_n;
extern const struct setting select_settings[]; /* exe, unit, pid: in [target] */
extern const size_t select_settings_n;

/* A command-line flag: applied after the file, so it wins over it. */
struct config_flag {
	const struct setting *tab;
	size_t tab_n;
	const struct setting *s;
	const char *value;
};

/* Matches argv[*i] against every table. 1 with *out filled, 0 when it is no
 * setting's flag, -EINVAL with err. */
int config__match_flag(int argc, char **argv, int *i, struct config_flag *out, char *err, size_t errlen);

/* Reads path (NULL: no file; a missing file is an error unless optional) and
 * applies flags. NULL with err = "FILE:LINE: setting: message". */
struct config *config__load(const char *path, bool optional, const struct config_flag *flags,
			    size_t nflags, char *err, size_t errlen);
void config__free(struct config *c);

/* The rule settings a target gets: its own, else [defaults]. */
void config__target_rules(const struct config *c, const struct target_cfg *t, struct rule_cfg *out);
/* True when the two configs give t the same rules and selection. */
bool config__target_same(const struct config *a, const struct target_cfg *ta,
			 const struct config *b, const struct target_cfg *tb);

/* Parses "127.0.0.1:9464", "[::1]:9464", "localhost:9464": 0 or -EINVAL
 * with err; only loopback addresses are accepted. addr is a sockaddr_storage. */
int config__parse_listen(const char *s, void *addr, unsigned int *addrlen, char *err, size_t errlen);

/* Help for every setting: flags, then config keys per section. */
void config__print_help(void *file);

#endif
