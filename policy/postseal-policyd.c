/*
 * postseal-policyd: Postfix SMTPD policy service that decides from the TLS
 * facts of each request (cipher key size, protocol, cipher, client
 * certificate) whether the client may go on.  See postseal-policyd(8).
 *
 * Modes: a daemon on unix/TCP sockets (default; detaches and logs to syslog
 * unless -f), spawn(8) mode on stdin/stdout (--stdio, logs to syslog), a
 * configuration check (--check) and a one-request explanation (--explain).
 * Exit status: 0 on success, 1 for configuration errors or a bad --explain
 * request, 2 for usage errors.  Security: sockets are bound first, then the
 * process switches to [global] user for good; the config is re-read as that
 * user on SIGHUP.
 */
#include <errno.h>
#include <grp.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "policyd.h"
#include "sendmail_rcpt.h"
#include "session.h"

#define PROG "postseal-policyd"
#define DEFAULT_CONFIG "/etc/postseal/postseal.ini"
#ifndef POSTSEAL_VERSION
#define POSTSEAL_VERSION "0.1"
#endif

static struct server *main_srv;

static void usage(FILE *fp)
{
    fprintf(fp, "usage: " PROG
                " [-c FILE] [-f] [-v] [--syslog|--stderr] [--listen unix:PATH|inet:HOST:PORT]\n"
                "       " PROG
                " [-c FILE] --stdio      serve one Postfix spawn(8) client on stdin/stdout\n"
                "       " PROG " [-c FILE] --check      validate the configuration\n"
                "       " PROG
                " [-c FILE] --explain    decide one request read from stdin, and say why\n"
                "  -c, --config FILE   configuration (default " DEFAULT_CONFIG ")\n"
                "  -f, --foreground    do not detach; log to stderr unless --syslog\n"
                "  -l, --listen SPEC   listen here instead of [policy] listen (repeatable)\n"
                "  -p, --pidfile FILE  write the daemon's pid here\n"
                "  -v, --verbose       log every decision and connection\n"
                "      --syslog, --stderr  where logs go (default: syslog unless -f)\n");
}

static void after_reload(struct pol_service *svc)
{
    if (main_srv != NULL)
        server_set_limits(main_srv, &svc->conf->limits);
}

/* Reads one request from stdin (the final empty line may be missing) and
 * prints the decision, the rule that made it and the settings in force. */
