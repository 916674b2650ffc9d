/*
 * The gunzip filter: `gunzip on` decompresses a response with
 * "Content-Encoding: gzip" for a client that does not take gzip, in
 * gunzip_buffers. A corrupt or truncated stream ends the response
 * without its terminating chunk, logged, as an aborted response.
 */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "common/log.h"
#include "common/pool.h"
#include "http.h"
#include "http_core.h"
#include "http_gzip.h"
#include "http_request.h"
#include "http_xform.h"

#define GUNZIP_BUFFERED  0x02     /* r->buffered (gzip has 0x01) */

typedef struct {
    int        enable;
    pt_uint_t  bufs_num;
    size_t     bufs_size;
} gunzip_conf_t;

typedef struct {
    pt_http_xform_t  x;
    z_stream         zs;
    unsigned         zinit:1;
    unsigned         ended:1;    /* a gzip member ended */
} gunzip_ctx_t;

static void *create_loc_conf(pt_conf_t *cf);
static char *merge_loc_conf(pt_conf_t *cf, void *parent, void *child);
static char *set_bufs(pt_conf_t *cf, pt_command_t *cmd, void *conf);
static int postconfiguration(pt_conf_t *cf);

#define GUNZIP_CTX (PT_CONF_HTTP | PT_CONF_SERVER | PT_CONF_LOCATION)

static pt_command_t gunzip_commands[] = {
    { "gunzip", GUNZIP_CTX | PT_CONF_FLAG, pt_conf_set_flag,
      PT_CONF_LOC_OFFSET, offsetof(gunzip_conf_t, enable), NULL },
    { "gunzip_buffers", GUNZIP_CTX | PT_CONF_TAKE2, set_bufs,
      PT_CONF_LOC_OFFSET, 0, NULL },
    pt_null_command
};

pt_module_t pt_http_gunzip_filter_module = {
    "http_gunzip_filter", gunzip_commands,
    NULL, NULL, NULL, NULL,
    create_loc_conf, merge_loc_conf,
    NULL, NULL, NULL, 0, PT_MODULE_HTTP, postconfiguration
};

static pt_http_output_header_filter_pt next_header_filter;
static pt_http_output_body_filter_pt   next_body_filter;

static void
zs_cleanup(void *data)
{
    gunzip_ctx_t *ctx = data;

    if (ctx->zinit) {
        inflateEnd(&ctx->zs);
        ctx->zinit = 0;
    }
}

static void
log_corrupt(pt_http_request_t *r, gunzip_ctx_t *ctx, const char *what)
{
    pt_log_error(PT_LOG_ERR, pt_http_request_log(r), 0, "gunzip: %s%s%s, "
                 "response aborted", what, ctx->zs.msg != NULL ? ": " : "",
                 ctx->zs.msg != NULL ? ctx->zs.msg : "");
}

/* The codec step: inflate x's input. Concatenated gzip members are one
 * body (as gunzip(1) reads them). */
static int
inflate_step(pt_http_request_t *r, pt_http_xform_t *x, int mode)
{
    gunzip_ctx_t *ctx = x->data;
    int           rc;

    if (ctx->ended) {
        if (x->avail_in == 0) {
            return mode == PT_XFORM_FINISH ? PT_DONE : PT_OK;
        }
        if (inflateReset(&ctx->zs) != Z_OK) {
            log_corrupt(r, ctx, "inflateReset() failed");
            return PT_ERROR;
        }
        ctx->ended = 0;
    }
    ctx->zs.next_in = (u_char *) x->next_in;
    ctx->zs.avail_in = (uInt) x->avail_in;
    ctx->zs.next_out = x->out_buf->last;
    ctx->zs.avail_out = (uInt) (x->out_buf->end - x->out_buf->last);
    rc = inflate(&ctx->zs, mode == PT_XFORM_RUN ? Z_NO_FLUSH : Z_SYNC_FLUSH);
    x->next_in = ctx->zs.next_in;
    x->avail_in = ctx->zs.avail_in;
    x->out_buf->last = ctx->zs.next_out;

    if (rc == Z_STREAM_END) {
        ctx->ended = 1;
        return mode == PT_XFORM_FINISH && x->avail_in == 0 ? PT_DONE : PT_OK;
    }
    if (rc == Z_BUF_ERROR && x->out_buf->last < x->out_buf->end) {
        if (mode == PT_XFORM_FINISH) {
            log_corrupt(r, ctx, "unexpected end of the gzip stream");
            return PT_ERROR;
        }
        return PT_OK;                  /* needs more input */
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
        log_corrupt(r, ctx, rc == Z_DATA_ERROR ? "corrupt gzip stream"
                                               : "inflate() failed");
        return PT_ERROR;
    }
    if (mode == PT_XFORM_FINISH && x->out_buf->last < x->out_buf->end) {
        log_corrupt(r, ctx, "unexpected end of the gzip stream");
        return PT_ERROR;
    }
    return PT_OK;
}

