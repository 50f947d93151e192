/* One set of logging macros; verbosity chosen once by the command line. */
#ifndef CT_LOG_H
#define CT_LOG_H

#include <stdbool.h>

enum ct_verbosity { CT_LOG_QUIET = 0, CT_LOG_ERROR, CT_LOG_INFO, CT_LOG_VERBOSE, CT_LOG_DEBUG };

extern int ct_verbosity;
extern bool ct_log_json; /* errors as {"type":"error",...} lines on stderr */
extern const char *ct_log_name; /* errors' prefix: "ctxtrace", "ctxtraced" */

void ct_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define error(...) ct_log(CT_LOG_ERROR, __VA_ARGS__)
#define info(...) ct_log(CT_LOG_INFO, __VA_ARGS__)
#define verbose(...) ct_log(CT_LOG_VERBOSE, __VA_ARGS__)
#define debug(...) ct_log(CT_LOG_DEBUG, __VA_ARGS__)

/* Last error's one-line reason, set by constructors that return NULL / -errno
 * (as dlerror). Thread-local. */
void ct_errmsg_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *ct_errmsg(void);

#endif
