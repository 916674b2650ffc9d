/*
 * Directories with hashed levels ("path levels"): a temp or cache path and
 * the 1-3 levels of subdirectories a file's name is spread into, as nginx's
 * "proxy_temp_path DIR 1 2" and "proxy_cache_path DIR levels=1:2".
 */
#ifndef PT_PATH_H
#define PT_PATH_H

#include "pt_types.h"
#include "str.h"

#define PT_PATH_MAX_LEVEL 3
/* The sum of the levels of a path (nginx's limit: a temp name's digits). */
#define PT_PATH_MAX_LEVELS_LEN 10
/* Temp file names: a 10-digit number. */
#define PT_PATH_TEMP_NAME_LEN 10

struct pt_path_s {
    pt_str_t     name;    /* absolute, no trailing "/", NUL-terminated */
    size_t       level[PT_PATH_MAX_LEVEL];  /* 0 ends the list */
    size_t       len;     /* sum of (level + 1): the "/3/12" part */
    const char  *file;    /* where it was set; NULL for a default */
    pt_uint_t    line;
};

/* Set level `i` of `path` from its text: a number from 1 on, with the sum
 * of the levels set so far at most PT_PATH_MAX_LEVELS_LEN. PT_OK, or
 * PT_ERROR when the value is invalid (the caller words the message). */
int pt_path_set_level(pt_path_t *path, pt_uint_t i, const pt_str_t *value);

/* Directive setter for "NAME path [level1 [level2 [level3]]]" into a
 * `pt_path_t *` field (NULL when unset); the path is resolved against the
 * prefix. Returns NULL, "is duplicate" or "invalid value". */
char *pt_path_conf_set(pt_conf_t *cf, pt_command_t *cmd, void *conf);

/* Inherit *conf from prev, else make the default `name` (relative to the
 * prefix) with the levels given (0 for none), and register the result for
 * the master to create (pt_path_add). PT_CONF_OK or PT_CONF_ERROR. */
char *pt_path_merge(pt_conf_t *cf, pt_path_t **conf, pt_path_t *prev,
                    const char *name, size_t level1, size_t level2);

/* Register `path` in the cycle's paths (created by the master at start and
 * given to the worker user). A path of the same name must have the same
 * levels: else the error is logged at emerg as nginx words it. */
char *pt_path_add(pt_conf_t *cf, pt_path_t *path);

/* Length of the full name of a file `name_len` bytes long in `path`. */
size_t pt_path_file_len(const pt_path_t *path, size_t name_len);

/* `full` holds path->name, then path->len bytes of room, then "/" and the
 * file's name (name_len bytes, NUL-terminated): fill the room with the
 * level directories. Level 1 is the name's last level[0] characters, level
 * 2 the level[1] before those, and so on (nginx's order). */
void pt_path_hash_name(const pt_path_t *path, u_char *full,
                       size_t name_len);

/* Create the level directories of `full` (made by pt_path_hash_name), mode
 * 0700, those that exist already left alone. PT_OK, or PT_ERROR with errno
 * set by the failing mkdir. */
int pt_path_create_levels(const pt_path_t *path, u_char *full);

#endif /* PT_PATH_H */
