/* test_cache: LMDB cache entries, expiry, size bound, concurrent writers. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cache.h"

static char dir[64];
static char path[128];

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/test_cache.XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/c.mdb", dir);
}

static void teardown(void)
{
    char lock[160];

    snprintf(lock, sizeof(lock), "%s-lock", path);
    unlink(path);
    unlink(lock);
    rmdir(dir);
}

TestSuite(cache, .init = setup, .fini = teardown);

Test(cache, positive_and_negative_roundtrip)
{
    char err[256];
    struct cache_entry e;
    struct cache *c = cache_open(path, 1 << 20, err, sizeof(err));
    struct stat st;

    cr_assert_not_null(c, "%s", err);
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    cr_assert_eq(cache_get(c, "wkd:a@example.org", &e, err, sizeof(err)), CACHE_MISS);
    cr_assert_eq(cache_put(c, "wkd:a@example.org", CACHE_POSITIVE, 60, "wkd https://x", "FPR", 3,
                           err, sizeof(err)),
                 0, "%s", err);
    cr_assert_eq(
        cache_put(c, "hkp:a@example.org", CACHE_NEGATIVE, 60, "no key", NULL, 0, err, sizeof(err)),
        0, "%s", err);
    cr_assert_eq(cache_get(c, "wkd:a@example.org", &e, err, sizeof(err)), CACHE_HIT);
    cr_assert_eq(e.kind, CACHE_POSITIVE);
    cr_assert_str_eq(e.info, "wkd https://x");
    cr_assert_eq(e.len, 3);
    cr_assert_eq(memcmp(e.data, "FPR", 3), 0);
    cr_assert_geq(e.expires - e.stored, 59);
    cache_entry_clear(&e);
    cr_assert_eq(cache_get(c, "hkp:a@example.org", &e, err, sizeof(err)), CACHE_HIT);
    cr_assert_eq(e.kind, CACHE_NEGATIVE);
    cr_assert_str_eq(e.info, "no key");
    cr_assert_null(e.data);
    cache_entry_clear(&e);
    cr_assert_eq(cache_del(c, "hkp:a@example.org", err, sizeof(err)), 0);
    cr_assert_eq(cache_get(c, "hkp:a@example.org", &e, err, sizeof(err)), CACHE_MISS);
    cache_close(c);

    /* persistent across opens */
    c = cache_open(path, 1 << 20, err, sizeof(err));
    cr_assert_not_null(c, "%s", err);
    cr_assert_eq(cache_get(c, "wkd:a@example.org", &e, err, sizeof(err)), CACHE_HIT);
    cache_entry_clear(&e);
    cache_close(c);
}

Test(cache, expired_entry_is_a_miss_and_purged)
{
    char err[256];
    struct cache_entry e;
    struct cache *c = cache_open(path, 1 << 20, err, sizeof(err));

    cr_assert_not_null(c, "%s", err);
    cr_assert_eq(cache_put(c, "k1", CACHE_NEGATIVE, 0, "gone", NULL, 0, err, sizeof(err)), 0);
    cr_assert_eq(cache_put(c, "k2", CACHE_NEGATIVE, 100, "kept", NULL, 0, err, sizeof(err)), 0);
    cr_assert_eq(cache_get(c, "k1", &e, err, sizeof(err)), CACHE_MISS);
    cr_assert_eq(cache_purge(c, time(NULL), err, sizeof(err)), 1);
    cr_assert_eq(cache_get(c, "k2", &e, err, sizeof(err)), CACHE_HIT);
    cache_close(c);
}

