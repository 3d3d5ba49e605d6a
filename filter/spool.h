/* spool: the message on stdin copied once into an unlinked temp file (see spool.c). */
#ifndef POSTSEAL_SPOOL_H
#define POSTSEAL_SPOOL_H

#include <stdio.h>
#include <sys/types.h>

#include "ferr.h"

/* An anonymous temp file in dir (O_TMPFILE, or mkstemp + unlink): nothing is
 * left behind when the process dies.  Returns the fd or -1 with err set
 * (FERR_TEMP). */
int spool_tmpfile(const char *dir, struct ferr *err);
/* Same as a stdio stream opened "w+". */
FILE *spool_tmpfp(const char *dir, struct ferr *err);

/* Copies in_fd to a new temp file in dir.  max_size > 0: a larger message is
 * FERR_PERM "5.3.4 message too big".  A write error (ENOSPC ...) is FERR_TEMP.
 * On success *size is the length and the fd is returned (position 0). */
int spool_copy(int in_fd, const char *dir, off_t max_size, off_t *size, struct ferr *err);

/* Writes [off, end) of fd to out (end < 0: to EOF).  FERR_OK/FERR_TEMP. */
int spool_write_range(int fd, off_t off, off_t end, FILE *out, struct ferr *err);

#endif
