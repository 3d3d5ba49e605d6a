/*
 * server: the event loop of the postseal daemons.  One process, one thread,
 * epoll, non-blocking sockets; the protocol is plugged in through the
 * callbacks of struct server_proto (feed bytes in, answers out), so the policy
 * daemon and the socketmap daemon share everything below the protocol.
 *
 * Contract and limits: every connection has a bounded input buffer (in_max) and
 * a bounded output buffer; a peer that does not read its answers is no longer
 * read from (back-pressure) and is dropped after request_timeout.  A started
 * request must complete within request_timeout (slow or stalled peers are
 * dropped, the others are never blocked), an idle connection is closed after
 * idle_timeout, and at most max_conns are served at once.  When accept()
 * fails for lack of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM)
 * the listeners rest for a second instead of spinning on the pending peer.  Whatever goes wrong
 * with one peer (protocol error, reset, timeout, limit) ends that connection
 * only, with one log line naming the peer and the reason.  SIGHUP calls the
 * reload hook between events; SIGTERM/SIGINT end server_run(); SIGPIPE is
 * ignored.  Listen strings are parsed only by server_endpoint_parse().
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "server.h"

#define SERVER_OUT_MAX (64 * 1024)
#define SERVER_READ_CHUNK (4 * 1024) /* with SERVER_KEEP: no malloc per request */
#define SERVER_KEEP (16 * 1024)      /* input memory kept by an idle connection */
#define SERVER_MAX_LISTEN 8

struct server_conn {
    int fd;
    int out_fd; /* == fd except in stdio mode */
    void *ctx;
    struct buf in;
    struct buf out;
    time_t last;      /* last activity */
    time_t partial;   /* when the pending request started, 0: none */
    time_t out_since; /* when unsent output started waiting, 0: none */
    unsigned events;  /* epoll events registered */
    char peer[64];
    struct server_conn *prev, *next;
};

struct server_listener {
    int fd;
    int is_unix;
    char path[108];
};

struct server {
    struct server_proto proto;
    void *app;
    struct server_limits lim;
    void (*reload)(void *app);
    int ep;
    struct server_listener lis[SERVER_MAX_LISTEN];
    int nlis;
    struct server_conn *conns;
    int nconns;
    time_t last_refuse_log;
    time_t accept_paused_until; /* listeners unwatched until then (EMFILE) */
};

static volatile sig_atomic_t server_got_hup;
static volatile sig_atomic_t server_got_term;

static void server_on_signal(int sig)
{
    if (sig == SIGHUP)
        server_got_hup = 1;
    else
        server_got_term = 1;
}

static void server_signals(sigset_t *blocked, sigset_t *during_wait)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    sa.sa_handler = server_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigemptyset(blocked);
    sigaddset(blocked, SIGHUP);
    sigaddset(blocked, SIGTERM);
    sigaddset(blocked, SIGINT);
    sigprocmask(SIG_BLOCK, blocked, during_wait);
    sigdelset(during_wait, SIGHUP);
    sigdelset(during_wait, SIGTERM);
    sigdelset(during_wait, SIGINT);
}

int server_endpoint_parse(const char *spec, struct server_endpoint *ep, char *err, size_t errlen)
{
    const char *hp;
    const char *colon;
    const char *port;
    size_t hlen;
    long pn;
    char *end;

    memset(ep, 0, sizeof(*ep));
    if (strncmp(spec, "unix:", 5) == 0) {
        if (spec[5] == 0 || strlen(spec + 5) >= sizeof(ep->path)) {
            snprintf(err, errlen, "\"%s\": unix socket path empty or longer than %zu bytes", spec,
                     sizeof(ep->path) - 1);
            return -1;
        }
        ep->is_unix = 1;
        strcpy(ep->path, spec + 5);
        return 0;
    }
    if (strncmp(spec, "inet:", 5) != 0) {
        snprintf(err, errlen, "\"%s\": expected unix:PATH or inet:HOST:PORT", spec);
        return -1;
    }
    hp = spec + 5;
    if (*hp == '[') {
        const char *rb = strchr(hp, ']');

        if (rb == NULL || rb[1] != ':') {
            snprintf(err, errlen, "\"%s\": expected inet:[IPV6]:PORT", spec);
            return -1;
        }
        hlen = (size_t)(rb - hp - 1);
        hp++;
        port = rb + 2;
    } else if ((colon = strrchr(hp, ':')) != NULL) {
        hlen = (size_t)(colon - hp);
        port = colon + 1;
    } else {
        hlen = 0;
        port = hp;
    }
    if (hlen >= sizeof(ep->host)) {
        snprintf(err, errlen, "\"%s\": host name too long", spec);
        return -1;
    }
    memcpy(ep->host, hp, hlen);
    ep->host[hlen] = 0;
    if (hlen == 0)
        strcpy(ep->host, "127.0.0.1"); /* TCP defaults to loopback */
    errno = 0;
    pn = strtol(port, &end, 10);
    if (*port < '0' || *port > '9' || *end != 0 || errno || pn < 1 || pn > 65535) {
        snprintf(err, errlen, "\"%s\": port must be a number 1..65535", spec);
        return -1;
    }
    snprintf(ep->port, sizeof(ep->port), "%ld", pn);
    return 0;
}

