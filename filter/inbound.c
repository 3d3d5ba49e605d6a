/*
 * inbound: what postseal-filter does to mail coming into the organisation.
 * Removes forged X-Postseal-Verify headers, decrypts a PGP/MIME (RFC 3156)
 * or S/MIME (RFC 8551) encrypted message addressed to one of the gateway's
 * keys, verifies the signature (multipart/signed over the original bytes,
 * opaque S/MIME, OpenPGP signed+encrypted), asks status.c whether the signer
 * is revoked, applies the [inbound] signature policy and stamps the result
 * in X-Postseal-Verify.
 *
 * Contract: only an encrypted entity that IS the message body (top level)
 * is decrypted; encrypted parts anywhere below it are left alone and named
 * in the header (EFAIL: decrypted text is never spliced next to parts an
 * attacker controls).  The decrypted entity replaces the body; the outer
 * header fields are kept except Content-* (replaced by the entity's) and
 * user-facing fields the entity carries itself (RFC 9788 protected headers:
 * Subject, To, Cc, Date, ...; never From or trace fields; HP-Outer dropped).  A message we hold no
 * key for is delivered unchanged.  Policy outcomes: deliver, tag (Subject prefix), hold (file in
 * hold_dir, nothing reinjected; without hold_dir written out with "X-Postseal-Hold:" and
 * INBOUND_HOLD: the caller sends it to [filter] hold_reinject, see inbound_run.c), reject
 * (FERR_PERM 5.7.x), defer (FERR_TEMP 4.7.0, status server unreachable).  Nothing is written to out
 * unless the result is FERR_OK.
 *
 * Limits: encrypted bodies up to max_decrypt_size bytes; one level of
 * signature inside an encrypted message; the first signature is judged.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>

#include "inbound_int.h"
#include "inbound_raw.h"
#include "keys.h"
#include "log.h"
#include "mime.h"
#include "pgp_in.h"
#include "smime_in.h"
#include "spool.h"

#define INBOUND_HEADER "X-Postseal-Verify"
#define INBOUND_IO 65536

enum inbound_method { INB_NONE, INB_PGP, INB_SMIME };

struct inbound_ctx {
    const struct inbound_cfg *ic;
    int fd;
    off_t start, end;
    struct mime_header hdr; /* outer header section */
    struct mime_msg msg;    /* the message's structure (parsed == 1) */
    int parsed;
    int hdr_bad;              /* the strict parser refused hdr: inbound_raw */
    char from[256];           /* From address */
    int kind;                 /* INBOUND_KIND_* before processing */
    struct inbound_rule rule; /* the rule that applies */
    /* decryption */
    int decrypt_method; /* enum inbound_method of the encryption */
    char decrypt[320];  /* header item: "pgp", "none (...)", "failed (...)" */
    int decrypt_failed;
    /* replacement entity (decrypted or opaque-signed content), LF ends */
    int ent_fd;
    struct mime_header ent;
    int ent_ok;
    /* signature */
    struct pgp_in *pgp;
    struct smime_in *smime;
    struct inbound_sig sig;
    char note[200]; /* EFAIL and other remarks */
};

/* ---- small helpers ---- */

static const char *inbound_tmpdir; /* inbound_set_tmpdir; NULL: $TMPDIR or /tmp */

void inbound_set_tmpdir(const char *dir)
{
    inbound_tmpdir = dir;
}

/* An anonymous temp file (spool.c: O_TMPFILE, never has a name), so
 * decrypted text is never left behind. */
static int inbound_tmp(void)
{
    const char *dir = inbound_tmpdir ? inbound_tmpdir : getenv("TMPDIR");
    struct ferr e;

    return spool_tmpfile(dir && dir[0] ? dir : "/tmp", &e);
}

static int inbound_pread_all(int fd, off_t off, char *buf, size_t len, size_t *got)
{
    ssize_t r;

    do
        r = pread(fd, buf, len, off);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return -1;
    *got = (size_t)r;
    return 0;
}

static int inbound_write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, p, len);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Copies [off, end) of fd to out. */
static int inbound_copy(int fd, off_t off, off_t end, FILE *out)
{
    char buf[INBOUND_IO];

    while (off < end) {
        size_t want = (size_t)(end - off) < sizeof(buf) ? (size_t)(end - off) : sizeof(buf), got;

        if (inbound_pread_all(fd, off, buf, want, &got) < 0 || got == 0)
            return -1;
        if (fwrite(buf, 1, got, out) != got)
            return -1;
        off += (off_t)got;
    }
    return 0;
}

#define INBOUND_EXTRACT_BAD (-2)

/* Writes [off, end) of fd to a new temp file: decoded from cte, and with LF
 * turned into CRLF when crlf (the canonical form signatures cover).
 * Returns the temp fd positioned at 0, -1 for a local failure (temp file,
 * read error) or INBOUND_EXTRACT_BAD when the content itself is bad (broken
 * transfer encoding, larger than max bytes); why says why. */
static int inbound_extract(int fd, off_t off, off_t end, int cte, int crlf, long max, char *why,
                           size_t whylen)
{
    static char in[INBOUND_IO], dec[INBOUND_IO + MIME_DEC_SLACK], outb[2 * sizeof(dec)];
    struct mime_dec d;
    off_t total = 0;
    int tfd = inbound_tmp(), last_cr = 0, rc = -1;

    if (tfd < 0) {
        snprintf(why, whylen, "cannot create temporary file: %s", strerror(errno));
        return -1;
    }
    mime_dec_init(&d, cte);
    for (;;) {
        size_t want = (size_t)(end - off) < sizeof(in) ? (size_t)(end - off) : sizeof(in), got = 0;
        size_t dl = 0, i, ol = 0;
        int fin = want == 0;

        if (!fin && (inbound_pread_all(fd, off, in, want, &got) < 0 || got == 0)) {
            snprintf(why, whylen, "read error: %s", strerror(errno));
            goto bad;
        }
        off += (off_t)got;
        if (fin ? mime_dec_final(&d, dec, &dl) : mime_dec_update(&d, in, got, dec, &dl)) {
            snprintf(why, whylen, "bad transfer encoding: %s", d.error);
            rc = INBOUND_EXTRACT_BAD;
            goto bad;
        }
        for (i = 0; i < dl; i++) {
            if (crlf && dec[i] == '\n' && !last_cr)
                outb[ol++] = '\r';
            last_cr = dec[i] == '\r';
            outb[ol++] = dec[i];
        }
        total += (off_t)ol;
        if (max > 0 && total > max) {
            snprintf(why, whylen, "larger than %ld bytes", max);
            rc = INBOUND_EXTRACT_BAD;
            goto bad;
        }
        if (inbound_write_all(tfd, outb, ol) < 0) {
            snprintf(why, whylen, "temporary file: %s", strerror(errno));
            goto bad;
        }
        if (fin)
            break;
    }
    if (lseek(tfd, 0, SEEK_SET) < 0)
        goto bad;
    return tfd;
bad:
    close(tfd);
    return rc;
}

