/* test_fpolicy: [filter] config validation (FILE:LINE errors) and the
 * per-recipient decision of every rule type, first-match and most-specific. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "fconf.h"
#include "fpolicy.h"
#include "log.h"
#include "mime.h"

static char ini_path[64], err_path[64];

static const char *write_file(char *path, const char *fmt, const char *text)
{
    FILE *fp;

    snprintf(path, 64, fmt, (int)getpid());
    fp = fopen(path, "w");
    cr_assert_not_null(fp);
    fputs(text, fp);
    fclose(fp);
    return path;
}

/* Loads the config; the log (errors) goes to err_path. */
static struct fconf *load(const char *text, int *errors, struct cfg **cfgp)
{
    struct cfg_diag d = {0};
    struct cfg *c;
    struct fconf *fc = NULL;
    FILE *fp;

    write_file(ini_path, "/tmp/test_fpolicy.%d.ini", text);
    snprintf(err_path, sizeof(err_path), "/tmp/test_fpolicy.%d.err", (int)getpid());
    fp = freopen(err_path, "w", stderr);
    cr_assert_not_null(fp);
    log_open("t", LOG_TO_STDERR, 0);
    if ((c = cfg_load(ini_path, &d)) != NULL)
        fc = fconf_load(c, &d);
    fflush(stderr);
    *errors = d.errors;
    if (cfgp)
        *cfgp = c;
    else
        cfg_free(c);
    return fc;
}

static char *errors_text(void)
{
    static char buf[8192];
    FILE *fp = fopen(err_path, "r");
    size_t n;

    cr_assert_not_null(fp);
    n = fread(buf, 1, sizeof(buf) - 1, fp);
    buf[n] = 0;
    fclose(fp);
    return buf;
}

#define HAS_ERROR(line_text)                                                                       \
    cr_assert(strstr(errors_text(), line_text) != NULL, "missing \"%s\" in:\n%s", line_text,       \
              errors_text())

Test(fconf, defaults)
{
    int errors;
    struct fconf *fc = load("[filter]\n", &errors, NULL);

    cr_assert_not_null(fc);
    cr_assert_eq(fc->reinject.method, REINJECT_SMTP);
    cr_assert_str_eq(fc->reinject.host, "127.0.0.1");
    cr_assert_str_eq(fc->reinject.port, "10026");
    cr_assert_eq(fc->defaults.encrypt, FC_ENC_OPPORTUNISTIC);
    cr_assert_eq(fc->defaults.no_key, FC_NOKEY_DEFER);
    cr_assert_eq(fc->order, FC_FIRST_MATCH);
    cr_assert_eq(fc->defaults.nmethods, 2);
    cr_assert_eq(fc->defaults.methods[0], FC_METH_PGP);
    fconf_free(fc);
}

Test(fconf, values)
{
    int errors;
    struct fconf *fc = load("[filter]\n"
                            "reinject = [::1]:2525\n"
                            "encrypt = required\n"
                            "no_key = hold\n"
                            "hold_reinject = 127.0.0.1:10027\n"
                            "method = smime, pgp\n"
                            "rule_order = most-specific\n"
                            "message_size_limit = 1000\n"
                            "[filter]\n"
                            "reinject_timeout = 2m\n",
                            &errors, NULL);

    cr_assert_not_null(fc, "%s", errors_text());
    cr_assert_str_eq(fc->reinject.host, "::1");
    cr_assert_str_eq(fc->reinject.port, "2525");
    cr_assert_eq(fc->reinject.timeout, 120);
    cr_assert_eq(fc->defaults.encrypt, FC_ENC_REQUIRED);
    cr_assert_eq(fc->defaults.no_key, FC_NOKEY_HOLD);
    cr_assert_eq(fc->defaults.methods[0], FC_METH_SMIME);
    cr_assert_eq(fc->order, FC_MOST_SPECIFIC);
    cr_assert_eq(fc->max_size, 1000);
    fconf_free(fc);
    fc = load("[filter]\nreinject = sendmail\nsendmail_command = /usr/sbin/sendmail -C /etc/pf\n",
              &errors, NULL);
    cr_assert_not_null(fc);
    cr_assert_eq(fc->reinject.method, REINJECT_SENDMAIL);
    cr_assert_str_eq(fc->reinject.sendmail_argv[0], "/usr/sbin/sendmail");
    cr_assert_str_eq(fc->reinject.sendmail_argv[2], "/etc/pf");
    cr_assert_null(fc->reinject.sendmail_argv[3]);
    fconf_free(fc);
}

