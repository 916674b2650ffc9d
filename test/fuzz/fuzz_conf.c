/*
 * libFuzzer harness for the configuration lexer and parser
 * (pt_conf_parse_buf). The input is parsed as a file's text, then as -g
 * text, and a tree that parses is printed back (every word quoted) and
 * parsed again. Checks:
 *  - the result is PT_OK or PT_ERROR, and the tree is NULL on error;
 *  - every node has 1..64 words, none of them "include"; each word is a
 *    NUL-terminated pool copy, not a pointer into the input, and no longer
 *    than its source text; only blocks have children;
 *  - every node names the buffer or a file in cf->files, its line is
 *    within that text, and lines never go back within one text in
 *    document order;
 *  - -g text parses iff the file text parses with no block opened in the
 *    buffer itself, and then to the same tree;
 *  - the printed tree parses back to the same words and blocks.
 *
 * Includes resolve against a sandbox directory of fixed files (see
 * fixtures[]). The parser's open() and glob() are linked through
 * -Wl,--wrap: any path outside the sandbox or holding "/.." is "not
 * found", so an input can never make the harness read the real file
 * system (or block on /dev/stdin).
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sanitizer/asan_interface.h>

#include "common/array.h"
#include "common/conf.h"
#include "common/log.h"
#include "common/pool.h"
#include "common/str.h"

#define BUF_NAME    "fuzz.conf"
#define MAX_WORDS   64          /* CONF_MAX_ARGS in common/conf.c */
#define MAX_TEXTS   256         /* source instances tracked per tree */

/* ------------------------------------------------------------------ */
/* Sandbox for includes                                                */

static char     sandbox[128];
static int      verbose;        /* FUZZ_CONF_VERBOSE=1: results to stderr */
static size_t   sandbox_len;
static pt_log_t flog;

/* Relative to the sandbox. No fixture includes by glob something that
 * includes it back, so nesting stays linear (loop.conf stops at 16). */
static const struct {
    const char *name;
    const char *text;
} fixtures[] = {
    { "a.conf",     "a 1;\nb \"two words\" 'x';\n" },
    { "blk.conf",   "blk {\n    inner x;\n    deeper { y; }\n}\n" },
    { "empty.conf", "" },
    { "bad.conf",   "x \"unterminated;\n" },
    { "brace.conf", "}\n" },
    { "loop.conf",  "l;\ninclude loop.conf;\n" },
    { "inc.conf",   "# comment\ninclude sub/*.conf;\nafter;\n" },
    { "sub/c.conf", "c ${var}x \\; ;\n" },
    { "sub/d.conf", "d {\n}\ne;\n" },
    { NULL, NULL }
};

static int
in_sandbox(const char *path)
{
    return path != NULL && strncmp(path, sandbox, sandbox_len) == 0
           && path[sandbox_len] == '/' && strstr(path, "/..") == NULL;
}

int __real_open(const char *path, int flags, ...);
int __wrap_open(const char *path, int flags, ...);
int __real_glob(const char *pattern, int flags,
                int (*errfunc)(const char *, int), glob_t *pglob);
int __wrap_glob(const char *pattern, int flags,
                int (*errfunc)(const char *, int), glob_t *pglob);

int
__wrap_open(const char *path, int flags, ...)
{
    if (!in_sandbox(path) || (flags & O_ACCMODE) != O_RDONLY
        || (flags & O_CREAT))
    {
        errno = ENOENT;
        return -1;
    }
    return __real_open(path, flags);
}

int
__wrap_glob(const char *pattern, int flags,
            int (*errfunc)(const char *, int), glob_t *pglob)
{
    if (!in_sandbox(pattern)) {
        memset(pglob, 0, sizeof(*pglob));
        return GLOB_NOMATCH;
    }
    return __real_glob(pattern, flags, errfunc, pglob);
}

