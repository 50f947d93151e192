#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "binary/buildinfo.h"
#include "binary/goelf.h"
#include "util/log.h"

#define BI_MAGIC "\xff Go buildinf:"
#define BI_MAGIC_LEN 14
#define BI_HDR_LEN 32
#define BI_FLAG_BIGENDIAN 0x1
#define BI_FLAG_INLINE 0x2 /* Go 1.18+: strings follow the header */

static void copy_str(char *dst, size_t size, const char *s, size_t n)
{
	size_t i, j = 0;

	/* Control bytes would break one-line output downstream; the JSON writer escapes,
	 * plain output does not. */
	for (i = 0; i < n && j + 1 < size; i++)
		dst[j++] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
	dst[j] = '\0';
}

int buildinfo__parse_version(const char *s, int *major, int *minor, int *patch)
{
	const char *p = strstr(s, "go1.");
	long v[3] = { 1, 0, 0 };
	char *end;

	if (!p)
		return -EINVAL;
	p += 4;
	if (*p < '0' || *p > '9')
		return -EINVAL;
	v[1] = strtol(p, &end, 10);
	if (v[1] > 1000)
		return -EINVAL;
	/* "go1.21.5"; "go1.21rc2" and "go1.24-abcdef" have no patch number. */
	if (*end == '.' && end[1] >= '0' && end[1] <= '9') {
		v[2] = strtol(end + 1, &end, 10);
		if (v[2] > 100000)
			v[2] = 0;
	}
	*major = v[0];
	*minor = v[1];
	*patch = v[2];
	return 0;
}

/* A Go-quoted build setting value ("-ldflags=\"-s -w\"") unquoted in place: only
 * the escapes strconv.Quote writes for printable text. */
static void unquote(char *s)
{
	size_t n = strlen(s), i, j = 0;

	if (n < 2 || s[0] != '"' || s[n - 1] != '"')
		return;
	for (i = 1; i + 1 < n; i++) {
		if (s[i] == '\\' && i + 2 < n) {
			i++;
			switch (s[i]) {
			case 'n': s[j++] = ' '; break;
			case 't': s[j++] = ' '; break;
			default: s[j++] = s[i]; break;
			}
			continue;
		}
		s[j++] = s[i];
	}
	s[j] = '\0';
}

static void parse_build_line(const char *kv, size_t n, struct go_buildinfo *bi)
{
	const char *eq = memchr(kv, '=', n);
	char key[64], val[512];
	size_t kn;

	if (!eq)
		return;
	kn = eq - kv;
	copy_str(key, sizeof(key), kv, kn);
	copy_str(val, sizeof(val), eq + 1, n - kn - 1);
	unquote(key);
	unquote(val);
	if (!strcmp(key, "CGO_ENABLED"))
		bi->cgo = !strcmp(val, "1");
	else if (!strcmp(key, "-buildmode"))
		copy_str(bi->buildmode, sizeof(bi->buildmode), val, strlen(val));
	else if (!strcmp(key, "GOEXPERIMENT"))
		copy_str(bi->goexperiment, sizeof(bi->goexperiment), val, strlen(val));
	else if (!strcmp(key, "-ldflags"))
		copy_str(bi->ldflags, sizeof(bi->ldflags), val, strlen(val));
}

void buildinfo__parse_modinfo(const char *s, size_t n, struct go_buildinfo *bi)
{
	const char *p = s, *end = s + n;

	while (p < end) {
		const char *nl = memchr(p, '\n', end - p);
		const char *le = nl ? nl : end;
		size_t ln = le - p;

		if (ln > 5 && !memcmp(p, "path\t", 5)) {
			copy_str(bi->path, sizeof(bi->path), p + 5, ln - 5);
		} else if (ln > 4 && !memcmp(p, "mod\t", 4)) {
			const char *f = p + 4, *t1 = memchr(f, '\t', le - f);

			copy_str(bi->main_module, sizeof(bi->main_module), f, (t1 ? t1 : le) - f);
			if (t1) {
				const char *v = t1 + 1, *t2 = memchr(v, '\t', le - v);

				copy_str(bi->main_version, sizeof(bi->main_version), v,
					 (t2 ? t2 : le) - v);
			}
		} else if (ln > 6 && !memcmp(p, "build\t", 6)) {
			parse_build_line(p + 6, ln - 6, bi);
		}
		p = le + 1;
	}
}

