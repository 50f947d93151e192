#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/hashmap.h"

#define MIN_CAP 16

static size_t pow2_at_least(size_t n)
{
	size_t c = MIN_CAP;

	while (c < n && c <= SIZE_MAX / 4)
		c <<= 1;
	return c;
}

/* Rehashes into a table of ncap slots. */
static int resize(struct hmap *m, size_t ncap)
{
	uint64_t *h = calloc(ncap, sizeof(*h)), *v = malloc(ncap * sizeof(*v));

	if (!h || !v) {
		free(h);
		free(v);
		return -ENOMEM;
	}
	for (size_t i = 0; i < m->cap; i++) {
		size_t j;

		if (!m->hash[i])
			continue;
		for (j = m->hash[i] & (ncap - 1); h[j]; j = (j + 1) & (ncap - 1))
			;
		h[j] = m->hash[i];
		v[j] = m->val[i];
	}
	free(m->hash);
	free(m->val);
	m->hash = h;
	m->val = v;
	m->cap = ncap;
	return 0;
}

int hmap__init(struct hmap *m, size_t cap_hint)
{
	memset(m, 0, sizeof(*m));
	return cap_hint ? resize(m, pow2_at_least(cap_hint * 2)) : 0;
}

void hmap__free(struct hmap *m)
{
	free(m->hash);
	free(m->val);
	memset(m, 0, sizeof(*m));
}

void hmap__clear(struct hmap *m)
{
	if (m->cap)
		memset(m->hash, 0, m->cap * sizeof(*m->hash));
	m->count = 0;
}

/* The slot of the entry, or of the empty slot that ends its probe run. */
static size_t probe(const struct hmap *m, uint64_t hash, hmap_eq_fn eq, const void *cookie)
{
	size_t mask = m->cap - 1, i;

	for (i = hash & mask; m->hash[i]; i = (i + 1) & mask) {
		if (m->hash[i] == hash && (!eq || eq(cookie, m->val[i])))
			break;
	}
	return i;
}

uint64_t *hmap__find(const struct hmap *m, uint64_t hash, hmap_eq_fn eq, const void *cookie)
{
	size_t i;

	if (!m->cap || !hash)
		return NULL;
	i = probe(m, hash, eq, cookie);
	return m->hash[i] ? &m->val[i] : NULL;
}

size_t hmap__grow_bytes(const struct hmap *m)
{
	if ((m->count + 1) * 2 <= m->cap)
		return 0;
	return (m->cap ? m->cap * 2 : MIN_CAP) * 2 * sizeof(uint64_t);
}

size_t hmap__bytes(const struct hmap *m)
{
	return m->cap * 2 * sizeof(uint64_t);
}

int hmap__reserve(struct hmap *m, size_t n)
{
	size_t ncap = m->cap ? m->cap : MIN_CAP;

	if (n > SIZE_MAX / 4 - m->count)
		return -ENOMEM;
	while ((m->count + n) * 2 > ncap) {
		if (ncap > SIZE_MAX / 4)
			return -ENOMEM;
		ncap *= 2;
	}
	return ncap != m->cap ? resize(m, ncap) : 0;
}

int hmap__add(struct hmap *m, uint64_t hash, uint64_t val)
{
	size_t mask, i;

	if (!hash)
		return -EINVAL;
	if ((m->count + 1) * 2 > m->cap) {
		if (m->cap > SIZE_MAX / 4 || resize(m, m->cap ? m->cap * 2 : MIN_CAP))
			return -ENOMEM;
	}
	mask = m->cap - 1;
	for (i = hash & mask; m->hash[i]; i = (i + 1) & mask)
		;
	m->hash[i] = hash;
	m->val[i] = val;
	m->count++;
	return 0;
}

bool hmap__remove(struct hmap *m, uint64_t hash, hmap_eq_fn eq, const void *cookie)
{
	size_t mask, i, j;

	if (!m->cap || !hash)
		return false;
	mask = m->cap - 1;
	i = probe(m, hash, eq, cookie);
	if (!m->hash[i])
		return false;
	/* Backward shift: move later entries of the run into the hole when their
	 * home slot does not lie (cyclically) between the hole and them. */
	for (j = (i + 1) & mask; m->hash[j]; j = (j + 1) & mask) {
		size_t home = m->hash[j] & mask;

		if (((j - home) & mask) >= ((j - i) & mask)) {
			m->hash[i] = m->hash[j];
			m->val[i] = m->val[j];
			i = j;
		}
	}
	m->hash[i] = 0;
	m->count--;
	return true;
}

bool hmap__next(const struct hmap *m, size_t *i, uint64_t *hash, uint64_t *val)
{
	for (; *i < m->cap; (*i)++) {
		if (m->hash[*i]) {
			if (hash)
				*hash = m->hash[*i];
			if (val)
				*val = m->val[*i];
			(*i)++;
			return true;
		}
	}
	return false;
}
