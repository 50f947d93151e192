#include "daemon/config.h"
#include "daemon/session_backend.h"
#include "daemon/targets.h"
#include "session/session.h"

static void *open_session(int pid, const struct target_cfg *t, const struct rule_cfg *r,
			  void (*on_event)(void *cookie, const struct ct_event *ev),
			  void (*on_alert)(void *cookie, const struct alert *a), void *cookie)
{
	struct session_opts o = {
		.pid = pid,
		.events = true, /* counted for the metrics */
		.rules = true,
		.grace_ns = r->grace,
		.min_count = (uint32_t)r->min_count,
		.stuck_min = (uint32_t)r->stuck_min,
		.retention_ns = r->retention,
		.max_nodes = (uint32_t)r->max_nodes,
		.on_event = on_event,
		.on_alert = on_alert,
		.cookie = cookie,
	};

	return session__open(&o);
}

static int poll_session(void *h)
{
	return session__poll(h, 0);
}

static void free_session(void *h)
{
	session__free(h);
}

static const struct lineage *session_lineage(void *h)
{
	return session__lineage(h);
}

static uint64_t session_probe_hits(void *h)
{
	return session__probe_hits(h);
}

const struct target_backend session_backend = {
	.open = open_session,
	.poll = poll_session,
	.free = free_session,
	.lineage = session_lineage,
	.probe_hits = session_probe_hits,
};
