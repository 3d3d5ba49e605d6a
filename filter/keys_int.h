/* keys_int: what the keys_*.c files share; not used outside filter/keys*. */
#ifndef POSTSEAL_KEYS_INT_H
#define POSTSEAL_KEYS_INT_H

#include <openssl/x509.h>
#include <stddef.h>
#include <stdio.h>

#include "keys.h"
#include "keystore.h"

#define KEYS_ADDR_MAX 254

/* Lookup methods, in the order [keys] methods lists them. */
enum { KM_WKD, KM_HKP, KM_VKS, KM_LDAP, KM_LOCATE, KM_COUNT };
#define KEYS_MAX_METHODS 8
#define KEYS_MAX_SERVERS 8

/* Outcome of one remote step. */
enum { KR_FOUND, KR_NONE, KR_TEMP };

struct keys_ldap {
    char *name; /* from [keys ldap NAME] */
    char *uri;
    char *base;
    char *bind_dn;
    char *bind_password; /* read from bind_password_file */
    char *attr;          /* mail attribute, default "mail" */
    char **domains;      /* NULL-terminated; NULL = every domain */
};

struct keys_domain {
    char *domain;
    char *pgp_key;         /* fingerprint of a key in gnupg_home */
    char *gateway_address; /* looked up like a personal address */
    char *smime_cert;      /* PEM file */
};

struct keys {
    int methods[KEYS_MAX_METHODS];
    int nmethods;
    struct keystore_conf ksconf; /* [filter] gnupg_home, smime_certs, smime_ca */
    char *gnupg_home;            /* = ksconf.gnupg_home: discovered keys go there */
    char *cache_file;            /* NULL: no cache */
    long cache_mb;
    long positive_ttl, negative_ttl;
    long timeout, connect_timeout; /* seconds */
    long max_answer;               /* bytes */
    char *ca_file;                 /* HTTPS trust */
    char *smime_ca_file;           /* S/MIME trust anchors */
    int wkd_advanced, wkd_direct;
    char *hkp[KEYS_MAX_SERVERS];
    int nhkp;
    char *vks[KEYS_MAX_SERVERS];
    int nvks;
    struct curl_slist *connect_to;
    int on_failure_ignore;
    int local_failed; /* this keys_find(): the local key store could not be read */
    char *gateway_localpart;
    struct keys_ldap *ldap;
    int nldap;
    struct keys_domain *domains;
    int ndomains;

    /* run time */
    struct cache *cache;
    int cache_failed;
    struct keystore *ks;
    STACK_OF(X509) * found_chain; /* the LDAP entry's other certificates of the
                                     last certificate found (cached with it) */
    X509_STORE *smime_store;
    FILE *trace; /* --lookup report, else NULL */
};

/* keys.c */
void keys_note(struct keys *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* keys_cfg.c */
struct keys *keys_cfg_new(const struct cfg *cfg, struct cfg_diag *diag);
void keys_cfg_free(struct keys *k);

/* keys_http.c: one GET with every limit of [keys].  Returns KH_*; on
 * KH_OK *body holds the answer (malloc'd, *len bytes, NUL added). */
enum { KH_OK, KH_NOTFOUND, KH_NORESOLVE, KH_TEMP, KH_BAD };
int keys_http_get(struct keys *k, const char *url, char **body, size_t *len, char *why,
                  size_t whylen);
int keys_http_init(void);

/* keys_pgp.c */
void keys_zbase32(const unsigned char *in, size_t len, char *out, size_t outlen);
int keys_wkd_urls(const char *addr, char *adv, size_t alen, char *direct, size_t dlen);
int keys_pgp_import(struct keys *k, const char *addr, const char *origin, const char *data,
                    size_t len, char *fpr, size_t fprlen, char *why, size_t whylen);
int keys_pgp_stale(struct keys *k, const char *fpr, long *age);
int keys_pgp_by_fpr(struct keys *k, const char *fpr, const char *addr, char *why, size_t whylen);
int keys_pgp_remote(struct keys *k, int method, const char *addr, struct keys_result *res,
                    char *why, size_t whylen);

/* keys_smime.c */
int keys_smime_check(struct keys *k, X509 *cert, STACK_OF(X509) * chain, const char *addr,
                     char *why, size_t whylen);
int keys_ldap_find(struct keys *k, const char *addr, struct keys_result *res, char *why,
                   size_t whylen);
X509 *keys_smime_load(const char *path, char *why, size_t whylen);

#endif
