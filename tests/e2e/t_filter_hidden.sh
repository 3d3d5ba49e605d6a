#!/bin/bash
# [filter] hidden_recipients = auto|yes|no through a real Postfix, checked
# with real gpg on what was delivered:
#  - auto (the default), two recipients in To (one message for both): every
#    public-key encrypted session key packet has key id 0000000000000000
#    (gpg --throw-keyids) and bob's and carol's own gpg each decrypt it;
#  - auto, one recipient: the packet shows bob's real encryption key id;
#  - auto, bob in To and carol only in the envelope (Bcc): two messages of
#    one recipient each, each with its real key id;
#  - no: two recipients, both real key ids;  yes: one recipient, key id 0;
#  - an "encrypt-to" in the filter's gpg.conf adds no recipient (one packet);
#  - postseal's own inbound side (postseal-filter, [inbound] with bob's
#    secret key) decrypts a hidden-recipient message made by postseal.
. "$(dirname "$0")/lib.sh"

need_prog "$POSTSEAL_FILTER"
GH=$E2E_DIR/gpg-gw
mkdir -m 700 "$GH" || e2e_die "mkdir"
for u in bob@b.test carol@c.test; do
    h=$E2E_DIR/gpg-${u%@*}
    mkdir -m 700 "$h" || e2e_die "mkdir $h"
    gpg --homedir "$h" --batch --quiet --pinentry-mode loopback --passphrase '' \
        --quick-gen-key "$u" future-default default never 2>/dev/null ||
        e2e_die "gpg key generation for $u failed"
    gpg --homedir "$h" --export "$u" | gpg --homedir "$GH" --batch --quiet --import 2>/dev/null ||
        e2e_die "gpg import of $u failed"
