/* What `ctxtrace status` shows of the daemon's targets: JSON (docs/daemon.md)
 * and text, from the targets' typed view (daemon/targets.h). */
#ifndef CT_DAEMON_STATUS_H
#define CT_DAEMON_STATUS_H

#include <stdio.h>

struct targets;
struct json_w;
struct rule_cfg;

/* {"targets":[...],"selectors":[...]} members into an open object. */
void targets__write_status(const struct targets *t, struct json_w *w);
void targets__write_status_text(const struct targets *t, FILE *f);
/* "rules":{...}: a target's rule settings, as attach records and status show them. */
void status__rules_json(struct json_w *w, const struct rule_cfg *r);

#endif
