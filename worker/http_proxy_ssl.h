/*
 * TLS to upstreams (proxy_pass https://...): the hooks the proxy calls
 * (http_proxy.c at config time, http_upstream*.c per try) and the I/O
 * wrappers that give a TLS upstream connection the syscalls' semantics.
 */
#ifndef PT_HTTP_PROXY_SSL_H
#define PT_HTTP_PROXY_SSL_H

#include <sys/types.h>
#include <sys/uio.h>

#include "common/conf.h"
#include "common/pt_types.h"
#include "event.h"
#include "http_proxy.h"

extern pt_module_t pt_http_proxy_ssl_module;

/* Config time, from proxy_pass: the location proxies over TLS (`https`
 * 1), not (0), or as the URL of a proxy_pass with variables says
 * (PT_PROXY_SSL_MAYBE); the SSL context is built when the location is
 * merged (for 1 and MAYBE, as nginx). PT_OK or PT_ERROR. */
#define PT_PROXY_SSL_MAYBE  2
int pt_proxy_ssl_pass(pt_conf_t *cf, int https);

/* Per request: has the location a TLS context (https:// may be used)? */
int pt_proxy_ssl_enabled(pt_http_request_t *r);

/*
 * Between the TCP connect and the request: create the TLS state of the
 * upstream connection and run its handshake, then check the certificate
 * (proxy_ssl_verify). PT_OK (TLS ready, or no TLS wanted), PT_AGAIN (the
 * connection's events come back to the caller's handler), PT_ERROR
 * (failed, logged: counts as `error` for proxy_next_upstream).
 */
int pt_proxy_ssl_connect(pt_proxy_ctx_t *ctx);

/* Active health checks (http_upstream_health.c): a probe of a location
 * that proxies to https:// runs the handshake (SNI and checks as
 * configured; `host` is the group's name) before its request, called by
 * the probe's write handler. PT_OK (TLS ready or not wanted: c->recv and
 * c->send are the TLS ones), PT_AGAIN (both events come back to the write
 * handler; `read_handler` is put back once done), PT_ERROR (logged). */
int pt_proxy_ssl_probe(pt_connection_t *c, void **loc_conf,
                       const pt_str_t *host, pt_event_handler_pt read_handler,
                       pt_log_t *log);

/* recv(2), send(2), writev(2) and sendfile(2) on an upstream connection,
 * plain or TLS: bytes, 0 at EOF, or -1 with errno (EAGAIN; EIO after a
 * TLS error, already logged). */
ssize_t pt_proxy_io_recv(pt_connection_t *c, u_char *buf, size_t size);
ssize_t pt_proxy_io_send(pt_connection_t *c, const u_char *buf, size_t size);
ssize_t pt_proxy_io_writev(pt_connection_t *c, const struct iovec *iov,
                           int iovcnt);
ssize_t pt_proxy_io_sendfile(pt_connection_t *c, int fd, off_t *offset,
                             size_t size);

#endif /* PT_HTTP_PROXY_SSL_H */
