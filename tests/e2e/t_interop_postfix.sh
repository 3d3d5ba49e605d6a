#!/bin/bash
# OpenPGP interoperability through a real Postfix (SMTP in, pipe(8) as
# nobody, SMTP reinjection with CRLF and dot-stuffing, delivery), checked by
# Sequoia (sq 0.27) and RNP (rnp 0.16), not by gpg:
#  - outbound: signed+encrypted PGP/MIME to an sq key and an rnp key is
#    decrypted by sq and rnp with the gateway's signature good; a
#    multipart/signed message verifies with sq and rnp over the CRLF form of
#    the signed part as delivered;
#  - inbound: PGP/MIME signed+encrypted by sq and by rnp, sent over SMTP to
#    a local recipient, is delivered decrypted with the sender's signature
#    in X-Postseal-Verify.
. "$(dirname "$0")/lib.sh"

need_prog "$POSTSEAL_FILTER"
for p in sq rnp rnpkeys python3; do
    command -v $p >/dev/null || e2e_skip "$p not installed (tests/deps.d/interop.txt)"
done
CUT="python3 $E2E_ROOT/tests/interop/mimecut.py"
D=$E2E_DIR
cd "$D" || e2e_die "no work dir"

# ---- keys: gateway home (nobody's), sq and rnp outsiders ----
GH=$D/gnupg
mkdir -m 700 "$GH"
G="gpg --homedir $GH --batch --no-tty --pinentry-mode loopback --passphrase="
$G --quick-gen-key 'Gateway <gw@local.example>' future-default default 1y 2>/dev/null ||
    e2e_die "gpg key generation failed"
GW=$($G --with-colons -k gw@local.example | awk -F: '/^fpr/ {print $10; exit}')
sq key generate --userid '<sqa@ext.example>' --export sqa.key 2>/dev/null &&
    sq key extract-cert <sqa.key >sqa.cert 2>/dev/null || e2e_die "sq key generation failed"
mkdir -m 700 rnph
rnpkeys --homedir rnph --generate-key --userid rna@ext.example --password '' >/dev/null 2>&1 &&
    rnpkeys --homedir rnph --export-key rna@ext.example >rna.asc 2>/dev/null ||
    e2e_die "rnp key generation failed"
$G --import sqa.cert rna.asc 2>/dev/null || e2e_die "import into the gateway failed"
$G --export gw@local.example >gw.pgp
$G --export -a gw@local.example >gw.asc
rnpkeys --homedir rnph --import gw.asc >/dev/null 2>&1 || e2e_die "rnp import failed"
gpgconf --homedir "$GH" --kill all 2>/dev/null
chown -R nobody: "$GH"

# hidden_recipients = no: the two-recipient message below shows both key ids
# (the default auto would hide them, and rnp 0.16 cannot decrypt that)
e2e_file filter.ini <<EOF >/dev/null
[filter]
reinject = 127.0.0.1:$((PS_PORT_BASE + 1))
gnupg_home = $GH
hidden_recipients = no
[filter signkey gw]
pgp_key = $GW
[filter rule sign-only]
recipient = signed@ext.example
encrypt = never
method = pgp
sign = yes
signkey = gw
[filter rule partners]
recipient_domain = ext.example
encrypt = required
method = pgp
sign = yes
signkey = gw
[inbound]
local_domains = local.example
gnupg_home = $GH
status_check = no
EOF
ok "postseal-filter accepts the config (--check)" sh -c "\"$POSTSEAL_FILTER\" -c filter.ini --check >/dev/null"

pf_new mx
pf_filter mx "$E2E_DIR/filter.ini"
pf_start mx

