/*
 * rules: the one rule engine of postseal.  Scopes ("[policy]", "[policy client
 * 10.0.0.0/8]", or rules imported from elsewhere) carry requirements; a
 * request's facts select the matching scopes and the requirements in force.
 *
 * Layering: each setting is taken from the most specific matching scope that
 * sets it (enum rules_kind gives the order of kinds; inside a kind the more
 * specific pattern wins, then the earlier one); a scope with "inherit = no"
 * stops the walk, so settings it does not make fall back to the built-in
 * defaults (nothing required) instead of less specific scopes and [policy].
 * The pin lists ccert_fingerprint and ccert_pubkey_fingerprint are one setting
 * (a client passes when either its certificate or its public key fingerprint is
 * pinned), so a scope that pins one kind replaces both.
 *
 * This file builds the rules (rules_decide.c decides).
 *
 * Every setting keeps its FILE:LINE so a refusal can name the rule that made
 * it.  Configuration errors are returned as text; deciding never fails and
 * allocates nothing.  Limits: a fingerprint file is read once per load; lines
 * longer than 1023 bytes in it are an error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rules_impl.h"

const char *const rules_keys[RK_COUNT] = {
    "require_tls",
    "encryption_keysize",
    "tls_protocol",
    "cipher_deny",
    "cipher_allow",
    "ccert_fingerprint",
    "ccert_pubkey_fingerprint",
    "require_verified_cert",
    "ccert_subject",
    "ccert_issuer",
    "outcome",
    "temporary_reply",
    "permanent_reply",
    "disconnect_reply",
    "pass_action",
    "inherit",
    "message_style",
};

const char *const rules_kinds[RULES_KIND_COUNT] = {
    "sasl_user",   "recipient", "recipient_domain", "sender", "sender_domain",
    "client_name", "client",    "sasl_method",      "",
};

const char *const rules_outcomes[] = {"temporary", "permanent", "disconnect", "hold", NULL};

/* ---- small helpers ---------------------------------------------------- */

static const char *rules_intern(struct rules *r, const char *file)
{
    size_t i;
    char **v;

    if (file == NULL)
        return NULL;
    for (i = 0; i < r->nfiles; i++)
        if (strcmp(r->files[i], file) == 0)
            return r->files[i];
    if ((v = realloc(r->files, (r->nfiles + 1) * sizeof(*v))) == NULL)
        return NULL;
    r->files = v;
    if ((v[r->nfiles] = strdup(file)) == NULL)
        return NULL;
    return v[r->nfiles++];
}

static int rules_list_add(struct rules_list *l, const char *s, size_t len)
{
    char *copy;

    if (l->n == l->alloc) {
        size_t na = l->alloc ? l->alloc * 2 : 4;
        char **v = realloc(l->item, na * sizeof(*v));

        if (v == NULL)
            return -1;
        l->item = v;
        l->alloc = na;
    }
    if ((copy = strndup(s, len)) == NULL)
        return -1;
    l->item[l->n++] = copy;
    return 0;
}

static void rules_list_free(struct rules_list *l)
{
    size_t i;

    for (i = 0; i < l->n; i++)
        free(l->item[i]);
    free(l->item);
}

int rules_cmpstr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int rules_protocol_rank(const char *p)
{
    if (p == NULL || *p == 0)
        return -1;
    if (strcasecmp(p, "SSLv2") == 0)
        return 2;
    if (strcasecmp(p, "SSLv3") == 0)
        return 3;
    if (strcasecmp(p, "TLSv1") == 0)
        return 10;
    if (strncasecmp(p, "TLSv1.", 6) == 0 && p[6] >= '0' && p[6] <= '9' && p[7] == 0)
        return 10 + (p[6] - '0');
    return -1;
}

int rules_kind_parse(const char *name)
{
    int i;

    for (i = 0; i < RULES_GLOBAL; i++)
        if (strcmp(name, rules_kinds[i]) == 0)
            return i;
    return -1;
}

