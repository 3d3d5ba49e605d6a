/*
 * fconf: reads and validates the filter's sections of postseal.ini.
 *
 *   [filter]               program settings and the default treatment
 *   [filter rule NAME]     conditions (sender/recipient patterns, header and
 *                          body regexes) and a treatment (encrypt, sign, ...)
 *   [filter signkey NAME]  which signing key/certificate a sender uses
 *
 * Contract: every entry is checked (unknown keys, bad values, regexes that do
 * not compile, references to unknown signkey sections, duplicate names) and
 * every problem is reported as FILE:LINE through cfg_error; a configuration
 * with any error is never used (the filter then defers mail: exit 75).
 * Keys of [filter] owned by the crypto key store (gnupg_home, smime_certs,
 * smime_ca) are handed to keystore_conf_entry.
 * Regexes are POSIX extended, case-insensitive (regcomp REG_EXTENDED|REG_ICASE).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fconf.h"
#include "match.h"

static const char *const fc_enc_names[] = {"never", "opportunistic", "required", NULL};
static const char *const fc_nokey_names[] = {"defer", "bounce", "hold", "notice", NULL};
static const char *const fc_order_names[] = {"first-match", "most-specific", NULL};
static const char *const fc_malformed_names[] = {"defer", "bounce", NULL};
static const char *const fc_cipher_names[] = {"aes256-cbc", "aes256-gcm", NULL};

/* hidden_recipients = auto|yes|no (yes/no also as true/false, on/off, 1/0,
 * as cfg_bool takes them: the key was boolean before auto existed). */
static void fc_hidden(struct cfg_diag *diag, const struct cfg_entry *e, int *out)
{
    static const char *const yes[] = {"yes", "true", "on", "1"};
    static const char *const no[] = {"no", "false", "off", "0"};
    size_t i;

    if (strcasecmp(e->value, "auto") == 0) {
        *out = FC_HIDDEN_AUTO;
        return;
    }
    for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcasecmp(e->value, yes[i]) == 0) {
            *out = FC_HIDDEN_YES;
            return;
        }
        if (strcasecmp(e->value, no[i]) == 0) {
            *out = FC_HIDDEN_NO;
            return;
        }
    }
    cfg_error(diag, e->line, "%s: \"%s\" is not auto, yes or no", e->key, e->value);
}

const char *fconf_encrypt_name(int v)
{
    return v >= 0 && v <= FC_ENC_REQUIRED ? fc_enc_names[v] : "?";
}

const char *fconf_nokey_name(int v)
{
    return v >= 0 && v <= FC_NOKEY_NOTICE ? fc_nokey_names[v] : "?";
}

const char *fconf_method_name(int v)
{
    return v == FC_METH_PGP ? "pgp" : v == FC_METH_SMIME ? "smime" : "none";
}

static void fc_action_unset(struct fc_action *a)
{
    memset(a, 0, sizeof(*a));
    a->encrypt = a->sign = a->no_key = a->protect_subject = a->smime_cipher = -1;
}

static char *fc_strdup(struct cfg_diag *diag, const struct cfg_entry *e, const char *s)
{
    char *p = strdup(s);

    if (p == NULL)
        cfg_error(diag, e->line, "%s: out of memory", e->key);
    return p;
}

/* ---- pattern lists ---- */

struct fc_padd {
    struct fc_plist *l;
    struct cfg_diag *diag;
    const struct cfg_entry *e;
    int domain;
};

static int fc_plist_item(const char *item, size_t len, void *arg)
{
    struct fc_padd *a = arg;
    char buf[512], err[200];
    char **v;

    if (len >= sizeof(buf)) {
        cfg_error(a->diag, a->e->line, "%s: pattern too long", a->e->key);
        return 0;
    }
    memcpy(buf, item, len);
    buf[len] = 0;
    if ((a->domain ? match_domain_check(buf, err, sizeof(err))
                   : match_address_check(buf, err, sizeof(err))) < 0) {
        cfg_error(a->diag, a->e->line, "%s: %s", a->e->key, err);
        return 0;
    }
    if ((v = realloc(a->l->v, (a->l->n + 1) * sizeof(*v))) == NULL ||
        (v[a->l->n] = strdup(buf)) == NULL) {
        if (v != NULL)
            a->l->v = v;
        cfg_error(a->diag, a->e->line, "%s: out of memory", a->e->key);
        return 1;
    }
    a->l->v = v;
    a->l->n++;
    return 0;
}

