/* Recordings of decoded event streams: `ctxtrace watch --record FILE` writes one,
 * `ctxtrace replay FILE` reads it back. docs/record-format.md is the format. */
#ifndef CT_RECORD_H
#define CT_RECORD_H

#include <stdint.h>
#include <stdio.h>

struct record;
struct ct_event;

#define RECORD_VERSION 1

struct record_header {
	uint32_t pid;
	int64_t mono_to_real_ns; /* CLOCK_REALTIME - CLOCK_MONOTONIC when recording began */
	uint64_t start_ns;       /* CLOCK_MONOTONIC when recording began */
	char binary[1024];       /* the target's executable */
	char go_version[64];     /* "go1.22.12" */
	char tool_version[32];   /* the ctxtrace that wrote it */
};

/* Writer. NULL with errno and ct_errmsg() ("cannot create FILE: ..."). The
 * strings and stacks of written events must stay valid and unchanged while the
 * recording is open: they are remembered by address (interned ones are). */
struct record *record__create(const char *path, const struct record_header *h);
/* 0 or -errno (ct_errmsg set). Events reach the file in chunks: when a chunk is
 * full, a second of event time after the last one, and on flush / close. */
int record__write(struct record *r, const struct ct_event *ev);
int record__flush(struct record *r);

/* Reader. NULL with errno and a one-line ct_errmsg() for a file that is not a
 * recording, is of a newer version, or has a damaged header. */
struct record *record__open(const char *path);
/* Reads from f (taken over: closed by record__close); for tests and the fuzzer. */
struct record *record__open_file(FILE *f, const char *name);
const struct record_header *record__header(const struct record *r);
/* 1 with *ev filled, 0 at the end of a complete recording, or -errno with
 * ct_errmsg(): "truncated recording after N events" (-ENODATA), "corrupt
 * recording: ..." (-EBADMSG). Strings and stacks in *ev stay valid until
 * record__close. Events of a damaged chunk are never returned. */
int record__next(struct record *r, struct ct_event *ev);
uint64_t record__count(const struct record *r); /* events written or read so far */

/* Writer: writes what is buffered and the end marker; 0 or -errno. Reader: 0.
 * Frees r in both cases; takes NULL. */
int record__close(struct record *r);

#endif
