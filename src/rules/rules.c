/* The rules engine: groups of findings keyed by rule and sites, --grace and
 * --min-count, and (re-)emission of alerts with stable ids. The rules themselves
 * are in rule_*.c (see rules.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "graph/lineage.h"
#include "rules/rules_int.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/syscalls.h"

#define REEMIT_QUIET_NS (10ULL * 1000000000ULL)
#define PENDING_CAP 65536

static const char *const rule_names[RULE_MAX] = {
	[RULE_LOST_CANCEL] = "lost-cancel",
	[RULE_OUTLIVED_CONTEXT] = "outlived-context",
	[RULE_UNREACHABLE_CANCEL] = "unreachable-cancel",
	[RULE_LINEAGE_BREAK] = "lineage-break",
	[RULE_PROPAGATE_GOROUTINE] = "propagate-goroutine",
	[RULE_STUCK_GOROUTINES] = "stuck-goroutines",
};

static const char *const sev_names[SEV_MAX] = {
	[SEV_INFO] = "info",
	[SEV_WARNING] = "warning",
	[SEV_ERROR] = "error",
};

const char *rule_name(enum rule_id r)
{
	return enum_name(rule_names, RULE_MAX, r, "unknown");
}

enum rule_id rule_parse(const char *s)
{
	int r = enum_parse(rule_names, RULE_MAX, s);

	return r < 0 ? RULE_MAX : r;
}

const char *severity_name(enum alert_severity s)
{
	return enum_name(sev_names, SEV_MAX, s, "unknown");
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static uint64_t fnv_str(uint64_t h, const char *s)
{
	h = s ? fnv(h, s, strlen(s)) : h;
	return fnv(h, "\0", 1);
}

uint64_t frame_hash(const struct ct_frame *f)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	if (!f)
		return h;
	h = fnv_str(h, f->func);
	h = fnv_str(h, f->file);
	return fnv(h, &f->line, sizeof(f->line));
}

/* From the sites' text only, so the same leak has the same id in every session. */
uint64_t key_hash(enum rule_id rule, const struct ct_frame *const k[GROUP_KEYS])
{
	uint64_t h = fnv_str(0xcbf29ce484222325ULL, rule_names[rule]);

	for (int i = 0; i < GROUP_KEYS; i++) {
		if (!k[i]) {
			h = fnv(h, "-", 1);
			continue;
		}
		h = fnv_str(h, k[i]->func);
		h = fnv_str(h, k[i]->file);
		h = fnv(h, &k[i]->line, sizeof(k[i]->line));
	}
	return h;
}

struct rules *rules__new(const struct rules_opts *opts)
{
	struct rules *r = calloc(1, sizeof(*r));
	uint32_t cap = 16;

	if (!r)
		goto nomem;
	r->o = *opts;
	if (!r->o.grace_ns)
		r->o.grace_ns = RULES_DEFAULT_GRACE_NS;
	if (!r->o.min_count)
		r->o.min_count = RULES_DEFAULT_MIN_COUNT;
	if (!r->o.max_groups)
		r->o.max_groups = RULES_DEFAULT_MAX_GROUPS;
	if (!r->o.reads_per_tick)
		r->o.reads_per_tick = RULES_DEFAULT_READS_PER_TICK;
	if (r->o.max_groups > (1U << 24)) {
		free(r);
		ct_errmsg_set("rules: max_groups %u is over %u", opts->max_groups, 1U << 24);
		errno = EINVAL;
		return NULL;
	}
	while (cap < 2 * r->o.max_groups)
		cap <<= 1;
	r->cap = cap;
	r->groups = calloc(cap, sizeof(*r->groups));
	r->pend_cap = 1024;
	r->pend = calloc(r->pend_cap, sizeof(*r->pend));
	if (!r->groups || !r->pend)
		goto nomem;
	return r;
nomem:
	rules__free(r);
	ct_errmsg_set("rules: out of memory");
	errno = ENOMEM;
	return NULL;
}

void rules__free(struct rules *r)
{
	if (!r)
		return;
	free(r->groups);
	free(r->pend);
	free(r->cands);
	hmap__free(&r->lost_map);
	hmap__free(&r->outlived);
	free(r);
}

void rules__stats(const struct rules *r, struct rules_stats *st)
{
	*st = r->st;
	st->groups = r->ngroups;
}

