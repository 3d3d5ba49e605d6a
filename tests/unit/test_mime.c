/* test_mime: the strict MIME layer: headers, parameters, multipart structure,
 * transfer encodings and every documented limit. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mime.h"

static int tmpfd(const char *data, size_t len)
{
    FILE *fp = tmpfile();
    int fd;

    cr_assert_not_null(fp);
    cr_assert_eq(fwrite(data, 1, len, fp), len);
    fflush(fp);
    fd = dup(fileno(fp));
    fclose(fp);
    return fd;
}

static int parse(const char *s, struct mime_msg *m, struct mime_err *e)
{
    int fd = tmpfd(s, strlen(s)), rc = mime_parse(fd, 0, -1, m, e);

    close(fd);
    return rc;
}

static char *slice(const char *s, off_t a, off_t b)
{
    return strndup(s + a, (size_t)(b - a));
}

#define BODY_EQ(msg, p, want)                                                                      \
    do {                                                                                           \
        char *got_ = slice(msg, (p)->body, (p)->end);                                              \
        cr_assert_str_eq(got_, want);                                                              \
        free(got_);                                                                                \
    } while (0)

#define PARSE_ERR(msg, code, want)                                                                 \
    do {                                                                                           \
        struct mime_msg m_;                                                                        \
        struct mime_err e_;                                                                        \
        int rc_ = parse(msg, &m_, &e_);                                                            \
        cr_assert_eq(rc_, code, "rc %d: %s", rc_, e_.text);                                        \
        cr_assert_str_eq(e_.text, want);                                                           \
        if (rc_ == MIME_OK)                                                                        \
            mime_msg_free(&m_);                                                                    \
    } while (0)

/* ---- headers ---- */

Test(mime_header, folding_and_offsets)
{
    const char *s = "Subject: hello\n  world\nX-A:b\n\tc\nTo : x@y\n\nbody\n";
    struct mime_header h;
    struct mime_err e;
    int fd = tmpfd(s, strlen(s));
    const struct mime_field *f;
    size_t idx = 0;

    cr_assert_eq(mime_header_read(fd, 0, -1, "", &h, &e), MIME_OK, "%s", e.text);
    cr_assert_eq(h.count, 3);
    cr_assert_str_eq(h.fields[0].name, "Subject");
    cr_assert_str_eq(h.fields[0].value, "hello  world");
    cr_assert_str_eq(h.fields[1].value, "b\tc");
    cr_assert_str_eq(h.fields[2].name, "To");
    cr_assert_str_eq(h.fields[2].value, "x@y");
    cr_assert_eq(h.fields[0].off, 0);
    cr_assert_eq(h.fields[0].end, 23);
    cr_assert_eq(h.fields[2].end, (off_t)(strstr(s, "\n\n") - s + 1));
    cr_assert_str_eq(s + h.body, "body\n");
    f = mime_header_find(&h, "x-a", &idx);
    cr_assert_not_null(f);
    cr_assert_null(mime_header_find(&h, "x-a", &idx));
    mime_header_free(&h);
    close(fd);
}

Test(mime_header, crlf_and_no_body)
{
    const char *s = "A: 1\r\nB: 2\r\n";
    struct mime_header h;
    struct mime_err e;
    int fd = tmpfd(s, strlen(s));

    cr_assert_eq(mime_header_read(fd, 0, -1, "", &h, &e), MIME_OK, "%s", e.text);
    cr_assert_eq(h.count, 2);
    cr_assert_str_eq(h.fields[1].value, "2");
    cr_assert_eq(h.body, (off_t)strlen(s));
    mime_header_free(&h);
    close(fd);
}

Test(mime_header, range_end_respected)
{
    const char *s = "A: 1\nB: 2\n\nbody";
    struct mime_header h;
    struct mime_err e;
    int fd = tmpfd(s, strlen(s));

    cr_assert_eq(mime_header_read(fd, 0, 5, "", &h, &e), MIME_OK);
    cr_assert_eq(h.count, 1);
    cr_assert_eq(h.body, 5);
    mime_header_free(&h);
    close(fd);
}

Test(mime_header, errors_name_line)
{
    PARSE_ERR("Subject: x\nno colon here\n\n", MIME_EBAD,
              "message: header line 2: header line without a field name and colon");
    PARSE_ERR(" folded: first\n\n", MIME_EBAD,
              "message: header line 1: continuation line without a header field");
    PARSE_ERR("Sub\001ject: x\n\n", MIME_EBAD,
              "message: header line 1: byte 0x01 in a header field name");
    PARSE_ERR(": empty name\n\n", MIME_EBAD,
              "message: header line 1: header line without a field name and colon");
    PARSE_ERR("A: b\0c\n\n", MIME_OK, ""); /* strlen stops at NUL: "A: b" */
}

Test(mime_header, nul_byte_rejected)
{
    const char s[] = "A: b\0c\n\nx\n";
    struct mime_msg m;
    struct mime_err e;
    int fd = tmpfd(s, sizeof(s) - 1);

    cr_assert_eq(mime_parse(fd, 0, -1, &m, &e), MIME_EBAD);
    cr_assert_str_eq(e.text, "message: header line 1: NUL byte");
    close(fd);
}

