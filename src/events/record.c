/* Recording writer and reader; the format is docs/record-format.md. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "events/event.h"
#include "events/record.h"
#include "util/array.h"
#include "util/hashmap.h"
#include "util/intern.h"
#include "util/file.h"
#include "util/log.h"

static const char MAGIC[8] = { 'C', 'T', 'X', 'T', 'R', 'A', 'C', 'E' };
#define TAG_DATA 0x4b4e4843U /* "CHNK" */
#define TAG_END 0x444e4543U  /* "CEND" */
#define CHUNK_HDR 16
#define CHUNK_TARGET (64 * 1024)      /* writer flushes a chunk past this */
#define CHUNK_MAX (16 * 1024 * 1024)  /* reader refuses larger chunks */
#define HEADER_MAX 8192
#define STR_MAX 65536
#define FRAMES_MAX 1024
#define IDS_MAX (1U << 24)
#define FLUSH_NS 1000000000ULL

enum { R_STR = 1, R_STACK = 2, R_EVENT = 16 };

struct buf {
	uint8_t *p;
	size_t len, cap;
};

struct record {
	FILE *f;
	char *path;
	bool writing;
	struct record_header hdr;
	uint64_t count;    /* events written / returned */
	uint64_t last_ts;  /* ts of the previous event (delta base) */
	/* writer */
	struct buf chunk;
	uint32_t chunk_events;
	uint64_t flush_ts;
	struct hmap strs, stacks; /* interned pointer -> id written */
	uint32_t nstr, nstack;
	uint32_t *stack_hash; /* by stack id: detects an address reused for another stack */
	uint32_t stack_hash_cap;
	int werr;
	/* reader */
	struct intern *in;
	const char **str_tab;
	const struct ct_stack **stack_tab;
	uint32_t str_cap, stack_cap;
	uint8_t *rbuf;
	size_t rcap, rlen, rpos;
	uint32_t chunk_left;  /* events still to decode in the current chunk */
	uint64_t offset;      /* file offset of the next chunk */
	uint64_t chunk_off;   /* file offset of the current chunk */
	int rerr;             /* sticky error */
	char errmsg[256];
	bool ended;
	struct ct_frame *frames;
};

/* ---- little helpers ---- */

static void put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = v >> (8 * i);
}

static uint32_t get_u32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = v >> (8 * i);
}

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static int buf_reserve(struct buf *b, size_t n)
{
	if (b->len + n <= b->cap)
		return 0;
	size_t ncap = b->cap ? b->cap : 4096;

	while (ncap < b->len + n)
		ncap *= 2;
	uint8_t *np = realloc(b->p, ncap);

	if (!np)
		return -ENOMEM;
	b->p = np;
	b->cap = ncap;
	return 0;
}

/* Callers reserve first: a varint is at most 10 bytes. */
static void put_var(struct buf *b, uint64_t v)
{
	while (v >= 0x80) {
		b->p[b->len++] = (uint8_t)v | 0x80;
		v >>= 7;
	}
	b->p[b->len++] = (uint8_t)v;
}

