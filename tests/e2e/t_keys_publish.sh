#!/bin/bash
# postseal-keys end to end, gateway to gateway: gateway B publishes its keys
# (`postseal-keys wkd` into a tree served by Debian's nginx over HTTPS with
# the shipped contrib/web/nginx-wkd-location.conf; `postseal-keys ldif`
# loaded with ldapadd into a real slapd), gateway A's key discovery
# (`postseal-filter --lookup` with [keys] methods = wkd / ldap) finds them:
# personal keys by the advanced and the direct method with only the
# address's user ID, the domain gateway key, S/MIME certificates with their
# intermediate.  A revoked key is not served; revoking a key and publishing
# again takes it off the running server (atomic swap, no temp dirs left).
. "$(dirname "$0")/lib.sh"

need_prog "$POSTSEAL_FILTER"
# postseal-keys runs as the operator (root here), never as nobody: no copy needed
if [ "${SANITIZE:-}" = 1 ]; then
    KEYS=${POSTSEAL_KEYS:-$E2E_ROOT/build-san/bin/postseal-keys}
else
    KEYS=${POSTSEAL_KEYS:-$E2E_ROOT/filter/postseal-keys}
fi
need_prog "$KEYS"
for p in nginx slapd ldapadd ldapsearch gpg curl python3 /usr/lib/gnupg/gpg-wks-client; do
    command -v "$p" >/dev/null 2>&1 || e2e_die "missing $p (tests/deps.d/publish.txt)"
done
DATA=$E2E_RUN/publish-data
sh "$E2E_ROOT/tests/unit/fixtures/publish.sh" "$DATA" >"$E2E_DIR/fixtures.log" 2>&1 ||
    e2e_die "cannot make test keys: $(tail -n 3 "$E2E_DIR/fixtures.log")"
HTTPS=$(e2e_port 60)
LDAPP=$(e2e_port 61)

# --- gateway B: its own GnuPG home (a copy: this test revokes a key in it)
cp -a "$DATA/gnupg" "$E2E_DIR/b.gnupg" || e2e_die "cannot copy the GnuPG home"
GW=$(cat "$DATA/gw.fpr")
BOB=$(cat "$DATA/bob.fpr")
WKD=$E2E_DIR/wkd
B_INI=$E2E_DIR/b.ini
cat >"$B_INI" <<INI
[inbound]
gnupg_home = $E2E_DIR/b.gnupg

[publish]
domains = b.test
gateway_key = $GW
wkd_dir = $WKD
ldif_file = $E2E_DIR/b.ldif
ldif_base = ou=people,dc=b,dc=test
smime_certs = $DATA/smime
INI
"$KEYS" -c "$B_INI" --check >"$E2E_DIR/check.out" 2>&1
is "postseal-keys --check exits 0" 0 "$?"
file_has "--check: configuration OK" "$E2E_DIR/check.out" "^configuration OK"
"$KEYS" -v -c "$B_INI" wkd >"$E2E_DIR/wkd.out" 2>&1
is "postseal-keys wkd exits 0" 0 "$?"
file_has "revoked key skipped with its reason" "$E2E_DIR/wkd.out" \
    "skipped key $(cat "$DATA/carol.fpr") for carol@b.test: key is revoked"
file_has "summary" "$E2E_DIR/wkd.out" "wkd: 6 address\(es\), 7 key\(s\), 1 domain\(s\)"
is "no temporary trees next to the export" 0 "$(ls -a "$E2E_DIR" | grep -c '^\.wkd\.')"

# --- served by nginx over HTTPS, both host names (certificate from the test PKI)
pki_cert wkd-b openpgpkey.b.test 2048 ca "DNS:openpgpkey.b.test,DNS:b.test" ||
    e2e_die "cannot make the web server certificate"
nginx_start web "$WKD" "$HTTPS" wkd-b "$E2E_ROOT/contrib/web/nginx-wkd-location.conf" ||
    e2e_die "nginx did not start"
ACCESS=$E2E_DIR/web.nginx/access.log
hash() { /usr/lib/gnupg/gpg-wks-client --print-wkd-hash "$1" | cut -d' ' -f1; }
get() { # URL OUTFILE: prints the HTTP status
    curl -s -o "$2" -w '%{http_code}' --cacert "$PKI/ca.crt" \
        --connect-to "openpgpkey.b.test:443:127.0.0.1:$HTTPS" \
        --connect-to "b.test:443:127.0.0.1:$HTTPS" -D "$2.headers" "$1"
}
ADV=https://openpgpkey.b.test/.well-known/openpgpkey/b.test
is "advanced URL (gpg-wks-client's hash) serves bob's key" 200 \
    "$(get "$ADV/hu/$(hash bob@b.test)?l=bob" "$E2E_DIR/bob.adv")"
