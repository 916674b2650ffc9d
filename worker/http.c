/*
 * The http block: server and location blocks, creation and merging of
 * every http module's confs per level (http -> server -> location ->
 * nested location), then what the block builds once read: location
 * indexes, server names per address, variables, the phase engine and the
 * listening sockets.
 */
#include <string.h>

#include "common/cycle.h"
#include "common/log.h"
#include "common/pool.h"
#include "http.h"
#include "http_connection.h"
#include "http_core.h"
#include "http_listen.h"
#include "http_location.h"
#include "http_server_name.h"
#include "http_variables.h"

pt_uint_t pt_http_modules_n;
pt_str_t  pt_http_cycle_prefix;

/* Create the conf of every http module for the levels asked. */
static int
create_confs(pt_conf_t *cf, pt_conf_ctx_t *ctx, int main_level, int srv)
{
    pt_uint_t    i, n = cf->cycle->modules_n;
    pt_module_t *m;

    if ((main_level
         && (ctx->main_conf = pt_pcalloc(cf->pool, n * sizeof(void *)))
            == NULL)
        || (srv
            && (ctx->srv_conf = pt_pcalloc(cf->pool, n * sizeof(void *)))
               == NULL)
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

/* Merge a level's confs from its parent, then the confs of the "if"
 * blocks inside it from the level. */
static char *
merge_loc_confs(pt_conf_t *cf, void **parent, void **conf)
{
    pt_http_loc_conf_t  *clcf;
    pt_uint_t            i;
    pt_module_t         *m;
    void              ***nested;
    char                *rv;

    for (i = 0; (m = cf->modules[i]) != NULL; i++) {
        if (m->type == PT_MODULE_HTTP && m->merge_loc_conf
            && (rv = m->merge_loc_conf(cf, parent[i], conf[i])) != PT_CONF_OK)
        {
            return rv;
        }
    }
    clcf = conf[pt_http_core_module.index];
    if (clcf->nested == NULL) {
        return PT_CONF_OK;
    }
    nested = clcf->nested->elts;
    for (i = 0; i < clcf->nested->nelts; i++) {
        rv = merge_loc_confs(cf, conf, nested[i]);
        if (rv != PT_CONF_OK) {
            return rv;
        }
    }
    return PT_CONF_OK;
}

/* Merge each location of a block from its parent level, then its nested
 * locations from it, depth first. */
static char *
merge_locations(pt_conf_t *cf, pt_http_locations_t *block, void **parent)
{
    pt_http_location_t **loc;
    pt_uint_t            i;
    char                *rv;

    if (block == NULL) {
        return PT_CONF_OK;
    }
    loc = block->list.elts;
    for (i = 0; i < block->list.nelts; i++) {
        rv = merge_loc_confs(cf, parent, loc[i]->data);
        if (rv == PT_CONF_OK) {
            rv = merge_locations(cf, &loc[i]->children, loc[i]->data);
        }
        if (rv != PT_CONF_OK) {
            return rv;
        }
    }
    return PT_CONF_OK;
}

static char *
merge_server(pt_conf_t *cf, pt_conf_ctx_t *http, pt_http_srv_conf_t *scf)
{
    pt_uint_t    i;
    pt_module_t *m;
    char        *rv;
    u_char       err[256];

    for (i = 0; (m = cf->modules[i]) != NULL; i++) {
        if (m->type == PT_MODULE_HTTP && m->merge_srv_conf
            && (rv = m->merge_srv_conf(cf, http->srv_conf[i],
                                       scf->ctx->srv_conf[i])) != PT_CONF_OK)
        {
            return rv;
        }
    }
    rv = merge_loc_confs(cf, http->loc_conf, scf->ctx->loc_conf);
    if (rv == PT_CONF_OK) {
        rv = merge_locations(cf, scf->locations, scf->ctx->loc_conf);
    }
    if (rv != PT_CONF_OK) {
        return rv;
    }
    if (scf->locations != NULL
        && pt_http_location_init(cf->pool, scf->locations, err, sizeof(err))
           != PT_OK)
    {
        pt_log_error(PT_LOG_EMERG, cf->log, 0, "%s", err);
        return PT_CONF_ERROR;
    }
    return PT_CONF_OK;
}

/* Every module's postconfiguration, then variables and the engine. */
static char *
init_http(pt_conf_t *cf, pt_http_core_main_conf_t *cmcf)
{
    pt_uint_t    i;
    pt_module_t *m;

    for (i = 0; (m = cf->modules[i]) != NULL; i++) {
        if (m->type == PT_MODULE_HTTP && m->postconfiguration != NULL
            && m->postconfiguration(cf) != PT_OK)
        {
            return PT_CONF_ERROR;
        }
    }
    if (pt_http_variables_init_vars(cf) != PT_OK
        || pt_http_init_phase_engine(cf, cmcf) != PT_OK)
    {
        return PT_CONF_ERROR;
    }
    return PT_CONF_OK;
}

char *
pt_http_block(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    void                     **slot = conf;
    pt_conf_ctx_t             *ctx;
    pt_http_core_main_conf_t  *cmcf;
    pt_http_srv_conf_t       **servers;
    pt_uint_t                  i;
    char                      *rv;

    if (*slot != NULL) {
        return "is duplicate";
    }
    pt_http_modules_n = cf->cycle->modules_n;
    pt_http_cycle_prefix = cf->cycle->prefix;
    pt_http_header_filter_init();
    ctx = pt_pcalloc(cf->pool, sizeof(pt_conf_ctx_t));
    if (ctx == NULL || create_confs(cf, ctx, 1, 1) != PT_OK) {
        return PT_CONF_ERROR;
    }
    *slot = ctx;

    {
        pt_conf_ctx_t *saved = cf->ctx;

        cf->ctx = ctx;
        if (pt_http_variables_add_core_vars(cf) != PT_OK) {
            cf->ctx = saved;
            return PT_CONF_ERROR;
        }
        cf->ctx = saved;
    }

    rv = apply_block(cf, ctx, PT_CONF_HTTP);
    if (rv != PT_CONF_OK) {
        return rv;
    }

    cmcf = ctx->main_conf[pt_http_core_module.index];
    servers = cmcf->servers.elts;
    {
        pt_conf_ctx_t *saved = cf->ctx;

        cf->ctx = ctx;
        for (i = 0; i < cmcf->servers.nelts; i++) {
            rv = merge_server(cf, ctx, servers[i]);
            if (rv == PT_CONF_OK && !servers[i]->listen) {
                rv = pt_http_listen_default(cf, servers[i]);
            }
            if (rv != PT_CONF_OK) {
                cf->ctx = saved;
                return rv;
            }
        }
        rv = init_http(cf, cmcf);
        cf->ctx = saved;
    }
    if (rv != PT_CONF_OK) {
        return rv;
    }
    return pt_http_listen_add(cf, cmcf);
}

char *
pt_http_server_block(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    pt_conf_ctx_t             *ctx;
    pt_http_core_main_conf_t  *cmcf;
    pt_http_srv_conf_t        *scf, **sp;

    ctx = pt_pcalloc(cf->pool, sizeof(pt_conf_ctx_t));
    if (ctx == NULL || create_confs(cf, ctx, 0, 1) != PT_OK) {
        return PT_CONF_ERROR;
    }
    ctx->main_conf = cf->ctx->main_conf;

    scf = ctx->srv_conf[pt_http_core_module.index];
    scf->ctx = ctx;
    scf->file = cf->node->file;
    scf->line = cf->node->line;

    cmcf = ctx->main_conf[pt_http_core_module.index];
    sp = pt_array_push(&cmcf->servers);
    if (sp == NULL) {
        return PT_CONF_ERROR;
    }
    *sp = scf;

    return apply_block(cf, ctx, PT_CONF_SERVER);
}

char *
pt_http_location_block(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    pt_http_loc_conf_t  *parent = conf, *clcf;
    pt_http_srv_conf_t  *scf;
    pt_http_location_t  *loc;
    pt_conf_ctx_t       *ctx;
    u_char               err[256];

    ctx = pt_pcalloc(cf->pool, sizeof(pt_conf_ctx_t));
    if (ctx == NULL || create_confs(cf, ctx, 0, 0) != PT_OK) {
        return PT_CONF_ERROR;
    }
    ctx->main_conf = cf->ctx->main_conf;
    ctx->srv_conf = cf->ctx->srv_conf;

    scf = ctx->srv_conf[pt_http_core_module.index];
    if (scf->locations == NULL) {
        scf->locations = pt_pcalloc(cf->pool, sizeof(pt_http_locations_t));
        if (scf->locations == NULL) {
            return PT_CONF_ERROR;
        }
    }
    err[0] = '\0';
    loc = pt_http_location_add(cf->pool, scf->locations,
                               cf->ctx_type == PT_CONF_LOCATION
                               ? parent->location : NULL,
                               &cf->args[1], cf->nargs - 1, cf->node->file,
                               cf->node->line, err, sizeof(err));
    if (loc == NULL) {
        pt_conf_log_error(PT_LOG_EMERG, cf, 0, "%s", err);
        return PT_CONF_ERROR;
    }
    loc->data = ctx->loc_conf;

    clcf = ctx->loc_conf[pt_http_core_module.index];
    clcf->name = loc->name;
    clcf->location = loc;
    clcf->loc_conf = ctx->loc_conf;
    clcf->exact_match = loc->exact;
    clcf->noregex = loc->noregex;
    clcf->named = loc->named;
    clcf->regex_location = loc->regex;
    if (loc->regex) {
        /* the variables module adopts the compiled regex: it defines the
         * named captures and counts captures for r->captures */
        clcf->regex = pt_pcalloc(cf->pool, sizeof(pt_http_regex_t));
        if (clcf->regex == NULL
            || pt_http_regex_adopt(cf, clcf->regex, loc->re) != PT_OK)
        {
            return PT_CONF_ERROR;
        }
    }

    return apply_block(cf, ctx, PT_CONF_LOCATION);
}

/* The location for r->uri: captures of a regex location go to r. */
pt_http_location_t *
pt_http_find_location(pt_http_request_t *r, pt_http_locations_t *block)
{
    pt_http_core_main_conf_t *cmcf = pt_http_core_main_conf(r);
    pt_http_location_t       *loc;
    pt_http_loc_conf_t       *clcf;
    pt_uint_t                 ncap = cmcf->ncaptures + 1;
    int                       n = 0;

    /* the same size pt_http_regex_exec allocates: (ncaptures + 1) * 3 */
    if (r->captures == NULL) {
        r->captures = pt_palloc(r->pool, ncap * 3 * sizeof(int));
        if (r->captures == NULL) {
            return NULL;
        }
    }
    loc = pt_http_location_find(block, r->uri.data, r->uri.len, r->captures,
                                ncap, &n);
    if (loc != NULL && n > 0) {
        r->ncaptures = (pt_uint_t) n * 2;
        r->captures_data = r->uri.data;
        clcf = ((void **) loc->data)[pt_http_core_module.index];
        if (clcf->regex != NULL) {
            pt_http_regex_set_vars(r, clcf->regex, &r->uri, n);
        }
    }
    return loc;
}

int
pt_http_add_phase_handler(pt_conf_t *cf, pt_http_phases_e phase,
                          pt_http_handler_pt handler)
{
    pt_http_core_main_conf_t *cmcf;
    pt_http_handler_pt       *h;

    cmcf = pt_http_conf_get_module_main_conf(cf, pt_http_core_module);
    h = pt_array_push(&cmcf->phases[phase]);
    if (h == NULL) {
        return PT_ERROR;
    }
    *h = handler;
    return PT_OK;
}
