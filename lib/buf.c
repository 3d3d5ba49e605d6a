/*
 * buf: the one bounded, growable byte buffer of postseal.
 *
 * Contract: a buffer never holds more than `max` bytes; every operation that
 * would cross that bound fails with -1 and errno ENOBUFS and leaves the content
 * as it was, so the caller decides (drop a connection, report an oversize
 * attribute).  Memory grows by doubling from 256 bytes and is only given back
 * by buf_shrink()/buf_free().  The content is always followed by a 0 byte,
 * which is NOT counted in len, so text can be parsed in place.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

#define BUF_MIN 256

void buf_init(struct buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void buf_free(struct buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->cap)
        b->data[0] = 0;
}

int buf_reserve(struct buf *b, size_t extra)
{
    size_t need;
    size_t ncap;
    char *p;

    if (extra > b->max || b->len > b->max - extra) {
        errno = ENOBUFS;
        return -1;
    }
    need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    ncap = b->cap ? b->cap : BUF_MIN;
    while (ncap < need)
        ncap *= 2;
    if (ncap > b->max + 1)
        ncap = b->max + 1;
    if ((p = realloc(b->data, ncap)) == NULL) {
        errno = ENOMEM;
        return -1;
    }
    b->data = p;
    b->cap = ncap;
    b->data[b->len] = 0;
    return 0;
}

int buf_append(struct buf *b, const void *data, size_t len)
{
    if (buf_reserve(b, len) < 0)
        return -1;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = 0;
    return 0;
}

int buf_puts(struct buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    int n;

    va_copy(ap2, ap);
    n = vsnprintf(b->cap ? b->data + b->len : NULL, b->cap ? b->cap - b->len : 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return -1;
    if (b->cap && (size_t)n < b->cap - b->len) {
        b->len += (size_t)n;
        return 0;
    }
    if (buf_reserve(b, (size_t)n) < 0) {
        if (b->cap)
            b->data[b->len] = 0;
        return -1;
    }
    vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

void buf_consume(struct buf *b, size_t n)
{
    if (n >= b->len) {
        buf_reset(b);
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = 0;
}

void buf_shrink(struct buf *b, size_t keep)
{
    if (b->len == 0 && b->cap > keep) {
        free(b->data);
        b->data = NULL;
        b->cap = 0;
    }
}

size_t buf_room(const struct buf *b)
{
    return b->cap ? b->cap - 1 - b->len : 0;
}

void buf_commit(struct buf *b, size_t n)
{
    b->len += n;
    b->data[b->len] = 0;
}
