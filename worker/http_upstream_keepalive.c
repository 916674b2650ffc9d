/*
 * `keepalive N` in an upstream block: each worker keeps up to N idle
 * connections to the group's peers, most recently used first, and hands
 * one to the next request for the same peer. Wraps the group's balancer.
 * An idle connection that becomes readable (EOF, error, stray bytes), idles
 * past keepalive_timeout, or is asked to close (slot shortage, graceful
 * stop) is closed and leaves the cache. Beyond N, the least recently used
 * are closed at the end of the event-loop step, not at once, so that a
 * request read in the same step reuses them instead of connecting.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "common/cycle.h"
#include "common/inet.h"
#include "common/log.h"
#include "common/pool.h"
#include "common/queue.h"
#include "common/time.h"
#include "conn.h"
#include "event.h"
#include "timer.h"
#include "tls.h"
#include "worker.h"
#include "http_upstream.h"
#include "http_upstream_rr.h"

typedef struct keepalive_conf_s keepalive_conf_t;

/* One cache slot; the items live as long as the configuration. */
typedef struct {
    pt_queue_t                queue;      /* in cache or free */
    keepalive_conf_t         *conf;
    pt_connection_t          *connection;
    struct sockaddr_storage   sockaddr;
    socklen_t                 socklen;
    pt_msec_t                 created;    /* for keepalive_time */
    pt_uint_t                 requests;   /* for keepalive_requests */
} keepalive_item_t;

struct keepalive_conf_s {
    pt_uint_t                      max_cached;  /* 0: no `keepalive` */
    pt_msec_t                      timeout;
    pt_int_t                       requests;
    pt_msec_t                      time;
    pt_http_upstream_init_pt       original_init;
    pt_http_upstream_init_peer_pt  original_init_peer;
    pt_queue_t                     cache;       /* idle, most recent first */
    pt_queue_t                     free;
    pt_uint_t                      cached_n;    /* items in cache */
    pt_event_t                     trim;        /* posted when over N */
    pt_log_t                      *log;         /* cached connections' log */
};

/* Per request: the wrapped balancer and what the connection carries. */
typedef struct {
    keepalive_conf_t         *conf;
    pt_http_upstream_t       *upstream;
    void                     *data;
    pt_peer_get_pt            original_get;
    pt_peer_free_pt           original_free;
    pt_msec_t                 created;
    pt_uint_t                 requests;
} keepalive_peer_t;

static void *create_srv_conf(pt_conf_t *cf);
static char *keepalive(pt_conf_t *cf, pt_command_t *cmd, void *conf);

static pt_command_t commands[] = {
    { "keepalive", PT_CONF_UPSTREAM | PT_CONF_TAKE1,
      keepalive, PT_CONF_SRV_OFFSET, 0, NULL },
    { "keepalive_timeout", PT_CONF_UPSTREAM | PT_CONF_TAKE1,
      pt_conf_set_msec, PT_CONF_SRV_OFFSET,
      offsetof(keepalive_conf_t, timeout), NULL },
    { "keepalive_requests", PT_CONF_UPSTREAM | PT_CONF_TAKE1,
      pt_conf_set_num, PT_CONF_SRV_OFFSET,
      offsetof(keepalive_conf_t, requests), NULL },
    { "keepalive_time", PT_CONF_UPSTREAM | PT_CONF_TAKE1,
      pt_conf_set_msec, PT_CONF_SRV_OFFSET,
      offsetof(keepalive_conf_t, time), NULL },
    pt_null_command
};

pt_module_t pt_http_upstream_keepalive_module = {
    .name = "http_upstream_keepalive",
    .commands = commands,
    .create_srv_conf = create_srv_conf,
    .type = PT_MODULE_HTTP,
};

static void *
create_srv_conf(pt_conf_t *cf)
{
    keepalive_conf_t *kcf = pt_pcalloc(cf->pool, sizeof(*kcf));

    if (kcf == NULL) {
        return NULL;
    }
    kcf->timeout = PT_CONF_UNSET_MSEC;
    kcf->requests = PT_CONF_UNSET;
    kcf->time = PT_CONF_UNSET_MSEC;
    return kcf;
}

/* ------------------------------------------------------------ cache */

/* Close a cached connection and give its slot back. */
static void
drop(keepalive_item_t *item)
{
    keepalive_conf_t *kcf = item->conf;

    pt_queue_remove(&item->queue);
    pt_queue_insert_head(&kcf->free, &item->queue);
    kcf->cached_n--;
    pt_conn_close(item->connection);
    item->connection = NULL;
}

/* Posted when the cache went over N during an event-loop step: back to N,
 * closing the least recently used, before the worker waits again. */