static void
remove_sandbox(void)
{
    char path[256];
    int  i;

    for (i = 0; fixtures[i].name != NULL; i++) {
        snprintf(path, sizeof(path), "%s/%s", sandbox, fixtures[i].name);
        unlink(path);
    }
    snprintf(path, sizeof(path), "%s/sub", sandbox);
    rmdir(path);
    rmdir(sandbox);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *tmp = getenv("TMPDIR");
    char        path[256];
    FILE       *f;
    int         i;

    (void) argc;
    (void) argv;
    snprintf(sandbox, sizeof(sandbox), "%s/fuzz_conf.XXXXXX",
             tmp && *tmp && strlen(tmp) < 64 ? tmp : "/tmp");
    if (mkdtemp(sandbox) == NULL) {
        perror("fuzz_conf: mkdtemp");
        exit(1);
    }
    sandbox_len = strlen(sandbox);
    snprintf(path, sizeof(path), "%s/sub", sandbox);
    if (mkdir(path, 0700) != 0) {
        perror("fuzz_conf: mkdir");
        exit(1);
    }
    for (i = 0; fixtures[i].name != NULL; i++) {
        snprintf(path, sizeof(path), "%s/%s", sandbox, fixtures[i].name);
        f = fopen(path, "w");
        if (f == NULL || fputs(fixtures[i].text, f) < 0 || fclose(f) != 0) {
            perror("fuzz_conf: fixture");
            exit(1);
        }
    }
    atexit(remove_sandbox);
    verbose = getenv("FUZZ_CONF_VERBOSE") != NULL;

    /* messages are formatted in full, and written to /dev/null only */
    pt_log_use_stderr = 0;
    memset(&flog, 0, sizeof(flog));
    flog.fd = __real_open("/dev/null", O_WRONLY | O_CLOEXEC);
    flog.level = PT_LOG_DEBUG;
    if (flog.fd < 0) {
        perror("fuzz_conf: /dev/null");
        exit(1);
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Checks                                                              */

static void
fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_conf: %s: %s\n", what, detail ? detail : "");
    abort();
}

#define CHECK(cond)                                                           \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fail("invariant", #cond);                                         \
        }                                                                     \
    } while (0)

typedef struct {
    const u_char  *in;        /* the fuzzer's buffer */
    size_t         n;
    const char    *buf_name;  /* what the buffer was parsed as */
    pt_array_t    *files;     /* cf->files */
    /* one entry per source instance (node->file pointers differ per read
     * of a file): the last line seen there, in document order */
    const char    *text[MAX_TEXTS];
    pt_uint_t      last[MAX_TEXTS];
    int            ntexts;
} walk_t;

static size_t
count_lines(const u_char *p, size_t n)
{
    size_t lines = 1;

    while (n > 0) {
        const u_char *nl = memchr(p, '\n', n);

        if (nl == NULL) {
            break;
        }
        lines++;
        n -= (size_t) (nl + 1 - p);
        p = nl + 1;
    }
    return lines;
}

/* The text a node came from: the buffer or a file in cf->files. */
static int
source_of(walk_t *w, const char *file, const u_char **p, size_t *n)
{
    pt_conf_file_t *f;
    pt_uint_t       i;

    if (strcmp(file, w->buf_name) == 0) {
        *p = w->in;
        *n = w->n;
        return 1;
    }
    if (w->files == NULL) {
        return 0;
    }
    f = w->files->elts;
    for (i = 0; i < w->files->nelts; i++) {
        if (pt_str_eq_cstr(&f[i].name, file)) {
            *p = f[i].content.data;
            *n = f[i].content.len;
            return 1;
        }
    }
    return 0;
}

static void
check_line_order(walk_t *w, const pt_conf_node_t *node)
{
    int i;

    for (i = 0; i < w->ntexts; i++) {
        if (w->text[i] == node->file) {
            CHECK(node->line >= w->last[i]);
            w->last[i] = node->line;
            return;
        }
    }
    if (w->ntexts < MAX_TEXTS) {
        w->text[w->ntexts] = node->file;
        w->last[w->ntexts++] = node->line;
    }
}

