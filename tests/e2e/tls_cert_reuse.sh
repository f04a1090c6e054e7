# tls_cert_reuse.sh: decoded peer certificates kept per thread
# (limits.decoded_certificates, limits.decoded_certificate_max_bytes;
# src/tls/cert_reuse.h) on a real server with real clients, counted through
# the admin endpoint's certgate_decoded_certificates* series. One worker
# thread, so every certificate is decoded on the one thread and the counts
# are exact:
#   - on (the defaults): N full handshakes (TLS 1.2 and 1.3, one curl
#     process each, no session offered) with a client sending its leaf and
#     its issuing CA: both decoded once, then handed out again N - 1 times
#     each; every request served with that client's certificate;
#   - clients taking turns (alice with her CA, bob and carol with their leaf
#     only) each get their own certificate, never another's: the access
#     log's thumbprint and subject of every request are the sender's;
#   - verdicts do not change: with the verification cache off, each cause
#     (good, revoked, untrusted root, bad signature on the certificate,
#     expired) asked twice, the second time from a reused certificate, gets
#     what a server that keeps nothing (decoded_certificates: 0) gives; a
#     forged CertificateVerify over a reused certificate still ends the
#     handshake with decrypt_error;
#   - decoded_certificate_max_bytes one byte under the larger of alice's two
#     certificates: that one is decoded every time, the other kept;
#   - decoded_certificates: 1 keeps one certificate: the leaf and the CA
#     push each other out; 0 keeps none;
#   - `config check` refuses the keys out of range (file:line:col) and
#     prints their defaults; a reload that changes them says to restart.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/clientcert_lib.sh"

cc_pki_full   # P=$T/pki, S=$T/stores
cc_issue "$P" bob ca --profile client --cn "bob"
cc_issue "$P" carol ca --profile client --cn "carol"
# alice: good's certificate sent with its issuing CA.
cp "$P/good.key" "$P/alice.key"
cat "$P/good.pem" "$P/ca.pem" >"$P/alice.pem"
mkdir -p "$T/www"
printf 'hi\n' >"$T/www/index.html"

der_size() { openssl x509 -in "$1" -outform der | wc -c; }
LEAF=$(der_size "$P/good.pem")
CA=$(der_size "$P/ca.pem")
cg_log "sizes: good's certificate $LEAF bytes, the issuing CA's $CA"
[ "$CA" != "$LEAF" ] || { echo "the test needs certificates of two sizes"; exit 1; }
LARGER=$((CA > LEAF ? CA : LEAF))


# kept NAME: "reused kept evicted held" from NAME's last scrape.
kept() {
    echo "$(cc_value "$1" certgate_decoded_certificates_reused_total)" \
        "$(cc_value "$1" certgate_decoded_certificates_kept_total)" \
        "$(cc_value "$1" certgate_decoded_certificates_evicted_total)" \
        "$(cc_value "$1" certgate_decoded_certificates)"
}

FULL='certgate_tls_handshakes_total{type="full"}'
RESUMED='certgate_tls_handshakes_total{type="resumed"}'
N=8

cg_log "on (the defaults): $N full handshakes, the leaf and its CA sent"
cc_serve_admin on
cc_scrape on "$FULL" 0
cg_check "on: at start, nothing kept" "0 0 0 0" "$(kept on)"
ALICE_SHA=$(cc_sha256 "$P/good.pem")
codes=""
for i in $(seq 1 $N); do
    v=$((i % 2 ? 2 : 3))
    codes+="$(cc_get on alice "a=$i" --tlsv1.$v --tls-max 1.$v) "
done
cg_check "on: $N requests, all 200" "$(printf '200 %.0s' $(seq 1 $N))" "$codes"
cc_scrape on "$FULL" "$N"
cg_check "on: full handshakes / resumed" "$N 0" "$(cc_value on "$FULL") $(cc_value on "$RESUMED")"
cg_check "on: reused, kept, evicted, held" "$((2 * (N - 1))) 2 0 2" "$(kept on)"
for i in $(seq 1 $N); do
    cg_check "on: request $i: alice's certificate, served" "200 $ALICE_SHA" \
        "$(cc_w3c "$T/on.access.log" "a=$i" sc-status x-client-cert-sha256)"
done

