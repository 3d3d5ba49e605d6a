#!/bin/bash
# postseal-policyd through a real Postfix with SMTP AUTH (Postfix's Dovecot
# SASL, a private Dovecot auth service): a strength rule for authenticated
# clients ([policy sasl_user *]: TLS with a 256-bit key) while anonymous
# clients keep the default.  Checks the reply codes and what was delivered.
. "$(dirname "$0")/lib.sh"

command -v dovecot >/dev/null 2>&1 || e2e_skip "dovecot is not installed (dovecot-core)"

e2e_file policy.ini <<'EOF' >/dev/null
[global]
user = nobody

[policy]
outcome = temporary

# authenticated clients: TLS with at least a 256-bit key
[policy sasl_user *]
require_tls = yes
encryption_keysize = 256
outcome = permanent

# one account may not send at all without TLS 1.3
[policy sasl_user bob]
tls_protocol = TLSv1.3
EOF
ok "policyd accepts the config (--check)" "$POSTSEAL_POLICYD" -c "$E2E_DIR/policy.ini" --check
sasl_start alice:wonderland bob:builder || e2e_die "dovecot auth did not start"
policyd_start "$E2E_DIR/policy.ini" unix || e2e_die "postseal-policyd did not start"
pf_new mx
pf_sasl mx
pf_policy mx
pf_start mx

# --- SASL is real: a wrong password is refused by Postfix/Dovecot
smtp_send mx --to x@open.test --auth PLAIN --auth-user alice --auth-password wrong
is "wrong password: 535 at AUTH" 535 "$(smtp_code AUTH)"
pf_settle mx
is "nothing delivered" 0 "$(mail_count mx x@open.test)"

# --- anonymous plaintext: no rule applies
smtp_send mx --to anna@open.test
is "anonymous plaintext: 250" 250 "$(smtp_code '\.')"
ok "anna got it" mail_wait mx anna@open.test

# --- authenticated plaintext: TLS required, permanent
smtp_send mx --to ada@open.test --auth PLAIN --auth-user alice --auth-password wonderland
is "AUTH over plaintext succeeds (235)" 235 "$(smtp_code AUTH)"
is "authenticated plaintext: 550 at RCPT" 550 "$(smtp_code RCPT)"
like "the reply says TLS is required" 'TLS required' "$(smtp_reply RCPT)"

# --- authenticated over TLS 1.3 with a 128-bit suite (s_client: swaks cannot pick it)
ok "TLS 1.3 session with TLS_AES_128_GCM_SHA256" smtp_open mx tls -tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256
smtp_cmd "AUTH PLAIN $(printf '\0alice\0wonderland' | base64)"
is "AUTH in the 128-bit session: 235" 235 "$SMTP_CODE"
smtp_cmd "MAIL FROM:<alice@example.test>"
smtp_cmd "RCPT TO:<ada@open.test>"
is "authenticated, 128-bit key against 256: 550 at RCPT" 550 "$SMTP_CODE"
like "the reply names the key sizes" '128.*256' "$SMTP_REPLY"
smtp_close

# --- the same without AUTH in a 128-bit session: accepted
printf 'Subject: anon 128\n\nbody\n' | e2e_file anon.txt >/dev/null
ok "TLS 1.3 session with TLS_AES_128_GCM_SHA256, no AUTH" smtp_open mx tls -tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256
smtp_cmd "MAIL FROM:<s@example.test>"
smtp_cmd "RCPT TO:<abe@open.test>"
is "anonymous 128-bit session: 250 at RCPT" 250 "$SMTP_CODE"
smtp_cmd DATA
smtp_data "$E2E_DIR/anon.txt"
is "anonymous 128-bit session: 250 at end of data" 250 "$SMTP_CODE"
smtp_close

# --- authenticated over TLS 1.3 with a 256-bit suite: accepted
smtp_send mx --to ada@open.test --tls --tls-protocol tlsv1_3 --auth PLAIN --auth-user alice --auth-password wonderland
is "authenticated TLS 1.3 / 256-bit: 250" 250 "$(smtp_code '\.')"
ok "ada got the strong message" mail_wait mx ada@open.test
ok "abe got the anonymous message" mail_wait mx abe@open.test

# --- per account: bob needs TLS 1.3 on top
smtp_send mx --to bea@open.test --tls --tls-protocol tlsv1_2 --auth PLAIN --auth-user bob --auth-password builder
is "bob over TLS 1.2 (256-bit): 550 at RCPT" 550 "$(smtp_code RCPT)"
smtp_send mx --to bea@open.test --tls --tls-protocol tlsv1_2 --auth PLAIN --auth-user alice --auth-password wonderland
is "alice over TLS 1.2 (256-bit): 250" 250 "$(smtp_code '\.')"
ok "bea got alice's message" mail_wait mx bea@open.test
pf_settle mx
is "ada got only the strong message" 1 "$(mail_count mx ada@open.test)"
is "bea got only alice's message" 1 "$(mail_count mx bea@open.test)"
file_has "ada's message was authenticated" "$(mail_last mx ada@open.test)" 'Authenticated sender|ESMTPSA'
file_has "policyd saw the SASL user" "$E2E_DIR/policyd.log" 'sasl=alice'
