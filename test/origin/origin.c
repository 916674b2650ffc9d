/*
 * The load-test origin: a small single-process epoll HTTP/1.1 server for
 * the proxy's load tests, faster than a Python origin and, unlike nginx,
 * able to log every response it starts and finishes (which a test needs to
 * tell a failure the proxy could have retried from one it could not).
 *
 *   origin -p PORT [-a ADDR] [-l LOGFILE]
 *
 * Answers from memory, never from files, and discards request bodies
 * (Content-Length or chunked). The path picks the answer:
 *   /size/N      N body bytes (up to 64 GiB: streaming tests)
 *   /chunked/N   N body bytes in 16 KiB chunks (plain to HTTP/1.0)
 *   /status/NNN  that status with an empty body
 *   anything else  1 KiB
 * Every answer carries X-Origin-Conn (this connection's number, from 1)
 * and X-Origin-Request (the request's number on it): keep-alive reuse is
 * visible from the client. Log lines (O_APPEND, one write each):
 * "accept C", "start C R METHOD TARGET", "done C R", "close C".
 * SIGTERM or SIGINT: exits 0 after printing counters on stderr.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define HEAD_MAX    8192            /* request head: 431 and close beyond */
#define BLOCK       65536           /* body bytes come from this pattern */
#define CHUNK       16384           /* chunk size of /chunked/ answers */
#define BODY_MAX    (64ULL << 30)
#define DEFAULT_LEN 1024
#define MAX_EVENTS  256

enum { OK = 0, AGAIN = -2, DONE = 1, ERROR = -1 };
enum { BODY_NONE, BODY_LENGTH, BODY_CHUNKED };
/* chunked request body decoder states */
enum { CH_SIZE, CH_EXT, CH_DATA, CH_DATA_CR, CH_DATA_LF, CH_TRAILER,
       CH_TRAILER_LINE };

typedef struct {
    int                 fd;
    uint32_t            events;             /* registered with epoll */
    unsigned long       id;
    unsigned long       nreq;
    size_t              in_len;
    /* the request body being discarded */
    int                 body_mode;
    int                 ch_state;
    int                 ch_digits;
    unsigned long long  body_left;
    /* the response being sent */
    int                 pending;
    int                 close_after;
    int                 chunked;
    int                 need_crlf;
    size_t              head_len, head_off;
    size_t              chdr_len, chdr_off;
    size_t              crlf_off, last_off;
    unsigned long long  body_left_out;      /* payload not yet framed/sent */
    unsigned long long  chunk_left;         /* payload of the current chunk */
    char                chdr[24];
    char                head[384];
    char                in[HEAD_MAX];
} conn_t;

static char pattern[BLOCK];
static int log_fd = -1;
static int ep = -1;
static volatile sig_atomic_t stop;
static unsigned long n_conns, n_requests;

static void
log_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
log_line(const char *fmt, ...)
{
    char line[512];
    va_list ap;
    int n;

    if (log_fd < 0)
        return;
    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t) n > sizeof(line) - 2)
        n = sizeof(line) - 2;
    line[n++] = '\n';
    /* one write per line: lines from a crash-interrupted run stay whole */
    if (write(log_fd, line, n) != n)
        perror("origin: log write");
}

static void
on_signal(int sig)
{
    stop = 1;
}

/* Discards request body bytes from c->in: OK when some were consumed,
 * AGAIN when more are needed, ERROR on a malformed chunked body. */
static int
discard_length(conn_t *c)
{
    size_t take = c->in_len < c->body_left ? c->in_len : c->body_left;

    if (take == 0)
        return AGAIN;
    memmove(c->in, c->in + take, c->in_len - take);
    c->in_len -= take;
    c->body_left -= take;
    if (c->body_left == 0)
        c->body_mode = BODY_NONE;
    return OK;
}

