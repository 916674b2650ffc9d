/*
 * The phase engine: one flat array of (checker, handler) built after the
 * http block is read; checkers give each phase its rules (find-config
 * picks the location, post-rewrite loops back on a new URI, access honours
 * satisfy, content runs the location's handler). Internal redirects
 * re-enter it at find-config.
 */
#include <string.h>

#include "common/array.h"
#include "common/log.h"
#include "common/pool.h"
#include "conn.h"
#include "http.h"
#include "http_connection.h"
#include "http_core.h"
#include "http_location.h"
#include "http_request.h"
#include "http_variables.h"

static int generic_checker(pt_http_request_t *r, pt_http_phase_handler_t *ph);
static int rewrite_checker(pt_http_request_t *r, pt_http_phase_handler_t *ph);
static int find_config_checker(pt_http_request_t *r,
                               pt_http_phase_handler_t *ph);
static int post_rewrite_checker(pt_http_request_t *r,
                                pt_http_phase_handler_t *ph);
static int access_checker(pt_http_request_t *r, pt_http_phase_handler_t *ph);
static int post_access_checker(pt_http_request_t *r,
                               pt_http_phase_handler_t *ph);
static int content_checker(pt_http_request_t *r, pt_http_phase_handler_t *ph);

void
pt_http_core_run_phases(pt_http_request_t *r)
{
    pt_http_core_main_conf_t *cmcf = pt_http_core_main_conf(r);
    pt_http_phase_handler_t  *ph = cmcf->phase_engine;

    while (ph[r->phase_handler].checker != NULL) {
        if (ph[r->phase_handler].checker(r, &ph[r->phase_handler]) == PT_OK) {
            return;
        }
    }
}

/* Build cmcf->phase_engine from the handlers modules registered. */
int
pt_http_init_phase_engine(pt_conf_t *cf, pt_http_core_main_conf_t *cmcf)
{
    pt_http_phase_handler_t  *ph;
    pt_http_phase_checker_pt  checker;
    pt_http_handler_pt       *h;
    pt_uint_t                 i, j, n = 0, next;

    /* find-config and post-rewrite have one built-in step each;
     * post-access one; content one (the location's handler) */
    for (i = 0; i < PT_HTTP_PHASES; i++) {
        n += cmcf->phases[i].nelts;
    }
    n += 4 + 1;
    ph = pt_pcalloc(cf->pool, n * sizeof(pt_http_phase_handler_t));
    if (ph == NULL) {
        return PT_ERROR;
    }
    cmcf->phase_engine = ph;

    n = 0;
    for (i = 0; i < PT_HTTP_PHASES; i++) {
        h = cmcf->phases[i].elts;

        switch (i) {
        case PT_HTTP_SERVER_REWRITE_PHASE:
        case PT_HTTP_REWRITE_PHASE:
            checker = rewrite_checker;
            if (i == PT_HTTP_REWRITE_PHASE) {
                cmcf->location_rewrite_index = n;
            } else {
                cmcf->server_rewrite_index = n;
            }
            break;
        case PT_HTTP_FIND_CONFIG_PHASE:
            cmcf->find_config_index = n;
            ph[n].checker = find_config_checker;
            n++;
            continue;
        case PT_HTTP_POST_REWRITE_PHASE:
            ph[n].checker = post_rewrite_checker;
            ph[n].next = cmcf->find_config_index;
            n++;
            continue;
        case PT_HTTP_ACCESS_PHASE:
            checker = access_checker;
            break;
        case PT_HTTP_POST_ACCESS_PHASE:
            ph[n].checker = post_access_checker;
            ph[n].next = n + 1;
            n++;
            continue;
        case PT_HTTP_CONTENT_PHASE:
            checker = content_checker;
            break;
        case PT_HTTP_LOG_PHASE:
            /* run by the finalizer, not by the engine */
            continue;
        default:
            checker = generic_checker;
        }

        if (i == PT_HTTP_CONTENT_PHASE) {
            /* the location's own content handler runs first */
            ph[n].checker = content_checker;
            ph[n].handler = NULL;
            n++;
        }
        next = n + cmcf->phases[i].nelts;
        /* within a phase the last registered runs first (as nginx): so
         * module order index, autoindex, static runs index first */
        for (j = cmcf->phases[i].nelts; j-- > 0;) {
            ph[n].checker = checker;
            ph[n].handler = h[j];
            ph[n].next = next;
            n++;
        }
    }
    cmcf->phase_engine_n = n;
    return PT_OK;
}