static int
header_filter(pt_http_request_t *r)
{
    static pt_str_t    none = pt_null_string;
    gunzip_conf_t     *conf;
    gunzip_ctx_t      *ctx;
    pt_table_elt_t    *ce = r->headers_out.content_encoding;
    pt_pool_cleanup_t *cln;

    conf = pt_http_get_module_loc_conf(r, pt_http_gunzip_filter_module);
    if (!conf->enable || ce == NULL || ce->hash == 0 || ce->value.len != 4
        || pt_strncasecmp(ce->value.data, (u_char *) "gzip", 4) != 0)
    {
        return next_header_filter(r);
    }
    pt_http_gzip_vary(r);
    if (r->gzip_tested ? r->gzip_ok : pt_http_gzip_ok(r) == PT_OK) {
        return next_header_filter(r);
    }

    ctx = pt_pcalloc(r->pool, sizeof(gunzip_ctx_t));
    cln = pt_pool_cleanup_add(r->pool, 0);
    if (ctx == NULL || cln == NULL) {
        return PT_ERROR;
    }
    cln->handler = zs_cleanup;
    cln->data = ctx;
    /* windowBits 16 + 15: a gzip stream only, any window */
    if (inflateInit2(&ctx->zs, 16 + MAX_WBITS) != Z_OK) {
        pt_log_error(PT_LOG_ALERT, pt_http_request_log(r), 0,
                     "inflateInit2() failed");
        return PT_ERROR;
    }
    ctx->zinit = 1;
    pt_http_xform_init(&ctx->x, &pt_http_gunzip_filter_module,
                       GUNZIP_BUFFERED, conf->bufs_num, conf->bufs_size,
                       inflate_step, next_body_filter, ctx);
    pt_http_set_ctx(r, ctx, pt_http_gunzip_filter_module);
    if (pt_http_recoded_response(r, &none) != PT_OK) {
        return PT_ERROR;
    }
    return next_header_filter(r);
}

static int
body_filter(pt_http_request_t *r, pt_chain_t *in)
{
    gunzip_ctx_t *ctx;
    int           rc;

    ctx = pt_http_get_module_ctx(r, pt_http_gunzip_filter_module);
    if (ctx == NULL || ctx->x.done || r->header_only) {
        return next_body_filter(r, in);
    }
    rc = pt_http_xform_body(r, &ctx->x, in);
    if (ctx->x.done && ctx->zinit) {
        inflateEnd(&ctx->zs);
        ctx->zinit = 0;
    }
    return rc;
}

static void *
create_loc_conf(pt_conf_t *cf)
{
    gunzip_conf_t *conf = pt_pcalloc(cf->pool, sizeof(*conf));

    if (conf != NULL) {
        conf->enable = PT_CONF_UNSET;
        conf->bufs_num = PT_CONF_UNSET_UINT;
    }
    return conf;
}

static char *
merge_loc_conf(pt_conf_t *cf, void *parent, void *child)
{
    gunzip_conf_t *prev = parent, *conf = child;

    (void) cf;
    pt_conf_merge_value(conf->enable, prev->enable, 0);
    pt_http_merge_bufs(&conf->bufs_num, &conf->bufs_size, prev->bufs_num,
                       prev->bufs_size);
    return PT_CONF_OK;
}

static char *
set_bufs(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    gunzip_conf_t *gcf = conf;

    (void) cmd;
    if (gcf->bufs_num != PT_CONF_UNSET_UINT) {
        return "is duplicate";
    }
    return pt_http_conf_set_bufs(cf, &gcf->bufs_num, &gcf->bufs_size);
}

static int
postconfiguration(pt_conf_t *cf)
{
    (void) cf;
    next_header_filter = pt_http_top_header_filter;
    pt_http_top_header_filter = header_filter;
    next_body_filter = pt_http_top_body_filter;
    pt_http_top_body_filter = body_filter;
    return PT_OK;
}
