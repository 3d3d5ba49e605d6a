/* test_publish: postseal-keys (filter/publish*.c) with real GnuPG and OpenSSL
 * data from tests/unit/fixtures/publish.sh.  Independent tools check what it
 * writes: gpg-wks-client (hash, layout, its own --install-key tree), gpg
 * --show-keys / --list-packets (user IDs, no secret packets), OpenSSL
 * (certificates parsed back out of the LDIF). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "cfg.h"
#include "keys.h"
#include "log.h"
#include "publish.h"

#define WKS "/usr/lib/gnupg/gpg-wks-client"
#define PROG "filter/postseal-keys"

static char fix[PATH_MAX];  /* fixtures (absolute) */
static char work[PATH_MAX]; /* per test */
static char out[16384];     /* output of the last run() */

static const char *pf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *pf(const char *fmt, ...)
{
    static char bufs[128][PATH_MAX]; /* rotating: a result stays valid for 128 calls */
    static int i;
    char *b = bufs[i++ % 128];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(b, sizeof(bufs[0]), fmt, ap);
    va_end(ap);
    return b;
}

/* Runs a shell command (test tools only, on test data); stdout+stderr in
 * out; returns the exit status. */
static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
    char cmd[8192];
    size_t n = 0;
    va_list ap;
    FILE *fp;
    int st;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    strncat(cmd, " 2>&1", sizeof(cmd) - strlen(cmd) - 1);
    fp = popen(cmd, "r");
    cr_assert_not_null(fp);
    while (n + 1 < sizeof(out) && (st = (int)fread(out + n, 1, sizeof(out) - n - 1, fp)) > 0)
        n += (size_t)st;
    out[n] = 0;
    st = pclose(fp);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    char *b;
    long n;

    if (fp == NULL)
        return NULL;
    fseek(fp, 0, SEEK_END);
    n = ftell(fp);
    rewind(fp);
    b = malloc((size_t)n + 1);
    cr_assert_not_null(b);
    cr_assert_eq(fread(b, 1, (size_t)n, fp), (size_t)n);
    b[n] = 0;
    fclose(fp);
    if (len)
        *len = (size_t)n;
    return b;
}

static const char *fpr_of(const char *name)
{
    static char b[4][80];
    static int i;
    char *s = slurp(pf("%s/%s.fpr", fix, name), NULL), *r = b[i++ % 4];

    cr_assert_not_null(s, "%s.fpr", name);
    snprintf(r, 80, "%.40s", s);
    free(s);
    return r;
}

static void setup(void)
{
    mkdir("tests/work", 0755);
    cr_assert(realpath("tests/work", fix) != NULL, "run from the repository root");
    strcat(fix, "/publish-fixtures");
    cr_assert_eq(system(pf("sh tests/unit/fixtures/publish.sh %s >%s.log 2>&1", fix, fix)), 0,
                 "fixture script failed, see %s.log", fix);
    snprintf(work, sizeof(work), "/tmp/ps-publish-test.XXXXXX");
    cr_assert_not_null(mkdtemp(work));
    log_open("test_publish", LOG_TO_STDERR, 0);
    /* gpg as a checking tool gets a home of its own, not ~/.gnupg */
    cr_assert_eq(mkdir(pf("%s/gpghome", work), 0700), 0);
    setenv("GNUPGHOME", pf("%s/gpghome", work), 1);
}

static void teardown(void)
{
    if (!getenv("PS_KEEP_WORK") && system(pf("rm -rf %s", work)) != 0)
        fprintf(stderr, "cleanup of %s failed\n", work);
}

TestSuite(publish, .init = setup, .fini = teardown, .timeout = 120);

/* The standard config; extra lines appended. */
static const char *conf(const char *extra)
{
    const char *path = pf("%s/p.ini", work);
    FILE *fp = fopen(path, "w");

    cr_assert_not_null(fp);
    fprintf(fp,
            "[publish]\ndomains = b.test\ngnupg_home = %s/gnupg\ngateway_key = %s\n"
            "smime_certs = %s/smime\nldif_base = ou=people,dc=b,dc=test\n%s",
            fix, fpr_of("gw"), fix, extra ? extra : "");
    fclose(fp);
    return path;
}

static const char *hu_adv(const char *dir, const char *addr)
{
    char local[128], domain[256], hash[40];

    cr_assert_eq(keys_addr_split(addr, local, sizeof(local), domain, sizeof(domain)), 0);
    keys_wkd_hash(local, hash, sizeof(hash));
    return pf("%s/openpgpkey.%s/.well-known/openpgpkey/%s/hu/%s", dir, domain, domain, hash);
}

static const char *hu_direct(const char *dir, const char *addr)
{
    char local[128], domain[256], hash[40];

    cr_assert_eq(keys_addr_split(addr, local, sizeof(local), domain, sizeof(domain)), 0);
    keys_wkd_hash(local, hash, sizeof(hash));
    return pf("%s/%s/.well-known/openpgpkey/hu/%s", dir, domain, hash);
}

static int exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0;
}

/* ---- the hash, against gpg-wks-client ------------------------------------------------- */

