/*
 * tlsp: the decisions of postseal-tlspolicyd (tlsp_conf.c loads what they use).
 * Given the next-hop key Postfix looks up in smtp_tls_policy_maps, answer a
 * well-formed Postfix TLS policy; given a transport_maps key, answer
 * "error:5.7.1 ..." for destinations the operator wants bounced instead of
 * deferred.
 *
 * Sources, first match wins:
 *   1. [tlspolicy DEST] sections (DEST is the section name, or its "destination"
 *      list): the exact key, then for a bare domain its parents as ".parent";
 *   2. the Sendmail access file of [sendmail]: TLS_Srv: entries by the next hop's
 *      host name (brackets and port stripped), parents, address, address prefixes,
 *      bare tag; and TLS_Rcpt: entries by the recipient domain (bare-domain keys
 *      only).  When both match, both requirements are combined;
 *   3. [tlspolicy] default (a level, or "notfound" to leave it to main.cf).
 *
 * Minimum key bits -> Postfix attributes (documented in postseal-tlspolicyd.8):
 *   0        no cipher attribute (main.cf smtp_tls_mandatory_ciphers applies)
 *   1..112   ciphers=medium   (weakest MEDIUM cipher is 3DES, 112 bits)
 *   113..128 ciphers=high exclude=3DES
 *   129..256 ciphers=high exclude=3DES:AES128:CAMELLIA128:ARIA128 and
 *            protocols capped at TLS 1.2, because Postfix's cipher settings do not
 *            reach the TLS 1.3 suites and TLS_AES_128_GCM_SHA256 has 128 bits.
 * Protocol and cipher attributes are only given at mandatory levels (encrypt and
 * up): at "may" and "dane", a failed handshake makes Postfix retry in cleartext.
 *
 * Limits: keys longer than TLSP_MAX_KEY or with bytes outside printable ASCII get
 * PERM; an answer that would not fit TLSP_MAX_ANSWER gets TEMP.  Contradictory
 * Sendmail requirements (two different certificate names) get TEMP, so Postfix
 * defers rather than sends under a weaker policy.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "sendmail_access.h"
#include "tlsp_impl.h"

/* A decision before it is written as a Postfix policy. */
struct tlsp_want {
    int level;
    int bits;
    int proto;
    const char *match;
    const char *tafile;
};

/* Writes a Postfix TLS policy.  Returns -1 when it does not fit. */
static int tlsp_format(const struct tlsp_want *w, char *out, size_t size)
{
    static const char *const exclude128 = "3DES";
    static const char *const exclude256 = "3DES:AES128:CAMELLIA128:ARIA128";
    int mandatory = w->level >= L_ENCRYPT;
    size_t n;

    n = (size_t)snprintf(out, size, "%s", tlsp_levels[w->level]);
    if (mandatory && n < size) {
        n += (size_t)snprintf(out + n, size - n, " protocols=>=%s%s", tlsp_protos[w->proto],
                              w->bits > 128 ? ":<=TLSv1.2" : "");
        if (w->bits > 128 && n < size)
            n += (size_t)snprintf(out + n, size - n, " ciphers=high exclude=%s", exclude256);
        else if (w->bits > 112 && n < size)
            n += (size_t)snprintf(out + n, size - n, " ciphers=high exclude=%s", exclude128);
        else if (w->bits > 0 && n < size)
            n += (size_t)snprintf(out + n, size - n, " ciphers=medium");
    }
    if (w->match && *w->match && n < size)
        n += (size_t)snprintf(out + n, size - n, " match=%s", w->match);
    if (w->tafile && n < size)
        n += (size_t)snprintf(out + n, size - n, " tafile=%s", w->tafile);
    return n < size ? 0 : -1;
}

/* The ini section for a key: exact, then ".parent" for bare domains. */
static const struct tlsp_rule *tlsp_find_rule(const struct tlsp_conf *conf, const char *key)
{
    const char *p = key;
    size_t i, j;
    int bare = strpbrk(key, "[]:") == NULL;

    while (p != NULL) {
        for (i = 0; i < conf->nrules; i++)
            for (j = 0; j < conf->rules[i].ndests; j++)
                if (strcmp(conf->rules[i].dests[j], p) == 0)
                    return &conf->rules[i];
        if (!bare)
            return NULL;
        p = strchr(p + 1, '.');
    }
    return NULL;
}

