# clientcert_resume.sh: TLS session resumption never skips the certificate
# check. A session made with a certificate that was good resumes after a
# reload (SIGHUP) that imported a CRL revoking it, and the resumed connection
# is refused with 403.13: the stored peer chain is judged again against the
# current stores. TLS 1.2 (session id) and TLS 1.3 (stateful ticket).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/clientcert_lib.sh"

P="$T/pki"
S="$T/stores"
cc_pki "$P" "$S"
mkdir -p "$T/www"
printf 'members-only-content\n' >"$T/www/index.html"
cat >"$T/cg.yaml" <<EOF
workers: 2
stores: $S
access_log: { path: $T/access.log, format: w3c }
error_log: { path: $T/error.log, level: info }
revocation: { mode: crl }
sites:
  - name: main
    hostnames: [a.test]
    root: $T/www
    client_certificates: require
    bindings:
      - { listen: "127.0.0.1:0", tls: true, certificate: $P/a.test.pem, key: $P/a.test.key }
EOF
cg_start main "$T/cg.yaml"
AP=$(cg_port main 127.0.0.1:0)
FIELDS="sc-status sc-substatus x-reason x-client-cert-sha256"
THUMB=$(cc_sha256 "$P/revoked.pem")

# cc_sclient VERSION QUERY OUT [s_client args]: one GET / over s_client; the
# transcript goes to OUT. -ign_eof: s_client waits for the server to close
# (Connection: close), so a TLS 1.3 ticket is read and saved before it exits.
cc_sclient() {
    local v=$1 q=$2 out=$3; shift 3
    printf 'GET /?%s HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n' "$q" |
        timeout 10 openssl s_client -connect "127.0.0.1:$AP" -servername a.test \
            -tls${v/./_} -ign_eof "$@" >"$out" 2>&1 || true
}
status_of() { awk '/^HTTP\/1\.1 / { print $2; exit }' "$1"; }

for v in 1.2 1.3; do
    cg_log "TLS $v: first handshake with a certificate that is still good"
    cc_sclient $v "c=first-$v" "$T/first-$v.txt" -cert "$P/revoked.pem" -key "$P/revoked.key" \
        -sess_out "$T/s1-$v.pem"
    cg_check "TLS $v first: served" "200" "$(status_of "$T/first-$v.txt")"
    cg_match "TLS $v first: a full handshake" '^New, ' "$(grep -E '^(New|Reused), ' "$T/first-$v.txt")"
    cg_check "TLS $v first: logged" "200 0 ok $THUMB" "$(cc_w3c "$T/access.log" "c=first-$v" $FIELDS)"

    cg_log "TLS $v: resumed before the CRL: judged again, still good"
    # A TLS 1.3 ticket is good once (the resumed connection gets a new one);
    # a TLS 1.2 session id may be used again and s_client saves no new one.
    cc_sclient $v "c=again-$v" "$T/again-$v.txt" -sess_in "$T/s1-$v.pem" -sess_out "$T/s2-$v.pem"
    [ -s "$T/s2-$v.pem" ] || cp "$T/s1-$v.pem" "$T/s2-$v.pem"
    cg_match "TLS $v again: resumed" '^Reused, ' "$(grep -E '^(New|Reused), ' "$T/again-$v.txt")"
    cg_check "TLS $v again: served" "200" "$(status_of "$T/again-$v.txt")"
    cg_check "TLS $v again: the stored certificate is logged" "200 0 ok $THUMB" \
        "$(cc_w3c "$T/access.log" "c=again-$v" $FIELDS)"
done

cg_log "a CRL revoking the certificate, then SIGHUP"
cc_revoke "$P" "$S"
kill -HUP "$CG_PID_main"
cg_waitlog "$T/error.log" 'reload: generation 2 applied' 20 || cg_fail "reload not applied"

for v in 1.2 1.3; do
    cg_log "TLS $v: resumed after the reload: refused with 403.13"
    cc_sclient $v "c=resumed-$v" "$T/resumed-$v.txt" -sess_in "$T/s2-$v.pem"
    cg_match "TLS $v resumed: the session was reused" '^Reused, ' "$(grep -E '^(New|Reused), ' "$T/resumed-$v.txt")"
    cg_check "TLS $v resumed: 403" "403" "$(status_of "$T/resumed-$v.txt")"
    cg_match "TLS $v resumed: HTML names 403.13 revoked" '403.13 &middot; revoked' "$(cat "$T/resumed-$v.txt")"
    if grep -q members-only-content "$T/resumed-$v.txt"; then cg_fail "TLS $v resumed: content served"; fi
    cg_check "TLS $v resumed: access log" "403 13 revoked $THUMB" "$(cc_w3c "$T/access.log" "c=resumed-$v" $FIELDS)"

    cg_log "TLS $v: a full handshake with it is refused the same way"
    code=$(curl -sS --max-time 10 --tlsv$v --tls-max $v --cacert "$P/root.pem" --resolve "a.test:$AP:127.0.0.1" \
        --cert "$P/revoked.pem" --key "$P/revoked.key" -H 'Accept: application/problem+json' \
        -o "$T/body" -w '%{http_code}' "https://a.test:$AP/?c=full-$v" || true)
    cg_check "TLS $v full: 403.13" "403 403.13 revoked" "$code $(cc_json code <"$T/body") $(cc_json reason <"$T/body")"
done
cg_check "error log: the refusals on resumed sessions say so" "2" \
    "$(grep -c 'refused 403.13 revoked.*chain received (from the resumed session): "CN=rita revoked"' "$T/error.log")"

cg_stop main
cg_check "exit status" "0" "$CG_RC"
cg_done
