/*
 * TLS connections: the OpenSSL object of one connection, its non-blocking
 * handshake driven by the event loop, the I/O functions installed in the
 * connection's vtable once it is done, and close_notify on close.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>

#include "common/cycle.h"
#include "common/log.h"
#include "common/pool.h"
#include "common/str.h"
#include "conn.h"
#include "tls.h"

int pt_tls_conn_index = -1;

static void tls_cleanup(void *data);
static void clear_errors(void);
static int set_bios(pt_tls_t *tls, int fd);
static int bio_read(BIO *b, char *buf, int len);
static void handshake_handler(pt_event_t *ev);
static void write_for_read_handler(pt_event_t *wev);
static void read_for_write_handler(pt_event_t *rev);

/* The read side's BIO: OpenSSL's socket BIO with its read wrapped, so
 * that a short read is seen (a BIO callback would see it too, but runs
 * for every control call as well). Made once per process, never freed. */
static BIO_METHOD *read_method;
static int (*sock_read)(BIO *b, char *buf, int len);

static int
read_method_init(void)
{
    const BIO_METHOD *sock = BIO_s_socket();
    BIO_METHOD       *m;
    int               index;

    index = BIO_get_new_index();
    sock_read = BIO_meth_get_read(sock);
    if (index == -1 || sock_read == NULL) {
        return PT_ERROR;
    }
    m = BIO_meth_new(index | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR,
                     "portico socket");
    if (m == NULL) {
        return PT_ERROR;
    }
    if (BIO_meth_set_read(m, bio_read) != 1
        || BIO_meth_set_write(m, BIO_meth_get_write(sock)) != 1
        || BIO_meth_set_puts(m, BIO_meth_get_puts(sock)) != 1
        || BIO_meth_set_ctrl(m, BIO_meth_get_ctrl(sock)) != 1
        || BIO_meth_set_create(m, BIO_meth_get_create(sock)) != 1
        || BIO_meth_set_destroy(m, BIO_meth_get_destroy(sock)) != 1)
    {
        BIO_meth_free(m);
        return PT_ERROR;
    }
    read_method = m;
    return PT_OK;
}

int
pt_tls_init(pt_log_t *log)
{
    if (pt_tls_conn_index != -1) {
        return PT_OK;
    }
    pt_tls_conn_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    if (pt_tls_conn_index == -1) {
        pt_tls_error(PT_LOG_EMERG, log, 0, "SSL_get_ex_new_index() failed");
        return PT_ERROR;
    }
    if (read_method_init() != PT_OK) {
        pt_tls_error(PT_LOG_EMERG, log, 0, "BIO_meth_new() failed");
        return PT_ERROR;
    }
    return PT_OK;
}

