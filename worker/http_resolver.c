/*
 * The `resolver` and `resolver_timeout` directives (http, server,
 * location; inherited as in nginx) and the lookup of a request's
 * resolver. The resolver itself is worker/resolver.c.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "common/array.h"
#include "common/cycle.h"
#include "common/log.h"
#include "common/pool.h"
#include "http.h"
#include "http_request.h"
#include "resolver.h"

typedef struct {
    pt_resolver_t  *resolver;    /* from a `resolver` line; NULL: none */
    pt_msec_t       timeout;
    pt_resolver_t  *view;        /* the two together, for lookups */
} resolver_loc_conf_t;

static void *create_loc_conf(pt_conf_t *cf);
static char *merge_loc_conf(pt_conf_t *cf, void *parent, void *child);
static char *set_resolver(pt_conf_t *cf, pt_command_t *cmd, void *conf);

static pt_conf_bounds_t timeout_bounds = { 1, -1 };

#define RESOLVER_CTX (PT_CONF_HTTP | PT_CONF_SERVER | PT_CONF_LOCATION)

static pt_command_t resolver_commands[] = {
    { "resolver", RESOLVER_CTX | PT_CONF_1MORE, set_resolver,
      PT_CONF_LOC_OFFSET, 0, NULL },
    { "resolver_timeout", RESOLVER_CTX | PT_CONF_TAKE1, pt_conf_set_msec,
      PT_CONF_LOC_OFFSET, offsetof(resolver_loc_conf_t, timeout),
      &timeout_bounds },
    pt_null_command
};

pt_module_t pt_http_resolver_module = {
    "http_resolver", resolver_commands,
    NULL, NULL, NULL, NULL,
    create_loc_conf, merge_loc_conf,
    NULL, NULL, NULL, 0, PT_MODULE_HTTP, NULL
};

pt_resolver_t *
pt_http_resolver(pt_http_request_t *r)
{
    resolver_loc_conf_t *rlcf;

    rlcf = pt_http_get_module_loc_conf(r, pt_http_resolver_module);
    return rlcf->view;
}

static void *
create_loc_conf(pt_conf_t *cf)
{
    resolver_loc_conf_t *rlcf;

    rlcf = pt_pcalloc(cf->pool, sizeof(resolver_loc_conf_t));
    if (rlcf == NULL) {
        return NULL;
    }
    rlcf->resolver = PT_CONF_UNSET_PTR;
    rlcf->timeout = PT_CONF_UNSET_MSEC;
    return rlcf;
}

static char *
merge_loc_conf(pt_conf_t *cf, void *parent, void *child)
{
    resolver_loc_conf_t *prev = parent, *conf = child;

    pt_conf_merge_ptr(conf->resolver, prev->resolver, NULL);
    pt_conf_merge_msec(conf->timeout, prev->timeout, 30000);

    if (conf->resolver == NULL) {
        return PT_CONF_OK;
    }
    /* locations that change neither share their parent's handle */
    if (prev->view != NULL && prev->resolver == conf->resolver
        && prev->timeout == conf->timeout)
    {
        conf->view = prev->view;
        return PT_CONF_OK;
    }
    conf->view = pt_resolver_with_timeout(cf->pool, conf->resolver,
                                          conf->timeout);
    return conf->view != NULL ? PT_CONF_OK : PT_CONF_ERROR;
}

static void
set_port(pt_addr_t *a, in_port_t port)
{
    struct sockaddr *sa = (struct sockaddr *) &a->sockaddr;

    if (sa->sa_family == AF_INET) {
        ((struct sockaddr_in *) sa)->sin_port = htons(port);
    } else {
        ((struct sockaddr_in6 *) sa)->sin6_port = htons(port);
    }
}

/* Split "host", "host:port", "[v6]", "[v6]:port" into a NUL-terminated
 * host and a port (53 when absent). Returns NULL or the nginx wording. */
static const char *
split_address(const pt_str_t *v, char *host, size_t size, in_port_t *port)
{
    const u_char *p = v->data, *end = v->data + v->len, *colon;
    pt_int_t      n;
    size_t        hlen;

    *port = PT_RESOLVER_DEFAULT_PORT;
    if (v->len > 0 && p[0] == '[') {
        colon = memchr(p, ']', v->len);
        if (colon == NULL) {
            return "invalid host";
        }
        p++;
        hlen = (size_t) (colon - p);
        colon = colon + 1 < end ? colon + 1 : NULL;
        if (colon != NULL && *colon != ':') {
            return "invalid host";
        }
    } else {
        colon = memchr(p, ':', v->len);
        if (colon != NULL && memchr(colon + 1, ':', (size_t) (end - colon - 1))
                             != NULL)
        {
            return "invalid port";       /* a bare IPv6 address */
        }
        hlen = colon != NULL ? (size_t) (colon - p) : v->len;
    }

    if (colon != NULL) {
        n = pt_atoi(colon + 1, (size_t) (end - colon - 1));
        if (n < 1 || n > 65535) {
            return "invalid port";
        }
        *port = (in_port_t) n;
    }
    if (hlen == 0 || hlen >= size || memchr(p, '\0', hlen) != NULL) {
        return "invalid host";
    }
    memcpy(host, p, hlen);
    host[hlen] = '\0';
    return NULL;
}

