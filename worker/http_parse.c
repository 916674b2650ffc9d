/*
 * HTTP/1.x request-line and header-line state machines, path
 * normalisation, chunked framing and Content-Length (see http_parse.h for
 * the contracts). Byte at a time, so any split of the input gives the same
 * result; positions are pointers into the caller's buffer.
 */
#include <string.h>

#include "common/buf.h"
#include "http_parse.h"

#define CR '\r'
#define LF '\n'

/* off_t is 64 bits on every target we build for (glibc, x86_64/aarch64). */
_Static_assert(sizeof(off_t) == 8, "off_t must be 64 bits");
#define OFF_T_MAX ((off_t) INT64_MAX)

/* Internal result of the URI and version helpers: the line is complete. */
#define LINE_DONE (-100)

enum {
    rl_start = 0,           /* before the method, skipping empty lines */
    rl_start_lf,            /* CR of an empty line seen */
    rl_method,
    rl_before_uri,          /* after the SP following the method */
    rl_schema,
    rl_schema_slash,
    rl_schema_slash_slash,
    rl_host_start,
    rl_host,
    rl_host_ip_literal,
    rl_host_end,            /* after "]" */
    rl_port,
    rl_after_slash,         /* in the path, just after a '/' */
    rl_path,
    rl_args,
    rl_fragment,
    rl_proto,               /* "HTTP/": rl_proto + index of the byte */
    rl_major_first = rl_proto + 5,
    rl_major,
    rl_minor_first,
    rl_minor,
    rl_almost_done          /* CR after the version seen */
};

enum {
    hl_start = 0,
    hl_name,
    hl_before_value,
    hl_value,
    hl_almost_done,         /* CR after a header seen */
    hl_done_lf              /* CR of the empty line seen */
};

static int
is_ctl(u_char c)
{
    return c < 0x20 || c == 0x7f;
}

static int
is_alpha(u_char c)
{
    c |= 0x20;
    return c >= 'a' && c <= 'z';
}

static int
is_digit(u_char c)
{
    return c >= '0' && c <= '9';
}

static int
hex_value(u_char c)
{
    if (is_digit(c)) {
        return c - '0';
    }
    c |= 0x20;
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

static int
is_method_char(u_char c)
{
    return (c >= 'A' && c <= 'Z') || c == '_' || c == '-';
}

/* RFC 9110 tchar. */
static int
is_tchar(u_char c)
{
    if (is_alpha(c) || is_digit(c)) {
        return 1;
    }
    switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*':
    case '+': case '-': case '.': case '^': case '_': case '`': case '|':
    case '~':
        return 1;
    }
    return 0;
}

static const struct {
    const char  *name;
    size_t       len;
    pt_uint_t    flag;
} methods[] = {
#define M(s) { #s, sizeof(#s) - 1, PT_HTTP_##s }
    M(GET), M(HEAD), M(POST), M(PUT), M(DELETE), M(MKCOL), M(COPY),
    M(MOVE), M(OPTIONS), M(PROPFIND), M(PROPPATCH), M(LOCK), M(UNLOCK),
    M(PATCH), M(TRACE), M(CONNECT),
#undef M
};

static pt_uint_t
method_flag(const u_char *s, size_t len)
{
    size_t i;

    for (i = 0; i < pt_nelems(methods); i++) {
        if (methods[i].len == len && memcmp(methods[i].name, s, len) == 0) {
            return methods[i].flag;
        }
    }
    return PT_HTTP_UNKNOWN;
}

void
pt_http_parse_init(pt_http_parse_t *p)
{
    memset(p, 0, sizeof(*p));
}

static void
reset_request_line(pt_http_parse_t *r)
{
    r->line_start = NULL;
    r->request_start = r->request_end = NULL;
    r->method_start = r->method_end = NULL;
    r->uri_start = r->uri_end = NULL;
    r->schema_start = r->schema_end = NULL;
    r->host_start = r->host_end = NULL;
    r->port_start = r->port_end = NULL;
    r->args_start = r->uri_ext = NULL;
    r->method = 0;
    r->http_major = r->http_minor = r->http_version = 0;
    r->complex_uri = r->quoted_uri = r->plus_in_uri = 0;
    r->empty_path_in_uri = 0;
}

