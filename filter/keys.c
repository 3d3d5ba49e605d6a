/*
 * keys: the one entry point the filter's decision step uses to find a
 * recipient's key: keys_find().  Order: the local keys (OpenPGP keys in
 * gnupg_home), then per configured method (wkd, hkp, vks, ldap, locate) the
 * persistent cache (lib/cache, key "METHOD:address") and, on a miss, the
 * remote lookup, whose result is cached (positive_ttl / negative_ttl).
 * When the recipient has no key at all, the domain's gateway key is used:
 * [keys domain D] pgp_key / smime_cert, or the key found for the gateway
 * address ([keys domain D] gateway_address, or gateway_localpart@D).
 *
 * Contract: KEYS_FOUND with an OpenPGP fingerprint (key present and usable in
 * gnupg_home) or an S/MIME certificate that passed every check; KEYS_NONE
 * with the reasons; KEYS_TEMP when any lookup failed in a way that may heal
 * (timeout, server down), because a key might exist: the message must stay
 * queued.  on_failure = ignore, or KEYS_OPPORTUNISTIC from a caller whose
 * policy sends in clear anyway, turns KEYS_TEMP of a REMOTE lookup into
 * KEYS_NONE (opportunistic setups); a local key store that cannot be read
 * (gnupg_home, [keys domain] keys) stays KEYS_TEMP: the key may well be there,
 * so the message is deferred, never sent in clear.  Temporary failures are never cached.  A cache
 * that cannot be opened is logged and the lookup goes on without it.
 *
 * keys_find_signer() is the inbound side's use: the signer of a message by
 * its From address, remote methods only, imported into the inbound GnuPG
 * home (the one field gnupg_home is switched for that call; nothing else of
 * the context depends on which home it is).
 *
 * keys_lookup_report() runs the same steps with a trace of every step.
 */
#include <ctype.h>
#include <openssl/bio.h>
#include <openssl/x509.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cache.h"
#include "keys_int.h"
#include "log.h"

static const char *const keys_mname[KM_COUNT] = {"wkd", "hkp", "vks", "ldap", "locate"};

void keys_note(struct keys *k, const char *fmt, ...)
{
    char buf[2048];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (k->trace != NULL)
        fprintf(k->trace, "  %s\n", buf);
    else
        log_debug("keys: %s", buf);
}

int keys_addr_split(const char *addr, char *local, size_t llen, char *domain, size_t dlen)
{
    const char *at = strrchr(addr, '@'), *p;
    size_t ln, dn, i;

    if (at == NULL || strlen(addr) > KEYS_ADDR_MAX)
        return -1;
    ln = (size_t)(at - addr);
    dn = strlen(at + 1);
    if (ln == 0 || ln > 64 || ln >= llen || dn == 0 || dn >= dlen)
        return -1;
    for (p = addr; p < at; p++)
        if (*p <= ' ' || *p >= 127 || strchr("<>()[]\\,;:\"@", *p) != NULL)
            return -1;
    for (i = 0; i < dn; i++) {
        char c = at[1 + i];

        if (!isalnum((unsigned char)c) && c != '-' && c != '.')
            return -1;
        domain[i] = (char)tolower((unsigned char)c);
    }
    domain[dn] = 0;
    if (domain[0] == '.' || domain[0] == '-' || domain[dn - 1] == '.' || strstr(domain, ".."))
        return -1;
    memcpy(local, addr, ln);
    local[ln] = 0;
    return 0;
}

static void keys_why(char *why, size_t whylen, const char *prefix, const char *text)
{
    size_t n = strlen(why);

    if (n + 3 >= whylen)
        return;
    snprintf(why + n, whylen - n, "%s%s: %s", n ? "; " : "", prefix, text);
}

struct keys *keys_new(const struct cfg *cfg, struct cfg_diag *diag)
{
    struct keys *k = keys_cfg_new(cfg, diag);