static void fc_plist_add(struct fc_plist *l, struct cfg_diag *diag, const struct cfg_entry *e,
                         int domain)
{
    struct fc_padd a = {l, diag, e, domain};
    size_t before = l->n;
    int errors = diag->errors;

    cfg_list(e->value, fc_plist_item, &a);
    if (l->n == before && diag->errors == errors)
        cfg_error(diag, e->line, "%s: empty pattern list", e->key);
}

static void fc_plist_free(struct fc_plist *l)
{
    size_t i;

    for (i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
}

/* ---- treatment keys (in [filter] and in rules) ---- */

static int fc_method_item(const char *item, size_t len, void *arg)
{
    struct fc_action *a = arg;
    int m;

    if (len == 3 && strncasecmp(item, "pgp", 3) == 0)
        m = FC_METH_PGP;
    else if (len == 5 && strncasecmp(item, "smime", 5) == 0)
        m = FC_METH_SMIME;
    else
        return -1;
    if (a->nmethods >= 2 || (a->nmethods == 1 && a->methods[0] == m))
        return -2;
    a->methods[a->nmethods++] = m;
    return 0;
}

static int fc_methods(struct fc_action *a, struct cfg_diag *diag, const struct cfg_entry *e)
{
    int rc;

    a->nmethods = 0;
    rc = cfg_list(e->value, fc_method_item, a);
    if (rc == -1 || a->nmethods == 0) {
        cfg_error(diag, e->line, "method: expected pgp, smime or both in order of preference");
        return -1;
    }
    if (rc == -2) {
        cfg_error(diag, e->line, "method: a method is listed twice");
        return -1;
    }
    return 0;
}

/* Returns 1 if the key is a treatment key (handled), 0 otherwise. */
static int fc_action_entry(struct fc_action *a, struct cfg_diag *diag, const struct cfg_entry *e)
{
    if (strcmp(e->key, "encrypt") == 0)
        cfg_enum(diag, e, fc_enc_names, &a->encrypt);
    else if (strcmp(e->key, "sign") == 0)
        cfg_bool(diag, e, &a->sign);
    else if (strcmp(e->key, "no_key") == 0)
        cfg_enum(diag, e, fc_nokey_names, &a->no_key);
    else if (strcmp(e->key, "protect_subject") == 0)
        cfg_bool(diag, e, &a->protect_subject);
    else if (strcmp(e->key, "smime_cipher") == 0)
        cfg_enum(diag, e, fc_cipher_names, &a->smime_cipher);
    else if (strcmp(e->key, "method") == 0)
        fc_methods(a, diag, e);
    else if (strcmp(e->key, "signkey") == 0) {
        free(a->signkey);
        a->signkey = fc_strdup(diag, e, e->value);
    } else
        return 0;
    return 1;
}

/* ---- [filter] ---- */

static int fc_split_argv(struct reinject_conf *r, const char *value)
{
    const char *p = value;
    size_t n = 0;

    while (*p) {
        const char *start;

        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == 0)
            break;
        start = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        if (n >= sizeof(r->sendmail_argv) / sizeof(r->sendmail_argv[0]) - 1)
            return -1;
        if ((r->sendmail_argv[n++] = strndup(start, (size_t)(p - start))) == NULL)
            return -1;
    }
    r->sendmail_argv[n] = NULL;
    return n > 0 && r->sendmail_argv[0][0] == '/' ? 0 : -1;
}

