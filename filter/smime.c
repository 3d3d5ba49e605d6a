/*
 * smime: S/MIME (RFC 8551) for outbound mail, through OpenSSL CMS in streaming mode.
 *
 * smime_encrypt writes application/pkcs7-mime; smime-type=enveloped-data: AES-256-CBC content
 * encryption and RSA PKCS#1 v1.5 key transport by default (the combination every client,
 * gpgsm included, reads: see shared/reference/smime-openpgp-interop.md); AES-256-GCM
 * (smime-type=authEnveloped-data, RFC 5083/5084) and RSA-OAEP only when the caller says the
 * recipient supports them.  smime_sign writes multipart/signed with a detached
 * application/pkcs7-signature; micalg names the digest of the signer info we created.  With a
 * signer, smime_encrypt envelopes a multipart/signed entity (sign, then encrypt).
 *
 * Contract: the input (LF line ends) is read in bounded chunks and given to CMS as its CRLF form
 * (CMS_BINARY: OpenSSL's own canonicalization is not used, ours is the one reinjection matches);
 * the CMS structure is streamed (CMS_STREAM, BIO_new_CMS, indefinite-length BER) through a
 * base64 filter that writes 76-character LF lines.  Memory use does not depend on the message
 * size.  The signed bytes are the CRLF form of exactly the LF bytes written into the first part
 * of multipart/signed (without the final line end, which belongs to the boundary delimiter).
 *
 * Failure: read/write errors and OpenSSL failures are FERR_TEMP (4.3.0) with the OpenSSL error;
 * a recipient certificate OpenSSL refuses (unsupported key type) is FERR_PERM (5.7.1).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "cryptio.h"
#include "smime.h"

#define SMIME_B64_LINES 64 /* base64 lines encoded per batch */

/* ---- a base64 filter BIO writing 76-character lines with LF ----------------------------- */

struct b64l {
    unsigned char in[57 * SMIME_B64_LINES];
    size_t n;
    unsigned char out[77 * SMIME_B64_LINES + 1];
};

static BIO_METHOD *b64l_method, *crlf_method;

static int b64l_emit(BIO *b, struct b64l *s, size_t len)
{
    size_t i, o = 0, chunk;

    for (i = 0; i < len; i += 57) {
        chunk = len - i < 57 ? len - i : 57;
        o += EVP_EncodeBlock(s->out + o, s->in + i, chunk);
        s->out[o++] = '\n';
    }
    if (o > 0 && BIO_write(BIO_next(b), s->out, o) != (int)o)
        return -1;
    memmove(s->in, s->in + len, s->n - len);
    s->n -= len;
    return 0;
}

static int b64l_write(BIO *b, const char *data, int len)
{
    struct b64l *s = BIO_get_data(b);
    size_t take, done = 0;

    if (len <= 0)
        return 0;
    while (done < (size_t)len) {
        take = sizeof(s->in) - s->n;
        if (take > (size_t)len - done)
            take = len - done;
        memcpy(s->in + s->n, data + done, take);
        s->n += take;
        done += take;
        if (s->n == sizeof(s->in) && b64l_emit(b, s, s->n) < 0)
            return -1;
    }
    return len;
}

/* Writes out what is buffered, ending with the final (short, padded) line. */
static int b64l_finish(BIO *b)
{
    struct b64l *s = BIO_get_data(b);

    /* no flush downwards: in sign+encrypt that would finalize the enveloping CMS stream */
    return b64l_emit(b, s, s->n);
}

static long b64l_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    struct b64l *s = BIO_get_data(b);

    /* A flush from CMS only pushes whole lines: padding may only come at the very end. */
    if (cmd == BIO_CTRL_FLUSH && s->n >= 57 && b64l_emit(b, s, s->n - s->n % 57) < 0)
        return 0;
    return BIO_next(b) ? BIO_ctrl(BIO_next(b), cmd, num, ptr) : 0;
}

static int b64l_create(BIO *b)
{
    struct b64l *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return 0;
    BIO_set_data(b, s);
    BIO_set_init(b, 1);
    return 1;
}

static int b64l_destroy(BIO *b)
{
    free(BIO_get_data(b));
    BIO_set_data(b, NULL);
    return 1;
}

/* ---- a filter BIO turning LF into CRLF ---------------------------------------------------- */

static int crlf_write(BIO *b, const char *data, int len)
{
    char buf[16384];
    size_t o;
    int done = 0, take;

    while (done < len) {
        take = len - done > (int)sizeof(buf) / 2 ? (int)sizeof(buf) / 2 : len - done;
        o = cio_lf2crlf(data + done, take, buf);
        if (BIO_write(BIO_next(b), buf, o) != (int)o)
            return -1;
        done += take;
    }
    return len;
}

