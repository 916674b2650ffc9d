/*
 * The PROXY protocol header (haproxy's proxy-protocol.txt, v1 text and v2
 * binary) a load balancer sends before the client's bytes: a pure parser
 * over a byte range, no I/O, no allocation.
 */
#ifndef PT_PROXY_PROTOCOL_H
#define PT_PROXY_PROTOCOL_H

#include <stdint.h>

#include "common/pt_types.h"

/* The longest v1 line, "\r\n" included (the spec's and nginx's limit). */
#define PT_PROXY_PROTOCOL_V1_MAX_HEADER  107
/* The longest v2 header accepted, signature and TLVs included (nginx's
 * NGX_PROXY_PROTOCOL_MAX_HEADER); the caller's buffer may bound it more. */
#define PT_PROXY_PROTOCOL_MAX_HEADER     4096
#define PT_PROXY_PROTOCOL_V2_HEADER_LEN  16   /* signature..length */

/* Why a header was refused (pt_proxy_protocol_t.error). */
#define PT_PROXY_PROTOCOL_BROKEN     1   /* not a PROXY header, or a bad
                                            v1 line */
#define PT_PROXY_PROTOCOL_VERSION    2   /* v2 signature, version not 2 */
#define PT_PROXY_PROTOCOL_TOO_LARGE  3   /* v2 length over the limit */
#define PT_PROXY_PROTOCOL_COMMAND    4   /* v2 command not LOCAL/PROXY */
#define PT_PROXY_PROTOCOL_FAMILY     5   /* v2 family beyond UNIX */
#define PT_PROXY_PROTOCOL_TRANSPORT  6   /* v2 transport beyond DGRAM */
#define PT_PROXY_PROTOCOL_SHORT      7   /* v2 length below its addresses */
#define PT_PROXY_PROTOCOL_TLV        8   /* v2 TLV past the header's end */

typedef struct {
    size_t    len;           /* bytes of the header, to skip */
    int       version;       /* 1 or 2 */
    int       family;        /* AF_INET, AF_INET6, or AF_UNSPEC when the
                                header carries no address for us (v1
                                UNKNOWN, v2 LOCAL, UNSPEC, UNIX, DGRAM) */
    u_char    src[16];       /* network order: 4 bytes for AF_INET */
    u_char    dst[16];
    uint16_t  src_port;      /* host order */
    uint16_t  dst_port;
    int       error;         /* PT_PROXY_PROTOCOL_*, on PT_ERROR */
    unsigned  error_value;   /* the refused version, command... */
} pt_proxy_protocol_t;

/*
 * Parse the header at the start of [p, p + n). Returns PT_OK (*pp filled,
 * pp->len bytes form the header; what follows is the client's), PT_AGAIN
 * (a valid beginning: more bytes are needed), or PT_ERROR (pp->error says
 * why; nothing more can make it valid). The input is only read.
 */
int pt_proxy_protocol_parse(const u_char *p, size_t n,
                            pt_proxy_protocol_t *pp);

/* The text of an address of *pp (src or dst) into buf, at least 46 bytes:
 * its length, 0 for AF_UNSPEC. */
size_t pt_proxy_protocol_addr_text(const pt_proxy_protocol_t *pp,
                                   const u_char *addr, char *buf,
                                   size_t size);

#endif /* PT_PROXY_PROTOCOL_H */
