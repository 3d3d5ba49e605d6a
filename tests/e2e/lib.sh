# tests/e2e/lib.sh: the end-to-end harness, sourced by every tests/e2e/t_*.sh
# (bash).  API and an example test: tests/e2e/README.md.
#
# Contract: a test sources this file, builds one or more PRIVATE Postfix
# instances (pf_*), starts postseal daemons (policyd_start, daemon_start),
# drives real SMTP clients (smtp_send = swaks, smtp_open/smtp_cmd = openssl
# s_client or plain TCP) and asserts (is, like, ok, not_ok, ...).  Everything
# lives under $E2E_DIR (tests/work/e2e-$PS_PORT_BASE/NAME, wiped when the test
# starts, kept afterwards for inspection).  Nothing listens outside 127.0.0.1,
# nothing is delivered outside the box.
#
# Limits: root only (Postfix master, pipe(8) users); at most 5 Postfix
# instances per test; ports PS_PORT_BASE .. PS_PORT_BASE+99.
#
# Failure: an assertion that fails is counted and printed, the test goes on.
# Setup failures (e2e_die) count as one failure and end the test.  Whatever
# happens (exit, failure, INT/TERM), the EXIT trap stops every Postfix and
# daemon this test started and writes "PASSED FAILED" to
# $E2E_RUN/results/NAME for run.sh.

if [ -z "${BASH_VERSION:-}" ]; then
    echo "e2e: lib.sh needs bash" >&2
    exit 2
fi

umask 022
export LC_ALL=C

E2E_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
: "${PS_PORT_BASE:=10025}"
E2E_BASE=$PS_PORT_BASE
# shellcheck source=tests/e2e/workdir.sh
. "$E2E_ROOT/tests/e2e/workdir.sh"
E2E_RUN=${E2E_RUN:-$(e2e_workdir "$E2E_ROOT" "e2e-$E2E_BASE")}
E2E_NAME=${E2E_NAME:-$(basename "$0" .sh)}
E2E_NAME=${E2E_NAME#t_}
E2E_DIR=$E2E_RUN/$E2E_NAME
PKI=$E2E_RUN/pki
E2E_PASS=0
E2E_FAIL=0
E2E_NINST=0
E2E_NSEND=0

# Programs under test (override with the environment, e.g. for a sanitizer
# build: SANITIZE=1 picks build-san/bin/).
if [ "${SANITIZE:-}" = 1 ]; then
    e2e__bin=$E2E_ROOT/build-san/bin
    : "${POSTSEAL_POLICYD:=$e2e__bin/postseal-policyd}"
    : "${POSTSEAL_TLSPOLICYD:=$e2e__bin/postseal-tlspolicyd}"
    : "${POSTSEAL_FILTER:=$e2e__bin/postseal-filter}"
else
    : "${POSTSEAL_POLICYD:=$E2E_ROOT/policy/postseal-policyd}"
    : "${POSTSEAL_TLSPOLICYD:=$E2E_ROOT/policy/postseal-tlspolicyd}"
    : "${POSTSEAL_FILTER:=$E2E_ROOT/filter/postseal-filter}"
fi
POSTSEAL_INI=$E2E_ROOT/conf/postseal.ini

# shellcheck source=tests/e2e/pki.sh
. "$E2E_ROOT/tests/e2e/pki.sh"

# ---------------------------------------------------------------- reporting

e2e_log() { printf '# %s\n' "$*"; }

e2e__result() { # ok|not ok, description, [diagnostic]
    if [ "$1" = ok ]; then
        E2E_PASS=$((E2E_PASS + 1))
        printf 'ok %d - %s\n' $((E2E_PASS + E2E_FAIL)) "$2"
    else
        E2E_FAIL=$((E2E_FAIL + 1))
        printf 'not ok %d - %s\n' $((E2E_PASS + E2E_FAIL)) "$2"
        [ -n "${3:-}" ] && printf '#   %s\n' "$3"
        [ -n "${SMTP_LOG:-}" ] && printf '#   last SMTP transcript: %s\n' "$SMTP_LOG"
    fi
    return 0
}

# pass DESC / fail DESC [DIAG]: record a result directly.
pass() { e2e__result ok "$1"; }
fail() {
    e2e__result "not ok" "$1" "${2:-}"
    return 1
}

# is DESC EXPECTED ACTUAL: string equality.
is() {
    if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "expected '$2', got '$3'"; fi
}

# isnt DESC UNEXPECTED ACTUAL
isnt() {
    if [ "$2" != "$3" ]; then pass "$1"; else fail "$1" "got '$3', which it must not be"; fi
}

# like DESC ERE ACTUAL / unlike DESC ERE ACTUAL: grep -E on a string.
like() {
    if printf '%s\n' "$3" | grep -Eq -- "$2"; then pass "$1"; else
        fail "$1" "'$(printf '%s' "$3" | head -c 300)' does not match /$2/"
    fi
}
unlike() {
    if printf '%s\n' "$3" | grep -Eq -- "$2"; then
        fail "$1" "'$(printf '%s' "$3" | head -c 300)' matches /$2/"
    else pass "$1"; fi
}

# ok DESC CMD... / not_ok DESC CMD...: exit status of a command.
ok() {
    local d=$1
    shift
    if "$@"; then pass "$d"; else fail "$d" "command failed ($?): $*"; fi
}
not_ok() {
    local d=$1
    shift
    if "$@"; then fail "$d" "command succeeded: $*"; else pass "$d"; fi
}

# file_has DESC FILE ERE / file_lacks DESC FILE ERE
file_has() {
    if [ -f "$2" ] && grep -Eq -- "$3" "$2"; then pass "$1"; else
        fail "$1" "$2 has no line matching /$3/"
    fi
}
file_lacks() {
    if [ -f "$2" ] && grep -Eq -- "$3" "$2"; then
        fail "$1" "$2 has a line matching /$3/"
    else pass "$1"; fi
}

# e2e_die MSG: setup failure: counts one failure, ends the test (cleanup runs).
e2e_die() {
    e2e__result "not ok" "setup: $*"
    exit 1
}

# e2e_skip REASON: the test cannot run here; recorded as 0 passed 0 failed.
e2e_skip() {
    e2e_log "SKIP: $*"
    echo "skip $*" >"$E2E_RUN/results/$E2E_NAME.skip"
    exit 0
}

# need_prog FILE: the program under test must exist (dies otherwise).
need_prog() {
    [ -x "$1" ] || e2e_die "program not built: $1 (run make)"
}

# ------------------------------------------------------------------- utils

# e2e_port N: a free port of this test (0 <= N < 80), for servers a test runs
# itself (LDAP, HTTP, socketmap, ...).
e2e_port() { echo $((E2E_BASE + 20 + $1)); }

# e2e_file NAME: writes stdin to $E2E_DIR/NAME (0644), prints the path.
e2e_file() {
    cat >"$E2E_DIR/$1" && chmod 0644 "$E2E_DIR/$1" && echo "$E2E_DIR/$1"
}

# e2e_wait TIMEOUT CMD...: polls CMD every 0.1 s until it succeeds or
# TIMEOUT seconds pass; returns CMD's last status.
e2e_wait() {
    local t=$(($1 * 10))
    shift
    while :; do
        "$@" && return 0
        [ "$t" -le 0 ] && return 1
        t=$((t - 1))
        sleep 0.1
    done
}

# e2e_backdate FILE...: sets mtime 10 s in the past.  Postfix stalls (up to
# ~2.4 s) on config and table files modified less than ~1 s before it reads them.
e2e_backdate() { touch -d '-10 seconds' "$@"; }

e2e__listening() { # inet:PORT | unix:PATH
    case $1 in
    unix:*) [ -S "${1#unix:}" ] ;;
    inet:*)
        if command -v ss >/dev/null 2>&1; then
            ss -Hltn "sport = :${1##*:}" 2>/dev/null | grep -q .
        else
            (exec 3<>"/dev/tcp/127.0.0.1/${1##*:}") 2>/dev/null
        fi
        ;;
    esac
}

