/* test_policyd: configuration validation with FILE:LINE, and every decision
 * of the policy service: outcomes per scope, session refusal, expiry, states. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "policyd.h"
#include "session.h"

static char ini[64];
static char errlog[64];

static void setup(void)
{
    snprintf(ini, sizeof(ini), "/tmp/test_policyd.%d.ini", (int)getpid());
    snprintf(errlog, sizeof(errlog), "/tmp/test_policyd.%d.log", (int)getpid());
    log_open("t", LOG_TO_STDERR, 0);
    cr_assert_not_null(freopen(errlog, "w", stderr));
}

static void teardown(void)
{
    unlink(ini);
    unlink(errlog);
}

TestSuite(policyd, .init = setup, .fini = teardown);

static void write_ini(const char *text)
{
    FILE *fp = fopen(ini, "w");

    cr_assert_not_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static char *read_log(void)
{
    static char text[8192];
    FILE *fp;
    size_t n;

    fflush(stderr);
    fp = fopen(errlog, "r");
    n = fread(text, 1, sizeof(text) - 1, fp);
    text[n] = 0;
    fclose(fp);
    return text;
}

static void expect_log(const char *needle)
{
    char want[256];

    snprintf(want, sizeof(want), "%s:%s", ini, needle);
    cr_assert(strstr(read_log(), want) != NULL, "log lacks \"%s\":\n%s", want, read_log());
}

Test(policyd, config_errors_have_file_and_line)
{
    int errors;

    write_ini("[policy]\n"                              /* 1 */
              "require_tls = perhaps\n"                 /* 2 */
              "encryption_keysize = 12x\n"              /* 3 */
              "listen = tcp:1.2.3.4:5\n"                /* 4 */
              "socket_mode = 999\n"                     /* 5 */
              "checked_states = RCPT, QUIT\n"           /* 6 */
              "no_such_key = 1\n"                       /* 7 */
              "[policy client 10.0.0.1/8]\n"            /* 8 */
              "require_tls = yes\n"                     /* 9 */
              "[policy clientname mx.example]\n"        /* 10 */
              "require_tls = yes\n"                     /* 11 */
              "[policy recipient_domain example.org]\n" /* 12 */
              "listen = unix:/tmp/x\n"                  /* 13 */
              "outcome = bounce\n"                      /* 14 */
              "[polcy]\n"                               /* 15 */
              "x = 1\n"                                 /* 16 */
              "[policy sender_domain a..b]\n"           /* 17 */
              "require_tls = yes\n"                     /* 18 */
              "[policy]\n"                              /* 19 */
              "encryption_keysize = 128\n"              /* 20 */
              "encryption_keysize = 256\n");            /* 21 */
    cr_assert_null(pol_conf_load(ini, &errors));
    expect_log("2: require_tls: \"perhaps\" is not yes or no");
    expect_log("3: encryption_keysize: \"12x\" is not a number");
    expect_log("4: listen: \"tcp:1.2.3.4:5\": expected unix:PATH or inet:HOST:PORT");
    expect_log("5: socket_mode");
    expect_log("6: checked_states: \"QUIT\" is not a Postfix protocol_state");
    expect_log("7: [policy]: unknown key \"no_such_key\"");
    expect_log("9: [policy client 10.0.0.1/8]: \"10.0.0.1/8\": address has bits set");
    expect_log("11: [policy clientname mx.example]: unknown scope \"clientname\"");
    expect_log("13: listen: only valid in [policy]");
    expect_log("14: outcome: \"bounce\" is not one of");
    expect_log("16: unknown section [polcy]");
    expect_log("18: [policy sender_domain a..b]");
    expect_log("21: encryption_keysize: already set in [policy] at line 20");
    cr_assert_eq(errors, 13, "errors %d:\n%s", errors, read_log());
}

Test(policyd, shipped_config_is_valid)
{
    int errors;
    struct pol_conf *c = pol_conf_load("conf/postseal.ini", &errors);

    cr_assert_not_null(c, "conf/postseal.ini: %s", read_log());
    cr_assert_str_eq(c->listen[0], "unix:/run/postseal/policyd.sock");
    pol_conf_free(c);
}

Test(policyd, missing_file_is_an_error)
{
    int errors;

    cr_assert_null(pol_conf_load("/nonexistent/postseal.ini", &errors));
    cr_assert_eq(errors, 1);
}

/* ---- decisions ---- */

static struct pol_service svc;