Test(mime_header, limit_line_length)
{
    char *s = malloc(3000);
    struct mime_msg m;
    struct mime_err e;

    /* exactly 998 bytes: accepted */
    memcpy(s, "X: ", 3);
    memset(s + 3, 'a', 995);
    strcpy(s + 998, "\n\nbody\n");
    cr_assert_eq(parse(s, &m, &e), MIME_OK, "%s", e.text);
    mime_msg_free(&m);
    /* 999: refused */
    memset(s + 3, 'a', 996);
    strcpy(s + 999, "\n\nbody\n");
    cr_assert_eq(parse(s, &m, &e), MIME_ELIMIT);
    cr_assert_str_eq(e.text, "message: header line 1 longer than 998 bytes");
    free(s);
}

Test(mime_header, limit_field_count)
{
    char *s = malloc(20 * 1100);
    size_t n = 0;
    int i;
    struct mime_msg m;
    struct mime_err e;

    for (i = 0; i < 1000; i++)
        n += (size_t)sprintf(s + n, "X-%d: v\n", i);
    strcpy(s + n, "\nbody\n");
    cr_assert_eq(parse(s, &m, &e), MIME_OK, "%s", e.text);
    mime_msg_free(&m);
    sprintf(s + n, "X-last: v\n\nbody\n");
    cr_assert_eq(parse(s, &m, &e), MIME_ELIMIT);
    cr_assert_str_eq(e.text, "message: more than 1000 header fields");
    free(s);
}

Test(mime_header, limit_field_and_section_size)
{
    size_t cap = MIME_MAX_HEADER_SIZE + 4096, n = 0;
    char *s = malloc(cap);
    struct mime_msg m;
    struct mime_err e;

    /* one field folded over many lines: over MIME_MAX_FIELD */
    n = (size_t)sprintf(s, "X: a\n");
    while (n < MIME_MAX_FIELD + 1000)
        n += (size_t)sprintf(s + n, " %090d\n", 0);
    strcpy(s + n, "\nb\n");
    cr_assert_eq(parse(s, &m, &e), MIME_ELIMIT);
    cr_assert(strstr(e.text, "header field X longer than 16384 bytes") != NULL, "%s", e.text);
    /* many fields, each under the limit: over MIME_MAX_HEADER_SIZE */
    n = 0;
    while (n < MIME_MAX_HEADER_SIZE + 100)
        n += (size_t)sprintf(s + n, "X-%zu: %0900d\n", n, 0);
    strcpy(s + n, "\nb\n");
    cr_assert_eq(parse(s, &m, &e), MIME_ELIMIT);
    cr_assert_str_eq(e.text, "message: header section larger than 262144 bytes");
    free(s);
}

/* ---- parameters ---- */

Test(mime_param, basic_quoted_and_comments)
{
    struct mime_hvalue hv;
    char eb[200];

    cr_assert_eq(mime_hvalue_parse(" Multipart/Mixed (c (nested)) ; BOUNDARY=\"a b\\\"c\" ;"
                                   " charset=utf-8;",
                                   1, &hv, eb, sizeof(eb)),
                 MIME_OK, "%s", eb);
    cr_assert_str_eq(hv.type, "multipart");
    cr_assert_str_eq(hv.subtype, "mixed");
    cr_assert_str_eq(mime_hvalue_param(&hv, "boundary"), "a b\"c");
    cr_assert_str_eq(mime_hvalue_param(&hv, "Charset"), "utf-8");
    cr_assert_null(mime_hvalue_param(&hv, "name"));
    mime_hvalue_free(&hv);
    cr_assert_eq(mime_hvalue_parse("attachment; filename=x.pdf", 0, &hv, eb, sizeof(eb)), MIME_OK);
    cr_assert_str_eq(hv.type, "attachment");
    cr_assert_str_eq(mime_hvalue_param(&hv, "filename"), "x.pdf");
    mime_hvalue_free(&hv);
    /* lenient unquoted values */
    cr_assert_eq(mime_hvalue_parse("multipart/mixed; boundary==_Part_1/x?", 1, &hv, eb, sizeof(eb)),
                 MIME_OK, "%s", eb);
    cr_assert_str_eq(mime_hvalue_param(&hv, "boundary"), "=_Part_1/x?");
    mime_hvalue_free(&hv);
}

Test(mime_param, rfc2231)
{
    struct mime_hvalue hv;
    char eb[200];

    cr_assert_eq(mime_hvalue_parse("attachment; filename*1=\"def\"; filename*0*=utf-8'en'%C3%A4bc;"
                                   " filename*2*=%2e%74xt; title*=us-ascii''a%20b",
                                   0, &hv, eb, sizeof(eb)),
                 MIME_OK, "%s", eb);
    cr_assert_str_eq(mime_hvalue_param(&hv, "filename"), "\xc3\xa4"
                                                         "bcdef.txt");
    cr_assert_str_eq(hv.params[0].charset, "utf-8");
    cr_assert_str_eq(mime_hvalue_param(&hv, "title"), "a b");
    mime_hvalue_free(&hv);
}