done
# the encryption subkeys' long key ids, as gpg --list-packets prints them
keyid() { gpg --homedir "$E2E_DIR/gpg-$1" --with-colons --list-keys 2>/dev/null | awk -F: '$1 == "sub" { print $5; exit }'; }
BOBID=$(keyid bob)
CAROLID=$(keyid carol)
CAROLFPR=$(gpg --homedir "$E2E_DIR/gpg-carol" --with-colons --list-keys 2>/dev/null | awk -F: '$1 == "fpr" { print $10; exit }')
[ ${#BOBID} = 16 ] && [ ${#CAROLID} = 16 ] || e2e_die "cannot read the key ids ($BOBID, $CAROLID)"
gpgconf --homedir "$GH" --kill all 2>/dev/null
chown -R nobody:nogroup "$GH"
mkdir -p "$E2E_DIR/tmp" && chmod 1777 "$E2E_DIR/tmp"

write_conf() { # [hidden_recipients line]
    e2e_file filter.ini <<EOF >/dev/null
[filter]
reinject = 127.0.0.1:$((PS_PORT_BASE + 1))
gnupg_home = $GH
temp_dir = $E2E_DIR/tmp
encrypt = required
method = pgp
$1
EOF
    # pf_filter copies a config nobody cannot reach: keep that copy current
    [ -f "$E2E_DIR/filter-filter.ini" ] && cp "$E2E_DIR/filter.ini" "$E2E_DIR/filter-filter.ini"
    return 0
}
write_conf ""
ok "postseal-filter accepts the config (--check)" "$POSTSEAL_FILTER" -c "$E2E_DIR/filter.ini" --check

pf_new mx
pf_filter mx "$E2E_DIR/filter.ini"
pf_start mx

N=0
# send NAME TO-HEADER ENVELOPE-RECIPIENTS...: one message; waits for each
# recipient's copy; leaves the armored OpenPGP data of bob's copy in NAME.bob.asc
# (and carol's in NAME.carol.asc) and gpg --list-packets of each in *.packets.
send() {
    local name=$1 to=$2 r
    local -A had
    shift 2
    for r in "$@"; do had[$r]=$(mail_count mx "$r"); done
    smtp_send mx --to "$(
        IFS=,
        echo "$*"
    )" --header "To: $to" --header "Subject: hidden $name" --body "secret text $name"
    is "$name: accepted" 250 "$(smtp_code '\.')"
    for r in "$@"; do
        local who=${r%@*}
        if ! mail_wait mx "$r" $((had[$r] + 1)); then
            fail "$name: delivered to $r" "$(pf_queue_reasons mx | head -3)"
            continue
        fi
        sed -n '/-----BEGIN PGP MESSAGE-----/,/-----END PGP MESSAGE-----/p' "$(mail_last mx "$r")" \
            >"$E2E_DIR/$name.$who.asc"
        gpg --homedir "$E2E_DIR/empty" --batch --list-packets "$E2E_DIR/$name.$who.asc" \
            >"$E2E_DIR/$name.$who.packets" 2>&1
    done
}
mkdir -m 700 "$E2E_DIR/empty"

# pubkey enc packets' key ids, sorted, space separated
ids() { grep -o 'pubkey enc packet: .*keyid [0-9A-F]*' "$E2E_DIR/$1.packets" | sed 's/.*keyid //' | sort | tr '\n' ' ' | sed 's/ $//'; }
decrypts() { # HOME-NAME FILE TEXT
    gpg --homedir "$E2E_DIR/gpg-$1" --batch --pinentry-mode loopback --passphrase '' \
        --decrypt "$E2E_DIR/$2" 2>"$E2E_DIR/$2.$1.err" | grep -q "$3"
}

# --- auto (default): two recipients in To share one message: ids hidden
send two "bob@b.test, carol@c.test" bob@b.test carol@c.test
is "auto, two in To: the same message for both" "$(cat "$E2E_DIR/two.bob.asc")" "$(cat "$E2E_DIR/two.carol.asc")"
is "auto, two in To: two packets, both key id 0" "0000000000000000 0000000000000000" "$(ids two.bob)"
ok "auto, two in To: bob's gpg decrypts it" decrypts bob two.bob.asc "secret text two"
ok "auto, two in To: carol's gpg decrypts it" decrypts carol two.carol.asc "secret text two"

# --- auto, one recipient: its real key id
send one "bob@b.test" bob@b.test
is "auto, one recipient: bob's real key id" "$BOBID" "$(ids one.bob)"
ok "auto, one recipient: bob's gpg decrypts it" decrypts bob one.bob.asc "secret text one"

# --- auto, carol only in the envelope (Bcc): a message of her own, one key each
send bcc "bob@b.test" bob@b.test carol@c.test
is "auto, Bcc: bob's copy names bob's key only" "$BOBID" "$(ids bcc.bob)"
is "auto, Bcc: carol's copy names carol's key only" "$CAROLID" "$(ids bcc.carol)"
ok "auto, Bcc: carol's gpg decrypts her copy" decrypts carol bcc.carol.asc "secret text bcc"

# --- no: real key ids for both
write_conf "hidden_recipients = no"
send visible "bob@b.test, carol@c.test" bob@b.test carol@c.test
is "no, two in To: both real key ids" "$(printf '%s\n' "$BOBID" "$CAROLID" | sort | tr '\n' ' ' | sed 's/ $//')" "$(ids visible.bob)"
ok "no: carol's gpg decrypts it" decrypts carol visible.carol.asc "secret text visible"

# --- yes: hidden even for one recipient
write_conf "hidden_recipients = yes"
send yes1 "bob@b.test" bob@b.test
is "yes, one recipient: key id 0" "0000000000000000" "$(ids yes1.bob)"
ok "yes, one recipient: bob's gpg decrypts it" decrypts bob yes1.bob.asc "secret text yes1"

# --- encrypt-to in the filter's gpg.conf is not applied
echo "encrypt-to $CAROLFPR" >"$GH/gpg.conf"
chown nobody:nogroup "$GH/gpg.conf"
write_conf ""
send encto "bob@b.test" bob@b.test
is "gpg.conf encrypt-to ignored: one packet, bob's key id" "$BOBID" "$(ids encto.bob)"
not_ok "gpg.conf encrypt-to ignored: carol cannot decrypt bob's copy" decrypts carol encto.bob.asc "secret text encto"
rm -f "$GH/gpg.conf"

# --- postseal's inbound side decrypts a hidden-recipient message for its key
IH=$E2E_DIR/gpg-inbound
cp -a "$E2E_DIR/gpg-bob" "$IH" && gpgconf --homedir "$IH" --kill all 2>/dev/null
e2e_file inbound.ini <<EOF >/dev/null
[filter]
temp_dir = $E2E_DIR/tmp
[inbound]
local_domains = b.test
gnupg_home = $IH
EOF
# the delivered copy as it came (minus the delivery agent's trace fields)
grep -v '^\(Delivered-To\|X-Original-To\|Return-Path\):' "$(mail_files mx bob@b.test | sed -n 1p)" \
    >"$E2E_DIR/in.eml"
"$POSTSEAL_FILTER" -c "$E2E_DIR/inbound.ini" --dry-run -f someone@c.test -- bob@b.test \
    <"$E2E_DIR/in.eml" >"$E2E_DIR/in.out" 2>"$E2E_DIR/in.err"
is "inbound: the input is the hidden two-recipient message" "0000000000000000 0000000000000000" "$(ids two.bob)"
file_has "inbound: postseal decrypts it (decrypt=pgp)" "$E2E_DIR/in.out" '^inbound: X-Postseal-Verify: .*decrypt=pgp'
file_has "inbound: the plaintext is delivered" "$E2E_DIR/in.out" "secret text two"
file_lacks "inbound: no PGP data left" "$E2E_DIR/in.out" "BEGIN PGP MESSAGE"