/* Copies src (from 0) to a new temp file with every CRLF turned into LF. */
static int inbound_unix_eol(int src, char *why, size_t whylen)
{
    char in[INBOUND_IO], out[INBOUND_IO];
    int tfd = inbound_tmp(), held_cr = 0;
    ssize_t r;

    if (tfd < 0 || lseek(src, 0, SEEK_SET) < 0) {
        snprintf(why, whylen, "temporary file: %s", strerror(errno));
        if (tfd >= 0)
            close(tfd);
        return -1;
    }
    while ((r = read(src, in, sizeof(in))) > 0) {
        size_t i, ol = 0;

        for (i = 0; i < (size_t)r; i++) {
            if (held_cr && in[i] != '\n')
                out[ol++] = '\r';
            held_cr = in[i] == '\r';
            if (!held_cr)
                out[ol++] = in[i];
            if (ol >= sizeof(out) - 2) {
                if (inbound_write_all(tfd, out, ol) < 0)
                    goto bad;
                ol = 0;
            }
        }
        if (inbound_write_all(tfd, out, ol) < 0)
            goto bad;
    }
    if (r < 0 || (held_cr && inbound_write_all(tfd, "\r", 1) < 0) || lseek(tfd, 0, SEEK_SET) < 0)
        goto bad;
    return tfd;
bad:
    snprintf(why, whylen, "temporary file: %s", strerror(errno));
    close(tfd);
    return -1;
}

/* The addr-spec of a From value: inside <...>, else the value without
 * comments and blanks. */
static void inbound_from_addr(const char *v, char *out, size_t len)
{
    const char *lt = strrchr(v, '<'), *gt;
    size_t n = 0;
    int depth = 0;

    out[0] = 0;
    if (lt && (gt = strchr(lt, '>')) != NULL) {
        snprintf(out, len, "%.*s", (int)(gt - lt - 1), lt + 1);
        return;
    }
    for (; *v && n + 1 < len; v++) {
        if (*v == '(')
            depth++;
        else if (*v == ')' && depth > 0)
            depth--;
        else if (depth == 0 && *v == ',')
            break;
        else if (depth == 0 && *v != ' ' && *v != '\t')
            out[n++] = *v;
    }
    out[n] = 0;
}

static const char *inbound_param(const struct mime_part *p, const char *name)
{
    const char *v = mime_hvalue_param(&p->ctype, name);

    return v ? v : "";
}

/* ---- classification ---- */

static int inbound_is_pkcs7(const struct mime_part *p)
{
    return mime_part_is(p, "application", "pkcs7-mime") ||
           mime_part_is(p, "application", "x-pkcs7-mime");
}

/* The content type of the CMS ContentInfo in the body of p (RFC 5652 3),
 * read from its first bytes: 1 signedData, 0 anything else or unreadable. */
static int inbound_cms_is_signed(int fd, const struct mime_part *p)
{
    static const unsigned char signed_oid[] = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                               0xf7, 0x0d, 0x01, 0x07, 0x02};
    char raw[256], dec[sizeof(raw) + MIME_DEC_SLACK];
    const unsigned char *d = (const unsigned char *)dec;
    size_t want = sizeof(raw), got = 0, dl = 0, i = 2;
    struct mime_dec md;

    if (p->end - p->body < (off_t)want)
        want = (size_t)(p->end - p->body);
    if (inbound_pread_all(fd, p->body, raw, want, &got) < 0)
        return 0;
    mime_dec_init(&md, p->cte);
    if (mime_dec_update(&md, raw, got, dec, &dl) != MIME_OK || dl < 2 + sizeof(signed_oid) ||
        d[0] != 0x30)
        return 0;
    if (d[1] > 0x80) /* long form (0x80 = indefinite length: no length octets) */
        i += d[1] & 0x7f;
    return i + sizeof(signed_oid) <= dl && memcmp(d + i, signed_oid, sizeof(signed_oid)) == 0;
}

/* 1 when the pkcs7-mime part p of fd holds signed-data: its smime-type says
 * so or, without smime-type (older agents, RFC 8551 3.2.2 makes it
 * optional; e.g. "application/x-pkcs7-mime; name=smime.p7m"), its content
 * is a signedData. */
static int inbound_pkcs7_signed(int fd, const struct mime_part *p)
{
    const char *st = inbound_param(p, "smime-type");

    if (*st != 0)
        return strcasecmp(st, "signed-data") == 0;
    return inbound_cms_is_signed(fd, p);
}

static int inbound_is_encrypted_part(struct mime_part *p, void *arg)
{
    struct mime_part *root = arg;
    const char *st;

    if (p == root)
        return 0;
    if (mime_part_is(p, "multipart", "encrypted"))
        return 1;
    if (inbound_is_pkcs7(p)) {
        st = inbound_param(p, "smime-type");
        return strcasecmp(st, "signed-data") != 0 && strcasecmp(st, "certs-only") != 0;
    }
    return 0;
}

