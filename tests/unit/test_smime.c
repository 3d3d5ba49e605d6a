/* test_smime: S/MIME output checked by openssl cms and gpgsm, byte for byte. */
#include "crypto_helpers.h"

#include <openssl/pem.h>

#include "log.h"
#include "smime.h"

static void setup(void)
{
    fix_setup();
    log_open("test_smime", LOG_TO_STDERR, 0);
}

TestSuite(smime, .init = setup, .fini = fix_teardown, .timeout = 120);

#define SM "%s/smime"

static X509 *load_cert(const char *name)
{
    FILE *fp = fopen(path_of(SM "/%s.pem", fix, name), "r");
    X509 *x;

    cr_assert_not_null(fp);
    x = PEM_read_X509(fp, NULL, NULL, NULL);
    fclose(fp);
    cr_assert_not_null(x);
    return x;
}

static const char *entity = "Content-Type: text/plain; charset=us-ascii\n"
                            "Content-Transfer-Encoding: 7bit\n"
                            "\n"
                            "Hello Bob,\n"
                            "trailing space \n"
                            "\n"
                            ".\n"
                            "bye\n";

/* Every body line base64, at most 76 characters, all but the last exactly 76. */
static void check_b64_lines(const char *body)
{
    const char *p = body, *nl;
    size_t len, prev = 76;

    while (*p && *p != '\n' && *p != '-') {
        nl = strchr(p, '\n');
        cr_assert_not_null(nl, "unterminated base64 line");
        len = nl - p;
        cr_assert(len <= 76, "base64 line of %zu characters", len);
        cr_assert_eq(prev, 76, "short base64 line before the last one");
        cr_assert_eq(strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="),
                     len);
        prev = len;
        p = nl + 1;
    }
}

static char *encrypt_to(STACK_OF(X509) * rcpt, const struct smime_opts *opts,
                        const struct smime_signer *signer, struct ferr *err, int *rc)
{
    FILE *out = fopen(path_of("%s/out.eml", work), "w+");
    int fd = input_fd(entity, strlen(entity));

    cr_assert_not_null(out);
    *rc = smime_encrypt(fd, rcpt, opts, signer, out, err);
    fclose(out);
    close(fd);
    return read_file(path_of("%s/out.eml", work), NULL);
}

Test(smime, encrypt_cbc_default_openssl_and_gpgsm_decrypt)
{
    STACK_OF(X509) *rcpt = sk_X509_new_null();
    struct ferr err;
    size_t n;
    char *want = crlf_of(entity, strlen(entity), &n), *out;
    int rc;

    sk_X509_push(rcpt, load_cert("bob"));
    out = encrypt_to(rcpt, NULL, NULL, &err, &rc);
    cr_assert_eq(rc, FERR_OK, "%s", err.text);
    cr_assert(strncmp(out,
                      "Content-Type: application/pkcs7-mime; smime-type=enveloped-data;\n"
                      " name=\"smime.p7m\"\nContent-Transfer-Encoding: base64\n",
                      110) == 0,
              "%.200s", out);
    cr_assert(strchr(out, '\r') == NULL);
    check_b64_lines(body_of(out));
    /* openssl reads the entity as S/MIME */
    cr_assert_eq(run("openssl cms -decrypt -in %s/out.eml -inkey " SM "/bob.key -recip " SM
                     "/bob.pem -binary -out %s/plain 2>%s/err",
                     work, fix, fix, work, work),
                 0);
    cr_assert(file_equals(path_of("%s/plain", work), want, n), "openssl: plaintext differs");
    /* content encryption is AES-256-CBC, key transport rsaEncryption (PKCS#1 v1.5) */
    write_file(path_of("%s/b64", work), body_of(out), strlen(body_of(out)));
    cr_assert_eq(run("openssl base64 -d -in %s/b64 -out %s/der && openssl cms -cmsout -print "
                     "-inform DER -in %s/der >%s/print",
                     work, work, work, work),
                 0);
    cr_assert_eq(run("grep -q 'algorithm: aes-256-cbc' %s/print", work), 0);
    cr_assert_eq(run("grep -q 'algorithm: rsaEncryption' %s/print", work), 0);
    /* gpgsm (libksba) decrypts CBC + PKCS#1 v1.5 */
    cr_assert_eq(run("echo test | gpgsm --homedir %s/gpgsm --batch --pinentry-mode loopback "
                     "--passphrase-fd 0 --disable-crl-checks -o %s/plain2 --decrypt %s/der "
                     "2>%s/gpgsm.err",
                     fix, work, work, work),
                 0, "gpgsm failed: %s", read_file(path_of("%s/gpgsm.err", work), NULL));
    cr_assert(file_equals(path_of("%s/plain2", work), want, n), "gpgsm: plaintext differs");
    sk_X509_pop_free(rcpt, X509_free);
    free(want);
    free(out);
}
