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
e2e_die() {
    say "make demo: $*"
    exit 1
}

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
    demo_filter=yes
    # The recipients' keys: an S/MIME certificate for dana (from the test
    # CA) and an OpenPGP key for erin, in a key store of the demo's own.
    demo_keys=$E2E_DIR/keys
    mkdir -p "$demo_keys/certs" "$demo_keys/gnupg" "$demo_keys/erin"
    cp "$(pki_smime dana@example.test)" "$demo_keys/certs/" || e2e_die "no S/MIME cert for dana"
    chmod 0700 "$demo_keys/erin"
    GNUPGHOME=$demo_keys/erin gpg --batch --quiet --passphrase '' \
        --quick-gen-key 'Erin Demo <erin@example.test>' future-default default never 2>/dev/null &&
        GNUPGHOME=$demo_keys/erin gpg --batch --quiet --export erin@example.test >"$demo_keys/erin.pub" &&
        chmod 0700 "$demo_keys/gnupg" &&
        GNUPGHOME=$demo_keys/gnupg gpg --batch --quiet --import "$demo_keys/erin.pub" 2>/dev/null ||
        e2e_die "cannot make erin's OpenPGP key (gpg)"
    chown -R nobody:nogroup "$demo_keys/gnupg"
    # The filter reads the shipped file plus these lines (a later key wins).
    demo_filter_ini=$E2E_DIR/postseal-demo.ini
    {
        cat "$POSTSEAL_INI"
        printf '\n# ---- added by make demo: the demo key store and reinjection port ----\n'
        printf '[filter]\nreinject = 127.0.0.1:%s\n' "$((PS_PORT_BASE + 1))"
        printf 'smime_certs = %s\nsmime_ca = %s\n' "$demo_keys/certs" "$PKI/ca.crt"
        printf 'gnupg_home = %s\n' "$demo_keys/gnupg"
    } >"$demo_filter_ini"
    if ! fcheck=$("$POSTSEAL_FILTER" -c "$demo_filter_ini" --check 2>&1); then
        say "  postseal-filter --check refused the demo config:"
        printf '%s\n' "$fcheck" | sed 's/^/    /'
        exit 1
    fi
    pf_filter mx "$demo_filter_ini"
fi
pf_start mx
say "  postfix: $(rel "$(pf_dir mx)/etc") (smtpd 127.0.0.1:$(pf_port mx), reinjection :$(pf_reinject_port mx))"
say "  policy:  postseal-policyd -c $(rel "$POSTSEAL_INI"), check_policy_service $POLICYD_LISTEN"
if [ $demo_filter = yes ]; then
    say "  filter:  content_filter=postseal-filter:dummy (pipe(8) as nobody), reinjected on :$(pf_reinject_port mx)"
    say "           config $(rel "$demo_filter_ini") = the shipped file plus:"
    sed -n '/^# ---- added by make demo/,$p' "$demo_filter_ini" | sed "s|$demo_root/||g; s/^/             /"
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

# demo_crypt LABEL RCPT KIND: a message to RCPT over TLS from 127.0.0.2,
# then KIND says what the delivered copy must be: smime / pgp (encrypted,
# and decrypted back to the text sent) or plain (unchanged).
demo_crypt() {
    local label=$1 rcpt=$2 kind=$3 token f dec ok=yes what
    token="demo text $RANDOM$RANDOM for $rcpt"
    demo_case accept "$label" "$rcpt" --local-interface 127.0.0.2 --tls --body "$token"
    [ "$demo_got" = accept ] || return
    f=$(mail_last mx "$rcpt")
    dec=$E2E_DIR/${rcpt%@*}.decrypted
    case $kind in
    smime)
        what="S/MIME (application/pkcs7-mime), decrypted with openssl cms and dana's key"
        grep -q '^Content-Type: application/pkcs7-mime' "$f" && ! grep -q "$token" "$f" &&
            openssl cms -decrypt -in "$f" -recip "$PKI/smime/$rcpt.crt" \
                -inkey "$PKI/smime/$rcpt.key" -out "$dec" 2>/dev/null &&
            grep -q "$token" "$dec" || ok=no
        ;;
    pgp)
        what="PGP/MIME (multipart/encrypted), decrypted with gpg and erin's key"
        grep -q '^Content-Type: multipart/encrypted' "$f" && ! grep -q "$token" "$f" &&
            awk '/^-----BEGIN PGP MESSAGE-----/,/^-----END PGP MESSAGE-----/' "$f" |
            GNUPGHOME=$demo_keys/erin gpg --batch --quiet --decrypt >"$dec" 2>/dev/null &&
            grep -q "$token" "$dec" || ok=no
        ;;
    plain)
        what="unchanged (no key: the default is opportunistic)"
        grep -q "$token" "$f" || ok=no
        ;;
    esac
    if [ $ok = yes ]; then
        say "   content:    $what: the text sent is back"
    else
        say "   content:    NOT $what -- UNEXPECTED (see $(rel "$f"))"
        demo_bad=$((demo_bad + 1))
    fi
}

if [ $demo_filter = yes ]; then
    say ""
    say "Through postseal-filter (all from 127.0.0.2 over TLS 1.3, so the policy lets them in):"
    demo_crypt "to dana@example.test, who has an S/MIME certificate in the key store" dana@example.test smime
    demo_crypt "to erin@example.test, who has an OpenPGP key in the key store" erin@example.test pgp
    demo_crypt "to frank@example.test, who has no key" frank@example.test plain
fi

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
[ $demo_filter = yes ] && say "  demo key store     $(rel "$demo_keys") (erin's own GnuPG home: $(rel "$demo_keys/erin"))"
say "Try one decision yourself:"
say "  printf 'request=smtpd_access_policy\\nprotocol_state=RCPT\\nclient_address=192.0.2.7\\nencryption_protocol=TLSv1.1\\nencryption_keysize=256\\n\\n' | policy/postseal-policyd -c conf/postseal.ini --explain"
say "Stopping Postfix and postseal."
[ "$demo_bad" -eq 0 ]
