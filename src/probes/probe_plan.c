#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <capstone/capstone.h>

#include "binary/goelf.h"
#include "binary/offsets.h"
#include "probes/probe_plan.h"
#include "util/log.h"

/* Prologues are a handful of instructions; never look further for push %rbp. */
#define PROLOGUE_MAX_INSNS 8
#define FUNC_MAX_BYTES (64 * 1024)

enum site_how {
	SITE_PROLOGUE,     /* the prologue's push %rbp (or, Go 1.19/1.20, the stack check's jbe) */
	SITE_RUNQPUT_CALL, /* the call to runqput after newproc1 in newproc.func1 */
	SITE_INFO,         /* informational row: never probed */
};

struct role {
	const char *role;
	const char *func;
	enum ct_probe_kind kind;
	enum site_how how;
	bool required;
	const char *covered;    /* note when the function exists (informational rows) */
	const char *absent;     /* note when it does not */
	int since_minor;        /* first Go 1.x that has it; 0 = always */
	int until_minor;        /* last Go 1.x that has it; 0 = still */
	bool all_only;          /* only with --probes=all (see enum probe_mode) */
};

/* The rows of a plan, in output order. ctx_create is decided separately. */
static const struct role roles[] = {
	{ "ctx_cancel", "context.(*cancelCtx).cancel", CT_PROBE_CANCELCTX_CANCEL, SITE_PROLOGUE, true },
	/* --probes=all only: value contexts are discovered as parents, who waits on
	 * a Done channel is read from the parked goroutine's sudogs, and whether a
	 * goroutine lives from the runtime's allgs. */
	{ "value", "context.WithValue", CT_PROBE_WITH_VALUE, SITE_PROLOGUE, false,
	  NULL, "inlined or not linked: value contexts are discovered when used as a parent", 0, 0, true },
	{ "done", "context.(*cancelCtx).Done", CT_PROBE_CANCELCTX_DONE, SITE_PROLOGUE, false,
	  NULL, "not linked: nothing waits on a cancelCtx's Done", 0, 0, true },
	{ "go_create", "runtime.newproc.func1", CT_PROBE_GO_START, SITE_RUNQPUT_CALL, true },
	{ "go_exit", "runtime.goexit1", CT_PROBE_GO_EXIT, SITE_PROLOGUE, true, NULL, NULL, 0, 0, true },

	{ "info", "context.WithCancel", CT_PROBE_NONE, SITE_INFO, false,
	  "covered by ctx_create: it calls propagateCancel", "inlined or not linked; covered by ctx_create" },
	{ "info", "context.WithCancelCause", CT_PROBE_NONE, SITE_INFO, false,
	  "covered by ctx_create: it calls propagateCancel", "inlined or not linked; covered by ctx_create", 20 },
	{ "info", "context.WithDeadline", CT_PROBE_NONE, SITE_INFO, false,
	  "covered by ctx_create: it calls propagateCancel",
	  "inlined (1.21+: callers call WithDeadlineCause) or not linked; covered by ctx_create" },
	{ "info", "context.WithDeadlineCause", CT_PROBE_NONE, SITE_INFO, false,
	  "covered by ctx_create: it calls propagateCancel", "inlined or not linked; covered by ctx_create", 21 },
	{ "info", "context.WithTimeout", CT_PROBE_NONE, SITE_INFO, false,
	  "covered by ctx_create: it calls WithDeadline(Cause)", "inlined or not linked; covered by ctx_create" },
	{ "info", "context.WithTimeoutCause", CT_PROBE_NONE, SITE_INFO, false,
	  "covered by ctx_create: it calls WithDeadlineCause", "inlined or not linked; covered by ctx_create", 21 },
	{ "info", "context.AfterFunc", CT_PROBE_NONE, SITE_INFO, false,
	  "covered by ctx_create: it calls propagateCancel with an afterFuncCtx child",
	  "not linked; covered by ctx_create", 21 },
	{ "info", "context.WithoutCancel", CT_PROBE_NONE, SITE_INFO, false,
	  "not probed: discovered when used as a parent",
	  "inlined (1.21+): discovered when used as a parent", 21 },
	/* Not probed: every call of it calls its embedded (*cancelCtx).cancel, whose
	 * caller frame names it; a probe here was a second hit per timer cancel. */
	{ "info", "context.(*timerCtx).cancel", CT_PROBE_NONE, SITE_INFO, false,
	  "covered by ctx_cancel: it calls its embedded (*cancelCtx).cancel, whose caller frame names it",
	  "not linked: the program creates no timer contexts" },
	{ "info", "context.(*afterFuncCtx).cancel", CT_PROBE_NONE, SITE_INFO, false,
	  "covered by ctx_cancel: it calls (*cancelCtx).cancel", "not linked; covered by ctx_cancel", 21 },
	{ "info", "runtime.newproc1", CT_PROBE_NONE, SITE_INFO, false,
	  "covered by go_create: probed at its caller's call to runqput, where the new g is complete",
	  "inlined; go_create is found in runtime.newproc.func1" },
	{ "info", "context.propagateCancel", CT_PROBE_NONE, SITE_INFO, false,
	  "probed as ctx_create", "moved onto *cancelCtx in Go 1.21; covered by ctx_create", 0, 20 },
	{ "info", "context.(*cancelCtx).propagateCancel", CT_PROBE_NONE, SITE_INFO, false,
	  "probed as ctx_create", "a plain function before Go 1.21; covered by ctx_create", 21 },
};

