/*
 * The upstream response to the client: the head's headers copied into
 * headers_out, then the body relayed through the output filters with
 * memory bounded by proxy_buffer_size and proxy_buffers, at most
 * proxy_busy_buffers_size of them waiting in the client's output (past
 * that the origin's bytes go to the temp file, written in batches of
 * proxy_temp_file_write_size, or the origin waits), de-chunked on the
 * way; and the byte tunnel of an upgraded (101) connection.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/array.h"
#include "common/buf.h"
#include "common/file.h"
#include "common/log.h"
#include "common/pool.h"
#include "common/str.h"
#include "common/time.h"
#include "conn.h"
#include "event.h"
#include "http_connection.h"
#include "http_core.h"
#include "http_proxy.h"
#include "http_proxy_rewrite.h"
#include "http_proxy_ssl.h"
#include "http_request.h"
#include "timer.h"

static void client_write(pt_http_request_t *r);

static void body_read(pt_proxy_ctx_t *ctx);

static int
key_is(const pt_table_elt_t *h, const char *name, size_t n)
{
    return h->key.len == n && memcmp(h->lowcase_key, name, n) == 0;
}

#define KEY_IS(h, s) key_is(h, s, sizeof(s) - 1)

/* Point the headers_out fields filters read at the copied header. */
static void
note_known(pt_http_request_t *r, pt_table_elt_t *h)
{
    pt_http_headers_out_t *out = &r->headers_out;

    switch (h->key.len) {
    case 4:
        if (KEY_IS(h, "etag")) {
            out->etag = h;
        } else if (KEY_IS(h, "date")) {
            out->date = h;
        }
        break;
    case 6:
        if (KEY_IS(h, "server")) {
            out->server = h;
        }
        break;
    case 7:
        if (KEY_IS(h, "expires")) {
            out->expires = h;
        } else if (KEY_IS(h, "refresh")) {
            out->refresh = h;
        }
        break;
    case 8:
        if (KEY_IS(h, "location") && h->value.len > 0
            && h->value.data[0] != '/')
        {
            /* a relative one stays as the origin sent it, as nginx */
            out->location = h;
        }
        break;
    case 13:
        if (KEY_IS(h, "cache-control")) {
            out->cache_control = h;
        } else if (KEY_IS(h, "last-modified")) {
            out->last_modified = h;
        } else if (KEY_IS(h, "content-range")) {
            out->content_range = h;
        } else if (KEY_IS(h, "accept-ranges")) {
            out->accept_ranges = h;
        }
        break;
    case 16:
        if (KEY_IS(h, "content-encoding")) {
            out->content_encoding = h;
        } else if (KEY_IS(h, "www-authenticate")) {
            out->www_authenticate = h;
        }
        break;
    }
}

/* Headers that describe the upstream connection, never the response. */
static int
hop_by_hop(const pt_table_elt_t *h)
{
    return KEY_IS(h, "connection") || KEY_IS(h, "keep-alive")
           || KEY_IS(h, "transfer-encoding")
           || KEY_IS(h, "content-length");
}

static void
set_content_type(pt_http_request_t *r, pt_table_elt_t *h)
{
    pt_http_headers_out_t *out = &r->headers_out;
    u_char                *semi;

    out->content_type = h->value;
    semi = memchr(h->value.data, ';', h->value.len);
    out->content_type_len = semi != NULL
                            ? (size_t) (semi - h->value.data) : h->value.len;
    while (out->content_type_len > 0
           && h->value.data[out->content_type_len - 1] == ' ')
    {
        out->content_type_len--;
    }
    out->charset.len = 0;
}

int
pt_proxy_copy_redirect_headers(pt_proxy_ctx_t *ctx)
{
    static const char *names[] = {
        "content-type", "set-cookie", "content-disposition",
        "cache-control", "expires", "accept-ranges"
    };
    pt_proxy_headers_in_t *in = &ctx->headers_in;
    pt_table_elt_t        *h = in->headers.elts, *o;
    pt_uint_t              i, j;

    for (i = 0; i < in->headers.nelts; i++) {
        for (j = 0; j < pt_nelems(names); j++) {
            if (key_is(&h[i], names[j], strlen(names[j]))) {
                break;
            }
        }
        if (j == pt_nelems(names)) {
            continue;
        }
        if (j == 0) {
            set_content_type(ctx->r, &h[i]);
            continue;
        }
        o = pt_array_push(&ctx->r->headers_out.headers);
        if (o == NULL) {
            return PT_ERROR;
        }
        *o = h[i];
        o->next = NULL;
        note_known(ctx->r, o);
    }
    return PT_OK;
}

