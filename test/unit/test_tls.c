/*
 * Unit tests for worker/tls and worker/tls_session: ticket key files, the
 * shared session cache over a slab zone (store, lookup, replace, expiry,
 * eviction), and a handshake plus TLS I/O over a socketpair driven by the
 * real event loop against an OpenSSL client.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "common/log.h"
#include "common/pool.h"
#include "common/shm.h"
#include "common/slab.h"
#include "common/time.h"
#include "worker/conn.h"
#include "worker/event.h"
#include "worker/tls.h"
#include "worker/tls_session.h"

static pt_log_t log_;

/* --- ticket keys -------------------------------------------------------- */

START_TEST(ticket_key_sizes)
{
    pt_tls_ticket_key_t k;
    u_char              buf[80];
    int                 i;

    for (i = 0; i < 80; i++) {
        buf[i] = (u_char) i;
    }
    ck_assert_int_eq(pt_tls_ticket_key_parse(buf, 48, &k), PT_OK);
    ck_assert_uint_eq(k.size, 48);
    ck_assert_int_eq(k.name[0], 0);
    ck_assert_int_eq(k.hmac_key[0], 16);   /* name, HMAC, AES: nginx's */
    ck_assert_int_eq(k.aes_key[0], 32);
    ck_assert_int_eq(pt_tls_ticket_key_parse(buf, 80, &k), PT_OK);
    ck_assert_uint_eq(k.size, 80);
    ck_assert_int_eq(k.hmac_key[31], 47);
    ck_assert_int_eq(k.aes_key[0], 48);
    ck_assert_int_eq(k.aes_key[31], 79);
    ck_assert_int_eq(pt_tls_ticket_key_parse(buf, 47, &k), PT_ERROR);
    ck_assert_int_eq(pt_tls_ticket_key_parse(buf, 64, &k), PT_ERROR);
    ck_assert_int_eq(pt_tls_ticket_key_parse(buf, 0, &k), PT_ERROR);
}
END_TEST

/* --- session cache ------------------------------------------------------ */

static pt_shm_zone_t zone;

static pt_slab_pool_t *
cache_zone(size_t size)
{
    void *mem = NULL;

    ck_assert_int_eq(posix_memalign(&mem, 4096, size), 0);
    memset(mem, 0, size);
    pt_slab_init(mem, size);
    memset(&zone, 0, sizeof(zone));
    zone.shm.addr = mem;
    zone.shm.size = size;
    ck_assert_int_eq(pt_tls_session_zone_init(&zone, NULL), PT_OK);
    return mem;
}

START_TEST(cache_store_lookup_expire)
{
    pt_slab_pool_t *sp = cache_zone(64 * 1024);
    u_char          der[100], out[PT_TLS_SESSION_MAX_DER];
    u_char          id1[32] = { 1 }, id2[32] = { 2 };

    memset(der, 'a', sizeof(der));
    ck_assert_int_eq(pt_tls_session_store(sp, id1, 32, der, 100, 1100, 1000),
                     PT_OK);
    ck_assert_int_eq(pt_tls_session_lookup(sp, id1, 32, out, sizeof(out),
                                           1050), 100);
    ck_assert_int_eq(out[99], 'a');
    ck_assert_int_eq(pt_tls_session_lookup(sp, id2, 32, out, sizeof(out),
                                           1050), PT_DECLINED);
    /* too small an output buffer: a miss, not a truncation */
    ck_assert_int_eq(pt_tls_session_lookup(sp, id1, 32, out, 50, 1050),
                     PT_DECLINED);
    /* the same id again replaces */
    memset(der, 'b', sizeof(der));
    ck_assert_int_eq(pt_tls_session_store(sp, id1, 32, der, 60, 1200, 1010),
                     PT_OK);
    ck_assert_uint_eq(pt_tls_session_count(sp), 1);
    ck_assert_int_eq(pt_tls_session_lookup(sp, id1, 32, out, sizeof(out),
                                           1150), 60);
    ck_assert_int_eq(out[0], 'b');
    /* expired: gone on lookup */
    ck_assert_int_eq(pt_tls_session_lookup(sp, id1, 32, out, sizeof(out),
                                           1200), PT_DECLINED);
    ck_assert_uint_eq(pt_tls_session_count(sp), 0);
    /* removal; ids of other lengths are other ids */
    ck_assert_int_eq(pt_tls_session_store(sp, id2, 16, der, 10, 2000, 1000),
                     PT_OK);
    ck_assert_int_eq(pt_tls_session_lookup(sp, id2, 32, out, sizeof(out),
                                           1000), PT_DECLINED);
    pt_tls_session_remove(sp, id2, 16);
    ck_assert_int_eq(pt_tls_session_lookup(sp, id2, 16, out, sizeof(out),
                                           1000), PT_DECLINED);
    /* bad sizes */
    ck_assert_int_eq(pt_tls_session_store(sp, id2, 33, der, 10, 2000, 1000),
                     PT_ERROR);
    ck_assert_int_eq(pt_tls_session_store(sp, id2, 0, der, 10, 2000, 1000),
                     PT_ERROR);
    free(sp);
}
END_TEST

