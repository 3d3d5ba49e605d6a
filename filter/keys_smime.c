/*
 * keys_smime: S/MIME certificate discovery in LDAP directories (OpenLDAP
 * libldap) and the checks every discovered or configured certificate passes.
 *
 * Contract: keys_ldap_find() asks each [keys ldap NAME] directory that serves
 * the recipient's domain for entries with (MAILATTR=ADDRESS) (value escaped
 * per RFC 4515) and their userCertificate;binary values; the first
 * certificate that passes keys_smime_check() wins.  keys_smime_check():
 * the certificate's mail address (SAN rfc822Name, or subject emailAddress
 * when the SAN has none) equals the recipient; key usage, when present,
 * allows keyEncipherment (RSA) or keyAgreement (EC); extended key usage,
 * when present, includes emailProtection; the chain verifies (OpenSSL
 * X509_verify_cert, purpose S/MIME encryption, current time) up to a trust
 * anchor in smime_ca_file, using the entry's other certificates as
 * intermediates.
 *
 * Limits: network timeout (connect) and operation timeout per directory,
 * at most 16 entries and 16 certificates per entry inspected, each
 * certificate at most max_answer_size bytes.
 * Failure: server down, timeout, bind refused -> KR_TEMP; no entry or no
 * acceptable certificate -> KR_NONE with every reason.
 */
#include <ldap.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "keys_int.h"

#define KEYS_LDAP_MAX 16

static void keys_sappend(char *why, size_t whylen, const char *text)
{
    size_t n = strlen(why), t = strlen(text);

    if (n + 3 >= whylen)
        return;
    if (n) {
        memcpy(why + n, "; ", 2);
        n += 2;
    }
    if (t > whylen - n - 1)
        t = whylen - n - 1;
    memcpy(why + n, text, t);
    why[n + t] = 0;
}

static X509_STORE *keys_store(struct keys *k, char *why, size_t whylen)
{
    if (k->smime_store != NULL)
        return k->smime_store;
    if (k->smime_ca_file == NULL) {
        snprintf(why, whylen, "no smime_ca_file configured");
        return NULL;
    }
    if ((k->smime_store = X509_STORE_new()) == NULL ||
        X509_STORE_load_file(k->smime_store, k->smime_ca_file) != 1) {
        snprintf(why, whylen, "cannot load smime_ca_file %s: %s", k->smime_ca_file,
                 ERR_reason_error_string(ERR_peek_last_error()));
        X509_STORE_free(k->smime_store);
        k->smime_store = NULL;
        return NULL;
    }
    return k->smime_store;
}

static void keys_cert_name(X509 *cert, char *buf, size_t len)
{
    X509_NAME_oneline(X509_get_subject_name(cert), buf, (int)len);
}

/* The certificate's mail addresses as RFC 8550 says: the SAN rfc822Names,
 * or the subject emailAddress values when the SAN has none.  1 when addr is
 * one of them (ASCII case-insensitive, as the key store compares); list
 * receives them for the error text. */
static int keys_cert_has_email(X509 *cert, const char *addr, char *list, size_t len)
{
    GENERAL_NAMES *gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    X509_NAME *subj = X509_get_subject_name(cert);
    int i, n = 0, match = 0;

    list[0] = 0;
    for (i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        const char *e;

        if (g->type != GEN_EMAIL)
            continue;
        e = (const char *)ASN1_STRING_get0_data(g->d.rfc822Name);
        n++;
        if ((size_t)ASN1_STRING_length(g->d.rfc822Name) == strlen(e) && strcasecmp(e, addr) == 0)
            match = 1;
        if (strlen(list) + strlen(e) + 3 < len)
            snprintf(list + strlen(list), len - strlen(list), "%s%s", list[0] ? ", " : "", e);
    }
    GENERAL_NAMES_free(gens);
    if (n > 0)
        return match;
    for (i = X509_NAME_get_index_by_NID(subj, NID_pkcs9_emailAddress, -1); i >= 0;
         i = X509_NAME_get_index_by_NID(subj, NID_pkcs9_emailAddress, i)) {
        ASN1_STRING *v = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, i));
        const char *e = (const char *)ASN1_STRING_get0_data(v);

        if ((size_t)ASN1_STRING_length(v) == strlen(e) && strcasecmp(e, addr) == 0)
            match = 1;
        if (strlen(list) + strlen(e) + 3 < len)
            snprintf(list + strlen(list), len - strlen(list), "%s%s", list[0] ? ", " : "", e);
    }
    return match;
}

