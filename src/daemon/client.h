/* Talking to a running ctxtraced over its socket (daemon/server.h): used by
 * `ctxtrace status`, `ctxtrace alerts` and `ctxtrace graph --daemon`. */
#ifndef CT_DAEMON_CLIENT_H
#define CT_DAEMON_CLIENT_H

#include <stdio.h>

#define DAEMON_SOCKET_DEFAULT "/run/ctxtrace/ctxtraced.sock"

/* $CTXTRACE_SOCKET, else DAEMON_SOCKET_DEFAULT. */
const char *daemon_client__socket(void);

/* Sends one request ("status", "alerts follow text", "graph 4242") and copies
 * the reply to out, line by line (flushed), until the daemon closes. 0, or
 * -errno with ct_errmsg(): the daemon cannot be reached, or it answered with an
 * error (-EPROTO; ct_errmsg() is its message). */
int daemon_client__request(const char *socket_path, const char *request, FILE *out);

#endif
