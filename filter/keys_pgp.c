/*
 * keys_pgp: OpenPGP key discovery.  WKD (advanced and direct method), HKP/HKPS
 * (/pks/lookup?op=get&options=mr&search=ADDRESS) and VKS
 * (/vks/v1/by-email/ADDRESS) answers are fetched by keys_http and imported
 * through gpgme, and gpgme's own GPGME_KEYLIST_MODE_LOCATE (dirmngr) can be
 * used as a method as well.
 *
 * Contract: a fetched answer is first imported into a scratch GnuPG home made
 * for this one lookup and inspected there: only a key that is not revoked,
 * expired, disabled or invalid, can encrypt, and carries a valid user ID whose
 * mail address equals the recipient is accepted; every other key is refused
 * with its reason.  The accepted key is then exported from the scratch home
 * and imported into gnupg_home with the import filter keep-uid=mbox=ADDRESS,
 * so no other user ID of that key ever reaches the gateway's keyring.  The
 * scratch home is removed afterwards.  Nothing here trusts the transport
 * beyond TLS: WKD is https only.
 *
 * Limits: answer size (max_answer_size), time (timeout per request); at most
 * 16 keys in one answer are inspected.
 * Failure: KR_TEMP for anything that may work later (server down, timeout,
 * gpg failing), KR_NONE with a reason for everything the server said or sent.
 */
#include <ctype.h>
#include <ftw.h>
#include <gpgme.h>
#include <openssl/sha.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "keys_int.h"
#include "keystore.h"
#include "log.h"

#define KEYS_PGP_MAX_KEYS 16

void keys_zbase32(const unsigned char *in, size_t len, char *out, size_t outlen)
{
    static const char alpha[] = "ybndrfg8ejkmcpqxot1uwisza345h769";
    size_t bits = len * 8, i, o = 0;

    for (i = 0; i < bits && o + 1 < outlen; i += 5) {
        unsigned v = 0;
        size_t b;

        for (b = 0; b < 5; b++) {
            size_t bit = i + b;

            v <<= 1;
            if (bit < bits && (in[bit / 8] & (0x80 >> (bit % 8))))
                v |= 1;
        }
        out[o++] = alpha[v];
    }
    out[o] = 0;
}

static void keys_pct(const char *in, char *out, size_t outlen)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;

    for (; *in && o + 4 < outlen; in++) {
        unsigned char c = (unsigned char)*in;

        if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = 0;
}

/* draft-koch-openpgp-webkey-service: z-base-32 of the SHA-1 of the
 * ASCII-lowercased local part (32 characters; hlen >= 33).  Shared with
 * postseal-keys, which writes the files this names. */
void keys_wkd_hash(const char *local, char *hash, size_t hlen)
{
    unsigned char md[SHA_DIGEST_LENGTH];
    char lower[128];
    size_t i;

    for (i = 0; local[i] && i + 1 < sizeof(lower); i++)
        lower[i] = (char)tolower((unsigned char)local[i]);
    lower[i] = 0;
    SHA1((const unsigned char *)lower, strlen(lower), md);
    keys_zbase32(md, sizeof(md), hash, hlen);
}

/* The WKD URLs of addr: the hash, l= the local part as written,
 * percent-encoded. */
int keys_wkd_urls(const char *addr, char *adv, size_t alen, char *direct, size_t dlen)
{
    char local[128], domain[256], hash[40], pl[400];

    if (keys_addr_split(addr, local, sizeof(local), domain, sizeof(domain)) < 0)
        return -1;
    keys_wkd_hash(local, hash, sizeof(hash));
    keys_pct(local, pl, sizeof(pl));
    snprintf(adv, alen, "https://openpgpkey.%s/.well-known/openpgpkey/%s/hu/%s?l=%s", domain,
             domain, hash, pl);
    snprintf(direct, dlen, "https://%s/.well-known/openpgpkey/hu/%s?l=%s", domain, hash, pl);
    return 0;
}

gpgme_ctx_t keys_gpgme_ctx(const char *home, char *why, size_t whylen)
{
    static int inited;
    gpgme_ctx_t ctx;
    gpgme_error_t ge;

    if (!inited) {
        gpgme_check_version(NULL);
        inited = 1;
    }
    if ((ge = gpgme_new(&ctx)) != 0) {
        snprintf(why, whylen, "gpgme: %s", gpgme_strerror(ge));
        return NULL;
    }
    if ((ge = gpgme_ctx_set_engine_info(ctx, GPGME_PROTOCOL_OpenPGP, NULL, home)) != 0) {
        snprintf(why, whylen, "gpgme home %s: %s", home, gpgme_strerror(ge));
        gpgme_release(ctx);
        return NULL;
    }
    gpgme_set_offline(ctx, 1);
    return ctx;
}

