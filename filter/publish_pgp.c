/*
 * publish_pgp: which OpenPGP keys of this gateway are published, for which
 * address, and their export with nothing but that address's user IDs.
 *
 * Contract: every key in gnupg_home is inspected (gpgme, offline, no agent:
 * "holds the secret key" means a usable encryption subkey whose keygrip has
 * a file in private-keys-v1.d, which is checked with stat() and never
 * read).  A user ID is published when its address is in [publish] domains,
 * the key holds its secret here (keys = secret) or keys = all, and the key
 * passes keystore_pgp_usable() for that address, the very rule the peer's
 * lookup applies (not revoked, expired, disabled or invalid; the user ID
 * valid; an encryption subkey usable).  Every other user ID in our domains
 * is reported with the reason ("skipped key FPR for ADDR: ...").
 * Per address the keys are exported minimal (no third-party signatures)
 * from gnupg_home, imported into a scratch GnuPG home with the import
 * filter keep-uid=mbox=ADDRESS, checked again there (only user IDs of that
 * address, still usable) and exported from the scratch home, so no foreign
 * user ID is ever published.  The result is scanned packet by packet: a
 * secret key packet (tag 5 or 7) would be a fatal error; only public
 * material is ever asked for.
 * The gateway key ([publish] gateway_key) must carry a valid user ID
 * gateway_localpart@DOMAIN for every published domain, because the peer
 * accepts only keys with a user ID naming the address it looked up.
 *
 * Limits: gnupg_home must belong to the user running postseal-keys, or we
 * are root: then a child switches to its owner for good (groups, gid, uid),
 * reads it and hands the keys back over a pipe, so gpg never leaves a file
 * of another user in it (publish_collect_as).  Scratch homes live in
 * $TMPDIR (default /tmp) and are removed.
 * Failure: -1 after publish_note() naming the key, address or file.
 */
#include <ctype.h>
#include <errno.h>
#include <ftw.h>
#include <gpgme.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "keys.h"
#include "keystore.h"
#include "publish.h"

#define PUBLISH_MAX_CAND 100000
#define PUBLISH_MAX_DATA (512u * 1024 * 1024) /* all keys, from the child */

struct publish_cand {
    char addr[256];
    char fpr[80];
    long created;
};

struct publish_run {
    const struct publish_conf *pc;
    struct publish_cand *cand;
    int ncand, acand;
    int gw_seen, gw_secret;
    char gw_bad[400]; /* why the gateway key itself is unusable */
};

/* keys_gpgme_ctx (the lookup's context), binary output: WKD files are not
 * armored. */
static gpgme_ctx_t publish_ctx(const char *home)
{
    gpgme_ctx_t ctx;
    char why[400];

    if ((ctx = keys_gpgme_ctx(home, why, sizeof(why))) == NULL) {
        publish_note("%s", why);
        return NULL;
    }
    gpgme_set_armor(ctx, 0);
    return ctx;
}

static int publish_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_DP)
        rmdir(path);
    else
        unlink(path);
    return 0;
}

/* Secret key material of the key is here: a subkey (enc_only: an encryption
 * subkey) whose keygrip has a file in private-keys-v1.d (stat only, never
 * read).  Whether that subkey is usable is keystore_pgp_usable's question,
 * so a revoked key of ours is reported as revoked, not as "no secret key". */
static int publish_has_secret(const char *home, gpgme_key_t key, int enc_only)
{
    gpgme_subkey_t sk;
    char path[4096];
    struct stat st;

    for (sk = key->subkeys; sk != NULL; sk = sk->next) {
        if ((enc_only && !sk->can_encrypt) || sk->keygrip == NULL)
            continue;
        if (snprintf(path, sizeof(path), "%s/private-keys-v1.d/%s.key", home, sk->keygrip) <
                (int)sizeof(path) &&
            stat(path, &st) == 0)
            return 1;
    }
    return 0;
}

/* "key FPR is revoked" -> "key is revoked": the message names the key already. */
static const char *publish_reason(const char *why, const char *fpr, char *buf, size_t len)
{
    size_t n = strlen(fpr);

    if (strncmp(why, "key ", 4) == 0 && strncmp(why + 4, fpr, n) == 0) {
        snprintf(buf, len, "key%s", why + 4 + n);
        return buf;
    }
    return why;
}