u_char *
pt_tls_error_text(u_char *p, u_char *end)
{
    const char    *data;
    unsigned long  e;
    int            flags, first = 1;
    char           one[256];

    while ((e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0) {
        if (end - p < 16) {
            continue;    /* drain what does not fit */
        }
        ERR_error_string_n(e, one, sizeof(one));
        p = pt_slprintf(p, end, "%s%s", first ? " (SSL: " : " ", one);
        if ((flags & ERR_TXT_STRING) && data != NULL && *data != '\0') {
            p = pt_slprintf(p, end, ":%s", data);
        }
        first = 0;
    }
    if (!first) {
        p = pt_slprintf(p, end, ")");
    }
    return p;
}

void
pt_tls_error(pt_uint_t level, pt_log_t *log, int err, const char *fmt, ...)
{
    u_char  msg[2048], *p, *end = msg + sizeof(msg) - 1;
    va_list ap;

    va_start(ap, fmt);
    p = msg + vsnprintf((char *) msg, sizeof(msg) - 1, fmt, ap);
    va_end(ap);
    if (p > end) {
        p = end;
    }
    p = pt_tls_error_text(p, end);
    *p = '\0';
    pt_log_error(level, log, err, "%s", msg);
}

/* Empty the error queue before an SSL call, whose SSL_get_error reads it:
 * ERR_clear_error wipes all sixteen slots even when none is used, several
 * times the cost of the look that finds it empty (the usual case). */
static void
clear_errors(void)
{
    if (ERR_peek_error() != 0) {
        ERR_clear_error();
    }
}

/* A socket BIO each way: reads through bio_read, which tracks draining
 * (OpenSSL's SSL_set_fd would share one plain socket BIO). */
static int
set_bios(pt_tls_t *tls, int fd)
{
    BIO *rbio, *wbio;

    rbio = BIO_new(read_method);
    if (rbio == NULL) {
        return PT_ERROR;
    }
    BIO_set_fd(rbio, fd, BIO_NOCLOSE);
    wbio = BIO_new_socket(fd, BIO_NOCLOSE);
    if (wbio == NULL) {
        BIO_free(rbio);
        return PT_ERROR;
    }
    /* the argument of a callback that is never set: the BIO's one free
     * pointer (the socket methods use the data pointer) */
    BIO_set_callback_arg(rbio, (char *) tls);
    SSL_set_bio(tls->ssl, rbio, wbio);    /* the SSL owns both now */
    return PT_OK;
}

int
pt_tls_create(pt_connection_t *c, SSL_CTX *ctx, int server,
              size_t buffer_size)
{
    pt_pool_cleanup_t *cln;
    pt_tls_t          *tls;

    tls = pt_pcalloc(c->pool, sizeof(pt_tls_t));
    cln = pt_pool_cleanup_add(c->pool, 0);
    if (tls == NULL || cln == NULL) {
        return PT_ERROR;
    }
    tls->connection = c;
    tls->buf_size = buffer_size ? buffer_size : PT_TLS_DEFAULT_BUFFER;

    clear_errors();
    tls->ssl = SSL_new(ctx);
    if (tls->ssl == NULL) {
        pt_tls_error(PT_LOG_ALERT, c->log, 0, "SSL_new() failed");
        return PT_ERROR;
    }
    cln->handler = tls_cleanup;
    cln->data = tls;

    if (set_bios(tls, c->fd) != PT_OK
        || SSL_set_ex_data(tls->ssl, pt_tls_conn_index, c) != 1)
    {
        pt_tls_error(PT_LOG_ALERT, c->log, 0, "SSL_set_fd() failed");
        return PT_ERROR;
    }
    SSL_set_read_ahead(tls->ssl, 1);
    if (server) {
        SSL_set_accept_state(tls->ssl);
    } else {
        SSL_set_connect_state(tls->ssl);
    }
    c->tls = tls;
    return PT_OK;
}

/* Reads of the SSL object. OpenSSL reads ahead (whole buffers, not
 * record by record), so a short read means the socket is drained: then
 * pt_tls_recv stops without the read that would only say EAGAIN, and in
 * the rest of a handshake step (after the client's flight, OpenSSL tries
 * for the next one at once), or after the handshake until the read event
 * is ready again, the read is not made at all: data that comes after a
 * short read brings an epoll report, and what that report starts reads
 * for real. */
static int
bio_read(BIO *b, char *buf, int len)
{
    pt_tls_t *tls = (pt_tls_t *) BIO_get_callback_arg(b);
    int       n;

    if (tls->skip_read) {
        BIO_clear_retry_flags(b);
        BIO_set_retry_read(b);
        return -1;
    }
    n = sock_read(b, buf, len);
    tls->drained = n < len;
    if (tls->drained && !tls->done) {
        tls->skip_read = 1;
    }
    return n;
}

/* Pool cleanup: close_notify unless the connection failed, then free. The
 * socket is still open here (the pool goes before the fd). */
static void
tls_cleanup(void *data)
{
    pt_tls_t        *tls = data;
    pt_connection_t *c = tls->connection;
    int              n;

    if (!tls->done || tls->no_shutdown || c->error || c->timedout) {
        SSL_set_quiet_shutdown(tls->ssl, 1);
    } else {
        /* one try: a peer that does not read gets no second chance,
         * and its close_notify is not awaited (as nginx) */
        SSL_set_shutdown(tls->ssl, SSL_RECEIVED_SHUTDOWN);
        clear_errors();
        n = SSL_shutdown(tls->ssl);
        (void) n;
        clear_errors();
    }
    SSL_free(tls->ssl);
    tls->ssl = NULL;
    c->tls = NULL;
}

/* "CALL failed (SSL: ...) while SSL handshaking, client: A", as nginx. */
static void
conn_error(pt_connection_t *c, pt_uint_t level, const char *call)
{
    pt_tls_t *tls = c->tls;
    u_char    msg[2048], *p, *end = msg + sizeof(msg) - 1;

    p = pt_slprintf(msg, end, "%s failed", call);
    p = pt_tls_error_text(p, end);
    if (c->listening == NULL) {
        /* an upstream connection: its log context says the rest */
        *p = '\0';
        pt_log_error(level, c->log, 0, "%s", msg);
        return;
    }
    if (!tls->done) {
        p = pt_slprintf(p, end, " while SSL handshaking");
    }
    if (c->addr_text.len) {
        p = pt_slprintf(p, end, ", client: %.*s", (int) c->addr_text.len,
                        c->addr_text.data);
    }
    if (!tls->done && c->listening != NULL) {
        p = pt_slprintf(p, end, ", server: %.*s",
                        (int) c->listening->addr_text.len,
                        c->listening->addr_text.data);
    }
    *p = '\0';
    pt_log_error(level, c->log, 0, "%s", msg);
}

/* Log a failed SSL call: the peer's mistakes (protocol errors, resets) at
 * info, our own at crit, as nginx does. */
static void
io_error(pt_connection_t *c, int sslerr, const char *call)
{
    unsigned long e = ERR_peek_error();
    int           err = errno;

    ((pt_tls_t *) c->tls)->no_shutdown = 1;
    if (((pt_tls_t *) c->tls)->rejected) {
        ERR_clear_error();
        pt_log_error(PT_LOG_INFO, c->log, 0, "handshake rejected while SSL "
                     "handshaking, client: %.*s", (int) c->addr_text.len,
                     c->addr_text.data);
        return;
    }
    /* nothing queued: the peer went away (an EOF, a close_notify, a
     * reset) in the middle, its doing and no failure of ours; an
     * upstream doing so is the proxy's to report (nginx: error) */
    if (e == 0) {
        if (err == 0 && (sslerr == SSL_ERROR_SYSCALL
                         || !((pt_tls_t *) c->tls)->done)
            && c->listening == NULL)
        {
            pt_log_error(PT_LOG_ERR, c->log, 0, "peer closed connection "
                         "in SSL handshake");
            return;
        }
        if (err == 0 && (sslerr == SSL_ERROR_SYSCALL
                         || !((pt_tls_t *) c->tls)->done))
        {
            pt_log_error(PT_LOG_INFO, c->log, 0, "peer closed connection in "
                         "SSL handshake, client: %.*s",
                         (int) c->addr_text.len, c->addr_text.data);
            return;
        }
        if (err != 0) {
            pt_conn_error(c, err, call);
            return;
        }
    }
    if (e != 0 && ERR_GET_LIB(e) == ERR_LIB_SSL) {
        /* the upstream's mistakes are ours to report (nginx: error) */
        conn_error(c, c->listening != NULL ? PT_LOG_INFO : PT_LOG_ERR, call);
        return;
    }
    conn_error(c, PT_LOG_CRIT, call);
}

static void
set_io(pt_connection_t *c)
{
    c->recv = pt_tls_recv;
    c->send = pt_tls_send;
    c->writev = pt_tls_writev;
    c->sendfile = pt_tls_sendfile;
}

int
pt_tls_handshake(pt_connection_t *c, pt_tls_handshake_pt done)
{
    pt_tls_t *tls = c->tls;
    int       n, err;

    tls->handshaked = done;
    tls->skip_read = 0;
    clear_errors();
    errno = 0;
    n = SSL_do_handshake(tls->ssl);
    if (n == 1) {
        if (!tls->done) {
            tls->done = 1;
            /* the peer's last flight drained the socket: what it sends
             * next, if not read with it, comes with a report of its own */
            tls->skip_read = tls->drained;
            if (tls->drained) {
                c->read->ready = 0;
            }
        }
        set_io(c);
        return PT_OK;
    }

    err = SSL_get_error(tls->ssl, n);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
        tls->wants_write = err == SSL_ERROR_WANT_WRITE;
        if (err == SSL_ERROR_WANT_READ) {
            c->read->ready = 0;
        } else {
            c->write->ready = 0;
        }
        c->read->handler = handshake_handler;
        c->write->handler = handshake_handler;
        return PT_AGAIN;
    }
    c->error = 1;
    io_error(c, err, "SSL_do_handshake()");
    return PT_ERROR;
}

