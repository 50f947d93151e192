/* The intern table: equal contents give one pointer, different contents
 * different pointers, contents survive growth, and the byte budget holds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "events/event.h"
#include "util/intern.h"

static void test_strings(void **state)
{
	struct intern *in = intern__new(0);
	char buf[32];
	const char *a, *b, *e;

	assert_non_null(in);
	a = intern__str(in, "main.handler");
	snprintf(buf, sizeof(buf), "main.%s", "handler");
	b = intern__str(in, buf);
	assert_ptr_equal(a, b);
	assert_ptr_not_equal(a, buf);
	assert_string_equal(a, "main.handler");
	assert_ptr_not_equal(intern__str(in, "main.handle"), a);
	assert_null(intern__str(in, NULL));
	e = intern__str(in, "");
	assert_non_null(e);
	assert_string_equal(e, "");
	/* strn: a prefix, and bytes after a NUL are part of the contents. */
	assert_ptr_equal(intern__strn(in, "main.handlerXYZ", 12), a);
	assert_ptr_not_equal(intern__strn(in, "ab\0c", 4), intern__strn(in, "ab\0d", 4));
	intern__free(in);
	intern__free(NULL);
}

static void test_growth(void **state)
{
	struct intern *in = intern__new(0);
	enum { N = 100000 };
	const char **p = calloc(N, sizeof(*p));
	struct intern_stats st;
	char buf[64];

	for (int i = 0; i < N; i++) {
		snprintf(buf, sizeof(buf), "pkg.func%d", i);
		p[i] = intern__str(in, buf);
		assert_non_null(p[i]);
	}
	for (int i = 0; i < N; i++) {
		snprintf(buf, sizeof(buf), "pkg.func%d", i);
		assert_string_equal(p[i], buf);
		assert_ptr_equal(intern__str(in, buf), p[i]);
	}
	intern__stats(in, &st);
	assert_int_equal(st.strings, N);
	assert_int_equal(st.refused, 0);
	free(p);
	intern__free(in);
}

static void test_big_string(void **state)
{
	struct intern *in = intern__new(0);
	size_t n = 100000;
	char *big = malloc(n + 1);
	const char *a, *small;

	memset(big, 'q', n);
	big[n] = '\0';
	small = intern__str(in, "before");
	a = intern__str(in, big);
	assert_non_null(a);
	assert_int_equal(strlen(a), n);
	/* The chunk being filled is not lost to the big string's own chunk. */
	assert_ptr_equal(intern__str(in, "before"), small);
	assert_non_null(intern__str(in, "after"));
	free(big);
	intern__free(in);
}

static void test_stacks(void **state)
{
	struct intern *in = intern__new(0);
	const char *f1 = intern__str(in, "main.a"), *f2 = intern__str(in, "main.b");
	const char *file = intern__str(in, "/src/a.go");
	struct ct_frame fr[2] = { { f1, file, 10, true }, { f2, file, 20, false } };
	const struct ct_stack *s1, *s2, *s3, *e1, *e2;

	s1 = intern__stack(in, fr, 2);
	assert_non_null(s1);
	assert_int_equal(s1->n, 2);
	assert_ptr_equal(s1->frames[0].func, f1);
	assert_int_equal(s1->frames[1].line, 20);
	assert_true(s1->frames[0].inlined);
	s2 = intern__stack(in, fr, 2);
	assert_ptr_equal(s1, s2);
	fr[1].line = 21;
	s3 = intern__stack(in, fr, 2);
	assert_ptr_not_equal(s1, s3);
	fr[1].line = 20;
	fr[0].inlined = false;
	assert_ptr_not_equal(intern__stack(in, fr, 2), s1);
	/* A prefix is a different stack. */
	assert_ptr_not_equal(intern__stack(in, fr, 1), s1);
	e1 = intern__stack(in, fr, 0);
	e2 = intern__stack(in, NULL, 0);
	assert_non_null(e1);
	assert_ptr_equal(e1, e2);
	assert_int_equal(e1->n, 0);
	intern__free(in);
}

static void test_budget(void **state)
{
	struct intern *in = intern__new(256 << 10);
	struct intern_stats st;
	const char *first = intern__str(in, "first");
	char buf[64];
	int ok = 0, refused = 0;

	for (int i = 0; i < 100000; i++) {
		snprintf(buf, sizeof(buf), "string number %d", i);
		if (intern__str(in, buf))
			ok++;
		else
			refused++;
	}
	intern__stats(in, &st);
	assert_true(ok > 1000);
	assert_true(refused > 0);
	assert_int_equal(st.refused, (uint64_t)refused);
	assert_true(st.bytes <= 256 << 10);
	/* What is in stays findable. */
	assert_ptr_equal(intern__str(in, "first"), first);
	intern__free(in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_growth),
		cmocka_unit_test(test_big_string),
		cmocka_unit_test(test_stacks),
		cmocka_unit_test(test_budget),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
