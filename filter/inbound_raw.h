/* inbound_raw: which header fields are postseal's own, and inbound mail
 * whose top-level header cannot be parsed, passed on as it came minus
 * forged postseal fields (see inbound_raw.c). */
#ifndef POSTSEAL_INBOUND_RAW_H
#define POSTSEAL_INBOUND_RAW_H

#include <stdio.h>
#include <sys/types.h>

/* Copies [start, end) of fd to out, dropping header fields that claim to be
 * postseal's (X-Postseal-Verify, X-Postseal-Hold, Authentication-Results of
 * authserv_id, NULL = none) and prefixing the first Subject with tag (NULL =
 * none).  0, or -1 on a read/write error. */
int inbound_raw_copy(int fd, off_t start, off_t end, const char *authserv_id, const char *tag,
                     FILE *out);

/* 1 when a header field claims to be postseal's and must never be passed on
 * from outside: X-Postseal-Verify, X-Postseal-Hold, and with authserv_id
 * (NULL = none) an Authentication-Results naming it (RFC 8601 section 5).
 * name[0..nlen) and value[0..vlen) (leading blanks allowed) need no NUL. */
int inbound_field_is_ours(const char *name, size_t nlen, const char *value, size_t vlen,
                          const char *authserv_id);

#endif
