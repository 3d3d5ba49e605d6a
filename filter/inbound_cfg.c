/*
 * inbound_cfg: reads [inbound] and [inbound rule NAME] from postseal.ini.
 *
 * Contract: every key is validated here (type, range, file permissions of
 * private keys, references); every error is reported as FILE:LINE and the
 * whole configuration is refused.  [inbound] fills the defaults of every
 * policy field; a rule overrides only the keys it sets.  Rules are tried in
 * file order, the first whose matchers (sender_domain, recipient, content)
 * all match wins.
 *
 * Limits: 64 rules, 16 S/MIME key pairs, lists as long as an ini line.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "inbound_int.h"
#include "keys.h"
#include "secretfile.h"
#include "log.h"

#define INBOUND_MAX_RULES 64
#define INBOUND_MAX_SMIME 16

static const char *const inbound_verify_names[] = {"off", "optional", "required", NULL};
static const char *const inbound_action_names[] = {"deliver", "tag",   "hold",
                                                   "reject",  "defer", NULL};

const char *inbound_domain(const char *addr)
{
    const char *at = addr ? strrchr(addr, '@') : NULL;

    return at ? at + 1 : "";
}

int inbound_domain_in(const struct inbound_list *l, const char *domain)
{
    size_t i, dl = strlen(domain);

    for (i = 0; i < l->n; i++) {
        const char *d = l->item[i];
        size_t n = strlen(d);

        if (d[0] == '.') {
            if (dl > n && strcasecmp(domain + dl - n, d) == 0)
                return 1;
        } else if (strcasecmp(domain, d) == 0) {
            return 1;
        }
    }
    return 0;
}

static int inbound_list_add(const char *item, size_t len, void *arg)
{
    struct inbound_list *l = arg;
    char **v = realloc(l->item, (l->n + 1) * sizeof(*v));

    if (v == NULL)
        return -1;
    l->item = v;
    if ((v[l->n] = strndup(item, len)) == NULL)
        return -1;
    l->n++;
    return 0;
}

static void inbound_list_free(struct inbound_list *l)
{
    size_t i;

    for (i = 0; i < l->n; i++)
        free(l->item[i]);
    free(l->item);
    l->item = NULL;
    l->n = 0;
}

static int inbound_str(struct cfg_diag *diag, const struct cfg_entry *e, char **out)
{
    if (*out != NULL) {
        cfg_error(diag, e->line, "%s: given twice", e->key);
        return -1;
    }
    if (e->value[0] == 0) {
        cfg_error(diag, e->line, "%s: empty value", e->key);
        return -1;
    }
    if ((*out = strdup(e->value)) == NULL) {
        cfg_error(diag, e->line, "out of memory");
        return -1;
    }
    return 0;
}

static int inbound_url(struct cfg_diag *diag, const struct cfg_entry *e, char **out, int hkp)
{
    if (strncasecmp(e->value, "http://", 7) != 0 && strncasecmp(e->value, "https://", 8) != 0 &&
        !(hkp &&
          (strncasecmp(e->value, "hkp://", 6) == 0 || strncasecmp(e->value, "hkps://", 7) == 0))) {
        cfg_error(diag, e->line, "%s: \"%s\" is not an %s URL", e->key, e->value,
                  hkp ? "hkp://, hkps://, http:// or https://" : "http:// or https://");
        return -1;
    }
    return inbound_str(diag, e, out);
}

/* "valid, trusted, not_revoked, status_known" or "none". */
static int inbound_require(struct cfg_diag *diag, const struct cfg_entry *e, int *out)
{
    static const struct {
        const char *name;
        int bit;
    } req[] = {{"none", 0},
               {"valid", INBOUND_REQ_VALID},
               {"trusted", INBOUND_REQ_TRUSTED},
               {"not_revoked", INBOUND_REQ_NOT_REVOKED},
               {"status_known", INBOUND_REQ_STATUS_KNOWN}};
    const char *p = e->value;
    int mask = 0;

    for (;;) {
        size_t len, i;

        p += strspn(p, ", \t");
        if (*p == 0)
            break;
        len = strcspn(p, ", \t");
        for (i = 0; i < sizeof(req) / sizeof(req[0]); i++)
            if (strlen(req[i].name) == len && strncasecmp(p, req[i].name, len) == 0)
                break;
        if (i == sizeof(req) / sizeof(req[0])) {
            cfg_error(diag, e->line,
                      "%s: \"%.*s\" is not one of: none, valid, trusted, not_revoked, "
                      "status_known",
                      e->key, (int)len, p);
            return -1;
        }
        mask |= req[i].bit;
        p += len;
    }
    /* Each requirement implies the weaker ones. */
    if (mask & INBOUND_REQ_STATUS_KNOWN)
        mask |= INBOUND_REQ_NOT_REVOKED;
    if (mask & (INBOUND_REQ_TRUSTED | INBOUND_REQ_NOT_REVOKED))
        mask |= INBOUND_REQ_VALID;
    *out = mask;
    return 0;
}

