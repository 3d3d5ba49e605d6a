/*
 * reinject: the way back into Postfix after filtering.  Either an SMTP client
 * talking to the return smtpd (default 127.0.0.1:10026, configured in
 * master.cf without content_filter) or Postfix's sendmail started with execv.
 *
 * Contract: the message is streamed from its spool file in 256 KiB chunks
 * (converted whole-line-wise into one buffer, one write per chunk);
 * every connect, read and write is bounded by a timeout (poll); replies are
 * read with a bounded line length (SMTP_LINE) and line count.  Addresses with
 * CR, LF or '<' '>' are refused before anything is sent.
 *
 * Streaming (reinject_tx): the message's last part is written through a
 * stdio stream while it is produced (the crypto output); the dialogue starts
 * at its first byte, each chunk is converted and written at once (128 KiB
 * stdio buffer + 512 KiB conversion buffer, whatever the message size), and
 * it must be 7-bit unless the header file already asked for BODY=8BITMIME.
 * Abandoning the transaction closes the socket without the final "." (RFC
 * 5321 4.1.1.4: the server discards an unterminated message); once DATA has
 * begun every failure is FERR_TEMP.
 *
 * Failure: connection refused/timed out, 4xx, a garbled reply, an I/O error:
 * FERR_TEMP (the message stays in Postfix's queue); 5xx: FERR_PERM with the
 * server's enhanced status code (5.x.y) so the bounce says what the return
 * smtpd refused.  sendmail: any exit status but 0, a signal or the timeout is
 * FERR_TEMP.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "reinject.h"

#define SMTP_LINE 2048        /* longest reply line accepted */
#define SMTP_MAX_LINES 100    /* lines of one multi-line reply */
#define SMTP_BUF (256 * 1024) /* message bytes per read */

struct smtp {
    int fd;
    long timeout;
    char in[SMTP_LINE * 2];
    size_t inlen;
    char reply[SMTP_LINE]; /* last line of the last reply, for messages */
    int code;
    int ext_8bitmime, ext_smtputf8;
    char where[300];
};

int reinject_parse_hostport(struct reinject_conf *c, const char *value)
{
    const char *colon;
    size_t hlen;

    if (*value == '[') {
        const char *close = strchr(value, ']');

        if (close == NULL)
            return -1;
        hlen = (size_t)(close - value - 1);
        value++;
        colon = close[1] == ':' ? close + 1 : (close[1] == 0 ? NULL : close);
        if (colon != NULL && *colon != ':')
            return -1;
    } else {
        colon = strrchr(value, ':');
        hlen = colon ? (size_t)(colon - value) : strlen(value);
    }
    if (hlen == 0 || hlen >= sizeof(c->host))
        return -1;
    memcpy(c->host, value, hlen);
    c->host[hlen] = 0;
    if (colon != NULL) {
        const char *p = colon + 1;
        char *end;
        long port = strtol(p, &end, 10);

        if (*p == 0 || *end != 0 || port < 1 || port > 65535)
            return -1;
        snprintf(c->port, sizeof(c->port), "%ld", port);
    } else {
        snprintf(c->port, sizeof(c->port), "25");
    }
    return 0;
}

static int smtp_wait(struct smtp *s, short ev, struct ferr *err)
{
    struct pollfd p = {s->fd, ev, 0};
    int rc;

    do
        rc = poll(&p, 1, (int)(s->timeout * 1000));
    while (rc < 0 && errno == EINTR);
    if (rc == 0) {
        ferr_set(err, FERR_TEMP, "4.4.2 reinjection to %s: timed out after %lds", s->where,
                 s->timeout);
        return -1;
    }
    if (rc < 0) {
        ferr_set(err, FERR_TEMP, "4.3.0 reinjection: poll: %s", strerror(errno));
        return -1;
    }
    return 0;
}

