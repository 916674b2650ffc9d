/*
 * The gzip filter: compresses 200/403/404 responses of the gzip_types for
 * clients that take gzip. A whole body of known size up to WHOLE_MAX goes
 * through libdeflate in one call (when built with it); anything else
 * streams through zlib in bounded gzip_buffers, sync-flushing on `flush`.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "common/buf.h"
#include "common/file.h"
#include "common/log.h"
#include "common/pool.h"
#include "common/regex.h"
#include "common/time.h"
#include "http.h"
#include "http_accept_encoding.h"
#include "http_core.h"
#include "http_gzip.h"
#include "http_request.h"
#include "http_variables.h"
#include "http_xform.h"
#include "pt_auto.h"

#if PT_HAVE_LIBDEFLATE
#include <libdeflate.h>
#endif

/*
 * Bodies of a known length up to this go to libdeflate whole: it is
 * about three times zlib's speed at a smaller size, but cannot stream.
 * 256 KiB in plus its bound out (~512 KiB) is of the order of zlib's own
 * state (256 KiB at the default window and hash) plus gzip_buffers, so
 * the per-response memory bound stays what streaming costs.
 */
#define WHOLE_MAX      (256 * 1024)
#define GZIP_BUFFERED  0x01     /* r->buffered: this filter holds data */

typedef struct {
    int           enable;
    int           vary;
    pt_int_t      level;
    off_t         min_length;
    pt_uint_t     bufs_num;
    size_t        bufs_size;
    pt_uint_t     http_version;
    pt_uint_t     proxied;
    size_t        wbits;      /* from gzip_window */
    size_t        memlevel;   /* from gzip_hash */
    pt_array_t   *types;      /* pt_str_t, lowercase; NULL: unset */
    int           any_type;
    pt_array_t   *disable;    /* pt_regex_t; NULL: none */
    int           disable_msie6;
    int           disable_set;
} gzip_conf_t;

typedef struct {
    pt_http_xform_t  x;        /* streaming through zlib */
    z_stream      zs;
    off_t         zin, zout;   /* totals, for $gzip_ratio */
    off_t         length;      /* the body's, when known; else -1 */
    u_char       *whole;       /* gathering a body of known length */
    size_t        whole_len, whole_cap;
    unsigned      whole_mode:1;
    unsigned      zinit:1;
    unsigned      done:1;
} gzip_ctx_t;

static void *create_loc_conf(pt_conf_t *cf);
static char *merge_loc_conf(pt_conf_t *cf, void *parent, void *child);
static char *set_types(pt_conf_t *cf, pt_command_t *cmd, void *conf);
static char *set_bufs(pt_conf_t *cf, pt_command_t *cmd, void *conf);
static char *set_disable(pt_conf_t *cf, pt_command_t *cmd, void *conf);
static char *set_pow2(pt_conf_t *cf, pt_command_t *cmd, void *conf);
static int postconfiguration(pt_conf_t *cf);
static int deflate_step(pt_http_request_t *r, pt_http_xform_t *x, int mode);

static char *set_level(pt_conf_t *cf, pt_command_t *cmd, void *conf);

static const pt_conf_enum_t http_versions[] = {
    { "1.0", PT_HTTP_VERSION_10 },
    { "1.1", PT_HTTP_VERSION_11 },
    { NULL, 0 }
};

static const pt_conf_enum_t proxied_values[] = {
    { "off", PT_GZIP_PROXIED_OFF },
    { "expired", PT_GZIP_PROXIED_EXPIRED },
    { "no-cache", PT_GZIP_PROXIED_NO_CACHE },
    { "no-store", PT_GZIP_PROXIED_NO_STORE },
    { "private", PT_GZIP_PROXIED_PRIVATE },
    { "no_last_modified", PT_GZIP_PROXIED_NO_LM },
    { "no_etag", PT_GZIP_PROXIED_NO_ETAG },
    { "auth", PT_GZIP_PROXIED_AUTH },
    { "any", PT_GZIP_PROXIED_ANY },
    { NULL, 0 }
};

#define GZIP_CTX (PT_CONF_HTTP | PT_CONF_SERVER | PT_CONF_LOCATION)

