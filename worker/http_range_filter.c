/*
 * The range filter: "Accept-Ranges: bytes" on 200 responses of a known
 * length that allow ranges, and a Range request's 206 (one part, or
 * multipart/byteranges) or 416. The body filter cuts the body to the
 * ranges: file ranges and memory alike, for one range in any number of
 * buffers, for several in the one buffer holding the whole body.
 */
#include <stdint.h>
#include <string.h>

#include "common/array.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/pool.h"
#include "http.h"
#include "http_cond.h"
#include "http_core.h"
#include "http_range.h"
#include "http_request.h"

typedef struct {
    pt_array_t           ranges;    /* pt_http_range_t, header order */
    off_t                offset;    /* body bytes seen so far */
    pt_http_multipart_t  mp;        /* several ranges: the framing */
    unsigned             done:1;    /* one range: its end went out */
} range_ctx_t;

static int postconfiguration(pt_conf_t *cf);

pt_module_t pt_http_range_filter_module = {
    "http_range_filter", NULL,
    NULL, NULL, NULL, NULL, NULL, NULL,
    NULL, NULL, NULL, 0, PT_MODULE_HTTP, postconfiguration
};

static pt_http_output_header_filter_pt next_header_filter;
static pt_http_output_body_filter_pt   next_body_filter;

/* The multipart boundary: a per-worker counter from 1 (nginx shares its
 * temp-file counter among workers; only uniqueness within a response
 * matters). */
static uint64_t boundary;

static int
add_header(pt_http_request_t *r, const char *key, size_t klen,
           const pt_str_t *value, pt_table_elt_t **slot)
{
    pt_str_t k;

    k.data = (u_char *) key;
    k.len = klen;
    *slot = pt_http_add_header_out(r, &k, value);
    return *slot != NULL ? PT_OK : PT_ERROR;
}

/* The Content-Length header element (not the value) no longer applies. */
static void
drop_length_header(pt_http_request_t *r)
{
    if (r->headers_out.content_length != NULL) {
        r->headers_out.content_length->hash = 0;
        r->headers_out.content_length = NULL;
    }
}

static int
singlepart_header(pt_http_request_t *r, range_ctx_t *ctx)
{
    pt_http_range_t *range = ctx->ranges.elts;
    pt_str_t         v;

    if (pt_http_range_content_range(r->pool, range,
                                    r->headers_out.content_length_n, &v)
        != PT_OK
        || add_header(r, "Content-Range", 13, &v,
                      &r->headers_out.content_range) != PT_OK)
    {
        return PT_ERROR;
    }
    r->headers_out.content_length_n = range->end - range->start;
    drop_length_header(r);
    return next_header_filter(r);
}

static int
multipart_header(pt_http_request_t *r, range_ctx_t *ctx)
{
    pt_http_headers_out_t *out = &r->headers_out;
    pt_str_t               charset = pt_null_string;

    /* a type that already carries its charset keeps it as is */
    if (out->content_type_len == out->content_type.len) {
        charset = out->charset;
    }
    if (pt_http_range_multipart(r->pool, &ctx->ranges, &out->content_type,
                                &charset, out->content_length_n, ++boundary,
                                &ctx->mp) != PT_OK)
    {
        return PT_ERROR;
    }
    out->content_type = ctx->mp.content_type;
    out->content_type_len = ctx->mp.content_type.len;
    out->charset.len = 0;
    out->content_length_n = ctx->mp.content_length;
    drop_length_header(r);
    return next_header_filter(r);
}

/* 416 with "Content-Range: bytes *" + "/LEN": returned to the handler,
 * whose finalization sends the error page (keeping Content-Range). */
static int
not_satisfiable(pt_http_request_t *r)
{
    pt_str_t v;

    r->headers_out.status = PT_HTTP_RANGE_NOT_SATISFIABLE;
    if (pt_http_range_content_range(r->pool, NULL,
                                    r->headers_out.content_length_n, &v)
        != PT_OK
        || add_header(r, "Content-Range", 13, &v,
                      &r->headers_out.content_range) != PT_OK)
    {
        return PT_ERROR;
    }
    pt_http_clear_content_length(r);
    return PT_HTTP_RANGE_NOT_SATISFIABLE;
}

/* Does the Range header apply: "bytes=..." and If-Range (when sent)
 * matching the response's ETag or Last-Modified? */