is "direct URL serves the same bytes" 200 \
    "$(get "https://b.test/.well-known/openpgpkey/hu/$(hash bob@b.test)?l=bob" "$E2E_DIR/bob.dir")"
ok "advanced and direct identical" cmp "$E2E_DIR/bob.adv" "$E2E_DIR/bob.dir"
file_has "Content-Type application/octet-stream" "$E2E_DIR/bob.adv.headers" \
    "^[Cc]ontent-[Tt]ype: application/octet-stream"
file_has "Access-Control-Allow-Origin: *" "$E2E_DIR/bob.adv.headers" \
    "^[Aa]ccess-[Cc]ontrol-[Aa]llow-[Oo]rigin: \*"
is "policy file (advanced)" 200 "$(get "$ADV/policy" "$E2E_DIR/policy")"
is "policy file (direct)" 200 "$(get "https://b.test/.well-known/openpgpkey/policy" "$E2E_DIR/policy2")"
is "served key: only bob@b.test's user ID (gpg --show-keys)" "Bob <bob@b.test>" \
    "$(gpg --show-keys --with-colons "$E2E_DIR/bob.adv" 2>/dev/null | awk -F: '$1=="uid"{print $10}')"
is "served key: bob's fingerprint" "$BOB" \
    "$(gpg --show-keys --with-colons "$E2E_DIR/bob.adv" 2>/dev/null | awk -F: '$1=="fpr"{print $10; exit}')"
is "served key: no secret key packet" 0 \
    "$(gpg --list-packets "$E2E_DIR/bob.adv" 2>/dev/null | grep -ci 'secret')"
is "revoked carol: 404" 404 "$(get "$ADV/hu/$(hash carol@b.test)" "$E2E_DIR/carol")"
is "expired old: 404" 404 "$(get "$ADV/hu/$(hash old@b.test)" "$E2E_DIR/old")"
is "no directory listing" 404 "$(get "$ADV/hu/" "$E2E_DIR/list")"
is "POST refused" 403 "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$PKI/ca.crt" \
    --connect-to "openpgpkey.b.test:443:127.0.0.1:$HTTPS" -X POST "$ADV/policy")"

# --- gateway A looks B's keys up, as its filter would
conf() { # NAME [keys] lines...
    local n=$1
    shift
    rm -rf "$E2E_DIR/$n.gnupg" "$E2E_DIR/$n.mdb"*
    mkdir -p "$E2E_DIR/$n.gnupg" && chmod 700 "$E2E_DIR/$n.gnupg"
    {
        printf '[filter]\ngnupg_home = %s\n\n[keys]\n' "$E2E_DIR/$n.gnupg"
        printf 'cache_file = %s\nca_file = %s\ntimeout = 3s\n' "$E2E_DIR/$n.mdb" "$PKI/ca.crt"
        printf '%s\n' "$@"
    } >"$E2E_DIR/$n.ini"
}
OUT=$E2E_DIR/out
lookup() { # CONF ADDR
    "$POSTSEAL_FILTER" -c "$E2E_DIR/$1.ini" --lookup "$2" >"$OUT" 2>&1
    RC=$?
    cp "$OUT" "$E2E_DIR/out.$1.$2"
}
uids_in() {
    gpg --homedir "$E2E_DIR/$1.gnupg" --batch --with-colons --list-keys 2>/dev/null |
        awk -F: '$1=="uid"{print $10}'
}

conf a "methods = wkd" "gateway_localpart = openpgp-gateway" \
    "connect_to = openpgpkey.b.test:443:127.0.0.1:$HTTPS" "connect_to = b.test:443:127.0.0.1:$HTTPS"
lookup a bob@b.test
is "A finds bob@b.test by WKD (exit 0)" 0 "$RC"
file_has "A: bob's fingerprint" "$OUT" "found OpenPGP key $BOB"
file_has "A: from the advanced URL" "$OUT" "from: $ADV/hu/$(hash bob@b.test)"
is "A's keyring: bob's key with only his user ID" "Bob <bob@b.test>" "$(uids_in a)"
# what A encrypts to the discovered key, B decrypts with its own secret key
echo "from A to B $$" >"$E2E_DIR/plain"
gpg --homedir "$E2E_DIR/a.gnupg" --batch --trust-model always -o "$E2E_DIR/msg.gpg" \
    -r bob@b.test -e "$E2E_DIR/plain" >/dev/null 2>&1
