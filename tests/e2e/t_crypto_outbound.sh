#!/bin/bash
# Outbound crypto through a real Postfix (public smtpd -> postseal-filter as
# nobody -> SMTP reinjection -> delivery), checked on the DELIVERED files by
# independent tools: PGP/MIME signed+encrypted (gpg --decrypt, GOODSIG of the
# gateway key), S/MIME signed then encrypted (openssl cms -decrypt, then
# -verify of the inner multipart/signed), PGP/MIME multipart/signed (gpg
# --verify over the CRLF form of the first part, micalg = the hash gpg
# reports), S/MIME multipart/signed (openssl cms -verify, text and binary
# mode) and AES-256-GCM authEnveloped-data where a rule asks for it.  The body carries lines that SMTP dot-stuffs (".", ".x") and a
# trailing space: signatures made over the LF spool must verify after the trip.
. "$(dirname "$0")/lib.sh"

need_prog "$POSTSEAL_FILTER"
command -v python3 >/dev/null || e2e_die "python3 needed to cut MIME parts byte for byte"

# ---- keys: a GnuPG home the filter (nobody) can use, S/MIME certs ----
GH=$E2E_DIR/gnupg
mkdir -m 700 "$GH"
G="gpg --homedir $GH --batch --no-tty --pinentry-mode loopback --passphrase="
$G --quick-gen-key 'Pat <pat@example.test>' future-default default 1y 2>/dev/null ||
    e2e_die "gpg key generation failed"
$G --quick-gen-key 'Gateway <gw@example.test>' future-default default 1y 2>/dev/null ||
    e2e_die "gpg key generation failed"
GW_FPR=$($G --with-colons --list-keys '<gw@example.test>' | awk -F: '/^fpr:/ {print $10; exit}')
gpgconf --homedir "$GH" --kill all 2>/dev/null
chown -R nobody: "$GH"

mkdir -p "$E2E_DIR/certs" "$E2E_DIR/sign"
cp "$(pki_smime sam@example.test)" "$E2E_DIR/certs/" || e2e_die "no S/MIME cert"
cp "$(pki_smime gina@example.test)" "$E2E_DIR/certs/" || e2e_die "no S/MIME cert"
pki_smime gw@example.test >/dev/null || e2e_die "no S/MIME signer cert"
cp "$PKI/smime/gw@example.test.crt" "$E2E_DIR/sign/gw.crt"
cp "$PKI/smime/gw@example.test.key" "$E2E_DIR/sign/gw.key"
chown nobody: "$E2E_DIR/sign/gw.key"
chmod 600 "$E2E_DIR/sign/gw.key"

e2e_file filter.ini <<EOF >/dev/null
[filter]
reinject = 127.0.0.1:$((PS_PORT_BASE + 1))
gnupg_home = $GH
smime_certs = $E2E_DIR/certs
smime_ca = $PKI/ca.crt

[filter signkey gw]
pgp_key = $GW_FPR
smime_cert = $E2E_DIR/sign/gw.crt
smime_key = $E2E_DIR/sign/gw.key

[filter rule pgp-encrypt]
recipient = pat@example.test
encrypt = required
method = pgp
sign = yes
signkey = gw

[filter rule smime-encrypt]
recipient = sam@example.test
encrypt = required
method = smime
sign = yes
signkey = gw

[filter rule smime-gcm]
recipient = gina@example.test
encrypt = required
method = smime
smime_cipher = aes256-gcm

[filter rule pgp-sign]
recipient = ps@example.test
encrypt = never
method = pgp
sign = yes
signkey = gw

[filter rule smime-sign]
recipient = ss@example.test
encrypt = never
method = smime
sign = yes
signkey = gw
EOF
ok "postseal-filter accepts the config (--check)" "$POSTSEAL_FILTER" -c "$E2E_DIR/filter.ini" --check

pf_new mx
pf_filter mx "$E2E_DIR/filter.ini"
pf_start mx

token="crypto e2e $$ $RANDOM"
body=$(printf '%s\n.\n.leading dot\nFrom the start\ntrailing space \nend' "$token")
for r in pat sam gina ps ss; do
    smtp_send mx --to $r@example.test --body "$body"
    is "message for $r accepted" 250 "$(smtp_code '\.$')"
done
for r in pat sam gina ps ss; do
    ok "$r's message delivered" mail_wait mx $r@example.test
done
pf_settle mx
is "nothing left in the queue" 0 "$(pf_queue_count mx)"

# cut.py FILE N OUT [crlf]: body part N of the top-level multipart in FILE,
# exactly the bytes between the delimiter lines (RFC 2046), optionally CRLF.
e2e_file cut.py <<'EOF' >/dev/null
import re, sys
data = open(sys.argv[1], 'rb').read()
head, _, body = data.partition(b'\n\n')
b = re.search(rb'boundary="([^"]+)"', head).group(1)
d = b'\n--' + b
parts = (b'\n' + body).split(d)
part = parts[int(sys.argv[2])]
assert part.startswith(b'\n'), 'delimiter line not ended'
part = part[1:]
if len(sys.argv) > 4:
    part = part.replace(b'\n', b'\r\n')
open(sys.argv[3], 'wb').write(part)
EOF
cut() { python3 "$E2E_DIR/cut.py" "$@" 2>>"$E2E_DIR/cut.err"; }
sed_body() { sed '1,/^$/d' "$1"; } # body of an entity file

# ---- PGP/MIME signed+encrypted ----
pat=$(mail_last mx pat@example.test)
file_has "pat: multipart/encrypted, protocol application/pgp-encrypted" "$pat" \
    '^Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"'
