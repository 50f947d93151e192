/* The real pipeline behind each daemon target: session/session.h. Kept apart
 * from targets.c so the selection logic links and tests without it. */
#ifndef CT_DAEMON_SESSION_BACKEND_H
#define CT_DAEMON_SESSION_BACKEND_H

struct target_backend;

extern const struct target_backend session_backend;

#endif
