#include <errno.h>
#include <string.h>

#include "binary/ctxvars.h"
#include "binary/goelf.h"

/* Go 1.19/1.20 without .symtab: context.(*emptyCtx).String compares its receiver
 * with context.background, then context.todo (`cmp [rip+disp32], reg`, REX.W 39
 * or 3B with a RIP-relative ModRM): their link-time addresses, in that order. */
static int vars_from_code(const struct goelf *ge, uint64_t vars[2])
{
	struct go_func fn;
	const uint8_t *code;
	int n = 0;

	if (goelf__find_func(ge, "context.(*emptyCtx).String", &fn) || fn.end <= fn.entry ||
	    fn.end - fn.entry > 4096)
		return -ENOENT;
	code = goelf__at(ge, fn.entry, fn.end - fn.entry);
	if (!code)
		return -ENOENT;
	for (uint64_t i = 0; i + 7 <= fn.end - fn.entry && n < 2; i++) {
		int32_t disp;
		uint64_t target;

		if ((code[i] & 0xf8) != 0x48 || (code[i + 1] != 0x39 && code[i + 1] != 0x3b) ||
		    (code[i + 2] & 0xc7) != 0x05)
			continue;
		memcpy(&disp, code + i + 3, 4);
		target = fn.entry + i + 7 + (int64_t)disp;
		if (!n || target != vars[0])
			vars[n++] = target;
		i += 6;
	}
	return n == 2 ? 0 : -ENOENT;
}

int ctxvars__find(const struct goelf *ge, uint64_t vars[2])
{
	uint64_t size;

	if (!goelf__find_data(ge, "context.background", &vars[0], &size) &&
	    !goelf__find_data(ge, "context.todo", &vars[1], &size))
		return 0;
	return vars_from_code(ge, vars);
}