/* Either event of a connection in handshake: go on, or report. */
static void
handshake_handler(pt_event_t *ev)
{
    pt_connection_t *c = ev->data;
    pt_tls_t        *tls = c->tls;
    int              rc;

    if (ev->timedout) {
        pt_log_error(PT_LOG_INFO, c->log, ETIMEDOUT, "client timed out "
                     "while SSL handshaking, client: %.*s",
                     (int) c->addr_text.len, c->addr_text.data);
        c->timedout = 1;
        tls->handshaked(c, PT_ERROR);
        return;
    }
    if (c->close) {
        tls->no_shutdown = 1;
        tls->handshaked(c, PT_ERROR);
        return;
    }
    if (ev->write && !tls->wants_write) {
        /* the socket takes writes (as it said at registration), but the
         * handshake waits for the peer: a step now would only read EAGAIN */
        return;
    }
    rc = pt_tls_handshake(c, tls->handshaked);
    if (rc != PT_AGAIN) {
        tls->handshaked(c, rc);
    }
}

ssize_t
pt_tls_recv(pt_connection_t *c, u_char *buf, size_t size)
{
    pt_tls_t   *tls = c->tls;
    pt_event_t *rev = c->read;
    ssize_t     total = 0;
    int         n, err;

    if (rev->ready) {
        tls->skip_read = 0;    /* a report came since the handshake */
    }
    /* read until the buffer is full or the socket is drained: with
     * edge-triggered epoll a record left in the socket brings no report */
    while (size > 0) {
        clear_errors();
        errno = 0;
        n = SSL_read(tls->ssl, buf, (int) pt_min(size, (size_t) INT_MAX));
        if (n > 0) {
            total += n;
            buf += n;
            size -= (size_t) n;
            if (size > 0 && tls->drained && !SSL_has_pending(tls->ssl)) {
                /* edge-triggered: what comes next brings a report */
                rev->ready = 0;
                return total;
            }
            continue;
        }
        err = SSL_get_error(tls->ssl, n);
        if (err == SSL_ERROR_WANT_READ) {
            rev->ready = 0;
            return total ? total : PT_AGAIN;
        }
        if (err == SSL_ERROR_WANT_WRITE) {
            /* a key update or ticket to send first: the write event brings
             * the reader back */
            rev->ready = 0;
            c->write->ready = 0;
            if (!tls->read_want_write) {
                tls->read_want_write = 1;
                tls->saved_write_handler = c->write->handler;
                c->write->handler = write_for_read_handler;
            }
            return total ? total : PT_AGAIN;
        }
        if (total) {
            return total;    /* the end or the error comes next call */
        }
        rev->ready = 0;
        if (err == SSL_ERROR_ZERO_RETURN
            || (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0
                && errno == 0))
        {
            rev->eof = 1;
            return 0;
        }
        rev->error = 1;
        io_error(c, err, "SSL_read()");
        return PT_ERROR;
    }
    /* the buffer is full: more may wait, in OpenSSL or in the socket */
    rev->ready = 1;
    return total;
}

