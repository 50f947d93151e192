/* runtime.moduledata (runtime/symtab.go), amd64: the fields ctxtrace reads,
 * decoded from the struct's words, in the file (goelf) or in a live process
 * (gotypes). The head (pclntab slices, text, etext) has not moved since Go 1.18;
 * the block after gcbss is told apart by its contents, not by the Go version:
 *   Go 1.19-1.26: types, etypes, rodata, gofunc
 *   Go 1.27:      types, typedesclen, etypes, itaboffset, itabsize, rodata, gofunc
 * (typedesclen is a length, where etypes was an address above types). */
#ifndef CT_MODULEDATA_H
#define CT_MODULEDATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GO_MD_PCHEADER 0
#define GO_MD_FUNCNAMETAB 8
#define GO_MD_CUTAB 32
#define GO_MD_FILETAB 56
#define GO_MD_PCTAB 80
#define GO_MD_PCLNTABLE 104
#define GO_MD_FTAB 128
#define GO_MD_TEXT 176
#define GO_MD_ETEXT 184
/* Bytes from the start of a moduledata that go_md__decode wants. */
#define GO_MD_SPAN 360

struct go_md_fields {
	uint64_t text, etext;
	uint64_t types, etypes;
	uint64_t rodata, gofunc;
	bool typedesclen; /* the Go 1.27 block (types, typedesclen, etypes, itab range;
			   * ctxmem reads the itabs through moduledata.itaboffset) */
};

/* w: the first GO_MD_SPAN bytes of a moduledata as words (GO_MD_SPAN / 8).
 * covctrs: the binary has covctrs/ecovctrs before end (Go 1.20+; the pclntab
 * magic changed with them). -EINVAL when the type range does not look like
 * either layout (types >= etypes, a type range over 2 GiB, a typedesclen or
 * itab range outside it). */
int go_md__decode(const uint64_t *w, bool covctrs, struct go_md_fields *out);

#endif
