/* smime: S/MIME (RFC 8551) encryption and signing through OpenSSL CMS (see smime.c). */
#ifndef POSTSEAL_SMIME_H
#define POSTSEAL_SMIME_H

#include <stdio.h>

#include <openssl/x509.h>

#include "ferr.h"
#include "keystore.h"

enum { SMIME_AES256_CBC = 0, SMIME_AES256_GCM = 1 };   /* content encryption */
enum { SMIME_KT_PKCS1V15 = 0, SMIME_KT_RSA_OAEP = 1 }; /* RSA key transport */

struct smime_opts {
    int cipher;         /* SMIME_AES256_CBC (default: every client reads it) or _GCM */
    int key_transport;  /* SMIME_KT_PKCS1V15 (default: gpgsm cannot read OAEP) or _OAEP */
    const char *digest; /* signature digest: "sha256" (default when NULL), "sha384", "sha512" */
};

/*
 * in_fd: the inner MIME entity (headers, blank line, body) with LF line ends, read to EOF.
 * out:   receives the replacement entity (headers, blank line, body) with LF line ends; binary
 *        CMS is written base64 in 76-character lines.
 * opts NULL = defaults.  Returns FERR_OK, FERR_TEMP or FERR_PERM with err set; on failure out
 * holds garbage that the caller must discard.
 */
/* application/pkcs7-mime; smime-type=enveloped-data (authEnveloped-data with GCM).  With a
 * signer, the enveloped content is a multipart/signed entity (sign, then encrypt). */
int smime_encrypt(int in_fd, STACK_OF(X509) * recipients, const struct smime_opts *opts,
                  const struct smime_signer *signer, FILE *out, struct ferr *err);
/* multipart/signed; protocol="application/pkcs7-signature"; micalg from the digest used. */
int smime_sign(int in_fd, const struct smime_signer *signer, const struct smime_opts *opts,
               FILE *out, struct ferr *err);

#endif
