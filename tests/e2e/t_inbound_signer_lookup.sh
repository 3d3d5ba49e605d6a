#!/bin/bash
# Inbound signer key discovery ([inbound] signer_lookup) through a real
# Postfix: PGP/MIME multipart/signed mail from a.test (whose gateway publishes
# its users' keys in its Web Key Directory, served by tests/keys/keyserver.py
# over HTTPS on loopback) to a local user at b.test, with an EMPTY inbound
# GnuPG home and no keyserver:
#  - alice@a.test, key in a.test's WKD: delivered with "X-Postseal-Verify:
#    valid; method=pgp; signer=alice@a.test" and alice's key is then in the
#    INBOUND GnuPG home (not in [filter] gnupg_home); a second message needs
#    no second WKD request;
#  - carol@a.test, WKD serves nothing: "invalid", the reason names the
#    missing key, carol's address and the WKD 404; tagged as on_fail says;
#  - dave@a.test signs with one key while WKD serves another key for him:
#    "invalid", "the key found for <dave@a.test> is another key";
#  - erin@a.test while the WKD server fails (503): with the default rule
#    (verify = optional) delivered and tagged, the reason naming the failure;
#    with a rule requiring signatures from a.test: deferred (on_unreachable =
#    defer), nothing delivered; once the server answers: delivered valid;
#  - trust_wkd = no: the WKD key verifies but is "untrusted";
#  - signer_lookup = no: no WKD request, "not available".
. "$(dirname "$0")/lib.sh"

need_prog "$POSTSEAL_FILTER"
for p in python3 gpg openssl; do
    command -v "$p" >/dev/null 2>&1 || e2e_die "missing $p"
done
HTTPS=$(e2e_port 44)
pki_cert wkd-a openpgpkey.a.test 2048 ca "DNS:openpgpkey.a.test,DNS:a.test" ||
    e2e_die "cannot make the WKD server certificate"

# The senders' own keys (site a.test), one GnuPG home each.
G() { gpg --homedir "$E2E_DIR/gpg-$1" --batch --quiet --pinentry-mode loopback --passphrase '' "${@:2}"; }
for u in alice carol dave dave2 erin; do
    mkdir -m 700 "$E2E_DIR/gpg-$u" || e2e_die mkdir
    G "$u" --quick-gen-key "${u%2}@a.test" future-default default never 2>/dev/null ||
        e2e_die "gpg key generation for $u failed"
done
fpr() { G "$1" --with-colons --list-keys 2>/dev/null | awk -F: '$1 == "fpr" { print $10; exit }'; }
ALICE=$(fpr alice)
DAVE=$(fpr dave)
DAVE2=$(fpr dave2)
ERIN=$(fpr erin)

# WKD of a.test (advanced method: openpgpkey.a.test)
WWW=$E2E_DIR/www
mkdir -p "$WWW/wkd/a.test"
wkd_hash() { /usr/lib/gnupg/gpg-wks-client --print-wkd-hash "$1" | cut -d' ' -f1; }
publish() { G "$1" --export "$2" >"$WWW/wkd/a.test/$(wkd_hash "$2")"; }
publish alice alice@a.test
publish dave2 dave@a.test # not the key dave signs with
touch "$E2E_DIR/access.log"
daemon_start keyserver "inet:$HTTPS" python3 "$E2E_ROOT/tests/keys/keyserver.py" "$HTTPS" \
    "$WWW" "$E2E_DIR/access.log" "$PKI/wkd-a.crt" "$PKI/wkd-a.key" || e2e_die "key server did not start"

# The receiving gateway (b.test): empty inbound and filter GnuPG homes.
IH=$E2E_DIR/gpg-inbound
FH=$E2E_DIR/gpg-filter
mkdir -m 700 "$IH" "$FH"
mkdir -p "$E2E_DIR/cache" "$E2E_DIR/tmp"
chown nobody:nogroup "$IH" "$FH" "$E2E_DIR/cache" "$E2E_DIR/tmp"
write_conf() { # [extra [inbound] line]
    e2e_file filter.ini <<EOF >/dev/null
[filter]
reinject = 127.0.0.1:$((PS_PORT_BASE + 1))
gnupg_home = $FH
temp_dir = $E2E_DIR/tmp
[keys]
methods = wkd
ca_file = $PKI/ca.crt
connect_to = openpgpkey.a.test:443:127.0.0.1:$HTTPS
cache_file = $E2E_DIR/cache/keys.mdb
negative_ttl = 0
timeout = 3s
[inbound]
local_domains = b.test
gnupg_home = $IH
$1
EOF
    [ -f "$E2E_DIR/filter-filter.ini" ] && cp "$E2E_DIR/filter.ini" "$E2E_DIR/filter-filter.ini"
    return 0
}
write_conf ""
ok "postseal-filter accepts the config (--check)" "$POSTSEAL_FILTER" -c "$E2E_DIR/filter.ini" --check