    if (k != NULL && keys_http_init() < 0) {
        cfg_error(diag, 0, "cannot initialise libcurl");
        keys_cfg_free(k);
        return NULL;
    }
    return k;
}

void keys_free(struct keys *k)
{
    if (k == NULL)
        return;
    cache_close(k->cache);
    keystore_close(k->ks);
    sk_X509_pop_free(k->found_chain, X509_free);
    X509_STORE_free(k->smime_store);
    keys_cfg_free(k);
}

const char *keys_gnupg_home(const struct keys *k)
{
    return k->gnupg_home;
}

void keys_result_clear(struct keys_result *res)
{
    X509_free(res->cert);
    memset(res, 0, sizeof(*res));
}

static struct cache *keys_cache(struct keys *k)
{
    char err[600];

    if (k->cache != NULL || k->cache_failed || k->cache_file == NULL)
        return k->cache;
    k->cache = cache_open(k->cache_file, (size_t)k->cache_mb << 20, err, sizeof(err));
    if (k->cache == NULL) {
        k->cache_failed = 1;
        log_warnx("keys: %s (looking up without cache)", err);
        keys_note(k, "cache: %s (looking up without cache)", err);
    }
    return k->cache;
}

/* A positive cache entry still good?  PGP: the key is still in gnupg_home and
 * usable; S/MIME: the stored certificate passes every check again. */
static int keys_cached_positive(struct keys *k, int m, const char *addr, struct cache_entry *e,
                                struct keys_result *res, char *why, size_t whylen)
{
    if (m == KM_LDAP) {
        /* the certificate, then the directory entry's other certificates */
        const unsigned char *p = e->data, *end = e->data + e->len;
        X509 *c = e->data ? d2i_X509(NULL, &p, (long)e->len) : NULL;
        STACK_OF(X509) *chain = sk_X509_new_null();
        int rc;

        while (c != NULL && chain != NULL && p < end) {
            X509 *x = d2i_X509(NULL, &p, (long)(end - p));

            if (x == NULL || !sk_X509_push(chain, x)) {
                X509_free(x);
                break;
            }
        }
        if (c == NULL || chain == NULL || p != end) {
            X509_free(c);
            sk_X509_pop_free(chain, X509_free);
            snprintf(why, whylen, "cached certificate unreadable");
            return KR_NONE;
        }
        rc = keys_smime_check(k, c, chain, addr, why, whylen);
        sk_X509_pop_free(chain, X509_free);
        if (rc != KR_FOUND) {
            X509_free(c);
            return KR_NONE;
        }
        res->cert = c;
        res->kind = KEYS_SMIME;
        return KR_FOUND;
    }
    if (e->len == 0 || e->len >= sizeof(res->fpr)) {
        snprintf(why, whylen, "cached fingerprint unreadable");
        return KR_NONE;
    }
    memcpy(res->fpr, e->data, e->len);
    res->fpr[e->len] = 0;
    if (keys_pgp_by_fpr(k, res->fpr, addr, why, whylen) != KR_FOUND) {
        res->fpr[0] = 0;
        return KR_NONE;
    }
    res->kind = KEYS_PGP;
    return KR_FOUND;
}

static void keys_cache_store(struct keys *k, int m, const char *ckey, int found,
                             struct keys_result *res, const char *why)
{
    struct cache *c = keys_cache(k);
    char err[600];
    int rc;

    if (c == NULL)
        return;
    if (!found) {
        if (k->negative_ttl == 0)
            return;
        rc = cache_put(c, ckey, CACHE_NEGATIVE, k->negative_ttl, why, NULL, 0, err, sizeof(err));
    } else if (m == KM_LDAP) {
        BIO *b = BIO_new(BIO_s_mem());
        char *data;
        long n;
        int i, ok = b != NULL && i2d_X509_bio(b, res->cert) == 1;

        for (i = 0; ok && i < sk_X509_num(k->found_chain); i++) {
            X509 *x = sk_X509_value(k->found_chain, i);

            if (X509_cmp(x, res->cert) != 0)
                ok = i2d_X509_bio(b, x) == 1;
        }
        n = ok ? BIO_get_mem_data(b, &data) : 0;
        rc = n > 0 ? cache_put(c, ckey, CACHE_POSITIVE, k->positive_ttl, res->source, data,
                               (size_t)n, err, sizeof(err))
                   : 0;
        BIO_free(b);
    } else {
        rc = cache_put(c, ckey, CACHE_POSITIVE, k->positive_ttl, res->source, res->fpr,
                       strlen(res->fpr), err, sizeof(err));
    }
    if (rc < 0)
        log_warnx("keys: %s", err);
}

