/* test_xform: the inner entity (RFC 9788 header protection, 7-bit safe
 * re-encoding), the outer message and the pass-through copy, byte for byte. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ferr.h"
#include "mime.h"
#include "xform.h"

struct msg {
    int fd;
    struct mime_header h;
    struct mime_msg m;
};

static void msg_open(struct msg *x, const char *text)
{
    FILE *fp = tmpfile();
    struct mime_err e;

    fputs(text, fp);
    fflush(fp);
    x->fd = dup(fileno(fp));
    fclose(fp);
    cr_assert_eq(mime_header_read(x->fd, 0, -1, "", &x->h, &e), MIME_OK, "%s", e.text);
    cr_assert_eq(mime_parse(x->fd, 0, -1, &x->m, &e), MIME_OK, "%s", e.text);
}

static void msg_close(struct msg *x)
{
    mime_header_free(&x->h);
    mime_msg_free(&x->m);
    close(x->fd);
}

static char *inner(struct msg *x, int hp, int obscure, int keep, int extra_lf)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    struct ferr err;

    cr_assert_eq(xform_inner(x->fd, &x->m, &x->h, hp, obscure, keep, extra_lf, out, &err), FERR_OK,
                 "%s", err.text);
    fclose(out);
    return buf;
}

Test(xform, single_8bit_text_becomes_qp_with_protected_headers)
{
    struct msg x;
    char *got;

    msg_open(&x, "Received: from x\nFrom: a@example.com\nTo: b@example.org\nBcc: hidden@x\n"
                 "Subject: hi\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8;\n"
                 "Content-Transfer-Encoding: 8bit\n\ncaf\xc3\xa9\n");
    got = inner(&x, XFORM_HP_CIPHER, 1, 0, 0);
    cr_assert_str_eq(got, "From: a@example.com\nTo: b@example.org\nSubject: hi\n"
                          "HP-Outer: From: a@example.com\nHP-Outer: To: b@example.org\n"
                          "HP-Outer: Subject: ...\n"
                          "Content-Type: text/plain; charset=utf-8;\n hp=\"cipher\"\n"
                          "Content-Transfer-Encoding: quoted-printable\n\ncaf=C3=A9\n");
    free(got);
    got = inner(&x, XFORM_HP_CLEAR, 0, 0, 1);
    cr_assert(strstr(got, "HP-Outer") == NULL);
    cr_assert(strstr(got, "hp=\"clear\"") != NULL);
    cr_assert(strcmp(got + strlen(got) - 11, "caf=C3=A9\n\n") == 0, "extra LF: %s", got);
    free(got);
    msg_close(&x);
}

Test(xform, eight_bit_subject_is_encoded_inside)
{
    struct msg x;
    char *got, dec[256];

    msg_open(&x, "Subject: Caf\xc3\xa9 cr\xc3\xa8me br\xc3\xbbl\xc3\xa9"
                 "e "
                 "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac "
                 "and a long tail of words\n\nx\n");
    got = inner(&x, XFORM_HP_CLEAR, 0, 0, 0);
    for (size_t i = 0; got[i]; i++)
        cr_assert((unsigned char)got[i] < 0x80, "8-bit byte at %zu: %s", i, got);
    /* decoding the words gives the original bytes back */
    {
        char *end = strstr(got, "\nContent-Type"), *v = got + 9, unf[512];
        size_t n = 0;

        cr_assert_not_null(end);
        for (; v < end; v++)
            if (*v != '\n')
                unf[n++] = *v;
        unf[n] = 0;
        mime_words_decode(unf, dec, sizeof(dec));
    }
    cr_assert_str_eq(dec, "Caf\xc3\xa9 cr\xc3\xa8me br\xc3\xbbl\xc3\xa9"
                          "e "
                          "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac "
                          "and a long tail of words");
    free(got);
    msg_close(&x);
}

Test(xform, safe_body_is_copied_and_missing_content_type_added)
{
    struct msg x;
    char *got;

    msg_open(&x, "Subject: s\n\nplain ascii\n");
    got = inner(&x, XFORM_HP_CLEAR, 0, 0, 0);
    cr_assert_str_eq(got, "Subject: s\nContent-Type: text/plain; charset=us-ascii;\n"
                          " hp=\"clear\"\n\nplain ascii\n");
    free(got);
    msg_close(&x);
}

