/*
 * Unit tests for worker/http_location: a table of location blocks and URIs
 * with the location nginx selects, the modifier and nesting errors, named
 * lookup, and a 500-location block checked against a brute-force search.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/pool.h"
#include "common/regex.h"
#include "common/str.h"
#include "worker/http_location.h"

#define MAX_DEPTH 8

/*
 * A block is written one location per string: leading '>' give the depth
 * (nested in the last location one level up), then "modifier uri" or one
 * argument. The whole string labels the location (loc->data).
 */
static const char *confs[][16] = {
    /* 0: nginx's documented example */
    { "= /", "/", "/documents/", "^~ /images/", "~* \\.(gif|jpg|jpeg)$",
      NULL },
    /* 1: longest prefix, exact and prefix side by side */
    { "/a", "/ab", "/abc/", "/a/b/c", "/b", "= /a/b", "= /a", "/a/b/cd",
      NULL },
    /* 2: regex order, ^~, exact before regex, glued modifiers */
    { "/", "~ ^/x", "~ ^/x/y", "^~ /static/", "= /x/exact", "~ \\.php$",
      "~* \\.PHP$", "=/g", "^~/h", "~*\\.JS$", NULL },
    /* 3: nested locations */
    { "/", "~ \\.txt$", "/a/", "> /a/b/", ">> ~ b\\.txt$",
      "> ~ \\.(txt|log)$", "^~ /n/", "> ~ [.]txt$", "/r/", "> ^~ /r/s/",
      "~ ^/rx/(\\w+)", "> ~ ^/rx/deep", "= /e", NULL },
    /* 4: captures, named locations, exact joined with prefix */
    { "~ ^/u/(?<user>[a-z]+)/(\\d+)$", "@fallback", "@other", "@fallback",
      "= /x", "/x", "/", NULL },
    /* 5: no prefix covers everything */
    { "/api/", "~ ^/api/v(\\d)/", "= /health", NULL },
};

typedef struct {
    int          conf;
    const char  *uri;
    const char  *expect;    /* label, or NULL for no match */
    const char  *cap1;      /* capture 1, when a regex matched */
} row_t;

