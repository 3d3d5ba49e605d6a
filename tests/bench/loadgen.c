/*
 * loadgen: load driver for Postfix policy servers (postseal-policyd, the
 * ceiling responder, postfwd), speaking the SMTPD policy delegation protocol
 * the way smtpd does: one request at a time per connection, many requests per
 * connection.
 *
 * usage: loadgen -t unix:PATH|inet:HOST:PORT -r DUMPFILE [-c CONNS] [-n REQUESTS]
 *        [-S SLOW] [-P STUCK] [-A ABANDON] [-O OVERSIZE] [-H PID] [-R RELOADS]
 *        [-T TIMEOUT_MS] [-l LABEL]
 *
 * Requests are the attribute sets of DUMPFILE (Postfix 3.7 dumps, "  -- STATE"
 * starts a request, "    name=value" lines follow), sent round robin, with
 * client_port and instance rewritten per connection and message.  Besides the
 * CONNS measured connections it runs adversaries that must not stall them:
 *   SLOW      connections sending each request one byte per 5 ms (must be served)
 *   STUCK     connections that send half a request and then stop, connection open
 *   ABANDON   connections that send half a request and close, every 50 ms
 *   OVERSIZE  connections sending a 2 MiB attribute (the server must refuse it)
 * -H PID sends SIGHUP to PID RELOADS times (default 1) spread over the run; a
 * request the server does not answer (closed, reset, malformed answer) counts as
 * lost, one unanswered after TIMEOUT_MS (default 5000) as timed out.
 *
 * Output: one line of name=value pairs (requests/s, p50/p99/max latency in
 * microseconds, per-connection min/max served, lost, timeouts, adversary
 * counts, answer actions).  Exit status 0 when every measured request was
 * answered well-formed, no request was lost or timed out, and every slow client
 * was served at least once; 1 otherwise; 2 on usage errors.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define LG_MAXTPL 256
#define LG_INBUF 4096
#define LG_OUTBUF 16384
#define LG_OVERSIZE (2 * 1024 * 1024)
#define LG_SLOW_MS 5
#define LG_ABANDON_MS 50
#define LG_OVERSIZE_MS 100

enum lg_kind { LG_NORMAL, LG_SLOW, LG_STUCK, LG_ABANDON, LG_BIG };

struct lg_tpl {
    char *text; /* attribute lines without client_port/instance */
    int caseno;
};

struct lg_conn {
    enum lg_kind kind;
    int fd;
    int id;
    char *out;
    size_t olen, ooff;
    char in[LG_INBUF];
    size_t ilen;
    int waiting;
    int wantout;
    uint64_t t_start;
    uint64_t next_at;
    uint64_t served;
    uint64_t seq;
};

static struct lg_tpl lg_tpl[LG_MAXTPL];
static int lg_ntpl;
static struct sockaddr_storage lg_addr;
static socklen_t lg_addrlen;
static int lg_ep;
static uint32_t *lg_lat; /* nanoseconds, capped */
static uint64_t lg_nlat;
static uint64_t lg_issued, lg_target, lg_done, lg_lost, lg_timeouts, lg_bad;
static uint64_t lg_slow_served, lg_stuck_closed, lg_abandons, lg_big_refused, lg_big_accepted;
static uint64_t lg_connect_fail;
static long lg_timeout_ms = 5000;
static char *lg_big;
static struct {
    char name[48];
    uint64_t count;
} lg_actions[16];

static uint64_t lg_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
}

static void lg_fatal(const char *what)
{
    perror(what);
    exit(2);
}

static int lg_parse_target(const char *spec)
{
    memset(&lg_addr, 0, sizeof(lg_addr));
    if (strncmp(spec, "unix:", 5) == 0) {
        struct sockaddr_un *sun = (struct sockaddr_un *)&lg_addr;

        if (strlen(spec + 5) >= sizeof(sun->sun_path))
            return -1;
        sun->sun_family = AF_UNIX;
        strcpy(sun->sun_path, spec + 5);
        lg_addrlen = sizeof(*sun);
        return 0;
    }
    if (strncmp(spec, "inet:", 5) == 0) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&lg_addr;
        const char *colon = strrchr(spec + 5, ':');
        char host[64];

        if (colon == NULL || (size_t)(colon - spec - 5) >= sizeof(host))
            return -1;
        memcpy(host, spec + 5, colon - spec - 5);
        host[colon - spec - 5] = 0;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(atoi(colon + 1));
        if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
            return -1;
        lg_addrlen = sizeof(*sin);
        return 0;
    }
    return -1;
}

