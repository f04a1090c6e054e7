#!/usr/bin/env bash
# `certgate pki issue|crl|demo`: what it writes is checked with the openssl
# command line, exit codes and messages of bad input are asserted.
set -u
: "${CERTGATE:?CERTGATE must point at the certgate binary}"
T="${CG_TMPDIR:-/tmp}/pki_cli.$$"
rm -rf "$T"
mkdir -p "$T"
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
failures=0

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }

# run WANT_RC NAME CMD...: runs CMD, keeps stdout/stderr in $T/out, $T/err.
run() {
    local want=$1 name=$2 rc
    shift 2
    "$@" >"$T/out" 2>"$T/err"
    rc=$?
    if [ "$rc" = "$want" ]; then ok "$name (exit $rc)"; else
        fail "$name: exit $rc, expected $want; stderr: $(head -c 400 "$T/err")"
    fi
}
# has FILE REGEX NAME: FILE must match REGEX.
has() {
    if grep -Eq -- "$2" "$1"; then ok "$3"; else fail "$3: /$2/ not in $(head -c 400 "$1")"; fi
}

C="$CERTGATE"

# ---- help and usage -------------------------------------------------------
run 0 "pki --help" "$C" pki --help
has "$T/out" "demo DIR" "pki --help lists demo"
run 0 "pki issue --help" "$C" pki issue --help
has "$T/out" "--not-after" "issue --help documents --not-after"
run 0 "pki crl --help" "$C" pki crl --help
has "$T/out" "--revoke-serial" "crl --help documents --revoke-serial"
run 2 "pki without a command" "$C" pki
run 2 "pki unknown command" "$C" pki frobnicate
has "$T/err" "unknown command 'frobnicate'" "unknown command named"

# ---- a chain, checked by openssl -----------------------------------------
run 0 "issue root" "$C" pki issue --profile root --cn "E2E Root" --org "certgate tests" \
    --out root.pem --key-out root.key
has "$T/out" "sha256: [0-9a-f]{64}" "issue prints the thumbprint"
want=$(openssl x509 -in root.pem -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr A-F a-f)
has "$T/out" "sha256: $want" "printed thumbprint is openssl's SHA-256 fingerprint"
[ "$(stat -c %a root.key)" = 600 ] && ok "key file is 0600" || fail "key mode $(stat -c %a root.key)"
openssl x509 -in root.pem -noout -text >root.txt
has root.txt "CA:TRUE" "root is a CA"
has root.txt "Certificate Sign, CRL Sign" "root key usage"
has root.txt "ecdsa-with-SHA256" "root signed with ECDSA SHA-256"

run 0 "issue intermediate" "$C" pki issue --profile intermediate --cn "E2E Intermediate" \
    --issuer root.pem --issuer-key root.key --path-len 0 --out inter.pem --key-out inter.key \
    --crl-url http://crl.test/root.crl
openssl x509 -in inter.pem -noout -text >inter.txt
has inter.txt "CA:TRUE, pathlen:0" "intermediate path length"
has inter.txt "URI:http://crl.test/root.crl" "intermediate CRL distribution point"

run 0 "issue client" "$C" pki issue --profile client --cn alice --issuer inter.pem \
    --issuer-key inter.key --out alice.pem --key-out alice.key --chain \
    --ocsp-url http://ocsp.test/ --p12 alice.p12
[ "$(grep -c 'BEGIN CERTIFICATE' alice.pem)" = 2 ] && ok "--chain appends the issuer" ||
    fail "--chain: $(grep -c 'BEGIN CERTIFICATE' alice.pem) certs"
openssl x509 -in alice.pem -noout -text >alice.txt
has alice.txt "TLS Web Client Authentication" "client EKU"
has alice.txt "OCSP - URI:http://ocsp.test/" "client OCSP URL"
if openssl verify -CAfile root.pem -untrusted inter.pem -purpose sslclient alice.pem >/dev/null 2>&1; then
    ok "openssl verifies the client chain"
else fail "openssl rejects the client chain"; fi
if openssl pkcs12 -in alice.p12 -passin pass: -nokeys 2>/dev/null | grep -q "subject=CN = alice"; then
    ok "p12 with empty password opens"
else fail "p12 does not open"; fi

run 0 "issue RSA server" "$C" pki issue --profile server --cn localhost --dns localhost \
    --dns www.test --ip 127.0.0.1 --ip ::1 --key-type rsa --issuer inter.pem \
    --issuer-key inter.key --out server.pem --key-out server.key
