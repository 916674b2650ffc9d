/*
 * The "if" directive's parts: its conditions (a variable's truth, string
 * (in)equality, a regex match whose captures stay for the directives that
 * follow, the file tests -f -d -e -x with stat() as nginx without an open
 * file cache) and the conf arrays of its block.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "common/array.h"
#include "common/cycle.h"
#include "common/log.h"
#include "common/pool.h"
#include "common/str.h"
#include "http_core.h"
#include "http_request.h"
#include "http_rewrite_if.h"
#include "http_script.h"
#include "http_variables.h"

#define COND_VAR     0   /* ($var): non-empty and not "0" */
#define COND_EQ      1   /* ($var = value) */
#define COND_NE      2   /* ($var != value) */
#define COND_REGEX   3   /* ($var ~ re), ~*, !~, !~* */
#define COND_FILE    4   /* (-f value), -d -e -x, !-f ... */

struct pt_http_rewrite_cond_s {
    pt_uint_t                 type;
    pt_uint_t                 index;      /* the variable tested */
    pt_http_complex_value_t   value;      /* EQ, NE; FILE: the path */
    pt_http_regex_t           regex;      /* REGEX */
    u_char                    file_op;    /* FILE: 'f', 'd', 'e' or 'x' */
    unsigned                  negative:1; /* !~, !~*, !-f ... */
};

/* ------------------------------------------------------------------ */
/* Compilation                                                         */

static pt_http_rewrite_cond_t *
invalid(pt_conf_t *cf, const pt_str_t *arg)
{
    pt_conf_log_error(PT_LOG_EMERG, cf, 0, "invalid condition \"%.*s\"",
                      (int) arg->len, arg->data);
    return NULL;
}

/* "$name" as the condition's variable: everything after the "$" is the
 * name, as nginx takes it. */
static int
compile_variable(pt_conf_t *cf, pt_http_rewrite_cond_t *c, pt_str_t *arg)
{
    pt_str_t  name;
    pt_int_t  index;

    name.data = arg->data + 1;
    name.len = arg->len - 1;
    index = pt_http_get_variable_index(cf, &name);
    if (index == PT_ERROR) {
        return PT_ERROR;
    }
    c->index = (pt_uint_t) index;
    return PT_OK;
}

/* The operator and operand after "$var". */
static pt_http_rewrite_cond_t *
compile_operator(pt_conf_t *cf, pt_http_rewrite_cond_t *c, pt_str_t *op,
                 pt_str_t *operand)
{
    int caseless;

    if (op->len == 1 && op->data[0] == '=') {
        c->type = COND_EQ;
    } else if (op->len == 2 && op->data[0] == '!' && op->data[1] == '=') {
        c->type = COND_NE;
    } else if ((op->len == 1 && op->data[0] == '~')
               || (op->len == 2 && memcmp(op->data, "~*", 2) == 0)
               || (op->len == 2 && memcmp(op->data, "!~", 2) == 0)
               || (op->len == 3 && memcmp(op->data, "!~*", 3) == 0))
    {
        c->type = COND_REGEX;
        c->negative = op->data[0] == '!';
        caseless = op->data[op->len - 1] == '*';
        if (pt_http_regex_compile(cf, &c->regex, operand, caseless)
            != PT_OK)
        {
            return NULL;
        }
        return c;
    } else {
        pt_conf_log_error(PT_LOG_EMERG, cf, 0, "unexpected \"%.*s\" in "
                          "condition", (int) op->len, op->data);
        return NULL;
    }
    if (pt_http_compile_complex_value(cf, operand, &c->value) != PT_OK) {
        return NULL;
    }
    return c;
}

/* "-f path" and the other file tests. */
static pt_http_rewrite_cond_t *
compile_file(pt_conf_t *cf, pt_http_rewrite_cond_t *c, pt_str_t *op,
             pt_str_t *path)
{
    u_char t;

    c->type = COND_FILE;
    c->negative = op->data[0] == '!';
    t = op->data[c->negative ? 2 : 1];
    if (t != 'f' && t != 'd' && t != 'e' && t != 'x') {
        return invalid(cf, op);
    }
    c->file_op = t;
    if (pt_http_compile_complex_value(cf, path, &c->value) != PT_OK) {
        return NULL;
    }
    return c;
}

