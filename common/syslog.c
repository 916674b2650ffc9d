/*
 * Syslog targets: parsing of the "syslog:" parameters, the RFC 3164-style
 * header, and the per-process datagram socket (non-blocking; a message
 * that cannot be sent is dropped, never retried or queued).
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "cycle.h"
#include "log.h"
#include "pool.h"
#include "syslog.h"
#include "time.h"

static const char *facilities[] = {
    "kern", "user", "mail", "daemon", "auth", "intern", "lpr", "news", "uucp",
    "clock", "authpriv", "ftp", "ntp", "audit", "alert", "cron", "local0",
    "local1", "local2", "local3", "local4", "local5", "local6", "local7",
    NULL
};

/* RFC 3164 severities under nginx's error_log level names. */
static const char *severities[] = {
    "emerg", "alert", "crit", "error", "warn", "notice", "info", "debug", NULL
};

static const char *months[] = {
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
    "Nov", "Dec"
};

#define TIMESTAMP_LEN (sizeof("Jan 01 00:00:00") - 1)

int
pt_syslog_is_target(const pt_str_t *name)
{
    return name->len >= 7 && memcmp(name->data, "syslog:", 7) == 0;
}

static void
close_peer(void *data)
{
    pt_syslog_peer_t *peer = data;

    if (peer->fd != -1) {
        (void) close(peer->fd);
        peer->fd = -1;
    }
}

static int
lookup(const char **names, const u_char *p, size_t len)
{
    int i;

    for (i = 0; names[i] != NULL; i++) {
        if (strlen(names[i]) == len && memcmp(names[i], p, len) == 0) {
            return i;
        }
    }
    return -1;
}

/* server=ADDR[:PORT]: port 514 unless given; [v6] and unix:/path too. */
static int
parse_server(pt_conf_t *cf, pt_syslog_peer_t *peer, u_char *p, size_t len)
{
    pt_str_t     text = { len, p }, full;
    const char  *err;
    u_char      *rb;
    int          has_port;

    if (len >= 5 && memcmp(p, "unix:", 5) == 0) {
        has_port = 1;   /* none to add */
    } else if (len > 0 && p[0] == '[') {
        rb = memchr(p, ']', len);
        if (rb == NULL) {
            pt_conf_log_error(PT_LOG_EMERG, cf, 0, "invalid host in syslog "
                              "server \"%.*s\"", (int) len, p);
            return PT_ERROR;
        }
        has_port = rb + 1 < p + len;
    } else {
        has_port = memchr(p, ':', len) != NULL;
    }
    if (len == 0) {
        pt_conf_log_error(PT_LOG_EMERG, cf, 0,
                          "no host in syslog server \"\"");
        return PT_ERROR;
    }

    full = text;
    if (!has_port) {
        full.data = pt_pnalloc(cf->pool, len + sizeof(":514"));
        if (full.data == NULL) {
            return PT_ERROR;
        }
        full.len = (size_t) (pt_slprintf(full.data, full.data + len + 5,
                                         "%.*s:%d", (int) len, p,
                                         PT_SYSLOG_DEF_PORT) - full.data);
    }
    if (pt_inet_parse_listen(&full, &peer->server, &err) != PT_OK) {
        pt_conf_log_error(PT_LOG_EMERG, cf, 0, "%s in syslog server \"%.*s\"",
                          err, (int) len, p);
        return PT_ERROR;
    }
    peer->server_text.data = pt_pstrdup(cf->pool, &text);
    peer->server_text.len = len;
    return peer->server_text.data != NULL ? PT_OK : PT_ERROR;
}

/* tag=: RFC 3164 allows up to 32 alphanumerics; nginx adds "_". */
static int
parse_tag(pt_conf_t *cf, pt_syslog_peer_t *peer, u_char *p, size_t len)
{
    size_t  i;
    u_char  c;

    if (len > PT_SYSLOG_MAX_TAG) {
        pt_conf_log_error(PT_LOG_EMERG, cf, 0, "syslog tag length exceeds 32");
        return PT_ERROR;
    }
    for (i = 0; i < len; i++) {
        c = pt_tolower(p[i]);
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '_')) {
            pt_conf_log_error(PT_LOG_EMERG, cf, 0, "syslog \"tag\" only allows "
                              "alphanumeric characters and underscore");
            return PT_ERROR;
        }
    }
    peer->tag.data = p;
    peer->tag.len = len;
    return PT_OK;
}

