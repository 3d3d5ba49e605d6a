#!/bin/bash
# Where address expansion happens relative to postseal-filter, measured with
# a real Postfix 3.7.  The policy: mail to x.test must be encrypted (OpenPGP,
# remote@x.test's key is in the filter's GnuPG home); site.test is local.
# Each of three sites gets the same six messages for remote@x.test:
#   direct      RCPT TO:<remote@x.test> on the public smtpd
#   virtual     RCPT TO:<valias@site.test>, virtual_alias_maps -> remote@x.test
#   alias       RCPT TO:<list@site.test>, alias_maps (local(8)) -> remote@x.test
#   forward     RCPT TO:<nobody@site.test>, nobody's .forward -> remote@x.test
#   sendmail    /usr/sbin/sendmail (postdrop/pickup) -> remote@x.test
#   encalias    PGP/MIME encrypted to the gateway's key for list@site.test
#               (site.test is [inbound] local_domains): decrypted for the
#               local address, then forwarded by local(8) -> remote@x.test
# Sites:
#   shipped  content_filter as -o on the public smtpd only (the wiring of
#            contrib/postfix/master.cf.filter before this test existed)
#   maincf   content_filter in main.cf, reinjection smtpd -o content_filter=
#   fixed    contrib/postfix/master.cf.filter + main.cf.filter now: shipped
#            + the output filter (default_transport = postseal-out: a second
#            pass of postseal-filter right before mail leaves the site,
#            reinjecting with --reinject into an smtpd with
#            -o content_filter=smtp:; "deliver:" here, the test's stand-in
#            for smtp, since nothing may leave the box)
# What Postfix does (asserted below): virtual aliases are expanded by
# cleanup(8) BEFORE the queue, so the filter sees remote@x.test everywhere.
# local(8) expands aliases and .forward AFTER the filter and re-submits the
# copy to cleanup(8) without a content filter record, whatever content_filter
# says in main.cf or master.cf: "alias" and "forward" leave in CLEARTEXT on
# shipped and maincf.  pickup(8) applies main.cf content_filter only: the
# sendmail message leaves in clear on shipped; the encrypted message for a
# local alias is decrypted and its forwarded copy leaves in CLEARTEXT on
# shipped and maincf.  fixed encrypts all six, each
# exactly once (the second pass passes encrypted mail on unchanged), and
# nothing loops.  Also on fixed: a no_key = hold message released with
# postsuper -H passes the output filter and is held again.
. "$(dirname "$0")/lib.sh"

need_prog "$POSTSEAL_FILTER"
command -v postalias >/dev/null || e2e_die "postalias missing"
GH=$E2E_DIR/gpg-gw
RH=$E2E_DIR/gpg-remote
mkdir -m 700 "$GH" "$RH" || e2e_die mkdir
gpg --homedir "$RH" --batch --quiet --pinentry-mode loopback --passphrase '' \
    --quick-gen-key remote@x.test future-default default never 2>/dev/null ||
    e2e_die "gpg key generation failed"
gpg --homedir "$RH" --export remote@x.test | gpg --homedir "$GH" --batch --quiet --import 2>/dev/null ||
    e2e_die "gpg import failed"
# the gateway's own key for list@site.test (inbound decryption)
gpg --homedir "$GH" --batch --quiet --pinentry-mode loopback --passphrase '' \
    --quick-gen-key list@site.test future-default default never 2>/dev/null ||
    e2e_die "gpg key generation (gateway) failed"
# encalias: PGP/MIME from outside, encrypted to list@site.test by gpg
printf 'Content-Type: text/plain; charset=us-ascii\n\nbody of encalias\n' >"$E2E_DIR/encalias.ent"
gpg --homedir "$GH" --batch --quiet --trust-model always --armor --encrypt -r list@site.test \
    -o "$E2E_DIR/encalias.asc" "$E2E_DIR/encalias.ent" || e2e_die "gpg --encrypt failed"
{
    printf 'From: sender@example.test\nTo: list@site.test\nSubject: case-encalias\nMIME-Version: 1.0\n'
    printf 'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="eb"\n\n'
    printf -- '--eb\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n\n--eb\n'
    printf 'Content-Type: application/octet-stream\n\n'
    cat "$E2E_DIR/encalias.asc"
    printf -- '\n--eb--\n'
} >"$E2E_DIR/encalias.eml"
gpgconf --homedir "$GH" --kill all 2>/dev/null
chown -R nobody:nogroup "$GH"
mkdir -p "$E2E_DIR/tmp" && chmod 1777 "$E2E_DIR/tmp"

