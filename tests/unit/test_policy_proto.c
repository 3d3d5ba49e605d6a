/* test_policy_proto: the policy codec on real Postfix 3.7 requests and on
 * every limit and malformation it must refuse. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_proto.h"

/* case c_tls_cacert from shared/reference/postfix-3.7-policy-dumps.txt */
static const char dump_c[] =
    "ccert_fingerprint=FE:A5:D1:02:C3:5B:A4:89:63:A2:66:97:42:36:D1:3C:F0:6C:45:24:B6:1A:76:60:"
    "C5:F6:A7:2D:20:BC:28:F9\n"
    "ccert_issuer=Spike+20Test+20CA\n"
    "ccert_pubkey_fingerprint=62:E1:85:E4:01:42:6E:A0:F2:61:62:D8:31:FC:07:47:CF:6E:B1:E9:24:49:"
    "34:56:73:71:4D:64:E3:40:F6:6F\n"
    "ccert_subject=client.example.test\n"
    "client_address=127.0.0.1\nclient_name=unknown\nclient_port=38300\n"
    "encryption_cipher=TLS_AES_256_GCM_SHA384\nencryption_keysize=256\n"
    "encryption_protocol=TLSv1.3\netrn_domain=\nhelo_name=client.test\n"
    "instance=12b1.6b032b5e.a06e2.0\npolicy_context=\nprotocol_name=ESMTP\n"
    "protocol_state=RCPT\nqueue_id=\nrecipient=c@example.test\nrecipient_count=0\n"
    "request=smtpd_access_policy\nreverse_client_name=unknown\nsasl_method=\nsasl_sender=\n"
    "sasl_username=\nsender=sender@example.test\nserver_address=127.0.0.1\n"
    "server_port=10025\nsize=0\nstress=\n\n";

static ssize_t scan_all(const char *data, size_t len, char *err)
{
    struct proto_scan st;

    proto_scan_reset(&st);
    return proto_scan(&st, data, len, err, 256);
}

static int parse_text(const char *text, struct proto_req *req, char **keep, char *err)
{
    size_t len = strlen(text);
    char *copy = malloc(len + 1);
    ssize_t n;

    memcpy(copy, text, len + 1);
    *keep = copy;
    n = scan_all(copy, len, err);
    if (n <= 0)
        return (int)n - 10; /* -10: need more, -11: scan error */
    return proto_parse(copy, (size_t)n, req, err, 256);
}

Test(policy_proto, parses_a_real_postfix_request)
{
    struct proto_req req;
    char err[256];
    char *mem;

    cr_assert_eq(parse_text(dump_c, &req, &mem, err), 0, "%s", err);
    cr_assert_eq(req.nattrs, 29);
    cr_assert_str_eq(req.attr[PA_REQUEST], "smtpd_access_policy");
    cr_assert_str_eq(req.attr[PA_CCERT_ISSUER], "Spike Test CA"); /* xtext decoded */
    cr_assert_str_eq(req.attr[PA_CCERT_SUBJECT], "client.example.test");
    cr_assert_str_eq(req.attr[PA_INSTANCE], "12b1.6b032b5e.a06e2.0");
    cr_assert_str_eq(req.attr[PA_QUEUE_ID], "");
    cr_assert_eq(req.encryption_keysize, 256);
    cr_assert_eq(req.client_port, 38300);
    cr_assert_eq(req.size, 0);
    free(mem);
}

Test(policy_proto, splits_at_first_equals_and_ignores_unknown)
{
    struct proto_req req;
    char err[256];
    char *mem;

    cr_assert_eq(parse_text("future_attr=x=y\nsender=a=b@example.com\nrequest=smtpd_access_policy"
                            "\n\n",
                            &req, &mem, err),
                 0, "%s", err);
    cr_assert_str_eq(req.attr[PA_SENDER], "a=b@example.com");
    cr_assert_eq(req.nattrs, 3);
    cr_assert_null(req.attr[PA_RECIPIENT]);
    cr_assert_eq(req.encryption_keysize, -1);
    free(mem);
}

