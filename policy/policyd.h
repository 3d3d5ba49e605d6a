/* policyd: the postseal-policyd decision step and protocol glue (see policyd.c). */
#ifndef POSTSEAL_POLICYD_H
#define POSTSEAL_POLICYD_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "buf.h"
#include "global.h"
#include "policy_proto.h"
#include "rules.h"
#include "server.h"

#define POL_LISTEN_DEFAULT "unix:/run/postseal/policyd.sock"

/* The validated [policy] configuration (and [global]). */
struct smr;

struct pol_conf {
    struct rules *rules;
    struct smr *rcpt_rules; /* [sendmail] TLS_Rcpt: on receipt, or NULL */
    struct global_conf global;
    char listen[4][256]; /* listen = ..., repeated or a list */
    int nlisten;
    int listen_line;
    int socket_mode;
    char socket_group[64]; /* "": leave the group alone */
    struct server_limits limits;
    long session_max;
    long session_expire;
    unsigned checked_states; /* bit per enum pol_state */
    int log_pass;
    int reply_detail; /* enum pol_detail: the rule location in SMTP replies */
};

/* [policy] reply_detail: what a refusal sent to the SMTP client says about
 * the rule that refused (the log always has the full FILE:LINE). */
enum pol_detail { POL_DETAIL_FILE, POL_DETAIL_PATH, POL_DETAIL_NONE };

/* Copies action into out (size bytes) with its " (rule FILE:LINE)" ending as
 * detail says: the file's name without directories, the full path, or none. */
void pol_reply_text(const char *action, int detail, char *out, size_t size);

/* Loads and validates every [policy...] section (and [global]) of path.
 * Every error is logged as FILE:LINE and counted in *errors.  Returns NULL
 * when anything was wrong. */
struct pol_conf *pol_conf_load(const char *path, int *errors);
void pol_conf_free(struct pol_conf *conf);

/* The running service: configuration plus session memory. */
struct pol_service {
    struct pol_conf *conf;
    struct sess_table *sess;
    const char *path;
    unsigned long requests;
    unsigned long refusals;
    int quiet; /* --explain: no log lines about decisions */
};

/* How a request was decided, for logging and --explain. */
struct pol_decision {
    struct rules_result res;
    int from_session;  /* refused because the session failed earlier */
    int per_recipient; /* res came from a TLS_Rcpt: entry (not remembered) */
    int unchecked;     /* protocol_state is not checked */
};

/* Decides one parsed request; writes the action (without "action=").  Updates
 * the session memory.  -1 (with err) for a request that is not an
 * smtpd_access_policy request. */
int pol_decide(struct pol_service *svc, const struct proto_req *req, time_t now,
               struct pol_decision *d, char *err, size_t errlen);
/* Fills rules facts from a request. */
void pol_facts(const struct proto_req *req, struct rules_facts *f);

/* The server_proto callbacks (app = struct pol_service). */
extern const struct server_proto pol_proto;
/* SIGHUP: reloads svc->path; the old configuration stays when the new fails. */
void pol_reload(void *app);
/* Hook so the program can re-apply server limits after a reload. */
extern void (*pol_after_reload)(struct pol_service *svc);

#endif
