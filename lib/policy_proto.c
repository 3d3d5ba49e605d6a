/*
 * policy_proto: the Postfix SMTPD policy delegation protocol, server side.
 *
 * A request is a series of "name=value\n" lines ended by an empty line; the
 * answer is "action=...\n\n".  Each line is split at the FIRST '=' (values may
 * contain '='), a trailing "\r" is tolerated, unknown names are ignored so the
 * protocol can grow.  Numbers are strict decimal (no sign, no trailing junk);
 * ccert_subject / ccert_issuer are xtext-decoded (Postfix sends the CN only,
 * space as "+20").
 *
 * Limits (each an error, never a truncation): PROTO_LINE_MAX bytes per line,
 * PROTO_REQUEST_MAX bytes per request, PROTO_ATTR_MAX lines per request.
 * Malformed: a line without '=', an empty name, a control character in a name,
 * a NUL byte anywhere, a known attribute given twice, a bad number or a bad
 * xtext escape, an empty request.  The scanner and the parser only report
 * (-1 and a message naming the line or attribute); the caller decides, and the
 * daemons drop that connection.  No allocation: the request is parsed in place.
 */
#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy_proto.h"

/* Sorted by name: the order of enum proto_attr. */
static const char *const proto_names[PA_COUNT] = {
    "ccert_fingerprint",
    "ccert_issuer",
    "ccert_pubkey_fingerprint",
    "ccert_subject",
    "client_address",
    "client_name",
    "client_port",
    "encryption_cipher",
    "encryption_keysize",
    "encryption_protocol",
    "helo_name",
    "instance",
    "protocol_name",
    "protocol_state",
    "queue_id",
    "recipient",
    "recipient_count",
    "request",
    "reverse_client_name",
    "sasl_method",
    "sasl_sender",
    "sasl_username",
    "sender",
    "server_address",
    "server_port",
    "size",
};

const char *proto_attr_name(enum proto_attr a)
{
    return (a >= 0 && a < PA_COUNT) ? proto_names[a] : "?";
}

/* Name lookup: a 64-bucket hash on (length, first, last byte), built once;
 * each bucket holds at most PROTO_CHAIN names, so a lookup costs one hash and
 * at most a few memcmp calls. */
#define PROTO_BUCKETS 64
#define PROTO_CHAIN 4
static signed char proto_table[PROTO_BUCKETS][PROTO_CHAIN];
static unsigned char proto_len[PA_COUNT];
static int proto_table_ready;

static unsigned proto_hash(const char *name, size_t len)
{
    return (unsigned)(len * 7 + (unsigned char)name[0] * 3 + (unsigned char)name[len - 1]) %
           PROTO_BUCKETS;
}

static void proto_table_init(void)
{
    int i;
    int j;

    memset(proto_table, -1, sizeof(proto_table));
    for (i = 0; i < PA_COUNT; i++) {
        unsigned h = proto_hash(proto_names[i], strlen(proto_names[i]));

        proto_len[i] = (unsigned char)strlen(proto_names[i]);

        for (j = 0; j < PROTO_CHAIN && proto_table[h][j] >= 0; j++)
            ;
        if (j == PROTO_CHAIN)
            abort(); /* a bug in this file: widen PROTO_CHAIN */
        proto_table[h][j] = (signed char)i;
    }
    proto_table_ready = 1;
}

static int proto_lookup(const char *name, size_t len)
{
    const signed char *b;
    int j;

    if (!proto_table_ready)
        proto_table_init();
    b = proto_table[proto_hash(name, len)];
    for (j = 0; j < PROTO_CHAIN && b[j] >= 0; j++)
        if (proto_len[b[j]] == len) {
            const char *k = proto_names[b[j]];
            size_t i = 0;

            while (i < len && k[i] == name[i])
                i++;
            if (i == len)
                return b[j];
        }
    return -1;
}

/* Byte search, 8 bytes at a time (SWAR) up to the word holding the match,
 * then bytewise: libc's memchr costs more in call and setup than the search
 * itself on lines this short (measured; a ctz on the match mask was slower
 * still).  PROTO_ZERO(w) is non-zero when a byte of w is 0.  Never reads
 * outside [p, end). */
