/*
 * mime_cte: streaming Content-Transfer-Encoding codecs (RFC 2045 6.7, 6.8)
 * and the 7-bit safety scan of a body.
 *
 * Contract: decoders and encoders keep a few bytes of state between calls, so
 * a body of any size is processed in fixed-size chunks.  Decoding is strict:
 * a byte outside the base64 alphabet (blanks and line ends excepted), data
 * after base64 padding, a truncated base64 quantum, an '=' in quoted-printable
 * not followed by two hex digits or a (blank-padded) line end, are errors.
 * Quoted-printable decoding removes blanks before a line end (RFC 2045 rule 3)
 * and accepts lower-case hex; a CR before LF is dropped.  Limit: a run of more
 * than MIME_DEC_SLACK blanks inside a quoted-printable line is an error.
 * Encoders write LF line ends and lines of at most 76 characters.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mime.h"

static const char mime_b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char mime_hexdig[] = "0123456789ABCDEF";

static int mime_b64val(int c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int mime_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

void mime_dec_init(struct mime_dec *dec, int cte)
{
    memset(dec, 0, sizeof(*dec));
    dec->cte = cte;
}

static int mime_dec_b64(struct mime_dec *d, const unsigned char *in, size_t len, char *out,
                        size_t *outlen)
{
    size_t i, o = 0;

    for (i = 0; i < len; i++) {
        int c = in[i], v;

        if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
            continue;
        if (c == '=') {
            if (d->pad == 2) {
                d->pad = 3;
                continue;
            }
            if (d->pad == 3 || d->q < 2) {
                snprintf(d->error, sizeof(d->error), "misplaced base64 padding");
                return MIME_EBAD;
            }
            if (d->q == 2) {
                out[o++] = (char)(d->acc >> 4);
                d->pad = 2;
            } else {
                out[o++] = (char)(d->acc >> 10);
                out[o++] = (char)(d->acc >> 2);
                d->pad = 3;
            }
            d->q = 0;
            d->acc = 0;
            continue;
        }
        if ((v = mime_b64val(c)) < 0) {
            snprintf(d->error, sizeof(d->error), "invalid base64 character 0x%02x", c);
            return MIME_EBAD;
        }
        if (d->pad) {
            snprintf(d->error, sizeof(d->error), "base64 data after padding");
            return MIME_EBAD;
        }
        d->acc = (d->acc << 6) | (unsigned long)v;
        if (++d->q == 4) {
            out[o++] = (char)(d->acc >> 16);
            out[o++] = (char)(d->acc >> 8);
            out[o++] = (char)d->acc;
            d->q = 0;
            d->acc = 0;
        }
    }
    *outlen = o;
    return MIME_OK;
}

static int mime_is_blank(int c)
{
    return c == ' ' || c == '\t';
}

/* Quoted-printable: d->pend holds "=", "=X", "=" + blanks/CR, or a run of
 * blanks/CR whose meaning depends on what follows. */
static int mime_dec_qp(struct mime_dec *d, const unsigned char *in, size_t len, char *out,
                       size_t *outlen)
{
    size_t i, o = 0;

    for (i = 0; i < len; i++) {
        int c = in[i];

        if (d->npend > 0 && d->pend[0] == '=') {
            if (d->npend == 1 && mime_hexval(c) >= 0) {
                d->pend[d->npend++] = (char)c;
                continue;
            }
            if (d->npend == 2 && mime_hexval((unsigned char)d->pend[1]) >= 0) {
                if (mime_hexval(c) < 0) {
                    snprintf(d->error, sizeof(d->error), "invalid quoted-printable escape");
                    return MIME_EBAD;
                }
                out[o++] = (char)(mime_hexval((unsigned char)d->pend[1]) * 16 + mime_hexval(c));
                d->npend = 0;
                continue;
            }
            if (c == '\n') { /* soft line break */
                d->npend = 0;
                continue;
            }
            if (mime_is_blank(c) || c == '\r') {
                if (d->npend >= sizeof(d->pend)) {
                    snprintf(d->error, sizeof(d->error),
                             "more than %d blanks after a soft line break", MIME_DEC_SLACK);
                    return MIME_ELIMIT;
                }
                d->pend[d->npend++] = (char)c;
                continue;
            }
            snprintf(d->error, sizeof(d->error), "invalid quoted-printable escape");
            return MIME_EBAD;
        }
        if (d->npend > 0) { /* blanks and CRs pending */
            if (mime_is_blank(c) || c == '\r') {
                if (d->npend >= sizeof(d->pend)) {
                    snprintf(d->error, sizeof(d->error),
                             "more than %d consecutive blanks in quoted-printable", MIME_DEC_SLACK);
                    return MIME_ELIMIT;
                }
                d->pend[d->npend++] = (char)c;
                continue;
            }
            if (c == '\n') { /* trailing blanks are transport padding */
                d->npend = 0;
                out[o++] = '\n';
                continue;
            }
            memcpy(out + o, d->pend, d->npend);
            o += d->npend;
            d->npend = 0;
        }
        if (c == '=' || mime_is_blank(c) || c == '\r')
            d->pend[d->npend++] = (char)c;
        else
            out[o++] = (char)c;
    }
    *outlen = o;
    return MIME_OK;
}

