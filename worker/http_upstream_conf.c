/*
 * Upstream groups at config time: `upstream NAME { ... }` blocks and their
 * `server` lines, the implicit groups proxy_pass makes, resolving names
 * (every address a name has becomes a peer) and running each group's
 * balancer init once the http block is read. Run time: groups by name.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <string.h>
#include <sys/un.h>

#include "common/array.h"
#include "common/cycle.h"
#include "common/log.h"
#include "common/pool.h"
#include "common/shm.h"
#include "http_core.h"
#include "http_upstream.h"
#include "http_upstream_rr.h"

static void *create_main_conf(pt_conf_t *cf);
static void *create_loc_conf(pt_conf_t *cf);
static char *upstream_block(pt_conf_t *cf, pt_command_t *cmd, void *conf);
static char *upstream_server(pt_conf_t *cf, pt_command_t *cmd, void *conf);
static int   init_upstreams(pt_conf_t *cf);

static pt_command_t commands[] = {
    { "upstream", PT_CONF_HTTP | PT_CONF_BLOCK | PT_CONF_TAKE1,
      upstream_block, PT_CONF_MAIN_OFFSET, 0, NULL },
    { "server", PT_CONF_UPSTREAM | PT_CONF_1MORE,
      upstream_server, PT_CONF_SRV_OFFSET, 0, NULL },
    pt_null_command
};

pt_module_t pt_http_upstream_module = {
    .name = "http_upstream",
    .commands = commands,
    .create_main_conf = create_main_conf,
    .create_loc_conf = create_loc_conf,
    .type = PT_MODULE_HTTP,
    .postconfiguration = init_upstreams,
};

static void *
create_main_conf(pt_conf_t *cf)
{
    pt_http_upstream_main_conf_t *umcf;

    umcf = pt_pcalloc(cf->pool, sizeof(*umcf));
    if (umcf == NULL
        || pt_array_init(&umcf->upstreams, cf->pool, 4,
                         sizeof(pt_http_upstream_srv_conf_t *)) != PT_OK)
    {
        return NULL;
    }
    return umcf;
}

static void *
create_loc_conf(pt_conf_t *cf)
{
    return pt_pcalloc(cf->pool, sizeof(pt_http_upstream_loc_conf_t));
}

/* ------------------------------------------------------ addresses */

/* Split "host:port", "[v6]:port", "host" (no_port: default_port) into a
 * NUL-terminated host and a port. NULL or an error phrase. */
static const char *
split_host_port(const pt_str_t *url, in_port_t default_port, char *host,
                size_t size, in_port_t *port, int *no_port)
{
    u_char   *p = url->data, *end = p + url->len, *colon, *hend;
    pt_int_t  n;

    if (url->len > 0 && p[0] == '[') {
        hend = memchr(p, ']', url->len);
        if (hend == NULL) {
            return "invalid host";
        }
        colon = hend + 1 < end ? hend + 1 : NULL;
        if (colon != NULL && *colon != ':') {
            return "invalid host";
        }
        p++;
    } else {
        colon = memchr(p, ':', url->len);
        hend = colon != NULL ? colon : end;
    }
    if (memchr(url->data, '/', url->len) != NULL
        || memchr(url->data, '?', url->len) != NULL)
    {
        return "invalid host";
    }
    if (hend == p) {
        return "no host";
    }
    if ((size_t) (hend - p) >= size) {
        return "invalid host";
    }
    memcpy(host, p, (size_t) (hend - p));
    host[hend - p] = '\0';

    *no_port = colon == NULL;
    *port = default_port;
    if (colon != NULL) {
        n = pt_atoi(colon + 1, (size_t) (end - colon - 1));
        if (n == PT_ERROR || n < 1 || n > 65535) {
            return "invalid port";
        }
        *port = (in_port_t) n;
    }
    return NULL;
}

