/*
 * Unit tests for common/conf: lexer, tree, includes, nginx-worded errors
 * with file:line (read back from a real log file), dispatch, the generic
 * setters and the -T dump.
 */
#include <check.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/array.h"
#include "common/conf.h"
#include "common/log.h"
#include "common/pool.h"
#include "common/str.h"

/* ------------------------------------------------------------------ */
/* Fixture: a temp dir, a pool, a log file, a pt_conf_t, two modules.  */

static char        dir[256];
static pt_pool_t  *pool;
static pt_log_t    log_;
static pt_conf_t   cf;
static char        logpath[300];

typedef struct {
    int          flag;
    pt_int_t     num;
    pt_int_t     bnum;
    size_t       size;
    off_t        off;
    pt_msec_t    msec;
    time_t       sec;
    pt_str_t     str;
    pt_uint_t    en;
    pt_uint_t    mask;
    pt_array_t  *list;
    pt_uint_t    blk_seen;
    pt_uint_t    dual_main;
    pt_conf_node_t *node_after_blk;  /* cf->node once the block applied */
    pt_uint_t    ctx_after_blk;
    pt_uint_t    take_n;
} tconf_t;

typedef struct {
    pt_str_t     inner;
    pt_uint_t    dual_inner;
    int          flag;
} tinner_t;

typedef struct {
    pt_uint_t    created;
    pt_str_t     value;
} tdirect_t;

static tconf_t   tc;
static tinner_t  ti;

static const pt_conf_bounds_t bounds = { 1, 10 };
static const pt_conf_bounds_t low_only = { 5, -1 };
static const pt_conf_enum_t colors[] = {
    { "red", 1 }, { "green", 2 }, { "blue", 4 }, { NULL, 0 }
};
static const int notice = 1;

static char *
set_blk(pt_conf_t *c, pt_command_t *cmd, void *conf)
{
    tconf_t        *t = conf;
    pt_conf_ctx_t  *saved = c->ctx, inner;
    pt_uint_t       saved_type = c->ctx_type;
    void           *confs[2] = { &ti, &ti };   /* both modules */
    int             rc;

    t->blk_seen++;
    inner.main_conf = confs;
    inner.srv_conf = NULL;
    inner.loc_conf = NULL;
    c->ctx = &inner;
    c->ctx_type = PT_CONF_EVENTS;
    rc = pt_conf_apply(c, c->node->children);
    c->ctx = saved;
    c->ctx_type = saved_type;
    t->node_after_blk = c->node;
    t->ctx_after_blk = c->ctx_type;
    return rc == PT_OK ? PT_CONF_OK : PT_CONF_ERROR;
}

static char *
set_dual_main(pt_conf_t *c, pt_command_t *cmd, void *conf)
{
    ((tconf_t *) conf)->dual_main++;
    return PT_CONF_OK;
}

static char *
set_dual_inner(pt_conf_t *c, pt_command_t *cmd, void *conf)
{
    ((tinner_t *) conf)->dual_inner++;
    return PT_CONF_OK;
}

static char *
set_take(pt_conf_t *c, pt_command_t *cmd, void *conf)
{
    ((tconf_t *) conf)->take_n = c->nargs;
    return PT_CONF_OK;
}

static char *
set_phrase(pt_conf_t *c, pt_command_t *cmd, void *conf)
{
    return "is bad";
}

static char *
set_logged(pt_conf_t *c, pt_command_t *cmd, void *conf)
{
    pt_conf_log_error(PT_LOG_EMERG, c, 2, "custom \"%s\"",
                      (char *) c->args[1].data);
    return PT_CONF_ERROR;
}

/* DIRECT: conf is the slot; create the module conf on first use. */
static char *
set_direct(pt_conf_t *c, pt_command_t *cmd, void *conf)
{
    void      **slot = conf;
    tdirect_t  *d = *slot;

    if (d == NULL) {
        d = pt_pcalloc(c->pool, sizeof(tdirect_t));
        if (d == NULL) {
            return PT_CONF_ERROR;
        }
        *slot = d;
    }
    d->created++;
    d->value = c->args[1];
    return PT_CONF_OK;
}

#define CMD(n, t, s, f, p)                                                    \
    { n, t, s, PT_CONF_MAIN_OFFSET, offsetof(tconf_t, f), p }