# ----------------------------------------------------------------- daemons

# daemon_start NAME READY CMD...: runs CMD in the background (stdout+stderr to
# $E2E_DIR/NAME.log), waits up to 5 s until READY holds (unix:PATH = socket
# exists, inet:PORT = port listens, - = no wait), registers it for cleanup.
# Sets DAEMON_PID.  Returns 1 (and shows the log) when it died or is not ready.
daemon_start() {
    local name=$1 ready=$2
    shift 2
    case $ready in inet:*)
        if e2e__listening "$ready"; then
            e2e_log "daemon $name: port ${ready#inet:} is already in use"
            return 1
        fi
        ;;
    esac
    "$@" >>"$E2E_DIR/$name.log" 2>&1 &
    DAEMON_PID=$!
    echo "$DAEMON_PID $name" >>"$E2E_DIR/.pids"
    [ "$ready" = - ] && return 0
    local t=50
    while [ $t -gt 0 ]; do
        if ! kill -0 "$DAEMON_PID" 2>/dev/null; then
            e2e_log "daemon $name exited early; $E2E_DIR/$name.log:"
            sed 's/^/#   /' "$E2E_DIR/$name.log" | tail -n 20
            return 1
        fi
        e2e__listening "$ready" && return 0
        sleep 0.1
        t=$((t - 1))
    done
    e2e_log "daemon $name not ready on $ready after 5 s; $E2E_DIR/$name.log:"
    sed 's/^/#   /' "$E2E_DIR/$name.log" | tail -n 20
    return 1
}

# daemon_stop NAME: TERM, then KILL after 3 s.  Returns the daemon's exit
# status when it was already dead (or 0 when stopped by us).
daemon_stop() {
    local pid line rc=0
    pid=$(awk -v n="$1" '$2 == n { p = $1 } END { print p }' "$E2E_DIR/.pids" 2>/dev/null)
    [ -n "$pid" ] || return 0
    if kill -TERM "$pid" 2>/dev/null; then
        local t=30
        while kill -0 "$pid" 2>/dev/null && [ $t -gt 0 ]; do
            sleep 0.1
            t=$((t - 1))
        done
        kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
    rc=$?
    line=$(grep -v "^$pid $1\$" "$E2E_DIR/.pids")
    printf '%s\n' "$line" | grep . >"$E2E_DIR/.pids"
    return $rc
}

# daemon_alive NAME: 0 when the daemon is still running.
daemon_alive() {
    local pid
    pid=$(awk -v n="$1" '$2 == n { p = $1 } END { print p }' "$E2E_DIR/.pids" 2>/dev/null)
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

# policyd_start INI [unix|inet] [EXTRA ARGS...]: starts postseal-policyd -f -v
# (foreground, every decision logged) on INI listening on $E2E_DIR/policyd.sock (unix, the default) or
# 127.0.0.1:PS_PORT_BASE+10 (inet).  Sets POLICYD_LISTEN to the endpoint in
# Postfix syntax (unix:/path or inet:127.0.0.1:port) for pf_policy.
policyd_start() {
    local ini=$1 kind=${2:-unix}
    shift 2 2>/dev/null || shift $#
    need_prog "$POSTSEAL_POLICYD"
    case $kind in
    unix)
        rm -f "$E2E_DIR/policyd.sock"
        POLICYD_LISTEN=unix:$E2E_DIR/policyd.sock
        daemon_start policyd "$POLICYD_LISTEN" \
            "$POSTSEAL_POLICYD" -f -v -c "$ini" --listen "$POLICYD_LISTEN" "$@"
        ;;
    inet)
        POLICYD_LISTEN=inet:127.0.0.1:$((E2E_BASE + 10))
        daemon_start policyd "inet:$((E2E_BASE + 10))" \
            "$POSTSEAL_POLICYD" -f -v -c "$ini" --listen "$POLICYD_LISTEN" "$@"
        ;;
    *) e2e_die "policyd_start: unix or inet, not '$kind'" ;;
    esac
}
policyd_stop() { daemon_stop policyd; }

