/*
 * mime: the entity tree of a message, built in one streaming pass over a
 * spooled file (RFC 2045, RFC 2046 multipart, RFC 5322 headers).
 *
 * Contract: every part is described by byte offsets into the file (header,
 * body, end; preamble and epilogue for multiparts), so callers can verify
 * signatures over the original bytes.  Memory grows with the number of parts
 * (at most MIME_MAX_PARTS), never with their size; lines are read through one
 * 64 KiB buffer.  Part names follow IMAP: the parts of a top-level multipart
 * are "1", "2", their parts "1.1" ...; the message inside a message/rfc822
 * part "2" is "2.1".
 *
 * Strict: a multipart without a valid boundary parameter (1-70 characters of
 * RFC 2046 bchars, not ending in a space), a boundary reused by a nested
 * multipart, no delimiter at all, a missing close delimiter, an enclosing
 * delimiter inside an unfinished nested multipart, a delimiter after the close
 * delimiter, a multipart or message/rfc822 with an encoding other than
 * 7bit/8bit/binary, an unknown Content-Transfer-Encoding, repeated
 * Content-Type/-Transfer-Encoding fields, nesting deeper than MIME_MAX_DEPTH:
 * each is an error naming the part ("part 1.2: ...").  Delimiter lines match
 * exactly ("--" boundary ["--"] then only blanks: RFC 2046 transport padding),
 * never by prefix.  The LF before a delimiter belongs to the delimiter, and
 * so does a CR right before that LF (RFC 2046 5.1.1: the CRLF preceding the
 * delimiter line is part of it): a part's end never includes that CR.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mime_rd.h"

enum { MIME_PRE, MIME_IN, MIME_EPI };

struct mime_frame {
    struct mime_part *part;
    const char *boundary; /* NULL: message/rfc822 container */
    size_t blen;
    int phase;
    struct mime_part *last;
};

struct mime_ctx {
    struct mime_rd rd;
    struct mime_msg *msg;
    struct mime_frame stack[MIME_MAX_DEPTH + 2];
    int top;
    struct mime_part *leaf; /* part whose body is being read, or NULL */
    off_t content;          /* where the current content (body/preamble/epilogue) started */
    struct mime_err *err;
};

const char *mime_part_name(const struct mime_part *part, char *buf, size_t len)
{
    if (part->id[0] == 0)
        snprintf(buf, len, "message");
    else
        snprintf(buf, len, "part %s", part->id);
    return buf;
}

int mime_part_is(const struct mime_part *part, const char *type, const char *subtype)
{
    return strcasecmp(part->ctype.type, type) == 0 &&
           (strcmp(subtype, "*") == 0 || strcasecmp(part->ctype.subtype, subtype) == 0);
}

/* 1 = delimiter, 2 = close delimiter, 0 = no match. */
static int mime_delim(const char *line, size_t len, const char *b, size_t blen)
{
    size_t i;
    int r = 1;

    if (len < blen + 2 || line[0] != '-' || line[1] != '-' || memcmp(line + 2, b, blen) != 0)
        return 0;
    i = blen + 2;
    if (len >= i + 2 && line[i] == '-' && line[i + 1] == '-') {
        r = 2;
        i += 2;
    }
    for (; i < len; i++)
        if (line[i] != ' ' && line[i] != '\t')
            return 0;
    return r;
}

/* Innermost frame whose boundary the line matches: its index, or -1. */
static int mime_match(struct mime_ctx *c, const char *line, size_t len, int *kind)
{
    int i;

    if (len < 3 || line[0] != '-' || line[1] != '-')
        return -1;
    for (i = c->top - 1; i >= 0; i--) {
        if (c->stack[i].boundary == NULL)
            continue;
        if ((*kind = mime_delim(line, len, c->stack[i].boundary, c->stack[i].blen)) != 0)
            return i;
    }
    return -1;
}

static int mime_stop(const char *line, size_t len, void *arg)
{
    int kind;

    return mime_match(arg, line, len, &kind) >= 0;
}

static int mime_boundary_ok(const char *b)
{
    size_t n = strlen(b), i;

    if (n < 1 || n > MIME_MAX_BOUNDARY || b[n - 1] == ' ')
        return 0;
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)b[i];

        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              strchr("'()+_,-./:=? ", ch) != NULL) ||
            ch == 0)
            return 0;
    }
    return 1;
}

static struct mime_part *mime_part_new(struct mime_ctx *c, struct mime_part *parent)
{
    struct mime_part *p;

