/*
 * keys_cfg: validates the [keys], [keys ldap NAME] and [keys domain DOMAIN]
 * sections into a struct keys.  Every bad value is reported as FILE:LINE
 * through cfg_error; a config with any error yields NULL.  Defaults are in
 * the table below and in conf/postseal.ini.  Reads no file except LDAP bind
 * password files (refused when group/other readable) and the CA files
 * (checked for readability here, loaded when first used).
 */
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keys_int.h"
#include "secretfile.h"

static const char *const keys_method_names[] = {"wkd", "hkp", "vks", "ldap", "locate", NULL};

struct keys_mlist {
    struct keys *k;
    struct cfg_diag *diag;
    const struct cfg_entry *e;
    int bad;
};

static char *keys_dup(const char *s)
{
    char *p = strdup(s);

    if (p == NULL)
        abort(); /* out of memory while loading config: nothing sane to do */
    return p;
}

static int keys_add_method(const char *item, size_t len, void *arg)
{
    struct keys_mlist *ml = arg;
    struct cfg_entry one = *ml->e;
    char name[32];
    int m, i;

    if (len >= sizeof(name))
        len = sizeof(name) - 1;
    memcpy(name, item, len);
    name[len] = 0;
    one.value = name;
    if (cfg_enum(ml->diag, &one, keys_method_names, &m) < 0) {
        ml->bad = 1;
        return 0;
    }
    for (i = 0; i < ml->k->nmethods; i++)
        if (ml->k->methods[i] == m) {
            cfg_error(ml->diag, ml->e->line, "methods: \"%s\" listed twice", name);
            ml->bad = 1;
            return 0;
        }
    if (ml->k->nmethods == KEYS_MAX_METHODS) {
        cfg_error(ml->diag, ml->e->line, "methods: too many");
        ml->bad = 1;
        return 0;
    }
    ml->k->methods[ml->k->nmethods++] = m;
    return 0;
}

static int keys_add_wkd(const char *item, size_t len, void *arg)
{
    struct keys_mlist *ml = arg;

    if (len == 8 && strncasecmp(item, "advanced", 8) == 0)
        ml->k->wkd_advanced = 1;
    else if (len == 6 && strncasecmp(item, "direct", 6) == 0)
        ml->k->wkd_direct = 1;
    else if (!(len == 4 && strncasecmp(item, "none", 4) == 0)) {
        cfg_error(ml->diag, ml->e->line, "wkd: \"%.*s\" is not advanced, direct or none", (int)len,
                  item);
        ml->bad = 1;
    }
    return 0;
}

/* hkp://, hkps://, http://, https:// with a host; hkp(s) mapped to http(s)
 * with the customary ports. */
static char *keys_server_url(struct cfg_diag *diag, const struct cfg_entry *e, int hkp)
{
    const char *v = e->value, *rest;
    char buf[300];

    if (hkp && strncasecmp(v, "hkps://", 7) == 0) {
        rest = v + 7;
        snprintf(buf, sizeof(buf), "https://%s", rest);
    } else if (hkp && strncasecmp(v, "hkp://", 6) == 0) {
        rest = v + 6;
        if (strchr(rest, ':') == NULL) {
            size_t n = strcspn(rest, "/");

            snprintf(buf, sizeof(buf), "http://%.*s:11371%s", (int)n, rest, rest + n);
        } else
            snprintf(buf, sizeof(buf), "http://%s", rest);
    } else if (strncasecmp(v, "https://", 8) == 0) {
        rest = v + 8;
        snprintf(buf, sizeof(buf), "%s", v);
    } else if (strncasecmp(v, "http://", 7) == 0) {
        rest = v + 7;
        snprintf(buf, sizeof(buf), "%s", v);
    } else {
        cfg_error(diag, e->line, "%s: \"%s\" is not a %s URL", e->key, v,
                  hkp ? "hkp://, hkps://, http:// or https://" : "http:// or https://");
        return NULL;
    }
    if (*rest == 0 || *rest == '/' || strpbrk(rest, " \t?#") != NULL) {
        cfg_error(diag, e->line, "%s: \"%s\" has no host or contains a query", e->key, v);
        return NULL;
    }
    /* the lookup paths are appended: no trailing slash */
    while (strlen(buf) > 0 && buf[strlen(buf) - 1] == '/')
        buf[strlen(buf) - 1] = 0;
    return keys_dup(buf);
}