const char *probe_status_name(enum probe_status s)
{
	switch (s) {
	case PROBE_OK: return "ok";
	case PROBE_COVERED: return "covered";
	case PROBE_ABSENT: return "absent";
	case PROBE_NO_SITE: return "no_site";
	}
	return "unknown";
}

const char *probe_mode_name(enum probe_mode m)
{
	return m == PROBES_ALL ? "all" : "default";
}

const char *probe_kind_role(enum ct_probe_kind k)
{
	switch (k) {
	case CT_PROBE_PROPAGATE_CANCEL:
	case CT_PROBE_PROPAGATE_CANCEL_OLD: return "ctx_create";
	case CT_PROBE_CANCELCTX_CANCEL:
	case CT_PROBE_TIMERCTX_CANCEL: return "ctx_cancel";
	case CT_PROBE_WITH_VALUE: return "value";
	case CT_PROBE_CANCELCTX_DONE: return "done";
	case CT_PROBE_GO_START: return "go_create";
	case CT_PROBE_GO_EXIT: return "go_exit";
	default: return NULL;
	}
}

bool probe_site__used(const struct probe_site *s, enum probe_mode m)
{
	return s->status == PROBE_OK && s->kind != CT_PROBE_NONE && (m == PROBES_ALL || !s->all_only);
}

struct disasm {
	csh cs;
	cs_insn *insn;
	size_t n;
};

static int disasm_func(const struct goelf *ge, const struct go_func *f, size_t max_bytes, struct disasm *d)
{
	size_t len = f->end > f->entry ? f->end - f->entry : 0;
	const void *code;

	memset(d, 0, sizeof(*d));
	if (len > max_bytes)
		len = max_bytes;
	code = len ? goelf__at(ge, f->entry, len) : NULL;
	if (!code)
		return -ENOENT;
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &d->cs) != CS_ERR_OK)
		return -ENOMEM;
	cs_option(d->cs, CS_OPT_SYNTAX, CS_OPT_SYNTAX_ATT);
	cs_option(d->cs, CS_OPT_DETAIL, CS_OPT_ON);
	/* Stops at the first byte capstone cannot decode (padding): enough here. */
	d->n = cs_disasm(d->cs, code, len, f->entry, 0, &d->insn);
	if (!d->n) {
		cs_close(&d->cs);
		return -ENOENT;
	}
	return 0;
}

