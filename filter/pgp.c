/*
 * pgp: PGP/MIME (RFC 3156) for outbound mail, through gpgme (gpg is never spawned by us).
 *
 * pgp_encrypt writes multipart/encrypted (protocol="application/pgp-encrypted": a first part
 * application/pgp-encrypted "Version: 1", a second application/octet-stream with the armored
 * OpenPGP message); with a signing key the message is signed and encrypted in one pass (RFC 3156
 * 6.2).  pgp_sign writes multipart/signed with a detached armored signature; micalg is the hash
 * gpg reports in the signature result, never a guess.
 *
 * Contract: the input entity (LF line ends) is handed to gpg as its CRLF form through a gpgme
 * read callback, and gpg's output is written straight to `out` through a write callback, so the
 * message is never held in memory.  pgp_sign reads the input twice: once into gpg, then (after
 * the micalg is known) it seeks back and copies the LF bytes into the signed part; in_fd must
 * therefore be seekable (the filter's spool file is).  Recipients are fingerprints; every key is
 * fetched and checked with keystore_pgp_usable right before use, and only then is gpg told to
 * trust it (GPGME_ENCRYPT_ALWAYS_TRUST: postseal does not use the web of trust, see keystore.c).
 * After every operation invalid recipients/signers and the signature count are checked.
 * Hidden recipients (pgp_set_hidden_recipients): every key id in the public-key encrypted session
 * key packets is zero (gpg --throw-keyids); a signer's key id stays inside the encrypted data, so
 * only the recipients see it.  gpg.conf's encrypt-to is never applied (--no-encrypt-to): the
 * message is encrypted to exactly the keys given.
 *
 * Failure: I/O errors, gpg/agent failures, missing keys: FERR_TEMP (4.3.0).  A key that is not
 * usable (expired, revoked, no encryption subkey, rejected by gpg): FERR_PERM (5.7.1).
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <gpgme.h>

#include "cryptio.h"
#include "keystore.h"
#include "pgp.h"

#define PGP_MAX_RECIPIENTS 1000

struct pgp {
    gpgme_ctx_t ctx;
    int hidden;
};

/* I/O state shared with the gpgme callbacks: remembers our own errors, so they are reported as
 * such instead of as whatever gpgme makes of them. */
struct pgp_io {
    struct cio_in in;
    FILE *out;
    int read_errno;
    int write_failed;
    int passphrase_asked; /* gpg wanted a passphrase: we have none to give */
};

static gpgme_error_t pgp_passphrase_cb(void *hook, const char *uid_hint, const char *info,
                                       int prev_was_bad, int fd)
{
    ((struct pgp_io *)hook)->passphrase_asked = 1;
    return gpg_error(GPG_ERR_CANCELED);
}

int pgp_open(struct pgp **pp, const char *gnupg_home, struct ferr *err)
{
    struct pgp *p;

    *pp = NULL;
    if ((p = calloc(1, sizeof(*p))) == NULL) {
        ferr_set(err, FERR_TEMP, "4.3.0 pgp: out of memory");
        return FERR_TEMP;
    }
    if (cio_gpgme_ctx(gnupg_home, &p->ctx, err) != FERR_OK) {
        free(p);
        return FERR_TEMP;
    }
    *pp = p;
    return FERR_OK;
}

void pgp_close(struct pgp *p)
{
    if (p == NULL)
        return;
    gpgme_release(p->ctx);
    free(p);
}

void pgp_set_hidden_recipients(struct pgp *p, int on)
{
    p->hidden = on;
}

/* gpgme moves data through pipes in PIPE_BUF (4 KiB) pieces by default: one poll round per
 * piece.  Bigger pieces make 25 MB cost a few hundred rounds instead of ~14000 (bounded: the
 * buffers are allocated once per data object). */
#define PGP_IO_BUFFER "131072"

static void pgp_io_buffer(gpgme_data_t d)
{
    (void)gpgme_data_set_flag(d, "io-buffer-size", PGP_IO_BUFFER); /* gpgme >= 1.17 */
}

static ssize_t pgp_read_cb(void *handle, void *buf, size_t size)
{
    struct pgp_io *io = handle;
    ssize_t n = cio_read_crlf(&io->in, buf, size);

    if (n < 0)
        io->read_errno = errno;
    return n;
}

static ssize_t pgp_write_cb(void *handle, const void *buf, size_t size)
{
    struct pgp_io *io = handle;

    if (fwrite(buf, 1, size, io->out) != size) {
        io->write_failed = 1;
        errno = EIO;
        return -1;
    }
    return size;
}