pt_http_rewrite_cond_t *
pt_http_rewrite_cond_compile(pt_conf_t *cf)
{
    pt_http_rewrite_cond_t *c;
    pt_str_t                a[8];
    pt_uint_t               cur, last, n = cf->nargs - 1;

    c = pt_pcalloc(cf->pool, sizeof(*c));
    if (c == NULL) {
        return NULL;
    }
    /* a[] are views of the arguments: "(" and ")" are cut off, the
     * arguments themselves stay as they are */
    memcpy(a, &cf->args[1], pt_min(n, 8) * sizeof(pt_str_t));
    if (a[0].len < 1 || a[0].data[0] != '(') {
        return invalid(cf, &a[0]);
    }
    if (a[0].len == 1) {
        cur = 1;
    } else {
        cur = 0;
        a[0].len--;
        a[0].data++;
    }
    last = n - 1;
    if (last >= 8 || a[last].len < 1
        || a[last].data[a[last].len - 1] != ')')
    {
        return invalid(cf, &cf->args[n]);
    }
    if (a[last].len == 1) {
        if (last == 0) {
            return invalid(cf, &a[0]);    /* "()" */
        }
        last--;
    } else {
        a[last].len--;
    }
    if (cur > last) {
        return invalid(cf, &a[cur]);      /* "( )": a[cur] is ")" */
    }

    if (a[cur].len > 1 && a[cur].data[0] == '$') {
        if (cur != last && cur + 2 != last) {
            return invalid(cf, &a[cur]);
        }
        if (compile_variable(cf, c, &a[cur]) != PT_OK) {
            return NULL;
        }
        if (cur == last) {
            c->type = COND_VAR;
            return c;
        }
        return compile_operator(cf, c, &a[cur + 1], &a[last]);
    }

    if ((a[cur].len == 2 && a[cur].data[0] == '-')
        || (a[cur].len == 3 && a[cur].data[0] == '!'
            && a[cur].data[1] == '-'))
    {
        if (cur + 1 != last) {
            return invalid(cf, &a[cur]);
        }
        return compile_file(cf, c, &a[cur], &a[last]);
    }
    return invalid(cf, &a[cur]);
}

/* ------------------------------------------------------------------ */
/* Evaluation                                                          */

static void
variable_value(pt_http_request_t *r, pt_uint_t index, pt_str_t *s)
{
    pt_http_variable_value_t *vv = pt_http_get_flushed_variable(r, index);

    /* an unset (or failed) variable tests as the empty string */
    if (vv == NULL || vv->not_found) {
        s->data = (u_char *) "";
        s->len = 0;
        return;
    }
    s->data = vv->data;
    s->len = vv->len;
}

static int
eval_regex(pt_http_request_t *r, pt_http_rewrite_cond_t *c, int log)
{
    pt_str_t  line;
    int       rc;

    variable_value(r, c->index, &line);
    rc = pt_http_regex_exec(r, &c->regex, &line);
    if (rc == PT_ERROR) {
        return PT_ERROR;
    }
    if (log) {
        pt_log_error(PT_LOG_NOTICE, pt_http_request_log(r), 0,
                     "\"%.*s\" %s \"%.*s\"", (int) c->regex.name.len,
                     c->regex.name.data,
                     rc == PT_OK ? "matches" : "does not match",
                     (int) line.len, line.data);
    }
    if (rc == PT_DECLINED) {
        r->ncaptures = 0;   /* $1.. of an earlier match are gone */
        return c->negative;
    }
    return !c->negative;
}

/* stat() the path: the test's result, a failure other than "not there"
 * logged at crit (and counted as "not there", as nginx does). */
static int
eval_file(pt_http_request_t *r, pt_http_rewrite_cond_t *c)
{
    struct stat  st;
    pt_str_t     path;
    u_char      *name;
    int          yes;

    if (pt_http_complex_value(r, &c->value, &path) != PT_OK) {
        return PT_ERROR;
    }
    name = pt_pnalloc(r->pool, path.len + 1);
    if (name == NULL) {
        return PT_ERROR;
    }
    memcpy(name, path.data, path.len);
    name[path.len] = '\0';

    if (stat((char *) name, &st) != 0) {
        if (errno != ENOENT && errno != ENOTDIR && errno != ENAMETOOLONG) {
            pt_log_error(PT_LOG_CRIT, pt_http_request_log(r), errno,
                         "stat() \"%s\" failed", (char *) name);
        }
        return c->negative;
    }
    switch (c->file_op) {
    case 'f':
        yes = S_ISREG(st.st_mode);
        break;
    case 'd':
        yes = S_ISDIR(st.st_mode);
        break;
    case 'e':
        yes = S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)
              || S_ISLNK(st.st_mode);
        break;
    default:   /* 'x' */
        yes = (st.st_mode & S_IXUSR) != 0;
        break;
    }
    return c->negative ? !yes : yes;
}