static void disasm_free(struct disasm *d)
{
	if (d->n)
		cs_free(d->insn, d->n);
	if (d->cs)
		cs_close(&d->cs);
	memset(d, 0, sizeof(*d));
}

static bool is_push_rbp(const cs_insn *i)
{
	return i->id == X86_INS_PUSH && i->size == 1 && i->bytes[0] == 0x55;
}

/* cmp of a register against 0x10(%r14), g.stackguard0: the stack-bound check. */
static bool is_stack_check(const cs_insn *i)
{
	const cs_x86 *x = &i->detail->x86;
	int k;

	if (i->id != X86_INS_CMP)
		return false;
	for (k = 0; k < x->op_count; k++)
		if (x->operands[k].type == X86_OP_MEM && x->operands[k].mem.base == X86_REG_R14 &&
		    x->operands[k].mem.index == X86_REG_INVALID && x->operands[k].mem.disp == 0x10)
			return true;
	return false;
}

static uint64_t branch_target(const cs_insn *i)
{
	const cs_x86 *x = &i->detail->x86;

	if (x->op_count == 1 && x->operands[0].type == X86_OP_IMM)
		return x->operands[0].imm;
	return 0;
}

static void set_site(const struct goelf *ge, struct probe_site *s, const cs_insn *i)
{
	s->addr = i->address;
	s->insn_offset = (uint32_t)(i->address - s->func_addr);
	char buf[sizeof(i->mnemonic) + sizeof(i->op_str) + 2];
	size_t n;

	(void)ge;
	snprintf(buf, sizeof(buf), "%s%s%s", i->mnemonic, i->op_str[0] ? " " : "", i->op_str);
	n = strlen(buf);
	if (n >= sizeof(s->insn))
		n = sizeof(s->insn) - 1;
	memcpy(s->insn, buf, n);
	s->insn[n] = 0;
}

/* The prologue's push %rbp (Go 1.21+). Go 1.19/1.20 save %rbp with a mov after
 * sub $N, %rsp, so there the site is the jbe of the stack-bound check, which the
 * kernel emulates too; hits with the branch taken are ignored by the BPF side. */
static int find_prologue_site(const struct goelf *ge, const struct go_func *f, struct probe_site *s)
{
	struct disasm d;
	size_t k, lim;
	int err, branch = -1;

	err = disasm_func(ge, f, 256, &d);
	if (err) {
		snprintf(s->note, sizeof(s->note), "cannot disassemble the function");
		return err;
	}
	lim = d.n < PROLOGUE_MAX_INSNS ? d.n : PROLOGUE_MAX_INSNS;
	for (k = 0; k < lim; k++) {
		const cs_insn *i = &d.insn[k];

		if (is_push_rbp(i)) {
			if (k == 0)
				break; /* no stack check: never the first instruction */
			set_site(ge, s, i);
			snprintf(s->insn, sizeof(s->insn), "push %%rbp");
			goto found;
		}
		if (i->id == X86_INS_JBE && k > 0 && is_stack_check(&d.insn[k - 1]) && branch < 0)
			branch = k;
		if (i->id == X86_INS_CALL || i->id == X86_INS_RET || i->id == X86_INS_JMP)
			break;
	}
	if (branch > 0) {
		set_site(ge, s, &d.insn[branch]);
		s->at_branch = true;
		s->cookie |= CT_COOKIE_AT_BRANCH;
		snprintf(s->note, sizeof(s->note),
			 "no push %%rbp in this prologue (Go 1.19/1.20): probed at the stack check's jbe");
		goto found;
	}
	disasm_free(&d);
	snprintf(s->note, sizeof(s->note), "no push %%rbp after a stack check in the prologue");
	return -ENOENT;
found:
	disasm_free(&d);
	return 0;
}