/* Classifies a failed gpgme operation. */
static int pgp_op_error(struct pgp_io *io, const char *what, gpgme_error_t ge, struct ferr *err)
{
    if (io->passphrase_asked)
        ferr_set(err, FERR_TEMP,
                 "4.3.5 %s: the signing key is protected by a passphrase; postseal needs a key "
                 "without one in gnupg_home",
                 what);
    else if (io->read_errno)
        ferr_set(err, FERR_TEMP, "4.3.0 %s: reading the message: %s", what,
                 strerror(io->read_errno));
    else if (io->write_failed)
        ferr_set(err, FERR_TEMP, "4.3.0 %s: writing the result: %s", what, strerror(errno));
    else
        ferr_set(err, FERR_TEMP, "4.3.0 %s failed: %s (%s)", what, gpgme_strerror(ge),
                 gpgme_strsource(ge));
    return FERR_TEMP;
}

static int pgp_key_has_fpr(gpgme_key_t key, const char *fpr)
{
    gpgme_subkey_t sk;

    if (strncasecmp(fpr, "0x", 2) == 0)
        fpr += 2;
    for (sk = key->subkeys; sk; sk = sk->next)
        if (sk->fpr && strcasecmp(sk->fpr, fpr) == 0)
            return 1;
    return 0;
}

/* Fetches all n recipient keys with ONE gpg key listing (one process, not n) and applies the
 * keystore's usability rule to each. */
static int pgp_get_keys(struct pgp *p, const char *const *fprs, size_t n, gpgme_key_t *keys,
                        struct ferr *err)
{
    char why[300];
    gpgme_key_t key;
    gpgme_error_t ge;
    size_t i;
    int rc = FERR_OK;

    for (i = 0; i < n; i++)
        if (fprs[i] == NULL || *fprs[i] == 0) {
            ferr_set(err, FERR_TEMP, "4.3.0 pgp_encrypt: empty recipient key #%zu", i + 1);
            return FERR_TEMP;
        }
    /* gpgme wants a NULL-terminated array; fprs is one only up to n */
    {
        const char **pat = calloc(n + 1, sizeof(*pat));

        if (pat == NULL) {
            ferr_set(err, FERR_TEMP, "4.3.0 pgp_encrypt: out of memory");
            return FERR_TEMP;
        }
        memcpy(pat, fprs, n * sizeof(*pat));
        ge = gpgme_op_keylist_ext_start(p->ctx, pat, 0, 0);
        free(pat);
    }
    if (ge) {
        ferr_set(err, FERR_TEMP, "4.3.0 OpenPGP key listing failed: %s", gpgme_strerror(ge));
        return FERR_TEMP;
    }
    while ((ge = gpgme_op_keylist_next(p->ctx, &key)) == 0) {
        for (i = 0; i < n; i++)
            if (keys[i] == NULL && pgp_key_has_fpr(key, fprs[i]))
                break;
        if (i == n) { /* not asked for (a pattern matched more): ignore */
            gpgme_key_unref(key);
            continue;
        }
        keys[i] = key;
        for (i++; i < n; i++) /* the same key asked twice */
            if (keys[i] == NULL && pgp_key_has_fpr(key, fprs[i])) {
                gpgme_key_ref(key);
                keys[i] = key;
            }
    }
    if (gpg_err_code(ge) != GPG_ERR_EOF) {
        gpgme_op_keylist_end(p->ctx);
        ferr_set(err, FERR_TEMP, "4.3.0 OpenPGP key listing failed: %s", gpgme_strerror(ge));
        return FERR_TEMP;
    }
    for (i = 0; i < n && rc == FERR_OK; i++) {
        if (keys[i] == NULL) {
            ferr_set(err, FERR_TEMP, "4.3.0 OpenPGP recipient key %s: not in the GnuPG home",
                     fprs[i]);
            rc = FERR_TEMP;
        } else if (keystore_pgp_usable(keys[i], NULL, KEYSTORE_ENCRYPT, why, sizeof(why)) < 0) {
            ferr_set(err, FERR_PERM, "5.7.1 OpenPGP recipient key unusable: %s", why);
            rc = FERR_PERM;
        }
    }
    return rc;
}

/* Fetches a key by fingerprint and applies the keystore's usability rule. */
static int pgp_get_key(struct pgp *p, const char *fpr, int purpose, gpgme_key_t *key,
                       struct ferr *err)
{
    char why[300];
    gpgme_error_t ge;

