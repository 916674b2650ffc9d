/*
 * libFuzzer harness for pt_http_range_parse and the 206 framing built on
 * its result. Input: byte 0 picks the representation length, byte 1
 * max_ranges, the rest is the Range value (see the README for the
 * encoding; printable first bytes make readable seeds: "d*bytes=0-9" is
 * 100 bytes, no limit).
 *
 * Each value is parsed with the picked max_ranges and without a limit,
 * into an array that starts with room for one range (so it grows), and
 * checked:
 *  - the verdict is PT_OK, PT_DECLINED or 416, and equals that of a
 *    model written here from nginx 1.22's ngx_http_range_parse (one
 *    documented difference: Portico saturates the sum of the ranges,
 *    where nginx answers 416 once it passes 2^63 - 1);
 *  - on PT_OK: 1 <= count <= max_ranges, every range has
 *    0 <= start < end <= len and equals the model's, and the ranges add
 *    up to at most len;
 *  - on PT_OK the Content-Range values and the multipart framing are
 *    built (in exact-size pool strings under ASan) and must be exactly
 *    the expected bytes, with a Content-Length equal to the sum of the
 *    parts; when that sum passes 2^63 - 1, pt_http_range_multipart must
 *    refuse (PT_ERROR), and only then.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/array.h"
#include "common/log.h"
#include "common/pool.h"
#include "common/str.h"
#include "worker/http_range.h"
#include "worker/http_request.h"

#define OFF_MAX    ((off_t) INT64_MAX)

/*
 * Was a known bug (test/fuzz/crashes/range-multipart-content-length-
 * overflow): pt_http_range_multipart's test for a Content-Length past
 * 2^63 - 1 overflowed off_t itself. Fixed; -DFUZZ_RANGE_KNOWN_BUGS=1
 * would skip the multipart check for such parts again.
 */
#ifndef FUZZ_RANGE_KNOWN_BUGS
#define FUZZ_RANGE_KNOWN_BUGS 0
#endif
#define MODEL_MAX  4096          /* ranges the model keeps */

static void
fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_range: %s: %s\n", what, detail ? detail : "");
    abort();
}

#define CHECK(cond)                                                           \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fail("invariant", #cond);                                         \
        }                                                                     \
    } while (0)

/* ------------------------------------------------------------------ */
/* Input decoding                                                      */

static off_t
pick_len(uint8_t b, const uint8_t **p, size_t *n)
{
    static const off_t special[15] = {
        OFF_MAX, OFF_MAX - 1, OFF_MAX / 2, OFF_MAX / 2 + 1,
        1000000000000000000LL, 1000000000000000LL, 4294967296LL,
        4294967295LL, 2147483647LL, 2147483648LL, 1000, 999, 1001, 4096,
        1099511627776LL
    };
    uint64_t v = 0;
    int      i;

    if (b < 0xc0) {
        return b;                               /* 0..191 */
    }
    if (b < 0xe0) {
        return (off_t) 1 << (2 * (b - 0xc0));   /* 4^k up to 2^62 */
    }
    if (b < 0xf0) {
        for (v = 1000, i = 0xe0; i < b; i++) {
            v *= 10;                            /* 10^3 up to 10^18 */
        }
        return (off_t) v;
    }
    if (b < 0xff) {
        return special[b - 0xf0];
    }
    /* 0xff: the next 8 bytes, little-endian, as a non-negative off_t */
    for (i = 0; i < 8 && *n > 0; i++) {
        v |= (uint64_t) **p << (8 * i);
        (*p)++;
        (*n)--;
    }
    return (off_t) (v & (uint64_t) INT64_MAX);
}

static pt_uint_t
pick_max(uint8_t b)
{
    if (b == '*') {
        return PT_HTTP_RANGES_UNLIMITED;
    }
    if (b >= '0' && b <= '9') {
        return b - '0';
    }
    return b;
}

/* ------------------------------------------------------------------ */
/* The model                                                           */

typedef struct {
    int        rc;
    size_t     count;                 /* ranges pushed (all of them) */
    off_t      start[MODEL_MAX];
    off_t      end[MODEL_MAX];
    int        nginx_differs;         /* nginx would have said 416 */
} model_t;

/* The byte at q, or -1 at the end of the value (where nginx, reading a
 * NUL-terminated copy, sees '\0'; a NUL inside the value is an ordinary
 * byte here, as the header parser never lets one through anyway). */
#define AT(q)     ((q) < end ? (int) *(q) : -1)
#define DIGIT(c)  ((c) >= '0' && (c) <= '9')