static void
check_tree(walk_t *w, const pt_conf_node_t *node, int depth)
{
    const pt_str_t *a;
    const u_char   *src;
    size_t          srclen;
    pt_uint_t       i;

    CHECK(depth < 100 * 20);
    for (; node != NULL; node = node->next) {
        CHECK(node->nargs >= 1 && node->nargs <= MAX_WORDS);
        CHECK(node->args != NULL);
        CHECK(node->block || node->children == NULL);
        CHECK(node->file != NULL);
        CHECK(source_of(w, node->file, &src, &srclen));
        CHECK(node->line >= 1 && node->line <= count_lines(src, srclen));
        check_line_order(w, node);
        CHECK(!pt_str_eq_cstr(&node->args[0], "include"));

        for (i = 0; i < node->nargs; i++) {
            a = &node->args[i];
            CHECK(a->data != NULL);
            CHECK(__asan_region_is_poisoned(a->data, a->len + 1) == NULL);
            CHECK(a->data[a->len] == '\0');
            CHECK(a->data + a->len < w->in || a->data >= w->in + w->n);
            /* unescaping only shrinks a word; quotes are not kept */
            CHECK(a->len <= srclen);
        }
        if (node->block) {
            check_tree(w, node->children, depth + 1);
        }
    }
}

/* Same words and blocks; with `lines`, same lines and the same file
 * names too (the buffer's name may differ: a vs b). */
static int
same_tree(const pt_conf_node_t *x, const pt_conf_node_t *y, int lines,
          const char *xbuf, const char *ybuf)
{
    pt_uint_t i;

    for (; x != NULL && y != NULL; x = x->next, y = y->next) {
        if (x->nargs != y->nargs || x->block != y->block) {
            return 0;
        }
        for (i = 0; i < x->nargs; i++) {
            if (x->args[i].len != y->args[i].len
                || memcmp(x->args[i].data, y->args[i].data, x->args[i].len))
            {
                return 0;
            }
        }
        if (lines) {
            int xb = strcmp(x->file, xbuf) == 0;
            int yb = strcmp(y->file, ybuf) == 0;

            if (x->line != y->line || xb != yb
                || (!xb && strcmp(x->file, y->file) != 0))
            {
                return 0;
            }
        }
        if (!same_tree(x->children, y->children, lines, xbuf, ybuf)) {
            return 0;
        }
    }
    return x == NULL && y == NULL;
}

