/*
 * policyd: the decision step of postseal-policyd and its protocol glue.
 *
 * Parse, decide, answer: the server feeds bytes, policy_proto finds and parses
 * one request, pol_decide() turns it into facts for the rule engine (lib/rules)
 * and consults the session memory, and the answer is one "action=" line.
 *
 * Protocol states: the TLS requirements are checked in the states listed in
 * checked_states (default RCPT: the TLS facts cannot change after STARTTLS, and
 * at RCPT the recipient is known, so recipient scopes apply).  In every other
 * state (CONNECT, HELO/EHLO come before STARTTLS; DATA and END-OF-MESSAGE
 * lack the recipient when there are several) the request passes unless its
 * session failed earlier: then it is refused the same way, so a failed session
 * gets no further command through.
 *
 * Sendmail TLS_Rcpt: entries ([sendmail] tls_rcpt = inbound or both,
 * lib/sendmail_rcpt) are checked at RCPT, whatever checked_states says, after
 * the rules above passed: they concern one recipient, so their refusal is not
 * remembered for the session and the next recipient is judged on its own.
 *
 * Bad input (malformed, oversize, not smtpd_access_policy) is logged with the
 * peer, queue_id and instance when known, and that connection is dropped;
 * nothing else is affected.  Configuration errors are FILE:LINE; a reload
 * that fails keeps the old configuration.
 */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cfg.h"
#include "log.h"
#include "policyd.h"
#include "sendmail_access.h"
#include "sendmail_rcpt.h"
#include "session.h"

enum pol_state {
    PS_CONNECT,
    PS_EHLO,
    PS_HELO,
    PS_MAIL,
    PS_RCPT,
    PS_DATA,
    PS_BDAT,
    PS_END_OF_MESSAGE,
    PS_VRFY,
    PS_ETRN,
    PS_COUNT
};

static const char *const pol_states[PS_COUNT] = {
    "CONNECT", "EHLO", "HELO", "MAIL", "RCPT", "DATA", "BDAT", "END-OF-MESSAGE", "VRFY", "ETRN",
};

void (*pol_after_reload)(struct pol_service *svc);

/* ---- configuration ---------------------------------------------------- */

struct pol_load {
    struct pol_conf *conf;
    struct cfg_diag *diag;
    const struct cfg_entry *e;
};

static int pol_add_listen(const char *item, size_t len, void *arg)
{
    struct pol_load *l = arg;
    struct server_endpoint ep;
    char spec[256];
    char err[300];

    if (len >= sizeof(spec) || l->conf->nlisten == 4) {
        cfg_error(l->diag, l->e->line, "listen: at most 4 endpoints of < 256 bytes");
        return 1;
    }
    memcpy(spec, item, len);
    spec[len] = 0;
    if (server_endpoint_parse(spec, &ep, err, sizeof(err)) < 0) {
        cfg_error(l->diag, l->e->line, "listen: %s", err);
        return 1;
    }
    strcpy(l->conf->listen[l->conf->nlisten++], spec);
    return 0;
}

static int pol_add_state(const char *item, size_t len, void *arg)
{
    struct pol_load *l = arg;
    int i;

    for (i = 0; i < PS_COUNT; i++) {
        if (strlen(pol_states[i]) == len && strncasecmp(item, pol_states[i], len) == 0) {
            l->conf->checked_states |= 1u << i;
            return 0;
        }
    }
    cfg_error(l->diag, l->e->line,
              "checked_states: \"%.*s\" is not a Postfix protocol_state (CONNECT, EHLO, HELO, "
              "MAIL, RCPT, DATA, BDAT, END-OF-MESSAGE, VRFY, ETRN)",
              (int)len, item);
    return 1;
}

