/*
 * Unit tests for worker/http_proxy_ssl.c: the name sent as SNI and
 * checked against the certificate, the address test (no SNI for an
 * address), the per-peer session slots, and the syscall-style results of
 * the upstream I/O wrappers.
 */
#include <check.h>
#include <errno.h>
#include <string.h>
#include <arpa/inet.h>

#include "conf_helper.h"
#include "worker/http_proxy_ssl.c"


static void
setup(void)
{
    tc_conf_setup("proxy_ssl", NULL, PT_CONF_HTTP);
}

static const struct {
    const char *host;    /* $proxy_host */
    const char *name;    /* what SNI and the check use */
} name_cases[] = {
    { "origin.test", "origin.test" },
    { "origin.test:8443", "origin.test" },
    { "127.0.0.1:8443", "127.0.0.1" },
    { "[::1]:8443", "::1" },
    { "[::1]", "::1" },
    { "", "" },
};

START_TEST(test_ssl_name)
{
    pt_proxy_ctx_t   tc_ctx;
    proxy_ssl_conf_t c;
    pt_str_t         name;

    memset(&tc_ctx, 0, sizeof(tc_ctx));
    memset(&c, 0, sizeof(c));
    tc_ctx.host_header.data = (u_char *) name_cases[_i].host;
    tc_ctx.host_header.len = strlen(name_cases[_i].host);
    ck_assert_int_eq(ssl_name(&tc_ctx, &c, &name), PT_OK);
    ck_assert_uint_eq(name.len, strlen(name_cases[_i].name));
    ck_assert(memcmp(name.data, name_cases[_i].name, name.len) == 0);
}
END_TEST

START_TEST(test_is_address)
{
    ck_assert(is_address("127.0.0.1"));
    ck_assert(is_address("::1"));
    ck_assert(is_address("2001:db8::2"));
    ck_assert(!is_address("origin.test"));
    ck_assert(!is_address("127.0.0.1.example"));
    ck_assert(!is_address(""));
}
END_TEST

static socklen_t
addr_of(struct sockaddr_in *sin, int port)
{
    memset(sin, 0, sizeof(*sin));
    sin->sin_family = AF_INET;
    sin->sin_port = htons((in_port_t) port);
    sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return sizeof(*sin);
}

START_TEST(test_session_slots)
{
    proxy_ssl_conf_t    c;
    struct sockaddr_in  a, b;
    session_slot_t     *s, *t;
    socklen_t           len;
    int                 i;

    memset(&c, 0, sizeof(c));
    c.sessions = pt_pcalloc(tc_pool, sizeof(session_slot_t) * SESSION_SLOTS);
    ck_assert_ptr_nonnull(c.sessions);
    len = addr_of(&a, 1000);
    ck_assert_ptr_null(find_slot(&c, (struct sockaddr *) &a, len, 0));
    s = find_slot(&c, (struct sockaddr *) &a, len, 1);
    ck_assert_ptr_nonnull(s);
    s->session = SSL_SESSION_new();
    ck_assert_ptr_nonnull(s->session);
    /* the same peer finds its slot again */
    ck_assert_ptr_eq(find_slot(&c, (struct sockaddr *) &a, len, 0), s);
    /* a full table gives the oldest slot to a new peer, freeing its
     * session (ASan would see a leak otherwise) */
    for (i = 1; i <= SESSION_SLOTS; i++) {
        addr_of(&b, 1000 + i);
        t = find_slot(&c, (struct sockaddr *) &b, len, 1);
        ck_assert_ptr_nonnull(t);
        ck_assert_ptr_null(t->session);
    }
    ck_assert_ptr_null(find_slot(&c, (struct sockaddr *) &a, len, 0));
}
END_TEST

START_TEST(test_as_syscall)
{
    errno = 0;
    ck_assert_int_eq(as_syscall(PT_AGAIN), -1);
    ck_assert_int_eq(errno, EAGAIN);
    ck_assert_int_eq(as_syscall(PT_ERROR), -1);
    ck_assert_int_eq(errno, EIO);
    ck_assert_int_eq(as_syscall(0), 0);
    ck_assert_int_eq(as_syscall(42), 42);
}
END_TEST

/* A plain connection gets the syscalls themselves. */
START_TEST(test_plain_io)
{
    pt_connection_t c;
    struct iovec    iov[2];
    u_char          buf[16];
    int             sv[2];

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
                                sv), 0);
    memset(&c, 0, sizeof(c));
    c.fd = sv[0];
    iov[0].iov_base = "ab";
    iov[0].iov_len = 2;
    iov[1].iov_base = "cd";
    iov[1].iov_len = 2;
    ck_assert_int_eq(pt_proxy_io_writev(&c, iov, 2), 4);
    ck_assert_int_eq(pt_proxy_io_send(&c, (u_char *) "e", 1), 1);
    c.fd = sv[1];
    ck_assert_int_eq(pt_proxy_io_recv(&c, buf, sizeof(buf)), 5);
    ck_assert(memcmp(buf, "abcde", 5) == 0);
    ck_assert_int_eq(pt_proxy_io_recv(&c, buf, sizeof(buf)), -1);
    ck_assert_int_eq(errno, EAGAIN);
    close(sv[0]);
    close(sv[1]);
}
END_TEST

Suite *
pt_test_suite(void)
{
    Suite *s = suite_create("http_proxy_ssl");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, tc_conf_teardown);
    tcase_add_loop_test(tc, test_ssl_name, 0, pt_nelems(name_cases));
    tcase_add_test(tc, test_is_address);
    tcase_add_test(tc, test_session_slots);
    tcase_add_test(tc, test_as_syscall);
    tcase_add_test(tc, test_plain_io);
    suite_add_tcase(s, tc);
    return s;
}
