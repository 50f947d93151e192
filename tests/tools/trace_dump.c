/* Attaches the tracer to a running Go process and prints the raw records, for
 * tests/e2e/probe_plan.sh and scripts/bench-probes.sh.
 *
 *	trace_dump [-v] [-q] [--empty] [--single|--multi] [--entry] [--check-detach]
 *		   [--exe FILE] [-d SECONDS] [-r BYTES] PID
 *
 * Prints "attached MODE NSITES" once the probes are in place, one line per record
 * (unless -q), and at the end (target exit, -d elapsed, SIGINT/SIGTERM):
 *	count ctx_create=N ctx_cancel=N value=N done=N go_create=N go_exit=N
 *	counters events=N drops=N read_errors=N stack_errors=N hits=N done_dedup=N
 * Every site of the plan is attached (--probes all).
 * --empty attaches an empty program instead; --entry moves every prologue site to
 * the function's first instruction (benchmarks only).
 * --check-detach reads each site's first byte in the target's memory before attach,
 * while attached and after tracer__free, and counts our BPF file descriptors after
 * free; prints "detach_check ok" or "detach_check FAIL: ..." lines. --exe builds the
 * plan from FILE instead of /proc/PID/exe (to test attach errors on a dead pid).
 * --stats enables BPF run-time statistics and prints "prog run_cnt=N run_ns=N
 * ns_per_run=X" (the program's own time, without the uprobe's). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "binary/goelf.h"
#include "binary/offsets.h"
#include "probes/probe_plan.h"
#include "probes/tracer.h"
#include "util/log.h"

static volatile sig_atomic_t stop;
static bool quiet;
static uint64_t nrec[CT_REC_GO_EXIT + 1];

static void on_sig(int sig)
{
	stop = 1;
}

static void print_stack(const __u64 *pcs, int n)
{
	int i;

	printf(" stack=");
	for (i = 0; i < n && i < CT_MAX_STACK; i++)
		printf("%s0x%llx", i ? "," : "", pcs[i]);
}

static void on_record(void *cookie, const void *data, size_t len)
{
	const struct ct_hdr *h = data;

	if (len < sizeof(*h))
		return;
	if (h->type <= CT_REC_GO_EXIT)
		nrec[h->type]++;
	if (quiet)
		return;
	printf("rec type=%u probe=%u pid=%u tid=%u goid=%llu", h->type, h->probe, h->pid, h->tid,
	       h->goid);
	switch (h->type) {
	case CT_REC_CTX_CREATE: {
		const struct ct_ctx_create *r = data;
		printf(" ctx_create ctx=0x%llx parent=0x%llx:0x%llx child=0x%llx"
		       ":0x%llx", r->ctx, r->parent.tab, r->parent.data, r->child.tab, r->child.data);
		print_stack(r->stack, h->nstack);
		break;
	}
	case CT_REC_CTX_CANCEL: {
		const struct ct_ctx_cancel *r = data;
		printf(" ctx_cancel ctx=0x%llx err=0x%llx:0x%llx cause=0x%llx"
		       ":0x%llx already=0x%llx remove=%u timer=%u",
		       r->ctx, r->err.tab, r->err.data, r->cause.tab, r->cause.data, r->already_err,
		       r->remove_from_parent, r->timer);
		print_stack(r->stack, h->nstack);
		break;
	}
	case CT_REC_VALUE_CREATE: {
		const struct ct_value_create *r = data;
		printf(" value parent=0x%llx:0x%llx key=0x%llx:0x%llx"
		       " val=0x%llx:0x%llx", r->parent.tab, r->parent.data, r->key.tab,
		       r->key.data, r->val.tab, r->val.data);
		print_stack(r->stack, h->nstack);
		break;
	}
	case CT_REC_CTX_DONE: {
		const struct ct_ctx_done *r = data;
		printf(" done ctx=0x%llx pc=0x%llx", r->ctx, r->pc);
		break;
	}
	case CT_REC_GO_CREATE: {
		const struct ct_go_create *r = data;
		printf(" go_create new_goid=%llu gopc=0x%llx startpc=0x%llx g=0x%llx",
		       r->new_goid, r->gopc, r->startpc, r->g);
		break;
	}
	case CT_REC_GO_EXIT: {
		const struct ct_go_exit *r = data;
		printf(" go_exit g=0x%llx", r->g);
		break;
	}
	}
	printf(" len=%zu\n", len);
}

/* Runtime address of a file offset of /proc/PID/exe, from /proc/PID/maps. */
static uint64_t runtime_addr(int pid, uint64_t file_off)
{
	char path[64], line[512], exe[4096], self[4096];
	uint64_t lo, hi, off, addr = 0;
	ssize_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	if (n <= 0)
		return 0;
	exe[n] = 0;
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %*s %" SCNx64 " %*s %*s %4095s", &lo, &hi, &off,
			   self) != 4 || strcmp(self, exe))
			continue;
		if (file_off >= off && file_off < off + (hi - lo)) {
			addr = lo + (file_off - off);
			break;
		}
	}
	fclose(f);
	return addr;
}

