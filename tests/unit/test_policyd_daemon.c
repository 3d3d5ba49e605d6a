/* test_policyd_daemon: the REAL postseal-policyd binary on a unix socket (and
 * TCP, stdio): many requests per connection on several connections at once,
 * and every bad-input case: malformed, oversize, disconnect mid-request, slow
 * client; reload keeps the old config on errors; privileges are dropped. */
#include <criterion/criterion.h>
#include <errno.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char dir[64];
static char ini[128];
static char sock[100];
static char logpath[128];
static pid_t daemon_pid;

static const char *binary(void)
{
    static char path[4096];
    char self[4096];
    ssize_t n;

    if (getenv("POSTSEAL_POLICYD"))
        return getenv("POSTSEAL_POLICYD");
    n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    self[n > 0 ? n : 0] = 0;
    if (strstr(self, "/build-san/") != NULL && access("build-san/bin/postseal-policyd", X_OK) == 0)
        snprintf(path, sizeof(path), "build-san/bin/postseal-policyd");
    else
        snprintf(path, sizeof(path), "policy/postseal-policyd");
    return path;
}

static void write_ini(const char *text)
{
    FILE *fp = fopen(ini, "w");

    cr_assert_not_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/test_policyd_daemon.%d", (int)getpid());
    mkdir(dir, 0755);
    chmod(dir, 0755);
    snprintf(ini, sizeof(ini), "%s/postseal.ini", dir);
    snprintf(sock, sizeof(sock), "%s/policyd.sock", dir);
    snprintf(logpath, sizeof(logpath), "%s/log", dir);
    signal(SIGPIPE, SIG_IGN);
}

static void stop(void)
{
    int st;

    if (daemon_pid > 0) {
        kill(daemon_pid, SIGTERM);
        waitpid(daemon_pid, &st, 0);
        daemon_pid = 0;
    }
}

static void teardown(void)
{
    char cmd[256];

    stop();
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cleanup failed\n");
}

TestSuite(daemon, .init = setup, .fini = teardown, .timeout = 60);

static int connect_unix(void)
{
    struct sockaddr_un sun;
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock);
    if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int run(const char *const argv[], const char *input, char *out, size_t outlen);

static void start(const char *extra)
{
    int i;

    daemon_pid = fork();
    cr_assert_geq(daemon_pid, 0);
    if (daemon_pid == 0) {
        int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0644);
        char spec[160];

        dup2(fd, 2);
        snprintf(spec, sizeof(spec), "unix:%s", sock);
        if (extra != NULL)
            execl(binary(), "postseal-policyd", "-c", ini, "-f", "-v", "--listen", spec, extra,
                  (char *)NULL);
        else
            execl(binary(), "postseal-policyd", "-c", ini, "-f", "-v", "--listen", spec,
                  (char *)NULL);
        _exit(127);
    }
    for (i = 0; i < 100; i++) {
        int fd = connect_unix();

        if (fd >= 0) {
            close(fd);
            return;
        }
        usleep(50000);
    }
    cr_assert_fail("daemon %s did not start", binary());
}

/* The last 256 KiB of the daemon's log. */
static char *read_log(void)
{
    static char text[1 << 18];
    FILE *fp = fopen(logpath, "r");
    size_t n = 0;

    if (fp) {
        if (fseek(fp, -(long)(sizeof(text) - 1), SEEK_END) < 0)
            rewind(fp);
        n = fread(text, 1, sizeof(text) - 1, fp);
        fclose(fp);
    }
    text[n] = 0;
    return text;
}

/* 1 when the daemon's log shows needle within 3 s (log lines are flushed once
 * per event-loop turn, so they may trail what a client sees by a moment). */
static int log_has(const char *needle)
{
    int i;

    for (i = 0; i < 60; i++) {
        if (strstr(read_log(), needle) != NULL)
            return 1;
        usleep(50000);
    }
    return 0;
}

static void send_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);

        cr_assert_gt(n, 0, "write: %s", strerror(errno));
        data += n;
        len -= (size_t)n;
    }
}

/* Reads one answer ("...\n\n") within ms milliseconds; NULL on EOF/timeout. */
static char *read_answer(int fd, int ms)
{
    static char ans[2048];
    size_t len = 0;

    while (len < sizeof(ans) - 1) {
        struct pollfd p = {fd, POLLIN, 0};
        ssize_t n;

        if (poll(&p, 1, ms) <= 0)
            return NULL;
        n = read(fd, ans + len, 1);
        if (n <= 0)
            return NULL;
        len += (size_t)n;
        if (len >= 2 && ans[len - 1] == '\n' && ans[len - 2] == '\n')
            break;
    }
    ans[len] = 0;
    return ans;
}

