#include <dwarf.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "binary/offsets.h"
#include "util/log.h"

/* Bounds that keep a hostile file from making the scan unbounded. */
#define MAX_DIES (64u << 20)    /* top-level DIEs visited */
#define MAX_TYPE_HOPS 16        /* typedef chain */
#define MAX_MEMBERS 4096        /* members of one struct */
#define MAX_OFFSET (1 << 20)    /* no Go runtime struct is near 1 MiB */
#define MAX_STRUCTS 16

struct wanted {
	const char *name;
	Dwarf_Die die;
	bool found;
};

static bool has_debug_info(Elf *elf)
{
	size_t shstrndx;
	Elf_Scn *scn = NULL;

	if (elf_getshdrstrndx(elf, &shstrndx) != 0)
		return false;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *name;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type == SHT_NOBITS)
			continue;
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		/* Go 1.19+ writes SHF_COMPRESSED .debug_*; older Go linkers and
		 * objcopy --compress-debug-sections=zlib-gnu write .zdebug_*. libdw
		 * decompresses both. */
		if (name && (strcmp(name, ".debug_info") == 0 || strcmp(name, ".zdebug_info") == 0))
			return true;
	}
	return false;
}

/* One pass over the top-level DIEs of every unit, where Go puts its types. */
static int find_structs(Dwarf *dw, struct wanted *w, int nw)
{
	Dwarf_Off off = 0, next;
	size_t hsize;
	unsigned visited = 0;
	int left = nw;

	while (left > 0 && dwarf_next_unit(dw, off, &next, &hsize, NULL, NULL, NULL, NULL, NULL, NULL) == 0) {
		Dwarf_Die cu, die;

		if (next <= off)
			break;
		if (!dwarf_offdie(dw, off + hsize, &cu) || dwarf_child(&cu, &die) != 0) {
			off = next;
			continue;
		}
		do {
			const char *name;

			if (++visited > MAX_DIES)
				return -E2BIG;
			if (dwarf_tag(&die) != DW_TAG_structure_type)
				continue;
			name = dwarf_diename(&die);
			if (!name)
				continue;
			for (int i = 0; i < nw; i++) {
				if (!w[i].found && strcmp(w[i].name, name) == 0) {
					w[i].die = die;
					w[i].found = true;
					left--;
					break;
				}
			}
		} while (left > 0 && dwarf_siblingof(&die, &die) == 0);
		off = next;
	}
	return 0;
}

static int member_offset(Dwarf_Die *m, int64_t *off)
{
	Dwarf_Attribute attr;
	Dwarf_Word v;

	if (!dwarf_attr(m, DW_AT_data_member_location, &attr))
		return -ENOENT;
	switch (dwarf_whatform(&attr)) {
	case DW_FORM_data1:
	case DW_FORM_data2:
	case DW_FORM_data4:
	case DW_FORM_data8:
	case DW_FORM_udata:
	case DW_FORM_sdata:
	case DW_FORM_implicit_const:
		if (dwarf_formudata(&attr, &v) != 0)
			return -EINVAL;
		break;
	default: {
		/* DWARF 2 style: a location expression, DW_OP_plus_uconst N. */
		Dwarf_Op *ops;
		size_t nops;

		if (dwarf_getlocation(&attr, &ops, &nops) != 0 || nops != 1 ||
		    ops[0].atom != DW_OP_plus_uconst)
			return -EINVAL;
		v = ops[0].number;
	}
	}
	if (v >= MAX_OFFSET)
		return -ERANGE;
	*off = (int64_t)v;
	return 0;
}

static bool find_member(Dwarf_Die *st, const char *name, size_t len, Dwarf_Die *out)
{
	Dwarf_Die m;
	unsigned n = 0;

	if (dwarf_child(st, &m) != 0)
		return false;
	do {
		const char *mn;

		if (++n > MAX_MEMBERS)
			return false;
		if (dwarf_tag(&m) != DW_TAG_member)
			continue;
		mn = dwarf_diename(&m);
		if (mn && strlen(mn) == len && memcmp(mn, name, len) == 0) {
			*out = m;
			return true;
		}
	} while (dwarf_siblingof(&m, &m) == 0);
	return false;
}

