/* sendmail_rcpt: Sendmail TLS_Rcpt: entries enforced on receipt (see sendmail_rcpt.c). */
#ifndef POSTSEAL_SENDMAIL_RCPT_H
#define POSTSEAL_SENDMAIL_RCPT_H

#include "buf.h"
#include "cfg.h"
#include "rules.h"
#include "sendmail_access.h"

struct smr;

/* Builds the per-recipient rules from the TLS_Rcpt: entries of conf when
 * conf->tls_rcpt includes SMA_RCPT_INBOUND.  *out is NULL when there is nothing
 * to enforce (no access file, outbound only, no TLS_Rcpt: entry).  A key
 * Sendmail never looks up (TLS_Rcpt:@domain, TLS_Rcpt:.domain) is an error
 * with the access file's FILE:LINE.  Returns 0 or -1. */
int smr_new(const struct sma_conf *conf, struct cfg_diag *diag, struct smr **out);
void smr_free(struct smr *s);

/* The entry for recipient in Sendmail's order (tls_rcpt, SearchList F U D E):
 * user+detail@domain, user+*@domain, user@domain; user+detail@, user+*@,
 * user@; domain and its parent domains; the bare tag.  Case-insensitive.
 * When tried is not NULL the keys looked up are appended to it.  NULL: no
 * entry (nothing required). */
const struct sma_entry *smr_find(const struct smr *s, const char *recipient, struct buf *tried);

/* Decides f->recipient against the client's TLS facts in f with the entry's
 * requirement (Sendmail's refusal texts, the access file's FILE:LINE in the
 * action).  Returns 1 when an entry applied (res says whether it failed), 0
 * when none did (res untouched). */
int smr_decide(const struct smr *s, const struct rules_facts *f, struct rules_result *res);

/* Appends the keys looked up for f->recipient, the entry found with its
 * FILE:LINE, and the settings in force. */
void smr_explain(const struct smr *s, const struct rules_facts *f, struct buf *out);

#endif
