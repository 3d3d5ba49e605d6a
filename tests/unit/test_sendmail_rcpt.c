/* test_sendmail_rcpt: Sendmail TLS_Rcpt: entries enforced on receipt: every
 * step of Sendmail's lookup order, every requirement against the client's TLS
 * facts with Sendmail's texts and mapped codes, [sendmail] tls_rcpt and what
 * each daemon's --check says about per-recipient keys, and postseal-policyd's
 * decisions (RCPT only, not remembered for the session). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "cfg.h"
#include "log.h"
#include "policyd.h"
#include "sendmail_access.h"
#include "sendmail_rcpt.h"
#include "session.h"

static char access_path[64];
static char ini_path[64];
static char errlog[64];

static void setup(void)
{
    snprintf(access_path, sizeof(access_path), "/tmp/test_smr.%d.access", (int)getpid());
    snprintf(ini_path, sizeof(ini_path), "/tmp/test_smr.%d.ini", (int)getpid());
    snprintf(errlog, sizeof(errlog), "/tmp/test_smr.%d.log", (int)getpid());
    log_open("t", LOG_TO_STDERR, 0);
    cr_assert_not_null(freopen(errlog, "w", stderr));
}

static void teardown(void)
{
    unlink(access_path);
    unlink(ini_path);
    unlink(errlog);
}

TestSuite(smr, .init = setup, .fini = teardown);

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");

    cr_assert_not_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static char *read_log(void)
{
    static char text[16384];
    FILE *fp;
    size_t n;

    fflush(stderr);
    fp = fopen(errlog, "r");
    n = fread(text, 1, sizeof(text) - 1, fp);
    text[n] = 0;
    fclose(fp);
    return text;
}

/* One line per lookup step of Sendmail's tls_rcpt (SearchList F U D E). */
static const char ACCESS[] = "TLS_Rcpt:darth@endmail.org\tENCR:128\n"        /* 1 F: address */
                             "TLS_Rcpt:darth+*@endmail.org\tPERM+ENCR:256\n" /* 2 F: +* */
                             "TLS_Rcpt:luke+news@endmail.org\tOK\n"          /* 3 F: +detail */
                             "TLS_Rcpt:leia@\tVERIFY\n"                      /* 4 U: user@ */
                             "TLS_Rcpt:han+*@\tTEMP+VERIFY:128\n"            /* 5 U: user+*@ */
                             "TLS_Rcpt:sub.endmail.org\tVERIFY+CN\n"         /* 6 D: domain */
                             "TLS_Rcpt:endmail.org\tENCR:64\n"               /* 7 D: domain */
                             "TLS_Rcpt:org\tVERIFY+CN:gw.example.org\n"      /* 8 D: parent */
                             "TLS_Rcpt:\tENCR:40\n"                          /* 9 E: bare tag */
                             "TLS_Clt:127.0.0.1\tPERM+VERIFY\n" /* 10 not per recipient */
                             "TLS_Srv:endmail.org\tENCR:256\n"; /* 11 outbound only */

/* Loads [sendmail] from an ini written with text (%s = the access file). */
static int conf_load(const char *ini, int role, struct sma_conf *sc, int *errors)
{
    struct cfg_diag d = {0};
    struct cfg *cfg;
    char text[1024];
    int rc;

    snprintf(text, sizeof(text), ini, access_path);
    write_file(ini_path, text);
    cfg = cfg_load(ini_path, &d);
    cr_assert_not_null(cfg, "%s", read_log());
    rc = sma_conf_load(cfg, &d, role, sc);
    cfg_free(cfg);
    *errors = d.errors;
    return rc;
}

static struct smr *build(const char *access, const char *ini)
{
    struct sma_conf sc;
    struct cfg_diag d = {0};
    struct smr *s;
    int errors;

    write_file(access_path, access);
    cr_assert_eq(conf_load(ini, SMA_FOR_POLICYD, &sc, &errors), 0, "%s", read_log());
    cr_assert_eq(smr_new(&sc, &d, &s), 0, "%s", read_log());
    cr_assert_eq(d.errors, 0);
    sma_conf_free(&sc); /* smr keeps its own copies */
    return s;
}