/* A key store text without its leading enhanced status code ("5.7.1 "). */
static const char *keys_nostatus(const char *t)
{
    if (t[0] >= '2' && t[0] <= '5' && t[1] == '.' && strchr(t, ' ') != NULL &&
        strspn(t, "0123456789.") == (size_t)(strchr(t, ' ') - t))
        return strchr(t, ' ') + 1;
    return t;
}

/* The filter's local key store ([filter] gnupg_home, smime_certs). */
static int keys_local(struct keys *k, const char *addr, unsigned want, struct keys_result *res,
                      char *why, size_t whylen)
{
    struct ferr err;
    int rc, temp = 0;

    if (k->ks == NULL && keystore_open(&k->ks, &k->ksconf, &err) != FERR_OK) {
        keys_note(k, "local: key store: %s", keys_nostatus(err.text));
        keys_why(why, whylen, "local", keys_nostatus(err.text));
        return KR_TEMP;
    }
    if (k->ksconf.gnupg_home == NULL && k->ksconf.smime_certs == NULL) {
        keys_note(k, "local: no key store configured ([filter] gnupg_home, smime_certs)");
        keys_why(why, whylen, "local", "no key store configured");
    }
    if ((want & KEYS_PGP) && k->ksconf.gnupg_home != NULL) {
        rc = keystore_pgp_find(k->ks, addr, res->fpr, sizeof(res->fpr), &err);
        if (rc == FERR_OK) {
            res->kind = KEYS_PGP;
            snprintf(res->source, sizeof(res->source), "local GnuPG home %.400s",
                     k->ksconf.gnupg_home);
            keys_note(k, "local: OpenPGP key %s in %s: usable", res->fpr, k->ksconf.gnupg_home);
            return KR_FOUND;
        }
        res->fpr[0] = 0;
        keys_note(k, "local: OpenPGP: %s", keys_nostatus(err.text));
        keys_why(why, whylen, "local", keys_nostatus(err.text));
        if (rc == FERR_TEMP)
            temp = 1;
    }
    if ((want & KEYS_SMIME) && k->ksconf.smime_certs != NULL) {
        rc = keystore_smime_find(k->ks, addr, &res->cert, &err);
        if (rc == FERR_OK) {
            res->kind = KEYS_SMIME;
            snprintf(res->source, sizeof(res->source), "local smime_certs %.400s",
                     k->ksconf.smime_certs);
            keys_note(k, "local: S/MIME certificate in %s: usable", k->ksconf.smime_certs);
            return KR_FOUND;
        }
        keys_note(k, "local: S/MIME: %s", keys_nostatus(err.text));
        keys_why(why, whylen, "local", keys_nostatus(err.text));
        if (rc == FERR_TEMP)
            temp = 1;
    }
    return temp ? KR_TEMP : KR_NONE;
}

/* The remote methods in configured order, each first through the cache
 * (unless use_cache is 0; results are cached either way).  Returns KR_FOUND,
 * or KR_NONE/KR_TEMP with reasons appended to why. */
static int keys_remote(struct keys *k, const char *addr, unsigned want, int use_cache,
                       struct keys_result *res, char *why, size_t whylen)
{
    char lower[KEYS_ADDR_MAX + 1], ckey[KEYS_ADDR_MAX + 16], buf[1024];
    struct cache_entry e;
    struct cache *c;
    int i, m, rc, temp = 0;

