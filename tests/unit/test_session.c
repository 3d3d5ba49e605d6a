/* test_session: the failed-session table: hits, expiry, new-session detection,
 * deletion in the middle of probe chains, and the memory bound. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "session.h"

static void key(char *buf, size_t len, int i)
{
    snprintf(buf, len, "192.0.2.%d/%d/%x", i % 250, 1000 + i, i);
}

Test(session, expiry_and_deletion_keep_chains_intact)
{
    struct sess_table *t = sess_new(100, 10);
    char k[64];
    int i;

    for (i = 0; i < 60; i++) {
        key(k, sizeof(k), i);
        cr_assert_eq(sess_put(t, k, "a.b.c.0", "450 4.7.1 x", 100), 0);
    }
    cr_assert_eq(sess_count(t), 60);
    /* refresh the odd ones at 105: they live until 115, the even ones until 110 */
    for (i = 1; i < 60; i += 2) {
        key(k, sizeof(k), i);
        cr_assert_str_eq(sess_get(t, k, "a.b.d.1", 105), "450 4.7.1 x", "key %d", i);
    }
    for (i = 0; i < 60; i++) {
        key(k, sizeof(k), i);
        if (i % 2 == 0)
            cr_assert_null(sess_get(t, k, "a.b.d.1", 111), "even key %d survived", i);
        else
            cr_assert_not_null(sess_get(t, k, "a.b.d.1", 111), "odd key %d lost", i);
    }
    cr_assert_eq(sess_count(t), 30);
    /* tombstones are reused and do not hide later entries */
    for (i = 100; i < 130; i++) {
        key(k, sizeof(k), i);
        cr_assert_eq(sess_put(t, k, "a.b.c.0", "550 5.7.1 y", 112), 0);
    }
    for (i = 100; i < 130; i++) {
        key(k, sizeof(k), i);
        cr_assert_str_eq(sess_get(t, k, "a.b.c.0", 113), "550 5.7.1 y");
    }
    /* the same key again replaces the answer without growing the table */
    key(k, sizeof(k), 100);
    cr_assert_eq(sess_put(t, k, "a.b.c.0", "421 4.7.0 z", 113), 0);
    cr_assert_str_eq(sess_get(t, k, "a.b.c.0", 113), "421 4.7.0 z");
    cr_assert_eq(sess_count(t), 60);
    sess_free(t);
}

Test(session, new_session_on_same_port_is_not_refused)
{
    struct sess_table *t = sess_new(10, 600);

    cr_assert_eq(sess_put(t, "192.0.2.1/25/2b4e", "2b4e.6b03d091.eedf2.0", "450 x", 1), 0);
    cr_assert_not_null(sess_get(t, "192.0.2.1/25/2b4e", "2b4e.6b03d091.eedf2.0", 2));
    cr_assert_not_null(sess_get(t, "192.0.2.1/25/2b4e", "2b4e.6b03d091.f1da5.1", 3));
    cr_assert_null(sess_get(t, "192.0.2.1/25/2b4e", "2b4e.6b03d0aa.00001.0", 4));
    cr_assert_eq(sess_count(t), 0);
    sess_free(t);
}

Test(session, bounded)
{
    struct sess_table *t = sess_new(10, 600); /* 64 slots */
    char k[64];
    int i;

    for (i = 0; i < 10000; i++) {
        key(k, sizeof(k), i);
        cr_assert_eq(sess_put(t, k, "a.b.c.0", "450 x", 100 + i), 0);
    }
    cr_assert_leq(sess_count(t), 64);
    key(k, sizeof(k), 9999);
    cr_assert_not_null(sess_get(t, k, "a.b.c.1", 10100));
    sess_free(t);
}
