/* session: memory of SMTP sessions that failed the policy (see session.c). */
#ifndef POSTSEAL_SESSION_H
#define POSTSEAL_SESSION_H

#include <stddef.h>
#include <time.h>

struct proto_req;
struct sess_table;

struct sess_table *sess_new(size_t max, long expire);
void sess_free(struct sess_table *t);
void sess_set_expire(struct sess_table *t, long expire);
/* The session key of a request: client_address/client_port/smtpd-pid (the
 * first field of instance).  Returns -1 when an attribute is missing. */
int sess_key(const struct proto_req *req, char *key, size_t keylen);
/* The stored action of a failed session, or NULL.  An instance whose message
 * counter (last field) is 0 and that differs from the stored one starts a new
 * SMTP session that reuses the same address, port and smtpd process: the old
 * entry is forgotten.  A hit extends the entry's life. */
const char *sess_get(struct sess_table *t, const char *key, const char *instance, time_t now);
/* Remembers a failure; evicts the entry closest to expiry when the probe
 * window is full.  Returns -1 when out of memory (the failure is then not
 * remembered; the current request is still refused). */
int sess_put(struct sess_table *t, const char *key, const char *instance, const char *action,
             time_t now);
size_t sess_count(const struct sess_table *t);

#endif
