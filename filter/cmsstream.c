/*
 * cmsstream: OpenSSL 3.0 reads a CMS structure whole into memory (about
 * three times its size at peak).  For decryption postseal therefore walks
 * the BER/DER of a ContentInfo holding EnvelopedData (RFC 5652 6.1) or
 * AuthEnvelopedData (RFC 5083 2.1) itself: every element except the
 * encryptedContent is copied as it is into a new, small ContentInfo (DER
 * lengths outside, the elements' own encodings unchanged), and the content
 * octets (primitive, or constructed chunks, definite or indefinite length)
 * are written to a file that OpenSSL then reads as detached content.
 *
 * Contract: the result is the same structure with encryptedContent absent;
 * anything unexpected (other content types, high tag numbers, lengths past
 * the end, nesting deeper than 32, a header part larger than
 * CMSS_MAX_HEADER) returns NULL with the reason, and the caller may fall
 * back to OpenSSL's own reader.  Nothing here decrypts or trusts anything:
 * OpenSSL parses the rebuilt header and checks everything again.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmsstream.h"

#define CMSS_DEPTH 32

struct cmss {
    int fd;
    off_t size;
    char *why;
    size_t whylen;
};

struct cmss_tlv {
    unsigned tag;
    off_t off;  /* first byte of the tag */
    off_t body; /* first byte of the contents */
    off_t len;  /* contents length (definite) */
    int indef;
    off_t end; /* after the contents (and the end-of-contents octets) */
};

struct cmss_buf {
    unsigned char *p;
    size_t len;
};

static int cmss_fail(struct cmss *c, const char *what, off_t off)
{
    snprintf(c->why, c->whylen, "CMS at byte %lld: %s", (long long)off, what);
    return -1;
}

static int cmss_read(struct cmss *c, off_t off, void *dst, size_t len)
{
    size_t got = 0;

    while (got < len) {
        ssize_t r = pread(c->fd, (char *)dst + got, len - got, off + (off_t)got);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return cmss_fail(c, r < 0 ? strerror(errno) : "truncated", off);
        got += (size_t)r;
    }
    return 0;
}

static int cmss_tlv(struct cmss *c, off_t off, off_t limit, int depth, struct cmss_tlv *t);

/* Reads one identifier and length; for indefinite lengths walks the
 * children up to the end-of-contents octets. */
static int cmss_tlv(struct cmss *c, off_t off, off_t limit, int depth, struct cmss_tlv *t)
{
    unsigned char h[6];
    size_t n = (size_t)(limit - off) < sizeof(h) ? (size_t)(limit - off) : sizeof(h), i;
    off_t p;

    if (depth > CMSS_DEPTH)
        return cmss_fail(c, "nested too deeply", off);
    if (n < 2 || cmss_read(c, off, h, n) < 0)
        return cmss_fail(c, "truncated element", off);
    memset(t, 0, sizeof(*t));
    t->off = off;
    t->tag = h[0];
    if ((h[0] & 0x1f) == 0x1f)
        return cmss_fail(c, "high tag number", off);
    if (h[1] < 0x80) {
        t->len = h[1];
        t->body = off + 2;
    } else if (h[1] == 0x80) {
        if (!(h[0] & 0x20))
            return cmss_fail(c, "indefinite length on a primitive element", off);
        t->indef = 1;
        t->body = off + 2;
    } else {
        size_t k = h[1] & 0x7f;

        if (k > 4 || n < 2 + k)
            return cmss_fail(c, "length too large", off);
        for (i = 0; i < k; i++)
            t->len = (t->len << 8) | h[2 + i];
        t->body = off + 2 + (off_t)k;
    }
    if (!t->indef) {
        if (t->len > limit - t->body)
            return cmss_fail(c, "length past the end", off);
        t->end = t->body + t->len;
        return 0;
    }
    for (p = t->body;;) {
        struct cmss_tlv ch;
        unsigned char eoc[2];

        if (limit - p < 2 || cmss_read(c, p, eoc, 2) < 0)
            return cmss_fail(c, "missing end-of-contents", off);
        if (eoc[0] == 0 && eoc[1] == 0) {
            t->len = p - t->body;
            t->end = p + 2;
            return 0;
        }
        if (cmss_tlv(c, p, limit, depth + 1, &ch) < 0)
            return -1;
        p = ch.end;
    }
}

