# serve_sni.sh: several sites on one TLS address: SNI picks the certificate,
# Host picks the site; a client without SNI gets the default site.
source "$(dirname "$0")/lib.sh"

cg_pki "$T/pki" alpha.test beta.test default.test
for s in alpha beta default; do
    mkdir -p "$T/www-$s"
    printf '%s site\n' "$s" >"$T/www-$s/index.html"
done
cat >"$T/cg.yaml" <<EOF
workers: 2
access_log: { path: $T/access.log }
error_log: { path: $T/error.log, level: info }
sites:
  - name: alpha
    hostnames: [alpha.test]
    root: $T/www-alpha
    bindings:
      - { listen: "127.0.0.1:0", tls: true, certificate: $T/pki/alpha.test.pem, key: $T/pki/alpha.test.key }
  - name: beta
    hostnames: [beta.test, www.beta.test]
    root: $T/www-beta
    bindings:
      - { listen: "127.0.0.1:0", tls: true, certificate: $T/pki/beta.test.pem, key: $T/pki/beta.test.key }
  - name: default
    root: $T/www-default
    bindings:
      - { listen: "127.0.0.1:0", tls: true, certificate: $T/pki/default.test.pem, key: $T/pki/default.test.key }
EOF
cg_start main "$T/cg.yaml"
P=$(cg_port main 127.0.0.1:0)
cg_check "one ready line per distinct listen spelling" "2" "$(wc -l <"$T/main.ready")"

subject_cn() {  # the CN of the certificate the server sends for SNI $1 (none: no SNI)
    local sni=()
    [ -n "$1" ] && sni=(-servername "$1") || sni=(-noservername)
    openssl s_client -connect "127.0.0.1:$P" "${sni[@]}" </dev/null 2>/dev/null |
        openssl x509 -noout -subject -nameopt multiline | awk -F'= ' '/commonName/ {print $2}'
}
cg_check "SNI alpha -> alpha certificate" "alpha.test" "$(subject_cn alpha.test)"
cg_check "SNI beta -> beta certificate" "beta.test" "$(subject_cn beta.test)"
cg_check "SNI upper case -> beta certificate" "beta.test" "$(subject_cn BETA.TEST)"
cg_check "unknown SNI -> default certificate" "default.test" "$(subject_cn other.test)"
cg_check "no SNI -> default certificate" "default.test" "$(subject_cn '')"

cg_check "alpha content, verified" "alpha site" "$(cg_curl_tls alpha.test "$P" "https://alpha.test:$P/")"
cg_check "beta content, verified" "beta site" "$(cg_curl_tls beta.test "$P" "https://beta.test:$P/")"
cg_check "second hostname of beta" "beta site" "$(cg_curl_tls www.beta.test "$P" -k "https://www.beta.test:$P/")"
cg_check "unknown host -> default site" "default site" "$(cg_curl_tls other.test "$P" -k "https://other.test:$P/")"
# Host picks the site, whatever the SNI (the next stage answers 421 when
# the two sites' certificate policies differ).
cg_check "Host beta on an alpha connection" "beta site" "$(cg_curl_tls alpha.test "$P" -H 'Host: beta.test' "https://alpha.test:$P/")"

cg_log "session resumption stays within a site"
sess="$T/alpha.sess"
openssl s_client -connect "127.0.0.1:$P" -servername alpha.test -tls1_2 -sess_out "$sess" </dev/null >/dev/null 2>&1
r1=$(openssl s_client -connect "127.0.0.1:$P" -servername alpha.test -tls1_2 -sess_in "$sess" </dev/null 2>/dev/null | grep -c '^Reused')
r2=$(openssl s_client -connect "127.0.0.1:$P" -servername beta.test -tls1_2 -sess_in "$sess" </dev/null 2>/dev/null | grep -c '^Reused' || true)
cg_check "alpha session resumes on alpha" "1" "$r1"
cg_check "alpha session does not resume on beta" "0" "$r2"

cg_stop main
cg_check "exit status" "0" "$CG_RC"
cg_done
