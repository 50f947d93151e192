/* The lineage graph. Nodes live in chunked slabs addressed by 32-bit indices (so
 * a link costs 4 bytes), found by id through open-addressing tables, and leave
 * through a FIFO of finished nodes (retention, then the max_nodes cap). Scopes are
 * immutable, reference-counted chains of cells shared between a goroutine and the
 * children it starts. docs/graph.md explains why. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "graph/lineage.h"
#include "util/hash.h"
#include "util/log.h"

#define CHUNK_SHIFT 10
#define CHUNK_SIZE (1U << CHUNK_SHIFT)
#define NONE 0U
#define SCOPE_WALK_MAX 256 /* cells a scope query looks at */
#define VALUE_WALK_MAX 4096
#define PINS_MAX 0xffff
#define RECENT 64 /* goroutines whose last event was a ctx_create, direct-mapped */

enum {
	F_USED = 1,
	F_PREEXISTING = 2,
	F_DISCOVERED = 4,
	F_PLACEHOLDER = 8,
	F_CANCEL_CALLED = 16,
	F_HAS_DEADLINE = 32,
	F_HELD = 64,  /* ctx: cancelled, past retention, kept while pinned */
	F_PINNED = 64, /* goroutine: its start scope is pinned */
	F_COLLECTED = 128, /* ctx: its address was reused: the GC freed it (off the id table) */
};

enum { ERR_NONE, ERR_CANCELED, ERR_DEADLINE, ERR_OTHER };

/* A link of the lists of open contexts and alive goroutines, so that the rules'
 * periodic walks visit those and not every node kept for history (or known only
 * as a parent). */
struct dlink {
	uint32_t prev, next;
};

struct dlist {
	uint32_t head, tail, n;
};

struct cnode {
	uint64_t id;
	uint64_t created_ns;
	uint64_t cancelled_ns;
	union {
		uint64_t collected_ns; /* when its address was reused (F_COLLECTED only) */
		struct dlink open;     /* while open: the open list (lineage__ctx_next_open) */
	};
	int64_t deadline;
	uint64_t creator;
	uint64_t canceller;
	uint64_t parent_id;
	const char *type_name;
	const struct ct_stack *stack;
	const struct ct_stack *cancel_stack;
	const char *cause;
	uint32_t gen;
	uint32_t parent;
	uint32_t first_child, next_sib, prev_sib;
	uint32_t nchildren;
	uint8_t kind, parent_kind, state, reason;
	uint8_t flags, err;
	uint16_t pins; /* scope/done cells referring to it; saturates at PINS_MAX */
};

struct gnode {
	uint64_t goid;
	uint64_t parent_goid;
	uint64_t created_ns;
	union {
		uint64_t exited_ns; /* LG_GO_EXITED only */
		struct dlink alive; /* while alive: the alive list (lineage__go_next_alive) */
	};
	const struct ct_stack *go_site;
	const char *start_func;
	uint32_t gen;
	uint32_t parent;
	uint32_t first_child, next_sib, prev_sib;
	uint32_t nchildren;
	union {
		struct { /* alive */
			uint32_t start_scope; /* chain at the go statement: immutable */
			uint32_t cur_scope;   /* own live contexts pushed on start_scope */
			uint32_t done;        /* private chain of Done() contexts, newest first */
		};
		struct { /* exited: the chains are gone, what it was bound to stays */
			uint32_t bound_idx, bound_gen, bound_pad;
		};
	};
	uint8_t state, flags, own_depth, pad;
};

/* One link of a scope chain: a context (by index and generation) and the rest. */
struct cell {
	uint32_t ctx, gen;
	uint32_t next;
	uint32_t refs;
};

/* Chunked slab of fixed-size items; index 0 is never handed out. */
struct slab {
	void **chunks;
	uint32_t nchunks;
	uint32_t hi;       /* indices below hi have been handed out at least once */
	uint32_t free;     /* free list head (through the item's first uint32) */
	uint32_t count;    /* in use */
	uint32_t size;     /* item size */
};

struct idslot {
	uint32_t idx; /* NONE: empty */
	uint32_t h;   /* low 32 bits of the key's hash */
};

struct idmap {
	struct idslot *slots;
	uint32_t mask;
	uint32_t count;
};

/* Finished nodes in finish order: (kind bit | idx, gen). Stale entries are skipped. */
struct fin {
	uint32_t node; /* top bit: goroutine */
	uint32_t gen;
};
#define FIN_GO 0x80000000U

struct lineage {
	struct lineage_opts opts;
	struct slab ctxs, gos, cells;
	struct idmap ctx_map, go_map;
	struct fin *fifo;
	uint32_t fifo_cap, fifo_head, fifo_len;
	uint64_t fifo_seq;          /* sequence number of fifo[fifo_head]: entries are numbered */
	struct dlist open_ctx, alive_go;
	uint32_t hand_ctx, hand_go; /* clock hands for evicting live nodes */
	uint32_t *walk;             /* scratch stack for value-descendant walks */
	uint32_t walk_cap;
	uint64_t now;
	struct lineage_stats st;
	/* per goroutine (by goid, direct-mapped): the context it created with its last
	 * event, to recognise the Done() the derivation makes through a wrapper */
	struct {
		uint64_t goid;
		uint32_t idx, gen;
	} recent[RECENT];
};

/* ---- slabs ---- */

static void *slab_at(const struct slab *s, uint32_t idx)
{
	return (char *)s->chunks[idx >> CHUNK_SHIFT] + (size_t)(idx & (CHUNK_SIZE - 1)) * s->size;
}

static uint32_t slab_alloc(struct lineage *lg, struct slab *s)
{
	uint32_t idx;

	if (s->free != NONE) {
		idx = s->free;
		s->free = *(uint32_t *)slab_at(s, idx);
	} else {
		if (s->hi == 0)
			s->hi = 1;
		if (s->hi >= 0x7fffffffU)
			return NONE;
		if ((s->hi >> CHUNK_SHIFT) >= s->nchunks) {
			void **nc = realloc(s->chunks, (s->nchunks + 1) * sizeof(*nc));

			if (!nc)
				return NONE;
			s->chunks = nc;
			nc[s->nchunks] = calloc(CHUNK_SIZE, s->size);
			if (!nc[s->nchunks])
				return NONE;
			s->nchunks++;
			lg->st.bytes += (uint64_t)CHUNK_SIZE * s->size + sizeof(*nc);
		}
		idx = s->hi++;
	}
	s->count++;
	return idx;
}

static void slab_free(struct slab *s, uint32_t idx)
{
	*(uint32_t *)slab_at(s, idx) = s->free;
	s->free = idx;
	s->count--;
}

static void slab_destroy(struct slab *s)
{
	for (uint32_t i = 0; i < s->nchunks; i++)
		free(s->chunks[i]);
	free(s->chunks);
}

/* The free-list link overlays the first 4 bytes; keep gen and flags elsewhere. */
_Static_assert(sizeof(uint64_t) >= sizeof(uint32_t), "free link fits in id");

static inline struct cnode *C(const struct lineage *lg, uint32_t i)
{
	return slab_at(&lg->ctxs, i);
}

static inline struct gnode *G(const struct lineage *lg, uint32_t i)
{
	return slab_at(&lg->gos, i);
}

static struct dlink *ctx_link_of(const struct lineage *lg, uint32_t i)
{
	return &C(lg, i)->open;
}

static struct dlink *go_link_of(const struct lineage *lg, uint32_t i)
{
	return &G(lg, i)->alive;
}

/* Appends idx to a list whose links link_of() finds (so the walks go oldest first). */
static void dlist_add(const struct lineage *lg, struct dlist *l, uint32_t idx,
		      struct dlink *(*link_of)(const struct lineage *, uint32_t))
{
	struct dlink *k = link_of(lg, idx);

	k->prev = l->tail;
	k->next = NONE;
	if (l->tail != NONE)
		link_of(lg, l->tail)->next = idx;
	else
		l->head = idx;
	l->tail = idx;
	l->n++;
}

/* Takes idx off its list and zeroes the link (it shares its bytes with a time). */
static void dlist_del(const struct lineage *lg, struct dlist *l, uint32_t idx,
		      struct dlink *(*link_of)(const struct lineage *, uint32_t))
{
	struct dlink *k = link_of(lg, idx);