    for (i = 0; addr[i]; i++)
        lower[i] = (char)tolower((unsigned char)addr[i]);
    lower[i] = 0;
    if (k->nmethods == 0) {
        keys_note(k, "remote: no [keys] methods configured");
        keys_why(why, whylen, "remote", "no [keys] methods configured");
    }

    for (i = 0; i < k->nmethods; i++) {
        m = k->methods[i];
        if (m == KM_LDAP ? !(want & KEYS_SMIME) : !(want & KEYS_PGP))
            continue;
        snprintf(ckey, sizeof(ckey), "%s:%s", keys_mname[m], lower);
        if (use_cache && (c = keys_cache(k)) != NULL) {
            char err[600];

            rc = cache_get(c, ckey, &e, err, sizeof(err));
            if (rc == CACHE_ERR) {
                log_warnx("keys: %s", err);
            } else if (rc == CACHE_HIT && e.kind == CACHE_NEGATIVE) {
                keys_note(k, "%s: cached negative answer (%lds left): %s", keys_mname[m],
                          (long)(e.expires - time(NULL)), e.info);
                snprintf(buf, sizeof(buf), "(cached) %.1000s", e.info);
                keys_why(why, whylen, keys_mname[m], buf);
                cache_entry_clear(&e);
                continue;
            } else if (rc == CACHE_HIT) {
                buf[0] = 0;
                rc = keys_cached_positive(k, m, addr, &e, res, buf, sizeof(buf));
                if (rc == KR_FOUND) {
                    snprintf(res->source, sizeof(res->source), "cache (%s, %lds left): %.450s",
                             keys_mname[m], (long)(e.expires - time(NULL)), e.info);
                    keys_note(k, "%s: cached key: %s", keys_mname[m], res->source);
                    cache_entry_clear(&e);
                    return KR_FOUND;
                }
                keys_note(k, "%s: cached key no longer usable (%s): asking again", keys_mname[m],
                          buf);
                cache_entry_clear(&e);
            }
        }
        buf[0] = 0;
        if (m == KM_LDAP)
            rc = keys_ldap_find(k, addr, res, buf, sizeof(buf));
        else
            rc = keys_pgp_remote(k, m, addr, res, buf, sizeof(buf));
        if (rc == KR_FOUND) {
            res->kind = m == KM_LDAP ? KEYS_SMIME : KEYS_PGP;
            if (res->kind == KEYS_PGP)
                keys_note(k, "%s: OpenPGP key %s from %s: usable, imported into %s", keys_mname[m],
                          res->fpr, res->source, k->gnupg_home);
            else
                keys_note(k, "%s: certificate from %s: usable", keys_mname[m], res->source);
            if (k->trace == NULL && res->kind == KEYS_PGP)
                log_info("keys: <%s>: OpenPGP key %s from %s imported into %s", addr, res->fpr,
                         res->source, k->gnupg_home);
            else if (k->trace == NULL)
                log_info("keys: <%s>: S/MIME certificate from %s", addr, res->source);
            keys_cache_store(k, m, ckey, 1, res, NULL);
            return KR_FOUND;
        }
        keys_note(k, "%s: %s%s", keys_mname[m], rc == KR_TEMP ? "temporary failure: " : "", buf);
        if (k->trace == NULL && rc == KR_TEMP)
            log_warnx("keys: <%s>: %s lookup failed temporarily: %s", addr, keys_mname[m], buf);
        keys_why(why, whylen, keys_mname[m], buf);
        if (rc == KR_TEMP)
            temp = 1;
        else
            keys_cache_store(k, m, ckey, 0, res, buf);
    }
    return temp ? KR_TEMP : KR_NONE;
}

/* A key this gateway discovered earlier and has not refreshed for
 * positive_ttl is looked up again (without the cache): a newer key wins, a
 * revocation or new expiry reaches the keyring.  When the refresh finds
 * nothing or fails, the local key stays in use; a cache mark "refresh:FPR"
 * keeps the next messages from asking again before the TTL. */
