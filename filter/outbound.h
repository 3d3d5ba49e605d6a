/* outbound: decide, transform and reinject one outbound message (see outbound.c). */
#ifndef POSTSEAL_OUTBOUND_H
#define POSTSEAL_OUTBOUND_H

#include <stdio.h>
#include <sys/types.h>

#include "fconf.h"
#include "ferr.h"

/* The message is [0, size) of fd (the spool file).  dry_run: print the
 * decision per recipient to out and send nothing.  Returns FERR_OK (every
 * recipient handled), FERR_TEMP or FERR_PERM with err set; nothing was
 * reinjected when a decision step failed. */
struct keys;
int outbound_run(const struct fconf *fc, struct keys *keys, int fd, off_t size, const char *sender,
                 const char *const *rcpts, size_t n, int dry_run, FILE *out, struct ferr *err);

#endif