/* Reads the Postfix dump format into request templates. */
static void lg_load(const char *path)
{
    FILE *fp = fopen(path, "r");
    char line[8192];
    size_t len = 0, cap = 0;
    char *text = NULL;
    int caseno = -1;

    if (fp == NULL)
        lg_fatal(path);
    for (;;) {
        char *got = fgets(line, sizeof(line), fp);
        int start = got == NULL || strncmp(line, "  -- ", 5) == 0 || strncmp(line, "===", 3) == 0;

        if (start && text != NULL && len > 0 && lg_ntpl < LG_MAXTPL) {
            lg_tpl[lg_ntpl].text = text;
            lg_tpl[lg_ntpl].caseno = caseno;
            lg_ntpl++;
            text = NULL;
            len = cap = 0;
        }
        if (got == NULL)
            break;
        if (strncmp(line, "===", 3) == 0)
            caseno++;
        if (strncmp(line, "    ", 4) != 0 || strchr(line, '=') == NULL)
            continue;
        if (strncmp(line + 4, "client_port=", 12) == 0 || strncmp(line + 4, "instance=", 9) == 0)
            continue;
        if (len + strlen(line) + 1 > cap) {
            cap = (cap + strlen(line) + 1) * 2;
            if ((text = realloc(text, cap)) == NULL)
                lg_fatal("realloc");
        }
        memcpy(text + len, line + 4, strlen(line + 4) + 1);
        len += strlen(line + 4);
    }
    fclose(fp);
    free(text);
    if (lg_ntpl == 0) {
        fprintf(stderr, "loadgen: %s: no requests found\n", path);
        exit(2);
    }
}

static int lg_connect(void)
{
    struct timeval tv = {.tv_sec = 5};
    int fd = socket(lg_addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&lg_addr, lg_addrlen) < 0) {
        close(fd);
        lg_connect_fail++;
        return -1;
    }
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

static void lg_watch(struct lg_conn *c, uint32_t events, int op)
{
    struct epoll_event ev = {.events = events, .data.ptr = c};

    if (epoll_ctl(lg_ep, op, c->fd, &ev) < 0)
        lg_fatal("epoll_ctl");
}

static void lg_close(struct lg_conn *c)
{
    if (c->fd >= 0) {
        epoll_ctl(lg_ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
    }
    c->fd = -1;
    c->waiting = 0;
    c->wantout = 0;
    c->ilen = 0;
    c->olen = c->ooff = 0;
}

/* Fills c->out with the next request (the whole one, or half for STUCK/ABANDON). */
static void lg_build(struct lg_conn *c)
{
    const struct lg_tpl *t = &lg_tpl[c->seq % lg_ntpl];
    int n;

    n = snprintf(c->out, LG_OUTBUF, "%sclient_port=%d\ninstance=%x.%llx.%x.0\n\n", t->text,
                 20000 + c->id, c->id + 1, (unsigned long long)(c->seq / lg_ntpl), t->caseno);
    if (n < 0 || n >= LG_OUTBUF) {
        fprintf(stderr, "loadgen: request template too long\n");
        exit(2);
    }
    c->olen = n;
    c->ooff = 0;
    if (c->kind == LG_STUCK || c->kind == LG_ABANDON)
        c->olen = n / 2;
    c->seq++;
}

/* Writes what is pending; SLOW writes one byte per call.  -1: peer gone. */
static int lg_flush(struct lg_conn *c)
{
    while (c->ooff < c->olen) {
        size_t want = c->kind == LG_SLOW ? 1 : c->olen - c->ooff;
        const char *src = c->kind == LG_BIG ? lg_big : c->out;
        ssize_t w = send(c->fd, src + c->ooff, want, MSG_NOSIGNAL);

        if (w < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                if (!c->wantout)
                    lg_watch(c, EPOLLIN | EPOLLOUT, EPOLL_CTL_MOD);
                c->wantout = 1;
                return 0;
            }
            return -1;
        }
        c->ooff += w;
        if (c->kind == LG_SLOW)
            return 0;
    }
    if (c->wantout)
        lg_watch(c, EPOLLIN, EPOLL_CTL_MOD);
    c->wantout = 0;
    return 0;
}

static void lg_count_action(const char *line, size_t len)
{
    size_t n = strcspn(line, " \n");
    int i;

    if (n > len)
        n = len;
    if (n >= sizeof(lg_actions[0].name))
        n = sizeof(lg_actions[0].name) - 1;
    for (i = 0; i < 16; i++) {
        if (lg_actions[i].count == 0) {
            memcpy(lg_actions[i].name, line, n);
            lg_actions[i].name[n] = 0;
        }
        if (strlen(lg_actions[i].name) == n && memcmp(lg_actions[i].name, line, n) == 0) {
            lg_actions[i].count++;
            return;
        }
    }
}