file_lacks "pat: the text is not readable" "$pat" "$token"
cut "$pat" 1 "$E2E_DIR/pat.1"
file_has "pat: first part says Version: 1" "$E2E_DIR/pat.1" '^Version: 1$'
cut "$pat" 2 "$E2E_DIR/pat.2"
$G --status-fd 3 -o "$E2E_DIR/pat.dec" --decrypt "$E2E_DIR/pat.2" 3>"$E2E_DIR/pat.status" 2>/dev/null
is "gpg decrypts pat's message" 0 "$?"
file_has "gpg: good signature inside (RFC 3156 6.2)" "$E2E_DIR/pat.status" '^\[GNUPG:\] GOODSIG'
file_has "gpg: made by the gateway key" "$E2E_DIR/pat.status" "VALIDSIG $GW_FPR"
file_has "pat: decrypted text is what was sent" "$E2E_DIR/pat.dec" "$token"
is "pat: decrypted entity has CRLF line ends" yes "$(grep -q $'\r$' "$E2E_DIR/pat.dec" && echo yes)"

# ---- S/MIME signed then enveloped ----
sam=$(mail_last mx sam@example.test)
file_has "sam: enveloped-data" "$sam" '^Content-Type: application/pkcs7-mime; smime-type=enveloped-data'
file_lacks "sam: the text is not readable" "$sam" "$token"
openssl cms -decrypt -in "$sam" -recip "$PKI/smime/sam@example.test.crt" \
    -inkey "$PKI/smime/sam@example.test.key" -out "$E2E_DIR/sam.dec" 2>"$E2E_DIR/sam.err"
is "openssl cms decrypts sam's message" 0 "$?"
file_has "sam: inside is multipart/signed" "$E2E_DIR/sam.dec" '^Content-Type: multipart/signed; protocol="application/pkcs7-signature"'
openssl cms -verify -in "$E2E_DIR/sam.dec" -CAfile "$PKI/ca.crt" -purpose smimesign \
    -out "$E2E_DIR/sam.content" 2>"$E2E_DIR/sam.verr"
is "openssl cms verifies the inner signature" 0 "$?"
file_has "sam: signed content is what was sent" "$E2E_DIR/sam.content" "$token"

# ---- S/MIME AES-256-GCM (authEnveloped-data) where a rule says so ----
gina=$(mail_last mx gina@example.test)
file_has "gina: authEnveloped-data" "$gina" '^Content-Type: application/pkcs7-mime; smime-type=authEnveloped-data'
openssl cms -decrypt -in "$gina" -recip "$PKI/smime/gina@example.test.crt" \
    -inkey "$PKI/smime/gina@example.test.key" -out "$E2E_DIR/gina.dec" 2>"$E2E_DIR/gina.err"
is "openssl cms decrypts gina's GCM message" 0 "$?"
file_has "gina: decrypted text is what was sent" "$E2E_DIR/gina.dec" "$token"
sed_body "$gina" | openssl base64 -d | openssl cms -cmsout -print -inform DER >"$E2E_DIR/gina.asn1" 2>&1
file_has "gina: content encryption is aes-256-gcm" "$E2E_DIR/gina.asn1" 'algorithm: aes-256-gcm'

# ---- PGP/MIME multipart/signed ----
ps=$(mail_last mx ps@example.test)
file_has "ps: multipart/signed, application/pgp-signature" "$ps" \
    '^Content-Type: multipart/signed; micalg=pgp-[a-z0-9]*;'
cut "$ps" 1 "$E2E_DIR/ps.data" crlf
cut "$ps" 2 "$E2E_DIR/ps.2"
sed_body "$E2E_DIR/ps.2" >"$E2E_DIR/ps.sig"
$G --status-fd 3 --verify "$E2E_DIR/ps.sig" "$E2E_DIR/ps.data" 3>"$E2E_DIR/ps.status" 2>/dev/null
is "gpg verifies the delivered signature over the CRLF first part" 0 "$?"
file_has "ps: GOODSIG" "$E2E_DIR/ps.status" '^\[GNUPG:\] GOODSIG'
file_has "ps: signed text is what was sent" "$E2E_DIR/ps.data" "$token"
algo=$(awk '$2 == "VALIDSIG" {print $10}' "$E2E_DIR/ps.status")
case $algo in 2) want=sha1 ;; 8) want=sha256 ;; 9) want=sha384 ;; 10) want=sha512 ;; 11) want=sha224 ;; *) want="?$algo" ;; esac
file_has "ps: micalg names the hash gpg used (pgp-$want)" "$ps" "micalg=pgp-$want;"

# ---- S/MIME multipart/signed ----
ss=$(mail_last mx ss@example.test)
file_has "ss: multipart/signed, application/pkcs7-signature" "$ss" \
    '^Content-Type: multipart/signed; protocol="application/pkcs7-signature";'
file_has "ss: micalg=sha-256" "$ss" 'micalg=sha-256;'
openssl cms -verify -in "$ss" -CAfile "$PKI/ca.crt" -purpose smimesign \
    -out "$E2E_DIR/ss.content" 2>"$E2E_DIR/ss.verr"
is "openssl cms verifies the delivered message" 0 "$?"
file_has "ss: signed content is what was sent" "$E2E_DIR/ss.content" "$token"
cut "$ss" 1 "$E2E_DIR/ss.data" crlf
cut "$ss" 2 "$E2E_DIR/ss.2"
sed_body "$E2E_DIR/ss.2" | openssl base64 -d -out "$E2E_DIR/ss.der"
openssl cms -verify -binary -inform DER -in "$E2E_DIR/ss.der" -content "$E2E_DIR/ss.data" \
    -CAfile "$PKI/ca.crt" -purpose smimesign -out /dev/null 2>>"$E2E_DIR/ss.verr"
is "openssl cms -binary verifies over the CRLF first part" 0 "$?"
