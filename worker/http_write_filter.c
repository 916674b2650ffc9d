/*
 * The end of the body chain: the chunked encoder, then the writer that
 * gathers memory buffers into one writev and sends file ranges with
 * sendfile (or, with sendfile off, reads them into that writev), holding
 * small output back (postpone_output) until a flush or the last buffer,
 * so that a head and a small body leave in one syscall.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/file.h"
#include "common/log.h"
#include "common/pool.h"
#include "common/time.h"
#include "conn.h"
#include "event.h"
#include "http_connection.h"
#include "http_core.h"
#include "http_request.h"
#include "http_script.h"
#include "timer.h"

#define MAX_IOVS 64

/* Chunk-size lines: a descriptor with room for "<hex>\r\n" (or the CRLF
 * closing a chunk), recycled once sent. */
#define CHUNK_TAG ((void *) pt_http_chunked_body_filter)
#define CHUNK_LINE_SIZE 24

/* A link from the request's spare ones, or the pool. */
static pt_chain_t *
request_link(pt_http_request_t *r, pt_buf_t *b)
{
    pt_chain_t *cl = r->free_links;

    if (cl != NULL) {
        r->free_links = cl->next;
    } else if ((cl = pt_alloc_chain_link(r->pool)) == NULL) {
        return NULL;
    }
    cl->buf = b;
    cl->next = NULL;
    return cl;
}

/* Give the links of a chain (not their buffers) back to the request. */
static void
release_links(pt_http_request_t *r, pt_chain_t *cl)
{
    pt_chain_t *next;

    for (; cl != NULL; cl = next) {
        next = cl->next;
        cl->next = r->free_links;
        r->free_links = cl;
    }
}

/* A written-out link of r->out: chunk lines go back to their list. */
static void
release_sent(pt_http_request_t *r, pt_chain_t *cl)
{
    if (cl->buf->tag == CHUNK_TAG) {
        cl->next = r->free_chunk_bufs;
        r->free_chunk_bufs = cl;
        return;
    }
    cl->next = r->free_links;
    r->free_links = cl;
}

static pt_buf_t *
chunk_line(pt_http_request_t *r)
{
    pt_chain_t *cl = r->free_chunk_bufs;
    pt_buf_t   *b;

    if (cl != NULL) {
        r->free_chunk_bufs = cl->next;
        b = cl->buf;
        cl->next = r->free_links;
        r->free_links = cl;
        b->pos = b->last = b->start;
        return b;
    }
    b = pt_buf_create_temp(r->pool, CHUNK_LINE_SIZE);
    if (b != NULL) {
        b->tag = CHUNK_TAG;
    }
    return b;
}

static pt_buf_t *
memory_buf(pt_pool_t *pool, const char *s, size_t n)
{
    pt_buf_t *b = pt_buf_calloc(pool);

    if (b != NULL) {
        b->pos = b->start = (u_char *) s;
        b->last = b->end = (u_char *) s + n;
        b->memory = 1;
    }
    return b;
}

/* The last chunk with the response's trailers ("0", each "Key: Value",
 * the empty line), after the CRLF closing a data chunk when `crlf`. */
static pt_buf_t *
last_chunk_with_trailers(pt_http_request_t *r, int crlf)
{
    pt_table_elt_t *t = r->headers_out.trailers.elts;
    pt_uint_t       i;
    size_t          len = sizeof("\r\n0\r\n\r\n") - 1;
    u_char         *p, *start;

    for (i = 0; i < r->headers_out.trailers.nelts; i++) {
        if (t[i].hash != 0) {
            len += t[i].key.len + 2 + t[i].value.len + 2;
        }
    }
    start = p = pt_pnalloc(r->pool, len);
    if (p == NULL) {
        return NULL;
    }
    if (crlf) {
        *p++ = '\r';
        *p++ = '\n';
    }
    memcpy(p, "0\r\n", 3);
    p += 3;
    for (i = 0; i < r->headers_out.trailers.nelts; i++) {
        if (t[i].hash == 0) {
            continue;
        }
        memcpy(p, t[i].key.data, t[i].key.len);
        p += t[i].key.len;
        *p++ = ':';
        *p++ = ' ';
        memcpy(p, t[i].value.data, t[i].value.len);
        p += t[i].value.len;
        *p++ = '\r';
        *p++ = '\n';
    }
    *p++ = '\r';
    *p++ = '\n';
    return memory_buf(r->pool, (char *) start, (size_t) (p - start));
}

