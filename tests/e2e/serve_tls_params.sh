# serve_tls_params.sh: the TLS parameters every binding offers, as a client
# sees them: TLS 1.3 suites in the server's order (AES-128-GCM first) whatever
# the client's order, the TLS 1.2 AEAD suites in the server's order, only
# forward-secret AEAD suites, TLS 1.2 at least, and the key-exchange groups.
source "$(dirname "$0")/lib.sh"

cg_pki "$T/pki" localhost
P="$T/pki"
mkdir -p "$T/www"
printf 'hi\n' >"$T/www/index.html"
cat >"$T/cg.yaml" <<YAML
workers: 1
error_log: { path: $T/error.log, level: warn }
sites:
  - name: only
    root: $T/www
    bindings:
      - { listen: "127.0.0.1:0", tls: true, certificate: $P/localhost.pem, key: $P/localhost.key }
YAML
cg_start main "$T/cg.yaml"
PORT=$(cg_port main 127.0.0.1:0)

# hello ARGS...: s_client's summary of one handshake ("" when it failed).
hello() {
    openssl s_client -connect "127.0.0.1:$PORT" -servername localhost -CAfile "$P/ca.pem" \
        -verify_return_error "$@" </dev/null 2>&1 || true
}
cipher_of() { sed -n 's/^New, \(TLSv1\.[23]\), Cipher is \(.*\)$/\1 \2/p' <<<"$1" | head -n 1; }
temp_key_of() { sed -n 's/^Server Temp Key: \([^,]*\),.*$/\1/p' <<<"$1" | head -n 1; }

cg_log "TLS 1.3 suites: the server's order"
out=$(hello -tls1_3 -ciphersuites 'TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256')
cg_check "client prefers AES-256, offers all three: AES-128-GCM" "TLSv1.3 TLS_AES_128_GCM_SHA256" "$(cipher_of "$out")"
out=$(hello -tls1_3 -ciphersuites 'TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384')
cg_check "without AES-128: AES-256-GCM before ChaCha20" "TLSv1.3 TLS_AES_256_GCM_SHA384" "$(cipher_of "$out")"
out=$(hello -tls1_3 -ciphersuites 'TLS_CHACHA20_POLY1305_SHA256')
cg_check "ChaCha20-Poly1305 alone" "TLSv1.3 TLS_CHACHA20_POLY1305_SHA256" "$(cipher_of "$out")"
out=$(hello -tls1_3 -ciphersuites 'TLS_AES_128_CCM_SHA256')
cg_check "AES-128-CCM (not offered): no handshake" "" "$(cipher_of "$out")"
code=$(curl -sS --max-time 10 --cacert "$P/ca.pem" --resolve "localhost:$PORT:127.0.0.1" \
    --tls13-ciphers TLS_AES_256_GCM_SHA384 -o /dev/null -w '%{http_code}' "https://localhost:$PORT/" || true)
cg_check "curl with AES-256-GCM only gets its page" "200" "$code"

cg_log "TLS 1.2 suites: forward-secret AEAD, the server's order"
out=$(hello -tls1_2 -cipher 'ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256')
cg_check "client prefers ChaCha20: AES-128-GCM" "TLSv1.2 ECDHE-ECDSA-AES128-GCM-SHA256" "$(cipher_of "$out")"
for c in ECDHE-ECDSA-AES128-SHA ECDHE-ECDSA-AES256-SHA384 AES128-GCM-SHA256; do
    out=$(hello -tls1_2 -cipher "$c")
    cg_check "TLS 1.2 $c (not AEAD or not forward-secret): no handshake" "" "$(cipher_of "$out")"
done
out=$(hello -tls1_1 -cipher 'ALL:@SECLEVEL=0')
cg_check "TLS 1.1: no handshake" "" "$(cipher_of "$out")"

cg_log "key-exchange groups"
out=$(hello -tls1_3)
cg_check "default client: X25519" "X25519" "$(temp_key_of "$out")"
out=$(hello -tls1_3 -groups P-256)
cg_check "P-256 only" "ECDH" "$(temp_key_of "$out")"
cg_match "P-256 only: the curve named" 'Server Temp Key: ECDH, prime256v1' "$out"
out=$(hello -tls1_3 -groups P-384)
cg_match "P-384 only" 'Server Temp Key: ECDH, secp384r1' "$out"
out=$(hello -tls1_3 -groups X448)
cg_check "X448 (not offered): no handshake" "" "$(cipher_of "$out")"
out=$(hello -tls1_2 -groups P-256)
cg_match "TLS 1.2, P-256 only" 'Server Temp Key: ECDH, prime256v1' "$out"

cg_done