static int
copy_headers(pt_proxy_ctx_t *ctx)
{
    pt_http_request_t     *r = ctx->r;
    pt_proxy_headers_in_t *in = &ctx->headers_in;
    pt_table_elt_t        *h = in->headers.elts, *o;
    pt_uint_t              i;

    r->headers_out.status = in->status;
    if (in->status_line.len > 0) {
        /* the origin's status line goes out as it came, as nginx (which
         * then keeps a 204's Content-Type too) */
        r->headers_out.status_line = in->status_line;
    }
    for (i = 0; i < in->headers.nelts; i++) {
        if (hop_by_hop(&h[i])
            || pt_proxy_name_in(ctx->conf->hidden, h[i].key.data,
                                h[i].key.len))
        {
            continue;
        }
        if (KEY_IS(&h[i], "content-type")) {
            set_content_type(r, &h[i]);
            continue;
        }
        o = pt_array_push(&r->headers_out.headers);
        if (o == NULL) {
            return PT_ERROR;
        }
        *o = h[i];
        o->next = NULL;
        note_known(r, o);
    }
    r->headers_out.content_length_n = in->chunked ? -1 : in->content_length_n;
    /* proxy_redirect, proxy_cookie_* */
    if (pt_http_proxy_rewrite_headers(r, ctx->conf->pass_cv != NULL
                                         ? NULL : &ctx->conf->url)
        != PT_OK)
    {
        return PT_ERROR;
    }
    if (in->x_accel_charset != NULL && pt_http_charset_on(r)
        && !(ctx->conf->ignore_headers & PT_PROXY_IGN_XA_CHARSET)
        && !pt_str_eq_cstr(&in->x_accel_charset->value, "off"))
    {
        r->headers_out.charset = in->x_accel_charset->value;
    }
    return PT_OK;
}

/* X-Accel-Buffering and X-Accel-Limit-Rate, unless ignored. */
static void
accel_settings(pt_proxy_ctx_t *ctx)
{
    pt_proxy_headers_in_t *in = &ctx->headers_in;
    pt_uint_t              ign = ctx->conf->ignore_headers;
    pt_int_t               n;

    ctx->buffering = ctx->conf->buffering;
    if (in->x_accel_buffering != NULL && !(ign & PT_PROXY_IGN_XA_BUFFERING)) {
        if (pt_str_eq_cstr(&in->x_accel_buffering->value, "yes")) {
            ctx->buffering = 1;
        } else if (pt_str_eq_cstr(&in->x_accel_buffering->value, "no")) {
            ctx->buffering = 0;
        }
    }
    ctx->limit_rate = ctx->conf->limit_rate;
    if (in->x_accel_limit_rate != NULL && !(ign & PT_PROXY_IGN_XA_LIMIT_RATE)) {
        /* the client's rate (the core's writer); proxy_limit_rate keeps
         * pacing the reads from the origin */
        if (pt_str_eq_cstr(&in->x_accel_limit_rate->value, "off")) {
            ctx->r->limit_rate = 0;
            ctx->r->limit_rate_set = 1;
        } else {
            n = pt_atoi(in->x_accel_limit_rate->value.data,
                        in->x_accel_limit_rate->value.len);
            if (n != PT_ERROR) {
                ctx->r->limit_rate = (size_t) n;
                ctx->r->limit_rate_set = 1;
            }
        }
    }
}

/* How the body ends: a length, chunked framing, or the close. */
static void
set_framing(pt_proxy_ctx_t *ctx)
{
    pt_proxy_headers_in_t *in = &ctx->headers_in;
    pt_uint_t              st = in->status;

    memset(&ctx->chunked, 0, sizeof(ctx->chunked));
    if (ctx->head_request || st == PT_HTTP_NO_CONTENT
        || st == PT_HTTP_NOT_MODIFIED || (st >= 100 && st < 200))
    {
        ctx->rest = 0;
        ctx->no_body = 1;
    } else if (in->chunked) {
        ctx->rest = -1;
    } else {
        ctx->rest = in->content_length_n;
    }
}

int
pt_proxy_body_init(pt_proxy_ctx_t *ctx)
{
    pt_http_request_t *r = ctx->r;
    int                rc;

    if (copy_headers(ctx) != PT_OK) {
        pt_proxy_finalize(ctx, PT_HTTP_INTERNAL_SERVER_ERROR);
        return PT_ERROR;
    }
    accel_settings(ctx);
    set_framing(ctx);
    if (ctx->headers_in.version == 9) {
        r->http_version = 9;    /* the bytes go out as they came */
        r->keepalive = 0;
    }
    ctx->upgrade = ctx->headers_in.status == PT_HTTP_SWITCHING_PROTOCOLS
                   && r->headers_in.upgrade != NULL;
    if (ctx->upgrade) {
        r->keepalive = 0;
    }
    ctx->action = "reading upstream";
    ctx->bufs_max = ctx->buffering ? ctx->conf->bufs_num : 0;
    ctx->buf_size = ctx->conf->bufs_size;
    r->read_event_handler = pt_http_block_reading;
    ctx->header_sent = 1;
    rc = pt_http_send_header(r);
    if (rc == PT_ERROR) {
        pt_proxy_finalize(ctx, PT_ERROR);
        return PT_ERROR;
    }
    r->write_event_handler = client_write;
    if (ctx->upgrade) {
        pt_proxy_tunnel_init(ctx);
        return PT_ERROR;   /* the tunnel goes on by itself */
    }
    return PT_OK;
}

/* Descriptors whose bytes all went out return to the free list: busy
 * holds only data, in the order the write filter sends it, so those are
 * the ones before the first unsent byte. */