START_TEST(cache_full_evicts_oldest)
{
    pt_slab_pool_t *sp = cache_zone(64 * 1024);
    u_char          der[1500], out[PT_TLS_SESSION_MAX_DER], id[32];
    pt_uint_t       i, n = 200;

    memset(der, 'x', sizeof(der));
    memset(id, 0, sizeof(id));
    for (i = 0; i < n; i++) {
        id[0] = (u_char) i;
        id[1] = (u_char) (i >> 8);
        ck_assert_int_eq(pt_tls_session_store(sp, id, 32, der, sizeof(der),
                                              5000, 1000), PT_OK);
    }
    /* the zone holds far fewer than 200 of them: the oldest went */
    ck_assert_uint_lt(pt_tls_session_count(sp), n);
    ck_assert_uint_gt(pt_tls_session_count(sp), 5);
    id[0] = 0;
    id[1] = 0;
    ck_assert_int_eq(pt_tls_session_lookup(sp, id, 32, out, sizeof(out),
                                           1000), PT_DECLINED);
    id[0] = (u_char) (n - 1);
    id[1] = (u_char) ((n - 1) >> 8);
    ck_assert_int_eq(pt_tls_session_lookup(sp, id, 32, out, sizeof(out),
                                           1000), (ssize_t) sizeof(der));
    /* expired ones are dropped as new ones come */
    for (i = 0; i < 3; i++) {
        id[2] = 1;
        id[0] = (u_char) i;
        ck_assert_int_eq(pt_tls_session_store(sp, id, 32, der, 10, 9000,
                                              6000), PT_OK);
    }
    free(sp);
}
END_TEST

/* --- handshake and I/O over a socketpair -------------------------------- */

static int              fds[2];
static pt_connection_t *c;
static SSL_CTX         *sctx, *cctx;
static SSL             *client;
static int              hs_rc;
static int              hs_done;

static void
make_cert(SSL_CTX *ctx)
{
    EVP_PKEY  *pk = EVP_EC_gen("P-256");
    X509      *x = X509_new();
    X509_NAME *name;

    ck_assert_ptr_nonnull(pk);
    ck_assert_ptr_nonnull(x);
    ck_assert_int_eq(X509_set_version(x, 2), 1);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    ck_assert_int_eq(X509_set_pubkey(x, pk), 1);
    name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               (const u_char *) "test", -1, -1, 0);
    ck_assert_int_eq(X509_set_issuer_name(x, name), 1);
    ck_assert_int_gt(X509_sign(x, pk, EVP_sha256()), 0);
    ck_assert_int_eq(SSL_CTX_use_certificate(ctx, x), 1);
    ck_assert_int_eq(SSL_CTX_use_PrivateKey(ctx, pk), 1);
    X509_free(x);
    EVP_PKEY_free(pk);
}

static void
handshaked(pt_connection_t *conn, int rc)
{
    hs_rc = rc;
    hs_done = 1;
}

