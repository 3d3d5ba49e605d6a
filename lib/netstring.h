/* netstring: bounded netstring codec for the socketmap protocol (see netstring.c). */
#ifndef POSTSEAL_NETSTRING_H
#define POSTSEAL_NETSTRING_H

#include <stddef.h>

#define NETSTRING_MAX_DIGITS 9 /* a length needs at most 9 digits: < 1e9 */

/* netstring_parse() results. */
#define NETSTRING_OK 0        /* one complete netstring decoded */
#define NETSTRING_MORE 1      /* a valid prefix: read more bytes */
#define NETSTRING_EDIGIT (-1) /* length missing, not a digit or leading zero */
#define NETSTRING_ELIMIT (-2) /* announced length exceeds the caller's limit */
#define NETSTRING_ECOLON (-3) /* no ':' after the length digits */
#define NETSTRING_ECOMMA (-4) /* the payload is not followed by ',' */

struct netstring_view {
    const char *data; /* points into the caller's buffer, not terminated */
    size_t len;       /* payload length */
    size_t consumed;  /* bytes of the whole netstring ("LEN:DATA,") */
};

int netstring_parse(const char *buf, size_t len, size_t max, struct netstring_view *out);
const char *netstring_strerror(int code);
/* Writes "LEN:DATA," into out; returns its length, or 0 when it does not fit. */
size_t netstring_format(char *out, size_t size, const char *data, size_t len);

#endif
