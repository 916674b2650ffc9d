/*
 * The http module: http/server/location blocks, listen and server_name,
 * creation and merging of every http module's conf per level, and the
 * listening sockets the servers need. `return` is the only content
 * handler until the HTTP core lands (worker/http_demo.c answers requests).
 */
#include <string.h>
#include <unistd.h>

#include "common/cycle.h"
#include "common/log.h"
#include "common/pool.h"
#include "http.h"
#include "http_demo.h"
#include "http_listen.h"

static char *set_http(pt_conf_t *cf, pt_command_t *cmd, void *conf);
static char *set_server(pt_conf_t *cf, pt_command_t *cmd, void *conf);
static char *set_location(pt_conf_t *cf, pt_command_t *cmd, void *conf);
static char *set_server_name(pt_conf_t *cf, pt_command_t *cmd, void *conf);
static char *set_return(pt_conf_t *cf, pt_command_t *cmd, void *conf);
static void *create_main_conf(pt_conf_t *cf);
static void *create_srv_conf(pt_conf_t *cf);
static void *create_loc_conf(pt_conf_t *cf);
static char *merge_loc_conf(pt_conf_t *cf, void *prev, void *conf);

static pt_command_t http_commands[] = {
    { "http", PT_CONF_MAIN | PT_CONF_BLOCK | PT_CONF_NOARGS | PT_CONF_DIRECT,
      set_http, PT_CONF_MAIN_OFFSET, 0, NULL },
    { "server", PT_CONF_HTTP | PT_CONF_BLOCK | PT_CONF_NOARGS, set_server,
      PT_CONF_MAIN_OFFSET, 0, NULL },
    { "location", PT_CONF_SERVER | PT_CONF_LOCATION | PT_CONF_BLOCK
      | PT_CONF_TAKE12, set_location, PT_CONF_LOC_OFFSET, 0, NULL },
    { "listen", PT_CONF_SERVER | PT_CONF_1MORE, pt_http_listen_set,
      PT_CONF_SRV_OFFSET, 0, NULL },
    { "server_name", PT_CONF_SERVER | PT_CONF_1MORE, set_server_name,
      PT_CONF_SRV_OFFSET, 0, NULL },
    { "return", PT_CONF_SERVER | PT_CONF_LOCATION | PT_CONF_IF
      | PT_CONF_TAKE12, set_return, PT_CONF_LOC_OFFSET, 0, NULL },
    pt_null_command
};

pt_module_t pt_http_module = {
    "http", http_commands,
    create_main_conf, NULL,
    create_srv_conf, NULL,
    create_loc_conf, merge_loc_conf,
    NULL, NULL, NULL, 0, PT_MODULE_HTTP
};

static void *
create_main_conf(pt_conf_t *cf)
{
    pt_http_main_conf_t *mcf = pt_pcalloc(cf->pool, sizeof(*mcf));

    if (mcf == NULL
        || pt_array_init(&mcf->servers, cf->pool, 4, sizeof(void *)) != PT_OK
        || pt_array_init(&mcf->addrs, cf->pool, 4, sizeof(void *)) != PT_OK)
    {
        return NULL;
    }
    return mcf;
}

static void *
create_srv_conf(pt_conf_t *cf)
{
    pt_http_srv_conf_t *scf = pt_pcalloc(cf->pool, sizeof(*scf));

    if (scf == NULL
        || pt_array_init(&scf->names, cf->pool, 2, sizeof(pt_str_t)) != PT_OK)
    {
        return NULL;
    }
    return scf;
}

static void *
create_loc_conf(pt_conf_t *cf)
{
    pt_http_loc_conf_t *lcf = pt_pcalloc(cf->pool, sizeof(*lcf));

    if (lcf == NULL) {
        return NULL;
    }
    lcf->return_code = PT_CONF_UNSET;
    return lcf;
}

static char *
merge_loc_conf(pt_conf_t *cf, void *prev, void *conf)
{
    pt_http_loc_conf_t *p = prev, *c = conf;

    if (c->return_code == PT_CONF_UNSET) {
        c->return_code = p->return_code;
        c->return_text = p->return_text;
    }
    return PT_CONF_OK;
}

