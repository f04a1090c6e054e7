# tls_key_exchange.sh: `tls_key_exchange: builtin` (the default: X25519 by
# certgate's provider) and `openssl` serve the same. Two servers, one per
# mode, the same stores and certificates. openssl s_client (OpenSSL's own
# X25519 on the client's side, so a wrong share or secret on the server's
# fails the handshake) presents a client certificate over TLS 1.3 and 1.2
# with the group X25519, and with P-256 (which stays OpenSSL's in both
# modes): each a full handshake that names the group it used, then a
# resumption of the session it saved (a TLS 1.3 resumption makes new X25519
# keys too). curl does a GET per version and group; loadgen runs full
# handshakes and resumptions with its own --key-exchange builtin and openssl
# against both servers. `config check` prints the mode (builtin when unset)
# and refuses a bad value with file:line:col; a reload that changes it
# warns: restart to apply.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/clientcert_lib.sh"

: "${CG_BUILD_DIR:?CG_BUILD_DIR must name the build directory}"
LOADGEN="$CG_BUILD_DIR/loadgen"
[ -x "$LOADGEN" ] || { echo "FAIL: $LOADGEN is not built"; exit 1; }

P="$T/pki"
S="$T/stores"
cc_pki "$P" "$S"
cat "$P/good.pem" "$P/ca.pem" >"$P/good-chain.pem"
mkdir -p "$T/www"
printf 'members-only-content\n' >"$T/www/index.html"
for mode in builtin openssl; do
    cat >"$T/$mode.yaml" <<EOF
workers: 1
stores: $S
tls_key_exchange: $mode
access_log: { path: $T/$mode.access.log, format: w3c }
error_log: { path: $T/$mode.error.log, level: info }
sites:
  - name: main
    hostnames: [a.test]
    root: $T/www
    client_certificates: require
    bindings:
      - { listen: "127.0.0.1:0", tls: true, certificate: $P/a.test.pem, key: $P/a.test.key }
EOF
    cg_start "$mode" "$T/$mode.yaml"
done
printed() {
    "$CERTGATE" config check --print "$1" 2>&1 |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["tls_key_exchange"])' 2>&1
}
cg_check "config check --print: the mode set" openssl "$(printed "$T/openssl.yaml")"
sed "/^tls_key_exchange:/d" "$T/builtin.yaml" >"$T/default.yaml"
cg_check "config check --print: the default" builtin "$(printed "$T/default.yaml")"

port_of() { cg_port "$1" 127.0.0.1:0; }
# sclient MODE VERSION OUT [s_client args]: one GET / over s_client, the
# transcript in OUT. -ign_eof: s_client waits for the server to close
# (Connection: close), so a TLS 1.3 ticket is read and saved before it exits.
sclient() {
    local mode=$1 v=$2 out=$3; shift 3
    printf 'GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n' |
        timeout 10 openssl s_client -connect "127.0.0.1:$(port_of "$mode")" -servername a.test \
            -tls${v/./_} -ign_eof -CAfile "$P/root.pem" -cert "$P/good.pem" -key "$P/good.key" \
            "$@" >"$out" 2>&1 || true
}
status_of() { awk '/^HTTP\/1\.1 / { print $2; exit }' "$1"; }
handshake_of() { grep -E '^(New|Reused), ' "$1" | head -1 | sed 's/, Cipher is .*//'; }
temp_key_of() { sed -n 's/^Server Temp Key: //p' "$1" | head -1; }

