/*
 * Unit tests for worker/http_realip (included to reach its statics): the
 * address forms proxies write, and the walk over X-Forwarded-For from
 * the right (trusted peers, recursion, several header instances, invalid
 * entries stopping the walk, IPv6 and v4-mapped peers).
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/pool.h"
#include "worker/http_realip.c"

static pt_log_t   log_;
static pt_pool_t *pool;

static void
setup(void)
{
    memset(&log_, 0, sizeof(log_));
    log_.fd = -1;
    pool = pt_pool_create(4096, &log_);
    ck_assert_ptr_nonnull(pool);
}

static void
teardown(void)
{
    pt_pool_destroy(pool);
}

/* The text of an address, "addr" or "addr|port". */
static const char *
text(const pt_addr_t *a)
{
    static char buf[128];
    char        host[INET6_ADDRSTRLEN];
    const void *bin;
    unsigned    port;

    if (a->sockaddr.ss_family == AF_INET) {
        bin = &((struct sockaddr_in *) &a->sockaddr)->sin_addr;
        port = ntohs(((struct sockaddr_in *) &a->sockaddr)->sin_port);
    } else {
        bin = &((struct sockaddr_in6 *) &a->sockaddr)->sin6_addr;
        port = ntohs(((struct sockaddr_in6 *) &a->sockaddr)->sin6_port);
    }
    ck_assert_ptr_nonnull(inet_ntop(a->sockaddr.ss_family, bin, host,
                                    sizeof(host)));
    if (port == 0) {
        snprintf(buf, sizeof(buf), "%s", host);
    } else {
        snprintf(buf, sizeof(buf), "%s|%u", host, port);
    }
    return buf;
}

static const char *
parsed(const char *s)
{
    pt_addr_t a;

    if (parse_addr((const u_char *) s, strlen(s), &a) != PT_OK) {
        return "invalid";
    }
    return text(&a);
}

START_TEST(address_forms)
{
    ck_assert_str_eq(parsed("1.2.3.4"), "1.2.3.4");
    ck_assert_str_eq(parsed("1.2.3.4:80"), "1.2.3.4|80");
    ck_assert_str_eq(parsed("2001:DB8::1"), "2001:db8::1");
    ck_assert_str_eq(parsed("[2001:db8::1]:443"), "2001:db8::1|443");
    ck_assert_str_eq(parsed("::ffff:1.2.3.4"), "::ffff:1.2.3.4");
    ck_assert_str_eq(parsed("::1"), "::1");
    ck_assert_str_eq(parsed("[::1]"), "invalid");
    ck_assert_str_eq(parsed("[::1]:"), "invalid");
    ck_assert_str_eq(parsed("[::1]:0"), "invalid");
    ck_assert_str_eq(parsed("1.2.3.4:65536"), "invalid");
    ck_assert_str_eq(parsed("1.2.3.4:x"), "invalid");
    ck_assert_str_eq(parsed("[1.2.3.4]:80"), "1.2.3.4|80");
    ck_assert_str_eq(parsed("1.2.3"), "invalid");
    ck_assert_str_eq(parsed("1.2.3.256"), "invalid");
    ck_assert_str_eq(parsed("unknown"), "invalid");
    ck_assert_str_eq(parsed(""), "invalid");
    ck_assert_str_eq(parsed("1111:2222:3333:4444:5555:6666:7777:8888:9999"),
                     "invalid");
    ck_assert_str_eq(parsed("[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]"
                            ":65535"),
                     "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff|65535");
    ck_assert_str_eq(parsed("[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]"
                            ":655355"), "invalid");
}
END_TEST

/* A conf trusting the given blocks. */
static realip_loc_conf_t *
conf(int recursive, const char *const *blocks)
{
    realip_loc_conf_t *rlcf = pt_pcalloc(pool, sizeof(*rlcf));
    pt_cidr_t         *c;

    ck_assert_ptr_nonnull(rlcf);
    rlcf->recursive = recursive;
    rlcf->from = pt_array_create(pool, 4, sizeof(pt_cidr_t));
    ck_assert_ptr_nonnull(rlcf->from);
    for (; *blocks != NULL; blocks++) {
        c = pt_array_push(rlcf->from);
        ck_assert_ptr_nonnull(c);
        ck_assert_int_ne(pt_cidr_parse((const u_char *) *blocks,
                                       strlen(*blocks), c), PT_ERROR);
    }
    return rlcf;
}

/* The address after walking `values` (one per header instance, NULL
 * ended) from peer `peer`, or "unchanged". */
static const char *
walked(realip_loc_conf_t *rlcf, const char *peer, const char *const *values)
{
    pt_table_elt_t  elts[8], *hs[8];
    pt_uint_t       n = 0;
    pt_addr_t       a;

    ck_assert_int_eq(parse_addr((const u_char *) peer, strlen(peer), &a),
                     PT_OK);
    for (; values[n] != NULL; n++) {
        memset(&elts[n], 0, sizeof(elts[n]));
        elts[n].value.data = (u_char *) values[n];
        elts[n].value.len = strlen(values[n]);
        hs[n] = &elts[n];
    }
    return walk(rlcf, hs, n, &a) ? text(&a) : "unchanged";
}