static pt_command_t test_commands[] = {
    CMD("t_flag", PT_CONF_MAIN | PT_CONF_FLAG, pt_conf_set_flag, flag, NULL),
    CMD("t_num", PT_CONF_MAIN | PT_CONF_TAKE1, pt_conf_set_num, num, NULL),
    CMD("t_bnum", PT_CONF_MAIN | PT_CONF_TAKE1, pt_conf_set_num, bnum,
        &bounds),
    CMD("t_size", PT_CONF_MAIN | PT_CONF_TAKE1, pt_conf_set_size, size,
        &low_only),
    CMD("t_off", PT_CONF_MAIN | PT_CONF_TAKE1, pt_conf_set_off, off, NULL),
    CMD("t_msec", PT_CONF_MAIN | PT_CONF_TAKE1, pt_conf_set_msec, msec, NULL),
    CMD("t_sec", PT_CONF_MAIN | PT_CONF_TAKE1, pt_conf_set_sec, sec, NULL),
    CMD("t_str", PT_CONF_MAIN | PT_CONF_TAKE1, pt_conf_set_str, str, NULL),
    CMD("t_enum", PT_CONF_MAIN | PT_CONF_TAKE1, pt_conf_set_enum, en, colors),
    CMD("t_mask", PT_CONF_MAIN | PT_CONF_1MORE, pt_conf_set_bitmask, mask,
        colors),
    CMD("t_list", PT_CONF_MAIN | PT_CONF_TAKE1, pt_conf_set_str_array, list,
        NULL),
    CMD("t_noop", PT_CONF_MAIN | PT_CONF_ANY, pt_conf_set_noop, flag, &notice),
    CMD("t_quiet", PT_CONF_MAIN | PT_CONF_ANY, pt_conf_set_noop, flag, NULL),
    CMD("t_take2", PT_CONF_MAIN | PT_CONF_TAKE2, set_take, flag, NULL),
    CMD("t_take13", PT_CONF_MAIN | PT_CONF_TAKE13, set_take, flag, NULL),
    CMD("t_noargs", PT_CONF_MAIN | PT_CONF_NOARGS, set_take, flag, NULL),
    CMD("t_any", PT_CONF_MAIN | PT_CONF_ANY, set_take, flag, NULL),
    CMD("t_1more", PT_CONF_MAIN | PT_CONF_1MORE, set_take, flag, NULL),
    CMD("t_2more", PT_CONF_MAIN | PT_CONF_2MORE, set_take, flag, NULL),
    CMD("t_phrase", PT_CONF_MAIN | PT_CONF_NOARGS, set_phrase, flag, NULL),
    CMD("t_logged", PT_CONF_MAIN | PT_CONF_TAKE1, set_logged, flag, NULL),
    CMD("blk", PT_CONF_MAIN | PT_CONF_BLOCK | PT_CONF_NOARGS, set_blk, flag,
        NULL),
    CMD("dual", PT_CONF_MAIN | PT_CONF_NOARGS, set_dual_main, flag, NULL),
    { "inner", PT_CONF_EVENTS | PT_CONF_TAKE1, pt_conf_set_str,
      PT_CONF_MAIN_OFFSET, offsetof(tinner_t, inner), NULL },
    { "i_flag", PT_CONF_EVENTS | PT_CONF_FLAG, pt_conf_set_flag,
      PT_CONF_MAIN_OFFSET, offsetof(tinner_t, flag), NULL },
    pt_null_command
};

/* A second module: "dual" for the events context, and a DIRECT one. */
static pt_command_t other_commands[] = {
    { "dual", PT_CONF_EVENTS | PT_CONF_NOARGS, set_dual_inner,
      PT_CONF_MAIN_OFFSET, 0, NULL },
    { "direct", PT_CONF_MAIN | PT_CONF_DIRECT | PT_CONF_TAKE1, set_direct,
      PT_CONF_MAIN_OFFSET, 0, NULL },
    { "evonly", PT_CONF_EVENTS | PT_CONF_NOARGS, set_dual_inner,
      PT_CONF_MAIN_OFFSET, 0, NULL },
    pt_null_command
};

static pt_module_t test_module = {
    .name = "test", .commands = test_commands, .index = 0
};
static pt_module_t other_module = {
    .name = "other", .commands = other_commands, .index = 1
};
static pt_module_t *modules[] = { &test_module, &other_module, NULL };
static void        *main_confs[2];
static pt_conf_ctx_t main_ctx;

static void
tconf_init(void)
{
    memset(&tc, 0, sizeof(tc));
    tc.flag = PT_CONF_UNSET;
    tc.num = PT_CONF_UNSET;
    tc.bnum = PT_CONF_UNSET;
    tc.size = PT_CONF_UNSET_SIZE;
    tc.off = (off_t) PT_CONF_UNSET;
    tc.msec = PT_CONF_UNSET_MSEC;
    tc.sec = (time_t) PT_CONF_UNSET;
    tc.en = PT_CONF_UNSET_UINT;
    tc.mask = PT_CONF_UNSET_UINT;
    tc.list = PT_CONF_UNSET_PTR;
    memset(&ti, 0, sizeof(ti));
    ti.flag = PT_CONF_UNSET;
}

