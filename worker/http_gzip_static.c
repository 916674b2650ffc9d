/*
 * gzip_static: a GET or HEAD of a file whose precompressed "file.gz" lies
 * beside it is answered with the .gz (the original's Content-Type, the
 * .gz's length, mtime and ETag, Content-Encoding: gzip) when the client
 * takes gzip, or always with `gzip_static always`.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "common/buf.h"
#include "common/file.h"
#include "common/log.h"
#include "common/pool.h"
#include "http.h"
#include "http_cond.h"
#include "http_core.h"
#include "http_gzip.h"
#include "http_request.h"

#define GZIP_STATIC_OFF     0
#define GZIP_STATIC_ON      1
#define GZIP_STATIC_ALWAYS  2

typedef struct {
    pt_uint_t  enable;
} gzip_static_conf_t;

static void *create_loc_conf(pt_conf_t *cf);
static char *merge_loc_conf(pt_conf_t *cf, void *parent, void *child);
static int postconfiguration(pt_conf_t *cf);

static const pt_conf_enum_t static_values[] = {
    { "off", GZIP_STATIC_OFF },
    { "on", GZIP_STATIC_ON },
    { "always", GZIP_STATIC_ALWAYS },
    { NULL, 0 }
};

static pt_command_t gzip_static_commands[] = {
    { "gzip_static", PT_CONF_HTTP | PT_CONF_SERVER | PT_CONF_LOCATION
      | PT_CONF_TAKE1, pt_conf_set_enum, PT_CONF_LOC_OFFSET,
      offsetof(gzip_static_conf_t, enable), static_values },
    pt_null_command
};

pt_module_t pt_http_gzip_static_module = {
    "http_gzip_static", gzip_static_commands,
    NULL, NULL, NULL, NULL,
    create_loc_conf, merge_loc_conf,
    NULL, NULL, NULL, 0, PT_MODULE_HTTP, postconfiguration
};

/* Open path.gz; NULL when there is none to serve (a failure other than
 * "no such file" is logged, and the original is served instead). */
static pt_file_t *
open_gz(pt_http_request_t *r, pt_str_t *path)
{
    pt_file_t *file = pt_file_open(r->pool, path, pt_http_request_log(r));
    int        err = errno;

    if (file != NULL) {
        return file;
    }
    if (err != ENOENT && err != ENOTDIR && err != ENAMETOOLONG) {
        pt_log_error(err == EACCES || err == ELOOP || err == EMLINK
                     ? PT_LOG_ERR : PT_LOG_CRIT, pt_http_request_log(r),
                     err, "open() \"%s\" failed", path->data);
    }
    return NULL;
}

static int
set_headers(pt_http_request_t *r, struct stat *st)
{
    static pt_str_t  ce_key = pt_string("Content-Encoding");
    static pt_str_t  gzip = pt_string("gzip");
    pt_str_t         etag_key = pt_string("ETag"), v;
    pt_table_elt_t  *h;

    r->headers_out.status = PT_HTTP_OK;
    r->headers_out.content_length_n = st->st_size;
    r->headers_out.last_modified_time = st->st_mtime;
    if (pt_http_core_loc_conf(r)->etag) {
        v.data = pt_pnalloc(r->pool, PT_HTTP_ETAG_MAX_LEN);
        if (v.data == NULL) {
            return PT_ERROR;
        }
        v.len = (size_t) (pt_http_etag_make(v.data, st->st_mtime, st->st_size)
                          - v.data);
        pt_http_clear_etag(r);
        h = pt_http_add_header_out(r, &etag_key, &v);
        if (h == NULL) {
            return PT_ERROR;
        }
        r->headers_out.etag = h;
    }
    if (pt_http_set_content_type(r) != PT_OK) {
        return PT_ERROR;
    }
    h = pt_http_add_header_out(r, &ce_key, &gzip);
    if (h == NULL) {
        return PT_ERROR;
    }
    r->headers_out.content_encoding = h;
    /* no ranges of a .gz (nginx leaves allow_ranges off here too) */
    return PT_OK;
}

static int
gzip_static_handler(pt_http_request_t *r)
{
    gzip_static_conf_t *conf;
    pt_str_t            path;
    pt_file_t          *file;
    pt_buf_t           *b;
    pt_chain_t          out;
    struct stat         st;
    size_t              root;
    u_char             *last;
    int                 ok, rc;

    conf = pt_http_get_module_loc_conf(r, pt_http_gzip_static_module);
    if (conf->enable == GZIP_STATIC_OFF
        || !(r->method & (PT_HTTP_GET | PT_HTTP_HEAD))
        || r->uri.data[r->uri.len - 1] == '/')
    {
        return PT_DECLINED;
    }
    ok = conf->enable == GZIP_STATIC_ALWAYS || pt_http_gzip_ok(r) == PT_OK;

    last = pt_http_map_uri_to_path(r, &path, &root, sizeof(".gz") - 1);
    if (last == NULL) {
        return PT_HTTP_INTERNAL_SERVER_ERROR;
    }
    memcpy(last, ".gz", sizeof(".gz"));
    path.len = (size_t) (last - path.data) + 3;

    file = open_gz(r, &path);
    if (file == NULL) {
        return PT_DECLINED;
    }
    if (conf->enable == GZIP_STATIC_ON) {
        pt_http_gzip_vary(r);
    }
    if (!ok) {
        return PT_DECLINED;
    }
    if (fstat(file->fd, &st) == -1) {
        pt_log_error(PT_LOG_CRIT, pt_http_request_log(r), errno,
                     "fstat() \"%s\" failed", path.data);
        return PT_HTTP_INTERNAL_SERVER_ERROR;
    }
    if (S_ISDIR(st.st_mode)) {
        return PT_DECLINED;
    }
    if (!S_ISREG(st.st_mode)) {
        pt_log_error(PT_LOG_CRIT, pt_http_request_log(r), 0,
                     "\"%s\" is not a regular file", path.data);
        return PT_HTTP_NOT_FOUND;
    }
    r->root_tested = !r->error_page;
    if (pt_http_discard_request_body(r) != PT_OK
        || set_headers(r, &st) != PT_OK)
    {
        return PT_HTTP_INTERNAL_SERVER_ERROR;
    }

    b = pt_buf_calloc(r->pool);
    if (b == NULL) {
        return PT_HTTP_INTERNAL_SERVER_ERROR;
    }
    rc = pt_http_send_header(r);
    if (rc == PT_ERROR || rc > PT_OK || r->header_only) {
        return rc;
    }
    b->file = file;
    b->file_last = st.st_size;
    b->in_file = st.st_size > 0;
    b->last_buf = 1;
    b->last_in_chain = 1;
    out.buf = b;
    out.next = NULL;
    return pt_http_output_filter(r, &out);
}

static void *
create_loc_conf(pt_conf_t *cf)
{
    gzip_static_conf_t *conf = pt_pcalloc(cf->pool, sizeof(*conf));

    if (conf != NULL) {
        conf->enable = PT_CONF_UNSET_UINT;
    }
    return conf;
}

static char *
merge_loc_conf(pt_conf_t *cf, void *parent, void *child)
{
    gzip_static_conf_t *prev = parent, *conf = child;

    (void) cf;
    if (conf->enable == PT_CONF_UNSET_UINT) {
        conf->enable = prev->enable == PT_CONF_UNSET_UINT
                       ? GZIP_STATIC_OFF : prev->enable;
    }
    return PT_CONF_OK;
}

static int
postconfiguration(pt_conf_t *cf)
{
    return pt_http_add_phase_handler(cf, PT_HTTP_CONTENT_PHASE,
                                     gzip_static_handler);
}
