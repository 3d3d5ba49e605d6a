/* test_reinject: the SMTP reinjection client against a real SMTP listener
 * (a forked server on 127.0.0.1 speaking scripted replies), and the sendmail
 * path through execv. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "reinject.h"

static char transcript[64];
static pid_t srv_pid;

/* Serves one connection: replies[0] is the greeting, then one reply per
 * command; after a 354 reply the data up to "." gets the next reply.
 * "HANG" = never answer; NULL = close.  Everything received goes to the
 * transcript file. */
static int srv_start(const char *const *replies)
{
    struct sockaddr_in sa = {0};
    socklen_t len = sizeof(sa);
    int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;

    snprintf(transcript, sizeof(transcript), "/tmp/test_reinject.%d.txt", (int)getpid());
    unlink(transcript);
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
    cr_assert_eq(listen(ls, 1), 0);
    getsockname(ls, (struct sockaddr *)&sa, &len);
    if ((srv_pid = fork()) == 0) {
        int c = accept(ls, NULL, NULL), i = 0, data = 0;
        FILE *in = fdopen(c, "r"), *log = fopen(transcript, "w");
        char line[4096];

        if (replies[i] == NULL)
            _exit(0);
        dprintf(c, "%s\r\n", replies[i++]);
        while (fgets(line, sizeof(line), in) != NULL) {
            fputs(line, log);
            fflush(log);
            if (data && strcmp(line, ".\r\n") != 0)
                continue;
            data = 0;
            if (replies[i] == NULL)
                break;
            if (strcmp(replies[i], "HANG") == 0) {
                sleep(30);
                break;
            }
            if (strncmp(replies[i], "354", 3) == 0)
                data = 1;
            dprintf(c, "%s\r\n", replies[i++]);
        }
        _exit(0);
    }
    close(ls);
    return ntohs(sa.sin_port);
}

static void srv_stop(void)
{
    int st;

    kill(srv_pid, SIGKILL);
    waitpid(srv_pid, &st, 0);
}

static char *slurp(const char *path)
{
    static char buf[65536];
    FILE *fp = fopen(path, "r");
    size_t n = 0;

    if (fp != NULL) {
        n = fread(buf, 1, sizeof(buf) - 1, fp);
        fclose(fp);
    }
    buf[n] = 0;
    return buf;
}

static int msgfd(const char *text)
{
    FILE *fp = tmpfile();
    int fd;

    fputs(text, fp);
    fflush(fp);
    fd = dup(fileno(fp));
    fclose(fp);
    return fd;
}

static struct reinject_conf conf(int port)
{
    struct reinject_conf c;
    char hp[32];

    memset(&c, 0, sizeof(c));
    snprintf(hp, sizeof(hp), "127.0.0.1:%d", port);
    cr_assert_eq(reinject_parse_hostport(&c, hp), 0);
    snprintf(c.helo, sizeof(c.helo), "filter.test");
    c.connect_timeout = 2;
    c.timeout = 2;
    return c;
}

static const char *const rcpts[] = {"b@example.org", "c@example.org"};

Test(reinject, delivers_with_crlf_and_dot_stuffing)
{
    const char *const script[] = {"220 hi",
                                  "250-hello\r\n250-8BITMIME\r\n250 SIZE",
                                  "250 2.1.0 ok",
                                  "250 2.1.5 ok",
                                  "250 2.1.5 ok",
                                  "354 go",
                                  "250 2.0.0 queued as X",
                                  "221 bye",
                                  NULL};
    struct reinject_conf c = conf(srv_start(script));
    struct ferr err;
    int fd = msgfd("Subject: t\n\n.hidden\nline\n..two\ncaf\xc3\xa9\nlast");
    int rc = reinject_send(&c, fd, "a@example.com", rcpts, 2, &err);

    srv_stop();
    cr_assert_eq(rc, FERR_OK, "%s", err.text);
    cr_assert_str_eq(slurp(transcript), "EHLO filter.test\r\n"
                                        "MAIL FROM:<a@example.com> BODY=8BITMIME\r\n"
                                        "RCPT TO:<b@example.org>\r\n"
                                        "RCPT TO:<c@example.org>\r\n"
                                        "DATA\r\n"
                                        "Subject: t\r\n\r\n..hidden\r\nline\r\n...two\r\n"
                                        "caf\xc3\xa9\r\nlast\r\n.\r\n"
                                        "QUIT\r\n");
    close(fd);
}

