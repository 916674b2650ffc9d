/*
 * DNS message encoding and decoding (RFC 1035) for the resolver. The
 * packet is untrusted: each read is bounds-checked, compression pointers
 * may only go backwards, and every loop has a fixed bound.
 */
#include <string.h>

#include "common/str.h"
#include "dns.h"

#define FLAG_QR  0x8000
#define FLAG_TC  0x0200
#define FLAG_RD  0x0100

static uint16_t
get16(const u_char *p)
{
    return (uint16_t) (p[0] << 8 | p[1]);
}

static uint32_t
get32(const u_char *p)
{
    return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16
           | (uint32_t) p[2] << 8 | p[3];
}

static u_char *
put16(u_char *p, uint16_t v)
{
    *p++ = (u_char) (v >> 8);
    *p++ = (u_char) v;
    return p;
}

ssize_t
pt_dns_encode_name(const u_char *name, size_t len, u_char *out)
{
    size_t i, n = 0, label = 0;

    if (len > 0 && name[len - 1] == '.') {
        len--;
    }
    if (len == 0 || len + 2 > PT_DNS_WIRE_MAX) {
        return PT_ERROR;
    }

    /* out[label] is the length byte of the label being copied */
    for (i = 0; i <= len; i++) {
        if (i == len || name[i] == '.') {
            if (n == label || n - label > 63) {
                return PT_ERROR;
            }
            out[label] = (u_char) (n - label);
            label = ++n;
            continue;
        }
        if (name[i] <= 0x20 || name[i] == 0x7f) {
            return PT_ERROR;
        }
        out[++n] = pt_tolower(name[i]);
    }
    out[n] = 0;
    return (ssize_t) n + 1;
}

size_t
pt_dns_build_query(u_char *buf, uint16_t id, const u_char *wire,
                   size_t wlen, uint16_t qtype)
{
    u_char *p = buf;

    p = put16(p, id);
    p = put16(p, FLAG_RD);
    p = put16(p, 1);              /* one question */
    memset(p, 0, 6);              /* no answer, authority, additional */
    p += 6;
    memcpy(p, wire, wlen);
    p += wlen;
    p = put16(p, qtype);
    p = put16(p, PT_DNS_CLASS_IN);
    return (size_t) (p - buf);
}

ssize_t
pt_dns_read_name(const u_char *pkt, size_t len, size_t *off, u_char *out)
{
    size_t pos = *off, limit = *off, end = 0, n = 0, i;
    int    jumped = 0;
    u_char c;

    /* Each pointer must land before the part of the name that held it,
     * so `limit` only decreases and the walk ends within len steps. */
    for (;;) {
        if (pos >= len) {
            return PT_ERROR;
        }
        c = pkt[pos];

        if (c == 0) {
            out[n++] = 0;
            if (!jumped) {
                end = pos + 1;
            }
            break;
        }

        if ((c & 0xc0) == 0xc0) {
            if (pos + 1 >= len) {
                return PT_ERROR;
            }
            if (!jumped) {
                end = pos + 2;
                jumped = 1;
            }
            pos = (size_t) (c & 0x3f) << 8 | pkt[pos + 1];
            if (pos >= limit) {
                return PT_ERROR;
            }
            limit = pos;
            continue;
        }

        if (c & 0xc0) {
            return PT_ERROR;      /* extended label types: not for us */
        }
        if (pos + 1 + c > len || n + 1 + c + 1 > PT_DNS_WIRE_MAX) {
            return PT_ERROR;
        }
        out[n++] = c;
        for (i = 1; i <= c; i++) {
            out[n++] = pt_tolower(pkt[pos + i]);
        }
        pos += 1 + c;
    }

    *off = end;
    return (ssize_t) n;
}

/* One resource record's fixed part, its rdata at rdata..rdata+rdlen. */
typedef struct {
    u_char    owner[PT_DNS_WIRE_MAX];
    size_t    olen;
    uint16_t  type;
    uint16_t  class;
    uint32_t  ttl;
    size_t    rdata;
    uint16_t  rdlen;
} rr_t;

