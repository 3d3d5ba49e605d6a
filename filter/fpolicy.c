/*
 * fpolicy: which treatment a recipient gets.  A rule ([filter rule NAME])
 * matches when EVERY condition it has holds:
 *   recipient / recipient_domain / sender / sender_domain: any pattern of the
 *     list matches (lib/match: user@domain, @domain, user@; example.org,
 *     .example.org, *.example.org, *)
 *   header = FIELD REGEX: some FIELD of the top-level header, RFC 2047
 *     encoded words decoded, matches REGEX
 *   body = REGEX: some line of some text part (any subtype) that is not an attachment,
 *     transfer encoding decoded, matches REGEX (lines longer than 4095
 *     bytes are matched in pieces)
 * A rule without conditions matches everything.
 * rule_order = first-match: the first matching rule in file order decides.
 * rule_order = most-specific: the matching rule with the most specific
 *   recipient condition decides (user@domain > @domain > user@ > domain
 *   patterns, a longer domain beats a shorter one, an exact name beats
 *   .subdomain > "*"), ties broken by the sender condition the same way,
 *   then by the number of content conditions, then by file order.
 * The deciding rule's settings override [filter]'s; what it does not set
 * comes from [filter].  No matching rule: [filter] decides alone.
 *
 * Failure: an unreadable body is FERR_TEMP; nothing else fails.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "fpolicy.h"
#include "match.h"

#define FPOL_LINE 4096

/* Rank of an address pattern that matched. */
static long fp_addr_rank(const char *p)
{
    const char *at = strrchr(p, '@');

    if (at == p)
        return 2000 + match_domain_rank(at + 1);
    if (at[1] == 0)
        return 1000;
    return 3000;
}

/* -1: no pattern matched; else the best rank of those that matched.  An
 * empty list is "no condition": rank 0. */
static long fp_list(const struct fc_plist *l, const char *value, int domain)
{
    long best = -1, r;
    size_t i;

    if (l->n == 0)
        return 0;
    for (i = 0; i < l->n; i++) {
        if (domain) {
            const char *d = match_addr_domain(value);

            if (d == NULL || !match_domain(l->v[i], d))
                continue;
            r = match_domain_rank(l->v[i]);
        } else {
            if (!match_address(l->v[i], value))
                continue;
            r = fp_addr_rank(l->v[i]);
        }
        if (r > best)
            best = r;
    }
    return best;
}

static int fp_header(const struct fc_hdrcond *c, const struct mime_header *h)
{
    size_t idx = 0;
    const struct mime_field *f;
    char dec[MIME_MAX_FIELD + 1];

    if (h == NULL)
        return 0;
    while ((f = mime_header_find(h, c->field, &idx)) != NULL) {
        mime_words_decode(f->value, dec, sizeof(dec));
        if (regexec(&c->re, dec, 0, NULL, 0) == 0)
            return 1;
    }
    return 0;
}

struct fp_body {
    const regex_t *re;
    int fd;
    int found;
    int error;
};

static int fp_line(struct fp_body *b, char *line, size_t n)
{
    line[n] = 0;
    if (regexec(b->re, line, 0, NULL, 0) == 0)
        b->found = 1;
    return b->found;
}

static int fp_body_part(struct mime_part *p, void *arg)
{
    struct fp_body *b = arg;
    struct mime_dec d;
    char in[8192], out[8192 + MIME_DEC_SLACK], line[FPOL_LINE + 1];
    size_t ln = 0, n, i;
    off_t off;

    if (p->child != NULL || p->boundary != NULL || strcasecmp(p->ctype.type, "text") != 0 ||
        strcasecmp(p->disposition, "attachment") == 0)
        return 0;
    mime_dec_init(&d, p->cte);
    for (off = p->body; off < p->end || ln > 0;) {
        ssize_t r = 0;

        n = 0;
        if (off < p->end) {
            size_t want = sizeof(in);

            if ((off_t)want > p->end - off)
                want = (size_t)(p->end - off);
            r = pread(b->fd, in, want, off);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0) {
                b->error = errno ? errno : EIO;
                return 1;
            }
            off += r;
            if (mime_dec_update(&d, in, (size_t)r, out, &n) < 0)
                return 0; /* undecodable part: no match in it */
        } else if (mime_dec_final(&d, out, &n) < 0) {
            n = 0;
        }
        for (i = 0; i < n; i++) {
            if (out[i] == '\n' || ln == FPOL_LINE) {
                if (fp_line(b, line, ln))
                    return 1;
                ln = 0;
                if (out[i] == '\n')
                    continue;
            }
            line[ln++] = out[i];
        }
        if (off >= p->end) {
            if (ln > 0 && fp_line(b, line, ln))
                return 1;
            break;
        }
    }
    return 0;
}