static int inbound_content(struct cfg_diag *diag, const struct cfg_entry *e, int *out)
{
    const char *p = e->value;
    int mask = 0;

    for (;;) {
        size_t len;

        p += strspn(p, ", \t");
        if (*p == 0)
            break;
        len = strcspn(p, ", \t");
        if (len == 5 && strncasecmp(p, "plain", 5) == 0)
            mask |= INBOUND_KIND_PLAIN;
        else if (len == 6 && strncasecmp(p, "signed", 6) == 0)
            mask |= INBOUND_KIND_SIGNED;
        else if (len == 9 && strncasecmp(p, "encrypted", 9) == 0)
            mask |= INBOUND_KIND_ENCRYPTED;
        else if (len == 3 && strncasecmp(p, "any", 3) == 0)
            mask |= INBOUND_KIND_PLAIN | INBOUND_KIND_SIGNED | INBOUND_KIND_ENCRYPTED;
        else {
            cfg_error(diag, e->line, "%s: \"%.*s\" is not one of: plain, signed, encrypted, any",
                      e->key, (int)len, p);
            return -1;
        }
        p += len;
    }
    *out = mask;
    return 0;
}

/* Policy keys valid in [inbound] and in rules.  Returns 1 when e was one. */
static int inbound_policy_key(struct cfg_diag *diag, const struct cfg_entry *e,
                              struct inbound_rule *r)
{
    if (strcmp(e->key, "verify") == 0)
        cfg_enum(diag, e, inbound_verify_names, &r->verify);
    else if (strcmp(e->key, "require") == 0)
        inbound_require(diag, e, &r->require);
    else if (strcmp(e->key, "on_fail") == 0 || strcmp(e->key, "on_decrypt_fail") == 0) {
        int *dst = e->key[3] == 'f' ? &r->on_fail : &r->on_decrypt_fail;

        if (cfg_enum(diag, e, inbound_action_names, dst) == 0 && *dst == INBOUND_DEFER)
            cfg_error(diag, e->line, "%s: defer is only for on_unreachable", e->key);
    } else if (strcmp(e->key, "on_unreachable") == 0)
        cfg_enum(diag, e, inbound_action_names, &r->on_unreachable);
    else if (strcmp(e->key, "tag") == 0)
        inbound_str(diag, e, &r->tag);
    else
        return 0;
    return 1;
}

static void inbound_rule_init(struct inbound_rule *r)
{
    memset(r, 0, sizeof(*r));
    r->verify = r->require = r->on_fail = r->on_unreachable = r->on_decrypt_fail = -1;
}

static void inbound_rule_free(struct inbound_rule *r)
{
    free(r->name);
    free(r->tag);
    inbound_list_free(&r->senders);
    inbound_list_free(&r->recipients);
}

void inbound_cfg_free(struct inbound_cfg *ic)
{
    size_t i;

    if (ic == NULL)
        return;
    free(ic->path);
    inbound_list_free(&ic->local_domains);
    free(ic->gnupg_home);
    for (i = 0; i < ic->n_smime; i++) {
        free(ic->smime[i].key);
        free(ic->smime[i].cert);
    }
    free(ic->smime);
    free(ic->hold_dir);
    free(ic->authserv_id);
    free(ic->ca_file);
    free(ic->ca_path);
    free(ic->status.ocsp_url);
    free(ic->status.crl_url);
    free(ic->status.keyserver);
    free(ic->status.cache_path);
    inbound_rule_free(&ic->defaults);
    for (i = 0; i < ic->n_rules; i++)
        inbound_rule_free(&ic->rules[i]);
    free(ic->rules);
    free(ic);
}

/* "KEYFILE CERTFILE": both readable, the key not accessible by group or
 * others (secretfile). */
static void inbound_keypair(struct cfg_diag *diag, const struct cfg_entry *e,
                            struct inbound_cfg *ic)
{
    char key[CFG_MAX_LINE + 1], cert[CFG_MAX_LINE + 1], extra[2], why[CFG_MAX_LINE + 100];
    struct inbound_keypair *kp;