static void
retire_busy(pt_proxy_ctx_t *ctx)
{
    pt_chain_t *cl;

    while (ctx->busy != NULL && pt_buf_size(ctx->busy->buf) == 0) {
        cl = ctx->busy;
        ctx->busy = cl->next;
        cl->next = ctx->free_desc;
        ctx->free_desc = cl;
    }
    if (ctx->busy == NULL) {
        ctx->busy_tail = &ctx->busy;
    }
}

/* Is any byte of raw buffer `raw` still waiting to go out, handed to the
 * filters (busy) or about to be (`out`, this round's descriptors)? */
static int
raw_busy(pt_proxy_ctx_t *ctx, pt_chain_t *out, pt_buf_t *raw)
{
    pt_chain_t *cl;

    for (cl = ctx->busy; cl != NULL; cl = cl->next) {
        if (cl->buf->shadow == raw && pt_buf_size(cl->buf) > 0) {
            return 1;
        }
    }
    for (cl = out; cl != NULL; cl = cl->next) {
        if (cl->buf->shadow == raw) {
            return 1;
        }
    }
    return 0;
}

/* proxy_busy_buffers_size: do the memory buffers whose bytes wait in
 * the client's output (busy, or this round's `out`) reach the limit?
 * File ranges hold no buffer, so they do not count, as in nginx. A raw
 * buffer counts whole, once per run of its descriptors. */
static int
busy_full(pt_proxy_ctx_t *ctx, pt_chain_t *out)
{
    pt_chain_t *lists[2] = { ctx->busy, out }, *cl;
    pt_buf_t   *prev = NULL;
    size_t      size = 0;
    int         i;

    for (i = 0; i < 2; i++) {
        for (cl = lists[i]; cl != NULL; cl = cl->next) {
            if (cl->buf->in_file || cl->buf->shadow == prev
                || pt_buf_size(cl->buf) == 0)
            {
                continue;
            }
            prev = cl->buf->shadow;
            size += (size_t) (prev->end - prev->start);
            if (size >= ctx->conf->busy_size) {
                return 1;
            }
        }
    }
    return 0;
}

/* A new raw buffer while proxy_buffers allows one, or NULL. */
static pt_buf_t *
new_raw(pt_proxy_ctx_t *ctx)
{
    pt_chain_t *cl;
    pt_buf_t   *b;

    if (ctx->bufs_made >= ctx->bufs_max) {
        return NULL;
    }
    cl = pt_alloc_chain_link(ctx->r->pool);
    b = pt_buf_create_temp(ctx->r->pool, ctx->buf_size);
    if (cl == NULL || b == NULL) {
        return NULL;
    }
    cl->buf = b;
    cl->next = ctx->raws;
    ctx->raws = cl;
    ctx->bufs_made++;
    return b;
}

/* The raw buffer to read into next, or NULL when all are taken or, with
 * proxy_buffering, when the busy ones reach proxy_busy_buffers_size (the
 * read then goes to the temp file, or waits). */
static pt_buf_t *
read_buffer(pt_proxy_ctx_t *ctx, pt_chain_t *out)
{
    pt_chain_t *cl;
    pt_buf_t   *b = ctx->cur;

    if (b != NULL && b->last < b->end) {
        return b;
    }
    if (ctx->buffering && busy_full(ctx, out)) {
        return NULL;
    }
    if (b != NULL && b->pos == b->last && !raw_busy(ctx, out, b)) {
        b->pos = b->last = b->start;
        return b;
    }
    for (cl = ctx->raws; cl != NULL; cl = cl->next) {
        if (cl->buf->pos == cl->buf->last
            && !raw_busy(ctx, out, cl->buf))
        {
            cl->buf->pos = cl->buf->last = cl->buf->start;
            ctx->cur = cl->buf;
            return cl->buf;
        }
    }
    b = new_raw(ctx);
    if (b != NULL) {
        ctx->cur = b;
    }
    return b;
}

/* Another free raw buffer for the same read, none of the k chosen: a
 * free one, or a new one while proxy_buffers allows; NULL otherwise. */
static pt_buf_t *
spare_buffer(pt_proxy_ctx_t *ctx, pt_chain_t *out, pt_buf_t **chosen,
             int k)
{
    pt_chain_t *cl;
    int         i;

    if (ctx->buffering && busy_full(ctx, out)) {
        return NULL;
    }
    for (cl = ctx->raws; cl != NULL; cl = cl->next) {
        for (i = 0; i < k && chosen[i] != cl->buf; i++) {
            /* look further */
        }
        if (i == k && cl->buf->pos == cl->buf->last
            && !raw_busy(ctx, out, cl->buf))
        {
            cl->buf->pos = cl->buf->last = cl->buf->start;
            return cl->buf;
        }
    }
    return new_raw(ctx);
}

/* A cleared descriptor from the free list (or r->pool), appended to
 * *tail; NULL on allocation failure. */
static pt_chain_t *
get_desc(pt_proxy_ctx_t *ctx, pt_chain_t ***tail)
{
    pt_chain_t *cl = ctx->free_desc;
    pt_buf_t   *b;

    if (cl != NULL) {
        ctx->free_desc = cl->next;
        b = cl->buf;
    } else {
        cl = pt_alloc_chain_link(ctx->r->pool);
        b = pt_buf_calloc(ctx->r->pool);
        if (cl == NULL || b == NULL) {
            return NULL;
        }
        cl->buf = b;
    }
    memset(b, 0, sizeof(*b));
    cl->next = NULL;
    **tail = cl;
    *tail = &cl->next;
    return cl;
}

