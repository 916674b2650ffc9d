/*
 * Location blocks: the "location" modifier syntax and nesting rules, the
 * per-block index (exact and prefix names sorted for a longest-prefix
 * search, regexes in order, named ones by name) and nginx's lookup.
 */
#include <stdlib.h>
#include <string.h>

#include "common/array.h"
#include "common/pool.h"
#include "common/regex.h"
#include "common/str.h"
#include "worker/http_location.h"

/*
 * One name of the static part of a block. The exact and prefix locations
 * of the same name share it. `parent` is the index of the longest other
 * entry that has a prefix location and whose name is a prefix of this
 * name, -1 if none: the chain of parents of the greatest name <= uri holds
 * every prefix location that matches uri (see find_static).
 */
struct pt_http_loc_static_s {
    pt_str_t             name;
    pt_http_location_t  *exact;     /* "= name" */
    pt_http_location_t  *prefix;    /* "name" or "^~ name" */
    pt_int_t             parent;
};

typedef struct {
    pt_http_location_t  *loc;
    pt_uint_t            idx;       /* declaration order, for stable sort */
} sort_item_t;

static int
name_cmp(const u_char *a, size_t alen, const u_char *b, size_t blen)
{
    int rc = memcmp(a, b, pt_min(alen, blen));

    if (rc != 0) {
        return rc;
    }
    return alen < blen ? -1 : (alen > blen ? 1 : 0);
}

static int
item_cmp(const void *x, const void *y)
{
    const sort_item_t *a = x, *b = y;
    int                rc;

    rc = name_cmp(a->loc->name.data, a->loc->name.len, b->loc->name.data,
                  b->loc->name.len);
    if (rc != 0) {
        return rc;
    }
    return a->idx < b->idx ? -1 : (a->idx > b->idx ? 1 : 0);
}

static int
is_prefix(const pt_str_t *p, const pt_str_t *s)
{
    return p->len <= s->len && memcmp(p->data, s->data, p->len) == 0;
}

/* Split args into kind flags and name, as nginx reads "location". Returns
 * PT_ERROR with err set on a bad modifier or argument count. */
static int
parse_modifier(pt_http_location_t *loc, const pt_str_t *args, pt_uint_t nargs,
               pt_str_t *name, u_char *err, size_t errlen)
{
    const pt_str_t *mod;

    if (nargs == 2) {
        mod = &args[0];
        *name = args[1];
        if (pt_str_eq_cstr(mod, "=")) {
            loc->exact = 1;
        } else if (pt_str_eq_cstr(mod, "^~")) {
            loc->noregex = 1;
        } else if (pt_str_eq_cstr(mod, "~")) {
            loc->regex = 1;
        } else if (pt_str_eq_cstr(mod, "~*")) {
            loc->regex = 1;
            loc->caseless = 1;
        } else {
            pt_slprintf(err, err + errlen,
                        "invalid location modifier \"%.*s\"", (int) mod->len,
                        mod->data);
            return PT_ERROR;
        }
        return PT_OK;
    }

    if (nargs != 1) {
        pt_slprintf(err, err + errlen,
                    "invalid number of arguments in \"location\" directive");
        return PT_ERROR;
    }

    /* The modifier may be glued to the uri: "=/x", "^~/x", "~*\.gif$". */
    *name = args[0];
    if (name->len >= 1 && name->data[0] == '=') {
        loc->exact = 1;
        name->data++;
        name->len--;
    } else if (name->len >= 2 && name->data[0] == '^'
               && name->data[1] == '~')
    {
        loc->noregex = 1;
        name->data += 2;
        name->len -= 2;
    } else if (name->len >= 1 && name->data[0] == '~') {
        loc->regex = 1;
        name->data++;
        name->len--;
        if (name->len >= 1 && name->data[0] == '*') {
            loc->caseless = 1;
            name->data++;
            name->len--;
        }
    } else if (name->len >= 1 && name->data[0] == '@') {
        loc->named = 1;
    }
    return PT_OK;
}

