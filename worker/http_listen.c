/*
 * listen ADDR [default_server] [reuseport] [backlog=N] [rcvbuf=S] [sndbuf=S]
 * [deferred] [bind] [fastopen=N] [so_keepalive=on|off|idle:intvl:cnt]
 * [ipv6only=on|off] [ssl] [proxy_protocol] [http2]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/cycle.h"
#include "common/log.h"
#include "common/pool.h"
#include "http.h"
#include "http_connection.h"
#include "http_core.h"
#include "http_listen.h"
#include "http_server_name.h"
#include "conn.h"

typedef struct {
    pt_addr_t  addr;
    int        backlog, rcvbuf, sndbuf, fastopen, ipv6only;
    int        keepalive, keepidle, keepintvl, keepcnt;
    unsigned   default_server:1, reuseport:1, deferred:1, bind:1;
    unsigned   ssl:1, proxy_protocol:1, http2:1, set:1;
} listen_opt_t;

static int
param_value(pt_str_t *arg, const char *name, pt_str_t *value)
{
    size_t n = strlen(name);

    if (arg->len > n && memcmp(arg->data, name, n) == 0) {
        value->data = arg->data + n;
        value->len = arg->len - n;
        return 1;
    }
    return 0;
}

/* so_keepalive=on|off|[idle]:[intvl]:[cnt] */
static char *
parse_keepalive(pt_conf_t *cf, pt_str_t *v, listen_opt_t *lo)
{
    u_char   *p, *end, *colon;
    int      *fields[3] = { &lo->keepidle, &lo->keepintvl, &lo->keepcnt };
    pt_int_t  n;
    int       i;
    pt_str_t  part;

    if (pt_str_eq_cstr(v, "on")) {
        lo->keepalive = 1;
        return PT_CONF_OK;
    }
    if (pt_str_eq_cstr(v, "off")) {
        lo->keepalive = 2;
        return PT_CONF_OK;
    }
    p = v->data;
    end = v->data + v->len;
    for (i = 0; i < 3; i++) {
        colon = memchr(p, ':', (size_t) (end - p));
        part.data = p;
        part.len = (size_t) ((colon ? colon : end) - p);
        if (part.len > 0) {
            n = i == 2 ? pt_atoi(part.data, part.len) : pt_parse_time(&part, 1);
            if (n == PT_ERROR || n == 0 || n > 32767) {
                goto invalid;
            }
            *fields[i] = (int) n;
        }
        if (colon == NULL) {
            if (i != 2) {
                goto invalid;
            }
            break;
        }
        p = colon + 1;
    }
    if (p <= end && i == 3) {
        goto invalid;
    }
    lo->keepalive = 1;
    return PT_CONF_OK;

invalid:
    pt_conf_log_error(PT_LOG_EMERG, cf, 0, "invalid so_keepalive value: "
                      "\"%.*s\"", (int) v->len + 13, v->data - 13);
    return PT_CONF_ERROR;
}

static char *
parse_size_param(pt_conf_t *cf, pt_str_t *arg, pt_str_t *v, int *out,
                 const char *what)
{
    ssize_t n = pt_parse_size(v);

    if (n == PT_ERROR || n == 0 || n > 0x7fffffff) {
        pt_conf_log_error(PT_LOG_EMERG, cf, 0, "invalid %s \"%.*s\"", what,
                          (int) arg->len, arg->data);
        return PT_CONF_ERROR;
    }
    *out = (int) n;
    return PT_CONF_OK;
}

