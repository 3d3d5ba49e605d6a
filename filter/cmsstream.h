/* cmsstream: splits a BER/DER CMS (Auth)EnvelopedData into its small
 * header and its large encrypted content, so OpenSSL can decrypt it with
 * the content streamed from a file (see cmsstream.c). */
#ifndef POSTSEAL_CMSSTREAM_H
#define POSTSEAL_CMSSTREAM_H

#include <stddef.h>
#include <sys/types.h>

#define CMSS_MAX_HEADER (1024 * 1024) /* everything but the encrypted content */

/* Reads the ContentInfo in fd ([0, EOF)), writes the encrypted content
 * octets to out_fd and returns (malloc'ed, *len bytes) the same ContentInfo
 * in DER without encryptedContent (detached).  NULL with the reason in why
 * when fd does not hold (Auth)EnvelopedData this module understands. */
unsigned char *cmss_split(int fd, int out_fd, size_t *len, char *why, size_t whylen);

#endif
