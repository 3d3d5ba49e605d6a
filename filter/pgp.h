/* pgp: PGP/MIME (RFC 3156) encryption and signing through gpgme (see pgp.c). */
#ifndef POSTSEAL_PGP_H
#define POSTSEAL_PGP_H

#include <stddef.h>
#include <stdio.h>

#include "ferr.h"

struct pgp;

/* One gpgme context on the GnuPG home.  FERR_TEMP when the home is unusable. */
int pgp_open(struct pgp **pp, const char *gnupg_home, struct ferr *err);
void pgp_close(struct pgp *p);

/* Hidden recipients (gpg --throw-keyids): protects Bcc privacy, some clients (rnp) cannot
 * decrypt.  Off by default. */
void pgp_set_hidden_recipients(struct pgp *p, int on);

/*
 * in_fd: the inner MIME entity (headers, blank line, body) with LF line ends, read to EOF.
 * out:   receives the replacement entity (Content-Type ... blank line, body), LF line ends.
 * Keys are fingerprints the keystore found; each is checked again before use.
 * Returns FERR_OK, FERR_TEMP or FERR_PERM with err set; on failure out holds garbage that the
 * caller must discard.
 */
/* multipart/encrypted; signed and encrypted in one OpenPGP message (RFC 3156 6.2) when
 * sign_key is not NULL. */
int pgp_encrypt(struct pgp *p, int in_fd, const char *const *recipient_keys, size_t n,
                const char *sign_key, FILE *out, struct ferr *err);
/* multipart/signed; protocol="application/pgp-signature"; micalg from the signature made. */
int pgp_sign(struct pgp *p, int in_fd, const char *sign_key, FILE *out, struct ferr *err);

#endif