    if (c->msg->nparts >= MIME_MAX_PARTS) {
        mime_err_set(c->err, parent ? parent->id : "", "more than %d MIME parts", MIME_MAX_PARTS);
        errno = E2BIG;
        return NULL;
    }
    if ((p = calloc(1, sizeof(*p))) == NULL) {
        mime_err_set(c->err, parent ? parent->id : "", "out of memory");
        errno = ENOMEM;
        return NULL;
    }
    c->msg->nparts++;
    if (parent != NULL) {
        p->parent = parent;
        p->depth = parent->depth + 1;
        parent->nchild++;
        if (snprintf(p->id, sizeof(p->id), "%s%s%zu", parent->id, parent->id[0] ? "." : "",
                     parent->nchild) >= (int)sizeof(p->id))
            p->id[sizeof(p->id) - 2] = '+'; /* cannot happen within the limits */
        if (parent->child == NULL) {
            parent->child = p;
        } else {
            struct mime_part *q = parent->child;

            while (q->next)
                q = q->next;
            q->next = p;
        }
    }
    return p;
}

static const struct mime_field *mime_single(struct mime_ctx *c, struct mime_part *p,
                                            const struct mime_header *h, const char *name, int *rc)
{
    size_t idx = 0;
    const struct mime_field *f = mime_header_find(h, name, &idx);

    *rc = MIME_OK;
    if (f != NULL && mime_header_find(h, name, &idx) != NULL) {
        mime_err_set(c->err, p->id, "more than one %s field", name);
        *rc = MIME_EBAD;
    }
    return f;
}

static int mime_read_part(struct mime_ctx *c, struct mime_part *p);

/* Interprets the header of p; pushes a frame for containers. */
static int mime_setup(struct mime_ctx *c, struct mime_part *p, const struct mime_header *h)
{
    const struct mime_field *f;
    char ebuf[200];
    int rc, i;

    p->off = h->off;
    p->body = h->body;
    f = mime_single(c, p, h, "Content-Type", &rc);
    if (rc < 0)
        return rc;
    if (f != NULL) {
        if ((rc = mime_hvalue_parse(f->value, 1, &p->ctype, ebuf, sizeof(ebuf))) < 0) {
            mime_err_set(c->err, p->id, "Content-Type: %s", ebuf);
            return rc;
        }
        p->ctype_given = 1;
    } else if (p->parent != NULL && mime_part_is(p->parent, "multipart", "digest")) {
        snprintf(p->ctype.type, sizeof(p->ctype.type), "message");
        snprintf(p->ctype.subtype, sizeof(p->ctype.subtype), "rfc822");
    } else {
        snprintf(p->ctype.type, sizeof(p->ctype.type), "text");
        snprintf(p->ctype.subtype, sizeof(p->ctype.subtype), "plain");
    }
    f = mime_single(c, p, h, "Content-Transfer-Encoding", &rc);
    if (rc < 0)
        return rc;
    p->cte = MIME_CTE_7BIT;
    if (f != NULL && (p->cte = mime_cte_parse(f->value)) < 0) {
        mime_err_set(c->err, p->id, "unknown Content-Transfer-Encoding \"%.60s\"", f->value);
        return MIME_EBAD;
    }
    f = mime_single(c, p, h, "Content-Disposition", &rc);
    if (rc < 0)
        return rc;
    if (f != NULL) {
        struct mime_hvalue d;

        if ((rc = mime_hvalue_parse(f->value, 0, &d, ebuf, sizeof(ebuf))) < 0) {
            mime_err_set(c->err, p->id, "Content-Disposition: %s", ebuf);
            return rc;
        }
        snprintf(p->disposition, sizeof(p->disposition), "%s", d.type);
        mime_hvalue_free(&d);
    }
    c->leaf = NULL;
    c->content = p->body;
    if (mime_part_is(p, "multipart", "*")) {
        const char *b = mime_hvalue_param(&p->ctype, "boundary");

        if (p->cte != MIME_CTE_7BIT && p->cte != MIME_CTE_8BIT && p->cte != MIME_CTE_BINARY) {
            mime_err_set(c->err, p->id, "multipart with Content-Transfer-Encoding %s",
                         mime_cte_name(p->cte));
            return MIME_EBAD;
        }
        if (b == NULL) {
            mime_err_set(c->err, p->id, "multipart/%s without boundary parameter",
                         p->ctype.subtype);
            return MIME_EBAD;
        }
        if (!mime_boundary_ok(b)) {
            mime_err_set(c->err, p->id, "invalid multipart boundary \"%.80s\"", b);
            return strlen(b) > MIME_MAX_BOUNDARY ? MIME_ELIMIT : MIME_EBAD;
        }
        for (i = 0; i < c->top; i++)
            if (c->stack[i].boundary && strcmp(c->stack[i].boundary, b) == 0) {
                mime_err_set(c->err, p->id, "boundary \"%s\" reused from the enclosing %s", b,
                             c->stack[i].part->id[0] ? c->stack[i].part->id : "message");
                return MIME_EBAD;
            }
        if (p->depth >= MIME_MAX_DEPTH || c->top > MIME_MAX_DEPTH) {
            mime_err_set(c->err, p->id, "MIME nesting deeper than %d", MIME_MAX_DEPTH);
            return MIME_ELIMIT;
        }
        if ((p->boundary = strdup(b)) == NULL) {
            mime_err_set(c->err, p->id, "out of memory");
            return MIME_EIO;
        }
        p->preamble = p->body;
        c->stack[c->top++] = (struct mime_frame){p, p->boundary, strlen(b), MIME_PRE, NULL};
        return MIME_OK;
    }
    if (mime_part_is(p, "message", "rfc822")) {
        struct mime_part *child;

        if (p->cte != MIME_CTE_7BIT && p->cte != MIME_CTE_8BIT && p->cte != MIME_CTE_BINARY) {
            mime_err_set(c->err, p->id, "message/rfc822 with Content-Transfer-Encoding %s",
                         mime_cte_name(p->cte));
            return MIME_EBAD;
        }
        if (p->depth >= MIME_MAX_DEPTH || c->top > MIME_MAX_DEPTH) {
            mime_err_set(c->err, p->id, "MIME nesting deeper than %d", MIME_MAX_DEPTH);
            return MIME_ELIMIT;
        }
        c->stack[c->top++] = (struct mime_frame){p, NULL, 0, MIME_IN, NULL};
        if ((child = mime_part_new(c, p)) == NULL)
            return errno == E2BIG ? MIME_ELIMIT : MIME_EIO;
        c->stack[c->top - 1].last = child;
        return mime_read_part(c, child);
    }
    c->leaf = p;
    return MIME_OK;
}

