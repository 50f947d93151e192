/* util/hashmap.h against a plain array as the reference: random adds, lookups
 * and removals (backward-shift deletion across the wrap-around), colliding
 * hashes told apart by eq, iteration, and the byte accounting budgets use. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "util/array.h"
#include "util/hashmap.h"

#define N 4000

struct ref {
	uint64_t key[N];
	uint64_t val[N];
	bool live[N];
};

static uint64_t rng_state = 0x243f6a8885a308d3ULL;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void check_all(const struct hmap *m, const struct ref *r)
{
	size_t live = 0;

	for (int k = 0; k < N; k++) {
		uint64_t *v = hmap__get_u64(m, r->key[k]);

		if (r->live[k]) {
			live++;
			assert_non_null(v);
			assert_int_equal(*v, r->val[k]);
		} else {
			assert_null(v);
		}
	}
	assert_int_equal(m->count, live);
}

static void test_random_against_reference(void **state)
{
	struct hmap m = { 0 };
	static struct ref r;

	/* Keys from a small range so adds and removes of the same key interleave;
	 * key k is k+1: never 0. */
	for (int k = 0; k < N; k++)
		r.key[k] = (uint64_t)k * 0x100000001ULL + 1;
	for (int step = 0; step < 200000; step++) {
		int k = (int)(rnd() % N);

		switch (rnd() % 3) {
		case 0:
		case 1:
			r.val[k] = rnd();
			assert_int_equal(hmap__put_u64(&m, r.key[k], r.val[k]), 0);
			r.live[k] = true;
			break;
		default:
			assert_int_equal(hmap__del_u64(&m, r.key[k]), r.live[k]);
			r.live[k] = false;
		}
		if (step % 20000 == 0)
			check_all(&m, &r);
	}
	check_all(&m, &r);
	assert_true(m.count * 2 <= m.cap);
	hmap__free(&m);
	assert_int_equal(m.cap, 0);
	assert_null(hmap__get_u64(&m, 1));
}

/* Every entry hashes to the same few slots near the end of a small table: runs
 * wrap around, and removing from their middle must keep the rest findable. */
struct coll {
	uint64_t want;
};

static bool eq_val(const void *cookie, uint64_t v)
{
	return ((const struct coll *)cookie)->want == v;
}

static void test_collisions_and_wraparound(void **state)
{
	struct hmap m = { 0 };
	uint64_t hashes[3] = { 15, 14, 31 }; /* same home slots in a 16- or 32-slot table */

	assert_int_equal(hmap__init(&m, 7), 0);
	assert_int_equal(m.cap, 16);
	for (uint64_t v = 1; v <= 7; v++)
		assert_int_equal(hmap__add(&m, hashes[v % 3], v), 0);
	assert_int_equal(m.cap, 16);
	for (uint64_t v = 1; v <= 7; v++) {
		struct coll c = { v };
		uint64_t *p = hmap__find(&m, hashes[v % 3], eq_val, &c);

		assert_non_null(p);
		assert_int_equal(*p, v);
	}
	for (uint64_t v = 2; v <= 7; v += 2) {
		struct coll c = { v };

		assert_true(hmap__remove(&m, hashes[v % 3], eq_val, &c));
		assert_false(hmap__remove(&m, hashes[v % 3], eq_val, &c));
	}
	for (uint64_t v = 1; v <= 7; v++) {
		struct coll c = { v };
		uint64_t *p = hmap__find(&m, hashes[v % 3], eq_val, &c);

		if (v % 2)
			assert_non_null(p);
		else
			assert_null(p);
	}
	assert_int_equal(m.count, 4);
	hmap__free(&m);
}

static void test_iteration_and_bytes(void **state)
{
	struct hmap m = { 0 };
	size_t i = 0, n = 0;
	uint64_t h, v, sum = 0;

	assert_int_equal(hmap__grow_bytes(&m), 16 * 2 * sizeof(uint64_t));
	assert_int_equal(hmap__add(&m, 0, 1), -EINVAL);
	for (uint64_t k = 1; k <= 8; k++)
		assert_int_equal(hmap__add(&m, hmap_key(k), k * 10), 0);
	assert_int_equal(hmap__bytes(&m), 16 * 2 * sizeof(uint64_t));
	/* The ninth entry would pass half of 16 slots. */
	assert_int_equal(hmap__grow_bytes(&m), 32 * 2 * sizeof(uint64_t));
	while (hmap__next(&m, &i, &h, &v)) {
		n++;
		sum += v;
		assert_non_null(hmap__find(&m, h, NULL, NULL));
	}
	assert_int_equal(n, 8);
	assert_int_equal(sum, 360);
	hmap__clear(&m);
	assert_int_equal(m.count, 0);
	assert_null(hmap__get_u64(&m, 3));
	assert_int_equal(hmap__reserve(&m, 100), 0);
	assert_int_equal(m.cap, 256);
	for (uint64_t k = 1; k <= 100; k++)
		assert_int_equal(hmap__add(&m, hmap_key(k), k), 0);
	assert_int_equal(m.cap, 256);
	assert_int_equal(hmap__grow_bytes(&m), 0);
	assert_int_not_equal(hmap_hash(0), 0);
	assert_int_not_equal(hmap_key(1), hmap_key(2));
	hmap__free(&m);
}

/* util/array.h, the other container: doubling, zeroed growth, refusal. */
static void test_array_reserve(void **state)
{
	uint64_t *a = NULL;
	uint32_t cap = 0;

	assert_int_equal(array_reserve(&a, &cap, 5, sizeof(*a), 4), 0);
	assert_int_equal(cap, 8);
	for (uint32_t i = 0; i < cap; i++)
		assert_int_equal(a[i], 0);
	a[7] = 42;
	assert_int_equal(array_reserve(&a, &cap, 8, sizeof(*a), 4), 0);
	assert_int_equal(cap, 8);
	assert_int_equal(array_reserve(&a, &cap, 9, sizeof(*a), 4), 0);
	assert_int_equal(cap, 16);
	assert_int_equal(a[7], 42);
	assert_int_equal(a[8], 0);
	assert_int_equal(array_reserve(&a, &cap, UINT32_MAX, SIZE_MAX / 2, 4), -ENOMEM);
	assert_int_equal(cap, 16);
	free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_against_reference),
		cmocka_unit_test(test_collisions_and_wraparound),
		cmocka_unit_test(test_iteration_and_bytes),
		cmocka_unit_test(test_array_reserve),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