static const row_t rows[] = {
    { 0, "/", "= /", NULL },
    { 0, "/index.html", "/", NULL },
    { 0, "/documents/document.html", "/documents/", NULL },
    { 0, "/images/1.gif", "^~ /images/", NULL },
    { 0, "/documents/1.jpg", "~* \\.(gif|jpg|jpeg)$", "jpg" },
    { 0, "/documents/1.JPG", "~* \\.(gif|jpg|jpeg)$", "JPG" },
    { 0, "/images", "/", NULL },
    { 0, "/x.jpeg", "~* \\.(gif|jpg|jpeg)$", "jpeg" },
    { 0, "/documents", "/", NULL },

    { 1, "/a", "= /a", NULL },
    { 1, "/ab", "/ab", NULL },
    { 1, "/abd", "/ab", NULL },
    { 1, "/abc", "/ab", NULL },
    { 1, "/abc/x", "/abc/", NULL },
    { 1, "/a/b", "= /a/b", NULL },
    { 1, "/a/b/", "/a", NULL },
    { 1, "/a/b/c", "/a/b/c", NULL },
    { 1, "/a/b/cd", "/a/b/cd", NULL },
    { 1, "/a/b/ce", "/a/b/c", NULL },
    { 1, "/a/b/c/d", "/a/b/c", NULL },
    { 1, "/a/x", "/a", NULL },
    { 1, "/aa", "/a", NULL },
    { 1, "/bb", "/b", NULL },
    { 1, "/c", NULL, NULL },
    { 1, "/", NULL, NULL },
    { 1, "", NULL, NULL },
    { 1, "/0", NULL, NULL },
    { 1, "/z", NULL, NULL },

    { 2, "/x/y", "~ ^/x", NULL },
    { 2, "/static/a.php", "^~ /static/", NULL },
    { 2, "/static", "/", NULL },
    { 2, "/x/exact", "= /x/exact", NULL },
    { 2, "/x/exact/", "~ ^/x", NULL },
    { 2, "/y.php", "~ \\.php$", NULL },
    { 2, "/y.PHP", "~* \\.PHP$", NULL },
    { 2, "/y.Php", "~* \\.PHP$", NULL },
    { 2, "/y", "/", NULL },
    { 2, "/g", "=/g", NULL },
    { 2, "/g/", "/", NULL },
    { 2, "/h/a.php", "^~/h", NULL },
    { 2, "/app.js", "~*\\.JS$", NULL },

    { 3, "/a/x.txt", "> ~ \\.(txt|log)$", "txt" },
    { 3, "/a/x.log", "> ~ \\.(txt|log)$", "log" },
    { 3, "/a/b/b.txt", ">> ~ b\\.txt$", NULL },
    { 3, "/a/b/x.txt", "> ~ \\.(txt|log)$", "txt" },
    { 3, "/a/b/x.html", "> /a/b/", NULL },
    { 3, "/a/x.html", "/a/", NULL },
    { 3, "/n/x.txt", "> ~ [.]txt$", NULL },
    { 3, "/n/x.html", "^~ /n/", NULL },
    { 3, "/r/s/x.txt", "~ \\.txt$", NULL },   /* nested ^~ stops only its
                                                 own level's regexes */
    { 3, "/r/s/x.html", "> ^~ /r/s/", NULL },
    { 3, "/r/x.txt", "~ \\.txt$", NULL },
    { 3, "/rx/abc", "~ ^/rx/(\\w+)", "abc" },
    { 3, "/rx/deep", "> ~ ^/rx/deep", NULL },  /* nested regex's captures */
    { 3, "/other.txt", "~ \\.txt$", NULL },
    { 3, "/e", "= /e", NULL },
    { 3, "/e.txt", "~ \\.txt$", NULL },

    { 4, "/u/bob/42", "~ ^/u/(?<user>[a-z]+)/(\\d+)$", "bob" },
    { 4, "/u/bob/x", "/", NULL },
    { 4, "/x", "= /x", NULL },
    { 4, "/xy", "/x", NULL },
    { 4, "@fallback", NULL, NULL },

    { 5, "/api/v2/users", "~ ^/api/v(\\d)/", "2" },
    { 5, "/api/users", "/api/", NULL },
    { 5, "/health", "= /health", NULL },
    { 5, "/healthz", NULL, NULL },
    { 5, "/other", NULL, NULL },
};

/* Build a block from specs; NULL with err set when add or init fails. */
static pt_http_locations_t *
build(pt_pool_t *p, const char *const *specs, u_char *err, size_t errlen)
{
    pt_http_locations_t *block = pt_pcalloc(p, sizeof(pt_http_locations_t));
    pt_http_location_t  *stack[MAX_DEPTH], *loc;
    pt_str_t             args[3];
    pt_uint_t            nargs, i, depth;
    const char          *s, *sp;

    err[0] = '\0';
    for (i = 0; specs[i] != NULL; i++) {
        s = specs[i];
        for (depth = 0; *s == '>'; s++) {
            depth++;
        }
        while (*s == ' ') {
            s++;
        }
        sp = strchr(s, ' ');
        if (sp != NULL) {
            args[0].data = (u_char *) s;
            args[0].len = (size_t) (sp - s);
            args[1].data = (u_char *) sp + 1;
            args[1].len = strlen(sp + 1);
            nargs = 2;
        } else {
            args[0].data = (u_char *) s;
            args[0].len = strlen(s);
            nargs = 1;
        }
        loc = pt_http_location_add(p, block, depth ? stack[depth - 1] : NULL,
                                   args, nargs, "test.conf", i + 1, err,
                                   errlen);
        if (loc == NULL) {
            return NULL;
        }
        loc->data = (void *) specs[i];
        stack[depth] = loc;
    }
    if (pt_http_location_init(p, block, err, errlen) != PT_OK) {
        return NULL;
    }
    return block;
}

