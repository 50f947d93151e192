/* Alert printers: JSON (docs/alerts.md) and text. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "output/alert_out.h"
#include "rules/rules.h"
#include "util/fmt.h"
#include "util/json.h"
#include "util/stack.h"

static void iso_time(char *buf, size_t size, int64_t unix_ns)
{
	time_t s = (time_t)(unix_ns / 1000000000LL);
	struct tm tm;
	char tmp[32];

	gmtime_r(&s, &tm);
	strftime(tmp, sizeof(tmp), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, size, "%s.%03dZ", tmp, (int)((unix_ns / 1000000LL) % 1000));
}

static void kv_time(struct json_w *w, const char *key, int64_t unix_ns)
{
	char t[48];

	if (!unix_ns) {
		json_w__key(w, key);
		json_w__null(w);
		return;
	}
	iso_time(t, sizeof(t), unix_ns);
	json_w__kv_str(w, key, t);
}

static void kv_range_ms(struct json_w *w, const char *key, uint64_t lo, uint64_t hi)
{
	json_w__key(w, key);
	if (!hi) {
		json_w__null(w);
		return;
	}
	json_w__obj_open(w);
	json_w__kv_uint(w, "min", lo / 1000000);
	json_w__kv_uint(w, "max", hi / 1000000);
	json_w__obj_close(w);
}

static void ctx_json(struct json_w *w, const char *key, const struct alert_ctx *c)
{
	json_w__key(w, key);
	if (!c->known) {
		json_w__null(w);
		return;
	}
	json_w__obj_open(w);
	json_w__kv_hex(w, "id", c->id);
	json_w__kv_str(w, "kind", ctx_kind_name(c->kind));
	json_w__kv_str(w, "type", c->type_name);
	json_w__kv_str(w, "parent_kind", ctx_kind_name(c->parent_kind));
	ct_frame__kv_json(w, "created_at", c->site);
	ct_stack__kv_json(w, "stack", c->stack);
	if (c->has_deadline)
		kv_time(w, "deadline", c->deadline_unix_ns);
	json_w__kv_bool(w, "cancelled", c->cancelled);
	if (c->cancelled) {
		kv_time(w, "cancelled_at", c->cancelled_unix_ns);
		json_w__kv_str(w, "cancel_reason", cancel_reason_name(c->reason));
		json_w__kv_str(w, "err", c->err);
		json_w__kv_str(w, "cause", c->cause);
		ct_frame__kv_json(w, "cancel_site", c->cancel_site);
		ct_stack__kv_json(w, "cancel_stack", c->cancel_stack);
	}
	json_w__kv_bool(w, "cancel_called", c->cancel_called);
	json_w__obj_close(w);
}

static void block_json(struct json_w *w, const struct alert_block *b)
{
	json_w__obj_open(w);
	json_w__kv_uint(w, "count", b->count);
	json_w__kv_str(w, "wait_reason", b->wait_reason);
	json_w__kv_str(w, "syscall", b->syscall);
	ct_frame__kv_json(w, "site", b->site);
	ct_stack__kv_json(w, "stack", b->stack);
	json_w__obj_close(w);
}

void alert_out__json_members(struct json_w *w, const struct alert *a)
{
	char t[48];

	json_w__kv_str(w, "type", "alert");
	json_w__kv_int(w, "version", ALERT_JSON_VERSION);
	json_w__kv_str(w, "rule", rule_name(a->rule));
	json_w__kv_str(w, "source", a->source == ALERT_SRC_MEMORY ? "memory" : "probes");
	json_w__kv_str(w, "id", a->id);
	json_w__kv_int(w, "pid", a->pid);
	iso_time(t, sizeof(t), a->time_unix_ns);
	json_w__kv_str(w, "time", t);
	json_w__kv_uint(w, "count", a->count);
	json_w__kv_bool(w, "first", a->first);
	if (a->sampled)
		json_w__kv_bool(w, "sampled", true);
	json_w__kv_str(w, "severity", severity_name(a->severity));
	json_w__kv_str(w, "message", a->message);
	ctx_json(w, "context", &a->ctx);
	if (a->rule == RULE_LINEAGE_BREAK || a->rule == RULE_PROPAGATE_GOROUTINE)
		ctx_json(w, a->rule == RULE_LINEAGE_BREAK ? "scope" : "parent", &a->scope);
	if (a->rule == RULE_OUTLIVED_CONTEXT || a->rule == RULE_UNREACHABLE_CANCEL ||
	    a->rule == RULE_PROPAGATE_GOROUTINE || a->rule == RULE_STUCK_GOROUTINES) {
		json_w__key(w, "goroutine");
		json_w__obj_open(w);
		ct_frame__kv_json(w, "go_site", a->go_site && a->go_site->n ? &a->go_site->frames[0] : NULL);
		ct_stack__kv_json(w, "go_stack", a->go_site);
		json_w__kv_str(w, "start_func", a->start_func);
		json_w__obj_close(w);
	}
	if (a->rule == RULE_OUTLIVED_CONTEXT || a->rule == RULE_UNREACHABLE_CANCEL ||
	    a->rule == RULE_STUCK_GOROUTINES) {
		json_w__key(w, "blocking");
		json_w__arr_open(w);
		for (int i = 0; i < a->nblocks; i++)
			block_json(w, &a->blocks[i]);
		json_w__arr_close(w);
	}
	if (a->rule != RULE_LINEAGE_BREAK && a->rule != RULE_LOST_CANCEL) {
		json_w__key(w, "durations_ms");
		json_w__obj_open(w);
		kv_range_ms(w, a->rule == RULE_PROPAGATE_GOROUTINE ? "alive" : "since_cancel",
			    a->outlived_min_ns, a->outlived_max_ns);
		if (a->rule != RULE_PROPAGATE_GOROUTINE) {
			kv_range_ms(w, "waiting", a->waiting_min_ns, a->waiting_max_ns);
			kv_range_ms(w, "syscall", a->syscall_min_ns, a->syscall_max_ns);
		}
		json_w__obj_close(w);
	}
	if (a->source == ALERT_SRC_MEMORY) {
		json_w__key(w, "memory");
		json_w__obj_open(w);
		json_w__kv_uint(w, "previous_count", a->prev_count);
		json_w__kv_uint(w, "age_unknown", a->age_unknown);
		json_w__kv_uint(w, "leaked", a->leaked);
		if (a->rule == RULE_LOST_CANCEL)
			json_w__kv_int(w, "children", a->children);
		if (a->rule == RULE_STUCK_GOROUTINES) {
			json_w__kv_bool(w, "context_found", false);
			/* a weaker tie (docs/alerts.md): the parent's frame that started them */
			json_w__kv_uint(w, "ancestry_count", a->ancestry_count);
			if (a->ancestry_count) {
				json_w__kv_uint(w, "ancestry_parent_goid", a->ancestry_parent_goid);
				ctx_json(w, "ancestry_context", &a->ancestry);
			}
		}
		json_w__obj_close(w);
	}
	if (a->rule == RULE_LOST_CANCEL) {
		json_w__kv_uint(w, "live", a->live);
		json_w__kv_uint(w, "expired", a->expired);
		json_w__kv_uint(w, "collected", a->collected);
		json_w__key(w, "waiters");
		json_w__obj_open(w);
		json_w__kv_uint(w, "count", a->nwaiters_total);
		json_w__key(w, "groups");
		json_w__arr_open(w);
		for (int i = 0; i < a->nwaiters; i++) {
			const struct alert_waiter *x = &a->waiters[i];

			json_w__obj_open(w);
			json_w__kv_uint(w, "count", x->block.count);
			ct_frame__kv_json(w, "go_site", x->go_site);
			json_w__kv_str(w, "start_func", x->start_func);
			json_w__kv_str(w, "wait_reason", x->block.wait_reason);
			ct_frame__kv_json(w, "site", x->block.site);
			ct_stack__kv_json(w, "stack", x->block.stack);
			json_w__obj_close(w);
		}
		json_w__arr_close(w);
		json_w__obj_close(w);
	}
}