Test(reinject, null_sender_and_7bit)
{
    const char *const script[] = {"220 hi", "250 hello", "250 ok",  "250 ok",
                                  "354 go", "250 ok",    "221 bye", NULL};
    struct reinject_conf c = conf(srv_start(script));
    struct ferr err;
    int fd = msgfd("Subject: t\n\nx\n");
    int rc = reinject_send(&c, fd, "", rcpts, 1, &err);

    srv_stop();
    cr_assert_eq(rc, FERR_OK, "%s", err.text);
    cr_assert(strstr(slurp(transcript), "MAIL FROM:<>\r\n") != NULL);
    close(fd);
}

Test(reinject, utf8_addresses_use_smtputf8)
{
    const char *const script[] = {"220 hi",  "250-hello\r\n250-8BITMIME\r\n250 SMTPUTF8",
                                  "250 ok",  "250 ok",
                                  "354 go",  "250 ok",
                                  "221 bye", NULL};
    const char *const r[] = {"j\xc3\xb6rg@example.org"};
    struct reinject_conf c = conf(srv_start(script));
    struct ferr err;
    int fd = msgfd("Subject: t\n\nx\n");
    int rc = reinject_send(&c, fd, "a@example.com", r, 1, &err);

    srv_stop();
    cr_assert_eq(rc, FERR_OK, "%s", err.text);
    cr_assert(strstr(slurp(transcript), "MAIL FROM:<a@example.com> SMTPUTF8\r\nRCPT "
                                        "TO:<j\xc3\xb6rg@example.org>\r\n") != NULL,
              "%s", slurp(transcript));
    close(fd);
}

Test(reinject, temporary_rcpt_failure_is_75)
{
    const char *const script[] = {"220 hi",    "250 hello", "250 ok", "450 4.2.0 mailbox busy",
                                  "250 reset", NULL};
    struct reinject_conf c = conf(srv_start(script));
    struct ferr err;
    int fd = msgfd("Subject: t\n\nx\n");
    int rc = reinject_send(&c, fd, "a@example.com", rcpts, 2, &err);

    srv_stop();
    cr_assert_eq(rc, FERR_TEMP);
    cr_assert_eq(err.code, 75);
    cr_assert(strncmp(err.text, "4.2.0 mailbox busy", 18) == 0, "%s", err.text);
    cr_assert(strstr(slurp(transcript), "DATA") == NULL, "no DATA after a refused RCPT");
    close(fd);
}

Test(reinject, permanent_failure_keeps_the_servers_status)
{
    const char *const script[] = {"220 hi",  "250 hello", "250 ok",
                                  "250 ok",  "354 go",    "554 5.7.1 content refused",
                                  "221 bye", NULL};
    struct reinject_conf c = conf(srv_start(script));
    struct ferr err;
    int fd = msgfd("Subject: t\n\nx\n");
    int rc = reinject_send(&c, fd, "a@example.com", rcpts, 1, &err);

    srv_stop();
    cr_assert_eq(rc, FERR_PERM);
    cr_assert(strncmp(err.text, "5.7.1 content refused", 21) == 0, "%s", err.text);
    close(fd);
}

Test(reinject, permanent_failure_without_status_code)
{
    const char *const script[] = {"220 hi", "250 hello", "550 no such sender", NULL};
    struct reinject_conf c = conf(srv_start(script));
    struct ferr err;
    int fd = msgfd("Subject: t\n\nx\n");
    int rc = reinject_send(&c, fd, "a@example.com", rcpts, 1, &err);

    srv_stop();
    cr_assert_eq(rc, FERR_PERM);
    cr_assert(strncmp(err.text, "5.3.0 reinjection MAIL FROM refused", 35) == 0, "%s", err.text);
    close(fd);
}

