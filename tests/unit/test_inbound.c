/* test_inbound: inbound decryption, verification, certificate status and
 * policy on messages made by independent tools (openssl cms, gpg, gpgsm;
 * tests/inbound/mkfix.sh), against real loopback servers: the openssl ocsp
 * responder and a static HTTP server for CRLs and the VKS keyserver
 * (tests/inbound/httpd.py).  Ports: free ones from the kernel, never fixed
 * (see inbound_fx.h). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "inbound.h"
#include "inbound_fx.h"
#include "log.h"
#include "status.h"

#include <openssl/pem.h>

static char fx[512];   /* fixture directory */
static char home[600]; /* per-test copy of the gateway's GnuPG home */
static int port_ocsp, port_http, port_hang;
static pid_t servers[4];
static int nservers;
static char *outs[8];             /* outputs of run(), freed by teardown */
static int run_no_hold_dir;       /* run(): leave hold_dir out */
static const char *run_keyserver; /* run(): instead of the VKS keyserver line */
static int nouts;

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    cr_assert_eq(system(cmd), 0, "command failed: %s", cmd);
}

static void setup(void)
{
    char cwd[400];

    cr_assert_not_null(getcwd(cwd, sizeof(cwd)));
    snprintf(fx, sizeof(fx), "%s/tests/work/inbound", cwd);
    fx_build(fx, &port_ocsp, &port_http);
    port_hang = fx_free_port();
    snprintf(home, sizeof(home), "%s/h.%d", fx, (int)getpid());
    sh("rm -rf %s && cp -a %s/gpg-gw %s && rm -f %s/S.*", home, fx, home, home);
    log_open("test_inbound", LOG_TO_STDERR, 0);
    status_cache_clear();
}

static void teardown_servers(void)
{
    int i;

    for (i = 0; i < nservers; i++) {
        kill(servers[i], SIGTERM);
        waitpid(servers[i], NULL, 0);
    }
    nservers = 0;
}

static void teardown(void)
{
    int i;

    teardown_servers();
    for (i = 0; i < nouts; i++)
        free(outs[i]);
    nouts = 0;
    if (home[0])
        sh("GNUPGHOME=%s gpgconf --kill all >/dev/null 2>&1; GNUPGHOME=%s/gpg-alice gpgconf --kill "
           "all >/dev/null 2>&1; rm -rf %s %s/hold.%d",
           home, fx, home, fx, (int)getpid());
}

static void wait_port(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    int i;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (i = 0; i < 300; i++) {
        int s = socket(AF_INET, SOCK_STREAM, 0);

        if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
            close(s);
            return;
        }
        close(s);
        usleep(50000);
    }
    cr_assert_fail("server on port %d did not start", port);
}

/* mode: "ocsp" (responder signing with the delegated OCSP cert), "badocsp"
 * (signing with alice's key: not authorized), "www", "stale" (a CRL past
 * nextUpdate), "hang". */
static void start(const char *mode)
{
    char p[16], www[600], dir[600];
    int port;
    pid_t pid;

    if (strcmp(mode, "ocsp") == 0 || strcmp(mode, "replay") == 0)
        port = port_ocsp;
    else if (strcmp(mode, "badocsp") == 0)
        port = port_ocsp;
    else if (strcmp(mode, "hang") == 0)
        port = port_hang;
    else
        port = port_http;
    snprintf(p, sizeof(p), "%d", port);
    snprintf(www, sizeof(www), "%s/%s", fx, strcmp(mode, "stale") == 0 ? "www-stale" : "www");
    snprintf(dir, sizeof(dir), "%s", fx);
    pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        if (strcmp(mode, "ocsp") == 0)
            execlp("python3", "python3", "tests/inbound/httpd.py", p, www, "--ocsp", dir, "ocsp",
                   (char *)NULL);
        else if (strcmp(mode, "badocsp") == 0)
            execlp("python3", "python3", "tests/inbound/httpd.py", p, www, "--ocsp", dir, "alice",
                   (char *)NULL);
        else if (strcmp(mode, "hang") == 0)
            execlp("python3", "python3", "tests/inbound/httpd.py", p, www, "--hang", (char *)NULL);
        else if (strcmp(mode, "replay") == 0)
            execlp("python3", "python3", "tests/inbound/httpd.py", p, www, "--ocsp", dir, "ocsp",
                   "--replay", (char *)NULL);
        else
            execlp("python3", "python3", "tests/inbound/httpd.py", p, www, (char *)NULL);
        _exit(127);
    }
    servers[nservers++] = pid;
    wait_port(port);
}

struct run {
    int rc;
    char *out;
    struct inbound_result res;
    struct ferr err;
};

/* Runs inbound_process on fixture message NAME with [inbound] + extra. */
static void run(const char *name, const char *sender, const char *extra, struct run *r)
{
    char ini[700], path[700], text[4096];
    struct cfg_diag d = {0};
    struct inbound_cfg *ic;
    struct cfg *c;
    struct stat st;
    const char *rcpt[] = {"bob@local.example"};
    size_t len = 0;
    FILE *fp, *out;
    int fd;

    char ks[200];

    if (run_keyserver)
        snprintf(ks, sizeof(ks), "%s", run_keyserver);
    else
        snprintf(ks, sizeof(ks), "keyserver = http://127.0.0.1:%d", port_http);
    snprintf(ini, sizeof(ini), "%s/t.%d.ini", fx, (int)getpid());
    snprintf(text, sizeof(text),
             "[inbound]\nlocal_domains = local.example\ngnupg_home = %s\n"
             "smime_keypair = %s/bob.key %s/bob.pem\nca_file = %s/ca.pem\n"
             "%s\nstatus_timeout = 2s\n%s%s/hold.%d\n%s\n",
             home, fx, fx, fx, ks, run_no_hold_dir ? "# hold_dir = " : "hold_dir = ", fx,
             (int)getpid(), extra ? extra : "");
    cr_assert_not_null(fp = fopen(ini, "w"));
    fputs(text, fp);
    fclose(fp);
    snprintf(path, sizeof(path), "mkdir -p %s/hold.%d", fx, (int)getpid());
    sh("%s", path);
    cr_assert_not_null(c = cfg_load(ini, &d));
    cr_assert_not_null(ic = inbound_cfg_load(c, &d), "config refused");
    snprintf(path, sizeof(path), "%s/msg/%s.eml", fx, name);
    cr_assert((fd = open(path, O_RDONLY)) >= 0, "%s", path);
    fstat(fd, &st);
    r->out = NULL;
    out = open_memstream(&r->out, &len);
    r->rc = inbound_process(ic, fd, 0, st.st_size, sender, rcpt, 1, out, &r->res, &r->err);
    fclose(out);
    if (nouts < 8)
        outs[nouts++] = r->out;
    close(fd);
    inbound_cfg_free(ic);
    cfg_free(c);
    unlink(ini);
}