/* "unix:/path": one address. NULL or an error phrase ("" when logged). */
static const char *
resolve_unix(pt_pool_t *pool, const pt_str_t *text, pt_addr_t **addrs,
             pt_uint_t *naddrs)
{
    struct sockaddr_un *sun;

    if (text->len == 5) {
        return "no path in the unix domain socket";
    }
    if (text->len - 5 >= sizeof(sun->sun_path)) {
        return "too long path in the unix domain socket";
    }
    *addrs = pt_pcalloc(pool, sizeof(pt_addr_t));
    if (*addrs == NULL) {
        return "";
    }
    sun = (struct sockaddr_un *) &(*addrs)->sockaddr;
    sun->sun_family = AF_UNIX;
    memcpy(sun->sun_path, text->data + 5, text->len - 5);
    (*addrs)->socklen = sizeof(struct sockaddr_un);
    *naddrs = 1;
    return NULL;
}

/* Every address of `text` ("host[:port]", "[v6][:port]", "unix:/path"),
 * allocated from `pool`. NULL or an error phrase ("host not found"). */
static const char *
resolve(pt_pool_t *pool, const pt_str_t *text, in_port_t default_port,
        pt_addr_t **addrs, pt_uint_t *naddrs)
{
    struct addrinfo     hints, *res, *ai;
    const char         *err;
    char                host[256];
    in_port_t           port;
    int                 no_port;
    pt_uint_t           n;

    if (text->len >= 5 && memcmp(text->data, "unix:", 5) == 0) {
        return resolve_unix(pool, text, addrs, naddrs);
    }

    err = split_host_port(text, default_port, host, sizeof(host), &port,
                          &no_port);
    if (err != NULL) {
        return err;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, NULL, &hints, &res) != 0 || res == NULL) {
        return "host not found";
    }
    n = 0;
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        if (ai->ai_family == AF_INET || ai->ai_family == AF_INET6) {
            n++;
        }
    }
    *addrs = n ? pt_pcalloc(pool, n * sizeof(pt_addr_t)) : NULL;
    if (*addrs == NULL) {
        freeaddrinfo(res);
        return n ? "" : "host not found";
    }
    n = 0;
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) {
            continue;
        }
        memcpy(&(*addrs)[n].sockaddr, ai->ai_addr, ai->ai_addrlen);
        (*addrs)[n].socklen = ai->ai_addrlen;
        if (ai->ai_family == AF_INET) {
            ((struct sockaddr_in *) &(*addrs)[n].sockaddr)->sin_port =
                htons(port);
        } else {
            ((struct sockaddr_in6 *) &(*addrs)[n].sockaddr)->sin6_port =
                htons(port);
        }
        n++;
    }
    freeaddrinfo(res);
    *naddrs = n;
    return NULL;
}

/* ------------------------------------------------------ groups */

static pt_http_upstream_srv_conf_t *
new_group(pt_conf_t *cf, pt_http_upstream_main_conf_t *umcf,
          const pt_str_t *host)
{
    pt_http_upstream_srv_conf_t *us, **usp;

    us = pt_pcalloc(cf->pool, sizeof(*us));
    usp = pt_array_push(&umcf->upstreams);
    if (us == NULL || usp == NULL) {
        return NULL;
    }
    us->host = *host;
    us->file = cf->node->file;
    us->line = cf->node->line;
    *usp = us;
    return us;
}

/* Make the conf arrays of an upstream block: the srv (and loc) confs of
 * every http module, so upstream-level directives of other modules
 * (keepalive, zone, balancers) find theirs; the upstream module's slot is
 * the group itself. */
