/*
 * libFuzzer harness for the request-line and header-line parsers and path
 * normalisation. The first input byte picks a split point; the rest is
 * parsed whole, split in two (the buffer moving in between), and byte by
 * byte when short: the logs must match and no invariant may break.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "test/fuzz/http_parse_driver.h"

static drv_log_t whole, split;

static void
fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_http_parse: %s: %s\n", what,
            detail ? detail : "");
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const u_char  *in = data + 1;
    size_t         n, k, i, *cuts;
    drv_event_t    e;
    int            d;

    if (size == 0) {
        return 0;
    }
    n = size - 1;
    k = (size_t) data[0] * (n + 1) / 256;

    drv_run(&whole, in, n, NULL, 0);
    if (whole.violation) {
        fail("invariant (whole)", whole.violation);
    }

    drv_run(&split, in, n, &k, 1);
    if (split.violation) {
        fail("invariant (split)", split.violation);
    }
    d = drv_diff(&whole, &split);
    if (d != -1) {
        fprintf(stderr, "split at %zu: event %d differs\n", k, d);
        fail("split-invariance", NULL);
    }

    if (n <= 512) {
        cuts = malloc(sizeof(size_t) * (n + 1));
        for (i = 0; i <= n; i++) {
            cuts[i] = i;
        }
        drv_run(&split, in, n, cuts, n + 1);
        free(cuts);
        if (split.violation) {
            fail("invariant (bytewise)", split.violation);
        }
        if (drv_diff(&whole, &split) != -1) {
            fail("split-invariance (bytewise)", NULL);
        }
    }

    /* the normaliser on raw bytes too (NUL, CTLs the parser rejects) */
    if (n > 0 && in[0] == '/') {
        memset(&e, 0, sizeof(e));
        whole.violation = NULL;
        drv_normalize_one(&whole, &e, data[0] & 1, in, n);
        if (whole.violation) {
            fail("invariant (normalize)", whole.violation);
        }
    }
    return 0;
}
