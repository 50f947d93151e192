#include <errno.h>
#include <string.h>

#include "daemon/config.h"
#include "daemon/session_backend.h"
#include "daemon/targets.h"
#include "output/pprof_out.h"
#include "session/session.h"
#include "util/log.h"

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
		.probes = r->probes,
		.max_overhead = (uint32_t)r->max_overhead,
		.ring_max = r->ring_max,
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

struct profile_run {
	struct pprof_out *p;
	int err;
};

static void add_goroutine(void *cookie, const struct memjudge_go *g)
{
	struct profile_run *r = cookie;

	if (!r->err && pprof_out__add(r->p, g) < 0)
		r->err = -ENOMEM;
}

static int session_profile(void *h, int pid, const char *exe, const char *path)
{
	struct profile_run r = { .p = pprof_out__new(pid, exe) };
	int err;

	if (!r.p) {
		ct_errmsg_set("out of memory");
		return -ENOMEM;
	}
	err = session__profile(h, add_goroutine, &r);
	if (err)
		ct_errmsg_set("cannot read the goroutines: %s", strerror(-err));
	else if (r.err)
		ct_errmsg_set("out of memory");
	else
		err = pprof_out__write(r.p, path);
	pprof_out__free(r.p);
	return err ? err : r.err;
}

static int session_cost(void *h, struct session_cost *out)
{
	return session__cost(h, out);
}

static void session_ring_fill(void *h, uint32_t *now_pct, uint32_t *max_pct, uint64_t *bytes)
{
	struct session_ring r;

	session__ring(h, &r);
	*now_pct = r.fill_pct;
	*max_pct = r.max_fill_pct;
	*bytes = r.size;
}

const struct target_backend session_backend = {
	.open = open_session,
	.poll = poll_session,
	.free = free_session,
	.lineage = session_lineage,
	.probe_hits = session_probe_hits,
	.ring_fill = session_ring_fill,
	.go_outlived = session__go_outlived,
	.go_memory = session__go_memory,
	.profile = session_profile,
	.cost = session_cost,
};
