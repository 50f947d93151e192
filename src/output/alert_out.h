/* Printers for leak alerts (rules/rules.h): one JSON object per alert (schema in
 * docs/alerts.md, version ALERT_JSON_VERSION) and the same as text for people. */
#ifndef CT_ALERT_OUT_H
#define CT_ALERT_OUT_H

#include <stdbool.h>
#include <stdio.h>

struct alert;
struct json_w;
struct ct_frame;

#define ALERT_JSON_VERSION 1

/* Writes the alert as one JSON object, without a trailing newline. 0 or -errno. */
int alert_out__json(FILE *f, const struct alert *a, bool pretty);
/* Writes the alert as text: a header line, the message, indented details. */
int alert_out__text(FILE *f, const struct alert *a);
/* The same into malloc'd NUL-terminated strings (for session's on_alert); NULL on ENOMEM. */
char *alert_out__json_str(const struct alert *a);
char *alert_out__text_str(const struct alert *a);

/* A frame as alerts write it: {"func", "file", "line"[, "inlined": true]}; null for NULL. */
void alert_out__frame_json(struct json_w *w, const struct ct_frame *f);

#endif
