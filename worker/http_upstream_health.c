/*
 * Active health checks: `health_check` in a proxying location probes every
 * peer of its upstream each interval with a GET, judged by a `match` block
 * (or 2xx/3xx). The group must have a `zone`: the verdict lives in the
 * peer's shared state, and the zone coordinates the workers so that one
 * probe per peer per interval is made, by whichever worker comes first.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/cycle.h"
#include "common/log.h"
#include "common/pool.h"
#include "common/shmtx.h"
#include "common/time.h"
#include "conn.h"
#include "event.h"
#include "timer.h"
#include "worker.h"
#include "http_core.h"
#include "http_proxy_ssl.h"
#include "http_upstream.h"
#include "http_upstream_health.h"
#include "http_upstream_rr.h"

/* A probe reads at most this much of the response: the status line, the
 * headers and the start of the body that `body ~` sees. */
#define HC_BUFFER_SIZE 16384

/* One peer watched by one check, in one worker. */
typedef struct {
    pt_http_upstream_health_check_t  *check;
    pt_http_upstream_rr_peers_t      *peers;
    pt_http_upstream_rr_peer_t       *peer;
    struct sockaddr_storage           sockaddr;   /* with check->port */
    pt_str_t                         *request;
    pt_event_t                        timer;
    pt_connection_t                  *connection; /* the probe in flight */
    u_char                           *buf;
    size_t                            len;
    size_t                            sent;
    pt_log_t                         *log;
} hc_peer_t;

static void *create_main_conf(pt_conf_t *cf);
static char *health_check(pt_conf_t *cf, pt_command_t *cmd, void *conf);
static int   postconfiguration(pt_conf_t *cf);
static int   init_process(pt_cycle_t *cycle);

static pt_command_t commands[] = {
    { "health_check", PT_CONF_LOCATION | PT_CONF_ANY,
      health_check, PT_CONF_LOC_OFFSET, 0, NULL },
    { "match", PT_CONF_HTTP | PT_CONF_BLOCK | PT_CONF_TAKE1,
      pt_http_upstream_match_block, PT_CONF_MAIN_OFFSET, 0, NULL },
    pt_null_command
};

pt_module_t pt_http_upstream_health_module = {
    .name = "http_upstream_health",
    .commands = commands,
    .create_main_conf = create_main_conf,
    .init_process = init_process,
    .type = PT_MODULE_HTTP,
    .postconfiguration = postconfiguration,
};

static void *
create_main_conf(pt_conf_t *cf)
{
    pt_http_upstream_health_main_conf_t *hmcf;

    hmcf = pt_pcalloc(cf->pool, sizeof(*hmcf));
    if (hmcf == NULL
        || pt_array_init(&hmcf->checks, cf->pool, 2, sizeof(void *)) != PT_OK
        || pt_array_init(&hmcf->matches, cf->pool, 2, sizeof(void *))
           != PT_OK)
    {
        return NULL;
    }
    return hmcf;
}

/* ------------------------------------------------------------ config */

static int
check_param(pt_http_upstream_health_check_t *hc, pt_str_t *v)
{
    pt_str_t  t;
    pt_int_t  n;
    u_char   *eq = memchr(v->data, '=', v->len);

    if (eq == NULL) {
        return PT_ERROR;
    }
    t.data = eq + 1;
    t.len = v->len - (size_t) (eq + 1 - v->data);
    v->len = (size_t) (eq - v->data);
    if (pt_str_eq_cstr(v, "interval")) {
        n = pt_parse_time(&t, 0);
        hc->interval = (pt_msec_t) n;
        return n == PT_ERROR || n == 0 ? PT_ERROR : PT_OK;
    }
    if (pt_str_eq_cstr(v, "uri")) {
        hc->uri = t;
        return t.len > 0 && t.data[0] == '/' ? PT_OK : PT_ERROR;
    }
    if (pt_str_eq_cstr(v, "match")) {
        hc->match_name = t;
        return t.len > 0 ? PT_OK : PT_ERROR;
    }
    n = pt_atoi(t.data, t.len);
    if (pt_str_eq_cstr(v, "fails") && n > 0) {
        hc->fails = (pt_uint_t) n;
    } else if (pt_str_eq_cstr(v, "passes") && n > 0) {
        hc->passes = (pt_uint_t) n;
    } else if (pt_str_eq_cstr(v, "port") && n > 0 && n < 65536) {
        hc->port = (in_port_t) n;
    } else {
        return PT_ERROR;
    }
    return PT_OK;
}

