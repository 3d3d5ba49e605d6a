#!/bin/bash
# OpenPGP interoperability with INDEPENDENT implementations: Sequoia (sq
# 0.27), RNP (rnp 0.16) and GnuPG.  No Postfix: postseal-filter runs as
# Postfix's pipe(8) would run it, reinjecting through a "sendmail" that
# stores the message (reinject = sendmail), or with --dry-run (inbound).
#  - outbound: PGP/MIME encrypted, signed+encrypted and multipart/signed made
#    by postseal-filter are decrypted by sq and rnp; the detached signature
#    verifies with sq and rnp over the CRLF form of the signed part (and NOT
#    over the LF form: the check can fail); hidden recipients (gpg
#    --throw-keyids): sq decrypts by trying its key (rnp 0.16 cannot).
#  - inbound: messages made by sq, rnp and gpg (signed+encrypted one pass,
#    compressed or not, SHA-224..512, AEAD OCB/EAX, Camellia, several
#    recipients, hidden recipients, binary instead of armored data, CRLF line
#    ends, multipart/signed with armored and binary signatures, signed then
#    encrypted in two layers, RFC 3156 6.1) are decrypted
#    and verified; no MDC, a key we do not hold, a tampered body, a wrong
#    signer, inline PGP: a clear result, the message otherwise unchanged.
. "$(dirname "$0")/lib.sh"

need_prog "$POSTSEAL_FILTER"
for p in sq rnp rnpkeys gpg python3; do
    command -v $p >/dev/null || e2e_skip "$p not installed (tests/deps.d/interop.txt)"
done
CUT="python3 $E2E_ROOT/tests/interop/mimecut.py"
D=$E2E_DIR
cd "$D" || e2e_die "no work dir"

# ---- keys: gateway (gw: ed25519/cv25519, bob: RSA), sq, rnp, gpg outsiders ----
GH=$D/gw
mkdir -m 700 "$GH" "$D/ext"
G="gpg --homedir $GH --batch --no-tty --pinentry-mode loopback --passphrase="
GE="gpg --homedir $D/ext --batch --no-tty --trust-model always"
$G --quick-gen-key 'Gateway <gw@local.example>' future-default default 1y 2>/dev/null &&
    $G --quick-gen-key 'Bob <bob@local.example>' rsa3072 sign 1y 2>/dev/null ||
    e2e_die "gpg key generation failed"
BOB=$($G --with-colons -k bob@local.example | awk -F: '/^fpr/ {print $10; exit}')
GW=$($G --with-colons -k gw@local.example | awk -F: '/^fpr/ {print $10; exit}')
$G --quick-add-key "$BOB" rsa3072 encr 1y 2>/dev/null || e2e_die "gpg subkey failed"
sq key generate --userid '<sqa@ext.example>' --export sqa.key 2>/dev/null &&
    sq key extract-cert <sqa.key >sqa.cert 2>/dev/null || e2e_die "sq key generation failed"
mkdir -m 700 rnph
rnpkeys --homedir rnph --generate-key --userid rna@ext.example --password '' >/dev/null 2>&1 &&
    rnpkeys --homedir rnph --export-key rna@ext.example >rna.asc 2>/dev/null ||
    e2e_die "rnp key generation failed"
$GE --pinentry-mode loopback --passphrase= --quick-gen-key 'Ext <extg@ext.example>' \
    future-default default 1y 2>/dev/null || e2e_die "gpg key generation failed"
$GE --export -a extg@ext.example >extg.asc
$G --export gw@local.example >gw.pgp
$G --export -a gw@local.example bob@local.example >gwpub.asc
$G --import sqa.cert rna.asc extg.asc 2>/dev/null || e2e_die "import into the gateway failed"
$GE --import gwpub.asc 2>/dev/null
rnpkeys --homedir rnph --import gwpub.asc >/dev/null 2>&1 || e2e_die "rnp import failed"

