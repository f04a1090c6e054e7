#!/usr/bin/env bash
# revocation_refresh.sh: `certgate serve` keeps its revocation answers fresh
# in the background, honours the revocation policy per site, fetches the
# CRLs of intermediates under `scope: chain`, and marks requests served
# under `on_unknown: allow`. Real components on 127.0.0.1: `openssl ocsp` as
# the OCSP responder, revocation_httpd.py serving CRLs (and a responder that
# never answers), curl as the client; every process started here is stopped
# by its pid. Whether a request waited for answers is read from the error
# log's line "revocation: request PATH?QUERY waited N ms for answers".
#
# Cases:
#   OCSP refreshed in the background (refresh: 3s): the next request is
#     answered from the new answer (a later thisUpdate) without waiting, and
#     a revocation at the responder reaches a request without any waiting;
#   a fetched CRL (nextUpdate 12 s away) refreshed before its nextUpdate: a
#     failed refresh (HTTP 404) keeps the held answer in use and is retried;
#     the retry brings the new CRL, and its revocation, without any waiting;
#   two sites with timeouts of 1 s and 3 s against one responder that never
#     answers, sharing one fetch: each answers at about its own timeout;
#   scope chain (mode crl): an intermediate revoked by the root's CRL at the
#     intermediate's distribution point (the leaf names none) is 403.13
#     under `scope: chain` and 200 under `scope: leaf`;
#   a certificate naming a delta CRL (freshestCRL): the delta is not
#     fetched, the refusal is said in the log line and the path report, and
#     the certificate is judged on its base CRL;
#   on_unknown: allow: served, the warn line, and x-reason
#     `revocation-unknown-allowed` in the access log.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/revocation_lib.sh"

P="$T/pki"
S="$T/stores"
W="$T/crls"
mkdir -p "$P" "$S" "$W" "$T/www"
printf 'members-only\n' >"$T/www/index.html"


# ---- PKI: a root, an intermediate under it, leaves with fixed serials ----
"$CERTGATE" pki issue --profile root --cn "Revocation Refresh Test CA" \
    --out "$P/ca.pem" --key-out "$P/ca.key" >/dev/null
"$CERTGATE" store import --stores "$S" "$P/ca.pem" >/dev/null
SITES="bg.test bgcrl.test short.test long.test chain.test leafonly.test allow.test"
for n in $SITES; do
    "$CERTGATE" pki issue --profile server --cn "$n" --dns "$n" --ip 127.0.0.1 \
        --issuer "$P/ca.pem" --issuer-key "$P/ca.key" --out "$P/$n.pem" --key-out "$P/$n.key" >/dev/null
done
far=491231000000Z
printf 'V\t%s\t\t3001\tunknown\t/CN=bg-ocsp\n' "$far" >"$P/index.txt"
printf 'unique_subject = no\n' >"$P/index.txt.attr"

start_httpd "$W"
start_ocsp_responder ocsp "$P/index.txt" ca
OCSP="http://127.0.0.1:$PORT_ocsp/"
cg_log "CRLs and the hanging responder at $H, OCSP at $OCSP"

leaf() {  # leaf NAME SERIAL ISSUER [issue options]
    local name=$1 serial=$2 issuer=$3; shift 3
    "$CERTGATE" pki issue --profile client --cn "$name" --serial "$serial" \
        --issuer "$P/$issuer.pem" --issuer-key "$P/$issuer.key" \
        --out "$P/$name.pem" --key-out "$P/$name.key" "$@" >/dev/null
}
leaf bg-ocsp 3001 ca --ocsp-url "$OCSP"
leaf bg-crl 3002 ca --crl-url "$H/bg.crl"
leaf hang 3003 ca --ocsp-url "$H/hang"
leaf down 3004 ca --ocsp-url "http://127.0.0.1:1/"
# The intermediate names the root's CRL; its leaf names no distribution
# point (its CRL is in stores/crl/), so only scope chain fetches anything.
"$CERTGATE" pki issue --profile intermediate --cn "Refresh Test Intermediate" --serial 3100 \
    --issuer "$P/ca.pem" --issuer-key "$P/ca.key" --crl-url "$H/root.crl" \
    --out "$P/int.pem" --key-out "$P/int.key" >/dev/null
"$CERTGATE" store import --stores "$S" "$P/int.pem" >/dev/null
leaf chain-leaf 3101 int
"$CERTGATE" pki crl --issuer "$P/int.pem" --issuer-key "$P/int.key" --next-update +30d \
    --out "$T/int.crl" >/dev/null