Test(reinject, bad_greeting_and_garbage_are_75)
{
    const char *const s1[] = {"421 4.3.2 shutting down", NULL};
    const char *const s2[] = {"hello there", NULL};
    struct reinject_conf c = conf(srv_start(s1));
    struct ferr err;
    int fd = msgfd("Subject: t\n\nx\n");

    cr_assert_eq(reinject_send(&c, fd, "a@example.com", rcpts, 1, &err), FERR_TEMP);
    srv_stop();
    cr_assert(strncmp(err.text, "4.3.2 shutting down", 19) == 0, "%s", err.text);
    c = conf(srv_start(s2));
    cr_assert_eq(reinject_send(&c, fd, "a@example.com", rcpts, 1, &err), FERR_TEMP);
    srv_stop();
    cr_assert(strstr(err.text, "garbled reply") != NULL, "%s", err.text);
    close(fd);
}

Test(reinject, unreachable_is_75)
{
    const char *const script[] = {NULL};
    int port = srv_start(script); /* accepts once, then the port is closed */
    struct reinject_conf c;
    struct ferr err;
    int fd = msgfd("Subject: t\n\nx\n");

    srv_stop();
    c = conf(port);
    cr_assert_eq(reinject_send(&c, fd, "a@example.com", rcpts, 1, &err), FERR_TEMP);
    cr_assert(strncmp(err.text, "4.4.1 reinjection to 127.0.0.1:", 31) == 0, "%s", err.text);
    cr_assert(strstr(err.text, "Connection refused") != NULL, "%s", err.text);
    close(fd);
}

Test(reinject, silent_server_times_out_as_75)
{
    const char *const script[] = {"220 hi", "HANG", NULL};
    struct reinject_conf c = conf(srv_start(script));
    struct ferr err;
    int fd = msgfd("Subject: t\n\nx\n");
    time_t t0 = time(NULL);
    int rc = reinject_send(&c, fd, "a@example.com", rcpts, 1, &err);

    srv_stop();
    cr_assert_eq(rc, FERR_TEMP);
    cr_assert(strstr(err.text, "timed out after 2s") != NULL, "%s", err.text);
    cr_assert_leq(time(NULL) - t0, 4);
    close(fd);
}

Test(reinject, refuses_addresses_that_could_inject_commands)
{
    const char *const bad[] = {"b@example.org>\r\nRSET"};
    struct reinject_conf c = conf(25);
    struct ferr err;
    int fd = msgfd("x\n");

    cr_assert_eq(reinject_send(&c, fd, "a@example.com", bad, 1, &err), FERR_PERM);
    cr_assert(strncmp(err.text, "5.1.3", 5) == 0);
    close(fd);
}

Test(reinject, hostport_parsing)
{
    struct reinject_conf c;

    cr_assert_eq(reinject_parse_hostport(&c, "[::1]:10026"), 0);
    cr_assert_str_eq(c.host, "::1");
    cr_assert_str_eq(c.port, "10026");
    cr_assert_eq(reinject_parse_hostport(&c, "mx.example:25"), 0);
    cr_assert_str_eq(c.host, "mx.example");
    cr_assert_eq(reinject_parse_hostport(&c, "h:0"), -1);
    cr_assert_eq(reinject_parse_hostport(&c, "h:12x"), -1);
    cr_assert_eq(reinject_parse_hostport(&c, ":25"), -1);
    cr_assert_eq(reinject_parse_hostport(&c, "[::1"), -1);
}

/* sendmail: a stand-in program that records argv and stdin (execv, no shell) */
static void sendmail_script(const char *path, int status)
{
    FILE *fp = fopen(path, "w");

    fprintf(fp,
            "#!/bin/sh\nfor a in \"$@\"; do printf '[%%s]' \"$a\"; done > %s.args\n"
            "cat > %s.stdin\nexit %d\n",
            path, path, status);
    fclose(fp);
    chmod(path, 0755);
}

