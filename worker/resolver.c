/*
 * The resolver at run time: per-worker UDP sockets to the configured
 * servers, queries in flight with their retransmissions, the bounded LRU
 * cache of answers, and the lookups (contexts) waiting on them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/pool.h"
#include "common/time.h"
#include "conn.h"
#include "dns.h"
#include "event.h"
#include "resolver.h"
#include "timer.h"

#define RESEND_MS          1000    /* retransmit an unanswered query */
#define DEFAULT_TIMEOUT    30000
#define DEFAULT_ENTRIES    4096
#define NEG_TTL_DEFAULT    5       /* seconds, a failure without an SOA */
#define NEG_TTL_MAX        3600
#define TTL_MAX            (7 * 86400)
#define ID_BUCKETS         64
#define NAME_MAX_LEN       253     /* dotted, without the final dot */

typedef struct core_s core_t;
typedef struct node_s node_t;

typedef struct {
    pt_addr_t         addr;
    pt_connection_t  *c;       /* open UDP socket, or NULL */
    core_t           *core;
} server_t;

struct core_s {
    pt_log_t         *log;
    server_t         *servers;
    pt_uint_t         nservers;
    pt_uint_t         next;           /* round robin */
    time_t            valid;
    pt_uint_t         max_entries;
    unsigned          ipv4:1;
    unsigned          ipv6:1;

    node_t          **buckets;        /* by name hash */
    pt_uint_t         nbuckets;       /* a power of two */
    uint32_t          seed;           /* of the name hash: names come
                                         from clients */
    pt_queue_t        lru;            /* answered nodes, recent first */
    pt_queue_t        ids[ID_BUCKETS];  /* querying nodes, by id */
    pt_uint_t         nnodes;
    pt_uint_t         nquerying;
    int               reading;        /* in udp_read: sockets stay */
};

struct pt_resolver_s {
    core_t           *core;
    pt_msec_t         timeout;
};

/* A name: a cached answer, a query in flight, or (refreshing) both.
 * malloc'd with its name; owned by the core, freed by free_node. */
struct node_s {
    node_t           *hnext;
    uint32_t          hash;
    pt_queue_t        lru;            /* core->lru while answered */
    pt_queue_t        idq;            /* core->ids[] while querying */
    pt_queue_t        waiting;        /* contexts */
    pt_event_t        resend;
    core_t           *core;

    u_char           *name;           /* lowercase, dotted */
    size_t            len;
    u_char            wire[PT_DNS_WIRE_MAX];
    size_t            wlen;

    int               state;          /* the answer */
    pt_msec_t         expire;
    pt_addr_t        *addrs;          /* malloc, with the answer */
    pt_uint_t         naddrs;
    pt_uint_t         busy;           /* handlers running on the answer */

    uint16_t          id;
    unsigned          querying:1;
    unsigned          answered:1;
    unsigned          want_a:1;       /* A not answered yet */
    unsigned          want_aaaa:1;
    int               rcode_a;        /* -1: not asked */
    int               rcode_aaaa;
    uint32_t          ttl;
    uint32_t          neg_ttl;
    pt_uint_t         n4, n6;
    u_char            a4[PT_DNS_MAX_ADDRS][4];
    u_char            a6[PT_DNS_MAX_ADDRS][16];
};

static void free_node(node_t *n);
static void finish(node_t *n);
static void udp_read(pt_event_t *ev);

/* ---------------------------------------------------------------- ids */

/* Query ids must be unpredictable (RFC 5452). Bytes come from getrandom
 * a block at a time; the block is dropped after fork so workers differ. */
static uint16_t
random_id(pt_log_t *log)
{
    static u_char  pool[64];
    static size_t  left;
    static pid_t   owner;
    ssize_t        n;
    uint16_t       id;

    if (owner != getpid()) {
        owner = getpid();
        left = 0;
    }
    if (left < 2) {
        n = getrandom(pool, sizeof(pool), GRND_NONBLOCK);
        if (n < 2) {
            pt_log_error(PT_LOG_WARN, log, n < 0 ? errno : 0,
                         "getrandom() failed, resolver ids less random");
            return (uint16_t) (random() ^ pt_current_msec);
        }
        left = (size_t) n;
    }
    left -= 2;
    memcpy(&id, pool + left, 2);
    return id;
}

