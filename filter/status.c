/*
 * status: is a signer's certificate revoked?  Asks an OCSP responder (RFC
 * 6960; URL from the certificate's Authority Information Access or the
 * configured ocsp_responder) and falls back to a CRL (RFC 5280; the
 * certificate's CRL distribution point or the configured crl_url) when OCSP
 * gives no definite answer.  For OpenPGP, fetches the signer's key from the
 * configured keyserver (HKP or VKS) so the caller can import it and see a
 * revocation.
 *
 * Contract: an answer is GOOD or REVOKED only when it is verified (OCSP
 * response signature by the issuer or a responder it delegated to, our nonce
 * echoed, thisUpdate/nextUpdate fresh within the configured skew; CRL signed
 * by the issuer, issuer name matching, lastUpdate/nextUpdate fresh).
 * Anything else is UNKNOWN (the server said so) or UNREACHABLE (no usable
 * answer), with the reason in ans->detail.
 *
 * Limits: only the signer's certificate is checked (not intermediate CAs);
 * the first OCSP URL of the AIA and the first URI of the first CRL
 * distribution point are asked; OCSP by POST with a SHA-1 CertID; full CRLs
 * only (no delta or indirect CRLs).  A keyserver reply is imported as it is
 * (gpg merges it; only the signer's fingerprint is looked at afterwards).
 * One request per URL at a time; every request is bounded by
 * status_timeout (connect + transfer) and a reply size (OCSP 256 KiB, CRL
 * 8 MiB, key 1 MiB); no redirects; http and https only.  Answers are cached
 * in memory for the life of the process (one message per process) and, with
 * status_cache set, in lib/cache (LMDB): definite X.509 answers (good,
 * revoked, unknown) until nextUpdate but at most status_cache_ttl, keyserver
 * refreshes for status_cache_ttl.  "Unreachable" is never cached.  A cache
 * that cannot be opened is logged and not used (the checks still run).
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "cache.h"
#include "log.h"
#include "status.h"

#define STATUS_OCSP_MAX (256 * 1024)
#define STATUS_CRL_MAX (8 * 1024 * 1024)
#define STATUS_KEY_MAX (1024 * 1024)
#define STATUS_CACHE_MAX 32

struct status_buf {
    unsigned char *p;
    size_t len;
    size_t max;
    int overflow;
};

struct status_cache_ent {
    char key[128];
    struct status_answer ans;
};

static struct status_cache_ent status_cache[STATUS_CACHE_MAX];
static size_t status_cache_n;
static struct cache *status_db;
static int status_db_failed;

const char *status_name(enum status_state s)
{
    switch (s) {
    case STATUS_GOOD:
        return "good";
    case STATUS_REVOKED:
        return "revoked";
    case STATUS_UNKNOWN:
        return "unknown";
    case STATUS_UNREACHABLE:
        return "unreachable";
    default:
        return "unchecked";
    }
}

void status_cache_clear(void)
{
    status_cache_n = 0;
    cache_close(status_db);
    status_db = NULL;
    status_db_failed = 0;
}

static struct cache *status_db_open(const struct status_cfg *sc)
{
    char err[256];

    if (sc->cache_path == NULL || status_db_failed)
        return NULL;
    if (status_db == NULL &&
        (status_db = cache_open(sc->cache_path, 64u << 20, err, sizeof(err))) == NULL) {
        log_warnx("status: cache %s not used: %s", sc->cache_path, err);
        status_db_failed = 1;
    }
    return status_db;
}

/* Persistent cache: info is "STATE|SOURCE|DETAIL". */
static int status_db_get(const struct status_cfg *sc, const char *key, struct status_answer *ans)
{
    struct cache *db = status_db_open(sc);
    struct cache_entry e;
    char err[256], *p, *q;
    long st;

    if (db == NULL || cache_get(db, key, &e, err, sizeof(err)) != CACHE_HIT)
        return 0;
    st = strtol(e.info, &p, 10);
    if (*p != '|' || (q = strchr(p + 1, '|')) == NULL || st < STATUS_GOOD || st > STATUS_UNKNOWN) {
        cache_entry_clear(&e);
        return 0;
    }
    memset(ans, 0, sizeof(*ans));
    ans->state = (enum status_state)st;
    snprintf(ans->source, sizeof(ans->source), "%.*s", (int)(q - p - 1), p + 1);
    snprintf(ans->detail, sizeof(ans->detail), "%s (cached)", q + 1);
    ans->until = e.expires;
    cache_entry_clear(&e);
    return 1;
}

