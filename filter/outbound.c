/*
 * outbound: the outbound half of postseal-filter.  For each recipient the
 * policy (fpolicy) decides encrypt required/opportunistic/never, sign, the
 * method preference and what to do without a key; the local key store finds
 * keys; recipients with the same treatment form one group, which gets one
 * transformed message and one reinjection.
 *
 * Groups.  Unchanged (pass) recipients share one copy; signed-only recipients
 * share one per (method, signing key).  Encrypted copies: the recipients
 * named in To/Cc share one message encrypted to all their keys (they see each
 * other anyway); every other recipient (Bcc) gets a message of its own,
 * encrypted to its key only, so no one learns of a Bcc recipient from the key
 * ids.  No Bcc header is ever written.  OpenPGP key ids (hidden_recipients):
 * auto hides them (gpg --throw-keyids) exactly when one message is encrypted
 * to more than one key, so a recipient learns nothing of the others' keys; a
 * copy for one key shows its key id.
 *
 * Order.  Every decision and every transformation is made first (temp files);
 * only when all succeeded is anything reinjected.  So a missing key with
 * no_key = defer, a key store failure, a gpg failure or a malformed message
 * sends nothing and exits 75: fail closed.  If a reinjection fails after an
 * earlier group was accepted, the filter still exits 75 and Postfix retries
 * the whole delivery: duplicates are possible, loss is not.  One exception
 * for speed, with SMTP reinjection: the last signed/encrypted group's crypto
 * runs during its own DATA phase (reinject_tx), so the receiving smtpd works
 * on the other core while we encrypt.  That group is reinjected first, and
 * any failure in its stream abandons the transaction without the final "."
 * (nothing delivered) and defers; a key or certificate refused before the
 * first output byte is still refused before any SMTP command.
 *
 * Without a usable key where encryption is required (no_key):
 *   defer   exit 75 for the whole delivery, nothing sent (default)
 *   bounce  exit 69 "5.7.1 ..." when every recipient of this delivery
 *           bounces; otherwise the others are delivered and the sender gets a
 *           notice for the refused ones (pipe(8) has one status per delivery)
 *   hold    the unchanged message, with an "X-Postseal-Hold: why" header, is
 *           reinjected for those recipients into hold_reinject, an smtpd
 *           whose restrictions HOLD everything (contrib/postfix): it waits in
 *           Postfix's hold queue for the operator.  Without hold_reinject the
 *           configuration is refused (never deliver in clear by mistake).
 *   notice  those recipients are dropped and the sender gets a notice
 * A null sender cannot get a notice: bounce/notice then defer (75).
 * Already encrypted input (multipart/encrypted, S/MIME enveloped, inline PGP)
 * is passed on unchanged; already signed input is never signed again, and is
 * encrypted as is (its signed bytes untouched) when a recipient needs it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "fpolicy.h"
#include "keys.h"
#include "keystore.h"
#include "log.h"
#include "mime.h"
#include "outbound.h"
#include "pgp.h"
#include "reinject.h"
#include "smime.h"
#include "spool.h"
#include "xform.h"

enum { OB_PASS, OB_SIGN, OB_ENCRYPT, OB_NOKEY };

struct ob_rcpt {
    const char *addr;
    struct fpol_decision d;
    int visible;
    int outcome;
    int method;
    char fpr[80];
    X509 *cert;
    char why[400];
    char source[600];
    int group;
};

struct ob_group {
    int outcome; /* OB_PASS/OB_SIGN/OB_ENCRYPT, or OB_NOKEY for the hold group */
    int method;
    const struct fc_signkey *signkey;
    int protect_subject;
    int cipher;
    int bcc;     /* one recipient not named in To/Cc: a message of its own */
    size_t *idx; /* members (indexes into ob.r) */
    const char **rcpts;
    size_t n;
    FILE *msg;   /* the message to reinject */
    FILE *ent;   /* NULL, or the entity that follows msg (SMTP: sent from here, not copied) */
    int stream;  /* the crypto runs during reinjection, its output streamed into DATA */
    FILE *inner; /* stream: the inner entity the crypto reads */
};

