/* test_keys: WKD hashing, [keys] validation, what the OpenPGP import keeps and
 * refuses, and the S/MIME certificate checks (no network: files from
 * tests/keys/mkdata.sh, made with gpg and openssl). */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keys_int.h"
#include "log.h"

#define DATA "tests/work/keys-data"

static char tmp[64];

static void setup(void)
{
    log_open("test_keys", LOG_TO_STDERR, 0);
    cr_assert_eq(system("sh tests/keys/mkdata.sh " DATA " >/dev/null"), 0);
    snprintf(tmp, sizeof(tmp), "/tmp/test_keys.XXXXXX");
    cr_assert_not_null(mkdtemp(tmp));
}

static void teardown(void)
{
    char cmd[200];

    snprintf(cmd, sizeof(cmd), "gpgconf --homedir %s/gnupg --kill gpg-agent 2>/dev/null; rm -rf %s",
             tmp, tmp);
    if (system(cmd) != 0)
        return;
}

static struct keys *load(const char *text, struct cfg_diag *d)
{
    char path[128];
    struct cfg *cfg;
    struct keys *k;
    FILE *fp;

    snprintf(path, sizeof(path), "%s/t.ini", tmp);
    cr_assert_not_null(fp = fopen(path, "w"));
    fputs(text, fp);
    fclose(fp);
    d->path = path;
    cr_assert_not_null(cfg = cfg_load(path, d));
    k = keys_new(cfg, d);
    cfg_free(cfg);
    return k;
}

/* A context whose gnupg_home is an empty directory in tmp. */
static struct keys *ctx(void)
{
    char text[512], home[128];
    struct cfg_diag d = {0};
    struct keys *k;

    snprintf(home, sizeof(home), "%s/gnupg", tmp);
    mkdir(home, 0700);
    snprintf(text, sizeof(text),
             "[filter]\ngnupg_home = %s\n[keys]\ncache_file =\nsmime_ca_file = " DATA "/ca.pem\n",
             home);
    k = load(text, &d);
    cr_assert_not_null(k);
    return k;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    char *buf = malloc(1 << 20);

    cr_assert_not_null(fp, "%s", path);
    *len = fread(buf, 1, 1 << 20, fp);
    fclose(fp);
    return buf;
}

static void fpr_of(const char *who, char *out)
{
    char path[128];
    FILE *fp;

    snprintf(path, sizeof(path), DATA "/%s.fpr", who);
    cr_assert_not_null(fp = fopen(path, "r"));
    cr_assert_not_null(fgets(out, 80, fp));
    out[strcspn(out, "\n")] = 0;
    fclose(fp);
}

TestSuite(keys, .init = setup, .fini = teardown);

/* The example of draft-koch-openpgp-webkey-service section 3.1. */
Test(keys, wkd_url_matches_the_draft_example)
{
    char adv[400], direct[400];

    cr_assert_eq(keys_wkd_urls("Joe.Doe@Example.ORG", adv, sizeof(adv), direct, sizeof(direct)), 0);
    cr_assert_str_eq(adv, "https://openpgpkey.example.org/.well-known/openpgpkey/example.org/hu/"
                          "iy9q119eutrkn8s1mk4r39qejnbu3n5q?l=Joe.Doe");
    cr_assert_str_eq(direct, "https://example.org/.well-known/openpgpkey/hu/"
                             "iy9q119eutrkn8s1mk4r39qejnbu3n5q?l=Joe.Doe");
}

/* Our hash equals GnuPG's own (gpg-wks-client) for assorted local parts. */
Test(keys, wkd_hash_equals_gnupg)
{
    static const char *addrs[] = {"alice@example.org", "ÄBC.x+tag@example.org",
                                  "openpgp-gateway@example.net", "a@b.c", NULL};
    int i;

    for (i = 0; addrs[i] != NULL; i++) {
        char cmd[300], want[100] = "", adv[400], direct[400], *h;
        FILE *p;

        snprintf(cmd, sizeof(cmd), "/usr/lib/gnupg/gpg-wks-client --print-wkd-hash '%s'", addrs[i]);
        cr_assert_not_null(p = popen(cmd, "r"));
        cr_assert_not_null(fgets(want, sizeof(want), p));
        pclose(p);
        want[strcspn(want, " ")] = 0;
        if (keys_wkd_urls(addrs[i], adv, sizeof(adv), direct, sizeof(direct)) < 0) {
            /* non-ASCII local parts are refused by our address check */
            cr_assert(strchr(addrs[i], '\xc3') != NULL, "%s refused", addrs[i]);
            continue;
        }
        h = strstr(direct, "/hu/") + 4;
        cr_assert_eq(strncmp(h, want, 32), 0, "%s: ours %.32s, gnupg %s", addrs[i], h, want);
    }
}