static int read_target_byte(int pid, uint64_t addr)
{
	char path[64];
	uint8_t b;
	int fd, n;

	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = pread(fd, &b, 1, addr);
	close(fd);
	return n == 1 ? b : -1;
}

static int count_bpf_fds(void)
{
	char p[300], l[256];
	struct dirent *de;
	int n = 0;
	DIR *d = opendir("/proc/self/fd");

	while (d && (de = readdir(d))) {
		ssize_t k;

		snprintf(p, sizeof(p), "/proc/self/fd/%s", de->d_name);
		k = readlink(p, l, sizeof(l) - 1);
		if (k > 0) {
			l[k] = 0;
			n += strncmp(l, "anon_inode:bpf", 14) == 0;
		}
	}
	if (d)
		closedir(d);
	return n;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "empty", no_argument, NULL, 'E' },  { "single", no_argument, NULL, 'S' },
		{ "multi", no_argument, NULL, 'M' },  { "entry", no_argument, NULL, 'F' },
		{ "check-detach", no_argument, NULL, 'C' },
		{ "exe", required_argument, NULL, 'X' },
		{ "stats", no_argument, NULL, 'T' },
		{ "duration", required_argument, NULL, 'd' }, { "ringbuf", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	/* every site: this tool tests the tracer and each probe (docs/events.md, probe modes) */
	struct tracer_opts o = { .on_record = on_record, .probes = PROBES_ALL };
	struct tracer_counters c;
	struct go_offsets off;
	struct probe_plan plan;
	struct tracer *t = NULL;
	struct goelf *ge = NULL;
	bool entry = false, check = false;
	const char *exe_arg = NULL;
	bool stats = false;
	int stats_fd = -1;
	uint64_t run_ns, run_cnt;
	uint64_t raddr[PROBE_PLAN_MAX] = { 0 };
	int orig[PROBE_PLAN_MAX];
	double duration = 0, t0;
	char exe[64];
	int opt, pid, i, err, rc = 1;

	while ((opt = getopt_long(argc, argv, "vqd:r:", lopts, NULL)) != -1) {
		switch (opt) {
		case 'v': ct_verbosity++; break;
		case 'q': quiet = true; break;
		case 'E': o.prog = TRACER_PROG_EMPTY; break;
		case 'S': o.attach = TRACER_ATTACH_SINGLE; break;
		case 'M': o.attach = TRACER_ATTACH_MULTI; break;
		case 'F': entry = true; break;
		case 'C': check = true; break;
		case 'X': exe_arg = optarg; break;
		case 'T': stats = true; break;
		case 'd': duration = atof(optarg); break;
		case 'r': o.ringbuf_bytes = strtoull(optarg, NULL, 0); break;
		default: return 2;
		}
	}
	if (optind + 1 != argc || (pid = atoi(argv[optind])) <= 0) {
		fprintf(stderr, "usage: trace_dump [-v] [-q] [--empty] [--single|--multi] [--entry] "
				"[-d SECONDS] [-r BYTES] PID\n");
		return 2;
	}
	snprintf(exe, sizeof(exe), "/proc/%d/exe", pid);
	ge = goelf__open(exe_arg ? exe_arg : exe);
	if (!ge) {
		fprintf(stderr, "trace_dump: %s\n", ct_errmsg());
		return 1;
	}
	err = probe_plan__build(ge, &plan);
	if (!err)
		err = offsets__resolve(ge, &off);
	if (err) {
		fprintf(stderr, "trace_dump: %s\n", ct_errmsg());
		goto cleanup;
	}
	for (i = 0; entry && i < plan.n; i++) {
		struct probe_site *s = &plan.sites[i];

		if (s->status != PROBE_OK || s->kind == CT_PROBE_GO_START)
			continue;
		s->file_offset -= s->insn_offset;
		s->addr = s->func_addr;
		s->insn_offset = 0;
		s->cookie &= ~CT_COOKIE_AT_BRANCH;
	}
	if (stats && (stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME)) < 0) {
		fprintf(stderr, "trace_dump: cannot enable BPF run-time statistics: %s\n", strerror(errno));
		goto cleanup;
	}
	signal(SIGINT, on_sig);
	signal(SIGTERM, on_sig);
	for (i = 0; check && i < plan.n; i++) {
		if (!probe_site__used(&plan.sites[i], o.probes))
			continue;
		raddr[i] = runtime_addr(pid, plan.sites[i].file_offset);
		orig[i] = raddr[i] ? read_target_byte(pid, raddr[i]) : -1;
		if (orig[i] < 0)
			printf("detach_check FAIL: cannot read %s's site in the target\n", plan.sites[i].role);
	}
	t = tracer__open(pid, &plan, &off, &o);
	if (!t) {
		fprintf(stderr, "trace_dump: %s\n", ct_errmsg());
		goto cleanup;
	}
	for (i = 0; check && i < plan.n; i++) {
		int b;

		if (!raddr[i])
			continue;
		b = read_target_byte(pid, raddr[i]);
		if (b != 0xcc)
			printf("detach_check FAIL: %s: byte 0x%02x while attached, expected int3\n",
			       plan.sites[i].role, b & 0xff);
	}
	printf("attached %s %d\n", tracer__attach_mode(t), tracer__nsites(t));
	fflush(stdout);
	t0 = now();
	while (!stop && (!duration || now() - t0 < duration)) {
		err = tracer__poll(t, 100);
		if (err < 0) {
			fprintf(stderr, "trace_dump: poll: %s\n", strerror(-err));
			goto cleanup;
		}
		if (kill(pid, 0) && errno == ESRCH)
			break;
	}
	tracer__consume(t);
	printf("count ctx_create=%" PRIu64 " ctx_cancel=%" PRIu64 " value=%" PRIu64 " done=%" PRIu64
	       " go_create=%" PRIu64 " go_exit=%" PRIu64 "\n",
	       nrec[CT_REC_CTX_CREATE], nrec[CT_REC_CTX_CANCEL], nrec[CT_REC_VALUE_CREATE],
	       nrec[CT_REC_CTX_DONE], nrec[CT_REC_GO_CREATE], nrec[CT_REC_GO_EXIT]);
	tracer__counters(t, &c);
	printf("counters events=%" PRIu64 " drops=%" PRIu64 " read_errors=%" PRIu64 " stack_errors=%" PRIu64
	       " hits=%" PRIu64 " done_dedup=%" PRIu64 "\n",
	       c.v[CT_CNT_EVENTS], c.v[CT_CNT_DROPS], c.v[CT_CNT_READ_ERRORS], c.v[CT_CNT_STACK_ERRORS],
	       c.v[CT_CNT_HITS], c.v[CT_CNT_DONE_DEDUP]);
	if (stats && !tracer__prog_stats(t, &run_ns, &run_cnt))
		printf("prog run_cnt=%" PRIu64 " run_ns=%" PRIu64 " ns_per_run=%.1f\n", run_cnt, run_ns,
		       run_cnt ? (double)run_ns / run_cnt : 0.0);
	rc = 0;
	if (check) {
		int bad = 0, fds;

		tracer__free(t);
		t = NULL;
		for (i = 0; i < plan.n; i++) {
			int b;

			if (!raddr[i] || kill(pid, 0))
				continue;
			b = read_target_byte(pid, raddr[i]);
			if (b != orig[i]) {
				printf("detach_check FAIL: %s: byte 0x%02x after free, expected 0x%02x\n",
				       plan.sites[i].role, b & 0xff, orig[i] & 0xff);
				bad++;
			}
		}
		fds = count_bpf_fds();
		if (fds) {
			printf("detach_check FAIL: %d BPF file descriptors left after free\n", fds);
			bad++;
		}
		if (!bad)
			printf("detach_check ok\n");
	}
cleanup:
	tracer__free(t);
	goelf__free(ge);
	if (stats_fd >= 0)
		close(stats_fd);
	return rc;
}
