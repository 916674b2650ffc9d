/*
 * Test driver for worker/http_parse, shared by the unit tests and the
 * libFuzzer harnesses: feeds an input in stages the way a connection does
 * (moving the buffer and rebasing at every stage), logs every result with
 * positions as offsets, and checks invariants on each one.
 */
#ifndef PT_HTTP_PARSE_DRIVER_H
#define PT_HTTP_PARSE_DRIVER_H

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "worker/http_parse.h"

/* Each user takes only some of these. */
#define DRV_FN static __attribute__((unused))

#define DRV_MAX_EVENTS  256
#define DRV_MAX_REQS    32
#define DRV_NORM_MAX    128    /* bytes of a normalised path kept in a log */

enum { DRV_REQUEST = 1, DRV_HEADER, DRV_END };

/* One parser result; zeroed first so that whole events compare with
 * memcmp. Offsets are from the buffer start, -1 for NULL. */
typedef struct {
    int        kind;
    int        rc;
    long       pos;
    long       off[19];
    pt_uint_t  method, major, minor, version, flags;
    pt_uint_t  hash, lcidx, invalid;
    u_char     lc[PT_HTTP_LC_HEADER_LEN];
    int        norm_rc[2];            /* merge_slashes off, on */
    size_t     norm_len[2];
    long       norm_ext[2];
    u_char     norm[2][DRV_NORM_MAX];
} drv_event_t;

typedef struct {
    drv_event_t  ev[DRV_MAX_EVENTS];
    int          nev;
    const char  *violation;           /* first broken invariant, or NULL */
} drv_log_t;

#define DRV_CHECK(log, cond)                                                  \
    do {                                                                      \
        if (!(cond) && (log)->violation == NULL) {                            \
            (log)->violation = #cond;                                         \
        }                                                                     \
    } while (0)

DRV_FN int
drv_ctl(u_char c)
{
    return c < 0x20 || c == 0x7f;
}

DRV_FN long
drv_off(const u_char *base, const u_char *p)
{
    return p == NULL ? -1 : (long) (p - base);
}

DRV_FN int
drv_has(const u_char *s, size_t n, const char *needle)
{
    return memmem(s, n, needle, strlen(needle)) != NULL;
}

/* Normalise once, check the output, store it in the event. */
DRV_FN void
drv_normalize_one(drv_log_t *log, drv_event_t *e, int merge,
                  const u_char *path, size_t len)
{
    u_char *dst = malloc(len ? len : 1), *ext, *again, *ext2;
    size_t  n, n2;
    int     rc;

    rc = pt_http_normalize_path(path, len, dst, &n, merge, &ext);
    e->norm_rc[merge] = rc;
    if (rc == PT_OK) {
        DRV_CHECK(log, n >= 1 && n <= len && dst[0] == '/');
        DRV_CHECK(log, memchr(dst, '\0', n) == NULL);
        DRV_CHECK(log, !merge || !drv_has(dst, n, "//"));
        DRV_CHECK(log, !drv_has(dst, n, "/./") && !drv_has(dst, n, "/../"));
        DRV_CHECK(log, !(n >= 2 && memcmp(dst + n - 2, "/.", 2) == 0));
        DRV_CHECK(log, !(n >= 3 && memcmp(dst + n - 3, "/..", 3) == 0));
        DRV_CHECK(log, ext == NULL || (ext > dst + 1 && ext <= dst + n
                                       && ext[-1] == '.' && ext[-2] != '/'
                                       && memchr(ext, '/', dst + n - ext)
                                          == NULL));
        e->norm_len[merge] = n;
        e->norm_ext[merge] = drv_off(dst, ext);
        memcpy(e->norm[merge], dst, pt_min(n, (size_t) DRV_NORM_MAX));

        /* without escapes or fragments left, normalising is idempotent */
        if (memchr(dst, '%', n) == NULL && memchr(dst, '#', n) == NULL) {
            again = malloc(n);
            rc = pt_http_normalize_path(dst, n, again, &n2, merge, &ext2);
            DRV_CHECK(log, rc == PT_OK && n2 == n
                           && memcmp(again, dst, n) == 0
                           && drv_off(again, ext2) == drv_off(dst, ext));
            free(again);
        }
    }
    free(dst);
}

