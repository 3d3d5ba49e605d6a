/* buf: one bounded, growable byte buffer (see buf.c). */
#ifndef POSTSEAL_BUF_H
#define POSTSEAL_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
    char *data; /* data[0..len) is content; data[len] is always 0 when cap > 0 */
    size_t len;
    size_t cap; /* allocated bytes, including room for the terminating 0 */
    size_t max; /* hard bound on len; growth beyond it fails */
};

void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);
/* Makes room for `extra` more bytes; -1 when len + extra would exceed max
 * or memory is short (errno ENOBUFS or ENOMEM); the content is unchanged. */
int buf_reserve(struct buf *b, size_t extra);
int buf_append(struct buf *b, const void *data, size_t len);
int buf_puts(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* Drops the first n bytes (n <= len). */
void buf_consume(struct buf *b, size_t n);
/* Gives memory back when the buffer is empty and larger than keep bytes. */
void buf_shrink(struct buf *b, size_t keep);
/* Free room after data[len] usable by read(2) followed by buf_commit(). */
size_t buf_room(const struct buf *b);
void buf_commit(struct buf *b, size_t n);

#endif
