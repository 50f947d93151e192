/* Shared by the rule files and the engine (rules.c); not a public header. */
#ifndef CT_RULES_INT_H
#define CT_RULES_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "graph/lineage.h"
#include "rules/rules.h"
#include "util/fmt.h" /* file_base */
#include "util/hashmap.h"

#define GROUP_KEYS 3
#define NONE32 UINT32_MAX
/* A creator still alive must have made this many live contexts at one site (a
 * loop dropping cancel funcs) whatever --min-count says: one long-lived root
 * context, or two, is a design, not a leak. */
#define LOST_LOOP_MIN 3
#define LOSS_WINDOWS 64

/* Findings with the same rule and key sites. Key frames point into interned stacks. */
struct group {
	bool used;
	enum rule_id rule;
	uint64_t hash;
	const struct ct_frame *key[GROUP_KEYS];
	uint32_t cum;          /* lost-cancel expired / lineage-break: found so far, cumulative */
	uint32_t gone;         /* lost-cancel: collected, never cancelled; cumulative */
	uint32_t now;          /* this tick: live members (goroutines, live lost contexts) */
	uint32_t emitted;      /* count of the last emission; 0: never emitted */
	uint64_t emitted_ns;
	enum alert_severity severity;
	uint32_t nblocks_seen; /* block-site slots filled this tick (before sorting) */
	struct alert a;        /* details, rebuilt every tick for live groups */
	bool detail_set;       /* a.ctx/a.scope/go_site set this tick (or once, for cum rules) */
};

/* lineage-break findings wait here until their grace has passed */
struct pending {
	uint32_t group;
	bool confirmed;     /* memory confirmed the scope live at the creation */
	uint64_t since_ns;
	uint64_t scope_ns;  /* the scope's creation: a loss reported later may still cover it */
};

struct cand {
	struct lg_ref ref;
	const struct ct_frame *site;
	uint64_t site_hash;
	uint32_t group;        /* set when accepted */
	uint64_t creator;
	uint64_t created_ns;
	bool held;     /* a live goroutine started in its scope may hold the cancel func */
	bool accepted;
};

struct rules {
	struct rules_opts o;
	struct group *groups;
	uint32_t cap;          /* slots, a power of two >= 2 * max_groups */
	uint32_t ngroups;
	uint64_t last_tick_ns; /* previous tick's now; 0 before the first */
	/* Where the lost-cancel rule stopped in the graph's finished contexts: the
	 * collected ones are counted when seen, the deadline ones grace after. */
	uint64_t fin_seq_collected, fin_seq_deadline;
	int64_t mono_to_unix;  /* unix - monotonic, set every tick */
	uint32_t reads_left;   /* gstate reads left in this tick */
	struct pending *pend;
	uint32_t pend_head, pend_n, pend_cap;
	struct cand *cands;    /* lost-cancel: live candidates of this tick */
	uint32_t ncands, cands_cap;
	struct hmap lost_map;  /* lineage ref -> cands index; this tick */
	struct hmap outlived;  /* goids counted by outlived/unreachable at the last tick */
	/* Windows (lo, hi] in which records were lost (EV_LOST), oldest first; when
	 * full, the two oldest merge, so a window is never forgotten, only widened. */
	struct { uint64_t lo, hi; bool reads_only; } loss[LOSS_WINDOWS];
	uint32_t nloss;
	uint64_t last_loss_ns;
	uint64_t attach_ns;    /* all probes live since (rules__set_attached); 0: unknown */
	struct rules_stats st;
};

/* Whether what happened in [lo, hi] may be missing from the graph: records were
 * lost then (ring buffer full, undecodable), or it began before every probe was
 * live. With reads, probe-side reads that failed count too: such a record still
 * arrives, but may name no goroutine (an exit of goid 0). */
bool rules_in_doubt(const struct rules *r, uint64_t lo, uint64_t hi, bool reads);
/* Whether memory confirms the context has not been cancelled (ctx_state). */
bool rules_confirm_uncancelled(struct rules *r, const struct lg_ctx *c);

/* rules.c */
struct group *group_get(struct rules *r, enum rule_id rule, const struct ct_frame *k0,
			const struct ct_frame *k1, const struct ct_frame *k2);
uint32_t group_index(const struct rules *r, const struct group *g);
/* group_get over any table of cap (a power of two) slots holding at most max groups
 * (memjudge keeps its own); NULL when full. */
struct group *group_lookup(struct group *tab, uint32_t cap, uint32_t *ngroups, uint32_t max,
			   enum rule_id rule, const struct ct_frame *k0, const struct ct_frame *k1,
			   const struct ct_frame *k2);
uint64_t frame_hash(const struct ct_frame *f);
uint64_t key_hash(enum rule_id rule, const struct ct_frame *const k[GROUP_KEYS]);
void alert_ctx_fill(const struct rules *r, struct alert_ctx *out, const struct lg_ctx *c);
int rules_read_gstate(struct rules *r, uint64_t goid, struct rules_gstate *gs);
void group_add_block(struct group *g, const struct rules_gstate *gs, bool have_state);
void range_add(uint64_t *lo, uint64_t *hi, uint64_t v);
int pending_push(struct rules *r, uint32_t group, uint64_t since_ns, uint64_t scope_ns, bool confirmed);

/* rule_outlived.c: a range of durations, "1.0s-1.3s" (util fmt_duration each) */
void fmt_range(char *buf, size_t size, uint64_t lo, uint64_t hi);

/* sites.c */
bool func_is_std(const char *func);
bool func_in_pkg(const char *func, const char *pkg);
const struct ct_frame *site_first_user(const struct ct_stack *s);
const struct ct_frame *site_creation(const struct ct_stack *s);
const struct ct_frame *site_go(const struct ct_stack *s);
const struct ct_frame *site_cancel(const struct ct_stack *s);
bool site_is_propagate_watcher(const struct ct_stack *go_site, const char *start_func);
bool frame_equal(const struct ct_frame *a, const struct ct_frame *b);
/* The frame to show for a context: the user's, else the first outside context. */
const struct ct_frame *site_ctx_display(const struct ct_stack *s);

/* One function per rule file. */
int rule_lost_cancel_tick(struct rules *r, const struct lineage *lg, uint64_t now);
/* After rule_lost_cancel_tick: goroutines waiting on lost contexts' Done. */
void rule_lost_cancel_waiter(struct rules *r, const struct lineage *lg, const struct lg_go *g);
void rule_outlived_go(struct rules *r, const struct lineage *lg, const struct lg_go *g, uint64_t now);
void rule_propagate_go(struct rules *r, const struct lineage *lg, const struct lg_go *g, uint64_t now);
int rule_lineage_break_event(struct rules *r, const struct lineage *lg, const struct ct_event *ev);

/* Messages: one sentence each, written when an alert is emitted. */
#define PL(n) ((n) == 1 ? "" : "s")
#define ARE(n) ((n) == 1 ? "is" : "are")
void rule_lost_cancel_message(struct alert *a);
void rule_outlived_message(struct alert *a);
void rule_lineage_break_message(struct alert *a);
void rule_propagate_message(struct alert *a);

#endif
