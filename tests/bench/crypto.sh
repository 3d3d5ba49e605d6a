#!/bin/sh
# crypto.sh: time and peak RSS of the outbound crypto functions on one big MIME body, next to
# the bare tools on the same body (openssl cms -encrypt -stream, gpg --encrypt).  Reports, never
# asserts.  Run from anywhere after `make`; BENCH_MB sets the body size (default 25).
#   sh tests/bench/crypto.sh
set -eu
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
W=$ROOT/tests/work/bench-crypto
FIX=$ROOT/tests/work/crypto-fixtures
MB=${BENCH_MB:-25}
mkdir -p "$W"

sh tests/unit/fixtures/crypto.sh "$FIX" >"$W/fixtures.log" 2>&1
${CC:-cc} -O2 -std=c11 -D_GNU_SOURCE -Ilib -Ifilter $(pkg-config --cflags openssl gpgme) \
    -o "$W/crypto_bench" tests/bench/crypto_bench.c build/libfilter.a build/libpostseal.a \
    $(pkg-config --libs openssl gpgme inih)
# a base64 MIME entity of MB megabytes (7-bit, LF line ends, 76-column lines)
if [ ! -f "$W/body" ] || [ "$(wc -c <"$W/body")" -lt $((MB * 1000000)) ]; then
    {
        printf 'Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n'
        head -c $((MB * 1000000 * 3 / 4)) /dev/urandom | base64 -w 76
    } >"$W/body"
fi
echo "body: $(wc -c <"$W/body") bytes"
T() { # label command...: elapsed and max RSS of a bare tool
    label=$1
    shift
    /usr/bin/time -f "%e %U %S %M" -o "$W/time" "$@" >/dev/null 2>&1
    read -r e u s m <"$W/time"
    printf '%-20s %7s s  cpu %5s s  maxrss %6s KiB (bare tool)\n' "$label" "$e" \
        "$(echo "$u + $s" | bc)" "$m"
}
G="gpg --homedir $FIX/gnupg --batch --no-tty --pinentry-mode loopback --passphrase= --trust-model always"
BOB=$($G --with-colons --list-keys '<bob@example.org>' | awk -F: '/^fpr:/ {print $10; exit}')
ALICE=$($G --with-colons --list-keys '<alice@example.org>' | awk -F: '/^fpr:/ {print $10; exit}')
N=${BENCH_RUNS:-3}
: >"$W/runs"
i=0
while [ $i -lt "$N" ]; do
    i=$((i + 1))
    T "openssl-cms-encrypt" openssl cms -encrypt -stream -aes-256-cbc -in "$W/body" -out "$W/o1" \
        "$FIX/smime/bob.pem"
    "$W/crypto_bench" smime-encrypt "$W/body" "$W/o2" "$FIX" 2>>"$W/bench.log"
    T "gpg-encrypt" $G --yes -r "$BOB" -o "$W/o3" --encrypt "$W/body"
    T "gpg-encrypt-armor" $G --yes --armor -r "$BOB" -o "$W/o3" --encrypt "$W/body"
    "$W/crypto_bench" pgp-encrypt "$W/body" "$W/o4" "$FIX" 2>>"$W/bench.log"
    T "openssl-cms-sign" openssl cms -sign -stream -in "$W/body" -out "$W/o5" \
        -signer "$FIX/smime/alice.pem" -inkey "$FIX/smime/alice.key"
    "$W/crypto_bench" smime-sign "$W/body" "$W/o6" "$FIX" 2>>"$W/bench.log"
    "$W/crypto_bench" smime-sign-encrypt "$W/body" "$W/o6" "$FIX" 2>>"$W/bench.log"
    T "gpg-detach-sign" $G --yes --armor -u "$ALICE" -o "$W/o7" --detach-sign "$W/body"
    "$W/crypto_bench" pgp-sign "$W/body" "$W/o8" "$FIX" 2>>"$W/bench.log"
    T "gpg-sign-encrypt" $G --yes --armor -u "$ALICE" -r "$BOB" -o "$W/o7" --sign --encrypt \
        "$W/body"
    "$W/crypto_bench" pgp-sign-encrypt "$W/body" "$W/o8" "$FIX" 2>>"$W/bench.log"
