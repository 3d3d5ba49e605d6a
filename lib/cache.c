/*
 * cache: a small persistent cache of lookup results (positive and negative,
 * each with its own expiry time) in one LMDB file, so a busy gateway does not
 * query key servers for every message.
 *
 * Contract: keys are opaque strings up to CACHE_KEY_MAX bytes (the caller uses
 * "METHOD:ADDRESS"); each value carries its kind, store and expiry times, an
 * info text (where a key came from, or why there is none) and an optional
 * payload up to CACHE_DATA_MAX bytes.  An expired entry reads as a miss.
 * Many filter processes may use the same file at once: LMDB serialises
 * writers with a robust mutex in PATH-lock and readers never block.
 *
 * Limits: the file never grows beyond the size given to cache_open().  When
 * a write does not fit, expired entries are purged and the write retried; if
 * it still does not fit, every entry is dropped (it is only a cache) and the
 * write retried once more.  The file and its lock are created mode 0600.
 *
 * Failure: every function reports a reason in the caller's buffer and returns
 * CACHE_ERR / -1; nothing here exits.  A caller treats a cache failure as "no
 * cache" or as a temporary failure, never as a lookup result.
 */
#include <errno.h>
#include <lmdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache.h"

#define CACHE_MAGIC 0x31435350u /* "PSC1" */
#define CACHE_HDR 32

struct cache {
    MDB_env *env;
    MDB_dbi dbi;
    char *path;
};

static void cache_err(char *err, size_t errlen, const char *what, int rc)
{
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "%s: %s", what, mdb_strerror(rc));
}

struct cache *cache_open(const char *path, size_t maxbytes, char *err, size_t errlen)
{
    struct cache *c;
    MDB_txn *txn;
    int rc, dead;
    char what[600];

    if ((c = calloc(1, sizeof(*c))) == NULL || (c->path = strdup(path)) == NULL) {
        free(c);
        snprintf(err, errlen, "cache %s: out of memory", path);
        return NULL;
    }
    snprintf(what, sizeof(what), "cache %s", path);
    if ((rc = mdb_env_create(&c->env)) != 0)
        goto fail;
    if ((rc = mdb_env_set_mapsize(c->env, maxbytes)) != 0)
        goto fail;
    if ((rc = mdb_env_set_maxreaders(c->env, 512)) != 0)
        goto fail;
    if ((rc = mdb_env_open(c->env, path, MDB_NOSUBDIR, 0600)) != 0)
        goto fail;
    /* Readers left behind by a killed filter process would pin old pages. */
    mdb_reader_check(c->env, &dead);
    if ((rc = mdb_txn_begin(c->env, NULL, 0, &txn)) != 0)
        goto fail;
    if ((rc = mdb_dbi_open(txn, NULL, 0, &c->dbi)) != 0) {
        mdb_txn_abort(txn);
        goto fail;
    }
    if ((rc = mdb_txn_commit(txn)) != 0)
        goto fail;
    return c;
fail:
    cache_err(err, errlen, what, rc);
    cache_close(c);
    return NULL;
}

void cache_close(struct cache *c)
{
    if (c == NULL)
        return;
    if (c->env != NULL)
        mdb_env_close(c->env);
    free(c->path);
    free(c);
}

static void put64(unsigned char *p, uint64_t v)
{
    memcpy(p, &v, 8);
}

static uint64_t get64(const unsigned char *p)
{
    uint64_t v;

    memcpy(&v, p, 8);
    return v;
}