static int
range_applies(pt_http_request_t *r)
{
    pt_table_elt_t *range = r->headers_in.range, *if_range;
    pt_table_elt_t *etag = r->headers_out.etag;

    if (range == NULL || range->value.len < 7
        || pt_strncasecmp(range->value.data, (u_char *) "bytes=", 6) != 0)
    {
        return 0;
    }
    if_range = r->headers_in.if_range;
    return if_range == NULL
           || pt_http_if_range_ok(&if_range->value,
                                  etag != NULL ? &etag->value : NULL,
                                  r->headers_out.last_modified_time);
}

static int
range_header_filter(pt_http_request_t *r)
{
    pt_http_loc_conf_t *clcf = pt_http_core_loc_conf(r);
    pt_str_t            bytes = pt_string("bytes");
    range_ctx_t        *ctx;
    pt_table_elt_t     *range = r->headers_in.range;

    if (r->http_version < PT_HTTP_VERSION_10
        || r->headers_out.status != PT_HTTP_OK || r != r->main
        || r->headers_out.content_length_n == -1 || !r->allow_ranges
        || clcf->max_ranges == 0)
    {
        return next_header_filter(r);
    }

    if (range_applies(r)) {
        ctx = pt_pcalloc(r->pool, sizeof(range_ctx_t));
        if (ctx == NULL
            || pt_array_init(&ctx->ranges, r->pool, 1,
                             sizeof(pt_http_range_t)) != PT_OK)
        {
            return PT_ERROR;
        }
        switch (pt_http_range_parse(range->value.data, range->value.len,
                                    r->headers_out.content_length_n,
                                    r->single_range ? 1 : clcf->max_ranges,
                                    &ctx->ranges))
        {
        case PT_OK:
            pt_http_set_ctx(r, ctx, pt_http_range_filter_module);
            r->headers_out.status = PT_HTTP_PARTIAL_CONTENT;
            r->headers_out.status_line.len = 0;
            return ctx->ranges.nelts == 1 ? singlepart_header(r, ctx)
                                          : multipart_header(r, ctx);
        case PT_HTTP_RANGE_NOT_SATISFIABLE:
            return not_satisfiable(r);
        case PT_ERROR:
            return PT_ERROR;
        default:
            break;    /* ignored: the whole body */
        }
    }

    if (add_header(r, "Accept-Ranges", 13, &bytes,
                   &r->headers_out.accept_ranges) != PT_OK)
    {
        return PT_ERROR;
    }
    return next_header_filter(r);
}

/* Drop n bytes from the front (or, with back, the end) of a buffer's data,
 * in memory and in the file alike. */
static void
cut(pt_buf_t *b, off_t n, int back)
{
    if (pt_buf_in_memory(b)) {
        if (back) {
            b->last -= n;
        } else {
            b->pos += n;
        }
    }
    if (b->in_file) {
        if (back) {
            b->file_last -= n;
        } else {
            b->file_pos += n;
        }
    }
}

/*
 * One range: each buffer is cut to its part of the range, in place (as
 * nginx does: so that the producer sees consumed buffers as sent), those
 * outside it emptied and dropped; the buffer holding the range's end
 * becomes the last one and what follows is dropped.
 */
static int
singlepart_body(pt_http_request_t *r, range_ctx_t *ctx, pt_chain_t *in)
{
    pt_http_range_t *range = ctx->ranges.elts;
    pt_chain_t      *out = NULL, **tail = &out, *cl, *ln;
    pt_buf_t        *b;
    off_t            start, end, size;

    for (cl = in; cl != NULL; cl = cl->next) {
        b = cl->buf;
        size = pt_buf_size(b);
        if (ctx->done) {
            cut(b, size, 0);
            continue;
        }
        start = ctx->offset;
        end = start + size;
        ctx->offset = end;

        if (size > 0 && (end <= range->start || start >= range->end)) {
            cut(b, size, 0);
            if (!b->last_buf) {
                continue;
            }
        } else if (size > 0) {
            if (range->start > start) {
                cut(b, range->start - start, 0);
            }
            if (range->end < end) {
                cut(b, end - range->end, 1);
            }
        }
        if (end >= range->end || b->last_buf) {
            b->last_buf = 1;
            b->last_in_chain = 1;
            ctx->done = 1;
        }
        ln = pt_alloc_chain_link(r->pool);
        if (ln == NULL) {
            return PT_ERROR;
        }
        ln->buf = b;
        ln->next = NULL;
        *tail = ln;
        tail = &ln->next;
    }
    return next_body_filter(r, out);
}

