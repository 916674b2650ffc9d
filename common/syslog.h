/*
 * Logging to syslog: the "syslog:server=...,facility=...,severity=...,
 * tag=...,nohostname" target of error_log and access_log, RFC 3164-style
 * messages "<PRI>Mmm dd hh:mm:ss HOSTNAME TAG: MSG" over datagrams.
 */
#ifndef PT_SYSLOG_H
#define PT_SYSLOG_H

#include "inet.h"
#include "pt_types.h"
#include "str.h"

#define PT_SYSLOG_MAX_TAG   32
#define PT_SYSLOG_DEF_PORT  514

/* One syslog target. Lives in the configuration pool; each process opens
 * its own socket on its first message. */
typedef struct {
    pt_addr_t        server;
    pt_str_t         server_text;   /* as written, for messages */
    pt_str_t         tag;           /* default "portico" */
    const pt_str_t  *hostname;      /* the cycle's */
    pt_uint_t        facility;      /* default local7 (23) */
    pt_uint_t        severity;      /* access logs; default info (6) */
    int              fd;            /* -1: not connected (yet, or again) */
    unsigned         nohostname:1;
    unsigned         busy:1;        /* a message is being sent */
} pt_syslog_peer_t;

/* Parse `text`, the part of a log target after "syslog:", into a peer
 * allocated from cf->pool (its socket is closed with that pool). Errors
 * are logged with nginx's wording and the directive's file:line. Returns
 * the peer or NULL. */
pt_syslog_peer_t *pt_syslog_parse(pt_conf_t *cf, const pt_str_t *text);

/* 1 when `name` is a syslog target ("syslog:..."). */
int pt_syslog_is_target(const pt_str_t *name);

/* The most bytes pt_syslog_add_header writes for this peer. */
size_t pt_syslog_header_len(const pt_syslog_peer_t *peer);

/* Write "<PRI>TIMESTAMP HOSTNAME TAG: " (no HOSTNAME with nohostname) at
 * buf for `severity` (0-7); returns the end. */
u_char *pt_syslog_add_header(const pt_syslog_peer_t *peer, u_char *buf,
                             pt_uint_t severity);

/* Send one message (header included) as one datagram, connecting first
 * if needed; never blocks. Returns PT_OK, or PT_ERROR when it was dropped
 * (the socket is closed so that the next message reconnects). */
int pt_syslog_send(pt_syslog_peer_t *peer, const u_char *buf, size_t len);

/* Error log writer (pt_log_t.writer, wdata the peer): the error log line
 * becomes the message, its level the severity. */
void pt_syslog_writer(pt_log_t *log, pt_uint_t level, u_char *buf,
                      size_t len);

/* error_log syslog:...: parse `name` and make `log` write to it. PT_OK or
 * PT_ERROR (logged). */
int pt_syslog_error_log(pt_conf_t *cf, pt_log_t *log, const pt_str_t *name);

#endif /* PT_SYSLOG_H */
