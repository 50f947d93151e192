#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "events/event.h"
#include "output/events_out.h"
#include "util/clock.h"
#include "util/json.h"

#define STACK_JSON_SLOTS 4096

struct stack_json {
	const struct ct_stack *st;
	char *json;
	size_t len;
};

struct sbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

struct events_out {
	FILE *f;
	bool json;
	int64_t clock_off;
	struct stack_json *stacks; /* STACK_JSON_SLOTS */
	struct sbuf line;
	int64_t time_sec;
	char time_prefix[48];
	int err; /* the first write error, kept: later calls see only ferror() */
};

struct events_out *events_out__new(FILE *f, bool json)
{
	struct events_out *eo = calloc(1, sizeof(*eo));

	if (!eo)
		return NULL;
	eo->f = f;
	eo->json = json;
	eo->clock_off = ct_mono_to_real_ns();
	eo->stacks = calloc(STACK_JSON_SLOTS, sizeof(*eo->stacks));
	if (!eo->stacks) {
		free(eo);
		errno = ENOMEM;
		return NULL;
	}
	return eo;
}

void events_out__free(struct events_out *eo)
{
	if (!eo)
		return;
	for (size_t i = 0; i < STACK_JSON_SLOTS; i++)
		free(eo->stacks[i].json);
	free(eo->stacks);
	free(eo->line.p);
	free(eo);
}

void events_out__set_clock(struct events_out *eo, int64_t off)
{
	eo->clock_off = off;
}

void ct_format_time(int64_t unix_ns, char *buf, size_t size)
{
	int64_t sec = unix_ns / 1000000000LL, ns = unix_ns % 1000000000LL;
	struct tm tm;
	time_t t;

	if (ns < 0) {
		ns += 1000000000LL;
		sec--;
	}
	t = (time_t)sec;
	if (!gmtime_r(&t, &tm)) {
		snprintf(buf, size, "%" PRId64, unix_ns);
		return;
	}
	snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%09" PRId64 "Z", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ns);
}

