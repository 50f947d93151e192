/* Small text formatters every output shares. */
#ifndef CT_UTIL_FMT_H
#define CT_UTIL_FMT_H

#include <stddef.h>
#include <stdint.h>

/* The last component of a path ("main.go" of "/src/app/main.go"); "?" for NULL. */
const char *file_base(const char *path);
/* A duration for people, rounded: "450us", "450ms", "3.2s", "2m5s", "1h20m".
 * (Exact and parseable back: format_duration in util/settings.h.) */
void fmt_duration(char *buf, size_t size, uint64_t ns);

/* Enum names from a table indexed by value: names[v] when v < n and set, else dflt. */
const char *enum_name(const char *const *names, size_t n, unsigned v, const char *dflt);
/* The value whose name is s, or -1. */
int enum_parse(const char *const *names, size_t n, const char *s);

#endif
