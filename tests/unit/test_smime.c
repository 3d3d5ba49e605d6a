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

static struct smime_signer *alice_signer(void)
{
    struct smime_signer *s;
    struct ferr err;

    /* cert file alice.pem in certs/ is followed by the CA: sent as chain */
    cr_assert_eq(keystore_smime_signer(path_of(SM "/certs/alice.pem", fix),
                                       path_of(SM "/alice.key", fix), &s, &err),
                 FERR_OK, "%s", err.text);
    return s;
}

/* openssl cms -verify (binary, over the CRLF form of the whole entity) and gpgsm --verify of
 * the detached signature; checks the content byte for byte and micalg against the signer info. */
static void verify_signed(const char *out, const char *signed_lf, size_t signed_len,
                          const char *digest, const char *micalg)
{
    size_t len, slen, wlen;
    char *part1 = part_of(out, 1, &len);
    char *part2 = part_of(out, 2, &slen), *want, hdr[200];

    snprintf(hdr, sizeof(hdr),
             "Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\";\n"
             " micalg=%s; boundary=\"",
             micalg);
    cr_assert(strncmp(out, hdr, strlen(hdr)) == 0, "want %s got:\n%.200s", hdr, out);
    cr_assert_eq(len, signed_len);
    cr_assert(memcmp(part1, signed_lf, len) == 0);
    want = crlf_of(part1, len, &wlen);
    /* 1. the whole entity as openssl reads S/MIME (it canonicalizes LF to CRLF itself) */
    write_file(path_of("%s/signed.eml", work), out, strlen(out));
    cr_assert_eq(run("openssl cms -verify -in %s/signed.eml -CAfile " SM
                     "/ca.pem -purpose smimesign -out %s/content 2>%s/err",
                     work, fix, work, work),
                 0, "openssl cms -verify: %s", read_file(path_of("%s/err", work), NULL));
    /* the digest in the signer info is the one micalg names */
    cr_assert(strncmp(part2, "Content-Type: application/pkcs7-signature;", 42) == 0);
    check_b64_lines(body_of(part2));
    write_file(path_of("%s/sig.b64", work), body_of(part2), strlen(body_of(part2)));
    cr_assert_eq(run("openssl base64 -d -in %s/sig.b64 -out %s/sig.der && openssl cms -cmsout "
                     "-print -inform DER -in %s/sig.der >%s/sig.txt",
                     work, work, work, work),
                 0);
    cr_assert_eq(run("sed -n '/signerInfos/,$p' %s/sig.txt | grep -A1 'digestAlgorithm:' | "
                     "grep -q 'algorithm: %s '",
                     work, digest),
                 0, "signer digest is not %s", digest);
    /* 2. the detached signature over our CRLF bytes, binary mode (RFC 8551 3.1.1) */
    write_file(path_of("%s/data", work), want, wlen);
    cr_assert_eq(run("openssl cms -verify -binary -inform DER -in %s/sig.der -content %s/data "
                     "-CAfile " SM "/ca.pem -purpose smimesign -out %s/content 2>%s/err",
                     work, work, fix, work, work),
                 0, "openssl cms -verify -binary: %s", read_file(path_of("%s/err", work), NULL));
    cr_assert(file_equals(path_of("%s/content", work), want, wlen), "verified content differs");
    /* 3. gpgsm verifies the same detached signature over the CRLF bytes */
    cr_assert_eq(run("gpgsm --homedir %s/gpgsm --batch --disable-crl-checks --status-fd 3 "
                     "--verify %s/sig.der %s/data 3>%s/gstatus 2>%s/gerr",
                     fix, work, work, work, work),
                 0, "gpgsm --verify: %s", read_file(path_of("%s/gerr", work), NULL));
    cr_assert_eq(run("grep -q 'GOODSIG' %s/gstatus", work), 0);
    free(part1);
    free(part2);
    free(want);
}

static char *sign_with(const struct smime_opts *opts, const char *text, struct ferr *err, int *rc)
{
    struct smime_signer *s = alice_signer();
    FILE *out = fopen(path_of("%s/out.eml", work), "w+");
    int fd = input_fd(text, strlen(text));

    *rc = smime_sign(fd, s, opts, out, err);
    fclose(out);
    close(fd);
    keystore_smime_signer_free(s);
    return read_file(path_of("%s/out.eml", work), NULL);
}

Test(smime, sign_default_sha256_verified_by_openssl_and_gpgsm)
{
    struct ferr err;
    int rc;
    char *out = sign_with(NULL, entity, &err, &rc);

    cr_assert_eq(rc, FERR_OK, "%s", err.text);
    cr_assert(strchr(out, '\r') == NULL);
    verify_signed(out, entity, strlen(entity) - 1, "sha256", "sha-256");
    free(out);
}

