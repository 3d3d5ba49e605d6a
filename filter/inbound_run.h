/* inbound_run: the program's inbound path (see inbound_run.c). */
#ifndef POSTSEAL_INBOUND_RUN_H
#define POSTSEAL_INBOUND_RUN_H

#include <stdio.h>
#include <sys/types.h>

#include "fconf.h"
#include "ferr.h"
#include "inbound.h"

/* Processes the spooled message [0, size) of fd with inbound_process and
 * reinjects the result to the recipients in local_domains (one
 * transaction), or, when dry_run, prints it to out; the other recipients get
 * the original through outbound_run (keys as for outbound mail).  Returns
 * FERR_OK (reinjected or held), FERR_PERM / FERR_TEMP with err set; nothing
 * is reinjected when the inbound part fails. */
struct keys;
int inbound_run(const struct fconf *fc, struct keys *keys, const struct inbound_cfg *ic, int fd,
                off_t size, const char *sender, const char *const *rcpts, size_t n, int dry_run,
                FILE *out, struct ferr *err);

#endif
