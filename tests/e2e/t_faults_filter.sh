#!/bin/bash
# Faults around postseal-filter, through a real Postfix: in every case the
# message must stay in Postfix's queue (deferred, with a reason that says what
# went wrong) and nothing, not even part of it, may be delivered.  At the end
# the faults are repaired, the queue is flushed and every message must arrive
# exactly once and complete (its last line intact).
#   a@  reinjection server down (nothing listens on the return port)
#   b@  full disk: temp_dir on a 1 MiB tmpfs, a 3 MiB message
#   bob@ GnuPG home unreadable by the filter's user (bob has a key there)
#   d@  keyserver down: [keys] hkp on a closed port, no local key for d@, and
#       a rule requiring encryption for d@ (under an opportunistic policy a
#       key server that is down counts as "no key": issue 5, t_keys_e2e)
#   e@  kill -9 of the filter in the middle of the message (it is blocked
#       in the SMTP dialogue with a return server that never answers)
. "$(dirname "$0")/lib.sh"

need_prog "$POSTSEAL_FILTER"
command -v python3 >/dev/null || e2e_skip "python3 missing (silent SMTP peer)"
GH=$E2E_DIR/gpg-gw
BH=$E2E_DIR/gpg-bob
mkdir -m 700 "$GH" "$BH" || e2e_die "mkdir"
gpg --homedir "$BH" --batch --quiet --pinentry-mode loopback --passphrase '' \
    --quick-gen-key bob@example.test future-default default never 2>/dev/null ||
    e2e_die "gpg key generation failed"
gpg --homedir "$BH" --export bob@example.test | gpg --homedir "$GH" --batch --quiet --import 2>/dev/null ||
    e2e_die "gpg import failed"
gpgconf --homedir "$GH" --kill all 2>/dev/null
chown -R nobody:nogroup "$GH"
mkdir -p "$E2E_DIR/tmp" && chmod 1777 "$E2E_DIR/tmp"
# an unreadable GnuPG home: root's, mode 0700, with the same keys
LOCKED=$E2E_DIR/gpg-locked
cp -a "$GH" "$LOCKED" && chown -R root:root "$LOCKED" && chmod 0700 "$LOCKED" ||
    e2e_die "cannot make $LOCKED"
# a full disk: 1 MiB tmpfs
TINY=$E2E_DIR/tiny
mkdir -p "$TINY" && mount -t tmpfs -o size=1m,mode=1777 postseal-e2e-tiny "$TINY" ||
    e2e_skip "cannot mount a tmpfs (needs root outside a restricted container)"
trap 'rc=$?; umount "$TINY" 2>/dev/null; (exit $rc); e2e__exit' EXIT

RPORT=$((PS_PORT_BASE + 1)) # the instance's reinjection smtpd
DOWN=$(e2e_port 7)          # nothing listens here
SILENT=$(e2e_port 6)        # accepts, never says a word
KS=$(e2e_port 5)            # "keyserver": nothing listens here

write_conf() { # REINJECT_PORT TEMP_DIR GNUPG_HOME [KEYS_METHODS [REQUIRED_RCPT]]
    cat >"$E2E_DIR/filter.ini" <<EOF
[filter]
reinject = 127.0.0.1:$1
reinject_timeout = 120s
temp_dir = $2
gnupg_home = $3
encrypt = opportunistic
${5:+[filter rule required]}
${5:+recipient = $5}
${5:+encrypt = required}

[keys]
${4:+methods = $4}
hkp_server = hkp://127.0.0.1:$KS
cache_file =
timeout = 3s
connect_timeout = 2s
EOF
    chmod 0644 "$E2E_DIR/filter.ini"
}
write_conf "$RPORT" "$E2E_DIR/tmp" "$GH"
ok "the good configuration validates (--check)" "$POSTSEAL_FILTER" -c "$E2E_DIR/filter.ini" --check

pf_new mx
# deferred mail waits for pf_flush: no retry while the next fault is staged
pf_conf mx 'minimal_backoff_time = 600s' 'maximal_backoff_time = 1200s' 'queue_run_delay = 600s'
pf_filter mx "$E2E_DIR/filter.ini"
pf_start mx

# reason RCPT: the deferral reason Postfix keeps for that recipient
reason() {
    postqueue -c "$(pf_dir mx)/etc" -j 2>/dev/null |
        jq -r --arg r "$1" '.recipients[] | select(.address == $r) | .delay_reason // empty'
}
queued() { # RCPT: the recipient's message is in the deferred queue
    pf_queue mx deferred | awk -v r="$1" '$4 ~ r' | grep -q .
}
body() { # NAME SIZE_KB: about SIZE_KB of text ending in a marker line
    awk -v n="$1" -v kb="$2" 'BEGIN {
        for (i = 0; b < kb * 1024; i++) {
            s = sprintf("%s line %06d: 0123456789abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ", n, i)
            print s
            b += length(s) + 1
        }
        printf "END-OF-MESSAGE %s\n", n
    }'
}
deferred_case() { # LABEL RCPT REASON_ERE BODY_FILE
    smtp_send mx --to "$2" --header "Subject: fault $1" --body "@$4"
    is "$1: accepted by the public smtpd" 250 "$(smtp_code '\.')"
    pf_settle mx 60
    ok "$1: the message stays in the deferred queue" queued "$2"
    like "$1: with a reason naming the fault" "$3" "$(reason "$2")"
    is "$1: nothing delivered" 0 "$(mail_count mx "$2")"
}