Test(mime_param, errors)
{
    struct mime_hvalue hv;
    char eb[200];
    static const struct {
        const char *in;
        int ctype, rc;
        const char *text;
    } t[] = {
        {"text", 1, MIME_EBAD, "missing '/' after media type text"},
        {"text/", 1, MIME_EBAD, "missing subtype"},
        {"text/plain; charset", 1, MIME_EBAD, "parameter charset without '='"},
        {"text/plain; charset=", 1, MIME_EBAD, "missing parameter value"},
        {"text/plain; a=\"open", 1, MIME_EBAD, "unterminated quoted string"},
        {"text/plain (open", 1, MIME_EBAD, "unterminated comment"},
        {"text/plain; a=1; A=2", 1, MIME_EBAD, "duplicate parameter a"},
        {"text/plain a=1", 1, MIME_EBAD, "unexpected 'a' (expected ';' before a parameter)"},
        {"text/plain; a*1=x", 1, MIME_EBAD, "parameter a: continuation without section 0"},
        {"text/plain; a*0=x; a*2=y", 1, MIME_EBAD, "parameter a: section 2 without section 1"},
        {"text/plain; a*0=x; a*0=y", 1, MIME_EBAD, "parameter a*0 given twice"},
        {"text/plain; a*=nocharset", 1, MIME_EBAD, "parameter a*: missing charset'language'"},
        {"text/plain; a*=x''%G1", 1, MIME_EBAD, "parameter a: invalid %-escape"},
        {"text/plain; a*=x''%00", 1, MIME_EBAD, "parameter a: NUL byte"},
        {"text/plain; a*01=x", 1, MIME_EBAD, "invalid parameter name a*01"},
        {"; x=1", 0, MIME_EBAD, "unexpected ';' where disposition type expected"},
    };
    size_t i;

    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        eb[0] = 0;
        cr_expect_eq(mime_hvalue_parse(t[i].in, t[i].ctype, &hv, eb, sizeof(eb)), t[i].rc, "%s",
                     t[i].in);
        cr_expect_str_eq(eb, t[i].text, "%s", t[i].in);
    }
}

Test(mime_param, limits)
{
    struct mime_hvalue hv;
    char eb[200], *s = malloc(8000);
    size_t n;
    int i;

    /* 32 parameters accepted, 33 refused */
    n = (size_t)sprintf(s, "text/plain");
    for (i = 0; i < 32; i++)
        n += (size_t)sprintf(s + n, "; p%d=v", i);
    cr_assert_eq(mime_hvalue_parse(s, 1, &hv, eb, sizeof(eb)), MIME_OK, "%s", eb);
    mime_hvalue_free(&hv);
    sprintf(s + n, "; p32=v");
    cr_assert_eq(mime_hvalue_parse(s, 1, &hv, eb, sizeof(eb)), MIME_ELIMIT);
    cr_assert_str_eq(eb, "more than 32 parameters");
    /* value of 1024 bytes accepted, 1025 refused; also across sections */
    n = (size_t)sprintf(s, "text/plain; a=\"");
    memset(s + n, 'x', 1024);
    strcpy(s + n + 1024, "\"");
    cr_assert_eq(mime_hvalue_parse(s, 1, &hv, eb, sizeof(eb)), MIME_OK, "%s", eb);
    mime_hvalue_free(&hv);
    memset(s + n, 'x', 1025);
    strcpy(s + n + 1025, "\"");
    cr_assert_eq(mime_hvalue_parse(s, 1, &hv, eb, sizeof(eb)), MIME_ELIMIT);
    cr_assert_str_eq(eb, "parameter value longer than 1024 bytes");
    n = (size_t)sprintf(s, "text/plain; a*0=");
    memset(s + n, 'x', 600);
    n += 600;
    n += (size_t)sprintf(s + n, "; a*1=");
    memset(s + n, 'y', 600);
    s[n + 600] = 0;
    cr_assert_eq(mime_hvalue_parse(s, 1, &hv, eb, sizeof(eb)), MIME_ELIMIT);
    cr_assert_str_eq(eb, "parameter a longer than 1024 bytes");
    /* token length */
    n = (size_t)sprintf(s, "text/");
    memset(s + n, 'x', 128);
    s[n + 128] = 0;
    cr_assert_eq(mime_hvalue_parse(s, 1, &hv, eb, sizeof(eb)), MIME_EBAD);
    cr_assert_str_eq(eb, "subtype longer than 127 bytes");
    free(s);
}

Test(mime_param, cte)
{
    cr_assert_eq(mime_cte_parse("Base64"), MIME_CTE_BASE64);
    cr_assert_eq(mime_cte_parse(" quoted-printable (x)"), MIME_CTE_QP);
    cr_assert_eq(mime_cte_parse("7BIT"), MIME_CTE_7BIT);
    cr_assert_eq(mime_cte_parse("8bit"), MIME_CTE_8BIT);
    cr_assert_eq(mime_cte_parse("binary"), MIME_CTE_BINARY);
    cr_assert_eq(mime_cte_parse("x-uuencode"), -1);
    cr_assert_eq(mime_cte_parse("base64 junk"), -1);
    cr_assert_eq(mime_cte_parse(""), -1);
    cr_assert_str_eq(mime_cte_name(MIME_CTE_QP), "quoted-printable");
}

/* ---- structure ---- */

Test(mime_tree, single_part_defaults)
{
    const char *s = "Subject: x\n\nhello\nworld\n";
    struct mime_msg m;
    struct mime_err e;

    cr_assert_eq(parse(s, &m, &e), MIME_OK, "%s", e.text);
    cr_assert_eq(m.nparts, 1);
    cr_assert(mime_part_is(m.root, "text", "plain"));
    cr_assert_eq(m.root->ctype_given, 0);
    cr_assert_eq(m.root->cte, MIME_CTE_7BIT);
    BODY_EQ(s, m.root, "hello\nworld\n");
    cr_assert_eq(m.size, (off_t)strlen(s));
    mime_msg_free(&m);
}