/* A [policy] daemon key: 1 when handled (valid or reported), 0 when not one. */
static int pol_daemon_key(struct pol_load *l, int global_scope)
{
    static const char *const keys[] = {"listen",         "socket_mode",     "max_connections",
                                       "idle_timeout",   "request_timeout", "session_max",
                                       "session_expire", "checked_states",  "log_pass",
                                       "socket_group",   "reply_detail",    NULL};
    const struct cfg_entry *e = l->e;
    struct pol_conf *c = l->conf;
    struct cfg_diag *d = l->diag;
    long v;
    int i;

    for (i = 0; keys[i] != NULL; i++)
        if (strcmp(e->key, keys[i]) == 0)
            break;
    if (keys[i] == NULL)
        return 0;
    if (!global_scope) {
        cfg_error(d, e->line, "%s: only valid in [policy], not in [%s]", e->key, e->section);
        return 1;
    }
    switch (i) {
    case 0:
        if (c->listen_line == 0)
            c->nlisten = 0;
        c->listen_line = e->line;
        cfg_list(e->value, pol_add_listen, l);
        break;
    case 1: {
        char *end;

        errno = 0;
        v = strtol(e->value, &end, 8);
        if (e->value[0] < '0' || e->value[0] > '7' || *end || errno || v > 0777)
            cfg_error(d, e->line, "socket_mode: \"%s\" is not an octal mode such as 0666",
                      e->value);
        else
            c->socket_mode = (int)v;
        break;
    }
    case 2:
        if (cfg_uint(d, e, 1, 100000, &v) == 0)
            c->limits.max_conns = (int)v;
        break;
    case 3:
        if (cfg_seconds(d, e, 1, 86400, &v) == 0)
            c->limits.idle_timeout = (int)v;
        break;
    case 4:
        if (cfg_seconds(d, e, 1, 3600, &v) == 0)
            c->limits.request_timeout = (int)v;
        break;
    case 5:
        if (cfg_uint(d, e, 1, 10000000, &v) == 0)
            c->session_max = v;
        break;
    case 6:
        if (cfg_seconds(d, e, 1, 7 * 86400, &v) == 0)
            c->session_expire = v;
        break;
    case 7:
        c->checked_states = 0;
        cfg_list(e->value, pol_add_state, l);
        if (c->checked_states == 0 && d->errors == 0)
            cfg_error(d, e->line, "checked_states: empty");
        break;
    case 8:
        cfg_bool(d, e, &c->log_pass);
        break;
    case 9:
        if (getgrnam(e->value) == NULL)
            cfg_error(d, e->line, "socket_group: no group \"%s\"", e->value);
        else
            snprintf(c->socket_group, sizeof(c->socket_group), "%s", e->value);
        break;
    case 10: {
        static const char *const details[] = {"file", "path", "none", NULL};

        cfg_enum(d, e, details, &c->reply_detail);
        break;
    }
    }
    return 1;
}

/* "policy", "policy KIND PATTERN": returns the scope or NULL after an error. */
static struct rules_scope *pol_scope(struct pol_load *l, const char *path)
{
    const struct cfg_entry *e = l->e;
    char kind[64];
    char pattern[200];
    char extra[8];
    char err[300];
    int k;
    int n;
    struct rules_src src = {path, e->line};
    struct rules_scope *s;

    if (strcmp(e->section, "policy") == 0)
        return rules_scope(l->conf->rules, RULES_GLOBAL, "", &src, err, sizeof(err));
    n = sscanf(e->section, "policy %63s %199s %7s", kind, pattern, extra);
    if (n != 2) {
        cfg_error(l->diag, e->line,
                  "[%s]: expected [policy KIND PATTERN] with KIND one of client, client_name, "
                  "sender, sender_domain, recipient, recipient_domain, sasl_user, sasl_method",
                  e->section);
        return NULL;
    }
    if ((k = rules_kind_parse(kind)) < 0) {
        cfg_error(l->diag, e->line,
                  "[%s]: unknown scope \"%s\" (client, client_name, sender, sender_domain, "
                  "recipient, recipient_domain, sasl_user, sasl_method)",
                  e->section, kind);
        return NULL;
    }
    if ((s = rules_scope(l->conf->rules, k, pattern, &src, err, sizeof(err))) == NULL)
        cfg_error(l->diag, e->line, "[%s]: %s", e->section, err);
    return s;
}

/* A sender section that relaxes requirements is an open door: the envelope
 * sender is whatever the client says.  Not an error (it may be meant), but
 * --check and every start say so. */
