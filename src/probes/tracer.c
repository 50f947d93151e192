#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/membarrier.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "binary/offsets.h"
#include "probes/bpf_log.h"
#include "probes/probe_plan.h"
#include "probes/tracer.h"
#include "util/clock.h"
#include "util/log.h"
#include "ctxtrace.skel.h"

#define DEFAULT_RINGBUF (4u << 20)
#define MAX_RINGBUF (1u << 30)
#define DEFAULT_RING_MAX (64u << 20)
#define POLL_MAX_MS 100
/* Growth: the record rate is measured over windows of RATE_WINDOW_NS; the ring
 * grows when it would fill within GROW_HORIZON_MS (the 100 ms collection period
 * times a safety factor of 4: the decoder may fall behind for a while), or when
 * records were dropped in the window. */
#define RATE_WINDOW_NS (100ull * 1000 * 1000)
#define GROW_HORIZON_MS 400

struct tracer {
	int pid;
	struct ctxtrace_bpf *skel;
	struct ring_buffer *rb;  /* the ring in the outer map's slot */
	int ring_fd;             /* its map */
	size_t ring_size, ring_max;
	int epfd;                /* tracer__fd: holds the current ring's epoll fd */
	uint64_t win_ns, win_bytes, win_drops; /* the rate window (tracer__adapt) */
	unsigned grows;
	struct bpf_link **links;
	int nlinks;
	int nsites;
	const char *mode;
	/* What was attached, to detach and attach again (tracer__set_attached). */
	char exe[PATH_MAX];
	unsigned long offs[PROBE_PLAN_MAX];
	__u64 cookies[PROBE_PLAN_MAX];
	bool multi;
	bool detached; /* set by the budget's thread, read by the poll loop: atomic */
	int stats_fd;  /* BPF run-time statistics on while open; -errno: unavailable */
	void (*on_record)(void *cookie, const void *data, size_t len);
	void *cookie;
	int limit, count; /* tracer__consume_n */
};

static int rb_cb(void *ctx, void *data, size_t len)
{
	struct tracer *t = ctx;

	t->win_bytes += (len + 8 + 7) & ~(size_t)7; /* with the ring's record header */
	if (t->on_record)
		t->on_record(t->cookie, data, len);
	/* libbpf has consumed the record already when a callback stops it */
	if (t->limit && ++t->count >= t->limit)
		return -EAGAIN;
	return 0;
}

static bool pid_alive(int pid)
{
	char p[64];

	snprintf(p, sizeof(p), "/proc/%d", pid);
	return access(p, F_OK) == 0;
}

/* Turns an attach/load failure into the user's terms. */
static int fail(int pid, int err, const char *what)
{
	if (err == -ESRCH || !pid_alive(pid)) {
		ct_errmsg_set("cannot attach to pid %d: no such process", pid);
		return -ESRCH;
	}
	if (err == -EPERM || err == -EACCES)
		ct_errmsg_set("cannot attach to pid %d: missing privileges (need CAP_BPF and CAP_PERFMON; "
			      "CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH for another user's process; or root)",
			      pid);
	else
		ct_errmsg_set("cannot attach to pid %d: %s: %s", pid, what, strerror(-err));
	return err;
}

static size_t ringbuf_size(size_t want, size_t def)
{
	size_t page = sysconf(_SC_PAGESIZE), sz = page;

	if (!want)
		want = def;
	if (want > MAX_RINGBUF)
		want = MAX_RINGBUF;
	while (sz < want)
		sz <<= 1;
	return sz;
}

/* A new ring of size bytes and its consumer. 0 or -errno. */
static int ring_new(struct tracer *t, size_t size, int *fd, struct ring_buffer **rb)
{
	*fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "ctxtrace_ring", 0, 0, size, NULL);
	if (*fd < 0)
		return -errno;
	*rb = ring_buffer__new(*fd, rb_cb, t, NULL);
	if (!*rb) {
		int err = -errno;

		close(*fd);
		return err;
	}
	return 0;
}