static long crlf_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    return BIO_next(b) ? BIO_ctrl(BIO_next(b), cmd, num, ptr) : 0;
}

static int crlf_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static int smime_methods(void)
{
    if (b64l_method == NULL) {
        b64l_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_FILTER, "postseal b64 lines");
        if (b64l_method == NULL || !BIO_meth_set_write(b64l_method, b64l_write) ||
            !BIO_meth_set_ctrl(b64l_method, b64l_ctrl) ||
            !BIO_meth_set_create(b64l_method, b64l_create) ||
            !BIO_meth_set_destroy(b64l_method, b64l_destroy))
            return -1;
    }
    if (crlf_method == NULL) {
        crlf_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_FILTER, "postseal lf2crlf");
        if (crlf_method == NULL || !BIO_meth_set_write(crlf_method, crlf_write) ||
            !BIO_meth_set_ctrl(crlf_method, crlf_ctrl) ||
            !BIO_meth_set_create(crlf_method, crlf_create))
            return -1;
    }
    return 0;
}

/* ---- helpers ------------------------------------------------------------------------------ */

static const char *smime_ssl_error(void)
{
    static char buf[256];
    unsigned long e = ERR_peek_last_error();

    if (e == 0)
        return "unknown OpenSSL error";
    ERR_error_string_n(e, buf, sizeof(buf));
    ERR_clear_error();
    return buf;
}

static const struct {
    const char *name, *micalg;
    int nid;
} smime_digests[] = {
    {"sha256", "sha-256", NID_sha256},
    {"sha384", "sha-384", NID_sha384},
    {"sha512", "sha-512", NID_sha512},
};

/* 0 when name is a digest smime_sign accepts, else -1. */
static int smime_digest_ok(const char *name)
{
    size_t i;

    for (i = 0; i < sizeof(smime_digests) / sizeof(smime_digests[0]); i++)
        if (strcmp(name, smime_digests[i].name) == 0)
            return 0;
    return -1;
}

static const char *smime_micalg(int nid)
{
    size_t i;

    for (i = 0; i < sizeof(smime_digests) / sizeof(smime_digests[0]); i++)
        if (smime_digests[i].nid == nid)
            return smime_digests[i].micalg;
    return NULL;
}

static int smime_tee(void *arg, const char *lf, size_t n)
{
    return BIO_write(arg, lf, n) == (int)n ? 0 : -1;
}

/* Reads in_fd to EOF, writing its CRLF form to dst (and the LF bytes to in->tee if set). */
static int smime_pump(struct cio_in *in, BIO *dst, const char *what, struct ferr *err)
{
    char buf[65538];
    ssize_t n;

    for (;;) {
        n = cio_read_crlf(in, buf, sizeof(buf));
        if (n == 0)
            return FERR_OK;
        if (n < 0) {
            if (errno)
                ferr_set(err, FERR_TEMP, "4.3.0 %s: reading the message: %s", what,
                         strerror(errno));
            else
                ferr_set(err, FERR_TEMP, "4.3.0 %s: writing the result: %s", what,
                         smime_ssl_error());
            return FERR_TEMP;
        }
        if (BIO_write(dst, buf, n) != n) {
            ferr_set(err, FERR_TEMP, "4.3.0 %s: %s", what, smime_ssl_error());
            return FERR_TEMP;
        }
    }
}

/* Frees the BIOs BIO_new_CMS pushed in front of `keep`. */
static void smime_free_until(BIO *b, BIO *keep)
{
    BIO *next;

    while (b != NULL && b != keep) {
        next = BIO_pop(b);
        BIO_free(b);
        b = next;
    }
}

/* ---- signing ------------------------------------------------------------------------------ */