struct group *group_lookup(struct group *tab, uint32_t cap, uint32_t *ngroups, uint32_t max,
			   enum rule_id rule, const struct ct_frame *k0, const struct ct_frame *k1,
			   const struct ct_frame *k2)
{
	const struct ct_frame *k[GROUP_KEYS] = { k0, k1, k2 };
	uint64_t h = key_hash(rule, k);
	uint32_t mask = cap - 1;

	for (uint32_t i = (uint32_t)h & mask, n = 0; n < cap; i = (i + 1) & mask, n++) {
		struct group *g = &tab[i];

		if (!g->used) {
			if (*ngroups >= max)
				return NULL;
			memset(g, 0, sizeof(*g));
			g->used = true;
			g->rule = rule;
			g->hash = h;
			memcpy(g->key, k, sizeof(k));
			g->severity = SEV_ERROR;
			(*ngroups)++;
			return g;
		}
		if (g->hash == h && g->rule == rule && frame_equal(g->key[0], k0) &&
		    frame_equal(g->key[1], k1) && frame_equal(g->key[2], k2))
			return g;
	}
	return NULL;
}

struct group *group_get(struct rules *r, enum rule_id rule, const struct ct_frame *k0,
			const struct ct_frame *k1, const struct ct_frame *k2)
{
	struct group *g = group_lookup(r->groups, r->cap, &r->ngroups, r->o.max_groups, rule, k0, k1, k2);

	if (!g)
		r->st.groups_dropped++;
	return g;
}

uint32_t group_index(const struct rules *r, const struct group *g)
{
	return (uint32_t)(g - r->groups);
}

void range_add(uint64_t *lo, uint64_t *hi, uint64_t v)
{
	if (!v)
		return;
	if (!*lo || v < *lo)
		*lo = v;
	if (v > *hi)
		*hi = v;
}

void alert_ctx_fill(const struct rules *r, struct alert_ctx *out, const struct lg_ctx *c)
{
	memset(out, 0, sizeof(*out));
	out->known = true;
	out->id = c->id;
	out->kind = c->kind;
	out->type_name = c->type_name;
	out->parent_kind = c->parent_kind;
	out->stack = c->stack;
	out->site = site_ctx_display(c->stack);
	out->has_deadline = c->has_deadline;
	out->deadline_unix_ns = c->deadline_unix_ns;
	out->cancelled = c->state == LG_CTX_CANCELLED;
	out->reason = c->reason;
	out->cancelled_unix_ns = c->cancelled_ns ? (int64_t)c->cancelled_ns + r->mono_to_unix : 0;
	out->err = c->err;
	out->cause = c->cause;
	out->cancel_stack = c->cancel_stack;
	out->cancel_site = site_cancel(c->cancel_stack);
	out->cancel_called = c->cancel_called;
}

int rules_read_gstate(struct rules *r, uint64_t goid, struct rules_gstate *gs)
{
	int err;

	memset(gs, 0, sizeof(*gs));
	gs->syscall_nr = -1;
	if (!r->o.gstate)
		return -ENOTSUP;
	if (r->reads_left == 0) {
		r->st.gstate_skipped++;
		return -EAGAIN;
	}
	r->reads_left--;
	r->st.gstate_reads++;
	err = r->o.gstate(r->o.gstate_cookie, goid, gs);
	if (err) {
		if (err != -ENOENT)
			r->st.gstate_errors++;
		return err;
	}
	if (gs->status == RULES_G_DEAD)
		return -ENOENT;
	if (gs->status == RULES_G_SYSCALL && gs->syscall_nr < 0 && gs->tid) {
		int nr;
		uint64_t since = 0;

		if (r->o.syscall_of ? !r->o.syscall_of(r->o.syscall_cookie, gs->tid, &nr, &since) :
				    r->o.pid > 0 && !syscall_of_thread(r->o.pid, gs->tid, &nr)) {
			uint64_t now = ct_mono_ns();

			gs->syscall_nr = nr;
			gs->syscall_ns = since && since < now ? now - since : 0;
		}
	}
	return 0;
}

static const char *status_label(const struct rules_gstate *gs, bool have_state)
{
	if (!have_state)
		return "unknown";
	switch (gs->status) {
	case RULES_G_RUNNABLE: return "runnable";
	case RULES_G_RUNNING: return "running";
	case RULES_G_SYSCALL: return gs->in_cgo ? "cgo call" : "syscall";
	case RULES_G_WAITING: return gs->wait_reason ? gs->wait_reason : "waiting";
	default: return "unknown";
	}
}