static int
chunk_byte(conn_t *c, unsigned char ch)
{
    int d;

    switch (c->ch_state) {
    case CH_SIZE:
        d = (ch >= '0' && ch <= '9') ? ch - '0'
            : (ch >= 'a' && ch <= 'f') ? ch - 'a' + 10
            : (ch >= 'A' && ch <= 'F') ? ch - 'A' + 10 : -1;
        if (d >= 0) {
            if (++c->ch_digits > 15)
                return ERROR;
            c->body_left = c->body_left * 16 + d;
            return OK;
        }
        if (c->ch_digits == 0)
            return ERROR;
        c->ch_state = CH_EXT;
        /* fall through */
    case CH_EXT:
        if (ch == '\n')
            c->ch_state = c->body_left ? CH_DATA : CH_TRAILER;
        return OK;
    case CH_DATA_CR:
        c->ch_state = CH_DATA_LF;
        return ch == '\r' ? OK : ERROR;
    case CH_DATA_LF:
        c->ch_state = CH_SIZE;
        c->ch_digits = 0;
        return ch == '\n' ? OK : ERROR;
    case CH_TRAILER:                    /* at the start of a line */
        if (ch == '\n') {
            c->body_mode = BODY_NONE;
            return OK;
        }
        if (ch != '\r')
            c->ch_state = CH_TRAILER_LINE;
        return OK;
    default:                            /* CH_TRAILER_LINE */
        if (ch == '\n')
            c->ch_state = CH_TRAILER;
        return OK;
    }
}

static int
discard_chunked(conn_t *c)
{
    size_t i = 0, take;

    while (i < c->in_len && c->body_mode == BODY_CHUNKED) {
        if (c->ch_state == CH_DATA) {
            take = c->in_len - i < c->body_left ? c->in_len - i : c->body_left;
            i += take;
            c->body_left -= take;
            if (c->body_left == 0)
                c->ch_state = CH_DATA_CR;
            continue;
        }
        if (chunk_byte(c, (unsigned char) c->in[i++]) != OK)
            return ERROR;
    }
    if (i == 0)
        return AGAIN;
    memmove(c->in, c->in + i, c->in_len - i);
    c->in_len -= i;
    return OK;
}

static const char *
reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default:  return "Status";
    }
}

/* Sets up the response: status, payload length, framing, head bytes. */
static void
respond(conn_t *c, int status, unsigned long long len, int chunked,
        int head_only, const char *method, const char *target)
{
    char length[48] = "";
    int n;

    if (status == 204 || status == 304 || status < 200)
        len = 0, chunked = 0;
    else if (!chunked)
        snprintf(length, sizeof(length), "Content-Length: %llu\r\n", len);
    c->nreq++;
    n_requests++;
    /* at most about 250 bytes: the buffer cannot be too small */
    n = snprintf(c->head, sizeof(c->head),
                 "HTTP/1.1 %d %s\r\nServer: pt-origin\r\n"
                 "Content-Type: application/octet-stream\r\n"
                 "X-Origin-Conn: %lu\r\nX-Origin-Request: %lu\r\n%s%s%s\r\n",
                 status, reason(status), c->id, c->nreq, length,
                 chunked ? "Transfer-Encoding: chunked\r\n" : "",
                 c->close_after ? "Connection: close\r\n" : "");
    if (n < 0 || (size_t) n >= sizeof(c->head))
        n = 0;
    c->head_len = (size_t) n;
    c->head_off = 0;
    c->chunked = chunked && !head_only;
    c->body_left_out = head_only ? 0 : len;
    c->chunk_left = 0;
    c->need_crlf = 0;
    c->chdr_len = c->chdr_off = c->crlf_off = 0;
    c->last_off = c->chunked ? 0 : 5;
    c->pending = 1;
    log_line("start %lu %lu %s %.300s", c->id, c->nreq, method, target);
}

static unsigned long long
path_number(const char *target, const char *prefix, unsigned long long dflt)
{
    size_t plen = strlen(prefix);
    char *end;
    unsigned long long v;

    if (strncmp(target, prefix, plen) != 0)
        return dflt;
    errno = 0;
    v = strtoull(target + plen, &end, 10);
    if (errno || end == target + plen || (*end && *end != '?' && *end != '/'))
        return dflt;
    return v;
}