/* The first ring, in the outer map's slot before any site is attached. Its size:
 * opts, else CTXTRACE_RING_START (test-only: a tiny ring to force growth), else
 * 4 MiB; the cap: opts, else 64 MiB, never below the first size. */
static int ring_open(struct tracer *t, const struct tracer_opts *o)
{
	const char *env = getenv("CTXTRACE_RING_START");
	size_t start = o->ringbuf_bytes;
	__u32 zero = 0;
	int err;

	if (!start && env && *env)
		start = strtoull(env, NULL, 0);
	t->ring_size = ringbuf_size(start, DEFAULT_RINGBUF);
	t->ring_max = ringbuf_size(o->ring_max, DEFAULT_RING_MAX);
	if (t->ring_max < t->ring_size)
		t->ring_max = t->ring_size;
	err = ring_new(t, t->ring_size, &t->ring_fd, &t->rb);
	if (!err && bpf_map_update_elem(bpf_map__fd(t->skel->maps.rings), &zero, &t->ring_fd, BPF_ANY))
		err = -errno;
	if (!err) {
		struct epoll_event ev = { .events = EPOLLIN };

		t->epfd = epoll_create1(EPOLL_CLOEXEC);
		if (t->epfd < 0 || epoll_ctl(t->epfd, EPOLL_CTL_ADD, ring_buffer__epoll_fd(t->rb), &ev))
			err = -errno;
	}
	if (err)
		ct_errmsg_set("cannot attach to pid %d: ring buffer: %s", t->pid, strerror(-err));
	return err;
}

/* Swaps a ring of size bytes into the slot. Records already reserved in the old
 * ring are committed by programs that started before the swap: BPF programs run
 * under RCU, and membarrier(MEMBARRIER_CMD_GLOBAL) returns after an RCU grace
 * period (a 10 ms sleep where it is unavailable); the old ring is then drained
 * completely before the new one is read, so records arrive in order and none
 * twice. Then the old ring is freed. */
static int ring_grow(struct tracer *t, size_t size)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct ring_buffer *rb, *old = t->rb;
	struct ring *r;
	int fd, err, limit = t->limit, tries;
	__u32 zero = 0;

	err = ring_new(t, size, &fd, &rb);
	if (err)
		return err;
	if (bpf_map_update_elem(bpf_map__fd(t->skel->maps.rings), &zero, &fd, BPF_ANY)) {
		err = -errno;
		ring_buffer__free(rb);
		close(fd);
		return err;
	}
	if (syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0) != 0 || sysconf(_SC_NPROCESSORS_ONLN) < 2)
		usleep(10000);
	t->limit = 0;
	r = ring_buffer__ring(old, 0);
	/* A record still busy (its program not yet done: not after the grace period)
	 * is waited for, up to a second. */
	for (tries = 0; tries < 1000; tries++) {
		ring_buffer__consume(old);
		if (!ring__avail_data_size(r))
			break;
		usleep(1000);
	}
	t->limit = limit;
	epoll_ctl(t->epfd, EPOLL_CTL_DEL, ring_buffer__epoll_fd(old), NULL);
	if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, ring_buffer__epoll_fd(rb), &ev))
		error("ring buffer: epoll: %s", strerror(errno));
	ring_buffer__free(old);
	close(t->ring_fd);
	t->rb = rb;
	t->ring_fd = fd;
	verbose("ring buffer grown from %zu to %zu bytes", t->ring_size, size);
	t->ring_size = size;
	t->grows++;
	return 0;
}

