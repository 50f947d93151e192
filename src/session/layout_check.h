/* Offsets assumed for a Go newer than ctxtrace's table (the newest known
 * layout) are used only once they fit the live process: the context package's
 * code reads its fields where the layout says, and the goroutine list decodes
 * as the runtime made it (the main goroutine first, sane ids, statuses, stack
 * bounds and saved registers, m.curg of a running goroutine pointing back). */
#ifndef CT_LAYOUT_CHECK_H
#define CT_LAYOUT_CHECK_H

#include <stdint.h>

struct goelf;
struct procmem;
struct goroutines;
struct go_offsets;

struct layout_check_in {
	const struct goelf *ge;
	struct procmem *mem;
	struct goroutines *gs;   /* reads g's with off */
	const struct go_offsets *off;
	uint64_t bias;           /* runtime minus link-time address */
	uint64_t allgs_addr;     /* runtime address of runtime.allgs; 0 unknown */
	int pid;
};

/* 0 when everything checked fits; -EPROTO with ct_errmsg() saying what did
 * not ("allgs[0] has goid 4294967296, not 1 (the main goroutine)"). */
int layout_check__run(const struct layout_check_in *in);

#endif
