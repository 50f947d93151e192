#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "binary/buildinfo.h"
#include "binary/goelf.h"
#include "binary/moduledata.h"
#include "binary/pclntab.h"
#include "util/file.h"
#include "util/log.h"

#define MAX_SEGS 32
#define MAX_SCAN_SECS 8

struct seg {
	uint64_t vaddr, memsz, off, filesz;
	uint32_t flags;
};

struct sect {
	uint64_t addr, size, off;
};

struct goelf {
	char *path;
	uint8_t *img;
	size_t size;
	bool mapped;
	Elf *elf;
	bool pie, has_symtab, has_dwarf, cgo;
	struct go_buildinfo bi;
	struct seg segs[MAX_SEGS];
	int nsegs;
	struct sect text_sec, pcln_sec, bi_sec;
	struct sect scan[MAX_SCAN_SECS]; /* data sections that may hold moduledata */
	int nscan;
	struct sect rela[4];            /* dynamic relocations (PIE) */
	int nrela;
	const Elf64_Sym *syms;
	size_t nsyms;
	const char *strtab;
	size_t strsz;
	uint64_t sym_text, sym_md, sym_gofunc, sym_pcln, sym_epcln;
	uint64_t *abi0; /* sorted entries of "*.abi0" function symbols */
	size_t nabi0;
	uint64_t text_start, md, gofunc;
	const char *text_source;
	struct pclntab *tab;
	char func_error[160];
};

static bool has_name(const char *n, const char *want)
{
	return n && !strcmp(n, want);
}

const void *goelf__at(const struct goelf *ge, uint64_t vaddr, size_t len)
{
	int i;

	for (i = 0; ge && i < ge->nsegs; i++) {
		const struct seg *s = &ge->segs[i];

		if (vaddr >= s->vaddr && vaddr - s->vaddr <= s->filesz &&
		    len <= s->filesz - (vaddr - s->vaddr))
			return ge->img + s->off + (vaddr - s->vaddr);
	}
	return NULL;
}

int goelf__vaddr_to_offset(const struct goelf *ge, uint64_t vaddr, uint64_t *off)
{
	int i;

	for (i = 0; ge && i < ge->nsegs; i++) {
		const struct seg *s = &ge->segs[i];

		if (vaddr >= s->vaddr && vaddr - s->vaddr < s->filesz) {
			*off = s->off + (vaddr - s->vaddr);
			return 0;
		}
	}
	return -ENOENT;
}

/* Bytes from vaddr to the end of its segment's file-backed part. */
static const uint8_t *at_rest(const struct goelf *ge, uint64_t vaddr, size_t *n)
{
	int i;

	for (i = 0; i < ge->nsegs; i++) {
		const struct seg *s = &ge->segs[i];

		if (vaddr >= s->vaddr && vaddr - s->vaddr < s->filesz) {
			*n = s->filesz - (vaddr - s->vaddr);
			return ge->img + s->off + (vaddr - s->vaddr);
		}
	}
	return NULL;
}

static const void *bi_read(void *ctx, uint64_t vaddr, size_t len)
{
	return goelf__at(ctx, vaddr, len);
}

static bool in_exec_seg(const struct goelf *ge, uint64_t vaddr)
{
	int i;

	for (i = 0; i < ge->nsegs; i++)
		if ((ge->segs[i].flags & PF_X) && vaddr >= ge->segs[i].vaddr &&
		    vaddr - ge->segs[i].vaddr < ge->segs[i].filesz)
			return true;
	return false;
}

static int load_segments(struct goelf *ge)
{
	size_t n, i;

	if (elf_getphdrnum(ge->elf, &n)) {
		ct_errmsg_set("corrupted ELF program headers");
		return -EINVAL;
	}
	for (i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(ge->elf, i, &ph)) {
			ct_errmsg_set("corrupted ELF program headers");
			return -EINVAL;
		}
		if (ph.p_type != PT_LOAD)
			continue;
		if (ph.p_offset > ge->size || ph.p_filesz > ge->size - ph.p_offset) {
			ct_errmsg_set("truncated file (a segment ends past the end of the file)");
			return -EINVAL;
		}
		if (ge->nsegs == MAX_SEGS || ph.p_filesz > ph.p_memsz)
			continue;
		ge->segs[ge->nsegs++] = (struct seg){ ph.p_vaddr, ph.p_memsz, ph.p_offset,
						      ph.p_filesz, ph.p_flags };
	}
	if (!ge->nsegs) {
		ct_errmsg_set("no loadable segments");
		return -EINVAL;
	}
	return 0;
}

