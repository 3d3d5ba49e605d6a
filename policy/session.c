/*
 * session: remembers SMTP sessions that failed the policy, so every later
 * request of that session is refused the same way.
 *
 * Postfix gives each mail transaction its own `instance` ("pid.sec.usec.N", N
 * counting transactions in one SMTP session), so the session key is
 * client_address + client_port + the smtpd pid (instance's first field).
 *
 * Bounded: a fixed open-addressing table of at least 2 x max slots, linear
 * probing within windows of SESS_WINDOW (a never-used slot ends a probe,
 * deleted slots are tombstones); entries expire `expire` seconds after their
 * last use; a full window evicts the entry closest to expiry.  A lookup
 * compares hashes first, costs at most SESS_WINDOW slots and never allocates.
 */
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy_proto.h"
#include "session.h"

#define SESS_WINDOW 16
#define SESS_KEY_MAX 96
#define SESS_INST_MAX 64

struct sess_slot {
    time_t expires;
    char *action;
    char key[SESS_KEY_MAX];
    char inst[SESS_INST_MAX];
};

struct sess_table {
    uint32_t *tag; /* per slot: 0 never used, 1 deleted, else hash bits | 2: probing
                    * reads this compact array, 16 tags per cache line */
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
    if ((t->slot = calloc(n, sizeof(*t->slot))) == NULL ||
        (t->tag = calloc(n, sizeof(*t->tag))) == NULL) {
        free(t->slot);
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
    free(t->tag);
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

#define SESS_TAG_FREE 0u
#define SESS_TAG_TOMB 1u

static uint32_t sess_tag(size_t h)
{
    return (uint32_t)(h >> 32) | 2u;
}

static void sess_clear(struct sess_table *t, size_t i)
{
    free(t->slot[i].action);
    t->slot[i].action = NULL;
    t->slot[i].expires = 0;
    t->tag[i] = SESS_TAG_TOMB;
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
    uint32_t tag;
    int i;

    if (t->count == 0)
        return NULL; /* the common case: nothing failed lately */
    h = sess_hash(key);
    tag = sess_tag(h);
    for (i = 0; i < SESS_WINDOW; i++) {
        size_t j = (h + (size_t)i) & t->mask;
        struct sess_slot *s;

        if (t->tag[j] == SESS_TAG_FREE)
            return NULL; /* end of the probe chain */
        if (t->tag[j] != tag)
            continue;
        s = &t->slot[j];
        if (strcmp(s->key, key) != 0)
            continue;
        if (s->expires <= now || sess_new_session(s->inst, instance)) {
            sess_clear(t, j);
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
    uint32_t tag = sess_tag(h);
    size_t use = (size_t)-1;
    size_t freeslot = (size_t)-1;
    size_t oldest = (size_t)-1;
    struct sess_slot *s;
    char *copy;
    int i;

    if (strlen(key) >= SESS_KEY_MAX)
        return -1;
    for (i = 0; i < SESS_WINDOW; i++) {
        size_t j = (h + (size_t)i) & t->mask;

        if (t->tag[j] == SESS_TAG_FREE) {
            if (freeslot == (size_t)-1)
                freeslot = j;
            break;
        }
        if (t->tag[j] == tag && strcmp(t->slot[j].key, key) == 0) {
            use = j;
            break;
        }
        if (t->tag[j] != SESS_TAG_TOMB && t->slot[j].expires <= now)
            sess_clear(t, j);
        if (t->tag[j] == SESS_TAG_TOMB) {
            if (freeslot == (size_t)-1)
                freeslot = j;
        } else if (oldest == (size_t)-1 || t->slot[j].expires < t->slot[oldest].expires) {
            oldest = j;
        }
    }
    if (use == (size_t)-1)
        use = freeslot != (size_t)-1 ? freeslot : oldest;
    if ((copy = strdup(action)) == NULL)
        return -1;
    if (t->tag[use] != SESS_TAG_FREE && t->tag[use] != SESS_TAG_TOMB)
        sess_clear(t, use); /* the same key again, or the eviction victim */
    s = &t->slot[use];
    t->tag[use] = tag;
    snprintf(s->key, sizeof(s->key), "%s", key);
    snprintf(s->inst, sizeof(s->inst), "%s", instance);
    s->action = copy;
    s->expires = now + t->expire;
    t->count++;
    return 0;
}