static int
model_number(const u_char **qp, const u_char *end, off_t *v)
{
    const u_char *q = *qp;
    off_t         x = 0;

    if (!DIGIT(AT(q))) {
        return 0;
    }
    for (; DIGIT(AT(q)); q++) {
        if (x > OFF_MAX / 10
            || (x == OFF_MAX / 10 && *q - '0' > OFF_MAX % 10))
        {
            return 0;
        }
        x = x * 10 + (*q - '0');
    }
    *qp = q;
    *v = x;
    return 1;
}

static void
model(model_t *m, const u_char *v, size_t n, off_t len, pt_uint_t max)
{
    const u_char  *q, *end = v + n;
    off_t          a, b;
    __int128       total = 0;
    pt_uint_t      left = max;
    int            suffix;

    m->count = 0;
    m->nginx_differs = 0;
    if (max == 0 || n < 7 || strncasecmp((const char *) v, "bytes=", 6)) {
        m->rc = PT_DECLINED;
        return;
    }

    for (q = v + 6; ; q++) {           /* q++: past the ',' */
        a = 0;
        b = 0;
        suffix = 0;
        while (AT(q) == ' ') {
            q++;
        }
        if (AT(q) == '-') {
            suffix = 1;
            q++;
        } else {
            if (!model_number(&q, end, &a)) {
                goto syntax;
            }
            while (AT(q) == ' ') {
                q++;
            }
            if (AT(q) != '-') {
                goto syntax;
            }
            q++;
            while (AT(q) == ' ') {
                q++;
            }
            if (AT(q) == ',' || AT(q) == -1) {
                b = len;               /* "a-": exclusive end already */
                goto found;
            }
        }
        if (!model_number(&q, end, &b)) {
            goto syntax;
        }
        while (AT(q) == ' ') {
            q++;
        }
        if (AT(q) != ',' && AT(q) != -1) {
            goto syntax;
        }
        if (suffix) {
            a = b < len ? len - b : 0;
            b = len - 1;
        }
        b = b >= len ? len : b + 1;

    found:
        if (a < b) {
            if (m->count < MODEL_MAX) {
                m->start[m->count] = a;
                m->end[m->count] = b;
            }
            m->count++;
            if (total + (b - a) > (__int128) OFF_MAX) {
                m->nginx_differs = 1;
            }
            total += b - a;
            if (left-- == 0) {
                m->rc = PT_DECLINED;
                return;
            }
        } else if (a == 0) {
            m->rc = PT_DECLINED;
            return;
        }
        if (AT(q) != ',') {
            break;
        }
    }

    if (m->count == 0) {
        m->rc = PT_HTTP_RANGE_NOT_SATISFIABLE;
        return;
    }
    m->rc = total > len ? PT_DECLINED : PT_OK;
    return;

syntax:
    m->rc = PT_HTTP_RANGE_NOT_SATISFIABLE;
}

/* ------------------------------------------------------------------ */
/* Framing                                                             */

static void
check_framing(pt_pool_t *pool, const pt_array_t *ranges, off_t len,
              uint64_t boundary, int with_charset)
{
    const pt_http_range_t *r = ranges->elts;
    pt_http_multipart_t    mp;
    pt_str_t               cr, type, charset;
    char                   want[256], prefix[128], b[32];
    pt_uint_t              i;
    __int128               expect;
    int                    k, pk, rc;

    /* single part */
    CHECK(pt_http_range_content_range(pool, &r[0], len, &cr) == PT_OK);
    k = snprintf(want, sizeof(want), "bytes %" PRId64 "-%" PRId64 "/%" PRId64,
                 (int64_t) r[0].start, (int64_t) (r[0].end - 1),
                 (int64_t) len);
    CHECK(cr.len == (size_t) k && memcmp(cr.data, want, cr.len) == 0);

    /* 416 form */
    CHECK(pt_http_range_content_range(pool, NULL, len, &cr) == PT_OK);
    k = snprintf(want, sizeof(want), "bytes */%" PRId64, (int64_t) len);
    CHECK(cr.len == (size_t) k && memcmp(cr.data, want, cr.len) == 0);

    /* multipart */
    type.data = (u_char *) "text/plain";
    type.len = with_charset & 2 ? 0 : 10;
    charset.data = (u_char *) "utf-8";
    charset.len = 5;
    snprintf(b, sizeof(b), "%020" PRIu64, boundary);
    pk = snprintf(prefix, sizeof(prefix),
                  "\r\n--%s\r\n%s%s%sContent-Range: bytes ", b,
                  type.len ? "Content-Type: text/plain" : "",
                  type.len && (with_charset & 1) ? "; charset=utf-8" : "",
                  type.len ? "\r\n" : "");

    /* the expected Content-Length, without overflow */
    expect = (__int128) sizeof("\r\n----\r\n") - 1 + 20;
    for (i = 0; i < ranges->nelts; i++) {
        k = snprintf(want, sizeof(want), "%" PRId64 "-%" PRId64 "/%" PRId64
                     "\r\n\r\n", (int64_t) r[i].start,
                     (int64_t) (r[i].end - 1), (int64_t) len);
        expect += (__int128) pk + k + (r[i].end - r[i].start);
        if (FUZZ_RANGE_KNOWN_BUGS && r[i].end - r[i].start > OFF_MAX - 512) {
            return;
        }
    }

    rc = pt_http_range_multipart(pool, ranges, &type,
                                 with_charset & 1 ? &charset : NULL, len,
                                 boundary, &mp);
    if (expect > (__int128) OFF_MAX) {
        CHECK(rc == PT_ERROR);
        return;
    }
    CHECK(rc == PT_OK);
    CHECK(mp.nheaders == ranges->nelts);
    k = snprintf(want, sizeof(want), "multipart/byteranges; boundary=%s", b);
    CHECK(mp.content_type.len == (size_t) k
          && memcmp(mp.content_type.data, want, (size_t) k) == 0);
    k = snprintf(want, sizeof(want), "\r\n--%s--\r\n", b);
    CHECK(mp.trailer.len == (size_t) k
          && memcmp(mp.trailer.data, want, (size_t) k) == 0);
    for (i = 0; i < mp.nheaders; i++) {
        const pt_str_t *h = &mp.headers[i];

        k = snprintf(want, sizeof(want), "%s%" PRId64 "-%" PRId64 "/%" PRId64
                     "\r\n\r\n", prefix, (int64_t) r[i].start,
                     (int64_t) (r[i].end - 1), (int64_t) len);
        CHECK(h->len == (size_t) k && memcmp(h->data, want, h->len) == 0);
    }
    CHECK(mp.content_length == (off_t) expect);
}

