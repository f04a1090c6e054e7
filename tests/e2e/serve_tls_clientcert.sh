# serve_tls_clientcert.sh: the handshake side of client certificates. A
# binding that negotiates them asks in the handshake and NEVER aborts for a
# bad certificate (untrusted, expired: the request layer answers in HTTP);
# a binding that does not negotiate never asks. Only a failed proof of the
# private key (a bad CertificateVerify) aborts it, logged with its reason.
# TLS 1.2 and 1.3.
source "$(dirname "$0")/lib.sh"

cg_pki "$T/pki" localhost
P="$T/pki"
"$CERTGATE" pki issue --profile root --cn "other root" --out "$P/other.pem" --key-out "$P/other.key" >/dev/null
"$CERTGATE" pki issue --profile client --cn alice --issuer "$P/other.pem" --issuer-key "$P/other.key" \
    --out "$P/alice.pem" --key-out "$P/alice.key" >/dev/null
"$CERTGATE" pki issue --profile client --cn old --issuer "$P/other.pem" --issuer-key "$P/other.key" \
    --not-before -30d --not-after -1d --out "$P/old.pem" --key-out "$P/old.key" >/dev/null
mkdir -p "$T/www"
printf 'hi\n' >"$T/www/index.html"
cat >"$T/cg.yaml" <<EOF
workers: 1
access_log: { path: $T/access.log }
error_log: { path: $T/error.log, level: info }
sites:
  - name: asks
    client_certificates: accept
    root: $T/www
    bindings:
      - { listen: "127.0.0.1:0", tls: true, certificate: $P/localhost.pem, key: $P/localhost.key }
  - name: quiet
    root: $T/www
    bindings:
      - { listen: "127.0.0.2:0", tls: true, certificate: $P/localhost.pem, key: $P/localhost.key }
EOF
cg_start main "$T/cg.yaml"
AP=$(cg_port main 127.0.0.1:0)
QP=$(cg_port main 127.0.0.2:0)

for v in 1.2 1.3; do
    flag=-tls1_2; [ "$v" = 1.3 ] && flag=-tls1_3
    asks=$(openssl s_client -connect "127.0.0.1:$AP" -servername localhost $flag </dev/null 2>/dev/null || true)
    cg_match "TLS $v: negotiating binding sends a CertificateRequest" 'Requested Signature Algorithms' "$asks"
    quiet=$(openssl s_client -connect "127.0.0.2:$QP" -servername localhost $flag </dev/null 2>/dev/null || true)
    if [[ "$quiet" == *"Requested Signature Algorithms"* ]]; then cg_fail "TLS $v: quiet binding asked"; else cg_ok "TLS $v: quiet binding does not ask"; fi
    for who in alice old; do
        code=$(curl -sS --max-time 10 --tlsv$v --tls-max $v --cacert "$P/ca.pem" --resolve "localhost:$AP:127.0.0.1" \
            --cert "$P/$who.pem" --key "$P/$who.key" -o /dev/null -w '%{http_code}' "https://localhost:$AP/" || true)
        cg_check "TLS $v: untrusted client certificate '$who' completes the handshake" "200" "$code"
    done
    code=$(curl -sS --max-time 10 --tlsv$v --tls-max $v --cacert "$P/ca.pem" --resolve "localhost:$AP:127.0.0.1" \
        -o /dev/null -w '%{http_code}' "https://localhost:$AP/" || true)
    cg_check "TLS $v: no client certificate completes the handshake" "200" "$code"
done
# A client whose key does not match its certificate gets no HTTP answer. curl
# refuses such a pair before it sends anything: this guards the client side.
code=$(curl -sS --max-time 10 --cacert "$P/ca.pem" --resolve "localhost:$AP:127.0.0.1" \
    --cert "$P/alice.pem" --key "$P/old.key" -o /dev/null -w '%{http_code}' "https://localhost:$AP/" 2>/dev/null || true)
cg_check "mismatched client key: no HTTP answer" "000" "$code"

# A failed proof of the private key, on the wire: forged.key carries alice's
# public key (so curl and s_client accept it with alice.pem) but old's
# private scalar, so the client signs CertificateVerify with a key that does
# not match the certificate it sent. The one case that aborts the handshake.
$CG_PY forgekey "$P/alice.key" "$P/old.key" >"$P/forged.key"
cg_check "forged key: its public key is alice's (clients accept the pair)" \
    "$(openssl x509 -in "$P/alice.pem" -noout -pubkey)" "$(openssl pkey -in "$P/forged.key" -pubout)"