/* The optional parameters after the address. */
static char *
parse_params(pt_conf_t *cf, listen_opt_t *lo)
{
    pt_uint_t  i;
    pt_str_t  *a, v;
    pt_int_t   n;
    char      *rv = PT_CONF_OK;

    for (i = 2; i < cf->nargs && rv == PT_CONF_OK; i++) {
        a = &cf->args[i];
        if (pt_str_eq_cstr(a, "default_server") || pt_str_eq_cstr(a, "default")) {
            lo->default_server = 1;
        } else if (pt_str_eq_cstr(a, "reuseport")) {
            lo->reuseport = lo->bind = lo->set = 1;
        } else if (pt_str_eq_cstr(a, "deferred")) {
            lo->deferred = lo->bind = lo->set = 1;
        } else if (pt_str_eq_cstr(a, "bind")) {
            lo->bind = lo->set = 1;
        } else if (pt_str_eq_cstr(a, "ssl")) {
            lo->ssl = 1;
        } else if (pt_str_eq_cstr(a, "http2")) {
            lo->http2 = 1;
        } else if (pt_str_eq_cstr(a, "proxy_protocol")) {
            lo->proxy_protocol = 1;
        } else if (param_value(a, "backlog=", &v)) {
            n = pt_atoi(v.data, v.len);
            if (n == PT_ERROR || n == 0 || n > 65535) {
                pt_conf_log_error(PT_LOG_EMERG, cf, 0, "invalid backlog "
                                  "\"%.*s\"", (int) v.len, v.data);
                return PT_CONF_ERROR;
            }
            lo->backlog = (int) n;
            lo->set = lo->bind = 1;
        } else if (param_value(a, "rcvbuf=", &v)) {
            rv = parse_size_param(cf, a, &v, &lo->rcvbuf, "rcvbuf");
            lo->set = lo->bind = 1;
        } else if (param_value(a, "sndbuf=", &v)) {
            rv = parse_size_param(cf, a, &v, &lo->sndbuf, "sndbuf");
            lo->set = lo->bind = 1;
        } else if (param_value(a, "fastopen=", &v)) {
            n = pt_atoi(v.data, v.len);
            if (n == PT_ERROR) {
                pt_conf_log_error(PT_LOG_EMERG, cf, 0, "invalid fastopen "
                                  "\"%.*s\"", (int) v.len, v.data);
                return PT_CONF_ERROR;
            }
            lo->fastopen = (int) n;
            lo->set = lo->bind = 1;
        } else if (param_value(a, "so_keepalive=", &v)) {
            rv = parse_keepalive(cf, &v, lo);
            lo->set = lo->bind = 1;
        } else if (param_value(a, "ipv6only=", &v)) {
            if (pt_str_eq_cstr(&v, "on") || pt_str_eq_cstr(&v, "off")) {
                lo->ipv6only = pt_str_eq_cstr(&v, "on");
            } else {
                pt_conf_log_error(PT_LOG_EMERG, cf, 0, "invalid ipv6only "
                                  "flags \"%.*s\"", (int) v.len, v.data);
                return PT_CONF_ERROR;
            }
            lo->set = lo->bind = 1;
        } else {
            pt_conf_log_error(PT_LOG_EMERG, cf, 0, "invalid parameter \"%.*s\"",
                              (int) a->len, a->data);
            return PT_CONF_ERROR;
        }
    }
    return rv;
}

static pt_http_addr_t *
find_addr(pt_http_core_main_conf_t *mcf, pt_addr_t *addr)
{
    pt_http_addr_t **a = mcf->addrs.elts;
    pt_uint_t        i;

    for (i = 0; i < mcf->addrs.nelts; i++) {
        if (pt_inet_addr_eq((struct sockaddr *) &a[i]->addr.sockaddr,
                            a[i]->addr.socklen,
                            (struct sockaddr *) &addr->sockaddr,
                            addr->socklen))
        {
            return a[i];
        }
    }
    return NULL;
}

