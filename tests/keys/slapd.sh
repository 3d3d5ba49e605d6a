#!/bin/sh
# Prepares a private OpenLDAP slapd for the key discovery tests:
#   slapd.sh DIR DATA   writes DIR/slapd.conf (mdb database dc=example,dc=org,
#                       anonymous read) and DIR/entries.ldif with users whose
#                       userCertificate;binary comes from DATA (tests/keys/mkdata.sh).
# The caller starts:  slapd -d 256 -f DIR/slapd.conf -h "ldap://127.0.0.1:PORT/ ldaps://127.0.0.1:PORT2/"
#                     (ldaps with DATA/server.pem, from the test CA)
# and loads:          ldapadd -x -H ldap://127.0.0.1:PORT -D cn=admin,dc=example,dc=org -w secret -f DIR/entries.ldif
set -eu
DIR=$1
DATA=$2
mkdir -p "$DIR/db"
cat >"$DIR/slapd.conf" <<CONF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
TLSCertificateFile $DATA/server.pem
TLSCertificateKeyFile $DATA/server.key
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile $DIR/slapd.pid
database mdb
maxsize 10485760
suffix "dc=example,dc=org"
rootdn "cn=admin,dc=example,dc=org"
rootpw secret
directory $DIR/db
access to * by * read
CONF
b64() { base64 -w0 "$1"; }
{
    printf 'dn: dc=example,dc=org\nobjectClass: dcObject\nobjectClass: organization\no: example\ndc: example\n\n'
    printf 'dn: ou=people,dc=example,dc=org\nobjectClass: organizationalUnit\nou: people\n\n'
    person() { # uid mail [certfile...]
        printf 'dn: uid=%s,ou=people,dc=example,dc=org\nobjectClass: inetOrgPerson\nuid: %s\ncn: %s\nsn: %s\nmail: %s\n' \
            "$1" "$1" "$1" "$1" "$2"
        shift 2
        for c in "$@"; do printf 'userCertificate;binary:: %s\n' "$(b64 "$c")"; done
        printf '\n'
    }
    person bob bob@example.org "$DATA/bob.der"
    person dave dave@example.org "$DATA/bobother.der"
    person erin erin@example.org "$DATA/erinku.der"
    person frank frank@example.org
    person gina gina@example.org "$DATA/ginaevil.der"
    person ivy ivy@example.org "$DATA/ivy.der" "$DATA/interca.der"
} >"$DIR/entries.ldif"