/* Sets ctx->kind from the message's top-level structure. */
static void inbound_classify(struct inbound_ctx *c)
{
    struct mime_part *r = c->msg.root;

    c->kind = INBOUND_KIND_PLAIN;
    if (!c->parsed)
        return;
    if (mime_part_is(r, "multipart", "encrypted")) {
        c->kind = INBOUND_KIND_ENCRYPTED;
    } else if (inbound_is_pkcs7(r) && strcasecmp(inbound_param(r, "smime-type"), "certs-only")) {
        c->kind = inbound_pkcs7_signed(c->fd, r) ? INBOUND_KIND_SIGNED : INBOUND_KIND_ENCRYPTED;
    } else if (mime_part_is(r, "multipart", "signed")) {
        c->kind = INBOUND_KIND_SIGNED;
    } else if (mime_walk(r, inbound_is_encrypted_part, r)) {
        snprintf(c->note, sizeof(c->note),
                 "encrypted part below the top level left encrypted (EFAIL protection)");
    }
}

/* ---- replacement entity ---- */

/* Takes tfd (content with CRLF or LF ends) as the replacement entity. */
static int inbound_entity(struct inbound_ctx *c, int tfd, char *why, size_t whylen)
{
    struct mime_err merr;
    int lf = inbound_unix_eol(tfd, why, whylen);

    close(tfd);
    if (lf < 0)
        return -1;
    if (mime_header_read(lf, 0, -1, "decrypted entity", &c->ent, &merr) != MIME_OK) {
        snprintf(why, whylen, "content is not a MIME entity: %.180s", merr.text);
        close(lf);
        return -1;
    }
    if (c->ent_ok) {
        mime_header_free(&c->ent);
        close(c->ent_fd);
    }
    c->ent_fd = lf;
    c->ent_ok = 1;
    return 0;
}

/* ---- signatures ---- */

/* Shortens every URL in text to scheme://host/... (in place): the reasons of
 * a key lookup name the URLs asked ("wkd: URL: HTTP 404 (no key)"); in the
 * bounded result header the host and the answer matter, not the WKD hash. */
static void inbound_short_urls(char *text)
{
    char *p = text, *host, *path, *end;

    while ((p = strstr(p, "://")) != NULL) {
        host = p + 3;
        path = host + strcspn(host, "/ ;");
        if (*path != '/') {
            p = path;
            continue;
        }
        end = path;
        while (*end && !((end[0] == ':' || end[0] == ';') && (end[1] == ' ' || end[1] == 0)))
            end++;
        if (end - path > 4) {
            memcpy(path, "/...", 4);
            memmove(path + 4, end, strlen(end) + 1);
        }
        p = path + 4;
    }
}

/* pgp_in's lookup hook (signer_lookup): the From address's key by the
 * [keys] methods, imported into [inbound] gnupg_home. */
static int inbound_signer_lookup(void *arg, const char *addr, char *fpr, size_t fprlen,
                                 char *source, size_t srclen, char *why, size_t whylen)
{
    const struct inbound_cfg *ic = arg;
    struct keys_result res;
    struct ferr err;
    int rc = keys_find_signer(ic->keys, ic->gnupg_home, addr, &res, &err);

    if (rc == KEYS_FOUND) {
        snprintf(fpr, fprlen, "%s", res.fpr);
        snprintf(source, srclen, "%s", res.source);
    } else {
        snprintf(why, whylen, "%s", res.why[0] ? res.why : "no method found one");
        inbound_short_urls(why);
    }
    keys_result_clear(&res);
    return rc == KEYS_FOUND  ? PGP_IN_LOOKUP_FOUND
           : rc == KEYS_TEMP ? PGP_IN_LOOKUP_TEMP
                             : PGP_IN_LOOKUP_NONE;
}

static struct pgp_in *inbound_pgp(struct inbound_ctx *c, char *why, size_t whylen)
{
    if (c->pgp == NULL &&
        (c->pgp = pgp_in_new(c->ic->gnupg_home, &c->ic->status, why, whylen)) != NULL) {
        pgp_in_set_trust_wkd(c->pgp, c->ic->trust_wkd);
        if (c->ic->keys != NULL)
            pgp_in_set_lookup(c->pgp, inbound_signer_lookup, (void *)c->ic);
    }
    return c->pgp;
}

static struct smime_in *inbound_smime(struct inbound_ctx *c, char *why, size_t whylen)
{
    const struct inbound_cfg *ic = c->ic;
    char *keys[16], *certs[16];
    size_t i;

    if (c->smime)
        return c->smime;
    for (i = 0; i < ic->n_smime && i < 16; i++) {
        keys[i] = ic->smime[i].key;
        certs[i] = ic->smime[i].cert;
    }
    c->smime = smime_in_new(keys, certs, i, ic->ca_file, ic->ca_path, why, whylen);
    return c->smime;
}

static void inbound_sig_error(struct inbound_ctx *c, const char *method, const char *fmt,
                              const char *what)
{
    memset(&c->sig, 0, sizeof(c->sig));
    c->sig.present = 1;
    snprintf(c->sig.method, sizeof(c->sig.method), "%s", method);
    snprintf(c->sig.why, sizeof(c->sig.why), fmt, what);
}

/* multipart/signed: part 1 is the signed entity, part 2 the signature.
 * Returns FERR_TEMP on local trouble, else FERR_OK (result in c->sig). */
static int inbound_verify_multipart(struct inbound_ctx *c, int fd, struct mime_part *r,
                                    struct ferr *err)
{
    struct mime_part *body = r->child, *sigp = body ? body->next : NULL;
    const char *proto = inbound_param(r, "protocol");
    int pgp = strcasecmp(proto, "application/pgp-signature") == 0;
    int smime = strcasecmp(proto, "application/pkcs7-signature") == 0 ||
                strcasecmp(proto, "application/x-pkcs7-signature") == 0;
    char why[240];
    int dfd = -1, sfd = -1;

