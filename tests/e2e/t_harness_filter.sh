#!/bin/bash
# The content-filter wiring of the harness (pf_filter) with the real
# postseal-filter: public smtpd -> pipe(8) as nobody -> SMTP reinjection into
# the second smtpd -> delivery, exactly once (no loop).  A recipient with an
# S/MIME certificate gets an encrypted message that `openssl cms` decrypts back
# to what was sent; a recipient without one gets it unchanged (the default
# "opportunistic").  Also an example of a filter test (tests/e2e/README.md).
. "$(dirname "$0")/lib.sh"

need_prog "$POSTSEAL_FILTER"
mkdir -p "$E2E_DIR/certs"
cp "$(pki_smime dana@example.test)" "$E2E_DIR/certs/" || e2e_die "no S/MIME cert"
e2e_file filter.ini <<EOF >/dev/null
[filter]
reinject = 127.0.0.1:$((PS_PORT_BASE + 1))
smime_certs = $E2E_DIR/certs
smime_ca = $PKI/ca.crt
EOF
ok "postseal-filter accepts the config (--check)" "$POSTSEAL_FILTER" -c "$E2E_DIR/filter.ini" --check
pf_new mx
pf_filter mx "$E2E_DIR/filter.ini"
pf_start mx
is "the filter's reinjection port is the second smtpd" "$((PS_PORT_BASE + 1))" "$(pf_reinject_port mx)"

token="e2e secret $$ $RANDOM"
smtp_send mx --to dana@example.test --body "$token"
is "message for the S/MIME recipient accepted" 250 "$(smtp_code '\.')"
smtp_send mx --to nokey@example.test --body "$token"
is "message for a recipient without a key accepted" 250 "$(smtp_code '\.')"
ok "dana's message delivered" mail_wait mx dana@example.test
ok "nokey's message delivered" mail_wait mx nokey@example.test
pf_settle mx

dana=$(mail_last mx dana@example.test)
file_has "dana's copy is S/MIME enveloped data" "$dana" '^Content-Type: application/pkcs7-mime; *smime-type=enveloped-data'
file_lacks "the text is not readable in dana's copy" "$dana" "$token"
openssl cms -decrypt -in "$dana" -recip "$PKI/smime/dana@example.test.crt" \
    -inkey "$PKI/smime/dana@example.test.key" -out "$E2E_DIR/dana.dec" 2>"$E2E_DIR/dana.dec.err"
is "openssl cms decrypts it with dana's key" 0 "$?"
file_has "the decrypted text is what was sent" "$E2E_DIR/dana.dec" "$token"
file_has "nokey's copy is the plain message" "$(mail_last mx nokey@example.test)" "$token"

log=$(pf_log mx)
is "each message went through the filter exactly once" 2 \
    "$(grep -c 'relay=postseal-filter,.*status=sent' "$log")"
is "and was delivered exactly once" 2 "$(grep -c 'relay=deliver,.*status=sent' "$log")"
is "dana got one message" 1 "$(mail_count mx dana@example.test)"
is "nothing left in the queue" 0 "$(pf_queue_count mx)"
