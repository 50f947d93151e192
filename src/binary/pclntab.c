#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "binary/goelf.h"
#include "binary/pclntab.h"
#include "util/hashmap.h"
#include "util/log.h"

#define FUNCDATA_ARGSPTRMAPS 0   /* runtime abi.FUNCDATA_ArgsPointerMaps */
#define FUNCDATA_LOCALSPTRMAPS 1 /* abi.FUNCDATA_LocalsPointerMaps */
#define FUNCDATA_INLTREE 3     /* runtime _FUNCDATA_InlTree, all supported versions */
#define PCDATA_STACKMAPINDEX 1 /* abi.PCDATA_StackMapIndex */
#define PCDATA_INLTREEINDEX 2  /* runtime _PCDATA_InlTreeIndex */
#define FUNCFLAG_ASM 0x4       /* abi.FuncFlagAsm (funcFlag_ASM before 1.21) */
#define MAX_INLINE_DEPTH 64
#define NO_TWIN UINT32_MAX

struct region {
	const uint8_t *p;
	size_t n;
};

struct pclntab {
	struct pclntab_header h;
	bool go120; /* magic 0xfffffff1: _func has startLine, inlinedCall is 16 bytes */
	uint64_t text;
	size_t nfunc;
	size_t func_size;   /* fixed part of _func */
	size_t inl_size;    /* sizeof(inlinedCall) */
	uint8_t wrapper_id; /* abi.FuncIDWrapper in this Go version */
	struct region funcname, cutab, filetab, pctab, pcln, gofunc;
	const char **names;
	uint32_t *twin;   /* same-named function, for the ABI0/ABIInternal pair */
	uint8_t *abi0;    /* 1: the ABI0 one of a pair */
	struct hmap by_name; /* name -> func index; ABI0 twins are not in it */
};

static uint32_t le32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint64_t le64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

int pclntab__read_header(const uint8_t *data, size_t size, struct pclntab_header *h)
{
	memset(h, 0, sizeof(*h));
	if (size < 8) {
		ct_errmsg_set("truncated pclntab");
		return -EINVAL;
	}
	h->magic = le32(data);
	h->minlc = data[6];
	h->ptrsize = data[7];
	if (h->magic == PCLN_MAGIC_116 || h->magic == 0xfffffffbU) {
		ct_errmsg_set("pclntab of Go 1.17 or older is not supported");
		return -ENOTSUP;
	}
	if (h->magic != PCLN_MAGIC_118 && h->magic != PCLN_MAGIC_120) {
		ct_errmsg_set("unknown pclntab magic 0x%08x", h->magic);
		return -EINVAL;
	}
	if (data[4] || data[5] || h->ptrsize != 8 || !h->minlc || h->minlc > 4) {
		ct_errmsg_set("unsupported pclntab header (pointer size %u, instruction size %u)",
			      h->ptrsize, h->minlc);
		return -EINVAL;
	}
	if (size < PCLN_HDR_SIZE) {
		ct_errmsg_set("truncated pclntab");
		return -EINVAL;
	}
	h->nfunc = le64(data + 8);
	h->nfiles = le64(data + 16);
	h->text_start = le64(data + 24);
	h->funcname_off = le64(data + 32);
	h->cu_off = le64(data + 40);
	h->filetab_off = le64(data + 48);
	h->pctab_off = le64(data + 56);
	h->pcln_off = le64(data + 64);
	return 0;
}

/* A table's extent: up to the next table (the linker writes them in this order:
 * funcnametab, cutab, filetab, pctab, pclntable) or the end. */
static int region(const uint8_t *data, size_t size, uint64_t off, const uint64_t *all, int nall,
		  struct region *r)
{
	uint64_t end = size;
	int i;

	if (off < PCLN_HDR_SIZE || off > size)
		return -EINVAL;
	for (i = 0; i < nall; i++)
		if (all[i] > off && all[i] < end)
			end = all[i];
	r->p = data + off;
	r->n = end - off;
	return 0;
}

static const char *cstr(const struct region *r, uint64_t off)
{
	if (off >= r->n || !memchr(r->p + off, 0, r->n - off))
		return NULL;
	return (const char *)r->p + off;
}