Test(smime, sign_sha512_micalg_and_no_final_newline)
{
    const char *text = "Content-Type: text/plain\n\nlast line without newline";
    struct smime_opts o = {SMIME_AES256_CBC, SMIME_KT_PKCS1V15, "sha512"};
    struct ferr err;
    int rc;
    char *out = sign_with(&o, text, &err, &rc);

    cr_assert_eq(rc, FERR_OK, "%s", err.text);
    verify_signed(out, text, strlen(text), "sha512", "sha-512");
    free(out);
}

Test(smime, sign_unknown_digest_is_temp)
{
    struct smime_opts o = {SMIME_AES256_CBC, SMIME_KT_PKCS1V15, "md5"};
    struct ferr err;
    int rc;
    char *out = sign_with(&o, entity, &err, &rc);

    cr_assert_eq(rc, FERR_TEMP);
    cr_assert_not_null(strstr(err.text, "md5"), "%s", err.text);
    free(out);
}

Test(smime, sign_then_encrypt_inner_multipart_signed)
{
    STACK_OF(X509) *rcpt = sk_X509_new_null();
    struct smime_signer *s = alice_signer();
    struct ferr err;
    size_t n;
    char *out, *inner;
    int rc;

    sk_X509_push(rcpt, load_cert("bob"));
    out = encrypt_to(rcpt, NULL, s, &err, &rc);
    cr_assert_eq(rc, FERR_OK, "%s", err.text);
    check_b64_lines(body_of(out));
    cr_assert_eq(run("openssl cms -decrypt -in %s/out.eml -inkey " SM "/bob.key -recip " SM
                     "/bob.pem -binary -out %s/inner.crlf 2>%s/err",
                     work, fix, fix, work, work),
                 0);
    /* the decrypted entity is a multipart/signed in CRLF form: back to LF, then verify */
    inner = read_file(path_of("%s/inner.crlf", work), &n);
    cr_assert_eq(run("sed 's/\\r$//' %s/inner.crlf >%s/inner", work, work), 0);
    free(inner);
    inner = read_file(path_of("%s/inner", work), &n);
    cr_assert(strlen(inner) == n);
    verify_signed(inner, entity, strlen(entity) - 1, "sha256", "sha-256");
    keystore_smime_signer_free(s);
    sk_X509_pop_free(rcpt, X509_free);
    free(inner);
    free(out);
}

Test(smime, gcm_auth_enveloped_decrypts_with_openssl)
{
    STACK_OF(X509) *rcpt = sk_X509_new_null();
    struct smime_opts o = {SMIME_AES256_GCM, SMIME_KT_PKCS1V15, NULL};
    struct ferr err;
    size_t n;
    char *want = crlf_of(entity, strlen(entity), &n), *out;
    int rc;

    sk_X509_push(rcpt, load_cert("bob"));
    sk_X509_push(rcpt, load_cert("alice"));
    out = encrypt_to(rcpt, &o, NULL, &err, &rc);
    cr_assert_eq(rc, FERR_OK, "%s", err.text);
    cr_assert(strncmp(out, "Content-Type: application/pkcs7-mime; smime-type=authEnveloped-data;",
                      68) == 0);
    check_b64_lines(body_of(out));
    /* either recipient can decrypt */
    cr_assert_eq(run("openssl cms -decrypt -in %s/out.eml -inkey " SM "/alice.key -recip " SM
                     "/alice.pem -binary -out %s/plain 2>%s/err",
                     work, fix, fix, work, work),
                 0, "%s", read_file(path_of("%s/err", work), NULL));
    cr_assert(file_equals(path_of("%s/plain", work), want, n));
    cr_assert_eq(run("openssl cms -decrypt -in %s/out.eml -inkey " SM
                     "/bob.key -binary -out %s/plain 2>%s/err",
                     work, fix, work, work),
                 0);
    cr_assert(file_equals(path_of("%s/plain", work), want, n));
    write_file(path_of("%s/b64", work), body_of(out), strlen(body_of(out)));
    cr_assert_eq(run("openssl base64 -d -in %s/b64 | openssl cms -cmsout -print -inform DER "
                     "| grep -q 'algorithm: aes-256-gcm'",
                     work),
                 0);
    sk_X509_pop_free(rcpt, X509_free);
    free(want);
    free(out);
}

