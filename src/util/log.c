#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "json.h"

int ct_verbosity = CT_LOG_INFO;
bool ct_log_json;
const char *ct_log_name = "ctxtrace";

static __thread char errmsg[512];

void ct_log(int level, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	if (level > ct_verbosity)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (ct_log_json && level == CT_LOG_ERROR) {
		struct json_w *w = json_w__new(stderr, false);

		json_w__obj_open(w);
		json_w__kv_str(w, "type", "error");
		json_w__kv_str(w, "message", buf);
		json_w__obj_close(w);
		json_w__free(w);
		fputc('\n', stderr);
		return;
	}
	if (level == CT_LOG_ERROR)
		fprintf(stderr, "%s: %s\n", ct_log_name, buf);
	else
		fprintf(stderr, "%s\n", buf);
}

void ct_errmsg_set(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errmsg, sizeof(errmsg), fmt, ap);
	va_end(ap);
}

const char *ct_errmsg(void)
{
	return errmsg[0] ? errmsg : "unknown error";
}
