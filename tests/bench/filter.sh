#!/bin/sh
# Filter half of `make bench` (tests/bench/run.sh sets W and OUT): peak RSS
# and wall time of postseal-filter on large messages, reinjecting into
# tests/bench/smtpsink (built by run.sh into $W).  Runs alone too:
#   sh tests/bench/filter.sh           (W=tests/work/bench, OUT=$W/results.md)
#   BENCH_FILTER_MB="25 50"            message sizes in MB (default 25 50)
#   PS_PORT_BASE                       the sink listens on PS_PORT_BASE+90
# Modes: pass-through (encrypt = never), PGP/MIME encryption, S/MIME sign +
# encryption.  The message: a multipart/mixed with an 8-bit text part (half)
# and a base64 attachment of random bytes (half), so the 7-bit re-encoding,
# the MIME walk and the crypto all run.  Target: peak RSS under 16 MiB for
# 25 MB and well under 3x the message size.  Reported, not asserted.
set -u
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
W=${W:-$ROOT/tests/work/bench}
OUT=${OUT:-$W/results.md}
F=${POSTSEAL_FILTER:-$ROOT/filter/postseal-filter}
PORT=$(( ${PS_PORT_BASE:-10025} + 90 ))
D=$W/filter
mkdir -p "$D"
[ -x "$W/smtpsink" ] || ${CC:-cc} -O2 -o "$W/smtpsink" tests/bench/smtpsink.c || exit 1
[ -x "$F" ] || { echo "bench filter: $F not built" >&2; exit 1; }

# keys: an OpenPGP key for bob, an S/MIME CA + cert for dave (also the signer)
rm -rf "$D/gnupg" && mkdir -m 700 "$D/gnupg"
gpg --homedir "$D/gnupg" --batch --quiet --pinentry-mode loopback --passphrase '' \
    --quick-gen-key bob@example.org future-default default never 2>/dev/null || exit 1
(
    cd "$D" || exit 1
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 30 \
        -subj '/CN=Bench CA' -addext basicConstraints=critical,CA:TRUE \
        -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout dave.key -out dave.csr \
        -subj '/CN=dave/emailAddress=dave@example.net' 2>/dev/null
    printf 'subjectAltName=email:dave@example.net\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=emailProtection\n' >dave.ext
    openssl x509 -req -in dave.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
        -extfile dave.ext -out dave.crt 2>/dev/null
    chmod 600 dave.key
    mkdir -p certs && cp dave.crt certs/
) || exit 1
cat >"$D/f.ini" <<EOF
[filter]
reinject = 127.0.0.1:$PORT
temp_dir = $D
gnupg_home = $D/gnupg
smime_certs = $D/certs
smime_ca = $D/ca.crt
encrypt = required
[filter rule pass]
recipient = pass@example.net
encrypt = never
[filter rule smime]
recipient = dave@example.net
method = smime
sign = yes
[filter signkey s]
smime_cert = $D/dave.crt
smime_key = $D/dave.key
EOF

mkmsg() { # $1 = MB -> $D/msg.$1
    python3 - "$1" "$D/msg.$1" <<'EOF'
import base64, os, sys
size = int(sys.argv[1]) * 1000 * 1000
with open(sys.argv[2], "w") as f:
    f.write("From: alice@example.com\nTo: bob@example.org\nSubject: bench\n"
            "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b1\n\n"
            "--b1\nContent-Type: text/plain; charset=utf-8\n"
            "Content-Transfer-Encoding: 8bit\n\n")
    n = i = 0
    while n < size // 2:
        l = "Caf\u00e9 cr\u00e8me, line %d of the bench text part\n" % i
        f.write(l); n += len(l.encode()); i += 1
    f.write("--b1\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n")
    f.write(base64.encodebytes(os.urandom(size * 3 // 8)).decode())
    f.write("--b1--\n")
EOF
}

"$W/smtpsink" "127.0.0.1:$PORT" "$D/last.msg" >/dev/null 2>&1 &
SINK=$!
trap 'kill $SINK 2>/dev/null' EXIT
sleep 0.3
{
    echo
    echo "### postseal-filter: peak RSS and time per message"
    echo
    echo "| message | mode | peak RSS | wall | exit | output |"
    echo "|---|---|---|---|---|---|"
} | tee -a "$OUT"
for mb in ${BENCH_FILTER_MB:-25 50}; do
    mkmsg "$mb" || exit 1
    size=$(stat -c %s "$D/msg.$mb")
    for mode in pass:pass@example.net pgp-encrypt:bob@example.org smime-sign+encrypt:dave@example.net; do
        rm -f "$D/last.msg"
        /usr/bin/time -f '%M %e %x' -o "$D/time" "$F" -c "$D/f.ini" -f alice@example.com -- \
            "${mode#*:}" <"$D/msg.$mb" 2>"$D/err" >/dev/null
        set -- $(tail -n 1 "$D/time")
        out=$(stat -c %s "$D/last.msg" 2>/dev/null || echo 0)
        printf '| %s bytes | %s | %s KiB (%s MiB) | %s s | %s | %s bytes |\n' "$size" "${mode%%:*}" \
            "$1" "$(( $1 / 1024 ))" "$2" "$3" "$out" | tee -a "$OUT"
        [ "$3" = 0 ] || sed 's/^/    /' "$D/err"
    done
done
gpgconf --homedir "$D/gnupg" --kill all 2>/dev/null