static int count(const char *hay, const char *needle)
{
    int n = 0;

    for (; (hay = strstr(hay, needle)) != NULL; hay++)
        n++;
    return n;
}

#define HAS(r, s) cr_assert(strstr((r).out, s) != NULL, "missing \"%s\" in:\n%s", s, (r).out)
#define HASNT(r, s) cr_assert(strstr((r).out, s) == NULL, "unexpected \"%s\" in:\n%s", s, (r).out)
#define VERIFY(r, s)                                                                               \
    cr_assert(strncmp((r).res.verify, s, strlen(s)) == 0, "verify is \"%s\", expected \"%s\"",     \
              (r).res.verify, s)

TestSuite(inbound, .init = setup, .fini = teardown, .timeout = 60);

/* ---- S/MIME signatures and certificate status ---- */

Test(inbound, smime_signed_valid_ocsp_good_forged_header_removed)
{
    struct run r;

    start("ocsp");
    start("www");
    run("smime-signed-alice", "alice@ext.example", NULL, &r);
    cr_assert_eq(r.rc, FERR_OK, "%s", r.err.text);
    VERIFY(r, "valid; method=smime; signer=\"alice@ext.example\"; status=good (ocsp)");
    cr_assert_eq(count(r.out, "X-Postseal-Verify:"), 1);
    HASNT(r, "forged=yes");
    cr_assert(strncmp(r.out, "X-Postseal-Verify: valid;", 25) == 0);
    HAS(r, "the secret plan is ready");
}

/* No fixed ports: with every port of the e2e harness's range taken
 * (PS_PORT_BASE..+99, default 10025, where the old fixed ports 10085-10088
 * lay), as when the e2e suite or another service runs at the same time, the
 * OCSP check still reaches our own responder. */
Test(inbound, servers_avoid_busy_e2e_ports)
{
    const char *pb = getenv("PS_PORT_BASE");
    int base = pb ? atoi(pb) : 10025, squat[100], n = 0, i;
    struct run r;

    for (i = 0; i < 100; i++) {
        int s = fx_bind(base + i);

        if (s >= 0 && listen(s, 16) == 0)
            squat[n++] = s;
        else if (s >= 0)
            close(s);
    }
    start("ocsp");
    start("www");
    run("smime-signed-alice", "alice@ext.example", NULL, &r);
    for (i = 0; i < n; i++)
        close(squat[i]);
    cr_assert_eq(r.rc, FERR_OK, "%s", r.err.text);
    VERIFY(r, "valid; method=smime; signer=\"alice@ext.example\"; status=good (ocsp)");
}

Test(inbound, smime_revoked_by_ocsp_rejected)
{
    struct run r;

    start("ocsp");
    start("www");
    run("smime-signed-carol", "carol@ext.example", "on_fail = reject", &r);
    cr_assert_eq(r.rc, FERR_PERM);
    cr_assert(strncmp(r.err.text, "5.7.1 signer revoked", 20) == 0, "%s", r.err.text);
    cr_assert(strstr(r.err.text, "keyCompromise") != NULL, "%s", r.err.text);
    cr_assert_eq(r.out == NULL || r.out[0] == 0, 1, "output written for a rejected message");
}

Test(inbound, smime_revoked_tagged_by_default)
{
    struct run r;

    start("ocsp");
    run("smime-signed-carol", "carol@ext.example", NULL, &r);
    cr_assert_eq(r.rc, FERR_OK);
    VERIFY(r, "revoked;");
    HAS(r, "Subject: [UNVERIFIED] smime-signed-carol\n");
    cr_assert_eq(count(r.out, "Subject:"), 1);
}

Test(inbound, smime_unknown_to_responder)
{
    struct run r;

    start("ocsp");
    start("www");
    /* OCSP "unknown" is an answer: the CRL (which does not list dave) is
     * not asked; require status_known makes it a failure. */
    run("smime-signed-dave", "dave@ext.example", "require = valid, status_known\ntag = [STATUS?]",
        &r);
    cr_assert_eq(r.rc, FERR_OK);
    VERIFY(r, "valid; method=smime; signer=\"dave@ext.example\"; status=unknown (ocsp)");
    HAS(r, "Subject: [STATUS?] smime-signed-dave");
    HAS(r, "responder does not know the certificate");
}

Test(inbound, ocsp_down_crl_fallback)
{
    struct run r;

    start("www");
    run("smime-signed-alice", "alice@ext.example", "require = status_known", &r);
    cr_assert_eq(r.rc, FERR_OK);
    VERIFY(r, "valid; method=smime; signer=\"alice@ext.example\"; status=good (crl)");
    status_cache_clear();
    run("smime-signed-carol", "carol@ext.example", "on_fail = reject", &r);
    cr_assert_eq(r.rc, FERR_PERM);
    cr_assert(strstr(r.err.text, "ca.crl: serial listed as revoked") != NULL, "%s", r.err.text);
}

Test(inbound, crl_only_certificate)
{
    struct run r;

    start("www");
    run("smime-signed-frank", "frank@ext.example", "require = status_known", &r);
    cr_assert_eq(r.rc, FERR_OK);
    VERIFY(r, "valid; method=smime; signer=\"frank@ext.example\"; status=good (crl)");
}

