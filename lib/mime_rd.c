/*
 * mime_rd: reads a byte range of a file line by line through one fixed
 * buffer of MIME_RD_BUF bytes (pread, so the file position is not used and
 * several readers may share one fd).  Memory is constant whatever the size of
 * the message; a line longer than the buffer comes back in pieces.
 *
 * Failure: a read error returns MIME_EIO (errno kept); EINTR is retried.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mime_rd.h"

void mime_err_set(struct mime_err *err, const char *part, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (part == NULL || *part == 0)
        n = snprintf(err->text, sizeof(err->text), "message: ");
    else
        n = snprintf(err->text, sizeof(err->text), "part %.128s: ", part);
    va_start(ap, fmt);
    vsnprintf(err->text + n, sizeof(err->text) - (size_t)n, fmt, ap);
    va_end(ap);
}

int mime_rd_init(struct mime_rd *rd, int fd, off_t off, off_t end)
{
    memset(rd, 0, sizeof(*rd));
    rd->fd = fd;
    rd->pos = off;
    rd->end = end;
    if ((rd->buf = malloc(MIME_RD_BUF)) == NULL)
        return MIME_EIO;
    return MIME_OK;
}

void mime_rd_free(struct mime_rd *rd)
{
    free(rd->buf);
    rd->buf = NULL;
}

off_t mime_rd_tell(const struct mime_rd *rd)
{
    return rd->pos + (off_t)rd->cur;
}

/* Moves unread bytes to the front and reads more; 0 at end of data. */
static int mime_rd_fill(struct mime_rd *rd)
{
    size_t want;
    ssize_t n;

    if (rd->cur > 0) {
        memmove(rd->buf, rd->buf + rd->cur, rd->len - rd->cur);
        rd->pos += (off_t)rd->cur;
        rd->len -= rd->cur;
        rd->cur = 0;
    }
    if (rd->eof || rd->len == MIME_RD_BUF)
        return 0;
    want = MIME_RD_BUF - rd->len;
    if (rd->end >= 0) {
        off_t left = rd->end - (rd->pos + (off_t)rd->len);

        if (left <= 0) {
            rd->eof = 1;
            return 0;
        }
        if ((off_t)want > left)
            want = (size_t)left;
    }
    do
        n = pread(rd->fd, rd->buf + rd->len, want, rd->pos + (off_t)rd->len);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return MIME_EIO;
    if (n == 0) {
        rd->eof = 1;
        return 0;
    }
    rd->len += (size_t)n;
    return 1;
}

int mime_rd_line(struct mime_rd *rd, const char **line, size_t *len, off_t *off, int *partial)
{
    char *lf;
    size_t scanned = 0, avail;
    int rc;

    for (;;) {
        avail = rd->len - rd->cur;
        lf = memchr(rd->buf + rd->cur + scanned, '\n', avail - scanned);
        if (lf != NULL)
            break;
        scanned = avail;
        if (avail == MIME_RD_BUF)
            break; /* buffer full: return a piece */
        if (rd->eof) {
            if (avail == 0)
                return 0;
            break; /* last line without LF */
        }
        if ((rc = mime_rd_fill(rd)) < 0)
            return rc;
    }
    *line = rd->buf + rd->cur;
    *off = rd->pos + (off_t)rd->cur;
    if (lf != NULL) {
        *len = (size_t)(lf - (rd->buf + rd->cur)) + 1;
        *partial = 0;
    } else {
        *len = avail;
        *partial = !rd->eof;
    }
    rd->cur += *len;
    return 1;
}
