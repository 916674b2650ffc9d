/*
 * The location index of a server or location block: parsing of the
 * "location" modifiers with nginx's nesting rules, and the lookup of the
 * location a URI selects (exact, longest prefix, ^~, regexes in order,
 * nested locations first) plus named locations by name.
 */
#ifndef PT_HTTP_LOCATION_H
#define PT_HTTP_LOCATION_H

#include "common/array.h"
#include "common/pt_types.h"
#include "common/regex.h"
#include "common/str.h"

typedef struct pt_http_location_s   pt_http_location_t;
typedef struct pt_http_loc_static_s pt_http_loc_static_t;

/*
 * The locations of one block (a server, or a location's nested ones).
 * `list` is filled by pt_http_location_add in declaration order; the rest
 * is built by pt_http_location_init. Zeroed memory is an empty block.
 */
typedef struct {
    pt_array_t              list;     /* pt_http_location_t *, as declared */
    pt_http_loc_static_t   *statics;  /* exact and prefix, sorted by name */
    pt_uint_t               nstatics;
    pt_http_location_t    **regexes;  /* in declaration order */
    pt_uint_t               nregexes;
    pt_http_location_t    **named;    /* sorted by name, then declaration */
    pt_uint_t               nnamed;
} pt_http_locations_t;

struct pt_http_location_s {
    pt_str_t              name;      /* uri, regex source, or "@name" */
    unsigned              exact:1;    /* "=" */
    unsigned              noregex:1;  /* "^~" */
    unsigned              regex:1;    /* "~" or "~*" */
    unsigned              caseless:1; /* "~*" */
    unsigned              named:1;    /* "@name" */
    pt_regex_t           *re;         /* regex locations only */
    void                 *data;       /* the location's conf, opaque here */
    pt_http_location_t   *parent;     /* NULL on the server level */
    pt_http_locations_t   children;   /* nested locations */
    const char           *file;       /* where it was declared */
    pt_uint_t             line;
};

/*
 * Declare a location from the arguments of "location" (args[0..nargs),
 * without the directive name): "[=|~|~*|^~] uri" or "@name", modifier
 * glued to the uri accepted as nginx does ("=/x", "~*\.gif$").
 * `parent` is the enclosing location, NULL on the server level, where the
 * location goes into `server`. Regexes are compiled into `pool`, which owns
 * the result. Returns the new location (the caller sets ->data), or NULL
 * with nginx's phrase in err: invalid location modifier "x", named
 * location "@x" can be on the server level only, location "/b" is outside
 * location "/a", location "/b" cannot be inside the exact location "/a",
 * ... the named location "@a", or a pcre2_compile() message.
 * Duplicates are found by pt_http_location_init.
 */
pt_http_location_t *pt_http_location_add(pt_pool_t *pool,
                                         pt_http_locations_t *server,
                                         pt_http_location_t *parent,
                                         const pt_str_t *args,
                                         pt_uint_t nargs, const char *file,
                                         pt_uint_t line, u_char *err,
                                         size_t errlen);

/*
 * Build the lookup structures of `block` and, recursively, of every
 * nested block, once the configuration is read. Returns PT_OK, or
 * PT_ERROR with err set, e.g. duplicate location "/x" in file:line.
 */
int pt_http_location_init(pt_pool_t *pool, pt_http_locations_t *block,
                          u_char *err, size_t errlen);

/*
 * The location `uri` selects in `block` (nginx's algorithm): an exact
 * match wins at once; else the longest prefix is remembered and its nested
 * locations are searched (a match there wins); then, unless that prefix is
 * "^~", the block's regexes in declaration order, the first match winning
 * (and its nested locations searched in turn); else the longest prefix.
 * Returns NULL when nothing matches. Captures of the last regex that
 * matched go to captures[0 .. 2*ncap) (see pt_regex_exec); *ncaptured (may
 * be NULL) gets the number of pairs written, 0 if no regex matched, or
 * PT_ERROR when a regex failed to run (then NULL is returned: answer 500).
 */
pt_http_location_t *pt_http_location_find(pt_http_locations_t *block,
                                          const u_char *uri, size_t len,
                                          int *captures, pt_uint_t ncap,
                                          int *ncaptured);

/* The named location "@name" (name includes the "@") of a server block, or
 * NULL; with duplicates the first declared. Never matched by a URI. */
pt_http_location_t *pt_http_location_named(pt_http_locations_t *block,
                                           const pt_str_t *name);

#endif /* PT_HTTP_LOCATION_H */