static int publish_add(struct publish_run *r, const char *addr, gpgme_key_t key)
{
    int i;

    for (i = 0; i < r->ncand; i++)
        if (strcmp(r->cand[i].addr, addr) == 0 && strcmp(r->cand[i].fpr, key->fpr) == 0)
            return 0;
    if (r->ncand == r->acand) {
        int n = r->acand ? r->acand * 2 : 64;
        struct publish_cand *v;

        if (n > PUBLISH_MAX_CAND || (v = realloc(r->cand, n * sizeof(*v))) == NULL) {
            publish_note("too many keys (or out of memory)");
            return -1;
        }
        r->cand = v;
        r->acand = n;
    }
    snprintf(r->cand[r->ncand].addr, sizeof(r->cand[0].addr), "%s", addr);
    snprintf(r->cand[r->ncand].fpr, sizeof(r->cand[0].fpr), "%s", key->fpr);
    r->cand[r->ncand].created = key->subkeys ? key->subkeys->timestamp : 0;
    r->ncand++;
    return 0;
}

/* One key of gnupg_home: every user ID in our domains. */
static int publish_key(struct publish_run *r, gpgme_key_t key)
{
    const struct publish_conf *pc = r->pc;
    int secret = publish_has_secret(pc->gnupg_home, key, 0);
    int enc_secret = publish_has_secret(pc->gnupg_home, key, 1);
    int gateway =
        pc->gateway_key != NULL && key->fpr != NULL && strcasecmp(key->fpr, pc->gateway_key) == 0;
    gpgme_user_id_t uid;
    char local[128], domain[256], addr[256], why[400], rbuf[400];
    size_t i;

    if (key->fpr == NULL)
        return 0;
    if (gateway) {
        r->gw_seen = 1;
        r->gw_secret = enc_secret;
        if (keystore_pgp_usable(key, NULL, KEYSTORE_ENCRYPT, why, sizeof(why)) < 0)
            snprintf(r->gw_bad, sizeof(r->gw_bad), "%s", why);
    }
    for (uid = key->uids; uid != NULL; uid = uid->next) {
        if (uid->email == NULL ||
            keys_addr_split(uid->email, local, sizeof(local), domain, sizeof(domain)) < 0)
            continue;
        if (!publish_domain_ok(pc, domain))
            continue;
        for (i = 0; local[i]; i++)
            local[i] = (char)tolower((unsigned char)local[i]);
        snprintf(addr, sizeof(addr), "%.64s@%.189s", local, domain);
        if (!secret && !pc->keys_all && !gateway) {
            publish_verbose("not published: key %s for %s: no secret key in %s (keys = secret)",
                            key->fpr, addr, pc->gnupg_home);
            continue;
        }
        if (keystore_pgp_usable(key, addr, KEYSTORE_ENCRYPT, why, sizeof(why)) < 0) {
            publish_note("skipped key %s for %s: %s", key->fpr, addr,
                         publish_reason(why, key->fpr, rbuf, sizeof(rbuf)));
            continue;
        }
        if (!enc_secret && !pc->keys_all && !gateway) {
            publish_note("skipped key %s for %s: the secret of its encryption subkey is not in "
                         "%s, so this gateway could not decrypt for it (keys = secret)",
                         key->fpr, addr, pc->gnupg_home);
            continue;
        }
        if (publish_add(r, addr, key) < 0)
            return -1;
    }
    return 0;
}

/* The gateway key must be there, usable and carry gateway_localpart@DOMAIN
 * for every domain. */
static int publish_gateway_check(struct publish_run *r)
{
    const struct publish_conf *pc = r->pc;
    char gw[400];
    int d, i, errors = 0;

    if (pc->gateway_key == NULL)
        return 0;
    if (!r->gw_seen) {
        publish_note("%s:%d: gateway_key %s is not in %s (import it, or fix the fingerprint)",
                     pc->path, pc->gateway_key_line, pc->gateway_key, pc->gnupg_home);
        return -1;
    }
    if (r->gw_bad[0]) {
        publish_note("%s:%d: gateway_key: %s", pc->path, pc->gateway_key_line, r->gw_bad);
        return -1;
    }
    if (!r->gw_secret)
        publish_note("warning: gateway key %s: no secret encryption key in %s: this gateway "
                     "cannot decrypt what peers encrypt to it",
                     pc->gateway_key, pc->gnupg_home);
    for (d = 0; d < pc->ndomains; d++) {
        snprintf(gw, sizeof(gw), "%s@%s", pc->gateway_localpart, pc->domains[d]);
        for (i = 0; gw[i]; i++)
            gw[i] = (char)tolower((unsigned char)gw[i]);
        for (i = 0; i < r->ncand; i++)
            if (strcmp(r->cand[i].addr, gw) == 0 &&
                strcasecmp(r->cand[i].fpr, pc->gateway_key) == 0)
                break;
        if (i < r->ncand)
            continue;
        publish_note("gateway key %s has no valid user ID <%s>: peers look the domain key up at "
                     "that address and accept only a key with a user ID naming it; add it with: "
                     "gpg --homedir %s --quick-add-uid %s %s",
                     pc->gateway_key, gw, pc->gnupg_home, pc->gateway_key, gw);
        errors++;
    }
    return errors ? -1 : 0;
}