/* Reads the headers that matter here; ERROR on a malformed head. */
static int
parse_headers(conn_t *c, char *p, int *chunked_in, unsigned long long *clen)
{
    char *line, *colon, *v;

    for (line = p; *line; ) {
        char *eol = strstr(line, "\r\n");
        if (eol == NULL)
            return ERROR;
        *eol = '\0';
        colon = strchr(line, ':');
        if (colon == NULL)
            return ERROR;
        *colon = '\0';
        for (v = colon + 1; *v == ' ' || *v == '\t'; v++) { }
        if (strcasecmp(line, "content-length") == 0) {
            char *end;
            errno = 0;
            *clen = strtoull(v, &end, 10);
            if (errno || end == v || *clen > BODY_MAX)
                return ERROR;
        } else if (strcasecmp(line, "transfer-encoding") == 0) {
            *chunked_in = strcasestr(v, "chunked") != NULL;
        } else if (strcasecmp(line, "connection") == 0) {
            if (strcasestr(v, "close"))
                c->close_after = 1;
            else if (strcasestr(v, "keep-alive"))
                c->close_after = 0;
        }
        line = eol + 2;
    }
    return OK;
}

/* Parses one request head ending at c->in[end] (its CRLFCRLF included)
 * and sets up its response. */
static void
take_head(conn_t *c, size_t end)
{
    char *method, *target, *version, *sp;
    int chunked_in = 0, status = 200;
    unsigned long long clen = 0, len;
    char *headers;

    c->in[end - 2] = '\0';              /* the head, one string */
    method = c->in;
    headers = strstr(method, "\r\n");
    sp = strchr(method, ' ');
    target = sp ? sp + 1 : NULL;
    version = target ? strchr(target, ' ') : NULL;
    if (headers == NULL || sp == NULL || version == NULL || version > headers) {
        c->close_after = 1;
        respond(c, 400, 0, 0, 0, "-", "-");
        c->in_len = 0;
        return;
    }
    *sp = '\0';
    *version++ = '\0';
    *headers = '\0';
    c->close_after = strncmp(version, "HTTP/1.1", 8) != 0;
    if (parse_headers(c, headers + 2, &chunked_in, &clen) != OK) {
        c->close_after = 1;
        respond(c, 400, 0, 0, 0, method, target);
        c->in_len = 0;
        return;
    }
    len = DEFAULT_LEN;
    if (strncmp(target, "/status/", 8) == 0) {
        status = (int) path_number(target, "/status/", 200);
        if (status < 100 || status > 999)
            status = 400;
        len = 0;
    } else {
        len = path_number(target, "/size/",
                          path_number(target, "/chunked/", DEFAULT_LEN));
        if (len > BODY_MAX)
            len = DEFAULT_LEN;
    }
    respond(c, status, len,
            strncmp(target, "/chunked/", 9) == 0 && !c->close_after,
            strcmp(method, "HEAD") == 0, method, target);
    c->body_mode = chunked_in ? BODY_CHUNKED : clen ? BODY_LENGTH : BODY_NONE;
    c->body_left = chunked_in ? 0 : clen;
    c->ch_state = CH_SIZE;
    c->ch_digits = 0;
    memmove(c->in, c->in + end, c->in_len - end);
    c->in_len -= end;
}

/* Discards body bytes or takes the next head: OK when something was
 * done, AGAIN when more bytes are needed, ERROR to close. */
static int
consume(conn_t *c)
{
    char *e;

    if (c->body_mode == BODY_LENGTH)
        return discard_length(c);
    if (c->body_mode == BODY_CHUNKED)
        return discard_chunked(c);
    e = memmem(c->in, c->in_len, "\r\n\r\n", 4);
    if (e == NULL) {
        if (c->in_len < sizeof(c->in))
            return AGAIN;
        c->close_after = 1;
        respond(c, 431, 0, 0, 0, "-", "-");
        c->in_len = 0;
        return OK;
    }
    take_head(c, (size_t) (e - c->in) + 4);
    return OK;
}