is "A encrypts to the discovered key" 0 "$?"
gpg --homedir "$E2E_DIR/b.gnupg" --batch --pinentry-mode loopback --passphrase '' \
    -o "$E2E_DIR/plain.out" -d "$E2E_DIR/msg.gpg" >/dev/null 2>&1
is "B decrypts it with its secret key" 0 "$?"
ok "plaintext identical" cmp "$E2E_DIR/plain" "$E2E_DIR/plain.out"
lookup a Bob@B.test
is "mixed-case address finds the same key" 0 "$RC"
lookup a henry@b.test
is "user ID Henry@B.Test found as henry@b.test" 0 "$RC"
lookup a gina@b.test
is "A finds gina (two keys published)" 0 "$RC"
lookup a nobody@b.test
is "no personal key: the gateway key (exit 0)" 0 "$RC"
file_has "A: the domain gateway key of <openpgp-gateway@b.test>" "$OUT" \
    "found OpenPGP key $GW.*domain gateway key of <openpgp-gateway@b.test>"
is "gateway key in A's keyring with the gateway user ID" 1 \
    "$(uids_in a | grep -c 'openpgp-gateway@b.test')"
is "the gateway key's other user ID did not travel" 0 "$(uids_in a | grep -c 'gw-admin')"
lookup a carol@b.test
file_lacks "revoked carol's key is not found" "$OUT" "found OpenPGP key $(cat "$DATA/carol.fpr")"
file_has "carol gets the domain gateway key instead" "$OUT" "found OpenPGP key $GW"

# direct method: openpgpkey.b.test does not resolve for this lookup
conf direct "methods = wkd" "connect_to = b.test:443:127.0.0.1:$HTTPS"
lookup direct erin2@b.test
is "direct method finds erin2@b.test" 0 "$RC"
file_has "from the direct URL" "$OUT" "from: https://b.test/.well-known/openpgpkey/hu/$(hash erin2@b.test)"
is "served through the direct host name" 1 \
    "$(grep -c "^b.test /.well-known/openpgpkey/hu/$(hash erin2@b.test)?l=erin2 200" "$ACCESS")"

# --- the shipped full nginx example (contrib/web/nginx-wkd.conf: names, port,
# certificate and paths replaced) in an nginx of its own
NPORT=$(e2e_port 63)
N=$E2E_DIR/nginx-full
mkdir -p "$N/tmp"
{
    printf 'daemon off;\nworker_processes 1;\npid %s/nginx.pid;\nerror_log %s/error.log;\n' "$N" "$N"
    printf 'events { worker_connections 64; }\nhttp {\n    access_log %s/access.log;\n' "$N"
    printf '    client_body_temp_path %s/tmp/b;\n    proxy_temp_path %s/tmp/p;\n' "$N" "$N"
    printf '    fastcgi_temp_path %s/tmp/f;\n    uwsgi_temp_path %s/tmp/u;\n' "$N" "$N"
    printf '    scgi_temp_path %s/tmp/s;\n' "$N"
    sed -e "s|/var/lib/postseal/wkd|$WKD|g" -e "s|listen 443 ssl;|listen 127.0.0.1:$NPORT ssl;|" \
        -e "/listen \[::\]:443 ssl;/d" -e "s|openpgpkey.example.org example.org|openpgpkey.b.test b.test|" \
        -e "s|/etc/ssl/certs/wkd.example.org.pem|$PKI/wkd-b.crt|" \
        -e "s|/etc/ssl/private/wkd.example.org.key|$PKI/wkd-b.key|" \
        -e "s|/etc/nginx/snippets/postseal-wkd.conf|$E2E_ROOT/contrib/web/nginx-wkd-location.conf|" \
        "$E2E_ROOT/contrib/web/nginx-wkd.conf"
    printf '}\n'
} >"$N/nginx.conf"
nginx -t -p "$N" -c "$N/nginx.conf" >"$N/t.out" 2>&1
is "nginx -t accepts the shipped example" 0 "$?"
if daemon_start nginxfull "inet:$NPORT" nginx -p "$N" -c "$N/nginx.conf"; then
    nget() {
        curl -s -o "$2" -w '%{http_code}' --cacert "$PKI/ca.crt" \
            --connect-to "openpgpkey.b.test:443:127.0.0.1:$NPORT" \
            --connect-to "b.test:443:127.0.0.1:$NPORT" "$1"
    }
    is "example config: advanced URL" 200 "$(nget "$ADV/hu/$(hash bob@b.test)?l=bob" "$N/bob")"
    ok "example config: same bytes" cmp "$E2E_DIR/bob.adv" "$N/bob"
    is "example config: direct URL" 200 \
        "$(nget "https://b.test/.well-known/openpgpkey/hu/$(hash bob@b.test)" "$N/bob2")"
    is "example config: nothing else served" 404 "$(nget "https://b.test/" "$N/root")"
    daemon_stop nginxfull
