#!/bin/bash
# Gateway to gateway (issue 11): two postseal sites that never exchanged a key.
# Site A (a.test) and site B (b.test) are private Postfix instances, each with
# its own postseal-filter, GnuPG home and keys.  Each site publishes its keys
# with postseal-keys: a WKD tree served over HTTPS by Debian's nginx (its own
# certificate from the test CA), and B's S/MIME certificates as an LDIF
# loaded into a real slapd.  Key discovery on each side is pointed at the
# other's web server with [keys] connect_to (never real DNS).
#  - alice@a.test -> bob@b.test: A finds bob's key on B's WKD, signs with
#    alice's key (A's signing policy) and encrypts; B decrypts, finds alice's
#    key on A's WKD, verifies, and bob gets the cleartext with "valid".
#  - erin@b.test has no key of her own: A uses B's gateway key
#    (openpgp-gateway@b.test), B decrypts it with that key.
#  - alice -> carol@b.test by S/MIME: carol's certificate comes from B's LDAP
#    directory after ldapadd of B's LDIF.
#  - B's web server down: A keeps the message deferred, nothing leaves in
#    cleartext; once it is back the message goes out encrypted.
#  - OpenDKIM signs on A's reinjection smtpd (after encryption) and verifies
#    on B's public smtpd (before decryption): dkim=pass at B.
. "$(dirname "$0")/lib.sh"

if [ "${SANITIZE:-}" = 1 ]; then
    POSTSEAL_KEYS=${POSTSEAL_KEYS:-$E2E_ROOT/build-san/bin/postseal-keys}
else
    POSTSEAL_KEYS=${POSTSEAL_KEYS:-$E2E_ROOT/filter/postseal-keys}
fi
need_prog "$POSTSEAL_FILTER"
need_prog "$POSTSEAL_KEYS"
for p in nginx slapd ldapadd opendkim opendkim-genkey gpg openssl; do
    command -v "$p" >/dev/null 2>&1 || e2e_die "missing $p (tests/deps.d/gateway.txt)"
done

WKD_CONF=${WKD_CONF:-$E2E_ROOT/contrib/web/nginx-wkd-location.conf}
[ -r "$WKD_CONF" ] || e2e_die "missing $WKD_CONF"
WEB_A=$(e2e_port 1)
WEB_B=$(e2e_port 2)
LDAPP=$(e2e_port 3)
DKIM_A=$(e2e_port 4)
DKIM_B=$(e2e_port 5)
pki_init
pki_cert web-a openpgpkey.a.test 2048 ca "DNS:openpgpkey.a.test,DNS:a.test" ||
    e2e_die "cannot make A's web certificate"
pki_cert web-b openpgpkey.b.test 2048 ca "DNS:openpgpkey.b.test,DNS:b.test" ||
    e2e_die "cannot make B's web certificate"
for a in alice@a.test carol@b.test; do
    pki_smime "$a" >/dev/null || e2e_die "cannot make S/MIME certificate for $a"
done

# --- keys: each site's GnuPG home holds only its own users' keys
gen() { # SITE UID
    gpg --homedir "$E2E_DIR/$1/gnupg" --batch --pinentry-mode loopback --passphrase '' \
        --quick-gen-key "$2" future-default default never 2>/dev/null
}
for s in a b; do
    mkdir -p "$E2E_DIR/$s/gnupg" "$E2E_DIR/$s/tmp" "$E2E_DIR/$s/cache" "$E2E_DIR/$s/keys"
    chmod 700 "$E2E_DIR/$s/gnupg"