static int
block_ctx(pt_conf_t *cf, pt_http_upstream_srv_conf_t *us, pt_conf_ctx_t *ctx)
{
    pt_uint_t    i, n = cf->cycle->modules_n;
    pt_module_t *m;

    ctx->main_conf = cf->ctx->main_conf;
    ctx->srv_conf = pt_pcalloc(cf->pool, n * sizeof(void *));
    ctx->loc_conf = pt_pcalloc(cf->pool, n * sizeof(void *));
    if (ctx->srv_conf == NULL || ctx->loc_conf == NULL) {
        return PT_ERROR;
    }
    for (i = 0; (m = cf->modules[i]) != NULL; i++) {
        if (m->type != PT_MODULE_HTTP) {
            continue;
        }
        if (m->create_srv_conf
            && (ctx->srv_conf[m->index] = m->create_srv_conf(cf)) == NULL)
        {
            return PT_ERROR;
        }
        if (m->create_loc_conf
            && (ctx->loc_conf[m->index] = m->create_loc_conf(cf)) == NULL)
        {
            return PT_ERROR;
        }
    }
    ctx->srv_conf[pt_http_upstream_module.index] = us;
    us->srv_conf = ctx->srv_conf;
    return PT_OK;
}

/* An `upstream` block named like an implicit group made before by a
 * proxy_pass without a port takes that group over; with a port it is an
 * error at the proxy_pass, as nginx reports it. */
static pt_http_upstream_srv_conf_t *
claim_group(pt_conf_t *cf, pt_http_upstream_main_conf_t *umcf,
            const pt_str_t *name)
{
    pt_http_upstream_srv_conf_t **usp = umcf->upstreams.elts, *found = NULL;
    pt_uint_t                     i;

    for (i = 0; i < umcf->upstreams.nelts; i++) {
        if (!pt_str_eq(&usp[i]->host, name)) {
            continue;
        }
        if (!usp[i]->implicit) {
            pt_conf_log_error(PT_LOG_EMERG, cf, 0,
                              "duplicate upstream \"%.*s\"", (int) name->len,
                              name->data);
            return NULL;
        }
        if (!usp[i]->no_port) {
            pt_log_error(PT_LOG_EMERG, cf->log, 0,
                         "upstream \"%.*s\" may not have port %u in %s:%lu",
                         (int) name->len, name->data, usp[i]->port,
                         usp[i]->file, (unsigned long) usp[i]->line);
            return NULL;
        }
        found = usp[i];
    }
    if (found == NULL) {
        return new_group(cf, umcf, name);
    }
    /* every implicit entry of that name now refers to this block */
    for (i = 0; i < umcf->upstreams.nelts; i++) {
        if (usp[i] != found && pt_str_eq(&usp[i]->host, name)) {
            usp[i]->implicit = 0;
            usp[i]->peer_data = found;   /* alias: see init_upstreams */
        }
    }
    found->implicit = 0;
    found->file = cf->node->file;
    found->line = cf->node->line;
    return found;
}

static char *
upstream_block(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    pt_http_upstream_main_conf_t *umcf = conf;
    pt_http_upstream_srv_conf_t  *us;
    pt_conf_ctx_t                *ctx, *saved_ctx = cf->ctx;
    pt_conf_node_t               *node = cf->node;
    pt_uint_t                     saved_type = cf->ctx_type;
    int                           rc;

    (void) cmd;
    us = claim_group(cf, umcf, &cf->args[1]);
    if (us == NULL) {
        return PT_CONF_ERROR;
    }
    us->flags = PT_HTTP_UPSTREAM_RR_FLAGS;
    us->servers = pt_array_create(cf->pool, 4,
                                  sizeof(pt_http_upstream_server_t));
    ctx = pt_pcalloc(cf->pool, sizeof(*ctx));
    if (us->servers == NULL || ctx == NULL
        || block_ctx(cf, us, ctx) != PT_OK)
    {
        return PT_CONF_ERROR;
    }

    cf->ctx = ctx;
    cf->ctx_type = PT_CONF_UPSTREAM;
    rc = pt_conf_apply(cf, node->children);
    cf->ctx = saved_ctx;
    cf->ctx_type = saved_type;
    cf->node = node;
    if (rc != PT_OK) {
        return PT_CONF_ERROR;
    }
    if (us->servers->nelts == 0) {
        pt_log_error(PT_LOG_EMERG, cf->log, 0,
                     "no servers are inside upstream in %s:%lu", node->file,
                     (unsigned long) (node->end_line ? node->end_line
                                                     : node->line));
        return PT_CONF_ERROR;
    }
    return PT_CONF_OK;
}

