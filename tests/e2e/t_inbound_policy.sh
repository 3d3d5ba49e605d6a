#!/bin/bash
# Inbound policy outcomes and EFAIL protection through a real Postfix
# (messages from openssl cms and gpg, tests/inbound/mkfix.sh):
#  - expired signer certificate: delivered with the Subject tagged;
#  - signer mismatch (From mallory, signed by alice): tagged, header says so;
#  - unknown OpenPGP signer fetched from the keyserver, rule requires
#    "trusted": held in hold_dir, nothing delivered; without hold_dir it
#    lands in Postfix's hold queue through [filter] hold_reinject (an smtpd
#    that holds everything), and without either --check refuses the config
#    (FILE:LINE): never delivered instead of held;
#  - EFAIL: an encrypted part next to an attacker's HTML part is delivered
#    as it came (never decrypted), with a note in the header;
#  - OpenPGP without integrity protection (no MDC): not decrypted, no
#    plaintext delivered;
#  - unsigned mail from a domain whose rule requires a signature: bounced;
#  - a delivery to a local and an outside recipient: only the local copy is
#    decrypted.
. "$(dirname "$0")/lib.sh"

need_prog "$POSTSEAL_FILTER"
OP=$(e2e_port 1)
HP=$(e2e_port 2)
FX=$E2E_DIR/fx
sh "$E2E_ROOT/tests/inbound/mkfix.sh" "$FX" "$OP" "$HP" || e2e_die "fixtures (mkfix.sh) failed"
chmod -R a+rX "$FX"
chown nobody:nogroup "$FX/bob.key" && chmod 600 "$FX/bob.key"
chown -R nobody:nogroup "$FX/gpg-gw" && chmod 700 "$FX/gpg-gw"
rm -f "$FX"/gpg-gw/S.* 2>/dev/null
mkdir -p "$E2E_DIR/hold" && chown nobody:nogroup "$E2E_DIR/hold" && chmod 700 "$E2E_DIR/hold"

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
tag = [UNVERIFIED]
[inbound rule uma]
sender_domain = uma.example
require = trusted
on_fail = hold
[inbound rule signed-only]
sender_domain = bank.example
verify = required
on_fail = reject
EOF
ok "postseal-filter accepts the config (--check)" "$POSTSEAL_FILTER" -c "$E2E_DIR/filter.ini" --check

daemon_start ocsp "inet:$OP" python3 "$E2E_ROOT/tests/inbound/httpd.py" "$OP" "$FX/www" \
    --ocsp "$FX" ocsp || e2e_die "OCSP responder did not start"
daemon_start www "inet:$HP" python3 "$E2E_ROOT/tests/inbound/httpd.py" "$HP" "$FX/www" ||
    e2e_die "CRL/keyserver HTTP server did not start"

pf_new mx
pf_filter mx "$E2E_DIR/filter.ini"
# HOLD wiring (contrib/postfix/master.cf.filter): an smtpd whose
# restrictions HOLD everything, for hold_reinject (used at the end)
HOLDP=$(e2e_port 8)
pf_master mx <<EOF
127.0.0.1:$HOLDP inet n - n - - smtpd
  -o syslog_name=postfix/hold
  -o content_filter=
  -o receive_override_options=no_unknown_recipient_checks,no_header_body_checks,no_milters
  -o smtpd_relay_restrictions=permit_mynetworks,reject
  -o smtpd_recipient_restrictions=check_client_access,static:HOLD
  -o smtpd_end_of_data_restrictions=
  -o smtpd_tls_ask_ccert=no
EOF
pf_start mx

send() { # FROM TO MESSAGE
    smtp_send mx --from "$1" --to "$2" --data "@$FX/msg/$3.eml"
    is "$3 accepted" 250 "$(smtp_code '\.')"
}

send erin@ext.example erin-rcpt@local.example smime-signed-erin
ok "expired: delivered" mail_wait mx erin-rcpt@local.example
m=$(mail_last mx erin-rcpt@local.example)
file_has "expired: result header" "$m" '^X-Postseal-Verify: expired; method=smime; signer="erin@ext.example"'
file_has "expired: Subject tagged" "$m" '^Subject: \[UNVERIFIED\] '