int keys_smime_check(struct keys *k, X509 *cert, STACK_OF(X509) * chain, const char *addr,
                     char *why, size_t whylen)
{
    char name[256], emails[256] = "";
    X509_STORE_CTX *ctx;
    X509_STORE *store;
    uint32_t flags;
    int rc;

    keys_cert_name(cert, name, sizeof(name));
    if (addr != NULL && !keys_cert_has_email(cert, addr, emails, sizeof(emails))) {
        snprintf(why, whylen, "certificate %s is for %s, not %s", name,
                 emails[0] ? emails : "no mail address", addr);
        return KR_NONE;
    }
    flags = X509_get_extension_flags(cert);
    if (flags & EXFLAG_KUSAGE) {
        uint32_t ku = X509_get_key_usage(cert);
        int ec = EVP_PKEY_get_base_id(X509_get0_pubkey(cert)) == EVP_PKEY_EC;

        if (!(ku & (ec ? KU_KEY_AGREEMENT : KU_KEY_ENCIPHERMENT))) {
            snprintf(why, whylen, "certificate %s: key usage does not allow %s", name,
                     ec ? "keyAgreement" : "keyEncipherment");
            return KR_NONE;
        }
    }
    if ((flags & EXFLAG_XKUSAGE) && !(X509_get_extended_key_usage(cert) & XKU_SMIME)) {
        snprintf(why, whylen, "certificate %s: extended key usage lacks emailProtection", name);
        return KR_NONE;
    }
    if ((store = keys_store(k, why, whylen)) == NULL)
        return KR_TEMP;
    if ((ctx = X509_STORE_CTX_new()) == NULL || X509_STORE_CTX_init(ctx, store, cert, chain) != 1) {
        X509_STORE_CTX_free(ctx);
        snprintf(why, whylen, "certificate %s: out of memory", name);
        return KR_TEMP;
    }
    X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SMIME_ENCRYPT);
    rc = X509_verify_cert(ctx);
    if (rc != 1) {
        int e = X509_STORE_CTX_get_error(ctx);

        snprintf(why, whylen, "certificate %s: chain does not verify: %s (depth %d)", name,
                 X509_verify_cert_error_string(e), X509_STORE_CTX_get_error_depth(ctx));
        X509_STORE_CTX_free(ctx);
        return KR_NONE;
    }
    X509_STORE_CTX_free(ctx);
    return KR_FOUND;
}

X509 *keys_smime_load(const char *path, char *why, size_t whylen)
{
    FILE *fp = fopen(path, "r");
    X509 *cert;

    if (fp == NULL) {
        snprintf(why, whylen, "%s: %m", path);
        return NULL;
    }
    cert = PEM_read_X509(fp, NULL, NULL, NULL);
    fclose(fp);
    if (cert == NULL)
        snprintf(why, whylen, "%s: no PEM certificate", path);
    return cert;
}

static int keys_ldap_serves(const struct keys_ldap *l, const char *domain)
{
    char **d;

    if (l->domains == NULL)
        return 1;
    for (d = l->domains; *d != NULL; d++)
        if (strcasecmp(*d, domain) == 0)
            return 1;
    return 0;
}

static int keys_ldap_temp(int rc)
{
    return rc == LDAP_SERVER_DOWN || rc == LDAP_TIMEOUT || rc == LDAP_CONNECT_ERROR ||
           rc == LDAP_BUSY || rc == LDAP_UNAVAILABLE || rc == LDAP_TIMELIMIT_EXCEEDED ||
           rc == LDAP_NO_MEMORY || rc == LDAP_LOCAL_ERROR || rc == LDAP_OTHER ||
           rc == LDAP_UNWILLING_TO_PERFORM || rc == LDAP_INVALID_CREDENTIALS ||
           rc == LDAP_STRONG_AUTH_REQUIRED || rc == LDAP_INSUFFICIENT_ACCESS;
}

