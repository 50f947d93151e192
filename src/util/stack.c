/* Frames and stacks as JSON, the same in every document that has them. */
#include "util/json.h"
#include "util/stack.h"

void ct_frame__json(struct json_w *w, const struct ct_frame *f)
{
	if (!f) {
		json_w__null(w);
		return;
	}
	json_w__obj_open(w);
	json_w__kv_str(w, "func", f->func);
	json_w__kv_str(w, "file", f->file);
	json_w__kv_uint(w, "line", f->line);
	if (f->inlined)
		json_w__kv_bool(w, "inlined", true);
	json_w__obj_close(w);
}

void ct_stack__json(struct json_w *w, const struct ct_stack *st)
{
	if (!st) {
		json_w__null(w);
		return;
	}
	json_w__arr_open(w);
	for (uint32_t i = 0; i < st->n; i++)
		ct_frame__json(w, &st->frames[i]);
	json_w__arr_close(w);
}

void ct_frame__kv_json(struct json_w *w, const char *key, const struct ct_frame *f)
{
	json_w__key(w, key);
	ct_frame__json(w, f);
}

void ct_stack__kv_json(struct json_w *w, const char *key, const struct ct_stack *st)
{
	json_w__key(w, key);
	ct_stack__json(w, st);
}
