/*
 * A minimal HTTP/1.1 responder that proves the process model: it answers
 * each request with the server's `return` (with $pid expanded) and keeps
 * connections alive. The HTTP core replaces it.
 */
#ifndef PT_HTTP_DEMO_H
#define PT_HTTP_DEMO_H

#include "common/pt_types.h"

/* Listener handler for http listen sockets. */
void pt_http_demo_init_connection(pt_connection_t *c);

/* Graceful stop: idle keep-alive connections get a short grace period to
 * send one more request (answered with Connection: close). */
void pt_http_demo_shutdown(void);

/* Close every connection now (worker_shutdown_timeout). */
void pt_http_demo_close_all(void);

#endif /* PT_HTTP_DEMO_H */
