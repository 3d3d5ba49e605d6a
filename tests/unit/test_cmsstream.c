/* test_cmsstream: the CMS splitter against what openssl cms and gpgsm
 * produce (DER, BER indefinite lengths from -stream, AES-GCM
 * AuthEnvelopedData): the rebuilt header plus the detached content decrypt
 * to exactly what `openssl cms -decrypt` gives; tampering and malformed
 * input are refused with a reason.  Bounded memory: 20 MiB EnvelopedData
 * and AuthEnvelopedData built with the OpenSSL API (not the CLI, whose
 * output changes between versions) in each encoding a producer may use
 * (DER; BER indefinite lengths with chunked OCTET STRINGs; definite
 * non-minimal lengths with a constructed, chunked content) decrypt through
 * smime_in_decrypt under 16 MiB RSS. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "cmsstream.h"
#include "inbound_fx.h"
#include "smime_in.h"

static char fx[512], tmp[600];

static void setup(void)
{
    char cwd[400];
    int op, hp;

    cr_assert_not_null(getcwd(cwd, sizeof(cwd)));
    snprintf(fx, sizeof(fx), "%s/tests/work/inbound", cwd);
    fx_build(fx, &op, &hp);
    snprintf(tmp, sizeof(tmp), "%s/cmss.%d", fx, (int)getpid());
}

static void teardown(void)
{
    char cmd[700];

    snprintf(cmd, sizeof(cmd), "rm -f %s.*", tmp);
    (void)system(cmd);
}

TestSuite(cmsstream, .init = setup, .fini = teardown);

/* The DER of message NAME's body (base64) in a file; returns its fd. */
static int der_of(const char *name)
{
    char cmd[1600], path[700];
    int fd;

    snprintf(path, sizeof(path), "%s.%s.der", tmp, name);
    snprintf(cmd, sizeof(cmd), "sed '1,/^$/d' %s/msg/%s.eml | base64 -d >%s", fx, name, path);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    cr_assert((fd = open(path, O_RDWR)) >= 0);
    return fd;
}

/* Decrypts through cmss_split; returns the plaintext (malloc'ed). */
static char *split_decrypt(int fd, char *why, size_t whylen, int *ok)
{
    char path[700], *res = NULL;
    unsigned char *der;
    const unsigned char *p;
    size_t len;
    int cfd;
    CMS_ContentInfo *cms;
    BIO *dc, *out, *b;
    X509 *cert;
    EVP_PKEY *key;
    BUF_MEM *bm;

    *ok = 0;
    snprintf(path, sizeof(path), "%s.content", tmp);
    cr_assert((cfd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600)) >= 0);
    der = cmss_split(fd, cfd, &len, why, whylen);
    if (der == NULL) {
        close(cfd);
        return NULL;
    }
    p = der;
    cr_assert_not_null(cms = d2i_CMS_ContentInfo(NULL, &p, (long)len), "rebuilt header unreadable");
    free(der);
    snprintf(path, sizeof(path), "%s/bob.pem", fx);
    cr_assert_not_null(b = BIO_new_file(path, "r"));
    cert = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    snprintf(path, sizeof(path), "%s/bob.key", fx);
    cr_assert_not_null(b = BIO_new_file(path, "r"));
    key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    BIO_free(b);
    lseek(cfd, 0, SEEK_SET);
    dc = BIO_new_fd(cfd, BIO_CLOSE);
    out = BIO_new(BIO_s_mem());
    if (CMS_decrypt(cms, key, cert, dc, out, CMS_BINARY) == 1) {
        *ok = 1;
        BIO_get_mem_ptr(out, &bm);
        res = strndup(bm->data, bm->length);
    } else {
        ERR_error_string_n(ERR_get_error(), why, whylen);
    }
    BIO_free(out);
    BIO_free(dc);
    X509_free(cert);
    EVP_PKEY_free(key);
    CMS_ContentInfo_free(cms);
    return res;
}

/* What openssl cms -decrypt makes of the same DER. */
static char *openssl_decrypt(const char *name)
{
    char cmd[2400], path[700], *buf;
    FILE *fp;
    size_t n;

    snprintf(path, sizeof(path), "%s.%s.der", tmp, name);
    snprintf(cmd, sizeof(cmd),
             "openssl cms -decrypt -binary -inform DER -in %s -recip %s/bob.pem -inkey %s/bob.key",
             path, fx, fx);
    cr_assert_not_null(fp = popen(cmd, "r"));
    buf = calloc(1, 1 << 16);
    n = fread(buf, 1, (1 << 16) - 1, fp);
    buf[n] = 0;
    cr_assert_eq(pclose(fp), 0);
    return buf;
}

