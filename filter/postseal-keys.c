/*
 * postseal-keys: publishes this gateway's own keys where a peer's key
 * discovery ([keys] in postseal-filter) finds them: OpenPGP keys as a Web Key
 * Directory tree for a web server, S/MIME certificates as LDIF for an LDAP
 * directory.  Run by the operator, from cron or after key changes.
 *
 *   postseal-keys [-v] [-c FILE] wkd [-o DIR]
 *   postseal-keys [-v] [-c FILE] ldif [-o FILE|-]
 *   postseal-keys [-v] [-c FILE] --check
 *
 * Configuration: [publish] in postseal.ini (publish_cfg.c, postseal-keys(8)).
 * Exit status: 0 done; 1 a key, certificate or file problem (the message
 * names the fingerprint, address or file; nothing was replaced); 2 usage;
 * 78 a configuration error (FILE:LINE).  Skipped keys and certificates are
 * reported on stderr but are no failure.  Quiet on success unless -v.
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "log.h"
#include "publish.h"

#define PROG "postseal-keys"
#define DEFAULT_CONFIG "/etc/postseal/postseal.ini"
#define EXIT_FAIL 1
#define EXIT_USAGE 2
#define EXIT_CONFIG 78

static void usage(FILE *fp)
{
    fprintf(fp, "usage: " PROG " [-v] [-c FILE] wkd [-o DIR]\n"
                "       " PROG " [-v] [-c FILE] ldif [-o FILE|-]\n"
                "       " PROG " [-v] [-c FILE] --check\n");
}

static int run_wkd(const struct publish_conf *pc, const char *dir)
{
    struct publish_keys pk;
    int i, nkeys = 0;

    if (dir == NULL) {
        publish_note("%s: wkd: no directory: set [publish] wkd_dir or give -o DIR", pc->path);
        return EXIT_CONFIG;
    }
    if (dir[0] != '/') {
        publish_note("wkd: -o %s: give an absolute path", dir);
        return EXIT_USAGE;
    }
    if (publish_pgp_collect(pc, &pk) < 0)
        return EXIT_FAIL;
    if (publish_wkd_write(pc, &pk, dir) < 0) {
        publish_keys_free(&pk);
        return EXIT_FAIL;
    }
    for (i = 0; i < pk.n; i++)
        nkeys += pk.v[i].nkeys;
    publish_verbose("wkd: %d address(es), %d key(s), %d domain(s) in %s", pk.n, nkeys, pc->ndomains,
                    dir);
    publish_keys_free(&pk);
    return 0;
}

static int run_ldif(const struct publish_conf *pc, const char *file)
{
    char *text;
    size_t len;
    int n;

    if (file == NULL) {
        publish_note("%s: ldif: no file: set [publish] ldif_file or give -o FILE", pc->path);
        return EXIT_CONFIG;
    }
    if (pc->ldif_base == NULL) {
        publish_note("%s: ldif: [publish] ldif_base = DN is required (e.g. "
                     "ou=people,dc=example,dc=org)",
                     pc->path);
        return EXIT_CONFIG;
    }
    if (strcmp(file, "-") == 0) {
        if (publish_ldif_build(pc, &text, &len, &n) < 0)
            return EXIT_FAIL;
        if (fwrite(text, 1, len, stdout) != len || fflush(stdout) != 0) {
            publish_note("write to stdout failed");
            free(text);
            return EXIT_FAIL;
        }
        free(text);
    } else if (publish_ldif_write(pc, file, &n) < 0) {
        return EXIT_FAIL;
    }
    publish_verbose("ldif: %d entr%s in %s", n, n == 1 ? "y" : "ies", file);
    return 0;
}

/* The directory an output goes into exists and is writable by us. */
static int check_parent(const struct publish_conf *pc, const char *key, const char *path, int line)
{
    char copy[4096];
    const char *parent;

    snprintf(copy, sizeof(copy), "%s", path);
    parent = dirname(copy);
    if (access(parent, W_OK | X_OK) < 0) {
        publish_note("%s:%d: %s: %s: %s", pc->path, line, key, parent, strerror(errno));
        return -1;
    }
    return 0;
}

/* --check: the configuration, then what would be published (nothing is written). */
static int run_check(const struct publish_conf *pc)
{
    struct publish_keys pk;
    char *text;
    size_t len;
    int n, rc = 0;

    if (pc->wkd_dir != NULL && check_parent(pc, "wkd_dir", pc->wkd_dir, pc->wkd_dir_line) < 0)
        rc = EXIT_FAIL;
    if (pc->ldif_file != NULL &&
        check_parent(pc, "ldif_file", pc->ldif_file, pc->ldif_file_line) < 0)
        rc = EXIT_FAIL;

    if (pc->gnupg_home != NULL) {
        if (publish_pgp_collect(pc, &pk) < 0)
            rc = EXIT_FAIL;
        else {
            publish_verbose("check: %d address(es) with OpenPGP keys to publish", pk.n);
            publish_keys_free(&pk);
        }
    }
    if (pc->ldif_base != NULL && pc->nsmime > 0) {
        if (publish_ldif_build(pc, &text, &len, &n) < 0)
            rc = EXIT_FAIL;
        else {
            publish_verbose("check: %d LDIF entr%s", n, n == 1 ? "y" : "ies");
            free(text);
        }
    }
    if (rc == 0)
        printf("configuration OK\n");
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"check", no_argument, NULL, 'C'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config = DEFAULT_CONFIG, *out = NULL, *cmd = NULL;
    struct cfg_diag diag = {0};
    struct publish_conf *pc = NULL;
    struct cfg *cfg;
    int ch, check = 0, verbose = 0, rc;

    log_open(PROG, LOG_TO_STDERR, 0);
    while ((ch = getopt_long(argc, argv, "c:o:vh", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            config = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case 'v':
            verbose = 1;
            break;
        case 'C':
            check = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind < argc)
        cmd = argv[optind++];
    if (optind < argc || (check && cmd != NULL) || (!check && cmd == NULL) ||
        (cmd != NULL && strcmp(cmd, "wkd") != 0 && strcmp(cmd, "ldif") != 0) ||
        (check && out != NULL)) {
        usage(stderr);
        return EXIT_USAGE;
    }
    log_set_verbose(verbose);
    publish_set_verbose(verbose);
    if ((cfg = cfg_load(config, &diag)) != NULL) {
        cfg_check_owners(cfg, &diag);
        pc = publish_conf_load(cfg, &diag);
    }
    if (diag.errors > 0 || pc == NULL) {
        publish_note("%s: %d error%s in the configuration", config, diag.errors,
                     diag.errors == 1 ? "" : "s");
        publish_conf_free(pc);
        cfg_free(cfg);
        return EXIT_CONFIG;
    }
    if (check)
        rc = run_check(pc);
    else if (strcmp(cmd, "wkd") == 0)
        rc = run_wkd(pc, out ? out : pc->wkd_dir);
    else
        rc = run_ldif(pc, out ? out : pc->ldif_file);
    publish_conf_free(pc);
    cfg_free(cfg);
    return rc;
}