int alert_out__json(FILE *f, const struct alert *a, bool pretty)
{
	struct json_w *w = json_w__new(f, pretty);

	if (!w)
		return -ENOMEM;
	json_w__obj_open(w);
	alert_out__json_members(w, a);
	json_w__obj_close(w);
	json_w__free(w);
	return ferror(f) ? -EIO : 0;
}

static void frame_text(FILE *f, const struct ct_frame *fr)
{
	if (!fr)
		fputs("?", f);
	else
		fprintf(f, "%s:%u (%s)", file_base(fr->file), fr->line, fr->func ? fr->func : "?");
}

static void ctx_text(FILE *f, const char *label, const struct alert_ctx *c, int64_t now)
{
	if (!c->known)
		return;
	fprintf(f, "  %-10s %s context created at ", label, ctx_kind_name(c->kind));
	if (c->site)
		frame_text(f, c->site);
	else
		fprintf(f, "an unknown site (%s at 0x%llx)", c->type_name ? c->type_name : "?",
			(unsigned long long)c->id);
	if (c->cancelled && !c->cancelled_unix_ns) {
		fprintf(f, ", cancelled (%s)", c->err ? c->err : "?");
	} else if (c->cancelled) {
		double ago = (double)(now - c->cancelled_unix_ns) / 1e9;

		fprintf(f, ", cancelled %.1fs ago (%s", ago, cancel_reason_name(c->reason));
		if (c->reason == CANCEL_EXPLICIT && c->cancel_site) {
			fputs(" at ", f);
			frame_text(f, c->cancel_site);
		}
		fputc(')', f);
	} else {
		fputs(", live", f);
	}
	fputc('\n', f);
}