static pt_http_addr_t *
new_addr(pt_conf_t *cf, pt_http_core_main_conf_t *mcf, listen_opt_t *lo)
{
    pt_http_addr_t *a, **ap;
    char            text[PT_SOCKADDR_STRLEN];

    a = pt_pcalloc(cf->pool, sizeof(pt_http_addr_t));
    ap = pt_array_push(&mcf->addrs);
    if (a == NULL || ap == NULL
        || pt_array_init(&a->servers, cf->pool, 2, sizeof(void *)) != PT_OK)
    {
        return NULL;
    }
    *ap = a;
    a->addr = lo->addr;
    a->text.len = pt_inet_text((struct sockaddr *) &lo->addr.sockaddr,
                               lo->addr.socklen, text, sizeof(text));
    a->text.data = pt_pnalloc(cf->pool, a->text.len + 1);
    if (a->text.data == NULL) {
        return NULL;
    }
    memcpy(a->text.data, text, a->text.len + 1);
    a->backlog = 511;
    a->rcvbuf = a->sndbuf = a->fastopen = -1;
    a->ipv6only = 1;
    return a;
}

static void
copy_options(pt_http_addr_t *a, listen_opt_t *lo)
{
    a->set_options = 1;
    if (lo->backlog) a->backlog = lo->backlog;
    if (lo->rcvbuf) a->rcvbuf = lo->rcvbuf;
    if (lo->sndbuf) a->sndbuf = lo->sndbuf;
    if (lo->fastopen) a->fastopen = lo->fastopen;
    if (lo->ipv6only != -1) a->ipv6only = lo->ipv6only;
    a->keepalive = lo->keepalive;
    a->keepidle = lo->keepidle;
    a->keepintvl = lo->keepintvl;
    a->keepcnt = lo->keepcnt;
    a->reuseport = lo->reuseport;
    a->deferred = lo->deferred;
    a->bind = lo->bind;
}

/* Record one listen of server `scf`. */
static char *
add_listen(pt_conf_t *cf, pt_http_srv_conf_t *scf, listen_opt_t *lo)
{
    pt_http_core_main_conf_t *mcf = scf->ctx->main_conf[pt_http_core_module.index];
    pt_http_addr_t      *a;
    pt_http_srv_conf_t **sp;
    pt_uint_t            i;

    a = find_addr(mcf, &lo->addr);
    if (a == NULL) {
        a = new_addr(cf, mcf, lo);
        if (a == NULL) {
            return PT_CONF_ERROR;
        }
    } else if (lo->set && a->set_options) {
        pt_conf_log_error(PT_LOG_EMERG, cf, 0, "duplicate listen options for "
                          "%.*s", (int) a->text.len, a->text.data);
        return PT_CONF_ERROR;
    }

    sp = a->servers.elts;
    for (i = 0; i < a->servers.nelts; i++) {
        if (sp[i] == scf) {
            pt_conf_log_error(PT_LOG_EMERG, cf, 0, "a duplicate listen %.*s",
                              (int) a->text.len, a->text.data);
            return PT_CONF_ERROR;
        }
    }

    if (lo->set) {
        copy_options(a, lo);
    }
    a->ssl |= lo->ssl;
    a->http2 |= lo->http2;
    a->proxy_protocol |= lo->proxy_protocol;

    if (lo->default_server) {
        if (a->default_server != NULL && a->default_server != scf) {
            pt_conf_log_error(PT_LOG_EMERG, cf, 0, "a duplicate default server "
                              "for %.*s", (int) a->text.len, a->text.data);
            return PT_CONF_ERROR;
        }
        a->default_server = scf;
    }

    sp = pt_array_push(&a->servers);
    if (sp == NULL) {
        return PT_CONF_ERROR;
    }
    *sp = scf;
    scf->listen = 1;
    return PT_CONF_OK;
}

char *
pt_http_listen_set(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    pt_http_srv_conf_t *scf = conf;
    listen_opt_t        lo;
    const char         *err;
    char               *rv;

    memset(&lo, 0, sizeof(lo));
    lo.ipv6only = -1;
    if (pt_inet_parse_listen(&cf->args[1], &lo.addr, &err) != PT_OK) {
        pt_conf_log_error(PT_LOG_EMERG, cf, 0, "%s in \"%.*s\" of the "
                          "\"listen\" directive", err, (int) cf->args[1].len,
                          cf->args[1].data);
        return PT_CONF_ERROR;
    }
    rv = parse_params(cf, &lo);
    if (rv != PT_CONF_OK) {
        return rv;
    }
    if (lo.http2) {
        pt_conf_log_error(PT_LOG_NOTICE, cf, 0, "the \"http2\" parameter is "
                          "accepted, but HTTP/2 is not supported yet: the "
                          "listener serves HTTP/1.1");
    }
    return add_listen(cf, scf, &lo);
}