static char *
health_check(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    pt_http_upstream_health_main_conf_t  *hmcf;
    pt_http_upstream_health_check_t      *hc, **hcp;
    pt_str_t                              v;
    pt_uint_t                             i;

    (void) cmd;
    (void) conf;
    hmcf = cf->ctx->main_conf[pt_http_upstream_health_module.index];
    hc = pt_pcalloc(cf->pool, sizeof(*hc));
    hcp = pt_array_push(&hmcf->checks);
    if (hc == NULL || hcp == NULL) {
        return PT_CONF_ERROR;
    }
    hc->interval = 5000;
    hc->fails = 1;
    hc->passes = 1;
    pt_str_set(&hc->uri, "/");
    hc->loc_conf = cf->ctx->loc_conf;
    hc->file = cf->node->file;
    hc->line = cf->node->line;
    for (i = 1; i < cf->nargs; i++) {
        v = cf->args[i];
        if (check_param(hc, &v) != PT_OK) {
            pt_conf_log_error(PT_LOG_EMERG, cf, 0,
                              "invalid parameter \"%.*s\"",
                              (int) cf->args[i].len, cf->args[i].data);
            return PT_CONF_ERROR;
        }
    }
    *hcp = hc;
    return PT_CONF_OK;
}

/* Once the http block is read: each check's group (it must have a zone)
 * and its match block, defined anywhere in the block. */
static int
postconfiguration(pt_conf_t *cf)
{
    pt_http_upstream_health_main_conf_t  *hmcf;
    pt_http_upstream_health_check_t     **hc;
    pt_http_upstream_loc_conf_t          *ulcf;
    pt_uint_t                             i;

    hmcf = cf->ctx->main_conf[pt_http_upstream_health_module.index];
    hc = hmcf->checks.elts;
    for (i = 0; i < hmcf->checks.nelts; i++) {
        ulcf = hc[i]->loc_conf[pt_http_upstream_module.index];
        hc[i]->upstream = ulcf != NULL ? ulcf->upstream : NULL;
        if (hc[i]->upstream == NULL) {
            pt_log_error(PT_LOG_EMERG, cf->log, 0,
                         "\"health_check\" needs a proxy_pass to an "
                         "upstream in %s:%lu", hc[i]->file,
                         (unsigned long) hc[i]->line);
            return PT_ERROR;
        }
        if (hc[i]->upstream->shm_zone == NULL) {
            pt_log_error(PT_LOG_EMERG, cf->log, 0,
                         "\"health_check\" requires a \"zone\" in upstream "
                         "\"%.*s\" in %s:%lu",
                         (int) hc[i]->upstream->host.len,
                         hc[i]->upstream->host.data, hc[i]->file,
                         (unsigned long) hc[i]->line);
            return PT_ERROR;
        }
        if (hc[i]->match_name.len == 0) {
            continue;
        }
        hc[i]->match = pt_http_upstream_match_find(hmcf, &hc[i]->match_name);
        if (hc[i]->match == NULL) {
            pt_log_error(PT_LOG_EMERG, cf->log, 0,
                         "match \"%.*s\" not found in %s:%lu",
                         (int) hc[i]->match_name.len,
                         hc[i]->match_name.data, hc[i]->file,
                         (unsigned long) hc[i]->line);
            return PT_ERROR;
        }
    }
    return PT_OK;
}