# ---- the filter: reinjection into a file ----
cat >"$D/capture" <<EOF
#!/bin/sh
n=\$(ls "$D/out" | wc -l)
cat >"$D/out/\$n.eml"
EOF
chmod 755 "$D/capture"
mkdir "$D/out"
conf() { # conf NAME [extra [filter] lines]
    cat >"$D/$1.ini" <<EOF
[filter]
reinject = sendmail
sendmail_command = $D/capture
temp_dir = $D
gnupg_home = $GH
$2
[filter signkey gw]
pgp_key = $GW
[filter rule enc]
recipient_domain = ext.example
header = Subject ^enc
encrypt = required
method = pgp
[filter rule both]
recipient_domain = ext.example
header = Subject ^both
encrypt = required
method = pgp
sign = yes
signkey = gw
[filter rule sign]
recipient_domain = ext.example
header = Subject ^sign
encrypt = never
method = pgp
sign = yes
signkey = gw
[inbound]
local_domains = local.example
gnupg_home = $GH
status_check = no
EOF
}
# f: visible key ids (the default auto hides them on these two-recipient
# messages, which rnp 0.16 cannot decrypt); hidden: always hidden
conf f "hidden_recipients = no"
conf hidden "hidden_recipients = yes"
ok "postseal-filter accepts the config (--check)" sh -c "\"$POSTSEAL_FILTER\" -c f.ini --check >/dev/null"

# ---- outbound: read by sq and rnp ----
out() { # out CONF SUBJECT RCPT...: runs the filter, prints the captured file
    local c=$1 s=$2 before
    shift 2
    before=$(ls out | wc -l)
    printf 'From: u@local.example\nTo: %s\nSubject: %s\nMessage-ID: <%s@local.example>\n\nline one\n.dot line\ntrailing space \nFrom here\n' \
        "$*" "$s" "$s" | "$POSTSEAL_FILTER" -c "$c.ini" -f u@local.example -- "$@" 2>"$s.err"
    is "filter exit status ($s)" 0 "$?"
    echo "out/$before.eml"
}
decrypts() { # decrypts NAME FILE: sq and rnp decrypt part 2 of the PGP/MIME FILE
    $CUT "$2" 2 "$1.asc" --body || fail "$1: no second MIME part"
    ok "$1: sq decrypts" sh -c "sq decrypt --recipient-key sqa.key $3 $1.asc >$1.sq 2>$1.sq.err"
    ok "$1: rnp decrypts" sh -c "rnp --homedir rnph --password= -d $1.asc --output $1.rnp >$1.rnp.err 2>&1"
    file_has "$1: sq plaintext has the body" "$1.sq" $'^=2Edot line\r?$'
    ok "$1: sq and rnp see the same plaintext" cmp -s "$1.sq" "$1.rnp"
}
m=$(out f enc sqa@ext.example rna@ext.example | tail -1)
decrypts enc "$m"
m=$(out f both sqa@ext.example rna@ext.example | tail -1)
decrypts both "$m" "--signer-cert gw.pgp"
file_has "both: sq checked the gateway's signature" both.sq.err '^1 good signature'
file_has "both: rnp checked the gateway's signature" both.rnp.err 'Signature\(s\) verified successfully'
m=$(out f sign sqa@ext.example | tail -1)
file_has "sign: multipart/signed" "$m" '^Content-Type: multipart/signed; micalg=pgp-sha(256|512)'
$CUT "$m" 1 signed.crlf --crlf && $CUT "$m" 1 signed.lf && $CUT "$m" 2 signed.sig --body ||
    fail "sign: cannot cut the parts"
ok "sign: sq verifies the CRLF form of part 1" \
    sh -c "sq verify --signer-cert gw.pgp --detached signed.sig signed.crlf >/dev/null 2>&1"
ok "sign: rnp verifies the CRLF form of part 1" \
    sh -c "rnp --homedir rnph -v signed.sig --source signed.crlf >/dev/null 2>&1"
