/*
 * libFuzzer harness for the PROXY protocol parser: the input is parsed in
 * an exact-size copy; results must be final (bytes after a header, or
 * after a refusal, change nothing), prefixes of a header must ask for
 * more, and an accepted header must print and parse back (v1 and v2) to
 * the same addresses.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "worker/proxy_protocol.h"

static void
fail(const char *what, int a, int b)
{
    fprintf(stderr, "fuzz_proxy_protocol: %s (%d, %d)\n", what, a, b);
    abort();
}

/* Parse n bytes of data in a buffer of exactly n bytes. */
static int
parse(const u_char *data, size_t n, pt_proxy_protocol_t *pp)
{
    u_char *copy = malloc(n ? n : 1);
    int     rc;

    if (copy == NULL) {
        abort();
    }
    memcpy(copy, data, n);
    rc = pt_proxy_protocol_parse(copy, n, pp);
    free(copy);
    return rc;
}

static void
same(const pt_proxy_protocol_t *a, const pt_proxy_protocol_t *b,
     const char *what)
{
    size_t alen = a->family == AF_INET ? 4 : 16;

    if (a->len != b->len || a->version != b->version
        || a->family != b->family || a->error != b->error)
    {
        fail(what, (int) a->len, (int) b->len);
    }
    if (a->family != AF_UNSPEC
        && (memcmp(a->src, b->src, alen) != 0
            || memcmp(a->dst, b->dst, alen) != 0
            || a->src_port != b->src_port || a->dst_port != b->dst_port))
    {
        fail(what, a->family, b->family);
    }
}

static void
check_ok(const pt_proxy_protocol_t *pp, const u_char *data, size_t n)
{
    char   text[64];
    size_t len;

    if (pp->len == 0 || pp->len > n) {
        fail("length out of bounds", (int) pp->len, (int) n);
    }
    if (pp->version == 1 && (pp->len > PT_PROXY_PROTOCOL_V1_MAX_HEADER
                             || data[pp->len - 1] != '\n'))
    {
        fail("v1 header too long or not a line", (int) pp->len, 0);
    }
    if (pp->version == 2 && (pp->len > PT_PROXY_PROTOCOL_MAX_HEADER
                             || pp->len < PT_PROXY_PROTOCOL_V2_HEADER_LEN))
    {
        fail("v2 header length", (int) pp->len, 0);
    }
    if (pp->family != AF_UNSPEC && pp->family != AF_INET
        && pp->family != AF_INET6)
    {
        fail("family", pp->family, 0);
    }
    len = pt_proxy_protocol_addr_text(pp, pp->src, text, sizeof(text));
    if ((len == 0) != (pp->family == AF_UNSPEC)
        || (len > 0 && len != strlen(text)))
    {
        fail("address text", (int) len, pp->family);
    }
}

/* Print the addresses as v1 and as v2 and parse them back. */
static void
round_trip(const pt_proxy_protocol_t *pp)
{
    pt_proxy_protocol_t back;
    char                src[64], dst[64], line[256];
    u_char              v2[64];
    size_t              alen = pp->family == AF_INET ? 4 : 16, n;
    int                 len;

    if (pp->family == AF_UNSPEC) {
        return;
    }
    pt_proxy_protocol_addr_text(pp, pp->src, src, sizeof(src));
    pt_proxy_protocol_addr_text(pp, pp->dst, dst, sizeof(dst));
    len = snprintf(line, sizeof(line), "PROXY TCP%c %s %s %u %u\r\n",
                   pp->family == AF_INET ? '4' : '6', src, dst, pp->src_port,
                   pp->dst_port);
    if (parse((u_char *) line, (size_t) len, &back) != PT_OK
        || back.family != pp->family
        || memcmp(back.src, pp->src, alen) != 0
        || memcmp(back.dst, pp->dst, alen) != 0
        || back.src_port != pp->src_port || back.dst_port != pp->dst_port)
    {
        fail("v1 round trip", len, back.error);
    }

    memcpy(v2, "\r\n\r\n\0\r\nQUIT\n", 12);
    v2[12] = 0x21;
    v2[13] = pp->family == AF_INET ? 0x11 : 0x21;
    n = 2 * alen + 4;
    v2[14] = 0;
    v2[15] = (u_char) n;
    memcpy(v2 + 16, pp->src, alen);
    memcpy(v2 + 16 + alen, pp->dst, alen);
    v2[16 + 2 * alen] = (u_char) (pp->src_port >> 8);
    v2[17 + 2 * alen] = (u_char) pp->src_port;
    v2[18 + 2 * alen] = (u_char) (pp->dst_port >> 8);
    v2[19 + 2 * alen] = (u_char) pp->dst_port;
    if (parse(v2, 16 + n, &back) != PT_OK || back.len != 16 + n) {
        fail("v2 round trip", (int) n, back.error);
    }
    back.len = pp->len;
    back.version = pp->version;
    same(pp, &back, "v2 round trip differs");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pt_proxy_protocol_t pp, again;
    u_char             *longer;
    size_t              k;
    int                 rc, rc2;

    rc = parse(data, size, &pp);
    if (rc != PT_OK && rc != PT_AGAIN && rc != PT_ERROR) {
        fail("return code", rc, 0);
    }

    /* one more byte: a result is final, AGAIN may become anything */
    longer = malloc(size + 1);
    if (longer == NULL) {
        abort();
    }
    memcpy(longer, data, size);
    longer[size] = size > 0 ? (u_char) ~data[size - 1] : 'P';
    rc2 = parse(longer, size + 1, &again);
    free(longer);
    if (rc != PT_AGAIN) {
        if (rc2 != rc) {
            fail("result not final", rc, rc2);
        }
        same(&pp, &again, "extra byte changed the result");
    }

    if (rc == PT_ERROR && (pp.error < PT_PROXY_PROTOCOL_BROKEN
                           || pp.error > PT_PROXY_PROTOCOL_TLV))
    {
        fail("error code", pp.error, 0);
    }
    if (rc != PT_OK) {
        return 0;
    }
    check_ok(&pp, data, size);

    /* the header alone parses the same; its prefixes ask for more */
    rc2 = parse(data, pp.len, &again);
    if (rc2 != PT_OK) {
        fail("header alone", rc2, again.error);
    }
    same(&pp, &again, "header alone differs");
    for (k = 0; k < pp.len; k += k < 128 ? 1 : 97) {
        rc2 = parse(data, k, &again);
        if (rc2 != PT_AGAIN) {
            fail("prefix of a header", (int) k, rc2);
        }
    }
    round_trip(&pp);
    return 0;
}