static int keys_refresh(struct keys *k, const char *addr, struct keys_result *res)
{
    struct keys_result fresh;
    struct cache_entry e;
    struct cache *c = keys_cache(k);
    char ckey[128], err[600], why[1024] = "";
    long age = 0;
    int rc;

    snprintf(ckey, sizeof(ckey), "refresh:%s", res->fpr);
    if (k->nmethods == 0 || !keys_pgp_stale(k, res->fpr, &age))
        return KR_FOUND;
    if (c != NULL && cache_get(c, ckey, &e, err, sizeof(err)) == CACHE_HIT) {
        cache_entry_clear(&e);
        return KR_FOUND;
    }
    keys_note(k, "local: key %s was discovered %lds ago (positive_ttl %lds): refreshing", res->fpr,
              age, k->positive_ttl);
    memset(&fresh, 0, sizeof(fresh));
    rc = keys_remote(k, addr, KEYS_PGP, 0, &fresh, why, sizeof(why));
    if (c != NULL)
        cache_put(c, ckey, CACHE_POSITIVE, rc == KR_TEMP ? k->negative_ttl : k->positive_ttl, why,
                  NULL, 0, err, sizeof(err));
    if (rc == KR_FOUND) {
        *res = fresh;
        return KR_FOUND;
    }
    keys_result_clear(&fresh);
    rc = keys_pgp_by_fpr(k, res->fpr, addr, why, sizeof(why));
    if (rc == KR_FOUND)
        keys_note(k, "local: refresh found nothing newer: keeping key %s", res->fpr);
    else
        keys_note(k, "local: after refresh: %s", why);
    return rc;
}

/* Every step for one address (the recipient's or a gateway address).
 * Returns KR_FOUND, or KR_NONE/KR_TEMP with reasons appended to why. */
static int keys_find_addr(struct keys *k, const char *addr, unsigned want, struct keys_result *res,
                          char *why, size_t whylen)
{
    int rc, temp = 0;

    rc = keys_local(k, addr, want, res, why, whylen);
    if (rc == KR_FOUND && res->kind == KEYS_PGP)
        rc = keys_refresh(k, addr, res);
    if (rc == KR_FOUND)
        return rc;
    if (rc == KR_TEMP)
        temp = k->local_failed = 1;
    res->kind = 0;
    res->fpr[0] = 0;
    rc = keys_remote(k, addr, want, 1, res, why, whylen);
    return rc == KR_FOUND ? rc : temp ? KR_TEMP : rc;
}

static struct keys_domain *keys_domain_of(struct keys *k, const char *domain)
{
    int i;

    for (i = 0; i < k->ndomains; i++)
        if (strcasecmp(k->domains[i].domain, domain) == 0)
            return &k->domains[i];
    return NULL;
}

/* Configured domain keys: [keys domain D] pgp_key / smime_cert. */
static int keys_domain_static(struct keys *k, struct keys_domain *d, unsigned want,
                              struct keys_result *res, char *why, size_t whylen)
{
    char buf[700];
    int rc;

    if (d->pgp_key != NULL && (want & KEYS_PGP)) {
        rc = keys_pgp_by_fpr(k, d->pgp_key, NULL, buf, sizeof(buf));
        if (rc == KR_FOUND) {
            res->kind = KEYS_PGP;
            snprintf(res->fpr, sizeof(res->fpr), "%s", d->pgp_key);
            snprintf(res->source, sizeof(res->source), "[keys domain %s] pgp_key", d->domain);
            keys_note(k, "domain: OpenPGP gateway key %s for %s: usable", d->pgp_key, d->domain);
            return KR_FOUND;
        }
        keys_note(k, "domain: pgp_key: %s", buf);
        keys_why(why, whylen, "domain pgp_key", buf);
        if (rc == KR_TEMP)
            return rc;
    }
    if (d->smime_cert != NULL && (want & KEYS_SMIME)) {
        X509 *c = keys_smime_load(d->smime_cert, buf, sizeof(buf));

        rc = KR_NONE;
        if (c != NULL && (rc = keys_smime_check(k, c, NULL, NULL, buf, sizeof(buf))) == KR_FOUND) {
            res->kind = KEYS_SMIME;
            res->cert = c;
            snprintf(res->source, sizeof(res->source), "[keys domain %s] smime_cert %s", d->domain,
                     d->smime_cert);
            keys_note(k, "domain: S/MIME gateway certificate %s: usable", d->smime_cert);
            return KR_FOUND;
        }
        X509_free(c);
        keys_note(k, "domain: smime_cert: %s", buf);
        keys_why(why, whylen, "domain smime_cert", buf);
        if (rc == KR_TEMP)
            return rc;
    }
    return KR_NONE;
}