for mode in builtin openssl; do
    for v in 1.3 1.2; do
        for group in X25519 P-256; do
            # TLS 1.2 needs the curve of the server's ECDSA certificate
            # (P-256) among the client's groups; the server prefers X25519.
            offer=$group
            [ "$v" = 1.2 ] && [ "$group" = X25519 ] && offer=X25519:P-256
            case $group in
                X25519) want_key="X25519, 253 bits" ;;
                P-256) want_key="ECDH, prime256v1, 256 bits" ;;
            esac
            f="$T/$mode.$v.$group"
            cg_log "$mode: TLS $v $group, a full handshake then a resumption"
            sclient $mode $v "$f.1.txt" -groups "$offer" -sess_out "$f.sess"
            cg_check "$mode TLS $v $group full: served" 200 "$(status_of "$f.1.txt")"
            cg_check "$mode TLS $v $group full: a new session" "New, TLSv$v" "$(handshake_of "$f.1.txt")"
            cg_check "$mode TLS $v $group full: the group" "$want_key" "$(temp_key_of "$f.1.txt")"
            cg_match "$mode TLS $v $group full: the content" members-only-content "$(cat "$f.1.txt")"
            sclient $mode $v "$f.2.txt" -groups "$offer" -sess_in "$f.sess"
            cg_check "$mode TLS $v $group resumed: served" 200 "$(status_of "$f.2.txt")"
            cg_check "$mode TLS $v $group resumed: reused" "Reused, TLSv$v" "$(handshake_of "$f.2.txt")"
            # A TLS 1.3 resumption exchanges keys again (psk_dhe_ke).
            [ "$v" = 1.2 ] || cg_check "$mode TLS $v $group resumed: the group" "$want_key" \
                "$(temp_key_of "$f.2.txt")"
            cg_check "$mode: curl TLS $v $group" 200 \
                "$(cg_curl_tls a.test "$(port_of $mode)" --cacert "$P/root.pem" --tlsv$v \
                    --tls-max $v --curves "$offer" --cert "$P/good.pem" --key "$P/good.key" \
                    -o /dev/null -w '%{http_code}' \
                    "https://a.test:$(port_of $mode)/?curl-$v-$group" 2>&1)"
        done
    done
done
# The access log is buffered: the last request's line shows all are written.
cg_waitlog "$T/builtin.access.log" 'curl-1.2-P-256' ||
    cg_fail "builtin: the last request was not logged"
cg_check "builtin: every request logged 200" 12 \
    "$(awk '!/^#/ && / 200 /' "$T/builtin.access.log" | wc -l)"

# json FILE EXPR: evaluates a Python expression over loadgen's report `r`.
json() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }
for mode in builtin openssl; do
    for kx in builtin openssl; do
        for lm in new resume; do
            cg_log "loadgen --key-exchange $kx --mode $lm against the $mode server"
            rc=0
            "$LOADGEN" --port "$(port_of $mode)" --sni a.test --ca "$P/root.pem" \
                --cert "$P/good-chain.pem" --key "$P/good.key" --path /index.html --concurrency 2 \
                --tls 1.3 --mode $lm --requests 40 --warmup 0 --duration 30 --key-exchange $kx \
                --json >"$T/lg.json" 2>"$T/lg.err" || rc=$?
            cg_check "loadgen $kx $lm vs $mode: exit status" 0 "$rc"
            cg_check "loadgen $kx $lm vs $mode: every answer 200, no error" True \
                "$(json "$T/lg.json" 'r["requests"] >= 40 and r["errors"]["total"] == 0 and r["status"] == {"200": r["requests"]}')"
            [ $lm = new ] || cg_check "loadgen $kx resume vs $mode: resumed" True \
                "$(json "$T/lg.json" 'r["handshakes_resumed"] > 0')"
        done
    done
done
rc=0
"$LOADGEN" --port 1 --ca "$P/root.pem" --key-exchange fast >/dev/null 2>"$T/lg.err" || rc=$?
cg_check "loadgen: a bad --key-exchange is a usage error" 2 "$rc"

cg_log "a bad value in the config names the file, line and column"
sed 's/tls_key_exchange: openssl/tls_key_exchange: fast/' "$T/openssl.yaml" >"$T/bad.yaml"
cg_match "bad tls_key_exchange" "bad\.yaml:3:19: tls_key_exchange: expected one of builtin \| openssl; got 'fast'" \
    "$("$CERTGATE" config check "$T/bad.yaml" 2>&1 || true)"

cg_log "a reload that changes the mode warns: restart to apply"
sed -i 's/tls_key_exchange: builtin/tls_key_exchange: openssl/' "$T/builtin.yaml"
kill -HUP "$CG_PID_builtin"
cg_waitlog "$T/builtin.error.log" 'tls_key_exchange changed from builtin to openssl: restart to apply' ||
    cg_fail "no reload warning: $(cat "$T/builtin.error.log")"
sclient builtin 1.3 "$T/after-reload.txt" -groups X25519
cg_check "still served after the reload" 200 "$(status_of "$T/after-reload.txt")"
cg_check "still X25519 after the reload" "X25519, 253 bits" "$(temp_key_of "$T/after-reload.txt")"

for mode in builtin openssl; do cg_stop "$mode"; done
cg_done