Test(publish, wkd_hash_matches_gpg_wks_client)
{
    static const char *const addrs[] = {
        "bob@b.test",   "Bob@b.test", "openpgp-gateway@b.test", "MiXeD.Case@b.test",
        "a+tag@b.test", "x@b.test",   "Joe.Doe@Example.ORG",    NULL};
    char local[128], domain[256], hash[40], want[128];
    int i;

    for (i = 0; addrs[i]; i++) {
        cr_assert_eq(run(WKS " --print-wkd-hash '%s'", addrs[i]), 0, "%s", out);
        cr_assert_eq(sscanf(out, "%127s", want), 1);
        cr_assert_eq(keys_addr_split(addrs[i], local, sizeof(local), domain, sizeof(domain)), 0);
        keys_wkd_hash(local, hash, sizeof(hash));
        cr_expect_str_eq(hash, want, "%s: ours %s, gpg-wks-client %s", addrs[i], hash, want);
    }
}

/* ---- the WKD tree --------------------------------------------------------------------- */

Test(publish, wkd_layout_both_methods_world_readable)
{
    const char *dir = pf("%s/wkd", work);
    struct stat st;

    cr_assert_eq(run(PROG " -c %s wkd -o %s", conf(NULL), dir), 0, "%s", out);
    cr_expect(exists(pf("%s/openpgpkey.b.test/.well-known/openpgpkey/b.test/policy", dir)));
    cr_expect(exists(pf("%s/b.test/.well-known/openpgpkey/policy", dir)));
    cr_expect(exists(hu_adv(dir, "bob@b.test")));
    cr_expect(exists(hu_direct(dir, "bob@b.test")));
    cr_expect(exists(hu_direct(dir, "openpgp-gateway@b.test")));
    cr_assert_eq(stat(dir, &st), 0);
    cr_expect_eq(st.st_mode & 07777, 0755, "top dir mode %o", st.st_mode & 07777);
    cr_assert_eq(stat(hu_adv(dir, "bob@b.test"), &st), 0);
    cr_expect_eq(st.st_mode & 07777, 0644, "file mode %o", st.st_mode & 07777);
    cr_assert_eq(stat(pf("%s/openpgpkey.b.test/.well-known/openpgpkey/b.test/hu", dir), &st), 0);
    cr_expect_eq(st.st_mode & 07777, 0755);
    /* same bytes for both methods */
    cr_assert_eq(run("cmp %s %s", hu_adv(dir, "bob@b.test"), hu_direct(dir, "bob@b.test")), 0);
    /* every published address: exactly these (find counts the hu files) */
    cr_assert_eq(run("ls %s/b.test/.well-known/openpgpkey/hu | wc -l", dir), 0);
    /* bob erin2 gina gw-admin henry openpgp-gateway */
    cr_expect_eq(atoi(out), 6, "hu files: %s", out);
    /* a user ID written Henry@B.Test is found under the lower-cased hash, kept as written */
    cr_assert_eq(run("gpg --show-keys --with-colons %s | grep ^uid | cut -d: -f10",
                     hu_adv(dir, "Henry@B.Test")),
                 0, "%s", out);
    cr_expect_str_eq(out, "Henry <Henry@B.Test>\n");
}

Test(publish, wkd_same_tree_as_gpg_wks_client_install_key)
{
    const char *dir = pf("%s/wkd", work);
    const char *wks = pf("%s/wks", work);
    char ours[sizeof(out)], theirs[sizeof(out)];

    cr_assert_eq(run(PROG " -c %s wkd -o %s", conf("wkd = advanced\n"), dir), 0, "%s", out);
    cr_expect(!exists(pf("%s/b.test", dir)), "wkd = advanced writes no direct tree");
    mkdir(wks, 0755);
    cr_assert_eq(run("gpg --homedir %s/gnupg --export '<bob@b.test>' >%s/bob.pgp", fix, work), 0);
    cr_assert_eq(run(WKS " -C %s --install-key %s/bob.pgp bob@b.test", wks, work), 0, "%s", out);
    /* gpg-wks-client's DOMAIN/hu/HASH = our openpgpkey.DOMAIN/.well-known/openpgpkey/DOMAIN/hu/HASH
     */
    cr_assert_eq(run("cd %s && find . -path '*/hu/*' | sort", wks), 0);
    snprintf(theirs, sizeof(theirs), "%s", out);
    cr_assert_eq(
        run("cd %s/openpgpkey.b.test/.well-known/openpgpkey && find . -path '*/hu/*' -name "
            "\"$(" WKS " --print-wkd-hash bob@b.test | cut -d' ' -f1)\" | sort",
            dir),
        0);
    snprintf(ours, sizeof(ours), "%s", out);
    cr_expect_str_eq(ours, theirs);
    cr_expect(strstr(theirs, "./b.test/hu/") != NULL, "%s", theirs);
    /* and the same user IDs in both files */
    cr_assert_eq(
        run("gpg --show-keys --with-colons %s/b.test/hu/* | grep ^uid | cut -d: -f10", wks), 0);
    snprintf(theirs, sizeof(theirs), "%s", out);
    cr_assert_eq(run("gpg --show-keys --with-colons %s | grep ^uid | cut -d: -f10",
                     hu_adv(dir, "bob@b.test")),
                 0);
    cr_expect_str_eq(out, theirs);
}