static bool call_to(const struct goelf *ge, const cs_insn *i, const char *name)
{
	struct go_func t;
	uint64_t to;

	if (i->id != X86_INS_CALL || !(to = branch_target(i)))
		return false;
	return goelf__func_at(ge, to, &t) == 0 && t.entry == to && strcmp(t.name, name) == 0;
}

/* In runtime.newproc.func1 (all Go versions 1.19-1.26):
 *	newg := newproc1(fn, gp, pc, ...)
 *	runqput(pp, newg, true)
 * the call to runqput has RBX = newg, whose goid, gopc and startpc newproc1 set. */
static int find_runqput_site(const struct goelf *ge, const struct go_func *f, struct probe_site *s)
{
	struct disasm d;
	size_t k;
	bool after = false;
	int err;

	err = disasm_func(ge, f, 4096, &d);
	if (err) {
		snprintf(s->note, sizeof(s->note), "cannot disassemble the function");
		return err;
	}
	for (k = 0; k < d.n; k++) {
		const cs_insn *i = &d.insn[k];

		if (!after) {
			after = call_to(ge, i, "runtime.newproc1");
			continue;
		}
		if (call_to(ge, i, "runtime.runqput")) {
			set_site(ge, s, i);
			snprintf(s->insn, sizeof(s->insn), "call runtime.runqput");
			disasm_free(&d);
			return 0;
		}
		if (i->id == X86_INS_CALL)
			break;
	}
	disasm_free(&d);
	snprintf(s->note, sizeof(s->note), after ? "no call to runtime.runqput after runtime.newproc1"
						 : "no call to runtime.newproc1");
	return -ENOENT;
}

static struct probe_site *add_row(struct probe_plan *p, const char *role, const char *func,
				  enum ct_probe_kind kind)
{
	struct probe_site *s;

	if (p->n >= PROBE_PLAN_MAX)
		return NULL;
	s = &p->sites[p->n++];
	memset(s, 0, sizeof(*s));
	s->role = role;
	s->func = func;
	s->kind = kind;
	s->cookie = kind;
	return s;
}

static int probe_row(const struct goelf *ge, struct probe_site *s, enum site_how how)
{
	struct go_func f;
	int err;

	err = goelf__find_func(ge, s->func, &f);
	if (err) {
		s->status = PROBE_ABSENT;
		return err;
	}
	s->func_addr = f.entry;
	err = how == SITE_RUNQPUT_CALL ? find_runqput_site(ge, &f, s) : find_prologue_site(ge, &f, s);
	if (!err)
		err = goelf__vaddr_to_offset(ge, s->addr, &s->file_offset);
	if (err) {
		s->status = PROBE_NO_SITE;
		s->cookie = 0;
		return err;
	}
	s->status = PROBE_OK;
	return 0;
}

static int missing(const struct probe_site *s)
{
	ct_errmsg_set("not a supported Go binary: no probe site for %s (%s%s%s)", s->role, s->func,
		      s->note[0] ? ": " : "", s->note);
	return -ENOENT;
}

/* A pair of RIP-relative loads of X and X+8 (a slice's pointer and length):
 * runtime.forEachG reads allgs this way in every Go version 1.19-1.26. */
uint64_t probe_plan__allgs_from_code(const struct goelf *ge)
{
	static const char *const funcs[] = { "runtime.forEachG", "runtime.forEachGRace", "runtime.checkdead" };
	uint64_t loads[64];
	size_t nl, k, a, b, fi;

	for (fi = 0; fi < sizeof(funcs) / sizeof(funcs[0]); fi++) {
		struct go_func f;
		struct disasm d;

		if (goelf__find_func(ge, funcs[fi], &f) || disasm_func(ge, &f, 4096, &d))
			continue;
		for (k = 0, nl = 0; k < d.n && nl < 64; k++) {
			const cs_insn *i = &d.insn[k];
			const cs_x86 *x = &i->detail->x86;

			if (i->id != X86_INS_MOV || x->op_count != 2 || x->operands[0].type != X86_OP_MEM ||
			    x->operands[0].mem.base != X86_REG_RIP || x->operands[1].type != X86_OP_REG)
				continue;
			/* AT&T order: source first. */
			loads[nl++] = i->address + i->size + x->operands[0].mem.disp;
		}
		disasm_free(&d);
		for (a = 0; a < nl; a++)
			for (b = 0; b < nl; b++)
				if (loads[b] == loads[a] + 8)
					return loads[a];
	}
	return 0;
}

