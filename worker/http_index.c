/*
 * The index module: a URI ending in "/" is internally redirected to the
 * first of the `index` files that exists in the directory (an absolute
 * one, the last by convention, without a test). When none does, the
 * request goes on to autoindex or the core's 403.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "common/array.h"
#include "common/log.h"
#include "common/pool.h"
#include "http.h"
#include "http_core.h"
#include "http_request.h"
#include "http_script.h"

typedef struct {
    pt_str_t                  name;     /* the text, when no variables */
    pt_http_complex_value_t  *value;    /* NULL: name as is */
} index_t;

typedef struct {
    pt_array_t  *indices;               /* index_t; NULL: inherit */
} index_loc_conf_t;

static void *create_loc_conf(pt_conf_t *cf);
static char *merge_loc_conf(pt_conf_t *cf, void *prev, void *conf);
static char *set_index(pt_conf_t *cf, pt_command_t *cmd, void *conf);
static int postconfiguration(pt_conf_t *cf);

static pt_command_t index_commands[] = {
    { "index", PT_CONF_HTTP | PT_CONF_SERVER | PT_CONF_LOCATION
      | PT_CONF_1MORE, set_index, PT_CONF_LOC_OFFSET, 0, NULL },
    pt_null_command
};

pt_module_t pt_http_index_module = {
    "http_index", index_commands,
    NULL, NULL, NULL, NULL,
    create_loc_conf, merge_loc_conf,
    NULL, NULL, NULL, 0, PT_MODULE_HTTP, postconfiguration
};

static void *
create_loc_conf(pt_conf_t *cf)
{
    return pt_pcalloc(cf->pool, sizeof(index_loc_conf_t));
}

static char *
merge_loc_conf(pt_conf_t *cf, void *prev, void *conf)
{
    index_loc_conf_t *p = prev, *c = conf;
    index_t          *index;

    if (c->indices == NULL) {
        c->indices = p->indices;
    }
    if (c->indices == NULL) {
        c->indices = pt_array_create(cf->pool, 1, sizeof(index_t));
        index = c->indices != NULL ? pt_array_push(c->indices) : NULL;
        if (index == NULL) {
            return PT_CONF_ERROR;
        }
        pt_str_set(&index->name, "index.html");
        index->value = NULL;
    }
    return PT_CONF_OK;
}

/* index FILE ...: repeated directives add to the list. */
static char *
set_index(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    index_loc_conf_t *ilcf = conf;
    index_t          *index;
    pt_str_t         *v;
    pt_uint_t         i;

    if (ilcf->indices == NULL) {
        ilcf->indices = pt_array_create(cf->pool, 2, sizeof(index_t));
        if (ilcf->indices == NULL) {
            return PT_CONF_ERROR;
        }
    }
    for (i = 1; i < cf->nargs; i++) {
        v = &cf->args[i];
        if (v->len > 0 && v->data[0] == '/' && i != cf->nargs - 1) {
            pt_conf_log_error(PT_LOG_WARN, cf, 0, "only the last index in "
                              "\"index\" directive should be absolute");
        }
        if (v->len == 0) {
            pt_conf_log_error(PT_LOG_EMERG, cf, 0, "index \"%.*s\" in "
                              "\"index\" directive is invalid",
                              (int) cf->args[1].len, cf->args[1].data);
            return PT_CONF_ERROR;
        }
        index = pt_array_push(ilcf->indices);
        if (index == NULL) {
            return PT_CONF_ERROR;
        }
        index->name = *v;
        index->value = NULL;
        if (memchr(v->data, '$', v->len) == NULL) {
            continue;
        }
        index->value = pt_pcalloc(cf->pool, sizeof(pt_http_complex_value_t));
        if (index->value == NULL
            || pt_http_compile_complex_value(cf, v, index->value) != PT_OK)
        {
            return PT_CONF_ERROR;
        }
    }
    return PT_CONF_OK;
}

/* A missing, unreachable or forbidden index file (or its directory). */
static int
index_error(pt_http_request_t *r, const u_char *file, int err)
{
    pt_log_t *log = pt_http_request_log(r);

    if (err == EACCES) {
        pt_log_error(PT_LOG_ERR, log, err, "\"%s\" is forbidden", file);
        return PT_HTTP_FORBIDDEN;
    }
    if (pt_http_core_loc_conf(r)->log_not_found) {
        pt_log_error(PT_LOG_ERR, log, err, "\"%s\" is not found", file);
    }
    return PT_HTTP_NOT_FOUND;
}

