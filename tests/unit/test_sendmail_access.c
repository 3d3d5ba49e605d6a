/* test_sendmail_access: a sample access file with every keyword, the rules it
 * yields, Sendmail's lookup order, the checks, and every error with its line. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "rules.h"
#include "sendmail_access.h"

#define GOOD "tests/unit/data/sendmail-access.good"
#define BAD "tests/unit/data/sendmail-access.bad"

static struct sma_map *load_good(void)
{
    struct cfg_diag d = {0};
    struct sma_map *m;

    log_open("t", LOG_TO_STDERR, 0);
    m = sma_load(GOOD, &d, 0);
    cr_assert_not_null(m);
    cr_assert_eq(d.errors, 0);
    return m;
}

static const struct sma_entry *entry(const struct sma_map *m, int tag, const char *key)
{
    size_t i;

    for (i = 0; i < m->count; i++)
        if (m->entries[i].tag == tag && strcmp(m->entries[i].key, key) == 0)
            return &m->entries[i];
    cr_assert_fail("no entry %s%s", sma_tag_name(tag), key);
    return NULL;
}

Test(sendmail_access, every_keyword_becomes_the_expected_rule)
{
    static const struct {
        int tag;
        const char *key;
        int line, code, req, bits, cn;
        const char *cn_name;
    } want[] = {
        {SMA_TAG_SRV, "secure.example.com", 6, SMA_CODE_DEFAULT, SMA_REQ_ENCR, 112, 0, NULL},
        {SMA_TAG_SRV, "safe.example.net", 7, SMA_CODE_DEFAULT, SMA_REQ_VERIFY, 0, 0, NULL},
        {SMA_TAG_SRV, "strong.example.net", 8, SMA_CODE_DEFAULT, SMA_REQ_VERIFY, 256, 0, NULL},
        {SMA_TAG_SRV, "named.example.net", 9, SMA_CODE_DEFAULT, SMA_REQ_VERIFY, 0, 1, NULL},
        {SMA_TAG_SRV, "pinned.example.net", 10, SMA_CODE_TEMP, SMA_REQ_VERIFY, 128, 0,
         "mx.pinned.example.net"},
        {SMA_TAG_SRV, "hard.example.org", 11, SMA_CODE_PERM, SMA_REQ_ENCR, 256, 0, NULL},
        {SMA_TAG_SRV, "relaxed.example.org", 12, SMA_CODE_DEFAULT, SMA_REQ_NONE, 0, 0, NULL},
        {SMA_TAG_SRV, "10.1.2", 13, SMA_CODE_DEFAULT, SMA_REQ_ENCR, 128, 0, NULL},
        {SMA_TAG_SRV, "", 14, SMA_CODE_DEFAULT, SMA_REQ_ENCR, 56, 0, NULL},
        {SMA_TAG_CLT, "laptop.example.com", 17, SMA_CODE_PERM, SMA_REQ_VERIFY, 112, 0, NULL},
        {SMA_TAG_CLT, "office.example.com", 18, SMA_CODE_DEFAULT, SMA_REQ_VERIFY, 128, 1, NULL},
        {SMA_TAG_CLT, "partner.example.org", 19, SMA_CODE_DEFAULT, SMA_REQ_VERIFY, 0, 0,
         "gw.partner.example.org"},
        {SMA_TAG_CLT, "192.0.2", 20, SMA_CODE_TEMP, SMA_REQ_ENCR, 128, 0, NULL},
        {SMA_TAG_CLT, "", 21, SMA_CODE_DEFAULT, SMA_REQ_ENCR, 40, 0, NULL},
        {SMA_TAG_RCPT, "endmail.org", 24, SMA_CODE_DEFAULT, SMA_REQ_ENCR, 112, 0,
         "smtp.endmail.org"},
        {SMA_TAG_RCPT, "", 25, SMA_CODE_DEFAULT, SMA_REQ_VERIFY, 0, 0, NULL},
    };
    struct sma_map *m = load_good();
    size_t i;

    cr_assert_eq(m->count, sizeof(want) / sizeof(want[0]));
    cr_assert_eq(m->other_lines, 2); /* Connect: and From: */
    for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const struct sma_entry *e = entry(m, want[i].tag, want[i].key);

        cr_assert_eq(e->line, want[i].line, "%s", want[i].key);
        cr_assert_eq(e->code, want[i].code, "%s", want[i].key);
        cr_assert_eq(e->req, want[i].req, "%s", want[i].key);
        cr_assert_eq(e->bits, want[i].bits, "%s", want[i].key);
        cr_assert_eq(e->cn, want[i].cn, "%s", want[i].key);
        if (want[i].cn_name)
            cr_assert_str_eq(e->cn_name, want[i].cn_name);
        else
            cr_assert_null(e->cn_name, "%s", want[i].key);
        cr_assert_null(e->unsupported);
    }
    sma_free(m);
}

