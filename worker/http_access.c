/*
 * The access module: `allow` and `deny` by client address (IPv4, IPv6
 * CIDR blocks, unix sockets, all), checked in order in the access phase,
 * the first match deciding. A level with rules of its own replaces its
 * parent's list as a whole.
 */
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "common/array.h"
#include "common/cidr.h"
#include "common/log.h"
#include "common/pool.h"
#include "conn.h"
#include "http.h"
#include "http_core.h"
#include "http_request.h"

typedef struct {
    pt_cidr_t   cidr;        /* unused in unix rules */
    unsigned    deny:1;
} access_rule_t;

/* One list per family, as nginx keeps them: an IPv4 client is checked
 * against the IPv4 rules only, and `all` adds a rule to each list. */
typedef struct {
    pt_array_t  *rules;      /* access_rule_t, IPv4 */
    pt_array_t  *rules6;     /* IPv6 */
    pt_array_t  *rules_un;   /* unix sockets */
} access_loc_conf_t;

static void *create_loc_conf(pt_conf_t *cf);
static char *merge_loc_conf(pt_conf_t *cf, void *parent, void *child);
static char *set_rule(pt_conf_t *cf, pt_command_t *cmd, void *conf);
static int postconfiguration(pt_conf_t *cf);

#define ACCESS_CTX (PT_CONF_HTTP | PT_CONF_SERVER | PT_CONF_LOCATION         \
                    | PT_CONF_LMT | PT_CONF_TAKE1)

static pt_command_t access_commands[] = {
    { "allow", ACCESS_CTX, set_rule, PT_CONF_LOC_OFFSET, 0, NULL },
    { "deny", ACCESS_CTX, set_rule, PT_CONF_LOC_OFFSET, 0, NULL },
    pt_null_command
};

pt_module_t pt_http_access_module = {
    "http_access", access_commands,
    NULL, NULL, NULL, NULL,
    create_loc_conf, merge_loc_conf,
    NULL, NULL, NULL, 0, PT_MODULE_HTTP, postconfiguration
};

static void *
create_loc_conf(pt_conf_t *cf)
{
    /* all lists NULL: no rules at this level */
    return pt_pcalloc(cf->pool, sizeof(access_loc_conf_t));
}

static char *
merge_loc_conf(pt_conf_t *cf, void *parent, void *child)
{
    access_loc_conf_t *prev = parent, *conf = child;

    if (conf->rules == NULL && conf->rules6 == NULL
        && conf->rules_un == NULL)
    {
        conf->rules = prev->rules;
        conf->rules6 = prev->rules6;
        conf->rules_un = prev->rules_un;
    }
    return PT_CONF_OK;
}

static int
add_rule(pt_conf_t *cf, pt_array_t **list, const pt_cidr_t *cidr, int deny)
{
    access_rule_t *rule;

    if (*list == NULL) {
        *list = pt_array_create(cf->pool, 4, sizeof(access_rule_t));
        if (*list == NULL) {
            return PT_ERROR;
        }
    }
    rule = pt_array_push(*list);
    if (rule == NULL) {
        return PT_ERROR;
    }
    memset(rule, 0, sizeof(*rule));
    if (cidr != NULL) {
        rule->cidr = *cidr;
    }
    rule->deny = deny;
    return PT_OK;
}

