/* test_pgp_in: signer key discovery in pgp_in (the lookup hook): a detached
 * signature made by gpg over CRLF data, verified in an EMPTY gateway GnuPG
 * home; the hook imports keys with the real gpg like key discovery would.
 * Checked: the retry verifies with the imported key (valid, From matches,
 * trusted only with trust_wkd and key origin WKD); a key for the From
 * address with another fingerprint, no key, a temporary failure (the
 * key_unreachable mark) each say so; the hook runs once per message and
 * never without a From address. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "pgp_in.h"

static char dir[256], gw[300];
static struct status_cfg sc; /* status checks off: no keyserver */

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    return system(cmd);
}

#define GPG "gpg --batch --quiet --pinentry-mode loopback --passphrase '' --homedir"

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/test_pgp_in.%d", (int)getpid());
    snprintf(gw, sizeof(gw), "%s/gw", dir);
    cr_assert_eq(sh("rm -rf %s && mkdir -p -m 700 %s/signer %s/other %s", dir, dir, dir, gw), 0);
    /* alice's real key (signs), and another key claiming alice@a.test */
    cr_assert_eq(sh(GPG " %s/signer --quick-gen-key alice@a.test future-default default never "
                        "2>/dev/null && " GPG " %s/other --quick-gen-key alice@a.test "
                        "future-default default never 2>/dev/null",
                    dir, dir),
                 0);
    cr_assert_eq(sh(GPG " %s/signer --export alice@a.test >%s/signer.pgp && " GPG
                        " %s/other --export alice@a.test >%s/other.pgp",
                    dir, dir, dir, dir),
                 0);
    cr_assert_eq(sh("printf 'Content-Type: text/plain\\r\\n\\r\\nsigned text' >%s/data && " GPG
                    " %s/signer --detach-sign --armor -o %s/data.asc %s/data",
                    dir, dir, dir, dir),
                 0);
    memset(&sc, 0, sizeof(sc));
    log_open("test_pgp_in", LOG_TO_STDERR, 0);
}

static void teardown(void)
{
    sh("gpgconf --homedir %s/signer --kill all; gpgconf --homedir %s/other --kill all; "
       "gpgconf --homedir %s --kill all; rm -rf %s",
       dir, dir, gw, dir);
}

TestSuite(pgp_in, .init = setup, .fini = teardown, .timeout = 60);

/* The hook: imports a key file into the gateway home (as key discovery
 * would, with the WKD key origin) or fails as told. */
struct hook {
    int answer;      /* PGP_IN_LOOKUP_* */
    const char *key; /* "signer" or "other" */
    int calls;
    char addr[100];
};

static int lookup(void *arg, const char *addr, char *fpr, size_t fprlen, char *source,
                  size_t srclen, char *why, size_t whylen)
{
    struct hook *h = arg;
    char cmd[600];
    FILE *p;

    h->calls++;
    snprintf(h->addr, sizeof(h->addr), "%s", addr);
    if (h->answer != PGP_IN_LOOKUP_FOUND) {
        snprintf(why, whylen, "%s", h->answer == PGP_IN_LOOKUP_TEMP ? "wkd: HTTP 503" : "wkd: 404");
        return h->answer;
    }
    cr_assert_eq(sh(GPG " %s --import --key-origin wkd %s/%s.pgp 2>/dev/null", gw, dir, h->key), 0);
    snprintf(cmd, sizeof(cmd),
             "gpg --batch --homedir %s/%s --with-colons --list-keys | awk -F: '/^fpr/ { print "
             "$10; exit }'",
             dir, h->key);
    cr_assert_not_null(p = popen(cmd, "r"));
    cr_assert_not_null(fgets(fpr, (int)fprlen, p));
    fpr[strcspn(fpr, "\n")] = 0;
    pclose(p);
    snprintf(source, srclen, "test");
    return PGP_IN_LOOKUP_FOUND;
}

