/*
 * mime_hdr: header sections (RFC 5322 2.2, folding) and structured MIME
 * header values (RFC 2045 5.1 Content-Type, RFC 2183 Content-Disposition,
 * RFC 2231 parameter continuations and charset'lang'%XX values).
 *
 * Contract: strict.  A header line without a colon, a field name with a
 * byte outside 33-126, a NUL byte, a continuation line before the first field,
 * an unterminated quoted string or comment, a duplicate parameter, a broken
 * RFC 2231 sequence: each is an error whose text names the part and line.
 * Limits (mime.h): MIME_MAX_HEADER_LINE per physical line, MIME_MAX_FIELD per
 * unfolded field, MIME_MAX_FIELDS fields and MIME_MAX_HEADER_SIZE bytes per
 * section, MIME_MAX_PARAMS parameters of at most MIME_MAX_PARAM_VALUE bytes.
 * Tolerated: a CR before LF; blanks before the colon (obs-FWS); a header
 * section that ends at end of data without an empty line (empty body); a
 * trailing ';' after the last parameter, and empty ones (";;"); unquoted
 * parameter values with the characters / ? = @ : [ ] (common in the wild);
 * an mbox "From " envelope line first in the header of a part (not of the
 * message): Apple Mail and others forward message/rfc822 that way.
 * Failure: MIME_EBAD / MIME_ELIMIT with err->text, MIME_EIO on read error or
 * out of memory.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mime_rd.h"

static int mime_is_blank(int c)
{
    return c == ' ' || c == '\t';
}

static int mime_fields_add(struct mime_header *h, size_t *alloc, const char *name, size_t nlen,
                           off_t off)
{
    struct mime_field *f;

    if (h->count == *alloc) {
        size_t n = *alloc ? *alloc * 2 : 32;
        struct mime_field *v = realloc(h->fields, n * sizeof(*v));

        if (v == NULL)
            return MIME_EIO;
        h->fields = v;
        *alloc = n;
    }
    f = &h->fields[h->count];
    memset(f, 0, sizeof(*f));
    if ((f->name = strndup(name, nlen)) == NULL)
        return MIME_EIO;
    f->off = off;
    h->count++;
    return MIME_OK;
}

/* The value buffer of the field being built: appended to per line. */
struct mime_val {
    char *buf;
    size_t len;
};

static int mime_val_add(struct mime_val *v, const char *s, size_t n)
{
    char *p;

    if ((p = realloc(v->buf, v->len + n + 1)) == NULL)
        return MIME_EIO;
    memcpy(p + v->len, s, n);
    v->len += n;
    p[v->len] = 0;
    v->buf = p;
    return MIME_OK;
}

/* Finishes the current field: stores its value with leading blanks removed. */
static int mime_field_close(struct mime_header *h, struct mime_val *v, off_t end)
{
    struct mime_field *f = &h->fields[h->count - 1];
    size_t skip = 0;

    while (skip < v->len && mime_is_blank((unsigned char)v->buf[skip]))
        skip++;
    if ((f->value = strdup(v->buf ? v->buf + skip : "")) == NULL)
        return MIME_EIO;
    f->end = end;
    free(v->buf);
    v->buf = NULL;
    v->len = 0;
    return MIME_OK;
}

