# tests/e2e/pki.sh: the generated test PKI of the end-to-end harness.
#
# Sourced by lib.sh (or by any shell script: it only defines functions).
# Every file lands under $PKI (default: $E2E_RUN/pki), 0755 dirs, 0644 files
# (test keys: readable by the postfix and nobody users on purpose).
# Each function is idempotent: an existing file is kept, so a whole run shares
# one PKI and a second run reuses it.  Failures print "pki: ..." and return 1.
#
#   pki_init                   the standard set (below); prints nothing
#   pki_ca NAME CN             a CA:              $PKI/NAME.key, NAME.crt
#   pki_cert NAME CN [BITS] [CA] [SAN]
#                              a cert signed by CA (default "ca"), RSA-BITS
#                              (default 2048), SAN default "DNS:CN"
#   pki_selfsigned NAME CN     a self-signed end-entity cert (not a CA)
#   pki_smime ADDR [CA]        an S/MIME user cert for ADDR signed by CA
#                              (default "ca"): emailAddress in the subject,
#                              SAN email:ADDR, EKU emailProtection; files
#                              $PKI/smime/ADDR.key .crt .pem (key+cert)
#                              .p12 (empty password); prints the .crt path
#   pki_fp FILE                SHA-256 certificate fingerprint as Postfix
#                              sends ccert_fingerprint (AA:BB:..., upper case)
#   pki_pubkey_fp FILE         SHA-256 of the SubjectPublicKeyInfo, as
#                              ccert_pubkey_fingerprint
#
# The standard set made by pki_init:
#   ca        "postseal Test CA"            the CA every instance trusts
#   server    CN localhost, SAN DNS:localhost,IP:127.0.0.1 (smtpd of instance 1)
#   server2   CN mx2.example.test, SAN DNS:localhost,IP:127.0.0.1 (a second instance)
#   client    CN client.example.test, signed by ca  (the "pinned" client)
#   client2   CN other.example.test, signed by ca   (valid but not pinned)
#   rogue     CN rogue.example.test, self-signed    (does not verify)
#   weak      CN weak.example.test, RSA-1024, signed by ca
#   otherca   "postseal Other CA", a CA nobody trusts (for untrusted chains)

: "${PKI:=${E2E_RUN:-$PWD/tests/work/e2e}/pki}"

pki__days=3650

pki__key() { # FILE BITS
    [ -s "$1" ] && return 0
    openssl genpkey -algorithm RSA -pkeyopt "rsa_keygen_bits:$2" -out "$1.tmp" 2>/dev/null &&
        mv "$1.tmp" "$1" && chmod 0644 "$1" || {
        echo "pki: cannot create key $1" >&2
        return 1
    }
}

pki__mkdir() {
    mkdir -p "$PKI/smime" && chmod 0755 "$PKI" "$PKI/smime"
}

pki_ca() { # NAME CN
    pki__mkdir || return 1
    [ -s "$PKI/$1.crt" ] && return 0
    pki__key "$PKI/$1.key" 2048 || return 1
    openssl req -new -x509 -key "$PKI/$1.key" -out "$PKI/$1.crt" -days $pki__days \
        -subj "/O=postseal tests/CN=$2" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null || {
        echo "pki: cannot create CA $1" >&2
        return 1
    }
    chmod 0644 "$PKI/$1.crt"
}

pki__sign() { # NAME CA EXTFILE
    openssl x509 -req -in "$PKI/$1.csr" -CA "$PKI/$2.crt" -CAkey "$PKI/$2.key" \
        -CAcreateserial -CAserial "$PKI/$2.srl" -days $pki__days \
        -extfile "$3" -out "$PKI/$1.crt" 2>/dev/null || {
        echo "pki: cannot sign $1 with $2" >&2
        return 1
    }
    rm -f "$PKI/$1.csr" "$3"
    chmod 0644 "$PKI/$1.crt"
}