/* nginx's rules for a location inside `parent`; PT_ERROR with err set. */
static int
check_nesting(pt_http_location_t *loc, pt_http_location_t *parent,
              u_char *err, size_t errlen)
{
    u_char *end = err + errlen;
    int     cl = (int) loc->name.len, pl = (int) parent->name.len;

    if (parent->exact) {
        pt_slprintf(err, end, "location \"%.*s\" cannot be inside "
                    "the exact location \"%.*s\"", cl, loc->name.data, pl,
                    parent->name.data);
        return PT_ERROR;
    }
    if (parent->named) {
        pt_slprintf(err, end, "location \"%.*s\" cannot be inside "
                    "the named location \"%.*s\"", cl, loc->name.data, pl,
                    parent->name.data);
        return PT_ERROR;
    }
    if (loc->named) {
        pt_slprintf(err, end, "named location \"%.*s\" can be "
                    "on the server level only", cl, loc->name.data);
        return PT_ERROR;
    }
    /* As in nginx, a nested exact or prefix name must extend the parent's
     * name, even when the parent is a regex (whose name is its source). */
    if (!loc->regex && !is_prefix(&parent->name, &loc->name)) {
        pt_slprintf(err, end, "location \"%.*s\" is outside location "
                    "\"%.*s\"", cl, loc->name.data, pl, parent->name.data);
        return PT_ERROR;
    }
    return PT_OK;
}

pt_http_location_t *
pt_http_location_add(pt_pool_t *pool, pt_http_locations_t *server,
                     pt_http_location_t *parent, const pt_str_t *args,
                     pt_uint_t nargs, const char *file, pt_uint_t line,
                     u_char *err, size_t errlen)
{
    pt_http_locations_t  *block;
    pt_http_location_t   *loc, **slot;
    pt_str_t              name;

    loc = pt_pcalloc(pool, sizeof(pt_http_location_t));
    if (loc == NULL) {
        goto nomem;
    }
    if (parse_modifier(loc, args, nargs, &name, err, errlen) != PT_OK) {
        return NULL;
    }
    loc->name.len = name.len;
    loc->name.data = pt_pstrdup(pool, &name);
    if (loc->name.data == NULL) {
        goto nomem;
    }

    if (loc->regex) {
        loc->re = pt_palloc(pool, sizeof(pt_regex_t));
        if (loc->re == NULL) {
            goto nomem;
        }
        if (pt_regex_compile(pool, loc->re, &loc->name, loc->caseless, err,
                             errlen)
            != PT_OK)
        {
            return NULL;
        }
    }

    if (parent != NULL
        && check_nesting(loc, parent, err, errlen) != PT_OK)
    {
        return NULL;
    }

    block = parent != NULL ? &parent->children : server;
    if (block->list.elts == NULL
        && pt_array_init(&block->list, pool, 4, sizeof(pt_http_location_t *))
           != PT_OK)
    {
        goto nomem;
    }
    slot = pt_array_push(&block->list);
    if (slot == NULL) {
        goto nomem;
    }
    *slot = loc;
    loc->parent = parent;
    loc->file = file;
    loc->line = line;
    return loc;

nomem:
    pt_slprintf(err, err + errlen, "out of memory");
    return NULL;
}

static void
duplicate(pt_http_location_t *loc, u_char *err, size_t errlen)
{
    u_char *p;

    p = pt_slprintf(err, err + errlen, "duplicate location \"%.*s\"",
                    (int) loc->name.len, loc->name.data);
    if (loc->file != NULL) {
        pt_slprintf(p, err + errlen, " in %s:%lu", loc->file,
                    (unsigned long) loc->line);
    }
}

/* Fill block->statics from the sorted exact and prefix locations, joining
 * an exact and a prefix location of the same name; two of one kind are a
 * duplicate. Then link each entry to its parent prefix entry. */
