/* ctxtrace inspect: what ctxtrace sees in a Go binary, and what it would probe. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "binary/goelf.h"
#include "binary/offsets.h"
#include "cli/commands.h"
#include "probes/probe_plan.h"
#include "util/json.h"
#include "util/log.h"
#include "util/options.h"
#include "util/proc.h"

#define MIN_GO_MINOR 19

static const char usage[] =
	"usage: ctxtrace inspect [--json] BINARY\n"
	"       ctxtrace inspect [--json] -p PID\n"
	"       ctxtrace inspect [--json] --addr2line ADDR... BINARY\n"
	"Reports the Go version, build settings, layout, the probe sites and the\n"
	"struct offsets ctxtrace uses for a Go executable.\n";

struct inspect_opts {
	struct cli_opts cli;
	const char *binary;
	char **addrs;
	int naddrs;
};

static const char *off_src_name(enum go_off_source s)
{
	switch (s) {
	case GO_OFF_DWARF: return "dwarf";
	case GO_OFF_TABLE: return "table";
	default: return "absent";
	}
}

static void print_json(const char *shown, struct goelf *ge, const struct probe_plan *plan,
		       const struct go_offsets *offs)
{
	const struct go_buildinfo *bi = goelf__buildinfo(ge);
	struct json_w *w = json_w__new(stdout, true);

	json_w__obj_open(w);
	json_w__kv_str(w, "binary", shown);
	json_w__kv_uint(w, "size", goelf__size(ge));
	json_w__kv_str(w, "go_version", bi->version);
	json_w__kv_str(w, "path", bi->path);
	json_w__kv_str(w, "main_module", bi->main_module);
	json_w__key(w, "build");
	json_w__obj_open(w);
	json_w__kv_bool(w, "cgo", bi->cgo);
	json_w__kv_str(w, "buildmode", bi->buildmode);
	json_w__kv_str(w, "goexperiment", bi->goexperiment);
	json_w__kv_str(w, "ldflags", bi->ldflags);
	json_w__kv_str(w, "buildinfo_layout", bi->inline_layout ? "inline" : "pointer");
	json_w__obj_close(w);
	json_w__kv_bool(w, "stripped", goelf__stripped(ge));
	json_w__kv_bool(w, "pie", goelf__pie(ge));
	json_w__kv_bool(w, "cgo", goelf__cgo(ge));
	json_w__kv_bool(w, "dwarf", goelf__has_dwarf(ge));
	json_w__kv_str(w, "symbols", goelf__symbol_source(ge));
	json_w__kv_hex(w, "text_start", goelf__text_start(ge));
	json_w__kv_hex(w, "text_section", goelf__text_section(ge));
	json_w__kv_hex(w, "pclntab", goelf__pclntab_addr(ge));
	json_w__kv_str(w, "load_address",
		       goelf__pie(ge) ? "relocated: runtime address = link address + load bias of the mapping"
				      : "fixed: runtime address = link address");
	json_w__kv_uint(w, "functions", goelf__func_count(ge));

	json_w__key(w, "probes");
	json_w__arr_open(w);
	for (int i = 0; plan && i < plan->n; i++) {
		const struct probe_site *s = &plan->sites[i];

		json_w__obj_open(w);
		json_w__kv_str(w, "role", s->role);
		json_w__kv_str(w, "func", s->func);
		json_w__kv_str(w, "status", probe_status_name(s->status));
		if (s->func_addr) {
			json_w__kv_hex(w, "address", s->func_addr);
		} else {
			json_w__key(w, "address");
			json_w__null(w);
		}
		if (s->status == PROBE_OK) {
			json_w__kv_hex(w, "probe_address", s->addr);
			json_w__kv_hex(w, "file_offset", s->file_offset);
			json_w__kv_uint(w, "probe_offset", s->insn_offset);
			json_w__kv_str(w, "instruction", s->insn);
			/* the --probes modes that attach it */
			json_w__key(w, "modes");
			json_w__arr_open(w);
			if (probe_site__used(s, PROBES_DEFAULT))
				json_w__str(w, probe_mode_name(PROBES_DEFAULT));
			json_w__str(w, probe_mode_name(PROBES_ALL));
			json_w__arr_close(w);
		}
		if (s->note[0])
			json_w__kv_str(w, "note", s->note);
		json_w__obj_close(w);
	}
	json_w__arr_close(w);
	json_w__key(w, "allgs");
	if (plan && plan->allgs_addr) {
		json_w__obj_open(w);
		json_w__kv_hex(w, "address", plan->allgs_addr);
		json_w__kv_str(w, "source", plan->allgs_source);
		json_w__obj_close(w);
	} else {
		json_w__null(w);
	}

	json_w__key(w, "offsets");
	json_w__obj_open(w);
	for (int f = 0; f < GO_OFF_COUNT; f++) {
		json_w__key(w, go_off_name(f));
		if (offs->v[f] < 0)
			json_w__null(w);
		else
			json_w__int(w, offs->v[f]);
	}
	json_w__obj_close(w);
	json_w__key(w, "offset_sources");
	json_w__obj_open(w);
	for (int f = 0; f < GO_OFF_COUNT; f++)
		json_w__kv_str(w, go_off_name(f), off_src_name(offs->src[f]));
	json_w__obj_close(w);
	json_w__obj_close(w);
	fputc('\n', stdout);
	json_w__free(w);
}