/* One address argument: an IP literal, or a host name resolved now into
 * every address it has (as nginx does at configuration time). */
static char *
add_server(pt_conf_t *cf, pt_array_t *servers, const pt_str_t *v)
{
    struct addrinfo  hints, *res, *ai;
    pt_addr_t       *a;
    char             host[256];
    const char      *err;
    in_port_t        port;

    err = split_address(v, host, sizeof(host), &port);
    if (err == NULL && strncmp(host, "unix:", 5) == 0) {
        err = "invalid host";           /* DNS over a unix socket: no */
    }
    if (err != NULL) {
        pt_conf_log_error(PT_LOG_EMERG, cf, 0, "%s in resolver \"%.*s\"", err,
                          (int) v->len, v->data);
        return PT_CONF_ERROR;
    }

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    if (getaddrinfo(host, NULL, &hints, &res) != 0) {
        pt_conf_log_error(PT_LOG_EMERG, cf, 0, "host not found in resolver "
                          "\"%.*s\"", (int) v->len, v->data);
        return PT_CONF_ERROR;
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
            || ai->ai_addrlen > sizeof(struct sockaddr_storage))
        {
            continue;
        }
        if (servers->nelts == PT_RESOLVER_MAX_SERVERS
            || (a = pt_array_push(servers)) == NULL)
        {
            freeaddrinfo(res);
            pt_conf_log_error(PT_LOG_EMERG, cf, 0, "too many addresses in "
                              "resolver (at most %d)",
                              PT_RESOLVER_MAX_SERVERS);
            return PT_CONF_ERROR;
        }
        memset(a, 0, sizeof(pt_addr_t));
        memcpy(&a->sockaddr, ai->ai_addr, ai->ai_addrlen);
        a->socklen = ai->ai_addrlen;
        set_port(a, port);
    }
    freeaddrinfo(res);
    return PT_CONF_OK;
}

/* valid=TIME, ipv4=on|off, ipv6=on|off, status_zone=NAME (accepted; the
 * status module has no resolver zones). PT_DECLINED: not a parameter. */
static int
set_param(pt_resolver_conf_t *rc, const pt_str_t *v)
{
    pt_str_t  s;
    pt_int_t  t;
    int       on;

    if (v->len > 6 && memcmp(v->data, "valid=", 6) == 0) {
        s.data = v->data + 6;
        s.len = v->len - 6;
        t = pt_parse_time(&s, 1);
        if (t == PT_ERROR) {
            return PT_ERROR;
        }
        rc->valid = (time_t) t;
        return PT_OK;
    }
    if (v->len > 12 && memcmp(v->data, "status_zone=", 12) == 0) {
        return PT_OK;
    }
    if (v->len < 5 || (memcmp(v->data, "ipv4=", 5) != 0
                       && memcmp(v->data, "ipv6=", 5) != 0))
    {
        return PT_DECLINED;
    }
    s.data = v->data + 5;
    s.len = v->len - 5;
    if (pt_str_eq_cstr(&s, "on")) {
        on = 1;
    } else if (pt_str_eq_cstr(&s, "off")) {
        on = 0;
    } else {
        return PT_ERROR;
    }
    if (v->data[3] == '4') {
        rc->ipv4 = on;
    } else {
        rc->ipv6 = on;
    }
    return PT_OK;
}

/* resolver ADDRESS ... [valid=TIME] [ipv4=on|off] [ipv6=on|off]
 *          [status_zone=NAME] */
static char *
set_resolver(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    resolver_loc_conf_t *rlcf = conf;
    pt_resolver_conf_t   rc;
    pt_array_t          *servers;
    pt_uint_t            i;
    int                  r;

    (void) cmd;
    if (rlcf->resolver != PT_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    servers = pt_array_create(cf->temp_pool, 4, sizeof(pt_addr_t));
    if (servers == NULL) {
        return PT_CONF_ERROR;
    }
    memset(&rc, 0, sizeof(rc));
    rc.ipv4 = 1;
    rc.ipv6 = 1;

    for (i = 1; i < cf->nargs; i++) {
        r = set_param(&rc, &cf->args[i]);
        if (r == PT_ERROR) {
            pt_conf_log_error(PT_LOG_EMERG, cf, 0, "invalid parameter: %.*s",
                              (int) cf->args[i].len, cf->args[i].data);
            return PT_CONF_ERROR;
        }
        if (r == PT_DECLINED
            && add_server(cf, servers, &cf->args[i]) != PT_CONF_OK)
        {
            return PT_CONF_ERROR;
        }
    }
    if (!rc.ipv4 && !rc.ipv6) {
        pt_conf_log_error(PT_LOG_EMERG, cf, 0,
                          "\"ipv4\" and \"ipv6\" cannot both be \"off\"");
        return PT_CONF_ERROR;
    }
    if (servers->nelts == 0) {
        pt_conf_log_error(PT_LOG_EMERG, cf, 0, "no name servers defined");
        return PT_CONF_ERROR;
    }

    rc.servers = servers->elts;
    rc.nservers = servers->nelts;
    rlcf->resolver = pt_resolver_create(cf->pool, &cf->cycle->new_log, &rc);
    return rlcf->resolver != NULL ? PT_CONF_OK : PT_CONF_ERROR;
}