/*
 * The byte after the request-target: SP starts the version; CR or LF would
 * be HTTP/0.9, which we do not support; anything else is not allowed in a
 * request-target (controls, DEL).
 */
static int
uri_end_char(pt_http_parse_t *r, pt_uint_t *state, u_char *p)
{
    if (*p == ' ') {
        r->uri_end = p;
        *state = rl_proto;
        return PT_OK;
    }
    return PT_HTTP_PARSE_INVALID_REQUEST;
}

/* The byte after the authority: '/' starts the path; with '?' or SP there
 * is none (empty_path_in_uri: the path is "/", the caller supplies it). */
static int
authority_end_char(pt_http_parse_t *r, pt_uint_t *state, u_char *p)
{
    switch (*p) {
    case '/':
        r->uri_start = p;
        *state = rl_after_slash;
        return PT_OK;
    case '?':
        r->uri_start = p;
        r->args_start = p + 1;
        r->empty_path_in_uri = 1;
        *state = rl_args;
        return PT_OK;
    case ' ':
        r->uri_start = p;
        r->empty_path_in_uri = 1;
        return uri_end_char(r, state, p);
    }
    return PT_HTTP_PARSE_INVALID_REQUEST;
}

/* "scheme://host[:port]" of the absolute-form (RFC 9112 3.2.2), no
 * userinfo; an IP literal keeps its brackets. */
static int
parse_authority(pt_http_parse_t *r, pt_uint_t *state, u_char *p)
{
    u_char ch = *p;

    switch (*state) {
    case rl_schema:
        if (is_alpha(ch) || is_digit(ch) || ch == '+' || ch == '-'
            || ch == '.')
        {
            return PT_OK;
        }
        if (ch != ':') {
            return PT_HTTP_PARSE_INVALID_REQUEST;
        }
        r->schema_end = p;
        *state = rl_schema_slash;
        return PT_OK;

    case rl_schema_slash:
    case rl_schema_slash_slash:
        if (ch != '/') {
            return PT_HTTP_PARSE_INVALID_REQUEST;
        }
        (*state)++;
        return PT_OK;

    case rl_host_start:
        r->host_start = p;
        if (ch == '[') {
            *state = rl_host_ip_literal;
            return PT_OK;
        }
        if (!is_alpha(ch) && !is_digit(ch) && ch != '.' && ch != '-') {
            return PT_HTTP_PARSE_INVALID_REQUEST;   /* empty host */
        }
        *state = rl_host;
        return PT_OK;

    case rl_host:
        if (is_alpha(ch) || is_digit(ch) || ch == '.' || ch == '-') {
            return PT_OK;
        }
        r->host_end = p;
        break;

    case rl_host_ip_literal:
        if (is_alpha(ch) || is_digit(ch) || ch == ':' || ch == '.') {
            return PT_OK;
        }
        if (ch != ']' || p - r->host_start < 3) {
            return PT_HTTP_PARSE_INVALID_REQUEST;
        }
        *state = rl_host_end;
        return PT_OK;

    case rl_host_end:
        r->host_end = p;
        break;

    default: /* rl_port */
        if (is_digit(ch)) {
            return PT_OK;
        }
        r->port_end = p;
        if (ch == ':') {
            return PT_HTTP_PARSE_INVALID_REQUEST;
        }
        return authority_end_char(r, state, p);
    }

    /* the byte after the host */
    if (ch == ':') {
        r->port_start = p + 1;
        *state = rl_port;
        return PT_OK;
    }
    return authority_end_char(r, state, p);
}

/*
 * One byte of the request-target path, args or fragment. Tracks what
 * decides whether the path needs normalising (complex_uri) and where its
 * extension starts.
 */
