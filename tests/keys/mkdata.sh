#!/bin/sh
# Generates the key-discovery test data in DIR (default tests/work/keys-data):
# OpenPGP keys exported one per file (good, wrong user ID, expired, revoked,
# sign-only, gateway, garbage), the same keys laid out as WKD/HKP/VKS answers
# under DIR/www, a test CA with S/MIME certificates (good, other address,
# wrong EKU, no keyEncipherment, untrusted issuer) and an HTTPS server
# certificate for the local key server.  Idempotent: does nothing when
# DIR/done.3 exists (bump the number when the data changes).  Needs gpg, openssl.
set -eu
D=${1:-tests/work/keys-data}
[ -f "$D/done.3" ] && exit 0
rm -rf "$D"
mkdir -p "$D/src" "$D/www"
chmod 700 "$D/src"
G="gpg --homedir $D/src --batch --quiet --no-tty"
gen() { # uid algo usage expire [faked-time]
    if [ -n "${5:-}" ]; then
        $G --passphrase '' --pinentry-mode loopback --faked-system-time "$5" \
            --quick-gen-key "$1" "$2" "$3" "$4" 2>/dev/null
    else
        $G --passphrase '' --pinentry-mode loopback --quick-gen-key "$1" "$2" "$3" "$4" 2>/dev/null
    fi
}
gpg-connect-agent --homedir "$D/src" /bye >/dev/null 2>&1 </dev/null || true
fpr() { $G --with-colons --list-keys "$1" | awk -F: '$1=="fpr"{print $10; exit}'; }

gen 'Alice <alice@example.org>' future-default default never
A=$(fpr '<alice@example.org>')
$G --passphrase '' --pinentry-mode loopback --quick-add-uid "$A" 'Alice Elsewhere <alice@other.example>' 2>/dev/null
gen 'Mallory <mallory@example.org>' future-default default never
gen 'Old <old@example.org>' future-default default 1d 20200101T000000
# created two days ago, so a test can import it "one day ago" (a stale key)
gen 'Rev <rev@example.org>' future-default default never "$(date -u -d '-2 days' +%Y%m%dT%H%M%S)"
gen 'Signer <nosub@example.org>' ed25519 sign never
gen 'Gateway <openpgp-gateway@example.net>' future-default default never
gen 'Carol <carol@example.net>' future-default default never
R=$(fpr '<rev@example.org>')
$G --export "<rev@example.org>" >"$D/rev-orig.pgp"
sed 's/^://' "$D/src/openpgp-revocs.d/$R.rev" | $G --import 2>/dev/null
for who in alice mallory old rev nosub openpgp-gateway carol; do
    case $who in openpgp-gateway | carol) dom=example.net ;; *) dom=example.org ;; esac
    $G --export "<$who@$dom>" >"$D/$who.pgp"
    $G --armor --export "<$who@$dom>" >"$D/$who.asc"
    fpr "<$who@$dom>" >"$D/$who.fpr"
done
head -c 3000 /dev/urandom >"$D/garbage.bin"
gpgconf --homedir "$D/src" --kill gpg-agent 2>/dev/null || true

# X.509: a test CA, an untrusted CA, S/MIME certificates, a TLS server cert.
cd "$D"
O="openssl"
$O req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 3650 \
    -subj "/CN=postseal test CA" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
$O req -x509 -newkey rsa:2048 -nodes -keyout evilca.key -out evilca.pem -days 3650 \
    -subj "/CN=untrusted CA" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
cert() { # name ca subject-email san-email ku eku
    printf 'basicConstraints=CA:FALSE\nkeyUsage=%s\nextendedKeyUsage=%s\nsubjectAltName=email:%s\n' \
        "$5" "$6" "$4" >"$1.ext"
    $O req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" \
        -subj "/CN=$1/emailAddress=$3" 2>/dev/null
    $O x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -days 365 \
        -extfile "$1.ext" -out "$1.pem" 2>/dev/null
    $O x509 -in "$1.pem" -outform DER -out "$1.der"
}
cert bob ca bob@example.org bob@example.org "digitalSignature,keyEncipherment" emailProtection
cert bobother ca eve@example.org eve@example.org "digitalSignature,keyEncipherment" emailProtection
cert bobeku ca bob@example.org bob@example.org "digitalSignature,keyEncipherment" serverAuth
cert bobku ca bob@example.org bob@example.org "digitalSignature" emailProtection
cert bobevil evilca bob@example.org bob@example.org "digitalSignature,keyEncipherment" emailProtection
cert erinku ca erin@example.org erin@example.org "digitalSignature" emailProtection
cert ginaevil evilca gina@example.org gina@example.org "digitalSignature,keyEncipherment" emailProtection
# subject says bob, the SAN says someone else: the SAN decides
printf 'basicConstraints=CA:FALSE\nkeyUsage=keyEncipherment\nextendedKeyUsage=emailProtection\nsubjectAltName=email:carl@example.org\n' >bobsan.ext
$O req -newkey rsa:2048 -nodes -keyout bobsan.key -out bobsan.csr -subj "/CN=bobsan/emailAddress=bob@example.org" 2>/dev/null
$O x509 -req -in bobsan.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 365 -extfile bobsan.ext -out bobsan.pem 2>/dev/null
$O x509 -in bobsan.pem -outform DER -out bobsan.der
# no SAN at all: the subject emailAddress counts
$O req -newkey rsa:2048 -nodes -keyout bobsubj.key -out bobsubj.csr -subj "/CN=bobsubj/emailAddress=Bob@Example.org" 2>/dev/null
printf 'basicConstraints=CA:FALSE\nkeyUsage=keyEncipherment\n' >bobsubj.ext
$O x509 -req -in bobsubj.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 365 -extfile bobsubj.ext -out bobsubj.pem 2>/dev/null
$O x509 -in bobsubj.pem -outform DER -out bobsubj.der
# an intermediate CA (signed by ca) and ivy's certificate signed by it
$O req -newkey rsa:2048 -nodes -keyout interca.key -out interca.csr -subj "/CN=postseal test intermediate" 2>/dev/null
printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n' >interca.ext
$O x509 -req -in interca.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 365 -extfile interca.ext -out interca.pem 2>/dev/null
$O x509 -in interca.pem -outform DER -out interca.der
cert ivy interca ivy@example.org ivy@example.org "keyEncipherment" emailProtection
cert gwcert ca smime-gateway@example.net smime-gateway@example.net "keyEncipherment" emailProtection
printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:openpgpkey.example.org,DNS:example.org,DNS:example.net,DNS:openpgpkey.example.net,DNS:keys.test,IP:127.0.0.1\n' >server.ext
$O req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=keys.test" 2>/dev/null
$O x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 365 \
    -extfile server.ext -out server.pem 2>/dev/null
touch done.3