not_ok "sign: sq refuses the LF form (the check can fail)" \
    sh -c "sq verify --signer-cert gw.pgp --detached signed.sig signed.lf >/dev/null 2>&1"
m=$(out hidden enc-hidden sqa@ext.example rna@ext.example | tail -1)
$CUT "$m" 2 hidden.asc --body
like "hidden: key ids are zero" 'keyid 0000000000000000' "$(gpg --list-packets hidden.asc 2>&1)"
ok "hidden: sq decrypts (tries its keys)" sh -c "sq decrypt --recipient-key sqa.key hidden.asc >hidden.sq 2>/dev/null"
file_has "hidden: plaintext" hidden.sq $'^=2Edot line\r?$'
if rnp --homedir rnph --password= -d hidden.asc --output hidden.rnp >/dev/null 2>&1; then
    e2e_log "rnp decrypted a hidden-recipient message (rnp 0.16 could not)"
else
    e2e_log "rnp cannot decrypt hidden recipients (measured fact for rnp 0.16)"
fi

# ---- inbound: made by sq, rnp, gpg ----
printf 'Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\nHello from outside.\n=2Edot\n' >body.txt
pgpmime() { # pgpmime DATAFILE FROM > message
    printf 'From: %s\nTo: bob@local.example\nSubject: t\nMIME-Version: 1.0\nContent-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="BB"\n\n--BB\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n\n--BB\nContent-Type: application/octet-stream\n\n' "$2"
    cat "$1"
    printf '\n--BB--\n'
}
# inb NAME FROM HEADER_ERE yes|no: the filter's inbound result for NAME.eml
inb() {
    "$POSTSEAL_FILTER" -c f.ini --dry-run -f "$2" -- bob@local.example <"$1.eml" >"$1.out" 2>"$1.err"
    is "$1: exit 0" 0 "$?"
    like "$1: X-Postseal-Verify" "$3" "$(sed -n 's/^inbound: X-Postseal-Verify: //p' "$1.out")"
    if [ "$4" = yes ]; then
        file_has "$1: delivered decrypted/verified" "$1.out" $'^Hello from outside\\.\r?$'
    else
        file_lacks "$1: no plaintext" "$1.out" $'^Hello from outside\\.\r?$'
        file_has "$1: delivered as it came" "$1.out" '^(-----BEGIN PGP|Content-Type: multipart/encrypted)'
    fi
}
enc_msg() { # enc_msg NAME FROM CMD...: CMD writes NAME.asc, wrapped into NAME.eml
    local n=$1 f=$2
    shift 2
    "$@" >/dev/null 2>"$n.tool.err" || fail "$n: $1 failed" "$(cat "$n.tool.err")"
    pgpmime "$n.asc" "$f" >"$n.eml"
}
RN="rnp --homedir rnph --password="
VALIDPGP='^untrusted; method=pgp; signer="'
enc_msg sq-enc sqa@ext.example sh -c "sq encrypt --recipient-cert gw.pgp body.txt >sq-enc.asc"
inb sq-enc sqa@ext.example '^none; decrypt=pgp' yes
enc_msg sq-signenc sqa@ext.example sh -c "sq encrypt --recipient-cert gw.pgp --signer-key sqa.key --compression zlib body.txt >sq-signenc.asc"
inb sq-signenc sqa@ext.example "${VALIDPGP}sqa@ext.example\".*decrypt=pgp" yes
enc_msg sq-binary sqa@ext.example sh -c "sq encrypt --binary --recipient-cert gw.pgp --signer-key sqa.key body.txt >sq-binary.asc"
inb sq-binary sqa@ext.example "${VALIDPGP}sqa@ext.example\".*decrypt=pgp" yes
enc_msg rnp-signenc rna@ext.example $RN -e -s -u rna@ext.example -r gw@local.example --armor body.txt --output rnp-signenc.asc
inb rnp-signenc rna@ext.example "${VALIDPGP}rna@ext.example\".*decrypt=pgp" yes
enc_msg rnp-rsa-nozip rna@ext.example $RN -e -r bob@local.example -z 0 --armor body.txt --output rnp-rsa-nozip.asc
inb rnp-rsa-nozip rna@ext.example '^none; decrypt=pgp' yes
enc_msg rnp-ocb rna@ext.example $RN -e -s -u rna@ext.example -r gw@local.example --aead=ocb --armor body.txt --output rnp-ocb.asc
like "rnp-ocb: AEAD packet" 'AEAD Encrypted Data Packet' "$(sq packet dump rnp-ocb.asc 2>/dev/null)"
inb rnp-ocb rna@ext.example "${VALIDPGP}rna@ext.example\".*decrypt=pgp" yes
enc_msg rnp-eax rna@ext.example $RN -e -s -u rna@ext.example -r gw@local.example --aead=eax --armor body.txt --output rnp-eax.asc
inb rnp-eax rna@ext.example "${VALIDPGP}rna@ext.example\".*decrypt=pgp" yes
enc_msg rnp-camellia rna@ext.example $RN -e -s -u rna@ext.example -r gw@local.example --hash SHA512 --cipher CAMELLIA256 --armor body.txt --output rnp-camellia.asc
inb rnp-camellia rna@ext.example "${VALIDPGP}rna@ext.example\".*decrypt=pgp" yes
enc_msg gpg-multi extg@ext.example $GE -e -s -a -r gw@local.example -r extg@ext.example --digest-algo SHA512 -o gpg-multi.asc body.txt
inb gpg-multi extg@ext.example "${VALIDPGP}extg@ext.example\".*decrypt=pgp" yes
enc_msg gpg-hidden extg@ext.example $GE -e -s -a --throw-keyids -r extg@ext.example -r bob@local.example -o gpg-hidden.asc body.txt
inb gpg-hidden extg@ext.example "${VALIDPGP}extg@ext.example\".*decrypt=pgp" yes
enc_msg gpg-sha1-nozip extg@ext.example $GE -e -s -a -r bob@local.example --digest-algo SHA1 --compress-algo none -o gpg-sha1-nozip.asc body.txt
inb gpg-sha1-nozip extg@ext.example "${VALIDPGP}extg@ext.example\".*decrypt=pgp" yes
enc_msg gpg-nomdc extg@ext.example $GE -e -a -r bob@local.example --rfc2440 --cipher-algo CAST5 -o gpg-nomdc.asc body.txt
like "gpg-nomdc: no MDC" 'encrypted data packet' "$(gpg --list-packets gpg-nomdc.asc 2>&1)"
inb gpg-nomdc extg@ext.example 'decrypt=failed \(pgp: OpenPGP data without integrity protection \(no MDC\) refused\)' no
enc_msg gpg-notus extg@ext.example $GE -e -s -a -r extg@ext.example -o gpg-notus.asc body.txt
inb gpg-notus extg@ext.example "^none; decrypt=none \(pgp: none of the gateway's OpenPGP keys can decrypt it\)" no
sed 's/$/\r/' sq-signenc.eml >sq-signenc-crlf.eml
inb sq-signenc-crlf sqa@ext.example "${VALIDPGP}sqa@ext.example\".*decrypt=pgp" yes

