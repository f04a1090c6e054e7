# clientcert_causes.sh: every cause of DESIGN.md's table, over TLS 1.2 and
# TLS 1.3, with its exact status, substatus and reason in the HTML body, the
# problem+json body and the W3C access log (403.7; 403.13; 403.16 with each
# of its reasons: untrusted-root, incomplete-chain, distrusted, wrong-usage,
# bad-signature, constraint-violation, revocation-unknown, invalid; 403.17
# expired and not-yet-valid; 403.4 over plain HTTP); accept vs require vs
# ignore on one site (`/` accepts, `/secure` requires, `/public` ignores);
# the error-log line per refusal; a binding that does not negotiate; the CA
# list in the CertificateRequest (roots / empty / none asked); SNI/Host
# mismatch -> 421; spoofed identity headers change nothing, neither the
# decision nor the certificate-info page; TLS 1.2 renegotiation refused.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/clientcert_lib.sh"

cc_pki_full   # P=$T/pki, S=$T/stores
mkdir -p "$T/www/secure" "$T/www/public"
printf 'home\n' >"$T/www/index.html"
printf 'secret\n' >"$T/www/secure/index.html"
printf 'public\n' >"$T/www/public/index.html"
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
    ssl: require
    client_certificates: accept
    locations:
      - { path: /secure, client_certificates: require }
      - { path: /public, ssl: allow, client_certificates: ignore }
      - { path: /whoami, handler: certificate-info }
    bindings:
      - { listen: "127.0.0.1:0", tls: true, certificate: $P/a.test.pem, key: $P/a.test.key }
      - { listen: "127.0.0.2:0" }
  - name: other
    hostnames: [b.test]
    root: $T/www
    bindings:
      - { listen: "127.0.0.1:0", tls: true, certificate: $P/b.test.pem, key: $P/b.test.key }
  - name: deaf
    hostnames: [c.test]
    root: $T/www
    client_certificates: require
    bindings:
      - { listen: "127.0.0.3:0", tls: true, certificate: $P/c.test.pem, key: $P/c.test.key,
          negotiate_client_certificate: false }
  - name: quiet
    root: $T/www
    bindings:
      - { listen: "127.0.0.4:0", tls: true, certificate: $P/a.test.pem, key: $P/a.test.key }
  - name: nolist
    root: $T/www
    client_certificates: accept
    bindings:
      - { listen: "127.0.0.5:0", tls: true, certificate: $P/a.test.pem, key: $P/a.test.key,
          client_ca_list: empty }
EOF
cg_start main "$T/cg.yaml"
AP=$(cg_port main 127.0.0.1:0)
HP=$(cg_port main 127.0.0.2:0)
CP=$(cg_port main 127.0.0.3:0)
QP=$(cg_port main 127.0.0.4:0)
NP=$(cg_port main 127.0.0.5:0)
LOG="$T/access.log"
FIELDS="sc-status sc-substatus x-reason cs-username x-client-cert-sha256"

# cc_get VERSION WHO PATH QUERY [curl args...]: body to $T/body, prints the status.
cc_get() {
    local v=$1 who=$2 path=$3 q=$4; shift 4
    local cert=()
    [ "$who" != none ] && cert=(--cert "$P/$who.pem" --key "$P/$who.key")
    curl -sS --max-time 10 --tlsv"$v" --tls-max "$v" --cacert "$P/root.pem" \
        --resolve "a.test:$AP:127.0.0.1" "${cert[@]}" -o "$T/body" -w '%{http_code}' \
        "$@" "https://a.test:$AP$path?$q" || true
}

