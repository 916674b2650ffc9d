/*
 * The nginx configuration language: a lexer and parser that turn files (and
 * -g text) into a directive tree with includes expanded in place, dispatch
 * of that tree to module directive tables, the generic setters, and the
 * error wording nginx users know ("... in /etc/x.conf:12").
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "array.h"
#include "conf.h"
#include "log.h"
#include "pool.h"
#include "str.h"

#define CONF_MAX_ARGS      64                  /* words in one directive */
#define CONF_MAX_INCLUDE   16                  /* include nesting */
#define CONF_MAX_BLOCKS    100                 /* { } nesting */
#define CONF_MAX_FILE_SIZE (64 * 1024 * 1024)

/* What ended the words of one directive (read_words). */
#define TOK_DIRECTIVE   1   /* ";" */
#define TOK_BLOCK_START 2   /* "{" */
#define TOK_BLOCK_END   3   /* "}" with no words before it */
#define TOK_EOF         4   /* end of input with no words pending */

/* The text being parsed: a file's content or a -g buffer. */
typedef struct {
    const char    *name;      /* pool-owned; also each node's file */
    const u_char  *pos;
    const u_char  *end;
    pt_uint_t      depth;     /* include nesting of this text */
    unsigned       param:1;   /* -g: no blocks, "end of parameter" */
} conf_src_t;

static int parse_list(pt_conf_t *cf, conf_src_t *src, int in_block,
                      pt_uint_t blocks, pt_conf_node_t ***tail);