/* Create the conf of every http module for the levels given (NULL array
 * pointers in `ctx` are allocated and filled). */
static int
create_confs(pt_conf_t *cf, pt_conf_ctx_t *ctx, int main_level, int srv)
{
    pt_uint_t    i, n = cf->cycle->modules_n;
    pt_module_t *m;

    if ((main_level && (ctx->main_conf = pt_pcalloc(cf->pool, n * sizeof(void *))) == NULL)
        || (srv && (ctx->srv_conf = pt_pcalloc(cf->pool, n * sizeof(void *))) == NULL)
        || (ctx->loc_conf = pt_pcalloc(cf->pool, n * sizeof(void *))) == NULL)
    {
        return PT_ERROR;
    }
    for (i = 0; (m = cf->modules[i]) != NULL; i++) {
        if (m->type != PT_MODULE_HTTP) {
            continue;
        }
        if (main_level && m->create_main_conf
            && (ctx->main_conf[i] = m->create_main_conf(cf)) == NULL)
        {
            return PT_ERROR;
        }
        if (srv && m->create_srv_conf
            && (ctx->srv_conf[i] = m->create_srv_conf(cf)) == NULL)
        {
            return PT_ERROR;
        }
        if (m->create_loc_conf
            && (ctx->loc_conf[i] = m->create_loc_conf(cf)) == NULL)
        {
            return PT_ERROR;
        }
    }
    return PT_OK;
}

/* Apply a block's children in a new context, restoring the old after. */
static char *
apply_block(pt_conf_t *cf, pt_conf_ctx_t *ctx, pt_uint_t type)
{
    pt_conf_ctx_t  *saved_ctx = cf->ctx;
    pt_uint_t       saved_type = cf->ctx_type;
    pt_conf_node_t *node = cf->node;
    int             rc;

    cf->ctx = ctx;
    cf->ctx_type = type;
    rc = pt_conf_apply(cf, node->children);
    cf->ctx = saved_ctx;
    cf->ctx_type = saved_type;
    cf->node = node;
    return rc == PT_OK ? PT_CONF_OK : PT_CONF_ERROR;
}

static char *
merge_server(pt_conf_t *cf, pt_conf_ctx_t *http, pt_http_srv_conf_t *scf)
{
    pt_uint_t    i;
    pt_module_t *m;
    char        *rv;

    for (i = 0; (m = cf->modules[i]) != NULL; i++) {
        if (m->type != PT_MODULE_HTTP) {
            continue;
        }
        if (m->merge_srv_conf
            && (rv = m->merge_srv_conf(cf, http->srv_conf[i],
                                       scf->ctx->srv_conf[i])) != PT_CONF_OK)
        {
            return rv;
        }
        if (m->merge_loc_conf
            && (rv = m->merge_loc_conf(cf, http->loc_conf[i],
                                       scf->ctx->loc_conf[i])) != PT_CONF_OK)
        {
            return rv;
        }
    }
    return PT_CONF_OK;
}

static char *
set_http(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    void               **slot = conf;
    pt_conf_ctx_t       *ctx;
    pt_http_main_conf_t *mcf;
    pt_http_srv_conf_t **servers;
    pt_uint_t            i;
    char                *rv;

    if (*slot != NULL) {
        return "is duplicate";
    }
    ctx = pt_pcalloc(cf->pool, sizeof(pt_conf_ctx_t));
    if (ctx == NULL || create_confs(cf, ctx, 1, 1) != PT_OK) {
        return PT_CONF_ERROR;
    }
    *slot = ctx;

    rv = apply_block(cf, ctx, PT_CONF_HTTP);
    if (rv != PT_CONF_OK) {
        return rv;
    }

    mcf = ctx->main_conf[pt_http_module.index];
    servers = mcf->servers.elts;
    for (i = 0; i < mcf->servers.nelts; i++) {
        rv = merge_server(cf, ctx, servers[i]);
        if (rv != PT_CONF_OK) {
            return rv;
        }
        if (!servers[i]->listen) {
            rv = pt_http_listen_default(cf, servers[i]);
            if (rv != PT_CONF_OK) {
                return rv;
            }
        }
    }
    return pt_http_listen_add(cf, mcf);
}

