/* test_pgp: PGP/MIME output checked by gpg itself (decrypt, verify), byte for byte. */
#include "crypto_helpers.h"

#include "log.h"
#include "pgp.h"

static struct pgp *pgp;

static void setup(void)
{
    struct ferr err;

    fix_setup();
    log_open("test_pgp", LOG_TO_STDERR, 0);
    cr_assert_eq(pgp_open(&pgp, path_of("%s/gnupg", fix), &err), FERR_OK, "%s", err.text);
}

static void teardown(void)
{
    pgp_close(pgp);
    fix_teardown();
}

TestSuite(pgp, .init = setup, .fini = teardown, .timeout = 120);

#define GPG "gpg --homedir %.200s/gnupg --batch --no-tty --pinentry-mode loopback --passphrase="

/* Primary fingerprint of the key with <addr>, asked from gpg. */
static const char *fpr(const char *addr)
{
    static char buf[4][64];
    static int i;
    char *b = buf[i++ % 4];
    FILE *fp;
    char cmd[512], line[512];

    snprintf(cmd, sizeof(cmd), GPG " --with-colons --list-keys '<%s>'", fix, addr);
    fp = popen(cmd, "r");
    cr_assert_not_null(fp);
    b[0] = 0;
    while (fgets(line, sizeof(line), fp))
        if (strncmp(line, "fpr:", 4) == 0 && b[0] == 0)
            sscanf(line, "fpr:::::::::%40[0-9A-F]", b);
    pclose(fp);
    cr_assert_eq(strlen(b), 40, "no key for %s", addr);
    return b;
}

static const char *entity = "Content-Type: text/plain; charset=us-ascii\n"
                            "Content-Transfer-Encoding: 7bit\n"
                            "Subject: protected subject\n"
                            "\n"
                            "Hello Bob,\n"
                            "line with trailing space \n"
                            "\n"
                            "From the start of a line. and a dot:\n"
                            ".\n"
                            "bye\n";

/* Writes the produced entity to work/out and returns it. */
static char *produce(int (*fn)(FILE *, struct ferr *), struct ferr *err, int *rc)
{
    FILE *out = fopen(path_of("%s/out", work), "w+");

    cr_assert_not_null(out);
    *rc = fn(out, err);
    fclose(out);
    return read_file(path_of("%s/out", work), NULL);
}

/* Extracts the armored block of the second part into work/msg.asc. */
static void save_armor(const char *out)
{
    size_t len;
    char *part = part_of(out, 2, &len);
    const char *body = body_of(part);

    cr_assert(strncmp(body, "-----BEGIN PGP MESSAGE-----\n", 28) == 0, "%.200s", body);
    cr_assert_not_null(strstr(body, "-----END PGP MESSAGE-----\n"));
    write_file(path_of("%s/msg.asc", work), body, strlen(body));
    free(part);
}

static void check_encrypted_structure(const char *out)
{
    size_t len;
    char *p1;

    cr_assert(strncmp(out,
                      "Content-Type: multipart/encrypted; "
                      "protocol=\"application/pgp-encrypted\";\n boundary=\"",
                      80) == 0,
              "%.200s", out);
    p1 = part_of(out, 1, &len);
    cr_assert_str_eq(p1, "Content-Type: application/pgp-encrypted\n"
                         "Content-Description: PGP/MIME version identification\n"
                         "\n"
                         "Version: 1\n");
    free(p1);
    cr_assert_not_null(strstr(out, "\nContent-Type: application/octet-stream"));
    cr_assert(strstr(out, "\r") == NULL, "output must use LF line ends");
}

static const char *recips[4];
static int nrecips;
static const char *signer;
static int in_fd;

static int do_encrypt(FILE *out, struct ferr *err)
{
    return pgp_encrypt(pgp, in_fd, recips, nrecips, signer, out, err);
}

static int do_sign(FILE *out, struct ferr *err)
{
    return pgp_sign(pgp, in_fd, signer, out, err);
}

Test(pgp, encrypt_decrypts_with_gpg_byte_for_byte)
{
    struct ferr err;
    size_t n;
    char *want = crlf_of(entity, strlen(entity), &n), *out;
    int rc;

    in_fd = input_fd(entity, strlen(entity));
    recips[0] = fpr("bob@example.org");
    nrecips = 1;
    signer = NULL;
    out = produce(do_encrypt, &err, &rc);
    cr_assert_eq(rc, FERR_OK, "%s", err.text);
    check_encrypted_structure(out);
    save_armor(out);
    cr_assert_eq(run(GPG " --status-fd 3 --decrypt -o %s/plain %s/msg.asc 3>%s/status 2>/dev/null",
                     fix, work, work, work),
                 0);
    cr_assert(file_equals(path_of("%s/plain", work), want, n),
              "decrypted text differs from the CRLF form of the input");
    /* not signed */
    cr_assert_eq(run("grep -q 'GOODSIG\\|VALIDSIG' %s/status", work), 1);
    free(want);
    free(out);
}