Test(publish, only_the_addresses_user_ids)
{
    const char *dir = pf("%s/wkd", work);

    cr_assert_eq(run(PROG " -c %s wkd -o %s", conf(NULL), dir), 0, "%s", out);
    cr_assert_eq(run("gpg --show-keys --with-colons %s | grep ^uid | cut -d: -f10",
                     hu_adv(dir, "bob@b.test")),
                 0);
    cr_expect_str_eq(out, "Bob <bob@b.test>\n");
    cr_assert_eq(run("gpg --show-keys --with-colons %s | grep ^uid | cut -d: -f10",
                     hu_adv(dir, "openpgp-gateway@b.test")),
                 0);
    cr_expect_str_eq(out, "Gateway <openpgp-gateway@b.test>\n", "gw-admin must not be in it");
    cr_assert_eq(run("gpg --show-keys --with-colons %s | grep ^uid | cut -d: -f10",
                     hu_adv(dir, "gw-admin@b.test")),
                 0);
    cr_expect_str_eq(out, "Gateway admin <gw-admin@b.test>\n");
    /* both of gina's keys, concatenated */
    cr_assert_eq(run("gpg --show-keys --with-colons %s | grep -c ^pub", hu_adv(dir, "gina@b.test")),
                 0);
    cr_expect_eq(atoi(out), 2);
    /* a foreign domain, another domain's user ID: nothing */
    cr_expect(!exists(hu_adv(dir, "bob@other.test")));
    cr_expect(!exists(pf("%s/openpgpkey.c.test", dir)));
    cr_assert_eq(run("grep -rl 'other.test' %s | wc -l", dir), 0);
    cr_expect_eq(atoi(out), 0, "bob@other.test leaked into the tree");
}

Test(publish, revoked_expired_and_unusable_skipped_with_reason)
{
    const char *dir = pf("%s/wkd", work);

    cr_assert_eq(run(PROG " -c %s wkd -o %s", conf(NULL), dir), 0, "%s", out);
    cr_expect(strstr(out, pf("skipped key %s for carol@b.test: key is revoked", fpr_of("carol"))),
              "%s", out);
    cr_expect(
        strstr(out, pf("skipped key %s for old@b.test: key expired 2020-01-02", fpr_of("old"))),
        "%s", out);
    cr_expect(
        strstr(out, pf("skipped key %s for erin@b.test: key: user ID <erin@b.test> is revoked",
                       fpr_of("erin"))),
        "%s", out);
    cr_expect(strstr(out, "for signer@b.test: key has no usable encryption subkey"), "%s", out);
    cr_expect(strstr(out, pf("skipped key %s for dis@b.test: key is disabled", fpr_of("dis"))),
              "%s", out);
    cr_expect(!exists(hu_adv(dir, "dis@b.test")));
    cr_expect(!exists(hu_adv(dir, "carol@b.test")));
    cr_expect(!exists(hu_adv(dir, "old@b.test")));
    cr_expect(!exists(hu_adv(dir, "erin@b.test")));
    cr_expect(!exists(hu_adv(dir, "signer@b.test")));
    cr_expect(exists(hu_adv(dir, "erin2@b.test")), "the key's other, valid user ID is published");
    /* erin2's file holds neither the revoked user ID nor its name */
    cr_assert_eq(run("gpg --list-packets %s | grep -c 'erin@b.test'", hu_adv(dir, "erin2@b.test")),
                 1);
}

Test(publish, keys_secret_versus_all)
{
    const char *dir = pf("%s/wkd", work);

    cr_assert_eq(run(PROG " -c %s wkd -o %s", conf(NULL), dir), 0, "%s", out);
    cr_expect(!exists(hu_adv(dir, "dave@b.test")), "keys = secret: dave has no secret here");
    cr_assert_eq(run(PROG " -c %s wkd -o %s", conf("keys = all\n"), dir), 0, "%s", out);
    cr_expect(exists(hu_adv(dir, "dave@b.test")), "keys = all publishes public keys: %s", out);
    cr_expect(exists(hu_adv(dir, "bob@b.test")));
}

