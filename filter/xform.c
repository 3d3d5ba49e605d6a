/*
 * xform: builds the parts of an outbound message around the crypto modules:
 * the inner entity to sign/encrypt (RFC 9788 header protection, 7-bit safe
 * content so no MTA can break a signature) and the outer message that
 * carries the crypto output.  Everything works on byte offsets of the spool
 * file: header fields and untouched bodies are copied byte for byte.
 *
 * Contract: output has LF line ends (the crypto modules sign the CRLF form
 * of exactly these bytes).  Bodies are streamed in 64 KiB chunks through the
 * lib/mime codecs; memory does not depend on the message size.
 * Failure: I/O errors are FERR_TEMP; a body that does not decode (bad base64
 * or quoted-printable) is FERR_TEMP too when it must be re-encoded, with the
 * part named (the configured malformed action applies upstream, at parsing).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "spool.h"
#include "xform.h"

#define XF_BUF 65536

/* Fields that never go into the protected header nor HP-Outer. */
static int xf_unprotected(const char *name)
{
    static const char *const skip[] = {"Received",
                                       "Return-Path",
                                       "Delivered-To",
                                       "X-Original-To",
                                       "DKIM-Signature",
                                       "Authentication-Results",
                                       "ARC-Seal",
                                       "ARC-Message-Signature",
                                       "ARC-Authentication-Results",
                                       "Bcc",
                                       "Resent-Bcc",
                                       "MIME-Version",
                                       NULL};
    size_t i;

    if (strncasecmp(name, "Content-", 8) == 0 || strncasecmp(name, "X-Postseal-", 11) == 0 ||
        strcasecmp(name, "HP-Outer") == 0)
        return 1;
    for (i = 0; skip[i] != NULL; i++)
        if (strcasecmp(name, skip[i]) == 0)
            return 1;
    return 0;
}

/* Fields that do not go into the outer header (they belong to the entity). */
static int xf_not_outer(const char *name)
{
    return strncasecmp(name, "Content-", 8) == 0 || strcasecmp(name, "MIME-Version") == 0 ||
           strcasecmp(name, "Bcc") == 0 || strcasecmp(name, "Resent-Bcc") == 0 ||
           strncasecmp(name, "X-Postseal-", 11) == 0;
}

static int xf_copy(int fd, off_t a, off_t b, FILE *out, struct ferr *err)
{
    return spool_write_range(fd, a, b, out, err) == FERR_OK ? 0 : -1;
}

static int xf_werr(struct ferr *err)
{
    ferr_set(err, FERR_TEMP, "4.3.0 writing a temp file: %s", strerror(errno));
    return -1;
}

int xform_classify(int fd, const struct mime_msg *m)
{
    const struct mime_part *r = m->root;
    char buf[64];
    ssize_t n;

    if (mime_part_is(r, "multipart", "encrypted") ||
        ((mime_part_is(r, "application", "pkcs7-mime") ||
          mime_part_is(r, "application", "x-pkcs7-mime")) &&
         (mime_hvalue_param(&r->ctype, "smime-type") == NULL ||
          strcasecmp(mime_hvalue_param(&r->ctype, "smime-type"), "signed-data") != 0)))
        return XFORM_ENCRYPTED;
    if (mime_part_is(r, "multipart", "signed") || mime_part_is(r, "application", "pkcs7-mime") ||
        mime_part_is(r, "application", "x-pkcs7-mime"))
        return XFORM_SIGNED;
    /* inline OpenPGP in a single text part */
    if (r->child == NULL && mime_part_is(r, "text", "plain") && r->cte != MIME_CTE_BASE64 &&
        (n = pread(fd, buf, sizeof(buf) - 1, r->body)) > 0) {
        buf[n] = 0;
        if (strncmp(buf, "-----BEGIN PGP MESSAGE-----", 27) == 0)
            return XFORM_ENCRYPTED;
        if (strncmp(buf, "-----BEGIN PGP SIGNED MESSAGE-----", 34) == 0)
            return XFORM_SIGNED;
    }
    return XFORM_PLAIN;
}

/* Streams [a, b) of fd through a decoder of cte and an encoder of new_cte. */
static int xf_recode(int fd, off_t a, off_t b, int cte, int new_cte, const char *part, FILE *out,
                     struct ferr *err)
{
    char *in = malloc(XF_BUF), *mid = malloc(XF_BUF + MIME_DEC_SLACK),
         *enc = malloc(mime_enc_bound(XF_BUF + MIME_DEC_SLACK));
    struct mime_dec d;
    struct mime_enc e;
    size_t n, o;
    int rc = -1;

