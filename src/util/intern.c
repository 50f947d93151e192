#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/hash.h"
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

/* Open addressing, power-of-two capacity, at most half full. */
struct table {
	void **slots;
	uint64_t *hashes;
	size_t cap, count;
};

struct intern {
	size_t budget, bytes;
	uint64_t refused;
	struct chunk *chunks;
	struct table strs, stacks;
};

static uint64_t hash_bytes(const void *p, size_t n, uint64_t seed)
{
	const unsigned char *s = p;
	uint64_t h = seed ^ (n * 0x9e3779b97f4a7c15ULL);
	uint64_t w;

	for (; n >= 8; n -= 8, s += 8) {
		memcpy(&w, s, 8);
		h = (h ^ ct_mix64(w)) * 0x9e3779b97f4a7c15ULL;
	}
	w = 0;
	memcpy(&w, s, n);
	return ct_mix64(h ^ ct_mix64(w ^ n));
}

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

static int table_grow(struct intern *in, struct table *t)
{
	size_t ncap = t->cap ? t->cap * 2 : 1024;
	size_t add = ncap * (sizeof(void *) + sizeof(uint64_t));
	void **slots;
	uint64_t *hashes;

	if (in->bytes + add > in->budget)
		return -ENOMEM;
	slots = calloc(ncap, sizeof(*slots));
	hashes = calloc(ncap, sizeof(*hashes));
	if (!slots || !hashes) {
		free(slots);
		free(hashes);
		return -ENOMEM;
	}
	for (size_t i = 0; i < t->cap; i++) {
		size_t j;

		if (!t->slots[i])
			continue;
		for (j = t->hashes[i] & (ncap - 1); slots[j]; j = (j + 1) & (ncap - 1))
			;
		slots[j] = t->slots[i];
		hashes[j] = t->hashes[i];
	}
	in->bytes += add;
	in->bytes -= t->cap * (sizeof(void *) + sizeof(uint64_t));
	free(t->slots);
	free(t->hashes);
	t->slots = slots;
	t->hashes = hashes;
	t->cap = ncap;
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
	free(in->strs.slots);
	free(in->strs.hashes);
	free(in->stacks.slots);
	free(in->stacks.hashes);
	free(in);
}

const char *intern__strn(struct intern *in, const char *s, size_t n)
{
	struct table *t = &in->strs;
	uint64_t h;
	size_t i;
	struct str_entry *e;

	if (!s)
		return NULL;
	h = hash_bytes(s, n, 0x5a5a);
	if (t->cap) {
		for (i = h & (t->cap - 1); t->slots[i]; i = (i + 1) & (t->cap - 1)) {
			e = t->slots[i];
			if (t->hashes[i] == h && e->len == n && !memcmp(e->s, s, n))
				return e->s;
		}
	}
	if ((t->count + 1) * 2 > t->cap && table_grow(in, t))
		goto refused;
	e = arena_alloc(in, sizeof(*e) + n + 1);
	if (!e)
		goto refused;
	e->hash = h;
	e->len = n;
	memcpy(e->s, s, n);
	e->s[n] = '\0';
	for (i = h & (t->cap - 1); t->slots[i]; i = (i + 1) & (t->cap - 1))
		;
	t->slots[i] = e;
	t->hashes[i] = h;
	t->count++;
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

const struct ct_stack *intern__stack(struct intern *in, const struct ct_frame *frames, uint32_t n)
{
	struct table *t = &in->stacks;
	uint64_t h = hash_frames(frames, n);
	struct ct_stack *st;
	size_t i;

	if (t->cap) {
		for (i = h & (t->cap - 1); t->slots[i]; i = (i + 1) & (t->cap - 1)) {
			st = t->slots[i];
			if (t->hashes[i] == h && st->n == n && frames_eq(st->frames, frames, n))
				return st;
		}
	}
	if ((t->count + 1) * 2 > t->cap && table_grow(in, t))
		goto refused;
	st = arena_alloc(in, sizeof(*st) + n * sizeof(st->frames[0]));
	if (!st)
		goto refused;
	st->n = n;
	st->hash = (uint32_t)(h ^ (h >> 32));
	if (n)
		memcpy(st->frames, frames, n * sizeof(st->frames[0]));
	for (i = h & (t->cap - 1); t->slots[i]; i = (i + 1) & (t->cap - 1))
		;
	t->slots[i] = st;
	t->hashes[i] = h;
	t->count++;
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
