/*
 * Unit tests for worker/http_body: reading a request body through the
 * real event loop on a socketpair, into memory while it fits
 * client_body_buffer_size and into an unlinked temp file beyond it,
 * Content-Length and chunked, split across many writes.
 */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/path.h"
#include "common/pool.h"
#include "common/time.h"
#include "worker/conn.h"
#include "worker/event.h"
#include "worker/http_connection.h"
#include "worker/http_core.h"
#include "worker/http_request.h"
#include "worker/timer.h"

static pt_log_t            log_;
static pt_pool_t          *pool;
static pt_connection_t    *c;
static pt_http_request_t  *r;
static pt_http_loc_conf_t  clcf;
static pt_path_t           temp_path;
static void               *loc_conf[8];
static int                 fds[2];
static int                 done;
static char                tmpdir[64];

static void
body_done(pt_http_request_t *req)
{
    done++;
}

/* Route the connection's read events to the request, as the core does. */
static void
read_handler(pt_event_t *ev)
{
    r->read_event_handler(r);
}

static void
setup(void)
{
    pt_buf_t *b;

    log_.fd = -1;
    log_.level = PT_LOG_ERR;
    pt_log_use_stderr = 0;
    pt_time_update();
    strcpy(tmpdir, "/tmp/pt_body_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));

    pool = pt_pool_create(4096, &log_);
    ck_assert_int_eq(pt_conn_table_init(4, &log_), PT_OK);
    ck_assert_int_eq(pt_event_init(&log_, 16), PT_OK);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
                                fds), 0);
    c = pt_conn_get(fds[0], &log_);
    ck_assert_ptr_nonnull(c);
    c->pool = pt_pool_create(1024, &log_);
    c->log = &log_;
    ck_assert_int_eq(pt_event_add_conn(c), PT_OK);
    c->read->handler = read_handler;

    memset(&clcf, 0, sizeof(clcf));
    clcf.client_body_buffer_size = 64;
    clcf.client_max_body_size = 1024 * 1024;
    clcf.client_body_timeout = 5000;
    temp_path.name.data = (u_char *) tmpdir;
    temp_path.name.len = strlen(tmpdir);
    clcf.client_body_temp_path = &temp_path;
    pt_http_core_module.index = 2;
    loc_conf[2] = &clcf;

    r = pt_pcalloc(pool, sizeof(*r));
    r->pool = pool;
    r->connection = c;
    r->loc_conf = loc_conf;
    r->main = r;
    r->count = 1;
    r->http_version = PT_HTTP_VERSION_11;
    r->headers_in.content_length_n = -1;
    b = pt_buf_create_temp(pool, 256);
    r->header_in = b;
    done = 0;
}

static void
teardown(void)
{
    close(fds[1]);
    pt_conn_table_done();
    pt_event_done();
    pt_pool_destroy(pool);
    rmdir(tmpdir);
}

/* Send `data` in pieces of `step` bytes, running the loop in between,
 * until the body handler ran (bounded). */
static void
feed(const char *data, size_t len, size_t step)
{
    size_t off = 0;
    int    rounds;

    while (off < len) {
        size_t n = len - off < step ? len - off : step;

        ck_assert_int_eq(write(fds[1], data + off, n), (ssize_t) n);
        off += n;
        (void) pt_event_process(10);
    }
    for (rounds = 0; rounds < 100 && !done; rounds++) {
        (void) pt_event_process(10);
    }
}

/* The whole body as read: memory buffer or temp file. */
static size_t
body_bytes(char *out, size_t size)
{
    pt_http_request_body_t *rb = r->request_body;
    ssize_t                 n;

    if (rb->temp_fd != -1) {
        n = pread(rb->temp_fd, out, size, 0);
        ck_assert_int_ge(n, 0);
        return (size_t) n;
    }
    n = rb->buf->last - rb->buf->pos;
    memcpy(out, rb->buf->pos, (size_t) n);
    return (size_t) n;
}

START_TEST(content_length_in_memory)
{
    static const char body[] = "hello, body";
    char              got[128];

    r->headers_in.content_length_n = sizeof(body) - 1;
    ck_assert_int_eq(pt_http_read_client_request_body(r, body_done),
                     PT_AGAIN);
    ck_assert_int_eq(done, 0);
    feed(body, sizeof(body) - 1, 3);
    ck_assert_int_eq(done, 1);
    ck_assert_int_eq(r->request_body->temp_fd, -1);
    ck_assert_uint_eq(body_bytes(got, sizeof(got)), sizeof(body) - 1);
    ck_assert(memcmp(got, body, sizeof(body) - 1) == 0);
}
END_TEST