Test(inbound, stale_crl_is_not_an_answer)
{
    struct run r;

    start("stale");
    run("smime-signed-frank", "frank@ext.example", "require = status_known", &r);
    cr_assert_eq(r.rc, FERR_TEMP);
    cr_assert(strncmp(r.err.text, "4.7.0 certificate status unreachable", 36) == 0, "%s",
              r.err.text);
    cr_assert(strstr(r.err.text, "CRL is stale") != NULL, "%s", r.err.text);
}

Test(inbound, status_servers_down_defer_when_status_required)
{
    struct run r;

    run("smime-signed-alice", "alice@ext.example", "require = status_known", &r);
    cr_assert_eq(r.rc, FERR_TEMP);
    cr_assert(strncmp(r.err.text, "4.7.0 certificate status unreachable", 36) == 0, "%s",
              r.err.text);
    /* only not_revoked required (the default): delivered, status named */
    status_cache_clear();
    run("smime-signed-alice", "alice@ext.example", NULL, &r);
    cr_assert_eq(r.rc, FERR_OK);
    VERIFY(r, "valid; method=smime; signer=\"alice@ext.example\"; status=unreachable");
}

Test(inbound, hanging_responder_is_bounded_by_status_timeout)
{
    char extra[200];
    struct run r;
    time_t t0 = time(NULL);

    start("hang");
    snprintf(extra, sizeof(extra),
             "ocsp_responder = http://127.0.0.1:%d/\nocsp_responder_override = yes\n"
             "require = status_known\non_unreachable = tag",
             port_hang);
    run("smime-signed-alice", "alice@ext.example", extra, &r);
    cr_assert_eq(r.rc, FERR_OK);
    cr_assert(time(NULL) - t0 <= 6, "took %ld s with status_timeout 2s", (long)(time(NULL) - t0));
    VERIFY(r, "valid; method=smime; signer=\"alice@ext.example\"; status=unreachable");
    HAS(r, "Subject: [UNVERIFIED]");
    HAS(r, "timed out after 2");
}

Test(inbound, ocsp_response_signed_by_unauthorized_key_refused)
{
    struct run r;

    start("badocsp");
    run("smime-signed-alice", "alice@ext.example",
        "require = status_known\non_unreachable = reject", &r);
    cr_assert_eq(r.rc, FERR_PERM);
    cr_assert(strstr(r.err.text, "response signature does not verify") != NULL, "%s", r.err.text);
}

Test(inbound, expired_certificate)
{
    struct run r;

    start("ocsp");
    run("smime-signed-erin", "erin@ext.example", NULL, &r);
    cr_assert_eq(r.rc, FERR_OK);
    VERIFY(r, "expired; method=smime; signer=\"erin@ext.example\"");
    HAS(r, "Subject: [UNVERIFIED] smime-signed-erin");
}

Test(inbound, signer_mismatch)
{
    struct run r;

    start("ocsp");
    run("smime-signed-mismatch", "mallory@ext.example", "on_fail = reject", &r);
    cr_assert_eq(r.rc, FERR_PERM);
    cr_assert(strstr(r.err.text, "signer mismatch: signed by alice@ext.example, From is "
                                 "mallory@ext.example") != NULL,
              "%s", r.err.text);
}

Test(inbound, smime_tampered_body)
{
    struct run r;

    run("smime-tampered", "alice@ext.example", NULL, &r);
    cr_assert_eq(r.rc, FERR_OK);
    VERIFY(r, "invalid; method=smime");
    HAS(r, "content verify error");
}

Test(inbound, smime_opaque_signed_content_replaces_body)
{
    struct run r;

    start("ocsp");
    run("smime-opaque-alice", "alice@ext.example", NULL, &r);
    cr_assert_eq(r.rc, FERR_OK);
    VERIFY(r, "valid; method=smime; signer=\"alice@ext.example\"; status=good (ocsp)");
    HAS(r, "Content-Type: text/plain; charset=us-ascii\n\nHello Bob,\nthe secret plan is ready.\n");
    HASNT(r, "pkcs7");
    HASNT(r, "\r");
}

Test(inbound, smime_malformed_signature_no_crash)
{
    struct run r;

    run("smime-sig-malformed", "alice@ext.example", "verify = required\non_fail = reject", &r);
    cr_assert_eq(r.rc, FERR_PERM);
    cr_assert(strstr(r.err.text, "5.7.1 invalid signature: malformed CMS signature") == r.err.text,
              "%s", r.err.text);
}

/* ---- S/MIME decryption ---- */

Test(inbound, smime_cbc_sign_then_encrypt)
{
    struct run r;

    start("ocsp");
    run("smime-enc-signed", "alice@ext.example", NULL, &r);
    cr_assert_eq(r.rc, FERR_OK, "%s", r.err.text);
    VERIFY(r, "valid; method=smime; signer=\"alice@ext.example\"; status=good (ocsp); "
              "decrypt=smime");
    HAS(r, "the secret plan is ready");
    HASNT(r, "pkcs7-mime");
    HAS(r, "Subject: smime-enc-signed\n");
    cr_assert_eq(count(r.out, "MIME-Version:"), 1);
}

Test(inbound, smime_gcm_auth_enveloped)
{
    struct run r;

    start("ocsp");
    run("smime-gcm-signed", "alice@ext.example", NULL, &r);
    cr_assert_eq(r.rc, FERR_OK, "%s", r.err.text);
    VERIFY(r, "valid; method=smime; signer=\"alice@ext.example\"; status=good (ocsp); "
              "decrypt=smime");
    HAS(r, "the secret plan is ready");
}

Test(inbound, gpgsm_encrypted)
{
    struct run r;

    run("gpgsm-enc", "alice@ext.example", NULL, &r);
    cr_assert_eq(r.rc, FERR_OK, "%s", r.err.text);
    VERIFY(r, "none; decrypt=smime");
    HAS(r, "Content-Type: text/plain; charset=us-ascii\n\nHello Bob,\nthe secret plan is ready.");
}