#define INBOUND "[sendmail]\naccess_file = %s\ntls_rcpt = inbound\n"

Test(smr, sendmail_lookup_order_step_by_step)
{
    static const struct {
        const char *rcpt;
        int line; /* 0: no entry */
        const char *tried;
    } cases[] = {
        {"darth@endmail.org", 1, "TLS_Rcpt:darth@endmail.org"},
        {"DARTH@EndMail.ORG.", 1, "TLS_Rcpt:darth@endmail.org"},
        {"darth+x@endmail.org", 2, "TLS_Rcpt:darth+x@endmail.org TLS_Rcpt:darth+*@endmail.org"},
        {"luke+news@endmail.org", 3, "TLS_Rcpt:luke+news@endmail.org"},
        {"luke+other@endmail.org", 7,
         "TLS_Rcpt:luke+other@endmail.org TLS_Rcpt:luke+*@endmail.org TLS_Rcpt:luke@endmail.org "
         "TLS_Rcpt:luke+other@ TLS_Rcpt:luke+*@ TLS_Rcpt:luke@ TLS_Rcpt:endmail.org"},
        /* user@ comes before the domain */
        {"leia@endmail.org", 4, "TLS_Rcpt:leia@endmail.org TLS_Rcpt:leia@"},
        {"leia@anywhere.example", 4, "TLS_Rcpt:leia@anywhere.example TLS_Rcpt:leia@"},
        {"han+solo@a.example", 5,
         "TLS_Rcpt:han+solo@a.example TLS_Rcpt:han+*@a.example TLS_Rcpt:han@a.example "
         "TLS_Rcpt:han+solo@ TLS_Rcpt:han+*@"},
        /* the domain, then its parents, the nearest first */
        {"x@a.sub.endmail.org", 6,
         "TLS_Rcpt:x@a.sub.endmail.org TLS_Rcpt:x@ TLS_Rcpt:a.sub.endmail.org "
         "TLS_Rcpt:sub.endmail.org"},
        {"x@other.org", 8, "TLS_Rcpt:x@other.org TLS_Rcpt:x@ TLS_Rcpt:other.org TLS_Rcpt:org"},
        {"x@example.net", 9,
         "TLS_Rcpt:x@example.net TLS_Rcpt:x@ TLS_Rcpt:example.net TLS_Rcpt:net TLS_Rcpt:"},
        /* a local part only: user@ lookups, then the bare tag */
        {"leia", 4, "TLS_Rcpt:leia@"},
        {"postmaster", 9, "TLS_Rcpt:postmaster@ TLS_Rcpt:"},
        /* "+x" has no user before the '+': no +* variants (Sendmail's "$+ + $*") */
        {"+x@endmail.org", 7, "TLS_Rcpt:+x@endmail.org TLS_Rcpt:+x@ TLS_Rcpt:endmail.org"},
    };
    struct smr *s = build(ACCESS, INBOUND);
    struct buf tried;
    size_t i;

    cr_assert_not_null(s);
    buf_init(&tried, 1 << 16);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct sma_entry *e;

        buf_reset(&tried);
        e = smr_find(s, cases[i].rcpt, &tried);
        cr_assert_not_null(e, "%s", cases[i].rcpt);
        cr_assert_eq(e->line, cases[i].line, "%s: line %d", cases[i].rcpt, e->line);
        cr_assert_str_eq(tried.data, cases[i].tried, "%s", cases[i].rcpt);
    }
    cr_assert_null(smr_find(s, "", NULL));
    cr_assert_null(smr_find(s, NULL, NULL));
    buf_free(&tried);
    smr_free(s);
}

