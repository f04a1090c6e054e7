#!/usr/bin/env bash
# revocation_server.sh: `certgate serve` checks revocation online without
# stalling its loop. Real components on 127.0.0.1: `openssl ocsp` as the
# OCSP responders, a small HTTP server for CRLs and a hanging responder
# (revocation_httpd.py), curl and `openssl s_client` as clients; every
# process started here is stopped by its pid.
#
# Cases: good by OCSP (200); revoked by OCSP (403.13, date and reason in the
# detail); revoked by a fetched CRL (403.13), under ocsp+crl and under crl;
# responder down under on_unknown deny (403.16 revocation-unknown, what was
# tried in the page and the error log) and allow (200, logged); a responder
# that accepts and never answers: the request completes at about `timeout`
# while a client on another connection is served at once; answers persisted
# in state_dir serve after a restart with the responder gone; a certificate
# revoked while its client holds a TLS session: the resumed session gets
# 403.13 once the cached answer is due (refresh: 1s).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/revocation_lib.sh"

P="$T/pki"
S="$T/stores"
W="$T/crls"
mkdir -p "$P" "$S" "$W" "$T/www/open"
printf 'members-only\n' >"$T/www/index.html"
printf 'open\n' >"$T/www/open/index.html"

start_ocsp() { start_ocsp_responder "$1" "$2" ca; }  # start_ocsp NAME INDEX: signing as the CA

# ---- PKI: one CA (the root store), leaves with fixed serials ----
"$CERTGATE" pki issue --profile root --cn "Revocation Server Test CA" \
    --out "$P/ca.pem" --key-out "$P/ca.key" >/dev/null
"$CERTGATE" store import --stores "$S" "$P/ca.pem" >/dev/null
for n in deny.test allow.test crl.test fresh.test; do
    "$CERTGATE" pki issue --profile server --cn "$n" --dns "$n" --ip 127.0.0.1 \
        --issuer "$P/ca.pem" --issuer-key "$P/ca.key" --out "$P/$n.pem" --key-out "$P/$n.key" >/dev/null
done
far=491231000000Z
{
    printf 'V\t%s\t\t2001\tunknown\t/CN=good\n' "$far"
    printf 'R\t%s\t250101000000Z,keyCompromise\t2002\tunknown\t/CN=revoked-ocsp\n' "$far"
    printf 'V\t%s\t\t2009\tunknown\t/CN=victim\n' "$far"
} >"$P/index.txt"
printf 'unique_subject = no\n' >"$P/index.txt.attr"
printf 'V\t%s\t\t2008\tunknown\t/CN=persist\n' "$far" >"$P/index2.txt"
printf 'unique_subject = no\n' >"$P/index2.txt.attr"

start_httpd "$W"
start_ocsp ocsp "$P/index.txt"
start_ocsp ocsp2 "$P/index2.txt"
OCSP="http://127.0.0.1:$PORT_ocsp/"
cg_log "CRLs and the hanging responder at $H, OCSP at $OCSP and :$PORT_ocsp2"

leaf() {  # leaf NAME SERIAL [issue options]
    local name=$1 serial=$2; shift 2
    "$CERTGATE" pki issue --profile client --cn "$name" --serial "$serial" \
        --issuer "$P/ca.pem" --issuer-key "$P/ca.key" \
        --out "$P/$name.pem" --key-out "$P/$name.key" "$@" >/dev/null
}
leaf good 2001 --ocsp-url "$OCSP"
leaf revoked-ocsp 2002 --ocsp-url "$OCSP"
leaf revoked-crl 2003 --crl-url "$H/ca.crl"
leaf crl-good 2004 --crl-url "$H/ca.crl"
leaf down 2005 --ocsp-url "http://127.0.0.1:1/"
leaf hang 2006 --ocsp-url "$H/hang"
leaf persist 2008 --ocsp-url "http://127.0.0.1:$PORT_ocsp2/"
leaf victim 2009 --ocsp-url "$OCSP"
"$CERTGATE" pki crl --issuer "$P/ca.pem" --issuer-key "$P/ca.key" --revoke-serial 2003 \
    --reason keyCompromise --out "$W/ca.crl" --der >/dev/null