Test(inbound, smime_for_someone_else_delivered_unchanged)
{
    struct run r;

    run("smime-enc-other", "alice@ext.example", NULL, &r);
    cr_assert_eq(r.rc, FERR_OK);
    VERIFY(r, "none; decrypt=none (smime: not addressed to any of the 1 configured");
    HAS(r, "application/pkcs7-mime");
}

Test(inbound, rfc9788_protected_headers_restored)
{
    struct run r;

    run("smime-enc-hp", "alice@ext.example", NULL, &r);
    cr_assert_eq(r.rc, FERR_OK);
    HAS(r, "Subject: The real subject\n");
    HASNT(r, "[...]");
    HASNT(r, "HP-Outer");
    HAS(r, "Message-ID: <hp@ext.example>");
    cr_assert_eq(count(r.out, "Subject:"), 1);
}

Test(inbound, smime_malformed_cms)
{
    struct run r;

    run("smime-malformed", "alice@ext.example", NULL, &r);
    cr_assert_eq(r.rc, FERR_OK);
    VERIFY(r, "none; decrypt=failed (smime: malformed CMS data");
    run("smime-malformed", "alice@ext.example", "on_decrypt_fail = reject", &r);
    cr_assert_eq(r.rc, FERR_PERM);
    cr_assert(strncmp(r.err.text, "5.7.5 cannot decrypt", 20) == 0, "%s", r.err.text);
}

/* ---- OpenPGP ---- */

Test(inbound, pgp_signed_encrypted_valid)
{
    struct run r;

    start("www");
    run("pgp-enc-signed", "alice@ext.example", "require = trusted, not_revoked", &r);
    cr_assert_eq(r.rc, FERR_OK, "%s", r.err.text);
    VERIFY(r, "valid; method=pgp; signer=\"alice@ext.example\"; status=good (keyserver); "
              "decrypt=pgp");
    HAS(r, "Content-Type: text/plain; charset=us-ascii\n\nHello Bob,\nthe secret plan is ready.");
    HASNT(r, "multipart/encrypted");
    HASNT(r, "\r");
}

Test(inbound, pgp_multipart_signed_valid_and_tampered)
{
    struct run r;

    run("pgp-signed-alice", "alice@ext.example", NULL, &r);
    cr_assert_eq(r.rc, FERR_OK);
    VERIFY(r, "valid; method=pgp; signer=\"alice@ext.example\"; status=unreachable (keyserver)");
    run("pgp-tampered", "alice@ext.example", NULL, &r);
    cr_assert_eq(r.rc, FERR_OK);
    VERIFY(r, "invalid; method=pgp");
    HAS(r, "Bad signature");
}

Test(inbound, pgp_signer_mismatch)
{
    struct run r;

    run("pgp-enc-mismatch", "mallory@ext.example", NULL, &r);
    cr_assert_eq(r.rc, FERR_OK);
    VERIFY(r, "signer-mismatch; method=pgp; signer=\"alice@ext.example\"");
}

Test(inbound, pgp_revocation_seen_through_keyserver_refresh)
{
    struct run r;

    /* keyserver down: the local copy of Rita's key is not revoked */
    run("pgp-enc-rita", "rita@ext.example", NULL, &r);
    cr_assert_eq(r.rc, FERR_OK);
    VERIFY(r, "valid; method=pgp; signer=\"rita@ext.example\"; status=unreachable (keyserver)");
    /* keyserver up: it publishes the revocation */
    start("www");
    run("pgp-enc-rita", "rita@ext.example", "on_fail = reject", &r);
    cr_assert_eq(r.rc, FERR_PERM);
    cr_assert(strncmp(r.err.text, "5.7.1 signer revoked: key ", 26) == 0, "%s", r.err.text);
}

Test(inbound, pgp_unknown_signer_fetched_untrusted_held)
{
    char path[700];
    struct run r;
    FILE *fp;
    char buf[4096];
    size_t n;

    start("www");
    run("pgp-enc-uma", "uma@ext.example", "require = trusted\non_fail = hold", &r);
    cr_assert_eq(r.rc, FERR_OK, "%s", r.err.text);
    cr_assert_eq(r.res.action, INBOUND_HOLD);
    cr_assert(r.out == NULL || r.out[0] == 0, "held message also written to out");
    VERIFY(r, "untrusted; method=pgp; signer=\"uma@ext.example\"; status=good (keyserver)");
    snprintf(path, sizeof(path), "%s", r.res.held_path);
    cr_assert_not_null(fp = fopen(path, "r"), "%s", path);
    n = fread(buf, 1, sizeof(buf) - 1, fp);
    buf[n] = 0;
    fclose(fp);
    cr_assert(strstr(buf, "X-Postseal-Verify: untrusted;") == buf);
    cr_assert(strstr(buf, "the secret plan is ready") != NULL);
}

Test(inbound, pgp_without_mdc_refused_no_plaintext_leak)
{
    struct run r;

    run("pgp-nomdc", "alice@ext.example", NULL, &r);
    cr_assert_eq(r.rc, FERR_OK);
    VERIFY(r, "none; decrypt=failed (pgp: OpenPGP data without integrity protection (no MDC) "
              "refused)");
    HASNT(r, "secret plan");
    HAS(r, "-----BEGIN PGP MESSAGE-----");
    run("pgp-nomdc", "alice@ext.example", "on_decrypt_fail = reject", &r);
    cr_assert_eq(r.rc, FERR_PERM);
    cr_assert(strncmp(r.err.text, "5.7.5 cannot decrypt", 20) == 0, "%s", r.err.text);
}

Test(inbound, pgp_malformed_packets)
{
    struct run r;

    run("pgp-malformed", "alice@ext.example", NULL, &r);
    cr_assert_eq(r.rc, FERR_OK);
    VERIFY(r, "none; decrypt=failed (pgp: OpenPGP decryption failed");
}

Test(inbound, efail_sibling_parts_never_decrypted)
{
    struct run r;

    run("efail", "alice@ext.example", NULL, &r);
    cr_assert_eq(r.rc, FERR_OK);
    VERIFY(r, "none;");
    HAS(r, "EFAIL");
    HASNT(r, "secret plan");
    HAS(r, "<img src=\"http://attacker.example/");
}