    if (!pgp && !smime) {
        inbound_sig_error(c, "?", "unsupported signature protocol \"%.100s\"", proto);
        return FERR_OK;
    }
    if (body == NULL || sigp == NULL || sigp->next != NULL) {
        inbound_sig_error(c, pgp ? "pgp" : "smime", "%s",
                          "multipart/signed does not have exactly two parts");
        return FERR_OK;
    }
    if ((dfd = inbound_extract(fd, body->off, body->end, MIME_CTE_7BIT, 1, 0, why, sizeof(why))) <
            0 ||
        (sfd = inbound_extract(fd, sigp->body, sigp->end, sigp->cte, 0, 1 << 20, why,
                               sizeof(why))) < 0) {
        if (dfd >= 0)
            close(dfd);
        if (dfd >= 0 && sfd == INBOUND_EXTRACT_BAD) {
            inbound_sig_error(c, pgp ? "pgp" : "smime", "signature part: %.200s", why);
            return FERR_OK;
        }
        ferr_set(err, FERR_TEMP, "4.3.0 inbound: %s", why);
        return FERR_TEMP;
    }
    if (pgp) {
        if (inbound_pgp(c, why, sizeof(why)) == NULL) {
            ferr_set(err, FERR_TEMP, "4.3.0 inbound: %s", why);
            goto temp;
        }
        pgp_in_verify(c->pgp, sfd, dfd, c->from, &c->sig);
    } else {
        BIO *sb, *db;

        if (inbound_smime(c, why, sizeof(why)) == NULL) {
            ferr_set(err, FERR_TEMP, "4.3.0 inbound: %s", why);
            goto temp;
        }
        sb = BIO_new_fd(sfd, BIO_NOCLOSE);
        db = BIO_new_fd(dfd, BIO_NOCLOSE);
        if (sb == NULL || db == NULL) {
            BIO_free(sb);
            BIO_free(db);
            ferr_set(err, FERR_TEMP, "4.3.0 inbound: out of memory");
            goto temp;
        }
        smime_in_verify(c->smime, sb, db, NULL, c->from, &c->ic->status, &c->sig);
        BIO_free(sb);
        BIO_free(db);
    }
    close(dfd);
    close(sfd);
    return FERR_OK;
temp:
    close(dfd);
    close(sfd);
    return FERR_TEMP;
}

/* Opaque S/MIME signed-data at part r of fd: verify and take the content
 * as the replacement entity. */
static int inbound_verify_opaque(struct inbound_ctx *c, int fd, struct mime_part *r,
                                 struct ferr *err)
{
    char why[240];
    int sfd, ofd;
    BIO *sb = NULL, *ob = NULL;

    if ((sfd = inbound_extract(fd, r->body, r->end, r->cte, 0, c->ic->max_decrypt_size, why,
                               sizeof(why))) < 0) {
        if (sfd != INBOUND_EXTRACT_BAD) {
            ferr_set(err, FERR_TEMP, "4.3.0 inbound: %s", why);
            return FERR_TEMP;
        }
        inbound_sig_error(c, "smime", "signed-data: %.200s", why);
        return FERR_OK;
    }
    if ((ofd = inbound_tmp()) < 0 || inbound_smime(c, why, sizeof(why)) == NULL) {
        close(sfd);
        if (ofd >= 0)
            close(ofd);
        ferr_set(err, FERR_TEMP, "4.3.0 inbound: %s", ofd < 0 ? strerror(errno) : why);
        return FERR_TEMP;
    }
    sb = BIO_new_fd(sfd, BIO_NOCLOSE);
    ob = BIO_new_fd(ofd, BIO_NOCLOSE);
    if (sb && ob)
        smime_in_verify(c->smime, sb, NULL, ob, c->from, &c->ic->status, &c->sig);
    BIO_free(sb);
    BIO_free(ob);
    close(sfd);
    if (c->sig.valid && inbound_entity(c, ofd, why, sizeof(why)) < 0) {
        c->sig.valid = 0;
        snprintf(c->sig.why, sizeof(c->sig.why), "signed content: %.200s", why);
    } else if (!c->sig.valid) {
        close(ofd);
    }
    return FERR_OK;
}

/* Verifies whatever signature the entity at fd (parsed as m) carries. */
static int inbound_verify(struct inbound_ctx *c, int fd, struct mime_msg *m, struct ferr *err)
{
    struct mime_part *r = m->root;

    if (mime_part_is(r, "multipart", "signed"))
        return inbound_verify_multipart(c, fd, r, err);
    if (inbound_is_pkcs7(r) && inbound_pkcs7_signed(fd, r))
        return inbound_verify_opaque(c, fd, r, err);
    return FERR_OK;
}

/* ---- decryption ---- */

static void inbound_decrypt_failed(struct inbound_ctx *c, const char *method, const char *why)
{
    c->decrypt_failed = 1;
    snprintf(c->decrypt, sizeof(c->decrypt), "failed (%s: %.250s)", method, why);
}

