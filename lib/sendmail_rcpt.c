/*
 * sendmail_rcpt: Sendmail's TLS_Rcpt: entries enforced on receipt, per
 * recipient, for postseal-policyd ([sendmail] tls_rcpt = inbound or both).
 *
 * In Sendmail, tls_rcpt checks the next hop before each RCPT TO is sent.
 * Received mail has no next hop yet; what an operator can enforce for it is
 * the SMTP client that hands the mail in: the entry for a recipient is looked
 * up in Sendmail's order (proto.m4 tls_rcpt: SearchList F, U, D, E):
 *     user+detail@domain, user+*@domain, user@domain
 *     user+detail@, user+*@, user@
 *     domain, then its parent domains (leftmost labels stripped one by one)
 *     the bare tag TLS_Rcpt:
 * and the first entry found decides alone.  Its requirement (VERIFY,
 * VERIFY:bits, ENCR:bits, CN, CN:name; TEMP+/PERM+) is checked by the rule
 * engine (lib/rules) against the client's TLS facts exactly as a TLS_Clt:
 * entry is (sma_settings): same refusal texts, same codes, the access file's
 * FILE:LINE in every refusal.  CN means the client's verified host name.
 *
 * Contract: each entry becomes one small rule set, built at load; lookups
 * are binary searches in a sorted copy of the keys (at most about 10 per
 * recipient), deciding never allocates.  The entries are copied, so the map
 * may be freed after smr_new().  A recipient longer than SMA_MAX_LINE is
 * looked up under the bare tag only.  Keys Sendmail never looks up for a
 * recipient (TLS_Rcpt:@domain, TLS_Rcpt:.domain) are load errors; entries the
 * loader kept as unsupported (CS:, CI:, CITag: with unsupported = warn) are
 * skipped and the lookup goes on, as sma_find does.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sendmail_rcpt.h"

struct smr_item {
    struct sma_entry e; /* key and value copied; cn_name not kept */
    struct rules *r;
};

struct smr {
    struct smr_item *item; /* sorted by key */
    size_t n;
    char *path;
};

void smr_free(struct smr *s)
{
    size_t i;

    if (s == NULL)
        return;
    for (i = 0; i < s->n; i++) {
        free(s->item[i].e.key);
        free(s->item[i].e.value);
        rules_free(s->item[i].r);
    }
    free(s->item);
    free(s->path);
    free(s);
}

static int smr_cmp(const void *a, const void *b)
{
    return strcmp(((const struct smr_item *)a)->e.key, ((const struct smr_item *)b)->e.key);
}

/* One entry's rule set: the [policy]-like scope of a fresh engine. */
static int smr_build(const struct sma_conf *conf, const struct sma_entry *e, struct smr_item *it,
                     struct cfg_diag *diag)
{
    struct rules_src src = {conf->map->path, e->line};
    struct rules_scope *sc;
    const char *set[6][2];
    char bits[16];
    char label[SMA_MAX_LINE + 16];
    char err[600];
    int nset;
    int k;

    it->e = *e;
    it->e.cn_name = NULL;
    it->e.key = strdup(e->key);
    it->e.value = strdup(e->value);
    if (it->e.key == NULL || it->e.value == NULL || (it->r = rules_new()) == NULL ||
        (sc = rules_scope(it->r, RULES_GLOBAL, "", &src, err, sizeof(err))) == NULL) {
        cfg_error(diag, e->line, "out of memory");
        return -1;
    }
    snprintf(label, sizeof(label), "TLS_Rcpt:%s", e->key);
    if (rules_scope_label(sc, label) < 0) {
        cfg_error(diag, e->line, "out of memory");
        return -1;
    }
    nset = sma_settings(conf, e, set, bits);
    for (k = 0; k < nset; k++)
        if (rules_set(it->r, sc, set[k][0], set[k][1], &src, err, sizeof(err)) < 0) {
            cfg_error(diag, e->line, "TLS_Rcpt:%s: %s", e->key, err);
            return -1;
        }
    rules_finish(it->r);
    return 0;
}

int smr_new(const struct sma_conf *conf, struct cfg_diag *diag, struct smr **out)
{
    const struct sma_map *m = conf->map;
    int errors = diag->errors;
    struct smr *s;
    size_t i;

    *out = NULL;
    if (m == NULL)
        return 0;
    if (!(conf->tls_rcpt & SMA_RCPT_INBOUND)) {
        for (i = 0; i < m->count && m->entries[i].tag != SMA_TAG_RCPT; i++)
            ;
        if (i < m->count)
            log_info("%s: note: TLS_Rcpt: entries are applied on delivery by "
                     "postseal-tlspolicyd ([sendmail] tls_rcpt = outbound), not on receipt",
                     m->path);
        return 0;
    }
    if ((s = calloc(1, sizeof(*s))) == NULL || (s->path = strdup(m->path)) == NULL ||
        (m->count > 0 && (s->item = calloc(m->count, sizeof(*s->item))) == NULL)) {
        smr_free(s);
        cfg_error(diag, 0, "out of memory");
        return -1;
    }
    diag->path = m->path;
    for (i = 0; i < m->count; i++) {
        const struct sma_entry *e = &m->entries[i];

        if (e->tag != SMA_TAG_RCPT || e->unsupported != NULL)
            continue;
        if (e->key[0] == '@' || e->key[0] == '.') {
            cfg_error(diag, e->line,
                      "TLS_Rcpt:%s: Sendmail never looks this key up for a recipient (keys are "
                      "user@domain, user@, domain, which covers its subdomains, and the bare "
                      "TLS_Rcpt:): write TLS_Rcpt:%s",
                      e->key, e->key + 1);
            continue;
        }
        if (smr_build(conf, e, &s->item[s->n++], diag) < 0)
            break;
        if (e->key[0] == 0 && e->req != SMA_REQ_NONE)
            log_info("%s:%d: note: TLS_Rcpt: %s: enforced on receipt for every recipient "
                     "without a more specific entry, whichever client sends",
                     m->path, e->line, e->value);
    }
    if (diag->errors > errors || s->n == 0) {
        smr_free(s);
        return diag->errors > errors ? -1 : 0;
    }
    qsort(s->item, s->n, sizeof(*s->item), smr_cmp);
    *out = s;
    return 0;
}

