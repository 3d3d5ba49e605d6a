/* test_filter: the postseal-filter PROGRAM end to end without Postfix: the
 * message on stdin, reinjection into a real SMTP listener (forked here), exit
 * codes as pipe(8) reads them, and every produced message checked by
 * independent tools: gpg decrypts/verifies PGP/MIME, openssl cms decrypts and
 * verifies S/MIME, python3's email package decodes the recovered entity. */
#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* The program under test: $POSTSEAL_FILTER (e.g. the ASan build), else
 * filter/postseal-filter of the checkout the tests run in. */
static const char *filter_prog(void)
{
    static char path[600];
    const char *env = getenv("POSTSEAL_FILTER");

    if (env != NULL && *env)
        return env;
    snprintf(path, sizeof(path), "%s/filter/postseal-filter", getenv("PWD") ? getenv("PWD") : ".");
    return path;
}
#define STARTS(s, lit) (strncmp((s), (lit), strlen(lit)) == 0)

static char fx[128];   /* fixture dir with keys, shared by the tests of one run */
static char work[160]; /* this test's dir */
static int sink_port;
static pid_t sink_pid;

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    int st, n;

    /* stdin from /dev/null: gpgsm waits on it otherwise */
    n = snprintf(cmd, sizeof(cmd), "exec </dev/null; ");
    va_start(ap, fmt);
    vsnprintf(cmd + n, sizeof(cmd) - (size_t)n, fmt, ap);
    va_end(ap);
    st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 255;
}

