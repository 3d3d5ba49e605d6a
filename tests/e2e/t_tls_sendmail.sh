#!/bin/bash
# Sendmail access-map STARTTLS rules through real Postfix: one access file,
# TLS_Clt: entries enforced by postseal-policyd on the sender's smtpd (swaks
# connects from 127.0.0.2..5 to pick an entry), TLS_Srv: entries enforced by
# postseal-tlspolicyd on the sender's smtp client towards a receiver that offers
# 128-bit ciphers only.  Checks the reply code and Sendmail's text the client
# saw, the access-file line in the answer, and what was (not) delivered.
. "$(dirname "$0")/lib.sh"

pf_new out
pf_new weak server
pk=$(pf_port weak)
sock=$E2E_DIR/tlspolicy.sock

access=$(e2e_file access <<EOF
# Sendmail access map (makemap input)
Connect:10.9.9.9		REJECT
TLS_Clt:127.0.0.2		PERM+VERIFY:128
TLS_Clt:127.0.0.3		ENCR:256
TLS_Clt:127.0.0.4		TEMP+ENCR:128
TLS_Clt:127.0.0.5		VERIFY+CN:client.example.test
TLS_Srv:127.0.0.1		ENCR:256
TLS_Srv:localhost		ENCR:128
EOF
)
chmod 0644 "$access"
e2e_file postseal.ini <<EOF >/dev/null
[global]
user = nobody

[policy]

[tlspolicy]
listen = unix:$sock
default = may

[sendmail]
access_file = $access
EOF
ini=$E2E_DIR/postseal.ini

ok "policyd --check reads the access file" "$POSTSEAL_POLICYD" -c "$ini" --check
ok "tlspolicyd --check reads the access file" "$POSTSEAL_TLSPOLICYD" -c "$ini" --check
policyd_start "$ini" unix || e2e_die "postseal-policyd did not start"
daemon_start tlspolicyd "unix:$sock" "$POSTSEAL_TLSPOLICYD" -f -v -c "$ini" ||
    e2e_die "postseal-tlspolicyd did not start"

pf_policy out
pf_conf out "smtp_tls_policy_maps = socketmap:unix:$sock:tlspolicy" \
    "transport_maps = inline:{ strong.test=smtp:[127.0.0.1]:$pk, ok.test=smtp:[localhost]:$pk }"
pf_conf weak 'smtpd_tls_protocols = <=TLSv1.2' \
    'smtpd_tls_exclude_ciphers = AES256, CHACHA20, CAMELLIA256, ARIA256'
pf_start out
pf_start weak

cli="--tls-cert $PKI/client.crt --tls-key $PKI/client.key"

# TLS_Clt:127.0.0.2 PERM+VERIFY:128
smtp_send out --local-interface 127.0.0.2 --to a@in.test --tls
is "VERIFY without a certificate: 550" 550 "$(smtp_code RCPT)"
like "  with Sendmail's text and the access line" \
    "5\.7\.0 .*: not authenticated \(rule access:3\)" "$(smtp_reply RCPT)"
smtp_send out --local-interface 127.0.0.2 --to b@in.test --tls $cli
is "VERIFY with the CA-signed certificate: accepted" 250 "$(smtp_code '\.')"
smtp_send out --local-interface 127.0.0.2 --to c@in.test
is "VERIFY in plaintext: 550" 550 "$(smtp_code RCPT)"
like "  other side does not support STARTTLS" "other side does not support STARTTLS" \
    "$(smtp_reply RCPT)"

# TLS_Clt:127.0.0.3 ENCR:256 (no prefix: 454 4.7.0)
smtp_send out --local-interface 127.0.0.3 --to d@in.test --tls --tls-protocol tlsv1_2 \
    --tls-cipher AES128-GCM-SHA256
is "128-bit cipher where 256 is required: 454" 454 "$(smtp_code RCPT)"
like "  encryption too weak 128 less than 256" \
    "4\.7\.0 .*: encryption too weak 128 less than 256 \(rule access:4\)" "$(smtp_reply RCPT)"