/* Walks the OpenPGP packets of data: -1 if one is a secret key packet or
 * the data is not well-formed. */
int publish_pgp_public_only(const unsigned char *p, size_t len, char *why, size_t wlen)
{
    size_t off = 0;

    while (off < len) {
        unsigned char h = p[off];
        int tag;
        size_t body;

        if (!(h & 0x80))
            return snprintf(why, wlen, "byte %zu is no packet header", off), -1;
        if (h & 0x40) { /* new format */
            tag = h & 0x3f;
            if (off + 2 > len)
                goto trunc;
            if (p[off + 1] < 192) {
                body = p[off + 1];
                off += 2;
            } else if (p[off + 1] < 224) {
                if (off + 3 > len)
                    goto trunc;
                body = ((size_t)(p[off + 1] - 192) << 8) + p[off + 2] + 192;
                off += 3;
            } else if (p[off + 1] == 255) {
                if (off + 6 > len)
                    goto trunc;
                body = ((size_t)p[off + 2] << 24) | ((size_t)p[off + 3] << 16) |
                       ((size_t)p[off + 4] << 8) | p[off + 5];
                off += 6;
            } else {
                return snprintf(why, wlen, "partial length packet at byte %zu", off), -1;
            }
        } else { /* old format */
            int lt = h & 3;

            tag = (h >> 2) & 0x0f;
            if (lt == 3)
                return snprintf(why, wlen, "indeterminate length packet at byte %zu", off), -1;
            if (off + 1 + (1u << lt) > len)
                goto trunc;
            body = 0;
            for (int i = 0; i < (1 << lt); i++)
                body = (body << 8) | p[off + 1 + i];
            off += 1 + (1u << lt);
        }
        if (tag == 5 || tag == 7)
            return snprintf(why, wlen, "secret key packet (tag %d) in the export", tag), -1;
        if (body > len - off)
            goto trunc;
        off += body;
    }
    return 0;
trunc:
    return snprintf(why, wlen, "truncated packet"), -1;
}

/* Exports fprs from gnupg_home, imports them into a scratch home keeping only
 * the user IDs of addr, checks them there and exports them again. */
static int publish_export_addr(const struct publish_conf *pc, gpgme_ctx_t hctx,
                               struct publish_addr *pa, const char **fprs, int n)
{
    char scratch[4096], filter[400], why[400], rbuf[400];
    const char *tmpdir = getenv("TMPDIR");
    const char *keep[65];
    gpgme_ctx_t sctx = NULL;
    gpgme_data_t d = NULL;
    char *gdata;
    gpgme_error_t ge;
    gpgme_key_t key;
    int i, nkeep = 0, rc = -1;
    size_t j;