static void same_as_openssl(const char *name)
{
    char why[256] = "";
    int fd = der_of(name), ok;
    char *mine = split_decrypt(fd, why, sizeof(why), &ok), *ref = openssl_decrypt(name);

    cr_assert(ok, "%s: %s", name, why);
    cr_assert_str_eq(mine, ref, "%s differs", name);
    cr_assert(strstr(mine, "secret plan is ready") != NULL);
    close(fd);
    free(mine);
    free(ref);
}

Test(cmsstream, openssl_der_enveloped)
{
    same_as_openssl("smime-enc-signed");
}

Test(cmsstream, openssl_ber_indefinite_stream)
{
    same_as_openssl("smime-enc-stream");
}

Test(cmsstream, openssl_gcm_auth_enveloped)
{
    same_as_openssl("smime-gcm-signed");
}

Test(cmsstream, gpgsm_enveloped)
{
    same_as_openssl("gpgsm-enc");
}

Test(cmsstream, gcm_tampered_content_fails_authentication)
{
    char why[256] = "";
    int fd = der_of("smime-gcm-signed"), ok;
    struct stat st;
    unsigned char c;
    char *res;

    fstat(fd, &st);
    /* a byte well inside the encrypted content (the tail holds the tag) */
    cr_assert_eq(pread(fd, &c, 1, st.st_size - 200), 1);
    c ^= 0x01;
    cr_assert_eq(pwrite(fd, &c, 1, st.st_size - 200), 1);
    res = split_decrypt(fd, why, sizeof(why), &ok);
    cr_assert_eq(ok, 0, "tampered GCM content decrypted");
    free(res);
    close(fd);
}

Test(cmsstream, refuses_signed_data_and_truncation)
{
    char why[256] = "", path[700];
    int fd = der_of("smime-opaque-alice"), ok;
    struct stat st;

    cr_assert_null(split_decrypt(fd, why, sizeof(why), &ok));
    cr_assert(strstr(why, "content type is not (auth)enveloped data") != NULL, "%s", why);
    close(fd);
    fd = der_of("smime-enc-signed");
    fstat(fd, &st);
    cr_assert_eq(ftruncate(fd, st.st_size / 2), 0);
    cr_assert_null(split_decrypt(fd, why, sizeof(why), &ok));
    cr_assert(strstr(why, "past the end") != NULL || strstr(why, "truncated") != NULL, "%s", why);
    close(fd);
    snprintf(path, sizeof(path), "%s.garbage", tmp);
    cr_assert((fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600)) >= 0);
    cr_assert_eq(write(fd, "\x30\x80\x30\x80\x30\x80", 6), 6);
    cr_assert_null(split_decrypt(fd, why, sizeof(why), &ok));
    close(fd);
}

/* ---- bounded memory, every encoding ---- */

#define BIG_PLAIN (20u << 20) /* plaintext bytes */

enum { ENC_DER, ENC_BER_STREAM, ENC_BER_CHUNKS };

/* Re-encodes the DER element at p (n bytes available) as BER: every length
 * from 128 up in the 4-byte long form (non-minimal, as OpenSSL 3.0.22 writes
 * its outer lengths), a primitive [0] (the encrypted
 * content) as a constructed [0] of 8000-byte OCTET STRING chunks, all
 * lengths definite.  Writes to out unless NULL; returns the encoded size
 * and the DER size consumed in *used. */
