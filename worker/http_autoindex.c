/*
 * The autoindex module: a listing of the directory a URI ending in "/"
 * names, when no index file answered. This file reads the directory;
 * http_autoindex_fmt lays the listing out in nginx's bytes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/array.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/pool.h"
#include "common/time.h"
#include "http.h"
#include "http_autoindex_fmt.h"
#include "http_core.h"
#include "http_request.h"
#include "http_script.h"

typedef struct {
    int        enable;
    pt_uint_t  format;
    int        exact_size;
    int        localtime;
} autoindex_loc_conf_t;

static void *create_loc_conf(pt_conf_t *cf);
static char *merge_loc_conf(pt_conf_t *cf, void *prev, void *conf);
static int postconfiguration(pt_conf_t *cf);

static const pt_conf_enum_t formats[] = {
    { "html", PT_AUTOINDEX_HTML }, { "json", PT_AUTOINDEX_JSON },
    { "jsonp", PT_AUTOINDEX_JSONP }, { "xml", PT_AUTOINDEX_XML },
    { NULL, 0 }
};

#define HTTP_ALL   (PT_CONF_HTTP | PT_CONF_SERVER | PT_CONF_LOCATION)
#define LOC(f)     PT_CONF_LOC_OFFSET, offsetof(autoindex_loc_conf_t, f)

static pt_command_t autoindex_commands[] = {
    { "autoindex", HTTP_ALL | PT_CONF_FLAG, pt_conf_set_flag, LOC(enable),
      NULL },
    { "autoindex_format", HTTP_ALL | PT_CONF_TAKE1, pt_conf_set_enum,
      LOC(format), formats },
    { "autoindex_exact_size", HTTP_ALL | PT_CONF_FLAG, pt_conf_set_flag,
      LOC(exact_size), NULL },
    { "autoindex_localtime", HTTP_ALL | PT_CONF_FLAG, pt_conf_set_flag,
      LOC(localtime), NULL },
    pt_null_command
};

pt_module_t pt_http_autoindex_module = {
    "http_autoindex", autoindex_commands,
    NULL, NULL, NULL, NULL,
    create_loc_conf, merge_loc_conf,
    NULL, NULL, NULL, 0, PT_MODULE_HTTP, postconfiguration
};

static void *
create_loc_conf(pt_conf_t *cf)
{
    autoindex_loc_conf_t *alcf = pt_pcalloc(cf->pool, sizeof(*alcf));

    if (alcf != NULL) {
        alcf->enable = PT_CONF_UNSET;
        alcf->format = PT_CONF_UNSET_UINT;
        alcf->exact_size = PT_CONF_UNSET;
        alcf->localtime = PT_CONF_UNSET;
    }
    return alcf;
}

static char *
merge_loc_conf(pt_conf_t *cf, void *prev, void *conf)
{
    autoindex_loc_conf_t *p = prev, *c = conf;

    pt_conf_merge_value(c->enable, p->enable, 0);
    if (c->format == PT_CONF_UNSET_UINT) {
        c->format = p->format != PT_CONF_UNSET_UINT ? p->format
                                                    : PT_AUTOINDEX_HTML;
    }
    pt_conf_merge_value(c->exact_size, p->exact_size, 1);
    pt_conf_merge_value(c->localtime, p->localtime, 0);
    return PT_CONF_OK;
}

static int
close_dir(pt_http_request_t *r, DIR *dir, const pt_str_t *path)
{
    if (closedir(dir) == -1) {
        pt_log_error(PT_LOG_ALERT, pt_http_request_log(r), errno,
                     "closedir() \"%s\" failed", path->data);
        return PT_ERROR;
    }
    return PT_OK;
}

/* Log a failed stat() of an entry with its full name, as nginx does. */
static void
log_entry_error(pt_http_request_t *r, const pt_str_t *path, const char *call,
                const char *name, int err)
{
    pt_log_error(PT_LOG_CRIT, pt_http_request_log(r), err, "%s \"%s/%s\" "
                 "failed", call, path->data, name);
}

/*
 * Read the directory into entries (names copied to the request pool),
 * skipping dot-files. stat() follows symlinks; a dangling one or a loop is
 * described by lstat() and listed as OTHER. An entry nginx may not stat
 * (EACCES) is left out. PT_OK or PT_ERROR (logged).
 */
static int
read_entries(pt_http_request_t *r, DIR *dir, const pt_str_t *path,
             pt_array_t *entries)
{
    pt_autoindex_entry_t *e;
    struct dirent        *de;
    struct stat           st;
    size_t                len;
    int                   err;

    for (;;) {
        errno = 0;
        de = readdir(dir);
        if (de == NULL) {
            if (errno != 0) {
                pt_log_error(PT_LOG_CRIT, pt_http_request_log(r), errno,
                             "readdir() \"%s\" failed", path->data);
                return PT_ERROR;
            }
            return PT_OK;
        }
        if (de->d_name[0] == '.') {
            continue;
        }
        if (fstatat(dirfd(dir), de->d_name, &st, 0) == -1) {
            err = errno;
            if (err != ENOENT && err != ELOOP) {
                log_entry_error(r, path, "stat()", de->d_name, err);
                if (err == EACCES) {
                    continue;
                }
                return PT_ERROR;
            }
            if (fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW)
                == -1)
            {
                log_entry_error(r, path, "lstat()", de->d_name, errno);
                return PT_ERROR;
            }
        }

        e = pt_array_push(entries);
        len = strlen(de->d_name);
        if (e == NULL || (e->name.data = pt_pnalloc(r->pool, len)) == NULL) {
            return PT_ERROR;
        }
        memcpy(e->name.data, de->d_name, len);
        e->name.len = len;
        e->type = S_ISDIR(st.st_mode) ? PT_AUTOINDEX_DIR
                  : S_ISREG(st.st_mode) ? PT_AUTOINDEX_FILE
                  : PT_AUTOINDEX_OTHER;
        e->size = st.st_size;
        e->mtime = st.st_mtime;
    }
}