# config FILE REFRESH
config() {
    cat >"$1" <<EOF
workers: 2
stores: $S
state_dir: $T/state
access_log: { path: $T/access.log, format: w3c }
error_log: { path: $T/error.log, level: info }
revocation: { refresh: $2 }
sites:
  - name: deny
    hostnames: [deny.test]
    root: $T/www
    client_certificates: require
    revocation: { mode: ocsp+crl, on_unknown: deny, timeout: 2s }
    locations:
      - { path: /open, client_certificates: ignore }
    bindings:
      - { listen: "127.0.0.1:0", tls: true, certificate: $P/deny.test.pem, key: $P/deny.test.key }
  - name: allow
    hostnames: [allow.test]
    root: $T/www
    client_certificates: require
    revocation: { mode: ocsp, on_unknown: allow, timeout: 2s }
    bindings:
      - { listen: "127.0.0.1:0", tls: true, certificate: $P/allow.test.pem, key: $P/allow.test.key }
  - name: crl
    hostnames: [crl.test]
    root: $T/www
    client_certificates: require
    revocation: { mode: crl, timeout: 2s }
    bindings:
      - { listen: "127.0.0.1:0", tls: true, certificate: $P/crl.test.pem, key: $P/crl.test.key }
EOF
}
config "$T/a.yaml" 1h
cg_start main "$T/a.yaml"
PORT=$(cg_port main 127.0.0.1:0)

# get HOST CERT PATH: sets CODE and BODY (problem+json), MS (elapsed)
get() {
    local host=$1 cert=$2 path=$3 t0 t1
    t0=$(date +%s%N)
    CODE=$(curl -sS --max-time 15 --cacert "$P/ca.pem" --resolve "$host:$PORT:127.0.0.1" \
        --cert "$P/$cert.pem" --key "$P/$cert.key" -H 'Accept: application/problem+json' \
        -o "$T/body" -w '%{http_code}' "https://$host:$PORT$path" 2>"$T/curl.err" || true)
    t1=$(date +%s%N)
    MS=$(( (t1 - t0) / 1000000 ))
    BODY=$(cat "$T/body" 2>/dev/null || true)
}
field() { printf '%s' "$BODY" | python3 -c 'import json,sys; print(json.load(sys.stdin).get(sys.argv[1], "-"))' "$1" 2>/dev/null || echo -; }

cg_log "good by OCSP"
get deny.test good "/?c=good"
cg_check "good: 200" 200 "$CODE"
cg_check "good: content served" "members-only" "$BODY"

cg_log "revoked by OCSP"
get deny.test revoked-ocsp "/?c=revoked-ocsp"
cg_check "revoked by OCSP: 403" 403 "$CODE"
cg_check "revoked by OCSP: 403.13" "403.13" "$(field code)"
cg_match "revoked by OCSP: date and reason in the detail" \
    "revoked by its issuer on 2025-01-01T00:00:00Z, reason keyCompromise \(OCSP\)" "$(field detail)"

cg_log "revoked by a fetched CRL"
get deny.test revoked-crl "/?c=revoked-crl"
cg_check "revoked by CRL (ocsp+crl): 403.13" "403.13" "$(field code)"
cg_match "revoked by CRL (ocsp+crl): the CRL said so" "reason keyCompromise \(CRL\)" "$(field detail)"
get crl.test revoked-crl "/?c=revoked-crl-mode"
cg_check "revoked by CRL (mode crl): 403.13" "403.13" "$(field code)"
get crl.test crl-good "/?c=crl-good"
cg_check "good by CRL (mode crl): 200" 200 "$CODE"

