# ec_key_decoding.sh: `ec_key_decoding: builtin` (the default) and
# `provider` give the same answers. Two servers, one per mode, the same
# stores and certificates; curl presents client certificates whose keys are
# ECDSA P-256, P-384, P-521, P-256 with a compressed point, P-256 with
# explicit curve parameters, RSA-2048 and Ed25519 (each sent with the
# issuing CA, so both keys are decoded from the wire), over TLS 1.3 and 1.2
# and with a P-256 key exchange (EC keys made through the same methods).
# The certificate-info page (JSON: verdict, path, thumbprints) and the
# status must be identical, and what is well-formed is accepted;
# `certgate verify --ec-key-decoding builtin|provider` must agree too.
source "$(dirname "$0")/lib.sh"

P="$T/pki"
S="$T/stores"
cg_pki "$P" a.test
mkdir -p "$T/www"
printf 'members-only\n' >"$T/www/index.html"
"$CERTGATE" pki issue --profile intermediate --cn "EC Issuing CA" --issuer "$P/ca.pem" \
    --issuer-key "$P/ca.key" --out "$P/int.pem" --key-out "$P/int.key" >/dev/null
"$CERTGATE" store import --stores "$S" "$P/ca.pem" >/dev/null

cat >"$P/client.ext" <<'EOF'
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
# client NAME GENPKEY-ARGS...: NAME.key, and NAME.pem (leaf + issuing CA).
# An existing NAME.key is kept; PUBKEY=FILE: the certificate carries that
# encoding of the key instead of OpenSSL's default one.
client() {
    local n=$1; shift
    [ -f "$P/$n.key" ] || openssl genpkey "$@" -out "$P/$n.key" 2>/dev/null
    openssl req -new -key "$P/$n.key" -subj "/CN=$n" -out "$P/$n.csr"
    openssl x509 -req -in "$P/$n.csr" -CA "$P/int.pem" -CAkey "$P/int.key" \
        -set_serial "0x$(openssl rand -hex 8)" -days 30 -sha256 -extfile "$P/client.ext" \
        ${PUBKEY:+-force_pubkey "$PUBKEY"} -out "$P/$n.leaf.pem" 2>/dev/null
    cat "$P/$n.leaf.pem" "$P/int.pem" >"$P/$n.pem"
}
EC=(-algorithm EC -pkeyopt ec_param_enc:named_curve)
client p256 "${EC[@]}" -pkeyopt ec_paramgen_curve:P-256
client p384 "${EC[@]}" -pkeyopt ec_paramgen_curve:P-384
client p521 "${EC[@]}" -pkeyopt ec_paramgen_curve:P-521
openssl genpkey "${EC[@]}" -pkeyopt ec_paramgen_curve:P-256 -out "$P/compressed.key"
openssl ec -in "$P/compressed.key" -conv_form compressed -pubout -out "$P/compressed.pub" 2>/dev/null
PUBKEY="$P/compressed.pub" client compressed
client explicit -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -pkeyopt ec_param_enc:explicit
client rsa -algorithm RSA -pkeyopt rsa_keygen_bits:2048
client ed25519 -algorithm ED25519

# The certificates are what their names say (a 33-byte point is compressed;
# explicit parameters replace the curve's name).
cg_match "compressed point in the certificate" 'l= *34 prim: BIT STRING' \
    "$(openssl asn1parse -in "$P/compressed.leaf.pem" | grep 'BIT STRING' | head -1 | tr -s ' ')"
cg_match "explicit parameters in the certificate" 'prime-field' \
    "$(openssl asn1parse -in "$P/explicit.leaf.pem")"

for mode in builtin provider; do
    cat >"$T/$mode.yaml" <<EOF
workers: 1
stores: $S
ec_key_decoding: $mode
access_log: { path: $T/$mode.access.log, format: w3c }
error_log: { path: $T/$mode.error.log, level: info }
sites:
  - name: main
    hostnames: [a.test]
    root: $T/www
    client_certificates: require
    locations:
      - { path: /whoami, client_certificates: accept, handler: certificate-info }
    bindings:
      - { listen: "127.0.0.1:0", tls: true, certificate: $P/a.test.pem, key: $P/a.test.key }
EOF
    cg_start "$mode" "$T/$mode.yaml"
done
printed() {
    "$CERTGATE" config check --print "$1" 2>&1 |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["ec_key_decoding"])' 2>&1
}
cg_check "config check --print: the mode set" provider "$(printed "$T/provider.yaml")"
sed "/^ec_key_decoding:/d" "$T/builtin.yaml" >"$T/default.yaml"
cg_check "config check --print: the default" builtin "$(printed "$T/default.yaml")"
BP=$(cg_port builtin 127.0.0.1:0)
PP=$(cg_port provider 127.0.0.1:0)

