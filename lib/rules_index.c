/*
 * rules_index: finds the scopes that match a request without looking at every
 * scope, for rule sets with many scopes (imported Sendmail maps).
 *
 * Client networks are hashed by (prefix length, masked address) and probed
 * once per prefix length in use; exact names by name, subdomain patterns
 * (".example.com", "*.example.com") by suffix and probed once per parent
 * domain of the request's name.  Everything else (globs, address patterns,
 * "*") stays in a short list checked one by one.  The matches are returned
 * in precedence order, so deciding is the same walk as without the index
 * (tests compare both on random rule sets).  Built by rules_finish() when
 * there are at least rules_index_min scopes; lookups never allocate.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "rules_impl.h"

size_t rules_index_min = 32;

#define RX_KEY_MAX 300

struct rules_index {
    const struct rules_scope **slot; /* open addressing, NULL: empty */
    uint32_t *hash;
    size_t mask;
    const struct rules_scope **rest; /* not indexed: checked one by one */
    size_t nrest;
    unsigned char v4bits[33]; /* prefix lengths in use */
    unsigned char v6bits[129];
};

static uint32_t rx_hash(const unsigned char *k, size_t n)
{
    uint32_t h = 2166136261u;
    size_t i;

    for (i = 0; i < n; i++)
        h = (h ^ k[i]) * 16777619u;
    return h;
}

/* Key of a network: kind, family, bits, masked address. */
static size_t rx_key_net(unsigned char *k, int family, int bits, const unsigned char *addr)
{
    size_t alen = family == AF_INET ? 4 : 16;
    size_t i;

    k[0] = RULES_CLIENT;
    k[1] = (unsigned char)family;
    k[2] = (unsigned char)bits;
    for (i = 0; i < alen; i++) {
        int keep = bits - (int)i * 8;

        k[3 + i] = keep >= 8   ? addr[i]
                   : keep <= 0 ? 0
                               : (unsigned char)(addr[i] & (0xff << (8 - keep)));
    }
    return 3 + alen;
}

/* Key of a name: kind, '=' (exact) or '.' (below), the name in lower case. */
static size_t rx_key_name(unsigned char *k, int kind, char how, const char *name, size_t len)
{
    size_t i;

    if (len > RX_KEY_MAX - 2)
        len = RX_KEY_MAX - 2; /* longer names cannot be in the index anyway */
    k[0] = (unsigned char)kind;
    k[1] = (unsigned char)how;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];

        k[2 + i] = (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
    }
    return 2 + len;
}

/* The index key of a scope, or 0 when it is not indexed. */
static size_t rx_scope_key(const struct rules_scope *s, unsigned char *k)
{
    const char *p = s->pattern;

    switch (s->kind) {
    case RULES_CLIENT:
        return rx_key_net(k, s->cidr.net.family, s->cidr.bits, s->cidr.net.a);
    case RULES_CLIENT_NAME:
    case RULES_SENDER_DOMAIN:
    case RULES_RECIPIENT_DOMAIN:
        if (strcmp(p, "*") == 0 || strlen(p) > RX_KEY_MAX - 4)
            return 0;
        if (strncmp(p, "*.", 2) == 0)
            return rx_key_name(k, s->kind, '.', p + 2, strlen(p + 2));
        if (p[0] == '.')
            return rx_key_name(k, s->kind, '.', p + 1, strlen(p + 1));
        return rx_key_name(k, s->kind, '=', p, strlen(p));
    default:
        return 0;
    }
}

static const struct rules_scope *rx_find(const struct rules_index *x, const unsigned char *k,
                                         size_t n)
{
    uint32_t h = rx_hash(k, n);
    size_t i;

    for (i = h & x->mask;; i = (i + 1) & x->mask) {
        const struct rules_scope *s = x->slot[i];
        unsigned char sk[RX_KEY_MAX];

        if (s == NULL)
            return NULL;
        if (x->hash[i] == h && rx_scope_key(s, sk) == n && memcmp(sk, k, n) == 0)
            return s;
    }
}

void rules_index_free(struct rules *r)
{
    if (r->index == NULL)
        return;
    free(r->index->slot);
    free(r->index->hash);
    free(r->index->rest);
    free(r->index);
    r->index = NULL;
}

