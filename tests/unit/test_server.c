/* test_server: listen strings are parsed in one place; every form and every
 * malformation. */
#include <criterion/criterion.h>
#include <string.h>

#include "server.h"

static struct server_endpoint ep;
static char err[256];

static int parse(const char *spec)
{
    err[0] = 0;
    return server_endpoint_parse(spec, &ep, err, sizeof(err));
}

Test(server, unix_endpoints)
{
    cr_assert_eq(parse("unix:/run/postseal/policyd.sock"), 0);
    cr_assert(ep.is_unix);
    cr_assert_str_eq(ep.path, "/run/postseal/policyd.sock");
    cr_assert_eq(parse("unix:relative.sock"), 0);
    cr_assert_eq(parse("unix:"), -1);
    cr_assert(strstr(err, "unix socket path empty") != NULL, "%s", err);
    {
        char longpath[200] = "unix:/";

        memset(longpath + 6, 'x', 150);
        longpath[156] = 0;
        cr_assert_eq(parse(longpath), -1);
        cr_assert(strstr(err, "longer than 107 bytes") != NULL, "%s", err);
    }
}

Test(server, inet_endpoints)
{
    cr_assert_eq(parse("inet:127.0.0.1:10040"), 0);
    cr_assert(!ep.is_unix);
    cr_assert_str_eq(ep.host, "127.0.0.1");
    cr_assert_str_eq(ep.port, "10040");
    cr_assert_eq(parse("inet:[::1]:10040"), 0);
    cr_assert_str_eq(ep.host, "::1");
    cr_assert_eq(parse("inet:localhost:25"), 0);
    cr_assert_str_eq(ep.host, "localhost");
    /* no host: loopback, never all interfaces */
    cr_assert_eq(parse("inet:10040"), 0);
    cr_assert_str_eq(ep.host, "127.0.0.1");
    cr_assert_eq(parse("inet::10040"), 0);
    cr_assert_str_eq(ep.host, "127.0.0.1");
    cr_assert_eq(parse("inet:0.0.0.0:10040"), 0); /* all interfaces only when asked */
    cr_assert_str_eq(ep.host, "0.0.0.0");
}

Test(server, malformed_endpoints)
{
    static const char *bad[] = {
        "tcp:127.0.0.1:25",
        "/run/x.sock",
        "inet:",
        "inet:127.0.0.1:",
        "inet:127.0.0.1:0",
        "inet:1.2.3.4:65536",
        "inet:1.2.3.4:25x",
        "inet:[::1]10040",
        "inet:[::1:10040",
        "inet:host:-1",
        "",
    };
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(parse(bad[i]), -1, "accepted \"%s\"", bad[i]);
    cr_assert_eq(parse("tcp:127.0.0.1:25"), -1);
    cr_assert(strstr(err, "expected unix:PATH or inet:HOST:PORT") != NULL, "%s", err);
    cr_assert_eq(parse("inet:1.2.3.4:65536"), -1);
    cr_assert(strstr(err, "port must be a number 1..65535") != NULL, "%s", err);
}

/* ---- accept() out of descriptors (EMFILE) ----
 * A server whose process has no free descriptor left cannot accept; the
 * pending connection keeps the listener readable.  The loop must not spin
 * on it (100 % CPU, a log line per turn) and must accept again once
 * descriptors are free. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

static int emfile_fill[4096];
static int emfile_nfill;

static void *emfile_open(void *app, const char *peer)
{
    (void)peer;
    return app != NULL ? app : (void *)emfile_fill; /* NULL would refuse it */
}

static ssize_t emfile_feed(void *conn, char *data, size_t len, struct buf *out)
{
    (void)conn;
    (void)data;
    if (buf_append(out, "ok\n", 3) < 0)
        return -1;
    return (ssize_t)len;
}

static void emfile_close(void *conn, const char *reason)
{
    (void)conn;
    (void)reason;
}

/* SIGHUP: the descriptors come back. */
static void emfile_reload(void *app)
{
    (void)app;
    while (emfile_nfill > 0)
        close(emfile_fill[--emfile_nfill]);
}

