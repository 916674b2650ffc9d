/*
 * Unit tests for worker/dns (query encoding, response parsing over tables
 * of hand-built and hostile packets) and worker/resolver on the real event
 * loop against a UDP stub the test answers itself. Every wait is bounded.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/pool.h"
#include "common/time.h"
#include "worker/conn.h"
#include "worker/dns.h"
#include "worker/event.h"
#include "worker/resolver.h"
#include "worker/timer.h"

/* ------------------------------------------------- a packet builder */

typedef struct {
    u_char  b[2048];
    size_t  n;
} pkt_t;

static void
p16(pkt_t *p, unsigned v)
{
    p->b[p->n++] = (u_char) (v >> 8);
    p->b[p->n++] = (u_char) v;
}

static void
p32(pkt_t *p, uint32_t v)
{
    p16(p, v >> 16);
    p16(p, v & 0xffff);
}

static void
pbytes(pkt_t *p, const void *d, size_t n)
{
    memcpy(p->b + p->n, d, n);
    p->n += n;
}

/* dotted name, uncompressed */
static void
pname(pkt_t *p, const char *name)
{
    u_char  w[PT_DNS_WIRE_MAX];
    ssize_t n = pt_dns_encode_name((const u_char *) name, strlen(name), w);

    ck_assert_int_gt(n, 0);
    pbytes(p, w, (size_t) n);
}

static void
pptr(pkt_t *p, unsigned off)
{
    p16(p, 0xc000 | off);
}

static void
header(pkt_t *p, unsigned id, unsigned flags, unsigned an, unsigned ns)
{
    p->n = 0;
    p16(p, id);
    p16(p, flags);
    p16(p, 1);
    p16(p, an);
    p16(p, ns);
    p16(p, 0);
}

static void
question(pkt_t *p, const char *name, unsigned qtype)
{
    pname(p, name);
    p16(p, qtype);
    p16(p, PT_DNS_CLASS_IN);
}

/* a record's fixed part; rdata follows */
static void
rr(pkt_t *p, unsigned type, uint32_t ttl, unsigned rdlen)
{
    p16(p, type);
    p16(p, PT_DNS_CLASS_IN);
    p32(p, ttl);
    p16(p, rdlen);
}

static void
rr_a(pkt_t *p, uint32_t ttl, const char *ip)
{
    struct in_addr a;

    ck_assert_int_eq(inet_pton(AF_INET, ip, &a), 1);
    rr(p, PT_DNS_TYPE_A, ttl, 4);
    pbytes(p, &a, 4);
}

#define QR_RD_RA 0x8180

static u_char          wire[PT_DNS_WIRE_MAX];
static size_t          wlen;
static pt_dns_answer_t ans;

static int
parse(pkt_t *p, unsigned id, const char *name, unsigned qtype)
{
    ssize_t n = pt_dns_encode_name((const u_char *) name, strlen(name), wire);

    ck_assert_int_gt(n, 0);
    wlen = (size_t) n;
    return pt_dns_parse_response(p->b, p->n, (uint16_t) id, wire, wlen,
                                 (uint16_t) qtype, &ans);
}

static const char *
addr4(pt_uint_t i)
{
    static char buf[INET_ADDRSTRLEN];

    return inet_ntop(AF_INET, ans.addrs[i], buf, sizeof(buf));
}

/* ---------------------------------------------------- packet tests */

START_TEST(dns_encode_names)
{
    static const struct {
        const char *in;
        ssize_t     len;      /* PT_ERROR or the wire length */
    } t[] = {
        { "example.com", 13 },
        { "Example.COM.", 13 },
        { "a", 3 },
        { "", PT_ERROR },
        { ".", PT_ERROR },
        { "a..b", PT_ERROR },
        { ".a", PT_ERROR },
        { "a b", PT_ERROR },
        { "a\tb", PT_ERROR },
        { "a\x7f", PT_ERROR },
    };
    char    name[300];
    size_t  i;
    ssize_t n;

    for (i = 0; i < pt_nelems(t); i++) {
        n = pt_dns_encode_name((const u_char *) t[i].in, strlen(t[i].in),
                               wire);
        ck_assert_msg(n == t[i].len, "%s: %zd", t[i].in, n);
    }
    n = pt_dns_encode_name((const u_char *) "Example.COM", 11, wire);
    ck_assert_mem_eq(wire, "\7example\3com\0", 13);

    /* a 63-byte label is fine, 64 is not */
    memset(name, 'x', 64);
    ck_assert_int_eq(pt_dns_encode_name((u_char *) name, 63, wire), 65);
    ck_assert_int_eq(pt_dns_encode_name((u_char *) name, 64, wire), PT_ERROR);

    /* 253 characters fit in 255 bytes; 254 do not */
    for (i = 0; i < 253; i++) {
        name[i] = (i % 2) ? '.' : 'a';
    }
    ck_assert_int_eq(pt_dns_encode_name((u_char *) name, 253, wire), 255);
    name[253] = 'b';
    name[252] = 'a';
    ck_assert_int_eq(pt_dns_encode_name((u_char *) name, 254, wire),
                     PT_ERROR);
}
END_TEST