/* 1 when the server closed the connection within ms milliseconds. */
static int closed_by_server(int fd, int ms)
{
    char c;
    struct pollfd p = {fd, POLLIN, 0};

    if (poll(&p, 1, ms) <= 0)
        return 0;
    return read(fd, &c, 1) <= 0;
}

static const char *request(char *buf, size_t size, int port, int tls, const char *inst)
{
    snprintf(buf, size,
             "request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\n"
             "client_address=192.0.2.7\nclient_name=unknown\nclient_port=%d\n"
             "instance=%s\nsender=a@example.test\nrecipient=b@example.test\nqueue_id=\n"
             "encryption_protocol=%s\nencryption_cipher=%s\nencryption_keysize=%d\n"
             "future_attribute=ignored\n\n",
             port, inst, tls ? "TLSv1.3" : "", tls ? "TLS_AES_256_GCM_SHA384" : "", tls ? 256 : 0);
    return buf;
}

static const char *policy_ini = "[policy]\n"
                                "require_tls = yes\n"
                                "encryption_keysize = 128\n"
                                "request_timeout = 2s\n";

static void expect_refused(const char *ans)
{
    cr_assert_not_null(ans);
    cr_assert(strncmp(ans, "action=450 4.7.1 TLS required (rule ", 36) == 0, "%s", ans);
    cr_assert(strstr(ans, "postseal.ini:2)\n\n") != NULL, "%s", ans);
}

Test(daemon, many_requests_on_many_connections)
{
    enum { CONNS = 8, ROUNDS = 400 };
    int fd[CONNS];
    char req[1024];
    int c;
    int r;

    write_ini(policy_ini);
    start(NULL);
    for (c = 0; c < CONNS; c++)
        cr_assert_geq(fd[c] = connect_unix(), 0);
    for (r = 0; r < ROUNDS; r++) {
        char inst[64];

        /* every connection sends, then every connection reads: all in flight */
        for (c = 0; c < CONNS; c++) {
            snprintf(inst, sizeof(inst), "%x.1.%d.0", c, r);
            request(req, sizeof(req), 10000 + c * ROUNDS + r, (r + c) % 3 != 0, inst);
            send_all(fd[c], req, strlen(req));
        }
        for (c = 0; c < CONNS; c++) {
            char *ans = read_answer(fd[c], 5000);

            if ((r + c) % 3 != 0)
                cr_assert_str_eq(ans, "action=DUNNO\n\n", "conn %d round %d", c, r);
            else
                expect_refused(ans);
        }
    }
    /* pipelining: 200 requests in one write, 200 answers in order */
    {
        static char big[200 * 600];
        size_t len = 0;

        for (r = 0; r < 200; r++) {
            request(req, sizeof(req), 30000 + r, r % 2, "p.1.1.0");
            memcpy(big + len, req, strlen(req));
            len += strlen(req);
        }
        send_all(fd[0], big, len);
        for (r = 0; r < 200; r++) {
            char *ans = read_answer(fd[0], 5000);

            if (r % 2)
                cr_assert_str_eq(ans, "action=DUNNO\n\n", "pipelined %d", r);
            else
                expect_refused(ans);
        }
    }
    for (c = 0; c < CONNS; c++)
        close(fd[c]);
}

/* One bad peer must be dropped while a good one keeps being served. */
static void bad_peer(const char *bad, size_t badlen, const char *logneedle)
{
    char req[1024];
    int good;
    int evil;

    write_ini(policy_ini);
    start(NULL);
    cr_assert_geq(good = connect_unix(), 0);
    cr_assert_geq(evil = connect_unix(), 0);
    request(req, sizeof(req), 1, 1, "g.1.1.0");
    send_all(good, req, strlen(req));
    cr_assert_str_eq(read_answer(good, 5000), "action=DUNNO\n\n");
    send_all(evil, bad, badlen);
    cr_assert(closed_by_server(evil, 5000), "bad peer not dropped");
    send_all(good, req, strlen(req));
    cr_assert_str_eq(read_answer(good, 5000), "action=DUNNO\n\n");
    close(evil);
    close(good);
    usleep(100000);
    cr_assert(log_has(logneedle), "log lacks \"%s\":\n%s", logneedle, read_log());
    cr_assert_gt(kill(daemon_pid, 0) + 1, 0);
}