static int lg_start(struct lg_conn *c)
{
    if (c->fd < 0) {
        if ((c->fd = lg_connect()) < 0)
            return -1;
        lg_watch(c, EPOLLIN, EPOLL_CTL_ADD);
    }
    if (c->kind == LG_BIG) {
        c->olen = LG_OVERSIZE + 32;
        c->ooff = 0;
    } else {
        lg_build(c);
    }
    c->waiting = 1;
    c->t_start = lg_now();
    return lg_flush(c);
}

static void lg_next(struct lg_conn *c)
{
    if (c->kind == LG_NORMAL) {
        if (lg_issued >= lg_target) {
            lg_close(c);
            return;
        }
        lg_issued++;
    }
    if (lg_start(c) < 0) {
        if (c->kind == LG_NORMAL)
            lg_lost++;
        lg_close(c);
        c->next_at = lg_now() + 100000000u; /* retry in 100 ms, like smtpd */
        return;
    }
    if (c->kind == LG_SLOW)
        c->next_at = lg_now() + LG_SLOW_MS * 1000000u;
}

static void lg_failed(struct lg_conn *c, int timed_out)
{
    if (c->kind == LG_NORMAL && c->waiting) {
        if (timed_out)
            lg_timeouts++;
        else
            lg_lost++;
    }
    lg_close(c);
    if (c->kind == LG_NORMAL)
        c->next_at = lg_now();
}

static void lg_answer(struct lg_conn *c)
{
    uint64_t dt = lg_now() - c->t_start;
    char *end = memmem(c->in, c->ilen, "\n\n", 2);

    if (end + 2 != c->in + c->ilen || strncmp(c->in, "action=", 7) != 0) {
        if (c->kind == LG_NORMAL)
            lg_bad++;
        lg_failed(c, 0);
        return;
    }
    c->waiting = 0;
    c->served++;
    if (c->kind == LG_SLOW) {
        lg_slow_served++;
    } else if (c->kind == LG_BIG) {
        if (strncmp(c->in, "action=DUNNO", 12) == 0 || strncmp(c->in, "action=OK", 9) == 0)
            lg_big_accepted++;
        else
            lg_big_refused++;
    } else {
        lg_lat[lg_nlat++] = dt > UINT32_MAX ? UINT32_MAX : (uint32_t)dt;
        lg_done++;
        lg_count_action(c->in + 7, c->ilen - 7);
    }
    c->ilen = 0;
    if (c->kind == LG_BIG) {
        lg_close(c);
        c->next_at = lg_now() + LG_OVERSIZE_MS * 1000000u;
        return;
    }
    lg_next(c);
}

static void lg_readable(struct lg_conn *c)
{
    for (;;) {
        ssize_t r = read(c->fd, c->in + c->ilen, sizeof(c->in) - c->ilen);

        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (r <= 0) {
            if (c->kind == LG_STUCK)
                lg_stuck_closed++;
            if (c->kind == LG_BIG) {
                lg_big_refused++;
                lg_close(c);
                c->next_at = lg_now() + LG_OVERSIZE_MS * 1000000u;
                return;
            }
            lg_failed(c, 0);
            return;
        }
        c->ilen += r;
        if (memmem(c->in, c->ilen, "\n\n", 2) != NULL) {
            if (c->kind == LG_BIG && c->ooff < c->olen) {
                /* answered before the whole oversize request was sent: refused */
                lg_big_refused++;
                lg_close(c);
                c->next_at = lg_now() + LG_OVERSIZE_MS * 1000000u;
                return;
            }
            lg_answer(c);
            return;
        }
        if (c->ilen == sizeof(c->in)) {
            if (c->kind == LG_NORMAL)
                lg_bad++;
            lg_failed(c, 0);
            return;
        }
    }
}

static int lg_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return x < y ? -1 : x > y;
}