/* Why a key cannot be used for addr (NULL: any user ID), or NULL when it
 * can: the key store's rule (keystore_pgp_usable), plus the addresses the
 * key does have when the user ID is missing. */
static const char *keys_pgp_unusable(gpgme_key_t key, const char *addr, char *buf, size_t len)
{
    gpgme_user_id_t uid;
    size_t n;

    if (keystore_pgp_usable(key, addr, KEYSTORE_ENCRYPT, buf, len) == 0)
        return NULL;
    if (strstr(buf, "has no user ID") != NULL) {
        strncat(buf, " (it has:", len - strlen(buf) - 1);
        for (uid = key->uids; uid != NULL; uid = uid->next)
            if (uid->email != NULL && (n = strlen(buf)) + strlen(uid->email) + 4 < len)
                snprintf(buf + n, len - n, " <%s>", uid->email);
        strncat(buf, ")", len - strlen(buf) - 1);
    }
    return buf;
}

static void keys_append(char *why, size_t whylen, const char *text)
{
    size_t n = strlen(why);

    if (n + 3 >= whylen)
        return;
    snprintf(why + n, whylen - n, "%s%s", n ? "; " : "", text);
}

/* Lists keys in ctx matching pattern; picks the newest usable one for addr.
 * Returns KR_FOUND (fpr filled), KR_NONE (why) or KR_TEMP. */
static int keys_pgp_pick(gpgme_ctx_t ctx, const char *pattern, const char *addr, char *fpr,
                         size_t fprlen, char *why, size_t whylen)
{
    gpgme_key_t key;
    gpgme_error_t ge;
    char buf[400];
    long best = -1;
    int n = 0;

    if ((ge = gpgme_op_keylist_start(ctx, pattern, 0)) != 0) {
        snprintf(why, whylen, "gpgme keylist: %s", gpgme_strerror(ge));
        return KR_TEMP;
    }
    while ((ge = gpgme_op_keylist_next(ctx, &key)) == 0) {
        const char *bad;

        if (n++ < KEYS_PGP_MAX_KEYS) {
            if ((bad = keys_pgp_unusable(key, addr, buf, sizeof(buf))) != NULL)
                keys_append(why, whylen, bad);
            else if (key->subkeys != NULL && key->subkeys->timestamp > best) {
                best = key->subkeys->timestamp;
                snprintf(fpr, fprlen, "%s", key->fpr);
            }
        }
        gpgme_key_unref(key);
    }
    gpgme_op_keylist_end(ctx);
    if (gpg_err_code(ge) != GPG_ERR_EOF) {
        snprintf(why, whylen, "gpgme keylist: %s", gpgme_strerror(ge));
        return KR_TEMP;
    }
    if (best >= 0)
        return KR_FOUND;
    if (n == 0)
        keys_append(why, whylen, "no key");
    return KR_NONE;
}

/* A configured or cached fingerprint: present in gnupg_home and usable for
 * addr?  KR_FOUND / KR_NONE (why) / KR_TEMP. */
int keys_pgp_by_fpr(struct keys *k, const char *fpr, const char *addr, char *why, size_t whylen)
{
    gpgme_ctx_t ctx;
    gpgme_key_t key;
    gpgme_error_t ge;
    char buf[400];
    const char *bad;

    if ((ctx = keys_gpgme_ctx(k->gnupg_home, why, whylen)) == NULL)
        return KR_TEMP;
    ge = gpgme_get_key(ctx, fpr, &key, 0);
    gpgme_release(ctx);
    if (gpg_err_code(ge) == GPG_ERR_EOF || gpg_err_code(ge) == GPG_ERR_NOT_FOUND) {
        snprintf(why, whylen, "key %s is not in %s", fpr, k->gnupg_home);
        return KR_NONE;
    }
    if (ge != 0) {
        snprintf(why, whylen, "gpgme get key %s: %s", fpr, gpgme_strerror(ge));
        return KR_TEMP;
    }
    bad = keys_pgp_unusable(key, addr, buf, sizeof(buf));
    if (bad != NULL)
        snprintf(why, whylen, "%s", bad);
    gpgme_key_unref(key);
    return bad ? KR_NONE : KR_FOUND;
}