Test(daemon, malformed_line_drops_only_that_connection)
{
    const char *bad = "request=smtpd_access_policy\ninstance=ab.cd.ef.0\nqueue_id=4F00D\n"
                      "this line has no equals sign\n\n";

    bad_peer(bad, strlen(bad),
             "unix: 4F00D: bad request: line 4: no '=' in \"this line has no equals sign\" "
             "(instance=ab.cd.ef.0)");
}

Test(daemon, bad_number_drops_only_that_connection)
{
    const char *bad = "request=smtpd_access_policy\nencryption_keysize=256bits\n\n";

    bad_peer(bad, strlen(bad), "encryption_keysize: \"256bits\" is not a number");
}

Test(daemon, oversize_line_drops_only_that_connection)
{
    static char bad[9000];

    memset(bad, 'x', sizeof(bad));
    memcpy(bad, "sender=", 7);
    bad_peer(bad, sizeof(bad), "bad request: line 1 longer than 8192 bytes");
}

Test(daemon, oversize_request_drops_only_that_connection)
{
    size_t len = 1100 * 1024;
    char *bad = malloc(len);
    size_t i;

    for (i = 0; i + 4000 <= len; i += 4000) { /* 275 lines: the size limit comes first */
        memset(bad + i, 'v', 3999);
        memcpy(bad + i, "x=", 2);
        bad[i + 3999] = '\n';
    }
    memcpy(bad, "queue_id=OVR1\ninstance=ovr.1.1.0\nx=", 35); /* known where it stops */
    /* the server may close while we are still writing: tolerate EPIPE */
    {
        char req[1024];
        int good;
        int evil;
        size_t off = 0;

        write_ini(policy_ini);
        start(NULL);
        cr_assert_geq(good = connect_unix(), 0);
        cr_assert_geq(evil = connect_unix(), 0);
        while (off < i) {
            ssize_t n = write(evil, bad + off, i - off);

            if (n <= 0)
                break;
            off += (size_t)n;
        }
        cr_assert(closed_by_server(evil, 5000) || off < i, "oversize peer not dropped");
        request(req, sizeof(req), 1, 1, "g.1.1.0");
        send_all(good, req, strlen(req));
        cr_assert_str_eq(read_answer(good, 5000), "action=DUNNO\n\n");
        usleep(100000);
        cr_assert(log_has("OVR1: bad request: request larger than 1048576 bytes "
                          "(instance=ovr.1.1.0)"),
                  "%s", read_log());
        close(evil);
        close(good);
    }
    free(bad);
}

Test(daemon, not_a_policy_request_drops_only_that_connection)
{
    const char *bad = "request=junk\n\n";

    bad_peer(bad, strlen(bad), "request=junk: not an smtpd_access_policy request");
}

Test(daemon, disconnect_mid_request_is_logged)
{
    char req[1024];
    int good;
    int evil;

    write_ini(policy_ini);
    start(NULL);
    cr_assert_geq(good = connect_unix(), 0);
    cr_assert_geq(evil = connect_unix(), 0);
    snprintf(req, sizeof(req),
             "request=smtpd_access_policy\nqueue_id=9A8B7C\n"
             "instance=mid.1.1.0\nclient_address=192.0.2.9\nsender=x");
    send_all(evil, req, strlen(req)); /* three complete lines, one unfinished */
    usleep(100000);
    close(evil);
    request(req, sizeof(req), 1, 1, "g.1.1.0");
    send_all(good, req, strlen(req));
    cr_assert_str_eq(read_answer(good, 5000), "action=DUNNO\n\n");
    cr_assert(log_has("9A8B7C: connection dropped after 0 requests: peer closed the connection "
                      "mid-request (unfinished request instance=mid.1.1.0)"),
              "%s", read_log());
    close(good);
}