START_TEST(lookup_table)
{
    pt_pool_t           *p = pt_pool_create(1024, NULL);
    pt_http_locations_t *blocks[pt_nelems(confs)];
    pt_http_location_t  *loc;
    u_char               err[256];
    int                  caps[6], n;
    pt_uint_t            i;
    const row_t         *r;

    for (i = 0; i < pt_nelems(confs); i++) {
        blocks[i] = build(p, confs[i], err, sizeof(err));
        ck_assert_msg(blocks[i] != NULL, "conf %u: %s", (unsigned) i, err);
    }

    for (i = 0; i < pt_nelems(rows); i++) {
        r = &rows[i];
        memset(caps, 0x55, sizeof(caps));
        loc = pt_http_location_find(blocks[r->conf], (const u_char *) r->uri,
                                    strlen(r->uri), caps, 3, &n);
        if (r->expect == NULL) {
            ck_assert_msg(loc == NULL, "row %u \"%s\": got \"%s\"",
                          (unsigned) i, r->uri,
                          loc ? (char *) loc->data : "");
            continue;
        }
        ck_assert_msg(loc != NULL, "row %u \"%s\": no match", (unsigned) i,
                      r->uri);
        ck_assert_msg(strcmp(loc->data, r->expect) == 0,
                      "row %u \"%s\": got \"%s\", want \"%s\"", (unsigned) i,
                      r->uri, (char *) loc->data, r->expect);
        if (r->cap1 != NULL) {
            ck_assert_msg(n >= 2, "row %u: %d captures", (unsigned) i, n);
            ck_assert_int_eq(caps[3] - caps[2], (int) strlen(r->cap1));
            ck_assert_msg(memcmp(r->uri + caps[2], r->cap1, strlen(r->cap1))
                          == 0, "row %u: capture", (unsigned) i);
        } else if (!loc->regex && loc->parent == NULL) {
            ck_assert_int_eq(n, 0);
        }
    }
    pt_pool_destroy(p);
}
END_TEST

START_TEST(captures_and_named)
{
    pt_pool_t           *p = pt_pool_create(1024, NULL);
    pt_http_locations_t *b;
    pt_http_location_t  *loc, **list;
    pt_str_t             name;
    u_char               err[256];
    const char          *uri = "/u/bob/42";
    int                  caps[8], n;

    b = build(p, confs[4], err, sizeof(err));
    ck_assert_ptr_nonnull(b);
    loc = pt_http_location_find(b, (const u_char *) uri, strlen(uri), caps,
                                4, &n);
    ck_assert_ptr_nonnull(loc);
    ck_assert_int_eq(n, 3);
    ck_assert_int_eq(caps[0], 0);
    ck_assert_int_eq(caps[1], 9);
    ck_assert_int_eq(caps[4], 7);
    ck_assert_int_eq(caps[5], 9);
    ck_assert_int_eq(caps[6], -1);
    pt_str_set(&name, "user");
    ck_assert_int_eq(pt_regex_named(loc->re, &name), 1);

    /* Fewer pairs asked than the regex has: only those are written. */
    loc = pt_http_location_find(b, (const u_char *) uri, strlen(uri), caps,
                                1, &n);
    ck_assert_int_eq(n, 1);
    loc = pt_http_location_find(b, (const u_char *) uri, strlen(uri), NULL,
                                0, NULL);
    ck_assert_ptr_nonnull(loc);

    list = b->list.elts;
    pt_str_set(&name, "@fallback");
    ck_assert_ptr_eq(pt_http_location_named(b, &name), list[1]);
    pt_str_set(&name, "@other");
    ck_assert_ptr_eq(pt_http_location_named(b, &name), list[2]);
    pt_str_set(&name, "@none");
    ck_assert_ptr_null(pt_http_location_named(b, &name));
    pt_str_set(&name, "@");
    ck_assert_ptr_null(pt_http_location_named(b, &name));
    ck_assert_int_eq(list[1]->named, 1);
    ck_assert_int_eq(list[4]->exact, 1);

    /* The nested tree keeps parents. */
    b = build(p, confs[3], err, sizeof(err));
    ck_assert_ptr_nonnull(b);
    list = b->list.elts;
    ck_assert_str_eq(list[2]->data, "/a/");
    loc = ((pt_http_location_t **) list[2]->children.list.elts)[0];
    ck_assert_ptr_eq(loc->parent, list[2]);
    ck_assert_str_eq(loc->file, "test.conf");
    ck_assert_uint_eq(loc->line, 4);
    pt_pool_destroy(p);
}
END_TEST

typedef struct {
    const char *specs[6];
    const char *error;      /* NULL: the block builds */
} bad_t;

