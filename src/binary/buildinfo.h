/* The .go.buildinfo blob: Go version and module info, in both layouts. Works on
 * bytes alone so that tests and fuzzers can feed it crafted input. */
#ifndef CT_BUILDINFO_H
#define CT_BUILDINFO_H

#include <stddef.h>
#include <stdint.h>

struct go_buildinfo;

/* Returns a pointer to len file-backed bytes at vaddr, or NULL. */
typedef const void *(*buildinfo_read_fn)(void *ctx, uint64_t vaddr, size_t len);

/* Parses the section's bytes. The old pointer layout (before Go 1.18) needs read
 * to follow pointers; it may be NULL, then only the inline layout parses.
 * 0, or -EINVAL/-ENOTSUP with ct_errmsg() set. */
int buildinfo__parse(const uint8_t *sec, size_t size, buildinfo_read_fn read, void *ctx,
		     struct go_buildinfo *out);

/* "go1.26.11", "go1.21rc2", "go1.23.5 X:nocoverageredesign", "devel go1.24-abc ...":
 * 0, or -EINVAL when no "go1.N" is found. */
int buildinfo__parse_version(const char *s, int *major, int *minor, int *patch);

/* The modinfo text ("path\t...\nmod\t...\nbuild\tk=v\n"), sentinels already stripped. */
void buildinfo__parse_modinfo(const char *s, size_t n, struct go_buildinfo *out);

#endif