/* ------------------------------------------------------------- sockets */

static pt_connection_t *
open_socket(server_t *s)
{
    const struct sockaddr *sa = (const struct sockaddr *) &s->addr.sockaddr;
    pt_connection_t       *c;
    int                    fd;

    fd = socket(sa->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd == -1) {
        pt_log_error(PT_LOG_ALERT, s->core->log, errno,
                     "resolver socket() failed");
        return NULL;
    }
    /* connected: the kernel drops datagrams from anyone else */
    if (connect(fd, sa, s->addr.socklen) == -1) {
        pt_log_error(PT_LOG_ERR, s->core->log, errno,
                     "resolver connect() failed");
        if (close(fd) == -1) {
            pt_log_error(PT_LOG_ALERT, s->core->log, errno, "close() failed");
        }
        return NULL;
    }

    c = pt_conn_get(fd, s->core->log);
    if (c == NULL) {
        if (close(fd) == -1) {
            pt_log_error(PT_LOG_ALERT, s->core->log, errno, "close() failed");
        }
        return NULL;
    }
    c->data = s;
    c->read->handler = udp_read;
    if (pt_event_add_conn(c) != PT_OK) {
        pt_conn_close(c);
        return NULL;
    }
    s->c = c;
    return c;
}

/* Sockets live while queries are in flight: an idle one would hold a
 * connection slot, which keeps a gracefully stopping worker alive. */
static void
maybe_close(core_t *core)
{
    pt_uint_t i;

    if (core->nquerying > 0 || core->reading) {
        return;
    }
    for (i = 0; i < core->nservers; i++) {
        if (core->servers[i].c != NULL) {
            pt_conn_close(core->servers[i].c);
            core->servers[i].c = NULL;
        }
    }
}

static void
send_one(node_t *n, server_t *s, uint16_t qtype)
{
    u_char  buf[PT_DNS_QUERY_MAX];
    size_t  len;
    ssize_t sent;

    if (s->c == NULL && open_socket(s) == NULL) {
        return;                   /* the retransmission tries again */
    }
    len = pt_dns_build_query(buf, n->id, n->wire, n->wlen, qtype);

    do {
        sent = send(s->c->fd, buf, len, MSG_NOSIGNAL);
    } while (sent == -1 && errno == EINTR);

    if (sent == -1) {
        pt_log_error(PT_LOG_ERR, n->core->log, errno,
                     "send() failed while resolving %.*s", (int) n->len,
                     n->name);
    }
}

/* Send what is still unanswered to the next server in turn. */
static void
send_query(node_t *n)
{
    core_t   *core = n->core;
    server_t *s = &core->servers[core->next++ % core->nservers];

    if (n->want_a) {
        send_one(n, s, PT_DNS_TYPE_A);
    }
    if (n->want_aaaa) {
        send_one(n, s, PT_DNS_TYPE_AAAA);
    }
}

static void
resend_handler(pt_event_t *ev)
{
    node_t *n = ev->data;

    ev->timedout = 0;
    send_query(n);
    pt_timer_add(&n->resend, RESEND_MS);
}

/* --------------------------------------------------------------- cache */

static uint32_t
hash_name(core_t *core, const u_char *p, size_t len)
{
    uint32_t h = 2166136261u ^ core->seed;     /* FNV-1a, seeded */
    size_t   i;

    for (i = 0; i < len; i++) {
        h = (h ^ p[i]) * 16777619u;
    }
    return h;
}

static node_t *
find_node(core_t *core, const u_char *name, size_t len, uint32_t hash)
{
    node_t *n;

    for (n = core->buckets[hash & (core->nbuckets - 1)]; n; n = n->hnext) {
        if (n->hash == hash && n->len == len
            && memcmp(n->name, name, len) == 0)
        {
            return n;
        }
    }
    return NULL;
}

static int
expired(node_t *n)
{
    /* an answer whose handlers are running stays theirs until they end */
    return n->expire <= pt_current_msec && n->busy == 0;
}

static void
stop_query(node_t *n)
{
    if (!n->querying) {
        return;
    }
    n->querying = 0;
    pt_queue_remove(&n->idq);
    pt_timer_del(&n->resend);
    n->core->nquerying--;
}

