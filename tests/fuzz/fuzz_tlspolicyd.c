/*
 * fuzz_tlspolicyd: libFuzzer target for what postseal-tlspolicyd does with the
 * bytes a socketmap client sends: netstring framing (lib/netstring) and the
 * request dispatch and lookups (policy/tlsp) against a fixed configuration with
 * ini sections (exact, parent, bracketed, fingerprint, bounce) and a Sendmail
 * access file (TLS_Srv:, TLS_Rcpt:, bare tags).
 *
 * Invariants checked per request: the reply starts with OK, NOTFOUND, TEMP or
 * PERM, has no NUL, CR or LF, fits TLSP_MAX_ANSWER, and an OK answer to the
 * policy map starts with a Postfix TLS level.  Findings: sanitizer reports,
 * leaks, aborts on broken invariants.
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

static struct tlsp_conf *fuzz_conf;

static int fuzz_memfile(const char *text, char *path, size_t size)
{
    int fd = memfd_create("fuzz_tlsp", 0);

    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
        abort();
    snprintf(path, size, "/proc/self/fd/%d", fd);
    return fd;
}

static void fuzz_setup(void)
{
    char acc[64], ini[64];
    char text[2048];
    struct cfg_diag d = {0};
    struct cfg *cfg;

    log_open("fuzz_tlspolicyd", LOG_TO_STDERR, 0);
    fuzz_memfile("TLS_Srv:mx.example.com VERIFY:256+CN\n"
                 "TLS_Srv:10.1.2 ENCR:128\nTLS_Srv: ENCR:56\n"
                 "TLS_Rcpt:endmail.org ENCR:112+CN:smtp.endmail.org\n"
                 "TLS_Rcpt:clash.example VERIFY+CN:b.example\n"
                 "TLS_Srv:clash.example VERIFY+CN:a.example\nTLS_Rcpt: VERIFY\n",
                 acc, sizeof(acc));
    snprintf(text, sizeof(text),
             "[tlspolicy]\ndefault = may\n"
             "[tlspolicy example.com]\nlevel = secure\nmatch = mx.example.com, .example.com\n"
             "[tlspolicy .example.net]\nlevel = verify\nmin_cipher_bits = 256\n"
             "[tlspolicy pin]\ndestination = [127.0.0.1]:25, [mx.pin.example]\n"
             "level = fingerprint\n"
             "match = 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"
             "[tlspolicy gone.example]\nlevel = encrypt\nbounce = yes\n"
             "[sendmail]\naccess_file = %s\n",
             acc);
    fuzz_memfile(text, ini, sizeof(ini));
    if ((cfg = cfg_load(ini, &d)) == NULL || (fuzz_conf = tlsp_load(cfg, &d)) == NULL)
        abort();
    cfg_free(cfg);
}

static void fuzz_check(const char *req, size_t len)
{
    static const char *const levels[] = {"none",   "may",         "dane",   "encrypt",
                                         "secure", "fingerprint", "verify", "dane-only"};
    char reply[TLSP_MAX_ANSWER + 64];
    size_t n = tlsp_request(fuzz_conf, req, len, reply, sizeof(reply));
    size_t i;
    int ok = 0;

    if (n == 0 || n != strlen(reply) || strpbrk(reply, "\r\n") != NULL)
        abort();
    if (strncmp(reply, "OK ", 3) != 0 && strcmp(reply, "NOTFOUND ") != 0 &&
        strncmp(reply, "TEMP ", 5) != 0 && strncmp(reply, "PERM ", 5) != 0)
        abort();
    if (strncmp(reply, "OK ", 3) == 0 && len > 10 && memcmp(req, "tlspolicy ", 10) == 0) {
        for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
            if (strncmp(reply + 3, levels[i], strlen(levels[i])) == 0)
                ok = 1;
        if (!ok)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    size_t off = 0;

    if (fuzz_conf == NULL)
        fuzz_setup();
    /* the raw input as one request payload, then as a netstring stream */
    fuzz_check(p, size);
    while (off < size) {
        struct netstring_view v;

        if (netstring_parse(p + off, size - off, TLSP_MAX_REQUEST, &v) != NETSTRING_OK)
            break;
        fuzz_check(v.data, v.len);
        off += v.consumed;
    }
    return 0;
}
