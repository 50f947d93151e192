#include <inttypes.h>
#include <math.h>

#include "daemon/metrics.h"

void prom__family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s ", name);
	/* HELP text escapes only backslash and newline. */
	for (const char *p = help; *p; p++) {
		if (*p == '\\')
			fputs("\\\\", f);
		else if (*p == '\n')
			fputs("\\n", f);
		else
			fputc(*p, f);
	}
	fprintf(f, "\n# TYPE %s %s\n", name, type);
}

static void labels_out(FILE *f, const struct prom_label *labels, int n)
{
	if (!n)
		return;
	fputc('{', f);
	for (int i = 0; i < n; i++) {
		fprintf(f, "%s%s=\"", i ? "," : "", labels[i].name);
		for (const unsigned char *p = (const unsigned char *)(labels[i].value ? labels[i].value : "");
		     *p; p++) {
			if (*p == '\\')
				fputs("\\\\", f);
			else if (*p == '"')
				fputs("\\\"", f);
			else if (*p == '\n')
				fputs("\\n", f);
			else if (*p < 0x20 || *p == 0x7f)
				fputc('?', f);
			else
				fputc(*p, f);
		}
		fputc('"', f);
	}
	fputc('}', f);
}

void prom__sample(FILE *f, const char *name, const struct prom_label *labels, int nlabels, uint64_t v)
{
	fputs(name, f);
	labels_out(f, labels, nlabels);
	fprintf(f, " %" PRIu64 "\n", v);
}

void prom__sample_double(FILE *f, const char *name, const struct prom_label *labels, int nlabels, double v)
{
	fputs(name, f);
	labels_out(f, labels, nlabels);
	if (isnan(v))
		fputs(" NaN\n", f);
	else if (isinf(v))
		fputs(v > 0 ? " +Inf\n" : " -Inf\n", f);
	else
		fprintf(f, " %.17g\n", v);
}