"$CERTGATE" store import --stores "$S" "$T/int.crl" >/dev/null
"$CERTGATE" pki crl --issuer "$P/ca.pem" --issuer-key "$P/ca.key" --revoke-serial 3100 \
    --reason cACompromise --out "$W/root.crl" --der >/dev/null

site() {  # site NAME REVOCATION [extra location]
    cat <<EOF
  - name: $1
    hostnames: [$1.test]
    root: $T/www
    client_certificates: require
    revocation: $2
    locations:
      - { path: /info, handler: certificate-info }
    bindings:
      - { listen: "127.0.0.1:0", tls: true, certificate: $P/$1.test.pem, key: $P/$1.test.key }
EOF
}
{
    cat <<EOF
workers: 2
stores: $S
state_dir: $T/state
access_log: { path: $T/access.log, format: w3c }
error_log: { path: $T/error.log, level: info }
revocation: { refresh: 1h, timeout: 5s }
sites:
EOF
    site bg "{ mode: ocsp, refresh: 3s, timeout: 2s }"
    site bgcrl "{ mode: crl, timeout: 2s }"
    site short "{ mode: ocsp, timeout: 1s }"
    site long "{ mode: ocsp, timeout: 3s }"
    site chain "{ mode: crl, scope: chain, timeout: 2s }"
    site leafonly "{ mode: crl, scope: leaf, timeout: 2s }"
    site allow "{ mode: ocsp, on_unknown: allow, timeout: 2s }"
} >"$T/a.yaml"
cg_start main "$T/a.yaml"
PORT=$(cg_port main 127.0.0.1:0)

# get SITE CERT PATH: sets CODE and BODY (problem+json or the certificate
# info as JSON), MS (elapsed)
get() {
    local host=$1.test cert=$2 path=$3 t0 t1
    t0=$(date +%s%N)
    CODE=$(curl -sS --max-time 15 --cacert "$P/ca.pem" --resolve "$host:$PORT:127.0.0.1" \
        --cert "$P/$cert.pem" --key "$P/$cert.key" \
        -H 'Accept: application/json, application/problem+json' \
        -o "$T/body.$cert" -w '%{http_code}' "https://$host:$PORT$path" 2>"$T/curl.err" || true)
    t1=$(date +%s%N)
    MS=$(( (t1 - t0) / 1000000 ))
    BODY=$(cat "$T/body.$cert" 2>/dev/null || true)
}
field() { printf '%s' "$BODY" | python3 -c 'import json,sys; print(json.load(sys.stdin).get(sys.argv[1], "-"))' "$1" 2>/dev/null || echo -; }
# this_update of the leaf's revocation answer in the certificate-info JSON
leaf_this_update() {
    printf '%s' "$BODY" | python3 -c '
import json, sys
def first(o):
    if isinstance(o, dict):
        if isinstance(o.get("path"), list) and o["path"]:
            return o["path"][0]["revocation"]["this_update"]
        o = list(o.values())
    if isinstance(o, list):
        for x in o:
            r = first(x)
            if r:
                return r
    return None
print(first(json.load(sys.stdin)) or "-")' 2>/dev/null || echo -
}
waited() {  # waited QUERY: the error-log line saying that request waited, if any
    grep -F "revocation: request /info?c=$1 waited" "$T/error.log" || grep -F "revocation: request /?c=$1 waited" "$T/error.log" || true
}
count() { grep -cE "$1" "$T/error.log" || true; }

cg_log "OCSP answer refreshed in the background (refresh: 3s)"
get bg bg-ocsp "/info?c=bg-1"
cg_check "bg 1: 200" 200 "$CODE"
tu1=$(leaf_this_update)
cg_match "bg 1: the first request waited for the first answer" "waited [0-9]+ ms for answers \(fetches over\)" "$(waited bg-1)"
# The refresh comes about 2 s after the first fetch, on its own.
cg_waitlog "$T/error.log" 'revocation: refreshed in the background: OCSP answer for serial 3001 from http://127\.0\.0\.1:[0-9]+/: good' 10 \
    && cg_ok "bg: refreshed in the background" || cg_fail "bg: no background refresh"
get bg bg-ocsp "/info?c=bg-2"
cg_check "bg 2: 200" 200 "$CODE"
cg_check "bg 2: did not wait" "" "$(waited bg-2)"
tu2=$(leaf_this_update)
if [[ "$tu1" != - && "$tu2" != - && "$tu2" > "$tu1" ]]; then
    cg_ok "bg 2: answered from the refreshed answer (thisUpdate $tu1 -> $tu2)"
