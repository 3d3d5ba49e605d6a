/*
 * keystore: the LOCAL keys of the outbound crypto: OpenPGP keys in one GnuPG home (through gpgme)
 * and S/MIME certificates in PEM files/directories (through OpenSSL).  Remote discovery (WKD,
 * HKP, LDAP) and its cache are layered on top by filter/keys; this module never touches the
 * network (the gpgme context is offline).
 *
 * Trust model: postseal does not use the OpenPGP web of trust.  A key is usable when the
 * operator put it into the GnuPG home (or key discovery imported it there), one of its valid
 * user IDs carries exactly the recipient's address, and neither the key nor the user ID nor the
 * encryption subkey is expired, revoked, disabled or invalid (keystore_pgp_usable).  Because that
 * check has been made, pgp.c encrypts with GPGME_ENCRYPT_ALWAYS_TRUST, and only to fingerprints
 * it re-checked with the same rule.  S/MIME certificates must chain to a configured trust anchor
 * and allow S/MIME encryption (key usage/extended key usage) at the current time; every
 * certificate in smime_ca is an anchor (X509_V_FLAG_PARTIAL_CHAIN), so an intermediate CA or a
 * partner's own certificate can be trusted on its own.
 *
 * Limits: every lookup scans the configured S/MIME files again (no index kept in memory; the
 * files are small and the scan is cheap next to the encryption); at most KS_MAX_FILES files per
 * directory.  Private key files accessible by group or others are refused (like OpenSMTPD).
 *
 * Failure: unreadable stores and gpgme failures are FERR_TEMP; "no usable key" is FERR_PERM with
 * the reasons of every candidate that was rejected.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "cryptio.h"
#include "keystore.h"
#include "secretfile.h"
#include "log.h"

#define KS_MAX_FILES 10000

struct keystore {
    const struct keystore_conf *conf;
    gpgme_ctx_t gpg;     /* made on first use (ks_gpg) */
    X509_STORE *anchors; /* NULL when no smime_ca is configured */
};

/* "why" accumulator: reasons separated by "; ", truncated with "..." */
struct why {
    char *buf;
    size_t size, len;
};