const char *rules_kind_name(enum rules_kind kind)
{
    return (kind >= 0 && kind < RULES_KIND_COUNT) ? rules_kinds[kind] : "?";
}

/* ---- construction ----------------------------------------------------- */

static struct rules_scope *rules_scope_new(enum rules_kind kind, const char *pattern)
{
    struct rules_scope *s = calloc(1, sizeof(*s));
    size_t n;

    if (s == NULL)
        return NULL;
    s->kind = kind;
    s->inherit = 1;
    s->pattern = strdup(pattern);
    n = strlen(pattern) + 32;
    s->label = malloc(n);
    if (s->pattern == NULL || s->label == NULL) {
        free(s->pattern);
        free(s->label);
        free(s);
        return NULL;
    }
    if (kind == RULES_GLOBAL)
        snprintf(s->label, n, "[policy]");
    else
        snprintf(s->label, n, "[policy %s %s]", rules_kinds[kind], pattern);
    return s;
}

static void rules_scope_free(struct rules_scope *s)
{
    int k;

    if (s == NULL)
        return;
    for (k = 0; k < RK_COUNT; k++) {
        rules_list_free(&s->list[k]);
        free(s->text[k]);
    }
    free(s->protocol_name);
    free(s->pattern);
    free(s->label);
    free(s);
}

struct rules *rules_new(void)
{
    struct rules *r = calloc(1, sizeof(*r));

    if (r == NULL)
        return NULL;
    if ((r->global = rules_scope_new(RULES_GLOBAL, "")) == NULL) {
        free(r);
        return NULL;
    }
    return r;
}

void rules_free(struct rules *r)
{
    size_t i;

    if (r == NULL)
        return;
    rules_index_free(r);
    free(r->dedup);
    for (i = 0; i < r->n; i++)
        rules_scope_free(r->scope[i]);
    free(r->scope);
    rules_scope_free(r->global);
    for (i = 0; i < r->nfiles; i++)
        free(r->files[i]);
    free(r->files);
    free(r);
}

size_t rules_count(const struct rules *r)
{
    return r->n + 1;
}

/* Patterns that name the same scope: equal ignoring case, and for domain
 * kinds ".example.com" is "*.example.com" (documented synonyms). */
static int rules_same_pattern(int kind, const char *a, const char *b)
{
    int dom =
        kind == RULES_CLIENT_NAME || kind == RULES_SENDER_DOMAIN || kind == RULES_RECIPIENT_DOMAIN;
    int sa = dom && (a[0] == '.' || (a[0] == '*' && a[1] == '.'));
    int sb = dom && (b[0] == '.' || (b[0] == '*' && b[1] == '.'));

    if (sa != sb)
        return 0;
    if (sa) {
        a += a[0] == '*' ? 2 : 1;
        b += b[0] == '*' ? 2 : 1;
    }
    return strcasecmp(a, b) == 0;
}

/* Hash of what rules_same_pattern compares: kind, network, or the pattern in
 * lower case with the ".x" / "*.x" spellings folded. */
static size_t rules_scope_hash(int kind, const char *pattern, const struct match_cidr *cidr)
{
    size_t h = 14695981039346656037UL ^ (size_t)kind;
    const unsigned char *p;
    size_t n;

    if (kind == RULES_CLIENT) {
        p = (const unsigned char *)cidr;
        n = sizeof(*cidr);
    } else {
        if ((kind == RULES_CLIENT_NAME || kind == RULES_SENDER_DOMAIN ||
             kind == RULES_RECIPIENT_DOMAIN) &&
            (pattern[0] == '.' || (pattern[0] == '*' && pattern[1] == '.'))) {
            h = (h ^ '.') * 1099511628211UL;
            pattern += pattern[0] == '*' ? 2 : 1;
        }
        p = (const unsigned char *)pattern;
        n = strlen(pattern);
    }
    while (n-- > 0) {
        unsigned char c = *p++;

        if (kind != RULES_CLIENT && c >= 'A' && c <= 'Z')
            c = (unsigned char)(c - 'A' + 'a');
        h = (h ^ c) * 1099511628211UL;
    }
    return h;
}