static void put_zig(struct buf *b, int64_t v)
{
	put_var(b, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

static void put_byte(struct buf *b, uint8_t v)
{
	b->p[b->len++] = v;
}

static uint32_t crc_chunk(const uint8_t *hdr8, const uint8_t *payload, size_t len)
{
	uLong c = crc32(0L, Z_NULL, 0);

	c = crc32(c, hdr8, 8);
	return (uint32_t)crc32(c, payload, (uInt)len);
}

/* ---- pointer maps (writer) ---- */

static uint32_t ptrmap_get(const struct hmap *m, uint64_t key)
{
	const uint64_t *v = hmap__get_u64(m, key);

	return v ? (uint32_t)*v : 0;
}

/* ---- writer ---- */

static int wfail(struct record *r, int err)
{
	if (!r->werr) {
		r->werr = err;
		ct_errmsg_set("cannot write recording %s: %s", r->path, strerror(-err));
	}
	return err;
}

static int write_chunk(struct record *r, uint32_t tag, const uint8_t *payload, size_t len,
		       uint32_t nevents)
{
	uint8_t h[CHUNK_HDR];

	put_u32(h, tag);
	put_u32(h + 4, (uint32_t)len);
	put_u32(h + 8, nevents);
	put_u32(h + 12, crc_chunk(h + 4, payload, len));
	if (fwrite(h, 1, sizeof(h), r->f) != sizeof(h) || (len && fwrite(payload, 1, len, r->f) != len))
		return wfail(r, errno ? -errno : -EIO);
	return 0;
}

int record__flush(struct record *r)
{
	int err;

	if (!r->writing)
		return 0;
	if (r->werr)
		return r->werr;
	if (r->chunk.len) {
		err = write_chunk(r, TAG_DATA, r->chunk.p, r->chunk.len, r->chunk_events);
		if (err)
			return err;
		r->chunk.len = 0;
		r->chunk_events = 0;
	}
	if (fflush(r->f))
		return wfail(r, -errno);
	return 0;
}

/* The string's id, defining it in the current chunk when new. 0 for NULL. */
static int str_id(struct record *r, const char *s, uint32_t *id)
{
	size_t n;
	int err;

	*id = 0;
	if (!s)
		return 0;
	*id = ptrmap_get(&r->strs, (uintptr_t)s);
	if (*id)
		return 0;
	n = strnlen(s, STR_MAX - 1);
	err = buf_reserve(&r->chunk, 1 + 10 + n);
	if (err)
		return err;
	put_byte(&r->chunk, R_STR);
	put_var(&r->chunk, n);
	memcpy(r->chunk.p + r->chunk.len, s, n);
	r->chunk.len += n;
	*id = ++r->nstr;
	return hmap__put_u64(&r->strs, (uintptr_t)s, *id);
}

static int stack_id(struct record *r, const struct ct_stack *st, uint32_t *id)
{
	uint32_t n, fid, lid;
	int err;

	*id = 0;
	if (!st)
		return 0;
	*id = ptrmap_get(&r->stacks, (uintptr_t)st);
	if (*id && r->stack_hash[*id] == st->hash)
		return 0;
	n = st->n < FRAMES_MAX ? st->n : FRAMES_MAX;
	/* strings first: their definitions must precede the stack's */
	for (uint32_t i = 0; i < n; i++) {
		err = str_id(r, st->frames[i].func, &fid);
		if (!err)
			err = str_id(r, st->frames[i].file, &fid);
		if (err)
			return err;
	}
	err = buf_reserve(&r->chunk, 1 + 10 + (size_t)n * 31);
	if (err)
		return err;
	put_byte(&r->chunk, R_STACK);
	put_var(&r->chunk, n);
	for (uint32_t i = 0; i < n; i++) {
		fid = ptrmap_get(&r->strs, (uintptr_t)st->frames[i].func);
		lid = ptrmap_get(&r->strs, (uintptr_t)st->frames[i].file);
		put_var(&r->chunk, st->frames[i].func ? fid : 0);
		put_var(&r->chunk, st->frames[i].file ? lid : 0);
		put_var(&r->chunk, st->frames[i].line);
		put_byte(&r->chunk, st->frames[i].inlined);
	}
	*id = ++r->nstack;
	if (array_reserve(&r->stack_hash, &r->stack_hash_cap, *id + 1, sizeof(*r->stack_hash), 1024))
		return -ENOMEM;
	r->stack_hash[*id] = st->hash;
	return hmap__put_u64(&r->stacks, (uintptr_t)st, *id);
}

static int encode(struct record *r, const struct ct_event *ev)
{
	uint32_t a = 0, b = 0, c = 0;
	struct buf *w = &r->chunk;
	int err = 0;

	/* definitions first, then the event */
	switch (ev->type) {
	case EV_CTX_CREATE:
		err = str_id(r, ev->ctx_create.type_name, &a);
		if (!err)
			err = stack_id(r, ev->ctx_create.stack, &b);
		break;
	case EV_CTX_CANCEL:
		err = str_id(r, ev->ctx_cancel.err, &a);
		if (!err)
			err = str_id(r, ev->ctx_cancel.cause, &b);
		if (!err)
			err = stack_id(r, ev->ctx_cancel.stack, &c);
		break;
	case EV_CTX_DONE:
		err = stack_id(r, ev->ctx_done.site, &a);
		break;
	case EV_GO_CREATE:
		err = stack_id(r, ev->go_create.go_site, &a);
		if (!err)
			err = str_id(r, ev->go_create.start_func, &b);
		if (!err)
			err = stack_id(r, ev->go_create.start_site, &c);
		break;
	default:
		break;
	}
	if (!err)
		err = buf_reserve(w, 128);
	if (err)
		return err;
	put_byte(w, R_EVENT + (uint8_t)ev->type);
	put_zig(w, (int64_t)(ev->ts_ns - r->last_ts));
	r->last_ts = ev->ts_ns;
	put_var(w, ev->pid);
	put_var(w, ev->tid);
	put_var(w, ev->goid);
	switch (ev->type) {
	case EV_CTX_CREATE: {
		const struct ev_ctx_create *e = &ev->ctx_create;

		put_var(w, e->id);
		put_byte(w, e->kind);
		put_var(w, a);
		put_var(w, e->parent);
		put_byte(w, e->parent_kind);
		put_var(w, e->ancestor);
		put_byte(w, e->ancestor_kind);
		put_byte(w, e->has_deadline | e->preexisting << 1 | e->discovered << 2 | e->replaces << 3);
		if (e->has_deadline)
			put_zig(w, e->deadline_unix_ns);
		put_var(w, b);
		break;
	}
	case EV_CTX_CANCEL:
		put_var(w, ev->ctx_cancel.id);
		put_byte(w, ev->ctx_cancel.reason);
		put_byte(w, ev->ctx_cancel.effective);
		put_var(w, a);
		put_var(w, b);
		put_var(w, c);
		break;
	case EV_CTX_DONE:
		put_var(w, ev->ctx_done.id);
		put_var(w, a);
		break;
	case EV_GO_CREATE:
		put_var(w, ev->go_create.goid);
		put_var(w, ev->go_create.parent_goid);
		put_var(w, a);
		put_var(w, b);
		put_var(w, c);
		put_byte(w, ev->go_create.preexisting);
		break;
	case EV_GO_EXIT:
		put_var(w, ev->go_exit.goid);
		break;
	case EV_LOST:
		put_var(w, ev->lost.ringbuf_drops);
		put_var(w, ev->lost.read_errors);
		put_var(w, ev->lost.decode_errors);
		break;
	default:
		break;
	}
	r->chunk_events++;
	return 0;
}

int record__write(struct record *r, const struct ct_event *ev)
{
	int err;

	if (!r->writing)
		return -EINVAL;
	if (r->werr)
		return r->werr;
	if ((unsigned)ev->type == 0 || ev->type >= EV_TYPE_MAX)
		return -EINVAL;
	if (r->count == 0)
		r->flush_ts = ev->ts_ns;
	err = encode(r, ev);
	if (err)
		return wfail(r, err);
	r->count++;
	if (r->chunk.len >= CHUNK_TARGET || (int64_t)(ev->ts_ns - r->flush_ts) >= (int64_t)FLUSH_NS ||
	    (int64_t)(ev->ts_ns - r->flush_ts) < 0) {
		r->flush_ts = ev->ts_ns;
		return record__flush(r);
	}
	return 0;
}

static void put_lstr(struct buf *b, const char *s)
{
	size_t n = strnlen(s, 1023);

	b->p[b->len++] = n & 0xff;
	b->p[b->len++] = n >> 8;
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void record_free(struct record *r)
{
	if (!r)
		return;
	if (r->f)
		fclose(r->f);
	free(r->path);
	free(r->chunk.p);
	hmap__free(&r->strs);
	hmap__free(&r->stacks);
	free(r->stack_hash);
	intern__free(r->in);
	free(r->str_tab);
	free(r->stack_tab);
	free(r->rbuf);
	free(r->frames);
	free(r);
}

struct record *record__create(const char *path, const struct record_header *h)
{
	struct record *r = calloc(1, sizeof(*r));
	struct buf b = { 0 };
	int err = 0;

	if (!r || !(r->path = strdup(path))) {
		err = -ENOMEM;
		ct_errmsg_set("cannot create recording %s: out of memory", path);
		goto cleanup;
	}
	r->writing = true;
	if (h)
		r->hdr = *h;
	r->f = fopen(path, "wb");
	if (!r->f) {
		err = -errno;
		ct_errmsg_set("cannot create recording %s: %s", path, strerror(errno));
		goto cleanup;
	}
	err = buf_reserve(&b, 64 + 3 * 1026);
	if (err) {
		ct_errmsg_set("cannot create recording %s: out of memory", path);
		goto cleanup;
	}
	memcpy(b.p, MAGIC, 8);
	put_u32(b.p + 8, RECORD_VERSION);
	b.len = 16;
	put_u32(b.p + 16, r->hdr.pid);
	put_u64(b.p + 20, (uint64_t)r->hdr.mono_to_real_ns);
	put_u64(b.p + 28, r->hdr.start_ns);
	b.len = 36;
	r->hdr.binary[sizeof(r->hdr.binary) - 1] = 0;
	r->hdr.go_version[sizeof(r->hdr.go_version) - 1] = 0;
	r->hdr.tool_version[sizeof(r->hdr.tool_version) - 1] = 0;
	put_lstr(&b, r->hdr.binary);
	put_lstr(&b, r->hdr.go_version);
	put_lstr(&b, r->hdr.tool_version);
	put_u32(b.p + 12, (uint32_t)(b.len - 16));
	put_u32(b.p + b.len, (uint32_t)crc32(crc32(0L, Z_NULL, 0), b.p, (uInt)b.len));
	b.len += 4;
	if (fwrite(b.p, 1, b.len, r->f) != b.len || fflush(r->f)) {
		err = -errno;
		ct_errmsg_set("cannot write recording %s: %s", path, strerror(errno));
		goto cleanup;
	}
	r->flush_ts = 0;
cleanup:
	free(b.p);
	if (err) {
		record_free(r);
		errno = -err;
		return NULL;
	}
	return r;
}

int record__close(struct record *r)
{
	int err = 0;

	if (!r)
		return 0;
	if (r->writing) {
		uint8_t total[8];

		err = record__flush(r);
		put_u64(total, r->count);
		if (!err)
			err = write_chunk(r, TAG_END, total, sizeof(total), 0);
		if (!err && fflush(r->f))
			err = wfail(r, -errno);
		if (fclose(r->f) && !err)
			err = wfail(r, -errno);
		r->f = NULL;
	}
	record_free(r);
	return err;
}

/* ---- reader ---- */

static int rfail(struct record *r, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int rfail(struct record *r, int err, const char *fmt, ...)
{
	va_list ap;

	if (!r->rerr) {
		va_start(ap, fmt);
		vsnprintf(r->errmsg, sizeof(r->errmsg), fmt, ap);
		va_end(ap);
		r->rerr = err;
	}
	ct_errmsg_set("%s", r->errmsg);
	return r->rerr;
}

static int truncated(struct record *r)
{
	return rfail(r, -ENODATA, "truncated recording after %llu events", (unsigned long long)r->count);
}

static int corrupt(struct record *r, const char *what)
{
	return rfail(r, -EBADMSG, "corrupt recording: %s in the chunk at byte %llu (after %llu events)",
		     what, (unsigned long long)r->chunk_off, (unsigned long long)r->count);
}

struct record *record__open(const char *path)
{
	FILE *f = file_fopen_regular(path, 0);

	if (!f) {
		int e = errno;
		char why[256];

		snprintf(why, sizeof(why), "%s", ct_errmsg()); /* strerror, or "a FIFO, not a regular file" */
		ct_errmsg_set("cannot open recording %s: %s", path, why);
		errno = e;
		return NULL;
	}
	return record__open_file(f, path);
}

static size_t get_lstr(const uint8_t *p, size_t left, char *dst, size_t dsize)
{
	size_t n;

	if (left < 2)
		return 0;
	n = p[0] | p[1] << 8;
	if (n + 2 > left)
		return 0;
	size_t c = n < dsize - 1 ? n : dsize - 1;

	memcpy(dst, p + 2, c);
	dst[c] = 0;
	return n + 2;
}

struct record *record__open_file(FILE *f, const char *name)
{
	struct record *r = calloc(1, sizeof(*r));
	uint8_t h16[16], *hb = NULL;
	uint32_t ver, hlen, crc;
	int err = 0;
	size_t got, n, pos;

	if (!r || !(r->path = strdup(name ? name : "-"))) {
		if (f)
			fclose(f);
		free(r);
		ct_errmsg_set("cannot open recording: out of memory");
		errno = ENOMEM;
		return NULL;
	}
	r->f = f;
	got = fread(h16, 1, sizeof(h16), f);
	if (got < 8 || memcmp(h16, MAGIC, 8)) {
		err = -EINVAL;
		ct_errmsg_set("%s is not a ctxtrace recording (bad magic)", r->path);
		goto cleanup;
	}
	if (got < 16) {
		err = -ENODATA;
		ct_errmsg_set("truncated recording after 0 events (%s ends inside its header)", r->path);
		goto cleanup;
	}
	ver = get_u32(h16 + 8);
	hlen = get_u32(h16 + 12);
	if (ver > RECORD_VERSION) {
		err = -EPROTONOSUPPORT;
		ct_errmsg_set("%s is recording format version %u, newer than this ctxtrace reads (%d); upgrade ctxtrace",
			      r->path, ver, RECORD_VERSION);
		goto cleanup;
	}
	if (ver == 0 || hlen < 20 || hlen > HEADER_MAX) {
		err = -EBADMSG;
		ct_errmsg_set("corrupt recording: %s has a damaged header", r->path);
		goto cleanup;
	}
	hb = malloc(16 + hlen + 4);
	if (!hb) {
		err = -ENOMEM;
		ct_errmsg_set("cannot open recording %s: out of memory", r->path);
		goto cleanup;
	}
	memcpy(hb, h16, 16);
	if (fread(hb + 16, 1, hlen + 4, f) != hlen + 4) {
		err = -ENODATA;
		ct_errmsg_set("truncated recording after 0 events (%s ends inside its header)", r->path);
		goto cleanup;
	}
	crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), hb, 16 + hlen);
	if (crc != get_u32(hb + 16 + hlen)) {
		err = -EBADMSG;
		ct_errmsg_set("corrupt recording: %s has a damaged header (checksum mismatch)", r->path);
		goto cleanup;
	}
	r->hdr.pid = get_u32(hb + 16);
	r->hdr.mono_to_real_ns = (int64_t)get_u64(hb + 20);
	r->hdr.start_ns = get_u64(hb + 28);
	pos = 36;
	n = get_lstr(hb + pos, 16 + hlen - pos, r->hdr.binary, sizeof(r->hdr.binary));
	if (n)
		pos += n, n = get_lstr(hb + pos, 16 + hlen - pos, r->hdr.go_version, sizeof(r->hdr.go_version));
	if (n)
		pos += n, n = get_lstr(hb + pos, 16 + hlen - pos, r->hdr.tool_version, sizeof(r->hdr.tool_version));
	if (!n) {
		err = -EBADMSG;
		ct_errmsg_set("corrupt recording: %s has a damaged header", r->path);
		goto cleanup;
	}
	r->offset = 16 + hlen + 4;
	r->in = intern__new(0);
	r->frames = malloc(FRAMES_MAX * sizeof(*r->frames));
	if (!r->in || !r->frames) {
		err = -ENOMEM;
		ct_errmsg_set("cannot open recording %s: out of memory", r->path);
		goto cleanup;
	}
cleanup:
	free(hb);
	if (err) {
		record_free(r);
		errno = -err;
		return NULL;
	}
	return r;
}

const struct record_header *record__header(const struct record *r)
{
	return &r->hdr;
}

uint64_t record__count(const struct record *r)
{
	return r->count;
}

/* Reads and checks the next chunk into rbuf. 1 data chunk, 0 end, -errno. */
static int next_chunk(struct record *r)
{
	uint8_t h[CHUNK_HDR];
	uint32_t tag, len, nev;
	size_t got;

	r->chunk_off = r->offset;
	got = fread(h, 1, sizeof(h), r->f);
	if (got == 0 && feof(r->f))
		return truncated(r); /* no end marker: the writer did not finish */
	if (got < sizeof(h))
		return ferror(r->f) ? rfail(r, -EIO, "cannot read recording %s: %s", r->path, strerror(errno))
				    : truncated(r);
	tag = get_u32(h);
	len = get_u32(h + 4);
	nev = get_u32(h + 8);
	if ((tag != TAG_DATA && tag != TAG_END) || len > CHUNK_MAX)
		return corrupt(r, "bad chunk header");
	if (len > r->rcap) {
		uint8_t *nb = realloc(r->rbuf, len);

		if (!nb)
			return rfail(r, -ENOMEM, "cannot read recording %s: out of memory", r->path);
		r->rbuf = nb;
		r->rcap = len;
	}
	if (fread(r->rbuf, 1, len, r->f) != len)
		return truncated(r);
	if (crc_chunk(h + 4, r->rbuf, len) != get_u32(h + 12))
		return corrupt(r, "checksum mismatch");
	r->offset += sizeof(h) + len;
	r->rlen = len;
	r->rpos = 0;
	if (tag == TAG_END) {
		if (len != 8 || get_u64(r->rbuf) != r->count)
			return corrupt(r, "end marker disagrees with the events read");
		if (fgetc(r->f) != EOF)
			return rfail(r, -EBADMSG, "corrupt recording: data after the end marker (after %llu events)",
				     (unsigned long long)r->count);
		r->ended = true;
		return 0;
	}
	r->chunk_left = nev;
	return 1;
}

static bool get_var(struct record *r, uint64_t *v)
{
	uint64_t x = 0;

	for (int s = 0; s < 64 && r->rpos < r->rlen; s += 7) {
		uint8_t b = r->rbuf[r->rpos++];

		x |= (uint64_t)(b & 0x7f) << s;
		if (!(b & 0x80)) {
			*v = x;
			return true;
		}
	}
	return false;
}

static bool get_byte(struct record *r, uint8_t *v)
{
	if (r->rpos >= r->rlen)
		return false;
	*v = r->rbuf[r->rpos++];
	return true;
}

static bool get_zig(struct record *r, int64_t *v)
{
	uint64_t u;

	if (!get_var(r, &u))
		return false;
	*v = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
	return true;
}

static int grow_tab(void *tabp, uint32_t *cap, uint32_t need)
{
	return array_reserve(tabp, cap, need + 1, sizeof(void *), 1024);
}

static bool get_sref(struct record *r, const char **s)
{
	uint64_t id;

	if (!get_var(r, &id) || id > r->nstr)
		return false;
	*s = id ? r->str_tab[id] : NULL;
	return true;
}

static bool get_kref(struct record *r, const struct ct_stack **st)
{
	uint64_t id;

	if (!get_var(r, &id) || id > r->nstack)
		return false;
	*st = id ? r->stack_tab[id] : NULL;
	return true;
}

static int def_string(struct record *r)
{
	uint64_t n;

	if (!get_var(r, &n) || n >= STR_MAX || n > r->rlen - r->rpos)
		return corrupt(r, "bad string");
	if (r->nstr + 1 >= IDS_MAX)
		return corrupt(r, "too many strings");
	if (grow_tab(&r->str_tab, &r->str_cap, r->nstr + 1))
		return rfail(r, -ENOMEM, "cannot read recording %s: out of memory", r->path);
	/* NULL past the intern budget: the event then lacks that name */
	r->str_tab[++r->nstr] = intern__strn(r->in, (const char *)r->rbuf + r->rpos, n);
	r->rpos += n;
	return 0;
}

static int def_stack(struct record *r)
{
	uint64_t n, line;
	uint8_t inl;

	if (!get_var(r, &n) || n > FRAMES_MAX)
		return corrupt(r, "bad stack");
	for (uint64_t i = 0; i < n; i++) {
		struct ct_frame *f = &r->frames[i];

		if (!get_sref(r, &f->func) || !get_sref(r, &f->file) || !get_var(r, &line) ||
		    !get_byte(r, &inl) || line > UINT32_MAX || inl > 1)
			return corrupt(r, "bad stack");
		f->line = (uint32_t)line;
		f->inlined = inl;
	}
	if (r->nstack + 1 >= IDS_MAX)
		return corrupt(r, "too many stacks");
	if (grow_tab(&r->stack_tab, &r->stack_cap, r->nstack + 1))
		return rfail(r, -ENOMEM, "cannot read recording %s: out of memory", r->path);
	r->stack_tab[++r->nstack] = intern__stack(r->in, r->frames, (uint32_t)n);
	return 0;
}

static bool get_kind(struct record *r, enum ctx_kind *k)
{
	uint8_t b;

	if (!get_byte(r, &b) || b >= CTX_KIND_MAX)
		return false;
	*k = b;
	return true;
}

static int decode_event(struct record *r, uint8_t type, struct ct_event *ev)
{
	uint64_t v[4];
	int64_t dts;
	uint8_t b, fl;

	memset(ev, 0, sizeof(*ev));
	if (type == 0 || type >= EV_TYPE_MAX)
		return corrupt(r, "bad event type");
	ev->type = type;
	if (!get_zig(r, &dts) || !get_var(r, &v[0]) || !get_var(r, &v[1]) || !get_var(r, &ev->goid) ||
	    v[0] > UINT32_MAX || v[1] > UINT32_MAX)
		return corrupt(r, "bad event");
	r->last_ts += (uint64_t)dts;
	ev->ts_ns = r->last_ts;
	ev->pid = (uint32_t)v[0];
	ev->tid = (uint32_t)v[1];
	switch (ev->type) {
	case EV_CTX_CREATE: {
		struct ev_ctx_create *e = &ev->ctx_create;

		if (!get_var(r, &e->id) || !get_kind(r, &e->kind) || !get_sref(r, &e->type_name) ||
		    !get_var(r, &e->parent) || !get_kind(r, &e->parent_kind) || !get_var(r, &e->ancestor) ||
		    !get_kind(r, &e->ancestor_kind) || !get_byte(r, &fl) || fl > 15)
			return corrupt(r, "bad ctx_create");
		e->has_deadline = fl & 1;
		e->preexisting = fl & 2;
		e->discovered = fl & 4;
		e->replaces = fl & 8;
		if ((e->has_deadline && !get_zig(r, &e->deadline_unix_ns)) || !get_kref(r, &e->stack))
			return corrupt(r, "bad ctx_create");
		break;
	}
	case EV_CTX_CANCEL: {
		struct ev_ctx_cancel *e = &ev->ctx_cancel;

		if (!get_var(r, &e->id) || !get_byte(r, &b) || b >= CANCEL_REASON_MAX || !get_byte(r, &fl) ||
		    fl > 1 || !get_sref(r, &e->err) || !get_sref(r, &e->cause) || !get_kref(r, &e->stack))
			return corrupt(r, "bad ctx_cancel");
		e->reason = b;
		e->effective = fl;
		break;
	}
	case EV_CTX_DONE:
		if (!get_var(r, &ev->ctx_done.id) || !get_kref(r, &ev->ctx_done.site))
			return corrupt(r, "bad ctx_done");
		break;
	case EV_GO_CREATE: {
		struct ev_go_create *e = &ev->go_create;

		if (!get_var(r, &e->goid) || !get_var(r, &e->parent_goid) || !get_kref(r, &e->go_site) ||
		    !get_sref(r, &e->start_func) || !get_kref(r, &e->start_site) || !get_byte(r, &fl) || fl > 1)
			return corrupt(r, "bad go_create");
		e->preexisting = fl;
		break;
	}
	case EV_GO_EXIT:
		if (!get_var(r, &ev->go_exit.goid))
			return corrupt(r, "bad go_exit");
		break;
	case EV_LOST:
		if (!get_var(r, &ev->lost.ringbuf_drops) || !get_var(r, &ev->lost.read_errors) ||
		    !get_var(r, &ev->lost.decode_errors))
			return corrupt(r, "bad lost");
		break;
	default:
		break;
	}
	return 0;
}

int record__next(struct record *r, struct ct_event *ev)
{
	int err;

	if (r->writing)
		return -EINVAL;
	if (r->rerr) {
		ct_errmsg_set("%s", r->errmsg);
		return r->rerr;
	}
	if (r->ended)
		return 0;
	for (;;) {
		uint8_t t;

		if (r->rpos >= r->rlen) {
			if (r->chunk_left)
				return corrupt(r, "fewer events than announced");
			err = next_chunk(r);
			if (err <= 0)
				return err;
			continue;
		}
		t = r->rbuf[r->rpos++];
		if (t == R_STR) {
			err = def_string(r);
		} else if (t == R_STACK) {
			err = def_stack(r);
		} else if (t > R_EVENT && t < R_EVENT + EV_TYPE_MAX) {
			if (!r->chunk_left)
				return corrupt(r, "more events than announced");
			err = decode_event(r, t - R_EVENT, ev);
			if (err)
				return err;
			r->chunk_left--;
			r->count++;
			return 1;
		} else {
			err = corrupt(r, "bad record type");
		}
		if (err)
			return err;
	}
}