static pt_command_t gzip_commands[] = {
    { "gzip", GZIP_CTX | PT_CONF_IF | PT_CONF_FLAG, pt_conf_set_flag,
      PT_CONF_LOC_OFFSET, offsetof(gzip_conf_t, enable), NULL },
    { "gzip_vary", GZIP_CTX | PT_CONF_FLAG, pt_conf_set_flag,
      PT_CONF_LOC_OFFSET, offsetof(gzip_conf_t, vary), NULL },
    { "gzip_comp_level", GZIP_CTX | PT_CONF_TAKE1, set_level,
      PT_CONF_LOC_OFFSET, offsetof(gzip_conf_t, level), NULL },
    { "gzip_min_length", GZIP_CTX | PT_CONF_TAKE1, pt_conf_set_off,
      PT_CONF_LOC_OFFSET, offsetof(gzip_conf_t, min_length), NULL },
    { "gzip_buffers", GZIP_CTX | PT_CONF_TAKE2, set_bufs,
      PT_CONF_LOC_OFFSET, 0, NULL },
    { "gzip_http_version", GZIP_CTX | PT_CONF_TAKE1, pt_conf_set_enum,
      PT_CONF_LOC_OFFSET, offsetof(gzip_conf_t, http_version),
      http_versions },
    { "gzip_proxied", GZIP_CTX | PT_CONF_1MORE, pt_conf_set_bitmask,
      PT_CONF_LOC_OFFSET, offsetof(gzip_conf_t, proxied), proxied_values },
    { "gzip_types", GZIP_CTX | PT_CONF_1MORE, set_types,
      PT_CONF_LOC_OFFSET, 0, NULL },
    { "gzip_disable", GZIP_CTX | PT_CONF_1MORE, set_disable,
      PT_CONF_LOC_OFFSET, 0, NULL },
    { "gzip_window", GZIP_CTX | PT_CONF_TAKE1, set_pow2,
      PT_CONF_LOC_OFFSET, offsetof(gzip_conf_t, wbits), NULL },
    { "gzip_hash", GZIP_CTX | PT_CONF_TAKE1, set_pow2,
      PT_CONF_LOC_OFFSET, offsetof(gzip_conf_t, memlevel), NULL },
    pt_null_command
};

#if PT_HAVE_LIBDEFLATE
static void exit_process(pt_cycle_t *cycle);
#define EXIT_PROCESS exit_process
#else
#define EXIT_PROCESS NULL
#endif

pt_module_t pt_http_gzip_filter_module = {
    "http_gzip_filter", gzip_commands,
    NULL, NULL, NULL, NULL,
    create_loc_conf, merge_loc_conf,
    NULL, NULL, EXIT_PROCESS, 0, PT_MODULE_HTTP, postconfiguration
};

static pt_http_output_header_filter_pt next_header_filter;
static pt_http_output_body_filter_pt   next_body_filter;

/* ------------------------------------------------------------------ */
/* The client test                                                     */

static int
proxied_ok(pt_http_request_t *r, gzip_conf_t *conf)
{
    pt_http_gzip_proxied_in_t in;
    pt_table_elt_t           *e = r->headers_out.expires;
    pt_table_elt_t           *d = r->headers_out.date;
    pt_table_elt_t           *cc = r->headers_out.cache_control;

    memset(&in, 0, sizeof(in));
    in.authorization = r->headers_in.authorization != NULL;
    in.expires = e != NULL && e->hash != 0 ? &e->value : NULL;
    in.date = d != NULL && d->hash != 0 ? &d->value : NULL;
    in.now = pt_time_sec;
    in.cache_control = cc;
    /* the header line only (an origin's), as nginx: a static file's
     * mtime does not count */
    in.last_modified = r->headers_out.last_modified != NULL
                       && r->headers_out.last_modified->hash != 0;
    in.etag = r->headers_out.etag != NULL && r->headers_out.etag->hash != 0;
    return pt_http_gzip_proxied_ok(conf->proxied, &in);
}