Test(smr, no_entry_means_nothing_required)
{
    struct smr *s = build("TLS_Rcpt:darth@endmail.org ENCR:128\n", INBOUND);
    struct rules_result res;
    struct rules_facts f = {0};

    f.recipient = "vader@endmail.org";
    res.failed = 42;
    cr_assert_null(smr_find(s, "vader@endmail.org", NULL));
    cr_assert_eq(smr_decide(s, &f, &res), 0);
    cr_assert_eq(res.failed, 42, "res untouched");
    f.recipient = "darth@endmail.org";
    cr_assert_eq(smr_decide(s, &f, &res), 1);
    cr_assert_eq(res.failed, 1);
    smr_free(s);
}

#define FP "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99"

/* facts: keysize 0 = plaintext; fp = a client certificate; cn = it verified */
static const char *decide(const struct smr *s, const char *rcpt, long keysize, const char *fp,
                          const char *cn, const char *client_name)
{
    static struct rules_result res;
    struct rules_facts f = {0};

    f.recipient = rcpt;
    f.client_address = "198.51.100.7";
    f.client_name = client_name;
    f.keysize = keysize;
    f.tls_protocol = keysize > 0 ? "TLSv1.3" : "";
    f.tls_cipher = keysize > 0 ? "TLS_AES_256_GCM_SHA384" : "";
    f.ccert_fingerprint = fp;
    f.ccert_subject = cn;
    f.ccert_issuer = cn ? "postseal Test CA" : NULL;
    cr_assert_eq(smr_decide(s, &f, &res), 1, "%s: no entry", rcpt);
    return res.failed ? res.action : "pass";
}

Test(smr, every_requirement_with_sendmail_texts_and_codes)
{
    static const struct {
        const char *rcpt;
        long keysize;
        const char *fp, *cn, *client, *want;
    } cases[] = {
        /* ENCR:128, no prefix: 454 4.7.0 */
        {"darth@endmail.org", 0, NULL, NULL, "unknown",
         "454 4.7.0 encryption too weak 0 less than 128 (rule %s:1)"},
        {"darth@endmail.org", 112, NULL, NULL, "unknown",
         "454 4.7.0 encryption too weak 112 less than 128 (rule %s:1)"},
        {"darth@endmail.org", 128, NULL, NULL, "unknown", "pass"},
        /* PERM+ENCR:256: 550 5.7.0 */
        {"darth+x@endmail.org", 128, NULL, NULL, "unknown",
         "550 5.7.0 encryption too weak 128 less than 256 (rule %s:2)"},
        {"darth+x@endmail.org", 256, NULL, NULL, "unknown", "pass"},
        /* OK: nothing required, and the lookup stops there */
        {"luke+news@endmail.org", 0, NULL, NULL, "unknown", "pass"},
        /* VERIFY */
        {"leia@endmail.org", 0, NULL, NULL, "unknown",
         "454 4.7.0 other side does not support STARTTLS (rule %s:4)"},
        {"leia@endmail.org", 256, NULL, NULL, "unknown", "454 4.7.0 not authenticated (rule %s:4)"},
        {"leia@endmail.org", 256, FP, NULL, "unknown",
         "454 4.7.0 authentication failed (rule %s:4)"},
        {"leia@endmail.org", 256, FP, "client.example.test", "unknown", "pass"},
        /* TEMP+VERIFY:128: 450 4.7.0; verification first, then the bits */
        {"han+solo@a.example", 256, FP, NULL, "unknown",
         "450 4.7.0 authentication failed (rule %s:5)"},
        {"han+solo@a.example", 112, FP, "client.example.test", "unknown",
         "450 4.7.0 encryption too weak 112 less than 128 (rule %s:5)"},
        {"han+solo@a.example", 128, FP, "client.example.test", "unknown", "pass"},
        /* VERIFY+CN: the certificate must name the client's (verified) host name */
        {"x@a.sub.endmail.org", 256, FP, "evil.example", "mx.client.example",
         "454 4.7.0 CN evil.example does not match mx.client.example (rule %s:6)"},
        {"x@a.sub.endmail.org", 256, FP, "MX.client.example", "mx.client.example", "pass"},
        {"x@a.sub.endmail.org", 256, FP, "mx.client.example", "unknown",
         "454 4.7.0 CN mx.client.example does not match unknown (rule %s:6)"},
        /* VERIFY+CN:name */
        {"x@other.org", 256, FP, "mx.client.example", "mx.client.example",
         "454 4.7.0 CN mx.client.example does not match gw.example.org (rule %s:8)"},
        {"x@other.org", 256, FP, "gw.example.org", "mx.client.example", "pass"},
        /* ENCR:64 for the domain, ENCR:40 for everybody else */
        {"luke+other@endmail.org", 56, NULL, NULL, "unknown",
         "454 4.7.0 encryption too weak 56 less than 64 (rule %s:7)"},
        {"x@example.net", 0, NULL, NULL, "unknown",
         "454 4.7.0 encryption too weak 0 less than 40 (rule %s:9)"},
        {"x@example.net", 40, NULL, NULL, "unknown", "pass"},
    };
    struct smr *s = build(ACCESS, INBOUND);
    char want[512];
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(want, sizeof(want), cases[i].want, access_path);
        cr_assert_str_eq(
            decide(s, cases[i].rcpt, cases[i].keysize, cases[i].fp, cases[i].cn, cases[i].client),
            want, "case %zu (%s)", i, cases[i].rcpt);
    }
    smr_free(s);
}