#define V(...) ((const char *const []) { __VA_ARGS__, NULL })

START_TEST(walk_from_the_right)
{
    realip_loc_conf_t *off = conf(0, V("127.0.0.0/8", "10.0.0.0/8"));
    realip_loc_conf_t *on = conf(1, V("127.0.0.0/8", "10.0.0.0/8"));

    /* an untrusted peer never changes anything */
    ck_assert_str_eq(walked(on, "192.0.2.1", V("1.2.3.4")), "unchanged");
    ck_assert_str_eq(walked(off, "192.0.2.1", V("1.2.3.4")), "unchanged");

    /* off: the last address, trusted or not */
    ck_assert_str_eq(walked(off, "127.0.0.1", V("1.1.1.1, 10.0.0.2")),
                     "10.0.0.2");
    /* on: past the trusted ones */
    ck_assert_str_eq(walked(on, "127.0.0.1", V("1.1.1.1, 2.2.2.2, 10.0.0.2")),
                     "2.2.2.2");
    ck_assert_str_eq(walked(on, "127.0.0.1", V("10.0.0.3,10.0.0.2")),
                     "10.0.0.3");
    /* spaces and empty members are skipped */
    ck_assert_str_eq(walked(on, "127.0.0.1", V(" 1.1.1.1 ,, 10.0.0.2 , ")),
                     "1.1.1.1");
    /* an invalid member stops the walk: what was found so far stays */
    ck_assert_str_eq(walked(on, "127.0.0.1", V("1.1.1.1, junk, 10.0.0.2")),
                     "10.0.0.2");
    ck_assert_str_eq(walked(on, "127.0.0.1", V("1.1.1.1, junk")),
                     "unchanged");
    ck_assert_str_eq(walked(on, "127.0.0.1", V("")), "unchanged");
    /* ports are kept */
    ck_assert_str_eq(walked(off, "127.0.0.1", V("1.1.1.1:8080")),
                     "1.1.1.1|8080");
}
END_TEST

START_TEST(walk_instances)
{
    realip_loc_conf_t *on = conf(1, V("127.0.0.0/8"));
    realip_loc_conf_t *off = conf(0, V("127.0.0.0/8"));

    ck_assert_str_eq(walked(on, "127.0.0.1", V("9.9.9.9, 127.0.0.9",
                                               "1.1.1.1, 127.0.0.7")),
                     "1.1.1.1");
    ck_assert_str_eq(walked(on, "127.0.0.1", V("9.9.9.9, 127.0.0.9",
                                               "127.0.0.8, 127.0.0.7")),
                     "9.9.9.9");
    ck_assert_str_eq(walked(on, "127.0.0.1", V("127.0.0.9",
                                               "127.0.0.8, 127.0.0.7")),
                     "127.0.0.9");
    ck_assert_str_eq(walked(off, "127.0.0.1", V("9.9.9.9", "1.1.1.1")),
                     "1.1.1.1");
    /* an empty last instance: the one before it */
    ck_assert_str_eq(walked(on, "127.0.0.1", V("9.9.9.9", "")), "9.9.9.9");
}
END_TEST

START_TEST(walk_ipv6)
{
    realip_loc_conf_t *on6 = conf(1, V("::1", "2001:db8::/32"));
    realip_loc_conf_t *on4 = conf(1, V("127.0.0.0/8"));

    ck_assert_str_eq(walked(on6, "::1", V("2001:db9::5, 2001:db8::7")),
                     "2001:db9::5");
    ck_assert_str_eq(walked(on6, "::2", V("2001:db9::5")), "unchanged");
    /* an IPv4 block trusts the v4-mapped form of its addresses */
    ck_assert_str_eq(walked(on4, "::ffff:127.0.0.1", V("1.2.3.4")),
                     "1.2.3.4");
    ck_assert_str_eq(walked(on4, "127.0.0.1", V("::ffff:127.0.0.2, "
                                                "::ffff:1.2.3.4")),
                     "::ffff:1.2.3.4");
    ck_assert_str_eq(walked(on4, "127.0.0.1", V("5.5.5.5, ::ffff:127.0.0.2")),
                     "5.5.5.5");
    /* an IPv6 block never trusts an IPv4 peer */
    ck_assert_str_eq(walked(on6, "127.0.0.1", V("2001:db9::5")),
                     "unchanged");
}
END_TEST

Suite *
pt_test_suite(void)
{
    Suite *s = suite_create("http_realip");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, address_forms);
    tcase_add_test(tc, walk_from_the_right);
    tcase_add_test(tc, walk_instances);
    tcase_add_test(tc, walk_ipv6);
    suite_add_tcase(s, tc);
    return s;
}