static void lg_timers(struct lg_conn *conns, int nconns, uint64_t now)
{
    int i;

    for (i = 0; i < nconns; i++) {
        struct lg_conn *c = &conns[i];

        if (c->fd >= 0 && c->waiting && c->kind == LG_NORMAL &&
            now - c->t_start > (uint64_t)lg_timeout_ms * 1000000u) {
            lg_failed(c, 1);
            continue;
        }
        if (c->next_at == 0 || now < c->next_at)
            continue;
        c->next_at = 0;
        switch (c->kind) {
        case LG_NORMAL:
            if (c->fd < 0)
                lg_next(c);
            break;
        case LG_SLOW:
            if (c->fd >= 0 && c->ooff < c->olen && lg_flush(c) < 0)
                lg_failed(c, 0);
            if (c->fd >= 0 && c->ooff < c->olen)
                c->next_at = now + LG_SLOW_MS * 1000000u;
            break;
        case LG_ABANDON:
            if (lg_start(c) == 0)
                lg_abandons++;
            lg_close(c);
            c->next_at = now + LG_ABANDON_MS * 1000000u;
            break;
        case LG_BIG:
            if (c->fd < 0 && lg_start(c) < 0)
                lg_close(c);
            if (c->fd < 0 && c->next_at == 0)
                c->next_at = now + LG_OVERSIZE_MS * 1000000u;
            break;
        case LG_STUCK:
            break;
        }
    }
}