DRV_FN void
drv_request_event(drv_log_t *log, drv_event_t *e, pt_http_parse_t *p,
                  const u_char *base, pt_buf_t *b)
{
    u_char *q, *path_end, *frag;
    size_t  plen;
    int     has_pct = 0, merge;

    e->off[0] = drv_off(base, p->request_start);
    e->off[1] = drv_off(base, p->request_end);
    e->off[2] = drv_off(base, p->method_start);
    e->off[3] = drv_off(base, p->method_end);
    e->off[4] = drv_off(base, p->uri_start);
    e->off[5] = drv_off(base, p->uri_end);
    e->off[6] = drv_off(base, p->schema_start);
    e->off[7] = drv_off(base, p->schema_end);
    e->off[8] = drv_off(base, p->host_start);
    e->off[9] = drv_off(base, p->host_end);
    e->off[10] = drv_off(base, p->port_start);
    e->off[11] = drv_off(base, p->port_end);
    e->off[12] = drv_off(base, p->args_start);
    e->off[13] = drv_off(base, p->uri_ext);
    e->off[14] = drv_off(base, p->line_start);
    e->method = p->method;
    e->major = p->http_major;
    e->minor = p->http_minor;
    e->version = p->http_version;
    e->flags = p->complex_uri | p->quoted_uri << 1 | p->plus_in_uri << 2
               | p->empty_path_in_uri << 3;

    if (e->rc != PT_OK && e->rc != PT_HTTP_PARSE_INVALID_VERSION) {
        DRV_CHECK(log, b->pos >= base && b->pos < b->last);
        return;
    }

    DRV_CHECK(log, p->line_start == NULL && p->method != 0);
    DRV_CHECK(log, p->request_start == p->method_start);
    DRV_CHECK(log, p->method_start < p->method_end
                   && *p->method_end == ' ');
    for (q = p->method_start; q < p->method_end; q++) {
        DRV_CHECK(log, (*q >= 'A' && *q <= 'Z') || *q == '_' || *q == '-');
    }
    DRV_CHECK(log, p->uri_start != NULL && p->uri_start <= p->uri_end);
    DRV_CHECK(log, p->uri_end + 9 <= p->request_end
                   && *p->uri_end == ' ');
    DRV_CHECK(log, p->request_end < b->pos && b->pos <= b->last);
    DRV_CHECK(log, *p->request_end == '\r' || *p->request_end == '\n');
    DRV_CHECK(log, b->pos[-1] == '\n');
    DRV_CHECK(log, p->http_version == p->http_major * 1000 + p->http_minor);
    for (q = p->method_end + 1; q < p->uri_end; q++) {
        DRV_CHECK(log, *q != ' ' && !drv_ctl(*q));
    }
    DRV_CHECK(log, p->args_start == NULL
                   || (p->args_start > p->uri_start
                       && p->args_start <= p->uri_end
                       && p->args_start[-1] == '?'));
    path_end = p->args_start ? p->args_start - 1 : p->uri_end;
    frag = memchr(p->uri_start, '#', path_end - p->uri_start);
    frag = frag ? frag : path_end;
    DRV_CHECK(log, p->uri_ext == NULL
                   || (p->uri_ext > p->uri_start && p->uri_ext <= frag
                       && p->uri_ext[-1] == '.'
                       && memchr(p->uri_ext, '/', frag - p->uri_ext)
                          == NULL));
    DRV_CHECK(log, (p->schema_start == NULL) == (p->host_start == NULL));
    DRV_CHECK(log, p->schema_start == NULL
                   || (p->schema_start < p->schema_end
                       && *p->schema_end == ':'
                       && p->host_start < p->host_end
                       && p->host_end <= p->uri_start));
    DRV_CHECK(log, p->empty_path_in_uri
                   ? (p->schema_start != NULL && p->uri_start == path_end)
                   : (p->uri_start < path_end && *p->uri_start == '/'));

    plen = path_end - p->uri_start;
    for (q = p->uri_start; q < path_end && *q != '#'; q++) {
        has_pct |= *q == '%';
    }
    if (!p->complex_uri) {
        DRV_CHECK(log, !has_pct && memchr(p->uri_start, '#', plen) == NULL
                       && !drv_has(p->uri_start, plen, "/.")
                       && !drv_has(p->uri_start, plen, "//"));
    }
    DRV_CHECK(log, p->quoted_uri == has_pct);

    if (e->rc == PT_OK) {
        DRV_CHECK(log, p->http_major == 1);
        for (merge = 0; merge < 2 && !p->empty_path_in_uri; merge++) {
            drv_normalize_one(log, e, merge, p->uri_start, plen);
        }
    }
}