static void
io_setup(void)
{
    log_.fd = -1;
    log_.level = PT_LOG_EMERG;
    pt_log_use_stderr = 0;
    pt_time_update();
    ck_assert_int_eq(pt_tls_init(&log_), PT_OK);
    ck_assert_int_eq(pt_conn_table_init(4, &log_), PT_OK);
    ck_assert_int_eq(pt_event_init(&log_, 16), PT_OK);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
                                fds), 0);
    c = pt_conn_get(fds[0], &log_);
    ck_assert_ptr_nonnull(c);
    c->pool = pt_pool_create(1024, &log_);
    c->log = &log_;
    ck_assert_int_eq(pt_event_add_conn(c), PT_OK);

    sctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX_set_mode(sctx, SSL_MODE_ENABLE_PARTIAL_WRITE
                           | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    make_cert(sctx);
    cctx = SSL_CTX_new(TLS_client_method());
    client = SSL_new(cctx);
    ck_assert_int_eq(SSL_set_fd(client, fds[1]), 1);
    SSL_set_connect_state(client);
    ck_assert_int_eq(pt_tls_create(c, sctx, 1, 1024), PT_OK);
    hs_done = 0;
}

static void
io_teardown(void)
{
    if (c->fd != -1) {
        pt_conn_close(c);
    }
    SSL_free(client);
    close(fds[1]);
    SSL_CTX_free(sctx);
    SSL_CTX_free(cctx);
    pt_conn_table_done();
    pt_event_done();
}

/* Step the client and the loop until both ends finished (bounded). */
static void
handshake(void)
{
    int rc, cdone = 0, i;

    rc = pt_tls_handshake(c, handshaked);
    ck_assert_int_eq(rc, PT_AGAIN);    /* nothing from the client yet */
    for (i = 0; i < 200 && !(cdone && hs_done); i++) {
        if (!cdone) {
            cdone = SSL_do_handshake(client) == 1;
        }
        (void) pt_event_process(5);
    }
    ck_assert(cdone);
    ck_assert(hs_done);
    ck_assert_int_eq(hs_rc, PT_OK);
}

/* Read exactly n bytes on the client, running the loop meanwhile. */
static void
client_read(u_char *buf, int n)
{
    int got = 0, r, i;

    for (i = 0; i < 2000 && got < n; i++) {
        r = SSL_read(client, buf + got, n - got);
        if (r > 0) {
            got += r;
            continue;
        }
        (void) pt_event_process(1);
    }
    ck_assert_int_eq(got, n);
}

START_TEST(handshake_and_io)
{
    u_char       buf[64 * 1024];
    struct iovec iov[3];
    ssize_t      n;
    int          i, fd;
    off_t        off = 0;
    char         path[] = "/tmp/pt_tls_XXXXXX";

    handshake();
    ck_assert_ptr_eq((void *) c->recv, (void *) pt_tls_recv);

    /* client to server */
    ck_assert_int_eq(SSL_write(client, "hello", 5), 5);
    n = PT_AGAIN;
    for (i = 0; i < 100 && n == PT_AGAIN; i++) {
        (void) pt_event_process(5);
        n = c->recv(c, buf, sizeof(buf));
    }
    ck_assert_int_eq(n, 5);
    ck_assert_int_eq(memcmp(buf, "hello", 5), 0);
    ck_assert_int_eq(c->recv(c, buf, sizeof(buf)), PT_AGAIN);
    ck_assert(!c->read->ready);

    /* writev coalesces small pieces (buffer of 1024 here) */
    iov[0].iov_base = (void *) "ab";
    iov[0].iov_len = 2;
    iov[1].iov_base = (void *) "cd";
    iov[1].iov_len = 2;
    memset(buf, 'z', 3000);
    iov[2].iov_base = buf;
    iov[2].iov_len = 3000;
    ck_assert_int_eq(c->writev(c, iov, 3), 3004);
    client_read(buf + 4000, 3004);
    ck_assert_int_eq(memcmp(buf + 4000, "abcd", 4), 0);
    ck_assert_int_eq(buf[4000 + 3003], 'z');

    /* "sendfile" of a file bigger than the socket can take at once */
    fd = mkstemp(path);
    ck_assert_int_ne(fd, -1);
    unlink(path);
    for (i = 0; i < (int) sizeof(buf); i++) {
        buf[i] = (u_char) (i * 7);
    }
    ck_assert_int_eq(write(fd, buf, sizeof(buf)), (ssize_t) sizeof(buf));
    {
        u_char *got = malloc(sizeof(buf));
        int     have = 0, r;

        ck_assert_ptr_nonnull(got);
        for (i = 0; i < 5000 && (off < (off_t) sizeof(buf)
                                 || have < (int) sizeof(buf)); i++)
        {
            if (off < (off_t) sizeof(buf)) {
                n = c->sendfile(c, fd, &off, sizeof(buf) - (size_t) off);
                ck_assert(n >= 0 || n == PT_AGAIN);
            }
            r = SSL_read(client, got + have, (int) sizeof(buf) - have);
            if (r > 0) {
                have += r;
            }
        }
        ck_assert_int_eq(have, (int) sizeof(buf));
        ck_assert_int_eq(memcmp(got, buf, sizeof(buf)), 0);
        free(got);
    }
    close(fd);

    /* a key update the client asks for: the server answers it while
     * reading, and both go on */
    ck_assert_int_eq(SSL_key_update(client, SSL_KEY_UPDATE_REQUESTED), 1);
    ck_assert_int_eq(SSL_write(client, "again", 5), 5);
    n = PT_AGAIN;
    for (i = 0; i < 100 && n == PT_AGAIN; i++) {
        (void) pt_event_process(5);
        n = c->recv(c, buf, sizeof(buf));
    }
    ck_assert_int_eq(n, 5);
    ck_assert_int_eq(c->send(c, (const u_char *) "reply", 5), 5);
    client_read(buf, 5);
    ck_assert_int_eq(memcmp(buf, "reply", 5), 0);

    /* close sends close_notify */
    pt_conn_close(c);
    for (i = 0; i < 100; i++) {
        n = SSL_read(client, buf, sizeof(buf));
        if (n <= 0 && SSL_get_error(client, (int) n) == SSL_ERROR_ZERO_RETURN)
        {
            break;
        }
    }
    ck_assert_int_lt(i, 100);
}
END_TEST