# nginx_start NAME ROOT PORT CERT [CONF]: Debian's nginx (foreground, private
# prefix $E2E_DIR/NAME.nginx/) serving ROOT/$host over HTTPS on
# 127.0.0.1:PORT with $PKI/CERT.crt/.key: one web root per host name, the
# layout of `postseal-keys wkd` (ROOT/openpgpkey.DOMAIN/..., ROOT/DOMAIN/...).
# CONF, when given, is included in the server block instead of the built-in
# WKD location (e.g. contrib/web/nginx-wkd.conf).  Access log:
# $E2E_DIR/NAME.nginx/access.log ("HOST URI STATUS").  Stop: daemon_stop NAME.
nginx_start() {
    local name=$1 root=$2 port=$3 cert=$4 conf=${5:-} d
    d=$E2E_DIR/$name.nginx
    mkdir -p "$d/tmp" && chmod 0755 "$d" || return 1
    if [ -z "$conf" ]; then
        conf=$d/wkd.conf
        cat >"$conf" <<EOF
location /.well-known/openpgpkey/ {
    default_type application/octet-stream;
    add_header Access-Control-Allow-Origin * always;
}
EOF
    fi
    cat >"$d/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log info;
events { worker_connections 64; }
http {
    log_format hostlog '\$host \$request_uri \$status';
    access_log $d/access.log hostlog;
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
    server {
        listen 127.0.0.1:$port ssl;
        server_name _;
        ssl_certificate $PKI/$cert.crt;
        ssl_certificate_key $PKI/$cert.key;
        root $root/\$host;
        include $conf;
    }
}
EOF
    daemon_start "$name" "inet:$port" nginx -p "$d" -c "$d/nginx.conf"
}

# slapd_start NAME DC PORT: a real OpenLDAP slapd (mdb, core + cosine +
# inetOrgPerson schemas, anonymous read) for the suffix dc=DC,dc=test on
# ldap://127.0.0.1:PORT, with the entries dc=DC,dc=test and
# ou=people,dc=DC,dc=test already added.  Log $E2E_DIR/NAME.log (-d 256: one
# line per operation, e.g. SRCH ... filter="(mail=...)").  Sets SLAPD_ADD to
# the ldapadd command (admin bind) for more entries: $SLAPD_ADD -f FILE.
slapd_start() {
    local name=$1 dc=$2 port=$3 d suffix
    d=$E2E_DIR/$name.ldap
    suffix="dc=$dc,dc=test"
    mkdir -p "$d/db" || return 1
    cat >"$d/slapd.conf" <<EOF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile $d/slapd.pid
database mdb
maxsize 10485760
suffix "$suffix"
rootdn "cn=admin,$suffix"
rootpw secret
directory $d/db
access to * by * read
EOF
    printf 'dn: %s\nobjectClass: dcObject\nobjectClass: organization\no: %s\ndc: %s\n\n' \
        "$suffix" "$dc" "$dc" >"$d/base.ldif"
    printf 'dn: ou=people,%s\nobjectClass: organizationalUnit\nou: people\n' "$suffix" >>"$d/base.ldif"
    daemon_start "$name" "inet:$port" slapd -d 256 -f "$d/slapd.conf" -h "ldap://127.0.0.1:$port/" ||
        return 1
    SLAPD_ADD="ldapadd -x -H ldap://127.0.0.1:$port -D cn=admin,$suffix -w secret"
    $SLAPD_ADD -f "$d/base.ldif" >"$d/base.log" 2>&1 || {
        e2e_log "slapd $name: base entries refused: $(tail -n 2 "$d/base.log")"
        return 1
    }
}

# sasl_start USER:PASSWORD...: a private Dovecot auth service (no mail
# protocols) with these plaintext users, socket $E2E_DIR/dovecot/run/auth-postfix
# (mode 0666) in SASL_PATH; log $E2E_DIR/dovecot/dovecot.log.  Wire it to an
# instance with pf_sasl NAME.  Returns 1 when Dovecot did not come up.
sasl_start() {
    local dv=$E2E_DIR/dovecot u
    command -v dovecot >/dev/null 2>&1 || e2e_die "dovecot is missing (package dovecot-core)"
    mkdir -p "$dv/run" "$dv/state" || e2e_die "sasl_start: mkdir $dv"
    : >"$dv/passwd"
    for u in "$@"; do
        printf '%s:{PLAIN}%s\n' "${u%%:*}" "${u#*:}" >>"$dv/passwd"
    done
    chmod 0644 "$dv/passwd"
    cat >"$dv/dovecot.conf" <<EOF
# Private Dovecot for SMTP AUTH tests (generated by tests/e2e/lib.sh)
base_dir = $dv/run
state_dir = $dv/state
log_path = $dv/dovecot.log
protocols =
listen = 127.0.0.1
ssl = no
auth_mechanisms = plain login
disable_plaintext_auth = no
passdb {
  driver = passwd-file
  args = scheme=PLAIN $dv/passwd
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=/nonexistent
}
service auth {
  unix_listener auth-postfix {
    mode = 0666
  }
}
EOF
    SASL_PATH=$dv/run/auth-postfix
    daemon_start dovecot "unix:$SASL_PATH" dovecot -F -c "$dv/dovecot.conf"
}

