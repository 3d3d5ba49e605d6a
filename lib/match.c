/*
 * match: the small matching primitives every postseal rule uses: IP networks
 * (IPv4 and IPv6 CIDR), domain patterns, address patterns, shell globs and
 * certificate fingerprints.
 *
 * Contract: parsers validate once at configuration time and report what is
 * wrong in err; matchers are pure functions on already validated patterns,
 * allocate nothing and never fail (a NULL or empty subject never matches).
 */
#include <arpa/inet.h>
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "match.h"

int match_ip_parse(const char *s, struct match_ip *ip)
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

    memset(ip, 0, sizeof(*ip));
    if (s == NULL)
        return -1;
    if (inet_pton(AF_INET, s, ip->a) == 1) {
        ip->family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, s, ip->a) == 1) {
        ip->family = AF_INET6;
        if (memcmp(ip->a, mapped, 12) == 0) {
            memmove(ip->a, ip->a + 12, 4);
            memset(ip->a + 4, 0, 12);
            ip->family = AF_INET;
        }
        return 0;
    }
    return -1;
}

int match_cidr_parse(const char *s, struct match_cidr *c, char *err, size_t errlen)
{
    char addr[INET6_ADDRSTRLEN + 1];
    const char *slash = strchr(s, '/');
    size_t alen = slash ? (size_t)(slash - s) : strlen(s);
    int maxbits;
    int i;

    if (alen == 0 || alen >= sizeof(addr)) {
        snprintf(err, errlen, "\"%s\" is not an IP network (NET/BITS)", s);
        return -1;
    }
    memcpy(addr, s, alen);
    addr[alen] = 0;
    memset(c, 0, sizeof(*c));
    if (inet_pton(AF_INET, addr, c->net.a) == 1)
        c->net.family = AF_INET;
    else if (inet_pton(AF_INET6, addr, c->net.a) == 1)
        c->net.family = AF_INET6;
    else {
        snprintf(err, errlen, "\"%s\" is not an IPv4 or IPv6 address", addr);
        return -1;
    }
    maxbits = c->net.family == AF_INET ? 32 : 128;
    c->bits = maxbits;
    if (slash) {
        const char *b = slash + 1;
        int v = 0;

        if (*b == 0 || strlen(b) > 3)
            goto badbits;
        for (; *b; b++) {
            if (*b < '0' || *b > '9')
                goto badbits;
            v = v * 10 + (*b - '0');
        }
        if (v > maxbits)
            goto badbits;
        c->bits = v;
    }
    for (i = c->bits; i < maxbits; i++) {
        if (c->net.a[i / 8] & (0x80 >> (i % 8))) {
            snprintf(err, errlen, "\"%s\": address has bits set beyond the /%d prefix", s, c->bits);
            return -1;
        }
    }
    return 0;
badbits:
    snprintf(err, errlen, "\"%s\": prefix length must be 0..%d", s, maxbits);
    return -1;
}

int match_cidr_contains(const struct match_cidr *c, const struct match_ip *ip)
{
    int full = c->bits / 8;
    int rest = c->bits % 8;

    if (ip->family != c->net.family)
        return 0;
    if (memcmp(c->net.a, ip->a, (size_t)full) != 0)
        return 0;
    if (rest) {
        unsigned char mask = (unsigned char)(0xff << (8 - rest));

        if ((c->net.a[full] & mask) != (ip->a[full] & mask))
            return 0;
    }
    return 1;
}

static int match_domain_syntax(const char *d)
{
    const char *p;

    if (*d == 0 || *d == '.' || strstr(d, "..") != NULL)
        return -1;
    for (p = d; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == '@' || *p == '/' || *p == '*' || *p == 0x7f)
            return -1;
    return 0;
}

int match_domain_check(const char *pattern, char *err, size_t errlen)
{
    const char *d = pattern;

    if (strcmp(pattern, "*") == 0)
        return 0;
    if (strncmp(d, "*.", 2) == 0)
        d += 2;
    else if (*d == '.')
        d += 1;
    if (match_domain_syntax(d) < 0) {
        snprintf(err, errlen, "\"%s\" is not a domain pattern (name, .name, *.name or *)", pattern);
        return -1;
    }
    return 0;
}

