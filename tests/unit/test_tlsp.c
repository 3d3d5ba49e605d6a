/* test_tlsp: the TLS policy answers per destination, parent domain, default,
 * Sendmail TLS_Srv/TLS_Rcpt entries, the transport-map bounce, the socketmap
 * request dispatch, and configuration errors with their lines. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "log.h"
#include "tlsp.h"

#define FP1 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define FP1N                                                                                       \
    "01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:"   \
    "CD:EF"

static char ini_path[64];

static struct tlsp_conf *load(const char *text, int *errors)
{
    struct cfg_diag d = {0};
    struct cfg *cfg;
    struct tlsp_conf *conf;
    FILE *fp;

    log_open("t", LOG_TO_STDERR, 0);
    snprintf(ini_path, sizeof(ini_path), "/tmp/test_tlsp.%d.ini", (int)getpid());
    fp = fopen(ini_path, "w");
    cr_assert_not_null(fp);
    fputs(text, fp);
    fclose(fp);
    cfg = cfg_load(ini_path, &d);
    cr_assert_not_null(cfg);
    conf = tlsp_load(cfg, &d);
    cfg_free(cfg);
    unlink(ini_path);
    if (errors)
        *errors = d.errors;
    return conf;
}

static const char *ask(const struct tlsp_conf *c, const char *key, int want_rc)
{
    static char answer[TLSP_MAX_ANSWER];
    char src[1024];
    int rc = tlsp_policy(c, key, answer, sizeof(answer), src, sizeof(src));

    cr_assert_eq(rc, want_rc, "%s: rc %d (%s) from %s", key, rc, answer, src);
    return answer;
}

static const char *base = "[tlspolicy]\n"
                          "default = may\n"
                          "min_cipher_bits = 128\n"
                          "min_protocol = TLSv1.2\n"
                          "[tlspolicy example.com]\n"
                          "level = secure\n"
                          "match = mx.example.com, .example.com\n"
                          "[tlspolicy .example.com]\n"
                          "level = verify\n"
                          "min_cipher_bits = 256\n"
                          "[tlspolicy pinned.example.net]\n"
                          "level = fingerprint\n"
                          "match = " FP1 "\n"
                          "[tlspolicy relay]\n"
                          "destination = [127.0.0.1]:17125, [relay.example.org]\n"
                          "level = encrypt\n"
                          "min_cipher_bits = 100\n"
                          "[tlspolicy legacy.example]\n"
                          "level = encrypt\n"
                          "min_cipher_bits = 0\n"
                          "min_protocol = TLSv1\n"
                          "[tlspolicy modern.example]\n"
                          "level = secure\n"
                          "min_protocol = TLSv1.3\n"
                          "tafile = /etc/postseal/modern-ca.pem\n"
                          "[tlspolicy gone.example]\n"
                          "level = secure\n"
                          "bounce = yes\n"
                          "bounce_text = 5.7.9 gone.example cannot meet our TLS policy\n"
                          "[tlspolicy .bounce.example]\n"
                          "bounce = yes\n";

Test(tlsp, answers_per_domain_parent_and_default)
{
    struct tlsp_conf *c = load(base, NULL);

    cr_assert_not_null(c);
    cr_assert_str_eq(ask(c, "example.com", TLSP_FOUND),
                     "secure protocols=>=TLSv1.2 ciphers=high exclude=3DES "
                     "match=mx.example.com:.example.com");
    /* the parent rule for subdomains, with its 256 bits capped at TLS 1.2 */
    cr_assert_str_eq(ask(c, "Sub.Example.COM", TLSP_FOUND),
                     "verify protocols=>=TLSv1.2:<=TLSv1.2 ciphers=high "
                     "exclude=3DES:AES128:CAMELLIA128:ARIA128");
    cr_assert_str_eq(ask(c, "a.b.example.com", TLSP_FOUND), ask(c, "sub.example.com", TLSP_FOUND));
    /* Postfix asking with the leading dot itself gets the same rule */
    cr_assert_str_eq(ask(c, ".example.com", TLSP_FOUND), ask(c, "sub.example.com", TLSP_FOUND));
    /* unknown: the default, without restrictions (a failed "may" handshake falls back) */
    cr_assert_str_eq(ask(c, "unknown.example", TLSP_FOUND), "may");
    cr_assert_str_eq(ask(c, "example.com.evil", TLSP_FOUND), "may");
    cr_assert_str_eq(ask(c, "notexample.com", TLSP_FOUND), "may");
    tlsp_free(c);
}

