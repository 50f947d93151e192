/* Reading a Go executable: ELF layout, build info, functions and lines.
 * Everything here works on the file alone (no process), stripped or not. */
#ifndef CT_GOELF_H
#define CT_GOELF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct goelf;
struct pclntab;

struct go_buildinfo {
	char version[64];      /* as buildinfo writes it: "go1.26.11", "go1.22.12" */
	int major, minor, patch; /* 1, 26, 11; patch 0 when absent (e.g. "go1.21rc2") */
	char path[256];        /* main package path ("path" line) */
	char main_module[256]; /* "mod" line: module path */
	char main_version[64]; /* "mod" line: version, "(devel)" */
	bool cgo;              /* build CGO_ENABLED=1 */
	char buildmode[32];    /* build -buildmode=..., "exe" when not recorded */
	char goexperiment[128];/* build GOEXPERIMENT=..., "" when none */
	char ldflags[256];     /* build -ldflags=... */
	bool inline_layout;    /* 1.18+ inline strings; false: old pointer layout */
};

struct go_func {
	const char *name; /* owned by the goelf */
	uint64_t entry;   /* link-time virtual address */
	uint64_t end;     /* first address past the function */
	bool abi0;        /* the ABI0 twin of a same-named ABIInternal function
			   * ("name.abi0" in the symbol table); find_func skips it */
};

struct go_frame {
	const char *func; /* owned by the goelf; NULL when unknown */
	const char *file;
	int line;
	bool inlined; /* this frame was inlined into the next one */
};

/* Opens and validates a Go executable. NULL with errno set and a one-line reason
 * in ct_errmsg() ("not a Go program (no .gopclntab section)", ...), without the
 * path: the caller says what it was doing ("cannot inspect ./app: ..."). */
struct goelf *goelf__open(const char *path);
void goelf__free(struct goelf *ge);

struct goelf_opts {
	bool no_symtab; /* ignore .symtab, as if stripped (tests of the pclntab-only paths) */
};
struct goelf *goelf__open_opts(const char *path, const struct goelf_opts *opts);
/* The same on a copy of size bytes at data; name is used in messages. */
struct goelf *goelf__open_mem(const void *data, size_t size, const char *name,
			      const struct goelf_opts *opts);

const char *goelf__path(const struct goelf *ge);
const struct go_buildinfo *goelf__buildinfo(const struct goelf *ge);
bool goelf__stripped(const struct goelf *ge); /* no .symtab and no DWARF */
bool goelf__has_symtab(const struct goelf *ge);
bool goelf__has_dwarf(const struct goelf *ge);
bool goelf__pie(const struct goelf *ge);      /* ET_DYN */
bool goelf__cgo(const struct goelf *ge);     /* links runtime/cgo */
uint64_t goelf__text_start(const struct goelf *ge); /* runtime.text, the base of pclntab pcs */
uint64_t goelf__text_section(const struct goelf *ge); /* .text sh_addr */
uint64_t goelf__pclntab_addr(const struct goelf *ge);
const char *goelf__symbol_source(const struct goelf *ge); /* "symtab" or "pclntab" */
/* Where runtime.text came from: "symtab", "moduledata", "pclntab" (the header's
 * textStart, zero since Go 1.26) or ".text" (last resort; wrong for cgo). */
const char *goelf__text_source(const struct goelf *ge);
uint64_t goelf__moduledata(const struct goelf *ge); /* runtime.firstmoduledata, 0 if not found */
uint64_t goelf__gofunc(const struct goelf *ge); /* go:func.*, base of funcdata; 0 if not found */
/* NULL when the function table is usable; else why not (a pre-1.18 pclntab):
 * the binary still opens so that its Go version can be reported. */
const char *goelf__func_error(const struct goelf *ge);
size_t goelf__size(const struct goelf *ge); /* file size */

/* Functions (from pclntab, named as Go names them, ABIInternal preferred over ABI0).
 * find_func also takes the symbol table's spelling ("name.abi0" for the ABI0 twin,
 * "f[T]" where Go 1.19 pclntabs say "f[...]", C functions of cgo binaries). */
size_t goelf__func_count(const struct goelf *ge);
int goelf__func(const struct goelf *ge, size_t i, struct go_func *out);
int goelf__find_func(const struct goelf *ge, const char *name, struct go_func *out); /* -ENOENT */
int goelf__func_at(const struct goelf *ge, uint64_t pc, struct go_func *out);        /* -ENOENT */

/* Data symbols; .symtab only (absent when stripped): -ENOENT. */
int goelf__find_data(const struct goelf *ge, const char *name, uint64_t *addr, uint64_t *size);

/* pc -> frames, innermost first, inline frames expanded. Returns the number of frames
 * written (>= 1) or -ENOENT when pc is outside every function. */
int goelf__symbolize(const struct goelf *ge, uint64_t pc, struct go_frame *frames, int max);

/* The frame size and live pointer maps at pc (pclntab__stackmap); -ENOENT
 * without a function table or its funcdata (go:func.*). */
struct pclntab_stackmap;
int goelf__stackmap(const struct goelf *ge, uint64_t pc, struct pclntab_stackmap *out);

/* Address translation on the file image. */
int goelf__vaddr_to_offset(const struct goelf *ge, uint64_t vaddr, uint64_t *off);
/* Pointer to len bytes of the file at vaddr, or NULL if not all file-backed. */
const void *goelf__at(const struct goelf *ge, uint64_t vaddr, size_t len);

#endif