Test(reinject, sendmail_execv_arguments_and_status)
{
    char path[64], args[128];
    struct reinject_conf c;
    struct ferr err;
    int fd = msgfd("Subject: t\n\n.x\n");
    const char *const r[] = {"b@example.org", "-oi@evil.example"};

    snprintf(path, sizeof(path), "/tmp/test_reinject_sm.%d", (int)getpid());
    sendmail_script(path, 0);
    memset(&c, 0, sizeof(c));
    c.method = REINJECT_SENDMAIL;
    c.timeout = 5;
    c.sendmail_argv[0] = path;
    c.sendmail_argv[1] = "-C";
    c.sendmail_argv[2] = "/etc/x y";
    cr_assert_eq(reinject_send(&c, fd, "a@example.com", r, 2, &err), FERR_OK, "%s", err.text);
    snprintf(args, sizeof(args), "%s.args", path);
    cr_assert_str_eq(
        slurp(args),
        "[-C][/etc/x y][-G][-i][-f][a@example.com][--][b@example.org][-oi@evil.example]");
    snprintf(args, sizeof(args), "%s.stdin", path);
    cr_assert_str_eq(slurp(args), "Subject: t\n\n.x\n");
    sendmail_script(path, 75);
    cr_assert_eq(reinject_send(&c, fd, "a@example.com", r, 1, &err), FERR_TEMP);
    cr_assert(strstr(err.text, "exited with status 75") != NULL, "%s", err.text);
    sendmail_script(path, 1);
    cr_assert_eq(reinject_send(&c, fd, "a@example.com", r, 1, &err), FERR_TEMP,
                 "any failure of sendmail defers");
    c.sendmail_argv[0] = "/nonexistent/sendmail";
    cr_assert_eq(reinject_send(&c, fd, "a@example.com", r, 1, &err), FERR_TEMP);
    close(fd);
}

/* reinject_hold goes to the holding smtpd over SMTP even when the normal
 * path is sendmail, and without a holding smtpd it defers (75): a message
 * meant to be held is never delivered through the normal path instead. */
Test(reinject, hold_goes_to_the_holding_smtpd_or_defers)
{
    const char *const script[] = {"220 hi",       "250 hello", "250 2.1.0 ok",
                                  "250 2.1.5 ok", "354 go",    "250 2.0.0 queued as H",
                                  "221 bye",      NULL};
    struct reinject_conf hold = conf(srv_start(script)), normal, none;
    struct ferr err;
    int fd = msgfd("X-Postseal-Hold: test\nSubject: t\n\nbody\n"), rc;

    memset(&normal, 0, sizeof(normal));
    normal.method = REINJECT_SENDMAIL;
    normal.sendmail_argv[0] = (char *)"/nonexistent/sendmail";
    normal.connect_timeout = 2;
    normal.timeout = 2;
    snprintf(normal.helo, sizeof(normal.helo), "filter.test");
    rc = reinject_hold(&normal, &hold, fd, "a@example.com", rcpts, 1, &err);
    srv_stop();
    cr_assert_eq(rc, FERR_OK, "%s", err.text);
    cr_assert(strstr(slurp(transcript),
                     "RCPT TO:<b@example.org>\r\nDATA\r\nX-Postseal-Hold: test\r\n") != NULL);
    memset(&none, 0, sizeof(none));
    cr_assert_eq(reinject_hold(&normal, &none, fd, "a@example.com", rcpts, 1, &err), FERR_TEMP);
    cr_assert(strncmp(err.text, "4.3.5 hold requested but no hold_reinject", 41) == 0, "%s",
              err.text);
    close(fd);
}

/* ---- the DATA form against the byte-by-byte reference ---------------------------------------- */

/* The definition, one byte at a time: LF -> CRLF, '.' at a line start doubled. */
static size_t ref_form(const char *in, size_t n, char *out, int *bol)
{
    size_t i, o = 0;

    for (i = 0; i < n; i++) {
        if (*bol && in[i] == '.')
            out[o++] = '.';
        if (in[i] == '\n') {
            out[o++] = '\r';
            out[o++] = '\n';
            *bol = 1;
        } else {
            out[o++] = in[i];
            *bol = 0;
        }
    }
    return o;
}

/* in split into chunks at every cut (and the reference on the whole) agree */
static void form_agrees(const char *in, size_t n, size_t cut)
{
    char *want = malloc(2 * n + 1), *got = malloc(2 * n + 1);
    int b1 = 1, b2 = 1;
    size_t w = ref_form(in, n, want, &b1), g;

    cr_assert(want != NULL && got != NULL);
    g = reinject_smtp_form(in, cut, got, &b2);
    g += reinject_smtp_form(in + cut, n - cut, got + g, &b2);
    cr_assert_eq(g, w, "length %zu != %zu (n %zu, cut %zu)", g, w, n, cut);
    cr_assert(memcmp(got, want, w) == 0, "output differs (n %zu, cut %zu)", n, cut);
    cr_assert_eq(b1, b2);
    free(want);
    free(got);
}