Test(smr, tls_perm_err_makes_the_unprefixed_codes_permanent)
{
    struct smr *s = build(ACCESS, INBOUND "tls_perm_err = yes\n");
    char want[256];

    snprintf(want, sizeof(want), "554 5.7.0 encryption too weak 0 less than 128 (rule %s:1)",
             access_path);
    cr_assert_str_eq(decide(s, "darth@endmail.org", 0, NULL, NULL, "unknown"), want);
    /* TEMP+ stays temporary, PERM+ permanent */
    cr_assert(
        strncmp(decide(s, "han+solo@x.example", 0, NULL, NULL, "unknown"), "450 4.7.0 ", 10) == 0);
    cr_assert(
        strncmp(decide(s, "darth+y@endmail.org", 0, NULL, NULL, "unknown"), "550 5.7.0 ", 10) == 0);
    smr_free(s);
}

Test(smr, explain_names_keys_entry_and_access_line)
{
    struct smr *s = build(ACCESS, INBOUND);
    struct rules_facts f = {0};
    struct buf out;
    char want[512];

    buf_init(&out, 1 << 16);
    f.recipient = "darth+x@endmail.org";
    smr_explain(s, &f, &out);
    cr_assert(strstr(out.data, "looked up: TLS_Rcpt:darth+x@endmail.org "
                               "TLS_Rcpt:darth+*@endmail.org\n") != NULL,
              "%s", out.data);
    snprintf(want, sizeof(want), "entry: TLS_Rcpt:darth+*@endmail.org PERM+ENCR:256  (%s:2)",
             access_path);
    cr_assert(strstr(out.data, want) != NULL, "%s", out.data);
    snprintf(want, sizeof(want),
             "encryption_keysize       256  (%s:2 TLS_Rcpt:darth+*@endmail.org)", access_path);
    cr_assert(strstr(out.data, want) != NULL, "%s", out.data);
    buf_reset(&out);
    s = (smr_free(s), build("TLS_Rcpt:darth@endmail.org ENCR:128\n", INBOUND));
    f.recipient = "vader@endmail.org";
    smr_explain(s, &f, &out);
    cr_assert(strstr(out.data, "no entry: nothing required") != NULL, "%s", out.data);
    buf_free(&out);
    smr_free(s);
}

/* ---- [sendmail] tls_rcpt and who says what about per-recipient keys ---- */

#define USERS "TLS_Rcpt:darth@endmail.org ENCR:128\nTLS_Rcpt:leia@ VERIFY\n"