int main(int argc, char **argv)
{
    const char *target = NULL, *dump = NULL, *label = "run";
    long nconn = 200, nslow = 0, nstuck = 0, nabandon = 0, nbig = 0, reloads = 1;
    long long nreq = 100000;
    pid_t hup_pid = 0;
    struct lg_conn *conns;
    int nconns, i, opt, hups = 0;
    uint64_t t0, t1, cmin = UINT64_MAX, cmax = 0;
    double secs;

    while ((opt = getopt(argc, argv, "t:r:c:n:S:P:A:O:H:R:T:l:")) != -1) {
        switch (opt) {
        case 't':
            target = optarg;
            break;
        case 'r':
            dump = optarg;
            break;
        case 'c':
            nconn = atol(optarg);
            break;
        case 'n':
            nreq = atoll(optarg);
            break;
        case 'S':
            nslow = atol(optarg);
            break;
        case 'P':
            nstuck = atol(optarg);
            break;
        case 'A':
            nabandon = atol(optarg);
            break;
        case 'O':
            nbig = atol(optarg);
            break;
        case 'H':
            hup_pid = (pid_t)atol(optarg);
            break;
        case 'R':
            reloads = atol(optarg);
            break;
        case 'T':
            lg_timeout_ms = atol(optarg);
            break;
        case 'l':
            label = optarg;
            break;
        default:
            return 2;
        }
    }
    if (target == NULL || dump == NULL || lg_parse_target(target) < 0 || nconn < 1 || nreq < 1) {
        fprintf(stderr, "usage: loadgen -t unix:PATH|inet:HOST:PORT -r DUMPFILE [-c CONNS] "
                        "[-n REQUESTS] [-S SLOW] [-P STUCK] [-A ABANDON] [-O OVERSIZE] "
                        "[-H PID] [-R RELOADS] [-T TIMEOUT_MS] [-l LABEL]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    lg_load(dump);
    lg_target = (uint64_t)nreq;
    if ((lg_lat = malloc(sizeof(*lg_lat) * nreq)) == NULL)
        lg_fatal("malloc");
    if ((lg_big = malloc(LG_OVERSIZE + 32)) == NULL)
        lg_fatal("malloc");
    memcpy(lg_big, "request=smtpd_access_policy\nccert_subject=", 42);
    memset(lg_big + 42, 'A', LG_OVERSIZE + 32 - 42);
    memcpy(lg_big + LG_OVERSIZE + 30, "\n\n", 2);
    if ((lg_ep = epoll_create1(0)) < 0)
        lg_fatal("epoll_create1");

    nconns = nconn + nslow + nstuck + nabandon + nbig;
    if ((conns = calloc(nconns, sizeof(*conns))) == NULL)
        lg_fatal("calloc");
    for (i = 0; i < nconns; i++) {
        struct lg_conn *c = &conns[i];

        c->id = i;
        c->fd = -1;
        c->kind = i < nconn                               ? LG_NORMAL
                  : i < nconn + nslow                     ? LG_SLOW
                  : i < nconn + nslow + nstuck            ? LG_STUCK
                  : i < nconn + nslow + nstuck + nabandon ? LG_ABANDON
                                                          : LG_BIG;
        if ((c->out = malloc(LG_OUTBUF)) == NULL)
            lg_fatal("malloc");
        if (c->kind == LG_ABANDON || c->kind == LG_BIG)
            c->next_at = 1;
        else if ((c->fd = lg_connect()) < 0) {
            fprintf(stderr, "loadgen: %s: cannot connect: %s\n", target, strerror(errno));
            return 1;
        } else {
            lg_watch(c, EPOLLIN, EPOLL_CTL_ADD);
        }
    }
    /* adversaries first, so they are in place before the measured run */
    for (i = nconn; i < nconns; i++) {
        struct lg_conn *c = &conns[i];

        if (c->kind == LG_SLOW || c->kind == LG_STUCK) {
            if (lg_start(c) < 0)
                lg_close(c);
            if (c->kind == LG_SLOW)
                c->next_at = lg_now() + LG_SLOW_MS * 1000000u;
        }
    }
    t0 = lg_now();
    for (i = 0; i < nconn; i++)
        lg_next(&conns[i]);

    while (lg_done + lg_lost + lg_timeouts + lg_bad < lg_target) {
        struct epoll_event evs[256];
        int n = epoll_wait(lg_ep, evs, 256, 1);
        uint64_t now;

        for (i = 0; i < n; i++) {
            struct lg_conn *c = evs[i].data.ptr;

            if (c->fd < 0)
                continue;
            if (evs[i].events & EPOLLOUT) {
                if (lg_flush(c) < 0) {
                    if (c->kind == LG_BIG) {
                        lg_big_refused++;
                        lg_close(c);
                        c->next_at = lg_now() + LG_OVERSIZE_MS * 1000000u;
                    } else {
                        lg_failed(c, 0);
                    }
                    continue;
                }
            }
            if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                lg_readable(c);
        }
        now = lg_now();
        lg_timers(conns, nconns, now);
        if (hup_pid > 0 && hups < reloads &&
            lg_issued >= lg_target * (uint64_t)(hups + 1) / (uint64_t)(reloads + 1)) {
            if (kill(hup_pid, SIGHUP) < 0)
                lg_fatal("kill SIGHUP");
            hups++;
        }
    }
    t1 = lg_now();
    /* every slow client must complete at least one request */
    {
        uint64_t deadline = lg_now() + (uint64_t)(LG_SLOW_MS * LG_OUTBUF / 8 + 5000) * 1000000u;
        int pending = 1;

        while (pending && lg_now() < deadline) {
            struct epoll_event evs[64];
            int n = epoll_wait(lg_ep, evs, 64, 1);

            for (i = 0; i < n; i++) {
                struct lg_conn *c = evs[i].data.ptr;

                if (c->fd >= 0 && c->kind == LG_SLOW)
                    lg_readable(c);
            }
            lg_timers(conns, nconns, lg_now());
            pending = 0;
            for (i = nconn; i < nconn + nslow; i++)
                pending |= conns[i].served == 0 && conns[i].fd >= 0;
        }
    }

    for (i = 0; i < nconn; i++) {
        if (conns[i].served < cmin)
            cmin = conns[i].served;
        if (conns[i].served > cmax)
            cmax = conns[i].served;
    }
    qsort(lg_lat, lg_nlat, sizeof(*lg_lat), lg_cmp);
    secs = (t1 - t0) / 1e9;
    printf("label=%s conns=%ld requests=%llu answered=%llu lost=%llu timeouts=%llu bad=%llu "
           "secs=%.3f rps=%.0f p50_us=%.1f p99_us=%.1f max_us=%.1f conn_min=%llu conn_max=%llu "
           "reloads=%d slow=%ld slow_served=%llu stuck=%ld stuck_closed=%llu abandons=%llu "
           "oversize_refused=%llu oversize_accepted=%llu connect_fail=%llu actions=",
           label, nconn, (unsigned long long)lg_target, (unsigned long long)lg_done,
           (unsigned long long)lg_lost, (unsigned long long)lg_timeouts, (unsigned long long)lg_bad,
           secs, lg_done / secs, lg_nlat ? lg_lat[lg_nlat / 2] / 1e3 : 0.0,
           lg_nlat ? lg_lat[lg_nlat * 99 / 100] / 1e3 : 0.0,
           lg_nlat ? lg_lat[lg_nlat - 1] / 1e3 : 0.0, (unsigned long long)cmin,
           (unsigned long long)cmax, hups, nslow, (unsigned long long)lg_slow_served, nstuck,
           (unsigned long long)lg_stuck_closed, (unsigned long long)lg_abandons,
           (unsigned long long)lg_big_refused, (unsigned long long)lg_big_accepted,
           (unsigned long long)lg_connect_fail);
    for (i = 0; i < 16 && lg_actions[i].count; i++)
        printf("%s%s:%llu", i ? "," : "", lg_actions[i].name,
               (unsigned long long)lg_actions[i].count);
    printf("\n");
    return lg_lost || lg_timeouts || lg_bad || lg_done != lg_target ||
                   (nslow > 0 && lg_slow_served < (uint64_t)nslow) || lg_big_accepted
               ? 1
               : 0;
}