/* allow|deny ADDRESS | CIDR | unix: | all */
static char *
set_rule(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    access_loc_conf_t *alcf = conf;
    pt_str_t          *v = &cf->args[1];
    pt_cidr_t          cidr, any6;
    int                deny = cf->args[0].data[0] == 'd';
    int                rc;

    if (pt_str_eq_cstr(v, "all")) {
        /* /0 blocks: the masks are zero, so every address matches */
        memset(&cidr, 0, sizeof(cidr));
        cidr.family = AF_INET;
        memset(&any6, 0, sizeof(any6));
        any6.family = AF_INET6;
        if (add_rule(cf, &alcf->rules, &cidr, deny) != PT_OK
            || add_rule(cf, &alcf->rules6, &any6, deny) != PT_OK
            || add_rule(cf, &alcf->rules_un, NULL, deny) != PT_OK)
        {
            return PT_CONF_ERROR;
        }
        return PT_CONF_OK;
    }
    if (pt_str_eq_cstr(v, "unix:")) {
        return add_rule(cf, &alcf->rules_un, NULL, deny) == PT_OK
               ? PT_CONF_OK : PT_CONF_ERROR;
    }

    rc = pt_cidr_parse(v->data, v->len, &cidr);
    if (rc == PT_ERROR) {
        pt_conf_log_error(PT_LOG_EMERG, cf, 0, "invalid parameter \"%.*s\"",
                          (int) v->len, v->data);
        return PT_CONF_ERROR;
    }
    if (rc == PT_DONE) {
        pt_conf_log_error(PT_LOG_WARN, cf, 0, "low address bits of %.*s are "
                          "meaningless", (int) v->len, v->data);
    }
    return add_rule(cf, cidr.family == AF_INET ? &alcf->rules
                                               : &alcf->rules6,
                    &cidr, deny) == PT_OK ? PT_CONF_OK : PT_CONF_ERROR;
}

/* The verdict of a matching rule: a refusal is logged unless `satisfy
 * any` leaves the decision to another module. */
static int
found(pt_http_request_t *r, const access_rule_t *rule)
{
    if (!rule->deny) {
        return PT_OK;
    }
    if (pt_http_core_loc_conf(r)->satisfy == PT_HTTP_SATISFY_ALL) {
        pt_log_error(PT_LOG_ERR, pt_http_request_log(r), 0,
                     "access forbidden by rule");
    }
    return PT_HTTP_FORBIDDEN;
}

static int
check_in(pt_http_request_t *r, pt_array_t *list, uint32_t addr)
{
    access_rule_t *rule = list->elts;
    pt_uint_t      i;

    for (i = 0; i < list->nelts; i++) {
        if (pt_cidr_match_in(&rule[i].cidr, addr)) {
            return found(r, &rule[i]);
        }
    }
    return PT_DECLINED;
}

static int
check_in6(pt_http_request_t *r, pt_array_t *list, const u_char *addr)
{
    access_rule_t *rule = list->elts;
    pt_uint_t      i;

    for (i = 0; i < list->nelts; i++) {
        if (pt_cidr_match_in6(&rule[i].cidr, addr)) {
            return found(r, &rule[i]);
        }
    }
    return PT_DECLINED;
}

/* PT_OK (allowed by a rule), PT_HTTP_FORBIDDEN, or PT_DECLINED when no
 * rule matches (allowed, other access modules decide). */
static int
access_handler(pt_http_request_t *r)
{
    access_loc_conf_t   *alcf;
    struct sockaddr     *sa = (struct sockaddr *) r->connection->sockaddr;
    struct sockaddr_in6 *sin6;
    uint32_t             v4;

    alcf = pt_http_get_module_loc_conf(r, pt_http_access_module);

    switch (sa->sa_family) {
    case AF_INET:
        if (alcf->rules != NULL) {
            return check_in(r, alcf->rules,
                            ((struct sockaddr_in *) sa)->sin_addr.s_addr);
        }
        break;

    case AF_INET6:
        sin6 = (struct sockaddr_in6 *) sa;
        /* a v4-mapped client is an IPv4 one when IPv4 rules exist */
        if (alcf->rules != NULL
            && pt_cidr_v4_mapped(sin6->sin6_addr.s6_addr, &v4))
        {
            return check_in(r, alcf->rules, v4);
        }
        if (alcf->rules6 != NULL) {
            return check_in6(r, alcf->rules6, sin6->sin6_addr.s6_addr);
        }
        break;

    case AF_UNIX:
        if (alcf->rules_un != NULL) {
            /* unix rules carry no address: the first one decides */
            return found(r, alcf->rules_un->elts);
        }
        break;
    }
    return PT_DECLINED;
}

static int
postconfiguration(pt_conf_t *cf)
{
    return pt_http_add_phase_handler(cf, PT_HTTP_ACCESS_PHASE,
                                     access_handler);
}