/* Checks every certificate of one entry; the others serve as intermediates. */
static int keys_ldap_entry(struct keys *k, LDAP *ld, LDAPMessage *entry, const char *addr,
                           struct keys_result *res, char *why, size_t whylen)
{
    STACK_OF(X509) *certs = sk_X509_new_null();
    BerElement *ber = NULL;
    char *attr, buf[600];
    int i, rc = KR_NONE, seen = 0;

    if (certs == NULL)
        return KR_TEMP;
    for (attr = ldap_first_attribute(ld, entry, &ber); attr != NULL;
         attr = ldap_next_attribute(ld, entry, ber)) {
        struct berval **vals;

        if (strncasecmp(attr, "userCertificate", 15) == 0 &&
            (vals = ldap_get_values_len(ld, entry, attr)) != NULL) {
            for (i = 0; vals[i] != NULL && sk_X509_num(certs) < KEYS_LDAP_MAX; i++) {
                const unsigned char *p = (const unsigned char *)vals[i]->bv_val;
                X509 *c;

                if ((long)vals[i]->bv_len > k->max_answer) {
                    snprintf(buf, sizeof(buf), "certificate of %lu bytes exceeds %ld",
                             (unsigned long)vals[i]->bv_len, k->max_answer);
                    keys_sappend(why, whylen, buf);
                    continue;
                }
                c = d2i_X509(NULL, &p, (long)vals[i]->bv_len);
                if (c == NULL || p != (const unsigned char *)vals[i]->bv_val + vals[i]->bv_len) {
                    X509_free(c);
                    keys_sappend(why, whylen, "userCertificate value is not a DER certificate");
                    continue;
                }
                sk_X509_push(certs, c);
            }
            ldap_value_free_len(vals);
        }
        ldap_memfree(attr);
    }
    ber_free(ber, 0);
    for (i = 0; i < sk_X509_num(certs) && rc != KR_FOUND; i++) {
        X509 *c = sk_X509_value(certs, i);

        seen++;
        buf[0] = 0;
        rc = keys_smime_check(k, c, certs, addr, buf, sizeof(buf));
        if (rc == KR_FOUND) {
            X509_up_ref(c);
            res->cert = c;
            sk_X509_pop_free(k->found_chain, X509_free);
            k->found_chain = X509_chain_up_ref(certs);
        } else {
            keys_sappend(why, whylen, buf);
            if (rc == KR_TEMP)
                break;
            rc = KR_NONE;
        }
    }
    if (!seen)
        keys_sappend(why, whylen, "entry has no userCertificate");
    sk_X509_pop_free(certs, X509_free);
    return rc;
}

static int keys_ldap_one(struct keys *k, const struct keys_ldap *l, const char *addr,
                         struct keys_result *res, char *why, size_t whylen)
{
    char *attrs[] = {"userCertificate;binary", NULL};
    struct timeval ntv = {k->connect_timeout, 0}, tv = {k->timeout, 0};
    struct berval cred = {0, NULL}, in, esc = {0, NULL};
    char filter[600], text[800];
    LDAPMessage *msg = NULL, *e;
    LDAP *ld = NULL;
    int rc, v3 = LDAP_VERSION3, demand = LDAP_OPT_X_TLS_DEMAND, n = 0, ret = KR_NONE;

