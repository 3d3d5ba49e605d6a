/* tlsp: outbound TLS policy decisions of postseal-tlspolicyd (see tlsp.c). */
#ifndef POSTSEAL_TLSP_H
#define POSTSEAL_TLSP_H

#include <stddef.h>

#include "cfg.h"

#define TLSP_MAX_KEY 1000     /* longest lookup key accepted from Postfix */
#define TLSP_MAX_ANSWER 4096  /* longest answer we build (Postfix takes 100000) */
#define TLSP_MAX_REQUEST 1100 /* netstring payload bound: "NAME KEY" */

#define TLSP_FOUND 0    /* answer holds the data of an "OK data" reply */
#define TLSP_NOTFOUND 1 /* "NOTFOUND " */
#define TLSP_TEMP 2     /* answer holds the reason of a "TEMP reason" reply */
#define TLSP_PERM 3     /* answer holds the reason of a "PERM reason" reply */

struct tlsp_conf;

/* Validates [tlspolicy], every [tlspolicy DEST] and [sendmail] (with its access
 * file); every error is reported as FILE:LINE.  Returns NULL on any error. */
struct tlsp_conf *tlsp_load(const struct cfg *cfg, struct cfg_diag *diag);
void tlsp_free(struct tlsp_conf *conf);

/* What the daemon needs besides decisions: [tlspolicy] listen, socket_mode,
 * max_connections, idle_timeout, request_timeout and [global] user. */
struct tlsp_daemon {
    char listen[256];
    int socket_mode;
    int max_conns;
    int idle_timeout;
    int request_timeout;
    char user[64];
};
const struct tlsp_daemon *tlsp_daemon(const struct tlsp_conf *conf);
size_t tlsp_count(const struct tlsp_conf *conf, size_t *sendmail_entries);
const char *tlsp_policy_name(const struct tlsp_conf *conf);
const char *tlsp_transport_name(const struct tlsp_conf *conf);

/* smtp_tls_policy_maps lookup of a next-hop key ("example.com", "[mx.x]:25").
 * source (may be NULL) receives where the decision came from, "FILE:LINE". */
int tlsp_policy(const struct tlsp_conf *conf, const char *key, char *answer, size_t size,
                char *source, size_t ssize);
/* transport_maps lookup ("user@example.com" or "example.com"): "error:5.7.1 ..."
 * for destinations configured with bounce = yes, else NOTFOUND. */
int tlsp_transport(const struct tlsp_conf *conf, const char *key, char *answer, size_t size,
                   char *source, size_t ssize);

/* One socketmap request payload ("NAME KEY") -> the reply payload ("OK ...",
 * "NOTFOUND ", "TEMP ...", "PERM ...").  Returns the reply length. */
size_t tlsp_request(const struct tlsp_conf *conf, const char *req, size_t len, char *reply,
                    size_t size);

#endif
