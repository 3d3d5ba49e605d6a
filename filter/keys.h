/* keys: find a recipient's OpenPGP key or S/MIME certificate (see keys.c). */
#ifndef POSTSEAL_KEYS_H
#define POSTSEAL_KEYS_H

#include <gpgme.h>
#include <openssl/x509.h>
#include <stdio.h>

#include "cfg.h"
#include "ferr.h"

struct keys;

/* What the caller can use (bit mask), plus KEYS_OPPORTUNISTIC: the policy
 * sends in clear when there is no key, so a lookup that failed temporarily
 * counts as "no key" (KEYS_NONE, reason kept) instead of KEYS_TEMP. */
enum { KEYS_PGP = 1, KEYS_SMIME = 2, KEYS_OPPORTUNISTIC = 4 };

/* keys_find() outcomes. */
enum { KEYS_FOUND = 0, KEYS_NONE = 1, KEYS_TEMP = 75 };

struct keys_result {
    int kind;          /* KEYS_PGP or KEYS_SMIME when found, else 0 */
    char fpr[80];      /* KEYS_PGP: fingerprint of the key, present in gnupg_home */
    X509 *cert;        /* KEYS_SMIME: the recipient certificate (freed by keys_result_clear) */
    int gateway;       /* 1: a domain-level key stands in for the recipient */
    char keyaddr[256]; /* the address the key is for (recipient or gateway) */
    char source[512];  /* where it came from: "local", "wkd https://...", "cache: ..." */
    char why[1024];    /* KEYS_NONE / KEYS_TEMP: every reason, "; " separated */
};

/* Validates every [keys] and [keys ...] section (errors as FILE:LINE through
 * diag) and returns the lookup context, or NULL when diag->errors > 0. */
struct keys *keys_new(const struct cfg *cfg, struct cfg_diag *diag);
void keys_free(struct keys *k);

/* WKD (draft-koch-openpgp-webkey-service): the z-base-32 SHA-1 hash of the
 * ASCII-lowercased local part, as used in .well-known/openpgpkey/.../hu/HASH
 * (32 characters; hlen >= 33).  Used by lookups and by postseal-keys. */
void keys_wkd_hash(const char *local, char *hash, size_t hlen);
/* Splits and checks a mail address: local part (as written) and domain
 * (lowercased).  -1 when it is no plain address. */
int keys_addr_split(const char *addr, char *local, size_t llen, char *domain, size_t dlen);
/* A gpgme context on GnuPG home `home`, offline, for key inspection, import
 * and export (lookups, scratch homes, postseal-keys).  NULL with why set. */
gpgme_ctx_t keys_gpgme_ctx(const char *home, char *why, size_t whylen);

/* The GnuPG home that discovered keys are imported into. */
const char *keys_gnupg_home(const struct keys *k);

/* Finds a usable key for address among the kinds in want: local keys first,
 * then the persistent cache, then the remote methods in configured order,
 * then the recipient domain's gateway key.  KEYS_FOUND fills res;
 * KEYS_NONE: nothing usable (res->why says why); KEYS_TEMP: a lookup timed
 * out or a server failed (err holds "4.7.0 ..."; with on_failure = ignore
 * or KEYS_OPPORTUNISTIC such failures count as KEYS_NONE instead). */
int keys_find(struct keys *k, const char *address, unsigned want, struct keys_result *res,
              struct ferr *err);
void keys_result_clear(struct keys_result *res);

/* The key of a message's signer, by the From address, for inbound
 * verification: the cache and the remote OpenPGP methods only (no local
 * store, no domain gateway key: only a key with a user ID for exactly this
 * address will do), and the key found is imported into home (the inbound
 * GnuPG home) instead of gnupg_home; the cache is shared.  Outcomes as for
 * keys_find (KEYS_TEMP only without on_failure = ignore). */
int keys_find_signer(struct keys *k, const char *home, const char *address, struct keys_result *res,
                     struct ferr *err);

/* How many OpenPGP methods (wkd, hkp, vks, locate) [keys] methods lists. */
int keys_pgp_methods(const struct keys *k);

/* postseal-filter --lookup: validates the [keys] config, looks the address
 * up (really: imports and caches like the filter would) and prints every
 * step and its reason to out.  Returns 0 found, 69 none, 75 temporary
 * failure or bad configuration. */
int keys_lookup_report(const struct cfg *cfg, const char *address, FILE *out);

#endif
