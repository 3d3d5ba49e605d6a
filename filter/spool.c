/*
 * spool: the filter reads the message once from stdin (Postfix pipe(8)) into
 * an unlinked temp file and addresses it by byte offsets afterwards; nothing
 * is held in memory (fixed 64 KiB buffers).
 *
 * Contract: the temp file lives in the configured directory, has mode 0600
 * and no name (O_TMPFILE, falling back to mkstemp + unlink), so a crash leaves
 * nothing behind.  Out of disk or any I/O error is FERR_TEMP (the message stays
 * queued at Postfix); only a message over the configured size limit is
 * FERR_PERM (5.3.4).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spool.h"

#define SPOOL_BUF 65536

int spool_tmpfile(const char *dir, struct ferr *err)
{
    char path[4096];
    int fd;

    if (dir == NULL || *dir == 0)
        dir = "/tmp";
#ifdef O_TMPFILE
    if ((fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600)) >= 0)
        return fd;
    if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) {
        ferr_set(err, FERR_TEMP, "4.3.0 cannot create a temp file in %s: %s", dir, strerror(errno));
        return -1;
    }
#endif
    if (snprintf(path, sizeof(path), "%s/postseal.XXXXXX", dir) >= (int)sizeof(path)) {
        ferr_set(err, FERR_TEMP, "4.3.0 temp directory name too long");
        return -1;
    }
    if ((fd = mkostemp(path, O_CLOEXEC)) < 0) {
        ferr_set(err, FERR_TEMP, "4.3.0 cannot create a temp file in %s: %s", dir, strerror(errno));
        return -1;
    }
    unlink(path);
    return fd;
}

FILE *spool_tmpfp(const char *dir, struct ferr *err)
{
    int fd = spool_tmpfile(dir, err);
    FILE *fp;

    if (fd < 0)
        return NULL;
    if ((fp = fdopen(fd, "w+")) == NULL) {
        ferr_set(err, FERR_TEMP, "4.3.0 fdopen: %s", strerror(errno));
        close(fd);
    }
    return fp;
}

static int spool_write_all(int fd, const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, buf, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        buf += w;
        n -= (size_t)w;
    }
    return 0;
}

int spool_copy(int in_fd, const char *dir, off_t max_size, off_t *size, struct ferr *err)
{
    char *buf;
    off_t total = 0;
    int fd;

    if ((fd = spool_tmpfile(dir, err)) < 0)
        return -1;
    if ((buf = malloc(SPOOL_BUF)) == NULL) {
        ferr_set(err, FERR_TEMP, "4.3.0 out of memory");
        close(fd);
        return -1;
    }
    for (;;) {
        ssize_t n = read(in_fd, buf, SPOOL_BUF);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            ferr_set(err, FERR_TEMP, "4.3.0 reading the message: %s", strerror(errno));
            goto fail;
        }
        if (n == 0)
            break;
        total += n;
        if (max_size > 0 && total > max_size) {
            ferr_set(err, FERR_PERM, "5.3.4 message too big for the filter (limit %lld bytes)",
                     (long long)max_size);
            goto fail;
        }
        if (spool_write_all(fd, buf, (size_t)n) < 0) {
            ferr_set(err, FERR_TEMP, "4.3.0 writing the spool file: %s", strerror(errno));
            goto fail;
        }
    }
    if (lseek(fd, 0, SEEK_SET) < 0) {
        ferr_set(err, FERR_TEMP, "4.3.0 lseek: %s", strerror(errno));
        goto fail;
    }
    free(buf);
    *size = total;
    return fd;
fail:
    free(buf);
    close(fd);
    return -1;
}

int spool_write_range(int fd, off_t off, off_t end, FILE *out, struct ferr *err)
{
    char buf[SPOOL_BUF];

    while (end < 0 || off < end) {
        size_t want = sizeof(buf);
        ssize_t n;

        if (end >= 0 && (off_t)want > end - off)
            want = (size_t)(end - off);
        n = pread(fd, buf, want, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            ferr_set(err, FERR_TEMP, "4.3.0 reading the spool file: %s", strerror(errno));
            return FERR_TEMP;
        }
        if (n == 0) {
            if (end < 0)
                break;
            ferr_set(err, FERR_TEMP, "4.3.0 spool file shorter than expected");
            return FERR_TEMP;
        }
        if (fwrite(buf, 1, (size_t)n, out) != (size_t)n) {
            ferr_set(err, FERR_TEMP, "4.3.0 writing a temp file: %s", strerror(errno));
            return FERR_TEMP;
        }
        off += n;
    }
    return FERR_OK;
}