static void tlsp_from_sendmail(const struct sma_entry *e, struct tlsp_want *w)
{
    w->bits = e->bits;
    if (e->req == SMA_REQ_NONE) {
        w->level = L_MAY;
        w->bits = 0;
    } else if (e->cn_name) {
        w->level = L_SECURE;
        w->match = e->cn_name;
    } else if (e->cn) {
        w->level = L_VERIFY;
        w->match = "hostname";
    } else {
        w->level = e->req == SMA_REQ_VERIFY ? L_VERIFY : L_ENCRYPT;
    }
}

/* TLS_Srv / TLS_Rcpt: 0 found, 1 no entry, -1 contradiction (answer TEMP). */
static int tlsp_sendmail(const struct tlsp_conf *conf, const char *key, struct tlsp_want *w,
                         char *source, size_t ssize, char *why, size_t wsize)
{
    const struct sma_map *m = conf->sm.map;
    const struct sma_entry *srv, *rcpt;
    struct tlsp_want a = {0}, b = {0};
    char host[TLSP_MAX_KEY + 1];
    unsigned char addr[16];
    const char *ip = NULL;
    size_t n;

    if (m == NULL)
        return 1;
    if (key[0] == '[') {
        n = strcspn(key + 1, "]");
        memcpy(host, key + 1, n);
    } else {
        n = strcspn(key, ":");
        memcpy(host, key, n);
    }
    host[n] = 0;
    if (strncmp(host, "ipv6:", 5) == 0)
        memmove(host, host + 5, strlen(host + 5) + 1);
    if (inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1)
        ip = host;
    srv = sma_find(m, SMA_TAG_SRV, ip ? NULL : host, ip);
    rcpt = strpbrk(key, "[]:") == NULL && key[0] != '.' && (conf->sm.tls_rcpt & SMA_RCPT_OUTBOUND)
               ? sma_find(m, SMA_TAG_RCPT, key, NULL)
               : NULL;
    if (srv == NULL && rcpt == NULL)
        return 1;
    if (srv)
        tlsp_from_sendmail(srv, &a);
    if (rcpt)
        tlsp_from_sendmail(rcpt, &b);
    if (srv && rcpt)
        snprintf(source, ssize, "%s:%d and %s:%d", m->path, srv->line, m->path, rcpt->line);
    else
        snprintf(source, ssize, "%s:%d", m->path, (srv ? srv : rcpt)->line);
    if (srv == NULL)
        a = b;
    else if (rcpt != NULL) {
        if (a.match && b.match && strcmp(a.match, b.match) != 0) {
            snprintf(why, wsize, "%s requires certificate name %s and %s", source, a.match,
                     b.match);
            return -1;
        }
        a.level = a.level > b.level ? a.level : b.level;
        a.bits = a.bits > b.bits ? a.bits : b.bits;
        if (a.match == NULL)
            a.match = b.match;
    }
    *w = a;
    w->proto = conf->min_proto;
    return 0;
}

static int tlsp_key_ok(const char *key)
{
    const char *p;

    if (*key == 0 || strlen(key) > TLSP_MAX_KEY)
        return 0;
    for (p = key; *p; p++)
        if (*p <= ' ' || *p > '~')
            return 0;
    return 1;
}

