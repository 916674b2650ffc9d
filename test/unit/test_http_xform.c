/*
 * Unit tests for worker/http_xform (the streaming engine of the coding
 * filters), with the codecs written here: a copy codec to watch the
 * buffers, flags and back-pressure, and zlib deflate to check that a
 * `flush` buffer is sync-flushed (what was sent so far decodes) and that
 * last_buf ends the stream, whatever the input's split.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "common/buf.h"
#include "common/file.h"
#include "common/pool.h"
#include "worker/http_request.h"
#include "worker/http_xform.h"

/* What the next filter received, and whether it "sends" it. */
static u_char     sent[1 << 20];
static size_t     sent_len;
static int        sent_flushes, sent_last, socket_blocked;
static pt_chain_t *held;       /* buffers the blocked socket still holds */

static void
take(pt_buf_t *b)
{
    memcpy(sent + sent_len, b->pos, (size_t) (b->last - b->pos));
    sent_len += (size_t) (b->last - b->pos);
    b->pos = b->last;
    sent_flushes += b->flush;
    sent_last += b->last_buf;
}

static int
next_filter(pt_http_request_t *r, pt_chain_t *in)
{
    pt_chain_t *cl, *ln;

    for (cl = in; cl != NULL; cl = cl->next) {
        if (socket_blocked) {
            ln = pt_alloc_chain_link(r->pool);
            ln->buf = cl->buf;
            ln->next = held;
            held = ln;
            continue;
        }
        take(cl->buf);
    }
    return socket_blocked && held != NULL ? PT_AGAIN : PT_OK;
}

static void
unblock(void)
{
    pt_chain_t *cl, *rev = NULL, *n;

    for (cl = held; cl != NULL; cl = n) {     /* in the order received */
        n = cl->next;
        cl->next = rev;
        rev = cl;
    }
    for (cl = rev; cl != NULL; cl = cl->next) {
        take(cl->buf);
    }
    held = NULL;
    socket_blocked = 0;
}

static int
copy_step(pt_http_request_t *r, pt_http_xform_t *x, int mode)
{
    size_t n = pt_min(x->avail_in, (size_t) (x->out_buf->end
                                             - x->out_buf->last));

    (void) r;
    memcpy(x->out_buf->last, x->next_in, n);
    x->out_buf->last += n;
    x->next_in += n;
    x->avail_in -= n;
    return mode == PT_XFORM_FINISH ? PT_DONE : PT_OK;
}

static z_stream zs;

static int
deflate_step(pt_http_request_t *r, pt_http_xform_t *x, int mode)
{
    static const int f[] = { Z_NO_FLUSH, Z_SYNC_FLUSH, Z_FINISH };
    int              rc;

    (void) r;
    zs.next_in = (u_char *) x->next_in;
    zs.avail_in = (uInt) x->avail_in;
    zs.next_out = x->out_buf->last;
    zs.avail_out = (uInt) (x->out_buf->end - x->out_buf->last);
    rc = deflate(&zs, f[mode]);
    x->next_in = zs.next_in;
    x->avail_in = zs.avail_in;
    x->out_buf->last = zs.next_out;
    return rc == Z_STREAM_END ? PT_DONE : rc == Z_STREAM_ERROR ? PT_ERROR
                                                               : PT_OK;
}

static pt_http_request_t req;

static void
setup(void)
{
    memset(&req, 0, sizeof(req));
    req.pool = pt_pool_create(4096, NULL);
    sent_len = 0;
    sent_flushes = sent_last = socket_blocked = 0;
    held = NULL;
}

static void
teardown(void)
{
    pt_pool_destroy(req.pool);
}

static pt_chain_t *
mem(const char *s, size_t n, int flush, int last)
{
    pt_chain_t *cl = pt_alloc_chain_link(req.pool);
    pt_buf_t   *b = pt_buf_calloc(req.pool);

    b->pos = b->start = (u_char *) s;
    b->last = b->end = (u_char *) s + n;
    b->memory = n > 0;
    b->flush = flush;
    b->last_buf = last;
    cl->buf = b;
    cl->next = NULL;
    return cl;
}

