/*
 * libFuzzer harness for the chunked decoder: the input (after a first byte
 * choosing the split) is decoded whole, split in two and byte by byte with
 * identical results; then the same bytes are used as data, encoded with
 * chunk sizes, extensions and trailers they pick, and must decode back.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "test/fuzz/http_parse_driver.h"

static void
fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_chunked: %s: %s\n", what, detail ? detail : "");
    abort();
}

static void
same(const drv_chunked_t *a, const u_char *da, const drv_chunked_t *b,
     const u_char *db, const char *what)
{
    if (b->violation) {
        fail(what, b->violation);
    }
    if (a->rc != b->rc || a->consumed != b->consumed
        || a->out_len != b->out_len || memcmp(da, db, a->out_len) != 0)
    {
        fprintf(stderr, "rc %d/%d consumed %zu/%zu out %zu/%zu\n", a->rc,
                b->rc, a->consumed, b->consumed, a->out_len, b->out_len);
        fail(what, "results differ");
    }
}

/* Chunked-encode data[0..n) into enc (room for 24 * n + 64 bytes). */
static size_t
encode(const u_char *data, size_t n, u_char *enc, unsigned seed)
{
    size_t  i = 0, len = 0, sz;
    int     lf = seed & 1;

    while (i < n) {
        sz = pt_min(n - i, (size_t) (1 + data[i] % 23));
        len += sprintf((char *) enc + len, (seed & 2) ? "%zx" : "%zX", sz);
        if (data[i] & 0x80) {
            len += sprintf((char *) enc + len, " ;e=\"%u\"", data[i]);
        }
        len += sprintf((char *) enc + len, lf ? "\n" : "\r\n");
        memcpy(enc + len, data + i, sz);
        len += sz;
        i += sz;
        len += sprintf((char *) enc + len, lf ? "\n" : "\r\n");
    }
    len += sprintf((char *) enc + len, "0%s%s",
                   (seed & 4) ? ";last" : "", lf ? "\n" : "\r\n");
    if (seed & 8) {
        len += sprintf((char *) enc + len, "X-Sum: %zu\r\nY:\tz\n", n);
    }
    len += sprintf((char *) enc + len, lf ? "\n" : "\r\n");
    return len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    drv_chunked_t  w, s;
    const u_char  *in = data + 1;
    u_char        *o1, *o2, *enc;
    size_t         n, k, i, elen, *cuts;
    long           done_at;

    if (size == 0) {
        return 0;
    }
    n = size - 1;
    k = (size_t) data[0] * (n + 1) / 256;
    o1 = malloc(n + 1);
    o2 = malloc(n + 1);

    drv_chunked(&w, in, n, NULL, 0, o1, -1);
    if (w.violation) {
        fail("invariant (whole)", w.violation);
    }
    if (w.consumed > n || (w.rc == PT_DONE && w.out_len >= n)) {
        fail("bounds", NULL);
    }
    done_at = w.rc == PT_DONE ? (long) w.consumed : -1;

    drv_chunked(&s, in, n, &k, 1, o2, done_at);
    same(&w, o1, &s, o2, "split");

    if (n <= 1024) {
        cuts = malloc(sizeof(size_t) * (n + 1));
        for (i = 0; i <= n; i++) {
            cuts[i] = i;
        }
        drv_chunked(&s, in, n, cuts, n + 1, o2, done_at);
        free(cuts);
        same(&w, o1, &s, o2, "bytewise");
    }

    /* round trip: the input as body data */
    enc = malloc(24 * n + 64);
    elen = encode(in, n, enc, data[0]);
    free(o1);
    o1 = malloc(elen + 1);
    drv_chunked(&w, enc, elen, &k, 1, o1, -1);
    if (w.violation || w.rc != PT_DONE || w.consumed != elen
        || w.out_len != n || memcmp(o1, in, n) != 0)
    {
        fail("round trip", w.violation);
    }
    free(enc);
    free(o1);
    free(o2);
    return 0;
}
