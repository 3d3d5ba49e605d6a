/*
 * postseal-filter: Postfix pipe(8) content filter.  Outbound: encrypts and/or
 * signs per recipient (OpenPGP PGP/MIME or S/MIME) as the [filter] policy
 * says, and reinjects the result into Postfix.
 *
 *   postseal-filter [-c FILE] [-v] -f SENDER -- RECIPIENT...   (from master.cf)
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "fconf.h"
#include "ferr.h"
#include "inbound.h"
#include "inbound_run.h"
#include "keystore.h"
#include "log.h"
#include "outbound.h"
#include "spool.h"

#define PROG "postseal-filter"
#define DEFAULT_CONFIG "/etc/postseal/postseal.ini"

static void usage(FILE *fp)
{
    fprintf(fp, "usage: " PROG " [-c FILE] [-v] [--dry-run] -f SENDER -- RECIPIENT...\n"
                "       " PROG " [-c FILE] --check\n"
                "       " PROG " [-c FILE] --lookup ADDRESS\n");
}

/* [inbound] of the configuration loaded last (NULL: not loaded). */
static struct inbound_cfg *inbound_conf;

/* Loads and validates the configuration; NULL after reporting errors. */
static struct fconf *load(const char *path, struct cfg **cfgp, int *errors)
{
    struct cfg_diag diag = {path, 0};
    struct cfg *cfg;
    struct fconf *fc = NULL;

    *cfgp = NULL;
    if ((cfg = cfg_load(path, &diag)) != NULL) {
        cfg_check_owners(cfg, &diag);
        fc = fconf_load(cfg, &diag);
        inbound_conf = inbound_cfg_load(cfg, &diag);
        /* [keys] (filter/keys.h) is validated here too once wired in. */
    }
    *errors = diag.errors;
    if (diag.errors > 0) {
        fconf_free(fc);
        inbound_cfg_free(inbound_conf);
        inbound_conf = NULL;
        cfg_free(cfg);
        return NULL;
    }
    *cfgp = cfg;
    return fc;
}

static int check(const char *path)
{
    struct cfg *cfg;
    struct fconf *fc;
    struct keystore *ks;
    struct ferr err;
    int errors;

    if ((fc = load(path, &cfg, &errors)) == NULL) {
        log_warnx("%s: %d error(s), configuration NOT OK", path, errors);
        return 1;
    }
    ferr_clear(&err);
    if (keystore_open(&ks, &fc->ks, &err) != FERR_OK) {
        log_warnx("%s: key store: %s", path, err.text);
        errors++;
    } else {
        keystore_close(ks);
    }
    if (inbound_conf && inbound_cfg_check(inbound_conf, err.text, sizeof(err.text)) != 0) {
        log_warnx("%s: %s", path, err.text);
        errors++;
    }
    if (access(fc->temp_dir, W_OK | X_OK) != 0) {
        log_warnx("%s: temp_dir %s: %s", path, fc->temp_dir, strerror(errno));
        errors++;
    }
    if (errors == 0)
        printf("%s: configuration OK (%zu filter rules, %zu signing keys)\n", path, fc->nrules,
               fc->nsignkeys);
    else
        log_warnx("%s: %d error(s), configuration NOT OK", path, errors);
    fconf_free(fc);
    inbound_cfg_free(inbound_conf);
    cfg_free(cfg);
    return errors ? 1 : 0;
}

/* --lookup with the local key store (key discovery extends this). */
static int lookup(const char *path, const char *addr)
{
    struct cfg *cfg;
    struct fconf *fc;
    struct keystore *ks;
    struct ferr err;
    char fpr[80];
    X509 *cert = NULL;
    int errors, found = 0, rc;

    if ((fc = load(path, &cfg, &errors)) == NULL)
        return 75;
    ferr_clear(&err);
    if (keystore_open(&ks, &fc->ks, &err) != FERR_OK) {
        printf("%s: key store: %s\n", addr, err.text);
        fconf_free(fc);
        inbound_cfg_free(inbound_conf);
        cfg_free(cfg);
        return 75;
    }
    rc = fc->ks.gnupg_home ? keystore_pgp_find(ks, addr, fpr, sizeof(fpr), &err) : FERR_PERM;
    if (rc == FERR_OK)
        printf("%s: pgp: usable key %s (local, %s)\n", addr, fpr, fc->ks.gnupg_home), found = 1;
    else
        printf("%s: pgp: %s\n", addr, fc->ks.gnupg_home ? err.text : "no gnupg_home configured");
    ferr_clear(&err);
    rc = fc->ks.smime_certs ? keystore_smime_find(ks, addr, &cert, &err) : FERR_PERM;
    if (rc == FERR_OK) {
        char name[256];

        X509_NAME_oneline(X509_get_subject_name(cert), name, sizeof(name));
        printf("%s: smime: usable certificate %s (local)\n", addr, name);
        X509_free(cert);
        found = 1;
    } else {
        printf("%s: smime: %s\n", addr,
               fc->ks.smime_certs ? err.text : "no smime_certs configured");
    }
    keystore_close(ks);
    fconf_free(fc);
    inbound_cfg_free(inbound_conf);
    cfg_free(cfg);
    return found ? 0 : 69;
}

/* The end of a filter run: the one stderr line Postfix reads, the status. */
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
    static const struct option longopts[] = {{"dry-run", no_argument, NULL, 'n'},
                                             {"check", no_argument, NULL, 'C'},
                                             {"lookup", required_argument, NULL, 'L'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *config = DEFAULT_CONFIG, *sender = NULL, *lookup_addr = NULL;
    char abspath[PATH_MAX];
    int ch, verbose = 0, dry_run = 0, do_check = 0, errors, fd;
    struct cfg *cfg;
    struct fconf *fc;
    struct ferr err;
    off_t size;

    ferr_clear(&err);
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
    if ((fc = load(config, &cfg, &errors)) == NULL) {
        ferr_set(&err, FERR_TEMP,
                 "4.3.5 " PROG ": %d configuration error(s) in %s (run " PROG " --check)", errors,
                 config);
        return finish(&err, sender);
    }
    if ((fd = spool_copy(0, fc->temp_dir, fc->max_size, &size, &err)) < 0) {
        fconf_free(fc);
        inbound_cfg_free(inbound_conf);
        cfg_free(cfg);
        return finish(&err, sender);
    }
    /* Direction: inbound mail ([inbound] local_domains) is decrypted and
     * verified (filter/inbound.h); everything else is outbound. */
    if (inbound_is_inbound(inbound_conf, sender, (const char *const *)argv + optind,
                           (size_t)(argc - optind)))
        inbound_run(fc, inbound_conf, fd, size, sender, (const char *const *)argv + optind,
                    (size_t)(argc - optind), dry_run, stdout, &err);
    else
        outbound_run(fc, fd, size, sender, (const char *const *)argv + optind,
                     (size_t)(argc - optind), dry_run, stdout, &err);
    close(fd);
    inbound_cfg_free(inbound_conf);
    fconf_free(fc);
    cfg_free(cfg);
    return finish(&err, sender);
}
