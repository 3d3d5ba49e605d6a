/* policy_proto: the Postfix SMTPD policy delegation codec (see policy_proto.c). */
#ifndef POSTSEAL_POLICY_PROTO_H
#define POSTSEAL_POLICY_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"

#define PROTO_LINE_MAX 8192             /* bytes per name=value line, newline excluded */
#define PROTO_REQUEST_MAX (1024 * 1024) /* bytes per request, final empty line included */
#define PROTO_ATTR_MAX 1024             /* attribute lines per request */

/* The attributes postseal reads; every other name is accepted and ignored. */
enum proto_attr {
    PA_CCERT_FINGERPRINT,
    PA_CCERT_ISSUER,
    PA_CCERT_PUBKEY_FINGERPRINT,
    PA_CCERT_SUBJECT,
    PA_CLIENT_ADDRESS,
    PA_CLIENT_NAME,
    PA_CLIENT_PORT,
    PA_ENCRYPTION_CIPHER,
    PA_ENCRYPTION_KEYSIZE,
    PA_ENCRYPTION_PROTOCOL,
    PA_HELO_NAME,
    PA_INSTANCE,
    PA_PROTOCOL_NAME,
    PA_PROTOCOL_STATE,
    PA_QUEUE_ID,
    PA_RECIPIENT,
    PA_RECIPIENT_COUNT,
    PA_REQUEST,
    PA_REVERSE_CLIENT_NAME,
    PA_SASL_METHOD,
    PA_SASL_SENDER,
    PA_SASL_USERNAME,
    PA_SENDER,
    PA_SERVER_ADDRESS,
    PA_SERVER_PORT,
    PA_SIZE,
    PA_COUNT
};

/* One parsed request.  Values point into the caller's buffer (parsed in place)
 * and stay valid until that buffer changes; an absent attribute is NULL.
 * ccert_subject and ccert_issuer are xtext-decoded.  Numbers are -1 when the
 * attribute is absent or empty. */
struct proto_req {
    const char *attr[PA_COUNT];
    int nattrs; /* attribute lines, known or not */
    long encryption_keysize;
    long client_port;
    long recipient_count;
    long size;
};

/* Incremental scanner state for one connection: remembers how far the input
 * was already searched, so a slow client costs O(bytes), not O(bytes^2). */
#define PROTO_SCAN_LINES 64 /* line ends remembered for the parser */

struct proto_scan {
    size_t pos;
    size_t line_start;
    size_t lines;
    int nul; /* a NUL byte was seen */
    uint32_t ends[PROTO_SCAN_LINES];
};

void proto_scan_reset(struct proto_scan *st);
/* Looks for the end of the request that starts at data[0].  Returns its length
 * in bytes (final empty line included) when complete, 0 when more input is
 * needed, -1 when a limit is crossed (err says which). */
ssize_t proto_scan(struct proto_scan *st, const char *data, size_t len, char *err, size_t errlen);
/* Parses one complete request data[0..n) in place (n from proto_scan on st,
 * whose line ends it reuses: one pass over the bytes in all).  Returns 0, or
 * -1 for a malformed request with err naming the line or attribute. */
int proto_parse_scanned(const struct proto_scan *st, char *data, size_t n, struct proto_req *req,
                        char *err, size_t errlen);
/* The same for a request that was not scanned yet (it is scanned first). */
int proto_parse(char *data, size_t n, struct proto_req *req, char *err, size_t errlen);
const char *proto_attr_name(enum proto_attr a);
/* Decodes xtext (RFC 3461, "+XX" hex escapes) in place; -1 on a bad escape. */
int proto_xtext_decode(char *s);
/* Appends "action=ACTION\n\n"; the action must not contain a newline. */
int proto_answer(struct buf *out, const char *action);

#endif