int alert_out__text(FILE *f, const struct alert *a)
{
	fprintf(f, "[%s] %s x%u  id %s  pid %d%s%s\n", severity_name(a->severity), rule_name(a->rule),
		a->count, a->id, a->pid, a->first ? "" : "  (grew)",
		a->sampled ? "  (sampled: probes part-time, see --max-overhead)" : "");
	fprintf(f, "  %s\n", a->message);
	if (a->source == ALERT_SRC_MEMORY)
		fprintf(f, "  %-10s memory%s\n", "source:",
			a->prev_count ? " (grew since the previous judgement)" : "");
	ctx_text(f, a->rule == RULE_PROPAGATE_GOROUTINE ? "derived:" : "context:", &a->ctx, a->time_unix_ns);
	if (a->rule == RULE_LINEAGE_BREAK)
		ctx_text(f, "scope:", &a->scope, a->time_unix_ns);
	if (a->rule == RULE_PROPAGATE_GOROUTINE && a->scope.known)
		fprintf(f, "  %-10s %s\n", "parent:", a->scope.type_name ? a->scope.type_name : "?");
	if (a->go_site && a->go_site->n) {
		fprintf(f, "  %-10s go statement at ", "goroutine:");
		frame_text(f, &a->go_site->frames[0]);
		fputc('\n', f);
	}
	for (int i = 0; i < a->nblocks; i++) {
		const struct alert_block *b = &a->blocks[i];

		fprintf(f, "  %-10s %u in %s%s%s", i ? "" : "blocked:", b->count, b->wait_reason,
			b->syscall ? " " : "", b->syscall ? b->syscall : "");
		if (b->site) {
			fputs(" at ", f);
			frame_text(f, b->site);
		}
		fputc('\n', f);
	}
	for (int i = 0; i < a->nwaiters; i++) {
		const struct alert_waiter *x = &a->waiters[i];

		fprintf(f, "  %-10s %u goroutines from go at ", i ? "" : "waiting:", x->block.count);
		frame_text(f, x->go_site);
		if (x->block.site) {
			fprintf(f, " wait%s%s at ", x->block.wait_reason ? " in " : "",
				x->block.wait_reason ? x->block.wait_reason : "");
			frame_text(f, x->block.site);
		}
		fputc('\n', f);
	}
	return ferror(f) ? -EIO : 0;
}

static char *to_str(const struct alert *a, bool json)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int err;

	if (!f)
		return NULL;
	err = json ? alert_out__json(f, a, false) : alert_out__text(f, a);
	if (fclose(f) || err) {
		free(buf);
		return NULL;
	}
	return buf;
}

char *alert_out__json_str(const struct alert *a)
{
	return to_str(a, true);
}

char *alert_out__text_str(const struct alert *a)
{
	return to_str(a, false);
}