static void
free_node(node_t *n)
{
    core_t  *core = n->core;
    node_t **pp;

    stop_query(n);
    if (n->answered) {
        pt_queue_remove(&n->lru);
    }
    for (pp = &core->buckets[n->hash & (core->nbuckets - 1)]; *pp;
         pp = &(*pp)->hnext)
    {
        if (*pp == n) {
            *pp = n->hnext;
            break;
        }
    }
    core->nnodes--;
    free(n->addrs);
    free(n);
}

/* Free up to two expired answers from the least recently used end: each
 * lookup pays a little, so entries nobody asks for again do not stay. */
static void
expire_some(core_t *core)
{
    pt_queue_t *q, *prev;
    node_t     *n;
    int         i;

    for (i = 0, q = pt_queue_last(&core->lru);
         i < 2 && q != pt_queue_sentinel(&core->lru); i++, q = prev)
    {
        prev = pt_queue_prev(q);
        n = pt_queue_data(q, node_t, lru);
        if (expired(n)) {
            free_node(n);
        }
    }
}

/* Make room for one more node: the least recently used answer goes when
 * the cache is full. PT_ERROR when it is full of queries in flight. */
static int
make_room(core_t *core)
{
    pt_queue_t *q, *prev;
    node_t     *n;

    for (q = pt_queue_last(&core->lru);
         core->nnodes >= core->max_entries
         && q != pt_queue_sentinel(&core->lru); q = prev)
    {
        prev = pt_queue_prev(q);
        n = pt_queue_data(q, node_t, lru);
        if (n->busy == 0) {
            free_node(n);
        }
    }
    return core->nnodes < core->max_entries ? PT_OK : PT_ERROR;
}

static node_t *
create_node(core_t *core, const u_char *name, size_t len, uint32_t hash,
            const u_char *wire, size_t wlen)
{
    node_t    *n;
    pt_uint_t  b;

    if (make_room(core) != PT_OK) {
        pt_log_error(PT_LOG_ERR, core->log, 0, "resolver cache is full of "
                     "%lu lookups in flight", (unsigned long) core->nnodes);
        return NULL;
    }
    /* owner: the core; freed by free_node */
    n = calloc(1, sizeof(node_t) + len + 1);
    if (n == NULL) {
        pt_log_error(PT_LOG_ALERT, core->log, errno, "calloc() failed");
        return NULL;
    }
    n->core = core;
    n->name = (u_char *) (n + 1);
    memcpy(n->name, name, len);
    n->len = len;
    memcpy(n->wire, wire, wlen);
    n->wlen = wlen;
    n->hash = hash;
    pt_queue_init(&n->waiting);
    n->resend.data = n;
    n->resend.handler = resend_handler;
    n->resend.log = core->log;
    n->resend.cancelable = 1;

    b = hash & (core->nbuckets - 1);
    n->hnext = core->buckets[b];
    core->buckets[b] = n;
    core->nnodes++;
    return n;
}

static node_t *
find_query(core_t *core, uint16_t id)
{
    pt_queue_t *head = &core->ids[id % ID_BUCKETS], *q;
    node_t     *n;

    for (q = pt_queue_head(head); q != pt_queue_sentinel(head);
         q = pt_queue_next(q))
    {
        n = pt_queue_data(q, node_t, idq);
        if (n->id == id) {
            return n;
        }
    }
    return NULL;
}

static void
start_query(node_t *n)
{
    core_t *core = n->core;
    int     i;

    /* a new id unlike those in flight, so a response names one query */
    for (i = 0; i < 8; i++) {
        n->id = random_id(core->log);
        if (find_query(core, n->id) == NULL) {
            break;
        }
    }
    n->querying = 1;
    n->want_a = core->ipv4;
    n->want_aaaa = core->ipv6;
    n->rcode_a = -1;
    n->rcode_aaaa = -1;
    n->ttl = PT_DNS_NO_TTL;
    n->neg_ttl = PT_DNS_NO_TTL;
    n->n4 = 0;
    n->n6 = 0;
    pt_queue_insert_tail(&core->ids[n->id % ID_BUCKETS], &n->idq);
    core->nquerying++;

    send_query(n);
    pt_timer_add(&n->resend, RESEND_MS);
}