	if (k->prev != NONE)
		link_of(lg, k->prev)->next = k->next;
	else
		l->head = k->next;
	if (k->next != NONE)
		link_of(lg, k->next)->prev = k->prev;
	else
		l->tail = k->prev;
	k->prev = k->next = NONE;
	l->n--;
}

static inline bool ctx_is_live(const struct cnode *n)
{
	return (n->flags & F_USED) && n->state == LG_CTX_LIVE && !(n->flags & F_COLLECTED);
}

/* Open: live, cancellable, and its creation seen (what can be a lost cancel). */
static bool ctx_is_open(const struct cnode *n)
{
	return ctx_is_live(n) && (n->kind == CTX_CANCEL || n->kind == CTX_TIMER) &&
	       !(n->flags & (F_DISCOVERED | F_PLACEHOLDER | F_PREEXISTING));
}

/* On the open list (its link overlays collected_ns: not once collected). */
static bool ctx_on_list(const struct lineage *lg, uint32_t idx)
{
	const struct cnode *n = C(lg, idx);

	return !(n->flags & F_COLLECTED) && (n->open.prev || n->open.next || lg->open_ctx.head == idx);
}

/* Call before a context is cancelled, collected or freed. */
static void ctx_leave_open(struct lineage *lg, uint32_t idx)
{
	if (ctx_on_list(lg, idx))
		dlist_del(lg, &lg->open_ctx, idx, ctx_link_of);
}

/* Call after a context's kind or flags changed: on the open list or off it. */
static void ctx_track(struct lineage *lg, uint32_t idx)
{
	bool want = ctx_is_open(C(lg, idx)), have = ctx_on_list(lg, idx);

	if (want && !have)
		dlist_add(lg, &lg->open_ctx, idx, ctx_link_of);
	else if (!want && have)
		dlist_del(lg, &lg->open_ctx, idx, ctx_link_of);
}

static inline struct cell *CELL(const struct lineage *lg, uint32_t i)
{
	return slab_at(&lg->cells, i);
}

/* ---- id maps (linear probing, backward-shift deletion) ---- */

/* A slot holds a node index and the low 32 bits of its key's hash (8 bytes: the
 * graph's bytes per node are budgeted); the key itself is read from the node, only
 * when the hash bits match: a miss (every new context or goroutine is looked up
 * first) then probes the slot array alone instead of one node per probe, each a
 * cache miss. Why this is not util/hashmap. */
static inline uint32_t hash32(uint64_t k)
{
	return (uint32_t)ct_mix64(k);
}

static inline uint64_t key_of(const struct lineage *lg, const struct idmap *m, uint32_t idx)
{
	return m == &lg->ctx_map ? C(lg, idx)->id : G(lg, idx)->goid;
}

static uint32_t map_find(const struct lineage *lg, const struct idmap *m, uint64_t key)
{
	uint32_t h = hash32(key);

	if (!m->slots)
		return NONE;
	for (uint32_t i = h & m->mask;; i = (i + 1) & m->mask) {
		const struct idslot *sl = &m->slots[i];

		if (sl->idx == NONE)
			return NONE;
		if (sl->h == h && key_of(lg, m, sl->idx) == key)
			return sl->idx;
	}
}

static int map_grow(struct lineage *lg, struct idmap *m)
{
	uint32_t ncap = m->slots ? (m->mask + 1) * 2 : 1024;
	struct idslot *ns = calloc(ncap, sizeof(*ns));

	if (!ns)
		return -ENOMEM;
	for (uint32_t i = 0; m->slots && i <= m->mask; i++) {
		struct idslot v = m->slots[i];
		uint32_t j;

		if (v.idx == NONE)
			continue;
		for (j = v.h & (ncap - 1); ns[j].idx != NONE; j = (j + 1) & (ncap - 1))
			;
		ns[j] = v;
	}
	if (m->slots)
		lg->st.bytes -= (uint64_t)(m->mask + 1) * sizeof(*ns);
	lg->st.bytes += (uint64_t)ncap * sizeof(*ns);
	free(m->slots);
	m->slots = ns;
	m->mask = ncap - 1;
	return 0;
}

static int map_insert(struct lineage *lg, struct idmap *m, uint32_t idx)
{
	uint32_t i, h;

	if (!m->slots || (m->count + 1) * 4 > (m->mask + 1) * 3) {
		int err = map_grow(lg, m);

		if (err)
			return err;
	}
	h = hash32(key_of(lg, m, idx));
	for (i = h & m->mask; m->slots[i].idx != NONE; i = (i + 1) & m->mask)
		;
	m->slots[i] = (struct idslot){ idx, h };
	m->count++;
	return 0;
}

static void map_remove(struct lineage *lg, struct idmap *m, uint32_t idx)
{
	uint32_t i, j;

	if (!m->slots)
		return;
	for (i = hash32(key_of(lg, m, idx)) & m->mask; m->slots[i].idx != idx; i = (i + 1) & m->mask)
		if (m->slots[i].idx == NONE)
			return;
	m->slots[i].idx = NONE;
	m->count--;
	for (j = (i + 1) & m->mask; m->slots[j].idx != NONE; j = (j + 1) & m->mask) {
		uint32_t h = m->slots[j].h & m->mask;

		/* Move v back into the hole unless its home lies cyclically in (i, j]. */
		if ((j > i && (h <= i || h > j)) || (j < i && h <= i && h > j)) {
			m->slots[i] = m->slots[j];
			m->slots[j].idx = NONE;
			i = j;
		}
	}
}

/* ---- scope cells ---- */

static struct cnode *ctx_resolve(const struct lineage *lg, uint32_t idx, uint32_t gen);
static int fifo_push(struct lineage *lg, uint32_t node, uint32_t gen);

/* A context a live goroutine was started in the scope of, or waits on, is what
 * the leak rules report on: it stays past retention until those goroutines exit.
 * Pins come from goroutines (their start scope, their Done list), not from
 * cells, so a creator's own chain does not hold its cancelled contexts. */
static void ctx_pin(struct lineage *lg, uint32_t idx, uint32_t gen)
{
	struct cnode *n = ctx_resolve(lg, idx, gen);

	if (n && n->pins < PINS_MAX)
		n->pins++;
}

static void ctx_unpin(struct lineage *lg, uint32_t idx, uint32_t gen)
{
	struct cnode *n = ctx_resolve(lg, idx, gen);

	if (!n || n->pins == PINS_MAX || n->pins == 0)
		return;
	if (--n->pins == 0 && (n->flags & F_HELD)) {
		n->flags &= ~F_HELD;
		lg->st.ctx_held--;
		/* back in line; without memory for that it leaves by the cap only */
		fifo_push(lg, idx, gen);
	}
}

static uint32_t cell_new(struct lineage *lg, uint32_t ctx, uint32_t gen, uint32_t next)
{
	uint32_t c = slab_alloc(lg, &lg->cells);
	struct cell *p;

	if (c == NONE)
		return NONE;
	p = CELL(lg, c);
	p->ctx = ctx;
	p->gen = gen;
	p->next = next; /* takes over the caller's reference to next */
	p->refs = 1;
	lg->st.scope_cells++;
	return c;
}

static void cell_ref(struct lineage *lg, uint32_t c)
{
	if (c != NONE)
		CELL(lg, c)->refs++;
}

static void cell_release(struct lineage *lg, uint32_t c)
{
	while (c != NONE) {
		struct cell *p = CELL(lg, c);
		uint32_t next = p->next;

		if (--p->refs > 0)
			return;
		slab_free(&lg->cells, c);
		lg->st.scope_cells--;
		c = next;
	}
}

static bool scope_kind(enum ctx_kind k)
{
	return k == CTX_CANCEL || k == CTX_TIMER || k == CTX_AFTERFUNC || k == CTX_WITHOUTCANCEL ||
	       k == CTX_CUSTOM;
}

static bool in_start_scope(const struct gnode *g, const struct cnode *x)
{
	return scope_kind(x->kind) && (x->state == LG_CTX_LIVE || x->cancelled_ns > g->created_ns);
}

