/* smime_in: S/MIME decryption and signature verification for inbound mail
 * (see smime_in.c). */
#ifndef POSTSEAL_SMIME_IN_H
#define POSTSEAL_SMIME_IN_H

#include <openssl/bio.h>

#include "inbound_sig.h"
#include "status.h"

struct smime_in;

enum { SMIME_IN_OK = 0, SMIME_IN_NOKEY = 1, SMIME_IN_FAIL = 2, SMIME_IN_TEMP = 3 };

/* Loads n PEM key/cert pairs (keys[i], certs[i]) and the trust anchors
 * (ca_file and/or ca_path; both NULL: the system's default store).
 * Returns NULL with the reason (naming the file) in why. */
struct smime_in *smime_in_new(char *const *keys, char *const *certs, size_t n, const char *ca_file,
                              const char *ca_path, char *why, size_t whylen);
void smime_in_free(struct smime_in *si);

/* Decrypts the BER/DER CMS EnvelopedData or AuthEnvelopedData in in_fd
 * ([0, EOF)) into out; tmp_fd is an empty temp file for the encrypted
 * content (streamed, see cmsstream.c).  SMIME_IN_OK, SMIME_IN_NOKEY
 * (addressed to none of our certificates), SMIME_IN_FAIL (malformed, wrong
 * type, decryption or authentication failed; anything written to out is
 * garbage). */
int smime_in_decrypt(struct smime_in *si, int in_fd, int tmp_fd, BIO *out, char *why,
                     size_t whylen);

/* 1 when in holds DER CMS SignedData (consumes in). */
int smime_in_is_signed(BIO *in);

/* Verifies the DER CMS SignedData from sig.  Detached: content is the
 * CRLF-canonical signed bytes, out NULL.  Opaque: content NULL, the
 * encapsulated content is written to out.  Checks the signer against from,
 * the chain against the trust anchors and, through status, revocation. */
void smime_in_verify(struct smime_in *si, BIO *sig, BIO *content, BIO *out, const char *from,
                     const struct status_cfg *sc, struct inbound_sig *res);

#endif