static void
trim_handler(pt_event_t *ev)
{
    keepalive_conf_t *kcf = ev->data;

    while (kcf->cached_n > kcf->max_cached) {
        drop(pt_queue_data(pt_queue_last(&kcf->cache), keepalive_item_t,
                           queue));
    }
}

/* An idle cached connection's read event: anything but "nothing to read"
 * ends it, as does its idle timer or a request to close. */
static void
idle_handler(pt_event_t *ev)
{
    pt_connection_t  *c = ev->data;
    keepalive_item_t *item = c->data;
    char              byte;
    ssize_t           n;

    if (!c->close && !ev->timedout) {
        n = recv(c->fd, &byte, 1, MSG_PEEK);
        if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            ev->ready = 0;
            return;
        }
    }
    drop(item);
}

/* Park pc->connection in the cache; the caller no longer owns it. Over N,
 * the trim at the end of this step closes the least recently used; only
 * when the spare slots (another N) are gone too is one closed at once. */
static void
park(keepalive_peer_t *kp, pt_peer_connection_t *pc)
{
    keepalive_conf_t *kcf = kp->conf;
    pt_connection_t  *c = pc->connection;
    keepalive_item_t *item;

    if (pt_queue_empty(&kcf->free)) {
        item = pt_queue_data(pt_queue_last(&kcf->cache), keepalive_item_t,
                             queue);
        drop(item);
    }
    item = pt_queue_data(pt_queue_head(&kcf->free), keepalive_item_t, queue);
    pt_queue_remove(&item->queue);
    pt_queue_insert_head(&kcf->cache, &item->queue);
    if (++kcf->cached_n > kcf->max_cached) {
        pt_event_post(&kcf->trim);
    }

    item->connection = c;
    memcpy(&item->sockaddr, pc->sockaddr, pc->socklen);
    item->socklen = pc->socklen;
    item->created = kp->created;
    item->requests = kp->requests;
    pc->connection = NULL;

    /* nothing of the request may stay reachable from the connection */
    c->data = item;
    c->buffer = NULL;
    pt_tls_release_buffer(c);    /* proxy_ssl: idle, it holds no buffer */
    c->log = kcf->log;
    c->read->log = kcf->log;
    c->write->log = kcf->log;
    c->read->handler = idle_handler;
    c->write->handler = pt_event_empty_handler;
    c->idle = 1;
    if (c->write->timer_set) {
        pt_timer_del(c->write);
    }
    pt_timer_add(c->read, kcf->timeout);
    /* on the idle list, so a shortage of slots can reclaim it */
    pt_conn_reusable(c, 1);
    if (c->read->ready) {
        /* edge-triggered: whatever is pending will not be reported again */
        pt_event_post(c->read);
    }
}

/* A cached connection to the peer just chosen, or NULL. One found dead
 * (its close already seen) is dropped on the way, and pc->down set. */
static pt_connection_t *
take(keepalive_peer_t *kp, pt_peer_connection_t *pc)
{
    keepalive_conf_t *kcf = kp->conf;
    keepalive_item_t *item;
    pt_queue_t       *q, *next;
    pt_connection_t  *c;

    for (q = pt_queue_head(&kcf->cache); q != pt_queue_sentinel(&kcf->cache);
         q = next)
    {
        next = pt_queue_next(q);
        item = pt_queue_data(q, keepalive_item_t, queue);
        if (!pt_inet_addr_eq((struct sockaddr *) &item->sockaddr,
                             item->socklen, pc->sockaddr, pc->socklen))
        {
            continue;
        }
        c = item->connection;
        if (c->read->eof || c->read->error || c->close) {
            pc->down = 1;
            drop(item);
            continue;
        }
        pt_queue_remove(&item->queue);
        pt_queue_insert_head(&kcf->free, &item->queue);
        kcf->cached_n--;
        item->connection = NULL;
        kp->created = item->created;
        kp->requests = item->requests;

        pt_conn_reusable(c, 0);
        c->idle = 0;
        c->data = NULL;
        c->read->handler = pt_event_empty_handler;
        if (c->read->timer_set) {
            pt_timer_del(c->read);
        }
        if (c->read->posted) {
            pt_event_delete_posted(c->read);
        }
        c->log = pc->log;
        c->read->log = pc->log;
        c->write->log = pc->log;
        return c;
    }
    return NULL;
}

/* ------------------------------------------------------------ peer */