static int read_uvarint(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
	const uint8_t *p = *pp;
	uint64_t x = 0;
	int shift = 0;

	while (p < end && shift < 64) {
		uint8_t b = *p++;

		x |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*pp = p;
			*v = x;
			return 0;
		}
		shift += 7;
	}
	return -EINVAL;
}

static uint64_t rd(const uint8_t *p, int ptrsize, bool big)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < ptrsize; i++)
		v |= (uint64_t)p[big ? ptrsize - 1 - i : i] << (8 * i);
	return v;
}

/* Old layout: p points at a Go string header {data, len} in the image. */
static const char *read_gostring(buildinfo_read_fn read, void *ctx, uint64_t hdr, int ptrsize,
				 bool big, size_t *n)
{
	const uint8_t *h;
	uint64_t data, len;

	if (!read || !hdr)
		return NULL;
	h = read(ctx, hdr, 2 * ptrsize);
	if (!h)
		return NULL;
	data = rd(h, ptrsize, big);
	len = rd(h + ptrsize, ptrsize, big);
	if (len > (1u << 20))
		return NULL;
	*n = len;
	if (len == 0)
		return "";
	return read(ctx, data, len);
}

/* The modinfo string is wrapped in 16-byte sentinels (cmd/go modload). */
static void strip_sentinels(const char **s, size_t *n)
{
	if (*n >= 33 && (*s)[*n - 17] == '\n') {
		*s += 16;
		*n -= 32;
	}
}

int buildinfo__parse(const uint8_t *sec, size_t size, buildinfo_read_fn read, void *ctx,
		     struct go_buildinfo *out)
{
	const uint8_t *hdr = NULL, *p, *end = sec + size;
	const char *ver, *mod;
	size_t off, vn = 0, mn = 0;
	int ptrsize;
	bool big;
	uint8_t flags;

	memset(out, 0, sizeof(*out));
	snprintf(out->buildmode, sizeof(out->buildmode), "exe");
	/* The header is 16-byte aligned, normally at the start of the section. */
	for (off = 0; off + BI_HDR_LEN <= size; off += 16) {
		if (!memcmp(sec + off, BI_MAGIC, BI_MAGIC_LEN)) {
			hdr = sec + off;
			break;
		}
	}
	if (!hdr) {
		ct_errmsg_set("no Go build info header in .go.buildinfo");
		return -EINVAL;
	}
	ptrsize = hdr[14];
	flags = hdr[15];
	big = flags & BI_FLAG_BIGENDIAN;
	if (flags & BI_FLAG_INLINE) {
		uint64_t n;

		out->inline_layout = true;
		p = hdr + BI_HDR_LEN;
		if (read_uvarint(&p, end, &n) || n > (uint64_t)(end - p))
			goto bad;
		ver = (const char *)p;
		vn = n;
		p += n;
		if (read_uvarint(&p, end, &n) || n > (uint64_t)(end - p))
			goto bad;
		mod = (const char *)p;
		mn = n;
	} else {
		if (ptrsize != 4 && ptrsize != 8) {
			ct_errmsg_set("bad pointer size %d in Go build info", ptrsize);
			return -EINVAL;
		}
		ver = read_gostring(read, ctx, rd(hdr + 16, ptrsize, big), ptrsize, big, &vn);
		mod = read_gostring(read, ctx, rd(hdr + 16 + ptrsize, ptrsize, big), ptrsize, big,
				    &mn);
		if (!ver)
			goto bad;
		if (!mod)
			mn = 0;
	}
	copy_str(out->version, sizeof(out->version), ver, vn);
	if (mod && mn) {
		strip_sentinels(&mod, &mn);
		buildinfo__parse_modinfo(mod, mn, out);
	}
	if (buildinfo__parse_version(out->version, &out->major, &out->minor, &out->patch)) {
		ct_errmsg_set("unrecognized Go version \"%s\" in build info", out->version);
		return -EINVAL;
	}
	return 0;
bad:
	ct_errmsg_set("corrupted Go build info");
	return -EINVAL;
}