static void fc_main_entry(struct fconf *fc, struct cfg_diag *diag, const struct cfg_entry *e)
{
    long v;
    size_t i;

    if (fc_action_entry(&fc->defaults, diag, e))
        return; /* a signkey reference is checked in fc_check */
    if (strcmp(e->key, "reinject") == 0) {
        if (strcasecmp(e->value, "sendmail") == 0) {
            fc->reinject.method = REINJECT_SENDMAIL;
        } else {
            fc->reinject.method = REINJECT_SMTP;
            if (reinject_parse_hostport(&fc->reinject, e->value) < 0)
                cfg_error(diag, e->line,
                          "reinject: expected HOST:PORT (e.g. 127.0.0.1:10026) or sendmail");
        }
    } else if (strcmp(e->key, "sendmail_command") == 0) {
        for (i = 0; fc->reinject.sendmail_argv[i] != NULL; i++) {
            free(fc->reinject.sendmail_argv[i]);
            fc->reinject.sendmail_argv[i] = NULL;
        }
        if (fc_split_argv(&fc->reinject, e->value) < 0)
            cfg_error(diag, e->line,
                      "sendmail_command: expected an absolute path and at most 30 arguments "
                      "(no shell is used)");
    } else if (strcmp(e->key, "reinject_helo") == 0) {
        if (*e->value == 0 || strlen(e->value) >= sizeof(fc->reinject.helo) ||
            strpbrk(e->value, " \t<>") != NULL)
            cfg_error(diag, e->line, "reinject_helo: expected a host name");
        else
            snprintf(fc->reinject.helo, sizeof(fc->reinject.helo), "%s", e->value);
    } else if (strcmp(e->key, "connect_timeout") == 0) {
        if (cfg_seconds(diag, e, 1, 3600, &v) == 0)
            fc->reinject.connect_timeout = v;
    } else if (strcmp(e->key, "reinject_timeout") == 0) {
        if (cfg_seconds(diag, e, 1, 3600, &v) == 0)
            fc->reinject.timeout = v;
    } else if (strcmp(e->key, "time_limit") == 0) {
        if (cfg_seconds(diag, e, 0, 86400, &v) == 0)
            fc->time_limit = v;
    } else if (strcmp(e->key, "temp_dir") == 0) {
        if (e->value[0] != '/')
            cfg_error(diag, e->line, "temp_dir: expected an absolute path");
        else {
            free(fc->temp_dir);
            fc->temp_dir = fc_strdup(diag, e, e->value);
        }
    } else if (strcmp(e->key, "message_size_limit") == 0) {
        if (cfg_uint(diag, e, 0, 1L << 40, &v) == 0)
            fc->max_size = (off_t)v;
    } else if (strcmp(e->key, "malformed") == 0) {
        cfg_enum(diag, e, fc_malformed_names, &fc->malformed);
    } else if (strcmp(e->key, "rule_order") == 0) {
        cfg_enum(diag, e, fc_order_names, &fc->order);
    } else if (strcmp(e->key, "hidden_recipients") == 0) {
        fc_hidden(diag, e, &fc->hidden_recipients);
    } else if (strcmp(e->key, "hold_reinject") == 0) {
        if (reinject_parse_hostport(&fc->hold, e->value) < 0)
            cfg_error(diag, e->line, "hold_reinject: expected HOST:PORT (e.g. 127.0.0.1:10027)");
        fc->hold_line = e->line;
    } else if (strcmp(e->key, "notice_from") == 0) {
        if (strpbrk(e->value, "\r\n<>") != NULL || *e->value == 0)
            cfg_error(diag, e->line, "notice_from: expected an address");
        else {
            free(fc->notice_from);
            fc->notice_from = fc_strdup(diag, e, e->value);
        }
    } else if (!keystore_conf_entry(&fc->ks, e, diag)) {
        cfg_error(diag, e->line, "unknown key \"%s\" in [filter]", e->key);
    }
}

/* ---- [filter rule NAME] ---- */

static void fc_regex(struct fc_hdrcond **v, size_t *n, struct cfg_diag *diag,
                     const struct cfg_entry *e, const char *field, const char *re)
{
    struct fc_hdrcond *c, *nv;
    int rc;

    if (*re == 0) {
        cfg_error(diag, e->line, "%s: empty regular expression", e->key);
        return;
    }
    if ((nv = realloc(*v, (*n + 1) * sizeof(*nv))) == NULL) {
        cfg_error(diag, e->line, "%s: out of memory", e->key);
        return;
    }
    *v = nv;
    c = &nv[*n];
    memset(c, 0, sizeof(*c));
    if ((rc = regcomp(&c->re, re, REG_EXTENDED | REG_ICASE | REG_NOSUB)) != 0) {
        char msg[200];

        regerror(rc, &c->re, msg, sizeof(msg));
        cfg_error(diag, e->line, "%s: bad regular expression \"%s\": %s", e->key, re, msg);
        return;
    }
    c->field = field ? strdup(field) : NULL;
    c->src = strdup(re);
    (*n)++;
}