# pf_sasl NAME: SMTP AUTH on NAME's public smtpd through sasl_start's Dovecot
# (also offered without TLS: smtpd_tls_auth_only = no).
pf_sasl() {
    [ -n "${SASL_PATH:-}" ] || e2e_die "pf_sasl: sasl_start first"
    pf_conf "$1" "smtpd_sasl_auth_enable = yes" "smtpd_sasl_type = dovecot" \
        "smtpd_sasl_path = $SASL_PATH" "smtpd_tls_auth_only = no" \
        "smtpd_sasl_security_options = noanonymous"
}

# ---------------------------------------------------------------- postfix

# pf_new NAME [CERT]: creates Postfix instance NAME (config, queue, data,
# mailboxes, log under $E2E_DIR/pf-NAME) with smtpd TLS cert $PKI/CERT.crt
# (default "server").  Instance k (0-based, in creation order) listens on
# 127.0.0.1:PS_PORT_BASE+2k (public smtpd) and +2k+1 (reinjection smtpd).
# Every recipient domain is local (virtual_mailbox_domains = static:all):
# pipe(8) transport "deliver" (user nobody) stores each message as one file
# $E2E_DIR/pf-NAME/mail/DOMAIN/LOCAL/new/* with Delivered-To, Return-Path and
# X-Original-To added (see mail_*).  Addresses: [a-z0-9._+=-]@... only.
pf_new() {
    local name=$1 cert=${2:-server} d
    [ "$E2E_NINST" -lt 5 ] || e2e_die "pf_new: at most 5 instances"
    d=$E2E_DIR/pf-$name
    [ -e "$d" ] && e2e_die "pf_new: instance $name exists"
    [ -s "$PKI/$cert.crt" ] || e2e_die "pf_new: no certificate $PKI/$cert.crt"
    local port=$((E2E_BASE + 2 * E2E_NINST)) rport=$((E2E_BASE + 2 * E2E_NINST + 1))
    E2E_NINST=$((E2E_NINST + 1))
    mkdir -p "$d/etc" "$d/data" "$d/log" "$d/mail" "$d/spool/pid" || e2e_die "pf_new: mkdir $d"
    echo "$port $rport" >"$d/ports"
    echo "$name" >>"$E2E_DIR/.instances"
    local q
    for q in active bounce corrupt defer deferred flush hold incoming private saved trace; do
        mkdir -p "$d/spool/$q" && chown postfix: "$d/spool/$q" && chmod 0700 "$d/spool/$q"
    done
    mkdir -p "$d/spool/maildrop" "$d/spool/public"
    chown postfix:postdrop "$d/spool/maildrop" "$d/spool/public"
    chmod 0730 "$d/spool/maildrop"
    chmod 0710 "$d/spool/public"
    chown postfix: "$d/data"
    chown nobody:nogroup "$d/mail"
    touch "$d/spool/quick-start"
    cat >"$d/etc/deliver" <<EOF
#!/bin/sh
# Test delivery agent (pipe(8), user nobody): stores stdin as one file under
# $d/mail/DOMAIN/LOCAL/new/.  Bad addresses bounce (69), I/O errors defer (75).
umask 022
rcpt=\$(printf '%s' "\$1" | tr 'A-Z' 'a-z')
case \$rcpt in
*/* | .* | *@.* | *..* | *[!a-z0-9@._+=-]* | *@*@*) echo "5.1.3 bad test address" >&2; exit 69 ;;
?*@?*) ;;
*) echo "5.1.3 bad test address" >&2; exit 69 ;;
esac
dir=$d/mail/\${rcpt#*@}/\${rcpt%@*}
mkdir -p "\$dir/tmp" "\$dir/new" || exit 75
f=\$(date +%s.%N).\$\$
cat >"\$dir/tmp/\$f" || exit 75
mv "\$dir/tmp/\$f" "\$dir/new/\$f" || exit 75
exit 0
EOF
    chmod 0755 "$d/etc/deliver"
    cat >"$d/etc/main.cf" <<EOF
# Private postseal test instance "$name" (generated by tests/e2e/lib.sh).
compatibility_level = 3.6
queue_directory = $d/spool
data_directory = $d/data
mail_owner = postfix
setgid_group = postdrop
myhostname = $name.postseal.test
mydomain = postseal.test
myorigin = \$myhostname
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
alias_maps =
alias_database =
biff = no
default_transport = error:5.7.0 postseal test instance delivers nothing outside the box
relay_transport = \$default_transport
local_transport = \$default_transport
virtual_transport = deliver
virtual_mailbox_domains = static:all
virtual_mailbox_maps = static:ok
deliver_destination_recipient_limit = 1
smtpd_banner = \$myhostname ESMTP postseal-test
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_recipient_restrictions =
smtpd_end_of_data_restrictions =
smtpd_policy_service_timeout = 10s
smtpd_tls_security_level = may
smtpd_tls_cert_file = $PKI/$cert.crt
smtpd_tls_key_file = $PKI/$cert.key
smtpd_tls_CAfile = $PKI/ca.crt
smtpd_tls_ask_ccert = yes
smtpd_tls_fingerprint_digest = sha256
smtpd_tls_loglevel = 1
smtpd_tls_received_header = yes
smtp_tls_security_level = may
smtp_tls_CAfile = $PKI/ca.crt
smtp_tls_fingerprint_digest = sha256
smtp_tls_loglevel = 1
queue_run_delay = 10s
minimal_backoff_time = 10s
maximal_backoff_time = 20s
delay_warning_time = 0
maillog_file = $d/log/maillog
maillog_file_prefixes = $E2E_RUN
EOF
    cat >"$d/etc/master.cf" <<EOF
# Private postseal test instance "$name": chroot n everywhere.
127.0.0.1:$port inet n - n - - smtpd
127.0.0.1:$rport inet n - n - - smtpd
  -o syslog_name=postfix/reinject
  -o content_filter=
  -o receive_override_options=no_unknown_recipient_checks,no_header_body_checks,no_milters
  -o smtpd_relay_restrictions=permit_mynetworks,reject
  -o smtpd_recipient_restrictions=
  -o smtpd_end_of_data_restrictions=
  -o smtpd_tls_ask_ccert=no
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
deliver   unix  -       n       n       -       -       pipe
  flags=DRO user=nobody null_sender= argv=$d/etc/deliver \${recipient}
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
}

pf__dir() {
    [ -n "${1:-}" ] && [ -d "$E2E_DIR/pf-$1" ] || {
        echo "e2e: no Postfix instance '${1:-}' (pf_new first)" >&2
        return 1
    }
    echo "$E2E_DIR/pf-$1"
}

# pf_dir NAME: the instance's directory; its config_directory is pf_dir/etc.
pf_dir() { pf__dir "$1"; }
# pf_port NAME / pf_reinject_port NAME: its public / reinjection smtpd port.
pf_port() { cut -d' ' -f1 "$(pf__dir "$1")/ports"; }
pf_reinject_port() { cut -d' ' -f2 "$(pf__dir "$1")/ports"; }
# pf_log NAME: path of its log file (maillog_file; Postfix logs nowhere else).
pf_log() { echo "$(pf__dir "$1")/log/maillog"; }

# pf_conf NAME 'param = value'...: main.cf settings (postconf -e).
pf_conf() {
    local d
    d=$(pf__dir "$1") || exit 1
    shift
    postconf -c "$d/etc" -e "$@" || e2e_die "pf_conf: postconf -e $*"
}

# pf_smtpd NAME 'param=value'...: -o overrides on the PUBLIC smtpd only.
pf_smtpd() {
    local d p a
    d=$(pf__dir "$1") || exit 1
    p=$(pf_port "$1")
    shift
    for a in "$@"; do
        postconf -c "$d/etc" -P "127.0.0.1:$p/inet/$a" || e2e_die "pf_smtpd: $a"
    done
}

# pf_master NAME < LINES: appends master.cf lines (new services).
pf_master() {
    local d
    d=$(pf__dir "$1") || exit 1
    cat >>"$d/etc/master.cf"
}

# pf_policy NAME [ENDPOINT]: check_policy_service ENDPOINT (default
# $POLICYD_LISTEN from policyd_start) in smtpd_recipient_restrictions (before
# anything else) and in smtpd_end_of_data_restrictions, public smtpd only
# (main.cf; the reinjection smtpd has its own empty restrictions).
pf_policy() {
    local ep=${2:-${POLICYD_LISTEN:-}}
    [ -n "$ep" ] || e2e_die "pf_policy: no endpoint (policyd_start first)"
    pf_conf "$1" "smtpd_recipient_restrictions = check_policy_service $ep, permit_mynetworks, reject_unauth_destination" \
        "smtpd_end_of_data_restrictions = check_policy_service $ep"
}

# pf_filter NAME CONF [FLAGS]: content_filter on the public smtpd through a
# pipe(8) transport "postseal-filter" running as nobody:
#   argv=$POSTSEAL_FILTER -c CONF -f ${sender} -- ${recipient}
# (pipe flags default "Rq").  The filter reinjects into pf_reinject_port NAME.
pf_filter() {
    local name=$1 conf=$2 flags=${3:-Rq} prog=$POSTSEAL_FILTER
    need_prog "$prog"
    [ -r "$conf" ] || e2e_die "pf_filter: no config $conf"
    # pipe(8) runs it as nobody: copy what nobody cannot reach (a checkout
    # under /root).
    if ! setpriv --reuid=65534 --regid=65534 --clear-groups -- test -x "$prog" 2>/dev/null; then
        mkdir -p "$E2E_DIR/bin" && cp "$prog" "$E2E_DIR/bin/" || e2e_die "pf_filter: cp $prog"
        prog=$E2E_DIR/bin/${prog##*/}
    fi
    if ! e2e_can_reach "$conf"; then
        cp "$conf" "$E2E_DIR/filter-${conf##*/}" || e2e_die "pf_filter: cp $conf"
        conf=$E2E_DIR/filter-${conf##*/}
    fi
    pf_master "$name" <<EOF
postseal-filter unix - n n - 4 pipe
  flags=$flags user=nobody null_sender=
  argv=$prog -c $conf -f \${sender} -- \${recipient}
EOF
    pf_smtpd "$name" "content_filter=postseal-filter:dummy"
}

