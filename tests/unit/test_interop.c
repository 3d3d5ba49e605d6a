/* test_interop: inbound_process on message shapes other S/MIME agents
 * send, made at test time by openssl (a throw-away CA, sender and gateway
 * certificates in tests/work/interop.PID): application/x-pkcs7-mime
 * without the smime-type parameter (older agents; RFC 8551 3.2.2) holding
 * signed-data or enveloped-data; the outbound inner entity of a delivery
 * report.  No network. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfg.h"
#include "inbound.h"
#include "log.h"
#include "xform.h"

static char dir[512];

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
    char cmd[4096];
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
    snprintf(dir, sizeof(dir), "%s/tests/work/interop.%d", cwd, (int)getpid());
    sh("rm -rf %s && mkdir -p %s && cd %s && umask 077 && "
       "printf 'basicConstraints=CA:false\\nkeyUsage=digitalSignature,keyEncipherment\\n"
       "extendedKeyUsage=emailProtection\\nsubjectAltName=email:copy\\n' >usr.ext && "
       "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 30 "
       "-subj /CN=ca -addext basicConstraints=critical,CA:true >/dev/null 2>&1 && "
       "for u in al:al@ext.example bob:bob@local.example; do n=${u%%:*}; "
       "openssl req -newkey rsa:2048 -nodes -keyout $n.key -out $n.csr "
       "-subj /CN=$n/emailAddress=${u#*:} >/dev/null 2>&1 && "
       "openssl x509 -req -in $n.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
       "-days 30 -extfile usr.ext -out $n.pem >/dev/null 2>&1 || exit 1; done && "
       "printf 'Content-Type: text/plain\\n\\nOld agents still write x-pkcs7.\\n' >body",
       dir, dir, dir);
    log_open("test_interop", LOG_TO_STDERR, 0);
}

static void teardown(void)
{
    sh("rm -rf %s", dir);
}

TestSuite(interop, .init = setup, .fini = teardown, .timeout = 60);

/* Writes DIR/NAME.eml: a header, then Content-Type CTYPE with the DER
 * from the openssl command CMD (run in DIR, DER on stdout) in base64. */
static void mkmsg(const char *name, const char *ctype, const char *cmd)
{
    sh("cd %s && { printf 'From: al@ext.example\\nTo: bob@local.example\\nSubject: x\\n"
       "MIME-Version: 1.0\\nContent-Type: %s\\nContent-Transfer-Encoding: base64\\n\\n'; "
       "%s | base64; } >%s.eml",
       dir, ctype, cmd, name);
}

static char *process(const char *name, struct inbound_result *res, int *rc)
{
    char path[1400], text[1700];
    struct cfg_diag d = {0};
    struct inbound_cfg *ic;
    struct ferr err;
    struct cfg *c;
    struct stat st;
    const char *rcpt[] = {"bob@local.example"};
    char *out = NULL;
    size_t len = 0;
    FILE *fp;
    int fd;

    snprintf(path, sizeof(path), "%s/t.ini", dir);
    snprintf(text, sizeof(text),
             "[inbound]\nlocal_domains = local.example\nsmime_keypair = %s/bob.key %s/bob.pem\n"
             "ca_file = %s/ca.pem\nstatus_check = no\n",
             dir, dir, dir);
    cr_assert_not_null(fp = fopen(path, "w"));
    fputs(text, fp);
    fclose(fp);
    cr_assert_not_null(c = cfg_load(path, &d));
    cr_assert_not_null(ic = inbound_cfg_load(c, &d));
    snprintf(path, sizeof(path), "%s/%s.eml", dir, name);
    cr_assert((fd = open(path, O_RDONLY)) >= 0, "%s", path);
    fstat(fd, &st);
    cr_assert_not_null(fp = open_memstream(&out, &len));
    *rc = inbound_process(ic, fd, 0, st.st_size, "al@ext.example", rcpt, 1, fp, res, &err);
    fclose(fp);
    close(fd);
    inbound_cfg_free(ic);
    cfg_free(c);
    return out;
}

Test(interop, x_pkcs7_mime_signed_data_without_smime_type)
{
    struct inbound_result res;
    int rc;
    char *out;

    mkmsg("opaque", "application/x-pkcs7-mime; name=smime.p7m",
          "openssl cms -sign -nodetach -in body -signer al.pem -inkey al.key -outform DER");
    out = process("opaque", &res, &rc);
    cr_assert_eq(rc, FERR_OK);
    cr_assert(strncmp(res.verify, "valid; method=smime; signer=\"al@ext.example\"", 44) == 0,
              "verify: %s", res.verify);
    cr_assert_not_null(strstr(out, "\n\nOld agents still write x-pkcs7.\n"), "%s", out);
    cr_assert_null(strstr(out, "pkcs7-mime"), "%s", out);
    free(out);
}

