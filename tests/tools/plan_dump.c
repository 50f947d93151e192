/* Prints the probe plan of a Go executable as tab-separated lines, for
 * tests/e2e/probe_plan.sh:
 *	go	<version>
 *	site	<role>	<func>	<kind>	<status>	<func_addr>	<addr>	<file_offset>	<insn_offset>	<insn>	<note>
 *	allgs	<addr>	<source>
 *	allgs_code	<addr>	(runtime.allgs found by disassembly, even when .symtab has it)
 * Exit 1 with the error on stderr when the plan cannot be built. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "binary/goelf.h"
#include "probes/probe_plan.h"
#include "util/log.h"

int main(int argc, char **argv)
{
	struct probe_plan plan;
	struct goelf *ge;
	int i, err;

	if (argc != 2) {
		fprintf(stderr, "usage: plan_dump GO-EXECUTABLE\n");
		return 2;
	}
	ge = goelf__open(argv[1]);
	if (!ge) {
		fprintf(stderr, "plan_dump: %s\n", ct_errmsg());
		return 1;
	}
	printf("go\t%s\n", goelf__buildinfo(ge)->version);
	err = probe_plan__build(ge, &plan);
	if (err) {
		fprintf(stderr, "plan_dump: %s\n", ct_errmsg());
		goelf__free(ge);
		return 1;
	}
	for (i = 0; i < plan.n; i++) {
		const struct probe_site *s = &plan.sites[i];

		printf("site\t%s\t%s\t%d\t%s\t0x%" PRIx64 "\t0x%" PRIx64 "\t0x%" PRIx64 "\t%u\t%s\t%s\n",
		       s->role, s->func, s->kind, probe_status_name(s->status), s->func_addr, s->addr,
		       s->file_offset, s->insn_offset, s->insn[0] ? s->insn : "-", s->note[0] ? s->note : "-");
	}
	printf("allgs\t0x%" PRIx64 "\t%s\n", plan.allgs_addr, plan.allgs_source ? plan.allgs_source : "-");
	printf("allgs_code\t0x%" PRIx64 "\n", probe_plan__allgs_from_code(ge));
	goelf__free(ge);
	return 0;
}