done
gen a 'Alice <alice@a.test>' || e2e_die "gpg: cannot make alice's key"
gen b 'Bob <bob@b.test>' || e2e_die "gpg: cannot make bob's key"
gen b 'b.test mail gateway <openpgp-gateway@b.test>' || e2e_die "gpg: cannot make B's gateway key"
fpr() { # SITE ADDR
    gpg --homedir "$E2E_DIR/$1/gnupg" --batch --with-colons --list-keys "<$2>" 2>/dev/null |
        awk -F: '$1 == "fpr" { print $10; exit }'
}
ALICE_FPR=$(fpr a alice@a.test)
BOB_FPR=$(fpr b bob@b.test)
GW_FPR=$(fpr b openpgp-gateway@b.test)
[ -n "$ALICE_FPR" ] && [ -n "$BOB_FPR" ] && [ -n "$GW_FPR" ] || e2e_die "gpg: keys missing"
# B decrypts for carol (S/MIME); A signs for alice (S/MIME).
cp "$PKI/smime/carol@b.test.key" "$PKI/smime/carol@b.test.crt" "$E2E_DIR/b/keys/"
cp "$PKI/smime/alice@a.test.key" "$PKI/smime/alice@a.test.crt" "$E2E_DIR/a/keys/"
for s in a b; do
    gpgconf --homedir "$E2E_DIR/$s/gnupg" --kill gpg-agent 2>/dev/null
    chmod 600 "$E2E_DIR/$s"/keys/*.key
    chown -R nobody:nogroup "$E2E_DIR/$s/gnupg" "$E2E_DIR/$s/tmp" "$E2E_DIR/$s/cache" \
        "$E2E_DIR/$s/keys"
done

# --- the two Postfix sites: A relays b.test to B, each delivers its own domain
pf_new a
pf_new b
PB=$(pf_port b)
echo "b.test smtp:[127.0.0.1]:$PB" >"$(pf_dir a)/etc/transport"
pf_conf a "virtual_mailbox_domains = a.test" "transport_maps = texthash:$(pf_dir a)/etc/transport" \
    'minimal_backoff_time = 2s' 'maximal_backoff_time = 4s' 'queue_run_delay = 2s'
pf_conf b "virtual_mailbox_domains = b.test"

site_ini() { # SITE OTHER-SITE OTHER-WEB-PORT METHODS < extra sections
    local s=$1 o=$2 port=$3 methods=$4
    cat >"$E2E_DIR/$s/postseal.ini" <<EOF
[filter]
reinject = 127.0.0.1:$(pf_reinject_port "$s")
gnupg_home = $E2E_DIR/$s/gnupg
temp_dir = $E2E_DIR/$s/tmp
smime_ca = $PKI/ca.crt
encrypt = opportunistic

[keys]
methods = $methods
wkd = advanced
cache_file = $E2E_DIR/$s/cache/keys.mdb
ca_file = $PKI/ca.crt
smime_ca_file = $PKI/ca.crt
gateway_localpart = openpgp-gateway
timeout = 3s
connect_to = openpgpkey.$o.test:443:127.0.0.1:$port

[inbound]
local_domains = $s.test
gnupg_home = $E2E_DIR/$s/gnupg
ca_file = $PKI/ca.crt
status_check = no

[publish]
domains = $s.test
wkd_dir = $E2E_DIR/$s/www
EOF
    cat >>"$E2E_DIR/$s/postseal.ini"
    chmod 644 "$E2E_DIR/$s/postseal.ini"
}
site_ini a b "$WEB_B" "wkd, ldap" <<EOF
[filter rule carol]
recipient = carol@b.test
encrypt = required
sign = yes
method = smime
no_key = defer

[filter rule b]
recipient_domain = b.test
encrypt = required
sign = yes
no_key = defer

[filter signkey alice]
sender = alice@a.test
pgp_key = $ALICE_FPR
smime_cert = $E2E_DIR/a/keys/alice@a.test.crt
smime_key = $E2E_DIR/a/keys/alice@a.test.key

[keys ldap b]
uri = ldap://127.0.0.1:$LDAPP
base = ou=people,dc=b,dc=test
domains = b.test
EOF
site_ini b a "$WEB_A" wkd <<EOF
[inbound]
smime_keypair = $E2E_DIR/b/keys/carol@b.test.key $E2E_DIR/b/keys/carol@b.test.crt

[inbound rule partner]
sender_domain = a.test
verify = required

[publish]
gateway_key = $GW_FPR
ldif_file = $E2E_DIR/b/people.ldif
ldif_base = ou=people,dc=b,dc=test
EOF
for s in a b; do
    "$POSTSEAL_FILTER" -c "$E2E_DIR/$s/postseal.ini" --check >"$E2E_DIR/$s/check.out" 2>&1
    file_has "site $s: filter config OK" "$E2E_DIR/$s/check.out" "configuration OK"
done

# --- publishing: each site exports its keys, as an operator would (root;
# postseal-keys does the GnuPG part as the home's owner, the filter's user);
# nginx serves them
publish() { # SITE wkd|ldif OUT
    "$POSTSEAL_KEYS" -c "$E2E_DIR/$1/postseal.ini" "$2" >"$3" 2>&1
}
for s in a b; do
    chown nobody:nogroup "$E2E_DIR/$s" && chmod 755 "$E2E_DIR/$s"
    publish "$s" wkd "$E2E_DIR/$s/publish.out"
    is "site $s: postseal-keys wkd succeeds" 0 "$?"
done
publish b ldif "$E2E_DIR/b/ldif.out"
is "site b: postseal-keys ldif succeeds" 0 "$?"
file_has "site b: the LDIF holds carol's certificate" "$E2E_DIR/b/people.ldif" '^mail: carol@b\.test'
nginx_start web-a "$E2E_DIR/a/www" "$WEB_A" web-a "$WKD_CONF" ||
    e2e_die "A's nginx did not start"
nginx_start web-b "$E2E_DIR/b/www" "$WEB_B" web-b "$WKD_CONF" ||
    e2e_die "B's nginx did not start"

# B's directory: a real slapd; B's LDIF loaded with ldapadd
slapd_start slapd b "$LDAPP" || e2e_die "slapd did not start"
$SLAPD_ADD -f "$E2E_DIR/b/people.ldif" >"$E2E_DIR/ldapadd.log" 2>&1
is "ldapadd loads B's LDIF" 0 "$?"

# --- OpenDKIM: signs a.test on A's reinjection smtpd, verifies on B's public smtpd
mkdir -p "$E2E_DIR/dkim"
opendkim-genkey -b 1024 -D "$E2E_DIR/dkim" -d a.test -s sel >/dev/null 2>&1 ||
    e2e_die "opendkim-genkey failed"
chmod 600 "$E2E_DIR/dkim/sel.private"
# TestPublicKeys: B's stand-in for the DNS TXT record sel._domainkey.a.test
printf 'sel._domainkey.a.test %s\n' \
    "$(sed -n 's/.*"\(.*\)".*/\1/p' "$E2E_DIR/dkim/sel.txt" | tr -d '\n')" >"$E2E_DIR/dkim/keys"