/* ------------------------------------------------------------ answers */

static void
record(node_t *n, uint16_t qtype, const pt_dns_answer_t *ans)
{
    pt_uint_t i;

    if (qtype == PT_DNS_TYPE_A) {
        n->want_a = 0;
        n->rcode_a = ans->rcode;
        for (i = 0; i < ans->naddrs; i++) {
            memcpy(n->a4[n->n4++], ans->addrs[i], 4);
        }
    } else {
        n->want_aaaa = 0;
        n->rcode_aaaa = ans->rcode;
        for (i = 0; i < ans->naddrs; i++) {
            memcpy(n->a6[n->n6++], ans->addrs[i], 16);
        }
    }
    if (ans->naddrs > 0) {
        n->ttl = pt_min(n->ttl, ans->ttl);
    }
    if (ans->neg_ttl != PT_DNS_NO_TTL) {
        n->neg_ttl = pt_min(n->neg_ttl, ans->neg_ttl);
    }
}

/* The merged A and AAAA results as socket addresses with port 0; the
 * state says why there are none. */
static int
build_addrs(node_t *n)
{
    struct sockaddr_in  *sin;
    struct sockaddr_in6 *sin6;
    pt_uint_t            i, total = n->n4 + n->n6;

    if (total == 0) {
        /* no data for either type reads as "not found", as in nginx */
        if (n->rcode_a > 0) {
            return n->rcode_a;
        }
        return n->rcode_aaaa > 0 ? n->rcode_aaaa : PT_RESOLVE_NXDOMAIN;
    }

    /* owner: the node, freed with it or by the next answer */
    n->addrs = calloc(total, sizeof(pt_addr_t));
    if (n->addrs == NULL) {
        pt_log_error(PT_LOG_ALERT, n->core->log, errno, "calloc() failed");
        return PT_RESOLVE_SERVFAIL;
    }
    for (i = 0; i < n->n4; i++) {
        sin = (struct sockaddr_in *) &n->addrs[i].sockaddr;
        sin->sin_family = AF_INET;
        memcpy(&sin->sin_addr, n->a4[i], 4);
        n->addrs[i].socklen = sizeof(struct sockaddr_in);
    }
    for (i = 0; i < n->n6; i++) {
        sin6 = (struct sockaddr_in6 *) &n->addrs[n->n4 + i].sockaddr;
        sin6->sin6_family = AF_INET6;
        memcpy(&sin6->sin6_addr, n->a6[i], 16);
        n->addrs[n->n4 + i].socklen = sizeof(struct sockaddr_in6);
    }
    n->naddrs = total;
    return PT_RESOLVE_OK;
}

/* Seconds the answer is kept: valid= when set, else the smallest TTL of
 * the records used, or for a failure the SOA's negative TTL (NXDOMAIN)
 * or a few seconds. */
static time_t
answer_ttl(node_t *n)
{
    if (n->core->valid > 0) {
        return n->core->valid;
    }
    if (n->state == PT_RESOLVE_OK) {
        return pt_min(n->ttl, TTL_MAX);
    }
    if (n->state == PT_RESOLVE_NXDOMAIN && n->neg_ttl != PT_DNS_NO_TTL) {
        return pt_min(n->neg_ttl, NEG_TTL_MAX);
    }
    return NEG_TTL_DEFAULT;
}

/* Hand the answer to every waiter. Handlers may start or end lookups,
 * even of this name: the waiters are taken first, and `busy` keeps the
 * answer (and the node) in place until the last handler returns. */
static void
deliver(node_t *n)
{
    pt_resolver_ctx_t *ctx;
    pt_queue_t         batch, *q;

    pt_queue_init(&batch);
    pt_queue_splice_tail(&batch, &n->waiting);
    pt_queue_init(&n->waiting);

    n->busy++;
    while (!pt_queue_empty(&batch)) {
        q = pt_queue_head(&batch);
        ctx = pt_queue_data(q, pt_resolver_ctx_t, queue);
        pt_queue_remove(q);
        ctx->waiting = 0;
        ctx->node = NULL;
        pt_timer_del(&ctx->timer);
        ctx->state = n->state;
        ctx->addrs = n->addrs;
        ctx->naddrs = n->naddrs;
        ctx->handler(ctx);
    }
    n->busy--;
}