/* The jsonp callback from the "callback" argument: PT_OK (possibly
 * empty), or PT_DECLINED for a name nginx refuses (logged). */
static int
jsonp_callback(pt_http_request_t *r, pt_str_t *callback)
{
    if (pt_http_arg(r, (u_char *) "callback", 8, callback) != PT_OK) {
        callback->len = 0;
        return PT_OK;
    }
    if (callback->len > PT_AUTOINDEX_CALLBACK_MAX) {
        pt_log_error(PT_LOG_INFO, pt_http_request_log(r), 0, "client sent "
                     "too long callback name: \"%.*s\"", (int) callback->len,
                     callback->data);
        return PT_DECLINED;
    }
    if (!pt_autoindex_callback_ok(callback)) {
        pt_log_error(PT_LOG_INFO, pt_http_request_log(r), 0, "client sent "
                     "invalid callback name: \"%.*s\"", (int) callback->len,
                     callback->data);
        return PT_DECLINED;
    }
    return PT_OK;
}

static int
open_error(pt_http_request_t *r, const pt_str_t *path, int err)
{
    pt_uint_t level = PT_LOG_ERR;
    int       rc;

    if (err == ENOENT || err == ENOTDIR || err == ENAMETOOLONG) {
        rc = PT_HTTP_NOT_FOUND;
    } else if (err == EACCES) {
        rc = PT_HTTP_FORBIDDEN;
    } else {
        level = PT_LOG_CRIT;
        rc = PT_HTTP_INTERNAL_SERVER_ERROR;
    }
    pt_log_error(level, pt_http_request_log(r), err, "opendir() \"%s\" "
                 "failed", path->data);
    return rc;
}

/* Send the listing. The head goes first (chunked: no length yet), as
 * nginx does; the directory is read afterwards. Memory: the entries and
 * the rendered body, bounded by the directory. */
static int
send_listing(pt_http_request_t *r, DIR *dir, const pt_str_t *path,
             pt_autoindex_conf_t *conf)
{
    pt_array_t  entries;
    pt_str_t    type, charset;
    pt_buf_t   *b;
    pt_chain_t  out;
    struct tm   tm;
    time_t      now = pt_time_sec;
    int         rc;

    pt_autoindex_content_type(conf, &type, &charset);
    r->headers_out.status = PT_HTTP_OK;
    r->headers_out.content_type = type;
    r->headers_out.content_type_len = type.len;
    if (charset.len > 0) {
        r->headers_out.charset = charset;
    }
    rc = pt_http_send_header(r);
    if (rc == PT_ERROR || rc > PT_OK || r->header_only) {
        return rc;
    }

    if (pt_array_init(&entries, r->pool, 32, sizeof(pt_autoindex_entry_t))
        != PT_OK || read_entries(r, dir, path, &entries) != PT_OK)
    {
        return PT_ERROR;
    }
    /* html names are measured in characters when the page is utf-8 */
    conf->utf8 = r->headers_out.charset.len == 5
                 && pt_strncasecmp(r->headers_out.charset.data,
                                   (u_char *) "utf-8", 5) == 0;
    if (conf->localtime && localtime_r(&now, &tm) != NULL) {
        conf->gmtoff = tm.tm_gmtoff;
    }
    b = pt_autoindex_render(r->pool, &r->uri, &entries, conf);
    if (b == NULL) {
        return PT_ERROR;
    }
    b->last_buf = 1;
    b->last_in_chain = 1;
    out.buf = b;
    out.next = NULL;
    return pt_http_output_filter(r, &out);
}

static int
autoindex_handler(pt_http_request_t *r)
{
    autoindex_loc_conf_t *alcf;
    pt_autoindex_conf_t   conf;
    pt_str_t              path;
    size_t                root;
    u_char               *last;
    DIR                  *dir;
    int                   rc;

    if (r->uri.data[r->uri.len - 1] != '/') {
        return PT_DECLINED;
    }
    if (!(r->method & (PT_HTTP_GET | PT_HTTP_HEAD))) {
        return PT_DECLINED;
    }
    alcf = r->loc_conf[pt_http_autoindex_module.index];
    if (!alcf->enable) {
        return PT_DECLINED;
    }

    last = pt_http_map_uri_to_path(r, &path, &root, 0);
    if (last == NULL) {
        return PT_HTTP_INTERNAL_SERVER_ERROR;
    }
    path.len = (size_t) (last - path.data);
    if (path.len > 1) {
        path.len--;    /* the directory without its slash */
    }
    path.data[path.len] = '\0';

    dir = opendir((char *) path.data);
    if (dir == NULL) {
        return open_error(r, &path, errno);
    }

    memset(&conf, 0, sizeof(conf));
    conf.format = alcf->format;
    conf.exact_size = alcf->exact_size != 0;
    conf.localtime = alcf->localtime != 0;
    if (conf.format == PT_AUTOINDEX_JSONP
        && jsonp_callback(r, &conf.callback) != PT_OK)
    {
        (void) close_dir(r, dir, &path);
        return PT_HTTP_BAD_REQUEST;
    }

    rc = send_listing(r, dir, &path, &conf);
    (void) close_dir(r, dir, &path);   /* logged; the listing is out */
    return rc;
}

static int
postconfiguration(pt_conf_t *cf)
{
    return pt_http_add_phase_handler(cf, PT_HTTP_CONTENT_PHASE,
                                     autoindex_handler);
}