Test(publish, secret_key_material_never_exported)
{
    const char *dir = pf("%s/wkd", work);
    char *sec, why[200];
    size_t len;

    cr_assert_eq(run(PROG " -c %s wkd -o %s", conf("keys = all\n"), dir), 0, "%s", out);
    cr_assert_eq(run("find %s -type f -path '*/hu/*' | wc -l", dir), 0);
    cr_assert_gt(atoi(out), 0);
    /* gpg's own packet listing of every published file */
    cr_assert_eq(run("find %s -type f -path '*/hu/*' -exec gpg --list-packets {} \\; | grep -c "
                     "'public key packet'",
                     dir),
                 0, "%s", out);
    cr_assert_gt(atoi(out), 0);
    cr_assert_eq(run("find %s -type f -path '*/hu/*' -exec gpg --list-packets {} \\; | grep -ci "
                     "'secret'",
                     dir),
                 1, "secret packets published: %s", out);
    /* the packet check refuses a real secret key export */
    cr_assert_eq(run("gpg --homedir %s/gnupg --batch --pinentry-mode loopback --passphrase x "
                     "--export-secret-keys '<bob@b.test>' >%s/sec.pgp",
                     fix, work),
                 0, "%s", out);
    run("gpgconf --homedir %s/gnupg --kill gpg-agent", fix); /* the export started one */
    sec = slurp(pf("%s/sec.pgp", work), &len);
    cr_assert_not_null(sec);
    cr_assert_gt(len, 0);
    cr_expect_eq(publish_pgp_public_only((unsigned char *)sec, len, why, sizeof(why)), -1);
    cr_expect(strstr(why, "secret key packet") != NULL, "%s", why);
    free(sec);
    sec = slurp(hu_adv(dir, "bob@b.test"), &len);
    cr_assert_not_null(sec);
    cr_expect_eq(publish_pgp_public_only((unsigned char *)sec, len, why, sizeof(why)), 0, "%s",
                 why);
    cr_expect_eq(publish_pgp_public_only((unsigned char *)sec, len - 1, why, sizeof(why)), -1);
    free(sec);
}

Test(publish, gateway_without_its_user_id_is_an_error_and_nothing_changes)
{
    const char *dir = pf("%s/wkd", work);
    const char *ini = pf("%s/bad.ini", work);
    FILE *fp;

    cr_assert_eq(run(PROG " -c %s wkd -o %s", conf(NULL), dir), 0, "%s", out);
    cr_assert_eq(run("ls -i -d %s", dir), 0);
    fp = fopen(ini, "w");
    cr_assert_not_null(fp);
    /* bob's key as the gateway key: it has no openpgp-gateway@ user ID */
    fprintf(fp, "[publish]\ndomains = b.test\ngnupg_home = %s/gnupg\ngateway_key = %s\n", fix,
            fpr_of("bob"));
    fclose(fp);
    cr_assert_eq(run(PROG " -c %s wkd -o %s", ini, dir), 1, "%s", out);
    cr_expect(strstr(out, pf("gateway key %s has no valid user ID <openpgp-gateway@b.test>",
                             fpr_of("bob"))),
              "%s", out);
    cr_expect(strstr(out, pf("gpg --homedir %s/gnupg --quick-add-uid %s openpgp-gateway@b.test",
                             fix, fpr_of("bob"))),
              "%s", out);
    cr_expect(exists(hu_adv(dir, "openpgp-gateway@b.test")), "the old tree stays");
    /* gateway_localpart moves the address */
    fp = fopen(ini, "a");
    cr_assert_not_null(fp);
    fprintf(fp, "gateway_localpart = bob\n");
    fclose(fp);
    cr_expect_eq(run(PROG " -c %s wkd -o %s", ini, dir), 0, "%s", out);
    /* a gateway key that is not there */
    fp = fopen(ini, "w");
    cr_assert_not_null(fp);
    fprintf(fp, "[publish]\ndomains = b.test\ngnupg_home = %s/gnupg\ngateway_key = %040d\n", fix,
            0);
    fclose(fp);
    cr_assert_eq(run(PROG " -c %s wkd -o %s", ini, dir), 1, "%s", out);
    cr_expect(strstr(out, pf("%s:4: gateway_key 0000000000000000000000000000000000000000 is not in",
                             ini)),
              "%s", out);
}

/* Root publishing a GnuPG home that belongs to the filter's user (nobody
 * here): the GnuPG part runs as that user, nothing in the home becomes
 * root's; that user itself may not publish a home of another user. */
Test(publish, home_of_another_user)
{
    const char *dir = pf("%s/wkd", work);
    const char *ini = pf("%s/nb.ini", work);
    FILE *fp;

    if (geteuid() != 0)
        cr_skip_test("needs root");
    cr_assert_eq(chmod(work, 0755), 0);
    cr_assert_eq(run("cp -a %s/gnupg %s/nb.gnupg && rm -f %s/nb.gnupg/S.* && chown -R nobody "
                     "%s/nb.gnupg",
                     fix, work, work, work),
                 0, "%s", out);
    fp = fopen(ini, "w");
    cr_assert_not_null(fp);
    fprintf(fp, "[publish]\ndomains = b.test\ngnupg_home = %s/nb.gnupg\ngateway_key = %s\n", work,
            fpr_of("gw"));
    fclose(fp);
    cr_assert_eq(run(PROG " -v -c %s wkd -o %s", ini, dir), 0, "%s", out);
    cr_expect(strstr(out, pf("gnupg_home %s/nb.gnupg belongs to nobody (uid 65534): read as that "
                             "user",
                             work)),
              "%s", out);
    cr_expect(strstr(out, "wkd: 6 address(es), 7 key(s)"), "%s", out);
    cr_expect(exists(hu_adv(dir, "bob@b.test")));
    /* nothing in the home is root's now */
    cr_assert_eq(run("find %s/nb.gnupg ! -user nobody | wc -l", work), 0);
    cr_expect_eq(atoi(out), 0, "files not owned by nobody in the home");
    /* root's own tree: identical key files */
    cr_assert_eq(run(PROG " -c %s wkd -o %s/wkd0", conf(NULL), work), 0, "%s", out);
    cr_expect_eq(run("diff -r %s %s/wkd0", dir, work), 0, "%s", out);
    /* nobody may not publish root's home */
    cr_expect_eq(run("setpriv --reuid=65534 --regid=65534 --clear-groups -- " PROG " -c %s --check",
                     conf(NULL)),
                 1);
    cr_expect(strstr(out, "belongs to root (uid 0), not to the user running postseal-keys (uid "
                          "65534)"),
              "%s", out);
}