static int inbound_decrypt_pgp(struct inbound_ctx *c, struct ferr *err)
{
    struct mime_part *r = c->msg.root, *ctl = r->child, *data = ctl ? ctl->next : NULL;
    char why[240];
    int in, out, rc;

    if (strcasecmp(inbound_param(r, "protocol"), "application/pgp-encrypted") != 0 || ctl == NULL ||
        data == NULL || data->next != NULL || !mime_part_is(ctl, "application", "pgp-encrypted") ||
        !mime_part_is(data, "application", "octet-stream")) {
        inbound_decrypt_failed(c, "pgp", "not a PGP/MIME encrypted message (RFC 3156 section 4)");
        return FERR_OK;
    }
    c->decrypt_method = INB_PGP;
    if ((in = inbound_extract(c->fd, data->body, data->end, data->cte, 0, c->ic->max_decrypt_size,
                              why, sizeof(why))) < 0) {
        if (in != INBOUND_EXTRACT_BAD) {
            ferr_set(err, FERR_TEMP, "4.3.0 inbound: %s", why);
            return FERR_TEMP;
        }
        inbound_decrypt_failed(c, "pgp", why);
        return FERR_OK;
    }
    if ((out = inbound_tmp()) < 0 || inbound_pgp(c, why, sizeof(why)) == NULL) {
        close(in);
        if (out >= 0)
            close(out);
        ferr_set(err, FERR_TEMP, "4.3.0 inbound: %s", out < 0 ? strerror(errno) : why);
        return FERR_TEMP;
    }
    rc = pgp_in_decrypt(c->pgp, in, out, c->from, &c->sig, why, sizeof(why));
    close(in);
    if (rc == PGP_IN_OK && inbound_entity(c, out, why, sizeof(why)) == 0) {
        snprintf(c->decrypt, sizeof(c->decrypt), "pgp");
        return FERR_OK;
    }
    if (rc != PGP_IN_OK)
        close(out);
    memset(&c->sig, 0, sizeof(c->sig));
    if (rc == PGP_IN_TEMP) {
        ferr_set(err, FERR_TEMP, "4.3.0 inbound: %s", why);
        return FERR_TEMP;
    }
    if (rc == PGP_IN_NOKEY)
        snprintf(c->decrypt, sizeof(c->decrypt), "none (pgp: %.200s)", why);
    else
        inbound_decrypt_failed(c, "pgp", why);
    return FERR_OK;
}

static int inbound_decrypt_smime(struct inbound_ctx *c, struct ferr *err)
{
    struct mime_part *r = c->msg.root;
    char why[240];
    int in, out = -1, ct = -1, rc = SMIME_IN_FAIL;
    BIO *ob = NULL;

    c->decrypt_method = INB_SMIME;
    if ((in = inbound_extract(c->fd, r->body, r->end, r->cte, 0, c->ic->max_decrypt_size, why,
                              sizeof(why))) < 0) {
        if (in != INBOUND_EXTRACT_BAD) {
            ferr_set(err, FERR_TEMP, "4.3.0 inbound: %s", why);
            return FERR_TEMP;
        }
        inbound_decrypt_failed(c, "smime", why);
        return FERR_OK;
    }
    if ((out = inbound_tmp()) < 0 || (ct = inbound_tmp()) < 0 ||
        inbound_smime(c, why, sizeof(why)) == NULL) {
        ferr_set(err, FERR_TEMP, "4.3.0 inbound: %s", out < 0 || ct < 0 ? strerror(errno) : why);
        close(in);
        if (out >= 0)
            close(out);
        if (ct >= 0)
            close(ct);
        return FERR_TEMP;
    }
    if ((ob = BIO_new_fd(out, BIO_NOCLOSE)) != NULL)
        rc = smime_in_decrypt(c->smime, in, ct, ob, why, sizeof(why));
    else
        snprintf(why, sizeof(why), "out of memory");
    BIO_free(ob);
    close(in);
    close(ct);
    if (rc == SMIME_IN_OK && inbound_entity(c, out, why, sizeof(why)) == 0) {
        snprintf(c->decrypt, sizeof(c->decrypt), "smime");
        return FERR_OK;
    }
    if (rc != SMIME_IN_OK)
        close(out);
    if (rc == SMIME_IN_NOKEY)
        snprintf(c->decrypt, sizeof(c->decrypt), "none (smime: %.200s)", why);
    else
        inbound_decrypt_failed(c, "smime", why);
    return FERR_OK;
}

/* After a decryption: the entity may itself be signed (sign-then-encrypt). */
static int inbound_verify_inner(struct inbound_ctx *c, struct ferr *err)
{
    struct mime_msg m;
    struct mime_err merr;
    int rc;

    if (mime_parse(c->ent_fd, 0, -1, &m, &merr) != MIME_OK) {
        if (!c->sig.present)
            snprintf(c->note, sizeof(c->note), "decrypted entity: %.150s", merr.text);
        return FERR_OK;
    }
    if (c->sig.present) { /* OpenPGP signed+encrypted: already judged */
        mime_msg_free(&m);
        return FERR_OK;
    }
    rc = inbound_verify(c, c->ent_fd, &m, err);
    mime_msg_free(&m);
    return rc;
}

/* ---- decision ---- */

static const char *inbound_label(const struct inbound_sig *s)
{
    if (!s->present)
        return "none";
    if (!s->valid)
        return "invalid";
    if (!s->from_match)
        return "signer-mismatch";
    if (s->expired)
        return "expired";
    if (s->status.state == STATUS_REVOKED)
        return "revoked";
    if (!s->trusted)
        return "untrusted";
    return "valid";
}

static const char *const inbound_action_name[] = {"deliver", "tag", "hold", "reject", "defer"};

/* Severity order: deliver < tag < hold < defer < reject. */
static int inbound_worse(int a, int b)
{
    static const int rank[] = {0, 1, 2, 4, 3};

    return rank[b] > rank[a] ? b : a;
}

/* Judges c->sig against the rule.  Returns the action; reason says why it
 * is not deliver. */