/* ---- policy ---- */

Test(inbound, unsigned_mail_when_signature_required)
{
    struct run r;

    run("plain", "alice@ext.example", "verify = required\non_fail = reject", &r);
    cr_assert_eq(r.rc, FERR_PERM);
    cr_assert(strstr(r.err.text, "5.7.1 message is not signed") == r.err.text, "%s", r.err.text);
    run("plain", "alice@ext.example", NULL, &r);
    cr_assert_eq(r.rc, FERR_OK);
    VERIFY(r, "none; rule=default; action=deliver");
    HAS(r, "\n\nJust text.\n");
}

Test(inbound, rule_by_sender_domain_and_recipient)
{
    struct run r;

    run("plain", "alice@ext.example",
        "[inbound rule other]\nsender_domain = other.example\nverify = required\non_fail = reject\n"
        "[inbound rule ext]\nsender_domain = .example\nrecipient = @local.example\n"
        "content = plain\nverify = required\non_fail = tag\ntag = [NOSIG]",
        &r);
    cr_assert_eq(r.rc, FERR_OK);
    VERIFY(r, "none; rule=ext; action=tag");
    HAS(r, "Subject: [NOSIG] plain\n");
}

Test(inbound, direction_by_local_domains)
{
    struct cfg_diag d = {0};
    char ini[600];
    struct cfg *c;
    struct inbound_cfg *ic;
    const char *in[] = {"bob@local.example"}, *outr[] = {"x@far.example"};
    FILE *fp;

    snprintf(ini, sizeof(ini), "%s/dir.%d.ini", fx, (int)getpid());
    cr_assert_not_null(fp = fopen(ini, "w"));
    fputs("[inbound]\nlocal_domains = local.example, .corp.example\n", fp);
    fclose(fp);
    cr_assert_not_null(c = cfg_load(ini, &d));
    cr_assert_not_null(ic = inbound_cfg_load(c, &d));
    cr_assert_eq(inbound_is_inbound(ic, "alice@ext.example", in, 1), 1);
    cr_assert_eq(inbound_is_inbound(ic, "alice@ext.example", outr, 1), 0);
    cr_assert_eq(inbound_is_inbound(ic, "carl@sub.corp.example", in, 1), 0);
    cr_assert_eq(inbound_is_inbound(ic, "", in, 1), 1);
    inbound_cfg_free(ic);
    cfg_free(c);
    unlink(ini);
}

/* ---- messages made by postseal's own outbound side (filter/pgp.c,
 * filter/smime.c), as a sending postseal gateway would ---- */

#include "pgp.h"
#include "smime.h"

static const char inner[] = "Content-Type: text/plain; charset=us-ascii\n"
                            "Content-Transfer-Encoding: 7bit\n\n"
                            "Hello Bob,\nfrom postseal to postseal.\n";

/* Writes outer headers + the entity made by fn into msg/NAME.eml. */
static void outbound(const char *name, int (*fn)(int, FILE *, struct ferr *))
{
    char path[700], ipath[700];
    struct ferr err;
    FILE *fp;
    int in;

    snprintf(ipath, sizeof(ipath), "%s/inner.%d", fx, (int)getpid());
    cr_assert_not_null(fp = fopen(ipath, "w"));
    fputs(inner, fp);
    fclose(fp);
    cr_assert((in = open(ipath, O_RDONLY)) >= 0);
    snprintf(path, sizeof(path), "%s/msg/%s.eml", fx, name);
    cr_assert_not_null(fp = fopen(path, "w"));
    fprintf(fp,
            "From: Alice <alice@ext.example>\nTo: bob@local.example\nSubject: %s\n"
            "MIME-Version: 1.0\n",
            name);
    cr_assert_eq(fn(in, fp, &err), FERR_OK, "%s", err.text);
    fclose(fp);
    close(in);
    unlink(ipath);
}

static int out_pgp_encrypt_sign(int in, FILE *out, struct ferr *err)
{
    char home_a[600], bob[64], alice[64], apath[600];
    const char *rcpt[1] = {bob};
    struct pgp *p;
    FILE *fp;
    int rc;

    snprintf(home_a, sizeof(home_a), "%s/gpg-alice", fx);
    snprintf(bob, sizeof(bob), "bob@local.example");
    snprintf(apath, sizeof(apath), "%s/alice.fpr", fx);
    cr_assert_not_null(fp = fopen(apath, "r"));
    cr_assert_not_null(fgets(alice, sizeof(alice), fp));
    fclose(fp);
    alice[strcspn(alice, "\n")] = 0;
    /* the recipient by fingerprint, as the keystore would hand it over */
    {
        char cmd[800];
        FILE *pp;

        snprintf(cmd, sizeof(cmd),
                 "GNUPGHOME=%s gpg --with-colons --list-keys bob@local.example | "
                 "awk -F: '/^fpr/{print $10; exit}'",
                 home_a);
        cr_assert_not_null(pp = popen(cmd, "r"));
        cr_assert_not_null(fgets(bob, sizeof(bob), pp));
        pclose(pp);
        bob[strcspn(bob, "\n")] = 0;
    }
    cr_assert_eq(pgp_open(&p, home_a, err), FERR_OK, "%s", err->text);
    rc = pgp_encrypt(p, in, rcpt, 1, alice, out, err);
    pgp_close(p);
    return rc;
}

static struct smime_signer *alice_signer(void)
{
    char c[600], k[600];
    struct smime_signer *s = NULL;
    struct ferr err;

    snprintf(c, sizeof(c), "%s/alice.pem", fx);
    snprintf(k, sizeof(k), "%s/alice.key", fx);
    cr_assert_eq(keystore_smime_signer(c, k, &s, &err), FERR_OK, "%s", err.text);
    return s;
}

