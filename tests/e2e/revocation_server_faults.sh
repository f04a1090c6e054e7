#!/usr/bin/env bash
# revocation_server_faults.sh: faulty revocation sources met by the running
# `certgate serve` (revocation_online.sh meets the same through `certgate
# verify`). Real components on 127.0.0.1: `openssl ocsp` as the OCSP
# responders (one signing as a stranger, one as a CA-issued certificate
# without the OCSP-signing EKU), revocation_httpd.py serving CRLs, saved OCSP
# responses and the faults, curl as the client; every process started here
# is stopped by its pid.
#
# Each case asserts the HTTP status, the code and reason of the problem+json
# body and the error-log line naming the fault:
#   stale OCSP answer and stale CRL (signed, nextUpdate in the past): within
#     stale_grace served (200, path marked stale, a warn line), past it
#     403.16 revocation-unknown with what was tried (also from the cache, and
#     for a CRL past every site's grace);
#   forged responder signature (a stranger's key; a delegated signer without
#     the OCSP-signing EKU): 403.16, never good;
#   an answer for another certificate, garbage, HTTP 500, OCSP tryLater;
#   a CRL server answering HTML, a truncated CRL, a CRL signed by the wrong
#     key, a CRL over revocation.max_crl_size (with and without a length):
#     each 403.16 under deny, and one served under allow (200, warn line);
#   a client of another site, with a good answer, served at once while a
#     faulty responder is being tried.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/revocation_lib.sh"

P="$T/pki"
S="$T/stores"
W="$T/srv"
mkdir -p "$P" "$S" "$W" "$T/www"
printf 'members-only\n' >"$T/www/index.html"

start_ocsp() { start_ocsp_responder "$1" "$P/index.txt" "$2"; }  # start_ocsp NAME SIGNER

# ---- PKI: the CA (the root store) and the keys it never authorised ----
"$CERTGATE" pki issue --profile root --cn "Revocation Faults CA" \
    --out "$P/ca.pem" --key-out "$P/ca.key" >/dev/null
"$CERTGATE" store import --stores "$S" "$P/ca.pem" >/dev/null
# Same name, other key: signs the forged CRL.
"$CERTGATE" pki issue --profile root --cn "Revocation Faults CA" \
    --out "$P/impostor.pem" --key-out "$P/impostor.key" >/dev/null
# Nobody the CA knows: signs the forged OCSP answers.
"$CERTGATE" pki issue --profile root --cn "Somebody's Responder" \
    --out "$P/stranger.pem" --key-out "$P/stranger.key" >/dev/null
# Issued by the CA, but for client authentication only: no OCSP signing.
"$CERTGATE" pki issue --profile client --cn "Not A Responder" --eku clientAuth \
    --issuer "$P/ca.pem" --issuer-key "$P/ca.key" --out "$P/noeku.pem" --key-out "$P/noeku.key" >/dev/null
for n in deny.test grace.test allow.test other.test; do
    "$CERTGATE" pki issue --profile server --cn "$n" --dns "$n" --ip 127.0.0.1 \
        --issuer "$P/ca.pem" --issuer-key "$P/ca.key" --out "$P/$n.pem" --key-out "$P/$n.key" >/dev/null
done
far=491231000000Z
{
    printf 'V\t%s\t\t3001\tunknown\t/CN=good\n' "$far"
    printf 'V\t%s\t\t3003\tunknown\t/CN=forged\n' "$far"
    printf 'V\t%s\t\t3004\tunknown\t/CN=noeku\n' "$far"
} >"$P/index.txt"
printf 'unique_subject = no\n' >"$P/index.txt.attr"

start_httpd "$W"
start_ocsp ocsp ca
start_ocsp stranger stranger
start_ocsp noeku noeku
cg_log "files and faults at $H; OCSP as the CA :$PORT_ocsp, a stranger :$PORT_stranger, no EKU :$PORT_noeku"