/* Pins (+1) or unpins (-1) every context of g's start scope; the walk and its
 * filter give the same set both times (the chain is immutable, and a context
 * live at the go statement stays in the start scope whatever happens later). */
static void scope_pin(struct lineage *lg, struct gnode *g, int delta)
{
	uint32_t c = g->start_scope;

	for (int walked = 0; c != NONE && walked < SCOPE_WALK_MAX; walked++) {
		const struct cell *p = CELL(lg, c);
		const struct cnode *x = ctx_resolve(lg, p->ctx, p->gen);

		if (x && in_start_scope(g, x)) {
			if (delta > 0)
				ctx_pin(lg, p->ctx, p->gen);
			else
				ctx_unpin(lg, p->ctx, p->gen);
		}
		c = p->next;
	}
}

/* Releases a private Done chain, unpinning its contexts. */
static void done_release(struct lineage *lg, uint32_t c)
{
	for (uint32_t i = c; i != NONE; i = CELL(lg, i)->next)
		ctx_unpin(lg, CELL(lg, i)->ctx, CELL(lg, i)->gen);
	cell_release(lg, c);
}

/* ---- node lookups ---- */

static struct cnode *ctx_resolve(const struct lineage *lg, uint32_t idx, uint32_t gen)
{
	struct cnode *n;

	if (idx == NONE || gen == 0 || idx >= lg->ctxs.hi)
		return NULL;
	n = C(lg, idx);
	return (n->flags & F_USED) && n->gen == gen ? n : NULL;
}

static struct gnode *go_resolve(const struct lineage *lg, uint32_t idx, uint32_t gen)
{
	struct gnode *n;

	if (idx == NONE || gen == 0 || idx >= lg->gos.hi)
		return NULL;
	n = G(lg, idx);
	return (n->flags & F_USED) && n->gen == gen ? n : NULL;
}

/* ---- finished FIFO ---- */

static int fifo_push(struct lineage *lg, uint32_t node, uint32_t gen)
{
	if (lg->fifo_len == lg->fifo_cap) {
		uint32_t ncap = lg->fifo_cap ? lg->fifo_cap * 2 : 1024;
		struct fin *nf = malloc(ncap * sizeof(*nf));

		if (!nf)
			return -ENOMEM;
		for (uint32_t i = 0; i < lg->fifo_len; i++)
			nf[i] = lg->fifo[(lg->fifo_head + i) & (lg->fifo_cap - 1)];
		free(lg->fifo);
		lg->st.bytes += (uint64_t)(ncap - lg->fifo_cap) * sizeof(*nf);
		lg->fifo = nf;
		lg->fifo_cap = ncap;
		lg->fifo_head = 0;
	}
	lg->fifo[(lg->fifo_head + lg->fifo_len) & (lg->fifo_cap - 1)] = (struct fin){ node, gen };
	lg->fifo_len++;
	return 0;
}

/* ---- freeing nodes ---- */

static void ctx_unlink_from_parent(struct lineage *lg, struct cnode *n)
{
	struct cnode *p;

	if (n->parent == NONE)
		return;
	p = C(lg, n->parent);
	if (n->prev_sib != NONE)
		C(lg, n->prev_sib)->next_sib = n->next_sib;
	else
		p->first_child = n->next_sib;
	if (n->next_sib != NONE)
		C(lg, n->next_sib)->prev_sib = n->prev_sib;
	p->nchildren--;
	n->parent = n->next_sib = n->prev_sib = NONE;
}

static void ctx_link(struct lineage *lg, uint32_t parent, uint32_t child)
{
	struct cnode *p = C(lg, parent), *c = C(lg, child);

	c->parent = parent;
	c->prev_sib = NONE;
	c->next_sib = p->first_child;
	if (p->first_child != NONE)
		C(lg, p->first_child)->prev_sib = child;
	p->first_child = child;
	p->nchildren++;
}

static void ctx_free(struct lineage *lg, uint32_t idx)
{
	struct cnode *n = C(lg, idx);
	uint32_t ch;

	ctx_leave_open(lg, idx);
	map_remove(lg, &lg->ctx_map, idx);
	ctx_unlink_from_parent(lg, n);
	for (ch = n->first_child; ch != NONE;) {
		struct cnode *c = C(lg, ch);
		uint32_t next = c->next_sib;

		c->parent = c->next_sib = c->prev_sib = NONE;
		ch = next;
	}
	if (n->state == LG_CTX_LIVE && (n->flags & F_COLLECTED))
		lg->st.ctx_collected--;
	else if (n->state == LG_CTX_LIVE)
		lg->st.ctx_live--;
	else
		lg->st.ctx_cancelled--;
	if (n->flags & F_HELD)
		lg->st.ctx_held--;
	n->flags = 0;
	n->pins = 0;
	if (++n->gen == 0)
		n->gen = 1;
	slab_free(&lg->ctxs, idx);
}

static void go_unlink_from_parent(struct lineage *lg, struct gnode *n)
{
	struct gnode *p;

	if (n->parent == NONE)
		return;
	p = G(lg, n->parent);
	if (n->prev_sib != NONE)
		G(lg, n->prev_sib)->next_sib = n->next_sib;
	else
		p->first_child = n->next_sib;
	if (n->next_sib != NONE)
		G(lg, n->next_sib)->prev_sib = n->prev_sib;
	p->nchildren--;
	n->parent = n->next_sib = n->prev_sib = NONE;
}

static void go_free(struct lineage *lg, uint32_t idx)
{
	struct gnode *n = G(lg, idx);
	uint32_t ch;

	if (n->state == LG_GO_ALIVE)
		dlist_del(lg, &lg->alive_go, idx, go_link_of);
	map_remove(lg, &lg->go_map, idx);
	go_unlink_from_parent(lg, n);
	for (ch = n->first_child; ch != NONE;) {
		struct gnode *c = G(lg, ch);
		uint32_t next = c->next_sib;

		c->parent = c->next_sib = c->prev_sib = NONE;
		ch = next;
	}
	if (n->state == LG_GO_ALIVE) {
		if (n->flags & F_PINNED)
			scope_pin(lg, n, -1);
		cell_release(lg, n->start_scope);
		cell_release(lg, n->cur_scope);
		done_release(lg, n->done);
	}
	n->start_scope = n->cur_scope = n->done = NONE;
	if (n->state == LG_GO_ALIVE)
		lg->st.go_alive--;
	else
		lg->st.go_exited--;
	n->flags = 0;
	if (++n->gen == 0)
		n->gen = 1;
	slab_free(&lg->gos, idx);
}

static uint32_t nodes(const struct lineage *lg)
{
	return lg->ctxs.count + lg->gos.count;
}

/* Pops the oldest finished node; evicts it when due by now (or when force). */
static bool fifo_evict_one(struct lineage *lg, bool force, uint64_t now)
{
	while (lg->fifo_len) {
		struct fin f = lg->fifo[lg->fifo_head];
		uint64_t fin_ns;

		if (f.node & FIN_GO) {
			struct gnode *g = go_resolve(lg, f.node & ~FIN_GO, f.gen);

			if (!g || g->state != LG_GO_EXITED)
				goto stale;
			fin_ns = g->exited_ns;
		} else {
			struct cnode *c = ctx_resolve(lg, f.node, f.gen);

			if (!c || (c->state != LG_CTX_CANCELLED && !(c->flags & F_COLLECTED)) ||
			    (c->flags & F_HELD))
				goto stale;
			fin_ns = c->state == LG_CTX_CANCELLED ? c->cancelled_ns : c->collected_ns;
			if (!force && c->pins && fin_ns + lg->opts.retention_ns <= now) {
				c->flags |= F_HELD;
				lg->st.ctx_held++;
				goto stale;
			}
		}
		if (!force && fin_ns + lg->opts.retention_ns > now)
			return false;
		if (f.node & FIN_GO)
			go_free(lg, f.node & ~FIN_GO);
		else
			ctx_free(lg, f.node);
		lg->fifo_head = (lg->fifo_head + 1) & (lg->fifo_cap - 1);
		lg->fifo_len--;
		lg->fifo_seq++;
		return true;
stale:
		lg->fifo_head = (lg->fifo_head + 1) & (lg->fifo_cap - 1);
		lg->fifo_len--;
		lg->fifo_seq++;
	}
	return false;
}