struct ob {
    const struct fconf *fc;
    int fd;
    off_t size;
    const char *sender;
    struct mime_header hdr;
    int hdr_ok;
    struct mime_msg mime;
    int mime_ok;
    struct mime_err merr;
    int kind; /* XFORM_* */
    struct keys *keys;
    struct keystore *ks;
    struct pgp *pgp;
    struct ob_rcpt *r;
    size_t n;
    struct ob_group *g;
    size_t ng;
};

static const char *ob_outcome_name(int o)
{
    static const char *const names[] = {"pass", "sign", "encrypt", "no key"};

    return names[o];
}

/* 1 if addr appears in a To/Cc field as a whole address. */
static int ob_visible(const struct mime_header *h, const char *addr)
{
    static const char *const fields[] = {"To", "Cc", "Resent-To", "Resent-Cc", NULL};
    size_t alen = strlen(addr), idx;
    const struct mime_field *f;
    int i;

    for (i = 0; fields[i] != NULL; i++) {
        idx = 0;
        while ((f = mime_header_find(h, fields[i], &idx)) != NULL) {
            const char *v = f->value, *p = v;

            while ((p = strcasestr(p, addr)) != NULL) {
                char before = p == v ? ' ' : p[-1], after = p[alen];

                if (strchr(" \t<,:;\"'", before) != NULL && strchr(" \t>,;\"'", after) != NULL)
                    return 1;
                p += alen;
            }
        }
    }
    return 0;
}

static int ob_keystore(struct ob *o, struct ferr *err)
{
    if (o->ks != NULL)
        return FERR_OK;
    return keystore_open(&o->ks, &o->fc->ks, err);
}

/* Finds the recipient's key for the first usable method (keys_find: local
 * key store, cache, then discovery).  FERR_OK (found or not: r->outcome),
 * FERR_TEMP when a lookup failed transiently. */
static int ob_find_key(struct ob *o, struct ob_rcpt *r, struct ferr *err)
{
    struct keys_result res;
    int i, rc;

    r->why[0] = 0;
    for (i = 0; i < r->d.nmethods; i++) {
        int m = r->d.methods[i];

        memset(&res, 0, sizeof(res));
        /* opportunistic: a failed lookup means "no key", not "try later" */
        rc = keys_find(o->keys, r->addr,
                       (m == FC_METH_PGP ? KEYS_PGP : KEYS_SMIME) |
                           (r->d.encrypt == FC_ENC_OPPORTUNISTIC ? KEYS_OPPORTUNISTIC : 0),
                       &res, err);
        if (rc == KEYS_TEMP) {
            keys_result_clear(&res);
            if (err->code == FERR_OK)
                ferr_set(err, FERR_TEMP, "4.7.0 key lookup for <%s> failed: %s", r->addr, res.why);
            err->code = FERR_TEMP;
            return FERR_TEMP;
        }
        if (rc == KEYS_FOUND) {
            /* signing too: the sender's key must exist for this method */
            if (r->d.sign && o->kind != XFORM_SIGNED &&
                (r->d.signkey == NULL ||
                 (m == FC_METH_PGP ? r->d.signkey->pgp_key : r->d.signkey->smime_cert) == NULL)) {
                snprintf(r->why + strlen(r->why), sizeof(r->why) - strlen(r->why),
                         "%s%s: key found but no signing key for the sender", *r->why ? "; " : "",
                         fconf_method_name(m));
                keys_result_clear(&res);
                continue;
            }
            r->outcome = OB_ENCRYPT;
            r->method = m;
            snprintf(r->fpr, sizeof(r->fpr), "%s", res.fpr);
            snprintf(r->source, sizeof(r->source), "%s%s", res.source,
                     res.gateway ? " (domain gateway key)" : "");
            r->cert = res.cert; /* ours now */
            res.cert = NULL;
            keys_result_clear(&res);
            ferr_clear(err);
            return FERR_OK;
        }
        snprintf(r->why + strlen(r->why), sizeof(r->why) - strlen(r->why), "%s%s: %s",
                 *r->why ? "; " : "", fconf_method_name(m),
                 *res.why ? res.why : "no key source configured for this method");
        keys_result_clear(&res);
    }
    ferr_clear(err);
    r->outcome = OB_NOKEY;
    return FERR_OK;
}

