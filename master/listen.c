/*
 * Listening sockets: bind, adopt across reload and binary upgrade, and the
 * reuseport steering program. Worker i polls the socket of slot i; the BPF
 * program sends new connections only to slots below the worker count.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/inet.h"
#include "common/log.h"
#include "common/pool.h"
#include "listen.h"
#include "pt_auto.h"

int
pt_listen_expand_reuseport(pt_cycle_t *cycle, pt_uint_t workers)
{
    pt_listening_t *ls, *clone;
    pt_uint_t       i, n = cycle->listening.nelts, w;

    for (i = 0; i < n; i++) {
        ls = (pt_listening_t *) cycle->listening.elts + i;
        if (!ls->reuseport || ls->worker != -1) {
            continue;
        }
        ls->worker = 0;
        for (w = 1; w < workers; w++) {
            clone = pt_array_push(&cycle->listening);
            if (clone == NULL) {
                return PT_ERROR;
            }
            /* push may have moved the array */
            ls = (pt_listening_t *) cycle->listening.elts + i;
            *clone = *ls;
            clone->worker = (int) w;
        }
    }
    return PT_OK;
}

static int
same_socket(pt_listening_t *a, pt_listening_t *b)
{
    return a->reuseport == b->reuseport
           && pt_inet_addr_eq((struct sockaddr *) &a->sockaddr, a->socklen,
                              (struct sockaddr *) &b->sockaddr, b->socklen);
}

static int
set_opt(pt_listening_t *ls, int level, int name, int value, const char *what)
{
    if (setsockopt(ls->fd, level, name, &value, sizeof(value)) == -1) {
        pt_log_error(PT_LOG_EMERG, NULL, errno, "setsockopt(%s) %.*s failed",
                     what, (int) ls->addr_text.len, ls->addr_text.data);
        return PT_ERROR;
    }
    return PT_OK;
}

/* Options applied once the socket is bound and listening. */
static void
set_listen_options(pt_listening_t *ls, pt_log_t *log)
{
    int v;

    if (ls->sockaddr.ss_family == AF_UNIX) {
        return;
    }
#ifdef PT_HAVE_DEFERRED_ACCEPT
    if (ls->deferred) {
        v = 1;
        if (setsockopt(ls->fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &v, sizeof(v))) {
            pt_log_error(PT_LOG_ALERT, log, errno,
                         "setsockopt(TCP_DEFER_ACCEPT) for %.*s failed, "
                         "ignored", (int) ls->addr_text.len,
                         ls->addr_text.data);
        }
    }
#endif
#ifdef PT_HAVE_TCP_FASTOPEN
    if (ls->fastopen > 0) {
        v = ls->fastopen;
        if (setsockopt(ls->fd, IPPROTO_TCP, TCP_FASTOPEN, &v, sizeof(v))) {
            pt_log_error(PT_LOG_ALERT, log, errno,
                         "setsockopt(TCP_FASTOPEN) %.*s failed, ignored",
                         (int) ls->addr_text.len, ls->addr_text.data);
        }
    }
#endif
    if (ls->keepalive) {
        v = ls->keepalive == 1;
        if (setsockopt(ls->fd, SOL_SOCKET, SO_KEEPALIVE, &v, sizeof(v))) {
            pt_log_error(PT_LOG_ALERT, log, errno,
                         "setsockopt(SO_KEEPALIVE) %.*s failed, ignored",
                         (int) ls->addr_text.len, ls->addr_text.data);
        }
        if (ls->keepidle > 0) {
            (void) setsockopt(ls->fd, IPPROTO_TCP, TCP_KEEPIDLE,
                              &ls->keepidle, sizeof(int));
        }
        if (ls->keepintvl > 0) {
            (void) setsockopt(ls->fd, IPPROTO_TCP, TCP_KEEPINTVL,
                              &ls->keepintvl, sizeof(int));
        }
        if (ls->keepcnt > 0) {
            (void) setsockopt(ls->fd, IPPROTO_TCP, TCP_KEEPCNT,
                              &ls->keepcnt, sizeof(int));
        }
    }
}

/* bind() with nginx's retries: a socket of a dying process may still hold
 * the address for a moment. */
static int
bind_retry(pt_listening_t *ls, pt_log_t *log)
{
    int tries;

    for (tries = 0; tries < 5; tries++) {
        if (bind(ls->fd, (struct sockaddr *) &ls->sockaddr, ls->socklen) == 0)
        {
            return PT_OK;
        }
        pt_log_error(PT_LOG_EMERG, log, errno, "bind() to %.*s failed",
                     (int) ls->addr_text.len, ls->addr_text.data);
        if (errno != EADDRINUSE) {
            return PT_ERROR;
        }
        usleep(500 * 1000);
    }
    pt_log_error(PT_LOG_EMERG, log, 0, "still could not bind()");
    return PT_ERROR;
}