Test(tlsp, bracketed_next_hops_and_bits_mapping)
{
    struct tlsp_conf *c = load(base, NULL);

    cr_assert_str_eq(ask(c, "[127.0.0.1]:17125", TLSP_FOUND),
                     "encrypt protocols=>=TLSv1.2 ciphers=medium");
    cr_assert_str_eq(ask(c, "[relay.example.org]", TLSP_FOUND),
                     "encrypt protocols=>=TLSv1.2 ciphers=medium");
    /* a bracketed key never takes a parent-domain rule */
    cr_assert_str_eq(ask(c, "[mx.sub.example.com]", TLSP_FOUND), "may");
    cr_assert_str_eq(ask(c, "[127.0.0.1]:25", TLSP_FOUND), "may");
    cr_assert_str_eq(ask(c, "legacy.example", TLSP_FOUND), "encrypt protocols=>=TLSv1");
    cr_assert_str_eq(ask(c, "modern.example", TLSP_FOUND),
                     "secure protocols=>=TLSv1.3 ciphers=high exclude=3DES "
                     "tafile=/etc/postseal/modern-ca.pem");
    tlsp_free(c);
}

Test(tlsp, fingerprint_is_normalised)
{
    struct tlsp_conf *c = load(base, NULL);

    cr_assert_str_eq(ask(c, "pinned.example.net", TLSP_FOUND),
                     "fingerprint protocols=>=TLSv1.2 ciphers=high exclude=3DES match=" FP1N);
    tlsp_free(c);
}

Test(tlsp, default_notfound_leaves_it_to_postfix)
{
    struct tlsp_conf *c = load("[tlspolicy]\ndefault = notfound\n[tlspolicy x.example]\n"
                               "level = encrypt\n",
                               NULL);
    char answer[64];

    cr_assert_not_null(c);
    ask(c, "y.example", TLSP_NOTFOUND);
    cr_assert_eq(tlsp_request(c, "tlspolicy y.example", 19, answer, sizeof(answer)), 9);
    cr_assert_str_eq(answer, "NOTFOUND ");
    tlsp_free(c);
}

Test(tlsp, transport_bounce_only_where_configured)
{
    struct tlsp_conf *c = load(base, NULL);
    char answer[512];

    cr_assert_eq(tlsp_transport(c, "user@gone.example", answer, sizeof(answer), NULL, 0),
                 TLSP_FOUND);
    cr_assert_str_eq(answer, "error:5.7.9 gone.example cannot meet our TLS policy");
    cr_assert_eq(tlsp_transport(c, "GONE.example", answer, sizeof(answer), NULL, 0), TLSP_FOUND);
    cr_assert_eq(tlsp_transport(c, "a@x.bounce.example", answer, sizeof(answer), NULL, 0),
                 TLSP_FOUND);
    cr_assert_str_eq(answer, "error:5.7.1 delivery refused by local TLS policy");
    cr_assert_eq(tlsp_transport(c, "a@example.com", answer, sizeof(answer), NULL, 0),
                 TLSP_NOTFOUND);
    cr_assert_eq(tlsp_transport(c, "a@unknown.example", answer, sizeof(answer), NULL, 0),
                 TLSP_NOTFOUND);
    tlsp_free(c);
}