static void put32(unsigned char *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

static uint32_t get32(const unsigned char *p)
{
    uint32_t v;

    memcpy(&v, p, 4);
    return v;
}

static int cache_key(const char *key, MDB_val *k, char *err, size_t errlen)
{
    size_t n = strlen(key);

    if (n == 0 || n > CACHE_KEY_MAX) {
        snprintf(err, errlen, "cache: key length %zu out of range (1..%d)", n, CACHE_KEY_MAX);
        return -1;
    }
    k->mv_data = (void *)key;
    k->mv_size = n;
    return 0;
}

/* Decodes a stored value; -1 when it is not one of ours (then: a miss). */
static int cache_decode(const MDB_val *v, struct cache_entry *e)
{
    const unsigned char *p = v->mv_data;
    uint32_t infolen, datalen;

    if (v->mv_size < CACHE_HDR || get32(p) != CACHE_MAGIC)
        return -1;
    infolen = get32(p + 24);
    datalen = get32(p + 28);
    if (infolen > CACHE_INFO_MAX || datalen > CACHE_DATA_MAX ||
        v->mv_size != (size_t)CACHE_HDR + infolen + datalen)
        return -1;
    e->kind = get32(p + 4) == CACHE_POSITIVE ? CACHE_POSITIVE : CACHE_NEGATIVE;
    e->stored = (time_t)get64(p + 8);
    e->expires = (time_t)get64(p + 16);
    memcpy(e->info, p + CACHE_HDR, infolen);
    e->info[infolen] = 0;
    e->data = NULL;
    e->len = datalen;
    return 0;
}

int cache_get(struct cache *c, const char *key, struct cache_entry *e, char *err, size_t errlen)
{
    MDB_txn *txn;
    MDB_val k, v;
    int rc;

    memset(e, 0, sizeof(*e));
    if (cache_key(key, &k, err, errlen) < 0)
        return CACHE_ERR;
    if ((rc = mdb_txn_begin(c->env, NULL, MDB_RDONLY, &txn)) != 0) {
        cache_err(err, errlen, "cache read", rc);
        return CACHE_ERR;
    }
    rc = mdb_get(txn, c->dbi, &k, &v);
    if (rc == MDB_NOTFOUND) {
        mdb_txn_abort(txn);
        return CACHE_MISS;
    }
    if (rc != 0) {
        mdb_txn_abort(txn);
        cache_err(err, errlen, "cache read", rc);
        return CACHE_ERR;
    }
    if (cache_decode(&v, e) < 0 || e->expires <= time(NULL)) {
        mdb_txn_abort(txn);
        memset(e, 0, sizeof(*e));
        return CACHE_MISS;
    }
    if (e->len > 0) {
        if ((e->data = malloc(e->len)) == NULL) {
            mdb_txn_abort(txn);
            snprintf(err, errlen, "cache read: out of memory");
            return CACHE_ERR;
        }
        memcpy(e->data, (unsigned char *)v.mv_data + v.mv_size - e->len, e->len);
    }
    mdb_txn_abort(txn);
    return CACHE_HIT;
}

void cache_entry_clear(struct cache_entry *e)
{
    free(e->data);
    memset(e, 0, sizeof(*e));
}

static long cache_purge_txn(struct cache *c, MDB_txn *txn, time_t now, int all)
{
    MDB_cursor *cur;
    MDB_val k, v;
    long n = 0;
    int rc;

    if (all) {
        if (mdb_drop(txn, c->dbi, 0) != 0)
            return -1;
        return 1;
    }
    if (mdb_cursor_open(txn, c->dbi, &cur) != 0)
        return -1;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        struct cache_entry e;

        if (cache_decode(&v, &e) < 0 || e.expires <= now) {
            if (mdb_cursor_del(cur, 0) != 0)
                break;
            n++;
        }
    }
    mdb_cursor_close(cur);
    return n;
}

long cache_purge(struct cache *c, time_t now, char *err, size_t errlen)
{
    MDB_txn *txn;
    long n;
    int rc;

    if ((rc = mdb_txn_begin(c->env, NULL, 0, &txn)) != 0) {
        cache_err(err, errlen, "cache purge", rc);
        return -1;
    }
    if ((n = cache_purge_txn(c, txn, now, 0)) < 0) {
        mdb_txn_abort(txn);
        snprintf(err, errlen, "cache purge: cursor failed");
        return -1;
    }
    if ((rc = mdb_txn_commit(txn)) != 0) {
        cache_err(err, errlen, "cache purge", rc);
        return -1;
    }
    return n;
}