#define PROTO_ONES 0x0101010101010101ULL
#define PROTO_HIGHS 0x8080808080808080ULL
#define PROTO_ZERO(w) (((w)-PROTO_ONES) & ~(w)&PROTO_HIGHS)

static const char *proto_find(const char *p, const char *end, unsigned char c)
{
    const uint64_t pat = PROTO_ONES * c;

    while (end - p >= 8) {
        uint64_t w;

        memcpy(&w, p, 8);
        if (PROTO_ZERO(w ^ pat) != 0)
            break;
        p += 8;
    }
    for (; p < end; p++)
        if ((unsigned char)*p == c)
            return p;
    return NULL;
}

/* Finds the next '\n' in [p, end) like proto_find, and sets *nul when a NUL
 * byte comes before it. */
static const char *proto_find_nl(const char *p, const char *end, int *nul)
{
    const uint64_t pat = PROTO_ONES * '\n';

    while (end - p >= 8) {
        uint64_t w;

        memcpy(&w, p, 8);
        if ((PROTO_ZERO(w ^ pat) | PROTO_ZERO(w)) != 0)
            break;
        p += 8;
    }
    for (; p < end; p++) {
        if (*p == '\n')
            return p;
        if (*p == 0)
            *nul = 1;
    }
    return NULL;
}

void proto_scan_reset(struct proto_scan *st)
{
    st->pos = 0;
    st->line_start = 0;
    st->lines = 0;
    st->nul = 0;
}

ssize_t proto_scan(struct proto_scan *st, const char *data, size_t len, char *err, size_t errlen)
{
    while (st->pos < len) {
        const char *nl = proto_find_nl(data + st->pos, data + len, &st->nul);
        size_t end;
        size_t linelen;

        if (nl == NULL) {
            st->pos = len;
            break;
        }
        end = (size_t)(nl - data);
        linelen = end - st->line_start;
        if (linelen > 0 && data[end - 1] == '\r')
            linelen--;
        if (linelen > PROTO_LINE_MAX) {
            snprintf(err, errlen, "line %zu longer than %d bytes", st->lines + 1, PROTO_LINE_MAX);
            return -1;
        }
        if (end + 1 > PROTO_REQUEST_MAX) {
            snprintf(err, errlen, "request larger than %d bytes", PROTO_REQUEST_MAX);
            return -1;
        }
        st->pos = end + 1;
        st->line_start = end + 1;
        if (linelen == 0) {
            if (st->lines == 0) {
                snprintf(err, errlen, "empty request (empty line without attributes)");
                return -1;
            }
            return (ssize_t)(end + 1);
        }
        if (st->lines < PROTO_SCAN_LINES)
            st->ends[st->lines] = (uint32_t)end;
        if (++st->lines > PROTO_ATTR_MAX) {
            snprintf(err, errlen, "more than %d attributes in one request", PROTO_ATTR_MAX);
            return -1;
        }
    }
    /* No end yet: check what is pending against the limits now, so an endless
     * line or request is refused as soon as it crosses the bound. */
    if (len - st->line_start > PROTO_LINE_MAX + 1) {
        snprintf(err, errlen, "line %zu longer than %d bytes", st->lines + 1, PROTO_LINE_MAX);
        return -1;
    }
    if (len > PROTO_REQUEST_MAX) {
        snprintf(err, errlen, "request larger than %d bytes", PROTO_REQUEST_MAX);
        return -1;
    }
    return 0;
}

static int proto_xdigit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int proto_xtext_decode(char *s)
{
    char *w = s;

    for (; *s; s++) {
        if (*s == '+') {
            int hi = proto_xdigit((unsigned char)s[1]);
            int lo = hi < 0 ? -1 : proto_xdigit((unsigned char)s[2]);

            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                return -1;
            *w++ = (char)(hi * 16 + lo);
            s += 2;
        } else {
            *w++ = *s;
        }
    }
    *w = 0;
    return 0;
}

/* Strict decimal: digits only, at most 18 of them; "" means absent (-1). */
static int proto_number(const char *v, long *out)
{
    size_t n = strlen(v);
    long x = 0;
    size_t i;

    if (n == 0) {
        *out = -1;
        return 0;
    }
    if (n > 18)
        return -1;
    for (i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        x = x * 10 + (v[i] - '0');
    }
    *out = x;
    return 0;
}