/* ---- JSON ----
 * Lines are built in a buffer and written at once. Stacks are interned, so each
 * one's JSON is rendered once and kept (bounded cache keyed by the stack's
 * address): printing, not decoding, was the watch's bottleneck. */

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t ncap = b->cap ? b->cap : 1024;
		char *np;

		while (ncap < b->len + n + 1)
			ncap *= 2;
		np = realloc(b->p, ncap);
		if (!np) {
			b->oom = true;
			return;
		}
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sb_lit(struct sbuf *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

/* Numbers without printf: they are most of a line. */
static void sb_u64(struct sbuf *b, uint64_t v)
{
	char tmp[24];
	int i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	sb_put(b, tmp + i, sizeof(tmp) - i);
}

static void sb_hex(struct sbuf *b, uint64_t v)
{
	char tmp[24];
	int i = sizeof(tmp);

	do {
		tmp[--i] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v);
	tmp[--i] = 'x';
	tmp[--i] = '0';
	tmp[--i] = '"';
	sb_put(b, tmp + i, sizeof(tmp) - i);
	sb_put(b, "\"", 1);
}

/* A JSON string (every control byte escaped, see util/json.h), or null. */
static void sb_str(struct sbuf *b, const char *s)
{
	char small[256];
	size_t n, need;

	if (!s) {
		sb_lit(b, "null");
		return;
	}
	n = strlen(s);
	need = json_escape(small, sizeof(small), s, n);
	sb_lit(b, "\"");
	if (need < sizeof(small)) {
		sb_put(b, small, need);
	} else {
		char *big = malloc(need + 1);

		if (big) {
			json_escape(big, need + 1, s, n);
			sb_put(b, big, need);
			free(big);
		}
	}
	sb_lit(b, "\"");
}

/* ,"key": */
static void sb_key(struct sbuf *b, const char *k)
{
	sb_lit(b, ",\"");
	sb_lit(b, k);
	sb_lit(b, "\":");
}

static void sb_kv_str(struct sbuf *b, const char *k, const char *v)
{
	sb_key(b, k);
	sb_str(b, v);
}

static void sb_kv_bool(struct sbuf *b, const char *k, bool v)
{
	sb_key(b, k);
	sb_lit(b, v ? "true" : "false");
}

static void sb_kv_uint(struct sbuf *b, const char *k, uint64_t v)
{
	sb_key(b, k);
	sb_u64(b, v);
}

static void sb_kv_id(struct sbuf *b, const char *k, uint64_t id)
{
	sb_key(b, k);
	if (id)
		sb_hex(b, id);
	else
		sb_lit(b, "null");
}

static void sb_kv_uint_or_null(struct sbuf *b, const char *k, uint64_t v)
{
	sb_key(b, k);
	if (v)
		sb_u64(b, v);
	else
		sb_lit(b, "null");
}

static void sb_frame(struct sbuf *b, const struct ct_frame *f)
{
	sb_lit(b, "{\"func\":");
	sb_str(b, f->func);
	sb_lit(b, ",\"file\":");
	sb_str(b, f->file);
	sb_lit(b, ",\"line\":");
	sb_u64(b, f->line);
	sb_lit(b, f->inlined ? ",\"inlined\":true}" : ",\"inlined\":false}");
}

static void sb_stack(struct events_out *eo, struct sbuf *b, const char *k, const struct ct_stack *st)
{
	struct stack_json *c;
	struct sbuf r = { 0 };

	sb_key(b, k);
	if (!st) {
		sb_lit(b, "null");
		return;
	}
	c = &eo->stacks[((uintptr_t)st >> 4) % STACK_JSON_SLOTS];
	if (c->st != st) {
		sb_lit(&r, "[");
		for (uint32_t i = 0; i < st->n; i++) {
			if (i)
				sb_lit(&r, ",");
			sb_frame(&r, &st->frames[i]);
		}
		sb_lit(&r, "]");
		if (r.oom) {
			free(r.p);
			b->oom = true;
			return;
		}
		free(c->json);
		c->st = st;
		c->json = r.p;
		c->len = r.len;
	}
	sb_put(b, c->json, c->len);
}

/* ct_format_time, with the date and time of day kept for the whole second. */
static void event_time(struct events_out *eo, int64_t unix_ns, char buf[48])
{
	int64_t sec = unix_ns >= 0 ? unix_ns / 1000000000LL : (unix_ns - 999999999LL) / 1000000000LL;
	int64_t ns = unix_ns - sec * 1000000000LL;

	if (sec != eo->time_sec || !eo->time_prefix[0]) {
		ct_format_time(sec * 1000000000LL, eo->time_prefix, sizeof(eo->time_prefix));
		/* "YYYY-MM-DDTHH:MM:SS." */
		eo->time_prefix[20] = '\0';
		eo->time_sec = sec;
	}
	memcpy(buf, eo->time_prefix, 20);
	for (int i = 28; i >= 20; i--) {
		buf[i] = (char)('0' + ns % 10);
		ns /= 10;
	}
	buf[29] = 'Z';
	buf[30] = '\0';
}

static void print_json(struct events_out *eo, const struct ct_event *ev)
{
	struct sbuf *b = &eo->line;
	char tbuf[48];

	b->len = 0;
	b->oom = false;
	sb_lit(b, "{\"type\":");
	sb_str(b, ev_type_name(ev->type));
	sb_kv_uint(b, "pid", ev->pid);
	event_time(eo, (int64_t)ev->ts_ns + eo->clock_off, tbuf);
	sb_kv_str(b, "time", tbuf);
	sb_kv_uint(b, "ts_ns", ev->ts_ns);
	switch (ev->type) {
	case EV_CTX_CREATE: {
		const struct ev_ctx_create *c = &ev->ctx_create;

		sb_kv_id(b, "id", c->id);
		sb_kv_str(b, "kind", ctx_kind_name(c->kind));
		/* "type" is the event type: the Go type gets its own key. */
		sb_kv_str(b, "go_type", c->type_name);
		sb_kv_id(b, "parent", c->parent);
		sb_kv_str(b, "parent_kind", ctx_kind_name(c->parent_kind));
		sb_kv_id(b, "ancestor", c->ancestor);
		sb_kv_str(b, "ancestor_kind", ctx_kind_name(c->ancestor_kind));
		if (c->has_deadline) {
			ct_format_time(c->deadline_unix_ns, tbuf, sizeof(tbuf));
			sb_kv_str(b, "deadline", tbuf);
			sb_key(b, "deadline_unix_ns");
			if (c->deadline_unix_ns < 0)
				sb_lit(b, "-");
			sb_u64(b, c->deadline_unix_ns < 0 ? -(uint64_t)c->deadline_unix_ns : (uint64_t)c->deadline_unix_ns);
		} else {
			sb_lit(b, ",\"deadline\":null,\"deadline_unix_ns\":null");
		}
		sb_kv_uint_or_null(b, "goid", ev->goid);
		sb_kv_bool(b, "preexisting", c->preexisting);
		sb_kv_bool(b, "discovered", c->discovered);
		if (c->replaces)
			sb_kv_bool(b, "replaces", true);
		sb_stack(eo, b, "stack", c->stack);
		break;
	}
	case EV_CTX_CANCEL: {
		const struct ev_ctx_cancel *c = &ev->ctx_cancel;

		sb_kv_id(b, "id", c->id);
		sb_kv_str(b, "reason", cancel_reason_name(c->reason));
		sb_kv_bool(b, "effective", c->effective);
		sb_kv_str(b, "err", c->err);
		sb_kv_str(b, "cause", c->cause);
		sb_kv_uint_or_null(b, "goid", ev->goid);
		sb_stack(eo, b, "stack", c->stack);
		break;
	}
	case EV_CTX_DONE:
		sb_kv_id(b, "id", ev->ctx_done.id);
		sb_kv_uint_or_null(b, "goid", ev->goid);
		sb_stack(eo, b, "site", ev->ctx_done.site);
		break;
	case EV_GO_CREATE: {
		const struct ev_go_create *g = &ev->go_create;

		sb_kv_uint(b, "goid", g->goid);
		sb_kv_uint_or_null(b, "parent_goid", g->parent_goid);
		sb_key(b, "go_site");
		if (g->go_site && g->go_site->n)
			sb_frame(b, &g->go_site->frames[0]);
		else
			sb_lit(b, "null");
		sb_stack(eo, b, "go_stack", g->go_site);
		sb_kv_str(b, "start_func", g->start_func);
		sb_kv_bool(b, "preexisting", g->preexisting);
		break;
	}
	case EV_GO_EXIT:
		sb_kv_uint(b, "goid", ev->go_exit.goid);
		break;
	case EV_LOST:
		sb_kv_uint(b, "ringbuf_drops", ev->lost.ringbuf_drops);
		sb_kv_uint(b, "read_errors", ev->lost.read_errors);
		sb_kv_uint(b, "decode_errors", ev->lost.decode_errors);
		break;
	case EV_TARGET_EXIT:
	default:
		break;
	}
	sb_lit(b, "}\n");
	if (!b->oom)
		fwrite(b->p, 1, b->len, eo->f);
}

/* ---- text ---- */

static const char *id_str(uint64_t id, char *buf, size_t n)
{
	if (!id)
		return "-";
	snprintf(buf, n, "0x%" PRIx64, id);
	return buf;
}

static void t_site(FILE *f, const struct ct_stack *st)
{
	const struct ct_frame *fr = ct_stack_user_frame(st);

	if (!fr)
		return;
	fprintf(f, " at %s (%s:%u)", fr->func ? fr->func : "?", fr->file ? fr->file : "?", fr->line);
}

static void print_text(struct events_out *eo, const struct ct_event *ev)
{
	char tbuf[48], a[24], b[24];
	FILE *f = eo->f;

	ct_format_time((int64_t)ev->ts_ns + eo->clock_off, tbuf, sizeof(tbuf));
	/* "HH:MM:SS.nnnnnnnnn": the date is noise in a stream. */
	fprintf(f, "%.18s %-11s", tbuf + 11, ev_type_name(ev->type));
	switch (ev->type) {
	case EV_CTX_CREATE: {
		const struct ev_ctx_create *c = &ev->ctx_create;

		fprintf(f, " %s %s parent=%s(%s)", id_str(c->id, a, sizeof(a)), ctx_kind_name(c->kind),
			id_str(c->parent, b, sizeof(b)), ctx_kind_name(c->parent_kind));
		if (c->kind == CTX_CUSTOM && c->type_name)
			fprintf(f, " type=%s", c->type_name);
		if (c->has_deadline) {
			ct_format_time(c->deadline_unix_ns, tbuf, sizeof(tbuf));
			fprintf(f, " deadline=%s", tbuf);
		}
		if (ev->goid)
			fprintf(f, " goid=%" PRIu64, ev->goid);
		if (c->preexisting)
			fputs(" preexisting", f);
		if (c->discovered)
			fputs(" discovered", f);
		if (c->replaces)
			fputs(" replaces", f);
		t_site(f, c->stack);
		break;
	}
	case EV_CTX_CANCEL: {
		const struct ev_ctx_cancel *c = &ev->ctx_cancel;

		fprintf(f, " %s %s%s err=\"%s\"", id_str(c->id, a, sizeof(a)),
			cancel_reason_name(c->reason), c->effective ? "" : " (already cancelled)",
			c->err ? c->err : "?");
		if (c->cause && (!c->err || strcmp(c->cause, c->err)))
			fprintf(f, " cause=\"%s\"", c->cause);
		if (ev->goid)
			fprintf(f, " goid=%" PRIu64, ev->goid);
		/* A timer's goroutine has no user frame to show. */
		if (c->reason != CANCEL_DEADLINE)
			t_site(f, c->stack);
		break;
	}
	case EV_CTX_DONE:
		fprintf(f, " %s goid=%" PRIu64, id_str(ev->ctx_done.id, a, sizeof(a)), ev->goid);
		t_site(f, ev->ctx_done.site);
		break;
	case EV_GO_CREATE: {
		const struct ev_go_create *g = &ev->go_create;

		fprintf(f, " goid=%" PRIu64 " parent=%" PRIu64 " start=%s", g->goid, g->parent_goid,
			g->start_func ? g->start_func : "?");
		if (g->preexisting)
			fputs(" preexisting", f);
		if (g->go_site && g->go_site->n)
			fprintf(f, " at %s (%s:%u)", g->go_site->frames[0].func ? g->go_site->frames[0].func : "?",
				g->go_site->frames[0].file ? g->go_site->frames[0].file : "?",
				g->go_site->frames[0].line);
		break;
	}
	case EV_GO_EXIT:
		fprintf(f, " goid=%" PRIu64, ev->go_exit.goid);
		break;
	case EV_LOST:
		fprintf(f, " ringbuf_drops=%" PRIu64 " read_errors=%" PRIu64 " decode_errors=%" PRIu64,
			ev->lost.ringbuf_drops, ev->lost.read_errors, ev->lost.decode_errors);
		break;
	case EV_TARGET_EXIT:
		fprintf(f, " pid=%u", ev->pid);
		break;
	default:
		break;
	}
	fputc('\n', f);
}

/* The write's own error (EPIPE when the reader went away, ENOSPC...): the
 * caller tells a closed pipe from a failure by it. */
static int write_error(struct events_out *eo)
{
	if (!eo->err)
		eo->err = errno ? -errno : -EIO;
	return eo->err;
}

int events_out__print(struct events_out *eo, const struct ct_event *ev)
{
	if (eo->err)
		return eo->err;
	errno = 0;
	if (eo->json)
		print_json(eo, ev);
	else
		print_text(eo, ev);
	return ferror(eo->f) ? write_error(eo) : 0;
}

int events_out__flush(struct events_out *eo)
{
	if (eo->err)
		return eo->err;
	errno = 0;
	if (fflush(eo->f) || ferror(eo->f))
		return write_error(eo);
	return 0;
}