static void rules_dedup_put(struct rules *r, struct rules_scope *s)
{
    size_t i = rules_scope_hash(s->kind, s->pattern, &s->cidr) & r->dmask;

    while (r->dedup[i] != NULL)
        i = (i + 1) & r->dmask;
    r->dedup[i] = s;
}

/* Doubles the dedup table (at least 64 slots) and re-inserts every scope. */
static int rules_dedup_grow(struct rules *r)
{
    size_t size = r->dedup ? 2 * (r->dmask + 1) : 64;
    struct rules_scope **v = calloc(size, sizeof(*v));
    size_t i;

    if (v == NULL)
        return -1;
    free(r->dedup);
    r->dedup = v;
    r->dmask = size - 1;
    for (i = 0; i < r->n; i++)
        rules_dedup_put(r, r->scope[i]);
    return 0;
}

struct rules_scope *rules_scope(struct rules *r, enum rules_kind kind, const char *pattern,
                                const struct rules_src *src, char *err, size_t errlen)
{
    struct rules_scope *s;
    struct match_cidr cidr;
    int spec = 0;
    size_t i;
    size_t h;

    memset(&cidr, 0, sizeof(cidr));
    if (kind == RULES_GLOBAL)
        return r->global;
    if (kind < 0 || kind > RULES_GLOBAL) {
        snprintf(err, errlen, "unknown scope kind");
        return NULL;
    }
    if (pattern == NULL || *pattern == 0) {
        snprintf(err, errlen, "scope %s needs a pattern", rules_kinds[kind]);
        return NULL;
    }
    switch (kind) {
    case RULES_CLIENT:
        if (match_cidr_parse(pattern, &cidr, err, errlen) < 0)
            return NULL;
        spec = cidr.bits;
        break;
    case RULES_CLIENT_NAME:
    case RULES_SENDER_DOMAIN:
    case RULES_RECIPIENT_DOMAIN:
        if (match_domain_check(pattern, err, errlen) < 0)
            return NULL;
        spec = match_domain_rank(pattern);
        break;
    case RULES_SENDER:
    case RULES_RECIPIENT:
        if (match_address_check(pattern, err, errlen) < 0)
            return NULL;
        /* full address > @domain > user@ */
        spec = pattern[0] == '@' ? 1 : (pattern[strlen(pattern) - 1] == '@' ? 0 : 2);
        break;
    default: /* globs */
        spec = strpbrk(pattern, "*?[") ? 0 : 1;
        break;
    }
    h = rules_scope_hash(kind, pattern, &cidr);
    for (i = h & r->dmask; r->dedup != NULL && (s = r->dedup[i]) != NULL; i = (i + 1) & r->dmask)
        if (s->kind == kind &&
            (kind == RULES_CLIENT ? memcmp(&s->cidr, &cidr, sizeof(cidr)) == 0
                                  : rules_same_pattern(kind, s->pattern, pattern)))
            return s;
    if ((r->n + 1) * 2 > (r->dedup ? r->dmask + 1 : 0) && rules_dedup_grow(r) < 0)
        goto nomem;
    if (r->n == r->alloc) {
        size_t na = r->alloc ? r->alloc * 2 : 16;
        struct rules_scope **v = realloc(r->scope, na * sizeof(*v));

        if (v == NULL)
            goto nomem;
        r->scope = v;
        r->alloc = na;
    }
    if ((s = rules_scope_new(kind, pattern)) == NULL)
        goto nomem;
    if (kind == RULES_CLIENT)
        s->cidr = cidr;
    s->spec = spec;
    s->order = (int)r->n;
    (void)src;
    r->scope[r->n++] = s;
    rules_dedup_put(r, s);
    r->finished = 0;
    rules_index_free(r); /* stale until the next rules_finish */
    return s;
nomem:
    snprintf(err, errlen, "out of memory");
    return NULL;
}

