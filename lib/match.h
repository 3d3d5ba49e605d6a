/* match: address, network, domain, glob and fingerprint matching (see match.c). */
#ifndef POSTSEAL_MATCH_H
#define POSTSEAL_MATCH_H

#include <stddef.h>

struct match_ip {
    int family;          /* AF_INET or AF_INET6 */
    unsigned char a[16]; /* network byte order; IPv4 uses a[0..3] */
};

struct match_cidr {
    struct match_ip net;
    int bits;
};

/* An IP address as Postfix writes client_address ("192.0.2.1", "2001:db8::1");
 * an IPv4-mapped IPv6 address ("::ffff:192.0.2.1") is returned as IPv4. */
int match_ip_parse(const char *s, struct match_ip *ip);
/* "NET/BITS" or a bare address (a host route).  Host bits set below the prefix
 * are an error, as in Postfix cidr tables.  Returns 0 or -1 with err. */
int match_cidr_parse(const char *s, struct match_cidr *c, char *err, size_t errlen);
int match_cidr_contains(const struct match_cidr *c, const struct match_ip *ip);

/* Domain patterns: "example.com" (that name only), ".example.com" or
 * "*.example.com" (any name below example.com, not example.com itself), "*" (any).
 * Case-insensitive, a trailing dot on the name is ignored. */
int match_domain_check(const char *pattern, char *err, size_t errlen);
int match_domain(const char *pattern, const char *name);
/* Larger means more specific: exact names beat subdomain patterns, longer
 * suffixes beat shorter ones, "*" is least specific. */
int match_domain_rank(const char *pattern);

/* Address patterns: "user@example.com" (that address), "@example.com" (any
 * user at that domain exactly), "user@" (that local part at any domain).
 * Case-insensitive.  match_addr_domain returns the part after the last '@'. */
int match_address_check(const char *pattern, char *err, size_t errlen);
int match_address(const char *pattern, const char *addr);
const char *match_addr_domain(const char *addr);

/* Shell-style glob ('*', '?', '[...]'), case-insensitive. */
int match_glob(const char *pattern, const char *s);

/* Certificate / public-key fingerprints: hex bytes with or without ':'
 * separators, any case.  Writes upper-case hex without separators to out and
 * returns its length, or -1 when the text is not 16, 20, 28, 32, 48 or 64 hex
 * bytes (MD5 .. SHA-512). */
#define MATCH_FP_MAX 129
int match_fp_normalize(const char *in, char *out, size_t outsz);

#endif
