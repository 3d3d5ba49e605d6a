/* mime_rd: bounded line reader over a byte range of a file (internal to the
 * mime modules; see mime_rd.c). */
#ifndef POSTSEAL_MIME_RD_H
#define POSTSEAL_MIME_RD_H

#include <stddef.h>
#include <sys/types.h>

#include "mime.h"

#define MIME_RD_BUF 65536 /* a longer line is returned in pieces */

struct mime_rd {
    int fd;
    off_t pos; /* file offset of buf[0] */
    off_t end; /* stop here; -1 = end of file */
    char *buf;
    size_t len; /* valid bytes in buf */
    size_t cur; /* next unread byte */
    int eof;
};

int mime_rd_init(struct mime_rd *rd, int fd, off_t off, off_t end);
void mime_rd_free(struct mime_rd *rd);
/* Next line (LF included when present) at *off: 1 = line, 0 = end of data,
 * MIME_EIO = read error.  *partial is 1 when the line continues in the next
 * call (longer than MIME_RD_BUF). */
int mime_rd_line(struct mime_rd *rd, const char **line, size_t *len, off_t *off, int *partial);
/* Offset of the next unread byte. */
off_t mime_rd_tell(const struct mime_rd *rd);

/* Header section parser shared by mime_header_read and mime_parse.  stop, when
 * not NULL, is asked about every header line (without LF/CR); returning 1
 * means the line is a multipart delimiter, which is an error here. */
int mime_hdr_parse(struct mime_rd *rd, const char *part, struct mime_header *h,
                   int (*stop)(const char *, size_t, void *), void *stop_arg, struct mime_err *err);
void mime_err_set(struct mime_err *err, const char *part, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
