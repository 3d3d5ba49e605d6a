/*
 * fuzz_netstring: libFuzzer target for the socketmap framing (lib/netstring).
 *
 * The input is treated as a socketmap byte stream: netstrings are parsed one
 * after the other, at every prefix length too (the daemon parses whatever a
 * read() returned), under a small and a large limit.  Invariants checked:
 * an OK result lies inside the buffer, obeys the limit, ends in ',' and
 * re-encodes to the same bytes; a shorter prefix of an OK netstring is MORE,
 * never OK or an error; the codes are the documented ones.  Each complete
 * payload is then answered by postseal-tlspolicyd's request step
 * (tlsp_request, a configuration with every kind of destination): the reply
 * must start with OK, NOTFOUND, TEMP or PERM, fit its buffer and frame as a
 * netstring under Postfix's limit.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cfg.h"
#include "log.h"
#include "netstring.h"
#include "tlsp.h"

static const char fuzz_ini[] = "[tlspolicy]\n"
                               "default = may\n"
                               "min_cipher_bits = 128\n"
                               "min_protocol = TLSv1.2\n"
                               "[tlspolicy example.com]\n"
                               "level = secure\n"
                               "match = mx.example.com, .example.com\n"
                               "[tlspolicy .example.com]\n"
                               "level = verify\n"
                               "min_cipher_bits = 256\n"
                               "[tlspolicy pinned.example.net]\n"
                               "level = fingerprint\n"
                               "match = "
                               "FE:A5:D1:02:C3:5B:A4:89:63:A2:66:97:42:36:D1:3C:F0:6C:45:24:B6:1A:"
                               "76:60:C5:F6:A7:2D:20:BC:28:F9\n"
                               "[tlspolicy relay]\n"
                               "destination = [127.0.0.1]:17125, [relay.example.org]\n"
                               "level = encrypt\n"
                               "[tlspolicy legacy.example]\n"
                               "level = encrypt\n"
                               "min_cipher_bits = 0\n"
                               "min_protocol = TLSv1\n"
                               "[tlspolicy .bounce.example]\n"
                               "bounce = yes\n";

static struct tlsp_conf *fuzz_tlsp;

static void fuzz_setup(void)
{
    struct cfg_diag diag = {0};
    char path[64];
    struct cfg *cfg;
    int fd = memfd_create("fuzz_tlsp_ini", 0);

    log_open("fuzz_netstring", LOG_TO_STDERR, 0);
    if (fd < 0 || write(fd, fuzz_ini, sizeof(fuzz_ini) - 1) != sizeof(fuzz_ini) - 1)
        abort();
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    if ((cfg = cfg_load(path, &diag)) == NULL || (fuzz_tlsp = tlsp_load(cfg, &diag)) == NULL)
        abort(); /* the target's own configuration must validate */
    cfg_free(cfg);
}

static void fuzz_answer(const char *payload, size_t len)
{
    char reply[TLSP_MAX_ANSWER + 64], framed[TLSP_MAX_ANSWER + 80];
    size_t n;

    if (len > TLSP_MAX_REQUEST)
        return; /* the daemon refuses these before asking tlsp */
    memset(reply, 0x55, sizeof(reply));
    n = tlsp_request(fuzz_tlsp, payload, len, reply, sizeof(reply));
    if (n == 0 || n >= sizeof(reply) ||
        (strncmp(reply, "OK ", 3) != 0 && strncmp(reply, "NOTFOUND ", 9) != 0 &&
         strncmp(reply, "TEMP ", 5) != 0 && strncmp(reply, "PERM ", 5) != 0))
        abort();
    if (memchr(reply, '\n', n) != NULL || memchr(reply, 0, n) != NULL)
        abort(); /* a reply is one line of text */
    if (netstring_format(framed, sizeof(framed), reply, n) == 0)
        abort();
}

static void fuzz_stream(const char *buf, size_t len, size_t max)
{
    size_t off = 0;

    while (off < len) {
        struct netstring_view v;
        int rc = netstring_parse(buf + off, len - off, max, &v);

        if (rc == NETSTRING_MORE)
            return;
        if (rc < 0) {
            if (rc < NETSTRING_ECOMMA || netstring_strerror(rc)[0] == 0)
                abort();
            return;
        }
        if (rc != NETSTRING_OK)
            abort();
        if (v.len > max || v.consumed > len - off || v.data < buf + off ||
            v.data + v.len + 1 != buf + off + v.consumed || v.data[v.len] != ',')
            abort();
        {
            char *again = malloc(v.consumed);
            size_t n = netstring_format(again, v.consumed, v.data, v.len);

            if (n != v.consumed || memcmp(again, buf + off, n) != 0)
                abort(); /* strict syntax: one encoding per payload */
            free(again);
        }
        fuzz_answer(v.data, v.len);
        /* every proper prefix of a complete netstring asks for more */
        for (size_t p = 0; p < v.consumed && p < 64; p++) {
            struct netstring_view w;

            if (netstring_parse(buf + off, p, max, &w) != NETSTRING_MORE)
                abort();
        }
        off += v.consumed;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;

    if (fuzz_tlsp == NULL)
        fuzz_setup();
    fuzz_stream(buf, size, 16);
    fuzz_stream(buf, size, 100000);
    /* round trip of the raw input as a payload */
    {
        size_t cap = size + NETSTRING_MAX_DIGITS + 2;
        char *out = malloc(cap);
        struct netstring_view v;
        size_t n = netstring_format(out, cap, buf, size);

        if (n == 0 || netstring_parse(out, n, size, &v) != NETSTRING_OK || v.len != size ||
            memcmp(v.data, buf, size) != 0 || v.consumed != n)
            abort();
        if (netstring_format(out, n - 1, buf, size) != 0)
            abort(); /* never truncates */
        free(out);
    }
    return 0;
}