Test(smr, default_outbound_tlspolicyd_refuses_user_keys_policyd_ignores_them)
{
    struct sma_conf sc;
    struct cfg_diag d = {0};
    struct smr *s = (struct smr *)1;
    int errors;
    const char *log;

    write_file(access_path, USERS);
    /* postseal-tlspolicyd is asked (tls_rcpt defaults to outbound) and cannot */
    cr_assert_eq(conf_load("[sendmail]\naccess_file = %s\n", SMA_FOR_TLSPOLICYD, &sc, &errors), -1);
    cr_assert_eq(errors, 2);
    log = read_log();
    cr_assert(strstr(log, ":1: TLS_Rcpt:darth@endmail.org ENCR:128: unsupported: TLS_Rcpt:user@ "
                          "is a per-recipient requirement") != NULL,
              "%s", log);
    cr_assert(strstr(log, "tls_rcpt = inbound (or both)") != NULL, "%s", log);
    cr_assert(strstr(log, ":2: TLS_Rcpt:leia@ VERIFY: unsupported") != NULL, "%s", log);
    /* postseal-policyd is not asked: it loads the file and enforces nothing */
    cr_assert_eq(conf_load("[sendmail]\naccess_file = %s\n", SMA_FOR_POLICYD, &sc, &errors), 0,
                 "%s", read_log());
    cr_assert_eq(smr_new(&sc, &d, &s), 0);
    cr_assert_null(s);
    cr_assert(strstr(read_log(), "TLS_Rcpt: entries are applied on delivery by "
                                 "postseal-tlspolicyd") != NULL);
    sma_conf_free(&sc);
}

Test(smr, unsupported_warn_with_outbound_keeps_them_unmatched)
{
    struct sma_conf sc;
    int errors;

    write_file(access_path, USERS);
    cr_assert_eq(conf_load("[sendmail]\naccess_file = %s\nunsupported = warn\n", SMA_FOR_TLSPOLICYD,
                           &sc, &errors),
                 0);
    cr_assert(strstr(read_log(), ":1: TLS_Rcpt:darth@endmail.org ENCR:128: not enforced") != NULL);
    cr_assert_not_null(sc.map->entries[0].unsupported);
    sma_conf_free(&sc);
}

Test(smr, inbound_both_daemons_accept_user_keys)
{
    struct sma_conf sc;
    int errors;

    write_file(access_path, USERS);
    cr_assert_eq(conf_load(INBOUND, SMA_FOR_TLSPOLICYD, &sc, &errors), 0, "%s", read_log());
    cr_assert_null(sc.map->entries[0].unsupported);
    sma_conf_free(&sc);
    cr_assert_eq(conf_load(INBOUND, SMA_FOR_POLICYD, &sc, &errors), 0, "%s", read_log());
    sma_conf_free(&sc);
    cr_assert(strstr(read_log(), "darth") == NULL, "%s", read_log());
}

Test(smr, both_tlspolicyd_warns_once_per_user_key)
{
    struct sma_conf sc;
    int errors;
    const char *log;

    write_file(access_path, USERS "TLS_Rcpt:endmail.org ENCR:128\n");
    cr_assert_eq(conf_load("[sendmail]\naccess_file = %s\ntls_rcpt = both\n", SMA_FOR_TLSPOLICYD,
                           &sc, &errors),
                 0, "%s", read_log());
    log = read_log();
    cr_assert(strstr(log, ":1: TLS_Rcpt:darth@endmail.org ENCR:128: enforced on receipt only, by "
                          "postseal-policyd") != NULL,
              "%s", log);
    cr_assert(strstr(log, ":2: TLS_Rcpt:leia@ VERIFY: enforced on receipt only") != NULL, "%s",
              log);
    cr_assert(strstr(log, ":3:") == NULL, "the domain entry applies outbound: %s", log);
    cr_assert_eq(sc.tls_rcpt, SMA_RCPT_INBOUND | SMA_RCPT_OUTBOUND);
    sma_conf_free(&sc);
}

