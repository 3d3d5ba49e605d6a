/*
 * tlsp_conf: loads and validates the configuration of postseal-tlspolicyd:
 * [tlspolicy] (daemon settings and defaults), every [tlspolicy DEST] section,
 * [global] user, and [sendmail] with its access file (lib/sendmail_access).
 *
 * Contract: tlsp_load() reports every error as FILE:LINE through cfg_error and
 * returns NULL if there was any, so a running daemon never swaps in a config
 * that would answer malformed or weaker policies.  Checked here: levels,
 * protocols, key bits (0..256; more than 128 with TLSv1.3 is a contradiction),
 * match values (host names/strategies; SHA-256 fingerprints normalised to
 * upper-case colon form), absolute tafile paths, a destination in two sections,
 * Sendmail TLS_Srv:/TLS_Rcpt: bits Postfix cannot meet.  Notes (stricter than
 * Sendmail, PERM+ outbound) are logged with the access file's FILE:LINE.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cfg.h"
#include "global.h"
#include "log.h"
#include "sendmail_access.h"
#include "server.h"
#include "tlsp_impl.h"

const char *const tlsp_levels[] = {"none",        "may",    "dane",   "encrypt",  "dane-only",
                                   "fingerprint", "verify", "secure", "notfound", NULL};
const char *const tlsp_protos[] = {"TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3", NULL};

static char *xstrdup(const char *s)
{
    char *p = strdup(s);

    if (p == NULL)
        log_fatalx(1, "out of memory");
    return p;
}

void tlsp_lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

static void tlsp_rule_free(struct tlsp_rule *r)
{
    size_t i;

    for (i = 0; i < r->ndests; i++)
        free(r->dests[i]);
    free(r->dests);
    free(r->label);
    free(r->match);
    free(r->tafile);
    free(r->bounce_text);
}

void tlsp_free(struct tlsp_conf *conf)
{
    size_t i;

    if (conf == NULL)
        return;
    for (i = 0; i < conf->nrules; i++)
        tlsp_rule_free(&conf->rules[i]);
    free(conf->rules);
    free(conf->policy_name);
    free(conf->transport_name);
    sma_conf_free(&conf->sm);
    free(conf);
}

const struct tlsp_daemon *tlsp_daemon(const struct tlsp_conf *conf)
{
    return &conf->d;
}

size_t tlsp_count(const struct tlsp_conf *conf, size_t *sendmail_entries)
{
    if (sendmail_entries)
        *sendmail_entries = conf->sm.map ? conf->sm.map->count : 0;
    return conf->nrules;
}

const char *tlsp_policy_name(const struct tlsp_conf *conf)
{
    return conf->policy_name;
}

const char *tlsp_transport_name(const struct tlsp_conf *conf)
{
    return conf->transport_name;
}

/* Characters a destination key, a match pattern or a path may hold: no white
 * space, comma or control characters (they would split the Postfix answer). */
static int tlsp_word_ok(const char *s, const char *extra)
{
    if (*s == 0)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && strchr(extra, *s) == NULL)
            return 0;
    return 1;
}

struct tlsp_listarg {
    struct cfg_diag *diag;
    const struct cfg_entry *e;
    struct tlsp_rule *r;
    char buf[TLSP_MAX_ANSWER / 2];
    int fingerprint;
};

static int tlsp_add_dest(const char *item, size_t len, void *arg)
{
    struct tlsp_listarg *a = arg;
    struct tlsp_rule *r = a->r;
    char *d = strndup(item, len);
    char **v;

    if (d == NULL)
        log_fatalx(1, "out of memory");
    tlsp_lower(d);
    if (len >= TLSP_MAX_KEY || !tlsp_word_ok(d, ".-_[]:")) {
        cfg_error(a->diag, a->e->line, "%s: \"%s\" is not a next-hop destination", a->e->key, d);
        free(d);
        return 0;
    }
    if ((v = realloc(r->dests, (r->ndests + 1) * sizeof(*v))) == NULL)
        log_fatalx(1, "out of memory");
    r->dests = v;
    r->dests[r->ndests++] = d;
    return 0;
}

/* One fingerprint: 64 hex digits, colons optional -> "AB:CD:..." uppercase. */
static int tlsp_fingerprint(const char *s, size_t len, char *out)
{
    size_t i;
    int n = 0;

    for (i = 0; i < len; i++) {
        if (s[i] == ':')
            continue;
        if (!isxdigit((unsigned char)s[i]) || n == 64)
            return -1;
        if (n > 0 && n % 2 == 0)
            *out++ = ':';
        *out++ = (char)toupper((unsigned char)s[i]);
        n++;
    }
    *out = 0;
    return n == 64 ? 0 : -1;
}