    if (tmpdir == NULL || tmpdir[0] != '/')
        tmpdir = "/tmp";
    snprintf(scratch, sizeof(scratch), "%s/postseal-publish.XXXXXX", tmpdir);
    if (mkdtemp(scratch) == NULL) {
        publish_note("cannot create a scratch GnuPG home in %s: %s", tmpdir, strerror(errno));
        return -1;
    }
    if ((sctx = publish_ctx(scratch)) == NULL)
        goto done;
    snprintf(filter, sizeof(filter), "keep-uid=mbox = %s", pa->addr);
    for (j = 0; filter[j]; j++)
        filter[j] = (char)tolower((unsigned char)filter[j]);
    if ((ge = gpgme_set_ctx_flag(sctx, "import-filter", filter)) != 0) {
        publish_note("gpgme import filter: %s", gpgme_strerror(ge));
        goto done;
    }
    for (i = 0; i < n; i++) {
        gpgme_data_t out;
        gpgme_import_result_t ir;

        if (gpgme_data_new(&out) != 0)
            goto nomem;
        if ((ge = gpgme_op_export(hctx, fprs[i], GPGME_EXPORT_MODE_MINIMAL, out)) != 0) {
            publish_note("export of key %s from %s: %s", fprs[i], pc->gnupg_home,
                         gpgme_strerror(ge));
            gpgme_data_release(out);
            goto done;
        }
        gpgme_data_seek(out, 0, SEEK_SET);
        ge = gpgme_op_import(sctx, out);
        gpgme_data_release(out);
        ir = ge == 0 ? gpgme_op_import_result(sctx) : NULL;
        if (ir == NULL || ir->considered == 0) {
            publish_note("key %s for %s: import into the scratch home failed: %s", fprs[i],
                         pa->addr, ge ? gpgme_strerror(ge) : "nothing imported");
            goto done;
        }
    }
    /* Checked again in the scratch home: only addr's user IDs, usable. */
    for (i = 0; i < n && nkeep < 64; i++) {
        gpgme_user_id_t uid;
        int foreign = 0;

        if ((ge = gpgme_get_key(sctx, fprs[i], &key, 0)) != 0) {
            publish_note("skipped key %s for %s: nothing left after keep-uid=mbox=%s (%s)", fprs[i],
                         pa->addr, pa->addr, gpgme_strerror(ge));
            continue;
        }
        for (uid = key->uids; uid != NULL; uid = uid->next)
            if (uid->email == NULL || strcasecmp(uid->email, pa->addr) != 0)
                foreign = 1;
        if (foreign || key->secret) {
            publish_note("key %s for %s: the export would carry another user ID; not published",
                         fprs[i], pa->addr);
            gpgme_key_unref(key);
            goto done;
        }
        if (keystore_pgp_usable(key, pa->addr, KEYSTORE_ENCRYPT, why, sizeof(why)) < 0)
            publish_note("skipped key %s for %s: after keeping only its user IDs: %s", fprs[i],
                         pa->addr, publish_reason(why, fprs[i], rbuf, sizeof(rbuf)));
        else
            keep[nkeep++] = fprs[i];
        gpgme_key_unref(key);
    }
    if (nkeep == 0) {
        rc = 0;
        goto done;
    }
    keep[nkeep] = NULL;
    if (gpgme_data_new(&d) != 0)
        goto nomem;
    if ((ge = gpgme_op_export_ext(sctx, keep, GPGME_EXPORT_MODE_MINIMAL, d)) != 0) {
        publish_note("export for %s from the scratch home: %s", pa->addr, gpgme_strerror(ge));
        goto done;
    }
    gdata = gpgme_data_release_and_get_mem(d, &pa->len);
    d = NULL;
    if (gdata == NULL || pa->len == 0) {
        gpgme_free(gdata);
        publish_note("export for %s is empty", pa->addr);
        goto done;
    }
    pa->data = malloc(pa->len); /* ours: freed with free() like the child's copies */
    if (pa->data != NULL)
        memcpy(pa->data, gdata, pa->len);
    gpgme_free(gdata);
    if (pa->data == NULL)
        goto nomem;
    if (publish_pgp_public_only((unsigned char *)pa->data, pa->len, why, sizeof(why)) < 0) {
        publish_note("export for %s refused: %s", pa->addr, why);
        goto done;
    }
    pa->nkeys = nkeep;
    rc = 0;
    goto done;
nomem:
    publish_note("out of memory");
done:
    if (d != NULL)
        gpgme_data_release(d);
    if (sctx != NULL)
        gpgme_release(sctx);
    nftw(scratch, publish_rm, 8, FTW_DEPTH | FTW_PHYS);
    return rc;
}

static int publish_cand_cmp(const void *a, const void *b)
{
    const struct publish_cand *x = a, *y = b;
    int c = strcmp(x->addr, y->addr);

    if (c != 0)
        return c;
    return x->created > y->created ? -1 : x->created < y->created ? 1 : strcmp(x->fpr, y->fpr);
}

/* 0: gnupg_home is ours; 1: it belongs to another user and we are root
 * (*owner filled: the GnuPG part runs as that user); -1: error. */