struct server *server_new(const struct server_proto *proto, void *app,
                          const struct server_limits *lim)
{
    struct server *srv = calloc(1, sizeof(*srv));

    if (srv == NULL)
        return NULL;
    srv->proto = *proto;
    srv->app = app;
    srv->lim = *lim;
    if ((srv->ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
        free(srv);
        return NULL;
    }
    return srv;
}

void server_set_limits(struct server *srv, const struct server_limits *lim)
{
    srv->lim = *lim;
}

void server_set_reload(struct server *srv, void (*reload)(void *app))
{
    srv->reload = reload;
}

static int server_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static int server_bind_unix(const struct server_endpoint *ep, int mode, char *err, size_t errlen)
{
    struct sockaddr_un sun;
    struct stat st;
    int fd;

    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    strcpy(sun.sun_path, ep->path);
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
        goto fail;
    if (lstat(ep->path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            snprintf(err, errlen, "unix:%s exists and is not a socket", ep->path);
            close(fd);
            return -1;
        }
        if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
            snprintf(err, errlen, "unix:%s: another server is listening there", ep->path);
            close(fd);
            return -1;
        }
        close(fd);
        unlink(ep->path); /* stale */
        if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
            goto fail;
    }
    if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || chmod(ep->path, (mode_t)mode) < 0 ||
        listen(fd, 256) < 0)
        goto fail;
    return fd;
fail:
    snprintf(err, errlen, "unix:%s: %s", ep->path, strerror(errno));
    if (fd >= 0)
        close(fd);
    return -1;
}

static int server_bind_inet(const struct server_endpoint *ep, char *err, size_t errlen)
{
    struct addrinfo hints;
    struct addrinfo *res;
    int fd;
    int one = 1;
    int rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    if ((rc = getaddrinfo(ep->host, ep->port, &hints, &res)) != 0) {
        snprintf(err, errlen, "inet:%s:%s: %s", ep->host, ep->port, gai_strerror(rc));
        return -1;
    }
    fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 256) < 0) {
        snprintf(err, errlen, "inet:%s:%s: %s", ep->host, ep->port, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(res);
        return -1;
    }
    freeaddrinfo(res);
    return fd;
}

void server_make_socket_dir(const char *spec)
{
    char dir[256];
    char *slash;

    if (strncmp(spec, "unix:", 5) != 0)
        return;
    snprintf(dir, sizeof(dir), "%s", spec + 5);
    if ((slash = strrchr(dir, '/')) == NULL || slash == dir)
        return;
    *slash = 0;
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        log_warn("mkdir %s", dir);
}