openssl x509 -in server.pem -noout -text >server.txt
has server.txt "Public-Key: \(2048 bit\)" "RSA-2048 key"
has server.txt "DNS:localhost, DNS:www.test, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1" "server SANs"
has server.txt "TLS Web Server Authentication" "server EKU"
has server.txt "Key Encipherment" "RSA server keyEncipherment"

run 0 "issue with explicit validity and serial" "$C" pki issue --profile client --cn old \
    --issuer inter.pem --issuer-key inter.key --not-before 2020-01-01 \
    --not-after 2020-06-01T00:00:00Z --serial 0xC0FFEE --eku clientAuth,serverAuth \
    --out old.pem --key-out old.key
has <(openssl x509 -in old.pem -noout -dates -serial) "notBefore=Jan  1 00:00:00 2020 GMT" "not before"
has <(openssl x509 -in old.pem -noout -dates -serial) "serial=C0FFEE" "serial"
if openssl verify -CAfile root.pem -untrusted inter.pem old.pem 2>&1 | grep -q "expired"; then
    ok "an old certificate is expired to openssl"
else fail "old certificate not expired"; fi

run 0 "issue relative validity" "$C" pki issue --profile client --cn soon --issuer inter.pem \
    --issuer-key inter.key --not-before +10d --not-after +40d --eku none \
    --out soon.pem --key-out soon.key
if openssl verify -CAfile root.pem -untrusted inter.pem soon.pem 2>&1 | grep -q "not yet valid"; then
    ok "+10d is in the future"
else fail "+10d not in the future"; fi
if openssl x509 -in soon.pem -noout -text | grep -q "Extended Key Usage"; then
    fail "--eku none still has an EKU"
else ok "--eku none: no EKU extension"; fi

run 0 "reuse an existing key" "$C" pki issue --profile client --cn alice2 --key alice.key \
    --issuer inter.pem --issuer-key inter.key --out alice2.pem
[ "$(openssl x509 -in alice2.pem -noout -pubkey)" = "$(openssl x509 -in alice.pem -noout -pubkey)" ] &&
    ok "--key reuses the key" || fail "--key did not reuse the key"

# ---- CRLs -----------------------------------------------------------------
run 0 "crl revoking alice" "$C" pki crl --issuer inter.pem --issuer-key inter.key \
    --revoke alice.pem --revoke-serial 0A0B --reason keyCompromise --number 7 --out inter.crl
has "$T/out" "CRL number 7 with 2 revoked entries" "crl summary"
openssl crl -in inter.crl -noout -text >crl.txt
has crl.txt "X509v3 CRL Number: *$" "crl number extension"
has crl.txt "Key Compromise" "crl reason"
has crl.txt "Serial Number: 0A0B" "crl serial entry"
run 0 "root crl" "$C" pki crl --issuer root.pem --issuer-key root.key --out root.crl \
    --this-update -1h --next-update +30d
cat root.pem inter.pem >cas.pem
cat root.crl inter.crl >crls.pem
if openssl verify -crl_check_all -CAfile cas.pem -CRLfile crls.pem alice.pem 2>&1 | grep -q "revoked"; then
    ok "openssl sees alice revoked"
else fail "openssl does not see alice revoked"; fi
run 0 "crl in DER" "$C" pki crl --issuer inter.pem --issuer-key inter.key --der --out inter.der.crl
openssl crl -inform DER -in inter.der.crl -noout >/dev/null 2>&1 && ok "DER CRL parses" || fail "DER CRL"