static const char nested[] = "From: a@b\n"
                             "Content-Type: multipart/mixed; boundary=\"outer\"\n"
                             "\n"
                             "preamble text\n"
                             "--outer\n"
                             "Content-Type: text/plain\n"
                             "\n"
                             "first\n"
                             "--outer \t\n"
                             "Content-Type: multipart/alternative; boundary=outer2\n"
                             "\n"
                             "--outer2\n"
                             "\n"
                             "alt one\n"
                             "--outer2\n"
                             "Content-Type: text/html\n"
                             "Content-Transfer-Encoding: quoted-printable\n"
                             "\n"
                             "<p>two</p>\n"
                             "--outer2--\n"
                             "inner epilogue\n"
                             "--outer\n"
                             "Content-Type: message/rfc822\n"
                             "Content-Disposition: attachment; filename=m.eml\n"
                             "\n"
                             "Subject: inner\n"
                             "\n"
                             "--outerX not a delimiter\n"
                             "inner body\n"
                             "--outer--\n"
                             "epilogue\n";

Test(mime_tree, nested_offsets_and_ids)
{
    struct mime_msg m;
    struct mime_err e;
    struct mime_part *p;

    cr_assert_eq(parse(nested, &m, &e), MIME_OK, "%s", e.text);
    cr_assert_eq(m.nparts, 7);
    cr_assert(mime_part_is(m.root, "multipart", "mixed"));
    cr_assert_str_eq(m.root->boundary, "outer");
    cr_assert_eq(m.root->nchild, 3);
    {
        char *pre = slice(nested, m.root->preamble, m.root->preamble_end);
        char *epi = slice(nested, m.root->epilogue, m.root->epilogue_end);

        cr_assert_str_eq(pre, "preamble text");
        cr_assert_str_eq(epi, "epilogue\n");
        free(pre);
        free(epi);
    }
    p = mime_part_find(&m, "1");
    BODY_EQ(nested, p, "first");
    p = mime_part_find(&m, "2");
    cr_assert(mime_part_is(p, "multipart", "alternative"));
    {
        char *epi = slice(nested, p->epilogue, p->epilogue_end);

        cr_assert_str_eq(epi, "inner epilogue");
        free(epi);
    }
    BODY_EQ(nested, mime_part_find(&m, "2.1"), "alt one");
    p = mime_part_find(&m, "2.2");
    cr_assert(mime_part_is(p, "text", "html"));
    cr_assert_eq(p->cte, MIME_CTE_QP);
    BODY_EQ(nested, p, "<p>two</p>");
    p = mime_part_find(&m, "3");
    cr_assert(mime_part_is(p, "message", "rfc822"));
    cr_assert_str_eq(p->disposition, "attachment");
    BODY_EQ(nested, p, "Subject: inner\n\n--outerX not a delimiter\ninner body");
    p = mime_part_find(&m, "3.1");
    cr_assert_not_null(p);
    cr_assert_eq(p->depth, 2);
    BODY_EQ(nested, p, "--outerX not a delimiter\ninner body");
    /* header offsets: the part header starts right after the delimiter line */
    cr_assert(strncmp(nested + mime_part_find(&m, "2.2")->off, "Content-Type: text/html", 23) == 0);
    mime_msg_free(&m);
}

Test(mime_tree, empty_parts_and_first_line_delimiter)
{
    const char *s = "Content-Type: multipart/mixed; boundary=b\n\n--b\n\n--b\nA: 1\n\n--b--";
    struct mime_msg m;
    struct mime_err e;

    cr_assert_eq(parse(s, &m, &e), MIME_OK, "%s", e.text);
    cr_assert_eq(m.root->preamble, m.root->preamble_end);
    BODY_EQ(s, mime_part_find(&m, "1"), "");
    BODY_EQ(s, mime_part_find(&m, "2"), "");
    cr_assert_eq(m.root->epilogue, (off_t)strlen(s));
    mime_msg_free(&m);
}

Test(mime_tree, crlf_delimiters)
{
    const char *s = "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n";
    struct mime_msg m;
    struct mime_err e;

    cr_assert_eq(parse(s, &m, &e), MIME_OK, "%s", e.text);
    BODY_EQ(s, mime_part_find(&m, "1"), "x"); /* the CRLF belongs to the delimiter */
    mime_msg_free(&m);
}

/* RFC 2046 5.1.1: the CRLF before a delimiter line is part of it, so a
 * CRLF message gives the same part bytes (minus inner CRs) as the LF one,
 * and a signature over the CRLF form of a part verifies (interop: messages
 * saved by Windows clients, PGP/MIME and S/MIME with CRLF line ends). */
Test(mime_tree, crlf_before_delimiter_excluded)
{
    const char *s = "Content-Type: multipart/signed; boundary=o\r\n\r\npre\r\n"
                    "--o\r\nContent-Type: multipart/mixed; boundary=i\r\n\r\n"
                    "--i\r\n\r\na\r\nb\r\r\n--i\r\n\r\n\r\n--i--\r\nepi\r\n"
                    "--o\r\n\r\nsig\n--o--\r\n";
    struct mime_msg m;
    struct mime_err e;
    char *pre;

    cr_assert_eq(parse(s, &m, &e), MIME_OK, "%s", e.text);
    pre = slice(s, m.root->preamble, m.root->preamble_end);
    cr_assert_str_eq(pre, "pre");
    free(pre);
    BODY_EQ(s, mime_part_find(&m, "1.1"), "a\r\nb\r"); /* only the last CRLF goes */
    BODY_EQ(s, mime_part_find(&m, "1.2"), "");         /* body is one empty line */
    BODY_EQ(s, mime_part_find(&m, "2"), "sig");        /* LF only: as before */
    pre = slice(s, mime_part_find(&m, "1")->epilogue, mime_part_find(&m, "1")->epilogue_end);
    cr_assert_str_eq(pre, "epi");
    free(pre);
    BODY_EQ(s, mime_part_find(&m, "1"), "--i\r\n\r\na\r\nb\r\r\n--i\r\n\r\n\r\n--i--\r\nepi");
    mime_msg_free(&m);
}