/* A block opened by the buffer itself (not by an included file). */
static int
buffer_has_block(const pt_conf_node_t *node, const char *buf_name)
{
    for (; node != NULL; node = node->next) {
        if (node->block && strcmp(node->file, buf_name) == 0) {
            return 1;
        }
        if (buffer_has_block(node->children, buf_name)) {
            return 1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Printing a tree back                                                */

typedef struct {
    u_char  *p;
    size_t   len, cap;
    int      depth;       /* deepest block node, 0 at the top; -1: none */
} out_t;

static void
put(out_t *o, const void *s, size_t n)
{
    if (o->len + n > o->cap) {
        o->cap = (o->len + n) * 2 + 64;
        o->p = realloc(o->p, o->cap);
        if (o->p == NULL) {
            fail("realloc", NULL);
        }
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

/* Every word in "...": inside quotes only '\\' and '"' need escaping (the
 * lexer skips the byte after a backslash, and push_word resolves \\ and
 * \"); everything else, NUL and newlines included, goes as is. */
static void
print_tree(out_t *o, const pt_conf_node_t *node, int depth)
{
    const pt_str_t *a;
    pt_uint_t       i;
    size_t          j;

    for (; node != NULL; node = node->next) {
        for (i = 0; i < node->nargs; i++) {
            a = &node->args[i];
            put(o, i ? " \"" : "\"", i ? 2 : 1);
            for (j = 0; j < a->len; j++) {
                if (a->data[j] == '\\' || a->data[j] == '"') {
                    put(o, "\\", 1);
                }
                put(o, &a->data[j], 1);
            }
            put(o, "\"", 1);
        }
        if (node->block) {
            o->depth = depth > o->depth ? depth : o->depth;
            put(o, " {\n", 3);
            print_tree(o, node->children, depth + 1);
            put(o, "}\n", 2);
        } else {
            put(o, ";\n", 2);
        }
    }
}

/* ------------------------------------------------------------------ */

static int
parse(pt_conf_t *cf, pt_pool_t *pool, const char *name, const u_char *p,
      size_t n, pt_conf_node_t **tree)
{
    int rc;

    memset(cf, 0, sizeof(*cf));
    cf->pool = pool;
    cf->temp_pool = pool;
    cf->log = &flog;
    cf->conf_prefix.data = (u_char *) sandbox;
    cf->conf_prefix.len = sandbox_len;

    *tree = (pt_conf_node_t *) cf;      /* must be overwritten */
    rc = pt_conf_parse_buf(cf, name, p, n, tree);
    CHECK(rc == PT_OK || rc == PT_ERROR);
    CHECK(rc == PT_OK || *tree == NULL);
    CHECK(*tree != (pt_conf_node_t *) cf);
    /* the position state is restored */
    CHECK(cf->parse_file == NULL && cf->parse_line == 0 && cf->node == NULL);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pt_pool_t       *pool;
    pt_conf_t        cf, cf2;
    pt_conf_node_t  *tree, *tree2;
    walk_t           w;
    out_t            o = { NULL, 0, 0, -1 };
    int              rc, rc2;

    pool = pt_pool_create(PT_POOL_DEFAULT_SIZE, &flog);
    if (pool == NULL) {
        fail("pt_pool_create", NULL);
    }

    /* 1. as a file's text */
    rc = parse(&cf, pool, BUF_NAME, data, size, &tree);
    if (rc == PT_OK) {
        memset(&w, 0, sizeof(w));
        w.in = data;
        w.n = size;
        w.buf_name = BUF_NAME;
        w.files = cf.files;
        check_tree(&w, tree, 0);
    }

    /* 2. as -g text: no blocks in the buffer, otherwise the same */
    rc2 = parse(&cf2, pool, PT_CONF_CMDLINE, data, size, &tree2);
    if (rc2 == PT_OK) {
        memset(&w, 0, sizeof(w));
        w.in = data;
        w.n = size;
        w.buf_name = PT_CONF_CMDLINE;
        w.files = cf2.files;
        check_tree(&w, tree2, 0);
    }
    if ((rc2 == PT_OK)
        != (rc == PT_OK && !buffer_has_block(tree, BUF_NAME)))
    {
        fprintf(stderr, "file rc %d, -g rc %d\n", rc, rc2);
        fail("-g text", "parses differently");
    }
    if (rc2 == PT_OK
        && !same_tree(tree, tree2, 1, BUF_NAME, PT_CONF_CMDLINE))
    {
        fail("-g text", "different tree");
    }

    if (verbose) {
        fprintf(stderr, "file rc %d, -g rc %d\n", rc, rc2);
    }

    /* 3. printed back and parsed again; included files count their block
     * nesting from 0, so a tree may nest deeper than the parser allows
     * in one text (a block at depth 99), and is then not printed */
    if (rc == PT_OK) {
        print_tree(&o, tree, 0);
        if (verbose) {
            fprintf(stderr, "printed:\n%.*s", (int) o.len, o.p);
        }
    }
    if (rc == PT_OK && o.depth < 99) {
        rc2 = parse(&cf2, pool, "printed.conf", o.p ? o.p : (u_char *) "",
                    o.len, &tree2);
        if (rc2 != PT_OK) {
            fprintf(stderr, "printed:\n%.*s\n", (int) o.len, o.p);
            fail("round trip", "printed tree does not parse");
        }
        if (!same_tree(tree, tree2, 0, NULL, NULL)) {
            fprintf(stderr, "printed:\n%.*s\n", (int) o.len, o.p);
            fail("round trip", "different tree");
        }
    }
    free(o.p);

    pt_pool_destroy(pool);
    return 0;
}
