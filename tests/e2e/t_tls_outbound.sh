#!/bin/bash
# postseal-tlspolicyd through real Postfix instances: a sender ("out") whose
# smtp_tls_policy_maps and transport_maps are socketmap lookups into the daemon,
# and four receivers: "good" (the CA-signed localhost cert, every cipher),
# "wrong" (another CA-signed cert, mx2.example.test), "weak" (the good cert,
# but TLS 1.2 with 128-bit ciphers only) and "keypin" (the good cert again).  Each case checks what the sender's
# Postfix did (log, queue) AND what arrived (or not) at the receiver:
#   a  fingerprint pin + 256 bits      -> good:  delivered, 256-bit cipher
#   b  secure match=localhost          -> good:  delivered, "Verified"
#   c  fingerprint pin of the good cert-> wrong: deferred, nothing delivered
#   d  secure match=nomatch.example    -> good:  deferred, nothing delivered
#   e  encrypt, min_cipher_bits 256    -> weak:  deferred, nothing delivered
#   f  encrypt, min_cipher_bits 128    -> weak:  delivered (the same receiver)
#   h  fingerprint pin of the PUBLIC KEY -> keypin: delivered, "Verified"
#   g  bounce = yes (transport map)    -> SMTP: 550 5.7.1 at RCPT; sendmail(1):
#                                        bounced at once with a 5.7.1 DSN
# and with the daemon stopped: 451 at RCPT (transport lookup), or, without the
# transport socketmap, accepted and deferred before any connection ("client TLS
# configuration problem", 4.7.5), delivered once the daemon is back.
. "$(dirname "$0")/lib.sh"

pf_new out
pf_new good server
pf_new wrong server2
pf_new weak server
pf_new keypin server
pg=$(pf_port good)
pw=$(pf_port wrong)
pk=$(pf_port weak)
pp=$(pf_port keypin)
pkfp_good=$(pki_pubkey_fp "$PKI/server.crt")
fp_good=$(pki_fp "$PKI/server.crt")
sock=$E2E_DIR/tlspolicy.sock

e2e_file postseal.ini <<EOF >/dev/null
[global]
user = nobody

[tlspolicy]
listen = unix:$sock
default = may
min_protocol = TLSv1.2
min_cipher_bits = 128

[tlspolicy pinned]
destination = [127.0.0.1]:$pg, [127.0.0.1]:$pw
level = fingerprint
match = $fp_good
min_cipher_bits = 256

[tlspolicy keypin]
destination = [127.0.0.1]:$pp
level = fingerprint
match = $pkfp_good

[tlspolicy named]
destination = [localhost]:$pg
level = secure
match = localhost

[tlspolicy misnamed]
destination = d.test, [localhost]:$pw
level = secure
match = nomatch.example

[tlspolicy weakonly]
destination = [127.0.0.1]:$pk
level = encrypt
min_cipher_bits = 256

[tlspolicy weak128]
destination = [localhost]:$pk
level = encrypt
min_cipher_bits = 128

[tlspolicy gone.test]
level = secure
bounce = yes
bounce_text = 5.7.1 gone.test cannot be reached with the required TLS security
EOF
ini=$E2E_DIR/postseal.ini
ok "--check accepts the configuration" "$POSTSEAL_TLSPOLICYD" -c "$ini" --check
daemon_start tlspolicyd "unix:$sock" "$POSTSEAL_TLSPOLICYD" -f -v -c "$ini" ||
    e2e_die "postseal-tlspolicyd did not start"
is "the daemon runs as [global] user after binding" nobody "$(ps -o user= -p "$DAEMON_PID" | tr -d ' ')"

# the daemon answers Postfix's own socketmap client
like "postmap -q through the socket" '^fingerprint protocols=>=TLSv1.2:<=TLSv1.2 ciphers=high exclude=3DES:AES128:CAMELLIA128:ARIA128 match=' \
    "$(postmap -c "$(pf_dir out)/etc" -q "[127.0.0.1]:$pg" "socketmap:unix:$sock:tlspolicy" 2>&1)"

pf_conf out "smtp_tls_policy_maps = socketmap:unix:$sock:tlspolicy" \
    "transport_maps = socketmap:unix:$sock:transport, inline:{ a.test=smtp:[127.0.0.1]:$pg, b.test=smtp:[localhost]:$pg, c.test=smtp:[127.0.0.1]:$pw, d.test=smtp:[localhost]:$pw, e.test=smtp:[127.0.0.1]:$pk, f.test=smtp:[localhost]:$pk, h.test=smtp:[127.0.0.1]:$pp }"
# "weak": TLS 1.2 at most, and no cipher above 128 bits
pf_conf weak 'smtpd_tls_protocols = <=TLSv1.2' \
    'smtpd_tls_exclude_ciphers = AES256, CHACHA20, CAMELLIA256, ARIA256'
for i in out good wrong weak keypin; do pf_start "$i"; done

for d in a b c d e f h; do
    smtp_send out --to "user@$d.test"
    is "out accepts user@$d.test" 250 "$(smtp_code '\.')"
done
# g over SMTP: smtpd already sees the error: transport and refuses at RCPT
smtp_send out --to user@gone.test
is "g: RCPT refused with 550 at once" 550 "$(smtp_code RCPT)"
like "g: the refusal carries the configured text" \
    '5\.7\.1 .*gone\.test cannot be reached with the required TLS security' "$(smtp_reply RCPT)"
