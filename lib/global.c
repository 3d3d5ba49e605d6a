/*
 * global: the [global] section of postseal.ini, shared by every program, and
 * the two things every daemon does with it: drop privileges after binding its
 * sockets, and detach from the terminal.
 *
 * Keys: user = NAME (the unprivileged account to run as once sockets are
 * bound; empty or absent: keep the current user).  A key this module does not
 * know is a warning with FILE:LINE, never an error: another program may own it.
 * Privilege dropping is irrevocable (setgroups/initgroups, setgid, setuid, then
 * a check that setuid(0) fails); any failure is an error, never ignored.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "global.h"
#include "log.h"

void global_parse(const struct cfg *cfg, struct cfg_diag *diag, struct global_conf *g)
{
    size_t i;

    memset(g, 0, sizeof(*g));
    for (i = 0; i < cfg->count; i++) {
        const struct cfg_entry *e = &cfg->entries[i];

        if (strcmp(e->section, "global") != 0) {
            if (cfg_section_is(e->section, "global"))
                cfg_error(diag, e->line, "[%s]: the global section takes no argument", e->section);
            continue;
        }
        if (strcmp(e->key, "user") == 0) {
            if (strlen(e->value) >= sizeof(g->user) || strpbrk(e->value, " \t:/") != NULL)
                cfg_error(diag, e->line, "user: \"%s\" is not a user name", e->value);
            else
                strcpy(g->user, e->value);
        } else {
            log_warnx("%s:%d: [global] %s: not used by this program (ignored)", diag->path, e->line,
                      e->key);
        }
    }
}

int global_drop_privileges(const char *user, char *err, size_t errlen)
{
    struct passwd *pw;

    if (user == NULL || *user == 0)
        return 0;
    errno = 0;
    if ((pw = getpwnam(user)) == NULL) {
        snprintf(err, errlen, "user %s: %s", user, errno ? strerror(errno) : "no such user");
        return -1;
    }
    if (geteuid() != 0) {
        if (geteuid() != pw->pw_uid)
            log_warnx("not running as root: cannot switch to user %s, staying uid %d", user,
                      (int)geteuid());
        return 0;
    }
    if (initgroups(user, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
        snprintf(err, errlen, "cannot switch to user %s: %s", user, strerror(errno));
        return -1;
    }
    if (pw->pw_uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
        snprintf(err, errlen, "could regain root after switching to user %s", user);
        return -1;
    }
    return 0;
}

int global_detach(void)
{
    pid_t pid = fork();
    int fd;

    if (pid < 0)
        return -1;
    if (pid > 0)
        _exit(0);
    if (setsid() < 0)
        return -1;
    if (chdir("/") < 0)
        return -1;
    if ((fd = open("/dev/null", O_RDWR)) >= 0) {
        dup2(fd, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        if (fd > 2)
            close(fd);
    }
    return 0;
}
