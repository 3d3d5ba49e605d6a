/* secretfile: the one rule for files holding secrets (private keys, bind
 * passwords): no access at all for group or others. */
#ifndef POSTSEAL_SECRETFILE_H
#define POSTSEAL_SECRETFILE_H

#include <stddef.h>

/* Checks path (following symlinks): 0 when it exists and its mode grants
 * group and others nothing (0600, 0400); else -1 with why, e.g.
 * "/etc/k.pem is accessible by group or others (mode 0640): chmod 600 it"
 * or "/etc/k.pem: No such file or directory". */
int secretfile_check(const char *path, char *why, size_t whylen);

/* The same for an open descriptor (fstat); name is only used in why. */
int secretfile_check_fd(int fd, const char *name, char *why, size_t whylen);

#endif