/* ---- atomic replacement --------------------------------------------------------------- */

static int siblings(const char *parent)
{
    DIR *d = opendir(parent);
    struct dirent *e;
    int n = 0;

    cr_assert_not_null(d);
    while ((e = readdir(d)) != NULL)
        if (strstr(e->d_name, ".new.") || strstr(e->d_name, ".old.") || strstr(e->d_name, ".tmp"))
            n++;
    closedir(d);
    return n;
}

Test(publish, atomic_replacement_leaves_no_temporary_dirs)
{
    const char *dir = pf("%s/wkd", work);
    const char *stale = pf("%s/b.test/stale", dir);
    struct stat st1, st2;

    /* absent target */
    cr_assert_eq(run(PROG " -c %s wkd -o %s", conf(NULL), dir), 0, "%s", out);
    cr_expect_eq(siblings(work), 0);
    /* existing, non-empty: exchanged, the old tree removed */
    cr_assert_eq(stat(dir, &st1), 0);
    cr_assert_eq(run("touch %s", stale), 0);
    cr_assert_eq(run(PROG " -c %s wkd -o %s", conf(NULL), dir), 0, "%s", out);
    cr_assert_eq(stat(dir, &st2), 0);
    cr_expect_neq(st1.st_ino, st2.st_ino, "a new tree replaced the old one");
    cr_expect(!exists(stale), "old tree content is gone");
    cr_expect(exists(hu_adv(dir, "bob@b.test")));
    cr_expect_eq(siblings(work), 0, "no .wkd.new/.old left");
    /* an existing empty directory */
    cr_assert_eq(run("rm -rf %s && mkdir %s", dir, dir), 0);
    cr_assert_eq(run(PROG " -c %s wkd -o %s", conf(NULL), dir), 0, "%s", out);
    cr_expect(exists(hu_adv(dir, "bob@b.test")));
    cr_expect_eq(siblings(work), 0);
    /* a file in the way: refused, left alone, no temp dirs */
    cr_assert_eq(run("rm -rf %s && echo keep >%s", dir, dir), 0);
    cr_expect_eq(run(PROG " -c %s wkd -o %s", conf(NULL), dir), 1);
    cr_expect(strstr(out, "exists and is not a directory") != NULL, "%s", out);
    cr_expect_eq(siblings(work), 0);
    cr_assert_eq(run("cat %s", dir), 0);
    cr_expect_str_eq(out, "keep\n");
}

/* A file system that refuses RENAME_EXCHANGE (simulated: renameat2 fails
 * with EINVAL through an LD_PRELOAD shim): two renames, same result. */
Test(publish, exchange_refused_falls_back_to_two_renames)
{
    const char *dir = pf("%s/wkd", work);
    const char *shim = pf("%s/shim.so", work);
    FILE *fp = fopen(pf("%s/shim.c", work), "w");

    cr_assert_not_null(fp);
    fputs("#include <errno.h>\n"
          "int renameat2(int a, const char *b, int c, const char *d, unsigned f)\n"
          "{ (void)a; (void)b; (void)c; (void)d; (void)f; errno = EINVAL; return -1; }\n",
          fp);
    fclose(fp);
    cr_assert_eq(run("cc -shared -fPIC -o %s %s/shim.c", shim, work), 0, "%s", out);
    cr_assert_eq(run(PROG " -c %s wkd -o %s", conf(NULL), dir), 0, "%s", out);
    cr_assert_eq(run("touch %s/b.test/stale", dir), 0);
    cr_assert_eq(run("LD_PRELOAD=%s " PROG " -v -c %s wkd -o %s", shim, conf(NULL), dir), 0, "%s",
                 out);
    cr_expect(strstr(out, "the file system cannot exchange directories (Invalid argument): two "
                          "renames"),
              "%s", out);
    cr_expect(!exists(pf("%s/b.test/stale", dir)), "old tree replaced");
    cr_expect(exists(hu_adv(dir, "bob@b.test")));
    cr_expect_eq(siblings(work), 0, "no .wkd.new/.old left");
}

