# serve_hostile.sh: a table of malformed and hostile requests, each with the
# exact answer expected (status, then whether the server closed), and after
# each one a check that the server still serves normal clients on both ports.
source "$(dirname "$0")/lib.sh"

cg_pki "$T/pki" localhost
mkdir -p "$T/www/sub"
printf 'ok\n' >"$T/www/index.html"
printf 'sub\n' >"$T/www/sub/index.html"
cat >"$T/cg.yaml" <<EOF
workers: 2
access_log: { path: $T/access.log }
error_log: { path: $T/error.log, level: info }
limits: { header_bytes: 16384, headers: 100, body_bytes: 100000 }
sites:
  - name: main
    root: $T/www
    bindings:
      - { listen: "127.0.0.1:0", tls: true, certificate: $T/pki/localhost.pem, key: $T/pki/localhost.key }
      - { listen: "127.0.0.2:0" }
EOF
cg_start main "$T/cg.yaml"
TP=$(cg_port main 127.0.0.1:0)
PP=$(cg_port main 127.0.0.2:0)

# name | where (plain, tls, tls-raw: unencrypted bytes to the TLS port) | expected /regex/ of
# "<statuses...> close|open" | payload (\r \n \xNN escapes; REPEAT~n~text~payload puts
# text n times in place of @)
table=$(cat <<'EOF'
smuggling CL then TE               | plain | 400 close | POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n
smuggling TE then CL               | plain | 400 close | POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n
smuggling CL+TE over TLS           | tls   | 400 close | POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n
two differing Content-Length       | plain | 400 close | POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!
Content-Length list differing      | plain | 400 close | POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\nhello!
Content-Length with plus sign      | plain | 400 close | POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\nhello
Content-Length negative            | plain | 400 close | POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n
Content-Length hex                 | plain | 400 close | POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\nhello
Content-Length overflow            | plain | 400 close | POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n
Content-Length empty               | plain | 400 close | POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n
chunked twice                      | plain | 400 close | POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n
chunked not last                   | plain | 400 close | POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n
unknown transfer coding            | plain | 501 close | POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n
coding without chunked (no length) | plain | 400 close | POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n
TE lookalike xchunked              | plain | 400 close | POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n
TE in HTTP/1.0                     | plain | 400 close | POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n
obs-fold                           | plain | 400 close | GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n
space before colon                 | plain | 400 close | GET / HTTP/1.1\r\nHost : a\r\n\r\n
bare LF line endings               | plain | 400 close | GET / HTTP/1.1\nHost: a\n\n
bare CR in request line            | plain | 400 close | GET / HTTP/1.1\rHost: a\r\n\r\n
bare CR in header value            | plain | 400 close | GET / HTTP/1.1\r\nHost: a\r\nX-A: b\rc\r\n\r\n
NUL in header value                | plain | 400 close | GET / HTTP/1.1\r\nHost: a\r\nX-A: b\x00c\r\n\r\n
bad header name character          | plain | 400 close | GET / HTTP/1.1\r\nHost: a\r\nX(A): b\r\n\r\n
request target over limit (414)    | plain | 414 close | REPEAT~10000~a~GET /@ HTTP/1.1\r\nHost: a\r\n\r\n
one huge header (431)              | plain | 431 close | REPEAT~20000~a~GET / HTTP/1.1\r\nHost: a\r\nX-Big: @\r\n\r\n
too many headers (431)             | plain | 431 close | REPEAT~150~X-H: v\r\n~GET / HTTP/1.1\r\nHost: a\r\n@\r\n
headers over limit over TLS        | tls   | 431 close | REPEAT~20000~a~GET / HTTP/1.1\r\nHost: a\r\nX-Big: @\r\n\r\n
chunk size not hex                 | plain | 400 close | POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n
chunk size overflow                | plain | 400 close | POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\nhello\r\n0\r\n\r\n
chunk size negative                | plain | 400 close | POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n
chunk data without CRLF            | plain | 400 close | POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n
chunk size line bare LF            | plain | 400 close | POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n
valid chunked with extension       | plain | 405 200 close | POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n
traversal plain ..                 | plain | 400 open  | GET /../../etc/passwd HTTP/1.1\r\nHost: a\r\n\r\n
traversal %2e%2e                   | plain | 400 open  | GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: a\r\n\r\n
traversal %2E%2E upper case        | plain | 400 open  | GET /%2E%2E/etc/passwd HTTP/1.1\r\nHost: a\r\n\r\n
traversal mixed .%2e               | plain | 400 open  | GET /sub/.%2e/.%2e/etc/passwd HTTP/1.1\r\nHost: a\r\n\r\n
traversal encoded slash ..%2f      | plain | 400 open  | GET /..%2fetc%2fpasswd HTTP/1.1\r\nHost: a\r\n\r\n
traversal via subdir               | plain | 400 open  | GET /sub/../../etc/passwd HTTP/1.1\r\nHost: a\r\n\r\n
traversal double-encoded           | plain | 404 open  | GET /%252e%252e/%252e%252e/etc/passwd HTTP/1.1\r\nHost: a\r\n\r\n
traversal backslash                | plain | 400 open  | GET /..\\..\\etc\\passwd HTTP/1.1\r\nHost: a\r\n\r\n
traversal encoded backslash        | plain | 400 open  | GET /%5c..%5c..%5cetc/passwd HTTP/1.1\r\nHost: a\r\n\r\n
traversal overlong UTF-8 dot       | plain | 404 open  | GET /%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd HTTP/1.1\r\nHost: a\r\n\r\n
traversal over TLS                 | tls   | 400 open  | GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: a\r\n\r\n
encoded NUL in path                | plain | 400 open  | GET /index.html%00.txt HTTP/1.1\r\nHost: a\r\n\r\n
hidden file                        | plain | 404 open  | GET /.htpasswd HTTP/1.1\r\nHost: a\r\n\r\n
fragment in target                 | plain | 400 close | GET /index.html#x HTTP/1.1\r\nHost: a\r\n\r\n
invalid method characters          | plain | 400 close | G@T / HTTP/1.1\r\nHost: a\r\n\r\n
unknown method                     | plain | 405 open  | BREW / HTTP/1.1\r\nHost: a\r\n\r\n
asterisk-form OPTIONS              | plain | 405 open  | OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n
CONNECT tunnel attempt             | plain | 405 open  | CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n
empty method                       | plain | 400 close |  / HTTP/1.1\r\nHost: a\r\n\r\n
two spaces in request line         | plain | 400 close | GET  / HTTP/1.1\r\nHost: a\r\n\r\n
HTTP/0.9 request                   | plain | 400 close | GET /\r\n\r\n
HTTP/2.0 version                   | plain | 505 close | GET / HTTP/2.0\r\nHost: a\r\n\r\n
HTTP/1.2 version                   | plain | 505 close | GET / HTTP/1.2\r\nHost: a\r\n\r\n
lower-case version                 | plain | 400 close | GET / http/1.1\r\nHost: a\r\n\r\n
HTTP/2 connection preface          | plain | 505 close | PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n
missing Host in HTTP/1.1           | plain | 400 close | GET / HTTP/1.1\r\n\r\n
two Host headers                   | plain | 400 close | GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n
invalid Host value                 | plain | 400 close | GET / HTTP/1.1\r\nHost: a b\r\n\r\n
absolute-form ftp scheme           | plain | 400 close | GET ftp://a/ HTTP/1.1\r\nHost: a\r\n\r\n
unknown expectation                | plain | 417 close | GET / HTTP/1.1\r\nHost: a\r\nExpect: magic\r\n\r\n
too many leading CRLF              | plain | 400 close | \r\n\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n
binary garbage on plain port       | plain | 400 close | \x00\x01\x02\x03\xff\xfe
TLS ClientHello on the plain port  | plain | 400 close | \x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03
plain HTTP on the TLS port         | tls-raw | 400 close | GET / HTTP/1.1\r\nHost: a\r\n\r\n
TLS garbage on the TLS port        | tls-raw | close   | \x16\x03\x01\x00\x05hello
binary garbage on the TLS port     | tls-raw | close   | \x00\x01\x02\x03\xff\xfe
TLS record not a handshake         | tls-raw | close   | \x17\x03\x03\x00\x10AAAAAAAAAAAAAAAA
EOF
)
out=$(printf '%s\n' "$table" | $CG_PY table 127.0.0.2 "$PP" 127.0.0.1 "$TP" localhost) || true
echo "$out"
summary=$(echo "$out" | tail -n 1)
cg_match "hostile table" '^[0-9]+ cases, 0 failed$' "$summary"
if grep -q 'request refused: 400' "$T/error.log"; then cg_ok "refusals logged"; else cg_fail "no refusal in the error log"; fi
if grep -q 'plain HTTP request on a TLS port' "$T/error.log"; then cg_ok "plain-on-TLS logged"; else cg_fail "plain-on-TLS not logged"; fi
if grep -q 'TLS handshake on a plain HTTP port' "$T/error.log"; then cg_ok "TLS-on-plain logged"; else cg_fail "TLS-on-plain not logged"; fi
cg_stop main
cg_check "exit status" "0" "$CG_RC"
cg_done