static void fc_rule_entry(struct fc_rule *r, struct cfg_diag *diag, const struct cfg_entry *e)
{
    if (fc_action_entry(&r->act, diag, e))
        return;
    if (strcmp(e->key, "recipient") == 0)
        fc_plist_add(&r->rcpt, diag, e, 0);
    else if (strcmp(e->key, "recipient_domain") == 0)
        fc_plist_add(&r->rcpt_domain, diag, e, 1);
    else if (strcmp(e->key, "sender") == 0)
        fc_plist_add(&r->sender, diag, e, 0);
    else if (strcmp(e->key, "sender_domain") == 0)
        fc_plist_add(&r->sender_domain, diag, e, 1);
    else if (strcmp(e->key, "header") == 0) {
        /* "Field-Name REGEX" or "Field-Name: REGEX" */
        const char *p = e->value;
        char field[128];
        size_t n = 0;

        while (*p && *p != ':' && *p != ' ' && *p != '\t' && n < sizeof(field) - 1) {
            if ((unsigned char)*p < 33 || (unsigned char)*p > 126)
                break;
            field[n++] = *p++;
        }
        field[n] = 0;
        if (*p == ':')
            p++;
        if (n == 0 || (*p != ' ' && *p != '\t')) {
            cfg_error(diag, e->line,
                      "header: expected \"FIELD-NAME REGEX\" (e.g. "
                      "\"Subject \\[secure\\]\")");
            return;
        }
        while (*p == ' ' || *p == '\t')
            p++;
        fc_regex(&r->hdr, &r->nhdr, diag, e, field, p);
    } else if (strcmp(e->key, "body") == 0) {
        fc_regex(&r->body, &r->nbody, diag, e, NULL, e->value);
    } else {
        cfg_error(diag, e->line, "unknown key \"%s\" in [filter rule %s]", e->key, r->name);
    }
}

/* ---- [filter signkey NAME] ---- */

static void fc_signkey_entry(struct fc_signkey *k, struct cfg_diag *diag, const struct cfg_entry *e)
{
    char **slot = NULL;

    if (strcmp(e->key, "sender") == 0)
        fc_plist_add(&k->sender, diag, e, 0);
    else if (strcmp(e->key, "sender_domain") == 0)
        fc_plist_add(&k->sender_domain, diag, e, 1);
    else if (strcmp(e->key, "pgp_key") == 0)
        slot = &k->pgp_key;
    else if (strcmp(e->key, "smime_cert") == 0)
        slot = &k->smime_cert;
    else if (strcmp(e->key, "smime_key") == 0)
        slot = &k->smime_key;
    else
        cfg_error(diag, e->line, "unknown key \"%s\" in [filter signkey %s]", e->key, k->name);
    if (slot != NULL) {
        if (*e->value == 0) {
            cfg_error(diag, e->line, "%s: empty value", e->key);
            return;
        }
        if (slot != &k->pgp_key && e->value[0] != '/') {
            cfg_error(diag, e->line, "%s: expected an absolute path", e->key);
            return;
        }
        free(*slot);
        *slot = fc_strdup(diag, e, e->value);
    }
}

/* ---- loading ---- */

static const char *fc_sub(const char *section, const char *kind)
{
    size_t n = strlen(kind);

    if (strncmp(section, "filter ", 7) != 0 || strncmp(section + 7, kind, n) != 0)
        return NULL;
    if (section[7 + n] != ' ')
        return section[7 + n] == 0 ? "" : NULL;
    return section + 8 + n;
}

static struct fc_rule *fc_rule_get(struct fconf *fc, const char *name, int line,
                                   struct cfg_diag *diag)
{
    struct fc_rule *v;
    size_t i;

    for (i = 0; i < fc->nrules; i++)
        if (strcmp(fc->rules[i].name, name) == 0)
            return &fc->rules[i];
    if ((v = realloc(fc->rules, (fc->nrules + 1) * sizeof(*v))) == NULL) {
        cfg_error(diag, line, "out of memory");
        return NULL;
    }
    fc->rules = v;
    memset(&v[fc->nrules], 0, sizeof(*v));
    fc_action_unset(&v[fc->nrules].act);
    v[fc->nrules].name = strdup(name);
    v[fc->nrules].line = line;
    return &v[fc->nrules++];
}