/* The response's parts in order, as iovecs; returns their number. */
static int
build_iov(conn_t *c, struct iovec *iov)
{
    int n = 0;
    size_t len;

    if (c->chunked && c->chunk_left == 0 && !c->need_crlf
        && c->body_left_out > 0)
    {
        c->chunk_left = c->body_left_out < CHUNK ? c->body_left_out : CHUNK;
        c->body_left_out -= c->chunk_left;
        c->chdr_len = (size_t) snprintf(c->chdr, sizeof(c->chdr), "%llx\r\n",
                                        c->chunk_left);
        c->chdr_off = 0;
        c->need_crlf = 1;
        c->crlf_off = 0;
    }
    if (c->head_off < c->head_len)
        iov[n++] = (struct iovec) { c->head + c->head_off,
                                    c->head_len - c->head_off };
    if (c->chunked) {
        if (c->chdr_off < c->chdr_len)
            iov[n++] = (struct iovec) { c->chdr + c->chdr_off,
                                        c->chdr_len - c->chdr_off };
        if (c->chunk_left)
            iov[n++] = (struct iovec) { pattern, c->chunk_left };
        if (c->need_crlf)
            iov[n++] = (struct iovec) { (char *) "\r\n" + c->crlf_off,
                                        2 - c->crlf_off };
        if (c->body_left_out == 0 && c->last_off < 5)
            iov[n++] = (struct iovec) { (char *) "0\r\n\r\n" + c->last_off,
                                        5 - c->last_off };
    } else if (c->body_left_out) {
        len = c->body_left_out < BLOCK ? c->body_left_out : BLOCK;
        iov[n++] = (struct iovec) { pattern, len };
    }
    return n;
}

static size_t
take(size_t *w, size_t have)
{
    size_t t = *w < have ? *w : have;

    *w -= t;
    return t;
}

/* Advances over w written bytes, in build_iov's order. */
static void
advance(conn_t *c, size_t w)
{
    c->head_off += take(&w, c->head_len - c->head_off);
    if (!c->chunked) {
        c->body_left_out -= take(&w, c->body_left_out);
        return;
    }
    c->chdr_off += take(&w, c->chdr_len - c->chdr_off);
    c->chunk_left -= take(&w, c->chunk_left);
    if (c->need_crlf && c->chunk_left == 0) {
        c->crlf_off += take(&w, 2 - c->crlf_off);
        c->need_crlf = c->crlf_off < 2;
    }
    if (!c->need_crlf && c->body_left_out == 0 && c->chunk_left == 0)
        c->last_off += take(&w, 5 - c->last_off);
}

/* Sends the pending response: OK when it is all sent, AGAIN when the
 * socket is full, ERROR. */
static int
send_response(conn_t *c)
{
    struct iovec iov[5];
    ssize_t w;
    int n;

    for (;;) {
        n = build_iov(c, iov);
        if (n == 0)
            break;
        w = writev(c->fd, iov, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                return AGAIN;
            return ERROR;
        }
        advance(c, (size_t) w);
    }
    c->pending = 0;
    log_line("done %lu %lu", c->id, c->nreq);
    return OK;
}

/* Level-triggered: EPOLLIN while reading, EPOLLOUT alone while a response
 * waits for room (so unread requests do not wake us in a loop). */
static int
want(conn_t *c, uint32_t events)
{
    struct epoll_event ev;

    if (c->events == events)
        return OK;
    ev.events = events;
    ev.data.ptr = c;
    if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) != 0) {
        perror("origin: epoll_ctl");
        return ERROR;
    }
    c->events = events;
    return OK;
}

/* Everything the connection can do now, with at most one recv (epoll
 * reports what is left): OK to wait for the next event, DONE or ERROR to
 * close it. */
static int
conn_progress(conn_t *c)
{
    int rc, have_read = 0;
    ssize_t n;

    for (;;) {
        if (c->pending) {
            rc = send_response(c);
            if (rc == AGAIN)
                return want(c, EPOLLOUT);
            if (rc != OK)
                return ERROR;
            if (c->close_after)
                return DONE;
            if (want(c, EPOLLIN) != OK)
                return ERROR;
            continue;
        }
        rc = consume(c);
        if (rc == ERROR)
            return ERROR;
        if (rc == OK)
            continue;
        if (have_read)
            return OK;
        n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, 0);
        if (n > 0) {
            c->in_len += (size_t) n;
            have_read = 1;
            continue;
        }
        if (n == 0)
            return DONE;
        if (errno == EINTR)
            continue;
        return errno == EAGAIN ? OK : ERROR;
    }
}

