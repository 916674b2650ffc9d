/*
 * TLS in the connection layer: one OpenSSL object per connection, the
 * non-blocking handshake (server or client side), the recv/send/writev/
 * sendfile functions that replace the plain ones, and shutdown.
 */
#ifndef PT_TLS_H
#define PT_TLS_H

#include <openssl/ssl.h>

#include "common/pt_types.h"
#include "event.h"

#define PT_TLS_DEFAULT_BUFFER 16384

typedef struct pt_tls_s pt_tls_t;

/* Called once the handshake is over: PT_OK, or PT_ERROR (failed, logged;
 * the callee closes the connection). */
typedef void (*pt_tls_handshake_pt)(pt_connection_t *c, int rc);

struct pt_tls_s {
    SSL                 *ssl;
    pt_connection_t     *connection;
    u_char              *buf;          /* writev/sendfile coalescing when
                                          buf_size exceeds the worker's
                                          shared 16k buffer (tls.c) */
    size_t               buf_size;     /* ssl_buffer_size */
    pt_tls_handshake_pt  handshaked;
    /* while a read waits for the socket to take a write (or the other way
     * round), the event's own handler is parked here */
    pt_event_handler_pt  saved_read_handler;
    pt_event_handler_pt  saved_write_handler;
    void                *data;         /* the protocol's (http_ssl: the
                                          server picked by SNI) */

    unsigned             done:1;           /* handshake complete */
    unsigned             read_want_write:1;
    unsigned             write_want_read:1;
    unsigned             no_shutdown:1;    /* close without close_notify */
    unsigned             rejected:1;       /* the protocol refused it
                                              (ssl_reject_handshake) */
    unsigned             drained:1;        /* the last socket read was
                                              short: nothing left there */
    unsigned             skip_read:1;      /* drained in this handshake
                                              step (or by its last one):
                                              no read till the next report */
    unsigned             wants_write:1;    /* the handshake waits for the
                                              socket to take a write (not
                                              for the peer's data) */
};

/* ex_data index of SSL objects that points back to the connection. */
extern int pt_tls_conn_index;

/* Create the TLS state of `c` from `ctx` (server: accept side; else the
 * connect side), owned by c->pool (a cleanup sends close_notify and frees
 * it). Sets c->tls. PT_OK or PT_ERROR (logged). */
int pt_tls_create(pt_connection_t *c, SSL_CTX *ctx, int server,
                  size_t buffer_size);

/* Run the handshake as far as the socket allows. On PT_AGAIN the read
 * and write handlers of `c` continue it, then call `done` (which gets the
 * connection back with its plain handlers restored by the caller); on PT_OK
 * the TLS I/O functions are in place. PT_ERROR: failed, logged. */
int pt_tls_handshake(pt_connection_t *c, pt_tls_handshake_pt done);

ssize_t pt_tls_recv(pt_connection_t *c, u_char *buf, size_t size);
ssize_t pt_tls_send(pt_connection_t *c, const u_char *buf, size_t size);
ssize_t pt_tls_writev(pt_connection_t *c, const struct iovec *iov,
                      int iovcnt);
ssize_t pt_tls_sendfile(pt_connection_t *c, int fd, off_t *offset,
                        size_t size);

/* Free the coalescing buffer of an idle connection (it comes back with
 * the next write). */
void pt_tls_release_buffer(pt_connection_t *c);

/* Log `fmt` at `level` followed by " (SSL: ...)" built from the OpenSSL
 * error queue (which is cleared), as nginx does. */
void pt_tls_error(pt_uint_t level, pt_log_t *log, int err, const char *fmt,
                  ...) __attribute__((format(printf, 4, 5)));

/* Append " (SSL: error:...:... error:...)" from the error queue (emptied)
 * at p, up to end; returns the new end of the text. */
u_char *pt_tls_error_text(u_char *p, u_char *end);

/* Process-wide setup (ex_data index); PT_OK or PT_ERROR. Idempotent. */
int pt_tls_init(pt_log_t *log);

#endif /* PT_TLS_H */