static int smtp_connect(struct smtp *s, const struct reinject_conf *c, struct ferr *err)
{
    struct addrinfo hints = {0}, *res, *ai;
    int rc, soerr = 0;
    socklen_t len = sizeof(soerr);

    snprintf(s->where, sizeof(s->where), "%s:%s", c->host, c->port);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    if ((rc = getaddrinfo(c->host, c->port, &hints, &res)) != 0) {
        ferr_set(err, FERR_TEMP, "4.4.3 reinjection to %s: %s", s->where, gai_strerror(rc));
        return -1;
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        s->fd =
            socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
        if (s->fd < 0)
            continue;
        s->timeout = c->connect_timeout;
        if (connect(s->fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
            (errno == EINPROGRESS && smtp_wait(s, POLLOUT, err) == 0 &&
             getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 && soerr == 0)) {
            freeaddrinfo(res);
            s->timeout = c->timeout;
            return 0;
        }
        if (soerr != 0)
            errno = soerr;
        if (err->code == FERR_OK)
            ferr_set(err, FERR_TEMP, "4.4.1 reinjection to %s failed: %s", s->where,
                     strerror(errno));
        close(s->fd);
        s->fd = -1;
    }
    freeaddrinfo(res);
    if (err->code == FERR_OK)
        ferr_set(err, FERR_TEMP, "4.4.1 reinjection to %s failed: no usable address", s->where);
    return -1;
}

static int smtp_write(struct smtp *s, const char *buf, size_t n, struct ferr *err)
{
    while (n > 0) {
        ssize_t w = write(s->fd, buf, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (smtp_wait(s, POLLOUT, err) < 0)
                return -1;
            continue;
        }
        if (w < 0) {
            ferr_set(err, FERR_TEMP, "4.4.2 reinjection to %s: write: %s", s->where,
                     strerror(errno));
            return -1;
        }
        buf += w;
        n -= (size_t)w;
    }
    return 0;
}

/* One reply line (CRLF or LF stripped) into line. */
static int smtp_getline(struct smtp *s, char *line, struct ferr *err)
{
    char *lf;

    for (;;) {
        if ((lf = memchr(s->in, '\n', s->inlen)) != NULL) {
            size_t n = (size_t)(lf - s->in);

            if (n >= SMTP_LINE)
                break;
            memcpy(line, s->in, n);
            line[n] = 0;
            if (n > 0 && line[n - 1] == '\r')
                line[n - 1] = 0;
            memmove(s->in, lf + 1, s->inlen - n - 1);
            s->inlen -= n + 1;
            return 0;
        }
        if (s->inlen >= SMTP_LINE)
            break;
        if (smtp_wait(s, POLLIN, err) < 0)
            return -1;
        {
            ssize_t r = read(s->fd, s->in + s->inlen, sizeof(s->in) - s->inlen);

            if (r < 0 && (errno == EINTR || errno == EAGAIN))
                continue;
            if (r <= 0) {
                ferr_set(err, FERR_TEMP, "4.4.2 reinjection to %s: connection lost%s%s", s->where,
                         r < 0 ? ": " : "", r < 0 ? strerror(errno) : "");
                return -1;
            }
            s->inlen += (size_t)r;
        }
    }
    ferr_set(err, FERR_TEMP, "4.4.2 reinjection to %s: reply line too long", s->where);
    return -1;
}

/* Reads a complete reply: s->code, s->reply (last line); EHLO extensions. */
static int smtp_reply(struct smtp *s, int ehlo, struct ferr *err)
{
    char line[SMTP_LINE];
    int i;

    for (i = 0; i < SMTP_MAX_LINES; i++) {
        if (smtp_getline(s, line, err) < 0)
            return -1;
        if (strlen(line) < 3 || !isdigit((unsigned char)line[0]) ||
            !isdigit((unsigned char)line[1]) || !isdigit((unsigned char)line[2]) ||
            (line[3] != 0 && line[3] != ' ' && line[3] != '-')) {
            ferr_set(err, FERR_TEMP, "4.4.2 reinjection to %s: garbled reply \"%.100s\"", s->where,
                     line);
            return -1;
        }
        if (ehlo && i > 0) {
            if (strncasecmp(line + 4, "8BITMIME", 8) == 0)
                s->ext_8bitmime = 1;
            if (strncasecmp(line + 4, "SMTPUTF8", 8) == 0)
                s->ext_smtputf8 = 1;
        }
        if (line[3] != '-') {
            s->code = atoi(line);
            snprintf(s->reply, sizeof(s->reply), "%s", line);
            return 0;
        }
    }
    ferr_set(err, FERR_TEMP, "4.4.2 reinjection to %s: reply with more than %d lines", s->where,
             SMTP_MAX_LINES);
    return -1;
}

/* Turns an unexpected reply into the filter's result. */
static int smtp_fail(struct smtp *s, const char *cmd, struct ferr *err)
{
    const char *text = s->reply + (strlen(s->reply) > 4 ? 4 : strlen(s->reply));
    const char *p = text;
    int has_status = (*p == '4' || *p == '5') && p[1] == '.';

    if (s->code >= 500 && s->code < 600) {
        if (has_status && *p == '5')
            ferr_set(err, FERR_PERM, "%s (reinjection %s refused by %s)", text, cmd, s->where);
        else
            ferr_set(err, FERR_PERM, "5.3.0 reinjection %s refused by %s: %s", cmd, s->where,
                     s->reply);
    } else if (has_status && *p == '4') {
        ferr_set(err, FERR_TEMP, "%s (reinjection %s deferred by %s)", text, cmd, s->where);
    } else {
        ferr_set(err, FERR_TEMP, "4.3.0 reinjection %s deferred by %s: %s", cmd, s->where,
                 s->reply);
    }
    return -1;
}

static int smtp_cmd(struct smtp *s, const char *cmd, const char *what, int want, struct ferr *err)
{
    char line[SMTP_LINE + 8];

    snprintf(line, sizeof(line), "%s\r\n", cmd);
    if (smtp_write(s, line, strlen(line), err) < 0 || smtp_reply(s, 0, err) < 0)
        return -1;
    if (s->code / 100 != want)
        return smtp_fail(s, what, err);
    return 0;
}

static int smtp_addr_ok(const char *a)
{
    for (; *a; a++)
        if (*a == '\r' || *a == '\n' || *a == '<' || *a == '>')
            return 0;
    return 1;
}

/* The SMTP form of in[0..n) into out (room for 2 * n bytes: every byte
 * becomes at most two): LF -> CRLF, a '.' starting a line doubled.  *bol
 * says whether in[0] starts a line and is updated for the next chunk, so
 * lines may span chunks.  Whole lines are copied with memchr and memcpy, no
 * per-byte work.  Returns the output length. */
size_t reinject_smtp_form(const char *in, size_t n, char *out, int *bol)
{
    const char *p = in, *e = in + n, *nl;
    size_t o = 0, len;

    while (p < e) {
        if (*bol && *p == '.')
            out[o++] = '.';
        nl = memchr(p, '\n', (size_t)(e - p));
        len = (size_t)((nl ? nl : e) - p);
        memcpy(out + o, p, len);
        o += len;
        if (nl == NULL) {
            *bol = 0;
            break;
        }
        out[o++] = '\r';
        out[o++] = '\n';
        *bol = 1;
        p = nl + 1;
    }
    return o;
}

/* Streams the files as CRLF text, dot-stuffed; *bol carries the line state. */
static int smtp_data_files(struct smtp *s, const int *fds, size_t nfds, int *bol, struct ferr *err)
{
    char *in = malloc(SMTP_BUF), *out = malloc(2 * SMTP_BUF);
    off_t off = 0;
    int rc = -1;
    size_t f = 0;

    if (in == NULL || out == NULL) {
        ferr_set(err, FERR_TEMP, "4.3.0 out of memory");
        goto done;
    }
    while (f < nfds) {
        ssize_t n = pread(fds[f], in, SMTP_BUF, off);
        size_t o;

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            ferr_set(err, FERR_TEMP, "4.3.0 reading the message: %s", strerror(errno));
            goto done;
        }
        if (n == 0) { /* the next file continues the same message */
            f++;
            off = 0;
            continue;
        }
        off += n;
        o = reinject_smtp_form(in, (size_t)n, out, bol);
        if (smtp_write(s, out, o, err) < 0)
            goto done;
    }
    rc = 0;
done:
    free(in);
    free(out);
    return rc;
}