    *key = NULL;
    if ((ge = gpgme_get_key(p->ctx, fpr, key, purpose == KEYSTORE_SIGN)) != 0) {
        ferr_set(err, FERR_TEMP, "4.3.0 OpenPGP %s key %s: %s",
                 purpose == KEYSTORE_SIGN ? "signing" : "recipient", fpr,
                 gpg_err_code(ge) == GPG_ERR_EOF ? "not in the GnuPG home" : gpgme_strerror(ge));
        return FERR_TEMP;
    }
    if (keystore_pgp_usable(*key, NULL, purpose, why, sizeof(why)) < 0) {
        gpgme_key_unref(*key);
        *key = NULL;
        ferr_set(err, FERR_PERM, "5.7.1 OpenPGP %s key unusable: %s",
                 purpose == KEYSTORE_SIGN ? "signing" : "recipient", why);
        return FERR_PERM;
    }
    return FERR_OK;
}

static int pgp_set_signer(struct pgp *p, const char *sign_key, struct ferr *err)
{
    gpgme_key_t key;
    gpgme_error_t ge;
    int rc;

    gpgme_signers_clear(p->ctx);
    if ((rc = pgp_get_key(p, sign_key, KEYSTORE_SIGN, &key, err)) != FERR_OK)
        return rc;
    ge = gpgme_signers_add(p->ctx, key);
    gpgme_key_unref(key);
    if (ge) {
        ferr_set(err, FERR_TEMP, "4.3.0 OpenPGP signing key %s: %s", sign_key, gpgme_strerror(ge));
        return FERR_TEMP;
    }
    return FERR_OK;
}

/* Checks a signing result: exactly one signature, no invalid signer.  Stores the micalg. */
static int pgp_check_sign(gpgme_sign_result_t res, char *micalg, size_t size, struct ferr *err)
{
    const char *name;
    size_t i;

    if (res == NULL) {
        ferr_set(err, FERR_TEMP, "4.3.0 OpenPGP signing: no result from gpgme");
        return FERR_TEMP;
    }
    if (res->invalid_signers) {
        ferr_set(err, FERR_TEMP, "4.3.0 OpenPGP signing key %s rejected by gpg: %s",
                 res->invalid_signers->fpr ? res->invalid_signers->fpr : "?",
                 gpgme_strerror(res->invalid_signers->reason));
        return FERR_TEMP;
    }
    if (res->signatures == NULL || res->signatures->next != NULL) {
        ferr_set(err, FERR_TEMP, "4.3.0 OpenPGP signing: expected exactly one signature");
        return FERR_TEMP;
    }
    if (micalg == NULL)
        return FERR_OK;
    name = gpgme_hash_algo_name(res->signatures->hash_algo);
    if (name == NULL || strlen(name) + 5 > size) {
        ferr_set(err, FERR_TEMP, "4.3.0 OpenPGP signing: unknown hash algorithm %d",
                 (int)res->signatures->hash_algo);
        return FERR_TEMP;
    }
    strcpy(micalg, "pgp-");
    for (i = 0; name[i]; i++)
        micalg[4 + i] = (char)tolower((unsigned char)name[i]);
    micalg[4 + i] = 0;
    return FERR_OK;
}

static int pgp_check_encrypt(gpgme_encrypt_result_t res, struct ferr *err)
{
    gpgme_invalid_key_t ik;
    char list[400];
    size_t len = 0;

    if (res == NULL) {
        ferr_set(err, FERR_TEMP, "4.3.0 OpenPGP encryption: no result from gpgme");
        return FERR_TEMP;
    }
    if (res->invalid_recipients == NULL)
        return FERR_OK;
    list[0] = 0;
    for (ik = res->invalid_recipients; ik && len < sizeof(list) - 1; ik = ik->next) {
        int n = snprintf(list + len, sizeof(list) - len, "%s%s (%s)", len ? ", " : "",
                         ik->fpr ? ik->fpr : "?", gpgme_strerror(ik->reason));
        if (n < 0)
            break;
        len += (size_t)n;
    }
    ferr_set(err, FERR_PERM, "5.7.1 OpenPGP recipient key rejected by gpg: %s", list);
    return FERR_PERM;
}

static int pgp_out_error(FILE *out, struct ferr *err)
{
    if (fflush(out) != 0 || ferror(out)) {
        ferr_set(err, FERR_TEMP, "4.3.0 writing the PGP/MIME result: %s", strerror(errno));
        return FERR_TEMP;
    }
    return FERR_OK;
}

