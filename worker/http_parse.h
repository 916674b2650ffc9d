/*
 * HTTP/1.x wire parsing: incremental, zero-copy request-line and header-line
 * state machines, path normalisation, chunked transfer coding and
 * Content-Length. Strict where laxness enables request smuggling.
 */
#ifndef PT_HTTP_PARSE_H
#define PT_HTTP_PARSE_H

#include <stddef.h>
#include <sys/types.h>

#include "common/pt_types.h"

/* Methods: one bit each, so that limit_except can hold sets. */
#define PT_HTTP_UNKNOWN    0x0001   /* valid syntax, not one below */
#define PT_HTTP_GET        0x0002
#define PT_HTTP_HEAD       0x0004
#define PT_HTTP_POST       0x0008
#define PT_HTTP_PUT        0x0010
#define PT_HTTP_DELETE     0x0020
#define PT_HTTP_MKCOL      0x0040
#define PT_HTTP_COPY       0x0080
#define PT_HTTP_MOVE       0x0100
#define PT_HTTP_OPTIONS    0x0200
#define PT_HTTP_PROPFIND   0x0400
#define PT_HTTP_PROPPATCH  0x0800
#define PT_HTTP_LOCK       0x1000
#define PT_HTTP_UNLOCK     0x2000
#define PT_HTTP_PATCH      0x4000
#define PT_HTTP_TRACE      0x8000
#define PT_HTTP_CONNECT    0x10000

/* Parse results besides PT_OK and PT_AGAIN (positive, distinct). */
#define PT_HTTP_PARSE_HEADER_DONE      1   /* the empty line ending the head */
#define PT_HTTP_PARSE_INVALID_METHOD   10  /* -> 400 */
#define PT_HTTP_PARSE_INVALID_REQUEST  11  /* -> 400 */
#define PT_HTTP_PARSE_INVALID_VERSION  12  /* HTTP major > 1 -> 505 */
#define PT_HTTP_PARSE_INVALID_HEADER   13  /* -> 400 */

/* pt_http_parse_t.invalid_header bits: the name is still a usable token
 * otherwise; the caller applies underscores_in_headers and
 * ignore_invalid_headers. */
#define PT_HTTP_HEADER_UNDERSCORE  0x01  /* name has '_' */
#define PT_HTTP_HEADER_BAD_CHAR    0x02  /* name has a char not [A-Za-z0-9-_] */

/* lowcase_header holds the first PT_HTTP_LC_HEADER_LEN bytes of the name. */
#define PT_HTTP_LC_HEADER_LEN  32

/* header_hash: fold of this over the lowercased name bytes, from 0. */
#define PT_HTTP_HASH(key, c)   ((pt_uint_t) (key) * 31 + (c))

/*
 * State and results of the request-line and header-line parsers. Zero it
 * (pt_http_parse_init) once per connection; both parsers reset their own
 * result fields when they start a new line, so it can be reused as is for
 * every header line and for the next pipelined request.
 *
 * All positions are pointers into the caller's buffer; spans are half-open
 * [start, end). A NULL start means "absent".
 *
 * Buffer contract. On PT_AGAIN everything up to b->last was consumed and
 * line_start is the first byte of the unfinished line (NULL when no byte of
 * it was seen, e.g. only empty lines before a request line). Before calling
 * again the caller appends bytes after b->last. If it moves the unfinished
 * line (or more) to other memory, it must call pt_http_parse_rebase() for
 * the moved range, otherwise the stored pointers dangle. The results of a
 * finished line (the request line while headers are parsed) are only
 * pointers too: they are rebased only if they lie in the moved range.
 */
typedef struct {
    pt_uint_t   state;           /* internal */
    u_char     *line_start;      /* first byte of the line being parsed */

    /* request line */
    u_char     *request_start;   /* first method byte */
    u_char     *request_end;     /* before the CR/LF */
    u_char     *method_start;
    u_char     *method_end;
    u_char     *uri_start;       /* request-target: path (or the path of */
    u_char     *uri_end;         /*   absolute-form) up to the SP */
    u_char     *schema_start;    /* absolute-form only */
    u_char     *schema_end;      /*   (before ':') */
    u_char     *host_start;      /* absolute-form only, "[...]" kept */
    u_char     *host_end;
    u_char     *port_start;      /* absolute-form with ":port" only */
    u_char     *port_end;
    u_char     *args_start;      /* after the first '?', up to uri_end */
    u_char     *uri_ext;         /* after the last '.' of the last path
                                    segment (not a leading '.'); ends at
                                    args_start - 1 or uri_end. For a
                                    complex_uri use normalize_path's ext. */
    pt_uint_t   method;          /* PT_HTTP_GET ... */
    pt_uint_t   http_major;
    pt_uint_t   http_minor;
    pt_uint_t   http_version;    /* major * 1000 + minor */

    unsigned    complex_uri:1;   /* path has "/." "//" '%' or '#':
                                    normalise it before use */
    unsigned    quoted_uri:1;    /* path has '%' */
    unsigned    plus_in_uri:1;   /* path has '+' */
    unsigned    empty_path_in_uri:1;  /* "http://host" or "http://host?a":
                                    uri is empty, the path is "/" */

    /* header line */
    u_char     *header_name_start;
    u_char     *header_name_end;    /* at the ':' */
    u_char     *header_start;       /* value without surrounding SP/HT; */
    u_char     *header_end;         /*   start == end when empty */
    pt_uint_t   header_hash;        /* PT_HTTP_HASH over the lowercased
                                       name, however long */
    pt_uint_t   lowcase_index;      /* bytes in lowcase_header: the name
                                       length, capped at LC_HEADER_LEN */
    pt_uint_t   invalid_header;     /* PT_HTTP_HEADER_* bits */
    u_char      lowcase_header[PT_HTTP_LC_HEADER_LEN];
} pt_http_parse_t;