int
pt_http_rewrite_cond_eval(pt_http_request_t *r, pt_http_rewrite_cond_t *c,
                          int log)
{
    pt_str_t  v, s;

    switch (c->type) {
    case COND_VAR:
        variable_value(r, c->index, &v);
        return v.len > 0 && !(v.len == 1 && v.data[0] == '0');
    case COND_EQ:
    case COND_NE:
        variable_value(r, c->index, &v);
        if (pt_http_complex_value(r, &c->value, &s) != PT_OK) {
            return PT_ERROR;
        }
        return (v.len == s.len
                && (s.len == 0 || memcmp(v.data, s.data, s.len) == 0))
               == (c->type == COND_EQ);
    case COND_REGEX:
        return eval_regex(r, c, log);
    default:
        return eval_file(r, c);
    }
}

/* ------------------------------------------------------------------ */
/* The block                                                           */

int
pt_http_rewrite_if_check_server(pt_conf_t *cf, pt_module_t *module)
{
    pt_conf_node_t  *node, *saved = cf->node;
    pt_command_t    *cmd;
    pt_module_t    **m;
    int              known;

    for (node = cf->node->children; node != NULL; node = node->next) {
        known = 0;
        for (m = cf->modules; *m != NULL; m++) {
            for (cmd = (*m)->commands; cmd && cmd->name; cmd++) {
                if (!pt_str_eq_cstr(&node->args[0], cmd->name)) {
                    continue;
                }
                if (*m == module && (cmd->type & PT_CONF_IF))
                {
                    goto allowed;
                }
                known = 1;
            }
        }
        cf->node = node;
        pt_conf_log_error(PT_LOG_EMERG, cf, 0, known
                          ? "\"%s\" directive is not allowed here"
                          : "unknown directive \"%s\"",
                          (char *) node->args[0].data);
        cf->node = saved;
        return PT_ERROR;
    allowed:
        continue;
    }
    return PT_OK;
}

pt_conf_ctx_t *
pt_http_rewrite_if_ctx(pt_conf_t *cf)
{
    pt_conf_ctx_t       *ctx;
    pt_http_loc_conf_t  *clcf, *pclcf;
    pt_module_t         *m;
    void              ***slot;
    pt_uint_t            i;

    ctx = pt_pcalloc(cf->pool, sizeof(*ctx));
    if (ctx == NULL) {
        return NULL;
    }
    ctx->main_conf = cf->ctx->main_conf;
    ctx->srv_conf = cf->ctx->srv_conf;
    ctx->loc_conf = pt_pcalloc(cf->pool,
                               cf->cycle->modules_n * sizeof(void *));
    if (ctx->loc_conf == NULL) {
        return NULL;
    }
    for (i = 0; (m = cf->modules[i]) != NULL; i++) {
        if (m->type == PT_MODULE_HTTP && m->create_loc_conf
            && (ctx->loc_conf[i] = m->create_loc_conf(cf)) == NULL)
        {
            return NULL;
        }
    }

    pclcf = cf->ctx->loc_conf[pt_http_core_module.index];
    clcf = ctx->loc_conf[pt_http_core_module.index];
    clcf->name = pclcf->name;
    clcf->location = pclcf->location;
    clcf->loc_conf = ctx->loc_conf;
    clcf->regex = pclcf->regex;
    clcf->exact_match = pclcf->exact_match;
    clcf->noregex = pclcf->noregex;
    clcf->named = pclcf->named;
    clcf->regex_location = pclcf->regex_location;

    if (pclcf->nested == NULL) {
        pclcf->nested = pt_array_create(cf->pool, 2, sizeof(void **));
        if (pclcf->nested == NULL) {
            return NULL;
        }
    }
    slot = pt_array_push(pclcf->nested);
    if (slot == NULL) {
        return NULL;
    }
    *slot = ctx->loc_conf;
    return ctx;
}
