/* test_match: CIDR edges (IPv4, IPv6, mapped), domain/address patterns,
 * globs and fingerprint normalisation. */
#include <criterion/criterion.h>
#include <string.h>

#include "match.h"

static int in_net(const char *net, const char *addr)
{
    struct match_cidr c;
    struct match_ip ip;
    char err[200];

    cr_assert_eq(match_cidr_parse(net, &c, err, sizeof(err)), 0, "%s: %s", net, err);
    cr_assert_eq(match_ip_parse(addr, &ip), 0, "%s", addr);
    return match_cidr_contains(&c, &ip);
}

Test(match, cidr_ipv4_edges)
{
    cr_assert(in_net("10.0.0.0/8", "10.0.0.0"));
    cr_assert(in_net("10.0.0.0/8", "10.255.255.255"));
    cr_assert(!in_net("10.0.0.0/8", "11.0.0.0"));
    cr_assert(!in_net("10.0.0.0/8", "9.255.255.255"));
    cr_assert(in_net("192.0.2.128/25", "192.0.2.128"));
    cr_assert(!in_net("192.0.2.128/25", "192.0.2.127"));
    cr_assert(in_net("192.0.2.1/32", "192.0.2.1"));
    cr_assert(!in_net("192.0.2.1/32", "192.0.2.2"));
    cr_assert(in_net("192.0.2.1", "192.0.2.1"));
    cr_assert(in_net("0.0.0.0/0", "203.0.113.9"));
    cr_assert(!in_net("0.0.0.0/0", "2001:db8::1"));
    cr_assert(in_net("172.16.0.0/12", "172.31.255.255"));
    cr_assert(!in_net("172.16.0.0/12", "172.32.0.0"));
}

