#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/hash.h"
#include "util/hashmap.h"
#include "util/intern.h"
#include "util/stack.h"

#define DEFAULT_BUDGET (64u << 20)
#define CHUNK_SIZE (64u << 10)

struct chunk {
	struct chunk *next;
	size_t used, size;
	char data[];
};

struct str_entry {
	uint64_t hash;
	size_t len;
	char s[];
};

struct intern {
	size_t budget, bytes;
	uint64_t refused;
	struct chunk *chunks;
	struct hmap strs, stacks; /* hash -> entry pointer */
};

static void *arena_alloc(struct intern *in, size_t size)
{
	struct chunk *c = in->chunks;
	void *p;

	size = (size + 7) & ~(size_t)7;
	if (!c || c->size - c->used < size) {
		size_t csize = size > CHUNK_SIZE / 4 ? size : CHUNK_SIZE;

		if (in->bytes + csize + sizeof(*c) > in->budget)
			return NULL;
		c = malloc(sizeof(*c) + csize);
		if (!c)
			return NULL;
		c->used = 0;
		c->size = csize;
		in->bytes += sizeof(*c) + csize;
		/* A big item gets its own chunk behind the current one, which keeps filling. */
		if (csize != CHUNK_SIZE && in->chunks) {
			c->next = in->chunks->next;
			in->chunks->next = c;
		} else {
			c->next = in->chunks;
			in->chunks = c;
		}
	}
	p = c->data + c->used;
	c->used += size;
	return p;
}

/* Room for one more entry, within the budget the tables count against too. */
static int table_reserve(struct intern *in, struct hmap *t)
{
	size_t grow = hmap__grow_bytes(t), before = hmap__bytes(t);

	if (!grow)
		return 0;
	if (in->bytes + grow > in->budget || hmap__reserve(t, 1))
		return -ENOMEM;
	in->bytes = in->bytes + hmap__bytes(t) - before;
	return 0;
}

struct intern *intern__new(size_t max_bytes)
{
	struct intern *in = calloc(1, sizeof(*in));

	if (!in)
		return NULL;
	in->budget = max_bytes ? max_bytes : DEFAULT_BUDGET;
	return in;
}

void intern__free(struct intern *in)
{
	struct chunk *c, *n;

	if (!in)
		return;
	for (c = in->chunks; c; c = n) {
		n = c->next;
		free(c);
	}
	hmap__free(&in->strs);
	hmap__free(&in->stacks);
	free(in);
}

struct str_key {
	const char *s;
	size_t n;
};

static bool str_eq(const void *cookie, uint64_t v)
{
	const struct str_key *k = cookie;
	const struct str_entry *e = (const struct str_entry *)(uintptr_t)v;

	return e->len == k->n && !memcmp(e->s, k->s, k->n);
}

const char *intern__strn(struct intern *in, const char *s, size_t n)
{
	struct str_key k = { s, n };
	struct str_entry *e;
	uint64_t h, *found;

	if (!s)
		return NULL;
	h = hmap_hash(ct_hash_bytes(s, n, 0x5a5a));
	found = hmap__find(&in->strs, h, str_eq, &k);
	if (found)
		return ((struct str_entry *)(uintptr_t)*found)->s;
	if (table_reserve(in, &in->strs))
		goto refused;
	e = arena_alloc(in, sizeof(*e) + n + 1);
	if (!e)
		goto refused;
	e->hash = h;
	e->len = n;
	memcpy(e->s, s, n);
	e->s[n] = '\0';
	hmap__add(&in->strs, h, (uintptr_t)e); /* reserved: cannot fail */
	return e->s;
refused:
	in->refused++;
	return NULL;
}

const char *intern__str(struct intern *in, const char *s)
{
	return s ? intern__strn(in, s, strlen(s)) : NULL;
}

static uint64_t hash_frames(const struct ct_frame *f, uint32_t n)
{
	uint64_t h = 0x1234567 ^ n;

	for (uint32_t i = 0; i < n; i++) {
		h = ct_mix64(h ^ (uintptr_t)f[i].func) * 31;
		h = ct_mix64(h ^ (uintptr_t)f[i].file ^ ((uint64_t)f[i].line << 1) ^ f[i].inlined);
	}
	return h;
}

static bool frames_eq(const struct ct_frame *a, const struct ct_frame *b, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		if (a[i].func != b[i].func || a[i].file != b[i].file || a[i].line != b[i].line ||
		    a[i].inlined != b[i].inlined)
			return false;
	}
	return true;
}

struct stack_key {
	const struct ct_frame *frames;
	uint32_t n;
};

static bool stack_eq(const void *cookie, uint64_t v)
{
	const struct stack_key *k = cookie;
	const struct ct_stack *st = (const struct ct_stack *)(uintptr_t)v;

	return st->n == k->n && frames_eq(st->frames, k->frames, k->n);
}

const struct ct_stack *intern__stack(struct intern *in, const struct ct_frame *frames, uint32_t n)
{
	struct stack_key k = { frames, n };
	uint64_t raw = hash_frames(frames, n), h = hmap_hash(raw), *found;
	struct ct_stack *st;

	found = hmap__find(&in->stacks, h, stack_eq, &k);
	if (found)
		return (const struct ct_stack *)(uintptr_t)*found;
	if (table_reserve(in, &in->stacks))
		goto refused;
	st = arena_alloc(in, sizeof(*st) + n * sizeof(st->frames[0]));
	if (!st)
		goto refused;
	st->n = n;
	st->hash = (uint32_t)(raw ^ (raw >> 32));
	if (n)
		memcpy(st->frames, frames, n * sizeof(st->frames[0]));
	hmap__add(&in->stacks, h, (uintptr_t)st); /* reserved: cannot fail */
	return st;
refused:
	in->refused++;
	return NULL;
}

void intern__stats(const struct intern *in, struct intern_stats *st)
{
	st->strings = in->strs.count;
	st->stacks = in->stacks.count;
	st->bytes = in->bytes;
	st->refused = in->refused;
}