static int
parse_path(pt_http_parse_t *r, pt_uint_t *state, u_char *p)
{
    u_char ch = *p;

    if (*state == rl_args || *state == rl_fragment) {
        if (ch == ' ' || is_ctl(ch)) {
            return uri_end_char(r, state, p);
        }
        return PT_OK;
    }

    switch (ch) {
    case '/':
        if (*state == rl_after_slash) {
            r->complex_uri = 1;
        }
        r->uri_ext = NULL;
        *state = rl_after_slash;
        return PT_OK;
    case '.':
        if (*state == rl_after_slash) {
            r->complex_uri = 1;     /* "/." : maybe a dot segment */
        } else {
            r->uri_ext = p + 1;
        }
        break;
    case '%':
        r->complex_uri = 1;
        r->quoted_uri = 1;
        break;
    case '+':
        r->plus_in_uri = 1;
        break;
    case '?':
        r->args_start = p + 1;
        *state = rl_args;
        return PT_OK;
    case '#':
        r->complex_uri = 1;
        *state = rl_fragment;
        return PT_OK;
    default:
        if (ch == ' ' || is_ctl(ch)) {
            return uri_end_char(r, state, p);
        }
    }
    *state = rl_path;
    return PT_OK;
}

/* "HTTP/" 1*3DIGIT "." 1*3DIGIT, then CRLF or LF. */
static int
parse_version(pt_http_parse_t *r, pt_uint_t *state, u_char *p)
{
    u_char ch = *p;

    if (*state < rl_major_first) {
        if (ch != (u_char) "HTTP/"[*state - rl_proto]) {
            return PT_HTTP_PARSE_INVALID_REQUEST;
        }
        (*state)++;
        return PT_OK;
    }

    switch (*state) {
    case rl_major_first:
        if (ch < '1' || ch > '9') {
            return PT_HTTP_PARSE_INVALID_REQUEST;
        }
        r->http_major = ch - '0';
        *state = rl_major;
        return PT_OK;

    case rl_major:
        if (ch == '.') {
            *state = rl_minor_first;
            return PT_OK;
        }
        if (!is_digit(ch) || r->http_major >= 100) {
            return PT_HTTP_PARSE_INVALID_REQUEST;
        }
        r->http_major = r->http_major * 10 + ch - '0';
        return PT_OK;

    case rl_minor_first:
    case rl_minor:
        if (is_digit(ch)) {
            if (r->http_minor >= 100) {
                return PT_HTTP_PARSE_INVALID_REQUEST;
            }
            r->http_minor = r->http_minor * 10 + ch - '0';
            *state = rl_minor;
            return PT_OK;
        }
        if (*state == rl_minor_first || (ch != CR && ch != LF)) {
            return PT_HTTP_PARSE_INVALID_REQUEST;
        }
        r->request_end = p;
        if (ch == LF) {
            return LINE_DONE;
        }
        *state = rl_almost_done;
        return PT_OK;

    default: /* rl_almost_done */
        return ch == LF ? LINE_DONE : PT_HTTP_PARSE_INVALID_REQUEST;
    }
}

int
pt_http_parse_request_line(pt_http_parse_t *r, pt_buf_t *b)
{
    pt_uint_t  state = r->state;
    u_char    *p, ch;
    int        rc;

    if (state == rl_start) {
        reset_request_line(r);
    }

    for (p = b->pos; p < b->last; p++) {
        ch = *p;

        switch (state) {
        case rl_start:
            if (ch == CR) {
                state = rl_start_lf;
                continue;
            }
            if (ch == LF) {
                continue;
            }
            if (!is_method_char(ch)) {
                rc = PT_HTTP_PARSE_INVALID_METHOD;
                goto invalid;
            }
            r->line_start = r->request_start = r->method_start = p;
            state = rl_method;
            continue;

        case rl_start_lf:
            if (ch != LF) {
                rc = PT_HTTP_PARSE_INVALID_REQUEST;
                goto invalid;
            }
            state = rl_start;
            continue;

        case rl_method:
            if (is_method_char(ch)) {
                continue;
            }
            if (ch != ' ') {
                rc = PT_HTTP_PARSE_INVALID_METHOD;
                goto invalid;
            }
            r->method_end = p;
            r->method = method_flag(r->method_start, p - r->method_start);
            state = rl_before_uri;
            continue;

        case rl_before_uri:
            if (ch == '/') {
                r->uri_start = p;
                state = rl_after_slash;
                continue;
            }
            if (!is_alpha(ch)) {
                rc = PT_HTTP_PARSE_INVALID_REQUEST;
                goto invalid;
            }
            r->schema_start = p;
            state = rl_schema;
            continue;

        case rl_schema:
        case rl_schema_slash:
        case rl_schema_slash_slash:
        case rl_host_start:
        case rl_host:
        case rl_host_ip_literal:
        case rl_host_end:
        case rl_port:
            rc = parse_authority(r, &state, p);
            break;

        case rl_after_slash:
        case rl_path:
        case rl_args:
        case rl_fragment:
            rc = parse_path(r, &state, p);
            break;

        default:
            rc = parse_version(r, &state, p);
            break;
        }

        if (rc == LINE_DONE) {
            goto done;
        }
        if (rc != PT_OK) {
            goto invalid;
        }
    }

    b->pos = p;
    r->state = state;
    return PT_AGAIN;

done:
    b->pos = p + 1;
    r->state = 0;
    r->line_start = NULL;
    r->http_version = r->http_major * 1000 + r->http_minor;
    if (r->http_major > 1) {
        return PT_HTTP_PARSE_INVALID_VERSION;
    }
    return PT_OK;

invalid:
    b->pos = p;
    r->state = 0;
    return rc;
}