int tracer__adapt(struct tracer *t)
{
	uint64_t now = ct_mono_ns(), need, drops = 0, dt;
	struct tracer_counters c;
	size_t size;
	int err;

	if (!t || !t->rb)
		return 0;
	if (!t->win_ns) {
		t->win_ns = now;
		t->win_bytes = 0;
		if (!tracer__counters(t, &c))
			t->win_drops = c.v[CT_CNT_DROPS];
		return 0;
	}
	dt = now - t->win_ns;
	if (dt < RATE_WINDOW_NS)
		return 0;
	if (!tracer__counters(t, &c))
		drops = c.v[CT_CNT_DROPS];
	need = t->win_bytes * GROW_HORIZON_MS * 1000000ull / dt;
	if (t->ring_size < t->ring_max && (need > t->ring_size || drops > t->win_drops)) {
		size = t->ring_size * 2;
		while (size < need && size < t->ring_max)
			size *= 2;
		if (size > t->ring_max)
			size = t->ring_max;
		err = ring_grow(t, size);
		if (err) {
			/* no memory for it (locked memory, kernel): keep the ring we have */
			info("ring buffer: cannot grow to %zu bytes: %s; keeping %zu", size, strerror(-err),
			     t->ring_size);
			t->ring_max = t->ring_size;
		}
	}
	t->win_ns = ct_mono_ns();
	t->win_bytes = 0;
	t->win_drops = drops;
	return 0;
}

unsigned tracer__ring_grows(const struct tracer *t)
{
	return t ? t->grows : 0;
}

/* True when we run in the initial PID namespace, where the pids we are given are
 * the ones bpf_get_current_pid_tgid() returns. */
static bool in_init_pidns(void)
{
	char line[256];
	bool init = true;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "NSpid:", 6) == 0) {
			/* one pid per namespace level: more than one means nested */
			init = !strchr(line + 6 + strspn(line + 6, " \t"), '\t');
			break;
		}
	}
	if (f)
		fclose(f);
	return init;
}

static int set_config(struct ctxtrace_bpf *skel, int pid, const struct probe_plan *plan,
		      const struct go_offsets *off, uint64_t bias)
{
	struct ct_bpf_config *c = (struct ct_bpf_config *)&skel->rodata->cfg;
	const char *slow;

	if (off->v[GO_OFF_G_GOID] < 0 || off->v[GO_OFF_G_M] < 0 || off->v[GO_OFF_M_CURG] < 0 ||
	    off->v[GO_OFF_CANCELCTX_ERR] < 0) {
		ct_errmsg_set("cannot attach to pid %d: runtime struct offsets unknown for this Go version",
			      pid);
		return -EINVAL;
	}
	/* In a nested PID namespace the kernel's pid differs from ours; the attach
	 * links' own pid filter then does the filtering alone. */
	c->target_tgid = in_init_pidns() ? pid : 0;
	/* test-only: a slower hit, as on a machine whose trap costs that much more */
	slow = getenv("CTXTRACE_BENCH_HIT_NS");
	if (slow)
		c->bench_hit_ns = (__u32)strtoul(slow, NULL, 0);
	c->g_goid = off->v[GO_OFF_G_GOID];
	c->g_m = off->v[GO_OFF_G_M];
	c->m_curg = off->v[GO_OFF_M_CURG];
	c->ctx_err = off->v[GO_OFF_CANCELCTX_ERR];
	c->timer_deadline = off->v[GO_OFF_TIMERCTX_DEADLINE] >= 0 ? off->v[GO_OFF_TIMERCTX_DEADLINE] : 0;
	/* Go 1.20+ pass cancel(removeFromParent, err, cause); 1.19 has no cause. */
	c->cancel_has_cause = off->v[GO_OFF_CANCELCTX_CAUSE] >= 0;
	c->g_gopc = off->v[GO_OFF_G_GOPC] >= 0 ? off->v[GO_OFF_G_GOPC] : 0;
	c->g_startpc = off->v[GO_OFF_G_STARTPC] >= 0 ? off->v[GO_OFF_G_STARTPC] : 0;
	for (int i = 0; i < plan->n_done_skip && i < CT_DONE_SKIP_MAX; i++) {
		c->done_skip_lo[i] = plan->done_skip_lo[i] + bias;
		c->done_skip_hi[i] = plan->done_skip_hi[i] + bias;
	}
	return 0;
}