/* "name=N" parameter values. */
static int
param_num(const pt_str_t *v, size_t skip, pt_int_t *n)
{
    *n = pt_atoi(v->data + skip, v->len - skip);
    return *n == PT_ERROR ? PT_ERROR : PT_OK;
}

static int
has_prefix(const pt_str_t *v, const char *p)
{
    size_t n = strlen(p);

    return v->len >= n && memcmp(v->data, p, n) == 0;
}

/* Parse one server parameter into `s`; PT_DECLINED when the balancer in
 * use does not support it, PT_ERROR when invalid. */
static int
server_param(pt_http_upstream_srv_conf_t *us, pt_http_upstream_server_t *s,
             const pt_str_t *v)
{
    pt_str_t  t;
    pt_int_t  n;
    pt_uint_t need;

    if (has_prefix(v, "weight=")) {
        need = PT_HTTP_UPSTREAM_WEIGHT;
        if (param_num(v, 7, &n) != PT_OK || n == 0) {
            return PT_ERROR;
        }
        s->weight = (pt_uint_t) n;
    } else if (has_prefix(v, "max_fails=")) {
        need = PT_HTTP_UPSTREAM_MAX_FAILS;
        if (param_num(v, 10, &n) != PT_OK) {
            return PT_ERROR;
        }
        s->max_fails = (pt_uint_t) n;
    } else if (has_prefix(v, "fail_timeout=")) {
        need = PT_HTTP_UPSTREAM_FAIL_TIMEOUT;
        t.data = v->data + 13;
        t.len = v->len - 13;
        n = pt_parse_time(&t, 1);
        if (n == PT_ERROR) {
            return PT_ERROR;
        }
        s->fail_timeout = (time_t) n;
    } else if (has_prefix(v, "max_conns=")) {
        need = PT_HTTP_UPSTREAM_MAX_CONNS;
        if (param_num(v, 10, &n) != PT_OK) {
            return PT_ERROR;
        }
        s->max_conns = (pt_uint_t) n;
    } else if (pt_str_eq_cstr(v, "backup")) {
        need = PT_HTTP_UPSTREAM_BACKUP;
        s->backup = 1;
    } else if (pt_str_eq_cstr(v, "down")) {
        need = PT_HTTP_UPSTREAM_DOWN;
        s->down = 1;
    } else {
        return PT_ERROR;
    }
    return (us->flags & need) ? PT_OK : PT_DECLINED;
}

static char *
upstream_server(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    pt_http_upstream_srv_conf_t *us = conf;
    pt_http_upstream_server_t   *s;
    const char                  *err;
    pt_uint_t                    i;
    int                          rc;

    (void) cmd;
    s = pt_array_push(us->servers);
    if (s == NULL) {
        return PT_CONF_ERROR;
    }
    memset(s, 0, sizeof(*s));
    s->name = cf->args[1];
    s->weight = 1;
    s->max_fails = 1;
    s->fail_timeout = 10;
    s->file = cf->node->file;
    s->line = cf->node->line;

    for (i = 2; i < cf->nargs; i++) {
        rc = server_param(us, s, &cf->args[i]);
        if (rc == PT_OK) {
            continue;
        }
        pt_conf_log_error(PT_LOG_EMERG, cf, 0,
                          rc == PT_DECLINED
                              ? "balancing method does not support "
                                "parameter \"%.*s\""
                              : "invalid parameter \"%.*s\"",
                          (int) cf->args[i].len, cf->args[i].data);
        return PT_CONF_ERROR;
    }

    err = resolve(cf->pool, &s->name, 80, &s->addrs, &s->naddrs);
    if (err != NULL) {
        if (*err != '\0') {
            pt_conf_log_error(PT_LOG_EMERG, cf, 0, "%s in upstream \"%.*s\"",
                              err, (int) s->name.len, s->name.data);
        }
        return PT_CONF_ERROR;
    }
    return PT_CONF_OK;
}