static void status_db_put(const struct status_cfg *sc, const char *key,
                          const struct status_answer *ans)
{
    struct cache *db;
    char info[300], err[256];
    long ttl = sc->cache_ttl;
    time_t now = time(NULL);

    if (ans->state != STATUS_GOOD && ans->state != STATUS_REVOKED && ans->state != STATUS_UNKNOWN)
        return;
    if (ans->state != STATUS_REVOKED && ans->until > 0 && ans->until - now < ttl)
        ttl = (long)(ans->until - now);
    if (ttl <= 0 || (db = status_db_open(sc)) == NULL)
        return;
    snprintf(info, sizeof(info), "%d|%s|%s", (int)ans->state, ans->source, ans->detail);
    if (cache_put(db, key, CACHE_POSITIVE, ttl, info, NULL, 0, err, sizeof(err)) != 0)
        log_warnx("status: cache %s: %s", sc->cache_path, err);
}

/* ASN1 time as time_t, 0 when absent or unreadable. */
static time_t status_time(const ASN1_TIME *t)
{
    struct tm tm;

    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
        return 0;
    return timegm(&tm);
}

static int status_cache_get(const char *key, struct status_answer *ans)
{
    size_t i;

    for (i = 0; i < status_cache_n; i++)
        if (strcmp(status_cache[i].key, key) == 0) {
            *ans = status_cache[i].ans;
            return 1;
        }
    return 0;
}

static void status_cache_put(const char *key, const struct status_answer *ans)
{
    struct status_cache_ent *e;

    if (strlen(key) >= sizeof(e->key))
        return;
    e = &status_cache[status_cache_n < STATUS_CACHE_MAX ? status_cache_n++ : 0];
    snprintf(e->key, sizeof(e->key), "%s", key);
    e->ans = *ans;
}

static void status_set(struct status_answer *ans, enum status_state st, const char *src,
                       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void status_set(struct status_answer *ans, enum status_state st, const char *src,
                       const char *fmt, ...)
{
    va_list ap;

    ans->state = st;
    snprintf(ans->source, sizeof(ans->source), "%s", src);
    va_start(ap, fmt);
    vsnprintf(ans->detail, sizeof(ans->detail), fmt, ap);
    va_end(ap);
}

static size_t status_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
    struct status_buf *b = arg;
    size_t n = size * nmemb;
    unsigned char *q;

    if (n > b->max - b->len) {
        b->overflow = 1;
        return 0;
    }
    if ((q = realloc(b->p, b->len + n + 1)) == NULL)
        return 0;
    b->p = q;
    memcpy(b->p + b->len, ptr, n);
    b->len += n;
    b->p[b->len] = 0;
    return n;
}

/* GET (post == NULL) or POST url.  Returns the HTTP status (200...) or -1
 * for a transport failure, reason in why. */
static long status_http(const struct status_cfg *sc, const char *url, const void *post,
                        size_t postlen, const char *ctype, struct status_buf *b, char *why,
                        size_t whylen)
{
    char cerr[CURL_ERROR_SIZE] = "";
    struct curl_slist *hdr = NULL;
    CURL *c;
    CURLcode rc;
    long code = -1;
    char ct[128];

    if ((c = curl_easy_init()) == NULL) {
        snprintf(why, whylen, "cannot initialise libcurl");
        return -1;
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, sc->timeout);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, sc->timeout);
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)b->max);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, status_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "postseal-filter");
    if (post != NULL) {
        snprintf(ct, sizeof(ct), "Content-Type: %s", ctype);
        hdr = curl_slist_append(hdr, ct);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, post);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)postlen);
    }
    rc = curl_easy_perform(c);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    else if (b->overflow || rc == CURLE_FILESIZE_EXCEEDED)
        snprintf(why, whylen, "%s: reply larger than %zu bytes", url, b->max);
    else
        snprintf(why, whylen, "%s: %s", url, cerr[0] ? cerr : curl_easy_strerror(rc));
    curl_slist_free_all(hdr);
    curl_easy_cleanup(c);
    return code;
}