/* gpg --verify of the detached signature over the CRLF form of part 1, byte for byte; returns
 * the hash algorithm number from VALIDSIG. */
static int verify_signed(const char *out, const char *signed_lf, size_t signed_len)
{
    size_t len, clen, slen;
    char *part1 = part_of(out, 1, &len), *part2 = part_of(out, 2, &slen), *crlf;
    char *status;
    const char *v;
    int algo = -1;

    cr_assert_eq(len, signed_len, "signed part has %zu bytes, expected %zu", len, signed_len);
    cr_assert(memcmp(part1, signed_lf, len) == 0, "signed part differs from the input");
    crlf = crlf_of(part1, len, &clen);
    write_file(path_of("%s/data", work), crlf, clen);
    cr_assert(strncmp(part2, "Content-Type: application/pgp-signature", 39) == 0);
    write_file(path_of("%s/sig.asc", work), body_of(part2), strlen(body_of(part2)));
    cr_assert_eq(run(GPG " --status-fd 3 --verify %s/sig.asc %s/data 3>%s/status 2>/dev/null", fix,
                     work, work, work),
                 0, "gpg --verify failed");
    status = read_file(path_of("%s/status", work), NULL);
    cr_assert_not_null(strstr(status, "[GNUPG:] GOODSIG"), "%s", status);
    v = strstr(status, "[GNUPG:] VALIDSIG ");
    cr_assert_not_null(v);
    /* VALIDSIG fpr date ts expire version reserved pkalgo hashalgo class primary */
    cr_assert_eq(sscanf(v, "[GNUPG:] VALIDSIG %*s %*s %*s %*s %*s %*s %*s %d", &algo), 1);
    free(status);
    free(part1);
    free(part2);
    free(crlf);
    return algo;
}

static const char *micalg_for(int algo)
{
    switch (algo) {
    case 2:
        return "pgp-sha1";
    case 8:
        return "pgp-sha256";
    case 9:
        return "pgp-sha384";
    case 10:
        return "pgp-sha512";
    case 11:
        return "pgp-sha224";
    }
    return "?";
}

Test(pgp, sign_verifies_with_gpg_and_micalg_matches)
{
    struct ferr err;
    char *out, hdr[200];
    int rc, algo;

    in_fd = input_fd(entity, strlen(entity));
    signer = fpr("alice@example.org");
    out = produce(do_sign, &err, &rc);
    cr_assert_eq(rc, FERR_OK, "%s", err.text);
    cr_assert(strchr(out, '\r') == NULL);
    /* the signed part is the input without its final LF (the delimiter's line end) */
    algo = verify_signed(out, entity, strlen(entity) - 1);
    snprintf(hdr, sizeof(hdr),
             "Content-Type: multipart/signed; micalg=%s;\n"
             " protocol=\"application/pgp-signature\"; boundary=\"",
             micalg_for(algo));
    cr_assert(strncmp(out, hdr, strlen(hdr)) == 0, "want %s got:\n%.200s", hdr, out);
    free(out);
}

Test(pgp, sign_rsa_key_and_input_without_final_newline)
{
    const char *text = "Content-Type: text/plain\n\nno newline at the end";
    struct ferr err;
    char *out, hdr[200];
    int rc, algo;

    in_fd = input_fd(text, strlen(text));
    signer = fpr("bob@example.org");
    out = produce(do_sign, &err, &rc);
    cr_assert_eq(rc, FERR_OK, "%s", err.text);
    algo = verify_signed(out, text, strlen(text));
    snprintf(hdr, sizeof(hdr), "Content-Type: multipart/signed; micalg=%s;", micalg_for(algo));
    cr_assert(strncmp(out, hdr, strlen(hdr)) == 0, "want %s got:\n%.200s", hdr, out);
    free(out);
}