leaf() {  # leaf NAME SERIAL [issue options]
    local name=$1 serial=$2; shift 2
    "$CERTGATE" pki issue --profile client --cn "$name" --serial "$serial" \
        --issuer "$P/ca.pem" --issuer-key "$P/ca.key" \
        --out "$P/$name.pem" --key-out "$P/$name.key" "$@" >/dev/null
}
leaf good 3001 --ocsp-url "http://127.0.0.1:$PORT_ocsp/"
leaf stale-ocsp 3002 --ocsp-url "$H/stale.ocsp"
leaf forged 3003 --ocsp-url "http://127.0.0.1:$PORT_stranger/"
leaf noeku-signed 3004 --ocsp-url "http://127.0.0.1:$PORT_noeku/"
leaf wrong-id 3005 --ocsp-url "$H/other.ocsp"
leaf garbage 3006 --ocsp-url "$H/garbage"
leaf refuses 3007 --ocsp-url "$H/status/500"
leaf trylater 3008 --ocsp-url "$H/trylater.ocsp"
leaf stale-crl 3009 --crl-url "$H/stale.crl"
leaf html 300a --crl-url "$H/html"
leaf truncated 300b --crl-url "$H/truncated.crl"
leaf wrongkey 300c --crl-url "$H/wrongkey.crl"
leaf big 300d --crl-url "$H/big.crl"
leaf endless 300e --crl-url "$H/endless"
leaf held 300f --ocsp-url "$H/hold/garbage"
leaf garbage-allow 3010 --ocsp-url "$H/garbage?allow"
leaf old-crl 3011 --crl-url "$H/old.crl"

# Saved answers, really signed, with the times each case needs.
# Stale: nextUpdate 2 hours ago (inside grace.test's 3h, past deny.test's 1h).
"$CERTGATE" pki ocsp --issuer "$P/ca.pem" --issuer-key "$P/ca.key" --cert "$P/stale-ocsp.pem" \
    --this-update -3h --next-update -2h --out "$W/stale.ocsp" >/dev/null
"$CERTGATE" pki crl --issuer "$P/ca.pem" --issuer-key "$P/ca.key" --revoke-serial 1 \
    --this-update -3h --next-update -2h --out "$W/stale.crl" --der >/dev/null
# Past every site's grace: nextUpdate 5 hours ago.
"$CERTGATE" pki crl --issuer "$P/ca.pem" --issuer-key "$P/ca.key" --revoke-serial 1 \
    --this-update -6h --next-update -5h --out "$W/old.crl" --der >/dev/null
# A good, fresh answer, but about "good" (serial 3001), not about wrong-id.
"$CERTGATE" pki ocsp --issuer "$P/ca.pem" --issuer-key "$P/ca.key" --cert "$P/good.pem" \
    --out "$W/other.ocsp" >/dev/null
# OCSPResponse { responseStatus tryLater (3) }: the responder declines.
printf '\x30\x03\x0a\x01\x03' >"$W/trylater.ocsp"
"$CERTGATE" pki crl --issuer "$P/ca.pem" --issuer-key "$P/ca.key" --revoke-serial 1 \
    --out "$W/ca.crl" --der >/dev/null
head -c 200 "$W/ca.crl" >"$W/truncated.crl"
"$CERTGATE" pki crl --issuer "$P/impostor.pem" --issuer-key "$P/impostor.key" --revoke-serial 1 \
    --out "$W/wrongkey.crl" --der >/dev/null
# Over max_crl_size (16k) with a Content-Length: 1500 entries, about 40 kB,
# signed by the CA (`openssl ca`: `pki crl` takes at most 64 entries).
for i in $(seq 1 1500); do
    printf 'R\t%s\t250101000000Z\t%X\tunknown\t/CN=gone %d\n' "$far" $((0x100000 + i)) "$i"
done >"$P/big-index.txt"
printf '[ca]\ndefault_ca = big\n[big]\ndatabase = %s\ndefault_md = sha256\ndefault_crl_days = 7\n' \
    "$P/big-index.txt" >"$P/big-ca.cnf"
openssl ca -batch -config "$P/big-ca.cnf" -gencrl -cert "$P/ca.pem" -keyfile "$P/ca.key" \
    -out "$P/big.crl.pem" 2>"$T/big-ca.err" || { cat "$T/big-ca.err"; exit 1; }
openssl crl -in "$P/big.crl.pem" -outform DER -out "$W/big.crl"
big_size=$(stat -c %s "$W/big.crl")
[ "$big_size" -gt 16384 ] || { echo "big.crl is only $big_size bytes"; exit 1; }