static int keys_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_DP)
        rmdir(path);
    else
        unlink(path);
    return 0;
}

/* Exports fpr from the scratch context and imports it into gnupg_home with
 * only the user IDs for addr.  KR_FOUND when gpg imported it, else KR_TEMP. */
static int keys_pgp_move(struct keys *k, gpgme_ctx_t sctx, const char *fpr, const char *addr,
                         const char *origin, char *why, size_t whylen)
{
    gpgme_data_t out = NULL, in = NULL;
    gpgme_ctx_t tctx = NULL;
    gpgme_import_result_t ir;
    gpgme_import_status_t st;
    gpgme_error_t ge;
    char filter[400], *exported;
    size_t elen, i;
    int rc = KR_TEMP;

    if (gpgme_data_new(&out) != 0) {
        snprintf(why, whylen, "gpgme: out of memory");
        return KR_TEMP;
    }
    if ((ge = gpgme_op_export(sctx, fpr, GPGME_EXPORT_MODE_MINIMAL, out)) != 0) {
        gpgme_data_release(out);
        snprintf(why, whylen, "gpgme export %s: %s", fpr, gpgme_strerror(ge));
        return KR_TEMP;
    }
    exported = gpgme_data_release_and_get_mem(out, &elen);
    if (exported == NULL || gpgme_data_new_from_mem(&in, exported, elen, 1) != 0) {
        gpgme_free(exported);
        snprintf(why, whylen, "gpgme: out of memory");
        return KR_TEMP;
    }
    gpgme_free(exported);
    if ((tctx = keys_gpgme_ctx(k->gnupg_home, why, whylen)) == NULL)
        goto done;
    snprintf(filter, sizeof(filter), "keep-uid=mbox = %s", addr);
    for (i = 0; filter[i]; i++)
        filter[i] = (char)tolower((unsigned char)filter[i]);
    if ((ge = gpgme_set_ctx_flag(tctx, "import-filter", filter)) != 0 ||
        (ge = gpgme_set_ctx_flag(tctx, "key-origin", origin)) != 0) {
        snprintf(why, whylen, "gpgme import filter: %s", gpgme_strerror(ge));
        goto done;
    }
    if ((ge = gpgme_op_import(tctx, in)) != 0) {
        snprintf(why, whylen, "import into %s: %s", k->gnupg_home, gpgme_strerror(ge));
        goto done;
    }
    ir = gpgme_op_import_result(tctx);
    for (st = ir ? ir->imports : NULL; st != NULL; st = st->next)
        if (st->fpr != NULL && strcasecmp(st->fpr, fpr) == 0 && st->result == 0)
            rc = KR_FOUND;
    if (rc != KR_FOUND)
        snprintf(why, whylen, "import of key %s into %s failed", fpr, k->gnupg_home);
done:
    gpgme_data_release(in);
    if (tctx != NULL)
        gpgme_release(tctx);
    return rc;
}

/* A refused key that gnupg_home already holds (e.g. found earlier, revoked
 * or expired since) is imported anyway, so the local copy learns about the
 * revocation or new expiry and stops being used. */
static void keys_pgp_update_known(struct keys *k, gpgme_ctx_t sctx, const char *addr,
                                  const char *origin)
{
    char fprs[KEYS_PGP_MAX_KEYS][80], why[300];
    gpgme_ctx_t tctx;
    gpgme_key_t key;
    int n = 0, i;

    if (gpgme_op_keylist_start(sctx, NULL, 0) != 0)
        return;
    while (gpgme_op_keylist_next(sctx, &key) == 0) {
        if (n < KEYS_PGP_MAX_KEYS && key->fpr != NULL)
            snprintf(fprs[n++], sizeof(fprs[0]), "%s", key->fpr);
        gpgme_key_unref(key);
    }
    gpgme_op_keylist_end(sctx);
    if ((tctx = keys_gpgme_ctx(k->gnupg_home, why, sizeof(why))) == NULL)
        return;
    for (i = 0; i < n; i++) {
        if (gpgme_get_key(tctx, fprs[i], &key, 0) != 0)
            continue;
        gpgme_key_unref(key);
        if (keys_pgp_move(k, sctx, fprs[i], addr, origin, why, sizeof(why)) == KR_FOUND)
            keys_note(k, "key %s is already in %s: updated from the answer", fprs[i],
                      k->gnupg_home);
    }
    gpgme_release(tctx);
}