static void verify(struct hook *h, int trust_wkd, const char *from, struct inbound_sig *res)
{
    char why[200], path[400];
    struct pgp_in *pi = pgp_in_new(gw, &sc, why, sizeof(why));
    int sfd, dfd;

    cr_assert_not_null(pi, "%s", why);
    if (h)
        pgp_in_set_lookup(pi, lookup, h);
    pgp_in_set_trust_wkd(pi, trust_wkd);
    snprintf(path, sizeof(path), "%s/data.asc", dir);
    cr_assert((sfd = open(path, O_RDONLY)) >= 0);
    snprintf(path, sizeof(path), "%s/data", dir);
    cr_assert((dfd = open(path, O_RDONLY)) >= 0);
    pgp_in_verify(pi, sfd, dfd, from, res);
    close(sfd);
    close(dfd);
    pgp_in_free(pi);
}

Test(pgp_in, without_hook_the_key_is_not_available)
{
    struct inbound_sig res;

    verify(NULL, 1, "alice@a.test", &res);
    cr_assert(res.present && !res.valid);
    cr_assert(strstr(res.why, "not available") != NULL, "%s", res.why);
}

Test(pgp_in, found_key_verifies_once_imported)
{
    struct hook h = {PGP_IN_LOOKUP_FOUND, "signer", 0, ""};
    struct inbound_sig res;

    verify(&h, 1, "Alice@A.test", &res);
    cr_assert_eq(h.calls, 1);
    cr_assert_str_eq(h.addr, "Alice@A.test");
    cr_assert(res.valid && res.from_match, "%s", res.why);
    cr_assert_str_eq(res.signer, "alice@a.test");
    cr_assert(res.trusted, "a WKD-origin key with trust_wkd: trusted (%s)", res.why);
    cr_assert_eq(res.key_unreachable, 0);
}

Test(pgp_in, wkd_key_not_trusted_without_trust_wkd)
{
    struct hook h = {PGP_IN_LOOKUP_FOUND, "signer", 0, ""};
    struct inbound_sig res;

    verify(&h, 0, "alice@a.test", &res);
    cr_assert(res.valid && res.from_match, "%s", res.why);
    cr_assert(!res.trusted);
    cr_assert(strstr(res.why, "has no validity") != NULL, "%s", res.why);
}

Test(pgp_in, key_for_the_address_with_another_fingerprint)
{
    struct hook h = {PGP_IN_LOOKUP_FOUND, "other", 0, ""};
    struct inbound_sig res;

    verify(&h, 1, "alice@a.test", &res);
    cr_assert_eq(h.calls, 1, "looked up once, verified twice");
    cr_assert(!res.valid);
    cr_assert(strstr(res.why, "not available: the key found for <alice@a.test> is another key") !=
                  NULL,
              "%s", res.why);
    cr_assert_eq(res.key_unreachable, 0);
}

Test(pgp_in, no_key_found)
{
    struct hook h = {PGP_IN_LOOKUP_NONE, NULL, 0, ""};
    struct inbound_sig res;

    verify(&h, 1, "alice@a.test", &res);
    cr_assert(!res.valid);
    cr_assert(strstr(res.why, "not available: no key for <alice@a.test>: wkd: 404") != NULL, "%s",
              res.why);
    cr_assert_eq(res.key_unreachable, 0);
}

Test(pgp_in, temporary_failure_is_marked_unreachable)
{
    struct hook h = {PGP_IN_LOOKUP_TEMP, NULL, 0, ""};
    struct inbound_sig res;

    verify(&h, 1, "alice@a.test", &res);
    cr_assert(!res.valid);
    cr_assert_eq(res.key_unreachable, 1);
    cr_assert(strstr(res.why, "lookup of <alice@a.test> failed: wkd: HTTP 503") != NULL, "%s",
              res.why);
}

Test(pgp_in, no_from_address_no_lookup)
{
    struct hook h = {PGP_IN_LOOKUP_FOUND, "signer", 0, ""};
    struct inbound_sig res;

    verify(&h, 1, "", &res);
    cr_assert_eq(h.calls, 0);
    cr_assert(!res.valid);
    cr_assert(strstr(res.why, "no From address to look up") != NULL, "%s", res.why);
}