#define EVICT_LOOK 64 /* live contexts the hand passes looking for one not open */

/* No finished node left and the cap is reached: push out a live one. Contexts go
 * first (what piles up: value contexts known as parents, which only the GC ends,
 * and lost cancels); among them one the rules do not walk (not open), if the hand
 * finds one soon; the hand makes it roughly oldest-first. */
static bool evict_live(struct lineage *lg)
{
	uint32_t passed = 0, first_open = NONE;

	for (uint32_t n = 0; n < lg->ctxs.hi && lg->ctxs.count; n++) {
		uint32_t i = lg->hand_ctx;

		lg->hand_ctx = lg->hand_ctx + 1 >= lg->ctxs.hi ? 1 : lg->hand_ctx + 1;
		if (i == NONE || i >= lg->ctxs.hi || !(C(lg, i)->flags & F_USED))
			continue;
		if (ctx_is_open(C(lg, i)) && ++passed < EVICT_LOOK) {
			if (first_open == NONE)
				first_open = i;
			continue;
		}
		ctx_free(lg, i);
		return true;
	}
	if (first_open != NONE) {
		ctx_free(lg, first_open);
		return true;
	}
	for (uint32_t n = 0; n < lg->gos.hi && lg->gos.count; n++) {
		uint32_t i = lg->hand_go;

		lg->hand_go = lg->hand_go + 1 >= lg->gos.hi ? 1 : lg->hand_go + 1;
		if (i != NONE && i < lg->gos.hi && (G(lg, i)->flags & F_USED)) {
			go_free(lg, i);
			return true;
		}
	}
	return false;
}

static void make_room(struct lineage *lg, uint32_t want)
{
	while (nodes(lg) + want > lg->opts.max_nodes) {
		if (fifo_evict_one(lg, true, lg->now))
			lg->st.evicted_cap++;
		else if (evict_live(lg))
			lg->st.evicted_live++;
		else
			break;
	}
}

/* The wall of a quiet target moves on without events; the graph clock does not
 * (events collected later carry earlier times and must keep them). */
void lineage__expire(struct lineage *lg, uint64_t now_ns)
{
	while (fifo_evict_one(lg, false, now_ns > lg->now ? now_ns : lg->now))
		lg->st.evicted_retention++;
}

/* ---- node creation ---- */

static uint32_t ctx_new(struct lineage *lg, uint64_t id)
{
	uint32_t idx = slab_alloc(lg, &lg->ctxs);
	struct cnode *n;
	uint32_t gen;

	if (idx == NONE)
		return NONE;
	n = C(lg, idx);
	gen = n->gen ? n->gen : 1;
	memset(n, 0, sizeof(*n));
	n->gen = gen;
	n->id = id;
	n->flags = F_USED;
	n->created_ns = lg->now;
	if (map_insert(lg, &lg->ctx_map, idx)) {
		n->flags = 0;
		slab_free(&lg->ctxs, idx);
		return NONE;
	}
	lg->st.ctx_live++;
	return idx;
}

static uint32_t go_new(struct lineage *lg, uint64_t goid)
{
	uint32_t idx = slab_alloc(lg, &lg->gos);
	struct gnode *n;
	uint32_t gen;

	if (idx == NONE)
		return NONE;
	n = G(lg, idx);
	gen = n->gen ? n->gen : 1;
	memset(n, 0, sizeof(*n));
	n->gen = gen;
	n->goid = goid;
	n->flags = F_USED;
	n->created_ns = lg->now;
	if (map_insert(lg, &lg->go_map, idx)) {
		n->flags = 0;
		slab_free(&lg->gos, idx);
		return NONE;
	}
	dlist_add(lg, &lg->alive_go, idx, go_link_of);
	lg->st.go_alive++;
	return idx;
}

/* A context known only by its id (a parent, or something cancelled / waited on
 * that was created before attach). */
static uint32_t ctx_placeholder(struct lineage *lg, uint64_t id, enum ctx_kind kind)
{
	uint32_t idx = map_find(lg, &lg->ctx_map, id);

	if (idx != NONE)
		return idx;
	idx = ctx_new(lg, id);
	if (idx == NONE)
		return NONE;
	C(lg, idx)->kind = kind;
	C(lg, idx)->flags |= F_PLACEHOLDER | F_DISCOVERED | F_PREEXISTING;
	return idx;
}

/* A goroutine known only as the actor of an event. */
static uint32_t go_placeholder(struct lineage *lg, uint64_t goid)
{
	uint32_t idx = map_find(lg, &lg->go_map, goid);

	if (idx != NONE)
		return idx;
	idx = go_new(lg, goid);
	if (idx == NONE)
		return NONE;
	G(lg, idx)->flags |= F_PLACEHOLDER | F_PREEXISTING;
	return idx;
}

static int mark_finished_ctx(struct lineage *lg, uint32_t idx)
{
	return fifo_push(lg, idx, C(lg, idx)->gen);
}

/* Value contexts cannot be cancelled themselves: they end with the nearest
 * cancellable ancestor. Marks the live value descendants of idx cancelled, or
 * collected (they referred to it: freed with it). */
static int end_value_descendants(struct lineage *lg, uint32_t idx, bool collected)
{
	uint32_t sp = 0;
	int err = 0;

	if (!lg->walk) {
		lg->walk = malloc(64 * sizeof(*lg->walk));
		if (!lg->walk)
			return -ENOMEM;
		lg->walk_cap = 64;
		lg->st.bytes += 64 * sizeof(*lg->walk);
	}
	lg->walk[sp++] = idx;
	for (uint32_t steps = 0; sp > 0 && steps < VALUE_WALK_MAX; steps++) {
		struct cnode *p = C(lg, lg->walk[--sp]);

		for (uint32_t ch = p->first_child; ch != NONE; ch = C(lg, ch)->next_sib) {
			struct cnode *c = C(lg, ch);

			/* a collected one is finished already (and in the FIFO) */
			if (c->kind != CTX_VALUE || !ctx_is_live(c))
				continue;
			ctx_leave_open(lg, ch);
			lg->st.ctx_live--;
			if (collected) {
				map_remove(lg, &lg->ctx_map, ch);
				c->flags |= F_COLLECTED;
				c->collected_ns = lg->now;
				lg->st.ctx_collected++;
			} else {
				c->state = LG_CTX_CANCELLED;
				c->reason = CANCEL_PARENT;
				c->cancelled_ns = lg->now;
				c->err = p->err;
				lg->st.ctx_cancelled++;
			}
			err = mark_finished_ctx(lg, ch);
			if (err)
				return err;
			if (sp == lg->walk_cap) {
				uint32_t *nw = realloc(lg->walk, 2 * lg->walk_cap * sizeof(*nw));

				if (!nw)
					return -ENOMEM;
				lg->st.bytes += lg->walk_cap * sizeof(*nw);
				lg->walk = nw;
				lg->walk_cap *= 2;
			}
			lg->walk[sp++] = ch;
		}
	}
	return 0;
}

/* Drops cancelled (or gone) contexts from the top of g's own part of its scope. */
static void scope_compact(struct lineage *lg, struct gnode *g)
{
	while (g->own_depth > 0 && g->cur_scope != NONE) {
		struct cell *c = CELL(lg, g->cur_scope);
		struct cnode *n = ctx_resolve(lg, c->ctx, c->gen);
		uint32_t old;

		if (n && n->state == LG_CTX_LIVE && !(n->flags & F_COLLECTED))
			return;
		old = g->cur_scope;
		g->cur_scope = c->next;
		cell_ref(lg, g->cur_scope);
		cell_release(lg, old);
		g->own_depth--;
	}
}

/* Rebuilds g's own part with its LINEAGE_SCOPE_MAX innermost live contexts, so a
 * goroutine creating contexts in a loop without cancelling them stays bounded. */
