/* Which [target] section selects a process (see selectors.h). */
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

#include "daemon/config.h"
#include "daemon/selectors.h"
#include "util/container.h"
#include "util/fmt.h"
#include "util/proc.h"

bool cgroup_match_unit(const char *cgroup, const char *unit)
{
	char withsvc[300];
	const char *line = cgroup;

	snprintf(withsvc, sizeof(withsvc), "%s.service", unit);
	while (line && *line) {
		const char *eol = strchr(line, '\n'), *path;
		size_t len = eol ? (size_t)(eol - line) : strlen(line);
		char buf[1024], *comp, *save = NULL;

		/* "ID:controllers:/path" */
		path = memchr(line, ':', len);
		path = path ? memchr(path + 1, ':', len - (size_t)(path + 1 - line)) : NULL;
		if (path && (size_t)(line + len - path - 1) < sizeof(buf)) {
			memcpy(buf, path + 1, line + len - path - 1);
			buf[line + len - path - 1] = '\0';
			for (comp = strtok_r(buf, "/", &save); comp; comp = strtok_r(NULL, "/", &save)) {
				if (!fnmatch(unit, comp, 0) || !fnmatch(withsvc, comp, 0))
					return true;
			}
		}
		line = eol ? eol + 1 : NULL;
	}
	return false;
}

bool target_cfg__match(const struct target_cfg *t, const struct proc_info *pi)
{
	if (!t->exe && !t->unit && !t->pid && !t->cgroup && !t->container)
		return false;
	if (t->pid && t->pid != pi->pid)
		return false;
	if (t->exe) {
		if (pi->exe_unreadable || !pi->exe[0] ||
		    (fnmatch(t->exe, file_base(pi->exe), 0) && fnmatch(t->exe, pi->exe, 0)))
			return false;
	}
	if (t->unit && !cgroup_match_unit(pi->cgroup, t->unit))
		return false;
	if (t->cgroup || t->container) {
		struct container_info ci = { 0 };

		container__parse_cgroup(pi->cgroup, &ci);
		if (t->cgroup && (!ci.cgroup[0] || fnmatch(t->cgroup, ci.cgroup, 0)))
			return false;
		if (t->container && !container__id_match(ci.id, t->container))
			return false;
	}
	return true;
}

const struct target_cfg *targets__select(const struct config *c, const struct proc_info *pi)
{
	for (size_t i = 0; c && i < c->ntargets; i++) {
		if (target_cfg__match(&c->targets[i], pi))
			return &c->targets[i];
	}
	return NULL;
}