pt_http_upstream_srv_conf_t *
pt_http_upstream_conf_group(pt_conf_t *cf)
{
    return cf->ctx->srv_conf[pt_http_upstream_module.index];
}

void
pt_http_upstream_set_balancer(pt_conf_t *cf, pt_http_upstream_srv_conf_t *us,
                              pt_http_upstream_init_pt init, pt_uint_t flags)
{
    if (us->init != NULL) {
        pt_conf_log_error(PT_LOG_WARN, cf, 0,
                          "load balancing method redefined");
    }
    us->init = init;
    us->flags = flags;
}

/* ------------------------------------------------------ proxy_pass */

/* Remember the group of the location being read (health_check). */
static pt_http_upstream_srv_conf_t *
for_location(pt_conf_t *cf, pt_http_upstream_srv_conf_t *us)
{
    pt_http_upstream_loc_conf_t *lcf;

    if (us != NULL && cf->ctx->loc_conf != NULL
        && (lcf = cf->ctx->loc_conf[pt_http_upstream_module.index]) != NULL)
    {
        lcf->upstream = us;
    }
    return us;
}

static pt_http_upstream_srv_conf_t *add_group(pt_conf_t *cf, pt_str_t *url,
                                              in_port_t default_port);

pt_http_upstream_srv_conf_t *
pt_http_upstream_add(pt_conf_t *cf, pt_str_t *url, in_port_t default_port)
{
    return for_location(cf, add_group(cf, url, default_port));
}

static pt_http_upstream_srv_conf_t *
add_group(pt_conf_t *cf, pt_str_t *url, in_port_t default_port)
{
    pt_http_upstream_main_conf_t  *umcf;
    pt_http_upstream_srv_conf_t  **usp, *us;
    pt_str_t                       host;
    const char                    *err;
    char                           hbuf[256];
    in_port_t                      port = 0;
    int                            no_port = 1;
    pt_uint_t                      i;

    umcf = cf->ctx->main_conf[pt_http_upstream_module.index];
    host = *url;
    if (!(url->len >= 5 && memcmp(url->data, "unix:", 5) == 0)) {
        err = split_host_port(url, default_port, hbuf, sizeof(hbuf), &port,
                              &no_port);
        if (err != NULL) {
            pt_conf_log_error(PT_LOG_EMERG, cf, 0, "%s in upstream \"%.*s\"",
                              err, (int) url->len, url->data);
            return NULL;
        }
        if (!no_port) {
            host.len = (size_t) (memrchr(url->data, ':', url->len)
                                 - (void *) url->data);
        }
    }

    usp = umcf->upstreams.elts;
    for (i = 0; i < umcf->upstreams.nelts; i++) {
        us = usp[i];
        if (!pt_str_eq(&us->host, &host)) {
            continue;
        }
        if (!us->implicit && us->servers != NULL) {
            if (!no_port) {
                pt_conf_log_error(PT_LOG_EMERG, cf, 0,
                                  "upstream \"%.*s\" may not have port %u",
                                  (int) host.len, host.data, port);
                return NULL;
            }
            return us;
        }
        if (us->no_port == (unsigned) no_port && us->port == port) {
            return us;
        }
    }
    us = new_group(cf, umcf, &host);
    if (us == NULL) {
        return NULL;
    }
    us->implicit = 1;
    us->port = port;
    us->no_port = no_port;
    return us;
}

