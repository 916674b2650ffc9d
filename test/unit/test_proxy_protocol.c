/*
 * Unit tests for worker/proxy_protocol: a table of v1 and v2 headers
 * (valid TCP4/TCP6/UNKNOWN/LOCAL/UNIX/UNSPEC, too long, bad signatures,
 * ports, addresses, versions, TLVs), each also split at every byte and
 * followed by request bytes.
 */
#include <arpa/inet.h>
#include <check.h>
#include <string.h>
#include <sys/socket.h>

#include "common/pt_types.h"
#include "worker/proxy_protocol.h"

#define SIG "\r\n\r\n\0\r\nQUIT\n"
#define REQ "GET / HTTP/1.1\r\nHost: x\r\n\r\n"

typedef struct {
    const char *name;
    const char *bytes;
    size_t      len;
    int         rc;          /* of the whole input */
    int         family;
    const char *src, *dst;   /* text, NULL for none */
    unsigned    sport, dport;
    int         error;       /* when rc is PT_ERROR */
} pp_case_t;

#define S(lit) lit, sizeof(lit) - 1

/* v2 blocks: 4-byte and 16-byte address pairs, then ports 111 and 222 */
#define A4 "\x01\x02\x03\x04\x05\x06\x07\x08\x00\x6f\x00\xde"
#define A6 "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01" \
           "\0\0\0\0\0\0\0\0\0\0\xff\xff\x01\x02\x03\x04" "\x00\x6f\x00\xde"