static uint32_t entry_off(const struct pclntab *t, size_t i)
{
	return le32(t->pcln.p + 8 * i);
}

static const uint8_t *func_ptr(const struct pclntab *t, size_t i)
{
	uint32_t off = le32(t->pcln.p + 8 * i + 4);

	if ((uint64_t)off + t->func_size > t->pcln.n)
		return NULL;
	return t->pcln.p + off;
}

/* Names compare with the middle dot of local types ("writerOnly·1", as the
 * pclntab spells them) equal to '.' ("writerOnly.1", as the symbol table and
 * go tool nm do). */
static int next_ch(const char **s)
{
	const unsigned char *p = (const unsigned char *)*s;

	if (p[0] == 0xc2 && p[1] == 0xb7) {
		*s += 2;
		return '.';
	}
	if (*p)
		(*s)++;
	return *p;
}

static uint32_t name_hash(const char *s)
{
	uint32_t h = 2166136261u;
	int c;

	while ((c = next_ch(&s)))
		h = (h ^ (uint8_t)c) * 16777619u;
	return h;
}

static bool name_eq(const char *a, const char *b)
{
	int ca, cb;

	do {
		ca = next_ch(&a);
		cb = next_ch(&b);
	} while (ca && ca == cb);
	return ca == cb;
}

/* abi.FuncIDWrapper: its value moved as IDs were added to the enum. */
static uint8_t wrapper_id(int minor)
{
	if (minor && minor <= 21)
		return 21; /* Go 1.18-1.21 */
	if (minor && minor <= 24)
		return 22; /* Go 1.22-1.24 */
	return 23;         /* Go 1.25, 1.26 */
}

/* Whether two same-named functions are an ABI0/ABIInternal pair: 1 when b is
 * the ABIInternal one, -1 when a is, 0 when they are not a pair (Go 1.18/1.19
 * name every instantiation of a generic function "f[...]"). The ELF symbol table
 * says it when present (the ABI0 one is "name.abi0" there). Without it: an
 * assembly function (ABI0) gets an ABIInternal wrapper for Go callers, and a Go
 * function (ABIInternal) an ABI0 wrapper (funcID wrapper) for assembly callers.
 * go tool nm names the ABIInternal one "name" and the other "name.abi0"; for Go
 * 1.19 to 1.26 both rules give nm's address for every T symbol
 * (tests/e2e/goelf_matrix.sh, with and without .symtab). */
static int abi_pair(const struct pclntab *t, const struct pclntab_params *p, size_t a, size_t b)
{
	const uint8_t *fa = func_ptr(t, a), *fb = func_ptr(t, b);
	size_t idf = t->func_size - 4, flf = t->func_size - 3;
	bool asma, asmb, wra, wrb;

	if (p->is_abi0) {
		int ra = p->is_abi0(p->abi0_ctx, t->text + entry_off(t, a));
		int rb = p->is_abi0(p->abi0_ctx, t->text + entry_off(t, b));

		if (ra >= 0 && rb >= 0)
			return ra && !rb ? 1 : rb && !ra ? -1 : 0;
	}
	asma = fa[flf] & FUNCFLAG_ASM;
	asmb = fb[flf] & FUNCFLAG_ASM;
	if (asma != asmb)
		return asma ? 1 : -1;
	wra = fa[idf] == t->wrapper_id;
	wrb = fb[idf] == t->wrapper_id;
	if (wra != wrb)
		return wra ? 1 : -1;
	/* reflect.callReflect and callMethod carry funcID wrapper themselves; their
	 * ABI0 wrappers are a tail call, much smaller. */
	if (wra && wrb) {
		uint32_t sa = entry_off(t, a + 1) - entry_off(t, a);
		uint32_t sb = entry_off(t, b + 1) - entry_off(t, b);

		if (sa != sb)
			return sa < sb ? 1 : -1;
	}
	return 0;
}

struct name_key {
	const struct pclntab *t;
	const char *name;
};

static bool name_key_eq(const void *cookie, uint64_t v)
{
	const struct name_key *k = cookie;

	return name_eq(k->t->names[v], k->name);
}