static int inbound_judge(struct inbound_ctx *c, char *reason, size_t len)
{
    const struct inbound_rule *r = &c->rule;
    const struct inbound_sig *s = &c->sig;
    int req = r->require, act = INBOUND_DELIVER;

    reason[0] = 0;
    if (c->decrypt_failed) {
        act = r->on_decrypt_fail;
        snprintf(reason, len, "cannot decrypt: %.200s", c->decrypt);
    }
    if (r->verify == INBOUND_VERIFY_OFF)
        return act;
    if (!s->present) {
        if (r->verify == INBOUND_VERIFY_REQUIRED && !c->decrypt_failed) {
            snprintf(reason, len, "message is not signed (signature required)");
            act = inbound_worse(act, r->on_fail);
        }
        return act;
    }
    if ((req & INBOUND_REQ_VALID) && !s->valid && s->key_unreachable) {
        /* The signer's key may exist.  Where the rule requires a signature
         * (a partner's rule), that is judged like an unreachable status
         * server: on_unreachable, by default the mail waits in the queue.
         * Otherwise a stranger's broken web server must not hold mail for
         * days: the signature counts as not verified (on_fail). */
        snprintf(reason, len, "signer key unreachable: %.200s", s->why);
        if (r->verify == INBOUND_VERIFY_REQUIRED)
            return inbound_worse(act, r->on_unreachable);
        return inbound_worse(act, r->on_fail);
    }
    if ((req & INBOUND_REQ_VALID) && (!s->valid || !s->from_match || s->expired)) {
        if (!s->valid)
            snprintf(reason, len, "invalid signature: %.200s", s->why);
        else if (!s->from_match)
            snprintf(reason, len, "signer mismatch: signed by %.100s, From is %.100s", s->signer,
                     c->from[0] ? c->from : "empty");
        else
            snprintf(reason, len, "signer certificate or key of %.100s expired", s->signer);
        return inbound_worse(act, r->on_fail);
    }
    if ((req & INBOUND_REQ_TRUSTED) && !s->trusted) {
        snprintf(reason, len, "signer not trusted: %.200s", s->why);
        return inbound_worse(act, r->on_fail);
    }
    if ((req & INBOUND_REQ_NOT_REVOKED) && s->status.state == STATUS_REVOKED) {
        snprintf(reason, len, "signer revoked: %.200s", s->status.detail);
        return inbound_worse(act, r->on_fail);
    }
    if (req & INBOUND_REQ_STATUS_KNOWN) {
        if (s->status.state == STATUS_UNREACHABLE) {
            snprintf(reason, len, "certificate status unreachable: %.200s", s->status.detail);
            return inbound_worse(act, r->on_unreachable);
        }
        if (s->status.state != STATUS_GOOD) {
            snprintf(reason, len, "certificate status %s: %.200s", status_name(s->status.state),
                     s->status.detail);
            return inbound_worse(act, r->on_fail);
        }
    }
    return act;
}

/* The X-Postseal-Verify value: label; items. */
static void inbound_stamp(struct inbound_ctx *c, int act, char *reason, char *out, size_t len)
{
    const struct inbound_sig *s = &c->sig;
    char *q;
    size_t n;

    /* free text goes inside quotes: no quotes in it */
    for (q = (char *)reason; *q; q++)
        if (*q == '"')
            *q = '\'';
    for (q = c->note; *q; q++)
        if (*q == '"')
            *q = '\'';
    for (q = c->sig.signer; *q; q++)
        if (*q == '"' || *q == ';')
            *q = '\'';
    n = (size_t)snprintf(out, len, "%s",
                         c->rule.verify == INBOUND_VERIFY_OFF && s->present ? "unchecked"
                                                                            : inbound_label(s));
    if (s->present && n < len)
        n += (size_t)snprintf(out + n, len - n, "; method=%s; signer=\"%.100s\"", s->method,
                              s->signer);
    if (s->present && s->valid && n < len)
        n += (size_t)snprintf(out + n, len - n, "; status=%s%s%s%s", status_name(s->status.state),
                              s->status.source[0] ? " (" : "", s->status.source,
                              s->status.source[0] ? ")" : "");
    if (c->decrypt[0] && n < len)
        n += (size_t)snprintf(out + n, len - n, "; decrypt=%s", c->decrypt);
    if (n < len)
        n += (size_t)snprintf(out + n, len - n, "; rule=%s; action=%s", c->rule.name,
                              inbound_action_name[act]);
    if (reason[0] && n < len)
        n += (size_t)snprintf(out + n, len - n, "; reason=\"%s\"", reason);
    if (c->note[0] && n < len)
        snprintf(out + n, len - n, "; note=\"%s\"", c->note);
    /* The value goes into a header: printable ASCII only (signer names
     * and reasons come from certificates and servers we do not control). */
    for (n = 0; out[n]; n++)
        if ((unsigned char)out[n] < 0x20 || (unsigned char)out[n] > 0x7e)
            out[n] = (unsigned char)out[n] == '\t' ? ' ' : '?';
}

/* ---- output ---- */

static int inbound_name_in(const struct mime_header *h, const char *name)
{
    return h && mime_header_find(h, name, NULL) != NULL;
}

/* Fields of the decrypted entity that reach the top level: its Content-*
 * fields and the RFC 9788 user-facing ones.  From is not taken (the signer
 * was checked against the outer From), nor trace or other fields an
 * attacker could plant (Received, Return-Path, Delivered-To, ...). */
static int inbound_inner_ok(const char *name)
{
    static const char *const protected[] = {"Subject",     "To",         "Cc",          "Reply-To",
                                            "Date",        "Message-ID", "Keywords",    "Comments",
                                            "In-Reply-To", "References", "MIME-Version"};
    size_t i;

    if (strncasecmp(name, "Content-", 8) == 0)
        return 1;
    for (i = 0; i < sizeof(protected) / sizeof(protected[0]); i++)
        if (strcasecmp(name, protected[i]) == 0)
            return 1;
    return 0;
}

/* Writes one raw header field, with the tag inserted after "Subject:". */
static int inbound_put_field(int fd, const struct mime_field *f, const char *tag, FILE *out)
{
    if (tag && strcasecmp(f->name, "Subject") == 0) {
        fprintf(out, "Subject: %s", tag);
        if (f->value[0])
            fputc(' ', out);
        /* the raw field after "Subject:" and its blanks */
        {
            char buf[MIME_MAX_HEADER_LINE + 2];
            size_t got, skip;

            if (inbound_pread_all(fd, f->off, buf,
                                  (size_t)(f->end - f->off) < sizeof(buf) - 1
                                      ? (size_t)(f->end - f->off)
                                      : sizeof(buf) - 1,
                                  &got) < 0)
                return -1;
            buf[got] = 0;
            skip = strlen(f->name);
            while (skip < got && buf[skip] != ':')
                skip++;
            skip++;
            while (skip < got && (buf[skip] == ' ' || buf[skip] == '\t'))
                skip++;
            if (fwrite(buf + skip, 1, got - skip, out) != got - skip)
                return -1;
            return inbound_copy(fd, f->off + (off_t)got, f->end, out);
        }
    }
    return inbound_copy(fd, f->off, f->end, out);
}

