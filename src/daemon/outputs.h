/* Where the daemon's alerts and target events go: the log (journald with
 * structured fields when it runs, else stderr), the JSON Lines socket's
 * subscribers (daemon/server.h) and a JSON Lines file rotated by size. Every
 * record is one JSON object, the same one everywhere. */
#ifndef CT_DAEMON_OUTPUTS_H
#define CT_DAEMON_OUTPUTS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct outputs;
struct server;
struct config;

enum out_kind {
	OUT_ALERT = 0,
	OUT_ATTACH,
	OUT_DETACH,
	OUT_ATTACH_FAILED,
	OUT_DAEMON, /* started, reloaded, reload refused, stopping */
	OUT_BUDGET, /* a target's overhead budget started or stopped sampling */
	OUT_KIND_MAX,
};

struct out_event {
	enum out_kind kind;
	const char *json;   /* one complete object, no newline */
	const char *text;   /* the same, one line for people */
	int priority;       /* syslog LOG_* */
	/* Structured fields for the journal; NULL / 0 when they do not apply. */
	const char *target;
	int pid;
	const char *rule;
};

struct outputs_stats {
	uint64_t emitted[OUT_KIND_MAX];
	uint64_t file_lines, file_errors, file_rotations;
	uint64_t log_lines;
};

/* NULL with errno and ct_errmsg(). The server (may be NULL) gets every line. */
struct outputs *outputs__new(const struct config *c, struct server *srv);
/* Applies a reloaded config (a new file path or rotation settings). 0 or -errno. */
int outputs__configure(struct outputs *o, const struct config *c);
void outputs__set_server(struct outputs *o, struct server *srv);
void outputs__free(struct outputs *o);

void outputs__emit(struct outputs *o, const struct out_event *ev);
/* The most recent alerts (JSON and text), oldest first: for `ctxtrace alerts`. */
void outputs__write_history(struct outputs *o, FILE *f, bool text);
void outputs__stats(const struct outputs *o, struct outputs_stats *st);
/* "journal" or "stderr". */
const char *outputs__log_name(const struct outputs *o);

/* Now, as the event stream writes times: "2024-05-01T12:00:00.123456789Z". */
void outputs__timestamp(char *buf, size_t size);

/* A JSON Lines file that rotates: FILE -> FILE.1 -> ... -> FILE.keep. */
struct jsonl_file;
struct jsonl_file *jsonl_file__open(const char *path, uint64_t max_size, int keep);
/* Appends line + '\n'; rotates first when the file would pass max_size.
 * 0 or -errno. */
int jsonl_file__write(struct jsonl_file *f, const char *line, size_t len);
uint64_t jsonl_file__rotations(const struct jsonl_file *f);
void jsonl_file__close(struct jsonl_file *f);

#endif
