/*
 * smime_in: the S/MIME half of inbound processing, on OpenSSL CMS.
 * Decrypts EnvelopedData (RFC 5652) and AuthEnvelopedData (RFC 5083, AES-GCM)
 * addressed to one of the gateway's PEM key/cert pairs, and verifies
 * SignedData (detached over the CRLF-canonical bytes of the signed part, RFC
 * 8551 3.1.1, binary mode; or opaque, encapsulated content).
 *
 * Contract: verification is split so each failure has its own name: the
 * signature over the bytes (valid), the signer's addresses against From
 * (from_match), the chain to the configured trust anchors with S/MIME
 * signing purpose (trusted), the validity period (expired), and the
 * certificate's revocation status through status.c.  Decryption output goes
 * to a BIO the caller discards on failure (with AES-GCM the tag is checked
 * only at the end).
 *
 * Limits: for decryption the encrypted content is streamed from a file
 * (cmsstream.c detaches it; only a structure cmsstream does not understand
 * is read whole by OpenSSL, bounded by max_decrypt_size); signatures are
 * read into memory (opaque signed-data up to max_decrypt_size, detached
 * signatures up to 1 MiB); the first signer is judged.  Errors never abort: malformed input is
 * SMIME_IN_FAIL or an invalid signature with the OpenSSL reason.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "cmsstream.h"
#include "log.h"
#include "smime_in.h"

struct smime_in {
    X509 **cert;
    EVP_PKEY **key;
    size_t n;
    X509_STORE *store;
};

static void smime_in_err(char *why, size_t len, const char *what)
{
    unsigned long e = ERR_peek_last_error();
    char buf[160];

    if (e) {
        ERR_error_string_n(e, buf, sizeof(buf));
        snprintf(why, len, "%s (%s)", what, buf);
    } else {
        snprintf(why, len, "%s", what);
    }
    ERR_clear_error();
}

void smime_in_free(struct smime_in *si)
{
    size_t i;

    if (si == NULL)
        return;
    for (i = 0; i < si->n; i++) {
        X509_free(si->cert[i]);
        EVP_PKEY_free(si->key[i]);
    }
    free(si->cert);
    free(si->key);
    X509_STORE_free(si->store);
    free(si);
}

struct smime_in *smime_in_new(char *const *keys, char *const *certs, size_t n, const char *ca_file,
                              const char *ca_path, char *why, size_t whylen)
{
    struct smime_in *si = calloc(1, sizeof(*si));
    size_t i;

    if (si == NULL || (si->store = X509_STORE_new()) == NULL ||
        (n && ((si->cert = calloc(n, sizeof(X509 *))) == NULL ||
               (si->key = calloc(n, sizeof(EVP_PKEY *))) == NULL))) {
        snprintf(why, whylen, "out of memory");
        goto bad;
    }
    for (i = 0; i < n; i++) {
        BIO *b;

        if ((b = BIO_new_file(certs[i], "r")) == NULL ||
            (si->cert[si->n] = PEM_read_bio_X509(b, NULL, NULL, NULL)) == NULL) {
            BIO_free(b);
            smime_in_err(why, whylen, certs[i]);
            goto bad;
        }
        BIO_free(b);
        if ((b = BIO_new_file(keys[i], "r")) == NULL ||
            (si->key[si->n] = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL)) == NULL) {
            BIO_free(b);
            X509_free(si->cert[si->n]);
            smime_in_err(why, whylen, keys[i]);
            goto bad;
        }
        BIO_free(b);
        if (X509_check_private_key(si->cert[si->n], si->key[si->n]) != 1) {
            si->n++;
            snprintf(why, whylen, "%s: key does not belong to certificate %s", keys[i], certs[i]);
            ERR_clear_error();
            goto bad;
        }
        si->n++;
    }
    if (ca_file == NULL && ca_path == NULL) {
        if (X509_STORE_set_default_paths(si->store) != 1) {
            smime_in_err(why, whylen, "cannot load the default trust store");
            goto bad;
        }
    } else {
        if (ca_file && X509_STORE_load_file(si->store, ca_file) != 1) {
            smime_in_err(why, whylen, ca_file);
            goto bad;
        }
        if (ca_path && X509_STORE_load_path(si->store, ca_path) != 1) {
            smime_in_err(why, whylen, ca_path);
            goto bad;
        }
    }
    return si;
bad:
    smime_in_free(si);
    return NULL;
}

/* 1 when a RecipientInfo of cms names cert (key transport by issuer and
 * serial or subject key id; other kinds are tried). */
