/*
 * Process titles shown by ps: "portico: master process ...",
 * "portico: worker process". Rewrites the argv area, after moving the
 * environment out of the way.
 */
#ifndef PT_PROCTITLE_H
#define PT_PROCTITLE_H

/* Call once from main before anything reads environ; copies argv strings
 * (returned array is heap-owned for the process lifetime) so that the
 * original argv area can be reused. Returns NULL on allocation failure. */
char **pt_proctitle_init(int argc, char **argv);

/* The environment copy made by pt_proctitle_init (process lifetime). */
extern char **pt_proctitle_environ;

void pt_proctitle_set(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

#endif /* PT_PROCTITLE_H */