static const struct smr_item *smr_get(const struct smr *s, const char *key, struct buf *tried)
{
    struct smr_item probe;

    if (tried != NULL)
        buf_printf(tried, "%sTLS_Rcpt:%s", tried->len > 0 ? " " : "", key);
    probe.e.key = (char *)key;
    return bsearch(&probe, s->item, s->n, sizeof(*s->item), smr_cmp);
}

/* Sendmail's F or U step for local (user or user+detail) followed by "@" and
 * domain ("" for U): the address, then user+*, then user. */
static const struct smr_item *smr_user(const struct smr *s, const char *local, size_t llen,
                                       const char *domain, struct buf *tried)
{
    char key[2 * SMA_MAX_LINE + 8];
    const char *plus = memchr(local, '+', llen);
    const struct smr_item *it;

    snprintf(key, sizeof(key), "%.*s@%s", (int)llen, local, domain);
    if ((it = smr_get(s, key, tried)) != NULL)
        return it;
    if (plus == NULL || plus == local) /* Sendmail's "$+ + $*": a user before the '+' */
        return NULL;
    snprintf(key, sizeof(key), "%.*s+*@%s", (int)(plus - local), local, domain);
    if ((it = smr_get(s, key, tried)) != NULL)
        return it;
    snprintf(key, sizeof(key), "%.*s@%s", (int)(plus - local), local, domain);
    return smr_get(s, key, tried);
}

static const struct smr_item *smr_lookup(const struct smr *s, const char *recipient,
                                         struct buf *tried)
{
    char r[SMA_MAX_LINE + 1];
    const struct smr_item *it;
    const char *at;
    const char *p;
    size_t n;

    if (s == NULL || recipient == NULL || *recipient == 0)
        return NULL;
    if ((n = strlen(recipient)) < sizeof(r)) {
        for (n = 0; recipient[n]; n++)
            r[n] = (char)tolower((unsigned char)recipient[n]);
        while (n > 0 && r[n - 1] == '.')
            n--;
        r[n] = 0;
        at = strrchr(r, '@');
        if (at != NULL && at[1] != 0) {
            if ((it = smr_user(s, r, (size_t)(at - r), at + 1, tried)) != NULL ||
                (it = smr_user(s, r, (size_t)(at - r), "", tried)) != NULL)
                return it;
            for (p = at + 1; p != NULL && *p; p = strchr(p, '.') ? strchr(p, '.') + 1 : NULL)
                if ((it = smr_get(s, p, tried)) != NULL)
                    return it;
        } else if (n > 0 && (it = smr_user(s, r, at ? (size_t)(at - r) : n, "", tried)) != NULL) {
            return it; /* a local part only: user@ lookups */
        }
    }
    return smr_get(s, "", tried);
}

const struct sma_entry *smr_find(const struct smr *s, const char *recipient, struct buf *tried)
{
    const struct smr_item *it = smr_lookup(s, recipient, tried);

    return it != NULL ? &it->e : NULL;
}

int smr_decide(const struct smr *s, const struct rules_facts *f, struct rules_result *res)
{
    const struct smr_item *it = smr_lookup(s, f->recipient, NULL);

    if (it == NULL)
        return 0;
    rules_decide(it->r, f, res);
    return 1;
}

void smr_explain(const struct smr *s, const struct rules_facts *f, struct buf *out)
{
    struct buf tried;
    const struct smr_item *it;

    buf_init(&tried, 1 << 16);
    it = smr_lookup(s, f->recipient, &tried);
    buf_printf(out, "TLS_Rcpt: for recipient <%s> (%s):\n", f->recipient ? f->recipient : "",
               s != NULL ? s->path : "no entries");
    buf_printf(out, "  looked up: %s\n", tried.len > 0 ? tried.data : "nothing");
    buf_free(&tried);
    if (it == NULL) {
        buf_puts(out, "  no entry: nothing required\n");
        return;
    }
    buf_printf(out, "  entry: TLS_Rcpt:%s %s  (%s:%d)\n", it->e.key, it->e.value, s->path,
               it->e.line);
    rules_explain(it->r, f, out);
}