/* ------------------------------------------------------------ verdicts */

/* Is it this worker's turn to probe? The first worker past the peer's
 * next probe time takes it; a probe whose worker vanished is taken over
 * one interval late. */
static int
claim(hc_peer_t *hp)
{
    pt_http_upstream_peer_state_t *st = hp->peer->st;
    pt_msec_t                      now = pt_current_msec;
    int                            mine = 0;

    pt_rr_lock(hp->peers);
    if (now >= st->hc_next
        && (!st->hc_checking || now >= st->hc_next + hp->check->interval))
    {
        st->hc_checking = 1;
        st->hc_owner = pt_shmtx_pid();
        st->hc_next = now + hp->check->interval;
        mine = 1;
    }
    pt_rr_unlock(hp->peers);
    return mine;
}

static void
verdict(hc_peer_t *hp, int ok)
{
    pt_http_upstream_peer_state_t *st = hp->peer->st;
    int                            changed = 0;

    pt_rr_lock(hp->peers);
    st->hc_checking = 0;
    if (ok) {
        st->hc_fails = 0;
        st->hc_passes++;
        if (st->hc_passes >= hp->check->passes) {
            /* `passes` good probes since the last failure, active or
             * passive (round robin's free restarts the count): the peer
             * is back, whatever max_fails/fail_timeout said */
            changed = st->hc_down;
            st->hc_down = 0;
            st->fails = 0;
        }
    } else {
        st->hc_passes = 0;
        st->hc_fails++;
        if (!st->hc_down && st->hc_fails >= hp->check->fails) {
            st->hc_down = 1;
            changed = 1;
        }
    }
    pt_rr_unlock(hp->peers);
    if (changed) {
        pt_log_error(ok ? PT_LOG_NOTICE : PT_LOG_WARN, hp->log, 0,
                     "upstream server \"%.*s\" of upstream \"%.*s\" is %s",
                     (int) hp->peer->name.len, hp->peer->name.data,
                     (int) hp->peers->name->len, hp->peers->name->data,
                     ok ? "healthy again" : "unhealthy");
    }
}

static void
schedule(hc_peer_t *hp, pt_msec_t after)
{
    if (!pt_worker_exiting) {
        pt_timer_add(&hp->timer, after);
    }
}

/* End the probe in flight: `ok` -1 gives no verdict (shutting down). */
static void
finish(hc_peer_t *hp, int ok)
{
    if (hp->connection != NULL) {
        pt_conn_close(hp->connection);
        hp->connection = NULL;
    }
    if (ok >= 0) {
        verdict(hp, ok);
    } else {
        pt_rr_lock(hp->peers);
        hp->peer->st->hc_checking = 0;
        pt_rr_unlock(hp->peers);
    }
    schedule(hp, hp->check->interval);
}

/* ------------------------------------------------------------ probes */

/* A whole response: EOF, a full buffer, or Content-Length bytes of body. */
static int
complete(hc_peer_t *hp)
{
    u_char   *body, *cl, *eol;
    pt_int_t  n;

    body = memmem(hp->buf, hp->len, "\r\n\r\n", 4);
    if (body == NULL) {
        return 0;
    }
    body += 4;
    cl = memmem(hp->buf, (size_t) (body - hp->buf), "\nContent-Length:", 16);
    if (cl == NULL) {
        cl = memmem(hp->buf, (size_t) (body - hp->buf), "\ncontent-length:",
                    16);
    }
    if (cl == NULL) {
        return 0;
    }
    for (cl += 16; *cl == ' '; cl++) {
    }
    eol = memchr(cl, '\r', (size_t) (body - cl));
    n = eol ? pt_atoi(cl, (size_t) (eol - cl)) : PT_ERROR;
    return n != PT_ERROR && (size_t) (hp->buf + hp->len - body) >= (size_t) n;
}