/* DECLINED: next handler; OK: next phase; AGAIN/DONE: the handler goes on
 * by itself; anything else finalizes. Returns PT_OK to stop the engine. */
static int
generic_checker(pt_http_request_t *r, pt_http_phase_handler_t *ph)
{
    int rc = ph->handler(r);

    if (rc == PT_OK) {
        r->phase_handler = (pt_int_t) ph->next;
        return PT_AGAIN;
    }
    if (rc == PT_DECLINED) {
        r->phase_handler++;
        return PT_AGAIN;
    }
    if (rc == PT_AGAIN || rc == PT_DONE) {
        return PT_OK;
    }
    pt_http_finalize_request(r, rc);
    return PT_OK;
}

static int
rewrite_checker(pt_http_request_t *r, pt_http_phase_handler_t *ph)
{
    int rc = ph->handler(r);

    if (rc == PT_DECLINED) {
        r->phase_handler++;
        return PT_AGAIN;
    }
    if (rc == PT_DONE) {
        return PT_OK;
    }
    /* PT_OK, PT_ERROR, PT_HTTP_... */
    pt_http_finalize_request(r, rc);
    return PT_OK;
}

/* Pick the location for r->uri and apply its confs and limits. */
static int
find_config_checker(pt_http_request_t *r, pt_http_phase_handler_t *ph)
{
    pt_http_srv_conf_t *scf = pt_http_core_srv_conf(r);
    pt_http_loc_conf_t *clcf;
    pt_http_location_t *loc = NULL;

    r->content_handler = NULL;
    r->uri_changed = 0;
    r->valid_location = 1;

    if (scf->locations != NULL) {
        loc = pt_http_find_location(r, scf->locations);
    }
    r->loc_conf = loc != NULL ? loc->data
                              : scf->ctx->loc_conf;
    r->location = loc;
    pt_http_update_location_config(r);
    clcf = pt_http_core_loc_conf(r);

    if (!r->internal && clcf->internal) {
        pt_http_finalize_request(r, PT_HTTP_NOT_FOUND);
        return PT_OK;
    }
    if (r->headers_in.content_length_n > 0 && clcf->client_max_body_size
        && r->headers_in.content_length_n > clcf->client_max_body_size)
    {
        pt_log_error(PT_LOG_ERR, pt_http_request_log(r), 0, "client intended "
                     "to send too large body: %lld bytes",
                     (long long) r->headers_in.content_length_n);
        /* as nginx: the body is read and dropped while the 413 goes out,
         * bounded by lingering_timeout; then the connection closes */
        r->expect_tested = 1;
        (void) pt_http_discard_request_body(r);
        pt_http_finalize_request(r, PT_HTTP_REQUEST_ENTITY_TOO_LARGE);
        return PT_OK;
    }
    r->phase_handler++;
    return PT_AGAIN;
}

static int
post_rewrite_checker(pt_http_request_t *r, pt_http_phase_handler_t *ph)
{
    if (!r->uri_changed) {
        r->phase_handler++;
        return PT_AGAIN;
    }
    /* a uri_changes of 0 means the limit of rewrite cycles is reached */
    r->uri_changes--;
    if (r->uri_changes == 0) {
        pt_log_error(PT_LOG_ERR, pt_http_request_log(r), 0, "rewrite or "
                     "internal redirection cycle while processing \"%.*s\"",
                     (int) r->uri.len, r->uri.data);
        pt_http_finalize_request(r, PT_HTTP_INTERNAL_SERVER_ERROR);
        return PT_OK;
    }
    r->phase_handler = (pt_int_t) ph->next;
    return PT_AGAIN;
}