Test(publish, fs_replace_dir_and_file_directly)
{
    char tmp[PATH_MAX];
    const char *target = pf("%s/t", work);

    cr_assert_eq(publish_fs_tmpdir(target, tmp, sizeof(tmp)), 0);
    cr_expect(strstr(tmp, "/.t.new.") != NULL, "%s", tmp);
    cr_assert_eq(publish_fs_mkdirs(pf("%s/a/b/c", tmp)), 0);
    cr_assert_eq(publish_fs_write(pf("%s/a/b/c/f", tmp), "x", 1), 0);
    cr_expect_eq(publish_fs_write(pf("%s/a/b/c/f", tmp), "y", 1), -1, "O_EXCL");
    cr_assert_eq(publish_fs_replace_dir(tmp, target), 0);
    cr_expect(exists(pf("%s/a/b/c/f", target)));
    cr_expect(!exists(tmp));
    /* a link planted at FILE.tmp is not written through */
    cr_assert_eq(run("echo victim >%s/victim && ln -s %s/victim %s/file.tmp", work, work, work), 0);
    cr_assert_eq(publish_fs_replace_file(pf("%s/file", work), "hello\n", 6), 0);
    cr_assert_eq(run("cat %s/victim", work), 0);
    cr_expect_str_eq(out, "victim\n");
    cr_expect(!exists(pf("%s/file.tmp", work)));
    cr_assert_eq(run("cat %s/file", work), 0);
    cr_expect_str_eq(out, "hello\n");
}

/* ---- configuration -------------------------------------------------------------------- */

static int check_conf(const char *text)
{
    const char *ini = pf("%s/c.ini", work);
    FILE *fp = fopen(ini, "w");

    cr_assert_not_null(fp);
    fputs(text, fp);
    fclose(fp);
    return run(PROG " -c %s --check", ini);
}

Test(publish, config_errors_name_file_and_line)
{
    const char *ini = pf("%s/c.ini", work);

    cr_expect_eq(check_conf("[publish]\ndomains = b.test\nkeys = some\n"), 78);
    cr_expect(strstr(out, pf("%s:3: keys: \"some\" is not one of: secret, all", ini)), "%s", out);
    cr_expect_eq(check_conf("[publish]\ndomains = b.test\nbogus = 1\n"), 78);
    cr_expect(strstr(out, pf("%s:3: unknown key \"bogus\" in [publish]", ini)), "%s", out);
    cr_expect_eq(check_conf("[global]\n[publish]\nwkd_dir = /srv/wkd\n"), 78);
    cr_expect(strstr(out, pf("%s:3: [publish]: domains = DOMAIN, ... is required", ini)), "%s",
              out);
    cr_expect_eq(check_conf("[publish]\ndomains = b.test\ngateway_key = 12AB\n"), 78);
    cr_expect(strstr(out, pf("%s:3: gateway_key: \"12AB\" is not a fingerprint", ini)), "%s", out);
    cr_expect_eq(check_conf("[publish]\ndomains = b.test\nwkd = sideways\n"), 78);
    cr_expect(strstr(out, pf("%s:3: wkd: \"sideways\" is not advanced or direct", ini)), "%s", out);
    cr_expect_eq(check_conf("[publish]\ndomains = b.test\nwkd_dir = relative/dir\n"), 78);
    cr_expect(strstr(out, pf("%s:3: wkd_dir: \"relative/dir\" is not an absolute path", ini)), "%s",
              out);
    cr_expect_eq(check_conf("[publish]\ndomains = b.test\nkeys = all\nkeys = secret\n"), 78);
    cr_expect(strstr(out, pf("%s:4: keys: given twice (first at line 3)", ini)), "%s", out);
    cr_expect_eq(check_conf("[publish]\ndomains = b..test, ok.test\n"), 78);
    cr_expect(strstr(out, pf("%s:2: domains: \"b..test\" is not a domain name", ini)), "%s", out);
    cr_expect_eq(check_conf("[publish]\ndomains = b.test\n[publish extra]\nx = 1\n"), 78);
    cr_expect(strstr(out, pf("%s:4: unknown section [publish extra]", ini)), "%s", out);
    cr_expect_eq(check_conf("[publish]\ndomains = b.test\nsmime_certs = /nonexistent/x.pem\n"), 78);
    cr_expect(strstr(out, pf("%s:3: smime_certs: /nonexistent/x.pem: No such file", ini)), "%s",
              out);
    cr_expect_eq(check_conf("[publish]\ndomains = b.test\nldif_base = people\n"), 78);
    cr_expect(strstr(out, pf("%s:3: ldif_base: \"people\" is not a DN", ini)), "%s", out);
    cr_expect_eq(check_conf("[pubish]\ndomains = b.test\n"), 78);
    cr_expect(strstr(out, pf("%s:2: unknown section [pubish]", ini)), "%s", out);
    cr_expect_eq(check_conf("[global]\n"), 78);
    cr_expect(strstr(out, "no [publish] section") != NULL, "%s", out);
    /* --check: where the outputs go must exist */
    cr_expect_eq(check_conf("[publish]\ndomains = b.test\nwkd_dir = /nonexistent/wkd\n"), 1);
    cr_expect(strstr(out, pf("%s:3: wkd_dir: /nonexistent: No such file", ini)), "%s", out);
    cr_expect(strstr(out, "configuration OK") == NULL, "%s", out);
    /* and a good one */
    cr_expect_eq(check_conf("[publish]\ndomains = b.test, C.Test\n"), 0, "%s", out);
    cr_expect(strstr(out, "configuration OK") != NULL, "%s", out);
}

