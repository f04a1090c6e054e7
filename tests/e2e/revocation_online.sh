#!/usr/bin/env bash
# Revocation checked the way `certgate verify --revocation online|ocsp` does
# it, against real responders on 127.0.0.1: `openssl ocsp` as the OCSP
# responder (two: one signing as the CA, one with an unrelated key) and a
# small HTTP server for CRLs and faults (revocation_httpd.py). Every process
# started here is stopped by its pid on exit.
#
# Cases: good (OCSP), revoked by OCSP, revoked by CRL, responder down,
# responder hanging past the timeout (returns at about the timeout),
# garbage answer, unauthorised responder, answer for another certificate,
# forged signature, stale within and past the grace, CRL server returning
# HTML, truncated CRL, CRL signed by the wrong key, CRL over the size limit,
# answers persisted in a state directory and used when the responder is gone.
. "$(dirname "$0")/lib.sh"

P="$T/pki"
W="$T/www"
mkdir -p "$P" "$W"

# start_bg NAME CMD...: runs CMD in the background, output in $T/NAME.out/.err
start_bg() {
    local name=$1; shift
    "$@" >"$T/$name.out" 2>"$T/$name.err" &
    CG_PIDS+=("$!")
    printf -v "PID_$name" '%s' "$!"
}

# ---- the PKI (serials fixed first: the responder's index names them) ----
"$CERTGATE" pki issue --profile root --cn "Revocation Test CA" \
    --out "$P/ca.pem" --key-out "$P/ca.key" >/dev/null
# Same name, other key: signs the forged CRL.
"$CERTGATE" pki issue --profile root --cn "Revocation Test CA" \
    --out "$P/impostor.pem" --key-out "$P/impostor.key" >/dev/null
# A key the CA never delegated anything to: signs the unauthorised responder's answers.
"$CERTGATE" pki issue --profile root --cn "Somebody's Responder" \
    --out "$P/stranger.pem" --key-out "$P/stranger.key" >/dev/null

far=491231000000Z
{
    printf 'V\t%s\t\t1001\tunknown\t/CN=good\n' "$far"
    printf 'R\t%s\t250101000000Z,keyCompromise\t1002\tunknown\t/CN=revoked-ocsp\n' "$far"
    printf 'V\t%s\t\t1006\tunknown\t/CN=unauthorised\n' "$far"
} >"$P/index.txt"
printf 'unique_subject = no\n' >"$P/index.txt.attr"

# ---- servers ----
start_bg httpd python3 -u "$CG_SOURCE_DIR/tests/e2e/revocation_httpd.py" "$W"
cg_waitlog "$T/httpd.out" '^PORT [0-9]+' 10 || { echo "httpd did not start"; exit 1; }
HP=$(sed -n 's/^PORT \([0-9]*\)$/\1/p' "$T/httpd.out")
H="http://127.0.0.1:$HP"

start_bg ocsp openssl ocsp -index "$P/index.txt" -port 0 -CA "$P/ca.pem" \
    -rsigner "$P/ca.pem" -rkey "$P/ca.key" -nmin 10 -ignore_err
cg_waitlog "$T/ocsp.out" '^ACCEPT ' 10 || { echo "openssl ocsp did not start"; cat "$T/ocsp.err"; exit 1; }
OP=$(sed -n 's/^ACCEPT .*:\([0-9]*\) PID=.*/\1/p' "$T/ocsp.out")

start_bg ocsp_stranger openssl ocsp -index "$P/index.txt" -port 0 -CA "$P/ca.pem" \
    -rsigner "$P/stranger.pem" -rkey "$P/stranger.key" -nmin 10 -ignore_err
cg_waitlog "$T/ocsp_stranger.out" '^ACCEPT ' 10 || { echo "second responder did not start"; exit 1; }
OP2=$(sed -n 's/^ACCEPT .*:\([0-9]*\) PID=.*/\1/p' "$T/ocsp_stranger.out")
cg_log "httpd on $HP, OCSP responders on $OP (the CA) and $OP2 (a stranger)"