static void print_text(const char *shown, struct goelf *ge, const struct probe_plan *plan,
		       const struct go_offsets *offs)
{
	const struct go_buildinfo *bi = goelf__buildinfo(ge);

	printf("binary       %s (%.1f MB)\n", shown, goelf__size(ge) / 1e6);
	printf("go version   %s\n", bi->version);
	printf("main         %s%s%s\n", bi->path, bi->main_module[0] ? " in module " : "", bi->main_module);
	printf("build        cgo=%s buildmode=%s%s%s\n", bi->cgo ? "1" : "0", bi->buildmode,
	       bi->goexperiment[0] ? " GOEXPERIMENT=" : "", bi->goexperiment);
	printf("layout       %s, %s, symbols from %s, DWARF %s\n", goelf__pie(ge) ? "PIE" : "fixed-address",
	       goelf__stripped(ge) ? "stripped" : "not stripped", goelf__symbol_source(ge),
	       goelf__has_dwarf(ge) ? "yes" : "no");
	printf("text         runtime.text 0x%" PRIx64 ", .text 0x%" PRIx64 "%s\n", goelf__text_start(ge),
	       goelf__text_section(ge),
	       goelf__pie(ge) ? " (link addresses: add the load bias at run time)" : "");
	printf("functions    %zu\n", goelf__func_count(ge));
	if (plan) {
		printf("\nprobes\n");
		printf("  %-16s %-44s %-10s %s\n", "ROLE", "FUNCTION", "ADDRESS", "PROBE");
		for (int i = 0; i < plan->n; i++) {
			const struct probe_site *s = &plan->sites[i];
			char addr[32] = "-", probe[256];

			if (s->func_addr)
				snprintf(addr, sizeof(addr), "0x%" PRIx64, s->func_addr);
			if (s->status == PROBE_OK)
				snprintf(probe, sizeof(probe), "+0x%x %s (file offset 0x%" PRIx64 ")%s", s->insn_offset,
					 s->insn, s->file_offset,
					 probe_site__used(s, PROBES_DEFAULT) ? "" : " --probes=all only");
			else if (s->status == PROBE_COVERED && s->note[0])
				snprintf(probe, sizeof(probe), "%s", s->note); /* says what covers it */
			else
				snprintf(probe, sizeof(probe), "%s%s%s", probe_status_name(s->status),
					 s->note[0] ? ": " : "", s->note);
			printf("  %-16s %-44s %-10s %s\n", s->role, s->func, addr, probe);
		}
		if (plan->allgs_addr)
			printf("  %-16s %-44s 0x%-8" PRIx64 " (from %s)\n", "goroutines", "runtime.allgs",
			       plan->allgs_addr, plan->allgs_source);
	}
	printf("\noffsets (bytes; source)\n");
	for (int f = 0; f < GO_OFF_COUNT; f++) {
		if (offs->v[f] < 0)
			printf("  %-26s -    (absent in this Go version)\n", go_off_name(f));
		else
			printf("  %-26s %-4" PRId64 " %s\n", go_off_name(f), offs->v[f], off_src_name(offs->src[f]));
	}
}

static int addr2line(const struct inspect_opts *o, struct goelf *ge)
{
	struct json_w *w = NULL;
	int rc = 0;

	if (o->cli.json) {
		w = json_w__new(stdout, false);
		json_w__arr_open(w);
	}
	for (int i = 0; i < o->naddrs; i++) {
		struct go_frame frames[32];
		char *end;
		uint64_t pc;
		int n;

		errno = 0;
		pc = strtoull(o->addrs[i], &end, 0);
		if (!o->addrs[i][0] || *end || o->addrs[i][0] == '-') {
			error("invalid address '%s' (a number, e.g. 0x4a1b20)", o->addrs[i]);
			json_w__free(w);
			return EXIT_USAGE;
		}
		if (errno == ERANGE) {
			error("invalid address '%s': more than 64 bits", o->addrs[i]);
			json_w__free(w);
			return EXIT_USAGE;
		}
		n = goelf__symbolize(ge, pc, frames, 32);
		if (w) {
			json_w__obj_open(w);
			json_w__kv_hex(w, "addr", pc);
			json_w__key(w, "frames");
			json_w__arr_open(w);
			for (int k = 0; k < n; k++) {
				json_w__obj_open(w);
				json_w__kv_str(w, "func", frames[k].func);
				json_w__kv_str(w, "file", frames[k].file);
				json_w__kv_int(w, "line", frames[k].line);
				json_w__kv_bool(w, "inlined", frames[k].inlined);
				json_w__obj_close(w);
			}
			json_w__arr_close(w);
			json_w__obj_close(w);
			continue;
		}
		if (n <= 0) {
			/* addr2line's form on stdout, the reason once on stderr */
			printf("0x%" PRIx64 " ?? ??:0\n", pc);
			error("0x%" PRIx64 " is in no Go function of %s (text 0x%" PRIx64 "..)", pc, o->binary,
			      goelf__text_start(ge));
			rc = EXIT_CANNOT;
			continue;
		}
		for (int k = 0; k < n; k++)
			printf("0x%" PRIx64 " %s %s:%d%s\n", pc, frames[k].func ? frames[k].func : "??",
			       frames[k].file ? frames[k].file : "??", frames[k].line,
			       frames[k].inlined ? " (inlined)" : "");
	}
	if (w) {
		json_w__arr_close(w);
		fputc('\n', stdout);
		json_w__free(w);
	}
	return rc;
}