/* Writes the multipart/signed entity for in_fd into sink (LF text). */
static int smime_sign_to(int in_fd, const struct smime_signer *signer,
                         const struct smime_opts *opts, BIO *sink, struct ferr *err)
{
    const char *dname = opts && opts->digest ? opts->digest : "sha256";
    char boundary[CIO_BOUNDARY_SIZE];
    CMS_ContentInfo *cms = NULL;
    CMS_SignerInfo *si;
    X509_ALGOR *alg = NULL;
    const EVP_MD *md;
    const char *micalg;
    BIO *dbio = NULL, *b64 = NULL, *nul = NULL;
    struct cio_in in;
    int rc = FERR_TEMP;

    ERR_clear_error();
    if (smime_digest_ok(dname) < 0 || (md = EVP_get_digestbyname(dname)) == NULL) {
        ferr_set(err, FERR_TEMP, "4.3.5 S/MIME signing: digest %s not supported", dname);
        return FERR_TEMP;
    }
    if (cio_boundary(boundary, sizeof(boundary)) < 0) {
        ferr_set(err, FERR_TEMP, "4.3.0 random generator failed");
        return FERR_TEMP;
    }
    cms = CMS_sign(NULL, NULL, signer->chain, NULL,
                   CMS_DETACHED | CMS_BINARY | CMS_PARTIAL | CMS_STREAM);
    if (cms == NULL || (si = CMS_add1_signer(cms, signer->cert, signer->key, md, 0)) == NULL) {
        ferr_set(err, FERR_TEMP, "4.3.0 S/MIME signing setup: %s", smime_ssl_error());
        goto done;
    }
    CMS_SignerInfo_get0_algs(si, NULL, NULL, &alg, NULL);
    if (alg == NULL || (micalg = smime_micalg(OBJ_obj2nid(alg->algorithm))) == NULL) {
        ferr_set(err, FERR_TEMP, "4.3.0 S/MIME signing: unexpected digest algorithm");
        goto done;
    }
    /* detached: the content goes through the digest BIOs into a null sink, never to memory */
    if ((nul = BIO_new(BIO_s_null())) == NULL || (dbio = CMS_dataInit(cms, nul)) == NULL) {
        BIO_free(nul);
        ferr_set(err, FERR_TEMP, "4.3.0 S/MIME signing setup: %s", smime_ssl_error());
        goto done;
    }
    if (BIO_printf(sink,
                   "Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\";\n"
                   " micalg=%s; boundary=\"%s\"\n"
                   "Content-Transfer-Encoding: 7bit\n"
                   "\n"
                   "This is an S/MIME signed message (RFC 8551)\n"
                   "--%s\n",
                   micalg, boundary, boundary) <= 0) {
        ferr_set(err, FERR_TEMP, "4.3.0 S/MIME signing: writing the result failed");
        goto done;
    }
    cio_in_init(&in, in_fd, 1);
    in.tee = smime_tee;
    in.tee_arg = sink;
    if ((rc = smime_pump(&in, dbio, "S/MIME signing", err)) != FERR_OK)
        goto done;
    rc = FERR_TEMP;
    if (CMS_dataFinal(cms, dbio) != 1) {
        ferr_set(err, FERR_TEMP, "4.3.0 S/MIME signing: %s", smime_ssl_error());
        goto done;
    }
    if (BIO_printf(sink,
                   "\n--%s\n"
                   "Content-Type: application/pkcs7-signature; name=\"smime.p7s\"\n"
                   "Content-Transfer-Encoding: base64\n"
                   "Content-Disposition: attachment; filename=\"smime.p7s\"\n"
                   "Content-Description: S/MIME Cryptographic Signature\n"
                   "\n",
                   boundary) <= 0 ||
        (b64 = BIO_new(b64l_method)) == NULL) {
        ferr_set(err, FERR_TEMP, "4.3.0 S/MIME signing: writing the result failed");
        goto done;
    }
    BIO_push(b64, sink);
    if (i2d_CMS_bio(b64, cms) != 1 || b64l_finish(b64) < 0 ||
        BIO_printf(sink, "\n--%s--\n", boundary) <= 0) {
        ferr_set(err, FERR_TEMP, "4.3.0 S/MIME signing: writing the signature: %s",
                 smime_ssl_error());
        goto done;
    }
    rc = FERR_OK;
done:
    if (b64) {
        BIO_pop(b64);
        BIO_free(b64);
    }
    BIO_free_all(dbio);
    CMS_ContentInfo_free(cms);
    return rc;
}

static int smime_check_out(FILE *out, struct ferr *err)
{
    if (fflush(out) != 0 || ferror(out)) {
        ferr_set(err, FERR_TEMP, "4.3.0 writing the S/MIME result: %s", strerror(errno));
        return FERR_TEMP;
    }
    return FERR_OK;
}

int smime_sign(int in_fd, const struct smime_signer *signer, const struct smime_opts *opts,
               FILE *out, struct ferr *err)
{
    BIO *fp;
    int rc;

    ferr_clear(err);
    if (smime_methods() < 0 || (fp = BIO_new_fp(out, BIO_NOCLOSE)) == NULL) {
        ferr_set(err, FERR_TEMP, "4.3.0 S/MIME: out of memory");
        return FERR_TEMP;
    }
    rc = smime_sign_to(in_fd, signer, opts, fp, err);
    BIO_free(fp);
    if (rc == FERR_OK)
        rc = smime_check_out(out, err);
    return rc;
}

/* ---- encryption --------------------------------------------------------------------------- */

static CMS_ContentInfo *smime_envelope(STACK_OF(X509) * recipients, const struct smime_opts *opts,
                                       struct ferr *err)
{
    int gcm = opts && opts->cipher == SMIME_AES256_GCM;
    int oaep = opts && opts->key_transport == SMIME_KT_RSA_OAEP;
    unsigned int flags = CMS_BINARY | CMS_STREAM | CMS_PARTIAL;
    CMS_ContentInfo *cms;
    CMS_RecipientInfo *ri;
    EVP_PKEY_CTX *pctx;
    X509 *x;
    int i;