Test(tlsp, socketmap_request_dispatch)
{
    static const struct {
        const char *req;
        const char *reply;
    } cases[] = {
        {"tlspolicy example.com", "OK secure protocols=>=TLSv1.2 ciphers=high exclude=3DES "
                                  "match=mx.example.com:.example.com"},
        {"transport u@gone.example", "OK error:5.7.9 gone.example cannot meet our TLS policy"},
        {"transport u@example.com", "NOTFOUND "},
        {"other example.com", "PERM unknown map name (this server answers tlspolicy and "
                              "transport)"},
        {"tlspolicy", "PERM malformed request (expected \"NAME KEY\")"},
        {" example.com", "PERM malformed request (expected \"NAME KEY\")"},
        {"tlspolicy ", "PERM malformed key"},
        {"tlspolicy a b", "PERM malformed key"},
        {"tlspolicy a\tb", "PERM malformed key"},
    };
    struct tlsp_conf *c = load(base, NULL);
    char reply[TLSP_MAX_ANSWER + 16];
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = tlsp_request(c, cases[i].req, strlen(cases[i].req), reply, sizeof(reply));

        cr_assert_str_eq(reply, cases[i].reply, "request \"%s\"", cases[i].req);
        cr_assert_eq(n, strlen(cases[i].reply));
    }
    /* an embedded NUL and an over-long key */
    tlsp_request(c, "tlspolicy a\0b", 13, reply, sizeof(reply));
    cr_assert_str_eq(reply, "PERM malformed request (expected \"NAME KEY\")");
    {
        char big[TLSP_MAX_KEY + 20] = "tlspolicy ";

        memset(big + 10, 'a', TLSP_MAX_KEY + 1);
        tlsp_request(c, big, 10 + TLSP_MAX_KEY + 1, reply, sizeof(reply));
        cr_assert(strncmp(reply, "PERM ", 5) == 0);
        big[10 + TLSP_MAX_KEY] = 0;
        tlsp_request(c, big, 10 + TLSP_MAX_KEY, reply, sizeof(reply));
        cr_assert_str_eq(reply, "OK may");
    }
    tlsp_free(c);
}

static char *read_stderr(void)
{
    static char buf[16384];
    size_t n;

    fflush(stderr);
    n = fread(buf, 1, sizeof(buf) - 1, cr_get_redirected_stderr());
    buf[n] = 0;
    return buf;
}

Test(tlsp, configuration_errors_name_their_line, .init = cr_redirect_stderr)
{
    static const struct {
        int line;
        const char *text;
    } want[] = {
        {2, "default: \"maybe\" is not one of"},
        {3, "min_cipher_bits: 512 is out of range"},
        {5, "no level"},
        {7, "match: \"0123\" is not a SHA-256 fingerprint"},
        {10, "level fingerprint needs match"},
        {13, "match: only for level fingerprint, verify or secure"},
        {15, "min_cipher_bits 256 needs TLS 1.2"},
        {20, "match: \"bad+name\" is not a host name"},
        {20, "\"*.x.example\" is not a host name, .domain (for every name below domain; no"},
        {21, "unknown key \"colour\""},
        {23, "destination example.com: already in [tlspolicy example.com] (line 15)"},
        {27, "tafile: \"relative.pem\" is not an absolute path"},
    };
    const char *text = "[tlspolicy]\n"                            /* 1 */
                       "default = maybe\n"                        /* 2 */
                       "min_cipher_bits = 512\n"                  /* 3 */
                       "[tlspolicy nolevel.example]\n"            /* 4 */
                       "min_cipher_bits = 128\n"                  /* 5 */
                       "[tlspolicy fp.example]\n"                 /* 6 */
                       "match = 0123\n"                           /* 7 */
                       "level = fingerprint\n"                    /* 8 */
                       "[tlspolicy nofp.example]\n"               /* 9 */
                       "level = fingerprint\n"                    /* 10 */
                       "[tlspolicy m.example]\n"                  /* 11 */
                       "level = encrypt\n"                        /* 12 */
                       "match = x.example\n"                      /* 13 */
                       "[tlspolicy example.com]\n"                /* 14 */
                       "level = encrypt\n"                        /* 15 */
                       "min_cipher_bits = 256\n"                  /* 16 */
                       "min_protocol = TLSv1.3\n"                 /* 17 */
                       "[tlspolicy names.example]\n"              /* 18 */
                       "level = secure\n"                         /* 19 */
                       "match = x.example:bad+name:*.x.example\n" /* 20 */
                       "colour = blue\n"                          /* 21 */
                       "[tlspolicy again]\n"                      /* 22 */
                       "destination = example.com\n"              /* 23 */
                       "level = may\n"                            /* 24 */
                       "[tlspolicy ta.example]\n"                 /* 25 */
                       "level = verify\n"                         /* 26 */
                       "tafile = relative.pem\n"                  /* 27 */
        ;
    int errors;
    const char *out;
    char needle[128];
    size_t i;

    cr_assert_null(load(text, &errors));
    out = read_stderr();
    for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        snprintf(needle, sizeof(needle), "%s:%d: ", ini_path, want[i].line);
        cr_assert(strstr(out, needle) != NULL && strstr(strstr(out, needle), want[i].text),
                  "line %d: want \"%s\" in:\n%s", want[i].line, want[i].text, out);
    }
    cr_assert_eq(errors, (int)(sizeof(want) / sizeof(want[0])), "%s", out);
}