Test(pgp, sign_and_encrypt_combined_two_recipients)
{
    struct ferr err;
    size_t n;
    char *want = crlf_of(entity, strlen(entity), &n), *out, *status;

    int rc;
    in_fd = input_fd(entity, strlen(entity));
    recips[0] = fpr("bob@example.org");
    recips[1] = fpr("alice@example.org");
    nrecips = 2;
    signer = fpr("alice@example.org");
    out = produce(do_encrypt, &err, &rc);
    cr_assert_eq(rc, FERR_OK, "%s", err.text);
    check_encrypted_structure(out);
    save_armor(out);
    cr_assert_eq(run(GPG " --status-fd 3 --decrypt -o %s/plain %s/msg.asc 3>%s/status 2>/dev/null",
                     fix, work, work, work),
                 0);
    cr_assert(file_equals(path_of("%s/plain", work), want, n));
    status = read_file(path_of("%s/status", work), NULL);
    /* RFC 3156 6.2: one OpenPGP message, signature inside; both recipients listed */
    cr_assert_not_null(strstr(status, "[GNUPG:] GOODSIG"), "%s", status);
    cr_assert_not_null(strstr(status, signer), "%s", status);
    cr_assert_eq(run("test $(grep -c 'ENC_TO' %s/status) -eq 2", work), 0);
    free(status);
    free(want);
    free(out);
}

Test(pgp, hidden_recipients_have_key_id_zero)
{
    struct ferr err;
    char *out;
    int rc;

    pgp_set_hidden_recipients(pgp, 1);
    in_fd = input_fd(entity, strlen(entity));
    recips[0] = fpr("bob@example.org");
    nrecips = 1;
    signer = NULL;
    out = produce(do_encrypt, &err, &rc);
    cr_assert_eq(rc, FERR_OK, "%s", err.text);
    save_armor(out);
    cr_assert_eq(run(GPG " --list-packets %s/msg.asc >%s/packets 2>/dev/null; "
                         "grep -q 'keyid 0000000000000000' %s/packets",
                     fix, work, work, work),
                 0);
    cr_assert_eq(
        run(GPG " --try-all-secrets -o %s/plain --decrypt %s/msg.asc 2>/dev/null", fix, work, work),
        0);
    free(out);
}

/* ---- errors ---- */

static int encrypt_to(const char *fpr_, struct ferr *err)
{
    char *out;
    int rc;

    in_fd = input_fd(entity, strlen(entity));
    recips[0] = fpr_;
    nrecips = 1;
    signer = NULL;
    out = produce(do_encrypt, err, &rc);
    free(out);
    return rc;
}

Test(pgp, expired_revoked_disabled_signonly_keys_are_refused_perm)
{
    static const char *addrs[] = {"expired@example.org", "revoked@example.org",
                                  "disabled@example.org", "signonly@example.org"};
    static const char *why[] = {"expired", "revoked", "disabled", "no usable encryption subkey"};
    struct ferr err;
    size_t i;

    for (i = 0; i < 4; i++) {
        cr_assert_eq(encrypt_to(fpr(addrs[i]), &err), FERR_PERM, "%s: %s", addrs[i], err.text);
        cr_assert(strncmp(err.text, "5.7.1 ", 6) == 0, "%s", err.text);
        cr_assert_not_null(strstr(err.text, why[i]), "%s", err.text);
    }
}

Test(pgp, unknown_fingerprint_is_temp)
{
    struct ferr err;

    cr_assert_eq(encrypt_to("0123456789ABCDEF0123456789ABCDEF01234567", &err), FERR_TEMP);
    cr_assert_not_null(strstr(err.text, "not in the GnuPG home"), "%s", err.text);
}

Test(pgp, no_recipients_is_temp)
{
    struct ferr err;
    FILE *out = fopen(path_of("%s/out", work), "w");

    cr_assert_eq(pgp_encrypt(pgp, 0, recips, 0, NULL, out, &err), FERR_TEMP);
    fclose(out);
}

Test(pgp, signing_key_without_secret_is_refused)
{
    struct ferr err;
    char *out;
    int rc;

    in_fd = input_fd(entity, strlen(entity));
    /* the GnuPG home has no secret key for this made-up fingerprint */
    signer = "0123456789ABCDEF0123456789ABCDEF01234567";
    out = produce(do_sign, &err, &rc);
    cr_assert_eq(rc, FERR_TEMP, "%s", err.text);
    free(out);
}

Test(pgp, unreadable_gnupg_home_is_temp)
{
    struct pgp *p2;
    struct ferr err;

    cr_assert_eq(pgp_open(&p2, path_of("%s/nonexistent", work), &err), FERR_TEMP);
    cr_assert(strncmp(err.text, "4.", 2) == 0 && strstr(err.text, "nonexistent"), "%s", err.text);
    write_file(path_of("%s/afile", work), "x", 1);
    cr_assert_eq(pgp_open(&p2, path_of("%s/afile", work), &err), FERR_TEMP);
    cr_assert_not_null(strstr(err.text, "not a directory"), "%s", err.text);
}

