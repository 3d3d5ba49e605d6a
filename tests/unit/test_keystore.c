/* test_keystore: finding usable local keys; every refusal says why. */
#include "crypto_helpers.h"

#include <criterion/redirect.h>

#include "keystore.h"
#include "log.h"

static struct keystore_conf conf;
static struct keystore *ks;

static void setup(void)
{
    struct ferr err;

    fix_setup();
    cr_redirect_stderr(); /* the keystore warns about the malformed fixture files */
    log_open("test_keystore", LOG_TO_STDERR, 0);
    memset(&conf, 0, sizeof(conf));
    conf.gnupg_home = strdup(path_of("%s/gnupg", fix));
    conf.smime_certs = strdup(path_of("%s/smime/certs", fix));
    conf.smime_ca = strdup(path_of("%s/smime/ca.pem", fix));
    cr_assert_eq(keystore_open(&ks, &conf, &err), FERR_OK, "%s", err.text);
}

static void teardown(void)
{
    keystore_close(ks);
    keystore_conf_free(&conf);
    fix_teardown();
}

TestSuite(keystore, .init = setup, .fini = teardown, .timeout = 60);

/* fingerprint according to gpg itself */
static const char *gpg_fpr(const char *addr)
{
    static char b[64];
    char cmd[600], line[512];
    FILE *fp;

    snprintf(cmd, sizeof(cmd), "gpg --homedir %.400s/gnupg --with-colons --list-keys '<%s>'", fix,
             addr);
    fp = popen(cmd, "r");
    b[0] = 0;
    while (fp && fgets(line, sizeof(line), fp))
        if (strncmp(line, "fpr:", 4) == 0 && b[0] == 0)
            sscanf(line, "fpr:::::::::%40[0-9A-F]", b);
    pclose(fp);
    return b;
}

Test(keystore, pgp_finds_valid_keys_case_insensitively)
{
    char fpr[128];
    struct ferr err;

    cr_assert_eq(keystore_pgp_find(ks, "alice@example.org", fpr, sizeof(fpr), &err), FERR_OK, "%s",
                 err.text);
    cr_assert_str_eq(fpr, gpg_fpr("alice@example.org"));
    cr_assert_eq(keystore_pgp_find(ks, "BOB@Example.ORG", fpr, sizeof(fpr), &err), FERR_OK, "%s",
                 err.text);
    cr_assert_str_eq(fpr, gpg_fpr("bob@example.org"));
}

Test(keystore, pgp_unusable_keys_say_why)
{
    static const struct {
        const char *addr, *why;
    } t[] = {
        {"expired@example.org", "expired 2020-01-02"},
        {"revoked@example.org", "is revoked"},
        {"disabled@example.org", "is disabled"},
        {"signonly@example.org", "has no usable encryption subkey"},
        {"subexp@example.org", "encryption subkey expired 2020-01-02"},
        {"old-uid@example.org", "user ID <old-uid@example.org> is revoked or invalid"},
    };
    char fpr[128];
    struct ferr err;
    size_t i;

    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        cr_assert_eq(keystore_pgp_find(ks, t[i].addr, fpr, sizeof(fpr), &err), FERR_PERM, "%s",
                     t[i].addr);
        cr_assert(strncmp(err.text, "5.7.1 no usable OpenPGP key for <", 33) == 0, "%s", err.text);
        cr_assert_not_null(strstr(err.text, t[i].why), "%s: %s", t[i].addr, err.text);
        cr_assert_not_null(strstr(err.text, gpg_fpr(t[i].addr)), "%s", err.text);
    }
}

Test(keystore, pgp_valid_uid_next_to_a_revoked_one)
{
    char fpr[128];
    struct ferr err;

    cr_assert_eq(keystore_pgp_find(ks, "new-uid@example.org", fpr, sizeof(fpr), &err), FERR_OK,
                 "%s", err.text);
    cr_assert_str_eq(fpr, gpg_fpr("new-uid@example.org"));
}