Test(sendmail_access, sendmail_lookup_order)
{
    struct sma_map *m = load_good();

    /* host name, then parent domains */
    cr_assert_eq(sma_find(m, SMA_TAG_SRV, "mx1.secure.example.com", NULL)->line, 6);
    cr_assert_eq(sma_find(m, SMA_TAG_SRV, "SECURE.example.com.", NULL)->line, 6);
    /* the name wins over the address; then address prefixes; then the bare tag */
    cr_assert_eq(sma_find(m, SMA_TAG_SRV, "safe.example.net", "10.1.2.3")->line, 7);
    cr_assert_eq(sma_find(m, SMA_TAG_SRV, "unknown.example", "10.1.2.3")->line, 13);
    cr_assert_eq(sma_find(m, SMA_TAG_SRV, NULL, "10.1.20.3")->line, 14);
    cr_assert_eq(sma_find(m, SMA_TAG_CLT, "host.office.example.com", "192.0.2.9")->line, 18);
    cr_assert_eq(sma_find(m, SMA_TAG_CLT, "unknown", "192.0.2.9")->line, 20);
    cr_assert_eq(sma_find(m, SMA_TAG_CLT, "unknown", "192.0.22.9")->line, 21);
    cr_assert_eq(sma_find(m, SMA_TAG_RCPT, "sub.endmail.org", NULL)->line, 24);
    sma_free(m);
}

Test(sendmail_access, no_entry_means_accept)
{
    struct cfg_diag d = {0};
    char path[64];
    FILE *fp;
    struct sma_map *m;

    snprintf(path, sizeof(path), "/tmp/test_sma.%d", (int)getpid());
    fp = fopen(path, "w");
    fputs("TLS_Srv:x.example ENCR:128\n", fp);
    fclose(fp);
    m = sma_load(path, &d, 0);
    unlink(path);
    cr_assert_not_null(m);
    cr_assert_null(sma_find(m, SMA_TAG_SRV, "y.example", "10.0.0.1"));
    cr_assert_null(sma_find(m, SMA_TAG_CLT, "x.example", NULL));
    sma_free(m);
}

/* TLS_Clt: entries through the real rule engine, as postseal-policyd uses them */
static const char *decide(const struct rules *r, const char *name, const char *addr, long keysize,
                          const char *fp, const char *cn)
{
    static struct rules_result res;
    struct rules_facts f = {0};

    f.client_name = name;
    f.client_address = addr;
    f.keysize = keysize;
    f.tls_protocol = keysize > 0 ? "TLSv1.2" : "";
    f.tls_cipher = keysize > 0 ? "ECDHE-RSA-AES256-GCM-SHA384" : "";
    f.ccert_fingerprint = fp;
    f.ccert_subject = cn;
    rules_decide(r, &f, &res);
    return res.action;
}

static struct rules *rules_from_good(int tls_perm_err)
{
    struct sma_conf sc = {0};
    struct cfg_diag d = {0};
    struct rules *r = rules_new();

    sc.map = load_good();
    sc.tls_perm_err = tls_perm_err;
    cr_assert_not_null(r);
    cr_assert_eq(sma_to_rules(&sc, r, &d), 0);
    cr_assert_eq(d.errors, 0);
    rules_finish(r);
    sma_conf_free(&sc);
    return r;
}

