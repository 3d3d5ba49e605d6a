#!/bin/bash
# postseal-policyd through a real Postfix: cipher patterns (deny and allow
# lists), a pin FILE (like relay_clientcerts) written with lower-case hex and
# no colons, and a sender_domain section that tightens the policy.  Every case
# checks the reply code the client saw AND what was (not) delivered.
. "$(dirname "$0")/lib.sh"

fp=$(pki_fp "$PKI/client.crt" | tr -d ':' | tr 'A-F' 'a-f')
{
    echo "# pins for the partner relay: first word, the rest is a comment"
    echo "$fp  client.example.test (test PKI)"
} | e2e_file pins.txt >/dev/null

e2e_file policy.ini <<'EOF2' >/dev/null
[policy]
# nothing required by default
outcome = temporary

[policy recipient_domain nocbc.test]
require_tls = yes
cipher_deny = *-SHA *-CBC-* *RC4*

[policy recipient_domain aes256.test]
cipher_allow = TLS_AES_256_* ECDHE-*-AES256-GCM-*

[policy recipient_domain pinned.test]
ccert_fingerprint_file = pins.txt
outcome = permanent

[policy sender_domain strict.test]
tls_protocol = TLSv1.3
EOF2
ok "policyd accepts the config (--check)" "$POSTSEAL_POLICYD" -c "$E2E_DIR/policy.ini" --check
policyd_start "$E2E_DIR/policy.ini" unix || e2e_die "postseal-policyd did not start"
pf_new mx
pf_policy mx
pf_start mx

# --- cipher_deny: a CBC-SHA suite is refused, an AEAD suite accepted
smtp_send mx --to ann@nocbc.test --tls --tls-protocol tlsv1_2 --tls-cipher AES128-SHA
is "TLS 1.2 AES128-SHA against cipher_deny *-SHA: 450 at RCPT" 450 "$(smtp_code RCPT)"
like "the reply names the cipher and the pattern" 'TLS cipher AES128-SHA denied by pattern \*-SHA \(rule .*policy\.ini:7\)' "$(smtp_reply RCPT)"
smtp_send mx --to ann@nocbc.test --tls --tls-protocol tlsv1_2 --tls-cipher ECDHE-RSA-AES128-GCM-SHA256
is "TLS 1.2 ECDHE-RSA-AES128-GCM-SHA256: 250" 250 "$(smtp_code '\.')"
ok "ann got the AEAD message" mail_wait mx ann@nocbc.test

# --- cipher_allow: only 256-bit AEAD suites
ok "TLS 1.3 session with TLS_AES_128_GCM_SHA256" smtp_open mx tls -tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256
smtp_cmd "MAIL FROM:<s@example.test>"
smtp_cmd "RCPT TO:<bo@aes256.test>"
is "TLS_AES_128_GCM_SHA256 against cipher_allow TLS_AES_256_*: 450" 450 "$SMTP_CODE"
like "the reply says the cipher is not allowed" 'TLS cipher TLS_AES_128_GCM_SHA256 not allowed' "$SMTP_REPLY"
smtp_close
ok "TLS 1.3 session with TLS_AES_256_GCM_SHA384" smtp_open mx tls -tls1_3 -ciphersuites TLS_AES_256_GCM_SHA384
smtp_cmd "MAIL FROM:<s@example.test>"
smtp_cmd "RCPT TO:<bo@aes256.test>"
is "TLS_AES_256_GCM_SHA384: 250 at RCPT" 250 "$SMTP_CODE"
printf 'Subject: aes256\n\nbody\n' | e2e_file msg.txt >/dev/null
smtp_cmd DATA
smtp_data "$E2E_DIR/msg.txt"
is "end of data accepted" 250 "$SMTP_CODE"
smtp_close
ok "bo got the 256-bit message" mail_wait mx bo@aes256.test

# --- a pin file in lower case without colons
smtp_send mx --to cy@pinned.test --tls --tls-cert "$PKI/client.crt" --tls-key "$PKI/client.key"
is "the pinned client certificate: 250" 250 "$(smtp_code '\.')"
smtp_send mx --to cy@pinned.test --tls --tls-cert "$PKI/rogue.crt" --tls-key "$PKI/rogue.key"
is "another certificate: 550 at RCPT (permanent)" 550 "$(smtp_code RCPT)"
like "the reply says the fingerprint is not pinned" 'client certificate fingerprint .* not pinned \(rule .*policy\.ini:13\)' "$(smtp_reply RCPT)"
smtp_send mx --to cy@pinned.test --tls
is "no certificate at all: 550 at RCPT" 550 "$(smtp_code RCPT)"
ok "cy got the pinned client's message" mail_wait mx cy@pinned.test

# --- a sender_domain section tightens the policy
smtp_send mx --from boss@strict.test --to dee@open.test --tls --tls-protocol tlsv1_2
is "sender @strict.test over TLS 1.2: 450 at RCPT" 450 "$(smtp_code RCPT)"
like "the reply names the protocol minimum" 'TLS protocol TLSv1\.2 below required TLSv1\.3' "$(smtp_reply RCPT)"
smtp_send mx --from boss@strict.test --to dee@open.test --tls --tls-protocol tlsv1_3
is "sender @strict.test over TLS 1.3: 250" 250 "$(smtp_code '\.')"
smtp_send mx --from other@example.test --to dee@open.test
is "another sender without TLS to an open domain: 250" 250 "$(smtp_code '\.')"
ok "dee got two messages" mail_wait mx dee@open.test 2

pf_settle mx
is "ann: only the AEAD message" 1 "$(mail_count mx ann@nocbc.test)"
is "bo: only the 256-bit message" 1 "$(mail_count mx bo@aes256.test)"
is "cy: only the pinned client's message" 1 "$(mail_count mx cy@pinned.test)"
is "dee: the TLS 1.3 and the other sender's message, not the TLS 1.2 one" 2 "$(mail_count mx dee@open.test)"
ok "policyd still running" daemon_alive policyd