done >>"$W/runs"
cat "$W/runs"
# best (minimum) wall time per label: the machine is shared, minima are the fair comparison
echo
echo "best of $N runs (wall seconds; gpg runs as a grandchild of gpgme, so CPU columns miss it):"
awk '{ if (!($1 in best) || $2 < best[$1]) best[$1] = $2 }
     END { split("openssl-cms-encrypt smime-encrypt openssl-cms-sign smime-sign smime-sign-encrypt gpg-encrypt gpg-encrypt-armor pgp-encrypt gpg-detach-sign pgp-sign gpg-sign-encrypt pgp-sign-encrypt", o, " ");
           for (i = 1; i in o; i++) if (o[i] in best) printf "  %-20s %6.2f s\n", o[i], best[o[i]] }' "$W/runs"
r() { awk -v a="$1" -v b="$2" '{ if (!($1 in m) || $2 < m[$1]) m[$1] = $2 } END { printf "  %s / %s = %.2f\n", a, b, m[a] / m[b] }' "$W/runs"; }
r smime-encrypt openssl-cms-encrypt
r pgp-encrypt gpg-encrypt
r pgp-encrypt gpg-encrypt-armor
r pgp-sign-encrypt gpg-sign-encrypt
r smime-sign openssl-cms-sign
r pgp-sign gpg-detach-sign

# ---- the whole filter: spool, transform, crypto, SMTP reinjection into a sink --------------
# (compared with the bare tool on the same body; message = headers + that body)
[ -x filter/postseal-filter ] || exit 0
PORT=$((${PS_PORT_BASE:-14000} + 26))
${CC:-cc} -O2 -o "$W/smtpsink" tests/bench/smtpsink.c
"$W/smtpsink" 127.0.0.1:$PORT "$W/sink.out" &
SINK=$!
trap 'kill $SINK 2>/dev/null' EXIT
{
    printf 'From: alice@example.org\nTo: bob@example.org\nSubject: big\n'
    printf 'Message-ID: <bench@example.org>\nDate: Mon, 23 Nov 2026 06:00:00 +0000\n'
    printf 'MIME-Version: 1.0\n'
    cat "$W/body"
} >"$W/msg"
for m in pgp smime; do
    mkdir -p "$W/tmp"
    cat >"$W/$m.ini" <<INI
[filter]
reinject = 127.0.0.1:$PORT
temp_dir = $W/tmp
gnupg_home = $FIX/gnupg
smime_certs = $FIX/smime/certs
smime_ca = $FIX/smime/ca.pem
encrypt = required
method = $m
INI
done
sleep 0.2
i=0
: >"$W/fruns"
while [ $i -lt "$N" ]; do
    i=$((i + 1))
    for m in pgp smime; do
        /usr/bin/time -f "%e %M" -o "$W/time" filter/postseal-filter -c "$W/$m.ini" \
            -f alice@example.org -- bob@example.org <"$W/msg" >/dev/null 2>>"$W/bench.log"
        st=$?
        read -r e mx <"$W/time"
        echo "filter-$m $e $mx $st" >>"$W/fruns"
    done
    /usr/bin/time -f "%e %M" -o "$W/time" openssl cms -encrypt -stream -aes-256-cbc \
        -in "$W/msg" -out "$W/o1" "$FIX/smime/bob.pem"
    read -r e mx <"$W/time"
    echo "openssl-msg $e $mx 0" >>"$W/fruns"
    /usr/bin/time -f "%e %M" -o "$W/time" $G --yes -r "$BOB" -o "$W/o3" --encrypt "$W/msg"
    read -r e mx <"$W/time"
    echo "gpg-msg $e $mx 0" >>"$W/fruns"
done
echo
echo "whole filter (exit status, wall seconds, peak RSS of the filter process):"
cat "$W/fruns"
awk '{ if (!($1 in b) || $2 < b[$1]) b[$1] = $2; if ($3 > r[$1]) r[$1] = $3 }
     END { printf "  best filter-pgp %.2f s (max RSS %d KiB) vs gpg --encrypt %.2f s: %.2fx\n",
                  b["filter-pgp"], r["filter-pgp"], b["gpg-msg"], b["filter-pgp"] / b["gpg-msg"];
           printf "  best filter-smime %.2f s (max RSS %d KiB) vs openssl cms -encrypt -stream %.2f s: %.2fx\n",
                  b["filter-smime"], r["filter-smime"], b["openssl-msg"], b["filter-smime"] / b["openssl-msg"] }' "$W/fruns"