#define FP "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99"

Test(sendmail_access, tls_clt_rules_with_sendmail_texts)
{
    static const struct {
        const char *name, *addr;
        long keysize;
        const char *fp, *cn, *action;
    } cases[] = {
        {"laptop.example.com", "198.51.100.1", 40, FP, "laptop.example.com",
         "550 5.7.0 encryption too weak 40 less than 112 (rule " GOOD ":17)"},
        {"laptop.example.com", "198.51.100.1", 256, FP, NULL,
         "550 5.7.0 authentication failed (rule " GOOD ":17)"},
        {"laptop.example.com", "198.51.100.1", 256, NULL, NULL,
         "550 5.7.0 not authenticated (rule " GOOD ":17)"},
        {"laptop.example.com", "198.51.100.1", 0, NULL, NULL,
         "550 5.7.0 other side does not support STARTTLS (rule " GOOD ":17)"},
        {"laptop.example.com", "198.51.100.1", 256, FP, "laptop.example.com", "DUNNO"},
        /* a name below the entry's name; CN must be the client's own name */
        {"host.office.example.com", "198.51.100.2", 256, FP, "evil.example",
         "454 4.7.0 CN evil.example does not match host.office.example.com (rule " GOOD ":18)"},
        {"host.office.example.com", "198.51.100.2", 256, FP, "HOST.office.example.com", "DUNNO"},
        {"partner.example.org", "198.51.100.3", 256, FP, "partner.example.org",
         "454 4.7.0 CN partner.example.org does not match gw.partner.example.org (rule " GOOD
         ":19)"},
        {"partner.example.org", "198.51.100.3", 256, FP, "gw.partner.example.org", "DUNNO"},
        /* an address prefix, after the names */
        {"unknown", "192.0.2.9", 0, NULL, NULL,
         "450 4.7.0 encryption too weak 0 less than 128 (rule " GOOD ":20)"},
        {"unknown", "192.0.2.9", 128, NULL, NULL, "DUNNO"},
        /* the bare tag for everybody else */
        {"unknown", "203.0.113.5", 0, NULL, NULL,
         "454 4.7.0 encryption too weak 0 less than 40 (rule " GOOD ":21)"},
        {"unknown", "2001:db8::5", 0, NULL, NULL,
         "454 4.7.0 encryption too weak 0 less than 40 (rule " GOOD ":21)"},
        {"mail.other.example", "203.0.113.5", 128, NULL, NULL, "DUNNO"},
    };
    struct rules *r = rules_from_good(0);
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        cr_assert_str_eq(
            decide(r, cases[i].name, cases[i].addr, cases[i].keysize, cases[i].fp, cases[i].cn),
            cases[i].action, "case %zu (%s)", i, cases[i].name);
    rules_free(r);
}

Test(sendmail_access, tls_perm_err_makes_the_default_permanent)
{
    struct rules *r = rules_from_good(1);

    cr_assert_str_eq(decide(r, "unknown", "203.0.113.5", 0, NULL, NULL),
                     "554 5.7.0 encryption too weak 0 less than 40 (rule " GOOD ":21)");
    /* TEMP+ stays temporary */
    cr_assert_str_eq(decide(r, "unknown", "192.0.2.9", 0, NULL, NULL),
                     "450 4.7.0 encryption too weak 0 less than 128 (rule " GOOD ":20)");
    rules_free(r);
}

Test(sendmail_access, explain_names_the_access_line)
{
    struct rules *r = rules_from_good(0);
    struct rules_facts f = {0};
    struct buf out;

    buf_init(&out, 1 << 16);
    f.client_name = "laptop.example.com";
    f.client_address = "198.51.100.1";
    rules_explain(r, &f, &out);
    cr_assert(strstr(out.data, "encryption_keysize       112  (" GOOD ":17 ") != NULL, "%s",
              out.data);
    cr_assert(strstr(out.data, "message_style            sendmail") != NULL, "%s", out.data);
    buf_free(&out);
    rules_free(r);
}