pf__backdate() {
    local d
    d=$(pf__dir "$1") || exit 1
    find "$d/etc" -maxdepth 1 -type f -exec touch -d '-10 seconds' {} +
}

# pf_start NAME: starts the instance, waits until both smtpd ports listen.
pf_start() {
    local d p rp
    d=$(pf__dir "$1") || exit 1
    p=$(pf_port "$1")
    rp=$(pf_reinject_port "$1")
    # Someone else's server on our port would answer in our place.
    if e2e__listening "inet:$p" || e2e__listening "inet:$rp"; then
        e2e_die "pf_start $1: port $p or $rp is already in use (choose another PS_PORT_BASE)"
    fi
    pf__backdate "$1"
    postfix -c "$d/etc" start >>"$d/log/postfix-start.log" 2>&1 || {
        sed 's/^/#   /' "$d/log/postfix-start.log" "$d/log/maillog" 2>/dev/null | tail -n 20
        e2e_die "pf_start $1: postfix start failed"
    }
    e2e_wait 10 e2e__listening "inet:$p" && e2e_wait 5 e2e__listening "inet:$rp" ||
        e2e_die "pf_start $1: smtpd not listening on $p/$rp (see $d/log/maillog)"
}

# pf_reload NAME: after pf_conf/pf_master on a running instance.
pf_reload() {
    local d
    d=$(pf__dir "$1") || exit 1
    pf__backdate "$1"
    postfix -c "$d/etc" reload >/dev/null 2>&1 || e2e_die "pf_reload $1 failed"
    sleep 0.5
}

