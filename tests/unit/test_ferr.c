/* test_ferr: result codes and enhanced status texts of the filter modules. */
#include <criterion/criterion.h>
#include <string.h>

#include "ferr.h"

Test(ferr, keeps_given_status_code)
{
    struct ferr e;

    ferr_set(&e, FERR_PERM, "5.7.1 no key for %s", "bob@example.org");
    cr_assert_eq(e.code, 69);
    cr_assert_str_eq(e.text, "5.7.1 no key for bob@example.org");
    ferr_set(&e, FERR_TEMP, "4.7.0 agent down");
    cr_assert_eq(e.code, 75);
    cr_assert_str_eq(e.text, "4.7.0 agent down");
}

Test(ferr, prepends_status_when_missing)
{
    struct ferr e;

    ferr_set(&e, FERR_TEMP, "disk full");
    cr_assert_str_eq(e.text, "4.3.0 disk full");
    ferr_set(&e, FERR_PERM, "5.7 not a status");
    cr_assert_str_eq(e.text, "5.3.0 5.7 not a status");
    ferr_set(&e, FERR_PERM, "5.1.1234 too long detail");
    cr_assert_str_eq(e.text, "5.3.0 5.1.1234 too long detail");
}

Test(ferr, unknown_code_fails_closed_as_temp)
{
    struct ferr e;

    ferr_set(&e, 1, "oops");
    cr_assert_eq(e.code, FERR_TEMP);
    cr_assert_eq(ferr_exit_code(78), 75);
    cr_assert_eq(ferr_exit_code(74), 75);
    cr_assert_eq(ferr_exit_code(0), 0);
    cr_assert_eq(ferr_exit_code(69), 69);
}

Test(ferr, truncates_long_text)
{
    struct ferr e;
    char big[2000];

    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    ferr_set(&e, FERR_PERM, "5.7.1 %s", big);
    cr_assert_eq(strlen(e.text), sizeof(e.text) - 1);
    cr_assert(strncmp(e.text, "5.7.1 xxx", 9) == 0);
    ferr_clear(&e);
    cr_assert_eq(e.code, 0);
    cr_assert_str_eq(e.text, "");
}
