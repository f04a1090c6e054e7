# serve_tls_sends.sh: what libssl writes during one turn of a TLS connection
# leaves in one send (src/tls/gather.h). Counted with strace on the server's
# sends per connection: a full TLS 1.3 handshake with a client certificate,
# GET and close takes 2 sends (the handshake flight; the session ticket, the
# response and close_notify), TLS 1.2 takes 3, keep-alive one per response.
# And every answer is complete and byte for byte the file: small and large
# files, keep-alive, HTTP/1.0, TLS 1.2 and 1.3, the 403 page of a refused
# certificate, a slow reader (sends that meet a full socket), and the
# decrypt_error alert of a failed CertificateVerify. The server's socket of
# each connection has TCP_NODELAY, and the server closes it as soon as the
# client answers its close_notify.
# shellcheck shell=bash source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=clientcert_lib.sh
source "$(dirname "$0")/clientcert_lib.sh"

command -v strace >/dev/null || { echo "FAIL: strace is not installed (scripts/install-deps.sh)"; exit 1; }
FETCH="python3 $CG_SOURCE_DIR/tests/e2e/tlsfetch.py"

P="$T/pki"
S="$T/stores"
cc_pki "$P" "$S"
$CG_PY forgekey "$P/good.key" "$P/untrusted.key" >"$P/forged.key"
mkdir -p "$T/www"
head -c 1024 /dev/urandom | base64 -w0 | head -c 1024 >"$T/www/small.html"
head -c 300 /dev/urandom | base64 -w0 >"$T/www/two.txt"
head -c 5000000 /dev/urandom >"$T/www/big.bin"

# One worker: every send of a connection is made by one thread.
cc_site_config "$T/cg.yaml" "$T/"
cg_start main "$T/cg.yaml"
PORT=$(cg_port main 127.0.0.1:0)
PID=$CG_PID_main

# fetch NAME CERT [fetch options] PATH...: one connection, answers in $T/NAME/.
fetch() {
    local name=$1 cert=$2; shift 2
    mkdir -p "$T/$name"
    $FETCH fetch --port "$PORT" --sni a.test --ca "$P/root.pem" --cert "$P/$cert.pem" \
        --key "$P/${KEY:-$cert}.key" --out "$T/$name" "$@" >"$T/$name.txt" 2>&1 || true
}
body_is() {  # body_is LABEL FILE_IN_WWW ANSWER_BODY
    cg_check "$1: body is the file, byte for byte" "$(sha256sum <"$T/www/$2")" "$(sha256sum <"$3")"
}

# Every connection below runs under strace, one after the other; strace has
# attached once it says so.
strace -f -o "$T/trace" -e trace=accept4,write,writev,sendmsg,sendto,close -p "$PID" \
    2>"$T/strace.err" &
STRACE=$!
CG_PIDS+=("$STRACE")
: >>"$T/strace.err"
$CG_PY waitlog "$T/strace.err" "attached" 10 >/dev/null ||
    { cat "$T/strace.err"; echo "FAIL: strace did not attach"; exit 1; }

cg_log "full handshakes, one GET each"
fetch t13 good --tls 1.3 /small.html
fetch t12 good --tls 1.2 /small.html
fetch ka good --tls 1.3 /small.html /two.txt /small.html
fetch h10 good --tls 1.3 --http10 /two.txt
fetch big13 good --tls 1.3 /big.bin
fetch big12 good --tls 1.2 /big.bin
fetch r13 untrusted --tls 1.3 /small.html
fetch r12 untrusted --tls 1.2 /small.html
fetch slow good --tls 1.3 --rcvbuf 4096 --pace 0.0005 /big.bin
KEY=forged fetch forged good --tls 1.3 /small.html

# strace writes a line as each call returns: wait for the tenth close.
$FETCH sends "$T/trace" --closed 10 --timeout 20 >"$T/sends.txt" || cg_fail "not 10 connections closed in the trace"
kill -INT "$STRACE"
wait "$STRACE" || true
mapfile -t SENDS < <($FETCH sends "$T/trace")
printf '%s\n' "${SENDS[@]}" | nl