static int
open_one(pt_listening_t *ls, pt_log_t *log)
{
    int family = ls->sockaddr.ss_family;

    ls->fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (ls->fd == -1) {
        pt_log_error(PT_LOG_EMERG, log, errno, "socket() %.*s failed",
                     (int) ls->addr_text.len, ls->addr_text.data);
        return PT_ERROR;
    }

    if (family != AF_UNIX
        && set_opt(ls, SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR") != PT_OK)
    {
        goto failed;
    }
    if (ls->reuseport
        && set_opt(ls, SOL_SOCKET, SO_REUSEPORT, 1, "SO_REUSEPORT") != PT_OK)
    {
        goto failed;
    }
    if (family == AF_INET6
        && set_opt(ls, IPPROTO_IPV6, IPV6_V6ONLY, ls->ipv6only != 0,
                   "IPV6_V6ONLY") != PT_OK)
    {
        goto failed;
    }
    if (ls->rcvbuf > 0
        && set_opt(ls, SOL_SOCKET, SO_RCVBUF, ls->rcvbuf, "SO_RCVBUF") != PT_OK)
    {
        goto failed;
    }
    if (ls->sndbuf > 0
        && set_opt(ls, SOL_SOCKET, SO_SNDBUF, ls->sndbuf, "SO_SNDBUF") != PT_OK)
    {
        goto failed;
    }

    if (family == AF_UNIX) {
        struct sockaddr_un *sun = (struct sockaddr_un *) &ls->sockaddr;

        /* a stale socket file from an earlier run would fail bind() */
        if (unlink(sun->sun_path) == -1 && errno != ENOENT) {
            pt_log_error(PT_LOG_EMERG, log, errno, "unlink() \"%s\" failed",
                         sun->sun_path);
        }
    }

    if (bind_retry(ls, log) != PT_OK) {
        goto failed;
    }
    if (family == AF_UNIX) {
        struct sockaddr_un *sun = (struct sockaddr_un *) &ls->sockaddr;

        /* workers run unprivileged and clients may too: as nginx */
        if (chmod(sun->sun_path, 0666) == -1) {
            pt_log_error(PT_LOG_EMERG, log, errno, "chmod() \"%s\" failed",
                         sun->sun_path);
            goto failed;
        }
    }
    if (listen(ls->fd, ls->backlog) == -1) {
        pt_log_error(PT_LOG_EMERG, log, errno, "listen() to %.*s, backlog %d "
                     "failed", (int) ls->addr_text.len, ls->addr_text.data,
                     ls->backlog);
        goto failed;
    }
    set_listen_options(ls, log);
    return PT_OK;

failed:
    close(ls->fd);
    ls->fd = -1;
    return PT_ERROR;
}

/* The old entry of the same address and reuseport slot, not yet taken. */
static pt_listening_t *
find_old(pt_array_t *old, pt_listening_t *ls)
{
    pt_listening_t *o;
    pt_uint_t       i;

    if (old == NULL) {
        return NULL;
    }
    o = old->elts;
    for (i = 0; i < old->nelts; i++) {
        if (o[i].fd != -1 && !o[i].remain && same_socket(&o[i], ls)
            && o[i].worker == ls->worker)
        {
            return &o[i];
        }
    }
    return NULL;
}

/* Install "pick a random slot below n" on a reuseport group. The group's
 * slot order is the order its sockets called listen(), which is ours. */
static void
attach_steering(pt_listening_t *ls, pt_uint_t n, pt_log_t *log)
{
#ifdef PT_HAVE_REUSEPORT_CBPF
    struct sock_filter code[] = {
        { BPF_LD | BPF_W | BPF_ABS, 0, 0, (uint32_t) (SKF_AD_OFF + SKF_AD_RANDOM) },
        { BPF_ALU | BPF_MOD | BPF_K, 0, 0, (uint32_t) n },
        { BPF_RET | BPF_A, 0, 0, 0 },
    };
    struct sock_fprog prog = { pt_nelems(code), code };

    if (setsockopt(ls->fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog,
                   sizeof(prog)) == -1)
    {
        pt_log_error(PT_LOG_ALERT, log, errno,
                     "setsockopt(SO_ATTACH_REUSEPORT_CBPF) %.*s failed, "
                     "ignored", (int) ls->addr_text.len, ls->addr_text.data);
    }
#endif
}

/* Old reuseport sockets of slots >= workers whose address stays: keep them
 * as draining entries so the new workers accept what is queued on them. */
static int
keep_surplus(pt_cycle_t *cycle, pt_array_t *old, pt_uint_t workers)
{
    pt_listening_t *o, *ls, *first, *d;
    pt_uint_t       i, j, n;

    if (old == NULL) {
        return PT_OK;
    }
    o = old->elts;
    n = cycle->listening.nelts;
    for (i = 0; i < old->nelts; i++) {
        if (o[i].fd == -1 || o[i].remain || !o[i].reuseport
            || o[i].worker < (int) workers)
        {
            continue;
        }
        first = NULL;
        for (j = 0; j < n; j++) {
            ls = (pt_listening_t *) cycle->listening.elts + j;
            if (ls->worker == 0 && same_socket(ls, &o[i])) {
                first = ls;
                break;
            }
        }
        if (first == NULL) {
            continue;
        }
        d = pt_array_push(&cycle->listening);
        if (d == NULL) {
            return PT_ERROR;
        }
        first = (pt_listening_t *) cycle->listening.elts + j;
        *d = *first;
        d->fd = o[i].fd;
        d->worker = o[i].worker % (int) workers;
        d->draining = 1;
        d->previous = &o[i];
        o[i].remain = 1;
    }
    return PT_OK;
}

int
pt_listen_open(pt_cycle_t *cycle, pt_array_t *old, pt_uint_t workers)
{
    pt_listening_t *ls, *prev;
    pt_uint_t       i;

    for (i = 0; i < cycle->listening.nelts; i++) {
        ls = (pt_listening_t *) cycle->listening.elts + i;
        prev = find_old(old, ls);
        if (prev != NULL) {
            ls->fd = prev->fd;
            ls->previous = prev;
            prev->remain = 1;
            if (ls->backlog != prev->backlog
                && listen(ls->fd, ls->backlog) == -1)
            {
                pt_log_error(PT_LOG_ALERT, cycle->log, errno,
                             "listen() to %.*s, backlog %d failed, ignored",
                             (int) ls->addr_text.len, ls->addr_text.data,
                             ls->backlog);
            }
            continue;
        }
        if (open_one(ls, cycle->log) != PT_OK) {
            return PT_ERROR;
        }
    }

    if (keep_surplus(cycle, old, workers) != PT_OK) {
        return PT_ERROR;
    }

    for (i = 0; i < cycle->listening.nelts; i++) {
        ls = (pt_listening_t *) cycle->listening.elts + i;
        if (ls->reuseport && ls->worker == 0 && !ls->draining) {
            attach_steering(ls, workers, cycle->log);
        }
    }
    return PT_OK;
}

void
pt_listen_close_new(pt_cycle_t *cycle)
{
    pt_listening_t *ls = cycle->listening.elts;
    pt_uint_t       i;

    for (i = 0; i < cycle->listening.nelts; i++) {
        if (ls[i].fd != -1 && ls[i].previous == NULL) {
            close(ls[i].fd);
        }
        if (ls[i].previous != NULL) {
            ls[i].previous->remain = 0;
        }
        ls[i].fd = -1;
    }
}

static void
close_socket(pt_listening_t *ls, pt_log_t *log, int unlink_path)
{
    if (close(ls->fd) == -1) {
        pt_log_error(PT_LOG_ALERT, log, errno, "close() socket %.*s failed",
                     (int) ls->addr_text.len, ls->addr_text.data);
    }
    if (unlink_path && ls->sockaddr.ss_family == AF_UNIX && !ls->inherited) {
        struct sockaddr_un *sun = (struct sockaddr_un *) &ls->sockaddr;

        (void) unlink(sun->sun_path);
    }
    ls->fd = -1;
}

void
pt_listen_close_unused(pt_array_t *old)
{
    pt_listening_t *o;
    pt_uint_t       i;

    if (old == NULL) {
        return;
    }
    o = old->elts;
    for (i = 0; i < old->nelts; i++) {
        if (o[i].fd != -1 && !o[i].remain) {
            close_socket(&o[i], NULL, 1);
        }
    }
}

void
pt_listen_close_all(pt_cycle_t *cycle, int unlink_paths)
{
    pt_listening_t *ls = cycle->listening.elts;
    pt_uint_t       i;

    for (i = 0; i < cycle->listening.nelts; i++) {
        if (ls[i].fd != -1) {
            close_socket(&ls[i], cycle->log, unlink_paths);
        }
    }
}

void
pt_listen_close_draining(pt_cycle_t *cycle)
{
    pt_listening_t *ls = cycle->listening.elts;
    pt_uint_t       i;

    for (i = 0; i < cycle->listening.nelts; i++) {
        if (ls[i].draining && ls[i].fd != -1) {
            if (close(ls[i].fd) == -1) {
                pt_log_error(PT_LOG_ALERT, cycle->log, errno,
                             "close() draining socket failed");
            }
            ls[i].fd = -1;
        }
    }
}

static int inherited_taken;

int
pt_listen_inherited(pt_cycle_t *cycle, pt_array_t *out)
{
    const char     *env = getenv(PT_LISTEN_ENV);
    char           *end;
    long            fd;
    pt_listening_t *ls, *o;
    pt_uint_t       i;
    int             v;
    socklen_t       vlen;
    char            text[PT_SOCKADDR_STRLEN];

    if (env == NULL || *env == '\0' || inherited_taken) {
        return PT_DECLINED;
    }
    /* once only: the variable stays in environ (unsetenv would drop the
     * string we own), and the upgrade builds its own environment */
    inherited_taken = 1;
    pt_log_error(PT_LOG_NOTICE, cycle->log, 0, "using inherited sockets "
                 "from \"%s\"", env);

    while (*env != '\0') {
        fd = strtol(env, &end, 10);
        if (end == env || (*end != ';' && *end != '\0') || fd < 0
            || fd > 1 << 20)
        {
            pt_log_error(PT_LOG_EMERG, cycle->log, 0, "invalid socket "
                         "number \"%s\" in " PT_LISTEN_ENV " environment "
                         "variable, ignoring the rest of the variable", env);
            break;
        }
        env = *end == ';' ? end + 1 : end;

        ls = pt_array_push(out);
        if (ls == NULL) {
            return PT_ERROR;
        }
        memset(ls, 0, sizeof(*ls));
        ls->fd = (int) fd;
        ls->inherited = 1;
        ls->socklen = sizeof(ls->sockaddr);
        if (getsockname(ls->fd, (struct sockaddr *) &ls->sockaddr,
                        &ls->socklen) == -1)
        {
            pt_log_error(PT_LOG_CRIT, cycle->log, errno,
                         "getsockname() of the inherited socket #%ld failed",
                         fd);
            out->nelts--;
            continue;
        }
        vlen = sizeof(v);
        if (getsockopt(ls->fd, SOL_SOCKET, SO_REUSEPORT, &v, &vlen) == 0) {
            ls->reuseport = v != 0;
        }
        ls->backlog = -1;
        /* the socket stays close-on-exec in this process from now on */
        if (fcntl(ls->fd, F_SETFD, FD_CLOEXEC) == -1) {
            pt_log_error(PT_LOG_ALERT, cycle->log, errno,
                         "fcntl(FD_CLOEXEC) of socket #%ld failed", fd);
        }
        ls->addr_text.len = pt_inet_text((struct sockaddr *) &ls->sockaddr,
                                         ls->socklen, text, sizeof(text));
        ls->addr_text.data = pt_pnalloc(cycle->pool, ls->addr_text.len + 1);
        if (ls->addr_text.data == NULL) {
            return PT_ERROR;
        }
        memcpy(ls->addr_text.data, text, ls->addr_text.len + 1);

        /* The reuseport slot is the position among the same address, as
         * the old master listed them in slot order. */
        ls->worker = ls->reuseport ? 0 : -1;
        o = out->elts;
        for (i = 0; i + 1 < out->nelts; i++) {
            if (ls->reuseport && same_socket(&o[i], ls)) {
                ls->worker++;
            }
        }
    }

    return PT_OK;
}

char *
pt_listen_env(pt_cycle_t *cycle)
{
    pt_listening_t *ls = cycle->listening.elts;
    pt_uint_t       i;
    size_t          size = sizeof(PT_LISTEN_ENV "=");
    char           *env, *p;
    int             flags;

    size += cycle->listening.nelts * (PT_INT64_LEN + 1);
    env = pt_pnalloc(cycle->pool, size);
    if (env == NULL) {
        return NULL;
    }
    p = env + sprintf(env, PT_LISTEN_ENV "=");

    /* slot order per address is preserved: expand_reuseport keeps slots
     * of one address in ascending order */
    for (i = 0; i < cycle->listening.nelts; i++) {
        if (ls[i].fd == -1 || ls[i].draining) {
            continue;
        }
        flags = fcntl(ls[i].fd, F_GETFD);
        if (flags == -1 || fcntl(ls[i].fd, F_SETFD, flags & ~FD_CLOEXEC) == -1)
        {
            pt_log_error(PT_LOG_ALERT, cycle->log, errno,
                         "fcntl(F_SETFD) of %.*s failed",
                         (int) ls[i].addr_text.len, ls[i].addr_text.data);
            return NULL;
        }
        p += sprintf(p, "%d;", ls[i].fd);
    }
    return env;
}