/* Read the record at *off; PT_ERROR if it does not fit. */
static int
read_rr(const u_char *pkt, size_t len, size_t *off, rr_t *rr)
{
    ssize_t n;
    size_t  p = *off;

    n = pt_dns_read_name(pkt, len, &p, rr->owner);
    if (n == PT_ERROR || p + 10 > len) {
        return PT_ERROR;
    }
    rr->olen = (size_t) n;
    rr->type = get16(pkt + p);
    rr->class = get16(pkt + p + 2);
    rr->ttl = get32(pkt + p + 4);
    if (rr->ttl & 0x80000000) {
        rr->ttl = 0;              /* RFC 2181 8: read as zero */
    }
    rr->rdlen = get16(pkt + p + 8);
    rr->rdata = p + 10;
    if (rr->rdata + rr->rdlen > len) {
        return PT_ERROR;
    }
    *off = rr->rdata + rr->rdlen;
    return PT_OK;
}

typedef struct {
    const u_char    *pkt;
    size_t           len;
    size_t           answers;     /* offset of the answer section */
    pt_uint_t        ancount;     /* records there that fit */
    uint16_t         qtype;
    pt_dns_answer_t *ans;
} parse_t;

/* Scan the answer records owned by `name`: take the addresses of qtype,
 * and copy a CNAME's target into `name` when there are none. Returns 1
 * when a CNAME was followed, 0 otherwise, PT_ERROR if malformed. */
static int
scan_answers(parse_t *ps, u_char *name, size_t *nlen, uint32_t *ttl)
{
    pt_dns_answer_t *ans = ps->ans;
    size_t           off = ps->answers, t, alen;
    u_char           target[PT_DNS_WIRE_MAX];
    ssize_t          tlen = -1;
    uint32_t         cname_ttl = 0;
    pt_uint_t        i;
    rr_t             rr;

    alen = ps->qtype == PT_DNS_TYPE_A ? 4 : 16;

    for (i = 0; i < ps->ancount; i++) {
        if (read_rr(ps->pkt, ps->len, &off, &rr) != PT_OK) {
            return PT_ERROR;      /* counted as fitting before: cannot */
        }
        if (rr.olen != *nlen || memcmp(rr.owner, name, *nlen) != 0
            || rr.class != PT_DNS_CLASS_IN)
        {
            continue;
        }
        if (rr.type == ps->qtype && rr.rdlen == alen) {
            if (ans->naddrs < PT_DNS_MAX_ADDRS) {
                memcpy(ans->addrs[ans->naddrs++], ps->pkt + rr.rdata, alen);
            }
            *ttl = pt_min(*ttl, rr.ttl);
        } else if (rr.type == PT_DNS_TYPE_CNAME && tlen == -1) {
            t = rr.rdata;
            tlen = pt_dns_read_name(ps->pkt, rr.rdata + rr.rdlen, &t, target);
            if (tlen == PT_ERROR || t != rr.rdata + rr.rdlen) {
                return PT_ERROR;
            }
            cname_ttl = rr.ttl;
        }
    }

    if (ans->naddrs > 0 || tlen == -1) {
        return 0;
    }
    memcpy(name, target, (size_t) tlen);
    *nlen = (size_t) tlen;
    *ttl = pt_min(*ttl, cname_ttl);
    return 1;
}

/* The SOA of a negative answer: min(its TTL, its MINIMUM) (RFC 2308 5). */
static void
read_soa(parse_t *ps, size_t off, pt_uint_t nscount)
{
    u_char   tmp[PT_DNS_WIRE_MAX];
    size_t   p;
    pt_uint_t i;
    rr_t     rr;

    for (i = 0; i < nscount && i < PT_DNS_MAX_RECORDS; i++) {
        if (read_rr(ps->pkt, ps->len, &off, &rr) != PT_OK) {
            return;
        }
        if (rr.type != PT_DNS_TYPE_SOA || rr.class != PT_DNS_CLASS_IN) {
            continue;
        }
        p = rr.rdata;
        if (pt_dns_read_name(ps->pkt, rr.rdata + rr.rdlen, &p, tmp)
                == PT_ERROR
            || pt_dns_read_name(ps->pkt, rr.rdata + rr.rdlen, &p, tmp)
                == PT_ERROR
            || p + 20 != (size_t) rr.rdata + rr.rdlen)
        {
            return;
        }
        ps->ans->neg_ttl = pt_min(rr.ttl, get32(ps->pkt + p + 16));
        return;
    }
}