DRV_FN void
drv_header_event(drv_log_t *log, drv_event_t *e, pt_http_parse_t *p,
                 const u_char *base, pt_buf_t *b)
{
    pt_uint_t  hash = 0, invalid = 0;
    u_char    *q, c;
    size_t     len;

    e->off[0] = drv_off(base, p->header_name_start);
    e->off[1] = drv_off(base, p->header_name_end);
    e->off[2] = drv_off(base, p->header_start);
    e->off[3] = drv_off(base, p->header_end);
    e->off[4] = drv_off(base, p->line_start);
    e->hash = p->header_hash;
    e->lcidx = p->lowcase_index;
    e->invalid = p->invalid_header;
    memcpy(e->lc, p->lowcase_header, p->lowcase_index);

    if (e->rc != PT_OK) {
        DRV_CHECK(log, e->rc == PT_HTTP_PARSE_HEADER_DONE
                       ? (b->pos[-1] == '\n' && p->line_start == NULL)
                       : (b->pos >= base && b->pos < b->last));
        return;
    }

    DRV_CHECK(log, p->line_start == NULL);
    DRV_CHECK(log, p->header_name_start < p->header_name_end
                   && *p->header_name_end == ':');
    DRV_CHECK(log, p->header_name_end < p->header_start
                   && p->header_start <= p->header_end
                   && p->header_end < b->pos && b->pos[-1] == '\n');
    len = p->header_name_end - p->header_name_start;
    for (q = p->header_name_start; q < p->header_name_end; q++) {
        DRV_CHECK(log, *q > ' ' && *q != 0x7f && *q != ':');
        c = (*q >= 'A' && *q <= 'Z') ? (*q | 0x20) : *q;
        hash = PT_HTTP_HASH(hash, c);
        if (*q == '_') {
            invalid |= PT_HTTP_HEADER_UNDERSCORE;
        } else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
                     || c == '-'))
        {
            invalid |= PT_HTTP_HEADER_BAD_CHAR;
        }
        if (q - p->header_name_start < PT_HTTP_LC_HEADER_LEN) {
            DRV_CHECK(log, p->lowcase_header[q - p->header_name_start] == c);
        }
    }
    DRV_CHECK(log, hash == p->header_hash && invalid == p->invalid_header);
    DRV_CHECK(log, p->lowcase_index == pt_min(len, PT_HTTP_LC_HEADER_LEN));
    for (q = p->header_start; q < p->header_end; q++) {
        DRV_CHECK(log, *q == '\t' || !drv_ctl(*q));
    }
    if (p->header_start < p->header_end) {
        DRV_CHECK(log, *p->header_start != ' ' && *p->header_start != '\t');
        DRV_CHECK(log, p->header_end[-1] != ' '
                       && p->header_end[-1] != '\t');
    }
    for (q = p->header_end; q < b->pos - 1; q++) {
        DRV_CHECK(log, *q == ' ' || *q == '\t' || *q == '\r');
    }
}

/*
 * Parse requests (line + headers, pipelined) from in[0..n), the bytes
 * arriving in stages: cuts[0..ncuts) are increasing lengths available,
 * then all n. At each stage the data moves to a new exact-size buffer and
 * the parser is rebased, so stale pointers and overreads show up under
 * ASan.
 */
