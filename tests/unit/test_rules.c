/* test_rules: the rule engine through its programmatic API (the way imported
 * rules are fed in): requirements, outcomes, precedence, inherit, pins. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "rules.h"

static struct rules *R;
static char err[600];

static void setup(void)
{
    R = rules_new();
}

static void teardown(void)
{
    rules_free(R);
}

static struct rules_scope *scope(int kind, const char *pattern)
{
    struct rules_src src = {"test.ini", 1};
    struct rules_scope *s = rules_scope(R, kind, pattern, &src, err, sizeof(err));

    cr_assert_not_null(s, "%s", err);
    return s;
}

static void set(struct rules_scope *s, const char *key, const char *value, int line)
{
    struct rules_src src = {"test.ini", line};

    cr_assert_eq(rules_set(R, s, key, value, &src, err, sizeof(err)), 0, "%s=%s: %s", key, value,
                 err);
}

static struct rules_facts tls(const char *addr, const char *proto, const char *cipher, long bits)
{
    struct rules_facts f;

    memset(&f, 0, sizeof(f));
    f.client_address = addr;
    f.tls_protocol = proto;
    f.tls_cipher = cipher;
    f.keysize = bits;
    return f;
}

static struct rules_result decide(const struct rules_facts *f)
{
    struct rules_result res;

    rules_finish(R);
    rules_decide(R, f, &res);
    return res;
}

TestSuite(rules, .init = setup, .fini = teardown);

Test(rules, empty_rules_pass_with_dunno)
{
    struct rules_facts f = tls("192.0.2.1", "", "", 0);
    struct rules_result r = decide(&f);

    cr_assert_eq(r.failed, 0);
    cr_assert_str_eq(r.action, "DUNNO");
}

Test(rules, keysize_message_names_rule)
{
    struct rules_scope *g = scope(RULES_GLOBAL, "");
    struct rules_facts f = tls("192.0.2.1", "TLSv1.2", "AES128-SHA", 128);
    struct rules_result r;

    set(g, "encryption_keysize", "256", 12);
    r = decide(&f);
    cr_assert_eq(r.failed, 1);
    cr_assert_eq(r.outcome, RULES_TEMPORARY);
    cr_assert_str_eq(r.action,
                     "450 4.7.1 TLS cipher key size 128 below required 256 (rule test.ini:12)");
    f.keysize = 256;
    r = decide(&f);
    cr_assert_eq(r.failed, 0);
}

Test(rules, plaintext_fails_every_tls_requirement)
{
    struct rules_scope *g = scope(RULES_GLOBAL, "");
    struct rules_facts f = tls("192.0.2.1", "", "", 0);
    struct rules_result r;

    set(g, "require_tls", "yes", 3);
    r = decide(&f);
    cr_assert_str_eq(r.reason, "TLS required");
    rules_free(R);
    R = rules_new();
    set(scope(RULES_GLOBAL, ""), "encryption_keysize", "1", 4);
    r = decide(&f);
    cr_assert_str_eq(r.reason, "TLS cipher key size 0 below required 1 (no TLS)");
    rules_free(R);
    R = rules_new();
    set(scope(RULES_GLOBAL, ""), "tls_protocol", "TLSv1", 5);
    r = decide(&f);
    cr_assert_eq(r.failed, 1);
    rules_free(R);
    R = rules_new();
    set(scope(RULES_GLOBAL, ""), "ccert_fingerprint",
        "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF", 6);
    r = decide(&f);
    cr_assert_str_eq(r.reason, "client certificate required (pinned fingerprint)");
}

Test(rules, protocol_and_ciphers)
{
    struct rules_scope *g = scope(RULES_GLOBAL, "");
    struct rules_facts f = tls("192.0.2.1", "TLSv1.1", "ECDHE-RSA-AES256-SHA", 256);
    struct rules_result r;

    set(g, "tls_protocol", "TLSv1.2", 7);
    set(g, "cipher_deny", "*-SHA *RC4*", 8);
    set(g, "cipher_allow", "ECDHE-* TLS_*", 9);
    r = decide(&f);
    cr_assert_str_eq(r.reason, "TLS protocol TLSv1.1 below required TLSv1.2");
    f.tls_protocol = "TLSv1.2";
    r = decide(&f);
    cr_assert_str_eq(r.reason, "TLS cipher ECDHE-RSA-AES256-SHA denied by pattern *-SHA");
    cr_assert_eq(r.src.line, 8);
    f.tls_cipher = "AES256-GCM-SHA384";
    r = decide(&f);
    cr_assert_str_eq(r.reason, "TLS cipher AES256-GCM-SHA384 not allowed");
    f.tls_cipher = "ECDHE-RSA-AES256-GCM-SHA384";
    r = decide(&f);
    cr_assert_eq(r.failed, 0, "%s", r.reason);
    f.tls_protocol = "TLSv1.3";
    f.tls_cipher = "TLS_AES_256_GCM_SHA384";
    cr_assert_eq(decide(&f).failed, 0);
    f.tls_protocol = "SSLv3";
    cr_assert_eq(decide(&f).failed, 1);
    f.tls_protocol = "QUIC";
    cr_assert_eq(decide(&f).failed, 1); /* unknown protocol: fail closed */
}