static int
disabled_for_agent(pt_http_request_t *r, gzip_conf_t *conf)
{
    pt_table_elt_t *ua = r->headers_in.user_agent;
    pt_regex_t     *re;
    pt_uint_t       i;
    int             rc;

    if (r->headers_in.msie6 && conf->disable_msie6) {
        return 1;
    }
    if (conf->disable == NULL || ua == NULL) {
        return 0;
    }
    re = conf->disable->elts;
    for (i = 0; i < conf->disable->nelts; i++) {
        rc = pt_regex_exec(&re[i], ua->value.data, ua->value.len, NULL, 0);
        if (rc == PT_ERROR) {
            pt_log_error(PT_LOG_ALERT, pt_http_request_log(r), 0,
                         "gzip_disable regex \"%s\" failed on \"%.*s\"",
                         re[i].pattern.data, (int) ua->value.len,
                         ua->value.data);
            return 1;
        }
        if (rc != PT_DECLINED) {
            return 1;
        }
    }
    return 0;
}

int
pt_http_gzip_ok(pt_http_request_t *r)
{
    gzip_conf_t    *conf;
    pt_table_elt_t *ae = r->headers_in.accept_encoding;

    r->gzip_tested = 1;
    r->gzip_ok = 0;
    if (r != r->main || ae == NULL
        || !pt_http_accept_encoding_ok(ae->value.data, ae->value.len, "gzip"))
    {
        return PT_DECLINED;
    }
    conf = pt_http_get_module_loc_conf(r, pt_http_gzip_filter_module);
    if (r->http_version < conf->http_version) {
        return PT_DECLINED;
    }
    if (r->headers_in.via != NULL && !proxied_ok(r, conf)) {
        return PT_DECLINED;
    }
    if (disabled_for_agent(r, conf)) {
        return PT_DECLINED;
    }
    r->gzip_ok = 1;
    return PT_OK;
}

void
pt_http_gzip_vary(pt_http_request_t *r)
{
    gzip_conf_t *conf;

    conf = pt_http_get_module_loc_conf(r, pt_http_gzip_filter_module);
    if (conf->vary) {
        r->gzip_vary = 1;
    }
}

/* ------------------------------------------------------------------ */
/* Header filter                                                       */

static int
applies(pt_http_request_t *r, gzip_conf_t *conf)
{
    pt_http_headers_out_t *out = &r->headers_out;

    return conf->enable
           && (out->status == PT_HTTP_OK || out->status == PT_HTTP_FORBIDDEN
               || out->status == PT_HTTP_NOT_FOUND)
           && (out->content_encoding == NULL
               || out->content_encoding->hash == 0
               || out->content_encoding->value.len == 0)
           && (out->content_length_n == -1
               || out->content_length_n >= conf->min_length)
           && pt_http_gzip_type_ok(conf->types, conf->any_type,
                                   out->content_type.data,
                                   out->content_type_len)
           /* a HEAD gets the head a GET would (as nginx), only a head
            * that is all there is to the response (204, 304) is skipped */
           && !(r->header_only && r->method != PT_HTTP_HEAD);
}

static void
zs_cleanup(void *data)
{
    gzip_ctx_t *ctx = data;

    if (ctx->zinit) {
        deflateEnd(&ctx->zs);
        ctx->zinit = 0;
    }
}

static int
header_filter(pt_http_request_t *r)
{
    static pt_str_t    gzip = pt_string("gzip");
    gzip_conf_t       *conf;
    gzip_ctx_t        *ctx;
    pt_pool_cleanup_t *cln;

    conf = pt_http_get_module_loc_conf(r, pt_http_gzip_filter_module);
    if (!applies(r, conf)) {
        return next_header_filter(r);
    }
    pt_http_gzip_vary(r);
    if (r->gzip_tested ? !r->gzip_ok : pt_http_gzip_ok(r) != PT_OK) {
        return next_header_filter(r);
    }

    ctx = pt_pcalloc(r->pool, sizeof(gzip_ctx_t));
    cln = pt_pool_cleanup_add(r->pool, 0);
    if (ctx == NULL || cln == NULL) {
        return PT_ERROR;
    }
    cln->handler = zs_cleanup;
    cln->data = ctx;
    ctx->length = r->headers_out.content_length_n;
    pt_http_xform_init(&ctx->x, &pt_http_gzip_filter_module, GZIP_BUFFERED,
                       conf->bufs_num, conf->bufs_size, deflate_step,
                       next_body_filter, ctx);
#if PT_HAVE_LIBDEFLATE
    if (r->headers_out.content_length_n >= 0
        && r->headers_out.content_length_n <= WHOLE_MAX)
    {
        ctx->whole_mode = 1;
        ctx->whole_cap = (size_t) r->headers_out.content_length_n;
    }
#endif
    pt_http_set_ctx(r, ctx, pt_http_gzip_filter_module);

    if (pt_http_recoded_response(r, &gzip) != PT_OK) {
        return PT_ERROR;
    }
    return next_header_filter(r);
}