static void status_ocsp(const struct status_cfg *sc, const char *url, X509 *cert, X509 *issuer,
                        X509_STORE *store, struct status_answer *ans)
{
    struct status_buf b = {.max = STATUS_OCSP_MAX};
    OCSP_CERTID *id = NULL;
    OCSP_REQUEST *req = NULL;
    OCSP_RESPONSE *resp = NULL;
    OCSP_BASICRESP *bs = NULL;
    STACK_OF(X509) *extra = NULL;
    ASN1_GENERALIZEDTIME *thisupd, *nextupd, *revtime;
    unsigned char *der = NULL;
    const unsigned char *p;
    char why[200];
    int len, st, reason, rs;
    long code;

    if ((id = OCSP_cert_to_id(NULL, cert, issuer)) == NULL || (req = OCSP_REQUEST_new()) == NULL ||
        OCSP_request_add0_id(req, OCSP_CERTID_dup(id)) == NULL ||
        OCSP_request_add1_nonce(req, NULL, -1) != 1 || (len = i2d_OCSP_REQUEST(req, &der)) <= 0) {
        status_set(ans, STATUS_UNREACHABLE, "ocsp", "cannot build OCSP request");
        goto out;
    }
    code = status_http(sc, url, der, (size_t)len, "application/ocsp-request", &b, why, sizeof(why));
    if (code < 0) {
        status_set(ans, STATUS_UNREACHABLE, "ocsp", "%s", why);
        goto out;
    }
    if (code != 200) {
        status_set(ans, STATUS_UNREACHABLE, "ocsp", "%s: HTTP status %ld", url, code);
        goto out;
    }
    p = b.p;
    if (b.len == 0 || (resp = d2i_OCSP_RESPONSE(NULL, &p, (long)b.len)) == NULL) {
        status_set(ans, STATUS_UNREACHABLE, "ocsp", "%s: reply is not an OCSP response", url);
        goto out;
    }
    if ((rs = OCSP_response_status(resp)) != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
        status_set(ans, STATUS_UNREACHABLE, "ocsp", "%s: responder says %s", url,
                   OCSP_response_status_str(rs));
        goto out;
    }
    if ((bs = OCSP_response_get1_basic(resp)) == NULL) {
        status_set(ans, STATUS_UNREACHABLE, "ocsp", "%s: no basic response", url);
        goto out;
    }
    rs = OCSP_check_nonce(req, bs);
    if (rs == 0 || (rs != 1 && sc->ocsp_nonce)) {
        status_set(ans, STATUS_UNREACHABLE, "ocsp", "%s: %s", url,
                   rs == 0 ? "nonce mismatch (replayed response?)" : "response carries no nonce");
        goto out;
    }
    if ((extra = sk_X509_new_null()) == NULL || !sk_X509_push(extra, issuer)) {
        status_set(ans, STATUS_UNREACHABLE, "ocsp", "out of memory");
        goto out;
    }
    if (OCSP_basic_verify(bs, extra, store, 0) <= 0) {
        status_set(ans, STATUS_UNREACHABLE, "ocsp", "%s: response signature does not verify", url);
        goto out;
    }
    if (OCSP_resp_find_status(bs, id, &st, &reason, &revtime, &thisupd, &nextupd) != 1) {
        status_set(ans, STATUS_UNREACHABLE, "ocsp", "%s: response does not cover the certificate",
                   url);
        goto out;
    }
    if (OCSP_check_validity(thisupd, nextupd, sc->skew, nextupd ? -1 : sc->max_age) != 1) {
        status_set(ans, STATUS_UNREACHABLE, "ocsp",
                   "%s: response is not fresh (thisUpdate/nextUpdate)", url);
        goto out;
    }
    ans->until = status_time(nextupd);
    if (st == V_OCSP_CERTSTATUS_GOOD)
        status_set(ans, STATUS_GOOD, "ocsp", "%s", url);
    else if (st == V_OCSP_CERTSTATUS_REVOKED)
        status_set(ans, STATUS_REVOKED, "ocsp", "%s: revoked (%s)", url,
                   reason >= 0 ? OCSP_crl_reason_str(reason) : "no reason given");
    else
        status_set(ans, STATUS_UNKNOWN, "ocsp", "%s: responder does not know the certificate", url);
out:
    ERR_clear_error();
    sk_X509_free(extra);
    OCSP_BASICRESP_free(bs);
    OCSP_RESPONSE_free(resp);
    OCSP_REQUEST_free(req);
    OCSP_CERTID_free(id);
    OPENSSL_free(der);
    free(b.p);
}

