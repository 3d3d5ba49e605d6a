/* pgp_in: OpenPGP decryption and signature verification for inbound mail
 * (see pgp_in.c). */
#ifndef POSTSEAL_PGP_IN_H
#define POSTSEAL_PGP_IN_H

#include "inbound_sig.h"
#include "status.h"

struct pgp_in;

enum { PGP_IN_OK = 0, PGP_IN_NOKEY = 1, PGP_IN_FAIL = 2, PGP_IN_TEMP = 3 };

/* A gpgme context on the GnuPG home (NULL: gpg's default).  NULL with the
 * reason in why when gpgme or the engine is unusable. */
struct pgp_in *pgp_in_new(const char *home, const struct status_cfg *sc, char *why, size_t whylen);
void pgp_in_free(struct pgp_in *pi);

/* Signer key discovery: when a signature's key is missing (and the
 * keyserver, if any, did not have it), fn is asked for the key of the From
 * address; it imports what it finds into the GnuPG home of pi and returns
 * PGP_IN_LOOKUP_FOUND (fpr and source filled), _NONE or _TEMP (why filled).
 * The verification is then retried once; only gpg's own result counts. */
enum { PGP_IN_LOOKUP_FOUND, PGP_IN_LOOKUP_NONE, PGP_IN_LOOKUP_TEMP };
typedef int (*pgp_in_lookup_fn)(void *arg, const char *addr, char *fpr, size_t fprlen, char *source,
                                size_t srclen, char *why, size_t whylen);
void pgp_in_set_lookup(struct pgp_in *pi, pgp_in_lookup_fn fn, void *arg);

/* 1: a key whose origin is a Web Key Directory (imported by key discovery
 * for exactly the address of its user ID) counts as trusted, like a fully
 * valid one.  Default 0. */
void pgp_in_set_trust_wkd(struct pgp_in *pi, int on);

/* Decrypts the OpenPGP message read from in_fd (armored or binary, from
 * its current offset) into out_fd; a signature inside is verified against
 * from into res (res->present 0 when unsigned).  PGP_IN_OK, PGP_IN_NOKEY
 * (none of our secret keys), PGP_IN_FAIL (malformed, no integrity
 * protection, decryption failed: out_fd holds garbage), PGP_IN_TEMP. */
int pgp_in_decrypt(struct pgp_in *pi, int in_fd, int out_fd, const char *from,
                   struct inbound_sig *res, char *why, size_t whylen);

/* Verifies the detached signature in sig_fd over the CRLF-canonical bytes
 * in data_fd (both from offset 0). */
void pgp_in_verify(struct pgp_in *pi, int sig_fd, int data_fd, const char *from,
                   struct inbound_sig *res);

#endif