/* ------------------------------------------------------------------ */
/* Streaming: zlib                                                     */

static void *
zs_alloc(void *opaque, unsigned items, unsigned size)
{
    (void) opaque;
    return calloc(items, size);
}

static void
zs_free(void *opaque, void *p)
{
    (void) opaque;
    free(p);
}

static int
zs_init(pt_http_request_t *r, gzip_ctx_t *ctx)
{
    gzip_conf_t *conf;
    int          rc, wbits, memlevel;

    conf = pt_http_get_module_loc_conf(r, pt_http_gzip_filter_module);
    wbits = (int) conf->wbits;
    memlevel = (int) conf->memlevel;
    /* a small body of known length needs no larger window (nor hash):
     * nginx's rule, which keeps a small response's zlib state small */
    if (ctx->length > 0) {
        while (ctx->length < ((off_t) 1 << (wbits - 1)) - 262) {
            wbits--;
            memlevel--;
        }
        memlevel = pt_max(memlevel, 1);
    }
    ctx->zs.zalloc = zs_alloc;
    ctx->zs.zfree = zs_free;
    /* windowBits + 16: zlib writes the gzip header and trailer */
    rc = deflateInit2(&ctx->zs, (int) conf->level, Z_DEFLATED, wbits + 16,
                      memlevel, Z_DEFAULT_STRATEGY);
    if (rc != Z_OK) {
        pt_log_error(PT_LOG_ALERT, pt_http_request_log(r), 0,
                     "deflateInit2() failed: %d", rc);
        return PT_ERROR;
    }
    ctx->zinit = 1;
    return PT_OK;
}

/* The codec step: deflate from x's input into its output buffer. */
static int
deflate_step(pt_http_request_t *r, pt_http_xform_t *x, int mode)
{
    static const int flush[] = { Z_NO_FLUSH, Z_SYNC_FLUSH, Z_FINISH };
    gzip_ctx_t      *ctx = x->data;
    int              rc;

    ctx->zs.next_in = (u_char *) x->next_in;
    ctx->zs.avail_in = (uInt) x->avail_in;
    ctx->zs.next_out = x->out_buf->last;
    ctx->zs.avail_out = (uInt) (x->out_buf->end - x->out_buf->last);
    rc = deflate(&ctx->zs, flush[mode]);
    x->next_in = ctx->zs.next_in;
    x->avail_in = ctx->zs.avail_in;
    x->out_buf->last = ctx->zs.next_out;
    if (rc == Z_STREAM_END) {
        ctx->zin = (off_t) ctx->zs.total_in;
        ctx->zout = (off_t) ctx->zs.total_out;
        deflateEnd(&ctx->zs);
        ctx->zinit = 0;
        return PT_DONE;
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
        pt_log_error(PT_LOG_ALERT, pt_http_request_log(r), 0,
                     "deflate() failed: %d, %d", flush[mode], rc);
        return PT_ERROR;
    }
    return PT_OK;
}

/* ------------------------------------------------------------------ */
/* Whole bodies: libdeflate                                            */

#if PT_HAVE_LIBDEFLATE

/*
 * zlib's levels mapped to the libdeflate level whose output is no larger
 * on text (measured on generated HTML/JSON, 100 KiB: zlib 1 gives
 * 23148 bytes, libdeflate 1 22119 at 3.5 times the speed).
 */
static const int libdeflate_level[10] = { 1, 1, 1, 2, 3, 5, 6, 7, 7, 7 };