static void
reset_header_line(pt_http_parse_t *r)
{
    r->line_start = NULL;
    r->header_name_start = r->header_name_end = NULL;
    r->header_start = r->header_end = NULL;
    r->header_hash = 0;
    r->lowcase_index = 0;
    r->invalid_header = 0;
}

/* One byte of a header name: lowercase it, hash it, flag what
 * underscores_in_headers / ignore_invalid_headers care about. */
static int
name_char(pt_http_parse_t *r, u_char ch)
{
    u_char c;

    if (ch <= ' ' || ch == 0x7f) {
        return PT_HTTP_PARSE_INVALID_HEADER;  /* SP, HT, controls, NUL */
    }
    if (ch == '_') {
        r->invalid_header |= PT_HTTP_HEADER_UNDERSCORE;
    } else if (!is_alpha(ch) && !is_digit(ch) && ch != '-') {
        r->invalid_header |= PT_HTTP_HEADER_BAD_CHAR;
    }
    c = (ch >= 'A' && ch <= 'Z') ? (ch | 0x20) : ch;
    r->header_hash = PT_HTTP_HASH(r->header_hash, c);
    if (r->lowcase_index < PT_HTTP_LC_HEADER_LEN) {
        r->lowcase_header[r->lowcase_index++] = c;
    }
    return PT_OK;
}

/* The bytes most names and values are made of, taken in runs by the loop
 * below: letters, digits and '-' in a name (where ch | 0x20 is the lower
 * case of each), anything visible (obs-text too) in a value. */
static const u_char name_plain[256] = {
    ['0' ... '9'] = 1, ['A' ... 'Z'] = 1, ['a' ... 'z'] = 1, ['-'] = 1,
};
static const u_char value_plain[256] = {
    [0x21 ... 0x7e] = 1, [0x80 ... 0xff] = 1,
};

/* A run of plain name bytes from p: hashed and lowercased; returns where
 * it stops (a byte to look at, or b->last). */
static u_char *
name_run(pt_http_parse_t *r, u_char *p, u_char *last)
{
    u_char c;

    for (; p < last && name_plain[*p]; p++) {
        c = *p | 0x20;
        r->header_hash = PT_HTTP_HASH(r->header_hash, c);
        if (r->lowcase_index < PT_HTTP_LC_HEADER_LEN) {
            r->lowcase_header[r->lowcase_index++] = c;
        }
    }
    return p;
}