char *
pt_http_listen_default(pt_conf_t *cf, pt_http_srv_conf_t *scf)
{
    listen_opt_t lo;
    pt_str_t     text;
    const char  *err;

    memset(&lo, 0, sizeof(lo));
    lo.ipv6only = -1;
    if (geteuid() == 0) {
        pt_str_set(&text, "*:80");
    } else {
        pt_str_set(&text, "*:8000");
    }
    if (pt_inet_parse_listen(&text, &lo.addr, &err) != PT_OK) {
        return PT_CONF_ERROR;
    }
    return add_listen(cf, scf, &lo);
}

/* The server names of every server on an address, in one lookup set. */
static char *
add_server_names(pt_conf_t *cf, pt_http_addr_t *a)
{
    pt_http_srv_conf_t **sp = a->servers.elts;
    pt_str_t            *name;
    pt_uint_t            i, j;
    u_char               err[256];
    int                  rc;

    a->names = pt_http_server_names_create(cf->pool);
    if (a->names == NULL) {
        return PT_CONF_ERROR;
    }
    for (i = 0; i < a->servers.nelts; i++) {
        name = sp[i]->names.elts;
        for (j = 0; j < sp[i]->names.nelts; j++) {
            err[0] = '\0';
            rc = pt_http_server_names_add(a->names, &name[j], sp[i], err,
                                          sizeof(err));
            if (rc == PT_ERROR) {
                pt_log_error(PT_LOG_EMERG, cf->log, 0, "%s in %s:%lu", err,
                             sp[i]->file, (unsigned long) sp[i]->line);
                return PT_CONF_ERROR;
            }
            if (rc == PT_DECLINED) {
                pt_log_error(PT_LOG_WARN, cf->log, 0, "%s on %.*s, ignored",
                             err, (int) a->text.len, a->text.data);
            } else if (err[0] != '\0') {
                pt_log_error(PT_LOG_WARN, cf->log, 0, "%s in %s:%lu", err,
                             sp[i]->file, (unsigned long) sp[i]->line);
            }
        }
    }
    return PT_CONF_OK;
}

static int
is_wildcard(const pt_addr_t *a)
{
    const struct sockaddr_in  *sin = (const void *) &a->sockaddr;
    const struct sockaddr_in6 *sin6 = (const void *) &a->sockaddr;

    if (a->sockaddr.ss_family == AF_INET) {
        return sin->sin_addr.s_addr == htonl(INADDR_ANY);
    }
    if (a->sockaddr.ss_family == AF_INET6) {
        return IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr);
    }
    return 0;
}

static in_port_t
port_of(const pt_addr_t *a)
{
    if (a->sockaddr.ss_family == AF_INET) {
        return ((const struct sockaddr_in *) &a->sockaddr)->sin_port;
    }
    return ((const struct sockaddr_in6 *) &a->sockaddr)->sin6_port;
}

/* As nginx: a specific address on a port that also has a wildcard listen
 * gets no socket of its own (Linux would refuse the second bind) unless
 * it asks for one (bind, reuseport, backlog=...); the wildcard socket
 * accepts for it and the server is chosen by the local address. */