/* Authentication-Results (RFC 8601) for the signature: the method is
 * "smime" (RFC 7281) or "x-pgp"; valid = pass, untrusted = neutral, no
 * signature = none, anything else = fail. */
static void inbound_authres(const struct inbound_ctx *c, char *out, size_t len)
{
    const struct inbound_sig *s = &c->sig;
    const char *label = inbound_label(s), *res;

    if (!s->present || c->rule.verify == INBOUND_VERIFY_OFF) {
        snprintf(out, len, "%s; none", c->ic->authserv_id);
        return;
    }
    if (strcmp(label, "valid") == 0)
        res = "pass";
    else if (strcmp(label, "untrusted") == 0)
        res = "neutral";
    else
        res = "fail";
    snprintf(out, len, "%s; %s=%s (%s, status %s) header.from=%s", c->ic->authserv_id,
             strcmp(s->method, "pgp") == 0 ? "x-pgp" : "smime", res, label,
             status_name(s->status.state), c->from[0] ? c->from : "unknown");
}

/* Our result fields and, with authserv_id, Authentication-Results that claim
 * to come from us (RFC 8601 section 5): never passed on from outside. */
static int inbound_is_ours(const struct inbound_ctx *c, const struct mime_field *f)
{
    return inbound_field_is_ours(f->name, strlen(f->name), f->value, strlen(f->value),
                                 c->ic->authserv_id);
}

static int inbound_emit(struct inbound_ctx *c, const char *stamp, int act, const char *reason,
                        FILE *out)
{
    const struct mime_header *ent = c->ent_ok ? &c->ent : NULL;
    const char *tag = act == INBOUND_TAG ? c->rule.tag : NULL;
    int tagged = 0;
    size_t i;

    fprintf(out, "%s: %s\n", INBOUND_HEADER, stamp);
    /* hold without hold_dir: the caller hands it to the holding smtpd
     * (hold_reinject, as for [filter] no_key = hold); the header says why */
    if (act == INBOUND_HOLD && c->ic->hold_dir == NULL) {
        char why[301];
        size_t j;

        snprintf(why, sizeof(why), "%s", reason[0] ? reason : "policy");
        for (j = 0; why[j]; j++)
            if ((unsigned char)why[j] < 0x20 || (unsigned char)why[j] > 0x7e)
                why[j] = '?';
        fprintf(out, "X-Postseal-Hold: inbound: %s\n", why);
    }
    if (c->ic->authserv_id) {
        char ar[600];
        size_t j;

        inbound_authres(c, ar, sizeof(ar));
        for (j = 0; ar[j]; j++)
            if ((unsigned char)ar[j] < 0x20 || (unsigned char)ar[j] > 0x7e)
                ar[j] = '?';
        fprintf(out, "Authentication-Results: %s\n", ar);
    }
    if (c->hdr_bad)
        return inbound_raw_copy(c->fd, c->start, c->end, c->ic->authserv_id, tag, out);
    for (i = 0; i < c->hdr.count; i++) {
        const struct mime_field *f = &c->hdr.fields[i];

        if (inbound_is_ours(c, f))
            continue;
        if (ent && (strncasecmp(f->name, "Content-", 8) == 0 ||
                    (inbound_inner_ok(f->name) && inbound_name_in(ent, f->name))))
            continue;
        if (tag && strcasecmp(f->name, "Subject") == 0) {
            if (tagged)
                continue;
            tagged = 1;
        }
        if (inbound_put_field(c->fd, f, tag, out) < 0)
            return -1;
    }
    if (ent) {
        for (i = 0; i < ent->count; i++) {
            const struct mime_field *f = &ent->fields[i];

            if (!inbound_inner_ok(f->name))
                continue;
            if (tag && strcasecmp(f->name, "Subject") == 0) {
                if (tagged)
                    continue;
                tagged = 1;
            }
            if (inbound_put_field(c->ent_fd, f, tag, out) < 0)
                return -1;
        }
    }
    if (tag && !tagged)
        fprintf(out, "Subject: %s\n", tag);
    fputc('\n', out);
    if (ent) {
        struct stat st;

        if (fstat(c->ent_fd, &st) < 0 || inbound_copy(c->ent_fd, ent->body, st.st_size, out) < 0)
            return -1;
    } else if (c->hdr.body < c->end) {
        /* hdr.body is after the empty line; the original had one */
        if (inbound_copy(c->fd, c->hdr.body, c->end, out) < 0)
            return -1;
    }
    return ferror(out) ? -1 : 0;
}

/* Writes the message to a new file in hold_dir (mode 0600, fsync'ed). */
/* Writes the held message as .NAME.eml.tmp, fsyncs it and renames it to
 * NAME.eml: a run killed half-way (time_limit, pipe(8)'s own limit) never
 * leaves a partial NAME.eml for the operator to release. */
static int inbound_hold(struct inbound_ctx *c, const char *stamp, struct inbound_result *res,
                        struct ferr *err)
{
    char name[64], tmp[sizeof(res->held_path) + 8];
    FILE *fp;
    int fd;

    snprintf(name, sizeof(name), "%ld.%d.%04x.eml", (long)time(NULL), (int)getpid(),
             (unsigned)(rand() & 0xffff));
    snprintf(res->held_path, sizeof(res->held_path), "%s/%s", c->ic->hold_dir, name);
    snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", c->ic->hold_dir, name);
    if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600)) < 0 ||
        (fp = fdopen(fd, "w")) == NULL) {
        ferr_set(err, FERR_TEMP, "4.3.0 inbound: hold: %s: %s", tmp, strerror(errno));
        if (fd >= 0)
            close(fd);
        return FERR_TEMP;
    }
    if (inbound_emit(c, stamp, INBOUND_HOLD, "", fp) < 0 || fflush(fp) != 0 || fsync(fd) < 0) {
        ferr_set(err, FERR_TEMP, "4.3.0 inbound: hold: %s: %s", tmp, strerror(errno));
        fclose(fp);
        unlink(tmp);
        return FERR_TEMP;
    }
    if (fclose(fp) != 0 || rename(tmp, res->held_path) < 0) {
        ferr_set(err, FERR_TEMP, "4.3.0 inbound: hold: %s: %s", res->held_path, strerror(errno));
        unlink(tmp);
        return FERR_TEMP;
    }
    return FERR_OK;
}