static int tlsp_match_append(struct tlsp_listarg *a, const char *one)
{
    size_t used = strlen(a->buf);

    if (used + strlen(one) + 2 >= sizeof(a->buf)) {
        cfg_error(a->diag, a->e->line, "match: too many values");
        return 1;
    }
    if (used > 0)
        strcat(a->buf, a->fingerprint ? "|" : ":");
    strcat(a->buf, one);
    return 0;
}

/* One match item: a fingerprint, or host names/strategies (the Postfix policy
 * table's ':' separator is accepted too). */
static int tlsp_add_match(const char *item, size_t len, void *arg)
{
    struct tlsp_listarg *a = arg;
    char one[FP_LEN + 1];
    char name[256];
    char *p, *q;

    if (a->fingerprint) {
        if (tlsp_fingerprint(item, len, one) < 0) {
            cfg_error(a->diag, a->e->line,
                      "match: \"%.*s\" is not a SHA-256 fingerprint (64 hex digits, colons "
                      "optional)",
                      (int)len, item);
            return 0;
        }
        return tlsp_match_append(a, one);
    }
    if (len >= sizeof(name)) {
        cfg_error(a->diag, a->e->line, "match: \"%.*s\" is too long", (int)len, item);
        return 0;
    }
    memcpy(name, item, len);
    name[len] = 0;
    tlsp_lower(name);
    for (p = name; p != NULL; p = q) {
        if ((q = strchr(p, ':')) != NULL)
            *q++ = 0;
        if (*p == 0)
            continue;
        if (!tlsp_word_ok(p, ".-_")) {
            cfg_error(a->diag, a->e->line,
                      "match: \"%s\" is not a host name, .domain (for every name below "
                      "domain; no \"*\") or strategy (hostname, nexthop, dot-nexthop)",
                      p);
            continue;
        }
        if (tlsp_match_append(a, p))
            return 1;
    }
    return 0;
}

static struct tlsp_rule *tlsp_rule_for(struct tlsp_conf *conf, const char *section,
                                       const struct cfg_entry *e, const char *ini)
{
    struct tlsp_rule *r;
    size_t i;

    for (i = 0; i < conf->nrules; i++)
        if (strcmp(conf->rules[i].label, section) == 0)
            return &conf->rules[i];
    if ((r = realloc(conf->rules, (conf->nrules + 1) * sizeof(*r))) == NULL)
        log_fatalx(1, "out of memory");
    conf->rules = r;
    r = &conf->rules[conf->nrules++];
    memset(r, 0, sizeof(*r));
    r->label = xstrdup(section);
    r->level = -1;
    r->min_bits = -1;
    r->min_proto = -1;
    r->line = e->line;
    snprintf(r->source, sizeof(r->source), "%s:%d", ini, e->line);
    return r;
}

static int tlsp_dup(struct cfg_diag *diag, const struct cfg_entry *e, int seen)
{
    if (seen)
        cfg_error(diag, e->line, "%s: given twice in this section", e->key);
    return seen;
}

static void tlsp_rule_entry(struct tlsp_conf *conf, struct tlsp_rule *r, const struct cfg_entry *e,
                            struct cfg_diag *diag, const struct cfg_entry **match_e)
{
    long v;