/* Wrap each call's data in one chunk; the last buffer adds "0\r\n\r\n"
 * (with r->headers_out.trailers before the final CRLF). */
int
pt_http_chunked_body_filter(pt_http_request_t *r, pt_chain_t *in)
{
    pt_chain_t  *out = NULL, **tail = &out, *cl, *ln;
    pt_buf_t    *b, *last = NULL;
    off_t        size = 0;
    u_char      *hex;
    int          rc;

    if (!r->chunked || in == NULL) {
        return pt_http_write_filter(r, in);
    }
    for (cl = in; cl != NULL; cl = cl->next) {
        size += pt_buf_size(cl->buf);
        if (cl->buf->last_buf) {
            last = cl->buf;
        }
    }

    if (size > 0) {
        b = chunk_line(r);
        if (b == NULL) {
            return PT_ERROR;
        }
        hex = b->last;
        b->last = pt_put_hex(hex, (uint64_t) size);
        *b->last++ = '\r';
        *b->last++ = '\n';
        if ((*tail = request_link(r, b)) == NULL) {
            return PT_ERROR;
        }
        tail = &(*tail)->next;
    }
    for (cl = in; cl != NULL; cl = cl->next) {
        if (cl->buf->last_buf) {
            /* the terminating chunk replaces the flag-only buffer */
            if (pt_buf_size(cl->buf) == 0) {
                continue;
            }
        }
        ln = request_link(r, cl->buf);
        if (ln == NULL) {
            return PT_ERROR;
        }
        *tail = ln;
        tail = &ln->next;
    }
    if (size > 0 || last != NULL) {
        static const char crlf[] = "\r\n";
        static const char end[] = "\r\n0\r\n\r\n";
        static const char end_nodata[] = "0\r\n\r\n";

        if (last != NULL) {
            last->last_buf = 0;
            if (r->headers_out.trailers.nelts > 0) {
                b = last_chunk_with_trailers(r, size > 0);
            } else {
                b = size > 0 ? memory_buf(r->pool, end, sizeof(end) - 1)
                             : memory_buf(r->pool, end_nodata,
                                          sizeof(end_nodata) - 1);
            }
            if (b != NULL) {
                b->last_buf = 1;
            }
        } else {
            b = chunk_line(r);
            if (b != NULL) {
                memcpy(b->last, crlf, 2);
                b->last += 2;
            }
        }
        if (b == NULL || (*tail = request_link(r, b)) == NULL) {
            return PT_ERROR;
        }
    }
    rc = pt_http_write_filter(r, out);
    release_links(r, out);   /* the write filter linked the buffers */
    return rc;
}

/* TCP_CORK on (1) or off (0): tcp_nopush with sendfile holds the head
 * back until the file's first bytes fill the packet (as nginx). Failing is
 * harmless (a non-TCP socket): the data just leaves in more packets. */
static void
set_cork(pt_connection_t *c, int on)
{
    if (setsockopt(c->fd, IPPROTO_TCP, TCP_CORK, &on, sizeof(on)) == -1
        && errno != EOPNOTSUPP && errno != ENOPROTOOPT)
    {
        pt_log_error(PT_LOG_CRIT, c->log, errno, "setsockopt(TCP_CORK) "
                     "failed");
    }
}

/* Is another file range queued after the head of r->out (the parts of a
 * multipart response)? Then the cork stays on until the last one. */
static int
file_follows(pt_http_request_t *r)
{
    pt_chain_t *cl;

    for (cl = r->out->next; cl != NULL; cl = cl->next) {
        if (cl->buf->in_file && !pt_buf_in_memory(cl->buf)) {
            return 1;
        }
    }
    return 0;
}