/* Several ranges are served only from one buffer holding them all (a
 * static file's, or a whole body in memory), as nginx does. */
static int
test_overlapped(pt_http_request_t *r, range_ctx_t *ctx, pt_chain_t *in)
{
    pt_http_range_t *range = ctx->ranges.elts;
    pt_buf_t        *b = in->buf;
    off_t            size = pt_buf_size(b);
    pt_uint_t        i;

    if (ctx->offset != 0) {
        goto overlapped;
    }
    if (!b->last_buf) {
        for (i = 0; i < ctx->ranges.nelts; i++) {
            if (range[i].end > size) {
                goto overlapped;
            }
        }
    }
    ctx->offset = size;
    return PT_OK;

overlapped:
    pt_log_error(PT_LOG_ALERT, pt_http_request_log(r), 0, "range in "
                 "overlapped buffers");
    return PT_ERROR;
}

static int
append(pt_http_request_t *r, pt_chain_t ***tail, pt_buf_t *b)
{
    pt_chain_t *ln = pt_alloc_chain_link(r->pool);

    if (ln == NULL) {
        return PT_ERROR;
    }
    ln->buf = b;
    ln->next = NULL;
    **tail = ln;
    *tail = &ln->next;
    return PT_OK;
}

static pt_buf_t *
memory_buf(pt_pool_t *pool, const pt_str_t *s)
{
    pt_buf_t *b = pt_buf_calloc(pool);

    if (b != NULL) {
        b->pos = b->start = s->data;
        b->last = b->end = s->data + s->len;
        b->memory = 1;
    }
    return b;
}

/* The multipart body: for each range its part header and a descriptor of
 * its bytes in the source buffer (which is left untouched), then the
 * closing boundary. */
static int
multipart_body(pt_http_request_t *r, range_ctx_t *ctx, pt_chain_t *in)
{
    pt_http_range_t *range = ctx->ranges.elts;
    pt_buf_t        *src = in->buf, *b;
    pt_chain_t      *out = NULL, **tail = &out;
    pt_uint_t        i;

    for (i = 0; i < ctx->ranges.nelts; i++) {
        b = memory_buf(r->pool, &ctx->mp.headers[i]);
        if (b == NULL || append(r, &tail, b) != PT_OK) {
            return PT_ERROR;
        }
        b = pt_buf_calloc(r->pool);
        if (b == NULL) {
            return PT_ERROR;
        }
        if (pt_buf_in_memory(src)) {
            b->temporary = src->temporary;
            b->memory = src->memory;
            b->start = src->start;
            b->end = src->end;
            b->pos = src->pos + range[i].start;
            b->last = src->pos + range[i].end;
        }
        if (src->in_file) {
            b->in_file = 1;
            b->file = src->file;
            b->file_pos = src->file_pos + range[i].start;
            b->file_last = src->file_pos + range[i].end;
        }
        if (append(r, &tail, b) != PT_OK) {
            return PT_ERROR;
        }
    }
    b = memory_buf(r->pool, &ctx->mp.trailer);
    if (b == NULL) {
        return PT_ERROR;
    }
    b->last_buf = 1;
    b->last_in_chain = 1;
    if (append(r, &tail, b) != PT_OK) {
        return PT_ERROR;
    }
    return next_body_filter(r, out);
}

static int
range_body_filter(pt_http_request_t *r, pt_chain_t *in)
{
    range_ctx_t *ctx = pt_http_get_module_ctx(r, pt_http_range_filter_module);

    if (in == NULL || ctx == NULL) {
        return next_body_filter(r, in);
    }
    if (ctx->ranges.nelts == 1) {
        return singlepart_body(r, ctx, in);
    }
    if (pt_buf_special(in->buf)) {
        return next_body_filter(r, in);
    }
    if (test_overlapped(r, ctx, in) != PT_OK) {
        return PT_ERROR;
    }
    return multipart_body(r, ctx, in);
}

static int
postconfiguration(pt_conf_t *cf)
{
    next_header_filter = pt_http_top_header_filter;
    pt_http_top_header_filter = range_header_filter;
    next_body_filter = pt_http_top_body_filter;
    pt_http_top_body_filter = range_body_filter;
    return PT_OK;
}
