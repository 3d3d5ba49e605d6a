#!/bin/sh
# Filter vs the bare tools, part of `make bench` (called by tests/bench/run.sh,
# or alone: sh tests/bench/filter_vs_bare.sh; tests/bench/filter.sh measures
# 25/50 MB memory bounds).  For 10 KB, 1 MB and 25 MB messages, measured side
# by side in one run:
#   postseal-filter (spool, MIME, transform, crypto, SMTP reinjection into
#   tests/bench/smtpsink) for S/MIME encrypt, S/MIME sign+encrypt and
#   PGP/MIME encrypt, against the bare command on the same body (the ceiling):
#   openssl cms -encrypt -stream, openssl cms -sign | openssl cms -encrypt, and
#   gpg --encrypt --armor.
# Wall time is the best of BENCH_FILTER_RUNS (default 3) runs; peak RSS is
# GNU time's %M (the largest process of the run: the filter, or gpg when
# gpgme runs it).  Targets (reported, not asserted): at 25 MB the filter
# takes <= 1.3x the bare command, and its peak RSS is < 16 MiB.
set -u
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
W=${W:-$ROOT/tests/work/bench}
OUT=${OUT:-$W/results.md}
FILTER=${PS_BIN_DIR:+$PS_BIN_DIR/postseal-filter}
FILTER=${FILTER:-$ROOT/filter/postseal-filter}
RUNS=${BENCH_FILTER_RUNS:-3}
SIZES=${BENCH_FILTER_SIZES:-10240 1048576 26214400}
PORT=$((${PS_PORT_BASE:-10025} + 91))
F=$W/filter-vs-bare
TIME=/usr/bin/time
rm -rf "$F"
mkdir -p "$F"
[ -x "$FILTER" ] || {
    echo "bench: $FILTER not built; filter half skipped" >&2
    exit 1
}
[ -x "$TIME" ] || {
    echo "bench: $TIME missing (Debian package time)" >&2
    exit 1
}
[ "$W/smtpsink" -nt tests/bench/smtpsink.c ] || ${CC:-cc} -O2 -o "$W/smtpsink" tests/bench/smtpsink.c || exit 1

# ---- keys: a CA, bob's S/MIME certificate, a signer, bob's OpenPGP key
(
    cd "$F" || exit 1
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 30 \
        -subj "/CN=bench CA" -addext basicConstraints=critical,CA:TRUE \
        -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
    for who in bob signer; do
        openssl req -newkey rsa:2048 -nodes -keyout $who.key -out $who.csr \
            -subj "/CN=$who/emailAddress=$who@example.test" 2>/dev/null
        printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=emailProtection\nsubjectAltName=email:%s@example.test\n' \
            $who >$who.ext
        openssl x509 -req -in $who.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 \
            -extfile $who.ext -out $who.pem 2>/dev/null
    done
    chmod 0600 bob.key signer.key
    mkdir -m 0700 gnupg
    gpg --homedir gnupg --batch --quiet --pinentry-mode loopback --passphrase '' \
        --quick-gen-key bob@example.test rsa3072 encr never 2>/dev/null
) || exit 1
[ -s "$F/bob.pem" ] && [ -s "$F/signer.pem" ] || {
    echo "bench: cannot make the test keys" >&2
    exit 1
}

conf() { # NAME METHOD SIGN
    cat >"$F/$1.ini" <<EOF
[filter]
reinject = 127.0.0.1:$PORT
temp_dir = $F
gnupg_home = $F/gnupg
smime_certs = $F/bob.pem
smime_ca = $F/ca.pem
encrypt = required
method = $2
sign = $3

[filter signkey bench]
smime_cert = $F/signer.pem
smime_key = $F/signer.key
EOF
}
conf smime-enc smime no
conf smime-sign-enc smime yes
conf pgp-enc pgp no

# message SIZE: headers and a 7-bit text body of about SIZE bytes
message() {
    {
        printf 'From: signer@example.test\nTo: bob@example.test\nSubject: bench %s\n' "$1"
        printf 'MIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n\n'
        head -c $(($1 * 3 / 4)) /dev/urandom | base64 -w 76
    } >"$F/msg.$1"
}