START_TEST(copy_bounded_with_backpressure)
{
    static char     data[10000];
    pt_http_xform_t x;
    size_t          i;
    int             rc;

    for (i = 0; i < sizeof(data); i++) {
        data[i] = (char) ('a' + i % 26);
    }
    memset(&x, 0, sizeof(x));
    pt_http_xform_init(&x, &x, 0x01, 3, 100, copy_step, next_filter, NULL);

    socket_blocked = 1;
    rc = pt_http_xform_body(&req, &x, mem(data, sizeof(data), 0, 1));
    /* 3 buffers of 100 out, then it waits for the socket */
    ck_assert_int_eq(rc, PT_AGAIN);
    ck_assert_uint_eq(req.buffered & 0x01, 0x01);
    ck_assert_uint_eq(x.nbufs, 3);
    ck_assert_uint_eq(sent_len, 0);
    for (i = 0; i < 200 && !x.done; i++) {
        unblock();
        socket_blocked = 1;
        rc = pt_http_xform_body(&req, &x, NULL);
        ck_assert_uint_eq(x.nbufs, 3);     /* never more buffers */
    }
    unblock();
    rc = pt_http_xform_body(&req, &x, NULL);
    ck_assert_int_eq(rc, PT_OK);
    ck_assert(x.done);
    ck_assert_uint_eq(req.buffered & 0x01, 0);
    ck_assert_uint_eq(sent_len, sizeof(data));
    ck_assert(memcmp(sent, data, sizeof(data)) == 0);
    ck_assert_int_eq(sent_last, 1);
}
END_TEST

START_TEST(copy_flush_passes_at_once)
{
    pt_http_xform_t x;

    memset(&x, 0, sizeof(x));
    pt_http_xform_init(&x, &x, 0x01, 4, 4096, copy_step, next_filter, NULL);
    ck_assert_int_eq(pt_http_xform_body(&req, &x, mem("event: 1\n", 9, 1, 0)),
                     PT_OK);
    ck_assert_uint_eq(sent_len, 9);
    ck_assert_int_eq(sent_flushes, 1);
    /* no flush: held in the buffer being filled */
    ck_assert_int_eq(pt_http_xform_body(&req, &x, mem("more", 4, 0, 0)),
                     PT_OK);
    ck_assert_uint_eq(sent_len, 9);
    /* a flag-only flush buffer sends it */
    ck_assert_int_eq(pt_http_xform_body(&req, &x, mem(NULL, 0, 1, 0)),
                     PT_OK);
    ck_assert_uint_eq(sent_len, 13);
    ck_assert_int_eq(pt_http_xform_body(&req, &x, mem(NULL, 0, 0, 1)),
                     PT_OK);
    ck_assert_int_eq(sent_last, 1);
    ck_assert(x.done);
}
END_TEST

/* Inflate what was sent so far (a sync flush makes it all decodable). */
static size_t
inflate_sent(u_char *out, size_t cap)
{
    z_stream in;
    size_t   n;

    memset(&in, 0, sizeof(in));
    ck_assert_int_eq(inflateInit2(&in, 16 + MAX_WBITS), Z_OK);
    in.next_in = sent;
    in.avail_in = (uInt) sent_len;
    in.next_out = out;
    in.avail_out = (uInt) cap;
    (void) inflate(&in, Z_SYNC_FLUSH);
    n = cap - in.avail_out;
    inflateEnd(&in);
    return n;
}