static const bad_t bads[] = {
    { { "/x", "/x" }, "duplicate location \"/x\" in test.conf:2" },
    { { "= /x", "= /x" }, "duplicate location \"/x\" in test.conf:2" },
    { { "/x", "/y", "^~ /x" }, "duplicate location \"/x\" in test.conf:3" },
    { { "= /x", "/x" }, NULL },
    { { "~ /x", "~ /x" }, NULL },
    { { "@a", "@a" }, NULL },
    { { "/a", "> /a/b", "> /a/b" },
      "duplicate location \"/a/b\" in test.conf:3" },
    { { "/a", "> /a/b", "/a/b" }, NULL },
    { { "!~ /x" }, "invalid location modifier \"!~\"" },
    { { "== /x" }, "invalid location modifier \"==\"" },
    { { "/a", "> /b" }, "location \"/b\" is outside location \"/a\"" },
    { { "/a/", "> /a" }, "location \"/a\" is outside location \"/a/\"" },
    { { "= /a", "> /a/b" },
      "location \"/a/b\" cannot be inside the exact location \"/a\"" },
    { { "/a", "> @x" }, "named location \"@x\" can be on the server level "
                        "only" },
    { { "@a", "> /a" },
      "location \"/a\" cannot be inside the named location \"@a\"" },
    { { "~ (abc" }, "pcre2_compile() failed: missing closing parenthesis "
                    "in \"(abc\"" },
    { { "/a", "> ~ \\.x$", "> = /a/x", "> ^~ /a/y" }, NULL },
    { { "~ ^/r", "> /r/x" },
      "location \"/r/x\" is outside location \"^/r\"" },
    { { "~ ^/r", "> ~ ^/r/x" }, NULL },
};

START_TEST(errors)
{
    pt_pool_t           *p = pt_pool_create(1024, NULL);
    pt_http_locations_t  block;
    pt_str_t             args[3];
    u_char               err[256];
    pt_uint_t            i;

    for (i = 0; i < pt_nelems(bads); i++) {
        pt_http_locations_t *b = build(p, bads[i].specs, err, sizeof(err));

        if (bads[i].error == NULL) {
            ck_assert_msg(b != NULL, "bad %u: %s", (unsigned) i, err);
        } else {
            ck_assert_msg(b == NULL, "bad %u: built", (unsigned) i);
            ck_assert_msg(strcmp((char *) err, bads[i].error) == 0,
                          "bad %u: \"%s\"", (unsigned) i, err);
        }
    }

    memset(&block, 0, sizeof(block));
    pt_str_set(&args[0], "=");
    pt_str_set(&args[1], "/a");
    pt_str_set(&args[2], "/b");
    ck_assert_ptr_null(pt_http_location_add(p, &block, NULL, args, 3, "f", 1,
                                            err, sizeof(err)));
    ck_assert_str_eq((char *) err,
                     "invalid number of arguments in \"location\" directive");
    ck_assert_ptr_null(pt_http_location_add(p, &block, NULL, args, 0, "f", 1,
                                            err, sizeof(err)));
    ck_assert_uint_eq(block.list.nelts, 0);

    /* An empty block finds nothing. */
    ck_assert_int_eq(pt_http_location_init(p, &block, err, sizeof(err)),
                     PT_OK);
    ck_assert_ptr_null(pt_http_location_find(&block, (const u_char *) "/", 1,
                                             NULL, 0, NULL));
    pt_str_set(&args[0], "@x");
    ck_assert_ptr_null(pt_http_location_named(&block, &args[0]));
    pt_pool_destroy(p);
}
END_TEST

/* ---- 500 locations against a brute-force search ---- */

#define NLOC 500
#define NREGEX 6

static uint32_t seed = 12345;

static uint32_t
rnd(void)
{
    seed = seed * 1103515245u + 12345u;
    return (seed >> 8) & 0xffffff;
}

static void
rnd_path(char *buf, size_t max)
{
    static const char alpha[] = "ab/c";
    size_t            i, n = 1 + rnd() % (max - 2);

    buf[0] = '/';
    for (i = 1; i < n; i++) {
        buf[i] = alpha[rnd() % 4];
    }
    buf[n] = '\0';
}