Test(keys, zbase32_bits)
{
    unsigned char in[5] = {0xff, 0, 0, 0, 0};
    char out[16];

    keys_zbase32(in, sizeof(in), out, sizeof(out));
    cr_assert_str_eq(out, "9hyyyyyy"); /* 11111 11100 00000... */
}

Test(keys, address_syntax)
{
    char l[128], d[256];

    cr_assert_eq(keys_addr_split("a.b+c@Ex-ample.ORG", l, sizeof(l), d, sizeof(d)), 0);
    cr_assert_str_eq(l, "a.b+c");
    cr_assert_str_eq(d, "ex-ample.org");
    cr_assert_eq(keys_addr_split("nodomain", l, sizeof(l), d, sizeof(d)), -1);
    cr_assert_eq(keys_addr_split("@example.org", l, sizeof(l), d, sizeof(d)), -1);
    cr_assert_eq(keys_addr_split("a b@example.org", l, sizeof(l), d, sizeof(d)), -1);
    cr_assert_eq(keys_addr_split("a@exa mple.org", l, sizeof(l), d, sizeof(d)), -1);
    cr_assert_eq(keys_addr_split("a@example..org", l, sizeof(l), d, sizeof(d)), -1);
    cr_assert_eq(keys_addr_split("a@b@example.org", l, sizeof(l), d, sizeof(d)), -1);
    cr_assert_eq(keys_addr_split("a@", l, sizeof(l), d, sizeof(d)), -1);
}

Test(keys, config_errors_name_the_line, .init = cr_redirect_stderr)
{
    struct cfg_diag d = {0};
    char pw[128], text[1024];
    FILE *fp;

    setup();
    snprintf(pw, sizeof(pw), "%s/pw", tmp);
    fp = fopen(pw, "w");
    fputs("secret\n", fp);
    fclose(fp);
    chmod(pw, 0644);
    snprintf(text, sizeof(text),
             "[keys]\n"
             "methods = wkd hkp smoke\n" /* 2: unknown method */
             "timeout = 5x\n"            /* 3 */
             "hkp_server = ftp://x\n"    /* 4 */
             "bogus = 1\n"               /* 5 */
             "[keys ldap corp]\n"        /* 6 */
             "uri = http://x\n"          /* 7 */
             "bind_password_file = %s\n" /* 8: group/other readable */
             "[keys domain example.org]\n"
             "pgp_key = 1234\n" /* 10 */
             "[keys nonsense]\n"
             "x = 1\n", /* 12 */
             pw);
    cr_assert_null(load(text, &d));
    fflush(stderr);
    {
        static const char *want[] = {
            "t.ini:2: methods: \"smoke\" is not one of",
            "t.ini:3: timeout: \"5x\" is not a time",
            "t.ini:4: hkp_server: \"ftp://x\" is not a hkp://",
            "t.ini:5: unknown key \"bogus\" in [keys]",
            "t.ini:7: uri: \"http://x\" is not an ldap://",
            "t.ini:8: bind_password_file: ",
            "is accessible by group or others",
            "t.ini:10: pgp_key: \"1234\" is not a full fingerprint",
            "t.ini:12: unknown section [keys nonsense]",
            "methods: wkd needs [filter] gnupg_home",
            "methods: hkp needs [filter] gnupg_home",
            "methods: hkp needs at least one hkp_server",
            "[keys ldap corp]: uri and base are required",
            NULL,
        };
        char all[8192];
        size_t n;
        FILE *err = cr_get_redirected_stderr();
        int i;

        n = fread(all, 1, sizeof(all) - 1, err);
        all[n] = 0;
        for (i = 0; want[i] != NULL; i++)
            cr_assert(strstr(all, want[i]) != NULL, "missing \"%s\"", want[i]);
        i--; /* two strings check one message */
        cr_assert_eq(d.errors, i, "errors %d", d.errors);
    }
}

Test(keys, config_defaults_are_valid)
{
    struct cfg_diag d = {0};
    struct keys *k = load("[keys]\n", &d);

    cr_assert_not_null(k);
    cr_assert_eq(k->nmethods, 0); /* local keys only */
    cr_assert_eq(k->timeout, 10);
    keys_free(k);
    k = load("[filter]\ngnupg_home = /tmp\n[keys]\nmethods = vks, wkd\nvks_server = "
             "https://keys.test:15043/\n"
             "hkp_server = hkp://pool.example\n",
             &d);
    cr_assert_not_null(k);
    cr_assert_eq(k->methods[0], KM_VKS);
    cr_assert_str_eq(k->vks[0], "https://keys.test:15043");
    cr_assert_str_eq(k->hkp[0], "http://pool.example:11371");
    keys_free(k);
}

static int import(struct keys *k, const char *who, const char *addr, char *fpr, char *why)
{
    char path[128];
    size_t len;
    char *data;
    int rc;

    snprintf(path, sizeof(path), DATA "/%s", who);
    data = slurp(path, &len);
    why[0] = 0;
    rc = keys_pgp_import(k, addr, "wkd", data, len, fpr, 80, why, 1024);
    free(data);
    return rc;
}