cg_log "sends per connection (sends, of which EAGAIN)"
cg_check "connections traced" 10 "${#SENDS[@]}"
cg_check "TLS 1.3 full handshake + GET + close: 2 sends" "2 0" "${SENDS[0]}"
cg_check "TLS 1.2 full handshake + GET + close: 3 sends" "3 0" "${SENDS[1]}"
cg_check "keep-alive, 3 requests: the flight, then 1 send per response" "4 0" "${SENDS[2]}"
cg_check "HTTP/1.0: 2 sends" "2 0" "${SENDS[3]}"
cg_check "403 page, TLS 1.3: 2 sends" "2 0" "${SENDS[6]}"
cg_check "403 page, TLS 1.2: 3 sends" "3 0" "${SENDS[7]}"
read -r slow_sends slow_eagain <<<"${SENDS[8]}"
cg_check "slow reader: some sends met a full socket" true "$([ "$slow_eagain" -gt 0 ] && echo true || echo false)"
cg_check "forged key: the flight, then the alert" "2 0" "${SENDS[9]}"

cg_log "answers"
cg_check "TLS 1.3 small" "0 200 1024 1024 end close_notify" "$(tr '\n' ' ' <"$T/t13.txt" | sed 's/ $//')"
body_is "TLS 1.3 small" small.html "$T/t13/0.body"
cg_check "TLS 1.2 small" "0 200 1024 1024 end close_notify" "$(tr '\n' ' ' <"$T/t12.txt" | sed 's/ $//')"
body_is "TLS 1.2 small" small.html "$T/t12/0.body"
cg_check "keep-alive: 3 answers" "0 200 1024 1024 1 200 400 400 2 200 1024 1024 end close_notify" \
    "$(tr '\n' ' ' <"$T/ka.txt" | sed 's/ $//')"
body_is "keep-alive 1" small.html "$T/ka/0.body"
body_is "keep-alive 2" two.txt "$T/ka/1.body"
body_is "keep-alive 3" small.html "$T/ka/2.body"
cg_match "keep-alive: the first answers keep the connection" '^HTTP/1.1 200 ' "$(head -c 20 "$T/ka/0.head")"
cg_check "HTTP/1.0" "0 200 400 400 end close_notify" "$(tr '\n' ' ' <"$T/h10.txt" | sed 's/ $//')"
body_is "HTTP/1.0" two.txt "$T/h10/0.body"
cg_check "TLS 1.3 5 MB" "0 200 5000000 5000000 end close_notify" "$(tr '\n' ' ' <"$T/big13.txt" | sed 's/ $//')"
body_is "TLS 1.3 5 MB" big.bin "$T/big13/0.body"
cg_check "TLS 1.2 5 MB" "0 200 5000000 5000000 end close_notify" "$(tr '\n' ' ' <"$T/big12.txt" | sed 's/ $//')"
body_is "TLS 1.2 5 MB" big.bin "$T/big12/0.body"
cg_check "slow reader 5 MB" "0 200 5000000 5000000 end close_notify" "$(tr '\n' ' ' <"$T/slow.txt" | sed 's/ $//')"
body_is "slow reader 5 MB" big.bin "$T/slow/0.body"
for v in 13 12; do
    read -r _ st len got _ <"$T/r$v.txt"
    cg_check "refused certificate, TLS 1.$v: 403 with its whole body" "403 $len" "$st $got"
    cg_match "refused certificate, TLS 1.$v: the page names the cause" 'untrusted-root|Untrusted|not trusted' \
        "$(cat "$T/r$v/0.body")"
    cg_check "refused certificate, TLS 1.$v: then close_notify" "end close_notify" "$(tail -n 1 "$T/r$v.txt")"
done
cg_check "refused certificate: the same page over TLS 1.2 and 1.3" \
    "$(sha256sum <"$T/r13/0.body")" "$(sha256sum <"$T/r12/0.body")"
cg_match "forged key: the client gets the decrypt_error alert" '^end alert .*DECRYPT_ERROR' \
    "$(tail -n 1 "$T/forged.txt")"

cg_log "accepted sockets send at once (TCP_NODELAY, given by the listening socket)"
cg_check "TCP_NODELAY on the server's socket of a connection" 1 "$($FETCH nodelay --pid "$PID" --port "$PORT")"

cg_log "the client's close_notify ends the connection (no wait for its FIN)"
for v in 1.3 1.2; do
    fetch answer$v good --tls $v --answer-close 1.5 --pid "$PID" /two.txt
    cg_check "TLS $v: closed at the client's close_notify" "0 200 400 400 end close_notify server closed" \
        "$(tr '\n' ' ' <"$T/answer$v.txt" | sed 's/ $//')"
done

cg_log "the server is still serving"
fetch after good --tls 1.3 /two.txt
cg_check "a GET after all that" "0 200 400 400 end close_notify" "$(tr '\n' ' ' <"$T/after.txt" | sed 's/ $//')"
cg_stop main
cg_check "server exit status" 0 "$CG_RC"
exit $((CG_FAILS > 0))