static void pol_warn_relaxing(const char *path, const struct cfg_entry *e)
{
    const char *v = e->value;
    int relaxes;

    if (strncmp(e->section, "policy sender ", 14) != 0 &&
        strncmp(e->section, "policy sender_domain ", 21) != 0)
        return;
    relaxes = (strcmp(e->key, "inherit") == 0 || strcmp(e->key, "require_tls") == 0 ||
               strcmp(e->key, "require_verified_cert") == 0)
                  ? (strcasecmp(v, "no") == 0 || strcasecmp(v, "false") == 0 ||
                     strcasecmp(v, "off") == 0 || strcmp(v, "0") == 0)
                  : (strcasecmp(v, "none") == 0 ||
                     (strcmp(e->key, "encryption_keysize") == 0 && strcmp(v, "0") == 0));
    if (relaxes)
        log_warnx("%s:%d: [%s] %s = %s relaxes the policy for an envelope sender, which any "
                  "client can claim; use sender sections to tighten, client or sasl_user "
                  "sections to relax",
                  path, e->line, e->section, e->key, v);
}

struct pol_conf *pol_conf_load(const char *path, int *errors)
{
    struct cfg_diag diag = {0};
    struct cfg *cfg;
    struct pol_conf *c;
    struct pol_load l;
    const char *bad_section = NULL;
    size_t i;

    *errors = 0;
    if ((cfg = cfg_load(path, &diag)) == NULL) {
        *errors = diag.errors ? diag.errors : 1;
        return NULL;
    }
    if ((c = calloc(1, sizeof(*c))) == NULL || (c->rules = rules_new()) == NULL) {
        free(c);
        cfg_free(cfg);
        log_warnx("%s: out of memory", path);
        *errors = 1;
        return NULL;
    }
    strcpy(c->listen[0], POL_LISTEN_DEFAULT);
    c->nlisten = 1;
    c->socket_mode = 0666;
    c->limits.max_conns = 1024;
    c->limits.idle_timeout = 3600;
    c->limits.request_timeout = 10;
    c->session_max = 10000;
    c->session_expire = 900;
    c->checked_states = 1u << PS_RCPT;
    l.conf = c;
    l.diag = &diag;
    cfg_check_owners(cfg, &diag);
    global_parse(cfg, &diag, &c->global);
    for (i = 0; i < cfg->count; i++) {
        const struct cfg_entry *e = &cfg->entries[i];
        struct rules_scope *s;
        struct rules_src src = {path, e->line};
        char err[600];
        int rc;

        if (!cfg_section_is(e->section, "policy"))
            continue;
        l.e = e;
        if (bad_section != NULL && strcmp(bad_section, e->section) == 0)
            continue; /* reported once */
        if ((s = pol_scope(&l, path)) == NULL) {
            bad_section = e->section;
            continue;
        }
        if (pol_daemon_key(&l, strcmp(e->section, "policy") == 0))
            continue;
        rc = rules_set(c->rules, s, e->key, e->value, &src, err, sizeof(err));
        if (rc == -2)
            cfg_error(&diag, e->line, "[%s]: unknown key \"%s\"", e->section, e->key);
        else if (rc < 0)
            cfg_error(&diag, e->line, "%s", err);
        else
            pol_warn_relaxing(path, e);
    }
    {
        /* Sendmail TLS_Clt: entries of [sendmail] access_file, as rules */
        struct sma_conf sm;

        if (sma_conf_load(cfg, &diag, SMA_FOR_POLICYD, &sm) == 0 &&
            sma_to_rules(&sm, c->rules, &diag) == 0)
            smr_new(&sm, &diag, &c->rcpt_rules);
        sma_conf_free(&sm);
        diag.path = path;
    }
    rules_finish(c->rules);
    cfg_free(cfg);
    if (diag.errors) {
        *errors = diag.errors;
        pol_conf_free(c);
        return NULL;
    }
    return c;
}

void pol_conf_free(struct pol_conf *conf)
{
    if (conf == NULL)
        return;
    rules_free(conf->rules);
    smr_free(conf->rcpt_rules);
    free(conf);
}

/* ---- deciding --------------------------------------------------------- */