int rules_scope_label(struct rules_scope *s, const char *label)
{
    char *copy = strdup(label);

    if (copy == NULL)
        return -1;
    free(s->label);
    s->label = copy;
    return 0;
}

static int rules_yesno(const char *v, int *out)
{
    if (!strcasecmp(v, "yes") || !strcasecmp(v, "true") || !strcasecmp(v, "on") || !strcmp(v, "1"))
        *out = 1;
    else if (!strcasecmp(v, "no") || !strcasecmp(v, "false") || !strcasecmp(v, "off") ||
             !strcmp(v, "0"))
        *out = 0;
    else
        return -1;
    return 0;
}

/* "450 4.7.1": a 3-digit code whose class matches the enhanced code. */
static int rules_reply_ok(const char *v, char cls, int disconnect)
{
    if (strlen(v) < 9 || v[0] != cls || v[1] < '0' || v[1] > '9' || v[2] < '0' || v[2] > '9' ||
        v[3] != ' ' || v[4] != cls || v[5] != '.')
        return 0;
    if (disconnect && strncmp(v + 1, "21", 2) != 0)
        return 0;
    for (v += 6; *v && *v != ' '; v++)
        if (!((*v >= '0' && *v <= '9') || *v == '.'))
            return 0;
    return *v == 0;
}

struct rules_additem {
    struct rules_list *list;
    int fp; /* normalise fingerprints */
    char *err;
    size_t errlen;
};

static int rules_additem(const char *item, size_t len, void *arg)
{
    struct rules_additem *a = arg;
    char tmp[256];
    char fp[MATCH_FP_MAX];

    if (len >= sizeof(tmp)) {
        snprintf(a->err, a->errlen, "item \"%.40s...\" is too long", item);
        return -1;
    }
    memcpy(tmp, item, len);
    tmp[len] = 0;
    if (a->fp) {
        int n = match_fp_normalize(tmp, fp, sizeof(fp));

        if (n < 0) {
            snprintf(a->err, a->errlen,
                     "\"%s\" is not a fingerprint (hex bytes, e.g. AB:CD:..., MD5 to SHA-512)",
                     tmp);
            return -1;
        }
        return rules_list_add(a->list, fp, (size_t)n) < 0 ? -1 : 0;
    }
    return rules_list_add(a->list, tmp, len) < 0 ? -1 : 0;
}

static int rules_split(const char *v, int (*fn)(const char *, size_t, void *), void *arg)
{
    const char *p = v;

    for (;;) {
        size_t len;
        int rc;

        p += strspn(p, ", \t");
        if (*p == 0)
            return 0;
        len = strcspn(p, ", \t");
        if ((rc = fn(p, len, arg)) != 0)
            return rc;
        p += len;
    }
}

/* Reads a pin file like Postfix's relay_clientcerts: the first word of each
 * line is a fingerprint, the rest of the line a comment; '#' comments. */