/* Below this size libdeflate's level 1 can come out a few bytes larger
 * than zlib's level 1 (8 KiB of text: 2177 against 2173 bytes); level 2
 * never did in the measurements, and at that size its cost is small. */
#define SMALL_BODY  16384

/* One compressor per libdeflate level per worker: allocating one is
 * costlier than compressing 100 KiB. Owned by the worker, freed at its
 * exit. */
static struct libdeflate_compressor *compressors[13];

static int
whole_compress(pt_http_request_t *r, gzip_ctx_t *ctx, const u_char *data,
               size_t len)
{
    gzip_conf_t                   *conf;
    struct libdeflate_compressor **c;
    pt_buf_t                      *b;
    pt_chain_t                     out;
    size_t                         bound, n;
    int                            level;

    conf = pt_http_get_module_loc_conf(r, pt_http_gzip_filter_module);
    level = libdeflate_level[conf->level];
    if (len <= SMALL_BODY && level < 2) {
        level = 2;
    }
    c = &compressors[level];
    if (*c == NULL) {
        *c = libdeflate_alloc_compressor(level);
        if (*c == NULL) {
            pt_log_error(PT_LOG_ALERT, pt_http_request_log(r), 0,
                         "libdeflate_alloc_compressor() failed");
            return PT_ERROR;
        }
    }
    bound = libdeflate_gzip_compress_bound(*c, len);
    b = pt_buf_create_temp(r->pool, bound);
    if (b == NULL) {
        return PT_ERROR;
    }
    n = libdeflate_gzip_compress(*c, data, len, b->pos, bound);
    if (n == 0) {
        pt_log_error(PT_LOG_ALERT, pt_http_request_log(r), 0,
                     "libdeflate_gzip_compress() failed");
        return PT_ERROR;
    }
    b->last = b->pos + n;
    b->last_buf = 1;
    ctx->zin = (off_t) len;
    ctx->zout = (off_t) n;
    ctx->done = 1;
    if (ctx->whole != NULL && pt_pfree(r->pool, ctx->whole) == PT_OK) {
        ctx->whole = NULL;
    }
    out.buf = b;
    out.next = NULL;
    return next_body_filter(r, &out);
}

/* Copy a buffer's bytes into the gathered body. */
static int
gather_buf(pt_http_request_t *r, gzip_ctx_t *ctx, pt_buf_t *b)
{
    ssize_t got;

    if (pt_buf_in_memory(b)) {
        memcpy(ctx->whole + ctx->whole_len, b->pos, (size_t) (b->last - b->pos));
        ctx->whole_len += (size_t) (b->last - b->pos);
        b->pos = b->last;
        if (b->in_file) {
            b->file_pos = b->file_last;
        }
        return PT_OK;
    }
    while (b->file_pos < b->file_last) {
        got = pread(b->file->fd, ctx->whole + ctx->whole_len,
                    (size_t) (b->file_last - b->file_pos), b->file_pos);
        if (got == -1 && errno == EINTR) {
            continue;
        }
        if (got <= 0) {
            pt_log_error(PT_LOG_CRIT, pt_http_request_log(r),
                         got == 0 ? 0 : errno, "pread() \"%s\" failed%s",
                         b->file->name.data,
                         got == 0 ? ": file truncated" : "");
            return PT_ERROR;
        }
        b->file_pos += got;
        ctx->whole_len += (size_t) got;
    }
    return PT_OK;
}

/* Back to streaming (a flush, or more bytes than announced): what was
 * gathered goes first, carrying the flush that ended the gathering. */
static int
whole_to_stream(pt_http_request_t *r, gzip_ctx_t *ctx, int flush)
{
    pt_chain_t *cl;
    pt_buf_t   *b;

    ctx->whole_mode = 0;
    if (ctx->whole_len == 0 && !flush) {
        return PT_OK;
    }
    cl = pt_alloc_chain_link(r->pool);
    b = pt_buf_calloc(r->pool);
    if (cl == NULL || b == NULL) {
        return PT_ERROR;
    }
    b->start = b->pos = ctx->whole;
    b->end = b->last = ctx->whole + ctx->whole_len;
    b->temporary = ctx->whole_len > 0;
    b->flush = flush;
    cl->buf = b;
    cl->next = ctx->x.in;
    ctx->x.in = cl;
    return PT_OK;
}

