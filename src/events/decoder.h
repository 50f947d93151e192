/* Ring-buffer records (include/ctxtrace.h) -> decoded events (events/event.h).
 * The decoder symbolizes stacks, names types from the target's memory, resolves
 * parents (emitting pre-existing and discovered contexts before their children),
 * matches WithValue calls with the value contexts they made, and classifies
 * cancels. It emits through one callback, synchronously. */
#ifndef CT_DECODER_H
#define CT_DECODER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct decoder;
struct goelf;
struct go_frame;
struct go_offsets;
struct procmem;
struct gotypes;
struct intern;
struct ct_event;
struct ct_stack;

/* pc (link-time address) -> frames, innermost first; as goelf__symbolize. */
typedef int (*decoder_symbolize_fn)(void *cookie, uint64_t pc, struct go_frame *frames, int max);

struct decoder_opts {
	int pid;
	int go_minor;                 /* Go 1.minor of the target */
	const struct goelf *ge;       /* symbolizes unless symbolize is set */
	decoder_symbolize_fn symbolize;
	void *sym_cookie;
	uint64_t load_bias;           /* runtime - link-time address of the executable */
	const struct go_offsets *off;
	struct procmem *mem;
	struct gotypes *types;
	struct intern *in;
	void (*emit)(void *cookie, const struct ct_event *ev);
	void *cookie;
	uint64_t value_max_age_ns;    /* unreferenced WithValue calls are emitted after this; 0: 2 s */
	uint32_t value_pending_max;   /* WithValue calls waiting for their address; 0: 4096 */
	uint32_t known_max;           /* contexts remembered (two generations of this many); 0: 1<<18 */
	uint32_t stack_cache;         /* raw stack -> symbolized stack cache entries; 0: 16384 */
	/* (*timerCtx).cancel has no probe: a timer's cancel is seen at its embedded
	 * (*cancelCtx).cancel, whose caller frame names it. */
	bool timer_unprobed;
	/* WithValue has no probe (--probes default): a value context met as a parent
	 * is discovered, not pre-existing (it may be new). */
	bool values_unprobed;
};

/* NULL with errno. The options' objects must outlive the decoder. */
struct decoder *decoder__new(const struct decoder_opts *opts);
void decoder__free(struct decoder *d);

/* Decodes one record and emits its events (zero or more). 0, or -EINVAL for a
 * malformed record (counted in decode_errors). */
int decoder__record(struct decoder *d, const void *data, size_t len);
/* Emits WithValue calls older than value_max_age_ns (now: CLOCK_MONOTONIC ns). */
void decoder__expire(struct decoder *d, uint64_t now_ns);
/* Emits every pending WithValue call (end of the watch). */
void decoder__flush(struct decoder *d);

/* A goroutine that existed at attach (from the runtime's allgs): emits go_create
 * with preexisting=true; later go_create records for that goid are dropped. */
void decoder__preexisting_go(struct decoder *d, uint64_t goid, uint64_t parent_goid,
			     uint64_t gopc, uint64_t startpc, uint64_t ts_ns);

/* Symbolizes runtime pcs: pcs[0] is an instruction pointer when first_is_ip, every
 * other one a return address. Interned; NULL when n is 0 or the table is full. */
const struct ct_stack *decoder__stack(struct decoder *d, const uint64_t *pcs, int n, bool first_is_ip);

struct decoder_stats {
	uint64_t records;
	uint64_t by_type[8];          /* indexed by enum ct_rec_type */
	uint64_t events;              /* emitted */
	uint64_t decode_errors;       /* malformed records */
	uint64_t dup_cancels;         /* (*timerCtx).cancel's own (*cancelCtx).cancel hit, dropped */
	uint64_t preexisting;         /* contexts read from memory, created before attach */
	uint64_t discovered;          /* contexts known only from references */
	uint64_t values_matched;      /* WithValue calls matched with their address */
	uint64_t values_anonymous;    /* WithValue calls emitted with id 0 */
	uint64_t values_pending;      /* waiting now */
	uint64_t stack_hits, stack_misses;
	uint64_t mem_errors;          /* target reads that failed while decoding */
	uint64_t not_context;         /* interface values refused: not a context.Context, or a bad pointer */
};
void decoder__stats(const struct decoder *d, struct decoder_stats *st);

/* Unix nanoseconds of a raw Go time.Time {wall, ext, loc}; false for the zero time. */
bool go_time_unix_ns(const void *raw24, int64_t *unix_ns);

#endif