START_TEST(dns_build_query)
{
    u_char  buf[PT_DNS_QUERY_MAX];
    size_t  n;
    pkt_t   p;

    wlen = (size_t) pt_dns_encode_name((const u_char *) "a.b", 3, wire);
    n = pt_dns_build_query(buf, 0xbeef, wire, wlen, PT_DNS_TYPE_AAAA);
    ck_assert_uint_eq(n, 12 + 5 + 4);
    ck_assert_mem_eq(buf, "\xbe\xef\x01\x00\x00\x01\0\0\0\0\0\0"
                          "\1a\1b\0\0\x1c\0\1", n);
    /* our own query is not a response (QR clear) */
    memcpy(p.b, buf, n);
    p.n = n;
    ck_assert_int_eq(parse(&p, 0xbeef, "a.b", PT_DNS_TYPE_AAAA),
                     PT_DECLINED);
}
END_TEST

START_TEST(dns_simple_and_ttl_min)
{
    pkt_t p;

    header(&p, 7, QR_RD_RA, 3, 0);
    question(&p, "Host.Example", PT_DNS_TYPE_A);
    pptr(&p, 12);
    rr_a(&p, 300, "192.0.2.1");
    pname(&p, "host.example");         /* owner uncompressed, any case */
    rr_a(&p, 60, "192.0.2.2");
    pptr(&p, 12);
    rr_a(&p, 0x80000010, "192.0.2.3"); /* top bit: read as 0 */

    ck_assert_int_eq(parse(&p, 7, "host.example", PT_DNS_TYPE_A), PT_OK);
    ck_assert_int_eq(ans.rcode, 0);
    ck_assert_uint_eq(ans.naddrs, 3);
    ck_assert_str_eq(addr4(0), "192.0.2.1");
    ck_assert_str_eq(addr4(2), "192.0.2.3");
    ck_assert_uint_eq(ans.ttl, 0);

    p.b[p.n - 10] = 0;                  /* last TTL now 0x00000010 */
    ck_assert_int_eq(parse(&p, 7, "HOST.example", PT_DNS_TYPE_A), PT_OK);
    ck_assert_uint_eq(ans.ttl, 16);
}
END_TEST

START_TEST(dns_cname_chain)
{
    pkt_t    p;
    unsigned alias;

    /* www.x.test CNAME web.x.test (ttl 50); web.x.test CNAME
     * cdn.y.test (ttl 70); cdn.y.test A (ttl 300), records out of
     * order, targets compressed */
    header(&p, 9, QR_RD_RA, 4, 0);
    question(&p, "www.x.test", PT_DNS_TYPE_A);
    alias = (unsigned) p.n + 12;       /* where "web" is written below */
    pptr(&p, 12);
    rr(&p, PT_DNS_TYPE_CNAME, 50, 6);
    pbytes(&p, "\3web", 4);
    pptr(&p, 16);                       /* ".x.test" of the question */
    pname(&p, "cdn.y.test");
    rr_a(&p, 300, "198.51.100.7");
    pname(&p, "other.test");
    rr_a(&p, 1, "198.51.100.9");        /* not on the chain */
    pptr(&p, alias);
    rr(&p, PT_DNS_TYPE_CNAME, 70, 12);
    pname(&p, "cdn.y.test");

    ck_assert_int_eq(parse(&p, 9, "www.x.test", PT_DNS_TYPE_A), PT_OK);
    ck_assert_uint_eq(ans.naddrs, 1);
    ck_assert_str_eq(addr4(0), "198.51.100.7");
    ck_assert_uint_eq(ans.ttl, 50);
}
END_TEST

START_TEST(dns_cname_loop)
{
    pkt_t p;

    /* a.t -> b.t -> a.t: no address, and the walk ends */
    header(&p, 1, QR_RD_RA, 2, 0);
    question(&p, "a.t", PT_DNS_TYPE_A);
    pname(&p, "a.t");
    rr(&p, PT_DNS_TYPE_CNAME, 5, 5);
    pname(&p, "b.t");
    pname(&p, "b.t");
    rr(&p, PT_DNS_TYPE_CNAME, 5, 5);
    pname(&p, "a.t");
    ck_assert_int_eq(parse(&p, 1, "a.t", PT_DNS_TYPE_A), PT_OK);
    ck_assert_int_eq(ans.rcode, 0);
    ck_assert_uint_eq(ans.naddrs, 0);
}
END_TEST