/* Gather a body of known length; compress it once its end arrives. A
 * whole body in one memory buffer is compressed where it lies. */
static int
whole_body(pt_http_request_t *r, gzip_ctx_t *ctx)
{
    pt_buf_t *b;
    size_t    size;

    b = ctx->x.in != NULL ? ctx->x.in->buf : NULL;
    if (ctx->whole_len == 0 && b != NULL && b->last_buf
        && pt_buf_in_memory_only(b))
    {
        ctx->x.in = NULL;
        size = (size_t) (b->last - b->pos);
        b->pos = b->last;
        return whole_compress(r, ctx, b->last - size, size);
    }
    while (ctx->x.in != NULL) {
        b = ctx->x.in->buf;
        size = (size_t) pt_buf_size(b);
        if (ctx->whole_len + size > ctx->whole_cap) {
            return whole_to_stream(r, ctx, 0);
        }
        if (ctx->whole == NULL && ctx->whole_cap > 0) {
            ctx->whole = pt_palloc(r->pool, ctx->whole_cap);
            if (ctx->whole == NULL) {
                return PT_ERROR;
            }
        }
        if (size > 0 && gather_buf(r, ctx, b) != PT_OK) {
            return PT_ERROR;
        }
        ctx->x.in = ctx->x.in->next;
        if (b->last_buf) {
            return whole_compress(r, ctx, ctx->whole != NULL ? ctx->whole
                                  : (u_char *) "", ctx->whole_len);
        }
        if (b->flush) {
            return whole_to_stream(r, ctx, 1);
        }
    }
    return PT_OK;
}

static void
exit_process(pt_cycle_t *cycle)
{
    size_t i;

    (void) cycle;
    for (i = 0; i < pt_nelems(compressors); i++) {
        if (compressors[i] != NULL) {
            libdeflate_free_compressor(compressors[i]);
            compressors[i] = NULL;
        }
    }
}

#endif /* PT_HAVE_LIBDEFLATE */

static int
body_filter(pt_http_request_t *r, pt_chain_t *in)
{
    gzip_ctx_t *ctx = pt_http_get_module_ctx(r, pt_http_gzip_filter_module);

    if (ctx == NULL || ctx->done || ctx->x.done || r->header_only) {
        return next_body_filter(r, in);   /* a HEAD: its head only */
    }
#if PT_HAVE_LIBDEFLATE
    if (ctx->whole_mode) {
        int rc;

        if (in != NULL && pt_chain_append(r->pool, &ctx->x.in, in) != PT_OK) {
            return PT_ERROR;
        }
        in = NULL;
        rc = whole_body(r, ctx);
        if (rc == PT_ERROR || ctx->done) {
            return rc;
        }
        if (ctx->whole_mode) {
            return next_body_filter(r, NULL);   /* gathering */
        }
    }
#endif
    if (!ctx->zinit && zs_init(r, ctx) != PT_OK) {
        return PT_ERROR;
    }
    return pt_http_xform_body(r, &ctx->x, in);
}

/* ------------------------------------------------------------------ */
/* $gzip_ratio                                                         */

static int
var_ratio(pt_http_request_t *r, pt_http_variable_value_t *v, uintptr_t data)
{
    gzip_ctx_t *ctx = pt_http_get_module_ctx(r, pt_http_gzip_filter_module);
    pt_uint_t   hundredths;
    int         n;

    (void) data;
    if (ctx == NULL || ctx->zout == 0) {
        v->not_found = 1;
        return PT_OK;
    }
    v->data = pt_pnalloc(r->pool, 32);
    if (v->data == NULL) {
        return PT_ERROR;
    }
    /* rounded to the nearest hundredth, as nginx prints it */
    hundredths = (pt_uint_t) ((ctx->zin * 1000 / ctx->zout + 5) / 10);
    n = snprintf((char *) v->data, 32, "%lu.%02lu",
                 (unsigned long) (hundredths / 100),
                 (unsigned long) (hundredths % 100));
    v->len = (unsigned) n;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    return PT_OK;
}

/* ------------------------------------------------------------------ */
/* Configuration                                                       */