# multipart/signed made by each tool over the CRLF form of the part
printf 'Content-Type: text/plain; charset=us-ascii\n\nHello from outside.\nsecond line\n' >part.lf
sed 's/$/\r/' part.lf >part.crlf
signed_msg() { # signed_msg NAME FROM MICALG SIGFILE
    { printf 'From: %s\nTo: bob@local.example\nSubject: s\nMIME-Version: 1.0\nContent-Type: multipart/signed; micalg=%s; protocol="application/pgp-signature"; boundary="SS"\n\n--SS\n' "$2" "$3"
      cat part.lf
      printf '\n--SS\nContent-Type: application/pgp-signature\n\n'
      cat "$4"
      printf '\n--SS--\n'; } >"$1.eml"
}
sq sign --detached --signer-key sqa.key part.crlf >sq.sig 2>/dev/null
signed_msg sq-signed sqa@ext.example pgp-sha512 sq.sig
inb sq-signed sqa@ext.example "${VALIDPGP}sqa@ext.example\"; status=unchecked; rule=default; action=deliver" yes
$RN --sign --detach --armor -u rna@ext.example --hash SHA384 part.crlf --output rnp.sig >/dev/null 2>&1
signed_msg rnp-signed rna@ext.example pgp-sha384 rnp.sig
inb rnp-signed rna@ext.example "${VALIDPGP}rna@ext.example\"; status=unchecked" yes
$GE --detach-sign -a --digest-algo SHA224 -o gpg224.sig part.crlf 2>/dev/null
signed_msg gpg-signed extg@ext.example pgp-sha224 gpg224.sig
inb gpg-signed extg@ext.example "${VALIDPGP}extg@ext.example\"; status=unchecked" yes
sed 's/$/\r/' gpg-signed.eml >gpg-signed-crlf.eml
inb gpg-signed-crlf extg@ext.example "${VALIDPGP}extg@ext.example\"; status=unchecked" yes
$GE --detach-sign -o gpgbin.sig part.crlf 2>/dev/null
signed_msg gpg-binsig extg@ext.example pgp-sha256 gpgbin.sig
inb gpg-binsig extg@ext.example "${VALIDPGP}extg@ext.example\"; status=unchecked" yes
sed 's/second line/second linE/' sq-signed.eml >sq-tampered.eml
inb sq-tampered sqa@ext.example '^invalid; method=pgp; .*signature does not verify' yes
sed 's/^From: sqa@/From: extg@/' sq-signed.eml >sq-mismatch.eml
inb sq-mismatch extg@ext.example '^signer-mismatch; method=pgp; signer="sqa@ext.example"' yes
$GE --detach-sign -a -o gpglf.sig part.lf 2>/dev/null
signed_msg gpg-lf-signature extg@ext.example pgp-sha256 gpglf.sig
inb gpg-lf-signature extg@ext.example '^invalid; method=pgp; .*signature does not verify' yes
# RFC 3156 6.1 two layers: a multipart/signed entity encrypted as a whole
# (LF, and CRLF as clients encrypt the canonical form)
{ printf 'Content-Type: multipart/signed; micalg=pgp-sha256; protocol="application/pgp-signature"; boundary="SS"\n\n--SS\n'
  cat part.lf
  printf '\n--SS\nContent-Type: application/pgp-signature\n\n'
  cat gpgbin.sig | gpg --enarmor 2>/dev/null | sed '/^Comment:/d; s/ARMORED FILE/SIGNATURE/'
  printf '\n--SS--\n'; } >inner-signed.lf
sed 's/$/\r/' inner-signed.lf >inner-signed.crlf
for v in lf crlf; do
    enc_msg gpg-two-layer-$v extg@ext.example $GE -e -a -r gw@local.example -o gpg-two-layer-$v.asc inner-signed.$v
    inb gpg-two-layer-$v extg@ext.example "${VALIDPGP}extg@ext.example\".*decrypt=pgp" yes
done
# inline PGP (not PGP/MIME): left alone, stated as unsigned
{ printf 'From: extg@ext.example\nTo: bob@local.example\nSubject: inline\n\n'
  printf 'Hello from outside.\n' | $GE --clearsign 2>/dev/null; } >inline-signed.eml
inb inline-signed extg@ext.example '^none; rule=default; action=deliver' yes
{ printf 'From: extg@ext.example\nTo: bob@local.example\nSubject: inline\n\n'
  printf 'Hello from outside.\n' | $GE -e -a -r bob@local.example 2>/dev/null; } >inline-enc.eml
inb inline-enc extg@ext.example '^none; rule=default; action=deliver' no