# ask MODE NAME TLS [curl args]: "STATUS" of GET /, and the /whoami JSON in
# $T/MODE.NAME.TLS.json.
ask() {
    local mode=$1 n=$2 tls=$3 port; shift 3
    [ "$mode" = builtin ] && port=$BP || port=$PP
    cg_curl_tls a.test "$port" --tlsv$tls --tls-max $tls --cert "$P/$n.pem" --key "$P/$n.key" \
        -H 'Accept: application/json' "$@" -o "$T/$mode.$n.$tls.json" "https://a.test:$port/whoami" \
        >/dev/null 2>"$T/curl.err" || { echo "curl failed: $(cat "$T/curl.err")"; return 0; }
    cg_curl_tls a.test "$port" --tlsv$tls --tls-max $tls --cert "$P/$n.pem" --key "$P/$n.key" \
        "$@" -o /dev/null -w '%{http_code}' "https://a.test:$port/" 2>"$T/curl.err" ||
        echo "curl failed: $(cat "$T/curl.err")"
}

for n in p256 p384 p521 compressed explicit rsa ed25519; do
    for tls in 1.3 1.2; do
        # Not offered over TLS 1.2: Ed25519 by curl; a P-521 certificate by
        # the server, whose groups (X25519, P-256, P-384) it is not on.
        [ "$tls" = 1.2 ] && { [ "$n" = ed25519 ] || [ "$n" = p521 ]; } && continue
        want=200
        [ "$n" = explicit ] && want=403
        b=$(ask builtin $n $tls)
        p=$(ask provider $n $tls)
        cg_check "$n TLS $tls: builtin status" "$want" "$b"
        cg_check "$n TLS $tls: provider status" "$want" "$p"
        cg_check "$n TLS $tls: the same certificate-info page" \
            "$(cat "$T/provider.$n.$tls.json")" "$(cat "$T/builtin.$n.$tls.json")"
    done
done
cg_match "explicit parameters: the reason" 'explicit parameters' "$(cat "$T/builtin.explicit.1.3.json")"
cg_match "p521 accepted: the page says ok" '"ok"' "$(cat "$T/builtin.p521.1.3.json")"

cg_log "a P-256 key exchange (EC keys generated and derived through the selected methods)"
for mode in builtin provider; do
    cg_check "$mode: P-256 group, TLS 1.3" 200 "$(ask $mode p256 1.3 --curves P-256)"
    cg_check "$mode: P-384 group, TLS 1.3" 200 "$(ask $mode p384 1.3 --curves P-384)"
    cg_check "$mode: P-256 group, TLS 1.2" 200 "$(ask $mode p256 1.2 --curves P-256)"
done

cg_log "certgate verify agrees with itself in both modes"
for n in p256 p384 p521 compressed explicit rsa ed25519; do
    for mode in builtin provider; do
        st=0
        "$CERTGATE" verify "$P/$n.pem" --stores "$S" --json --ec-key-decoding $mode \
            >"$T/verify.$n.$mode.json" 2>&1 || st=$?
        echo "exit $st" >>"$T/verify.$n.$mode.json"
    done
    cg_check "verify $n: the same verdict" "$(cat "$T/verify.$n.provider.json")" \
        "$(cat "$T/verify.$n.builtin.json")"
done
cg_match "verify p384: accepted" 'exit 0' "$(cat "$T/verify.p384.builtin.json")"
cg_match "verify explicit: refused" 'exit 1' "$(cat "$T/verify.explicit.builtin.json")"
cg_match "verify: a bad mode is a usage error" "ec-key-decoding 'legacy': expected builtin or provider" \
    "$("$CERTGATE" verify "$P/p256.pem" --stores "$S" --ec-key-decoding legacy 2>&1 || true)"

cg_log "a bad value in the config names the file and the key"
sed 's/ec_key_decoding: provider/ec_key_decoding: legacy/' "$T/provider.yaml" >"$T/bad.yaml"
cg_match "bad ec_key_decoding" 'bad\.yaml:[0-9]+:[0-9]+: .*ec_key_decoding.*builtin.*provider' \
    "$("$CERTGATE" config check "$T/bad.yaml" 2>&1 || true)"

cg_log "a reload that changes the mode warns: restart to apply"
cp "$T/builtin.yaml" "$T/builtin.yaml.orig"
sed -i 's/ec_key_decoding: builtin/ec_key_decoding: provider/' "$T/builtin.yaml"
kill -HUP "$CG_PID_builtin"
cg_waitlog "$T/builtin.error.log" 'ec_key_decoding changed from builtin to provider: restart to apply' ||
    cg_fail "no reload warning: $(cat "$T/builtin.error.log")"
cg_check "still served after the reload" 200 "$(ask builtin p256 1.3)"

for mode in builtin provider; do cg_stop "$mode"; done
cg_done