/* First URI of the first full-name CRL distribution point. */
static int status_crl_dp(X509 *cert, char *url, size_t len)
{
    STACK_OF(DIST_POINT) *dps = X509_get_ext_d2i(cert, NID_crl_distribution_points, NULL, NULL);
    int i, j, found = 0;

    for (i = 0; !found && i < sk_DIST_POINT_num(dps); i++) {
        DIST_POINT *dp = sk_DIST_POINT_value(dps, i);

        if (dp->distpoint == NULL || dp->distpoint->type != 0)
            continue;
        for (j = 0; !found && j < sk_GENERAL_NAME_num(dp->distpoint->name.fullname); j++) {
            GENERAL_NAME *gn = sk_GENERAL_NAME_value(dp->distpoint->name.fullname, j);
            const ASN1_IA5STRING *u;

            if (gn->type != GEN_URI)
                continue;
            u = gn->d.uniformResourceIdentifier;
            if ((size_t)u->length >= len || memchr(u->data, 0, u->length) != NULL)
                continue;
            memcpy(url, u->data, u->length);
            url[u->length] = 0;
            found = 1;
        }
    }
    sk_DIST_POINT_pop_free(dps, DIST_POINT_free);
    return found;
}

static void status_crl(const struct status_cfg *sc, const char *url, X509 *cert, X509 *issuer,
                       struct status_answer *ans)
{
    struct status_buf b = {.max = STATUS_CRL_MAX};
    X509_CRL *crl = NULL;
    X509_REVOKED *rev = NULL;
    const ASN1_TIME *last, *next;
    const unsigned char *p;
    char why[200];
    time_t now = time(NULL), t;
    long code;

    code = status_http(sc, url, NULL, 0, NULL, &b, why, sizeof(why));
    if (code < 0) {
        status_set(ans, STATUS_UNREACHABLE, "crl", "%s", why);
        goto out;
    }
    if (code != 200) {
        status_set(ans, STATUS_UNREACHABLE, "crl", "%s: HTTP status %ld", url, code);
        goto out;
    }
    p = b.p;
    if (b.len == 0 || (crl = d2i_X509_CRL(NULL, &p, (long)b.len)) == NULL) {
        BIO *mb = BIO_new_mem_buf(b.p, (int)b.len);

        crl = mb ? PEM_read_bio_X509_CRL(mb, NULL, NULL, NULL) : NULL;
        BIO_free(mb);
    }
    if (crl == NULL) {
        status_set(ans, STATUS_UNREACHABLE, "crl", "%s: reply is not a CRL", url);
        goto out;
    }
    if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(issuer)) != 0) {
        status_set(ans, STATUS_UNREACHABLE, "crl", "%s: CRL is from another issuer", url);
        goto out;
    }
    if (X509_CRL_verify(crl, X509_get0_pubkey(issuer)) != 1) {
        status_set(ans, STATUS_UNREACHABLE, "crl", "%s: CRL signature does not verify", url);
        goto out;
    }
    last = X509_CRL_get0_lastUpdate(crl);
    next = X509_CRL_get0_nextUpdate(crl);
    t = now + sc->skew;
    if (last == NULL || X509_cmp_time(last, &t) > 0) {
        status_set(ans, STATUS_UNREACHABLE, "crl", "%s: CRL lastUpdate is in the future", url);
        goto out;
    }
    t = next ? now - sc->skew : now - sc->max_age;
    if (X509_cmp_time(next ? next : last, &t) < 0) {
        status_set(ans, STATUS_UNREACHABLE, "crl", "%s: CRL is stale (%s)", url,
                   next ? "nextUpdate passed" : "no nextUpdate, lastUpdate too old");
        goto out;
    }
    ans->until = status_time(next);
    if (X509_CRL_get0_by_cert(crl, &rev, cert) == 1)
        status_set(ans, STATUS_REVOKED, "crl", "%s: serial listed as revoked", url);
    else
        status_set(ans, STATUS_GOOD, "crl", "%s", url);