pf__master_pid() { # DIR: pid of the instance's running master
    local pid
    pid=$(tr -d ' ' <"$1/spool/pid/master.pid" 2>/dev/null) || return 1
    # A stale pid file may name a pid reused by someone else: the master of
    # this instance runs in its queue directory.
    [ -n "$pid" ] && [ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" = "$1/spool" ] && echo "$pid"
}

# pf_stop NAME: stops the instance and waits until its master is gone.
pf_stop() {
    local d pid t=50
    d=$(pf__dir "$1") || exit 1
    pid=$(pf__master_pid "$d") || return 0
    postfix -c "$d/etc" stop >/dev/null 2>&1
    while kill -0 "$pid" 2>/dev/null && [ $t -gt 0 ]; do
        sleep 0.1
        t=$((t - 1))
    done
    if kill -0 "$pid" 2>/dev/null; then
        postfix -c "$d/etc" abort >/dev/null 2>&1
        sleep 0.5
        kill -KILL "$pid" 2>/dev/null
    fi
    return 0
}

# ----------------------------------------------------------------- queue

# pf_queue NAME [QUEUE]: prints one line per queued message:
# "QUEUE_NAME QUEUE_ID SENDER RECIPIENTS(comma separated)"; QUEUE filters
# (hold, deferred, active, incoming, maildrop).
pf_queue() {
    local d
    d=$(pf__dir "$1") || exit 1
    postqueue -c "$d/etc" -j 2>/dev/null |
        jq -r '[.queue_name, .queue_id, .sender, ([.recipients[].address] | join(","))] | join(" ")' |
        awk -v q="${2:-}" 'q == "" || $1 == q'
}

# pf_queue_count NAME [QUEUE]: number of messages (in QUEUE).
pf_queue_count() { pf_queue "$@" | grep -c .; }

# pf_hold_count NAME: messages in the hold queue.
pf_hold_count() { pf_queue_count "$1" hold; }

# pf_queue_reasons NAME: recipients' delay_reason of deferred messages.
pf_queue_reasons() {
    local d
    d=$(pf__dir "$1") || exit 1
    postqueue -c "$d/etc" -j 2>/dev/null | jq -r '.recipients[] | .delay_reason // empty'
}

# pf_cat NAME QUEUE_ID: the queued message (postcat -bh: headers and body).
pf_cat() {
    local d
    d=$(pf__dir "$1") || exit 1
    postcat -c "$d/etc" -bh -q "$2" 2>/dev/null
}

pf__idle() { ! pf_queue "$1" | awk '$1 == "incoming" || $1 == "active" || $1 == "maildrop"' | grep -q .; }

# pf_settle NAME [TIMEOUT]: waits (default 20 s) until no message of NAME is
# in incoming/active/maildrop: everything was delivered, bounced, deferred or
# held.  Use before asserting that something was NOT delivered.
pf_settle() {
    local t=${2:-20}
    sleep 0.3
    e2e_wait "$t" pf__idle "$1" || {
        fail "instance $1 settles within $t s" "$(pf_queue "$1" | head -n 5)"
        return 1
    }
}

# pf_flush NAME: postqueue -f (retry deferred mail now).
pf_flush() {
    local d
    d=$(pf__dir "$1") || exit 1
    postqueue -c "$d/etc" -f >/dev/null 2>&1
}

# pf_log_wait NAME ERE [TIMEOUT]: waits until the instance's log has a line
# matching ERE.
pf_log_wait() {
    local f
    f=$(pf_log "$1")
    e2e_wait "${3:-10}" grep -Eq -- "$2" "$f"
}

# --------------------------------------------------------------- mailboxes

mail__dir() { # NAME ADDR
    local a
    a=$(printf '%s' "$2" | tr 'A-Z' 'a-z')
    echo "$(pf__dir "$1")/mail/${a#*@}/${a%@*}"
}

# mail_files NAME ADDR: the delivered messages of ADDR, oldest first.
mail_files() {
    local m
    m=$(mail__dir "$1" "$2")
    # shellcheck disable=SC2012
    [ -d "$m/new" ] && ls -1tr "$m/new" | sed "s|^|$m/new/|"
}

# mail_count NAME ADDR: how many messages ADDR received.
mail_count() { mail_files "$1" "$2" | grep -c .; }

# mail_last NAME ADDR: path of the newest message of ADDR (fails if none).
mail_last() { mail_files "$1" "$2" | tail -n 1 | grep .; }

# mail_wait NAME ADDR [COUNT] [TIMEOUT]: waits (default 1 message, 20 s)
# until ADDR received at least COUNT messages.
mail__atleast() { [ "$(mail_count "$1" "$2")" -ge "$3" ]; }
mail_wait() { e2e_wait "${4:-20}" mail__atleast "$1" "$2" "${3:-1}"; }

# ------------------------------------------------------------- SMTP clients

# smtp_send NAME [SWAKS OPTIONS...]: sends one message with swaks to NAME's
# public smtpd (defaults: --from sender@example.test --helo client.test, a
# subject naming the test; add e.g. --to, --tls, --tls-cert/--tls-key,
# --tls-protocol, --tls-cipher, --body, --header).  The transcript goes to
# $SMTP_LOG; SMTP_RC is swaks' exit status (0 ok, 24 refused at RCPT,
# 26 refused after DATA, 28 TLS failure).  Returns 0 always; check with
# smtp_code / smtp_codes.
smtp_send() {
    local port
    port=$(pf_port "$1") || exit 1
    shift
    E2E_NSEND=$((E2E_NSEND + 1))
    SMTP_LOG=$E2E_DIR/smtp.$E2E_NSEND.log
    swaks --server 127.0.0.1 --port "$port" --helo client.test \
        --from sender@example.test --timeout 30 \
        --header "Subject: postseal e2e $E2E_NAME #$E2E_NSEND" "$@" >"$SMTP_LOG" 2>&1
    SMTP_RC=$?
    return 0
}

# smtp_code [CMD_ERE] [N]: the reply code of the server to the N-th (default
# first) client command matching ^CMD_ERE (e.g. 'RCPT', 'RCPT TO:<b@', 'MAIL',
# 'DATA', '\.' = end of data) in $SMTP_LOG.  No CMD: the last reply code.
# Prints nothing when that command was never answered.
smtp_code() {
    local cmd=${1:-} n=${2:-1}
    awk -v cmd="$cmd" -v n="$n" '
        /^ *[-~]> / { c = $0; sub(/^ *[-~]> /, "", c)
                      want = (cmd != "" && c ~ "^" cmd && ++seen == n); next }
        /^<[-~*]* +[0-9][0-9][0-9][ -]/ || /^<[-~*]* +[0-9][0-9][0-9]$/ {
                      line = $0; sub(/^<[-~*]* +/, "", line); code = substr(line, 1, 3)
                      if (want) { print code; found = 1; exit }
                      last = code }
        END { if (cmd == "" && !found && last != "") print last }' "$SMTP_LOG"
}

# smtp_codes: every reply code of $SMTP_LOG in order, space separated.
smtp_codes() {
    awk '/^<[-~*]* +[0-9][0-9][0-9]/ { l = $0; sub(/^<[-~*]* +/, "", l)
         if (substr(l, 4, 1) != "-") printf "%s%s", sep, substr(l, 1, 3); sep = " " }
         END { print "" }' "$SMTP_LOG"
}