static int rules_read_pins(struct rules_list *l, const char *path, const char *base, char *err,
                           size_t errlen)
{
    char full[4096];
    char line[1024];
    FILE *fp;
    int lineno = 0;

    if (path[0] != '/' && base != NULL && strrchr(base, '/') != NULL) {
        int dirlen = (int)(strrchr(base, '/') - base);

        snprintf(full, sizeof(full), "%.*s/%s", dirlen, base, path);
    } else {
        snprintf(full, sizeof(full), "%s", path);
    }
    if ((fp = fopen(full, "r")) == NULL) {
        snprintf(err, errlen, "cannot open %s: %s", full, strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof(line), fp) != NULL) {
        char *p = line;
        char fpbuf[MATCH_FP_MAX];
        size_t len;
        int n;

        lineno++;
        if (strchr(line, '\n') == NULL && !feof(fp)) {
            snprintf(err, errlen, "%s:%d: line longer than %zu bytes", full, lineno,
                     sizeof(line) - 2);
            fclose(fp);
            return -1;
        }
        p += strspn(p, " \t");
        if (*p == '#' || *p == '\n' || *p == '\r' || *p == 0)
            continue;
        len = strcspn(p, " \t\r\n");
        p[len] = 0;
        if ((n = match_fp_normalize(p, fpbuf, sizeof(fpbuf))) < 0) {
            snprintf(err, errlen, "%s:%d: \"%.100s\" is not a fingerprint", full, lineno, p);
            fclose(fp);
            return -1;
        }
        if (rules_list_add(l, fpbuf, (size_t)n) < 0) {
            snprintf(err, errlen, "out of memory");
            fclose(fp);
            return -1;
        }
    }
    if (ferror(fp)) {
        snprintf(err, errlen, "read error on %s", full);
        fclose(fp);
        return -1;
    }
    fclose(fp);
    return 0;
}