Test(rules, outcomes)
{
    static const struct {
        const char *outcome;
        const char *prefix;
        int o;
    } t[] = {
        {"temporary", "450 4.7.1 TLS required", RULES_TEMPORARY},
        {"permanent", "550 5.7.1 TLS required", RULES_PERMANENT},
        {"disconnect", "421 4.7.0 TLS required", RULES_DISCONNECT},
        {"hold", "HOLD TLS required", RULES_HOLD},
    };
    size_t i;

    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        struct rules_facts f = tls("192.0.2.1", "", "", 0);
        struct rules_result r;
        struct rules_scope *g;

        rules_free(R);
        R = rules_new();
        g = scope(RULES_GLOBAL, "");
        set(g, "require_tls", "yes", 2);
        set(g, "outcome", t[i].outcome, 3);
        r = decide(&f);
        cr_assert_eq(r.outcome, t[i].o);
        cr_assert(strncmp(r.action, t[i].prefix, strlen(t[i].prefix)) == 0, "%s", r.action);
        cr_assert(strstr(r.action, "(rule test.ini:2)") != NULL, "%s", r.action);
    }
}

Test(rules, custom_replies_validated)
{
    struct rules_scope *g = scope(RULES_GLOBAL, "");
    struct rules_src src = {"test.ini", 9};
    struct rules_facts f = tls("192.0.2.1", "", "", 0);

    cr_assert_eq(rules_set(R, g, "temporary_reply", "550 5.7.1", &src, err, sizeof(err)), -1);
    cr_assert_eq(rules_set(R, g, "permanent_reply", "450 4.7.1", &src, err, sizeof(err)), -1);
    cr_assert_eq(rules_set(R, g, "disconnect_reply", "450 4.7.0", &src, err, sizeof(err)), -1);
    cr_assert_eq(rules_set(R, g, "temporary_reply", "451 4.7.1x", &src, err, sizeof(err)), -1);
    set(g, "temporary_reply", "454 4.7.0", 10);
    set(g, "require_tls", "yes", 11);
    cr_assert_str_eq(decide(&f).action, "454 4.7.0 TLS required (rule test.ini:11)");
}

Test(rules, most_specific_scope_wins_per_setting)
{
    struct rules_scope *g = scope(RULES_GLOBAL, "");
    struct rules_scope *net8 = scope(RULES_CLIENT, "10.0.0.0/8");
    struct rules_scope *net24 = scope(RULES_CLIENT, "10.1.2.0/24");
    struct rules_scope *rcpt = scope(RULES_RECIPIENT_DOMAIN, "bank.example");
    struct rules_facts f = tls("10.1.2.3", "TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256", 128);
    struct rules_result r;

    set(g, "encryption_keysize", "256", 20);
    set(g, "outcome", "permanent", 21);
    set(net8, "encryption_keysize", "0", 22);
    set(net24, "encryption_keysize", "128", 23);
    set(rcpt, "encryption_keysize", "192", 24);
    /* 10.1.2.3: the /24 beats the /8 and the global; outcome from [policy] */
    cr_assert_eq(decide(&f).failed, 0);
    f.keysize = 112;
    r = decide(&f);
    cr_assert_eq(r.src.line, 23);
    cr_assert_eq(r.outcome, RULES_PERMANENT);
    cr_assert_str_eq(r.scope, "[policy client 10.1.2.0/24]");
    /* the recipient domain is more specific than any client network */
    f.keysize = 128;
    f.recipient = "boss@BANK.example";
    r = decide(&f);
    cr_assert_eq(r.src.line, 24);
    /* outside every network: the global rule */
    f.client_address = "192.0.2.1";
    f.recipient = "x@else.example";
    r = decide(&f);
    cr_assert_eq(r.src.line, 20);
    /* scope order does not depend on file order */
    cr_assert_eq(rules_count(R), 4);
}

