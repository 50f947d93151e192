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
#include "util/clock.h"
#include "util/log.h"

#define NR_MAX CT_SYSCALL_NR_MAX

struct systrace {
	struct syscalls_bpf *skel;
	int pid;
	int map_fd;
	/* The budget's duty cycle detaches the tracepoints too (systrace__set_attached,
	 * its own thread): while detached, and for calls entered before the last
	 * re-attach, the map may be stale (the exit was not seen): /proc says. */
	bool detached;
	uint64_t reattached_ns;
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

int systrace__set_attached(struct systrace *st, bool on)
{
	int err;

	if (!st || on != __atomic_load_n(&st->detached, __ATOMIC_ACQUIRE))
		return 0;
	if (!on) {
		syscalls_bpf__detach(st->skel);
		__atomic_store_n(&st->detached, true, __ATOMIC_RELEASE);
		return 0;
	}
	err = syscalls_bpf__attach(st->skel);
	if (err)
		return err;
	__atomic_store_n(&st->reattached_ns, ct_mono_ns(), __ATOMIC_RELEASE);
	__atomic_store_n(&st->detached, false, __ATOMIC_RELEASE);
	return 0;
}

int systrace__lookup(struct systrace *st, uint32_t tid, int *nr, uint64_t *since_ns)
{
	struct ct_syscall v;

	if (st && st->map_fd > 0 && bpf_map_lookup_elem(st->map_fd, &tid, &v) == 0) {
		bool detached = __atomic_load_n(&st->detached, __ATOMIC_ACQUIRE);
		uint64_t back = __atomic_load_n(&st->reattached_ns, __ATOMIC_ACQUIRE);
		int now_nr;

		*nr = v.nr;
		*since_ns = v.since_ns;
		if (!detached && v.since_ns >= back)
			return 0;
		/* its exit may have fallen in a gap: the same call if /proc says so */
		if (syscall_of_thread(st->pid, tid, &now_nr))
			return -ENOENT;
		if (now_nr != v.nr)
			*since_ns = 0;
		*nr = now_nr;
		return 0;
	}
	*since_ns = 0;
	return syscall_of_thread(st ? st->pid : 0, tid, nr);
}
