#!/bin/bash
# postseal-filter outbound through a real Postfix: public smtpd -> pipe(8)
# (nobody) -> postseal-filter -> SMTP reinjection -> delivery.
#  - Subject "[secure]" forces encryption: bob's copy arrives as PGP/MIME that
#    gpg (bob's own key ring) decrypts to the text sent; the outer Subject is
#    "..." and the real one is inside (RFC 9788);
#  - "[secure]" to a recipient without a key: deferred (75), stays queued
#    with the 4.7.1 reason, nothing delivered in clear;
#  - no_key = hold: the message lands in Postfix's HOLD queue (reinjected into
#    an smtpd that holds everything, as contrib/postfix/master.cf.filter says);
#  - a failing reinjection (nothing listens on the return port) leaves the
#    message deferred in the queue; once the return port is right it is
#    delivered exactly once.
. "$(dirname "$0")/lib.sh"

need_prog "$POSTSEAL_FILTER"
GH=$E2E_DIR/gpg-gw
BH=$E2E_DIR/gpg-bob
mkdir -m 700 "$GH" "$BH" || e2e_die "mkdir"
gpg --homedir "$BH" --batch --quiet --pinentry-mode loopback --passphrase '' \
    --quick-gen-key bob@example.test future-default default never 2>/dev/null ||
    e2e_die "gpg key generation failed"
gpg --homedir "$BH" --export bob@example.test | gpg --homedir "$GH" --batch --quiet --import 2>/dev/null ||
    e2e_die "gpg import failed"
gpgconf --homedir "$GH" --kill all 2>/dev/null
chown -R nobody:nogroup "$GH"
mkdir -p "$E2E_DIR/tmp" && chmod 1777 "$E2E_DIR/tmp"

write_conf() { # $1 = reinjection port
    cat >"$E2E_DIR/filter.ini" <<EOF
[filter]
reinject = 127.0.0.1:$1
hold_reinject = 127.0.0.1:$(e2e_port 8)
gnupg_home = $GH
temp_dir = $E2E_DIR/tmp
encrypt = opportunistic

[filter rule secure]
header = Subject \[secure\]
encrypt = required
protect_subject = yes

[filter rule held]
recipient = held@example.test
encrypt = required
no_key = hold
EOF
}
write_conf "$((PS_PORT_BASE + 1))"
ok "postseal-filter accepts the config (--check)" "$POSTSEAL_FILTER" -c "$E2E_DIR/filter.ini" --check

pf_new mx
pf_conf mx 'minimal_backoff_time = 2s' 'maximal_backoff_time = 4s' 'queue_run_delay = 2s'
pf_filter mx "$E2E_DIR/filter.ini"
# HOLD wiring (contrib/postfix/master.cf.filter): a third smtpd whose
# restrictions HOLD everything; the filter sends no_key = hold mail there.
hport=$(e2e_port 8)
pf_master mx <<EOF
127.0.0.1:$hport inet n - n - - smtpd
  -o syslog_name=postfix/hold
  -o content_filter=
  -o receive_override_options=no_unknown_recipient_checks,no_header_body_checks,no_milters
  -o smtpd_relay_restrictions=permit_mynetworks,reject
  -o smtpd_recipient_restrictions=check_client_access,static:HOLD
  -o smtpd_end_of_data_restrictions=
  -o smtpd_tls_ask_ccert=no
EOF
pf_start mx

# 1. [secure] with a key: encrypted for bob
token="e2e secret $$ $RANDOM"
smtp_send mx --to bob@example.test --header "Subject: [secure] quarterly numbers" --body "$token"
is "message for bob accepted" 250 "$(smtp_code '\.')"
ok "bob's message delivered" mail_wait mx bob@example.test
bob=$(mail_last mx bob@example.test)
file_has "bob's copy is PGP/MIME encrypted" "$bob" '^Content-Type: multipart/encrypted'
file_has "the outer Subject is obscured" "$bob" '^Subject: \.\.\.$'
file_lacks "the text is not readable in bob's copy" "$bob" "$token"
file_lacks "nor the real subject" "$bob" 'quarterly'
sed -n '/^-----BEGIN PGP MESSAGE/,/^-----END PGP MESSAGE/p' "$bob" >"$E2E_DIR/bob.asc"
gpg --homedir "$BH" --batch --quiet --decrypt "$E2E_DIR/bob.asc" >"$E2E_DIR/bob.dec" 2>"$E2E_DIR/bob.dec.err"
is "gpg decrypts it with bob's key" 0 "$?"
file_has "the decrypted text is what was sent" "$E2E_DIR/bob.dec" "$token"
file_has "the real Subject is inside (RFC 9788)" "$E2E_DIR/bob.dec" '^Subject: \[secure\] quarterly numbers'

# 2. [secure] without a key: deferred, kept, not delivered
smtp_send mx --to nokey@example.test --header "Subject: [secure] salaries" --body "$token"
is "message for nokey accepted by the public smtpd" 250 "$(smtp_code '\.')"
pf_settle mx
is "nothing delivered to nokey" 0 "$(mail_count mx nokey@example.test)"
is "the message stays in the deferred queue" 1 "$(pf_queue_count mx deferred)"
like "with the filter's reason" 'encryption required for <nokey@example\.test> but no usable key' \
    "$(pf_queue_reasons mx)"
file_has "and its status code 4.7.1" "$(pf_log mx)" \
    'to=<nokey@example\.test>.*relay=postseal-filter.*dsn=4\.7\.1, status=deferred'

# 3. no_key = hold: Postfix's hold queue
smtp_send mx --to held@example.test --body "$token"
is "message for held@ accepted" 250 "$(smtp_code '\.')"
e2e_wait 15 test "$(pf_hold_count mx)" = 1
is "the message waits in the hold queue" 1 "$(pf_hold_count mx)"
is "nothing delivered to held@" 0 "$(mail_count mx held@example.test)"
hid=$(pf_queue mx hold | awk '{print $2}' | head -n 1)
like "the held copy carries the reason" 'X-Postseal-Hold: no usable key for held@example\.test' \
    "$(pf_cat mx "$hid")"

# 4. reinjection fails (nothing listens): deferred, then delivered once fixed
write_conf "$(e2e_port 7)"
smtp_send mx --to carol@example.test --body "$token"
is "message for carol accepted" 250 "$(smtp_code '\.')"
pf_settle mx
is "nothing delivered to carol while reinjection fails" 0 "$(mail_count mx carol@example.test)"
like "deferred with the reinjection error" \
    "reinjection to 127\.0\.0\.1:$(e2e_port 7) failed: Connection refused" \
    "$(pf_queue_reasons mx)"
file_has "status 4.4.1" "$(pf_log mx)" 'to=<carol@example\.test>.*dsn=4\.4\.1, status=deferred'
is "carol's message waits in the queue" 2 "$(pf_queue_count mx deferred)"
write_conf "$((PS_PORT_BASE + 1))"
pf_flush mx
ok "carol's message delivered after the retry" mail_wait mx carol@example.test 1 30
pf_settle mx
is "carol got it exactly once" 1 "$(mail_count mx carol@example.test)"
file_has "unchanged (no key, opportunistic)" "$(mail_last mx carol@example.test)" "$token"