static int out_smime(int in, FILE *out, struct ferr *err, int cipher)
{
    struct smime_opts o = {.cipher = cipher};
    struct smime_signer *s = alice_signer();
    STACK_OF(X509) *rc = sk_X509_new_null();
    char path[600];
    FILE *fp;
    X509 *bob;
    int r;

    snprintf(path, sizeof(path), "%s/bob.pem", fx);
    cr_assert_not_null(fp = fopen(path, "r"));
    cr_assert_not_null(bob = PEM_read_X509(fp, NULL, NULL, NULL));
    fclose(fp);
    sk_X509_push(rc, bob);
    r = smime_encrypt(in, rc, &o, s, out, err);
    sk_X509_pop_free(rc, X509_free);
    keystore_smime_signer_free(s);
    return r;
}

static int out_smime_cbc(int in, FILE *out, struct ferr *err)
{
    return out_smime(in, out, err, SMIME_AES256_CBC);
}

static int out_smime_gcm(int in, FILE *out, struct ferr *err)
{
    return out_smime(in, out, err, SMIME_AES256_GCM);
}

static int out_smime_sign(int in, FILE *out, struct ferr *err)
{
    struct smime_signer *s = alice_signer();
    int r = smime_sign(in, s, NULL, out, err);

    keystore_smime_signer_free(s);
    return r;
}

Test(inbound, own_outbound_pgp_signed_encrypted)
{
    struct run r;

    outbound("own-pgp", out_pgp_encrypt_sign);
    run("own-pgp", "alice@ext.example", "require = trusted", &r);
    cr_assert_eq(r.rc, FERR_OK, "%s", r.err.text);
    VERIFY(r, "valid; method=pgp; signer=\"alice@ext.example\"");
    HAS(r, "decrypt=pgp");
    HAS(r, "\n\nHello Bob,\nfrom postseal to postseal.\n");
}

Test(inbound, own_outbound_smime_signed_encrypted_cbc_and_gcm)
{
    struct run r;

    start("ocsp");
    outbound("own-smime-cbc", out_smime_cbc);
    run("own-smime-cbc", "alice@ext.example", "require = trusted, status_known", &r);
    cr_assert_eq(r.rc, FERR_OK, "%s", r.err.text);
    VERIFY(r, "valid; method=smime; signer=\"alice@ext.example\"; status=good (ocsp); "
              "decrypt=smime");
    HAS(r, "Hello Bob,\nfrom postseal to postseal.\n");
    outbound("own-smime-gcm", out_smime_gcm);
    run("own-smime-gcm", "alice@ext.example", "require = trusted, status_known", &r);
    cr_assert_eq(r.rc, FERR_OK, "%s", r.err.text);
    VERIFY(r, "valid; method=smime; signer=\"alice@ext.example\"; status=good (ocsp); "
              "decrypt=smime");
}

Test(inbound, own_outbound_smime_multipart_signed)
{
    struct run r;

    start("ocsp");
    outbound("own-smime-sign", out_smime_sign);
    run("own-smime-sign", "alice@ext.example", "require = trusted, status_known", &r);
    cr_assert_eq(r.rc, FERR_OK, "%s", r.err.text);
    VERIFY(r, "valid; method=smime; signer=\"alice@ext.example\"; status=good (ocsp)");
}

Test(inbound, persistent_status_cache_answers_while_responder_is_down)
{
    char extra[700];
    struct run r;

    snprintf(extra, sizeof(extra), "status_cache = %s/cache.%d.mdb\nrequire = status_known", fx,
             (int)getpid());
    start("ocsp");
    run("smime-signed-alice", "alice@ext.example", extra, &r);
    cr_assert_eq(r.rc, FERR_OK, "%s", r.err.text);
    VERIFY(r, "valid; method=smime; signer=\"alice@ext.example\"; status=good (ocsp)");
    /* responder gone, process memory cleared: the LMDB cache still knows */
    teardown_servers();
    status_cache_clear();
    run("smime-signed-alice", "alice@ext.example", extra, &r);
    cr_assert_eq(r.rc, FERR_OK, "%s", r.err.text);
    VERIFY(r, "valid; method=smime; signer=\"alice@ext.example\"; status=good (ocsp)");
    /* without the cache the same check defers */
    status_cache_clear();
    run("smime-signed-alice", "alice@ext.example", "require = status_known", &r);
    cr_assert_eq(r.rc, FERR_TEMP);
    status_cache_clear();
    snprintf(extra, sizeof(extra), "rm -rf %s/cache.%d.mdb*", fx, (int)getpid());
    sh("%s", extra);
}

Test(inbound, planted_inner_trace_and_from_fields_dropped)
{
    struct run r;

    run("smime-enc-planted", "alice@ext.example", NULL, &r);
    cr_assert_eq(r.rc, FERR_OK);
    HAS(r, "decrypt=smime");
    HAS(r, "\nFrom: alice@ext.example\n");
    HASNT(r, "ceo@local.example");
    HASNT(r, "evil.example");
    HASNT(r, "valid; planted");
    HAS(r, "\nSubject: inner subject\n");
    cr_assert_eq(count(r.out, "Subject:"), 1);
    HAS(r, "\n\nPlanted.\n");
}

Test(inbound, authentication_results_stamped_and_forged_one_removed)
{
    struct run r;

    start("ocsp");
    run("smime-signed-alice", "alice@ext.example", "authserv_id = gw.local.example", &r);
    cr_assert_eq(r.rc, FERR_OK);
    HAS(r, "\nAuthentication-Results: gw.local.example; smime=pass (valid, status good) "
           "header.from=alice@ext.example\n");
    HASNT(r, "(forged)");
    HAS(r, "\nAuthentication-Results: mx.other.example; dkim=pass\n");
    cr_assert_eq(count(r.out, "Authentication-Results: gw.local.example"), 1);
    run("smime-signed-carol", "carol@ext.example", "authserv_id = gw.local.example", &r);
    HAS(r, "\nAuthentication-Results: gw.local.example; smime=fail (revoked, status revoked) "
           "header.from=carol@ext.example\n");
    /* without authserv_id, other Authentication-Results are left alone */
    run("plain", "alice@ext.example", NULL, &r);
    HAS(r, "\nAuthentication-Results: gw.local.example; smime=pass (forged)\n");
}

/* ---- memory: 25 MB messages are decrypted streaming ---- */

#include <sys/resource.h>

