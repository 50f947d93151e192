#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "events/event.h"
#include "output/events_out.h"
#include "util/json.h"

struct events_out {
	FILE *f;
	bool json;
	int64_t clock_off;
	struct json_w *w;
};

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

struct events_out *events_out__new(FILE *f, bool json)
{
	struct events_out *eo = calloc(1, sizeof(*eo));

	if (!eo)
		return NULL;
	eo->f = f;
	eo->json = json;
	eo->clock_off = clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_MONOTONIC);
	eo->w = json_w__new(f, false);
	if (!eo->w) {
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
	json_w__free(eo->w);
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

/* ---- JSON ---- */

static void j_id(struct json_w *w, const char *k, uint64_t id)
{
	json_w__key(w, k);
	if (id)
		json_w__hex(w, id);
	else
		json_w__null(w);
}

static void j_uint_or_null(struct json_w *w, const char *k, uint64_t v)
{
	json_w__key(w, k);
	if (v)
		json_w__uint(w, v);
	else
		json_w__null(w);
}

static void j_frame(struct json_w *w, const struct ct_frame *f)
{
	json_w__obj_open(w);
	json_w__kv_str(w, "func", f->func);
	json_w__kv_str(w, "file", f->file);
	json_w__kv_uint(w, "line", f->line);
	json_w__kv_bool(w, "inlined", f->inlined);
	json_w__obj_close(w);
}

static void j_stack(struct json_w *w, const char *k, const struct ct_stack *st)
{
	json_w__key(w, k);
	if (!st) {
		json_w__null(w);
		return;
	}
	json_w__arr_open(w);
	for (uint32_t i = 0; i < st->n; i++)
		j_frame(w, &st->frames[i]);
	json_w__arr_close(w);
}

static void print_json(struct events_out *eo, const struct ct_event *ev)
{
	struct json_w *w = eo->w;
	char tbuf[48];

	json_w__obj_open(w);
	json_w__kv_str(w, "type", ev_type_name(ev->type));
	json_w__kv_uint(w, "pid", ev->pid);
	ct_format_time((int64_t)ev->ts_ns + eo->clock_off, tbuf, sizeof(tbuf));
	json_w__kv_str(w, "time", tbuf);
	json_w__kv_uint(w, "ts_ns", ev->ts_ns);
	switch (ev->type) {
	case EV_CTX_CREATE: {
		const struct ev_ctx_create *c = &ev->ctx_create;

		j_id(w, "id", c->id);
		json_w__kv_str(w, "kind", ctx_kind_name(c->kind));
		/* "type" is the event type: the Go type gets its own key. */
		json_w__kv_str(w, "go_type", c->type_name);
		j_id(w, "parent", c->parent);
		json_w__kv_str(w, "parent_kind", ctx_kind_name(c->parent_kind));
		j_id(w, "ancestor", c->ancestor);
		json_w__kv_str(w, "ancestor_kind", ctx_kind_name(c->ancestor_kind));
		json_w__key(w, "deadline");
		if (c->has_deadline) {
			ct_format_time(c->deadline_unix_ns, tbuf, sizeof(tbuf));
			json_w__str(w, tbuf);
			json_w__kv_int(w, "deadline_unix_ns", c->deadline_unix_ns);
		} else {
			json_w__null(w);
			json_w__key(w, "deadline_unix_ns");
			json_w__null(w);
		}
		j_uint_or_null(w, "goid", ev->goid);
		json_w__kv_bool(w, "preexisting", c->preexisting);
		json_w__kv_bool(w, "discovered", c->discovered);
		j_stack(w, "stack", c->stack);
		break;
	}
	case EV_CTX_CANCEL: {
		const struct ev_ctx_cancel *c = &ev->ctx_cancel;

		j_id(w, "id", c->id);
		json_w__kv_str(w, "reason", cancel_reason_name(c->reason));
		json_w__kv_bool(w, "effective", c->effective);
		json_w__kv_str(w, "err", c->err);
		json_w__kv_str(w, "cause", c->cause);
		j_uint_or_null(w, "goid", ev->goid);
		j_stack(w, "stack", c->stack);
		break;
	}
	case EV_CTX_DONE:
		j_id(w, "id", ev->ctx_done.id);
		j_uint_or_null(w, "goid", ev->goid);
		j_stack(w, "site", ev->ctx_done.site);
		break;
	case EV_GO_CREATE: {
		const struct ev_go_create *g = &ev->go_create;

		json_w__kv_uint(w, "goid", g->goid);
		j_uint_or_null(w, "parent_goid", g->parent_goid);
		json_w__key(w, "go_site");
		if (g->go_site && g->go_site->n)
			j_frame(w, &g->go_site->frames[0]);
		else
			json_w__null(w);
		j_stack(w, "go_stack", g->go_site);
		json_w__kv_str(w, "start_func", g->start_func);
		json_w__kv_bool(w, "preexisting", g->preexisting);
		break;
	}
	case EV_GO_EXIT:
		json_w__kv_uint(w, "goid", ev->go_exit.goid);
		break;
	case EV_LOST:
		json_w__kv_uint(w, "ringbuf_drops", ev->lost.ringbuf_drops);
		json_w__kv_uint(w, "read_errors", ev->lost.read_errors);
		json_w__kv_uint(w, "decode_errors", ev->lost.decode_errors);
		break;
	case EV_TARGET_EXIT:
	default:
		break;
	}
	json_w__obj_close(w);
	fputc('\n', eo->f);
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

int events_out__print(struct events_out *eo, const struct ct_event *ev)
{
	if (eo->json)
		print_json(eo, ev);
	else
		print_text(eo, ev);
	return ferror(eo->f) ? -EIO : 0;
}

int events_out__flush(struct events_out *eo)
{
	if (fflush(eo->f) || ferror(eo->f))
		return errno ? -errno : -EIO;
	return 0;
}