START_TEST(dns_not_ours)
{
    pkt_t p;

    header(&p, 5, QR_RD_RA, 1, 0);
    question(&p, "a.test", PT_DNS_TYPE_A);
    pptr(&p, 12);
    rr_a(&p, 10, "192.0.2.1");

    ck_assert_int_eq(parse(&p, 6, "a.test", PT_DNS_TYPE_A), PT_DECLINED);
    ck_assert_int_eq(parse(&p, 5, "b.test", PT_DNS_TYPE_A), PT_DECLINED);
    ck_assert_int_eq(parse(&p, 5, "a.test", PT_DNS_TYPE_AAAA), PT_DECLINED);
    ck_assert_int_eq(parse(&p, 5, "a.test", PT_DNS_TYPE_A), PT_OK);
    p.b[2] &= 0x7f;                      /* QR clear: a query */
    ck_assert_int_eq(parse(&p, 5, "a.test", PT_DNS_TYPE_A), PT_DECLINED);
    p.b[2] |= 0x80;
    p.b[5] = 2;                          /* two questions */
    ck_assert_int_eq(parse(&p, 5, "a.test", PT_DNS_TYPE_A), PT_ERROR);
    p.b[5] = 0;
    ck_assert_int_eq(parse(&p, 5, "a.test", PT_DNS_TYPE_A), PT_ERROR);
}
END_TEST

START_TEST(dns_nxdomain_soa)
{
    pkt_t p;

    header(&p, 3, QR_RD_RA | 3, 0, 1);
    question(&p, "nope.test", PT_DNS_TYPE_A);
    pptr(&p, 17);                        /* "test" */
    rr(&p, PT_DNS_TYPE_SOA, 900, 2 + 2 + 20);
    pptr(&p, 17);
    pptr(&p, 17);
    p32(&p, 1);
    p32(&p, 2);
    p32(&p, 3);
    p32(&p, 4);
    p32(&p, 120);                        /* minimum */
    ck_assert_int_eq(parse(&p, 3, "nope.test", PT_DNS_TYPE_A), PT_OK);
    ck_assert_int_eq(ans.rcode, PT_RESOLVE_NXDOMAIN);
    ck_assert_uint_eq(ans.naddrs, 0);
    ck_assert_uint_eq(ans.neg_ttl, 120);

    /* a smaller SOA TTL wins (RFC 2308) */
    p.b[p.n - 24 - 2 - 2] = 0;          /* low half of the TTL: 30 */
    p.b[p.n - 24 - 2 - 1] = 30;
    ck_assert_int_eq(parse(&p, 3, "nope.test", PT_DNS_TYPE_A), PT_OK);
    ck_assert_uint_eq(ans.neg_ttl, 30);

    /* a cut SOA is ignored, the answer stands */
    p.n -= 3;
    ck_assert_int_eq(parse(&p, 3, "nope.test", PT_DNS_TYPE_A), PT_OK);
    ck_assert_uint_eq(ans.neg_ttl, PT_DNS_NO_TTL);
}
END_TEST

START_TEST(dns_truncated)
{
    pkt_t p;

    header(&p, 4, QR_RD_RA | 0x0200, 3, 0);
    question(&p, "t.test", PT_DNS_TYPE_A);
    pptr(&p, 12);
    rr_a(&p, 10, "192.0.2.1");
    pptr(&p, 12);
    rr_a(&p, 10, "192.0.2.2");
    pptr(&p, 12);
    rr_a(&p, 10, "192.0.2.3");
    p.n -= 3;                            /* the last record is cut */

    ck_assert_int_eq(parse(&p, 4, "t.test", PT_DNS_TYPE_A), PT_OK);
    ck_assert(ans.truncated);
    ck_assert_uint_eq(ans.naddrs, 2);

    p.b[2] &= ~0x02;                     /* same bytes, TC clear */
    ck_assert_int_eq(parse(&p, 4, "t.test", PT_DNS_TYPE_A), PT_ERROR);
}
END_TEST

START_TEST(dns_hostile_names)
{
    pkt_t   p;
    u_char  out[PT_DNS_WIRE_MAX];
    size_t  off;
    int     i;

    /* answer owner points at itself */
    header(&p, 2, QR_RD_RA, 1, 0);
    question(&p, "a.test", PT_DNS_TYPE_A);
    pptr(&p, (unsigned) p.n);
    rr_a(&p, 10, "192.0.2.1");
    ck_assert_int_eq(parse(&p, 2, "a.test", PT_DNS_TYPE_A), PT_ERROR);

    /* forward pointer */
    p.b[24] = 0xc0;
    p.b[25] = 0x30;
    ck_assert_int_eq(parse(&p, 2, "a.test", PT_DNS_TYPE_A), PT_ERROR);

    /* two pointers to each other */
    p.n = 0;
    pbytes(&p, "\x01x\xc0\x04\x01y\xc0\x00", 8);
    off = 4;
    ck_assert_int_eq(pt_dns_read_name(p.b, p.n, &off, out), PT_ERROR);

    /* reserved label types, a label past the end, a pointer cut */
    off = 0;
    ck_assert_int_eq(pt_dns_read_name((u_char *) "\x40", 1, &off, out),
                     PT_ERROR);
    off = 0;
    ck_assert_int_eq(pt_dns_read_name((u_char *) "\x05" "ab", 3, &off, out),
                     PT_ERROR);
    off = 0;
    ck_assert_int_eq(pt_dns_read_name((u_char *) "\xc0", 1, &off, out),
                     PT_ERROR);
    off = 0;
    ck_assert_int_eq(pt_dns_read_name((u_char *) "", 0, &off, out),
                     PT_ERROR);

    /* a long chain of backward pointers to 300 bytes of labels: the
     * name would pass 255 bytes */
    p.n = 0;
    for (i = 0; i < 100; i++) {
        pbytes(&p, "\x02zz", 3);
    }
    p.b[p.n++] = 0;
    off = 0;
    ck_assert_int_eq(pt_dns_read_name(p.b, p.n, &off, out), PT_ERROR);

    /* the header alone, and less */
    header(&p, 2, QR_RD_RA, 0, 0);
    ck_assert_int_eq(parse(&p, 2, "a.test", PT_DNS_TYPE_A), PT_ERROR);
    p.n = 11;
    ck_assert_int_eq(parse(&p, 2, "a.test", PT_DNS_TYPE_A), PT_ERROR);
}
END_TEST

