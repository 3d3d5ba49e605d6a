/* global: the [global] section shared by every postseal daemon (see global.c). */
#ifndef POSTSEAL_GLOBAL_H
#define POSTSEAL_GLOBAL_H

#include <stddef.h>

#include "cfg.h"

struct global_conf {
    char user[64]; /* drop privileges to this user after binding; "" = stay */
};

/* Reads [global] from cfg: known keys are validated (errors counted in diag
 * with FILE:LINE), unknown keys are reported as warnings and ignored, so one
 * program's new key never breaks another. */
void global_parse(const struct cfg *cfg, struct cfg_diag *diag, struct global_conf *g);

/* Switches to `user` (its uid, gid and supplementary groups) for good.  When
 * not running as root: succeeds if already that user, else logs a warning and
 * stays.  Returns 0, or -1 with err (unknown user, set*id failure, or root
 * privileges could be regained). */
int global_drop_privileges(const char *user, char *err, size_t errlen);

/* Detaches from the terminal: fork, setsid, chdir /, stdio to /dev/null.
 * Returns 0 in the child; the parent exits 0.  -1 with errno on failure. */
int global_detach(void);

#endif