/* sendfile on: up to sendfile_max_chunk (and `max`) of the file range
 * at b. */
static int
send_file(pt_http_request_t *r, pt_buf_t *b, size_t max)
{
    pt_connection_t    *c = r->connection;
    pt_http_loc_conf_t *clcf = pt_http_core_loc_conf(r);
    off_t               off = b->file_pos;
    size_t              left = (size_t) (b->file_last - b->file_pos);
    ssize_t             n;

    if (left > clcf->sendfile_max_chunk && clcf->sendfile_max_chunk) {
        left = clcf->sendfile_max_chunk;
    }
    left = pt_min(left, max);
    n = c->sendfile(c, b->file->fd, &off, left);
    if (n == PT_AGAIN || n == PT_ERROR) {
        return (int) n;
    }
    if (n == 0) {
        pt_log_error(PT_LOG_ALERT, c->log, 0, "sendfile() reported that "
                     "\"%s\" was truncated", b->file->name.data);
        return PT_ERROR;
    }
    b->file_pos += n;
    if (b->file_pos == b->file_last && clcf->tcp_nopush
        && !file_follows(r))
    {
        set_cork(c, 0);
    }
    return PT_OK;
}

/*
 * sendfile off: the file's bytes are read into this buffer and written
 * with the memory buffers before them. One buffer per worker is enough: a
 * worker writes one chain at a time, and what the socket does not take is
 * read again next time, so memory stays bounded whatever the file size.
 */
#define FILE_READ_SIZE 32768
static u_char file_read_buf[FILE_READ_SIZE];

/* Read up to `max` next bytes of the file range at b: their count, or
 * PT_ERROR. */
static ssize_t
read_file(pt_http_request_t *r, pt_buf_t *b, size_t max)
{
    size_t  size = (size_t) pt_min(b->file_last - b->file_pos,
                                   (off_t) pt_min(max, FILE_READ_SIZE));
    ssize_t n;

    do {
        n = pread(b->file->fd, file_read_buf, size, b->file_pos);
    } while (n == -1 && errno == EINTR);
    if (n == -1) {
        pt_log_error(PT_LOG_CRIT, r->connection->log, errno, "pread() "
                     "\"%s\" failed", b->file->name.data);
        return PT_ERROR;
    }
    if (n == 0) {
        pt_log_error(PT_LOG_ALERT, r->connection->log, 0, "file \"%s\" was "
                     "truncated", b->file->name.data);
        return PT_ERROR;
    }
    return n;
}

/* Over TLS the file goes through the writev too (as nginx turns sendfile
 * off for TLS): the head and the first file bytes share a record, and the
 * reads are this filter's 32 KB instead of the TLS layer's buffer. */
static int
use_sendfile(pt_http_request_t *r, pt_http_loc_conf_t *clcf)
{
    return clcf->sendfile && r->connection->tls == NULL;
}

/* One writev of up to `max` bytes of the memory buffers at the head of
 * r->out, followed, with sendfile off, by a read of the file range after
 * them. */