Test(fconf, errors_with_file_and_line)
{
    int errors;
    struct fconf *fc = load("[filter]\n"                       /* 1 */
                            "encrypt = always\n"               /* 2 */
                            "reinject = localhost:99999\n"     /* 3 */
                            "colour = blue\n"                  /* 4 */
                            "method = pgp, pgp\n"              /* 5 */
                            "sendmail_command = sendmail -t\n" /* 6 */
                            "[filter rule a]\n"                /* 7 */
                            "recipient = not-an-address\n"     /* 8 */
                            "header = Subject (unclosed\n"     /* 9 */
                            "header = NoRegex\n"               /* 10 */
                            "signkey = missing\n"              /* 11 */
                            "body = [z-a]\n"                   /* 12 */
                            "frobnicate = 1\n"                 /* 13 */
                            "[filter signkey s]\n"             /* 14 */
                            "sender_domain = example.com\n"    /* 15 */
                            "smime_cert = relative.pem\n"      /* 16 */
                            "[filter bogus x]\n"               /* 17 */
                            "a = b\n",                         /* 18 */
                            &errors, NULL);
    char want[200];

    cr_assert_null(fc);
    cr_assert_eq(errors, 14, "%d errors:\n%s", errors, errors_text());
#define AT(line, text)                                                                             \
    snprintf(want, sizeof(want), "%s:%d: %s", ini_path, line, text);                               \
    HAS_ERROR(want)
    AT(2, "encrypt:");
    AT(3, "reinject: expected HOST:PORT");
    AT(4, "unknown key \"colour\" in [filter]");
    AT(5, "method: a method is listed twice");
    AT(6, "sendmail_command: expected an absolute path");
    AT(8, "recipient: \"not-an-address\" is not an address pattern");
    AT(9, "header: bad regular expression \"(unclosed\"");
    AT(10, "header: expected \"FIELD-NAME REGEX\"");
    AT(8, "[filter rule a]: signkey \"missing\": no [filter signkey missing]");
    AT(12, "body: bad regular expression \"[z-a]\"");
    AT(13, "unknown key \"frobnicate\" in [filter rule a]");
    AT(16, "smime_cert: expected an absolute path");
    AT(15, "[filter signkey s]: neither pgp_key nor smime_cert");
    AT(18, "[filter bogus x]: unknown section");
}

Test(fconf, hidden_recipients_auto_yes_no)
{
    static const struct {
        const char *value;
        int want; /* -1: a FILE:LINE error */
    } cases[] = {{NULL, FC_HIDDEN_AUTO}, {"auto", FC_HIDDEN_AUTO}, {"AUTO", FC_HIDDEN_AUTO},
                 {"yes", FC_HIDDEN_YES}, {"true", FC_HIDDEN_YES},  {"no", FC_HIDDEN_NO},
                 {"off", FC_HIDDEN_NO},  {"sometimes", -1},        {"", -1}};
    char text[200], want[200];
    size_t i;
    int errors;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct fconf *fc;

        if (cases[i].value)
            snprintf(text, sizeof(text), "[filter]\nhidden_recipients = %s\n", cases[i].value);
        else
            snprintf(text, sizeof(text), "[filter]\n");
        fc = load(text, &errors, NULL);
        if (cases[i].want < 0) {
            cr_assert_null(fc, "hidden_recipients = %s accepted", cases[i].value);
            snprintf(want, sizeof(want), "%s:2: hidden_recipients: \"%s\" is not auto, yes or no",
                     ini_path, cases[i].value);
            HAS_ERROR(want);
            continue;
        }
        cr_assert_not_null(fc, "%s: %s", text, errors_text());
        cr_assert_eq(fc->hidden_recipients, cases[i].want, "%s", text);
        fconf_free(fc);
    }
}