Test(smr, bad_tls_rcpt_value_names_the_ini_line)
{
    struct sma_conf sc;
    char want[256];
    int errors;

    write_file(access_path, USERS);
    cr_assert_eq(conf_load("[sendmail]\naccess_file = %s\n\ntls_rcpt = sideways\n", SMA_FOR_POLICYD,
                           &sc, &errors),
                 -1);
    cr_assert_eq(errors, 1);
    snprintf(want, sizeof(want),
             "%s:4: tls_rcpt: \"sideways\" is not one of: outbound, inbound, both", ini_path);
    cr_assert(strstr(read_log(), want) != NULL, "%s", read_log());
}

Test(smr, keys_sendmail_never_looks_up_are_errors)
{
    struct sma_conf sc;
    struct cfg_diag d = {0};
    struct smr *s;
    char want[256];
    int errors;

    write_file(access_path, "TLS_Rcpt:@endmail.org ENCR:128\nTLS_Rcpt:.endmail.org ENCR:128\n"
                            "TLS_Rcpt:endmail.org ENCR:64\n");
    cr_assert_eq(conf_load(INBOUND, SMA_FOR_POLICYD, &sc, &errors), 0);
    cr_assert_eq(smr_new(&sc, &d, &s), -1);
    cr_assert_null(s);
    cr_assert_eq(d.errors, 2);
    snprintf(want, sizeof(want),
             "%s:1: TLS_Rcpt:@endmail.org: Sendmail never looks this key up for a recipient",
             access_path);
    cr_assert(strstr(read_log(), want) != NULL, "%s", read_log());
    snprintf(want, sizeof(want), "%s:2: TLS_Rcpt:.endmail.org: Sendmail never looks", access_path);
    cr_assert(strstr(read_log(), want) != NULL, "%s", read_log());
    cr_assert(strstr(read_log(), "write TLS_Rcpt:endmail.org") != NULL);
    sma_conf_free(&sc);
}

Test(smr, unsupported_entries_are_skipped_and_the_lookup_goes_on)
{
    struct smr *s = build("TLS_Rcpt:darth@endmail.org VERIFY+CS:/C=US/CN=x\n"
                          "TLS_Rcpt:endmail.org ENCR:64\n",
                          INBOUND "unsupported = warn\n");

    cr_assert_eq(smr_find(s, "darth@endmail.org", NULL)->line, 2);
    smr_free(s);
}

/* ---- through postseal-policyd's decision step ---- */

static struct pol_service svc;

static void pol_load(const char *access, const char *ini)
{
    char text[2048];
    int errors;

    write_file(access_path, access);
    snprintf(text, sizeof(text), ini, access_path);
    write_file(ini_path, text);
    memset(&svc, 0, sizeof(svc));
    svc.conf = pol_conf_load(ini_path, &errors);
    cr_assert_not_null(svc.conf, "%s", read_log());
    svc.sess = sess_new((size_t)svc.conf->session_max, svc.conf->session_expire);
    svc.path = ini_path;
}

static void pol_unload(void)
{
    sess_free(svc.sess);
    pol_conf_free(svc.conf);
}

