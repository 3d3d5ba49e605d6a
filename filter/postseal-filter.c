/*
 * postseal-filter: Postfix pipe(8) content filter.  Outbound: encrypts and/or
 * signs per recipient (OpenPGP PGP/MIME or S/MIME) as the [filter] policy
 * says, and reinjects the result into Postfix.
 *
 *   postseal-filter [-c FILE] [-v] -f SENDER -- RECIPIENT...   (from master.cf)
 *   postseal-filter [-c FILE] --reinject HOST:PORT -f SENDER -- RECIPIENT...
 *   postseal-filter [-c FILE] --dry-run -f SENDER -- RECIPIENT... < message
 *   postseal-filter [-c FILE] --check
 *   postseal-filter [-c FILE] --lookup ADDRESS
 *
 * Exit status (what pipe(8) does with it): 0 reinjected; 75 any transient or
 * unexpected failure, the message stays queued (bad configuration, key store
 * or gpg failure, reinjection refused with 4xx or unreachable, out of disk);
 * 69 permanent refusal, stderr starting with an enhanced status code
 * ("5.7.1 ...") that Postfix puts into the bounce.  No other status is ever
 * used in filter mode (Postfix bounces on 1, 74, 78 ...).  --check exits 0
 * or 1, --lookup 0 found / 69 none / 75 failure.
 *
 * Logging: syslog (facility mail) in filter mode, so stderr holds nothing but
 * the one status line Postfix reads; stderr in the interactive modes.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "fconf.h"
#include "ferr.h"
#include "inbound.h"
#include "inbound_run.h"
#include "keys.h"
#include "keystore.h"
#include "log.h"
#include "outbound.h"
#include "reinject.h"
#include "spool.h"

#define PROG "postseal-filter"
#define DEFAULT_CONFIG "/etc/postseal/postseal.ini"

static void usage(FILE *fp)
{
    fprintf(fp, "usage: " PROG " [-c FILE] [-v] [--dry-run] [--reinject HOST:PORT] -f SENDER -- "
                "RECIPIENT...\n"
                "       " PROG " [-c FILE] --check\n"
                "       " PROG " [-c FILE] --lookup ADDRESS\n");
}

struct conf {
    struct cfg *cfg;
    struct fconf *fc;
    struct keys *keys;
    struct inbound_cfg *in;
};

static void conf_free(struct conf *c)
{
    inbound_cfg_free(c->in);
    keys_free(c->keys);
    fconf_free(c->fc);
    cfg_free(c->cfg);
    memset(c, 0, sizeof(*c));
}

/* Loads and validates every section the filter reads ([filter ...],
 * [keys ...], [inbound ...]); -1 after reporting the errors as FILE:LINE. */
static int load(const char *path, struct conf *c, int *errors)
{
    struct cfg_diag diag = {path, 0};

    memset(c, 0, sizeof(*c));
    if ((c->cfg = cfg_load(path, &diag)) != NULL) {
        cfg_check_owners(c->cfg, &diag);
        c->fc = fconf_load(c->cfg, &diag);
        c->keys = keys_new(c->cfg, &diag);
        c->in = inbound_cfg_load(c->cfg, &diag);
        if (c->fc != NULL)
            inbound_cfg_hold_check(c->cfg, c->in, c->fc->hold.host[0] != 0, &diag);
        if (c->in != NULL)
            inbound_cfg_set_keys(c->in, c->keys, &diag);
    }
    *errors = diag.errors;
    if (diag.errors > 0 || c->fc == NULL || c->keys == NULL || c->in == NULL) {
        if (*errors == 0)
            *errors = 1;
        conf_free(c);
        return -1;
    }
    return 0;
}

static int check(const char *path)
{
    struct conf c;
    struct keystore *ks;
    struct ferr err;
    int errors;

    if (load(path, &c, &errors) < 0) {
        log_warnx("%s: %d error(s), configuration NOT OK", path, errors);
        return 1;
    }
    ferr_clear(&err);
    if (keystore_open(&ks, &c.fc->ks, &err) != FERR_OK) {
        log_warnx("%s: key store: %s", path, err.text);
        errors++;
    } else {
        keystore_close(ks);
    }
    if (inbound_cfg_check(c.in, err.text, sizeof(err.text)) != 0) {
        log_warnx("%s: %s", path, err.text);
        errors++;
    }
    if (access(c.fc->temp_dir, W_OK | X_OK) != 0) {
        log_warnx("%s: temp_dir %s: %s", path, c.fc->temp_dir, strerror(errno));
        errors++;
    }
    if (errors == 0)
        printf("%s: configuration OK (%zu filter rules, %zu signing keys)\n", path, c.fc->nrules,
               c.fc->nsignkeys);
    else
        log_warnx("%s: %d error(s), configuration NOT OK", path, errors);
    conf_free(&c);
    return errors ? 1 : 0;
}