Test(keystore, pgp_uid_must_match_the_whole_address)
{
    char fpr[128];
    struct ferr err;

    /* keys exist for carol@example.org.evil.test and xdave@example.org only */
    cr_assert_eq(keystore_pgp_find(ks, "carol@example.org", fpr, sizeof(fpr), &err), FERR_PERM);
    cr_assert_not_null(strstr(err.text, "no OpenPGP key with user ID <carol@example.org>"), "%s",
                       err.text);
    cr_assert_eq(keystore_pgp_find(ks, "dave@example.org", fpr, sizeof(fpr), &err), FERR_PERM);
    cr_assert_eq(keystore_pgp_find(ks, "example.org", fpr, sizeof(fpr), &err), FERR_PERM);
    cr_assert(strncmp(err.text, "5.1.3 ", 6) == 0, "%s", err.text);
    cr_assert_eq(keystore_pgp_find(ks, "a@b>c@example.org", fpr, sizeof(fpr), &err), FERR_PERM);
}

Test(keystore, pgp_signer_by_fingerprint_or_address)
{
    char fpr[128], want[64];
    struct ferr err;

    strcpy(want, gpg_fpr("alice@example.org"));
    cr_assert_eq(keystore_pgp_signer(ks, want, fpr, sizeof(fpr), &err), FERR_OK, "%s", err.text);
    cr_assert_str_eq(fpr, want);
    cr_assert_eq(keystore_pgp_signer(ks, "alice@example.org", fpr, sizeof(fpr), &err), FERR_OK,
                 "%s", err.text);
    cr_assert_str_eq(fpr, want);
    /* a sign-only key is fine for signing */
    cr_assert_eq(keystore_pgp_signer(ks, "signonly@example.org", fpr, sizeof(fpr), &err), FERR_OK,
                 "%s", err.text);
    cr_assert_eq(keystore_pgp_signer(ks, gpg_fpr("revoked@example.org"), fpr, sizeof(fpr), &err),
                 FERR_PERM);
    cr_assert_not_null(strstr(err.text, "revoked"), "%s", err.text);
    cr_assert_eq(
        keystore_pgp_signer(ks, "0123456789ABCDEF0123456789ABCDEF01234567", fpr, sizeof(fpr), &err),
        FERR_PERM);
    cr_assert_not_null(strstr(err.text, "no secret key"), "%s", err.text);
}

Test(keystore, unreadable_gnupg_home_is_temp)
{
    struct keystore_conf c = {0};
    struct keystore *k;
    struct ferr err;

    c.gnupg_home = (char *)path_of("%s/no-such-home", work);
    cr_assert_eq(keystore_open(&k, &c, &err), FERR_TEMP);
    cr_assert(strncmp(err.text, "4.3.0 GnuPG home ", 17) == 0, "%s", err.text);
    cr_assert_not_null(strstr(err.text, "No such file"), "%s", err.text);
}

Test(keystore, smime_finds_san_and_subject_email_certs)
{
    struct ferr err;
    X509 *x;
    char buf[256];

    cr_assert_eq(keystore_smime_find(ks, "Bob@example.org", &x, &err), FERR_OK, "%s", err.text);
    X509_NAME_oneline(X509_get_subject_name(x), buf, sizeof(buf));
    cr_assert_str_eq(buf, "/CN=bob");
    X509_free(x);
    /* carol's address is only in the subject's emailAddress */
    cr_assert_eq(keystore_smime_find(ks, "carol@example.org", &x, &err), FERR_OK, "%s", err.text);
    X509_free(x);
    /* alice's file carries the CA after her certificate */
    cr_assert_eq(keystore_smime_find(ks, "alice@example.org", &x, &err), FERR_OK, "%s", err.text);
    X509_NAME_oneline(X509_get_subject_name(x), buf, sizeof(buf));
    cr_assert_str_eq(buf, "/CN=alice");
    X509_free(x);
}