int inbound_cfg_check(const struct inbound_cfg *ic, char *why, size_t whylen)
{
    struct inbound_ctx c;
    char w[240];
    size_t i;
    int rc = 0;

    memset(&c, 0, sizeof(c));
    c.ic = ic;
    if (ic->local_domains.n == 0)
        return 0;
    for (i = 0; i < ic->n_smime; i++) {
        struct smime_in *one =
            smime_in_new(&ic->smime[i].key, &ic->smime[i].cert, 1, NULL, NULL, w, sizeof(w));

        if (one == NULL) {
            snprintf(why, whylen, "%s:%d: smime_keypair: %s", ic->path, ic->smime[i].line, w);
            return -1;
        }
        smime_in_free(one);
    }
    if (inbound_smime(&c, w, sizeof(w)) == NULL) {
        snprintf(why, whylen, "[inbound] trust anchors: %s", w);
        rc = -1;
    } else if (ic->gnupg_home && access(ic->gnupg_home, R_OK | W_OK | X_OK) != 0) {
        snprintf(why, whylen, "[inbound] gnupg_home %s: %s", ic->gnupg_home, strerror(errno));
        rc = -1;
    } else if (inbound_pgp(&c, w, sizeof(w)) == NULL) {
        snprintf(why, whylen, "[inbound] %s", w);
        rc = -1;
    }
    pgp_in_free(c.pgp);
    smime_in_free(c.smime);
    return rc;
}

int inbound_process(const struct inbound_cfg *ic, int fd, off_t start, off_t end,
                    const char *sender, const char *const *rcpts, size_t n, FILE *out,
                    struct inbound_result *res, struct ferr *err)
{
    struct inbound_ctx c;
    struct mime_err merr;
    const struct mime_field *from;
    char reason[300];
    int rc = FERR_OK, act;

    memset(&c, 0, sizeof(c));
    memset(res, 0, sizeof(*res));
    ferr_clear(err);
    c.ic = ic;
    c.fd = fd;
    c.start = start;
    c.end = end;
    c.ent_fd = -1;

    if ((rc = mime_header_read(fd, start, end, "", &c.hdr, &merr)) == MIME_EIO) {
        ferr_set(err, FERR_TEMP, "4.3.0 inbound: reading the message header: %s", merr.text);
        return FERR_TEMP;
    }
    if (rc != MIME_OK) {
        /* Nothing in it can be decrypted or verified; bouncing it would be
         * backscatter (or lost mail): passed on as it came (inbound_raw). */
        c.hdr_bad = 1;
        c.kind = INBOUND_KIND_PLAIN;
        snprintf(c.note, sizeof(c.note), "header not parsed, passed on as it came: %.150s",
                 merr.text);
    } else {
        if ((from = mime_header_find(&c.hdr, "From", NULL)) != NULL)
            inbound_from_addr(from->value, c.from, sizeof(c.from));
        if (mime_parse(fd, start, end, &c.msg, &merr) == MIME_OK)
            c.parsed = 1;
        else
            snprintf(c.note, sizeof(c.note), "MIME structure not checked: %.150s", merr.text);
        inbound_classify(&c);
    }
    rc = FERR_OK;
    inbound_rule_pick(ic, inbound_domain(sender), rcpts, n, c.kind, &c.rule);

    if (c.kind == INBOUND_KIND_ENCRYPTED) {
        rc = mime_part_is(c.msg.root, "multipart", "encrypted") ? inbound_decrypt_pgp(&c, err)
                                                                : inbound_decrypt_smime(&c, err);
        if (rc == FERR_OK && c.ent_ok && c.rule.verify != INBOUND_VERIFY_OFF)
            rc = inbound_verify_inner(&c, err);
    } else if (c.kind == INBOUND_KIND_SIGNED && c.rule.verify != INBOUND_VERIFY_OFF) {
        rc = inbound_verify(&c, fd, &c.msg, err);
    }
    if (rc != FERR_OK)
        goto out;

    act = inbound_judge(&c, reason, sizeof(reason));
    res->action = act;
    inbound_stamp(&c, act, reason, res->verify, sizeof(res->verify));
    log_info("inbound: from=<%s> %s: %s", sender ? sender : "", INBOUND_HEADER, res->verify);
    switch (act) {
    case INBOUND_REJECT:
        ferr_set(err, FERR_PERM, "%s %s", c.decrypt_failed ? "5.7.5" : "5.7.1",
                 reason[0] ? reason : "refused by inbound policy");
        rc = FERR_PERM;
        break;
    case INBOUND_DEFER:
        ferr_set(err, FERR_TEMP, "4.7.0 %s", reason);
        rc = FERR_TEMP;
        break;
    case INBOUND_HOLD:
        if (ic->hold_dir) {
            rc = inbound_hold(&c, res->verify, res, err);
            if (rc == FERR_OK)
                log_info("inbound: held as %s", res->held_path);
            break;
        }
        /* written with X-Postseal-Hold for the holding smtpd */
        __attribute__((fallthrough));
    default:
        if (inbound_emit(&c, res->verify, act, reason, out) < 0 || fflush(out) != 0) {
            ferr_set(err, FERR_TEMP, "4.3.0 inbound: write error: %s", strerror(errno));
            rc = FERR_TEMP;
        }
    }
out:
    mime_header_free(&c.hdr);
    if (c.parsed)
        mime_msg_free(&c.msg);
    if (c.ent_ok) {
        mime_header_free(&c.ent);
        close(c.ent_fd);
    }
    pgp_in_free(c.pgp);
    smime_in_free(c.smime);
    return rc;
}
