/* Thread -> current system call, from the BPF side (see systrace.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "probes/systrace.h"
#include "syscalls.h"
#include "syscalls.skel.h"
#include "util/log.h"

#define NR_MAX CT_SYSCALL_NR_MAX

struct systrace {
	struct syscalls_bpf *skel;
	int pid;
	int map_fd;
};

struct systrace *systrace__open(int pid)
{
	struct systrace *st = calloc(1, sizeof(*st));
	int err;

	if (!st) {
		ct_errmsg_set("cannot trace syscalls of pid %d: out of memory", pid);
		errno = ENOMEM;
		return NULL;
	}
	st->pid = pid;
	st->skel = syscalls_bpf__open();
	if (!st->skel) {
		err = -errno;
		ct_errmsg_set("cannot trace syscalls of pid %d: cannot open the BPF program: %s", pid,
			      strerror(-err));
		goto cleanup;
	}
	st->skel->rodata->target_tgid = (uint32_t)pid;
	for (int nr = 0; nr < NR_MAX; nr++) {
		if (syscall_blocking(nr))
			st->skel->rodata->blocking[nr / 64] |= 1ULL << (nr % 64);
	}
	err = syscalls_bpf__load(st->skel);
	if (err) {
		ct_errmsg_set("cannot trace syscalls of pid %d: cannot load the BPF program: %s%s", pid,
			      strerror(-err), err == -EPERM ? " (needs CAP_BPF and CAP_PERFMON)" : "");
		goto cleanup;
	}
	err = syscalls_bpf__attach(st->skel);
	if (err) {
		ct_errmsg_set("cannot trace syscalls of pid %d: cannot attach to sys_enter/sys_exit: %s",
			      pid, strerror(-err));
		goto cleanup;
	}
	st->map_fd = bpf_map__fd(st->skel->maps.in_syscall);
	return st;
cleanup:
	systrace__free(st);
	errno = -err;
	return NULL;
}

void systrace__free(struct systrace *st)
{
	if (!st)
		return;
	syscalls_bpf__destroy(st->skel);
	free(st);
}

int systrace__lookup(struct systrace *st, uint32_t tid, int *nr, uint64_t *since_ns)
{
	struct ct_syscall v;

	if (st && st->map_fd > 0 && bpf_map_lookup_elem(st->map_fd, &tid, &v) == 0) {
		*nr = v.nr;
		*since_ns = v.since_ns;
		return 0;
	}
	*since_ns = 0;
	return syscall_of_thread(st ? st->pid : 0, tid, nr);
}