int mime_dec_update(struct mime_dec *dec, const char *in, size_t len, char *out, size_t *outlen)
{
    *outlen = 0;
    if (dec->error[0])
        return MIME_EBAD;
    switch (dec->cte) {
    case MIME_CTE_BASE64:
        return mime_dec_b64(dec, (const unsigned char *)in, len, out, outlen);
    case MIME_CTE_QP:
        return mime_dec_qp(dec, (const unsigned char *)in, len, out, outlen);
    default:
        memcpy(out, in, len);
        *outlen = len;
        return MIME_OK;
    }
}

int mime_dec_final(struct mime_dec *dec, char *out, size_t *outlen)
{
    *outlen = 0;
    if (dec->error[0])
        return MIME_EBAD;
    if (dec->cte == MIME_CTE_BASE64) {
        if (dec->pad == 2 || (dec->pad == 0 && dec->q != 0)) {
            snprintf(dec->error, sizeof(dec->error), "truncated base64 data");
            return MIME_EBAD;
        }
    } else if (dec->cte == MIME_CTE_QP && dec->npend > 0) {
        if (dec->pend[0] == '=' && dec->npend == 2 &&
            mime_hexval((unsigned char)dec->pend[1]) >= 0) {
            snprintf(dec->error, sizeof(dec->error), "truncated quoted-printable escape");
            return MIME_EBAD;
        }
        /* "=" at the end: soft break; blanks at the end: padding */
        dec->npend = 0;
    }
    return MIME_OK;
}

/* ---- encoders ---- */

size_t mime_enc_bound(size_t len)
{
    return 4 * len + 16;
}

void mime_enc_init(struct mime_enc *enc, int cte)
{
    memset(enc, 0, sizeof(*enc));
    enc->cte = cte;
    enc->blank = -1;
}

static size_t mime_enc_b64(struct mime_enc *e, const unsigned char *in, size_t len, char *out)
{
    size_t i, o = 0;

    for (i = 0; i < len; i++) {
        e->hold[e->nhold++] = in[i];
        if (e->nhold == 3) {
            unsigned long v = ((unsigned long)e->hold[0] << 16) | (e->hold[1] << 8) | e->hold[2];

            out[o++] = mime_b64[(v >> 18) & 63];
            out[o++] = mime_b64[(v >> 12) & 63];
            out[o++] = mime_b64[(v >> 6) & 63];
            out[o++] = mime_b64[v & 63];
            e->nhold = 0;
            e->col += 4;
            if (e->col >= 76) {
                out[o++] = '\n';
                e->col = 0;
            }
        }
    }
    return o;
}

/* Emits one qp token (1 or 3 characters), breaking the line softly first
 * when it would pass 75 characters. */
static size_t mime_qp_put(struct mime_enc *e, char *out, int c, int escape)
{
    size_t o = 0;
    int w = escape ? 3 : 1;

    if (e->col + w > 75) {
        out[o++] = '=';
        out[o++] = '\n';
        e->col = 0;
    }
    if (e->col == 0 && (c == 'F' || c == '.')) { /* "From " and "." line starts */
        escape = 1;
        w = 3;
    }
    if (escape) {
        out[o++] = '=';
        out[o++] = mime_hexdig[(c >> 4) & 15];
        out[o++] = mime_hexdig[c & 15];
    } else {
        out[o++] = (char)c;
    }
    e->col += w;
    return o;
}

static size_t mime_enc_qp(struct mime_enc *e, const unsigned char *in, size_t len, char *out)
{
    size_t i, o = 0;

    for (i = 0; i < len; i++) {
        int c = in[i];

        if (e->blank >= 0) {
            /* a blank followed by a line end must be escaped */
            o += mime_qp_put(e, out + o, e->blank, c == '\n');
            e->blank = -1;
        }
        if (c == '\n') {
            out[o++] = '\n';
            e->col = 0;
        } else if (c == ' ' || c == '\t') {
            e->blank = c;
        } else {
            o += mime_qp_put(e, out + o, c, c < 33 || c > 126 || c == '=');
        }
    }
    return o;
}

size_t mime_enc_update(struct mime_enc *enc, const char *in, size_t len, char *out)
{
    switch (enc->cte) {
    case MIME_CTE_BASE64:
        return mime_enc_b64(enc, (const unsigned char *)in, len, out);
    case MIME_CTE_QP:
        return mime_enc_qp(enc, (const unsigned char *)in, len, out);
    default:
        memcpy(out, in, len);
        return len;
    }
}