/* ------------------------------------------------------------------ */

static model_t m;

static int
run(pt_pool_t *pool, const u_char *v, size_t n, off_t len, pt_uint_t max,
    uint64_t boundary, int flags)
{
    pt_array_t             ranges;
    const pt_http_range_t *r;
    __int128               total = 0;
    pt_uint_t              i;
    int                    rc;

    CHECK(pt_array_init(&ranges, pool, 1, sizeof(pt_http_range_t)) == PT_OK);
    rc = pt_http_range_parse(v, n, len, max, &ranges);
    CHECK(rc == PT_OK || rc == PT_DECLINED
          || rc == PT_HTTP_RANGE_NOT_SATISFIABLE);

    model(&m, v, n, len, max);
    if (rc != m.rc) {
        fprintf(stderr, "len %" PRId64 " max %lu: rc %d, model %d%s\n",
                (int64_t) len, (unsigned long) max, rc, m.rc,
                m.nginx_differs ? " (nginx: 416, sum overflows)" : "");
        fail("verdict", "differs from the model");
    }
    if (rc != PT_OK) {
        return rc;
    }

    r = ranges.elts;
    CHECK(ranges.nelts >= 1 && ranges.nelts <= max);
    CHECK(ranges.nelts == m.count);
    for (i = 0; i < ranges.nelts; i++) {
        CHECK(0 <= r[i].start && r[i].start < r[i].end && r[i].end <= len);
        CHECK(i >= MODEL_MAX
              || (r[i].start == m.start[i] && r[i].end == m.end[i]));
        total += r[i].end - r[i].start;
    }
    CHECK(total <= len);

    check_framing(pool, &ranges, len, boundary, flags);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static pt_log_t  log;
    pt_pool_t       *pool;
    const uint8_t   *p = data;
    size_t           n = size;
    off_t            len;
    pt_uint_t        max;
    uint8_t          b0, b1;
    int              rc, rc_any;

    if (size < 2) {
        return 0;
    }
    b0 = p[0];
    b1 = p[1];
    p += 2;
    n -= 2;
    len = pick_len(b0, &p, &n);
    max = pick_max(b1);

    log.fd = -1;
    pool = pt_pool_create(1024, &log);
    CHECK(pool != NULL);

    rc = run(pool, p, n, len, max, (uint64_t) size * 0x9e3779b97f4a7c15ULL,
             b1 & 3);
    rc_any = run(pool, p, n, len, PT_HTTP_RANGES_UNLIMITED, UINT64_MAX,
                 (b1 >> 2) & 3);

    /* a limit only turns a 206 with more ranges into a 200 */
    if (rc_any == PT_OK && max != PT_HTTP_RANGES_UNLIMITED) {
        CHECK(rc == (m.count <= max ? PT_OK : PT_DECLINED));
    }

    pt_pool_destroy(pool);
    return 0;
}