Test(mime_tree, digest_default_type)
{
    const char *s =
        "Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: x\n\nhi\n--d--\n";
    struct mime_msg m;
    struct mime_err e;

    cr_assert_eq(parse(s, &m, &e), MIME_OK, "%s", e.text);
    cr_assert(mime_part_is(mime_part_find(&m, "1"), "message", "rfc822"));
    BODY_EQ(s, mime_part_find(&m, "1.1"), "hi");
    mime_msg_free(&m);
}

Test(mime_tree, errors)
{
    PARSE_ERR("Content-Type: multipart/mixed\n\nx\n", MIME_EBAD,
              "message: multipart/mixed without boundary parameter");
    PARSE_ERR("Content-Type: multipart/mixed; boundary=b\n\nno delimiter\n", MIME_EBAD,
              "message: no multipart boundary delimiter \"--b\" found");
    PARSE_ERR("Content-Type: multipart/mixed; boundary=b\n\n--b\n\nx\n", MIME_EBAD,
              "message: unterminated multipart: close delimiter \"--b--\" missing");
    PARSE_ERR("Content-Type: multipart/mixed; boundary=b\n\n--b--\n", MIME_EBAD,
              "message: close delimiter \"--b--\" before any body part");
    PARSE_ERR("Content-Type: multipart/mixed; boundary=b\n\n--b\n\nx\n--b--\n--b\n", MIME_EBAD,
              "message: boundary delimiter \"--b\" after the close delimiter");
    PARSE_ERR("Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: multipart/mixed; "
              "boundary=c\n\n--c\n\nx\n--b--\n",
              MIME_EBAD,
              "part 1: unterminated multipart: delimiter of the enclosing message found before "
              "\"--c--\"");
    PARSE_ERR("Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: multipart/mixed; "
              "boundary=b\n\n--b\n\nx\n--b--\n--b--\n",
              MIME_EBAD, "part 1: boundary \"b\" reused from the enclosing message");
    PARSE_ERR("Content-Type: multipart/mixed; boundary=b\n\n--b\nnot a header\n--b--\n", MIME_EBAD,
              "part 1: part header line 1: header line without a field name and colon");
    PARSE_ERR("Content-Type: multipart/mixed; boundary=b\n\n--b\nA: 1\n--b--\n", MIME_EBAD,
              "part 1: part header line 2: boundary delimiter before the empty line that ends "
              "the header");
    PARSE_ERR("Content-Type: multipart/mixed; boundary=\"b \"\n\n", MIME_EBAD,
              "message: invalid multipart boundary \"b \"");
    PARSE_ERR("Content-Type: multipart/mixed; boundary=\"a;b\"\n\n", MIME_EBAD,
              "message: invalid multipart boundary \"a;b\"");
    PARSE_ERR("Content-Type: multipart/mixed; boundary=b\nContent-Transfer-Encoding: base64\n\n",
              MIME_EBAD, "message: multipart with Content-Transfer-Encoding base64");
    PARSE_ERR("Content-Type: message/rfc822\nContent-Transfer-Encoding: quoted-printable\n\n",
              MIME_EBAD, "message: message/rfc822 with Content-Transfer-Encoding quoted-printable");
    PARSE_ERR("Content-Transfer-Encoding: x-uue\n\n", MIME_EBAD,
              "message: unknown Content-Transfer-Encoding \"x-uue\"");
    PARSE_ERR("Content-Type: text/plain\nContent-type: text/html\n\n", MIME_EBAD,
              "message: more than one Content-Type field");
    PARSE_ERR("Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text\n\nx\n--b--\n",
              MIME_EBAD, "part 1: Content-Type: missing '/' after media type text");
    PARSE_ERR("Content-Type: multipart/mixed; boundary=b\n\n--b\n\n--b\nContent-Disposition: ;\n\n"
              "--b--\n",
              MIME_EBAD,
              "part 2: Content-Disposition: unexpected ';' where disposition type "
              "expected");
}

Test(mime_tree, boundary_length_limit)
{
    char s[400], b[80];
    struct mime_msg m;
    struct mime_err e;

    memset(b, 'x', 70);
    b[70] = 0;
    snprintf(s, sizeof(s), "Content-Type: multipart/mixed; boundary=\"%s\"\n\n--%s\n\nx\n--%s--\n",
             b, b, b);
    cr_assert_eq(parse(s, &m, &e), MIME_OK, "%s", e.text);
    mime_msg_free(&m);
    strcat(b, "y");
    snprintf(s, sizeof(s), "Content-Type: multipart/mixed; boundary=\"%s\"\n\n--%s\n\nx\n--%s--\n",
             b, b, b);
    cr_assert_eq(parse(s, &m, &e), MIME_ELIMIT);
    cr_assert(strstr(e.text, "invalid multipart boundary") != NULL);
}

static char *nest(int depth)
{
    char *s = malloc(100000);
    size_t n = 0;
    int i;

    for (i = 0; i < depth; i++)
        n += (size_t)sprintf(s + n, "Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n", i, i);
    n += (size_t)sprintf(s + n, "\nleaf\n");
    for (i = depth - 1; i >= 0; i--)
        n += (size_t)sprintf(s + n, "--b%d--\n", i);
    return s;
}