static int lookup(const char *path, const char *addr)
{
    struct conf c;
    int errors, rc;

    if (load(path, &c, &errors) < 0) {
        log_warnx("%s: %d error(s), configuration NOT OK", path, errors);
        return 75;
    }
    rc = keys_lookup_report(c.cfg, addr, stdout);
    conf_free(&c);
    return rc;
}

/* The end of a filter run: the one stderr line Postfix reads, the status. */
/* [filter] time_limit: the whole run is bounded, whatever hangs (a key
 * server, the reinjection smtpd, gpg dying under gpgme).  A transaction
 * still in DATA is abandoned without its final "." (nothing delivered);
 * Postfix keeps the message (75).  Async-signal-safe: write and _exit. */
static void time_limit_hit(int sig)
{
    static const char msg[] = "4.4.7 " PROG ": time_limit exceeded, message left in the queue\n";
    ssize_t w;

    (void)sig;
    w = write(2, msg, sizeof(msg) - 1);
    (void)w;
    _exit(75);
}

static int finish(const struct ferr *err, const char *sender)
{
    int code = ferr_exit_code(err->code);

    if (code != 0) {
        fprintf(stderr, "%s\n", err->text);
        log_warnx("from=<%s>: %s (exit %d)", sender, err->text, code);
    }
    return code;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"dry-run", no_argument, NULL, 'n'},      {"check", no_argument, NULL, 'C'},
        {"lookup", required_argument, NULL, 'L'}, {"reinject", required_argument, NULL, 'R'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    const char *config = DEFAULT_CONFIG, *sender = NULL, *lookup_addr = NULL, *reinject = NULL;
    char abspath[PATH_MAX];
    int ch, verbose = 0, dry_run = 0, do_check = 0, errors, fd;
    struct conf c;
    struct ferr err;
    off_t size;
    const char *const *rcpts;
    size_t n;

    ferr_clear(&err);
    /* a peer closing a pipe or socket, a file size limit: errors (75), not
     * death by a signal */
    signal(SIGPIPE, SIG_IGN);
    signal(SIGXFSZ, SIG_IGN);
    while ((ch = getopt_long(argc, argv, "c:f:vh", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            config = optarg;
            break;
        case 'f':
            sender = optarg;
            break;
        case 'v':
            verbose++;
            break;
        case 'n':
            dry_run = 1;
            break;
        case 'C':
            do_check = 1;
            break;
        case 'L':
            lookup_addr = optarg;
            break;
        case 'R': /* the output filter's way back (contrib/postfix/master.cf.filter) */
            reinject = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 75;
        }
    }
    if (realpath(config, abspath) != NULL)
        config = abspath;
    if (do_check || lookup_addr) {
        log_open(PROG, LOG_TO_STDERR, verbose);
        return do_check ? check(config) : lookup(config, lookup_addr);
    }
    log_open(PROG, dry_run ? LOG_TO_STDERR : LOG_TO_SYSLOG, verbose);
    if (sender == NULL || optind >= argc) {
        usage(stderr);
        ferr_set(&err, FERR_TEMP, "4.3.5 " PROG ": usage: -f SENDER -- RECIPIENT... required");
        return finish(&err, "");
    }
    rcpts = (const char *const *)argv + optind;
    n = (size_t)(argc - optind);
    if (load(config, &c, &errors) < 0) {
        ferr_set(&err, FERR_TEMP,
                 "4.3.5 " PROG ": %d configuration error(s) in %s (run " PROG " --check)", errors,
                 config);
        return finish(&err, sender);
    }
    if (reinject != NULL) { /* overrides [filter] reinject: SMTP to HOST:PORT */
        c.fc->reinject.method = REINJECT_SMTP;
        if (reinject_parse_hostport(&c.fc->reinject, reinject) < 0) {
            ferr_set(&err, FERR_TEMP, "4.3.5 " PROG ": --reinject %.200s: expected HOST:PORT",
                     reinject);
            conf_free(&c);
            return finish(&err, sender);
        }
    }
    if (c.fc->time_limit > 0 && !dry_run) {
        signal(SIGALRM, time_limit_hit);
        alarm((unsigned)c.fc->time_limit);
    }
    if ((fd = spool_copy(0, c.fc->temp_dir, c.fc->max_size, &size, &err)) < 0) {
        conf_free(&c);
        return finish(&err, sender);
    }
    /* Direction: inbound when the sender is not local and a recipient is
     * ([inbound] local_domains); everything else is outbound. */
    if (inbound_is_inbound(c.in, sender, rcpts, n))
        inbound_run(c.fc, c.keys, c.in, fd, size, sender, rcpts, n, dry_run, stdout, &err);
    else
        outbound_run(c.fc, c.keys, fd, size, sender, rcpts, n, dry_run, stdout, &err);
    close(fd);
    conf_free(&c);
    return finish(&err, sender);
}