# deny: stale_grace 1h; grace: 3h; allow: on_unknown allow; other: the
# bystander. timeout 5s everywhere: no case here waits for it.
cat >"$T/a.yaml" <<EOF
workers: 2
stores: $S
state_dir: $T/state
access_log: { path: $T/access.log, format: w3c }
error_log: { path: $T/error.log, level: info }
revocation: { mode: ocsp+crl, on_unknown: deny, timeout: 5s, max_crl_size: 16k }
sites:
  - name: deny
    hostnames: [deny.test]
    root: $T/www
    client_certificates: require
    revocation: { stale_grace: 1h }
    bindings:
      - { listen: "127.0.0.1:0", tls: true, certificate: $P/deny.test.pem, key: $P/deny.test.key }
  - name: grace
    hostnames: [grace.test]
    root: $T/www
    client_certificates: require
    revocation: { stale_grace: 3h }
    bindings:
      - { listen: "127.0.0.1:0", tls: true, certificate: $P/grace.test.pem, key: $P/grace.test.key }
  - name: allow
    hostnames: [allow.test]
    root: $T/www
    client_certificates: require
    revocation: { on_unknown: allow }
    bindings:
      - { listen: "127.0.0.1:0", tls: true, certificate: $P/allow.test.pem, key: $P/allow.test.key }
  - name: other
    hostnames: [other.test]
    root: $T/www
    client_certificates: require
    revocation: { mode: ocsp }
    bindings:
      - { listen: "127.0.0.1:0", tls: true, certificate: $P/other.test.pem, key: $P/other.test.key }
EOF
cg_start main "$T/a.yaml"
PORT=$(cg_port main 127.0.0.1:0)
cg_waitlog "$T/error.log" 'revocation: fetcher started \(timeout 5000 ms, answers up to 16384 bytes\)' 10 \
    && cg_ok "the fetcher takes max_crl_size" || cg_fail "no fetcher line with the size limit"