printf 'proof\n' >"$T/msg"
openssl dgst -sha256 -sign "$P/forged.key" -out "$T/msg.sig" "$T/msg"
openssl x509 -in "$P/alice.pem" -noout -pubkey >"$T/alice.pub"
openssl pkey -in "$P/old.key" -pubout >"$T/old.pub"
if openssl dgst -sha256 -verify "$T/alice.pub" -signature "$T/msg.sig" "$T/msg" >/dev/null 2>&1; then
    cg_fail "forged key: a signature verifies with alice's key (the test would prove nothing)"
else
    cg_ok "forged key: its signatures do not verify with alice's key"
fi
v=$(openssl dgst -sha256 -verify "$T/old.pub" -signature "$T/msg.sig" "$T/msg" 2>&1 || true)
cg_check "forged key: its signatures verify with old's key (it signs with old's scalar)" "Verified OK" "$v"

alice_sha=$(openssl x509 -in "$P/alice.pem" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr 'A-F' 'a-f')
unproven='refused in the TLS handshake \(TLSv1\.[23], decrypt_error alert\): client certificate not proven'
n_unproven=0
for v in 1.2 1.3; do
    flag=-tls1_2; [ "$v" = 1.3 ] && flag=-tls1_3
    out=$(printf 'GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' |
        timeout 20 openssl s_client -connect "127.0.0.1:$AP" -servername localhost $flag \
            -cert "$P/alice.pem" -key "$P/forged.key" -ign_eof 2>&1 || true)
    cg_match "TLS $v: s_client with an unproven key gets the server's decrypt_error alert" \
        'alert decrypt error.*SSL alert number 51' "$out"
    if [[ "$out" == *"HTTP/1.1"* ]]; then cg_fail "TLS $v: s_client with an unproven key got an HTTP answer"
    else cg_ok "TLS $v: s_client with an unproven key gets no HTTP answer"; fi
    n_unproven=$((n_unproven + 1))
    line=$($CG_PY waitlog "$T/error.log" "$unproven" 10 "$n_unproven" || true)
    cg_match "TLS $v: s_client: the error log names the version, the reason, the site and the certificate" \
        "client 127\.0\.0\.1:[0-9]+ on 127\.0\.0\.1:$AP: refused in the TLS handshake \(TLSv$v, decrypt_error alert\): client certificate not proven: its CertificateVerify signature does not verify with the certificate's public key \(bad signature\); site asks; certificate \"CN=alice\" sha256=$alice_sha\$" "$line"

    err=$(curl -sS --max-time 10 --tlsv$v --tls-max $v --cacert "$P/ca.pem" --resolve "localhost:$AP:127.0.0.1" \
        --cert "$P/alice.pem" --key "$P/forged.key" -o "$T/forged.body" -w '%{http_code}' \
        "https://localhost:$AP/" 2>&1 || true)
    cg_match "TLS $v: curl with an unproven key: no HTTP answer (000), the decrypt_error alert" \
        'decrypt error.*000$|^000.*decrypt error' "$(printf '%s' "$err" | tr '\n' ' ')"
    cg_check "TLS $v: curl with an unproven key: no body" "0" "$(stat -c %s "$T/forged.body" 2>/dev/null || echo 0)"
    n_unproven=$((n_unproven + 1))
    line=$($CG_PY waitlog "$T/error.log" "$unproven" 10 "$n_unproven" || true)
    cg_match "TLS $v: curl: the error log names the refusal" "\(TLSv$v, decrypt_error alert\).*site asks; certificate \"CN=alice\" sha256=$alice_sha\$" "$line"

    # The server goes on serving: the same client with its real key.
    code=$(curl -sS --max-time 10 --tlsv$v --tls-max $v --cacert "$P/ca.pem" --resolve "localhost:$AP:127.0.0.1" \
        --cert "$P/alice.pem" --key "$P/alice.key" -o /dev/null -w '%{http_code}' "https://localhost:$AP/" || true)
    cg_check "TLS $v: after the refusals, alice with her own key is served" "200" "$code"
done
cg_check "one error-log line per unproven handshake, no other handshake failure" \
    "$n_unproven 0" "$(grep -cE "$unproven" "$T/error.log") $(grep -c 'TLS handshake failed' "$T/error.log" || true)"

cg_stop main
cg_check "exit status" "0" "$CG_RC"
cg_done