Test(rules, precedence_of_kinds)
{
    /* every kind matches; each sets keysize to its rank; the most specific wins */
    static const struct {
        int kind;
        const char *pattern;
    } k[] = {
        {RULES_SASL_METHOD, "PLAIN"},       {RULES_CLIENT, "192.0.2.0/24"},
        {RULES_CLIENT_NAME, ".example"},    {RULES_SENDER_DOMAIN, "s.example"},
        {RULES_SENDER, "@s.example"},       {RULES_RECIPIENT_DOMAIN, "r.example"},
        {RULES_RECIPIENT, "bob@r.example"}, {RULES_SASL_USER, "alice"},
    };
    struct rules_facts f = tls("192.0.2.1", "TLSv1.3", "TLS_AES_128_GCM_SHA256", 0);
    size_t i;

    f.client_name = "mx.example";
    f.sender = "a@s.example";
    f.recipient = "bob@r.example";
    f.sasl_username = "alice";
    f.sasl_method = "PLAIN";
    for (i = 0; i < sizeof(k) / sizeof(k[0]); i++) {
        char bits[8];

        snprintf(bits, sizeof(bits), "%zu", 100 + i);
        set(scope(k[i].kind, k[i].pattern), "encryption_keysize", bits, (int)(100 + i));
        cr_assert_eq(decide(&f).src.line, (int)(100 + i), "kind %d should win", k[i].kind);
    }
    /* "unknown" client names never match a name scope */
    rules_free(R);
    R = rules_new();
    set(scope(RULES_CLIENT_NAME, "*"), "require_tls", "yes", 5);
    f.tls_protocol = "";
    f.client_name = "unknown";
    cr_assert_eq(decide(&f).failed, 0);
    f.client_name = "mx.example";
    cr_assert_eq(decide(&f).failed, 1);
}

Test(rules, inherit_no_stops_the_walk)
{
    struct rules_scope *g = scope(RULES_GLOBAL, "");
    struct rules_scope *local = scope(RULES_CLIENT, "127.0.0.1");
    struct rules_scope *bank = scope(RULES_RECIPIENT_DOMAIN, "bank.example");
    struct rules_facts f = tls("127.0.0.1", "", "", 0);

    set(g, "require_tls", "yes", 1);
    set(g, "encryption_keysize", "128", 2);
    set(local, "inherit", "no", 3);
    set(bank, "require_tls", "yes", 4);
    cr_assert_eq(decide(&f).failed, 0);
    f.recipient = "a@bank.example";
    cr_assert_eq(decide(&f).src.line, 4); /* more specific than the exemption */
    f.client_address = "127.0.0.2";
    f.recipient = NULL;
    cr_assert_eq(decide(&f).src.line, 1);
}

Test(rules, pins_certificate_or_public_key)
{
    struct rules_scope *g = scope(RULES_GLOBAL, "");
    struct rules_facts f = tls("192.0.2.1", "TLSv1.3", "TLS_AES_256_GCM_SHA384", 256);
    struct rules_result r;

    set(g, "ccert_fingerprint", "fea5d102c35ba48963a266974236d13cf06c4524b61a7660c5f6a72d20bc28f9",
        30);
    set(g, "ccert_pubkey_fingerprint",
        "11:22:33:44:55:66:77:88:99:00:11:22:33:44:55:66:77:88:99:00:11:22:33:44:55:66:77:88:99:"
        "00:AB:CD",
        31);
    f.ccert_fingerprint = "FE:A5:D1:02:C3:5B:A4:89:63:A2:66:97:42:36:D1:3C:F0:6C:45:24:B6:1A:76:"
                          "60:C5:F6:A7:2D:20:BC:28:F9";
    f.ccert_pubkey_fingerprint = "62:E1:85:E4:01:42:6E:A0:F2:61:62:D8:31:FC:07:47:CF:6E:B1:E9:24:"
                                 "49:34:56:73:71:4D:64:E3:40:F6:6F";
    cr_assert_eq(decide(&f).failed, 0);
    /* the rogue certificate of case d_tls_rogue */
    f.ccert_fingerprint = "D8:AD:DA:30:71:DD:5B:A1:33:C7:0D:2D:BD:94:76:38:19:1A:5E:B4:56:81:3D:"
                          "5E:DE:52:45:42:29:D3:61:D7";
    r = decide(&f);
    cr_assert_eq(r.failed, 1);
    cr_assert(strstr(r.reason, "D8:AD:DA:30") != NULL, "%s", r.reason);
    cr_assert_eq(r.src.line, 30);
    /* same key in a new certificate: the public-key pin lets it through */
    f.ccert_pubkey_fingerprint = "1122334455667788990011223344556677889900112233445566778899"
                                 "00abcd";
    cr_assert_eq(decide(&f).failed, 0);
}

