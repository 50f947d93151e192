/* Opening the files the tools read: only regular files of a sane size, so that
 * a FIFO, a device or a /proc file can neither block nor feed them forever. */
#ifndef CT_FILE_H
#define CT_FILE_H

#include <stdint.h>
#include <stdio.h>

/* Opens path read-only without blocking (a FIFO's open waits for a writer),
 * refuses anything but a regular file, and files larger than max_size (0: any).
 * The fd, or -errno with ct_errmsg() = "a FIFO, not a regular file",
 * "4.0 GB, more than the 1 MB a config may be", or strerror. *size: st_size. */
int file_open_regular(const char *path, uint64_t max_size, uint64_t *size);
/* The same as a stdio stream ("r" or "rb"); NULL with errno and ct_errmsg(). */
FILE *file_fopen_regular(const char *path, uint64_t max_size);

#endif