/* The end of t's contents (before the end-of-contents octets). */
static off_t cmss_body_end(const struct cmss_tlv *t)
{
    return t->indef ? t->end - 2 : t->end;
}

static int cmss_append(struct cmss *c, struct cmss_buf *b, const void *p, size_t len)
{
    unsigned char *q;

    if (b->len + len > CMSS_MAX_HEADER)
        return cmss_fail(c, "header part too large", 0);
    if ((q = realloc(b->p, b->len + len + 1)) == NULL)
        return cmss_fail(c, "out of memory", 0);
    b->p = q;
    memcpy(b->p + b->len, p, len);
    b->len += len;
    return 0;
}

/* Appends the raw bytes of element t. */
static int cmss_raw(struct cmss *c, struct cmss_buf *b, const struct cmss_tlv *t)
{
    size_t len = (size_t)(t->end - t->off);
    unsigned char *q;

    if (b->len + len > CMSS_MAX_HEADER)
        return cmss_fail(c, "header part too large", t->off);
    if ((q = realloc(b->p, b->len + len + 1)) == NULL)
        return cmss_fail(c, "out of memory", t->off);
    b->p = q;
    if (cmss_read(c, t->off, b->p + b->len, len) < 0)
        return -1;
    b->len += len;
    return 0;
}

/* Wraps b into tag + DER length. */
static int cmss_wrap(struct cmss *c, struct cmss_buf *b, unsigned tag)
{
    unsigned char h[6];
    size_t n = 0, len = b->len;
    unsigned char *q;

    h[n++] = (unsigned char)tag;
    if (len < 0x80) {
        h[n++] = (unsigned char)len;
    } else {
        size_t k = len > 0xffffff ? 4 : len > 0xffff ? 3 : len > 0xff ? 2 : 1, i;

        h[n++] = (unsigned char)(0x80 | k);
        for (i = k; i > 0; i--)
            h[n++] = (unsigned char)(len >> (8 * (i - 1)));
    }
    if ((q = malloc(b->len + n + 1)) == NULL)
        return cmss_fail(c, "out of memory", 0);
    memcpy(q, h, n);
    if (b->len)
        memcpy(q + n, b->p, b->len);
    free(b->p);
    b->p = q;
    b->len += n;
    return 0;
}

/* Copies the octets of an OCTET STRING (primitive or constructed chunks). */
static int cmss_octets(struct cmss *c, const struct cmss_tlv *t, int out, int depth)
{
    char buf[65536];
    off_t p, end = cmss_body_end(t);

    if (!(t->tag & 0x20)) {
        for (p = t->body; p < end;) {
            size_t n = (size_t)(end - p) < sizeof(buf) ? (size_t)(end - p) : sizeof(buf);
            size_t done = 0;

            if (cmss_read(c, p, buf, n) < 0)
                return -1;
            while (done < n) {
                ssize_t w = write(out, buf + done, n - done);

                if (w < 0 && errno == EINTR)
                    continue;
                if (w <= 0)
                    return cmss_fail(c, strerror(errno), p);
                done += (size_t)w;
            }
            p += (off_t)n;
        }
        return 0;
    }
    if (depth > CMSS_DEPTH)
        return cmss_fail(c, "nested too deeply", t->off);
    for (p = t->body; p < end;) {
        struct cmss_tlv ch;

        if (cmss_tlv(c, p, end, depth + 1, &ch) < 0)
            return -1;
        if ((ch.tag & 0xdf) != 0x04)
            return cmss_fail(c, "chunk of encrypted content is not an OCTET STRING", p);
        if (cmss_octets(c, &ch, out, depth + 1) < 0)
            return -1;
        p = ch.end;
    }
    return 0;
}

/* id-envelopedData 1.2.840.113549.1.7.3, id-ct-authEnvelopedData
 * 1.2.840.113549.1.9.16.1.23 */
static const unsigned char cmss_oid_env[] = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                             0xf7, 0x0d, 0x01, 0x07, 0x03};
static const unsigned char cmss_oid_auth[] = {0x06, 0x0b, 0x2a, 0x86, 0x48, 0x86, 0xf7,
                                              0x0d, 0x01, 0x09, 0x10, 0x01, 0x17};

