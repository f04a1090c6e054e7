#!/usr/bin/env bash
# revocation_crl_skew.sh: `revocation.clock_skew` for the CRLs of the stores
# that OpenSSL's own check reads during path building (mode crl, no http://
# distribution point in scope): a CRL whose thisUpdate lies a little ahead
# of the clock (the CA's clock runs ahead) counts within the leeway, and
# still revokes what it lists; beyond the leeway it is "not valid yet"
# (403.16 revocation-unknown).
#
# Cases: `certgate verify --stores --at` (deterministic times) with
# --clock-skew 300 / 0 / the default, a revoked certificate under the
# leeway, a CRL 400 s ahead under 300 s; `certgate serve` with three sites
# on the same stores (clock_skew 5m, 1m and 0s) and a CRL 120 s ahead of
# the moment it was made: 200 / 403.16 / 403.16, the revoked client 403.13,
# and one chain asked of every site in turn (the verification cache keys
# each verdict with its site's skew). Every process started here is stopped
# by its pid.
. "$(dirname "$0")/lib.sh"

P="$T/pki"
S="$T/stores"
S2="$T/stores-far"
mkdir -p "$P" "$T/www"
printf 'members-only\n' >"$T/www/index.html"

now=$(date +%s)
"$CERTGATE" pki issue --profile root --cn "CRL Skew Test CA" \
    --out "$P/ca.pem" --key-out "$P/ca.key" --not-before -1d >/dev/null
for n in lenient.test narrow.test strict.test; do
    "$CERTGATE" pki issue --profile server --cn "$n" --dns "$n" --ip 127.0.0.1 \
        --issuer "$P/ca.pem" --issuer-key "$P/ca.key" --out "$P/$n.pem" --key-out "$P/$n.key" >/dev/null
done
# Clients with no CRL distribution point: the stores' CRL is the only source.
for n in good:3001 revoked:3002; do
    "$CERTGATE" pki issue --profile client --cn "${n%%:*}" --serial "${n##*:}" --not-before -1d \
        --issuer "$P/ca.pem" --issuer-key "$P/ca.key" \
        --out "$P/${n%%:*}.pem" --key-out "$P/${n%%:*}.key" >/dev/null
done
# The CA's CRL dated 120 s (and, in other stores, 400 s) ahead of `now`.
"$CERTGATE" pki crl --issuer "$P/ca.pem" --issuer-key "$P/ca.key" --revoke-serial 3002 \
    --reason keyCompromise --revoked-at "@$((now - 3600))" --this-update "@$((now + 120))" \
    --out "$P/ahead.crl" >/dev/null
"$CERTGATE" pki crl --issuer "$P/ca.pem" --issuer-key "$P/ca.key" --revoke-serial 3002 \
    --this-update "@$((now + 400))" --out "$P/far.crl" >/dev/null
for s in "$S:ahead" "$S2:far"; do
    "$CERTGATE" store import --stores "${s%%:*}" "$P/ca.pem" >/dev/null
    "$CERTGATE" store import --stores "${s%%:*}" "$P/${s##*:}.crl" >/dev/null
done

# verify NAME STORES [options]: sets RC and OUT, judged at `now`.
verify() {
    local name=$1 stores=$2; shift 2
    RC=0
    OUT=$("$CERTGATE" verify "$P/$name.pem" --stores "$stores" --at "@$now" "$@" 2>&1) || RC=$?
    printf '%s\n' "$OUT" >>"$T/verify.log"
}

cg_log "certgate verify: a store CRL 120 s ahead"
verify good "$S" --revocation crl --clock-skew 300
cg_check "120 s ahead, --clock-skew 300: accepted" 0 "$RC"
cg_match "120 s ahead, --clock-skew 300: said" "200" "$OUT"
verify good "$S" --revocation crl
cg_check "120 s ahead, default leeway (300 s): accepted" 0 "$RC"
verify good "$S" --revocation crl --clock-skew 120
cg_check "120 s ahead, --clock-skew 120 (the edge): accepted" 0 "$RC"
for skew in 119 0; do
    verify good "$S" --revocation crl --clock-skew "$skew"
    cg_check "120 s ahead, --clock-skew $skew: refused" 1 "$RC"
    cg_match "120 s ahead, --clock-skew $skew: 403.16 revocation-unknown" \
        "403\.16 revocation-unknown" "$OUT"
    cg_match "120 s ahead, --clock-skew $skew: the CRL is not valid yet" \
        "CRL that is not valid yet" "$OUT"
done
verify revoked "$S" --revocation crl --clock-skew 300
cg_check "revoked, 120 s ahead, --clock-skew 300: refused" 1 "$RC"
cg_match "revoked, 120 s ahead, --clock-skew 300: 403.13 revoked" "403\.13 revoked" "$OUT"
verify good "$S" --revocation crl --clock-skew 300 --json
cg_check "--json: accepted" 0 "$RC"
cg_check "--json: status 200, no problem on the leaf" "200 0" \
    "$(printf '%s' "$OUT" | python3 -c 'import json,sys; v=json.load(sys.stdin); print(v["verdict"]["status"], len(v["path"][0]["problems"]))')"