# One row of the cause table: /secure refuses WHO with CODE and SLUG.
check_refusal() {
    local v=$1 who=$2 code=$3 slug=$4 status=${3%%.*} sub=${3#*.} thumb="-"
    [ "$who" != none ] && thumb=$(cc_sha256 "$P/$who.pem")
    local q="c=$who-$v" html json
    cg_check "TLS $v $who: HTML status" "$status" "$(cc_get "$v" "$who" /secure "$q-html")"
    html=$(cat "$T/body")
    cg_match "TLS $v $who: HTML code" "<p class=\"code\">$code</p>" "$html"
    cg_match "TLS $v $who: HTML reason" "$code &middot; $slug</footer>" "$html"
    cg_match "TLS $v $who: HTML shows the path to a loopback client" "SHA-256: |cert-required" "$html"
    if [[ "$html" == *secret* ]]; then cg_fail "TLS $v $who: content served"; fi
    cg_check "TLS $v $who: JSON status" "$status" \
        "$(cc_get "$v" "$who" /secure "$q-json" -H 'Accept: application/problem+json')"
    json=$(cat "$T/body")
    cg_check "TLS $v $who: JSON status/substatus/code/reason" "$status $sub $code $slug" \
        "$(for k in status substatus code reason; do printf '%s\n' "$json" | cc_json $k; done | xargs)"
    cg_match "TLS $v $who: JSON title and detail" '^[A-Z].+ \| .+' \
        "$(printf '%s' "$json" | cc_json title) | $(printf '%s' "$json" | cc_json detail)"
    cg_check "TLS $v $who: access log (html)" "$status $sub $slug - $thumb" "$(cc_w3c "$LOG" "$q-html" $FIELDS)"
    cg_check "TLS $v $who: access log (json)" "$status $sub $slug - $thumb" "$(cc_w3c "$LOG" "$q-json" $FIELDS)"
}

for v in 1.2 1.3; do
    cg_log "TLS $v: the cause table on /secure (require)"
    check_refusal "$v" none 403.7 cert-required
    check_refusal "$v" revoked 403.13 revoked
    check_refusal "$v" untrusted 403.16 untrusted-root
    check_refusal "$v" orphan 403.16 incomplete-chain
    check_refusal "$v" banned 403.16 distrusted
    check_refusal "$v" server 403.16 wrong-usage
    check_refusal "$v" badsig 403.16 bad-signature
    check_refusal "$v" deep 403.16 constraint-violation
    check_refusal "$v" unknown 403.16 revocation-unknown
    check_refusal "$v" odd 403.16 invalid
    check_refusal "$v" expired 403.17 expired
    check_refusal "$v" future 403.17 not-yet-valid

    cg_log "TLS $v: a valid certificate"
    cg_check "TLS $v good: /secure served" "200" "$(cc_get "$v" good /secure/ "c=good-$v-secure")"
    cg_check "TLS $v good: /secure content" "secret" "$(cat "$T/body")"
    cg_check "TLS $v good: access log has the CN and thumbprint" "200 0 ok alice $(cc_sha256 "$P/good.pem")" \
        "$(cc_w3c "$LOG" "c=good-$v-secure" $FIELDS)"
    subj=$(cc_w3c "$LOG" "c=good-$v-secure" x-client-cert-subject)
    cg_match "TLS $v good: access log has the subject" 'CN=alice' "$subj"

    cg_log "TLS $v: accept (/) serves whatever the certificate, and logs the verdict"
    for who in none good expired untrusted; do
        cg_check "TLS $v $who: / served" "200" "$(cc_get "$v" "$who" / "c=acc-$who-$v")"
        cg_check "TLS $v $who: / content" "home" "$(cat "$T/body")"
    done
    cg_check "TLS $v: accept, none logged" "200 0 - - -" "$(cc_w3c "$LOG" "c=acc-none-$v" $FIELDS)"
    cg_check "TLS $v: accept, good logged" "200 0 ok alice $(cc_sha256 "$P/good.pem")" "$(cc_w3c "$LOG" "c=acc-good-$v" $FIELDS)"
    cg_check "TLS $v: accept, expired logged without a user name" "200 0 expired - $(cc_sha256 "$P/expired.pem")" \
        "$(cc_w3c "$LOG" "c=acc-expired-$v" $FIELDS)"
    cg_check "TLS $v: accept, untrusted logged" "200 0 untrusted-root - $(cc_sha256 "$P/untrusted.pem")" \
        "$(cc_w3c "$LOG" "c=acc-untrusted-$v" $FIELDS)"

    cg_log "TLS $v: ignore (/public) never consults the certificate"
    cg_check "TLS $v: ignore, expired served" "200" "$(cc_get "$v" expired /public/ "c=ign-$v")"
    cg_check "TLS $v: ignore, nothing of the certificate logged" "200 0 - - -" "$(cc_w3c "$LOG" "c=ign-$v" $FIELDS)"

    cg_log "TLS $v: spoofed identity headers change nothing"
    code=$(cc_get "$v" none /secure "c=spoof-$v" -H 'X-SSL-Client-Verify: SUCCESS' \
        -H 'X-Client-Cert: CN=alice' -H 'Client-Cert: :MIIB:' -H 'SSL_CLIENT_S_DN: CN=alice' \
        -H 'X-SSL-Client-DN: CN=alice' -H 'Client-Cert-Chain: :MIIB:' -H 'X-Forwarded-Client-Cert: Hash=00')
    cg_check "TLS $v: spoofed headers without a certificate: 403" "403" "$code"
    cg_check "TLS $v: spoofed headers: access log" "403 7 cert-required - -" "$(cc_w3c "$LOG" "c=spoof-$v" $FIELDS)"
    code=$(cc_get "$v" expired /secure "c=spoof2-$v" -H 'X-SSL-Client-Verify: SUCCESS' -H 'SSL_CLIENT_VERIFY: SUCCESS')
    cg_check "TLS $v: spoofed headers with an expired certificate: 403.17" "403 17 expired" \
        "$code $(cc_w3c "$LOG" "c=spoof2-$v" sc-substatus x-reason)"
    # The page that exposes the verdict under accept reads it from the TLS
    # layer too: a Client-Cert header naming a good certificate is no
    # certificate, and "SUCCESS" headers do not make an expired one good.
    good_b64=$(openssl x509 -in "$P/good.pem" -outform DER | base64 -w0)
    cc_get "$v" none /whoami "c=spoof3-$v" -H 'Accept: application/json' -H "Client-Cert: :$good_b64:" \
        -H 'X-SSL-Client-Verify: SUCCESS' -H 'X-SSL-Client-S-DN: CN=alice' >/dev/null
    cg_check "TLS $v: certificate-info with a Client-Cert header and no certificate" "None cert-required" \
        "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["certificate"], d["verdict"]["reason"])' "$T/body")"
    cc_get "$v" expired /whoami "c=spoof4-$v" -H 'Accept: application/json' -H "Client-Cert: :$good_b64:" \
        -H 'X-SSL-Client-Verify: SUCCESS' >/dev/null
    cg_check "TLS $v: certificate-info with an expired certificate and spoofed headers: expired" \
        "CN=eve expired expired" \
        "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["certificate"]["subject"], d["verdict"]["reason"])' "$T/body")"
    if grep -q 'alice' "$T/body"; then cg_fail "TLS $v: certificate-info took alice from a header"; else cg_ok "TLS $v: certificate-info names no one from a header"; fi
done

cg_log "the error log: one line per refusal with the chain received and the chain built"
line=$(grep -F 'refused 403.16 untrusted-root' "$T/error.log" | head -n1)
cg_match "error log: client address" 'client 127\.0\.0\.1:[0-9]+ on 127\.0\.0\.1:' "$line"
cg_match "error log: chain received, with thumbprints" "chain received: \"CN=ursula untrusted\" sha256=$(cc_sha256 "$P/untrusted.pem"), \"CN=Stranger Root\" sha256=$(cc_sha256 "$P/stranger.pem")" "$line"
cg_match "error log: chain built, with sources and problems" 'chain built: "CN=ursula untrusted" \(client\) sha256=[0-9a-f]{64}( \[[a-z,-]+\])? <- "CN=Stranger Root" \(client\) sha256=[0-9a-f]{64} \[untrusted-root\]' "$line"
line=$(grep -F 'refused 403.16 incomplete-chain' "$T/error.log" | head -n1)
cg_match "error log: missing issuer named" '<- "CN=Hidden Issuing CA" \(missing\) sha256=-' "$line"
line=$(grep -F 'refused 403.13 revoked' "$T/error.log" | head -n1)
cg_match "error log: revoked, built through the intermediate store" '\(client\).*<- "O=certgate tests,CN=CG Test Issuing CA" \(intermediate-store\).*<- "O=certgate tests,CN=CG Test Root" \(root-store\)|\(client\).*CG Test Issuing CA.*\(intermediate-store\).*CG Test Root.*\(root-store\)' "$line"
# So far: 2 TLS versions x (HTML + JSON + spoofed headers).
cg_check "error log: one line per refusal" "6" "$(grep -c 'refused 403.7 cert-required' "$T/error.log")"

cg_log "403.4: plain HTTP to ssl: require"
for q in html json; do
    acc=(); [ $q = json ] && acc=(-H 'Accept: application/problem+json')
    code=$(curl -sS --max-time 10 -H 'Host: a.test' "${acc[@]}" -o "$T/body" -w '%{http_code}' "http://127.0.0.2:$HP/secure?c=plain-$q" || true)
    cg_check "plain $q: status" "403" "$code"
    if [ $q = html ]; then
        cg_match "plain html: code and reason" '<p class="code">403.4</p>.*403.4 &middot; ssl-required' "$(tr -d '\n' <"$T/body")"
    else
        cg_check "plain json: status/substatus/code/reason" "403 4 403.4 ssl-required" \
            "$(for k in status substatus code reason; do cc_json $k <"$T/body"; done | xargs)"
    fi
    cg_check "plain $q: access log" "403 4 ssl-required - -" "$(cc_w3c "$LOG" "c=plain-$q" $FIELDS)"
done
code=$(curl -sS --max-time 10 -H 'Host: a.test' -o "$T/body" -w '%{http_code}' "http://127.0.0.2:$HP/public/?c=plain-public" || true)
cg_check "plain HTTP to /public (ssl: allow, ignore): served" "200 public" "$code $(cat "$T/body")"

cg_log "a binding that does not negotiate, on a site that requires"
for v in 1.2 1.3; do
    code=$(curl -sS --max-time 10 --tlsv$v --tls-max $v --cacert "$P/root.pem" --resolve "c.test:$CP:127.0.0.3" \
        --cert "$P/good.pem" --key "$P/good.key" -H 'Accept: application/problem+json' -o "$T/body" \
        -w '%{http_code}' "https://c.test:$CP/?c=deaf-$v" || true)
    cg_check "TLS $v deaf: 403.7" "403 403.7 cert-required" "$code $(cc_json code <"$T/body") $(cc_json reason <"$T/body")"
    cg_check "TLS $v deaf: the detail says why" "this binding does not negotiate client certificates; a location that requires one needs negotiate_client_certificate: true" \
        "$(cc_json detail <"$T/body")"
done

cg_log "the CertificateRequest: roots listed, an empty list, or none asked"
for v in 1.2 1.3; do
    flag=-tls1_2; [ $v = 1.3 ] && flag=-tls1_3
    out=$(openssl s_client -connect "127.0.0.1:$AP" -servername a.test $flag </dev/null 2>/dev/null || true)
    cg_match "TLS $v accept: CA names sent" 'Acceptable client certificate CA names' "$out"
    cg_match "TLS $v accept: the root store's subject is listed" 'CN *= *CG Test Root' "$out"
    if [[ "$out" == *"CG Test Issuing CA"* ]]; then cg_fail "TLS $v: an intermediate in the CA list"; fi
    out=$(openssl s_client -connect "127.0.0.5:$NP" $flag </dev/null 2>/dev/null || true)
    cg_match "TLS $v client_ca_list: empty: asks, with no names" \
        'No client certificate CA names sent.*Requested Signature Algorithms' "$(tr '\n' ' ' <<<"$out")"
    # s_client prints "No client certificate CA names sent" also when no
    # CertificateRequest came; these two lines come only with one.
    out=$(openssl s_client -connect "127.0.0.4:$QP" $flag </dev/null 2>/dev/null || true)
    if [[ "$out" == *"Client Certificate Types"* || "$out" == *"Requested Signature Algorithms"* ]]; then
        cg_fail "TLS $v ignore: a CertificateRequest was sent"
    else
        cg_ok "TLS $v ignore: no CertificateRequest"
    fi
    cg_match "TLS $v ignore: handshake done" 'Verify return code|Cipher is' "$out"
done

cg_log "SNI a.test, Host b.test (another certificate policy): 421, never served"
for v in 1.2 1.3; do
    for q in html json; do
        acc=(); [ $q = json ] && acc=(-H 'Accept: application/problem+json')
        code=$(cc_get "$v" good / "c=mis-$q-$v" -H 'Host: b.test' "${acc[@]}")
        cg_check "TLS $v $q: 421" "421" "$code"
        if [ $q = json ]; then
            cg_check "TLS $v json: 421 body" "421 0 421 misdirected-request" \
                "$(for k in status substatus code reason; do cc_json $k <"$T/body"; done | xargs)"
        else
            cg_match "TLS $v html: 421 body" '421 &middot; misdirected-request' "$(cat "$T/body")"
            if grep -q home "$T/body"; then cg_fail "TLS $v: content served on 421"; fi
        fi
        cg_check "TLS $v $q: 421 logged" "421 0 misdirected-request" "$(cc_w3c "$LOG" "c=mis-$q-$v" sc-status sc-substatus x-reason)"
    done
done
code=$(curl -sS --max-time 10 --cacert "$P/root.pem" --resolve "b.test:$AP:127.0.0.1" -o /dev/null \
    -w '%{http_code}' -H 'Host: a.test' "https://b.test:$AP/secure" || true)
cg_check "SNI b.test (ignore), Host a.test /secure: 421, not a cert-less pass" "421" "$code"

cg_log "client-initiated renegotiation (TLS 1.2) is refused"
# "R" asks s_client to renegotiate; the server answers no_renegotiation, and
# the connection does not carry on as if nothing happened.
# s_client reads its commands from a FIFO held open by this shell, so it
# does not quit at end of input before the server answered; it exits when the
# server refuses (bounded by timeout if it did not).
mkfifo "$T/reneg.in"
timeout 10 openssl s_client -connect "127.0.0.1:$AP" -servername a.test -tls1_2 \
    -cert "$P/good.pem" -key "$P/good.key" <"$T/reneg.in" >"$T/reneg.out" 2>&1 &
rpid=$!
exec 3>"$T/reneg.in"
printf 'R\n' >&3
rrc=0
wait "$rpid" || rrc=$?
exec 3>&-
out=$(cat "$T/reneg.out")
cg_check "renegotiation: s_client ended by the server, not by the timeout" "1" "$rrc"
cg_match "renegotiation: s_client tried" 'RENEGOTIATING' "$out"
cg_match "renegotiation: refused by the server" 'RENEGOTIATING.*no renegotiation' "$(tr '\n' ' ' <<<"$out")"

cg_stop main
cg_check "exit status" "0" "$CG_RC"
cg_done