/* Imports data into a scratch home, picks the usable key for addr, moves it
 * (user IDs for addr only) into gnupg_home.  origin: gpg key-origin value. */
int keys_pgp_import(struct keys *k, const char *addr, const char *origin, const char *data,
                    size_t len, char *fpr, size_t fprlen, char *why, size_t whylen)
{
    char scratch[] = "/tmp/postseal-keys.XXXXXX";
    char buf[400];
    gpgme_ctx_t sctx = NULL;
    gpgme_data_t in = NULL;
    gpgme_import_result_t ir;
    gpgme_error_t ge;
    int rc = KR_TEMP;

    if (mkdtemp(scratch) == NULL) {
        snprintf(why, whylen, "cannot create scratch GnuPG home %s: %m", scratch);
        return KR_TEMP;
    }
    if ((sctx = keys_gpgme_ctx(scratch, why, whylen)) == NULL)
        goto done;
    if (gpgme_data_new_from_mem(&in, data, len, 0) != 0) {
        snprintf(why, whylen, "gpgme: out of memory");
        goto done;
    }
    if ((ge = gpgme_op_import(sctx, in)) != 0 && gpg_err_code(ge) != GPG_ERR_NO_DATA) {
        snprintf(why, whylen, "answer is not an OpenPGP key (%s)", gpgme_strerror(ge));
        rc = KR_NONE;
        goto done;
    }
    ir = gpgme_op_import_result(sctx);
    if (ir == NULL || ir->considered == 0 || (ir->imported == 0 && ir->unchanged == 0)) {
        snprintf(why, whylen, "answer holds no usable OpenPGP key data (%d bytes)", (int)len);
        rc = KR_NONE;
        goto done;
    }
    why[0] = 0;
    rc = keys_pgp_pick(sctx, NULL, addr, fpr, fprlen, why, whylen);
    if (rc == KR_NONE)
        keys_pgp_update_known(k, sctx, addr, origin);
    if (rc != KR_FOUND)
        goto done;
    rc = keys_pgp_move(k, sctx, fpr, addr, origin, why, whylen);
    if (rc != KR_FOUND)
        goto done;
    /* The keyring copy must still be usable (the filter kept the right uid). */
    rc = keys_pgp_by_fpr(k, fpr, addr, buf, sizeof(buf));
    if (rc != KR_FOUND)
        snprintf(why, whylen, "after import: %s", buf);
done:
    if (in != NULL)
        gpgme_data_release(in);
    if (sctx != NULL)
        gpgme_release(sctx);
    nftw(scratch, keys_rm, 8, FTW_DEPTH | FTW_PHYS);
    return rc;
}

/* 1 when fpr in gnupg_home was found by discovery (key origin WKD or a key
 * server) and last updated more than positive_ttl ago: time to ask again. */
int keys_pgp_stale(struct keys *k, const char *fpr, long *age)
{
    gpgme_ctx_t ctx;
    gpgme_key_t key;
    char why[300];
    int stale = 0;

    if ((ctx = keys_gpgme_ctx(k->gnupg_home, why, sizeof(why))) == NULL)
        return 0;
    if (gpgme_get_key(ctx, fpr, &key, 0) == 0) {
        *age = (long)(time(NULL) - (time_t)key->last_update);
        stale = (key->origin == GPGME_KEYORG_WKD || key->origin == GPGME_KEYORG_KS) &&
                key->last_update > 0 && *age > k->positive_ttl;
        gpgme_key_unref(key);
    }
    gpgme_release(ctx);
    return stale;
}

/* One HTTP source: fetch, classify, import. */
static int keys_pgp_fetch(struct keys *k, const char *url, const char *origin, const char *addr,
                          struct keys_result *res, char *why, size_t whylen)
{
    char *body;
    size_t len;
    char buf[700];
    int rc;

    rc = keys_http_get(k, url, &body, &len, buf, sizeof(buf));
    switch (rc) {
    case KH_OK:
        break;
    case KH_TEMP:
        keys_append(why, whylen, buf);
        return KR_TEMP;
    default:
        keys_append(why, whylen, buf);
        return KR_NONE;
    }
    buf[0] = 0;
    rc = keys_pgp_import(k, addr, origin, body, len, res->fpr, sizeof(res->fpr), buf, sizeof(buf));
    free(body);
    if (rc == KR_FOUND) {
        snprintf(res->source, sizeof(res->source), "%.500s", url);
        return rc;
    }
    {
        char text[900];

        snprintf(text, sizeof(text), "%s: %s", url, buf);
        keys_append(why, whylen, text);
    }
    return rc;
}

