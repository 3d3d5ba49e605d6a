#!/bin/bash
# tests/interop/corpus.sh [-o WORKDIR] DIR...: runs postseal-filter over
# third-party email messages (mail parsers' test corpora, real-world mail)
# and reports, per message and in total, what happened.
#
# Every regular file under DIR is a message; a file whose first line is an
# mbox "From " line is split into its messages (the "From " lines dropped).
# Line ends are made LF as Postfix's pipe(8) hands messages over (smtpd and
# sendmail turn CRLF into LF); -r keeps the bytes as they are.  Per message:
#   dry     postseal-filter --dry-run (outbound, encryption required):
#           exit 0, or 69/75 with an enhanced status code = a clear refusal
#   pass    no rule applies: the reinjected message must be BYTE-IDENTICAL
#   enc     PGP/MIME encryption required: gpg decrypts the result, and every
#           leaf part of the original (type, transfer-decoded content; text
#           compared with LF line ends) is in the decrypted entity, in order
#   sign    PGP/MIME signature: gpg verifies it over the CRLF form of the
#           signed part, which holds the same leaves
#   inbound the message as inbound mail (--dry-run): exit 0 and, for a
#           message that is neither signed nor encrypted, the input unchanged
#           after the one X-Postseal-Verify header
# A crash (signal, exit status other than 0/69/75) or a missing/garbled
# result is a FAILURE; a refusal with a clear status text is REFUSED.
# Output: one line per message (CASE-RESULTS), then totals; the details of
# every failure in WORKDIR/fail/.  Exit status 1 when anything failed.
# Needs: a built filter/postseal-filter (or $POSTSEAL_FILTER), gpg, python3.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
FILTER=${POSTSEAL_FILTER:-$ROOT/filter/postseal-filter}
CUT="python3 $ROOT/tests/interop/mimecut.py"
W=$ROOT/tests/work/corpus
RAW=0
while getopts o:r opt; do
    case $opt in
    o) W=$OPTARG ;;
    r) RAW=1 ;;
    *) echo "usage: $0 [-o WORKDIR] [-r] DIR..." >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || { echo "usage: $0 [-o WORKDIR] [-r] DIR..." >&2; exit 2; }
[ -x "$FILTER" ] || { echo "corpus: $FILTER not built (run make)" >&2; exit 2; }
rm -rf "$W"
mkdir -p "$W/msg" "$W/fail" "$W/out" || exit 2
W=$(cd "$W" && pwd)

# ---- messages ----
n=0
for d in "$@"; do
    find "$d" -type f | sort | while IFS= read -r f; do
        printf '%s\n' "$f"
    done
done >"$W/files"
while IFS= read -r f; do
    base=$(basename "$f" | tr -c 'A-Za-z0-9._\n-' '_')
    if head -1 "$f" | grep -q '^From '; then
        # mbox: a "From " line after an empty line (or first) starts a message
        awk -v dir="$W/msg" -v base="$base" '
            /^From / && (NR == 1 || prev == "") { n++; out = sprintf("%s/%s.%04d", dir, base, n); prev = "x"; next }
            { print > out; prev = $0 }' "$f"
    else
        cp "$f" "$W/msg/$base"
    fi