/* A descriptor for [p, p + n) of raw, appended to *tail. */
static int
add_desc(pt_proxy_ctx_t *ctx, pt_chain_t ***tail, pt_buf_t *raw, u_char *p,
         size_t n)
{
    pt_chain_t *cl = get_desc(ctx, tail);
    pt_buf_t   *b;

    if (cl == NULL) {
        return PT_ERROR;
    }
    b = cl->buf;
    b->start = b->pos = p;
    b->end = b->last = p + n;
    b->temporary = 1;
    b->shadow = raw;
    b->tag = ctx;
    ctx->state->response_length += (off_t) n;
    return PT_OK;
}

/* Turn the undecoded bytes of raw into body descriptors. PT_OK,
 * PT_DONE (the body is complete) or PT_ERROR (invalid chunked framing,
 * logged; or allocation). */
static int
decode(pt_proxy_ctx_t *ctx, pt_buf_t *raw, pt_chain_t ***tail)
{
    off_t n;
    int   rc;

    if (!ctx->headers_in.chunked || ctx->no_body) {
        n = raw->last - raw->pos;
        if (ctx->rest >= 0) {
            n = pt_min(n, ctx->rest);
            ctx->rest -= n;
        }
        if (n > 0 && add_desc(ctx, tail, raw, raw->pos, (size_t) n) != PT_OK) {
            return PT_ERROR;
        }
        raw->pos += n;
        if (ctx->rest == 0) {
            ctx->extra = raw->pos < raw->last;
            raw->pos = raw->last;
            return PT_DONE;
        }
        return PT_OK;
    }
    while (raw->pos < raw->last) {
        rc = pt_http_parse_chunked(&ctx->chunked, raw);
        if (rc == PT_OK) {
            n = pt_min(ctx->chunked.size, raw->last - raw->pos);
            if (n > 0
                && add_desc(ctx, tail, raw, raw->pos, (size_t) n) != PT_OK)
            {
                return PT_ERROR;
            }
            raw->pos += n;
            ctx->chunked.size -= n;
            continue;
        }
        if (rc == PT_DONE) {
            ctx->extra = raw->pos < raw->last;
            raw->pos = raw->last;
            return PT_DONE;
        }
        if (rc == PT_AGAIN) {
            break;
        }
        pt_log_error(PT_LOG_ERR, &ctx->log, 0, "upstream sent invalid "
                     "chunked response");
        return PT_ERROR;
    }
    return PT_OK;
}

/* Buffers one readv() fills at most (proxy_buffers bounds them first). */
#define PROXY_READ_IOVS  16

/* This round's body descriptors, not yet handed to the filters. */
typedef struct {
    pt_chain_t   *out;
    pt_chain_t  **tail;
    pt_buf_t     *range;    /* the spilled range out ends with, or NULL */
} round_t;

/* Write the body bytes the spill buffer holds to the temp file in one
 * go (they gather up to proxy_temp_file_write_size, the buffer's size)
 * as a file range at the end of the round: rd->range's when that is the
 * range just before. PT_OK or PT_ERROR (logged). */
static int
spill_flush(pt_proxy_ctx_t *ctx, round_t *rd)
{
    pt_buf_t   *sb = ctx->spill;
    pt_file_t  *f = ctx->temp_file;
    pt_chain_t *cl;
    off_t       start = ctx->temp_size;
    u_char     *p;
    ssize_t     n;

    if (sb == NULL || sb->last == sb->start) {
        return PT_OK;
    }
    for (p = sb->start; p < sb->last; p += n) {
        n = pwrite(f->fd, p, (size_t) (sb->last - p), ctx->temp_size);
        if (n == -1 && errno == EINTR) {
            n = 0;
            continue;
        }
        if (n <= 0) {
            pt_log_error(PT_LOG_CRIT, &ctx->log, errno, "pwrite() to a "
                         "temp file failed");
            return PT_ERROR;
        }
        ctx->temp_size += n;
    }
    sb->pos = sb->last = sb->start;
    if (rd->range == NULL || rd->range->file_last != start) {
        cl = get_desc(ctx, &rd->tail);
        if (cl == NULL) {
            return PT_ERROR;
        }
        rd->range = cl->buf;
        rd->range->in_file = 1;
        rd->range->file = f;
        rd->range->file_pos = start;
        rd->range->tag = ctx;
    }
    rd->range->file_last = ctx->temp_size;
    return PT_OK;
}

/* The client is slower and no memory buffer may be read into: may this
 * read go to the temp file instead (proxy_buffering,
 * proxy_max_temp_file_size)? The spill buffer, written out first when
 * full; NULL, with PT_ERROR in *rc when that write failed. */
