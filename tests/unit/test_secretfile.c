/* lib/secretfile: the one mode rule for files holding secrets. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "secretfile.h"

static char path[64];

static void setup(void)
{
    FILE *fp;

    snprintf(path, sizeof(path), "/tmp/test_secretfile.%d", (int)getpid());
    cr_assert_not_null(fp = fopen(path, "w"));
    fclose(fp);
}

static void teardown(void)
{
    unlink(path);
}

TestSuite(secretfile, .init = setup, .fini = teardown);

Test(secretfile, owner_only_modes_pass)
{
    static const mode_t ok[] = {0600, 0400, 0700, 0200};
    char why[300];
    size_t i;

    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        cr_assert_eq(chmod(path, ok[i]), 0);
        why[0] = 0;
        cr_expect_eq(secretfile_check(path, why, sizeof(why)), 0, "mode %04o: %s", ok[i], why);
    }
}

Test(secretfile, any_group_or_other_bit_refused_with_mode_and_fix)
{
    static const mode_t bad[] = {0640, 0604, 0660, 0620, 0610, 0601, 0644, 0666};
    char why[300], want[200];
    size_t i;
    int fd;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(chmod(path, bad[i]), 0);
        snprintf(want, sizeof(want),
                 "%s is accessible by group or others (mode %04o): chmod 600 it", path, bad[i]);
        cr_expect_eq(secretfile_check(path, why, sizeof(why)), -1, "mode %04o accepted", bad[i]);
        cr_expect_str_eq(why, want);
        cr_assert_geq(fd = open(path, O_RDONLY), 0);
        cr_expect_eq(secretfile_check_fd(fd, "k.pem", why, sizeof(why)), -1);
        cr_expect_not_null(strstr(why, "k.pem is accessible by group or others"), "%s", why);
        close(fd);
    }
}

Test(secretfile, missing_file_names_it)
{
    char why[300], want[200], none[80];

    snprintf(none, sizeof(none), "%s.none", path);
    snprintf(want, sizeof(want), "%s: No such file or directory", none);
    cr_expect_eq(secretfile_check(none, why, sizeof(why)), -1);
    cr_expect_str_eq(why, want);
}