/* Compares name to d ignoring case and one trailing dot on name. */
static int match_name_eq(const char *name, size_t nlen, const char *d)
{
    size_t dlen = strlen(d);

    if (nlen > 0 && name[nlen - 1] == '.')
        nlen--;
    return nlen == dlen && strncasecmp(name, d, dlen) == 0;
}

int match_domain(const char *pattern, const char *name)
{
    size_t nlen;
    const char *d = pattern;
    size_t dlen;

    if (name == NULL || *name == 0)
        return 0;
    if (pattern[0] == '*' && pattern[1] == 0)
        return 1;
    nlen = strlen(name);
    if (strncmp(d, "*.", 2) == 0)
        d += 2;
    else if (*d == '.')
        d += 1;
    else
        return match_name_eq(name, nlen, d);
    if (nlen > 0 && name[nlen - 1] == '.')
        nlen--;
    dlen = strlen(d);
    /* subdomain: name ends with "." + d and has something before it */
    return nlen > dlen + 1 && name[nlen - dlen - 1] == '.' &&
           strncasecmp(name + nlen - dlen, d, dlen) == 0;
}

int match_domain_rank(const char *pattern)
{
    if (strcmp(pattern, "*") == 0)
        return 0;
    if (pattern[0] == '*')
        return 2 * (int)strlen(pattern + 2);
    if (pattern[0] == '.')
        return 2 * (int)strlen(pattern + 1);
    return 2 * (int)strlen(pattern) + 1;
}

int match_address_check(const char *pattern, char *err, size_t errlen)
{
    const char *at = strrchr(pattern, '@');
    const char *p;

    if (at == NULL || (at == pattern && at[1] == 0))
        goto bad;
    for (p = pattern; p < at; p++)
        if ((unsigned char)*p <= ' ')
            goto bad;
    if (at[1] != 0 && match_domain_syntax(at + 1) < 0)
        goto bad;
    return 0;
bad:
    snprintf(err, errlen, "\"%s\" is not an address pattern (user@domain, @domain or user@)",
             pattern);
    return -1;
}

const char *match_addr_domain(const char *addr)
{
    const char *at;

    if (addr == NULL || (at = strrchr(addr, '@')) == NULL)
        return NULL;
    return at + 1;
}

int match_address(const char *pattern, const char *addr)
{
    const char *pat = strrchr(pattern, '@');
    const char *at;
    size_t plocal = (size_t)(pat - pattern);

    if (addr == NULL || (at = strrchr(addr, '@')) == NULL)
        return 0;
    if (plocal > 0 && ((size_t)(at - addr) != plocal || strncasecmp(addr, pattern, plocal) != 0))
        return 0;
    if (pat[1] != 0 && !match_name_eq(at + 1, strlen(at + 1), pat + 1))
        return 0;
    return 1;
}

int match_glob(const char *pattern, const char *s)
{
    if (s == NULL)
        return 0;
    return fnmatch(pattern, s, FNM_CASEFOLD) == 0;
}

int match_fp_normalize(const char *in, char *out, size_t outsz)
{
    size_t n = 0;
    const char *p;
    int digits = 0;

    for (p = in; *p; p++) {
        char c = *p;

        if (c == ':') {
            if (digits != 2 && !(digits == 0 && p == in))
                return -1; /* colons only between byte pairs */
            if (p == in || p[1] == 0)
                return -1;
            digits = 0;
            continue;
        }
        if (c >= 'a' && c <= 'f')
            c = (char)(c - 'a' + 'A');
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F')))
            return -1;
        if (n + 1 >= outsz)
            return -1;
        out[n++] = c;
        digits++;
    }
    out[n] = 0;
    switch (n / 2) {
    case 16:
    case 20:
    case 28:
    case 32:
    case 48:
    case 64:
        if (n % 2 == 0)
            return (int)n;
        /* FALLTHROUGH */
    default:
        return -1;
    }
}