# site NAME MODE: one Postfix instance wired as MODE says.
site() {
    local name=$1 mode=$2 d ini
    pf_new "$name"
    d=$(pf_dir "$name")/etc
    ini=$(e2e_file "filter-$name.ini" <<EOF
[filter]
reinject = 127.0.0.1:$(pf_reinject_port "$name")
gnupg_home = $GH
temp_dir = $E2E_DIR/tmp
encrypt = never
hold_reinject = 127.0.0.1:$(e2e_port 31)
[filter rule x]
recipient_domain = x.test
encrypt = required
method = pgp
[filter rule y]
recipient_domain = y.test
encrypt = required
method = pgp
no_key = hold
[inbound]
local_domains = site.test
gnupg_home = $GH
status_check = no
EOF
    )
    printf 'list: remote@x.test\n' >"$d/aliases"
    postalias -c "$d" "$d/aliases" || e2e_die "postalias"
    printf 'valias@site.test remote@x.test\n' >"$d/virtual"
    postmap -c "$d" "$d/virtual" || e2e_die "postmap"
    mkdir -p "$E2E_DIR/fwd-$name/nobody"
    echo remote@x.test >"$E2E_DIR/fwd-$name/nobody/.forward"
    chown -R nobody:nogroup "$E2E_DIR/fwd-$name"
    e2e_backdate "$d/aliases.db" "$d/virtual.db"
    pf_conf "$name" "mydestination = site.test" "local_transport = local" \
        "alias_maps = hash:$d/aliases" "alias_database = hash:$d/aliases" \
        "virtual_alias_maps = hash:$d/virtual" "forward_path = $E2E_DIR/fwd-$name/\${user}/.forward"
    pf_master "$name" <<EOF
local     unix  -       n       n       -       -       local
EOF
    pf_filter "$name" "$ini"
    case $mode in
    shipped | fixed)
        pf_conf "$name" "virtual_mailbox_domains = x.test"
        ;;
    maincf)
        pf_conf "$name" "virtual_mailbox_domains = x.test"
        postconf -c "$d" -X -P "127.0.0.1:$(pf_port "$name")/inet/content_filter"
        pf_conf "$name" "content_filter = postseal-filter:dummy"
        ;;
    esac
    if [ "$mode" = fixed ]; then
        # x.test is "off-site" here: default_transport, i.e. the output filter
        local out
        out=$(e2e_port 30)
        pf_conf "$name" "virtual_mailbox_domains = none.invalid" "default_transport = postseal-out"
        pf_master "$name" <<EOF
postseal-out unix - n n - 4 pipe
  flags=Rq user=nobody null_sender=
  argv=$(awk '/argv=.*postseal-filter/ { sub(/.*argv=/, ""); print $1; exit }' "$d/master.cf") -c $ini --reinject 127.0.0.1:$out -f \${sender} -- \${recipient}
127.0.0.1:$(e2e_port 31) inet n - n - - smtpd
  -o syslog_name=postfix/hold
  -o content_filter=
  -o receive_override_options=no_unknown_recipient_checks,no_header_body_checks,no_milters
  -o smtpd_relay_restrictions=permit_mynetworks,reject
  -o smtpd_recipient_restrictions=check_client_access,static:HOLD
  -o smtpd_end_of_data_restrictions=
127.0.0.1:$out inet n - n - - smtpd
  -o syslog_name=postfix/out
  -o content_filter=deliver:
  -o receive_override_options=no_unknown_recipient_checks,no_header_body_checks,no_milters,no_address_mappings
  -o smtpd_relay_restrictions=permit_mynetworks,reject
  -o smtpd_recipient_restrictions=
  -o smtpd_end_of_data_restrictions=
EOF
    fi
    pf_start "$name"
}

# deliver_one SITE CASE: sends case CASE, waits for remote@x.test's next
# message, prints its path.
deliver_one() {
    local name=$1 case=$2 before d
    before=$(mail_count "$name" remote@x.test)
    d=$(pf_dir "$name")/etc
    case $case in
    direct) smtp_send "$name" --to remote@x.test --header "Subject: case-$case" --body "body of $case" ;;
    virtual) smtp_send "$name" --to valias@site.test --header "Subject: case-$case" --body "body of $case" ;;
    alias) smtp_send "$name" --to list@site.test --header "Subject: case-$case" --body "body of $case" ;;
    forward) smtp_send "$name" --to nobody@site.test --header "Subject: case-$case" --body "body of $case" ;;
    encalias) smtp_send "$name" --to list@site.test --data "@$E2E_DIR/encalias.eml" ;;
    sendmail)
        printf 'From: sender@example.test\nTo: remote@x.test\nSubject: case-%s\n\nbody of %s\n' "$case" "$case" |
            sendmail -C "$d" -i -f sender@example.test remote@x.test
        ;;
    esac
    if mail_wait "$name" remote@x.test $((before + 1)) 30; then
        mail_last "$name" remote@x.test
    else
        echo "$E2E_DIR/missing"
    fi
}