START_TEST(dns_many_addresses_capped)
{
    pkt_t p;
    char  ip[32];
    int   i;

    header(&p, 8, QR_RD_RA, 40, 0);
    question(&p, "many.test", PT_DNS_TYPE_A);
    for (i = 0; i < 40; i++) {
        pptr(&p, 12);
        snprintf(ip, sizeof(ip), "10.0.0.%d", i);
        rr_a(&p, 100 - (uint32_t) i, ip);
    }
    ck_assert_int_eq(parse(&p, 8, "many.test", PT_DNS_TYPE_A), PT_OK);
    ck_assert_uint_eq(ans.naddrs, PT_DNS_MAX_ADDRS);
    ck_assert_uint_eq(ans.ttl, 100 - 39);
}
END_TEST

START_TEST(dns_random_bytes)
{
    pkt_t    p;
    unsigned seed = 12345;
    int      i, rc;
    size_t   j, n;

    /* a valid head with random bytes after it, and random cuts */
    for (i = 0; i < 20000; i++) {
        header(&p, 1, QR_RD_RA | (rand_r(&seed) & 0x20f), rand_r(&seed) % 8,
               rand_r(&seed) % 4);
        question(&p, "r.test", PT_DNS_TYPE_A);
        n = (size_t) rand_r(&seed) % 200;
        for (j = 0; j < n; j++) {
            p.b[p.n++] = (u_char) rand_r(&seed);
            if (rand_r(&seed) % 8 == 0) {
                p.b[p.n - 1] = 0xc0;
            }
        }
        p.n -= (size_t) rand_r(&seed) % (p.n + 1) / 4;
        rc = parse(&p, 1, "r.test", PT_DNS_TYPE_A);
        ck_assert(rc == PT_OK || rc == PT_ERROR || rc == PT_DECLINED);
        ck_assert_uint_le(ans.naddrs, PT_DNS_MAX_ADDRS);
    }
}
END_TEST

/* --------------------------------------------- the loop and a stub */

enum { STUB_ANSWER, STUB_DROP, STUB_NXDOMAIN, STUB_SERVFAIL };

typedef struct {
    pt_connection_t    *c;
    struct sockaddr_in  addr;
    int                 mode;
    uint32_t            ttl;
    int                 with_aaaa;
    int                 forge;           /* send spoofs before answers */
    int                 queries_a;
    int                 queries_aaaa;
    char                last[256];       /* last name asked, dotted */
} stub_t;

static pt_log_t           tlog = { .fd = -1, .level = PT_LOG_EMERG };
static pt_pool_t         *pool;
static stub_t             stub, stub2;
static pt_resolver_t     *res;

static int                calls;
static int                last_state;
static pt_uint_t          last_naddrs;
static char               last_addr[INET6_ADDRSTRLEN];
static pt_resolver_ctx_t *cancel_in_handler;

static void
on_resolved(pt_resolver_ctx_t *ctx)
{
    const struct sockaddr *sa;

    calls++;
    last_state = ctx->state;
    last_naddrs = ctx->naddrs;
    last_addr[0] = '\0';
    if (ctx->naddrs > 0) {
        sa = (const struct sockaddr *) &ctx->addrs[0].sockaddr;
        if (sa->sa_family == AF_INET) {
            inet_ntop(AF_INET, &((struct sockaddr_in *) sa)->sin_addr,
                      last_addr, sizeof(last_addr));
        } else {
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *) sa)->sin6_addr,
                      last_addr, sizeof(last_addr));
        }
    }
    if (cancel_in_handler != NULL) {
        pt_resolve_name_done(cancel_in_handler);
    }
    pt_resolve_name_done(ctx);
}

/* What an off-path attacker or a broken server might send first: a
 * wrong id, another question, a runt and a malformed answer. Each has
 * another address, so the test sees if one was taken. */
static void
send_forgeries(stub_t *s, const pkt_t *real, size_t qend,
               struct sockaddr *from, socklen_t flen)
{
    pkt_t f;
    int   i;