pki_cert() { # NAME CN [BITS] [CA] [SAN]
    local name=$1 cn=$2 bits=${3:-2048} ca=${4:-ca} san=${5:-DNS:$2} ext
    pki__mkdir || return 1
    if [ -s "$PKI/$name.crt" ]; then
        # the PKI is shared by the whole run: a name used by two tests for
        # two different certificates would hand one of them the wrong one
        openssl x509 -in "$PKI/$name.crt" -noout -subject -nameopt RFC2253 |
            grep -qF "CN=$cn," && return 0
        echo "pki: $PKI/$name.crt exists with another subject than CN=$cn" \
            "(another test uses the name $name): choose another name" >&2
        return 1
    fi
    [ -s "$PKI/$ca.crt" ] || pki_ca "$ca" "postseal $ca" || return 1
    pki__key "$PKI/$name.key" "$bits" || return 1
    openssl req -new -key "$PKI/$name.key" -out "$PKI/$name.csr" \
        -subj "/O=postseal tests/CN=$cn" 2>/dev/null || return 1
    ext=$PKI/$name.ext
    cat >"$ext" <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=$san
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
EOF
    pki__sign "$name" "$ca" "$ext"
}

pki_selfsigned() { # NAME CN
    pki__mkdir || return 1
    [ -s "$PKI/$1.crt" ] && return 0
    pki__key "$PKI/$1.key" 2048 || return 1
    openssl req -new -x509 -key "$PKI/$1.key" -out "$PKI/$1.crt" -days $pki__days \
        -subj "/O=postseal rogue/CN=$2" \
        -addext "basicConstraints=critical,CA:FALSE" \
        -addext "extendedKeyUsage=serverAuth,clientAuth" \
        -addext "subjectAltName=DNS:$2" 2>/dev/null || {
        echo "pki: cannot create self-signed $1" >&2
        return 1
    }
    chmod 0644 "$PKI/$1.crt"
}

pki_smime() { # ADDR [CA]
    local addr=$1 ca=${2:-ca} base ext
    case $addr in
    *@*.* | *@localhost) ;;
    *)
        echo "pki: not an address: $addr" >&2
        return 1
        ;;
    esac
    case $addr in */* | *..*)
        echo "pki: bad address: $addr" >&2
        return 1
        ;;
    esac
    pki__mkdir || return 1
    base=$PKI/smime/$addr
    if [ ! -s "$base.crt" ]; then
        [ -s "$PKI/$ca.crt" ] || pki_ca "$ca" "postseal $ca" || return 1
        pki__key "$base.key" 2048 || return 1
        openssl req -new -key "$base.key" -out "$base.csr" \
            -subj "/O=postseal tests/CN=${addr%@*}/emailAddress=$addr" 2>/dev/null || return 1
        ext=$base.ext
        cat >"$ext" <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment,dataEncipherment
extendedKeyUsage=emailProtection
subjectAltName=email:$addr
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
EOF
        openssl x509 -req -in "$base.csr" -CA "$PKI/$ca.crt" -CAkey "$PKI/$ca.key" \
            -CAcreateserial -CAserial "$PKI/$ca.srl" -days $pki__days \
            -extfile "$ext" -out "$base.crt" 2>/dev/null || {
            echo "pki: cannot sign S/MIME cert for $addr" >&2
            return 1
        }
        rm -f "$base.csr" "$ext"
        cat "$base.key" "$base.crt" >"$base.pem"
        openssl pkcs12 -export -inkey "$base.key" -in "$base.crt" -certfile "$PKI/$ca.crt" \
            -name "$addr" -passout pass: -out "$base.p12" 2>/dev/null || {
            echo "pki: cannot write $base.p12" >&2
            return 1
        }
        chmod 0644 "$base".*
    fi
    echo "$base.crt"
}

pki_fp() { # FILE
    openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/^[^=]*=//' | tr a-f A-F
}

pki_pubkey_fp() { # FILE
    openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -outform DER |
        openssl dgst -sha256 -binary | od -An -v -tx1 | tr -d ' \n' |
        sed 's/../&:/g; s/:$//' | tr a-f A-F
}

pki_init() {
    pki__mkdir || return 1
    if command -v flock >/dev/null 2>&1; then
        (
            flock 9
            pki__standard
        ) 9>"$PKI/.lock"
    else
        pki__standard
    fi
}

pki__standard() {
    pki_ca ca "postseal Test CA" &&
        pki_cert server localhost 2048 ca "DNS:localhost,IP:127.0.0.1" &&
        pki_cert server2 mx2.example.test 2048 ca "DNS:mx2.example.test,DNS:localhost,IP:127.0.0.1" &&
        pki_cert client client.example.test &&
        pki_cert client2 other.example.test &&
        pki_selfsigned rogue rogue.example.test &&
        pki_cert weak weak.example.test 1024 &&
        pki_ca otherca "postseal Other CA"
}
