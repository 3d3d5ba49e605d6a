/* crypto_helpers.h: shared by test_pgp, test_smime, test_keystore (included, not linked).
 * Fixtures come from tests/unit/fixtures/crypto.sh; independent tools (gpg, gpgsm, openssl)
 * check what the modules produce. */
#ifndef CRYPTO_HELPERS_H
#define CRYPTO_HELPERS_H

#pragma GCC diagnostic ignored "-Wunused-function"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char fix[PATH_MAX];  /* fixture directory (absolute) */
static char work[PATH_MAX]; /* per-test scratch directory */

/* Builds the fixtures once (the script skips when up to date) and makes a scratch dir. */
static void fix_setup(void)
{
    char cmd[PATH_MAX * 2 + 64];

    mkdir("tests/work", 0755);
    cr_assert(realpath("tests/work", fix) != NULL, "run from the repository root");
    strcat(fix, "/crypto-fixtures");
    snprintf(cmd, sizeof(cmd), "sh tests/unit/fixtures/crypto.sh %s >%s.log 2>&1", fix, fix);
    cr_assert_eq(system(cmd), 0, "fixture script failed, see %s.log", fix);
    snprintf(work, sizeof(work), "%s",
             getenv("PS_KEEP_WORK") ? "/tmp/ps-keep.XXXXXX" : "/tmp/ps-crypto-test.XXXXXX");
    cr_assert_not_null(mkdtemp(work));
}

static void fix_teardown(void)
{
    char cmd[PATH_MAX + 32];

    if (getenv("PS_KEEP_WORK"))
        return;
    snprintf(cmd, sizeof(cmd), "rm -rf %s", work);
    if (system(cmd) != 0)
        fprintf(stderr, "cleanup of %s failed\n", work);
}

static const char *path_of(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *path_of(const char *fmt, ...)
{
    static char bufs[8][PATH_MAX];
    static int i;
    char *b = bufs[i++ % 8];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(b, PATH_MAX, fmt, ap);
    va_end(ap);
    return b;
}

static void write_file(const char *path, const char *data, size_t n)
{
    FILE *fp = fopen(path, "w");

    cr_assert_not_null(fp, "%s: %s", path, strerror(errno));
    cr_assert_eq(fwrite(data, 1, n, fp), n);
    cr_assert_eq(fclose(fp), 0);
}

/* Whole file into a NUL-terminated malloc buffer. */
static char *read_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "r");
    char *buf;
    long n;

    cr_assert_not_null(fp, "%s: %s", path, strerror(errno));
    fseek(fp, 0, SEEK_END);
    n = ftell(fp);
    rewind(fp);
    buf = malloc(n + 1);
    cr_assert_not_null(buf);
    cr_assert_eq(fread(buf, 1, n, fp), (size_t)n);
    buf[n] = 0;
    fclose(fp);
    if (len)
        *len = n;
    return buf;
}

/* An fd reading `data` from offset 0 (a real file, like the filter's spool). */
static int input_fd(const char *data, size_t n)
{
    const char *p = path_of("%s/input", work);
    int fd;

    write_file(p, data, n);
    fd = open(p, O_RDONLY);
    cr_assert(fd >= 0);
    return fd;
}

static char *crlf_of(const char *s, size_t n, size_t *outlen)
{
    char *o = malloc(2 * n + 1);
    size_t i, k = 0;

    for (i = 0; i < n; i++) {
        if (s[i] == '\n')
            o[k++] = '\r';
        o[k++] = s[i];
    }
    o[k] = 0;
    *outlen = k;
    return o;
}

/* Runs a shell command line (test-made, never message data); returns its exit status. */
static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    int st;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* The value of boundary="..." in the first header block of an entity. */
static const char *boundary_of(const char *entity)
{
    static char b[128];
    const char *p = strstr(entity, "boundary=\"");
    const char *end;

    cr_assert_not_null(p, "no boundary in:\n%.400s", entity);
    p += 10;
    end = strchr(p, '"');
    cr_assert(end && end - p < (long)sizeof(b));
    memcpy(b, p, end - p);
    b[end - p] = 0;
    return b;
}

/* Part `idx` (1-based) of a multipart entity: the bytes between the "--B\n" line and the LF
 * that precedes the next delimiter (RFC 2046: that line end belongs to the delimiter). */
static char *part_of(const char *entity, int idx, size_t *len)
{
    char delim[160];
    const char *b = boundary_of(entity), *p = entity, *end;
    char *out;
    int i;

    snprintf(delim, sizeof(delim), "\n--%s", b);
    for (i = 0; i < idx; i++) {
        p = strstr(p, delim);
        cr_assert_not_null(p, "part %d missing", idx);
        p += strlen(delim);
        cr_assert_eq(*p, '\n', "delimiter line not ended by LF");
        p++;
    }
    end = strstr(p, delim);
    cr_assert_not_null(end, "part %d not terminated", idx);
    *len = end - p;
    out = malloc(*len + 1);
    memcpy(out, p, *len);
    out[*len] = 0;
    return out;
}

/* The body of an entity (after the first empty line). */
static const char *body_of(const char *entity)
{
    const char *p = strstr(entity, "\n\n");

    cr_assert_not_null(p);
    return p + 2;
}

static int file_equals(const char *path, const char *data, size_t n)
{
    size_t len;
    char *got = read_file(path, &len);
    int eq = len == n && memcmp(got, data, n) == 0;

    free(got);
    return eq;
}

/* A MIME entity of about `size` bytes: lines of varying length (0..200), printable ASCII with
 * spaces at line ends, ending with LF; deterministic. */
static char *big_entity(size_t size)
{
    char *b = malloc(size + 300);
    size_t n, len, i;
    unsigned seed = 12345;

    n = (size_t)sprintf(b, "Content-Type: text/plain; charset=us-ascii\n\n");
    while (n < size) {
        seed = seed * 1103515245 + 12345;
        len = (seed >> 16) % 201;
        for (i = 0; i < len; i++) {
            seed = seed * 1103515245 + 12345;
            b[n++] = (char)(' ' + (seed >> 16) % 95);
        }
        b[n++] = '\n';
    }
    b[n] = 0;
    return b;
}

#endif