    if (sscanf(e->value, "%199s %199s %1s", key, cert, extra) != 2) {
        cfg_error(diag, e->line, "%s: expected \"KEYFILE CERTFILE\"", e->key);
        return;
    }
    if (ic->n_smime == INBOUND_MAX_SMIME) {
        cfg_error(diag, e->line, "%s: more than %d key pairs", e->key, INBOUND_MAX_SMIME);
        return;
    }
    if (secretfile_check(key, why, sizeof(why)) < 0) {
        cfg_error(diag, e->line, "%s: private key %s", e->key, why);
        return;
    }
    if (access(cert, R_OK) < 0) {
        cfg_error(diag, e->line, "%s: %s: %s", e->key, cert, strerror(errno));
        return;
    }
    kp = realloc(ic->smime, (ic->n_smime + 1) * sizeof(*kp));
    if (kp == NULL) {
        cfg_error(diag, e->line, "out of memory");
        return;
    }
    ic->smime = kp;
    kp[ic->n_smime].key = strdup(key);
    kp[ic->n_smime].cert = strdup(cert);
    kp[ic->n_smime].line = e->line;
    ic->n_smime++;
}

static void inbound_main_key(struct cfg_diag *diag, const struct cfg_entry *e,
                             struct inbound_cfg *ic)
{
    struct status_cfg *sc = &ic->status;

    if (inbound_policy_key(diag, e, &ic->defaults))
        return;
    if (strcmp(e->key, "local_domains") == 0) {
        if (cfg_list(e->value, inbound_list_add, &ic->local_domains) != 0)
            cfg_error(diag, e->line, "out of memory");
    } else if (strcmp(e->key, "gnupg_home") == 0) {
        inbound_str(diag, e, &ic->gnupg_home);
    } else if (strcmp(e->key, "smime_keypair") == 0) {
        inbound_keypair(diag, e, ic);
    } else if (strcmp(e->key, "ca_file") == 0 || strcmp(e->key, "ca_path") == 0) {
        if (access(e->value, R_OK) != 0)
            cfg_error(diag, e->line, "%s: %s: %s", e->key, e->value, strerror(errno));
        else
            inbound_str(diag, e, e->key[3] == 'f' ? &ic->ca_file : &ic->ca_path);
    } else if (strcmp(e->key, "hold_dir") == 0) {
        if (e->value[0] != '/')
            cfg_error(diag, e->line, "%s: must be an absolute path", e->key);
        else
            inbound_str(diag, e, &ic->hold_dir);
    } else if (strcmp(e->key, "authserv_id") == 0) {
        inbound_str(diag, e, &ic->authserv_id);
    } else if (strcmp(e->key, "signer_lookup") == 0) {
        if (cfg_bool(diag, e, &ic->signer_lookup) == 0)
            ic->signer_lookup_line = e->line;
    } else if (strcmp(e->key, "trust_wkd") == 0) {
        cfg_bool(diag, e, &ic->trust_wkd);
    } else if (strcmp(e->key, "max_decrypt_size") == 0) {
        cfg_uint(diag, e, 1024, 1L << 30, &ic->max_decrypt_size);
    } else if (strcmp(e->key, "status_check") == 0) {
        cfg_bool(diag, e, &sc->check);
    } else if (strcmp(e->key, "ocsp_responder") == 0) {
        inbound_url(diag, e, &sc->ocsp_url, 0);
    } else if (strcmp(e->key, "ocsp_responder_override") == 0) {
        cfg_bool(diag, e, &sc->ocsp_url_force);
    } else if (strcmp(e->key, "ocsp_require_nonce") == 0) {
        cfg_bool(diag, e, &sc->ocsp_nonce);
    } else if (strcmp(e->key, "crl_url") == 0) {
        inbound_url(diag, e, &sc->crl_url, 0);
    } else if (strcmp(e->key, "keyserver") == 0) {
        inbound_url(diag, e, &sc->keyserver, 1);
    } else if (strcmp(e->key, "status_timeout") == 0) {
        cfg_seconds(diag, e, 1, 120, &sc->timeout);
    } else if (strcmp(e->key, "status_clock_skew") == 0) {
        cfg_seconds(diag, e, 0, 86400, &sc->skew);
    } else if (strcmp(e->key, "status_cache") == 0) {
        if (e->value[0] != '/')
            cfg_error(diag, e->line, "%s: must be an absolute path", e->key);
        else
            inbound_str(diag, e, &sc->cache_path);
    } else if (strcmp(e->key, "status_cache_ttl") == 0) {
        cfg_seconds(diag, e, 0, 7 * 86400L, &sc->cache_ttl);
    } else if (strcmp(e->key, "status_max_age") == 0) {
        cfg_seconds(diag, e, 60, 90 * 86400L, &sc->max_age);
    } else {
        cfg_error(diag, e->line, "unknown key \"%s\" in [%s]", e->key, e->section);
    }
}