/* One write attempt; evict: 0 none, 1 purge expired first, 2 drop all
 * first.  Eviction commits on its own: LMDB reuses freed pages only in a
 * later transaction. */
static int cache_write(struct cache *c, MDB_val *k, MDB_val *v, int evict)
{
    MDB_txn *txn;
    int rc;

    if (evict) {
        if ((rc = mdb_txn_begin(c->env, NULL, 0, &txn)) != 0)
            return rc;
        if (cache_purge_txn(c, txn, time(NULL), evict == 2) < 0) {
            mdb_txn_abort(txn);
            return MDB_CORRUPTED;
        }
        if ((rc = mdb_txn_commit(txn)) != 0)
            return rc;
    }
    if ((rc = mdb_txn_begin(c->env, NULL, 0, &txn)) != 0)
        return rc;
    if ((rc = mdb_put(txn, c->dbi, k, v, 0)) != 0) {
        mdb_txn_abort(txn);
        return rc;
    }
    return mdb_txn_commit(txn);
}

int cache_put(struct cache *c, const char *key, int kind, long ttl, const char *info,
              const void *data, size_t len, char *err, size_t errlen)
{
    MDB_val k, v;
    unsigned char *buf;
    size_t infolen = info ? strlen(info) : 0;
    time_t now = time(NULL);
    int rc, evict;

    if (cache_key(key, &k, err, errlen) < 0)
        return -1;
    if (infolen > CACHE_INFO_MAX)
        infolen = CACHE_INFO_MAX;
    if (len > CACHE_DATA_MAX) {
        snprintf(err, errlen, "cache write: entry of %zu bytes exceeds %d", len, CACHE_DATA_MAX);
        return -1;
    }
    if (ttl < 0)
        ttl = 0;
    if ((buf = malloc(CACHE_HDR + infolen + len)) == NULL) {
        snprintf(err, errlen, "cache write: out of memory");
        return -1;
    }
    put32(buf, CACHE_MAGIC);
    put32(buf + 4, kind == CACHE_POSITIVE ? CACHE_POSITIVE : CACHE_NEGATIVE);
    put64(buf + 8, (uint64_t)now);
    put64(buf + 16, (uint64_t)(now + ttl));
    put32(buf + 24, (uint32_t)infolen);
    put32(buf + 28, (uint32_t)len);
    if (infolen)
        memcpy(buf + CACHE_HDR, info, infolen);
    if (len)
        memcpy(buf + CACHE_HDR + infolen, data, len);
    v.mv_data = buf;
    v.mv_size = CACHE_HDR + infolen + len;
    for (evict = 0; evict <= 2; evict++)
        if ((rc = cache_write(c, &k, &v, evict)) != MDB_MAP_FULL)
            break;
    free(buf);
    if (rc != 0) {
        cache_err(err, errlen, "cache write", rc);
        return -1;
    }
    return 0;
}

int cache_del(struct cache *c, const char *key, char *err, size_t errlen)
{
    MDB_txn *txn;
    MDB_val k;
    int rc;

    if (cache_key(key, &k, err, errlen) < 0)
        return -1;
    if ((rc = mdb_txn_begin(c->env, NULL, 0, &txn)) != 0) {
        cache_err(err, errlen, "cache delete", rc);
        return -1;
    }
    rc = mdb_del(txn, c->dbi, &k, NULL);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        mdb_txn_abort(txn);
        cache_err(err, errlen, "cache delete", rc);
        return -1;
    }
    if ((rc = mdb_txn_commit(txn)) != 0) {
        cache_err(err, errlen, "cache delete", rc);
        return -1;
    }
    return 0;
}