/* The struct a member's type names, through typedefs. */
static bool member_struct(Dwarf_Die *m, Dwarf_Die *out)
{
	Dwarf_Attribute attr;
	Dwarf_Die t;

	if (!dwarf_attr(m, DW_AT_type, &attr) || !dwarf_formref_die(&attr, &t))
		return false;
	for (int i = 0; i < MAX_TYPE_HOPS; i++) {
		int tag = dwarf_tag(&t);

		if (tag == DW_TAG_structure_type) {
			*out = t;
			return true;
		}
		if (tag != DW_TAG_typedef || !dwarf_attr(&t, DW_AT_type, &attr) ||
		    !dwarf_formref_die(&attr, &t))
			return false;
	}
	return false;
}

/* Offset of a dotted member path ("sched.sp") from the start of st. */
static int path_offset(Dwarf_Die st, const char *path, int64_t *off)
{
	int64_t total = 0;

	for (;;) {
		const char *dot = strchr(path, '.');
		size_t len = dot ? (size_t)(dot - path) : strlen(path);
		Dwarf_Die m;
		int64_t o;
		int err;

		if (!find_member(&st, path, len, &m))
			return -ENOENT;
		err = member_offset(&m, &o);
		if (err)
			return err;
		total += o;
		if (!dot)
			break;
		if (!member_struct(&m, &st))
			return -ENOENT;
		path = dot + 1;
	}
	if (total >= MAX_OFFSET)
		return -ERANGE;
	*off = total;
	return 0;
}

static int read_offsets(Dwarf *dw, struct go_offsets *out)
{
	struct wanted w[MAX_STRUCTS];
	int nw = 0, err;

	for (int f = 0; f < GO_OFF_COUNT; f++) {
		const char *type, *path;
		int i;

		go_off_dwarf_path(f, &type, &path);
		for (i = 0; i < nw && strcmp(w[i].name, type) != 0; i++)
			;
		if (i == nw && nw < MAX_STRUCTS)
			w[nw++] = (struct wanted){ .name = type };
	}
	err = find_structs(dw, w, nw);
	if (err) {
		ct_errmsg_set("DWARF has more than %u top-level entries", MAX_DIES);
		return err;
	}
	for (int f = 0; f < GO_OFF_COUNT; f++) {
		const char *type, *path;
		int64_t off;

		go_off_dwarf_path(f, &type, &path);
		for (int i = 0; i < nw; i++) {
			if (!w[i].found || strcmp(w[i].name, type) != 0)
				continue;
			if (path_offset(w[i].die, path, &off) == 0) {
				out->v[f] = off;
				out->src[f] = GO_OFF_DWARF;
			}
			break;
		}
	}
	return 0;
}

int offsets__from_dwarf_fd(int fd, struct go_offsets *out)
{
	Elf *elf = NULL;
	Dwarf *dw = NULL;
	int err = 0;

	for (int f = 0; f < GO_OFF_COUNT; f++) {
		out->v[f] = -1;
		out->src[f] = GO_OFF_ABSENT;
	}
	out->table_minor = 0;
	out->assumed_minor = 0;

	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF) {
		ct_errmsg_set("not an ELF file");
		err = -ENOEXEC;
		goto cleanup;
	}
	if (!has_debug_info(elf)) {
		ct_errmsg_set("no DWARF (.debug_info): built with -ldflags=-w or stripped");
		err = -ENODATA;
		goto cleanup;
	}
	dw = dwarf_begin_elf(elf, DWARF_C_READ, NULL);
	if (!dw) {
		ct_errmsg_set("cannot read DWARF: %s", dwarf_errmsg(-1));
		err = -EINVAL;
		goto cleanup;
	}
	err = read_offsets(dw, out);
cleanup:
	dwarf_end(dw);
	elf_end(elf);
	return err;
}

int offsets__from_dwarf(const char *path, struct go_offsets *out)
{
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		for (int f = 0; f < GO_OFF_COUNT; f++) {
			out->v[f] = -1;
			out->src[f] = GO_OFF_ABSENT;
		}
		out->table_minor = 0;
		out->assumed_minor = 0;
		ct_errmsg_set("cannot open %s: %s", path, strerror(-err));
		return err;
	}
	err = offsets__from_dwarf_fd(fd, out);
	close(fd);
	return err;
}