static struct ctxtrace_bpf *load(int pid, const struct probe_plan *plan, const struct go_offsets *off,
				 const struct tracer_opts *o, bool with_multi, int *errp)
{
	struct ctxtrace_bpf *skel;
	int err;

	skel = ctxtrace_bpf__open();
	if (!skel) {
		*errp = fail(pid, -errno, "cannot open the BPF object");
		return NULL;
	}
	err = set_config(skel, pid, plan, off, o->load_bias);
	if (err)
		goto cleanup;
	if (o->done_entries)
		bpf_map__set_max_entries(skel->maps.done_seen, o->done_entries);
	bpf_program__set_autoload(skel->progs.ctxtrace_empty, o->prog == TRACER_PROG_EMPTY);
	bpf_program__set_autoload(skel->progs.ctxtrace_multi, with_multi && o->prog == TRACER_PROG_FULL);
	bpf_program__set_autoload(skel->progs.ctxtrace_single,
				  o->attach != TRACER_ATTACH_MULTI && o->prog == TRACER_PROG_FULL);
	err = ctxtrace_bpf__load(skel);
	if (err) {
		err = fail(pid, err, "cannot load the BPF program");
		goto cleanup;
	}
	return skel;
cleanup:
	ctxtrace_bpf__destroy(skel);
	*errp = err;
	return NULL;
}

static int attach_multi(struct tracer *t, struct bpf_program *prog, const char *path,
			const unsigned long *offs, const __u64 *cookies, int n)
{
	LIBBPF_OPTS(bpf_uprobe_multi_opts, mo, .offsets = offs, .cookies = cookies, .cnt = n);
	struct bpf_link *l;

	l = bpf_program__attach_uprobe_multi(prog, t->pid, path, NULL, &mo);
	if (!l)
		return -errno;
	t->links[t->nlinks++] = l;
	t->mode = "uprobe_multi";
	return 0;
}

static int attach_single(struct tracer *t, struct bpf_program *prog, const char *path,
			 const unsigned long *offs, const __u64 *cookies, int n)
{
	int i, err;

	for (i = 0; i < n; i++) {
		LIBBPF_OPTS(bpf_uprobe_opts, uo, .bpf_cookie = cookies[i]);
		struct bpf_link *l;

		l = bpf_program__attach_uprobe_opts(prog, t->pid, path, offs[i], &uo);
		if (!l) {
			err = -errno;
			while (t->nlinks)
				bpf_link__destroy(t->links[--t->nlinks]);
			return err;
		}
		t->links[t->nlinks++] = l;
	}
	t->mode = "uprobe";
	return 0;
}