# g submitted locally (sendmail(1), no smtpd): accepted, then bounced with a DSN
printf 'Subject: g\n\nbody\n' |
    sendmail -C "$(pf_dir out)/etc" -f sender@example.test user@gone.test

ok "a: delivered to the pinned receiver" mail_wait good user@a.test
ok "b: delivered to the name-verified receiver" mail_wait good user@b.test
ok "f: delivered to the weak receiver at 128 bits" mail_wait weak user@f.test
ok "h: delivered with the public-key fingerprint pinned" mail_wait keypin user@h.test
ok "g: bounce reached the sender" mail_wait out sender@example.test
pf_settle out

log=$(pf_log out)
file_has "a: fingerprint-verified, 256-bit cipher" "$log" \
    "Verified TLS connection established to 127\.0\.0\.1\[127\.0\.0\.1\]:$pg: TLSv1\.2 with cipher [^ ]+ \(256/256 bits\)"
file_has "a: sent" "$log" "to=<user@a\.test>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:$pg,.* status=sent"
file_has "h: public-key pin verified" "$log" \
    "Verified TLS connection established to 127\.0\.0\.1\[127\.0\.0\.1\]:$pp"
file_has "b: name-verified connection" "$log" \
    "Verified TLS connection established to localhost\[127\.0\.0\.1\]:$pg"
file_has "f: 128-bit cipher to the weak receiver" "$log" \
    "TLS connection established to localhost\[127\.0\.0\.1\]:$pk: TLSv1\.2 with cipher [^ ]+ \(128/128 bits\)"

# the refused destinations: deferred (still queued), nothing delivered anywhere
is "c, d, e deferred: 3 messages in the deferred queue" 3 "$(pf_queue_count out deferred)"
q=$(pf_queue out deferred)
like "c is queued" 'user@c\.test' "$q"
like "d is queued" 'user@d\.test' "$q"
like "e is queued" 'user@e\.test' "$q"
is "c: nothing delivered at the wrong receiver" 0 "$(mail_count wrong user@c.test)"
is "d: nothing delivered at the wrong receiver" 0 "$(mail_count wrong user@d.test)"
is "e: nothing delivered at the weak receiver" 0 "$(mail_count weak user@e.test)"
file_has "c: refused for the unpinned certificate" "$log" \
    "to=<user@c\.test>.*status=deferred.*(fingerprint|certificate|not verified|verification)"
file_has "d: refused for the certificate name" "$log" \
    "to=<user@d\.test>.*status=deferred.*(verif|certificate|name)"
file_has "e: refused: no shared 256-bit cipher" "$log" \
    "to=<user@e\.test>.*status=deferred.*(TLS|handshake|cipher)"
file_lacks "no delivery for c/d/e" "$log" "to=<user@[cde]\.test>.*status=sent"

# the bounce variant: never queued, never attempted, the sender got a 5.7.1 DSN
file_has "g: bounced by the transport map answer" "$log" \
    "to=<user@gone\.test>.*relay=none.*status=bounced \(gone\.test cannot be reached with the required TLS security\)"
file_has "g: the DSN says 5.7.1" "$(mail_last out sender@example.test)" "Status: 5\.7\.1"
unlike "g is not in the queue" 'user@gone\.test' "$(pf_queue out)"

# the daemon logged each decision with the ini line that made it
file_has "decision logged with FILE:LINE" "$E2E_DIR/tlspolicyd.log" \
    "tlspolicy \[127\.0\.0\.1\]:$pk: OK encrypt .*postseal\.ini:[0-9]+ \[tlspolicy weakonly\]"

# the daemon down: Postfix fails closed (nothing leaves), and recovers after restart
daemon_stop tlspolicyd
smtp_send out --to user2@a.test
is "daemon down: the transport lookup fails, RCPT gets 451" 451 "$(smtp_code RCPT)"
# without the transport socketmap the message is accepted, but the TLS policy
# lookup fails: deferred, never sent without its policy
pf_conf out "transport_maps = inline:{ a.test=smtp:[127.0.0.1]:$pg, c.test=smtp:[127.0.0.1]:$pw, d.test=smtp:[localhost]:$pw, e.test=smtp:[127.0.0.1]:$pk }"
pf_reload out
smtp_send out --to user3@a.test
is "daemon down: accepted for later delivery" 250 "$(smtp_code '\.')"
pf_settle out
is "daemon down: nothing delivered" 0 "$(mail_count good user3@a.test)"
like "daemon down: deferred, still queued" 'user3@a\.test' "$(pf_queue out deferred)"
file_has "daemon down: deferred before connecting (relay=none, 4.7.5)" "$log" \
    "to=<user3@a\.test>, relay=none, .*dsn=4\.7\.5, status=deferred \(client TLS configuration problem\)"
file_lacks "daemon down: never sent" "$log" "to=<user3@a\.test>.*status=sent"
daemon_start tlspolicyd "unix:$sock" "$POSTSEAL_TLSPOLICYD" -f -v -c "$ini" ||
    e2e_die "postseal-tlspolicyd did not restart"
pf_flush out
ok "daemon back: the deferred message is delivered" mail_wait good user3@a.test
is "user2 (refused at RCPT) never arrived" 0 "$(mail_count good user2@a.test)"
pf_settle out
is "after the flush c, d, e are still deferred" 3 "$(pf_queue_count out deferred)"
file_lacks "c/d/e were never sent anywhere" "$log" "to=<user@[cde]\.test>.*status=sent"
is "nothing at the wrong receiver" 0 "$(mail_count wrong user@c.test)"
is "nothing at the weak receiver" 0 "$(mail_count weak user@e.test)"