Test(publish, defaults_from_the_other_sections)
{
    struct cfg_diag diag = {0};
    struct publish_conf *pc;
    struct cfg *cfg;
    const char *ini = pf("%s/d.ini", work);
    FILE *fp = fopen(ini, "w");

    cr_assert_not_null(fp);
    fprintf(fp,
            "[filter]\ngnupg_home = /filter/home\n[inbound]\ngnupg_home = /inbound/home\n"
            "smime_keypair = %s/smime/keyed.key %s/smime/alice.pem\n[keys]\n"
            "gateway_localpart = pgp-gw\n[publish]\ndomains = b.test\n",
            fix, fix);
    fclose(fp);
    cfg = cfg_load(ini, &diag);
    cr_assert_not_null(cfg);
    pc = publish_conf_load(cfg, &diag);
    cr_assert_not_null(pc);
    cr_expect_str_eq(pc->gnupg_home, "/inbound/home");
    cr_expect_eq(pc->gnupg_home_line, 4);
    cr_expect_str_eq(pc->gateway_localpart, "pgp-gw");
    cr_expect_eq(pc->nsmime, 1);
    cr_expect_str_eq(pc->smime_certs[0], pf("%s/smime/alice.pem", fix), "the cert, never the key");
    cr_expect(pc->wkd_advanced && pc->wkd_direct);
    cr_expect_eq(pc->keys_all, 0);
    publish_conf_free(pc);
    cfg_free(cfg);
}

Test(publish, other_programs_accept_the_section_typos_still_caught)
{
    struct cfg_diag diag = {0};
    struct cfg *cfg;
    const char *ini = pf("%s/o.ini", work);
    FILE *fp = fopen(ini, "w");

    cr_assert_not_null(fp);
    fputs("[publish]\ndomains = b.test\n[publsh]\nx = 1\n", fp);
    fclose(fp);
    cfg = cfg_load(ini, &diag);
    cr_assert_not_null(cfg);
    cfg_check_owners(cfg, &diag);
    cr_expect_eq(diag.errors, 1, "only [publsh] is unknown");
    cfg_free(cfg);
    /* postseal-filter --check does not trip over [publish] */
    fp = fopen(ini, "w");
    fputs("[publish]\ndomains = b.test\n[filter]\n", fp);
    fclose(fp);
    run("filter/postseal-filter -c %s --check", ini);
    cr_expect(strstr(out, "unknown section") == NULL, "%s", out);
}

/* ---- LDIF ----------------------------------------------------------------------------- */

/* Unfolds LDIF (RFC 2849) and collects the userCertificate;binary values
 * of the entry whose dn is dn. */
static int ldif_certs(const char *text, const char *dn, X509 **certs, int max)
{
    char *copy = strdup(text), *u = malloc(strlen(text) + 1), *line, *save = NULL;
    size_t o = 0;
    const char *p;
    int in = 0, n = 0;

    cr_assert(copy && u);
    for (p = text; *p; p++) { /* unfold: drop "\n " */
        if (p[0] == '\n' && p[1] == ' ') {
            p++;
            continue;
        }
        u[o++] = *p;
    }
    u[o] = 0;
    for (line = strtok_r(u, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "dn: ", 4) == 0)
            in = strcmp(line + 4, dn) == 0;
        else if (in && strncmp(line, "userCertificate;binary:: ", 25) == 0 && n < max) {
            unsigned char der[8192];
            const unsigned char *dp = der;
            const char *b64 = line + 25;
            size_t bl = strlen(b64);
            int len = EVP_DecodeBlock(der, (const unsigned char *)b64, (int)bl);

            cr_assert_gt(len, 0);
            len -= (bl > 0 && b64[bl - 1] == '=') + (bl > 1 && b64[bl - 2] == '=');
            certs[n] = d2i_X509(NULL, &dp, len);
            cr_assert_not_null(certs[n], "not a DER certificate in %s", dn);
            n++;
        }
    }
    free(copy);
    free(u);
    return n;
}

static X509 *pem_cert(const char *path, int index)
{
    FILE *fp = fopen(path, "r");
    X509 *x = NULL;
    int i;

    cr_assert_not_null(fp, "%s", path);
    for (i = 0; i <= index; i++) {
        X509_free(x);
        x = PEM_read_X509(fp, NULL, NULL, NULL);
    }
    fclose(fp);
    cr_assert_not_null(x);
    return x;
}