void pol_facts(const struct proto_req *req, struct rules_facts *f)
{
    memset(f, 0, sizeof(*f));
    f->client_address = req->attr[PA_CLIENT_ADDRESS];
    f->client_name = req->attr[PA_CLIENT_NAME];
    f->sender = req->attr[PA_SENDER];
    f->recipient = req->attr[PA_RECIPIENT];
    f->sasl_username = req->attr[PA_SASL_USERNAME];
    f->sasl_method = req->attr[PA_SASL_METHOD];
    f->tls_protocol = req->attr[PA_ENCRYPTION_PROTOCOL];
    f->tls_cipher = req->attr[PA_ENCRYPTION_CIPHER];
    f->keysize = req->encryption_keysize > 0 ? req->encryption_keysize : 0;
    f->ccert_fingerprint = req->attr[PA_CCERT_FINGERPRINT];
    f->ccert_pubkey_fingerprint = req->attr[PA_CCERT_PUBKEY_FINGERPRINT];
    f->ccert_subject = req->attr[PA_CCERT_SUBJECT];
    f->ccert_issuer = req->attr[PA_CCERT_ISSUER];
}

static int pol_state_checked(const struct pol_conf *c, const char *state)
{
    int i;

    if (state == NULL || *state == 0)
        return 1; /* unknown state: check, fail closed */
    for (i = 0; i < PS_COUNT; i++)
        if (strcasecmp(state, pol_states[i]) == 0)
            return (c->checked_states >> i) & 1;
    return 1;
}

static const char *pol_s(const char *s)
{
    return s != NULL ? s : "";
}

/* Prefix of every log line about a request: "QUEUEID: instance=... client=...". */
static void pol_log_request(const struct proto_req *req, const char *what, const char *action)
{
    const char *qid = pol_s(req->attr[PA_QUEUE_ID]);
    const char *proto = pol_s(req->attr[PA_ENCRYPTION_PROTOCOL]);
    char tls[160];

    if (*proto)
        snprintf(tls, sizeof(tls), "%s/%s/%ld", proto, pol_s(req->attr[PA_ENCRYPTION_CIPHER]),
                 req->encryption_keysize);
    else
        snprintf(tls, sizeof(tls), "none");
    log_info("%s: %s: instance=%s client=%s[%s]:%ld state=%s from=<%s> to=<%s> sasl=%s "
             "tls=%s: %s",
             *qid ? qid : "NOQUEUE", what, pol_s(req->attr[PA_INSTANCE]),
             pol_s(req->attr[PA_CLIENT_NAME]), pol_s(req->attr[PA_CLIENT_ADDRESS]),
             req->client_port, pol_s(req->attr[PA_PROTOCOL_STATE]), pol_s(req->attr[PA_SENDER]),
             pol_s(req->attr[PA_RECIPIENT]),
             *pol_s(req->attr[PA_SASL_USERNAME]) ? req->attr[PA_SASL_USERNAME] : "-", tls, action);
}

/* TLS_Rcpt: entries apply at RCPT (or when the state is not given), when
 * there is a recipient. */
static int pol_rcpt_applies(const struct pol_conf *c, const struct proto_req *req)
{
    const char *state = req->attr[PA_PROTOCOL_STATE];

    return c->rcpt_rules != NULL && *pol_s(req->attr[PA_RECIPIENT]) != 0 &&
           (state == NULL || *state == 0 || strcasecmp(state, "RCPT") == 0);
}

int pol_decide(struct pol_service *svc, const struct proto_req *req, time_t now,
               struct pol_decision *d, char *err, size_t errlen)
{
    const char *type = req->attr[PA_REQUEST];
    int per_rcpt;
    struct rules_facts f;
    char key[128];
    int have_key;
    const char *stored;