static int smime_in_addressed(CMS_ContentInfo *cms, X509 *cert)
{
    STACK_OF(CMS_RecipientInfo) *ris = CMS_get0_RecipientInfos(cms);
    int i;

    for (i = 0; i < sk_CMS_RecipientInfo_num(ris); i++) {
        CMS_RecipientInfo *ri = sk_CMS_RecipientInfo_value(ris, i);

        if (CMS_RecipientInfo_type(ri) != CMS_RECIPINFO_TRANS ||
            CMS_RecipientInfo_ktri_cert_cmp(ri, cert) == 0)
            return 1;
    }
    ERR_clear_error();
    return 0;
}

/* The CMS in in_fd, with the encrypted content detached into tmp_fd when
 * cmsstream understands the structure (*dcont then reads it), else read
 * whole by OpenSSL. */
static CMS_ContentInfo *smime_in_read(int in_fd, int tmp_fd, BIO **dcont, char *why, size_t whylen)
{
    CMS_ContentInfo *cms = NULL;
    unsigned char *der;
    const unsigned char *p;
    size_t len;
    BIO *in;

    *dcont = NULL;
    if ((der = cmss_split(in_fd, tmp_fd, &len, why, whylen)) != NULL) {
        p = der;
        cms = d2i_CMS_ContentInfo(NULL, &p, (long)len);
        free(der);
        if (cms != NULL && lseek(tmp_fd, 0, SEEK_SET) == 0 &&
            (*dcont = BIO_new_fd(tmp_fd, BIO_NOCLOSE)) != NULL)
            return cms;
        CMS_ContentInfo_free(cms);
        ERR_clear_error();
        cms = NULL;
    } else {
        log_debug("smime_in: not streamed: %s", why);
    }
    if (lseek(in_fd, 0, SEEK_SET) == 0 && (in = BIO_new_fd(in_fd, BIO_NOCLOSE)) != NULL) {
        cms = d2i_CMS_bio(in, NULL);
        BIO_free(in);
    }
    return cms;
}

/* CMS_decrypt's copy step with the content key already set: the plaintext
 * goes to out as it is decrypted; for AES-GCM the tag is checked at the end
 * (BIO_get_cipher_status) and out is garbage when that fails.  Not
 * CMS_decrypt itself: OpenSSL 3.0.22 and later buffer the whole
 * AuthEnvelopedData plaintext in memory there until the tag is checked
 * (twice the message size at peak); our caller discards out on failure,
 * which gives the same guarantee with bounded memory. */
static int smime_in_copy(CMS_ContentInfo *cms, BIO *dcont, BIO *out)
{
    BIO *cont = CMS_dataInit(cms, dcont), *next;
    char buf[16384];
    int n, ok = 0;

    if (cont == NULL)
        return 0;
    for (;;) {
        n = BIO_read(cont, buf, sizeof(buf));
        if (n <= 0) {
            ok = BIO_method_type(cont) != BIO_TYPE_CIPHER || BIO_get_cipher_status(cont) == 1;
            break;
        }
        if (BIO_write(out, buf, n) != n)
            break;
    }
    /* free the chain CMS_dataInit built, up to (not including) dcont */
    while (cont != NULL && cont != dcont) {
        next = BIO_pop(cont);
        BIO_free(cont);
        cont = next;
    }
    return ok;
}

int smime_in_decrypt(struct smime_in *si, int in_fd, int tmp_fd, BIO *out, char *why, size_t whylen)
{
    BIO *dcont = NULL;
    CMS_ContentInfo *cms = smime_in_read(in_fd, tmp_fd, &dcont, why, whylen);
    int type, rc = SMIME_IN_NOKEY;
    size_t i;

    if (cms == NULL) {
        smime_in_err(why, whylen, "malformed CMS data");
        return SMIME_IN_FAIL;
    }
    type = OBJ_obj2nid(CMS_get0_type(cms));
    if (type != NID_pkcs7_enveloped && type != NID_id_smime_ct_authEnvelopedData) {
        snprintf(why, whylen, "CMS content is %s, not (auth)enveloped data", OBJ_nid2sn(type));
        CMS_ContentInfo_free(cms);
        return SMIME_IN_FAIL;
    }
    snprintf(why, whylen, "not addressed to any of the %zu configured S/MIME certificates", si->n);
    for (i = 0; i < si->n; i++) {
        if (!smime_in_addressed(cms, si->cert[i]))
            continue;
        if (CMS_decrypt_set1_pkey(cms, si->key[i], si->cert[i]) != 1) {
            unsigned long e = ERR_peek_last_error();

            if (ERR_GET_REASON(e) != CMS_R_NO_MATCHING_RECIPIENT) {
                smime_in_err(why, whylen, "cannot decrypt the content key");
                rc = SMIME_IN_FAIL;
            }
            ERR_clear_error();
            continue;
        }
        if (smime_in_copy(cms, dcont, out) != 1 || BIO_flush(out) != 1) {
            smime_in_err(why, whylen,
                         type == NID_pkcs7_enveloped ? "decryption failed"
                                                     : "decryption or authentication failed");
            rc = SMIME_IN_FAIL;
        } else {
            rc = SMIME_IN_OK;
            why[0] = 0;
        }
        break;
    }
    CMS_ContentInfo_free(cms);
    BIO_free(dcont);
    ERR_clear_error();
    return rc;
}

