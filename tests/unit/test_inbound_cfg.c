/* test_inbound_cfg: [inbound] validation reports FILE:LINE for every bad
 * key and refuses the configuration. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "inbound.h"
#include "keys.h"
#include "log.h"

static char ini[64];

static struct inbound_cfg *load(const char *text, int *errors)
{
    struct cfg_diag d = {0};
    struct inbound_cfg *ic;
    struct cfg *c;
    FILE *fp;

    snprintf(ini, sizeof(ini), "/tmp/test_inbound_cfg.%d.ini", (int)getpid());
    cr_assert_not_null(fp = fopen(ini, "w"));
    fputs(text, fp);
    fclose(fp);
    log_open("t", LOG_TO_STDERR, 0);
    cr_assert_not_null(c = cfg_load(ini, &d));
    ic = inbound_cfg_load(c, &d);
    cfg_free(c);
    *errors = d.errors;
    return ic;
}

/* The configuration is refused and stderr names ini:LINE: and the text. */
static void refused(const char *text, int line, const char *msg)
{
    char want[300], got[4096];
    FILE *e;
    size_t n;
    int errors;

    cr_assert_null(load(text, &errors));
    cr_assert_geq(errors, 1);
    fflush(stderr);
    e = cr_get_redirected_stderr();
    n = fread(got, 1, sizeof(got) - 1, e);
    got[n] = 0;
    snprintf(want, sizeof(want), "%s:%d: %s", ini, line, msg);
    cr_assert(strstr(got, want) != NULL, "expected \"%s\" in \"%s\"", want, got);
    unlink(ini);
}

TestSuite(inbound_cfg, .init = cr_redirect_stderr);

Test(inbound_cfg, defaults_load)
{
    int errors;
    struct inbound_cfg *ic =
        load("[inbound]\nlocal_domains = a.example\n"
             "[inbound rule x]\nsender_domain = b.example\nverify = required\n",
             &errors);

    cr_assert_not_null(ic);
    cr_assert_eq(errors, 0);
    inbound_cfg_free(ic);
    unlink(ini);
}

Test(inbound_cfg, bad_require)
{
    refused("[inbound]\nlocal_domains = a.example\nrequire = valid, bogus\n", 3,
            "require: \"bogus\" is not one of: none, valid, trusted, not_revoked, status_known");
}

Test(inbound_cfg, bad_action_and_defer_only_for_unreachable)
{
    refused("[inbound]\non_fail = explode\n", 2, "on_fail: \"explode\" is not one of");
    refused("[inbound]\n\non_fail = defer\n", 3, "on_fail: defer is only for on_unreachable");
}

Test(inbound_cfg, unknown_key_and_section)
{
    refused("[inbound]\nverfy = required\n", 2, "unknown key \"verfy\" in [inbound]");
    refused("[inbound]\n[inbound rules x]\nverify = off\n", 3,
            "unknown section [inbound rules x] (expected [inbound rule NAME])");
}

Test(inbound_cfg, urls_checked)
{
    refused("[inbound]\nocsp_responder = ldap://x\n", 2,
            "ocsp_responder: \"ldap://x\" is not an http:// or https:// URL");
    refused("[inbound]\nkeyserver = ftp://x\n", 2, "keyserver: \"ftp://x\" is not an");
}

Test(inbound_cfg, world_readable_private_key_refused)
{
    char text[300], key[64], msg[200];
    FILE *fp;

    snprintf(key, sizeof(key), "/tmp/test_inbound_cfg.%d.key", (int)getpid());
    cr_assert_not_null(fp = fopen(key, "w"));
    fclose(fp);
    chmod(key, 0644);
    snprintf(text, sizeof(text), "[inbound]\nsmime_keypair = %s /etc/hostname\n", key);
    snprintf(msg, sizeof(msg),
             "smime_keypair: private key %s is accessible by group or others (mode 0644)", key);
    refused(text, 2, msg);
    chmod(key, 0640); /* group-readable: refused as well (one rule, lib/secretfile) */
    snprintf(msg, sizeof(msg),
             "smime_keypair: private key %s is accessible by group or others (mode 0640)", key);
    refused(text, 2, msg);
    unlink(key);
}

Test(inbound_cfg, hold_dir_must_be_absolute)
{
    refused("[inbound]\nhold_dir = spool/hold\n", 2, "hold_dir: must be an absolute path");
}

Test(inbound_cfg, timeout_range)
{
    refused("[inbound]\nstatus_timeout = 10m\n", 2, "status_timeout: 10m is out of range");
}

Test(inbound_cfg, missing_trust_anchor_file)
{
    refused("[inbound]\nca_file = /nonexistent/ca.pem\n", 2,
            "ca_file: /nonexistent/ca.pem: No such file or directory");
}

/* on_* = hold with nowhere to hold (no hold_dir, no [filter] hold_reinject)
 * is a configuration error on the line of each hold outcome; with either
 * one it is accepted. */
