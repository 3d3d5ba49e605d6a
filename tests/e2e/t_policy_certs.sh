#!/bin/bash
# postseal-policyd through a real Postfix, INET listener: client certificate
# pinning (CA-signed pinned cert accepted; CA-signed unpinned, self-signed
# rogue, weak RSA-1024 and no cert refused with the configured temporary vs
# permanent code), verified-subject rules, disconnect (421 really closes the
# connection) and HOLD (the message waits in the hold queue).  Every case
# checks the reply code the client saw AND what was (not) delivered.
. "$(dirname "$0")/lib.sh"

fp_client=$(pki_fp "$PKI/client.crt")
pkfp_client=$(pki_pubkey_fp "$PKI/client.crt")
e2e_file policy.ini <<EOF >/dev/null
[global]
user = nobody

[policy]
outcome = temporary

# pinned by certificate fingerprint, temporary refusal with our own code
[policy recipient_domain pinned.test]
require_tls = yes
ccert_fingerprint = $fp_client
outcome = temporary
temporary_reply = 451 4.7.1

# pinned by public key fingerprint, permanent refusal with our own code
[policy recipient_domain strict.test]
require_tls = yes
ccert_pubkey_fingerprint = $pkfp_client
outcome = permanent
permanent_reply = 554 5.7.1

# any certificate that verified against the CA with this subject CN
[policy recipient_domain verified.test]
ccert_subject = client.example.test
outcome = permanent

[policy recipient_domain bye.test]
require_tls = yes
outcome = disconnect

[policy recipient_domain hold.test]
require_tls = yes
outcome = hold
EOF
ok "policyd accepts the config (--check)" "$POSTSEAL_POLICYD" -c "$E2E_DIR/policy.ini" --check
policyd_start "$E2E_DIR/policy.ini" inet || e2e_die "postseal-policyd did not start"
pf_new mx
pf_policy mx
pf_start mx
like "Postfix asks the policy service over TCP" "check_policy_service inet:127\.0\.0\.1:$((PS_PORT_BASE + 10))" \
    "$(postconf -c "$(pf_dir mx)/etc" smtpd_recipient_restrictions)"

tls() { echo --tls --tls-cert "$PKI/$1.crt" --tls-key "$PKI/$1.key"; }

# --- pinned certificate fingerprint, temporary refusals
# shellcheck disable=SC2046
smtp_send mx --to amy@pinned.test $(tls client)
is "pinned CA-signed cert: 250" 250 "$(smtp_code '\.')"
# shellcheck disable=SC2046
smtp_send mx --to amy@pinned.test $(tls client2)
is "unpinned CA-signed cert: configured 451 at RCPT" 451 "$(smtp_code RCPT)"
like "reply 451 4.7.1 names the failed pin" '^451 4\.7\.1 .*(rule .*policy\.ini:[0-9]+)' "$(smtp_reply RCPT)"
# shellcheck disable=SC2046
smtp_send mx --to amy@pinned.test $(tls rogue)
is "self-signed rogue cert: 451 at RCPT" 451 "$(smtp_code RCPT)"
# shellcheck disable=SC2046
smtp_send mx --to amy@pinned.test $(tls weak) --tls-cipher 'DEFAULT@SECLEVEL=0'
is "weak RSA-1024 cert (CA-signed, not pinned): 451 at RCPT" 451 "$(smtp_code RCPT)"
smtp_send mx --to amy@pinned.test --tls
is "TLS without a client cert: 451 at RCPT" 451 "$(smtp_code RCPT)"
ok "amy got the pinned client's message" mail_wait mx amy@pinned.test
pf_settle mx
is "amy got nothing else" 1 "$(mail_count mx amy@pinned.test)"
file_has "it came from the pinned client cert" "$(mail_last mx amy@pinned.test)" 'client\.example\.test|CN=client'

# --- pinned public key, permanent refusals
# shellcheck disable=SC2046
smtp_send mx --to ben@strict.test $(tls client)
is "pinned public key: 250" 250 "$(smtp_code '\.')"
# shellcheck disable=SC2046
smtp_send mx --to ben@strict.test $(tls client2)
is "unpinned cert: configured permanent 554 at RCPT" 554 "$(smtp_code RCPT)"
like "reply 554 5.7.1" '^554 5\.7\.1 ' "$(smtp_reply RCPT)"
# shellcheck disable=SC2046
smtp_send mx --to ben@strict.test $(tls rogue)
is "rogue cert: 554 at RCPT" 554 "$(smtp_code RCPT)"
smtp_send mx --to ben@strict.test
is "plaintext: 554 at RCPT" 554 "$(smtp_code RCPT)"
ok "ben got the pinned key's message" mail_wait mx ben@strict.test
pf_settle mx
is "ben got nothing else" 1 "$(mail_count mx ben@strict.test)"

# --- subject CN of a VERIFIED cert: the rogue cert claims nothing Postfix trusts
# shellcheck disable=SC2046
smtp_send mx --to cy@verified.test $(tls client)
is "verified cert with the allowed CN: 250" 250 "$(smtp_code '\.')"
# shellcheck disable=SC2046
smtp_send mx --to cy@verified.test $(tls client2)
is "verified cert with another CN: 550 at RCPT" 550 "$(smtp_code RCPT)"
pki_selfsigned rogue_cn client.example.test
# shellcheck disable=SC2046
smtp_send mx --to cy@verified.test $(tls rogue_cn)
is "self-signed cert claiming the allowed CN: 550 at RCPT" 550 "$(smtp_code RCPT)"
ok "cy got the verified client's message" mail_wait mx cy@verified.test
pf_settle mx
is "cy got nothing else" 1 "$(mail_count mx cy@verified.test)"

# --- disconnect: 421 and the server closes the connection
ok "plain session opens" smtp_open mx plain
smtp_cmd "MAIL FROM:<s@example.test>"
smtp_cmd "RCPT TO:<dee@bye.test>"
is "plaintext to bye.test: 421 at RCPT" 421 "$SMTP_CODE"
like "421 4.7.0 reply" '^421 4\.7\.0 ' "$SMTP_REPLY"
ok "the server closed the connection after 421" smtp_closed
smtp_close
smtp_send mx --to dee@bye.test --tls
is "TLS to bye.test: 250" 250 "$(smtp_code '\.')"
ok "dee got the TLS message" mail_wait mx dee@bye.test
pf_settle mx
is "dee got only that one" 1 "$(mail_count mx dee@bye.test)"

# --- HOLD: accepted, parked in the hold queue, not delivered
smtp_send mx --to hal@hold.test
is "plaintext to hold.test: accepted (250 at end of data)" 250 "$(smtp_code '\.')"
pf_settle mx
is "one message in the hold queue" 1 "$(pf_hold_count mx)"
is "held for hal@hold.test" "hal@hold.test" "$(pf_queue mx hold | cut -d' ' -f4)"
is "nothing delivered to hal" 0 "$(mail_count mx hal@hold.test)"
ok "Postfix logged the hold" pf_log_wait mx 'hold: RCPT from .*<hal@hold\.test>'
smtp_send mx --to hal@hold.test --tls
is "TLS to hold.test: 250" 250 "$(smtp_code '\.')"
ok "hal got the TLS message" mail_wait mx hal@hold.test
pf_settle mx
is "still only one message on hold" 1 "$(pf_hold_count mx)"

ok "policyd still running" daemon_alive policyd
