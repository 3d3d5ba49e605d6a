/*
 * pgp_in: the OpenPGP half of inbound processing, on gpgme.  Decrypts
 * PGP/MIME (RFC 3156) payloads with the gateway's secret keys in the
 * configured GnuPG home, verifies detached and inline (signed+encrypted)
 * signatures, and refreshes the signer's key from the configured keyserver
 * (status.c) so a revocation published there is seen.
 *
 * Contract: data without integrity protection (no MDC, no AEAD: gpgme's
 * legacy_cipher_nomdc, or gpg's refusal) is PGP_IN_FAIL and its output must
 * be discarded (gpg writes plaintext before it notices).  A signature by a
 * key we do not hold is retried once after fetching the key by fingerprint
 * from the keyserver.  The signer's identity is the e-mail address of a
 * non-revoked user ID of the signing key.
 *
 * Limits: gpg runs with the loopback pinentry and no passphrase: a
 * passphrase-protected gateway key fails.  The first signature is judged.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <gpgme.h>

#include "log.h"
#include "pgp_in.h"

#define PGP_IN_MAX_REFRESH 8

struct pgp_in {
    gpgme_ctx_t ctx;
    const struct status_cfg *sc;
    char refreshed[PGP_IN_MAX_REFRESH][41]; /* keys already asked for this run */
    struct status_answer answer[PGP_IN_MAX_REFRESH];
    int n_refreshed;
    /* signer key discovery by the From address (once per message) */
    pgp_in_lookup_fn lookup;
    void *lookup_arg;
    int trust_wkd;
    int looked_up; /* -1 not yet, else PGP_IN_LOOKUP_* */
    char lookup_fpr[80], lookup_src[200], lookup_why[200];
};

void pgp_in_set_lookup(struct pgp_in *pi, pgp_in_lookup_fn fn, void *arg)
{
    pi->lookup = fn;
    pi->lookup_arg = arg;
}

void pgp_in_set_trust_wkd(struct pgp_in *pi, int on)
{
    pi->trust_wkd = on;
}

void pgp_in_free(struct pgp_in *pi)
{
    if (pi == NULL)
        return;
    if (pi->ctx)
        gpgme_release(pi->ctx);
    free(pi);
}

struct pgp_in *pgp_in_new(const char *home, const struct status_cfg *sc, char *why, size_t whylen)
{
    struct pgp_in *pi = calloc(1, sizeof(*pi));
    gpgme_error_t e;

    if (pi == NULL) {
        snprintf(why, whylen, "out of memory");
        return NULL;
    }
    pi->sc = sc;
    pi->looked_up = -1;
    gpgme_check_version(NULL);
    if ((e = gpgme_new(&pi->ctx)) || (e = gpgme_set_protocol(pi->ctx, GPGME_PROTOCOL_OpenPGP)) ||
        (e = gpgme_ctx_set_engine_info(pi->ctx, GPGME_PROTOCOL_OpenPGP, NULL, home)) ||
        (e = gpgme_set_pinentry_mode(pi->ctx, GPGME_PINENTRY_MODE_LOOPBACK))) {
        snprintf(why, whylen, "gpgme (GnuPG home %s): %s", home ? home : "default",
                 gpgme_strerror(e));
        pgp_in_free(pi);
        return NULL;
    }
    return pi;
}

/* Asks the keyserver for fpr once per run and imports what it returns. */
static void pgp_in_refresh(struct pgp_in *pi, const char *fpr, struct status_answer *ans)
{
    gpgme_data_t d;
    size_t len;
    char *key;
    int i;

    for (i = 0; i < pi->n_refreshed; i++)
        if (strcasecmp(pi->refreshed[i], fpr) == 0) {
            *ans = pi->answer[i];
            return;
        }
    key = status_pgp_fetch(pi->sc, fpr, &len, ans);
    if (key != NULL) {
        if (gpgme_data_new_from_mem(&d, key, len, 0) == 0) {
            gpgme_error_t e = gpgme_op_import(pi->ctx, d);
            gpgme_import_result_t ir = gpgme_op_import_result(pi->ctx);

            if (e || ir == NULL || ir->considered == 0) {
                ans->state = STATUS_UNKNOWN;
                snprintf(ans->detail, sizeof(ans->detail), "%s: reply holds no usable key",
                         pi->sc->keyserver);
            }
            gpgme_data_release(d);
        }
        free(key);
    }
    if (pi->n_refreshed < PGP_IN_MAX_REFRESH) {
        snprintf(pi->refreshed[pi->n_refreshed], sizeof(pi->refreshed[0]), "%s", fpr);
        pi->answer[pi->n_refreshed++] = *ans;
    }
}

