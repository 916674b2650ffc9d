/*
 * libFuzzer harness for the header-value helpers: HTTP dates
 * (pt_http_parse_time, pt_http_format_time, pt_http_gmtime), entity tags
 * and conditional requests (pt_http_etag_match, pt_http_etag_eq,
 * pt_http_cond_eval, pt_http_if_range_ok, pt_http_etag_make) and Host
 * normalisation (pt_http_server_name_normalize).
 *
 * Input: byte 0 is a set of flags, the rest is up to 8 fields separated
 * by '\n' (the last one runs to the end):
 *
 *   0 If-Modified-Since    4 ETag of the representation
 *   1 If-Unmodified-Since  5 Last-Modified: an HTTP date, or a decimal
 *   2 If-Match               time_t ("-1": unknown)
 *   3 If-None-Match        6 Host
 *                          7 If-Range
 *
 * Flags: bit 0 GET/HEAD, bits 1-2 ims_mode (mod 3: off, exact, before),
 * bits 3-6 whether fields 0-3 are sent, bit 7 whether the ETag is.
 *
 * Every field (and the whole input) also goes through the date parser
 * and the Host normaliser on its own, copied to an exact-size buffer so
 * that ASan sees any read past it. Checks:
 *  - dates: -1 or 0..PT_HTTP_TIME_MAX; a parsed date formats and parses
 *    back to itself, agrees with pt_http_gmtime, and text after it does
 *    not change it; any time_t formats to 29 bytes that parse back to
 *    it, clamped;
 *  - Host: the documented contract, against a model: PT_ERROR exactly for
 *    "..", '/', '\\', NUL, CTL, SP, DEL or an empty result; otherwise
 *    the lowercased prefix up to ':' (or through ']' of a literal), less
 *    one trailing dot. So: no upper case, no ':' outside [...]; it also
 *    works in place, is idempotent and ignores case;
 *  - entity tags: 0 or 1; "*" matches anything, no ETag matches nothing
 *    else; a valid tag (RFC 9110 syntax, no ',') matches itself, its W/
 *    form weakly, and still matches with members added before or after;
 *    a strong match is also a weak one; etag_eq is symmetric;
 *  - pt_http_cond_eval: 200, 304 or 412, as the rules in http_cond.h say
 *    (a model of them, in their order);
 *  - If-Range and pt_http_etag_make: self-consistency.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/http_time.h"
#include "common/str.h"
#include "worker/http_cond.h"
#include "worker/http_core.h"
#include "worker/http_request.h"
#include "worker/http_server_name.h"

#define NFIELDS 8

static void
fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_headers: %s: %s\n", what, detail ? detail : "");
    abort();
}

#define CHECK(cond)                                                           \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fail("invariant", #cond);                                         \
        }                                                                     \
    } while (0)

static u_char *
dup_exact(const u_char *p, size_t n)
{
    u_char *d = malloc(n ? n : 1);

    if (d == NULL) {
        fail("malloc", NULL);
    }
    memcpy(d, p, n);
    return n ? d : d + 1;      /* n == 0: a pointer to nothing at all */
}

static void
free_exact(u_char *d, size_t n)
{
    free(n ? d : d - 1);
}

/* ------------------------------------------------------------------ */
/* Dates                                                               */

static time_t
clamp_time(time_t t)
{
    return t < 0 ? 0 : (t > PT_HTTP_TIME_MAX ? PT_HTTP_TIME_MAX : t);
}