    for (i = 0; i < 4; i++) {
        f = *real;
        if (f.b[7] == 1) {
            f.b[f.n - 1] = 66;              /* 192.0.2.66 */
        }
        switch (i) {
        case 0:
            f.b[1] ^= 1;                    /* id */
            break;
        case 1:
            f.b[13] ^= 0x20;                /* question: case is fine */
            f.b[14] ^= 1;                   /* a letter is not */
            break;
        case 2:
            f.n = 5;
            break;
        default:
            if (real->b[7] != 1) {
                continue;                   /* no answer to cut */
            }
            f.n = qend + 4 + 3;             /* answer cut, TC clear */
        }
        ck_assert_int_eq(sendto(s->c->fd, f.b, f.n, 0, from, flen),
                         (ssize_t) f.n);
    }
}

/* Answer one query as the stub's mode says, echoing its question. */
static void
stub_answer(stub_t *s, const u_char *q, size_t n, struct sockaddr *from,
            socklen_t flen)
{
    static const u_char v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
    u_char  name[PT_DNS_WIRE_MAX];
    size_t  off = 12, i, k;
    ssize_t len;
    pkt_t   p;
    int     aaaa;

    len = pt_dns_read_name(q, n, &off, name);
    ck_assert_int_gt(len, 0);
    aaaa = q[off + 1] == PT_DNS_TYPE_AAAA;
    aaaa ? s->queries_aaaa++ : s->queries_a++;
    for (i = 0, k = 0; name[i] != 0; i += name[i] + 1) {
        memcpy(s->last + k, name + i + 1, name[i]);
        k += name[i];
        s->last[k++] = '.';
    }
    s->last[k ? k - 1 : 0] = '\0';

    if (s->mode == STUB_DROP) {
        return;
    }
    memcpy(p.b, q, off + 4);
    p.n = off + 4;
    p.b[2] = 0x81;
    p.b[3] = 0x80 | (s->mode == STUB_NXDOMAIN ? 3
                     : s->mode == STUB_SERVFAIL ? 2 : 0);
    if (s->mode == STUB_ANSWER && (!aaaa || s->with_aaaa)) {
        p.b[7] = 1;
        pptr(&p, 12);
        if (aaaa) {
            rr(&p, PT_DNS_TYPE_AAAA, s->ttl, 16);
            pbytes(&p, v6, 16);
        } else {
            rr_a(&p, s->ttl, "192.0.2.10");
        }
    }
    if (s->forge) {
        send_forgeries(s, &p, off, from, flen);
    }
    ck_assert_int_eq(sendto(s->c->fd, p.b, p.n, 0, from, flen),
                     (ssize_t) p.n);
}

static void
stub_read(pt_event_t *ev)
{
    pt_connection_t    *c = ev->data;
    struct sockaddr_in  from;
    socklen_t           flen;
    u_char              q[512];
    ssize_t             n;

    for (;;) {
        flen = sizeof(from);
        n = recvfrom(c->fd, q, sizeof(q), 0, (struct sockaddr *) &from,
                     &flen);
        if (n < 0) {
            return;
        }
        stub_answer(c->data, q, (size_t) n, (struct sockaddr *) &from, flen);
    }
}

static void
stub_open(stub_t *s)
{
    socklen_t len = sizeof(s->addr);
    int       fd;

    memset(s, 0, sizeof(*s));
    s->ttl = 60;
    fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    ck_assert_int_ge(fd, 0);
    s->addr.sin_family = AF_INET;
    s->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *) &s->addr, len), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *) &s->addr, &len), 0);
    s->c = pt_conn_get(fd, &tlog);
    ck_assert_ptr_nonnull(s->c);
    s->c->data = s;
    s->c->read->handler = stub_read;
    ck_assert_int_eq(pt_event_add_conn(s->c), PT_OK);
}

static pt_resolver_t *
make_resolver(time_t valid, pt_uint_t max_entries, int ipv6, int two)
{
    pt_resolver_conf_t rc;
    pt_addr_t          servers[2];

    memset(&rc, 0, sizeof(rc));
    memset(servers, 0, sizeof(servers));
    memcpy(&servers[0].sockaddr, &stub.addr, sizeof(stub.addr));
    servers[0].socklen = sizeof(stub.addr);
    memcpy(&servers[1].sockaddr, &stub2.addr, sizeof(stub2.addr));
    servers[1].socklen = sizeof(stub2.addr);
    rc.servers = servers;
    rc.nservers = two ? 2 : 1;
    rc.valid = valid;
    rc.max_entries = max_entries;
    rc.ipv4 = 1;
    rc.ipv6 = ipv6;
    return pt_resolver_create(pool, &tlog, &rc);
}

static void
setup(void)
{
    pt_log_use_stderr = 0;
    pt_time_update();
    pt_timer_init();
    ck_assert_int_eq(pt_event_init(&tlog, 64), PT_OK);
    ck_assert_int_eq(pt_conn_table_init(16, &tlog), PT_OK);
    pool = pt_pool_create(4096, &tlog);
    ck_assert_ptr_nonnull(pool);
    stub_open(&stub);
    stub_open(&stub2);
    stub2.ttl = 60;
    res = make_resolver(0, 0, 0, 0);
    ck_assert_ptr_nonnull(res);
    calls = 0;
    last_state = -1;
    cancel_in_handler = NULL;
}