static const char *ask(const char *state, const char *rcpt, const char *tls, struct pol_decision *d)
{
    static char text[4096];
    struct proto_req req;
    struct proto_scan st;
    char err[256];
    char *p;
    ssize_t n;

    snprintf(text, sizeof(text),
             "request=smtpd_access_policy\nprotocol_state=%s\nclient_address=192.0.2.10\n"
             "client_port=4711\ninstance=123.456.789.0\nclient_name=unknown\n"
             "sender=s@example.test\nrecipient=%s\n%s\n\n",
             state, rcpt, tls);
    for (p = text; *p; p++)
        if (*p == '|')
            *p = '\n';
    proto_scan_reset(&st);
    n = proto_scan(&st, text, strlen(text), err, sizeof(err));
    cr_assert_gt(n, 0, "%s", err);
    cr_assert_eq(proto_parse(text, (size_t)n, &req, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(pol_decide(&svc, &req, 1000, d, err, sizeof(err)), 0, "%s", err);
    return d->res.action;
}

#define PLAIN "encryption_keysize=0"
#define TLS13                                                                                      \
    "encryption_keysize=256|encryption_protocol=TLSv1.3|encryption_cipher=TLS_AES_256_GCM_SHA384"

Test(smr, policyd_refuses_one_recipient_and_accepts_the_next)
{
    struct pol_decision d;
    char want[512];

    pol_load("TLS_Rcpt:darth@endmail.org ENCR:128\n", "[policy]\n" INBOUND);
    snprintf(want, sizeof(want), "454 4.7.0 encryption too weak 0 less than 128 (rule %s:1)",
             access_path);
    cr_assert_str_eq(ask("RCPT", "darth@endmail.org", PLAIN, &d), want);
    cr_assert_eq(d.per_recipient, 1);
    cr_assert_str_eq(d.res.scope, "TLS_Rcpt:darth@endmail.org");
    /* same session: another recipient of the domain has no entry */
    cr_assert_str_eq(ask("RCPT", "luke@endmail.org", PLAIN, &d), "DUNNO");
    cr_assert_eq(d.from_session, 0);
    cr_assert_eq(sess_count(svc.sess), 0);
    /* a TLS 1.3 client for the same user */
    cr_assert_str_eq(ask("RCPT", "darth@endmail.org", TLS13, &d), "DUNNO");
    /* other states: nothing per recipient (END-OF-MESSAGE, DATA with one recipient) */
    cr_assert_str_eq(ask("END-OF-MESSAGE", "darth@endmail.org", PLAIN, &d), "DUNNO");
    cr_assert_str_eq(ask("DATA", "darth@endmail.org", PLAIN, &d), "DUNNO");
    pol_unload();
}

Test(smr, policyd_checks_rcpt_entries_whatever_checked_states_says)
{
    struct pol_decision d;

    pol_load("TLS_Rcpt:darth@endmail.org PERM+ENCR:128\n",
             "[policy]\nchecked_states = MAIL\n" INBOUND);
    cr_assert(strncmp(ask("RCPT", "darth@endmail.org", PLAIN, &d), "550 5.7.0 ", 10) == 0);
    cr_assert_str_eq(ask("RCPT", "luke@endmail.org", PLAIN, &d), "DUNNO");
    pol_unload();
}

Test(smr, policyd_session_and_ini_rules_come_first)
{
    struct pol_decision d;

    /* [policy] refuses plaintext for everybody: that decides (and is remembered) */
    pol_load("TLS_Rcpt:darth@endmail.org PERM+ENCR:256\n", "[policy]\nrequire_tls = yes\n" INBOUND);
    cr_assert(strncmp(ask("RCPT", "darth@endmail.org", PLAIN, &d), "450 4.7.1 TLS required", 22) ==
              0);
    cr_assert_eq(d.per_recipient, 0);
    cr_assert_eq(sess_count(svc.sess), 1);
    pol_unload();
    /* TLS meets [policy] but not the recipient's entry */
    pol_load("TLS_Rcpt:darth@endmail.org PERM+ENCR:256\n", "[policy]\nrequire_tls = yes\n" INBOUND);
    cr_assert(strncmp(ask("RCPT", "darth@endmail.org",
                          "encryption_keysize=128|encryption_protocol=TLSv1.3|"
                          "encryption_cipher=TLS_AES_128_GCM_SHA256",
                          &d),
                      "550 5.7.0 encryption too weak 128 less than 256", 47) == 0);
    cr_assert_eq(sess_count(svc.sess), 0);
    pol_unload();
}

Test(smr, policyd_outbound_default_enforces_nothing_per_recipient)
{
    struct pol_decision d;

    pol_load("TLS_Rcpt:darth@endmail.org ENCR:128\n", "[policy]\n[sendmail]\naccess_file = %s\n");
    cr_assert_null(svc.conf->rcpt_rules);
    cr_assert_str_eq(ask("RCPT", "darth@endmail.org", PLAIN, &d), "DUNNO");
    pol_unload();
}