int
pt_http_parse_header_line(pt_http_parse_t *r, pt_buf_t *b)
{
    pt_uint_t  state = r->state;
    u_char    *p, ch;
    int        rc = PT_OK;

    if (state == hl_start) {
        reset_header_line(r);
    }

    for (p = b->pos; p < b->last; p++) {
        ch = *p;

        switch (state) {
        case hl_start:
            r->line_start = p;
            if (ch == CR) {
                state = hl_done_lf;
                continue;
            }
            if (ch == LF) {
                rc = PT_HTTP_PARSE_HEADER_DONE;
                goto done;
            }
            if (ch == ':') {
                rc = PT_HTTP_PARSE_INVALID_HEADER;   /* empty name */
                goto invalid;
            }
            r->header_name_start = p;
            state = hl_name;
            rc = name_char(r, ch);      /* rejects obs-fold (SP/HT) */
            break;

        case hl_name:
            if (name_plain[ch]) {
                p = name_run(r, p, b->last) - 1;
                continue;
            }
            if (ch == ':') {
                r->header_name_end = p;
                state = hl_before_value;
                continue;
            }
            rc = name_char(r, ch);
            break;

        case hl_before_value:
        case hl_value:
            if (value_plain[ch]) {
                /* a run of visible bytes: the value ends after it unless
                 * more follow past some SP/HT */
                if (r->header_start == NULL) {
                    r->header_start = p;
                }
                while (p + 1 < b->last && value_plain[p[1]]) {
                    p++;
                }
                r->header_end = p + 1;
                state = hl_value;
                continue;
            }
            if (ch == ' ' || ch == '\t') {
                continue;
            }
            if (ch == CR) {
                state = hl_almost_done;
                continue;
            }
            if (ch == LF) {
                goto header;
            }
            rc = PT_HTTP_PARSE_INVALID_HEADER;   /* a control byte */
            break;

        case hl_almost_done:
            if (ch == LF) {
                goto header;
            }
            rc = PT_HTTP_PARSE_INVALID_HEADER;  /* bare CR */
            break;

        default: /* hl_done_lf */
            if (ch != LF) {
                rc = PT_HTTP_PARSE_INVALID_REQUEST;
                goto invalid;
            }
            rc = PT_HTTP_PARSE_HEADER_DONE;
            goto done;
        }

        if (rc != PT_OK) {
            goto invalid;
        }
    }

    b->pos = p;
    r->state = state;
    return PT_AGAIN;

header:
    if (r->header_start == NULL) {
        /* empty value: an empty span where the line ends */
        r->header_start = r->header_end = r->header_name_end + 1;
    }

done:
    b->pos = p + 1;
    r->state = 0;
    r->line_start = NULL;
    return rc;

invalid:
    b->pos = p;
    r->state = 0;
    return rc;
}

void
pt_http_parse_rebase(pt_http_parse_t *r, const u_char *from,
                     const u_char *to, ptrdiff_t delta)
{
    u_char **fields[] = {
        &r->line_start, &r->request_start, &r->request_end,
        &r->method_start, &r->method_end, &r->uri_start, &r->uri_end,
        &r->schema_start, &r->schema_end, &r->host_start, &r->host_end,
        &r->port_start, &r->port_end, &r->args_start, &r->uri_ext,
        &r->header_name_start, &r->header_name_end, &r->header_start,
        &r->header_end,
    };
    uintptr_t lo = (uintptr_t) from, hi = (uintptr_t) to, v;
    size_t    i;

    for (i = 0; i < pt_nelems(fields); i++) {
        v = (uintptr_t) *fields[i];
        if (*fields[i] != NULL && v >= lo && v <= hi) {
            *fields[i] = (u_char *) (v + (uintptr_t) delta);
        }
    }
}

/*
 * Close the segment [seg, *d) of dst, at a '/' or at the end of the path:
 * drop ".", resolve ".." against the previous segment. The byte before seg
 * is always a '/'. Returns PT_OK when the segment stays, PT_DECLINED when
 * it was removed (*d is then just after a '/'), PT_ERROR when ".." would
 * climb above the root.
 */
static int
close_segment(u_char *dst, u_char *seg, u_char **d)
{
    size_t  n = *d - seg;
    u_char *q;

    if (n == 1 && seg[0] == '.') {
        *d = seg;
        return PT_DECLINED;
    }
    if (n == 2 && seg[0] == '.' && seg[1] == '.') {
        if (seg - 1 == dst) {
            return PT_ERROR;
        }
        for (q = seg - 2; *q != '/'; q--) {
            /* stops at dst[0] at the latest, which is '/' */
        }
        *d = q + 1;
        return PT_DECLINED;
    }
    return PT_OK;
}

