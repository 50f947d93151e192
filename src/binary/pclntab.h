/* The Go runtime's function table (.gopclntab), Go 1.18 and later: function
 * list, name index, pc -> function, pc -> file:line with inline frames. Works on
 * bytes alone so that tests and fuzzers can feed it crafted input. */
#ifndef CT_PCLNTAB_H
#define CT_PCLNTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pclntab;
struct go_func;
struct go_frame;

#define PCLN_MAGIC_116 0xfffffffaU /* Go 1.16, 1.17 */
#define PCLN_MAGIC_118 0xfffffff0U /* Go 1.18, 1.19 */
#define PCLN_MAGIC_120 0xfffffff1U /* Go 1.20 and later */
#define PCLN_HDR_SIZE 72           /* 64-bit pcHeader */

struct pclntab_header {
	uint32_t magic;
	uint8_t minlc, ptrsize;
	uint64_t nfunc, nfiles;
	uint64_t text_start; /* 0 since Go 1.26 */
	uint64_t funcname_off, cu_off, filetab_off, pctab_off, pcln_off;
};

/* Reads the header only; 0, or -EINVAL (-ENOTSUP for a pre-1.18 magic) with
 * ct_errmsg() set. */
int pclntab__read_header(const uint8_t *data, size_t size, struct pclntab_header *h);

/* Which of two same-named functions is the ABI0 one, from the ELF symbol table
 * (whose names carry ".abi0"): 1 yes, 0 no, -1 unknown. */
typedef int (*pclntab_abi0_fn)(void *ctx, uint64_t entry);

struct pclntab_params {
	const uint8_t *data; /* from the pcHeader to the end of the table */
	size_t size;
	uint64_t text;       /* runtime.text: base of entry offsets; 0: the header's */
	const uint8_t *gofunc; /* bytes at moduledata.gofunc (go:func.*); NULL: no inline frames */
	size_t gofunc_size;
	int go_minor;        /* from build info, for funcID values; 0 when unknown */
	pclntab_abi0_fn is_abi0;
	void *abi0_ctx;
};

/* NULL with errno and ct_errmsg() set. */
struct pclntab *pclntab__new(const struct pclntab_params *p);
void pclntab__free(struct pclntab *t);

uint32_t pclntab__magic(const struct pclntab *t);
uint64_t pclntab__text(const struct pclntab *t);
bool pclntab__has_inline(const struct pclntab *t);
size_t pclntab__nfunc(const struct pclntab *t);
int pclntab__func(const struct pclntab *t, size_t i, struct go_func *out);
/* "name" finds the ABIInternal function; "name.abi0" its ABI0 twin. -ENOENT. */
int pclntab__find(const struct pclntab *t, const char *name, struct go_func *out);
int pclntab__func_at(const struct pclntab *t, uint64_t pc, struct go_func *out);
/* Frames innermost first; >= 1 written, or -ENOENT. */
int pclntab__symbolize(const struct pclntab *t, uint64_t pc, struct go_frame *frames, int max);

/* What a frame holds at a pc, as Go's garbage collector reads it (runtime
 * getStackMap): the frame's size from the pcsp table, and the pointer bitmaps of
 * its locals (FUNCDATA_LocalsPointerMaps) and arguments (FUNCDATA_ArgsPointerMaps,
 * which covers the register arguments' spill slots) at the pc's stack map index
 * (PCDATA_StackMapIndex, read at pc-1 unless pc is the entry). On amd64 with a
 * frame: fp = sp + spdelta + 8, the locals' bitmap ends at varp = fp - 16 (the
 * return address, then the saved frame pointer), the arguments' starts at fp.
 * Bit i set: word i is a live pointer. Bitmaps point into the gofunc bytes. */
struct pclntab_stackmap {
	uint64_t entry;
	int32_t spdelta;        /* bytes from sp to the return address */
	uint32_t nlocals;       /* words the locals' bitmap covers; 0: none live */
	const uint8_t *locals;
	uint32_t nargs;         /* words the arguments' bitmap covers; 0: none live */
	const uint8_t *args;
	bool has_maps;          /* the function has pointer maps (Go code, not assembly) */
	bool unsafe_point;      /* no stack map index at pc: the runtime scans conservatively */
};

/* 0, -ENOENT (no function at pc, no gofunc bytes), -EINVAL (a table out of range). */
int pclntab__stackmap(const struct pclntab *t, uint64_t pc, struct pclntab_stackmap *out);

#endif