# a. reinjection server down
write_conf "$DOWN" "$E2E_DIR/tmp" "$GH"
body a 8 >"$E2E_DIR/a.txt"
deferred_case "reinjection down" a@example.test "127\.0\.0\.1:$DOWN.*(refused|connect)" "$E2E_DIR/a.txt"

# b. full disk
write_conf "$RPORT" "$TINY" "$GH"
body b 3072 >"$E2E_DIR/b.txt"
deferred_case "full disk" b@example.test "([Nn]o space|ENOSPC|disk|full)" "$E2E_DIR/b.txt"
is "full disk: the filter left nothing behind in temp_dir" "" "$(ls -A "$TINY")"

# c. GnuPG home unreadable (bob has a key; opportunistic must not send plain:
#    an unreadable local key store is a fault, not "no key")
write_conf "$RPORT" "$E2E_DIR/tmp" "$LOCKED"
body c 8 >"$E2E_DIR/c.txt"
deferred_case "gpg home unreadable" bob@example.test "([Gg]nu[Pp][Gg]|gpg|4\.3\.0)" "$E2E_DIR/c.txt"

# d. keyserver down (d@ has no local key; [keys] on_failure defaults to defer)
write_conf "$RPORT" "$E2E_DIR/tmp" "$GH" hkp d@example.test
body d 8 >"$E2E_DIR/d.txt"
deferred_case "keyserver down" d@example.test "(127\.0\.0\.1:$KS|hkp|keyserver|lookup|refused|connect)" "$E2E_DIR/d.txt"

# e. kill -9 in the middle of the message
python3 - "$SILENT" >"$E2E_DIR/silent.log" 2>&1 <<'EOF' &
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(8)
held = []
while True:
    c, _ = s.accept()
    held.append(c)          # keep it open, say nothing
    print("connection", len(held), flush=True)
EOF
echo "$! silent" >>"$E2E_DIR/.pids"
e2e_wait 5 e2e__listening "inet:$SILENT" || e2e_die "silent peer did not start"
write_conf "$SILENT" "$E2E_DIR/tmp" "$GH"
body e 512 >"$E2E_DIR/e.txt"
smtp_send mx --to e@example.test --header "Subject: fault kill -9" --body "@$E2E_DIR/e.txt"
is "kill -9: accepted by the public smtpd" 250 "$(smtp_code '\.')"
ok "kill -9: the filter reached the reinjection (it is mid-message)" \
    e2e_wait 30 grep -q connection "$E2E_DIR/silent.log"
fpid=$(pgrep -f "^[^ ]*/postseal-filter -c $E2E_DIR/filter.ini" | head -n 1)
isnt "kill -9: a filter process is running" "" "$fpid"
[ -n "$fpid" ] && kill -9 "$fpid"
pf_settle mx 60
ok "kill -9: the message stays in the deferred queue" queued e@example.test
like "kill -9: Postfix saw the signal" "(signal 9|[Kk]illed)" "$(reason e@example.test)"
is "kill -9: nothing delivered" 0 "$(mail_count mx e@example.test)"

# f. the whole run is bounded: [filter] time_limit against the same silent
#    peer (reinject_timeout 120s): 75 with 4.4.7 after ~2 s, whatever hangs
sed 's/^\[filter\]$/[filter]\ntime_limit = 2s/' "$E2E_DIR/filter.ini" >"$E2E_DIR/tl.ini"
{
    printf 'From: s@example.test\nTo: f@example.test\nSubject: time limit\n\n'
    cat "$E2E_DIR/e.txt"
} >"$E2E_DIR/tl.eml"
t0=$(date +%s)
"$POSTSEAL_FILTER" -c "$E2E_DIR/tl.ini" -f s@example.test -- f@example.test \
    <"$E2E_DIR/tl.eml" >"$E2E_DIR/tl.out" 2>&1
is "time_limit: exit 75 (Postfix keeps the message)" 75 "$?"
t1=$(date +%s)
ok "time_limit: stopped within 10 s (not after reinject_timeout)" test $((t1 - t0)) -le 10
file_has "time_limit: says why, 4.4.7 first" "$E2E_DIR/tl.out" '^4\.4\.7 postseal-filter: time_limit exceeded'
daemon_stop silent

# repair everything: each message exactly once, complete
umount "$TINY" && pass "tmpfs unmounted" || fail "tmpfs unmounted"
write_conf "$RPORT" "$E2E_DIR/tmp" "$GH"
is "five messages wait in the queue" 5 "$(pf_queue_count mx deferred)"
pf_flush mx
for r in a b bob d e; do
    ok "$r@: delivered after the repair" mail_wait mx "$r@example.test" 1 60
done
pf_settle mx 60
is "the queue is empty" 0 "$(pf_queue_count mx)"
for r in a b d e; do
    f=$(mail_last mx "$r@example.test")
    is "$r@: exactly one copy" 1 "$(mail_count mx "$r@example.test")"
    file_has "$r@: the whole message arrived (last line intact)" "$f" "^END-OF-MESSAGE $r\$"
done
is "bob@: exactly one copy" 1 "$(mail_count mx bob@example.test)"
bob=$(mail_last mx bob@example.test)
file_has "bob@: his copy is encrypted (the key was there all along)" "$bob" '^Content-Type: multipart/encrypted'
sed -n '/^-----BEGIN PGP MESSAGE/,/^-----END PGP MESSAGE/p' "$bob" >"$E2E_DIR/bob.asc"
gpg --homedir "$BH" --batch --quiet --decrypt "$E2E_DIR/bob.asc" >"$E2E_DIR/bob.dec" 2>/dev/null
file_has "bob@: gpg decrypts it to the complete text" "$E2E_DIR/bob.dec" '^END-OF-MESSAGE c'
