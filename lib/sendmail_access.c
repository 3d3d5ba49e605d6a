/*
 * sendmail_access: reads the STARTTLS rules of a Sendmail access map in its text
 * form (the input of "makemap hash access < access") so operators migrating from
 * Sendmail keep their TLS_Clt:, TLS_Srv: and TLS_Rcpt: entries.
 *
 * Grammar (Sendmail 8.17 cf.README, proto.m4 TLS_req):
 *     KEY <whitespace> VALUE            one entry a line, "#" starts a comment line
 *     VALUE := [TEMP+|PERM+] REQ [+EXT [++EXT]...]
 *     REQ   := VERIFY | VERIFY:bits | ENCR:bits   (anything else: no requirement)
 *     EXT   := CN | CN:name | CS:dn | CI:dn | CITag:tag
 * Keys are case-insensitive (makemap folds them).  Lines of other tags (Connect:,
 * From:, a CITag's "MyCA:/C=.." entries ...) are counted and ignored.
 *
 * Contract: sma_load() reports every problem as FILE:LINE through cfg_error and
 * returns NULL if there was any; a line longer than SMA_MAX_LINE, a bad number of
 * bits, an unknown extension, a duplicate key are errors.  What Postfix cannot
 * reproduce is never silently weakened: CS:/CI:/CITag: compare full certificate
 * DNs but Postfix exposes the CN only (and to the SMTP client side, nothing but
 * names and fingerprints).  Such lines are errors, or with unsupported_warn
 * warnings for entries that are then never matched.  TLS_Rcpt:user@domain and
 * TLS_Rcpt:user@ are per recipient: postseal-policyd enforces them on receipt
 * (tls_rcpt = inbound or both, see sendmail_rcpt.c), but Postfix's
 * smtp_tls_policy_maps decides per next hop, so sma_conf_load() reports them
 * the same way for postseal-tlspolicyd when it alone is asked to apply
 * TLS_Rcpt: (tls_rcpt = outbound, the default).  A name check
 * (CN, CN:name) without VERIFY is enforced on verified certificates only, because
 * Postfix checks (smtp) or shows (smtpd) names of verified certificates only: that
 * is stricter than Sendmail and logged as a note.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "rules.h"
#include "sendmail_access.h"

static const char *const sma_tags[] = {"TLS_Clt:", "TLS_Srv:", "TLS_Rcpt:"};

const char *sma_tag_name(int tag)
{
    return sma_tags[tag];
}

static void sma_entry_free(struct sma_entry *e)
{
    free(e->key);
    free(e->value);
    free(e->cn_name);
}

void sma_free(struct sma_map *map)
{
    size_t i;

    if (map == NULL)
        return;
    for (i = 0; i < map->count; i++)
        sma_entry_free(&map->entries[i]);
    free(map->entries);
    free(map->path);
    free(map);
}

/* "112" -> 112; anything else (empty, junk, 0, too big) is -1. */
static int sma_bits(const char *s, size_t len)
{
    int v = 0;
    size_t i;

    if (len == 0 || len > 5)
        return -1;
    for (i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v >= 1 && v <= SMA_MAX_BITS ? v : -1;
}

static int sma_prefix(const char *s, size_t len, const char *word)
{
    size_t n = strlen(word);

    return len >= n && strncasecmp(s, word, n) == 0;
}

/* Parses the requirement REQ (s, len).  Returns 0, or -1 after reporting. */
static int sma_parse_req(struct cfg_diag *diag, int line, struct sma_entry *e, const char *s,
                         size_t len)
{
    if (len == 6 && strncasecmp(s, "VERIFY", 6) == 0) {
        e->req = SMA_REQ_VERIFY;
        return 0;
    }
    if (sma_prefix(s, len, "VERIFY:") || sma_prefix(s, len, "ENCR:")) {
        size_t n = s[0] == 'V' || s[0] == 'v' ? 7 : 5;

        e->req = n == 7 ? SMA_REQ_VERIFY : SMA_REQ_ENCR;
        if ((e->bits = sma_bits(s + n, len - n)) < 0) {
            cfg_error(diag, line, "%.*s: bits must be a number from 1 to %d", (int)len, s,
                      SMA_MAX_BITS);
            return -1;
        }
        return 0;
    }
    if (sma_prefix(s, len, "ENCR")) {
        cfg_error(diag, line, "%.*s: ENCR needs a number of bits (ENCR:bits)", (int)len, s);
        return -1;
    }
    e->req = SMA_REQ_NONE; /* OK, RELAY, ...: Sendmail accepts */
    return 0;
}

/* Parses one extension.  Returns 0, or -1 after reporting an error. */
static int sma_parse_ext(struct cfg_diag *diag, int line, struct sma_entry *e, const char *s,
                         size_t len)
{
    if (len == 2 && strncasecmp(s, "CN", 2) == 0) {
        e->cn = 1;
        return 0;
    }
    if (sma_prefix(s, len, "CN:")) {
        if (len == 3) {
            cfg_error(diag, line, "CN: needs a name (or write CN alone for the peer's host name)");
            return -1;
        }
        free(e->cn_name);
        if ((e->cn_name = strndup(s + 3, len - 3)) == NULL) {
            cfg_error(diag, line, "out of memory");
            return -1;
        }
        return 0;
    }
    if (sma_prefix(s, len, "CS:")) {
        e->unsupported = "CS: compares the certificate's full subject DN, but Postfix gives "
                         "postseal the subject CN only: use CN:name or a fingerprint rule instead";
        return 0;
    }
    if (sma_prefix(s, len, "CI:")) {
        e->unsupported = "CI: compares the certificate's full issuer DN, but Postfix gives "
                         "postseal the issuer CN only: use a dedicated CA file or a fingerprint "
                         "rule instead";
        return 0;
    }
    if (sma_prefix(s, len, "CITag:")) {
        e->unsupported = "CITag: looks up the certificate's full issuer DN, but Postfix gives "
                         "postseal the issuer CN only: use a dedicated CA file or a fingerprint "
                         "rule instead";
        return 0;
    }
    cfg_error(diag, line, "unknown extension \"%.*s\" (expected CN, CN:name, CS:, CI: or CITag:)",
              (int)len, s);
    return -1;
}

/* Parses the right-hand side of a TLS entry into e. */
static int sma_parse_value(struct cfg_diag *diag, int line, struct sma_entry *e, const char *v)
{
    const char *p = v;
    const char *end;
    size_t len;

    if (sma_prefix(p, strlen(p), "TEMP+")) {
        e->code = SMA_CODE_TEMP;
        p += 5;
    } else if (sma_prefix(p, strlen(p), "PERM+")) {
        e->code = SMA_CODE_PERM;
        p += 5;
    }
    len = strcspn(p, "+");
    if (len == 0) {
        cfg_error(diag, line, "\"%s\": missing requirement (VERIFY, VERIFY:bits or ENCR:bits)", v);
        return -1;
    }
    if (sma_parse_req(diag, line, e, p, len) < 0)
        return -1;
    if (e->code != SMA_CODE_DEFAULT && e->req == SMA_REQ_NONE) {
        cfg_error(diag, line, "\"%s\": TEMP+/PERM+ needs VERIFY, VERIFY:bits or ENCR:bits", v);
        return -1;
    }
    p += len;
    if (*p == 0)
        return 0;
    if (e->req == SMA_REQ_NONE) {
        cfg_error(diag, line, "\"%s\": extensions need VERIFY, VERIFY:bits or ENCR:bits", v);
        return -1;
    }
    p++; /* the first extension follows one "+", the others "++" */
    for (;;) {
        end = strstr(p, "++");
        len = end ? (size_t)(end - p) : strlen(p);
        if (len == 0) {
            cfg_error(diag, line, "\"%s\": empty extension", v);
            return -1;
        }
        if (sma_parse_ext(diag, line, e, p, len) < 0)
            return -1;
        if (end == NULL)
            return 0;
        p = end + 2;
    }
}

/* Splits "TLS_Srv:key" into tag and key; -1 for other lines. */
static int sma_tag_of(const char *key, const char **rest)
{
    int t;

    for (t = 0; t < 3; t++) {
        size_t n = strlen(sma_tags[t]);

        if (strncasecmp(key, sma_tags[t], n) == 0) {
            *rest = key + n;
            return t;
        }
    }
    return -1;
}

static int sma_add(struct sma_map *map, size_t *alloc, struct sma_entry *e)
{
    if (map->count == *alloc) {
        size_t n = *alloc ? *alloc * 2 : 16;
        struct sma_entry *v = realloc(map->entries, n * sizeof(*v));

        if (v == NULL)
            return -1;
        map->entries = v;
        *alloc = n;
    }
    map->entries[map->count++] = *e;
    return 0;
}

static const struct sma_entry *sma_lookup(const struct sma_map *map, int tag, const char *key)
{
    size_t i;

    for (i = 0; i < map->count; i++)
        if (map->entries[i].tag == tag && strcmp(map->entries[i].key, key) == 0)
            return &map->entries[i];
    return NULL;
}

/* One line (without its newline). */
static void sma_line(struct sma_map *map, size_t *alloc, struct cfg_diag *diag, int line, char *s,
                     int unsupported_warn)
{
    struct sma_entry e = {0};
    const struct sma_entry *dup;
    const char *rest;
    char *key;
    char *val;
    char *p;
    size_t n;

    n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = 0;
    key = s + strspn(s, " \t");
    if (*key == 0 || *key == '#')
        return;
    if (key != s) {
        cfg_error(diag, line, "entry starts with white space (makemap would read an empty key)");
        return;
    }
    p = key + strcspn(key, " \t");
    val = p + strspn(p, " \t");
    *p = 0;
    if ((e.tag = sma_tag_of(key, &rest)) < 0) {
        map->other_lines++;
        return;
    }
    if (*val == 0) {
        cfg_error(diag, line, "%s: no value (expected e.g. VERIFY, ENCR:128 or PERM+VERIFY:128)",
                  key);
        return;
    }
    e.line = line;
    if ((e.key = strdup(rest)) == NULL || (e.value = strdup(val)) == NULL) {
        cfg_error(diag, line, "out of memory");
        sma_entry_free(&e);
        return;
    }
    for (p = e.key; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    if (sma_parse_value(diag, line, &e, val) < 0) {
        sma_entry_free(&e);
        return;
    }
    if (e.req == SMA_REQ_ENCR && (e.cn || e.cn_name) && !e.unsupported)
        log_info("%s:%d: note: %s%s %s: Postfix checks certificate names on verified "
                 "certificates only, so this entry also requires verification (stricter than "
                 "Sendmail)",
                 diag->path, line, sma_tags[e.tag], e.key, e.value);
    if ((dup = sma_lookup(map, e.tag, e.key)) != NULL) {
        cfg_error(diag, line, "duplicate key %s%s (first at line %d)", sma_tags[e.tag], e.key,
                  dup->line);
        sma_entry_free(&e);
        return;
    }
    if (e.unsupported) {
        if (unsupported_warn)
            log_warnx("%s:%d: %s%s %s: not enforced: %s", diag->path, line, sma_tags[e.tag], e.key,
                      e.value, e.unsupported);
        else
            cfg_error(diag, line, "%s%s %s: unsupported: %s", sma_tags[e.tag], e.key, e.value,
                      e.unsupported);
    }
    if (sma_add(map, alloc, &e) < 0) {
        cfg_error(diag, line, "out of memory");
        sma_entry_free(&e);
    }
}

/* sma_load, but the map is returned with the errors counted in diag (NULL only
 * when the file cannot be read), so callers can add their own checks. */
static struct sma_map *sma_read(const char *path, struct cfg_diag *diag, int unsupported_warn)
{
    struct sma_map *map;
    char buf[SMA_MAX_LINE + 2];
    size_t alloc = 0;
    int line = 0;
    FILE *fp;

    diag->path = path;
    if ((fp = fopen(path, "r")) == NULL) {
        cfg_error(diag, 0, "cannot open: %s", strerror(errno));
        return NULL;
    }
    if ((map = calloc(1, sizeof(*map))) == NULL || (map->path = strdup(path)) == NULL) {
        cfg_error(diag, 0, "out of memory");
        fclose(fp);
        sma_free(map);
        return NULL;
    }
    while (fgets(buf, sizeof(buf), fp) != NULL) {
        size_t n = strlen(buf);

        line++;
        if (n > 0 && buf[n - 1] == '\n') {
            buf[n - 1] = 0;
        } else if (!feof(fp)) {
            int ch;

            cfg_error(diag, line, "line longer than %d bytes", SMA_MAX_LINE);
            while ((ch = getc(fp)) != EOF && ch != '\n')
                ;
            continue;
        }
        if (memchr(buf, 0, n > 0 ? n - 1 : 0) != NULL) {
            cfg_error(diag, line, "NUL byte in line");
            continue;
        }
        sma_line(map, &alloc, diag, line, buf, unsupported_warn);
    }
    if (ferror(fp))
        cfg_error(diag, 0, "read error: %s", strerror(errno));
    fclose(fp);
    return map;
}

struct sma_map *sma_load(const char *path, struct cfg_diag *diag, int unsupported_warn)
{
    int errors = diag->errors;
    struct sma_map *map = sma_read(path, diag, unsupported_warn);

    if (map != NULL && diag->errors > errors) {
        sma_free(map);
        return NULL;
    }
    return map;
}

static const struct sma_entry *sma_usable(const struct sma_map *map, int tag, const char *key)
{
    const struct sma_entry *e = sma_lookup(map, tag, key);

    return e != NULL && e->unsupported == NULL ? e : NULL;
}

const struct sma_entry *sma_find(const struct sma_map *map, int tag, const char *host,
                                 const char *addr)
{
    const struct sma_entry *e;
    char key[SMA_MAX_LINE + 1];
    const char *p;
    char *q;

    if (host != NULL && *host != 0 && strlen(host) < sizeof(key)) {
        for (q = strcpy(key, host); *q; q++)
            *q = (char)tolower((unsigned char)*q);
        if (key[strlen(key) - 1] == '.')
            key[strlen(key) - 1] = 0;
        for (p = key; p != NULL && *p; p = strchr(p, '.') ? strchr(p, '.') + 1 : NULL)
            if ((e = sma_usable(map, tag, p)) != NULL)
                return e;
    }
    if (addr != NULL && *addr != 0 && strlen(addr) < sizeof(key)) {
        for (q = strcpy(key, addr); *q; q++)
            *q = (char)tolower((unsigned char)*q);
        for (;;) {
            if ((e = sma_usable(map, tag, key)) != NULL)
                return e;
            if (strchr(key, ':') != NULL || (q = strrchr(key, '.')) == NULL)
                break; /* IPv6: the full address only */
            *q = 0;
        }
    }
    return sma_usable(map, tag, "");
}

const char *sma_reply_code(const struct sma_entry *e, int tls_perm_err)
{
    switch (e->code) {
    case SMA_CODE_TEMP:
        return "450 4.7.0";
    case SMA_CODE_PERM:
        return "550 5.7.0";
    }
    return tls_perm_err ? "554 5.7.0" : "454 4.7.0";
}

/* Per-recipient entries and the daemon that loads the file: postseal-tlspolicyd
 * cannot apply them; say so once per line, as an unsupported entry when
 * TLS_Rcpt: is outbound only, as a warning when postseal-policyd enforces them
 * on receipt too (tls_rcpt = both).  Returns the number of errors. */
static int sma_rcpt_role(struct sma_map *map, int role, int tls_rcpt, int unsupported_warn,
                         struct cfg_diag *diag)
{
    int errors = diag->errors;
    size_t i;

    diag->path = map->path;
    for (i = 0; i < map->count; i++) {
        struct sma_entry *e = &map->entries[i];

        if (e->tag != SMA_TAG_RCPT || strchr(e->key, '@') == NULL || e->unsupported != NULL ||
            role != SMA_FOR_TLSPOLICYD || !(tls_rcpt & SMA_RCPT_OUTBOUND))
            continue;
        if (tls_rcpt & SMA_RCPT_INBOUND) {
            log_warnx("%s:%d: TLS_Rcpt:%s %s: enforced on receipt only, by postseal-policyd: "
                      "smtp_tls_policy_maps decides per next-hop destination, not per recipient",
                      map->path, e->line, e->key, e->value);
            continue;
        }
        e->unsupported = "TLS_Rcpt:user@ is a per-recipient requirement, but Postfix's "
                         "smtp_tls_policy_maps decides per next-hop destination: use "
                         "TLS_Rcpt:domain, or [sendmail] tls_rcpt = inbound (or both) to have "
                         "postseal-policyd enforce it on receipt";
        if (unsupported_warn)
            log_warnx("%s:%d: TLS_Rcpt:%s %s: not enforced: %s", map->path, e->line, e->key,
                      e->value, e->unsupported);
        else
            cfg_error(diag, e->line, "TLS_Rcpt:%s %s: unsupported: %s", e->key, e->value,
                      e->unsupported);
    }
    return diag->errors - errors;
}

int sma_conf_load(const struct cfg *cfg, struct cfg_diag *diag, int role, struct sma_conf *out)
{
    static const char *const modes[] = {"error", "warn", NULL};
    static const char *const rcpt_modes[] = {"outbound", "inbound", "both", NULL};
    const struct cfg_entry *file = NULL;
    struct cfg_diag sub = {0};
    int errors = diag->errors;
    size_t i;

    memset(out, 0, sizeof(*out));
    out->tls_rcpt = SMA_RCPT_OUTBOUND;
    for (i = 0; i < cfg->count; i++) {
        const struct cfg_entry *e = &cfg->entries[i];

        if (!cfg_section_is(e->section, "sendmail"))
            continue;
        if (strcmp(e->section, "sendmail") != 0) {
            cfg_error(diag, e->line, "[%s]: the sendmail section takes no name", e->section);
        } else if (strcmp(e->key, "access_file") == 0) {
            if (file != NULL)
                cfg_error(diag, e->line, "access_file: given twice (first at line %d)", file->line);
            else if (e->value[0] != 0 && e->value[0] != '/')
                cfg_error(diag, e->line, "access_file: \"%s\" is not an absolute path", e->value);
            file = e;
        } else if (strcmp(e->key, "unsupported") == 0) {
            cfg_enum(diag, e, modes, &out->unsupported_warn);
        } else if (strcmp(e->key, "tls_perm_err") == 0) {
            cfg_bool(diag, e, &out->tls_perm_err);
        } else if (strcmp(e->key, "tls_rcpt") == 0) {
            int m;

            if (cfg_enum(diag, e, rcpt_modes, &m) == 0)
                out->tls_rcpt = m + 1; /* SMA_RCPT_OUTBOUND, _INBOUND, both bits */
        } else {
            cfg_error(diag, e->line,
                      "[sendmail]: unknown key \"%s\" (access_file, unsupported, tls_perm_err, "
                      "tls_rcpt)",
                      e->key);
        }
    }
    if (diag->errors > errors || file == NULL || file->value[0] == 0)
        return diag->errors > errors ? -1 : 0;
    out->map = sma_read(file->value, &sub, out->unsupported_warn);
    if (out->map != NULL &&
        (sma_rcpt_role(out->map, role, out->tls_rcpt, out->unsupported_warn, &sub) > 0 ||
         sub.errors > 0)) {
        sma_free(out->map);
        out->map = NULL;
    }
    diag->errors += sub.errors;
    return out->map == NULL ? -1 : 0;
}

void sma_conf_free(struct sma_conf *conf)
{
    sma_free(conf->map);
    conf->map = NULL;
}

/* The scopes a TLS_Clt: key stands for, in Sendmail's lookup order: a host name
 * and the names below it; an IPv4 address or prefix ("192.0.2" is 192.0.2.0/24);
 * an IPv6 address; the bare tag: every client. */
static int sma_scopes(const char *key, int kinds[2], char pats[2][SMA_MAX_LINE + 8])
{
    int dots = 0;
    const char *p;

    if (*key == 0) {
        kinds[0] = kinds[1] = RULES_CLIENT;
        strcpy(pats[0], "0.0.0.0/0");
        strcpy(pats[1], "::/0");
        return 2;
    }
    if (strncmp(key, "ipv6:", 5) == 0) {
        kinds[0] = RULES_CLIENT;
        snprintf(pats[0], SMA_MAX_LINE + 8, "%s", key + 5);
        return 1;
    }
    for (p = key; *p && (isdigit((unsigned char)*p) || *p == '.'); p++)
        dots += *p == '.';
    if (*p == 0 && dots <= 3 && key[0] != '.' && p[-1] != '.') {
        kinds[0] = RULES_CLIENT;
        snprintf(pats[0], SMA_MAX_LINE + 8, "%s%s/%d", key,
                 dots == 0   ? ".0.0.0"
                 : dots == 1 ? ".0.0"
                 : dots == 2 ? ".0"
                             : "",
                 8 * (dots + 1));
        return 1;
    }
    kinds[0] = kinds[1] = RULES_CLIENT_NAME;
    snprintf(pats[0], SMA_MAX_LINE + 8, "%s", key);
    snprintf(pats[1], SMA_MAX_LINE + 8, ".%s", key);
    return 2;
}

int sma_settings(const struct sma_conf *conf, const struct sma_entry *e, const char *set[6][2],
                 char bits[16])
{
    int nset = 0;

    set[nset][0] = "message_style";
    set[nset++][1] = "sendmail";
    if (e->req == SMA_REQ_VERIFY) {
        set[nset][0] = "require_verified_cert";
        set[nset++][1] = "yes";
    }
    if (e->bits > 0) {
        snprintf(bits, 16, "%d", e->bits);
        set[nset][0] = "encryption_keysize";
        set[nset++][1] = bits;
    }
    if (e->cn_name || e->cn) {
        set[nset][0] = "ccert_subject";
        set[nset++][1] = e->cn_name ? e->cn_name : RULES_CLIENT_NAME_TOKEN;
    }
    if (e->req != SMA_REQ_NONE) {
        int perm = e->code == SMA_CODE_PERM || (e->code == SMA_CODE_DEFAULT && conf->tls_perm_err);

        set[nset][0] = "outcome";
        set[nset++][1] = perm ? "permanent" : "temporary";
        set[nset][0] = perm ? "permanent_reply" : "temporary_reply";
        set[nset++][1] = sma_reply_code(e, conf->tls_perm_err);
    }
    return nset;
}

int sma_to_rules(const struct sma_conf *conf, struct rules *r, struct cfg_diag *diag)
{
    const struct sma_map *m = conf->map;
    int errors = diag->errors;
    size_t i;

    if (m == NULL)
        return 0;
    diag->path = m->path;
    for (i = 0; i < m->count; i++) {
        const struct sma_entry *e = &m->entries[i];
        struct rules_src src = {m->path, e->line};
        const char *set[7][2];
        char bits[16];
        char pats[2][SMA_MAX_LINE + 8];
        int kinds[2];
        int nset;
        int ns, j, k;

        if (e->tag != SMA_TAG_CLT || e->unsupported != NULL)
            continue;
        nset = sma_settings(conf, e, set, bits);
        if (*e->key != 0) { /* the first match decides alone, as in Sendmail */
            set[nset][0] = "inherit";
            set[nset++][1] = "no";
        }
        ns = sma_scopes(e->key, kinds, pats);
        for (j = 0; j < ns; j++) {
            char err[600];
            struct rules_scope *sc = rules_scope(r, kinds[j], pats[j], &src, err, sizeof(err));

            if (sc == NULL) {
                cfg_error(diag, e->line, "TLS_Clt:%s: %s", e->key, err);
                break;
            }
            for (k = 0; k < nset; k++)
                if (rules_set(r, sc, set[k][0], set[k][1], &src, err, sizeof(err)) < 0) {
                    cfg_error(diag, e->line, "TLS_Clt:%s: %s", e->key, err);
                    break;
                }
        }
    }
    return diag->errors > errors ? -1 : 0;
}