cg_log "certgate verify: a store CRL 400 s ahead"
verify good "$S2" --revocation crl --clock-skew 300
cg_check "400 s ahead, --clock-skew 300: refused" 1 "$RC"
cg_match "400 s ahead, --clock-skew 300: 403.16 revocation-unknown" "403\.16 revocation-unknown" "$OUT"
verify good "$S2" --revocation crl --clock-skew 400
cg_check "400 s ahead, --clock-skew 400: accepted" 0 "$RC"

# ---- the server: three sites on the stores with the CRL 120 s ahead ----
cat >"$T/cg.yaml" <<EOF
workers: 2
stores: $S
access_log: { path: $T/access.log, format: w3c }
error_log: { path: $T/error.log, level: info }
sites:
  - name: lenient
    hostnames: [lenient.test]
    root: $T/www
    client_certificates: require
    revocation: { mode: crl, clock_skew: 5m }
    bindings:
      - { listen: "127.0.0.1:0", tls: true, certificate: $P/lenient.test.pem, key: $P/lenient.test.key }
  - name: narrow
    hostnames: [narrow.test]
    root: $T/www
    client_certificates: require
    revocation: { mode: crl, clock_skew: 1m }
    bindings:
      - { listen: "127.0.0.1:0", tls: true, certificate: $P/narrow.test.pem, key: $P/narrow.test.key }
  - name: strict
    hostnames: [strict.test]
    root: $T/www
    client_certificates: require
    revocation: { mode: crl, clock_skew: 0s }
    bindings:
      - { listen: "127.0.0.1:0", tls: true, certificate: $P/strict.test.pem, key: $P/strict.test.key }
EOF
cg_start main "$T/cg.yaml"
PORT=$(cg_port main 127.0.0.1:0)

# get HOST CERT: sets CODE and BODY (problem+json)
get() {
    local host=$1 cert=$2
    CODE=$(curl -sS --max-time 10 --cacert "$P/ca.pem" --resolve "$host:$PORT:127.0.0.1" \
        --cert "$P/$cert.pem" --key "$P/$cert.key" -H 'Accept: application/problem+json' \
        -o "$T/body" -w '%{http_code}' "https://$host:$PORT/" 2>"$T/curl.err" || true)
    BODY=$(cat "$T/body" 2>/dev/null || true)
}
field() { printf '%s' "$BODY" | python3 -c 'import json,sys; print(json.load(sys.stdin).get(sys.argv[1], "-"))' "$1" 2>/dev/null || echo -; }

# The server judges at its own clock, a few seconds after `now`: the CRL is
# then a little less than 120 s ahead, well inside 5m and outside 1m and 0s.
cg_log "certgate serve: clock_skew per site"
for round in 1 2; do
    get lenient.test good
    cg_check "round $round: lenient (5m), good: 200" 200 "$CODE"
    cg_check "round $round: lenient (5m), good: content" "members-only" "$BODY"
    get narrow.test good
    cg_check "round $round: narrow (1m), good: 403" 403 "$CODE"
    cg_check "round $round: narrow (1m), good: 403.16 revocation-unknown" \
        "16 revocation-unknown" "$(field substatus) $(field reason)"
    get strict.test good
    cg_check "round $round: strict (0s), good: 403" 403 "$CODE"
    cg_check "round $round: strict (0s), good: 403.16 revocation-unknown" \
        "16 revocation-unknown" "$(field substatus) $(field reason)"
    cg_match "round $round: strict (0s): the detail says why" "CRL that is not valid yet" \
        "$(field detail)"
    get lenient.test revoked
    cg_check "round $round: lenient (5m), revoked: 403.13 revoked" "403 13 revoked" \
        "$CODE $(field substatus) $(field reason)"
done
# The access log, complete once the server has stopped.
cg_stop main
cg_check "server stopped cleanly" 0 "$CG_RC"
# W3C fields: 13 cs-host, 14 sc-status, 15 sc-substatus, 20 x-reason, 22 the subject.
for row in "lenient good 200 0 ok" "narrow good 403 16 revocation-unknown" \
    "strict good 403 16 revocation-unknown" "lenient revoked 403 13 revoked"; do
    set -- $row
    cg_check "access log: $1.test, $2: $3.$4 $5 twice" 2 \
        "$(awk -v h="$1.test:$PORT" -v u="$2" -v st="$3" -v ss="$4" -v r="$5" \
            '$22 == "CN=" u && $13 == h && $14 == st && $15 == ss && $20 == r' "$T/access.log" | wc -l)"
done

cg_done