int rules_set(struct rules *r, struct rules_scope *s, const char *key, const char *value,
              const struct rules_src *src, char *err, size_t errlen)
{
    int k;
    int file = 0;
    int b;
    struct rules_src where = {NULL, 0};

    if (src != NULL) {
        where.file = rules_intern(r, src->file);
        where.line = src->line;
    }
    if (strcmp(key, "ccert_fingerprint_file") == 0) {
        k = RK_FP;
        file = 1;
    } else if (strcmp(key, "ccert_pubkey_fingerprint_file") == 0) {
        k = RK_PKFP;
        file = 1;
    } else {
        for (k = 0; k < RK_COUNT; k++)
            if (strcmp(key, rules_keys[k]) == 0)
                break;
        if (k == RK_COUNT)
            return -2;
    }
    r->finished = 0;
    switch (k) {
    case RK_CIPHER_DENY:
    case RK_CIPHER_ALLOW:
    case RK_FP:
    case RK_PKFP:
    case RK_SUBJECT:
    case RK_ISSUER: {
        struct rules_additem a = {&s->list[k], k == RK_FP || k == RK_PKFP, err, errlen};

        if (!(s->set & (1u << k)))
            s->src[k] = where;
        s->set |= 1u << k;
        if (strcasecmp(value, "none") == 0 && !file)
            return 0; /* set, but empty: clears what less specific scopes say */
        if (file)
            return rules_read_pins(&s->list[k], value, src ? src->file : NULL, err, errlen);
        if (*value == 0) {
            snprintf(err, errlen, "%s: empty value (write \"none\" for an empty list)", key);
            return -1;
        }
        if (k == RK_SUBJECT || k == RK_ISSUER) /* CNs contain spaces: one per line */
            return rules_additem(value, strlen(value), &a) ? -1 : 0;
        return rules_split(value, rules_additem, &a) ? -1 : 0;
    }
    default:
        break;
    }
    if (s->set & (1u << k)) {
        snprintf(err, errlen, "%s: already set in %s at line %d", key, s->label, s->src[k].line);
        return -1;
    }
    switch (k) {
    case RK_MSG_STYLE:
        if (strcasecmp(value, "postseal") != 0 && strcasecmp(value, "sendmail") != 0) {
            snprintf(err, errlen, "%s: \"%s\" is not postseal or sendmail", key, value);
            return -1;
        }
        s->sendmail_style = strcasecmp(value, "sendmail") == 0;
        break;
    case RK_REQUIRE_TLS:
    case RK_VERIFIED:
    case RK_INHERIT:
        if (rules_yesno(value, &b) < 0) {
            snprintf(err, errlen, "%s: \"%s\" is not yes or no", key, value);
            return -1;
        }
        if (k == RK_REQUIRE_TLS)
            s->require_tls = b;
        else if (k == RK_VERIFIED)
            s->verified = b;
        else
            s->inherit = b;
        break;
    case RK_KEYSIZE: {
        char *end;
        long v;

        errno = 0;
        v = strtol(value, &end, 10);
        if (value[0] < '0' || value[0] > '9' || *end != 0 || errno || v > 4096) {
            snprintf(err, errlen, "%s: \"%s\" is not a number of bits (0..4096)", key, value);
            return -1;
        }
        s->keysize = v;
        break;
    }
    case RK_TLS_PROTOCOL:
        if (strcasecmp(value, "none") == 0) {
            s->protocol = 0;
        } else if ((s->protocol = rules_protocol_rank(value)) < 0) {
            snprintf(err, errlen,
                     "%s: \"%s\" is not a protocol (TLSv1, TLSv1.1, TLSv1.2, TLSv1.3 or none)", key,
                     value);
            return -1;
        }
        if ((s->protocol_name = strdup(value)) == NULL)
            goto nomem;
        break;
    case RK_OUTCOME:
        for (b = 0; rules_outcomes[b] != NULL; b++)
            if (strcasecmp(value, rules_outcomes[b]) == 0)
                break;
        if (rules_outcomes[b] == NULL) {
            snprintf(err, errlen,
                     "%s: \"%s\" is not one of: temporary, permanent, disconnect, hold", key,
                     value);
            return -1;
        }
        s->outcome = b;
        break;
    case RK_TEMP_REPLY:
    case RK_PERM_REPLY:
    case RK_DISC_REPLY:
        if (!rules_reply_ok(value, k == RK_PERM_REPLY ? '5' : '4', 0) ||
            (k == RK_DISC_REPLY && !rules_reply_ok(value, '4', 1))) {
            snprintf(err, errlen, "%s: \"%s\" is not a reply like \"%s\"", key, value,
                     k == RK_TEMP_REPLY   ? "450 4.7.1"
                     : k == RK_PERM_REPLY ? "550 5.7.1"
                                          : "421 4.7.0");
            return -1;
        }
        if ((s->text[k] = strdup(value)) == NULL)
            goto nomem;
        break;
    case RK_PASS_ACTION: {
        const char *p;

        for (p = value; *p; p++)
            if ((unsigned char)*p < ' ' || *p == 0x7f)
                break;
        if (*value == 0 || *p != 0 || strlen(value) > 200) {
            snprintf(err, errlen, "%s: needs a one-line Postfix action such as DUNNO", key);
            return -1;
        }
        if ((s->text[k] = strdup(value)) == NULL)
            goto nomem;
        break;
    }
    }
    s->set |= 1u << k;
    s->src[k] = where;
    return 0;
nomem:
    snprintf(err, errlen, "out of memory");
    return -1;
}

static int rules_cmpscope(const void *a, const void *b)
{
    const struct rules_scope *x = *(struct rules_scope *const *)a;
    const struct rules_scope *y = *(struct rules_scope *const *)b;

    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    if (x->spec != y->spec)
        return x->spec > y->spec ? -1 : 1;
    return x->order < y->order ? -1 : (x->order > y->order);
}

static void rules_sort_lists(struct rules_scope *s)
{
    int k;

    for (k = RK_FP; k <= RK_PKFP; k++)
        if (s->list[k].n > 1)
            qsort(s->list[k].item, s->list[k].n, sizeof(char *), rules_cmpstr);
}

void rules_finish(struct rules *r)
{
    size_t i;

    if (r->n > 1)
        qsort(r->scope, r->n, sizeof(*r->scope), rules_cmpscope);
    for (i = 0; i < r->n; i++) {
        r->scope[i]->rank = i;
        rules_sort_lists(r->scope[i]);
    }
    rules_sort_lists(r->global);
    rules_index_build(r);
    r->finished = 1;
}