struct tracer *tracer__open(int pid, const struct probe_plan *plan, const struct go_offsets *off,
			    const struct tracer_opts *opts)
{
	static const struct tracer_opts no_opts;
	const struct tracer_opts *o = opts ? opts : &no_opts;
	unsigned long offs[PROBE_PLAN_MAX];
	__u64 cookies[PROBE_PLAN_MAX];
	char path[64];
	const char *exe;
	struct tracer *t;
	int i, n = 0, err;

	if (pid <= 0 || !plan || !off) {
		ct_errmsg_set("cannot attach to pid %d: invalid arguments", pid);
		errno = EINVAL;
		return NULL;
	}
	if (!pid_alive(pid)) {
		ct_errmsg_set("cannot attach to pid %d: no such process", pid);
		errno = ESRCH;
		return NULL;
	}
	for (i = 0; i < plan->n && i < PROBE_PLAN_MAX; i++) {
		const struct probe_site *s = &plan->sites[i];

		if (!probe_site__used(s, o->probes))
			continue;
		offs[n] = s->file_offset;
		cookies[n] = s->cookie ? s->cookie : (__u64)s->kind;
		n++;
	}
	if (!n) {
		ct_errmsg_set("cannot attach to pid %d: the probe plan has no site", pid);
		errno = EINVAL;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		errno = ENOMEM;
		return NULL;
	}
	t->pid = pid;
	t->ring_fd = -1;
	t->epfd = -1;
	/* The programs' own run time, for the cost estimate (tracer__prog_ns): the
	 * kernel counts it while someone holds this (2 clock reads per run). */
	t->stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	t->on_record = o->on_record;
	t->cookie = o->cookie;
	t->links = calloc(n, sizeof(*t->links));
	if (!t->links) {
		err = -ENOMEM;
		goto cleanup;
	}
	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	exe = o->exe_path ? o->exe_path : path;

	t->skel = load(pid, plan, off, o, o->attach != TRACER_ATTACH_SINGLE, &err);
	if (!t->skel && o->attach == TRACER_ATTACH_AUTO && err != -ESRCH && err != -EPERM) {
		/* A kernel before 6.6 rejects the uprobe.multi program at load. */
		verbose("uprobe_multi program rejected (%s); loading per-site uprobes", strerror(-err));
		t->skel = load(pid, plan, off, o, false, &err);
	}
	if (!t->skel)
		goto cleanup;
	err = ring_open(t, o);
	if (err)
		goto cleanup;

	if (o->prog == TRACER_PROG_EMPTY) {
		err = attach_single(t, t->skel->progs.ctxtrace_empty, exe, offs, cookies, n);
	} else {
		err = -EOPNOTSUPP;
		if (o->attach != TRACER_ATTACH_SINGLE && bpf_program__fd(t->skel->progs.ctxtrace_multi) >= 0)
			err = attach_multi(t, t->skel->progs.ctxtrace_multi, exe, offs, cookies, n);
		if (err && o->attach != TRACER_ATTACH_MULTI && err != -EPERM && err != -ESRCH) {
			if (o->attach == TRACER_ATTACH_AUTO)
				verbose("uprobe_multi attach failed (%s); attaching one uprobe per site",
					strerror(-err));
			err = attach_single(t, t->skel->progs.ctxtrace_single, exe, offs, cookies, n);
		}
	}
	if (err) {
		err = fail(pid, err, "cannot attach uprobes");
		goto cleanup;
	}
	t->nsites = n;
	snprintf(t->exe, sizeof(t->exe), "%s", exe);
	memcpy(t->offs, offs, n * sizeof(offs[0]));
	memcpy(t->cookies, cookies, n * sizeof(cookies[0]));
	t->multi = !strcmp(t->mode, "uprobe_multi");
	verbose("attached %d sites to pid %d with %s (probes=%s)", n, pid, t->mode, probe_mode_name(o->probes));

	return t;
cleanup:
	tracer__free(t);
	errno = -err;
	return NULL;
}

int tracer__poll(struct tracer *t, int timeout_ms)
{
	int n;

	/* The BPF side wakes us only when the ring fills up (a wakeup per record costs
	 * the target ~3 us), so records that came without one are collected here. */
	if (timeout_ms < 0 || timeout_ms > POLL_MAX_MS)
		timeout_ms = POLL_MAX_MS;
	n = ring_buffer__poll(t->rb, timeout_ms);
	if (n == 0 || n == -EINTR)
		n = ring_buffer__consume(t->rb);
	tracer__adapt(t);
	return n;
}

int tracer__consume(struct tracer *t)
{
	return ring_buffer__consume(t->rb);
}

int tracer__consume_n(struct tracer *t, int max)
{
	int err;

	t->limit = max > 0 ? max : 0;
	t->count = 0;
	err = ring_buffer__consume(t->rb);
	t->limit = 0;
	if (err == -EAGAIN)
		return t->count;
	return err;
}

