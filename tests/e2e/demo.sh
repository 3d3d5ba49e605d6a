#!/bin/bash
# tests/e2e/demo.sh: `make demo`.  Starts a private Postfix on 127.0.0.1 wired
# to postseal-policyd (and to postseal-filter once it is built) on the SHIPPED
# configuration conf/postseal.ini, sends a few messages with swaks, prints what
# each client saw and what was delivered, and stops everything.  Everything it
# made stays in tests/work/demo/ (or /var/tmp/postseal-demo) for a look.
# Exit status: 0 when every decision was the one the shipped config promises.
# Ports: PS_PORT_BASE (default 10025) and the next one.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"   # the Makefile runs "sh demo.sh"
set -u
export E2E_NAME=demo E2E_DEMO=1
demo_root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/e2e/workdir.sh
. "$demo_root/tests/e2e/workdir.sh"
E2E_RUN=$(e2e_workdir "$demo_root" demo)
export E2E_RUN
# shellcheck source=tests/e2e/lib.sh
. "$demo_root/tests/e2e/lib.sh" >/dev/null

rel() { case $1 in "$demo_root"/*) echo "${1#"$demo_root"/}" ;; *) echo "$1" ;; esac; }
say() { printf '%s\n' "$*"; }

say ""
say "postseal demo: a private Postfix on 127.0.0.1:$PS_PORT_BASE with postseal on the shipped config"
say "  config:  $(rel "$POSTSEAL_INI")"
need_prog "$POSTSEAL_POLICYD"
if ! check=$("$POSTSEAL_POLICYD" -c "$POSTSEAL_INI" --check 2>&1); then
    say "  postseal-policyd --check refused the shipped config:"
    printf '%s\n' "$check" | sed 's/^/    /'
    exit 1
fi
say "  check:   $check"

policyd_start "$POSTSEAL_INI" unix || {
    say "postseal-policyd did not start; see $(rel "$E2E_DIR/policyd.log")"
    exit 1
}
pf_new mx
pf_policy mx
demo_filter=no
if [ -x "$POSTSEAL_FILTER" ]; then
    pf_filter mx "$POSTSEAL_INI"
    demo_filter=yes
fi
pf_start mx
say "  postfix: $(rel "$(pf_dir mx)/etc") (smtpd 127.0.0.1:$(pf_port mx), reinjection :$(pf_reinject_port mx))"
say "  policy:  check_policy_service $POLICYD_LISTEN (RCPT and END-OF-DATA)"
if [ $demo_filter = yes ]; then
    say "  filter:  content_filter=postseal-filter:dummy (pipe(8) as nobody), reinjected on :$(pf_reinject_port mx)"
else
    say "  filter:  postseal-filter is not built: no content filter in this demo"
fi
say ""

demo_n=0 demo_bad=0
# demo_case EXPECT LABEL RCPT SWAKS-OPTS...: EXPECT is "accept" or "refuse".
demo_case() {
    local expect=$1 label=$2 rcpt=$3 code reply got verdict file
    shift 3
    demo_n=$((demo_n + 1))
    smtp_send mx --to "$rcpt" "$@"
    code=$(smtp_code RCPT)
    if [ "$code" = 250 ]; then
        reply=$(smtp_reply '\.')
    else
        reply=$(smtp_reply RCPT)
    fi
    reply=${reply//"$demo_root"\//}
    [ -n "$reply" ] || reply="(no answer; swaks exit $SMTP_RC, see $(rel "$SMTP_LOG"))"
    if [ "$code" = 250 ] && [ "$(smtp_code '\.')" = 250 ]; then
        if mail_wait mx "$rcpt" 1 15; then
            file=$(mail_last mx "$rcpt")
            got="delivered to $(rel "$file")"
            demo_got=accept
        else
            got="accepted but NOT delivered (see $(rel "$(pf_log mx)"))"
            demo_got=lost
        fi
    else
        pf_settle mx 10 >/dev/null
        if [ "$(mail_count mx "$rcpt")" = 0 ]; then
            got="refused, nothing delivered"
            demo_got=refuse
        else
            got="refused but delivered?!"
            demo_got=lost
        fi
    fi
    if [ "$demo_got" = "$expect" ]; then
        verdict="as the shipped config says"
    else
        verdict="UNEXPECTED (wanted: $expect)"
        demo_bad=$((demo_bad + 1))
    fi
    say "$demo_n. $label"
    say "   client saw: $reply"
    say "   result:     $got -- $verdict"
    say "   transcript: $(rel "$SMTP_LOG")"
}

demo_case accept "the mail host itself (127.0.0.1), no TLS: [policy client 127.0.0.1] requires nothing" \
    alice@example.test --local-interface 127.0.0.1
demo_case refuse "another client (127.0.0.2), no TLS: [policy] require_tls = yes" \
    bob@example.test --local-interface 127.0.0.2
demo_case refuse "127.0.0.2 with TLS 1.1: [policy] tls_protocol = TLSv1.2" \
    bob@example.test --local-interface 127.0.0.2 --tls --tls-protocol tlsv1_1 --tls-cipher 'DEFAULT@SECLEVEL=0'
demo_case accept "127.0.0.2 with TLS 1.3 (256-bit key): meets TLSv1.2 and 128 bits" \
    bob@example.test --local-interface 127.0.0.2 --tls
demo_case accept "127.0.0.2 with TLS 1.2 and a client certificate from the test CA" \
    carol@example.test --local-interface 127.0.0.2 --tls --tls-protocol tlsv1_2 \
    --tls-cert "$PKI/client.crt" --tls-key "$PKI/client.key"

say ""
say "What postseal-policyd decided (its log, $(rel "$E2E_DIR/policyd.log")):"
grep -E 'NOQUEUE: ' "$E2E_DIR/policyd.log" | sed "s|$demo_root/||g" |
    sed -E 's/^.*NOQUEUE: ([a-z ()]+): .*client=[^[]*\[([^]]*)\][^ ]* state=([A-Z-]+) .*to=<([^>]*)> .*tls=([^ ]*): (.*)$/  \2 \3 \4 tls=\5: \1 -> \6/' 
say ""
if [ "$demo_bad" -eq 0 ]; then
    say "All $demo_n decisions were the ones the shipped config promises."
else
    say "$demo_bad of $demo_n decisions were NOT what the shipped config promises."
fi
say "Where to look (kept after the demo):"
say "  Postfix log        $(rel "$(pf_log mx)")"
say "  policyd log        $(rel "$E2E_DIR/policyd.log")"
say "  delivered mail     $(rel "$(pf_dir mx)/mail")/DOMAIN/USER/new/"
say "  Postfix config     $(rel "$(pf_dir mx)/etc")/main.cf, master.cf"
say "  SMTP transcripts   $(rel "$E2E_DIR")/smtp.N.log"
say "  test PKI           $(rel "$PKI")"
say "Try one decision yourself:"
say "  printf 'request=smtpd_access_policy\\nprotocol_state=RCPT\\nclient_address=192.0.2.7\\nencryption_protocol=TLSv1.1\\nencryption_keysize=256\\n\\n' | $(rel "$POSTSEAL_POLICYD") -c $(rel "$POSTSEAL_INI") --explain"
say "Stopping Postfix and postseal."
[ "$demo_bad" -eq 0 ]