/* Reads the header of p at the reader's position and sets it up. */
static int mime_read_part(struct mime_ctx *c, struct mime_part *p)
{
    struct mime_header h;
    int rc;

    if ((rc = mime_hdr_parse(&c->rd, p->id, &h, c->top ? mime_stop : NULL, c, c->err)) < 0)
        return rc;
    rc = mime_setup(c, p, &h);
    mime_header_free(&h);
    return rc;
}

static off_t mime_max(off_t a, off_t b)
{
    return a > b ? a : b;
}

/* A delimiter of frame k at [off, next): ends everything inside k.  crlf:
 * the line before it ended in CR LF (both belong to the delimiter). */
static int mime_on_delim(struct mime_ctx *c, int k, int kind, off_t off, off_t next, int crlf)
{
    off_t e = off > c->content ? off - 1 : off;
    struct mime_frame *f;
    struct mime_part *child;

    if (crlf && e > c->content)
        e--;

    if (c->leaf != NULL)
        c->leaf->end = mime_max(c->leaf->body, e);
    c->leaf = NULL;
    while (c->top - 1 > k) {
        f = &c->stack[--c->top];
        if (f->boundary != NULL && f->phase != MIME_EPI) {
            mime_err_set(c->err, f->part->id,
                         "unterminated multipart: delimiter of the enclosing %s found before "
                         "\"--%s--\"",
                         f->part->parent && f->part->parent->id[0] ? f->part->parent->id
                                                                   : "message",
                         f->boundary);
            return MIME_EBAD;
        }
        if (f->boundary != NULL)
            f->part->epilogue_end = mime_max(f->part->epilogue, e);
        f->part->end = mime_max(f->part->body, e);
    }
    f = &c->stack[k];
    if (f->phase == MIME_PRE)
        f->part->preamble_end = mime_max(f->part->preamble, e);
    else if (f->last != NULL)
        f->last->end = mime_max(f->last->body, e);
    if (f->phase == MIME_EPI) {
        mime_err_set(c->err, f->part->id[0] ? f->part->id : "",
                     "boundary delimiter \"--%s\" after the close delimiter", f->boundary);
        return MIME_EBAD;
    }
    if (kind == 2) {
        if (f->phase == MIME_PRE) {
            mime_err_set(c->err, f->part->id, "close delimiter \"--%s--\" before any body part",
                         f->boundary);
            return MIME_EBAD;
        }
        f->phase = MIME_EPI;
        f->part->epilogue = next;
        c->content = next;
        return MIME_OK;
    }
    f->phase = MIME_IN;
    if ((child = mime_part_new(c, f->part)) == NULL)
        return errno == E2BIG ? MIME_ELIMIT : MIME_EIO;
    f->last = child;
    return mime_read_part(c, child);
}

