/* One hash map for every table: open addressing with linear probing, a
 * power-of-two capacity at most half full, deletion by backward shift (no
 * tombstones, so lookups never slow down with churn).
 *
 * A slot holds a 64-bit hash and a 64-bit value (an index, a pointer, a key).
 * The caller hashes its key (util/hash.h) and, for keys that are not integers,
 * tells equal keys apart with an eq callback on the stored value. Integer keys
 * need no callback: hmap_key() is a bijection, so equal hashes are equal keys.
 * Hash 0 marks an empty slot: hmap_hash() and hmap_key() never return it. */
#ifndef CT_UTIL_HASHMAP_H
#define CT_UTIL_HASHMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/hash.h"

struct hmap {
	uint64_t *hash; /* 0: empty */
	uint64_t *val;
	size_t cap;     /* 0 or a power of two */
	size_t count;
};

/* Does the stored value v hold the key the caller looks for? */
typedef bool (*hmap_eq_fn)(const void *cookie, uint64_t v);

/* A hash of any 64-bit quantity, never 0. */
static inline uint64_t hmap_hash(uint64_t h)
{
	h = ct_mix64(h);
	return h ? h : 1;
}

/* The hash of a non-zero integer key: ct_mix64 is invertible and maps only 0 to
 * 0, so distinct keys have distinct hashes. */
static inline uint64_t hmap_key(uint64_t key)
{
	return ct_mix64(key);
}

/* An empty map ({0} is one too); cap_hint entries fit without growing. 0 or -ENOMEM. */
int hmap__init(struct hmap *m, size_t cap_hint);
void hmap__free(struct hmap *m); /* the map is empty and usable again */
void hmap__clear(struct hmap *m); /* keeps the memory */

/* The value slot of the entry with this hash for which eq holds (eq NULL: the
 * hash alone decides, for hmap_key hashes); NULL when there is none. */
uint64_t *hmap__find(const struct hmap *m, uint64_t hash, hmap_eq_fn eq, const void *cookie);
/* Adds an entry; the caller made sure its key is not in the map. Grows when
 * needed: 0 or -ENOMEM (the map is unchanged then). */
int hmap__add(struct hmap *m, uint64_t hash, uint64_t val);
/* Room for n more entries without allocating in hmap__add. 0 or -ENOMEM. */
int hmap__reserve(struct hmap *m, size_t n);
/* Removes the entry found as by hmap__find; false when there is none. */
bool hmap__remove(struct hmap *m, uint64_t hash, hmap_eq_fn eq, const void *cookie);

/* Bytes held, and the bytes the next hmap__add would allocate (0 when it
 * needs none): for tables with a memory budget. */
size_t hmap__bytes(const struct hmap *m);
size_t hmap__grow_bytes(const struct hmap *m);

/* Iteration: i from 0 while hmap__next(m, &i, &hash, &val); entries in slot order.
 * The map must not change meanwhile. */
bool hmap__next(const struct hmap *m, size_t *i, uint64_t *hash, uint64_t *val);

/* Integer keys (non-zero) mapped to values: the common case. */
static inline uint64_t *hmap__get_u64(const struct hmap *m, uint64_t key)
{
	return hmap__find(m, hmap_key(key), NULL, NULL);
}

static inline int hmap__put_u64(struct hmap *m, uint64_t key, uint64_t val)
{
	uint64_t *v = hmap__get_u64(m, key);

	if (v) {
		*v = val;
		return 0;
	}
	return hmap__add(m, hmap_key(key), val);
}

static inline bool hmap__del_u64(struct hmap *m, uint64_t key)
{
	return hmap__remove(m, hmap_key(key), NULL, NULL);
}

#endif