Test(reinject, smtp_form_every_chunk_edge)
{
    /* a '.' line start right at the cut, a LF just before it, "\r\n" split, empty lines */
    static const char *const cases[] = {
        ".a\n.\n..\n\n.b", "x\n.y\r\n.\r\nz\n", "\n\n.\n", ".", "\n", "abc", "a\r\n\r\n.",
    };
    size_t i, cut;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        for (cut = 0; cut <= strlen(cases[i]); cut++)
            form_agrees(cases[i], strlen(cases[i]), cut);
}

Test(reinject, smtp_form_random_text)
{
    size_t n = 300000, i, k;
    char *buf = malloc(n);
    unsigned seed = 7;

    cr_assert_not_null(buf);
    for (k = 0; k < 20; k++) {
        for (i = 0; i < n; i++) { /* short lines, many dots, some CRs */
            unsigned r = (seed = seed * 1103515245 + 12345) >> 16;

            buf[i] = (char)(r % 7 == 0    ? '\n'
                            : r % 7 == 1  ? '.'
                            : r % 53 == 2 ? '\r'
                                          : 'a' + r % 26);
        }
        form_agrees(buf, n, (seed >> 8) % n);
    }
    free(buf);
}

/* A message of several read chunks (the client reads 256 KiB at a time) with
 * a '.' starting a line at each power-of-two offset from 4 KiB to 1 MiB, and
 * the LF before it, arrives exactly as the reference says. */
Test(reinject, big_message_dot_stuffed_across_reads)
{
    const char *const script[] = {"220 hi", "250 hello", "250 ok",  "250 ok",
                                  "354 go", "250 ok",    "221 bye", NULL};
    struct reinject_conf c = conf(srv_start(script));
    size_t n = (1 << 20) + 70000, i, w, got_n;
    char *msg = malloc(n), *want = malloc(2 * n + 16), *got;
    struct ferr err;
    FILE *fp = tmpfile();
    int fd, rc, bol = 1;
    size_t b;

    cr_assert(msg != NULL && want != NULL && fp != NULL);
    for (i = 0; i < n; i++)
        msg[i] = (char)(i % 77 == 76 ? '\n' : 'A' + i % 23);
    for (b = 4096; b <= (1 << 20); b *= 2) {
        msg[b - 1] = '\n';
        msg[b] = '.';
        msg[b + 1] = '\n';
        msg[b + 2] = '.';
    }
    msg[n - 1] = 'x'; /* no final LF: the client adds CRLF */
    fwrite(msg, 1, n, fp);
    fflush(fp);
    fd = dup(fileno(fp));
    fclose(fp);
    c.timeout = 10;
    rc = reinject_send(&c, fd, "a@example.com", rcpts, 1, &err);
    srv_stop();
    cr_assert_eq(rc, FERR_OK, "%s", err.text);
    w = ref_form(msg, n, want, &bol);
    memcpy(want + w, "\r\n.\r\nQUIT\r\n", 11);
    w += 11;
    fp = fopen(transcript, "r");
    cr_assert_not_null(fp);
    got = malloc(3 * n + 1);
    cr_assert_not_null(got);
    got_n = fread(got, 1, 3 * n, fp);
    got[got_n] = 0;
    fclose(fp);
    /* the transcript: the commands, then the data as sent */
    {
        const char *d = strstr(got, "DATA\r\n");

        cr_assert_not_null(d);
        d += 6;
        cr_assert_eq(got_n - (size_t)(d - got), w, "data length %zu, want %zu",
                     got_n - (size_t)(d - got), w);
        cr_assert(memcmp(d, want, w) == 0);
    }
    free(msg);
    free(want);
    free(got);
    close(fd);
}

/* A message in two files is one message: a line running over the file
 * boundary is not dot-stuffed in the middle, a line starting the second file
 * with '.' is, and an 8-bit byte in the second file alone asks for
 * BODY=8BITMIME. */
