#!/bin/bash
# Key discovery against REAL servers on 127.0.0.1: an HTTPS WKD/HKP/VKS server
# (tests/keys/keyserver.py, certificate from a test CA, access log) and
# OpenLDAP slapd, driven through `postseal-filter --lookup ADDRESS`.
# Covers: found (WKD advanced, WKD direct, HKP, VKS, LDAP, LDAPS), the imported key
# carries only the recipient's user ID, not found with the negative cache hit
# on the second try (no second query: counted in the servers' logs), server
# down, server slow (timeout honoured), HTTP 503, bad data (garbage, wrong
# user ID, expired, revoked, sign-only, certificate for another address or
# without keyEncipherment, untrusted issuer, no certificate), the domain gateway key, on_failure = ignore.
. "$(dirname "$0")/lib.sh"

need_prog "$POSTSEAL_FILTER"
for p in slapd ldapadd python3 gpg /usr/lib/gnupg/gpg-wks-client; do
    command -v "$p" >/dev/null 2>&1 || e2e_die "missing $p (tests/deps.d/keys.txt)"
done
DATA=$E2E_RUN/keys-data
sh "$E2E_ROOT/tests/keys/mkdata.sh" "$DATA" >/dev/null || e2e_die "cannot make test keys"
HTTPS=$(e2e_port 40)
SLOW=$(e2e_port 41)
DOWN=$(e2e_port 42)
LDAPP=$(e2e_port 43)
LDAPS=$(e2e_port 47)