static char *
set_server(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    pt_conf_ctx_t        *ctx;
    pt_http_main_conf_t  *mcf;
    pt_http_srv_conf_t   *scf, **sp;

    ctx = pt_pcalloc(cf->pool, sizeof(pt_conf_ctx_t));
    if (ctx == NULL || create_confs(cf, ctx, 0, 1) != PT_OK) {
        return PT_CONF_ERROR;
    }
    ctx->main_conf = cf->ctx->main_conf;

    scf = ctx->srv_conf[pt_http_module.index];
    scf->ctx = ctx;
    scf->file = cf->node->file;
    scf->line = cf->node->line;

    mcf = ctx->main_conf[pt_http_module.index];
    sp = pt_array_push(&mcf->servers);
    if (sp == NULL) {
        return PT_CONF_ERROR;
    }
    *sp = scf;

    return apply_block(cf, ctx, PT_CONF_SERVER);
}

/* Locations are parsed and checked; the request path that selects them
 * arrives with the HTTP core. */
static char *
set_location(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    pt_conf_ctx_t      *ctx;
    pt_http_loc_conf_t *lcf;
    pt_uint_t           i;
    pt_module_t        *m;
    char               *rv;

    ctx = pt_pcalloc(cf->pool, sizeof(pt_conf_ctx_t));
    if (ctx == NULL || create_confs(cf, ctx, 0, 0) != PT_OK) {
        return PT_CONF_ERROR;
    }
    ctx->main_conf = cf->ctx->main_conf;
    ctx->srv_conf = cf->ctx->srv_conf;

    lcf = ctx->loc_conf[pt_http_module.index];
    lcf->name = cf->args[cf->nargs - 1];

    rv = apply_block(cf, ctx, PT_CONF_LOCATION);
    if (rv != PT_CONF_OK) {
        return rv;
    }
    for (i = 0; (m = cf->modules[i]) != NULL; i++) {
        if (m->type == PT_MODULE_HTTP && m->merge_loc_conf
            && (rv = m->merge_loc_conf(cf, cf->ctx->loc_conf[i],
                                       ctx->loc_conf[i])) != PT_CONF_OK)
        {
            return rv;
        }
    }
    return PT_CONF_OK;
}

static char *
set_server_name(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    pt_http_srv_conf_t *scf = conf;
    pt_str_t           *name;
    pt_uint_t           i;

    for (i = 1; i < cf->nargs; i++) {
        name = pt_array_push(&scf->names);
        if (name == NULL) {
            return PT_CONF_ERROR;
        }
        *name = cf->args[i];
    }
    return PT_CONF_OK;
}

/* return CODE [TEXT] | return URL (302) */
static char *
set_return(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    pt_http_loc_conf_t *lcf = conf;
    pt_str_t           *a = &cf->args[1];
    pt_int_t            code;

    if (lcf->return_code != PT_CONF_UNSET) {
        return "is duplicate";
    }
    code = pt_atoi(a->data, a->len);
    if (code == PT_ERROR) {
        if (cf->nargs == 2
            && ((a->len > 7 && memcmp(a->data, "http://", 7) == 0)
                || (a->len > 8 && memcmp(a->data, "https://", 8) == 0)))
        {
            lcf->return_code = 302;
            lcf->return_text = *a;
            return PT_CONF_OK;
        }
        pt_conf_log_error(PT_LOG_EMERG, cf, 0, "invalid return code \"%.*s\"",
                          (int) a->len, a->data);
        return PT_CONF_ERROR;
    }
    if (code > 999) {
        pt_conf_log_error(PT_LOG_EMERG, cf, 0, "invalid return code \"%.*s\"",
                          (int) a->len, a->data);
        return PT_CONF_ERROR;
    }
    lcf->return_code = code;
    if (cf->nargs == 3) {
        lcf->return_text = cf->args[2];
    }
    return PT_CONF_OK;
}

