/* Test tool over src/binary/goelf.h: prints what the reader finds, one fact per
 * line, for the end-to-end tests to compare with the Go toolchain's own tools.
 *   goelf_dump [--no-symtab] info BIN
 *   goelf_dump [--no-symtab] funcs BIN
 *   goelf_dump [--no-symtab] find BIN < names      ("name 0xaddr" or "name -")
 *   goelf_dump [--no-symtab] sym BIN < pcs         ("0xpc<TAB>func@file:line[|inl]<TAB>...")
 *   goelf_dump [--no-symtab] time BIN N            (mean open+index time in ms)
 *   goelf_dump data BIN NAME */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "binary/goelf.h"
#include "util/log.h"

static int usage(void)
{
	fprintf(stderr, "usage: goelf_dump [--no-symtab] info|funcs|find|sym|time|data BIN [ARG]\n");
	return 2;
}

static void print_info(const struct goelf *ge)
{
	const struct go_buildinfo *bi = goelf__buildinfo(ge);

	printf("version=%s\nmajor=%d\nminor=%d\npatch=%d\n", bi->version, bi->major, bi->minor,
	       bi->patch);
	printf("path=%s\nmod=%s\nmod_version=%s\nbuild_cgo=%d\nbuildmode=%s\n", bi->path,
	       bi->main_module, bi->main_version, bi->cgo, bi->buildmode);
	printf("goexperiment=%s\nldflags=%s\ninline_layout=%d\n", bi->goexperiment, bi->ldflags,
	       bi->inline_layout);
	printf("pie=%d\ncgo=%d\nsymtab=%d\ndwarf=%d\nstripped=%d\n", goelf__pie(ge),
	       goelf__cgo(ge), goelf__has_symtab(ge), goelf__has_dwarf(ge), goelf__stripped(ge));
	printf("text_start=0x%" PRIx64 "\ntext_source=%s\ntext_section=0x%" PRIx64 "\n",
	       goelf__text_start(ge), goelf__text_source(ge), goelf__text_section(ge));
	printf("pclntab=0x%" PRIx64 "\nmoduledata=0x%" PRIx64 "\ngofunc=0x%" PRIx64 "\n",
	       goelf__pclntab_addr(ge), goelf__moduledata(ge), goelf__gofunc(ge));
	printf("symbol_source=%s\nnfunc=%zu\nsize=%zu\nfunc_error=%s\n", goelf__symbol_source(ge),
	       goelf__func_count(ge), goelf__size(ge),
	       goelf__func_error(ge) ? goelf__func_error(ge) : "");
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	struct goelf_opts opts = { 0 };
	struct goelf *ge;
	const char *cmd, *bin;
	char line[4096];
	int rc = 0;

	if (argc > 1 && !strcmp(argv[1], "--no-symtab")) {
		opts.no_symtab = true;
		argv++;
		argc--;
	}
	if (argc < 3)
		return usage();
	cmd = argv[1];
	bin = argv[2];
	if (!strcmp(cmd, "time")) {
		int i, n = argc > 3 ? atoi(argv[3]) : 10;
		double t0 = now_ms(), t1;

		for (i = 0; i < n; i++) {
			ge = goelf__open_opts(bin, &opts);
			if (!ge) {
				printf("error: %s\n", ct_errmsg());
				return 1;
			}
			goelf__free(ge);
		}
		t1 = now_ms();
		printf("%.2f\n", (t1 - t0) / (n > 0 ? n : 1));
		return 0;
	}
	ge = goelf__open_opts(bin, &opts);
	if (!ge) {
		printf("error: %s\n", ct_errmsg());
		return 1;
	}
	if (!strcmp(cmd, "info")) {
		print_info(ge);
	} else if (!strcmp(cmd, "funcs")) {
		size_t i, n = goelf__func_count(ge);
		struct go_func f;

		for (i = 0; i < n; i++)
			if (!goelf__func(ge, i, &f))
				printf("0x%" PRIx64 " 0x%" PRIx64 " %d %s\n", f.entry, f.end, f.abi0,
				       f.name);
	} else if (!strcmp(cmd, "find")) {
		struct go_func f;

		while (fgets(line, sizeof(line), stdin)) {
			line[strcspn(line, "\n")] = '\0';
			if (!goelf__find_func(ge, line, &f))
				printf("%s 0x%" PRIx64 "\n", line, f.entry);
			else
				printf("%s -\n", line);
		}
	} else if (!strcmp(cmd, "sym")) {
		struct go_frame fr[64];

		while (fgets(line, sizeof(line), stdin)) {
			uint64_t pc = strtoull(line, NULL, 16);
			int i, n = goelf__symbolize(ge, pc, fr, 64);

			printf("0x%" PRIx64, pc);
			if (n < 0)
				printf("\t-");
			for (i = 0; i < n; i++)
				printf("\t%s@%s:%d%s", fr[i].func, fr[i].file, fr[i].line,
				       fr[i].inlined ? "|inl" : "");
			printf("\n");
		}
	} else if (!strcmp(cmd, "data")) {
		uint64_t addr, size;

		if (argc < 4 || goelf__find_data(ge, argv[3], &addr, &size)) {
			printf("-\n");
			rc = 1;
		} else {
			printf("0x%" PRIx64 " %" PRIu64 "\n", addr, size);
		}
	} else {
		rc = usage();
	}
	goelf__free(ge);
	return rc;
}