# leaf NAME SERIAL [issue options]
leaf() {
    local name=$1 serial=$2; shift 2
    "$CERTGATE" pki issue --profile client --cn "$name" --serial "$serial" \
        --issuer "$P/ca.pem" --issuer-key "$P/ca.key" \
        --out "$P/$name.pem" --key-out "$P/$name.key" "$@" >/dev/null
}
leaf good 1001 --ocsp-url "http://127.0.0.1:$OP/" --crl-url "$H/ca.crl"
leaf revoked-ocsp 1002 --ocsp-url "http://127.0.0.1:$OP/" --crl-url "$H/ca.crl"
leaf revoked-crl 1003 --crl-url "$H/ca.crl"
leaf down 1004 --ocsp-url "http://127.0.0.1:1/"
leaf hang 1005 --ocsp-url "$H/hang"
leaf unauthorised 1006 --ocsp-url "http://127.0.0.1:$OP2/"
leaf garbage 1007 --ocsp-url "$H/garbage"
leaf html 1008 --crl-url "$H/html"
leaf truncated 1009 --crl-url "$H/truncated.crl"
leaf wrongkey 100a --crl-url "$H/wrongkey.crl"
leaf endless 100b --crl-url "$H/endless"
leaf crl-good 100c --crl-url "$H/ca.crl"

"$CERTGATE" pki crl --issuer "$P/ca.pem" --issuer-key "$P/ca.key" --revoke-serial 1003 \
    --reason keyCompromise --out "$W/ca.crl" --der >/dev/null
head -c 200 "$W/ca.crl" >"$W/truncated.crl"
"$CERTGATE" pki crl --issuer "$P/impostor.pem" --issuer-key "$P/impostor.key" \
    --revoke-serial 1003 --out "$W/wrongkey.crl" --der >/dev/null

# verify NAME ARGS...: sets RC and OUT (text output)
verify() {
    local name=$1; shift
    RC=0
    OUT=$("$CERTGATE" verify "$P/$name.pem" --root "$P/ca.pem" "$@" 2>&1) || RC=$?
    printf '%s\n' "$OUT" >"$T/verify-$name.log"
}

cg_log "online: OCSP from the AIA URL, then CRLs"
verify good --revocation online
cg_check "good: accepted" 0 "$RC"
cg_match "good: answered by OCSP" "good from ocsp, thisUpdate [0-9T:Z-]+, nextUpdate [0-9T:Z-]+" "$OUT"
cg_match "good: URL and timing shown" "OCSP POST http://127\.0\.0\.1:$OP/ \([0-9]+ ms\): good" "$OUT"

verify good --revocation ocsp --ocsp-nonce
cg_check "good with a nonce: accepted" 0 "$RC"
cg_match "good with a nonce: the responder echoed it" "\(([0-9]+) ms, with a nonce\): good" "$OUT"

verify revoked-ocsp --revocation online
cg_check "revoked by OCSP: refused" 1 "$RC"
cg_match "revoked by OCSP: 403.13 with date and reason" \
    "403\.13 revoked.*revoked by its issuer on 2025-01-01T00:00:00Z, reason keyCompromise \(OCSP\)" "$OUT"

verify revoked-crl --revocation online
cg_check "revoked by CRL: refused" 1 "$RC"
cg_match "revoked by CRL: 403.13 from the fetched CRL" "403\.13 revoked.*reason keyCompromise \(CRL\)" "$OUT"
cg_match "revoked by CRL: source shown" "revoked from fetched-crl" "$OUT"
cg_match "revoked by CRL: no OCSP URL noted" "the certificate names no responder" "$OUT"

verify crl-good --revocation online
cg_check "CRL good: accepted" 0 "$RC"
cg_match "CRL good: from the fetched CRL" "good from fetched-crl" "$OUT"

verify down --revocation online
cg_check "responder down: refused" 1 "$RC"
cg_match "responder down: 403.16 revocation-unknown" "403\.16 revocation-unknown" "$OUT"
cg_match "responder down: what was tried" "OCSP POST http://127\.0\.0\.1:1/: .*(refused|connect)" "$OUT"

verify down --revocation online --on-unknown allow
cg_check "responder down, on_unknown allow: accepted" 0 "$RC"
cg_match "responder down, allow: noted" "allowed by the policy" "$OUT"