/* The signing method for a sign-only recipient, or 0. */
static int ob_sign_method(const struct ob_rcpt *r)
{
    int i;

    if (r->d.signkey == NULL)
        return 0;
    for (i = 0; i < r->d.nmethods; i++) {
        if (r->d.methods[i] == FC_METH_PGP && r->d.signkey->pgp_key)
            return FC_METH_PGP;
        if (r->d.methods[i] == FC_METH_SMIME && r->d.signkey->smime_cert)
            return FC_METH_SMIME;
    }
    return 0;
}

static int ob_decide(struct ob *o, struct ferr *err)
{
    struct fpol_msg pm;
    size_t i;
    int rc;

    memset(&pm, 0, sizeof(pm));
    pm.hdr = o->hdr_ok ? &o->hdr : NULL;
    pm.mime = o->mime_ok ? &o->mime : NULL;
    pm.fd = o->fd;
    for (i = 0; i < o->n; i++) {
        struct ob_rcpt *r = &o->r[i];

        if ((rc = fpol_decide(o->fc, o->sender, r->addr, &pm, &r->d, err)) != FERR_OK)
            return rc;
        r->visible = o->hdr_ok && ob_visible(&o->hdr, r->addr);
        r->outcome = OB_PASS;
        if (o->kind == XFORM_ENCRYPTED)
            continue; /* no double encryption */
        if (!o->mime_ok && (r->d.encrypt != FC_ENC_NEVER || r->d.sign)) {
            if (o->fc->malformed == FC_MALFORMED_BOUNCE)
                ferr_set(err, FERR_PERM, "5.6.0 %s (cannot sign or encrypt malformed MIME)",
                         o->merr.text);
            else
                ferr_set(err, FERR_TEMP, "4.6.0 %s (cannot sign or encrypt malformed MIME)",
                         o->merr.text);
            return err->code;
        }
        if (r->d.encrypt != FC_ENC_NEVER) {
            if ((rc = ob_find_key(o, r, err)) != FERR_OK)
                return rc;
            if (r->outcome == OB_ENCRYPT)
                continue;
            if (r->d.encrypt == FC_ENC_REQUIRED)
                continue; /* OB_NOKEY */
            r->outcome = OB_PASS;
        }
        if (r->d.sign && o->kind != XFORM_SIGNED) {
            if ((r->method = ob_sign_method(r)) == 0) {
                ferr_set(err, FERR_TEMP,
                         "4.7.0 sign = yes for <%s> but no [filter signkey] with a key for "
                         "the allowed methods matches sender <%s>",
                         r->addr, o->sender);
                return FERR_TEMP;
            }
            r->outcome = OB_SIGN;
        }
    }
    return FERR_OK;
}

static int ob_same(const struct ob_group *g, const struct ob_rcpt *r, int outcome)
{
    if (g->outcome != outcome)
        return 0;
    if (outcome == OB_PASS || outcome == OB_NOKEY)
        return 1;
    if (g->method != r->method || g->signkey != (r->d.sign ? r->d.signkey : NULL))
        return 0;
    if (outcome == OB_ENCRYPT)
        return !g->bcc && r->visible && g->protect_subject == r->d.protect_subject &&
               g->cipher == r->d.smime_cipher;
    return 1;
}

