/*
 * cfg: loads an ini file with inih and keeps every entry with its section and
 * line number, so each program's validator can report "FILE:LINE: ..." for
 * anything it does not accept.
 *
 * Contract: cfg_load() returns the entries in file order (repeated keys kept,
 * the caller decides whether they append or conflict) or NULL after reporting
 * every syntax error.  Limits: a line longer than CFG_MAX_LINE bytes is an error
 * (inih would silently split it); inline comments start at " ;" or " #".
 * Values are trimmed by inih.  Nothing here knows what a key means.
 */
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cfg.h"
#include "log.h"

struct cfg_reader {
    FILE *fp;
    int line;
    struct cfg_diag *diag;
};

struct cfg_build {
    struct cfg *cfg;
    struct cfg_reader *rd;
    size_t alloc;
    int nomem;
};

void cfg_error(struct cfg_diag *diag, int line, const char *fmt, ...)
{
    char text[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (line > 0)
        log_warnx("%s:%d: %s", diag->path, line, text);
    else
        log_warnx("%s: %s", diag->path, text);
    diag->errors++;
}

/* inih reader: one line per call, counting lines; an over-long line is
 * reported and replaced by an empty line so inih never splits it. */
static char *cfg_read_line(char *str, int num, void *stream)
{
    struct cfg_reader *rd = stream;
    int ch;
    int len = 0;
    int too_long = 0;

    if (feof(rd->fp))
        return NULL;
    while ((ch = getc(rd->fp)) != EOF) {
        if (ch == '\n')
            break;
        if (len < num - 2 && len < CFG_MAX_LINE)
            str[len++] = (char)ch;
        else
            too_long = 1;
    }
    if (ch == EOF && len == 0 && !too_long)
        return NULL;
    rd->line++;
    if (too_long) {
        cfg_error(rd->diag, rd->line,
                  "line longer than %d bytes (split long lists over repeated keys "
                  "or use a file)",
                  CFG_MAX_LINE);
        len = 0;
    }
    str[len++] = '\n';
    str[len] = 0;
    return str;
}

static int cfg_store(void *user, const char *section, const char *key, const char *value)
{
    struct cfg_build *b = user;
    struct cfg *cfg = b->cfg;
    struct cfg_entry *e;

    if (cfg->count == b->alloc) {
        size_t n = b->alloc ? b->alloc * 2 : 64;
        struct cfg_entry *v = realloc(cfg->entries, n * sizeof(*v));

        if (v == NULL) {
            b->nomem = 1;
            return 0;
        }
        cfg->entries = v;
        b->alloc = n;
    }
    e = &cfg->entries[cfg->count];
    e->section = strdup(section);
    e->key = strdup(key);
    e->value = strdup(value);
    e->line = b->rd->line;
    if (e->section == NULL || e->key == NULL || e->value == NULL) {
        free((char *)e->section);
        free((char *)e->key);
        free((char *)e->value);
        b->nomem = 1;
        return 0;
    }
    cfg->count++;
    return 1;
}

struct cfg *cfg_load(const char *path, struct cfg_diag *diag)
{
    struct cfg_reader rd = {0};
    struct cfg_build b = {0};
    int rc;

    diag->path = path;
    rd.diag = diag;
    if ((rd.fp = fopen(path, "r")) == NULL) {
        cfg_error(diag, 0, "cannot open: %s", strerror(errno));
        return NULL;
    }
    if ((b.cfg = calloc(1, sizeof(*b.cfg))) == NULL || (b.cfg->path = strdup(path)) == NULL) {
        fclose(rd.fp);
        cfg_free(b.cfg);
        cfg_error(diag, 0, "out of memory");
        return NULL;
    }
    b.rd = &rd;
    rc = ini_parse_stream(cfg_read_line, &rd, cfg_store, &b);
    if (ferror(rd.fp))
        cfg_error(diag, 0, "read error: %s", strerror(errno));
    fclose(rd.fp);
    if (b.nomem)
        cfg_error(diag, rd.line, "out of memory");
    else if (rc > 0)
        cfg_error(diag, rc, "syntax error (expected [section] or key = value)");
    if (diag->errors) {
        cfg_free(b.cfg);
        return NULL;
    }
    return b.cfg;
}

void cfg_free(struct cfg *cfg)
{
    size_t i;

    if (cfg == NULL)
        return;
    for (i = 0; i < cfg->count; i++) {
        free((char *)cfg->entries[i].section);
        free((char *)cfg->entries[i].key);
        free((char *)cfg->entries[i].value);
    }
    free(cfg->entries);
    free(cfg->path);
    free(cfg);
}

int cfg_uint(struct cfg_diag *diag, const struct cfg_entry *e, long min, long max, long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(e->value, &end, 10);
    if (e->value[0] < '0' || e->value[0] > '9' || *end != 0 || errno == ERANGE) {
        cfg_error(diag, e->line, "%s: \"%s\" is not a number", e->key, e->value);
        return -1;
    }
    if (v < min || v > max) {
        cfg_error(diag, e->line, "%s: %ld is out of range (%ld..%ld)", e->key, v, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

int cfg_seconds(struct cfg_diag *diag, const struct cfg_entry *e, long min, long max, long *out)
{
    char *end;
    long v;
    long unit = 1;

    errno = 0;
    v = strtol(e->value, &end, 10);
    if (e->value[0] < '0' || e->value[0] > '9' || errno == ERANGE)
        goto bad;
    if (*end != 0) {
        if (end[1] != 0)
            goto bad;
        switch (*end) {
        case 's':
            unit = 1;
            break;
        case 'm':
            unit = 60;
            break;
        case 'h':
            unit = 3600;
            break;
        case 'd':
            unit = 86400;
            break;
        default:
            goto bad;
        }
    }
    if (v > LONG_MAX / unit || v * unit < min || v * unit > max) {
        cfg_error(diag, e->line, "%s: %s is out of range (%lds..%lds)", e->key, e->value, min, max);
        return -1;
    }
    *out = v * unit;
    return 0;
bad:
    cfg_error(diag, e->line, "%s: \"%s\" is not a time (NUMBER[s|m|h|d])", e->key, e->value);
    return -1;
}

int cfg_bool(struct cfg_diag *diag, const struct cfg_entry *e, int *out)
{
    static const char *const yes[] = {"yes", "true", "on", "1"};
    static const char *const no[] = {"no", "false", "off", "0"};
    size_t i;

    for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcasecmp(e->value, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcasecmp(e->value, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    cfg_error(diag, e->line, "%s: \"%s\" is not yes or no", e->key, e->value);
    return -1;
}

int cfg_enum(struct cfg_diag *diag, const struct cfg_entry *e, const char *const *names, int *out)
{
    char allowed[512] = "";
    int i;

    for (i = 0; names[i] != NULL; i++) {
        if (strcasecmp(e->value, names[i]) == 0) {
            *out = i;
            return 0;
        }
        if (strlen(allowed) + strlen(names[i]) + 3 < sizeof(allowed)) {
            if (i > 0)
                strcat(allowed, ", ");
            strcat(allowed, names[i]);
        }
    }
    cfg_error(diag, e->line, "%s: \"%s\" is not one of: %s", e->key, e->value, allowed);
    return -1;
}

/* The first words of section names, one per part of postseal. */
static const char *const cfg_owners[] = {
    "global",    /* shared: user, syslog, ... */
    "policy",    /* postseal-policyd */
    "tlspolicy", /* postseal-tlspolicyd */
    "sendmail",  /* imported Sendmail access maps */
    "filter",    /* postseal-filter, outbound */
    "keys",      /* key discovery and cache */
    "inbound",   /* postseal-filter, inbound */
    "publish",   /* postseal-keys: publishing our own keys */
    NULL,
};

int cfg_section_is(const char *section, const char *owner)
{
    size_t n = strlen(owner);

    return strncmp(section, owner, n) == 0 && (section[n] == 0 || section[n] == ' ');
}

void cfg_check_owners(const struct cfg *cfg, struct cfg_diag *diag)
{
    const char *last = NULL;
    size_t i;
    int j;

    for (i = 0; i < cfg->count; i++) {
        const struct cfg_entry *e = &cfg->entries[i];

        if (last != NULL && strcmp(last, e->section) == 0)
            continue;
        last = e->section;
        for (j = 0; cfg_owners[j] != NULL; j++)
            if (cfg_section_is(e->section, cfg_owners[j]))
                break;
        if (cfg_owners[j] == NULL)
            cfg_error(diag, e->line,
                      "unknown section [%s] (sections start with global, policy, "
                      "tlspolicy, sendmail, filter, keys, inbound or publish)",
                      e->section);
    }
}

int cfg_list(const char *value, int (*fn)(const char *item, size_t len, void *arg), void *arg)
{
    const char *p = value;
    int rc;

    for (;;) {
        size_t len;

        p += strspn(p, ", \t");
        if (*p == 0)
            return 0;
        len = strcspn(p, ", \t");
        if ((rc = fn(p, len, arg)) != 0)
            return rc;
        p += len;
    }
}
