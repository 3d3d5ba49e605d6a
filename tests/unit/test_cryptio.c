/* test_cryptio: LF->CRLF reading in bounded chunks, final-LF hold-back, boundaries. */
#include "crypto_helpers.h"

#include <ctype.h>

#include "cryptio.h"
#include "ferr.h"

static void setup(void)
{
    snprintf(work, sizeof(work), "/tmp/ps-cryptio-test.XXXXXX");
    cr_assert_not_null(mkdtemp(work));
}

TestSuite(cryptio, .init = setup, .fini = fix_teardown);

struct tee_buf {
    char data[8192];
    size_t len;
};

static int tee_fn(void *arg, const char *lf, size_t n)
{
    struct tee_buf *t = arg;

    cr_assert(t->len + n <= sizeof(t->data));
    memcpy(t->data + t->len, lf, n);
    t->len += n;
    return 0;
}

/* Reads `text` through cio_read_crlf with destination size `dst`; checks the CRLF result and
 * what the tee saw against the expectation computed independently here. */
static void check(const char *text, size_t dst, int trim)
{
    char out[8192], buf[512];
    struct cio_in in;
    struct tee_buf t = {{0}, 0};
    size_t n = strlen(text), want_lf = n, got = 0, wlen;
    ssize_t r;
    char *want;
    int fd = input_fd(text, n);

    if (trim && n > 0 && text[n - 1] == '\n')
        want_lf = n - 1;
    want = crlf_of(text, want_lf, &wlen);
    cio_in_init(&in, fd, trim);
    in.tee = tee_fn;
    in.tee_arg = &t;
    while ((r = cio_read_crlf(&in, buf, dst)) > 0) {
        cr_assert((size_t)r <= dst, "returned %zd > %zu", r, dst);
        cr_assert(got + r <= sizeof(out));
        memcpy(out + got, buf, r);
        got += r;
    }
    cr_assert_eq(r, 0);
    cr_assert_eq(got, wlen, "dst %zu trim %d: %zu bytes, want %zu", dst, trim, got, wlen);
    cr_assert(memcmp(out, want, got) == 0, "dst %zu trim %d: content differs", dst, trim);
    cr_assert_eq(t.len, want_lf);
    cr_assert(memcmp(t.data, text, want_lf) == 0);
    cr_assert_eq(in.raw_bytes, (off_t)n);
    cr_assert_eq(in.held_lf, trim && n > 0 && text[n - 1] == '\n');
    free(want);
    close(fd);
}

Test(cryptio, crlf_every_chunk_size_with_and_without_trim)
{
    static const char *texts[] = {
        "",
        "\n",
        "\n\n",
        "a",
        "a\n",
        "ab\ncd\n",
        "ab\ncd",
        "\n\nx\n\n",
        "line one\nline two\n\n",
        "no newline at all here, only text",
        "cr\r\nalready\r\n",
    };
    size_t i, dst;

    for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
        for (dst = 4; dst <= 40; dst++) {
            check(texts[i], dst, 0);
            check(texts[i], dst, 1);
        }
}

Test(cryptio, tiny_destination_is_refused)
{
    struct cio_in in;
    char buf[4];

    cio_in_init(&in, 0, 0);
    cr_assert_eq(cio_read_crlf(&in, buf, 3), -1);
    cr_assert_eq(errno, EINVAL);
}

static int bad_tee(void *arg, const char *lf, size_t n)
{
    return -1;
}

Test(cryptio, tee_failure_stops_reading)
{
    struct cio_in in;
    char buf[64];
    int fd = input_fd("abc\n", 4);

    cio_in_init(&in, fd, 0);
    in.tee = bad_tee;
    errno = 5;
    cr_assert_eq(cio_read_crlf(&in, buf, sizeof(buf)), -1);
    cr_assert_eq(errno, 0);
    close(fd);
}

Test(cryptio, boundaries_are_random_and_well_formed)
{
    char a[CIO_BOUNDARY_SIZE], b[CIO_BOUNDARY_SIZE];
    size_t i;

    cr_assert_eq(cio_boundary(a, sizeof(a)), 0);
    cr_assert_eq(cio_boundary(b, sizeof(b)), 0);
    cr_assert_str_neq(a, b);
    cr_assert_eq(strlen(a), 36);
    cr_assert(strncmp(a, "=_ps", 4) == 0);
    for (i = 4; i < strlen(a); i++)
        cr_assert(isalnum((unsigned char)a[i]));
    cr_assert_eq(cio_boundary(a, CIO_BOUNDARY_SIZE - 1), -1);
}

/* A GnuPG home whose secret keys others can reach is refused (75, named);
 * a home others may enter is fine while private-keys-v1.d is closed, and a
 * closed home protects whatever is inside. */
Test(cryptio, gnupg_home_with_secret_keys_open_to_others_is_refused)
{
    static const struct {
        mode_t home, keys;
        int ok;
    } t[] = {
        {0700, 0700, 1}, {0755, 0700, 1}, {0700, 0755, 1},
        {0711, 0755, 0}, {0755, 0755, 0}, {0755, 0701, 0},
    };
    char home[4200], keys[4300];
    struct ferr err;
    size_t i;

    snprintf(home, sizeof(home), "%s/gnupg", work);
    snprintf(keys, sizeof(keys), "%s/private-keys-v1.d", home);
    cr_assert_eq(mkdir(home, 0700), 0);
    ferr_clear(&err);
    cr_expect_eq(cio_gpgme_home_ok(home, &err), FERR_OK, "no key directory: %s", err.text);
    cr_assert_eq(mkdir(keys, 0700), 0);
    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        cr_assert_eq(chmod(home, t[i].home), 0);
        cr_assert_eq(chmod(keys, t[i].keys), 0);
        ferr_clear(&err);
        if (t[i].ok) {
            cr_expect_eq(cio_gpgme_home_ok(home, &err), FERR_OK, "case %zu: %s", i, err.text);
        } else {
            cr_expect_eq(cio_gpgme_home_ok(home, &err), FERR_TEMP, "case %zu accepted", i);
            cr_expect(strncmp(err.text, "4.3.0 ", 6) == 0 && strstr(err.text, home) != NULL &&
                          strstr(err.text, "accessible by others") != NULL,
                      "case %zu: %s", i, err.text);
        }
    }
}