static int keys_pgp_locate(struct keys *k, const char *addr, struct keys_result *res, char *why,
                           size_t whylen)
{
    gpgme_ctx_t ctx;
    gpgme_key_t key;
    gpgme_error_t ge;

    if ((ctx = keys_gpgme_ctx(k->gnupg_home, why, whylen)) == NULL)
        return KR_TEMP;
    gpgme_set_offline(ctx, 0);
    gpgme_set_keylist_mode(ctx, GPGME_KEYLIST_MODE_LOCATE);
    ge = gpgme_get_key(ctx, addr, &key, 0);
    gpgme_release(ctx);
    if (ge != 0) {
        char text[300];

        snprintf(text, sizeof(text), "gpg --locate-keys: %s", gpgme_strerror(ge));
        keys_append(why, whylen, text);
        return KR_NONE;
    }
    snprintf(res->fpr, sizeof(res->fpr), "%s", key->fpr);
    gpgme_key_unref(key);
    if (keys_pgp_by_fpr(k, res->fpr, addr, why, whylen) != KR_FOUND)
        return KR_NONE;
    snprintf(res->source, sizeof(res->source), "gpg auto-key-locate");
    return KR_FOUND;
}

/* One configured method for addr: every server of the method in order; the
 * first key found wins.  KR_TEMP only when no server found a key and at
 * least one failed temporarily. */
int keys_pgp_remote(struct keys *k, int method, const char *addr, struct keys_result *res,
                    char *why, size_t whylen)
{
    char adv[700], direct[700], url[700], enc[400];
    int i, rc, temp = 0;

    switch (method) {
    case KM_WKD:
        if (keys_wkd_urls(addr, adv, sizeof(adv), direct, sizeof(direct)) < 0) {
            keys_append(why, whylen, "not a mail address");
            return KR_NONE;
        }
        if (k->wkd_advanced) {
            char *body;
            size_t len;
            char buf[700];

            /* Advanced method: only when openpgpkey.DOMAIN exists; a
             * name that does not resolve means "use the direct method". */
            rc = keys_http_get(k, adv, &body, &len, buf, sizeof(buf));
            if (rc == KH_OK) {
                char ibuf[700] = "";

                rc = keys_pgp_import(k, addr, "wkd", body, len, res->fpr, sizeof(res->fpr), ibuf,
                                     sizeof(ibuf));
                free(body);
                if (rc == KR_FOUND) {
                    snprintf(res->source, sizeof(res->source), "%.500s", adv);
                    return rc;
                }
                snprintf(buf, sizeof(buf), "%.300s: %.380s", adv, ibuf);
                keys_append(why, whylen, buf);
                return rc;
            }
            if (rc != KH_NORESOLVE) {
                keys_append(why, whylen, buf);
                return rc == KH_TEMP ? KR_TEMP : KR_NONE;
            }
            keys_append(why, whylen, buf);
            keys_note(k, "wkd: %s: trying the direct method", buf);
        }
        if (!k->wkd_direct)
            return KR_NONE;
        rc = keys_pgp_fetch(k, direct, "wkd", addr, res, why, whylen);
        return rc;
    case KM_HKP:
    case KM_VKS:
        keys_pct(addr, enc, sizeof(enc));
        for (i = 0; i < (method == KM_HKP ? k->nhkp : k->nvks); i++) {
            if (method == KM_HKP)
                snprintf(url, sizeof(url), "%s/pks/lookup?op=get&options=mr&search=%s", k->hkp[i],
                         enc);
            else
                snprintf(url, sizeof(url), "%s/vks/v1/by-email/%s", k->vks[i], enc);
            rc = keys_pgp_fetch(k, url, "ks", addr, res, why, whylen);
            if (rc == KR_FOUND)
                return rc;
            if (rc == KR_TEMP)
                temp = 1;
        }
        return temp ? KR_TEMP : KR_NONE;
    case KM_LOCATE:
        return keys_pgp_locate(k, addr, res, why, whylen);
    }
    return KR_NONE;
}