smtp_send out --local-interface 127.0.0.3 --to e@in.test --tls --tls-protocol tlsv1_2 \
    --tls-cipher ECDHE-RSA-AES256-GCM-SHA384
is "256-bit cipher: accepted" 250 "$(smtp_code '\.')"

# TLS_Clt:127.0.0.4 TEMP+ENCR:128
smtp_send out --local-interface 127.0.0.4 --to f@in.test
is "plaintext where TEMP+ENCR:128: 450" 450 "$(smtp_code RCPT)"
like "  encryption too weak 0 less than 128" "4\.7\.0 .*: encryption too weak 0 less than 128" \
    "$(smtp_reply RCPT)"

# TLS_Clt:127.0.0.5 VERIFY+CN:client.example.test
smtp_send out --local-interface 127.0.0.5 --to g@in.test --tls \
    --tls-cert "$PKI/client2.crt" --tls-key "$PKI/client2.key"
is "verified certificate with another CN: 454" 454 "$(smtp_code RCPT)"
like "  CN other.example.test does not match client.example.test" \
    "CN other\.example\.test does not match client\.example\.test" "$(smtp_reply RCPT)"
smtp_send out --local-interface 127.0.0.5 --to h@in.test --tls $cli
is "the named certificate: accepted" 250 "$(smtp_code '\.')"

# no TLS_Clt: entry for 127.0.0.1: nothing required
smtp_send out --to i@in.test
is "a client without an entry: accepted" 250 "$(smtp_code '\.')"

ok "accepted mail delivered (b)" mail_wait out b@in.test
ok "accepted mail delivered (e)" mail_wait out e@in.test
ok "accepted mail delivered (h)" mail_wait out h@in.test
ok "accepted mail delivered (i)" mail_wait out i@in.test
for r in a c d f g; do
    is "refused mail not delivered ($r)" 0 "$(mail_count out $r@in.test)"
done

# TLS_Srv: outbound through postseal-tlspolicyd
smtp_send out --to u@strong.test
is "out accepts u@strong.test" 250 "$(smtp_code '\.')"
smtp_send out --to u@ok.test
is "out accepts u@ok.test" 250 "$(smtp_code '\.')"
ok "TLS_Srv:localhost ENCR:128: delivered at 128 bits" mail_wait weak u@ok.test
pf_settle out
is "TLS_Srv:127.0.0.1 ENCR:256: nothing delivered" 0 "$(mail_count weak u@strong.test)"
like "TLS_Srv:127.0.0.1 ENCR:256: deferred, still queued" 'u@strong\.test' "$(pf_queue out deferred)"
file_has "the answer came from the access file line" "$E2E_DIR/tlspolicyd.log" \
    "tlspolicy \[127\.0\.0\.1\]:$pk: OK encrypt protocols=>=TLSv1\.2:<=TLSv1\.2 ciphers=high exclude=3DES:AES128:CAMELLIA128:ARIA128 \($access:7\)"
file_has "128 bits to localhost" "$(pf_log out)" \
    "TLS connection established to localhost\[127\.0\.0\.1\]:$pk: TLSv1\.2 with cipher [^ ]+ \(128/128 bits\)"

# --check names unsupported lines (and refuses them)
bad=$(e2e_file access.bad <<EOF
TLS_Srv:a.example		VERIFY+CS:/C=US/O=Big+20Corp/CN=a.example
TLS_Clt:b.example		VERIFY+CI:/C=US/O=CA/CN=Root
EOF
)
e2e_file bad.ini <<EOF >/dev/null
[sendmail]
access_file = $bad
EOF
out=$("$POSTSEAL_TLSPOLICYD" -c "$E2E_DIR/bad.ini" --check 2>&1)
is "--check refuses CS:/CI: entries" 1 "$?"
like "  line 1: CS: unsupported, says why" "$bad:1: .*unsupported: CS: compares the certificate's full subject DN" "$out"
like "  line 2: CI: unsupported" "$bad:2: .*unsupported: CI:" "$out"
out=$("$POSTSEAL_POLICYD" -c "$E2E_DIR/bad.ini" --check 2>&1)
is "policyd --check refuses them too" 1 "$?"