Test(interop, pkcs7_mime_enveloped_data_without_smime_type)
{
    struct inbound_result res;
    int rc;
    char *out;

    mkmsg("env", "application/pkcs7-mime; name=smime.p7m",
          "openssl cms -encrypt -aes256 -in body -outform DER bob.pem");
    out = process("env", &res, &rc);
    cr_assert_eq(rc, FERR_OK);
    cr_assert_not_null(strstr(res.verify, "decrypt=smime"), "verify: %s", res.verify);
    cr_assert_not_null(strstr(out, "\n\nOld agents still write x-pkcs7.\n"), "%s", out);
    free(out);
}

/* An smime-type that contradicts the content is not second-guessed: the
 * message is refused with a reason naming the real content type. */
Test(interop, smime_type_contradicting_content_is_a_clear_failure)
{
    struct inbound_result res;
    int rc;
    char *out;

    mkmsg("lie", "application/pkcs7-mime; smime-type=enveloped-data",
          "openssl cms -sign -nodetach -in body -signer al.pem -inkey al.key -outform DER");
    out = process("lie", &res, &rc);
    cr_assert_eq(rc, FERR_OK);
    cr_assert_not_null(strstr(res.verify, "not (auth)enveloped data"), "verify: %s", res.verify);
    cr_assert_not_null(strstr(out, "smime-type=enveloped-data"), "%s", out);
    free(out);
}

/* Outbound: a DSN (multipart/report) to be signed or encrypted.  Its
 * message/delivery-status part MUST stay 7bit (RFC 3464 2.1): a long
 * Diagnostic-Code line and a trailing blank must not turn it into base64
 * (report parsers read the fields as they are), while the text part with
 * the same line is re-encoded as usual. */
Test(interop, delivery_status_stays_7bit_in_the_inner_entity)
{
    char line[300], msg[2048], *got = NULL;
    size_t len = 0;
    struct mime_header h;
    struct mime_msg m;
    struct mime_err e;
    struct ferr err;
    FILE *fp, *out;
    int fd;

    memset(line, 'x', sizeof(line) - 1);
    line[sizeof(line) - 1] = 0;
    snprintf(msg, sizeof(msg),
             "From: MAILER-DAEMON@local.example\nTo: u@ext.example\nSubject: failure\n"
             "MIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status;"
             " boundary=R\n\n--R\nContent-Type: text/plain\n\nDiagnostic-Code: smtp; %s\n"
             "--R\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.local.example"
             " \n\nFinal-Recipient: rfc822; v@ext.example\nAction: failed\nStatus: 5.1.1\n"
             "Diagnostic-Code: smtp; %s\n--R--\n",
             line, line);
    cr_assert_not_null(fp = tmpfile());
    fputs(msg, fp);
    fflush(fp);
    fd = dup(fileno(fp));
    fclose(fp);
    cr_assert_eq(mime_header_read(fd, 0, -1, "", &h, &e), MIME_OK, "%s", e.text);
    cr_assert_eq(mime_parse(fd, 0, -1, &m, &e), MIME_OK, "%s", e.text);
    cr_assert_not_null(out = open_memstream(&got, &len));
    cr_assert_eq(xform_inner(fd, &m, &h, XFORM_HP_CIPHER, 0, 0, 0, out, &err), FERR_OK, "%s",
                 err.text);
    fclose(out);
    /* the report part: copied byte for byte, no transfer encoding added */
    cr_assert_not_null(strstr(got, "Content-Type: message/delivery-status\n\nReporting-MTA: dns; "
                                   "mx.local.example \n\nFinal-Recipient: rfc822; v@ext.example\n"
                                   "Action: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; xxx"),
                       "%s", got);
    cr_assert_eq(strstr(got, "Content-Transfer-Encoding: base64"), NULL, "%s", got);
    /* the text part with the same long line: quoted-printable */
    cr_assert_not_null(strstr(got, "Content-Type: text/plain\nContent-Transfer-Encoding: "
                                   "quoted-printable\n"),
                       "%s", got);
    free(got);
    mime_header_free(&h);
    mime_msg_free(&m);
    close(fd);
}