out:
    ERR_clear_error();
    X509_CRL_free(crl);
    free(b.p);
}

void status_x509(const struct status_cfg *sc, X509 *cert, X509 *issuer, X509_STORE *store,
                 struct status_answer *ans)
{
    STACK_OF(OPENSSL_STRING) *aia = NULL;
    struct status_answer crl = {0};
    char key[128], url[512];
    const ASN1_INTEGER *serial = X509_get0_serialNumber(cert);
    BIGNUM *bn;
    char *hex = NULL;

    memset(ans, 0, sizeof(*ans));
    if (!sc->check) {
        status_set(ans, STATUS_UNCHECKED, "", "status checks disabled");
        return;
    }
    if (issuer == NULL) {
        status_set(ans, STATUS_UNCHECKED, "", "issuer unknown, status cannot be asked");
        return;
    }
    if ((bn = ASN1_INTEGER_to_BN(serial, NULL)) != NULL)
        hex = BN_bn2hex(bn);
    BN_free(bn);
    snprintf(key, sizeof(key), "x509:%08lx:%s", X509_issuer_name_hash(cert), hex ? hex : "?");
    OPENSSL_free(hex);
    if (status_cache_get(key, ans)) {
        log_debug("status: %s cached: %s", key, status_name(ans->state));
        return;
    }
    if (status_db_get(sc, key, ans)) {
        log_debug("status: %s in %s: %s", key, sc->cache_path, status_name(ans->state));
        status_cache_put(key, ans);
        return;
    }

    url[0] = 0;
    if (sc->ocsp_url && sc->ocsp_url_force) {
        snprintf(url, sizeof(url), "%s", sc->ocsp_url);
    } else {
        aia = X509_get1_ocsp(cert);
        if (sk_OPENSSL_STRING_num(aia) > 0)
            snprintf(url, sizeof(url), "%s", sk_OPENSSL_STRING_value(aia, 0));
        else if (sc->ocsp_url)
            snprintf(url, sizeof(url), "%s", sc->ocsp_url);
        X509_email_free(aia);
    }
    if (url[0])
        status_ocsp(sc, url, cert, issuer, store, ans);
    else
        status_set(ans, STATUS_UNCHECKED, "", "no OCSP responder");
    log_debug("status: ocsp %s: %s", ans->detail, status_name(ans->state));