static struct tlsp_conf *load_with_access(const char *access_rel, const char *extra)
{
    char text[2048];
    char cwd[512];

    cr_assert_not_null(getcwd(cwd, sizeof(cwd)));
    snprintf(text, sizeof(text), "[tlspolicy]\ndefault = may\n[sendmail]\naccess_file = %s/%s\n%s",
             cwd, access_rel, extra);
    return load(text, NULL);
}

Test(tlsp, sendmail_tls_srv_and_tls_rcpt_entries)
{
    static const struct {
        const char *key;
        const char *answer;
    } cases[] = {
        /* a bare-domain key is also a recipient domain: the bare TLS_Rcpt: VERIFY joins */
        {"mx1.secure.example.com", "verify protocols=>=TLSv1.2 ciphers=medium"},
        {"[mx1.secure.example.com]", "encrypt protocols=>=TLSv1.2 ciphers=medium"},
        {"[safe.example.net]:25", "verify protocols=>=TLSv1.2"},
        {"strong.example.net",
         "verify protocols=>=TLSv1.2:<=TLSv1.2 ciphers=high exclude=3DES:AES128:CAMELLIA128:"
         "ARIA128"},
        {"named.example.net", "verify protocols=>=TLSv1.2 match=hostname"},
        {"pinned.example.net",
         "secure protocols=>=TLSv1.2 ciphers=high exclude=3DES match=mx.pinned.example.net"},
        {"relaxed.example.org", "verify protocols=>=TLSv1.2"},
        {"[relaxed.example.org]:587", "may"},
        {"[10.1.2.3]:25", "encrypt protocols=>=TLSv1.2 ciphers=high exclude=3DES"},
        /* bare TLS_Srv: (ENCR:56) and bare TLS_Rcpt: (VERIFY) combined */
        {"unknown.example", "verify protocols=>=TLSv1.2 ciphers=medium"},
        /* TLS_Rcpt:endmail.org ENCR:112+CN:smtp.endmail.org with the bare TLS_Srv: */
        {"endmail.org", "secure protocols=>=TLSv1.2 ciphers=medium match=smtp.endmail.org"},
        /* an ini section comes first */
        {"secure.example.com", "secure protocols=>=TLSv1.2 ciphers=high exclude=3DES"},
    };
    struct tlsp_conf *c = load_with_access("tests/unit/data/sendmail-access.good",
                                           "[tlspolicy secure.example.com]\nlevel = secure\n");
    char answer[TLSP_MAX_ANSWER];
    char src[1024];
    size_t i;

    cr_assert_not_null(c);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        cr_assert_str_eq(ask(c, cases[i].key, TLSP_FOUND), cases[i].answer, "key %s", cases[i].key);
    tlsp_policy(c, "pinned.example.net", answer, sizeof(answer), src, sizeof(src));
    cr_assert(strstr(src, "sendmail-access.good:10") != NULL, "source %s", src);
    tlsp_policy(c, "endmail.org", answer, sizeof(answer), src, sizeof(src));
    cr_assert(strstr(src, "sendmail-access.good:14 and ") != NULL, "source %s", src);
    cr_assert(strstr(src, "sendmail-access.good:24") != NULL, "source %s", src);
    tlsp_free(c);
}

Test(tlsp, contradictory_sendmail_names_defer, .init = cr_redirect_stderr)
{
    char path[64];
    char text[256];
    struct tlsp_conf *c;
    FILE *fp;

    snprintf(path, sizeof(path), "/tmp/test_tlsp_acc.%d", (int)getpid());
    fp = fopen(path, "w");
    fputs("TLS_Srv:x.example VERIFY+CN:a.example\nTLS_Rcpt:x.example VERIFY+CN:b.example\n", fp);
    fclose(fp);
    snprintf(text, sizeof(text), "[sendmail]\naccess_file = %s\n", path);
    c = load(text, NULL);
    unlink(path);
    cr_assert_not_null(c);
    cr_assert(strstr(ask(c, "x.example", TLSP_TEMP), "requires certificate name a.example and "
                                                     "b.example") != NULL);
    tlsp_free(c);
}

