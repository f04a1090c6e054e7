# serve_static.sh: static files over TLS and plain HTTP: GET, HEAD, 304,
# ranges, 404/405/403.14, keep-alive, pipelining, HTTP/1.0, request bodies
# (Content-Length, chunked, Expect: 100-continue, 413), the access log.
source "$(dirname "$0")/lib.sh"

cg_pki "$T/pki" localhost
mkdir -p "$T/www/dir" "$T/www/sub"
printf 'hello certgate\n' >"$T/www/index.html"
printf 'sub index\n' >"$T/www/sub/index.html"
printf '{"a":1}\n' >"$T/www/data.json"
head -c 1048576 /dev/urandom >"$T/www/big.bin"
printf '0123456789abcdefghij' >"$T/www/digits.txt"

cat >"$T/cg.yaml" <<EOF
workers: 2
access_log: { path: $T/access.log, format: w3c }
error_log: { path: $T/error.log, level: info }
limits: { body_bytes: 1000, max_requests_per_connection: 50 }
sites:
  - name: main
    root: $T/www
    bindings:
      - { listen: "127.0.0.1:0", tls: true, certificate: $T/pki/localhost.pem, key: $T/pki/localhost.key }
      - { listen: "127.0.0.2:0" }
EOF
cg_start main "$T/cg.yaml"
TP=$(cg_port main 127.0.0.1:0)
PA=$(cg_addr main 127.0.0.2:0)
PP=${PA##*:}
cg_log "TLS port $TP, plain $PA"
H=https://localhost:$TP

cg_log "GET over TLS and plain HTTP"
cg_check "tls body" "hello certgate" "$(cg_curl_tls localhost "$TP" "$H/")"
cg_check "plain body" "hello certgate" "$(curl -sS --max-time 10 "http://$PA/")"
cg_check "tls big file" "$(sha256sum <"$T/www/big.bin")" "$(cg_curl_tls localhost "$TP" "$H/big.bin" | sha256sum)"
cg_check "plain big file (sendfile)" "$(sha256sum <"$T/www/big.bin")" "$(curl -sS --max-time 10 "http://$PA/big.bin" | sha256sum)"
cg_check "tls 1.2" "hello certgate" "$(cg_curl_tls localhost "$TP" --tlsv1.2 --tls-max 1.2 "$H/")"
cg_check "alpn http/1.1" "1.1" "$(cg_curl_tls localhost "$TP" -o /dev/null -w '%{http_version}' "$H/")"
alpn=$(openssl s_client -connect "127.0.0.1:$TP" -servername localhost -alpn h2 </dev/null 2>&1 || true)
cg_match "ALPN h2 only: no_application_protocol alert" 'no application protocol' "$alpn"
old_tls=$(openssl s_client -connect "127.0.0.1:$TP" -servername localhost -tls1_1 </dev/null 2>&1 || true)
cg_match "TLS 1.1 refused" 'Cipher is \(NONE\)' "$old_tls"
cbc=$(openssl s_client -connect "127.0.0.1:$TP" -servername localhost -tls1_2 -cipher AES128-SHA </dev/null 2>&1 || true)
cg_match "non-forward-secret suite refused" 'Cipher is \(NONE\)' "$cbc"
hdrs=$(cg_curl_tls localhost "$TP" -D - -o /dev/null "$H/data.json" | tr -d '\r')
cg_match "content-type json" $'Content-Type: application/json' "$hdrs"
cg_match "server header" $'Server: certgate' "$hdrs"
cg_match "date header" $'Date: [A-Z][a-z]{2}, [0-9]{2} ' "$hdrs"
cg_match "etag" $'ETag: "[0-9a-f-]+"' "$hdrs"

cg_log "HEAD, 304, ranges"
head_out=$(cg_curl_tls localhost "$TP" -I "$H/big.bin" | tr -d '\r')
cg_match "head content-length" $'Content-Length: 1048576' "$head_out"
cg_check "head has no body" "0" "$(cg_curl_tls localhost "$TP" -I -o /dev/null -w '%{size_download}' "$H/big.bin")"
etag=$(printf '%s\n' "$hdrs" | awk -F': ' 'tolower($1)=="etag"{print $2}')
cg_check "304 by etag" "304" "$(cg_curl_tls localhost "$TP" -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "$H/data.json")"
cg_check "206 range body" "23456" "$(cg_curl_tls localhost "$TP" -r 2-6 "$H/digits.txt")"
cg_check "206 status" "206" "$(curl -sS -o /dev/null -w '%{http_code}' -r 2-6 "http://$PA/digits.txt")"
cg_check "416" "416" "$(curl -sS -o /dev/null -w '%{http_code}' -r 100-200 "http://$PA/digits.txt")"
cg_check "suffix range" "ghij" "$(curl -sS -r -4 "http://$PA/digits.txt")"

cg_log "errors"
cg_check "404" "404" "$(curl -sS -o /dev/null -w '%{http_code}' "http://$PA/nope")"
cg_check "403.14 directory without index" "403" "$(curl -sS -o /dev/null -w '%{http_code}' "http://$PA/dir/")"
cg_match "403.14 in json body" '"code": ?"403.14"' "$(curl -sS -H 'Accept: application/json' "http://$PA/dir/")"
cg_check "index of subdir" "sub index" "$(curl -sS "http://$PA/sub/")"
r405=$(curl -sS -D - -o /dev/null -X DELETE "http://$PA/" | tr -d '\r')
cg_match "405" '^HTTP/1.1 405' "$r405"
cg_match "405 Allow" $'Allow: GET, HEAD' "$r405"

cg_log "keep-alive and pipelining"
nc=$(cg_curl_tls localhost "$TP" -o /dev/null -o /dev/null -o /dev/null -w '%{num_connects}\n' "$H/" "$H/data.json" "$H/digits.txt" | tr -d '\n')
cg_check "tls keep-alive: one connect for three requests" "100" "$nc"
nc=$(curl -sS -o /dev/null -o /dev/null -w '%{num_connects}\n' "http://$PA/" "http://$PA/digits.txt" | tr -d '\n')
cg_check "plain keep-alive" "10" "$nc"
req='GET /digits.txt HTTP/1.1\r\nHost: localhost\r\n\r\nGET /data.json HTTP/1.1\r\nHost: localhost\r\n\r\nHEAD / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'
cg_check "plain pipelining, three in one write" "200 200 200 close" "$(printf '%s' "$req" | $CG_PY send 127.0.0.2 "$PP" --escaped)"
cg_check "tls pipelining" "200 200 200 close" "$(printf '%s' "$req" | $CG_PY send 127.0.0.1 "$TP" --tls --sni localhost --escaped)"
out=$(printf 'GET /digits.txt HTTP/1.1\r\nHost: localhost\r\n\r\nGET /digits.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' | $CG_PY send 127.0.0.2 "$PP" --dump)
cg_check "pipelined bodies in order" "2" "$(printf '%s' "$out" | grep -c '^0123456789abcdefghij')"
cg_check "heads trickled a byte at a time" "200 200 close" "$($CG_PY trickle 127.0.0.2 "$PP")"
cg_check "http/1.0 closes" "200 close" "$(printf 'GET / HTTP/1.0\r\n\r\n' | $CG_PY send 127.0.0.2 "$PP" --escaped)"
cg_check "http/1.0 keep-alive" "200 200 close" "$(printf 'GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.0\r\n\r\n' | $CG_PY send 127.0.0.2 "$PP" --escaped)"
cg_check "http/1.1 stays open" "200 open" "$(printf 'GET / HTTP/1.1\r\nHost: localhost\r\n\r\n' | $CG_PY send 127.0.0.2 "$PP" --escaped --timeout 2)"

cg_log "request bodies"
cg_check "POST with body -> 405, connection kept" "405 200 close" "$(printf 'POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' | $CG_PY send 127.0.0.2 "$PP" --escaped)"
cg_check "chunked body read and discarded" "405 200 close" "$(printf 'POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' | $CG_PY send 127.0.0.2 "$PP" --escaped)"
cg_check "body over body_bytes -> 413" "413 close" "$(printf 'POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5000\r\n\r\n' | $CG_PY send 127.0.0.2 "$PP" --escaped)"
big=$(head -c 3000 /dev/zero | tr '\0' 'a')
cg_check "chunked body over body_bytes -> 413" "413 close" "$(printf 'POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\nbb8\r\n%s\r\n0\r\n\r\n' "$big" | $CG_PY send 127.0.0.2 "$PP" --escaped)"
cg_check "body already sent: no 100" "405 close" "$(printf 'PUT /x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\nExpect: 100-continue\r\nConnection: close\r\n\r\nabc' | $CG_PY send 127.0.0.2 "$PP" --escaped)"
v=$(curl -sS -v -o /dev/null -H 'Expect: 100-continue' --data-binary 'abc' "http://$PA/" 2>&1 | tr -d '\r')
cg_match "curl with Expect: 100-continue gets 100 then 405" $'< HTTP/1.1 100 Continue.*< HTTP/1.1 405' "$(echo $v)"

cg_log "max_requests_per_connection"
many=""
for i in $(seq 1 55); do many+='GET / HTTP/1.1\r\nHost: localhost\r\n\r\n'; done
got=$(printf '%s' "$many" | $CG_PY send 127.0.0.2 "$PP" --escaped)
cg_check "50 answered then closed" "50 close" "$(echo "$got" | wc -w | awk '{print $1-1}') $(echo "$got" | awk '{print $NF}')"

cg_log "access log (flushed by the 1 s timer)"
if cg_waitlog "$T/access.log" ' GET /digits.txt .* 206 0 ' 5; then cg_ok "206 logged"; else cg_fail "206 not in access log"; fi
if cg_waitlog "$T/access.log" ' TLSv1\.[23] ' 5; then cg_ok "tls version logged"; else cg_fail "tls version not logged"; fi
if cg_waitlog "$T/error.log" 'request refused: 413' 5; then cg_ok "413 in error log"; else cg_fail "413 not in error log"; fi

cg_log "no configuration: the built-in demo (tests/e2e/demo.sh), refused here: its port is taken"
mkdir -p "$T/empty"
rc=0; msg=$(cd "$T/empty" && "$CERTGATE" serve --state-dir "$T/empty/demo" \
    --demo-https-port "$TP" --demo-http-port 0 2>&1) || rc=$?
cg_check "no config: exit status 2" "2" "$rc"
cg_match "no config: the demo names the taken port" "port $TP \(https\) is taken" "$msg"
printf 'sites: [\n' >"$T/bad.yaml"
rc=0; msg=$("$CERTGATE" serve --config "$T/bad.yaml" 2>&1) || rc=$?
cg_check "bad config: exit status 2" "2" "$rc"
cg_match "bad config: file:line:col" 'bad\.yaml:[0-9]+:[0-9]+' "$msg"

cg_stop main
cg_check "SIGTERM exit status" "0" "$CG_RC"
cg_done
