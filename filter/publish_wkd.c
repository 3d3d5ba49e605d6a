/*
 * publish_wkd: writes the Web Key Directory tree (draft-koch-openpgp-webkey-
 * service) that a web server serves with "root DIR/$host":
 *
 *   DIR/openpgpkey.DOMAIN/.well-known/openpgpkey/DOMAIN/hu/HASH  (advanced)
 *   DIR/openpgpkey.DOMAIN/.well-known/openpgpkey/DOMAIN/policy
 *   DIR/DOMAIN/.well-known/openpgpkey/hu/HASH                    (direct)
 *   DIR/DOMAIN/.well-known/openpgpkey/policy
 *
 * HASH is keys_wkd_hash() of the local part (the one the lookup side asks
 * for); the file holds the binary keys of that address, concatenated.  The
 * "?l=LOCALPART" query a client adds is ignored by web servers when they map
 * the path to a file, so the file name is the hash alone.  Every [publish]
 * domain gets its policy file (empty: the draft's defaults), with or without
 * keys, so clients see that the domain takes part.
 *
 * Contract: the whole tree is built next to DIR and swapped in at once
 * (publish_fs); a failure leaves DIR as it was.  Directories 0755, files 0644.
 * Failure: -1 after publish_note() naming the path.
 */
#include <stdio.h>
#include <string.h>

#include "publish.h"

static int publish_wkd_base(const char *tmp, const char *domain, int advanced, char *out,
                            size_t len)
{
    int n;

    if (advanced)
        n = snprintf(out, len, "%s/openpgpkey.%s/.well-known/openpgpkey/%s", tmp, domain, domain);
    else
        n = snprintf(out, len, "%s/%s/.well-known/openpgpkey", tmp, domain);
    if (n < 0 || (size_t)n >= len) {
        publish_note("%s: path too long", tmp);
        return -1;
    }
    return 0;
}

static int publish_wkd_domain(const char *tmp, const char *domain, int advanced)
{
    char base[4096], path[4200];

    if (publish_wkd_base(tmp, domain, advanced, base, sizeof(base)) < 0)
        return -1;
    snprintf(path, sizeof(path), "%s/hu", base);
    if (publish_fs_mkdirs(path) < 0)
        return -1;
    snprintf(path, sizeof(path), "%s/policy", base);
    return publish_fs_write(path, "", 0);
}

static int publish_wkd_key(const char *tmp, const struct publish_addr *pa, int advanced)
{
    char base[4096], path[4200];

    if (publish_wkd_base(tmp, pa->domain, advanced, base, sizeof(base)) < 0)
        return -1;
    snprintf(path, sizeof(path), "%s/hu/%s", base, pa->hash);
    return publish_fs_write(path, pa->data, pa->len);
}

int publish_wkd_write(const struct publish_conf *pc, const struct publish_keys *pk, const char *dir)
{
    char tmp[4096];
    int i, m;

    if (publish_fs_tmpdir(dir, tmp, sizeof(tmp)) < 0)
        return -1;
    for (m = 0; m < 2; m++) {
        int advanced = m == 0;

        if (advanced ? !pc->wkd_advanced : !pc->wkd_direct)
            continue;
        for (i = 0; i < pc->ndomains; i++)
            if (publish_wkd_domain(tmp, pc->domains[i], advanced) < 0)
                goto fail;
        for (i = 0; i < pk->n; i++)
            if (publish_wkd_key(tmp, &pk->v[i], advanced) < 0)
                goto fail;
    }
    return publish_fs_replace_dir(tmp, dir);
fail:
    publish_fs_rmtree(tmp);
    return -1;
}