else
    cg_fail "bg 2: thisUpdate $tu1 -> $tu2, expected a later one"
fi
if [ "$MS" -lt 1000 ]; then cg_ok "bg 2: served in $MS ms"; else cg_fail "bg 2: took $MS ms"; fi

cg_log "a revocation reaches the next request through the background refresh"
sed -i 's/^V\(\t[0-9Z]*\t\)\t3001\t/R\1250701000000Z,keyCompromise\t3001\t/' "$P/index.txt"
grep -q '^R.*3001' "$P/index.txt" || cg_fail "bg: index not updated"
cg_waitlog "$T/error.log" 'refreshed in the background: OCSP answer for serial 3001 from [^ ]*: revoked' 15 \
    && cg_ok "bg: the revocation was fetched in the background" || cg_fail "bg: revocation not fetched"
get bg bg-ocsp "/?c=bg-3"
cg_check "bg 3: 403.13" "403.13" "$(field code)"
cg_match "bg 3: the date and reason" "revoked by its issuer on 2025-07-01T00:00:00Z, reason keyCompromise \(OCSP\)" "$(field detail)"
cg_check "bg 3: did not wait" "" "$(waited bg-3)"
n=$(count 'revocation: request .*c=bg-[0-9] waited')
cg_check "bg: of three requests, only the first waited" 1 "$n"

cg_log "fetched CRL refreshed before its nextUpdate; a failed refresh keeps the held answer"
# Nothing revoked yet, nextUpdate 16 s away: refreshed about 4 s before it.
"$CERTGATE" pki crl --issuer "$P/ca.pem" --issuer-key "$P/ca.key" --number 1 \
    --this-update -1s --next-update +16s --out "$W/bg.crl" --der >/dev/null
# The next CRL, revoking bg-crl, put in place once a refresh has failed
# (made now, not older than the first: an older one would not replace it).
"$CERTGATE" pki crl --issuer "$P/ca.pem" --issuer-key "$P/ca.key" --number 2 --revoke-serial 3002 \
    --reason superseded --this-update -1s --out "$W/bg.crl.new" --der >/dev/null
get bgcrl bg-crl "/?c=crl-1"
cg_check "crl 1: 200" 200 "$CODE"
cg_match "crl 1: waited for the first fetch" "waited [0-9]+ ms" "$(waited crl-1)"
hits0=$(grep -c '^/bg.crl' "$W/.hits" || true)
mv "$W/bg.crl" "$W/bg.crl.away"
cg_waitlog "$T/error.log" "background refresh failed: CRL $H/bg\.crl: HTTP 404; the answer held .* stays in use until it is due, retried in 1 s" 15 \
    && cg_ok "crl: the failed refresh is logged" || cg_fail "crl: no failed-refresh line"
get bgcrl bg-crl "/?c=crl-2"
cg_check "crl 2: still 200 from the held answer" 200 "$CODE"
cg_check "crl 2: did not wait" "" "$(waited crl-2)"
mv "$W/bg.crl.new" "$W/bg.crl"
cg_waitlog "$T/error.log" "refreshed in the background: CRL $H/bg\.crl: 1 entries" 10 \
    && cg_ok "crl: the retry brought the new CRL" || cg_fail "crl: no refresh after the retry"
hits1=$(grep -c '^/bg.crl' "$W/.hits" || true)
if [ $((hits1 - hits0)) -ge 2 ] && [ $((hits1 - hits0)) -le 3 ]; then
    cg_ok "crl: $((hits1 - hits0)) fetches for the failure and the retry"
else
    cg_fail "crl: $((hits1 - hits0)) fetches for the failure and the retry, expected 2 or 3"
fi
get bgcrl bg-crl "/?c=crl-3"
cg_check "crl 3: 403.13" "403.13" "$(field code)"
cg_match "crl 3: reason from the CRL" "reason superseded \(CRL\)" "$(field detail)"
cg_check "crl 3: did not wait" "" "$(waited crl-3)"

cg_log "delta CRLs named by freshestCRL: refused explicitly, judged on the base CRL"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$P/delta-leaf.key" \
    -subj /CN=delta-leaf -out "$T/delta.csr" 2>/dev/null
printf '%s\n' "basicConstraints = critical, CA:FALSE" "keyUsage = critical, digitalSignature" \
    "extendedKeyUsage = clientAuth" "crlDistributionPoints = URI:$H/base.crl" \
    "freshestCRL = URI:$H/delta.crl" >"$T/delta.ext"
