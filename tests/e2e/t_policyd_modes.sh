#!/bin/bash
# postseal-policyd in its other modes through a real Postfix: spawn(8) mode
# (--stdio, one process per smtpd connection, run as nobody from master.cf),
# a TCP listener on loopback, and the SHIPPED default config (127.0.0.1 exempt,
# any other client needs TLS >= 1.2 with >= 128-bit keys).  Every case checks
# the reply the client saw AND what was (not) delivered.
. "$(dirname "$0")/lib.sh"

e2e_file policy.ini <<'EOF2' >/dev/null
[global]
user = nobody

[policy]
require_tls = yes
outcome = permanent

[policy recipient_domain open.test]
inherit = no
EOF2
ok "policyd accepts the config (--check)" "$POSTSEAL_POLICYD" -c "$E2E_DIR/policy.ini" --check

# --- spawn(8): Postfix starts "postseal-policyd --stdio" per connection
pf_new spawn
pf_master spawn <<EOF2
policy-postseal unix - n n - 0 spawn
  user=nobody argv=$POSTSEAL_POLICYD --stdio -c $E2E_DIR/policy.ini
EOF2
pf_conf spawn "policy-postseal_time_limit = 3600" \
    "smtpd_recipient_restrictions = check_policy_service unix:private/policy-postseal, permit_mynetworks, reject_unauth_destination"
pf_start spawn
smtp_send spawn --to alice@secure.test
is "spawn mode: plaintext refused at RCPT (permanent)" 550 "$(smtp_code RCPT)"
like "spawn mode: the reply names the rule" '^550 5\.7\.1 .*TLS required \(rule .*policy\.ini:5\)' "$(smtp_reply RCPT)"
smtp_send spawn --to alice@secure.test --tls
is "spawn mode: TLS accepted" 250 "$(smtp_code '\.')"
smtp_send spawn --to bob@open.test
is "spawn mode: plaintext to the exempt domain accepted" 250 "$(smtp_code '\.')"
ok "spawn mode: alice got the TLS message" mail_wait spawn alice@secure.test
ok "spawn mode: bob got the plaintext message" mail_wait spawn bob@open.test
pf_settle spawn
is "spawn mode: alice got only the TLS message" 1 "$(mail_count spawn alice@secure.test)"
file_lacks "spawn mode: Postfix saw no policy server failure" "$(pf_log spawn)" 'problem talking to server|policy.*(timeout|failed)'
pf_stop spawn

# --- TCP on loopback (inet:PORT = 127.0.0.1:PORT)
port=$(e2e_port 1)
daemon_start policyd-inet "inet:$port" "$POSTSEAL_POLICYD" -f -v -c "$E2E_DIR/policy.ini" --listen "inet:$port" ||
    e2e_die "policyd on inet:$port did not start"
is "the TCP listener is bound to loopback only" "127.0.0.1:$port" \
    "$(ss -Hltn "sport = :$port" | awk '{print $4}' | head -n 1)"
pf_new tcp
# contrib/postfix/main.cf.policyd's form: per-service timeout and default_action
pf_policy tcp "{ inet:127.0.0.1:$port, timeout=10s, { default_action = 451 4.3.5 TLS policy service unavailable } }"
pf_start tcp
smtp_send tcp --to carol@secure.test
is "TCP: plaintext refused at RCPT" 550 "$(smtp_code RCPT)"
smtp_send tcp --to carol@secure.test --tls
is "TCP: TLS accepted" 250 "$(smtp_code '\.')"
ok "TCP: carol got the TLS message" mail_wait tcp carol@secure.test
pf_settle tcp
is "TCP: carol got only that one" 1 "$(mail_count tcp carol@secure.test)"
uid=$(awk '/^Uid:/ {print $2}' "/proc/$DAEMON_PID/status")
is "the daemon dropped privileges to nobody after binding" "$(id -u nobody)" "$uid"
daemon_stop policyd-inet
smtp_send tcp --to carol@secure.test --tls
is "TCP: policy service down: default_action 451 (fails closed)" 451 "$(smtp_code RCPT)"
pf_settle tcp
is "TCP: nothing more delivered while the service was down" 1 "$(mail_count tcp carol@secure.test)"
pf_stop tcp

# --- the shipped default configuration
ok "the shipped config passes --check" "$POSTSEAL_POLICYD" -c "$POSTSEAL_INI" --check
policyd_start "$POSTSEAL_INI" unix || e2e_die "policyd with the shipped config did not start"
pf_new dflt
pf_policy dflt
pf_start dflt
smtp_send dflt --to dave@example.test --local-interface 127.0.0.1
is "default: the host itself (127.0.0.1) may send without TLS" 250 "$(smtp_code '\.')"
smtp_send dflt --to erin@example.test --local-interface 127.0.0.2
is "default: another client without TLS: 450 at RCPT" 450 "$(smtp_code RCPT)"
like "default: reply says TLS required" '^450 4\.7\.1 .*TLS required \(rule .*postseal\.ini:[0-9]+\)' "$(smtp_reply RCPT)"
smtp_send dflt --to erin@example.test --local-interface 127.0.0.2 --tls --tls-protocol tlsv1_1 --tls-cipher 'DEFAULT@SECLEVEL=0'
is "default: TLS 1.1 from another client: 450" 450 "$(smtp_code RCPT)"
like "default: reply names the protocol minimum" 'TLS protocol TLSv1\.1 below required TLSv1\.2' "$(smtp_reply RCPT)"
smtp_send dflt --to erin@example.test --local-interface 127.0.0.2 --tls
is "default: TLS 1.3 from another client: 250" 250 "$(smtp_code '\.')"
ok "dave got the local message" mail_wait dflt dave@example.test
ok "erin got the TLS 1.3 message" mail_wait dflt erin@example.test
pf_settle dflt
is "erin got only the TLS 1.3 message" 1 "$(mail_count dflt erin@example.test)"
file_has "policyd logged the TLS 1.1 refusal with the client" "$E2E_DIR/policyd.log" 'refused: .*client=.*\[127\.0\.0\.2\].*tls=TLSv1\.1/'
