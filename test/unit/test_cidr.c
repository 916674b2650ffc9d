/*
 * Unit tests for common/cidr: IPv4 and IPv6 blocks and their masks, the
 * "low address bits" case, v4-mapped clients, and the texts nginx
 * refuses.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>

#include "common/cidr.h"
#include "common/pt_types.h"

static int
parse(const char *s, pt_cidr_t *c)
{
    return pt_cidr_parse((const u_char *) s, strlen(s), c);
}

static uint32_t
in(const char *s)
{
    struct in_addr a;

    ck_assert_int_eq(inet_pton(AF_INET, s, &a), 1);
    return a.s_addr;
}

static int
match6(const pt_cidr_t *c, const char *s)
{
    struct in6_addr a;

    ck_assert_int_eq(inet_pton(AF_INET6, s, &a), 1);
    return pt_cidr_match_in6(c, a.s6_addr);
}

static int
match_sa(const pt_cidr_t *c, const char *s)
{
    struct sockaddr_in6 sin6;
    struct sockaddr_in  sin;

    memset(&sin, 0, sizeof(sin));
    memset(&sin6, 0, sizeof(sin6));
    if (strchr(s, ':') != NULL) {
        sin6.sin6_family = AF_INET6;
        ck_assert_int_eq(inet_pton(AF_INET6, s, &sin6.sin6_addr), 1);
        return pt_cidr_match(c, (struct sockaddr *) &sin6);
    }
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = in(s);
    return pt_cidr_match(c, (struct sockaddr *) &sin);
}

START_TEST(v4_masks)
{
    pt_cidr_t c;

    ck_assert_int_eq(parse("192.168.1.0/24", &c), PT_OK);
    ck_assert_int_eq(c.family, AF_INET);
    ck_assert_uint_eq(c.u.in.addr, in("192.168.1.0"));
    ck_assert_uint_eq(c.u.in.mask, in("255.255.255.0"));
    ck_assert(pt_cidr_match_in(&c, in("192.168.1.0")));
    ck_assert(pt_cidr_match_in(&c, in("192.168.1.255")));
    ck_assert(!pt_cidr_match_in(&c, in("192.168.2.1")));
    ck_assert(!pt_cidr_match_in(&c, in("192.168.0.255")));

    /* a bare address is a /32 */
    ck_assert_int_eq(parse("10.0.0.1", &c), PT_OK);
    ck_assert_uint_eq(c.u.in.mask, 0xffffffffu);
    ck_assert(pt_cidr_match_in(&c, in("10.0.0.1")));
    ck_assert(!pt_cidr_match_in(&c, in("10.0.0.2")));

    /* /0 matches everything (no shift by 32) */
    ck_assert_int_eq(parse("0.0.0.0/0", &c), PT_OK);
    ck_assert_uint_eq(c.u.in.mask, 0);
    ck_assert(pt_cidr_match_in(&c, in("255.255.255.255")));
    ck_assert(pt_cidr_match_in(&c, in("0.0.0.0")));

    /* odd prefix lengths */
    ck_assert_int_eq(parse("10.0.0.0/7", &c), PT_OK);
    ck_assert_uint_eq(c.u.in.mask, in("254.0.0.0"));
    ck_assert(pt_cidr_match_in(&c, in("11.255.0.1")));
    ck_assert(!pt_cidr_match_in(&c, in("12.0.0.0")));
    ck_assert_int_eq(parse("1.2.3.4/31", &c), PT_OK);
    ck_assert_int_eq(parse("1.2.3.5/31", &c), PT_DONE);
    ck_assert_uint_eq(c.u.in.addr, in("1.2.3.4"));
    ck_assert(pt_cidr_match_in(&c, in("1.2.3.5")));
    ck_assert_int_eq(parse("1.2.3.4/32", &c), PT_OK);
    ck_assert_int_eq(parse("128.0.0.0/1", &c), PT_OK);
    ck_assert(pt_cidr_match_in(&c, in("200.1.1.1")));
    ck_assert(!pt_cidr_match_in(&c, in("127.255.255.255")));

    /* leading zeros are decimal, as nginx reads them */
    ck_assert_int_eq(parse("010.001.0.0/16", &c), PT_OK);
    ck_assert_uint_eq(c.u.in.addr, in("10.1.0.0"));
    ck_assert_int_eq(parse("255.255.255.255", &c), PT_OK);
}
END_TEST

START_TEST(low_bits_are_masked)
{
    pt_cidr_t c;

    ck_assert_int_eq(parse("10.1.2.3/8", &c), PT_DONE);
    ck_assert_uint_eq(c.u.in.addr, in("10.0.0.0"));
    ck_assert(pt_cidr_match_in(&c, in("10.200.0.1")));
    ck_assert_int_eq(parse("1.2.3.4/0", &c), PT_DONE);
    ck_assert_uint_eq(c.u.in.addr, 0);

    ck_assert_int_eq(parse("fe80::1/10", &c), PT_DONE);
    ck_assert(match6(&c, "fe80::"));
    ck_assert(match6(&c, "febf:ffff::1"));
    ck_assert(!match6(&c, "fec0::"));
    ck_assert_int_eq(parse("2001:db8::ff/121", &c), PT_DONE);
    ck_assert(match6(&c, "2001:db8::80"));
    ck_assert(!match6(&c, "2001:db8::7f"));
}
END_TEST