cg_log "clients taking turns: each gets its own certificate"
declare -A SHA=([alice]=$ALICE_SHA [bob]=$(cc_sha256 "$P/bob.pem") [carol]=$(cc_sha256 "$P/carol.pem"))
ORDER="bob carol alice bob bob carol alice carol"
i=0
for who in $ORDER; do
    i=$((i + 1))
    cg_check "turns: request $i ($who): 200" 200 "$(cc_get on "$who" "t=$i-$who")"
done
cc_scrape on "$FULL" $((N + 8))
# bob's and carol's leaves are new (2 kept); every other certificate
# comes again: 8 requests send 10 certificates (alice's two, twice).
cg_check "turns: reused, kept, evicted, held" "$((2 * (N - 1) + 8)) 4 0 4" "$(kept on)"
i=0
for who in $ORDER; do
    i=$((i + 1))
    cg_check "turns: request $i: $who's certificate" "200 ${SHA[$who]}" \
        "$(cc_w3c "$T/on.access.log" "t=$i-$who" sc-status x-client-cert-sha256)"
done

cg_log "verdicts from reused certificates are those of a server that keeps none"
for name in vk vn; do
    [ "$name" = vk ] && k=64 || k=0
    cc_serve_admin "$name" 'revocation: { mode: crl }' "limits: { decoded_certificates: $k, verification_cache_entries: 0 }"
done
NREQ=0
# verdict NAME WHO TAG: "status substatus reason" of one request from WHO.
verdict() {
    local code
    code=$(cc_get "$1" "$2" "v=$3")
    NREQ=$((NREQ + 1))
    echo "$code $(cc_w3c "$T/$1.access.log" "v=$3" sc-substatus x-reason)"
}
for who in good revoked untrusted badsig expired; do
    case $who in
        good) want="200 0 ok" ;;
        revoked) want="403 13 revoked" ;;
        untrusted) want="403 16 untrusted-root" ;;
        badsig) want="403 16 bad-signature" ;;
        expired) want="403 17 expired" ;;
    esac
    for round in 1 2; do
        cg_check "$who ($round): keeping certificates" "$want" "$(verdict vk "$who" "$who$round")"
        cg_check "$who ($round): keeping none" "$want" "$(verdict vn "$who" "$who$round")"
    done
done
cc_scrape vk "$FULL" 10
cc_scrape vn "$FULL" 10
# Each cause's leaf (and untrusted's root) was decoded once and reused once.
cg_check "vk: reused, kept" "6 6" "$(kept vk | cut -d' ' -f1,2)"
cg_check "vn: nothing kept" "0 0 0 0" "$(kept vn)"
$CG_PY forgekey "$P/good.key" "$P/untrusted.key" >"$P/forged.key"
for name in vk vn; do
    out=$(printf 'GET /?v=forged HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n' |
        timeout 10 openssl s_client -connect "127.0.0.1:${CC_PORT[$name]}" -servername a.test -tls1_3 \
            -cert "$P/good.pem" -key "$P/forged.key" -ign_eof 2>&1 || true)
    cg_match "$name: good's certificate, a forged key: decrypt_error" 'alert decrypt error' "$out"
    cc_scrape "$name" 'certgate_tls_handshake_failures_total{kind="certificate-verify-failed"}' 1
    cg_check "$name: counted as certificate-verify-failed" 1 \
        "$(cc_value "$name" 'certgate_tls_handshake_failures_total{kind="certificate-verify-failed"}')"
done
cc_scrape vk certgate_decoded_certificates_reused_total 7
cg_check "vk: the forged handshake's certificate was a reused one" "7 6" "$(kept vk | cut -d' ' -f1,2)"
cg_check "vk: good after the forgery: 200" 200 "$(cc_get vk good v=after)"
for name in vk vn; do
    cg_stop "$name"
    cg_check "$name: exit status" 0 "$CG_RC"
done

cg_log "decoded_certificate_max_bytes: $((LARGER - 1)): the larger certificate decoded every time"
cc_serve_admin small "limits: { decoded_certificate_max_bytes: $((LARGER - 1)) }"
for i in 1 2 3; do cg_check "small: alice ($i): 200" 200 "$(cc_get small alice "s=$i")"; done
cc_scrape small "$FULL" 3
cg_check "small: reused, kept, evicted, held" "2 1 0 1" "$(kept small)"
cg_check "small: request 3: alice's certificate" "200 $ALICE_SHA" \
    "$(cc_w3c "$T/small.access.log" "s=3" sc-status x-client-cert-sha256)"

