/* Printers for decoded events: one JSON object per line, or one text line.
 * docs/events.md documents the JSON fields. */
#ifndef CT_EVENTS_OUT_H
#define CT_EVENTS_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct events_out;
struct ct_event;

/* Takes the CLOCK_REALTIME - CLOCK_MONOTONIC offset now, to print event times.
 * The JSON of each stack is kept by the stack's address: the (interned) stacks
 * of printed events must not be freed while the printer lives. */
struct events_out *events_out__new(FILE *f, bool json);
void events_out__free(struct events_out *eo);
/* Replaces the clock offset (tests, replays). */
void events_out__set_clock(struct events_out *eo, int64_t realtime_minus_mono_ns);

/* Writes one line (buffered: call events_out__flush after a batch). 0 or -EIO. */
int events_out__print(struct events_out *eo, const struct ct_event *ev);
/* 0 or -errno (-EPIPE when the reader went away). */
int events_out__flush(struct events_out *eo);

/* "2026-01-02T03:04:05.123456789Z" (UTC), from Unix nanoseconds. */
void ct_format_time(int64_t unix_ns, char *buf, size_t size);

#endif