# smtp_reply CMD_ERE [N]: the full text of that reply (last line).
smtp_reply() {
    local cmd=$1 n=${2:-1}
    awk -v cmd="$cmd" -v n="$n" '
        /^ *[-~]> / { c = $0; sub(/^ *[-~]> /, "", c)
                      want = (c ~ "^" cmd && ++seen == n); next }
        want && /^<[-~*]* +[0-9][0-9][0-9] / { l = $0; sub(/^<[-~*]* +/, "", l); print l; exit }' "$SMTP_LOG"
}

# Interactive sessions, one at a time, transcript in swaks format in $SMTP_LOG:
#   smtp_open NAME plain            plain TCP
#   smtp_open NAME tls [OPTS...]    openssl s_client -starttls smtp OPTS
#                                   (e.g. -tls1_3 -ciphersuites X, -cipher X
#                                   -tls1_2, -cert F -key F)
#   smtp_cmd LINE                   sends LINE, reads the reply: SMTP_CODE
#                                   (empty when the server closed), SMTP_REPLY
#   smtp_data FILE                  sends FILE's lines then "." (after DATA/354)
#   smtp_closed [TIMEOUT]           0 when the server has closed the connection
#   smtp_close                      QUIT (if open) and tear down
# smtp_open sends EHLO client.test (after STARTTLS for tls) and returns 1 when
# that failed (handshake refused: see $SMTP_LOG.err).
smtp_open() {
    local name=$1 mode=$2 port
    port=$(pf_port "$name") || exit 1
    shift 2
    E2E_NSEND=$((E2E_NSEND + 1))
    SMTP_LOG=$E2E_DIR/smtp.$E2E_NSEND.log
    : >"$SMTP_LOG"
    SMTP_CRLF=
    case $mode in
    plain)
        exec {SMTP_FD}<>"/dev/tcp/127.0.0.1/$port" || return 1
        SMTP_IN=$SMTP_FD SMTP_OUT=$SMTP_FD SMTP_CRLF=$'\r'
        smtp__read || return 1
        ;;
    tls)
        coproc SMTP_CO {
            exec openssl s_client -quiet -crlf -starttls smtp -name client.test \
                -connect "127.0.0.1:$port" -servername localhost "$@" 2>>"$SMTP_LOG.err"
        }
        # Own copies: bash closes the coproc's fds as soon as it exits, and
        # a closed connection must read as EOF, not as a bad descriptor.
        exec {SMTP_IN}<&"${SMTP_CO[0]}" {SMTP_OUT}>&"${SMTP_CO[1]}"
        SMTP_FD= SMTP_PID=$SMTP_CO_PID
        echo "$SMTP_PID session" >>"$E2E_DIR/.pids"
        ;;
    *) e2e_die "smtp_open: plain or tls, not '$mode'" ;;
    esac
    smtp_cmd "EHLO client.test"
    [ "${SMTP_CODE:-}" = 250 ]
}

smtp__read() { # reads one (multi-line) reply into SMTP_CODE / SMTP_REPLY
    local line
    SMTP_CODE= SMTP_REPLY=
    while IFS= read -r -t "${SMTP_TIMEOUT:-30}" line <&"$SMTP_IN"; do
        line=${line%$'\r'}
        printf '<~  %s\n' "$line" >>"$SMTP_LOG"
        case $line in
        [0-9][0-9][0-9]-*) continue ;;
        [0-9][0-9][0-9]*)
            SMTP_CODE=${line:0:3} SMTP_REPLY=$line
            return 0
            ;;
        esac
    done
    echo "*** connection closed or timed out" >>"$SMTP_LOG"
    return 1
}