static pt_buf_t *
spill_buffer(pt_proxy_ctx_t *ctx, round_t *rd, int *rc)
{
    pt_http_request_t *r = ctx->r;
    pt_file_t         *f;
    off_t              held;

    held = ctx->spill != NULL ? ctx->spill->last - ctx->spill->start : 0;
    if (!ctx->buffering || ctx->conf->max_temp_file_size <= 0
        || ctx->temp_size + held >= ctx->conf->max_temp_file_size)
    {
        return NULL;
    }
    if (ctx->temp_file == NULL) {
        f = pt_file_temp(r->pool, ctx->conf->temp_path, &ctx->log);
        if (f == NULL) {
            ctx->conf_no_spill = 1;   /* logged */
            return NULL;
        }
        ctx->temp_file = f;
        ctx->spill = pt_buf_create_temp(r->pool,
                                        ctx->conf->temp_write_size);
        if (ctx->spill == NULL) {
            return NULL;
        }
        pt_log_error(PT_LOG_WARN, &ctx->log, 0, "an upstream response is "
                     "buffered to a temporary file %s", f->name.data);
    }
    if (ctx->spill->last == ctx->spill->end && spill_flush(ctx, rd) != PT_OK) {
        *rc = PT_ERROR;
        return NULL;
    }
    return ctx->spill;
}

/* Gather the body bytes a read decoded into the spill buffer (those of
 * the descriptors from *mark on, chunk framing between them) at `base`,
 * right after the bytes held before it; the descriptors go back to the
 * free list. */
static void
spill_keep(pt_proxy_ctx_t *ctx, pt_chain_t **mark, round_t *rd, u_char *base)
{
    pt_chain_t *cl, *next;
    size_t      n;

    for (cl = *mark; cl != NULL; cl = next) {
        next = cl->next;
        n = (size_t) (cl->buf->last - cl->buf->pos);
        memmove(base, cl->buf->pos, n);
        base += n;
        cl->next = ctx->free_desc;
        ctx->free_desc = cl;
    }
    *mark = NULL;
    rd->tail = mark;
    ctx->spill->pos = ctx->spill->last = base;
}

/* Hand `out` (and the end of the body when `last`) to the filters; its
 * descriptors stay on busy until their bytes are out. */
static int
pass_out(pt_proxy_ctx_t *ctx, pt_chain_t *out, int last, int flush)
{
    pt_http_request_t *r = ctx->r;
    pt_chain_t       **tail = &out;
    int                rc, flagged = last || flush;

    if (out == NULL && !last && !flush) {
        return r->out != NULL ? pt_http_output_filter(r, NULL) : PT_OK;
    }
    while (*tail != NULL) {
        tail = &(*tail)->next;
    }
    if (flagged) {
        /* one flag-only buffer per request, never on busy: it carries no
         * bytes, so the write filter may hold it more than once. The
         * end gets its own: a filter may still hold a flush mark (gzip
         * waiting for the socket), which must not turn into the end */
        ctx->flag_buf.flush = 1;
        ctx->last_buf.last_buf = 1;
        ctx->flag_link.buf = last ? &ctx->last_buf : &ctx->flag_buf;
        ctx->flag_link.next = NULL;
        *tail = &ctx->flag_link;
    }
    rc = pt_http_output_filter(r, out);
    if (flagged) {
        *tail = NULL;   /* the flag link stays ours */
    }
    if (out != NULL) {
        *ctx->busy_tail = out;
        ctx->busy_tail = tail;
    }
    return rc;
}

/* Does the kept connection stay usable after this response? */
static int
reusable(pt_proxy_ctx_t *ctx)
{
    pt_proxy_headers_in_t *in = &ctx->headers_in;

    return ctx->conf->http_version == PT_HTTP_VERSION_11
           && in->version >= PT_HTTP_VERSION_11 && !in->connection_close
           && !ctx->extra && !ctx->upstream_eof && ctx->request_sent;
}

/* The body is complete: release the upstream connection at once (to the
 * keep-alive pool when it may be reused), send the end of the body. */
static void
body_done(pt_proxy_ctx_t *ctx)
{
    pt_http_request_t *r = ctx->r;
    int                rc;

    ctx->upstream_done = 1;
    pt_proxy_close_peer(ctx, reusable(ctx));
    rc = pass_out(ctx, NULL, 1, 0);
    ctx->finalized = 1;
    r->write_event_handler = pt_http_request_empty_handler;
    pt_http_finalize_request(r, rc == PT_ERROR ? PT_ERROR : PT_OK);
}

/* proxy_limit_rate: how long reading must pause for the bytes read so
 * far to stay within the rate; 0 to read now. */
static pt_msec_t
rate_delay(pt_proxy_ctx_t *ctx)
{
    off_t allowed;

    if (ctx->limit_rate == 0) {
        return 0;
    }
    allowed = (off_t) ctx->limit_rate
              * (pt_current_msec - ctx->start_msec) / 1000;
    if (ctx->state->bytes_received < allowed) {
        return 0;
    }
    return (pt_msec_t) ((ctx->state->bytes_received - allowed) * 1000
                        / (off_t) ctx->limit_rate) + 1;
}

/* The buffer for the next read: a free memory one (this round's data is
 * offered to the client first when none is), else the temp file's; *spill
 * tells which. NULL when the client is slower and nothing may spill;
 * PT_ERROR in *rc when the client failed. */
