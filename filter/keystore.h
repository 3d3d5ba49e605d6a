/* keystore: local OpenPGP keys and S/MIME certificates (see keystore.c). */
#ifndef POSTSEAL_KEYSTORE_H
#define POSTSEAL_KEYSTORE_H

#include <stddef.h>

#include <gpgme.h>
#include <openssl/x509.h>

#include "cfg.h"
#include "ferr.h"

/* Where the keys are ([filter] keys, see keystore_conf_entry).  NULL/empty = not configured. */
struct keystore_conf {
    char *gnupg_home;  /* gnupg_home: GnuPG home with recipients' public keys and signing keys */
    char *smime_certs; /* smime_certs: list of PEM files or directories with recipient certs */
    char *smime_ca;    /* smime_ca: list of PEM files or directories with trust anchors */
};

/* Takes the entry if it is one of the keystore's [filter] keys: returns 1 (value stored, or an
 * error counted in diag), 0 when the key is not ours. */
int keystore_conf_entry(struct keystore_conf *conf, const struct cfg_entry *e,
                        struct cfg_diag *diag);
void keystore_conf_free(struct keystore_conf *conf);

struct keystore;

/* Opens the stores (checks the GnuPG home, loads the trust anchors).  FERR_TEMP on failure. */
int keystore_open(struct keystore **ksp, const struct keystore_conf *conf, struct ferr *err);
void keystore_close(struct keystore *ks);

/*
 * Lookups return FERR_OK (found), FERR_PERM ("no usable key": err->text says why, e.g.
 * "5.7.1 no usable OpenPGP key for <a@b>: key 0123... expired 2025-01-01"), or FERR_TEMP (the
 * store could not be read).  Addresses are compared whole, ASCII case-insensitively.
 */

/* Encryption key for addr: a key with a valid user ID whose email is addr, not expired, revoked,
 * disabled or invalid, with a usable encryption subkey.  fpr receives the primary fingerprint
 * (size >= 41); the most recently created such key wins. */
int keystore_pgp_find(struct keystore *ks, const char *addr, char *fpr, size_t size,
                      struct ferr *err);

/* Signing key by fingerprint (40 hex, optional "0x") or by address: secret key present,
 * can sign, not expired/revoked/disabled/invalid.  fpr receives the fingerprint. */
int keystore_pgp_signer(struct keystore *ks, const char *id, char *fpr, size_t size,
                        struct ferr *err);

#define KEYSTORE_ENCRYPT 1
#define KEYSTORE_SIGN 2
/* The usability rule itself (used again by pgp.c right before encrypting): returns 0 or -1 with
 * the reason in why.  addr NULL skips the user ID check. */
int keystore_pgp_usable(gpgme_key_t key, const char *addr, int purpose, char *why, size_t size);

/* S/MIME certificate for addr (subjectAltName rfc822Name or subject emailAddress), verified
 * against the trust anchors for S/MIME encryption (key usage, extended key usage, validity
 * period).  *cert receives a reference the caller frees with X509_free; the one that stays valid
 * longest wins.  Malformed files are skipped with a warning naming them. */
int keystore_smime_find(struct keystore *ks, const char *addr, X509 **cert, struct ferr *err);

/* S/MIME signer: the first certificate in cert_file is the signer's, further ones are sent as
 * chain; key_file holds its unencrypted private key and must not be accessible by group or
 * others. */
struct smime_signer {
    X509 *cert;
    EVP_PKEY *key;
    STACK_OF(X509) * chain;
};
int keystore_smime_signer(const char *cert_file, const char *key_file, struct smime_signer **sp,
                          struct ferr *err);
void keystore_smime_signer_free(struct smime_signer *s);

#endif