/* Asks the lookup hook for the From address's key, once per message.
 * Returns PGP_IN_LOOKUP_* (PGP_IN_LOOKUP_NONE without a hook or a From). */
static int pgp_in_lookup(struct pgp_in *pi, const char *from)
{
    if (pi->lookup == NULL || from == NULL || from[0] == 0)
        return PGP_IN_LOOKUP_NONE;
    if (pi->looked_up < 0) {
        pi->lookup_fpr[0] = pi->lookup_src[0] = pi->lookup_why[0] = 0;
        pi->looked_up =
            pi->lookup(pi->lookup_arg, from, pi->lookup_fpr, sizeof(pi->lookup_fpr), pi->lookup_src,
                       sizeof(pi->lookup_src), pi->lookup_why, sizeof(pi->lookup_why));
        if (pi->looked_up == PGP_IN_LOOKUP_FOUND)
            log_info("inbound: signer key of <%s>: %s from %s imported", from, pi->lookup_fpr,
                     pi->lookup_src);
        else
            log_info("inbound: signer key of <%s>: %s%s", from,
                     pi->looked_up == PGP_IN_LOOKUP_TEMP ? "lookup failed temporarily: " : "",
                     pi->lookup_why);
    }
    return pi->looked_up;
}

/* The signer's key is (still) missing: says why in res. */
static void pgp_in_missing(struct pgp_in *pi, const char *fpr, const char *from,
                           struct inbound_sig *res)
{
    const char *ks = res->status.detail;
    const char *key = fpr[0] ? fpr : "?";

    if (pi->lookup == NULL || pi->looked_up < 0) {
        snprintf(res->why, sizeof(res->why), "signer key %.40s not available%s%.120s%s", key,
                 ks[0] ? ": " : "", ks,
                 pi->lookup && (from == NULL || from[0] == 0) ? " (no From address to look up)"
                                                              : "");
        return;
    }
    switch (pi->looked_up) {
    case PGP_IN_LOOKUP_FOUND:
        snprintf(res->why, sizeof(res->why),
                 "signer key %.40s not available: the key found for <%.60s> is another key "
                 "(%.40s)",
                 key, from, pi->lookup_fpr);
        break;
    case PGP_IN_LOOKUP_TEMP:
        res->key_unreachable = 1;
        snprintf(res->why, sizeof(res->why),
                 "signer key %.40s not available: lookup of <%.60s> failed: %.80s", key, from,
                 pi->lookup_why);
        break;
    default:
        snprintf(res->why, sizeof(res->why),
                 "signer key %.40s not available: no key for <%.60s>: %.80s", key, from,
                 pi->lookup_why);
    }
}

/* Judges the first signature of the last verify operation.  Returns 1 when
 * the signer's key was missing and has just been fetched (retry). */