static char *
fold_into_wildcards(pt_conf_t *cf, pt_http_core_main_conf_t *mcf)
{
    pt_http_addr_t **a = mcf->addrs.elts, **sub;
    pt_uint_t        i, j;

    for (i = 0; i < mcf->addrs.nelts; i++) {
        if (a[i]->bind || is_wildcard(&a[i]->addr)
            || a[i]->addr.sockaddr.ss_family == AF_UNIX)
        {
            continue;
        }
        for (j = 0; j < mcf->addrs.nelts; j++) {
            if (!is_wildcard(&a[j]->addr)
                || a[j]->addr.sockaddr.ss_family
                   != a[i]->addr.sockaddr.ss_family
                || port_of(&a[j]->addr) != port_of(&a[i]->addr))
            {
                continue;
            }
            if (a[j]->subaddrs == NULL) {
                a[j]->subaddrs = pt_array_create(cf->pool, 2, sizeof(void *));
                if (a[j]->subaddrs == NULL) {
                    return PT_CONF_ERROR;
                }
            }
            sub = pt_array_push(a[j]->subaddrs);
            if (sub == NULL) {
                return PT_CONF_ERROR;
            }
            *sub = a[i];
            a[i]->folded = 1;
            break;
        }
    }
    return PT_CONF_OK;
}

char *
pt_http_listen_add(pt_conf_t *cf, pt_http_core_main_conf_t *mcf)
{
    pt_http_addr_t **a = mcf->addrs.elts;
    pt_listening_t  *ls;
    pt_uint_t        i;

    for (i = 0; i < mcf->addrs.nelts; i++) {
        if (a[i]->default_server == NULL) {
            a[i]->default_server = ((pt_http_srv_conf_t **)
                                    a[i]->servers.elts)[0];
        }
        if (add_server_names(cf, a[i]) != PT_CONF_OK) {
            return PT_CONF_ERROR;
        }
    }
    if (fold_into_wildcards(cf, mcf) != PT_CONF_OK) {
        return PT_CONF_ERROR;
    }
    for (i = 0; i < mcf->addrs.nelts; i++) {
        if (a[i]->folded) {
            continue;
        }
        ls = pt_array_push(&cf->cycle->listening);
        if (ls == NULL) {
            return PT_CONF_ERROR;
        }
        memset(ls, 0, sizeof(*ls));
        memcpy(&ls->sockaddr, &a[i]->addr.sockaddr, a[i]->addr.socklen);
        ls->socklen = a[i]->addr.socklen;
        ls->addr_text = a[i]->text;
        ls->fd = -1;
        ls->backlog = a[i]->backlog;
        ls->rcvbuf = a[i]->rcvbuf;
        ls->sndbuf = a[i]->sndbuf;
        ls->fastopen = a[i]->fastopen;
        ls->keepalive = a[i]->keepalive;
        ls->keepidle = a[i]->keepidle;
        ls->keepintvl = a[i]->keepintvl;
        ls->keepcnt = a[i]->keepcnt;
        ls->ipv6only = a[i]->ipv6only;
        ls->reuseport = a[i]->reuseport;
        ls->deferred = a[i]->deferred;
        ls->bind = a[i]->bind;
        ls->worker = -1;
        ls->handler = pt_http_init_connection;
        ls->servers = a[i];
    }
    return PT_CONF_OK;
}

/* The address a connection on a wildcard socket was made to, if a more
 * specific listen names it; else the wildcard's own. */
pt_http_addr_t *
pt_http_listen_local_addr(pt_connection_t *c, pt_http_addr_t *wild)
{
    struct sockaddr_storage  sa;
    socklen_t                len = sizeof(sa);
    pt_http_addr_t         **sub;
    pt_uint_t                i;

    if (wild->subaddrs == NULL) {
        return wild;
    }
    if (getsockname(c->fd, (struct sockaddr *) &sa, &len) == -1) {
        pt_log_error(PT_LOG_ALERT, c->log, errno, "getsockname() failed");
        return wild;
    }
    sub = wild->subaddrs->elts;
    for (i = 0; i < wild->subaddrs->nelts; i++) {
        if (pt_inet_addr_eq((struct sockaddr *) &sa, len,
                            (struct sockaddr *) &sub[i]->addr.sockaddr,
                            sub[i]->addr.socklen))
        {
            return sub[i];
        }
    }
    return wild;
}