static int keys_readable(struct cfg_diag *diag, const struct cfg_entry *e)
{
    if (access(e->value, R_OK) != 0) {
        cfg_error(diag, e->line, "%s: %s: %s", e->key, e->value, strerror(errno));
        return -1;
    }
    return 0;
}

static char *keys_read_secret(struct cfg_diag *diag, const struct cfg_entry *e)
{
    char buf[256], why[400];
    FILE *fp;
    size_t n;

    if ((fp = fopen(e->value, "r")) == NULL) {
        cfg_error(diag, e->line, "%s: %s: %s", e->key, e->value, strerror(errno));
        return NULL;
    }
    if (secretfile_check_fd(fileno(fp), e->value, why, sizeof(why)) < 0) {
        cfg_error(diag, e->line, "%s: %s", e->key, why);
        fclose(fp);
        return NULL;
    }
    n = fread(buf, 1, sizeof(buf) - 1, fp);
    fclose(fp);
    buf[n] = 0;
    buf[strcspn(buf, "\r\n")] = 0;
    return keys_dup(buf);
}

static int keys_is_fpr(const char *s)
{
    size_t n = strlen(s), i;

    if (n != 40 && n != 64)
        return 0;
    for (i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

static int keys_valid_domain(const char *d)
{
    size_t i, n = strlen(d);

    if (n == 0 || n > 253 || d[0] == '.' || d[0] == '-')
        return 0;
    for (i = 0; i < n; i++)
        if (!isalnum((unsigned char)d[i]) && d[i] != '.' && d[i] != '-')
            return 0;
    return 1;
}

static int keys_add_ldap_domain(const char *item, size_t len, void *arg)
{
    struct keys_ldap *l = arg;
    size_t n = 0;

    while (l->domains != NULL && l->domains[n] != NULL)
        n++;
    if ((l->domains = realloc(l->domains, (n + 2) * sizeof(char *))) == NULL ||
        (l->domains[n] = strndup(item, len)) == NULL)
        abort();
    l->domains[n + 1] = NULL;
    return 0;
}

static void keys_main_entry(struct keys *k, struct cfg_diag *diag, const struct cfg_entry *e,
                            int *methods_seen, int *wkd_seen)
{
    static const char *const fail_names[] = {"defer", "ignore", NULL};
    struct keys_mlist ml = {k, diag, e, 0};
    char *url;
    int v;

    if (strcmp(e->key, "methods") == 0) {
        if (*methods_seen) {
            cfg_error(diag, e->line, "methods: given twice");
            return;
        }
        *methods_seen = 1;
        cfg_list(e->value, keys_add_method, &ml);
    } else if (strcmp(e->key, "cache_file") == 0) {
        free(k->cache_file);
        k->cache_file = e->value[0] ? keys_dup(e->value) : NULL;
    } else if (strcmp(e->key, "cache_size") == 0) {
        cfg_uint(diag, e, 1, 4096, &k->cache_mb);
    } else if (strcmp(e->key, "positive_ttl") == 0) {
        cfg_seconds(diag, e, 60, 30L * 86400, &k->positive_ttl);
    } else if (strcmp(e->key, "negative_ttl") == 0) {
        cfg_seconds(diag, e, 0, 7L * 86400, &k->negative_ttl);
    } else if (strcmp(e->key, "timeout") == 0) {
        cfg_seconds(diag, e, 1, 300, &k->timeout);
    } else if (strcmp(e->key, "connect_timeout") == 0) {
        cfg_seconds(diag, e, 1, 300, &k->connect_timeout);
    } else if (strcmp(e->key, "max_answer_size") == 0) {
        cfg_uint(diag, e, 1024, 1024 * 1024, &k->max_answer);
    } else if (strcmp(e->key, "ca_file") == 0) {
        if (keys_readable(diag, e) == 0) {
            free(k->ca_file);
            k->ca_file = keys_dup(e->value);
        }
    } else if (strcmp(e->key, "smime_ca_file") == 0) {
        if (keys_readable(diag, e) == 0) {
            free(k->smime_ca_file);
            k->smime_ca_file = keys_dup(e->value);
        }
    } else if (strcmp(e->key, "wkd") == 0) {
        if (*wkd_seen) {
            cfg_error(diag, e->line, "wkd: given twice");
            return;
        }
        *wkd_seen = 1;
        k->wkd_advanced = k->wkd_direct = 0;
        cfg_list(e->value, keys_add_wkd, &ml);
    } else if (strcmp(e->key, "hkp_server") == 0 || strcmp(e->key, "vks_server") == 0) {
        int hkp = e->key[0] == 'h';
        int *n = hkp ? &k->nhkp : &k->nvks;
        char **list = hkp ? k->hkp : k->vks;

        if (*n == KEYS_MAX_SERVERS) {
            cfg_error(diag, e->line, "%s: at most %d servers", e->key, KEYS_MAX_SERVERS);
            return;
        }
        if ((url = keys_server_url(diag, e, hkp)) != NULL)
            list[(*n)++] = url;
    } else if (strcmp(e->key, "connect_to") == 0) {
        struct curl_slist *s;

        if (strchr(e->value, ':') == NULL || strpbrk(e->value, " \t") != NULL) {
            cfg_error(diag, e->line, "connect_to: \"%s\" is not HOST:PORT:CONNECT-HOST:PORT",
                      e->value);
            return;
        }
        if ((s = curl_slist_append(k->connect_to, e->value)) == NULL)
            abort();
        k->connect_to = s;
    } else if (strcmp(e->key, "on_failure") == 0) {
        if (cfg_enum(diag, e, fail_names, &v) == 0)
            k->on_failure_ignore = v;
    } else if (strcmp(e->key, "gateway_localpart") == 0) {
        free(k->gateway_localpart);
        k->gateway_localpart = NULL;
        if (strpbrk(e->value, "@ \t<>\"") != NULL)
            cfg_error(diag, e->line, "gateway_localpart: \"%s\" is not a local part (no @)",
                      e->value);
        else if (e->value[0])
            k->gateway_localpart = keys_dup(e->value);
    } else {
        cfg_error(diag, e->line, "unknown key \"%s\" in [keys]", e->key);
    }
}

static void keys_ldap_entry(struct keys_ldap *l, struct cfg_diag *diag, const struct cfg_entry *e)
{
    char **slot = NULL;

    if (strcmp(e->key, "uri") == 0) {
        if (strncasecmp(e->value, "ldap://", 7) != 0 && strncasecmp(e->value, "ldaps://", 8) != 0) {
            cfg_error(diag, e->line, "uri: \"%s\" is not an ldap:// or ldaps:// URI", e->value);
            return;
        }
        slot = &l->uri;
    } else if (strcmp(e->key, "base") == 0) {
        slot = &l->base;
    } else if (strcmp(e->key, "bind_dn") == 0) {
        slot = &l->bind_dn;
    } else if (strcmp(e->key, "mail_attribute") == 0) {
        if (strspn(e->value, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") !=
                strlen(e->value) ||
            e->value[0] == 0) {
            cfg_error(diag, e->line, "mail_attribute: \"%s\" is not an attribute name", e->value);
            return;
        }
        slot = &l->attr;
    } else if (strcmp(e->key, "bind_password_file") == 0) {
        char *pw = keys_read_secret(diag, e);

        if (pw != NULL) {
            free(l->bind_password);
            l->bind_password = pw;
        }
        return;
    } else if (strcmp(e->key, "domains") == 0) {
        cfg_list(e->value, keys_add_ldap_domain, l);
        return;
    } else {
        cfg_error(diag, e->line, "unknown key \"%s\" in [keys ldap %s]", e->key, l->name);
        return;
    }
    free(*slot);
    *slot = keys_dup(e->value);
}

static void keys_domain_entry(struct keys_domain *d, struct cfg_diag *diag,
                              const struct cfg_entry *e)
{
    if (strcmp(e->key, "pgp_key") == 0) {
        if (!keys_is_fpr(e->value)) {
            cfg_error(diag, e->line, "pgp_key: \"%s\" is not a full fingerprint (40 hex digits)",
                      e->value);
            return;
        }
        free(d->pgp_key);
        d->pgp_key = keys_dup(e->value);
    } else if (strcmp(e->key, "gateway_address") == 0) {
        char l[128], dom[256];

        if (keys_addr_split(e->value, l, sizeof(l), dom, sizeof(dom)) < 0) {
            cfg_error(diag, e->line, "gateway_address: \"%s\" is not a mail address", e->value);
            return;
        }
        free(d->gateway_address);
        d->gateway_address = keys_dup(e->value);
    } else if (strcmp(e->key, "smime_cert") == 0) {
        if (keys_readable(diag, e) < 0)
            return;
        free(d->smime_cert);
        d->smime_cert = keys_dup(e->value);
    } else {
        cfg_error(diag, e->line, "unknown key \"%s\" in [keys domain %s]", e->key, d->domain);
    }
}

struct keys *keys_cfg_new(const struct cfg *cfg, struct cfg_diag *diag)
{
    struct keys *k;
    int methods_seen = 0, wkd_seen = 0, first_line = 0;
    int errors0 = diag->errors;
    size_t i;
    int j;

    if ((k = calloc(1, sizeof(*k))) == NULL)
        abort();
    k->cache_file = keys_dup("/var/lib/postseal/keys.mdb");
    k->cache_mb = 64;
    k->positive_ttl = 86400;
    k->negative_ttl = 3600;
    k->timeout = 10;
    k->connect_timeout = 5;
    k->max_answer = 256 * 1024;
    k->wkd_advanced = k->wkd_direct = 1;

    for (i = 0; i < cfg->count; i++) {
        const struct cfg_entry *e = &cfg->entries[i];
        const char *sec = e->section;

        /* The local key store is the filter's ([filter] gnupg_home, smime_certs,
         * smime_ca): discovered keys are imported where the encryption step
         * looks.  Empty values are the filter's to report. */
        if (strcmp(sec, "filter") == 0 && e->value[0]) {
            keystore_conf_entry(&k->ksconf, e, diag);
            continue;
        }
        if (!cfg_section_is(sec, "keys"))
            continue;
        if (strcmp(sec, "keys") == 0) {
            if (!first_line)
                first_line = e->line;
            keys_main_entry(k, diag, e, &methods_seen, &wkd_seen);
        } else if (strncmp(sec, "keys ldap ", 10) == 0 && sec[10] != 0) {
            for (j = 0; j < k->nldap; j++)
                if (strcmp(k->ldap[j].name, sec + 10) == 0)
                    break;
            if (j == k->nldap) {
                if ((k->ldap = realloc(k->ldap, (k->nldap + 1) * sizeof(*k->ldap))) == NULL)
                    abort();
                memset(&k->ldap[j], 0, sizeof(k->ldap[j]));
                k->ldap[j].name = keys_dup(sec + 10);
                k->nldap++;
            }
            keys_ldap_entry(&k->ldap[j], diag, e);
        } else if (strncmp(sec, "keys domain ", 12) == 0 && keys_valid_domain(sec + 12)) {
            for (j = 0; j < k->ndomains; j++)
                if (strcasecmp(k->domains[j].domain, sec + 12) == 0)
                    break;
            if (j == k->ndomains) {
                if ((k->domains = realloc(k->domains, (k->ndomains + 1) * sizeof(*k->domains))) ==
                    NULL)
                    abort();
                memset(&k->domains[j], 0, sizeof(k->domains[j]));
                k->domains[j].domain = keys_dup(sec + 12);
                k->ndomains++;
            }
            keys_domain_entry(&k->domains[j], diag, e);
        } else {
            cfg_error(diag, e->line,
                      "unknown section [%s] (expected [keys], [keys ldap NAME] or "
                      "[keys domain DOMAIN])",
                      sec);
        }
    }
    k->gnupg_home = k->ksconf.gnupg_home;
    for (j = 0; j < k->nmethods; j++) {
        if (k->methods[j] != KM_LDAP && k->gnupg_home == NULL)
            cfg_error(diag, first_line,
                      "methods: %s needs [filter] gnupg_home (found keys are imported there)",
                      keys_method_names[k->methods[j]]);
        if (k->methods[j] == KM_HKP && k->nhkp == 0)
            cfg_error(diag, first_line, "methods: hkp needs at least one hkp_server");
        if (k->methods[j] == KM_VKS && k->nvks == 0)
            cfg_error(diag, first_line, "methods: vks needs at least one vks_server");
        if (k->methods[j] == KM_LDAP && k->nldap == 0)
            cfg_error(diag, first_line, "methods: ldap needs a [keys ldap NAME] section");
        if (k->methods[j] == KM_LDAP && k->smime_ca_file == NULL)
            cfg_error(diag, first_line,
                      "methods: ldap needs smime_ca_file (trust anchors for certificates)");
        if (k->methods[j] == KM_WKD && !k->wkd_advanced && !k->wkd_direct)
            cfg_error(diag, first_line, "methods: wkd listed but wkd = none");
    }
    if (k->connect_timeout > k->timeout)
        k->connect_timeout = k->timeout;
    for (j = 0; j < k->nldap; j++) {
        if (k->ldap[j].uri == NULL || k->ldap[j].base == NULL)
            cfg_error(diag, first_line, "[keys ldap %s]: uri and base are required",
                      k->ldap[j].name);
        if (k->ldap[j].bind_dn != NULL && k->ldap[j].bind_password == NULL)
            cfg_error(diag, first_line, "[keys ldap %s]: bind_dn needs bind_password_file",
                      k->ldap[j].name);
        if (k->ldap[j].attr == NULL)
            k->ldap[j].attr = keys_dup("mail");
    }
    for (j = 0; j < k->ndomains; j++) {
        if (k->domains[j].smime_cert != NULL && k->smime_ca_file == NULL)
            cfg_error(diag, first_line, "[keys domain %s]: smime_cert needs smime_ca_file",
                      k->domains[j].domain);
    }
    if (diag->errors > errors0) {
        keys_cfg_free(k);
        return NULL;
    }
    return k;
}

void keys_cfg_free(struct keys *k)
{
    int i;
    char **d;

    if (k == NULL)
        return;
    keystore_conf_free(&k->ksconf);
    free(k->cache_file);
    free(k->ca_file);
    free(k->smime_ca_file);
    for (i = 0; i < k->nhkp; i++)
        free(k->hkp[i]);
    for (i = 0; i < k->nvks; i++)
        free(k->vks[i]);
    curl_slist_free_all(k->connect_to);
    free(k->gateway_localpart);
    for (i = 0; i < k->nldap; i++) {
        free(k->ldap[i].name);
        free(k->ldap[i].uri);
        free(k->ldap[i].base);
        free(k->ldap[i].bind_dn);
        if (k->ldap[i].bind_password != NULL)
            explicit_bzero(k->ldap[i].bind_password, strlen(k->ldap[i].bind_password));
        free(k->ldap[i].bind_password);
        free(k->ldap[i].attr);
        for (d = k->ldap[i].domains; d != NULL && *d != NULL; d++)
            free(*d);
        free(k->ldap[i].domains);
    }
    free(k->ldap);
    for (i = 0; i < k->ndomains; i++) {
        free(k->domains[i].domain);
        free(k->domains[i].pgp_key);
        free(k->domains[i].gateway_address);
        free(k->domains[i].smime_cert);
    }
    free(k->domains);
    free(k);
}
