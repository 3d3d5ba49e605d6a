/* test_netstring: the socketmap framing, every malformed case and the limit. */
#include <criterion/criterion.h>
#include <string.h>

#include "netstring.h"

static int parse(const char *s, size_t max, struct netstring_view *v)
{
    return netstring_parse(s, strlen(s), max, v);
}

Test(netstring, complete_request)
{
    struct netstring_view v;

    cr_assert_eq(parse("21:tlspolicy example.com,", 100, &v), NETSTRING_OK);
    cr_assert_eq(v.len, 21);
    cr_assert(memcmp(v.data, "tlspolicy example.com", 21) == 0);
    cr_assert_eq(v.consumed, 25);
}

Test(netstring, empty_payload)
{
    struct netstring_view v;

    cr_assert_eq(parse("0:,", 10, &v), NETSTRING_OK);
    cr_assert_eq(v.len, 0);
    cr_assert_eq(v.consumed, 3);
}

Test(netstring, two_pipelined_strings_parse_one_at_a_time)
{
    const char *s = "3:abc,2:de,";
    struct netstring_view v;

    cr_assert_eq(parse(s, 10, &v), NETSTRING_OK);
    cr_assert_eq(v.consumed, 6);
    cr_assert_eq(netstring_parse(s + 6, strlen(s) - 6, 10, &v), NETSTRING_OK);
    cr_assert(memcmp(v.data, "de", 2) == 0);
}

Test(netstring, every_prefix_of_a_valid_string_asks_for_more)
{
    const char *s = "11:hello world,";
    struct netstring_view v;
    size_t i;

    for (i = 0; i < strlen(s); i++)
        cr_assert_eq(netstring_parse(s, i, 100, &v), NETSTRING_MORE, "prefix %zu", i);
    cr_assert_eq(netstring_parse(s, strlen(s), 100, &v), NETSTRING_OK);
}

Test(netstring, malformed_cases)
{
    static const struct {
        const char *in;
        int want;
    } cases[] = {
        {":abc,", NETSTRING_EDIGIT},   /* no length */
        {"x3:abc,", NETSTRING_EDIGIT}, /* not a digit */
        {"-1:a,", NETSTRING_EDIGIT},   /* sign */
        {" 3:abc,", NETSTRING_EDIGIT}, /* leading space */
        {"03:abc,", NETSTRING_EDIGIT}, /* leading zero */
        {"00:,", NETSTRING_EDIGIT},    /* leading zero */
        {"3;abc,", NETSTRING_ECOLON},  /* wrong separator */
        {"3 :abc,", NETSTRING_ECOLON}, /* space before colon */
        {"3:abcd", NETSTRING_ECOMMA},  /* longer than announced */
        {"3:a,,x", NETSTRING_ECOMMA},  /* shorter than announced: "a," then junk */
        {"3:abc;", NETSTRING_ECOMMA},  /* wrong terminator */
        {"3:abc\n", NETSTRING_ECOMMA}, /* newline terminator */
    };
    struct netstring_view v;
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        cr_assert_eq(parse(cases[i].in, 100, &v), cases[i].want, "case \"%s\"", cases[i].in);
}

Test(netstring, limit_exactly_and_one_above)
{
    char buf[64];
    struct netstring_view v;

    memset(buf, 0, sizeof(buf));
    strcpy(buf, "10:0123456789,");
    cr_assert_eq(parse(buf, 10, &v), NETSTRING_OK);
    strcpy(buf, "11:0123456789a,");
    cr_assert_eq(parse(buf, 10, &v), NETSTRING_ELIMIT);
    /* refused from the digits alone, before any payload arrives */
    cr_assert_eq(netstring_parse("11", 2, 10, &v), NETSTRING_ELIMIT);
}

Test(netstring, huge_length_never_overflows)
{
    struct netstring_view v;

    cr_assert_eq(parse("99999999999999999999999:", 100000, &v), NETSTRING_ELIMIT);
    cr_assert_eq(parse("999999999", 2000000000, &v), NETSTRING_MORE);
    cr_assert_eq(parse("1000000000", 2000000000, &v), NETSTRING_ELIMIT);
}

Test(netstring, binary_payload_with_nul_and_comma)
{
    const char s[] = "4:a\0,b,";
    struct netstring_view v;

    cr_assert_eq(netstring_parse(s, sizeof(s) - 1, 10, &v), NETSTRING_OK);
    cr_assert_eq(v.len, 4);
    cr_assert_eq(v.data[1], 0);
}

Test(netstring, format_round_trip_and_no_truncation)
{
    char out[32];
    struct netstring_view v;
    size_t n = netstring_format(out, sizeof(out), "OK secure", 9);

    cr_assert_eq(n, 12);
    cr_assert(memcmp(out, "9:OK secure,", 12) == 0);
    cr_assert_eq(netstring_parse(out, n, 100, &v), NETSTRING_OK);
    cr_assert_eq(v.len, 9);
    cr_assert_eq(netstring_format(out, 11, "OK secure", 9), 0);
    cr_assert_eq(netstring_format(out, 12, "OK secure", 9), 12);
}

Test(netstring, strerror_names_each_error)
{
    cr_assert(strstr(netstring_strerror(NETSTRING_ELIMIT), "limit") != NULL);
    cr_assert(strstr(netstring_strerror(NETSTRING_ECOMMA), "','") != NULL);
    cr_assert(strstr(netstring_strerror(NETSTRING_ECOLON), "':'") != NULL);
}