    if (strcmp(e->key, "destination") == 0) {
        struct tlsp_listarg a = {.diag = diag, .e = e, .r = r};

        cfg_list(e->value, tlsp_add_dest, &a);
    } else if (strcmp(e->key, "level") == 0) {
        if (!tlsp_dup(diag, e, r->level >= 0) && cfg_enum(diag, e, tlsp_levels, &r->level) == 0 &&
            r->level == L_NOTFOUND) {
            cfg_error(diag, e->line, "level: notfound is for the [tlspolicy] default only");
            r->level = L_MAY;
        }
    } else if (strcmp(e->key, "match") == 0) {
        if (!tlsp_dup(diag, e, *match_e != NULL))
            *match_e = e;
    } else if (strcmp(e->key, "tafile") == 0) {
        if (tlsp_dup(diag, e, r->tafile != NULL))
            return;
        if (e->value[0] != '/' || !tlsp_word_ok(e->value, "/._-+"))
            cfg_error(diag, e->line, "tafile: \"%s\" is not an absolute path without spaces",
                      e->value);
        r->tafile = xstrdup(e->value);
    } else if (strcmp(e->key, "min_cipher_bits") == 0) {
        if (!tlsp_dup(diag, e, r->min_bits >= 0) && cfg_uint(diag, e, 0, 256, &v) == 0)
            r->min_bits = (int)v;
    } else if (strcmp(e->key, "min_protocol") == 0) {
        if (!tlsp_dup(diag, e, r->min_proto >= 0))
            cfg_enum(diag, e, tlsp_protos, &r->min_proto);
    } else if (strcmp(e->key, "bounce") == 0) {
        cfg_bool(diag, e, &r->bounce);
    } else if (strcmp(e->key, "bounce_text") == 0) {
        const char *p;

        if (tlsp_dup(diag, e, r->bounce_text != NULL))
            return;
        for (p = e->value; *p; p++)
            if (!isprint((unsigned char)*p))
                break;
        if (*p || strlen(e->value) > 200 || e->value[0] == 0)
            cfg_error(diag, e->line, "bounce_text: 1 to 200 printable characters");
        r->bounce_text = xstrdup(e->value);
    } else {
        cfg_error(diag, e->line,
                  "[tlspolicy %s]: unknown key \"%s\" (destination, level, match, tafile, "
                  "min_cipher_bits, min_protocol, bounce, bounce_text)",
                  r->label, e->key);
    }
    (void)conf;
}

/* Cross-checks of one [tlspolicy DEST] section after all its entries. */
static void tlsp_rule_check(struct tlsp_conf *conf, struct tlsp_rule *r, struct cfg_diag *diag,
                            const struct cfg_entry *match_e)
{
    int bits = r->min_bits >= 0 ? r->min_bits : conf->min_bits;
    int proto = r->min_proto >= 0 ? r->min_proto : conf->min_proto;

    if (r->ndests == 0) {
        struct cfg_entry fake = {.key = "section name", .line = r->line};
        struct tlsp_listarg a = {.diag = diag, .e = &fake, .r = r};

        tlsp_add_dest(r->label, strlen(r->label), &a);
    }
    if (r->level < 0) {
        if (!r->bounce)
            cfg_error(diag, r->line,
                      "[tlspolicy %s]: no level (none, may, dane, encrypt, "
                      "dane-only, fingerprint, verify, secure)",
                      r->label);
        r->level = conf->def_level == L_NOTFOUND ? L_SECURE : conf->def_level;
    }
    if (match_e != NULL) {
        struct tlsp_listarg a = {.diag = diag, .e = match_e, .r = r};

        if (r->level != L_FINGERPRINT && r->level != L_VERIFY && r->level != L_SECURE) {
            cfg_error(diag, match_e->line, "match: only for level fingerprint, verify or secure");
            return;
        }
        a.fingerprint = r->level == L_FINGERPRINT;
        cfg_list(match_e->value, tlsp_add_match, &a);
        r->match = xstrdup(a.buf);
    } else if (r->level == L_FINGERPRINT) {
        cfg_error(diag, r->line, "[tlspolicy %s]: level fingerprint needs match = SHA256-FP",
                  r->label);
    }
    if (r->tafile && r->level != L_VERIFY && r->level != L_SECURE)
        cfg_error(diag, r->line, "[tlspolicy %s]: tafile is only for level verify or secure",
                  r->label);
    if (bits > 128 && proto == 3)
        cfg_error(diag, r->line,
                  "[tlspolicy %s]: min_cipher_bits %d needs TLS 1.2 (Postfix cannot exclude the "
                  "128-bit TLS 1.3 suite per destination), but min_protocol is TLSv1.3",
                  r->label, bits);
    if (r->bounce_text && !r->bounce)
        cfg_error(diag, r->line, "[tlspolicy %s]: bounce_text without bounce = yes", r->label);
}

static void tlsp_main_entry(struct tlsp_conf *conf, const struct cfg_entry *e,
                            struct cfg_diag *diag, const char *ini)
{
    long v;