Test(tlsp, unsupported_access_entries_refuse_the_config, .init = cr_redirect_stderr)
{
    int errors = 0;
    char text[1024];
    char cwd[512];

    cr_assert_not_null(getcwd(cwd, sizeof(cwd)));
    snprintf(text, sizeof(text), "[sendmail]\naccess_file = %s/%s\n", cwd,
             "tests/unit/data/sendmail-access.bad");
    cr_assert_null(load(text, &errors));
    cr_assert_eq(errors, 17);
    cr_assert(strstr(read_stderr(), "sendmail-access.bad:8: TLS_Srv:g.example") != NULL);
}

Test(tlsp, sendmail_bits_postfix_cannot_meet_are_errors, .init = cr_redirect_stderr)
{
    char path[64];
    char text[256];
    FILE *fp;
    int errors = 0;
    const char *out;

    snprintf(path, sizeof(path), "/tmp/test_tlsp_bits.%d", (int)getpid());
    fp = fopen(path, "w");
    fputs("TLS_Srv:a.example ENCR:512\nTLS_Rcpt:b.example VERIFY:256\nTLS_Clt:c.example "
          "ENCR:512\nTLS_Srv:d.example PERM+VERIFY\n",
          fp);
    fclose(fp);
    snprintf(text, sizeof(text),
             "[tlspolicy]\nmin_protocol = TLSv1.3\n[sendmail]\naccess_file = %s\n", path);
    cr_assert_null(load(text, &errors));
    unlink(path);
    out = read_stderr();
    cr_assert_eq(errors, 2, "%s", out);
    cr_assert(strstr(out, ":1: TLS_Srv:a.example ENCR:512: no TLS cipher has more than 256 bits") !=
                  NULL,
              "%s", out);
    cr_assert(strstr(out, ":2: TLS_Rcpt:b.example VERIFY:256: more than 128 bits needs TLS 1.2") !=
                  NULL,
              "%s", out);
    /* TLS_Clt: is postseal-policyd's: a client simply never meets it */
    cr_assert(strstr(out, ":3:") == NULL, "%s", out);
    /* the notes: stricter VERIFY, PERM+ outbound */
    cr_assert(
        strstr(out, ":4: note: TLS_Srv:d.example PERM+VERIFY: answered as Postfix's verify") !=
            NULL,
        "%s", out);
    cr_assert(strstr(out, ":4: note: TLS_Srv:d.example PERM+VERIFY: PERM+ cannot be reproduced "
                          "outbound") != NULL,
              "%s", out);
}

Test(tlsp, tls_rcpt_inbound_leaves_delivery_to_tls_srv, .init = cr_redirect_stderr)
{
    struct tlsp_conf *c =
        load_with_access("tests/unit/data/sendmail-access.good", "tls_rcpt = inbound\n");

    cr_assert_not_null(c);
    /* TLS_Rcpt:endmail.org and the bare TLS_Rcpt: VERIFY are postseal-policyd's
     * now: only the bare TLS_Srv: ENCR:56 is left */
    cr_assert_str_eq(ask(c, "endmail.org", TLSP_FOUND),
                     "encrypt protocols=>=TLSv1.2 ciphers=medium");
    cr_assert_str_eq(ask(c, "unknown.example", TLSP_FOUND),
                     "encrypt protocols=>=TLSv1.2 ciphers=medium");
    cr_assert_str_eq(ask(c, "named.example.net", TLSP_FOUND),
                     "verify protocols=>=TLSv1.2 match=hostname");
    tlsp_free(c);
    /* both: as outbound */
    c = load_with_access("tests/unit/data/sendmail-access.good", "tls_rcpt = both\n");
    cr_assert_not_null(c);
    cr_assert_str_eq(ask(c, "endmail.org", TLSP_FOUND),
                     "secure protocols=>=TLSv1.2 ciphers=medium match=smtp.endmail.org");
    tlsp_free(c);
}