Test(publish, ldif_entries_parse_back_to_the_certificates)
{
    const char *file = pf("%s/out.ldif", work);
    X509 *got[8], *want;
    char *text;
    int n, i;

    cr_assert_eq(run(PROG " -c %s ldif -o %s", conf(NULL), file), 0, "%s", out);
    cr_expect(strstr(out, "skipped certificate") != NULL);
    cr_expect(strstr(out, pf("skipped certificate %s/smime/expired.pem for expired@b.test: expired",
                             fix)),
              "%s", out);
    cr_expect(strstr(out, pf("skipped certificate %s/smime/notyet.pem for notyet@b.test: not "
                             "valid before",
                             fix)),
              "%s", out);
    cr_expect(strstr(out, pf("skipped certificate %s/smime/foreign.pem for x@c.test: not in "
                             "[publish] domains",
                             fix)),
              "%s", out);
    cr_expect(strstr(out, pf("skipped %s/smime/withkey.pem: it holds a private key", fix)), "%s",
              out);
    cr_expect(!exists(pf("%s.tmp", file)));
    text = slurp(file, NULL);
    cr_assert_not_null(text);
    cr_expect(strstr(text, "PRIVATE") == NULL);
    cr_expect(strstr(text, "keyed@") == NULL,
              "the certificate of a file with a key is skipped too");
    cr_expect(strstr(text, "expired@") == NULL);
    cr_expect(strstr(text, "notyet@") == NULL);
    cr_expect(strstr(text, "c.test") == NULL);
    cr_expect(strstr(text,
                     "dn: mail=alice@b.test,ou=people,dc=b,dc=test\nobjectClass: top\n"
                     "objectClass: inetOrgPerson\ncn: Alice\nsn: alice\nmail: alice@b.test\n"),
              "%s", text);
    /* alice: her certificate, byte for byte */
    n = ldif_certs(text, "mail=alice@b.test,ou=people,dc=b,dc=test", got, 8);
    cr_assert_eq(n, 1);
    want = pem_cert(pf("%s/smime/alice.pem", fix), 0);
    cr_expect_eq(X509_cmp(got[0], want), 0);
    X509_free(want);
    X509_free(got[0]);
    /* ivy: her certificate, then the intermediate from the same file */
    n = ldif_certs(text, "mail=ivy@b.test,ou=people,dc=b,dc=test", got, 8);
    cr_assert_eq(n, 2);
    for (i = 0; i < 2; i++) {
        want = pem_cert(pf("%s/smime/ivy.pem", fix), i);
        cr_expect_eq(X509_cmp(got[i], want), 0, "certificate %d", i);
        X509_free(want);
        X509_free(got[i]);
    }
    /* subject emailAddress only, lower-cased */
    n = ldif_certs(text, "mail=subj@b.test,ou=people,dc=b,dc=test", got, 8);
    cr_assert_eq(n, 1);
    X509_free(got[0]);
    /* RFC 4514: '+' escaped in the DN, plain in mail: */
    n = ldif_certs(text, "mail=a\\+tag@b.test,ou=people,dc=b,dc=test", got, 8);
    cr_expect_eq(n, 1, "%s", text);
    if (n == 1)
        X509_free(got[0]);
    cr_expect(strstr(text, "\nmail: a+tag@b.test\n") != NULL);
    cr_expect(strstr(text, "\ncn: Plus, Tag\n") != NULL);
    cr_assert_eq(run("grep -c '^dn: ' %s", file), 0);
    cr_expect_eq(atoi(out), 4);
    /* no line longer than 76 columns */
    cr_assert_eq(run("awk 'length > 76' %s | wc -l", file), 0);
    cr_expect_eq(atoi(out), 0);
    free(text);
}

Test(publish, ldif_to_stdout_and_requires_base)
{
    const char *ini = pf("%s/l.ini", work);
    FILE *fp;

    cr_assert_eq(run(PROG " -c %s ldif -o - | grep -c '^dn: '", conf(NULL)), 0, "%s", out);
    cr_expect_eq(atoi(out), 4);
    fp = fopen(ini, "w");
    fprintf(fp, "[publish]\ndomains = b.test\nsmime_certs = %s/smime/alice.pem\n", fix);
    fclose(fp);
    cr_expect_eq(run(PROG " -c %s ldif -o %s/x.ldif", ini, work), 78);
    cr_expect(strstr(out, "ldif_base = DN is required") != NULL, "%s", out);
    /* a malformed certificate file is an error naming it */
    cr_assert_eq(
        run("printf -- '-----BEGIN CERTIFICATE-----\\nAAAA\\n-----END CERTIFICATE-----\\n' "
            ">%s/bad.pem",
            work),
        0);
    fp = fopen(ini, "w");
    fprintf(fp, "[publish]\ndomains = b.test\nsmime_certs = %s/bad.pem\nldif_base = o=x\n", work);
    fclose(fp);
    cr_expect_eq(run(PROG " -c %s ldif -o %s/x.ldif", ini, work), 1);
    cr_expect(strstr(out, pf("%s/bad.pem: malformed certificate #1", work)), "%s", out);
    cr_expect(!exists(pf("%s/x.ldif", work)));
}

Test(publish, usage_errors)
{
    cr_expect_eq(run(PROG " -c %s", conf(NULL)), 2);
    cr_expect_eq(run(PROG " -c %s frobnicate", conf(NULL)), 2);
    cr_expect_eq(run(PROG " -c %s --check wkd", conf(NULL)), 2);
    cr_expect_eq(run(PROG " -c %s wkd", conf(NULL)), 78, "no wkd_dir and no -o");
    cr_expect(strstr(out, "set [publish] wkd_dir or give -o DIR") != NULL, "%s", out);
    cr_expect_eq(run(PROG " -c %s/none.ini --check", work), 78);
    cr_expect(strstr(out, "cannot open") != NULL, "%s", out);
}
