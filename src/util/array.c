#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/array.h"

int array_reserve(void *pp, uint32_t *cap, uint32_t need, size_t elem, uint32_t first)
{
	void **p = pp, *n;
	uint64_t ncap = *cap ? *cap : (first ? first : 1);

	if (need <= *cap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	if (ncap > UINT32_MAX || ncap > SIZE_MAX / elem)
		return -ENOMEM;
	n = realloc(*p, (size_t)ncap * elem);
	if (!n)
		return -ENOMEM;
	memset((char *)n + (size_t)*cap * elem, 0, (size_t)(ncap - *cap) * elem);
	*p = n;
	*cap = (uint32_t)ncap;
	return 0;
}
