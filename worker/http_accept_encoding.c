/*
 * The Accept-Encoding parser: a list of "coding *( OWS ; OWS param )"
 * elements, each coding's q value, "*" as the default for the codings the
 * list does not name.
 */
#include <string.h>

#include "common/str.h"
#include "http_accept_encoding.h"

typedef struct {
    const u_char  *p;
    const u_char  *end;
} cursor_t;

static int
is_tchar(u_char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static void
skip_ows(cursor_t *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t')) {
        c->p++;
    }
}

/* A qvalue: "0" [ "." 0*3DIGIT ] / "1" [ "." 0*3("0") ]; -1 if invalid. */
static pt_int_t
parse_qvalue(const u_char *p, size_t n)
{
    pt_int_t  q, scale = 100;
    size_t    i;

    if (n == 0 || (p[0] != '0' && p[0] != '1')) {
        return -1;
    }
    q = (p[0] - '0') * 1000;
    if (n == 1) {
        return q;
    }
    if (p[1] != '.' || n > 5) {
        return -1;
    }
    for (i = 2; i < n; i++, scale /= 10) {
        if (p[i] < '0' || p[i] > '9') {
            return -1;
        }
        q += (p[i] - '0') * scale;
    }
    return q > 1000 ? -1 : q;
}

/* The parameters after a coding, up to the next ',': its q (1000 when
 * absent, 0 when malformed). The cursor ends on the ',' or the end. */
static pt_int_t
parse_params(cursor_t *c)
{
    const u_char *name, *val;
    size_t        nlen, vlen;
    pt_int_t      q = 1000, v;
    int           bad = 0;

    for ( ;; ) {
        skip_ows(c);
        if (c->p == c->end || *c->p == ',') {
            return bad ? 0 : q;
        }
        if (*c->p != ';') {
            bad = 1;                   /* junk after the coding */
            while (c->p < c->end && *c->p != ',') {
                c->p++;
            }
            continue;
        }
        c->p++;
        skip_ows(c);
        for (name = c->p; c->p < c->end && is_tchar(*c->p); c->p++) { }
        nlen = (size_t) (c->p - name);
        skip_ows(c);
        if (c->p == c->end || *c->p != '=') {
            bad |= nlen > 0 || (c->p < c->end && *c->p != ',');
            continue;
        }
        c->p++;
        skip_ows(c);
        for (val = c->p; c->p < c->end && (is_tchar(*c->p) || *c->p == '.');
             c->p++)
        { }
        vlen = (size_t) (c->p - val);
        if (nlen == 1 && (name[0] | 0x20) == 'q') {
            v = parse_qvalue(val, vlen);
            q = v < 0 ? 0 : v;
            bad |= v < 0;
        } else {
            bad = 1;    /* RFC 9110 gives a coding a weight only */
        }
    }
}

static int
coding_is(const u_char *tok, size_t n, const char *coding)
{
    size_t len = strlen(coding);

    if (n == len && pt_strncasecmp(tok, (const u_char *) coding, n) == 0) {
        return 1;
    }
    /* RFC 9110 8.4.1.3: x-gzip is an alias of gzip */
    return strcmp(coding, "gzip") == 0 && n == 6
           && pt_strncasecmp(tok, (const u_char *) "x-gzip", 6) == 0;
}

pt_int_t
pt_http_accept_encoding_q(const u_char *value, size_t len,
                          const char *coding)
{
    cursor_t       c = { value, value + len };
    const u_char  *tok;
    size_t         n;
    pt_int_t       q, star = PT_AE_NOT_LISTED;

    while (c.p < c.end) {
        skip_ows(&c);
        for (tok = c.p; c.p < c.end && is_tchar(*c.p); c.p++) { }
        n = (size_t) (c.p - tok);
        q = parse_params(&c);
        if (c.p < c.end) {
            c.p++;                     /* the ',' */
        }
        if (n == 0) {
            continue;                  /* an empty or malformed element */
        }
        if (coding_is(tok, n, coding)) {
            return q;
        }
        if (n == 1 && tok[0] == '*' && star == PT_AE_NOT_LISTED) {
            star = q;
        }
    }
    return star;
}

int
pt_http_accept_encoding_ok(const u_char *value, size_t len,
                           const char *coding)
{
    return pt_http_accept_encoding_q(value, len, coding) > 0;
}

int
pt_http_accept_identity(const u_char *value, size_t len)
{
    return pt_http_accept_encoding_q(value, len, "identity") != 0;
}