static void
teardown(void)
{
    pt_pool_destroy(pool);          /* the resolver: its sockets first */
    pt_conn_close(stub.c);
    pt_conn_close(stub2.c);
    pt_event_done();
    pt_conn_table_done();
}

static void
run_until(int *counter, int target, pt_msec_t ms)
{
    pt_msec_t end = pt_current_msec + ms;

    while (*counter < target && pt_current_msec < end) {
        ck_assert_int_eq(pt_event_process(pt_min(50, end - pt_current_msec)),
                         PT_OK);
    }
}

static void
run_for(pt_msec_t ms)
{
    pt_msec_t end = pt_current_msec + ms;

    while (pt_current_msec < end) {
        ck_assert_int_eq(pt_event_process(end - pt_current_msec), PT_OK);
    }
}

static pt_resolver_ctx_t *
lookup(pt_resolver_t *r, const char *name)
{
    pt_resolver_ctx_t *ctx = pt_resolve_start(r, pool);

    ck_assert_ptr_nonnull(ctx);
    ctx->name.data = (u_char *) name;
    ctx->name.len = strlen(name);
    ctx->handler = on_resolved;
    ck_assert_int_eq(pt_resolve_name(ctx), PT_OK);
    return ctx;
}

/* the stubs' two slots are the only ones taken: the resolver's socket
 * is closed once nothing is in flight */
static void
assert_sockets_closed(void)
{
    ck_assert_uint_eq(pt_conn_free_n(), pt_conn_total_n() - 2);
}

START_TEST(resolve_answer_then_cache)
{
    lookup(res, "Www.Example.TEST.");
    ck_assert_int_eq(calls, 0);
    run_until(&calls, 1, 5000);
    ck_assert_int_eq(calls, 1);
    ck_assert_int_eq(last_state, PT_RESOLVE_OK);
    ck_assert_uint_eq(last_naddrs, 1);
    ck_assert_str_eq(last_addr, "192.0.2.10");
    ck_assert_str_eq(stub.last, "www.example.test");
    ck_assert_int_eq(stub.queries_a, 1);
    ck_assert_int_eq(stub.queries_aaaa, 0);
    assert_sockets_closed();

    /* cached, whatever the case: answered before pt_resolve_name returns */
    lookup(res, "www.example.test");
    ck_assert_int_eq(calls, 2);
    ck_assert_str_eq(last_addr, "192.0.2.10");
    ck_assert_int_eq(stub.queries_a, 1);
    ck_assert_uint_eq(pt_resolver_cache_size(res), 1);
}
END_TEST

START_TEST(resolve_a_and_aaaa_merged)
{
    res = make_resolver(0, 0, 1, 0);
    stub.with_aaaa = 1;
    lookup(res, "dual.test");
    run_until(&calls, 1, 5000);
    ck_assert_int_eq(calls, 1);
    ck_assert_int_eq(last_state, PT_RESOLVE_OK);
    ck_assert_uint_eq(last_naddrs, 2);
    ck_assert_int_eq(stub.queries_a, 1);
    ck_assert_int_eq(stub.queries_aaaa, 1);

    /* no AAAA data: the A answer alone */
    stub.with_aaaa = 0;
    lookup(res, "v4only.test");
    run_until(&calls, 2, 5000);
    ck_assert_int_eq(last_state, PT_RESOLVE_OK);
    ck_assert_uint_eq(last_naddrs, 1);
}
END_TEST

START_TEST(resolve_nxdomain_cached)
{
    stub.mode = STUB_NXDOMAIN;
    lookup(res, "missing.test");
    run_until(&calls, 1, 5000);
    ck_assert_int_eq(last_state, PT_RESOLVE_NXDOMAIN);
    ck_assert_uint_eq(last_naddrs, 0);
    ck_assert_str_eq(pt_resolver_strerror(last_state), "Host not found");

    lookup(res, "missing.test");
    ck_assert_int_eq(calls, 2);
    ck_assert_int_eq(last_state, PT_RESOLVE_NXDOMAIN);
    ck_assert_int_eq(stub.queries_a, 1);

    stub.mode = STUB_SERVFAIL;
    lookup(res, "broken.test");
    run_until(&calls, 3, 5000);
    ck_assert_int_eq(last_state, PT_RESOLVE_SERVFAIL);
}
END_TEST