Test(reinject, two_files_are_one_message)
{
    const char *const script[] = {
        "220 hi", "250-hello\r\n250 8BITMIME", "250 ok", "250 ok", "354 go", "250 ok", "221 bye",
        NULL};
    struct reinject_conf c = conf(srv_start(script));
    struct ferr err;
    int fds[3] = {msgfd("Subject: t\n\nab"), msgfd(".c\n.d\n"), msgfd("caf\xc3\xa9")};
    int rc = reinject_sendv(&c, fds, 3, "a@example.com", rcpts, 1, &err);

    srv_stop();
    cr_assert_eq(rc, FERR_OK, "%s", err.text);
    cr_assert_str_eq(slurp(transcript), "EHLO filter.test\r\n"
                                        "MAIL FROM:<a@example.com> BODY=8BITMIME\r\n"
                                        "RCPT TO:<b@example.org>\r\n"
                                        "DATA\r\n"
                                        "Subject: t\r\n\r\nab.c\r\n..d\r\ncaf\xc3\xa9\r\n.\r\n"
                                        "QUIT\r\n");
    close(fds[0]);
    close(fds[1]);
    close(fds[2]);
}

Test(reinject, sendmail_takes_one_file_only)
{
    struct reinject_conf c;
    struct ferr err;
    int fds[2] = {msgfd("a\n"), msgfd("b\n")};

    memset(&c, 0, sizeof(c));
    c.method = REINJECT_SENDMAIL;
    c.sendmail_argv[0] = "/bin/true";
    c.timeout = 5;
    cr_assert_eq(reinject_sendv(&c, fds, 2, "a@example.com", rcpts, 1, &err), FERR_TEMP);
    cr_assert(strstr(err.text, "4.3.5") == err.text, "%s", err.text);
    close(fds[0]);
    close(fds[1]);
}

/* ---- one transaction fed while the message is made (reinject_tx) ---- */

/* Waits for the scripted server to end by itself (it stops at EOF). */
static void srv_wait(void)
{
    int st;

    waitpid(srv_pid, &st, 0);
}

/* What the server received after "DATA\r\n" (malloc'ed, *len bytes). */
static char *data_part(size_t *len)
{
    FILE *fp = fopen(transcript, "r");
    char *got = malloc(8 << 20), *d;
    size_t n;

    cr_assert(fp != NULL && got != NULL);
    n = fread(got, 1, (8 << 20) - 1, fp);
    fclose(fp);
    got[n] = 0;
    d = strstr(got, "DATA\r\n");
    cr_assert_not_null(d, "no DATA in the transcript");
    d += 6;
    *len = n - (size_t)(d - got);
    memmove(got, d, *len);
    return got;
}

/* The streamed transaction puts on the wire exactly what reinject_sendv sends
 * for the same bytes in files, however the producer cuts its writes. */
Test(reinject, tx_stream_is_byte_identical_to_the_file_path)
{
    const char *const script[] = {"220 hi", "250 hello", "250 ok",  "250 ok",
                                  "354 go", "250 ok",    "221 bye", NULL};
    const char hdr[] = "Subject: t\nX: y\n\n";
    size_t n = (1 << 20) + 70000, i, w, got_n, step;
    char *msg = malloc(n), *all = malloc(n + sizeof(hdr)), *want = malloc(2 * n + 64), *got;
    struct reinject_conf c;
    struct reinject_tx *tx;
    struct ferr err;
    int hfd = msgfd(hdr), rc, bol = 1;

    cr_assert(msg != NULL && all != NULL && want != NULL);
    srand(7);
    for (i = 0; i < n; i++)
        msg[i] = (char)(rand() % 40 == 0 ? '\n' : rand() % 9 == 0 ? '.' : 'a' + rand() % 26);
    msg[0] = '.'; /* the entity's first line starts with a dot */
    msg[n - 1] = 'z';
    memcpy(all, hdr, sizeof(hdr) - 1);
    memcpy(all + sizeof(hdr) - 1, msg, n);
    w = ref_form(all, n + sizeof(hdr) - 1, want, &bol);
    memcpy(want + w, "\r\n.\r\nQUIT\r\n", 11);
    w += 11;

    c = conf(srv_start(script));
    c.timeout = 10;
    tx = reinject_tx_new(&c, hfd, "a@example.com", rcpts, 1, &err);
    cr_assert_not_null(tx, "%s", err.text);
    for (i = 0; i < n; i += step) {
        step = (size_t)(rand() % 70000) + 1;
        if (step > n - i)
            step = n - i;
        cr_assert_eq(fwrite(msg + i, 1, step, reinject_tx_fp(tx)), step);
    }
    rc = reinject_tx_commit(tx, &err);
    srv_wait();
    cr_assert_eq(rc, FERR_OK, "%s", err.text);
    got = data_part(&got_n);
    cr_assert_eq(got_n, w, "data length %zu, want %zu", got_n, w);
    cr_assert(memcmp(got, want, w) == 0);
    free(got);
    free(msg), free(all), free(want);
    close(hfd);
}