Test(policy_proto, crlf_tolerated)
{
    struct proto_req req;
    char err[256];
    char *mem;

    cr_assert_eq(parse_text("sender=x@y\r\nencryption_keysize=128\r\n\r\n", &req, &mem, err), 0,
                 "%s", err);
    cr_assert_str_eq(req.attr[PA_SENDER], "x@y");
    cr_assert_eq(req.encryption_keysize, 128);
    free(mem);
}

Test(policy_proto, incremental_scan_byte_by_byte_finds_the_same_end)
{
    struct proto_scan st;
    char err[256];
    size_t len = strlen(dump_c);
    size_t i;
    ssize_t n = 0;

    proto_scan_reset(&st);
    for (i = 1; i <= len; i++) {
        n = proto_scan(&st, dump_c, i, err, sizeof(err));
        if (i < len)
            cr_assert_eq(n, 0, "ended early at %zu", i);
    }
    cr_assert_eq(n, (ssize_t)len);
}

Test(policy_proto, two_pipelined_requests)
{
    char text[] = "sender=a@b\n\nsender=c@d\n\n";
    struct proto_req req;
    char err[256];
    ssize_t n = scan_all(text, strlen(text), err);

    cr_assert_eq(n, 12);
    cr_assert_eq(proto_parse(text, (size_t)n, &req, err, sizeof(err)), 0);
    cr_assert_str_eq(req.attr[PA_SENDER], "a@b");
    n = scan_all(text + 12, strlen(text + 12), err);
    cr_assert_eq(n, 12);
}

static void expect_bad(const char *text, const char *needle)
{
    struct proto_req req;
    char err[256] = "";
    char *mem;

    cr_assert_lt(parse_text(text, &req, &mem, err), 0, "accepted: %s", text);
    cr_assert(strstr(err, needle) != NULL, "error \"%s\" lacks \"%s\"", err, needle);
    free(mem);
}

Test(policy_proto, malformed_requests)
{
    expect_bad("sender\n\n", "line 1: no '='");
    expect_bad("sender=a\n=x\n\n", "line 2: empty attribute name");
    expect_bad("sen der=a\n\n", "control character or space");
    expect_bad("sender=a\nsender=b\n\n", "sender: given twice");
    expect_bad("encryption_keysize=12x\n\n", "encryption_keysize: \"12x\" is not a number");
    expect_bad("encryption_keysize=-1\n\n", "not a number");
    expect_bad("client_port= 25\n\n", "client_port");
    expect_bad("size=1234567890123456789\n\n", "size");
    expect_bad("ccert_subject=a+2\n\n", "ccert_subject: bad xtext");
    expect_bad("ccert_issuer=a+ZZb\n\n", "ccert_issuer: bad xtext");
    expect_bad("ccert_issuer=a+00b\n\n", "ccert_issuer: bad xtext");
    expect_bad("\n", "empty request");
}

Test(policy_proto, nul_byte_is_malformed)
{
    char text[] = "sender=a\0b\n\n";
    struct proto_req req;
    char err[256];
    ssize_t n = scan_all(text, sizeof(text) - 1, err);

    cr_assert_eq(n, (ssize_t)sizeof(text) - 1);
    cr_assert_eq(proto_parse(text, (size_t)n, &req, err, sizeof(err)), -1);
    cr_assert(strstr(err, "NUL") != NULL);
}

/* A line of exactly `len` value+name bytes. */
static char *line_of(size_t len)
{
    char *s = malloc(len + 3);

    memcpy(s, "x=", 2);
    memset(s + 2, 'v', len - 2);
    s[len] = '\n';
    s[len + 1] = '\n';
    s[len + 2] = 0;
    return s;
}