static int build_index(struct pclntab *t, const struct pclntab_params *p)
{
	size_t i;

	t->names = malloc(t->nfunc * sizeof(*t->names) + 1);
	t->twin = malloc(t->nfunc * sizeof(*t->twin) + 1);
	t->abi0 = calloc(t->nfunc + 1, 1);
	if (!t->names || !t->twin || !t->abi0 || hmap__init(&t->by_name, t->nfunc)) {
		ct_errmsg_set("out of memory indexing pclntab");
		return -ENOMEM;
	}
	for (i = 0; i < t->nfunc; i++) {
		const uint8_t *f = func_ptr(t, i);
		const char *name;
		struct name_key k = { t, NULL };
		uint64_t h, *e;
		int pair;

		if (!f || !(name = cstr(&t->funcname, le32(f + 4)))) {
			ct_errmsg_set("corrupted pclntab (function %zu)", i);
			return -EINVAL;
		}
		if (i && entry_off(t, i) < entry_off(t, i - 1)) {
			ct_errmsg_set("corrupted pclntab (functions out of order at %zu)", i);
			return -EINVAL;
		}
		t->names[i] = name;
		t->twin[i] = NO_TWIN;
		k.name = name;
		h = hmap_hash(name_hash(name));
		e = hmap__find(&t->by_name, h, name_key_eq, &k);
		if (!e) {
			hmap__add(&t->by_name, h, i); /* sized for every function: cannot fail */
			continue;
		}
		/* Same name: keep the ABIInternal one in the table, link the ABI0
		 * one; any other namesake is listed but not found by name. */
		if (t->twin[*e] != NO_TWIN)
			continue;
		pair = abi_pair(t, p, (size_t)*e, i);
		if (pair > 0) {
			t->twin[i] = (uint32_t)*e;
			t->abi0[*e] = 1;
			*e = i;
		} else if (pair < 0) {
			t->twin[*e] = (uint32_t)i;
			t->abi0[i] = 1;
		}
	}
	if (entry_off(t, t->nfunc) < entry_off(t, t->nfunc ? t->nfunc - 1 : 0)) {
		ct_errmsg_set("corrupted pclntab (bad end of text)");
		return -EINVAL;
	}
	return 0;
}

struct pclntab *pclntab__new(const struct pclntab_params *p)
{
	struct pclntab *t;
	uint64_t offs[5];
	int err;

	t = calloc(1, sizeof(*t));
	if (!t) {
		ct_errmsg_set("out of memory");
		errno = ENOMEM;
		return NULL;
	}
	err = pclntab__read_header(p->data, p->size, &t->h);
	if (err)
		goto cleanup;
	t->go120 = t->h.magic == PCLN_MAGIC_120;
	t->func_size = t->go120 ? 44 : 40;
	t->inl_size = t->go120 ? 16 : 20;
	t->wrapper_id = wrapper_id(p->go_minor);
	t->text = p->text ? p->text : t->h.text_start;
	offs[0] = t->h.funcname_off;
	offs[1] = t->h.cu_off;
	offs[2] = t->h.filetab_off;
	offs[3] = t->h.pctab_off;
	offs[4] = t->h.pcln_off;
	err = -EINVAL;
	if (region(p->data, p->size, offs[0], offs, 5, &t->funcname) ||
	    region(p->data, p->size, offs[1], offs, 5, &t->cutab) ||
	    region(p->data, p->size, offs[2], offs, 5, &t->filetab) ||
	    region(p->data, p->size, offs[3], offs, 5, &t->pctab) ||
	    region(p->data, p->size, offs[4], offs, 5, &t->pcln)) {
		ct_errmsg_set("corrupted pclntab (table offsets out of range)");
		goto cleanup;
	}
	/* nfunc+1 functab entries {entryoff, funcoff}; the last one marks the end. */
	if (t->h.nfunc == 0 || t->h.nfunc >= t->pcln.n / 8) {
		ct_errmsg_set("corrupted pclntab (%llu functions)", (unsigned long long)t->h.nfunc);
		goto cleanup;
	}
	t->nfunc = t->h.nfunc;
	if (p->gofunc && p->gofunc_size) {
		t->gofunc.p = p->gofunc;
		t->gofunc.n = p->gofunc_size;
	}
	err = build_index(t, p);
cleanup:
	if (err) {
		pclntab__free(t);
		errno = -err;
		return NULL;
	}
	return t;
}