static void why_add(struct why *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void why_add(struct why *w, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (w->len + 8 >= w->size)
        return;
    if (w->len > 0) {
        memcpy(w->buf + w->len, "; ", 3);
        w->len += 2;
    }
    va_start(ap, fmt);
    n = vsnprintf(w->buf + w->len, w->size - w->len, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    w->len += n;
    if (w->len >= w->size) {
        w->len = w->size - 1;
        memcpy(w->buf + w->size - 4, "...", 4);
    }
}

/* ---- configuration ---------------------------------------------------------------------- */

void keystore_conf_free(struct keystore_conf *conf)
{
    free(conf->gnupg_home);
    free(conf->smime_certs);
    free(conf->smime_ca);
    memset(conf, 0, sizeof(*conf));
}

static int ks_set(char **slot, const struct cfg_entry *e, struct cfg_diag *diag)
{
    if (*e->value == 0) {
        cfg_error(diag, e->line, "%s: empty value", e->key);
        return 1;
    }
    free(*slot);
    if ((*slot = strdup(e->value)) == NULL)
        cfg_error(diag, e->line, "%s: out of memory", e->key);
    return 1;
}

int keystore_conf_entry(struct keystore_conf *conf, const struct cfg_entry *e,
                        struct cfg_diag *diag)
{
    if (strcmp(e->key, "gnupg_home") == 0)
        return ks_set(&conf->gnupg_home, e, diag);
    if (strcmp(e->key, "smime_certs") == 0)
        return ks_set(&conf->smime_certs, e, diag);
    if (strcmp(e->key, "smime_ca") == 0)
        return ks_set(&conf->smime_ca, e, diag);
    return 0;
}

/* ---- PEM files and directories ---------------------------------------------------------- */

static const char *ssl_error(void)
{
    static char buf[256];
    unsigned long e = ERR_peek_last_error();

    if (e == 0)
        return "no PEM data";
    ERR_error_string_n(e, buf, sizeof(buf));
    ERR_clear_error();
    return buf;
}

/* Reads every certificate of a PEM file.  Returns NULL (with why) when the file cannot be read,
 * holds no certificate or a malformed one. */
static STACK_OF(X509) * ks_read_certs(const char *path, char *why, size_t size)
{
    STACK_OF(X509) * sk;
    BIO *bio;
    X509 *x;
    unsigned long e;

    ERR_clear_error();
    if ((bio = BIO_new_file(path, "r")) == NULL) {
        snprintf(why, size, "%s: %s", path, strerror(errno ? errno : EIO));
        return NULL;
    }
    if ((sk = sk_X509_new_null()) == NULL) {
        BIO_free(bio);
        snprintf(why, size, "%s: out of memory", path);
        return NULL;
    }
    while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
        sk_X509_push(sk, x);
    e = ERR_peek_last_error();
    BIO_free(bio);
    if (ERR_GET_REASON(e) == PEM_R_NO_START_LINE && sk_X509_num(sk) > 0) {
        ERR_clear_error();
        return sk;
    }
    if (sk_X509_num(sk) == 0 && ERR_GET_REASON(e) == PEM_R_NO_START_LINE)
        snprintf(why, size, "%s: no PEM certificate in file", path);
    else
        snprintf(why, size, "%s: malformed certificate #%d: %s", path, sk_X509_num(sk) + 1,
                 ssl_error());
    ERR_clear_error();
    sk_X509_pop_free(sk, X509_free);
    return NULL;
}

/* Calls fn for path, or for every regular file in it when it is a directory (sorted, hidden
 * files skipped).  Returns -1 with why when path itself cannot be read. */
static int ks_walk(const char *path, int (*fn)(const char *, void *), void *arg, char *why,
                   size_t size)
{
    struct dirent **names;
    struct stat st;
    char file[4096];
    int i, n;

    if (stat(path, &st) < 0) {
        snprintf(why, size, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode))
        return fn(path, arg);
    if ((n = scandir(path, &names, NULL, alphasort)) < 0) {
        snprintf(why, size, "%s: %s", path, strerror(errno));
        return -1;
    }
    for (i = 0; i < n; i++) {
        if (names[i]->d_name[0] != '.' && i < KS_MAX_FILES &&
            snprintf(file, sizeof(file), "%s/%s", path, names[i]->d_name) < (int)sizeof(file) &&
            stat(file, &st) == 0 && S_ISREG(st.st_mode))
            fn(file, arg);
        free(names[i]);
    }
    free(names);
    if (n > KS_MAX_FILES)
        log_warnx("%s: more than %d files, the rest is ignored", path, KS_MAX_FILES);
    return 0;
}

struct ks_list_ctx {
    int (*fn)(const char *, void *);
    void *arg;
    char *why;
    size_t size;
    int rc;
};

static int ks_list_item(const char *item, size_t len, void *arg)
{
    struct ks_list_ctx *c = arg;
    char path[4096];

    if (len >= sizeof(path)) {
        snprintf(c->why, c->size, "path too long: %.40s...", item);
        c->rc = -1;
        return -1;
    }
    memcpy(path, item, len);
    path[len] = 0;
    if (ks_walk(path, c->fn, c->arg, c->why, c->size) < 0) {
        c->rc = -1;
        return -1;
    }
    return 0;
}

/* ks_walk over every path of a configured list. */
static int ks_walk_list(const char *list, int (*fn)(const char *, void *), void *arg, char *why,
                        size_t size)
{
    struct ks_list_ctx c = {fn, arg, why, size, 0};

    cfg_list(list, ks_list_item, &c);
    return c.rc;
}

struct ks_anchor_ctx {
    X509_STORE *store;
    int count;
    char why[400];
    int bad;
};

static int ks_add_anchor(const char *path, void *arg)
{
    struct ks_anchor_ctx *c = arg;
    STACK_OF(X509) * sk;
    int i;

    if ((sk = ks_read_certs(path, c->why, sizeof(c->why))) == NULL) {
        c->bad = 1;
        return -1;
    }
    for (i = 0; i < sk_X509_num(sk); i++)
        if (X509_STORE_add_cert(c->store, sk_X509_value(sk, i)) == 1)
            c->count++;
    ERR_clear_error(); /* duplicates are harmless */
    sk_X509_pop_free(sk, X509_free);
    return 0;
}

/* ---- open/close ------------------------------------------------------------------------- */

int keystore_open(struct keystore **ksp, const struct keystore_conf *conf, struct ferr *err)
{
    struct keystore *ks;
    struct ks_anchor_ctx ac;

    *ksp = NULL;
    if ((ks = calloc(1, sizeof(*ks))) == NULL) {
        ferr_set(err, FERR_TEMP, "4.3.0 keystore: out of memory");
        return FERR_TEMP;
    }
    ks->conf = conf;
    /* the gpgme context (several gpg processes to start) is made on the first OpenPGP lookup:
     * S/MIME-only mail does not pay for it */
    if (conf->gnupg_home && cio_gpgme_home_ok(conf->gnupg_home, err) != FERR_OK)
        goto fail;
    if (conf->smime_ca) {
        memset(&ac, 0, sizeof(ac));
        if ((ac.store = ks->anchors = X509_STORE_new()) == NULL) {
            ferr_set(err, FERR_TEMP, "4.3.0 keystore: out of memory");
            goto fail;
        }
        /* every certificate in smime_ca is an anchor, also an intermediate or a partner's
         * self-signed certificate: the chain may end at any of them */
        X509_STORE_set_flags(ks->anchors, X509_V_FLAG_PARTIAL_CHAIN);
        if (ks_walk_list(conf->smime_ca, ks_add_anchor, &ac, ac.why, sizeof(ac.why)) < 0 ||
            ac.bad) {
            ferr_set(err, FERR_TEMP, "4.3.0 smime_ca: %s", ac.why);
            goto fail;
        }
        if (ac.count == 0) {
            ferr_set(err, FERR_TEMP, "4.3.0 smime_ca: no certificate in %s", conf->smime_ca);
            goto fail;
        }
    }
    *ksp = ks;
    return FERR_OK;
fail:
    keystore_close(ks);
    return FERR_TEMP;
}

void keystore_close(struct keystore *ks)
{
    if (ks == NULL)
        return;
    if (ks->gpg)
        gpgme_release(ks->gpg);
    X509_STORE_free(ks->anchors);
    free(ks);
}

/* ---- OpenPGP ---------------------------------------------------------------------------- */

static int ks_gpg(struct keystore *ks, struct ferr *err)
{
    if (ks->gpg != NULL)
        return FERR_OK;
    return cio_gpgme_ctx(ks->conf->gnupg_home, &ks->gpg, err);
}

static const char *ks_date(long t)
{
    static char buf[32];
    time_t tt = t;
    struct tm tm;

    gmtime_r(&tt, &tm);
    strftime(buf, sizeof(buf), "%Y-%m-%d", &tm);
    return buf;
}

int keystore_pgp_usable(gpgme_key_t key, const char *addr, int purpose, char *why, size_t size)
{
    gpgme_user_id_t uid;
    gpgme_subkey_t sk;
    const char *fpr = key->fpr ? key->fpr : "(no fingerprint)";
    int uid_ok = 0, uid_seen = 0, sub_ok = 0;
    long expired_at = 0;

    if (key->revoked)
        return snprintf(why, size, "key %s is revoked", fpr), -1;
    if (key->expired)
        return snprintf(why, size, "key %s expired %s", fpr,
                        key->subkeys ? ks_date(key->subkeys->expires) : "?"),
               -1;
    if (key->disabled)
        return snprintf(why, size, "key %s is disabled", fpr), -1;
    if (key->invalid)
        return snprintf(why, size, "key %s is invalid", fpr), -1;
    if (purpose == KEYSTORE_SIGN && !key->secret)
        return snprintf(why, size, "no secret key for %s in the GnuPG home", fpr), -1;
    if (addr) {
        for (uid = key->uids; uid; uid = uid->next) {
            if (uid->email == NULL || strcasecmp(uid->email, addr) != 0)
                continue;
            uid_seen = 1;
            if (!uid->revoked && !uid->invalid)
                uid_ok = 1;
        }
        if (!uid_ok)
            return snprintf(why, size,
                            uid_seen ? "key %s: user ID <%s> is revoked or invalid"
                                     : "key %s has no user ID <%s>",
                            fpr, addr),
                   -1;
    }
    for (sk = key->subkeys; sk; sk = sk->next) {
        if (!(purpose == KEYSTORE_ENCRYPT ? sk->can_encrypt : sk->can_sign))
            continue;
        if (purpose == KEYSTORE_SIGN && !sk->secret)
            continue;
        if (sk->expired && sk->expires > expired_at)
            expired_at = sk->expires;
        if (!sk->revoked && !sk->expired && !sk->disabled && !sk->invalid)
            sub_ok = 1;
    }
    if (!sub_ok) {
        if (expired_at)
            snprintf(why, size, "key %s: %s subkey expired %s", fpr,
                     purpose == KEYSTORE_ENCRYPT ? "encryption" : "signing", ks_date(expired_at));
        else
            snprintf(why, size, "key %s has no usable %s subkey", fpr,
                     purpose == KEYSTORE_ENCRYPT ? "encryption" : "signing");
        return -1;
    }
    return 0;
}

/* Newest usable subkey creation time (the tie breaker between several usable keys). */
static long ks_newest(gpgme_key_t key, int purpose)
{
    gpgme_subkey_t sk;
    long t = 0;

    for (sk = key->subkeys; sk; sk = sk->next)
        if ((purpose == KEYSTORE_ENCRYPT ? sk->can_encrypt : sk->can_sign) && !sk->revoked &&
            !sk->expired && sk->timestamp > t)
            t = sk->timestamp;
    return t;
}

static int ks_valid_addr(const char *addr)
{
    const char *at = strrchr(addr, '@');
    const char *p;

    if (at == NULL || at == addr || at[1] == 0 || strlen(addr) > 254)
        return 0;
    for (p = addr; *p; p++)
        if (*p <= ' ' || *p == '<' || *p == '>' || *p >= 127)
            return 0;
    return 1;
}

/* Lists keys whose user ID email equals addr; picks the newest usable one. */
static int ks_pgp_search(struct keystore *ks, const char *addr, int purpose, char *fpr, size_t size,
                         struct ferr *err)
{
    char pattern[300], reason[300], whybuf[sizeof(err->text)];
    struct why why = {whybuf, sizeof(whybuf), 0};
    gpgme_key_t key, best = NULL;
    gpgme_error_t ge;
    long best_t = -1, t;
    int candidates = 0;

    whybuf[0] = 0;
    if (ks->conf->gnupg_home == NULL) {
        ferr_set(err, FERR_PERM, "5.7.1 no OpenPGP key for <%s>: no gnupg_home configured", addr);
        return FERR_PERM;
    }
    if (!ks_valid_addr(addr)) {
        ferr_set(err, FERR_PERM, "5.1.3 no OpenPGP key for <%s>: not a valid address", addr);
        return FERR_PERM;
    }
    if (ks_gpg(ks, err) != FERR_OK)
        return FERR_TEMP;
    snprintf(pattern, sizeof(pattern), "<%s>", addr);
    if ((ge = gpgme_op_keylist_start(ks->gpg, pattern, purpose == KEYSTORE_SIGN)) != 0) {
        ferr_set(err, FERR_TEMP, "4.3.0 GnuPG home %s: key listing failed: %s",
                 ks->conf->gnupg_home, gpgme_strerror(ge));
        return FERR_TEMP;
    }
    while ((ge = gpgme_op_keylist_next(ks->gpg, &key)) == 0) {
        candidates++;
        if (keystore_pgp_usable(key, addr, purpose, reason, sizeof(reason)) < 0) {
            why_add(&why, "%s", reason);
            gpgme_key_unref(key);
            continue;
        }
        t = ks_newest(key, purpose);
        if (t > best_t) {
            if (best)
                gpgme_key_unref(best);
            best = key;
            best_t = t;
        } else {
            gpgme_key_unref(key);
        }
    }
    if (gpg_err_code(ge) != GPG_ERR_EOF) {
        gpgme_op_keylist_end(ks->gpg);
        if (best)
            gpgme_key_unref(best);
        ferr_set(err, FERR_TEMP, "4.3.0 GnuPG home %s: key listing failed: %s",
                 ks->conf->gnupg_home, gpgme_strerror(ge));
        return FERR_TEMP;
    }
    if (best == NULL) {
        if (candidates == 0)
            ferr_set(err, FERR_PERM, "5.7.1 no OpenPGP %skey with user ID <%s> in %s",
                     purpose == KEYSTORE_SIGN ? "secret " : "", addr, ks->conf->gnupg_home);
        else
            ferr_set(err, FERR_PERM, "5.7.1 no usable OpenPGP key for <%s>: %s", addr, whybuf);
        return FERR_PERM;
    }
    if (best->fpr == NULL || strlen(best->fpr) >= size) {
        gpgme_key_unref(best);
        ferr_set(err, FERR_TEMP, "4.3.0 key for <%s>: fingerprint missing or too long", addr);
        return FERR_TEMP;
    }
    strcpy(fpr, best->fpr);
    gpgme_key_unref(best);
    return FERR_OK;
}

int keystore_pgp_find(struct keystore *ks, const char *addr, char *fpr, size_t size,
                      struct ferr *err)
{
    return ks_pgp_search(ks, addr, KEYSTORE_ENCRYPT, fpr, size, err);
}

static int ks_is_fpr(const char *id)
{
    size_t i, n;

    if (strncasecmp(id, "0x", 2) == 0)
        id += 2;
    n = strlen(id);
    if (n != 40 && n != 64)
        return 0;
    for (i = 0; i < n; i++)
        if (!isxdigit((unsigned char)id[i]))
            return 0;
    return 1;
}

int keystore_pgp_signer(struct keystore *ks, const char *id, char *fpr, size_t size,
                        struct ferr *err)
{
    char reason[300];
    gpgme_key_t key;
    gpgme_error_t ge;

    if (!ks_is_fpr(id))
        return ks_pgp_search(ks, id, KEYSTORE_SIGN, fpr, size, err);
    if (ks->conf->gnupg_home == NULL) {
        ferr_set(err, FERR_TEMP, "4.3.5 OpenPGP signing key %s: no gnupg_home configured", id);
        return FERR_TEMP;
    }
    if (ks_gpg(ks, err) != FERR_OK)
        return FERR_TEMP;
    if (strncasecmp(id, "0x", 2) == 0)
        id += 2;
    if ((ge = gpgme_get_key(ks->gpg, id, &key, 1)) != 0) {
        if (gpg_err_code(ge) == GPG_ERR_EOF)
            ferr_set(err, FERR_PERM, "5.7.1 OpenPGP signing key %s: no secret key in %s", id,
                     ks->conf->gnupg_home);
        else
            ferr_set(err, FERR_TEMP, "4.3.0 OpenPGP signing key %s: %s", id, gpgme_strerror(ge));
        return err->code;
    }
    if (keystore_pgp_usable(key, NULL, KEYSTORE_SIGN, reason, sizeof(reason)) < 0 ||
        strlen(key->fpr) >= size) {
        gpgme_key_unref(key);
        ferr_set(err, FERR_PERM, "5.7.1 OpenPGP signing key unusable: %s", reason);
        return FERR_PERM;
    }
    strcpy(fpr, key->fpr);
    gpgme_key_unref(key);
    return FERR_OK;
}

/* ---- S/MIME ----------------------------------------------------------------------------- */

struct ks_smime_ctx {
    struct keystore *ks;
    const char *addr;
    X509 *best;
    struct why why;
    int seen;
};

static int ks_cert_has_addr(X509 *x, const char *addr)
{
    STACK_OF(OPENSSL_STRING) *emails = X509_get1_email(x);
    int i, hit = 0;

    for (i = 0; i < sk_OPENSSL_STRING_num(emails) && !hit; i++)
        hit = strcasecmp(sk_OPENSSL_STRING_value(emails, i), addr) == 0;
    X509_email_free(emails);
    return hit;
}

static const char *ks_asn1_time(const ASN1_TIME *t)
{
    static char buf[64];
    BIO *b = BIO_new(BIO_s_mem());
    int n = 0;

    if (b && ASN1_TIME_print(b, t) == 1)
        n = BIO_read(b, buf, sizeof(buf) - 1);
    BIO_free(b);
    buf[n > 0 ? n : 0] = 0;
    return buf;
}

/* Leaf usable for S/MIME encryption: extended key usage (when present) includes
 * emailProtection; key usage (when present) allows keyEncipherment for RSA, keyAgreement for
 * EC/X25519/X448 keys (RFC 8550 4.4.2, RFC 5753). */
static int ks_can_encrypt(X509 *x)
{
    uint32_t flags = X509_get_extension_flags(x);
    uint32_t ku = X509_get_key_usage(x);
    int type = EVP_PKEY_get_base_id(X509_get0_pubkey(x));

    if ((flags & EXFLAG_XKUSAGE) && !(X509_get_extended_key_usage(x) & XKU_SMIME))
        return 0;
    if (!(flags & EXFLAG_KUSAGE))
        return 1;
    if (type == EVP_PKEY_RSA)
        return (ku & KU_KEY_ENCIPHERMENT) != 0;
    if (type == EVP_PKEY_EC || type == EVP_PKEY_X25519 || type == EVP_PKEY_X448)
        return (ku & KU_KEY_AGREEMENT) != 0;
    return 0;
}

static int ks_smime_file(const char *path, void *arg)
{
    struct ks_smime_ctx *c = arg;
    STACK_OF(X509) * sk;
    X509_STORE_CTX *vc;
    X509 *x;
    char reason[400];
    int i, verr;

    if ((sk = ks_read_certs(path, reason, sizeof(reason))) == NULL) {
        log_warnx("smime_certs: %s (file skipped)", reason);
        return 0;
    }
    for (i = 0; i < sk_X509_num(sk); i++) {
        x = sk_X509_value(sk, i);
        if (!ks_cert_has_addr(x, c->addr))
            continue;
        c->seen++;
        if (c->ks->anchors == NULL) {
            why_add(&c->why, "%s: no trust anchors configured (smime_ca)", path);
            continue;
        }
        if ((vc = X509_STORE_CTX_new()) == NULL ||
            X509_STORE_CTX_init(vc, c->ks->anchors, x, sk) != 1) {
            X509_STORE_CTX_free(vc);
            why_add(&c->why, "%s: out of memory", path);
            continue;
        }
        /* the chain here, the leaf's usage in ks_can_encrypt (OpenSSL's S/MIME encryption
         * purpose wants keyEncipherment, which ECDH certificates rightly lack) */
        if (X509_verify_cert(vc) != 1) {
            verr = X509_STORE_CTX_get_error(vc);
            if (verr == X509_V_ERR_CERT_HAS_EXPIRED)
                why_add(&c->why, "%s: certificate #%d expired %s", path, i + 1,
                        ks_asn1_time(X509_get0_notAfter(x)));
            else if (verr == X509_V_ERR_INVALID_PURPOSE)
                why_add(&c->why,
                        "%s: certificate #%d: key usage/extended key usage does not allow "
                        "S/MIME encryption",
                        path, i + 1);
            else
                why_add(&c->why, "%s: certificate #%d: %s", path, i + 1,
                        X509_verify_cert_error_string(verr));
            X509_STORE_CTX_free(vc);
            ERR_clear_error();
            continue;
        }
        X509_STORE_CTX_free(vc);
        if (!ks_can_encrypt(x)) {
            why_add(&c->why,
                    "%s: certificate #%d: key usage/extended key usage does not allow "
                    "S/MIME encryption",
                    path, i + 1);
            continue;
        }
        if (c->best == NULL ||
            ASN1_TIME_compare(X509_get0_notAfter(x), X509_get0_notAfter(c->best)) > 0) {
            X509_free(c->best);
            X509_up_ref(x);
            c->best = x;
        }
    }
    sk_X509_pop_free(sk, X509_free);
    return 0;
}

int keystore_smime_find(struct keystore *ks, const char *addr, X509 **cert, struct ferr *err)
{
    char whybuf[sizeof(err->text)], ioerr[400];
    struct ks_smime_ctx c = {ks, addr, NULL, {whybuf, sizeof(whybuf), 0}, 0};

    *cert = NULL;
    whybuf[0] = 0;
    if (ks->conf->smime_certs == NULL) {
        ferr_set(err, FERR_PERM, "5.7.1 no S/MIME certificate for <%s>: no smime_certs configured",
                 addr);
        return FERR_PERM;
    }
    if (!ks_valid_addr(addr)) {
        ferr_set(err, FERR_PERM, "5.1.3 no S/MIME certificate for <%s>: not a valid address", addr);
        return FERR_PERM;
    }
    if (ks_walk_list(ks->conf->smime_certs, ks_smime_file, &c, ioerr, sizeof(ioerr)) < 0) {
        X509_free(c.best);
        ferr_set(err, FERR_TEMP, "4.3.0 smime_certs: %s", ioerr);
        return FERR_TEMP;
    }
    if (c.best == NULL) {
        if (c.seen == 0)
            ferr_set(err, FERR_PERM, "5.7.1 no S/MIME certificate for <%s> in %s", addr,
                     ks->conf->smime_certs);
        else
            ferr_set(err, FERR_PERM, "5.7.1 no usable S/MIME certificate for <%s>: %s", addr,
                     whybuf);
        return FERR_PERM;
    }
    *cert = c.best;
    return FERR_OK;
}

void keystore_smime_signer_free(struct smime_signer *s)
{
    if (s == NULL)
        return;
    X509_free(s->cert);
    EVP_PKEY_free(s->key);
    sk_X509_pop_free(s->chain, X509_free);
    free(s);
}

static int ks_no_passphrase(char *buf, int size, int rwflag, void *u)
{
    return -1;
}

int keystore_smime_signer(const char *cert_file, const char *key_file, struct smime_signer **sp,
                          struct ferr *err)
{
    struct smime_signer *s;
    STACK_OF(X509) * sk;
    char why[400];
    BIO *bio;

    *sp = NULL;
    if (secretfile_check(key_file, why, sizeof(why)) < 0) {
        ferr_set(err, FERR_TEMP, "4.3.5 S/MIME signing key %s: refused", why);
        return FERR_TEMP;
    }
    if ((sk = ks_read_certs(cert_file, why, sizeof(why))) == NULL) {
        ferr_set(err, FERR_TEMP, "4.3.5 S/MIME signing certificate %s", why);
        return FERR_TEMP;
    }
    if ((s = calloc(1, sizeof(*s))) == NULL) {
        sk_X509_pop_free(sk, X509_free);
        ferr_set(err, FERR_TEMP, "4.3.0 out of memory");
        return FERR_TEMP;
    }
    s->cert = sk_X509_shift(sk);
    s->chain = sk;
    ERR_clear_error();
    if ((bio = BIO_new_file(key_file, "r")) == NULL ||
        (s->key = PEM_read_bio_PrivateKey(bio, NULL, ks_no_passphrase, NULL)) == NULL) {
        ferr_set(err, FERR_TEMP,
                 "4.3.5 S/MIME signing key %s: cannot read an unencrypted PEM private key: %s",
                 key_file, ssl_error());
        goto fail;
    }
    BIO_free(bio);
    bio = NULL;
    if (X509_check_private_key(s->cert, s->key) != 1) {
        ferr_set(err, FERR_TEMP, "4.3.5 S/MIME signing key %s does not match certificate %s",
                 key_file, cert_file);
        goto fail;
    }
    if (X509_cmp_current_time(X509_get0_notAfter(s->cert)) < 0) {
        ferr_set(err, FERR_TEMP, "4.3.5 S/MIME signing certificate %s expired %s", cert_file,
                 ks_asn1_time(X509_get0_notAfter(s->cert)));
        goto fail;
    }
    if (X509_cmp_current_time(X509_get0_notBefore(s->cert)) > 0) {
        ferr_set(err, FERR_TEMP, "4.3.5 S/MIME signing certificate %s not valid before %s",
                 cert_file, ks_asn1_time(X509_get0_notBefore(s->cert)));
        goto fail;
    }
    if (X509_check_purpose(s->cert, X509_PURPOSE_SMIME_SIGN, 0) != 1) {
        ferr_set(err, FERR_TEMP,
                 "4.3.5 S/MIME signing certificate %s: key usage does not allow S/MIME signing",
                 cert_file);
        goto fail;
    }
    ERR_clear_error();
    *sp = s;
    return FERR_OK;
fail:
    BIO_free(bio);
    ERR_clear_error();
    keystore_smime_signer_free(s);
    return FERR_TEMP;
}