# get HOST CERT QUERY: sets CODE, BODY (problem+json), MS; LOGPOS is where
# the error log stood before the request (its lines are looked for after)
get() {
    local host=$1 cert=$2 q=$3 t0
    LOGPOS=$(stat -c %s "$T/error.log")
    t0=$(date +%s%N)
    CODE=$(curl -sS --max-time 20 --cacert "$P/ca.pem" --resolve "$host:$PORT:127.0.0.1" \
        --cert "$P/$cert.pem" --key "$P/$cert.key" -H 'Accept: application/problem+json' \
        -o "$T/body" -w '%{http_code}' "https://$host:$PORT/?c=$q" 2>"$T/curl.err" || true)
    MS=$(( ($(date +%s%N) - t0) / 1000000 ))
    BODY=$(cat "$T/body" 2>/dev/null || true)
    printf '%s\n' "$BODY" >"$T/body-$q.json"
    parse
}
# parse: from BODY (problem+json) J_CODE, J_REASON and the leaf's
# revocation J_STATUS and J_TRIED ("-" when absent); one python per answer
parse() {
    local out
    out=$(printf '%s' "$BODY" | python3 -c '
import json, sys
try:
    d = json.load(sys.stdin)
except ValueError:
    d = {}
r = (d.get("path") or [{}])[0].get("revocation", {})
for v in (d.get("code"), d.get("reason"), r.get("status"), r.get("tried")):
    print("-" if v is None else str(v).replace("\n", " "))' 2>/dev/null || true)
    { read -r J_CODE; read -r J_REASON; read -r J_STATUS; read -r J_TRIED; } <<<"$out" || true
    : "${J_CODE:=-}" "${J_REASON:=-}" "${J_STATUS:=-}" "${J_TRIED:=-}"
}
# logline NAME REGEX: a line matching REGEX comes into the error log after
# LOGPOS, within 10 s (a poll of the file, as cgtest.py waitlog does)
logline() {
    if python3 - "$T/error.log" "$LOGPOS" "$2" <<'PY'
import re, sys, time
path, pos, pat = sys.argv[1], int(sys.argv[2]), re.compile(sys.argv[3])
deadline = time.monotonic() + 10
while time.monotonic() < deadline:
    with open(path, "r", errors="replace") as f:
        f.seek(pos)
        if any(pat.search(line) for line in f.read().split("\n")):
            sys.exit(0)
    time.sleep(0.05)
sys.exit(1)
PY
    then cg_ok "$1: logged"; else cg_fail "$1: no error-log line /$2/"; fi
}
# refused NAME HOST CERT QUERY TRIED-REGEX: 403.16 revocation-unknown, never
# good, what was tried in the body and in the refusal's error-log line
refused() {
    local name=$1 host=$2 cert=$3 q=$4 tried=$5
    get "$host" "$cert" "$q"
    cg_check "$name: 403" 403 "$CODE"
    cg_check "$name: 403.16 revocation-unknown" "403.16 revocation-unknown" "$J_CODE $J_REASON"
    cg_check "$name: the leaf's status is unknown" unknown "$J_STATUS"
    cg_match "$name: what was tried, in the answer" "$tried" "$J_TRIED"
    logline "$name" "refused 403\.16 revocation-unknown: site ${host%.test}, /; detail: The revocation status of 'CN=$cert' is unknown.*revocation \[0\]: unknown, tried: .*$tried"
}

cg_log "the bystander: good by OCSP"
get other.test good good-first
cg_check "good: 200" 200 "$CODE"

cg_log "stale OCSP answer (nextUpdate 2 hours ago)"
refused "stale OCSP past stale_grace (1h)" deny.test stale-ocsp stale-ocsp-deny \
    "OCSP POST $H/stale\.ocsp: HTTP 200, [0-9]+ bytes, [0-9]+ ms: unusable answer \(stale\)"
get grace.test stale-ocsp stale-ocsp-grace
cg_check "stale OCSP within stale_grace (3h): 200" 200 "$CODE"
cg_check "stale OCSP within stale_grace: content served" members-only "$BODY"
logline "stale OCSP within stale_grace" \
    "served with a stale revocation answer \(past its nextUpdate, within stale_grace 10800 s\): site grace, /, certificate \"CN=stale-ocsp\" sha256=[0-9a-f]{64}; revocation \[0\]: good from ocsp, tried: OCSP $H/stale\.ocsp \(cached, no fresher answer fetched\): good \(thisUpdate [0-9T:Z-]+, nextUpdate [0-9T:Z-]+, stale within grace\); fetches over after [0-9]+ ms \(timeout 5000 ms\); fetched: OCSP POST $H/stale\.ocsp: HTTP 200, [0-9]+ bytes, [0-9]+ ms: good \(stale within grace\)"
# Cached now (within the widest grace), the answer is still too old for deny.test.
refused "stale OCSP past stale_grace, from the cache" deny.test stale-ocsp stale-ocsp-deny2 \
    "unusable answer \(stale\)"

cg_log "stale CRL (nextUpdate 2 hours ago)"
refused "stale CRL past stale_grace (1h)" deny.test stale-crl stale-crl-deny \
    "CRL [^;]*$H/stale\.crl[^;]*: stale \(nextUpdate [0-9T:Z-]+\)"
get grace.test stale-crl stale-crl-grace
cg_check "stale CRL within stale_grace (3h): 200" 200 "$CODE"
logline "stale CRL within stale_grace" \
    "served with a stale revocation answer \(past its nextUpdate, within stale_grace 10800 s\): site grace, /, certificate \"CN=stale-crl\" sha256=[0-9a-f]{64}; revocation \[0\]: good from fetched-crl, tried: .*CRL $H/stale\.crl \(cached, no fresher answer fetched\): good \(thisUpdate [0-9T:Z-]+, nextUpdate [0-9T:Z-]+, stale within grace\); fetches over after [0-9]+ ms \(timeout 5000 ms\); fetched: CRL GET $H/stale\.crl: HTTP 200, [0-9]+ bytes, [0-9]+ ms"

# Past the widest grace (3h), the CRL is not kept: the fetch itself says why.
refused "CRL past every stale_grace" grace.test old-crl old-crl \
    "CRL GET $H/old\.crl: HTTP 200, [0-9]+ bytes, [0-9]+ ms: unusable: stale \(nextUpdate [0-9T:Z-]+\)"

cg_log "forged responder signatures"
refused "signed by a stranger" deny.test forged forged \
    "OCSP POST http://127\.0\.0\.1:$PORT_stranger/: HTTP 200, [0-9]+ bytes, [0-9]+ ms: unusable answer \(signer-(unknown|unauthorised)\)"
refused "signed by a CA certificate without OCSP signing" deny.test noeku-signed noeku \
    "OCSP POST http://127\.0\.0\.1:$PORT_noeku/: HTTP 200, [0-9]+ bytes, [0-9]+ ms: unusable answer \(signer-unauthorised\)"

cg_log "responders that answer wrong, or not at all"
refused "answer for another certificate" deny.test wrong-id wrong-id \
    "OCSP POST $H/other\.ocsp: HTTP 200, [0-9]+ bytes, [0-9]+ ms: unusable answer \(wrong-certificate\)"
refused "garbage answer" deny.test garbage garbage \
    "OCSP POST $H/garbage: HTTP 200, [0-9]+ bytes, [0-9]+ ms: unusable answer \(malformed\)"
refused "responder answers HTTP 500" deny.test refuses refuses \
    "OCSP POST $H/status/500: HTTP 500 \([0-9]+ ms\)"
refused "responder answers tryLater" deny.test trylater trylater \
    "OCSP POST $H/trylater\.ocsp: HTTP 200, 5 bytes, [0-9]+ ms: unusable answer \(responder-error\)[^;]*tryLater"

cg_log "CRL faults"
refused "CRL server answers HTML" deny.test html html \
    "CRL GET $H/html: HTTP 200, [0-9]+ bytes, [0-9]+ ms: unusable: [^;]*looks like HTML"
refused "truncated CRL" deny.test truncated truncated \
    "CRL GET $H/truncated\.crl: HTTP 200, 200 bytes, [0-9]+ ms: unusable: [^;]*truncated"
refused "CRL signed by the wrong key" deny.test wrongkey wrongkey \
    "CRL GET $H/wrongkey\.crl: HTTP 200, [0-9]+ bytes, [0-9]+ ms: unusable: [^;]*signature does not verify"
refused "CRL over max_crl_size ($big_size bytes)" deny.test big big \
    "CRL GET $H/big\.crl: the answer is over the size limit of 16384 bytes \([0-9]+ ms\)"
refused "CRL over max_crl_size (endless)" deny.test endless endless \
    "CRL GET $H/endless: the answer is over the size limit of 16384 bytes \([0-9]+ ms\)"

cg_log "under on_unknown: allow"
get allow.test garbage-allow garbage-allow
cg_check "garbage answer, allow: 200" 200 "$CODE"
cg_check "garbage answer, allow: content served" members-only "$BODY"
logline "garbage answer, allow" \
    "served with revocation status unknown \(on_unknown: allow\): site allow, /, certificate \"CN=garbage-allow\" sha256=[0-9a-f]{64}; revocation \[0\]: unknown, tried: .*unusable answer \(malformed\)"

cg_log "a bystander is served while a faulty responder is being tried"
curl -sS --max-time 20 --cacert "$P/ca.pem" --resolve "deny.test:$PORT:127.0.0.1" \
    --cert "$P/held.pem" --key "$P/held.key" -H 'Accept: application/problem+json' \
    -o "$T/held.body" -w '%{http_code}\n' "https://deny.test:$PORT/?c=held" >"$T/held.code" 2>&1 &
HELD=$!
CG_PIDS+=("$HELD")
# The fetch has reached the responder, which holds it until released.
cg_waitlog "$W/.hits" '^/hold/garbage' 10 || cg_fail "held: the responder was never asked"
get other.test good good-meanwhile
cg_check "meanwhile: the bystander gets 200" 200 "$CODE"
if [ "$MS" -lt 1000 ]; then cg_ok "meanwhile: served in $MS ms"; else cg_fail "meanwhile: took $MS ms"; fi
[ -s "$T/held.code" ] && cg_fail "held: answered before the responder was released"
curl -sS --max-time 5 "$H/release" >/dev/null
wait "$HELD" || true
cg_check "held: 403" 403 "$(cat "$T/held.code")"
BODY=$(cat "$T/held.body")
parse
cg_check "held: 403.16 revocation-unknown" "403.16 revocation-unknown" "$J_CODE $J_REASON"
cg_match "held: the garbage is named" "unusable answer \(malformed\)" "$J_TRIED"
logline "held" "refused 403\.16 revocation-unknown: site deny, /; detail: The revocation status of 'CN=held' is unknown.*unusable answer \(malformed\)"

cg_stop main
cg_check "server stopped cleanly" 0 "$CG_RC"
cg_done