/* The other event came while a read waited on the socket taking a write
 * (or a write on it bringing a read): give `ev` its own handler back,
 * run the blocked side, then `ev`'s handler. */
static void
resume_blocked(pt_event_t *ev, pt_event_t *blocked, pt_event_handler_pt own)
{
    pt_connection_t *c = ev->data;
    uint32_t         gen = c->gen;

    ev->handler = own;
    blocked->ready = 1;
    blocked->handler(blocked);
    if (c->gen == gen && c->fd != -1 && ev->handler != NULL) {
        ev->handler(ev);
    }
}

static void
write_for_read_handler(pt_event_t *wev)
{
    pt_connection_t *c = wev->data;
    pt_tls_t        *tls = c->tls;

    tls->read_want_write = 0;
    resume_blocked(wev, c->read, tls->saved_write_handler);
}

static void
read_for_write_handler(pt_event_t *rev)
{
    pt_connection_t *c = rev->data;
    pt_tls_t        *tls = c->tls;

    tls->write_want_read = 0;
    resume_blocked(rev, c->write, tls->saved_read_handler);
}

/* One SSL_write of at most `size` bytes: bytes written (partial writes
 * are on), PT_AGAIN or PT_ERROR, with the write event updated. */
static ssize_t
write_once(pt_connection_t *c, const u_char *buf, size_t size)
{
    pt_tls_t   *tls = c->tls;
    pt_event_t *wev = c->write;
    int         n, err;

    clear_errors();
    errno = 0;
    n = SSL_write(tls->ssl, buf, (int) pt_min(size, (size_t) INT_MAX));
    if (n > 0) {
        if ((size_t) n < size) {
            wev->ready = 0;
        }
        c->sent += n;
        return n;
    }
    err = SSL_get_error(tls->ssl, n);
    if (err == SSL_ERROR_WANT_WRITE) {
        wev->ready = 0;
        return PT_AGAIN;
    }
    if (err == SSL_ERROR_WANT_READ) {
        wev->ready = 0;
        if (!tls->write_want_read) {
            tls->write_want_read = 1;
            tls->saved_read_handler = c->read->handler;
            c->read->handler = read_for_write_handler;
        }
        return PT_AGAIN;
    }
    wev->ready = 0;
    wev->error = 1;
    io_error(c, err, "SSL_write()");
    return PT_ERROR;
}