static void
setup(void)
{
    int fd;

    pt_log_use_stderr = 0;
    snprintf(dir, sizeof(dir), "/tmp/pt_conf_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(logpath, sizeof(logpath), "%s/error.log", dir);
    fd = open(logpath, O_RDWR | O_CREAT | O_TRUNC | O_APPEND, 0644);
    ck_assert_int_ge(fd, 0);
    log_.fd = fd;
    log_.level = PT_LOG_DEBUG;
    log_.next = NULL;

    pool = pt_pool_create(4096, &log_);
    ck_assert_ptr_nonnull(pool);

    memset(&cf, 0, sizeof(cf));
    cf.pool = pool;
    cf.temp_pool = pool;
    cf.log = &log_;
    cf.modules = modules;
    main_confs[0] = &tc;
    main_confs[1] = NULL;
    main_ctx.main_conf = main_confs;
    cf.ctx = &main_ctx;
    cf.ctx_type = PT_CONF_MAIN;
    cf.conf_prefix.len = strlen(dir) + 1;
    cf.conf_prefix.data = pt_pnalloc(pool, cf.conf_prefix.len + 1);
    snprintf((char *) cf.conf_prefix.data, cf.conf_prefix.len + 1, "%s/",
             dir);
    tconf_init();
}

static void
teardown(void)
{
    char cmd[300];

    pt_pool_destroy(pool);
    close(log_.fd);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* Write `text` to dir/rel (creating dir/sub when rel has one level). */
static void
wfile(const char *rel, const char *text)
{
    char  path[512], *slash;
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    slash = strrchr(path, '/');
    *slash = '\0';
    mkdir(path, 0755);
    *slash = '/';
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fputs(text, f) >= 0, 1);
    ck_assert_int_eq(fclose(f), 0);
}

static const char *
fpath(const char *rel)
{
    static char path[4][512];
    static int  k;

    k = (k + 1) % 4;
    snprintf(path[k], sizeof(path[k]), "%s/%s", dir, rel);
    return path[k];
}

/* The message part of the last log line, and its level in *level. */
static const char *
last_msg(const char **level)
{
    static char buf[65536];
    static char lvl[16];
    ssize_t     n;
    char       *line, *p, *q;

    n = pread(log_.fd, buf, sizeof(buf) - 1, 0);
    ck_assert_int_gt(n, 0);
    buf[n] = '\0';
    ck_assert_int_eq(buf[n - 1], '\n');
    buf[n - 1] = '\0';
    line = strrchr(buf, '\n');
    line = line ? line + 1 : buf;
    p = strchr(line, '[');
    q = strchr(line, ']');
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_nonnull(q);
    snprintf(lvl, sizeof(lvl), "%.*s", (int) (q - p - 1), p + 1);
    if (level) {
        *level = lvl;
    }
    p = strstr(q, ": ");
    ck_assert_ptr_nonnull(p);
    return p + 2;
}

static int
log_empty(void)
{
    struct stat st;

    ck_assert_int_eq(fstat(log_.fd, &st), 0);
    return st.st_size == 0;
}

/* Assert that the last emerg message is exactly `want` (printf format). */
static void
expect_emerg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
expect_emerg(const char *fmt, ...)
{
    char        want[2048];
    const char *level;
    va_list     ap;

    va_start(ap, fmt);
    vsnprintf(want, sizeof(want), fmt, ap);
    va_end(ap);
    ck_assert_str_eq(last_msg(&level), want);
    ck_assert_str_eq(level, "emerg");
}

static pt_conf_node_t *
parse_ok(const char *rel, const char *text)
{
    pt_conf_node_t *tree = (pt_conf_node_t *) 1;

    wfile(rel, text);
    ck_assert_int_eq(pt_conf_parse_file(&cf, fpath(rel), &tree), PT_OK);
    ck_assert(log_empty());
    return tree;
}

/* Parse `text` from main.conf expecting failure, then check the message
 * "<msg> in <dir>/main.conf:<line>". */
static void
parse_fails(const char *text, const char *msg, int line)
{
    pt_conf_node_t *tree = (pt_conf_node_t *) 1;

    wfile("main.conf", text);
    ck_assert_int_eq(pt_conf_parse_file(&cf, fpath("main.conf"), &tree),
                     PT_ERROR);
    ck_assert_ptr_null(tree);
    expect_emerg("%s in %s:%d", msg, fpath("main.conf"), line);
}

/* Parse then apply `text`; returns pt_conf_apply's result. */
static int
apply_text(const char *text)
{
    pt_conf_node_t *tree;

    wfile("main.conf", text);
    ck_assert_int_eq(pt_conf_parse_file(&cf, fpath("main.conf"), &tree),
                     PT_OK);
    return pt_conf_apply(&cf, tree);
}

static void
apply_fails(const char *text, const char *msg, int line)
{
    ck_assert_int_eq(apply_text(text), PT_ERROR);
    expect_emerg("%s in %s:%d", msg, fpath("main.conf"), line);
}

static void
arg_eq(pt_conf_node_t *n, pt_uint_t i, const char *want)
{
    ck_assert_uint_gt(n->nargs, i);
    ck_assert_uint_eq(n->args[i].len, strlen(want));
    ck_assert(memcmp(n->args[i].data, want, strlen(want)) == 0);
    ck_assert_int_eq(n->args[i].data[n->args[i].len], '\0');
}

/* ------------------------------------------------------------------ */
/* Lexer and tree                                                      */

START_TEST(tree_shape_and_lines)
{
    pt_conf_node_t *t, *b, *c;

    t = parse_ok("main.conf",
                 "a 1 2;\n"
                 "b {\n"
                 "    c;\n"
                 "    d x {\n"
                 "        e;\n"
                 "    }\n"
                 "    f {}\n"
                 "}\n"
                 "g\n"
                 "  multi\n"
                 "  line;\n");
    ck_assert_ptr_nonnull(t);
    ck_assert_uint_eq(t->nargs, 3);
    arg_eq(t, 0, "a");
    arg_eq(t, 2, "2");
    ck_assert_uint_eq(t->line, 1);
    ck_assert(!t->block);
    ck_assert_str_eq(t->file, fpath("main.conf"));

    b = t->next;
    arg_eq(b, 0, "b");
    ck_assert(b->block);
    ck_assert_uint_eq(b->line, 2);
    c = b->children;
    arg_eq(c, 0, "c");
    ck_assert_uint_eq(c->line, 3);
    c = c->next;
    arg_eq(c, 0, "d");
    arg_eq(c, 1, "x");
    ck_assert(c->block);
    ck_assert_uint_eq(c->line, 4);
    arg_eq(c->children, 0, "e");
    ck_assert_uint_eq(c->children->line, 5);
    ck_assert_ptr_null(c->children->next);
    c = c->next;
    arg_eq(c, 0, "f");
    ck_assert(c->block);
    ck_assert_ptr_null(c->children);
    ck_assert_ptr_null(c->next);

    /* a directive's line is its ";" line, as nginx reports it */
    c = b->next;
    arg_eq(c, 0, "g");
    arg_eq(c, 2, "line");
    ck_assert_uint_eq(c->line, 11);
    ck_assert_ptr_null(c->next);
}
END_TEST

START_TEST(quotes_and_escapes)
{
    pt_conf_node_t *t;

    t = parse_ok("main.conf",
                 "s \"a b\" 'c d' \"q\\\"x\" 'y\\'z' \"t\\tn\\nr\\r\" "
                 "\"back\\\\slash\" \"keep\\d\" un\\\"q a\\ b '' "
                 "\"x;y{z}\" a\"b'c;\n");
    arg_eq(t, 1, "a b");
    arg_eq(t, 2, "c d");
    arg_eq(t, 3, "q\"x");
    arg_eq(t, 4, "y'z");
    arg_eq(t, 5, "t\tn\nr\r");
    arg_eq(t, 6, "back\\slash");
    arg_eq(t, 7, "keep\\d");
    arg_eq(t, 8, "un\"q");
    arg_eq(t, 9, "a\\ b");
    arg_eq(t, 10, "");
    arg_eq(t, 11, "x;y{z}");
    arg_eq(t, 12, "a\"b'c");
    ck_assert_uint_eq(t->nargs, 13);
}
END_TEST

START_TEST(comments_and_crlf)
{
    pt_conf_node_t *t;

    t = parse_ok("main.conf",
                 "# leading comment ; { }\r\n"
                 "a 1; # trailing \"comment\n"
                 "\tb \"#not\" c#d;\r\n"
                 "#last line without newline");
    arg_eq(t, 0, "a");
    ck_assert_uint_eq(t->nargs, 2);
    ck_assert_uint_eq(t->line, 2);
    t = t->next;
    arg_eq(t, 1, "#not");
    arg_eq(t, 2, "c#d");
    ck_assert_uint_eq(t->line, 3);
    ck_assert_ptr_null(t->next);
}
END_TEST

START_TEST(variables_kept)
{
    pt_conf_node_t *t;

    t = parse_ok("main.conf",
                 "set $x ${y}z \"${a}-$b\";\n"
                 "if ($a = \"b c\") { r; }\n"
                 "loc /a{ in; }\n");
    arg_eq(t, 1, "$x");
    arg_eq(t, 2, "${y}z");
    arg_eq(t, 3, "${a}-$b");
    /* ")" right after a closing quote starts a word of its own */
    t = t->next;
    ck_assert_uint_eq(t->nargs, 5);
    arg_eq(t, 1, "($a");
    arg_eq(t, 3, "b c");
    arg_eq(t, 4, ")");
    ck_assert(t->block);
    arg_eq(t->children, 0, "r");
    /* "{" not after "$" ends a word and opens the block */
    t = t->next;
    arg_eq(t, 1, "/a");
    ck_assert(t->block);
    arg_eq(t->children, 0, "in");
}
END_TEST

START_TEST(empty_files)
{
    ck_assert_ptr_null(parse_ok("main.conf", ""));
    ck_assert_ptr_null(parse_ok("c.conf", "# only\n\n  # comments\n"));
    ck_assert_uint_eq(cf.files->nelts, 2);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Includes                                                            */

START_TEST(include_glob_sorted)
{
    pt_conf_node_t *t;
    pt_conf_file_t *f;

    wfile("inc/b.conf", "from_b;\n");
    wfile("inc/a.conf", "\nfrom_a 1;\n");
    wfile("inc/c.txt", "not_me;\n");
    t = parse_ok("main.conf",
                 "first;\n"
                 "blk {\n"
                 "    include inc/*.conf;\n"
                 "    after;\n"
                 "}\n"
                 "last;\n");
    arg_eq(t, 0, "first");
    t = t->next;
    arg_eq(t->children, 0, "from_a");
    ck_assert_str_eq(t->children->file, fpath("inc/a.conf"));
    ck_assert_uint_eq(t->children->line, 2);
    arg_eq(t->children->next, 0, "from_b");
    ck_assert_str_eq(t->children->next->file, fpath("inc/b.conf"));
    arg_eq(t->children->next->next, 0, "after");
    ck_assert_str_eq(t->children->next->next->file, fpath("main.conf"));
    ck_assert_uint_eq(t->children->next->next->line, 4);
    arg_eq(t->next, 0, "last");

    ck_assert_uint_eq(cf.files->nelts, 3);
    f = cf.files->elts;
    ck_assert(pt_str_eq_cstr(&f[0].name, fpath("main.conf")));
    ck_assert(pt_str_eq_cstr(&f[1].name, fpath("inc/a.conf")));
    ck_assert(pt_str_eq_cstr(&f[2].name, fpath("inc/b.conf")));
    ck_assert(pt_str_eq_cstr(&f[2].content, "from_b;\n"));
}
END_TEST

START_TEST(include_glob_no_match_and_absolute)
{
    pt_conf_node_t *t;
    char            text[1024];

    wfile("abs.conf", "from_abs;\n");
    snprintf(text, sizeof(text),
             "include modules-enabled/*.conf;\n"
             "include %s;\n"
             "include abs.conf;\n"
             "x;\n", fpath("abs.conf"));
    t = parse_ok("main.conf", text);
    arg_eq(t, 0, "from_abs");
    arg_eq(t->next, 0, "from_abs");
    arg_eq(t->next->next, 0, "x");
    ck_assert_uint_eq(t->next->next->line, 4);
    /* listed once for -T though included twice */
    ck_assert_uint_eq(cf.files->nelts, 2);
}
END_TEST

START_TEST(include_relative_to_prefix)
{
    pt_conf_node_t *t;

    /* sub/a.conf includes "b.conf": the prefix's, not sub/'s */
    wfile("sub/a.conf", "include b.conf;\n");
    wfile("sub/b.conf", "wrong;\n");
    wfile("b.conf", "right;\n");
    t = parse_ok("main.conf", "include sub/a.conf;\n");
    arg_eq(t, 0, "right");
}
END_TEST

START_TEST(include_errors)
{
    pt_conf_node_t *t;
    char            want[1024];

    /* the open() error names the including file and line */
    wfile("main.conf", "x;\n\ninclude nope.conf;\n");
    ck_assert_int_eq(pt_conf_parse_file(&cf, fpath("main.conf"), &t),
                     PT_ERROR);
    snprintf(want, sizeof(want),
             "open() \"%s\" failed (2: No such file or directory) in %s:3",
             fpath("nope.conf"), fpath("main.conf"));
    expect_emerg("%s", want);

    /* nested: the innermost includer is named */
    wfile("mid.conf", "a;\n\n\ninclude gone.conf;\n");
    wfile("main.conf", "include mid.conf;\n");
    ck_assert_int_eq(pt_conf_parse_file(&cf, fpath("main.conf"), &t),
                     PT_ERROR);
    snprintf(want, sizeof(want),
             "open() \"%s\" failed (2: No such file or directory) in %s:4",
             fpath("gone.conf"), fpath("mid.conf"));
    expect_emerg("%s", want);

    /* the main file itself: no position */
    ck_assert_int_eq(pt_conf_parse_file(&cf, fpath("absent.conf"), &t),
                     PT_ERROR);
    snprintf(want, sizeof(want),
             "open() \"%s\" failed (2: No such file or directory)",
             fpath("absent.conf"));
    expect_emerg("%s", want);

    parse_fails("\ninclude;\n",
                "invalid number of arguments in \"include\" directive", 2);
    parse_fails("include a b;\n",
                "invalid number of arguments in \"include\" directive", 1);
    parse_fails("include a {\n}\n",
                "directive \"include\" is not terminated by \";\"", 1);
}
END_TEST

START_TEST(include_recursion)
{
    pt_conf_node_t *t;
    const char     *m;
    char            want[1024];

    wfile("loop.conf", "a;\ninclude loop.conf;\n");
    wfile("main.conf", "include loop.conf;\n");
    ck_assert_int_eq(pt_conf_parse_file(&cf, fpath("main.conf"), &t),
                     PT_ERROR);
    m = last_msg(NULL);
    snprintf(want, sizeof(want), "include of \"loop.conf\" nested too "
             "deeply (more than 16 levels), probably an include loop in "
             "%s:2", fpath("loop.conf"));
    ck_assert_str_eq(m, want);
}
END_TEST

START_TEST(include_depth_limit)
{
    pt_conf_node_t *t;
    char            name[32], text[64], want[1024];
    int             i, n;

    /* main.conf (depth 0) -> c1 ... c16 (depth 16) is fine */
    for (i = 1; i <= 16; i++) {
        snprintf(name, sizeof(name), "c%d.conf", i);
        snprintf(text, sizeof(text), "d%d;\ninclude c%d.conf;\n", i, i + 1);
        wfile(name, i == 16 ? "d16;\n" : text);
    }
    t = parse_ok("main.conf", "include c1.conf;\n");
    for (n = 0; t != NULL; t = t->next) {
        n++;
    }
    ck_assert_int_eq(n, 16);

    /* one level more is refused, naming the deepest includer */
    wfile("c16.conf", "include c17.conf;\n");
    wfile("c17.conf", "d17;\n");
    ck_assert_int_eq(pt_conf_parse_file(&cf, fpath("main.conf"), &t),
                     PT_ERROR);
    snprintf(want, sizeof(want), "include of \"c17.conf\" nested too "
             "deeply (more than 16 levels), probably an include loop in "
             "%s:1", fpath("c16.conf"));
    expect_emerg("%s", want);
}
END_TEST

START_TEST(include_directory_fails)
{
    pt_conf_node_t *t;
    char            want[1024];

    wfile("d/x.conf", "a;\n");
    wfile("main.conf", "include d;\n");
    ck_assert_int_eq(pt_conf_parse_file(&cf, fpath("main.conf"), &t),
                     PT_ERROR);
    snprintf(want, sizeof(want),
             "read() \"%s\" failed (21: Is a directory) in %s:1",
             fpath("d"), fpath("main.conf"));
    expect_emerg("%s", want);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Parse errors                                                        */

START_TEST(syntax_errors)
{
    parse_fails("a;\nb 1 2", "unexpected end of file, expecting \";\" or "
                "\"}\"", 2);
    parse_fails("a;\nb", "unexpected end of file, expecting \";\" or \"}\"",
                2);
    parse_fails("a \"open\n\nquote;\n", "unexpected end of file, expecting "
                "\";\" or \"}\"", 4);
    parse_fails("a {\n  b;\n", "unexpected end of file, expecting \"}\"", 3);
    parse_fails("a {\n  c { d; }\n", "unexpected end of file, expecting "
                "\"}\"", 3);
    parse_fails("a;\n}\n", "unexpected \"}\"", 2);
    parse_fails("a {\n  b 1 }\n", "unexpected \"}\"", 2);
    parse_fails("\n{ a; }\n", "unexpected \"{\"", 2);
    parse_fails("a;\n;\n", "unexpected \";\"", 2);
    parse_fails("a\n\"x\"b;\n", "unexpected \"b\"", 2);
    parse_fails("a 'x'#c;\n", "unexpected \"#\"", 1);
}
END_TEST

START_TEST(too_many_args)
{
    char   text[1024] = "a";
    int    i;

    for (i = 0; i < 63; i++) {
        strcat(text, " x");
    }
    strcat(text, ";\n");
    ck_assert_uint_eq(parse_ok("ok.conf", text)->nargs, 64);
    ck_assert_int_eq(truncate(logpath, 0), 0);
    text[strlen(text) - 2] = '\0';
    strcat(text, " y;\n");
    parse_fails(text, "too many arguments", 1);
}
END_TEST

START_TEST(command_line_buffer)
{
    static const char  good[] = "daemon off;  master_process\n on;";
    pt_conf_node_t    *t = (pt_conf_node_t *) 1;

    ck_assert_int_eq(pt_conf_parse_buf(&cf, PT_CONF_CMDLINE,
                                       (u_char *) good, sizeof(good) - 1,
                                       &t), PT_OK);
    arg_eq(t, 0, "daemon");
    arg_eq(t, 1, "off");
    ck_assert_str_eq(t->file, PT_CONF_CMDLINE);
    arg_eq(t->next, 1, "on");
    ck_assert(log_empty());

    ck_assert_int_eq(pt_conf_parse_buf(&cf, PT_CONF_CMDLINE,
                                       (u_char *) "daemon off", 10, &t),
                     PT_ERROR);
    ck_assert_ptr_null(t);
    expect_emerg("unexpected end of parameter, expecting \";\" in command "
                 "line");

    ck_assert_int_eq(pt_conf_parse_buf(&cf, PT_CONF_CMDLINE,
                                       (u_char *) "events { }", 10, &t),
                     PT_ERROR);
    expect_emerg("block directives are not supported in -g option in "
                 "command line");

    /* apply-time errors from -g nodes name the command line too */
    ck_assert_int_eq(pt_conf_parse_buf(&cf, PT_CONF_CMDLINE,
                                       (u_char *) "bogus 1;", 8, &t), PT_OK);
    ck_assert_int_eq(pt_conf_apply(&cf, t), PT_ERROR);
    expect_emerg("unknown directive \"bogus\" in command line");
}
END_TEST

START_TEST(named_buffer)
{
    static const char  text[] = "blk {\n  inner v;\n}\nx {";
    pt_conf_node_t    *t;

    /* without the trailing "x {" the text is complete */
    ck_assert_int_eq(pt_conf_parse_buf(&cf, "snippet.conf", (u_char *) text,
                                       sizeof(text) - 4, &t), PT_OK);
    ck_assert(t->block);
    ck_assert_str_eq(t->children->file, "snippet.conf");
    ck_assert_uint_eq(t->children->line, 2);
    ck_assert_int_eq(pt_conf_apply(&cf, t), PT_OK);
    ck_assert(pt_str_eq_cstr(&ti.inner, "v"));

    ck_assert_int_eq(pt_conf_parse_buf(&cf, "snippet.conf", (u_char *) text,
                                       sizeof(text) - 1, &t), PT_ERROR);
    expect_emerg("unexpected end of file, expecting \"}\" in snippet.conf:4");
    /* buffers are not files: nothing for -T */
    ck_assert_ptr_null(cf.files);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Dispatch                                                            */

START_TEST(dispatch_errors)
{
    apply_fails("t_flag on;\n\nproxy_pas x;\n",
                "unknown directive \"proxy_pas\"", 3);
    tconf_init();
    apply_fails("inner x;\n", "\"inner\" directive is not allowed here", 1);
    tconf_init();
    apply_fails("\nblk;\n", "directive \"blk\" has no opening \"{\"", 2);
    tconf_init();
    apply_fails("t_num 1 {\n}\n",
                "directive \"t_num\" is not terminated by \";\"", 1);
    tconf_init();
    apply_fails("t_phrase;\n", "\"t_phrase\" directive is bad", 1);
}
END_TEST

START_TEST(arg_counts)
{
    static const struct {
        const char *text;
        int         ok;
    } cases[] = {
        { "t_take2 a;", 0 }, { "t_take2 a b;", 1 }, { "t_take2 a b c;", 0 },
        { "t_take13 a;", 1 }, { "t_take13 a b;", 0 },
        { "t_take13 a b c;", 1 }, { "t_flag;", 0 }, { "t_flag on off;", 0 },
        { "t_noargs;", 1 }, { "t_noargs x;", 0 }, { "t_any;", 1 },
        { "t_any 1 2 3 4 5 6 7 8 9 10;", 1 }, { "t_1more;", 0 },
        { "t_1more a;", 1 }, { "t_2more a;", 0 }, { "t_2more a b c;", 1 },
        { "t_num 1 2 3 4 5 6 7 8 9;", 0 },
        /* 8 args must not be read as the PT_CONF_BLOCK bit */
        { "blk 1 2 3 4 5 6 7 8 {}", 0 },
    };
    char   msg[128];
    size_t i, n;

    for (i = 0; i < pt_nelems(cases); i++) {
        tconf_init();
        ck_assert_int_eq(truncate(logpath, 0), 0);
        ck_assert_msg(apply_text(cases[i].text)
                      == (cases[i].ok ? PT_OK : PT_ERROR), "%s",
                      cases[i].text);
        if (!cases[i].ok) {
            n = strcspn(cases[i].text, " ;");
            snprintf(msg, sizeof(msg), "invalid number of arguments in "
                     "\"%.*s\" directive", (int) n, cases[i].text);
            expect_emerg("%s in %s:1", msg, fpath("main.conf"));
        }
    }
    tconf_init();
    ck_assert_int_eq(apply_text("t_any a b c;"), PT_OK);
    ck_assert_uint_eq(tc.take_n, 4);
}
END_TEST

START_TEST(block_recursion_and_contexts)
{
    ck_assert_int_eq(apply_text("dual;\n"
                                "blk {\n"
                                "    inner hello;\n"
                                "    dual;\n"
                                "    dual;\n"
                                "}\n"
                                "dual;\n"), PT_OK);
    ck_assert(pt_str_eq_cstr(&ti.inner, "hello"));
    ck_assert_uint_eq(ti.dual_inner, 2);
    ck_assert_uint_eq(tc.dual_main, 2);
    ck_assert_uint_eq(tc.blk_seen, 1);
    /* after the nested apply the block node and ctx are back */
    arg_eq(tc.node_after_blk, 0, "blk");
    ck_assert_uint_eq(tc.ctx_after_blk, PT_CONF_MAIN);
    ck_assert_ptr_null(cf.node);
    ck_assert_ptr_eq(cf.ctx, &main_ctx);

    /* errors inside the block carry the inner line */
    tconf_init();
    apply_fails("blk {\n  inner a;\n  inner b;\n}\n",
                "\"inner\" directive is duplicate", 3);
    tconf_init();
    apply_fails("blk {\n\n  t_flag on;\n}\n",
                "\"t_flag\" directive is not allowed here", 3);
    tconf_init();
    apply_fails("evonly;\n", "\"evonly\" directive is not allowed here", 1);
    tconf_init();
    apply_fails("blk {\n  i_flag yes;\n}\n", "invalid value \"yes\" in "
                "\"i_flag\" directive, it must be \"on\" or \"off\"", 2);
}
END_TEST

START_TEST(apply_stops_at_first_error)
{
    apply_fails("t_num 1;\nt_num 2;\nt_str later;\n",
                "\"t_num\" directive is duplicate", 2);
    ck_assert_int_eq(tc.num, 1);
    ck_assert_ptr_null(tc.str.data);
}
END_TEST

START_TEST(direct_slot)
{
    tdirect_t *d;

    ck_assert_int_eq(apply_text("direct one;\ndirect two;\n"), PT_OK);
    d = main_confs[1];
    ck_assert_ptr_nonnull(d);
    ck_assert_uint_eq(d->created, 2);
    ck_assert(pt_str_eq_cstr(&d->value, "two"));
}
END_TEST

START_TEST(setter_logs_own_error)
{
    char want[512];

    ck_assert_int_eq(apply_text("\nt_logged v;\n"), PT_ERROR);
    snprintf(want, sizeof(want),
             "custom \"v\" (2: No such file or directory) in %s:2",
             fpath("main.conf"));
    expect_emerg("%s", want);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Setters                                                             */

START_TEST(setters_values)
{
    pt_str_t *s;

    ck_assert_int_eq(apply_text("t_flag ON;\n"
                                "t_num 42;\n"
                                "t_bnum 10;\n"
                                "t_size 10k;\n"
                                "t_off 2m;\n"
                                "t_msec \"1s 500ms\";\n"
                                "t_sec 2m;\n"
                                "t_str \"a b\";\n"
                                "t_enum Green;\n"
                                "t_mask red;\n"
                                "t_mask blue;\n"
                                "t_list one;\n"
                                "t_list two;\n"
                                "t_quiet x y;\n"), PT_OK);
    ck_assert(log_empty());
    ck_assert_int_eq(tc.flag, 1);
    ck_assert_int_eq(tc.num, 42);
    ck_assert_int_eq(tc.bnum, 10);
    ck_assert_uint_eq(tc.size, 10240);
    ck_assert_int_eq(tc.off, 2 * 1024 * 1024);
    ck_assert_int_eq(tc.msec, 1500);
    ck_assert_int_eq(tc.sec, 120);
    ck_assert(pt_str_eq_cstr(&tc.str, "a b"));
    ck_assert_uint_eq(tc.en, 2);
    ck_assert_uint_eq(tc.mask, 5);
    ck_assert_uint_eq(tc.list->nelts, 2);
    s = tc.list->elts;
    ck_assert(pt_str_eq_cstr(&s[0], "one"));
    ck_assert(pt_str_eq_cstr(&s[1], "two"));

    tconf_init();
    ck_assert_int_eq(apply_text("t_flag off;\nt_mask green blue;\n"), PT_OK);
    ck_assert_int_eq(tc.flag, 0);
    ck_assert_uint_eq(tc.mask, 6);
}
END_TEST

START_TEST(setters_errors)
{
    static const struct {
        const char *text;
        const char *msg;
    } cases[] = {
        { "t_flag on;\nt_flag off;", "\"t_flag\" directive is duplicate" },
        { "t_flag\n\nmaybe;", "invalid value \"maybe\" in \"t_flag\" "
          "directive, it must be \"on\" or \"off\"" },
        { "t_num 1;\nt_num 1;", "\"t_num\" directive is duplicate" },
        { "t_num 1x;", "\"t_num\" directive invalid number" },
        { "t_num -1;", "\"t_num\" directive invalid number" },
        { "t_bnum 11;", "\"t_bnum\" directive value must be between 1 and "
          "10" },
        { "t_bnum 0;", "\"t_bnum\" directive value must be between 1 and "
          "10" },
        { "t_size 4;", "\"t_size\" directive value must be equal to or "
          "greater than 5" },
        { "t_size 1q;", "\"t_size\" directive invalid value" },
        { "t_size 8;\nt_size 9;", "\"t_size\" directive is duplicate" },
        { "t_off x;", "\"t_off\" directive invalid value" },
        { "t_off 1;\nt_off 1;", "\"t_off\" directive is duplicate" },
        { "t_msec 5x;", "\"t_msec\" directive invalid value" },
        { "t_msec 5;\nt_msec 5;", "\"t_msec\" directive is duplicate" },
        { "t_sec s;", "\"t_sec\" directive invalid value" },
        { "t_sec 1;\nt_sec 1;", "\"t_sec\" directive is duplicate" },
        { "t_str a;\nt_str b;", "\"t_str\" directive is duplicate" },
        { "t_enum red;\nt_enum red;", "\"t_enum\" directive is duplicate" },
        { "t_enum pink;", "invalid value \"pink\"" },
        { "t_mask red pink;", "invalid value \"pink\"" },
    };
    size_t      i;
    int         line;
    const char *p;

    for (i = 0; i < pt_nelems(cases); i++) {
        tconf_init();
        ck_assert_int_eq(truncate(logpath, 0), 0);
        ck_assert_msg(apply_text(cases[i].text) == PT_ERROR, "%s",
                      cases[i].text);
        line = 1;
        for (p = cases[i].text; *p; p++) {
            line += *p == '\n';
        }
        expect_emerg("%s in %s:%d", cases[i].msg, fpath("main.conf"), line);
    }
}
END_TEST

START_TEST(noop_notice_and_bitmask_warning)
{
    const char *level, *m;
    char        want[512];

    ck_assert_int_eq(apply_text("\nt_noop a b;\n"), PT_OK);
    m = last_msg(&level);
    ck_assert_str_eq(level, "notice");
    snprintf(want, sizeof(want), "\"t_noop\" directive is ignored in %s:2",
             fpath("main.conf"));
    ck_assert_str_eq(m, want);

    ck_assert_int_eq(apply_text("t_mask red red;\n"), PT_OK);
    m = last_msg(&level);
    ck_assert_str_eq(level, "warn");
    snprintf(want, sizeof(want), "duplicate value \"red\" in %s:1",
             fpath("main.conf"));
    ck_assert_str_eq(m, want);
    ck_assert_uint_eq(tc.mask, 1);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Messages, names, dump                                               */

START_TEST(log_error_positions)
{
    pt_conf_node_t node;
    pt_str_t       arg = pt_string("n");

    memset(&node, 0, sizeof(node));
    node.args = &arg;
    node.nargs = 1;
    node.file = "/etc/x.conf";
    node.line = 12;

    cf.node = NULL;
    pt_conf_log_error(PT_LOG_EMERG, &cf, 0, "plain %d", 1);
    expect_emerg("plain 1");

    cf.node = &node;
    pt_conf_log_error(PT_LOG_EMERG, &cf, 13, "open() \"%s\" failed", "/x");
    expect_emerg("open() \"/x\" failed (13: Permission denied) in "
                 "/etc/x.conf:12");

    node.file = PT_CONF_CMDLINE;
    pt_conf_log_error(PT_LOG_WARN, &cf, 0, "w");
    ck_assert_str_eq(last_msg(NULL), "w in command line");
}
END_TEST

START_TEST(full_names)
{
    pt_str_t n, prefix = pt_string("/usr/local/portico");

    pt_str_set(&n, "conf/mime.types");
    ck_assert_int_eq(pt_conf_full_name(&cf, &n), PT_OK);
    ck_assert_str_eq((char *) n.data, fpath("conf/mime.types"));
    ck_assert_uint_eq(n.len, strlen(fpath("conf/mime.types")));

    pt_str_set(&n, "/abs/x");
    ck_assert_int_eq(pt_conf_full_name(&cf, &n), PT_OK);
    ck_assert_str_eq((char *) n.data, "/abs/x");
    ck_assert_uint_eq(n.len, 6);

    pt_str_set(&n, "logs/error.log");
    ck_assert_int_eq(pt_conf_full_name_prefix(pool, &prefix, &n), PT_OK);
    ck_assert_str_eq((char *) n.data, "/usr/local/portico/logs/error.log");

    prefix.len = 0;
    pt_str_set(&n, "rel");
    ck_assert_int_eq(pt_conf_full_name_prefix(pool, &prefix, &n), PT_OK);
    ck_assert_str_eq((char *) n.data, "rel");
}
END_TEST

START_TEST(dump_output)
{
    pt_conf_node_t *t;
    char            want[2048], got[2048];
    int             out, saved;
    ssize_t         n;

    wfile("inc/one.conf", "one;");
    t = parse_ok("main.conf", "include inc/*.conf;\nx;\n");
    ck_assert_ptr_nonnull(t);

    out = open(fpath("dump.txt"), O_RDWR | O_CREAT | O_TRUNC, 0644);
    ck_assert_int_ge(out, 0);
    saved = dup(STDOUT_FILENO);
    ck_assert_int_ge(saved, 0);
    ck_assert_int_ge(dup2(out, STDOUT_FILENO), 0);
    pt_conf_dump(cf.files);
    ck_assert_int_ge(dup2(saved, STDOUT_FILENO), 0);
    close(saved);

    n = pread(out, got, sizeof(got) - 1, 0);
    ck_assert_int_ge(n, 0);
    got[n] = '\0';
    close(out);
    snprintf(want, sizeof(want),
             "# configuration file %s:\ninclude inc/*.conf;\nx;\n\n"
             "# configuration file %s:\none;\n",
             fpath("main.conf"), fpath("inc/one.conf"));
    ck_assert_str_eq(got, want);
}
END_TEST

Suite *
pt_test_suite(void)
{
    Suite *s = suite_create("conf");
    TCase *tc_lex = tcase_create("lexer");
    TCase *tc_inc = tcase_create("include");
    TCase *tc_dis = tcase_create("dispatch");
    TCase *tc_set = tcase_create("setters");

    tcase_add_checked_fixture(tc_lex, setup, teardown);
    tcase_add_checked_fixture(tc_inc, setup, teardown);
    tcase_add_checked_fixture(tc_dis, setup, teardown);
    tcase_add_checked_fixture(tc_set, setup, teardown);

    tcase_add_test(tc_lex, tree_shape_and_lines);
    tcase_add_test(tc_lex, quotes_and_escapes);
    tcase_add_test(tc_lex, comments_and_crlf);
    tcase_add_test(tc_lex, variables_kept);
    tcase_add_test(tc_lex, empty_files);
    tcase_add_test(tc_lex, syntax_errors);
    tcase_add_test(tc_lex, too_many_args);
    tcase_add_test(tc_lex, command_line_buffer);
    tcase_add_test(tc_lex, named_buffer);

    tcase_add_test(tc_inc, include_glob_sorted);
    tcase_add_test(tc_inc, include_glob_no_match_and_absolute);
    tcase_add_test(tc_inc, include_relative_to_prefix);
    tcase_add_test(tc_inc, include_errors);
    tcase_add_test(tc_inc, include_recursion);
    tcase_add_test(tc_inc, include_depth_limit);
    tcase_add_test(tc_inc, include_directory_fails);

    tcase_add_test(tc_dis, dispatch_errors);
    tcase_add_test(tc_dis, arg_counts);
    tcase_add_test(tc_dis, block_recursion_and_contexts);
    tcase_add_test(tc_dis, apply_stops_at_first_error);
    tcase_add_test(tc_dis, direct_slot);
    tcase_add_test(tc_dis, setter_logs_own_error);

    tcase_add_test(tc_set, setters_values);
    tcase_add_test(tc_set, setters_errors);
    tcase_add_test(tc_set, noop_notice_and_bitmask_warning);
    tcase_add_test(tc_set, log_error_positions);
    tcase_add_test(tc_set, full_names);
    tcase_add_test(tc_set, dump_output);

    suite_add_tcase(s, tc_lex);
    suite_add_tcase(s, tc_inc);
    suite_add_tcase(s, tc_dis);
    suite_add_tcase(s, tc_set);
    return s;
}