# The shipped contrib/opendkim configs, with this test's paths and ports.
sed -e "s|^Domain .*|Domain a.test|" -e "s|^Selector .*|Selector sel|" \
    -e "s|^KeyFile .*|KeyFile $E2E_DIR/dkim/sel.private|" \
    -e "s|^Socket .*|Socket inet:$DKIM_A@127.0.0.1|" -e "s|^PidFile .*|PidFile $E2E_DIR/dkim/a.pid|" \
    -e "/^UserID/d" -e "s|^Syslog .*|Syslog no|" \
    "$E2E_ROOT/contrib/opendkim/opendkim-sign.conf" >"$E2E_DIR/dkim/a.conf"
sed -e "s|^AuthservID .*|AuthservID b.postseal.test|" \
    -e "s|^Socket .*|Socket inet:$DKIM_B@127.0.0.1|" -e "s|^PidFile .*|PidFile $E2E_DIR/dkim/b.pid|" \
    -e "/^UserID/d" -e "s|^Syslog .*|Syslog no|" \
    "$E2E_ROOT/contrib/opendkim/opendkim-verify.conf" >"$E2E_DIR/dkim/b.conf"
echo "TestPublicKeys $E2E_DIR/dkim/keys" >>"$E2E_DIR/dkim/b.conf"
daemon_start dkim-a "inet:$DKIM_A" opendkim -f -l -x "$E2E_DIR/dkim/a.conf" ||
    e2e_die "opendkim (A, signing) did not start"
daemon_start dkim-b "inet:$DKIM_B" opendkim -f -l -x "$E2E_DIR/dkim/b.conf" ||
    e2e_die "opendkim (B, verifying) did not start"

# As contrib/postfix/master.cf.dkim says: A signs on its reinjection smtpd
# (it sees the message as it leaves: encrypted and signed), B verifies on its
# public smtpd, before the filter decrypts.
pf_filter a "$E2E_DIR/a/postseal.ini"
RA=$(pf_reinject_port a)
postconf -c "$(pf_dir a)/etc" -P "127.0.0.1:$RA/inet/smtpd_milters=inet:127.0.0.1:$DKIM_A" \
    "127.0.0.1:$RA/inet/receive_override_options=no_unknown_recipient_checks,no_header_body_checks" ||
    e2e_die "postconf: A's reinjection milter"
pf_filter b "$E2E_DIR/b/postseal.ini"
pf_smtpd b "smtpd_milters=inet:127.0.0.1:$DKIM_B" "milter_default_action=tempfail"
postconf -c "$(pf_dir a)/etc" -P "127.0.0.1:$RA/inet/milter_default_action=tempfail" ||
    e2e_die "postconf: A's milter_default_action"