#define DUPLICATE(what)                                                       \
    do {                                                                      \
        pt_conf_log_error(PT_LOG_EMERG, cf, 0,                                \
                          "duplicate syslog \"" what "\"");                   \
        return NULL;                                                          \
    } while (0)

pt_syslog_peer_t *
pt_syslog_parse(pt_conf_t *cf, const pt_str_t *text)
{
    pt_syslog_peer_t   *peer;
    pt_pool_cleanup_t  *cln;
    u_char             *p, *end, *comma;
    size_t              len;
    int                 i, have_fac = 0, have_sev = 0;

    peer = pt_pcalloc(cf->pool, sizeof(pt_syslog_peer_t));
    cln = pt_pool_cleanup_add(cf->pool, 0);
    if (peer == NULL || cln == NULL) {
        return NULL;
    }
    peer->fd = -1;
    peer->facility = 23;    /* local7 */
    peer->severity = 6;     /* info */
    peer->hostname = &cf->cycle->hostname;
    cln->handler = close_peer;
    cln->data = peer;

    p = text->data;
    end = text->data + text->len;
    do {
        comma = memchr(p, ',', (size_t) (end - p));
        len = (size_t) ((comma ? comma : end) - p);

        if (len >= 7 && memcmp(p, "server=", 7) == 0) {
            if (peer->server.socklen != 0) {
                DUPLICATE("server");
            }
            if (parse_server(cf, peer, p + 7, len - 7) != PT_OK) {
                return NULL;
            }
        } else if (len >= 9 && memcmp(p, "facility=", 9) == 0) {
            if (have_fac++) {
                DUPLICATE("facility");
            }
            i = lookup(facilities, p + 9, len - 9);
            if (i < 0) {
                pt_conf_log_error(PT_LOG_EMERG, cf, 0, "unknown syslog "
                                  "facility \"%.*s\"", (int) (end - p - 9),
                                  p + 9);
                return NULL;
            }
            peer->facility = (pt_uint_t) i;
        } else if (len >= 9 && memcmp(p, "severity=", 9) == 0) {
            if (have_sev++) {
                DUPLICATE("severity");
            }
            i = lookup(severities, p + 9, len - 9);
            if (i < 0) {
                pt_conf_log_error(PT_LOG_EMERG, cf, 0, "unknown syslog "
                                  "severity \"%.*s\"", (int) (end - p - 9),
                                  p + 9);
                return NULL;
            }
            peer->severity = (pt_uint_t) i;
        } else if (len >= 4 && memcmp(p, "tag=", 4) == 0) {
            if (peer->tag.data != NULL) {
                DUPLICATE("tag");
            }
            if (parse_tag(cf, peer, p + 4, len - 4) != PT_OK) {
                return NULL;
            }
        } else if (len == 10 && memcmp(p, "nohostname", 10) == 0) {
            peer->nohostname = 1;
        } else {
            pt_conf_log_error(PT_LOG_EMERG, cf, 0, "unknown syslog parameter "
                              "\"%.*s\"", (int) (end - p), p);
            return NULL;
        }
        p = comma + 1;
    } while (comma != NULL);

    if (peer->server.socklen == 0) {
        pt_conf_log_error(PT_LOG_EMERG, cf, 0, "no syslog server specified");
        return NULL;
    }
    if (peer->tag.data == NULL) {
        pt_str_set(&peer->tag, "portico");
    }
    return peer;
}

size_t
pt_syslog_header_len(const pt_syslog_peer_t *peer)
{
    return sizeof("<191>") - 1 + TIMESTAMP_LEN + 1
           + (peer->nohostname ? 0 : peer->hostname->len + 1)
           + peer->tag.len + 2;
}