    if (strcmp(e->key, "listen") == 0) {
        struct server_endpoint ep;
        char err[300];

        if (strlen(e->value) >= sizeof(conf->d.listen))
            cfg_error(diag, e->line, "listen: longer than %zu bytes", sizeof(conf->d.listen) - 1);
        else if (server_endpoint_parse(e->value, &ep, err, sizeof(err)) < 0)
            cfg_error(diag, e->line, "listen: %s", err);
        else
            strcpy(conf->d.listen, e->value);
    } else if (strcmp(e->key, "socket_mode") == 0) {
        char *end;

        v = strtol(e->value, &end, 8);
        if (e->value[0] != '0' || *end != 0 || v < 0 || v > 0777)
            cfg_error(diag, e->line, "socket_mode: \"%s\" is not an octal mode such as 0666",
                      e->value);
        else
            conf->d.socket_mode = (int)v;
    } else if (strcmp(e->key, "max_connections") == 0) {
        if (cfg_uint(diag, e, 1, 100000, &v) == 0)
            conf->d.max_conns = (int)v;
    } else if (strcmp(e->key, "idle_timeout") == 0) {
        if (cfg_seconds(diag, e, 1, 86400, &v) == 0)
            conf->d.idle_timeout = (int)v;
    } else if (strcmp(e->key, "request_timeout") == 0) {
        if (cfg_seconds(diag, e, 1, 3600, &v) == 0)
            conf->d.request_timeout = (int)v;
    } else if (strcmp(e->key, "policy_map") == 0 || strcmp(e->key, "transport_map") == 0) {
        char **dst = e->key[0] == 'p' ? &conf->policy_name : &conf->transport_name;

        if (!tlsp_word_ok(e->value, "_-"))
            cfg_error(diag, e->line, "%s: \"%s\" is not a socketmap name ([A-Za-z0-9_-])", e->key,
                      e->value);
        free(*dst);
        *dst = xstrdup(e->value);
    } else if (strcmp(e->key, "default") == 0) {
        if (cfg_enum(diag, e, tlsp_levels, &conf->def_level) == 0 &&
            conf->def_level == L_FINGERPRINT)
            cfg_error(diag, e->line, "default: fingerprint needs per-destination fingerprints");
        snprintf(conf->def_source, sizeof(conf->def_source), "%s:%d", ini, e->line);
    } else if (strcmp(e->key, "min_cipher_bits") == 0) {
        if (cfg_uint(diag, e, 0, 256, &v) == 0)
            conf->min_bits = (int)v;
    } else if (strcmp(e->key, "min_protocol") == 0) {
        cfg_enum(diag, e, tlsp_protos, &conf->min_proto);
    } else {
        cfg_error(diag, e->line,
                  "[tlspolicy]: unknown key \"%s\" (listen, socket_mode, max_connections, "
                  "idle_timeout, request_timeout, policy_map, transport_map, default, "
                  "min_cipher_bits, min_protocol)",
                  e->key);
    }
}

/* What TLS_Srv:/TLS_Rcpt: entries become, checked once at load: an answer that
 * would be weaker than the entry is an error; one that is stricter, or an
 * outcome that differs, is a note with the access file's FILE:LINE. */
static void tlsp_sendmail_check(const struct tlsp_conf *conf, struct cfg_diag *diag)
{
    const struct sma_map *m = conf->sm.map;
    size_t i;

    if (m == NULL)
        return;
    diag->path = m->path;
    for (i = 0; i < m->count && !(conf->sm.tls_rcpt & SMA_RCPT_OUTBOUND); i++)
        if (m->entries[i].tag == SMA_TAG_RCPT) {
            log_info("%s: note: TLS_Rcpt: entries are enforced on receipt by postseal-policyd "
                     "([sendmail] tls_rcpt = inbound), not on delivery",
                     m->path);
            break;
        }
    for (i = 0; i < m->count; i++) {
        const struct sma_entry *e = &m->entries[i];
        const char *tag = sma_tag_name(e->tag);

        if (e->tag == SMA_TAG_CLT || e->unsupported ||
            (e->tag == SMA_TAG_RCPT &&
             (!(conf->sm.tls_rcpt & SMA_RCPT_OUTBOUND) || strchr(e->key, '@') != NULL)))
            continue; /* TLS_Rcpt: on receipt only (postseal-policyd) */
        if (e->bits > 256) {
            cfg_error(diag, e->line,
                      "%s%s %s: no TLS cipher has more than 256 bits, Postfix cannot meet it", tag,
                      e->key, e->value);
            continue;
        }
        if (e->bits > 128 && conf->min_proto == 3)
            cfg_error(diag, e->line,
                      "%s%s %s: more than 128 bits needs TLS 1.2 (Postfix cannot exclude the "
                      "128-bit TLS 1.3 suite), but [tlspolicy] min_protocol is TLSv1.3",
                      tag, e->key, e->value);
        if (e->req == SMA_REQ_VERIFY && !e->cn && !e->cn_name)
            log_info("%s:%d: note: %s%s %s: answered as Postfix's verify level, which also "
                     "checks that the certificate names the MX host (Sendmail's VERIFY checks "
                     "the chain only): stricter",
                     m->path, e->line, tag, e->key, e->value);
        if (e->code == SMA_CODE_PERM)
            log_info("%s:%d: note: %s%s %s: PERM+ cannot be reproduced outbound: Postfix defers "
                     "(queues) a message whose next hop fails its TLS policy and bounces it "
                     "after maximal_queue_lifetime (bounce = yes in a [tlspolicy DEST] section "
                     "bounces a whole domain at once)",
                     m->path, e->line, tag, e->key, e->value);
    }
}

