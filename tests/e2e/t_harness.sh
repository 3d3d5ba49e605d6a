#!/bin/bash
# The harness itself, through real Postfix and real clients (no postseal
# program involved): delivery to files, TLS facts seen by Postfix, the reply
# code parsers, interactive sessions and a closed connection, the hold queue,
# a second instance reached over TLS.  Also the example test of README.md.
. "$(dirname "$0")/lib.sh"

pf_new mx
# Postfix's own HOLD and REJECT actions stand for the policy daemon here.
pf_conf mx "smtpd_recipient_restrictions = check_recipient_access inline:{ {hold@example.test = HOLD test hold} {no@example.test = REJECT test reject} {bye@example.test = 421 4.7.0 test bye} }, permit_mynetworks, reject"
pf_start mx

# plain: accepted, delivered into a file with the envelope recipient
smtp_send mx --to alice@example.test
is "plain message accepted at end of data" 250 "$(smtp_code '\.')"
is "swaks exit status 0" 0 "$SMTP_RC"
ok "plain message delivered" mail_wait mx alice@example.test
file_has "Delivered-To names the recipient" "$(mail_last mx alice@example.test)" '^Delivered-To: alice@example.test'
file_lacks "no TLS in the Received header" "$(mail_last mx alice@example.test)" 'using TLS'

# TLS with the CA-signed client cert
smtp_send mx --to bob@example.test --tls --tls-cert "$PKI/client.crt" --tls-key "$PKI/client.key"
is "TLS message accepted" 250 "$(smtp_code '\.')"
ok "TLS message delivered" mail_wait mx bob@example.test
file_has "Received header shows TLS 1.3" "$(mail_last mx bob@example.test)" 'using TLSv1\.3'
ok "Postfix verified the client cert against the test CA" \
    pf_log_wait mx 'Trusted TLS connection established from .*client-signature'

# the rogue (self-signed) cert is presented but not trusted
smtp_send mx --to carol@example.test --tls --tls-cert "$PKI/rogue.crt" --tls-key "$PKI/rogue.key"
is "rogue-cert message accepted by plain Postfix" 250 "$(smtp_code '\.')"
ok "Postfix did not trust the rogue cert" pf_log_wait mx 'Untrusted TLS connection established'

# the weak (RSA-1024) cert needs SECLEVEL=0 on the client
smtp_send mx --to dave@example.test --tls --tls-cert "$PKI/weak.crt" --tls-key "$PKI/weak.key" \
    --tls-cipher 'DEFAULT@SECLEVEL=0'
is "weak-key cert session accepted" 250 "$(smtp_code '\.')"
is "weak cert is RSA-1024" "1024" "$(openssl x509 -in "$PKI/weak.crt" -noout -text | sed -n 's/.*Public-Key: (\([0-9]*\) bit).*/\1/p')"

# reply code parsers: refused RCPT, then a good one, all codes in order
smtp_send mx --to no@example.test,erin@example.test
is "refused recipient: 554 at RCPT" 554 "$(smtp_code 'RCPT TO:<no@')"
is "second recipient accepted" 250 "$(smtp_code RCPT 2)"
like "reply text" '^554 5\.7\.1 .*test reject' "$(smtp_reply 'RCPT TO:<no@')"
is "every reply code in order" "220 250 250 554 250 354 250 221" "$(smtp_codes)"
ok "erin got the message" mail_wait mx erin@example.test
pf_settle mx
is "no@ got nothing" 0 "$(mail_count mx no@example.test)"

# HOLD: accepted, kept in the hold queue, not delivered
smtp_send mx --to hold@example.test
is "held message accepted" 250 "$(smtp_code '\.')"
pf_settle mx
is "one message in the hold queue" 1 "$(pf_hold_count mx)"
is "hold queue entry names the recipient" "hold@example.test" "$(pf_queue mx hold | cut -d' ' -f4)"
is "held message not delivered" 0 "$(mail_count mx hold@example.test)"
like "postcat shows the held message" '^Subject: postseal e2e' "$(pf_cat mx "$(pf_queue mx hold | cut -d' ' -f2)")"

# interactive TLS 1.3 session with a 128-bit suite, then 421 closes it
ok "s_client session opens" smtp_open mx tls -tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256
smtp_cmd "MAIL FROM:<s@example.test>"
is "MAIL accepted" 250 "$SMTP_CODE"
smtp_cmd "RCPT TO:<frank@example.test>"
is "RCPT accepted" 250 "$SMTP_CODE"
smtp_cmd DATA
is "DATA 354" 354 "$SMTP_CODE"
printf 'Subject: s_client\n\n.leading dot line\nbody\n' | e2e_file msg.txt >/dev/null
smtp_data "$E2E_DIR/msg.txt"
is "end of data 250" 250 "$SMTP_CODE"
not_ok "connection still open after 250" smtp_closed 1
smtp_cmd "MAIL FROM:<s@example.test>"
smtp_cmd "RCPT TO:<bye@example.test>"
is "421 at RCPT" 421 "$SMTP_CODE"
ok "server closed the connection after 421" smtp_closed
smtp_close
ok "frank got the s_client message" mail_wait mx frank@example.test
file_has "with the 128-bit TLS 1.3 suite" "$(mail_last mx frank@example.test)" 'TLS_AES_128_GCM_SHA256 \(128/128'
file_has "dot-stuffing undone" "$(mail_last mx frank@example.test)" '^\.leading dot line$'

# plain interactive session
ok "plain session opens" smtp_open mx plain
smtp_cmd "MAIL FROM:<s@example.test>"
smtp_cmd "RCPT TO:<no@example.test>"
is "plain session: 554 at RCPT" 554 "$SMTP_CODE"
smtp_close

# a second instance with its own cert, reached by the first over TLS
pf_new rx server2
pf_start rx
pf_conf mx "transport_maps = inline:{ {remote.test = relay:[127.0.0.1]:$(pf_port rx)} }"
pf_reload mx
smtp_send mx --to gina@remote.test
is "message for the second instance accepted" 250 "$(smtp_code '\.')"
ok "delivered by the second instance" mail_wait rx gina@remote.test
is "not delivered locally by the first" 0 "$(mail_count mx gina@remote.test)"
file_has "relayed over TLS" "$(mail_last rx gina@remote.test)" 'by rx\.postseal\.test .*ESMTPS|using TLSv1\.3'
ok "the first instance verified the second one's cert" \
    pf_log_wait mx 'Trusted TLS connection established to 127\.0\.0\.1'