openssl x509 -req -in "$T/delta.csr" -CA "$P/ca.pem" -CAkey "$P/ca.key" -set_serial 0x3200 \
    -days 30 -extfile "$T/delta.ext" -out "$P/delta-leaf.pem" 2>/dev/null
"$CERTGATE" pki crl --issuer "$P/ca.pem" --issuer-key "$P/ca.key" --next-update +30d \
    --out "$W/base.crl" --der >/dev/null
get bgcrl delta-leaf "/info?c=delta"
cg_check "delta: 200 on the base CRL" 200 "$CODE"
cg_match "delta: the refusal is logged with the wait" \
    "fetched: delta CRL $H/delta\.crl: not fetched: delta CRLs \(freshestCRL\) are not supported; judged on the base CRL alone; CRL GET $H/base\.crl: HTTP 200" \
    "$(waited delta)"
cg_match "delta: and said in the path report" \
    "delta CRL $H/delta\.crl: not fetched: delta CRLs \(freshestCRL\) are not supported" "$BODY"
cg_check "delta: the delta CRL was not fetched" 0 "$(grep -c '^/delta.crl' "$W/.hits" || true)"

cg_log "per-site timeout: 1 s and 3 s against one responder that never answers"
run_bg() {  # run_bg NAME SITE CERT QUERY: a request in the background, its code and ms in $T/NAME
    local name=$1 host=$2.test cert=$3 q=$4
    ( t0=$(date +%s%N)
      c=$(curl -sS --max-time 15 --cacert "$P/ca.pem" --resolve "$host:$PORT:127.0.0.1" \
          --cert "$P/$cert.pem" --key "$P/$cert.key" -H 'Accept: application/problem+json' \
          -o "$T/$name.body" -w '%{http_code}' "https://$host:$PORT/?c=$q" 2>/dev/null || true)
      echo "$c $(( ($(date +%s%N) - t0) / 1000000 ))" >"$T/$name" ) &
    CG_PIDS+=("$!")
    printf -v "PID_$name" '%s' "$!"
}
run_bg long long hang hang-long
cg_waitlog "$W/.hits" '^/hang' 10 || cg_fail "hang: the responder was never asked"
run_bg short short hang hang-short
wait "$PID_short" "$PID_long" || true
read -r code_s ms_s <"$T/short"
read -r code_l ms_l <"$T/long"
cg_check "short: 403" 403 "$code_s"
cg_check "long: 403" 403 "$code_l"
cg_match "short: timed out at its own timeout" "timeout 1000 ms" "$(cat "$T/short.body")"
cg_match "long: timed out at its own timeout" "timeout 3000 ms" "$(cat "$T/long.body")"
if [ "$ms_s" -ge 1000 ] && [ "$ms_s" -le 1900 ]; then cg_ok "short: answered after $ms_s ms (timeout 1 s)"
else cg_fail "short: answered after $ms_s ms, expected within [1000, 1900]"; fi
if [ "$ms_l" -ge 3000 ] && [ "$ms_l" -le 4200 ]; then cg_ok "long: answered after $ms_l ms (timeout 3 s)"
else cg_fail "long: answered after $ms_l ms, expected within [3000, 4200]"; fi
cg_check "one fetch for both sites" 1 "$(grep -c '^/hang' "$W/.hits" || true)"

cg_log "scope chain under mode crl: the intermediate's CRL is fetched"
get chain chain-leaf "/?c=chain"
cg_check "chain: 403" 403 "$CODE"
cg_check "chain: 403.13 revoked" "403.13 revoked" "$(field code) $(field reason)"
cg_match "chain: the intermediate is the one revoked" "Refresh Test Intermediate.*revoked by its issuer on .*reason cACompromise \(CRL\)" "$(field detail)"
cg_check "chain: the root's CRL was fetched" 1 "$(grep -c '^/root.crl' "$W/.hits" || true)"
get leafonly chain-leaf "/?c=leafonly"
cg_check "scope leaf: 200" 200 "$CODE"

cg_log "on_unknown: allow is logged and carried in the access log"
get allow down "/?c=allowed"
cg_check "allow: 200" 200 "$CODE"
cg_waitlog "$T/error.log" 'served with revocation status unknown \(on_unknown: allow\): site allow, /' 10 \
    && cg_ok "allow: the warn line" || cg_fail "allow: no warn line"
cg_stop main
cg_check "server stopped cleanly" 0 "$CG_RC"
line=$(grep -F 'c=allowed' "$T/access.log" || true)
cg_match "allow: x-reason revocation-unknown-allowed in the access log" " 200 0 0 .* revocation-unknown-allowed " "$line"

cg_done
