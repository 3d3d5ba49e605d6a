/* test_tlspolicyd: the real postseal-tlspolicyd binary over its unix socket:
 * answers, pipelining, split netstrings, every malformed or over-long netstring
 * closes that connection only, and Postfix's own socketmap client (postmap -q). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
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

#include "netstring.h"

#define BIN "policy/postseal-tlspolicyd"

static char dir[64];
static char sock[128];
static pid_t pid;

static void writefile(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");

    cr_assert_not_null(fp, "%s", path);
    fputs(text, fp);
    fclose(fp);
}

static int try_connect(void)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    snprintf(sa.sun_path, sizeof(sa.sun_path), "%.100s", sock);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -1;
    }
    {
        struct timeval tv = {5, 0};

        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    }
    return fd;
}

static void start(void)
{
    char ini[160];
    char text[512];
    int i, fd;

    snprintf(dir, sizeof(dir), "/tmp/test_tlspolicyd.%d", (int)getpid());
    mkdir(dir, 0700);
    snprintf(sock, sizeof(sock), "%s/tls.sock", dir);
    snprintf(ini, sizeof(ini), "%s/postseal.ini", dir);
    snprintf(text, sizeof(text),
             "[tlspolicy]\nlisten = unix:%s\ndefault = encrypt\nmin_cipher_bits = 128\n"
             "[tlspolicy example.com]\nlevel = secure\nmatch = mx.example.com\n"
             "[tlspolicy gone.example]\nlevel = encrypt\nbounce = yes\n",
             sock);
    writefile(ini, text);
    pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);

        dup2(null, 2);
        execl(BIN, BIN, "-f", "-c", ini, (char *)NULL);
        _exit(127);
    }
    for (i = 0; i < 100; i++) {
        if ((fd = try_connect()) >= 0) {
            close(fd);
            return;
        }
        usleep(20000);
    }
    cr_assert_fail("the daemon did not start listening on %s", sock);
}

static void stop(void)
{
    int st;

    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, &st, 0);
    }
    unlink(sock);
}

/* Sends raw bytes; reads until n bytes or EOF; returns the bytes read. */
static size_t exchange(int fd, const char *send, size_t len, char *out, size_t want)
{
    size_t got = 0;
    ssize_t n;

    if (len > 0)
        cr_assert_eq(write(fd, send, len), (ssize_t)len);
    while (got < want && (n = read(fd, out + got, want - got)) > 0)
        got += (size_t)n;
    out[got] = 0;
    return got;
}

static int at_eof(int fd)
{
    char c;

    return read(fd, &c, 1) == 0;
}

#define POLICY_DATA "secure protocols=>=TLSv1.2 ciphers=high exclude=3DES match=mx.example.com"
#define POLICY "OK " POLICY_DATA
#define DEFAULT_DATA "encrypt protocols=>=TLSv1.2 ciphers=high exclude=3DES"

TestSuite(tlspolicyd, .init = start, .fini = stop);

Test(tlspolicyd, answers_and_pipelining)
{
    char out[1024];
    char want[1024];
    const char *req = "21:tlspolicy example.com,27:transport user@gone.example,"
                      "21:transport a@b.example,23:tlspolicy other.example,";
    int fd = try_connect();

#define BOUNCE "OK error:5.7.1 delivery refused by local TLS policy"
    snprintf(want, sizeof(want), "%zu:%s,%zu:%s,9:NOTFOUND ,%zu:OK %s,", strlen(POLICY), POLICY,
             strlen(BOUNCE), BOUNCE, strlen(DEFAULT_DATA) + 3, DEFAULT_DATA);
    exchange(fd, req, strlen(req), out, strlen(want));
    cr_assert_str_eq(out, want);
    close(fd);
}

Test(tlspolicyd, netstring_split_over_many_writes)
{
    const char *req = "21:tlspolicy example.com,";
    char out[512];
    char want[256];
    size_t i;
    int fd = try_connect();

    for (i = 0; req[i]; i++) {
        cr_assert_eq(write(fd, req + i, 1), 1);
        usleep(2000);
    }
    snprintf(want, sizeof(want), "%zu:%s,", strlen(POLICY), POLICY);
    exchange(fd, "", 0, out, strlen(want));
    cr_assert_str_eq(out, want);
    close(fd);
}

Test(tlspolicyd, malformed_netstrings_close_that_connection_only)
{
    static const char *const bad[] = {
        "x:abc,",  /* not a length */
        "03:abc,", /* leading zero */
        "3;abc,",  /* no colon */
        "3:abcd",  /* no comma */
        "99999:",  /* above the request limit */
        "1200:",   /* above the request limit */
    };
    char out[512];
    char want[256];
    size_t i;
    int keep = try_connect();

    cr_assert(keep >= 0);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int fd = try_connect();

        cr_assert(fd >= 0);
        /* a good request first: answered, then the bad one: closed */
        snprintf(want, sizeof(want), "%zu:%s,", strlen(POLICY), POLICY);
        exchange(fd, "21:tlspolicy example.com,", 25, out, strlen(want));
        cr_assert_str_eq(out, want);
        cr_assert_eq(write(fd, bad[i], strlen(bad[i])), (ssize_t)strlen(bad[i]));
        cr_assert(at_eof(fd), "connection not closed after \"%s\"", bad[i]);
        close(fd);
    }
    /* the other connection and new ones are still served */
    exchange(keep, "21:tlspolicy example.com,", 25, out, strlen(POLICY) + 4);
    cr_assert(strstr(out, POLICY) != NULL, "%s", out);
    close(keep);
    keep = try_connect();
    exchange(keep, "21:tlspolicy example.com,", 25, out, strlen(POLICY) + 4);
    cr_assert(strstr(out, POLICY) != NULL, "%s", out);
    close(keep);
}