/* satisfy all: the first refusal wins; satisfy any: the first grant. */
static int
access_checker(pt_http_request_t *r, pt_http_phase_handler_t *ph)
{
    pt_http_loc_conf_t *clcf = pt_http_core_loc_conf(r);
    int                 rc;

    rc = ph->handler(r);
    if (rc == PT_DECLINED) {
        r->phase_handler++;
        return PT_AGAIN;
    }
    if (rc == PT_AGAIN || rc == PT_DONE) {
        return PT_OK;
    }
    if (clcf->satisfy == PT_HTTP_SATISFY_ALL) {
        if (rc == PT_OK) {
            r->phase_handler++;
            return PT_AGAIN;
        }
    } else {
        if (rc == PT_OK) {
            r->access_code = 0;
            r->phase_handler = (pt_int_t) ph->next;
            return PT_AGAIN;
        }
        if (rc == PT_HTTP_FORBIDDEN || rc == PT_HTTP_UNAUTHORIZED) {
            if (r->access_code != PT_HTTP_UNAUTHORIZED) {
                r->access_code = (pt_uint_t) rc;
            }
            r->phase_handler++;
            return PT_AGAIN;
        }
    }
    pt_http_finalize_request(r, rc);
    return PT_OK;
}

static int
post_access_checker(pt_http_request_t *r, pt_http_phase_handler_t *ph)
{
    pt_uint_t code = r->access_code;

    if (code != 0) {
        r->access_code = 0;
        if (code == PT_HTTP_FORBIDDEN) {
            /* under satisfy any the refusing module kept quiet */
            pt_log_error(PT_LOG_ERR, pt_http_request_log(r), 0,
                         "access forbidden by rule");
        }
        pt_http_finalize_request(r, code == PT_HTTP_FORBIDDEN
                                    ? PT_HTTP_FORBIDDEN : code);
        return PT_OK;
    }
    r->phase_handler++;
    return PT_AGAIN;
}

/* The location's handler (proxy, return...) or the content phase's
 * handlers in turn (index, autoindex, static); 404 when none answers, or
 * 403 for a URI that names a directory. */
static int
content_checker(pt_http_request_t *r, pt_http_phase_handler_t *ph)
{
    pt_http_phase_handler_t *engine = pt_http_core_main_conf(r)->phase_engine;
    int                      rc;

    if (ph->handler == NULL) {
        if (r->content_handler != NULL) {
            r->write_event_handler = pt_http_request_empty_handler;
            pt_http_finalize_request(r, r->content_handler(r));
            return PT_OK;
        }
    } else {
        rc = ph->handler(r);
        if (rc != PT_DECLINED) {
            pt_http_finalize_request(r, rc);
            return PT_OK;
        }
    }
    r->phase_handler++;
    if (engine[r->phase_handler].checker == content_checker) {
        return PT_AGAIN;
    }

    /* no handler took it */
    if (r->uri.data[r->uri.len - 1] == '/') {
        pt_log_error(PT_LOG_ERR, pt_http_request_log(r), 0, "directory index "
                     "of \"%.*s\" is forbidden", (int) r->uri.len,
                     r->uri.data);
        pt_http_finalize_request(r, PT_HTTP_FORBIDDEN);
        return PT_OK;
    }
    pt_http_finalize_request(r, PT_HTTP_NOT_FOUND);
    return PT_OK;
}

void
pt_http_update_location_config(pt_http_request_t *r)
{
    pt_http_loc_conf_t *clcf = pt_http_core_loc_conf(r);
    pt_connection_t    *c = r->connection;

    if (r->method & PT_HTTP_HEAD) {
        r->header_only = 1;
    }
    if (clcf->error_log != NULL) {
        /* the location's own error_log, still saying what it is about;
         * r->pool owns the copy, so the connection's log comes back when
         * the request goes (pt_http_free_request) */
        pt_log_t *l = pt_http_log_with_context(r->pool, clcf->error_log, c);

        if (l != NULL) {
            c->log = l;
        }
    } else if (c->data != NULL
               && ((pt_http_connection_t *) c->data)->request_log != NULL)
    {
        c->log = ((pt_http_connection_t *) c->data)->request_log;
    }
    r->limit_rate = clcf->limit_rate;
    if (clcf->handler != NULL) {
        r->content_handler = clcf->handler;
    }
}

