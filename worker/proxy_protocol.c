/*
 * PROXY protocol v1 ("PROXY TCP4 src dst sport dport\r\n") and v2 (binary
 * signature, command, family, addresses, TLVs) parsing. Incremental only
 * in the sense that a valid prefix asks for more bytes: the caller keeps
 * the bytes and calls again from the start.
 */
#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#include "proxy_protocol.h"

#define V1_SIG      "PROXY "
#define V1_SIG_LEN  (sizeof(V1_SIG) - 1)
#define V1_ADDR_MAX 45                       /* INET6_ADDRSTRLEN - 1 */

static const u_char v2_sig[12] = {
    0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

/* v2 families and transports (high and low nibble of byte 13) */
#define V2_UNSPEC   0
#define V2_INET     1
#define V2_INET6    2
#define V2_UNIX     3
#define V2_STREAM   1
#define V2_DGRAM    2
#define V2_LOCAL    0
#define V2_PROXY    1

static int
fail(pt_proxy_protocol_t *pp, int error, unsigned value)
{
    pp->error = error;
    pp->error_value = value;
    return PT_ERROR;
}

/* One address field ending at the next space: *pp advances past it. */
static int
v1_addr(const u_char **pp, const u_char *end, int family, u_char *out)
{
    const u_char *p = *pp, *sp;
    char          text[V1_ADDR_MAX + 1];
    size_t        len;

    sp = memchr(p, ' ', (size_t) (end - p));
    if (sp == NULL) {
        return PT_ERROR;
    }
    len = (size_t) (sp - p);
    if (len == 0 || len > V1_ADDR_MAX) {
        return PT_ERROR;
    }
    memcpy(text, p, len);
    text[len] = '\0';
    if (inet_pton(family, text, out) != 1) {
        return PT_ERROR;
    }
    *pp = sp + 1;
    return PT_OK;
}

/* A decimal port of 1 to 5 digits, at most 65535, ending with `stop`. */
static int
v1_port(const u_char **pp, const u_char *end, u_char stop, uint16_t *port)
{
    const u_char *p = *pp;
    unsigned      v = 0, digits = 0;

    while (p < end && *p >= '0' && *p <= '9') {
        if (++digits > 5) {
            return PT_ERROR;
        }
        v = v * 10 + (unsigned) (*p++ - '0');
    }
    if (digits == 0 || v > 65535 || p == end || *p != stop) {
        return PT_ERROR;
    }
    *port = (uint16_t) v;
    *pp = p + 1;
    return PT_OK;
}

/* The line [p, lf] holds a whole v1 header. */
static int
v1_line(const u_char *p, const u_char *lf, pt_proxy_protocol_t *pp)
{
    const u_char *end = lf + 1;

    p += V1_SIG_LEN;
    if (end - p >= 8 && memcmp(p, "UNKNOWN", 7) == 0
        && (p[7] == ' ' || p[7] == '\r' || p[7] == '\n'))
    {
        /* the rest of the line is to be ignored (spec 2.1) */
        pp->family = AF_UNSPEC;
        return PT_OK;
    }
    if (end - p < 5 || memcmp(p, "TCP", 3) != 0 || p[4] != ' '
        || (p[3] != '4' && p[3] != '6'))
    {
        return PT_ERROR;
    }
    pp->family = p[3] == '4' ? AF_INET : AF_INET6;
    p += 5;
    if (v1_addr(&p, end, pp->family, pp->src) != PT_OK
        || v1_addr(&p, end, pp->family, pp->dst) != PT_OK
        || v1_port(&p, end, ' ', &pp->src_port) != PT_OK
        || v1_port(&p, end, '\r', &pp->dst_port) != PT_OK
        || p != lf)
    {
        return PT_ERROR;
    }
    return PT_OK;
}

static int
parse_v1(const u_char *p, size_t n, pt_proxy_protocol_t *pp)
{
    size_t        scan = n < PT_PROXY_PROTOCOL_V1_MAX_HEADER
                         ? n : PT_PROXY_PROTOCOL_V1_MAX_HEADER;
    const u_char *lf = memchr(p, '\n', scan);

    if (lf == NULL) {
        return n < PT_PROXY_PROTOCOL_V1_MAX_HEADER
               ? PT_AGAIN : fail(pp, PT_PROXY_PROTOCOL_BROKEN, 0);
    }
    pp->version = 1;
    pp->len = (size_t) (lf - p) + 1;
    if (v1_line(p, lf, pp) != PT_OK) {
        pp->family = AF_UNSPEC;
        return fail(pp, PT_PROXY_PROTOCOL_BROKEN, 0);
    }
    return PT_OK;
}

/* The TLVs of [p, end) must tile it exactly: they are skipped, but one
 * that claims bytes past the header is a broken header. */
static int
v2_tlvs(const u_char *p, const u_char *end)
{
    size_t len;

    while (p < end) {
        if (end - p < 3) {
            return PT_ERROR;
        }
        len = (size_t) p[1] << 8 | p[2];
        if ((size_t) (end - p) - 3 < len) {
            return PT_ERROR;
        }
        p += 3 + len;
    }
    return PT_OK;
}

static int
parse_v2(const u_char *p, size_t n, pt_proxy_protocol_t *pp)
{
    static const size_t addr_len[] = { 0, 12, 36, 216 };
    unsigned            cmd, fam, proto;
    size_t              len, total;

    if (n < PT_PROXY_PROTOCOL_V2_HEADER_LEN) {
        return PT_AGAIN;
    }
    pp->version = 2;
    if (p[12] >> 4 != 2) {
        return fail(pp, PT_PROXY_PROTOCOL_VERSION, p[12] >> 4);
    }
    cmd = p[12] & 0x0f;
    fam = p[13] >> 4;
    proto = p[13] & 0x0f;
    len = (size_t) p[14] << 8 | p[15];
    total = PT_PROXY_PROTOCOL_V2_HEADER_LEN + len;
    if (total > PT_PROXY_PROTOCOL_MAX_HEADER) {
        return fail(pp, PT_PROXY_PROTOCOL_TOO_LARGE, (unsigned) total);
    }
    if (cmd != V2_LOCAL && cmd != V2_PROXY) {
        return fail(pp, PT_PROXY_PROTOCOL_COMMAND, cmd);
    }
    if (fam > V2_UNIX) {
        return fail(pp, PT_PROXY_PROTOCOL_FAMILY, fam);
    }
    if (proto > V2_DGRAM) {
        return fail(pp, PT_PROXY_PROTOCOL_TRANSPORT, proto);
    }
    if (n < total) {
        return PT_AGAIN;
    }
    pp->len = total;
    pp->family = AF_UNSPEC;
    if (cmd == V2_LOCAL) {
        /* health checks from the proxy itself: the body is not ours */
        return PT_OK;
    }
    if (len < addr_len[fam]) {
        return fail(pp, PT_PROXY_PROTOCOL_SHORT, (unsigned) len);
    }
    p += PT_PROXY_PROTOCOL_V2_HEADER_LEN;
    if (v2_tlvs(p + addr_len[fam], p + len) != PT_OK) {
        return fail(pp, PT_PROXY_PROTOCOL_TLV, 0);
    }
    /* as nginx: only TCP over IP gives addresses; UNIX, UNSPEC and DGRAM
     * headers are accepted and keep the connection's own */
    if (proto != V2_STREAM || (fam != V2_INET && fam != V2_INET6)) {
        return PT_OK;
    }
    len = fam == V2_INET ? 4 : 16;
    pp->family = fam == V2_INET ? AF_INET : AF_INET6;
    memcpy(pp->src, p, len);
    memcpy(pp->dst, p + len, len);
    pp->src_port = (uint16_t) (p[2 * len] << 8 | p[2 * len + 1]);
    pp->dst_port = (uint16_t) (p[2 * len + 2] << 8 | p[2 * len + 3]);
    return PT_OK;
}

int
pt_proxy_protocol_parse(const u_char *p, size_t n, pt_proxy_protocol_t *pp)
{
    size_t m;

    memset(pp, 0, sizeof(*pp));
    pp->family = AF_UNSPEC;
    if (n == 0) {
        return PT_AGAIN;
    }
    /* the first byte tells the versions apart: 'P' or CR */
    if (p[0] == 'P') {
        m = n < V1_SIG_LEN ? n : V1_SIG_LEN;
        if (memcmp(p, V1_SIG, m) != 0) {
            return fail(pp, PT_PROXY_PROTOCOL_BROKEN, 0);
        }
        return n < V1_SIG_LEN ? PT_AGAIN : parse_v1(p, n, pp);
    }
    m = n < sizeof(v2_sig) ? n : sizeof(v2_sig);
    if (memcmp(p, v2_sig, m) != 0) {
        return fail(pp, PT_PROXY_PROTOCOL_BROKEN, 0);
    }
    return parse_v2(p, n, pp);
}

size_t
pt_proxy_protocol_addr_text(const pt_proxy_protocol_t *pp,
                            const u_char *addr, char *buf, size_t size)
{
    if (pp->family == AF_UNSPEC
        || inet_ntop(pp->family, addr, buf, (socklen_t) size) == NULL)
    {
        return 0;
    }
    return strlen(buf);
}