static int scope_trim(struct lineage *lg, struct gnode *g)
{
	uint32_t keep[LINEAGE_SCOPE_MAX][2];
	int nk = 0;
	uint32_t c = g->cur_scope, chain;

	for (int d = 0; d < g->own_depth && c != NONE && nk < LINEAGE_SCOPE_MAX; d++) {
		struct cell *p = CELL(lg, c);
		struct cnode *n = ctx_resolve(lg, p->ctx, p->gen);

		if (n && n->state == LG_CTX_LIVE && !(n->flags & F_COLLECTED)) {
			keep[nk][0] = p->ctx;
			keep[nk][1] = p->gen;
			nk++;
		}
		c = p->next;
	}
	chain = g->start_scope;
	cell_ref(lg, chain);
	for (int i = nk - 1; i >= 0; i--) {
		uint32_t nc = cell_new(lg, keep[i][0], keep[i][1], chain);

		if (nc == NONE) {
			cell_release(lg, chain);
			return -ENOMEM;
		}
		chain = nc;
	}
	cell_release(lg, g->cur_scope);
	g->cur_scope = chain;
	g->own_depth = nk;
	return 0;
}

static int scope_push(struct lineage *lg, struct gnode *g, uint32_t ctx)
{
	uint32_t c;

	scope_compact(lg, g);
	if (g->own_depth >= 2 * LINEAGE_SCOPE_MAX) {
		int err = scope_trim(lg, g);

		if (err)
			return err;
	}
	c = cell_new(lg, ctx, C(lg, ctx)->gen, g->cur_scope);
	if (c == NONE)
		return -ENOMEM;
	/* the new cell took over g's reference to the old head */
	g->cur_scope = c;
	g->own_depth++;
	return 0;
}

/* ---- event handlers ---- */

static void ctx_fill(struct cnode *n, const struct ev_ctx_create *e, bool keep_known)
{
	if (!keep_known || n->kind == CTX_UNKNOWN)
		n->kind = e->kind;
	if (!keep_known || !n->type_name)
		n->type_name = e->type_name;
	if (!keep_known || !n->stack)
		n->stack = e->stack;
	if (e->has_deadline) {
		n->flags |= F_HAS_DEADLINE;
		n->deadline = e->deadline_unix_ns;
	}
	if (e->preexisting)
		n->flags |= F_PREEXISTING;
	if (e->discovered)
		n->flags |= F_DISCOVERED;
	if (!keep_known || !n->parent_id) {
		n->parent_id = e->parent;
		n->parent_kind = e->parent_kind;
	}
}

/* The address of idx was reused, so the GC freed that context: the address now
 * names a new one. A cancelled context nothing refers to goes; any other keeps its
 * node, off the id table, so that what refers to it by (idx, gen) -- the scope of
 * a goroutine that outlived it, the waiters on its Done -- still finds it, and a
 * context never cancelled is known as such ("never cancelled, since collected")
 * until retention lets it go. */
static int ctx_collected(struct lineage *lg, uint32_t idx)
{
	struct cnode *n = C(lg, idx);

	if (n->state == LG_CTX_CANCELLED && !n->pins && !(n->flags & F_HELD)) {
		ctx_free(lg, idx);
		return 0;
	}
	map_remove(lg, &lg->ctx_map, idx);
	ctx_leave_open(lg, idx);
	n->flags |= F_COLLECTED;
	n->collected_ns = lg->now;
	if (n->state != LG_CTX_LIVE)
		return 0; /* in the FIFO since its cancel */
	lg->st.ctx_live--;
	lg->st.ctx_collected++;
	lg->st.collected_uncancelled++;
	if (fifo_push(lg, idx, n->gen))
		return -ENOMEM;
	/* Its value descendants referred to it: the GC freed them first. */
	return end_value_descendants(lg, idx, true);
}

static int on_ctx_create(struct lineage *lg, const struct ct_event *ev)
{
	const struct ev_ctx_create *e = &ev->ctx_create;
	uint32_t idx, pidx = NONE;
	struct cnode *n;
	bool merged = false;

	if (e->id == 0)
		return 0; /* a value context nothing can refer to */
	idx = map_find(lg, &lg->ctx_map, e->id);
	if (idx != NONE) {
		n = C(lg, idx);
		if (n->state == LG_CTX_LIVE && !e->replaces &&
		    ((n->flags & F_PLACEHOLDER) || e->discovered || e->preexisting)) {
			/* More about a node already known: fill it in. */
			if (!e->discovered && !e->preexisting) {
				n->flags &= ~(F_PLACEHOLDER | F_DISCOVERED | F_PREEXISTING);
				n->creator = ev->goid;
				n->created_ns = lg->now;
				ctx_fill(n, e, false);
			} else {
				n->flags &= ~F_PLACEHOLDER;
				ctx_fill(n, e, true);
			}
			merged = true;
		} else {
			/* The Go allocator reused the address: a new context. */
			int err = ctx_collected(lg, idx);

			lg->st.replaced++;
			idx = NONE;
			if (err)
				return err;
		}
	}
	/* Memory says the context known here is gone, and nothing of what is there
	 * now: no node for it (a later event at the address makes one). */
	if (e->replaces && e->kind == CTX_UNKNOWN)
		return 0;
	if (merged && n->parent != NONE && C(lg, n->parent)->id != e->parent)
		ctx_unlink_from_parent(lg, n);
	if (!merged) {
		idx = ctx_new(lg, e->id);
		if (idx == NONE)
			return -ENOMEM;
		n = C(lg, idx);
		n->creator = ev->goid;
		ctx_fill(n, e, false);
	}
	n = C(lg, idx);
	ctx_track(lg, idx);

	if (n->parent == NONE && e->parent != 0 && e->parent != e->id) {
		pidx = ctx_placeholder(lg, e->parent, e->parent_kind);
		if (pidx == NONE)
			return -ENOMEM;
		/* A value parent we never saw: hang it under the ancestor the decoder named. */
		if ((C(lg, pidx)->flags & F_PLACEHOLDER) && C(lg, pidx)->parent == NONE &&
		    e->parent_kind == CTX_VALUE && e->ancestor && e->ancestor != e->parent &&
		    e->ancestor != e->id) {
			uint32_t aidx = ctx_placeholder(lg, e->ancestor, e->ancestor_kind);

			if (aidx == NONE)
				return -ENOMEM;
			if (aidx != pidx) {
				C(lg, pidx)->parent_id = e->ancestor;
				C(lg, pidx)->parent_kind = e->ancestor_kind;
				ctx_link(lg, aidx, pidx);
			}
		}
		n = C(lg, idx);
		ctx_link(lg, pidx, idx);
	}
	/* A value context under an already cancelled parent is done from the start. */
	if (n->kind == CTX_VALUE && n->state == LG_CTX_LIVE && n->parent != NONE &&
	    C(lg, n->parent)->state == LG_CTX_CANCELLED && C(lg, n->parent)->kind != CTX_WITHOUTCANCEL) {
		ctx_leave_open(lg, idx);
		n->state = LG_CTX_CANCELLED;
		n->reason = CANCEL_PARENT;
		n->cancelled_ns = lg->now;
		n->err = C(lg, n->parent)->err;
		lg->st.ctx_live--;
		lg->st.ctx_cancelled++;
		if (mark_finished_ctx(lg, idx))
			return -ENOMEM;
	}
	if (!e->discovered && !e->preexisting && ev->goid) {
		unsigned slot = ev->goid % RECENT;

		lg->recent[slot].goid = ev->goid;
		lg->recent[slot].idx = idx;
		lg->recent[slot].gen = n->gen;
	}
	if (scope_kind(n->kind) && !e->discovered && !e->preexisting && ev->goid) {
		uint32_t g = go_placeholder(lg, ev->goid);

		if (g == NONE)
			return -ENOMEM;
		if (G(lg, g)->state == LG_GO_ALIVE)
			return scope_push(lg, G(lg, g), idx);
	}
	return 0;
}

static uint8_t err_code(const char *err)
{
	if (!err)
		return ERR_NONE;
	if (!strcmp(err, "context canceled"))
		return ERR_CANCELED;
	if (!strcmp(err, "context deadline exceeded"))
		return ERR_DEADLINE;
	return ERR_OTHER;
}

static const char *err_text(uint8_t e)
{
	switch (e) {
	case ERR_CANCELED: return "context canceled";
	case ERR_DEADLINE: return "context deadline exceeded";
	case ERR_OTHER: return "other error";
	default: return NULL;
	}
}