Test(keystore, smime_unusable_certs_say_why)
{
    static const struct {
        const char *addr, *why;
    } t[] = {
        {"old@example.org", "expired Feb  1 00:00:00 2020 GMT"},
        {"sig@example.org", "key usage/extended key usage does not allow S/MIME encryption"},
        {"stranger@example.org", "unable to get local issuer certificate"},
    };
    struct ferr err;
    X509 *x;
    size_t i;

    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        cr_assert_eq(keystore_smime_find(ks, t[i].addr, &x, &err), FERR_PERM, "%s", t[i].addr);
        cr_assert_null(x);
        cr_assert(strncmp(err.text, "5.7.1 no usable S/MIME certificate for <", 40) == 0, "%s",
                  err.text);
        cr_assert_not_null(strstr(err.text, t[i].why), "%s", err.text);
        cr_assert_not_null(strstr(err.text, "/certs/"), "names the file: %s", err.text);
    }
    cr_assert_eq(keystore_smime_find(ks, "nobody@example.org", &x, &err), FERR_PERM);
    cr_assert_not_null(strstr(err.text, "no S/MIME certificate for <nobody@example.org> in"), "%s",
                       err.text);
}

Test(keystore, smime_malformed_files_are_skipped_and_named)
{
    struct ferr err;
    X509 *x;
    char buf[4096];
    size_t n;
    FILE *fp;

    cr_assert_eq(keystore_smime_find(ks, "bob@example.org", &x, &err), FERR_OK, "%s", err.text);
    X509_free(x);
    fflush(stderr);
    fp = cr_get_redirected_stderr();
    n = fread(buf, 1, sizeof(buf) - 1, fp);
    buf[n] = 0;
    cr_assert_not_null(strstr(buf, "zz-malformed.pem: malformed certificate #1"), "%s", buf);
    cr_assert_not_null(strstr(buf, "zz-notpem.txt: no PEM certificate in file (file skipped)"),
                       "%s", buf);
}

Test(keystore, smime_without_anchors_nothing_is_usable)
{
    struct keystore_conf c = {0};
    struct keystore *k;
    struct ferr err;
    X509 *x;

    c.smime_certs = conf.smime_certs;
    cr_assert_eq(keystore_open(&k, &c, &err), FERR_OK, "%s", err.text);
    cr_assert_eq(keystore_smime_find(k, "bob@example.org", &x, &err), FERR_PERM);
    cr_assert_not_null(strstr(err.text, "no trust anchors configured"), "%s", err.text);
    keystore_close(k);
}

Test(keystore, malformed_trust_anchor_file_is_temp_naming_it)
{
    struct keystore_conf c = {0};
    struct keystore *k;
    struct ferr err;

    c.smime_ca = (char *)path_of("%s/smime/certs/zz-malformed.pem", fix);
    cr_assert_eq(keystore_open(&k, &c, &err), FERR_TEMP);
    cr_assert_not_null(strstr(err.text, "zz-malformed.pem: malformed certificate #1"), "%s",
                       err.text);
    c.smime_ca = (char *)path_of("%s/smime/certs/zz-notpem.txt", fix);
    cr_assert_eq(keystore_open(&k, &c, &err), FERR_TEMP);
    cr_assert_not_null(strstr(err.text, "zz-notpem.txt: no PEM certificate"), "%s", err.text);
    c.smime_ca = (char *)path_of("%s/smime/none.pem", fix);
    cr_assert_eq(keystore_open(&k, &c, &err), FERR_TEMP);
    cr_assert_not_null(strstr(err.text, "none.pem: No such file"), "%s", err.text);
}

Test(keystore, smime_signer_loads_cert_key_and_chain)
{
    struct smime_signer *s;
    struct ferr err;

    cr_assert_eq(keystore_smime_signer(path_of("%s/smime/certs/alice.pem", fix),
                                       path_of("%s/smime/alice.key", fix), &s, &err),
                 FERR_OK, "%s", err.text);
    cr_assert_eq(sk_X509_num(s->chain), 1);
    keystore_smime_signer_free(s);
}