/* Ends the data with CRLF "." CRLF and reads the server's verdict. */
static int smtp_data_end(struct smtp *s, int bol, struct ferr *err)
{
    if (!bol && smtp_write(s, "\r\n", 2, err) < 0)
        return -1;
    if (smtp_write(s, ".\r\n", 3, err) < 0 || smtp_reply(s, 0, err) < 0)
        return -1;
    if (s->code / 100 != 2)
        return smtp_fail(s, "of the message", err);
    return 0;
}

/* 1 if any byte of fd has the high bit set (BODY=8BITMIME); eight bytes
 * at a time.  A read error counts as 8-bit (the data phase reports it). */
static int smtp_has_8bit(int fd)
{
    char *buf = malloc(SMTP_BUF);
    off_t off = 0;
    ssize_t n;
    int eight = 0;

    if (buf == NULL)
        return 1;
    while (!eight && (n = pread(fd, buf, SMTP_BUF, off)) != 0) {
        uint64_t acc = 0, w;
        ssize_t i = 0;

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            eight = 1;
            break;
        }
        for (; i + 8 <= n; i += 8) {
            memcpy(&w, buf + i, 8);
            acc |= w;
        }
        for (; i < n; i++)
            acc |= (unsigned char)buf[i];
        eight = (acc & 0x8080808080808080ULL) != 0;
        off += n;
    }
    free(buf);
    return eight;
}

