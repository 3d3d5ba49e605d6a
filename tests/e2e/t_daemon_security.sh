#!/bin/bash
# Security properties of the real binaries:
#  - started as root with [global] user = nobody, postseal-policyd and
#    postseal-tlspolicyd run as nobody (every uid/gid, no capability left)
#    once their sockets are bound, keep serving, and reload (SIGHUP) as nobody;
#  - a TCP listener given without a host ("inet:PORT") binds 127.0.0.1 only;
#  - private keys that others may read are refused: the inbound S/MIME
#    decryption key (--check names FILE:LINE) and the outbound S/MIME signing
#    key (the message is deferred with 4.3.5, nothing is sent); the same files
#    with mode 0600 are accepted.
. "$(dirname "$0")/lib.sh"

need_prog "$POSTSEAL_POLICYD"
need_prog "$POSTSEAL_TLSPOLICYD"
DUMPS=/work/shared/reference/postfix-3.7-policy-dumps.txt
[ -f "$DUMPS" ] || DUMPS=$E2E_ROOT/tests/bench/policy-dumps.txt
cc -O2 -o "$E2E_DIR/loadgen" "$E2E_ROOT/tests/bench/loadgen.c" || e2e_die "cannot build loadgen"
cc -O2 -o "$E2E_DIR/smtpsink" "$E2E_ROOT/tests/bench/smtpsink.c" || e2e_die "cannot build smtpsink"
NOBODY=$(id -u nobody)
NOGROUP=$(id -g nobody)
mkdir -p "$E2E_DIR/pfetc" && : >"$E2E_DIR/pfetc/main.cf"

status_field() { awk -v k="$2:" '$1 == k { $1 = ""; sub(/^ /, ""); print }' "/proc/$1/status"; }
# runs_as PID: every real/effective/saved/fs uid and gid is nobody's, no capability
check_identity() { # LABEL PID
    # the daemon listens before it drops privileges: give it up to 5 s to finish starting
    e2e_wait 5 sh -c "[ \"\$(awk '\$1 == \"Uid:\" { print \$3 }' /proc/$2/status)\" = $NOBODY ]"
    is "$1: uids (real effective saved fs)" "$NOBODY $NOBODY $NOBODY $NOBODY" \
        "$(status_field "$2" Uid | tr -s '\t ' ' ')"
    is "$1: gids (real effective saved fs)" "$NOGROUP $NOGROUP $NOGROUP $NOGROUP" \
        "$(status_field "$2" Gid | tr -s '\t ' ' ')"
    unlike "$1: no supplementary group root (0)" '(^| )0( |$)' "$(status_field "$2" Groups)"
    is "$1: no effective capability" 0000000000000000 "$(status_field "$2" CapEff)"
    is "$1: no permitted capability" 0000000000000000 "$(status_field "$2" CapPrm)"
}
# listen_addr PORT: the local address of the TCP listener on PORT
listen_addr() { ss -Hltn "sport = :$1" | awk '{print $4}' | sort -u | tr '\n' ' ' | sed 's/ $//'; }

# ---------------------------------------------------------------- policyd
PP=$(e2e_port 1)
cat >"$E2E_DIR/postseal.ini" <<EOF
[global]
user = nobody

[policy]
listen = unix:$E2E_DIR/policyd.sock, inet:$PP
encryption_keysize = 128

[tlspolicy]
listen = inet:$(e2e_port 2)
default = may
EOF
chmod 0644 "$E2E_DIR/postseal.ini"
daemon_start policyd "inet:$PP" "$POSTSEAL_POLICYD" -f -c "$E2E_DIR/postseal.ini" ||
    e2e_die "policyd did not start"
ppid=$DAEMON_PID
e2e_wait 5 test -S "$E2E_DIR/policyd.sock"
check_identity policyd "$ppid"
is "policyd: inet:PORT listens on loopback only" "127.0.0.1:$PP" "$(listen_addr "$PP")"
out=$("$E2E_DIR/loadgen" -t "unix:$E2E_DIR/policyd.sock" -r "$DUMPS" -c 4 -n 400 -H "$ppid" -R 1)
is "policyd as nobody serves the unix socket across a SIGHUP reload" 0 "$?"
like "the reload happened" ' reloads=1 ' "$out"
ok "policyd logged the reload" e2e_wait 5 grep -q 'reload' "$E2E_DIR/policyd.log"
out=$("$E2E_DIR/loadgen" -t "inet:127.0.0.1:$PP" -r "$DUMPS" -c 4 -n 400)
is "policyd as nobody serves TCP" 0 "$?"
check_identity "policyd after the reload" "$ppid"
daemon_stop policyd

# --listen inet:PORT on the command line: loopback too
PP2=$(e2e_port 3)
daemon_start policyd2 "inet:$PP2" "$POSTSEAL_POLICYD" -f -c "$E2E_DIR/postseal.ini" \
    --listen "inet:$PP2" || e2e_die "policyd --listen inet:PORT did not start"