Test(policy_proto, line_limit_is_exact)
{
    char err[256];
    char *ok = line_of(PROTO_LINE_MAX);
    char *bad = line_of(PROTO_LINE_MAX + 1);

    cr_assert_eq(scan_all(ok, strlen(ok), err), PROTO_LINE_MAX + 2);
    cr_assert_eq(scan_all(bad, strlen(bad), err), -1);
    cr_assert(strstr(err, "line 1 longer than 8192 bytes") != NULL, "%s", err);
    /* an endless line is refused before its newline arrives */
    cr_assert_eq(scan_all(bad, PROTO_LINE_MAX + 2, err), -1);
    cr_assert_eq(scan_all(bad, PROTO_LINE_MAX, err), 0);
    free(ok);
    free(bad);
}

Test(policy_proto, attribute_count_limit_is_exact)
{
    char err[256];
    size_t n = PROTO_ATTR_MAX + 1;
    char *s = malloc(n * 4 + 2);
    size_t i;

    for (i = 0; i < n; i++)
        memcpy(s + i * 4, "a=b\n", 4);
    s[n * 4] = '\n';
    s[n * 4 + 1] = 0;
    /* 1024 lines followed by the empty line: accepted */
    {
        char *ok = malloc(PROTO_ATTR_MAX * 4 + 2);

        memcpy(ok, s, PROTO_ATTR_MAX * 4);
        ok[PROTO_ATTR_MAX * 4] = '\n';
        cr_assert_eq(scan_all(ok, PROTO_ATTR_MAX * 4 + 1, err), PROTO_ATTR_MAX * 4 + 1);
        free(ok);
    }
    cr_assert_eq(scan_all(s, n * 4 + 1, err), -1);
    cr_assert(strstr(err, "more than 1024 attributes") != NULL, "%s", err);
    free(s);
}

Test(policy_proto, request_size_limit_is_exact)
{
    char err[256];
    size_t linelen = 8000; /* "x=vvv...\n" lines */
    size_t total = PROTO_REQUEST_MAX + 2 * linelen;
    char *s = malloc(total + 1);
    size_t pos = 0;

    while (pos + linelen <= total) {
        memset(s + pos, 'v', linelen - 1);
        memcpy(s + pos, "x=", 2);
        s[pos + linelen - 1] = '\n';
        pos += linelen;
    }
    /* exactly at the limit with the final empty line: 131 lines * 8000 + ... */
    {
        size_t lines = (PROTO_REQUEST_MAX - 1) / linelen;
        size_t rest = PROTO_REQUEST_MAX - 1 - lines * linelen; /* one short line to fill */
        char *ok = malloc(PROTO_REQUEST_MAX + 1);

        memcpy(ok, s, lines * linelen);
        memset(ok + lines * linelen, 'w', rest);
        memcpy(ok + lines * linelen, "y=", 2);
        ok[lines * linelen + rest - 1] = '\n';
        ok[PROTO_REQUEST_MAX - 1] = '\n';
        cr_assert_eq(scan_all(ok, PROTO_REQUEST_MAX, err), PROTO_REQUEST_MAX, "%s", err);
        /* one more byte before the end: too large */
        ok = realloc(ok, PROTO_REQUEST_MAX + 2);
        ok[PROTO_REQUEST_MAX - 1] = 'w';
        ok[PROTO_REQUEST_MAX] = '\n';
        ok[PROTO_REQUEST_MAX + 1] = '\n';
        ok[lines * linelen + rest - 1] = 'w';
        cr_assert_eq(scan_all(ok, PROTO_REQUEST_MAX + 2, err), -1);
        cr_assert(strstr(err, "request larger than 1048576 bytes") != NULL, "%s", err);
        free(ok);
    }
    /* a request that never ends is refused once it crosses the limit */
    cr_assert_eq(scan_all(s, PROTO_REQUEST_MAX + linelen, err), -1);
    cr_assert(strstr(err, "request larger") != NULL, "%s", err);
    free(s);
}

Test(policy_proto, xtext)
{
    char a[] = "Spike+20Test+20CA";
    char b[] = "plus+2Bsign";
    char c[] = "bad+";

    cr_assert_eq(proto_xtext_decode(a), 0);
    cr_assert_str_eq(a, "Spike Test CA");
    cr_assert_eq(proto_xtext_decode(b), 0);
    cr_assert_str_eq(b, "plus+sign");
    cr_assert_eq(proto_xtext_decode(c), -1);
}