static int ob_group(struct ob *o, size_t ri, int outcome, struct ferr *err)
{
    struct ob_rcpt *r = &o->r[ri];
    struct ob_group *g = NULL, *v;
    size_t i, *iv;
    const char **rv;

    for (i = 0; i < o->ng && g == NULL; i++)
        if (ob_same(&o->g[i], r, outcome))
            g = &o->g[i];
    if (g == NULL) {
        if ((v = realloc(o->g, (o->ng + 1) * sizeof(*v))) == NULL)
            goto nomem;
        o->g = v;
        g = &o->g[o->ng++];
        memset(g, 0, sizeof(*g));
        g->outcome = outcome;
        g->method = r->method;
        g->signkey = r->d.sign ? r->d.signkey : NULL;
        g->protect_subject = r->d.protect_subject;
        g->cipher = r->d.smime_cipher;
        g->bcc = outcome == OB_ENCRYPT && !r->visible;
    }
    if ((iv = realloc(g->idx, (g->n + 1) * sizeof(*iv))) == NULL)
        goto nomem;
    g->idx = iv;
    if ((rv = realloc(g->rcpts, (g->n + 1) * sizeof(*rv))) == NULL)
        goto nomem;
    g->rcpts = rv;
    g->idx[g->n] = ri;
    g->rcpts[g->n++] = r->addr;
    r->group = (int)(g - o->g);
    return FERR_OK;
nomem:
    ferr_set(err, FERR_TEMP, "4.3.0 out of memory");
    return FERR_TEMP;
}

/* ---- producing the messages ---- */

/* A configured signing key that cannot be used is the operator's problem:
 * defer (never bounce the user's mail for it). */
static int ob_signer_temp(struct ferr *err)
{
    if (err->code == FERR_PERM) {
        char text[sizeof(err->text)];

        snprintf(text, sizeof(text), "%s", err->text + (strncmp(err->text, "5.", 2) == 0 ? 6 : 0));
        ferr_set(err, FERR_TEMP, "4.7.0 signing key: %s", text);
    }
    return FERR_TEMP;
}

/* How many different OpenPGP keys group g encrypts to (two recipients may
 * share one, e.g. a domain's gateway key). */
static size_t ob_distinct_keys(const struct ob *o, const struct ob_group *g)
{
    size_t i, j, n = 0;

    for (i = 0; i < g->n; i++) {
        for (j = 0; j < i; j++)
            if (strcasecmp(o->r[g->idx[i]].fpr, o->r[g->idx[j]].fpr) == 0)
                break;
        n += j == i;
    }
    return n;
}

/* Runs the crypto module for group g: inner entity at inner_fd -> ent. */
static int ob_crypto(struct ob *o, struct ob_group *g, int inner_fd, FILE *ent, struct ferr *err)
{
    const struct fc_signkey *sk = o->kind == XFORM_SIGNED ? NULL : g->signkey;
    int encrypt = g->outcome == OB_ENCRYPT;
    int rc;
    size_t i;

    ferr_clear(err);
    if (lseek(inner_fd, 0, SEEK_SET) < 0) {
        ferr_set(err, FERR_TEMP, "4.3.0 lseek: %s", strerror(errno));
        return FERR_TEMP;
    }
    if (g->method == FC_METH_PGP) {
        const char **keys;
        char sfpr[80];
        const char *sign = NULL;

        if (o->pgp == NULL && (rc = pgp_open(&o->pgp, keys_gnupg_home(o->keys), err)) != FERR_OK)
            return FERR_TEMP;
        /* auto: key ids hidden when this one message goes to several
         * recipients (none of them learns the others' keys); a message for
         * one recipient shows its key id (it reveals nobody else) */
        pgp_set_hidden_recipients(o->pgp, o->fc->hidden_recipients == FC_HIDDEN_YES ||
                                              (o->fc->hidden_recipients == FC_HIDDEN_AUTO &&
                                               encrypt && ob_distinct_keys(o, g) > 1));
        if (sk != NULL) {
            if (ob_keystore(o, err) != FERR_OK)
                return FERR_TEMP;
            if (keystore_pgp_signer(o->ks, sk->pgp_key, sfpr, sizeof(sfpr), err) != FERR_OK)
                return ob_signer_temp(err);
            sign = sfpr;
        }
        if (!encrypt)
            return pgp_sign(o->pgp, inner_fd, sign, ent, err);
        if ((keys = calloc(g->n, sizeof(*keys))) == NULL) {
            ferr_set(err, FERR_TEMP, "4.3.0 out of memory");
            return FERR_TEMP;
        }
        for (i = 0; i < g->n; i++)
            keys[i] = o->r[g->idx[i]].fpr;
        rc = pgp_encrypt(o->pgp, inner_fd, keys, g->n, sign, ent, err);
        free(keys);
        return rc;
    } else {
        struct smime_signer *signer = NULL;
        struct smime_opts so = {0};
        STACK_OF(X509) * certs;

        so.cipher = g->cipher == FC_CIPHER_GCM ? SMIME_AES256_GCM : SMIME_AES256_CBC;
        if (sk != NULL &&
            keystore_smime_signer(sk->smime_cert, sk->smime_key, &signer, err) != FERR_OK)
            return ob_signer_temp(err);
        if (!encrypt) {
            rc = smime_sign(inner_fd, signer, &so, ent, err);
            keystore_smime_signer_free(signer);
            return rc;
        }
        if ((certs = sk_X509_new_null()) == NULL) {
            keystore_smime_signer_free(signer);
            ferr_set(err, FERR_TEMP, "4.3.0 out of memory");
            return FERR_TEMP;
        }
        for (i = 0; i < g->n; i++)
            sk_X509_push(certs, o->r[g->idx[i]].cert);
        rc = smime_encrypt(inner_fd, certs, &so, signer, ent, err);
        sk_X509_free(certs); /* the certs belong to the recipients */
        keystore_smime_signer_free(signer);
        return rc;
    }
}