static int pgp_in_judge(struct pgp_in *pi, const char *from, int may_fetch, struct inbound_sig *res)
{
    gpgme_verify_result_t vr = gpgme_op_verify_result(pi->ctx);
    gpgme_signature_t s = vr ? vr->signatures : NULL;
    gpgme_key_t key = NULL;
    gpgme_user_id_t uid;
    gpgme_subkey_t sk;
    gpgme_error_t code, sigstatus;
    gpgme_sigsum_t summary;
    gpgme_validity_t validity;
    char fpr[64];

    memset(res, 0, sizeof(*res));
    snprintf(res->method, sizeof(res->method), "pgp");
    if (s == NULL)
        return 0;
    res->present = 1;
    /* Copy what is needed: the next gpgme operation (import, get_key)
     * frees the verify result. */
    code = gpgme_err_code(s->status);
    summary = s->summary;
    validity = s->validity;
    snprintf(fpr, sizeof(fpr), "%s", s->fpr ? s->fpr : "");
    sigstatus = s->status;
    snprintf(res->signer, sizeof(res->signer), "%s", fpr[0] ? fpr : "unknown key");
    if (code == GPG_ERR_NO_PUBKEY) {
        if (may_fetch && strlen(fpr) >= 32) {
            pgp_in_refresh(pi, fpr, &res->status);
            if (res->status.state == STATUS_GOOD)
                return 1;
        }
        /* then the From address's key (e.g. the sender's gateway WKD) */
        if (may_fetch && pgp_in_lookup(pi, from) == PGP_IN_LOOKUP_FOUND)
            return 1;
        pgp_in_missing(pi, fpr, from, res);
        return 0;
    }
    if (code != GPG_ERR_NO_ERROR && code != GPG_ERR_KEY_EXPIRED && code != GPG_ERR_SIG_EXPIRED &&
        code != GPG_ERR_CERT_REVOKED) {
        snprintf(res->why, sizeof(res->why), "signature does not verify (%s)",
                 gpgme_strerror(sigstatus));
        return 0;
    }
    res->valid = 1;
    if (summary & (GPGME_SIGSUM_KEY_EXPIRED | GPGME_SIGSUM_SIG_EXPIRED))
        res->expired = 1;
    /* Refresh from the keyserver before looking at the key's flags. */
    pgp_in_refresh(pi, fpr, &res->status);
    if (gpgme_get_key(pi->ctx, fpr, &key, 0) != 0 || key == NULL) {
        snprintf(res->why, sizeof(res->why), "signer key %s vanished", fpr);
        res->valid = 0;
        return 0;
    }
    for (uid = key->uids; uid; uid = uid->next) {
        /* A revoked or expired key marks its user IDs invalid; they still
         * name the signer (the result is then "revoked"/"expired"). */
        if (((uid->revoked || uid->invalid) && !key->revoked && !key->expired) ||
            uid->email == NULL || uid->email[0] == 0)
            continue;
        if (res->signer[0] == 0 || strcmp(res->signer, fpr) == 0 ||
            (from && strcasecmp(uid->email, from) == 0))
            snprintf(res->signer, sizeof(res->signer), "%s", uid->email);
        if (from && strcasecmp(uid->email, from) == 0) {
            res->from_match = 1;
            break;
        }
    }
    for (sk = key->subkeys; sk; sk = sk->next)
        if (sk->fpr && strcasecmp(sk->fpr, fpr) == 0)
            break;
    if (key->revoked || (sk && sk->revoked) || code == GPG_ERR_CERT_REVOKED ||
        (summary & GPGME_SIGSUM_KEY_REVOKED)) {
        res->revoked_key = 1;
        res->status.state = STATUS_REVOKED;
        if (res->status.source[0] == 0)
            snprintf(res->status.source, sizeof(res->status.source), "keyring");
        snprintf(res->status.detail, sizeof(res->status.detail), "key %s is revoked", fpr);
    }
    if (key->expired || (sk && sk->expired))
        res->expired = 1;
    /* trust_wkd: the From address's own domain published this key for it
     * (origin WKD: imported by key discovery, only the matching user ID) */
    res->trusted = (validity >= GPGME_VALIDITY_FULL ||
                    (pi->trust_wkd && res->from_match && key->origin == GPGME_KEYORG_WKD)) &&
                   !res->revoked_key;
    if (!res->trusted && res->why[0] == 0)
        snprintf(res->why, sizeof(res->why), "key %.40s of %.100s has %s validity", fpr,
                 res->signer, validity == GPGME_VALIDITY_MARGINAL ? "marginal" : "no");
    gpgme_key_unref(key);
    return 0;
}