smtp__write() { # LINE; SIGPIPE ignored so a closed peer cannot kill us
    local rc
    printf ' ~> %s\n' "$1" >>"$SMTP_LOG"
    trap '' PIPE
    printf '%s%s\n' "$1" "$SMTP_CRLF" 2>/dev/null 1>&"$SMTP_OUT"
    rc=$?
    trap - PIPE
    return $rc
}

smtp_cmd() {
    smtp__write "$1" || {
        SMTP_CODE= SMTP_REPLY=
        return 1
    }
    smtp__read
}

smtp_data() {
    local line
    printf ' ~> (%s)\n' "$1" >>"$SMTP_LOG"
    trap '' PIPE
    while IFS= read -r line || [ -n "$line" ]; do
        case $line in .*) line=.$line ;; esac
        printf '%s%s\n' "$line" "$SMTP_CRLF"
    done <"$1" 2>/dev/null 1>&"$SMTP_OUT"
    trap - PIPE
    smtp_cmd "."
}

smtp_closed() {
    local line
    if IFS= read -r -t "${1:-5}" line <&"$SMTP_IN"; then
        printf '<~  %s\n' "${line%$'\r'}" >>"$SMTP_LOG"
        return 1
    fi
    # read failed: EOF (closed) returns 1, a time-out returns > 128.
    [ $? -le 128 ] || return 1
    # A write must not get an answer either.
    smtp__write "NOOP" && IFS= read -r -t 2 line <&"$SMTP_IN" && return 1
    echo "*** server closed the connection" >>"$SMTP_LOG"
    return 0
}

smtp_close() {
    if [ -n "${SMTP_FD:-}" ]; then
        smtp__write QUIT && IFS= read -r -t 2 _ <&"$SMTP_IN"
        exec {SMTP_FD}>&-
        SMTP_FD=
    elif [ -n "${SMTP_PID:-}" ]; then
        smtp__write QUIT
        exec {SMTP_IN}<&- {SMTP_OUT}>&-
        kill "$SMTP_PID" 2>/dev/null
        wait "$SMTP_PID" 2>/dev/null
        SMTP_PID=
    fi
    return 0
}

# ----------------------------------------------------------------- cleanup

e2e__cleanup() {
    local n pid rest
    if [ -f "$E2E_DIR/.pids" ]; then
        while read -r pid rest; do
            kill -TERM "$pid" 2>/dev/null
        done <"$E2E_DIR/.pids"
        sleep 0.2
        while read -r pid rest; do
            kill -KILL "$pid" 2>/dev/null
        done <"$E2E_DIR/.pids"
        : >"$E2E_DIR/.pids"
    fi
    if [ -f "$E2E_DIR/.instances" ]; then
        while read -r n; do
            pf_stop "$n"
        done <"$E2E_DIR/.instances"
    fi
    # gpg-agents that gpg or gpgme started for GnuPG homes of this test.
    if command -v gpgconf >/dev/null 2>&1; then
        find "$E2E_DIR" -name S.gpg-agent -type s 2>/dev/null | while read -r n; do
            gpgconf --homedir "${n%/S.gpg-agent}" --kill all
        done
    fi
}

e2e__exit() {
    local rc=$?
    trap - EXIT
    trap '' INT TERM HUP
    if [ -n "${E2E_DEMO:-}" ]; then
        e2e__cleanup >/dev/null 2>&1
        return
    fi
    if [ $rc -ne 0 ] && [ $E2E_FAIL -eq 0 ]; then
        e2e__result "not ok" "test script exited with status $rc"
    fi
    if [ $E2E_PASS -eq 0 ] && [ $E2E_FAIL -eq 0 ] && [ ! -f "$E2E_RUN/results/$E2E_NAME.skip" ]; then
        e2e__result "not ok" "test asserted nothing"
    fi
    echo "$E2E_PASS $E2E_FAIL" >"$E2E_RUN/results/$E2E_NAME"
    printf '# %s: %d passed, %d failed\n' "$E2E_NAME" $E2E_PASS $E2E_FAIL
    e2e__cleanup >/dev/null 2>&1
    [ $E2E_FAIL -eq 0 ]
}

# ------------------------------------------------------------------- setup

[ "$(id -u)" = 0 ] || {
    echo "e2e: the end-to-end tests run as root (private Postfix)" >&2
    exit 2
}
for e2e__p in postfix postconf postqueue postcat swaks openssl jq; do
    command -v "$e2e__p" >/dev/null 2>&1 || {
        echo "e2e: $e2e__p is missing (make deps)" >&2
        exit 2
    }
done
mkdir -p "$E2E_RUN/results" || exit 2
rm -rf "$E2E_DIR" "$E2E_RUN/results/$E2E_NAME" "$E2E_RUN/results/$E2E_NAME.skip"
mkdir -p "$E2E_DIR" || exit 2
chmod 0755 "$E2E_ROOT/tests/work" "$E2E_RUN" "$E2E_DIR" 2>/dev/null
trap e2e__exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
# Postfix runs pipe(8) and spawn(8) commands as nobody: programs under test in
# a checkout nobody cannot reach (under /root) are used from a copy.
for e2e__p in POSTSEAL_POLICYD POSTSEAL_TLSPOLICYD POSTSEAL_FILTER; do
    e2e__f=${!e2e__p}
    if [ -x "$e2e__f" ] &&
        ! setpriv --reuid=65534 --regid=65534 --clear-groups -- test -x "$e2e__f" 2>/dev/null; then
        mkdir -p "$E2E_DIR/bin" && cp "$e2e__f" "$E2E_DIR/bin/" &&
            printf -v "$e2e__p" '%s' "$E2E_DIR/bin/${e2e__f##*/}"
    fi
done
pki_init || e2e_die "cannot create the test PKI in $PKI"
e2e_log "$E2E_NAME: work dir $E2E_DIR, ports $E2E_BASE..$((E2E_BASE + 99))"