static int ob_build(struct ob *o, struct ob_group *g, struct ferr *err)
{
    const char *tmp = o->fc->temp_dir;
    FILE *inner = NULL, *ent = NULL;
    int rc, hp = g->outcome == OB_ENCRYPT ? XFORM_HP_CIPHER : XFORM_HP_CLEAR;
    int obscure = g->outcome == OB_ENCRYPT && g->protect_subject;
    int extra_lf;

    if ((g->msg = spool_tmpfp(tmp, err)) == NULL)
        return FERR_TEMP;
    if (g->outcome == OB_PASS) { /* unchanged but for Bcc fields */
        if (o->hdr_ok)
            return xform_passthru(o->fd, &o->hdr, NULL, NULL, g->msg, err);
        return spool_write_range(o->fd, 0, -1, g->msg, err) == FERR_OK && fflush(g->msg) == 0
                   ? FERR_OK
                   : FERR_TEMP;
    }
    if (g->outcome == OB_NOKEY) { /* hold */
        char why[300];

        snprintf(why, sizeof(why), "no usable key for %s%s", g->rcpts[0],
                 g->n > 1 ? " and others" : "");
        if (!o->hdr_ok) {
            ferr_set(err, FERR_TEMP, "4.6.0 cannot hold a message with a malformed header");
            return FERR_TEMP;
        }
        return xform_passthru(o->fd, &o->hdr, "X-Postseal-Hold", why, g->msg, err);
    }
    rc = FERR_TEMP;
    if ((inner = spool_tmpfp(tmp, err)) == NULL || (ent = spool_tmpfp(tmp, err)) == NULL)
        goto out;
    /* multipart/signed will be built (pgp_sign, smime_sign, S/MIME sign then
     * encrypt): it takes the entity's last LF as the delimiter's */
    extra_lf = o->kind != XFORM_SIGNED && g->signkey != NULL &&
               (g->outcome == OB_SIGN || g->method == FC_METH_SMIME);
    if ((rc = xform_inner(o->fd, &o->mime, &o->hdr, hp, obscure, o->kind == XFORM_SIGNED, extra_lf,
                          inner, err)) != FERR_OK)
        goto out;
    if (g->stream) { /* the header now, the crypto later, straight into DATA */
        if (fflush(inner) == EOF) {
            ferr_set(err, FERR_TEMP, "4.3.0 writing a temp file: %s", strerror(errno));
            rc = FERR_TEMP;
            goto out;
        }
        if ((rc = xform_outer(o->fd, &o->hdr, obscure, -1, g->msg, err)) == FERR_OK) {
            g->inner = inner;
            inner = NULL;
        }
        goto out;
    }
    if ((rc = ob_crypto(o, g, fileno(inner), ent, err)) != FERR_OK)
        goto out;
    if (fflush(ent) == EOF) {
        ferr_set(err, FERR_TEMP, "4.3.0 writing a temp file: %s", strerror(errno));
        rc = FERR_TEMP;
        goto out;
    }
    if (o->fc->reinject.method == REINJECT_SMTP) { /* the header here, the entity kept */
        rc = xform_outer(o->fd, &o->hdr, obscure, -1, g->msg, err);
        g->ent = ent;
        ent = NULL;
    } else {
        rc = xform_outer(o->fd, &o->hdr, obscure, fileno(ent), g->msg, err);
    }
out:
    if (inner)
        fclose(inner);
    if (ent)
        fclose(ent);
    return rc;
}