void pclntab__free(struct pclntab *t)
{
	if (!t)
		return;
	free(t->names);
	free(t->twin);
	free(t->abi0);
	hmap__free(&t->by_name);
	free(t);
}

uint32_t pclntab__magic(const struct pclntab *t)
{
	return t->h.magic;
}

uint64_t pclntab__text(const struct pclntab *t)
{
	return t->text;
}

bool pclntab__has_inline(const struct pclntab *t)
{
	return t->gofunc.p != NULL;
}

size_t pclntab__nfunc(const struct pclntab *t)
{
	return t ? t->nfunc : 0;
}

int pclntab__func(const struct pclntab *t, size_t i, struct go_func *out)
{
	if (!t || i >= t->nfunc)
		return -ENOENT;
	out->name = t->names[i];
	out->entry = t->text + entry_off(t, i);
	out->end = t->text + entry_off(t, i + 1);
	out->abi0 = t->abi0[i];
	return 0;
}

static long lookup(const struct pclntab *t, const char *name)
{
	struct name_key k = { t, name };
	const uint64_t *e = hmap__find(&t->by_name, hmap_hash(name_hash(name)), name_key_eq, &k);

	return e ? (long)*e : -1;
}

int pclntab__find(const struct pclntab *t, const char *name, struct go_func *out)
{
	size_t n;
	long i;

	if (!t || !name)
		return -ENOENT;
	i = lookup(t, name);
	if (i < 0) {
		/* "runtime.morestackc.abi0", as the symbol table spells the ABI0 twin. */
		char buf[512];

		n = strlen(name);
		if (n <= 5 || n - 5 >= sizeof(buf) || strcmp(name + n - 5, ".abi0"))
			return -ENOENT;
		memcpy(buf, name, n - 5);
		buf[n - 5] = '\0';
		i = lookup(t, buf);
		if (i < 0)
			return -ENOENT;
		if (t->twin[i] != NO_TWIN)
			i = t->twin[i];
		else if (!(func_ptr(t, i)[t->func_size - 3] & FUNCFLAG_ASM) &&
			 !strstr(buf, "._Cfunc_") && !strstr(buf, "._C2func_") &&
			 !strstr(buf, "._cgo_"))
			return -ENOENT;
		/* A lone assembly function, or a cgo stub (ABI0 in Go 1.19 to 1.26, as
		 * go tool nm shows), is its own ABI0 symbol. */
	}
	return pclntab__func(t, i, out);
}