static void
finish(node_t *n)
{
    core_t *core = n->core;

    stop_query(n);
    free(n->addrs);
    n->addrs = NULL;
    n->naddrs = 0;
    n->state = build_addrs(n);
    n->expire = pt_current_msec + (pt_msec_t) answer_ttl(n) * 1000;
    n->answered = 1;
    pt_queue_insert_head(&core->lru, &n->lru);
    deliver(n);
}

/* Match a datagram to the query it answers; anything else is dropped. */
static void
process_response(core_t *core, const u_char *buf, size_t len)
{
    pt_dns_answer_t ans;
    node_t         *n;
    uint16_t        qtype;
    int             i, rc;

    if (len < PT_DNS_HEADER_LEN) {
        return;
    }
    n = find_query(core, (uint16_t) (buf[0] << 8 | buf[1]));
    if (n == NULL) {
        return;                   /* late, duplicate or forged */
    }

    for (i = 0; i < 2; i++) {
        if (i == 0 ? !n->want_a : !n->want_aaaa) {
            continue;
        }
        qtype = i == 0 ? PT_DNS_TYPE_A : PT_DNS_TYPE_AAAA;
        rc = pt_dns_parse_response(buf, len, n->id, n->wire, n->wlen, qtype,
                                   &ans);
        if (rc == PT_DECLINED) {
            continue;
        }
        if (rc == PT_ERROR) {
            /* the retransmission may fare better; the timeout bounds it */
            pt_log_error(PT_LOG_ERR, core->log, 0, "invalid DNS response "
                         "while resolving %.*s", (int) n->len, n->name);
            return;
        }
        if (ans.truncated && ans.naddrs == 0 && ans.rcode == 0) {
            /* nothing usable fit in a datagram; TCP is not attempted */
            ans.rcode = PT_RESOLVE_SERVFAIL;
        }
        record(n, qtype, &ans);
        if (!n->want_a && !n->want_aaaa) {
            finish(n);
        }
        return;
    }
}

static void
udp_read(pt_event_t *ev)
{
    pt_connection_t *c = ev->data;
    server_t        *s = c->data;
    core_t          *core = s->core;
    u_char           buf[4096];
    ssize_t          n;
    int              i;

    core->reading++;
    /* edge-triggered: read to EAGAIN, or come back for the rest */
    for (i = 0; i < 256; i++) {
        n = recv(c->fd, buf, sizeof(buf), 0);
        if (n == -1) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                break;
            }
            /* e.g. ECONNREFUSED from an ICMP error: reported once */
            pt_log_error(PT_LOG_ERR, core->log, errno,
                         "recv() failed while resolving");
            continue;
        }
        process_response(core, buf, (size_t) n);
    }
    if (i == 256) {
        pt_event_post(ev);
    }
    core->reading--;
    maybe_close(core);
}

/* ------------------------------------------------------------ lookups */

/* Take ctx off its node; a query nobody waits for any more is dropped. */
static void
detach(pt_resolver_ctx_t *ctx)
{
    node_t *n = ctx->node;

    if (!ctx->waiting) {
        return;
    }
    pt_queue_remove(&ctx->queue);
    ctx->waiting = 0;
    ctx->node = NULL;
    pt_timer_del(&ctx->timer);
    if (n->querying && pt_queue_empty(&n->waiting)) {
        free_node(n);
    }
}

static void
ctx_timeout(pt_event_t *ev)
{
    pt_resolver_ctx_t *ctx = ev->data;
    core_t            *core = ctx->resolver->core;

    ev->timedout = 0;
    detach(ctx);
    ctx->state = PT_RESOLVE_TIMEDOUT;
    ctx->addrs = NULL;
    ctx->naddrs = 0;
    ctx->handler(ctx);
    maybe_close(core);
}

static void
ctx_cleanup(void *data)
{
    pt_resolve_name_done(data);
}

