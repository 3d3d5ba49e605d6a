/*
 * inbound_raw: passes on a message whose top-level header the strict MIME
 * parser refused (a line longer than 998 bytes, a line without a colon, a
 * NUL byte, too many fields...).  Such mail is common enough from outside
 * (long References lines, broken mailers) that bouncing it would be
 * backscatter to forged senders and lost mail for real ones; it carries
 * nothing postseal could decrypt or verify, so it is delivered as it came,
 * stamped like any plain message.
 *
 * Contract: inbound_raw_copy() copies [start, end) of fd to out, except that
 * in the header section (up to the first empty line, or the end) every field
 * that claims to be postseal's (X-Postseal-Verify, X-Postseal-Hold, and
 * Authentication-Results naming authserv_id) is dropped with its
 * continuation lines, and with a tag the first Subject becomes
 * "Subject: TAG original" (a Subject is added when there is none).  The
 * decision for a line is taken on its first INBOUND_RAW_PEEK bytes, so
 * memory stays bounded whatever the line lengths.
 * Failure: -1 on a read or write error (errno set).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "inbound_raw.h"

#define INBOUND_RAW_IO 65536
#define INBOUND_RAW_PEEK 320 /* enough for a field name and an authserv-id */

struct raw {
    const char *authserv_id;
    const char *tag;
    FILE *out;
    int in_header; /* still in the header section */
    int drop;      /* the current field is being dropped */
    int tagged;
    char peek[INBOUND_RAW_PEEK]; /* start of the current header line */
    size_t npeek;
    int undecided; /* collecting peek for a header line */
};

static int raw_name_eq(const char *name, size_t nlen, const char *want)
{
    return nlen == strlen(want) && strncasecmp(name, want, nlen) == 0;
}

int inbound_field_is_ours(const char *name, size_t nlen, const char *value, size_t vlen,
                          const char *authserv_id)
{
    size_t n;

    if (raw_name_eq(name, nlen, "X-Postseal-Verify") || raw_name_eq(name, nlen, "X-Postseal-Hold"))
        return 1;
    if (authserv_id == NULL || !raw_name_eq(name, nlen, "Authentication-Results"))
        return 0;
    while (vlen > 0 && (*value == ' ' || *value == '\t')) {
        value++;
        vlen--;
    }
    n = strlen(authserv_id);
    return vlen >= n && strncasecmp(value, authserv_id, n) == 0 &&
           (vlen == n || strchr("; \t\r\n", value[n]) != NULL);
}

/* A "Name:" line: *nlen = the name's length, *value = after the colon.
 * 0 when the line is no field (no colon after the name and its blanks). */
static int raw_field(const char *line, size_t len, size_t *nlen, const char **value)
{
    size_t i, n;

    for (n = 0; n < len && line[n] != ':' && line[n] != ' ' && line[n] != '\t'; n++)
        ;
    for (i = n; i < len && (line[i] == ' ' || line[i] == '\t'); i++)
        ;
    if (n == 0 || i == len || line[i] != ':')
        return 0;
    *nlen = n;
    *value = line + i + 1;
    return 1;
}

/* Decides on the collected start of a header line (continuations follow
 * the field's decision) and writes what is kept of it. */
static int raw_decide(struct raw *r)
{
    const char *line = r->peek, *v;
    size_t len = r->npeek, n, nlen;

    r->undecided = 0;
    if ((len == 1 && line[0] == '\n') || (len == 2 && line[0] == '\r' && line[1] == '\n')) {
        r->in_header = 0;
        r->drop = 0;
        if (r->tag && !r->tagged && fprintf(r->out, "Subject: %s\n", r->tag) < 0)
            return -1;
        return fwrite(line, 1, len, r->out) == len ? 0 : -1;
    }
    if (line[0] == ' ' || line[0] == '\t') /* continuation: as its field */
        return r->drop || fwrite(line, 1, len, r->out) == len ? 0 : -1;
    r->drop = 0;
    if (raw_field(line, len, &nlen, &v)) {
        if (inbound_field_is_ours(line, nlen, v, (size_t)(line + len - v), r->authserv_id)) {
            r->drop = 1;
        } else if (r->tag && !r->tagged && raw_name_eq(line, nlen, "Subject")) {
            r->tagged = 1;
            while (v < line + len && (*v == ' ' || *v == '\t'))
                v++;
            n = (size_t)(line + len - v);
            if (fprintf(r->out, "Subject: %s%s", r->tag, n && *v != '\r' && *v != '\n' ? " " : "") <
                    0 ||
                fwrite(v, 1, n, r->out) != n)
                return -1;
            return 0;
        }
    }
    return r->drop || fwrite(line, 1, len, r->out) == len ? 0 : -1;
}

/* Feeds buf[0..len) of the header section; returns the number of bytes
 * consumed (less than len when the header ended there), or -1. */
static ssize_t raw_header(struct raw *r, const char *buf, size_t len)
{
    size_t i = 0;

    while (i < len && r->in_header) {
        const char *nl;
        size_t take;

        if (r->undecided) {
            /* collect up to the newline or INBOUND_RAW_PEEK bytes */
            nl = memchr(buf + i, '\n', len - i);
            take = nl ? (size_t)(nl - (buf + i)) + 1 : len - i;
            if (take > sizeof(r->peek) - r->npeek)
                take = sizeof(r->peek) - r->npeek;
            memcpy(r->peek + r->npeek, buf + i, take);
            r->npeek += take;
            i += take;
            if (r->peek[r->npeek - 1] == '\n' || r->npeek == sizeof(r->peek)) {
                int ended = r->peek[r->npeek - 1] == '\n';

                if (raw_decide(r) < 0)
                    return -1;
                r->npeek = 0;
                r->undecided = ended; /* a long line goes on below */
            }
            continue;
        }
        /* the rest of a long line, kept or dropped as decided */
        nl = memchr(buf + i, '\n', len - i);
        take = nl ? (size_t)(nl - (buf + i)) + 1 : len - i;
        if (!r->drop && fwrite(buf + i, 1, take, r->out) != take)
            return -1;
        i += take;
        if (nl)
            r->undecided = 1;
    }
    return (ssize_t)i;
}

int inbound_raw_copy(int fd, off_t start, off_t end, const char *authserv_id, const char *tag,
                     FILE *out)
{
    struct raw r;
    char buf[INBOUND_RAW_IO];
    off_t off = start;

    memset(&r, 0, sizeof(r));
    r.authserv_id = authserv_id;
    r.tag = tag;
    r.out = out;
    r.in_header = 1;
    r.undecided = 1;
    while (off < end) {
        size_t want = (size_t)(end - off) < sizeof(buf) ? (size_t)(end - off) : sizeof(buf);
        ssize_t got = pread(fd, buf, want, off), used = 0;

        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            if (got == 0)
                errno = EIO;
            return -1;
        }
        if (r.in_header && (used = raw_header(&r, buf, (size_t)got)) < 0)
            return -1;
        if (used < got && fwrite(buf + used, 1, (size_t)(got - used), out) != (size_t)(got - used))
            return -1;
        off += got;
    }
    /* the message ended inside the header (no empty line, no body) */
    if (r.in_header && r.undecided && r.npeek > 0 && raw_decide(&r) < 0)
        return -1;
    return ferror(out) ? -1 : 0;
}