else
    fail "nginx with the shipped example did not start" "$(tail -n 3 "$N/error.log")"
fi

# --- the shipped Apache virtual host (contrib/web/apache-wkd.conf, names,
# port and certificate replaced) serves the same tree
if command -v apache2 >/dev/null 2>&1 && [ -f /usr/lib/apache2/modules/mod_vhost_alias.so ]; then
    APORT=$(e2e_port 62)
    mkdir -p "$E2E_DIR/apache"
    M=/usr/lib/apache2/modules
    {
        printf 'ServerRoot %s\nServerName localhost\nPidFile %s\nErrorLog %s\n' \
            "$E2E_DIR/apache" "$E2E_DIR/apache/httpd.pid" "$E2E_DIR/apache/error.log"
        printf 'TypesConfig /dev/null\nUser nobody\nGroup nogroup\nListen 127.0.0.1:%s\n' "$APORT"
        for m in mpm_event authz_core mime headers ssl socache_shmcb vhost_alias alias; do
            printf 'LoadModule %s_module %s/mod_%s.so\n' "$m" "$M" "$m"
        done
        printf 'LogFormat "%%{Host}i %%U%%q %%>s" hostlog\nCustomLog %s hostlog\n' \
            "$E2E_DIR/apache/access.log"
        sed -e "s|/var/lib/postseal/wkd|$WKD|g" -e "s|\*:443|127.0.0.1:$APORT|" \
            -e "s|/etc/ssl/certs/wkd.example.org.pem|$PKI/wkd-b.crt|" \
            -e "s|/etc/ssl/private/wkd.example.org.key|$PKI/wkd-b.key|" \
            -e "s|ServerName openpgpkey.example.org|ServerName openpgpkey.b.test|" \
            -e "s|ServerAlias example.org|ServerAlias b.test|" "$E2E_ROOT/contrib/web/apache-wkd.conf"
    } >"$E2E_DIR/apache/httpd.conf"
    if daemon_start apache "inet:$APORT" apache2 -f "$E2E_DIR/apache/httpd.conf" -DFOREGROUND; then
        aget() { # URL OUTFILE
            curl -s -o "$2" -w '%{http_code}' --cacert "$PKI/ca.crt" \
                --connect-to "openpgpkey.b.test:443:127.0.0.1:$APORT" \
                --connect-to "b.test:443:127.0.0.1:$APORT" -D "$2.headers" "$1"
        }
        is "apache: advanced URL" 200 "$(aget "$ADV/hu/$(hash bob@b.test)?l=bob" "$E2E_DIR/bob.apache")"
        ok "apache: same bytes as nginx" cmp "$E2E_DIR/bob.adv" "$E2E_DIR/bob.apache"
        is "apache: direct URL" 200 \
            "$(aget "https://b.test/.well-known/openpgpkey/hu/$(hash bob@b.test)?l=bob" "$E2E_DIR/bob.apache2")"
        file_has "apache: Content-Type application/octet-stream" "$E2E_DIR/bob.apache.headers" \
            "^[Cc]ontent-[Tt]ype: application/octet-stream"
        file_has "apache: Access-Control-Allow-Origin: *" "$E2E_DIR/bob.apache.headers" \
            "^[Aa]ccess-[Cc]ontrol-[Aa]llow-[Oo]rigin: \*"
        is "apache: revoked carol 404" 404 "$(aget "$ADV/hu/$(hash carol@b.test)" "$E2E_DIR/carol.apache")"
        is "apache: nothing outside /.well-known/openpgpkey/" 403 \
            "$(aget "https://b.test/.well-known/../index.html" "$E2E_DIR/other.apache")"
        conf ap "methods = wkd" "connect_to = openpgpkey.b.test:443:127.0.0.1:$APORT"
        lookup ap bob@b.test
        is "A finds bob through Apache" 0 "$RC"
        daemon_stop apache
    else
        fail "apache did not start" "$(tail -n 3 "$E2E_DIR/apache/error.log" 2>/dev/null)"
    fi
else
    e2e_log "apache2 not installed: the Apache snippet is not exercised (tests/deps.d/publish.txt)"
