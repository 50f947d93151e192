#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>

#include "probes/bpf_log.h"
#include "util/log.h"

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char buf[1024];
	size_t n;
	int lvl = level == LIBBPF_DEBUG ? CT_LOG_DEBUG : CT_LOG_VERBOSE;

	if (lvl > ct_verbosity)
		return 0;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	while (n && buf[n - 1] == '\n')
		buf[--n] = 0;
	ct_log(lvl, "libbpf: %s", buf);
	return 0;
}

void bpf_log__install(void)
{
	libbpf_set_print(libbpf_log);
}