int server_listen(struct server *srv, const char *spec, int mode, char *err, size_t errlen)
{
    struct server_endpoint ep;
    struct server_listener *l;
    struct epoll_event ev;
    int fd;

    if (srv->nlis == SERVER_MAX_LISTEN) {
        snprintf(err, errlen, "too many listeners (at most %d)", SERVER_MAX_LISTEN);
        return -1;
    }
    if (server_endpoint_parse(spec, &ep, err, errlen) < 0)
        return -1;
    fd = ep.is_unix ? server_bind_unix(&ep, mode, err, errlen) : server_bind_inet(&ep, err, errlen);
    if (fd < 0)
        return -1;
    server_nonblock(fd);
    l = &srv->lis[srv->nlis];
    l->fd = fd;
    l->is_unix = ep.is_unix;
    strcpy(l->path, ep.path);
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    ev.data.ptr = l;
    if (epoll_ctl(srv->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
        snprintf(err, errlen, "%s: epoll: %s", spec, strerror(errno));
        close(fd);
        return -1;
    }
    srv->nlis++;
    return 0;
}

static void server_close_conn(struct server *srv, struct server_conn *c, const char *reason)
{
    if (srv->proto.close)
        srv->proto.close(c->ctx, reason);
    if (c->fd >= 0) {
        epoll_ctl(srv->ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
    }
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    srv->nconns--;
    buf_free(&c->in);
    buf_free(&c->out);
    free(c);
}

/* Watches (EPOLLIN) or unwatches (0) every listener. */
static void server_watch_listeners(struct server *srv, unsigned events)
{
    struct epoll_event ev;
    int i;

    for (i = 0; i < srv->nlis; i++) {
        memset(&ev, 0, sizeof(ev));
        ev.events = events;
        ev.data.ptr = &srv->lis[i];
        epoll_ctl(srv->ep, EPOLL_CTL_MOD, srv->lis[i].fd, &ev);
    }
}

/* accept() failed for lack of descriptors or memory: the pending connection
 * keeps the listener readable, so stop watching the listeners for a second
 * instead of spinning on it (the connections we serve go on). */
static void server_pause_accept(struct server *srv, time_t now)
{
    log_warn("accept (not accepting new connections for 1 s)");
    server_watch_listeners(srv, 0);
    srv->accept_paused_until = now + 1;
}

static void server_accept(struct server *srv, struct server_listener *l, time_t now)
{
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t slen = sizeof(ss);
        struct server_conn *c;
        struct epoll_event ev;
        int fd = accept4(l->fd, (struct sockaddr *)&ss, &slen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        char host[INET6_ADDRSTRLEN];

        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                server_pause_accept(srv, now);
            else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                log_warn("accept");
            return;
        }
        if (srv->nconns >= srv->lim.max_conns) {
            if (now != srv->last_refuse_log) {
                log_warnx("too many connections (max_connections %d): closing new ones",
                          srv->lim.max_conns);
                srv->last_refuse_log = now;
            }
            close(fd);
            continue;
        }
        if ((c = calloc(1, sizeof(*c))) == NULL) {
            log_warnx("out of memory: closing a new connection");
            close(fd);
            continue;
        }
        c->fd = c->out_fd = fd;
        buf_init(&c->in, srv->proto.in_max);
        buf_init(&c->out, SERVER_OUT_MAX);
        c->last = now;
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

            inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
            snprintf(c->peer, sizeof(c->peer), "%s:%d", host, ntohs(sin->sin_port));
        } else if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

            inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
            snprintf(c->peer, sizeof(c->peer), "[%s]:%d", host, ntohs(sin6->sin6_port));
        } else {
            snprintf(c->peer, sizeof(c->peer), "unix");
        }
        if ((c->ctx = srv->proto.open(srv->app, c->peer)) == NULL) {
            close(fd);
            free(c);
            continue;
        }
        c->next = srv->conns;
        if (srv->conns)
            srv->conns->prev = c;
        srv->conns = c;
        srv->nconns++;
        memset(&ev, 0, sizeof(ev));
        ev.events = c->events = EPOLLIN;
        ev.data.ptr = c;
        if (epoll_ctl(srv->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
            log_warn("epoll_ctl");
            server_close_conn(srv, c, "cannot watch connection");
        }
    }
}

/* Feeds pending input to the protocol; -1 when the connection must go. */
static int server_process(struct server *srv, struct server_conn *c)
{
    while (c->in.len > 0 && c->out.len + srv->proto.answer_max <= c->out.max) {
        ssize_t used = srv->proto.feed(c->ctx, c->in.data, c->in.len, &c->out);

        if (used < 0)
            return -1;
        if (used == 0)
            break;
        buf_consume(&c->in, (size_t)used);
        c->partial = 0; /* progress: the pending rest starts its own clock */
    }
    return 0;
}

/* Writes what it can; -1 on a write error. */
static int server_flush(struct server_conn *c, time_t now)
{
    while (c->out.len > 0) {
        ssize_t n = write(c->out_fd, c->out.data, c->out.len);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            return -1;
        }
        buf_consume(&c->out, (size_t)n);
    }
    if (c->out.len == 0)
        c->out_since = 0;
    else if (c->out_since == 0)
        c->out_since = now;
    return 0;
}