static int hold_check(const char *text, int have_hold_reinject)
{
    struct cfg_diag d = {0};
    struct inbound_cfg *ic;
    struct cfg *c;
    FILE *fp;

    snprintf(ini, sizeof(ini), "/tmp/test_inbound_cfg.%d.ini", (int)getpid());
    cr_assert_not_null(fp = fopen(ini, "w"));
    fputs(text, fp);
    fclose(fp);
    log_open("t", LOG_TO_STDERR, 0);
    cr_assert_not_null(c = cfg_load(ini, &d));
    cr_assert_not_null(ic = inbound_cfg_load(c, &d));
    inbound_cfg_hold_check(c, ic, have_hold_reinject, &d);
    inbound_cfg_free(ic);
    cfg_free(c);
    return d.errors;
}

Test(inbound_cfg, hold_needs_hold_dir_or_hold_reinject)
{
    const char *nowhere = "[inbound]\nlocal_domains = a.example\non_unreachable = hold\n"
                          "[inbound rule x]\nsender_domain = b.example\non_fail = HOLD\n"
                          "on_decrypt_fail = tag\n";
    char want[300], got[4096];
    FILE *e;
    size_t n;

    cr_assert_eq(hold_check(nowhere, 0), 2);
    fflush(stderr);
    e = cr_get_redirected_stderr();
    n = fread(got, 1, sizeof(got) - 1, e);
    got[n] = 0;
    snprintf(want, sizeof(want),
             "%s:3: on_unreachable = hold needs hold_dir = DIR in [inbound] or "
             "hold_reinject = HOST:PORT in [filter]",
             ini);
    cr_assert(strstr(got, want) != NULL, "expected \"%s\" in \"%s\"", want, got);
    snprintf(want, sizeof(want), "%s:6: on_fail = hold needs hold_dir", ini);
    cr_assert(strstr(got, want) != NULL, "expected \"%s\" in \"%s\"", want, got);
    cr_assert_eq(hold_check(nowhere, 1), 0, "refused although hold_reinject is set");
    cr_assert_eq(hold_check("[inbound]\nlocal_domains = a.example\non_fail = hold\n"
                            "hold_dir = /var/spool/postseal-hold\n",
                            0),
                 0, "refused although hold_dir is set");
    cr_assert_eq(hold_check("[inbound]\nlocal_domains = a.example\non_fail = reject\n", 0), 0);
    unlink(ini);
}

Test(inbound_cfg, signer_lookup_and_trust_wkd_are_booleans)
{
    refused("[inbound]\nlocal_domains = a.example\nsigner_lookup = maybe\n", 3,
            "signer_lookup: \"maybe\" is not yes or no");
    refused("[inbound]\nlocal_domains = a.example\ntrust_wkd = 2\n", 3,
            "trust_wkd: \"2\" is not yes or no");
}

/* signer_lookup = yes needs [keys] OpenPGP methods (keys_new on the same
 * file) and [inbound] gnupg_home: FILE:LINE of the signer_lookup line. */
Test(inbound_cfg, signer_lookup_yes_needs_keys_and_home)
{
    static const struct {
        const char *text;
        int error_line; /* 0: accepted */
    } cases[] = {
        {"[inbound]\nlocal_domains = a.example\ngnupg_home = /tmp\nsigner_lookup = yes\n", 4},
        {"[filter]\ngnupg_home = /tmp\n[keys]\nmethods = wkd\n"
         "[inbound]\nlocal_domains = a.example\nsigner_lookup = yes\n",
         7},
        {"[filter]\ngnupg_home = /tmp\n[keys]\nmethods = wkd\n"
         "[inbound]\nlocal_domains = a.example\ngnupg_home = /tmp\nsigner_lookup = yes\n",
         0},
        {"[inbound]\nlocal_domains = a.example\ngnupg_home = /tmp\n", 0}, /* default: off */
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct cfg_diag d = {0};
        struct inbound_cfg *ic;
        struct keys *k;
        struct cfg *c;
        char want[200], got[4096] = "";
        FILE *fp;
        size_t n;

        snprintf(ini, sizeof(ini), "/tmp/test_inbound_cfg.%d.ini", (int)getpid());
        cr_assert_not_null(fp = fopen(ini, "w"));
        fputs(cases[i].text, fp);
        fclose(fp);
        log_open("t", LOG_TO_STDERR, 0);
        cr_assert_not_null(c = cfg_load(ini, &d));
        cr_assert_not_null(k = keys_new(c, &d), "case %zu", i);
        cr_assert_not_null(ic = inbound_cfg_load(c, &d), "case %zu", i);
        inbound_cfg_set_keys(ic, k, &d);
        cr_assert_eq(d.errors, cases[i].error_line ? 1 : 0, "case %zu: %d errors", i, d.errors);
        if (cases[i].error_line) {
            fflush(stderr);
            n = fread(got, 1, sizeof(got) - 1, cr_get_redirected_stderr());
            got[n] = 0;
            snprintf(want, sizeof(want), "%s:%d: signer_lookup = yes needs gnupg_home", ini,
                     cases[i].error_line);
            cr_assert(strstr(got, want) != NULL, "case %zu: expected \"%s\" in \"%s\"", i, want,
                      got);
        }
        inbound_cfg_free(ic);
        keys_free(k);
        cfg_free(c);
        unlink(ini);
    }
}
