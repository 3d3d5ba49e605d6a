/*
 * postseal-tlspolicyd: Postfix socketmap(5) server for smtp_tls_policy_maps and
 * transport_maps.  See postseal-tlspolicyd(8).
 *
 * Protocol: each request is one netstring "NAME KEY"; each reply one netstring
 * "OK data", "NOTFOUND ", "TEMP reason" or "PERM reason" (policy/tlsp.c decides).
 * Many requests per connection, pipelining allowed.  A netstring longer than
 * TLSP_MAX_REQUEST or malformed (bad length, missing ':' or ',') cannot be
 * resynchronised: that connection is closed with one log line, the others go on.
 * The event loop, listeners, limits and time-outs are lib/server's.
 *
 * Modes: daemon (detaches, syslog) or -f; --check validates the configuration
 * (ini and Sendmail access file) and prints every error with FILE:LINE;
 * --explain KEY / --explain-transport KEY print the answer and the line that
 * made it.  Exit status: 0 ok, 1 configuration error, 2 usage.
 * Security: the socket is bound first, then the process switches to [global]
 * user for good; SIGHUP re-reads the configuration as that user and keeps the
 * old one when the new one has errors.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "cfg.h"
#include "global.h"
#include "log.h"
#include "netstring.h"
#include "server.h"
#include "tlsp.h"

#define PROG "postseal-tlspolicyd"
#define DEFAULT_CONFIG "/etc/postseal/postseal.ini"

struct tlsd_service {
    struct tlsp_conf *conf;
    const char *path;
    struct server *srv;
    unsigned long requests;
};

struct tlsd_conn {
    struct tlsd_service *svc;
    char peer[64];
    unsigned long requests;
};

static struct tlsp_conf *tlsd_load(const char *path, int *errors)
{
    struct cfg_diag diag = {0};
    struct cfg *cfg;
    struct tlsp_conf *conf;

    *errors = 0;
    if ((cfg = cfg_load(path, &diag)) == NULL) {
        *errors = diag.errors ? diag.errors : 1;
        return NULL;
    }
    conf = tlsp_load(cfg, &diag);
    cfg_free(cfg);
    *errors = diag.errors;
    return conf;
}

static void tlsd_limits(const struct tlsp_conf *conf, struct server_limits *lim)
{
    const struct tlsp_daemon *d = tlsp_daemon(conf);

    lim->max_conns = d->max_conns;
    lim->idle_timeout = d->idle_timeout;
    lim->request_timeout = d->request_timeout;
}

static void *tlsd_open(void *app, const char *peer)
{
    struct tlsd_conn *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    c->svc = app;
    snprintf(c->peer, sizeof(c->peer), "%s", peer);
    return c;
}

static ssize_t tlsd_feed(void *conn, char *data, size_t len, struct buf *out)
{
    struct tlsd_conn *c = conn;
    struct netstring_view v;
    char reply[TLSP_MAX_ANSWER + 64];
    char frame[TLSP_MAX_ANSWER + 80];
    size_t n;
    int rc = netstring_parse(data, len, TLSP_MAX_REQUEST, &v);

    if (rc == NETSTRING_MORE)
        return 0;
    if (rc != NETSTRING_OK) {
        log_warnx("%s: %s (after %lu requests): closing the connection", c->peer,
                  netstring_strerror(rc), c->requests);
        return -1;
    }
    n = tlsp_request(c->svc->conf, v.data, v.len, reply, sizeof(reply));
    if (n == 0 || (n = netstring_format(frame, sizeof(frame), reply, n)) == 0 ||
        buf_append(out, frame, n) < 0) {
        log_warnx("%s: cannot queue the answer: closing the connection", c->peer);
        return -1;
    }
    c->requests++;
    c->svc->requests++;
    return (ssize_t)v.consumed;
}

static void tlsd_close(void *conn, const char *reason)
{
    struct tlsd_conn *c = conn;

    if (reason != NULL)
        log_debug("%s: closed after %lu requests: %s", c->peer, c->requests, reason);
    free(c);
}

static const struct server_proto tlsd_proto = {
    .open = tlsd_open,
    .feed = tlsd_feed,
    .close = tlsd_close,
    .in_max = TLSP_MAX_REQUEST + NETSTRING_MAX_DIGITS + 2,
    .answer_max = TLSP_MAX_ANSWER + 80,
};

static void tlsd_reload(void *app)
{
    struct tlsd_service *svc = app;
    struct tlsp_conf *conf;
    struct server_limits lim;
    int errors;

    if ((conf = tlsd_load(svc->path, &errors)) == NULL) {
        log_warnx("reload of %s failed with %d error(s): keeping the old configuration", svc->path,
                  errors);
        return;
    }
    if (strcmp(tlsp_daemon(conf)->listen, tlsp_daemon(svc->conf)->listen) != 0)
        log_warnx("reload: listen changed; it takes effect at the next restart");
    if (strcmp(tlsp_daemon(conf)->user, tlsp_daemon(svc->conf)->user) != 0)
        log_warnx("reload: [global] user changed; it takes effect at the next restart");
    tlsp_free(svc->conf);
    svc->conf = conf;
    tlsd_limits(conf, &lim);
    server_set_limits(svc->srv, &lim);
    log_info("reloaded %s: %zu destination sections", svc->path, tlsp_count(conf, NULL));
}

static int tlsd_explain(const struct tlsp_conf *conf, const char *key, int transport)
{
    static const char *const words[] = {"OK ", "NOTFOUND ", "TEMP ", "PERM "};
    char answer[TLSP_MAX_ANSWER];
    char source[1200] = "";
    int rc;

    answer[0] = 0;
    rc = transport ? tlsp_transport(conf, key, answer, sizeof(answer), source, sizeof(source))
                   : tlsp_policy(conf, key, answer, sizeof(answer), source, sizeof(source));
    printf("%s %s -> %s%s\n", transport ? tlsp_transport_name(conf) : tlsp_policy_name(conf), key,
           words[rc], rc == TLSP_NOTFOUND ? "" : answer);
    printf("source: %s\n", *source ? source : "none (no transport override)");
    return 0;
}

static void usage(FILE *fp)
{
    fprintf(fp, "usage: " PROG " [-c FILE] [-f] [-v] [--syslog|--stderr] [--listen SPEC]\n"
                "       " PROG " [-c FILE] --check\n"
                "       " PROG " [-c FILE] --explain NEXTHOP\n"
                "       " PROG " [-c FILE] --explain-transport ADDRESS\n"
                "  -c, --config FILE   configuration (default " DEFAULT_CONFIG ")\n"
                "  -f, --foreground    do not detach; log to stderr unless --syslog\n"
                "  -l, --listen SPEC   unix:PATH or inet:HOST:PORT instead of [tlspolicy] listen\n"
                "  -v, --verbose       log every lookup and connection\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"foreground", no_argument, NULL, 'f'},
        {"listen", required_argument, NULL, 'l'},
        {"verbose", no_argument, NULL, 'v'},
        {"check", no_argument, NULL, 'C'},
        {"explain", required_argument, NULL, 'E'},
        {"explain-transport", required_argument, NULL, 'T'},
        {"syslog", no_argument, NULL, 'Y'},
        {"stderr", no_argument, NULL, 'R'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config = DEFAULT_CONFIG;
    const char *listen = NULL;
    const char *explain = NULL;
    char abspath[PATH_MAX];
    char err[512];
    int foreground = 0, verbose = 0, check = 0, transport = 0, logdest = -1;
    struct tlsd_service svc = {0};
    struct server_limits lim;
    size_t nsm;
    int errors;
    int ch;

    while ((ch = getopt_long(argc, argv, "c:fl:vh", opts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            config = optarg;
            break;
        case 'f':
            foreground = 1;
            break;
        case 'l':
            listen = optarg;
            break;
        case 'v':
            verbose++;
            break;
        case 'C':
            check = 1;
            break;
        case 'T':
            transport = 1;
            /* fall through */
        case 'E':
            if (explain != NULL) {
                usage(stderr);
                return 2;
            }
            explain = optarg;
            break;
        case 'Y':
            logdest = LOG_TO_SYSLOG;
            break;
        case 'R':
            logdest = LOG_TO_STDERR;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc || (check && explain)) {
        usage(stderr);
        return 2;
    }
    if (logdest < 0)
        logdest = (check || explain || foreground) ? LOG_TO_STDERR : LOG_TO_SYSLOG;
    log_open(PROG, logdest, verbose);
    if (realpath(config, abspath) != NULL)
        config = abspath;
    svc.path = config;
    if ((svc.conf = tlsd_load(config, &errors)) == NULL) {
        log_warnx("%s: %d error(s), %s", config, errors,
                  check ? "configuration NOT OK" : "not starting");
        return 1;
    }
    if (listen == NULL)
        listen = tlsp_daemon(svc.conf)->listen;
    if (check) {
        struct server_endpoint ep;
        size_t n = tlsp_count(svc.conf, &nsm);

        if (server_endpoint_parse(listen, &ep, err, sizeof(err)) < 0) {
            log_warnx("--listen: %s", err);
            return 1;
        }
        printf("%s: configuration OK (%zu destination sections, %zu Sendmail TLS entries)\n",
               config, n, nsm);
        tlsp_free(svc.conf);
        return 0;
    }
    if (explain) {
        tlsd_explain(svc.conf, explain, transport);
        tlsp_free(svc.conf);
        return 0;
    }
    tlsd_limits(svc.conf, &lim);
    if ((svc.srv = server_new(&tlsd_proto, &svc, &lim)) == NULL)
        log_fatal(1, "cannot create the event loop");
    server_set_reload(svc.srv, tlsd_reload);
    server_make_socket_dir(listen);
    if (server_listen(svc.srv, listen, tlsp_daemon(svc.conf)->socket_mode, err, sizeof(err)) < 0)
        log_fatalx(1, "cannot listen: %s", err);
    if (global_drop_privileges(tlsp_daemon(svc.conf)->user, err, sizeof(err)) < 0)
        log_fatalx(1, "%s", err);
    if (!foreground && global_detach() < 0)
        log_fatal(1, "cannot detach");
    log_info("ready on %s: maps \"%s\" and \"%s\", %zu destination sections, config %s", listen,
             tlsp_policy_name(svc.conf), tlsp_transport_name(svc.conf), tlsp_count(svc.conf, NULL),
             config);
    server_run(svc.srv);
    log_info("stopping after %lu requests", svc.requests);
    server_free(svc.srv);
    tlsp_free(svc.conf);
    return 0;
}