static int on_ctx_cancel(struct lineage *lg, const struct ct_event *ev)
{
	const struct ev_ctx_cancel *e = &ev->ctx_cancel;
	uint32_t idx = map_find(lg, &lg->ctx_map, e->id);
	struct cnode *n;

	if (e->id == 0)
		return 0;
	if (idx == NONE) {
		lg->st.unknown_refs++;
		idx = ctx_placeholder(lg, e->id, CTX_UNKNOWN);
		if (idx == NONE)
			return -ENOMEM;
	}
	n = C(lg, idx);
	if (e->reason == CANCEL_EXPLICIT)
		n->flags |= F_CANCEL_CALLED;
	if (n->state != LG_CTX_LIVE)
		return 0;
	ctx_leave_open(lg, idx);
	n->state = LG_CTX_CANCELLED;
	n->reason = e->reason;
	n->cancelled_ns = lg->now;
	n->canceller = ev->goid;
	n->cancel_stack = e->stack;
	n->err = err_code(e->err);
	n->cause = e->cause;
	lg->st.ctx_live--;
	lg->st.ctx_cancelled++;
	if (mark_finished_ctx(lg, idx))
		return -ENOMEM;
	return end_value_descendants(lg, idx, false);
}

/* Deriving a context asks its parent for Done() inside package context
 * (propagateCancel, parentCancelCtx): that goroutine is not waiting on it.
 * 1.19/1.20 name it context.propagateCancel, 1.21+ (*cancelCtx).propagateCancel;
 * parentCancelCtx may be inlined into either (inline frames are expanded). */
static bool derivation_site(const struct ct_stack *st)
{
	static const char *const names[] = {
		"context.propagateCancel",
		"context.(*cancelCtx).propagateCancel",
		"context.parentCancelCtx",
	};

	for (uint32_t i = 0; st && i < st->n; i++) {
		const char *f = st->frames[i].func;

		for (size_t k = 0; f && k < sizeof(names) / sizeof(names[0]); k++)
			if (!strcmp(f, names[k]))
				return true;
	}
	return false;
}

/* The Done() a derivation makes through a method wrapper ((*timerCtx).Done,
 * (*valueCtx).Done, a user type's promoted Done: one frame names only the
 * wrapper): right after the goroutine created a child, of that child's parent or
 * an ancestor reached through value and custom contexts. */
static bool derivation_via_wrapper(const struct lineage *lg, const struct ct_event *ev)
{
	const struct ct_stack *st = ev->ctx_done.site;
	const struct cnode *c;
	unsigned slot = ev->goid % RECENT;

	if (!st || !st->n || lg->recent[slot].goid != ev->goid)
		return false;
	if (!(st->frames[0].file && !strcmp(st->frames[0].file, "<autogenerated>")) &&
	    !(st->frames[0].func && !strncmp(st->frames[0].func, "context.", 8)))
		return false;
	c = ctx_resolve(lg, lg->recent[slot].idx, lg->recent[slot].gen);
	for (int i = 0; c && c->parent != NONE && i < 8; i++) {
		c = C(lg, c->parent);
		if (c->id == ev->ctx_done.id)
			return true;
		if (c->kind != CTX_VALUE && c->kind != CTX_CUSTOM && c->kind != CTX_UNKNOWN)
			break;
	}
	return false;
}

static int on_ctx_done(struct lineage *lg, const struct ct_event *ev)
{
	const struct ev_ctx_done *e = &ev->ctx_done;
	uint32_t idx, gi, c, keep;
	struct gnode *g;
	struct cnode *n;

	if (e->id == 0 || ev->goid == 0)
		return 0;
	if (derivation_site(e->site) || derivation_via_wrapper(lg, ev)) {
		lg->st.done_derive++;
		return 0;
	}
	idx = map_find(lg, &lg->ctx_map, e->id);
	if (idx == NONE) {
		lg->st.unknown_refs++;
		idx = ctx_placeholder(lg, e->id, CTX_UNKNOWN);
		if (idx == NONE)
			return -ENOMEM;
	}
	n = C(lg, idx);
	gi = go_placeholder(lg, ev->goid);
	if (gi == NONE)
		return -ENOMEM;
	g = G(lg, gi);
	if (g->state != LG_GO_ALIVE)
		return 0;
	if (g->done != NONE && CELL(lg, g->done)->ctx == idx && CELL(lg, g->done)->gen == n->gen)
		return 0;
	c = cell_new(lg, idx, n->gen, g->done);
	if (c == NONE)
		return -ENOMEM;
	ctx_pin(lg, idx, n->gen);
	g->done = c;
	/* keep the newest LINEAGE_DONE_MAX: the chain is private, cut its tail */
	keep = c;
	for (int i = 1; i < LINEAGE_DONE_MAX && CELL(lg, keep)->next != NONE; i++)
		keep = CELL(lg, keep)->next;
	done_release(lg, CELL(lg, keep)->next);
	CELL(lg, keep)->next = NONE;
	return 0;
}

static int on_go_create(struct lineage *lg, const struct ct_event *ev)
{
	const struct ev_go_create *e = &ev->go_create;
	uint64_t pgoid = e->parent_goid ? e->parent_goid : (e->preexisting ? 0 : ev->goid);
	uint32_t idx, pidx = NONE;
	struct gnode *n;

	if (e->goid == 0)
		return 0;
	idx = map_find(lg, &lg->go_map, e->goid);
	if (idx != NONE && G(lg, idx)->state != LG_GO_ALIVE) {
		/* Go never reuses a goid; be safe against a decoder that does. */
		go_free(lg, idx);
		lg->st.replaced++;
		idx = NONE;
	}
	if (idx == NONE) {
		idx = go_new(lg, e->goid);
		if (idx == NONE)
			return -ENOMEM;
	} else {
		/* Known as a placeholder (it acted before we saw its go statement). */
		n = G(lg, idx);
		n->flags &= ~F_PLACEHOLDER;
		if (!e->preexisting)
			n->flags &= ~F_PREEXISTING;
	}
	n = G(lg, idx);
	if (e->go_site)
		n->go_site = e->go_site;
	if (e->start_func)
		n->start_func = e->start_func;
	if (e->preexisting)
		n->flags |= F_PREEXISTING;
	if (pgoid && pgoid != e->goid && n->parent == NONE) {
		n->parent_goid = pgoid;
		pidx = e->preexisting ? map_find(lg, &lg->go_map, pgoid) : go_placeholder(lg, pgoid);
		if (!e->preexisting && pidx == NONE)
			return -ENOMEM;
		n = G(lg, idx);
		if (pidx != NONE) {
			struct gnode *p = G(lg, pidx);

			n->parent = pidx;
			n->next_sib = p->first_child;
			if (p->first_child != NONE)
				G(lg, p->first_child)->prev_sib = idx;
			p->first_child = idx;
			p->nchildren++;
			/* The child starts in the scope of whatever its parent holds now. */
			if (!e->preexisting && n->start_scope == NONE && p->state == LG_GO_ALIVE) {
				scope_compact(lg, p);
				n->start_scope = p->cur_scope;
				cell_ref(lg, n->start_scope);
				/* a placeholder may already have pushed its own contexts: keep them */
				if (n->cur_scope == NONE) {
					n->cur_scope = n->start_scope;
					cell_ref(lg, n->cur_scope);
				}
				n->created_ns = lg->now;
				scope_pin(lg, n, +1);
				n->flags |= F_PINNED;
			}
		}
	}
	return 0;
}

/* The goroutine's bound context: the newest Done() one, else the innermost of
 * its start scope. */