size_t mime_enc_final(struct mime_enc *enc, char *out)
{
    size_t o = 0;

    if (enc->cte == MIME_CTE_BASE64) {
        if (enc->nhold > 0) {
            unsigned long v = (unsigned long)enc->hold[0] << 16;

            if (enc->nhold == 2)
                v |= (unsigned long)enc->hold[1] << 8;
            out[o++] = mime_b64[(v >> 18) & 63];
            out[o++] = mime_b64[(v >> 12) & 63];
            out[o++] = enc->nhold == 2 ? mime_b64[(v >> 6) & 63] : '=';
            out[o++] = '=';
            enc->col += 4;
            enc->nhold = 0;
        }
        if (enc->col > 0)
            out[o++] = '\n';
    } else if (enc->cte == MIME_CTE_QP) {
        if (enc->blank >= 0)
            o += mime_qp_put(enc, out + o, enc->blank, 1);
        enc->blank = -1;
        if (enc->col > 0) { /* data without a final line end: soft break */
            out[o++] = '=';
            out[o++] = '\n';
        }
    }
    enc->col = 0;
    return o;
}

/* ---- 7-bit safety ---- */

/* Which of 8-bit, NUL and CR bytes occur in p[0..n): MIME_F_* bits.  Eight
 * bytes at a time (the classic "has a zero byte" word test, exact for the
 * question whether any byte matches). */
#define MIME_F_8BIT 1
#define MIME_F_NUL 2
#define MIME_F_CR 4
static unsigned mime_byte_flags(const unsigned char *p, size_t n)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL,
                   crs = 0x0d0d0d0d0d0d0d0dULL;
    uint64_t any = 0, zero = 0, cr = 0, w, x;
    unsigned f = 0;
    size_t i = 0;

    for (; i + 8 <= n; i += 8) {
        memcpy(&w, p + i, 8);
        x = w ^ crs;
        any |= w;
        zero |= (w - ones) & ~w;
        cr |= (x - ones) & ~x;
    }
    if (any & highs)
        f |= MIME_F_8BIT;
    if (zero & highs)
        f |= MIME_F_NUL;
    if (cr & highs)
        f |= MIME_F_CR;
    for (; i < n; i++)
        f |= p[i] >= 0x80 ? MIME_F_8BIT : p[i] == 0 ? MIME_F_NUL : p[i] == '\r' ? MIME_F_CR : 0;
    return f;
}

/* One pass over the body: the byte classes word-wise, the lines with memchr
 * (no per-byte branches; a line may span reads). */
int mime_body_stats(int fd, off_t off, off_t end, struct mime_stats *st)
{
    char buf[65536];
    size_t col = 0;
    int last = '\n';
    unsigned flags = 0;
    char start[5];

    memset(st, 0, sizeof(*st));
    for (;;) {
        size_t want = sizeof(buf);
        const char *p, *e, *nl;
        ssize_t n;

        if (end >= 0 && (off_t)want > end - off)
            want = (size_t)(end - off);
        if (want == 0)
            break;
        n = pread(fd, buf, want, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return MIME_EIO;
        if (n == 0)
            break;
        if (flags != (MIME_F_8BIT | MIME_F_NUL | MIME_F_CR))
            flags |= mime_byte_flags((const unsigned char *)buf, (size_t)n);
        for (p = buf, e = buf + n; p < e; p = nl + 1) {
            size_t len;

            nl = memchr(p, '\n', (size_t)(e - p));
            len = (size_t)((nl ? nl : e) - p);
            if (len > 0) {
                if (col < 5) { /* the line's first bytes, for "From " */
                    size_t k = len < 5 - col ? len : 5 - col;

                    memcpy(start + col, p, k);
                    if (col + k == 5 && memcmp(start, "From ", 5) == 0)
                        st->from_line = 1;
                }
                col += len;
                last = (unsigned char)p[len - 1];
            }
            if (nl == NULL)
                break;
            if (col > st->max_line)
                st->max_line = col;
            if (last == ' ' || last == '\t')
                st->trailing_blank = 1;
            st->lines++;
            col = 0;
            last = '\n';
        }
        st->bytes += n;
        off += n;
    }
    st->has_8bit = (flags & MIME_F_8BIT) != 0;
    st->has_nul = (flags & MIME_F_NUL) != 0;
    st->has_cr = (flags & MIME_F_CR) != 0;
    if (col > 0) {
        if (col > st->max_line)
            st->max_line = col;
        if (last == ' ' || last == '\t')
            st->trailing_blank = 1;
        st->lines++;
    }
    st->no_final_lf = st->bytes > 0 && last != '\n';
    return MIME_OK;
}

int mime_stats_7bit_safe(const struct mime_stats *st)
{
    return !st->has_8bit && !st->has_nul && !st->has_cr && st->max_line <= 76 &&
           !st->trailing_blank && !st->from_line;
}