static int
is_space(u_char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* ------------------------------------------------------------------ */
/* Messages                                                            */

void
pt_conf_log_error(pt_uint_t level, pt_conf_t *cf, int err, const char *fmt,
                  ...)
{
    u_char      msg[PT_MAX_ERROR_STR], *p, *end = msg + sizeof(msg);
    const char *file = NULL;
    pt_uint_t   line = 0;
    va_list     args;
    int         n;

    va_start(args, fmt);
    n = vsnprintf((char *) msg, sizeof(msg), fmt, args);
    va_end(args);
    p = n < 0 ? msg : (n >= (int) sizeof(msg) ? end - 1 : msg + n);

    /* errno text goes before the position, as nginx prints it */
    if (err) {
        p = pt_log_errno(p, end, err);
    }

    if (cf->parse_file != NULL) {
        file = cf->parse_file;
        line = cf->parse_line;
    } else if (cf->node != NULL) {
        file = cf->node->file;
        line = cf->node->line;
    }
    if (file != NULL && strcmp(file, PT_CONF_CMDLINE) == 0) {
        p = pt_slprintf(p, end, " in command line");
    } else if (file != NULL) {
        p = pt_slprintf(p, end, " in %s:%lu", file, (unsigned long) line);
    }

    pt_log_error(level, cf->log, 0, "%.*s", (int) (p - msg), msg);
}

/* ------------------------------------------------------------------ */
/* Lexer                                                               */

/* Copy the raw word [s, e) into pool memory, NUL-terminated, resolving
 * \" \' \\ \t \r \n; any other backslash is kept (regexes need "\."). */
static int
push_word(pt_conf_t *cf, pt_str_t *args, pt_uint_t *nargs, const u_char *s,
          const u_char *e)
{
    u_char *d;

    if (*nargs == CONF_MAX_ARGS) {
        pt_conf_log_error(PT_LOG_EMERG, cf, 0, "too many arguments");
        return PT_ERROR;
    }
    d = pt_pnalloc(cf->pool, (size_t) (e - s) + 1);
    if (d == NULL) {
        return PT_ERROR;
    }
    args[*nargs].data = d;

    while (s < e) {
        if (*s == '\\' && s + 1 < e) {
            switch (s[1]) {
            case '"': case '\'': case '\\':
                *d++ = s[1]; s += 2; continue;
            case 't':
                *d++ = '\t'; s += 2; continue;
            case 'r':
                *d++ = '\r'; s += 2; continue;
            case 'n':
                *d++ = '\n'; s += 2; continue;
            default:
                break;
            }
        }
        *d++ = *s++;
    }
    *d = '\0';
    args[*nargs].len = (size_t) (d - args[*nargs].data);
    (*nargs)++;
    return PT_OK;
}

/* Read the words of one directive into args (pool-owned, unescaped).
 * Returns a TOK_* code or PT_ERROR (logged). cf->parse_line follows
 * the input, so a node gets the line of its ";" or "{" as in nginx. */
static int
read_words(pt_conf_t *cf, conf_src_t *src, pt_str_t *args, pt_uint_t *nargs)
{
    const u_char *start = NULL;
    u_char        ch, quote = 0;
    int           in_word = 0, need_space = 0, comment = 0;
    int           escaped = 0, variable = 0;

    *nargs = 0;

    for (;;) {
        if (src->pos == src->end) {
            if (*nargs == 0 && !in_word) {
                return TOK_EOF;
            }
            pt_conf_log_error(PT_LOG_EMERG, cf, 0, src->param
                              ? "unexpected end of parameter, expecting \";\""
                              : "unexpected end of file, "
                                "expecting \";\" or \"}\"");
            return PT_ERROR;
        }

        ch = *src->pos++;
        if (ch == '\n') {
            cf->parse_line++;
        }
        if (comment) {
            comment = ch != '\n';
            continue;
        }
        if (escaped) {
            escaped = 0;
            continue;
        }

        if (need_space) {
            /* a closing quote must be followed by a separator; ")" may
             * follow and starts a word of its own, for "if (... "x")" */
            if (is_space(ch)) {
                need_space = 0;
                continue;
            }
            if (ch == ';') {
                return TOK_DIRECTIVE;
            }
            if (ch == '{') {
                return TOK_BLOCK_START;
            }
            if (ch != ')') {
                pt_conf_log_error(PT_LOG_EMERG, cf, 0, "unexpected \"%c\"",
                                  ch);
                return PT_ERROR;
            }
            need_space = 0;
        }

        if (!in_word) {
            if (is_space(ch)) {
                continue;
            }
            start = src->pos - 1;
            switch (ch) {
            case ';':
            case '{':
                if (*nargs == 0) {
                    pt_conf_log_error(PT_LOG_EMERG, cf, 0,
                                      "unexpected \"%c\"", ch);
                    return PT_ERROR;
                }
                return ch == ';' ? TOK_DIRECTIVE : TOK_BLOCK_START;
            case '}':
                if (*nargs != 0) {
                    pt_conf_log_error(PT_LOG_EMERG, cf, 0,
                                      "unexpected \"}\"");
                    return PT_ERROR;
                }
                return TOK_BLOCK_END;
            case '#':
                comment = 1;
                continue;
            case '\\':
                escaped = 1;
                break;
            case '"':
            case '\'':
                quote = ch;
                start++;
                break;
            case '$':
                variable = 1;
                break;
            default:
                break;
            }
            in_word = 1;
            continue;
        }

        /* inside a word: "${" keeps going, so ${var} stays one word */
        if (ch == '{' && variable) {
            continue;
        }
        variable = 0;
        if (ch == '\\') {
            escaped = 1;
            continue;
        }
        if (ch == '$') {
            variable = 1;
            continue;
        }
        if (quote) {
            if (ch != quote) {
                continue;
            }
            quote = 0;
            need_space = 1;
        } else if (!is_space(ch) && ch != ';' && ch != '{') {
            continue;
        }

        in_word = 0;
        if (push_word(cf, args, nargs, start, src->pos - 1) != PT_OK) {
            return PT_ERROR;
        }
        if (!need_space && ch == ';') {
            return TOK_DIRECTIVE;
        }
        if (!need_space && ch == '{') {
            return TOK_BLOCK_START;
        }
    }
}

/* ------------------------------------------------------------------ */
/* Files and includes                                                  */

/* Read a whole file into cf->pool. Errors are logged at the position of
 * the directive that named it (none for the main file). */
static int
read_file(pt_conf_t *cf, const char *path, pt_str_t *content)
{
    struct stat  st;
    u_char      *buf = NULL;
    size_t       size, got = 0;
    ssize_t      n;
    int          fd, rc = PT_ERROR;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        pt_conf_log_error(PT_LOG_EMERG, cf, errno, "open() \"%s\" failed",
                          path);
        return PT_ERROR;
    }
    if (fstat(fd, &st) < 0) {
        pt_conf_log_error(PT_LOG_EMERG, cf, errno, "fstat() \"%s\" failed",
                          path);
        goto failed;
    }
    if (st.st_size > CONF_MAX_FILE_SIZE) {
        pt_conf_log_error(PT_LOG_EMERG, cf, 0,
                          "\"%s\" is too large (more than %d MiB)", path,
                          CONF_MAX_FILE_SIZE / (1024 * 1024));
        goto failed;
    }

    /* A file that grows while read is cut at the size fstat() saw. */
    size = (size_t) st.st_size;
    buf = pt_pnalloc(cf->pool, size + 1);
    if (buf == NULL) {
        goto failed;
    }
    for (;;) {
        n = read(fd, buf + got, size - got + 1);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            pt_conf_log_error(PT_LOG_EMERG, cf, errno,
                              "read() \"%s\" failed", path);
            goto failed;
        }
        got += (size_t) n;
        if (n == 0 || got > size) {
            break;
        }
    }
    content->data = buf;
    content->len = pt_min(got, size);
    rc = PT_OK;