    d->from_session = 0;
    d->per_recipient = 0;
    d->unchecked = 0;
    d->res.failed = 0;
    d->res.reason[0] = 0;
    d->res.src.file = NULL;
    d->res.src.line = 0;
    d->res.scope = NULL;
    if (type == NULL || strcmp(type, "smtpd_access_policy") != 0) {
        snprintf(err, errlen, "request=%s: not an smtpd_access_policy request",
                 type ? type : "(missing)");
        return -1;
    }
    svc->requests++;
    have_key = sess_key(req, key, sizeof(key)) == 0;
    if (have_key && svc->sess != NULL &&
        (stored = sess_get(svc->sess, key, req->attr[PA_INSTANCE], now)) != NULL) {
        d->from_session = 1;
        d->res.failed = 1;
        snprintf(d->res.action, sizeof(d->res.action), "%s", stored);
        svc->refusals++;
        if (!svc->quiet)
            pol_log_request(req, "refused (session failed earlier)", d->res.action);
        return 0;
    }
    per_rcpt = pol_rcpt_applies(svc->conf, req);
    if (!pol_state_checked(svc->conf, req->attr[PA_PROTOCOL_STATE])) {
        d->unchecked = 1;
        snprintf(d->res.action, sizeof(d->res.action), "DUNNO");
        if (!per_rcpt) {
            if (!svc->quiet && (svc->conf->log_pass || log_verbose()))
                pol_log_request(req, "pass (state not checked)", d->res.action);
            return 0;
        }
    }
    pol_facts(req, &f);
    if (!d->unchecked)
        rules_decide(svc->conf->rules, &f, &d->res);
    if (!d->res.failed && per_rcpt) {
        struct rules_result rr;

        if (smr_decide(svc->conf->rcpt_rules, &f, &rr) && rr.failed) {
            d->res = rr;
            d->per_recipient = 1;
            d->unchecked = 0;
        }
    }
    if (d->res.failed && d->per_recipient) {
        svc->refusals++;
        if (!svc->quiet)
            pol_log_request(req, "refused for this recipient", d->res.action);
    } else if (d->res.failed) {
        svc->refusals++;
        if (have_key && svc->sess != NULL &&
            sess_put(svc->sess, key, req->attr[PA_INSTANCE], d->res.action, now) < 0)
            log_warnx("session memory: cannot remember %s", key);
        if (!svc->quiet)
            pol_log_request(req, "refused", d->res.action);
    } else if (!svc->quiet && (svc->conf->log_pass || log_verbose())) {
        pol_log_request(req, "pass", d->res.action);
    }
    return 0;
}

void pol_reply_text(const char *action, int detail, char *out, size_t size)
{
    const char *loc = NULL, *p = action, *file, *slash;
    size_t len = strlen(action);

    /* the last " (rule " that opens the closing parenthesis */
    while ((p = strstr(p, " (rule ")) != NULL) {
        loc = p;
        p++;
    }
    if (loc == NULL || detail == POL_DETAIL_PATH || len == 0 || action[len - 1] != ')' ||
        strchr(loc + 7, ')') != action + len - 1) {
        snprintf(out, size, "%s", action);
        return;
    }
    if (detail == POL_DETAIL_NONE) {
        snprintf(out, size, "%.*s", (int)(loc - action), action);
        return;
    }
    file = loc + 7;
    for (slash = file; slash < action + len; slash++)
        if (*slash == '/')
            file = slash + 1;
    snprintf(out, size, "%.*s (rule %s", (int)(loc - action), action, file);
}

/* ---- protocol glue ---------------------------------------------------- */

struct pol_conn {
    struct pol_service *svc;
    struct proto_scan scan;
    char peer[64];
    unsigned long requests;
    char last_qid[32]; /* of the last answered request */
    char last_inst[64];
    size_t noted;      /* pending input already searched for the two below */
    char pend_qid[32]; /* of the unfinished request, when its lines say */
    char pend_inst[64];
};

/* Remembers queue_id and instance from the complete lines of an unfinished
 * request, so a drop can be logged with them.  Each byte is looked at once. */
static void pol_note(struct pol_conn *pc, const char *data)
{
    const char *p = data + pc->noted;
    const char *end = data + pc->scan.line_start;

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n;

        if (nl == NULL)
            break;
        n = (size_t)(nl - p);
        if (n > 9 && memcmp(p, "instance=", 9) == 0)
            snprintf(pc->pend_inst, sizeof(pc->pend_inst), "%.*s", (int)(n - 9), p + 9);
        else if (n > 9 && memcmp(p, "queue_id=", 9) == 0)
            snprintf(pc->pend_qid, sizeof(pc->pend_qid), "%.*s", (int)(n - 9), p + 9);
        p = nl + 1;
    }
    pc->noted = pc->scan.line_start;
}

static void *pol_open(void *app, const char *peer)
{
    struct pol_conn *pc = calloc(1, sizeof(*pc));

    if (pc == NULL)
        return NULL;
    pc->svc = app;
    snprintf(pc->peer, sizeof(pc->peer), "%s", peer);
    log_debug("%s: connect", peer);
    return pc;
}