static pt_buf_t *
next_buffer(pt_proxy_ctx_t *ctx, round_t *rd, int *spill, int *rc)
{
    pt_buf_t *b = read_buffer(ctx, rd->out);

    *spill = 0;
    if (b == NULL && rd->out != NULL) {
        if (spill_flush(ctx, rd) != PT_OK
            || pass_out(ctx, rd->out, 0, 1) == PT_ERROR)
        {
            *rc = PT_ERROR;
            return NULL;
        }
        rd->out = NULL;
        rd->tail = &rd->out;
        rd->range = NULL;
        retire_busy(ctx);
        b = read_buffer(ctx, NULL);
    }
    if (b != NULL) {
        /* bytes read into memory follow those the spill buffer holds */
        if (spill_flush(ctx, rd) != PT_OK) {
            *rc = PT_ERROR;
            return NULL;
        }
        return b;
    }
    if (!ctx->conf_no_spill) {
        b = spill_buffer(ctx, rd, rc);
        *spill = b != NULL;
    }
    return b;
}

/* The origin closed: the end of a body without framing, else an error
 * (logged). */
static int
body_eof(pt_proxy_ctx_t *ctx)
{
    ctx->upstream_eof = 1;
    if (ctx->rest == -1 && !ctx->headers_in.chunked) {
        return PT_DONE;
    }
    pt_log_error(PT_LOG_ERR, &ctx->log, 0, "upstream prematurely "
                 "closed connection");
    return PT_ERROR;
}

/* Bytes just read into bufs[0..k) in order (n in all): each buffer's
 * descriptors; bytes after the end of the body are extra. */
static int
decode_read(pt_proxy_ctx_t *ctx, round_t *rd, pt_buf_t **bufs, int k,
            size_t n)
{
    size_t take;
    int    i, rc = PT_OK;

    for (i = 0; i < k && n > 0; i++) {
        take = pt_min(n, (size_t) (bufs[i]->end - bufs[i]->last));
        bufs[i]->last += take;
        n -= take;
        ctx->cur = bufs[i];
        if (rc == PT_OK) {
            rc = decode(ctx, bufs[i], &rd->tail);
        } else if (rc == PT_DONE) {
            ctx->extra = 1;
            bufs[i]->pos = bufs[i]->last;
        }
        if (rc == PT_ERROR) {
            break;
        }
    }
    return rc;
}

/* One readv() into b and the other free raw buffers proxy_buffers
 * allows: a large body in a few calls rather than one per buffer (plain
 * connections; TLS reads one buffer at a time). Returns as read_once. */
static int
read_many(pt_proxy_ctx_t *ctx, round_t *rd, pt_buf_t *b)
{
    pt_connection_t *c = ctx->u->peer.connection;
    pt_buf_t        *bufs[PROXY_READ_IOVS];
    struct iovec     iov[PROXY_READ_IOVS];
    size_t           room = 0;
    ssize_t          n;
    int              i, k = 1;

    bufs[0] = b;
    while (k < PROXY_READ_IOVS
           && (bufs[k] = spare_buffer(ctx, rd->out, bufs, k)) != NULL)
    {
        k++;
    }
    for (i = 0; i < k; i++) {
        iov[i].iov_base = bufs[i]->last;
        iov[i].iov_len = (size_t) (bufs[i]->end - bufs[i]->last);
        room += iov[i].iov_len;
    }
    do {
        n = readv(c->fd, iov, k);
    } while (n == -1 && errno == EINTR);
    n = pt_proxy_read_done(ctx, n, room, "readv()");
    if (n == PT_AGAIN || n == PT_ERROR) {
        return (int) n;
    }
    if (n == 0) {
        return body_eof(ctx);
    }
    rd->range = NULL;
    return decode_read(ctx, rd, bufs, k, (size_t) n);
}

/* One read from the origin into the round: PT_OK (go on), PT_AGAIN (the
 * origin has no more now), PT_DECLINED (the client is slower), PT_DONE
 * (the body is complete) or PT_ERROR (logged). */
static int
read_once(pt_proxy_ctx_t *ctx, round_t *rd)
{
    pt_chain_t **mark;
    pt_buf_t    *b;
    u_char      *base;
    ssize_t      n;
    int          rc = PT_OK, spill;

    b = next_buffer(ctx, rd, &spill, &rc);
    if (b == NULL) {
        return rc == PT_ERROR ? PT_ERROR : PT_DECLINED;
    }
    if (!spill && ctx->limit_rate == 0
        && ctx->u->peer.connection->tls == NULL)
    {
        return read_many(ctx, rd, b);
    }
    mark = rd->tail;
    base = b->last;
    n = pt_proxy_recv(ctx, b);
    if (n == PT_AGAIN || n == PT_ERROR) {
        return (int) n;
    }
    if (n == 0) {
        return body_eof(ctx);
    }
    rc = decode(ctx, b, &rd->tail);
    if (!spill) {
        rd->range = NULL;
    } else if (rc != PT_ERROR) {
        spill_keep(ctx, mark, rd, base);
    }
    return rc;
}

