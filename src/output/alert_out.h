/* Printers for leak alerts (rules/rules.h): one JSON object per alert (schema in
 * docs/alerts.md, version ALERT_JSON_VERSION) and the same as text for people. */
#ifndef CT_ALERT_OUT_H
#define CT_ALERT_OUT_H

#include <stdbool.h>
#include <stdio.h>

struct alert;
struct json_w;

#define ALERT_JSON_VERSION 1

/* Writes the alert as one JSON object, without a trailing newline. 0 or -errno. */
int alert_out__json(FILE *f, const struct alert *a, bool pretty);
/* The alert's members into an object the caller opened: for a record that adds
 * its own members in front (the daemon's "target"). */
void alert_out__json_members(struct json_w *w, const struct alert *a);
/* Writes the alert as text: a header line, the message, indented details. */
int alert_out__text(FILE *f, const struct alert *a);
/* The same into malloc'd NUL-terminated strings; NULL on ENOMEM. */
char *alert_out__json_str(const struct alert *a);
char *alert_out__text_str(const struct alert *a);

#endif
