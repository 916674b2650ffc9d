/*
 * The rewrite module: `return` (more of it lands with rewrite, if, set,
 * break). Server-level directives run in the server-rewrite phase, a
 * location's own in the rewrite phase; they are not inherited.
 */
#include <string.h>

#include "common/log.h"
#include "common/pool.h"
#include "http.h"
#include "http_core.h"
#include "http_request.h"
#include "http_script.h"

typedef struct {
    pt_int_t                  return_code;   /* -1: none */
    pt_http_complex_value_t  *return_text;   /* NULL: none */
} rewrite_loc_conf_t;

static void *create_loc_conf(pt_conf_t *cf);
static char *set_return(pt_conf_t *cf, pt_command_t *cmd, void *conf);
static int postconfiguration(pt_conf_t *cf);

static pt_command_t rewrite_commands[] = {
    { "return", PT_CONF_SERVER | PT_CONF_LOCATION | PT_CONF_IF
      | PT_CONF_TAKE12, set_return, PT_CONF_LOC_OFFSET, 0, NULL },
    pt_null_command
};

pt_module_t pt_http_rewrite_module = {
    "http_rewrite", rewrite_commands,
    NULL, NULL, NULL, NULL,
    create_loc_conf, NULL,
    NULL, NULL, NULL, 0, PT_MODULE_HTTP, postconfiguration
};

static void *
create_loc_conf(pt_conf_t *cf)
{
    rewrite_loc_conf_t *rlcf = pt_pcalloc(cf->pool, sizeof(*rlcf));

    if (rlcf != NULL) {
        rlcf->return_code = PT_CONF_UNSET;
    }
    return rlcf;
}

static int
is_url(const pt_str_t *v)
{
    return (v->len > 7 && memcmp(v->data, "http://", 7) == 0)
           || (v->len > 8 && memcmp(v->data, "https://", 8) == 0)
           || (v->len > 7 && memcmp(v->data, "$scheme", 7) == 0);
}

/* return CODE [TEXT] | return CODE URL | return URL */
static char *
set_return(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    rewrite_loc_conf_t *rlcf = conf;
    pt_str_t           *a = &cf->args[1], *text = NULL;
    pt_int_t            code;

    if (rlcf->return_code != PT_CONF_UNSET) {
        return "is duplicate";
    }
    code = pt_atoi(a->data, a->len);
    if (code == PT_ERROR) {
        if (cf->nargs != 2 || !is_url(a)) {
            pt_conf_log_error(PT_LOG_EMERG, cf, 0, "invalid return code "
                              "\"%.*s\"", (int) a->len, a->data);
            return PT_CONF_ERROR;
        }
        code = PT_HTTP_MOVED_TEMPORARILY;
        text = a;
    } else if (code > 999) {
        pt_conf_log_error(PT_LOG_EMERG, cf, 0, "invalid return code \"%.*s\"",
                          (int) a->len, a->data);
        return PT_CONF_ERROR;
    } else if (cf->nargs == 3) {
        text = &cf->args[2];
    }
    rlcf->return_code = code;
    if (text != NULL) {
        rlcf->return_text = pt_pcalloc(cf->pool,
                                       sizeof(pt_http_complex_value_t));
        if (rlcf->return_text == NULL
            || pt_http_compile_complex_value(cf, text, rlcf->return_text)
               != PT_OK)
        {
            return PT_CONF_ERROR;
        }
    }
    return PT_CONF_OK;
}

static int
send_return(pt_http_request_t *r, rewrite_loc_conf_t *rlcf)
{
    pt_str_t        text, key = pt_string("Location");
    pt_table_elt_t *h;
    pt_uint_t       code = (pt_uint_t) rlcf->return_code;

    if (rlcf->return_text == NULL) {
        return (int) code;   /* the special response for the status */
    }
    if (pt_http_complex_value(r, rlcf->return_text, &text) != PT_OK) {
        return PT_HTTP_INTERNAL_SERVER_ERROR;
    }
    if (code >= PT_HTTP_MOVED_PERMANENTLY
        && code <= PT_HTTP_PERMANENT_REDIRECT && code != 304
        && code != 305 && code != 306)
    {
        pt_http_clear_location(r);
        h = pt_http_add_header_out(r, &key, &text);
        if (h == NULL) {
            return PT_HTTP_INTERNAL_SERVER_ERROR;
        }
        r->headers_out.location = h;
        return (int) code;
    }
    if (pt_http_set_content_type(r) != PT_OK) {
        return PT_HTTP_INTERNAL_SERVER_ERROR;
    }
    return pt_http_send_response(r, code, NULL, &text) == PT_ERROR
           ? PT_ERROR : PT_OK;
}

static int
rewrite_handler(pt_http_request_t *r)
{
    rewrite_loc_conf_t *rlcf;

    rlcf = r->loc_conf[pt_http_rewrite_module.index];
    if (rlcf->return_code == PT_CONF_UNSET) {
        return PT_DECLINED;
    }
    return send_return(r, rlcf);
}

/* Server level: the server's own directives, before a location is found. */
static int
server_rewrite_handler(pt_http_request_t *r)
{
    pt_http_srv_conf_t *scf = pt_http_core_srv_conf(r);
    rewrite_loc_conf_t *rlcf;

    rlcf = scf->ctx->loc_conf[pt_http_rewrite_module.index];
    if (rlcf->return_code == PT_CONF_UNSET) {
        return PT_DECLINED;
    }
    return send_return(r, rlcf);
}

static int
postconfiguration(pt_conf_t *cf)
{
    if (pt_http_add_phase_handler(cf, PT_HTTP_SERVER_REWRITE_PHASE,
                                  server_rewrite_handler) != PT_OK
        || pt_http_add_phase_handler(cf, PT_HTTP_REWRITE_PHASE,
                                     rewrite_handler) != PT_OK)
    {
        return PT_ERROR;
    }
    return PT_OK;
}
