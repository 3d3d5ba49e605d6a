#!/bin/bash
# The daemons under valgrind (memcheck): postseal-policyd serves a batch of
# realistic requests from 20 connections while slow, stuck, abandoning and
# oversize clients misbehave and a SIGHUP reload happens; postseal-tlspolicyd
# answers Postfix's own socketmap client (postmap -q) and garbage netstrings,
# with a reload too; postseal-filter encrypts one message and reinjects it.
# Each must end with no memcheck error (invalid read/write, uninitialised
# value, bad free) and no definitely lost block (--error-exitcode).
. "$(dirname "$0")/lib.sh"

command -v valgrind >/dev/null || e2e_skip "valgrind missing (tests/deps.d/reliab.txt)"
need_prog "$POSTSEAL_POLICYD"
need_prog "$POSTSEAL_TLSPOLICYD"
if nm "$POSTSEAL_POLICYD" 2>/dev/null | grep -q __asan_init; then
    e2e_skip "sanitizer build: valgrind and ASan do not mix (run without SANITIZE=1)"
fi
VG="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
    --show-leak-kinds=definite --num-callers=30"
DUMPS=/work/shared/reference/postfix-3.7-policy-dumps.txt
[ -f "$DUMPS" ] || DUMPS=$E2E_ROOT/tests/bench/policy-dumps.txt
cc -O2 -o "$E2E_DIR/loadgen" "$E2E_ROOT/tests/bench/loadgen.c" || e2e_die "cannot build loadgen"
cc -O2 -o "$E2E_DIR/smtpsink" "$E2E_ROOT/tests/bench/smtpsink.c" || e2e_die "cannot build smtpsink"

# vg_stop PID: TERM, wait for the end of valgrind; VG_RC = its exit status
vg_stop() {
    kill -TERM "$1" 2>/dev/null
    local t=300
    while kill -0 "$1" 2>/dev/null && [ $t -gt 0 ]; do
        sleep 0.1
        t=$((t - 1))
    done
    wait "$1" 2>/dev/null
    VG_RC=$?
}
# postmap (Postfix's own socketmap client) needs a main.cf
mkdir -p "$E2E_DIR/pfetc" && : >"$E2E_DIR/pfetc/main.cf"
pmq() { postmap -c "$E2E_DIR/pfetc" -q "$1" "socketmap:unix:$E2E_DIR/tls.sock:tlspolicy" 2>&1; }
vg_clean() { # LOG: memcheck said nothing (-q prints errors and leaks only)
    ! grep -Eq '== (Invalid|Conditional|Use of uninit|Mismatched|Syscall param|.* definitely lost)' "$1"
}

# ---------------------------------------------------------------- policyd
cat >"$E2E_DIR/policy.ini" <<EOF
[policy]
encryption_keysize = 128
tls_protocol = TLSv1.2
[policy client 10.0.0.0/8]
outcome = disconnect
[policy recipient_domain example.test]
outcome = permanent
EOF
# shellcheck disable=SC2086
daemon_start policyd "unix:$E2E_DIR/policyd.sock" $VG --log-file="$E2E_DIR/vg-policyd.log" \
    "$POSTSEAL_POLICYD" -f -c "$E2E_DIR/policy.ini" --listen "unix:$E2E_DIR/policyd.sock" ||
    e2e_die "policyd under valgrind did not start"
ppid=$DAEMON_PID
out=$("$E2E_DIR/loadgen" -t "unix:$E2E_DIR/policyd.sock" -r "$DUMPS" -c 20 -n 3000 \
    -S 2 -P 2 -A 2 -O 1 -H "$ppid" -R 2 -T 20000 -l valgrind)
