/* Hashing shared by the hash tables (intern, decoder caches). */
#ifndef CT_HASH_H
#define CT_HASH_H

#include <stdint.h>

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

#endif
