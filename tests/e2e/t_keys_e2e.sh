#!/bin/bash
# Key discovery end to end through a real Postfix: mail to recipients whose
# keys are NOT in the local store arrives encrypted to the key found on a
# server (OpenPGP by WKD from the local HTTPS key server, S/MIME from slapd),
# proven by decrypting the delivered mail with gpg and openssl cms.  A
# recipient whose key server is down stays queued (4.7.0, deferred) where
# encryption is required and goes out as it is where the policy is
# opportunistic, and a second message does not query the server again.
. "$(dirname "$0")/lib.sh"

need_prog "$POSTSEAL_FILTER"
for p in slapd ldapadd python3 gpg openssl; do
    command -v "$p" >/dev/null 2>&1 || e2e_die "missing $p (tests/deps.d/keys.txt)"
done
DATA=$E2E_RUN/keys-data
sh "$E2E_ROOT/tests/keys/mkdata.sh" "$DATA" >/dev/null || e2e_die "cannot make test keys"
chmod -R a+rX "$DATA"
HTTPS=$(e2e_port 44)
DOWN=$(e2e_port 45)
LDAPP=$(e2e_port 46)

WWW=$E2E_DIR/www
mkdir -p "$WWW/wkd/example.org"
h=$(/usr/lib/gnupg/gpg-wks-client --print-wkd-hash alice@example.org | cut -d' ' -f1)
cp "$DATA/alice.pgp" "$WWW/wkd/example.org/$h"
daemon_start keyserver "inet:$HTTPS" python3 "$E2E_ROOT/tests/keys/keyserver.py" "$HTTPS" \
    "$WWW" "$E2E_DIR/access.log" "$DATA/server.pem" "$DATA/server.key" ||
    e2e_die "key server did not start"
touch "$E2E_DIR/access.log"
sh "$E2E_ROOT/tests/keys/slapd.sh" "$E2E_DIR/ldap" "$DATA" || e2e_die "cannot write slapd config"
daemon_start slapd "inet:$LDAPP" slapd -d 256 -f "$E2E_DIR/ldap/slapd.conf" \
    -h "ldap://127.0.0.1:$LDAPP/" || e2e_die "slapd did not start"
ldapadd -x -H "ldap://127.0.0.1:$LDAPP" -D cn=admin,dc=example,dc=org -w secret \
    -f "$E2E_DIR/ldap/entries.ldif" >"$E2E_DIR/ldapadd.log" 2>&1 || e2e_die "ldapadd failed"

# The filter runs as nobody: its GnuPG home (discovered keys are imported
# there), cache and temp dir belong to nobody.  The GnuPG home starts EMPTY.
mkdir -p "$E2E_DIR/gnupg" "$E2E_DIR/cache" "$E2E_DIR/tmp"
chmod 700 "$E2E_DIR/gnupg"
chown nobody "$E2E_DIR/gnupg" "$E2E_DIR/cache" "$E2E_DIR/tmp"

pf_new mx
INI=$(e2e_file filter.ini <<EOF
[filter]
gnupg_home = $E2E_DIR/gnupg
temp_dir = $E2E_DIR/tmp
reinject = 127.0.0.1:$(pf_reinject_port mx)
encrypt = required
method = pgp
no_key = bounce

[filter rule smime]
recipient = bob@example.org
method = smime

[filter rule opportunistic]
recipient_domain = opp.example
encrypt = opportunistic

[keys]
methods = wkd, ldap
cache_file = $E2E_DIR/cache/keys.mdb
ca_file = $DATA/ca.pem
smime_ca_file = $DATA/ca.pem
timeout = 3s
connect_to = openpgpkey.example.org:443:127.0.0.1:$HTTPS
connect_to = openpgpkey.down.example:443:127.0.0.1:$DOWN
connect_to = openpgpkey.opp.example:443:127.0.0.1:$DOWN

[keys ldap test]
uri = ldap://127.0.0.1:$LDAPP
base = ou=people,dc=example,dc=org
EOF
)
"$POSTSEAL_FILTER" -c "$INI" --check >"$E2E_DIR/check.out" 2>&1
file_has "filter config OK" "$E2E_DIR/check.out" "configuration OK"
pf_filter mx "$INI"
pf_start mx

# --- OpenPGP: alice's key comes from WKD
smtp_send mx --to alice@example.org --header "Subject: wkd test" \
    --body "secret body for alice via wkd"
