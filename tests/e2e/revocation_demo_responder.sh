#!/usr/bin/env bash
# revocation_demo_responder.sh: while the demo runs (`certgate serve` with no
# config), the CRL distribution point and the OCSP responder its client
# certificates name answer on 127.0.0.1:8480: the intermediate's CRL, and
# OCSP (POST and GET) signed by the intermediate from that CRL's entries,
# which `openssl ocsp` verifies and `certgate verify --revocation ocsp`
# reads. The port is fixed by the certificates: when another program holds
# it, the test waits (bounded) for it to be free.
. "$(dirname "$0")/lib.sh"

D="$T/demo"
URL=http://127.0.0.1:8480/.well-known/certgate

port_busy() { ss -Hltn 'sport = :8480' 2>/dev/null | grep -q .; }
deadline=$(( $(date +%s) + 60 ))
while port_busy && [ "$(date +%s)" -lt "$deadline" ]; do
    timeout 1 tail -f /dev/null || true   # port held by another demo: wait for it to go
done
port_busy && { echo "port 8480 stayed taken: cannot run"; exit 1; }

mkfifo "$T/ready"
"$CERTGATE" serve --state-dir "$D" --demo-https-port 0 --demo-http-port 0 \
    --ready-file "$T/ready" >"$T/demo.out" 2>"$T/demo.err" &
CG_PIDS+=("$!")
PID=$!
timeout 60 cat "$T/ready" >"$T/ready.txt" || { echo "demo did not start"; cat "$T/demo.err"; exit 1; }
if grep -q "revocation publisher not started" "$T/demo.err"; then
    cg_fail "publisher not started: $(grep publisher "$T/demo.err")"
    cg_done
fi

cg_log "the CRL at the distribution point"
code=$(curl -sS --max-time 10 -o "$T/crl.der" -w '%{http_code} %{content_type}' "$URL/intermediate.crl")
cg_check "CRL: 200 application/pkix-crl" "200 application/pkix-crl" "$code"
out=$(openssl crl -inform DER -in "$T/crl.der" -CAfile "$D/ca/intermediate.pem" -noout 2>&1 || true)
cg_match "CRL: signed by the intermediate" "verify OK" "$out"
rs=$(openssl x509 -in "$D/clients/revoked.pem" -noout -serial | sed 's/serial=//')
cg_match "CRL: lists the revoked client" "Serial Number: $rs" \
    "$(openssl crl -inform DER -in "$T/crl.der" -noout -text)"

cg_log "OCSP, POST"
for c in valid revoked; do
    out=$(openssl ocsp -issuer "$D/ca/intermediate.pem" -cert "$D/clients/$c.pem" \
        -url "$URL/ocsp" -CAfile "$D/ca/root.pem" -VAfile "$D/ca/intermediate.pem" 2>&1 || true)
    printf '%s\n' "$out" >"$T/ocsp-$c.txt"
    cg_match "OCSP $c: verified" "Response verify OK" "$out"
    want=$([ $c = valid ] && echo good || echo revoked)
    cg_match "OCSP $c: $want" "$c\.pem: $want" "$out"
done
cg_match "OCSP revoked: keyCompromise" "Reason: keyCompromise" "$(cat "$T/ocsp-revoked.txt")"

cg_log "OCSP, GET (RFC 6960 A.1)"
openssl ocsp -issuer "$D/ca/intermediate.pem" -cert "$D/clients/revoked.pem" -reqout "$T/req.der" \
    -no_nonce >/dev/null 2>&1
enc=$(base64 -w0 "$T/req.der" | python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.stdin.read(), safe=""))')
code=$(curl -sS --max-time 10 -o "$T/get.der" -w '%{http_code}' "$URL/ocsp/$enc")
cg_check "OCSP GET: 200" 200 "$code"
cg_match "OCSP GET: revoked" "Cert Status: revoked" "$(openssl ocsp -respin "$T/get.der" -resp_text -noverify 2>&1)"

cg_log "certgate verify reads the answers (the intermediate names no responder: leaf scope)"
RC=0; out=$("$CERTGATE" verify "$D/clients/valid.pem" --stores "$D/stores" --revocation ocsp --revocation-scope leaf --timeout 2 2>&1) || RC=$?
cg_check "verify valid: accepted" 0 "$RC"
cg_match "verify valid: good from ocsp" "good from ocsp" "$out"
RC=0; out=$("$CERTGATE" verify "$D/clients/revoked.pem" --stores "$D/stores" --revocation ocsp --revocation-scope leaf --timeout 2 2>&1) || RC=$?
cg_check "verify revoked: refused" 1 "$RC"
cg_match "verify revoked: 403.13 keyCompromise (OCSP)" "reason keyCompromise \(OCSP\)" "$out"

cg_log "anything else"
cg_check "unknown path: 404" 404 "$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' "$URL/nothing")"
cg_check "PUT on the CRL: 405" 405 \
    "$(curl -sS --max-time 10 -X PUT -o /dev/null -w '%{http_code}' "$URL/intermediate.crl")"

kill -TERM "$PID"
timeout 30 tail --pid="$PID" -f /dev/null || cg_fail "demo did not stop"
RC=0; wait "$PID" || RC=$?
cg_check "demo stopped cleanly" 0 "$RC"
port_busy && cg_fail "port 8480 still held after the demo stopped" || cg_ok "port 8480 released"
cg_done