static int
write_gathered(pt_http_request_t *r, size_t max)
{
    pt_connection_t    *c = r->connection;
    pt_http_loc_conf_t *clcf = pt_http_core_loc_conf(r);
    struct iovec        iov[MAX_IOVS];
    pt_chain_t         *cl;
    pt_buf_t           *b, *file = NULL;
    ssize_t             n;
    size_t              left, total = 0;
    int                 niov = 0;

    for (cl = r->out; cl != NULL && niov < MAX_IOVS && total < max;
         cl = cl->next)
    {
        b = cl->buf;
        if (!pt_buf_in_memory(b)) {
            if (b->in_file) {
                file = b;
                break;
            }
            continue;
        }
        if (b->last == b->pos) {
            continue;
        }
        iov[niov].iov_base = b->pos;
        iov[niov].iov_len = pt_min((size_t) (b->last - b->pos), max - total);
        total += iov[niov].iov_len;
        niov++;
    }
    if (file != NULL && use_sendfile(r, clcf)) {
        if (clcf->tcp_nopush && niov > 0) {
            set_cork(c, 1);   /* off once the last file range is sent */
        }
        file = NULL;
    } else if (file != NULL && niov < MAX_IOVS && total < max) {
        n = read_file(r, file, max - total);
        if (n == PT_ERROR) {
            return PT_ERROR;
        }
        iov[niov].iov_base = file_read_buf;
        iov[niov].iov_len = (size_t) n;
        niov++;
    } else {
        file = NULL;
    }

    n = c->writev(c, iov, niov);
    if (n == PT_AGAIN || n == PT_ERROR) {
        return (int) n;
    }
    for (cl = r->out; cl != NULL && n > 0; cl = cl->next) {
        b = cl->buf;
        if (!pt_buf_in_memory(b)) {
            if (b->in_file) {
                break;
            }
            continue;
        }
        left = (size_t) (b->last - b->pos);
        if ((size_t) n >= left) {
            b->pos = b->last;
            n -= (ssize_t) left;
        } else {
            b->pos += n;
            n = 0;
        }
    }
    if (file != NULL) {
        file->file_pos += n;   /* the bytes read but not taken: reread */
    }
    return PT_OK;
}

/* Send as much of r->out as the socket takes, up to `limit` bytes (0: no
 * limit). */
static int
send_chain(pt_http_request_t *r, off_t limit)
{
    pt_http_loc_conf_t *clcf = pt_http_core_loc_conf(r);
    pt_connection_t    *c = r->connection;
    off_t               start = c->sent;
    size_t              max;
    pt_buf_t           *b;
    int                 rc;

    while (r->out != NULL) {
        /* drop empty and flag-only buffers at the head */
        while (r->out != NULL && pt_buf_size(r->out->buf) == 0) {
            pt_chain_t *sent = r->out;

            r->out = sent->next;
            release_sent(r, sent);
        }
        if (r->out == NULL) {
            break;
        }
        max = (size_t) -1;
        if (limit > 0) {
            if (c->sent - start >= limit) {
                return PT_DECLINED;   /* the rest when it is allowed */
            }
            max = (size_t) (limit - (c->sent - start));
        }
        b = r->out->buf;
        if (!pt_buf_in_memory(b) && b->in_file && use_sendfile(r, clcf)) {
            rc = send_file(r, b, max);
        } else {
            rc = write_gathered(r, max);
        }
        if (rc != PT_OK) {
            return rc;
        }
    }
    return PT_OK;
}

/* A limit_rate or limit_rate_after value with variables, as a size (0 if
 * it is not one, as nginx). */
static size_t
rate_value(pt_http_request_t *r, pt_http_complex_value_t *cv)
{
    pt_str_t s;
    ssize_t  n;

    if (pt_http_complex_value(r, cv, &s) != PT_OK) {
        return 0;
    }
    n = pt_parse_size(&s);
    if (n == PT_ERROR) {
        pt_log_error(PT_LOG_ERR, r->connection->log, 0, "invalid size "
                     "\"%.*s\"", (int) s.len, s.data);
        return 0;
    }
    return (size_t) n;
}

/* The rate and the free size, fixed at the response's first write (when
 * variables in them are evaluated) unless $limit_rate or the origin set
 * the rate before. */
static void
rate_settings(pt_http_request_t *r)
{
    pt_http_loc_conf_t *clcf = pt_http_core_loc_conf(r);

    if (!r->limit_rate_set) {
        if (clcf->limit_rate_cv != NULL) {
            r->limit_rate = rate_value(r, clcf->limit_rate_cv);
        }
        r->limit_rate_set = 1;
    }
    if (!r->limit_rate_after_set) {
        r->limit_rate_after = clcf->limit_rate_after_cv == NULL
                              ? clcf->limit_rate_after
                              : rate_value(r, clcf->limit_rate_after_cv);
        r->limit_rate_after_set = 1;
    }
}

/* Bytes past limit_rate_after, which alone count against the rate. */
static off_t
rated_bytes(pt_http_request_t *r, off_t sent)
{
    off_t after = (off_t) r->limit_rate_after;

    return sent > after ? sent - after : 0;
}