static bool str_eq(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

void group_add_block(struct group *g, const struct rules_gstate *gs, bool have_state)
{
	const struct ct_frame *site = have_state ? site_first_user(gs->stack) : NULL;
	const char *wait = status_label(gs, have_state);
	const char *sc = have_state && gs->status == RULES_G_SYSCALL ? syscall_name(gs->syscall_nr) : NULL;
	struct alert *a = &g->a;

	if (have_state) {
		range_add(&a->waiting_min_ns, &a->waiting_max_ns, gs->waiting_ns);
		range_add(&a->syscall_min_ns, &a->syscall_max_ns, gs->syscall_ns);
	}
	for (int i = 0; i < a->nblocks; i++) {
		struct alert_block *b = &a->blocks[i];

		if (frame_equal(b->site, site) && str_eq(b->wait_reason, wait) && str_eq(b->syscall, sc)) {
			b->count++;
			return;
		}
	}
	if (a->nblocks < ALERT_MAX_BLOCK_SITES) {
		struct alert_block *b = &a->blocks[a->nblocks++];

		b->site = site;
		b->stack = have_state ? gs->stack : NULL;
		b->wait_reason = wait;
		b->syscall = sc;
		b->count = 1;
	}
}

int pending_push(struct rules *r, uint32_t group, uint64_t since_ns, uint64_t scope_ns, bool confirmed)
{
	if (r->pend_n == r->pend_cap) {
		uint32_t ncap = r->pend_cap * 2;
		struct pending *np;

		if (ncap > PENDING_CAP) {
			r->st.pending_dropped++;
			return 0;
		}
		np = calloc(ncap, sizeof(*np));
		if (!np)
			return -ENOMEM;
		for (uint32_t i = 0; i < r->pend_n; i++)
			np[i] = r->pend[(r->pend_head + i) % r->pend_cap];
		free(r->pend);
		r->pend = np;
		r->pend_cap = ncap;
		r->pend_head = 0;
	}
	r->pend[(r->pend_head + r->pend_n) % r->pend_cap] = (struct pending){ group, confirmed, since_ns, scope_ns };
	r->pend_n++;
	return 0;
}

void rules__set_attached(struct rules *r, uint64_t ns)
{
	r->attach_ns = ns;
}

static void loss_add(struct rules *r, uint64_t hi, bool reads_only)
{
	if (r->nloss == LOSS_WINDOWS) {
		r->loss[1].lo = r->loss[0].lo;
		r->loss[1].reads_only = r->loss[1].reads_only && r->loss[0].reads_only;
		memmove(&r->loss[0], &r->loss[1], (LOSS_WINDOWS - 1) * sizeof(r->loss[0]));
		r->nloss--;
	}
	r->loss[r->nloss].lo = r->last_loss_ns;
	r->loss[r->nloss].hi = hi;
	r->loss[r->nloss].reads_only = reads_only;
	r->nloss++;
	r->st.loss_windows++;
}

bool rules_in_doubt(const struct rules *r, uint64_t lo, uint64_t hi, bool reads)
{
	if (r->attach_ns && lo < r->attach_ns)
		return true;
	if (r->o.gap_in && r->o.gap_in(r->o.gap_cookie, lo, hi))
		return true;
	for (uint32_t i = 0; i < r->nloss; i++) {
		if ((reads || !r->loss[i].reads_only) && r->loss[i].lo < hi && r->loss[i].hi >= lo)
			return true;
	}
	return false;
}

bool rules_confirm_uncancelled(struct rules *r, const struct lg_ctx *c)
{
	bool cancelled = true;

	if (!r->o.ctxstate || c->collected ||
	    r->o.ctxstate(r->o.ctxstate_cookie, c->id, c->kind, c->parent_id, c->parent_kind, &cancelled) ||
	    cancelled)
		return false;
	return true;
}

int rules__on_event(struct rules *r, const struct lineage *lg, const struct ct_event *ev)
{
	if (ev->type == EV_LOST) {
		/* a loss is reported after the fact: it lies between the previous report and this */
		if (ev->lost.ringbuf_drops || ev->lost.read_errors || ev->lost.decode_errors)
			loss_add(r, ev->ts_ns, !ev->lost.ringbuf_drops && !ev->lost.decode_errors);
		r->last_loss_ns = ev->ts_ns;
		return 0;
	}
	if (ev->type == EV_CTX_CREATE)
		return rule_lineage_break_event(r, lg, ev);
	return 0;
}

static void tick_reset(struct rules *r)
{
	hmap__clear(&r->outlived);
	for (uint32_t i = 0; i < r->cap; i++) {
		struct group *g = &r->groups[i];

		if (!g->used)
			continue;
		g->now = 0;
		g->detail_set = false;
		g->a.nblocks = 0;
		g->a.nwaiters = 0;
		g->a.nwaiters_total = 0;
		g->a.outlived_min_ns = g->a.outlived_max_ns = 0;
		g->a.waiting_min_ns = g->a.waiting_max_ns = 0;
		g->a.syscall_min_ns = g->a.syscall_max_ns = 0;
	}
}

static int block_cmp(const void *a, const void *b)
{
	const struct alert_block *x = a, *y = b;

	return x->count < y->count ? 1 : x->count > y->count ? -1 : 0;
}

static uint32_t group_count(const struct group *g)
{
	switch (g->rule) {
	case RULE_LOST_CANCEL: return g->cum + g->gone + g->now;
	case RULE_LINEAGE_BREAK: return g->cum;
	default: return g->now;
	}
}

/* Re-emission: when the group grew by a tenth (at least one), or grew at all
 * 10 s after the last report; a slowly growing leak then does not flood the
 * stream, and the last count shows at most 10 s after the group stopped growing. */
static bool should_emit(const struct rules *r, const struct group *g, uint32_t count, uint64_t now)
{
	uint32_t step;

	if (count < r->o.min_count || count <= g->emitted)
		return false;
	if (!g->emitted)
		return true;
	step = g->emitted / 10 ? g->emitted / 10 : 1;
	return count >= g->emitted + step || now - g->emitted_ns >= REEMIT_QUIET_NS;
}

static void finish_alert(struct rules *r, struct group *g, uint32_t count, uint64_t now)
{
	struct alert *a = &g->a;
	uint64_t h = g->hash;

	a->rule = g->rule;
	for (int i = 15; i >= 0; i--, h >>= 4)
		a->id[i] = "0123456789abcdef"[h & 15];
	a->id[16] = 0;
	a->pid = r->o.pid;
	a->time_unix_ns = (int64_t)now + r->mono_to_unix;
	a->count = count;
	a->first = g->emitted == 0;
	a->severity = g->severity;
	if (g->rule == RULE_LOST_CANCEL) {
		a->expired = g->cum;
		a->live = g->now;
		a->collected = g->gone;
		/* expired or collected contexts cost memory until their deadline only; live ones pile up */
		a->severity = g->now ? SEV_ERROR : SEV_WARNING;
	}
	qsort(a->blocks, a->nblocks, sizeof(a->blocks[0]), block_cmp);
	switch (g->rule) {
	case RULE_LOST_CANCEL: rule_lost_cancel_message(a); break;
	case RULE_OUTLIVED_CONTEXT:
	case RULE_UNREACHABLE_CANCEL: rule_outlived_message(a); break;
	case RULE_LINEAGE_BREAK: rule_lineage_break_message(a); break;
	case RULE_PROPAGATE_GOROUTINE: rule_propagate_message(a); break;
	default: a->message[0] = 0;
	}
}

int rules__tick(struct rules *r, const struct lineage *lg, uint64_t now_ns,
		rules_emit_fn emit, void *cookie)
{
	struct lg_go g;
	uint32_t cur = 0;
	int emitted = 0, err;

	r->mono_to_unix = ct_mono_to_real_ns();
	r->reads_left = r->o.reads_per_tick;
	r->st.ticks++;
	tick_reset(r);

	while (r->pend_n > 0) {
		struct pending *p = &r->pend[r->pend_head];

		if (p->since_ns + r->o.grace_ns > now_ns)
			break;
		/* records lost around the creation are reported after it: look again */
		if (p->scope_ns && !p->confirmed && rules_in_doubt(r, p->scope_ns, p->since_ns, false))
			r->st.unconfirmed++;
		else
			r->groups[p->group].cum++;
		r->pend_head = (r->pend_head + 1) % r->pend_cap;
		r->pend_n--;
	}

	err = rule_lost_cancel_tick(r, lg, now_ns);
	if (err)
		return err;
	while (lineage__go_next_alive(lg, &cur, &g)) {
		if (g.state != LG_GO_ALIVE || g.placeholder)
			continue;
		rule_lost_cancel_waiter(r, lg, &g);
		if (g.preexisting)
			continue;
		if (site_is_propagate_watcher(g.go_site, g.start_func))
			rule_propagate_go(r, lg, &g, now_ns);
		else
			rule_outlived_go(r, lg, &g, now_ns);
	}

	for (uint32_t i = 0; i < r->cap; i++) {
		struct group *gr = &r->groups[i];
		uint32_t count;

		if (!gr->used)
			continue;
		count = group_count(gr);
		if (!should_emit(r, gr, count, now_ns))
			continue;
		finish_alert(r, gr, count, now_ns);
		if (emit)
			emit(cookie, &gr->a);
		gr->emitted = count;
		gr->emitted_ns = now_ns;
		r->st.alerts++;
		emitted++;
	}
	r->last_tick_ns = now_ns;
	return emitted;
}

bool rules__go_outlived(const struct rules *r, uint64_t goid)
{
	return r && goid && hmap__find(&r->outlived, hmap_key(goid), NULL, NULL);
}