static void inbound_rule_key(struct cfg_diag *diag, const struct cfg_entry *e,
                             struct inbound_rule *r)
{
    if (inbound_policy_key(diag, e, r))
        return;
    if (strcmp(e->key, "sender_domain") == 0) {
        if (cfg_list(e->value, inbound_list_add, &r->senders) != 0)
            cfg_error(diag, e->line, "out of memory");
    } else if (strcmp(e->key, "recipient") == 0) {
        if (cfg_list(e->value, inbound_list_add, &r->recipients) != 0)
            cfg_error(diag, e->line, "out of memory");
    } else if (strcmp(e->key, "content") == 0) {
        inbound_content(diag, e, &r->content);
    } else {
        cfg_error(diag, e->line, "unknown key \"%s\" in [%s]", e->key, e->section);
    }
}

static struct inbound_rule *inbound_rule_get(struct cfg_diag *diag, const struct cfg_entry *e,
                                             struct inbound_cfg *ic)
{
    const char *name = e->section + strlen("inbound rule");
    struct inbound_rule *r;
    size_t i;

    name += strspn(name, " ");
    for (i = 0; i < ic->n_rules; i++)
        if (strcmp(ic->rules[i].name, name) == 0)
            return &ic->rules[i];
    if (name[0] == 0 || ic->n_rules == INBOUND_MAX_RULES) {
        cfg_error(diag, e->line, "[%s]: %s", e->section,
                  name[0] ? "too many rules (64)" : "rule without a name");
        return NULL;
    }
    if ((r = realloc(ic->rules, (ic->n_rules + 1) * sizeof(*r))) == NULL) {
        cfg_error(diag, e->line, "out of memory");
        return NULL;
    }
    ic->rules = r;
    r = &ic->rules[ic->n_rules++];
    inbound_rule_init(r);
    r->name = strdup(name);
    r->line = e->line;
    return r;
}

struct inbound_cfg *inbound_cfg_load(const struct cfg *cfg, struct cfg_diag *diag)
{
    struct inbound_cfg *ic = calloc(1, sizeof(*ic));
    int errors = diag->errors;
    size_t i;

    if (ic == NULL) {
        cfg_error(diag, 0, "out of memory");
        return NULL;
    }
    ic->path = strdup(cfg->path);
    inbound_rule_init(&ic->defaults);
    ic->max_decrypt_size = 64L * 1024 * 1024;
    ic->signer_lookup = -1;
    ic->trust_wkd = 1;
    ic->status.check = 1;
    ic->status.ocsp_nonce = 1;
    ic->status.timeout = 10;
    ic->status.skew = 300;
    ic->status.max_age = 7 * 86400L;
    ic->status.cache_ttl = 3600;

    for (i = 0; i < cfg->count; i++) {
        const struct cfg_entry *e = &cfg->entries[i];

        if (strcmp(e->section, "inbound") == 0) {
            inbound_main_key(diag, e, ic);
        } else if (cfg_section_is(e->section, "inbound")) {
            struct inbound_rule *r;

            if (strncmp(e->section, "inbound rule ", 13) != 0) {
                cfg_error(diag, e->line, "unknown section [%s] (expected [inbound rule NAME])",
                          e->section);
                continue;
            }
            if ((r = inbound_rule_get(diag, e, ic)) != NULL)
                inbound_rule_key(diag, e, r);
        }
    }
    /* Defaults of [inbound]. */
    if (ic->defaults.verify < 0)
        ic->defaults.verify = INBOUND_VERIFY_OPTIONAL;
    if (ic->defaults.require < 0)
        ic->defaults.require = INBOUND_REQ_VALID | INBOUND_REQ_NOT_REVOKED;
    if (ic->defaults.on_fail < 0)
        ic->defaults.on_fail = INBOUND_TAG;
    if (ic->defaults.on_unreachable < 0)
        ic->defaults.on_unreachable = INBOUND_DEFER;
    if (ic->defaults.on_decrypt_fail < 0)
        ic->defaults.on_decrypt_fail = INBOUND_DELIVER;
    if (ic->defaults.tag == NULL)
        ic->defaults.tag = strdup("[UNVERIFIED]");
    if (ic->path == NULL || ic->defaults.tag == NULL)
        cfg_error(diag, 0, "out of memory");
    if (diag->errors != errors) {
        inbound_cfg_free(ic);
        return NULL;
    }
    return ic;
}