/* "Mmm dd hh:mm:ss" in local time, day space-padded (RFC 3164); formatted
 * once per second. */
static const u_char *
timestamp(void)
{
    static u_char  buf[TIMESTAMP_LEN + 1];
    static time_t  formatted = -1;
    struct tm      tm;
    time_t         now;

    if (pt_time_sec == 0) {
        pt_time_update();
    }
    now = pt_time_sec;
    if (now != formatted) {
        localtime_r(&now, &tm);
        (void) pt_slprintf(buf, buf + sizeof(buf), "%s %2d %02d:%02d:%02d",
                           months[tm.tm_mon], tm.tm_mday, tm.tm_hour,
                           tm.tm_min, tm.tm_sec);
        formatted = now;
    }
    return buf;
}

u_char *
pt_syslog_add_header(const pt_syslog_peer_t *peer, u_char *buf,
                     pt_uint_t severity)
{
    u_char *end = buf + pt_syslog_header_len(peer) + 1;

    if (peer->nohostname) {
        return pt_slprintf(buf, end, "<%lu>%s %.*s: ",
                           (unsigned long) (peer->facility * 8 + severity),
                           timestamp(), (int) peer->tag.len, peer->tag.data);
    }
    return pt_slprintf(buf, end, "<%lu>%s %.*s %.*s: ",
                       (unsigned long) (peer->facility * 8 + severity),
                       timestamp(), (int) peer->hostname->len,
                       peer->hostname->data, (int) peer->tag.len,
                       peer->tag.data);
}

/* A connected datagram socket: the kernel then reports ICMP errors on
 * later sends, and each send names no address. */
static int
connect_peer(pt_syslog_peer_t *peer)
{
    int fd;

    fd = socket(peer->server.sockaddr.ss_family,
                SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd == -1) {
        return PT_ERROR;
    }
    if (connect(fd, (struct sockaddr *) &peer->server.sockaddr,
                peer->server.socklen) == -1)
    {
        (void) close(fd);
        return PT_ERROR;
    }
    peer->fd = fd;
    return PT_OK;
}

int
pt_syslog_send(pt_syslog_peer_t *peer, const u_char *buf, size_t len)
{
    ssize_t n;

    if (peer->fd == -1 && connect_peer(peer) != PT_OK) {
        return PT_ERROR;
    }
    do {
        n = send(peer->fd, buf, len, MSG_NOSIGNAL);
    } while (n == -1 && errno == EINTR);

    if (n == (ssize_t) len) {
        return PT_OK;
    }
    /* EAGAIN (a full socket buffer) drops just this message; any other
     * error (a refused port, a vanished unix socket) reconnects next time */
    if (n == -1 && errno != EAGAIN) {
        close_peer(peer);
    }
    return PT_ERROR;
}

void
pt_syslog_writer(pt_log_t *log, pt_uint_t level, u_char *buf, size_t len)
{
    pt_syslog_peer_t *peer = log->wdata;
    u_char            msg[PT_MAX_ERROR_STR + 512], *p;
    size_t            room;

    if (peer->busy) {
        return;   /* a message about this very peer */
    }
    peer->busy = 1;
    p = pt_syslog_add_header(peer, msg, level > 0 ? level - 1 : 0);
    room = sizeof(msg) - (size_t) (p - msg);
    len = pt_min(len, room);
    memcpy(p, buf, len);
    (void) pt_syslog_send(peer, msg, (size_t) (p - msg) + len);
    peer->busy = 0;
}

int
pt_syslog_error_log(pt_conf_t *cf, pt_log_t *log, const pt_str_t *name)
{
    pt_str_t          args;
    pt_syslog_peer_t *peer;

    args.data = name->data + 7;
    args.len = name->len - 7;
    peer = pt_syslog_parse(cf, &args);
    if (peer == NULL) {
        return PT_ERROR;
    }
    log->writer = pt_syslog_writer;
    log->wdata = peer;
    log->file = NULL;
    log->fd = -1;
    return PT_OK;
}