static int load_sections(struct goelf *ge, const struct goelf_opts *opts)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	GElf_Shdr sym_sh = { 0 };
	bool have_sym = false;

	if (elf_getshdrstrndx(ge->elf, &shstrndx)) {
		ct_errmsg_set("corrupted ELF section headers");
		return -EINVAL;
	}
	while ((scn = elf_nextscn(ge->elf, scn))) {
		GElf_Shdr sh;
		const char *name;
		struct sect s;

		if (!gelf_getshdr(scn, &sh))
			continue;
		name = elf_strptr(ge->elf, shstrndx, sh.sh_name);
		if (!name)
			continue;
		if (sh.sh_type != SHT_NOBITS &&
		    (sh.sh_offset > ge->size || sh.sh_size > ge->size - sh.sh_offset)) {
			ct_errmsg_set("truncated file (section %.40s ends past the end of the file)",
				      name);
			return -EINVAL;
		}
		s = (struct sect){ sh.sh_addr, sh.sh_size, sh.sh_offset };
		if (has_name(name, ".text") && sh.sh_type == SHT_PROGBITS)
			ge->text_sec = s;
		else if ((has_name(name, ".gopclntab") || has_name(name, ".data.rel.ro.gopclntab")) &&
			 sh.sh_type == SHT_PROGBITS)
			ge->pcln_sec = s;
		else if (has_name(name, ".go.buildinfo") && sh.sh_type == SHT_PROGBITS)
			ge->bi_sec = s;
		else if (has_name(name, ".debug_info") || has_name(name, ".zdebug_info"))
			ge->has_dwarf = true;
		else if (sh.sh_type == SHT_SYMTAB && !opts->no_symtab) {
			sym_sh = sh;
			have_sym = true;
		} else if (sh.sh_type == SHT_RELA && (sh.sh_flags & SHF_ALLOC) && ge->nrela < 4)
			ge->rela[ge->nrela++] = s;
		/* runtime.firstmoduledata: .go.module since Go 1.26, .noptrdata before;
		 * PIE and external linking may move it to .data.rel.ro or .data. */
		if ((has_name(name, ".go.module") || has_name(name, ".noptrdata") ||
		     has_name(name, ".data") || has_name(name, ".data.rel.ro")) &&
		    sh.sh_type == SHT_PROGBITS && ge->nscan < MAX_SCAN_SECS)
			ge->scan[ge->nscan++] = s;
	}
	if (have_sym && sym_sh.sh_entsize == sizeof(Elf64_Sym)) {
		Elf_Scn *str = elf_getscn(ge->elf, sym_sh.sh_link);
		GElf_Shdr ssh;

		if (str && gelf_getshdr(str, &ssh) && ssh.sh_type == SHT_STRTAB &&
		    ssh.sh_offset <= ge->size && ssh.sh_size <= ge->size - ssh.sh_offset &&
		    sym_sh.sh_offset % 8 == 0) {
			ge->syms = (const Elf64_Sym *)(ge->img + sym_sh.sh_offset);
			ge->nsyms = sym_sh.sh_size / sizeof(Elf64_Sym);
			ge->strtab = (const char *)ge->img + ssh.sh_offset;
			ge->strsz = ssh.sh_size;
			ge->has_symtab = ge->nsyms > 1;
		}
	}
	return 0;
}