Test(fconf, hold_needs_a_holding_smtpd)
{
    int errors;
    struct fconf *fc =
        load("[filter]\n[filter rule r]\nrecipient = @x.example\nno_key = hold\n", &errors, NULL);
    char want[200];

    cr_assert_null(fc);
    cr_assert_eq(errors, 1);
    snprintf(want, sizeof(want), "%s:4: no_key = hold needs hold_reinject = HOST:PORT", ini_path);
    HAS_ERROR(want);
    fc = load("[filter]\nhold_reinject = 127.0.0.1:10027\nno_key = hold\n", &errors, NULL);
    cr_assert_not_null(fc, "%s", errors_text());
    cr_assert_str_eq(fc->hold.port, "10027");
    fconf_free(fc);
}

/* ---- decisions ---- */

struct ctx {
    struct fconf *fc;
    struct fpol_msg m;
    struct mime_header h;
    struct mime_msg mime;
    int fd;
};

static void ctx_init(struct ctx *c, const char *ini, const char *msg)
{
    int errors;
    struct mime_err me;
    char path[64];

    memset(c, 0, sizeof(*c));
    c->fc = load(ini, &errors, NULL);
    cr_assert_not_null(c->fc, "%s", errors_text());
    write_file(path, "/tmp/test_fpolicy.%d.eml", msg);
    c->fd = open(path, 0);
    cr_assert(c->fd >= 0);
    cr_assert_eq(mime_header_read(c->fd, 0, -1, "", &c->h, &me), 0);
    cr_assert_eq(mime_parse(c->fd, 0, -1, &c->mime, &me), 0, "%s", me.text);
    c->m.hdr = &c->h;
    c->m.mime = &c->mime;
    c->m.fd = c->fd;
}

static void ctx_free(struct ctx *c)
{
    mime_header_free(&c->h);
    mime_msg_free(&c->mime);
    close(c->fd);
    fconf_free(c->fc);
}

static struct fpol_decision decide(struct ctx *c, const char *sender, const char *rcpt)
{
    struct fpol_decision d;
    struct ferr err;

    cr_assert_eq(fpol_decide(c->fc, sender, rcpt, &c->m, &d, &err), FERR_OK);
    return d;
}

static const char plain_msg[] = "From: a@example.com\nTo: b@example.org\nSubject: hello\n\nbody\n";

Test(fpolicy, address_and_domain_patterns)
{
    struct ctx c;
    struct fpol_decision d;

    ctx_init(&c,
             "[filter]\nencrypt = never\n"
             "[filter rule one]\nrecipient = bob@partner.example\nencrypt = required\n"
             "[filter rule dom]\nrecipient = @bank.example\nencrypt = required\nno_key = bounce\n"
             "[filter rule user]\nrecipient = ceo@\nsign = yes\n"
             "[filter rule sub]\nrecipient_domain = .gov.example\nencrypt = opportunistic\n"
             "[filter rule snd]\nsender = boss@example.com\nprotect_subject = yes\n"
             "[filter rule sdom]\nsender_domain = legal.example.com\nmethod = smime\n",
             plain_msg);
    d = decide(&c, "x@example.com", "BOB@Partner.Example");
    cr_assert_str_eq(d.rule, "one");
    cr_assert_eq(d.encrypt, FC_ENC_REQUIRED);
    d = decide(&c, "x@example.com", "alice@partner.example");
    cr_assert_null(d.rule);
    cr_assert_eq(d.encrypt, FC_ENC_NEVER);
    d = decide(&c, "x@example.com", "z@bank.example");
    cr_assert_str_eq(d.rule, "dom");
    cr_assert_eq(d.no_key, FC_NOKEY_BOUNCE);
    d = decide(&c, "x@example.com", "z@sub.bank.example");
    cr_assert_null(d.rule);
    d = decide(&c, "x@example.com", "ceo@anywhere.example");
    cr_assert_str_eq(d.rule, "user");
    cr_assert_eq(d.sign, 1);
    cr_assert_null(d.signkey); /* no signkey section matches */
    d = decide(&c, "x@example.com", "y@tax.gov.example");
    cr_assert_str_eq(d.rule, "sub");
    d = decide(&c, "x@example.com", "y@gov.example");
    cr_assert_null(d.rule);
    d = decide(&c, "boss@example.com", "y@other.example");
    cr_assert_str_eq(d.rule, "snd");
    cr_assert_eq(d.protect_subject, 1);
    cr_assert_eq(d.encrypt, FC_ENC_NEVER); /* from [filter] */
    d = decide(&c, "x@legal.example.com", "y@other.example");
    cr_assert_str_eq(d.rule, "sdom");
    cr_assert_eq(d.nmethods, 1);
    cr_assert_eq(d.methods[0], FC_METH_SMIME);
    ctx_free(&c);
}

