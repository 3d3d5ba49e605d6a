/*
 * publish_cfg: the [publish] section of postseal.ini, read by postseal-keys.
 *
 * Contract: publish_conf_load() validates every [publish] entry (unknown
 * keys, keys given twice, bad values and [publish ANYTHING] sections are
 * errors reported as FILE:LINE) and fills the defaults it takes from the
 * other sections without validating those (their owner does):
 * gnupg_home from [inbound] then [filter] gnupg_home, gateway_localpart from
 * [keys] gateway_localpart, smime_certs from the certificate files of
 * [inbound] smime_keypair (never the key files).
 * Limits: PUBLISH_MAX_DOMAINS domains, PUBLISH_MAX_FILES smime_certs.
 * Failure: NULL with diag->errors > 0; nothing is half applied.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "publish.h"

static int publish_verb;

void publish_set_verbose(int verbose)
{
    publish_verb = verbose;
}

static void publish_vnote(const char *fmt, va_list ap)
{
    char text[2048];

    vsnprintf(text, sizeof(text), fmt, ap);
    fprintf(stderr, "postseal-keys: %s\n", text);
}

void publish_note(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    publish_vnote(fmt, ap);
    va_end(ap);
}

void publish_verbose(const char *fmt, ...)
{
    va_list ap;

    if (!publish_verb)
        return;
    va_start(ap, fmt);
    publish_vnote(fmt, ap);
    va_end(ap);
}

void publish_conf_free(struct publish_conf *pc)
{
    int i;

    if (pc == NULL)
        return;
    for (i = 0; i < pc->ndomains; i++)
        free(pc->domains[i]);
    for (i = 0; i < pc->nsmime; i++)
        free(pc->smime_certs[i]);
    free(pc->gnupg_home);
    free(pc->gateway_key);
    free(pc->gateway_localpart);
    free(pc->wkd_dir);
    free(pc->ldif_file);
    free(pc->ldif_base);
    free(pc);
}

int publish_domain_ok(const struct publish_conf *pc, const char *domain)
{
    int i;

    for (i = 0; i < pc->ndomains; i++)
        if (strcasecmp(pc->domains[i], domain) == 0)
            return 1;
    return 0;
}

struct publish_load {
    struct publish_conf *pc;
    struct cfg_diag *diag;
    const struct cfg_entry *e;
};

/* A domain name: letters, digits, '-', '.', no empty label. */
static int publish_domain_syntax(const char *d, size_t len)
{
    size_t i;

    if (len == 0 || len > 253 || d[0] == '.' || d[len - 1] == '.' || d[0] == '-')
        return 0;
    for (i = 0; i < len; i++) {
        if (!isalnum((unsigned char)d[i]) && d[i] != '-' && d[i] != '.')
            return 0;
        if (d[i] == '.' && i + 1 < len && d[i + 1] == '.')
            return 0;
    }
    return 1;
}

static int publish_add_domain(const char *item, size_t len, void *arg)
{
    struct publish_load *pl = arg;
    struct publish_conf *pc = pl->pc;
    char *d;
    size_t i;

    if (!publish_domain_syntax(item, len)) {
        cfg_error(pl->diag, pl->e->line, "domains: \"%.*s\" is not a domain name", (int)len, item);
        return 0;
    }
    if (pc->ndomains == PUBLISH_MAX_DOMAINS) {
        cfg_error(pl->diag, pl->e->line, "domains: more than %d", PUBLISH_MAX_DOMAINS);
        return 1;
    }
    if ((d = strndup(item, len)) == NULL) {
        cfg_error(pl->diag, pl->e->line, "out of memory");
        return 1;
    }
    for (i = 0; d[i]; i++)
        d[i] = (char)tolower((unsigned char)d[i]);
    if (publish_domain_ok(pc, d)) {
        cfg_error(pl->diag, pl->e->line, "domains: %s listed twice", d);
        free(d);
        return 0;
    }
    pc->domains[pc->ndomains++] = d;
    return 0;
}

static int publish_add_file(const char *item, size_t len, void *arg)
{
    struct publish_load *pl = arg;
    struct publish_conf *pc = pl->pc;
    struct stat st;
    char *f;

    if (pc->nsmime == PUBLISH_MAX_FILES) {
        cfg_error(pl->diag, pl->e->line, "smime_certs: more than %d", PUBLISH_MAX_FILES);
        return 1;
    }
    if ((f = strndup(item, len)) == NULL) {
        cfg_error(pl->diag, pl->e->line, "out of memory");
        return 1;
    }
    if (stat(f, &st) < 0) {
        cfg_error(pl->diag, pl->e->line, "smime_certs: %s: %s", f, strerror(errno));
        free(f);
        return 0;
    }
    pc->smime_lines[pc->nsmime] = pl->e->line;
    pc->smime_certs[pc->nsmime++] = f;
    return 0;
}