pt_http_upstream_srv_conf_t *
pt_http_upstream_find(pt_http_request_t *r, const pt_str_t *name)
{
    pt_http_upstream_main_conf_t  *umcf;
    pt_http_upstream_srv_conf_t  **usp;
    pt_uint_t                      i;

    umcf = pt_http_get_module_main_conf(r, pt_http_upstream_module);
    if (umcf == NULL) {
        return NULL;
    }
    usp = umcf->upstreams.elts;
    for (i = 0; i < umcf->upstreams.nelts; i++) {
        if ((usp[i]->flags & PT_HTTP_UPSTREAM_CREATE)
            && pt_str_eq(&usp[i]->host, name))
        {
            return usp[i];
        }
    }
    return NULL;
}

/* ------------------------------------------------------ init */

/* An implicit group's one server: every address of its host. The error
 * names the proxy_pass that made it. */
static int
init_implicit(pt_conf_t *cf, pt_http_upstream_srv_conf_t *us)
{
    pt_http_upstream_server_t *s;
    pt_str_t                   text;
    const char                *err;
    u_char                    *p;

    us->servers = pt_array_create(cf->pool, 1,
                                  sizeof(pt_http_upstream_server_t));
    if (us->servers == NULL || (s = pt_array_push(us->servers)) == NULL) {
        return PT_ERROR;
    }
    memset(s, 0, sizeof(*s));
    text = us->host;
    if (!us->no_port) {
        p = pt_pnalloc(cf->pool, us->host.len + sizeof(":65535"));
        if (p == NULL) {
            return PT_ERROR;
        }
        text.data = p;
        text.len = (size_t) (pt_slprintf(p, p + us->host.len + 7, "%.*s:%u",
                                         (int) us->host.len, us->host.data,
                                         us->port) - p);
    }
    s->name = text;
    s->weight = 1;
    s->max_fails = 1;
    s->fail_timeout = 10;
    s->file = us->file;
    s->line = us->line;
    err = resolve(cf->pool, &text, us->port, &s->addrs, &s->naddrs);
    if (err != NULL) {
        if (*err != '\0') {
            pt_log_error(PT_LOG_EMERG, cf->log, 0,
                         "%s in upstream \"%.*s\" in %s:%lu", err,
                         (int) us->host.len, us->host.data, us->file,
                         (unsigned long) us->line);
        }
        return PT_ERROR;
    }
    return PT_OK;
}

/* Once the http block is read: implicit groups get their server, entries
 * that an `upstream` block claimed become copies of it, and every group
 * runs its balancer's init. */
static int
init_upstreams(pt_conf_t *cf)
{
    pt_http_upstream_main_conf_t  *umcf;
    pt_http_upstream_srv_conf_t  **usp, *us;
    pt_uint_t                      i;

    umcf = cf->ctx->main_conf[pt_http_upstream_module.index];
    usp = umcf->upstreams.elts;
    for (i = 0; i < umcf->upstreams.nelts; i++) {
        us = usp[i];
        if (!us->implicit && !(us->flags & PT_HTTP_UPSTREAM_CREATE)) {
            continue;   /* an alias of a block, filled below */
        }
        if (us->implicit && init_implicit(cf, us) != PT_OK) {
            return PT_ERROR;
        }
        if (us->shm_zone != NULL && us->shm_zone->shm.size == 0) {
            /* checked here too, so that -t, which maps no zone, says it */
            pt_log_error(PT_LOG_EMERG, cf->log, 0,
                         "zero size shared memory zone \"%.*s\"",
                         (int) us->shm_zone->shm.name.len,
                         us->shm_zone->shm.name.data);
            return PT_ERROR;
        }
        if (us->init == NULL) {
            us->init = pt_http_upstream_init_round_robin;
        }
        if (us->init(cf, us) != PT_OK) {
            return PT_ERROR;
        }
    }
    for (i = 0; i < umcf->upstreams.nelts; i++) {
        us = usp[i];
        if (!us->implicit && !(us->flags & PT_HTTP_UPSTREAM_CREATE)) {
            *us = *(pt_http_upstream_srv_conf_t *) us->peer_data;
            us->flags &= ~PT_HTTP_UPSTREAM_CREATE;   /* found once */
        }
    }
    return PT_OK;
}