static int parse_args(int argc, char **argv, struct inspect_opts *o)
{
	int npos, r = options__parse_cmd(OPT_INSPECT, argc, argv, &o->cli, NULL, &npos, usage);

	if (r)
		return r;
	if (o->cli.addr2line) {
		if (npos < 2) {
			error("--addr2line needs one or more addresses and a binary");
			return -EINVAL;
		}
		o->addrs = &argv[1];
		o->naddrs = npos - 1;
		o->binary = argv[npos];
	} else if (o->cli.pid) {
		if (npos) {
			error("give either -p PID or a BINARY, not both");
			return -EINVAL;
		}
	} else {
		if (npos != 1) {
			error(!npos ? "missing BINARY (or -p PID)" : "too many arguments");
			return -EINVAL;
		}
		o->binary = argv[1];
	}
	return 0;
}

int cmd_inspect(int argc, char **argv)
{
	struct inspect_opts o = {};
	struct probe_plan plan = {};
	struct go_offsets offs = {};
	char path[64], exe[4096], shown[4200];
	const struct go_buildinfo *bi;
	struct goelf *ge = NULL;
	const char *open_path;
	int err, rc = EXIT_CANNOT;

	err = parse_args(argc, argv, &o);
	if (err) {
		options__free(&o.cli);
		return err > 0 ? 0 : EXIT_USAGE;
	}
	if (o.cli.json)
		ct_log_json = true;

	if (o.cli.pid) {
		if (proc_exe((int)o.cli.pid, path, sizeof(path), exe, sizeof(exe))) {
			error("cannot inspect pid %d: %s", (int)o.cli.pid, ct_errmsg());
			return EXIT_CANNOT;
		}
		open_path = path;
		snprintf(shown, sizeof(shown), "%s (pid %d)", exe, (int)o.cli.pid);
	} else {
		open_path = o.binary;
		snprintf(shown, sizeof(shown), "%s", o.binary);
	}

	ge = goelf__open(open_path);
	if (!ge) {
		if (errno == EACCES || errno == EPERM)
			error("cannot inspect %s: permission denied%s", shown,
			      o.cli.pid ? " (another user's executable needs CAP_DAC_READ_SEARCH)" : "");
		else
			error("cannot inspect %s: %s", shown, ct_errmsg());
		return EXIT_CANNOT;
	}
	if (o.naddrs) {
		rc = addr2line(&o, ge);
		goto cleanup;
	}
	bi = goelf__buildinfo(ge);
	if (bi->major != 1 || bi->minor < MIN_GO_MINOR) {
		error("cannot inspect %s: %s is not supported (Go 1.%d or newer)", shown, bi->version,
		      MIN_GO_MINOR);
		goto cleanup;
	}
	err = offsets__resolve(ge, &offs);
	if (err) {
		error("cannot inspect %s: %s", shown, ct_errmsg());
		goto cleanup;
	}
	err = probe_plan__build(ge, &plan);
	if (err) {
		error("cannot inspect %s: %s", shown, ct_errmsg());
		goto cleanup;
	}
	if (offs.assumed_minor) {
		char newer[160];

		offsets__newer_msg(ge, &offs, newer, sizeof(newer));
		if (probe_plan__check_offsets(ge, &offs)) {
			error("cannot inspect %s: %s and Go 1.%d's layout does not fit it: %s", shown, newer,
			      offs.assumed_minor, ct_errmsg());
			goto cleanup;
		}
		info("warning: %s: Go 1.%d's layout fits its context code (the goroutine list is "
		     "checked when attaching)", newer, offs.assumed_minor);
	}
	if (o.cli.json)
		print_json(shown, ge, &plan, &offs);
	else
		print_text(shown, ge, &plan, &offs);
	rc = 0;
cleanup:
	goelf__free(ge);
	return rc;
}