/* Read what the origin has into free raw buffers and pass it on. */
static void
body_read(pt_proxy_ctx_t *ctx)
{
    pt_connection_t *c = ctx->u->peer.connection;
    round_t          rd;
    pt_msec_t        delay = 0;
    int              rc = PT_AGAIN;

    rd.out = NULL;
    rd.tail = &rd.out;
    rd.range = NULL;
    while (c->read->ready) {
        delay = rate_delay(ctx);
        if (delay > 0) {
            ctx->rate_delayed = 1;
            break;
        }
        rc = read_once(ctx, &rd);
        if (rc != PT_OK) {
            break;
        }
    }
    if (rc != PT_ERROR && spill_flush(ctx, &rd) != PT_OK) {
        rc = PT_ERROR;
    }
    if (rc == PT_ERROR) {
        pass_out(ctx, rd.out, 0, 1);
        pt_proxy_finalize(ctx, PT_HTTP_BAD_GATEWAY);
        return;
    }
    if (pass_out(ctx, rd.out, 0, rd.out != NULL && rc != PT_DONE)
        == PT_ERROR)
    {
        pt_proxy_finalize(ctx, PT_ERROR);
        return;
    }
    if (rc == PT_DONE) {
        body_done(ctx);
        return;
    }
    if (rc == PT_DECLINED) {
        /* the client is slower: the origin waits, its timer too */
        pt_timer_del(c->read);
        if (!ctx->r->connection->write->timer_set) {
            pt_timer_add(ctx->r->connection->write,
                         pt_http_core_loc_conf(ctx->r)->send_timeout);
        }
        return;
    }
    pt_timer_add(c->read, delay > 0 ? delay : ctx->conf->read_timeout);
}

static void
upstream_read(pt_proxy_ctx_t *ctx)
{
    pt_connection_t *c = ctx->u->peer.connection;

    if (c->read->timedout) {
        c->read->timedout = 0;
        if (!ctx->rate_delayed) {
            pt_log_error(PT_LOG_ERR, &ctx->log, ETIMEDOUT,
                         "upstream timed out");
            pt_proxy_finalize(ctx, PT_HTTP_GATEWAY_TIME_OUT);
            return;
        }
    }
    ctx->rate_delayed = 0;
    pt_proxy_body_process(ctx);
}

static void
upstream_write(pt_proxy_ctx_t *ctx)
{
    (void) ctx;
}

void
pt_proxy_body_process(pt_proxy_ctx_t *ctx)
{
    pt_http_request_t *r = ctx->r;
    pt_chain_t        *out = NULL, **tail = &out;
    int                rc;

    if (ctx->busy_tail == NULL) {
        /* first call: what came with the head, then the origin */
        ctx->busy_tail = &ctx->busy;
        ctx->read_handler = upstream_read;
        ctx->write_handler = upstream_write;
        ctx->cur = ctx->buffer;
        rc = ctx->no_body && ctx->rest == 0 ? PT_DONE
                                            : decode(ctx, ctx->buffer, &tail);
        if (rc == PT_ERROR) {
            pt_proxy_finalize(ctx, PT_HTTP_BAD_GATEWAY);
            return;
        }
        if (rc == PT_DONE) {
            if (out != NULL && pass_out(ctx, out, 0, 0) == PT_ERROR) {
                pt_proxy_finalize(ctx, PT_ERROR);
                return;
            }
            body_done(ctx);
            return;
        }
        if (pass_out(ctx, out, 0, out != NULL) == PT_ERROR) {
            pt_proxy_finalize(ctx, PT_ERROR);
            return;
        }
    } else if (r->out != NULL && pass_out(ctx, NULL, 0, 0) == PT_ERROR) {
        pt_proxy_finalize(ctx, PT_ERROR);
        return;
    }
    retire_busy(ctx);
    if (ctx->u->peer.connection == NULL) {
        return;
    }
    body_read(ctx);
}

/* The client can take more: flush, then read what the origin holds. */
static void
client_write(pt_http_request_t *r)
{
    pt_proxy_ctx_t  *ctx = ((pt_http_upstream_t *) r->upstream)->state;
    pt_connection_t *c = r->connection;

    if (!pt_http_write_delay_over(c) && c->write->timedout) {
        c->write->timedout = 0;
        c->timedout = 1;
        pt_log_error(PT_LOG_INFO, &ctx->log, ETIMEDOUT, "client timed out");
        pt_proxy_finalize(ctx, PT_HTTP_REQUEST_TIME_OUT);
        return;
    }
    if (ctx->upgrade) {
        pt_proxy_tunnel(ctx);
        return;
    }
    if (pass_out(ctx, NULL, 0, 0) == PT_ERROR) {
        pt_proxy_finalize(ctx, PT_ERROR);
        return;
    }
    if (r->out == NULL) {
        pt_timer_del(c->write);
    }
    retire_busy(ctx);
    if (ctx->u->peer.connection != NULL) {
        body_read(ctx);
    }
}

/* ------------------------------------------------------------------ */
/* Upgraded connections: bytes both ways until either side closes      */

static void
tunnel_event(pt_proxy_ctx_t *ctx)
{
    pt_connection_t *c = ctx->u->peer.connection;

    if (c->read->timedout || c->write->timedout) {
        pt_log_error(PT_LOG_INFO, &ctx->log, ETIMEDOUT, "upstream timed out");
        pt_proxy_finalize(ctx, PT_OK);
        return;
    }
    pt_proxy_tunnel(ctx);
}