pf_start a
pf_start b

# The message: header fields, a body with lines that SMTP and MIME like to
# touch (leading dot, "From ", trailing space, a long line).
body=$E2E_DIR/body.txt
{
    printf 'Dear Bob,\n\n.a line with a leading dot\nFrom the start of a line\n'
    printf 'trailing space \nsecret: the gateways never met\n'
    printf '%0.s0123456789' $(seq 1 20)
    printf '\n-- \nAlice\n'
} >"$body"
send() { # FROM TO SUBJECT: the whole message is ours (swaks --data), body.txt as its body
    {
        printf 'From: <%s>\nTo: <%s>\nSubject: %s\nDate: %s\nMessage-ID: <%s.%s@a.test>\n' \
            "$1" "$2" "$3" "$(date -R)" "$E2E_NSEND" "$$"
        printf 'MIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n\n'
        cat "$body"
    } | head -c -1 >"$E2E_DIR/msg.eml" # swaks ends the data with its own newline
    smtp_send a --from "$1" --to "$2" --data "$E2E_DIR/msg.eml" --header "Subject: $3"
}
# delivered_body SITE ADDR FILE: the first text/plain part of the last
# message for ADDR, transfer encoding decoded (Python's email package, an
# independent MIME parser).  Signing turns such a body into quoted-printable
# (RFC 3156 and 8551 want 7-bit data under a signature); the decoded bytes
# must be what alice wrote.
delivered_body() {
    python3 -c '
import email, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"))
for p in m.walk():
    if p.get_content_type() == "text/plain":
        sys.stdout.buffer.write(p.get_payload(decode=True))
        break
' "$(mail_last "$1" "$2")" >"$3"
}
# unfolded FILE: the top-level header, one line per field (folding removed)
unfolded() { awk '/^$/ { exit } /^[ \t]/ { sub(/^[ \t]+/, " "); printf "%s", $0; next }
                  NR > 1 { print "" } { printf "%s", $0 } END { print "" }' "$1"; }
has_key() { # SITE FPR: the site's GnuPG home holds the key
    gpg --homedir "$E2E_DIR/$1/gnupg" --batch --list-keys "$2" >/dev/null 2>&1
}

# 1. OpenPGP: bob's key from B's WKD, alice's signature verified with her key from A's WKD
send alice@a.test bob@b.test "pgp across"
is "pgp: A accepts" 250 "$(smtp_code '\.$')"
ok "pgp: delivered to bob at B" mail_wait b bob@b.test 1 30
M=$(mail_last b bob@b.test)
file_has "pgp: bob sees a valid signature (B's partner rule requires one)" "$M" \
    '^X-Postseal-Verify: valid; method=pgp; signer="alice@a\.test"; .*rule=partner; action=deliver'
file_has "pgp: signed by alice's key" "$M" "^X-Postseal-Verify: .*$ALICE_FPR|^X-Postseal-Verify: .*alice@a\.test"
file_has "pgp: it came in encrypted (B's log: decrypted)" "$(pf_log b)" 'postseal-filter'
like "pgp: bob sees alice's Subject, untouched" '^Subject: pgp across$' "$(unfolded "$M")"
delivered_body b bob@b.test "$E2E_DIR/bob.body"
ok "pgp: bob's body is alice's body, byte for byte" cmp "$body" "$E2E_DIR/bob.body"
file_has "pgp: A looked up bob at openpgpkey.b.test" "$E2E_DIR/web-b.nginx/access.log" \
    '^openpgpkey\.b\.test /\.well-known/openpgpkey/b\.test/hu/[a-z0-9]+\?l=bob 200$'
file_has "pgp: B looked up alice at openpgpkey.a.test" "$E2E_DIR/web-a.nginx/access.log" \
    '^openpgpkey\.a\.test /\.well-known/openpgpkey/a\.test/hu/[a-z0-9]+\?l=alice 200$'
like "pgp: DKIM pass at B for the encrypted message" \
    'Authentication-Results: b\.postseal\.test; dkim=pass .*header\.d=a\.test' "$(unfolded "$M")"
file_has "pgp: B decrypted it (OpenPGP)" "$M" '^X-Postseal-Verify: .*decrypt=pgp'
pf_settle a
pf_settle b
is "pgp: nothing left in A's queue" 0 "$(pf_queue_count a)"
is "pgp: nothing left in B's queue" 0 "$(pf_queue_count b)"
is "pgp: bob's key, with only its b.test user ID, is in A's GnuPG home" "uid:bob@b.test" \
    "$(gpg --homedir "$E2E_DIR/a/gnupg" --batch --with-colons --list-keys "$BOB_FPR" 2>/dev/null |
        awk -F: '$1 == "uid" { print "uid:" $10 }' | sed 's/.*<\(.*\)>.*/uid:\1/')"