static void *
create_loc_conf(pt_conf_t *cf)
{
    gzip_conf_t *conf = pt_pcalloc(cf->pool, sizeof(*conf));

    if (conf == NULL) {
        return NULL;
    }
    conf->enable = PT_CONF_UNSET;
    conf->vary = PT_CONF_UNSET;
    conf->level = PT_CONF_UNSET;
    conf->min_length = (off_t) PT_CONF_UNSET;
    conf->bufs_num = PT_CONF_UNSET_UINT;
    conf->http_version = PT_CONF_UNSET_UINT;
    conf->proxied = PT_CONF_UNSET_UINT;
    conf->wbits = PT_CONF_UNSET_SIZE;
    conf->memlevel = PT_CONF_UNSET_SIZE;
    conf->any_type = PT_CONF_UNSET;
    conf->disable_msie6 = PT_CONF_UNSET;
    return conf;
}

static int
default_types(pt_conf_t *cf, gzip_conf_t *conf)
{
    pt_str_t *t;

    conf->types = pt_array_create(cf->pool, 1, sizeof(pt_str_t));
    if (conf->types == NULL || (t = pt_array_push(conf->types)) == NULL) {
        return PT_ERROR;
    }
    pt_str_set(t, "text/html");
    return PT_OK;
}

static char *
merge_loc_conf(pt_conf_t *cf, void *parent, void *child)
{
    gzip_conf_t *prev = parent, *conf = child;

    pt_conf_merge_value(conf->enable, prev->enable, 0);
    pt_conf_merge_value(conf->vary, prev->vary, 0);
    pt_conf_merge_value(conf->level, prev->level, 1);
    if (conf->min_length == (off_t) PT_CONF_UNSET) {
        conf->min_length = prev->min_length == (off_t) PT_CONF_UNSET
                           ? 20 : prev->min_length;
    }
    pt_http_merge_bufs(&conf->bufs_num, &conf->bufs_size, prev->bufs_num,
                       prev->bufs_size);
    if (conf->http_version == PT_CONF_UNSET_UINT) {
        conf->http_version = prev->http_version == PT_CONF_UNSET_UINT
                             ? PT_HTTP_VERSION_11 : prev->http_version;
    }
    if (conf->proxied == PT_CONF_UNSET_UINT) {
        conf->proxied = prev->proxied == PT_CONF_UNSET_UINT
                        ? PT_GZIP_PROXIED_OFF : prev->proxied;
    }
    pt_conf_merge_size(conf->wbits, prev->wbits, MAX_WBITS);
    pt_conf_merge_size(conf->memlevel, prev->memlevel, MAX_MEM_LEVEL - 1);
    if (conf->types == NULL) {
        conf->types = prev->types;
        conf->any_type = prev->any_type;
        if (conf->types == NULL && default_types(cf, conf) != PT_OK) {
            return PT_CONF_ERROR;
        }
    }
    if (conf->any_type == PT_CONF_UNSET) {
        conf->any_type = 0;
    }
    if (!conf->disable_set) {
        conf->disable = prev->disable;
        conf->disable_msie6 = prev->disable_msie6;
    }
    if (conf->disable_msie6 == PT_CONF_UNSET) {
        conf->disable_msie6 = 0;
    }
    return PT_CONF_OK;
}

/* gzip_types MIME... ("*": any); text/html is always one of them. */
static char *
set_types(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    gzip_conf_t *gcf = conf;
    pt_str_t    *t;
    pt_uint_t    i, j;
    size_t       k;

    if (gcf->types == NULL && default_types(cf, gcf) != PT_OK) {
        return PT_CONF_ERROR;
    }
    for (i = 1; i < cf->nargs; i++) {
        if (pt_str_eq_cstr(&cf->args[i], "*")) {
            gcf->any_type = 1;
            continue;
        }
        for (k = 0; k < cf->args[i].len; k++) {
            cf->args[i].data[k] = pt_tolower(cf->args[i].data[k]);
        }
        t = gcf->types->elts;
        for (j = 0; j < gcf->types->nelts; j++) {
            if (pt_str_eq(&t[j], &cf->args[i])) {
                pt_conf_log_error(PT_LOG_WARN, cf, 0, "duplicate MIME type "
                                  "\"%.*s\"", (int) cf->args[i].len,
                                  cf->args[i].data);
                break;
            }
        }
        if (j < gcf->types->nelts) {
            continue;
        }
        t = pt_array_push(gcf->types);
        if (t == NULL) {
            return PT_CONF_ERROR;
        }
        *t = cf->args[i];
    }
    return PT_CONF_OK;
}

