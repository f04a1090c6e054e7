# serve_timeouts.sh: every timeout closes what it should while other clients
# are served: a head trickled one byte a second (header_timeout, counted from
# the first byte, never re-armed), a TLS client that never finishes its
# handshake, an idle keep-alive connection, a stalled body; and
# max_connections refuses the connection past the limit.
source "$(dirname "$0")/lib.sh"

cg_pki "$T/pki" localhost
mkdir -p "$T/www"
printf 'ok\n' >"$T/www/index.html"
head -c 67108864 /dev/zero >"$T/www/huge.bin"
cat >"$T/cg.yaml" <<EOF
workers: 1
access_log: { path: $T/access.log }
error_log: { path: $T/error.log, level: info }
limits: { header_timeout: 3s, handshake_timeout: 2s, keepalive_timeout: 2s, body_timeout: 2s,
          send_timeout: 2s, max_connections: 8 }
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

cg_log "slow client (a byte a second) closed at header_timeout while others are served"
$CG_PY slow 127.0.0.2 "$PP" 1 >"$T/slow.out" &
slow_pid=$!
# Meanwhile, on the same single worker, normal clients are served at once.
served=0
for i in $(seq 1 5); do
    code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.2:$PP/" || true)
    [ "$code" = 200 ] && served=$((served + 1))
    code=$(cg_curl_tls localhost "$TP" -o /dev/null -w '%{http_code}' --max-time 2 "https://localhost:$TP/" || true)
    [ "$code" = 200 ] && served=$((served + 1))
done
cg_check "10 requests served during the slow client" "10" "$served"
wait "$slow_pid"
slow=$(cat "$T/slow.out")
cg_match "slow client closed after ~3 s without an answer" '^closed after (2\.[5-9]|3\.[0-9]|4\.[0-4])s: close$' "$slow"
if cg_waitlog "$T/error.log" 'closed: header_timeout' 5; then cg_ok "header_timeout logged"; else cg_fail "header_timeout not logged"; fi

cg_log "handshake_timeout: TCP connect to the TLS port, then silence"
start=$(date +%s%N)
got=$(printf '' | $CG_PY send 127.0.0.1 "$TP" --timeout 8)
el=$(( ($(date +%s%N) - start) / 1000000 ))
cg_check "closed without a word" "close" "$got"
if [ "$el" -ge 1500 ] && [ "$el" -le 4500 ]; then cg_ok "after ~2 s ($el ms)"; else cg_fail "handshake timeout took $el ms"; fi

cg_log "keepalive_timeout"
got=$(python3 - "$PP" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.2", int(sys.argv[1])))
s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
t0 = time.monotonic(); data = b""
s.settimeout(8)
while True:
    c = s.recv(4096)
    if not c:
        break
    data += c
print(f"{data[:12].decode()} closed after {time.monotonic() - t0:.1f}s")
PY
)
cg_match "idle keep-alive connection closed at ~2 s" '^HTTP/1.1 200 closed after (1\.[5-9]|2\.[0-9]|3\.[0-4])s$' "$got"

cg_log "body_timeout: a body that stops arriving"
got=$(python3 - "$PP" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.2", int(sys.argv[1])))
s.sendall(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nabc")
t0 = time.monotonic(); data = b""
s.settimeout(8)
while True:
    c = s.recv(4096)
    if not c:
        break
    data += c
print(f"{len(data)} bytes, closed after {time.monotonic() - t0:.1f}s")
PY
)
cg_match "stalled body closed at ~2 s" '^0 bytes, closed after (1\.[5-9]|2\.[0-9]|3\.[0-4])s$' "$got"

cg_log "send_timeout: a client that stops reading"
got=$(python3 - "$PP" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.2", int(sys.argv[1])))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
s.sendall(b"GET /huge.bin HTTP/1.1\r\nHost: a\r\n\r\n")
t0 = time.monotonic()
# Read nothing for 5 s: the server's writes block, send_timeout (2 s) fires.
socket.socket.settimeout(s, None)
import select
select.select([], [], [], 5)
total = 0
s.settimeout(5)
try:
    while True:
        c = s.recv(1 << 20)
        if not c:
            break
        total += len(c)
except (ConnectionResetError, socket.timeout):
    pass
print("truncated" if total < 67108864 else "complete")
PY
)
cg_check "non-reading client cut off" "truncated" "$got"
if cg_waitlog "$T/error.log" 'closed: send_timeout' 5; then cg_ok "send_timeout logged"; else cg_fail "send_timeout not logged"; fi

cg_log "max_connections: 8"
python3 - "$PP" >"$T/maxconn.out" <<'PY' &
import socket, sys, time
socks = [socket.create_connection(("127.0.0.2", int(sys.argv[1]))) for _ in range(8)]
# Each holds a slot with a partial head; the 9th is refused by the server.
for s in socks:
    s.sendall(b"GET / HTTP/1.1\r\n")
n = socket.create_connection(("127.0.0.2", int(sys.argv[1])))
n.settimeout(5)
n.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
try:
    print("ninth:", "refused" if n.recv(100) == b"" else "served")
except ConnectionResetError:
    print("ninth: refused")
for s in socks:
    s.close()
PY
maxconn_pid=$!
wait "$maxconn_pid"
cg_check "ninth connection refused" "ninth: refused" "$(cat "$T/maxconn.out")"
if cg_waitlog "$T/error.log" 'refused: max_connections reached' 5; then cg_ok "refusal logged"; else cg_fail "refusal not logged"; fi
# Slots come back once the holders leave.
code=""
for i in $(seq 1 50); do
    code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.2:$PP/" || true)
    [ "$code" = 200 ] && break
done
cg_check "served again after the holders left" "200" "$code"

cg_stop main
cg_check "exit status" "0" "$CG_RC"
cg_done