static const char *sym_name(const struct goelf *ge, const Elf64_Sym *s)
{
	if (s->st_name >= ge->strsz || !memchr(ge->strtab + s->st_name, 0, ge->strsz - s->st_name))
		return NULL;
	return ge->strtab + s->st_name;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int scan_symtab(struct goelf *ge)
{
	size_t i, cap = 0;

	for (i = 1; i < ge->nsyms; i++) {
		const Elf64_Sym *s = &ge->syms[i];
		const char *n = sym_name(ge, s);
		size_t len;

		if (!n || !*n)
			continue;
		if (!strcmp(n, "runtime.text"))
			ge->sym_text = s->st_value;
		else if (!strcmp(n, "runtime.firstmoduledata"))
			ge->sym_md = s->st_value;
		/* go:func.* since Go 1.21 (1.20 for some symbols), go.func.* before. */
		else if (!strcmp(n, "go:func.*") || !strcmp(n, "go.func.*"))
			ge->sym_gofunc = s->st_value;
		else if (!strcmp(n, "runtime.pclntab"))
			ge->sym_pcln = s->st_value;
		else if (!strcmp(n, "runtime.epclntab"))
			ge->sym_epcln = s->st_value;
		else if (!strcmp(n, "x_cgo_init")) /* runtime/cgo's C side; _cgo_init is in every binary */
			ge->cgo = true;
		len = strlen(n);
		if (ELF64_ST_TYPE(s->st_info) == STT_FUNC && len > 5 &&
		    !strcmp(n + len - 5, ".abi0")) {
			if (ge->nabi0 == cap) {
				uint64_t *p;

				cap = cap ? 2 * cap : 256;
				p = realloc(ge->abi0, cap * sizeof(*p));
				if (!p) {
					ct_errmsg_set("out of memory");
					return -ENOMEM;
				}
				ge->abi0 = p;
			}
			ge->abi0[ge->nabi0++] = s->st_value;
		}
	}
	if (ge->nabi0)
		qsort(ge->abi0, ge->nabi0, sizeof(*ge->abi0), cmp_u64);
	return 0;
}

static int is_abi0(void *ctx, uint64_t entry)
{
	const struct goelf *ge = ctx;

	return ge->nabi0 && bsearch(&entry, ge->abi0, ge->nabi0, sizeof(entry), cmp_u64);
}

/* A pointer-sized word of the image at vaddr as the loader leaves it: in PIE
 * binaries the file may hold 0 and the value only in an R_X86_64_RELATIVE
 * relocation's addend. relocs: the RELATIVE relocations near vaddr. */
struct reloc {
	uint64_t off, addend;
};

static bool read_word(const struct goelf *ge, uint64_t vaddr, const struct reloc *rel, int nrel,
		      uint64_t *v)
{
	const uint8_t *p = goelf__at(ge, vaddr, 8);
	int i;

	if (!p)
		return false;
	memcpy(v, p, 8);
	for (i = 0; !*v && i < nrel; i++)
		if (rel[i].off == vaddr)
			*v = rel[i].addend;
	return true;
}

static bool check_md(struct goelf *ge, uint64_t md, const struct pclntab_header *h,
		     const struct reloc *rel, int nrel)
{
	uint64_t pcln = ge->pcln_sec.addr, w[GO_MD_SPAN / 8];
	static const struct {
		int off;
		int which;
	} ptrs[] = { { GO_MD_PCHEADER, 0 }, { GO_MD_FUNCNAMETAB, 1 }, { GO_MD_CUTAB, 2 },
		     { GO_MD_FILETAB, 3 },  { GO_MD_PCTAB, 4 },       { GO_MD_PCLNTABLE, 5 },
		     { GO_MD_FTAB, 5 } };
	uint64_t want[6] = { pcln, pcln + h->funcname_off, pcln + h->cu_off, pcln + h->filetab_off,
			     pcln + h->pctab_off, pcln + h->pcln_off };
	struct go_md_fields f;
	size_t i;

	for (i = 0; i < GO_MD_SPAN / 8; i++)
		if (!read_word(ge, md + i * 8, rel, nrel, &w[i]))
			return false;
	for (i = 0; i < sizeof(ptrs) / sizeof(ptrs[0]); i++)
		if (w[ptrs[i].off / 8] != want[ptrs[i].which])
			return false;
	/* Go 1.20 added covctrs before the type range (and changed the pclntab magic). */
	if (go_md__decode(w, h->magic == PCLN_MAGIC_120, &f) || !in_exec_seg(ge, f.text) ||
	    f.etext < f.text)
		return false;
	ge->md = md;
	ge->text_start = f.text;
	ge->text_source = "moduledata";
	if (goelf__at(ge, f.gofunc, 1))
		ge->gofunc = f.gofunc;
	return true;
}

static void relocs_near(const struct goelf *ge, uint64_t base, struct reloc *out, int *n, int max)
{
	int r;

	*n = 0;
	for (r = 0; r < ge->nrela; r++) {
		const uint8_t *p = ge->img + ge->rela[r].off;
		size_t i, cnt = ge->rela[r].size / sizeof(Elf64_Rela);

		for (i = 0; i < cnt && *n < max; i++) {
			Elf64_Rela ra;

			memcpy(&ra, p + i * sizeof(ra), sizeof(ra));
			if (ELF64_R_TYPE(ra.r_info) == R_X86_64_RELATIVE && ra.r_offset >= base &&
			    ra.r_offset < base + GO_MD_SPAN)
				out[(*n)++] = (struct reloc){ ra.r_offset, (uint64_t)ra.r_addend };
		}
	}
}

/* runtime.firstmoduledata: from .symtab, else the data word pointing at the
 * pclntab header whose neighbours point at the pclntab's tables. */
static void find_moduledata(struct goelf *ge, const struct pclntab_header *h)
{
	struct reloc rel[64];
	int nrel, s, r;

	if (ge->sym_md && check_md(ge, ge->sym_md, h, NULL, 0))
		return;
	for (s = 0; s < ge->nscan; s++) {
		const struct sect *sc = &ge->scan[s];
		uint64_t o;

		/* by offset in the section (its size is checked against the file; an
		 * address near the top of the range would wrap) */
		for (o = (8 - sc->addr % 8) % 8; o + 8 <= sc->size; o += 8) {
			uint64_t v;

			memcpy(&v, ge->img + sc->off + o, 8);
			if (v == ge->pcln_sec.addr && check_md(ge, sc->addr + o, h, NULL, 0))
				return;
		}
	}
	for (r = 0; r < ge->nrela; r++) {
		const uint8_t *p = ge->img + ge->rela[r].off;
		size_t i, cnt = ge->rela[r].size / sizeof(Elf64_Rela);

		for (i = 0; i < cnt; i++) {
			Elf64_Rela ra;

			memcpy(&ra, p + i * sizeof(ra), sizeof(ra));
			if (ELF64_R_TYPE(ra.r_info) != R_X86_64_RELATIVE ||
			    (uint64_t)ra.r_addend != ge->pcln_sec.addr)
				continue;
			relocs_near(ge, ra.r_offset, rel, &nrel, 64);
			if (check_md(ge, ra.r_offset, h, rel, nrel))
				return;
		}
	}
}

/* runtime/cgo is linked: its assembly trampolines are in the function table. */
static bool has_cgo_funcs(const struct goelf *ge)
{
	struct go_func f;

	return !pclntab__find(ge->tab, "crosscall2", &f) ||
	       !pclntab__find(ge->tab, "_cgo_topofstack", &f);
}

static int index_funcs(struct goelf *ge)
{
	struct pclntab_params p = { 0 };
	struct pclntab_header h;
	int err;

	err = pclntab__read_header(ge->img + ge->pcln_sec.off, ge->pcln_sec.size, &h);
	if (err == -ENOTSUP) {
		/* Go before 1.18: opened so that the caller can report its version. */
		snprintf(ge->func_error, sizeof(ge->func_error), "%s", ct_errmsg());
		return 0;
	}
	if (err)
		return err;
	find_moduledata(ge, &h);
	/* runtime.text is the base of the pclntab's entry offsets; it is not the start
	 * of .text in cgo binaries, and Go 1.26 no longer writes it in the header. */
	if (ge->sym_text && in_exec_seg(ge, ge->sym_text)) {
		if (ge->md && ge->text_start != ge->sym_text)
			debug("%s: runtime.text 0x%llx in .symtab, 0x%llx in moduledata", ge->path,
			      (unsigned long long)ge->sym_text, (unsigned long long)ge->text_start);
		ge->text_start = ge->sym_text;
		ge->text_source = "symtab";
	} else if (!ge->md && h.text_start && in_exec_seg(ge, h.text_start)) {
		ge->text_start = h.text_start;
		ge->text_source = "pclntab";
	} else if (!ge->md) {
		ge->text_start = ge->text_sec.addr;
		ge->text_source = ".text";
	}
	if (!ge->gofunc && ge->sym_gofunc && goelf__at(ge, ge->sym_gofunc, 1))
		ge->gofunc = ge->sym_gofunc;
	p.data = ge->img + ge->pcln_sec.off;
	p.size = ge->pcln_sec.size;
	p.text = ge->text_start;
	if (ge->gofunc)
		p.gofunc = at_rest(ge, ge->gofunc, &p.gofunc_size);
	p.go_minor = ge->bi.major == 1 ? ge->bi.minor : 0;
	if (ge->has_symtab) {
		p.is_abi0 = is_abi0;
		p.abi0_ctx = ge;
	}
	ge->tab = pclntab__new(&p);
	if (!ge->tab)
		return -errno;
	ge->cgo = ge->cgo || has_cgo_funcs(ge);
	return 0;
}

/* No .gopclntab section: Go 1.19 and older put the table inside .data.rel.ro
 * when linking a PIE externally. runtime.pclntab marks it in .symtab; without
 * one, its header is searched for in the read-only segments. */
static void find_pclntab(struct goelf *ge)
{
	int i;

	if (ge->sym_pcln && ge->sym_epcln > ge->sym_pcln &&
	    goelf__at(ge, ge->sym_pcln, ge->sym_epcln - ge->sym_pcln) &&
	    !goelf__vaddr_to_offset(ge, ge->sym_pcln, &ge->pcln_sec.off)) {
		ge->pcln_sec.addr = ge->sym_pcln;
		ge->pcln_sec.size = ge->sym_epcln - ge->sym_pcln;
		return;
	}
	for (i = 0; i < ge->nsegs; i++) {
		const struct seg *s = &ge->segs[i];
		uint64_t o;

		if (s->flags & PF_X)
			continue;
		for (o = (8 - s->vaddr % 8) % 8; o + PCLN_HDR_SIZE <= s->filesz; o += 8) {
			const uint8_t *p = ge->img + s->off + o;
			struct pclntab_header h;
			uint64_t rest = s->filesz - o;

			if (p[1] != 0xff || p[2] != 0xff || p[3] != 0xff || (p[0] != 0xf0 && p[0] != 0xf1) ||
			    p[4] || p[5] || p[7] != 8 || pclntab__read_header(p, rest, &h))
				continue;
			if (!h.nfunc || h.funcname_off < PCLN_HDR_SIZE || h.funcname_off > h.cu_off ||
			    h.cu_off > h.filetab_off || h.filetab_off > h.pctab_off ||
			    h.pctab_off > h.pcln_off || h.pcln_off >= rest)
				continue;
			ge->pcln_sec = (struct sect){ s->vaddr + o, rest, s->off + o };
			return;
		}
	}
}

/* The section header table lies inside the file and names a .text section
 * (every executable the Go linker writes has one). */
static bool sections_sound(const struct goelf *ge, const Elf64_Ehdr *eh)
{
	uint64_t end = eh->e_shoff + (uint64_t)eh->e_shnum * eh->e_shentsize;

	return eh->e_shnum && eh->e_shentsize == sizeof(Elf64_Shdr) && eh->e_shstrndx < eh->e_shnum &&
	       end <= ge->size && ge->text_sec.size;
}

static struct goelf *open_image(struct goelf *ge, const struct goelf_opts *opts)
{
	static const struct goelf_opts defaults;
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)ge->img;
	GElf_Ehdr ehdr;
	int err = -EINVAL;

	if (!opts)
		opts = &defaults;
	if (ge->size < sizeof(Elf64_Ehdr) || memcmp(ge->img, ELFMAG, SELFMAG)) {
		ct_errmsg_set("not an ELF executable");
		goto cleanup;
	}
	if (ge->img[EI_CLASS] != ELFCLASS64 || ge->img[EI_DATA] != ELFDATA2LSB) {
		ct_errmsg_set("not a 64-bit little-endian ELF file");
		goto cleanup;
	}
	if (eh->e_machine != EM_X86_64) {
		ct_errmsg_set("unsupported architecture (ELF machine %u); only x86-64 is supported",
			      eh->e_machine);
		goto cleanup;
	}
	if (eh->e_type != ET_EXEC && eh->e_type != ET_DYN) {
		ct_errmsg_set("not an executable (ELF type %u)", eh->e_type);
		goto cleanup;
	}
	if (eh->e_shoff > ge->size || eh->e_phoff > ge->size) {
		ct_errmsg_set("truncated or corrupted ELF file");
		goto cleanup;
	}
	elf_version(EV_CURRENT);
	ge->elf = elf_memory((char *)ge->img, ge->size);
	if (!ge->elf || elf_kind(ge->elf) != ELF_K_ELF || !gelf_getehdr(ge->elf, &ehdr)) {
		ct_errmsg_set("corrupted ELF file (%s)", elf_errmsg(-1));
		goto cleanup;
	}
	ge->pie = ehdr.e_type == ET_DYN;
	err = load_segments(ge);
	if (!err)
		err = load_sections(ge, opts);
	if (err)
		goto cleanup;
	if (ge->has_symtab) {
		err = scan_symtab(ge);
		if (err)
			goto cleanup;
	}
	if (!ge->pcln_sec.size)
		find_pclntab(ge);
	err = -EINVAL;
	/* A file cut short or with damaged section headers loses its sections: say
	 * so rather than guess at the toolchain. */
	if ((!ge->pcln_sec.size || !ge->bi_sec.size) && !sections_sound(ge, eh)) {
		ct_errmsg_set("damaged ELF file: its section headers are cut off or corrupted (file size %llu)",
			      (unsigned long long)ge->size);
		goto cleanup;
	}
	if (!ge->pcln_sec.size) {
		ct_errmsg_set("not a Go program (no .gopclntab section)");
		goto cleanup;
	}
	if (!ge->bi_sec.size) {
		ct_errmsg_set("no Go build info (.go.buildinfo section): built by Go older than 1.13?");
		goto cleanup;
	}
	err = buildinfo__parse(ge->img + ge->bi_sec.off, ge->bi_sec.size, bi_read, ge, &ge->bi);
	if (!err)
		err = index_funcs(ge);
	if (err)
		goto cleanup;
	return ge;
cleanup:
	goelf__free(ge);
	errno = -err;
	return NULL;
}

