/* cache: persistent lookup cache in LMDB with TTLs (see cache.c). */
#ifndef POSTSEAL_CACHE_H
#define POSTSEAL_CACHE_H

#include <stddef.h>
#include <time.h>

#define CACHE_KEY_MAX 511   /* longest key, bytes (LMDB's default limit) */
#define CACHE_INFO_MAX 1023 /* longest info text stored with an entry */
#define CACHE_DATA_MAX (1024 * 1024)

enum { CACHE_NEGATIVE = 0, CACHE_POSITIVE = 1 };
enum { CACHE_ERR = -1, CACHE_MISS = 0, CACHE_HIT = 1 };

struct cache;

struct cache_entry {
    int kind;                      /* CACHE_POSITIVE or CACHE_NEGATIVE */
    time_t stored;                 /* when it was written */
    time_t expires;                /* when it stops being used */
    char info[CACHE_INFO_MAX + 1]; /* where from / why not */
    unsigned char *data;           /* positive payload (malloc'd, may be NULL) */
    size_t len;
};

/* Opens (creating if needed, mode 0600) the cache file PATH, at most MAXBYTES
 * large.  On failure returns NULL with a reason in err. */
struct cache *cache_open(const char *path, size_t maxbytes, char *err, size_t errlen);
void cache_close(struct cache *c);

/* CACHE_HIT fills e (free e->data with cache_entry_clear), CACHE_MISS for no
 * entry or an expired one, CACHE_ERR with a reason in err. */
int cache_get(struct cache *c, const char *key, struct cache_entry *e, char *err, size_t errlen);
void cache_entry_clear(struct cache_entry *e);

/* Stores an entry valid for ttl seconds.  Returns 0 or -1 with err. */
int cache_put(struct cache *c, const char *key, int kind, long ttl, const char *info,
              const void *data, size_t len, char *err, size_t errlen);
int cache_del(struct cache *c, const char *key, char *err, size_t errlen);

/* Removes expired entries; returns how many, or -1 with err. */
long cache_purge(struct cache *c, time_t now, char *err, size_t errlen);

#endif