int tracer__fd(const struct tracer *t)
{
	return t->epfd;
}

void tracer__ring_fill(const struct tracer *t, size_t *used, size_t *size)
{
	struct ring *r = t && t->rb ? ring_buffer__ring(t->rb, 0) : NULL;

	*used = r ? ring__avail_data_size(r) : 0;
	*size = r ? ring__size(r) : 0;
}

int tracer__counters(const struct tracer *t, struct tracer_counters *out)
{
	int ncpu = libbpf_num_possible_cpus(), fd, i, c;
	__u64 *vals;

	memset(out, 0, sizeof(*out));
	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	vals = calloc(ncpu, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	fd = bpf_map__fd(t->skel->maps.counters);
	for (i = 0; i < CT_CNT_MAX; i++) {
		__u32 key = i;

		if (bpf_map_lookup_elem(fd, &key, vals))
			continue;
		for (c = 0; c < ncpu; c++)
			out->v[i] += vals[c];
	}
	free(vals);
	return 0;
}

int tracer__set_attached(struct tracer *t, bool on)
{
	int err;

	if (on != t->detached)
		return 0;
	if (!on) {
		while (t->nlinks)
			bpf_link__destroy(t->links[--t->nlinks]);
		__atomic_store_n(&t->detached, true, __ATOMIC_RELEASE);
		return 0;
	}
	if (t->multi)
		err = attach_multi(t, t->skel->progs.ctxtrace_multi, t->exe, t->offs, t->cookies, t->nsites);
	else
		err = attach_single(t, t->skel->progs.ctxtrace_single, t->exe, t->offs, t->cookies, t->nsites);
	if (err)
		return fail(t->pid, err, "cannot attach uprobes again");
	__atomic_store_n(&t->detached, false, __ATOMIC_RELEASE);
	return 0;
}

bool tracer__attached(const struct tracer *t)
{
	return !__atomic_load_n(&t->detached, __ATOMIC_ACQUIRE);
}

int tracer__hits(const struct tracer *t, uint64_t *hits)
{
	int ncpu = libbpf_num_possible_cpus(), c;
	__u32 key = CT_CNT_HITS;
	__u64 vals[256];

	*hits = 0;
	if (ncpu <= 0 || ncpu > 256)
		return -EINVAL;
	if (bpf_map_lookup_elem(bpf_map__fd(t->skel->maps.counters), &key, vals))
		return -errno;
	for (c = 0; c < ncpu; c++)
		*hits += vals[c];
	return 0;
}

int tracer__prog_ns(const struct tracer *t, uint64_t *ns)
{
	struct bpf_program *progs[] = { t->skel->progs.ctxtrace_multi, t->skel->progs.ctxtrace_single };

	*ns = 0;
	if (t->stats_fd < 0)
		return -ENOTSUP;
	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		struct bpf_prog_info info;
		__u32 len = sizeof(info);
		int fd = bpf_program__fd(progs[i]);

		if (fd < 0)
			continue;
		memset(&info, 0, sizeof(info));
		if (bpf_prog_get_info_by_fd(fd, &info, &len))
			return -errno;
		*ns += info.run_time_ns;
	}
	return 0;
}

const char *tracer__attach_mode(const struct tracer *t)
{
	return t->mode ? t->mode : "none";
}

int tracer__nsites(const struct tracer *t)
{
	return t->nsites;
}

int tracer__prog_stats(const struct tracer *t, uint64_t *run_ns, uint64_t *run_cnt)
{
	struct bpf_program *progs[] = { t->skel->progs.ctxtrace_multi, t->skel->progs.ctxtrace_single,
					t->skel->progs.ctxtrace_empty };
	size_t i;

	*run_ns = *run_cnt = 0;
	for (i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		int fd = bpf_program__fd(progs[i]);

		if (fd < 0)
			continue;
		if (bpf_prog_get_info_by_fd(fd, &info, &len))
			return -errno;
		*run_ns += info.run_time_ns;
		*run_cnt += info.run_cnt;
	}
	return 0;
}