cg_log "a responder that never answers"
t0=$(date +%s%N)
verify hang --revocation online --timeout 2
t1=$(date +%s%N)
ms=$(( (t1 - t0) / 1000000 ))
cg_check "hang: refused" 1 "$RC"
cg_match "hang: timed out" "timed out after 2000 ms" "$OUT"
if [ "$ms" -ge 1800 ] && [ "$ms" -lt 4500 ]; then
    cg_ok "hang: returned after $ms ms (timeout 2000 ms)"
else
    cg_fail "hang: returned after $ms ms, expected about 2000"
fi

verify garbage --revocation online
cg_check "garbage answer: refused" 1 "$RC"
cg_match "garbage answer: malformed" "unusable answer \(malformed\)" "$OUT"

verify unauthorised --revocation online
cg_check "unauthorised responder: refused" 1 "$RC"
cg_match "unauthorised responder: signer not the CA's" "unusable answer \(signer-(unknown|unauthorised)\)" "$OUT"

verify good --revocation ocsp --ocsp-responder "$H/status/500"
cg_check "responder HTTP 500: refused" 1 "$RC"
cg_match "responder HTTP 500: said" "HTTP 500" "$OUT"

cg_log "CRL faults"
verify html --revocation online
cg_check "CRL as HTML: refused" 1 "$RC"
cg_match "CRL as HTML: said" "looks like HTML" "$OUT"
verify truncated --revocation online
cg_check "truncated CRL: refused" 1 "$RC"
cg_match "truncated CRL: said" "truncated" "$OUT"
verify wrongkey --revocation online
cg_check "CRL signed by the wrong key: refused" 1 "$RC"
cg_match "CRL signed by the wrong key: said" "signature does not verify" "$OUT"
verify endless --revocation online --max-crl-size 65536
cg_check "CRL over the size limit: refused" 1 "$RC"
cg_match "CRL over the size limit: said" "over the size limit of 65536 bytes" "$OUT"

cg_log "saved responses, judged offline"
openssl ocsp -issuer "$P/ca.pem" -cert "$P/good.pem" -url "http://127.0.0.1:$OP/" \
    -respout "$T/good.ocsp" -noverify >"$T/fetch.out" 2>&1 || { cat "$T/fetch.out"; exit 1; }
now=$(date +%s)
verify good --revocation ocsp --ocsp-response "$T/good.ocsp"
cg_check "saved response: good" 0 "$RC"
verify revoked-crl --revocation ocsp --ocsp-response "$T/good.ocsp"
cg_check "answer for another certificate: refused" 1 "$RC"
cg_match "answer for another certificate: said" "wrong-certificate" "$OUT"
# nextUpdate is 10 minutes after thisUpdate: judge 20 minutes on
verify good --revocation ocsp --ocsp-response "$T/good.ocsp" --at "@$((now + 1200))" --stale-grace 3600
cg_check "stale within the grace: accepted" 0 "$RC"
cg_match "stale within the grace: marked" "stale" "$OUT"
verify good --revocation ocsp --ocsp-response "$T/good.ocsp" --at "@$((now + 1200))" --stale-grace 60
cg_check "stale past the grace: refused" 1 "$RC"
cg_match "stale past the grace: said" "unusable \(stale\)" "$OUT"
# Forge: change one digit of producedAt, inside the signed data.
python3 - "$T/good.ocsp" "$T/forged.ocsp" <<'EOF'
import sys
data = bytearray(open(sys.argv[1], "rb").read())
i = data.index(b"\x18\x0f") + 2 + 13      # GeneralizedTime YYYYMMDDHHMMSSZ: a seconds digit
data[i] = ord("0") if data[i] != ord("0") else ord("1")
open(sys.argv[2], "wb").write(bytes(data))
EOF
verify good --revocation ocsp --ocsp-response "$T/forged.ocsp"
cg_check "forged signature: refused" 1 "$RC"
cg_match "forged signature: said" "bad-signature" "$OUT"

cg_log "an answer dated ahead of the clock: --clock-skew"
# thisUpdate 3 minutes ahead: inside the default leeway (300 s), outside 120 s and 0 s.
"$CERTGATE" pki ocsp --issuer "$P/ca.pem" --issuer-key "$P/ca.key" --cert "$P/good.pem" \
    --this-update +3m --out "$T/ahead.ocsp" >/dev/null