done <"$W/files"
if [ "$RAW" = 0 ]; then
    for m in "$W"/msg/*; do sed -i 's/\r$//' "$m"; done
fi

# ---- keys and configurations ----
GH=$W/gnupg
mkdir -m 700 "$GH"
G="gpg --homedir $GH --batch --no-tty --pinentry-mode loopback --passphrase="
$G --quick-gen-key 'Corpus Recipient <rcpt@ext.example>' future-default default 1d >/dev/null 2>&1 &&
    $G --quick-gen-key 'Corpus Gateway <gw@local.example>' future-default default 1d >/dev/null 2>&1 ||
    { echo "corpus: gpg key generation failed" >&2; exit 2; }
GW=$($G --with-colons -k gw@local.example | awk -F: '/^fpr/ {print $10; exit}')
cat >"$W/capture" <<EOF
#!/bin/sh
cat >"$W/out/captured"
EOF
chmod 755 "$W/capture"
conf() { # conf NAME ENCRYPT SIGN
    cat >"$W/$1.ini" <<EOF
[filter]
reinject = sendmail
sendmail_command = $W/capture
temp_dir = $W
gnupg_home = $GH
encrypt = never
[filter signkey gw]
pgp_key = $GW
[filter rule r]
recipient = rcpt@ext.example
encrypt = $2
sign = $3
signkey = gw
method = pgp
[inbound]
local_domains = local.example
gnupg_home = $GH
status_check = no
EOF
}
conf pass never no
conf enc required no
conf sign never yes
"$FILTER" -c "$W/enc.ini" --check >/dev/null || { echo "corpus: config refused" >&2; exit 2; }

# leaves ORIG OTHER: every leaf of ORIG (type + transfer-decoded bytes, text
# with LF ends) appears in OTHER in the same order; prints what differs.
cat >"$W/leaves.py" <<'EOF'
import email, email.policy, quopri, re, sys
def qp(text):
    # RFC 2045 6.7 (3): a decoder deletes trailing white space on a line
    raw = text.encode('latin-1', 'surrogateescape') if isinstance(text, str) else text
    return quopri.decodestring(re.sub(rb'[ \t]+(?=\r?\n|$)', b'', raw))
def leaves(path):
    m = email.message_from_binary_file(open(path, 'rb'), policy=email.policy.compat32)
    out = []
    for p in m.walk():
        if p.is_multipart():
            continue
        cte = p.get('Content-Transfer-Encoding', '7bit').strip().lower()
        data = qp(p.get_payload()) if cte == 'quoted-printable' else p.get_payload(decode=True)
        if data is None:
            data = p.get_payload().encode('latin-1', 'surrogateescape') if isinstance(p.get_payload(), str) else b''
        ct = p.get_content_type()
        if p.get('Content-Transfer-Encoding', '7bit').strip().lower() not in ('base64',) or ct.startswith('text/'):
            data = data.replace(b'\r\n', b'\n')
        out.append((ct, data))
    return out
a, b = leaves(sys.argv[1]), leaves(sys.argv[2])
if a == b:
    sys.exit(0)
if len(a) != len(b):
    print("leaf count %d != %d (%s / %s)" % (len(a), len(b), [t for t, _ in a], [t for t, _ in b]))
else:
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            print("leaf %d: %s %d bytes vs %s %d bytes" % (i + 1, x[0], len(x[1]), y[0], len(y[1])))
            break
sys.exit(1)
EOF

# ---- run ----
: >"$W/report"
tot_fail=0
declare -A count
note_fail() { # note_fail CASE MSG TEXT
    tot_fail=$((tot_fail + 1))
    printf '%s\n' "$3" >>"$W/fail/$2.$1"
}
# run CONF MODE(dry|real) SENDER RCPT MSG: sets RC, ERR; output in $W/out/captured
run() {
    rm -f "$W/out/captured"
    if [ "$2" = dry ]; then
        "$FILTER" -c "$W/$1.ini" --dry-run -f "$3" -- "$4" <"$5" >"$W/out/stdout" 2>"$W/out/stderr"
    else
        "$FILTER" -c "$W/$1.ini" -f "$3" -- "$4" <"$5" >"$W/out/stdout" 2>"$W/out/stderr"
    fi
    RC=$?
    # the status line (filter mode: all of stderr; --dry-run: after warnings)
    ERR=$(grep -E '^[45]\.[0-9]+\.[0-9]+ ' "$W/out/stderr" | head -1)
    [ -n "$ERR" ] || ERR=$(grep -v ': info: ' "$W/out/stderr" | head -1)
}
# verdict CASE MSG: classifies RC; 0 = go on checking the output
verdict() {
    case $RC in
    0) return 0 ;;
    69 | 75)
        if printf '%s' "$ERR" | grep -Eq '^[45]\.[0-9]+\.[0-9]+ '; then
            R="$R $1=refused"
            count[$1.refused]=$((${count[$1.refused]:-0} + 1))
            printf '%s %s: %s\n' "$2" "$1" "$ERR" >>"$W/refusals"
        else
            R="$R $1=FAIL(exit $RC without status text)"
            note_fail "$1" "$2" "exit $RC: $ERR"
        fi
        return 1 ;;
    *)
        R="$R $1=FAIL(exit $RC)"
        note_fail "$1" "$2" "exit $RC: $(cat "$W/out/stderr")"
        return 1 ;;
    esac
}
ok_case() { R="$R $1=ok"; count[$1.ok]=$((${count[$1.ok]:-0} + 1)); }
bad_case() { R="$R $1=FAIL($3)"; note_fail "$1" "$2" "$3"; }

for m in "$W"/msg/*; do
    name=$(basename "$m")
    R=""
    # dry run
    run enc dry s@local.example rcpt@ext.example "$m"
    KIND=$(sed -n 's/^message: //p' "$W/out/stdout" | head -1)
    if verdict dry "$name"; then
        if grep -q 'rcpt@ext.example: .*->' "$W/out/stdout"; then ok_case dry; else bad_case dry "$name" "no decision printed"; fi
    fi
    # what an unchanged copy looks like: byte for byte, except that Bcc and
    # Resent-Bcc are never written (issue 4: Bcc privacy), so they are
    # dropped (with continuation lines) from the input's top-level header
    if sed '/^$/q' "$m" | grep -Eqi '^(Resent-)?Bcc:'; then
        awk 'h == 0 && /^$/ { h = 1 } h == 0 && /^(Resent-)?[Bb][Cc][Cc]:/ { skip = 1; next }
             h == 0 && skip && /^[ \t]/ { next } { skip = 0; print }' "$m" >"$W/out/nobcc"
    else
        cp "$m" "$W/out/nobcc"
    fi
    # pass-through
    run pass real s@local.example other@ext.example "$m"
    if verdict pass "$name"; then
        if cmp -s "$W/out/nobcc" "$W/out/captured"; then ok_case pass; else
            bad_case pass "$name" "output differs from input"
            cp "$W/out/captured" "$W/fail/$name.pass.out"
        fi
    fi
    # encryption round trip
    run enc real s@local.example rcpt@ext.example "$m"
    if verdict enc "$name"; then
        c=$W/out/captured
        if [ "${KIND#already encrypted}" != "$KIND" ]; then
            # already encrypted (PGP/MIME, S/MIME): passed on unchanged
            if cmp -s "$W/out/nobcc" "$c"; then ok_case enc; else bad_case enc "$name" "encrypted input changed"; fi
        elif ! grep -qi '^Content-Type: multipart/encrypted' "$c"; then
            bad_case enc "$name" "not multipart/encrypted"
        elif ! $CUT "$c" 2 "$W/out/enc.asc" --body 2>/dev/null ||
            ! $G --yes --decrypt -o "$W/out/inner" "$W/out/enc.asc" 2>/dev/null; then
            bad_case enc "$name" "gpg cannot decrypt"
        elif ! why=$(python3 "$W/leaves.py" "$m" "$W/out/inner"); then
            bad_case enc "$name" "decrypted content differs: $why"
            cp "$W/out/inner" "$W/fail/$name.enc.inner"
        else
            ok_case enc
        fi
    fi
    # signature round trip
    run sign real s@local.example rcpt@ext.example "$m"
    if verdict sign "$name"; then
        c=$W/out/captured
        if [ "${KIND#already}" != "$KIND" ] || [ "${KIND#signed}" != "$KIND" ]; then
            # already signed or encrypted: passed on as it is
            if cmp -s "$W/out/nobcc" "$c"; then ok_case sign; else bad_case sign "$name" "signed/encrypted input changed"; fi
        elif ! grep -qi '^Content-Type: multipart/signed' "$c"; then
            bad_case sign "$name" "not multipart/signed"
        elif ! $CUT "$c" 1 "$W/out/signed" --crlf 2>/dev/null || ! $CUT "$c" 2 "$W/out/sig" --body 2>/dev/null ||
            ! $G --verify "$W/out/sig" "$W/out/signed" 2>/dev/null; then
            bad_case sign "$name" "gpg does not verify the signature"
            cp "$c" "$W/fail/$name.sign.out"
        elif ! why=$(python3 "$W/leaves.py" "$m" "$W/out/signed"); then
            bad_case sign "$name" "signed content differs: $why"
        else
            ok_case sign
        fi
    fi
    # inbound
    run enc dry x@ext.example bob@local.example "$m"
    if verdict inbound "$name"; then
        sed -n '2,$p' "$W/out/stdout" >"$W/out/in"
        if grep -Eqi '^Content-Type: *(multipart/(signed|encrypted)|application/(x-)?pkcs7-mime)' "$m" ||
            grep -Eqi '^X-Postseal-Verify:' "$m"; then
            ok_case inbound # signed/encrypted for someone else or carrying a forged header: not compared
        elif [ ! -s "$m" ] && [ "$(sed -n 2p "$W/out/in")" = "" ]; then
            ok_case inbound # empty input: the result header and the empty line ending the header
        elif [ "$(head -1 "$W/out/in" | cut -d: -f1)" = X-Postseal-Verify ] &&
            sed 1d "$W/out/in" | cmp -s - "$m"; then
            ok_case inbound
        else
            bad_case inbound "$name" "plain message changed"
            cp "$W/out/in" "$W/fail/$name.inbound.out"
        fi
    fi
    printf '%s%s\n' "$name" "$R" | tee -a "$W/report"
done
nmsg=$(ls "$W/msg" | wc -l)
echo "corpus: $nmsg messages from $(wc -l <"$W/files") files"
for c in dry pass enc sign inbound; do
    echo "corpus: $c: ${count[$c.ok]:-0} ok, ${count[$c.refused]:-0} refused (clear status), $(ls "$W/fail" | grep -c "\.$c\$") failed"
done
[ -s "$W/refusals" ] && echo "corpus: refusals: $W/refusals"
echo "corpus: $tot_fail failure(s)${tot_fail:+, details in $W/fail/}"
gpgconf --homedir "$GH" --kill all >/dev/null 2>&1
[ "$tot_fail" = 0 ]