# ---- outbound ----
token="interop $$ $RANDOM"
body=$(printf '%s\n.\n.leading dot\nFrom the start\ntrailing space \nend' "$token")
smtp_send mx --to sqa@ext.example,rna@ext.example --body "$body"
is "encrypted message accepted" 250 "$(smtp_code '\.$')"
smtp_send mx --to signed@ext.example --body "$body"
is "signed message accepted" 250 "$(smtp_code '\.$')"
ok "sqa's copy delivered" mail_wait mx sqa@ext.example
ok "rna's copy delivered" mail_wait mx rna@ext.example
ok "signed copy delivered" mail_wait mx signed@ext.example
for r in sqa rna; do
    m=$(mail_last mx $r@ext.example)
    file_lacks "$r: the text is not readable" "$m" "$token"
    $CUT "$m" 2 $r.asc --body || fail "$r: no second part"
done
ok "sq decrypts sqa's copy" sh -c "sq decrypt --recipient-key sqa.key --signer-cert gw.pgp sqa.asc >sqa.dec 2>sqa.err"
file_has "sq: the gateway's signature is good" sqa.err '^1 good signature'
file_has "sq: the text" sqa.dec "$token"
file_has "sq: dot lines survived SMTP" sqa.dec $'^=2Eleading dot\r?$|^\\.leading dot\r?$'
ok "rnp decrypts rna's copy" sh -c "rnp --homedir rnph --password= -d rna.asc --output rna.dec >rna.err 2>&1"
file_has "rnp: the gateway's signature is good" rna.err 'Signature\(s\) verified successfully'
file_has "rnp: the text" rna.dec "$token"
m=$(mail_last mx signed@ext.example)
file_has "signed: multipart/signed" "$m" '^Content-Type: multipart/signed'
$CUT "$m" 1 signed.crlf --crlf && $CUT "$m" 2 signed.sig --body || fail "signed: cannot cut the parts"
ok "sq verifies the delivered signature over the CRLF part" \
    sh -c "sq verify --signer-cert gw.pgp --detached signed.sig signed.crlf >/dev/null 2>&1"
ok "rnp verifies the delivered signature over the CRLF part" \
    sh -c "rnp --homedir rnph -v signed.sig --source signed.crlf >/dev/null 2>&1"

# ---- inbound: made by sq and rnp, sent over SMTP ----
printf 'Content-Type: text/plain; charset=us-ascii\n\n%s\n.\nend\n' "$token" >entity.txt
pgpmime() { # pgpmime DATAFILE FROM > message
    printf 'From: %s\nTo: bob@local.example\nSubject: interop in\nMIME-Version: 1.0\nContent-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="BB"\n\n--BB\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n\n--BB\nContent-Type: application/octet-stream\n\n' "$2"
    cat "$1"
    printf '\n--BB--\n'
}
sq encrypt --recipient-cert gw.pgp --signer-key sqa.key entity.txt >in-sq.asc 2>/dev/null ||
    fail "sq encrypt failed"
pgpmime in-sq.asc sqa@ext.example >in-sq.eml
rnp --homedir rnph --password= -e -s -u rna@ext.example -r gw@local.example --armor entity.txt \
    --output in-rnp.asc >/dev/null 2>&1 || fail "rnp encrypt failed"
pgpmime in-rnp.asc rna@ext.example >in-rnp.eml
chmod 644 in-sq.eml in-rnp.eml
smtp_send mx --from sqa@ext.example --to bob@local.example --data "@$D/in-sq.eml"
is "sq message accepted" 250 "$(smtp_code '\.$')"
ok "delivered" mail_wait mx bob@local.example 1
smtp_send mx --from rna@ext.example --to bob@local.example --data "@$D/in-rnp.eml"
is "rnp message accepted" 250 "$(smtp_code '\.$')"
ok "delivered" mail_wait mx bob@local.example 2
for f in $(mail_files mx bob@local.example); do
    if grep -q '^From: sqa@' "$f"; then who=sqa; else who=rna; fi
    file_has "$who: delivered decrypted" "$f" "^$token"
    file_lacks "$who: no PGP data left" "$f" 'BEGIN PGP MESSAGE'
    file_has "$who: signature stamped" "$f" "^X-Postseal-Verify: untrusted; method=pgp; signer=\"$who@ext.example\".*decrypt=pgp"
done
