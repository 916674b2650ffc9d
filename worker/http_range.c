/*
 * Range header evaluation and 206 framing. The parser reproduces nginx
 * 1.22's range filter verdicts (checked against the real binary, see
 * test/unit/test_http_range.c), including its less obvious ones: syntax
 * errors give 416 rather than a full 200, and an empty range at offset 0
 * gives a full 200.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/array.h"
#include "common/pool.h"
#include "http_range.h"
#include "http_request.h"

_Static_assert(sizeof(off_t) == 8, "64-bit off_t expected");

#define OFF_MAX ((off_t) INT64_MAX)

/* "bytes " + 3 numbers + "-" + "/" */
#define CONTENT_RANGE_MAX (sizeof("bytes -/") - 1 + 3 * PT_INT64_LEN)

static const u_char *
skip_spaces(const u_char *p, const u_char *end)
{
    /* only SP, as nginx: a tab is a syntax error */
    while (p < end && *p == ' ') {
        p++;
    }
    return p;
}

/* One or more digits, at most OFF_MAX; 0 on no digit or overflow. */
static int
read_offset(const u_char **pp, const u_char *end, off_t *v)
{
    const u_char *p = *pp;
    off_t         n = 0;

    if (p == end || *p < '0' || *p > '9') {
        return 0;
    }
    for (; p < end && *p >= '0' && *p <= '9'; p++) {
        if (n > (OFF_MAX - (*p - '0')) / 10) {
            return 0;
        }
        n = n * 10 + (*p - '0');
    }
    *pp = p;
    *v = n;
    return 1;
}

/*
 * Parse one "a-b", "a-" or "-n" at *pp into [*start, *end) clipped to len
 * (which may leave it empty). Leaves *pp on the ',' or at the end.
 * Returns 0 on a syntax error.
 */
static int
parse_one(const u_char **pp, const u_char *end, off_t len, off_t *start,
          off_t *last)
{
    const u_char *p = skip_spaces(*pp, end);
    off_t         a = 0, b;
    int           suffix = 0;

    if (p < end && *p == '-') {
        suffix = 1;
        p++;

    } else {
        if (!read_offset(&p, end, &a)) {
            return 0;
        }
        p = skip_spaces(p, end);
        if (p == end || *p++ != '-') {
            return 0;
        }
        p = skip_spaces(p, end);
        if (p == end || *p == ',') {
            /* "a-": to the end */
            *start = a;
            *last = len;
            *pp = p;
            return 1;
        }
    }

    if (!read_offset(&p, end, &b)) {
        return 0;
    }
    p = skip_spaces(p, end);
    if (p < end && *p != ',') {
        return 0;
    }

    if (suffix) {
        /* the last b bytes; all of them when b is larger */
        a = b < len ? len - b : 0;
        b = len - 1;
    }
    /* inclusive to exclusive, clipped (b + 1 cannot overflow: b < len) */
    *start = a;
    *last = b >= len ? len : b + 1;
    *pp = p;
    return 1;
}

int
pt_http_range_parse(const u_char *value, size_t n, off_t len,
                    pt_uint_t max_ranges, pt_array_t *ranges)
{
    const u_char    *p, *end;
    pt_http_range_t *r;
    off_t            start, last, size = 0;
    pt_uint_t        left = max_ranges;
    int              too_big = 0;

    if (max_ranges == 0 || n < sizeof("bytes=x") - 1
        || pt_strncasecmp(value, (const u_char *) "bytes=", 6) != 0)
    {
        return PT_DECLINED;
    }

    ranges->nelts = 0;
    p = value + 6;
    end = value + n;

    for (;;) {
        if (!parse_one(&p, end, len, &start, &last)) {
            return PT_HTTP_RANGE_NOT_SATISFIABLE;
        }

        if (start < last) {
            r = pt_array_push(ranges);
            if (r == NULL) {
                return PT_ERROR;
            }
            r->start = start;
            r->end = last;

            /* saturate instead of overflowing: the sum only matters
             * while it is <= len */
            if (last - start > len - size) {
                too_big = 1;
            } else {
                size += last - start;
            }

            if (left-- == 0) {
                return PT_DECLINED;
            }

        } else if (start == 0) {
            /* nginx: an empty range at 0 means "serve it all" */
            return PT_DECLINED;
        }
        /* else: starts at or past len, skipped */

        if (p == end) {
            break;
        }
        p++;   /* the ',' parse_one stopped on */
    }

    if (ranges->nelts == 0) {
        return PT_HTTP_RANGE_NOT_SATISFIABLE;
    }

    /* overlapping ranges that ask for more than the whole: send it all */
    return too_big ? PT_DECLINED : PT_OK;
}

int
pt_http_range_content_range(pt_pool_t *pool, const pt_http_range_t *r,
                            off_t len, pt_str_t *out)
{
    u_char *p;
    int     n;

    p = pt_pnalloc(pool, CONTENT_RANGE_MAX + 1);
    if (p == NULL) {
        return PT_ERROR;
    }

    if (r != NULL) {
        n = snprintf((char *) p, CONTENT_RANGE_MAX + 1,
                     "bytes %" PRId64 "-%" PRId64 "/%" PRId64,
                     (int64_t) r->start, (int64_t) (r->end - 1),
                     (int64_t) len);
    } else {
        n = snprintf((char *) p, CONTENT_RANGE_MAX + 1, "bytes */%" PRId64,
                     (int64_t) len);
    }

    out->data = p;
    out->len = (size_t) n;
    return PT_OK;
}