# 2. erin@b.test has no key of her own: B's gateway key, published at
#    openpgp-gateway@b.test, is used; B decrypts with it
send alice@a.test erin@b.test "gateway key"
is "gateway: A accepts" 250 "$(smtp_code '\.$')"
ok "gateway: delivered to erin at B" mail_wait b erin@b.test 1 30
M=$(mail_last b erin@b.test)
file_has "gateway: B decrypted it" "$M" '^X-Postseal-Verify: valid.*decrypt=pgp'
delivered_body b erin@b.test "$E2E_DIR/erin.body"
ok "gateway: erin's body is alice's body, byte for byte" cmp "$body" "$E2E_DIR/erin.body"
file_has "gateway: A asked B's WKD for openpgp-gateway" "$E2E_DIR/web-b.nginx/access.log" \
    '^openpgpkey\.b\.test /\.well-known/openpgpkey/b\.test/hu/[a-z0-9]+\?l=openpgp-gateway 200$'
ok "gateway: A holds B's gateway key" has_key a "$GW_FPR"

# 3. S/MIME: carol's certificate from B's LDAP (B's LDIF), alice's S/MIME signature
send alice@a.test carol@b.test "smime across"
is "smime: A accepts" 250 "$(smtp_code '\.$')"
ok "smime: delivered to carol at B" mail_wait b carol@b.test 1 30
M=$(mail_last b carol@b.test)
file_has "smime: carol sees a valid signature by alice" "$M" \
    '^X-Postseal-Verify: valid; method=smime; signer="alice@a\.test"'
file_has "smime: B decrypted it (S/MIME)" "$M" '^X-Postseal-Verify: .*decrypt=smime'
delivered_body b carol@b.test "$E2E_DIR/carol.body"
ok "smime: carol's body is alice's body, byte for byte" cmp "$body" "$E2E_DIR/carol.body"
file_has "smime: A searched B's directory for carol" "$E2E_DIR/slapd.log" \
    'SRCH .*filter="\(mail=carol@b\.test\)"'
like "smime: DKIM pass at B" 'Authentication-Results: b\.postseal\.test; dkim=pass .*header\.d=a\.test' \
    "$(unfolded "$M")"

# 4. B's web server down: A defers, nothing leaves in cleartext; back up: out encrypted
daemon_stop web-b
send alice@a.test dave@b.test "while B is down"
is "down: A accepts" 250 "$(smtp_code '\.$')"
pf_settle a
is "down: nothing delivered to dave" 0 "$(mail_count b dave@b.test)"
is "down: the message is deferred at A" 1 "$(pf_queue_count a deferred)"
like "down: the reason is the failed key lookup" 'key lookup for <dave@b.test> failed temporarily' \
    "$(pf_queue_reasons a)"
is "down: nothing reached B" 0 "$(pf_queue_count b)"
gen b 'Dave <dave@b.test>' || e2e_die "gpg: cannot make dave's key"
DAVE_FPR=$(fpr b dave@b.test)
gpgconf --homedir "$E2E_DIR/b/gnupg" --kill gpg-agent 2>/dev/null
chown -R nobody:nogroup "$E2E_DIR/b/gnupg"
publish b wkd "$E2E_DIR/b/publish2.out"
is "down: B republishes with dave's new key" 0 "$?"
nginx_start web-b "$E2E_DIR/b/www" "$WEB_B" web-b "$WKD_CONF" ||
    e2e_die "B's nginx did not restart"
pf_flush a
ok "down: delivered to dave once B's server is back" mail_wait b dave@b.test 1 40
M=$(mail_last b dave@b.test)
file_has "down: dave's copy was decrypted by B (it travelled encrypted)" "$M" \
    '^X-Postseal-Verify: valid.*decrypt=pgp'
delivered_body b dave@b.test "$E2E_DIR/dave.body"
ok "down: dave's body is alice's body, byte for byte" cmp "$body" "$E2E_DIR/dave.body"
ok "down: A found dave's new key" has_key a "$DAVE_FPR"
pf_settle a
is "down: A's queue is empty again" 0 "$(pf_queue_count a)"