static int publish_add_wkd(const char *item, size_t len, void *arg)
{
    struct publish_load *pl = arg;

    if (len == 8 && strncasecmp(item, "advanced", 8) == 0)
        pl->pc->wkd_advanced = 1;
    else if (len == 6 && strncasecmp(item, "direct", 6) == 0)
        pl->pc->wkd_direct = 1;
    else
        cfg_error(pl->diag, pl->e->line, "wkd: \"%.*s\" is not advanced or direct", (int)len, item);
    return 0;
}

static void publish_str(struct publish_load *pl, char **slot)
{
    if (pl->e->value[0] == 0) {
        cfg_error(pl->diag, pl->e->line, "%s: empty value", pl->e->key);
        return;
    }
    free(*slot);
    if ((*slot = strdup(pl->e->value)) == NULL)
        cfg_error(pl->diag, pl->e->line, "out of memory");
}

static void publish_path(struct publish_load *pl, char **slot)
{
    if (pl->e->value[0] != '/') {
        cfg_error(pl->diag, pl->e->line, "%s: \"%s\" is not an absolute path", pl->e->key,
                  pl->e->value);
        return;
    }
    publish_str(pl, slot);
}

/* 40 (v4) or 64 (v5) hex digits, optional 0x, blanks allowed (as gpg prints
 * them); stored upper case without blanks. */
static void publish_fpr(struct publish_load *pl)
{
    const char *v = pl->e->value;
    char fpr[80];
    size_t n = 0;

    if (v[0] == '0' && (v[1] == 'x' || v[1] == 'X'))
        v += 2;
    for (; *v; v++) {
        if (*v == ' ' || *v == '\t')
            continue;
        if (!isxdigit((unsigned char)*v) || n + 1 >= sizeof(fpr))
            break;
        fpr[n++] = (char)toupper((unsigned char)*v);
    }
    fpr[n] = 0;
    if (*v != 0 || (n != 40 && n != 64)) {
        cfg_error(pl->diag, pl->e->line,
                  "gateway_key: \"%s\" is not a fingerprint (40 or 64 hex digits, see gpg "
                  "--list-secret-keys)",
                  pl->e->value);
        return;
    }
    free(pl->pc->gateway_key);
    if ((pl->pc->gateway_key = strdup(fpr)) == NULL)
        cfg_error(pl->diag, pl->e->line, "out of memory");
    pl->pc->gateway_key_line = pl->e->line;
}

static int publish_localpart_ok(const char *s)
{
    if (*s == 0 || strlen(s) > 64)
        return 0;
    for (; *s; s++)
        if (*s <= ' ' || *s >= 127 || strchr("<>()[]\\,;:\"@", *s) != NULL)
            return 0;
    return 1;
}

static const char *const publish_keys_names[] = {"secret", "all", NULL};

/* Keys given at most once, and the lists that append. */
static const char *const publish_once[] = {
    "gnupg_home", "keys",      "gateway_key", "gateway_localpart", "wkd_dir", "wkd",
    "ldif_file",  "ldif_base", NULL,
};

static void publish_entry(struct publish_load *pl)
{
    const struct cfg_entry *e = pl->e;
    struct publish_conf *pc = pl->pc;
    int v;

    if (strcmp(e->key, "domains") == 0) {
        if (cfg_list(e->value, publish_add_domain, pl) == 0 && e->value[0] == 0)
            cfg_error(pl->diag, e->line, "domains: empty value");
    } else if (strcmp(e->key, "gnupg_home") == 0) {
        publish_path(pl, &pc->gnupg_home);
        pc->gnupg_home_line = e->line;
    } else if (strcmp(e->key, "keys") == 0) {
        if (cfg_enum(pl->diag, e, publish_keys_names, &v) == 0)
            pc->keys_all = v == 1;
    } else if (strcmp(e->key, "gateway_key") == 0) {
        publish_fpr(pl);
    } else if (strcmp(e->key, "gateway_localpart") == 0) {
        if (!publish_localpart_ok(e->value))
            cfg_error(pl->diag, e->line, "gateway_localpart: \"%s\" is not a mail local part",
                      e->value);
        else
            publish_str(pl, &pc->gateway_localpart);
    } else if (strcmp(e->key, "wkd_dir") == 0) {
        publish_path(pl, &pc->wkd_dir);
        pc->wkd_dir_line = e->line;
    } else if (strcmp(e->key, "wkd") == 0) {
        pc->wkd_advanced = pc->wkd_direct = 0;
        cfg_list(e->value, publish_add_wkd, pl);
        if (!pc->wkd_advanced && !pc->wkd_direct)
            cfg_error(pl->diag, e->line, "wkd: name advanced and/or direct");
    } else if (strcmp(e->key, "ldif_file") == 0) {
        publish_path(pl, &pc->ldif_file);
        pc->ldif_file_line = e->line;
    } else if (strcmp(e->key, "ldif_base") == 0) {
        if (strchr(e->value, '=') == NULL)
            cfg_error(pl->diag, e->line,
                      "ldif_base: \"%s\" is not a DN (e.g. ou=people,dc=example,dc=org)", e->value);
        else
            publish_str(pl, &pc->ldif_base);
    } else if (strcmp(e->key, "smime_certs") == 0) {
        if (e->value[0] == 0)
            cfg_error(pl->diag, e->line, "smime_certs: empty value");
        cfg_list(e->value, publish_add_file, pl);
    } else {
        cfg_error(pl->diag, e->line, "unknown key \"%s\" in [publish]", e->key);
    }
}