static long emfile_cpu_ticks(pid_t pid)
{
    char path[64], buf[1024], *p;
    unsigned long ut = 0, st = 0;
    FILE *fp;
    size_t n;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    cr_assert_not_null(fp = fopen(path, "r"));
    n = fread(buf, 1, sizeof(buf) - 1, fp);
    fclose(fp);
    buf[n] = 0;
    cr_assert_not_null(p = strrchr(buf, ')'));
    /* after ")": state ppid pgrp session tty tpgid flags minflt cminflt
     * majflt cmajflt utime stime */
    cr_assert_eq(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st), 2);
    return (long)(ut + st);
}

Test(server, accept_out_of_descriptors_does_not_spin_and_recovers, .timeout = 30)
{
    static const struct server_proto proto = {emfile_open, emfile_feed, emfile_close, 4096, 64};
    struct server_limits lim = {16, 60, 30};
    struct sockaddr_un sun;
    char path[108], spec[120], errbuf[256], reply[16] = "";
    int sync[2], c, fd;
    long t0, t1;
    pid_t pid;
    struct pollfd p;
    ssize_t n;

    snprintf(path, sizeof(path), "/tmp/test_server_emfile.%d", (int)getpid());
    snprintf(spec, sizeof(spec), "unix:%s", path);
    unlink(path);
    signal(SIGPIPE, SIG_IGN);
    cr_assert_eq(pipe(sync), 0);
    if ((pid = fork()) == 0) {
        struct server *srv = server_new(&proto, NULL, &lim);
        int devnull = open("/dev/null", O_WRONLY);

        prctl(PR_SET_PDEATHSIG, SIGKILL);        /* never outlives the test */
        if (devnull < 0 || dup2(devnull, 2) < 0) /* a spinning loop logs a lot */
            _exit(5);
        close(devnull);

        if (srv == NULL || server_listen(srv, spec, 0600, errbuf, sizeof(errbuf)) < 0)
            _exit(2);
        server_set_reload(srv, emfile_reload);
        {
            struct rlimit rl = {256, 256};

            if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                _exit(4);
        }
        /* every descriptor taken: accept() fails with EMFILE */
        while (emfile_nfill < 4096 && (fd = dup(2)) >= 0)
            emfile_fill[emfile_nfill++] = fd;
        if (emfile_nfill == 4096)
            _exit(3);
        (void)!write(sync[1], "r", 1);
        server_run(srv);
        _exit(0);
    }
    close(sync[1]);
    cr_assert_eq(read(sync[0], reply, 1), 1, "server child failed to start");
    close(sync[0]);
    usleep(200000);
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
    cr_assert((c = socket(AF_UNIX, SOCK_STREAM, 0)) >= 0);
    cr_assert_eq(connect(c, (struct sockaddr *)&sun, sizeof(sun)), 0); /* queued in the backlog */
    usleep(300000);
    t0 = emfile_cpu_ticks(pid);
    sleep(2);
    t1 = emfile_cpu_ticks(pid);
    /* a spinning loop burns ~200 ticks in 2 s; a paused listener almost none */
    if (t1 - t0 >= 30)
        kill(pid, SIGKILL);
    cr_expect_lt(t1 - t0, 30, "server used %ld clock ticks in 2 s while out of descriptors",
                 t1 - t0);
    /* descriptors free again: the waiting connection is served */
    kill(pid, SIGHUP);
    cr_assert_eq(write(c, "x\n", 2), 2);
    p.fd = c;
    p.events = POLLIN;
    n = 0;
    if (poll(&p, 1, 5000) == 1)
        n = read(c, reply, sizeof(reply) - 1);
    reply[n > 0 ? n : 0] = 0;
    kill(pid, SIGTERM);
    cr_expect_str_eq(reply, "ok\n", "connection not served after descriptors came back");
    close(c);
    waitpid(pid, NULL, 0);
    unlink(path);
}