static void
conn_close(conn_t *c)
{
    log_line("close %lu", c->id);
    if (close(c->fd) != 0)
        perror("origin: close");
    free(c);
}

static void
accept_all(int lfd)
{
    struct epoll_event ev;
    conn_t *c;
    int fd, one = 1;

    for (;;) {
        fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                perror("origin: accept4");
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            return;
        }
        if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0)
            perror("origin: TCP_NODELAY");
        c = calloc(1, sizeof(*c));       /* freed by conn_close */
        if (c == NULL) {
            perror("origin: calloc");
            if (close(fd) != 0)
                perror("origin: close");
            continue;
        }
        c->fd = fd;
        c->id = ++n_conns;
        log_line("accept %lu", c->id);
        c->events = ev.events = EPOLLIN;
        ev.data.ptr = c;
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
            perror("origin: epoll_ctl");
            conn_close(c);
        }
    }
}

static int
listen_on(const char *addr, int port)
{
    struct sockaddr_in sin;
    int fd, one = 1;

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((unsigned short) port);
    if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1) {
        fprintf(stderr, "origin: bad address %s\n", addr);
        return -1;
    }
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        perror("origin: socket");
        return -1;
    }
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0
        || bind(fd, (struct sockaddr *) &sin, sizeof(sin)) != 0
        || listen(fd, 4096) != 0)
    {
        perror("origin: bind/listen");
        if (close(fd) != 0)
            perror("origin: close");
        return -1;
    }
    return fd;
}

static int
serve(int lfd)
{
    struct epoll_event ev, events[MAX_EVENTS];
    int n, i, rc;

    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) {
        perror("origin: epoll_create1");
        return 1;
    }
    ev.events = EPOLLIN;
    ev.data.ptr = NULL;                 /* NULL: the listening socket */
    if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) != 0) {
        perror("origin: epoll_ctl");
        return 1;
    }
    while (!stop) {
        n = epoll_wait(ep, events, MAX_EVENTS, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("origin: epoll_wait");
            return 1;
        }
        for (i = 0; i < n; i++) {
            conn_t *c = events[i].data.ptr;
            if (c == NULL) {
                accept_all(lfd);
                continue;
            }
            rc = conn_progress(c);
            if (rc != OK)
                conn_close(c);          /* close() also leaves the epoll set */
        }
    }
    fprintf(stderr, "origin: %lu connections, %lu requests\n",
            n_conns, n_requests);
    return 0;
}

int
main(int argc, char **argv)
{
    const char *addr = "127.0.0.1", *logfile = NULL;
    struct sigaction sa;
    int port = 0, opt, lfd;
    size_t i;

    while ((opt = getopt(argc, argv, "a:p:l:")) != -1) {
        switch (opt) {
        case 'a': addr = optarg; break;
        case 'p': port = atoi(optarg); break;
        case 'l': logfile = optarg; break;
        default:
            fprintf(stderr, "usage: origin -p PORT [-a ADDR] [-l LOGFILE]\n");
            return 2;
        }
    }
    if (port <= 0 || port > 65535) {
        fprintf(stderr, "usage: origin -p PORT [-a ADDR] [-l LOGFILE]\n");
        return 2;
    }
    for (i = 0; i < sizeof(pattern); i++)
        pattern[i] = "0123456789abcdefghijklmnopqrstuvwxyz\n"[i % 37];
    if (logfile) {
        log_fd = open(logfile, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (log_fd < 0) {
            perror(logfile);
            return 1;
        }
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0
        || signal(SIGPIPE, SIG_IGN) == SIG_ERR)
    {
        perror("origin: sigaction");
        return 1;
    }
    lfd = listen_on(addr, port);
    if (lfd < 0)
        return 1;
    return serve(lfd);
}