    if ((rc = ldap_initialize(&ld, l->uri)) != LDAP_SUCCESS) {
        snprintf(text, sizeof(text), "ldap %s: %s", l->uri, ldap_err2string(rc));
        keys_sappend(why, whylen, text);
        return KR_TEMP;
    }
    ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &v3);
    ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &ntv);
    ldap_set_option(ld, LDAP_OPT_TIMEOUT, &tv);
    ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
    if (strncasecmp(l->uri, "ldaps:", 6) == 0) {
        int zero = 0;

        if (k->ca_file != NULL)
            ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE, k->ca_file);
        ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand);
        ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &zero);
    }
    if (l->bind_password != NULL) {
        cred.bv_val = l->bind_password;
        cred.bv_len = strlen(l->bind_password);
    }
    rc = ldap_sasl_bind_s(ld, l->bind_dn ? l->bind_dn : "", LDAP_SASL_SIMPLE, &cred, NULL, NULL,
                          NULL);
    if (rc != LDAP_SUCCESS) {
        char *diag = NULL;
        const char *hint = "";

        ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag);
        if (diag != NULL && (*diag == 0 || strstr(diag, "unknown error") != NULL)) {
            ldap_memfree(diag);
            diag = NULL;
        }
        if (rc == LDAP_SERVER_DOWN && strncasecmp(l->uri, "ldaps:", 6) == 0)
            hint = " (server down, or its certificate does not verify against ca_file)";
        snprintf(text, sizeof(text), "ldap %s: bind%s%s: %s%s%s%.300s%s", l->uri,
                 l->bind_dn ? " as " : "", l->bind_dn ? l->bind_dn : "", ldap_err2string(rc), hint,
                 diag ? " (" : "", diag ? diag : "", diag ? ")" : "");
        ldap_memfree(diag);
        keys_sappend(why, whylen, text);
        ret = KR_TEMP;
        goto done;
    }
    in.bv_val = (char *)addr;
    in.bv_len = strlen(addr);
    if (ldap_bv2escaped_filter_value(&in, &esc) != 0) {
        keys_sappend(why, whylen, "ldap: cannot escape the address");
        ret = KR_TEMP;
        goto done;
    }
    snprintf(filter, sizeof(filter), "(%s=%s)", l->attr, esc.bv_val);
    ber_memfree(esc.bv_val);
    rc = ldap_search_ext_s(ld, l->base, LDAP_SCOPE_SUBTREE, filter, attrs, 0, NULL, NULL, &tv,
                           KEYS_LDAP_MAX, &msg);
    if (rc != LDAP_SUCCESS && rc != LDAP_SIZELIMIT_EXCEEDED) {
        snprintf(text, sizeof(text), "ldap %s: search %s under %s: %s", l->uri, filter, l->base,
                 ldap_err2string(rc));
        keys_sappend(why, whylen, text);
        ret = (rc == LDAP_NO_SUCH_OBJECT || !keys_ldap_temp(rc)) ? KR_NONE : KR_TEMP;
        goto done;
    }
    for (e = ldap_first_entry(ld, msg); e != NULL && ret != KR_FOUND; e = ldap_next_entry(ld, e)) {
        char sub[600] = "", *dn = ldap_get_dn(ld, e);

        n++;
        ret = keys_ldap_entry(k, ld, e, addr, res, sub, sizeof(sub));
        if (ret == KR_FOUND)
            snprintf(res->source, sizeof(res->source), "ldap %s (%s)", l->uri, dn ? dn : "?");
        else {
            snprintf(text, sizeof(text), "ldap %s: %s: %s", l->uri, dn ? dn : "?", sub);
            keys_sappend(why, whylen, text);
        }
        ldap_memfree(dn);
        if (ret == KR_TEMP)
            break;
    }
    if (n == 0) {
        snprintf(text, sizeof(text), "ldap %s: no entry %s under %s", l->uri, filter, l->base);
        keys_sappend(why, whylen, text);
    }
done:
    if (msg != NULL)
        ldap_msgfree(msg);
    ldap_unbind_ext_s(ld, NULL, NULL);
    return ret;
}

int keys_ldap_find(struct keys *k, const char *addr, struct keys_result *res, char *why,
                   size_t whylen)
{
    const char *domain = strrchr(addr, '@') + 1;
    int i, rc, temp = 0, asked = 0;

    for (i = 0; i < k->nldap; i++) {
        if (!keys_ldap_serves(&k->ldap[i], domain))
            continue;
        asked++;
        rc = keys_ldap_one(k, &k->ldap[i], addr, res, why, whylen);
        if (rc == KR_FOUND)
            return rc;
        if (rc == KR_TEMP)
            temp = 1;
    }
    if (!asked)
        keys_sappend(why, whylen, "no LDAP directory serves this domain");
    return temp ? KR_TEMP : KR_NONE;
}