/* "\r\n--B\r\n[Content-Type: T[; charset=C]\r\n]Content-Range: bytes " */
#define PT_OFF_T_MAX ((off_t) INT64_MAX)

static int
part_prefix(pt_pool_t *pool, const char *boundary, const pt_str_t *type,
            const pt_str_t *charset, pt_str_t *out)
{
    size_t  size;
    u_char *p;

    /* sizeof counts one NUL: room for the one stpcpy writes at the end */
    size = sizeof("\r\n--\r\nContent-Type: ; charset=\r\n"
                  "Content-Range: bytes ")
           + PT_HTTP_RANGE_BOUNDARY_LEN + type->len
           + (charset != NULL ? charset->len : 0);

    p = pt_pnalloc(pool, size);
    if (p == NULL) {
        return PT_ERROR;
    }
    out->data = p;

    p = (u_char *) stpcpy((char *) p, "\r\n--");
    p = (u_char *) stpcpy((char *) p, boundary);
    p = (u_char *) stpcpy((char *) p, "\r\n");

    if (type->len) {
        p = (u_char *) stpcpy((char *) p, "Content-Type: ");
        memcpy(p, type->data, type->len);
        p += type->len;
        if (charset != NULL && charset->len) {
            p = (u_char *) stpcpy((char *) p, "; charset=");
            memcpy(p, charset->data, charset->len);
            p += charset->len;
        }
        p = (u_char *) stpcpy((char *) p, "\r\n");
    }

    p = (u_char *) stpcpy((char *) p, "Content-Range: bytes ");
    out->len = (size_t) (p - out->data);
    return PT_OK;
}

int
pt_http_range_multipart(pt_pool_t *pool, const pt_array_t *ranges,
                        const pt_str_t *type, const pt_str_t *charset,
                        off_t len, uint64_t boundary, pt_http_multipart_t *mp)
{
    char                   b[PT_HTTP_RANGE_BOUNDARY_LEN + 1];
    const pt_http_range_t *r = ranges->elts;
    pt_str_t               prefix;
    pt_uint_t              i;
    size_t                 max;
    u_char                *p;
    off_t                  total;

    snprintf(b, sizeof(b), "%0*" PRIu64, PT_HTTP_RANGE_BOUNDARY_LEN,
             boundary);

    if (part_prefix(pool, b, type, charset, &prefix) != PT_OK) {
        return PT_ERROR;
    }

    mp->headers = pt_palloc(pool, ranges->nelts * sizeof(pt_str_t));
    /* + 1: the NUL the last stpcpy writes */
    p = pt_pnalloc(pool, sizeof("multipart/byteranges; boundary=") - 1
                         + PT_HTTP_RANGE_BOUNDARY_LEN
                         + sizeof("\r\n----\r\n") - 1
                         + PT_HTTP_RANGE_BOUNDARY_LEN + 1);
    if (mp->headers == NULL || p == NULL) {
        return PT_ERROR;
    }

    mp->content_type.data = p;
    p = (u_char *) stpcpy((char *) p, "multipart/byteranges; boundary=");
    p = (u_char *) stpcpy((char *) p, b);
    mp->content_type.len = (size_t) (p - mp->content_type.data);

    mp->trailer.data = p;
    p = (u_char *) stpcpy((char *) p, "\r\n--");
    p = (u_char *) stpcpy((char *) p, b);
    p = (u_char *) stpcpy((char *) p, "--\r\n");
    mp->trailer.len = (size_t) (p - mp->trailer.data);

    total = (off_t) mp->trailer.len;
    /* "S-L/LEN\r\n\r\n" after the shared prefix */
    max = prefix.len + 3 * PT_INT64_LEN + sizeof("-/\r\n\r\n");

    for (i = 0; i < ranges->nelts; i++) {
        p = pt_pnalloc(pool, max);
        if (p == NULL) {
            return PT_ERROR;
        }
        memcpy(p, prefix.data, prefix.len);
        mp->headers[i].data = p;
        mp->headers[i].len = prefix.len
            + (size_t) snprintf((char *) p + prefix.len, max - prefix.len,
                                "%" PRId64 "-%" PRId64 "/%" PRId64 "\r\n\r\n",
                                (int64_t) r[i].start, (int64_t) (r[i].end - 1),
                                (int64_t) len);
        /* a length near the off_t limit cannot be described (no real
         * file is that large): refuse instead of overflowing */
        if ((off_t) mp->headers[i].len > PT_OFF_T_MAX - total
            || r[i].end - r[i].start
               > PT_OFF_T_MAX - total - (off_t) mp->headers[i].len)
        {
            return PT_ERROR;
        }
        total += (off_t) mp->headers[i].len + (r[i].end - r[i].start);
    }

    mp->nheaders = ranges->nelts;
    mp->content_length = total;
    return PT_OK;
}