static int explain(struct pol_service *svc)
{
    struct buf in;
    struct buf out;
    struct proto_scan scan;
    struct proto_req req;
    struct pol_decision d;
    struct rules_facts f;
    char err[300];
    char chunk[4096];
    ssize_t n;

    buf_init(&in, PROTO_REQUEST_MAX + 2);
    buf_init(&out, 1 << 20);
    while ((n = read(0, chunk, sizeof(chunk))) > 0) {
        if (buf_append(&in, chunk, (size_t)n) < 0) {
            log_warnx("stdin: request larger than %d bytes", PROTO_REQUEST_MAX);
            buf_free(&in);
            return 1;
        }
    }
    if (in.len > 0 && in.data[in.len - 1] != '\n')
        buf_puts(&in, "\n");
    if (in.len > 0 && (in.len < 2 || in.data[in.len - 2] != '\n'))
        buf_puts(&in, "\n");
    proto_scan_reset(&scan);
    if ((n = proto_scan(&scan, in.data, in.len, err, sizeof(err))) <= 0 ||
        proto_parse(in.data, (size_t)n, &req, err, sizeof(err)) < 0) {
        log_warnx("stdin: bad request: %s", n == 0 ? "empty input" : err);
        buf_free(&in);
        return 1;
    }
    if (req.attr[PA_REQUEST] == NULL)
        req.attr[PA_REQUEST] = "smtpd_access_policy"; /* convenient for hand-written input */
    if (pol_decide(svc, &req, time(NULL), &d, err, sizeof(err)) < 0) {
        log_warnx("stdin: bad request: %s", err);
        buf_free(&in);
        return 1;
    }
    printf("action=%s\n", d.res.action);
    if (d.unchecked)
        printf("rule: none: protocol_state %s is not in checked_states\n",
               req.attr[PA_PROTOCOL_STATE]);
    else if (d.res.src.file != NULL)
        printf("rule: %s:%d %s\n", d.res.src.file, d.res.src.line, d.res.scope);
    else if (d.res.failed)
        printf("rule: built-in default\n");
    else
        printf("rule: none failed (pass_action built-in default DUNNO)\n");
    if (d.res.failed)
        printf("failed: %s\n", d.res.reason);
    pol_facts(&req, &f);
    rules_explain(svc->conf->rules, &f, &out);
    if (svc->conf->rcpt_rules != NULL && f.recipient != NULL && *f.recipient != 0) {
        const char *st = req.attr[PA_PROTOCOL_STATE];

        if (st != NULL && *st != 0 && strcasecmp(st, "RCPT") != 0)
            buf_printf(&out, "TLS_Rcpt: not applied at protocol_state %s (RCPT only)\n", st);
        smr_explain(svc->conf->rcpt_rules, &f, &out);
    }
    fwrite(out.data, 1, out.len, stdout);
    buf_free(&in);
    buf_free(&out);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"foreground", no_argument, NULL, 'f'},
        {"listen", required_argument, NULL, 'l'},
        {"verbose", no_argument, NULL, 'v'},
        {"stdio", no_argument, NULL, 'S'},
        {"check", no_argument, NULL, 'C'},
        {"explain", no_argument, NULL, 'E'},
        {"syslog", no_argument, NULL, 'Y'},
        {"stderr", no_argument, NULL, 'R'},
        {"pidfile", required_argument, NULL, 'p'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config = DEFAULT_CONFIG;
    const char *pidfile = NULL;
    char abspath[PATH_MAX];
    const char *listen[8];
    int nlisten = 0;
    int foreground = 0, verbose = 0, stdio_mode = 0, check = 0, do_explain = 0;
    int logdest = -1;
    struct pol_service svc;
    int errors;
    int ch;
    int i;
    char err[512];

    while ((ch = getopt_long(argc, argv, "c:fl:p:vh", opts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            config = optarg;
            break;
        case 'f':
            foreground = 1;
            break;
        case 'l':
            if (nlisten == 8) {
                fprintf(stderr, PROG ": at most 8 --listen options\n");
                return 2;
            }
            listen[nlisten++] = optarg;
            break;
        case 'v':
            verbose++;
            break;
        case 'S':
            stdio_mode = 1;
            break;
        case 'C':
            check = 1;
            break;
        case 'E':
            do_explain = 1;
            break;
        case 'Y':
            logdest = LOG_TO_SYSLOG;
            break;
        case 'R':
            logdest = LOG_TO_STDERR;
            break;
        case 'p':
            pidfile = optarg;
            break;
        case 'V':
            printf(PROG " " POSTSEAL_VERSION "\n");
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc || check + do_explain + stdio_mode > 1) {
        usage(stderr);
        return 2;
    }
    /* Interactive modes report on stderr; spawn(8) mode owns stdout and
     * Postfix may connect stderr to the client too: syslog. */
    if (logdest < 0)
        logdest = (check || do_explain || foreground) ? LOG_TO_STDERR : LOG_TO_SYSLOG;
    log_open(PROG, logdest, verbose);
    if (realpath(config, abspath) != NULL)
        config = abspath;
    memset(&svc, 0, sizeof(svc));
    svc.path = config;
    if ((svc.conf = pol_conf_load(config, &errors)) == NULL) {
        log_warnx("%s: %d error(s), %s", config, errors,
                  check ? "configuration NOT OK" : "not starting");
        return 1;
    }
    if (check) {
        for (i = 0; i < nlisten; i++) {
            struct server_endpoint ep;

            if (server_endpoint_parse(listen[i], &ep, err, sizeof(err)) < 0) {
                log_warnx("--listen: %s", err);
                pol_conf_free(svc.conf);
                return 1;
            }
        }
        printf("%s: configuration OK (%zu policy scopes)\n", config, rules_count(svc.conf->rules));
        pol_conf_free(svc.conf);
        return 0;
    }
    if (do_explain) {
        svc.quiet = 1;
        i = explain(&svc);
        pol_conf_free(svc.conf);
        return i;
    }
    if ((svc.sess = sess_new((size_t)svc.conf->session_max, svc.conf->session_expire)) == NULL)
        log_fatalx(1, "out of memory");
    pol_after_reload = after_reload;
    if ((main_srv = server_new(&pol_proto, &svc, &svc.conf->limits)) == NULL)
        log_fatal(1, "cannot create the event loop");
    server_set_reload(main_srv, pol_reload);
    if (stdio_mode) {
        if (global_drop_privileges(svc.conf->global.user, err, sizeof(err)) < 0)
            log_fatalx(1, "%s", err);
        i = server_run_stdio(main_srv, 0, 1);
        server_free(main_srv);
        sess_free(svc.sess);
        pol_conf_free(svc.conf);
        return i == 0 ? 0 : 1;
    }
    if (nlisten == 0)
        for (i = 0; i < svc.conf->nlisten; i++)
            listen[nlisten++] = svc.conf->listen[i];
    for (i = 0; i < nlisten; i++) {
        server_make_socket_dir(listen[i]);
        if (server_listen(main_srv, listen[i], svc.conf->socket_mode, err, sizeof(err)) < 0)
            log_fatalx(1, "cannot listen: %s", err);
        if (*svc.conf->socket_group && strncmp(listen[i], "unix:", 5) == 0) {
            struct group *gr = getgrnam(svc.conf->socket_group);

            if (gr == NULL || chown(listen[i] + 5, (uid_t)-1, gr->gr_gid) < 0)
                log_fatal(1, "socket_group %s for %s", svc.conf->socket_group, listen[i]);
        }
    }
    if (geteuid() == 0 && *svc.conf->global.user == 0)
        log_warnx("running as root: set [global] user to an unprivileged account");
    if (pidfile != NULL) {
        FILE *fp = fopen(pidfile, "w");

        if (fp == NULL)
            log_fatal(1, "pid file %s", pidfile);
        fclose(fp); /* created as root; written after detaching */
    }
    if (global_drop_privileges(svc.conf->global.user, err, sizeof(err)) < 0)
        log_fatalx(1, "%s", err);
    if (!foreground && global_detach() < 0)
        log_fatal(1, "cannot detach");
    if (pidfile != NULL) {
        FILE *fp = fopen(pidfile, "w");

        if (fp == NULL || fprintf(fp, "%d\n", (int)getpid()) < 0 || fclose(fp) != 0)
            log_warn("pid file %s", pidfile);
    }
    log_buffer_stderr(); /* flushed by the event loop before every wait */
    log_info("ready: %d listener(s), first %s, %zu policy scopes, config %s", nlisten, listen[0],
             rules_count(svc.conf->rules), config);
    server_run(main_srv);
    log_info("stopping after %lu requests, %lu refused", svc.requests, svc.refusals);
    if (pidfile != NULL)
        unlink(pidfile); /* may fail after the privilege drop: harmless */
    server_free(main_srv);
    sess_free(svc.sess);
    pol_conf_free(svc.conf);
    return 0;
}