Test(mime_tree, depth_limit)
{
    struct mime_msg m;
    struct mime_err e;
    char *s = nest(MIME_MAX_DEPTH);

    cr_assert_eq(parse(s, &m, &e), MIME_OK, "%s", e.text);
    cr_assert_eq(m.nparts, MIME_MAX_DEPTH + 1);
    mime_msg_free(&m);
    free(s);
    s = nest(MIME_MAX_DEPTH + 1);
    cr_assert_eq(parse(s, &m, &e), MIME_ELIMIT);
    cr_assert_str_eq(e.text, "part 1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1: MIME nesting deeper than 16");
    free(s);
}

Test(mime_tree, parts_limit)
{
    size_t cap = 20 * (MIME_MAX_PARTS + 10), n;
    char *s = malloc(cap);
    struct mime_msg m;
    struct mime_err e;
    int i;

    n = (size_t)sprintf(s, "Content-Type: multipart/mixed; boundary=b\n\n");
    for (i = 0; i < MIME_MAX_PARTS - 1; i++)
        n += (size_t)sprintf(s + n, "--b\n\nx\n");
    strcpy(s + n, "--b--\n");
    cr_assert_eq(parse(s, &m, &e), MIME_OK, "%s", e.text);
    cr_assert_eq(m.nparts, MIME_MAX_PARTS);
    mime_msg_free(&m);
    n += (size_t)sprintf(s + n, "--b\n\nx\n");
    strcpy(s + n, "--b--\n");
    cr_assert_eq(parse(s, &m, &e), MIME_ELIMIT);
    cr_assert_str_eq(e.text, "message: more than 2000 MIME parts");
    free(s);
}

Test(mime_tree, long_body_lines_and_partial_reads)
{
    /* a body line longer than the reader buffer, then a delimiter */
    size_t big = 200000, n;
    char *s = malloc(big + 200);
    struct mime_msg m;
    struct mime_err e;

    n = (size_t)sprintf(s, "Content-Type: multipart/mixed; boundary=b\n\n--b\n\n");
    memset(s + n, 'q', big);
    /* a fake delimiter inside the long line, at a 64 KiB piece boundary */
    memcpy(s + n + 65536 - 48, "--b--", 5);
    n += big;
    strcpy(s + n, "\n--b--\n");
    cr_assert_eq(parse(s, &m, &e), MIME_OK, "%s", e.text);
    cr_assert_eq(mime_part_find(&m, "1")->end - mime_part_find(&m, "1")->body, (off_t)big);
    mime_msg_free(&m);
    free(s);
}

/* ---- transfer encodings ---- */

static char *decode(int cte, const char *in, size_t chunk, int *rc, char *err)
{
    struct mime_dec d;
    char *out = malloc(strlen(in) + MIME_DEC_SLACK + 1);
    size_t o = 0, n, i, l = strlen(in);

    mime_dec_init(&d, cte);
    *rc = MIME_OK;
    for (i = 0; i < l && *rc == MIME_OK; i += chunk) {
        size_t c = l - i < chunk ? l - i : chunk;

        *rc = mime_dec_update(&d, in + i, c, out + o, &n);
        o += n;
    }
    if (*rc == MIME_OK) {
        *rc = mime_dec_final(&d, out + o, &n);
        o += n;
    }
    out[o] = 0;
    strcpy(err, d.error);
    return out;
}

Test(mime_cte, base64_decode_any_chunking)
{
    size_t chunk;
    char err[200];
    int rc;

    for (chunk = 1; chunk < 12; chunk++) {
        char *o = decode(MIME_CTE_BASE64, "aGVsbG8g\nd29y bGQ=\n", chunk, &rc, err);

        cr_assert_eq(rc, MIME_OK, "%s", err);
        cr_assert_str_eq(o, "hello world");
        free(o);
        o = decode(MIME_CTE_BASE64, "YQ==\r\n", chunk, &rc, err);
        cr_assert_str_eq(o, "a");
        free(o);
    }
}

Test(mime_cte, base64_errors)
{
    static const struct {
        const char *in, *err;
    } t[] = {
        {"YQ==YQ==", "base64 data after padding"},
        {"Y===", "misplaced base64 padding"},
        {"=", "misplaced base64 padding"},
        {"YWJj*", "invalid base64 character 0x2a"},
        {"YQ=", "truncated base64 data"},
        {"YWJ", "truncated base64 data"},
        {"Y", "truncated base64 data"},
    };
    size_t i;
    char err[200];
    int rc;

    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        free(decode(MIME_CTE_BASE64, t[i].in, 3, &rc, err));
        cr_expect_eq(rc, MIME_EBAD, "%s", t[i].in);
        cr_expect_str_eq(err, t[i].err, "%s", t[i].in);
    }
}

Test(mime_cte, qp_decode)
{
    size_t chunk;
    char err[200];
    int rc;

    for (chunk = 1; chunk < 9; chunk++) {
        char *o =
            decode(MIME_CTE_QP, "caf=C3=a9 =3D ok  \nsoft=\nbreak= \t\nend\r\n  x\ntrail=", chunk,
                   &rc, err);

        cr_assert_eq(rc, MIME_OK, "%s", err);
        cr_assert_str_eq(o, "caf\xc3\xa9 = ok\nsoftbreakend\n  x\ntrail");
        free(o);
    }
    free(decode(MIME_CTE_QP, "a=G1", 2, &rc, err));
    cr_assert_eq(rc, MIME_EBAD);
    cr_assert_str_eq(err, "invalid quoted-printable escape");
    free(decode(MIME_CTE_QP, "a=4", 2, &rc, err));
    cr_assert_eq(rc, MIME_EBAD);
    cr_assert_str_eq(err, "truncated quoted-printable escape");
    free(decode(MIME_CTE_QP, "a= x\n", 2, &rc, err));
    cr_assert_eq(rc, MIME_EBAD);
}