failed:
    if (close(fd) < 0) {
        pt_conf_log_error(PT_LOG_ALERT, cf, errno, "close() \"%s\" failed",
                          path);
        rc = PT_ERROR;
    }
    return rc;
}

/* Remember a file for -T, once per name. */
static int
add_dump(pt_conf_t *cf, const char *name, const pt_str_t *content)
{
    pt_conf_file_t *f;
    pt_uint_t       i;

    if (cf->files == NULL) {
        cf->files = pt_array_create(cf->pool, 4, sizeof(pt_conf_file_t));
        if (cf->files == NULL) {
            return PT_ERROR;
        }
    }
    f = cf->files->elts;
    for (i = 0; i < cf->files->nelts; i++) {
        if (pt_str_eq_cstr(&f[i].name, name)) {
            return PT_OK;
        }
    }
    f = pt_array_push(cf->files);
    if (f == NULL) {
        return PT_ERROR;
    }
    f->name.data = (u_char *) name;
    f->name.len = strlen(name);
    f->content = *content;
    return PT_OK;
}

/* Parse the file at `path` (copied into cf->pool), appending its
 * directives at *tail. */
static int
parse_path(pt_conf_t *cf, const char *path, pt_uint_t depth,
           pt_conf_node_t ***tail)
{
    conf_src_t   src;
    pt_str_t     content, name;
    const char  *saved_file = cf->parse_file;
    pt_uint_t    saved_line = cf->parse_line;
    int          rc;

    if (pt_str_from_cstr(cf->pool, &name, path) != PT_OK
        || read_file(cf, (char *) name.data, &content) != PT_OK
        || add_dump(cf, (char *) name.data, &content) != PT_OK)
    {
        return PT_ERROR;
    }

    src.name = (char *) name.data;
    src.pos = content.data;
    src.end = content.data + content.len;
    src.depth = depth;
    src.param = 0;

    cf->parse_file = src.name;
    cf->parse_line = 1;
    rc = parse_list(cf, &src, 0, 0, tail);
    cf->parse_file = saved_file;
    cf->parse_line = saved_line;
    return rc;
}

/* include PATTERN; expanded where it stands. PATTERN is relative to the
 * conf prefix; a glob may match nothing, a plain name must exist. */