static void
check_format(time_t t)
{
    u_char  *buf = malloc(PT_HTTP_TIME_LEN);
    pt_tm_t  tm;
    time_t   c = clamp_time(t);

    CHECK(buf != NULL);
    CHECK(pt_http_format_time(buf, t) == buf + PT_HTTP_TIME_LEN);
    CHECK(pt_http_parse_time(buf, PT_HTTP_TIME_LEN) == c);
    pt_http_gmtime(c, &tm);
    CHECK(memcmp(buf, pt_http_wdays[tm.wday], 3) == 0);
    CHECK(memcmp(buf + 8, pt_http_months[tm.mon - 1], 3) == 0);
    CHECK(memcmp(buf + 25, " GMT", 4) == 0);
    free(buf);

    /* any time_t breaks down into a sane calendar */
    pt_http_gmtime(t, &tm);
    CHECK(tm.mon >= 1 && tm.mon <= 12 && tm.mday >= 1 && tm.mday <= 31);
    CHECK(tm.hour >= 0 && tm.hour < 24 && tm.min >= 0 && tm.min < 60
          && tm.sec >= 0 && tm.sec < 60 && tm.wday >= 0 && tm.wday < 7);
}

/* p[0..n) is a field inside a larger input running to p + avail. */
static time_t
check_date(const u_char *p, size_t n, size_t avail)
{
    u_char *d = dup_exact(p, n);
    time_t  t = pt_http_parse_time(d, n);

    free_exact(d, n);
    CHECK(t == -1 || (t >= 0 && t <= PT_HTTP_TIME_MAX));
    if (t != -1) {
        check_format(t);
        /* what follows a date is ignored */
        CHECK(pt_http_parse_time(p, avail) == t);
    }
    return t;
}

/* ------------------------------------------------------------------ */
/* Host                                                                */

static ssize_t
model_host(const u_char *h, size_t len)
{
    const u_char *q;
    size_t        i, hlen;

    for (i = 0; i < len; i++) {
        if (h[i] <= 0x20 || h[i] == 0x7f || h[i] == '/' || h[i] == '\\'
            || (i > 0 && h[i] == '.' && h[i - 1] == '.'))
        {
            return PT_ERROR;
        }
    }
    if (len > 0 && h[0] == '[') {
        q = memchr(h, ']', len);
        hlen = q ? (size_t) (q - h) + 1 : len;
    } else {
        q = memchr(h, ':', len);
        hlen = q ? (size_t) (q - h) : len;
    }
    if (hlen > 0 && h[hlen - 1] == '.') {
        hlen--;
    }
    return hlen ? (ssize_t) hlen : PT_ERROR;
}

static void
check_host(const u_char *p, size_t n)
{
    u_char  *h = dup_exact(p, n), *out = dup_exact(p, n);
    u_char  *again, *up;
    ssize_t  rc, rc2;
    size_t   i;

    memset(out, 0xa5, n);
    rc = pt_http_server_name_normalize(h, n, out);
    if (rc != model_host(p, n)) {
        fprintf(stderr, "normalize %zd, model %zd\n", rc, model_host(p, n));
        fail("host", "differs from the model");
    }

    if (rc != PT_ERROR) {
        CHECK(rc >= 1 && (size_t) rc <= n);
        for (i = 0; i < (size_t) rc; i++) {
            CHECK(out[i] == pt_tolower(p[i]));
            CHECK(!(out[i] >= 'A' && out[i] <= 'Z'));
            CHECK(out[i] != ':' || out[0] == '[');
            CHECK(out[i] > 0x20 && out[i] != 0x7f && out[i] != '/'
                  && out[i] != '\\');
        }
        CHECK(out[rc - 1] != '.');
        CHECK(memmem(out, (size_t) rc, "..", 2) == NULL);

        /* idempotent */
        again = dup_exact(out, (size_t) rc);
        rc2 = pt_http_server_name_normalize(out, (size_t) rc, again);
        CHECK(rc2 == rc && memcmp(again, out, (size_t) rc) == 0);
        free_exact(again, (size_t) rc);
    }

    /* in place */
    rc2 = pt_http_server_name_normalize(h, n, h);
    CHECK(rc2 == rc && (rc == PT_ERROR || memcmp(h, out, (size_t) rc) == 0));

    /* upper case in, same out */
    up = dup_exact(p, n);
    for (i = 0; i < n; i++) {
        if (up[i] >= 'a' && up[i] <= 'z') {
            up[i] &= ~0x20;
        }
    }
    rc2 = pt_http_server_name_normalize(up, n, up);
    CHECK(rc2 == rc && (rc == PT_ERROR || memcmp(up, out, (size_t) rc) == 0));

    free_exact(up, n);
    free_exact(out, n);
    free_exact(h, n);
}

