#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "binary/moduledata.h"
#include "events/gotypes.h"
#include "events/procmem.h"
#include "util/hash.h"
#include "util/intern.h"

/* abi.Type (runtime._type before 1.21), amd64, identical in 1.19 to 1.27. */
#define TYPE_TFLAG 20
#define TYPE_STR 40
#define TYPE_SIZE 48
#define TFLAG_EXTRA_STAR (1 << 1)
/* itab / abi.ITab: inter 0, _type 8. */
#define ITAB_INTER 0
#define ITAB_TYPE 8

#define NAME_MAX_LEN 1024
#define CACHE_SLOTS 8192 /* power of two */

struct cache_ent {
	uint64_t key; /* type address; itab | 1 (its type's name); itab | 2 (its interface's) */
	const char *name;
	int kind; /* itab | 1 entries: enum ctx_kind of the name, -1 not yet known */
};

struct gotypes {
	struct gotypes_opts o;
	struct cache_ent *cache;
	struct gotypes_stats st;
};

int gotypes__read_moduledata(struct procmem *mem, int go_minor, struct go_moduledata *md)
{
	uint64_t w[GO_MD_SPAN / 8];
	struct go_md_fields f;
	int err = procmem__read(mem, md->addr, w, sizeof(w));

	if (err)
		return err;
	/* Go 1.20 added covctrs and ecovctrs before the type range. */
	err = go_md__decode(w, go_minor >= 20, &f);
	if (err)
		return err;
	md->types = f.types;
	md->etypes = f.etypes;
	return 0;
}

int gotypes__find_moduledata(struct procmem *mem, uint64_t pclntab_rt, uint64_t text_rt,
			     int go_minor, struct go_moduledata *md)
{
	enum { CHUNK = 1 << 16 };
	struct pm_map *maps = calloc(4096, sizeof(*maps));
	uint64_t *buf = malloc(CHUNK);
	int n, err = -ENOENT;

	if (!maps || !buf) {
		err = -ENOMEM;
		goto cleanup;
	}
	n = procmem__maps(mem, maps, 4096);
	if (n < 0) {
		err = n;
		goto cleanup;
	}
	for (int i = 0; i < n && err == -ENOENT; i++) {
		if (!maps[i].exe || !maps[i].w)
			continue;
		for (uint64_t a = maps[i].start; a < maps[i].end && err == -ENOENT; a += CHUNK) {
			size_t len = maps[i].end - a < CHUNK ? maps[i].end - a : CHUNK;

			if (procmem__read(mem, a, buf, len))
				break;
			for (size_t k = 0; k < len / 8; k++) {
				uint64_t text;

				if (buf[k] != pclntab_rt)
					continue;
				md->addr = a + k * 8;
				if (text_rt && (procmem__read_u64(mem, md->addr + GO_MD_TEXT, &text) ||
						text != text_rt))
					continue;
				if (gotypes__read_moduledata(mem, go_minor, md) == 0) {
					err = 0;
					break;
				}
			}
		}
	}
cleanup:
	free(maps);
	free(buf);
	return err;
}

struct gotypes *gotypes__new(const struct gotypes_opts *opts)
{
	struct gotypes *gt = calloc(1, sizeof(*gt));

	if (!gt)
		return NULL;
	gt->o = *opts;
	gt->cache = calloc(CACHE_SLOTS, sizeof(*gt->cache));
	if (!gt->cache) {
		free(gt);
		errno = ENOMEM;
		return NULL;
	}
	return gt;
}

void gotypes__free(struct gotypes *gt)
{
	if (!gt)
		return;
	free(gt->cache);
	free(gt);
}

static struct cache_ent *cache_slot(struct gotypes *gt, uint64_t key)
{
	return &gt->cache[ct_mix64(key) & (CACHE_SLOTS - 1)];
}

static bool in_types(const struct gotypes *gt, uint64_t a, uint64_t len)
{
	return a >= gt->o.types && a < gt->o.etypes && len <= gt->o.etypes - a;
}

static const char *read_type_name(struct gotypes *gt, uint64_t type)
{
	unsigned char t[TYPE_SIZE], hdr[6], *s = NULL;
	uint64_t name, len = 0;
	int32_t off;
	int vlen = 0;
	const char *res = NULL;

	if (!in_types(gt, type, TYPE_SIZE) || procmem__read(gt->o.mem, type, t, sizeof(t)))
		goto fail;
	memcpy(&off, t + TYPE_STR, sizeof(off));
	if (off <= 0)
		goto fail;
	name = gt->o.types + (uint64_t)off;
	/* name: flag byte, varint length (Go 1.17+), bytes. */
	if (!in_types(gt, name, 2) ||
	    procmem__read(gt->o.mem, name, hdr, gt->o.etypes - name < sizeof(hdr) ?
				  gt->o.etypes - name : sizeof(hdr)))
		goto fail;
	for (int i = 1; i < (int)sizeof(hdr); i++) {
		len |= (uint64_t)(hdr[i] & 0x7f) << (7 * (i - 1));
		if (!(hdr[i] & 0x80)) {
			vlen = i;
			break;
		}
	}
	if (!vlen || !len || len > NAME_MAX_LEN || !in_types(gt, name + 1 + vlen, len))
		goto fail;
	s = malloc(len);
	if (!s || procmem__read(gt->o.mem, name + 1 + vlen, s, len))
		goto fail;
	if ((t[TYPE_TFLAG] & TFLAG_EXTRA_STAR) && s[0] == '*')
		res = intern__strn(gt->o.in, (char *)s + 1, len - 1);
	else
		res = intern__strn(gt->o.in, (char *)s, len);
	free(s);
	return res;
fail:
	free(s);
	gt->st.read_errors++;
	return NULL;
}

