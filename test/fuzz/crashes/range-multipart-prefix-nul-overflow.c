/*
 * Reproducer (not a libFuzzer input), fixed in e1f3fd0: it prints "no
 * overflow detected" since. pt_http_range_multipart's part prefix, with a
 * Content-Type and a charset, was built with stpcpy() into an exact-size
 * pool string, so its final NUL landed one byte past it.
 * Inside a pool block that byte is the next allocation's; when the string
 * ends its block, ASan reports a heap-buffer-overflow (WRITE) in
 * part_prefix (worker/http_range.c). Filler sizes walk the string to the
 * end of a 1024-byte block. Build with -O1 or more: the compiler then
 * turns the constant stpcpy() into a memcpy() that ASan checks (at -O0
 * the libc stpcpy() call goes unchecked; the byte is written all the
 * same).
 *
 *   clang -g -O1 -fsanitize=address,undefined -std=gnu11 -D_GNU_SOURCE -I. \
 *       -Iobjs -o /tmp/prefix-nul \
 *       test/fuzz/crashes/range-multipart-prefix-nul-overflow.c \
 *       worker/http_range.c common/log.c common/time.c common/str.c \
 *       common/pool.c common/array.c && /tmp/prefix-nul
 */
#include <stdio.h>

#include "common/array.h"
#include "common/log.h"
#include "common/pool.h"
#include "worker/http_range.h"

int
main(void)
{
    static pt_log_t      log;
    pt_str_t             type = { 10, (u_char *) "text/plain" };
    pt_str_t             charset = { 5, (u_char *) "utf-8" };
    pt_http_multipart_t  mp;
    pt_http_range_t     *r;
    pt_pool_t           *pool;
    pt_array_t           a;
    int                  k;

    log.fd = -1;
    for (k = 1; k < 1024; k++) {
        pool = pt_pool_create(1024, &log);
        pt_array_init(&a, pool, 1, sizeof(pt_http_range_t));
        r = pt_array_push(&a);
        r->start = 0;
        r->end = 1;
        r = pt_array_push(&a);
        r->start = 2;
        r->end = 3;
        pt_pnalloc(pool, k);
        pt_http_range_multipart(pool, &a, &type, &charset, 10, 1, &mp);
        pt_pool_destroy(pool);
    }
    printf("no overflow detected\n");
    return 0;
}