int keys_find(struct keys *k, const char *address, unsigned want, struct keys_result *res,
              struct ferr *err)
{
    char local[128], domain[256], addr[KEYS_ADDR_MAX + 1], gw[KEYS_ADDR_MAX + 1];
    struct keys_domain *d;
    int rc, temp = 0, ignore = k->on_failure_ignore || (want & KEYS_OPPORTUNISTIC);

    memset(res, 0, sizeof(*res));
    ferr_clear(err);
    k->local_failed = 0;
    if (keys_addr_split(address, local, sizeof(local), domain, sizeof(domain)) < 0) {
        snprintf(res->why, sizeof(res->why),
                 "\"%.300s\" is not a mail address postseal can "
                 "look up",
                 address);
        return KEYS_NONE;
    }
    snprintf(addr, sizeof(addr), "%.64s@%.189s", local, domain);
    snprintf(res->keyaddr, sizeof(res->keyaddr), "%s", addr);
    rc = keys_find_addr(k, addr, want, res, res->why, sizeof(res->why));
    if (rc == KR_FOUND)
        return KEYS_FOUND;
    /* A local key store that cannot be read is a fault here, not "no key":
     * it defers even under an opportunistic policy (the key may be there). */
    if (rc == KR_TEMP && (!ignore || k->local_failed))
        goto temp;
    temp |= rc == KR_TEMP;

    /* No personal key: the domain's gateway key, if any. */
    d = keys_domain_of(k, domain);
    gw[0] = 0;
    if (d != NULL) {
        rc = keys_domain_static(k, d, want, res, res->why, sizeof(res->why));
        if (rc == KR_FOUND)
            goto gateway;
        if (rc == KR_TEMP) /* configured domain keys are local: always a fault */
            goto temp;
        temp |= rc == KR_TEMP;
        if (d->gateway_address != NULL)
            snprintf(gw, sizeof(gw), "%s", d->gateway_address);
    }
    if (gw[0] == 0 && k->gateway_localpart != NULL)
        snprintf(gw, sizeof(gw), "%.64s@%.189s", k->gateway_localpart, domain);
    if (gw[0] != 0 && strcasecmp(gw, addr) != 0) {
        keys_note(k, "gateway: no personal key, trying the domain key of %s", gw);
        rc = keys_find_addr(k, gw, want, res, res->why, sizeof(res->why));
        if (rc == KR_FOUND) {
            snprintf(res->keyaddr, sizeof(res->keyaddr), "%s", gw);
            goto gateway;
        }
        if (rc == KR_TEMP && (!ignore || k->local_failed))
            goto temp;
        temp |= rc == KR_TEMP;
    }
    if (temp)
        keys_note(k, "temporary failures count as no key (%s)",
                  k->on_failure_ignore ? "on_failure = ignore" : "opportunistic policy");
    return KEYS_NONE;
gateway:
    res->gateway = 1;
    return KEYS_FOUND;
temp:
    ferr_set(err, FERR_TEMP, "4.7.0 key lookup for <%s> failed temporarily: %s", addr, res->why);
    return KEYS_TEMP;
}