int mime_hdr_parse(struct mime_rd *rd, const char *part, struct mime_header *h,
                   int (*stop)(const char *, size_t, void *), void *stop_arg, struct mime_err *err)
{
    struct mime_val v = {0};
    const char *line;
    size_t len, alloc = 0, total = 0, i, field_len = 0;
    off_t off;
    int partial, rc, lineno = 0, open = 0;
    const char *where = (part == NULL || *part == 0) ? "header" : "part header";

    memset(h, 0, sizeof(*h));
    h->off = mime_rd_tell(rd);
    for (;;) {
        rc = mime_rd_line(rd, &line, &len, &off, &partial);
        if (rc < 0) {
            mime_err_set(err, part, "read error: %s", strerror(errno));
            goto fail;
        }
        if (rc == 0) { /* end of data: the header ends, the body is empty */
            h->body = mime_rd_tell(rd);
            if (open && (rc = mime_field_close(h, &v, h->body)) < 0)
                goto nomem;
            break;
        }
        lineno++;
        total += len;
        if (partial || len - (line[len - 1] == '\n') > MIME_MAX_HEADER_LINE) {
            mime_err_set(err, part, "%s line %d longer than %d bytes", where, lineno,
                         MIME_MAX_HEADER_LINE);
            rc = MIME_ELIMIT;
            goto fail;
        }
        if (total > MIME_MAX_HEADER_SIZE) {
            mime_err_set(err, part, "header section larger than %d bytes", MIME_MAX_HEADER_SIZE);
            rc = MIME_ELIMIT;
            goto fail;
        }
        if (line[len - 1] == '\n')
            len--;
        if (len > 0 && line[len - 1] == '\r')
            len--;
        if (memchr(line, 0, len) != NULL) {
            mime_err_set(err, part, "%s line %d: NUL byte", where, lineno);
            rc = MIME_EBAD;
            goto fail;
        }
        if (len == 0) { /* the empty line: body follows */
            h->body = mime_rd_tell(rd);
            if (open && (rc = mime_field_close(h, &v, off)) < 0)
                goto nomem;
            break;
        }
        if (stop != NULL && stop(line, len, stop_arg)) {
            mime_err_set(err, part,
                         "%s line %d: boundary delimiter before the empty line "
                         "that ends the header",
                         where, lineno);
            rc = MIME_EBAD;
            goto fail;
        }
        /* An mbox envelope line ("From addr date") first in the header of
         * a part, as Apple Mail and others forward a message/rfc822: not
         * a field, kept in the bytes, skipped (the top level stays strict). */
        if (lineno == 1 && part != NULL && *part != 0 && len >= 5 && memcmp(line, "From ", 5) == 0)
            continue;
        if (mime_is_blank((unsigned char)line[0])) {
            if (!open) {
                mime_err_set(err, part, "%s line %d: continuation line without a header field",
                             where, lineno);
                rc = MIME_EBAD;
                goto fail;
            }
            field_len += len;
            if (field_len > MIME_MAX_FIELD) {
                mime_err_set(err, part, "%s line %d: header field %s longer than %d bytes", where,
                             lineno, h->fields[h->count - 1].name, MIME_MAX_FIELD);
                rc = MIME_ELIMIT;
                goto fail;
            }
            if ((rc = mime_val_add(&v, line, len)) < 0)
                goto nomem;
            continue;
        }
        if (open) {
            if ((rc = mime_field_close(h, &v, off)) < 0)
                goto nomem;
            open = 0;
        }
        for (i = 0; i < len && line[i] != ':' && !mime_is_blank((unsigned char)line[i]); i++) {
            unsigned char c = (unsigned char)line[i];

            if (c < 33 || c > 126) {
                mime_err_set(err, part, "%s line %d: byte 0x%02x in a header field name", where,
                             lineno, c);
                rc = MIME_EBAD;
                goto fail;
            }
        }
        {
            size_t nlen = i;

            while (i < len && mime_is_blank((unsigned char)line[i]))
                i++;
            if (i == len || line[i] != ':' || nlen == 0) {
                mime_err_set(err, part, "%s line %d: header line without a field name and colon",
                             where, lineno);
                rc = MIME_EBAD;
                goto fail;
            }
            if (h->count >= MIME_MAX_FIELDS) {
                mime_err_set(err, part, "more than %d header fields", MIME_MAX_FIELDS);
                rc = MIME_ELIMIT;
                goto fail;
            }
            if ((rc = mime_fields_add(h, &alloc, line, nlen, off)) < 0)
                goto nomem;
            open = 1;
            field_len = len;
            if ((rc = mime_val_add(&v, line + i + 1, len - i - 1)) < 0)
                goto nomem;
        }
    }
    return MIME_OK;
nomem:
    mime_err_set(err, part, "out of memory");
    rc = MIME_EIO;
fail:
    free(v.buf);
    mime_header_free(h);
    return rc;
}