Test(rules, pin_file_like_relay_clientcerts)
{
    char path[64];
    FILE *fp;
    struct rules_scope *g = scope(RULES_GLOBAL, "");
    struct rules_src src = {"/etc/x/test.ini", 40};
    struct rules_facts f = tls("192.0.2.1", "TLSv1.3", "TLS_AES_256_GCM_SHA384", 256);

    snprintf(path, sizeof(path), "/tmp/test_rules_pins.%d", (int)getpid());
    fp = fopen(path, "w");
    fputs("# pins\n\nFE:A5:D1:02:C3:5B:A4:89:63:A2:66:97:42:36:D1:3C:F0:6C:45:24:B6:1A:76:60:C5:"
          "F6:A7:2D:20:BC:28:F9 client.example.test\n",
          fp);
    fclose(fp);
    cr_assert_eq(rules_set(R, g, "ccert_fingerprint_file", path, &src, err, sizeof(err)), 0, "%s",
                 err);
    f.ccert_fingerprint = "fe:a5:d1:02:c3:5b:a4:89:63:a2:66:97:42:36:d1:3c:f0:6c:45:24:b6:1a:76:"
                          "60:c5:f6:a7:2d:20:bc:28:f9";
    cr_assert_eq(decide(&f).failed, 0);
    fp = fopen(path, "w");
    fputs("FE:A5\n", fp);
    fclose(fp);
    cr_assert_eq(rules_set(R, g, "ccert_fingerprint_file", path, &src, err, sizeof(err)), -1);
    cr_assert(strstr(err, ":1: \"FE:A5\" is not a fingerprint") != NULL, "%s", err);
    unlink(path);
    cr_assert_eq(rules_set(R, g, "ccert_fingerprint_file", path, &src, err, sizeof(err)), -1);
    cr_assert(strstr(err, "cannot open") != NULL, "%s", err);
}

Test(rules, verified_subject_and_issuer)
{
    struct rules_scope *g = scope(RULES_GLOBAL, "");
    struct rules_facts f = tls("192.0.2.1", "TLSv1.3", "TLS_AES_256_GCM_SHA384", 256);
    struct rules_result r;

    set(g, "ccert_subject", "*.example.test", 50);
    set(g, "ccert_issuer", "Spike Test CA", 51);
    /* an unverified certificate: Postfix sends no subject/issuer */
    f.ccert_fingerprint = "D8:AD:DA:30:71:DD:5B:A1:33:C7:0D:2D:BD:94:76:38:19:1A:5E:B4:56:81:3D:"
                          "5E:DE:52:45:42:29:D3:61:D7";
    r = decide(&f);
    cr_assert_str_eq(r.reason, "verified client certificate required");
    f.ccert_subject = "client.example.test";
    f.ccert_issuer = "Spike Test CA";
    cr_assert_eq(decide(&f).failed, 0);
    f.ccert_subject = "intruder.example.org";
    r = decide(&f);
    cr_assert_str_eq(r.reason, "client certificate CN \"intruder.example.org\" not allowed");
    f.ccert_subject = "client.example.test";
    f.ccert_issuer = "Other CA";
    r = decide(&f);
    cr_assert_eq(r.src.line, 51);
}

Test(rules, none_clears_inherited_lists)
{
    struct rules_scope *g = scope(RULES_GLOBAL, "");
    struct rules_scope *c = scope(RULES_CLIENT, "192.0.2.0/24");
    struct rules_facts f = tls("192.0.2.1", "TLSv1.3", "TLS_AES_256_GCM_SHA384", 256);

    set(g, "cipher_allow", "ECDHE-*", 60);
    cr_assert_eq(decide(&f).failed, 1);
    set(c, "cipher_allow", "none", 61);
    cr_assert_eq(decide(&f).failed, 0);
}

