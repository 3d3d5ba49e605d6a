#!/bin/bash
# postseal-policyd through a real Postfix, UNIX socket listener: TLS required
# vs plaintext, a minimum protocol, a minimum key size (128-bit suite against
# a 256-bit minimum), the session memory (after a failure the next RCPT of the
# same SMTP session is refused too), policy per recipient domain and per
# client network.  Every case checks the reply code the client saw AND what was
# (not) delivered.
. "$(dirname "$0")/lib.sh"

e2e_file policy.ini <<'EOF' >/dev/null
[global]
user = nobody

[policy]
# nothing required by default: open.test takes anything
outcome = temporary

[policy recipient_domain tls.test]
require_tls = yes

[policy recipient_domain v13.test]
require_tls = yes
tls_protocol = TLSv1.3

[policy recipient_domain k256.test]
encryption_keysize = 256

[policy client 127.0.0.2]
require_tls = yes
outcome = permanent
EOF
ok "policyd accepts the config (--check)" "$POSTSEAL_POLICYD" -c "$E2E_DIR/policy.ini" --check
policyd_start "$E2E_DIR/policy.ini" unix || e2e_die "postseal-policyd did not start"
pf_new mx
pf_policy mx
pf_start mx
like "Postfix asks the policy service over the unix socket" '^smtpd_recipient_restrictions = check_policy_service unix:/' \
    "$(postconf -c "$(pf_dir mx)/etc" smtpd_recipient_restrictions)"

# --- no TLS vs required TLS
smtp_send mx --to alice@tls.test
is "plaintext to a TLS-required domain: 450 at RCPT" 450 "$(smtp_code RCPT)"
like "the reply says why and names the rule" '^450 4\.7\.1 .*TLS required \(rule .*policy\.ini:[0-9]+\)' "$(smtp_reply RCPT)"
is "swaks saw the refusal at RCPT (exit 24)" 24 "$SMTP_RC"
smtp_send mx --to alice@tls.test --tls
is "STARTTLS to the TLS-required domain: 250 at end of data" 250 "$(smtp_code '\.')"
ok "the TLS message is delivered" mail_wait mx alice@tls.test
pf_settle mx
is "exactly one message (the TLS one) delivered" 1 "$(mail_count mx alice@tls.test)"
file_has "the delivered copy came over TLS" "$(mail_last mx alice@tls.test)" 'using TLSv1\.3'

# --- TLS 1.3 vs a configured minimum of TLSv1.3
smtp_send mx --to bob@v13.test --tls --tls-protocol tlsv1_2
is "TLS 1.2 against a TLSv1.3 minimum: 450 at RCPT" 450 "$(smtp_code RCPT)"
like "the reply names the protocol" 'TLSv1\.2' "$(smtp_reply RCPT)"
smtp_send mx --to bob@v13.test --tls --tls-protocol tlsv1_3
is "TLS 1.3 against a TLSv1.3 minimum: 250" 250 "$(smtp_code '\.')"
ok "the TLS 1.3 message is delivered" mail_wait mx bob@v13.test
pf_settle mx
is "only the TLS 1.3 message was delivered" 1 "$(mail_count mx bob@v13.test)"

# --- a 128-bit suite against a 256-bit minimum, then the session memory
printf 'Subject: k256\n\nbody\n' | e2e_file msg.txt >/dev/null
ok "TLS 1.3 session with TLS_AES_128_GCM_SHA256" smtp_open mx tls -tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256
smtp_cmd "MAIL FROM:<s@example.test>"
smtp_cmd "RCPT TO:<carol@k256.test>"
is "128-bit suite against a 256-bit minimum: 450 at RCPT" 450 "$SMTP_CODE"
like "the reply names both key sizes" '128.*256' "$SMTP_REPLY"
smtp_cmd "RCPT TO:<carol@open.test>"
is "same session, next RCPT to a domain without requirements: refused too" 450 "$SMTP_CODE"
smtp_cmd "RSET"
smtp_cmd "MAIL FROM:<s@example.test>"
smtp_cmd "RCPT TO:<dan@open.test>"
is "same session, a new transaction: still refused" 450 "$SMTP_CODE"
smtp_close
ok "a fresh TLS 1.3 session with the 128-bit suite" smtp_open mx tls -tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256
smtp_cmd "MAIL FROM:<s@example.test>"
smtp_cmd "RCPT TO:<carol@open.test>"
is "new session: the open domain accepts (the refusal was the session's)" 250 "$SMTP_CODE"
smtp_cmd DATA
smtp_data "$E2E_DIR/msg.txt"
is "end of data accepted" 250 "$SMTP_CODE"
smtp_close
ok "TLS 1.3 session with TLS_AES_256_GCM_SHA384" smtp_open mx tls -tls1_3 -ciphersuites TLS_AES_256_GCM_SHA384
smtp_cmd "MAIL FROM:<s@example.test>"
smtp_cmd "RCPT TO:<carol@k256.test>"
is "256-bit suite against a 256-bit minimum: 250" 250 "$SMTP_CODE"
smtp_cmd DATA
smtp_data "$E2E_DIR/msg.txt"
is "end of data accepted" 250 "$SMTP_CODE"
smtp_close
ok "carol@k256.test received the 256-bit message" mail_wait mx carol@k256.test
ok "carol@open.test received the message of the fresh session" mail_wait mx carol@open.test
pf_settle mx
is "carol@k256.test: only that one" 1 "$(mail_count mx carol@k256.test)"
file_has "and it came with the 256-bit suite" "$(mail_last mx carol@k256.test)" 'TLS_AES_256_GCM_SHA384'
is "dan@open.test (refused session) got nothing" 0 "$(mail_count mx dan@open.test)"
is "carol@open.test got only the fresh session's message" 1 "$(mail_count mx carol@open.test)"

# --- per client network: 127.0.0.2 must use TLS (permanent), 127.0.0.1 need not
smtp_send mx --to erin@open.test --local-interface 127.0.0.2
is "plaintext from 127.0.0.2: 550 at RCPT (permanent)" 550 "$(smtp_code RCPT)"
like "permanent reply code 5.7.1" '^550 5\.7\.1 ' "$(smtp_reply RCPT)"
smtp_send mx --to erin@open.test --local-interface 127.0.0.2 --tls
is "TLS from 127.0.0.2: 250" 250 "$(smtp_code '\.')"
smtp_send mx --to frank@open.test --local-interface 127.0.0.1
is "plaintext from 127.0.0.1: 250" 250 "$(smtp_code '\.')"
ok "erin got the TLS message" mail_wait mx erin@open.test
ok "frank got the plaintext message" mail_wait mx frank@open.test
pf_settle mx
is "erin got only the TLS message" 1 "$(mail_count mx erin@open.test)"
file_has "erin's message came over TLS from 127.0.0.2" "$(mail_last mx erin@open.test)" '\[127\.0\.0\.2\]'

ok "policyd still running after all sessions" daemon_alive policyd
file_has "policyd logged the refusals" "$E2E_DIR/policyd.log" 'refused.*to=<alice@tls\.test>'