Test(sendmail_access, reply_codes)
{
    struct sma_map *m = load_good();

    cr_assert_str_eq(sma_reply_code(entry(m, SMA_TAG_CLT, "laptop.example.com"), 0), "550 5.7.0");
    cr_assert_str_eq(sma_reply_code(entry(m, SMA_TAG_CLT, "192.0.2"), 0), "450 4.7.0");
    cr_assert_str_eq(sma_reply_code(entry(m, SMA_TAG_CLT, ""), 0), "454 4.7.0");
    cr_assert_str_eq(sma_reply_code(entry(m, SMA_TAG_CLT, ""), 1), "554 5.7.0");
    sma_free(m);
}

static char *read_stderr(void)
{
    static char buf[16384];
    FILE *fp;
    size_t n;

    fflush(stderr);
    fp = cr_get_redirected_stderr();
    n = fread(buf, 1, sizeof(buf) - 1, fp);
    buf[n] = 0;
    return buf;
}

Test(sendmail_access, every_error_with_its_line, .init = cr_redirect_stderr)
{
    static const struct {
        int line;
        const char *text;
    } want[] = {
        {2, "ENCR:: bits must be a number"},
        {3, "ENCR needs a number of bits"},
        {4, "VERIFY:abc: bits must be a number"},
        {5, "VERIFY:0: bits must be a number"},
        {6, "unknown extension \"FOO\""},
        {7, "TLS_Srv:f.example: no value"},
        {8, "unsupported: CS: compares the certificate's full subject DN"},
        {9, "unsupported: CI: compares the certificate's full issuer DN"},
        {10, "unsupported: CITag: looks up the certificate's full issuer DN"},
        {12, "duplicate key TLS_Srv:h.example (first at line 9)"},
        {13, "entry starts with white space"},
        {14, "TEMP+/PERM+ needs VERIFY"},
        {15, "ENCR:99999: bits must be a number from 1 to 4096"},
        {16, "empty extension"},
        {17, "CN: needs a name"},
        {18, "extensions need VERIFY"},
    };
    struct cfg_diag d = {0};
    char needle[256];
    const char *out;
    size_t i;

    log_open("t", LOG_TO_STDERR, 0);
    cr_assert_null(sma_load(BAD, &d, 0));
    cr_assert_eq(d.errors, (int)(sizeof(want) / sizeof(want[0])));
    out = read_stderr();
    for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        snprintf(needle, sizeof(needle), "%s:%d: ", BAD, want[i].line);
        cr_assert(strstr(out, needle) != NULL, "no error for line %d in:\n%s", want[i].line, out);
        cr_assert(strstr(strstr(out, needle), want[i].text) != NULL, "line %d: want \"%s\" in:\n%s",
                  want[i].line, want[i].text, out);
    }
    cr_assert(strstr(out, ":19:") == NULL, "the MyCA: line is not a TLS entry");
    /* per recipient: judged by sma_conf_load per daemon (test_sendmail_rcpt.c) */
    cr_assert(strstr(out, "per-recipient") == NULL, "TLS_Rcpt:user@ is valid syntax:\n%s", out);
}

Test(sendmail_access, unsupported_warn_keeps_them_unmatched, .init = cr_redirect_stderr)
{
    struct cfg_diag d = {0};
    char path[64];
    FILE *fp;
    struct sma_map *m;
    const char *out;

    log_open("t", LOG_TO_STDERR, 0);
    snprintf(path, sizeof(path), "/tmp/test_sma_w.%d", (int)getpid());
    fp = fopen(path, "w");
    fputs("TLS_Srv:g.example VERIFY+CS:/C=US/CN=g.example\nTLS_Srv: ENCR:128\n", fp);
    fclose(fp);
    m = sma_load(path, &d, 1);
    unlink(path);
    cr_assert_not_null(m);
    cr_assert_eq(d.errors, 0);
    out = read_stderr();
    cr_assert(strstr(out, ":1: TLS_Srv:g.example VERIFY+CS:/C=US/CN=g.example: not enforced") !=
                  NULL,
              "%s", out);
    /* the unenforceable entry is skipped, the next match in Sendmail's order applies */
    cr_assert_eq(sma_find(m, SMA_TAG_SRV, "g.example", NULL)->line, 2);
    sma_free(m);
}