/* ------------------------------------------------------------------ */
/* Entity tags                                                         */

static int
is_blank(u_char c)
{
    return c == ' ' || c == '\t';
}

/* RFC 9110 entity-tag: [W/] DQUOTE *etagc DQUOTE, etagc = %x21 /
 * %x23-7E / obs-text; here also without ',' (a list separator). */
static int
valid_etag(const pt_str_t *e)
{
    const u_char *p = e->data, *end = e->data + e->len;

    if (end - p >= 2 && p[0] == 'W' && p[1] == '/') {
        p += 2;
    }
    if (end - p < 2 || p[0] != '"' || end[-1] != '"') {
        return 0;
    }
    for (p++; p < end - 1; p++) {
        if (*p < 0x21 || *p == '"' || *p == ',' || *p == 0x7f) {
            return 0;
        }
    }
    return 1;
}

static int
is_star(const pt_str_t *list)
{
    size_t s = 0, e = list->len;

    while (s < e && is_blank(list->data[s])) {
        s++;
    }
    while (e > s && is_blank(list->data[e - 1])) {
        e--;
    }
    return e - s == 1 && list->data[s] == '*';
}

/* match() over a list built of parts, in one exact-size buffer */
static int
match_parts(const pt_str_t *a, const char *sep, const pt_str_t *b,
            const pt_str_t *etag, int weak)
{
    size_t    ls = strlen(sep), n = a->len + ls + b->len;
    u_char   *buf = malloc(n ? n : 1);
    pt_str_t  list;
    int       rc;

    CHECK(buf != NULL);
    memcpy(buf, a->data, a->len);
    memcpy(buf + a->len, sep, ls);
    memcpy(buf + a->len + ls, b->data, b->len);
    list.data = buf;
    list.len = n;
    rc = pt_http_etag_match(&list, etag, weak);
    free(buf);
    return rc;
}

static void
check_match(const pt_str_t *list, const pt_str_t *etag, const pt_str_t *other)
{
    int strong = pt_http_etag_match(list, etag, 0);
    int weak = pt_http_etag_match(list, etag, 1);
    int has = etag != NULL && etag->len > 0;

    CHECK(strong == 0 || strong == 1);
    CHECK(weak == 0 || weak == 1);
    if (is_star(list)) {
        CHECK(strong && weak);
        return;
    }
    if (!has) {
        CHECK(!strong && !weak);
        return;
    }
    if (!valid_etag(etag)) {
        return;
    }
    CHECK(!strong || weak);

    /* more members around a match keep it (other has no ',') */
    if (other != NULL && memchr(other->data, ',', other->len) == NULL) {
        if (strong) {
            CHECK(match_parts(other, ",", list, etag, 0));
            CHECK(match_parts(list, ", ", other, etag, 0));
        }
        if (weak) {
            CHECK(match_parts(other, " ,\t", list, etag, 1));
            CHECK(match_parts(list, ",", other, etag, 1));
        }
    }
}

static void
check_valid_tag(const pt_str_t *etag)
{
    u_char    buf[2 + 512];
    pt_str_t  w, plain = *etag;
    int       weak_tag;

    if (!valid_etag(etag) || etag->len > 510) {
        return;
    }
    weak_tag = etag->data[0] == 'W';
    CHECK(pt_http_etag_match(etag, etag, 0) == 1);
    CHECK(pt_http_etag_match(etag, etag, 1) == 1);
    CHECK(pt_http_etag_eq(etag, etag, 1) == 1);
    CHECK(pt_http_etag_eq(etag, etag, 0) == !weak_tag);
    CHECK(pt_http_if_range_ok(etag, etag, -1) == 1);

    /* the W/ form matches the strong one weakly only */
    if (weak_tag) {
        plain.data += 2;
        plain.len -= 2;
    }
    memcpy(buf, "W/", 2);
    memcpy(buf + 2, plain.data, plain.len);
    w.data = buf;
    w.len = plain.len + 2;
    CHECK(pt_http_etag_match(&w, &plain, 1) == 1);
    CHECK(pt_http_etag_match(&plain, &w, 1) == 1);
    CHECK(pt_http_etag_match(&w, &plain, 0) == 0);
    CHECK(pt_http_etag_eq(&w, &plain, 1) == 1);
    CHECK(pt_http_etag_eq(&w, &plain, 0) == 0);
    CHECK(pt_http_if_range_ok(&w, &plain, -1) == 0);
}