Test(policy_proto, answer_format)
{
    struct buf b;

    buf_init(&b, 64);
    cr_assert_eq(proto_answer(&b, "DUNNO"), 0);
    cr_assert_str_eq(b.data, "action=DUNNO\n\n");
    cr_assert_eq(proto_answer(&b, "bad\nanswer"), -1);
    cr_assert_str_eq(b.data, "action=DUNNO\n\n");
    /* all or nothing at the buffer bound */
    cr_assert_eq(proto_answer(&b, "450 4.7.1 a long text that does not fit any more"), -1);
    cr_assert_eq(b.len, 14);
    buf_free(&b);
}

/* Names of every length and many first/last bytes hit every bucket of the
 * lookup table; none may be mistaken for a known attribute (and, under ASan,
 * none may read past a known name). */
Test(policy_proto, unknown_names_of_every_length_are_ignored)
{
    static char text[1 << 16];
    struct proto_req req;
    char err[256];
    size_t len = 0;
    int n;
    int c;

    for (n = 1; n <= 30; n++) {
        for (c = 'a'; c <= 'z'; c += 5) {
            char name[40];

            memset(name, c, (size_t)n);
            name[0] = (char)('a' + (n + c) % 26);
            name[n] = 0;
            len += (size_t)snprintf(text + len, sizeof(text) - len, "%sX=v\n", name);
        }
    }
    len += (size_t)snprintf(text + len, sizeof(text) - len,
                            "instancX=1\nsender=ok@x\nserver_porT=1\n\n");
    cr_assert_eq(scan_all(text, len, err), (ssize_t)len, "%s", err);
    cr_assert_eq(proto_parse(text, len, &req, err, sizeof(err)), 0, "%s", err);
    for (n = 0; n < PA_COUNT; n++)
        if (n != PA_SENDER)
            cr_assert_null(req.attr[n], "%s set", proto_attr_name(n));
    cr_assert_str_eq(req.attr[PA_SENDER], "ok@x");
}

/* The parser reuses the line ends the scanner saw for the first
 * PROTO_SCAN_LINES lines and searches itself beyond them. */
Test(policy_proto, long_requests_parse_past_the_remembered_lines)
{
    static char text[8192];
    struct proto_scan st;
    struct proto_req req;
    char err[256];
    size_t len = 0;
    ssize_t n;
    int i;

    for (i = 0; i < 100; i++) {
        if (i == 10)
            len += (size_t)snprintf(text + len, sizeof(text) - len, "instance=early.1.1.0\n");
        else if (i == 90)
            len += (size_t)snprintf(text + len, sizeof(text) - len, "sender=late@x.test\n");
        else
            len += (size_t)snprintf(text + len, sizeof(text) - len, "x%d=%*d\n", i, i % 17, i);
    }
    text[len++] = '\n';
    proto_scan_reset(&st);
    n = proto_scan(&st, text, len, err, sizeof(err));
    cr_assert_eq(n, (ssize_t)len, "%s", err);
    cr_assert_eq(proto_parse_scanned(&st, text, (size_t)n, &req, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(req.nattrs, 100);
    cr_assert_str_eq(req.attr[PA_INSTANCE], "early.1.1.0");
    cr_assert_str_eq(req.attr[PA_SENDER], "late@x.test");
}

/* A NUL byte anywhere (every offset in and around 8-byte words) is found. */
Test(policy_proto, nul_found_at_every_offset)
{
    int off;

    for (off = 0; off < 40; off++) {
        char text[64] = "sender=abcdefghijklmnopqrstuvwxyz0123456789\nsize=1\n\n";
        size_t len = strlen(text);
        struct proto_req req;
        char err[256];

        if (text[off] == '\n' || text[off] == '=')
            continue;
        text[off] = 0;
        cr_assert_eq(proto_parse(text, len, &req, err, sizeof(err)), -1, "offset %d", off);
        cr_assert(strstr(err, "NUL byte in request") != NULL, "offset %d: %s", off, err);
    }
}