int keys_pgp_methods(const struct keys *k)
{
    int i, n = 0;

    for (i = 0; i < k->nmethods; i++)
        n += k->methods[i] != KM_LDAP;
    return n;
}

int keys_find_signer(struct keys *k, const char *home, const char *address, struct keys_result *res,
                     struct ferr *err)
{
    char local[128], domain[256], addr[KEYS_ADDR_MAX + 1];
    char *filter_home = k->gnupg_home;
    int rc;

    memset(res, 0, sizeof(*res));
    ferr_clear(err);
    if (keys_addr_split(address, local, sizeof(local), domain, sizeof(domain)) < 0) {
        snprintf(res->why, sizeof(res->why),
                 "\"%.300s\" is not a mail address postseal can look up", address);
        return KEYS_NONE;
    }
    snprintf(addr, sizeof(addr), "%.64s@%.189s", local, domain);
    snprintf(res->keyaddr, sizeof(res->keyaddr), "%s", addr);
    if (keys_pgp_methods(k) == 0) {
        snprintf(res->why, sizeof(res->why), "no OpenPGP method in [keys] methods");
        return KEYS_NONE;
    }
    /* Every step below (cache check, import, scratch-home updates) works on
     * k->gnupg_home: point it at the inbound home for this one lookup. */
    k->gnupg_home = (char *)home;
    rc = keys_remote(k, addr, KEYS_PGP, 1, res, res->why, sizeof(res->why));
    k->gnupg_home = filter_home;
    if (rc == KR_FOUND)
        return KEYS_FOUND;
    if (rc == KR_TEMP && !k->on_failure_ignore) {
        ferr_set(err, FERR_TEMP, "4.7.0 key lookup for <%s> failed temporarily: %s", addr,
                 res->why);
        return KEYS_TEMP;
    }
    return KEYS_NONE;
}

int keys_lookup_report(const struct cfg *cfg, const char *address, FILE *out)
{
    struct cfg_diag diag = {cfg->path, 0};
    struct keys_result res;
    struct ferr err;
    struct keys *k;
    int rc;

    if ((k = keys_new(cfg, &diag)) == NULL) {
        fprintf(out, "%s: %d error(s) in the [keys] configuration (see above)\n", cfg->path,
                diag.errors);
        return 75;
    }
    k->trace = out;
    fprintf(out, "lookup <%s>\n", address);
    rc = keys_find(k, address, KEYS_PGP | KEYS_SMIME, &res, &err);
    if (rc == KEYS_FOUND && res.kind == KEYS_PGP) {
        fprintf(out, "result: found OpenPGP key %s%s%s%s\n  from: %s\n", res.fpr,
                res.gateway ? " (domain gateway key of <" : "", res.gateway ? res.keyaddr : "",
                res.gateway ? ">)" : "", res.source);
    } else if (rc == KEYS_FOUND) {
        char subj[256], iss[256];
        const ASN1_TIME *na = X509_get0_notAfter(res.cert);
        struct tm tm;

        X509_NAME_oneline(X509_get_subject_name(res.cert), subj, sizeof(subj));
        X509_NAME_oneline(X509_get_issuer_name(res.cert), iss, sizeof(iss));
        fprintf(out, "result: found S/MIME certificate %s%s\n  issuer: %s\n", subj,
                res.gateway ? " (domain gateway certificate)" : "", iss);
        if (ASN1_TIME_to_tm(na, &tm) == 1)
            fprintf(out, "  valid until: %04d-%02d-%02d\n", tm.tm_year + 1900, tm.tm_mon + 1,
                    tm.tm_mday);
        fprintf(out, "  from: %s\n", res.source);
    } else if (rc == KEYS_TEMP) {
        fprintf(out, "result: temporary failure (mail would stay queued): %s\n", err.text);
    } else {
        fprintf(out, "result: no usable key: %s\n", res.why[0] ? res.why : "no method found one");
    }
    keys_result_clear(&res);
    keys_free(k);
    return rc == KEYS_FOUND ? 0 : rc == KEYS_TEMP ? 75 : 69;
}