struct goelf *goelf__open_opts(const char *path, const struct goelf_opts *opts)
{
	struct goelf *ge;
	uint64_t fsize;
	int fd, err;

	if (!path || !*path) {
		ct_errmsg_set("no executable given");
		errno = EINVAL;
		return NULL;
	}
	/* Not a FIFO (opening one waits for a writer), device or /proc file. */
	fd = file_open_regular(path, 0, &fsize);
	if (fd < 0) {
		err = -fd;
		if (err == EISDIR)
			ct_errmsg_set("a directory, not an executable");
		errno = err;
		return NULL;
	}
	if (fsize < sizeof(Elf64_Ehdr)) {
		err = EINVAL;
		ct_errmsg_set("not an ELF executable (%llu bytes)", (unsigned long long)fsize);
		goto fail;
	}
	ge = calloc(1, sizeof(*ge));
	if (!ge || !(ge->path = strdup(path))) {
		free(ge);
		err = ENOMEM;
		ct_errmsg_set("out of memory");
		goto fail;
	}
	ge->size = fsize;
	/* Private and writable so that libelf may never fault writing into it; nothing
	 * is written, so no page is copied. */
	ge->img = mmap(NULL, ge->size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (ge->img == MAP_FAILED) {
		err = errno;
		ge->img = NULL;
		ct_errmsg_set("cannot map the file: %s", strerror(err));
		goelf__free(ge);
		goto fail;
	}
	ge->mapped = true;
	close(fd);
	return open_image(ge, opts);
fail:
	close(fd);
	errno = err;
	return NULL;
}

struct goelf *goelf__open(const char *path)
{
	return goelf__open_opts(path, NULL);
}

struct goelf *goelf__open_mem(const void *data, size_t size, const char *name,
			      const struct goelf_opts *opts)
{
	struct goelf *ge = calloc(1, sizeof(*ge));

	if (!ge || !(ge->path = strdup(name ? name : "<memory>")) ||
	    !(ge->img = malloc(size ? size : 1))) {
		goelf__free(ge);
		ct_errmsg_set("out of memory");
		errno = ENOMEM;
		return NULL;
	}
	memcpy(ge->img, data, size);
	ge->size = size;
	return open_image(ge, opts);
}

void goelf__free(struct goelf *ge)
{
	if (!ge)
		return;
	pclntab__free(ge->tab);
	if (ge->elf)
		elf_end(ge->elf);
	if (ge->mapped)
		munmap(ge->img, ge->size);
	else
		free(ge->img);
	free(ge->abi0);
	free(ge->path);
	free(ge);
}

const char *goelf__path(const struct goelf *ge)
{
	return ge->path;
}

const struct go_buildinfo *goelf__buildinfo(const struct goelf *ge)
{
	return &ge->bi;
}

bool goelf__stripped(const struct goelf *ge)
{
	return !ge->has_symtab && !ge->has_dwarf;
}

bool goelf__has_symtab(const struct goelf *ge)
{
	return ge->has_symtab;
}

bool goelf__has_dwarf(const struct goelf *ge)
{
	return ge->has_dwarf;
}

bool goelf__pie(const struct goelf *ge)
{
	return ge->pie;
}

bool goelf__cgo(const struct goelf *ge)
{
	return ge->cgo;
}

uint64_t goelf__text_start(const struct goelf *ge)
{
	return ge->text_start;
}

uint64_t goelf__text_section(const struct goelf *ge)
{
	return ge->text_sec.addr;
}

uint64_t goelf__pclntab_addr(const struct goelf *ge)
{
	return ge->pcln_sec.addr;
}

const char *goelf__symbol_source(const struct goelf *ge)
{
	return ge->has_symtab ? "symtab" : "pclntab";
}

const char *goelf__text_source(const struct goelf *ge)
{
	return ge->text_source ? ge->text_source : "none";
}

uint64_t goelf__moduledata(const struct goelf *ge)
{
	return ge->md;
}

uint64_t goelf__gofunc(const struct goelf *ge)
{
	return ge->gofunc;
}

const char *goelf__func_error(const struct goelf *ge)
{
	return ge->func_error[0] ? ge->func_error : NULL;
}

size_t goelf__size(const struct goelf *ge)
{
	return ge->size;
}

size_t goelf__func_count(const struct goelf *ge)
{
	return pclntab__nfunc(ge->tab);
}

int goelf__func(const struct goelf *ge, size_t i, struct go_func *out)
{
	return pclntab__func(ge->tab, i, out);
}

/* A function the pclntab does not name as the symbol table does: Go 1.18/1.19
 * write "f[...]" for every instantiation of a generic function and for array
 * types in names ("type..eq.[...]string"); or a C function of a cgo binary. */
static int find_func_symtab(const struct goelf *ge, const char *name, struct go_func *out)
{
	size_t i;

	for (i = 1; i < ge->nsyms; i++) {
		const Elf64_Sym *s = &ge->syms[i];
		const char *n;

		if (ELF64_ST_TYPE(s->st_info) != STT_FUNC || s->st_shndx == SHN_UNDEF)
			continue;
		n = sym_name(ge, s);
		if (!n || strcmp(n, name))
			continue;
		if (pclntab__func_at(ge->tab, s->st_value, out) || out->entry != s->st_value) {
			out->entry = s->st_value;
			out->end = s->st_value + s->st_size;
			out->abi0 = false;
		}
		out->name = n;
		return 0;
	}
	return -ENOENT;
}

int goelf__find_func(const struct goelf *ge, const char *name, struct go_func *out)
{
	int err = pclntab__find(ge->tab, name, out);

	if (err == -ENOENT && ge->tab)
		err = find_func_symtab(ge, name, out);
	return err;
}

int goelf__func_at(const struct goelf *ge, uint64_t pc, struct go_func *out)
{
	return pclntab__func_at(ge->tab, pc, out);
}

int goelf__symbolize(const struct goelf *ge, uint64_t pc, struct go_frame *frames, int max)
{
	if (!ge->tab)
		return -ENOENT;
	return pclntab__symbolize(ge->tab, pc, frames, max);
}

int goelf__stackmap(const struct goelf *ge, uint64_t pc, struct pclntab_stackmap *out)
{
	if (!ge->tab)
		return -ENOENT;
	return pclntab__stackmap(ge->tab, pc, out);
}

int goelf__find_data(const struct goelf *ge, const char *name, uint64_t *addr, uint64_t *size)
{
	size_t i;

	for (i = 1; i < ge->nsyms; i++) {
		const Elf64_Sym *s = &ge->syms[i];
		int type = ELF64_ST_TYPE(s->st_info);
		const char *n;

		if (type == STT_FUNC || type == STT_FILE || type == STT_SECTION ||
		    s->st_shndx == SHN_UNDEF)
			continue;
		n = sym_name(ge, s);
		if (n && !strcmp(n, name)) {
			*addr = s->st_value;
			if (size)
				*size = s->st_size;
			return 0;
		}
	}
	return -ENOENT;
}