Test(keystore, smime_signer_refusals)
{
    struct smime_signer *s;
    struct ferr err;

    /* private key readable by others */
    cr_assert_eq(keystore_smime_signer(path_of("%s/smime/alice.pem", fix),
                                       path_of("%s/smime/alice-open.key", fix), &s, &err),
                 FERR_TEMP);
    cr_assert_null(s);
    cr_assert_not_null(
        strstr(err.text, "alice-open.key is accessible by group or others (mode 0644)"), "%s",
        err.text);
    /* key of somebody else */
    cr_assert_eq(keystore_smime_signer(path_of("%s/smime/alice.pem", fix),
                                       path_of("%s/smime/bob.key", fix), &s, &err),
                 FERR_TEMP);
    cr_assert_not_null(strstr(err.text, "does not match"), "%s", err.text);
    /* expired certificate */
    cr_assert_eq(keystore_smime_signer(path_of("%s/smime/old.pem", fix),
                                       path_of("%s/smime/old.key", fix), &s, &err),
                 FERR_TEMP);
    cr_assert_not_null(strstr(err.text, "expired"), "%s", err.text);
    /* malformed certificate file */
    cr_assert_eq(keystore_smime_signer(path_of("%s/smime/certs/zz-malformed.pem", fix),
                                       path_of("%s/smime/alice.key", fix), &s, &err),
                 FERR_TEMP);
    cr_assert_not_null(strstr(err.text, "zz-malformed.pem: malformed certificate"), "%s", err.text);
    /* a certificate file as key */
    cr_assert_eq(keystore_smime_signer(path_of("%s/smime/alice.pem", fix),
                                       path_of("%s/smime/ca/index.txt", fix), &s, &err),
                 FERR_TEMP);
}

Test(keystore, conf_entries)
{
    struct keystore_conf c = {0};
    struct cfg_diag d = {"t.ini", 0};
    struct cfg_entry e1 = {"filter", "gnupg_home", "/var/lib/postseal/gnupg", 3};
    struct cfg_entry e2 = {"filter", "smime_certs", "/a /b", 4};
    struct cfg_entry e3 = {"filter", "reinject", "x", 5};
    struct cfg_entry e4 = {"filter", "smime_ca", "", 6};

    cr_assert_eq(keystore_conf_entry(&c, &e1, &d), 1);
    cr_assert_eq(keystore_conf_entry(&c, &e2, &d), 1);
    cr_assert_eq(keystore_conf_entry(&c, &e3, &d), 0);
    cr_assert_eq(d.errors, 0);
    cr_assert_eq(keystore_conf_entry(&c, &e4, &d), 1);
    cr_assert_eq(d.errors, 1);
    cr_assert_str_eq(c.gnupg_home, "/var/lib/postseal/gnupg");
    cr_assert_str_eq(c.smime_certs, "/a /b");
    keystore_conf_free(&c);
}

Test(keystore, smime_ec_recipient_with_key_agreement)
{
    struct ferr err;
    X509 *x;

    cr_assert_eq(keystore_smime_find(ks, "eve@example.org", &x, &err), FERR_OK, "%s", err.text);
    X509_free(x);
}

Test(keystore, smime_every_anchor_counts_even_a_leaf)
{
    struct keystore_conf c = {0};
    struct keystore *k;
    struct ferr err;
    X509 *x;

    /* stranger's issuer is not trusted, but stranger's own certificate is listed */
    c.smime_certs = conf.smime_certs;
    c.smime_ca = (char *)path_of("%s/smime/ca.pem %s/smime/stranger.pem", fix, fix);
    cr_assert_eq(keystore_open(&k, &c, &err), FERR_OK, "%s", err.text);
    cr_assert_eq(keystore_smime_find(k, "stranger@example.org", &x, &err), FERR_OK, "%s", err.text);
    X509_free(x);
    /* the purpose is still checked: sig@ cannot encrypt even when listed */
    c.smime_ca = (char *)path_of("%s/smime/ca.pem %s/smime/sig.pem", fix, fix);
    keystore_close(k);
    cr_assert_eq(keystore_open(&k, &c, &err), FERR_OK, "%s", err.text);
    cr_assert_eq(keystore_smime_find(k, "sig@example.org", &x, &err), FERR_PERM);
    keystore_close(k);
}