Test(fpolicy, header_rules_with_encoded_words)
{
    struct ctx c;
    struct fpol_decision d;
    const char *ini = "[filter]\nencrypt = never\n"
                      "[filter rule secure]\nheader = Subject \\[secure\\]\nencrypt = required\n";

    ctx_init(&c, ini, "Subject: Re: [SECURE] numbers\n\nx\n");
    d = decide(&c, "a@x.example", "b@y.example");
    cr_assert_str_eq(d.rule, "secure");
    ctx_free(&c);
    ctx_init(&c, ini, "Subject: =?UTF-8?Q?=5Bsecure=5D_caf=C3=A9?=\n\nx\n");
    d = decide(&c, "a@x.example", "b@y.example");
    cr_assert_str_eq(d.rule, "secure");
    ctx_free(&c);
    ctx_init(&c, ini, "Subject: =?utf-8?B?W3NlY3VyZV0gaGk=?=\n\nx\n");
    d = decide(&c, "a@x.example", "b@y.example");
    cr_assert_str_eq(d.rule, "secure");
    ctx_free(&c);
    ctx_init(&c, ini, "Subject: insecure\nX-Subject: [secure]\n\nx\n");
    d = decide(&c, "a@x.example", "b@y.example");
    cr_assert_null(d.rule);
    ctx_free(&c);
}

Test(fpolicy, body_rules_on_decoded_text_parts_only)
{
    struct ctx c;
    struct fpol_decision d;
    const char *ini = "[filter]\nencrypt = never\n"
                      "[filter rule iban]\nbody = IBAN:? *DE[0-9]{2}\nencrypt = required\n";

    /* quoted-printable text: the soft line break is decoded first */
    ctx_init(&c, ini,
             "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
             "Content-Type: text/plain\nContent-Transfer-Encoding: quoted-printable\n\n"
             "pay to IBAN DE=\n12 3456\n--b--\n");
    d = decide(&c, "a@x.example", "b@y.example");
    cr_assert_str_eq(d.rule, "iban");
    ctx_free(&c);
    /* the same text in an attachment does not count */
    ctx_init(&c, ini,
             "Content-Type: multipart/mixed; boundary=b\n\n--b\n\nhello\n--b\n"
             "Content-Type: text/plain\nContent-Disposition: attachment; filename=x.txt\n\n"
             "IBAN DE12\n--b--\n");
    d = decide(&c, "a@x.example", "b@y.example");
    cr_assert_null(d.rule);
    ctx_free(&c);
    /* base64 text */
    ctx_init(&c, ini,
             "Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\n"
             "aGVsbG8KaWJhbjogZGU5OSB4Cg==\n");
    d = decide(&c, "a@x.example", "b@y.example");
    cr_assert_str_eq(d.rule, "iban");
    ctx_free(&c);
    /* a non-text part is not searched */
    ctx_init(&c, ini, "Content-Type: application/octet-stream\n\nIBAN DE12\n");
    d = decide(&c, "a@x.example", "b@y.example");
    cr_assert_null(d.rule);
    ctx_free(&c);
}