ssize_t
pt_tls_send(pt_connection_t *c, const u_char *buf, size_t size)
{
    if (size == 0) {
        return 0;
    }
    return write_once(c, buf, size);
}

/* The coalescing buffer: SSL_write has encrypted what it takes before it
 * returns, and a retry presents the same bytes again, so the copy need not
 * outlive the call. A worker is one thread: one static buffer serves every
 * connection whose ssl_buffer_size fits, which then costs no allocation per
 * response; a larger size gets a buffer of its own from c->pool. */
static u_char  shared_buf[PT_TLS_DEFAULT_BUFFER];

static u_char *
coalescing_buf(pt_connection_t *c)
{
    pt_tls_t *tls = c->tls;

    if (tls->buf_size <= sizeof(shared_buf)) {
        return shared_buf;
    }
    if (tls->buf == NULL) {
        tls->buf = pt_pnalloc(c->pool, tls->buf_size);
        if (tls->buf == NULL) {
            c->write->error = 1;
            return NULL;
        }
    }
    return tls->buf;
}

/* Copy up to `room` bytes of iov, skipping the first `skip`, into dst.
 * When the first byte to send starts a piece of at least `room` bytes,
 * that piece is returned in *direct instead (no copy). */
static size_t
gather(const struct iovec *iov, int iovcnt, size_t skip, u_char *dst,
       size_t room, const u_char **direct)
{
    size_t len = 0, piece;
    int    i;

    *direct = NULL;
    for (i = 0; i < iovcnt && len < room; i++) {
        piece = iov[i].iov_len;
        if (skip >= piece) {
            skip -= piece;
            continue;
        }
        piece -= skip;
        if (len == 0 && piece >= room) {
            *direct = (const u_char *) iov[i].iov_base + skip;
            return piece;
        }
        piece = pt_min(piece, room - len);
        memcpy(dst + len, (const u_char *) iov[i].iov_base + skip, piece);
        len += piece;
        skip = 0;
    }
    return len;
}

/* Small pieces (a head, chunk sizes) are coalesced into records of
 * ssl_buffer_size: a retry after PT_AGAIN presents the same bytes again,
 * so the copy is the same too (moving write buffers are allowed). */
ssize_t
pt_tls_writev(pt_connection_t *c, const struct iovec *iov, int iovcnt)
{
    pt_tls_t     *tls = c->tls;
    const u_char *direct;
    u_char       *buf;
    size_t        len, total = 0;
    ssize_t       n;

    buf = coalescing_buf(c);
    if (buf == NULL) {
        return PT_ERROR;
    }
    for (;;) {
        len = gather(iov, iovcnt, total, buf, tls->buf_size, &direct);
        if (len == 0) {
            return (ssize_t) total;
        }
        n = write_once(c, direct != NULL ? direct : buf, len);
        if (n < 0) {
            return total ? (ssize_t) total : n;
        }
        total += (size_t) n;
        if ((size_t) n < len) {
            return (ssize_t) total;
        }
    }
}

void
pt_tls_release_buffer(pt_connection_t *c)
{
    pt_tls_t *tls = c->tls;

    /* a small one lives in the pool's blocks and cannot go: keep it */
    if (tls != NULL && tls->buf != NULL
        && pt_pfree(c->pool, tls->buf) == PT_OK)
    {
        tls->buf = NULL;
    }
}

/* sendfile over TLS: read the range into the buffer and write it. */
ssize_t
pt_tls_sendfile(pt_connection_t *c, int fd, off_t *offset, size_t size)
{
    pt_tls_t *tls = c->tls;
    u_char   *buf;
    size_t    total = 0;
    ssize_t   n, w;

    buf = coalescing_buf(c);
    if (buf == NULL) {
        return PT_ERROR;
    }
    while (size > 0) {
        do {
            n = pread(fd, buf, pt_min(size, tls->buf_size), *offset);
        } while (n == -1 && errno == EINTR);
        if (n == -1) {
            pt_log_error(PT_LOG_CRIT, c->log, errno, "pread() failed");
            c->write->error = 1;
            return PT_ERROR;
        }
        if (n == 0) {
            break;    /* the file was truncated: the caller finds out */
        }
        w = write_once(c, buf, (size_t) n);
        if (w < 0) {
            return total ? (ssize_t) total : w;
        }
        *offset += w;
        total += (size_t) w;
        size -= (size_t) w;
        if (w < n) {
            break;
        }
    }
    return (ssize_t) total;
}