static void server_update(struct server *srv, struct server_conn *c, time_t now)
{
    unsigned want = 0;

    if (c->in.len == 0) {
        c->partial = 0;
        buf_shrink(&c->in, SERVER_KEEP);
    } else if (c->partial == 0) {
        c->partial = now;
    }
    if (c->out.len + srv->proto.answer_max <= c->out.max)
        want |= EPOLLIN; /* else back-pressure: read again once answers left */
    if (c->out.len > 0)
        want |= EPOLLOUT;
    if (want != c->events && c->fd >= 0) {
        struct epoll_event ev;

        memset(&ev, 0, sizeof(ev));
        ev.events = want;
        ev.data.ptr = c;
        if (epoll_ctl(srv->ep, EPOLL_CTL_MOD, c->fd, &ev) == 0)
            c->events = want;
    }
}

/* Alternates answering and writing until the connection needs input or the
 * peer must read first; -1 when the connection must go (why says why). */
static int server_pump(struct server *srv, struct server_conn *c, time_t now, const char **why)
{
    for (;;) {
        size_t before;

        if (server_flush(c, now) < 0) {
            *why = "write error";
            return -1;
        }
        if (c->in.len == 0 || c->out.len + srv->proto.answer_max > c->out.max)
            return 0;
        before = c->in.len;
        if (server_process(srv, c) < 0) {
            *why = "protocol error";
            return -1;
        }
        if (c->in.len == before) { /* needs more input */
            if (server_flush(c, now) < 0) {
                *why = "write error";
                return -1;
            }
            return 0;
        }
    }
}

/* One readiness event on a connection; returns -1 after closing it. */
static int server_conn_event(struct server *srv, struct server_conn *c, unsigned events, time_t now)
{
    const char *why = NULL;

    if (events & EPOLLIN) {
        size_t room;
        ssize_t n;

        if (c->in.len >= c->in.max) {
            server_close_conn(srv, c, "input limit reached");
            return -1;
        }
        room = c->in.max - c->in.len;
        if (room > SERVER_READ_CHUNK)
            room = SERVER_READ_CHUNK;
        if (buf_reserve(&c->in, room) < 0) {
            server_close_conn(srv, c, "out of memory");
            return -1;
        }
        n = read(c->fd, c->in.data + c->in.len, buf_room(&c->in));
        if (n == 0) {
            server_close_conn(srv, c, c->in.len ? "peer closed the connection mid-request" : NULL);
            return -1;
        }
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                char text[128];

                snprintf(text, sizeof(text), "read error: %s", strerror(errno));
                server_close_conn(srv, c, text);
                return -1;
            }
        } else {
            buf_commit(&c->in, (size_t)n);
            c->last = now;
        }
    } else if ((events & (EPOLLHUP | EPOLLERR)) && !(events & EPOLLOUT)) {
        server_close_conn(srv, c, c->in.len ? "peer closed the connection mid-request" : NULL);
        return -1;
    }
    if (server_pump(srv, c, now, &why) < 0) {
        server_close_conn(srv, c, why);
        return -1;
    }
    server_update(srv, c, now);
    return 0;
}

static void server_timeouts(struct server *srv, time_t now)
{
    struct server_conn *c = srv->conns;

    while (c != NULL) {
        struct server_conn *next = c->next;

        if (c->out_since && now - c->out_since >= srv->lim.request_timeout)
            server_close_conn(srv, c, "timeout: peer does not read its answers");
        else if (c->partial && now - c->partial >= srv->lim.request_timeout)
            server_close_conn(srv, c, "timeout: request not completed in time (slow client)");
        else if (!c->partial && !c->out_since && now - c->last >= srv->lim.idle_timeout)
            server_close_conn(srv, c, "idle timeout");
        c = next;
    }
}