static char *slurp(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *slurp(const char *fmt, ...)
{
    char path[512];
    va_list ap;
    FILE *fp;
    char *buf;
    size_t n = 0, cap = 1 << 20;

    va_start(ap, fmt);
    vsnprintf(path, sizeof(path), fmt, ap);
    va_end(ap);
    buf = calloc(1, cap + 1);
    if ((fp = fopen(path, "r")) != NULL) {
        n = fread(buf, 1, cap, fp);
        fclose(fp);
    }
    buf[n] = 0;
    return buf;
}

static void spit(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");

    cr_assert_not_null(fp, "%s", path);
    fputs(text, fp);
    fclose(fp);
}

/* Keys: gpg homes for the filter (recipients' public keys, the gateway's
 * signing key) and for each recipient; an S/MIME CA with a recipient and a
 * signer certificate.  Made once per test run. */
static void fixture(void)
{
    char ready[200], failed[200];
    int i;

    snprintf(fx, sizeof(fx), "/tmp/test_filter.fx.%d", (int)getppid());
    snprintf(ready, sizeof(ready), "%s/ready", fx);
    snprintf(failed, sizeof(failed), "%s/failed", fx);
    if (mkdir(fx, 0755) != 0) {
        for (i = 0; i < 600 && access(ready, F_OK) != 0 && access(failed, F_OK) != 0; i++)
            usleep(100000);
        cr_assert_eq(access(ready, F_OK), 0, "fixture not ready");
        return;
    }
    cr_assert_eq(
        sh("set -e; cd %s; mkdir -m 700 gf gb gc gs; "
           "G() { gpg --batch --quiet --pinentry-mode loopback --passphrase '' \"$@\"; }; "
           "G --homedir gb --quick-gen-key bob@example.org future-default default never;"
           "G --homedir gc --quick-gen-key carol@example.org future-default default never;"
           "G --homedir gs --quick-gen-key gateway@example.com future-default default "
           "never;"
           "G --homedir gb --export bob@example.org | G --homedir gf --import;"
           "G --homedir gc --export carol@example.org | G --homedir gf --import;"
           "G --homedir gs --export-secret-keys gateway@example.com | G --homedir gf "
           "--import;"
           "G --homedir gs --export gateway@example.com | G --homedir gb --import;"
           "chmod 755 gf; "
           "O=openssl; $O req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt "
           "-days 30 -subj '/CN=Test CA' -addext basicConstraints=critical,CA:TRUE "
           "-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null;"
           "for u in dave@example.net signer@example.com; do "
           "$O req -newkey rsa:2048 -nodes -keyout $u.key -out $u.csr -subj "
           "\"/CN=$u/emailAddress=$u\" 2>/dev/null;"
           "printf 'subjectAltName=email:%%s\\nkeyUsage=digitalSignature,keyEncipherment\\n"
           "extendedKeyUsage=emailProtection\\n' $u > $u.ext;"
           "$O x509 -req -in $u.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 "
           "-extfile $u.ext -out $u.crt 2>/dev/null; chmod 600 $u.key; done;"
           "mkdir certs; cp dave@example.net.crt certs/;"
           /* gpgsm: dave's key (legacy PKCS#12: gpgsm 2.2 reads no other) and
            * the CA as trusted root, no CRL checks */
           "mkdir -m 700 gsm; $O pkcs12 -export -legacy -in dave@example.net.crt "
           "-inkey dave@example.net.key -passout pass: -out dave.p12;"
           "gpgsm --homedir gsm --batch --pinentry-mode loopback --passphrase '' "
           "--import ca.crt signer@example.com.crt dave.p12 </dev/null 2>/dev/null;"
           "echo \"$($O x509 -in ca.crt -noout -fingerprint -sha1 | cut -d= -f2) S "
           "relax\" > gsm/trustlist.txt; echo disable-crl-checks > gsm/gpgsm.conf;"
           "touch ready",
           fx),
        0, "making the fixture failed");
}

/* ---- a real SMTP listener: one message per connection, files N.msg ---- */

/* fail: "" = accept all; "RCPT 451 4.3.0 busy" = answer RCPT so, ... */
static void sink_start(const char *fail)
{
    struct sockaddr_in sa = {0};
    socklen_t len = sizeof(sa);
    int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;

    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
    cr_assert_eq(listen(ls, 8), 0);
    getsockname(ls, (struct sockaddr *)&sa, &len);
    sink_port = ntohs(sa.sin_port);
    if ((sink_pid = fork()) == 0) {
        int n = 0, c;

        while ((c = accept(ls, NULL, NULL)) >= 0) {
            FILE *in = fdopen(c, "r"), *msg = NULL, *env;
            char line[8192], path[300];
            int data = 0;

            n++;
            snprintf(path, sizeof(path), "%s/%d.env", work, n);
            env = fopen(path, "w");
            dprintf(c, "220 sink\r\n");
            while (fgets(line, sizeof(line), in) != NULL) {
                if (data) {
                    if (strcmp(line, ".\r\n") == 0) {
                        fclose(msg);
                        snprintf(path, sizeof(path), "%s/%d.done", work, n);
                        fclose(fopen(path, "w")); /* the transaction was completed */
                        data = 0;
                        dprintf(c, "250 2.0.0 ok\r\n");
                        continue;
                    }
                    /* undo SMTP: CRLF -> LF, dot-unstuffing */
                    if (strlen(line) >= 2 && strcmp(line + strlen(line) - 2, "\r\n") == 0)
                        strcpy(line + strlen(line) - 2, "\n");
                    fputs(line[0] == '.' ? line + 1 : line, msg);
                    continue;
                }
                fputs(line, env);
                fflush(env);
                if (*fail && strncasecmp(line, fail, 4) == 0) {
                    dprintf(c, "%s\r\n", fail + 5);
                    continue;
                }
                if (strncasecmp(line, "EHLO", 4) == 0)
                    dprintf(c, "250-sink\r\n250 8BITMIME\r\n");
                else if (strncasecmp(line, "DATA", 4) == 0) {
                    snprintf(path, sizeof(path), "%s/%d.msg", work, n);
                    msg = fopen(path, "w");
                    data = 1;
                    dprintf(c, "354 go\r\n");
                } else if (strncasecmp(line, "QUIT", 4) == 0) {
                    dprintf(c, "221 bye\r\n");
                    break;
                } else
                    dprintf(c, "250 ok\r\n");
            }
            fclose(env);
            fclose(in);
        }
        _exit(0);
    }
    close(ls);
}

static void setup(void)
{
    fixture();
    snprintf(work, sizeof(work), "%s/t.%d", fx, (int)getpid());
    sh("rm -rf %s; mkdir -p %s", work, work);
}

static void teardown(void)
{
    int st;

    if (sink_pid > 0) {
        kill(sink_pid, SIGKILL);
        waitpid(sink_pid, &st, 0);
        sink_pid = 0;
    }
}

/* Writes the config: [filter] basics + extra. */
static void config(const char *extra)
{
    char path[300], *text = malloc(8192);

    snprintf(text, 8192,
             "[filter]\nreinject = 127.0.0.1:%d\ntemp_dir = %s\ngnupg_home = %s/gf\n"
             "smime_certs = %s/certs\nsmime_ca = %s/ca.crt\nreinject_timeout = 5s\n%s",
             sink_port, work, fx, fx, fx, extra);
    snprintf(path, sizeof(path), "%s/f.ini", work);
    spit(path, text);
    free(text);
}

/* Runs the filter on message text; returns the exit status, stderr in err. */
static int run(const char *msg, const char *args, char **err)
{
    char path[300];

    snprintf(path, sizeof(path), "%s/in.eml", work);
    spit(path, msg);
    int st = sh("%s -c %s/f.ini %s < %s/in.eml > %s/stdout 2> %s/stderr", filter_prog(), work, args,
                work, work, work);
    *err = slurp("%s/stderr", work);
    return st;
}

static int count_msgs(void)
{
    char path[300];
    int n = 0;

    for (;;) {
        snprintf(path, sizeof(path), "%s/%d.msg", work, n + 1);
        if (access(path, F_OK) != 0)
            return n;
        n++;
    }
}

/* python3's email package: the decoded payload of the (single-part) entity
 * in FILE, written to FILE.body */
static void py_decode(const char *file)
{
    cr_assert_eq(sh("/usr/bin/python3 -c 'import email,sys\n"
                    "m=email.message_from_binary_file(open(sys.argv[1],\"rb\"))\n"
                    "open(sys.argv[1]+\".body\",\"wb\").write(m.get_payload(decode=True))' %s",
                    file),
                 0);
}

/* The armored OpenPGP block of message n, to FILE */
static void pgp_block(int n, const char *out)
{
    cr_assert_eq(sh("sed -n '/^-----BEGIN PGP MESSAGE/,/^-----END PGP MESSAGE/p' %s/%d.msg > %s",
                    work, n, out),
                 0);
}

static const char latin_msg[] = "From: Alice <alice@example.com>\n"
                                "To: Bob <bob@example.org>\n"
                                "Subject: numbers [secure]\n"
                                "Date: Mon, 23 Nov 2026 06:00:00 +0000\n"
                                "Message-ID: <t1@example.com>\n"
                                "MIME-Version: 1.0\n"
                                "Content-Type: text/plain; charset=utf-8\n"
                                "Content-Transfer-Encoding: 8bit\n"
                                "\n"
                                "Caf\xc3\xa9 cr\xc3\xa8me, trailing blank \n"
                                "From the start of a line\n"
                                ".a dot line\n"
                                "\n"
                                "last line\n";

static const char latin_body[] = "Caf\xc3\xa9 cr\xc3\xa8me, trailing blank \n"
                                 "From the start of a line\n"
                                 ".a dot line\n"
                                 "\n"
                                 "last line\n";

TestSuite(filter, .init = setup, .fini = teardown, .timeout = 60);

Test(filter, pgp_encrypt_roundtrip_with_gpg)
{
    char *err, *out, *msg, *body, file[300];

    sink_start("");
    config("[filter rule s]\nheader = Subject \\[secure\\]\nencrypt = required\n"
           "protect_subject = yes\n");
    cr_assert_eq(run(latin_msg, "-f alice@example.com -- bob@example.org", &err), 0, "%s", err);
    cr_assert_str_eq(err, "");
    cr_assert_eq(count_msgs(), 1);
    msg = slurp("%s/1.msg", work);
    cr_assert(strstr(msg, "Content-Type: multipart/encrypted") != NULL, "%s", msg);
    cr_assert(strstr(msg, "\nSubject: ...\n") != NULL, "outer subject obscured:\n%s", msg);
    cr_assert(strstr(msg, "numbers") == NULL, "no cleartext subject outside");
    cr_assert(strstr(msg, "Caf") == NULL, "no cleartext body outside");
    cr_assert(strstr(msg, "\nMIME-Version: 1.0\n") != NULL);
    cr_assert(strstr(msg, "Bcc:") == NULL);
    snprintf(file, sizeof(file), "%s/enc.asc", work);
    pgp_block(1, file);
    cr_assert_eq(sh("gpg --homedir %s/gb --batch --quiet --decrypt %s > %s/inner 2>/dev/null", fx,
                    file, work),
                 0, "gpg cannot decrypt");
    out = slurp("%s/inner", work);
    /* protected headers (RFC 9788) with CRLF, the real subject inside */
    cr_assert(strstr(out, "Subject: numbers [secure]\r\n") != NULL, "%s", out);
    cr_assert(strstr(out, "HP-Outer: Subject: ...\r\n") != NULL, "%s", out);
    cr_assert(strstr(out, "hp=\"cipher\"") != NULL, "%s", out);
    cr_assert(strstr(out, "Content-Transfer-Encoding: quoted-printable\r\n") != NULL, "%s", out);
    /* the recovered body, decoded by python, equals the original bytes */
    sh("tr -d '\\r' < %s/inner > %s/inner.lf", work, work);
    snprintf(file, sizeof(file), "%s/inner.lf", work);
    py_decode(file);
    body = slurp("%s/inner.lf.body", work);
    cr_assert_str_eq(body, latin_body);
    free(err), free(msg), free(out), free(body);
}

Test(filter, pgp_sign_and_encrypt_verified_by_gpg)
{
    char *err, *status, file[300];

    sink_start("");
    config("encrypt = required\nsign = yes\n"
           "[filter signkey gw]\nsender_domain = example.com\npgp_key = gateway@example.com\n");
    cr_assert_eq(run(latin_msg, "-f alice@example.com -- bob@example.org", &err), 0, "%s", err);
    snprintf(file, sizeof(file), "%s/enc.asc", work);
    pgp_block(1, file);
    cr_assert_eq(sh("gpg --homedir %s/gb --batch --status-file %s/status --decrypt %s > %s/inner "
                    "2>/dev/null",
                    fx, work, file, work),
                 0);
    status = slurp("%s/status", work);
    cr_assert(strstr(status, "[GNUPG:] GOODSIG") != NULL, "%s", status);
    cr_assert(strstr(status, "gateway@example.com") != NULL, "%s", status);
    cr_assert(strstr(status, "[GNUPG:] DECRYPTION_OKAY") != NULL, "%s", status);
    free(err), free(status);
}

/* Splits multipart/signed message n: part 1 (CRLF form) and the signature. */
static void split_signed(int n, const char *part1, const char *sig)
{
    char *msg = slurp("%s/%d.msg", work, n), *b, *p, *e, bnd[200];
    FILE *fp;
    size_t i;

    b = strstr(msg, "boundary=\"");
    cr_assert_not_null(b);
    b += 10;
    e = strchr(b, '"');
    snprintf(bnd, sizeof(bnd), "\n--%.*s\n", (int)(e - b), b);
    p = strstr(msg, bnd);
    cr_assert_not_null(p);
    p += strlen(bnd);
    e = strstr(p, bnd);
    cr_assert_not_null(e);
    fp = fopen(part1, "w");
    for (i = 0; p + i < e; i++) {
        if (p[i] == '\n')
            fputc('\r', fp);
        fputc(p[i], fp);
    }
    fclose(fp);
    p = e + strlen(bnd);
    e = strstr(p, "\n\n");
    cr_assert_not_null(e);
    p = e + 2;
    snprintf(bnd + strlen(bnd) - 1, 4, "--");
    e = strstr(p, bnd);
    cr_assert_not_null(e);
    fp = fopen(sig, "w");
    fwrite(p, 1, (size_t)(e - p), fp);
    fclose(fp);
    free(msg);
}

Test(filter, pgp_sign_only_verified_by_gpg)
{
    char *err, *msg, p1[300], sig[300];

    sink_start("");
    config("encrypt = never\nsign = yes\n"
           "[filter signkey gw]\npgp_key = gateway@example.com\n");
    cr_assert_eq(run(latin_msg, "-f alice@example.com -- bob@example.org", &err), 0, "%s", err);
    msg = slurp("%s/1.msg", work);
    cr_assert(strstr(msg, "Content-Type: multipart/signed") != NULL, "%s", msg);
    cr_assert(strstr(msg, "micalg=pgp-sha") != NULL, "%s", msg);
    /* signed content is 7-bit: no byte >= 0x80 anywhere */
    for (size_t i = 0; msg[i]; i++)
        cr_assert((unsigned char)msg[i] < 0x80, "8-bit byte at %zu", i);
    snprintf(p1, sizeof(p1), "%s/part1", work);
    snprintf(sig, sizeof(sig), "%s/sig.asc", work);
    split_signed(1, p1, sig);
    cr_assert_eq(sh("gpg --homedir %s/gb --batch --quiet --verify %s %s 2>/dev/null", fx, sig, p1),
                 0, "gpg: bad signature");
    /* a changed byte breaks it (the check can fail) */
    sh("sed -i 's/last line/LAST line/' %s", p1);
    cr_assert_neq(sh("gpg --homedir %s/gb --batch --quiet --verify %s %s 2>/dev/null", fx, sig, p1),
                  0);
    free(err), free(msg);
}

Test(filter, smime_encrypt_and_sign_with_openssl)
{
    char *err, *msg, *body, file[300];

    sink_start("");
    config("encrypt = required\nmethod = smime\nsign = yes\n"
           "[filter signkey s]\nsmime_cert = /FX/signer@example.com.crt\n"
           "smime_key = /FX/signer@example.com.key\n");
    sh("sed -i 's|/FX|%s|' %s/f.ini", fx, work);
    cr_assert_eq(run(latin_msg, "-f signer@example.com -- dave@example.net", &err), 0, "%s", err);
    msg = slurp("%s/1.msg", work);
    cr_assert(strstr(msg, "application/pkcs7-mime") != NULL, "%s", msg);
    cr_assert_eq(sh("openssl cms -decrypt -in %s/1.msg -recip %s/dave@example.net.crt -inkey "
                    "%s/dave@example.net.key -out %s/signed 2>%s/o.err",
                    work, fx, fx, work, work),
                 0, "openssl cannot decrypt: %s", slurp("%s/o.err", work));
    cr_assert_eq(sh("openssl cms -verify -in %s/signed -CAfile %s/ca.crt -out %s/inner "
                    "2>%s/o.err",
                    work, fx, work, work),
                 0, "openssl: bad signature: %s", slurp("%s/o.err", work));
    sh("tr -d '\\r' < %s/inner > %s/inner.lf", work, work);
    snprintf(file, sizeof(file), "%s/inner.lf", work);
    py_decode(file);
    body = slurp("%s/inner.lf.body", work);
    cr_assert_str_eq(body, latin_body);
    free(err), free(msg), free(body);
}

Test(filter, smime_encrypted_decrypted_by_gpgsm)
{
    char *err, *out;

    sink_start("");
    config("encrypt = required\nmethod = smime\n");
    cr_assert_eq(run(latin_msg, "-f alice@example.com -- dave@example.net", &err), 0, "%s", err);
    /* the base64 body of the message is the CMS object */
    cr_assert_eq(sh("awk 'b{print} /^$/{b=1}' %s/1.msg | base64 -d > %s/cms.der", work, work), 0);
    cr_assert_eq(sh("gpgsm --homedir %s/gsm --batch --pinentry-mode loopback --passphrase '' "
                    "--decrypt %s/cms.der > %s/inner 2>%s/g.err",
                    fx, work, work, work),
                 0, "gpgsm cannot decrypt: %s", slurp("%s/g.err", work));
    out = slurp("%s/inner", work);
    cr_assert(strstr(out, "Subject: numbers [secure]\r\n") != NULL, "%s", out);
    cr_assert(strstr(out, "Caf=C3=A9 cr=C3=A8me") != NULL, "%s", out);
    free(err), free(out);
}

Test(filter, smime_sign_only_verified_by_openssl)
{
    char *err;

    sink_start("");
    config("encrypt = never\nmethod = smime\nsign = yes\n"
           "[filter signkey s]\nsmime_cert = /FX/signer@example.com.crt\n"
           "smime_key = /FX/signer@example.com.key\n");
    sh("sed -i 's|/FX|%s|' %s/f.ini", fx, work);
    cr_assert_eq(run(latin_msg, "-f signer@example.com -- x@example.net", &err), 0, "%s", err);
    sh("sed 's/$/\\r/' %s/1.msg > %s/crlf", work, work);
    cr_assert_eq(sh("openssl cms -verify -in %s/crlf -CAfile %s/ca.crt -out %s/inner 2>%s/o.err",
                    work, fx, work, work),
                 0, "openssl: bad signature: %s", slurp("%s/o.err", work));
    free(err);
}

Test(filter, no_key_defer_sends_nothing)
{
    char *err;

    sink_start("");
    config("encrypt = required\n");
    cr_assert_eq(run(latin_msg, "-f alice@example.com -- bob@example.org nokey@example.net", &err),
                 75);
    cr_assert(STARTS(err, "4.7.1 encryption required for <nokey@example.net>"), "%s", err);
    cr_assert_eq(count_msgs(), 0, "nothing reinjected, not even for bob");
    free(err);
}

Test(filter, no_key_bounce_is_69_with_status)
{
    char *err;

    sink_start("");
    config("encrypt = required\nno_key = bounce\n");
    cr_assert_eq(run(latin_msg, "-f alice@example.com -- nokey@example.net", &err), 69);
    cr_assert(STARTS(err, "5.7.1 encryption required for <nokey@example.net>"), "%s", err);
    cr_assert_eq(count_msgs(), 0);
    free(err);
}

Test(filter, mixed_bounce_delivers_others_and_notifies_sender)
{
    char *err, *n1, *n2, *env;

    sink_start("");
    config("encrypt = required\nno_key = bounce\n");
    cr_assert_eq(run(latin_msg, "-f alice@example.com -- bob@example.org nokey@example.net", &err),
                 0, "%s", err);
    cr_assert_eq(count_msgs(), 2);
    n1 = slurp("%s/1.msg", work);
    cr_assert(strstr(n1, "multipart/encrypted") != NULL);
    n2 = slurp("%s/2.msg", work);
    env = slurp("%s/2.env", work);
    cr_assert(strstr(env, "MAIL FROM:<>") != NULL, "%s", env);
    cr_assert(strstr(env, "RCPT TO:<alice@example.com>") != NULL, "%s", env);
    cr_assert(strstr(n2, "<nokey@example.net>: pgp:") != NULL, "%s", n2);
    cr_assert(strstr(n2, "Caf") == NULL, "the notice does not quote the body");
    free(err), free(n1), free(n2), free(env);
}

Test(filter, no_key_hold_marks_the_message)
{
    char *err, *msg;

    sink_start("");
    config("encrypt = required\nno_key = hold\n");
    sh("sed -i 's/^reinject = .*/reinject = 127.0.0.1:1\\nhold_reinject = 127.0.0.1:%d/' %s/f.ini",
       sink_port, work);
    cr_assert_eq(run(latin_msg, "-f alice@example.com -- nokey@example.net", &err), 0, "%s", err);
    msg = slurp("%s/1.msg", work);
    cr_assert(STARTS(msg, "X-Postseal-Hold: no usable key for nokey@example.net\n"), "%s", msg);
    cr_assert_str_eq(msg + strlen("X-Postseal-Hold: no usable key for nokey@example.net\n"),
                     latin_msg);
    free(err), free(msg);
}

Test(filter, opportunistic_without_key_passes_unchanged)
{
    char *err, *msg;

    sink_start("");
    config("encrypt = opportunistic\n");
    cr_assert_eq(run(latin_msg, "-f alice@example.com -- nokey@example.net", &err), 0, "%s", err);
    msg = slurp("%s/1.msg", work);
    cr_assert_str_eq(msg, latin_msg);
    free(err), free(msg);
}

Test(filter, bcc_field_is_never_passed_on)
{
    static const char m[] = "From: a@example.com\nTo: x@example.net\nBcc: secret@example.net\n"
                            "Subject: s\n\nbody\n";
    char *err, *msg;

    sink_start("");
    config("encrypt = never\n");
    cr_assert_eq(run(m, "-f alice@example.com -- x@example.net secret@example.net", &err), 0, "%s",
                 err);
    msg = slurp("%s/1.msg", work);
    cr_assert_str_eq(msg, "From: a@example.com\nTo: x@example.net\nSubject: s\n\nbody\n");
    free(err), free(msg);
}

Test(filter, null_sender_cannot_get_a_notice_so_defers)
{
    char *err;

    sink_start("");
    config("encrypt = required\nno_key = notice\n");
    cr_assert_eq(run(latin_msg, "-f '' -- bob@example.org nokey@example.net", &err), 75);
    cr_assert(STARTS(err, "4.7.1 encryption required for <nokey@example.net>"), "%s", err);
    cr_assert_eq(count_msgs(), 0);
    free(err);
}

Test(filter, notice_drops_the_recipient_and_tells_the_sender)
{
    char *err, *env;

    sink_start("");
    config("encrypt = required\nno_key = notice\n");
    cr_assert_eq(run(latin_msg, "-f alice@example.com -- nokey@example.net", &err), 0, "%s", err);
    cr_assert_eq(count_msgs(), 1);
    env = slurp("%s/1.env", work);
    cr_assert(strstr(env, "RCPT TO:<alice@example.com>") != NULL, "%s", env);
    cr_assert(strstr(env, "nokey") == NULL, "%s", env);
    free(err), free(env);
}

Test(filter, already_encrypted_is_not_encrypted_again)
{
    static const char enc[] = "From: a@example.com\nTo: bob@example.org\nSubject: x\n"
                              "MIME-Version: 1.0\n"
                              "Content-Type: multipart/encrypted; "
                              "protocol=\"application/pgp-encrypted\"; boundary=b\n\n"
                              "--b\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n\n"
                              "--b\nContent-Type: application/octet-stream\n\n"
                              "-----BEGIN PGP MESSAGE-----\nxx\n-----END PGP MESSAGE-----\n"
                              "--b--\n";
    char *err, *msg;

    sink_start("");
    config("encrypt = required\nsign = yes\n[filter signkey gw]\npgp_key = gateway@example.com\n");
    cr_assert_eq(run(enc, "-f alice@example.com -- bob@example.org", &err), 0, "%s", err);
    msg = slurp("%s/1.msg", work);
    cr_assert_str_eq(msg, enc);
    free(err), free(msg);
}

Test(filter, bcc_recipients_get_their_own_message)
{
    char *err, *e1, *e2, *p1, *p2, file[300];
    int i;

    sink_start("");
    config("encrypt = required\n");
    /* To: bob only; carol is a Bcc recipient */
    cr_assert_eq(run(latin_msg, "-f alice@example.com -- bob@example.org carol@example.org", &err),
                 0, "%s", err);
    cr_assert_eq(count_msgs(), 2);
    /* the order of the two transactions is not part of the contract (the
     * streamed one goes first): name the files by recipient */
    e1 = slurp("%s/1.env", work);
    if (strstr(e1, "carol@") != NULL)
        cr_assert_eq(sh("cd %s && mv 1.env x.env && mv 2.env 1.env && mv x.env 2.env && "
                        "mv 1.msg x.msg && mv 2.msg 1.msg && mv x.msg 2.msg",
                        work),
                     0);
    free(e1);
    e1 = slurp("%s/1.env", work);
    e2 = slurp("%s/2.env", work);
    cr_assert(strstr(e1, "bob@") != NULL && strstr(e1, "carol@") == NULL, "%s", e1);
    cr_assert(strstr(e2, "carol@") != NULL && strstr(e2, "bob@") == NULL, "%s", e2);
    for (i = 1; i <= 2; i++) {
        cr_assert(strstr(slurp("%s/%d.msg", work, i), "Bcc") == NULL);
        snprintf(file, sizeof(file), "%s/m%d.asc", work, i);
        pgp_block(i, file);
        sh("gpg --homedir %s/gf --batch --list-packets %s > %s/pk%d 2>&1", fx, file, work, i);
    }
    /* bob's message is encrypted to one key (bob's); carol's to carol's only */
    p1 = slurp("%s/pk1", work);
    p2 = slurp("%s/pk2", work);
    cr_assert_eq(sh("grep -c ':pubkey enc packet' %s/pk1 | grep -qx 1", work), 0, "%s", p1);
    cr_assert_eq(sh("grep -c ':pubkey enc packet' %s/pk2 | grep -qx 1", work), 0, "%s", p2);
    cr_assert_eq(
        sh("gpg --homedir %s/gc --batch --quiet --decrypt %s/m2.asc >/dev/null 2>&1", fx, work), 0,
        "carol decrypts her copy");
    cr_assert_neq(
        sh("gpg --homedir %s/gc --batch --quiet --decrypt %s/m1.asc >/dev/null 2>&1", fx, work), 0,
        "carol cannot decrypt bob's copy");
    free(err), free(e1), free(e2), free(p1), free(p2);
}

Test(filter, visible_recipients_share_one_message)
{
    static const char m[] = "From: a@example.com\nTo: bob@example.org, carol@example.org\n"
                            "Subject: x\n\nhello\n";
    char *err, *env;

    sink_start("");
    config("encrypt = required\n");
    cr_assert_eq(run(m, "-f alice@example.com -- bob@example.org carol@example.org", &err), 0, "%s",
                 err);
    cr_assert_eq(count_msgs(), 1);
    env = slurp("%s/1.env", work);
    cr_assert(strstr(env, "bob@") && strstr(env, "carol@"), "%s", env);
    free(err), free(env);
}

Test(filter, reinjection_failures_map_to_exit_codes)
{
    char *err;

    sink_start("RCPT 451 4.3.0 try later");
    config("encrypt = never\n");
    cr_assert_eq(run(latin_msg, "-f alice@example.com -- x@example.net", &err), 75);
    cr_assert(STARTS(err, "4.3.0 try later"), "%s", err);
    free(err);
    teardown();
    sink_start("DATA 554 5.7.1 no thanks");
    config("encrypt = never\n");
    cr_assert_eq(run(latin_msg, "-f alice@example.com -- x@example.net", &err), 69);
    cr_assert(STARTS(err, "5.7.1 no thanks"), "%s", err);
    free(err);
    teardown();
    config("encrypt = never\nreinject = 127.0.0.1:1\n");
    cr_assert_eq(run(latin_msg, "-f alice@example.com -- x@example.net", &err), 75);
    cr_assert(STARTS(err, "4.4.1 reinjection to 127.0.0.1:1 failed"), "%s", err);
    free(err);
}

/* The crypto output is streamed into the SMTP DATA phase.  A failure in the
 * middle of that stream (injected with the test hook after 200 kB of the
 * entity) must leave nothing delivered: the transaction is abandoned without
 * the final "." and the filter defers (75).  Without the fault the same
 * message arrives complete and decrypts to the original text. */
Test(filter, failure_mid_stream_delivers_nothing_and_defers)
{
    const char *rcpt[] = {"bob@example.org", "dave@example.net"};
    char *big = malloc(600000), *err, path[300];
    size_t n, k;
    int st;

    n = (size_t)sprintf(big, "From: signer@example.com\nTo: x\nSubject: big\n\n");
    srand(11); /* random text: gpg's compression must not shrink it below the fault */
    while (n < 500000) {
        for (k = 0; k < 60; k++)
            big[n++] = (char)('!' + rand() % 94);
        n += (size_t)sprintf(big + n, "\n.dot line\n");
    }
    sprintf(big + n, "END-OF-MESSAGE\n");
    snprintf(path, sizeof(path), "%s/in.eml", work);
    spit(path, big);
    for (k = 0; k < 2; k++) {
        sink_start("");
        if (k == 0)
            config("encrypt = required\nmethod = pgp\n");
        else /* S/MIME: signed by the gateway's signer, then encrypted */
            config("encrypt = required\nmethod = smime\nsign = yes\n"
                   "[filter signkey s]\nsmime_cert = /FX/signer@example.com.crt\n"
                   "smime_key = /FX/signer@example.com.key\n");
        sh("sed -i 's|/FX|%s|' %s/f.ini", fx, work);
        st = sh("POSTSEAL_TEST_STREAM_FAIL_AFTER=200000 %s -c %s/f.ini -f signer@example.com -- "
                "%s < %s/in.eml 2> %s/stderr",
                filter_prog(), work, rcpt[k], work, work);
        err = slurp("%s/stderr", work);
        cr_assert_eq(st, 75, "case %zu: %s", k, err);
        cr_assert(STARTS(err, "4.3.0 test fault: the stream fails after 200000 bytes"), "%s", err);
        cr_assert(strstr(err, "transaction abandoned") != NULL, "%s", err);
        free(err);
        usleep(200000); /* the sink writes what it got */
        snprintf(path, sizeof(path), "%s/1.msg", work);
        cr_assert_eq(access(path, F_OK), 0, "case %zu: the data phase had begun", k);
        cr_assert_neq(sh("test -s %s/1.msg", work), 1, "case %zu: data arrived", k);
        snprintf(path, sizeof(path), "%s/1.done", work);
        cr_assert_neq(access(path, F_OK), 0, "case %zu: a transaction was completed", k);
        /* no fault: delivered once, complete */
        st = sh("%s -c %s/f.ini -f signer@example.com -- %s < %s/in.eml 2> %s/stderr",
                filter_prog(), work, rcpt[k], work, work);
        err = slurp("%s/stderr", work);
        cr_assert_eq(st, 0, "case %zu: %s", k, err);
        free(err);
        snprintf(path, sizeof(path), "%s/2.done", work);
        cr_assert_eq(access(path, F_OK), 0, "case %zu: not delivered without the fault", k);
        if (k == 0) {
            snprintf(path, sizeof(path), "%s/m.asc", work);
            cr_assert_eq(sh("sed -n '/^-----BEGIN PGP MESSAGE/,/^-----END PGP MESSAGE/p' %s/2.msg "
                            "> %s/m.asc && gpg --homedir %s/gb --batch --quiet --decrypt %s/m.asc "
                            "| grep -q '^END-OF-MESSAGE'",
                            work, work, fx, work),
                         0, "bob decrypts the complete text");
        } else {
            cr_assert_eq(
                sh("cd %s && openssl cms -decrypt -in 2.msg -recip %s/dave@example.net.crt "
                   "-inkey %s/dave@example.net.key | openssl cms -verify -CAfile "
                   "%s/ca.crt -in /dev/stdin -out - 2>/dev/null | tr -d '\\r' | grep -q "
                   "'^END-OF-MESSAGE'",
                   work, fx, fx, fx),
                0, "dave decrypts and verifies the complete text");
        }
        teardown();
        sh("rm -f %s/*.msg %s/*.env %s/*.done", work, work, work);
    }
    free(big);
}

Test(filter, bad_config_and_usage_defer)
{
    char *err;

    sink_start("");
    config("encrypt = sometimes\n");
    cr_assert_eq(run(latin_msg, "-f alice@example.com -- x@example.net", &err), 75);
    cr_assert(STARTS(err, "4.3.5 postseal-filter: 1 configuration error(s)"), "%s", err);
    free(err);
    config("");
    cr_assert_eq(run(latin_msg, "-f alice@example.com", &err), 75);
    cr_assert(STARTS(err, "usage") || strstr(err, "4.3.5") != NULL, "%s", err);
    free(err);
    cr_assert_eq(run(latin_msg, "--check", &err), 0, "%s", err);
    cr_assert(strstr(slurp("%s/stdout", work), "configuration OK") != NULL);
    free(err);
}

Test(filter, malformed_mime_defers_when_crypto_is_needed)
{
    static const char bad[] = "From: a@example.com\nContent-Type: multipart/mixed; boundary=b\n\n"
                              "--b\n\nunterminated\n";
    char *err;

    sink_start("");
    config("encrypt = required\n");
    cr_assert_eq(run(bad, "-f alice@example.com -- bob@example.org", &err), 75);
    cr_assert(STARTS(err, "4.6.0 message: unterminated multipart"), "%s", err);
    free(err);
    config("encrypt = required\nmalformed = bounce\n");
    cr_assert_eq(run(bad, "-f alice@example.com -- bob@example.org", &err), 69);
    cr_assert(STARTS(err, "5.6.0 message: unterminated multipart"), "%s", err);
    free(err);
    /* no crypto needed: passed on unchanged */
    config("encrypt = never\n");
    cr_assert_eq(run(bad, "-f alice@example.com -- bob@example.org", &err), 0, "%s", err);
    cr_assert_str_eq(slurp("%s/1.msg", work), bad);
    free(err);
}

Test(filter, dry_run_prints_decisions_and_sends_nothing)
{
    char *err, *out;

    sink_start("");
    config("encrypt = required\nno_key = bounce\n");
    cr_assert_eq(
        run(latin_msg, "--dry-run -f alice@example.com -- bob@example.org n@example.net", &err), 0,
        "%s", err);
    out = slurp("%s/stdout", work);
    cr_assert(strstr(out, "bob@example.org: rule=[filter] encrypt=required") != NULL, "%s", out);
    cr_assert(strstr(out, "-> encrypt pgp key=") != NULL, "%s", out);
    cr_assert(strstr(out, "n@example.net: rule=[filter] encrypt=required sign=no "
                          "method=pgp,smime signkey=- -> no key: bounce") != NULL,
              "%s", out);
    cr_assert_eq(count_msgs(), 0);
    free(err), free(out);
}

Test(filter, out_of_disk_is_75)
{
    char *err, *big = malloc(300000), cmd[2048];
    size_t n;
    int st;

    sink_start("");
    config("encrypt = never\n");
    n = (size_t)sprintf(big, "Subject: big\n\n");
    while (n < 250000)
        n += (size_t)sprintf(big + n, "%080d\n", 0);
    snprintf(cmd, sizeof(cmd), "%s/in.eml", work);
    spit(cmd, big);
    /* a file size limit stands in for a full disk: writes fail with EFBIG */
    snprintf(cmd, sizeof(cmd),
             "trap '' XFSZ; ulimit -f 100; %s -c %s/f.ini -f a@example.com -- "
             "b@example.net < %s/in.eml 2> %s/stderr",
             filter_prog(), work, work, work);
    st = system(cmd);
    err = slurp("%s/stderr", work);
    cr_assert_eq(WEXITSTATUS(st), 75, "%s", err);
    cr_assert(STARTS(err, "4.3.0 writing the spool file: File too large"), "%s", err);
    cr_assert_eq(count_msgs(), 0);
    free(err), free(big);
}

Test(filter, size_limit_bounces)
{
    char *err;

    sink_start("");
    config("encrypt = never\nmessage_size_limit = 100\n");
    cr_assert_eq(run(latin_msg, "-f alice@example.com -- x@example.net", &err), 69);
    cr_assert(STARTS(err, "5.3.4 message too big"), "%s", err);
    free(err);
}

/* After the run: stop the gpg-agents of fixture homes whose test run is
 * over (the process that made them is gone, or is this one) and remove them. */
ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
    (void)stats;
    sh("for d in /tmp/test_filter.fx.*; do [ -d \"$d\" ] || continue; p=${d##*.}; "
       "if [ \"$p\" = %d ] || [ \"$p\" = %d ] || ! kill -0 \"$p\" 2>/dev/null; then "
       "for h in gf gb gc gs gsm; do gpgconf --homedir $d/$h --kill all 2>/dev/null; done; "
       "rm -rf \"$d\"; fi; done",
       (int)getpid(), (int)getppid());
}