/* Check the header and the question; on PT_OK *off is past the question. */
static int
check_question(const u_char *pkt, size_t len, uint16_t id,
               const u_char *wire, size_t wlen, uint16_t qtype, size_t *off)
{
    u_char  name[PT_DNS_WIRE_MAX];
    ssize_t n;
    size_t  p = PT_DNS_HEADER_LEN;

    if (len < PT_DNS_HEADER_LEN) {
        return PT_ERROR;
    }
    if (get16(pkt) != id || !(get16(pkt + 2) & FLAG_QR)) {
        return PT_DECLINED;
    }
    if (get16(pkt + 4) != 1) {
        return PT_ERROR;          /* no question to check it against */
    }

    n = pt_dns_read_name(pkt, len, &p, name);
    if (n == PT_ERROR || p + 4 > len) {
        return PT_ERROR;
    }
    if ((size_t) n != wlen || memcmp(name, wire, wlen) != 0
        || get16(pkt + p) != qtype || get16(pkt + p + 2) != PT_DNS_CLASS_IN)
    {
        return PT_DECLINED;
    }
    *off = p + 4;
    return PT_OK;
}

int
pt_dns_parse_response(const u_char *pkt, size_t len, uint16_t id,
                      const u_char *wire, size_t wlen, uint16_t qtype,
                      pt_dns_answer_t *ans)
{
    parse_t   ps;
    u_char    name[PT_DNS_WIRE_MAX];
    size_t    off, nlen;
    uint32_t  ttl = PT_DNS_NO_TTL;
    pt_uint_t ancount, nscount, i;
    uint16_t  flags;
    int       rc;

    memset(ans, 0, offsetof(pt_dns_answer_t, addrs));
    ans->ttl = PT_DNS_NO_TTL;
    ans->neg_ttl = PT_DNS_NO_TTL;

    rc = check_question(pkt, len, id, wire, wlen, qtype, &off);
    if (rc != PT_OK) {
        return rc;
    }

    flags = get16(pkt + 2);
    ans->rcode = flags & 0x0f;
    ans->truncated = (flags & FLAG_TC) != 0;
    ancount = pt_min(get16(pkt + 6), PT_DNS_MAX_RECORDS);
    nscount = get16(pkt + 8);

    ps.pkt = pkt;
    ps.len = len;
    ps.answers = off;
    ps.qtype = qtype;
    ps.ans = ans;

    /* Count the answer records that fit: a truncated response keeps the
     * whole ones; otherwise one that does not fit spoils the packet. */
    for (i = 0; i < ancount; i++) {
        rr_t rr;

        if (read_rr(pkt, len, &off, &rr) != PT_OK) {
            if (!ans->truncated) {
                return PT_ERROR;
            }
            break;
        }
    }
    ps.ancount = i;

    if (ans->rcode == 0) {
        memcpy(name, wire, wlen);
        nlen = wlen;
        for (i = 0; i <= PT_DNS_MAX_CNAMES; i++) {
            rc = scan_answers(&ps, name, &nlen, &ttl);
            if (rc != 1) {
                break;
            }
        }
        if (rc == PT_ERROR) {
            return PT_ERROR;
        }
    }
    if (ans->naddrs > 0) {
        ans->ttl = ttl;
    } else if (ps.ancount == ancount) {
        /* the authority section follows every answer record */
        read_soa(&ps, off, nscount);
    }
    return PT_OK;
}
