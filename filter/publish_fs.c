/*
 * publish_fs: atomic replacement of a published directory tree or file, so a
 * web server (or ldapadd) never sees a half-written export.
 *
 * Contract: a tree is built in a fresh directory next to the target
 * (PARENT/.NAME.new.XXXXXX, same file system) and then put in place:
 * rename() when the target is absent or an empty directory, else
 * renameat2(RENAME_EXCHANGE) and the old tree (now under the temporary
 * name) is removed.  When the file system refuses the exchange (EINVAL,
 * ENOSYS, EOPNOTSUPP: some network and FUSE file systems) the fallback is
 * two renames: the old tree to PARENT/.NAME.old.XXXXXX, the new one to NAME;
 * between them (microseconds) NAME does not exist and a request gets 404.
 * A file is written to FILE.tmp (a stale one is unlinked first, then created
 * with O_EXCL|O_NOFOLLOW, so no link planted there is written through),
 * fsync()ed and renamed over FILE.
 * Everything written is public: directories 0755, files 0644 (set
 * explicitly, whatever the umask); nothing else changes mode.
 * Failure: -1 after publish_note() naming the path; the temporary
 * directory or file is removed, the target is left as it was.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "publish.h"

static int publish_fs_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_DP)
        return rmdir(path) < 0 && errno != ENOENT ? -1 : 0;
    return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}

int publish_fs_rmtree(const char *path)
{
    if (nftw(path, publish_fs_rm, 16, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT) {
        publish_note("cannot remove %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* PARENT/.NAME.KIND.XXXXXX for target PARENT/NAME. */
static int publish_fs_sibling(const char *target, const char *kind, char *out, size_t len)
{
    char a[4096], b[4096];

    if (snprintf(a, sizeof(a), "%s", target) >= (int)sizeof(a) ||
        snprintf(b, sizeof(b), "%s", target) >= (int)sizeof(b)) {
        publish_note("%s: path too long", target);
        return -1;
    }
    if (snprintf(out, len, "%s/.%s.%s.XXXXXX", dirname(a), basename(b), kind) >= (int)len) {
        publish_note("%s: path too long", target);
        return -1;
    }
    return 0;
}

int publish_fs_tmpdir(const char *target, char *tmp, size_t len)
{
    if (publish_fs_sibling(target, "new", tmp, len) < 0)
        return -1;
    if (mkdtemp(tmp) == NULL) {
        publish_note("cannot create %s: %s", tmp, strerror(errno));
        return -1;
    }
    if (chmod(tmp, 0755) < 0) {
        publish_note("chmod %s: %s", tmp, strerror(errno));
        rmdir(tmp);
        return -1;
    }
    return 0;
}

int publish_fs_mkdirs(const char *path)
{
    char p[4096];
    size_t i;

    if (snprintf(p, sizeof(p), "%s", path) >= (int)sizeof(p)) {
        publish_note("%s: path too long", path);
        return -1;
    }
    for (i = 1;; i++) {
        if (p[i] != '/' && p[i] != 0)
            continue;
        char c = p[i];

        p[i] = 0;
        if (mkdir(p, 0755) == 0) {
            if (chmod(p, 0755) < 0) {
                publish_note("chmod %s: %s", p, strerror(errno));
                return -1;
            }
        } else if (errno != EEXIST) {
            publish_note("mkdir %s: %s", p, strerror(errno));
            return -1;
        }
        p[i] = c;
        if (c == 0)
            return 0;
    }
}

static int publish_fs_put(const char *path, const void *data, size_t len, int flags)
{
    const char *p = data;
    int fd;

    if ((fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | flags, 0644)) < 0) {
        publish_note("cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    if (fchmod(fd, 0644) < 0)
        goto fail;
    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            goto fail;
        p += n;
        len -= (size_t)n;
    }
    if (fsync(fd) < 0)
        goto fail;
    if (close(fd) < 0) {
        publish_note("write %s: %s", path, strerror(errno));
        unlink(path);
        return -1;
    }
    return 0;
fail:
    publish_note("write %s: %s", path, strerror(errno ? errno : EIO));
    close(fd);
    unlink(path);
    return -1;
}

int publish_fs_write(const char *path, const void *data, size_t len)
{
    return publish_fs_put(path, data, len, O_EXCL);
}

int publish_fs_replace_file(const char *target, const void *data, size_t len)
{
    char tmp[4096];

    if (snprintf(tmp, sizeof(tmp), "%s.tmp", target) >= (int)sizeof(tmp)) {
        publish_note("%s: path too long", target);
        return -1;
    }
    /* a stale FILE.tmp (a crashed run, or planted as a link in a shared
     * directory) is removed, never written through */
    if (unlink(tmp) < 0 && errno != ENOENT) {
        publish_note("cannot remove %s: %s", tmp, strerror(errno));
        return -1;
    }
    if (publish_fs_put(tmp, data, len, O_EXCL) < 0)
        return -1;
    if (rename(tmp, target) < 0) {
        publish_note("rename %s to %s: %s", tmp, target, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

int publish_fs_replace_dir(const char *tmp, const char *target)
{
    char old[4096];
    struct stat st;

    if (lstat(target, &st) == 0 && !S_ISDIR(st.st_mode)) {
        publish_note("%s exists and is not a directory; not replaced", target);
        goto fail;
    }
    if (rename(tmp, target) == 0) /* absent, or an empty directory */
        return 0;
    if (errno != ENOTEMPTY && errno != EEXIST) {
        publish_note("rename %s to %s: %s", tmp, target, strerror(errno));
        goto fail;
    }
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, target, RENAME_EXCHANGE) == 0)
        return publish_fs_rmtree(tmp); /* tmp now holds the old tree */
    if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP) {
        publish_note("exchange %s with %s: %s", tmp, target, strerror(errno));
        goto fail;
    }
    publish_verbose("%s: the file system cannot exchange directories (%s): two renames", target,
                    strerror(errno));
    if (publish_fs_sibling(target, "old", old, sizeof(old)) < 0)
        goto fail;
    if (mkdtemp(old) == NULL) {
        publish_note("cannot create %s: %s", old, strerror(errno));
        goto fail;
    }
    if (rename(target, old) < 0) {
        publish_note("rename %s to %s: %s", target, old, strerror(errno));
        rmdir(old);
        goto fail;
    }
    if (rename(tmp, target) < 0) {
        publish_note("rename %s to %s: %s", tmp, target, strerror(errno));
        if (rename(old, target) < 0)
            publish_note("the old tree is left in %s: %s", old, strerror(errno));
        goto fail;
    }
    return publish_fs_rmtree(old);
fail:
    publish_fs_rmtree(tmp);
    return -1;
}