int
pt_http_normalize_path(const u_char *src, size_t len, u_char *dst,
                       size_t *dst_len, int merge_slashes, u_char **ext)
{
    const u_char *s = src, *end = src + len;
    u_char       *d = dst, *seg, *q, ch;
    int           hi, lo, rc;

    if (len == 0 || src[0] != '/') {
        return PT_ERROR;
    }
    *d++ = *s++;
    seg = d;

    while (s < end) {
        ch = *s++;
        if (ch == '#') {
            break;
        }
        if (ch == '%') {
            if (end - s < 2 || (hi = hex_value(s[0])) < 0
                || (lo = hex_value(s[1])) < 0)
            {
                return PT_ERROR;
            }
            ch = (u_char) (hi << 4 | lo);
            s += 2;
        }
        if (ch == '\0') {
            return PT_ERROR;
        }
        if (ch != '/') {
            *d++ = ch;
            continue;
        }
        if (d == seg && merge_slashes) {
            continue;
        }
        rc = close_segment(dst, seg, &d);
        if (rc == PT_ERROR) {
            return PT_ERROR;
        }
        if (rc == PT_OK) {
            *d++ = '/';
        }
        seg = d;
    }

    if (close_segment(dst, seg, &d) == PT_ERROR) {
        return PT_ERROR;
    }
    *dst_len = d - dst;

    if (ext != NULL) {
        *ext = NULL;
        for (q = d; q[-1] != '/'; q--) {
            if (q[-1] == '.' && q[-2] != '/') {
                *ext = q;
                break;
            }
        }
    }
    return PT_OK;
}

enum {
    ck_start = 0,           /* first byte of a chunk-size line */
    ck_size,
    ck_size_ows,            /* SP/HT after the size: an extension follows */
    ck_ext,
    ck_size_lf,             /* CR of the size line seen */
    ck_data,
    ck_data_cr,             /* the CRLF after the data */
    ck_data_lf,
    ck_trailer_start,
    ck_trailer_name,
    ck_trailer_value,
    ck_trailer_lf,
    ck_last_lf,             /* CR of the final empty line seen */
    ck_done
};

/*
 * The fewest bytes that could still finish the body from this state, with
 * bare LF line ends: "0" LF LF after a chunk, LF + data + LF before it.
 */
static off_t
chunked_min_length(pt_http_chunked_t *ctx)
{
    switch (ctx->state) {
    case ck_start:
        return 3;
    case ck_size:
    case ck_size_ows:
    case ck_ext:
    case ck_size_lf:
        return ctx->size == 0 ? 2 : ctx->size + 5;
    case ck_data:
        return ctx->size + 4;
    case ck_data_cr:
    case ck_data_lf:
        return 4;
    case ck_trailer_start:
    case ck_last_lf:
        return 1;
    case ck_trailer_name:
        return 3;
    case ck_trailer_value:
    case ck_trailer_lf:
        return 2;
    default:
        return 0;
    }
}

/* One byte of a chunk-size line: size, optional BWS ";" extension, CRLF. */
static int
chunk_size_char(pt_http_chunked_t *ctx, u_char ch)
{
    int v;

    if (++ctx->line_len > ctx->line_max) {
        return PT_ERROR;
    }

    switch (ctx->state) {
    case ck_start:
    case ck_size:
        v = hex_value(ch);
        if (v >= 0) {
            if (ctx->size >> 56) {
                return PT_ERROR;        /* above 2^60 - 1 */
            }
            ctx->size = ctx->size * 16 + v;
            ctx->state = ck_size;
            return PT_OK;
        }
        if (ctx->state == ck_start) {
            return PT_ERROR;
        }
        break;
    case ck_size_ows:
        break;
    default: /* ck_ext */
        if (ch == CR) {
            ctx->state = ck_size_lf;
            return PT_OK;
        }
        if (ch == LF) {
            return PT_DONE;
        }
        return (is_ctl(ch) && ch != '\t') ? PT_ERROR : PT_OK;
    }

    /* after the size: SP/HT only before an extension */
    switch (ch) {
    case ' ':
    case '\t':
        ctx->state = ck_size_ows;
        return PT_OK;
    case ';':
        ctx->state = ck_ext;
        return PT_OK;
    case CR:
        if (ctx->state == ck_size) {
            ctx->state = ck_size_lf;
            return PT_OK;
        }
        return PT_ERROR;
    case LF:
        return ctx->state == ck_size ? PT_DONE : PT_ERROR;
    }
    return PT_ERROR;
}

