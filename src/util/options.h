/* Every option of ctxtrace and ctxtraced, in one place: the structs they fill
 * and the settings tables (util/settings.h) that describe them. A table entry is
 * at once a daemon config key (in its [section]), a flag of the commands in its
 * .cmds mask, a line of --help and an entry the man pages must list
 * (tests/unit/test_options.c checks them). */
#ifndef CT_OPTIONS_H
#define CT_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/settings.h"

/* The commands, for struct setting's .cmds. */
enum opt_cmd {
	OPT_INSPECT = 1u << 0,
	OPT_WATCH = 1u << 1,
	OPT_GRAPH = 1u << 2,
	OPT_REPLAY = 1u << 3,
	OPT_STATUS = 1u << 4,
	OPT_ALERTS = 1u << 5,
	OPT_CTXTRACED = 1u << 6,
	OPT_SNAPSHOT = 1u << 7,
	OPT_RUN = 1u << 8, /* its flags end at the program: ctxtrace run [FLAGS] [--] CMD ARGS */
};

enum log_target { LOG_AUTO = 0, LOG_JOURNAL, LOG_STDERR };

/* [daemon] */
struct daemon_cfg {
	int64_t max_targets;     /* processes attached at once */
	uint64_t poll_interval;  /* ns between session polls */
	int log;                 /* enum log_target */
	bool log_events;         /* attach/detach events to the log too, not only alerts */
};

/* [output] */
struct output_cfg {
	char *socket;
	int64_t socket_mode;
	char *socket_group;
	uint64_t socket_buffer;   /* bytes queued per subscriber before lines are dropped */
	int64_t max_clients;
	uint64_t socket_answer_max;
	uint64_t socket_memory_max;
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

/* Rule and graph settings: [defaults], overridden per [target]; watch's and
 * graph's flags. */
struct rule_cfg {
	uint64_t grace;
	int64_t min_count;
	uint64_t retention;
	int64_t max_nodes;
	int64_t stuck_min;
	int probes;             /* enum probe_mode: default, all */
	int64_t max_overhead;   /* per cent of the target's CPU; 0: no budget */
};


/* [target NAME]: the selection, and the rule settings it overrides. */
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

/* The commands' own flags (cli_settings). */
struct cli_opts {
	int64_t pid;
	bool json;
	bool events;
	uint64_t duration;  /* 0: until the target exits (watch), 10s (graph) */
	char *record;
	char *output;
	int format;         /* enum graph_format: tree json dot svg */
	bool daemon;
	char *socket;
	bool stats;
	bool follow;
	bool all;
	bool addr2line;
	bool goroutines;    /* snapshot */
	int snap_format;    /* snapshot --format: text json pprof */
	char *profile;      /* watch and run --profile FILE */
	int fail_on;        /* run: enum alert_severity; 3 (SEV_MAX): never */
	char *config;       /* ctxtraced */
	bool check_config;  /* ctxtraced */
};

extern const struct setting daemon_settings[];
extern const size_t daemon_settings_n;
extern const struct setting output_settings[];
extern const size_t output_settings_n;
extern const struct setting rule_settings[];
extern const size_t rule_settings_n;
extern const struct setting select_settings[]; /* exe, unit, pid: in [target] */
extern const size_t select_settings_n;
extern const struct setting cli_settings[];
extern const size_t cli_settings_n;

/* Parses "127.0.0.1:9464", "[::1]:9464", "localhost:9464": 0 or -EINVAL
 * with err; only loopback addresses are accepted. addr is a sockaddr_storage. */
int options__parse_listen(const char *s, void *addr, unsigned int *addrlen, char *err, size_t errlen);

/* A command's flags: cli_settings into *cli and rule_settings into *rules (NULL:
 * the command takes none), defaults first. The arguments that are no flag stay
 * in argv[1..*npos] (npos NULL: none is allowed). 0, 1 after printing help to
 * stdout (with usage's text first), or -EINVAL after a one-line error. */
int options__parse_cmd(unsigned cmd, int argc, char **argv, struct cli_opts *cli, struct rule_cfg *rules,
		       int *npos, const char *usage);
void options__free(struct cli_opts *cli);
/* Whether argv (before a "--") holds the flag ("--max-overhead", "--max-overhead=2"). */
bool options__flag_given(int argc, char **argv, const char *flag);
/* One argument against command cmd's cli_settings (ctxtraced's --config): 1
 * when it was one (applied; *i past its value), 0 when not, -EINVAL with err. */
int options__match(unsigned int cmd, int argc, char **argv, int *i, struct cli_opts *cli, char *err,
		   size_t errlen);

#endif
