# clientcert_calist.sh: the CertificateRequest lists the root store's subject
# names. A list over limits.client_ca_list_warn (16k) is warned about at
# startup and still served; one over client_ca_list_max (64k; TLS cannot
# carry more than 65535 bytes) is refused at startup and on reload, unless
# the binding sends an empty list.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/clientcert_lib.sh"

P="$T/pki"
S="$T/stores"
mkdir -p "$P" "$S" "$T/roots" "$T/www"
printf 'hi\n' >"$T/www/index.html"
"$CERTGATE" pki issue --profile root --cn "CG Test Root" --out "$P/root.pem" --key-out "$P/root.key" >/dev/null
"$CERTGATE" pki issue --profile server --cn a.test --dns a.test --issuer "$P/root.pem" \
    --issuer-key "$P/root.key" --out "$P/a.test.pem" --key-out "$P/a.test.key" >/dev/null

# Roots with long subjects: about 157 bytes each in the list.
make_roots() {  # make_roots FROM TO
    local i
    for i in $(seq "$1" "$2"); do
        "$CERTGATE" pki issue --profile root --cn "$(printf 'Long Root Name %03d %045d' "$i" 0)" \
            --org "$(printf 'Organisation %051d' "$i")" \
            --out "$T/roots/r$i.pem" --key-out "$T/roots/r$i.key" >/dev/null
    done
}
make_roots 1 120
"$CERTGATE" store import --stores "$S" "$P/root.pem" "$T"/roots/r*.pem >/dev/null

conf() {  # conf FILE CA_LIST
    cat >"$1" <<EOF
workers: 1
stores: $S
access_log: { path: $T/access.log }
error_log: { path: $T/error.log, level: info }
sites:
  - name: main
    root: $T/www
    client_certificates: accept
    bindings:
      - { listen: "127.0.0.1:0", tls: true, certificate: $P/a.test.pem, key: $P/a.test.key,
          client_ca_list: $2 }
EOF
}
conf "$T/cg.yaml" roots
cg_start main "$T/cg.yaml"
AP=$(cg_port main 127.0.0.1:0)

cg_log "121 roots (~19 KB): warned at startup, sent"
cg_match "startup warning" 'warn.*client CA list: the 121 names of .*/root take [0-9]+ bytes in every CertificateRequest, over limits.client_ca_list_warn \(16384 bytes\)' \
    "$(grep 'client CA list' "$T/error.log")"
bytes=$(grep -o 'take [0-9]* bytes' "$T/error.log" | head -n1 | tr -dc 0-9)
if [ "$bytes" -gt 16384 ] && [ "$bytes" -le 65535 ]; then cg_ok "list size $bytes bytes"; else cg_fail "list size $bytes"; fi
for v in 1_2 1_3; do
    n=$(openssl s_client -connect "127.0.0.1:$AP" -tls$v </dev/null 2>/dev/null |
        sed -n '/^Acceptable client certificate CA names/,/^Client Certificate Types/p' | grep -c 'CN *=' || true)
    cg_check "TLS ${v/_/.}: the CertificateRequest lists every root" "121" "$n"
done

cg_log "450 roots (~70 KB): a reload is refused, the old list keeps serving"
make_roots 121 450
"$CERTGATE" store import --stores "$S" "$T"/roots/r{121..450}.pem >/dev/null
kill -HUP "$CG_PID_main"
cg_waitlog "$T/error.log" 'reload: refused' 20 || true
cg_match "reload refused with the size and the way out" \
    'reload: refused, the previous configuration keeps serving: client CA list: the 451 names of .*/root take [0-9]+ bytes, over limits.client_ca_list_max \(65535 bytes\): set `client_ca_list: empty`' \
    "$(grep 'reload: refused' "$T/error.log")"
n=$(openssl s_client -connect "127.0.0.1:$AP" </dev/null 2>/dev/null |
    sed -n '/^Acceptable client certificate CA names/,/^Client Certificate Types/p' | grep -c 'CN *=' || true)
cg_check "still serving the previous list" "121" "$n"
cg_stop main
cg_check "exit status" "0" "$CG_RC"

cg_log "450 roots at startup: refused"
rc=0; msg=$("$CERTGATE" serve --config "$T/cg.yaml" 2>&1) || rc=$?
cg_check "startup refused: exit status" "1" "$rc"
cg_match "startup refused: why" 'client CA list: the 451 names .* over limits.client_ca_list_max' "$msg"

cg_log "450 roots with client_ca_list: empty: serves, no names sent, no warning"
conf "$T/empty.yaml" empty
: >"$T/error.log"
cg_start empty "$T/empty.yaml"
EP=$(cg_port empty 127.0.0.1:0)
out=$(openssl s_client -connect "127.0.0.1:$EP" </dev/null 2>/dev/null || true)
cg_match "empty list: asks with no names" 'No client certificate CA names sent.*Requested Signature Algorithms' "$(tr '\n' ' ' <<<"$out")"
if grep -q 'client CA list' "$T/error.log"; then cg_fail "empty list: warned"; else cg_ok "empty list: no warning"; fi
cg_stop empty
cg_check "exit status" "0" "$CG_RC"

cg_log "the thresholds are settings"
conf "$T/low.yaml" roots
sed -i '1i limits: { client_ca_list_max: 4k }' "$T/low.yaml"
rc=0; msg=$("$CERTGATE" serve --config "$T/low.yaml" 2>&1) || rc=$?
cg_check "client_ca_list_max: 4k: refused" "1" "$rc"
cg_match "client_ca_list_max: 4k: named" 'over limits.client_ca_list_max \(4096 bytes\)' "$msg"
cg_done