send mallory@ext.example mm-rcpt@local.example smime-signed-mismatch
ok "mismatch: delivered" mail_wait mx mm-rcpt@local.example
m=$(mail_last mx mm-rcpt@local.example)
file_has "mismatch: result header" "$m" \
    '^X-Postseal-Verify: signer-mismatch; .*reason="signer mismatch: signed by alice@ext\.example, From is mallory@ext\.example"'
file_has "mismatch: Subject tagged" "$m" '^Subject: \[UNVERIFIED\] '

send uma@uma.example uma-rcpt@local.example pgp-enc-uma
pf_settle mx
is "untrusted signer held: nothing delivered" 0 "$(mail_count mx uma-rcpt@local.example)"
held=$(ls "$E2E_DIR/hold"/*.eml 2>/dev/null | head -n 1)
ok "untrusted signer held: a file in hold_dir" test -s "$held"
[ -n "$held" ] && file_has "the held copy is decrypted and says why" "$held" \
    '^X-Postseal-Verify: untrusted; method=pgp; signer="uma@ext\.example"; status=good \(keyserver\); decrypt=pgp; rule=uma; action=hold'
is "nothing queued for the held message" 0 "$(pf_queue_count mx)"

send alice@ext.example efail-rcpt@local.example efail
ok "EFAIL message delivered" mail_wait mx efail-rcpt@local.example
m=$(mail_last mx efail-rcpt@local.example)
file_has "EFAIL: header notes the part left encrypted" "$m" 'note="encrypted part below the top level left encrypted \(EFAIL protection\)"'
file_lacks "EFAIL: no plaintext spliced in" "$m" 'secret plan'
file_has "EFAIL: the encrypted part is still there" "$m" '^-----BEGIN PGP MESSAGE-----'

send alice@ext.example nomdc-rcpt@local.example pgp-nomdc
ok "no-MDC message delivered (as it came)" mail_wait mx nomdc-rcpt@local.example
m=$(mail_last mx nomdc-rcpt@local.example)
file_has "no-MDC: refused to decrypt" "$m" 'decrypt=failed \(pgp: OpenPGP data without integrity protection \(no MDC\) refused\)'
file_lacks "no-MDC: no plaintext delivered" "$m" 'secret plan'

# one delivery to a local and an outside recipient: only the local one gets
# the decrypted copy, the outside one the original (outbound path)
smtp_send mx --from alice@ext.example --to dec-rcpt@local.example,carol@far.example \
    --data "@$FX/msg/smime-enc-signed.eml"
is "mixed-recipient message accepted" 250 "$(smtp_code '\.')"
ok "local recipient served" mail_wait mx dec-rcpt@local.example
ok "outside recipient served" mail_wait mx carol@far.example
file_has "local copy decrypted" "$(mail_last mx dec-rcpt@local.example)" '^the secret plan is ready\.'
m=$(mail_last mx carol@far.example)
file_has "outside copy still encrypted" "$m" '^Content-Type: application/pkcs7-mime'
file_lacks "outside copy carries no plaintext" "$m" 'secret plan'
file_lacks "outside copy has no inbound result header" "$m" '^X-Postseal-Verify: valid; method='

smtp_send mx --from teller@bank.example --to unsigned-rcpt@local.example --data "@$FX/msg/plain.eml"
is "unsigned from bank.example accepted by smtpd" 250 "$(smtp_code '\.')"
ok "unsigned from bank.example: bounced to the sender" mail_wait mx teller@bank.example
file_has "bounce says a signature is required" "$(mail_last mx teller@bank.example)" \
    '^Diagnostic-Code: x-unix; message is not signed \(signature required\)'
pf_settle mx
is "nothing delivered for the unsigned message" 0 "$(mail_count mx unsigned-rcpt@local.example)"
is "nothing left in the queue" 0 "$(pf_queue_count mx)"

# hold without hold_dir: nowhere to hold is a config error (FILE:LINE) ...
sed -e '/^hold_dir = /d' "$E2E_DIR/filter.ini" >"$E2E_DIR/nohold.ini"
chmod 644 "$E2E_DIR/nohold.ini"
"$POSTSEAL_FILTER" -c "$E2E_DIR/nohold.ini" --check >"$E2E_DIR/nohold.out" 2>&1
isnt "--check refuses on_fail = hold with nowhere to hold" 0 "$?"
line=$(grep -n '^on_fail = hold' "$E2E_DIR/nohold.ini" | cut -d: -f1)
file_has "--check names FILE:LINE of the hold outcome" "$E2E_DIR/nohold.out" \
    "nohold\\.ini:$line: on_fail = hold needs hold_dir = DIR in \\[inbound\\] or hold_reinject = HOST:PORT in \\[filter\\]"
# ... and with [filter] hold_reinject the message lands in Postfix's hold queue
sed -e "s/^\\[filter\\]\$/[filter]\\nhold_reinject = 127.0.0.1:$HOLDP/" \
    "$E2E_DIR/nohold.ini" >"$E2E_DIR/filter.ini.new" && mv "$E2E_DIR/filter.ini.new" "$E2E_DIR/filter.ini"
chmod 644 "$E2E_DIR/filter.ini"
ok "postseal-filter accepts hold_reinject instead of hold_dir (--check)" \
    "$POSTSEAL_FILTER" -c "$E2E_DIR/filter.ini" --check
rm -f "$E2E_DIR/hold"/*.eml
send uma@uma.example uma2-rcpt@local.example pgp-enc-uma
e2e_wait 15 test "$(pf_hold_count mx)" = 1
is "untrusted signer, no hold_dir: the message waits in Postfix's hold queue" 1 "$(pf_hold_count mx)"
pf_settle mx
is "nothing delivered to uma2-rcpt" 0 "$(mail_count mx uma2-rcpt@local.example)"
is "no file in hold_dir" 0 "$(ls "$E2E_DIR/hold" | grep -c .)"
hid=$(pf_queue mx hold | awk '{print $2}' | head -n 1)
pf_cat mx "$hid" >"$E2E_DIR/held.txt"
file_has "the held copy says why" "$E2E_DIR/held.txt" '^X-Postseal-Hold: inbound: signer not trusted: key '
file_has "the held copy carries the result header" "$E2E_DIR/held.txt" \
    '^X-Postseal-Verify: untrusted; method=pgp; signer="uma@ext\.example"; .*action=hold'
file_has "the holding smtpd held it" "$(pf_log mx)" 'postfix/hold/smtpd.*: hold: '
file_has "the held copy is the decrypted message" "$E2E_DIR/held.txt" 'the secret plan is ready'

# A header line longer than RFC 5322's 998 bytes: Postfix passes it on, the
# strict MIME parser refuses it.  Delivered as it came (nothing in it can be
# decrypted or verified), forged result header removed, never bounced.
long=$(head -c 1500 /dev/zero | tr '\0' r)
printf 'From: <zed@ext.example>\nTo: <longhdr@local.example>\nSubject: long header\nReferences: <%s@ext.example>\nX-Postseal-Verify: valid; forged\n\nplain text body\n' \
    "$long" | head -c -1 >"$E2E_DIR/long.eml"
smtp_send mx --from zed@ext.example --to longhdr@local.example --data "$E2E_DIR/long.eml"
is "long header line: accepted" 250 "$(smtp_code '\.$')"
ok "long header line: delivered" mail_wait mx longhdr@local.example
M=$(mail_last mx longhdr@local.example)
file_has "long header line: the stamp says the header was passed on as it came" "$M" \
    '^X-Postseal-Verify: none; rule=default; action=deliver; note="header not parsed, passed on as it came: message: header line [0-9]+ longer than 998 bytes"'
file_lacks "long header line: the forged result header is gone" "$M" 'forged'
file_has "long header line: kept intact" "$M" "^References: <r{1500}@ext\\.example>\$"
file_has "long header line: body intact" "$M" '^plain text body$'
pf_settle mx
is "long header line: no bounce to the sender" 0 "$(mail_count mx zed@ext.example)"
