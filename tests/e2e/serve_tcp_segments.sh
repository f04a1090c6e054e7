# serve_tcp_segments.sh: a TLS connection that closes after its response
# ends in as few TCP segments as the exchange allows: the server's last
# bytes (the response's end and its close_notify) and its FIN leave in one
# segment, and so do loadgen's close_notify and FIN (gather.h,
# cg_tls_gather_closing). Counted on the wire: every segment to and from the
# server's port, captured on the loopback interface (segcount.py, an
# AF_PACKET socket), for TLS 1.3 and 1.2 connections of a Python client and
# of loadgen (whose delayed ACKs, the default, save two bare ACKs per
# connection against --acks quick), the 403 page of a refused certificate,
# and keep-alive requests before the close; every answer is checked too.
# shellcheck shell=bash source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=clientcert_lib.sh
source "$(dirname "$0")/clientcert_lib.sh"

: "${CG_BUILD_DIR:?CG_BUILD_DIR must name the build directory}"
LOADGEN="$CG_BUILD_DIR/loadgen"
[ -x "$LOADGEN" ] || { echo "FAIL: $LOADGEN is not built"; exit 1; }
FETCH="python3 $CG_SOURCE_DIR/tests/e2e/tlsfetch.py"
SEGCOUNT="python3 $CG_SOURCE_DIR/tests/e2e/segcount.py"
python3 -c 'import socket; socket.socket(socket.AF_PACKET, socket.SOCK_RAW)' 2>/dev/null ||
    { echo "FAIL: capturing on the loopback interface needs CAP_NET_RAW (run the tests as root)"; exit 1; }

P="$T/pki"
S="$T/stores"
cc_pki "$P" "$S"
cat "$P/good.pem" "$P/ca.pem" >"$P/good-chain.pem"
mkdir -p "$T/www"
head -c 1024 /dev/urandom | base64 -w0 | head -c 1024 >"$T/www/small.html"
cc_site_config "$T/cg.yaml" "$T/"
cg_start main "$T/cg.yaml"
PORT=$(cg_port main 127.0.0.1:0)

# capture NAME CONNECTIONS COMMAND...: runs COMMAND while counting segments;
# $T/NAME.segs gets segcount.py's lines, $T/NAME.out the command's output.
capture() {
    local name=$1 conns=$2 cap rc=0
    shift 2
    rm -f "$T/$name.ready"
    $SEGCOUNT --port "$PORT" --fins "$conns" --ready "$T/$name.ready" >"$T/$name.segs" &
    cap=$!
    CG_PIDS+=("$cap")
    $CG_PY waitlog "$T/$name.ready" capturing 10 >/dev/null || cg_fail "$name: the capture did not start"
    "$@" >"$T/$name.out" 2>&1 || true
    wait "$cap" || rc=$?
    cg_check "$name: every FIN of $conns connection(s) captured" 0 "$rc"
    sed "s/^/    $name: /" "$T/$name.segs"
}
# bare NAME SIDE: the bare FINs SIDE sent, over all connections
bare() { awk -v s="$2" '$1 == s { n += $4 } END { print n + 0 }' "$T/$1.segs"; }

cg_log "Python client, TLS 1.3 and 1.2, one GET, then close"
for v in 1.3 1.2; do
    mkdir -p "$T/py$v"
    capture "py$v" 1 $FETCH fetch --port "$PORT" --sni a.test --ca "$P/root.pem" --cert "$P/good.pem" \
        --key "$P/good.key" --tls "$v" --out "$T/py$v" /small.html
    cg_check "TLS $v: the answer" "0 200 1024 1024 end close_notify" "$(tr '\n' ' ' <"$T/py$v.out" | sed 's/ $//')"
    cg_check "TLS $v: the server's FIN rides with its last bytes" 0 "$(bare "py$v" server)"
done

cg_log "keep-alive: 3 requests, then close"
mkdir -p "$T/ka"
capture ka 1 $FETCH fetch --port "$PORT" --sni a.test --ca "$P/root.pem" --cert "$P/good.pem" \
    --key "$P/good.key" --tls 1.3 --out "$T/ka" /small.html /small.html /small.html
cg_check "keep-alive: 3 answers" "0 200 1024 1024 1 200 1024 1024 2 200 1024 1024 end close_notify" \
    "$(tr '\n' ' ' <"$T/ka.out" | sed 's/ $//')"
cg_check "keep-alive: the server's FIN rides with its last bytes" 0 "$(bare ka server)"

cg_log "a refused certificate: the 403 page, then close"
mkdir -p "$T/refused"
capture refused 1 $FETCH fetch --port "$PORT" --sni a.test --ca "$P/root.pem" --cert "$P/untrusted.pem" \
    --key "$P/untrusted.key" --tls 1.3 --out "$T/refused" /small.html
cg_match "refused: the 403 page" '^0 403 ' "$(head -n 1 "$T/refused.out")"
cg_check "refused: the server's FIN rides with its last bytes" 0 "$(bare refused server)"

cg_log "loadgen, full handshakes: both FINs ride with the close_notify"
capture lg 4 "$LOADGEN" --port "$PORT" --sni a.test --ca "$P/root.pem" --cert "$P/good-chain.pem" \
    --key "$P/good.key" --path /small.html --concurrency 1 --tls 1.3 --mode new --requests 4 \
    --warmup 0 --duration 30 --json
cg_check "loadgen: 4 answers, no error" True "$(python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
print(r["status"] == {"200": 4} and r["errors"]["total"] == 0)' "$T/lg.out")"
cg_check "loadgen: 4 connections seen" 8 "$(wc -l <"$T/lg.segs")"
cg_check "loadgen: no bare FIN from the server" 0 "$(bare lg server)"
cg_check "loadgen: no bare FIN from loadgen" 0 "$(bare lg client)"

cg_log "loadgen --acks quick against the default (delayed): bare ACKs on connect and for the server's flight"
capture lgquick 4 "$LOADGEN" --port "$PORT" --sni a.test --ca "$P/root.pem" --cert "$P/good-chain.pem" \
    --key "$P/good.key" --path /small.html --concurrency 1 --tls 1.3 --mode new --requests 4 \
    --warmup 0 --duration 30 --json --acks quick
# sent SIDE NAME: the segments SIDE sent, over all connections
sent() { awk -v s="$2" '$1 == s { n += $2 } END { print n + 0 }' "$T/$1.segs"; }
quick=$(sent lgquick client)
delayed=$(sent lg client)
cg_log "loadgen's segments over 4 connections: quick $quick, delayed $delayed"
# The handshake's last ACK always rides with the ClientHello (written as
# soon as connect completes); the server's flight is acknowledged by the
# client's own unless the client took longer than the delayed-ACK timer.
cg_check "loadgen: delayed ACKs save at least one segment per connection" True \
    "$(python3 -c "print($quick - $delayed >= 4 and $quick - $delayed <= 8)")"
cg_check "loadgen --acks quick: the same data segments" "$(awk '$1 == "client" { n += $3 } END { print n }' "$T/lg.segs")" \
    "$(awk '$1 == "client" { n += $3 } END { print n }' "$T/lgquick.segs")"
cg_check "loadgen --acks bad: refused" 2 "$("$LOADGEN" --port "$PORT" --ca "$P/root.pem" --acks sometimes >/dev/null 2>&1; echo $?)"

cg_stop main
cg_check "server exit status" 0 "$CG_RC"
exit $((CG_FAILS > 0))