static int smtp_has_utf8(const char *a)
{
    for (; *a; a++)
        if ((unsigned char)*a >= 0x80)
            return 1;
    return 0;
}

/* Connects and runs the dialogue up to the server's 354 for DATA; s->fd is
 * open afterwards even on failure (the caller closes it). */
static int smtp_open(struct smtp *s, const struct reinject_conf *c, int eight, const char *sender,
                     const char *const *rcpts, size_t n, struct ferr *err)
{
    char cmd[SMTP_LINE];
    size_t i;
    int utf8;

    memset(s, 0, sizeof(*s));
    s->fd = -1;
    if (smtp_connect(s, c, err) < 0 || smtp_reply(s, 0, err) < 0)
        return -1;
    if (s->code != 220)
        return smtp_fail(s, "greeting", err);
    snprintf(cmd, sizeof(cmd), "EHLO %s\r\n", c->helo);
    if (smtp_write(s, cmd, strlen(cmd), err) < 0 || smtp_reply(s, 1, err) < 0)
        return -1;
    if (s->code != 250)
        return smtp_fail(s, "EHLO", err);
    /* an address with UTF-8 needs SMTPUTF8 (RFC 6531); without the
     * extension the server refuses it itself */
    utf8 = smtp_has_utf8(sender);
    for (i = 0; i < n; i++)
        utf8 |= smtp_has_utf8(rcpts[i]);
    snprintf(cmd, sizeof(cmd), "MAIL FROM:<%s>%s%s", sender,
             eight && s->ext_8bitmime ? " BODY=8BITMIME" : "",
             utf8 && s->ext_smtputf8 ? " SMTPUTF8" : "");
    if (smtp_cmd(s, cmd, "MAIL FROM", 2, err) < 0)
        return -1;
    for (i = 0; i < n; i++) {
        snprintf(cmd, sizeof(cmd), "RCPT TO:<%s>", rcpts[i]);
        if (smtp_cmd(s, cmd, "RCPT TO", 2, err) < 0)
            return -1;
    }
    return smtp_cmd(s, "DATA", "DATA", 3, err);
}

/* After the message was accepted (rc 0: QUIT, a failure changes nothing) or
 * a failure before DATA (QUIT, best effort); always closes. */
static void smtp_close(struct smtp *s, int rc)
{
    if (rc == 0)
        smtp_cmd(s, "QUIT", "QUIT", 2, &(struct ferr){0});
    else if (s->fd >= 0)
        (void)!write(s->fd, "QUIT\r\n", 6);
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
}

static int reinject_smtp(const struct reinject_conf *c, const int *fds, size_t nfds,
                         const char *sender, const char *const *rcpts, size_t n, struct ferr *err)
{
    struct smtp s;
    size_t i;
    int rc = -1, eight = 0, bol = 1;

    for (i = 0; i < nfds && !eight; i++)
        eight = smtp_has_8bit(fds[i]);
    if (smtp_open(&s, c, eight, sender, rcpts, n, err) == 0 &&
        smtp_data_files(&s, fds, nfds, &bol, err) == 0 && smtp_data_end(&s, bol, err) == 0)
        rc = 0;
    smtp_close(&s, rc);
    return rc == 0 ? FERR_OK : err->code;
}

