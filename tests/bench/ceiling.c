/*
 * ceiling: the do-nothing policy responder that bounds what any policy server
 * can reach on this machine (the benchmark's ceiling).
 *
 * usage: ceiling unix:PATH | inet:HOST:PORT
 *
 * One epoll loop, non-blocking sockets, one read per readiness; for every empty line (the end of a
 * Postfix policy request) it writes "action=DUNNO\n\n".  It parses nothing and
 * keeps one bit of state per connection (was the last byte a newline), so a
 * request split over reads is still answered exactly once.  Runs until killed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define CEIL_MAXFD 65536

static unsigned char ceil_nl[CEIL_MAXFD]; /* last byte read was '\n' */

static int ceil_listen(const char *spec)
{
    int fd;

    if (strncmp(spec, "unix:", 5) == 0) {
        struct sockaddr_un sun = {.sun_family = AF_UNIX};

        if (strlen(spec + 5) >= sizeof(sun.sun_path))
            return -1;
        strcpy(sun.sun_path, spec + 5);
        unlink(sun.sun_path);
        if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0)) < 0 ||
            bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
            return -1;
        chmod(sun.sun_path, 0666);
    } else if (strncmp(spec, "inet:", 5) == 0) {
        struct sockaddr_in sin = {.sin_family = AF_INET};
        char host[64];
        const char *colon = strrchr(spec + 5, ':');
        int one = 1;

        if (colon == NULL || (size_t)(colon - spec - 5) >= sizeof(host))
            return -1;
        memcpy(host, spec + 5, colon - spec - 5);
        host[colon - spec - 5] = 0;
        sin.sin_port = htons(atoi(colon + 1));
        if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
            return -1;
        if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) < 0)
            return -1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
            return -1;
    } else {
        return -1;
    }
    if (listen(fd, 1024) < 0)
        return -1;
    return fd;
}

/* One read per readiness event (epoll is level-triggered: more input makes
 * the descriptor ready again), one write of every answer it completed. */
static void ceil_serve(int ep, int fd)
{
    static const char answer[] = "action=DUNNO\n\n";
    char buf[16384], out[16384];
    ssize_t n, i;
    size_t olen = 0;

    n = read(fd, buf, sizeof(buf));
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0)
        goto drop;
    for (i = 0; i < n; i++) {
        if (buf[i] == '\n' && ceil_nl[fd]) {
            if (olen + sizeof(answer) - 1 > sizeof(out)) {
                if (write(fd, out, olen) != (ssize_t)olen)
                    goto drop;
                olen = 0;
            }
            memcpy(out + olen, answer, sizeof(answer) - 1);
            olen += sizeof(answer) - 1;
            ceil_nl[fd] = 0;
            continue;
        }
        ceil_nl[fd] = buf[i] == '\n';
    }
    if (olen > 0 && write(fd, out, olen) != (ssize_t)olen)
        goto drop;
    return;
drop:
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
    close(fd);
}

int main(int argc, char **argv)
{
    struct epoll_event ev, evs[256];
    int lfd, ep, n, i;

    if (argc != 2) {
        fprintf(stderr, "usage: ceiling unix:PATH | inet:HOST:PORT\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    if ((lfd = ceil_listen(argv[1])) < 0) {
        perror(argv[1]);
        return 1;
    }
    ep = epoll_create1(0);
    ev.events = EPOLLIN;
    ev.data.fd = lfd;
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    for (;;) {
        n = epoll_wait(ep, evs, 256, -1);
        for (i = 0; i < n; i++) {
            int fd = evs[i].data.fd;

            if (fd != lfd) {
                ceil_serve(ep, fd);
                continue;
            }
            while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                if (fd >= CEIL_MAXFD) {
                    close(fd);
                    continue;
                }
                ceil_nl[fd] = 1; /* an empty line first is an empty request */
                ev.events = EPOLLIN;
                ev.data.fd = fd;
                epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
            }
        }
    }
}
