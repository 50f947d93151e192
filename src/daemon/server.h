/* The daemon's unix socket: one request line per connection, JSON Lines back.
 *
 *   status [text]          one status object (or text lines), then close
 *   alerts [text]          the recent alerts, then close
 *   alerts follow [text]   the recent alerts, then every new alert until the client leaves
 *   subscribe [text]       every new record (alerts, target events) until the client leaves
 *   graph PID [text]       a target's lineage graph (one JSON line, or the tree), then close
 *
 * A slow subscriber never blocks the daemon: each has a bounded queue; lines that
 * do not fit are dropped and counted, and the subscriber is told with
 * {"type":"dropped","count":N} before the next line it gets. Errors are
 * {"type":"error","message":"..."} (text: "error: ...").
 *
 * Bounds, whatever clients do (docs/daemon.md, "Limits"):
 * - an answer is at most answer_max bytes; a longer one is cut at a line end
 *   and ends with {"type":"truncated","limit":N} (text: "truncated: ...");
 * - the verbs in forked_verbs (graph: seconds of work on a large graph) are
 *   answered by a child process, at most max_forked at once (more wait their
 *   turn), killed after answer_timeout_s: the daemon's loop never builds them;
 * - a client that does not read its answer for answer_timeout_s is dropped;
 * - all clients' queues together hold at most memory_max bytes: past it a
 *   one-shot answer is refused ("busy") and subscribers drop lines. */
#ifndef CT_DAEMON_SERVER_H
#define CT_DAEMON_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct server;
struct loop;

/* Answers one request into f (JSON Lines, or text when text). Returns 0, or
 * -errno with message set for an error reply. *follow: keep the client as a
 * subscriber afterwards. */
typedef int (*server_request_fn)(void *cookie, const char *verb, const char *arg, bool text, FILE *f,
				 bool *follow, char *message, size_t msglen);

struct server_opts {
	const char *path;
	unsigned int mode;
	const char *group;      /* NULL or "": the daemon's own */
	size_t queue_bytes;     /* per subscriber */
	int max_clients;
	/* A client that sends no request line this long is closed: it would hold
	 * a slot. 0: 10 s. */
	unsigned int request_timeout_s;
	size_t answer_max;            /* 0: SERVER_ANSWER_MAX */
	size_t memory_max;            /* 0: SERVER_MEMORY_MAX */
	unsigned int answer_timeout_s; /* 0: SERVER_ANSWER_TIMEOUT_S */
	int max_forked;               /* 0: SERVER_MAX_FORKED */
	const char *const *forked_verbs; /* NULL-terminated; NULL: none */
	server_request_fn on_request;
	void *cookie;
};

#define SERVER_ANSWER_MAX (16u << 20)
#define SERVER_MEMORY_MAX (128u << 20)
#define SERVER_ANSWER_TIMEOUT_S 30
#define SERVER_MAX_FORKED 2

struct server_stats {
	uint64_t clients;        /* connected now */
	uint64_t subscribers;    /* following now */
	uint64_t accepted, refused;
	uint64_t lines_sent, lines_dropped;
	uint64_t timeouts;       /* clients closed for sending no request */
	uint64_t stalled;        /* clients closed for not reading their answer */
	uint64_t truncated;      /* answers cut at answer_max */
	uint64_t busy;           /* answers refused: memory_max reached */
	uint64_t forked;         /* answers built by a child process */
	uint64_t forked_killed;  /* children killed at answer_timeout_s */
	uint64_t queued_bytes;   /* in all clients' queues now */
};


/* Listens (replacing a stale socket file, refusing when another daemon answers on
 * it). NULL with errno and ct_errmsg(). */
struct server *server__new(struct loop *l, const struct server_opts *opts);
/* Queue limits for later lines; the path is not changed here. */
void server__set_limits(struct server *s, size_t queue_bytes, int max_clients, size_t answer_max,
			size_t memory_max);
const char *server__path(const struct server *s);
/* One record to every subscriber: json (no newline) or, to text subscribers,
 * text. "alerts follow" subscribers get it only when alert is true. */
void server__publish(struct server *s, const char *json, const char *text, bool alert);
/* Closes clients that never sent a request; call now and then. Takes NULL. */
void server__tick(struct server *s);
void server__stats(const struct server *s, struct server_stats *st);
/* Closes every client and removes the socket file. Takes NULL. */
void server__free(struct server *s);

#endif