Test(match, cidr_ipv6_edges)
{
    cr_assert(in_net("2001:db8::/32", "2001:db8::1"));
    cr_assert(in_net("2001:db8::/32", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"));
    cr_assert(!in_net("2001:db8::/32", "2001:db9::"));
    cr_assert(in_net("::1/128", "::1"));
    cr_assert(in_net("::1", "::1"));
    cr_assert(!in_net("::1/128", "::2"));
    cr_assert(in_net("2001:db8::/127", "2001:db8::1"));
    cr_assert(!in_net("2001:db8::/127", "2001:db8::2"));
    cr_assert(in_net("::/0", "fe80::1"));
    cr_assert(!in_net("::/0", "127.0.0.1"));
    /* IPv4-mapped client addresses match IPv4 networks */
    cr_assert(in_net("127.0.0.0/8", "::ffff:127.0.0.5"));
    cr_assert(!in_net("::ffff:0:0/96", "127.0.0.1"));
}

Test(match, cidr_errors)
{
    struct match_cidr c;
    char err[200];

    cr_assert_eq(match_cidr_parse("10.0.0.1/8", &c, err, sizeof(err)), -1);
    cr_assert(strstr(err, "bits set beyond the /8 prefix") != NULL, "%s", err);
    cr_assert_eq(match_cidr_parse("10.0.0.0/33", &c, err, sizeof(err)), -1);
    cr_assert(strstr(err, "0..32") != NULL, "%s", err);
    cr_assert_eq(match_cidr_parse("2001:db8::/129", &c, err, sizeof(err)), -1);
    cr_assert_eq(match_cidr_parse("10.0.0.0/", &c, err, sizeof(err)), -1);
    cr_assert_eq(match_cidr_parse("10.0.0.0/8x", &c, err, sizeof(err)), -1);
    cr_assert_eq(match_cidr_parse("example.com", &c, err, sizeof(err)), -1);
    cr_assert_eq(match_cidr_parse("10.0.0/8", &c, err, sizeof(err)), -1);
    cr_assert_eq(match_cidr_parse("2001:db8::1/64", &c, err, sizeof(err)), -1);
}

Test(match, ip_parse)
{
    struct match_ip ip;

    cr_assert_eq(match_ip_parse("unknown", &ip), -1);
    cr_assert_eq(match_ip_parse("", &ip), -1);
    cr_assert_eq(match_ip_parse(NULL, &ip), -1);
    cr_assert_eq(match_ip_parse("[::1]", &ip), -1);
}

Test(match, domains)
{
    char err[200];

    cr_assert(match_domain("example.com", "example.com"));
    cr_assert(match_domain("example.com", "EXAMPLE.com."));
    cr_assert(!match_domain("example.com", "mx.example.com"));
    cr_assert(match_domain(".example.com", "mx.example.com"));
    cr_assert(match_domain(".example.com", "a.b.example.com"));
    cr_assert(!match_domain(".example.com", "example.com"));
    cr_assert(!match_domain(".example.com", "badexample.com"));
    cr_assert(match_domain("*.example.com", "mx.Example.COM"));
    cr_assert(!match_domain("*.example.com", "xexample.com"));
    cr_assert(match_domain("*", "anything.test"));
    cr_assert(!match_domain("*", ""));
    cr_assert(!match_domain("*", NULL));
    cr_assert_eq(match_domain_check("exa mple.com", err, sizeof(err)), -1);
    cr_assert_eq(match_domain_check("a..b", err, sizeof(err)), -1);
    cr_assert_eq(match_domain_check("*example.com", err, sizeof(err)), -1);
    cr_assert_eq(match_domain_check("a@b", err, sizeof(err)), -1);
    cr_assert_eq(match_domain_check(".example.com", err, sizeof(err)), 0);
    cr_assert_gt(match_domain_rank("example.com"), match_domain_rank(".example.com"));
    cr_assert_gt(match_domain_rank(".mx.example.com"), match_domain_rank("example.com"));
    cr_assert_gt(match_domain_rank(".example.com"), match_domain_rank("*"));
}

Test(match, addresses)
{
    char err[200];

    cr_assert(match_address("alice@example.com", "Alice@Example.com"));
    cr_assert(!match_address("alice@example.com", "bob@example.com"));
    cr_assert(match_address("@example.com", "bob@example.com"));
    cr_assert(!match_address("@example.com", "bob@sub.example.com"));
    cr_assert(match_address("postmaster@", "postmaster@any.test"));
    cr_assert(!match_address("postmaster@", "webmaster@any.test"));
    cr_assert(!match_address("alice@example.com", ""));
    cr_assert(!match_address("alice@example.com", "alice"));
    cr_assert_str_eq(match_addr_domain("a@b@c.test"), "c.test");
    cr_assert_null(match_addr_domain(""));
    cr_assert_eq(match_address_check("example.com", err, sizeof(err)), -1);
    cr_assert_eq(match_address_check("@", err, sizeof(err)), -1);
    cr_assert_eq(match_address_check("a b@x", err, sizeof(err)), -1);
    cr_assert_eq(match_address_check("@x.test", err, sizeof(err)), 0);
}

Test(match, globs)
{
    cr_assert(match_glob("*-CBC-*", "ECDHE-RSA-AES128-CBC-SHA"));
    cr_assert(match_glob("tls_aes_*", "TLS_AES_256_GCM_SHA384"));
    cr_assert(!match_glob("*RC4*", "AES128-SHA"));
    cr_assert(!match_glob("*", NULL));
}

Test(match, fingerprints)
{
    char out[MATCH_FP_MAX];
    const char *colon = "FE:A5:D1:02:C3:5B:A4:89:63:A2:66:97:42:36:D1:3C:F0:6C:45:24:B6:1A:76:60:"
                        "C5:F6:A7:2D:20:BC:28:F9";
    const char *plain = "fea5d102c35ba48963a266974236d13cf06c4524b61a7660c5f6a72d20bc28f9";

    cr_assert_eq(match_fp_normalize(colon, out, sizeof(out)), 64);
    cr_assert_str_eq(out, "FEA5D102C35BA48963A266974236D13CF06C4524B61A7660C5F6A72D20BC28F9");
    cr_assert_eq(match_fp_normalize(plain, out, sizeof(out)), 64);
    cr_assert_str_eq(out, "FEA5D102C35BA48963A266974236D13CF06C4524B61A7660C5F6A72D20BC28F9");
    cr_assert_eq(
        match_fp_normalize("00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF", out, sizeof(out)),
        32);                                                            /* MD5 */
    cr_assert_eq(match_fp_normalize("FE:A5:D1", out, sizeof(out)), -1); /* too short */
    cr_assert_eq(match_fp_normalize("FEA5:D1", out, sizeof(out)), -1);  /* odd colon */
    cr_assert_eq(match_fp_normalize(":FE", out, sizeof(out)), -1);
    cr_assert_eq(match_fp_normalize("", out, sizeof(out)), -1);
    cr_assert_eq(match_fp_normalize("XYZ", out, sizeof(out)), -1);
    cr_assert_eq(match_fp_normalize("FE::A5", out, sizeof(out)), -1);
}