# measure LABEL CMD...: best wall time (s, from the nanosecond clock) and peak
# RSS (KiB, GNU time %M) of RUNS runs
measure() {
    label=$1
    shift
    best=
    rss=0
    i=0
    while [ $i -lt "$RUNS" ]; do
        t0=$(date +%s%N)
        if ! $TIME -f '%M' -o "$F/time.out" "$@" >"$F/cmd.out" 2>"$F/cmd.err"; then
            echo "bench: $label failed:" >&2
            cat "$F/cmd.err" >&2
            echo "FAIL 0"
            return
        fi
        t1=$(date +%s%N)
        t=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
        m=$(tail -n 1 "$F/time.out")
        best=$(awk -v a="${best:-$t}" -v b="$t" 'BEGIN { print (b < a) ? b : a }')
        [ "$m" -gt "$rss" ] && rss=$m
        i=$((i + 1))
    done
    echo "$best $rss"
}

"$W/smtpsink" "127.0.0.1:$PORT" &
SINK=$!
trap 'kill $SINK 2>/dev/null' EXIT
sleep 0.3
# a sink that could not bind exits: then something else holds the port and
# would be measured instead of ours
kill -0 $SINK 2>/dev/null || {
    echo "bench: smtpsink could not listen on 127.0.0.1:$PORT (port in use?)" >&2
    exit 1
}
: >"$F/raw"
for size in $SIZES; do
    message "$size"
    msg=$F/msg.$size
    for kind in smime-enc smime-sign-enc pgp-enc; do
        f=$(measure "filter $kind" sh -c "exec \"$FILTER\" -c \"$F/$kind.ini\" -f signer@example.test -- bob@example.test <\"$msg\"")
        case $kind in
        smime-enc)
            c=$(measure "openssl cms -encrypt" openssl cms -encrypt -aes256 -stream \
                -in "$msg" -out "$F/ceil.out" "$F/bob.pem")
            ;;
        smime-sign-enc)
            c=$(measure "openssl cms -sign | -encrypt" sh -c "openssl cms -sign -stream -in '$msg' \
                -signer '$F/signer.pem' -inkey '$F/signer.key' | openssl cms -encrypt -aes256 \
                -stream -out '$F/ceil.out' '$F/bob.pem'")
            ;;
        pgp-enc)
            c=$(measure "gpg --encrypt" gpg --homedir "$F/gnupg" --batch --yes --trust-model always \
                --armor --encrypt -r bob@example.test -o "$F/ceil.out" "$msg")
            ;;
        esac
        echo "$size $kind $f $c" | tee -a "$F/raw"
    done
done

{
    echo
    echo "### Filter per message (best of $RUNS; filter includes spool, MIME, crypto and SMTP reinjection)"
    echo
    echo "| size | operation | postseal-filter s | bare command s | ratio | filter peak RSS | bare peak RSS |"
    echo "|---|---|---|---|---|---|---|"
    awk '{
        size = $1 >= 1048576 ? sprintf("%d MB", $1 / 1048576) : sprintf("%d KB", $1 / 1024)
        op = $2 == "smime-enc" ? "S/MIME encrypt (vs openssl cms -encrypt)" : \
             $2 == "smime-sign-enc" ? "S/MIME sign+encrypt (vs openssl cms -sign, then -encrypt)" : \
             "PGP/MIME encrypt (vs gpg --encrypt --armor)"
        ratio = ($5 > 0) ? sprintf("%.2fx", $3 / $5) : "-"
        printf "| %s | %s | %.3f | %.3f | %s | %.1f MiB | %.1f MiB |\n", size, op, $3, $5, ratio, $4 / 1024, $6 / 1024
    }' "$F/raw"
    echo
    awk '$1 >= 26214400 {
        r = ($5 > 0) ? $3 / $5 : 0
        printf "Targets at %d MB, %s: time %.2fx the bare command (<= 1.3x: %s), filter peak RSS %.1f MiB (< 16 MiB: %s).\n", \
            $1 / 1048576, $2, r, (r <= 1.3) ? "met" : "NOT met", $4 / 1024, ($4 < 16384) ? "met" : "NOT met"
    }' "$F/raw"
} | tee -a "$OUT"
