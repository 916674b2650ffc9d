/*
 * Process title rewriting: the kernel shows the argv area in ps and
 * /proc/PID/cmdline, so the title is written there after environ and argv
 * strings have been copied to the heap (they live for the whole process).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "proctitle.h"
#include "pt_types.h"

extern char **environ;

static char *title_start;
static char *title_end;
/* The copied environment: kept here too, so it stays reachable (for leak
 * checkers) after a worker points environ elsewhere. Not static: a
 * write-only static may be optimised away. */
char **pt_proctitle_environ;

char **
pt_proctitle_init(int argc, char **argv)
{
    char  **copy, **env;
    size_t  n;
    int     i;

    copy = calloc((size_t) argc + 1, sizeof(char *));
    if (copy == NULL) {
        return NULL;
    }
    for (i = 0; i < argc; i++) {
        copy[i] = strdup(argv[i]);
        if (copy[i] == NULL) {
            return NULL;
        }
    }

    /* The writable area is argv strings plus the environ strings right
     * after them, when they are contiguous. */
    title_start = argv[0];
    title_end = argv[0] + strlen(argv[0]) + 1;
    for (i = 1; i < argc; i++) {
        if (argv[i] == title_end) {
            title_end = argv[i] + strlen(argv[i]) + 1;
        }
    }

    for (n = 0; environ[n] != NULL; n++) {
        /* count */
    }
    env = calloc(n + 1, sizeof(char *));
    if (env == NULL) {
        return NULL;
    }
    for (n = 0; environ[n] != NULL; n++) {
        if (environ[n] == title_end) {
            title_end = environ[n] + strlen(environ[n]) + 1;
        }
        env[n] = strdup(environ[n]);
        if (env[n] == NULL) {
            return NULL;
        }
    }
    environ = env;
    pt_proctitle_environ = env;

    return copy;
}

void
pt_proctitle_set(const char *fmt, ...)
{
    char    buf[256];
    va_list args;
    size_t  room;
    int     n;

    va_start(args, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, args);
    va_end(args);
    if (n < 0) {
        return;
    }

    /* prctl sets the short name shown by top; failure is harmless */
    (void) prctl(PR_SET_NAME, "portico", 0, 0, 0);

    if (title_start == NULL) {
        return;
    }
    room = (size_t) (title_end - title_start);
    if (room < 2) {
        return;
    }
    memset(title_start, '\0', room);
    memcpy(title_start, buf, (size_t) n < room - 1 ? (size_t) n : room - 1);
}