static const char *func_if_present(const struct goelf *ge, const char *name, uint64_t *entry)
{
	struct go_func f;

	if (goelf__find_func(ge, name, &f))
		return NULL;
	*entry = f.entry;
	return name;
}

int probe_plan__build(const struct goelf *ge, struct probe_plan *plan)
{
	const struct go_buildinfo *bi = goelf__buildinfo(ge);
	int minor = bi ? bi->minor : 0;
	struct probe_site *s;
	uint64_t entry, size;
	size_t r;
	int err;

	memset(plan, 0, sizeof(*plan));
	/* Done() calls made while deriving a child: parentCancelCtx (all versions) and
	 * propagateCancel (a method of *cancelCtx from Go 1.21, a function before). */
	{
		static const char *const internal[] = { "context.parentCancelCtx",
							"context.(*cancelCtx).propagateCancel",
							"context.propagateCancel" };
		struct go_func f;

		for (size_t i = 0; i < sizeof(internal) / sizeof(internal[0]); i++) {
			if (plan->n_done_skip < CT_DONE_SKIP_MAX && !goelf__find_func(ge, internal[i], &f)) {
				plan->done_skip_lo[plan->n_done_skip] = f.entry;
				plan->done_skip_hi[plan->n_done_skip++] = f.end;
			}
		}
	}
	/* Go 1.21 moved propagateCancel onto *cancelCtx (and added the receiver in RAX). */
	if (func_if_present(ge, "context.(*cancelCtx).propagateCancel", &entry))
		s = add_row(plan, "ctx_create", "context.(*cancelCtx).propagateCancel", CT_PROBE_PROPAGATE_CANCEL);
	else
		s = add_row(plan, "ctx_create", "context.propagateCancel", CT_PROBE_PROPAGATE_CANCEL_OLD);
	if (probe_row(ge, s, SITE_PROLOGUE)) {
		if (s->status == PROBE_ABSENT)
			snprintf(s->note, sizeof(s->note), "neither context.propagateCancel nor "
				 "context.(*cancelCtx).propagateCancel is linked");
		return missing(s);
	}

	for (r = 0; r < sizeof(roles) / sizeof(roles[0]); r++) {
		const struct role *ro = &roles[r];

		if (ro->how == SITE_INFO) {
			s = add_row(plan, ro->role, ro->func, CT_PROBE_NONE);
			if (!s)
				break;
			if (func_if_present(ge, ro->func, &entry)) {
				s->status = PROBE_COVERED;
				s->func_addr = entry;
				snprintf(s->note, sizeof(s->note), "%s", ro->covered);
			} else {
				s->status = PROBE_ABSENT;
				if (minor && ro->since_minor && minor < ro->since_minor)
					snprintf(s->note, sizeof(s->note), "not in Go 1.%d (added in 1.%d)",
						 minor, ro->since_minor);
				else
					snprintf(s->note, sizeof(s->note), "%s", ro->absent);
			}
			continue;
		}
		s = add_row(plan, ro->role, ro->func, ro->kind);
		if (!s)
			break;
		s->all_only = ro->all_only;
		err = probe_row(ge, s, ro->how);
		if (err && ro->required)
			return missing(s);
		if (err && s->status == PROBE_ABSENT && ro->absent)
			snprintf(s->note, sizeof(s->note), "%s", ro->absent);
		if (err && s->status == PROBE_NO_SITE && ro->kind == CT_PROBE_CANCELCTX_DONE)
			snprintf(s->note + strlen(s->note), sizeof(s->note) - strlen(s->note),
				 "; Done() calls are not reported");
	}

	if (goelf__find_data(ge, "runtime.allgs", &entry, &size) == 0) {
		plan->allgs_addr = entry;
		plan->allgs_source = "symtab";
	} else if ((plan->allgs_addr = probe_plan__allgs_from_code(ge))) {
		plan->allgs_source = "disassembly";
	}
	return 0;
}