DRV_FN void
drv_run(drv_log_t *log, const u_char *in, size_t n, const size_t *cuts,
        size_t ncuts)
{
    pt_http_parse_t  p;
    pt_buf_t         b;
    drv_event_t     *e;
    u_char          *buf, *nbuf;
    size_t           avail, next, stage = 0, nreq = 0;
    int              rc, in_headers = 0;

    log->nev = 0;               /* events are zeroed as they are taken */
    log->violation = NULL;
    pt_http_parse_init(&p);
    memset(&b, 0, sizeof(b));

    avail = ncuts ? pt_min(cuts[0], n) : n;
    buf = malloc(avail ? avail : 1);
    memcpy(buf, in, avail);
    b.start = b.pos = buf;
    b.last = b.end = buf + avail;

    while (log->nev < DRV_MAX_EVENTS && nreq < DRV_MAX_REQS) {
        rc = in_headers ? pt_http_parse_header_line(&p, &b)
                        : pt_http_parse_request_line(&p, &b);

        if (rc == PT_AGAIN) {
            DRV_CHECK(log, b.pos == b.last);
            if (avail == n) {
                break;
            }
            next = ++stage < ncuts ? pt_min(cuts[stage], n) : n;
            if (next <= avail) {
                continue;
            }
            nbuf = malloc(next);
            memcpy(nbuf, buf, avail);
            memcpy(nbuf + avail, in + avail, next - avail);
            pt_http_parse_rebase(&p, buf, buf + avail,
                                 (ptrdiff_t) ((uintptr_t) nbuf
                                              - (uintptr_t) buf));
            b.pos = nbuf + (b.pos - buf);
            free(buf);
            buf = nbuf;
            b.start = buf;
            b.last = b.end = buf + next;
            avail = next;
            continue;
        }

        e = &log->ev[log->nev++];
        memset(e, 0, sizeof(*e));
        e->kind = in_headers ? DRV_HEADER : DRV_REQUEST;
        e->rc = rc;
        e->pos = b.pos - buf;
        if (in_headers) {
            drv_header_event(log, e, &p, buf, &b);
        } else {
            drv_request_event(log, e, &p, buf, &b);
        }

        if (rc == PT_OK) {
            in_headers = 1;
        } else if (rc == PT_HTTP_PARSE_HEADER_DONE) {
            in_headers = 0;
            nreq++;
            if (b.pos == b.last && avail == n) {
                break;
            }
        } else {
            break;
        }
    }

    if (log->nev < DRV_MAX_EVENTS) {
        e = &log->ev[log->nev++];
        memset(e, 0, sizeof(*e));
        e->kind = DRV_END;
        e->rc = in_headers;
        e->pos = b.pos - buf;
    }
    free(buf);
}

/* The first differing event of two logs, or -1 when they are equal. */
DRV_FN int
drv_diff(const drv_log_t *a, const drv_log_t *b)
{
    int i;

    for (i = 0; i < a->nev && i < b->nev; i++) {
        if (memcmp(&a->ev[i], &b->ev[i], sizeof(drv_event_t)) != 0) {
            return i;
        }
    }
    return a->nev == b->nev ? -1 : i;
}

/*
 * Chunked: decode in[0..n) arriving in stages (each stage in its own exact
 * buffer holding only the new bytes: the decoder keeps no pointers). The
 * decoded data goes to out (capacity n). When done_at >= 0 (the whole-input
 * result), every PT_AGAIN's ctx->length must not exceed what was left.
 */
typedef struct {
    int          rc;          /* PT_DONE, PT_ERROR, or PT_AGAIN at the end */
    size_t       consumed;    /* input bytes consumed (error: offset) */
    size_t       out_len;
    const char  *violation;
} drv_chunked_t;

DRV_FN void
drv_chunked(drv_chunked_t *res, const u_char *in, size_t n,
            const size_t *cuts, size_t ncuts, u_char *out, long done_at)
{
    pt_http_chunked_t  ctx;
    pt_buf_t           b;
    u_char            *buf;
    size_t             from = 0, to, stage = 0, take;
    int                rc = PT_AGAIN;

    memset(res, 0, sizeof(*res));
    memset(&ctx, 0, sizeof(ctx));
    memset(&b, 0, sizeof(b));

    for ( ;; ) {
        to = stage < ncuts ? pt_min(cuts[stage], n) : n;
        stage++;
        if (to < from) {
            to = from;
        }
        buf = malloc(to - from ? to - from : 1);
        memcpy(buf, in + from, to - from);
        b.start = b.pos = buf;
        b.last = b.end = buf + (to - from);

        for ( ;; ) {
            rc = pt_http_parse_chunked(&ctx, &b);
#define CK(cond) do { if (!(cond) && !res->violation) res->violation = #cond; } while (0)
            CK(b.pos >= buf && b.pos <= b.last);
            CK(ctx.size >= 0 && ctx.length >= 0);
            if (rc != PT_OK) {
                break;
            }
            CK(ctx.size > 0 && b.pos < b.last);
            take = pt_min((size_t) ctx.size, (size_t) (b.last - b.pos));
            memcpy(out + res->out_len, b.pos, take);
            res->out_len += take;
            b.pos += take;
            ctx.size -= take;
        }
        res->consumed = from + (b.pos - buf);
        if (rc == PT_AGAIN) {
            CK(b.pos == b.last);
            CK(done_at < 0 || ctx.length <= done_at - (long) res->consumed);
        }
#undef CK
        free(buf);
        if (rc != PT_AGAIN || to == n) {
            break;
        }
        from = to;
    }
    res->rc = rc;
}

#endif /* PT_HTTP_PARSE_DRIVER_H */