verify good --revocation ocsp --ocsp-response "$T/ahead.ocsp"
cg_check "thisUpdate 180 s ahead, default leeway: accepted" 0 "$RC"
verify good --revocation ocsp --ocsp-response "$T/ahead.ocsp" --clock-skew 240
cg_check "thisUpdate 180 s ahead, --clock-skew 240: accepted" 0 "$RC"
for skew in 120 0; do
    verify good --revocation ocsp --ocsp-response "$T/ahead.ocsp" --clock-skew "$skew"
    cg_check "thisUpdate 180 s ahead, --clock-skew $skew: refused" 1 "$RC"
    cg_match "thisUpdate 180 s ahead, --clock-skew $skew: said" "not yet valid|not-yet-valid" "$OUT"
done
verify good --revocation ocsp --ocsp-response "$T/ahead.ocsp" --clock-skew 3601
cg_check "--clock-skew 3601: usage error" 2 "$RC"
cg_match "--clock-skew 3601: said" "--clock-skew '3601': expected a number from 0 to 3600" "$OUT"

cg_log "certgate pki ocsp answers as the CA, and OpenSSL agrees with it"
"$CERTGATE" pki issue --profile client --cn "Delegated Responder" --eku ocspSigning \
    --issuer "$P/ca.pem" --issuer-key "$P/ca.key" --out "$P/responder.pem" \
    --key-out "$P/responder.key" >/dev/null
"$CERTGATE" pki ocsp --issuer "$P/ca.pem" --issuer-key "$P/ca.key" --signer "$P/responder.pem" \
    --signer-key "$P/responder.key" --cert "$P/good.pem" --revoke "$P/good.pem" \
    --reason superseded --revoked-at 2025-06-01T00:00:00Z --out "$T/pki-revoked.ocsp" >/dev/null
verify good --revocation ocsp --ocsp-response "$T/pki-revoked.ocsp"
cg_check "pki ocsp, delegated responder, revoked: refused" 1 "$RC"
cg_match "pki ocsp: 403.13 with date and reason" \
    "403\.13 revoked.*on 2025-06-01T00:00:00Z, reason superseded \(OCSP\)" "$OUT"
openssl ocsp -issuer "$P/ca.pem" -cert "$P/crl-good.pem" -reqout "$T/req.der" -no_nonce \
    >/dev/null 2>&1
"$CERTGATE" pki ocsp --issuer "$P/ca.pem" --issuer-key "$P/ca.key" --request "$T/req.der" \
    --out "$T/pki-good.ocsp" >/dev/null
ossl=$(openssl ocsp -respin "$T/pki-good.ocsp" -issuer "$P/ca.pem" -cert "$P/crl-good.pem" \
    -CAfile "$P/ca.pem" 2>&1 || true)
cg_match "pki ocsp: openssl ocsp reads it as good and verified" \
    "Response verify OK.*crl-good\.pem: good" "$(printf '%s' "$ossl" | tr '\n' ' ')"
verify crl-good --revocation ocsp --ocsp-response "$T/pki-good.ocsp"
cg_check "pki ocsp: certgate reads it as good" 0 "$RC"

cg_log "answers kept in a state directory outlive the responder"
verify good --revocation online --state-dir "$T/state"
cg_check "state dir: first answer fetched" 0 "$RC"
n=$(find "$T/state/revocation/ocsp" -type f | wc -l)
cg_check "state dir: one OCSP answer persisted" 1 "$n"
kill -TERM "$PID_ocsp"
timeout 10 tail --pid="$PID_ocsp" -f /dev/null || true
verify good --revocation online --state-dir "$T/state"
cg_check "state dir: responder gone, answer from the cache" 0 "$RC"
cg_match "state dir: cached answer used" "\(cached\): good" "$OUT"
verify good --revocation online
cg_check "responder gone, online: the CRL answers instead" 0 "$RC"
cg_match "responder gone, online: from the fetched CRL" "good from fetched-crl" "$OUT"
verify good --revocation ocsp
cg_check "responder gone, OCSP only, no state dir: refused" 1 "$RC"
cg_match "responder gone, OCSP only: unknown" "403\.16 revocation-unknown" "$OUT"

cg_done
