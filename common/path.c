/*
 * Paths with hashed levels: their directive syntax and checks, the
 * cycle-wide list the master creates, and where a file's name puts it.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "array.h"
#include "conf.h"
#include "cycle.h"
#include "log.h"
#include "path.h"
#include "pool.h"

int
pt_path_set_level(pt_path_t *path, pt_uint_t i, const pt_str_t *value)
{
    pt_int_t  n;
    size_t    sum = 0;
    pt_uint_t k;

    if (i >= PT_PATH_MAX_LEVEL) {
        return PT_ERROR;
    }
    n = pt_atoi(value->data, value->len);
    if (n <= 0) {
        return PT_ERROR;
    }
    for (k = 0; k < i; k++) {
        sum += path->level[k];
    }
    if (sum + (size_t) n > PT_PATH_MAX_LEVELS_LEN) {
        return PT_ERROR;
    }
    path->level[i] = (size_t) n;
    path->len += (size_t) n + 1;
    return PT_OK;
}

/* Drop trailing slashes (nginx takes "/x/" as "/x") and make `name`
 * absolute from the prefix; PT_OK or PT_ERROR (allocation). */
static int
resolve_name(pt_conf_t *cf, pt_str_t *name)
{
    while (name->len > 1 && name->data[name->len - 1] == '/') {
        name->len--;
    }
    return pt_conf_full_name_prefix(cf->pool, &cf->cycle->prefix, name);
}

char *
pt_path_conf_set(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    pt_path_t **field = (pt_path_t **) ((char *) conf + cmd->offset);
    pt_path_t  *path;
    pt_uint_t   i;

    if (*field != NULL) {
        return "is duplicate";
    }
    path = pt_pcalloc(cf->pool, sizeof(pt_path_t));
    if (path == NULL) {
        return PT_CONF_ERROR;
    }
    path->name = cf->args[1];
    if (resolve_name(cf, &path->name) != PT_OK) {
        return PT_CONF_ERROR;
    }
    for (i = 2; i < cf->nargs; i++) {
        if (pt_path_set_level(path, i - 2, &cf->args[i]) != PT_OK) {
            return "invalid value";
        }
    }
    path->file = cf->node->file;
    path->line = cf->node->line;
    *field = path;
    return PT_CONF_OK;
}

char *
pt_path_merge(pt_conf_t *cf, pt_path_t **conf, pt_path_t *prev,
              const char *name, size_t level1, size_t level2)
{
    pt_path_t *path;

    if (*conf == NULL) {
        *conf = prev;
    }
    if (*conf != NULL) {
        return pt_path_add(cf, *conf);
    }
    path = pt_pcalloc(cf->pool, sizeof(pt_path_t));
    if (path == NULL) {
        return PT_CONF_ERROR;
    }
    path->name.data = (u_char *) name;
    path->name.len = strlen(name);
    if (resolve_name(cf, &path->name) != PT_OK) {
        return PT_CONF_ERROR;
    }
    path->level[0] = level1;
    path->level[1] = level1 ? level2 : 0;
    path->len = (level1 ? level1 + 1 : 0) + (path->level[1] ? level2 + 1 : 0);
    *conf = path;
    return pt_path_add(cf, path);
}

static int
same_levels(const pt_path_t *a, const pt_path_t *b)
{
    return memcmp(a->level, b->level, sizeof(a->level)) == 0;
}

/* nginx's three wordings: both set, the new one a default, both defaults
 * (a default that meets a set path is replaced by it in nginx's order). */
static void
log_levels_conflict(pt_conf_t *cf, const pt_path_t *old,
                    const pt_path_t *new)
{
    const pt_path_t *set = new->file != NULL ? new : old;

    if (old->file != NULL && new->file != NULL) {
        pt_log_error(PT_LOG_EMERG, cf->log, 0, "the same path name \"%s\" in "
                     "%s:%lu has the different levels than in %s:%lu",
                     old->name.data, old->file, (unsigned long) old->line,
                     new->file, (unsigned long) new->line);
    } else if (old->file == NULL && new->file == NULL) {
        pt_log_error(PT_LOG_EMERG, cf->log, 0, "the default path name \"%s\" "
                     "has the same name as another default path, but the "
                     "different levels, you need to redefine one of them "
                     "in http section", new->name.data);
    } else {
        pt_log_error(PT_LOG_EMERG, cf->log, 0, "the path name \"%s\" in "
                     "%s:%lu has the same name as default path, but the "
                     "different levels, you need to define default path "
                     "in http section", set->name.data, set->file,
                     (unsigned long) set->line);
    }
}

char *
pt_path_add(pt_conf_t *cf, pt_path_t *path)
{
    pt_path_t **p = cf->cycle->paths.elts;
    pt_uint_t   i;

    for (i = 0; i < cf->cycle->paths.nelts; i++) {
        if (!pt_str_eq(&p[i]->name, &path->name)) {
            continue;
        }
        if (!same_levels(p[i], path)) {
            log_levels_conflict(cf, p[i], path);
            return PT_CONF_ERROR;
        }
        return PT_CONF_OK;
    }
    p = pt_array_push(&cf->cycle->paths);
    if (p == NULL) {
        return PT_CONF_ERROR;
    }
    *p = path;
    return PT_CONF_OK;
}

size_t
pt_path_file_len(const pt_path_t *path, size_t name_len)
{
    return path->name.len + path->len + 1 + name_len;
}

void
pt_path_hash_name(const pt_path_t *path, u_char *full, size_t name_len)
{
    u_char   *name = full + path->name.len + path->len + 1;
    size_t    taken = 0, at = path->name.len;
    pt_uint_t i;

    for (i = 0; i < PT_PATH_MAX_LEVEL && path->level[i] != 0; i++) {
        taken += path->level[i];
        full[at++] = '/';
        memcpy(full + at, name + name_len - taken, path->level[i]);
        at += path->level[i];
    }
    full[at] = '/';
}

int
pt_path_create_levels(const pt_path_t *path, u_char *full)
{
    size_t    at = path->name.len;
    pt_uint_t i;
    int       rc;

    for (i = 0; i < PT_PATH_MAX_LEVEL && path->level[i] != 0; i++) {
        at += path->level[i] + 1;
        full[at] = '\0';
        rc = mkdir((char *) full, 0700);
        full[at] = '/';
        if (rc == -1 && errno != EEXIST) {
            return PT_ERROR;
        }
    }
    return PT_OK;
}