Test(mime_cte, qp_blank_run_limit)
{
    char in[600], err[200];
    int rc;
    char *o;

    memset(in, ' ', MIME_DEC_SLACK);
    strcpy(in + MIME_DEC_SLACK, "x\n");
    o = decode(MIME_CTE_QP, in, 7, &rc, err);
    cr_assert_eq(rc, MIME_OK, "%s", err);
    cr_assert_eq(strlen(o), MIME_DEC_SLACK + 2);
    free(o);
    memset(in, ' ', MIME_DEC_SLACK + 1);
    strcpy(in + MIME_DEC_SLACK + 1, "x\n");
    free(decode(MIME_CTE_QP, in, 7, &rc, err));
    cr_assert_eq(rc, MIME_ELIMIT);
}

static char *encode(int cte, const char *in, size_t len, size_t chunk)
{
    struct mime_enc en;
    char *out = malloc(mime_enc_bound(len) + 16);
    size_t o = 0, i;

    mime_enc_init(&en, cte);
    for (i = 0; i < len; i += chunk)
        o += mime_enc_update(&en, in + i, len - i < chunk ? len - i : chunk, out + o);
    o += mime_enc_final(&en, out + o);
    out[o] = 0;
    return out;
}

Test(mime_cte, base64_encode)
{
    char *o = encode(MIME_CTE_BASE64, "hello world", 11, 4);

    cr_assert_str_eq(o, "aGVsbG8gd29ybGQ=\n");
    free(o);
    o = encode(MIME_CTE_BASE64, "", 0, 1);
    cr_assert_str_eq(o, "");
    free(o);
    {
        char in[100];
        size_t i;

        memset(in, 'a', sizeof(in));
        o = encode(MIME_CTE_BASE64, in, sizeof(in), 7);
        cr_assert_eq(strchr(o, '\n') - o, 76);
        for (i = 0; o[i]; i++)
            cr_assert(o[i] == '\n' || strchr("YWFhQ=", o[i]));
        free(o);
    }
}

Test(mime_cte, qp_encode_rules)
{
    const char *in = "From me\n.\na=b \ntab\t\ncaf\xc3\xa9\rx";
    char *o = encode(MIME_CTE_QP, in, strlen(in), 3);

    cr_assert_str_eq(o, "=46rom me\n=2E\na=3Db=20\ntab=09\ncaf=C3=A9=0Dx=\n");
    free(o);
}

Test(mime_cte, roundtrip_random)
{
    size_t n = 5000, i, chunk;
    char *in = malloc(n + 1);
    unsigned int seed = 12345;
    int cte, rc;
    char err[200];

    for (i = 0; i < n; i++) {
        seed = seed * 1103515245 + 12345;
        in[i] = (char)((seed >> 16) & 0xff);
        if (in[i] == 0)
            in[i] = ' '; /* decode() works on C strings */
    }
    in[n] = 0;
    for (cte = MIME_CTE_QP; cte <= MIME_CTE_BASE64; cte++)
        for (chunk = 1; chunk < 200; chunk += 37) {
            char *enc = encode(cte, in, n, chunk), *dec;
            char *line;
            char *save;

            /* every encoded line is at most 76 characters and 7-bit */
            char *copy = strdup(enc);

            for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
                cr_assert_leq(strlen(line), 76);
            free(copy);
            for (i = 0; enc[i]; i++)
                cr_assert((unsigned char)enc[i] < 128);
            dec = decode(cte, enc, chunk, &rc, err);
            cr_assert_eq(rc, MIME_OK, "%s", err);
            cr_assert_eq(strlen(dec), n);
            cr_assert(memcmp(dec, in, n) == 0);
            free(enc);
            free(dec);
        }
    free(in);
}

Test(mime_cte, body_stats)
{
    struct mime_stats st;
    const char *s = "ok line\nFrom x\ntrail \n\xc3\xa9";
    int fd = tmpfd(s, strlen(s));

    cr_assert_eq(mime_body_stats(fd, 0, -1, &st), MIME_OK);
    cr_assert(st.has_8bit && st.from_line && st.trailing_blank && st.no_final_lf);
    cr_assert(!st.has_cr && !st.has_nul);
    cr_assert_eq(st.lines, 4);
    cr_assert_eq(st.max_line, 7);
    cr_assert(!mime_stats_7bit_safe(&st));
    cr_assert_eq(mime_body_stats(fd, 0, 8, &st), MIME_OK);
    cr_assert(mime_stats_7bit_safe(&st));
    cr_assert_eq(st.bytes, 8);
    close(fd);
}

/* Interop (tests/interop/corpus.sh over mail parsers' corpora): an empty
 * parameter (";;", seen from old MUAs) is skipped like a trailing ';'. */
Test(mime_param, empty_parameter_tolerated)
{
    struct mime_hvalue hv;
    char eb[200];

    cr_assert_eq(mime_hvalue_parse("multipart/mixed;; ; boundary=\"x y\";", 1, &hv, eb, sizeof(eb)),
                 MIME_OK, "%s", eb);
    cr_assert_str_eq(mime_hvalue_param(&hv, "boundary"), "x y");
    cr_assert_eq(hv.nparams, 1);
    mime_hvalue_free(&hv);
}