static struct lg_ref go_bound_ref(const struct lineage *lg, const struct gnode *g)
{
	if (g->state != LG_GO_ALIVE)
		return ctx_resolve(lg, g->bound_idx, g->bound_gen) ? (struct lg_ref){ g->bound_idx, g->bound_gen }
								    : (struct lg_ref){ 0, 0 };
	for (uint32_t c = g->done; c != NONE; c = CELL(lg, c)->next)
		if (ctx_resolve(lg, CELL(lg, c)->ctx, CELL(lg, c)->gen))
			return (struct lg_ref){ CELL(lg, c)->ctx, CELL(lg, c)->gen };
	for (uint32_t c = g->start_scope, w = 0; c != NONE && w < SCOPE_WALK_MAX; c = CELL(lg, c)->next, w++) {
		const struct cnode *x = ctx_resolve(lg, CELL(lg, c)->ctx, CELL(lg, c)->gen);

		if (x && in_start_scope(g, x))
			return (struct lg_ref){ CELL(lg, c)->ctx, CELL(lg, c)->gen };
	}
	return (struct lg_ref){ 0, 0 };
}

static int on_go_exit(struct lineage *lg, const struct ct_event *ev)
{
	uint64_t goid = ev->go_exit.goid ? ev->go_exit.goid : ev->goid;
	uint32_t idx = map_find(lg, &lg->go_map, goid);
	struct lg_ref bound;
	struct gnode *n;

	if (idx == NONE) {
		lg->st.unknown_refs++;
		return 0;
	}
	n = G(lg, idx);
	if (n->state != LG_GO_ALIVE)
		return 0;
	bound = go_bound_ref(lg, n);
	dlist_del(lg, &lg->alive_go, idx, go_link_of);
	n->state = LG_GO_EXITED;
	n->exited_ns = lg->now;
	/* an exited goroutine holds no context any more (they may leave now) */
	if (n->flags & F_PINNED)
		scope_pin(lg, n, -1);
	n->flags &= ~F_PINNED;
	cell_release(lg, n->cur_scope);
	cell_release(lg, n->start_scope);
	done_release(lg, n->done);
	n->bound_idx = bound.idx;
	n->bound_gen = bound.gen;
	n->bound_pad = 0;
	n->own_depth = 0;
	lg->st.go_alive--;
	lg->st.go_exited++;
	return fifo_push(lg, idx | FIN_GO, n->gen);
}

int lineage__apply(struct lineage *lg, const struct ct_event *ev)
{
	int err = 0;

	lg->now = ev->ts_ns > lg->now ? ev->ts_ns : lg->now + 1;
	lg->st.events++;
	if (ev->type != EV_CTX_DONE && ev->type != EV_CTX_CREATE && lg->recent[ev->goid % RECENT].goid == ev->goid)
		lg->recent[ev->goid % RECENT].goid = 0;
	while (fifo_evict_one(lg, false, lg->now))
		lg->st.evicted_retention++;
	switch (ev->type) {
	case EV_CTX_CREATE:
		make_room(lg, 4);
		err = on_ctx_create(lg, ev);
		break;
	case EV_CTX_CANCEL:
		make_room(lg, 1);
		err = on_ctx_cancel(lg, ev);
		break;
	case EV_CTX_DONE:
		make_room(lg, 2);
		err = on_ctx_done(lg, ev);
		break;
	case EV_GO_CREATE:
		make_room(lg, 2);
		err = on_go_create(lg, ev);
		break;
	case EV_GO_EXIT:
		err = on_go_exit(lg, ev);
		break;
	case EV_LOST:
		lg->st.lost_records += ev->lost.ringbuf_drops + ev->lost.read_errors + ev->lost.decode_errors;
		break;
	case EV_TARGET_EXIT:
		lg->st.target_exited = true;
		break;
	default:
		break;
	}
	if (err)
		lg->st.apply_failed++;
	return err;
}

/* ---- lifecycle ---- */

struct lineage *lineage__new(const struct lineage_opts *opts)
{
	struct lineage *lg = calloc(1, sizeof(*lg));

	if (!lg) {
		ct_errmsg_set("cannot allocate the lineage graph");
		errno = ENOMEM;
		return NULL;
	}
	if (opts)
		lg->opts = *opts;
	if (!lg->opts.retention_ns)
		lg->opts.retention_ns = LINEAGE_DEFAULT_RETENTION_NS;
	if (!lg->opts.max_nodes)
		lg->opts.max_nodes = LINEAGE_DEFAULT_MAX_NODES;
	if (lg->opts.max_nodes < 16)
		lg->opts.max_nodes = 16;
	lg->ctxs.size = sizeof(struct cnode);
	lg->gos.size = sizeof(struct gnode);
	lg->cells.size = sizeof(struct cell);
	lg->hand_ctx = lg->hand_go = 1;
	lg->st.bytes = sizeof(*lg);
	return lg;
}

void lineage__free(struct lineage *lg)
{
	if (!lg)
		return;
	slab_destroy(&lg->ctxs);
	slab_destroy(&lg->gos);
	slab_destroy(&lg->cells);
	free(lg->ctx_map.slots);
	free(lg->go_map.slots);
	free(lg->fifo);
	free(lg->walk);
	free(lg);
}

uint64_t lineage__now(const struct lineage *lg)
{
	return lg->now;
}

void lineage__stats(const struct lineage *lg, struct lineage_stats *st)
{
	*st = lg->st;
	st->ctx_open = lg->open_ctx.n;
}

/* ---- queries ---- */

static void ctx_out(const struct lineage *lg, uint32_t idx, struct lg_ctx *o)
{
	const struct cnode *n = C(lg, idx);

	o->ref = (struct lg_ref){ idx, n->gen };
	o->id = n->id;
	o->kind = n->kind;
	o->type_name = n->type_name;
	o->stack = n->stack;
	o->created_ns = n->created_ns;
	o->creator_goid = n->creator;
	o->has_deadline = n->flags & F_HAS_DEADLINE;
	o->deadline_unix_ns = n->deadline;
	o->preexisting = n->flags & F_PREEXISTING;
	o->discovered = n->flags & F_DISCOVERED;
	o->placeholder = n->flags & F_PLACEHOLDER;
	o->state = n->state;
	o->reason = n->reason;
	o->cancelled_ns = n->cancelled_ns;
	o->canceller_goid = n->canceller;
	o->cancel_stack = n->cancel_stack;
	o->err = err_text(n->err);
	o->cause = n->cause;
	o->cancel_called = n->flags & F_CANCEL_CALLED;
	o->collected = n->flags & F_COLLECTED;
	o->collected_ns = n->flags & F_COLLECTED ? n->collected_ns : 0;
	o->parent_id = n->parent_id;
	o->parent_kind = n->parent_kind;
	o->parent = n->parent != NONE ? (struct lg_ref){ n->parent, C(lg, n->parent)->gen }
				      : (struct lg_ref){ 0, 0 };
	o->nchildren = n->nchildren;
}

static void go_out(const struct lineage *lg, uint32_t idx, struct lg_go *o)
{
	const struct gnode *n = G(lg, idx);

	o->ref = (struct lg_ref){ idx, n->gen };
	o->goid = n->goid;
	o->parent_goid = n->parent_goid;
	o->parent = n->parent != NONE ? (struct lg_ref){ n->parent, G(lg, n->parent)->gen }
				      : (struct lg_ref){ 0, 0 };
	o->go_site = n->go_site;
	o->start_func = n->start_func;
	o->created_ns = n->created_ns;
	o->exited_ns = n->state == LG_GO_EXITED ? n->exited_ns : 0;
	o->state = n->state;
	o->preexisting = n->flags & F_PREEXISTING;
	o->placeholder = n->flags & F_PLACEHOLDER;
	o->nchildren = n->nchildren;
}

int lineage__ctx(const struct lineage *lg, uint64_t id, struct lg_ctx *out)
{
	uint32_t idx = map_find(lg, &lg->ctx_map, id);

	if (idx == NONE)
		return -ENOENT;
	ctx_out(lg, idx, out);
	return 0;
}

int lineage__ctx_at(const struct lineage *lg, struct lg_ref ref, struct lg_ctx *out)
{
	if (!ctx_resolve(lg, ref.idx, ref.gen))
		return -ENOENT;
	ctx_out(lg, ref.idx, out);
	return 0;
}

int lineage__go(const struct lineage *lg, uint64_t goid, struct lg_go *out)
{
	uint32_t idx = map_find(lg, &lg->go_map, goid);

	if (idx == NONE)
		return -ENOENT;
	go_out(lg, idx, out);
	return 0;
}

