/* inbound_raw: inbound mail whose top-level header cannot be parsed, passed
 * on as it came minus forged postseal fields (see inbound_raw.c). */
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

#endif