struct tlsp_conf *tlsp_load(const struct cfg *cfg, struct cfg_diag *diag)
{
    struct tlsp_conf *conf = calloc(1, sizeof(*conf));
    const struct cfg_entry **matches = NULL;
    int errors = diag->errors;
    const char *ini = cfg->path;
    size_t i;

    if (conf == NULL)
        log_fatalx(1, "out of memory");
    strcpy(conf->d.listen, "unix:/run/postseal/tlspolicy.sock");
    conf->d.socket_mode = 0666;
    conf->d.max_conns = 1024;
    conf->d.idle_timeout = 3600;
    conf->d.request_timeout = 10;
    conf->policy_name = xstrdup("tlspolicy");
    conf->transport_name = xstrdup("transport");
    conf->def_level = L_MAY;
    snprintf(conf->def_source, sizeof(conf->def_source), "built-in default");
    conf->min_bits = 128;
    conf->min_proto = 2;
    cfg_check_owners(cfg, diag);
    {
        struct global_conf g;

        global_parse(cfg, diag, &g);
        snprintf(conf->d.user, sizeof(conf->d.user), "%s", g.user);
    }
    /* [tlspolicy] first: sections inherit its values whatever the order */
    for (i = 0; i < cfg->count; i++)
        if (strcmp(cfg->entries[i].section, "tlspolicy") == 0)
            tlsp_main_entry(conf, &cfg->entries[i], diag, ini);
    if (conf->min_bits > 128 && conf->min_proto == 3)
        cfg_error(diag, 0,
                  "[tlspolicy]: min_cipher_bits above 128 needs min_protocol TLSv1.2 or lower");
    if (strcmp(conf->policy_name, conf->transport_name) == 0)
        cfg_error(diag, 0, "[tlspolicy]: policy_map and transport_map must differ");
    for (i = 0; i < cfg->count; i++) {
        const struct cfg_entry *e = &cfg->entries[i];
        struct tlsp_rule *r;
        size_t k;

        if (!cfg_section_is(e->section, "tlspolicy") || strcmp(e->section, "tlspolicy") == 0)
            continue;
        k = conf->nrules;
        r = tlsp_rule_for(conf, e->section + strlen("tlspolicy "), e, ini);
        if (conf->nrules > k) {
            const struct cfg_entry **m = realloc(matches, conf->nrules * sizeof(*m));

            if (m == NULL)
                log_fatalx(1, "out of memory");
            matches = m;
            matches[k] = NULL;
        }
        tlsp_rule_entry(conf, r, e, diag, &matches[r - conf->rules]);
    }
    for (i = 0; i < conf->nrules; i++)
        tlsp_rule_check(conf, &conf->rules[i], diag, matches[i]);
    free(matches);
    /* the same destination in two sections would make the order matter: refuse */
    for (i = 0; i < conf->nrules; i++) {
        size_t j, a, b;

        for (j = i + 1; j < conf->nrules; j++)
            for (a = 0; a < conf->rules[i].ndests; a++)
                for (b = 0; b < conf->rules[j].ndests; b++)
                    if (strcmp(conf->rules[i].dests[a], conf->rules[j].dests[b]) == 0)
                        cfg_error(diag, conf->rules[j].line,
                                  "destination %s: already in [tlspolicy %s] (line %d)",
                                  conf->rules[j].dests[b], conf->rules[i].label,
                                  conf->rules[i].line);
    }
    diag->path = ini;
    if (diag->errors == errors && sma_conf_load(cfg, diag, SMA_FOR_TLSPOLICYD, &conf->sm) == 0)
        tlsp_sendmail_check(conf, diag);
    diag->path = ini;
    if (diag->errors > errors) {
        tlsp_free(conf);
        return NULL;
    }
    return conf;
}