cg_log "decoded_certificates: 1: one certificate per thread"
cc_serve_admin one 'limits: { decoded_certificates: 1 }'
for i in 1 2 3; do cg_check "one: alice ($i): 200" 200 "$(cc_get one alice "o=$i")"; done
cc_scrape one "$FULL" 3
# Each handshake's leaf pushes out the CA and the CA the leaf.
cg_check "one: reused, kept, evicted, held" "0 6 5 1" "$(kept one)"
for i in 1 2; do cg_check "one: good ($i): 200" 200 "$(cc_get one good "g=$i")"; done
cc_scrape one "$FULL" 5
cg_check "one: a lone leaf stays" "1 7 6 1" "$(kept one)"

cg_log "decoded_certificates: 0: nothing kept"
cc_serve_admin off 'limits: { decoded_certificates: 0 }'
for i in 1 2 3; do cg_check "off: alice ($i): 200" 200 "$(cc_get off alice "f=$i")"; done
cc_scrape off "$FULL" 3
cg_check "off: nothing kept" "0 0 0 0" "$(kept off)"
for name in small one off; do
    cg_stop "$name"
    cg_check "$name: exit status" 0 "$CG_RC"
done

cg_log "config check: the bounds, file:line:col, and the defaults"
cc_refused 'limits: { decoded_certificates: 4097 }' \
    "1:33: limits.decoded_certificates: expected a whole number from 0 to 4096; got '4097'"
cc_refused 'limits:
  decoded_certificates: -1' \
    "2:25: limits.decoded_certificates: expected a whole number; got '-1'"
cc_refused 'limits: { decoded_certificate_max_bytes: 255 }' \
    "1:42: limits.decoded_certificate_max_bytes: expected a size like 16384, 16k, 10M, 1G from 256 to 1M; got '255'"
cc_refused 'limits: { decoded_certificate_max_bytes: 2M }' \
    "1:42: limits.decoded_certificate_max_bytes: expected a size like 16384, 16k, 10M, 1G from 256 to 1M; got '2M'"
KEYS="decoded_certificates decoded_certificate_max_bytes"   # as config check --print shows them
cg_check "config check --print: the defaults" "64 8k" "$(cc_limits_printed "" $KEYS)"
cg_check "config check --print: the largest values" "4096 1M" \
    "$(cc_limits_printed 'limits: { decoded_certificates: 4096, decoded_certificate_max_bytes: 1M }' $KEYS)"
cg_check "config check --print: the smallest values" "0 256" \
    "$(cc_limits_printed 'limits: { decoded_certificates: 0, decoded_certificate_max_bytes: 256 }' $KEYS)"

cg_log "reload: the bounds are read at start; changing them says to restart"
WARN='[warn] reload: limits.decoded_certificates or decoded_certificate_max_bytes changed: restart to apply'
kill -HUP "$CG_PID_on"
cg_waitlog "$T/on.error.log" 'reload: generation 2 applied' 20 || cg_fail "reload 2 not applied"
cg_check "reload with the same bounds: no warning" 0 "$(grep -cF "$WARN" "$T/on.error.log" || true)"
printf 'limits: { decoded_certificates: 0 }\n' >>"$T/on.yaml"
kill -HUP "$CG_PID_on"
cg_waitlog "$T/on.error.log" 'reload: generation 3 applied' 20 || cg_fail "reload 3 not applied"
cg_check "reload with decoded_certificates: 0: the warning, once" 1 "$(grep -cF "$WARN" "$T/on.error.log" || true)"
cc_scrape on "$FULL" $((N + 8))
before=$(cc_value on certgate_decoded_certificates_reused_total)
cg_check "on: after the reload, 200" 200 "$(cc_get on alice r=after)"
cc_scrape on certgate_decoded_certificates_reused_total $((before + 2))
cg_check "on: after the reload, still the start's bounds: both reused" $((before + 2)) \
    "$(cc_value on certgate_decoded_certificates_reused_total)"

cg_stop on
cg_check "on: exit status" 0 "$CG_RC"
cg_done
