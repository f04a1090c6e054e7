#!/usr/bin/env bash
# The demo PKI publishes revocation: its intermediate's client certificates
# name a CRL distribution point and an OCSP responder on the demo's loopback
# port, and `certgate verify --revocation online` reports what it tried and
# falls back to the demo's local CRL (whatever answers on that port, or not).
. "$(dirname "$0")/lib.sh"

D="$T/demo"
"$CERTGATE" pki demo "$D" >/dev/null

ext=$(openssl x509 -in "$D/clients/valid.pem" -noout -ext crlDistributionPoints,authorityInfoAccess)
cg_match "demo client: CRL distribution point" \
    "URI:http://127\.0\.0\.1:8480/\.well-known/certgate/intermediate\.crl" "$ext"
cg_match "demo client: OCSP responder" \
    "OCSP - URI:http://127\.0\.0\.1:8480/\.well-known/certgate/ocsp" "$ext"
ext=$(openssl x509 -in "$D/clients/untrusted.pem" -noout -ext authorityInfoAccess 2>&1 || true)
cg_check "untrusted client (other root): no responder named" "" \
    "$(printf '%s' "$ext" | grep -o 'OCSP - URI' || true)"

RC=0
OUT=$("$CERTGATE" verify "$D/clients/valid.pem" --stores "$D/stores" --revocation online \
    --timeout 2 2>&1) || RC=$?
cg_check "valid: accepted online" 0 "$RC"
cg_match "valid: the OCSP URL was tried" "OCSP POST http://127\.0\.0\.1:8480/\.well-known/certgate/ocsp" "$OUT"
cg_match "valid: answered" "good from (ocsp|local-crl|fetched-crl)" "$OUT"

RC=0
OUT=$("$CERTGATE" verify "$D/clients/revoked.pem" --stores "$D/stores" --revocation online \
    --timeout 2 2>&1) || RC=$?
cg_check "revoked: refused online" 1 "$RC"
cg_match "revoked: 403.13 keyCompromise" "403\.13 revoked.*reason keyCompromise" "$OUT"

cg_done