static int reinject_sendmail(const struct reinject_conf *c, int fd, const char *sender,
                             const char *const *rcpts, size_t n, struct ferr *err)
{
    size_t na = 0, i;
    char **argv;
    pid_t pid;
    int status;
    time_t deadline;

    while (na < 31 && c->sendmail_argv[na] != NULL)
        na++;
    if (na == 0) {
        ferr_set(err, FERR_TEMP, "4.3.5 sendmail reinjection without a sendmail path");
        return FERR_TEMP;
    }
    if ((argv = calloc(na + n + 8, sizeof(*argv))) == NULL) {
        ferr_set(err, FERR_TEMP, "4.3.0 out of memory");
        return FERR_TEMP;
    }
    memcpy(argv, c->sendmail_argv, na * sizeof(*argv));
    argv[na++] = "-G";
    argv[na++] = "-i";
    argv[na++] = "-f";
    argv[na++] = (char *)sender;
    argv[na++] = "--";
    for (i = 0; i < n; i++)
        argv[na++] = (char *)rcpts[i];
    argv[na] = NULL;
    if (lseek(fd, 0, SEEK_SET) < 0 || (pid = fork()) < 0) {
        ferr_set(err, FERR_TEMP, "4.3.0 sendmail reinjection: %s", strerror(errno));
        free(argv);
        return FERR_TEMP;
    }
    if (pid == 0) {
        if (dup2(fd, 0) < 0)
            _exit(75);
        execv(argv[0], argv);
        fprintf(stderr, "postseal-filter: execv %s: %s\n", argv[0], strerror(errno));
        _exit(75);
    }
    free(argv);
    deadline = time(NULL) + c->timeout;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);

        if (w == pid)
            break;
        if (w < 0 && errno != EINTR) {
            ferr_set(err, FERR_TEMP, "4.3.0 sendmail reinjection: waitpid: %s", strerror(errno));
            return FERR_TEMP;
        }
        if (time(NULL) > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            ferr_set(err, FERR_TEMP, "4.4.2 sendmail reinjection timed out after %lds", c->timeout);
            return FERR_TEMP;
        }
        usleep(20000);
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return FERR_OK;
    if (WIFEXITED(status))
        ferr_set(err, FERR_TEMP, "4.3.0 sendmail reinjection (%s) exited with status %d",
                 c->sendmail_argv[0], WEXITSTATUS(status));
    else
        ferr_set(err, FERR_TEMP, "4.3.0 sendmail reinjection (%s) killed by signal %d",
                 c->sendmail_argv[0], WTERMSIG(status));
    return FERR_TEMP;
}

int reinject_send(const struct reinject_conf *c, int fd, const char *sender,
                  const char *const *rcpts, size_t n, struct ferr *err)
{
    return reinject_sendv(c, &fd, 1, sender, rcpts, n, err);
}

int reinject_sendv(const struct reinject_conf *c, const int *fds, size_t nfds, const char *sender,
                   const char *const *rcpts, size_t n, struct ferr *err)
{
    size_t i;

    ferr_clear(err);
    if (n == 0)
        return FERR_OK;
    if (!smtp_addr_ok(sender)) {
        ferr_set(err, FERR_PERM, "5.1.7 invalid sender address");
        return FERR_PERM;
    }
    for (i = 0; i < n; i++)
        if (!smtp_addr_ok(rcpts[i]) || *rcpts[i] == 0) {
            ferr_set(err, FERR_PERM, "5.1.3 invalid recipient address");
            return FERR_PERM;
        }
    if (c->method == REINJECT_SENDMAIL) {
        if (nfds != 1) {
            ferr_set(err, FERR_TEMP, "4.3.5 sendmail reinjection of a message in %zu parts", nfds);
            return FERR_TEMP;
        }
        return reinject_sendmail(c, fds[0], sender, rcpts, n, err);
    }
    return reinject_smtp(c, fds, nfds, sender, rcpts, n, err);
}