# ---- bad input --------------------------------------------------------------
run 2 "issue without --cn" "$C" pki issue --profile client --issuer inter.pem --issuer-key inter.key --out x.pem --key-out x.key
has "$T/err" "--cn is required" "missing --cn named"
run 2 "issue without --profile" "$C" pki issue --cn x --out x.pem --key-out x.key
run 2 "issue bad profile" "$C" pki issue --profile boss --cn x --out x.pem --key-out x.key
has "$T/err" "bad --profile 'boss'" "bad profile named"
run 2 "client without issuer" "$C" pki issue --profile client --cn x --out x.pem --key-out x.key
run 2 "root with issuer" "$C" pki issue --profile root --cn x --issuer root.pem --issuer-key root.key --out x.pem --key-out x.key
run 2 "bad time" "$C" pki issue --profile root --cn x --not-after tomorrow --out x.pem --key-out x.key
has "$T/err" "bad time 'tomorrow'" "bad time named"
run 2 "bad eku" "$C" pki issue --profile client --cn x --eku codeSigning --issuer inter.pem --issuer-key inter.key --out x.pem --key-out x.key
has "$T/err" "bad --eku 'codeSigning'" "bad eku named"
run 2 "mismatched issuer key" "$C" pki issue --profile client --cn x --issuer inter.pem --issuer-key root.key --out x.pem --key-out x.key
has "$T/err" "does not match" "mismatch explained"
run 2 "missing issuer file" "$C" pki issue --profile client --cn x --issuer nope.pem --issuer-key inter.key --out x.pem --key-out x.key
has "$T/err" "nope.pem: cannot open" "missing file named"
printf 'garbage\n' >garbage.pem
run 2 "garbage issuer file" "$C" pki issue --profile client --cn x --issuer garbage.pem --issuer-key inter.key --out x.pem --key-out x.key
has "$T/err" "garbage.pem: " "garbage file named"
run 2 "bad IP" "$C" pki issue --profile server --cn x --ip 999.1.1.1 --issuer inter.pem --issuer-key inter.key --out x.pem --key-out x.key
run 2 "unknown option" "$C" pki issue --frob
run 2 "crl bad reason" "$C" pki crl --issuer inter.pem --issuer-key inter.key --reason 7 --out x.crl
run 2 "crl bad serial" "$C" pki crl --issuer inter.pem --issuer-key inter.key --revoke-serial xyz --out x.crl
run 2 "crl without --out" "$C" pki crl --issuer inter.pem --issuer-key inter.key
[ ! -e x.pem ] && [ ! -e x.crl ] && ok "nothing written on error" || fail "files written on error"
run 1 "issue into a missing folder" "$C" pki issue --profile root --cn x --out nodir/x.pem --key-out nodir/x.key
has "$T/err" "nodir/x.pem" "unwritable path named"

# ---- demo ---------------------------------------------------------------------
run 0 "pki demo" "$C" pki demo demo
has "$T/out" "demo PKI written to demo" "demo reports what it wrote"
for f in ca/root.pem ca/intermediate.pem ca/other-root.pem server/server.pem server/server.key \
    clients/valid.p12 clients/expired.pem clients/not-yet-valid.pem clients/revoked.pem \
    clients/untrusted.pem clients/wrong-usage.pem clients/incomplete-chain.pem; do
    [ -s "demo/$f" ] || fail "demo/$f missing"
done
[ "$(ls demo/stores/root | wc -l)" = 1 ] && [ "$(ls demo/stores/intermediate | wc -l)" = 1 ] &&
    [ "$(ls demo/stores/crl | wc -l)" = 2 ] && ok "demo stores populated" || fail "demo stores: $(ls -R demo/stores)"
rt=$(openssl x509 -in demo/ca/root.pem -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr A-F a-f)
[ -f "demo/stores/root/$rt.pem" ] && ok "root store file named by thumbprint" || fail "root not at stores/root/$rt.pem"
openssl verify -CAfile demo/ca/root.pem -untrusted demo/ca/intermediate.pem -purpose sslserver \
    -verify_hostname localhost -verify_ip 127.0.0.1 demo/server/server.pem >/dev/null 2>&1 &&
    ok "demo server cert valid for localhost and 127.0.0.1" || fail "demo server cert"
openssl pkcs12 -in demo/clients/valid.p12 -passin pass:certgate -nokeys >/dev/null 2>&1 &&
    ok "demo p12 opens with 'certgate'" || fail "demo p12"
run 0 "pki demo again" "$C" pki demo demo
has "$T/out" "left alone" "second demo run leaves it alone"
rt2=$(openssl x509 -in demo/ca/root.pem -noout -fingerprint -sha256)
run 0 "pki demo --force" "$C" pki demo demo --force
rt3=$(openssl x509 -in demo/ca/root.pem -noout -fingerprint -sha256)
[ "$rt2" != "$rt3" ] && ok "--force regenerates" || fail "--force kept the old root"
[ "$(ls demo/stores/root | wc -l)" = 1 ] && ok "regenerated stores have no leftovers" || fail "leftovers in stores/root"
run 2 "pki demo without DIR" "$C" pki demo

if [ "$failures" -ne 0 ]; then
    echo "$failures check(s) failed"
    exit 1
fi
echo "all checks passed"