static void
client_tunnel(pt_http_request_t *r)
{
    pt_proxy_ctx_t *ctx = ((pt_http_upstream_t *) r->upstream)->state;

    if (r->connection->read->timedout) {
        r->connection->read->timedout = 0;
        pt_proxy_finalize(ctx, PT_OK);
        return;
    }
    pt_proxy_tunnel(ctx);
}

void
pt_proxy_tunnel_init(pt_proxy_ctx_t *ctx)
{
    pt_http_request_t *r = ctx->r;
    pt_buf_t          *in = r->header_in;
    size_t             n;

    ctx->busy_tail = &ctx->busy;
    ctx->up_buf = pt_buf_create_temp(r->pool, ctx->conf->buffer_size);
    if (ctx->up_buf == NULL) {
        pt_proxy_finalize(ctx, PT_ERROR);
        return;
    }
    /* what the client sent after its request head is the tunnel's */
    n = pt_min((size_t) (in->last - in->pos), ctx->conf->buffer_size);
    memcpy(ctx->up_buf->last, in->pos, n);
    ctx->up_buf->last += n;
    in->pos += n;
    ctx->action = "proxying upgraded connection";
    ctx->read_handler = tunnel_event;
    ctx->write_handler = tunnel_event;
    r->read_event_handler = client_tunnel;
    if (pass_out(ctx, NULL, 0, 1) == PT_ERROR) {
        pt_proxy_finalize(ctx, PT_ERROR);
        return;
    }
    pt_proxy_tunnel(ctx);
}

/* One direction's step: send what `b` holds to `to`, refill it from
 * `from`. Returns 1 on progress, 0 on none, -1 on an error. The client
 * side goes through its connection's I/O (TLS hides there). */
static int
tunnel_down(pt_proxy_ctx_t *ctx, pt_buf_t *b)
{
    pt_connection_t *cc = ctx->r->connection, *uc = ctx->u->peer.connection;
    ssize_t          n;

    if (b->pos < b->last) {
        if (ctx->r->out != NULL || !cc->write->ready) {
            return 0;
        }
        n = cc->send(cc, b->pos, (size_t) (b->last - b->pos));
        if (n == PT_ERROR) {
            return -1;
        }
        if (n == PT_AGAIN) {
            return 0;
        }
        b->pos += n;
        return 1;
    }
    b->pos = b->last = b->start;
    if (ctx->upstream_eof || !uc->read->ready) {
        return 0;
    }
    n = pt_proxy_io_recv(uc, b->last, (size_t) (b->end - b->last));
    if (n == -1) {
        if (errno == EAGAIN || errno == EINTR) {
            uc->read->ready = errno == EINTR;
            return 0;
        }
        ctx->upstream_eof = 1;
        return 1;
    }
    if (n == 0) {
        ctx->upstream_eof = 1;
        return 1;
    }
    ctx->state->bytes_received += n;
    b->last += n;
    return 1;
}

static int
tunnel_up(pt_proxy_ctx_t *ctx, pt_buf_t *b)
{
    pt_connection_t *cc = ctx->r->connection, *uc = ctx->u->peer.connection;
    ssize_t          n;

    if (b->pos < b->last) {
        n = pt_proxy_io_send(uc, b->pos, (size_t) (b->last - b->pos));
        if (n == -1) {
            if (errno == EAGAIN || errno == EINTR) {
                uc->write->ready = 0;
                return 0;
            }
            ctx->upstream_eof = 1;
            return 1;
        }
        b->pos += n;
        return 1;
    }
    b->pos = b->last = b->start;
    if (ctx->client_eof || !cc->read->ready) {
        return 0;
    }
    n = cc->recv(cc, b->last, (size_t) (b->end - b->last));
    if (n == PT_AGAIN) {
        return 0;
    }
    if (n == 0 || n == PT_ERROR) {
        ctx->client_eof = 1;
        return 1;
    }
    b->last += n;
    return 1;
}

void
pt_proxy_tunnel(pt_proxy_ctx_t *ctx)
{
    pt_http_request_t *r = ctx->r;
    pt_connection_t   *uc = ctx->u->peer.connection;
    pt_buf_t          *down = ctx->buffer, *up = ctx->up_buf;
    int                d, u, bound = 64;

    if (r->out != NULL && pass_out(ctx, NULL, 0, 0) == PT_ERROR) {
        pt_proxy_finalize(ctx, PT_OK);
        return;
    }
    do {
        d = tunnel_down(ctx, down);
        u = tunnel_up(ctx, up);
        if (d < 0 || u < 0) {
            pt_proxy_finalize(ctx, PT_OK);
            return;
        }
        if ((ctx->upstream_eof && down->pos == down->last)
            || (ctx->client_eof && up->pos == up->last))
        {
            r->keepalive = 0;
            pt_proxy_finalize(ctx, PT_OK);
            return;
        }
    } while ((d || u) && --bound > 0);
    if (bound == 0) {
        /* fairness: come back at the end of this loop step */
        pt_event_post(uc->read);
    }
    pt_timer_add(uc->read, ctx->conf->read_timeout);
    if (down->pos < down->last) {
        pt_timer_add(r->connection->write, ctx->conf->send_timeout);
    } else {
        pt_timer_del(r->connection->write);
    }
}