int reinject_hold(const struct reinject_conf *c, const struct reinject_conf *hold, int fd,
                  const char *sender, const char *const *rcpts, size_t n, struct ferr *err)
{
    struct reinject_conf hc = *c;

    ferr_clear(err);
    if (hold == NULL || hold->host[0] == 0) {
        /* never deliver what was meant to be held */
        ferr_set(err, FERR_TEMP, "4.3.5 hold requested but no hold_reinject configured");
        return FERR_TEMP;
    }
    hc.method = REINJECT_SMTP;
    memcpy(hc.host, hold->host, sizeof(hc.host));
    memcpy(hc.port, hold->port, sizeof(hc.port));
    return reinject_send(&hc, fd, sender, rcpts, n, err);
}

/* ---- one SMTP transaction fed while the message is being made ---- */

struct reinject_tx {
    struct reinject_conf c;
    int hdr_fd;
    const char *sender;
    const char *const *rcpts;
    size_t n;
    struct smtp s;
    int state; /* TX_NEW, TX_DATA (354 seen, data flowing), TX_FAILED */
    int bol, eight;
    long long sent, fail_after; /* fail_after: test hook, < 0 = off */
    struct ferr err;            /* the first failure */
    FILE *fp;
    char *out;
    char buf[1]; /* the stdio buffer (TX_FPBUF bytes) */
};

enum { TX_NEW, TX_DATA, TX_FAILED };
#define TX_FPBUF (128 * 1024)

/* Up to the 354, then the header file: the transaction starts on the first
 * byte of the entity, so everything decided before (keys, recipient
 * certificates) can still fail without a transaction. */
static int tx_start(struct reinject_tx *tx)
{
    int fds[1] = {tx->hdr_fd};

    if (smtp_open(&tx->s, &tx->c, tx->eight, tx->sender, tx->rcpts, tx->n, &tx->err) < 0) {
        smtp_close(&tx->s, -1);
        tx->state = TX_FAILED;
        return -1;
    }
    tx->state = TX_DATA;
    if (smtp_data_files(&tx->s, fds, 1, &tx->bol, &tx->err) < 0) {
        tx->state = TX_FAILED;
        return -1;
    }
    return 0;
}

static ssize_t tx_write(void *cookie, const char *buf, size_t size)
{
    struct reinject_tx *tx = cookie;
    uint64_t acc = 0, w;
    size_t i, take, o;

    if (tx->state == TX_FAILED || (tx->state == TX_NEW && tx_start(tx) < 0)) {
        errno = EIO;
        return -1;
    }
    if (tx->fail_after >= 0 && tx->sent + (long long)size > tx->fail_after) {
        ferr_set(&tx->err, FERR_TEMP, "4.3.0 test fault: the stream fails after %lld bytes",
                 tx->fail_after);
        tx->state = TX_FAILED;
        errno = EIO;
        return -1;
    }
    /* the entity was promised 7-bit (no BODY=8BITMIME for it): check */
    for (i = 0; i + 8 <= size; i += 8) {
        memcpy(&w, buf + i, 8);
        acc |= w;
    }
    for (; i < size; i++)
        acc |= (unsigned char)buf[i];
    if ((acc & 0x8080808080808080ULL) != 0 && !(tx->eight && tx->s.ext_8bitmime)) {
        ferr_set(&tx->err, FERR_TEMP, "4.3.0 reinjection: 8-bit data in a 7-bit entity");
        tx->state = TX_FAILED;
        errno = EIO;
        return -1;
    }
    for (i = 0; i < size; i += take) {
        take = size - i < SMTP_BUF ? size - i : SMTP_BUF;
        o = reinject_smtp_form(buf + i, take, tx->out, &tx->bol);
        if (smtp_write(&tx->s, tx->out, o, &tx->err) < 0) {
            tx->state = TX_FAILED;
            errno = EIO;
            return -1;
        }
    }
    tx->sent += (long long)size;
    return (ssize_t)size;
}

static int tx_close(void *cookie)
{
    (void)cookie;
    return 0;
}