START_TEST(resolve_timeout_retransmits)
{
    pt_resolver_t *r = pt_resolver_with_timeout(pool, res, 2500);
    pt_msec_t      start = pt_current_msec;

    stub.mode = STUB_DROP;
    lookup(r, "slow.test");
    run_until(&calls, 1, 10000);
    ck_assert_int_eq(calls, 1);
    ck_assert_int_eq(last_state, PT_RESOLVE_TIMEDOUT);
    ck_assert_str_eq(pt_resolver_strerror(last_state),
                     "Operation timed out");
    ck_assert_int_ge(pt_current_msec - start, 2500);
    /* sent at 0, then every second */
    ck_assert_int_ge(stub.queries_a, 3);
    ck_assert_int_le(stub.queries_a, 4);
    /* nobody waits: the query is gone, not cached, sockets closed */
    ck_assert_uint_eq(pt_resolver_cache_size(res), 0);
    assert_sockets_closed();
}
END_TEST

START_TEST(resolve_retransmit_round_robin)
{
    pt_resolver_t *r;

    res = make_resolver(0, 0, 0, 1);
    r = pt_resolver_with_timeout(pool, res, 1500);
    stub.mode = STUB_DROP;
    stub2.mode = STUB_DROP;
    lookup(r, "rr.test");
    run_until(&calls, 1, 10000);
    ck_assert_int_eq(last_state, PT_RESOLVE_TIMEDOUT);
    ck_assert_int_eq(stub.queries_a, 1);
    ck_assert_int_eq(stub2.queries_a, 1);
}
END_TEST

START_TEST(resolve_shared_query)
{
    lookup(res, "shared.test");
    lookup(res, "SHARED.test");
    lookup(res, "shared.test.");
    ck_assert_int_eq(calls, 0);
    run_until(&calls, 3, 5000);
    ck_assert_int_eq(calls, 3);
    ck_assert_int_eq(stub.queries_a, 1);
    ck_assert_uint_eq(pt_resolver_cache_size(res), 1);
}
END_TEST

START_TEST(resolve_cancel)
{
    pt_resolver_ctx_t *a, *b;

    stub.mode = STUB_DROP;
    a = lookup(res, "gone.test");
    b = lookup(res, "gone.test");
    pt_resolve_name_done(a);
    ck_assert_uint_eq(pt_resolver_cache_size(res), 1);   /* b waits */
    pt_resolve_name_done(b);
    pt_resolve_name_done(b);                              /* idempotent */
    ck_assert_uint_eq(pt_resolver_cache_size(res), 0);
    assert_sockets_closed();
    run_for(1500);
    ck_assert_int_eq(calls, 0);

    /* a handler that cancels another waiter of the same answer */
    stub.mode = STUB_ANSWER;
    a = lookup(res, "pair.test");
    b = lookup(res, "pair.test");
    cancel_in_handler = b;
    run_until(&calls, 1, 5000);
    run_for(100);
    ck_assert_int_eq(calls, 1);

    /* a pool destroyed mid-lookup cancels it */
    {
        pt_pool_t         *p = pt_pool_create(1024, &tlog);
        pt_resolver_ctx_t *c = pt_resolve_start(res, p);

        cancel_in_handler = NULL;
        stub.mode = STUB_DROP;
        c->name.data = (u_char *) "pooled.test";
        c->name.len = 11;
        c->handler = on_resolved;
        ck_assert_int_eq(pt_resolve_name(c), PT_OK);
        pt_pool_destroy(p);
        run_for(200);
        ck_assert_int_eq(calls, 1);
        assert_sockets_closed();
    }
}
END_TEST

START_TEST(resolve_literals)
{
    lookup(res, "192.0.2.55");
    ck_assert_int_eq(calls, 1);
    ck_assert_int_eq(last_state, PT_RESOLVE_OK);
    ck_assert_str_eq(last_addr, "192.0.2.55");
    lookup(res, "[2001:db8::5]");
    ck_assert_int_eq(calls, 2);
    ck_assert_str_eq(last_addr, "2001:db8::5");
    lookup(res, "::1");
    ck_assert_str_eq(last_addr, "::1");
    ck_assert_int_eq(stub.queries_a, 0);
    ck_assert_uint_eq(pt_resolver_cache_size(res), 0);

    /* not a name at all: an error, no query */
    lookup(res, "bad..name");
    ck_assert_int_eq(calls, 4);
    ck_assert_int_eq(last_state, PT_RESOLVE_FORMERR);
    ck_assert_int_eq(stub.queries_a, 0);
}
END_TEST

START_TEST(resolve_ttl_expiry)
{
    stub.ttl = 2;
    lookup(res, "short.test");
    run_until(&calls, 1, 5000);
    ck_assert_int_eq(stub.queries_a, 1);

    pt_current_msec += 1000;             /* still within the TTL */
    lookup(res, "short.test");
    ck_assert_int_eq(calls, 2);
    ck_assert_int_eq(stub.queries_a, 1);

    pt_current_msec += 1500;             /* past it: asked again */
    lookup(res, "short.test");
    ck_assert_int_eq(calls, 2);
    run_until(&calls, 3, 5000);
    ck_assert_int_eq(calls, 3);
    ck_assert_int_eq(stub.queries_a, 2);
    ck_assert_uint_eq(pt_resolver_cache_size(res), 1);
}
END_TEST