/* One byte of the trailer section: header lines, checked and dropped. */
static int
trailer_char(pt_http_chunked_t *ctx, u_char ch)
{
    if (++ctx->trailers_len > ctx->trailers_max) {
        return PT_ERROR;
    }

    switch (ctx->state) {
    case ck_trailer_start:
        if (ch == CR) {
            ctx->state = ck_last_lf;
            return PT_OK;
        }
        if (ch == LF) {
            return PT_DONE;
        }
        if (!is_tchar(ch)) {
            return PT_ERROR;            /* obs-fold, empty name, ... */
        }
        ctx->state = ck_trailer_name;
        return PT_OK;
    case ck_trailer_name:
        if (ch == ':') {
            ctx->state = ck_trailer_value;
            return PT_OK;
        }
        return is_tchar(ch) ? PT_OK : PT_ERROR;
    case ck_trailer_value:
        if (ch == CR) {
            ctx->state = ck_trailer_lf;
            return PT_OK;
        }
        if (ch == LF) {
            ctx->state = ck_trailer_start;
            return PT_OK;
        }
        return (is_ctl(ch) && ch != '\t') ? PT_ERROR : PT_OK;
    case ck_trailer_lf:
        ctx->state = ck_trailer_start;
        return ch == LF ? PT_OK : PT_ERROR;
    default: /* ck_last_lf */
        return ch == LF ? PT_DONE : PT_ERROR;
    }
}

int
pt_http_parse_chunked(pt_http_chunked_t *ctx, pt_buf_t *b)
{
    u_char *p;
    int     rc;

    if (ctx->line_max == 0) {
        ctx->line_max = PT_HTTP_CHUNK_LINE_MAX;
    }
    if (ctx->trailers_max == 0) {
        ctx->trailers_max = PT_HTTP_CHUNK_TRAILERS_MAX;
    }

    for (p = b->pos; p < b->last; p++) {
        switch (ctx->state) {
        case ck_start:
        case ck_size:
        case ck_size_ows:
        case ck_ext:
            rc = chunk_size_char(ctx, *p);
            break;

        case ck_size_lf:
            rc = *p == LF ? PT_DONE : PT_ERROR;
            break;

        case ck_data:
            if (ctx->size > 0) {
                b->pos = p;
                ctx->length = chunked_min_length(ctx);
                return PT_OK;
            }
            ctx->state = ck_data_cr;
            /* fall through */
        case ck_data_cr:
            if (*p == CR) {
                ctx->state = ck_data_lf;
                continue;
            }
            /* a bare LF ends the data too */
            /* fall through */
        case ck_data_lf:
            if (*p != LF) {
                goto invalid;
            }
            ctx->state = ck_start;
            ctx->line_len = 0;
            continue;

        case ck_done:
            b->pos = p;
            return PT_DONE;

        default:
            rc = trailer_char(ctx, *p);
            if (rc == PT_DONE) {
                ctx->state = ck_done;
                ctx->length = 0;
                b->pos = p + 1;
                return PT_DONE;
            }
            break;
        }

        if (rc == PT_ERROR) {
            goto invalid;
        }
        if (rc == PT_DONE) {
            /* end of a size line */
            ctx->state = ctx->size == 0 ? ck_trailer_start : ck_data;
        }
    }

    b->pos = p;
    if (ctx->state == ck_done) {
        return PT_DONE;
    }
    if (ctx->state == ck_data && ctx->size == 0) {
        ctx->state = ck_data_cr;
    }
    ctx->length = chunked_min_length(ctx);
    return PT_AGAIN;

invalid:
    b->pos = p;
    return PT_ERROR;
}

off_t
pt_http_parse_content_length(const u_char *p, size_t n)
{
    off_t v = 0;

    if (n == 0) {
        return -1;
    }
    for (; n--; p++) {
        if (!is_digit(*p)) {
            return -1;
        }
        if (v > (OFF_T_MAX - (*p - '0')) / 10) {
            return -1;
        }
        v = v * 10 + (*p - '0');
    }
    return v;
}