static long run_big(const char *name, const char *make)
{
    char cmd[2400], path[700], ini[700];
    struct cfg_diag d = {0};
    struct inbound_cfg *ic;
    struct inbound_result res;
    struct ferr err;
    struct rusage ru;
    struct cfg *c;
    struct stat st;
    const char *rcpt[] = {"bob@local.example"};
    FILE *fp, *out;
    int fd, rc;

    snprintf(path, sizeof(path), "%s/msg/%s.%d.eml", fx, name, (int)getpid());
    snprintf(cmd, sizeof(cmd),
             "cd %s && { printf 'Content-Type: text/plain\\r\\n\\r\\n'; head -c 18000000 "
             "/dev/zero | tr '\\0' 'x' | fold -w 76 | sed 's/$/\\r/'; } >big.%d.txt && "
             "{ printf 'From: alice@ext.example\\nTo: bob@local.example\\nSubject: big\\n'; %s; } "
             ">%s && rm -f big.%d.txt",
             fx, (int)getpid(), make, path, (int)getpid());
    sh("%s", cmd);
    snprintf(ini, sizeof(ini), "%s/big.%d.ini", fx, (int)getpid());
    cr_assert_not_null(fp = fopen(ini, "w"));
    fprintf(fp,
            "[inbound]\nlocal_domains = local.example\ngnupg_home = %s\n"
            "smime_keypair = %s/bob.key %s/bob.pem\nca_file = %s/ca.pem\n",
            home, fx, fx, fx);
    fclose(fp);
    cr_assert_not_null(c = cfg_load(ini, &d));
    cr_assert_not_null(ic = inbound_cfg_load(c, &d));
    cr_assert((fd = open(path, O_RDONLY)) >= 0);
    fstat(fd, &st);
    cr_assert_gt(st.st_size, 24000000);
    cr_assert_not_null(out = fopen("/dev/null", "w"));
    rc = inbound_process(ic, fd, 0, st.st_size, "alice@ext.example", rcpt, 1, out, &res, &err);
    fclose(out);
    close(fd);
    unlink(path);
    unlink(ini);
    inbound_cfg_free(ic);
    cfg_free(c);
    cr_assert_eq(rc, FERR_OK, "%s", err.text);
    cr_assert(strstr(res.verify, "decrypt=") != NULL &&
                  strstr(res.verify, "decrypt=failed") == NULL &&
                  strstr(res.verify, "decrypt=none") == NULL,
              "%s", res.verify);
    getrusage(RUSAGE_SELF, &ru);
    fprintf(stderr, "test_inbound: %s: %lld-byte message, max RSS %ld KB\n", name,
            (long long)st.st_size, ru.ru_maxrss);
    return ru.ru_maxrss; /* KB */
}

Test(inbound, big_smime_gcm_decrypted_in_bounded_memory, .timeout = 120)
{
    char make[700];
    long kb;

    snprintf(make, sizeof(make),
             "openssl cms -encrypt -aes-256-gcm -in big.%d.txt %s/bob.pem | sed 's/\\r$//'",
             (int)getpid(), fx);
    kb = run_big("big-gcm", make);
    cr_assert_lt(kb, 24 * 1024, "max RSS %ld KB for a 25 MB S/MIME message", kb);
}

Test(inbound, big_pgp_decrypted_in_bounded_memory, .timeout = 120)
{
    char make[1200];
    long kb;

    snprintf(make, sizeof(make),
             "printf 'MIME-Version: 1.0\\nContent-Type: multipart/encrypted; "
             "protocol=\"application/pgp-encrypted\"; boundary=\"b\"\\n\\n--b\\nContent-Type: "
             "application/pgp-encrypted\\n\\nVersion: 1\\n\\n--b\\nContent-Type: "
             "application/octet-stream\\n\\n'; GNUPGHOME=%s/gpg-alice gpg --batch -q "
             "--trust-model always --compress-algo none -e -a -r bob@local.example <big.%d.txt; "
             "printf '\\n--b--\\n'",
             fx, (int)getpid());
    kb = run_big("big-pgp", make);
    cr_assert_lt(kb, 24 * 1024, "max RSS %ld KB for a 25 MB PGP/MIME message", kb);
}

Test(inbound, hold_without_hold_dir_marks_for_postfix)
{
    struct run r;

    start("www");
    run_no_hold_dir = 1;
    run("pgp-enc-uma", "uma@ext.example", "require = trusted\non_fail = hold", &r);
    cr_assert_eq(r.rc, FERR_OK, "%s", r.err.text);
    cr_assert_eq(r.res.action, INBOUND_HOLD);
    cr_assert_str_eq(r.res.held_path, "");
    cr_assert(strstr(r.out, "\nX-Postseal-Hold: inbound: signer not trusted: key ") != NULL, "%s",
              r.out);
    HAS(r, "the secret plan is ready");
    /* an X-Postseal-Hold from outside is removed like the result header */
    run("plain", "alice@ext.example", NULL, &r);
    HASNT(r, "X-Postseal-Hold");
}

Test(inbound, pgp_revocation_through_hkp_keyserver)
{
    char extra[200];
    struct run r;

    start("www");
    snprintf(extra, sizeof(extra), "keyserver = hkp://127.0.0.1:%d\non_fail = reject", port_http);
    /* the same server asked with the HKP protocol instead of VKS */
    run_keyserver = extra;
    run("pgp-enc-rita", "rita@ext.example", "", &r);
    cr_assert_eq(r.rc, FERR_PERM, "%s", r.res.verify);
    cr_assert(strncmp(r.err.text, "5.7.1 signer revoked: key ", 26) == 0, "%s", r.err.text);
}

Test(inbound, gpgsm_signed_valid)
{
    struct run r;

    start("ocsp");
    run("gpgsm-signed", "alice@ext.example", "require = trusted, status_known", &r);
    cr_assert_eq(r.rc, FERR_OK, "%s", r.err.text);
    VERIFY(r, "valid; method=smime; signer=\"alice@ext.example\"; status=good (ocsp)");
}