fi

# --- B revokes bob's key and publishes again while nginx serves
sed 's/^://' "$E2E_DIR/b.gnupg/openpgp-revocs.d/$BOB.rev" |
    gpg --homedir "$E2E_DIR/b.gnupg" --batch --import >/dev/null 2>&1
ino1=$(stat -c %i "$WKD")
"$KEYS" -c "$B_INI" wkd >"$E2E_DIR/wkd2.out" 2>&1
is "republish exits 0" 0 "$?"
file_has "bob now skipped: revoked" "$E2E_DIR/wkd2.out" "skipped key $BOB for bob@b.test: key is revoked"
isnt "a new tree was swapped in" "$ino1" "$(stat -c %i "$WKD")"
is "no temporary trees left" 0 "$(ls -a "$E2E_DIR" | grep -c '^\.wkd\.')"
is "nginx: bob's key is gone (404)" 404 "$(get "$ADV/hu/$(hash bob@b.test)" "$E2E_DIR/bob2")"
is "nginx: the gateway key still served" 200 "$(get "$ADV/hu/$(hash openpgp-gateway@b.test)" "$E2E_DIR/gw2")"
conf a2 "methods = wkd" "connect_to = openpgpkey.b.test:443:127.0.0.1:$HTTPS"
lookup a2 bob@b.test
is "a fresh lookup no longer finds bob (69)" 69 "$RC"

# --- the gateway key without its user ID: a clear error, the tree stays
sed -i "s/^gateway_key = .*/gateway_key = $(cat "$DATA/erin.fpr")/" "$B_INI"
"$KEYS" -c "$B_INI" wkd >"$E2E_DIR/wkd3.out" 2>&1
is "gateway key lacking openpgp-gateway@b.test: exit 1" 1 "$?"
file_has "names the key and the fix" "$E2E_DIR/wkd3.out" \
    "gpg --homedir $E2E_DIR/b.gnupg --quick-add-uid $(cat "$DATA/erin.fpr") openpgp-gateway@b.test"
is "the served tree is unchanged" 200 "$(get "$ADV/hu/$(hash openpgp-gateway@b.test)" "$E2E_DIR/gw3")"

# --- S/MIME: LDIF into a real slapd, found by A's LDAP lookup
"$KEYS" -v -c "$B_INI" ldif >"$E2E_DIR/ldif.out" 2>&1
is "postseal-keys ldif exits 0" 0 "$?"
file_has "withkey.pem skipped (private key)" "$E2E_DIR/ldif.out" \
    "skipped $DATA/smime/withkey.pem: it holds a private key"
file_has "expired certificate skipped" "$E2E_DIR/ldif.out" "for expired@b.test: expired"
file_lacks "no private key in the LDIF" "$E2E_DIR/b.ldif" "PRIVATE"
slapd_start slapd b "$LDAPP" || e2e_die "slapd did not start"
LDAPADD=$SLAPD_ADD
$LDAPADD -f "$E2E_DIR/b.ldif" >"$E2E_DIR/ldapadd.log" 2>&1
is "ldapadd loads the LDIF" 0 "$?"
is "four entries added" 4 "$(grep -c '^adding new entry' "$E2E_DIR/ldapadd.log")"
is "ldapsearch: ivy's entry has two certificates" 2 \
    "$(ldapsearch -x -LLL -o ldif-wrap=no -H "ldap://127.0.0.1:$LDAPP" -b ou=people,dc=b,dc=test \
        '(mail=ivy@b.test)' 'userCertificate;binary' | grep -c '^userCertificate;binary::')"
conf l "methods = ldap" "smime_ca_file = $DATA/smime/ca.pem" "" \
    "[keys ldap b]" "uri = ldap://127.0.0.1:$LDAPP" "base = ou=people,dc=b,dc=test"
lookup l alice@b.test
is "A finds alice's certificate in LDAP (exit 0)" 0 "$RC"
file_has "A: S/MIME certificate for Alice" "$OUT" "found S/MIME certificate.*Alice"
lookup l ivy@b.test
is "ivy: found through the intermediate from her entry" 0 "$RC"
lookup l subj@b.test
is "subj (subject emailAddress only) found" 0 "$RC"
lookup l a+tag@b.test
is "a+tag@b.test found (RFC 4514 escaped DN, RFC 4515 escaped filter)" 0 "$RC"
lookup l expired@b.test
is "expired certificate not published: not found" 69 "$RC"
lookup l keyed@b.test
is "the file with a private key was not published" 69 "$RC"