# check SITE CASE encrypted|clear
check() {
    local name=$1 case=$2 want=$3 m w=$E2E_DIR/$1-$2
    m=$(deliver_one "$name" "$case")
    if [ ! -f "$m" ]; then
        fail "$name/$case: delivered to remote@x.test" "$(pf_queue_reasons "$name" | head -3)"
        return
    fi
    sed -n '/-----BEGIN PGP MESSAGE-----/,/-----END PGP MESSAGE-----/p' "$m" >"$w.asc"
    if [ "$want" = encrypted ]; then
        file_lacks "$name/$case: no cleartext body" "$m" "^body of $case"
        gpg --homedir "$RH" --batch --pinentry-mode loopback --passphrase '' --decrypt "$w.asc" \
            >"$w.plain" 2>/dev/null
        file_has "$name/$case: remote's gpg decrypts it to the text (encrypted once)" "$w.plain" \
            "^body of $case"
    else
        file_has "$name/$case: the body left in CLEARTEXT" "$m" "^body of $case"
        is "$name/$case: no OpenPGP data" 0 "$(grep -c 'BEGIN PGP MESSAGE' "$m")"
    fi
}

site shipped shipped
site maincf maincf
site fixed fixed

for c in direct virtual; do
    check shipped "$c" encrypted
    check maincf "$c" encrypted
    check fixed "$c" encrypted
done
for c in alias forward; do
    check shipped "$c" clear
    check maincf "$c" clear
    check fixed "$c" encrypted
done
check shipped sendmail clear
check maincf sendmail encrypted
check fixed sendmail encrypted
# encrypted to the gateway's key for list@site.test: decrypted for the local
# address (inbound), then forwarded by local(8)
check shipped encalias clear
check maincf encalias clear
check fixed encalias encrypted

# How it happened (the logs)
file_has "alias: local(8) forwarded the copy (shipped)" "$(pf_log shipped)" \
    'to=<list@site.test>, relay=local, .*status=sent \(forwarded as'
file_has "forward: .forward read by local(8) (shipped)" "$(pf_log shipped)" \
    'to=<remote@x.test>, orig_to=<nobody@site.test>, relay=deliver'
file_has "virtual: the filter got remote@x.test (expanded before the queue)" "$(pf_log shipped)" \
    'to=<remote@x.test>, orig_to=<valias@site.test>, relay=postseal-filter'
file_has "fixed: the forwarded copy went through the output filter" "$(pf_log fixed)" \
    'to=<remote@x.test>, orig_to=<list@site.test>, relay=postseal-out, .*status=sent'
file_has "fixed: the .forward copy went through the output filter" "$(pf_log fixed)" \
    'to=<remote@x.test>, orig_to=<nobody@site.test>, relay=postseal-out, .*status=sent'
is "fixed: the output filter ran once per message" 6 \
    "$(grep -c 'relay=postseal-out, .*status=sent' "$(pf_log fixed)")"
for s in shipped maincf fixed; do
    pf_settle "$s"
    is "$s: nothing left in the queue (no loop, nothing deferred)" 0 "$(pf_queue_count "$s")"
    is "$s: exactly six messages for remote@x.test" 6 "$(mail_count "$s" remote@x.test)"
done
is "maincf: the filter ran once per message (no loop)" 6 "$(grep -c 'relay=postseal-filter, .*status=sent' "$(pf_log maincf)")"

# no_key = hold on fixed: held; released with postsuper -H it passes the
# output filter, still without a key: held again, not delivered in clear.
smtp_send fixed --to nokey@y.test --header "Subject: case-hold" --body "body of hold"
is "hold: accepted" 250 "$(smtp_code '\.')"
e2e_wait 15 test "$(pf_hold_count fixed)" = 1
is "hold: the message waits in the hold queue" 1 "$(pf_hold_count fixed)"
hid=$(pf_queue fixed hold | awk '{print $2}' | head -n 1)
postsuper -c "$(pf_dir fixed)/etc" -H "$hid" >/dev/null 2>&1
ok "hold: the released message passed the output filter" pf_log_wait fixed 'to=<nokey@y.test>, relay=postseal-out, .*status=sent' 20
e2e_wait 15 test "$(pf_hold_count fixed)" = 1
pf_settle fixed
is "hold: released, it went through the output filter and is held again" 1 "$(pf_hold_count fixed)"
is "hold: nothing delivered to nokey@y.test" 0 "$(mail_count fixed nokey@y.test)"
