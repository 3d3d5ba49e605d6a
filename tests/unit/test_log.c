/* test_log: the message classes keep errno and format as documented. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <errno.h>

#include "log.h"

Test(log, warn_appends_strerror_and_keeps_errno, .init = cr_redirect_stderr)
{
    log_open("t", LOG_TO_STDERR, 0);
    errno = ENOENT;
    log_warn("open %s", "x");
    cr_assert_eq(errno, ENOENT);
    fflush(stderr);
    cr_assert_stderr_eq_str("t: warning: open x: No such file or directory\n");
}

Test(log, debug_only_when_verbose, .init = cr_redirect_stderr)
{
    log_open("t", LOG_TO_STDERR, 0);
    log_debug("hidden");
    log_set_verbose(1);
    log_debug("shown %d", 1);
    fflush(stderr);
    cr_assert_stderr_eq_str("t: debug: shown 1\n");
}