START_TEST(resolve_expired_freed)
{
    stub.ttl = 1;
    lookup(res, "old1.test");
    lookup(res, "old2.test");
    run_until(&calls, 2, 5000);
    ck_assert_uint_eq(pt_resolver_cache_size(res), 2);

    /* the next lookup of anything frees them */
    pt_current_msec += 1500;
    lookup(res, "new.test");
    ck_assert_uint_eq(pt_resolver_cache_size(res), 1);
    run_until(&calls, 3, 5000);
    ck_assert_int_eq(last_state, PT_RESOLVE_OK);
}
END_TEST

START_TEST(resolve_valid_overrides_ttl)
{
    res = make_resolver(30, 0, 0, 0);
    stub.ttl = 1;
    lookup(res, "valid.test");
    run_until(&calls, 1, 5000);
    pt_current_msec += 20000;
    lookup(res, "valid.test");
    ck_assert_int_eq(calls, 2);
    ck_assert_int_eq(stub.queries_a, 1);
    pt_current_msec += 11000;
    lookup(res, "valid.test");
    ck_assert_int_eq(calls, 2);
    run_until(&calls, 3, 5000);
    ck_assert_int_eq(stub.queries_a, 2);
}
END_TEST

START_TEST(resolve_lru_bounded)
{
    char name[32];
    int  i;

    res = make_resolver(0, 4, 0, 0);
    for (i = 0; i < 6; i++) {
        snprintf(name, sizeof(name), "n%d.test", i);
        lookup(res, name);
        run_until(&calls, i + 1, 5000);
        ck_assert_uint_le(pt_resolver_cache_size(res), 4);
    }
    ck_assert_int_eq(stub.queries_a, 6);
    /* n0 and n1 were evicted (least recently used), n5 is there */
    lookup(res, "n5.test");
    ck_assert_int_eq(calls, 7);
    lookup(res, "n0.test");
    ck_assert_int_eq(calls, 7);
    run_until(&calls, 8, 5000);
    ck_assert_int_eq(stub.queries_a, 7);
}
END_TEST

START_TEST(resolve_cache_full_of_queries)
{
    res = make_resolver(0, 2, 0, 0);
    stub.mode = STUB_DROP;
    lookup(res, "q1.test");
    lookup(res, "q2.test");
    {
        pt_resolver_ctx_t *ctx = pt_resolve_start(res, pool);

        ctx->name.data = (u_char *) "q3.test";
        ctx->name.len = 7;
        ctx->handler = on_resolved;
        ck_assert_int_eq(pt_resolve_name(ctx), PT_ERROR);
    }
    ck_assert_int_eq(calls, 0);
}
END_TEST

START_TEST(resolve_ignores_forgeries)
{
    stub.forge = 1;
    lookup(res, "forged.test");
    run_until(&calls, 1, 5000);
    ck_assert_int_eq(calls, 1);
    ck_assert_int_eq(last_state, PT_RESOLVE_OK);
    ck_assert_str_eq(last_addr, "192.0.2.10");

    stub.mode = STUB_NXDOMAIN;
    lookup(res, "forged-nx.test");
    run_until(&calls, 2, 5000);
    ck_assert_int_eq(last_state, PT_RESOLVE_NXDOMAIN);
}
END_TEST

Suite *
pt_test_suite(void)
{
    Suite *s = suite_create("resolver");
    TCase *tc = tcase_create("dns");
    TCase *loop = tcase_create("loop");

    tcase_add_test(tc, dns_encode_names);
    tcase_add_test(tc, dns_build_query);
    tcase_add_test(tc, dns_simple_and_ttl_min);
    tcase_add_test(tc, dns_cname_chain);
    tcase_add_test(tc, dns_cname_loop);
    tcase_add_test(tc, dns_not_ours);
    tcase_add_test(tc, dns_nxdomain_soa);
    tcase_add_test(tc, dns_truncated);
    tcase_add_test(tc, dns_hostile_names);
    tcase_add_test(tc, dns_many_addresses_capped);
    tcase_add_test(tc, dns_random_bytes);
    suite_add_tcase(s, tc);

    tcase_add_checked_fixture(loop, setup, teardown);
    tcase_set_timeout(loop, 30);
    tcase_add_test(loop, resolve_answer_then_cache);
    tcase_add_test(loop, resolve_a_and_aaaa_merged);
    tcase_add_test(loop, resolve_nxdomain_cached);
    tcase_add_test(loop, resolve_timeout_retransmits);
    tcase_add_test(loop, resolve_retransmit_round_robin);
    tcase_add_test(loop, resolve_shared_query);
    tcase_add_test(loop, resolve_cancel);
    tcase_add_test(loop, resolve_literals);
    tcase_add_test(loop, resolve_ignores_forgeries);
    tcase_add_test(loop, resolve_ttl_expiry);
    tcase_add_test(loop, resolve_expired_freed);
    tcase_add_test(loop, resolve_valid_overrides_ttl);
    tcase_add_test(loop, resolve_lru_bounded);
    tcase_add_test(loop, resolve_cache_full_of_queries);
    suite_add_tcase(s, loop);
    return s;
}