cg_log "responder down"
get deny.test down "/?c=down-deny"
cg_check "down, deny: 403.16" "403.16" "$(field code)"
cg_check "down, deny: revocation-unknown" "revocation-unknown" "$(field reason)"
cg_match "down, deny: the URL tried in the detailed answer" "http://127\.0\.0\.1:1/" "$BODY"
# Refused at once (no parking) when the refusal came before the fetch was
# even queued: either way the answer says how the fetch went.
cg_match "down, deny: the timing in the detailed answer" "fetches over (after [0-9]+ ms|at once)" "$BODY"
cg_match "down, deny: the fetch outcome in the detailed answer" \
    "fetched: OCSP POST http://127\.0\.0\.1:1/: [^;\"]*(connect|refused)[^;\"]* \([0-9]+ ms\)" "$BODY"
cg_waitlog "$T/error.log" 'refused 403\.16 revocation-unknown.*revocation \[0\]: unknown, tried: OCSP http://127\.0\.0\.1:1/' 10 \
    && cg_ok "down, deny: the error log says what was tried" \
    || cg_fail "down, deny: no error-log line with what was tried"
curl -sS --max-time 10 --cacert "$P/ca.pem" --resolve "deny.test:$PORT:127.0.0.1" \
    --cert "$P/down.pem" --key "$P/down.key" -o "$T/down.html" "https://deny.test:$PORT/?c=down-html" || true
cg_match "down, deny: the page shows what was tried" "Tried: OCSP http://127\.0\.0\.1:1/" "$(cat "$T/down.html")"
# Asked again, the dead responder is not while its failure backoff runs:
# the negative cache says so. The backoff starts at 1 s and doubles with each
# failed fetch (up to 60 s), and a loaded machine may take longer than 1 s
# between two requests, so the requests go on until one falls inside the
# backoff: each is refused, and either fetched and failed again (doubling the
# backoff) or was not asked; the 7th request falls in a 32-60 s backoff
# unless the machine took over 30 s between two requests.
backoff_seen=no
for i in 1 2 3 4 5 6 7; do
    get deny.test down "/?c=down-again-$i"
    [ "$(field code)" = 403.16 ] || { cg_fail "down again ($i): $(field code), not 403.16"; break; }
    if printf '%s' "$BODY" | grep -q 'failed recently: not asked again yet'; then
        backoff_seen=yes; break
    fi
    cg_match "down again ($i): fetched again, and failed" \
        "fetched: OCSP POST http://127\.0\.0\.1:1/: [^;\"]*(connect|refused)" "$BODY"
done
cg_check "down again: not asked again during the backoff" yes "$backoff_seen"
get allow.test down "/?c=down-allow"
cg_check "down, allow: 200" 200 "$CODE"
cg_waitlog "$T/error.log" 'served with revocation status unknown \(on_unknown: allow\): site allow.*http://127\.0\.0\.1:1/' 10 \
    && cg_ok "down, allow: logged" || cg_fail "down, allow: no log line"

cg_log "a responder that accepts and never answers (timeout 2s)"
t0=$(date +%s%N)
curl -sS --max-time 15 --cacert "$P/ca.pem" --resolve "deny.test:$PORT:127.0.0.1" \
    --cert "$P/hang.pem" --key "$P/hang.key" -H 'Accept: application/problem+json' \
    -o "$T/hang.body" -w '%{http_code}\n' "https://deny.test:$PORT/?c=hang" >"$T/hang.code" 2>&1 &
HANG=$!
CG_PIDS+=("$HANG")
# The request is parked once the fetch reached the responder.
cg_waitlog "$W/.hits" '^/hang' 10 || cg_fail "hang: the responder was never asked"
get deny.test good "/open/?c=meanwhile"
cg_check "meanwhile: another client served" 200 "$CODE"
if [ "$MS" -lt 1000 ]; then cg_ok "meanwhile: served in $MS ms"; else cg_fail "meanwhile: took $MS ms"; fi
wait "$HANG" || true
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
cg_check "hang: 403" 403 "$(cat "$T/hang.code")"
BODY=$(cat "$T/hang.body")
cg_check "hang: 403.16 revocation-unknown" "403.16 revocation-unknown" "$(field code) $(field reason)"
cg_match "hang: the wait is in the answer" "no answer within the revocation timeout \([0-9]+ ms waited, timeout 2000 ms\)" "$BODY"
if [ "$ms" -ge 2000 ] && [ "$ms" -le 4000 ]; then
    cg_ok "hang: answered after $ms ms (timeout 2000 ms)"