    /* OCSP "unknown" is an answer (the CA does not vouch for the serial);
     * the CRL is asked only when OCSP could not be asked or reached. */
    if (ans->state == STATUS_UNCHECKED || ans->state == STATUS_UNREACHABLE) {
        if (status_crl_dp(cert, url, sizeof(url)) ||
            (sc->crl_url && snprintf(url, sizeof(url), "%s", sc->crl_url) > 0)) {
            status_crl(sc, url, cert, issuer, &crl);
            log_debug("status: crl %s: %s", crl.detail, status_name(crl.state));
            /* A definite CRL answer wins; otherwise keep the more precise
             * of the two failures (OCSP "unknown" before "unreachable"). */
            if (crl.state == STATUS_GOOD || crl.state == STATUS_REVOKED ||
                ans->state == STATUS_UNCHECKED) {
                *ans = crl;
            } else if (ans->state == STATUS_UNREACHABLE) {
                size_t l = strlen(ans->detail);

                if (l + 3 < sizeof(ans->detail))
                    snprintf(ans->detail + l, sizeof(ans->detail) - l, "; %.*s",
                             (int)(sizeof(ans->detail) - l - 3), crl.detail);
            }
        }
    }
    status_cache_put(key, ans);
    status_db_put(sc, key, ans);
}

/* Builds the key URL for fpr from a keyserver spec. */
static int status_key_url(const char *ks, const char *fpr, char *url, size_t len)
{
    int n;

    if (strncasecmp(ks, "hkp://", 6) == 0) {
        const char *host = ks + 6;
        size_t hl = strcspn(host, "/");

        n = snprintf(url, len, "http://%.*s%s/pks/lookup?op=get&options=mr&search=0x%s", (int)hl,
                     host, memchr(host, ':', hl) ? "" : ":11371", fpr);
    } else if (strncasecmp(ks, "hkps://", 7) == 0) {
        const char *host = ks + 7;
        size_t hl = strcspn(host, "/");

        n = snprintf(url, len, "https://%.*s/pks/lookup?op=get&options=mr&search=0x%s", (int)hl,
                     host, fpr);
    } else if (strncasecmp(ks, "http://", 7) == 0 || strncasecmp(ks, "https://", 8) == 0) {
        size_t kl = strlen(ks);

        while (kl > 0 && ks[kl - 1] == '/')
            kl--;
        n = snprintf(url, len, "%.*s/vks/v1/by-fingerprint/%s", (int)kl, ks, fpr);
    } else {
        return -1;
    }
    return n > 0 && (size_t)n < len ? 0 : -1;
}

char *status_pgp_fetch(const struct status_cfg *sc, const char *fpr, size_t *len,
                       struct status_answer *ans)
{
    struct status_buf b = {.max = STATUS_KEY_MAX};
    char url[600], why[200], up[130], key[140];
    long code;
    size_t i;

    memset(ans, 0, sizeof(*ans));
    if (!sc->check || sc->keyserver == NULL) {
        status_set(ans, STATUS_UNCHECKED, "", "no keyserver configured");
        return NULL;
    }
    for (i = 0; fpr[i] && i < sizeof(up) - 1; i++) {
        if (!isxdigit((unsigned char)fpr[i])) {
            status_set(ans, STATUS_UNCHECKED, "", "bad fingerprint");
            return NULL;
        }
        up[i] = (char)toupper((unsigned char)fpr[i]);
    }
    up[i] = 0;
    if (status_key_url(sc->keyserver, up, url, sizeof(url)) < 0) {
        status_set(ans, STATUS_UNCHECKED, "", "unusable keyserver %s", sc->keyserver);
        return NULL;
    }
    /* refreshed recently: the keyring already holds what the server said */
    snprintf(key, sizeof(key), "pgp:%s", up);
    if (status_db_get(sc, key, ans))
        return NULL;
    code = status_http(sc, url, NULL, 0, NULL, &b, why, sizeof(why));
    if (code == 200 && b.len > 0) {
        status_set(ans, STATUS_GOOD, "keyserver", "%s", sc->keyserver);
        status_db_put(sc, key, ans);
        *len = b.len;
        return (char *)b.p;
    }
    free(b.p);
    if (code == 404)
        status_set(ans, STATUS_UNKNOWN, "keyserver", "%s: key %s not found", sc->keyserver, up);
    else if (code < 0)
        status_set(ans, STATUS_UNREACHABLE, "keyserver", "%s", why);
    else
        status_set(ans, STATUS_UNREACHABLE, "keyserver", "%s: HTTP status %ld", url, code);
    return NULL;
}