static void load(const char *text)
{
    int errors;

    write_ini(text);
    memset(&svc, 0, sizeof(svc));
    svc.conf = pol_conf_load(ini, &errors);
    cr_assert_not_null(svc.conf, "%s", read_log());
    svc.sess = sess_new((size_t)svc.conf->session_max, svc.conf->session_expire);
    svc.path = ini;
}

static void unload(void)
{
    sess_free(svc.sess);
    pol_conf_free(svc.conf);
}

/* Builds and parses a request; fields "name=value" separated by '|'. */
static const char *ask(const char *fields, time_t now, struct pol_decision *d)
{
    static char text[4096];
    static struct pol_decision local;
    struct proto_req req;
    struct proto_scan st;
    char err[256];
    char *p;
    ssize_t n;

    if (d == NULL)
        d = &local;
    snprintf(text, sizeof(text),
             "request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=192.0.2.10\n"
             "client_name=unknown\nsender=s@example.test\n%s\n\n",
             fields);
    for (p = text; *p; p++)
        if (*p == '|')
            *p = '\n';
    /* later fields override: drop earlier duplicates by renaming them */
    {
        const char *names[] = {"protocol_state=", "client_address=", "client_name=", "sender="};
        size_t i;

        for (i = 0; i < 4; i++) {
            char *first = strstr(text, names[i]);
            char *again = first ? strstr(first + 1, names[i]) : NULL;

            if (again)
                first[0] = 'X';
        }
    }
    proto_scan_reset(&st);
    n = proto_scan(&st, text, strlen(text), err, sizeof(err));
    cr_assert_gt(n, 0, "%s", err);
    cr_assert_eq(proto_parse(text, (size_t)n, &req, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(pol_decide(&svc, &req, now, d, err, sizeof(err)), 0, "%s", err);
    return d->res.action;
}

#define PLAIN "encryption_keysize=0|encryption_protocol=|encryption_cipher="
#define STRONG                                                                                     \
    "encryption_keysize=256|encryption_protocol=TLSv1.3|encryption_cipher=TLS_AES_256_GCM_SHA384"

static void expect(const char *got, const char *want)
{
    char full[512];

    /* "%R" in want stands for the rule's file name */
    const char *r = strstr(want, "%R");

    if (r != NULL)
        snprintf(full, sizeof(full), "%.*s%s%s", (int)(r - want), want, ini, r + 2);
    else
        snprintf(full, sizeof(full), "%s", want);
    cr_assert_str_eq(got, full);
}

Test(policyd, outcome_per_scope)
{
    load("[policy]\nrequire_tls = yes\n"                            /* 1-2 */
         "[policy client 192.0.2.0/24]\noutcome = permanent\n"      /* 3-4 */
         "[policy client 192.0.2.128/25]\noutcome = disconnect\n"   /* 5-6 */
         "[policy recipient_domain held.example]\noutcome = hold\n" /* 7-8 */
         "[policy sasl_user *]\ninherit = no\n");                   /* 9-10 */
    expect(ask("client_address=203.0.113.1|client_port=1|instance=a.1.1.0|" PLAIN, 100, NULL),
           "450 4.7.1 TLS required (rule %R:2)");
    expect(ask("client_address=192.0.2.1|client_port=2|instance=a.1.1.0|" PLAIN, 100, NULL),
           "550 5.7.1 TLS required (rule %R:2)");
    expect(ask("client_address=192.0.2.200|client_port=3|instance=a.1.1.0|" PLAIN, 100, NULL),
           "421 4.7.0 TLS required (rule %R:2)");
    expect(ask("client_address=192.0.2.200|client_port=4|instance=a.1.1.0|"
               "recipient=x@held.example|" PLAIN,
               100, NULL),
           "HOLD TLS required (rule %R:2)");
    expect(ask("client_address=192.0.2.200|client_port=5|instance=a.1.1.0|sasl_username=bob|"
               "sasl_method=PLAIN|" PLAIN,
               100, NULL),
           "DUNNO");
    expect(ask("client_address=192.0.2.200|client_port=6|instance=a.1.1.0|" STRONG, 100, NULL),
           "DUNNO");
    unload();
}

Test(policyd, pass_action_configurable)
{
    load("[policy]\npass_action = OK\n[policy client 192.0.2.0/24]\npass_action = PREPEND "
         "X-TLS: checked\n");
    expect(ask("client_address=203.0.113.1|client_port=1|instance=a.1.1.0|" PLAIN, 100, NULL),
           "OK");
    expect(ask("client_port=1|instance=a.1.1.0|" PLAIN, 100, NULL), "PREPEND X-TLS: checked");
    unload();
}

Test(policyd, failed_session_refuses_every_later_request)
{
    struct pol_decision d;

    load("[policy]\nencryption_keysize = 256\n");
    /* first transaction: RCPT with a 128-bit cipher fails */
    expect(ask("client_port=4000|instance=2b4e.6b03d091.eedf2.0|encryption_keysize=128|"
               "encryption_protocol=TLSv1.2|encryption_cipher=AES128-SHA",
               100, &d),
           "450 4.7.1 TLS cipher key size 128 below required 256 (rule %R:2)");
    cr_assert_eq(d.from_session, 0);
    /* same session, a later RCPT claiming more bits is refused the same way */
    expect(ask("client_port=4000|instance=2b4e.6b03d091.eedf2.0|" STRONG, 101, &d),
           "450 4.7.1 TLS cipher key size 128 below required 256 (rule %R:2)");
    cr_assert_eq(d.from_session, 1);
    /* a new MAIL transaction of the same session (new instance, counter 1) */
    expect(ask("client_port=4000|instance=2b4e.6b03d091.f1da5.1|" STRONG, 102, &d),
           "450 4.7.1 TLS cipher key size 128 below required 256 (rule %R:2)");
    cr_assert_eq(d.from_session, 1);
    /* even in states that are otherwise not checked */
    expect(ask("protocol_state=END-OF-MESSAGE|client_port=4000|instance=2b4e.6b03d091.f1da5.1|"
               "queue_id=98EBBA72111|" STRONG,
               103, &d),
           "450 4.7.1 TLS cipher key size 128 below required 256 (rule %R:2)");
    /* another client port (another session) is not affected */
    expect(ask("client_port=4001|instance=2b4e.6b03d091.aaaaa.0|" STRONG, 104, &d), "DUNNO");
    /* another smtpd process with the same client port: another session */
    expect(ask("client_port=4000|instance=2b4f.6b03d091.aaaaa.0|" STRONG, 104, &d), "DUNNO");
    /* the same smtpd, address and port but a fresh session (counter 0) */
    expect(ask("client_port=4000|instance=2b4e.6b03d0ff.12345.0|" STRONG, 105, &d), "DUNNO");
    cr_assert_eq(sess_count(svc.sess), 0);
    unload();
}

Test(policyd, session_memory_expires)
{
    struct pol_decision d;

    load("[policy]\nrequire_tls = yes\noutcome = permanent\nsession_expire = 60s\n");
    ask("client_port=5000|instance=1.2.3.0|" PLAIN, 1000, &d);
    cr_assert_eq(d.res.failed, 1);
    ask("client_port=5000|instance=1.2.4.1|" STRONG, 1059, &d);
    cr_assert_eq(d.from_session, 1); /* a hit extends the life: 1059 + 60 */
    ask("client_port=5000|instance=1.2.4.1|" STRONG, 1118, &d);
    cr_assert_eq(d.from_session, 1);
    ask("client_port=5000|instance=1.2.4.1|" STRONG, 1178, &d);
    cr_assert_eq(d.from_session, 0);
    cr_assert_eq(d.res.failed, 0);
    unload();
}

Test(policyd, session_table_is_bounded)
{
    char f[256];
    int i;

    load("[policy]\nrequire_tls = yes\nsession_max = 10\n");
    for (i = 0; i < 5000; i++) {
        snprintf(f, sizeof(f), "client_port=%d|instance=%x.1.1.0|" PLAIN, 1000 + i, i);
        ask(f, 100, NULL);
    }
    cr_assert_leq(sess_count(svc.sess), 64, "count %zu", sess_count(svc.sess));
    /* the most recent failure is still remembered */
    snprintf(f, sizeof(f), "client_port=%d|instance=%x.1.1.1|" STRONG, 1000 + 4999, 4999);
    cr_assert_neq(strcmp(ask(f, 101, NULL), "DUNNO"), 0);
    unload();
}

Test(policyd, protocol_states)
{
    struct pol_decision d;

    load("[policy]\nrequire_tls = yes\n");
    /* CONNECT/EHLO come before STARTTLS: not checked by default */
    expect(ask("protocol_state=CONNECT|client_port=1|instance=1.1.1.0|" PLAIN, 1, &d), "DUNNO");
    cr_assert_eq(d.unchecked, 1);
    expect(ask("protocol_state=END-OF-MESSAGE|client_port=2|instance=1.1.1.0|" PLAIN, 1, &d),
           "DUNNO");
    expect(ask("protocol_state=RCPT|client_port=3|instance=1.1.1.0|" PLAIN, 1, &d),
           "450 4.7.1 TLS required (rule %R:2)");
    unload();
    load("[policy]\nrequire_tls = yes\nchecked_states = RCPT END-OF-MESSAGE\n");
    expect(ask("protocol_state=END-OF-MESSAGE|client_port=2|instance=1.1.1.0|" PLAIN, 1, &d),
           "450 4.7.1 TLS required (rule %R:2)");
    unload();
}

Test(policyd, not_a_policy_request)
{
    char text[] = "request=junk\nclient_address=1.2.3.4\n\n";
    struct proto_req req;
    struct proto_scan st;
    struct pol_decision d;
    char err[256];
    ssize_t n;

    load("[policy]\n");
    proto_scan_reset(&st);
    n = proto_scan(&st, text, strlen(text), err, sizeof(err));
    cr_assert_eq(proto_parse(text, (size_t)n, &req, err, sizeof(err)), 0);
    cr_assert_eq(pol_decide(&svc, &req, 1, &d, err, sizeof(err)), -1);
    cr_assert(strstr(err, "request=junk") != NULL, "%s", err);
    unload();
}

Test(policyd, refusals_are_logged_with_queue_id_and_instance)
{
    load("[policy]\nrequire_tls = yes\nchecked_states = END-OF-MESSAGE\n");
    ask("protocol_state=END-OF-MESSAGE|client_port=7|instance=12b1.6b032b30.97ae0.0|"
        "queue_id=98EBBA72111|" PLAIN,
        1, NULL);
    cr_assert(strstr(read_log(), "98EBBA72111: refused: instance=12b1.6b032b30.97ae0.0 "
                                 "client=unknown[192.0.2.10]:7 state=END-OF-MESSAGE") != NULL,
              "%s", read_log());
    unload();
}

Test(policyd, relaxing_sender_sections_are_warned_about)
{
    int errors;
    struct pol_conf *c;

    write_ini("[policy]\nrequire_tls = yes\n"
              "[policy sender_domain partner.example]\ninherit = no\n" /* 3-4 */
              "[policy sender boss@strict.example]\nencryption_keysize = 256\n"
              "[policy client 192.0.2.0/24]\ninherit = no\n");
    c = pol_conf_load(ini, &errors);
    cr_assert_not_null(c, "%s", read_log());
    expect_log("4: [policy sender_domain partner.example] inherit = no relaxes the policy for "
               "an envelope sender");
    cr_assert_null(strstr(read_log(), "strict.example"), "%s", read_log());
    cr_assert_null(strstr(read_log(), "192.0.2.0/24"), "%s", read_log());
    pol_conf_free(c);
}

/* [policy] reply_detail: the rule's location in what the SMTP client sees. */
Test(policyd, reply_detail_rewrites_only_the_rule_location)
{
    static const struct {
        const char *action;
        int detail;
        const char *want;
    } t[] = {
        {"450 4.7.1 TLS required (rule /etc/postseal/postseal.ini:12)", POL_DETAIL_FILE,
         "450 4.7.1 TLS required (rule postseal.ini:12)"},
        {"450 4.7.1 TLS required (rule /etc/postseal/postseal.ini:12)", POL_DETAIL_PATH,
         "450 4.7.1 TLS required (rule /etc/postseal/postseal.ini:12)"},
        {"450 4.7.1 TLS required (rule /etc/postseal/postseal.ini:12)", POL_DETAIL_NONE,
         "450 4.7.1 TLS required"},
        {"550 5.7.1 no (rule ) here (rule /a/b/access:3)", POL_DETAIL_FILE,
         "550 5.7.1 no (rule ) here (rule access:3)"},
        {"550 5.7.1 TLS required (rule relative.ini:4)", POL_DETAIL_FILE,
         "550 5.7.1 TLS required (rule relative.ini:4)"},
        {"DUNNO", POL_DETAIL_NONE, "DUNNO"},
        {"450 4.7.1 (rule /x:1) and more", POL_DETAIL_NONE, "450 4.7.1 (rule /x:1) and more"},
    };
    char out[512];
    size_t i;

    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        pol_reply_text(t[i].action, t[i].detail, out, sizeof(out));
        cr_expect_str_eq(out, t[i].want, "case %zu", i);
    }
    write_ini("[policy]\nreply_detail = everything\n");
    {
        int errors;

        cr_assert_null(pol_conf_load(ini, &errors));
    }
    expect_log("2: reply_detail: \"everything\" is not one of: file, path, none");
}