is "policyd --listen inet:PORT listens on loopback only" "127.0.0.1:$PP2" "$(listen_addr "$PP2")"
daemon_stop policyd2

# ------------------------------------------------------------- tlspolicyd
TP=$(e2e_port 2)
daemon_start tlspolicyd "inet:$TP" "$POSTSEAL_TLSPOLICYD" -f -c "$E2E_DIR/postseal.ini" ||
    e2e_die "tlspolicyd did not start"
tpid=$DAEMON_PID
check_identity tlspolicyd "$tpid"
is "tlspolicyd: inet:PORT listens on loopback only" "127.0.0.1:$TP" "$(listen_addr "$TP")"
like "tlspolicyd as nobody answers postmap over TCP" '^may' \
    "$(postmap -c "$E2E_DIR/pfetc" -q example.org "socketmap:inet:127.0.0.1:$TP:tlspolicy" 2>&1)"
kill -HUP "$tpid"
sleep 0.5
like "and after a SIGHUP reload" '^may' \
    "$(postmap -c "$E2E_DIR/pfetc" -q example.org "socketmap:inet:127.0.0.1:$TP:tlspolicy" 2>&1)"
ok "tlspolicyd is still running as nobody" test "$(status_field "$tpid" Uid | awk '{print $2}')" = "$NOBODY"
daemon_stop tlspolicyd

# ------------------------------------------------- private key file modes
if [ ! -x "$POSTSEAL_FILTER" ]; then
    e2e_log "postseal-filter not built: key file checks skipped"
    exit 0
fi
crt=$(pki_smime gw@example.test) || e2e_die "pki_smime"
mkdir -p "$E2E_DIR/keys" && chmod 0755 "$E2E_DIR/keys"
cp "${crt%.crt}.key" "$E2E_DIR/keys/gw.key" && cp "$crt" "$E2E_DIR/keys/gw.crt"
chmod 0644 "$E2E_DIR/keys/gw.crt"

# inbound decryption key
cat >"$E2E_DIR/inbound.ini" <<EOF
[inbound]
local_domains = example.test
smime_keypair = $E2E_DIR/keys/gw.key $E2E_DIR/keys/gw.crt
EOF
line=$(grep -n smime_keypair "$E2E_DIR/inbound.ini" | cut -d: -f1)
for mode in 0644 0604 0606 0640; do
    chmod $mode "$E2E_DIR/keys/gw.key"
    out=$("$POSTSEAL_FILTER" -c "$E2E_DIR/inbound.ini" --check 2>&1)
    st=$?
    isnt "inbound key mode $mode: --check fails" 0 "$st"
    like "inbound key mode $mode: the error names FILE:LINE and the key" \
        "inbound\.ini:$line: .*gw\.key.*(others|group)" "$out"
done
chmod 0600 "$E2E_DIR/keys/gw.key"
ok "inbound key mode 0600: --check accepts it" "$POSTSEAL_FILTER" -c "$E2E_DIR/inbound.ini" --check

# outbound signing key
sport=$(e2e_port 4)
daemon_start sink "inet:$sport" "$E2E_DIR/smtpsink" "127.0.0.1:$sport" "$E2E_DIR/sink.out" ||
    e2e_die "smtp sink did not start"
cat >"$E2E_DIR/sign.ini" <<EOF
[filter]
reinject = 127.0.0.1:$sport
temp_dir = $E2E_DIR
encrypt = never
sign = yes
method = smime

[filter signkey gw]
smime_cert = $E2E_DIR/keys/gw.crt
smime_key = $E2E_DIR/keys/gw.key
EOF
printf 'From: gw@example.test\nTo: x@example.org\nSubject: signed\n\nhello\n' >"$E2E_DIR/msg"
for mode in 0644 0640; do
    chmod $mode "$E2E_DIR/keys/gw.key"
    rm -f "$E2E_DIR/sink.out"
    "$POSTSEAL_FILTER" -c "$E2E_DIR/sign.ini" -f gw@example.test -- x@example.org \
        <"$E2E_DIR/msg" >"$E2E_DIR/sign.err" 2>&1
    is "signing key mode $mode: the filter defers (75)" 75 "$?"
    file_has "signing key mode $mode: stderr starts with 4.3.5 and names the key" "$E2E_DIR/sign.err" \
        '^4\.3\.5 .*gw\.key.*(group|others)'
    ok "signing key mode $mode: nothing was sent" test ! -s "$E2E_DIR/sink.out"
done
chmod 0600 "$E2E_DIR/keys/gw.key"
rm -f "$E2E_DIR/sink.out"
"$POSTSEAL_FILTER" -c "$E2E_DIR/sign.ini" -f gw@example.test -- x@example.org \
    <"$E2E_DIR/msg" >"$E2E_DIR/sign.err" 2>&1
is "signing key mode 0600: the filter signs and reinjects (exit 0)" 0 "$?"
file_has "the reinjected message is S/MIME signed" "$E2E_DIR/sink.out" 'application/pkcs7-signature'
