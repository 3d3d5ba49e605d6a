/* test_cmsstream: the CMS splitter against what openssl cms and gpgsm
 * produce (DER, BER indefinite lengths from -stream, AES-GCM
 * AuthEnvelopedData): the rebuilt header plus the detached content decrypt
 * to exactly what `openssl cms -decrypt` gives; tampering and malformed
 * input are refused with a reason. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "cmsstream.h"

static char fx[512], tmp[600];

static void setup(void)
{
    const char *pb = getenv("PS_PORT_BASE");
    int base = pb ? atoi(pb) : 10025;
    char cwd[400], cmd[1200];

    cr_assert_not_null(getcwd(cwd, sizeof(cwd)));
    snprintf(fx, sizeof(fx), "%s/tests/work/inbound", cwd);
    snprintf(cmd, sizeof(cmd), "sh tests/inbound/mkfix.sh %s %d %d", fx, base + 60, base + 61);
    cr_assert_eq(system(cmd), 0);
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