START_TEST(deflate_sync_flush_and_finish)
{
    static u_char   text[200000], out[300000];
    pt_http_xform_t x;
    size_t          i, off = 0, piece;
    int             k = 0;

    for (i = 0; i < sizeof(text); i++) {
        text[i] = (u_char) ("the quick brown fox "[i % 20] ^ (i % 7 == 0));
    }
    memset(&zs, 0, sizeof(zs));
    ck_assert_int_eq(deflateInit2(&zs, 1, Z_DEFLATED, 16 + 15, 8,
                                  Z_DEFAULT_STRATEGY), Z_OK);
    memset(&x, 0, sizeof(x));
    pt_http_xform_init(&x, &x, 0x01, 4, 1024, deflate_step, next_filter,
                       NULL);
    /* uneven pieces, every third one flushed: after each flush the
     * client can decode everything up to it */
    while (off < sizeof(text)) {
        piece = pt_min(sizeof(text) - off, (size_t) (1 + (k * 7919) % 9000));
        k++;
        ck_assert_int_ne(pt_http_xform_body(&req, &x,
                                            mem((char *) text + off, piece,
                                                k % 3 == 0, 0)),
                         PT_ERROR);
        off += piece;
        if (k % 3 == 0) {
            ck_assert_uint_eq(inflate_sent(out, sizeof(out)), off);
            ck_assert(memcmp(out, text, off) == 0);
        }
    }
    ck_assert_int_eq(pt_http_xform_body(&req, &x, mem(NULL, 0, 0, 1)), PT_OK);
    ck_assert(x.done);
    ck_assert_uint_eq(inflate_sent(out, sizeof(out)), sizeof(text));
    ck_assert(memcmp(out, text, sizeof(text)) == 0);
    ck_assert_uint_le(x.nbufs, 4);
    deflateEnd(&zs);
}
END_TEST

/*
 * A file range read whole is given back to its producer at once (its
 * file_pos reaches file_last): the proxy reuses that descriptor for its
 * next read while the bytes still wait in the transform. Those next bytes
 * must be transformed, not taken as the old range's end.
 */
START_TEST(file_descriptor_reused_after_read)
{
    static char     data[2000];
    char            path[] = "/tmp/pt-xform-XXXXXX";
    pt_http_xform_t x;
    pt_file_t       f;
    pt_chain_t     *cl;
    pt_buf_t       *b;
    size_t          i;
    int             rc;

    for (i = 0; i < sizeof(data); i++) {
        data[i] = (char) ('a' + i % 26);
    }
    memset(&f, 0, sizeof(f));
    f.fd = mkstemp(path);
    ck_assert_int_ge(f.fd, 0);
    unlink(path);
    ck_assert_int_eq(write(f.fd, data, sizeof(data)), (int) sizeof(data));
    f.name.data = (u_char *) path;
    f.name.len = strlen(path);

    memset(&x, 0, sizeof(x));
    pt_http_xform_init(&x, &x, 0x01, 1, 100, copy_step, next_filter, NULL);
    cl = mem(NULL, 0, 0, 0);
    b = cl->buf;
    b->in_file = 1;
    b->file = &f;
    b->file_pos = 0;
    b->file_last = sizeof(data);
    socket_blocked = 1;
    ck_assert_int_eq(pt_http_xform_body(&req, &x, cl), PT_AGAIN);
    ck_assert(pt_buf_size(b) == 0);     /* read: the producer's again */

    /* the producer's next bytes, in the same descriptor */
    memset(b, 0, sizeof(*b));
    b->pos = b->start = (u_char *) "NEXT";
    b->last = b->end = b->pos + 4;
    b->memory = 1;
    b->last_buf = 1;
    cl = pt_alloc_chain_link(req.pool);
    cl->buf = b;
    cl->next = NULL;
    rc = pt_http_xform_body(&req, &x, cl);
    for (i = 0; i < 100 && !x.done; i++) {
        ck_assert_int_ne(rc, PT_ERROR);
        unblock();
        socket_blocked = 1;
        rc = pt_http_xform_body(&req, &x, NULL);
    }
    unblock();
    ck_assert(x.done);
    ck_assert_uint_eq(sent_len, sizeof(data) + 4);
    ck_assert(memcmp(sent, data, sizeof(data)) == 0);
    ck_assert(memcmp(sent + sizeof(data), "NEXT", 4) == 0);
    ck_assert_int_eq(sent_last, 1);
    close(f.fd);
}
END_TEST

Suite *
pt_test_suite(void)
{
    Suite *s = suite_create("http_xform");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, copy_bounded_with_backpressure);
    tcase_add_test(tc, copy_flush_passes_at_once);
    tcase_add_test(tc, deflate_sync_flush_and_finish);
    tcase_add_test(tc, file_descriptor_reused_after_read);
    suite_add_tcase(s, tc);
    return s;
}