else
    cg_fail "hang: answered after $ms ms, expected within [2000, 4000]"
fi

cg_log "answers persisted under state_dir outlive a restart and the responder"
get deny.test persist "/?c=persist-1"
cg_check "persist: first answer fetched, 200" 200 "$CODE"
stop_bg ocsp2
cg_stop main
cg_check "first server stopped cleanly" 0 "$CG_RC"
n=$(find "$T/state/revocation/ocsp" -type f | wc -l)
if [ "$n" -ge 1 ]; then cg_ok "persist: $n OCSP answers on disk"; else cg_fail "persist: nothing on disk"; fi
cg_start main "$T/a.yaml"
PORT=$(cg_port main 127.0.0.1:0)
get deny.test persist "/?c=persist-2"
cg_check "persist: responder gone, after restart: 200" 200 "$CODE"
if [ "$MS" -lt 1000 ]; then cg_ok "persist: answered from the cache in $MS ms"; else cg_fail "persist: took $MS ms"; fi
cg_stop main

cg_log "revoked while the client holds a session (refresh: 1s)"
config "$T/b.yaml" 1s
cg_start main "$T/b.yaml"
PORT=$(cg_port main 127.0.0.1:0)
sclient() {  # sclient QUERY OUT [args]: one GET over TLS 1.2 (a session id can be reused)
    local q=$1 out=$2; shift 2
    printf 'GET /?%s HTTP/1.1\r\nHost: deny.test\r\nConnection: close\r\n\r\n' "$q" |
        timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -servername deny.test -tls1_2 \
            -CAfile "$P/ca.pem" -ign_eof "$@" >"$out" 2>&1 || true
}
status_of() { awk '/^HTTP\/1\.1 / { print $2; exit }' "$1"; }
sclient c=victim-1 "$T/victim-1.txt" -cert "$P/victim.pem" -key "$P/victim.key" -sess_out "$T/victim.sess"
cg_check "victim: served before revocation" 200 "$(status_of "$T/victim-1.txt")"
# The responder reads its index again when it changes.
sed -i 's/^V\(\t[0-9Z]*\t\)\t2009\t/R\1250601000000Z,superseded\t2009\t/' "$P/index.txt"
grep -q '^R.*2009' "$P/index.txt" || cg_fail "victim: index not updated"
# The cached good answer serves until it is due (refresh 1s): resume until
# the answer changes, for at most 10 s; each try is a real resumed request.
got=""
deadline=$(( $(date +%s) + 10 ))
i=0
while [ "$(date +%s)" -lt "$deadline" ]; do
    i=$((i + 1))
    sclient "c=victim-r$i" "$T/victim-r.txt" -sess_in "$T/victim.sess"
    got=$(status_of "$T/victim-r.txt")
    [ "$got" = 403 ] && break
done
cg_check "victim: resumed session refused" 403 "$got"
cg_match "victim: the session was resumed" '^Reused, ' "$(grep -E '^(New|Reused), ' "$T/victim-r.txt" | tail -n 1)"
cg_match "victim: 403.13 revoked" "403.13 &middot; revoked" "$(cat "$T/victim-r.txt")"
cg_match "victim: date and reason" "revoked by its issuer on 2025-06-01T00:00:00Z, reason superseded \(OCSP\)" \
    "$(cat "$T/victim-r.txt")"

cg_log "a reload changing the fetcher's default timeout says a restart applies it"
sed 's/timeout: 2s/timeout: 4s/' "$T/b.yaml" >"$T/c.yaml"
cp "$T/c.yaml" "$T/b.yaml"
kill -HUP "$CG_PID_main"
cg_waitlog "$T/error.log" "reload: the revocation fetcher's default timeout \(2000 ms, now 4000 ms\).*restart to apply" 10 \
    && cg_ok "reload: the timeout change is said to need a restart" \
    || cg_fail "reload: no warning for the fetcher's timeout"
cg_stop main
cg_check "server stopped cleanly" 0 "$CG_RC"

cg_done