static int
keepalive_get(pt_peer_connection_t *pc, void *data)
{
    keepalive_peer_t *kp = data;
    int               rc;

    rc = kp->original_get(pc, kp->data);
    if (rc != PT_OK) {
        return rc;
    }
    kp->created = pc->start_time ? pc->start_time : pt_current_msec;
    kp->requests = 0;
    pc->connection = take(kp, pc);
    if (pc->connection == NULL) {
        return PT_OK;
    }
    pc->cached = 1;
    return PT_DONE;
}

/* May the connection of this try be kept? */
static int
reusable(keepalive_peer_t *kp, pt_peer_connection_t *pc, pt_uint_t state)
{
    keepalive_conf_t *kcf = kp->conf;
    pt_connection_t  *c = pc->connection;

    if ((state & PT_PEER_FAILED) || c == NULL || pt_worker_exiting
        || !kp->upstream->keepalive)
    {
        return 0;
    }
    if (c->read->eof || c->read->error || c->write->error || c->close
        || c->timedout || c->read->timedout || c->write->timedout)
    {
        return 0;
    }
    kp->requests++;
    if (kp->requests >= (pt_uint_t) kcf->requests
        || pt_current_msec - kp->created > kcf->time)
    {
        return 0;
    }
    return 1;
}

static void
keepalive_free(pt_peer_connection_t *pc, void *data, pt_uint_t state)
{
    keepalive_peer_t *kp = data;

    if (reusable(kp, pc, state)) {
        park(kp, pc);
    }
    kp->original_free(pc, kp->data, state);
}

static int
keepalive_init_peer(pt_http_request_t *r, pt_http_upstream_srv_conf_t *us)
{
    keepalive_conf_t   *kcf;
    keepalive_peer_t   *kp;
    pt_http_upstream_t *u = r->upstream;

    kcf = us->srv_conf[pt_http_upstream_keepalive_module.index];
    if (kcf->original_init_peer(r, us) != PT_OK) {
        return PT_ERROR;
    }
    kp = pt_pcalloc(r->pool, sizeof(*kp));
    if (kp == NULL) {
        return PT_ERROR;
    }
    kp->conf = kcf;
    kp->upstream = u;
    kp->data = u->peer.data;
    kp->original_get = u->peer.get;
    kp->original_free = u->peer.free;
    u->peer.data = kp;
    u->peer.get = keepalive_get;
    u->peer.free = keepalive_free;
    return PT_OK;
}

static int
keepalive_init(pt_conf_t *cf, pt_http_upstream_srv_conf_t *us)
{
    keepalive_conf_t *kcf;
    keepalive_item_t *items;
    pt_uint_t         i;

    kcf = us->srv_conf[pt_http_upstream_keepalive_module.index];
    pt_conf_init_msec(kcf->timeout, 60000);
    pt_conf_init_value(kcf->requests, 1000);
    pt_conf_init_msec(kcf->time, 3600000);
    if (kcf->original_init(cf, us) != PT_OK) {
        return PT_ERROR;
    }
    kcf->original_init_peer = us->init_peer;
    us->init_peer = keepalive_init_peer;

    /* N slots, and N spare ones for what this step parks over N */
    items = pt_pcalloc(cf->pool, 2 * kcf->max_cached * sizeof(*items));
    if (items == NULL) {
        return PT_ERROR;
    }
    pt_queue_init(&kcf->cache);
    pt_queue_init(&kcf->free);
    for (i = 0; i < 2 * kcf->max_cached; i++) {
        items[i].conf = kcf;
        pt_queue_insert_tail(&kcf->free, &items[i].queue);
    }
    kcf->log = cf->cycle != NULL ? cf->cycle->log : cf->log;
    kcf->trim.data = kcf;
    kcf->trim.handler = trim_handler;
    kcf->trim.log = kcf->log;
    return PT_OK;
}

static char *
keepalive(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    keepalive_conf_t            *kcf = conf;
    pt_http_upstream_srv_conf_t *us = pt_http_upstream_conf_group(cf);
    pt_int_t                     n;

    (void) cmd;
    if (kcf->max_cached) {
        return "is duplicate";
    }
    n = pt_atoi(cf->args[1].data, cf->args[1].len);
    if (n == PT_ERROR || n == 0) {
        pt_conf_log_error(PT_LOG_EMERG, cf, 0,
                          "invalid value \"%.*s\" in \"keepalive\" directive",
                          (int) cf->args[1].len, cf->args[1].data);
        return PT_CONF_ERROR;
    }
    kcf->max_cached = (pt_uint_t) n;
    /* the balancer chosen so far (round robin if none) is wrapped; one
     * set after this line replaces the wrapper, as in nginx */
    kcf->original_init = us->init != NULL ? us->init
                                          : pt_http_upstream_init_round_robin;
    us->init = keepalive_init;
    return PT_CONF_OK;
}