pt_log_t *
pt_http_request_log(pt_http_request_t *r)
{
    pt_http_loc_conf_t *clcf = pt_http_core_loc_conf(r);

    return clcf->error_log != NULL ? clcf->error_log : r->connection->log;
}

/* Start over with a new URI at the server's rewrite directives. */
int
pt_http_internal_redirect(pt_http_request_t *r, pt_str_t *uri, pt_str_t *args)
{
    pt_http_core_main_conf_t *cmcf = pt_http_core_main_conf(r);
    pt_http_srv_conf_t       *scf = pt_http_core_srv_conf(r);

    /* the caller finalizes with the PT_DONE returned: one more reference,
     * so that the redirected request finishing first does not free r */
    r->count++;
    r->uri_changes--;
    if (r->uri_changes == 0) {
        pt_log_error(PT_LOG_ERR, pt_http_request_log(r), 0, "rewrite or "
                     "internal redirection cycle while internally "
                     "redirecting to \"%.*s\"", (int) uri->len, uri->data);
        pt_http_finalize_request(r, PT_HTTP_INTERNAL_SERVER_ERROR);
        return PT_DONE;
    }
    r->uri = *uri;
    if (args != NULL) {
        r->args = *args;
    } else {
        r->args.len = 0;
        r->args.data = NULL;
    }
    pt_http_set_exten(r);

    /* module state belongs to the old URI; variables stay, as in nginx
     * (what "set" gave them survives error_page and try_files) */
    memset(r->ctx, 0, sizeof(void *) * pt_http_modules_n);
    r->loc_conf = scf->ctx->loc_conf;
    r->internal = 1;
    r->valid_unparsed_uri = 0;
    r->add_uri_to_alias = 0;
    /* as nginx: the server's rewrite directives run again */
    r->phase_handler = (pt_int_t) cmcf->server_rewrite_index;
    r->write_event_handler = pt_http_core_run_phases;
    pt_http_core_run_phases(r);
    return PT_DONE;
}

int
pt_http_named_location(pt_http_request_t *r, pt_str_t *name)
{
    pt_http_core_main_conf_t *cmcf = pt_http_core_main_conf(r);
    pt_http_srv_conf_t       *scf = pt_http_core_srv_conf(r);
    pt_http_location_t       *loc = NULL;

    r->count++;   /* as pt_http_internal_redirect */
    r->uri_changes--;
    if (r->uri_changes == 0) {
        pt_log_error(PT_LOG_ERR, pt_http_request_log(r), 0, "rewrite or "
                     "internal redirection cycle while redirect to named "
                     "location \"%.*s\"", (int) name->len, name->data);
        pt_http_finalize_request(r, PT_HTTP_INTERNAL_SERVER_ERROR);
        return PT_DONE;
    }
    if (scf->locations != NULL) {
        loc = pt_http_location_named(scf->locations, name);
    }
    if (loc == NULL) {
        pt_log_error(PT_LOG_ERR, pt_http_request_log(r), 0, "could not find "
                     "named location \"%.*s\"", (int) name->len, name->data);
        pt_http_finalize_request(r, PT_HTTP_INTERNAL_SERVER_ERROR);
        return PT_DONE;
    }
    memset(r->ctx, 0, sizeof(void *) * pt_http_modules_n);
    r->loc_conf = loc->data;
    r->location = loc;
    pt_http_update_location_config(r);
    r->internal = 1;
    r->phase_handler = (pt_int_t) cmcf->location_rewrite_index;
    r->write_event_handler = pt_http_core_run_phases;
    pt_http_core_run_phases(r);
    return PT_DONE;
}