static const pp_case_t cases[] = {
    /* v1 */
    { "v1 tcp4", S("PROXY TCP4 1.2.3.4 5.6.7.8 111 222\r\n"), PT_OK,
      AF_INET, "1.2.3.4", "5.6.7.8", 111, 222, 0 },
    { "v1 tcp6", S("PROXY TCP6 2001:DB8::1 ::ffff:1.2.3.4 1 65535\r\n"),
      PT_OK, AF_INET6, "2001:db8::1", "::ffff:1.2.3.4", 1, 65535, 0 },
    { "v1 port 0", S("PROXY TCP4 1.2.3.4 5.6.7.8 0 00222\r\n"), PT_OK,
      AF_INET, "1.2.3.4", "5.6.7.8", 0, 222, 0 },
    { "v1 unknown", S("PROXY UNKNOWN\r\n"), PT_OK, AF_UNSPEC, NULL, NULL,
      0, 0, 0 },
    { "v1 unknown rest", S("PROXY UNKNOWN ffff:f::1 ::1 1 2\r\n"), PT_OK,
      AF_UNSPEC, NULL, NULL, 0, 0, 0 },
    { "v1 longest", S("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
                      "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 "
                      "65535\r\n"),
      PT_OK, AF_INET6, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
      "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535, 65535, 0 },
    { "v1 too long", S("PROXY UNKNOWN xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                       "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                       "xxxxxxxx\r\n"),
      PT_ERROR, 0, NULL, NULL, 0, 0, PT_PROXY_PROTOCOL_BROKEN },
    { "v1 no crlf", S("PROXY TCP4 1.2.3.4 5.6.7.8 111 222"), PT_AGAIN, 0,
      NULL, NULL, 0, 0, 0 },
    { "v1 lf only", S("PROXY TCP4 1.2.3.4 5.6.7.8 111 222\n"), PT_ERROR, 0,
      NULL, NULL, 0, 0, PT_PROXY_PROTOCOL_BROKEN },
    { "v1 port 65536", S("PROXY TCP4 1.2.3.4 5.6.7.8 65536 222\r\n"),
      PT_ERROR, 0, NULL, NULL, 0, 0, PT_PROXY_PROTOCOL_BROKEN },
    { "v1 port 6 digits", S("PROXY TCP4 1.2.3.4 5.6.7.8 000111 222\r\n"),
      PT_ERROR, 0, NULL, NULL, 0, 0, PT_PROXY_PROTOCOL_BROKEN },
    { "v1 port empty", S("PROXY TCP4 1.2.3.4 5.6.7.8  222\r\n"),
      PT_ERROR, 0, NULL, NULL, 0, 0, PT_PROXY_PROTOCOL_BROKEN },
    { "v1 port sign", S("PROXY TCP4 1.2.3.4 5.6.7.8 -1 222\r\n"),
      PT_ERROR, 0, NULL, NULL, 0, 0, PT_PROXY_PROTOCOL_BROKEN },
    { "v1 bad addr", S("PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n"), PT_ERROR, 0,
      NULL, NULL, 0, 0, PT_PROXY_PROTOCOL_BROKEN },
    { "v1 v6 in tcp4", S("PROXY TCP4 ::1 5.6.7.8 1 2\r\n"), PT_ERROR, 0,
      NULL, NULL, 0, 0, PT_PROXY_PROTOCOL_BROKEN },
    { "v1 v4 in tcp6", S("PROXY TCP6 1.2.3.4 ::1 1 2\r\n"), PT_ERROR, 0,
      NULL, NULL, 0, 0, PT_PROXY_PROTOCOL_BROKEN },
    { "v1 double space", S("PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n"), PT_ERROR,
      0, NULL, NULL, 0, 0, PT_PROXY_PROTOCOL_BROKEN },
    { "v1 tcp5", S("PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n"), PT_ERROR, 0, NULL,
      NULL, 0, 0, PT_PROXY_PROTOCOL_BROKEN },
    { "v1 extra field", S("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n"), PT_ERROR,
      0, NULL, NULL, 0, 0, PT_PROXY_PROTOCOL_BROKEN },
    { "v1 lower case", S("proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n"), PT_ERROR, 0,
      NULL, NULL, 0, 0, PT_PROXY_PROTOCOL_BROKEN },
    { "v1 unknownx", S("PROXY UNKNOWNX\r\n"), PT_ERROR, 0, NULL, NULL, 0, 0,
      PT_PROXY_PROTOCOL_BROKEN },
    { "http request", S("GET / HTTP/1.1\r\n"), PT_ERROR, 0, NULL, NULL, 0,
      0, PT_PROXY_PROTOCOL_BROKEN },
    { "bad signature P", S("PROXX TCP4"), PT_ERROR, 0, NULL, NULL, 0, 0,
      PT_PROXY_PROTOCOL_BROKEN },

    /* v2 */
    { "v2 inet", S(SIG "\x21\x11\x00\x0c" A4), PT_OK, AF_INET, "1.2.3.4",
      "5.6.7.8", 111, 222, 0 },
    { "v2 inet tlvs", S(SIG "\x21\x11\x00\x16" A4 "\x01\x00\x02" "ab"
                        "\x04\x00\x02xy"),
      PT_OK, AF_INET, "1.2.3.4", "5.6.7.8", 111, 222, 0 },
    { "v2 inet empty tlv", S(SIG "\x21\x11\x00\x0f" A4 "\x03\x00\x00"),
      PT_OK, AF_INET, "1.2.3.4", "5.6.7.8", 111, 222, 0 },
    { "v2 inet6", S(SIG "\x21\x21\x00\x24" A6), PT_OK, AF_INET6,
      "2001:db8::1", "::ffff:1.2.3.4", 111, 222, 0 },
    { "v2 local", S(SIG "\x20\x11\x00\x0c" A4), PT_OK, AF_UNSPEC, NULL,
      NULL, 0, 0, 0 },
    { "v2 local empty", S(SIG "\x20\x00\x00\x00"), PT_OK, AF_UNSPEC, NULL,
      NULL, 0, 0, 0 },
    { "v2 local short", S(SIG "\x20\x11\x00\x02xx"), PT_OK, AF_UNSPEC, NULL,
      NULL, 0, 0, 0 },
    { "v2 unspec", S(SIG "\x21\x00\x00\x00"), PT_OK, AF_UNSPEC, NULL, NULL,
      0, 0, 0 },
    { "v2 dgram", S(SIG "\x21\x12\x00\x0c" A4), PT_OK, AF_UNSPEC, NULL,
      NULL, 0, 0, 0 },
    { "v2 short inet", S(SIG "\x21\x11\x00\x08" "\x01\x02\x03\x04\x05\x06"
                         "\x07\x08"),
      PT_ERROR, 0, NULL, NULL, 0, 0, PT_PROXY_PROTOCOL_SHORT },
    { "v2 short inet6", S(SIG "\x21\x21\x00\x0c" A4), PT_ERROR, 0, NULL,
      NULL, 0, 0, PT_PROXY_PROTOCOL_SHORT },
    { "v2 truncated tlv", S(SIG "\x21\x11\x00\x11" A4 "\x01\x00\x09" "ab"),
      PT_ERROR, 0, NULL, NULL, 0, 0, PT_PROXY_PROTOCOL_TLV },
    { "v2 tlv header cut", S(SIG "\x21\x11\x00\x0e" A4 "\x01\x00"),
      PT_ERROR, 0, NULL, NULL, 0, 0, PT_PROXY_PROTOCOL_TLV },
    { "v2 version 1", S(SIG "\x11\x11\x00\x0c" A4), PT_ERROR, 0, NULL, NULL,
      0, 0, PT_PROXY_PROTOCOL_VERSION },
    { "v2 version 3", S(SIG "\x31\x11\x00\x0c" A4), PT_ERROR, 0, NULL, NULL,
      0, 0, PT_PROXY_PROTOCOL_VERSION },
    { "v2 command 2", S(SIG "\x22\x11\x00\x0c" A4), PT_ERROR, 0, NULL, NULL,
      0, 0, PT_PROXY_PROTOCOL_COMMAND },
    { "v2 family 4", S(SIG "\x21\x41\x00\x0c" A4), PT_ERROR, 0, NULL, NULL,
      0, 0, PT_PROXY_PROTOCOL_FAMILY },
    { "v2 transport 3", S(SIG "\x21\x13\x00\x0c" A4), PT_ERROR, 0, NULL,
      NULL, 0, 0, PT_PROXY_PROTOCOL_TRANSPORT },
    { "v2 too large", S(SIG "\x21\x11\x10\x00"), PT_ERROR, 0, NULL, NULL, 0,
      0, PT_PROXY_PROTOCOL_TOO_LARGE },
    { "v2 length max", S(SIG "\x21\x11\xff\xff"), PT_ERROR, 0, NULL, NULL,
      0, 0, PT_PROXY_PROTOCOL_TOO_LARGE },
    { "v2 bad signature", S("\r\n\r\n\0\r\nQUIX\n\x21\x11\x00\x0c" A4),
      PT_ERROR, 0, NULL, NULL, 0, 0, PT_PROXY_PROTOCOL_BROKEN },
    { "v2 signature cut", S("\r\n\r\n"), PT_AGAIN, 0, NULL, NULL, 0, 0, 0 },
    { "tls hello", S("\x16\x03\x01\x02\x00\x01"), PT_ERROR, 0, NULL, NULL, 0,
      0, PT_PROXY_PROTOCOL_BROKEN },
};

static void
check_result(const pp_case_t *tc, int rc, const pt_proxy_protocol_t *pp,
             size_t header_len)
{
    char text[64];

    ck_assert_msg(rc == tc->rc, "%s: rc %d, want %d", tc->name, rc, tc->rc);
    if (rc == PT_ERROR) {
        ck_assert_msg(pp->error == tc->error, "%s: error %d, want %d",
                      tc->name, pp->error, tc->error);
        return;
    }
    if (rc != PT_OK) {
        return;
    }
    ck_assert_msg(pp->len == header_len, "%s: len %zu, want %zu", tc->name,
                  pp->len, header_len);
    ck_assert_int_eq(pp->family, tc->family);
    if (tc->src == NULL) {
        ck_assert_uint_eq(pt_proxy_protocol_addr_text(pp, pp->src, text,
                                                      sizeof(text)), 0);
        return;
    }
    ck_assert_uint_gt(pt_proxy_protocol_addr_text(pp, pp->src, text,
                                                  sizeof(text)), 0);
    ck_assert_str_eq(text, tc->src);
    ck_assert_uint_gt(pt_proxy_protocol_addr_text(pp, pp->dst, text,
                                                  sizeof(text)), 0);
    ck_assert_str_eq(text, tc->dst);
    ck_assert_uint_eq(pp->src_port, tc->sport);
    ck_assert_uint_eq(pp->dst_port, tc->dport);
}

/* Each input in an exact-size copy, so reads past the end are caught
 * under ASan. */
static int
parse_copy(const char *bytes, size_t len, pt_proxy_protocol_t *pp)
{
    u_char buf[8192];

    ck_assert_uint_le(len, sizeof(buf));
    memcpy(buf, bytes, len);
    return pt_proxy_protocol_parse(buf, len, pp);
}

START_TEST(table)
{
    const pp_case_t     *tc = &cases[_i];
    pt_proxy_protocol_t  pp;

    check_result(tc, parse_copy(tc->bytes, tc->len, &pp), &pp, tc->len);
}
END_TEST

/* The request that follows in the same read is not part of the header. */
START_TEST(followed_by_request)
{
    const pp_case_t     *tc = &cases[_i];
    pt_proxy_protocol_t  pp;
    char                 buf[8192];
    int                  rc;

    if (tc->rc != PT_OK) {
        return;
    }
    memcpy(buf, tc->bytes, tc->len);
    memcpy(buf + tc->len, REQ, sizeof(REQ) - 1);
    rc = parse_copy(buf, tc->len + sizeof(REQ) - 1, &pp);
    check_result(tc, rc, &pp, tc->len);
}
END_TEST

/* Any proper prefix of a valid header asks for more; of an invalid one,
 * it asks for more or fails the same way, never succeeds. */
START_TEST(split_at_every_byte)
{
    const pp_case_t     *tc = &cases[_i];
    pt_proxy_protocol_t  pp;
    size_t               k;
    int                  rc;

    for (k = 0; k < tc->len; k++) {
        rc = parse_copy(tc->bytes, k, &pp);
        if (tc->rc != PT_ERROR) {
            ck_assert_msg(rc == PT_AGAIN, "%s: prefix %zu: rc %d", tc->name,
                          k, rc);
            continue;
        }
        ck_assert_msg(rc == PT_AGAIN || (rc == PT_ERROR
                                         && pp.error == tc->error),
                      "%s: prefix %zu: rc %d error %d", tc->name, k, rc,
                      pp.error);
    }
}
END_TEST

/* v1 is bounded by 107 bytes: a line without LF is refused there. */
START_TEST(v1_limit)
{
    char                 buf[PT_PROXY_PROTOCOL_V1_MAX_HEADER + 1];
    pt_proxy_protocol_t  pp;

    memset(buf, 'x', sizeof(buf));
    memcpy(buf, "PROXY UNKNOWN ", 14);
    ck_assert_int_eq(parse_copy(buf, sizeof(buf) - 2, &pp), PT_AGAIN);
    ck_assert_int_eq(parse_copy(buf, sizeof(buf) - 1, &pp), PT_ERROR);
    /* exactly 107 with CRLF is fine */
    buf[105] = '\r';
    buf[106] = '\n';
    ck_assert_int_eq(parse_copy(buf, 107, &pp), PT_OK);
    ck_assert_uint_eq(pp.len, 107);
}
END_TEST

/* v2 up to PT_PROXY_PROTOCOL_MAX_HEADER, its TLVs skipped. */
START_TEST(v2_largest)
{
    static char          buf[PT_PROXY_PROTOCOL_MAX_HEADER + 1];
    size_t               body = PT_PROXY_PROTOCOL_MAX_HEADER - 16, tlv;
    pt_proxy_protocol_t  pp;

    memcpy(buf, SIG "\x21\x11", 14);
    buf[14] = (char) (body >> 8);
    buf[15] = (char) (body & 0xff);
    memcpy(buf + 16, A4, 12);
    tlv = body - 12 - 3;
    buf[28] = 0x20;
    buf[29] = (char) (tlv >> 8);
    buf[30] = (char) (tlv & 0xff);
    memset(buf + 31, 'z', tlv);
    ck_assert_int_eq(parse_copy(buf, PT_PROXY_PROTOCOL_MAX_HEADER, &pp),
                     PT_OK);
    ck_assert_uint_eq(pp.len, PT_PROXY_PROTOCOL_MAX_HEADER);
    ck_assert_int_eq(parse_copy(buf, PT_PROXY_PROTOCOL_MAX_HEADER - 1, &pp),
                     PT_AGAIN);
    body++;
    buf[14] = (char) (body >> 8);
    buf[15] = (char) (body & 0xff);
    ck_assert_int_eq(parse_copy(buf, 16, &pp), PT_ERROR);
    ck_assert_int_eq(pp.error, PT_PROXY_PROTOCOL_TOO_LARGE);
}
END_TEST

Suite *
pt_test_suite(void)
{
    Suite *s = suite_create("proxy_protocol");
    TCase *tc = tcase_create("core");
    int    n = (int) pt_nelems(cases);

    tcase_add_loop_test(tc, table, 0, n);
    tcase_add_loop_test(tc, followed_by_request, 0, n);
    tcase_add_loop_test(tc, split_at_every_byte, 0, n);
    tcase_add_test(tc, v1_limit);
    tcase_add_test(tc, v2_largest);
    suite_add_tcase(s, tc);
    return s;
}