static void
probe_read(pt_event_t *ev)
{
    pt_connection_t *c = ev->data;
    hc_peer_t       *hp = c->data;
    ssize_t          n;

    if (c->close) {
        finish(hp, -1);
        return;
    }
    if (ev->timedout) {
        finish(hp, 0);
        return;
    }
    for (;;) {
        if (hp->len == HC_BUFFER_SIZE) {
            break;
        }
        n = c->recv(c, hp->buf + hp->len, HC_BUFFER_SIZE - hp->len);
        if (n == PT_AGAIN) {
            if (complete(hp)) {
                break;
            }
            return;
        }
        if (n == PT_ERROR) {
            finish(hp, 0);
            return;
        }
        if (n == 0) {
            break;
        }
        hp->len += (size_t) n;
    }
    finish(hp, pt_http_upstream_match_test(hp->check->match, hp->buf,
                                           hp->len));
}

static void
probe_write(pt_event_t *ev)
{
    pt_connection_t *c = ev->data;
    hc_peer_t       *hp = c->data;
    ssize_t          n;
    int              err = 0, rc;
    socklen_t        len = sizeof(err);

    if (ev->timedout || c->close) {
        finish(hp, c->close ? -1 : 0);
        return;
    }
    if (hp->sent == 0
        && (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1
            || err != 0))
    {
        pt_log_error(PT_LOG_INFO, hp->log, err ? err : errno,
                     "health check connect() to %.*s failed",
                     (int) hp->peer->name.len, hp->peer->name.data);
        finish(hp, 0);
        return;
    }
    /* proxy_ssl: a probe to https:// handshakes first */
    rc = hp->sent == 0 ? pt_proxy_ssl_probe(c, hp->check->loc_conf,
                                            &hp->check->upstream->host,
                                            probe_read, hp->log)
                       : PT_OK;
    if (rc != PT_OK) {
        if (rc == PT_ERROR) {
            finish(hp, 0);
        }
        return;
    }
    while (hp->sent < hp->request->len) {
        n = c->send(c, hp->request->data + hp->sent,
                    hp->request->len - hp->sent);
        if (n == PT_AGAIN) {
            return;
        }
        if (n == PT_ERROR) {
            finish(hp, 0);
            return;
        }
        hp->sent += (size_t) n;
    }
    c->write->handler = pt_event_empty_handler;
    pt_timer_del(c->write);
    pt_timer_add(c->read, hp->check->interval);
    if (c->read->ready) {
        probe_read(c->read);
    }
}

/* Connect to the peer; the handlers take it from there. PT_ERROR when the
 * probe failed at once. */
static int
probe_start(hc_peer_t *hp)
{
    pt_connection_t *c;
    int              fd;

    fd = socket(hp->sockaddr.ss_family,
                SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd == -1) {
        pt_log_error(PT_LOG_ALERT, hp->log, errno, "socket() failed");
        return PT_ERROR;
    }
    c = pt_conn_get(fd, hp->log);
    if (c == NULL) {
        close(fd);
        return PT_ERROR;
    }
    hp->connection = c;
    hp->len = 0;
    hp->sent = 0;
    c->data = hp;
    c->read->handler = probe_read;
    c->write->handler = probe_write;
    c->read->log = hp->log;
    c->write->log = hp->log;
    if (pt_event_add_conn(c) != PT_OK) {
        return PT_ERROR;
    }
    /* on the idle list: a graceful stop or a slot shortage ends it */
    pt_conn_reusable(c, 1);
    if (connect(fd, (struct sockaddr *) &hp->sockaddr, hp->peer->socklen)
        == -1 && errno != EINPROGRESS)
    {
        pt_log_error(PT_LOG_INFO, hp->log, errno,
                     "health check connect() to %.*s failed",
                     (int) hp->peer->name.len, hp->peer->name.data);
        return PT_ERROR;
    }
    pt_timer_add(c->write, hp->check->interval);
    return PT_OK;
}