pt_resolver_ctx_t *
pt_resolve_start(pt_resolver_t *res, pt_pool_t *pool)
{
    pt_resolver_ctx_t *ctx;
    pt_pool_cleanup_t *cln;

    ctx = pt_pcalloc(pool, sizeof(pt_resolver_ctx_t));
    cln = pt_pool_cleanup_add(pool, 0);
    if (ctx == NULL || cln == NULL) {
        return NULL;
    }
    /* a pool destroyed mid-lookup must not leave ctx among the waiters */
    cln->handler = ctx_cleanup;
    cln->data = ctx;

    ctx->resolver = res;
    ctx->pool = pool;
    ctx->timer.data = ctx;
    ctx->timer.handler = ctx_timeout;
    ctx->timer.log = pt_pool_log(pool);
    pt_queue_init(&ctx->queue);
    return ctx;
}

/* An IPv4 or IPv6 literal (brackets allowed) needs no query. */
static int
literal(pt_resolver_ctx_t *ctx)
{
    struct sockaddr_in  *sin = (struct sockaddr_in *) &ctx->literal.sockaddr;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &ctx->literal.sockaddr;
    char                 buf[INET6_ADDRSTRLEN + 1];
    const u_char        *p = ctx->name.data;
    size_t               len = ctx->name.len;

    if (len >= 2 && p[0] == '[' && p[len - 1] == ']') {
        p++;
        len -= 2;
    }
    if (len == 0 || len >= sizeof(buf) || memchr(p, '\0', len) != NULL) {
        return 0;
    }
    memcpy(buf, p, len);
    buf[len] = '\0';

    memset(&ctx->literal, 0, sizeof(pt_addr_t));
    if (inet_pton(AF_INET, buf, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        ctx->literal.socklen = sizeof(struct sockaddr_in);
    } else if (inet_pton(AF_INET6, buf, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        ctx->literal.socklen = sizeof(struct sockaddr_in6);
    } else {
        return 0;
    }
    ctx->addrs = &ctx->literal;
    ctx->naddrs = 1;
    return 1;
}

/* Answer from the cache: the handler runs now. */
static void
answer_now(pt_resolver_ctx_t *ctx, node_t *n)
{
    pt_queue_remove(&n->lru);
    pt_queue_insert_head(&n->core->lru, &n->lru);
    ctx->state = n->state;
    ctx->addrs = n->addrs;
    ctx->naddrs = n->naddrs;
    n->busy++;
    ctx->handler(ctx);
    n->busy--;
}

int
pt_resolve_name(pt_resolver_ctx_t *ctx)
{
    core_t  *core = ctx->resolver->core;
    u_char   name[NAME_MAX_LEN + 2], wire[PT_DNS_WIRE_MAX];
    ssize_t  wlen;
    size_t   len, i;
    uint32_t hash;
    node_t  *n;

    pt_resolve_name_done(ctx);    /* a context may be used again */
    ctx->done = 0;
    ctx->state = PT_RESOLVE_OK;
    ctx->addrs = NULL;
    ctx->naddrs = 0;

    if (literal(ctx)) {
        ctx->handler(ctx);
        return PT_OK;
    }

    wlen = pt_dns_encode_name(ctx->name.data, ctx->name.len, wire);
    if (wlen == PT_ERROR) {
        ctx->state = PT_RESOLVE_FORMERR;   /* not a name we can ask for */
        ctx->handler(ctx);
        return PT_OK;
    }
    /* the cache key: lowercase, no final dot (as encoded: < 254 bytes) */
    len = (size_t) wlen - 2;
    for (i = 0; i < len; i++) {
        name[i] = pt_tolower(ctx->name.data[i]);
    }
    hash = hash_name(core, name, len);

    expire_some(core);
    n = find_node(core, name, len, hash);
    if (n != NULL && n->answered && !expired(n)) {
        answer_now(ctx, n);
        return PT_OK;
    }
    if (n == NULL) {
        n = create_node(core, name, len, hash, wire, (size_t) wlen);
        if (n == NULL) {
            return PT_ERROR;
        }
    }
    if (!n->querying) {
        if (n->answered) {        /* expired: ask again */
            pt_queue_remove(&n->lru);
            n->answered = 0;
            free(n->addrs);
            n->addrs = NULL;
            n->naddrs = 0;
        }
        start_query(n);
    }

    pt_queue_insert_tail(&n->waiting, &ctx->queue);
    ctx->waiting = 1;
    ctx->node = n;
    pt_timer_add(&ctx->timer, ctx->resolver->timeout);
    return PT_OK;
}

void
pt_resolve_name_done(pt_resolver_ctx_t *ctx)
{
    if (ctx->done) {
        return;
    }
    ctx->done = 1;
    detach(ctx);
    maybe_close(ctx->resolver->core);
}

const char *
pt_resolver_strerror(int state)
{
    static const char *errors[] = {
        "Format error",           /* PT_RESOLVE_FORMERR */
        "Server failure",         /* PT_RESOLVE_SERVFAIL */
        "Host not found",         /* PT_RESOLVE_NXDOMAIN */
        "Unimplemented",          /* PT_RESOLVE_NOTIMP */
        "Operation refused"       /* PT_RESOLVE_REFUSED */
    };

    if (state > 0 && state <= (int) pt_nelems(errors)) {
        return errors[state - 1];
    }
    if (state == PT_RESOLVE_TIMEDOUT) {
        return "Operation timed out";
    }
    return "Unknown error";
}

/* -------------------------------------------------------- construction */

static void
core_cleanup(void *data)
{
    core_t            *core = data;
    pt_resolver_ctx_t *ctx;
    node_t            *n;
    pt_uint_t          i;

    for (i = 0; i < core->nbuckets; i++) {
        while ((n = core->buckets[i]) != NULL) {
            while (!pt_queue_empty(&n->waiting)) {
                ctx = pt_queue_data(pt_queue_head(&n->waiting),
                                    pt_resolver_ctx_t, queue);
                pt_queue_remove(&ctx->queue);
                ctx->waiting = 0;
                ctx->node = NULL;
                pt_timer_del(&ctx->timer);
            }
            free_node(n);
        }
    }
    core->reading = 0;
    maybe_close(core);
}

pt_resolver_t *
pt_resolver_create(pt_pool_t *pool, pt_log_t *log,
                   const pt_resolver_conf_t *conf)
{
    pt_resolver_t     *res;
    pt_pool_cleanup_t *cln;
    core_t            *core;
    pt_uint_t          i;

    res = pt_palloc(pool, sizeof(pt_resolver_t));
    core = pt_pcalloc(pool, sizeof(core_t));
    if (res == NULL || core == NULL || conf->nservers == 0) {
        return NULL;
    }
    core->log = log;
    core->seed = (uint32_t) random_id(log) << 16 | random_id(log);
    core->valid = conf->valid;
    core->ipv4 = conf->ipv4 || !conf->ipv6;
    core->ipv6 = conf->ipv6;
    core->max_entries = conf->max_entries ? conf->max_entries
                                          : DEFAULT_ENTRIES;
    for (core->nbuckets = 16; core->nbuckets < core->max_entries / 2;) {
        core->nbuckets *= 2;
    }
    core->buckets = pt_pcalloc(pool, core->nbuckets * sizeof(node_t *));
    core->servers = pt_pcalloc(pool, conf->nservers * sizeof(server_t));
    cln = pt_pool_cleanup_add(pool, 0);
    if (core->buckets == NULL || core->servers == NULL || cln == NULL) {
        return NULL;
    }
    cln->handler = core_cleanup;
    cln->data = core;

    for (i = 0; i < conf->nservers; i++) {
        core->servers[i].addr = conf->servers[i];
        core->servers[i].core = core;
    }
    core->nservers = conf->nservers;
    pt_queue_init(&core->lru);
    for (i = 0; i < ID_BUCKETS; i++) {
        pt_queue_init(&core->ids[i]);
    }

    res->core = core;
    res->timeout = DEFAULT_TIMEOUT;
    return res;
}

pt_resolver_t *
pt_resolver_with_timeout(pt_pool_t *pool, pt_resolver_t *res,
                         pt_msec_t timeout)
{
    pt_resolver_t *view;

    if (res->timeout == timeout) {
        return res;
    }
    view = pt_palloc(pool, sizeof(pt_resolver_t));
    if (view == NULL) {
        return NULL;
    }
    view->core = res->core;
    view->timeout = timeout;
    return view;
}

pt_uint_t
pt_resolver_cache_size(pt_resolver_t *res)
{
    return res->core->nnodes;
}