/* gzip_comp_level 1..9, with nginx's message for a number out of range */
static char *
set_level(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    gzip_conf_t *gcf = conf;
    char        *rv = pt_conf_set_num(cf, cmd, conf);

    if (rv == PT_CONF_OK && (gcf->level < 1 || gcf->level > 9)) {
        pt_conf_log_error(PT_LOG_EMERG, cf, 0,
                          "value must be between 1 and 9");
        return PT_CONF_ERROR;
    }
    return rv;
}

/* gzip_buffers NUMBER SIZE */
static char *
set_bufs(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    gzip_conf_t *gcf = conf;

    (void) cmd;
    if (gcf->bufs_num != PT_CONF_UNSET_UINT) {
        return "is duplicate";
    }
    return pt_http_conf_set_bufs(cf, &gcf->bufs_num, &gcf->bufs_size);
}

/* gzip_disable REGEX... | msie6 */
static char *
set_disable(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    gzip_conf_t *gcf = conf;
    pt_regex_t  *re;
    pt_uint_t    i;
    u_char       err[256];

    gcf->disable_set = 1;
    for (i = 1; i < cf->nargs; i++) {
        if (pt_str_eq_cstr(&cf->args[i], "msie6")) {
            gcf->disable_msie6 = 1;
            continue;
        }
        if (gcf->disable == NULL) {
            gcf->disable = pt_array_create(cf->pool, 2, sizeof(pt_regex_t));
            if (gcf->disable == NULL) {
                return PT_CONF_ERROR;
            }
        }
        re = pt_array_push(gcf->disable);
        if (re == NULL) {
            return PT_CONF_ERROR;
        }
        if (pt_regex_compile(cf->pool, re, &cf->args[i], 1, err,
                             sizeof(err)) != PT_OK)
        {
            pt_conf_log_error(PT_LOG_EMERG, cf, 0, "%s", (char *) err);
            return PT_CONF_ERROR;
        }
    }
    return PT_CONF_OK;
}

/* gzip_window 512..32k -> window bits 9..15; gzip_hash 512..128k ->
 * zlib memLevel 1..9 (nginx's mapping and messages). */
static char *
set_pow2(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    size_t  *field = (size_t *) ((u_char *) conf + cmd->offset);
    int      window = cmd->offset == offsetof(gzip_conf_t, wbits);
    ssize_t  size;
    size_t   bits = 0;

    if (*field != PT_CONF_UNSET_SIZE) {
        return "is duplicate";
    }
    size = pt_parse_size(&cf->args[1]);
    if (size >= 512 && (size & (size - 1)) == 0
        && size <= (window ? 32768 : 131072))
    {
        while ((ssize_t) 1 << bits < size) {
            bits++;
        }
        *field = window ? bits : bits - 8;
        return PT_CONF_OK;
    }
    pt_conf_log_error(PT_LOG_EMERG, cf, 0, "\"%s\" directive must be %s",
                      cmd->name, window
                      ? "512, 1k, 2k, 4k, 8k, 16k, or 32k"
                      : "512, 1k, 2k, 4k, 8k, 16k, 32k, 64k, or 128k");
    return PT_CONF_ERROR;
}

static int
postconfiguration(pt_conf_t *cf)
{
    pt_http_variable_t *v;
    pt_str_t            name = pt_string("gzip_ratio");

    v = pt_http_add_variable(cf, &name, PT_HTTP_VAR_NOCACHEABLE);
    if (v == NULL) {
        return PT_ERROR;
    }
    v->get_handler = var_ratio;

    next_header_filter = pt_http_top_header_filter;
    pt_http_top_header_filter = header_filter;
    next_body_filter = pt_http_top_body_filter;
    pt_http_top_body_filter = body_filter;
    return PT_OK;
}