struct reinject_tx *reinject_tx_new(const struct reinject_conf *c, int hdr_fd, const char *sender,
                                    const char *const *rcpts, size_t n, struct ferr *err)
{
    cookie_io_functions_t io = {NULL, tx_write, NULL, tx_close};
    struct reinject_tx *tx;
    const char *hook = getenv("POSTSEAL_TEST_STREAM_FAIL_AFTER");
    size_t i;

    ferr_clear(err);
    if (c->method != REINJECT_SMTP || n == 0) {
        ferr_set(err, FERR_TEMP, "4.3.5 streamed reinjection needs SMTP and recipients");
        return NULL;
    }
    if (!smtp_addr_ok(sender)) {
        ferr_set(err, FERR_PERM, "5.1.7 invalid sender address");
        return NULL;
    }
    for (i = 0; i < n; i++)
        if (!smtp_addr_ok(rcpts[i]) || *rcpts[i] == 0) {
            ferr_set(err, FERR_PERM, "5.1.3 invalid recipient address");
            return NULL;
        }
    if ((tx = calloc(1, sizeof(*tx) + TX_FPBUF)) == NULL ||
        (tx->out = malloc(2 * SMTP_BUF)) == NULL) {
        free(tx);
        ferr_set(err, FERR_TEMP, "4.3.0 out of memory");
        return NULL;
    }
    tx->c = *c;
    tx->hdr_fd = hdr_fd;
    tx->sender = sender;
    tx->rcpts = rcpts;
    tx->n = n;
    tx->s.fd = -1;
    tx->bol = 1;
    tx->eight = smtp_has_8bit(hdr_fd);
    tx->fail_after = hook != NULL && *hook ? atoll(hook) : -1;
    if ((tx->fp = fopencookie(tx, "w", io)) == NULL ||
        setvbuf(tx->fp, tx->buf, _IOFBF, TX_FPBUF) != 0) {
        if (tx->fp)
            fclose(tx->fp);
        free(tx->out);
        free(tx);
        ferr_set(err, FERR_TEMP, "4.3.0 out of memory");
        return NULL;
    }
    return tx;
}

FILE *reinject_tx_fp(struct reinject_tx *tx)
{
    return tx->fp;
}

static void tx_free(struct reinject_tx *tx)
{
    if (tx->fp != NULL) {
        tx->state = TX_FAILED; /* fclose's flush must send nothing more */
        fclose(tx->fp);
    }
    if (tx->s.fd >= 0)
        close(tx->s.fd); /* no "." was sent: the server drops the transaction */
    free(tx->out);
    free(tx);
}

int reinject_tx_commit(struct reinject_tx *tx, struct ferr *err)
{
    int rc;

    ferr_clear(err);
    if (fflush(tx->fp) != 0 || tx->state == TX_FAILED ||
        (tx->state == TX_NEW && tx_start(tx) < 0)) {
        if (tx->err.code == FERR_OK)
            ferr_set(&tx->err, FERR_TEMP, "4.3.0 reinjection: %s", strerror(errno));
        return reinject_tx_abort(tx, err);
    }
    if (smtp_data_end(&tx->s, tx->bol, err) < 0) {
        rc = err->code;
        tx_free(tx);
        return rc;
    }
    smtp_close(&tx->s, 0);
    tx_free(tx);
    return FERR_OK;
}

int reinject_tx_abort(struct reinject_tx *tx, struct ferr *err)
{
    int data = tx->state != TX_NEW && tx->s.fd >= 0;
    char text[sizeof(err->text)];

    if (tx->err.code != FERR_OK) /* the stream failed: that is the cause */
        *err = tx->err;
    if (err->code == FERR_OK)
        ferr_set(err, FERR_TEMP, "4.3.0 reinjection abandoned");
    /* once data went out, no failure may bounce: the message was not delivered,
     * try again later (a permanent cause shows up before DATA next time) */
    if (data) {
        int perm = err->code != FERR_TEMP && strncmp(err->text, "5.", 2) == 0;

        snprintf(text, sizeof(text), "%s", err->text + (perm ? 6 : 0));
        ferr_set(err, FERR_TEMP, "%s%s (transaction abandoned, nothing delivered)",
                 perm || err->code != FERR_TEMP ? "4.3.0 " : "", text);
    }
    tx_free(tx);
    return err->code;
}