static int fp_body(const struct fc_hdrcond *c, struct fpol_msg *m, struct ferr *err)
{
    struct fp_body b = {&c->re, m->fd, 0, 0};
    size_t i;

    if (m->mime == NULL)
        return 0;
    for (i = 0; i < m->ncache; i++)
        if (m->cache[i].re == &c->re)
            return m->cache[i].result;
    mime_walk(m->mime->root, fp_body_part, &b);
    if (b.error) {
        ferr_set(err, FERR_TEMP, "4.3.0 reading the message body: %s", strerror(b.error));
        return -1;
    }
    if (m->ncache < FPOL_CACHE) {
        m->cache[m->ncache].re = &c->re;
        m->cache[m->ncache++].result = b.found;
    }
    return b.found;
}

/* -1 no match, else the rule's specificity; FERR_TEMP through err. */
static long fp_rule_score(const struct fc_rule *r, const char *sender, const char *rcpt,
                          struct fpol_msg *m, struct ferr *err)
{
    long ra, rd, sa, sd;
    size_t i;
    int rc;

    if ((ra = fp_list(&r->rcpt, rcpt, 0)) < 0 || (rd = fp_list(&r->rcpt_domain, rcpt, 1)) < 0 ||
        (sa = fp_list(&r->sender, sender, 0)) < 0 ||
        (sd = fp_list(&r->sender_domain, sender, 1)) < 0)
        return -1;
    for (i = 0; i < r->nhdr; i++)
        if (!fp_header(&r->hdr[i], m->hdr))
            return -1;
    for (i = 0; i < r->nbody; i++) {
        if ((rc = fp_body(&r->body[i], m, err)) < 0)
            return -2;
        if (rc == 0)
            return -1;
    }
    if (rd > ra)
        ra = rd;
    if (sd > sa)
        sa = sd;
    return ra * 100000 + sa * 10 + (long)(r->nhdr + r->nbody > 9 ? 9 : r->nhdr + r->nbody);
}

const struct fc_signkey *fpol_signkey(const struct fconf *fc, const char *forced,
                                      const char *sender)
{
    const struct fc_signkey *best = NULL;
    long best_score = -1, sa, sd;
    size_t i;

    for (i = 0; i < fc->nsignkeys; i++) {
        const struct fc_signkey *k = &fc->signkeys[i];

        if (forced != NULL) {
            if (strcmp(k->name, forced) == 0)
                return k;
            continue;
        }
        if ((sa = fp_list(&k->sender, sender, 0)) < 0 ||
            (sd = fp_list(&k->sender_domain, sender, 1)) < 0)
            continue;
        if (sd > sa)
            sa = sd;
        if (fc->order == FC_FIRST_MATCH)
            return k;
        if (sa > best_score) {
            best_score = sa;
            best = k;
        }
    }
    return best;
}

int fpol_decide(const struct fconf *fc, const char *sender, const char *rcpt, struct fpol_msg *m,
                struct fpol_decision *d, struct ferr *err)
{
    const struct fc_rule *best = NULL;
    const struct fc_action *a;
    long best_score = -1, s;
    size_t i;

    for (i = 0; i < fc->nrules; i++) {
        s = fp_rule_score(&fc->rules[i], sender, rcpt, m, err);
        if (s == -2)
            return FERR_TEMP;
        if (s < 0)
            continue;
        if (fc->order == FC_FIRST_MATCH) {
            best = &fc->rules[i];
            break;
        }
        if (s > best_score) {
            best_score = s;
            best = &fc->rules[i];
        }
    }
    a = &fc->defaults;
    memset(d, 0, sizeof(*d));
    d->encrypt = a->encrypt;
    d->sign = a->sign;
    d->no_key = a->no_key;
    d->protect_subject = a->protect_subject;
    d->smime_cipher = a->smime_cipher;
    memcpy(d->methods, a->methods, sizeof(d->methods));
    d->nmethods = a->nmethods;
    if (best != NULL) {
        const struct fc_action *r = &best->act;

        d->rule = best->name;
        if (r->encrypt >= 0)
            d->encrypt = r->encrypt;
        if (r->sign >= 0)
            d->sign = r->sign;
        if (r->no_key >= 0)
            d->no_key = r->no_key;
        if (r->protect_subject >= 0)
            d->protect_subject = r->protect_subject;
        if (r->smime_cipher >= 0)
            d->smime_cipher = r->smime_cipher;
        if (r->nmethods > 0) {
            memcpy(d->methods, r->methods, sizeof(d->methods));
            d->nmethods = r->nmethods;
        }
    }
    if (d->sign)
        d->signkey =
            fpol_signkey(fc, best && best->act.signkey ? best->act.signkey : a->signkey, sender);
    return FERR_OK;
}