Test(inbound, too_large_to_decrypt_is_a_decrypt_failure_not_a_deferral)
{
    struct run r;

    run("smime-enc-signed", "alice@ext.example", "max_decrypt_size = 1024", &r);
    cr_assert_eq(r.rc, FERR_OK, "%s", r.err.text);
    VERIFY(r, "none; decrypt=failed (smime: larger than 1024 bytes)");
    HAS(r, "application/pkcs7-mime");
    run("smime-gcm-signed", "alice@ext.example",
        "max_decrypt_size = 1024\non_decrypt_fail = reject", &r);
    cr_assert_eq(r.rc, FERR_PERM);
    cr_assert(strstr(r.err.text, "5.7.5 cannot decrypt: failed (smime: larger than 1024 bytes)") ==
                  r.err.text,
              "%s", r.err.text);
}

Test(inbound, certs_only_is_neither_signed_nor_encrypted)
{
    struct run r;

    run("smime-certs-only", "alice@ext.example", NULL, &r);
    cr_assert_eq(r.rc, FERR_OK);
    VERIFY(r, "none; rule=default; action=deliver");
    HAS(r, "smime-type=certs-only");
}

Test(inbound, replayed_ocsp_response_with_an_old_nonce_is_refused)
{
    struct run r;

    start("replay");
    run("smime-signed-alice", "alice@ext.example", "require = status_known", &r);
    cr_assert_eq(r.rc, FERR_OK, "%s", r.err.text);
    VERIFY(r, "valid; method=smime; signer=\"alice@ext.example\"; status=good (ocsp)");
    /* the next request gets the same response again: its nonce is the old one */
    status_cache_clear();
    run("smime-signed-alice", "alice@ext.example", "require = status_known", &r);
    cr_assert_eq(r.rc, FERR_TEMP);
    cr_assert(strstr(r.err.text, "nonce mismatch (replayed response?)") != NULL, "%s", r.err.text);
}

Test(inbound, pgp_signature_by_expired_key)
{
    struct run r;

    run("pgp-signed-expired", "ed@ext.example", "on_fail = reject", &r);
    cr_assert_eq(r.rc, FERR_PERM, "%s", r.res.verify);
    VERIFY(r, "expired; method=pgp; signer=\"ed@ext.example\"");
    cr_assert(strstr(r.err.text, "5.7.1 signer certificate or key of ed@ext.example expired") ==
                  r.err.text,
              "%s", r.err.text);
}

/* ---- a top-level header the strict parser refuses: passed on, never bounced ---- */

/* Writes fx/msg/NAME.eml: a header with a 1500-byte line (RFC 5322 allows
 * 998; Postfix passes it on), forged postseal fields (one folded), a line
 * without a colon, then a body. */
static void write_badhdr(const char *name, int no_colon)
{
    char path[700], longv[1501];
    FILE *fp;

    memset(longv, 'r', sizeof(longv) - 1);
    longv[sizeof(longv) - 1] = 0;
    snprintf(path, sizeof(path), "%s/msg/%s.eml", fx, name);
    cr_assert_not_null(fp = fopen(path, "w"));
    fprintf(fp,
            "Received: from x by y\n"
            "X-Postseal-Verify: valid; method=smime; signer=\"forged\"\n"
            "\tcontinued forged text\n"
            "From: mallory@ext.example\n"
            "References: <%s@ext.example>\n"
            "Authentication-Results: gw.local.example; dkim=pass (forged)\n"
            "Authentication-Results: mx.other.example; dkim=pass\n"
            "%s"
            "x-postseal-hold: inbound: forged\n"
            "Subject: hello there\n"
            "\n"
            "X-Postseal-Verify: this line is body text and stays\n"
            "Body line.\n",
            longv, no_colon ? "this line has no colon\n" : "");
    fclose(fp);
}

Test(inbound, header_the_parser_refuses_is_passed_on_minus_forged_fields)
{
    struct run r;

    write_badhdr("badhdr-long", 0);
    run("badhdr-long", "mallory@ext.example", "authserv_id = gw.local.example", &r);
    cr_assert_eq(r.rc, FERR_OK, "%s", r.err.text);
    VERIFY(r, "none; rule=default; action=deliver; note=\"header not parsed, passed on as it came: "
              "message: header line 5 longer than 998 bytes\"");
    cr_assert(strncmp(r.out, "X-Postseal-Verify: none;", 24) == 0, "%s", r.out);
    cr_assert_eq(count(r.out, "X-Postseal-Verify:"), 2, "%s", r.out); /* ours + the body line */
    HASNT(r, "forged");
    HASNT(r, "continued forged text");
    HAS(r, "\nReceived: from x by y\nFrom: mallory@ext.example\nReferences: <rrrr");
    HAS(r, "rrrr@ext.example>\nAuthentication-Results: mx.other.example; dkim=pass\n"
           "Subject: hello there\n\nX-Postseal-Verify: this line is body text and stays\n"
           "Body line.\n");
}

Test(inbound, refused_header_under_a_rule_requiring_signatures_is_tagged_not_bounced)
{
    struct run r;

    write_badhdr("badhdr-colon", 1);
    run("badhdr-colon", "mallory@ext.example", "verify = required\non_fail = tag", &r);
    cr_assert_eq(r.rc, FERR_OK, "%s", r.err.text);
    VERIFY(r, "none; rule=default; action=tag; reason=\"message is not signed (signature "
              "required)\"");
    HAS(r, "\nthis line has no colon\n");
    HAS(r, "\nSubject: [UNVERIFIED] hello there\n\n");
    HASNT(r, "signer=\"forged\"");
    HASNT(r, "inbound: forged");
    /* without authserv_id, other Authentication-Results are left alone */
    HAS(r, "\nAuthentication-Results: gw.local.example; dkim=pass (forged)\n");
    /* reject stays the operator's choice: a policy answer, not a 5.6.0 bounce */
    run("badhdr-colon", "mallory@ext.example", "verify = required\non_fail = reject", &r);
    cr_assert_eq(r.rc, FERR_PERM);
    cr_assert(strncmp(r.err.text, "5.7.1 message is not signed", 27) == 0, "%s", r.err.text);
}