START_TEST(large_body_goes_to_an_unlinked_temp_file)
{
    char    body[20000], got[25000];
    size_t  i;
    int     entries = 0;

    for (i = 0; i < sizeof(body); i++) {
        body[i] = (char) ('a' + i % 26);
    }
    r->headers_in.content_length_n = sizeof(body);
    ck_assert_int_eq(pt_http_read_client_request_body(r, body_done),
                     PT_AGAIN);
    feed(body, sizeof(body), 997);
    ck_assert_int_eq(done, 1);
    ck_assert_int_ne(r->request_body->temp_fd, -1);
    ck_assert_uint_eq(body_bytes(got, sizeof(got)), sizeof(body));
    ck_assert(memcmp(got, body, sizeof(body)) == 0);
    /* the file has no name left in the temp directory */
    {
        DIR           *d = opendir(tmpdir);
        struct dirent *e;

        ck_assert_ptr_nonnull(d);
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
                entries++;
            }
        }
        closedir(d);
    }
    ck_assert_int_eq(entries, 0);
}
END_TEST

START_TEST(chunked_body_is_dechunked)
{
    static const char wire[] = "5\r\nhello\r\n1;ext=1\r\n,\r\n6\r\n world\r\n"
                               "0\r\nX-Trailer: t\r\n\r\n";
    char              got[128];

    r->headers_in.chunked = 1;
    ck_assert_int_eq(pt_http_read_client_request_body(r, body_done),
                     PT_AGAIN);
    feed(wire, sizeof(wire) - 1, 1);
    ck_assert_int_eq(done, 1);
    ck_assert_uint_eq(body_bytes(got, sizeof(got)), 12);
    ck_assert(memcmp(got, "hello, world", 12) == 0);
}
END_TEST

/* client_body_timeout: the request ends with 408 logged and nothing
 * sent, and the connection is closed. */
START_TEST(body_timeout_closes_without_a_response)
{
    static pt_http_core_main_conf_t cmcf;
    static pt_http_connection_t     hc;
    static void                    *main_conf[8];
    char                            logpath[128], text[4096], buf[64];
    pt_uint_t                       i;
    ssize_t                         n;
    int                             rounds;

    /* what the finalizer reads: the log phase, the connection's state */
    memset(&cmcf, 0, sizeof(cmcf));
    for (i = 0; i < PT_HTTP_PHASES; i++) {
        ck_assert_int_eq(pt_array_init(&cmcf.phases[i], pool, 1,
                                       sizeof(pt_http_handler_pt)), PT_OK);
    }
    main_conf[2] = &cmcf;
    snprintf(logpath, sizeof(logpath), "%s.log", tmpdir);
    log_.fd = open(logpath, O_RDWR | O_CREAT | O_TRUNC, 0644);
    log_.level = PT_LOG_INFO;
    memset(&hc, 0, sizeof(hc));
    hc.log = &log_;
    c->data = &hc;

    /* the request owns a pool of its own: the finalizer destroys it */
    r->pool = pt_pool_create(4096, &log_);
    r->main_conf = main_conf;
    hc.request = r;
    clcf.client_body_timeout = 100;
    r->headers_in.content_length_n = 50;

    ck_assert_int_eq(pt_http_read_client_request_body(r, body_done),
                     PT_AGAIN);
    ck_assert_int_eq(write(fds[1], "partial", 7), 7);
    for (rounds = 0; rounds < 200 && c->fd != -1; rounds++) {
        (void) pt_event_process(pt_timer_find());
    }
    ck_assert_int_eq(c->fd, -1);          /* closed */
    ck_assert_int_eq(done, 0);            /* the handler never ran */
    n = read(fds[1], buf, sizeof(buf));
    ck_assert_int_eq(n, 0);               /* nothing was sent: EOF */
    n = pread(log_.fd, text, sizeof(text) - 1, 0);
    text[n > 0 ? n : 0] = '\0';
    ck_assert_ptr_nonnull(strstr(text, "client timed out"));
    close(log_.fd);
    log_.fd = -1;
    unlink(logpath);
}
END_TEST

START_TEST(body_already_with_the_head)
{
    static const char body[] = "0123456789";
    char              got[32];

    memcpy(r->header_in->last, body, 10);
    r->header_in->last += 10;
    r->headers_in.content_length_n = 10;
    /* complete at once: the handler runs before the call returns */
    ck_assert_int_eq(pt_http_read_client_request_body(r, body_done), PT_OK);
    ck_assert_int_eq(done, 1);
    ck_assert_uint_eq(body_bytes(got, sizeof(got)), 10);
    ck_assert(memcmp(got, body, 10) == 0);
}
END_TEST

Suite *
pt_test_suite(void)
{
    Suite *s = suite_create("http_body");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, content_length_in_memory);
    tcase_add_test(tc, large_body_goes_to_an_unlinked_temp_file);
    tcase_add_test(tc, chunked_body_is_dechunked);
    tcase_add_test(tc, body_already_with_the_head);
    tcase_add_test(tc, body_timeout_closes_without_a_response);
    suite_add_tcase(s, tc);
    return s;
}