# signed NAME: a PGP/MIME multipart/signed message from NAME@a.test signed
# with gpg-NAME's key (the signed part's CRLF form, RFC 3156 section 5).
signed() {
    local who=$1 from=${1%2}@a.test part f=$E2E_DIR/$1.$RANDOM.eml
    part="Content-Type: text/plain; charset=us-ascii"$'\r\n\r\n'"signed text from $who"
    printf '%s' "$part" | G "$who" --armor --detach-sign --digest-algo SHA256 >"$f.sig" ||
        e2e_die "gpg signing as $who failed"
    {
        printf 'From: %s <%s>\nTo: bob@b.test\nSubject: hello from %s\nMIME-Version: 1.0\n' \
            "$who" "$from" "$who"
        printf 'Content-Type: multipart/signed; micalg=pgp-sha256;\n protocol="application/pgp-signature"; boundary="b-%s"\n\n' "$who"
        printf -- '--b-%s\n%s\n--b-%s\n' "$who" "$(printf '%s' "$part" | tr -d '\r')" "$who"
        printf 'Content-Type: application/pgp-signature; name="signature.asc"\n\n'
        cat "$f.sig"
        printf '\n--b-%s--\n' "$who"
    } >"$f"
    echo "$f"
}
wkd_requests() { grep -c "wkd-advanced .*$(wkd_hash "$1")" "$E2E_DIR/access.log"; }
# as nobody: a root gpg would create root-owned key rings the filter cannot write
asnobody() { setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"; }
ihas() { asnobody gpg --homedir "$1" --batch --with-colons --list-keys "$2" 2>/dev/null | grep -q '^fpr'; }

pf_new mx
pf_conf mx 'minimal_backoff_time = 2s' 'maximal_backoff_time = 4s' 'queue_run_delay = 2s'
pf_filter mx "$E2E_DIR/filter.ini"
pf_start mx

# 1. alice: key found in a.test's WKD, imported into the inbound home
not_ok "alice's key is not in the inbound home before" ihas "$IH" "$ALICE"
smtp_send mx --from alice@a.test --to bob@b.test --data "@$(signed alice)"
is "alice: accepted" 250 "$(smtp_code '\.')"
ok "alice: delivered" mail_wait mx bob@b.test 1
m=$(mail_last mx bob@b.test)
file_has "alice: valid signature by alice@a.test" "$m" \
    '^X-Postseal-Verify: valid; method=pgp; signer="alice@a.test"; .*action=deliver'
file_has "alice: the signed text" "$m" '^signed text from alice'
ok "alice: her key is now in the inbound GnuPG home" ihas "$IH" "$ALICE"
not_ok "alice: and not in [filter] gnupg_home" ihas "$FH" "$ALICE"
is "alice: one WKD request" 1 "$(wkd_requests alice@a.test)"
is "alice: only the user ID for alice@a.test was imported" "alice@a.test" \
    "$(asnobody gpg --homedir "$IH" --batch --with-colons --list-keys "$ALICE" 2>/dev/null | awk -F: '$1 == "uid" { print $10 }')"
smtp_send mx --from alice@a.test --to bob@b.test --data "@$(signed alice)"
ok "alice: second message delivered" mail_wait mx bob@b.test 2
file_has "alice: second message valid" "$(mail_last mx bob@b.test)" '^X-Postseal-Verify: valid; method=pgp; signer="alice@a.test"'
is "alice: no second WKD request (the key is local now)" 1 "$(wkd_requests alice@a.test)"

# 2. carol: WKD serves nothing
smtp_send mx --from carol@a.test --to bob@b.test --data "@$(signed carol)"
ok "carol: delivered" mail_wait mx bob@b.test 3
m=$(mail_last mx bob@b.test)
file_has "carol: invalid, the signer key is not available, no key for carol" "$m" \
    "^X-Postseal-Verify: invalid; method=pgp; .*reason=\"invalid signature: signer key [0-9A-F]+ not available: no key for <carol@a\\.test>: wkd: https://openpgpkey\\.a\\.test/\\.\\.\\.: HTTP 404 \\(no key\\)"
file_has "carol: tagged (on_fail = tag)" "$m" '^Subject: \[UNVERIFIED\] '
is "carol: WKD was asked" 1 "$(wkd_requests carol@a.test)"

# 3. dave: WKD has a key for dave@a.test, but not the one that signed
smtp_send mx --from dave@a.test --to bob@b.test --data "@$(signed dave)"
ok "dave: delivered" mail_wait mx bob@b.test 4
m=$(mail_last mx bob@b.test)
file_has "dave: invalid: the key found is another key" "$m" \
    "^X-Postseal-Verify: invalid; .*not available: the key found for <dave@a.test> is another key \\($DAVE2\\)"
not_ok "dave: his signing key is not in the inbound home" ihas "$IH" "$DAVE"

# 4. erin while the WKD server fails.  The default rule (verify = optional):
#    delivered at once, tagged as on_fail says, the reason names the failure
#    (a stranger's broken web server must not hold mail in the queue).
#    A rule that requires signatures (a partner): deferred (on_unreachable =
#    defer), nothing delivered; once the server answers: delivered valid.
publish erin erin@a.test
touch "$WWW/status.503"
smtp_send mx --from erin@a.test --to bob@b.test --data "@$(signed erin)"
is "erin (verify optional): accepted" 250 "$(smtp_code '\.')"
ok "erin (verify optional): delivered while the server fails" mail_wait mx bob@b.test 5
file_has "erin (verify optional): tagged, the reason names the lookup failure" \
    "$(mail_last mx bob@b.test)" \
    '^X-Postseal-Verify: invalid; .*action=tag; reason="signer key unreachable: .*lookup of <erin@a\.test> failed: wkd: https://openpgpkey\.a\.test/\.\.\.: HTTP 503'
write_conf "[inbound rule partner]
sender_domain = a.test
verify = required"
smtp_send mx --from erin@a.test --to bob@b.test --data "@$(signed erin)"
is "erin (partner rule, verify required): accepted" 250 "$(smtp_code '\.')"
pf_settle mx
is "erin (partner rule): nothing delivered while the server fails" 5 "$(mail_count mx bob@b.test)"
is "erin (partner rule): deferred in the queue" 1 "$(pf_queue_count mx deferred)"
like "erin (partner rule): the reason names the lookup failure" '^signer key unreachable: .*lookup of <erin@a\.test> failed: wkd: https://openpgpkey\.a\.test/\.\.\.: HTTP 503' \
    "$(pf_queue_reasons mx)"
rm -f "$WWW/status.503"
pf_flush mx
ok "erin (partner rule): delivered once the server answers" mail_wait mx bob@b.test 6 30
file_has "erin: valid" "$(mail_last mx bob@b.test)" '^X-Postseal-Verify: valid; method=pgp; signer="erin@a.test"'
ok "erin: key in the inbound home" ihas "$IH" "$ERIN"
write_conf ""

# 5. trust_wkd = no: the same WKD key verifies, but is not "trusted"
write_conf "trust_wkd = no"
smtp_send mx --from alice@a.test --to bob@b.test --data "@$(signed alice)"
ok "trust_wkd = no: delivered" mail_wait mx bob@b.test 7
file_has "trust_wkd = no: untrusted (verified, key not fully valid)" "$(mail_last mx bob@b.test)" \
    '^X-Postseal-Verify: untrusted; method=pgp; signer="alice@a.test"; .*action=deliver'

# 6. signer_lookup = no: nothing asked
write_conf "signer_lookup = no"
n=$(grep -c . "$E2E_DIR/access.log")
smtp_send mx --from carol@a.test --to bob@b.test --data "@$(signed carol)"
ok "signer_lookup = no: delivered" mail_wait mx bob@b.test 8
file_has "signer_lookup = no: not available" "$(mail_last mx bob@b.test)" \
    '^X-Postseal-Verify: invalid; .*signer key [0-9A-F]+ not available'
is "signer_lookup = no: no request" "$n" "$(grep -c . "$E2E_DIR/access.log")"

# 7. signer_lookup = yes without an OpenPGP method: FILE:LINE
e2e_file nomethod.ini <<EOF >/dev/null
[filter]
gnupg_home = $FH
[inbound]
local_domains = b.test
gnupg_home = $IH
signer_lookup = yes
EOF
"$POSTSEAL_FILTER" -c "$E2E_DIR/nomethod.ini" --check >"$E2E_DIR/nomethod.out" 2>&1
file_has "signer_lookup = yes without [keys] methods: FILE:LINE" "$E2E_DIR/nomethod.out" \
    "nomethod.ini:6: signer_lookup = yes needs"
