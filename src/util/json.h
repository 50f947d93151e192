/* A streaming JSON writer. Strings are escaped completely: every byte below 0x20,
 * '"' and '\\'; invalid UTF-8 bytes become U+FFFD. */
#ifndef CT_JSON_H
#define CT_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct json_w;

struct json_w *json_w__new(FILE *out, bool pretty);
void json_w__free(struct json_w *w);

void json_w__obj_open(struct json_w *w);
void json_w__obj_close(struct json_w *w);
void json_w__arr_open(struct json_w *w);
void json_w__arr_close(struct json_w *w);
void json_w__key(struct json_w *w, const char *key);

void json_w__str(struct json_w *w, const char *s); /* NULL writes null */
void json_w__strn(struct json_w *w, const char *s, size_t n);
void json_w__int(struct json_w *w, int64_t v);
void json_w__uint(struct json_w *w, uint64_t v);
void json_w__hex(struct json_w *w, uint64_t v); /* "0x..." string */
void json_w__double(struct json_w *w, double v);
void json_w__bool(struct json_w *w, bool v);
void json_w__null(struct json_w *w);

void json_w__kv_str(struct json_w *w, const char *k, const char *v);
void json_w__kv_int(struct json_w *w, const char *k, int64_t v);
void json_w__kv_uint(struct json_w *w, const char *k, uint64_t v);
void json_w__kv_hex(struct json_w *w, const char *k, uint64_t v);
void json_w__kv_double(struct json_w *w, const char *k, double v);
void json_w__kv_bool(struct json_w *w, const char *k, bool v);

/* One object with the members `members` writes, as a malloc'd string without a
 * newline; NULL on ENOMEM. */
char *json_w__object_str(void (*members)(struct json_w *w, const void *arg), const void *arg);

/* The string member key of the one JSON object doc is (surrounding whitespace
 * allowed), unescaped into out (NUL-terminated, truncated to size; \u0000
 * ends it early). 0; -ENOENT when the object has no such string member;
 * -EINVAL when doc is not exactly one valid JSON object. */
int json_r__str_member(const char *doc, const char *key, char *out, size_t size);

/* Escape s into buf (NUL-terminated, truncated to size); returns bytes needed. */
size_t json_escape(char *buf, size_t size, const char *s, size_t n);

#endif