Test(cache, key_and_data_limits)
{
    char err[256];
    char key[CACHE_KEY_MAX + 2];
    struct cache *c = cache_open(path, 4 << 20, err, sizeof(err));
    void *big = calloc(1, CACHE_DATA_MAX + 1);

    cr_assert_not_null(c, "%s", err);
    memset(key, 'k', sizeof(key) - 1);
    key[sizeof(key) - 1] = 0;
    cr_assert_eq(cache_put(c, key, CACHE_NEGATIVE, 10, "", NULL, 0, err, sizeof(err)), -1);
    cr_assert(strstr(err, "key length") != NULL, "%s", err);
    key[CACHE_KEY_MAX] = 0;
    cr_assert_eq(cache_put(c, key, CACHE_NEGATIVE, 10, "", NULL, 0, err, sizeof(err)), 0, "%s",
                 err);
    cr_assert_eq(cache_put(c, "", CACHE_NEGATIVE, 10, "", NULL, 0, err, sizeof(err)), -1);
    cr_assert_eq(
        cache_put(c, "big", CACHE_POSITIVE, 10, "", big, CACHE_DATA_MAX + 1, err, sizeof(err)), -1);
    cr_assert(strstr(err, "exceeds") != NULL, "%s", err);
    free(big);
    cache_close(c);
}

/* Far more data than the map holds: every write still succeeds (eviction)
 * and the file never exceeds the bound. */
Test(cache, size_is_bounded)
{
    char err[256], key[32], blob[2000];
    struct cache_entry e;
    struct cache *c = cache_open(path, 256 * 1024, err, sizeof(err));
    struct stat st;
    int i;

    cr_assert_not_null(c, "%s", err);
    memset(blob, 'x', sizeof(blob));
    for (i = 0; i < 2000; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        cr_assert_eq(
            cache_put(c, key, CACHE_POSITIVE, 3600, "i", blob, sizeof(blob), err, sizeof(err)), 0,
            "put %d: %s", i, err);
    }
    cr_assert_eq(cache_get(c, "k1999", &e, err, sizeof(err)), CACHE_HIT);
    cache_entry_clear(&e);
    cache_close(c);
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_leq(st.st_size, 256 * 1024);
}

/* Four processes write and read the same file at once. */
Test(cache, concurrent_processes)
{
    char err[256], key[32];
    struct cache_entry e;
    struct cache *c;
    int p, i, status, hits = 0;
    pid_t pids[4];

    for (p = 0; p < 4; p++) {
        if ((pids[p] = fork()) == 0) {
            struct cache *cc = cache_open(path, 4 << 20, err, sizeof(err));

            if (cc == NULL)
                _exit(2);
            for (i = 0; i < 200; i++) {
                snprintf(key, sizeof(key), "p%d:%d", p, i);
                if (cache_put(cc, key, CACHE_POSITIVE, 3600, key, key, strlen(key), err,
                              sizeof(err)) != 0)
                    _exit(3);
                if (cache_get(cc, key, &e, err, sizeof(err)) != CACHE_HIT)
                    _exit(4);
                cache_entry_clear(&e);
            }
            cache_close(cc);
            _exit(0);
        }
        cr_assert_gt(pids[p], 0);
    }
    for (p = 0; p < 4; p++) {
        cr_assert_eq(waitpid(pids[p], &status, 0), pids[p]);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child %d status %d", p, status);
    }
    c = cache_open(path, 4 << 20, err, sizeof(err));
    cr_assert_not_null(c, "%s", err);
    for (p = 0; p < 4; p++)
        for (i = 0; i < 200; i++) {
            snprintf(key, sizeof(key), "p%d:%d", p, i);
            if (cache_get(c, key, &e, err, sizeof(err)) == CACHE_HIT && strcmp(e.info, key) == 0)
                hits++;
            cache_entry_clear(&e);
        }
    cr_assert_eq(hits, 800);
    cache_close(c);
}

Test(cache, unopenable_path_reports_reason)
{
    char err[256];

    cr_assert_null(cache_open("/nonexistent/dir/c.mdb", 1 << 20, err, sizeof(err)));
    cr_assert(strstr(err, "/nonexistent/dir/c.mdb") != NULL, "%s", err);
}