static int
build_statics(pt_pool_t *pool, pt_http_locations_t *block, sort_item_t *items,
              pt_uint_t n, u_char *err, size_t errlen)
{
    pt_http_loc_static_t *e = NULL;
    pt_int_t             *stack;
    pt_uint_t             i, ns = 0;
    pt_int_t              top = -1;

    block->statics = pt_palloc(pool, n * sizeof(pt_http_loc_static_t));
    stack = pt_palloc(pool, n * sizeof(pt_int_t));
    if (block->statics == NULL || stack == NULL) {
        pt_slprintf(err, err + errlen, "out of memory");
        return PT_ERROR;
    }

    qsort(items, n, sizeof(sort_item_t), item_cmp);

    for (i = 0; i < n; i++) {
        pt_http_location_t *loc = items[i].loc;

        if (e == NULL || !pt_str_eq(&e->name, &loc->name)) {
            e = &block->statics[ns++];
            e->name = loc->name;
            e->exact = NULL;
            e->prefix = NULL;
        }
        if (loc->exact ? e->exact != NULL : e->prefix != NULL) {
            duplicate(loc, err, errlen);
            return PT_ERROR;
        }
        if (loc->exact) {
            e->exact = loc;
        } else {
            e->prefix = loc;
        }
    }
    block->nstatics = ns;

    /* In sorted order every name that is a prefix of another comes before
     * it, and the stack holds the chain of prefix entries still open. */
    for (i = 0; i < ns; i++) {
        e = &block->statics[i];
        while (top >= 0 && !is_prefix(&block->statics[stack[top]].name,
                                      &e->name))
        {
            top--;
        }
        e->parent = top >= 0 ? stack[top] : -1;
        if (e->prefix != NULL) {
            stack[++top] = (pt_int_t) i;
        }
    }
    return PT_OK;
}

int
pt_http_location_init(pt_pool_t *pool, pt_http_locations_t *block,
                      u_char *err, size_t errlen)
{
    pt_http_location_t **locs = block->list.elts;
    sort_item_t         *statics, *named;
    pt_uint_t            n = block->list.nelts, i, ns = 0, nn = 0, nr = 0;

    block->nstatics = block->nregexes = block->nnamed = 0;
    if (n == 0) {
        return PT_OK;
    }

    statics = pt_palloc(pool, n * sizeof(sort_item_t));
    named = pt_palloc(pool, n * sizeof(sort_item_t));
    block->regexes = pt_palloc(pool, n * sizeof(pt_http_location_t *));
    block->named = pt_palloc(pool, n * sizeof(pt_http_location_t *));
    if (statics == NULL || named == NULL || block->regexes == NULL
        || block->named == NULL)
    {
        pt_slprintf(err, err + errlen, "out of memory");
        return PT_ERROR;
    }

    for (i = 0; i < n; i++) {
        if (pt_http_location_init(pool, &locs[i]->children, err, errlen)
            != PT_OK)
        {
            return PT_ERROR;
        }
        if (locs[i]->regex) {
            block->regexes[nr++] = locs[i];
        } else if (locs[i]->named) {
            named[nn].loc = locs[i];
            named[nn++].idx = i;
        } else {
            statics[ns].loc = locs[i];
            statics[ns++].idx = i;
        }
    }
    block->nregexes = nr;

    qsort(named, nn, sizeof(sort_item_t), item_cmp);
    for (i = 0; i < nn; i++) {
        block->named[i] = named[i].loc;
    }
    block->nnamed = nn;

    if (ns == 0) {
        return PT_OK;
    }
    return build_statics(pool, block, statics, ns, err, errlen);
}

/*
 * The static part of one block: PT_OK with *loc the exact location equal
 * to uri, PT_AGAIN with *loc the longest prefix location, or PT_DECLINED.
 * Binary search for the greatest name <= uri, then its parent chain: the
 * longest prefix location matching uri is a prefix of that name (any name
 * between a prefix of uri and uri itself extends that prefix), so it is the
 * first entry on the chain no longer than their common prefix.
 */
