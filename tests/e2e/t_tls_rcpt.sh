#!/bin/bash
# Sendmail TLS_Rcpt: entries enforced on receipt by postseal-policyd through
# real Postfix ([sendmail] tls_rcpt = inbound): per recipient at RCPT, with
# the mapped codes and Sendmail's texts naming the access-file line; another
# recipient of the same domain (same transaction) is accepted and delivered;
# a TLS 1.3 client gets through; what each daemon's --check says about
# TLS_Rcpt:user@ for tls_rcpt = outbound (the default), inbound and both;
# --explain shows the keys looked up and FILE:LINE.
. "$(dirname "$0")/lib.sh"

access=$(e2e_file access <<EOF
# Sendmail access map (makemap input)
TLS_Rcpt:darth@endmail.test	ENCR:128
TLS_Rcpt:leia@			PERM+VERIFY
TLS_Rcpt:han+*@endmail.test	TEMP+ENCR:256
TLS_Srv:endmail.test		ENCR:128
EOF
)
chmod 0644 "$access"
ini=$(e2e_file postseal.ini <<EOF
[global]
user = nobody

[policy]

[sendmail]
access_file = $access
tls_rcpt = inbound
EOF
)

ok "policyd --check accepts TLS_Rcpt:user@ (tls_rcpt = inbound)" \
    "$POSTSEAL_POLICYD" -c "$ini" --check
ok "tlspolicyd --check too (not asked to apply TLS_Rcpt:)" "$POSTSEAL_TLSPOLICYD" -c "$ini" --check

policyd_start "$ini" unix || e2e_die "postseal-policyd did not start"
pf_new mx
pf_policy mx
pf_start mx

# plaintext: darth refused (ENCR:128, no prefix: 454 4.7.0), luke accepted
smtp_send mx --to darth@endmail.test,luke@endmail.test
is "plaintext to darth: 454" 454 "$(smtp_code 'RCPT TO:<darth@')"
like "  Sendmail's text and the access-file line" \
    "^454 4\.7\.0 .*encryption too weak 0 less than 128 \(rule $(basename "$access"):2\)" \
    "$(smtp_reply 'RCPT TO:<darth@')"
is "  luke@ (same domain, no entry) in the same transaction: 250" 250 \
    "$(smtp_code 'RCPT TO:<luke@')"
is "  the message is accepted for luke" 250 "$(smtp_code '\.')"
ok "  delivered to luke" mail_wait mx luke@endmail.test
file_lacks "  luke's copy is not addressed to darth" "$(mail_last mx luke@endmail.test)" \
    '^Delivered-To: darth@'

# plaintext to darth alone: refused, nothing delivered
smtp_send mx --to darth@endmail.test
is "plaintext to darth alone: 454" 454 "$(smtp_code RCPT)"
is "  no DATA" "" "$(smtp_code DATA)"

# a TLS 1.3 client to darth: accepted and delivered
smtp_open mx tls -tls1_3 || fail "TLS 1.3 session" "$SMTP_REPLY"
smtp_cmd "MAIL FROM:<sender@example.test>"
is "TLS 1.3: MAIL" 250 "$SMTP_CODE"
smtp_cmd "RCPT TO:<darth@endmail.test>"
is "TLS 1.3 to darth: accepted" 250 "$SMTP_CODE"
smtp_cmd "DATA"
msg=$(e2e_file msg.txt <<EOF
From: sender@example.test
To: darth@endmail.test
Subject: postseal e2e tls_rcpt over TLS 1.3

over TLS 1.3
EOF
)
smtp_data "$msg"
is "  end of data: 250" 250 "$SMTP_CODE"
smtp_close
ok "  delivered to darth" mail_wait mx darth@endmail.test
file_has "  received over TLS 1.3" "$(mail_last mx darth@endmail.test)" 'using TLSv1\.3'
is "  exactly one message for darth (the plaintext ones never arrived)" 1 \
    "$(mail_count mx darth@endmail.test)"

# TLS_Rcpt:leia@ PERM+VERIFY: any domain; 550 5.7.0 without a verified certificate
smtp_send mx --to leia@endmail.test --tls
is "TLS without a client certificate to leia@: 550" 550 "$(smtp_code RCPT)"
like "  not authenticated, line 3" "^550 5\.7\.0 .*not authenticated \(rule $(basename "$access"):3\)" \
    "$(smtp_reply RCPT)"
smtp_send mx --to leia@other.test --tls --tls-cert "$PKI/client.crt" --tls-key "$PKI/client.key"
is "a verified client certificate to leia@other.test: accepted" 250 "$(smtp_code '\.')"
ok "  delivered" mail_wait mx leia@other.test

# TLS_Rcpt:han+*@endmail.test TEMP+ENCR:256: +detail lookup, 450 4.7.0
smtp_send mx --to han+solo@endmail.test --tls --tls-protocol tlsv1_2 \
    --tls-cipher AES128-GCM-SHA256