/* Defaults from the other programs' sections (not validated here). */
static void publish_defaults(const struct cfg *cfg, struct publish_load *pl, int have_certs)
{
    struct publish_conf *pc = pl->pc;
    const char *inb = NULL, *flt = NULL, *lp = NULL;
    int inb_line = 0, flt_line = 0;
    size_t i;

    for (i = 0; i < cfg->count; i++) {
        const struct cfg_entry *e = &cfg->entries[i];

        if (strcmp(e->section, "inbound") == 0 && strcmp(e->key, "gnupg_home") == 0)
            inb = e->value, inb_line = e->line;
        else if (strcmp(e->section, "filter") == 0 && strcmp(e->key, "gnupg_home") == 0)
            flt = e->value, flt_line = e->line;
        else if (strcmp(e->section, "keys") == 0 && strcmp(e->key, "gateway_localpart") == 0)
            lp = e->value;
        else if (!have_certs && strcmp(e->section, "inbound") == 0 &&
                 strcmp(e->key, "smime_keypair") == 0) {
            /* "KEYFILE CERTFILE": only the certificate file is ever opened */
            char key[CFG_MAX_LINE + 1], cert[CFG_MAX_LINE + 1];

            if (sscanf(e->value, "%199s %199s", key, cert) == 2 && pc->nsmime < PUBLISH_MAX_FILES &&
                (pc->smime_certs[pc->nsmime] = strdup(cert))) {
                pc->smime_lines[pc->nsmime++] = e->line;
            }
        }
    }
    if (pc->gnupg_home == NULL && (inb != NULL || flt != NULL)) {
        pc->gnupg_home = strdup(inb ? inb : flt);
        pc->gnupg_home_line = inb ? inb_line : flt_line;
    }
    if (pc->gateway_localpart == NULL)
        pc->gateway_localpart = strdup(lp && publish_localpart_ok(lp) ? lp : "openpgp-gateway");
    if (!pc->wkd_advanced && !pc->wkd_direct)
        pc->wkd_advanced = pc->wkd_direct = 1;
}

struct publish_conf *publish_conf_load(const struct cfg *cfg, struct cfg_diag *diag)
{
    struct publish_conf *pc;
    struct publish_load pl;
    int errors = diag->errors, seen = 0, first_line = 0, have_certs = 0;
    size_t i, j, k;

    if ((pc = calloc(1, sizeof(*pc))) == NULL) {
        cfg_error(diag, 0, "out of memory");
        return NULL;
    }
    pc->path = cfg->path;
    pl.pc = pc;
    pl.diag = diag;
    for (i = 0; i < cfg->count; i++) {
        const struct cfg_entry *e = &cfg->entries[i];

        if (!cfg_section_is(e->section, "publish"))
            continue;
        if (strcmp(e->section, "publish") != 0) {
            if (i == 0 || strcmp(cfg->entries[i - 1].section, e->section) != 0)
                cfg_error(diag, e->line, "unknown section [%s] (postseal-keys reads [publish])",
                          e->section);
            continue;
        }
        if (!seen)
            first_line = e->line;
        seen = 1;
        for (k = 0; publish_once[k] != NULL; k++)
            if (strcmp(e->key, publish_once[k]) == 0)
                break;
        if (publish_once[k] != NULL) {
            for (j = 0; j < i; j++)
                if (strcmp(cfg->entries[j].section, "publish") == 0 &&
                    strcmp(cfg->entries[j].key, e->key) == 0)
                    break;
            if (j < i) {
                cfg_error(diag, e->line, "%s: given twice (first at line %d)", e->key,
                          cfg->entries[j].line);
                continue;
            }
        }
        if (strcmp(e->key, "smime_certs") == 0)
            have_certs = 1;
        pl.e = e;
        publish_entry(&pl);
    }
    if (!seen)
        cfg_error(diag, 0,
                  "no [publish] section (postseal-keys needs at least "
                  "[publish] domains = ...)");
    else if (pc->ndomains == 0)
        cfg_error(diag, first_line,
                  "[publish]: domains = DOMAIN, ... is required (the local "
                  "domains whose keys are published)");
    publish_defaults(cfg, &pl, have_certs);
    if (pc->gateway_localpart == NULL || (pc->gnupg_home == NULL && pc->gnupg_home_line))
        cfg_error(diag, 0, "out of memory");
    if (diag->errors > errors) {
        publish_conf_free(pc);
        return NULL;
    }
    return pc;
}
