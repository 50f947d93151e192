#include <errno.h>
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

char *json_w__object_str(void (*members)(struct json_w *w, const void *arg), const void *arg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct json_w *w;

	if (!f)
		return NULL;
	w = json_w__new(f, false);
	if (w) {
		json_w__obj_open(w);
		members(w, arg);
		json_w__obj_close(w);
		json_w__free(w);
	}
	if (fclose(f) || !w) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* ---- reader: enough JSON to read the daemon's own replies ---- */

struct json_r {
	const char *p;
	int depth;
};

static void ws(struct json_r *r)
{
	while (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r')
		r->p++;
}

static int hex4(const char *s, uint32_t *cp)
{
	*cp = 0;
	for (int i = 0; i < 4; i++) {
		char c = s[i];

		*cp <<= 4;
		if (c >= '0' && c <= '9')
			*cp |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			*cp |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			*cp |= (uint32_t)(c - 'A' + 10);
		else
			return -EINVAL;
	}
	return 0;
}

/* Appends one byte to out (size bytes, NUL kept), counting what did not fit. */
static void put(char *out, size_t size, size_t *o, char c)
{
	if (out && *o + 1 < size)
		out[*o] = c;
	(*o)++;
}

static void put_utf8(char *out, size_t size, size_t *o, uint32_t cp)
{
	if (cp < 0x80) {
		put(out, size, o, (char)cp);
	} else if (cp < 0x800) {
		put(out, size, o, (char)(0xc0 | (cp >> 6)));
		put(out, size, o, (char)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		put(out, size, o, (char)(0xe0 | (cp >> 12)));
		put(out, size, o, (char)(0x80 | ((cp >> 6) & 0x3f)));
		put(out, size, o, (char)(0x80 | (cp & 0x3f)));
	} else {
		put(out, size, o, (char)(0xf0 | (cp >> 18)));
		put(out, size, o, (char)(0x80 | ((cp >> 12) & 0x3f)));
		put(out, size, o, (char)(0x80 | ((cp >> 6) & 0x3f)));
		put(out, size, o, (char)(0x80 | (cp & 0x3f)));
	}
}

/* A string at r->p, unescaped into out (NULL: skipped). */
static int read_str(struct json_r *r, char *out, size_t size)
{
	size_t o = 0;

	if (*r->p != '"')
		return -EINVAL;
	for (r->p++; *r->p != '"'; r->p++) {
		unsigned char c = (unsigned char)*r->p;
		uint32_t cp, lo;

		if (c < 0x20)
			return -EINVAL; /* the NUL at the end included */
		if (c != '\\') {
			put(out, size, &o, (char)c);
			continue;
		}
		r->p++;
		switch (*r->p) {
		case '"': case '\\': case '/': put(out, size, &o, *r->p); break;
		case 'b': put(out, size, &o, '\b'); break;
		case 'f': put(out, size, &o, '\f'); break;
		case 'n': put(out, size, &o, '\n'); break;
		case 'r': put(out, size, &o, '\r'); break;
		case 't': put(out, size, &o, '\t'); break;
		case 'u':
			if (hex4(r->p + 1, &cp))
				return -EINVAL;
			r->p += 4;
			if (cp >= 0xd800 && cp < 0xdc00 && r->p[1] == '\\' && r->p[2] == 'u' && !hex4(r->p + 3, &lo) &&
			    lo >= 0xdc00 && lo < 0xe000) {
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				r->p += 6;
			} else if (cp >= 0xd800 && cp < 0xe000) {
				cp = 0xfffd;
			}
			put_utf8(out, size, &o, cp);
			break;
		default:
			return -EINVAL;
		}
	}
	r->p++;
	if (out && size)
		out[o < size ? o : size - 1] = '\0';
	return 0;
}

static int skip_value(struct json_r *r);

static int skip_container(struct json_r *r, char close, bool keys)
{
	int err;

	if (++r->depth > JSON_MAX_DEPTH)
		return -EINVAL;
	r->p++;
	ws(r);
	if (*r->p == close) {
		r->p++;
		r->depth--;
		return 0;
	}
	for (;;) {
		if (keys) {
			if ((err = read_str(r, NULL, 0)))
				return err;
			ws(r);
			if (*r->p++ != ':')
				return -EINVAL;
		}
		if ((err = skip_value(r)))
			return err;
		ws(r);
		if (*r->p == close)
			break;
		if (*r->p++ != ',')
			return -EINVAL;
		ws(r);
	}
	r->p++;
	r->depth--;
	return 0;
}

static int skip_value(struct json_r *r)
{
	const char *start;

	ws(r);
	switch (*r->p) {
	case '{': return skip_container(r, '}', true);
	case '[': return skip_container(r, ']', false);
	case '"': return read_str(r, NULL, 0);
	case 't': return strncmp(r->p, "true", 4) ? -EINVAL : (r->p += 4, 0);
	case 'f': return strncmp(r->p, "false", 5) ? -EINVAL : (r->p += 5, 0);
	case 'n': return strncmp(r->p, "null", 4) ? -EINVAL : (r->p += 4, 0);
	default:
		start = r->p;
		if (*r->p == '-')
			r->p++;
		while ((*r->p >= '0' && *r->p <= '9') || *r->p == '.' || *r->p == 'e' || *r->p == 'E' ||
		       *r->p == '+' || *r->p == '-')
			r->p++;
		return r->p > start && (start[0] != '-' || r->p > start + 1) ? 0 : -EINVAL;
	}
}

int json_r__str_member(const char *doc, const char *key, char *out, size_t size)
{
	struct json_r r = { .p = doc };
	char name[128];
	bool found = false;
	int err;

	if (out && size)
		out[0] = '\0';
	ws(&r);
	if (*r.p != '{')
		return -EINVAL;
	r.p++;
	ws(&r);
	while (*r.p != '}') {
		if ((err = read_str(&r, name, sizeof(name))))
			return err;
		ws(&r);
		if (*r.p++ != ':')
			return -EINVAL;
		ws(&r);
		if (!found && !strcmp(name, key) && *r.p == '"') {
			if ((err = read_str(&r, out, size)))
				return err;
			found = true;
		} else if ((err = skip_value(&r))) {
			return err;
		}
		ws(&r);
		if (*r.p == ',') {
			r.p++;
			ws(&r);
			if (*r.p == '}')
				return -EINVAL;
		} else if (*r.p != '}') {
			return -EINVAL;
		}
	}
	r.p++;
	ws(&r);
	if (*r.p)
		return -EINVAL;
	return found ? 0 : -ENOENT;
}
