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

static const char *recips[2];
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
