/* fpolicy: the per-recipient decision of the outbound filter (see fpolicy.c). */
#ifndef POSTSEAL_FPOLICY_H
#define POSTSEAL_FPOLICY_H

#include "fconf.h"
#include "ferr.h"
#include "mime.h"

#define FPOL_CACHE 64

/* The message facts content conditions look at.  hdr NULL: no header rule
 * matches; mime NULL (malformed MIME): no body rule matches. */
struct fpol_msg {
    const struct mime_header *hdr;
    const struct mime_msg *mime;
    int fd;
    struct {
        const void *re;
        int result;
    } cache[FPOL_CACHE]; /* body regex results: each is evaluated once */
    size_t ncache;
};

struct fpol_decision {
    const char *rule; /* name of the rule that decided, NULL = the [filter] defaults */
    int encrypt;      /* FC_ENC_* */
    int sign;
    int no_key; /* FC_NOKEY_* */
    int protect_subject;
    int smime_cipher;
    int methods[2];
    int nmethods;
    const struct fc_signkey *signkey; /* sign = 1: the sender's signing identity, or NULL */
};

/* Decides for one recipient.  FERR_OK, or FERR_TEMP when the body could not
 * be read (err set). */
int fpol_decide(const struct fconf *fc, const char *sender, const char *rcpt, struct fpol_msg *m,
                struct fpol_decision *d, struct ferr *err);

/* The signing identity for sender: the rule's forced one, or by the
 * [filter signkey] sections (same rule_order semantics); NULL if none. */
const struct fc_signkey *fpol_signkey(const struct fconf *fc, const char *forced,
                                      const char *sender);

#endif
