/* test_buf: the bounded buffer never crosses its bound and keeps content. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "buf.h"

Test(buf, bound_is_exact)
{
    struct buf b;

    buf_init(&b, 10);
    cr_assert_eq(buf_append(&b, "0123456789", 10), 0);
    cr_assert_eq(b.len, 10);
    cr_assert_eq(b.data[10], 0);
    errno = 0;
    cr_assert_eq(buf_append(&b, "x", 1), -1);
    cr_assert_eq(errno, ENOBUFS);
    cr_assert_str_eq(b.data, "0123456789");
    buf_free(&b);
}

Test(buf, printf_grows_and_fails_cleanly)
{
    struct buf b;

    buf_init(&b, 1000);
    cr_assert_eq(buf_printf(&b, "%s-%d", "abc", 42), 0);
    cr_assert_str_eq(b.data, "abc-42");
    cr_assert_eq(buf_printf(&b, "%0900d", 7), 0);
    cr_assert_eq(b.len, 906);
    cr_assert_eq(buf_printf(&b, "%0200d", 7), -1);
    cr_assert_eq(b.len, 906);
    cr_assert_eq(strlen(b.data), 906);
    buf_free(&b);
}

Test(buf, consume_and_shrink)
{
    struct buf b;

    buf_init(&b, 1 << 20);
    cr_assert_eq(buf_puts(&b, "hello world"), 0);
    buf_consume(&b, 6);
    cr_assert_str_eq(b.data, "world");
    buf_consume(&b, 5);
    cr_assert_eq(b.len, 0);
    cr_assert_eq(buf_reserve(&b, 100000), 0);
    cr_assert_geq(buf_room(&b), 100000);
    buf_shrink(&b, 4096);
    cr_assert_eq(b.cap, 0);
    cr_assert_eq(buf_puts(&b, "again"), 0);
    cr_assert_str_eq(b.data, "again");
    buf_free(&b);
}
