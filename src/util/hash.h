/* The one hash function family: every table and cache hashes through these. */
#ifndef CT_HASH_H
#define CT_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The 64-bit finalizer of MurmurHash3: spreads every input bit over the output. */
static inline uint64_t ct_mix64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

/* Folds v into h (order matters). */
static inline uint64_t ct_hash_combine(uint64_t h, uint64_t v)
{
	return ct_mix64(h ^ (v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2)));
}

/* n bytes at p, 8 at a time. */
uint64_t ct_hash_bytes(const void *p, size_t n, uint64_t seed);

static inline uint64_t ct_hash_str(const char *s)
{
	return s ? ct_hash_bytes(s, strlen(s), 0) : 0;
}

#endif