    if (in == NULL || mid == NULL || enc == NULL) {
        ferr_set(err, FERR_TEMP, "4.3.0 out of memory");
        goto done;
    }
    mime_dec_init(&d, cte);
    mime_enc_init(&e, new_cte);
    while (a < b) {
        size_t want = (off_t)XF_BUF < b - a ? XF_BUF : (size_t)(b - a);
        ssize_t r = pread(fd, in, want, a);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            ferr_set(err, FERR_TEMP, "4.3.0 reading the spool file: %s",
                     r < 0 ? strerror(errno) : "short file");
            goto done;
        }
        a += r;
        if (mime_dec_update(&d, in, (size_t)r, mid, &n) < 0) {
            ferr_set(err, FERR_TEMP, "4.6.0 %s: cannot decode %s: %s", part, mime_cte_name(cte),
                     d.error);
            goto done;
        }
        o = mime_enc_update(&e, mid, n, enc);
        if (fwrite(enc, 1, o, out) != o) {
            xf_werr(err);
            goto done;
        }
    }
    if (mime_dec_final(&d, mid, &n) < 0) {
        ferr_set(err, FERR_TEMP, "4.6.0 %s: cannot decode %s: %s", part, mime_cte_name(cte),
                 d.error);
        goto done;
    }
    o = mime_enc_update(&e, mid, n, enc);
    o += mime_enc_final(&e, enc + o);
    if (fwrite(enc, 1, o, out) != o) {
        xf_werr(err);
        goto done;
    }
    rc = 0;
done:
    free(in);
    free(mid);
    free(enc);
    return rc;
}

/* new_cte for a leaf, or -1 when its body can be copied unchanged. */
static int xf_leaf_cte(int fd, const struct mime_part *p, struct ferr *err, int *ioerr)
{
    struct mime_stats st;

    *ioerr = 0;
    if (mime_body_stats(fd, p->body, p->end, &st) < 0) {
        ferr_set(err, FERR_TEMP, "4.3.0 reading the spool file: %s", strerror(errno));
        *ioerr = 1;
        return -1;
    }
    if (mime_stats_7bit_safe(&st))
        return -1;
    /* message/delivery-status, disposition-notification, feedback-report...
     * MUST stay 7bit (RFC 3464 2.1, RFC 8098 10, RFC 5965 7.1; RFC 2046 5.2
     * for message types): readers parse their fields as they are.  Long lines
     * (up to RFC 5322's 998), trailing blanks and "From " lines are kept. */
    if (strcasecmp(p->ctype.type, "message") == 0 && !st.has_8bit && !st.has_nul && !st.has_cr &&
        st.max_line <= 998)
        return -1;
    return strcasecmp(p->ctype.type, "text") == 0 ? MIME_CTE_QP : MIME_CTE_BASE64;
}

static int xf_entity(int fd, const struct mime_part *p, const struct mime_header *root_h, FILE *out,
                     struct ferr *err);

/* The body of p (after its header and blank line), re-encoded as needed;
 * new_cte as decided by the caller (-1 = copy). */
static int xf_body(int fd, const struct mime_part *p, int new_cte, FILE *out, struct ferr *err)
{
    char name[MIME_MAX_PARTID + 8];
    const struct mime_part *c;
    struct mime_stats st;

    if (p->boundary != NULL) {
        if (p->preamble_end > p->preamble) {
            if (mime_body_stats(fd, p->preamble, p->preamble_end, &st) < 0)
                return xf_werr(err);
            if (mime_stats_7bit_safe(&st) &&
                (xf_copy(fd, p->preamble, p->preamble_end, out, err) < 0 ||
                 fputc('\n', out) == EOF))
                return -1;
        }
        for (c = p->child; c != NULL; c = c->next) {
            if (fprintf(out, "--%s\n", p->boundary) < 0)
                return xf_werr(err);
            if (xf_entity(fd, c, NULL, out, err) < 0)
                return -1;
            if (fputc('\n', out) == EOF)
                return xf_werr(err);
        }
        if (fprintf(out, "--%s--\n", p->boundary) < 0)
            return xf_werr(err);
        if (p->epilogue_end > p->epilogue) {
            if (mime_body_stats(fd, p->epilogue, p->epilogue_end, &st) < 0)
                return xf_werr(err);
            if (mime_stats_7bit_safe(&st) &&
                xf_copy(fd, p->epilogue, p->epilogue_end, out, err) < 0)
                return -1;
        }
        return 0;
    }
    if (p->child != NULL) /* message/rfc822 */
        return xf_entity(fd, p->child, NULL, out, err);
    if (new_cte < 0)
        return xf_copy(fd, p->body, p->end, out, err);
    return xf_recode(fd, p->body, p->end, p->cte, new_cte, mime_part_name(p, name, sizeof(name)),
                     out, err);
}

/* A non-root entity: its header fields (CTE replaced when re-encoded), a
 * blank line, its body. */