unsigned char *cmss_split(int fd, int out_fd, size_t *len, char *why, size_t whylen)
{
    struct cmss c = {.fd = fd, .why = why, .whylen = whylen};
    struct cmss_tlv ci, oid, exp, env, ch, eci_ch;
    struct cmss_buf envb = {0}, ecib = {0}, top = {0};
    unsigned char oidb[16];
    off_t p, end;
    int have_eci = 0, have_content = 0;

    if ((c.size = lseek(fd, 0, SEEK_END)) < 0) {
        snprintf(why, whylen, "CMS: %s", strerror(errno));
        return NULL;
    }
    if (cmss_tlv(&c, 0, c.size, 0, &ci) < 0)
        goto bad;
    if (ci.tag != 0x30 && cmss_fail(&c, "ContentInfo is not a SEQUENCE", 0))
        goto bad;
    if (cmss_tlv(&c, ci.body, cmss_body_end(&ci), 1, &oid) < 0)
        goto bad;
    if (oid.tag != 0x06 || oid.end - oid.off > (off_t)sizeof(oidb) ||
        cmss_read(&c, oid.off, oidb, (size_t)(oid.end - oid.off)) < 0 ||
        !((oid.end - oid.off == sizeof(cmss_oid_env) &&
           memcmp(oidb, cmss_oid_env, sizeof(cmss_oid_env)) == 0) ||
          (oid.end - oid.off == sizeof(cmss_oid_auth) &&
           memcmp(oidb, cmss_oid_auth, sizeof(cmss_oid_auth)) == 0))) {
        cmss_fail(&c, "content type is not (auth)enveloped data", oid.off);
        goto bad;
    }
    if (cmss_tlv(&c, oid.end, cmss_body_end(&ci), 1, &exp) < 0)
        goto bad;
    if (exp.tag != 0xa0 && cmss_fail(&c, "content is not [0]", exp.off))
        goto bad;
    if (cmss_tlv(&c, exp.body, cmss_body_end(&exp), 2, &env) < 0)
        goto bad;
    if (env.tag != 0x30 && cmss_fail(&c, "(Auth)EnvelopedData is not a SEQUENCE", env.off))
        goto bad;
    end = cmss_body_end(&env);
    for (p = env.body; p < end; p = ch.end) {
        if (cmss_tlv(&c, p, end, 3, &ch) < 0)
            goto bad;
        if (ch.tag != 0x30 || have_eci) {
            if (cmss_raw(&c, &envb, &ch) < 0)
                goto bad;
            continue;
        }
        /* (Auth)EncryptedContentInfo: contentType, algorithm, [0] content */
        have_eci = 1;
        for (eci_ch.end = ch.body; eci_ch.end < cmss_body_end(&ch);) {
            if (cmss_tlv(&c, eci_ch.end, cmss_body_end(&ch), 4, &eci_ch) < 0)
                goto bad;
            if ((eci_ch.tag & 0xdf) == 0x80) {
                if (have_content && cmss_fail(&c, "two encrypted contents", eci_ch.off))
                    goto bad;
                have_content = 1;
                if (cmss_octets(&c, &eci_ch, out_fd, 5) < 0)
                    goto bad;
            } else if (cmss_raw(&c, &ecib, &eci_ch) < 0) {
                goto bad;
            }
        }
        if (cmss_wrap(&c, &ecib, 0x30) < 0 || cmss_append(&c, &envb, ecib.p, ecib.len) < 0)
            goto bad;
    }
    if (!have_content) {
        cmss_fail(&c, "no encrypted content", env.off);
        goto bad;
    }
    if (cmss_wrap(&c, &envb, 0x30) < 0 || cmss_wrap(&c, &envb, 0xa0) < 0 ||
        cmss_append(&c, &top, oidb, (size_t)(oid.end - oid.off)) < 0 ||
        cmss_append(&c, &top, envb.p, envb.len) < 0 || cmss_wrap(&c, &top, 0x30) < 0)
        goto bad;
    free(envb.p);
    free(ecib.p);
    *len = top.len;
    return top.p;
bad:
    free(envb.p);
    free(ecib.p);
    free(top.p);
    return NULL;
}
