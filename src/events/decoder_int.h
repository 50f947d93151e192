/* Shared by the decoder's files (decoder.c, stackcache.c, ctxdiscover.c,
 * values.c, cancel_class.c); not a public header. */
#ifndef CT_DECODER_INT_H
#define CT_DECODER_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "events/decoder.h"
#include "events/event.h"
#include "util/hashmap.h"

#define ERRTEXT_SLOTS 256

/* A context seen (created, or read from memory). anc is what a child of it takes
 * as its ancestor: itself, or for value and custom contexts their own ancestor. */
struct known {
	uint64_t id; /* 0: empty slot */
	uint64_t anc;
	uint64_t vsig; /* value contexts: signature of {Context, key, val} */
	uint8_t kind, anc_kind;
};

/* Contexts are remembered in two generations: when the current one is half full
 * the previous one is dropped, so memory is bounded and recently used contexts
 * (promoted on lookup) stay. */
struct kgen {
	struct known *slots;
	uint32_t count;
};

struct cref {
	uint64_t id;
	enum ctx_kind kind;
	const char *type;
	uint64_t anc;
	enum ctx_kind anc_kind;
};

/* A WithValue call waiting to learn the address of the context it made. */
struct pval {
	uint64_t w[6]; /* parent tab/data, key tab/data, val tab/data */
	uint64_t ts, goid;
	uint32_t tid;
	bool live;
	int32_t next; /* bucket chain */
	struct cref parent;
	const struct ct_stack *stack;
};

struct scache {
	uint64_t key;
	const struct ct_stack *st;
};

struct errtext {
	uint64_t data, ptr, len, checked;
	const char *text;
};

struct decoder {
	struct decoder_opts o;
	struct kgen gen[2];
	int cur;
	uint32_t kcap; /* slots per generation */
	struct pval *pv;
	uint32_t pv_cap, pv_head, pv_len, pv_live;
	int32_t *pv_buckets;
	uint32_t pv_nbuckets;
	struct scache *sc;
	uint32_t sc_cap;
	struct hmap snap; /* goids emitted as pre-existing */
	struct errtext errtext[ERRTEXT_SLOTS]; /* by object address */
	int64_t off_cancel_ctx, off_timer_deadline, off_value[3], off_without_c;
	const char *n_value, *n_cancel, *n_timer, *n_afterfunc, *s_deadline;
	int depth;
	/* The last (*timerCtx).cancel hit, to drop its inner (*cancelCtx).cancel hit
	 * when the stack cannot tell. */
	uint64_t last_timer_goid, last_timer_ctx;
	struct decoder_stats st;
};

struct ct_ctx_cancel;

/* decoder.c */
void dec_emit(struct decoder *d, const struct ct_event *ev);

/* ctxdiscover.c */
/* Reads of target memory; failures are counted in mem_errors. */
int dec_read_words(struct decoder *d, uint64_t addr, uint64_t *w, size_t n);
int dec_read_bytes(struct decoder *d, uint64_t addr, void *buf, size_t n);
/* A Context interface value (itab, data) as a parent: known, or discovered now. */
void dec_resolve(struct decoder *d, uint64_t tab, uint64_t data, uint64_t ts, struct cref *out);
/* A cancelled context not known yet is read from memory (and emitted) first. */
void dec_ensure_known(struct decoder *d, uint64_t id, enum ctx_kind kind, uint64_t ts);
void dec_set_ancestry(struct ev_ctx_create *c, const struct cref *p);
/* The reference a child of the context just created takes. */
void dec_self_ref(struct cref *out, uint64_t id, enum ctx_kind kind, const char *type,
		  const struct ev_ctx_create *c);
void dec_remember(struct decoder *d, const struct cref *r, uint64_t vsig);

/* values.c */
void dec_pv_push(struct decoder *d, const struct pval *nv);
/* The oldest pending call with these six words, or NULL. */
struct pval *dec_pv_match(struct decoder *d, const uint64_t *w);
/* Takes a matched call out of the pending set. */
void dec_pv_unlink(struct decoder *d, int32_t idx);

/* cancel_class.c */
enum cancel_reason dec_classify(struct decoder *d, const struct ct_ctx_cancel *r,
				const struct ct_stack *st, bool deadline_err, bool *drop,
				bool *afterfunc, bool *timer);
const char *dec_error_text(struct decoder *d, uint64_t tab, uint64_t data, uint64_t ts);

#endif