int proto_parse(char *data, size_t n, struct proto_req *req, char *err, size_t errlen)
{
    struct proto_scan st;
    ssize_t used;

    proto_scan_reset(&st);
    used = proto_scan(&st, data, n, err, errlen);
    if (used <= 0) {
        memset(req->attr, 0, sizeof(req->attr));
        req->nattrs = 0;
        if (used == 0)
            snprintf(err, errlen, "incomplete request (no empty line at the end)");
        return -1;
    }
    return proto_parse_scanned(&st, data, (size_t)used, req, err, errlen);
}

int proto_parse_scanned(const struct proto_scan *st, char *data, size_t n, struct proto_req *req,
                        char *err, size_t errlen)
{
    static const enum proto_attr numeric[] = {PA_ENCRYPTION_KEYSIZE, PA_CLIENT_PORT,
                                              PA_RECIPIENT_COUNT, PA_SIZE};
    long *numval[] = {&req->encryption_keysize, &req->client_port, &req->recipient_count,
                      &req->size};
    char *p = data;
    char *end = data + n;
    int line = 0;
    size_t i;

    memset(req->attr, 0, sizeof(req->attr));
    req->nattrs = 0;
    if (st->nul) {
        snprintf(err, errlen, "NUL byte in request");
        return -1;
    }
    while (p < end) {
        /* the scanner saw where the first lines end; beyond, search again */
        char *nl = (size_t)line < PROTO_SCAN_LINES && (size_t)line < st->lines
                       ? data + st->ends[line]
                       : (char *)proto_find(p, end, '\n');
        char *eq;
        int a;

        if (nl == NULL) /* cannot happen for a scanned request */
            nl = end;
        *nl = 0;
        if (nl > p && nl[-1] == '\r')
            nl[-1] = 0;
        line++;
        if (*p == 0)
            break; /* the final empty line */
        if ((eq = (char *)proto_find(p, nl, '=')) == NULL) {
            snprintf(err, errlen, "line %d: no '=' in \"%.60s\"", line, p);
            return -1;
        }
        if (eq == p) {
            snprintf(err, errlen, "line %d: empty attribute name", line);
            return -1;
        }
        a = proto_lookup(p, (size_t)(eq - p));
        if (a < 0) { /* a known name is valid by construction; check the others */
            const char *c;

            for (c = p; c < eq; c++) {
                if ((unsigned char)*c <= ' ' || *c == 0x7f) {
                    snprintf(err, errlen, "line %d: control character or space in attribute name",
                             line);
                    return -1;
                }
            }
        }
        *eq = 0;
        req->nattrs++;
        if (a >= 0) {
            if (req->attr[a] != NULL) {
                snprintf(err, errlen, "attribute %s: given twice", p);
                return -1;
            }
            req->attr[a] = eq + 1;
        }
        p = nl + 1;
    }
    if (req->nattrs == 0) {
        snprintf(err, errlen, "empty request (empty line without attributes)");
        return -1;
    }
    for (i = 0; i < sizeof(numeric) / sizeof(numeric[0]); i++) {
        const char *v = req->attr[numeric[i]];

        *numval[i] = -1;
        if (v != NULL && proto_number(v, numval[i]) < 0) {
            snprintf(err, errlen, "attribute %s: \"%.40s\" is not a number",
                     proto_names[numeric[i]], v);
            return -1;
        }
    }
    if (req->attr[PA_CCERT_SUBJECT] &&
        proto_xtext_decode((char *)req->attr[PA_CCERT_SUBJECT]) < 0) {
        snprintf(err, errlen, "attribute ccert_subject: bad xtext escape");
        return -1;
    }
    if (req->attr[PA_CCERT_ISSUER] && proto_xtext_decode((char *)req->attr[PA_CCERT_ISSUER]) < 0) {
        snprintf(err, errlen, "attribute ccert_issuer: bad xtext escape");
        return -1;
    }
    return 0;
}

int proto_answer(struct buf *out, const char *action)
{
    if (strchr(action, '\n') != NULL) {
        errno = EINVAL;
        return -1;
    }
    /* all or nothing: never leave half an answer in the output */
    if (buf_reserve(out, strlen(action) + 9) < 0)
        return -1;
    buf_puts(out, "action=");
    buf_puts(out, action);
    buf_puts(out, "\n\n");
    return 0;
}
