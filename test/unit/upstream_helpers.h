/*
 * Helpers for the balancer unit tests: groups of 127.0.0.<i+1>:80 servers
 * built without config text, requests from a chosen client address, and
 * whole tries (get, then free) reported by the chosen address's last octet.
 */
#ifndef PT_TEST_UPSTREAM_HELPERS_H
#define PT_TEST_UPSTREAM_HELPERS_H

#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "common/conf.h"
#include "common/log.h"
#include "common/pool.h"
#include "common/time.h"
#include "worker/conn.h"
#include "worker/http_upstream.h"
#include "worker/http_upstream_rr.h"

#define UT_MAX_MODULES 8

static pt_log_t           ut_log;
static pt_pool_t         *ut_pool;
static pt_conf_t          ut_cf;
static pt_connection_t    ut_conn;
static struct sockaddr_storage ut_client;

static inline void
ut_setup(void)
{
    ut_log.fd = -1;
    ut_log.level = PT_LOG_EMERG;
    pt_log_use_stderr = 0;
    ut_pool = pt_pool_create(4096, &ut_log);
    memset(&ut_cf, 0, sizeof(ut_cf));
    ut_cf.pool = ut_pool;
    ut_cf.log = &ut_log;
    memset(&ut_conn, 0, sizeof(ut_conn));
    ut_conn.fd = -1;
    ut_conn.sockaddr = &ut_client;
    memset(&ut_client, 0, sizeof(ut_client));
    ut_client.ss_family = AF_INET;
    /* the log reads the clock once when its cached time is empty: do it
     * now so a driven clock stays as set */
    pt_time_update();
    pt_time_sec = 1000;
}

static inline void
ut_teardown(void)
{
    pt_pool_destroy(ut_pool);
}

/* The client of the next requests: an IPv4 address in host order. */
static inline void
ut_client_v4(uint32_t addr)
{
    struct sockaddr_in *sin = (struct sockaddr_in *) &ut_client;

    memset(&ut_client, 0, sizeof(ut_client));
    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = htonl(addr);
}

/* A group of n servers 127.0.0.<i+1>:80 with the given weights; bit i of
 * `backup` makes server i a backup. srv_conf has UT_MAX_MODULES slots. */
static inline pt_http_upstream_srv_conf_t *
ut_group(const int *weights, int n, unsigned backup)
{
    pt_http_upstream_srv_conf_t *us = pt_pcalloc(ut_pool, sizeof(*us));
    pt_http_upstream_server_t   *s;
    struct sockaddr_in          *sin;
    char                         name[32];
    int                          i;

    us->host.data = (u_char *) "g";
    us->host.len = 1;
    us->file = "t.conf";
    us->line = 1;
    us->flags = PT_HTTP_UPSTREAM_RR_FLAGS;
    us->srv_conf = pt_pcalloc(ut_pool, UT_MAX_MODULES * sizeof(void *));
    us->servers = pt_array_create(ut_pool, 4, sizeof(*s));
    for (i = 0; i < n; i++) {
        s = pt_array_push(us->servers);
        memset(s, 0, sizeof(*s));
        snprintf(name, sizeof(name), "127.0.0.%d", i + 1);
        pt_str_from_cstr(ut_pool, &s->name, name);
        s->addrs = pt_pcalloc(ut_pool, sizeof(pt_addr_t));
        sin = (struct sockaddr_in *) &s->addrs->sockaddr;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(80);
        sin->sin_addr.s_addr = htonl(0x7f000001 + i);
        s->addrs->socklen = sizeof(*sin);
        s->naddrs = 1;
        s->weight = weights[i];
        s->max_fails = 1;
        s->fail_timeout = 10;
        s->backup = (backup >> i) & 1;
    }
    return us;
}