START_TEST(garbage_fails_handshake)
{
    static const u_char junk[] = "\x16\x03\x01\x00\x05hello, not TLS at all";
    int                 i;

    ck_assert_int_eq(write(fds[1], junk, sizeof(junk)), (ssize_t) sizeof(junk));
    if (pt_tls_handshake(c, handshaked) == PT_ERROR) {
        hs_done = 1;
        hs_rc = PT_ERROR;
    }
    for (i = 0; i < 100 && !hs_done; i++) {
        (void) pt_event_process(5);
    }
    ck_assert(hs_done);
    ck_assert_int_eq(hs_rc, PT_ERROR);
    ck_assert(c->error);
}
END_TEST

START_TEST(peer_close_is_eof)
{
    u_char buf[16];
    int    i;
    ssize_t n = PT_AGAIN;

    handshake();
    ck_assert_int_eq(SSL_shutdown(client), 0);
    for (i = 0; i < 100 && n == PT_AGAIN; i++) {
        (void) pt_event_process(5);
        n = c->recv(c, buf, sizeof(buf));
    }
    ck_assert_int_eq(n, 0);
    ck_assert(c->read->eof);
}
END_TEST

/* The handshake's last read drained the socket: the first read after it
 * is not made before epoll reports data (it would only say EAGAIN), and
 * is made, and gets the data, once it has. */
START_TEST(no_read_before_report)
{
    u_char  buf[16];
    ssize_t n;
    int     i;

    handshake();
    ck_assert(!c->read->ready);
    ck_assert_int_eq(SSL_write(client, "hi", 2), 2);
    ck_assert_int_eq(c->recv(c, buf, sizeof(buf)), PT_AGAIN);
    for (i = 0; i < 100 && !c->read->ready; i++) {
        (void) pt_event_process(5);
    }
    ck_assert(c->read->ready);
    n = c->recv(c, buf, sizeof(buf));
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(memcmp(buf, "hi", 2), 0);
}
END_TEST

Suite *
pt_test_suite(void)
{
    Suite *s = suite_create("tls");
    TCase *t = tcase_create("session");
    TCase *io = tcase_create("io");

    tcase_add_test(t, ticket_key_sizes);
    tcase_add_test(t, cache_store_lookup_expire);
    tcase_add_test(t, cache_full_evicts_oldest);
    suite_add_tcase(s, t);

    tcase_add_checked_fixture(io, io_setup, io_teardown);
    tcase_add_test(io, handshake_and_io);
    tcase_add_test(io, garbage_fails_handshake);
    tcase_add_test(io, peer_close_is_eof);
    tcase_add_test(io, no_read_before_report);
    suite_add_tcase(s, io);
    return s;
}