Test(daemon, slow_client_does_not_block_others_and_is_dropped)
{
    char req[1024];
    int good;
    int slow;
    int i;
    struct timespec t0;
    struct timespec t1;

    write_ini(policy_ini); /* request_timeout = 2s */
    start(NULL);
    cr_assert_geq(good = connect_unix(), 0);
    cr_assert_geq(slow = connect_unix(), 0);
    request(req, sizeof(req), 1, 1, "g.1.1.0");
    send_all(slow, req, 20); /* a started request, then silence */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (i = 0; i < 100; i++) {
        send_all(good, req, strlen(req));
        cr_assert_str_eq(read_answer(good, 1000), "action=DUNNO\n\n");
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    cr_assert_lt(t1.tv_sec - t0.tv_sec, 2, "others were slowed down");
    /* trickling one byte at a time does not keep a request alive forever */
    for (i = 0; i < 40 && !closed_by_server(slow, 0); i++) {
        if (write(slow, req + 20 + (i % 10), 1) < 0)
            break;
        usleep(100000);
    }
    cr_assert(closed_by_server(slow, 3000), "slow client not dropped");
    send_all(good, req, strlen(req));
    cr_assert_str_eq(read_answer(good, 1000), "action=DUNNO\n\n");
    cr_assert(log_has("timeout: request not completed in time (slow client)"), "%s", read_log());
    close(good);
    close(slow);
}

Test(daemon, sighup_reload_keeps_old_config_on_error)
{
    char req[1024];
    int fd;

    write_ini(policy_ini);
    start(NULL);
    cr_assert_geq(fd = connect_unix(), 0);
    request(req, sizeof(req), 1, 0, "r.1.1.0");
    send_all(fd, req, strlen(req));
    expect_refused(read_answer(fd, 5000));
    /* a broken config: the old one stays, the connection stays */
    write_ini("[policy]\nrequire_tls = maybe\n");
    kill(daemon_pid, SIGHUP);
    usleep(300000);
    request(req, sizeof(req), 2, 0, "r.1.2.0");
    send_all(fd, req, strlen(req));
    expect_refused(read_answer(fd, 5000));
    cr_assert(log_has("postseal.ini:2: require_tls: \"maybe\" is not yes or no"), "%s", read_log());
    cr_assert(log_has("keeping the old configuration"), "%s", read_log());
    /* a good one takes effect on the same connection */
    write_ini("[policy]\nrequire_tls = no\n");
    kill(daemon_pid, SIGHUP);
    usleep(300000);
    request(req, sizeof(req), 3, 0, "r.1.3.0");
    send_all(fd, req, strlen(req));
    cr_assert_str_eq(read_answer(fd, 5000), "action=DUNNO\n\n");
    close(fd);
}

Test(daemon, drops_privileges_after_binding)
{
    char path[64];
    char line[256];
    FILE *fp;
    int uid = -1;
    int tries;
    struct passwd *pw = getpwnam("nobody");
    char req[1024];
    int fd;

    if (geteuid() != 0 || pw == NULL)
        cr_skip_test("needs root and user nobody");
    write_ini("[global]\nuser = nobody\n[policy]\nrequire_tls = yes\n");
    start(NULL);
    snprintf(path, sizeof(path), "/proc/%d/status", (int)daemon_pid);
    /* the socket exists before the drop that follows it: allow 5 s to finish starting */
    for (tries = 0; tries < 50 && uid != (int)pw->pw_uid; tries++) {
        if (tries > 0)
            usleep(100000);
        fp = fopen(path, "r");
        cr_assert_not_null(fp);
        while (fgets(line, sizeof(line), fp))
            if (sscanf(line, "Uid: %d", &uid) == 1)
                break;
        fclose(fp);
    }
    cr_assert_eq(uid, (int)pw->pw_uid);
    cr_assert_geq(fd = connect_unix(), 0);
    request(req, sizeof(req), 1, 1, "u.1.1.0");
    send_all(fd, req, strlen(req));
    cr_assert_str_eq(read_answer(fd, 5000), "action=DUNNO\n\n");
    close(fd);
}

static int run(const char *const argv[], const char *input, char *out, size_t outlen)
{
    int in[2];
    int o[2];
    pid_t pid;
    int st;
    size_t len = 0;
    ssize_t n;

    cr_assert_eq(pipe(in), 0);
    cr_assert_eq(pipe(o), 0);
    if ((pid = fork()) == 0) {
        dup2(in[0], 0);
        dup2(o[1], 1);
        dup2(o[1], 2);
        close(in[1]);
        close(o[0]);
        execv(binary(), (char *const *)argv);
        _exit(127);
    }
    close(in[0]);
    close(o[1]);
    if (input)
        send_all(in[1], input, strlen(input));
    close(in[1]);
    while (len < outlen - 1 && (n = read(o[0], out + len, outlen - 1 - len)) > 0)
        len += (size_t)n;
    out[len] = 0;
    close(o[0]);
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Test(daemon, check_mode)
{
    static char out[8192];
    const char *argv[] = {"postseal-policyd", "-c", ini, "--check", NULL};

    write_ini(policy_ini);
    cr_assert_eq(run(argv, NULL, out, sizeof(out)), 0, "%s", out);
    cr_assert(strstr(out, "configuration OK") != NULL, "%s", out);
    write_ini("[policy]\nrequire_tls = yes\n\n[policy client 10.0.0.0/33]\noutcome = hold\n"
              "[policy]\nencryption_keysize = lots\n");
    cr_assert_eq(run(argv, NULL, out, sizeof(out)), 1);
    cr_assert(strstr(out, "postseal.ini:5: [policy client 10.0.0.0/33]") != NULL, "%s", out);
    cr_assert(strstr(out, "postseal.ini:7: encryption_keysize") != NULL, "%s", out);
    cr_assert(strstr(out, "2 error(s), configuration NOT OK") != NULL, "%s", out);
}

Test(daemon, explain_mode)
{
    static char out[8192];
    const char *argv[] = {"postseal-policyd", "-c", ini, "--explain", NULL};

    write_ini(policy_ini);
    cr_assert_eq(run(argv,
                     "client_address=192.0.2.1\nprotocol_state=RCPT\n"
                     "encryption_protocol=TLSv1.2\nencryption_keysize=112\n",
                     out, sizeof(out)),
                 0, "%s", out);
    cr_assert(strstr(out, "action=450 4.7.1 TLS cipher key size 112 below required 128 (rule ") !=
                  NULL,
              "%s", out);
    cr_assert(strstr(out, "postseal.ini:3 [policy]") != NULL, "%s", out);
    cr_assert_eq(run(argv, "garbage\n", out, sizeof(out)), 1);
}

Test(daemon, stdio_mode_serves_spawn_clients)
{
    static char out[8192];
    char a[1024];
    char b[1024];
    char both[2048];
    const char *argv[] = {"postseal-policyd", "-c", ini, "--stdio", NULL}; /* logs: syslog */

    write_ini(policy_ini);
    request(a, sizeof(a), 1, 1, "s.1.1.0");
    request(b, sizeof(b), 2, 0, "s.1.2.0");
    snprintf(both, sizeof(both), "%s%s", a, b);
    cr_assert_eq(run(argv, both, out, sizeof(out)), 0, "%s", out);
    cr_assert(strncmp(out, "action=DUNNO\n\naction=450 4.7.1 TLS required (rule ", 50) == 0, "%s",
              out);
    cr_assert(strstr(out, "postseal.ini:2)\n\n") != NULL, "%s", out);
}

Test(daemon, tcp_listener)
{
    const char *base = getenv("PS_PORT_BASE");
    char spec[64];
    char req[1024];
    struct sockaddr_in sin;
    int fd;
    int i;
    int port = (base ? atoi(base) : 10025) + 41;

    write_ini(policy_ini);
    snprintf(spec, sizeof(spec), "--listen=inet:%d", port); /* loopback by default */
    start(spec);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((unsigned short)port);
    sin.sin_addr.s_addr = htonl(0x7f000001);
    for (i = 0; i < 50; i++) {
        fd = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0)
            break;
        close(fd);
        fd = -1;
        usleep(50000);
    }
    cr_assert_geq(fd, 0);
    request(req, sizeof(req), 1, 1, "t.1.1.0");
    send_all(fd, req, strlen(req));
    cr_assert_str_eq(read_answer(fd, 5000), "action=DUNNO\n\n");
    close(fd);
}

Test(daemon, max_connections_closes_the_extra_ones)
{
    char req[1024];
    int a;
    int b;
    int c;

    write_ini("[policy]\nmax_connections = 2\n");
    start(NULL); /* start() connects and closes once to probe */
    usleep(100000);
    cr_assert_geq(a = connect_unix(), 0);
    cr_assert_geq(b = connect_unix(), 0);
    request(req, sizeof(req), 1, 1, "m.1.1.0");
    send_all(a, req, strlen(req));
    cr_assert_str_eq(read_answer(a, 5000), "action=DUNNO\n\n");
    send_all(b, req, strlen(req));
    cr_assert_str_eq(read_answer(b, 5000), "action=DUNNO\n\n");
    cr_assert_geq(c = connect_unix(), 0); /* the kernel accepts; the server closes */
    cr_assert(closed_by_server(c, 5000), "third connection not closed");
    send_all(a, req, strlen(req));
    cr_assert_str_eq(read_answer(a, 5000), "action=DUNNO\n\n");
    cr_assert(log_has("too many connections (max_connections 2)"), "%s", read_log());
    close(a);
    close(b);
    close(c);
}

Test(daemon, idle_connections_are_closed)
{
    char req[1024];
    int fd;

    write_ini("[policy]\nidle_timeout = 1s\n");
    start(NULL);
    cr_assert_geq(fd = connect_unix(), 0);
    request(req, sizeof(req), 1, 1, "i.1.1.0");
    send_all(fd, req, strlen(req));
    cr_assert_str_eq(read_answer(fd, 5000), "action=DUNNO\n\n");
    cr_assert(closed_by_server(fd, 4000), "idle connection kept");
    close(fd);
    cr_assert(log_has("idle timeout"), "%s", read_log());
}

Test(daemon, peer_that_does_not_read_answers_is_dropped_others_served)
{
    char req[1024];
    int good;
    int deaf;
    int i;
    int st;
    pid_t writer;

    write_ini(policy_ini); /* request_timeout = 2s */
    start(NULL);
    cr_assert_geq(good = connect_unix(), 0);
    cr_assert_geq(deaf = connect_unix(), 0);
    /* a writer that pipelines 20000 requests and never reads an answer: the
     * answers fill the socket, then the server's bounded output buffer */
    writer = fork();
    cr_assert_geq(writer, 0);
    if (writer == 0) {
        request(req, sizeof(req), 1, 1, "d.1.1.0");
        for (i = 0; i < 20000; i++)
            if (write(deaf, req, strlen(req)) < 0)
                _exit(0);
        _exit(1);
    }
    request(req, sizeof(req), 2, 1, "g.1.1.0");
    for (i = 0; i < 20; i++) {
        send_all(good, req, strlen(req));
        cr_assert_str_eq(read_answer(good, 1000), "action=DUNNO\n\n");
        usleep(50000);
    }
    waitpid(writer, &st, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the server never closed the deaf peer");
    send_all(good, req, strlen(req));
    cr_assert_str_eq(read_answer(good, 1000), "action=DUNNO\n\n");
    cr_assert(log_has("timeout: peer does not read its answers"));
    close(deaf);
    close(good);
}

/* A busy client whose input always ends in a half request (pipelining) is
 * making progress: it must not be taken for a slow client. */
Test(daemon, busy_pipelining_client_is_not_slow)
{
    char req[1024];
    size_t len;
    size_t half;
    struct timespec t0;
    struct timespec now;
    int fd;
    int n = 0;

    write_ini(policy_ini); /* request_timeout = 2s */
    start(NULL);
    cr_assert_geq(fd = connect_unix(), 0);
    request(req, sizeof(req), 1, 1, "b.1.1.0");
    len = strlen(req);
    half = len / 2;
    send_all(fd, req, half); /* from now on a half request is always pending */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        char two[2048];

        /* one write: the end of this request and the start of the next */
        memcpy(two, req + half, len - half);
        memcpy(two + len - half, req, half);
        send_all(fd, two, len);
        cr_assert_str_eq(read_answer(fd, 1000), "action=DUNNO\n\n", "after %d requests", n);
        n++;
        usleep(20000);
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while (now.tv_sec - t0.tv_sec < 4);
    cr_assert(!closed_by_server(fd, 0));
    close(fd);
}

Test(daemon, detaches_writes_pidfile_and_stops_on_sigterm)
{
    char spec[160];
    char pidpath[160];
    char req[1024];
    FILE *fp;
    int pid = 0;
    int fd;
    int i;
    pid_t child;
    int st;

    write_ini(policy_ini);
    snprintf(spec, sizeof(spec), "unix:%s", sock);
    snprintf(pidpath, sizeof(pidpath), "%s/policyd.pid", dir);
    child = fork();
    if (child == 0) {
        execl(binary(), "postseal-policyd", "-c", ini, "--listen", spec, "--pidfile", pidpath,
              (char *)NULL);
        _exit(127);
    }
    waitpid(child, &st, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the parent did not exit 0");
    for (i = 0; i < 100 && pid == 0; i++) {
        usleep(50000);
        if ((fp = fopen(pidpath, "r")) != NULL) {
            if (fscanf(fp, "%d", &pid) != 1)
                pid = 0;
            fclose(fp);
        }
    }
    cr_assert_gt(pid, 0, "no pid file");
    cr_assert_neq(pid, (int)child, "the pid file names the detached daemon");
    cr_assert_eq(kill(pid, 0), 0);
    cr_assert_geq(fd = connect_unix(), 0);
    request(req, sizeof(req), 1, 1, "x.1.1.0");
    send_all(fd, req, strlen(req));
    cr_assert_str_eq(read_answer(fd, 5000), "action=DUNNO\n\n");
    close(fd);
    kill(pid, SIGTERM);
    for (i = 0; i < 100 && kill(pid, 0) == 0; i++)
        usleep(50000);
    cr_assert_neq(kill(pid, 0), 0, "daemon still running after SIGTERM");
    cr_assert_neq(access(sock, F_OK), 0, "socket left behind");
    cr_assert_neq(access(pidpath, F_OK), 0, "pid file left behind");
}

/* A live socket is never stolen; a stale one (its server died) is replaced. */
Test(daemon, live_socket_is_kept_stale_socket_replaced)
{
    static char out[8192];
    char spec[160];
    char req[1024];
    pid_t first;
    int fd;
    int st;

    write_ini(policy_ini);
    start(NULL);
    first = daemon_pid;
    snprintf(spec, sizeof(spec), "unix:%s", sock);
    {
        const char *argv[] = {"postseal-policyd", "-c", ini, "-f", "--listen", spec, NULL};

        cr_assert_eq(run(argv, NULL, out, sizeof(out)), 1, "%s", out);
        cr_assert(strstr(out, "another server is listening there") != NULL, "%s", out);
    }
    cr_assert_geq(fd = connect_unix(), 0); /* the first daemon still serves */
    request(req, sizeof(req), 1, 1, "k.1.1.0");
    send_all(fd, req, strlen(req));
    cr_assert_str_eq(read_answer(fd, 5000), "action=DUNNO\n\n");
    close(fd);
    /* kill -9 leaves the socket file behind; a new daemon takes its place */
    kill(first, SIGKILL);
    waitpid(first, &st, 0);
    daemon_pid = 0;
    cr_assert_eq(access(sock, F_OK), 0, "no stale socket to test with");
    start(NULL);
    cr_assert_geq(fd = connect_unix(), 0);
    send_all(fd, req, strlen(req));
    cr_assert_str_eq(read_answer(fd, 5000), "action=DUNNO\n\n");
    close(fd);
}

/* A refusal goes to a remote SMTP client: by default it names the rule's file
 * without the directories, reply_detail = none drops the location, path
 * keeps the full path; the log always has the full FILE:LINE. */
Test(daemon, reply_detail_keeps_paths_out_of_smtp_replies)
{
    static const struct {
        const char *setting;
        const char *want;
    } t[] = {
        {"", "action=450 4.7.1 TLS required (rule postseal.ini:2)\n\n"},
        {"reply_detail = file\n", "action=450 4.7.1 TLS required (rule postseal.ini:2)\n\n"},
        {"reply_detail = none\n", "action=450 4.7.1 TLS required\n\n"},
        {"reply_detail = path\n", NULL},
    };
    char req[1024], text[512], full[300];
    const char *ans;
    size_t i;
    int fd;

    snprintf(full, sizeof(full), "action=450 4.7.1 TLS required (rule %s:2)\n\n", ini);
    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        snprintf(text, sizeof(text), "[policy]\nrequire_tls = yes\n%s", t[i].setting);
        write_ini(text);
        start(NULL);
        cr_assert_geq(fd = connect_unix(), 0);
        request(req, sizeof(req), 1, 0, "r.9.1.0");
        send_all(fd, req, strlen(req));
        ans = read_answer(fd, 5000);
        cr_assert_not_null(ans);
        cr_expect_str_eq(ans, t[i].want ? t[i].want : full, "case %zu", i);
        close(fd);
        snprintf(text, sizeof(text), "450 4.7.1 TLS required (rule %s:2)", ini);
        cr_expect(log_has(text), "case %zu: the log lacks the full location:\n%s", i, read_log());
        stop();
    }
}
