/*
 * Directory listings in nginx 1.22 autoindex's exact bytes: html (with
 * exact_size and localtime variants), json, jsonp and xml. The caller
 * reads the directory; this module sorts, escapes and lays out.
 */
#ifndef PT_HTTP_AUTOINDEX_FMT_H
#define PT_HTTP_AUTOINDEX_FMT_H

#include <sys/types.h>
#include <time.h>

#include "common/pt_types.h"
#include "common/str.h"

/* autoindex_format */
#define PT_AUTOINDEX_HTML   0
#define PT_AUTOINDEX_JSON   1
#define PT_AUTOINDEX_JSONP  2
#define PT_AUTOINDEX_XML    3

/* Entry types, from stat() of the entry (symlinks followed). */
#define PT_AUTOINDEX_FILE   0   /* S_ISREG */
#define PT_AUTOINDEX_DIR    1   /* S_ISDIR */
#define PT_AUTOINDEX_OTHER  2   /* fifo, socket, device, unresolvable link */

/* Longest jsonp callback nginx accepts. */
#define PT_AUTOINDEX_CALLBACK_MAX 128

typedef struct {
    pt_str_t   name;    /* raw bytes as read from the directory */
    pt_uint_t  type;    /* PT_AUTOINDEX_FILE, _DIR or _OTHER */
    off_t      size;
    time_t     mtime;
} pt_autoindex_entry_t;

typedef struct {
    pt_uint_t  format;          /* PT_AUTOINDEX_HTML, ... */
    unsigned   exact_size:1;    /* autoindex_exact_size (html) */
    unsigned   localtime:1;     /* autoindex_localtime (html only) */
    unsigned   utf8:1;          /* the response charset is utf-8: html
                                   names are measured in characters,
                                   otherwise in bytes (nginx's r->utf8) */
    long       gmtoff;          /* seconds east of UTC now, for localtime */
    pt_str_t   callback;        /* jsonp "callback" argument, raw; empty:
                                   plain json */
} pt_autoindex_conf_t;

/*
 * Render the listing of the directory at uri (the decoded, normalised
 * request URI, ending in '/'; it is HTML-escaped here) with the entries of
 * an array of pt_autoindex_entry_t. The caller has skipped names starting
 * with '.', as nginx does. The entries are sorted in place first:
 * directories, then everything else, each by byte order of the name.
 * Returns a temporary memory buffer holding the whole body (flags other
 * than temporary unset), or NULL on allocation failure. Everything is
 * allocated from pool.
 */
pt_buf_t *pt_autoindex_render(pt_pool_t *pool, const pt_str_t *uri,
                              pt_array_t *entries,
                              const pt_autoindex_conf_t *conf);

/* nginx's order: directories first, then by name (strcmp). */
void pt_autoindex_sort(pt_autoindex_entry_t *entries, pt_uint_t n);

/*
 * Is a jsonp callback acceptable? Only [A-Za-z0-9_.], at most
 * PT_AUTOINDEX_CALLBACK_MAX bytes; nginx answers 400 otherwise. An empty
 * one is fine (plain json).
 */
int pt_autoindex_callback_ok(const pt_str_t *callback);

/*
 * The response's Content-Type and charset (charset->len 0: none):
 * text/html, application/json, application/javascript (jsonp with a
 * callback) or text/xml with charset utf-8. Static strings.
 */
void pt_autoindex_content_type(const pt_autoindex_conf_t *conf,
                               pt_str_t *type, pt_str_t *charset);

#endif /* PT_HTTP_AUTOINDEX_FMT_H */