static struct fc_signkey *fc_signkey_get(struct fconf *fc, const char *name, int line,
                                         struct cfg_diag *diag)
{
    struct fc_signkey *v;
    size_t i;

    for (i = 0; i < fc->nsignkeys; i++)
        if (strcmp(fc->signkeys[i].name, name) == 0)
            return &fc->signkeys[i];
    if ((v = realloc(fc->signkeys, (fc->nsignkeys + 1) * sizeof(*v))) == NULL) {
        cfg_error(diag, line, "out of memory");
        return NULL;
    }
    fc->signkeys = v;
    memset(&v[fc->nsignkeys], 0, sizeof(*v));
    v[fc->nsignkeys].name = strdup(name);
    v[fc->nsignkeys].line = line;
    return &v[fc->nsignkeys++];
}

static int fc_name_ok(const char *name)
{
    if (*name == 0)
        return 0;
    for (; *name; name++)
        if (!isalnum((unsigned char)*name) && strchr("-_.@", *name) == NULL)
            return 0;
    return 1;
}

static const struct fc_signkey *fc_signkey_find(const struct fconf *fc, const char *name)
{
    size_t i;

    for (i = 0; i < fc->nsignkeys; i++)
        if (strcmp(fc->signkeys[i].name, name) == 0)
            return &fc->signkeys[i];
    return NULL;
}

/* Checks that need the whole file: references and completeness. */
static void fc_check(struct fconf *fc, const struct cfg *cfg, struct cfg_diag *diag)
{
    size_t i;

    for (i = 0; i < fc->nsignkeys; i++) {
        struct fc_signkey *k = &fc->signkeys[i];

        if (k->pgp_key == NULL && k->smime_cert == NULL)
            cfg_error(diag, k->line, "[filter signkey %s]: neither pgp_key nor smime_cert",
                      k->name);
        if ((k->smime_cert == NULL) != (k->smime_key == NULL))
            cfg_error(diag, k->line, "[filter signkey %s]: smime_cert and smime_key go together",
                      k->name);
        if (k->pgp_key != NULL && fc->ks.gnupg_home == NULL)
            cfg_error(diag, k->line, "[filter signkey %s]: pgp_key needs gnupg_home in [filter]",
                      k->name);
    }
    for (i = 0; i < fc->nrules; i++) {
        struct fc_rule *r = &fc->rules[i];

        if (r->act.signkey != NULL && fc_signkey_find(fc, r->act.signkey) == NULL)
            cfg_error(diag, r->line, "[filter rule %s]: signkey \"%s\": no [filter signkey %s]",
                      r->name, r->act.signkey, r->act.signkey);
    }
    if (fc->defaults.signkey != NULL && fc_signkey_find(fc, fc->defaults.signkey) == NULL) {
        int line = 0;

        for (i = 0; i < cfg->count; i++)
            if (strcmp(cfg->entries[i].section, "filter") == 0 &&
                strcmp(cfg->entries[i].key, "signkey") == 0)
                line = cfg->entries[i].line;
        cfg_error(diag, line, "signkey \"%s\": no [filter signkey %s]", fc->defaults.signkey,
                  fc->defaults.signkey);
    }
    /* no_key = hold only where a holding smtpd exists: otherwise the
     * message would be delivered in clear */
    if (fc->hold.host[0] == 0) {
        for (i = 0; i < cfg->count; i++) {
            const struct cfg_entry *e = &cfg->entries[i];

            if (cfg_section_is(e->section, "filter") && strcmp(e->key, "no_key") == 0 &&
                strcmp(e->value, "hold") == 0)
                cfg_error(diag, e->line,
                          "no_key = hold needs hold_reinject = HOST:PORT in [filter] (an smtpd "
                          "that holds everything, see contrib/postfix/master.cf.filter)");
        }
    }
    if (fc->reinject.method == REINJECT_SENDMAIL && fc->reinject.sendmail_argv[0] == NULL)
        fc->reinject.sendmail_argv[0] = strdup("/usr/sbin/sendmail");
}

struct fconf *fconf_load(const struct cfg *cfg, struct cfg_diag *diag)
{
    struct fconf *fc = calloc(1, sizeof(*fc));
    int errors = diag->errors;
    size_t i;