int pgp_encrypt(struct pgp *p, int in_fd, const char *const *recipient_keys, size_t n,
                const char *sign_key, FILE *out, struct ferr *err)
{
    struct gpgme_data_cbs in_cbs = {pgp_read_cb, NULL, NULL, NULL};
    struct gpgme_data_cbs out_cbs = {NULL, pgp_write_cb, NULL, NULL};
    char boundary[CIO_BOUNDARY_SIZE];
    gpgme_key_t *keys = NULL;
    gpgme_data_t din = NULL, dout = NULL;
    /* exactly the recipients the policy chose: an encrypt-to or
     * hidden-encrypt-to in gnupg_home's gpg.conf would add a key (and, with
     * a visible key id, name it on a message for one recipient) */
    gpgme_encrypt_flags_t flags = GPGME_ENCRYPT_ALWAYS_TRUST | GPGME_ENCRYPT_NO_ENCRYPT_TO;
    gpgme_error_t ge;
    struct pgp_io io;
    size_t i;
    int rc;

    ferr_clear(err);
    if (n == 0 || n > PGP_MAX_RECIPIENTS) {
        ferr_set(err, FERR_TEMP, "4.3.0 pgp_encrypt: %zu recipient keys (1..%d allowed)", n,
                 PGP_MAX_RECIPIENTS);
        return FERR_TEMP;
    }
    if (cio_boundary(boundary, sizeof(boundary)) < 0) {
        ferr_set(err, FERR_TEMP, "4.3.0 random generator failed");
        return FERR_TEMP;
    }
    if ((keys = calloc(n + 1, sizeof(*keys))) == NULL) {
        ferr_set(err, FERR_TEMP, "4.3.0 pgp_encrypt: out of memory");
        return FERR_TEMP;
    }
    if ((rc = pgp_get_keys(p, recipient_keys, n, keys, err)) != FERR_OK)
        goto done;
    gpgme_signers_clear(p->ctx);
    if (sign_key && (rc = pgp_set_signer(p, sign_key, err)) != FERR_OK)
        goto done;

    memset(&io, 0, sizeof(io));
    cio_in_init(&io.in, in_fd, 0);
    io.out = out;
    if ((ge = gpgme_data_new_from_cbs(&din, &in_cbs, &io)) != 0 ||
        (ge = gpgme_data_new_from_cbs(&dout, &out_cbs, &io)) != 0) {
        rc = pgp_op_error(&io, "OpenPGP encryption", ge, err);
        goto done;
    }
    gpgme_data_set_encoding(dout, GPGME_DATA_ENCODING_ARMOR);
    pgp_io_buffer(din);
    pgp_io_buffer(dout);

    fprintf(out,
            "Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\";\n"
            " boundary=\"%s\"\n"
            "Content-Transfer-Encoding: 7bit\n"
            "\n"
            "This is an OpenPGP/MIME encrypted message (RFC 4880 and 3156)\n"
            "--%s\n"
            "Content-Type: application/pgp-encrypted\n"
            "Content-Description: PGP/MIME version identification\n"
            "\n"
            "Version: 1\n"
            "\n"
            "--%s\n"
            "Content-Type: application/octet-stream; name=\"encrypted.asc\"\n"
            "Content-Description: OpenPGP encrypted message\n"
            "Content-Disposition: inline; filename=\"encrypted.asc\"\n"
            "\n",
            boundary, boundary, boundary);

    if (p->hidden)
        flags |= GPGME_ENCRYPT_THROW_KEYIDS;
    gpgme_set_passphrase_cb(p->ctx, pgp_passphrase_cb, &io);
    if (sign_key)
        ge = gpgme_op_encrypt_sign(p->ctx, keys, flags, din, dout);
    else
        ge = gpgme_op_encrypt(p->ctx, keys, flags, din, dout);
    /* invalid recipients first: gpg reports them as a failed operation */
    if ((rc = pgp_check_encrypt(gpgme_op_encrypt_result(p->ctx), err)) != FERR_OK)
        goto done;
    if (ge) {
        rc = pgp_op_error(&io, sign_key ? "OpenPGP signing+encryption" : "OpenPGP encryption", ge,
                          err);
        goto done;
    }
    if (sign_key && (rc = pgp_check_sign(gpgme_op_sign_result(p->ctx), NULL, 0, err)) != FERR_OK)
        goto done;
    fprintf(out, "\n--%s--\n", boundary);
    rc = pgp_out_error(out, err);
done:
    gpgme_set_passphrase_cb(p->ctx, NULL, NULL);
    gpgme_signers_clear(p->ctx);
    gpgme_data_release(din);
    gpgme_data_release(dout);
    for (i = 0; keys && i < n; i++)
        if (keys[i])
            gpgme_key_unref(keys[i]);
    free(keys);
    return rc;
}

