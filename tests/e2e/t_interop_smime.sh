#!/bin/bash
# S/MIME interoperability with INDEPENDENT implementations: OpenSSL
# (`openssl smime` and `openssl cms`) and GnuPG's gpgsm.  No Postfix:
# postseal-filter runs as pipe(8) would, reinjecting through a "sendmail"
# that stores the message, or with --dry-run (inbound).
#  - outbound: enveloped-data (AES-256-CBC, RSA PKCS#1 v1.5) decrypted by
#    gpgsm and openssl cms; multipart/signed verified by gpgsm and by
#    openssl cms -binary over the CRLF form of the signed part (and refused
#    over the LF form); signed+encrypted read by both.
#  - inbound: opaque and detached signed-data (SHA-1, RSA-PSS, ECDSA, no
#    signed attributes, two signers, BER streaming; openssl smime = legacy
#    x-pkcs7-* types, openssl cms, text and -binary mode, with and without
#    certificates, DER with Content-Transfer-Encoding binary, no smime-type
#    parameter), sign-then-encrypt, several recipients, RSA-OAEP, ECDH (EC
#    recipient, openssl only), AES-GCM authEnveloped, 3DES, gpgsm opaque
#    signed and encrypted to several recipients: decrypted/verified, or a
#    clear result with the message delivered as it came.
. "$(dirname "$0")/lib.sh"

need_prog "$POSTSEAL_FILTER"
command -v gpgsm >/dev/null || e2e_skip "gpgsm not installed"
CUT="python3 $E2E_ROOT/tests/interop/mimecut.py"
D=$E2E_DIR
cd "$D" || e2e_die "no work dir"
q() { "$@" >/dev/null 2>&1 || e2e_die "setup failed: $*"; }

# ---- PKI: a CA, outside senders al (RSA) and cy, the gateway's bob (RSA + EC) ----
umask 077
q openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 30 \
    -subj "/CN=Interop CA" -addext "basicConstraints=critical,CA:true" \
    -addext "keyUsage=critical,keyCertSign,cRLSign"
