/* sendmail_access: Sendmail access-map STARTTLS rules (see sendmail_access.c). */
#ifndef POSTSEAL_SENDMAIL_ACCESS_H
#define POSTSEAL_SENDMAIL_ACCESS_H

#include <stddef.h>

#include "cfg.h"

#define SMA_MAX_LINE 1024 /* longest accepted access-file line, in bytes */
#define SMA_MAX_BITS 4096 /* largest accepted key size in VERIFY:bits / ENCR:bits */

#define SMA_TAG_CLT 0  /* TLS_Clt: the SMTP client of our server */
#define SMA_TAG_SRV 1  /* TLS_Srv: the next-hop server we deliver to */
#define SMA_TAG_RCPT 2 /* TLS_Rcpt: per recipient: the next hop, or our client (inbound) */

#define SMA_CODE_DEFAULT 0 /* no prefix: Sendmail 454 4.7.0 */
#define SMA_CODE_TEMP 1    /* TEMP+: Sendmail 403 4.7.0 */
#define SMA_CODE_PERM 2    /* PERM+: Sendmail 503 5.7.0 */

#define SMA_REQ_NONE 0   /* any other value, e.g. OK: no requirement */
#define SMA_REQ_VERIFY 1 /* VERIFY or VERIFY:bits */
#define SMA_REQ_ENCR 2   /* ENCR:bits */

struct sma_entry {
    int tag;
    char *key;   /* lower-cased, after the tag; "" for the bare tag (default) */
    char *value; /* the right-hand side as written */
    int line;
    int code;                /* SMA_CODE_* */
    int req;                 /* SMA_REQ_* */
    int bits;                /* minimum strength, 0 when not given */
    int cn;                  /* CN: the certificate must name the peer's host name */
    char *cn_name;           /* CN:name, else NULL */
    const char *unsupported; /* why postseal cannot enforce this entry, else NULL */
};

struct sma_map {
    char *path;
    struct sma_entry *entries; /* file order; TLS entries only */
    size_t count;
    int other_lines; /* non-TLS entries (Connect:, From:, CA tags ...), ignored */
};

/* Reads a makemap input file.  Every syntax error is reported as FILE:LINE and
 * counted in diag.  An entry postseal cannot enforce (CS:, CI:, CITag:) is an
 * error too, unless unsupported_warn is set: then it is logged as a warning per
 * line, kept with its reason and never matched.  (Per-recipient TLS_Rcpt: keys
 * are judged by sma_conf_load, which knows the daemon.)  Returns NULL when the
 * file cannot be read or has errors. */
struct sma_map *sma_load(const char *path, struct cfg_diag *diag, int unsupported_warn);
void sma_free(struct sma_map *map);

/* Sendmail's lookup order: host name and its parent domains, then the address and
 * its shorter prefixes (IPv4), then the bare tag.  host or addr may be NULL/"".
 * For SMA_TAG_RCPT host is the recipient domain.  Returns NULL when nothing
 * matches (Sendmail then accepts).  Unsupported entries never match. */
const struct sma_entry *sma_find(const struct sma_map *map, int tag, const char *host,
                                 const char *addr);

/* The SMTP reply (code and enhanced status) Postfix should give for a refused
 * entry: no prefix "454 4.7.0" ("554 5.7.0" with tls_perm_err), TEMP+ "450 4.7.0",
 * PERM+ "550 5.7.0".  Returns a static string. */
const char *sma_reply_code(const struct sma_entry *e, int tls_perm_err);
const char *sma_tag_name(int tag);

#define SMA_RCPT_OUTBOUND 1 /* TLS_Rcpt:domain -> postseal-tlspolicyd, per next hop */
#define SMA_RCPT_INBOUND 2  /* TLS_Rcpt: -> postseal-policyd, per recipient at RCPT */

#define SMA_FOR_POLICYD 1    /* sma_conf_load's role: the receiving side */
#define SMA_FOR_TLSPOLICYD 2 /* the delivering side */

/* The [sendmail] section of the ini, shared by postseal-policyd and
 * postseal-tlspolicyd:
 *     access_file = /etc/mail/access    (empty or absent: no Sendmail rules)
 *     unsupported = error | warn        (entries postseal cannot enforce)
 *     tls_perm_err = no | yes           (Sendmail's TLS_PERM_ERR: 5xx without prefix)
 *     tls_rcpt = outbound | inbound | both   (who applies TLS_Rcpt:; default outbound)
 * role (SMA_FOR_*) is the daemon loading it: for postseal-tlspolicyd with
 * tls_rcpt = outbound a per-recipient TLS_Rcpt: key is unsupported (error, or
 * warning with unsupported = warn); with both it is a warning (enforced on
 * receipt only).  Errors are reported with the ini's FILE:LINE, or the access
 * file's. */
struct sma_conf {
    struct sma_map *map; /* NULL when no access_file is configured */
    int tls_perm_err;
    int unsupported_warn;
    int tls_rcpt; /* SMA_RCPT_* bits */
};

int sma_conf_load(const struct cfg *cfg, struct cfg_diag *diag, int role, struct sma_conf *out);
void sma_conf_free(struct sma_conf *conf);

struct rules;
/* Feeds the TLS_Clt: entries into the rule engine (lib/rules) with their
 * FILE:LINE: a host name becomes [client_name NAME] and [client_name .NAME], an
 * address prefix a [client CIDR], the bare tag [client 0.0.0.0/0] and ::/0.
 * Each entry sets message_style = sendmail, its requirement (VERIFY:
 * require_verified_cert; bits: encryption_keysize; CN: ccert_subject =
 * ${client_name}; CN:name: ccert_subject = name), outcome and reply (see
 * sma_reply_code), and, except the bare tag, inherit = no: the first match
 * decides alone, as in Sendmail.  Errors are reported with the access file's
 * FILE:LINE (diag->path is left pointing at it).  Returns 0 or -1. */
int sma_to_rules(const struct sma_conf *conf, struct rules *r, struct cfg_diag *diag);

/* The lib/rules settings (key, value) that enforce one entry's requirement, as
 * described for sma_to_rules, without inherit.  bits is scratch space for the
 * number.  Returns how many (at most 6). */
int sma_settings(const struct sma_conf *conf, const struct sma_entry *e, const char *set[6][2],
                 char bits[16]);

#endif