static int
find_static(pt_http_locations_t *block, const u_char *uri, size_t len,
            pt_http_location_t **loc)
{
    pt_http_loc_static_t *st = block->statics, *e;
    pt_int_t              lo = 0, hi = (pt_int_t) block->nstatics - 1, mid;
    pt_int_t              found = -1, j;
    size_t                lcp, max;
    int                   rc;

    while (lo <= hi) {
        mid = lo + (hi - lo) / 2;
        rc = name_cmp(st[mid].name.data, st[mid].name.len, uri, len);
        if (rc == 0) {
            found = mid;
            break;
        }
        if (rc < 0) {
            found = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    if (found < 0) {
        return PT_DECLINED;
    }

    e = &st[found];
    max = pt_min(e->name.len, len);
    for (lcp = 0; lcp < max && e->name.data[lcp] == uri[lcp]; lcp++) {
        /* void */
    }
    if (lcp == len && e->name.len == len && e->exact != NULL) {
        *loc = e->exact;
        return PT_OK;
    }

    j = e->prefix != NULL ? found : e->parent;
    while (j >= 0 && st[j].name.len > lcp) {
        j = st[j].parent;
    }
    if (j < 0) {
        return PT_DECLINED;
    }
    *loc = st[j].prefix;
    return PT_AGAIN;
}

typedef struct {
    const u_char        *uri;
    size_t               len;
    int                 *captures;
    pt_uint_t            ncap;
    int                  ncaptured;
    pt_http_location_t  *found;     /* deepest location selected so far */
} find_ctx_t;

/*
 * One level of nginx's search: PT_OK when the search is over (exact or
 * regex match), PT_AGAIN when a prefix matched at this level or below,
 * PT_DECLINED when nothing here matched, PT_ERROR when a regex failed.
 * The selected location is ctx->found in every case but PT_ERROR.
 */
static int
find_in(pt_http_locations_t *block, find_ctx_t *ctx)
{
    pt_http_location_t *loc;
    pt_uint_t           i;
    int                 rc, noregex = 0;

    rc = find_static(block, ctx->uri, ctx->len, &loc);
    if (rc != PT_DECLINED) {
        ctx->found = loc;
    }
    if (rc == PT_AGAIN) {
        /* "^~" stops this level's regexes, not those nested in it. */
        noregex = loc->noregex;
        rc = find_in(&loc->children, ctx);
        if (rc == PT_DECLINED) {
            rc = PT_AGAIN;
        }
    }
    if (rc == PT_OK || rc == PT_ERROR || noregex) {
        return rc;
    }

    for (i = 0; i < block->nregexes; i++) {
        loc = block->regexes[i];
        rc = pt_regex_exec(loc->re, ctx->uri, ctx->len, ctx->captures,
                           ctx->ncap);
        if (rc == PT_DECLINED) {
            continue;
        }
        if (rc < 0) {
            return PT_ERROR;
        }
        ctx->found = loc;
        ctx->ncaptured = (int) pt_min((pt_uint_t) rc, ctx->ncap);
        return find_in(&loc->children, ctx) == PT_ERROR ? PT_ERROR : PT_OK;
    }
    return rc == PT_AGAIN ? PT_AGAIN : PT_DECLINED;
}

pt_http_location_t *
pt_http_location_find(pt_http_locations_t *block, const u_char *uri,
                      size_t len, int *captures, pt_uint_t ncap,
                      int *ncaptured)
{
    find_ctx_t ctx;

    ctx.uri = uri;
    ctx.len = len;
    ctx.captures = captures;
    ctx.ncap = captures != NULL ? ncap : 0;
    ctx.ncaptured = 0;
    ctx.found = NULL;

    if (find_in(block, &ctx) == PT_ERROR) {
        if (ncaptured != NULL) {
            *ncaptured = PT_ERROR;
        }
        return NULL;
    }
    if (ncaptured != NULL) {
        *ncaptured = ctx.ncaptured;
    }
    return ctx.found;
}

pt_http_location_t *
pt_http_location_named(pt_http_locations_t *block, const pt_str_t *name)
{
    pt_http_location_t *loc;
    pt_int_t            lo = 0, hi = (pt_int_t) block->nnamed - 1, mid;
    pt_int_t            found = -1;
    int                 rc;

    /* Leftmost equal name: the first declared of duplicates, as nginx. */
    while (lo <= hi) {
        mid = lo + (hi - lo) / 2;
        loc = block->named[mid];
        rc = name_cmp(loc->name.data, loc->name.len, name->data, name->len);
        if (rc == 0) {
            found = mid;
        }
        if (rc >= 0) {
            hi = mid - 1;
        } else {
            lo = mid + 1;
        }
    }
    return found >= 0 ? block->named[found] : NULL;
}