static inline pt_http_request_t *
ut_request(pt_http_upstream_srv_conf_t *us)
{
    pt_http_request_t  *r = pt_pcalloc(ut_pool, sizeof(*r));
    pt_http_upstream_t *u = pt_pcalloc(ut_pool, sizeof(*u));

    r->pool = ut_pool;
    r->connection = &ut_conn;
    r->upstream = u;
    u->request = r;
    u->upstream = us;
    ck_assert_int_eq(us->init_peer(r, us), PT_OK);
    return r;
}

static inline int
ut_octet(pt_http_upstream_t *u)
{
    return (int) (ntohl(((struct sockaddr_in *) u->peer.sockaddr)
                            ->sin_addr.s_addr) & 0xff);
}

/* One whole try: get, then free with `state`. The last octet of the chosen
 * address, or 0 when get said busy. */
static inline int
ut_try(pt_http_upstream_srv_conf_t *us, pt_uint_t state)
{
    pt_http_request_t  *r = ut_request(us);
    pt_http_upstream_t *u = r->upstream;
    int                 rc, octet;

    rc = u->peer.get(&u->peer, u->peer.data);
    if (rc == PT_BUSY) {
        return 0;
    }
    ck_assert_int_eq(rc, PT_OK);
    octet = ut_octet(u);
    u->peer.free(&u->peer, u->peer.data, state);
    return octet;
}

/* Try until peer `want` is chosen (bounded), ending that try with `state`
 * and the others well. */
static inline void
ut_fail_peer(pt_http_upstream_srv_conf_t *us, int want, pt_uint_t state)
{
    pt_http_request_t  *r;
    pt_http_upstream_t *u;
    int                 i, octet;

    for (i = 0; i < 50; i++) {
        r = ut_request(us);
        u = r->upstream;
        ck_assert_int_eq(u->peer.get(&u->peer, u->peer.data), PT_OK);
        octet = ut_octet(u);
        u->peer.free(&u->peer, u->peer.data, octet == want ? state : 0);
        if (octet == want) {
            return;
        }
    }
    ck_abort_msg("peer %d never chosen", want);
}

/* Mark primary peer `octet` (1-based) down. */
static inline void
ut_down(pt_http_upstream_srv_conf_t *us, int octet)
{
    ((pt_http_upstream_rr_peers_t *) us->peer_data)->peer[octet - 1].down = 1;
}

/* Apply balancer directive `args` (NULL-terminated, args[0] its name) of
 * `m` to `us` as if inside its upstream block, then run the group's init.
 * The upstream module is index 0, `m` index 1. */
extern pt_module_t pt_http_upstream_module;

static inline int
ut_balancer(pt_http_upstream_srv_conf_t *us, pt_module_t *m,
            const char **args)
{
    static pt_conf_ctx_t  ctx;
    static pt_str_t       a[8];
    static pt_conf_node_t node;
    pt_uint_t             n;
    void                 *conf = NULL;

    pt_http_upstream_module.index = 0;
    m->index = 1;
    if (m->create_srv_conf != NULL) {
        conf = m->create_srv_conf(&ut_cf);
    }
    us->srv_conf[0] = us;
    us->srv_conf[1] = conf;
    memset(&ctx, 0, sizeof(ctx));
    ctx.srv_conf = us->srv_conf;
    for (n = 0; args[n] != NULL; n++) {
        a[n].data = (u_char *) args[n];
        a[n].len = strlen(args[n]);
    }
    memset(&node, 0, sizeof(node));
    node.file = "t.conf";
    node.line = 1;
    node.args = a;
    node.nargs = n;
    ut_cf.ctx = &ctx;
    ut_cf.ctx_type = PT_CONF_UPSTREAM;
    ut_cf.node = &node;
    ut_cf.args = a;
    ut_cf.nargs = n;
    if (m->commands[0].set(&ut_cf, &m->commands[0], conf) != PT_CONF_OK) {
        return PT_ERROR;
    }
    return us->init(&ut_cf, us);
}

#endif /* PT_TEST_UPSTREAM_HELPERS_H */