static long index_at(const struct pclntab *t, uint64_t pc)
{
	uint64_t off;
	size_t lo = 0, hi;

	if (!t || pc < t->text)
		return -1;
	off = pc - t->text;
	if (off >= entry_off(t, t->nfunc))
		return -1;
	hi = t->nfunc; /* invariant: entry(lo) <= off < entry(hi) once entry(0) <= off */
	if (off < entry_off(t, 0))
		return -1;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (entry_off(t, mid) <= off)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

int pclntab__func_at(const struct pclntab *t, uint64_t pc, struct go_func *out)
{
	long i = index_at(t, pc);

	if (i < 0)
		return -ENOENT;
	return pclntab__func(t, i, out);
}

static int uvarint(const struct region *r, size_t *pos, uint32_t *v)
{
	uint32_t x = 0;
	int shift;

	for (shift = 0; shift < 35 && *pos < r->n; shift += 7) {
		uint8_t b = r->p[(*pos)++];

		x |= (uint32_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = x;
			return 0;
		}
	}
	return -EINVAL;
}

/* The value of a pc-value table at pc (runtime.pcvalue): -1 at entry, then
 * (value delta, pc delta) varint pairs. false when there is no value. */
static bool pcvalue(const struct pclntab *t, uint32_t off, uint64_t entry, uint64_t pc,
		    int32_t *val)
{
	uint64_t cur = entry;
	int32_t v = -1;
	size_t pos = off;
	bool first = true;

	if (!off || off >= t->pctab.n)
		return false;
	for (;;) {
		uint32_t uv, pd;

		if (uvarint(&t->pctab, &pos, &uv))
			return false;
		if (uv == 0 && !first)
			return false;
		first = false;
		v = (int32_t)((uint32_t)v + ((uv & 1) ? ~(uv >> 1) : (uv >> 1))); /* wraps, as Go's */
		if (uvarint(&t->pctab, &pos, &pd))
			return false;
		cur += (uint64_t)pd * t->h.minlc;
		if (pc < cur) {
			*val = v;
			return true;
		}
	}
}

static void file_line(const struct pclntab *t, const uint8_t *f, uint64_t entry, uint64_t pc,
		      struct go_frame *fr)
{
	int32_t fileno, line;
	uint64_t cu = le32(f + 32);

	fr->file = "?";
	fr->line = 0;
	if (pcvalue(t, le32(f + 20), entry, pc, &fileno) && fileno >= 0 &&
	    (cu + fileno + 1) * 4 <= t->cutab.n) {
		uint32_t foff = le32(t->cutab.p + (cu + fileno) * 4);
		const char *s = foff == UINT32_MAX ? NULL : cstr(&t->filetab, foff);

		if (s)
			fr->file = s;
	}
	if (pcvalue(t, le32(f + 24), entry, pc, &line) && line >= 0)
		fr->line = line;
}

/* The inline tree (funcdata InlTree) and the pcdata InlTreeIndex table's offset. */
static const uint8_t *inline_tree(const struct pclntab *t, const uint8_t *f, size_t *avail,
				  uint32_t *idx_table)
{
	uint32_t npcdata = le32(f + 28);
	uint8_t nfuncdata = f[t->func_size - 1];
	size_t pcd = t->func_size, fd;
	const uint8_t *base = t->pcln.p;
	uint32_t off;

	if (!t->gofunc.p || npcdata <= PCDATA_INLTREEINDEX || nfuncdata <= FUNCDATA_INLTREE)
		return NULL;
	fd = pcd + (size_t)npcdata * 4;
	if (npcdata > 1024 || (size_t)(f - base) + fd + 4 * (FUNCDATA_INLTREE + 1) > t->pcln.n)
		return NULL;
	*idx_table = le32(f + pcd + 4 * PCDATA_INLTREEINDEX);
	off = le32(f + fd + 4 * FUNCDATA_INLTREE);
	if (!*idx_table || off == UINT32_MAX || off >= t->gofunc.n)
		return NULL;
	*avail = t->gofunc.n - off;
	return t->gofunc.p + off;
}

int pclntab__symbolize(const struct pclntab *t, uint64_t pc, struct go_frame *frames, int max)
{
	const uint8_t *f, *tree;
	uint64_t entry, end;
	uint32_t idx_table = 0;
	size_t avail = 0;
	long i = index_at(t, pc);
	int n = 0, depth;

	if (i < 0 || max <= 0)
		return -ENOENT;
	f = func_ptr(t, i);
	entry = t->text + entry_off(t, i);
	end = t->text + entry_off(t, i + 1);
	tree = inline_tree(t, f, &avail, &idx_table);
	for (depth = 0; tree && depth < MAX_INLINE_DEPTH && n < max; depth++) {
		const uint8_t *call;
		int32_t ix;
		uint32_t name_off;
		int32_t parent_pc;
		const char *name;

		if (!pcvalue(t, idx_table, entry, pc, &ix) || ix < 0)
			break;
		if (((uint64_t)ix + 1) * t->inl_size > avail)
			break;
		call = tree + (size_t)ix * t->inl_size;
		/* Go 1.18/1.19 inlinedCall {parent int16, funcID u8, _ u8, file, line,
		 * func_, parentPc int32}; Go 1.20+ {funcID u8, _ [3]byte, nameOff,
		 * parentPc, startLine int32}. */
		name_off = le32(call + (t->go120 ? 4 : 12));
		parent_pc = (int32_t)le32(call + (t->go120 ? 8 : 16));
		name = cstr(&t->funcname, name_off);
		frames[n].func = name ? name : "?";
		frames[n].inlined = true;
		file_line(t, f, entry, pc, &frames[n]);
		n++;
		if (parent_pc < 0 || entry + parent_pc >= end)
			break;
		pc = entry + parent_pc;
	}
	if (n < max) {
		frames[n].func = t->names[i];
		frames[n].inlined = false;
		file_line(t, f, entry, pc, &frames[n]);
		n++;
	}
	return n;
}

/* A stackmap {n, nbit int32; bytedata [n][(nbit+7)/8]byte} at a funcdata slot,
 * entry idx. false when absent; -EINVAL through *bad when out of range. */
static bool stackmap_at(const struct pclntab *t, const uint8_t *f, int slot, int32_t idx,
			uint32_t *nbit, const uint8_t **bits, bool *bad)
{
	uint32_t npcdata = le32(f + 28), off;
	uint8_t nfuncdata = f[t->func_size - 1];
	size_t fd = t->func_size + (size_t)npcdata * 4;
	int32_t n, nb;
	size_t per;

	*nbit = 0;
	*bits = NULL;
	if (slot >= nfuncdata)
		return false;
	if ((size_t)(f - t->pcln.p) + fd + 4 * ((size_t)slot + 1) > t->pcln.n) {
		*bad = true;
		return false;
	}
	off = le32(f + fd + 4 * (size_t)slot);
	if (off == UINT32_MAX)
		return false;
	if ((uint64_t)off + 8 > t->gofunc.n) {
		*bad = true;
		return false;
	}
	n = (int32_t)le32(t->gofunc.p + off);
	nb = (int32_t)le32(t->gofunc.p + off + 4);
	if (n <= 0)
		return false;
	if (nb < 0 || nb > (1 << 24) || (nb && idx >= n)) {
		*bad = true;
		return false;
	}
	per = ((size_t)nb + 7) / 8;
	if (off + 8 + per * (size_t)n > t->gofunc.n) {
		*bad = true;
		return false;
	}
	*nbit = (uint32_t)nb;
	*bits = nb ? t->gofunc.p + off + 8 + per * (size_t)idx : NULL;
	return true;
}

int pclntab__stackmap(const struct pclntab *t, uint64_t pc, struct pclntab_stackmap *out)
{
	long i = index_at(t, pc);
	const uint8_t *f;
	uint64_t entry;
	int32_t sp, idx = 0;
	bool bad = false, has_l, has_a;

	memset(out, 0, sizeof(*out));
	if (i < 0 || !t->gofunc.p)
		return -ENOENT;
	f = func_ptr(t, i);
	entry = t->text + entry_off(t, i);
	out->entry = entry;
	/* runtime.funcspdelta: at the pc itself (a return address or the entry) */
	if (!pcvalue(t, le32(f + 16), entry, pc, &sp)) {
		if (pc != entry)
			return -EINVAL;
		sp = 0;
	}
	if (sp < 0 || sp > (1 << 24))
		return -EINVAL;
	out->spdelta = sp;
	/* getStackMap: back up to the CALL; the entry uses map 0. */
	if (pc != entry) {
		if (le32(f + 28) <= PCDATA_STACKMAPINDEX ||
		    !pcvalue(t, le32(f + t->func_size + 4 * PCDATA_STACKMAPINDEX), entry, pc - 1, &idx))
			idx = -1;
		if (idx == -1) {
			out->unsafe_point = true;
			idx = 0;
		}
	}
	if (idx < 0)
		return -EINVAL;
	has_l = stackmap_at(t, f, FUNCDATA_LOCALSPTRMAPS, idx, &out->nlocals, &out->locals, &bad);
	has_a = stackmap_at(t, f, FUNCDATA_ARGSPTRMAPS, idx, &out->nargs, &out->args, &bad);
	if (bad) {
		memset(out, 0, sizeof(*out));
		return -EINVAL;
	}
	out->entry = entry;
	out->spdelta = sp;
	out->has_maps = has_l || has_a;
	out->unsafe_point = out->unsafe_point && pc != entry;
	return 0;
}
