#!/bin/bash
# Inbound through a real Postfix: mail from outside (sender ext.example) to a
# local domain goes public smtpd -> postseal-filter (pipe(8), nobody) ->
# inbound_process -> reinjection -> delivery.  Messages are made by openssl
# cms and gpg (tests/inbound/mkfix.sh); certificate status comes from a real
# `openssl ocsp` responder and a CRL/keyserver HTTP server on loopback
# (tests/inbound/httpd.py).
#  - S/MIME and PGP/MIME signed+encrypted from alice: delivered DECRYPTED with
#    "X-Postseal-Verify: valid", the forged header from outside gone;
#  - carol (certificate revoked, OCSP) and rita (OpenPGP key revoked on the
#    keyserver): the configured outcome, reject -> bounced with 5.7.1, nothing
#    delivered;
#  - status servers down and status_known required: deferred (4.7.0), kept in
#    the queue, delivered once the servers are back.
. "$(dirname "$0")/lib.sh"

need_prog "$POSTSEAL_FILTER"
OP=$(e2e_port 1)
HP=$(e2e_port 2)
FX=$E2E_DIR/fx
sh "$E2E_ROOT/tests/inbound/mkfix.sh" "$FX" "$OP" "$HP" || e2e_die "fixtures (mkfix.sh) failed"
# pipe(8) runs the filter as nobody: the gateway's keys belong to it.
chmod -R a+rX "$FX"
chown nobody:nogroup "$FX/bob.key" && chmod 600 "$FX/bob.key"
chown -R nobody:nogroup "$FX/gpg-gw" && chmod 700 "$FX/gpg-gw"
rm -f "$FX"/gpg-gw/S.* 2>/dev/null
mkdir -p "$E2E_DIR/hold" && chown nobody:nogroup "$E2E_DIR/hold"

e2e_file filter.ini <<EOF >/dev/null
[filter]
reinject = 127.0.0.1:$((PS_PORT_BASE + 1))
[inbound]
local_domains = local.example
gnupg_home = $FX/gpg-gw
smime_keypair = $FX/bob.key $FX/bob.pem
ca_file = $FX/ca.pem
keyserver = http://127.0.0.1:$HP
status_timeout = 3s
hold_dir = $E2E_DIR/hold
on_fail = reject
[inbound rule strict]
sender_domain = strict.example
require = valid, status_known
on_unreachable = defer
EOF
ok "postseal-filter accepts the config (--check)" "$POSTSEAL_FILTER" -c "$E2E_DIR/filter.ini" --check

daemon_start ocsp "inet:$OP" python3 "$E2E_ROOT/tests/inbound/httpd.py" "$OP" "$FX/www" \
    --ocsp "$FX" ocsp || e2e_die "OCSP responder did not start"
OCSP_PID=$DAEMON_PID
daemon_start www "inet:$HP" python3 "$E2E_ROOT/tests/inbound/httpd.py" "$HP" "$FX/www" ||
    e2e_die "CRL/keyserver HTTP server did not start"
WWW_PID=$DAEMON_PID

pf_new mx
pf_conf mx 'minimal_backoff_time = 2s' 'maximal_backoff_time = 4s' 'queue_run_delay = 2s'
pf_filter mx "$E2E_DIR/filter.ini"
pf_start mx

# 1. S/MIME: signed by alice, then encrypted to the gateway's bob certificate
smtp_send mx --from alice@ext.example --to bob@local.example --data "@$FX/msg/smime-enc-signed.eml"
is "S/MIME message accepted" 250 "$(smtp_code '\.')"
ok "delivered to bob" mail_wait mx bob@local.example 1
m=$(mail_last mx bob@local.example)
file_has "result header: valid, OCSP good, decrypted" "$m" \
    '^X-Postseal-Verify: valid; method=smime; signer="alice@ext.example"; status=good \(ocsp\); decrypt=smime'
file_lacks "the forged header from outside is gone" "$m" 'forged=yes'
is "exactly one result header" 1 "$(grep -c '^X-Postseal-Verify:' "$m")"
file_has "delivered decrypted: the plain text" "$m" '^the secret plan is ready\.'
file_lacks "no encrypted body left" "$m" 'application/pkcs7-mime'

# 2. PGP/MIME: signed and encrypted by alice's gpg
smtp_send mx --from alice@ext.example --to bob@local.example --data "@$FX/msg/pgp-enc-signed.eml"
is "PGP/MIME message accepted" 250 "$(smtp_code '\.')"
ok "delivered to bob" mail_wait mx bob@local.example 2
m=$(mail_last mx bob@local.example)
file_has "result header: valid pgp, decrypted" "$m" \
    '^X-Postseal-Verify: valid; method=pgp; signer="alice@ext.example"; status=good \(keyserver\); decrypt=pgp'
file_has "delivered decrypted" "$m" '^the secret plan is ready\.'
file_lacks "no PGP armor left" "$m" 'BEGIN PGP MESSAGE'

# 3. revoked signers: reject (on_fail = reject) -> bounce, nothing delivered
smtp_send mx --from carol@ext.example --to bob@local.example --data "@$FX/msg/smime-signed-carol.eml"
is "carol's message accepted by smtpd (the filter decides later)" 250 "$(smtp_code '\.')"
ok "carol gets a bounce" mail_wait mx carol@ext.example 1
b=$(mail_last mx carol@ext.example)
file_has "the bounce status is 5.7.1" "$b" '^Status: 5\.7\.1$'
file_has "the bounce names the OCSP revocation" "$b" \
    '^Diagnostic-Code: x-unix; signer revoked: http://127\.0\.0\.1:[0-9]+/: revoked'
smtp_send mx --from rita@ext.example --to bob@local.example --data "@$FX/msg/pgp-enc-rita.eml"
ok "rita gets a bounce" mail_wait mx rita@ext.example 1
b=$(mail_last mx rita@ext.example)
file_has "the bounce status is 5.7.1" "$b" '^Status: 5\.7\.1$'
file_has "the bounce names the revoked key" "$b" '^Diagnostic-Code: x-unix; signer revoked: key'
pf_settle mx
is "bob got only alice's two messages" 2 "$(mail_count mx bob@local.example)"

# 4. status servers down, status_known required: deferred, then delivered
kill "$OCSP_PID" "$WWW_PID"
wait "$OCSP_PID" "$WWW_PID" 2>/dev/null
smtp_send mx --from alice@strict.example --to bob@local.example \
    --data "@$FX/msg/smime-signed-alice.eml"
is "strict message accepted" 250 "$(smtp_code '\.')"
pf_settle mx
is "deferred, not delivered" 2 "$(mail_count mx bob@local.example)"
is "one message in the deferred queue" 1 "$(pf_queue_count mx deferred)"
like "deferred because the status is unknown" '^certificate status unreachable: http://127' \
    "$(pf_queue_reasons mx)"
daemon_start ocsp2 "inet:$OP" python3 "$E2E_ROOT/tests/inbound/httpd.py" "$OP" "$FX/www" \
    --ocsp "$FX" ocsp || e2e_die "OCSP responder did not restart"
pf_flush mx
ok "delivered once the responder answers" mail_wait mx bob@local.example 3 30
file_has "with a valid result" "$(mail_last mx bob@local.example)" \
    '^X-Postseal-Verify: valid; method=smime; signer="alice@ext.example"; status=good \(ocsp\); rule=strict'
pf_settle mx
is "nothing left in the queue" 0 "$(pf_queue_count mx)"