is "alice: accepted" 250 "$(smtp_code '\.')"
ok "alice: delivered" mail_wait mx alice@example.org
M=$(mail_last mx alice@example.org)
file_has "alice: PGP/MIME encrypted" "$M" 'multipart/encrypted.*application/pgp-encrypted|application/pgp-encrypted'
file_lacks "alice: no cleartext body" "$M" "secret body for alice"
cp -r "$DATA/src" "$E2E_DIR/alice-home" && chmod 700 "$E2E_DIR/alice-home"
sed -n '/-----BEGIN PGP MESSAGE-----/,/-----END PGP MESSAGE-----/p' "$M" >"$E2E_DIR/alice.asc"
gpg --homedir "$E2E_DIR/alice-home" --batch --pinentry-mode loopback --passphrase '' \
    --status-file "$E2E_DIR/alice.status" --decrypt "$E2E_DIR/alice.asc" \
    >"$E2E_DIR/alice.plain" 2>"$E2E_DIR/alice.gpgerr"
file_has "alice: gpg decrypts it to the body" "$E2E_DIR/alice.plain" "secret body for alice via wkd"
file_has "alice: encrypted to alice's discovered key" "$E2E_DIR/alice.status" \
    "ENC_TO $(cut -c25-40 "$DATA/alice.fpr")|DECRYPTION_OKAY"
gpgconf --homedir "$E2E_DIR/alice-home" --kill gpg-agent 2>/dev/null
is "alice: one WKD query" 1 "$(grep -c wkd-advanced "$E2E_DIR/access.log")"
is "alice: the key is now in the filter's GnuPG home" 1 \
    "$(gpg --homedir "$E2E_DIR/gnupg" --batch --with-colons --list-keys 2>/dev/null |
        grep -c '^uid:.*alice@example.org')"

smtp_send mx --to alice@example.org --body "second message"
ok "alice: second message delivered" mail_wait mx alice@example.org 2
is "alice: no second WKD query" 1 "$(grep -c wkd-advanced "$E2E_DIR/access.log")"

# --- S/MIME: bob's certificate comes from LDAP
smtp_send mx --to bob@example.org --body "secret body for bob via ldap"
is "bob: accepted" 250 "$(smtp_code '\.')"
ok "bob: delivered" mail_wait mx bob@example.org
M=$(mail_last mx bob@example.org)
file_has "bob: S/MIME enveloped" "$M" "application/(x-)?pkcs7-mime"
file_lacks "bob: no cleartext body" "$M" "secret body for bob"
openssl cms -decrypt -in "$M" -recip "$DATA/bob.pem" -inkey "$DATA/bob.key" \
    -out "$E2E_DIR/bob.plain" 2>"$E2E_DIR/bob.err"
file_has "bob: openssl cms decrypts it with bob's key" "$E2E_DIR/bob.plain" \
    "secret body for bob via ldap"
is "bob: the directory was searched" 1 \
    "$(grep -c 'SRCH .*filter="(mail=bob@example.org)"' "$E2E_DIR/slapd.log")"

# --- key server down: the message stays queued
smtp_send mx --to zed@down.example --body "must not leak"
is "zed: accepted by smtpd" 250 "$(smtp_code '\.')"
pf_settle mx
is "zed: nothing delivered" 0 "$(mail_count mx zed@down.example)"
is "zed: deferred, still queued" 1 "$(pf_queue_count mx deferred)"
like "zed: the reason is a temporary key lookup failure" \
    "key lookup for <zed@down.example> failed temporarily: .*wkd: .*Failed to connect" \
    "$(pf_queue_reasons mx)"
file_has "zed: Postfix logged dsn=4.7.0, deferred" "$(pf_log mx)" \
    "to=<zed@down.example>.*dsn=4\.7\.0, status=deferred \(key lookup"

# --- the same failure where the policy is opportunistic: sent as it is
smtp_send mx --to amy@opp.example --body "opportunistic body"
is "amy: accepted" 250 "$(smtp_code '\.')"
ok "amy: delivered (opportunistic: a failed lookup means no key)" mail_wait mx amy@opp.example
file_has "amy: in clear, as the policy allows" "$(mail_last mx amy@opp.example)" "opportunistic body"
is "amy: not deferred" 1 "$(pf_queue_count mx deferred)"