is "han+solo@ at 128 bits where han+*@ needs 256: 450" 450 "$(smtp_code RCPT)"
like "  encryption too weak 128 less than 256, line 4" \
    "^450 4\.7\.0 .*encryption too weak 128 less than 256 \(rule $(basename "$access"):4\)" "$(smtp_reply RCPT)"
smtp_send mx --to han@endmail.test --tls --tls-protocol tlsv1_2 --tls-cipher AES128-GCM-SHA256
is "han@ (no +detail, no entry): accepted" 250 "$(smtp_code '\.')"

pf_settle mx
is "nothing delivered to han+solo" 0 "$(mail_count mx han+solo@endmail.test)"
is "nothing delivered to leia@endmail.test" 0 "$(mail_count mx leia@endmail.test)"
file_has "policyd logs the refusal per recipient" "$E2E_DIR/policyd.log" \
    "refused for this recipient: .*to=<darth@endmail\.test>.*: 454 4\.7\.0 encryption too weak 0 less than 128 \(rule $access:2\)"

# --explain: the keys looked up, the entry and its FILE:LINE
out=$(printf 'protocol_state=RCPT\nclient_address=192.0.2.1\nclient_name=unknown\nrecipient=darth@endmail.test\nencryption_keysize=0\n' |
    "$POSTSEAL_POLICYD" -c "$ini" --explain 2>&1)
like "--explain: the action" "^action=454 4\.7\.0 encryption too weak 0 less than 128 \(rule $access:2\)" "$out"
like "--explain: the rule with FILE:LINE" "^rule: $access:2 TLS_Rcpt:darth@endmail\.test" "$out"
like "--explain: the keys looked up" "looked up: TLS_Rcpt:darth@endmail\.test$" "$out"
like "--explain: the entry" "entry: TLS_Rcpt:darth@endmail\.test ENCR:128  \($access:2\)" "$out"
out=$(printf 'protocol_state=RCPT\nclient_address=192.0.2.1\nrecipient=luke@endmail.test\n' |
    "$POSTSEAL_POLICYD" -c "$ini" --explain 2>&1)
like "--explain for luke: every key tried, nothing required" \
    "looked up: TLS_Rcpt:luke@endmail\.test TLS_Rcpt:luke@ TLS_Rcpt:endmail\.test TLS_Rcpt:test TLS_Rcpt:$" "$out"
like "  no entry" "no entry: nothing required" "$out"

out=$(printf 'protocol_state=DATA\nclient_address=192.0.2.1\nrecipient=darth@endmail.test\nencryption_keysize=0\n' |
    "$POSTSEAL_POLICYD" -c "$ini" --explain 2>&1)
like "--explain at DATA: passes" "^action=DUNNO$" "$out"
like "  and says TLS_Rcpt: applies at RCPT only" "TLS_Rcpt: not applied at protocol_state DATA \(RCPT only\)" "$out"

# --check per tls_rcpt: outbound (default) makes tlspolicyd refuse user keys
e2e_file outbound.ini <<EOF >/dev/null
[sendmail]
access_file = $access
EOF
out=$("$POSTSEAL_TLSPOLICYD" -c "$E2E_DIR/outbound.ini" --check 2>&1)
is "tls_rcpt = outbound (default): tlspolicyd --check refuses TLS_Rcpt:user@" 1 "$?"
like "  names line 2 and says why" \
    "$access:2: TLS_Rcpt:darth@endmail\.test ENCR:128: unsupported: TLS_Rcpt:user@ is a per-recipient requirement" "$out"
like "  and how to enforce it on receipt" "tls_rcpt = inbound \(or both\)" "$out"
like "  line 3 too" "$access:3: TLS_Rcpt:leia@ PERM\+VERIFY: unsupported" "$out"
out=$("$POSTSEAL_POLICYD" -c "$E2E_DIR/outbound.ini" --check 2>&1)
is "  policyd --check: not asked, OK" 0 "$?"
like "  and notes who applies TLS_Rcpt:" "TLS_Rcpt: entries are applied on delivery by postseal-tlspolicyd" "$out"
e2e_file both.ini <<EOF >/dev/null
[sendmail]
access_file = $access
tls_rcpt = both
EOF
out=$("$POSTSEAL_TLSPOLICYD" -c "$E2E_DIR/both.ini" --check 2>&1)
is "tls_rcpt = both: tlspolicyd --check OK" 0 "$?"
like "  warns that line 2 is enforced on receipt only" \
    "$access:2: TLS_Rcpt:darth@endmail\.test ENCR:128: enforced on receipt only, by postseal-policyd" "$out"
ok "tls_rcpt = both: policyd --check OK" "$POSTSEAL_POLICYD" -c "$E2E_DIR/both.ini" --check
e2e_file bad.ini <<EOF >/dev/null
[sendmail]
access_file = $access
tls_rcpt = receipt
EOF
out=$("$POSTSEAL_POLICYD" -c "$E2E_DIR/bad.ini" --check 2>&1)
is "tls_rcpt = receipt: refused" 1 "$?"
like "  with the ini's FILE:LINE" \
    "$E2E_DIR/bad.ini:3: tls_rcpt: \"receipt\" is not one of: outbound, inbound, both" "$out"
