/*
 * session: remembers SMTP sessions that failed the policy, so every later
 * request of that session is refused the same way.
 *
 * Postfix gives each mail transaction its own `instance` ("pid.sec.usec.N", N
 * counting transactions in one SMTP session), so the session key is
 * client_address + client_port + the smtpd pid (instance's first field).
 *
 * Bounded: a fixed open-addressing table of at least 2 x max slots, probed in
 * windows of SESS_WINDOW; entries expire `expire` seconds after their last use;
 * a full window evicts the entry closest to expiry.  Lookups cost at most
 * SESS_WINDOW string compares and never allocate.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_proto.h"
#include "session.h"

#define SESS_WINDOW 16
#define SESS_KEY_MAX 96
#define SESS_INST_MAX 64

struct sess_slot {
    char key[SESS_KEY_MAX];
    char inst[SESS_INST_MAX];
    time_t expires; /* 0: empty */
    char *action;
};

struct sess_table {
    struct sess_slot *slot;
    size_t mask;
    size_t count;
    long expire;
};

struct sess_table *sess_new(size_t max, long expire)
{
    struct sess_table *t = calloc(1, sizeof(*t));
    size_t n = 64;

    if (t == NULL)
        return NULL;
    while (n < 2 * max && n < ((size_t)1 << 30))
        n *= 2;
    if ((t->slot = calloc(n, sizeof(*t->slot))) == NULL) {
        free(t);
        return NULL;
    }
    t->mask = n - 1;
    t->expire = expire;
    return t;
}

void sess_free(struct sess_table *t)
{
    size_t i;

    if (t == NULL)
        return;
    for (i = 0; i <= t->mask; i++)
        free(t->slot[i].action);
    free(t->slot);
    free(t);
}

void sess_set_expire(struct sess_table *t, long expire)
{
    t->expire = expire;
}

size_t sess_count(const struct sess_table *t)
{
    return t->count;
}

int sess_key(const struct proto_req *req, char *key, size_t keylen)
{
    const char *addr = req->attr[PA_CLIENT_ADDRESS];
    const char *inst = req->attr[PA_INSTANCE];
    size_t alen;
    size_t ilen;
    char port[24];
    size_t plen = 0;
    long v = req->client_port;

    if (addr == NULL || *addr == 0 || inst == NULL || *inst == 0 || v < 0)
        return -1;
    /* "ADDRESS/PORT/PID", built by hand: this runs for every request */
    do {
        port[sizeof(port) - 1 - plen++] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0 && plen < sizeof(port) - 1);
    alen = strlen(addr);
    ilen = strcspn(inst, ".");
    if (alen + plen + ilen + 3 > keylen)
        return -1;
    memcpy(key, addr, alen);
    key[alen] = '/';
    memcpy(key + alen + 1, port + sizeof(port) - plen, plen);
    key[alen + 1 + plen] = '/';
    memcpy(key + alen + plen + 2, inst, ilen);
    key[alen + plen + 2 + ilen] = 0;
    return 0;
}

static size_t sess_hash(const char *s)
{
    size_t h = 14695981039346656037UL;

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211UL;
    return h;
}

static void sess_clear(struct sess_table *t, struct sess_slot *s)
{
    free(s->action);
    memset(s, 0, sizeof(*s));
    t->count--;
}

static int sess_new_session(const char *stored, const char *instance)
{
    const char *last = strrchr(instance, '.');

    return last != NULL && strcmp(last + 1, "0") == 0 && strcmp(stored, instance) != 0;
}

const char *sess_get(struct sess_table *t, const char *key, const char *instance, time_t now)
{
    size_t h;
    int i;

    if (t->count == 0)
        return NULL; /* the common case: nothing failed lately */
    h = sess_hash(key);
    for (i = 0; i < SESS_WINDOW; i++) {
        struct sess_slot *s = &t->slot[(h + (size_t)i) & t->mask];

        if (s->expires == 0 || strcmp(s->key, key) != 0)
            continue;
        if (s->expires <= now || sess_new_session(s->inst, instance)) {
            sess_clear(t, s);
            return NULL;
        }
        s->expires = now + t->expire;
        return s->action;
    }
    return NULL;
}

int sess_put(struct sess_table *t, const char *key, const char *instance, const char *action,
             time_t now)
{
    size_t h = sess_hash(key);
    struct sess_slot *use = NULL;
    struct sess_slot *oldest = NULL;
    char *copy;
    int i;

    if (strlen(key) >= SESS_KEY_MAX)
        return -1;
    for (i = 0; i < SESS_WINDOW; i++) {
        struct sess_slot *s = &t->slot[(h + (size_t)i) & t->mask];

        if (s->expires != 0 && strcmp(s->key, key) == 0) {
            use = s;
            break;
        }
        if (s->expires != 0 && s->expires <= now)
            sess_clear(t, s);
        if (s->expires == 0 && use == NULL)
            use = s;
        if (s->expires != 0 && (oldest == NULL || s->expires < oldest->expires))
            oldest = s;
    }
    if (use == NULL)
        use = oldest;
    if ((copy = strdup(action)) == NULL)
        return -1;
    if (use->expires != 0)
        sess_clear(t, use);
    snprintf(use->key, sizeof(use->key), "%s", key);
    snprintf(use->inst, sizeof(use->inst), "%s", instance);
    use->action = copy;
    use->expires = now + t->expire;
    t->count++;
    return 0;
}