const char *gotypes__type_name(struct gotypes *gt, uint64_t type)
{
	struct cache_ent *e;
	const char *name;

	if (!type)
		return NULL;
	gt->st.lookups++;
	e = cache_slot(gt, type);
	if (e->key == type)
		return e->name;
	gt->st.misses++;
	name = read_type_name(gt, type);
	if (name) {
		e->key = type;
		e->name = name;
	}
	return name;
}

int gotypes__itab_type(struct gotypes *gt, uint64_t itab, uint64_t *type)
{
	if (!itab)
		return -EINVAL;
	return procmem__read_u64(gt->o.mem, itab + ITAB_TYPE, type);
}

const char *gotypes__itab_name(struct gotypes *gt, uint64_t itab)
{
	struct cache_ent *e;
	const char *name;
	uint64_t type;

	if (!itab || (itab & 7))
		return NULL;
	gt->st.lookups++;
	e = cache_slot(gt, itab | 1);
	if (e->key == (itab | 1))
		return e->name;
	gt->st.misses++;
	if (gotypes__itab_type(gt, itab, &type)) {
		gt->st.read_errors++;
		return NULL;
	}
	name = gotypes__type_name(gt, type);
	if (name) {
		/* The type's own slot may have taken this one; re-find it. */
		e = cache_slot(gt, itab | 1);
		e->key = itab | 1;
		e->name = name;
		e->kind = -1;
	}
	return name;
}

const char *gotypes__itab_iface_name(struct gotypes *gt, uint64_t itab)
{
	struct cache_ent *e;
	const char *name;
	uint64_t inter;

	if (!itab || (itab & 7))
		return NULL;
	gt->st.lookups++;
	e = cache_slot(gt, itab | 2);
	if (e->key == (itab | 2))
		return e->name;
	gt->st.misses++;
	if (procmem__read_u64(gt->o.mem, itab + ITAB_INTER, &inter)) {
		gt->st.read_errors++;
		return NULL;
	}
	name = gotypes__type_name(gt, inter);
	if (name) {
		e = cache_slot(gt, itab | 2);
		e->key = itab | 2;
		e->name = name;
	}
	return name;
}

enum ctx_kind gotypes__kind_of_name(const char *n)
{
	static const struct {
		const char *name;
		enum ctx_kind kind;
	} known[] = {
		{ "*context.cancelCtx", CTX_CANCEL },
		{ "*context.timerCtx", CTX_TIMER },
		{ "*context.afterFuncCtx", CTX_AFTERFUNC },
		{ "*context.valueCtx", CTX_VALUE },
		{ "context.withoutCancelCtx", CTX_WITHOUTCANCEL },
		{ "context.backgroundCtx", CTX_BACKGROUND },
		{ "context.todoCtx", CTX_TODO },
		{ "*context.emptyCtx", CTX_BACKGROUND },
	};

	if (!n)
		return CTX_UNKNOWN;
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		if (!strcmp(n, known[i].name))
			return known[i].kind;
	}
	return CTX_CUSTOM;
}

enum ctx_kind gotypes__ctx_kind(struct gotypes *gt, uint64_t itab, uint64_t data,
				const char **type_name)
{
	const char *n = gotypes__itab_name(gt, itab);
	struct cache_ent *e = cache_slot(gt, itab | 1);
	enum ctx_kind k;

	/* The kind is cached with the itab's name: this runs for every record. */
	if (n && e->key == (itab | 1) && e->kind >= 0) {
		k = e->kind;
	} else {
		k = gotypes__kind_of_name(n);
		if (n && e->key == (itab | 1))
			e->kind = k;
	}
	if (type_name)
		*type_name = n;
	/* Go 1.19/1.20: Background() and TODO() are two *emptyCtx objects. */
	if (k == CTX_BACKGROUND && n && n[1] == 'c' && !strcmp(n, "*context.emptyCtx") && data) {
		/* context.todo is set by the context package's init, which may not have
		 * run yet when ctxtrace attaches to a process just started. */
		if (!gt->o.todo_obj && gt->o.todo_var)
			procmem__read_u64(gt->o.mem, gt->o.todo_var, &gt->o.todo_obj);
		if (data == gt->o.todo_obj)
			k = CTX_TODO;
	}
	return k;
}

const char *gotypes__intern(struct gotypes *gt, const char *s)
{
	return intern__str(gt->o.in, s);
}

void gotypes__stats(const struct gotypes *gt, struct gotypes_stats *st)
{
	*st = gt->st;
}
