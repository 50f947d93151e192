/* Growing arrays. */
#ifndef CT_UTIL_ARRAY_H
#define CT_UTIL_ARRAY_H

#include <stddef.h>
#include <stdint.h>

/* Room for need elements of elem bytes in the array *pp of capacity *cap: the
 * capacity doubles (from first when 0) until need fits; new elements are
 * zeroed. 0, or -ENOMEM with the array unchanged. */
int array_reserve(void *pp, uint32_t *cap, uint32_t need, size_t elem, uint32_t first);

#endif
