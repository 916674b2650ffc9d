/*
 * try_files (precontent phase): the first of the listed files (or
 * directories, for names ending in "/") that exists under root or alias
 * becomes the URI the content phase serves; when none does, the last
 * entry decides: a URI, a named location or "=CODE".
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "common/log.h"
#include "common/pool.h"
#include "http.h"
#include "http_connection.h"
#include "http_core.h"
#include "http_request.h"
#include "http_script.h"

/* alias in a regex location: the alias names the whole file */
#define ALIAS_REGEX ((size_t) -1)

static int postconfiguration(pt_conf_t *cf);

pt_module_t pt_http_try_files_module = {
    "http_try_files", NULL,
    NULL, NULL, NULL, NULL, NULL, NULL,
    NULL, NULL, NULL, 0, PT_MODULE_HTTP, postconfiguration
};

/*
 * The value of an entry. As nginx does, a value with variables under a
 * prefix alias loses the location's prefix when it starts with it ($uri
 * names the file under the alias).
 */
static int
entry_value(pt_http_request_t *r, pt_http_try_file_t *tf, size_t alias,
            pt_str_t *v)
{
    pt_http_complex_value_t *cv = tf->value;

    if (pt_http_complex_value(r, cv, v) != PT_OK) {
        return PT_ERROR;
    }
    if (cv->has_vars && alias != 0 && alias != ALIAS_REGEX
        && v->len >= alias && memcmp(v->data, r->uri.data, alias) == 0)
    {
        v->data += alias;
        v->len -= alias;
    }
    return PT_OK;
}

/* The last entry: =CODE, @name or a URI (with args after a '?', else
 * none: nginx drops the request's). Returns what the phase returns. */
static int
fallback(pt_http_request_t *r, pt_http_try_file_t *tf, size_t alias)
{
    pt_http_complex_value_t *cv = tf->value;
    pt_str_t                 v, args = pt_null_string, *raw = &cv->value;
    u_char                  *q;

    if (raw->len > 1 && raw->data[0] == '=') {
        return (int) pt_atoi(raw->data + 1, raw->len - 1);
    }
    if (entry_value(r, tf, alias, &v) != PT_OK) {
        return PT_HTTP_INTERNAL_SERVER_ERROR;
    }
    if (v.len > 0 && v.data[0] == '@') {
        (void) pt_http_named_location(r, &v);
    } else {
        q = memchr(v.data, '?', v.len);
        if (q != NULL) {
            args.data = q + 1;
            args.len = (size_t) (v.data + v.len - args.data);
            v.len = (size_t) (q - v.data);
        }
        (void) pt_http_internal_redirect(r, &v, &args);
    }
    /* the redirect holds a reference until this */
    pt_http_finalize_request(r, PT_DONE);
    return PT_DONE;
}

/* Point r->uri at the file found: its URI is the value, with the prefix
 * of an alias location put back (a regex alias keeps the value aside). */
static int
set_uri(pt_http_request_t *r, pt_str_t *file, size_t alias, int test_dir)
{
    u_char *p;

    if (alias == 0) {
        r->uri = *file;
    } else if (alias == ALIAS_REGEX) {
        if (!test_dir) {
            r->uri = *file;
            r->add_uri_to_alias = 1;
        }
    } else {
        p = pt_pnalloc(r->pool, alias + file->len);
        if (p == NULL) {
            return PT_ERROR;
        }
        memcpy(p, r->uri.data, alias);
        memcpy(p + alias, file->data, file->len);
        r->uri.data = p;
        r->uri.len = alias + file->len;
    }
    pt_http_set_exten(r);
    return PT_OK;
}

/*
 * The precontent handler: PT_DECLINED (no try_files, or a file was found
 * and r->uri now names it), an HTTP status, or PT_DONE after redirecting.
 */
static int
try_files_handler(pt_http_request_t *r)
{
    pt_http_loc_conf_t *clcf = pt_http_core_loc_conf(r);
    pt_http_try_file_t *tf;
    pt_str_t            v, path, file;
    struct stat         st;
    size_t              root, alias;
    pt_uint_t           i, n;
    u_char             *p;

    if (clcf->try_files == NULL) {
        return PT_DECLINED;
    }
    tf = clcf->try_files->elts;
    n = clcf->try_files->nelts;
    alias = !clcf->alias ? 0
            : clcf->regex_location ? ALIAS_REGEX : clcf->name.len;

    for (i = 0; i + 1 < n; i++) {
        if (entry_value(r, &tf[i], alias, &v) != PT_OK) {
            return PT_HTTP_INTERNAL_SERVER_ERROR;
        }
        p = pt_http_map_uri_to_path(r, &path, &root, v.len);
        if (p == NULL) {
            return PT_HTTP_INTERNAL_SERVER_ERROR;
        }
        /* the value replaces the URI after the root */
        memcpy(path.data + root, v.data, v.len);
        path.data[root + v.len] = '\0';
        path.len = root + v.len;

        if (stat((char *) path.data, &st) == -1) {
            if (errno != ENOENT && errno != ENOTDIR
                && errno != ENAMETOOLONG)
            {
                pt_log_error(PT_LOG_CRIT, pt_http_request_log(r), errno,
                             "stat() \"%s\" failed", path.data);
            }
            continue;
        }
        if ((S_ISDIR(st.st_mode) != 0) != tf[i].test_dir) {
            continue;
        }
        file.data = path.data + root;
        file.len = v.len;
        if (set_uri(r, &file, alias, tf[i].test_dir) != PT_OK) {
            return PT_HTTP_INTERNAL_SERVER_ERROR;
        }
        return PT_DECLINED;
    }
    return fallback(r, &tf[n - 1], alias);
}

static int
postconfiguration(pt_conf_t *cf)
{
    return pt_http_add_phase_handler(cf, PT_HTTP_PRECONTENT_PHASE,
                                     try_files_handler);
}
