#!/bin/bash
# postseal-policyd through a real Postfix when things go wrong: a client that
# sends garbage or an over-long line, one that starts a request and then says
# nothing; neither may stop Postfix's own requests from being answered.  With
# the policy daemon gone Postfix fails closed (451 4.3.5, nothing delivered);
# after a restart mail flows again without touching Postfix.
. "$(dirname "$0")/lib.sh"

e2e_file policy.ini <<'EOF' >/dev/null
[global]
user = nobody

[policy]
outcome = temporary

[policy recipient_domain tls.test]
require_tls = yes
EOF
policyd_start "$E2E_DIR/policy.ini" inet || e2e_die "postseal-policyd did not start"
pf_new mx
pf_policy mx
pf_start mx
port=$((PS_PORT_BASE + 10))

smtp_send mx --to ann@tls.test --tls
is "baseline: TLS to tls.test accepted" 250 "$(smtp_code '\.')"
smtp_send mx --to ann@tls.test
is "baseline: plaintext to tls.test refused" 450 "$(smtp_code RCPT)"

# garbage, a line without '=', an over-long line (1 MiB, no newline)
if exec {g}<>"/dev/tcp/127.0.0.1/$port"; then
    printf 'this is not a policy request\n\x01\x02\x03=\n\n' >&"$g" 2>/dev/null
    head -c 1048576 /dev/zero | tr '\0' 'A' >&"$g" 2>/dev/null
    exec {g}>&-
fi
# a request started and never finished, kept open during the next sessions
exec {idle}<>"/dev/tcp/127.0.0.1/$port" && printf 'request=smtpd_access_policy\nprotocol_state=RCPT\n' >&"$idle"

start=$(date +%s)
smtp_send mx --to bea@tls.test --tls
is "after garbage, with a half request open: TLS accepted" 250 "$(smtp_code '\.')"
smtp_send mx --to bea@tls.test
is "and plaintext still refused by the policy (not by a timeout)" 450 "$(smtp_code RCPT)"
like "the refusal is policyd's" 'TLS required' "$(smtp_reply RCPT)"
took=$(($(date +%s) - start))
ok "both answered within 5 s (took $took s)" test "$took" -le 5
ok "policyd survived the bad clients" daemon_alive policyd
file_has "policyd saw the garbage and dropped that client" "$E2E_DIR/policyd.log" 'connection dropped after 0 requests: protocol error'
exec {idle}>&-

# the policy daemon is gone: Postfix fails closed
policyd_stop
smtp_send mx --to cat@open.test --tls
is "policyd down: 451 at RCPT (smtpd_policy_service_default_action)" 451 "$(smtp_code RCPT)"
like "451 4.3.5" '^451 4\.3\.5' "$(smtp_reply RCPT)"
pf_settle mx
is "nothing delivered while policyd was down" 0 "$(mail_count mx cat@open.test)"

# back again: Postfix reconnects by itself
policyd_start "$E2E_DIR/policy.ini" inet || e2e_die "postseal-policyd did not restart"
smtp_send mx --to cat@open.test --tls
is "policyd restarted: accepted again" 250 "$(smtp_code '\.')"
ok "cat got exactly the message sent after the restart" mail_wait mx cat@open.test
pf_settle mx
is "one message for cat" 1 "$(mail_count mx cat@open.test)"
ok "bea got the TLS message" mail_wait mx bea@tls.test
is "bea got only the TLS message" 1 "$(mail_count mx bea@tls.test)"
