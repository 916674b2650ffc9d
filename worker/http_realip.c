/*
 * The realip module: `set_real_ip_from`, `real_ip_header`,
 * `real_ip_recursive`. A request from a trusted peer takes the client
 * address its proxy reports (a header or the PROXY header) for the rest of
 * the request only; $realip_remote_addr and _port keep the peer's. Also
 * the $proxy_protocol_* variables (the header is read by
 * http_proxy_protocol.c).
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "common/array.h"
#include "common/cidr.h"
#include "common/inet.h"
#include "common/log.h"
#include "common/pool.h"
#include "conn.h"
#include "http.h"
#include "http_connection.h"
#include "http_core.h"
#include "http_request.h"
#include "http_variables.h"
#include "proxy_protocol.h"

#define REALIP_XREALIP  0
#define REALIP_XFWD     1
#define REALIP_PROXY    2
#define REALIP_HEADER   3    /* any other header, by name */

/* Bound on the X-Forwarded-For instances walked, the last ones (their
 * size is bounded by the head buffers anyway). */
#define XFF_MAX         64

/* An address in a header: "[v6]:port" is the longest form. */
#define ADDR_TEXT_MAX   (INET6_ADDRSTRLEN + sizeof("[]:65535"))

typedef struct {
    pt_array_t  *from;        /* pt_cidr_t; family AF_UNIX for "unix:" */
    pt_uint_t    type;        /* REALIP_* */
    pt_str_t     header;      /* lower case, for REALIP_HEADER */
    int          recursive;
} realip_loc_conf_t;

/* The peer's address while the request has another (hc->realip): the
 * data of an r->pool cleanup that puts it back. */
typedef struct {
    pt_connection_t          *connection;
    struct sockaddr_storage  *sockaddr;
    socklen_t                 socklen;
    pt_str_t                  addr_text;
} realip_saved_t;

static void *create_loc_conf(pt_conf_t *cf);
static char *merge_loc_conf(pt_conf_t *cf, void *parent, void *child);
static char *set_from(pt_conf_t *cf, pt_command_t *cmd, void *conf);
static char *set_header(pt_conf_t *cf, pt_command_t *cmd, void *conf);
static int postconfiguration(pt_conf_t *cf);

#define REALIP_CTX (PT_CONF_HTTP | PT_CONF_SERVER | PT_CONF_LOCATION)

static pt_command_t realip_commands[] = {
    { "set_real_ip_from", REALIP_CTX | PT_CONF_TAKE1, set_from,
      PT_CONF_LOC_OFFSET, 0, NULL },
    { "real_ip_header", REALIP_CTX | PT_CONF_TAKE1, set_header,
      PT_CONF_LOC_OFFSET, 0, NULL },
    { "real_ip_recursive", REALIP_CTX | PT_CONF_FLAG, pt_conf_set_flag,
      PT_CONF_LOC_OFFSET, offsetof(realip_loc_conf_t, recursive), NULL },
    pt_null_command
};

pt_module_t pt_http_realip_module = {
    "http_realip", realip_commands,
    NULL, NULL, NULL, NULL,
    create_loc_conf, merge_loc_conf,
    NULL, NULL, NULL, 0, PT_MODULE_HTTP, postconfiguration
};

static void *
create_loc_conf(pt_conf_t *cf)
{
    realip_loc_conf_t *rlcf = pt_pcalloc(cf->pool, sizeof(*rlcf));

    if (rlcf == NULL) {
        return NULL;
    }
    rlcf->type = PT_CONF_UNSET_UINT;
    rlcf->recursive = PT_CONF_UNSET;
    return rlcf;
}

/* As nginx: a level with set_real_ip_from replaces its parent's list as
 * a whole; the header and recursion are inherited one by one. */