Test(keys, import_keeps_only_the_matching_user_id)
{
    struct keys *k = ctx();
    char fpr[80], want[80], why[1024], cmd[300], line[512];
    int other = 0, mine = 0;
    FILE *p;

    fpr_of("alice", want);
    cr_assert_eq(import(k, "alice.pgp", "alice@example.org", fpr, why), KR_FOUND, "%s", why);
    cr_assert_str_eq(fpr, want);
    snprintf(cmd, sizeof(cmd), "gpg --homedir %s --batch --with-colons --list-keys 2>/dev/null",
             k->gnupg_home);
    cr_assert_not_null(p = popen(cmd, "r"));
    while (fgets(line, sizeof(line), p) != NULL) {
        if (strncmp(line, "uid:", 4) == 0 && strstr(line, "alice@other.example"))
            other++;
        if (strncmp(line, "uid:", 4) == 0 && strstr(line, "alice@example.org"))
            mine++;
    }
    pclose(p);
    cr_assert_eq(mine, 1);
    cr_assert_eq(other, 0, "the other user ID reached the keyring");
    /* and the local lookup finds it now */
    {
        struct keys_result res;
        struct ferr err;

        cr_assert_eq(keys_find(k, "alice@example.org", KEYS_PGP, &res, &err), KEYS_FOUND, "%s",
                     res.why);
        cr_assert_str_eq(res.fpr, want);
        cr_assert(strstr(res.source, "local") != NULL, "%s", res.source);
        keys_result_clear(&res);
    }
    keys_free(k);
}

Test(keys, import_armored_answer)
{
    struct keys *k = ctx();
    char fpr[80], why[1024];

    cr_assert_eq(import(k, "alice.asc", "ALICE@example.org", fpr, why), KR_FOUND, "%s", why);
    keys_free(k);
}

Test(keys, import_refusals_say_why)
{
    static const struct {
        const char *file, *addr, *reason;
    } cases[] = {
        {"mallory.pgp", "alice@example.org",
         "has no user ID <alice@example.org> (it has: <mallory@example.org>)"},
        {"old.pgp", "old@example.org", "expired 2020-01-02"},
        {"rev.pgp", "rev@example.org", "is revoked"},
        {"nosub.pgp", "nosub@example.org", "has no usable encryption subkey"},
        {"garbage.bin", "alice@example.org", "no usable OpenPGP key data"},
    };
    struct keys *k = ctx();
    char fpr[80], why[1024];
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cr_assert_eq(import(k, cases[i].file, cases[i].addr, fpr, why), KR_NONE, "%s",
                     cases[i].file);
        cr_assert(strstr(why, cases[i].reason) != NULL, "%s: %s", cases[i].file, why);
    }
    /* nothing refused reached the keyring */
    {
        struct keys_result res;
        struct ferr err;

        cr_assert_eq(keys_find(k, "mallory@example.org", KEYS_PGP, &res, &err), KEYS_NONE);
        cr_assert_eq(res.kind, 0, "%s", res.why);
        cr_assert_eq(keys_find(k, "old@example.org", KEYS_PGP, &res, &err), KEYS_NONE);
    }
    keys_free(k);
}

static X509 *der(const char *name)
{
    char path[128];
    size_t len;
    char *buf;
    const unsigned char *p;
    X509 *c;

    snprintf(path, sizeof(path), DATA "/%s.der", name);
    buf = slurp(path, &len);
    p = (const unsigned char *)buf;
    c = d2i_X509(NULL, &p, (long)len);
    free(buf);
    cr_assert_not_null(c);
    return c;
}

Test(keys, smime_certificate_checks)
{
    static const struct {
        const char *cert, *reason;
    } cases[] = {
        {"bob", NULL},
        {"bobother", "is for eve@example.org, not bob@example.org"},
        {"bobeku", "extended key usage lacks emailProtection"},
        {"bobku", "key usage does not allow keyEncipherment"},
        {"bobevil", "chain does not verify"},
        {"bobsan", "is for carl@example.org, not bob@example.org"},
        {"bobsubj", NULL}, /* no SAN: subject emailAddress, any case */
    };
    struct keys *k = ctx();
    char why[1024];
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        X509 *c = der(cases[i].cert);
        int rc;

        why[0] = 0;
        rc = keys_smime_check(k, c, NULL, "bob@example.org", why, sizeof(why));
        if (cases[i].reason == NULL)
            cr_assert_eq(rc, KR_FOUND, "%s: %s", cases[i].cert, why);
        else {
            cr_assert_eq(rc, KR_NONE, "%s", cases[i].cert);
            cr_assert(strstr(why, cases[i].reason) != NULL, "%s: %s", cases[i].cert, why);
        }
        X509_free(c);
    }
    keys_free(k);
}
