/* inbound: decrypt, verify and stamp mail coming into the organisation
 * (see inbound.c, inbound_cfg.c). */
#ifndef POSTSEAL_INBOUND_H
#define POSTSEAL_INBOUND_H

#include <stdio.h>
#include <sys/types.h>

#include "cfg.h"
#include "ferr.h"

/* What the policy does when a requirement is not met. */
enum inbound_action {
    INBOUND_DELIVER, /* deliver with the result header */
    INBOUND_TAG,     /* deliver, Subject prefixed with the rule's tag */
    INBOUND_HOLD,    /* file in hold_dir (held_path set), or reinjected with X-Postseal-Hold */
    INBOUND_REJECT,  /* 69, 5.7.x */
    INBOUND_DEFER,   /* 75, 4.7.x */
};

/* Requirements of a verified signature (bit mask). */
#define INBOUND_REQ_VALID 0x01        /* good signature by the From address */
#define INBOUND_REQ_TRUSTED 0x02      /* chain to a trusted CA / valid OpenPGP key */
#define INBOUND_REQ_NOT_REVOKED 0x04  /* status check did not say "revoked" */
#define INBOUND_REQ_STATUS_KNOWN 0x08 /* status check said "good" */

struct inbound_cfg;

/* Reads every [inbound] and [inbound rule NAME] section of cfg.  Errors are
 * reported as FILE:LINE through diag; returns NULL when there was any. */
struct inbound_cfg *inbound_cfg_load(const struct cfg *cfg, struct cfg_diag *diag);
void inbound_cfg_free(struct inbound_cfg *icfg);

/* A hold outcome (on_fail / on_unreachable / on_decrypt_fail = hold in any
 * [inbound ...] section) needs somewhere to hold: hold_dir, or the holding
 * smtpd [filter] hold_reinject (have_hold_reinject).  Without either, every
 * such line is reported as FILE:LINE through diag (fail closed: never
 * delivered instead of held). */
void inbound_cfg_hold_check(const struct cfg *cfg, const struct inbound_cfg *icfg,
                            int have_hold_reinject, struct cfg_diag *diag);

/* Signer key discovery (signer_lookup): the key discovery context of the
 * program ([keys]) that inbound verification uses to find a missing signer
 * key by the From address, imported into [inbound] gnupg_home.  On by
 * default when keys has OpenPGP methods and gnupg_home is set; an explicit
 * "signer_lookup = yes" without either is reported as FILE:LINE.  keys is
 * borrowed: it must outlive icfg's use. */
struct keys;
void inbound_cfg_set_keys(struct inbound_cfg *icfg, struct keys *keys, struct cfg_diag *diag);

/* For --check: loads the S/MIME key pairs and trust anchors and opens the
 * GnuPG home as processing would.  0, or -1 with the reason in why. */
int inbound_cfg_check(const struct inbound_cfg *icfg, char *why, size_t whylen);

/* 1 when the message is inbound: the sender's domain is not one of
 * local_domains and at least one recipient's domain is.  0 otherwise (also
 * when no local_domains are configured: inbound processing is off). */
int inbound_is_inbound(const struct inbound_cfg *icfg, const char *sender, const char *const *rcpts,
                       size_t n);

/* Directory for the temp files of inbound_process (decrypted content;
 * anonymous files, see spool.c).  Default: $TMPDIR, else /tmp. */
void inbound_set_tmpdir(const char *dir);

/* What happened, for logging by the caller. */
struct inbound_result {
    enum inbound_action action; /* INBOUND_HOLD + held_path: stored, do not reinject */
    char verify[400];           /* the X-Postseal-Verify value that was stamped */
    char held_path[256];        /* INBOUND_HOLD with hold_dir: where the message is */
};

/* Processes the message stored in fd between offsets start and end (header
 * section, blank line, body; LF line ends).  On FERR_OK the complete message
 * to reinject (or nothing when res->action is INBOUND_HOLD) has been written
 * to out, LF line ends.  FERR_PERM: refuse (err->text "5.7.x ...");
 * FERR_TEMP: defer (err->text "4.x.x ..."). Output written before an error
 * must be discarded by the caller. */
int inbound_process(const struct inbound_cfg *icfg, int fd, off_t start, off_t end,
                    const char *sender, const char *const *rcpts, size_t n, FILE *out,
                    struct inbound_result *res, struct ferr *err);

#endif