static int mime_on_eof(struct mime_ctx *c, off_t e)
{
    struct mime_frame *f;

    if (c->leaf != NULL)
        c->leaf->end = mime_max(c->leaf->body, e);
    while (c->top > 0) {
        f = &c->stack[--c->top];
        if (f->boundary != NULL && f->phase == MIME_PRE) {
            mime_err_set(c->err, f->part->id, "no multipart boundary delimiter \"--%s\" found",
                         f->boundary);
            return MIME_EBAD;
        }
        if (f->boundary != NULL && f->phase != MIME_EPI) {
            mime_err_set(c->err, f->part->id,
                         "unterminated multipart: close delimiter \"--%s--\" missing", f->boundary);
            return MIME_EBAD;
        }
        if (f->boundary != NULL)
            f->part->epilogue_end = mime_max(f->part->epilogue, e);
        f->part->end = mime_max(f->part->body, e);
    }
    return MIME_OK;
}

int mime_parse(int fd, off_t off, off_t end, struct mime_msg *msg, struct mime_err *err)
{
    struct mime_ctx *c;
    const char *line;
    size_t len;
    off_t loff;
    int partial, rc, k, kind, cont = 0;
    int line_crlf = 0, prev_crlf, tail_cr = 0; /* CR LF line ends, for mime_on_delim */

    memset(msg, 0, sizeof(*msg));
    err->text[0] = 0;
    if ((c = calloc(1, sizeof(*c))) == NULL || mime_rd_init(&c->rd, fd, off, end) < 0) {
        free(c);
        mime_err_set(err, "", "out of memory");
        return MIME_EIO;
    }
    c->msg = msg;
    c->err = err;
    if ((msg->root = mime_part_new(c, NULL)) == NULL) {
        rc = MIME_EIO;
        goto out;
    }
    if ((rc = mime_read_part(c, msg->root)) < 0)
        goto out;
    for (;;) {
        rc = mime_rd_line(&c->rd, &line, &len, &loff, &partial);
        if (rc < 0) {
            mime_err_set(err, c->leaf ? c->leaf->id : "", "read error: %s", strerror(errno));
            goto out;
        }
        if (rc == 0)
            break;
        prev_crlf = line_crlf;
        if (!partial)
            line_crlf = line[len - 1] == '\n' && (len >= 2 ? line[len - 2] == '\r' : tail_cr);
        tail_cr = line[len - 1] == '\r';
        if (cont || c->top == 0) { /* inside an over-long line, or nothing to find */
            cont = partial;
            continue;
        }
        cont = partial;
        if (partial)
            continue; /* longer than any delimiter line may be */
        if (line[len - 1] == '\n')
            len--;
        if (len > 0 && line[len - 1] == '\r')
            len--;
        if ((k = mime_match(c, line, len, &kind)) < 0)
            continue;
        if ((rc = mime_on_delim(c, k, kind, loff, mime_rd_tell(&c->rd), prev_crlf)) < 0)
            goto out;
    }
    msg->size = mime_rd_tell(&c->rd) - off;
    rc = mime_on_eof(c, mime_rd_tell(&c->rd));
out:
    mime_rd_free(&c->rd);
    free(c);
    if (rc < 0)
        mime_msg_free(msg);
    return rc;
}

static void mime_part_free(struct mime_part *p)
{
    while (p != NULL) {
        struct mime_part *next = p->next;

        mime_part_free(p->child);
        mime_hvalue_free(&p->ctype);
        free(p->boundary);
        free(p);
        p = next;
    }
}

void mime_msg_free(struct mime_msg *msg)
{
    mime_part_free(msg->root);
    msg->root = NULL;
    msg->nparts = 0;
}

int mime_walk(struct mime_part *part, int (*fn)(struct mime_part *, void *), void *arg)
{
    int rc;

    for (; part != NULL; part = part->next) {
        if ((rc = fn(part, arg)) != 0)
            return rc;
        if ((rc = mime_walk(part->child, fn, arg)) != 0)
            return rc;
    }
    return 0;
}

static int mime_find_fn(struct mime_part *p, void *arg)
{
    void **a = arg;

    if (strcmp(p->id, a[0]) == 0) {
        a[1] = p;
        return 1;
    }
    return 0;
}

struct mime_part *mime_part_find(const struct mime_msg *msg, const char *id)
{
    void *a[2] = {(void *)id, NULL};

    mime_walk(msg->root, mime_find_fn, a);
    return a[1];
}
