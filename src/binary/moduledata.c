#include <errno.h>

#include "binary/moduledata.h"

/* types: after end, gcdata, gcbss; Go 1.20 added covctrs, ecovctrs before them. */
#define MD_TYPES_119 280
#define MD_TYPES_120 296
#define TYPES_MAX (1ULL << 31)

int go_md__decode(const uint64_t *w, bool covctrs, struct go_md_fields *out)
{
	const uint64_t *t = w + (covctrs ? MD_TYPES_120 : MD_TYPES_119) / 8;
	uint64_t types = t[0];

	*out = (struct go_md_fields){ .text = w[GO_MD_TEXT / 8], .etext = w[GO_MD_ETEXT / 8] };
	if (!types)
		return -EINVAL;
	if (t[1] > types) {
		/* Go 1.19-1.26: types, etypes, rodata, gofunc. */
		if (t[1] - types > TYPES_MAX)
			return -EINVAL;
		out->types = types;
		out->etypes = t[1];
		out->rodata = t[2];
		out->gofunc = t[3];
		return 0;
	}
	/* Go 1.27: types, typedesclen, etypes, itaboffset, itabsize, rodata, gofunc.
	 * The type descriptors and the itabs both lie in [types, etypes). */
	if (t[2] <= types || t[2] - types > TYPES_MAX || t[1] > t[2] - types ||
	    t[3] > t[2] - types || t[4] > t[2] - types - t[3])
		return -EINVAL;
	out->types = types;
	out->etypes = t[2];
	out->rodata = t[5];
	out->gofunc = t[6];
	out->typedesclen = true;
	return 0;
}