Test(fpolicy, all_conditions_of_a_rule_must_hold)
{
    struct ctx c;
    struct fpol_decision d;

    ctx_init(&c,
             "[filter]\nencrypt = never\n"
             "[filter rule both]\nrecipient_domain = example.org\nheader = Subject hello\n"
             "sender_domain = example.com\nencrypt = required\n",
             plain_msg);
    cr_assert_str_eq(decide(&c, "a@example.com", "b@example.org").rule, "both");
    d = decide(&c, "a@example.net", "b@example.org");
    cr_assert_null(d.rule);
    d = decide(&c, "a@example.com", "b@example.net");
    cr_assert_null(d.rule);
    ctx_free(&c);
}

static const char *order_ini(const char *order)
{
    static char buf[1024];

    snprintf(buf, sizeof(buf),
             "[filter]\nrule_order = %s\nencrypt = never\nhold_reinject = 127.0.0.1:10027\n"
             "[filter rule everyone]\nencrypt = opportunistic\n"
             "[filter rule domain]\nrecipient_domain = example.org\nencrypt = required\n"
             "[filter rule sub]\nrecipient_domain = .example.org\nno_key = hold\n"
             "[filter rule person]\nrecipient = vip@example.org\nsign = yes\n"
             "[filter rule atdomain]\nrecipient = @example.org\nno_key = notice\n",
             order);
    return buf;
}

Test(fpolicy, first_match_takes_file_order)
{
    struct ctx c;

    ctx_init(&c, order_ini("first-match"), plain_msg);
    cr_assert_str_eq(decide(&c, "a@b.example", "vip@example.org").rule, "everyone");
    cr_assert_str_eq(decide(&c, "a@b.example", "x@y.example").rule, "everyone");
    ctx_free(&c);
}

Test(fpolicy, most_specific_wins)
{
    struct ctx c;

    ctx_init(&c, order_ini("most-specific"), plain_msg);
    cr_assert_str_eq(decide(&c, "a@b.example", "vip@example.org").rule, "person");
    cr_assert_str_eq(decide(&c, "a@b.example", "other@example.org").rule, "atdomain");
    cr_assert_str_eq(decide(&c, "a@b.example", "x@mx.example.org").rule, "sub");
    cr_assert_str_eq(decide(&c, "a@b.example", "x@y.example").rule, "everyone");
    ctx_free(&c);
    /* exact domain beats the subdomain pattern; a content condition breaks a tie */
    ctx_init(&c,
             "[filter]\nrule_order = most-specific\n"
             "[filter rule sub]\nrecipient_domain = .example.org\n"
             "[filter rule exact]\nrecipient_domain = mx.example.org\n"
             "[filter rule exact2]\nrecipient_domain = mx.example.org\nheader = Subject hello\n",
             plain_msg);
    cr_assert_str_eq(decide(&c, "a@b.example", "x@mx.example.org").rule, "exact2");
    ctx_free(&c);
}

Test(fpolicy, signkey_selection)
{
    struct ctx c;
    struct fpol_decision d;
    const char *ini = "[filter]\nsign = yes\ngnupg_home = /nonexistent\n"
                      "[filter rule forced]\nrecipient = x@forced.example\nsignkey = gw\n"
                      "[filter signkey alice]\nsender = alice@example.com\npgp_key = ALICEKEY\n"
                      "[filter signkey gw]\nsender_domain = example.com\npgp_key = GWKEY\n"
                      "[filter signkey other]\npgp_key = OTHERKEY\n";

    ctx_init(&c, ini, plain_msg);
    d = decide(&c, "alice@example.com", "z@y.example");
    cr_assert_str_eq(d.signkey->name, "alice");
    d = decide(&c, "bob@example.com", "z@y.example");
    cr_assert_str_eq(d.signkey->name, "gw");
    d = decide(&c, "carl@example.net", "z@y.example");
    cr_assert_str_eq(d.signkey->name, "other");
    d = decide(&c, "alice@example.com", "x@forced.example");
    cr_assert_str_eq(d.signkey->name, "gw");
    ctx_free(&c);
}