/* Context methods whose first load from their receiver (RAX under ABIInternal,
 * at a non-zero displacement) is one field ctxtrace reads: Done loads c.done,
 * Err c.err (an atomic.Value since Go 1.23), Deadline c.deadline, Value c.key. */
static const struct {
	const char *func;
	enum go_off field;
} receiver_loads[] = {
	{ "context.(*cancelCtx).Done", GO_OFF_CANCELCTX_DONE },
	{ "context.(*cancelCtx).Err", GO_OFF_CANCELCTX_ERR },
	{ "context.(*timerCtx).Deadline", GO_OFF_TIMERCTX_DEADLINE },
	{ "context.(*valueCtx).Value", GO_OFF_VALUECTX_KEY },
};

/* The displacement of the first load from RAX before RAX is overwritten; -1 none. */
static int64_t first_receiver_load(const struct disasm *d)
{
	for (size_t k = 0; k < d->n && k < 64; k++) {
		const cs_insn *i = &d->insn[k];
		const cs_x86 *x = &i->detail->x86;
		const cs_detail *det = i->detail;

		for (int o = 0; o < x->op_count; o++) {
			const cs_x86_op *op = &x->operands[o];

			if (op->type == X86_OP_MEM && op->mem.base == X86_REG_RAX &&
			    op->mem.index == X86_REG_INVALID && op->mem.disp > 0)
				return op->mem.disp;
		}
		for (int r = 0; r < det->regs_write_count; r++)
			if (det->regs_write[r] == X86_REG_RAX || det->regs_write[r] == X86_REG_EAX)
				return -1;
		for (int o = 0; o < x->op_count; o++)
			if (x->operands[o].type == X86_OP_REG && (x->operands[o].access & CS_AC_WRITE) &&
			    (x->operands[o].reg == X86_REG_RAX || x->operands[o].reg == X86_REG_EAX))
				return -1;
		if (i->id == X86_INS_CALL || i->id == X86_INS_RET || i->id == X86_INS_JMP)
			return -1;
	}
	return -1;
}

int probe_plan__check_offsets(const struct goelf *ge, const struct go_offsets *off)
{
	int checked = 0;

	for (size_t r = 0; r < sizeof(receiver_loads) / sizeof(receiver_loads[0]); r++) {
		int64_t want = off->v[receiver_loads[r].field], got;
		struct go_func f;
		struct disasm d;

		if (want < 0 || goelf__find_func(ge, receiver_loads[r].func, &f) ||
		    disasm_func(ge, &f, 1024, &d))
			continue; /* not linked: nothing to check it against */
		got = first_receiver_load(&d);
		disasm_free(&d);
		if (got != want) {
			if (got < 0)
				ct_errmsg_set("%s does not load a field of its receiver where expected (%s at +%lld)",
					      receiver_loads[r].func, go_off_name(receiver_loads[r].field),
					      (long long)want);
			else
				ct_errmsg_set("%s reads its receiver at +%lld, not %s at +%lld",
					      receiver_loads[r].func, (long long)got,
					      go_off_name(receiver_loads[r].field), (long long)want);
			return -EPROTO;
		}
		checked++;
	}
	if (!checked) {
		ct_errmsg_set("no context method to check the context layout against");
		return -EPROTO;
	}
	return 0;
}