static void
timer_handler(pt_event_t *ev)
{
    hc_peer_t *hp = ev->data;

    if (pt_worker_exiting || hp->connection != NULL) {
        return;
    }
    if (!claim(hp)) {
        schedule(hp, hp->check->interval / 4 + 1);
        return;
    }
    if (probe_start(hp) != PT_OK) {
        finish(hp, 0);
    }
}

/* ------------------------------------------------------------ workers */

static pt_str_t *
build_request(pt_pool_t *pool, pt_http_upstream_health_check_t *hc)
{
    pt_str_t *r = pt_palloc(pool, sizeof(pt_str_t));
    size_t    size;

    if (r == NULL) {
        return NULL;
    }
    size = hc->uri.len + hc->upstream->host.len + 128;
    r->data = pt_pnalloc(pool, size);
    if (r->data == NULL) {
        return NULL;
    }
    r->len = (size_t) (pt_slprintf(r->data, r->data + size,
                                   "GET %.*s HTTP/1.0\r\nHost: %.*s\r\n"
                                   "User-Agent: portico health check\r\n"
                                   "Connection: close\r\n\r\n",
                                   (int) hc->uri.len, hc->uri.data,
                                   (int) hc->upstream->host.len,
                                   hc->upstream->host.data)
                       - r->data);
    return r;
}

static int
watch_peer(pt_cycle_t *cycle, pt_http_upstream_health_check_t *hc,
           pt_str_t *request, pt_http_upstream_rr_peers_t *peers,
           pt_http_upstream_rr_peer_t *peer)
{
    hc_peer_t *hp = pt_pcalloc(cycle->pool, sizeof(*hp));

    if (hp == NULL
        || (hp->buf = pt_pnalloc(cycle->pool, HC_BUFFER_SIZE)) == NULL)
    {
        return PT_ERROR;
    }
    hp->check = hc;
    hp->peers = peers;
    hp->peer = peer;
    hp->request = request;
    hp->log = cycle->log;
    memcpy(&hp->sockaddr, peer->sockaddr, peer->socklen);
    if (hc->port && hp->sockaddr.ss_family == AF_INET) {
        ((struct sockaddr_in *) &hp->sockaddr)->sin_port = htons(hc->port);
    } else if (hc->port && hp->sockaddr.ss_family == AF_INET6) {
        ((struct sockaddr_in6 *) &hp->sockaddr)->sin6_port = htons(hc->port);
    }
    hp->timer.data = hp;
    hp->timer.handler = timer_handler;
    hp->timer.log = cycle->log;
    hp->timer.cancelable = 1;
    pt_timer_add(&hp->timer, 1);
    return PT_OK;
}

/* Each worker watches every peer of every check; the zone decides who
 * probes. Memory: the cycle's pool. */
static int
init_process(pt_cycle_t *cycle)
{
    pt_conf_ctx_t                        *http;
    pt_http_upstream_health_main_conf_t  *hmcf;
    pt_http_upstream_health_check_t     **hc;
    pt_http_upstream_rr_peers_t          *peers;
    pt_str_t                             *request;
    pt_uint_t                             i, j;

    http = cycle->conf_ctx != NULL
               ? cycle->conf_ctx[pt_http_core_module.index] : NULL;
    if (http == NULL) {
        return PT_OK;
    }
    hmcf = http->main_conf[pt_http_upstream_health_module.index];
    hc = hmcf->checks.elts;
    for (i = 0; i < hmcf->checks.nelts; i++) {
        request = build_request(cycle->pool, hc[i]);
        if (request == NULL) {
            return PT_ERROR;
        }
        for (peers = hc[i]->upstream->peer_data; peers != NULL;
             peers = peers->next)
        {
            for (j = 0; j < peers->number; j++) {
                if (watch_peer(cycle, hc[i], request, peers,
                               &peers->peer[j]) != PT_OK)
                {
                    return PT_ERROR;
                }
            }
        }
    }
    return PT_OK;
}