/* One level of nginx's rule, written the slow, obvious way. */
static pt_http_location_t *
brute(pt_http_location_t **locs, pt_uint_t n, const char *uri)
{
    pt_http_location_t *best = NULL;
    size_t              len = strlen(uri);
    pt_uint_t           i;

    for (i = 0; i < n; i++) {
        if (locs[i]->exact && locs[i]->name.len == len
            && memcmp(locs[i]->name.data, uri, len) == 0)
        {
            return locs[i];
        }
    }
    for (i = 0; i < n; i++) {
        if (!locs[i]->exact && !locs[i]->regex && locs[i]->name.len <= len
            && memcmp(locs[i]->name.data, uri, locs[i]->name.len) == 0
            && (best == NULL || locs[i]->name.len > best->name.len))
        {
            best = locs[i];
        }
    }
    if (best != NULL && best->noregex) {
        return best;
    }
    for (i = 0; i < n; i++) {
        if (locs[i]->regex
            && pt_regex_exec(locs[i]->re, (const u_char *) uri, len, NULL, 0)
               > 0)
        {
            return locs[i];
        }
    }
    return best;
}

START_TEST(many_locations)
{
    static const char *regexes[NREGEX] = {
        "cc$", "^/a/b", "^/bbb", "/c/c", "a{3}", "^/ab/$"
    };
    pt_pool_t           *p = pt_pool_create(16384, NULL);
    pt_http_locations_t  block;
    pt_http_location_t  *loc;
    pt_str_t             args[2];
    char                 names[NLOC][16], uri[24];
    u_char               err[256];
    pt_uint_t            i, j, n = 0, hits = 0;

    memset(&block, 0, sizeof(block));
    for (i = 0; n < NLOC && i < 100 * NLOC; i++) {
        int kind = rnd() % 10;   /* 0: exact, 1: ^~, else plain prefix */

        rnd_path(names[n], 12);
        for (j = 0; j < n; j++) {
            if (strcmp(names[j], names[n]) == 0) {
                break;
            }
        }
        if (j < n) {
            continue;   /* keep names unique: duplicates are errors */
        }
        args[0].data = (u_char *) (kind == 0 ? "=" : kind == 1 ? "^~" : "");
        args[0].len = strlen((char *) args[0].data);
        args[1].data = (u_char *) names[n];
        args[1].len = strlen(names[n]);
        loc = pt_http_location_add(p, &block, NULL,
                                   kind >= 2 ? &args[1] : args,
                                   kind >= 2 ? 1 : 2, "t", n, err,
                                   sizeof(err));
        ck_assert_msg(loc != NULL, "%s", err);
        n++;
    }
    ck_assert_uint_eq(n, NLOC);
    for (i = 0; i < NREGEX; i++) {
        args[0].data = (u_char *) "~";
        args[0].len = 1;
        args[1].data = (u_char *) regexes[i];
        args[1].len = strlen(regexes[i]);
        ck_assert_ptr_nonnull(pt_http_location_add(p, &block, NULL, args, 2,
                                                   "t", 0, err,
                                                   sizeof(err)));
    }
    ck_assert_int_eq(pt_http_location_init(p, &block, err, sizeof(err)),
                     PT_OK);

    for (i = 0; i < 20000; i++) {
        pt_http_location_t *want;

        rnd_path(uri, sizeof(uri));
        if (i % 5 == 0) {
            /* a name itself, or one extended by a byte */
            strcpy(uri, names[rnd() % NLOC]);
            if (i % 10 == 0) {
                strcat(uri, "b");
            }
        }
        loc = pt_http_location_find(&block, (const u_char *) uri,
                                    strlen(uri), NULL, 0, NULL);
        want = brute(block.list.elts, block.list.nelts, uri);
        ck_assert_msg(loc == want, "uri \"%s\": got \"%s\", want \"%s\"",
                      uri, loc ? (char *) loc->name.data : "-",
                      want ? (char *) want->name.data : "-");
        hits += loc != NULL;
    }
    ck_assert_uint_gt(hits, 1000);
    pt_pool_destroy(p);
}
END_TEST

Suite *
pt_test_suite(void)
{
    Suite *s = suite_create("http_location");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, lookup_table);
    tcase_add_test(tc, captures_and_named);
    tcase_add_test(tc, errors);
    tcase_add_test(tc, many_locations);
    suite_add_tcase(s, tc);
    return s;
}