static int publish_home_ok(const struct publish_conf *pc, struct stat *owner)
{
    struct stat st;
    struct passwd *pw;

    if (pc->gnupg_home == NULL) {
        publish_note("%s: no gnupg_home: set [publish] gnupg_home (or [inbound]/[filter] "
                     "gnupg_home)",
                     pc->path);
        return -1;
    }
    if (stat(pc->gnupg_home, &st) < 0) {
        publish_note("%s:%d: gnupg_home %s: %s", pc->path, pc->gnupg_home_line, pc->gnupg_home,
                     strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        publish_note("%s:%d: gnupg_home %s: not a directory", pc->path, pc->gnupg_home_line,
                     pc->gnupg_home);
        return -1;
    }
    if (st.st_uid == geteuid())
        return 0;
    if (geteuid() == 0) {
        *owner = st;
        return 1;
    }
    pw = getpwuid(st.st_uid);
    publish_note("%s:%d: gnupg_home %s belongs to %s (uid %u), not to the user running "
                 "postseal-keys (uid %u): run it as %s or as root, so GnuPG leaves no files of "
                 "another user in it",
                 pc->path, pc->gnupg_home_line, pc->gnupg_home, pw ? pw->pw_name : "?",
                 (unsigned)st.st_uid, (unsigned)geteuid(), pw ? pw->pw_name : "that user");
    return -1;
}

void publish_keys_free(struct publish_keys *pk)
{
    int i;

    for (i = 0; i < pk->n; i++)
        free(pk->v[i].data);
    free(pk->v);
    pk->v = NULL;
    pk->n = 0;
}

/* The collection itself, as the owner of gnupg_home. */
static int publish_collect_here(const struct publish_conf *pc, struct publish_keys *out)
{
    struct publish_run r = {.pc = pc};
    gpgme_ctx_t ctx;
    gpgme_key_t key;
    gpgme_error_t ge;
    int i, j, rc = -1;

    memset(out, 0, sizeof(*out));
    if ((ctx = publish_ctx(pc->gnupg_home)) == NULL)
        return -1;
    gpgme_set_keylist_mode(ctx, GPGME_KEYLIST_MODE_LOCAL | GPGME_KEYLIST_MODE_WITH_KEYGRIP);
    if ((ge = gpgme_op_keylist_start(ctx, NULL, 0)) != 0) {
        publish_note("listing keys in %s: %s", pc->gnupg_home, gpgme_strerror(ge));
        goto done;
    }
    while ((ge = gpgme_op_keylist_next(ctx, &key)) == 0) {
        int krc = publish_key(&r, key);

        gpgme_key_unref(key);
        if (krc < 0) {
            gpgme_op_keylist_end(ctx);
            goto done;
        }
    }
    gpgme_op_keylist_end(ctx);
    if (gpg_err_code(ge) != GPG_ERR_EOF) {
        publish_note("listing keys in %s: %s", pc->gnupg_home, gpgme_strerror(ge));
        goto done;
    }
    if (publish_gateway_check(&r) < 0)
        goto done;
    qsort(r.cand, r.ncand, sizeof(*r.cand), publish_cand_cmp);
    if (r.ncand > 0 && (out->v = calloc(r.ncand, sizeof(*out->v))) == NULL) {
        publish_note("out of memory");
        goto done;
    }
    for (i = 0; i < r.ncand; i = j) {
        struct publish_addr *pa = &out->v[out->n];
        const char *fprs[64];
        int n = 0;

        for (j = i; j < r.ncand && strcmp(r.cand[j].addr, r.cand[i].addr) == 0; j++)
            if (n < 63)
                fprs[n++] = r.cand[j].fpr;
        snprintf(pa->addr, sizeof(pa->addr), "%s", r.cand[i].addr);
        if (keys_addr_split(pa->addr, pa->local, sizeof(pa->local), pa->domain,
                            sizeof(pa->domain)) < 0)
            continue;
        keys_wkd_hash(pa->local, pa->hash, sizeof(pa->hash));
        if (publish_export_addr(pc, ctx, pa, fprs, n) < 0)
            goto done;
        if (pa->nkeys > 0) {
            publish_verbose("%s: %d key(s), %zu bytes, WKD hash %s", pa->addr, pa->nkeys, pa->len,
                            pa->hash);
            out->n++;
        }
    }
    rc = 0;
done:
    gpgme_release(ctx);
    free(r.cand);
    if (rc < 0)
        publish_keys_free(out);
    return rc;
}

/* One address on the pipe from the child: the fixed part, then the data. */
struct publish_wire {
    char addr[256], local[128], domain[256], hash[40];
    int nkeys;
    size_t len;
};

static int publish_full(int fd, void *buf, size_t len, int writing)
{
    char *p = buf;

    while (len > 0) {
        ssize_t n = writing ? write(fd, p, len) : read(fd, p, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Root and gnupg_home belongs to someone else (e.g. the filter's user): a
 * child switches to that user for good (groups, gid, uid) and does the
 * GnuPG part, so every file gpg creates there (trustdb, locks) stays the
 * owner's; the keys come back over a pipe and the parent writes the outputs.
 */
static int publish_collect_as(const struct publish_conf *pc, struct publish_keys *out,
                              const struct stat *owner)
{
    struct passwd *pw = getpwuid(owner->st_uid);
    gid_t gid = pw ? pw->pw_gid : owner->st_gid;
    struct publish_wire w;
    size_t total = 0;
    int fds[2], st, i, alloc = 0;
    pid_t pid;

    memset(out, 0, sizeof(*out));
    publish_verbose("gnupg_home %s belongs to %s (uid %u): read as that user", pc->gnupg_home,
                    pw ? pw->pw_name : "?", (unsigned)owner->st_uid);
    if (pipe(fds) < 0 || (pid = fork()) < 0) {
        publish_note("pipe/fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        struct publish_keys pk;
        int rc = 1;

        close(fds[0]);
        if ((pw ? initgroups(pw->pw_name, gid) : setgroups(1, &gid)) < 0 || setgid(gid) < 0 ||
            setuid(owner->st_uid) < 0 || getuid() != owner->st_uid || geteuid() != owner->st_uid) {
            publish_note("cannot switch to uid %u: %s", (unsigned)owner->st_uid, strerror(errno));
            _exit(1);
        }
        if (publish_collect_here(pc, &pk) == 0) {
            rc = 0;
            for (i = 0; i < pk.n && rc == 0; i++) {
                memset(&w, 0, sizeof(w));
                memcpy(w.addr, pk.v[i].addr, sizeof(w.addr));
                memcpy(w.local, pk.v[i].local, sizeof(w.local));
                memcpy(w.domain, pk.v[i].domain, sizeof(w.domain));
                memcpy(w.hash, pk.v[i].hash, sizeof(w.hash));
                w.nkeys = pk.v[i].nkeys;
                w.len = pk.v[i].len;
                if (publish_full(fds[1], &w, sizeof(w), 1) < 0 ||
                    publish_full(fds[1], pk.v[i].data, w.len, 1) < 0)
                    rc = 1;
            }
            publish_keys_free(&pk);
        }
        fflush(stderr);
        _exit(rc);
    }
    close(fds[1]);
    while (publish_full(fds[0], &w, sizeof(w), 0) == 0) {
        struct publish_addr *pa;

        if (w.len > PUBLISH_MAX_DATA - total || w.addr[sizeof(w.addr) - 1] ||
            w.hash[sizeof(w.hash) - 1] || w.local[sizeof(w.local) - 1] ||
            w.domain[sizeof(w.domain) - 1])
            goto bad;
        if (out->n == alloc) {
            int n = alloc ? alloc * 2 : 64;
            struct publish_addr *v = realloc(out->v, n * sizeof(*v));

            if (v == NULL)
                goto bad;
            out->v = v;
            alloc = n;
        }
        pa = &out->v[out->n];
        memset(pa, 0, sizeof(*pa));
        memcpy(pa->addr, w.addr, sizeof(w.addr));
        memcpy(pa->local, w.local, sizeof(w.local));
        memcpy(pa->domain, w.domain, sizeof(w.domain));
        memcpy(pa->hash, w.hash, sizeof(w.hash));
        pa->nkeys = w.nkeys;
        pa->len = w.len;
        if ((pa->data = malloc(w.len ? w.len : 1)) == NULL)
            goto bad;
        out->n++;
        if (publish_full(fds[0], pa->data, w.len, 0) < 0)
            goto bad;
        total += w.len;
    }
    close(fds[0]);
    if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        publish_keys_free(out);
        return -1;
    }
    return 0;
bad:
    publish_note("reading the keys from the child process failed");
    close(fds[0]);
    waitpid(pid, &st, 0);
    publish_keys_free(out);
    return -1;
}

int publish_pgp_collect(const struct publish_conf *pc, struct publish_keys *out)
{
    struct stat owner;

    memset(out, 0, sizeof(*out));
    switch (publish_home_ok(pc, &owner)) {
    case 0:
        return publish_collect_here(pc, out);
    case 1:
        return publish_collect_as(pc, out, &owner);
    default:
        return -1;
    }
}
