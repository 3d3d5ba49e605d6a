/*
 * fuzz_policy_proto: libFuzzer target for the SMTPD policy delegation codec
 * (lib/policy_proto), the bytes every Postfix smtpd sends to postseal-policyd.
 *
 * The input is a connection's byte stream.  It is scanned twice: all at once,
 * and arriving in small reads (chunk sizes derived from the input) through the
 * incremental scanner, as the daemon does; both must find the same request
 * boundaries and the same errors.  Every complete request is copied into a heap
 * block of exactly its size (so any over-read is caught) and parsed in place;
 * a parsed request's attribute values must lie inside that block.  Parsed
 * requests then go through postseal-policyd's decision step (pol_decide) with
 * a configuration using every kind of scope and a session memory of 32
 * entries, so eviction and expiry run too; the action must be one line.  The
 * answer writer gets an action taken from the input.  Findings: sanitizer
 * reports, leaks, aborts on a broken invariant.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "policy_proto.h"
#include "policyd.h"
#include "session.h"

static const char fuzz_ini[] =
    "[global]\n"
    "[policy]\n"
    "require_tls = yes\n"
    "encryption_keysize = 128\n"
    "tls_protocol = TLSv1.2\n"
    "cipher_deny = *RC4* *-SHA\n"
    "checked_states = RCPT END-OF-MESSAGE\n"
    "[policy client 127.0.0.1]\n"
    "inherit = no\n"
    "[policy client 10.0.0.0/8]\n"
    "outcome = disconnect\n"
    "[policy client 2001:db8::/32]\n"
    "outcome = hold\n"
    "[policy recipient_domain .example.test]\n"
    "encryption_keysize = 256\n"
    "outcome = permanent\n"
    "[policy recipient alice@example.test]\n"
    "ccert_fingerprint = FE:A5:D1:02:C3:5B:A4:89:63:A2:66:97:42:36:D1:3C:F0:6C:45:24\n"
    "[policy sender_domain example.org]\n"
    "require_verified_cert = yes\n"
    "ccert_subject = client.*\n"
    "ccert_issuer = Spike Test CA\n"
    "[policy client_name *.example.net]\n"
    "tls_protocol = TLSv1.3\n"
    "[policy sasl_user *]\n"
    "encryption_keysize = 256\n"
    "[policy sasl_method PLAIN]\n"
    "require_tls = yes\n";

static struct pol_service fuzz_svc;
static time_t fuzz_now = 1000000;

static void fuzz_setup(void)
{
    char path[64];
    int errors = 0;
    int fd = memfd_create("fuzz_policy_ini", 0);

    log_open("fuzz_policy_proto", LOG_TO_STDERR, 0);
    if (fd < 0 || write(fd, fuzz_ini, sizeof(fuzz_ini) - 1) != sizeof(fuzz_ini) - 1)
        abort();
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    if ((fuzz_svc.conf = pol_conf_load(path, &errors)) == NULL)
        abort(); /* the target's own configuration must validate */
    if ((fuzz_svc.sess = sess_new(32, 60)) == NULL)
        abort();
}

static void fuzz_decide(const struct proto_req *req)
{
    struct pol_decision d;
    char err[256];

    fuzz_now += 7; /* entries expire after 60 s: every ninth request */
    if (pol_decide(&fuzz_svc, req, fuzz_now, &d, err, sizeof(err)) == 0) {
        if (d.res.action[0] == 0 || strchr(d.res.action, '\n') != NULL)
            abort(); /* the answer must be one non-empty action line */
    } else if (err[0] == 0) {
        abort();
    }
    if (sess_count(fuzz_svc.sess) > 64)
        abort(); /* session memory is a fixed table (2 x 32 slots, at least 64): it never grows */
}

/* Scans data as one stream, reads of `step` bytes each (0: all at once).
 * Records request lengths in out[] (-1 for an error), returns their count. */
static size_t fuzz_scan(const char *data, size_t size, size_t step, ssize_t *out, size_t max)
{
    struct proto_scan st;
    size_t start = 0, avail = 0, n = 0;
    char err[256];

    proto_scan_reset(&st);
    while (start < size && n < max) {
        ssize_t r;

        avail = step ? avail + step : size - start;
        if (start + avail > size)
            avail = size - start;
        r = proto_scan(&st, data + start, avail, err, sizeof(err));
        if (r < 0) {
            if (memchr(err, 0, sizeof(err)) == NULL || err[0] == 0)
                abort(); /* an error must say what is wrong */
            out[n++] = -1;
            return n;
        }
        if (r == 0) {
            if (start + avail == size)
                return n; /* incomplete at end of stream */
            continue;
        }
        if ((size_t)r > avail || data[start + r - 1] != '\n')
            abort();
        out[n++] = r;
        start += r;
        avail = 0;
        proto_scan_reset(&st);
    }
    return n;
}

static void fuzz_parse(const char *data, size_t n)
{
    char *copy = malloc(n);
    struct proto_req req;
    char err[256];
    int i;

    memcpy(copy, data, n);
    if (proto_parse(copy, n, &req, err, sizeof(err)) == 0) {
        for (i = 0; i < PA_COUNT; i++) {
            const char *v = req.attr[i];

            if (v == NULL)
                continue;
            if (v < copy || v >= copy + n || memchr(v, 0, copy + n - v) == NULL)
                abort(); /* value outside the request or not terminated inside it */
            (void)proto_attr_name(i);
        }
        if (req.nattrs < 0 || req.nattrs > PROTO_ATTR_MAX || req.encryption_keysize < -1 ||
            req.client_port < -1 || req.recipient_count < -1 || req.size < -1)
            abort();
        fuzz_decide(&req);
    } else if (memchr(err, 0, sizeof(err)) == NULL || err[0] == 0) {
        abort();
    }
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    ssize_t whole[64], pieces[64];
    size_t nw, np, i, off = 0, step;

    if (fuzz_svc.conf == NULL)
        fuzz_setup();
    step = size ? (data[0] % 7) + 1 : 1;
    nw = fuzz_scan(in, size, 0, whole, 64);
    np = fuzz_scan(in, size, step, pieces, 64);
    if (nw != np || memcmp(whole, pieces, nw * sizeof(whole[0])) != 0)
        abort(); /* request boundaries depend on how the bytes arrived */
    for (i = 0; i < nw && whole[i] > 0; i++) {
        fuzz_parse(in + off, (size_t)whole[i]);
        off += (size_t)whole[i];
    }
    {
        struct buf out;
        char action[128];
        const char *nl = memchr(in, '\n', size);
        size_t len = nl ? (size_t)(nl - in) : size;

        if (len >= sizeof(action))
            len = sizeof(action) - 1;
        memcpy(action, in, len);
        action[len] = 0;
        buf_init(&out, 4096);
        if (proto_answer(&out, action) == 0 &&
            (out.len < 9 || memcmp(out.data, "action=", 7) != 0 ||
             memcmp(out.data + out.len - 2, "\n\n", 2) != 0))
            abort();
        buf_free(&out);
    }
    return 0;
}