/* ------------------------------------------------------------------ */
/* Conditional requests                                                */

/* The rules of http_cond.h, in their order. */
static int
model_cond(const pt_http_cond_t *c)
{
    time_t t;
    int    unchanged;

    if (c->if_unmodified_since != NULL) {
        t = pt_http_parse_time(c->if_unmodified_since->data,
                               c->if_unmodified_since->len);
        if (c->last_modified == -1 || t == -1 || t < c->last_modified) {
            return PT_HTTP_PRECONDITION_FAILED;
        }
    }
    if (c->if_match != NULL && !pt_http_etag_match(c->if_match, c->etag, 0)) {
        return PT_HTTP_PRECONDITION_FAILED;
    }
    if (!c->get_or_head) {
        return c->if_none_match != NULL
               && pt_http_etag_match(c->if_none_match, c->etag, 1)
               ? PT_HTTP_PRECONDITION_FAILED : PT_HTTP_OK;
    }
    if (c->if_modified_since == NULL && c->if_none_match == NULL) {
        return PT_HTTP_OK;
    }
    if (c->if_modified_since != NULL) {
        t = pt_http_parse_time(c->if_modified_since->data,
                               c->if_modified_since->len);
        unchanged = c->last_modified != -1
                    && c->ims_mode != PT_HTTP_IMS_OFF
                    && (t == c->last_modified
                        || (c->ims_mode == PT_HTTP_IMS_BEFORE
                            && t > c->last_modified));
        if (!unchanged) {
            return PT_HTTP_OK;
        }
    }
    if (c->if_none_match != NULL
        && !pt_http_etag_match(c->if_none_match, c->etag, 1))
    {
        return PT_HTTP_OK;
    }
    return PT_HTTP_NOT_MODIFIED;
}

static time_t
parse_last_modified(const pt_str_t *f)
{
    time_t    t = pt_http_parse_time(f->data, f->len);
    uint64_t  v = 0;
    size_t    i = 0;
    int       neg = 0;

    if (t != -1) {
        return t;
    }
    if (f->len > 0 && f->data[0] == '-') {
        neg = 1;
        i = 1;
    }
    if (i == f->len || f->len - i > 19) {
        return -1;
    }
    for (; i < f->len; i++) {
        if (f->data[i] < '0' || f->data[i] > '9') {
            return -1;
        }
        v = v * 10 + (f->data[i] - '0');
    }
    if (v > (uint64_t) INT64_MAX) {
        return -1;
    }
    return neg ? -(time_t) v : (time_t) v;
}