int mime_header_read(int fd, off_t off, off_t end, const char *part, struct mime_header *h,
                     struct mime_err *err)
{
    struct mime_rd rd;
    int rc;

    if (mime_rd_init(&rd, fd, off, end) < 0) {
        mime_err_set(err, part, "out of memory");
        return MIME_EIO;
    }
    rc = mime_hdr_parse(&rd, part, h, NULL, NULL, err);
    mime_rd_free(&rd);
    return rc;
}

void mime_header_free(struct mime_header *h)
{
    size_t i;

    for (i = 0; i < h->count; i++) {
        free(h->fields[i].name);
        free(h->fields[i].value);
    }
    free(h->fields);
    h->fields = NULL;
    h->count = 0;
}

const struct mime_field *mime_header_find(const struct mime_header *h, const char *name,
                                          size_t *index)
{
    size_t i = index ? *index : 0;

    for (; i < h->count; i++) {
        if (strcasecmp(h->fields[i].name, name) == 0) {
            if (index)
                *index = i + 1;
            return &h->fields[i];
        }
    }
    if (index)
        *index = h->count;
    return NULL;
}

/* ---- structured values ---- */

struct mime_scan {
    const char *p;
    char *err;
    size_t errlen;
};

static int mime_tspecial(int c)
{
    return strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

static int mime_token_char(int c)
{
    return c > 32 && c < 127 && !mime_tspecial(c);
}

/* Lenient unquoted value: token characters plus / ? = @ : [ ] */
static int mime_value_char(int c)
{
    return mime_token_char(c) || (c != 0 && strchr("/?=@:[]", c) != NULL);
}

/* Skips blanks, line breaks and (nested) comments. */
static int mime_cfws(struct mime_scan *s)
{
    int depth;

    for (;;) {
        while (*s->p == ' ' || *s->p == '\t' || *s->p == '\r' || *s->p == '\n')
            s->p++;
        if (*s->p != '(')
            return 0;
        depth = 0;
        do {
            if (*s->p == 0) {
                snprintf(s->err, s->errlen, "unterminated comment");
                return -1;
            }
            if (*s->p == '\\' && s->p[1] != 0)
                s->p++;
            else if (*s->p == '(')
                depth++;
            else if (*s->p == ')')
                depth--;
            s->p++;
        } while (depth > 0);
    }
}

static int mime_token(struct mime_scan *s, char *out, size_t outlen, const char *what)
{
    size_t n = 0;

    while (mime_token_char((unsigned char)*s->p)) {
        if (n + 1 >= outlen) {
            snprintf(s->err, s->errlen, "%s longer than %zu bytes", what, outlen - 1);
            return -1;
        }
        out[n++] = (char)tolower((unsigned char)*s->p++);
    }
    out[n] = 0;
    if (n == 0) {
        if (*s->p == 0)
            snprintf(s->err, s->errlen, "missing %s", what);
        else
            snprintf(s->err, s->errlen, "unexpected '%c' where %s expected",
                     isprint((unsigned char)*s->p) ? *s->p : '?', what);
        return -1;
    }
    return 0;
}

/* A parameter as written, before RFC 2231 reassembly. */
struct mime_rawp {
    char base[MIME_MAX_TOKEN + 1];
    int section; /* -1: none */
    int ext;     /* value is charset'lang'%XX (or %XX for sections > 0) */
    char *value;
};

static int mime_value(struct mime_scan *s, char **out)
{
    char buf[MIME_MAX_PARAM_VALUE + 1];
    size_t n = 0;

    if (*s->p == '"') {
        s->p++;
        for (;;) {
            if (*s->p == 0) {
                snprintf(s->err, s->errlen, "unterminated quoted string");
                return -1;
            }
            if (*s->p == '"')
                break;
            if (*s->p == '\\') {
                s->p++;
                if (*s->p == 0) {
                    snprintf(s->err, s->errlen, "unterminated quoted string");
                    return -1;
                }
            }
            if (n >= MIME_MAX_PARAM_VALUE) {
                snprintf(s->err, s->errlen, "parameter value longer than %d bytes",
                         MIME_MAX_PARAM_VALUE);
                return -1;
            }
            buf[n++] = *s->p++;
        }
        s->p++;
    } else {
        while (mime_value_char((unsigned char)*s->p)) {
            if (n >= MIME_MAX_PARAM_VALUE) {
                snprintf(s->err, s->errlen, "parameter value longer than %d bytes",
                         MIME_MAX_PARAM_VALUE);
                return -1;
            }
            buf[n++] = *s->p++;
        }
        if (n == 0) {
            snprintf(s->err, s->errlen, "missing parameter value");
            return -1;
        }
    }
    buf[n] = 0;
    if ((*out = strdup(buf)) == NULL) {
        snprintf(s->err, s->errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* Appends an RFC 2231 extended value: %XX decoded. */
static int mime_pct_append(char *dst, size_t *n, const char *src, struct mime_scan *s,
                           const char *name)
{
    for (; *src; src++) {
        int c = (unsigned char)*src;

        if (c == '%') {
            int h = mime_hexval((unsigned char)src[1]),
                l = h < 0 ? -1 : mime_hexval((unsigned char)src[2]);

            if (h < 0 || l < 0) {
                snprintf(s->err, s->errlen, "parameter %s: invalid %%-escape", name);
                return -1;
            }
            c = h * 16 + l;
            src += 2;
        }
        if (*n >= MIME_MAX_PARAM_VALUE) {
            snprintf(s->err, s->errlen, "parameter %s longer than %d bytes", name,
                     MIME_MAX_PARAM_VALUE);
            return -1;
        }
        dst[(*n)++] = (char)c;
    }
    return 0;
}

static int mime_charset(struct mime_param *p, const char *v, const char *q1)
{
    free(p->charset);
    return (p->charset = strndup(v, (size_t)(q1 - v))) == NULL ? -1 : 0;
}

/* Reassembles RFC 2231 sections of raw[] into hv->params. */
static int mime_params_build(struct mime_rawp *raw, size_t nraw, struct mime_hvalue *hv,
                             struct mime_scan *s)
{
    size_t i, j;

    if (nraw > 0 && (hv->params = calloc(nraw, sizeof(*hv->params))) == NULL)
        goto nomem;
    for (i = 0; i < nraw; i++) {
        char buf[MIME_MAX_PARAM_VALUE + 1];
        size_t n = 0;
        int sec;
        struct mime_param *p;

        if (raw[i].base[0] == 0)
            continue; /* consumed as a section of an earlier name */
        for (j = 0; j < hv->nparams; j++)
            if (strcmp(hv->params[j].name, raw[i].base) == 0) {
                snprintf(s->err, s->errlen, "duplicate parameter %s", raw[i].base);
                return -1;
            }
        if (hv->nparams >= MIME_MAX_PARAMS) {
            snprintf(s->err, s->errlen, "more than %d parameters", MIME_MAX_PARAMS);
            return -1;
        }
        p = &hv->params[hv->nparams++];
        memset(p, 0, sizeof(*p));
        if ((p->name = strdup(raw[i].base)) == NULL || (p->charset = strdup("")) == NULL)
            goto nomem;
        if (raw[i].section < 0) {
            const char *v = raw[i].value;

            if (raw[i].ext) {
                const char *q1 = strchr(v, '\''), *q2 = q1 ? strchr(q1 + 1, '\'') : NULL;

                if (q2 == NULL) {
                    snprintf(s->err, s->errlen, "parameter %s*: missing charset'language'",
                             p->name);
                    return -1;
                }
                if (mime_charset(p, v, q1) < 0)
                    goto nomem;
                if (mime_pct_append(buf, &n, q2 + 1, s, p->name) < 0)
                    return -1;
            } else {
                n = strlen(v);
                memcpy(buf, v, n);
            }
        } else {
            /* sections 0..k, each exactly once, in any order */
            for (sec = 0;; sec++) {
                size_t k, found = nraw;

                for (k = i; k < nraw; k++)
                    if (raw[k].section == sec && strcmp(raw[k].base, p->name) == 0) {
                        if (found != nraw) {
                            snprintf(s->err, s->errlen, "parameter %s*%d given twice", p->name,
                                     sec);
                            return -1;
                        }
                        found = k;
                    }
                if (found == nraw)
                    break;
                if (raw[found].ext) {
                    const char *v = raw[found].value;

                    if (sec == 0) {
                        const char *q1 = strchr(v, '\''), *q2 = q1 ? strchr(q1 + 1, '\'') : NULL;

                        if (q2 == NULL) {
                            snprintf(s->err, s->errlen,
                                     "parameter %s*0*: missing charset'language'", p->name);
                            return -1;
                        }
                        if (mime_charset(p, v, q1) < 0)
                            goto nomem;
                        v = q2 + 1;
                    }
                    if (mime_pct_append(buf, &n, v, s, p->name) < 0)
                        return -1;
                } else {
                    size_t l = strlen(raw[found].value);

                    if (n + l > MIME_MAX_PARAM_VALUE) {
                        snprintf(s->err, s->errlen, "parameter %s longer than %d bytes", p->name,
                                 MIME_MAX_PARAM_VALUE);
                        return -1;
                    }
                    memcpy(buf + n, raw[found].value, l);
                    n += l;
                }
                if (found != i)
                    raw[found].base[0] = 0;
            }
            if (sec == 0) {
                snprintf(s->err, s->errlen, "parameter %s: continuation without section 0",
                         p->name);
                return -1;
            }
            /* a leftover section means a gap */
            for (j = i + 1; j < nraw; j++)
                if (raw[j].section >= 0 && strcmp(raw[j].base, p->name) == 0) {
                    snprintf(s->err, s->errlen, "parameter %s: section %d without section %d",
                             p->name, raw[j].section, sec);
                    return -1;
                }
        }
        buf[n] = 0;
        if (memchr(buf, 0, n) != NULL) {
            snprintf(s->err, s->errlen, "parameter %s: NUL byte", p->name);
            return -1;
        }
        if ((p->value = strdup(buf)) == NULL)
            goto nomem;
    }
    return 0;
nomem:
    snprintf(s->err, s->errlen, "out of memory");
    return -1;
}

/* Splits "name", "name*", "name*3", "name*3*" into raw. */
static int mime_rawp_name(const char *tok, struct mime_rawp *r, struct mime_scan *s)
{
    const char *star = strchr(tok, '*');
    size_t blen = star ? (size_t)(star - tok) : strlen(tok);

    memset(r, 0, sizeof(*r));
    r->section = -1;
    memcpy(r->base, tok, blen);
    r->base[blen] = 0;
    if (star == NULL)
        return 0;
    if (blen == 0)
        goto bad;
    star++;
    if (*star == 0) {
        r->ext = 1;
        return 0;
    }
    if (!isdigit((unsigned char)*star) || (star[0] == '0' && isdigit((unsigned char)star[1])))
        goto bad;
    r->section = 0;
    while (isdigit((unsigned char)*star)) {
        r->section = r->section * 10 + (*star++ - '0');
        if (r->section > 999)
            goto bad;
    }
    if (*star == '*') {
        r->ext = 1;
        star++;
    }
    if (*star == 0)
        return 0;
bad:
    snprintf(s->err, s->errlen, "invalid parameter name %s", tok);
    return -1;
}

int mime_hvalue_parse(const char *value, int is_ctype, struct mime_hvalue *hv, char *errbuf,
                      size_t errlen)
{
    struct mime_scan s = {value, errbuf, errlen};
    struct mime_rawp raw[2 * MIME_MAX_PARAMS];
    size_t nraw = 0, i;
    int rc = MIME_EBAD;

    memset(hv, 0, sizeof(*hv));
    if (mime_cfws(&s) < 0 || mime_token(&s, hv->type, sizeof(hv->type),
                                        is_ctype ? "media type" : "disposition type") < 0)
        goto out;
    if (is_ctype) {
        if (mime_cfws(&s) < 0)
            goto out;
        if (*s.p != '/') {
            snprintf(errbuf, errlen, "missing '/' after media type %s", hv->type);
            goto out;
        }
        s.p++;
        if (mime_cfws(&s) < 0 || mime_token(&s, hv->subtype, sizeof(hv->subtype), "subtype") < 0)
            goto out;
    }
    for (;;) {
        char name[MIME_MAX_TOKEN + 1];

        if (mime_cfws(&s) < 0)
            goto out;
        if (*s.p == 0)
            break;
        if (*s.p != ';') {
            snprintf(errbuf, errlen, "unexpected '%c' (expected ';' before a parameter)",
                     isprint((unsigned char)*s.p) ? *s.p : '?');
            goto out;
        }
        s.p++;
        if (mime_cfws(&s) < 0)
            goto out;
        if (*s.p == 0)
            break; /* tolerated trailing ';' */
        if (*s.p == ';')
            continue; /* tolerated empty parameter: "multipart/mixed;; boundary=..." */
        if (mime_token(&s, name, sizeof(name), "parameter name") < 0)
            goto out;
        /* RFC 2231 '*' is a tspecial-free token char, so it stays in name */
        if (mime_cfws(&s) < 0)
            goto out;
        if (*s.p != '=') {
            snprintf(errbuf, errlen, "parameter %s without '='", name);
            goto out;
        }
        s.p++;
        if (mime_cfws(&s) < 0)
            goto out;
        if (nraw >= sizeof(raw) / sizeof(raw[0])) {
            snprintf(errbuf, errlen, "more than %d parameters", MIME_MAX_PARAMS);
            rc = MIME_ELIMIT;
            goto out;
        }
        if (mime_rawp_name(name, &raw[nraw], &s) < 0)
            goto out;
        if (mime_value(&s, &raw[nraw].value) < 0) {
            if (strstr(errbuf, "longer than"))
                rc = MIME_ELIMIT;
            goto out;
        }
        if (raw[nraw].section >= 0 || raw[nraw].ext) {
            /* the value of an extended parameter is a token, never quoted */
        }
        nraw++;
    }
    if (mime_params_build(raw, nraw, hv, &s) < 0) {
        if (strstr(errbuf, "longer than") || strstr(errbuf, "more than"))
            rc = MIME_ELIMIT;
        goto out;
    }
    rc = MIME_OK;
out:
    for (i = 0; i < nraw; i++)
        free(raw[i].value);
    if (rc != MIME_OK)
        mime_hvalue_free(hv);
    return rc;
}

void mime_hvalue_free(struct mime_hvalue *hv)
{
    size_t i;

    for (i = 0; i < hv->nparams; i++) {
        free(hv->params[i].name);
        free(hv->params[i].value);
        free(hv->params[i].charset);
    }
    free(hv->params);
    hv->params = NULL;
    hv->nparams = 0;
}

const char *mime_hvalue_param(const struct mime_hvalue *hv, const char *name)
{
    size_t i;

    for (i = 0; i < hv->nparams; i++)
        if (strcasecmp(hv->params[i].name, name) == 0)
            return hv->params[i].value;
    return NULL;
}

static const char *const mime_cte_names[] = {"7bit", "8bit", "binary", "quoted-printable",
                                             "base64"};

int mime_cte_parse(const char *value)
{
    struct mime_scan s;
    char err[64], tok[MIME_MAX_TOKEN + 1];
    size_t i;

    s.p = value;
    s.err = err;
    s.errlen = sizeof(err);
    if (mime_cfws(&s) < 0 || mime_token(&s, tok, sizeof(tok), "encoding") < 0 ||
        mime_cfws(&s) < 0 || *s.p != 0)
        return -1;
    for (i = 0; i < sizeof(mime_cte_names) / sizeof(mime_cte_names[0]); i++)
        if (strcmp(tok, mime_cte_names[i]) == 0)
            return (int)i;
    return -1;
}

const char *mime_cte_name(int cte)
{
    if (cte < 0 || cte > MIME_CTE_BASE64)
        return "unknown";
    return mime_cte_names[cte];
}

/* ---- RFC 2047 encoded words ---- */

/* Decodes one word at in ("=?cs?E?text?="); returns its length or 0. */
static size_t mime_word(const char *in, char *out, size_t outlen, size_t *o)
{
    const char *cs = in + 2, *q1 = strchr(cs, '?'), *text, *end;
    char enc;

    if (q1 == NULL || q1 == cs || (q1[1] != 'B' && q1[1] != 'b' && q1[1] != 'Q' && q1[1] != 'q') ||
        q1[2] != '?')
        return 0;
    enc = (char)toupper((unsigned char)q1[1]);
    text = q1 + 3;
    if ((end = strstr(text, "?=")) == NULL)
        return 0;
    for (const char *p = cs; p < end; p++)
        if (*p == ' ' || *p == '\t')
            return 0;
    if (enc == 'B') {
        struct mime_dec d;
        char buf[MIME_MAX_FIELD + MIME_DEC_SLACK];
        size_t n = 0, m = 0;

        if ((size_t)(end - text) > MIME_MAX_FIELD)
            return 0;
        mime_dec_init(&d, MIME_CTE_BASE64);
        if (mime_dec_update(&d, text, (size_t)(end - text), buf, &n) < 0 ||
            mime_dec_final(&d, buf + n, &m) < 0)
            return 0;
        n += m;
        for (m = 0; m < n && *o + 1 < outlen; m++)
            out[(*o)++] = buf[m] ? buf[m] : ' ';
    } else {
        const char *p;

        for (p = text; p < end && *o + 1 < outlen; p++) {
            int c = (unsigned char)*p;

            if (c == '_') {
                c = ' ';
            } else if (c == '=' && p + 2 < end && mime_hexval((unsigned char)p[1]) >= 0 &&
                       mime_hexval((unsigned char)p[2]) >= 0) {
                c = mime_hexval((unsigned char)p[1]) * 16 + mime_hexval((unsigned char)p[2]);
                p += 2;
            }
            out[(*o)++] = (char)(c ? c : ' ');
        }
    }
    return (size_t)(end + 2 - in);
}

size_t mime_words_decode(const char *in, char *out, size_t outlen)
{
    size_t o = 0, n, blank_at = 0;
    const char *p = in, *blank = NULL;
    int last_word = 0;

    if (outlen == 0)
        return 0;
    while (*p && o + 1 < outlen) {
        if (p[0] == '=' && p[1] == '?') {
            size_t save = o;

            if (blank != NULL && last_word)
                o = blank_at; /* drop blanks between two encoded words */
            if ((n = mime_word(p, out, outlen, &o)) > 0) {
                p += n;
                last_word = 1;
                blank = NULL;
                continue;
            }
            o = save;
        }
        if (*p == ' ' || *p == '\t') {
            if (blank == NULL) {
                blank = p;
                blank_at = o;
            }
        } else {
            last_word = 0;
            blank = NULL;
        }
        out[o++] = *p++;
    }
    out[o] = 0;
    return o;
}