Test(xform, multipart_leaves_reencoded_structure_kept)
{
    struct msg x;
    char *got;

    msg_open(&x, "Subject: m\nContent-Type: multipart/mixed; boundary=\"b\"\n\n"
                 "preamble\n--b\nContent-Type: text/plain\n\nshort ascii\n"
                 "--b\nContent-Type: application/octet-stream\n\n\x01\x02\xff\n"
                 "--b\nContent-Type: text/plain\n\ntrailing blank \n--b--\nepilogue\n");
    got = inner(&x, XFORM_HP_CLEAR, 0, 0, 0);
    cr_assert_str_eq(got, "Subject: m\nContent-Type: multipart/mixed; boundary=\"b\";\n"
                          " hp=\"clear\"\n\n"
                          "preamble\n--b\nContent-Type: text/plain\n\nshort ascii\n"
                          "--b\nContent-Type: application/octet-stream\n"
                          "Content-Transfer-Encoding: base64\n\nAQL/\n\n"
                          "--b\nContent-Type: text/plain\nContent-Transfer-Encoding: "
                          "quoted-printable\n\ntrailing blank=20=\n\n--b--\nepilogue\n");
    free(got);
    msg_close(&x);
}

Test(xform, existing_hp_parameter_and_signed_body_kept)
{
    struct msg x;
    char *got;
    const char *body = "--s\nContent-Type: text/plain\n\nFrom me \xc3\xa9\n--s\n"
                       "Content-Type: application/pgp-signature\n\nsig\n--s--\n";
    char text[512];

    snprintf(text, sizeof(text),
             "Subject: s\nContent-Type: multipart/signed; boundary=s; hp=\"clear\"\n\n%s", body);
    msg_open(&x, text);
    cr_assert_eq(xform_classify(x.fd, &x.m), XFORM_SIGNED);
    got = inner(&x, XFORM_HP_CIPHER, 0, 1, 0);
    cr_assert(strstr(got, "Content-Type: multipart/signed; boundary=s; hp=\"clear\"\n\n") != NULL,
              "%s", got);
    cr_assert_str_eq(strstr(got, "\n\n") + 2, body);
    free(got);
    msg_close(&x);
}

Test(xform, classify)
{
    struct msg x;

    msg_open(&x, "Content-Type: application/pkcs7-mime; smime-type=enveloped-data\n\nx\n");
    cr_assert_eq(xform_classify(x.fd, &x.m), XFORM_ENCRYPTED);
    msg_close(&x);
    msg_open(&x, "Content-Type: application/pkcs7-mime; smime-type=signed-data\n\nx\n");
    cr_assert_eq(xform_classify(x.fd, &x.m), XFORM_SIGNED);
    msg_close(&x);
    msg_open(&x, "Subject: x\n\n-----BEGIN PGP MESSAGE-----\nabc\n");
    cr_assert_eq(xform_classify(x.fd, &x.m), XFORM_ENCRYPTED);
    msg_close(&x);
    msg_open(&x, "Subject: x\n\nhello\n");
    cr_assert_eq(xform_classify(x.fd, &x.m), XFORM_PLAIN);
    msg_close(&x);
}

Test(xform, outer_and_passthru)
{
    struct msg x;
    char *buf = NULL;
    size_t len = 0;
    FILE *out, *ent = tmpfile();
    struct ferr err;

    msg_open(&x, "From: a@x\nBcc: h@x\nSubject: secret\nMIME-Version: 1.0\n"
                 "Content-Type: text/plain\nX-Postseal-Hold: forged\n\nbody\n");
    fputs("Content-Type: multipart/encrypted; boundary=e\n\n--e--\n", ent);
    fflush(ent);
    out = open_memstream(&buf, &len);
    cr_assert_eq(xform_outer(x.fd, &x.h, 1, fileno(ent), out, &err), FERR_OK);
    fclose(out);
    cr_assert_str_eq(buf, "From: a@x\nSubject: ...\nMIME-Version: 1.0\n"
                          "Content-Type: multipart/encrypted; boundary=e\n\n--e--\n");
    free(buf);
    out = open_memstream(&buf, &len);
    cr_assert_eq(xform_passthru(x.fd, &x.h, "X-Postseal-Hold", "why", out, &err), FERR_OK);
    fclose(out);
    cr_assert_str_eq(buf, "X-Postseal-Hold: why\nFrom: a@x\nSubject: secret\nMIME-Version: 1.0\n"
                          "Content-Type: text/plain\n\nbody\n");
    free(buf);
    fclose(ent);
    msg_close(&x);
}