int server_run(struct server *srv)
{
    struct epoll_event evs[64];
    sigset_t blocked;
    sigset_t during;
    time_t last_scan = 0;

    server_signals(&blocked, &during);
    while (!server_got_term) {
        int n;
        int i;
        int due;
        time_t now;

        due = log_flush_due(); /* buffered log lines go out within 20 ms */
        n = epoll_pwait(srv->ep, evs, 64, due >= 0 && due < 1000 ? due + 1 : 1000, &during);
        if (n < 0 && errno != EINTR) {
            log_warn("epoll_wait");
            sleep(1);
        }
        now = time(NULL);
        for (i = 0; i < n; i++) {
            void *p = evs[i].data.ptr;
            int j;

            for (j = 0; j < srv->nlis; j++)
                if (p == &srv->lis[j])
                    break;
            if (j < srv->nlis)
                server_accept(srv, &srv->lis[j], now);
            else
                server_conn_event(srv, p, evs[i].events, now);
        }
        if (server_got_hup) {
            server_got_hup = 0;
            if (srv->reload)
                srv->reload(srv->app);
        }
        if (srv->accept_paused_until != 0 && now >= srv->accept_paused_until) {
            srv->accept_paused_until = 0;
            server_watch_listeners(srv, EPOLLIN);
        }
        if (now != last_scan) {
            server_timeouts(srv, now);
            last_scan = now;
        }
    }
    sigprocmask(SIG_SETMASK, &during, NULL);
    return 0;
}

int server_run_stdio(struct server *srv, int in_fd, int out_fd)
{
    struct server_conn *c;
    sigset_t blocked;
    sigset_t during;
    int rc = -1;
    const char *why = NULL;

    server_signals(&blocked, &during);
    sigprocmask(SIG_SETMASK, &during, NULL); /* poll() below is simply interrupted */
    if ((c = calloc(1, sizeof(*c))) == NULL)
        return -1;
    c->fd = -1;
    c->out_fd = out_fd;
    buf_init(&c->in, srv->proto.in_max);
    buf_init(&c->out, SERVER_OUT_MAX);
    snprintf(c->peer, sizeof(c->peer), "stdio");
    if ((c->ctx = srv->proto.open(srv->app, c->peer)) == NULL) {
        free(c);
        return -1;
    }
    c->next = NULL;
    srv->conns = c;
    srv->nconns = 1;
    c->last = time(NULL);
    while (!server_got_term) {
        struct pollfd pfd = {in_fd, POLLIN, 0};
        int timeout = c->in.len ? srv->lim.request_timeout : srv->lim.idle_timeout;
        ssize_t n;
        int pr = poll(&pfd, 1, timeout * 1000);

        if (server_got_hup) {
            server_got_hup = 0;
            if (srv->reload)
                srv->reload(srv->app);
        }
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr == 0) {
            why = c->in.len ? "timeout: request not completed in time" : "idle timeout";
            break;
        }
        if (c->in.len >= c->in.max || buf_reserve(&c->in, SERVER_READ_CHUNK > c->in.max - c->in.len
                                                              ? c->in.max - c->in.len
                                                              : SERVER_READ_CHUNK) < 0) {
            why = "input limit reached";
            break;
        }
        n = read(in_fd, c->in.data + c->in.len, buf_room(&c->in));
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0) {
            if (n < 0)
                why = "read error";
            else if (c->in.len)
                why = "peer closed the connection mid-request";
            else
                rc = 0;
            break;
        }
        buf_commit(&c->in, (size_t)n);
        for (;;) { /* answer everything pending; blocking writes: one peer only */
            size_t before = c->in.len;

            if (server_process(srv, c) < 0) {
                why = "protocol error";
                break;
            }
            while (c->out.len > 0) {
                ssize_t w = write(out_fd, c->out.data, c->out.len);

                if (w < 0 && errno == EINTR)
                    continue;
                if (w < 0 && errno == EAGAIN) {
                    struct pollfd o = {out_fd, POLLOUT, 0};

                    if (poll(&o, 1, srv->lim.request_timeout * 1000) <= 0) {
                        why = "timeout: peer does not read its answers";
                        break;
                    }
                    continue;
                }
                if (w < 0) {
                    why = "write error";
                    break;
                }
                buf_consume(&c->out, (size_t)w);
            }
            if (why != NULL || c->in.len == 0 || c->in.len == before)
                break;
        }
        if (why != NULL)
            break;
    }
    if (srv->proto.close)
        srv->proto.close(c->ctx, why);
    buf_free(&c->in);
    buf_free(&c->out);
    free(c);
    srv->conns = NULL;
    srv->nconns = 0;
    return rc;
}

void server_free(struct server *srv)
{
    int i;

    if (srv == NULL)
        return;
    while (srv->conns != NULL)
        server_close_conn(srv, srv->conns, "server shutting down");
    for (i = 0; i < srv->nlis; i++) {
        close(srv->lis[i].fd);
        if (srv->lis[i].is_unix)
            unlink(srv->lis[i].path);
    }
    close(srv->ep);
    free(srv);
}
