#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#define JSON_MAX_DEPTH 64

struct json_w {
	FILE *out;
	bool pretty;
	int depth;
	bool first[JSON_MAX_DEPTH];
	bool after_key;
};

struct json_w *json_w__new(FILE *out, bool pretty)
{
	struct json_w *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->out = out;
	w->pretty = pretty;
	w->first[0] = true;
	return w;
}

void json_w__free(struct json_w *w)
{
	free(w);
}

static void indent(struct json_w *w)
{
	fputc('\n', w->out);
	for (int i = 0; i < w->depth; i++)
		fputs("  ", w->out);
}

/* Comma and indentation before a value or key. */
static void sep(struct json_w *w)
{
	if (w->after_key) {
		w->after_key = false;
		return;
	}
	if (w->depth > 0) {
		if (!w->first[w->depth])
			fputc(',', w->out);
		if (w->pretty)
			indent(w);
	}
	w->first[w->depth] = false;
}

static void open(struct json_w *w, char c)
{
	sep(w);
	fputc(c, w->out);
	if (w->depth < JSON_MAX_DEPTH - 1)
		w->depth++;
	w->first[w->depth] = true;
}

static void close_(struct json_w *w, char c)
{
	bool empty = w->first[w->depth];

	if (w->depth > 0)
		w->depth--;
	if (w->pretty && !empty)
		indent(w);
	fputc(c, w->out);
}

void json_w__obj_open(struct json_w *w) { open(w, '{'); }
void json_w__obj_close(struct json_w *w) { close_(w, '}'); }
void json_w__arr_open(struct json_w *w) { open(w, '['); }
void json_w__arr_close(struct json_w *w) { close_(w, ']'); }

/* Length of the valid UTF-8 sequence at s (1-4), or 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

size_t json_escape(char *buf, size_t size, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t o = 0;
	char tmp[8];

#define PUT(p, l)                                           \
	do {                                                \
		for (size_t k_ = 0; k_ < (l); k_++) {       \
			if (o + 1 < size)                   \
				buf[o] = (p)[k_];           \
			o++;                                \
		}                                           \
	} while (0)

	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		size_t l;

		if (c == '"') {
			PUT("\\\"", 2);
		} else if (c == '\\') {
			PUT("\\\\", 2);
		} else if (c == '\n') {
			PUT("\\n", 2);
		} else if (c == '\t') {
			PUT("\\t", 2);
		} else if (c == '\r') {
			PUT("\\r", 2);
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(tmp, sizeof(tmp), "\\u%04x", c);
			PUT(tmp, 6);
		} else if (c < 0x80) {
			PUT((const char *)&s[i], 1);
		} else if ((l = utf8_len(&s[i], n - i)) > 0) {
			PUT((const char *)&s[i], l);
			i += l;
			continue;
		} else {
			PUT("\\ufffd", 6);
		}
		i++;
	}
#undef PUT
	if (size)
		buf[o < size ? o : size - 1] = '\0';
	return o;
}

void json_w__strn(struct json_w *w, const char *s, size_t n)
{
	char small[256];
	size_t need;

	sep(w);
	fputc('"', w->out);
	need = json_escape(small, sizeof(small), s, n);
	if (need < sizeof(small)) {
		fwrite(small, 1, need, w->out);
	} else {
		char *big = malloc(need + 1);

		if (big) {
			json_escape(big, need + 1, s, n);
			fwrite(big, 1, need, w->out);
			free(big);
		}
	}
	fputc('"', w->out);
}

void json_w__str(struct json_w *w, const char *s)
{
	if (!s) {
		json_w__null(w);
		return;
	}
	json_w__strn(w, s, strlen(s));
}

void json_w__key(struct json_w *w, const char *key)
{
	json_w__str(w, key);
	fputc(':', w->out);
	if (w->pretty)
		fputc(' ', w->out);
	w->after_key = true;
}

void json_w__int(struct json_w *w, int64_t v)
{
	sep(w);
	fprintf(w->out, "%" PRId64, v);
}

void json_w__uint(struct json_w *w, uint64_t v)
{
	sep(w);
	fprintf(w->out, "%" PRIu64, v);
}

void json_w__hex(struct json_w *w, uint64_t v)
{
	sep(w);
	fprintf(w->out, "\"0x%" PRIx64 "\"", v);
}

void json_w__double(struct json_w *w, double v)
{
	sep(w);
	if (isfinite(v))
		fprintf(w->out, "%.9g", v);
	else
		fputs("null", w->out);
}

void json_w__bool(struct json_w *w, bool v)
{
	sep(w);
	fputs(v ? "true" : "false", w->out);
}

void json_w__null(struct json_w *w)
{
	sep(w);
	fputs("null", w->out);
}

void json_w__kv_str(struct json_w *w, const char *k, const char *v) { json_w__key(w, k); json_w__str(w, v); }
void json_w__kv_int(struct json_w *w, const char *k, int64_t v) { json_w__key(w, k); json_w__int(w, v); }
void json_w__kv_uint(struct json_w *w, const char *k, uint64_t v) { json_w__key(w, k); json_w__uint(w, v); }
void json_w__kv_hex(struct json_w *w, const char *k, uint64_t v) { json_w__key(w, k); json_w__hex(w, v); }
void json_w__kv_double(struct json_w *w, const char *k, double v) { json_w__key(w, k); json_w__double(w, v); }
void json_w__kv_bool(struct json_w *w, const char *k, bool v) { json_w__key(w, k); json_w__bool(w, v); }
