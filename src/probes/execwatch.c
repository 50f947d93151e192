#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "probes/execwatch.h"
#include "exec.h"
#include "exec.skel.h"
#include "util/log.h"

struct execwatch {
	struct exec_bpf *skel;
	struct ring_buffer *rb;
	execwatch_fn fn;
	void *cookie;
	int ncpus;
};

static int on_record(void *ctx, void *data, size_t len)
{
	struct execwatch *w = ctx;
	const struct exec_rec *r = data;
	char name[EXEC_FILENAME_MAX + 1];

	if (len < sizeof(*r) || r->type != 1)
		return 0;
	memcpy(name, r->filename, EXEC_FILENAME_MAX);
	name[EXEC_FILENAME_MAX] = '\0';
	w->fn(w->cookie, (int)r->pid, name);
	return 0;
}

struct execwatch *execwatch__open(execwatch_fn fn, void *cookie)
{
	struct execwatch *w = calloc(1, sizeof(*w));
	int err;

	if (!w) {
		ct_errmsg_set("cannot watch execs: out of memory");
		errno = ENOMEM;
		return NULL;
	}
	w->fn = fn;
	w->cookie = cookie;
	w->ncpus = libbpf_num_possible_cpus();
	if (w->ncpus <= 0) {
		err = w->ncpus ? w->ncpus : -EINVAL;
		ct_errmsg_set("cannot watch execs: cannot count CPUs: %s", strerror(-err));
		goto cleanup;
	}
	w->skel = exec_bpf__open();
	if (!w->skel) {
		err = -errno;
		ct_errmsg_set("cannot watch execs: cannot open the BPF program: %s", strerror(-err));
		goto cleanup;
	}
	err = exec_bpf__load(w->skel);
	if (err) {
		ct_errmsg_set("cannot watch execs: cannot load the BPF program: %s%s", strerror(-err),
			      err == -EPERM ? " (needs CAP_BPF and CAP_PERFMON)" : "");
		goto cleanup;
	}
	err = exec_bpf__attach(w->skel);
	if (err) {
		ct_errmsg_set("cannot watch execs: cannot attach to sched_process_exec: %s%s", strerror(-err),
			      err == -EPERM ? " (needs CAP_BPF and CAP_PERFMON)" : "");
		goto cleanup;
	}
	w->rb = ring_buffer__new(bpf_map__fd(w->skel->maps.exec_events), on_record, w, NULL);
	if (!w->rb) {
		err = -errno;
		ct_errmsg_set("cannot watch execs: cannot map the ring buffer: %s", strerror(-err));
		goto cleanup;
	}
	return w;
cleanup:
	execwatch__free(w);
	errno = -err;
	return NULL;
}

int execwatch__fd(const struct execwatch *w)
{
	return ring_buffer__epoll_fd(w->rb);
}

int execwatch__consume(struct execwatch *w)
{
	return ring_buffer__consume(w->rb);
}

void execwatch__counters(const struct execwatch *w, uint64_t *seen, uint64_t *lost)
{
	uint64_t vals[w->ncpus > 0 ? w->ncpus : 1];
	int fd = bpf_map__fd(w->skel->maps.exec_counters);

	*seen = *lost = 0;
	for (uint32_t k = 0; k < EXEC_CNT_MAX; k++) {
		uint64_t sum = 0;

		memset(vals, 0, sizeof(vals));
		if (bpf_map_lookup_elem(fd, &k, vals))
			continue;
		for (int c = 0; c < w->ncpus; c++)
			sum += vals[c];
		if (k == EXEC_CNT_SEEN)
			*seen = sum;
		else if (k == EXEC_CNT_LOST)
			*lost = sum;
	}
}

void execwatch__free(struct execwatch *w)
{
	if (!w)
		return;
	ring_buffer__free(w->rb);
	exec_bpf__destroy(w->skel);
	free(w);
}