st=$?
e2e_log "$out"
is "policyd under valgrind answered every request of the batch" 0 "$st"
like "two SIGHUP reloads happened during the batch" ' reloads=2 ' "$out"
like "oversize requests were refused" ' oversize_refused=[1-9]' "$out"
ok "policyd is still running" kill -0 "$ppid"
vg_stop "$ppid"
is "policyd exits cleanly on TERM, valgrind status 0" 0 "$VG_RC"
ok "memcheck: no error and no definite leak in policyd" vg_clean "$E2E_DIR/vg-policyd.log"

# ------------------------------------------------------------- tlspolicyd
cat >"$E2E_DIR/tls.ini" <<EOF
[tlspolicy]
default = may
min_cipher_bits = 128
[tlspolicy example.com]
level = secure
match = .example.com
[tlspolicy .bounce.example]
bounce = yes
EOF
# shellcheck disable=SC2086
daemon_start tlspolicyd "unix:$E2E_DIR/tls.sock" $VG --log-file="$E2E_DIR/vg-tlspolicyd.log" \
    "$POSTSEAL_TLSPOLICYD" -f -c "$E2E_DIR/tls.ini" --listen "unix:$E2E_DIR/tls.sock" ||
    e2e_die "tlspolicyd under valgrind did not start"
tpid=$DAEMON_PID
ans=$(pmq example.com)
like "postmap gets the secure policy for example.com" '^secure ' "$ans"
n=0
for i in $(seq 1 30); do
    pmq "host$i.sub.example.com" | grep -Eq '^may( |$)' && n=$((n + 1))
    [ "$i" = 15 ] && kill -HUP "$tpid"
done
is "30 lookups (default policy \"may\") answered across a reload" 30 "$n"
python3 - "$E2E_DIR/tls.sock" <<'EOF'
import socket, sys
for junk in [b"x", b"99999999999:", b"5:hello;", b"3:abc", b"0:,", b"12:tlspolicy ,"]:
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    s.sendall(junk)
    s.settimeout(3)
    try:
        s.recv(100)
    except Exception:
        pass
    s.close()
EOF
like "still answering after the garbage" '^secure ' \
    "$(pmq example.com)"
vg_stop "$tpid"
is "tlspolicyd exits cleanly on TERM, valgrind status 0" 0 "$VG_RC"
ok "memcheck: no error and no definite leak in tlspolicyd" vg_clean "$E2E_DIR/vg-tlspolicyd.log"

# ----------------------------------------------------------------- filter
if [ -x "$POSTSEAL_FILTER" ]; then
    GH=$E2E_DIR/gpg
    mkdir -m 700 "$GH"
    gpg --homedir "$GH" --batch --quiet --pinentry-mode loopback --passphrase '' \
        --quick-gen-key bob@example.test future-default default never 2>/dev/null ||
        e2e_die "gpg key generation failed"
    sport=$(e2e_port 3)
    daemon_start sink "inet:$sport" "$E2E_DIR/smtpsink" "127.0.0.1:$sport" "$E2E_DIR/sink.out" ||
        e2e_die "smtp sink did not start"
    cat >"$E2E_DIR/filter.ini" <<EOF
[filter]
reinject = 127.0.0.1:$sport
temp_dir = $E2E_DIR
gnupg_home = $GH
encrypt = required
EOF
    printf 'From: a@example.org\nTo: bob@example.test\nSubject: valgrind\n\nsecret text\n' >"$E2E_DIR/msg"
    # shellcheck disable=SC2086
    $VG --log-file="$E2E_DIR/vg-filter.log" "$POSTSEAL_FILTER" -c "$E2E_DIR/filter.ini" \
        -f a@example.org -- bob@example.test <"$E2E_DIR/msg" >"$E2E_DIR/filter.out" 2>&1
    is "filter under valgrind: exit 0 (not 99: memcheck found nothing)" 0 "$?"
    file_has "the sink got the PGP/MIME message" "$E2E_DIR/sink.out" '^Content-Type: multipart/encrypted'
    ok "memcheck: no error and no definite leak in postseal-filter" vg_clean "$E2E_DIR/vg-filter.log"
fi
