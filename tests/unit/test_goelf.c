/* Unit tests of the Go binary reader's parsers on crafted bytes: build info (both
 * layouts, version strings, module info), the pclntab (Go 1.18 and 1.20+ layouts,
 * names, ABI0 twins, pc lookup, file:line, inline frames) and their error paths,
 * and goelf__open's refusals. Real binaries are covered by tests/e2e/goelf_*.sh. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "binary/buildinfo.h"
#include "binary/goelf.h"
#include "binary/moduledata.h"
#include "binary/pclntab.h"
#include "util/log.h"

/* ---- build info ---- */

static size_t put_uvarint(uint8_t *p, size_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

static const char sentinel[] = "0123456789abcdef"; /* 16 bytes, as cmd/go's */

static size_t make_inline_bi(uint8_t *buf, const char *version, const char *modinfo)
{
	char mod[2048];
	size_t n = 32, ml;

	memset(buf, 0, 32);
	memcpy(buf, "\xff Go buildinf:", 14);
	buf[14] = 8;
	buf[15] = 2;
	n += put_uvarint(buf + n, strlen(version));
	memcpy(buf + n, version, strlen(version));
	n += strlen(version);
	ml = snprintf(mod, sizeof(mod), "%.16s%s%.16s", sentinel, modinfo, sentinel);
	n += put_uvarint(buf + n, ml);
	memcpy(buf + n, mod, ml);
	return n + ml;
}

static const char *modinfo =
	"path\tctxtrace.test/programs/app\n"
	"mod\tctxtrace.test/programs\t(devel)\t\n"
	"dep\tgolang.org/x/net\tv0.1.0\th1:abc=\n"
	"build\t-buildmode=pie\n"
	"build\t-compiler=gc\n"
	"build\t-ldflags=\"-s -w -X main.v=1\"\n"
	"build\tCGO_ENABLED=1\n"
	"build\tGOEXPERIMENT=nocoverageredesign\n"
	"build\tGOARCH=amd64\n";

static void test_buildinfo_inline(void **state)
{
	struct go_buildinfo bi;
	uint8_t buf[4096];
	size_t n = make_inline_bi(buf, "go1.22.12", modinfo);

	assert_int_equal(buildinfo__parse(buf, n, NULL, NULL, &bi), 0);
	assert_string_equal(bi.version, "go1.22.12");
	assert_int_equal(bi.major, 1);
	assert_int_equal(bi.minor, 22);
	assert_int_equal(bi.patch, 12);
	assert_true(bi.inline_layout);
	assert_string_equal(bi.path, "ctxtrace.test/programs/app");
	assert_string_equal(bi.main_module, "ctxtrace.test/programs");
	assert_string_equal(bi.main_version, "(devel)");
	assert_true(bi.cgo);
	assert_string_equal(bi.buildmode, "pie");
	assert_string_equal(bi.goexperiment, "nocoverageredesign");
	assert_string_equal(bi.ldflags, "-s -w -X main.v=1");
}

static void test_buildinfo_defaults(void **state)
{
	struct go_buildinfo bi;
	uint8_t buf[4096];
	size_t n = make_inline_bi(buf, "go1.26.11", "path\tx\nmod\tx\t(devel)\t\nbuild\tCGO_ENABLED=0\n");

	assert_int_equal(buildinfo__parse(buf, n, NULL, NULL, &bi), 0);
	assert_false(bi.cgo);
	assert_string_equal(bi.buildmode, "exe");
	assert_string_equal(bi.goexperiment, "");
	assert_string_equal(bi.ldflags, "");
	assert_int_equal(bi.minor, 26);
}

/* The pre-1.18 layout: two pointers to Go string headers elsewhere in the image. */
struct fake_image {
	uint64_t base;
	uint8_t mem[512];
};

static const void *fake_read(void *ctx, uint64_t vaddr, size_t len)
{
	struct fake_image *im = ctx;

	if (vaddr < im->base || vaddr - im->base > sizeof(im->mem) ||
	    len > sizeof(im->mem) - (vaddr - im->base))
		return NULL;
	return im->mem + (vaddr - im->base);
}

static void test_buildinfo_pointer_layout(void **state)
{
	struct fake_image im = { .base = 0x500000 };
	char mod[256];
	uint8_t hdr[32] = { 0 };
	struct go_buildinfo bi;
	uint64_t v;
	size_t ml;

	memcpy(hdr, "\xff Go buildinf:", 14);
	hdr[14] = 8;
	hdr[15] = 0;
	v = im.base + 0;
	memcpy(hdr + 16, &v, 8);
	v = im.base + 16;
	memcpy(hdr + 24, &v, 8);
	/* string headers at +0 and +16, data at +64 and +128 */
	v = im.base + 64;
	memcpy(im.mem + 0, &v, 8);
	v = 9;
	memcpy(im.mem + 8, &v, 8);
	memcpy(im.mem + 64, "go1.12.17", 9);
	ml = snprintf(mod, sizeof(mod), "%.16spath\told/app\nmod\told\tv1.2.3\th1:x=\n%.16s",
		      sentinel, sentinel);
	v = im.base + 128;
	memcpy(im.mem + 16, &v, 8);
	v = ml;
	memcpy(im.mem + 24, &v, 8);
	memcpy(im.mem + 128, mod, ml);

	assert_int_equal(buildinfo__parse(hdr, sizeof(hdr), fake_read, &im, &bi), 0);
	assert_false(bi.inline_layout);
	assert_string_equal(bi.version, "go1.12.17");
	assert_int_equal(bi.minor, 12);
	assert_string_equal(bi.path, "old/app");
	assert_string_equal(bi.main_module, "old");
	assert_string_equal(bi.main_version, "v1.2.3");

	/* Without a reader, or with pointers leading nowhere: a clean error. */
	assert_int_equal(buildinfo__parse(hdr, sizeof(hdr), NULL, NULL, &bi), -EINVAL);
	v = 0x10;
	memcpy(hdr + 16, &v, 8);
	assert_int_equal(buildinfo__parse(hdr, sizeof(hdr), fake_read, &im, &bi), -EINVAL);
}

static void test_buildinfo_errors(void **state)
{
	struct go_buildinfo bi;
	uint8_t buf[4096];
	size_t n;

	memset(buf, 0, sizeof(buf));
	assert_int_equal(buildinfo__parse(buf, 64, NULL, NULL, &bi), -EINVAL);
	assert_non_null(strstr(ct_errmsg(), "no Go build info header"));
	assert_int_equal(buildinfo__parse(buf, 0, NULL, NULL, &bi), -EINVAL);
	n = make_inline_bi(buf, "go1.22.12", modinfo);
	/* cut inside the version, inside the varint, inside the module info */
	assert_int_equal(buildinfo__parse(buf, 36, NULL, NULL, &bi), -EINVAL);
	assert_int_equal(buildinfo__parse(buf, 32, NULL, NULL, &bi), -EINVAL);
	assert_int_equal(buildinfo__parse(buf, n - 10, NULL, NULL, &bi), -EINVAL);
	/* a length that runs past the end */
	buf[32] = 0xff;
	buf[33] = 0x7f;
	assert_int_equal(buildinfo__parse(buf, n, NULL, NULL, &bi), -EINVAL);
	assert_non_null(strstr(ct_errmsg(), "corrupted"));
	/* a version without "go1.N" */
	n = make_inline_bi(buf, "weird", "");
	assert_int_equal(buildinfo__parse(buf, n, NULL, NULL, &bi), -EINVAL);
	assert_non_null(strstr(ct_errmsg(), "unrecognized Go version"));
	/* the header further in, 16-byte aligned, is found */
	memmove(buf + 32, buf, n);
	memset(buf, 0, 32);
	n = make_inline_bi(buf + 32, "go1.25.12", "");
	assert_int_equal(buildinfo__parse(buf, n + 32, NULL, NULL, &bi), 0);
	assert_int_equal(bi.minor, 25);
}

static void test_version_strings(void **state)
{
	static const struct {
		const char *s;
		int rc, major, minor, patch;
	} cases[] = {
		{ "go1.26.11", 0, 1, 26, 11 },
		{ "go1.22.12", 0, 1, 22, 12 },
		{ "go1.21rc2", 0, 1, 21, 0 },
		{ "go1.23.5 X:nocoverageredesign", 0, 1, 23, 5 },
		{ "go1.19", 0, 1, 19, 0 },
		{ "go1.12.17", 0, 1, 12, 17 },
		{ "devel go1.24-abcdef1234 Tue Jan 1 00:00:00 2025 +0000", 0, 1, 24, 0 },
		{ "go1.20beta1", 0, 1, 20, 0 },
		{ "", -EINVAL, 0, 0, 0 },
		{ "go1.", -EINVAL, 0, 0, 0 },
		{ "go2.0", -EINVAL, 0, 0, 0 },
		{ "gox", -EINVAL, 0, 0, 0 },
		{ "go1.99999", -EINVAL, 0, 0, 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int ma = -1, mi = -1, pa = -1;

		assert_int_equal(buildinfo__parse_version(cases[i].s, &ma, &mi, &pa), cases[i].rc);
		if (cases[i].rc)
			continue;
		assert_int_equal(ma, cases[i].major);
		assert_int_equal(mi, cases[i].minor);
		assert_int_equal(pa, cases[i].patch);
	}
}

static void test_modinfo_control_bytes(void **state)
{
	struct go_buildinfo bi = { 0 };
	const char s[] = "path\tev\x1bil\nmod\tm\nbuild\t-ldflags=\"-X \\\"a=b\\\"\"\n";

	buildinfo__parse_modinfo(s, sizeof(s) - 1, &bi);
	assert_string_equal(bi.path, "ev?il");
	assert_string_equal(bi.main_module, "m");
	assert_string_equal(bi.main_version, "");
}

/* ---- pclntab ---- */

#define TEXT 0x401000ULL

struct tab {
	uint8_t d[4096];
	size_t n;
	uint8_t gofunc[256];
	size_t gofunc_n;
};

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

/* Functions: main.a [0,0x20) a.go:10,11; main.b [0x20,0x40) b.go:30;
 * runtime.x (asm, ABI0) [0x40,0x50); runtime.x (its ABIInternal wrapper) [0x50,0x60);
 * main.f·1 [0x60,0xa0) with inline frames: [0x70,0x80) main.inl inlined at 0x68,
 * [0x80,0x90) main.deep inlined into main.inl at 0x74. End 0xa0.
 * main.f·1's frame: pcsp 0 [0,4), 0x28 [4,0x40); stack map index (PCDATA 1)
 * -1 [0,0x10), 0 [0x10,0x20), 1 [0x20,0x30), -1 [0x30,0x40); args maps (FUNCDATA
 * 0) at gofunc+64 {n 2, nbit 3: 0x02, 0x06}, locals maps (FUNCDATA 1) at gofunc+80
 * {n 2, nbit 10: 0x03 0x00, 0x00 0x02}. */
static void build_tab(struct tab *t, bool go120)
{
	static const char names[] = "main.a\0main.b\0runtime.x\0main.f\xc2\xb7" "1\0main.inl\0main.deep\0";
	enum { N_A = 0, N_B = 7, N_X = 14, N_F = 24, N_INL = 34, N_DEEP = 43 };
	static const char files[] = "a.go\0b.go\0";
	size_t fsize = go120 ? 44 : 40, isize = go120 ? 16 : 20;
	size_t off_names = 72, off_cu, off_files, off_pc, off_pcln, p;
	uint32_t t_file0, t_line_a, t_line_b, t_line_f, t_inl, t_file_f, t_sp;
	uint8_t *d = t->d;
	struct {
		uint32_t entry, name, pcfile, pcln, flag, funcid, inl;
	} fn[5] = {
		{ 0x00, N_A, 0, 0, 0, 0, 0 }, { 0x20, N_B, 0, 0, 0, 0, 0 },
		{ 0x40, N_X, 0, 0, 4, 0, 0 }, { 0x50, N_X, 0, 0, 0, 23, 0 },
		{ 0x60, N_F, 0, 0, 0, 0, 1 },
	};
	int i;

	memset(t, 0, sizeof(*t));
	memcpy(d + off_names, names, sizeof(names));
	off_cu = off_names + sizeof(names);
	off_cu = (off_cu + 3) & ~3UL;
	off_files = off_cu + 8;
	put32(d + off_cu, 0);     /* cu 0 file 0: a.go */
	put32(d + off_cu + 4, 5); /* cu 0 file 1: b.go */
	memcpy(d + off_files, files, sizeof(files));
	off_pc = off_files + sizeof(files);
	p = off_pc + 1; /* offset 0 means "no table" */
	/* pcfile: file 0 over 0x20 bytes (value -1 -> 0: zigzag 2) */
	t_file0 = p - off_pc;
	d[p++] = 2, d[p++] = 0x20, d[p++] = 0;
	/* main.b's file: 1 */
	t_file_f = p - off_pc;
	d[p++] = 4, d[p++] = 0x40, d[p++] = 0;
	/* main.a lines: 10 for 0x10, 11 for 0x10 */
	t_line_a = p - off_pc;
	d[p++] = 22, d[p++] = 0x10, d[p++] = 2, d[p++] = 0x10, d[p++] = 0;
	t_line_b = p - off_pc;
	d[p++] = 62, d[p++] = 0x20, d[p++] = 0;
	/* main.f: 20 [0,0x10), 21 [0x10,0x20), 22 [0x20,0x40) */
	t_line_f = p - off_pc;
	d[p++] = 42, d[p++] = 0x10, d[p++] = 2, d[p++] = 0x10, d[p++] = 2, d[p++] = 0x20, d[p++] = 0;
	/* inline index: -1 [0,0x10), 0 [0x10,0x20), 1 [0x20,0x30), -1 [0x30,0x40) */
	t_inl = p - off_pc;
	d[p++] = 0, d[p++] = 0x10, d[p++] = 2, d[p++] = 0x10, d[p++] = 2, d[p++] = 0x10;
	d[p++] = 3, d[p++] = 0x10, d[p++] = 0;
	/* main.f's pcsp: 0 (-1 +1: zigzag 2) over 4 bytes, then 0x28 (zigzag 0x50) */
	t_sp = p - off_pc;
	d[p++] = 2, d[p++] = 4, d[p++] = 0x50, d[p++] = 0x3c, d[p++] = 0;
	fn[0].pcfile = fn[2].pcfile = fn[3].pcfile = fn[4].pcfile = t_file0;
	fn[1].pcfile = t_file_f;
	fn[0].pcln = t_line_a;
	fn[1].pcln = t_line_b;
	fn[4].pcln = t_line_f;
	off_pcln = (p + 7) & ~7UL;
	/* functab: 5 + 1 entries, then the _funcs */
	p = off_pcln + 6 * 8;
	for (i = 0; i < 5; i++) {
		uint8_t *f = d + p;
		int npcdata = fn[i].inl ? 3 : 0, nfuncdata = fn[i].inl ? 4 : 0;

		put32(d + off_pcln + 8 * i, fn[i].entry);
		put32(d + off_pcln + 8 * i + 4, p - off_pcln);
		put32(f + 0, fn[i].entry);
		put32(f + 4, fn[i].name);
		put32(f + 20, fn[i].pcfile);
		put32(f + 24, fn[i].pcln);
		put32(f + 28, npcdata);
		put32(f + 32, 0);
		f[fsize - 4] = fn[i].funcid;
		f[fsize - 3] = fn[i].flag;
		f[fsize - 1] = nfuncdata;
		if (fn[i].inl) {
			put32(f + 16, t_sp);
			put32(f + fsize + 4 * 1, t_inl); /* the same values serve as stack map index */
			put32(f + fsize + 4 * 2, t_inl);
			put32(f + fsize + 12 + 0, 64);
			put32(f + fsize + 12 + 4, 80);
			put32(f + fsize + 12 + 8, UINT32_MAX);
			put32(f + fsize + 12 + 12, 8); /* inline tree at gofunc+8 */
		}
		p += fsize + 4 * (npcdata + nfuncdata);
	}
	put32(d + off_pcln + 8 * 5, 0xa0);
	put32(d + off_pcln + 8 * 5 + 4, 0);
	t->n = p;
	/* inline tree: [0] main.inl called at f+0x08; [1] main.deep called at f+0x14 */
	if (go120) {
		put32(t->gofunc + 8 + 4, N_INL);
		put32(t->gofunc + 8 + 8, 0x08);
		put32(t->gofunc + 8 + isize + 4, N_DEEP);
		put32(t->gofunc + 8 + isize + 8, 0x14);
	} else {
		put32(t->gofunc + 8 + 12, N_INL);
		put32(t->gofunc + 8 + 16, 0x08);
		put32(t->gofunc + 8 + isize + 12, N_DEEP);
		put32(t->gofunc + 8 + isize + 16, 0x14);
	}
	put32(t->gofunc + 64, 2);
	put32(t->gofunc + 68, 3);
	t->gofunc[72] = 0x02, t->gofunc[73] = 0x06;
	put32(t->gofunc + 80, 2);
	put32(t->gofunc + 84, 10);
	t->gofunc[88] = 0x03, t->gofunc[89] = 0x00, t->gofunc[90] = 0x00, t->gofunc[91] = 0x02;
	t->gofunc_n = 92;
	/* header */
	put32(d, go120 ? PCLN_MAGIC_120 : PCLN_MAGIC_118);
	d[6] = 1;
	d[7] = 8;
	put64(d + 8, 5);
	put64(d + 16, 2);
	put64(d + 24, go120 ? 0 : TEXT); /* Go 1.26 writes no textStart */
	put64(d + 32, off_names);
	put64(d + 40, off_cu);
	put64(d + 48, off_files);
	put64(d + 56, off_pc);
	put64(d + 64, off_pcln);
}

static struct pclntab *open_tab(struct tab *t, bool inl, int minor)
{
	struct pclntab_params p = {
		.data = t->d, .size = t->n, .text = TEXT, .go_minor = minor,
		.gofunc = inl ? t->gofunc : NULL, .gofunc_size = inl ? t->gofunc_n : 0,
	};

	return pclntab__new(&p);
}

static void check_tab(bool go120)
{
	struct go_frame fr[8];
	struct go_func f;
	struct pclntab *pt;
	struct tab t;
	int n;

	build_tab(&t, go120);
	pt = open_tab(&t, true, go120 ? 26 : 19);
	assert_non_null(pt);
	assert_int_equal(pclntab__nfunc(pt), 5);
	assert_int_equal(pclntab__text(pt), TEXT);
	assert_int_equal(pclntab__magic(pt), go120 ? PCLN_MAGIC_120 : PCLN_MAGIC_118);

	assert_int_equal(pclntab__func(pt, 1, &f), 0);
	assert_string_equal(f.name, "main.b");
	assert_int_equal(f.entry, TEXT + 0x20);
	assert_int_equal(f.end, TEXT + 0x40);
	assert_int_equal(pclntab__func(pt, 5, &f), -ENOENT);

	/* names: ABI pair, ".abi0", the middle dot spelled either way */
	assert_int_equal(pclntab__find(pt, "main.a", &f), 0);
	assert_int_equal(f.entry, TEXT);
	assert_int_equal(pclntab__find(pt, "runtime.x", &f), 0);
	assert_int_equal(f.entry, TEXT + 0x50);
	assert_false(f.abi0);
	assert_int_equal(pclntab__find(pt, "runtime.x.abi0", &f), 0);
	assert_int_equal(f.entry, TEXT + 0x40);
	assert_true(f.abi0);
	assert_int_equal(pclntab__find(pt, "main.a.abi0", &f), -ENOENT);
	assert_int_equal(pclntab__find(pt, "main.f.1", &f), 0);
	assert_int_equal(f.entry, TEXT + 0x60);
	assert_int_equal(pclntab__find(pt, "main.f\xc2\xb7" "1", &f), 0);
	assert_int_equal(pclntab__find(pt, "main.f", &f), -ENOENT);
	assert_int_equal(pclntab__find(pt, "", &f), -ENOENT);

	/* pc -> function, at each boundary */
	assert_int_equal(pclntab__func_at(pt, TEXT - 1, &f), -ENOENT);
	assert_int_equal(pclntab__func_at(pt, TEXT, &f), 0);
	assert_string_equal(f.name, "main.a");
	assert_int_equal(pclntab__func_at(pt, TEXT + 0x1f, &f), 0);
	assert_string_equal(f.name, "main.a");
	assert_int_equal(pclntab__func_at(pt, TEXT + 0x20, &f), 0);
	assert_string_equal(f.name, "main.b");
	assert_int_equal(pclntab__func_at(pt, TEXT + 0x9f, &f), 0);
	assert_int_equal(f.entry, TEXT + 0x60);
	assert_int_equal(pclntab__func_at(pt, TEXT + 0xa0, &f), -ENOENT);
	assert_int_equal(pclntab__func_at(pt, 0, &f), -ENOENT);

	/* file:line */
	n = pclntab__symbolize(pt, TEXT + 0x05, fr, 8);
	assert_int_equal(n, 1);
	assert_string_equal(fr[0].func, "main.a");
	assert_string_equal(fr[0].file, "a.go");
	assert_int_equal(fr[0].line, 10);
	assert_false(fr[0].inlined);
	n = pclntab__symbolize(pt, TEXT + 0x15, fr, 8);
	assert_int_equal(fr[0].line, 11);
	n = pclntab__symbolize(pt, TEXT + 0x25, fr, 8);
	assert_string_equal(fr[0].file, "b.go");
	assert_int_equal(fr[0].line, 30);
	/* no line table: "?" and 0, as for compiler-generated wrappers */
	n = pclntab__symbolize(pt, TEXT + 0x45, fr, 8);
	assert_int_equal(n, 1);
	assert_int_equal(fr[0].line, 0);
	assert_int_equal(pclntab__symbolize(pt, TEXT + 0xa0, fr, 8), -ENOENT);

	/* inline frames, innermost first */
	n = pclntab__symbolize(pt, TEXT + 0x65, fr, 8);
	assert_int_equal(n, 1);
	assert_int_equal(fr[0].line, 20);
	n = pclntab__symbolize(pt, TEXT + 0x75, fr, 8);
	assert_int_equal(n, 2);
	assert_string_equal(fr[0].func, "main.inl");
	assert_true(fr[0].inlined);
	assert_int_equal(fr[0].line, 21);
	assert_string_equal(fr[1].func, "main.f\xc2\xb7" "1");
	assert_false(fr[1].inlined);
	assert_int_equal(fr[1].line, 20); /* at parentPc 0x08 */
	n = pclntab__symbolize(pt, TEXT + 0x85, fr, 8);
	assert_int_equal(n, 3);
	assert_string_equal(fr[0].func, "main.deep");
	assert_int_equal(fr[0].line, 22);
	assert_string_equal(fr[1].func, "main.inl");
	assert_int_equal(fr[1].line, 21); /* at 0x14 */
	assert_string_equal(fr[2].func, "main.f\xc2\xb7" "1");
	assert_int_equal(fr[2].line, 20);
	assert_false(fr[2].inlined);
	/* a short buffer keeps the innermost frames */
	n = pclntab__symbolize(pt, TEXT + 0x85, fr, 2);
	assert_int_equal(n, 2);
	assert_string_equal(fr[0].func, "main.deep");
	assert_int_equal(pclntab__symbolize(pt, TEXT + 0x85, fr, 0), -ENOENT);
	n = pclntab__symbolize(pt, TEXT + 0x95, fr, 8);
	assert_int_equal(n, 1);
	pclntab__free(pt);

	/* Without go:func.* there are no inline frames, only the function. */
	pt = open_tab(&t, false, 0);
	assert_non_null(pt);
	assert_false(pclntab__has_inline(pt));
	n = pclntab__symbolize(pt, TEXT + 0x85, fr, 8);
	assert_int_equal(n, 1);
	assert_string_equal(fr[0].func, "main.f\xc2\xb7" "1");
	assert_int_equal(fr[0].line, 22);
	pclntab__free(pt);
}

static void test_pclntab_go120(void **state)
{
	check_tab(true);
}

static void test_pclntab_go118(void **state)
{
	check_tab(false);
}

/* Stack maps as runtime getStackMap reads them: frame size at pc, the map index
 * at pc-1 (the call) except at the entry, -1 an unsafe point. */
static void check_stackmap(bool go120)
{
	struct pclntab_stackmap m;
	struct pclntab *pt;
	struct tab t;

	build_tab(&t, go120);
	pt = open_tab(&t, true, go120 ? 26 : 19);
	assert_non_null(pt);
	assert_int_equal(pclntab__stackmap(pt, TEXT + 0x75, &m), 0); /* call at 0x74: map 0 */
	assert_int_equal(m.entry, TEXT + 0x60);
	assert_int_equal(m.spdelta, 0x28);
	assert_true(m.has_maps);
	assert_false(m.unsafe_point);
	assert_int_equal(m.nargs, 3);
	assert_int_equal(m.args[0], 0x02);
	assert_int_equal(m.nlocals, 10);
	assert_int_equal(m.locals[0], 0x03);
	assert_int_equal(m.locals[1], 0x00);
	/* a return address just past the range: the call is still in map 0 */
	assert_int_equal(pclntab__stackmap(pt, TEXT + 0x80, &m), 0);
	assert_int_equal(m.args[0], 0x02);
	assert_int_equal(pclntab__stackmap(pt, TEXT + 0x85, &m), 0); /* map 1 */
	assert_int_equal(m.args[0], 0x06);
	assert_int_equal(m.locals[0], 0x00);
	assert_int_equal(m.locals[1], 0x02);
	/* the entry: map 0, no frame yet */
	assert_int_equal(pclntab__stackmap(pt, TEXT + 0x60, &m), 0);
	assert_int_equal(m.spdelta, 0);
	assert_false(m.unsafe_point);
	assert_int_equal(m.args[0], 0x02);
	/* index -1 past the entry: an unsafe point (the runtime scans it conservatively) */
	assert_int_equal(pclntab__stackmap(pt, TEXT + 0x95, &m), 0);
	assert_true(m.unsafe_point);
	assert_int_equal(pclntab__stackmap(pt, TEXT + 0x65, &m), 0);
	assert_true(m.unsafe_point);
	assert_int_equal(m.spdelta, 0x28);
	/* no pcsp table past the entry: a broken table, not a frame of size 0 */
	assert_int_equal(pclntab__stackmap(pt, TEXT + 0x05, &m), -EINVAL);
	assert_int_equal(pclntab__stackmap(pt, TEXT + 0xa0, &m), -ENOENT);
	pclntab__free(pt);

	/* an index beyond the map's entries, a map past the end of gofunc */
	build_tab(&t, go120);
	put32(t.gofunc + 80, 1);
	pt = open_tab(&t, true, 26);
	assert_int_equal(pclntab__stackmap(pt, TEXT + 0x75, &m), 0);
	assert_int_equal(pclntab__stackmap(pt, TEXT + 0x85, &m), -EINVAL);
	pclntab__free(pt);
	build_tab(&t, go120);
	t.gofunc_n = 90;
	pt = open_tab(&t, true, 26);
	assert_int_equal(pclntab__stackmap(pt, TEXT + 0x75, &m), -EINVAL);
	pclntab__free(pt);
	/* without the gofunc bytes (funcdata unknown) */
	build_tab(&t, go120);
	pt = open_tab(&t, false, 26);
	assert_int_equal(pclntab__stackmap(pt, TEXT + 0x75, &m), -ENOENT);
	pclntab__free(pt);
}

static void test_pclntab_stackmap(void **state)
{
	check_stackmap(true);
	check_stackmap(false);
}

static void test_pclntab_header_text(void **state)
{
	struct pclntab_params p = { 0 };
	struct pclntab *pt;
	struct tab t;

	/* Go 1.18/1.19 headers carry textStart: used when no text is given. */
	build_tab(&t, false);
	p.data = t.d;
	p.size = t.n;
	pt = pclntab__new(&p);
	assert_non_null(pt);
	assert_int_equal(pclntab__text(pt), TEXT);
	pclntab__free(pt);
	pclntab__free(NULL);
}

static void test_pclntab_errors(void **state)
{
	struct pclntab_header h;
	struct pclntab *pt;
	struct tab t;

	build_tab(&t, true);
	assert_int_equal(pclntab__read_header(t.d, 4, &h), -EINVAL);
	assert_int_equal(pclntab__read_header(t.d, 40, &h), -EINVAL);
	assert_non_null(strstr(ct_errmsg(), "truncated"));
	assert_int_equal(pclntab__read_header(t.d, t.n, &h), 0);
	assert_int_equal(h.nfunc, 5);

	put32(t.d, PCLN_MAGIC_116);
	assert_int_equal(pclntab__read_header(t.d, t.n, &h), -ENOTSUP);
	assert_null(open_tab(&t, true, 0));
	assert_int_equal(errno, ENOTSUP);
	put32(t.d, 0xdeadbeef);
	assert_null(open_tab(&t, true, 0));
	assert_non_null(strstr(ct_errmsg(), "unknown pclntab magic"));

	build_tab(&t, true);
	t.d[7] = 4; /* 32-bit */
	assert_null(open_tab(&t, true, 0));
	build_tab(&t, true);
	put64(t.d + 8, 1000000); /* more functions than the table holds */
	assert_null(open_tab(&t, true, 0));
	put64(t.d + 8, 0);
	assert_null(open_tab(&t, true, 0));
	build_tab(&t, true);
	put64(t.d + 64, t.n + 100); /* pclntable past the end */
	assert_null(open_tab(&t, true, 0));
	assert_non_null(strstr(ct_errmsg(), "out of range"));
	build_tab(&t, true);
	put64(t.d + 32, 8); /* inside the header */
	assert_null(open_tab(&t, true, 0));

	/* functions out of order */
	build_tab(&t, true);
	{
		uint64_t pcln;

		memcpy(&pcln, t.d + 64, 8);
		put32(t.d + pcln + 8, 0x90);
	}
	assert_null(open_tab(&t, true, 0));
	assert_non_null(strstr(ct_errmsg(), "out of order"));

	/* a name offset past the name table */
	build_tab(&t, true);
	{
		uint64_t pcln;
		uint32_t foff;

		memcpy(&pcln, t.d + 64, 8);
		memcpy(&foff, t.d + pcln + 4, 4);
		put32(t.d + pcln + foff + 4, 0x7fffffff);
	}
	assert_null(open_tab(&t, true, 0));
	assert_non_null(strstr(ct_errmsg(), "corrupted pclntab"));

	/* a truncated table: every prefix is refused or read without faults */
	build_tab(&t, true);
	{
		size_t n;

		for (n = 0; n < t.n; n++) {
			struct pclntab_params p = { .data = t.d, .size = n, .text = TEXT,
						    .gofunc = t.gofunc, .gofunc_size = t.gofunc_n };
			struct go_frame fr[8];

			pt = pclntab__new(&p);
			if (pt)
				pclntab__symbolize(pt, TEXT + 0x85, fr, 8);
			pclntab__free(pt);
		}
	}
}

static void test_pclntab_bad_inline_tree(void **state)
{
	struct go_frame fr[8];
	struct pclntab *pt;
	struct tab t;
	int n;

	build_tab(&t, true);
	/* parentPc pointing back at the same inline index: the chain must end */
	put32(t.gofunc + 8 + 16 + 8, 0x24);
	pt = open_tab(&t, true, 26);
	assert_non_null(pt);
	n = pclntab__symbolize(pt, TEXT + 0x85, fr, 8);
	assert_true(n >= 1 && n <= 8);
	pclntab__free(pt);
	/* a name offset outside the names: "?" */
	build_tab(&t, true);
	put32(t.gofunc + 8 + 4, 0x7fffffff);
	pt = open_tab(&t, true, 26);
	n = pclntab__symbolize(pt, TEXT + 0x75, fr, 8);
	assert_int_equal(n, 2);
	assert_string_equal(fr[0].func, "?");
	pclntab__free(pt);
	/* an inline tree cut short */
	build_tab(&t, true);
	t.gofunc_n = 8 + 16;
	pt = open_tab(&t, true, 26);
	n = pclntab__symbolize(pt, TEXT + 0x85, fr, 8);
	assert_int_equal(n, 1);
	pclntab__free(pt);
}

/* ---- goelf__open refusals ---- */

static void test_open_errors(void **state)
{
	static const char garbage[] = "\x7f" "ELF but not really an ELF file at all, just text.";
	uint8_t hdr[64] = { 0x7f, 'E', 'L', 'F', 2, 1, 1 };

	errno = 0;
	assert_null(goelf__open("/nonexistent/ctxtrace"));
	assert_int_equal(errno, ENOENT);
	assert_string_equal(ct_errmsg(), "No such file or directory");
	assert_null(goelf__open("/tmp"));
	assert_int_equal(errno, EISDIR);
	assert_string_equal(ct_errmsg(), "a directory, not an executable");
	assert_null(goelf__open(""));
	assert_null(goelf__open(NULL));
	assert_null(goelf__open("/bin/ls"));
	assert_string_equal(ct_errmsg(), "not a Go program (no .gopclntab section)");
	assert_null(goelf__open("/dev/null"));

	assert_null(goelf__open_mem(garbage, sizeof(garbage), "x", NULL));
	assert_null(goelf__open_mem(garbage, 3, "x", NULL));
	assert_null(goelf__open_mem(NULL, 0, "x", NULL));
	hdr[18] = 183; /* aarch64 */
	assert_null(goelf__open_mem(hdr, sizeof(hdr), "x", NULL));
	assert_non_null(strstr(ct_errmsg(), "unsupported architecture"));
	hdr[18] = 62; /* x86-64, but no segments or sections */
	hdr[16] = 2;
	assert_null(goelf__open_mem(hdr, sizeof(hdr), "x", NULL));
	goelf__free(NULL);
}

/* runtime.moduledata's words laid out as runtime/symtab.go declares them: the
 * type range, rodata and gofunc are found by the words' contents. */
static void test_moduledata_layouts(void **state)
{
	uint64_t w[GO_MD_SPAN / 8];
	struct go_md_fields f;

	(void)state;
	/* Go 1.19: ... end 256, gcdata 264, gcbss 272, types 280, etypes, rodata, gofunc. */
	memset(w, 0, sizeof(w));
	w[176 / 8] = 0x401000;
	w[184 / 8] = 0x480000;
	w[280 / 8] = 0x500000;
	w[288 / 8] = 0x540000;
	w[296 / 8] = 0x4a0000;
	w[304 / 8] = 0x560000;
	assert_int_equal(go_md__decode(w, false, &f), 0);
	assert_true(f.types == 0x500000 && f.etypes == 0x540000 && f.gofunc == 0x560000);
	assert_true(f.text == 0x401000 && f.etext == 0x480000 && !f.typedesclen);
	/* Go 1.20-1.26: covctrs and ecovctrs move them by 16. */
	memset(w + 256 / 8, 0, sizeof(w) - 256);
	w[296 / 8] = 0x500000;
	w[304 / 8] = 0x540000;
	w[312 / 8] = 0x4a0000;
	w[320 / 8] = 0x560000;
	assert_int_equal(go_md__decode(w, true, &f), 0);
	assert_true(f.types == 0x500000 && f.etypes == 0x540000 && f.gofunc == 0x560000);
	/* Go 1.27: types, typedesclen, etypes, itaboffset, itabsize, rodata, gofunc. */
	w[304 / 8] = 0x30000;
	w[312 / 8] = 0x540000;
	w[320 / 8] = 0x30000;
	w[328 / 8] = 0x800;
	w[336 / 8] = 0x4a0000;
	w[344 / 8] = 0x560000;
	assert_int_equal(go_md__decode(w, true, &f), 0);
	assert_true(f.types == 0x500000 && f.etypes == 0x540000 && f.gofunc == 0x560000);
	assert_true(f.typedesclen);
	/* Neither layout: the itabs past etypes; a length past etypes; no types. */
	w[328 / 8] = 0x20000;
	assert_int_equal(go_md__decode(w, true, &f), -EINVAL);
	w[328 / 8] = 0x800;
	w[304 / 8] = 0x50000;
	assert_int_equal(go_md__decode(w, true, &f), -EINVAL);
	w[304 / 8] = 0x30000;
	w[296 / 8] = 0;
	assert_int_equal(go_md__decode(w, true, &f), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buildinfo_inline),
		cmocka_unit_test(test_buildinfo_defaults),
		cmocka_unit_test(test_buildinfo_pointer_layout),
		cmocka_unit_test(test_buildinfo_errors),
		cmocka_unit_test(test_version_strings),
		cmocka_unit_test(test_modinfo_control_bytes),
		cmocka_unit_test(test_pclntab_go120),
		cmocka_unit_test(test_pclntab_go118),
		cmocka_unit_test(test_pclntab_header_text),
		cmocka_unit_test(test_pclntab_stackmap),
		cmocka_unit_test(test_pclntab_errors),
		cmocka_unit_test(test_pclntab_bad_inline_tree),
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test(test_moduledata_layouts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