int smime_in_is_signed(BIO *in)
{
    CMS_ContentInfo *cms = d2i_CMS_bio(in, NULL);
    int r = cms && OBJ_obj2nid(CMS_get0_type(cms)) == NID_pkcs7_signed;

    CMS_ContentInfo_free(cms);
    ERR_clear_error();
    return r;
}

/* Every email address of cert; from_match when one equals from. */
static void smime_in_signer(X509 *cert, const char *from, struct inbound_sig *res)
{
    STACK_OF(OPENSSL_STRING) *em = X509_get1_email(cert);
    int i;

    for (i = 0; i < sk_OPENSSL_STRING_num(em); i++) {
        const char *a = sk_OPENSSL_STRING_value(em, i);

        if (i == 0 || (from && strcasecmp(a, from) == 0))
            snprintf(res->signer, sizeof(res->signer), "%s", a);
        if (from && strcasecmp(a, from) == 0) {
            res->from_match = 1;
            break;
        }
    }
    if (res->signer[0] == 0)
        X509_NAME_oneline(X509_get_subject_name(cert), res->signer, sizeof(res->signer));
    X509_email_free(em);
}

void smime_in_verify(struct smime_in *si, BIO *sig, BIO *content, BIO *out, const char *from,
                     const struct status_cfg *sc, struct inbound_sig *res)
{
    CMS_ContentInfo *cms;
    STACK_OF(X509) *signers = NULL, *certs = NULL, *chain = NULL;
    X509_STORE_CTX *ctx = NULL;
    X509 *signer, *issuer = NULL;
    int vr;

    memset(res, 0, sizeof(*res));
    res->present = 1;
    snprintf(res->method, sizeof(res->method), "smime");
    if ((cms = d2i_CMS_bio(sig, NULL)) == NULL) {
        smime_in_err(res->why, sizeof(res->why), "malformed CMS signature");
        return;
    }
    if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed) {
        snprintf(res->why, sizeof(res->why), "CMS content is %s, not signed data",
                 OBJ_nid2sn(OBJ_obj2nid(CMS_get0_type(cms))));
        goto out;
    }
    if (CMS_verify(cms, NULL, NULL, content, out, CMS_NO_SIGNER_CERT_VERIFY | CMS_BINARY) != 1) {
        smime_in_err(res->why, sizeof(res->why), "signature does not verify");
        goto out;
    }
    signers = CMS_get0_signers(cms);
    if ((signer = sk_X509_value(signers, 0)) == NULL) {
        snprintf(res->why, sizeof(res->why), "no signer certificate");
        goto out;
    }
    res->valid = 1;
    smime_in_signer(signer, from, res);
    if (X509_cmp_current_time(X509_get0_notAfter(signer)) < 0 ||
        X509_cmp_current_time(X509_get0_notBefore(signer)) > 0)
        res->expired = 1;

    certs = CMS_get1_certs(cms);
    if ((ctx = X509_STORE_CTX_new()) == NULL ||
        X509_STORE_CTX_init(ctx, si->store, signer, certs) != 1) {
        snprintf(res->why, sizeof(res->why), "out of memory");
        goto out;
    }
    X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SMIME_SIGN);
    vr = X509_verify_cert(ctx);
    if (vr == 1) {
        res->trusted = 1;
        chain = X509_STORE_CTX_get1_chain(ctx);
        if (sk_X509_num(chain) > 1)
            issuer = sk_X509_value(chain, 1);
    } else {
        int e = X509_STORE_CTX_get_error(ctx);

        if (e == X509_V_ERR_CERT_HAS_EXPIRED || e == X509_V_ERR_CERT_NOT_YET_VALID)
            res->expired = 1;
        snprintf(res->why, sizeof(res->why), "certificate of %.100s: %s", res->signer,
                 X509_verify_cert_error_string(e));
    }
    if (res->trusted && !res->expired)
        status_x509(sc, signer, issuer, si->store, &res->status);
    else
        snprintf(res->status.detail, sizeof(res->status.detail),
                 "not asked (certificate not trusted)");
out:
    ERR_clear_error();
    sk_X509_pop_free(chain, X509_free);
    sk_X509_pop_free(certs, X509_free);
    sk_X509_free(signers);
    X509_STORE_CTX_free(ctx);
    CMS_ContentInfo_free(cms);
}