void inbound_cfg_set_keys(struct inbound_cfg *ic, struct keys *keys, struct cfg_diag *diag)
{
    int usable = keys != NULL && keys_pgp_methods(keys) > 0 && ic->gnupg_home != NULL;

    if (ic->signer_lookup == 1 && !usable)
        cfg_error(diag, ic->signer_lookup_line,
                  "signer_lookup = yes needs gnupg_home in [inbound] (found keys are imported "
                  "there) and an OpenPGP method (wkd, vks, hkp, locate) in [keys] methods");
    if (ic->signer_lookup < 0)
        ic->signer_lookup = usable;
    ic->keys = usable && ic->signer_lookup ? keys : NULL;
}

void inbound_cfg_hold_check(const struct cfg *cfg, const struct inbound_cfg *ic,
                            int have_hold_reinject, struct cfg_diag *diag)
{
    size_t i;

    if (ic == NULL || ic->hold_dir != NULL || have_hold_reinject)
        return;
    for (i = 0; i < cfg->count; i++) {
        const struct cfg_entry *e = &cfg->entries[i];

        if (cfg_section_is(e->section, "inbound") &&
            (strcmp(e->key, "on_fail") == 0 || strcmp(e->key, "on_unreachable") == 0 ||
             strcmp(e->key, "on_decrypt_fail") == 0) &&
            strcasecmp(e->value, "hold") == 0)
            cfg_error(diag, e->line,
                      "%s = hold needs hold_dir = DIR in [inbound] or hold_reinject = HOST:PORT "
                      "in [filter] (an smtpd that holds everything, see "
                      "contrib/postfix/master.cf.filter)",
                      e->key);
    }
}

static int inbound_rcpt_match(const struct inbound_list *l, const char *rcpt)
{
    const char *dom = inbound_domain(rcpt);
    size_t i;

    for (i = 0; i < l->n; i++) {
        const char *m = l->item[i];

        if (strchr(m, '@') == NULL || m[0] == '@') {
            struct inbound_list one = {.item = (char **)&m, .n = 1};
            const char *d = m[0] == '@' ? m + 1 : m;

            one.item = (char **)&d;
            if (inbound_domain_in(&one, dom))
                return 1;
        } else if (strcasecmp(m, rcpt) == 0) {
            return 1;
        }
    }
    return 0;
}

void inbound_rule_pick(const struct inbound_cfg *ic, const char *sender_domain,
                       const char *const *rcpts, size_t n, int kind, struct inbound_rule *out)
{
    const struct inbound_rule *r = NULL;
    size_t i, j;

    for (i = 0; i < ic->n_rules && r == NULL; i++) {
        const struct inbound_rule *c = &ic->rules[i];
        int ok = 1;

        if (c->senders.n && !inbound_domain_in(&c->senders, sender_domain))
            ok = 0;
        if (ok && c->recipients.n) {
            for (j = 0; j < n; j++)
                if (inbound_rcpt_match(&c->recipients, rcpts[j]))
                    break;
            ok = j < n;
        }
        if (ok && c->content && !(c->content & kind))
            ok = 0;
        if (ok)
            r = c;
    }
    *out = ic->defaults;
    out->name = (char *)"default";
    if (r == NULL)
        return;
    out->name = r->name;
    if (r->verify >= 0)
        out->verify = r->verify;
    if (r->require >= 0)
        out->require = r->require;
    if (r->on_fail >= 0)
        out->on_fail = r->on_fail;
    if (r->on_unreachable >= 0)
        out->on_unreachable = r->on_unreachable;
    if (r->on_decrypt_fail >= 0)
        out->on_decrypt_fail = r->on_decrypt_fail;
    if (r->tag)
        out->tag = r->tag;
}

int inbound_is_inbound(const struct inbound_cfg *ic, const char *sender, const char *const *rcpts,
                       size_t n)
{
    size_t i;

    if (ic == NULL || ic->local_domains.n == 0)
        return 0;
    if (sender && sender[0] && inbound_domain_in(&ic->local_domains, inbound_domain(sender)))
        return 0;
    for (i = 0; i < n; i++)
        if (inbound_domain_in(&ic->local_domains, inbound_domain(rcpts[i])))
            return 1;
    return 0;
}