    if (fc == NULL) {
        cfg_error(diag, 0, "out of memory");
        return NULL;
    }
    fc->reinject.method = REINJECT_SMTP;
    snprintf(fc->reinject.host, sizeof(fc->reinject.host), "127.0.0.1");
    snprintf(fc->reinject.port, sizeof(fc->reinject.port), "10026");
    snprintf(fc->reinject.helo, sizeof(fc->reinject.helo), "localhost");
    fc->reinject.connect_timeout = 10;
    fc->reinject.timeout = 300;
    fc->temp_dir = strdup("/var/tmp");
    fc->max_size = 104857600;
    fc->time_limit = 900;
    fc->malformed = FC_MALFORMED_DEFER;
    fc->order = FC_FIRST_MATCH;
    fc->notice_from = strdup("MAILER-DAEMON");
    fc->defaults.encrypt = FC_ENC_OPPORTUNISTIC;
    fc->defaults.sign = 0;
    fc->defaults.no_key = FC_NOKEY_DEFER;
    fc->defaults.protect_subject = 0;
    fc->defaults.smime_cipher = FC_CIPHER_CBC;
    fc->defaults.methods[0] = FC_METH_PGP;
    fc->defaults.methods[1] = FC_METH_SMIME;
    fc->defaults.nmethods = 2;
    for (i = 0; i < cfg->count; i++) {
        const struct cfg_entry *e = &cfg->entries[i];
        const char *name;

        if (!cfg_section_is(e->section, "filter"))
            continue;
        if (strcmp(e->section, "filter") == 0) {
            fc_main_entry(fc, diag, e);
        } else if ((name = fc_sub(e->section, "rule")) != NULL) {
            struct fc_rule *r;

            if (!fc_name_ok(name)) {
                cfg_error(diag, e->line,
                          "[%s]: expected [filter rule NAME] (letters, digits, "
                          "- _ . @)",
                          e->section);
                continue;
            }
            if ((r = fc_rule_get(fc, name, e->line, diag)) != NULL)
                fc_rule_entry(r, diag, e);
        } else if ((name = fc_sub(e->section, "signkey")) != NULL) {
            struct fc_signkey *k;

            if (!fc_name_ok(name)) {
                cfg_error(diag, e->line, "[%s]: expected [filter signkey NAME]", e->section);
                continue;
            }
            if ((k = fc_signkey_get(fc, name, e->line, diag)) != NULL)
                fc_signkey_entry(k, diag, e);
        } else {
            cfg_error(diag, e->line,
                      "[%s]: unknown section (expected [filter], [filter rule NAME] or "
                      "[filter signkey NAME])",
                      e->section);
        }
    }
    fc_check(fc, cfg, diag);
    if (diag->errors > errors) {
        fconf_free(fc);
        return NULL;
    }
    return fc;
}

static void fc_conds_free(struct fc_hdrcond *v, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        regfree(&v[i].re);
        free(v[i].field);
        free(v[i].src);
    }
    free(v);
}

void fconf_free(struct fconf *fc)
{
    size_t i;

    if (fc == NULL)
        return;
    for (i = 0; i < fc->nrules; i++) {
        struct fc_rule *r = &fc->rules[i];

        free(r->name);
        fc_plist_free(&r->rcpt);
        fc_plist_free(&r->rcpt_domain);
        fc_plist_free(&r->sender);
        fc_plist_free(&r->sender_domain);
        fc_conds_free(r->hdr, r->nhdr);
        fc_conds_free(r->body, r->nbody);
        free(r->act.signkey);
    }
    free(fc->rules);
    for (i = 0; i < fc->nsignkeys; i++) {
        struct fc_signkey *k = &fc->signkeys[i];

        free(k->name);
        fc_plist_free(&k->sender);
        fc_plist_free(&k->sender_domain);
        free(k->pgp_key);
        free(k->smime_cert);
        free(k->smime_key);
    }
    free(fc->signkeys);
    for (i = 0; fc->reinject.sendmail_argv[i] != NULL; i++)
        free(fc->reinject.sendmail_argv[i]);
    free(fc->defaults.signkey);
    free(fc->temp_dir);
    free(fc->notice_from);
    keystore_conf_free(&fc->ks);
    free(fc);
}