/*
 * After an index file failed to stat, is its directory there? path holds
 * the index file's path and name points at its name: the directory is
 * what precedes, without the slash (as nginx, an alias without a trailing
 * slash makes the name run on from the directory's). PT_OK to go on with
 * the next index file, else the status to finalize with. Messages name
 * the index file, as nginx's do.
 */
static int
test_dir(pt_http_request_t *r, u_char *path, u_char *name)
{
    struct stat st;
    u_char     *last = name - 1, c;
    int         err;

    if (*last != '/' || last == path) {
        last++;
    }
    c = *last;
    *last = '\0';
    if (stat((char *) path, &st) == -1) {
        err = errno;
        *last = c;
        if (err == ENOENT) {
            return index_error(r, path, err);
        }
        if (err == EACCES) {
            return PT_OK;    /* the index file's stat() was allowed */
        }
        if (err == ELOOP || err == EMLINK) {
            return PT_HTTP_FORBIDDEN;
        }
        pt_log_error(PT_LOG_CRIT, pt_http_request_log(r), err, "stat() "
                     "\"%s\" failed", path);
        return PT_HTTP_INTERNAL_SERVER_ERROR;
    }
    *last = c;
    if (S_ISDIR(st.st_mode)) {
        return PT_OK;
    }
    pt_log_error(PT_LOG_ALERT, pt_http_request_log(r), 0, "\"%s\" is not a "
                 "directory", path);
    return PT_HTTP_INTERNAL_SERVER_ERROR;
}

/* Redirect to r->uri + name, keeping the args. */
static int
redirect(pt_http_request_t *r, const pt_str_t *name)
{
    pt_str_t uri;

    uri.len = r->uri.len + name->len;
    uri.data = pt_pnalloc(r->pool, uri.len);
    if (uri.data == NULL) {
        return PT_HTTP_INTERNAL_SERVER_ERROR;
    }
    memcpy(uri.data, r->uri.data, r->uri.len);
    memcpy(uri.data + r->uri.len, name->data, name->len);
    return pt_http_internal_redirect(r, &uri, &r->args);
}

/* The content handler: PT_DECLINED (no index file, or not a directory's
 * URI), an error status, or PT_DONE after the internal redirect. */
static int
index_handler(pt_http_request_t *r)
{
    index_loc_conf_t *ilcf = r->loc_conf[pt_http_index_module.index];
    index_t          *index = ilcf->indices->elts;
    pt_str_t          name, path;
    struct stat       st;
    size_t            root;
    pt_uint_t         i;
    u_char           *p;
    int               err, rc, dir_tested = 0;

    if (r->uri.data[r->uri.len - 1] != '/') {
        return PT_DECLINED;
    }
    if (!(r->method & (PT_HTTP_GET | PT_HTTP_HEAD | PT_HTTP_POST))) {
        return PT_DECLINED;
    }

    for (i = 0; i < ilcf->indices->nelts; i++) {
        name = index[i].name;
        if (index[i].value != NULL
            && pt_http_complex_value(r, index[i].value, &name) != PT_OK)
        {
            return PT_HTTP_INTERNAL_SERVER_ERROR;
        }
        if (name.len > 0 && name.data[0] == '/') {
            return pt_http_internal_redirect(r, &name, &r->args);
        }

        p = pt_http_map_uri_to_path(r, &path, &root, name.len);
        if (p == NULL) {
            return PT_HTTP_INTERNAL_SERVER_ERROR;
        }
        memcpy(p, name.data, name.len);
        p[name.len] = '\0';

        /* nginx only tests the index file: a directory of that name is
         * redirected to as well (and then gets a slash added) */
        if (stat((char *) path.data, &st) == 0) {
            return redirect(r, &name);
        }
        err = errno;
        if (err == ELOOP || err == EMLINK) {
            return PT_HTTP_FORBIDDEN;
        }
        if (err == ENOTDIR || err == ENAMETOOLONG || err == EACCES) {
            return index_error(r, path.data, err);
        }
        if (!dir_tested) {
            rc = test_dir(r, path.data, p);
            if (rc != PT_OK) {
                return rc;
            }
            dir_tested = 1;
        }
        if (err == ENOENT) {
            continue;
        }
        pt_log_error(PT_LOG_CRIT, pt_http_request_log(r), err, "stat() "
                     "\"%s\" failed", path.data);
        return PT_HTTP_INTERNAL_SERVER_ERROR;
    }
    return PT_DECLINED;
}

static int
postconfiguration(pt_conf_t *cf)
{
    return pt_http_add_phase_handler(cf, PT_HTTP_CONTENT_PHASE,
                                     index_handler);
}