static size_t reenc(const unsigned char *p, size_t n, FILE *out, size_t *used)
{
    unsigned tag = p[0];
    size_t len = 0, hl = 2, body = 0, i, u;

    cr_assert(n >= 2 && (tag & 0x1f) != 0x1f);
    if (p[1] < 0x80) {
        len = p[1];
    } else {
        for (i = 0; i < (size_t)(p[1] & 0x7f); i++)
            len = (len << 8) | p[2 + i];
        hl += p[1] & 0x7f;
    }
    cr_assert(hl + len <= n);
    *used = hl + len;
    if (tag == 0x80 && len > 1000) { /* content: constructed chunks */
        size_t nch = (len + 7999) / 8000;

        body = len + nch * 6;
        if (out) {
            fputc(0xa0, out);
            fputc(0x84, out);
            for (i = 4; i > 0; i--)
                fputc((int)((body >> (8 * (i - 1))) & 0xff), out);
            for (i = 0; i < len; i += 8000) {
                size_t c = len - i < 8000 ? len - i : 8000, k;

                fputc(0x04, out);
                fputc(0x84, out);
                for (k = 4; k > 0; k--)
                    fputc((int)((c >> (8 * (k - 1))) & 0xff), out);
                fwrite(p + hl + i, 1, c, out);
            }
        }
        return 6 + body;
    }
    if (!(tag & 0x20)) {
        body = len;
    } else {
        for (i = 0; i < len; i += u)
            body += reenc(p + hl + i, len - i, NULL, &u);
    }
    if (out) {
        fputc((int)tag, out);
        if (body < 0x80) {
            fputc((int)body, out);
        } else {
            fputc(0x84, out);
            for (i = 4; i > 0; i--)
                fputc((int)((body >> (8 * (i - 1))) & 0xff), out);
        }
        if (!(tag & 0x20))
            fwrite(p + hl, 1, len, out);
        else
            for (i = 0; i < len; i += u)
                reenc(p + hl + i, len - i, out, &u);
    }
    return (body < 0x80 ? 2 : 6) + body;
}

/* In a child process (its memory is not ours): BIG_PLAIN bytes of text
 * encrypted to bob with cipher, written to path in encoding enc. */
static void make_big(const char *cipher, int enc, const char *path)
{
    pid_t pid = fork();
    int st;

    cr_assert(pid >= 0);
    if (pid == 0) {
        char plain[700], certp[700];
        FILE *fp;
        BIO *in, *out, *b;
        X509 *cert;
        STACK_OF(X509) *rc = sk_X509_new_null();
        CMS_ContentInfo *cms;
        unsigned flags = CMS_BINARY | (enc == ENC_BER_STREAM ? CMS_STREAM : 0);
        size_t i;

        snprintf(plain, sizeof(plain), "%s.plain", path);
        if ((fp = fopen(plain, "w")) == NULL)
            _exit(2);
        for (i = 0; i < BIG_PLAIN / 64; i++)
            fprintf(fp, "%010zu line of the big secret plan, 64 bytes each.....\n", i);
        fclose(fp);
        snprintf(certp, sizeof(certp), "%s/bob.pem", fx);
        b = BIO_new_file(certp, "r");
        cert = PEM_read_bio_X509(b, NULL, NULL, NULL);
        BIO_free(b);
        sk_X509_push(rc, cert);
        in = BIO_new_file(plain, "rb");
        cms = CMS_encrypt(rc, in, EVP_get_cipherbyname(cipher), flags);
        if (cms == NULL)
            _exit(3);
        if (enc == ENC_BER_CHUNKS) {
            unsigned char *der = NULL;
            int len = i2d_CMS_ContentInfo(cms, &der);
            size_t used;

            if (len <= 0 || (fp = fopen(path, "wb")) == NULL)
                _exit(4);
            reenc(der, (size_t)len, fp, &used);
            if (fclose(fp) != 0 || used != (size_t)len)
                _exit(5);
        } else {
            out = BIO_new_file(path, "wb");
            if (enc == ENC_BER_STREAM ? i2d_CMS_bio_stream(out, cms, in, flags) != 1
                                      : i2d_CMS_bio(out, cms) != 1)
                _exit(6);
            BIO_free(out);
        }
        _exit(0);
    }
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "making %s failed (%d)", path, st);
}