void tracer__free(struct tracer *t)
{
	if (!t)
		return;
	ring_buffer__free(t->rb);
	if (t->ring_fd >= 0)
		close(t->ring_fd);
	if (t->epfd >= 0)
		close(t->epfd);
	while (t->nlinks)
		bpf_link__destroy(t->links[--t->nlinks]);
	free(t->links);
	ctxtrace_bpf__destroy(t->skel);
	if (t->stats_fd >= 0)
		close(t->stats_fd);
	free(t);
}

#define CALIB_ROUNDS 20

/* The calibration site: a function of our own whose first instruction is the
 * push %rbp the kernel emulates at a Go 1.21+ prologue site. */
__asm__(".text\n"
	".globl ct_calib_site\n"
	".type ct_calib_site, @function\n"
	"ct_calib_site:\n"
	"\tpush %rbp\n"
	"\tmov %rsp, %rbp\n"
	"\tpop %rbp\n"
	"\tret\n"
	".size ct_calib_site, .-ct_calib_site\n");
void ct_calib_site(void);


/* The fastest of many short rounds of n calls: the least disturbed by other
 * work (a round preempted on a busy machine counts a whole time slice). */
static uint64_t time_calls(int n)
{
	uint64_t best = UINT64_MAX;

	for (int r = 0; r < CALIB_ROUNDS; r++) {
		uint64_t t0 = ct_mono_ns();

		for (int i = 0; i < n; i++)
			ct_calib_site();
		t0 = ct_mono_ns() - t0;
		if (t0 < best)
			best = t0;
	}
	return best;
}

/* File offset of a code address of this process, from /proc/self/maps. */
static int self_offset(uint64_t addr, unsigned long *off, char *path, size_t pathlen)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[PATH_MAX + 128];
	int err = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long lo, hi, fo;
		char perm[8];
		int n = 0;

		if (sscanf(line, "%llx-%llx %7s %llx %*s %*s %n", &lo, &hi, perm, &fo, &n) < 4)
			continue;
		if (addr < lo || addr >= hi)
			continue;
		*off = (unsigned long)(addr - lo + fo);
		snprintf(path, pathlen, "/proc/self/exe");
		err = 0;
		break;
	}
	fclose(f);
	return err;
}

int tracer__calibrate(int calls, double *ns_per_hit)
{
	LIBBPF_OPTS(bpf_uprobe_opts, uo);
	struct ctxtrace_bpf *skel;
	struct bpf_link *l = NULL;
	unsigned long off;
	char path[64];
	uint64_t plain, probed;
	int err;

	*ns_per_hit = 0;
	if (calls <= 0)
		calls = 1000;
	bpf_log__install();
	err = self_offset((uint64_t)(uintptr_t)ct_calib_site, &off, path, sizeof(path));
	if (err)
		return err;
	skel = ctxtrace_bpf__open();
	if (!skel)
		return -errno;
	bpf_map__set_max_entries(skel->maps.done_seen, 1);
	bpf_program__set_autoload(skel->progs.ctxtrace_multi, false);
	bpf_program__set_autoload(skel->progs.ctxtrace_single, false);
	err = ctxtrace_bpf__load(skel);
	if (err)
		goto cleanup;
	plain = time_calls(calls);
	l = bpf_program__attach_uprobe_opts(skel->progs.ctxtrace_empty, getpid(), path, off, &uo);
	if (!l) {
		err = -errno;
		goto cleanup;
	}
	probed = time_calls(calls);
	*ns_per_hit = probed > plain ? (double)(probed - plain) / calls : 0;
	err = 0;
cleanup:
	bpf_link__destroy(l);
	ctxtrace_bpf__destroy(skel);
	return err;
}