void rules_index_build(struct rules *r)
{
    struct rules_index *x;
    size_t size = 64;
    size_t i;

    rules_index_free(r);
    if (r->n < rules_index_min)
        return;
    while (size < 2 * r->n)
        size *= 2;
    if ((x = calloc(1, sizeof(*x))) == NULL || (x->slot = calloc(size, sizeof(*x->slot))) == NULL ||
        (x->hash = calloc(size, sizeof(*x->hash))) == NULL ||
        (x->rest = calloc(r->n, sizeof(*x->rest))) == NULL) {
        if (x != NULL) {
            free(x->slot);
            free(x->hash);
            free(x);
        }
        return; /* no index: the linear walk still decides correctly */
    }
    x->mask = size - 1;
    for (i = 0; i < r->n; i++) {
        const struct rules_scope *s = r->scope[i];
        unsigned char k[RX_KEY_MAX];
        size_t n = rx_scope_key(s, k);
        uint32_t h;
        size_t j;

        if (n == 0) {
            x->rest[x->nrest++] = s;
            continue;
        }
        if (s->kind == RULES_CLIENT) {
            if (s->cidr.net.family == AF_INET)
                x->v4bits[s->cidr.bits] = 1;
            else
                x->v6bits[s->cidr.bits] = 1;
        }
        h = rx_hash(k, n);
        for (j = h & x->mask; x->slot[j] != NULL; j = (j + 1) & x->mask)
            ;
        x->slot[j] = s;
        x->hash[j] = h;
    }
    r->index = x;
}

static int rx_add(const struct rules_scope **out, size_t max, size_t *n,
                  const struct rules_scope *s)
{
    if (s == NULL)
        return 0;
    if (*n == max)
        return -1;
    out[(*n)++] = s;
    return 0;
}

/* Exact name and every parent-domain pattern of name, for one kind. */
static int rx_names(const struct rules_index *x, int kind, const char *name,
                    const struct rules_scope **out, size_t max, size_t *n)
{
    unsigned char k[RX_KEY_MAX];
    size_t len;
    size_t i;

    if (name == NULL || *name == 0)
        return 0;
    len = strlen(name);
    if (name[len - 1] == '.')
        len--;
    if (len == 0 || len > RX_KEY_MAX - 4)
        return len == 0 ? 0 : -1; /* too long for the index: let the caller walk */
    if (rx_add(out, max, n, rx_find(x, k, rx_key_name(k, kind, '=', name, len))) < 0)
        return -1;
    /* "a.b.c": below "b.c", below "c"; a dot at the very start is no
     * parent-domain boundary (match_domain wants a label before it) */
    for (i = 2; i < len; i++)
        if (name[i - 1] == '.' &&
            rx_add(out, max, n, rx_find(x, k, rx_key_name(k, kind, '.', name + i, len - i))) < 0)
            return -1;
    return 0;
}

static int rx_cmp(const void *a, const void *b)
{
    const struct rules_scope *x = *(const struct rules_scope *const *)a;
    const struct rules_scope *y = *(const struct rules_scope *const *)b;

    return x->rank < y->rank ? -1 : x->rank > y->rank;
}

long rules_index_match(const struct rules *r, const struct rules_facts *f,
                       const struct match_ip *ip, int have_ip, const struct rules_scope **out,
                       size_t max)
{
    const struct rules_index *x = r->index;
    size_t n = 0;
    size_t i;

    if (x == NULL)
        return -1;
    if (have_ip) {
        const unsigned char *bits = ip->family == AF_INET ? x->v4bits : x->v6bits;
        int maxbits = ip->family == AF_INET ? 32 : 128;
        int b;

        for (b = 0; b <= maxbits; b++) {
            unsigned char k[RX_KEY_MAX];

            if (bits[b] &&
                rx_add(out, max, &n, rx_find(x, k, rx_key_net(k, ip->family, b, ip->a))) < 0)
                return -1;
        }
    }
    if ((f->client_name != NULL && strcasecmp(f->client_name, "unknown") != 0 &&
         rx_names(x, RULES_CLIENT_NAME, f->client_name, out, max, &n) < 0) ||
        rx_names(x, RULES_SENDER_DOMAIN, match_addr_domain(f->sender), out, max, &n) < 0 ||
        rx_names(x, RULES_RECIPIENT_DOMAIN, match_addr_domain(f->recipient), out, max, &n) < 0)
        return -1;
    for (i = 0; i < x->nrest; i++)
        if (rules_matches(x->rest[i], f, ip, have_ip) && rx_add(out, max, &n, x->rest[i]) < 0)
            return -1;
    qsort(out, n, sizeof(*out), rx_cmp);
    return (long)n;
}