/* Decrypts path with smime_in_decrypt; returns the plaintext size, or -1 */
static long big_decrypt(const char *path, int *rc)
{
    char *keys[1], *certs[1], k[700], c[700], why[300] = "", tmpc[700], outp[700];
    struct smime_in *si;
    int fd, tfd;
    BIO *out;
    struct stat st;

    snprintf(k, sizeof(k), "%s/bob.key", fx);
    snprintf(c, sizeof(c), "%s/bob.pem", fx);
    keys[0] = k;
    certs[0] = c;
    cr_assert_not_null(si = smime_in_new(keys, certs, 1, NULL, NULL, why, sizeof(why)), "%s", why);
    snprintf(tmpc, sizeof(tmpc), "%s.bigcontent", tmp);
    snprintf(outp, sizeof(outp), "%s.bigout", tmp);
    cr_assert((fd = open(path, O_RDONLY)) >= 0);
    cr_assert((tfd = open(tmpc, O_RDWR | O_CREAT | O_TRUNC, 0600)) >= 0);
    cr_assert_not_null(out = BIO_new_file(outp, "wb"));
    *rc = smime_in_decrypt(si, fd, tfd, out, why, sizeof(why));
    BIO_free(out);
    close(fd);
    close(tfd);
    smime_in_free(si);
    cr_assert_eq(stat(outp, &st), 0);
    if (*rc != SMIME_IN_OK) {
        fprintf(stderr, "test_cmsstream: %s: %s\n", path, why);
        return -1;
    }
    return (long)st.st_size;
}

static void big_bounded(const char *cipher, int enc)
{
    char path[700], cmd[1600];
    struct rusage ru;
    struct stat st;
    long got;
    int rc;

    snprintf(path, sizeof(path), "%s.big.cms", tmp);
    make_big(cipher, enc, path);
    got = big_decrypt(path, &rc);
    cr_assert_eq(rc, SMIME_IN_OK, "%s encoding %d: not decrypted (%d)", cipher, enc, rc);
    snprintf(cmd, sizeof(cmd), "%s.plain", path);
    cr_assert_eq(stat(cmd, &st), 0);
    cr_assert_eq(got, (long)st.st_size, "%s encoding %d: %ld bytes decrypted", cipher, enc, got);
    cr_assert_gt(got, 19000000);
    snprintf(cmd, sizeof(cmd), "cmp -s %s.bigout %s.plain", tmp, path);
    cr_assert_eq(system(cmd), 0, "%s encoding %d: plaintext differs", cipher, enc);
    getrusage(RUSAGE_SELF, &ru);
    fprintf(stderr, "test_cmsstream: %s encoding %d: %lld-byte plaintext, max RSS %ld KB\n", cipher,
            enc, (long long)got, ru.ru_maxrss);
    cr_assert_lt(ru.ru_maxrss, 16 * 1024, "%s encoding %d: max RSS %ld KB for %u MiB", cipher, enc,
                 ru.ru_maxrss, BIG_PLAIN >> 20);
}

Test(cmsstream, big_enveloped_der_bounded, .timeout = 120)
{
    big_bounded("aes-256-cbc", ENC_DER);
}

Test(cmsstream, big_enveloped_ber_stream_bounded, .timeout = 120)
{
    big_bounded("aes-256-cbc", ENC_BER_STREAM);
}

Test(cmsstream, big_enveloped_ber_chunks_bounded, .timeout = 120)
{
    big_bounded("aes-256-cbc", ENC_BER_CHUNKS);
}

Test(cmsstream, big_gcm_der_bounded, .timeout = 120)
{
    big_bounded("aes-256-gcm", ENC_DER);
}

Test(cmsstream, big_gcm_ber_stream_bounded, .timeout = 120)
{
    big_bounded("aes-256-gcm", ENC_BER_STREAM);
}

Test(cmsstream, big_gcm_ber_chunks_bounded, .timeout = 120)
{
    big_bounded("aes-256-gcm", ENC_BER_CHUNKS);
}

/* The streamed GCM path still checks the tag: one flipped byte in the
 * middle of 20 MiB is refused (what was written to out is garbage). */
Test(cmsstream, big_gcm_tampered_refused, .timeout = 120)
{
    char path[700];
    struct stat st;
    unsigned char c;
    int fd, rc;

    snprintf(path, sizeof(path), "%s.big.cms", tmp);
    make_big("aes-256-gcm", ENC_DER, path);
    cr_assert((fd = open(path, O_RDWR)) >= 0);
    fstat(fd, &st);
    cr_assert_eq(pread(fd, &c, 1, st.st_size / 2), 1);
    c ^= 0x20;
    cr_assert_eq(pwrite(fd, &c, 1, st.st_size / 2), 1);
    close(fd);
    cr_assert_eq(big_decrypt(path, &rc), -1);
    cr_assert_eq(rc, SMIME_IN_FAIL, "tampered GCM content: %d", rc);
}