START_TEST(v6_masks)
{
    pt_cidr_t c;
    int       i;

    ck_assert_int_eq(parse("::1", &c), PT_OK);
    ck_assert_int_eq(c.family, AF_INET6);
    for (i = 0; i < 16; i++) {
        ck_assert_uint_eq(c.u.in6.mask[i], 0xff);
    }
    ck_assert(match6(&c, "::1"));
    ck_assert(!match6(&c, "::2"));

    ck_assert_int_eq(parse("2001:db8::/32", &c), PT_OK);
    ck_assert(match6(&c, "2001:db8:ffff::1"));
    ck_assert(!match6(&c, "2001:db9::1"));

    ck_assert_int_eq(parse("2001:db8::/33", &c), PT_OK);
    ck_assert_uint_eq(c.u.in6.mask[4], 0x80);
    ck_assert_uint_eq(c.u.in6.mask[5], 0);
    ck_assert(match6(&c, "2001:db8:7fff::"));
    ck_assert(!match6(&c, "2001:db8:8000::"));

    ck_assert_int_eq(parse("::/0", &c), PT_OK);
    ck_assert(match6(&c, "ffff::ffff"));
    ck_assert_int_eq(parse("::1/128", &c), PT_OK);
    ck_assert_int_eq(parse("ABCD:EF01::/16", &c), PT_DONE);
    ck_assert_uint_eq(c.u.in6.addr[2], 0);
    ck_assert(match6(&c, "abcd::9"));

    /* an embedded IPv4 tail */
    ck_assert_int_eq(parse("::ffff:10.0.0.0/104", &c), PT_OK);
    ck_assert(match6(&c, "::ffff:10.9.8.7"));
    ck_assert(!match6(&c, "::ffff:11.0.0.0"));
}
END_TEST

START_TEST(v4_mapped)
{
    pt_cidr_t c;
    uint32_t  v4;
    struct in6_addr a;

    ck_assert_int_eq(inet_pton(AF_INET6, "::ffff:127.0.0.1", &a), 1);
    ck_assert(pt_cidr_v4_mapped(a.s6_addr, &v4));
    ck_assert_uint_eq(v4, in("127.0.0.1"));
    ck_assert_int_eq(inet_pton(AF_INET6, "::127.0.0.1", &a), 1);
    ck_assert(!pt_cidr_v4_mapped(a.s6_addr, &v4));

    /* an IPv4 block takes the mapped form of its addresses */
    ck_assert_int_eq(parse("127.0.0.0/8", &c), PT_OK);
    ck_assert(match6(&c, "::ffff:127.1.2.3"));
    ck_assert(!match6(&c, "::ffff:128.0.0.1"));
    ck_assert(!match6(&c, "::127.0.0.1"));
    ck_assert(!match6(&c, "::1"));
    ck_assert(match_sa(&c, "::ffff:127.0.0.1"));
    ck_assert(match_sa(&c, "127.0.0.1"));

    /* an IPv6 block never matches a plain IPv4 address */
    ck_assert_int_eq(parse("::ffff:127.0.0.1", &c), PT_OK);
    ck_assert(!pt_cidr_match_in(&c, in("127.0.0.1")));
    ck_assert(match_sa(&c, "::ffff:127.0.0.1"));
    ck_assert(!match_sa(&c, "127.0.0.1"));
    ck_assert_int_eq(parse("::/0", &c), PT_OK);
    ck_assert(!match_sa(&c, "1.2.3.4"));
}
END_TEST

START_TEST(other_families)
{
    pt_cidr_t          c;
    struct sockaddr_un sun;

    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    ck_assert_int_eq(parse("0.0.0.0/0", &c), PT_OK);
    ck_assert(!pt_cidr_match(&c, (struct sockaddr *) &sun));
    ck_assert_int_eq(parse("::/0", &c), PT_OK);
    ck_assert(!pt_cidr_match(&c, (struct sockaddr *) &sun));
}
END_TEST

START_TEST(invalid)
{
    static const char *bad[] = {
        "", "/", "/8", "1.2.3.4/", "1.2.3.4/33", "1.2.3.4/-1", "1.2.3.4/8x",
        "1.2.3.4/ 8", "1.2.3", "1.2.3.4.5", "1.2.3.256", "1..2.3", ".1.2.3",
        "1.2.3.", "1.2.3.4 ", " 1.2.3.4", "a.b.c.d", "all", "unix:", "::1/129",
        "::1/", ":::", "1::2::3", "12345::", "fe80::1%lo", "localhost",
        "::1/1/1", "1.2.3.4/99999999999999999999999",
        "0123:4567:89ab:cdef:0123:4567:89ab:cdef:0",
        "aaaa:bbbb:cccc:dddd:eeee:ffff:0000:1111:2222:3333:4444",
    };
    pt_cidr_t c;
    size_t    i;

    for (i = 0; i < pt_nelems(bad); i++) {
        ck_assert_msg(parse(bad[i], &c) == PT_ERROR, "\"%s\" parsed",
                      bad[i]);
    }
    /* a length counted string: the text past len is not read */
    ck_assert_int_eq(pt_cidr_parse((const u_char *) "10.0.0.1/8", 8, &c),
                     PT_OK);
    ck_assert_uint_eq(c.u.in.addr, in("10.0.0.1"));
}
END_TEST

Suite *
pt_test_suite(void)
{
    Suite *s = suite_create("cidr");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, v4_masks);
    tcase_add_test(tc, low_bits_are_masked);
    tcase_add_test(tc, v6_masks);
    tcase_add_test(tc, v4_mapped);
    tcase_add_test(tc, other_families);
    tcase_add_test(tc, invalid);
    suite_add_tcase(s, tc);
    return s;
}