# --- the key server's files, laid out by GnuPG's own WKD hash
WWW=$E2E_DIR/www
mkdir -p "$WWW/wkd/example.org" "$WWW/wkd/example.net" "$WWW/hkp" "$WWW/vks" "$E2E_DIR/slow"
wkd() { # ADDR FILE
    local h d=${1#*@}
    h=$(/usr/lib/gnupg/gpg-wks-client --print-wkd-hash "$1" | cut -d' ' -f1)
    cp "$DATA/$2" "$WWW/wkd/$d/$h"
}
wkd alice@example.org alice.pgp
wkd wrong@example.org mallory.pgp
wkd garbage@example.org garbage.bin
wkd old@example.org old.pgp
wkd rev@example.org rev.pgp
wkd nosub@example.org nosub.pgp
head -c 300000 /dev/zero >"$DATA/big.bin.$$" && wkd big@example.org "big.bin.$$" && rm -f "$DATA/big.bin.$$"
wkd carol@example.net carol.pgp
wkd openpgp-gateway@example.net openpgp-gateway.pgp
cp "$DATA/carol.asc" "$WWW/hkp/carol@example.net"
cp "$DATA/alice.asc" "$WWW/vks/alice@example.org"
echo 5 >"$E2E_DIR/slow/delay"
cp -r "$WWW/wkd" "$E2E_DIR/slow/"

KS="python3 $E2E_ROOT/tests/keys/keyserver.py"
daemon_start keyserver "inet:$HTTPS" $KS "$HTTPS" "$WWW" "$E2E_DIR/access.log" \
    "$DATA/server.pem" "$DATA/server.key" || e2e_die "key server did not start"
daemon_start slowserver "inet:$SLOW" $KS "$SLOW" "$E2E_DIR/slow" "$E2E_DIR/slow.log" \
    "$DATA/server.pem" "$DATA/server.key" || e2e_die "slow key server did not start"
touch "$E2E_DIR/access.log" "$E2E_DIR/slow.log"

# --- slapd with test entries
sh "$E2E_ROOT/tests/keys/slapd.sh" "$E2E_DIR/ldap" "$DATA" || e2e_die "cannot write slapd config"
daemon_start slapd "inet:$LDAPP" slapd -d 256 -f "$E2E_DIR/ldap/slapd.conf" \
    -h "ldap://127.0.0.1:$LDAPP/ ldaps://127.0.0.1:$LDAPS/" || e2e_die "slapd did not start"
SLAPD_PID=$DAEMON_PID
ldapadd -x -H "ldap://127.0.0.1:$LDAPP" -D cn=admin,dc=example,dc=org -w secret \
    -f "$E2E_DIR/ldap/entries.ldif" >"$E2E_DIR/ldapadd.log" 2>&1 ||
    e2e_die "ldapadd failed: $(tail -n 3 "$E2E_DIR/ldapadd.log")"

# --- configurations (the filter runs as nobody: everything readable)
chmod 0755 "$E2E_DIR"
conf() { # NAME [keys] lines... ; own GnuPG home and cache per NAME
    local n=$1
    shift
    mkdir -p "$E2E_DIR/$n.gnupg"
    chmod 700 "$E2E_DIR/$n.gnupg"
    {
        printf '[filter]\ngnupg_home = %s\n\n[keys]\n' "$E2E_DIR/$n.gnupg"
        printf 'cache_file = %s\n' "$E2E_DIR/$n.mdb"
        printf 'ca_file = %s\n' "$DATA/ca.pem"
        printf '%s\n' "$@"
    } >"$E2E_DIR/$n.ini"
}
conf wkd "methods = wkd" "timeout = 3s" "gateway_localpart = openpgp-gateway" \
    "connect_to = openpgpkey.example.org:443:127.0.0.1:$HTTPS" \
    "connect_to = example.net:443:127.0.0.1:$HTTPS"
conf ks "methods = vks hkp" "hkp_server = hkps://127.0.0.1:$HTTPS" \
    "vks_server = https://127.0.0.1:$HTTPS"
conf down "methods = hkp" "hkp_server = https://127.0.0.1:$DOWN" "timeout = 3s"
conf ignore "methods = hkp" "hkp_server = https://127.0.0.1:$DOWN" "on_failure = ignore"
conf slow "methods = wkd" "timeout = 2s" "connect_to = ::127.0.0.1:$SLOW"
conf ldap "methods = ldap" "smime_ca_file = $DATA/ca.pem" "timeout = 2s" \
    "" "[keys ldap test]" "uri = ldap://127.0.0.1:$LDAPP" "base = ou=people,dc=example,dc=org"
conf ldaps "methods = ldap" "smime_ca_file = $DATA/ca.pem" "timeout = 2s" \
    "" "[keys ldap test]" "uri = ldaps://127.0.0.1:$LDAPS" "base = ou=people,dc=example,dc=org"
sed "s|^ca_file = .*|ca_file = $DATA/evilca.pem|" "$E2E_DIR/ldaps.ini" >"$E2E_DIR/ldapsbad.ini"
mkdir -p "$E2E_DIR/ldapsbad.gnupg" && chmod 700 "$E2E_DIR/ldapsbad.gnupg"
sed -i "s|ldaps.gnupg|ldapsbad.gnupg|; s|ldaps.mdb|ldapsbad.mdb|" "$E2E_DIR/ldapsbad.ini"
conf ldapdown "methods = ldap" "smime_ca_file = $DATA/ca.pem" "timeout = 2s" \
    "" "[keys ldap test]" "uri = ldap://127.0.0.1:$DOWN" "base = ou=people,dc=example,dc=org"

OUT=$E2E_DIR/out
lookup() { # CONF ADDR: sets RC, output in $OUT
    "$POSTSEAL_FILTER" -c "$E2E_DIR/$1.ini" --lookup "$2" >"$OUT" 2>&1
    RC=$?
    cp "$OUT" "$E2E_DIR/out.$1.$2"
}
queries() { grep -c "$1" "$E2E_DIR/access.log"; }
keys_in() { gpg --homedir "$E2E_DIR/$1.gnupg" --batch --with-colons --list-keys 2>/dev/null; }

# --- WKD advanced: found, imported with the recipient's user ID only
lookup wkd alice@example.org
is "wkd: alice found (exit 0)" 0 "$RC"
file_has "wkd: the key's fingerprint" "$OUT" "found OpenPGP key $(cat "$DATA/alice.fpr")"
file_has "wkd: from the advanced URL" "$OUT" "from: https://openpgpkey.example.org/.well-known/openpgpkey/example.org/hu/"
is "wkd: one advanced query" 1 "$(queries 'wkd-advanced openpgpkey.example.org')"
is "imported key has alice@example.org" 1 "$(keys_in wkd | grep -c '^uid:.*alice@example.org')"
is "the other user ID was filtered out" 0 "$(keys_in wkd | grep -c 'alice@other.example')"
lookup wkd alice@example.org
is "second lookup found" 0 "$RC"
file_has "second lookup: from the local GnuPG home" "$OUT" "from: local GnuPG home"
is "second lookup: no new query" 1 "$(queries 'wkd-advanced openpgpkey.example.org')"

# --- not found, then the negative cache
lookup wkd nobody@example.org
is "wkd: nobody not found (exit 69)" 69 "$RC"
file_has "wkd: says HTTP 404" "$OUT" "HTTP 404"
n=$(wc -l <"$E2E_DIR/access.log")
lookup wkd nobody@example.org
is "second try: still not found" 69 "$RC"
file_has "second try: the negative cache answered" "$OUT" "cached negative answer"
is "second try: NO second query to the server" "$n" "$(wc -l <"$E2E_DIR/access.log")"

# --- negative_ttl = 0: nothing cached, every lookup asks
conf nocache "methods = wkd" "negative_ttl = 0" \
    "connect_to = openpgpkey.example.org:443:127.0.0.1:$HTTPS"
lookup nocache ghost@example.org
lookup nocache ghost@example.org
is "negative_ttl = 0: both lookups asked the server" 2 "$(queries 'hu/.*l=ghost ')"

# --- size limit
lookup wkd big@example.org
is "answer over max_answer_size refused" 69 "$RC"
file_has "says the answer is too large" "$OUT" "answer larger than 262144 bytes"

# --- WKD direct method (openpgpkey.example.net does not resolve)
lookup wkd carol@example.net
is "wkd direct: carol found" 0 "$RC"
file_has "wkd direct: from the direct URL" "$OUT" "from: https://example.net/.well-known/openpgpkey/hu/"
file_has "wkd direct: advanced host did not resolve" "$OUT" "openpgpkey.example.net.*does not resolve"

# --- bad data
lookup wkd garbage@example.org
is "garbage: refused (69)" 69 "$RC"
file_has "garbage: says so" "$OUT" "no usable OpenPGP key data"
lookup wkd wrong@example.org
is "wrong user ID: refused" 69 "$RC"
file_has "wrong user ID: names both" "$OUT" "has no user ID <wrong@example.org> \(it has: <mallory@example.org>\)"
lookup wkd old@example.org
is "expired key: refused" 69 "$RC"
file_has "expired key: says expired" "$OUT" "expired 2020-01-02"
lookup wkd rev@example.org
is "revoked key: refused" 69 "$RC"
file_has "revoked key: says revoked" "$OUT" "is revoked"
lookup wkd nosub@example.org
is "sign-only key: refused" 69 "$RC"
file_has "sign-only key: no encryption subkey" "$OUT" "no usable encryption subkey"
is "no refused key reached the GnuPG home" 0 \
    "$(keys_in wkd | grep -cE '^uid:.*(mallory|old|rev|nosub)@example.org')"

# --- refresh: a key discovered a day ago (positive_ttl 1h) is asked for
# again; the server now serves it revoked, so the keyring learns it
conf refresh "methods = wkd" "positive_ttl = 1h" \
    "connect_to = openpgpkey.example.org:443:127.0.0.1:$HTTPS"
gpg --homedir "$E2E_DIR/refresh.gnupg" --batch --quiet --key-origin wkd \
    --faked-system-time "$(date -u -d '-1 day' +%Y%m%dT%H%M%S)" \
    --import "$DATA/rev-orig.pgp" 2>/dev/null
is "refresh: the stale key is usable before" "" \
    "$(keys_in refresh | awk -F: '$1 == "pub" { print $2 }' | grep r)"
lookup refresh rev@example.org
is "refresh: refused now (69)" 69 "$RC"
file_has "refresh: it was refreshed" "$OUT" "was discovered [0-9]+s ago \(positive_ttl 3600s\): refreshing"
file_has "refresh: the revocation was imported" "$OUT" "is already in .*: updated from the answer"
is "refresh: the keyring now has it revoked" r \
    "$(keys_in refresh | awk -F: '$1 == "pub" { print $2 }')"

# --- domain gateway key (gateway_localpart = openpgp-gateway)
lookup wkd zoe@example.net
is "gateway: zoe@example.net gets the domain key" 0 "$RC"
file_has "gateway: it is the gateway's key" "$OUT" \
    "found OpenPGP key $(cat "$DATA/openpgp-gateway.fpr") \(domain gateway key of <openpgp-gateway@example.net>\)"

# --- configured domain keys: [keys domain D] pgp_key / smime_cert
conf domain "smime_ca_file = $DATA/ca.pem" \
    "[keys domain example.com]" "pgp_key = $(cat "$DATA/openpgp-gateway.fpr")" \
    "[keys domain example.net]" "smime_cert = $DATA/gwcert.pem"
gpg --homedir "$E2E_DIR/domain.gnupg" --batch --quiet --import "$DATA/openpgp-gateway.pgp" 2>/dev/null
lookup domain anyone@example.com
is "domain pgp_key: used for anyone@example.com" 0 "$RC"
file_has "domain pgp_key: the configured key, as gateway key" "$OUT" \
    "found OpenPGP key $(cat "$DATA/openpgp-gateway.fpr") \(domain gateway key"
file_has "domain pgp_key: from the config" "$OUT" "from: \[keys domain example.com\] pgp_key"
lookup domain anyone@example.net
is "domain smime_cert: used for anyone@example.net" 0 "$RC"
file_has "domain smime_cert: the gateway certificate" "$OUT" \
    "found S/MIME certificate .*CN=gwcert.* \(domain gateway certificate\)"
lookup domain anyone@example.org
is "no domain key for example.org" 69 "$RC"

# --- HKP and VKS
lookup ks carol@example.net
is "hkp: carol found" 0 "$RC"
file_has "hkp: from /pks/lookup" "$OUT" "from: https://127.0.0.1:$HTTPS/pks/lookup\?op=get&options=mr&search=carol%40example.net"
lookup ks alice@example.org
is "vks: alice found" 0 "$RC"
file_has "vks: from /vks/v1/by-email" "$OUT" "from: https://127.0.0.1:$HTTPS/vks/v1/by-email/alice%40example.org"
is "vks asked before hkp (methods order)" 0 "$(grep -c 'hkp .*alice' "$E2E_DIR/access.log")"

# --- server failures are temporary
lookup down carol@example.net
is "server down: temporary failure (75)" 75 "$RC"
file_has "server down: says why" "$OUT" "Couldn't connect|Connection refused|Failed to connect"
lookup down carol@example.net
unlike "server down: never cached" "cached" "$(cat "$OUT")"
lookup ignore carol@example.net
is "on_failure = ignore: server down counts as no key (69)" 69 "$RC"
touch "$WWW/status.503"
lookup ks bob@example.org
is "HTTP 503: temporary failure" 75 "$RC"
rm -f "$WWW/status.503"

t0=$(date +%s%N)
lookup slow alice@example.org
t1=$(date +%s%N)
is "slow server: temporary failure (75)" 75 "$RC"
file_has "slow server: timed out" "$OUT" "timed out \(limit 2s\)"
ms=$(((t1 - t0) / 1000000))
ok "slow server: gave up within the 2 s timeout (took ${ms} ms < 4000)" test "$ms" -lt 4000

# --- LDAP (S/MIME)
lookup ldap bob@example.org
is "ldap: bob found" 0 "$RC"
file_has "ldap: an S/MIME certificate" "$OUT" "found S/MIME certificate .*CN=bob"
file_has "ldap: from the directory entry" "$OUT" "from: ldap ldap://127.0.0.1:$LDAPP \(uid=bob,ou=people,dc=example,dc=org\)"
lookup ldap bob@example.org
is "ldap: bob again" 0 "$RC"
file_has "ldap: second time from the cache" "$OUT" "from: cache \(ldap"
is "ldap: the directory was searched once for bob" 1 \
    "$(grep -c 'SRCH .*filter="(mail=bob@example.org)"' "$E2E_DIR/slapd.log")"
lookup ldap nobody@example.org
is "ldap: nobody not found" 69 "$RC"
lookup ldap nobody@example.org
file_has "ldap: negative cache on the second try" "$OUT" "cached negative answer"
is "ldap: the directory was searched once for nobody" 1 \
    "$(grep -c 'SRCH .*filter="(mail=nobody@example.org)"' "$E2E_DIR/slapd.log")"
lookup ldap dave@example.org
is "ldap: certificate for another address refused" 69 "$RC"
file_has "ldap: names the certificate's address" "$OUT" "is for eve@example.org, not dave@example.org"
lookup ldap erin@example.org
is "ldap: certificate without keyEncipherment refused" 69 "$RC"
file_has "ldap: says key usage" "$OUT" "key usage does not allow keyEncipherment"
lookup ldap frank@example.org
file_has "ldap: entry without certificate" "$OUT" "entry has no userCertificate"
lookup ldap ivy@example.org
is "ldap: ivy found (intermediate CA from the entry)" 0 "$RC"
lookup ldap ivy@example.org
file_has "ldap: ivy from the cache, intermediate cached with it" "$OUT" "from: cache \(ldap"
is "ldap: the directory was searched once for ivy" 1 \
    "$(grep -c 'SRCH .*filter="(mail=ivy@example.org)"' "$E2E_DIR/slapd.log")"
lookup ldap gina@example.org
file_has "ldap: untrusted issuer refused" "$OUT" "chain does not verify"

lookup ldaps bob@example.org
is "ldaps: bob found over TLS (server verified against ca_file)" 0 "$RC"
file_has "ldaps: from the ldaps directory" "$OUT" "from: ldap ldaps://127.0.0.1:$LDAPS"
lookup ldapsbad bob@example.org
is "ldaps with a CA that did not sign the server: temporary failure" 75 "$RC"
file_has "ldaps: says the connection failed" "$OUT" "Can't contact LDAP server"

kill -STOP "$SLAPD_PID"
t0=$(date +%s%N)
lookup ldap hank@example.org
t1=$(date +%s%N)
kill -CONT "$SLAPD_PID"
is "ldap slow (slapd stopped): temporary failure" 75 "$RC"
ms=$(((t1 - t0) / 1000000))
ok "ldap slow: gave up near the 2 s timeout (took ${ms} ms < 5000)" test "$ms" -lt 5000
lookup ldapdown bob@example.org
is "ldap down: temporary failure" 75 "$RC"
file_has "ldap down: says the server cannot be contacted" "$OUT" "Can't contact LDAP server"