/*
 * limit_rate: how many bytes may leave now (0: none is set), or -1 when
 * none may: then the write event is delayed by a timer for the time the
 * excess takes at the rate. As nginx: the rate's second counts from the
 * request's start, with one second's worth allowed at once.
 */
static off_t
rate_allowance(pt_http_request_t *r)
{
    pt_connection_t *c = r->connection;
    off_t            rate = (off_t) r->limit_rate, allowed;

    if (rate == 0) {
        return 0;
    }
    /* what is still under limit_rate_after adds to the allowance */
    allowed = rate * (pt_time_sec - r->start_sec + 1)
              - (c->sent - (off_t) r->limit_rate_after);
    if (allowed > 0) {
        return allowed;
    }
    c->write->delayed = 1;
    pt_timer_add(c->write, (pt_msec_t) (-allowed * 1000 / rate + 1));
    return -1;
}

/* After a write at a limited rate: pause for the time its bytes take at
 * the rate, so the output is paced rather than sent in bursts. */
static void
rate_pause(pt_http_request_t *r, off_t before)
{
    pt_connection_t *c = r->connection;
    pt_msec_t        delay;

    delay = (pt_msec_t) ((rated_bytes(r, c->sent) - rated_bytes(r, before))
                         * 1000 / (off_t) r->limit_rate);
    if (delay > 0) {
        c->write->delayed = 1;
        pt_timer_add(c->write, delay);
    }
}

int
pt_http_write_delay_over(pt_connection_t *c)
{
    if (!c->write->delayed || !c->write->timedout) {
        return 0;
    }
    c->write->delayed = 0;
    c->write->timedout = 0;
    return 1;
}

/* Send what r->out holds, within the rate: PT_OK, PT_AGAIN or PT_ERROR. */
static int
send_limited(pt_http_request_t *r)
{
    pt_connection_t *c = r->connection;
    off_t            limit, before = c->sent;
    int              rc;

    if (c->write->delayed) {
        return PT_AGAIN;   /* the write event's timer resumes the output */
    }
    rate_settings(r);
    limit = rate_allowance(r);
    if (limit < 0) {
        return PT_AGAIN;
    }
    rc = send_chain(r, limit);
    if (r->limit_rate > 0 && rc != PT_ERROR) {
        rate_pause(r, before);
    }
    if (rc == PT_DECLINED && !c->write->delayed) {
        /* the allowance ran out with the socket still writable: no report
         * will come, so try again at the end of this loop step */
        pt_event_post(c->write);
    }
    return rc == PT_DECLINED ? PT_AGAIN : rc;
}

int
pt_http_write_filter(pt_http_request_t *r, pt_chain_t *in)
{
    pt_connection_t    *c = r->connection;
    pt_http_loc_conf_t *clcf = pt_http_core_loc_conf(r);
    pt_chain_t        **tail, *cl, *ln;
    off_t               size = 0;
    int                 flush = 0, last = 0, rc;

    if (c->error) {
        return PT_ERROR;
    }
    for (tail = &r->out; *tail != NULL; tail = &(*tail)->next) {
        size += pt_buf_size((*tail)->buf);
    }
    for (cl = in; cl != NULL; cl = cl->next) {
        ln = request_link(r, cl->buf);
        if (ln == NULL) {
            return PT_ERROR;
        }
        *tail = ln;
        tail = &ln->next;
        size += pt_buf_size(cl->buf);
        flush |= cl->buf->flush;
        last |= cl->buf->last_buf;
    }
    if (!last && !flush && in != NULL
        && size < (off_t) clcf->postpone_output)
    {
        return PT_OK;    /* wait for more: fewer, larger writes */
    }
    if (size == 0 && !last && !flush) {
        r->out = NULL;
        return PT_OK;
    }
    rc = send_limited(r);
    if (rc == PT_ERROR) {
        c->error = 1;
        return PT_ERROR;
    }
    if (rc == PT_AGAIN || r->out != NULL) {
        return PT_AGAIN;
    }
    return PT_OK;
}