/* A failure in the middle of the data (the producer gives up): the
 * connection is closed without the final ".", so the server drops the
 * transaction, and even a permanent cause becomes a deferral. */
Test(reinject, tx_abort_mid_data_sends_no_final_dot_and_defers)
{
    const char *const script[] = {"220 hi", "250 hello", "250 ok",  "250 ok",
                                  "354 go", "250 ok",    "221 bye", NULL};
    struct reinject_conf c = conf(srv_start(script));
    char *chunk = malloc(300000), *got;
    struct reinject_tx *tx;
    struct ferr err;
    int hfd = msgfd("Subject: t\n\n"), rc;
    size_t got_n;

    memset(chunk, 'x', 300000);
    chunk[299999] = '\n';
    tx = reinject_tx_new(&c, hfd, "a@example.com", rcpts, 1, &err);
    cr_assert_not_null(tx);
    cr_assert_eq(fwrite(chunk, 1, 300000, reinject_tx_fp(tx)), 300000u);
    cr_assert_eq(fflush(reinject_tx_fp(tx)), 0);
    ferr_set(&err, FERR_PERM, "5.7.1 the crypto failed");
    rc = reinject_tx_abort(tx, &err);
    srv_wait(); /* the server saw EOF */
    cr_assert_eq(rc, FERR_TEMP);
    cr_assert(strncmp(err.text, "4.3.0 the crypto failed", 23) == 0, "%s", err.text);
    got = data_part(&got_n);
    cr_assert_geq(got_n, 300000u, "the data had begun");
    cr_assert(strstr(got, "\n.\r\n") == NULL, "a final dot was sent");
    cr_assert(strstr(got, "QUIT") == NULL);
    free(got), free(chunk);
    close(hfd);
}

/* A refusal before DATA keeps the server's permanent status (nothing was
 * sent), and a stream that fails by itself names its own cause. */
Test(reinject, tx_refusal_before_data_stays_permanent)
{
    const char *const script[] = {"220 hi", "250 hello", "250 ok", "550 5.1.1 no such user", NULL};
    struct reinject_conf c = conf(srv_start(script));
    struct reinject_tx *tx;
    struct ferr err;
    int hfd = msgfd("Subject: t\n\n"), rc;

    tx = reinject_tx_new(&c, hfd, "a@example.com", rcpts, 1, &err);
    cr_assert_not_null(tx);
    fputs("body\n", reinject_tx_fp(tx));
    rc = reinject_tx_commit(tx, &err);
    srv_stop();
    cr_assert_eq(rc, FERR_PERM, "%s", err.text);
    cr_assert(strncmp(err.text, "5.1.1 no such user", 18) == 0, "%s", err.text);
    close(hfd);
}

/* The streamed entity must be 7-bit when the header did not ask for
 * BODY=8BITMIME: an 8-bit byte fails the transaction (no "."), deferred. */
Test(reinject, tx_8bit_entity_without_8bitmime_fails)
{
    const char *const script[] = {"220 hi", "250 hello", "250 ok",  "250 ok",
                                  "354 go", "250 ok",    "221 bye", NULL};
    struct reinject_conf c = conf(srv_start(script));
    struct reinject_tx *tx;
    struct ferr err;
    int hfd = msgfd("Subject: t\n\n"), rc;
    size_t got_n;
    char *got;

    tx = reinject_tx_new(&c, hfd, "a@example.com", rcpts, 1, &err);
    cr_assert_not_null(tx);
    fputs("caf\xc3\xa9\n", reinject_tx_fp(tx));
    rc = reinject_tx_commit(tx, &err);
    srv_wait();
    cr_assert_eq(rc, FERR_TEMP, "%s", err.text);
    cr_assert(strstr(err.text, "8-bit data in a 7-bit entity") != NULL, "%s", err.text);
    got = data_part(&got_n);
    cr_assert(strstr(got, ".\r\n") == NULL && strstr(got, "caf") == NULL, "%s", got);
    free(got);
    close(hfd);
}