    cms = CMS_encrypt(NULL, NULL, gcm ? EVP_aes_256_gcm() : EVP_aes_256_cbc(), flags);
    if (cms == NULL) {
        ferr_set(err, FERR_TEMP, "4.3.0 S/MIME encryption setup: %s", smime_ssl_error());
        return NULL;
    }
    for (i = 0; i < sk_X509_num(recipients); i++) {
        x = sk_X509_value(recipients, i);
        ri = CMS_add1_recipient_cert(cms, x, flags | (oaep ? CMS_KEY_PARAM : 0));
        if (ri == NULL) {
            char name[200];
            X509_NAME_oneline(X509_get_subject_name(x), name, sizeof(name));
            ferr_set(err, FERR_PERM, "5.7.1 S/MIME recipient certificate %s unusable: %s", name,
                     smime_ssl_error());
            CMS_ContentInfo_free(cms);
            return NULL;
        }
        if (oaep) {
            pctx = CMS_RecipientInfo_get0_pkey_ctx(ri);
            if (EVP_PKEY_get_base_id(X509_get0_pubkey(x)) != EVP_PKEY_RSA || pctx == NULL ||
                EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_OAEP_PADDING) <= 0) {
                ferr_set(err, FERR_PERM, "5.7.1 S/MIME recipient #%d: RSA-OAEP not possible: %s",
                         i + 1, smime_ssl_error());
                CMS_ContentInfo_free(cms);
                return NULL;
            }
        }
    }
    return cms;
}

int smime_encrypt(int in_fd, STACK_OF(X509) * recipients, const struct smime_opts *opts,
                  const struct smime_signer *signer, FILE *out, struct ferr *err)
{
    int gcm = opts && opts->cipher == SMIME_AES256_GCM;
    CMS_ContentInfo *cms = NULL;
    BIO *fp = NULL, *b64 = NULL, *cbio = NULL, *crlf = NULL;
    struct cio_in in;
    int rc = FERR_TEMP;

    ferr_clear(err);
    ERR_clear_error();
    if (recipients == NULL || sk_X509_num(recipients) < 1) {
        ferr_set(err, FERR_TEMP, "4.3.0 smime_encrypt: no recipient certificate");
        return FERR_TEMP;
    }
    if (smime_methods() < 0 || (fp = BIO_new_fp(out, BIO_NOCLOSE)) == NULL ||
        (b64 = BIO_new(b64l_method)) == NULL) {
        ferr_set(err, FERR_TEMP, "4.3.0 S/MIME: out of memory");
        goto done;
    }
    BIO_push(b64, fp);
    if ((cms = smime_envelope(recipients, opts, err)) == NULL) {
        rc = err->code;
        goto done;
    }
    fprintf(out,
            "Content-Type: application/pkcs7-mime; smime-type=%s;\n"
            " name=\"smime.p7m\"\n"
            "Content-Transfer-Encoding: base64\n"
            "Content-Disposition: attachment; filename=\"smime.p7m\"\n"
            "Content-Description: S/MIME Encrypted Message\n"
            "\n",
            gcm ? "authEnveloped-data" : "enveloped-data");
    if ((cbio = BIO_new_CMS(b64, cms)) == NULL) {
        ferr_set(err, FERR_TEMP, "4.3.0 S/MIME encryption: %s", smime_ssl_error());
        goto done;
    }
    if (signer) {
        if ((crlf = BIO_new(crlf_method)) == NULL) {
            ferr_set(err, FERR_TEMP, "4.3.0 S/MIME: out of memory");
            goto done;
        }
        BIO_push(crlf, cbio);
        if ((rc = smime_sign_to(in_fd, signer, opts, crlf, err)) != FERR_OK)
            goto done;
    } else {
        cio_in_init(&in, in_fd, 0);
        if ((rc = smime_pump(&in, cbio, "S/MIME encryption", err)) != FERR_OK)
            goto done;
    }
    rc = FERR_TEMP;
    if (BIO_flush(cbio) != 1 || b64l_finish(b64) < 0) {
        ferr_set(err, FERR_TEMP, "4.3.0 S/MIME encryption: %s", smime_ssl_error());
        goto done;
    }
    rc = smime_check_out(out, err);
done:
    if (crlf) {
        BIO_pop(crlf);
        BIO_free(crlf);
    }
    smime_free_until(cbio, b64);
    BIO_free(b64);
    BIO_free(fp);
    CMS_ContentInfo_free(cms);
    return rc;
}