void pt_http_parse_init(pt_http_parse_t *p);

/*
 * Parse the request line from b->pos. Empty lines before it are skipped.
 * Returns PT_OK (b->pos past the line end), PT_AGAIN (b->pos == b->last),
 * or PT_HTTP_PARSE_INVALID_METHOD / _REQUEST (b->pos at the offending
 * byte) / _VERSION (whole line parsed, b->pos past it). HTTP/0.9 (no
 * version) is rejected as INVALID_REQUEST; "OPTIONS *" too, like nginx.
 */
int pt_http_parse_request_line(pt_http_parse_t *p, pt_buf_t *b);

/*
 * Parse one header line from b->pos. Returns PT_OK (one header: name and
 * value set, b->pos past the line), PT_HTTP_PARSE_HEADER_DONE (the empty
 * line, b->pos past it), PT_AGAIN, PT_HTTP_PARSE_INVALID_HEADER (b->pos at
 * the offending byte), or PT_HTTP_PARSE_INVALID_REQUEST (a CR not followed
 * by LF on the empty line). Rejected: obs-fold, whitespace or a control
 * character in or before the name, an empty name, control characters other
 * than HT in the value (NUL, bare CR, DEL...). A bare LF ends a line.
 */
int pt_http_parse_header_line(pt_http_parse_t *p, pt_buf_t *b);

/*
 * The caller moved the bytes [from, to] to [from + delta, to + delta]:
 * shift every stored position within that range (`to` included, for end
 * positions at the end of the data).
 */
void pt_http_parse_rebase(pt_http_parse_t *p, const u_char *from,
                          const u_char *to, ptrdiff_t delta);

/*
 * Normalise a request path (no "?args": the caller splits them off): it
 * must start with '/'. Decodes %XX (a decoded '/' or '.' counts as one),
 * drops "." segments, resolves ".." segments, merges runs of '/' when
 * merge_slashes, and stops at a raw '#' (a fragment, as nginx does).
 * dst has room for len bytes (the output is never longer). Returns PT_OK
 * with *dst_len set and, when ext is not NULL, *ext pointing into dst after
 * the last '.' of the last segment (not a leading one), or NULL; returns
 * PT_ERROR on a bad or truncated escape, %00, a NUL, or ".." above root.
 */
int pt_http_normalize_path(const u_char *src, size_t len, u_char *dst,
                           size_t *dst_len, int merge_slashes, u_char **ext);

/* Default limits of pt_http_chunked_t when its fields are 0. */
#define PT_HTTP_CHUNK_LINE_MAX     4096   /* one chunk-size line with ext */
#define PT_HTTP_CHUNK_TRAILERS_MAX 8192   /* all trailer lines together */

/*
 * Chunked transfer coding, for request bodies and upstream responses. Zero
 * it before the body; it holds no pointers, so every call may get a new
 * buffer.
 */
typedef struct {
    pt_uint_t   state;          /* internal */
    off_t       size;           /* data bytes of the current chunk still
                                   to come (some may be beyond b->last) */
    off_t       length;         /* for the caller: at least this many more
                                   bytes are needed to finish the body */
    size_t      line_len;       /* internal: bytes of the size line */
    size_t      trailers_len;   /* internal: bytes of trailers */
    size_t      line_max;       /* 0: PT_HTTP_CHUNK_LINE_MAX */
    size_t      trailers_max;   /* 0: PT_HTTP_CHUNK_TRAILERS_MAX */
} pt_http_chunked_t;

/*
 * Parse chunked framing from b->pos. Returns
 *   PT_OK: data starts at b->pos; the caller takes n = min(ctx->size,
 *     b->last - b->pos) bytes, advances b->pos and subtracts n from
 *     ctx->size, then calls again (with this or the next buffer);
 *   PT_DONE: the last chunk and the trailers (discarded) were consumed,
 *     b->pos is past the final empty line;
 *   PT_AGAIN: all of b consumed, more is needed (see ctx->length);
 *   PT_ERROR: invalid framing (b->pos at the offending byte): bad hex, a
 *     size above 2^60 - 1 (more than 15 significant hex digits; leading
 *     zeros are free), a space without an extension, a missing CRLF
 *     after data, a too long size line or too long trailers, control
 *     characters, a bad trailer line.
 */
int pt_http_parse_chunked(pt_http_chunked_t *ctx, pt_buf_t *b);

/* Content-Length value: 1*DIGIT only (no sign, no spaces); -1 when
 * empty, invalid, or over the off_t range. */
off_t pt_http_parse_content_length(const u_char *p, size_t n);

#endif /* PT_HTTP_PARSE_H */
