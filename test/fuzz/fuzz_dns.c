/*
 * libFuzzer harness for the resolver's packet layer (worker/dns.c). The
 * input is a DNS response as it would arrive on the resolver's socket.
 *
 * To get past the id and question checks, the expected query is taken
 * from the packet itself: its id, and its question name (when readable),
 * asked as A, as AAAA and as the packet's own qtype; plus a fixed name
 * that must not match. Checks:
 *  - pt_dns_parse_response returns PT_OK, PT_DECLINED or PT_ERROR; on
 *    PT_OK: rcode < 16, naddrs <= PT_DNS_MAX_ADDRS, a TTL is set exactly
 *    when there are addresses, and no TTL has its top bit set;
 *  - a different id or name is always PT_DECLINED (or PT_ERROR for a
 *    packet malformed before the check);
 *  - pt_dns_read_name from every offset of the first 64: the result is
 *    1-255 bytes of well-formed lowercase labels ending in the root, and
 *    the offset moves forward within the packet;
 *  - the input as a dotted name: when pt_dns_encode_name takes it, the
 *    wire form reads back identically, and a query built from it is
 *    declined as a response but, with the QR bit set, parses as an
 *    empty answer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "worker/dns.h"

#define CHECK(cond)                                                           \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "fuzz_dns: invariant: %s\n", #cond);              \
            abort();                                                          \
        }                                                                     \
    } while (0)

static void
check_wire(const u_char *w, ssize_t n)
{
    ssize_t i = 0, k;

    CHECK(n >= 1 && n <= PT_DNS_WIRE_MAX);
    while (w[i] != 0) {
        CHECK(w[i] <= 63);
        for (k = 1; k <= w[i]; k++) {
            CHECK(i + k < n);
            CHECK(!(w[i + k] >= 'A' && w[i + k] <= 'Z'));
        }
        i += w[i] + 1;
        CHECK(i < n);
    }
    CHECK(i == n - 1);
}

static void
check_parse(const u_char *pkt, size_t len, uint16_t id, const u_char *wire,
            size_t wlen, uint16_t qtype)
{
    pt_dns_answer_t ans;
    int             rc;

    rc = pt_dns_parse_response(pkt, len, id, wire, wlen, qtype, &ans);
    CHECK(rc == PT_OK || rc == PT_DECLINED || rc == PT_ERROR);
    if (rc != PT_OK) {
        return;
    }
    CHECK(ans.rcode >= 0 && ans.rcode < 16);
    CHECK(ans.naddrs <= PT_DNS_MAX_ADDRS);
    CHECK((ans.naddrs > 0) == (ans.ttl != PT_DNS_NO_TTL));
    CHECK(ans.naddrs == 0 || ans.rcode == 0);
    CHECK(ans.ttl == PT_DNS_NO_TTL || !(ans.ttl & 0x80000000));
    CHECK(ans.neg_ttl == PT_DNS_NO_TTL || !(ans.neg_ttl & 0x80000000));

    /* another id, or another name, is never this query's answer */
    rc = pt_dns_parse_response(pkt, len, (uint16_t) (id + 1), wire, wlen,
                               qtype, &ans);
    CHECK(rc == PT_DECLINED);
    rc = pt_dns_parse_response(pkt, len, id, (const u_char *) "\3zzz\0", 5,
                               qtype, &ans);
    CHECK(rc == PT_DECLINED || memcmp(wire, "\3zzz", 5) == 0);
}

static void
check_names(const u_char *pkt, size_t len)
{
    u_char  out[PT_DNS_WIRE_MAX];
    size_t  start, off;
    ssize_t n;

    for (start = 0; start < len && start < 64; start++) {
        off = start;
        n = pt_dns_read_name(pkt, len, &off, out);
        if (n == PT_ERROR) {
            continue;
        }
        check_wire(out, n);
        CHECK(off > start && off <= len);
    }
}

static void
check_encode(const u_char *data, size_t size)
{
    u_char  wire[PT_DNS_WIRE_MAX], back[PT_DNS_WIRE_MAX];
    u_char  q[PT_DNS_QUERY_MAX];
    size_t  off = 0, qlen;
    ssize_t n, m;
    pt_dns_answer_t ans;

    n = pt_dns_encode_name(data, size, wire);
    if (n == PT_ERROR) {
        return;
    }
    check_wire(wire, n);
    m = pt_dns_read_name(wire, (size_t) n, &off, back);
    CHECK(m == n && off == (size_t) n && memcmp(wire, back, (size_t) n) == 0);

    qlen = pt_dns_build_query(q, 0x1234, wire, (size_t) n, PT_DNS_TYPE_A);
    CHECK(qlen == PT_DNS_HEADER_LEN + (size_t) n + 4);
    CHECK(pt_dns_parse_response(q, qlen, 0x1234, wire, (size_t) n,
                                PT_DNS_TYPE_A, &ans) == PT_DECLINED);
    q[2] |= 0x80;
    CHECK(pt_dns_parse_response(q, qlen, 0x1234, wire, (size_t) n,
                                PT_DNS_TYPE_A, &ans) == PT_OK);
    CHECK(ans.rcode == 0 && ans.naddrs == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char   wire[PT_DNS_WIRE_MAX];
    u_char  *pkt;
    size_t   off = PT_DNS_HEADER_LEN;
    ssize_t  wlen;
    uint16_t id, qtype;

    /* an exact-size copy: ASan sees any read past the end */
    pkt = malloc(size ? size : 1);
    if (pkt == NULL) {
        return 0;
    }
    memcpy(pkt, data, size);

    check_names(pkt, size);
    check_encode(pkt, size);

    id = size >= 2 ? (uint16_t) (pkt[0] << 8 | pkt[1]) : 0;
    wlen = size > PT_DNS_HEADER_LEN
           ? pt_dns_read_name(pkt, size, &off, wire) : PT_ERROR;
    if (wlen == PT_ERROR) {
        memcpy(wire, "\1a\0", 3);
        wlen = 3;
    }
    qtype = off + 2 <= size ? (uint16_t) (pkt[off] << 8 | pkt[off + 1])
                            : PT_DNS_TYPE_A;

    check_parse(pkt, size, id, wire, (size_t) wlen, PT_DNS_TYPE_A);
    check_parse(pkt, size, id, wire, (size_t) wlen, PT_DNS_TYPE_AAAA);
    check_parse(pkt, size, id, wire, (size_t) wlen, qtype);

    free(pkt);
    return 0;
}
