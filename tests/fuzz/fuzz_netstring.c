/*
 * fuzz_netstring: libFuzzer target for the socketmap framing (lib/netstring).
 *
 * The input is treated as a socketmap byte stream: netstrings are parsed one
 * after the other, at every prefix length too (the daemon parses whatever a
 * read() returned), under a small and a large limit.  Invariants checked:
 * an OK result lies inside the buffer, obeys the limit, ends in ',' and
 * re-encodes to the same bytes; a shorter prefix of an OK netstring is MORE,
 * never OK or an error; the codes are the documented ones.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "netstring.h"

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
