/* status: online certificate status (OCSP, CRL) and OpenPGP key refresh
 * from a keyserver (see status.c).  The only inbound code that touches the
 * network; all HTTP goes through libcurl. */
#ifndef POSTSEAL_STATUS_H
#define POSTSEAL_STATUS_H

#include <stddef.h>
#include <time.h>
#include <openssl/x509.h>

enum status_state {
    STATUS_UNCHECKED,   /* no check configured or possible (no URL) */
    STATUS_GOOD,        /* a verified, fresh answer: not revoked */
    STATUS_REVOKED,     /* a verified, fresh answer: revoked */
    STATUS_UNKNOWN,     /* the server answered but does not know the cert */
    STATUS_UNREACHABLE, /* no usable answer: network, timeout, bad/stale reply */
};

struct status_cfg {
    int check;          /* 0: never ask (state UNCHECKED) */
    char *ocsp_url;     /* responder used when the cert names none (AIA) */
    int ocsp_url_force; /* 1: use ocsp_url even when the cert names one */
    int ocsp_nonce;     /* 1: a reply without our nonce is not accepted */
    char *crl_url;      /* CRL used when the cert names no distribution point */
    char *keyserver;    /* hkp://, hkps://, http(s):// (VKS) or NULL */
    long timeout;       /* seconds per request (connect + transfer) */
    long skew;          /* tolerance on thisUpdate/nextUpdate, seconds */
    long max_age;       /* reply without nextUpdate: oldest thisUpdate, seconds */
    char *cache_path;   /* persistent answer cache (lib/cache, LMDB) or NULL */
    long cache_ttl;     /* longest time an answer is reused, seconds */
};

struct status_answer {
    enum status_state state;
    char source[16];  /* "ocsp", "crl", "keyserver", "" */
    char detail[240]; /* why, for the result header and the log */
    time_t until;     /* good until (nextUpdate), 0 = unknown */
};

const char *status_name(enum status_state s);

/* Status of cert, issued by issuer (both required), trusted store for the
 * OCSP response signature / CRL issuer.  OCSP first (AIA URL or
 * configured), CRL as fallback when OCSP gives no definite answer.
 * Answers are cached for the life of the process. */
void status_x509(const struct status_cfg *sc, X509 *cert, X509 *issuer, X509_STORE *store,
                 struct status_answer *ans);

/* Fetches the OpenPGP key with fingerprint fpr (hex) from the configured
 * keyserver.  Returns the key (armored or binary, malloc'ed, *len bytes)
 * or NULL with ans->state UNKNOWN (not found), UNREACHABLE or UNCHECKED. */
char *status_pgp_fetch(const struct status_cfg *sc, const char *fpr, size_t *len,
                       struct status_answer *ans);

/* Drops the in-process cache and closes the persistent one (tests). */
void status_cache_clear(void);

#endif