int lineage__go_at(const struct lineage *lg, struct lg_ref ref, struct lg_go *out)
{
	if (!go_resolve(lg, ref.idx, ref.gen))
		return -ENOENT;
	go_out(lg, ref.idx, out);
	return 0;
}

/* The next node in use at or after *cursor (0 starts at 1) among contexts or
 * goroutines; the cursor moves past it. NONE at the end. */
static uint32_t next_used(const struct lineage *lg, bool go, uint32_t *cursor)
{
	uint32_t hi = go ? lg->gos.hi : lg->ctxs.hi;

	for (uint32_t i = *cursor ? *cursor : 1; i < hi; i++) {
		if ((go ? G(lg, i)->flags : C(lg, i)->flags) & F_USED) {
			*cursor = i + 1;
			return i;
		}
	}
	*cursor = hi ? hi : 1;
	return NONE;
}

bool lineage__ctx_next(const struct lineage *lg, uint32_t *cursor, struct lg_ctx *out)
{
	uint32_t i = next_used(lg, false, cursor);

	if (i == NONE)
		return false;
	ctx_out(lg, i, out);
	return true;
}

bool lineage__go_next(const struct lineage *lg, uint32_t *cursor, struct lg_go *out)
{
	uint32_t i = next_used(lg, true, cursor);

	if (i == NONE)
		return false;
	go_out(lg, i, out);
	return true;
}

/* Lists walked with a cursor: 0 starts at the head; END after the last. */
#define END 0xffffffffU

static uint32_t list_step(const struct lineage *lg, const struct dlist *l, uint32_t *cursor,
			  struct dlink *(*link_of)(const struct lineage *, uint32_t))
{
	uint32_t i = *cursor == 0 ? l->head : *cursor == END ? NONE : *cursor;

	if (i == NONE) {
		*cursor = END;
		return NONE;
	}
	*cursor = link_of(lg, i)->next != NONE ? link_of(lg, i)->next : END;
	return i;
}

bool lineage__ctx_next_open(const struct lineage *lg, uint32_t *cursor, struct lg_ctx *out)
{
	uint32_t i;

	/* kept across changes of the graph, the cursor's node may have left the list */
	if (*cursor != 0 && *cursor != END && (*cursor >= lg->ctxs.hi || !ctx_on_list(lg, *cursor)))
		*cursor = 0;
	i = list_step(lg, &lg->open_ctx, cursor, ctx_link_of);

	if (i == NONE)
		return false;
	ctx_out(lg, i, out);
	return true;
}

bool lineage__go_next_alive(const struct lineage *lg, uint32_t *cursor, struct lg_go *out)
{
	uint32_t i = list_step(lg, &lg->alive_go, cursor, go_link_of);

	if (i == NONE)
		return false;
	go_out(lg, i, out);
	return true;
}

/* The FIFO holds finished nodes in the order they finished (the graph clock only
 * moves forward), numbered from the first ever pushed, so a reader keeps its
 * place across changes: what the FIFO let go is skipped. */
bool lineage__ctx_finished_next(const struct lineage *lg, uint64_t *seq, struct lg_ctx *out)
{
	if (*seq < lg->fifo_seq)
		*seq = lg->fifo_seq;
	while (*seq < lg->fifo_seq + lg->fifo_len) {
		struct fin f = lg->fifo[(lg->fifo_head + (uint32_t)(*seq - lg->fifo_seq)) & (lg->fifo_cap - 1)];
		const struct cnode *c;

		(*seq)++;
		if (f.node & FIN_GO)
			continue;
		c = ctx_resolve(lg, f.node, f.gen);
		if (!c || (c->state != LG_CTX_CANCELLED && !(c->flags & F_COLLECTED)))
			continue;
		ctx_out(lg, f.node, out);
		return true;
	}
	return false;
}

/* A node's place in its tree (contexts and goroutines each form one). */
struct tree_links {
	uint32_t parent, first_child, next_sib;
};

static bool tree_links(const struct lineage *lg, bool go, uint32_t idx, uint32_t gen,
		       struct tree_links *out)
{
	const struct gnode *g = go ? go_resolve(lg, idx, gen) : NULL;
	const struct cnode *c = go ? NULL : ctx_resolve(lg, idx, gen);

	if (g)
		*out = (struct tree_links){ g->parent, g->first_child, g->next_sib };
	else if (c)
		*out = (struct tree_links){ c->parent, c->first_child, c->next_sib };
	return g || c;
}

/* The child of parent after *it (it->gen 0: the first one), or NONE: no more, a
 * stale parent, or *it no longer its child. */
static uint32_t child_after(const struct lineage *lg, bool go, struct lg_ref parent,
			    const struct lg_ref *it)
{
	struct tree_links p, c;

	if (!tree_links(lg, go, parent.idx, parent.gen, &p))
		return NONE;
	if (it->gen == 0)
		return p.first_child;
	if (!tree_links(lg, go, it->idx, it->gen, &c) || c.parent != parent.idx)
		return NONE;
	return c.next_sib;
}

bool lineage__ctx_child_next(const struct lineage *lg, struct lg_ref parent, struct lg_ref *it,
			     struct lg_ctx *out)
{
	uint32_t next = child_after(lg, false, parent, it);

	if (next == NONE)
		return false;
	ctx_out(lg, next, out);
	*it = out->ref;
	return true;
}

bool lineage__go_child_next(const struct lineage *lg, struct lg_ref parent, struct lg_ref *it,
			    struct lg_go *out)
{
	uint32_t next = child_after(lg, true, parent, it);

	if (next == NONE)
		return false;
	go_out(lg, next, out);
	*it = out->ref;
	return true;
}

int lineage__go_scope(const struct lineage *lg, uint64_t goid, enum lg_scope_mode mode,
		      struct lg_ctx *out, int max)
{
	uint32_t gi = map_find(lg, &lg->go_map, goid);
	const struct gnode *g;
	uint32_t c;
	int n = 0;

	if (gi == NONE)
		return 0;
	g = G(lg, gi);
	if (g->state != LG_GO_ALIVE)
		return 0;
	c = mode == LG_SCOPE_NOW ? g->cur_scope : g->start_scope;
	for (int walked = 0; c != NONE && n < max && walked < SCOPE_WALK_MAX; walked++) {
		const struct cell *p = CELL(lg, c);
		const struct cnode *x = ctx_resolve(lg, p->ctx, p->gen);

		c = p->next;
		if (!x || !scope_kind(x->kind))
			continue;
		if (mode == LG_SCOPE_NOW ? x->state != LG_CTX_LIVE || (x->flags & F_COLLECTED)
					 : !in_start_scope(g, x))
			continue;
		ctx_out(lg, p->ctx, &out[n++]);
	}
	return n;
}

int lineage__go_done(const struct lineage *lg, uint64_t goid, struct lg_ctx *out, int max)
{
	uint32_t gi = map_find(lg, &lg->go_map, goid);
	int n = 0;

	if (gi == NONE || G(lg, gi)->state != LG_GO_ALIVE)
		return 0;
	for (uint32_t c = G(lg, gi)->done; c != NONE && n < max; c = CELL(lg, c)->next) {
		const struct cell *p = CELL(lg, c);

		if (ctx_resolve(lg, p->ctx, p->gen))
			ctx_out(lg, p->ctx, &out[n++]);
	}
	return n;
}

int lineage__go_bound(const struct lineage *lg, uint64_t goid, struct lg_ctx *out)
{
	uint32_t gi = map_find(lg, &lg->go_map, goid);
	struct lg_ref r;

	if (gi == NONE)
		return -ENOENT;
	r = go_bound_ref(lg, G(lg, gi));
	if (r.gen == 0)
		return -ENOENT;
	ctx_out(lg, r.idx, out);
	return 0;
}

int lineage__ctx_ancestor(const struct lineage *lg, struct lg_ref ref, struct lg_ctx *out)
{
	const struct cnode *n = ctx_resolve(lg, ref.idx, ref.gen);

	for (int i = 0; n && i < 64; i++) {
		if (n->parent == NONE)
			return -ENOENT;
		ref.idx = n->parent;
		n = C(lg, n->parent);
		if (n->kind != CTX_VALUE) {
			ctx_out(lg, ref.idx, out);
			return 0;
		}
	}
	return -ENOENT;
}