int tlsp_policy(const struct tlsp_conf *conf, const char *key, char *answer, size_t size,
                char *source, size_t ssize)
{
    char k[TLSP_MAX_KEY + 1];
    char src[SRC_MAX * 2];
    const struct tlsp_rule *r;
    struct tlsp_want w = {0};
    size_t n;
    int rc;

    if (!tlsp_key_ok(key)) {
        snprintf(answer, size, "malformed key");
        return TLSP_PERM;
    }
    strcpy(k, key);
    tlsp_lower(k);
    n = strlen(k);
    if (n > 1 && k[n - 1] == '.' && strpbrk(k, "[]:") == NULL)
        k[n - 1] = 0;
    if ((r = tlsp_find_rule(conf, k)) != NULL) {
        w.level = r->level;
        w.bits = r->min_bits >= 0 ? r->min_bits : conf->min_bits;
        w.proto = r->min_proto >= 0 ? r->min_proto : conf->min_proto;
        w.match = r->match;
        w.tafile = r->tafile;
        snprintf(src, sizeof(src), "%s [tlspolicy %s]", r->source, r->label);
    } else if ((rc = tlsp_sendmail(conf, k, &w, src, sizeof(src), answer, size)) < 0) {
        if (source)
            snprintf(source, ssize, "%s", src);
        return TLSP_TEMP;
    } else if (rc > 0) {
        snprintf(src, sizeof(src), "%s (default)", conf->def_source);
        if (conf->def_level == L_NOTFOUND) {
            if (source)
                snprintf(source, ssize, "%s", src);
            return TLSP_NOTFOUND;
        }
        w.level = conf->def_level;
        w.bits = conf->min_bits;
        w.proto = conf->min_proto;
    }
    if (source)
        snprintf(source, ssize, "%s", src);
    if (tlsp_format(&w, answer, size) < 0) {
        snprintf(answer, size, "policy answer too long");
        return TLSP_TEMP;
    }
    return TLSP_FOUND;
}

int tlsp_transport(const struct tlsp_conf *conf, const char *key, char *answer, size_t size,
                   char *source, size_t ssize)
{
    char k[TLSP_MAX_KEY + 1];
    const struct tlsp_rule *r;
    const char *dom;

    if (!tlsp_key_ok(key)) {
        snprintf(answer, size, "malformed key");
        return TLSP_PERM;
    }
    strcpy(k, key);
    tlsp_lower(k);
    dom = strrchr(k, '@') ? strrchr(k, '@') + 1 : k;
    if (*dom == 0 || strpbrk(dom, "[]:") != NULL || (r = tlsp_find_rule(conf, dom)) == NULL ||
        !r->bounce)
        return TLSP_NOTFOUND;
    if (source)
        snprintf(source, ssize, "%s [tlspolicy %s]", r->source, r->label);
    if (r->bounce_text && r->bounce_text[0] == '5' && r->bounce_text[1] == '.')
        snprintf(answer, size, "error:%s", r->bounce_text);
    else
        snprintf(answer, size, "error:5.7.1 %s",
                 r->bounce_text ? r->bounce_text : "delivery refused by local TLS policy");
    return TLSP_FOUND;
}

size_t tlsp_request(const struct tlsp_conf *conf, const char *req, size_t len, char *reply,
                    size_t size)
{
    static const char *const words[] = {"OK ", "NOTFOUND ", "TEMP ", "PERM "};
    char name[64];
    char key[TLSP_MAX_KEY + 1];
    char answer[TLSP_MAX_ANSWER];
    char source[SRC_MAX * 2] = "";
    const char *sp = memchr(req, ' ', len);
    size_t nl;
    int rc;

    answer[0] = 0;
    nl = sp ? (size_t)(sp - req) : len;
    if (sp == NULL || nl == 0 || nl >= sizeof(name) || len - nl - 1 > TLSP_MAX_KEY ||
        memchr(req, 0, len) != NULL) {
        rc = TLSP_PERM;
        snprintf(answer, sizeof(answer), "malformed request (expected \"NAME KEY\")");
    } else {
        memcpy(name, req, nl);
        name[nl] = 0;
        memcpy(key, sp + 1, len - nl - 1);
        key[len - nl - 1] = 0;
        if (strcmp(name, conf->policy_name) == 0) {
            rc = tlsp_policy(conf, key, answer, sizeof(answer), source, sizeof(source));
        } else if (strcmp(name, conf->transport_name) == 0) {
            rc = tlsp_transport(conf, key, answer, sizeof(answer), source, sizeof(source));
        } else {
            rc = TLSP_PERM;
            snprintf(answer, sizeof(answer), "unknown map name (this server answers %s and %s)",
                     conf->policy_name, conf->transport_name);
        }
        if (log_verbose())
            log_debug("%s %s: %s%s (%s)", name, key, words[rc], answer, source);
    }
    if (rc == TLSP_NOTFOUND)
        answer[0] = 0;
    return (size_t)snprintf(reply, size, "%s%s", words[rc], answer) < size ? strlen(reply) : 0;
}