/* Streamed group: the crypto module writes into the SMTP transaction (its
 * first byte opens it, so a key or certificate refused before any output
 * still fails without a transaction).  Any failure abandons the transaction
 * without the final ".": nothing is delivered. */
static int ob_stream(struct ob *o, struct ob_group *g, struct ferr *err)
{
    struct reinject_tx *tx;
    struct ferr cerr;
    int rc;

    if ((tx = reinject_tx_new(&o->fc->reinject, fileno(g->msg), o->sender, g->rcpts, g->n, err)) ==
        NULL)
        return err->code;
    if ((rc = ob_crypto(o, g, fileno(g->inner), reinject_tx_fp(tx), &cerr)) != FERR_OK) {
        *err = cerr;
        return reinject_tx_abort(tx, err);
    }
    return reinject_tx_commit(tx, err);
}

/* ---- notices ---- */

static int ob_notice(struct ob *o, const size_t *idx, size_t n, FILE *fp, struct ferr *err)
{
    char date[64], subj[200] = "";
    time_t now = time(NULL);
    const struct mime_field *f;
    size_t i;

    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", localtime(&now));
    if (o->hdr_ok && (f = mime_header_find(&o->hdr, "Subject", NULL)) != NULL)
        snprintf(subj, sizeof(subj), "%.150s", f->value);
    fprintf(fp,
            "From: Mail Delivery System <%s>\n"
            "To: <%s>\n"
            "Subject: Not delivered: encryption required but no key\n"
            "Date: %s\n"
            "Auto-Submitted: auto-replied\n"
            "MIME-Version: 1.0\n"
            "Content-Type: text/plain; charset=utf-8\n"
            "Content-Transfer-Encoding: 8bit\n"
            "\n"
            "Your message\n\n  Subject: %s\n\n"
            "was NOT delivered to the recipients below: the mail policy requires\n"
            "encryption for them and no usable key or certificate was found.\n"
            "Nothing was sent to them in clear text.\n\n",
            o->fc->notice_from, o->sender, date, subj);
    for (i = 0; i < n; i++)
        fprintf(fp, "  <%s>: %s\n", o->r[idx[i]].addr, o->r[idx[i]].why);
    fprintf(fp, "\nOther recipients of the message were not affected.\n");
    if (fflush(fp) == EOF || ferror(fp)) {
        ferr_set(err, FERR_TEMP, "4.3.0 writing a temp file: %s", strerror(errno));
        return FERR_TEMP;
    }
    return FERR_OK;
}

/* ---- dry run ---- */