int pgp_in_decrypt(struct pgp_in *pi, int in_fd, int out_fd, const char *from,
                   struct inbound_sig *res, char *why, size_t whylen)
{
    off_t in_at = lseek(in_fd, 0, SEEK_CUR);
    int attempt, rc = PGP_IN_FAIL;

    memset(res, 0, sizeof(*res));
    for (attempt = 0; attempt < 2; attempt++) {
        gpgme_data_t in = NULL, out = NULL;
        gpgme_decrypt_result_t dr;
        gpgme_recipient_t r;
        gpgme_error_t e;

        if (lseek(in_fd, in_at, SEEK_SET) < 0 || lseek(out_fd, 0, SEEK_SET) < 0 ||
            ftruncate(out_fd, 0) < 0 || gpgme_data_new_from_fd(&in, in_fd) ||
            gpgme_data_new_from_fd(&out, out_fd)) {
            gpgme_data_release(in);
            snprintf(why, whylen, "cannot set up gpgme data");
            return PGP_IN_TEMP;
        }
        e = gpgme_op_decrypt_verify(pi->ctx, in, out);
        gpgme_data_release(in);
        gpgme_data_release(out);
        dr = gpgme_op_decrypt_result(pi->ctx);
        if (dr && dr->legacy_cipher_nomdc) {
            snprintf(why, whylen, "OpenPGP data without integrity protection (no MDC) refused");
            return PGP_IN_FAIL;
        }
        if (gpgme_err_code(e) == GPG_ERR_NO_SECKEY) {
            snprintf(why, whylen, "none of the gateway's OpenPGP keys can decrypt it");
            for (r = dr ? dr->recipients : NULL; r; r = r->next)
                if (gpgme_err_code(r->status) != GPG_ERR_NO_SECKEY)
                    break;
            return PGP_IN_NOKEY;
        }
        if (e) {
            snprintf(why, whylen, "OpenPGP decryption failed: %s", gpgme_strerror(e));
            if (gpgme_err_code(e) == GPG_ERR_DECRYPT_FAILED && dr && dr->unsupported_algorithm)
                snprintf(why, whylen, "OpenPGP decryption failed: unsupported algorithm %s",
                         dr->unsupported_algorithm);
            return PGP_IN_FAIL;
        }
        rc = PGP_IN_OK;
        why[0] = 0;
        if (!pgp_in_judge(pi, from, attempt == 0, res))
            break;
    }
    return rc;
}

void pgp_in_verify(struct pgp_in *pi, int sig_fd, int data_fd, const char *from,
                   struct inbound_sig *res)
{
    int attempt;

    memset(res, 0, sizeof(*res));
    for (attempt = 0; attempt < 2; attempt++) {
        gpgme_data_t sig = NULL, data = NULL;
        gpgme_error_t e;

        if (lseek(sig_fd, 0, SEEK_SET) < 0 || lseek(data_fd, 0, SEEK_SET) < 0 ||
            gpgme_data_new_from_fd(&sig, sig_fd) || gpgme_data_new_from_fd(&data, data_fd)) {
            gpgme_data_release(sig);
            res->present = 1;
            snprintf(res->method, sizeof(res->method), "pgp");
            snprintf(res->why, sizeof(res->why), "cannot set up gpgme data");
            return;
        }
        e = gpgme_op_verify(pi->ctx, sig, data, NULL);
        gpgme_data_release(sig);
        gpgme_data_release(data);
        if (e) {
            memset(res, 0, sizeof(*res));
            res->present = 1;
            snprintf(res->method, sizeof(res->method), "pgp");
            snprintf(res->why, sizeof(res->why), "malformed OpenPGP signature: %s",
                     gpgme_strerror(e));
            return;
        }
        if (!pgp_in_judge(pi, from, attempt == 0, res))
            break;
    }
    if (!res->present) {
        res->present = 1;
        snprintf(res->why, sizeof(res->why), "no OpenPGP signature found");
    }
}
