/* The daemon's [target] selectors matched against a process's /proc facts
 * (util/proc.h): executable glob, systemd unit (from the cgroup), pid. */
#ifndef CT_DAEMON_SELECTORS_H
#define CT_DAEMON_SELECTORS_H

#include <stdbool.h>

struct config;
struct target_cfg;
struct proc_info;

/* Does one [target] section select this process? Every selector it sets must match. */
bool target_cfg__match(const struct target_cfg *t, const struct proc_info *pi);
/* The first [target] section that selects the process, or NULL. */
const struct target_cfg *targets__select(const struct config *c, const struct proc_info *pi);
/* The unit selector against /proc/PID/cgroup text: a path component equal to (or
 * matching the glob) unit, or unit.service. */
bool cgroup_match_unit(const char *cgroup, const char *unit);

#endif