Test(sendmail_access, over_long_line_is_an_error, .init = cr_redirect_stderr)
{
    struct cfg_diag d = {0};
    char path[64];
    FILE *fp;
    int i;

    log_open("t", LOG_TO_STDERR, 0);
    snprintf(path, sizeof(path), "/tmp/test_sma_l.%d", (int)getpid());
    fp = fopen(path, "w");
    fputs("TLS_Srv:a.example ENCR:128\nTLS_Srv:b", fp);
    for (i = 0; i < SMA_MAX_LINE; i++)
        fputc('x', fp);
    fputs(" ENCR:128\nTLS_Srv:c.example ENCR:128\n", fp);
    fclose(fp);
    cr_assert_null(sma_load(path, &d, 0));
    unlink(path);
    cr_assert_eq(d.errors, 1);
    cr_assert(strstr(read_stderr(), ":2: line longer than 1024 bytes") != NULL);
}

Test(sendmail_access, missing_file_is_an_error, .init = cr_redirect_stderr)
{
    struct cfg_diag d = {0};

    log_open("t", LOG_TO_STDERR, 0);
    cr_assert_null(sma_load("/nonexistent/access", &d, 0));
    cr_assert_eq(d.errors, 1);
    cr_assert(strstr(read_stderr(), "/nonexistent/access: cannot open") != NULL);
}

Test(sendmail_access, tls_clt_address_keys_become_cidr_scopes, .init = cr_redirect_stderr)
{
    struct sma_conf sc = {0};
    struct cfg_diag d = {0};
    struct rules *r = rules_new();
    char path[64];
    FILE *fp;

    log_open("t", LOG_TO_STDERR, 0);
    snprintf(path, sizeof(path), "/tmp/test_sma_ip.%d", (int)getpid());
    fp = fopen(path, "w");
    fputs("TLS_Clt:10 ENCR:64\nTLS_Clt:10.1 ENCR:128\nTLS_Clt:10.1.2.3 ENCR:256\n"
          "TLS_Clt:IPv6:2001:db8::5 PERM+ENCR:128\nTLS_Clt:trusted.example OK\n",
          fp);
    fclose(fp);
    sc.map = sma_load(path, &d, 0);
    unlink(path);
    cr_assert_not_null(sc.map);
    cr_assert_eq(sma_to_rules(&sc, r, &d), 0);
    rules_finish(r);
    /* the longest prefix wins, as Sendmail tries 10.1.2.3, 10.1.2, 10.1, 10 */
    cr_assert(strstr(decide(r, "unknown", "10.1.2.3", 128, NULL, NULL), "less than 256") != NULL);
    cr_assert(strstr(decide(r, "unknown", "10.1.9.9", 100, NULL, NULL), "less than 128") != NULL);
    cr_assert_str_eq(decide(r, "unknown", "10.1.9.9", 128, NULL, NULL), "DUNNO");
    cr_assert(strstr(decide(r, "unknown", "10.200.0.1", 40, NULL, NULL), "less than 64") != NULL);
    cr_assert(strncmp(decide(r, "unknown", "2001:db8::5", 0, NULL, NULL),
                      "550 5.7.0 encryption too weak 0 less than 128", 45) == 0);
    cr_assert_str_eq(decide(r, "unknown", "2001:db8::6", 0, NULL, NULL), "DUNNO");
    /* OK: no requirement, and the walk stops there (Sendmail's first match) */
    cr_assert_str_eq(decide(r, "trusted.example", "10.1.2.3", 0, NULL, NULL), "DUNNO");
    cr_assert_str_eq(decide(r, "mx.trusted.example", "10.1.2.3", 0, NULL, NULL), "DUNNO");
    sma_conf_free(&sc);
    rules_free(r);
}