Test(tlspolicyd, request_limit_exactly)
{
    /* a key of TLSP_MAX_KEY (1000) bytes: a 1010-byte request is answered; a
     * netstring announcing more than TLSP_MAX_REQUEST (1100) closes at once */
    char req[1200];
    char out[256];
    char want[128];
    int fd = try_connect();
    size_t n;

    n = (size_t)snprintf(req, sizeof(req), "1010:tlspolicy ");
    memset(req + n, 'a', 1000);
    req[n + 1000] = ',';
    snprintf(want, sizeof(want), "%zu:OK %s,", strlen(DEFAULT_DATA) + 3, DEFAULT_DATA);
    exchange(fd, req, n + 1001, out, strlen(want));
    cr_assert_str_eq(out, want);
    n = (size_t)snprintf(req, sizeof(req), "1101:tlspolicy ");
    memset(req + n, 'a', 1091);
    req[n + 1091] = ',';
    cr_assert_eq(write(fd, req, n + 1092), (ssize_t)(n + 1092));
    cr_assert(at_eof(fd));
    close(fd);
}

Test(tlspolicyd, postfix_socketmap_client)
{
    char cmd[512];
    char line[512];
    FILE *fp;
    char pf[160];

    if (access("/usr/sbin/postmap", X_OK) != 0)
        cr_skip_test("postmap not installed");
    snprintf(pf, sizeof(pf), "%s/main.cf", dir);
    writefile(pf, "compatibility_level = 3.6\n");
    snprintf(cmd, sizeof(cmd),
             "printf 'example.com\\nsub.other.example\\n' | /usr/sbin/postmap -c %s -q - "
             "socketmap:unix:%s:tlspolicy 2>&1",
             dir, sock);
    fp = popen(cmd, "r");
    cr_assert_not_null(fp);
    cr_assert_not_null(fgets(line, sizeof(line), fp));
    cr_assert_str_eq(line, "example.com\t" POLICY_DATA "\n");
    cr_assert_not_null(fgets(line, sizeof(line), fp));
    cr_assert_str_eq(line, "sub.other.example\t" DEFAULT_DATA "\n");
    cr_assert_eq(pclose(fp), 0);
    snprintf(cmd, sizeof(cmd),
             "/usr/sbin/postmap -c %s -q u@gone.example socketmap:unix:%s:transport", dir, sock);
    fp = popen(cmd, "r");
    cr_assert_not_null(fgets(line, sizeof(line), fp));
    cr_assert_str_eq(line, "error:5.7.1 delivery refused by local TLS policy\n");
    cr_assert_eq(pclose(fp), 0);
}

/* One request on a new connection; returns the reply payload. */
static const char *ask_once(const char *key)
{
    static char out[1024];
    static char payload[1024];
    struct netstring_view v;
    char req[256];
    size_t got = 0;
    ssize_t r;
    int fd = try_connect();
    int n;

    cr_assert(fd >= 0);
    n = snprintf(req, sizeof(req), "%zu:tlspolicy %s,", strlen(key) + 10, key);
    cr_assert_eq(write(fd, req, (size_t)n), n);
    while (netstring_parse(out, got, 1000, &v) == NETSTRING_MORE &&
           (r = read(fd, out + got, sizeof(out) - got)) > 0)
        got += (size_t)r;
    close(fd);
    cr_assert_eq(netstring_parse(out, got, 1000, &v), NETSTRING_OK);
    memcpy(payload, v.data, v.len);
    payload[v.len] = 0;
    return payload;
}

Test(tlspolicyd, sighup_reload_and_bad_config_kept_out)
{
    char ini[160];
    char text[512];
    int i;

    snprintf(ini, sizeof(ini), "%s/postseal.ini", dir);
    cr_assert_str_eq(ask_once("new.example"), "OK " DEFAULT_DATA);
    snprintf(text, sizeof(text),
             "[tlspolicy]\nlisten = unix:%s\ndefault = may\n"
             "[tlspolicy new.example]\nlevel = verify\n",
             sock);
    writefile(ini, text);
    kill(pid, SIGHUP);
    for (i = 0; i < 50; i++) {
        if (strcmp(ask_once("new.example"), "OK verify protocols=>=TLSv1.2 ciphers=high "
                                            "exclude=3DES") == 0)
            break;
        usleep(50000);
    }
    cr_assert_lt(i, 50, "the reload did not take effect");
    cr_assert_str_eq(ask_once("other.example"), "OK may");
    /* a broken file: the daemon keeps serving the previous configuration */
    writefile(ini, "[tlspolicy]\ndefault = maybe\n");
    kill(pid, SIGHUP);
    usleep(300000);
    cr_assert_str_eq(ask_once("other.example"), "OK may");
    cr_assert_eq(kill(pid, 0), 0, "the daemon died on a bad reload");
}