static int xf_entity(int fd, const struct mime_part *p, const struct mime_header *unused, FILE *out,
                     struct ferr *err)
{
    struct mime_header h;
    struct mime_err me;
    size_t i;
    int new_cte = -1, ioerr = 0, rc;

    (void)unused;
    if (p->child == NULL && p->boundary == NULL) {
        new_cte = xf_leaf_cte(fd, p, err, &ioerr);
        if (ioerr)
            return -1;
    }
    if (mime_header_read(fd, p->off, p->body, p->id, &h, &me) < 0) {
        ferr_set(err, FERR_TEMP, "4.6.0 %s", me.text);
        return -1;
    }
    for (i = 0; i < h.count; i++) {
        if (new_cte >= 0 && strcasecmp(h.fields[i].name, "Content-Transfer-Encoding") == 0)
            continue;
        if (xf_copy(fd, h.fields[i].off, h.fields[i].end, out, err) < 0) {
            mime_header_free(&h);
            return -1;
        }
    }
    mime_header_free(&h);
    if (new_cte >= 0 && fprintf(out, "Content-Transfer-Encoding: %s\n", mime_cte_name(new_cte)) < 0)
        return xf_werr(err);
    if (fputc('\n', out) == EOF)
        return xf_werr(err);
    rc = xf_body(fd, p, new_cte, out, err);
    return rc;
}

/* An unstructured field (Subject, Comments) with 8-bit bytes as RFC 2047
 * encoded words (UTF-8, base64, at most 45 bytes each, never splitting a
 * UTF-8 sequence), folded: the signed entity stays 7-bit. */
static int xf_field_2047(const struct mime_field *f, const char *prefix, FILE *out,
                         struct ferr *err)
{
    const unsigned char *v = (const unsigned char *)f->value;
    size_t len = strlen(f->value), i = 0;
    char enc[128];

    if (fprintf(out, "%s%s:", prefix, f->name) < 0)
        return xf_werr(err);
    while (i < len) {
        struct mime_enc e;
        size_t n = len - i > 45 ? 45 : len - i, o;

        while (n > 1 && i + n < len && (v[i + n] & 0xC0) == 0x80)
            n--; /* do not cut a UTF-8 sequence */
        mime_enc_init(&e, MIME_CTE_BASE64);
        o = mime_enc_update(&e, (const char *)v + i, n, enc);
        o += mime_enc_final(&e, enc + o);
        if (o > 0 && enc[o - 1] == '\n')
            o--;
        if (fprintf(out, "%s=?UTF-8?B?%.*s?=", i == 0 ? " " : "\n ", (int)o, enc) < 0)
            return xf_werr(err);
        i += n;
    }
    if (fputc('\n', out) == EOF)
        return xf_werr(err);
    return 0;
}

static int xf_has_8bit(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80)
            return 1;
    return 0;
}

/* Writes one field as it will appear: "Name: value" from the raw bytes, or
 * "Subject: ..." when obscured.  prefix e.g. "HP-Outer: ".  inner = 1: an
 * 8-bit Subject/Comments is RFC 2047 encoded (signed content is 7-bit). */
static int xf_field(int fd, const struct mime_field *f, int obscure_subject, const char *prefix,
                    int inner, FILE *out, struct ferr *err)
{
    if (obscure_subject && strcasecmp(f->name, "Subject") == 0) {
        if (fprintf(out, "%s%s: ...\n", prefix, f->name) < 0)
            return xf_werr(err);
        return 0;
    }
    if (inner && xf_has_8bit(f->value) &&
        (strcasecmp(f->name, "Subject") == 0 || strcasecmp(f->name, "Comments") == 0))
        return xf_field_2047(f, prefix, out, err);
    if (fputs(prefix, out) == EOF)
        return xf_werr(err);
    return xf_copy(fd, f->off, f->end, out, err);
}