/* Interop: Apple Mail forwards a message/rfc822 whose header starts with
 * the mbox envelope line; it is no field, stays in the part's bytes, and
 * the embedded message parses.  At the top level it is still an error. */
Test(mime_tree, mbox_from_line_first_in_a_part_header)
{
    const char *s = "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
                    "Content-Type: message/rfc822\n\n"
                    "From a@example.com Tue May 10 11:28:07 2005\nFrom: a@example.com\n"
                    "Subject: fwd\n\ninner\n--b--\n";
    struct mime_msg m;
    struct mime_err e;
    struct mime_part *p;

    cr_assert_eq(parse(s, &m, &e), MIME_OK, "%s", e.text);
    cr_assert_not_null(p = mime_part_find(&m, "1.1"));
    BODY_EQ(s, p, "inner");
    cr_assert_eq(strncmp(s + p->off, "From a@example.com Tue", 22), 0);
    mime_msg_free(&m);
    PARSE_ERR("From a@example.com Tue May 10 11:28:07 2005\nSubject: x\n\nbody\n", MIME_EBAD,
              "message: header line 1: header line without a field name and colon");
}

/* The per-byte definition of mime_body_stats, to check the word-wise scan
 * against. */
static void ref_stats(const char *b, size_t n, struct mime_stats *st)
{
    size_t col = 0, i, nstart = 0;
    int last = '\n';
    char start[5];

    memset(st, 0, sizeof(*st));
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)b[i];

        if (c == '\n') {
            if (col > st->max_line)
                st->max_line = col;
            if (last == ' ' || last == '\t')
                st->trailing_blank = 1;
            st->lines++;
            col = 0;
            nstart = 0;
        } else {
            if (c >= 0x80)
                st->has_8bit = 1;
            else if (c == 0)
                st->has_nul = 1;
            else if (c == '\r')
                st->has_cr = 1;
            if (nstart < 5 && col == nstart) {
                start[nstart++] = (char)c;
                if (nstart == 5 && memcmp(start, "From ", 5) == 0)
                    st->from_line = 1;
            }
            col++;
        }
        last = c;
    }
    st->bytes = (off_t)n;
    if (col > 0) {
        if (col > st->max_line)
            st->max_line = col;
        if (last == ' ' || last == '\t')
            st->trailing_blank = 1;
        st->lines++;
    }
    st->no_final_lf = n > 0 && last != '\n';
}

static void stats_agree(const char *b, size_t n)
{
    struct mime_stats got, want;
    int fd = tmpfd(b, n);

    ref_stats(b, n, &want);
    cr_assert_eq(mime_body_stats(fd, 0, -1, &got), MIME_OK);
    close(fd);
    cr_assert_eq(got.bytes, want.bytes);
    cr_assert_eq(got.lines, want.lines, "lines %lld != %lld", (long long)got.lines,
                 (long long)want.lines);
    cr_assert_eq(got.max_line, want.max_line, "max_line %zu != %zu", got.max_line, want.max_line);
    cr_assert_eq(got.has_8bit, want.has_8bit);
    cr_assert_eq(got.has_nul, want.has_nul);
    cr_assert_eq(got.has_cr, want.has_cr);
    cr_assert_eq(got.trailing_blank, want.trailing_blank);
    cr_assert_eq(got.from_line, want.from_line, "from_line %d != %d (n %zu)", got.from_line,
                 want.from_line, n);
    cr_assert_eq(got.no_final_lf, want.no_final_lf);
}

/* Each property alone, placed at every offset around the 64 KiB read edge
 * (a "From " line split by the edge, a blank before a LF on the next read,
 * an 8-bit / NUL / CR byte in the odd tail after the last whole word). */
Test(mime_cte, body_stats_across_read_edges)
{
    size_t n = 65536 * 2 + 13, edge = 65536, d;
    char *b = malloc(n);
    static const char *const probes[] = {"\nFrom x", "\nFrom", " \n", "\t\n",
                                         "\xe9",     "\r",     "\0",  "\n\n"};
    size_t i, k;

    cr_assert_not_null(b);
    for (k = 0; k < sizeof(probes) / sizeof(probes[0]); k++) {
        size_t plen = k == 6 ? 1 : strlen(probes[k]);

        for (d = 0; d < 12; d++) {
            for (i = 0; i < n; i++)
                b[i] = (char)(i % 70 == 69 ? '\n' : 'a' + i % 26);
            memcpy(b + edge - 6 + d, probes[k], plen);
            stats_agree(b, n);
            /* the same near the end (the tail after the last 8-byte word) */
            memcpy(b + n - 1 - d % 7, probes[k], 1);
            stats_agree(b, n);
        }
    }
    stats_agree("", 0);
    stats_agree("From ", 5);
    stats_agree("Fro", 3);
    stats_agree("\n", 1);
    free(b);
}

Test(mime_cte, body_stats_random)
{
    size_t n = 200000, i, k;
    char *b = malloc(n);
    unsigned seed = 11;
    static const char alpha[] = "From \t\n\r.xyz";

    cr_assert_not_null(b);
    for (k = 0; k < 10; k++) {
        size_t len = n - k * 997;

        for (i = 0; i < len; i++) {
            unsigned r = (seed = seed * 1103515245 + 12345) >> 16;

            b[i] = r % 5000 == 0 ? (char)(0x80 | r) : r % 9000 == 1 ? 0 : alpha[r % 13];
        }
        stats_agree(b, len);
    }
    free(b);
}