/* Copies len bytes of in_fd from offset start to out. */
static int pgp_copy(int fd, off_t start, off_t len, FILE *out, struct ferr *err)
{
    char buf[65536];
    ssize_t r;

    while (len > 0) {
        r = pread(fd, buf, len < (off_t)sizeof(buf) ? (size_t)len : sizeof(buf), start);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            ferr_set(err, FERR_TEMP, "4.3.0 re-reading the message: %s",
                     r < 0 ? strerror(errno) : "file shrank");
            return FERR_TEMP;
        }
        if (fwrite(buf, 1, r, out) != (size_t)r)
            return pgp_out_error(out, err);
        start += r;
        len -= r;
    }
    return FERR_OK;
}

int pgp_sign(struct pgp *p, int in_fd, const char *sign_key, FILE *out, struct ferr *err)
{
    struct gpgme_data_cbs in_cbs = {pgp_read_cb, NULL, NULL, NULL};
    char boundary[CIO_BOUNDARY_SIZE], micalg[32], *sig = NULL;
    gpgme_data_t din = NULL, dsig = NULL;
    gpgme_error_t ge;
    struct pgp_io io;
    size_t siglen = 0;
    off_t start;
    int rc;

    ferr_clear(err);
    if ((start = lseek(in_fd, 0, SEEK_CUR)) < 0) {
        ferr_set(err, FERR_TEMP, "4.3.0 pgp_sign: input is not seekable: %s", strerror(errno));
        return FERR_TEMP;
    }
    if (cio_boundary(boundary, sizeof(boundary)) < 0) {
        ferr_set(err, FERR_TEMP, "4.3.0 random generator failed");
        return FERR_TEMP;
    }
    if ((rc = pgp_set_signer(p, sign_key, err)) != FERR_OK)
        return rc;
    memset(&io, 0, sizeof(io));
    cio_in_init(&io.in, in_fd, 1);
    io.out = out;
    if ((ge = gpgme_data_new_from_cbs(&din, &in_cbs, &io)) != 0 ||
        (ge = gpgme_data_new(&dsig)) != 0) {
        rc = pgp_op_error(&io, "OpenPGP signing", ge, err);
        goto done;
    }
    pgp_io_buffer(din);
    gpgme_set_passphrase_cb(p->ctx, pgp_passphrase_cb, &io);
    ge = gpgme_op_sign(p->ctx, din, dsig, GPGME_SIG_MODE_DETACH);
    if (ge) {
        rc = pgp_op_error(&io, "OpenPGP signing", ge, err);
        goto done;
    }
    if ((rc = pgp_check_sign(gpgme_op_sign_result(p->ctx), micalg, sizeof(micalg), err)) != FERR_OK)
        goto done;
    sig = gpgme_data_release_and_get_mem(dsig, &siglen);
    dsig = NULL;
    if (sig == NULL || siglen == 0) {
        ferr_set(err, FERR_TEMP, "4.3.0 OpenPGP signing: empty signature");
        rc = FERR_TEMP;
        goto done;
    }
    fprintf(out,
            "Content-Type: multipart/signed; micalg=%s;\n"
            " protocol=\"application/pgp-signature\"; boundary=\"%s\"\n"
            "Content-Transfer-Encoding: 7bit\n"
            "\n"
            "This is an OpenPGP/MIME signed message (RFC 4880 and 3156)\n"
            "--%s\n",
            micalg, boundary, boundary);
    /* the signed bytes: the input without the final LF, which is the delimiter's line end */
    if ((rc = pgp_copy(in_fd, start, io.in.raw_bytes - (io.in.held_lf ? 1 : 0), out, err)) !=
        FERR_OK)
        goto done;
    fprintf(out,
            "\n--%s\n"
            "Content-Type: application/pgp-signature; name=\"signature.asc\"\n"
            "Content-Description: OpenPGP digital signature\n"
            "Content-Disposition: attachment; filename=\"signature.asc\"\n"
            "\n",
            boundary);
    fwrite(sig, 1, siglen, out);
    fprintf(out, "%s--%s--\n", sig[siglen - 1] == '\n' ? "\n" : "\n\n", boundary);
    rc = pgp_out_error(out, err);
done:
    gpgme_set_passphrase_cb(p->ctx, NULL, NULL);
    gpgme_signers_clear(p->ctx);
    gpgme_free(sig);
    gpgme_data_release(din);
    gpgme_data_release(dsig);
    return rc;
}