int xform_inner(int fd, const struct mime_msg *m, const struct mime_header *h, int hp,
                int obscure_subject, int keep_body, int extra_lf, FILE *out, struct ferr *err)
{
    const struct mime_part *r = m->root;
    int new_cte = -1, ioerr = 0, have_ct = 0;
    size_t i;

    ferr_clear(err);
    if (!keep_body && r->child == NULL && r->boundary == NULL) {
        new_cte = xf_leaf_cte(fd, r, err, &ioerr);
        if (ioerr)
            return err->code;
    }
    /* protected header fields */
    for (i = 0; i < h->count; i++)
        if (!xf_unprotected(h->fields[i].name) &&
            xf_field(fd, &h->fields[i], 0, "", 1, out, err) < 0)
            return err->code;
    /* RFC 9788 HP-Outer: what the outer header says */
    if (hp == XFORM_HP_CIPHER)
        for (i = 0; i < h->count; i++)
            if (!xf_unprotected(h->fields[i].name) && !xf_not_outer(h->fields[i].name) &&
                xf_field(fd, &h->fields[i], obscure_subject, "HP-Outer: ", 1, out, err) < 0)
                return err->code;
    /* content fields */
    for (i = 0; i < h->count; i++) {
        const struct mime_field *f = &h->fields[i];

        if (strncasecmp(f->name, "Content-", 8) != 0)
            continue;
        if (new_cte >= 0 && strcasecmp(f->name, "Content-Transfer-Encoding") == 0)
            continue;
        if (strcasecmp(f->name, "Content-Type") == 0) {
            /* the raw field without its last LF and a trailing ';', then hp */
            char tail[2];
            off_t end = f->end;

            while (end > f->off) {
                if (pread(fd, tail, 1, end - 1) != 1)
                    return xf_werr(err);
                if (tail[0] != '\n' && tail[0] != '\r' && tail[0] != ' ' && tail[0] != '\t' &&
                    tail[0] != ';')
                    break;
                end--;
            }
            if (mime_hvalue_param(&r->ctype, "hp") != NULL) { /* already there: keep */
                if (xf_copy(fd, f->off, f->end, out, err) < 0)
                    return err->code;
                have_ct = 1;
                continue;
            }
            if (xf_copy(fd, f->off, end, out, err) < 0)
                return err->code;
            if (fprintf(out, ";\n hp=\"%s\"\n", hp == XFORM_HP_CIPHER ? "cipher" : "clear") < 0)
                return xf_werr(err), err->code;
            have_ct = 1;
            continue;
        }
        if (xf_copy(fd, f->off, f->end, out, err) < 0)
            return err->code;
    }
    if (!have_ct && fprintf(out, "Content-Type: text/plain; charset=us-ascii;\n hp=\"%s\"\n",
                            hp == XFORM_HP_CIPHER ? "cipher" : "clear") < 0)
        return xf_werr(err), err->code;
    if (new_cte >= 0 && fprintf(out, "Content-Transfer-Encoding: %s\n", mime_cte_name(new_cte)) < 0)
        return xf_werr(err), err->code;
    if (fputc('\n', out) == EOF)
        return xf_werr(err), err->code;
    if (keep_body) {
        if (xf_copy(fd, r->body, r->end, out, err) < 0)
            return err->code;
    } else if (xf_body(fd, r, new_cte, out, err) < 0) {
        return err->code;
    }
    if (extra_lf && fputc('\n', out) == EOF)
        return xf_werr(err), err->code;
    if (fflush(out) == EOF)
        return xf_werr(err), err->code;
    return FERR_OK;
}

int xform_outer(int fd, const struct mime_header *h, int obscure_subject, int entity_fd, FILE *out,
                struct ferr *err)
{
    size_t i;
    char buf[XF_BUF];
    ssize_t n;

    ferr_clear(err);
    for (i = 0; i < h->count; i++)
        if (!xf_not_outer(h->fields[i].name) &&
            xf_field(fd, &h->fields[i], obscure_subject, "", 0, out, err) < 0)
            return err->code;
    if (fputs("MIME-Version: 1.0\n", out) == EOF)
        return xf_werr(err), err->code;
    if (entity_fd < 0)
        return fflush(out) == EOF ? (xf_werr(err), err->code) : FERR_OK;
    if (lseek(entity_fd, 0, SEEK_SET) < 0)
        return xf_werr(err), err->code;
    while ((n = read(entity_fd, buf, sizeof(buf))) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || fwrite(buf, 1, (size_t)n, out) != (size_t)n)
            return xf_werr(err), err->code;
    }
    if (fflush(out) == EOF)
        return xf_werr(err), err->code;
    return FERR_OK;
}

int xform_passthru(int fd, const struct mime_header *h, const char *name, const char *value,
                   FILE *out, struct ferr *err)
{
    size_t i;

    ferr_clear(err);
    if (name != NULL && fprintf(out, "%s: %s\n", name, value) < 0)
        return xf_werr(err), err->code;
    for (i = 0; i < h->count; i++) {
        const char *n = h->fields[i].name;

        if (strcasecmp(n, "Bcc") == 0 || strcasecmp(n, "Resent-Bcc") == 0 ||
            (name != NULL && strcasecmp(n, name) == 0))
            continue;
        if (xf_copy(fd, h->fields[i].off, h->fields[i].end, out, err) < 0)
            return err->code;
    }
    /* the blank line and the body as they were */
    if (xf_copy(fd, h->count > 0 ? h->fields[h->count - 1].end : h->off, -1, out, err) < 0)
        return err->code;
    if (fflush(out) == EOF)
        return xf_werr(err), err->code;
    return FERR_OK;
}