static int
parse_include(pt_conf_t *cf, conf_src_t *src, pt_str_t *args,
              pt_uint_t nargs, int block, pt_conf_node_t ***tail)
{
    pt_str_t  name;
    glob_t    gl;
    size_t    i;
    int       rc;

    if (block) {
        pt_conf_log_error(PT_LOG_EMERG, cf, 0,
                          "directive \"include\" is not terminated by \";\"");
        return PT_ERROR;
    }
    if (nargs != 2) {
        pt_conf_log_error(PT_LOG_EMERG, cf, 0, "invalid number of arguments "
                          "in \"include\" directive");
        return PT_ERROR;
    }
    if (src->depth >= CONF_MAX_INCLUDE) {
        pt_conf_log_error(PT_LOG_EMERG, cf, 0,
                          "include of \"%s\" nested too deeply (more than "
                          "%d levels), probably an include loop",
                          (char *) args[1].data, CONF_MAX_INCLUDE);
        return PT_ERROR;
    }

    name = args[1];
    if (pt_conf_full_name(cf, &name) != PT_OK) {
        return PT_ERROR;
    }
    if (strpbrk((char *) name.data, "*?[") == NULL) {
        return parse_path(cf, (char *) name.data, src->depth + 1, tail);
    }

    /* glob(3) sorts the names; gl is initialised by it even on failure */
    rc = glob((char *) name.data, 0, NULL, &gl);
    if (rc == 0) {
        for (i = 0; i < gl.gl_pathc && rc == PT_OK; i++) {
            rc = parse_path(cf, gl.gl_pathv[i], src->depth + 1, tail);
        }
    } else if (rc == GLOB_NOMATCH) {
        rc = PT_OK;
    } else {
        pt_conf_log_error(PT_LOG_EMERG, cf, rc == GLOB_ABORTED ? errno : 0,
                          "glob() \"%s\" failed", (char *) name.data);
        rc = PT_ERROR;
    }
    globfree(&gl);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Parser                                                              */

static pt_conf_node_t *
new_node(pt_conf_t *cf, conf_src_t *src, pt_str_t *args, pt_uint_t nargs,
         int block)
{
    pt_conf_node_t *node;

    node = pt_pcalloc(cf->pool, sizeof(pt_conf_node_t));
    if (node == NULL) {
        return NULL;
    }
    node->args = pt_palloc(cf->pool, nargs * sizeof(pt_str_t));
    if (node->args == NULL) {
        return NULL;
    }
    memcpy(node->args, args, nargs * sizeof(pt_str_t));
    node->nargs = nargs;
    node->file = src->name;
    node->line = cf->parse_line;
    node->block = block;
    return node;
}

/* Parse directives until "}" (in_block) or the end of the text, linking
 * each at *tail and advancing it. `blocks` is the { } nesting so far. */
static int
parse_list(pt_conf_t *cf, conf_src_t *src, int in_block, pt_uint_t blocks,
           pt_conf_node_t ***tail)
{
    pt_str_t         args[CONF_MAX_ARGS];
    pt_uint_t        nargs;
    pt_conf_node_t  *node, **children;
    int              tok;

    for (;;) {
        tok = read_words(cf, src, args, &nargs);
        switch (tok) {
        case PT_ERROR:
            return PT_ERROR;
        case TOK_EOF:
            if (in_block) {
                pt_conf_log_error(PT_LOG_EMERG, cf, 0,
                                  "unexpected end of file, expecting \"}\"");
                return PT_ERROR;
            }
            return PT_OK;
        case TOK_BLOCK_END:
            if (!in_block) {
                pt_conf_log_error(PT_LOG_EMERG, cf, 0, "unexpected \"}\"");
                return PT_ERROR;
            }
            return PT_OK;
        default:
            break;
        }

        if (tok == TOK_BLOCK_START && src->param) {
            pt_conf_log_error(PT_LOG_EMERG, cf, 0, "block directives are not "
                              "supported in -g option");
            return PT_ERROR;
        }
        if (pt_str_eq_cstr(&args[0], "include")) {
            if (parse_include(cf, src, args, nargs, tok == TOK_BLOCK_START,
                              tail) != PT_OK)
            {
                return PT_ERROR;
            }
            continue;
        }

        node = new_node(cf, src, args, nargs, tok == TOK_BLOCK_START);
        if (node == NULL) {
            return PT_ERROR;
        }
        **tail = node;
        *tail = &node->next;

        if (!node->block) {
            continue;
        }
        if (blocks + 1 >= CONF_MAX_BLOCKS) {
            pt_conf_log_error(PT_LOG_EMERG, cf, 0,
                              "blocks nested too deeply (more than %d)",
                              CONF_MAX_BLOCKS);
            return PT_ERROR;
        }
        children = &node->children;
        if (parse_list(cf, src, 1, blocks + 1, &children) != PT_OK) {
            return PT_ERROR;
        }
        node->end_line = cf->parse_line;
    }
}

int
pt_conf_parse_file(pt_conf_t *cf, const char *path, pt_conf_node_t **out)
{
    pt_conf_node_t  **tail = out;
    pt_conf_node_t   *saved_node = cf->node;
    const char       *saved_file = cf->parse_file;
    pt_uint_t         saved_line = cf->parse_line;
    int               rc;

    *out = NULL;
    /* the main file's open() error has no position, as in nginx */
    cf->node = NULL;
    cf->parse_file = NULL;
    rc = parse_path(cf, path, 0, &tail);
    cf->node = saved_node;
    cf->parse_file = saved_file;
    cf->parse_line = saved_line;
    if (rc != PT_OK) {
        *out = NULL;
    }
    return rc;
}

int
pt_conf_parse_buf(pt_conf_t *cf, const char *name, const u_char *buf,
                  size_t len, pt_conf_node_t **out)
{
    pt_conf_node_t  **tail = out;
    pt_conf_node_t   *saved_node = cf->node;
    const char       *saved_file = cf->parse_file;
    pt_uint_t         saved_line = cf->parse_line;
    conf_src_t        src;
    pt_str_t          copy;
    int               rc;

    *out = NULL;
    if (pt_str_from_cstr(cf->pool, &copy, name) != PT_OK) {
        return PT_ERROR;
    }
    src.name = (char *) copy.data;
    src.pos = buf;
    src.end = buf + len;
    src.depth = 0;
    src.param = strcmp(name, PT_CONF_CMDLINE) == 0;

    cf->node = NULL;
    cf->parse_file = src.name;
    cf->parse_line = 1;
    rc = parse_list(cf, &src, 0, 0, &tail);
    cf->node = saved_node;
    cf->parse_file = saved_file;
    cf->parse_line = saved_line;
    if (rc != PT_OK) {
        *out = NULL;
    }
    return rc;
}

/* ------------------------------------------------------------------ */
/* Dispatch                                                            */

/* nargs counts the name, as node->nargs does. */
static int
args_fit(pt_uint_t type, pt_uint_t nargs)
{
    pt_uint_t n = nargs - 1;

    if (type & PT_CONF_ANY) {
        return 1;
    }
    if (type & PT_CONF_FLAG) {
        return n == 1;
    }
    if (type & PT_CONF_1MORE) {
        return n >= 1;
    }
    if (type & PT_CONF_2MORE) {
        return n >= 2;
    }
    return n <= 7 && (type & (PT_CONF_NOARGS << n));
}

/* The conf a command's setter receives in the current context. */
static void *
command_conf(pt_conf_t *cf, pt_module_t *m, pt_command_t *cmd)
{
    void **confs;

    if (cf->ctx == NULL) {
        return NULL;
    }
    if (cmd->type & PT_CONF_DIRECT) {
        return cf->ctx->main_conf ? &cf->ctx->main_conf[m->index] : NULL;
    }
    switch (cmd->conf) {
    case PT_CONF_SRV_OFFSET:
        confs = cf->ctx->srv_conf;
        break;
    case PT_CONF_LOC_OFFSET:
        confs = cf->ctx->loc_conf;
        break;
    default:
        confs = cf->ctx->main_conf;
        break;
    }
    return confs ? confs[m->index] : NULL;
}

static int
run_command(pt_conf_t *cf, pt_module_t *m, pt_command_t *cmd,
            pt_conf_node_t *node)
{
    const char *name = (char *) node->args[0].data;
    char       *rv;

    if ((cmd->type & PT_CONF_BLOCK) && !node->block) {
        pt_conf_log_error(PT_LOG_EMERG, cf, 0,
                          "directive \"%s\" has no opening \"{\"", name);
        return PT_ERROR;
    }
    if (!(cmd->type & PT_CONF_BLOCK) && node->block) {
        pt_conf_log_error(PT_LOG_EMERG, cf, 0,
                          "directive \"%s\" is not terminated by \";\"",
                          name);
        return PT_ERROR;
    }
    if (!args_fit(cmd->type, node->nargs)) {
        pt_conf_log_error(PT_LOG_EMERG, cf, 0,
                          "invalid number of arguments in \"%s\" directive",
                          name);
        return PT_ERROR;
    }

    rv = cmd->set(cf, cmd, command_conf(cf, m, cmd));
    if (rv == PT_CONF_OK) {
        return PT_OK;
    }
    if (rv != PT_CONF_ERROR) {
        pt_conf_log_error(PT_LOG_EMERG, cf, 0, "\"%s\" directive %s", name,
                          rv);
    }
    return PT_ERROR;
}

/* Find the first command named like node whose context admits
 * cf->ctx_type, across all modules, and run it. */
static int
dispatch(pt_conf_t *cf, pt_conf_node_t *node)
{
    pt_module_t  **m;
    pt_command_t  *cmd;
    int            found = 0;

    for (m = cf->modules; m != NULL && *m != NULL; m++) {
        for (cmd = (*m)->commands; cmd != NULL && cmd->name != NULL; cmd++) {
            if (!pt_str_eq_cstr(&node->args[0], cmd->name)) {
                continue;
            }
            found = 1;
            if (cmd->type & cf->ctx_type) {
                return run_command(cf, *m, cmd, node);
            }
        }
    }

    if (found) {
        pt_conf_log_error(PT_LOG_EMERG, cf, 0,
                          "\"%s\" directive is not allowed here",
                          (char *) node->args[0].data);
    } else {
        pt_conf_log_error(PT_LOG_EMERG, cf, 0, "unknown directive \"%s\"",
                          (char *) node->args[0].data);
    }
    return PT_ERROR;
}

int
pt_conf_apply(pt_conf_t *cf, pt_conf_node_t *list)
{
    pt_conf_node_t  *saved_node = cf->node, *node;
    pt_str_t        *saved_args = cf->args;
    pt_uint_t        saved_nargs = cf->nargs;
    const char      *saved_file = cf->parse_file;
    int              rc = PT_OK;

    /* messages name the node from here on, not a parse position */
    cf->parse_file = NULL;
    for (node = list; node != NULL; node = node->next) {
        cf->node = node;
        cf->args = node->args;
        cf->nargs = node->nargs;
        if (dispatch(cf, node) != PT_OK) {
            rc = PT_ERROR;
            break;
        }
    }
    cf->node = saved_node;
    cf->args = saved_args;
    cf->nargs = saved_nargs;
    cf->parse_file = saved_file;
    return rc;
}

/* ------------------------------------------------------------------ */
/* Paths and -T                                                        */

int
pt_conf_full_name_prefix(pt_pool_t *pool, const pt_str_t *prefix,
                         pt_str_t *name)
{
    size_t   slash, len;
    u_char  *p;

    if ((name->len > 0 && name->data[0] == '/') || prefix->len == 0) {
        p = pt_pstrdup(pool, name);
        if (p == NULL) {
            return PT_ERROR;
        }
        name->data = p;
        return PT_OK;
    }

    slash = prefix->data[prefix->len - 1] != '/';
    len = prefix->len + slash + name->len;
    p = pt_pnalloc(pool, len + 1);
    if (p == NULL) {
        return PT_ERROR;
    }
    memcpy(p, prefix->data, prefix->len);
    if (slash) {
        p[prefix->len] = '/';
    }
    if (name->len) {
        memcpy(p + prefix->len + slash, name->data, name->len);
    }
    p[len] = '\0';
    name->data = p;
    name->len = len;
    return PT_OK;
}

int
pt_conf_full_name(pt_conf_t *cf, pt_str_t *name)
{
    return pt_conf_full_name_prefix(cf->pool, &cf->conf_prefix, name);
}

static int
write_stdout(const void *data, size_t n)
{
    const u_char *p = data;
    ssize_t       w;

    while (n > 0) {
        w = write(STDOUT_FILENO, p, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w < 0) {
            pt_log_stderr(errno, "write() to stdout failed");
            return PT_ERROR;
        }
        p += w;
        n -= (size_t) w;
    }
    return PT_OK;
}

void
pt_conf_dump(pt_array_t *files)
{
    static const char  head[] = "# configuration file ";
    pt_conf_file_t    *f;
    pt_uint_t          i;

    if (files == NULL) {
        return;
    }
    f = files->elts;
    for (i = 0; i < files->nelts; i++) {
        if (write_stdout(head, sizeof(head) - 1) != PT_OK
            || write_stdout(f[i].name.data, f[i].name.len) != PT_OK
            || write_stdout(":\n", 2) != PT_OK
            || write_stdout(f[i].content.data, f[i].content.len) != PT_OK
            || write_stdout("\n", 1) != PT_OK)
        {
            return;
        }
    }
}

/* ------------------------------------------------------------------ */
/* Generic setters                                                     */

#define conf_field(conf, cmd, type) ((type *) ((char *) (conf) + (cmd)->offset))

/* Check v against cmd->post bounds; NULL or a pool-owned phrase. */
static char *
check_bounds(pt_conf_t *cf, pt_command_t *cmd, pt_int_t v)
{
    const pt_conf_bounds_t *b = cmd->post;
    u_char                 *phrase;

    if (b == NULL || (v >= b->low && (b->high < 0 || v <= b->high))) {
        return PT_CONF_OK;
    }
    phrase = pt_pnalloc(cf->pool, 80);
    if (phrase == NULL) {
        return PT_CONF_ERROR;
    }
    if (b->high < 0) {
        snprintf((char *) phrase, 80, "value must be equal to or greater "
                 "than %ld", (long) b->low);
    } else {
        snprintf((char *) phrase, 80, "value must be between %ld and %ld",
                 (long) b->low, (long) b->high);
    }
    return (char *) phrase;
}

static int
eq_nocase(const pt_str_t *s, const char *name)
{
    size_t n = strlen(name);

    return s->len == n && pt_strncasecmp(s->data, (const u_char *) name, n)
                          == 0;
}

char *
pt_conf_set_flag(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    int      *fp = conf_field(conf, cmd, int);
    pt_str_t *v = &cf->args[1];

    if (*fp != PT_CONF_UNSET) {
        return "is duplicate";
    }
    if (eq_nocase(v, "on")) {
        *fp = 1;
    } else if (eq_nocase(v, "off")) {
        *fp = 0;
    } else {
        pt_conf_log_error(PT_LOG_EMERG, cf, 0, "invalid value \"%s\" in \"%s\" "
                          "directive, it must be \"on\" or \"off\"",
                          (char *) v->data, cmd->name);
        return PT_CONF_ERROR;
    }
    return PT_CONF_OK;
}

char *
pt_conf_set_num(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    pt_int_t *np = conf_field(conf, cmd, pt_int_t);
    pt_int_t  v;

    if (*np != PT_CONF_UNSET) {
        return "is duplicate";
    }
    v = pt_atoi(cf->args[1].data, cf->args[1].len);
    if (v == PT_ERROR) {
        return "invalid number";
    }
    *np = v;
    return check_bounds(cf, cmd, v);
}

char *
pt_conf_set_size(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    size_t  *sp = conf_field(conf, cmd, size_t);
    ssize_t  v;

    if (*sp != PT_CONF_UNSET_SIZE) {
        return "is duplicate";
    }
    v = pt_parse_size(&cf->args[1]);
    if (v == PT_ERROR) {
        return "invalid value";
    }
    *sp = (size_t) v;
    return check_bounds(cf, cmd, v);
}

char *
pt_conf_set_off(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    off_t   *op = conf_field(conf, cmd, off_t);
    ssize_t  v;

    if (*op != (off_t) PT_CONF_UNSET) {
        return "is duplicate";
    }
    v = pt_parse_size(&cf->args[1]);
    if (v == PT_ERROR) {
        return "invalid value";
    }
    *op = (off_t) v;
    return check_bounds(cf, cmd, v);
}

char *
pt_conf_set_msec(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    pt_msec_t *mp = conf_field(conf, cmd, pt_msec_t);
    pt_int_t   v;

    if (*mp != PT_CONF_UNSET_MSEC) {
        return "is duplicate";
    }
    v = pt_parse_time(&cf->args[1], 0);
    if (v == PT_ERROR) {
        return "invalid value";
    }
    *mp = (pt_msec_t) v;
    return check_bounds(cf, cmd, v);
}

char *
pt_conf_set_sec(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    time_t   *tp = conf_field(conf, cmd, time_t);
    pt_int_t  v;

    if (*tp != (time_t) PT_CONF_UNSET) {
        return "is duplicate";
    }
    v = pt_parse_time(&cf->args[1], 1);
    if (v == PT_ERROR) {
        return "invalid value";
    }
    *tp = (time_t) v;
    return check_bounds(cf, cmd, v);
}

char *
pt_conf_set_str(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    pt_str_t *sp = conf_field(conf, cmd, pt_str_t);

    if (sp->data != NULL) {
        return "is duplicate";
    }
    *sp = cf->args[1];   /* pool-owned, NUL-terminated by the lexer */
    return PT_CONF_OK;
}

/* The value of `s` in a NULL-terminated enum table, or -1. */
static pt_int_t
enum_lookup(const pt_conf_enum_t *e, const pt_str_t *s)
{
    for (; e != NULL && e->name != NULL; e++) {
        if (eq_nocase(s, e->name)) {
            return (pt_int_t) e->value;
        }
    }
    return -1;
}

char *
pt_conf_set_enum(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    pt_uint_t *up = conf_field(conf, cmd, pt_uint_t);
    pt_int_t   v;

    if (*up != PT_CONF_UNSET_UINT) {
        return "is duplicate";
    }
    v = enum_lookup(cmd->post, &cf->args[1]);
    if (v < 0) {
        pt_conf_log_error(PT_LOG_EMERG, cf, 0, "invalid value \"%s\"",
                          (char *) cf->args[1].data);
        return PT_CONF_ERROR;
    }
    *up = (pt_uint_t) v;
    return PT_CONF_OK;
}

/* Or-s every argument's value in; repeating the directive adds more. */
char *
pt_conf_set_bitmask(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    pt_uint_t *up = conf_field(conf, cmd, pt_uint_t);
    pt_uint_t  i;
    pt_int_t   v;

    if (*up == PT_CONF_UNSET_UINT) {
        *up = 0;
    }
    for (i = 1; i < cf->nargs; i++) {
        v = enum_lookup(cmd->post, &cf->args[i]);
        if (v < 0) {
            pt_conf_log_error(PT_LOG_EMERG, cf, 0, "invalid value \"%s\"",
                              (char *) cf->args[i].data);
            return PT_CONF_ERROR;
        }
        if (*up & (pt_uint_t) v) {
            pt_conf_log_error(PT_LOG_WARN, cf, 0, "duplicate value \"%s\"",
                              (char *) cf->args[i].data);
        }
        *up |= (pt_uint_t) v;
    }
    return PT_CONF_OK;
}

char *
pt_conf_set_str_array(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    pt_array_t **ap = conf_field(conf, cmd, pt_array_t *);
    pt_str_t    *s;

    if (*ap == PT_CONF_UNSET_PTR || *ap == NULL) {
        *ap = pt_array_create(cf->pool, 4, sizeof(pt_str_t));
        if (*ap == NULL) {
            return PT_CONF_ERROR;
        }
    }
    s = pt_array_push(*ap);
    if (s == NULL) {
        return PT_CONF_ERROR;
    }
    *s = cf->args[1];
    return PT_CONF_OK;
}

char *
pt_conf_set_noop(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    if (cmd->post != NULL) {
        pt_conf_log_error(PT_LOG_NOTICE, cf, 0, "\"%s\" directive is ignored",
                          cmd->name);
    }
    return PT_CONF_OK;
}