static void pol_close(void *conn, const char *reason)
{
    struct pol_conn *pc = conn;

    if (reason != NULL && (*pc->pend_qid || *pc->pend_inst))
        log_warnx("%s: %s: connection dropped after %lu requests: %s (unfinished request "
                  "instance=%s)",
                  pc->peer, *pc->pend_qid ? pc->pend_qid : "NOQUEUE", pc->requests, reason,
                  *pc->pend_inst ? pc->pend_inst : "-");
    else if (reason != NULL)
        log_warnx("%s: connection dropped after %lu requests: %s (last queue_id=%s "
                  "instance=%s)",
                  pc->peer, pc->requests, reason, *pc->last_qid ? pc->last_qid : "-",
                  *pc->last_inst ? pc->last_inst : "-");
    else
        log_debug("%s: disconnect after %lu requests", pc->peer, pc->requests);
    free(pc);
}

static ssize_t pol_feed(void *conn, char *data, size_t len, struct buf *out)
{
    struct pol_conn *pc = conn;
    struct proto_req req;
    struct pol_decision d;
    char err[300];
    char reply[sizeof(d.res.action)];
    int i;
    ssize_t n = proto_scan(&pc->scan, data, len, err, sizeof(err));

    if (n == 0) {
        pol_note(pc, data);
        return 0;
    }
    if (n < 0) {
        pol_note(pc, data);
        log_warnx("%s: %s: bad request: %s (instance=%s)", pc->peer,
                  *pc->pend_qid ? pc->pend_qid : "NOQUEUE", err,
                  *pc->pend_inst ? pc->pend_inst : "-");
        return -1;
    }
    pc->noted = 0;
    pc->pend_qid[0] = pc->pend_inst[0] = 0;
    i = proto_parse_scanned(&pc->scan, data, (size_t)n, &req, err, sizeof(err));
    proto_scan_reset(&pc->scan);
    if (i < 0 || pol_decide(pc->svc, &req, time(NULL), &d, err, sizeof(err)) < 0) {
        log_warnx("%s: %s: bad request: %s (instance=%s)", pc->peer,
                  *pol_s(req.attr[PA_QUEUE_ID]) ? req.attr[PA_QUEUE_ID] : "NOQUEUE", err,
                  req.attr[PA_INSTANCE] ? req.attr[PA_INSTANCE] : "-");
        return -1;
    }
    pc->requests++;
    snprintf(pc->last_qid, sizeof(pc->last_qid), "%s", pol_s(req.attr[PA_QUEUE_ID]));
    snprintf(pc->last_inst, sizeof(pc->last_inst), "%s", pol_s(req.attr[PA_INSTANCE]));
    pol_reply_text(d.res.action, pc->svc->conf->reply_detail, reply, sizeof(reply));
    if (proto_answer(out, reply) < 0) {
        log_warnx("%s: cannot queue the answer", pc->peer);
        return -1;
    }
    return n;
}

const struct server_proto pol_proto = {
    .open = pol_open,
    .feed = pol_feed,
    .close = pol_close,
    .in_max = PROTO_REQUEST_MAX + PROTO_LINE_MAX + 16,
    .answer_max = RULES_TEXT_MAX + 420,
};

void pol_reload(void *app)
{
    struct pol_service *svc = app;
    struct pol_conf *c;
    int errors;

    if ((c = pol_conf_load(svc->path, &errors)) == NULL) {
        log_warnx("reload of %s failed with %d error(s): keeping the old configuration", svc->path,
                  errors);
        return;
    }
    if (c->nlisten != svc->conf->nlisten ||
        memcmp(c->listen, svc->conf->listen, sizeof(c->listen)) != 0)
        log_warnx("reload: listen changed; it takes effect at the next restart");
    if (strcmp(c->global.user, svc->conf->global.user) != 0)
        log_warnx("reload: [global] user changed; it takes effect at the next restart");
    if (c->session_max != svc->conf->session_max)
        log_warnx("reload: session_max changed; it takes effect at the next restart");
    if (svc->sess)
        sess_set_expire(svc->sess, c->session_expire);
    pol_conf_free(svc->conf);
    svc->conf = c;
    log_info("reloaded %s: %zu scopes", svc->path, rules_count(c->rules));
    if (pol_after_reload)
        pol_after_reload(svc);
}