static void ob_print(struct ob *o, FILE *out)
{
    size_t i;

    fprintf(out, "message: %s%s\n",
            o->kind == XFORM_ENCRYPTED ? "already encrypted (passed on unchanged)"
            : o->kind == XFORM_SIGNED  ? "already signed (never signed again)"
                                       : "plain",
            o->mime_ok ? "" : " (malformed MIME)");
    if (!o->mime_ok)
        fprintf(out, "mime error: %s\n", o->merr.text);
    for (i = 0; i < o->n; i++) {
        struct ob_rcpt *r = &o->r[i];

        fprintf(out, "%s: rule=%s encrypt=%s sign=%s method=", r->addr,
                r->d.rule ? r->d.rule : "[filter]", fconf_encrypt_name(r->d.encrypt),
                r->d.sign ? "yes" : "no");
        fprintf(out, "%s%s%s", fconf_method_name(r->d.methods[0]), r->d.nmethods > 1 ? "," : "",
                r->d.nmethods > 1 ? fconf_method_name(r->d.methods[1]) : "");
        fprintf(out, " signkey=%s -> %s", r->d.signkey ? r->d.signkey->name : "-",
                ob_outcome_name(r->outcome));
        if (r->outcome == OB_ENCRYPT || r->outcome == OB_SIGN)
            fprintf(out, " %s", fconf_method_name(r->method));
        if (r->outcome == OB_ENCRYPT && r->method == FC_METH_PGP)
            fprintf(out, " key=%s", r->fpr);
        if (r->outcome == OB_ENCRYPT)
            fprintf(out, " from=%s", r->source);
        if (r->outcome == OB_ENCRYPT && !r->visible)
            fprintf(out, " (bcc: separate message)");
        if (r->outcome == OB_NOKEY)
            fprintf(out, ": %s (%s)", fconf_nokey_name(r->d.no_key), r->why);
        fputc('\n', out);
    }
}

/* ---- the run ---- */

static void ob_free(struct ob *o)
{
    size_t i;

    for (i = 0; i < o->ng; i++) {
        if (o->g[i].msg)
            fclose(o->g[i].msg);
        if (o->g[i].ent)
            fclose(o->g[i].ent);
        if (o->g[i].inner)
            fclose(o->g[i].inner);
        free(o->g[i].idx);
        free(o->g[i].rcpts);
    }
    free(o->g);
    for (i = 0; i < o->n; i++)
        if (o->r[i].cert)
            X509_free(o->r[i].cert);
    free(o->r);
    if (o->hdr_ok)
        mime_header_free(&o->hdr);
    if (o->mime_ok)
        mime_msg_free(&o->mime);
    if (o->pgp)
        pgp_close(o->pgp);
    if (o->ks)
        keystore_close(o->ks);
}