printf 'basicConstraints=CA:false\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=emailProtection\nsubjectAltName=email:copy\n' >rsa.ext
printf 'basicConstraints=CA:false\nkeyUsage=critical,digitalSignature,keyAgreement\nextendedKeyUsage=emailProtection\nsubjectAltName=email:copy\n' >ec.ext
issue() { # issue NAME EMAIL EXTFILE KEYSPEC...
    local n=$1 e=$2 x=$3
    shift 3
    q openssl req -newkey "$@" -nodes -keyout "$n.key" -out "$n.csr" -subj "/CN=$n/emailAddress=$e"
    q openssl x509 -req -in "$n.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 \
        -extfile "$x" -out "$n.pem"
}
issue al al@ext.example rsa.ext rsa:2048
issue cy cy@ext.example rsa.ext rsa:2048
issue bob bob@local.example rsa.ext rsa:2048
issue bobec bob@local.example ec.ext ec -pkeyopt ec_paramgen_curve:P-256
issue gw gw@local.example rsa.ext rsa:2048
issue ecx ecx@ext.example ec.ext ec -pkeyopt ec_paramgen_curve:P-256
issue alec al@ext.example rsa.ext ec -pkeyopt ec_paramgen_curve:P-256
umask 022
chmod 644 ./*.pem
mkdir certs && cp al.pem ecx.pem certs/

cat >"$D/capture" <<EOF
#!/bin/sh
n=\$(ls "$D/out" | wc -l)
cat >"$D/out/\$n.eml"
EOF
chmod 755 "$D/capture"
mkdir "$D/out"
e2e_file f.ini <<EOF >/dev/null
[filter]
reinject = sendmail
sendmail_command = $D/capture
temp_dir = $D
smime_certs = $D/certs
smime_ca = $D/ca.pem
[filter signkey gw]
smime_cert = $D/gw.pem
smime_key = $D/gw.key
[filter rule enc]
recipient_domain = ext.example
header = Subject ^enc
encrypt = required
method = smime
[filter rule gcm]
recipient = al@ext.example
header = Subject ^gcm
encrypt = required
method = smime
smime_cipher = aes256-gcm
[filter rule both]
recipient_domain = ext.example
header = Subject ^both
encrypt = required
method = smime
sign = yes
signkey = gw
[filter rule sign]
recipient_domain = ext.example
header = Subject ^sign
encrypt = never
method = smime
sign = yes
signkey = gw
[inbound]
local_domains = local.example
smime_keypair = $D/bob.key $D/bob.pem
smime_keypair = $D/bobec.key $D/bobec.pem
ca_file = $D/ca.pem
status_check = no
EOF
ok "postseal-filter accepts the config (--check)" sh -c "\"$POSTSEAL_FILTER\" -c f.ini --check >/dev/null"

# gpgsm home: the CA trusted, al's key (PKCS#12 with the legacy algorithms
# gpgsm 2.2 reads), bob's and cy's certificates
GS=$D/gpgsm
mkdir -m 700 "$GS"
GSM=gsm
gsm() {
    timeout 30 gpgsm --homedir "$GS" --batch --pinentry-mode loopback --passphrase '' \
        --disable-crl-checks --disable-policy-checks "$@"
}
# gsm_decrypt MSG OUT ERR: the base64 body of MSG through gpgsm --decrypt
gsm_decrypt() { sed '1,/^$/d' "$1" | base64 -d >"$2.der" && gsm --decrypt "$2.der" >"$2" 2>"$3"; }
# (gpgsm 2.2 reads BER with indefinite lengths from a file, not from a pipe)
q openssl pkcs12 -export -in al.pem -inkey al.key -passout pass: -keypbe PBE-SHA1-3DES \
    -certpbe PBE-SHA1-3DES -macalg sha1 -out al.p12
$GSM --import ca.pem bob.pem cy.pem </dev/null >/dev/null 2>&1
$GSM --import al.p12 </dev/null >/dev/null 2>&1
echo "$(openssl x509 -in ca.pem -noout -fingerprint -sha1 | sed 's/.*=//') S relax" >"$GS/trustlist.txt"
like "gpgsm holds al's secret key" 'al@ext.example' "$($GSM --list-secret-keys 2>/dev/null)"

# ---- outbound: read by gpgsm and openssl cms ----
out() { # out SUBJECT [RCPT]: runs the filter for al (RCPT), prints the captured file
    local before r=${2:-al@ext.example}
    before=$(ls out | wc -l)
    printf 'From: u@local.example\nTo: %s\nSubject: %s\nMessage-ID: <%s@local.example>\n\nline one\n.dot line\ntrailing space \nFrom here\n' \
        "$r" "$1" "$1" | "$POSTSEAL_FILTER" -c f.ini -f u@local.example -- "$r" 2>"$1.err"
    is "filter exit status ($1)" 0 "$?"
    echo "out/$before.eml"
}
m=$(out enc | tail -1)
file_has "enc: application/pkcs7-mime enveloped-data" "$m" '^Content-Type: application/pkcs7-mime; *smime-type=enveloped-data'
ok "enc: openssl cms decrypts" sh -c "openssl cms -decrypt -in $m -recip al.pem -inkey al.key -out enc.ossl 2>/dev/null"
ok "enc: gpgsm decrypts" gsm_decrypt "$m" enc.gpgsm enc.gpgsm.err
file_has "enc: gpgsm plaintext" enc.gpgsm $'^=2Edot line\r?$'
like "enc: AES-256-CBC content, RSA PKCS#1 v1.5 key transport" \
    'rsaEncryption.*aes-256-cbc' "$(openssl cms -cmsout -print -inform DER -in enc.gpgsm.der | tr -d '\n')"
m=$(out enc-ec ecx@ext.example | tail -1)
ok "enc-ec: openssl cms decrypts for the EC recipient (ECDH, RFC 5753)" \
    sh -c "openssl cms -decrypt -in $m -recip ecx.pem -inkey ecx.key -out enc-ec.ossl 2>/dev/null"
file_has "enc-ec: plaintext" enc-ec.ossl $'^=2Edot line\r?$'
like "enc-ec: key agreement recipient" 'dhSinglePass-stdDH-sha|ecdh|kari' \
    "$(openssl cms -cmsout -print -in "$m" 2>/dev/null | tr -d '\n')"
m=$(out gcm | tail -1)
file_has "gcm: authEnveloped-data" "$m" 'smime-type=authEnveloped-data'
ok "gcm: openssl cms decrypts AES-256-GCM" \
    sh -c "openssl cms -decrypt -in $m -recip al.pem -inkey al.key -out gcm.ossl 2>/dev/null"
file_has "gcm: plaintext" gcm.ossl $'^=2Edot line\r?$'
m=$(out sign | tail -1)
$CUT "$m" 1 signed.crlf --crlf && $CUT "$m" 1 signed.lf && $CUT "$m" 2 signed.p7s --body ||
    fail "sign: cannot cut the parts"
base64 -d signed.p7s >signed.der 2>/dev/null
ok "sign: openssl cms -binary verifies the CRLF part" sh -c "openssl cms -verify -binary -inform DER -in signed.der -content signed.crlf -CAfile ca.pem -out /dev/null 2>/dev/null"
not_ok "sign: openssl cms -binary refuses the LF part (the check can fail)" sh -c "openssl cms -verify -binary -inform DER -in signed.der -content signed.lf -CAfile ca.pem -out /dev/null 2>/dev/null"
$GSM --import gw.pem </dev/null >/dev/null 2>&1
ok "sign: gpgsm verifies the detached signature" gsm --verify signed.der signed.crlf </dev/null >/dev/null 2>sign.gpgsm.err
file_has "sign: gpgsm good signature from gw" sign.gpgsm.err 'Good signature from.*gw'
ok "sign: openssl cms verifies the whole message (text mode)" sh -c "openssl cms -verify -in $m -CAfile ca.pem -out /dev/null 2>/dev/null"
m=$(out both | tail -1)
ok "both: gpgsm decrypts" gsm_decrypt "$m" both.inner both.err
file_has "both: inner multipart/signed" both.inner '^Content-Type: multipart/signed;.*protocol="application/pkcs7-signature"|^ protocol="application/pkcs7-signature"'
ok "both: openssl cms verifies the inner entity" sh -c "tr -d '\r' <both.inner | openssl cms -verify -CAfile ca.pem -out both.plain 2>/dev/null"
file_has "both: plaintext" both.plain $'^=2Edot line\r?$'

# ---- inbound ----
printf 'Content-Type: text/plain; charset=us-ascii\n\nHello from outside.\ntrailing \n' >body.txt
hdr() { printf 'From: %s\nTo: bob@local.example\nSubject: sm\nMessage-ID: <s@ext.example>\n' "${1:-al@ext.example}"; }
mk() { # mk NAME CMD...: NAME.eml = header + CMD's output (LF line ends)
    local n=$1
    shift
    { hdr; "$@" 2>"$n.tool.err" | tr -d '\r'; } >"$n.eml"
    [ -s "$n.tool.err" ] && e2e_log "$n: $(head -1 "$n.tool.err")"
}
mkmime() { # mkmime NAME CONTENT-TYPE CTE DERFILE
    { hdr; printf 'MIME-Version: 1.0\nContent-Type: %s\nContent-Transfer-Encoding: %s\n\n' "$2" "$3"
      if [ "$3" = base64 ]; then base64 "$4"; else cat "$4"; fi; } >"$1.eml"
}
inb() { # inb NAME HEADER_ERE yes|no
    "$POSTSEAL_FILTER" -c f.ini --dry-run -f al@ext.example -- bob@local.example <"$1.eml" >"$1.out" 2>"$1.err"
    is "$1: exit 0" 0 "$?"
    like "$1: X-Postseal-Verify" "$2" "$(sed -n 's/^inbound: X-Postseal-Verify: //p' "$1.out")"
    if [ "$3" = yes ]; then
        file_has "$1: content delivered" "$1.out" $'^Hello from outside\\.\r?$'
    else
        file_lacks "$1: no plaintext" "$1.out" $'^Hello from outside\\.\r?$'
    fi
}
VALID='^valid; method=smime; signer="al@ext.example"'
mk smime-opaque openssl smime -sign -nodetach -in body.txt -signer al.pem -inkey al.key
file_has "smime-opaque: legacy type" smime-opaque.eml '^Content-Type: application/x-pkcs7-mime'
inb smime-opaque "$VALID" yes
file_lacks "smime-opaque: signed-data replaced by its content" smime-opaque.out 'pkcs7-mime'
mk cms-opaque openssl cms -sign -nodetach -in body.txt -signer al.pem -inkey al.key
inb cms-opaque "$VALID" yes
mk smime-detached openssl smime -sign -in body.txt -signer al.pem -inkey al.key
file_has "smime-detached: legacy protocol" smime-detached.eml 'protocol="application/x-pkcs7-signature"'
inb smime-detached "$VALID" yes
mk cms-text openssl cms -sign -text -in body.txt -signer al.pem -inkey al.key
inb cms-text "$VALID" yes
mk cms-nocerts openssl cms -sign -nocerts -in body.txt -signer al.pem -inkey al.key
inb cms-nocerts '^invalid; method=smime; .*signer certificate not found' yes
# -binary over LF text: the signature covers the LF bytes, not the canonical
# CRLF form (RFC 8551 3.1.1); openssl's own text-mode check fails as well
mk cms-binary-lf openssl cms -sign -binary -in body.txt -signer al.pem -inkey al.key
not_ok "cms-binary-lf: openssl cms (text mode) refuses it too" sh -c "openssl cms -verify -in cms-binary-lf.eml -CAfile ca.pem -out /dev/null 2>/dev/null"
inb cms-binary-lf '^invalid; method=smime; .*content verify error' yes
mk cms-sha1 openssl cms -sign -md sha1 -in body.txt -signer al.pem -inkey al.key
inb cms-sha1 "$VALID" yes
mk cms-pss openssl cms -sign -md sha512 -in body.txt -signer al.pem -inkey al.key -keyopt rsa_padding_mode:pss
inb cms-pss "$VALID" yes
mk cms-ecdsa openssl cms -sign -in body.txt -signer alec.pem -inkey alec.key
inb cms-ecdsa "$VALID" yes
mk cms-noattr openssl cms -sign -noattr -in body.txt -signer al.pem -inkey al.key
inb cms-noattr "$VALID" yes
mk cms-two-signers openssl cms -sign -in body.txt -signer cy.pem -inkey cy.key -signer al.pem -inkey al.key
inb cms-two-signers "$VALID" yes
mk cms-stream openssl cms -sign -nodetach -stream -in body.txt -signer al.pem -inkey al.key
inb cms-stream "$VALID" yes
sed 's/$/\r/' body.txt >body.crlf
mk cms-binary-crlf openssl cms -sign -binary -in body.crlf -signer al.pem -inkey al.key
inb cms-binary-crlf "$VALID" yes
q openssl cms -sign -nodetach -in body.txt -signer al.pem -inkey al.key -outform DER -out sig.der
q openssl cms -encrypt -aes256 -in body.txt -outform DER -out env.der bob.pem
mkmime der-binary 'application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m' binary env.der
inb der-binary '^none; decrypt=smime' yes
mkmime x-signed-no-smime-type 'application/x-pkcs7-mime; name=smime.p7m' base64 sig.der
inb x-signed-no-smime-type "$VALID" yes
mkmime env-no-smime-type 'application/pkcs7-mime; name="smime.p7m"' base64 env.der
inb env-no-smime-type '^none; decrypt=smime' yes
mkmime signed-said-enveloped 'application/pkcs7-mime; smime-type=enveloped-data' base64 sig.der
inb signed-said-enveloped 'decrypt=failed \(smime: CMS content is pkcs7-signedData, not \(auth\)enveloped data\)' no
openssl cms -sign -in body.txt -signer al.pem -inkey al.key >inner.txt 2>/dev/null
mk sign-then-encrypt openssl cms -encrypt -aes256 -in inner.txt bob.pem
inb sign-then-encrypt "$VALID.*decrypt=smime" yes
openssl smime -sign -nodetach -in body.txt -signer al.pem -inkey al.key >inner2.txt 2>/dev/null
mk opaque-then-encrypt openssl smime -encrypt -aes256 -in inner2.txt bob.pem
inb opaque-then-encrypt "$VALID.*decrypt=smime" yes
mk several-recipients openssl cms -encrypt -aes128 -in body.txt cy.pem al.pem bob.pem
inb several-recipients '^none; decrypt=smime' yes
mk oaep openssl cms -encrypt -aes256 -in body.txt -recip bob.pem -keyopt rsa_padding_mode:oaep -keyopt rsa_oaep_md:sha256
inb oaep '^none; decrypt=smime' yes
mk ecdh openssl cms -encrypt -aes256 -in body.txt bobec.pem
inb ecdh '^none; decrypt=smime' yes
mk gcm openssl cms -encrypt -aes-256-gcm -in body.txt bob.pem
inb gcm '^none; decrypt=smime' yes
mk des3 openssl cms -encrypt -des3 -in body.txt bob.pem
inb des3 '^none; decrypt=smime' yes
mk not-for-us openssl cms -encrypt -aes256 -in body.txt cy.pem
inb not-for-us '^none; decrypt=none \(smime: not addressed to any of the 2 configured S/MIME certificates\)' no
{ hdr; printf 'MIME-Version: 1.0\nContent-Type: application/pkcs7-mime; smime-type=enveloped-data\nContent-Transfer-Encoding: base64\n\n'
  base64 env.der | head -c 300; } >truncated.eml
inb truncated 'decrypt=failed \(smime: bad transfer encoding: truncated base64 data\)' no
# gpgsm as the sender: opaque signed-data, encrypted to bob and cy
$GSM -u al@ext.example --include-certs -1 --sign body.txt </dev/null >gsm-opaque.der 2>/dev/null ||
    fail "gpgsm --sign failed"
mkmime gpgsm-opaque 'application/pkcs7-mime; smime-type=signed-data; name=smime.p7m' base64 gsm-opaque.der
inb gpgsm-opaque "$VALID" yes
$GSM -r bob@local.example -r cy@ext.example --encrypt body.txt </dev/null >gsm-enc.der 2>/dev/null ||
    fail "gpgsm --encrypt failed"
mkmime gpgsm-enc 'application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m' base64 gsm-enc.der
inb gpgsm-enc '^none; decrypt=smime' yes
gpgconf --homedir "$GS" --kill all >/dev/null 2>&1