Test(rules, config_errors)
{
    struct rules_scope *g = scope(RULES_GLOBAL, "");
    struct rules_src src = {"t.ini", 70};

    cr_assert_eq(rules_set(R, g, "no_such_key", "1", &src, err, sizeof(err)), -2);
    cr_assert_eq(rules_set(R, g, "require_tls", "maybe", &src, err, sizeof(err)), -1);
    cr_assert_eq(rules_set(R, g, "encryption_keysize", "12x", &src, err, sizeof(err)), -1);
    cr_assert_eq(rules_set(R, g, "encryption_keysize", "5000", &src, err, sizeof(err)), -1);
    cr_assert_eq(rules_set(R, g, "tls_protocol", "TLSv2", &src, err, sizeof(err)), -1);
    cr_assert_eq(rules_set(R, g, "outcome", "reject", &src, err, sizeof(err)), -1);
    cr_assert_eq(rules_set(R, g, "ccert_fingerprint", "nothex", &src, err, sizeof(err)), -1);
    cr_assert_eq(rules_set(R, g, "pass_action", "", &src, err, sizeof(err)), -1);
    set(g, "encryption_keysize", "128", 71);
    cr_assert_eq(rules_set(R, g, "encryption_keysize", "256", &src, err, sizeof(err)), -1);
    cr_assert(strstr(err, "already set in [policy] at line 71") != NULL, "%s", err);
    cr_assert_null(rules_scope(R, RULES_CLIENT, "10.0.0.1/8", &src, err, sizeof(err)));
    cr_assert_null(rules_scope(R, RULES_RECIPIENT_DOMAIN, "a..b", &src, err, sizeof(err)));
    cr_assert_null(rules_scope(R, RULES_SENDER, "nodomain", &src, err, sizeof(err)));
    cr_assert_eq(rules_kind_parse("client"), RULES_CLIENT);
    cr_assert_eq(rules_kind_parse("clients"), -1);
}

Test(rules, explain_lists_sources)
{
    struct rules_scope *g = scope(RULES_GLOBAL, "");
    struct rules_facts f = tls("192.0.2.1", "", "", 0);
    struct buf b;

    set(g, "require_tls", "yes", 80);
    set(scope(RULES_CLIENT, "192.0.2.0/24"), "outcome", "hold", 81);
    rules_finish(R);
    buf_init(&b, 1 << 16);
    rules_explain(R, &f, &b);
    cr_assert(strstr(b.data, "[policy client 192.0.2.0/24]") != NULL, "%s", b.data);
    cr_assert(strstr(b.data, "require_tls              yes  (test.ini:80 [policy])") != NULL, "%s",
              b.data);
    cr_assert(strstr(b.data, "outcome                  hold  (test.ini:81") != NULL, "%s", b.data);
    buf_free(&b);
}

Test(rules, the_same_scope_written_twice_is_one_scope)
{
    struct rules_src src = {"t.ini", 90};
    struct rules_scope *a = scope(RULES_RECIPIENT_DOMAIN, ".Example.ORG");
    struct rules_scope *b;
    int i;

    cr_assert_eq(scope(RULES_RECIPIENT_DOMAIN, "*.example.org"), a);
    cr_assert_neq(scope(RULES_RECIPIENT_DOMAIN, "example.org"), a);
    cr_assert_neq(scope(RULES_SENDER_DOMAIN, ".example.org"), a);
    cr_assert_eq(scope(RULES_CLIENT, "10.1.0.0/16"), scope(RULES_CLIENT, "10.1.0.0/16"));
    cr_assert_neq(scope(RULES_CLIENT, "10.1.0.0/16"), scope(RULES_CLIENT, "10.1.0.0/17"));
    /* globs: ".x" is not "*.x" */
    cr_assert_neq(scope(RULES_SASL_USER, ".x"), scope(RULES_SASL_USER, "*.x"));
    set(a, "encryption_keysize", "128", 91);
    cr_assert_eq(rules_set(R, scope(RULES_RECIPIENT_DOMAIN, "*.EXAMPLE.org"), "encryption_keysize",
                           "256", &src, err, sizeof(err)),
                 -1);
    cr_assert(strstr(err, "already set in [policy recipient_domain .Example.ORG] at line 91") !=
                  NULL,
              "%s", err);
    /* many scopes: each found again, none duplicated */
    for (i = 0; i < 3000; i++) {
        char p[64];

        snprintf(p, sizeof(p), "host%d.example.net", i);
        b = scope(RULES_CLIENT_NAME, p);
        cr_assert_eq(scope(RULES_CLIENT_NAME, p), b);
    }
    cr_assert_eq(rules_count(R), 1 + 7 + 3000); /* [policy], the 7 above, the hosts */
}