int outbound_run(const struct fconf *fc, struct keys *keys, int fd, off_t size, const char *sender,
                 const char *const *rcpts, size_t n, int dry_run, FILE *out, struct ferr *err)
{
    struct ob o;
    struct mime_err herr;
    size_t i, nbounce = 0, nnotice = 0, *refused = NULL;
    int rc = FERR_TEMP;

    memset(&o, 0, sizeof(o));
    ferr_clear(err);
    o.fc = fc;
    o.keys = keys;
    o.fd = fd;
    o.size = size;
    o.sender = sender;
    if ((o.r = calloc(n ? n : 1, sizeof(*o.r))) == NULL ||
        (refused = calloc(n ? n : 1, sizeof(*refused))) == NULL) {
        ferr_set(err, FERR_TEMP, "4.3.0 out of memory");
        goto out;
    }
    o.n = n;
    for (i = 0; i < n; i++)
        o.r[i].addr = rcpts[i];
    o.hdr_ok = mime_header_read(fd, 0, -1, "", &o.hdr, &herr) == MIME_OK;
    rc = mime_parse(fd, 0, -1, &o.mime, &o.merr);
    if (rc == MIME_EIO) {
        ferr_set(err, FERR_TEMP, "4.3.0 %s", o.merr.text);
        rc = FERR_TEMP;
        goto out;
    }
    o.mime_ok = rc == MIME_OK;
    if (!o.mime_ok)
        log_warnx("malformed MIME from <%s>: %s", sender, o.merr.text);
    o.kind = o.mime_ok ? xform_classify(fd, &o.mime) : XFORM_PLAIN;
    if ((rc = ob_decide(&o, err)) != FERR_OK)
        goto out;
    if (dry_run) {
        ob_print(&o, out);
        rc = FERR_OK;
        goto out;
    }
    /* recipients without a key */
    for (i = 0; i < n; i++) {
        struct ob_rcpt *r = &o.r[i];

        if (r->outcome != OB_NOKEY)
            continue;
        if (r->d.no_key == FC_NOKEY_DEFER ||
            ((r->d.no_key == FC_NOKEY_BOUNCE || r->d.no_key == FC_NOKEY_NOTICE) && *sender == 0)) {
            ferr_set(err, FERR_TEMP, "4.7.1 encryption required for <%s> but no usable key: %s",
                     r->addr, r->why);
            rc = FERR_TEMP;
            goto out;
        }
        if (r->d.no_key == FC_NOKEY_BOUNCE)
            nbounce++;
        if (r->d.no_key == FC_NOKEY_BOUNCE || r->d.no_key == FC_NOKEY_NOTICE)
            refused[nnotice++] = i;
    }
    if (nbounce == n) { /* everyone bounces: a real Postfix bounce */
        ferr_set(err, FERR_PERM, "5.7.1 encryption required for <%s> but no usable key: %s",
                 o.r[0].addr, o.r[0].why);
        rc = FERR_PERM;
        goto out;
    }
    for (i = 0; i < n; i++) {
        struct ob_rcpt *r = &o.r[i];

        if (r->outcome == OB_NOKEY && r->d.no_key != FC_NOKEY_HOLD)
            continue;
        if ((rc = ob_group(&o, i, r->outcome, err)) != FERR_OK)
            goto out;
    }
    /* SMTP: one signed/encrypted group (the last) is streamed: its crypto
     * runs into the DATA phase, so the receiver works while we encrypt.
     * It is reinjected first, so its failure still leaves nothing sent; the
     * others are complete temp files by then. */
    for (i = o.ng; fc->reinject.method == REINJECT_SMTP && i-- > 0;)
        if (o.g[i].outcome == OB_SIGN || o.g[i].outcome == OB_ENCRYPT) {
            o.g[i].stream = 1;
            break;
        }
    for (i = 0; i < o.ng; i++)
        if ((rc = ob_build(&o, &o.g[i], err)) != FERR_OK)
            goto out;
    for (i = 0; i < o.ng; i++)
        if (o.g[i].stream && (rc = ob_stream(&o, &o.g[i], err)) != FERR_OK)
            goto out;
    for (i = 0; i < o.ng; i++) {
        struct ob_group *g = &o.g[i];

        if (g->stream)
            rc = FERR_OK;
        else if (g->outcome == OB_NOKEY) /* hold: the holding smtpd */
            rc = reinject_hold(&fc->reinject, &fc->hold, fileno(g->msg), sender, g->rcpts, g->n,
                               err);
        else {
            int fds[2] = {fileno(g->msg), g->ent ? fileno(g->ent) : -1};

            rc = reinject_sendv(&fc->reinject, fds, g->ent ? 2 : 1, sender, g->rcpts, g->n, err);
        }
        if (rc != FERR_OK)
            goto out;
        log_info("from=<%s> %zu recipient(s) %s%s%s%s: reinjected", sender, g->n,
                 g->outcome == OB_NOKEY ? "held" : ob_outcome_name(g->outcome),
                 g->outcome == OB_SIGN || g->outcome == OB_ENCRYPT ? " " : "",
                 g->outcome == OB_SIGN || g->outcome == OB_ENCRYPT ? fconf_method_name(g->method)
                                                                   : "",
                 g->bcc ? " (separate message)" : "");
    }
    if (nnotice > 0) {
        FILE *fp = spool_tmpfp(fc->temp_dir, err);
        const char *to[1] = {sender};

        if (fp == NULL) {
            rc = FERR_TEMP;
            goto out;
        }
        rc = ob_notice(&o, refused, nnotice, fp, err);
        if (rc == FERR_OK)
            rc = reinject_send(&fc->reinject, fileno(fp), "", to, 1, err);
        fclose(fp);
        if (rc != FERR_OK)
            goto out;
        for (i = 0; i < nnotice; i++)
            log_info("from=<%s> to=<%s>: not delivered, no usable key (%s); notice sent", sender,
                     o.r[refused[i]].addr, o.r[refused[i]].why);
    }
    rc = FERR_OK;
out:
    free(refused);
    ob_free(&o);
    return rc;
}
