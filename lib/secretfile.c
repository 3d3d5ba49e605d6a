/*
 * secretfile: one rule for every file postseal reads a secret from (S/MIME
 * private keys of [filter signkey] and [inbound] smime_keypair, LDAP bind
 * password files): group and others must have no access at all, as OpenSSH
 * demands of its private keys.  A key readable by a web server or by a local
 * user is a leaked key; refusing it at --check time makes the operator fix
 * the mode before any mail depends on it.
 *
 * Contract: secretfile_check() stats the path (symlinks followed: the mode
 * that matters is the target's); secretfile_check_fd() checks an open file.
 * Both fill why with a text naming the file and the fix.
 * Limits: the owner is not checked (the daemon reads it as its own user, so a
 * file it can read but does not own is fine as long as nobody else can).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "secretfile.h"

static int secretfile_mode(const struct stat *st, const char *name, char *why, size_t whylen)
{
    if ((st->st_mode & (S_IRWXG | S_IRWXO)) == 0)
        return 0;
    snprintf(why, whylen, "%s is accessible by group or others (mode %04o): chmod 600 it", name,
             (unsigned)(st->st_mode & 07777));
    return -1;
}

int secretfile_check(const char *path, char *why, size_t whylen)
{
    struct stat st;

    if (stat(path, &st) < 0) {
        snprintf(why, whylen, "%s: %s", path, strerror(errno));
        return -1;
    }
    return secretfile_mode(&st, path, why, whylen);
}

int secretfile_check_fd(int fd, const char *name, char *why, size_t whylen)
{
    struct stat st;

    if (fstat(fd, &st) < 0) {
        snprintf(why, whylen, "%s: %s", name, strerror(errno));
        return -1;
    }
    return secretfile_mode(&st, name, why, whylen);
}
