/* A fake Go target's memory for the unit tests that read one (test_decoder,
 * test_memreaders): regions where the runtime puts type descriptors, itabs, the
 * heap and goroutine stacks, filled by the test with the layouts the runtime
 * uses, and read through procmem__open_cb(fake_read, NULL). Header-only: each
 * test program includes it once. */
#ifndef CT_TEST_FAKE_TARGET_H
#define CT_TEST_FAKE_TARGET_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define TYPES 0x500000ULL
#define ITABS 0x600000ULL
#define HEAP 0xc000000000ULL
#define STACK 0xc000800000ULL
#define REGION 0x20000

static uint8_t types_mem[REGION], itab_mem[REGION], heap_mem[REGION], stack_mem[REGION];
static size_t types_used, itab_used, heap_used;
static bool mem_gone;   /* the target exited: every read fails */
static long mem_reads;  /* every read, for tests that pin how many a query costs */
/* A test's hook, called before each read (a target moving under the reader). */
static void (*mem_on_read)(uint64_t addr);

static inline uint8_t *region(uint64_t addr, size_t len)
{
	struct {
		uint64_t base;
		uint8_t *mem;
	} r[] = { { TYPES, types_mem }, { ITABS, itab_mem }, { HEAP, heap_mem }, { STACK, stack_mem } };

	for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
		if (addr >= r[i].base && addr + len <= r[i].base + REGION)
			return r[i].mem + (addr - r[i].base);
	}
	return NULL;
}

static inline void poke(uint64_t addr, const void *v, size_t len)
{
	uint8_t *p = region(addr, len);

	assert_non_null(p);
	memcpy(p, v, len);
}

static inline void poke64(uint64_t addr, uint64_t v)
{
	poke(addr, &v, 8);
}

static inline int fake_read(void *cookie, uint64_t addr, void *buf, size_t len)
{
	uint8_t *p;

	(void)cookie;
	mem_reads++;
	if (mem_on_read)
		mem_on_read(addr);
	if (mem_gone)
		return -ESRCH;
	p = region(addr, len);
	if (!p)
		return -EFAULT;
	memcpy(buf, p, len);
	return 0;
}

/* A name as the linker writes it: flag byte, varint length, bytes. */
static inline int32_t mk_name(const char *s)
{
	size_t n = strlen(s), o = types_used;
	uint8_t *p = types_mem + o;

	*p++ = 0;
	for (size_t v = n;; v >>= 7) {
		*p++ = (v & 0x7f) | (v > 0x7f ? 0x80 : 0);
		if (v <= 0x7f)
			break;
	}
	memcpy(p, s, n);
	types_used = (size_t)(p + n - types_mem + 7) & ~(size_t)7;
	return (int32_t)o;
}

/* An abi.Type whose Str is name; extra_star: the name carries a '*' to strip
 * (the tflag bit the linker sets). */
static inline uint64_t mk_type_star(const char *name, bool extra_star)
{
	char buf[512];
	int32_t off;
	uint64_t t;

	snprintf(buf, sizeof(buf), "%s%s", extra_star ? "*" : "", name);
	off = mk_name(buf);
	t = TYPES + types_used;
	types_used += 48;
	types_mem[t - TYPES + 20] = extra_star ? 2 : 0;
	memcpy(&types_mem[t - TYPES + 40], &off, 4);
	return t;
}

static inline uint64_t mk_type(const char *name)
{
	return mk_type_star(name, false);
}

static inline uint64_t mk_itab(uint64_t inter, uint64_t type)
{
	uint64_t a = ITABS + itab_used;

	itab_used += 32;
	poke64(a, inter);
	poke64(a + 8, type);
	return a;
}

static inline uint64_t alloc(size_t n)
{
	uint64_t a = HEAP + heap_used;

	heap_used += (n + 15) & ~(size_t)15;
	assert_true(heap_used < REGION);
	return a;
}

#endif