Test(smime, oaep_key_transport_by_option)
{
    STACK_OF(X509) *rcpt = sk_X509_new_null();
    struct smime_opts o = {SMIME_AES256_CBC, SMIME_KT_RSA_OAEP, NULL};
    struct ferr err;
    size_t n;
    char *want = crlf_of(entity, strlen(entity), &n), *out;
    int rc;

    sk_X509_push(rcpt, load_cert("bob"));
    out = encrypt_to(rcpt, &o, NULL, &err, &rc);
    cr_assert_eq(rc, FERR_OK, "%s", err.text);
    write_file(path_of("%s/b64", work), body_of(out), strlen(body_of(out)));
    cr_assert_eq(run("openssl base64 -d -in %s/b64 | openssl cms -cmsout -print -inform DER "
                     "| grep -q 'algorithm: rsaesOaep'",
                     work),
                 0);
    cr_assert_eq(run("openssl cms -decrypt -in %s/out.eml -inkey " SM
                     "/bob.key -binary -out %s/plain 2>/dev/null",
                     work, fix, work),
                 0);
    cr_assert(file_equals(path_of("%s/plain", work), want, n));
    sk_X509_pop_free(rcpt, X509_free);
    free(want);
    free(out);
}

Test(smime, no_recipients_is_temp)
{
    STACK_OF(X509) *rcpt = sk_X509_new_null();
    struct ferr err;
    int rc;
    char *out = encrypt_to(rcpt, NULL, NULL, &err, &rc);

    cr_assert_eq(rc, FERR_TEMP);
    sk_X509_free(rcpt);
    free(out);
}

Test(smime, read_and_write_errors_are_temp)
{
    STACK_OF(X509) *rcpt = sk_X509_new_null();
    struct ferr err;
    FILE *out = fopen(path_of("%s/out.eml", work), "w");
    int fd = open(work, O_RDONLY | O_DIRECTORY);

    sk_X509_push(rcpt, load_cert("bob"));
    cr_assert_eq(smime_encrypt(fd, rcpt, NULL, NULL, out, &err), FERR_TEMP);
    cr_assert_not_null(strstr(err.text, "reading the message"), "%s", err.text);
    fclose(out);
    close(fd);
    out = fopen("/dev/full", "w");
    fd = input_fd(entity, strlen(entity));
    cr_assert_eq(smime_encrypt(fd, rcpt, NULL, NULL, out, &err), FERR_TEMP);
    cr_assert(strncmp(err.text, "4.3.0 ", 6) == 0, "%s", err.text);
    fclose(out);
    close(fd);
    sk_X509_pop_free(rcpt, X509_free);
}

Test(smime, large_body_encrypt_and_sign_roundtrip)
{
    STACK_OF(X509) *rcpt = sk_X509_new_null();
    char *text = big_entity(400000), *want, *out;
    struct ferr err;
    size_t n, len = strlen(text);
    FILE *fp;
    int fd, rc;

    sk_X509_push(rcpt, load_cert("bob"));
    fd = input_fd(text, len);
    fp = fopen(path_of("%s/out.eml", work), "w");
    cr_assert_eq(smime_encrypt(fd, rcpt, NULL, NULL, fp, &err), FERR_OK, "%s", err.text);
    fclose(fp);
    close(fd);
    out = read_file(path_of("%s/out.eml", work), NULL);
    check_b64_lines(body_of(out));
    cr_assert_eq(run("openssl cms -decrypt -in %s/out.eml -inkey " SM
                     "/bob.key -binary -out %s/plain 2>/dev/null",
                     work, fix, work),
                 0);
    want = crlf_of(text, len, &n);
    cr_assert(file_equals(path_of("%s/plain", work), want, n));
    free(out);
    out = sign_with(NULL, text, &err, &rc);
    cr_assert_eq(rc, FERR_OK, "%s", err.text);
    verify_signed(out, text, len - 1, "sha256", "sha-256");
    sk_X509_pop_free(rcpt, X509_free);
    free(out);
    free(want);
    free(text);
}

Test(smime, ec_recipient_ecdh_decrypts_with_openssl)
{
    STACK_OF(X509) *rcpt = sk_X509_new_null();
    struct ferr err;
    size_t n;
    char *want = crlf_of(entity, strlen(entity), &n), *out;
    int rc;

    sk_X509_push(rcpt, load_cert("eve"));
    sk_X509_push(rcpt, load_cert("bob"));
    out = encrypt_to(rcpt, NULL, NULL, &err, &rc);
    cr_assert_eq(rc, FERR_OK, "%s", err.text);
    cr_assert_eq(run("openssl cms -decrypt -in %s/out.eml -inkey " SM "/eve.key -recip " SM
                     "/eve.pem -binary -out %s/plain 2>%s/err",
                     work, fix, fix, work, work),
                 0, "%s", read_file(path_of("%s/err", work), NULL));
    cr_assert(file_equals(path_of("%s/plain", work), want, n));
    /* the RSA recipient of the same message still decrypts */
    cr_assert_eq(run("openssl cms -decrypt -in %s/out.eml -inkey " SM
                     "/bob.key -binary -out %s/plain 2>/dev/null",
                     work, fix, work),
                 0);
    cr_assert(file_equals(path_of("%s/plain", work), want, n));
    sk_X509_pop_free(rcpt, X509_free);
    free(want);
    free(out);
}