static void
check_cond(uint8_t flags, pt_str_t *f)
{
    pt_http_cond_t  c;
    u_char         *etag_buf;
    int             rc;

    memset(&c, 0, sizeof(c));
    c.get_or_head = flags & 1;
    c.ims_mode = ((flags >> 1) & 3) % 3;
    c.if_modified_since = flags & 0x08 ? &f[0] : NULL;
    c.if_unmodified_since = flags & 0x10 ? &f[1] : NULL;
    c.if_match = flags & 0x20 ? &f[2] : NULL;
    c.if_none_match = flags & 0x40 ? &f[3] : NULL;
    c.etag = flags & 0x80 ? &f[4] : NULL;
    c.last_modified = parse_last_modified(&f[5]);

    rc = pt_http_cond_eval(&c);
    CHECK(rc == PT_HTTP_OK || rc == PT_HTTP_NOT_MODIFIED
          || rc == PT_HTTP_PRECONDITION_FAILED);
    if (rc != model_cond(&c)) {
        fprintf(stderr, "cond_eval %d, model %d\n", rc, model_cond(&c));
        fail("cond", "differs from the rules in http_cond.h");
    }
    CHECK(rc != PT_HTTP_NOT_MODIFIED
          || (c.get_or_head
              && (c.if_modified_since != NULL || c.if_none_match != NULL)));
    CHECK(rc != PT_HTTP_PRECONDITION_FAILED
          || c.if_unmodified_since != NULL || c.if_match != NULL
          || (!c.get_or_head && c.if_none_match != NULL));

    /* If-Range: an entity tag compares bytes, else a date must equal */
    rc = pt_http_if_range_ok(&f[7], c.etag, c.last_modified);
    CHECK(rc == 0 || rc == 1);
    if (f[7].len >= 2 && f[7].data[f[7].len - 1] == '"') {
        CHECK(rc == (c.etag != NULL && c.etag->len == f[7].len
                     && memcmp(c.etag->data, f[7].data, f[7].len) == 0));
    } else {
        CHECK(rc == (c.last_modified != -1
                     && pt_http_parse_time(f[7].data, f[7].len)
                        == c.last_modified));
    }
    if (c.last_modified >= 0 && c.last_modified <= PT_HTTP_TIME_MAX) {
        u_char d[PT_HTTP_TIME_LEN];
        pt_str_t ds = { PT_HTTP_TIME_LEN, d };

        pt_http_format_time(d, c.last_modified);
        CHECK(pt_http_if_range_ok(&ds, c.etag, c.last_modified) == 1);
    }

    /* nginx's ETag of (Last-Modified, length of field 4) */
    etag_buf = malloc(PT_HTTP_ETAG_MAX_LEN);
    CHECK(etag_buf != NULL);
    {
        pt_str_t made;

        made.data = etag_buf;
        made.len = (size_t) (pt_http_etag_make(etag_buf, c.last_modified,
                                               (off_t) f[4].len
                                               * (off_t) 0x10001)
                             - etag_buf);
        CHECK(made.len >= 5 && made.len <= PT_HTTP_ETAG_MAX_LEN);
        CHECK(valid_etag(&made));
        CHECK(pt_http_etag_match(&made, &made, 0) == 1);
    }
    free(etag_buf);
}

/* ------------------------------------------------------------------ */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pt_str_t        f[NFIELDS];
    u_char         *copy[NFIELDS];
    const u_char   *p, *end, *nl;
    uint8_t         flags;
    int             i, j;

    if (size == 0) {
        return 0;
    }
    flags = data[0];
    p = data + 1;
    end = data + size;

    /* the whole input, as one value */
    check_date(p, (size_t) (end - p), (size_t) (end - p));
    check_host(p, (size_t) (end - p));

    for (i = 0; i < NFIELDS; i++) {
        nl = i < NFIELDS - 1 ? memchr(p, '\n', (size_t) (end - p)) : NULL;
        f[i].len = (size_t) ((nl ? nl : end) - p);
        copy[i] = dup_exact(p, f[i].len);
        f[i].data = copy[i];
        if (i < NFIELDS - 1) {
            check_date(p, f[i].len, (size_t) (end - p));
            check_host(p, f[i].len);
        }
        p = nl ? nl + 1 : end;
    }

    check_format(parse_last_modified(&f[5]));
    for (i = 0; i < 4; i++) {
        check_match(&f[i], &f[4], &f[(i + 1) % 4]);
        check_match(&f[i], NULL, NULL);
    }
    for (i = 0; i < NFIELDS; i++) {
        check_valid_tag(&f[i]);
        for (j = 0; j < 2; j++) {
            CHECK(pt_http_etag_eq(&f[i], &f[4], j)
                  == pt_http_etag_eq(&f[4], &f[i], j));
        }
    }
    check_cond(flags, f);

    for (i = 0; i < NFIELDS; i++) {
        free_exact(copy[i], f[i].len);
    }
    return 0;
}