static char *
merge_loc_conf(pt_conf_t *cf, void *parent, void *child)
{
    realip_loc_conf_t *prev = parent, *conf = child;

    (void) cf;
    if (conf->from == NULL) {
        conf->from = prev->from;
    }
    if (conf->type == PT_CONF_UNSET_UINT) {
        conf->type = prev->type == PT_CONF_UNSET_UINT ? REALIP_XREALIP
                                                      : prev->type;
        conf->header = prev->header;
    }
    pt_conf_merge_value(conf->recursive, prev->recursive, 0);
    return PT_CONF_OK;
}

static int
add_cidr(pt_conf_t *cf, realip_loc_conf_t *rlcf, const pt_cidr_t *cidr)
{
    pt_cidr_t *c;

    if (rlcf->from == NULL) {
        rlcf->from = pt_array_create(cf->pool, 4, sizeof(pt_cidr_t));
        if (rlcf->from == NULL) {
            return PT_ERROR;
        }
    }
    c = pt_array_push(rlcf->from);
    if (c == NULL) {
        return PT_ERROR;
    }
    *c = *cidr;
    return PT_OK;
}

/* A host name: each of its addresses is trusted, as nginx does. */
static char *
add_host(pt_conf_t *cf, realip_loc_conf_t *rlcf, const pt_str_t *name)
{
    struct addrinfo  hints, *res, *ai;
    pt_cidr_t        cidr;
    char            *host;
    int              rc;

    host = (char *) pt_pstrdup(cf->temp_pool, name);
    if (host == NULL) {
        return PT_CONF_ERROR;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    rc = name->len > 0 && strchr(host, '/') == NULL
         ? getaddrinfo(host, NULL, &hints, &res) : EAI_NONAME;
    if (rc != 0) {
        pt_conf_log_error(PT_LOG_EMERG, cf, 0, "host not found in "
                          "set_real_ip_from \"%s\"", host);
        return PT_CONF_ERROR;
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        memset(&cidr, 0, sizeof(cidr));
        cidr.family = ai->ai_family;
        if (ai->ai_family == AF_INET) {
            cidr.u.in.addr = ((struct sockaddr_in *) ai->ai_addr)
                                 ->sin_addr.s_addr;
            cidr.u.in.mask = 0xffffffff;
        } else if (ai->ai_family == AF_INET6) {
            memcpy(cidr.u.in6.addr, &((struct sockaddr_in6 *) ai->ai_addr)
                                        ->sin6_addr, 16);
            memset(cidr.u.in6.mask, 0xff, 16);
        } else {
            continue;
        }
        if (add_cidr(cf, rlcf, &cidr) != PT_OK) {
            freeaddrinfo(res);
            return PT_CONF_ERROR;
        }
    }
    freeaddrinfo(res);
    return PT_CONF_OK;
}

/* set_real_ip_from ADDRESS | CIDR | unix: | HOST */
static char *
set_from(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    realip_loc_conf_t *rlcf = conf;
    pt_str_t          *v = &cf->args[1];
    pt_cidr_t          cidr;
    int                rc;

    (void) cmd;
    memset(&cidr, 0, sizeof(cidr));
    if (pt_str_eq_cstr(v, "unix:")) {
        cidr.family = AF_UNIX;
        return add_cidr(cf, rlcf, &cidr) == PT_OK ? PT_CONF_OK
                                                  : PT_CONF_ERROR;
    }
    rc = pt_cidr_parse(v->data, v->len, &cidr);
    if (rc == PT_ERROR) {
        return add_host(cf, rlcf, v);
    }
    if (rc == PT_DONE) {
        pt_conf_log_error(PT_LOG_WARN, cf, 0, "low address bits of %.*s are "
                          "meaningless", (int) v->len, v->data);
    }
    return add_cidr(cf, rlcf, &cidr) == PT_OK ? PT_CONF_OK : PT_CONF_ERROR;
}

/* real_ip_header X-Real-IP | X-Forwarded-For | proxy_protocol | NAME */
static char *
set_header(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    realip_loc_conf_t *rlcf = conf;
    pt_str_t          *v = &cf->args[1];
    pt_uint_t          i;

    (void) cmd;
    if (rlcf->type != PT_CONF_UNSET_UINT) {
        return "is duplicate";
    }
    /* exact spellings, as nginx: another case is a header by name, which
     * finds the same header */
    if (pt_str_eq_cstr(v, "X-Real-IP")) {
        rlcf->type = REALIP_XREALIP;
    } else if (pt_str_eq_cstr(v, "X-Forwarded-For")) {
        rlcf->type = REALIP_XFWD;
    } else if (pt_str_eq_cstr(v, "proxy_protocol")) {
        rlcf->type = REALIP_PROXY;
    } else {
        rlcf->type = REALIP_HEADER;
        rlcf->header.data = pt_pnalloc(cf->pool, v->len);
        if (rlcf->header.data == NULL) {
            return PT_CONF_ERROR;
        }
        for (i = 0; i < v->len; i++) {
            rlcf->header.data[i] = (u_char) (v->data[i] >= 'A'
                                             && v->data[i] <= 'Z'
                                             ? v->data[i] | 0x20
                                             : v->data[i]);
        }
        rlcf->header.len = v->len;
    }
    return PT_CONF_OK;
}

/* ------------------------------------------------------------------ */
/* Run time                                                            */

static int
trusted(const pt_array_t *from, const struct sockaddr *sa)
{
    const pt_cidr_t *cidr = from->elts;
    pt_uint_t        i;

    for (i = 0; i < from->nelts; i++) {
        if (sa->sa_family == AF_UNIX ? cidr[i].family == AF_UNIX
                                     : pt_cidr_match(&cidr[i], sa))
        {
            return 1;
        }
    }
    return 0;
}

static int
parse_port(const char *p, in_port_t *port)
{
    pt_int_t n = *p != '\0' ? pt_atoi((const u_char *) p, strlen(p)) : -1;

    if (n < 1 || n > 65535) {
        return PT_ERROR;
    }
    *port = htons((in_port_t) n);
    return PT_OK;
}

/* An address as proxies write it: "a.b.c.d", "v6", "a.b.c.d:port" or
 * "[v6]:port" (nginx's ngx_parse_addr_port). PT_OK or PT_ERROR. */
static int
parse_addr(const u_char *p, size_t len, pt_addr_t *a)
{
    struct sockaddr_in  *sin = (struct sockaddr_in *) &a->sockaddr;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &a->sockaddr;
    char                 text[ADDR_TEXT_MAX], *colon, *bracket;
    in_port_t            port = 0;

    if (len == 0 || len >= sizeof(text)) {
        return PT_ERROR;
    }
    memcpy(text, p, len);
    text[len] = '\0';
    memset(a, 0, sizeof(*a));
    if (text[0] == '[') {
        bracket = strchr(text, ']');
        if (bracket == NULL || bracket[1] != ':'
            || parse_port(bracket + 2, &port) != PT_OK)
        {
            return PT_ERROR;
        }
        *bracket = '\0';
        memmove(text, text + 1, (size_t) (bracket - text));
    } else if (inet_pton(AF_INET6, text, &sin6->sin6_addr) == 1) {
        goto inet6;
    } else if ((colon = strchr(text, ':')) != NULL) {
        if (parse_port(colon + 1, &port) != PT_OK) {
            return PT_ERROR;
        }
        *colon = '\0';
    }
    if (inet_pton(AF_INET, text, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = port;
        a->socklen = sizeof(*sin);
        return PT_OK;
    }
    if (inet_pton(AF_INET6, text, &sin6->sin6_addr) != 1) {
        return PT_ERROR;
    }
inet6:
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = port;
    a->socklen = sizeof(*sin6);
    return PT_OK;
}

/*
 * Walk the values (header instances, in order) from the right, starting
 * from the peer's address `a`: while the current address is trusted, the
 * next one to its left replaces it (only the last with real_ip_recursive
 * off). Stops at an address that does not parse. Returns 1 when `a` was
 * replaced.
 */
static int
walk(const realip_loc_conf_t *rlcf, pt_table_elt_t **hs, pt_uint_t n,
     pt_addr_t *a)
{
    const u_char *v;
    size_t        end, start;
    int           found = 0;
    pt_addr_t     next;

    while (n-- > 0) {
        v = hs[n]->value.data;
        end = hs[n]->value.len;
        for (;;) {
            if (!trusted(rlcf->from, (struct sockaddr *) &a->sockaddr)) {
                return found;
            }
            while (end > 0 && (v[end - 1] == ' ' || v[end - 1] == ',')) {
                end--;
            }
            if (end == 0) {
                break;        /* this instance is used up: the one before */
            }
            start = end;
            while (start > 0 && v[start - 1] != ' ' && v[start - 1] != ',') {
                start--;
            }
            if (parse_addr(v + start, end - start, &next) != PT_OK) {
                return found;
            }
            *a = next;
            found = 1;
            if (!rlcf->recursive) {
                return found;
            }
            end = start;
        }
    }
    return found;
}

/* Restore the peer's address at the end of the request (r->pool). */
static void
restore(void *data)
{
    realip_saved_t       *saved = data;
    pt_connection_t      *c = saved->connection;
    pt_http_connection_t *hc = c->data;

    c->sockaddr = saved->sockaddr;
    c->socklen = saved->socklen;
    c->addr_text = saved->addr_text;
    hc->realip = NULL;
}

/* Make `a` the client address of the rest of the request. */
static int
set_addr(pt_http_request_t *r, const pt_addr_t *a)
{
    pt_connection_t         *c = r->connection;
    pt_http_connection_t    *hc = c->data;
    struct sockaddr_storage *ss;
    pt_pool_cleanup_t       *cln;
    realip_saved_t          *saved;
    char                     text[INET6_ADDRSTRLEN];
    const void              *bin;
    u_char                  *p;
    size_t                   len;

    bin = a->sockaddr.ss_family == AF_INET
          ? (const void *) &((struct sockaddr_in *) &a->sockaddr)->sin_addr
          : (const void *) &((struct sockaddr_in6 *) &a->sockaddr)->sin6_addr;
    if (pt_inet_ntop(a->sockaddr.ss_family, bin, text, sizeof(text)) == NULL) {
        return PT_HTTP_INTERNAL_SERVER_ERROR;
    }
    len = strlen(text);
    p = pt_pnalloc(r->pool, len);
    ss = pt_pcalloc(r->pool, sizeof(*ss));
    cln = pt_pool_cleanup_add(r->pool, sizeof(realip_saved_t));
    if (p == NULL || ss == NULL || cln == NULL) {
        return PT_HTTP_INTERNAL_SERVER_ERROR;
    }
    memcpy(p, text, len);
    memcpy(ss, &a->sockaddr, a->socklen);

    saved = cln->data;
    saved->connection = c;
    saved->sockaddr = c->sockaddr;
    saved->socklen = c->socklen;
    saved->addr_text = c->addr_text;
    cln->handler = restore;

    c->sockaddr = ss;
    c->socklen = a->socklen;
    c->addr_text.data = p;
    c->addr_text.len = len;
    hc->realip = saved;
    return PT_DECLINED;
}

/* The PROXY header's source, with its port, as nginx sets it. */
static void
proxy_addr(pt_http_connection_t *hc, pt_addr_t *a)
{
    pt_proxy_protocol_t *pp = hc->proxy_protocol;
    struct sockaddr_in  *sin = (struct sockaddr_in *) &a->sockaddr;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &a->sockaddr;

    memset(a, 0, sizeof(*a));
    if (pp->family == AF_INET) {
        sin->sin_family = AF_INET;
        memcpy(&sin->sin_addr, pp->src, 4);
        sin->sin_port = htons(pp->src_port);
        a->socklen = sizeof(*sin);
    } else {
        sin6->sin6_family = AF_INET6;
        memcpy(&sin6->sin6_addr, pp->src, 16);
        sin6->sin6_port = htons(pp->src_port);
        a->socklen = sizeof(*sin6);
    }
}

/* The first instance of the configured header, by its lower-case name. */
static pt_table_elt_t *
find_header(pt_http_request_t *r, const pt_str_t *name)
{
    pt_table_elt_t *h = r->headers_in.headers.elts;
    pt_uint_t       i;

    for (i = 0; i < r->headers_in.headers.nelts; i++) {
        if (h[i].hash != 0 && h[i].key.len == name->len
            && memcmp(h[i].lowcase_key, name->data, name->len) == 0)
        {
            return &h[i];
        }
    }
    return NULL;
}

/* The last `max` X-Forwarded-For instances in arrival order into `hs`:
 * the walk starts from the right, so those are the ones that matter (the
 * first ones are the client's own). Returns the count. */
static pt_uint_t
gather_xff(pt_http_request_t *r, pt_table_elt_t **hs, pt_uint_t max)
{
    pt_table_elt_t *h, *ring[XFF_MAX];
    pt_uint_t       n = 0, i, first;

    for (h = r->headers_in.x_forwarded_for; h != NULL; h = h->next) {
        ring[n++ % max] = h;
    }
    first = n > max ? n % max : 0;
    n = pt_min(n, max);
    for (i = 0; i < n; i++) {
        hs[i] = ring[(first + i) % max];
    }
    return n;
}

/* The header instances to walk, in arrival order, into `hs` (room for
 * XFF_MAX); the count, 0 when there is none. */
static pt_uint_t
gather(pt_http_request_t *r, const realip_loc_conf_t *rlcf,
       pt_table_elt_t **hs)
{
    pt_table_elt_t *h;
    pt_uint_t       n = 0;

    switch (rlcf->type) {
    case REALIP_XREALIP:
        h = r->headers_in.x_real_ip;
        break;
    case REALIP_XFWD:
        return gather_xff(r, hs, XFF_MAX);
    default:
        h = find_header(r, &rlcf->header);
        break;
    }
    if (h != NULL) {
        hs[n++] = h;
    }
    return n;
}

/* post-read and preaccess: once per request (the first to change the
 * address wins, as nginx), so that location-level directives apply. */
static int
realip_handler(pt_http_request_t *r)
{
    pt_connection_t      *c = r->connection;
    pt_http_connection_t *hc = c->data;
    realip_loc_conf_t    *rlcf;
    pt_table_elt_t       *hs[XFF_MAX];
    pt_uint_t             n;
    pt_addr_t             a;

    rlcf = pt_http_get_module_loc_conf(r, pt_http_realip_module);
    if (hc->realip != NULL || rlcf->from == NULL) {
        return PT_DECLINED;
    }
    if (rlcf->type == REALIP_PROXY) {
        if (hc->proxy_protocol == NULL
            || !trusted(rlcf->from, (struct sockaddr *) c->sockaddr))
        {
            return PT_DECLINED;
        }
        proxy_addr(hc, &a);
        return set_addr(r, &a);
    }
    n = gather(r, rlcf, hs);
    if (n == 0) {
        return PT_DECLINED;
    }
    memset(&a, 0, sizeof(a));
    memcpy(&a.sockaddr, c->sockaddr, pt_min((size_t) c->socklen,
                                            sizeof(a.sockaddr)));
    a.socklen = c->socklen;
    if (!walk(rlcf, hs, n, &a)) {
        return PT_DECLINED;
    }
    return set_addr(r, &a);
}

/* ------------------------------------------------------------------ */
/* $realip_remote_addr and _port (the peer), $proxy_protocol_addr, _port,
 * _server_addr and _server_port (the PROXY header, empty without one)   */

#define VAR_PEER     0
#define VAR_PP_SRC   1
#define VAR_PP_DST   2

/* A port in request memory; 0 is printed empty, as nginx does. */
static int
value_port(pt_http_request_t *r, pt_http_variable_value_t *v,
           unsigned port)
{
    u_char *p = pt_pnalloc(r->pool, sizeof("65535"));
    size_t  n;

    if (p == NULL) {
        return PT_ERROR;
    }
    if (port == 0) {
        return pt_http_variable_value_set(v, p, 0);
    }
    n = (size_t) (pt_slprintf(p, p + sizeof("65535"), "%u", port) - p);
    return pt_http_variable_value_set(v, p, n);
}

/* The peer's address: saved while the request has another. */
static struct sockaddr_storage *
peer(pt_http_request_t *r, pt_str_t **text)
{
    pt_http_connection_t *hc = r->connection->data;
    realip_saved_t       *saved = hc->realip;

    *text = saved != NULL ? &saved->addr_text : &r->connection->addr_text;
    return saved != NULL ? saved->sockaddr : r->connection->sockaddr;
}

static int
var_addr(pt_http_request_t *r, pt_http_variable_value_t *v, uintptr_t data)
{
    pt_http_connection_t *hc = r->connection->data;
    pt_proxy_protocol_t  *pp = hc->proxy_protocol;
    pt_str_t             *text;
    char                  buf[INET6_ADDRSTRLEN];
    size_t                len;
    u_char               *p;

    if (data == VAR_PEER) {
        (void) peer(r, &text);
        return pt_http_variable_value_set(v, text->data, text->len);
    }
    if (pp == NULL) {
        v->valid = 0;
        v->not_found = 1;
        return PT_OK;
    }
    len = pt_proxy_protocol_addr_text(pp, data == VAR_PP_SRC ? pp->src
                                                             : pp->dst,
                                      buf, sizeof(buf));
    p = pt_pnalloc(r->pool, len + 1);
    if (p == NULL) {
        return PT_ERROR;
    }
    memcpy(p, buf, len);
    return pt_http_variable_value_set(v, p, len);
}

static int
var_port(pt_http_request_t *r, pt_http_variable_value_t *v, uintptr_t data)
{
    pt_http_connection_t    *hc = r->connection->data;
    struct sockaddr_storage *ss;
    pt_str_t                *text;

    if (data == VAR_PEER) {
        ss = peer(r, &text);
        if (ss->ss_family == AF_INET) {
            return value_port(r, v, ntohs(((struct sockaddr_in *) ss)
                                              ->sin_port));
        }
        if (ss->ss_family == AF_INET6) {
            return value_port(r, v, ntohs(((struct sockaddr_in6 *) ss)
                                              ->sin6_port));
        }
        return value_port(r, v, 0);
    }
    if (hc->proxy_protocol == NULL) {
        v->valid = 0;
        v->not_found = 1;
        return PT_OK;
    }
    return value_port(r, v, data == VAR_PP_SRC ? hc->proxy_protocol->src_port
                                               : hc->proxy_protocol->dst_port);
}

static int
postconfiguration(pt_conf_t *cf)
{
    static const pt_http_variable_def_t vars[] = {
        { "realip_remote_addr", var_addr, VAR_PEER },
        { "realip_remote_port", var_port, VAR_PEER },
        { "proxy_protocol_addr", var_addr, VAR_PP_SRC },
        { "proxy_protocol_port", var_port, VAR_PP_SRC },
        { "proxy_protocol_server_addr", var_addr, VAR_PP_DST },
        { "proxy_protocol_server_port", var_port, VAR_PP_DST },
    };

    if (pt_http_add_variables(cf, vars, pt_nelems(vars)) != PT_OK) {
        return PT_ERROR;
    }
    if (pt_http_add_phase_handler(cf, PT_HTTP_POST_READ_PHASE,
                                  realip_handler) != PT_OK
        || pt_http_add_phase_handler(cf, PT_HTTP_PREACCESS_PHASE,
                                     realip_handler) != PT_OK)
    {
        return PT_ERROR;
    }
    return PT_OK;
}
