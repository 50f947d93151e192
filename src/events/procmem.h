/* Reading a target's memory, read-only: process_vm_readv, falling back to
 * /proc/PID/mem. Never writes. A callback backend stands in for a process in tests. */
#ifndef CT_PROCMEM_H
#define CT_PROCMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct procmem;

typedef int (*procmem_read_fn)(void *cookie, uint64_t addr, void *buf, size_t len);

struct pm_map {
	uint64_t start, end, pgoff;
	bool r, w, x;
	bool exe; /* backed by the process's executable (same device and inode) */
};

/* NULL with errno and ct_errmsg() when the process does not exist or cannot be read. */
struct procmem *procmem__open(int pid);
/* read returns 0 when all len bytes were read, else -errno. */
struct procmem *procmem__open_cb(procmem_read_fn read, void *cookie);
void procmem__free(struct procmem *pm);

/* Where to read once the process is gone: the executable's file image (addr is a
 * runtime address). Records queued before the exit still get their type names. */
typedef const void *(*procmem_image_fn)(void *cookie, uint64_t addr, size_t len);
void procmem__set_image(struct procmem *pm, procmem_image_fn at, void *cookie);

int procmem__pid(const struct procmem *pm); /* 0 for a callback backend */

/* 0 when all len bytes were read; -EFAULT when part is unmapped, -ESRCH when the
 * process is gone, -errno otherwise. */
int procmem__read(struct procmem *pm, uint64_t addr, void *buf, size_t len);
int procmem__read_u64(struct procmem *pm, uint64_t addr, uint64_t *v);
/* len bytes at each of n addresses into bufs (n * len bytes), with as few system
 * calls as the kernel allows (one per 1024); errs[i]: 0 or -errno for each.
 * Returns how many were read. */
int procmem__read_many(struct procmem *pm, const uint64_t *addrs, int n, size_t len, void *bufs, int *errs);
/* A Go string {ptr, len} at addr, copied into buf (NUL-terminated, truncated to size).
 * Returns the string's full length or -errno. */
int procmem__read_gostring(struct procmem *pm, uint64_t addr, char *buf, size_t size);

/* Mappings from /proc/PID/maps, at most max; returns the count or -errno. */
int procmem__maps(struct procmem *pm, struct pm_map *out, int max);
/* Load bias of the executable: runtime address minus link-time address, from the
 * mapping holding file offset file_off, which the ELF places at link-time vaddr. */
int procmem__exe_bias(struct procmem *pm, uint64_t vaddr, uint64_t file_off, uint64_t *bias);

struct procmem_stats {
	uint64_t reads, read_errors, bytes;
};
void procmem__stats(const struct procmem *pm, struct procmem_stats *st);

#endif