Test(pgp, read_error_is_temp)
{
    struct ferr err;
    FILE *out = fopen(path_of("%s/out", work), "w");
    int fd = open(work, O_RDONLY | O_DIRECTORY); /* read() fails with EISDIR */

    recips[0] = fpr("bob@example.org");
    cr_assert_eq(pgp_encrypt(pgp, fd, recips, 1, NULL, out, &err), FERR_TEMP, "%s", err.text);
    cr_assert_not_null(strstr(err.text, "reading the message"), "%s", err.text);
    fclose(out);
    close(fd);
}

Test(pgp, write_error_is_temp)
{
    struct ferr err;
    FILE *out = fopen("/dev/full", "w");

    in_fd = input_fd(entity, strlen(entity));
    recips[0] = fpr("bob@example.org");
    cr_assert_not_null(out);
    cr_assert_eq(pgp_encrypt(pgp, in_fd, recips, 1, NULL, out, &err), FERR_TEMP);
    cr_assert(strncmp(err.text, "4.3.0 ", 6) == 0, "%s", err.text);
    fclose(out);
}

Test(pgp, large_body_sign_and_encrypt_roundtrip)
{
    char *text = big_entity(400000), *want, *out;
    struct ferr err;
    size_t n, len = strlen(text);
    int rc;

    in_fd = input_fd(text, len);
    recips[0] = fpr("bob@example.org");
    nrecips = 1;
    signer = NULL;
    out = produce(do_encrypt, &err, &rc);
    cr_assert_eq(rc, FERR_OK, "%s", err.text);
    save_armor(out);
    cr_assert_eq(run(GPG " -o %s/plain --decrypt %s/msg.asc 2>/dev/null", fix, work, work), 0);
    want = crlf_of(text, len, &n);
    cr_assert(file_equals(path_of("%s/plain", work), want, n));
    free(out);
    close(in_fd);
    in_fd = input_fd(text, len);
    signer = fpr("alice@example.org");
    out = produce(do_sign, &err, &rc);
    cr_assert_eq(rc, FERR_OK, "%s", err.text);
    verify_signed(out, text, len - 1);
    free(out);
    free(want);
    free(text);
}

Test(pgp, several_keys_one_listing_each_bad_key_named)
{
    static const char missing[] = "0123456789ABCDEF0123456789ABCDEF01234567";
    struct ferr err;
    char *out;
    int rc;

    in_fd = input_fd(entity, strlen(entity));
    recips[0] = fpr("alice@example.org");
    recips[1] = fpr("bob@example.org");
    recips[2] = missing;
    nrecips = 3;
    signer = NULL;
    out = produce(do_encrypt, &err, &rc);
    cr_assert_eq(rc, FERR_TEMP);
    cr_assert_not_null(strstr(err.text, missing), "%s", err.text);
    free(out);
    recips[2] = fpr("revoked@example.org");
    out = produce(do_encrypt, &err, &rc);
    cr_assert_eq(rc, FERR_PERM);
    cr_assert_not_null(strstr(err.text, recips[2]), "%s", err.text);
    free(out);
    /* the same key twice is fine; bob decrypts */
    close(in_fd);
    in_fd = input_fd(entity, strlen(entity));
    recips[2] = recips[1];
    out = produce(do_encrypt, &err, &rc);
    cr_assert_eq(rc, FERR_OK, "%s", err.text);
    save_armor(out);
    cr_assert_eq(run(GPG " -o %s/plain --decrypt %s/msg.asc 2>/dev/null", fix, work, work), 0);
    free(out);
}

Test(pgp, passphrase_protected_signing_key_defers)
{
    struct ferr err;
    char *out;
    int rc;

    in_fd = input_fd(entity, strlen(entity));
    signer = fpr("locked@example.org");
    out = produce(do_sign, &err, &rc);
    cr_assert_eq(rc, FERR_TEMP, "%s", err.text);
    cr_assert(strstr(err.text, "4.3.5 OpenPGP signing: the signing key is protected by a "
                               "passphrase") == err.text,
              "%s", err.text);
    cr_log_info("passphrase-protected key: %s", err.text);
    free(out);
    close(in_fd);
    in_fd = input_fd(entity, strlen(entity));
    recips[0] = fpr("bob@example.org");
    nrecips = 1;
    out = produce(do_encrypt, &err, &rc);
    cr_assert_eq(rc, FERR_TEMP, "%s", err.text);
    cr_assert_not_null(strstr(err.text, "signing+encryption: the signing key is protected"), "%s",
                       err.text);
    free(out);
}
