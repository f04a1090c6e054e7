# serve_reload.sh: SIGHUP under load with zero failed requests; the new
# config and certificate take effect; a broken config is refused and the old
# one keeps serving; a new listen address opens, a removed one closes;
# SIGUSR1 reopens the logs; SIGTERM drains a request in flight.
source "$(dirname "$0")/lib.sh"

cg_pki "$T/pki" localhost
"$CERTGATE" pki issue --profile server --cn localhost-v2 --dns localhost --ip 127.0.0.1 \
    --issuer "$T/pki/ca.pem" --issuer-key "$T/pki/ca.key" \
    --out "$T/pki/v2.pem" --key-out "$T/pki/v2.key" >/dev/null
mkdir -p "$T/www1" "$T/www2"
printf 'one\n' >"$T/www1/index.html"
printf 'two\n' >"$T/www2/index.html"
head -c 4000000 /dev/urandom >"$T/www1/big.bin"

write_config() {  # root certificate extra_binding
    cat >"$T/cg.yaml" <<EOF
workers: 2
access_log: { path: $T/access.log }
error_log: { path: $T/error.log, level: info }
limits: { shutdown_timeout: 20s }
sites:
  - name: main
    root: $1
    bindings:
      - { listen: "127.0.0.1:0", tls: true, certificate: $T/pki/$2.pem, key: $T/pki/$2.key }
      - { listen: "127.0.0.2:0" }
$3
EOF
}
write_config "$T/www1" localhost ""
cg_start main "$T/cg.yaml"
TP=$(cg_port main 127.0.0.1:0)
PP=$(cg_port main 127.0.0.2:0)
PID=$CG_PID_main
H=https://localhost:$TP

cert_cn() {
    openssl s_client -connect "127.0.0.1:$TP" -servername localhost </dev/null 2>/dev/null |
        openssl x509 -noout -subject -nameopt multiline | awk -F'= ' '/commonName/ {print $2}'
}
cg_check "before: content" "one" "$(cg_curl_tls localhost "$TP" "$H/")"
cg_check "before: certificate" "localhost" "$(cert_cn)"

cg_log "SIGHUP under load: 4 clients x 150 requests, three reloads meanwhile"
load() {  # a bounded loop of keep-alive and new-connection requests; prints failures
    local fails=0 i urls=()
    for i in $(seq 1 10); do urls+=("$H/"); done
    for i in $(seq 1 15); do
        out=$(cg_curl_tls localhost "$TP" -o /dev/null -w '%{http_code}\n' "${urls[@]}" 2>/dev/null || true)
        fails=$((fails + 10 - $(printf '%s\n' "$out" | grep -c '^200$')))
    done
    echo "$fails"
}
for c in 1 2 3 4; do load >"$T/load.$c" & eval "lp$c=\$!"; done
write_config "$T/www2" v2 ""
for r in 1 2 3; do
    kill -HUP "$PID"
    if cg_waitlog "$T/error.log" "reload: generation $((r + 1)) applied" 10; then cg_ok "reload $r applied"; else cg_fail "reload $r not applied"; fi
done
wait "$lp1" "$lp2" "$lp3" "$lp4"
total=$(cat "$T"/load.* | awk '{s += $1} END {print s}')
cg_check "failed requests during reloads" "0" "$total"
cg_check "after: new content" "two" "$(cg_curl_tls localhost "$TP" "$H/")"
cg_check "after: new certificate" "localhost-v2" "$(cert_cn)"
cg_check "after: plain port still the same" "two" "$(curl -sS --max-time 5 "http://127.0.0.2:$PP/")"

cg_log "broken config: refused, old one keeps serving"
cp "$T/cg.yaml" "$T/cg.good"
printf 'workers: 2\nsites:\n  - name: main\n    nonsense_key: 1\n' >"$T/cg.yaml"
kill -HUP "$PID"
if cg_waitlog "$T/error.log" 'reload: refused.*nonsense_key' 10; then cg_ok "bad config refused with its reason"; else cg_fail "bad config not refused"; fi
cg_check "still serving after a bad config" "two" "$(cg_curl_tls localhost "$TP" "$H/")"
# A config that parses but whose certificate cannot be loaded is refused too.
write_config "$T/www1" missing ""
kill -HUP "$PID"
if cg_waitlog "$T/error.log" 'reload: refused' 10; then cg_ok "missing certificate refused"; else cg_fail "missing certificate not refused"; fi
cg_check "still serving after a bad certificate" "two" "$(cg_curl_tls localhost "$TP" "$H/")"
# Trust stores are part of a generation: a stores folder that cannot be read refuses it.
{ printf 'stores: %s\n' "$T/nostores"; cat "$T/cg.good"; } >"$T/cg.yaml"
kill -HUP "$PID"
if cg_waitlog "$T/error.log" 'reload: refused.*nostores' 10; then cg_ok "unreadable stores refused"; else cg_fail "unreadable stores not refused"; fi
mkdir -p "$T/stores/root"
{ printf 'stores: %s\n' "$T/stores"; cat "$T/cg.good"; } >"$T/cg.yaml"
kill -HUP "$PID"
if cg_waitlog "$T/error.log" 'reload: generation 5 applied' 10; then cg_ok "config with stores applied"; else cg_fail "config with stores not applied"; fi
cg_check "server alive" "0" "$(kill -0 "$PID"; echo $?)"

cg_log "a new listen address opens on reload, a removed one closes"
write_config "$T/www1" localhost '  - name: extra
    root: '"$T/www2"'
    bindings:
      - { listen: "127.0.0.3:0" }'
kill -HUP "$PID"
if line=$($CG_PY waitlog "$T/error.log" 'reload: now listening on 127\.0\.0\.3:[0-9]+' 10); then
    cg_ok "new listener announced"
    cg_waitlog "$T/error.log" 'reload: generation 6 applied' 10 || cg_fail "generation 6 not applied"
    XP=$(echo "$line" | sed -E 's/.*127\.0\.0\.3:([0-9]+).*/\1/')
    cg_check "new listener serves" "two" "$(curl -sS --max-time 5 "http://127.0.0.3:$XP/")"
else
    cg_fail "new listener not announced"
fi
cg_check "first site back to www1" "one" "$(cg_curl_tls localhost "$TP" "$H/")"
write_config "$T/www1" localhost ""
kill -HUP "$PID"
if cg_waitlog "$T/error.log" 'reload: no longer listening on 127\.0\.0\.3' 10 &&
   cg_waitlog "$T/error.log" 'reload: generation 7 applied' 10; then cg_ok "listener retired"; else cg_fail "listener not retired"; fi
code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 3 "http://127.0.0.3:${XP:-1}/" 2>/dev/null || true)
cg_check "removed listener refuses connections" "000" "$code"

cg_log "SIGUSR1 reopens the logs"
mv "$T/error.log" "$T/error.log.1"
mv "$T/access.log" "$T/access.log.1"
kill -USR1 "$PID"
if cg_waitlog "$T/error.log" 'reopen: log files reopened' 10; then cg_ok "error log reopened"; else cg_fail "error log not reopened"; fi
cg_curl_tls localhost "$TP" -o /dev/null "$H/"
if cg_waitlog "$T/access.log" ' GET / .* 200 ' 5; then cg_ok "access log reopened"; else cg_fail "access log not reopened"; fi

cg_log "SIGTERM drains: a slow download in flight completes"
curl -sS --max-time 30 --limit-rate 1M --cacert "$T/pki/ca.pem" --resolve "localhost:$TP:127.0.0.1" \
    -o "$T/drain.bin" -w '%{http_code}' "$H/big.bin" >"$T/drain.code" 2>"$T/drain.err" &
dl=$!
# Wait until the download is under way (bytes arrived), then stop the server.
for i in $(seq 1 200); do
    [ -s "$T/drain.bin" ] && break
    timeout 0.05 tail -f /dev/null || true
done
# An idle keep-alive connection: closed at once by the drain, not at its timeout.
python3 - "$PP" >"$T/idle.out" <<'PY' &
import socket, sys, time
s = socket.create_connection(("127.0.0.2", int(sys.argv[1])))
s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
s.settimeout(30)
data = b""
while b"\r\n\r\n" not in data:
    data += s.recv(4096)
print("answered", flush=True)
while s.recv(4096):
    pass
print(f"closed at {time.time():.3f}")
PY
idle=$!
cg_waitlog "$T/idle.out" '^answered' 5 || cg_fail "idle connection not answered"
t_term=$(date +%s.%N)
kill -TERM "$PID"
if cg_waitlog "$T/error.log" 'shutdown: SIGTERM received' 5; then cg_ok "drain started"; fi
wait "$idle" || true
closed_at=$(awk '/^closed at/ {print $3}' "$T/idle.out")
cg_check "idle keep-alive connection closed within 2 s of SIGTERM" "yes" \
    "$(awk -v a="$t_term" -v b="${closed_at:-0}" 'BEGIN { print (b >= a && b - a < 2) ? "yes" : "no" }')"
# New connections are refused while the download goes on.
code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 3 "http://127.0.0.2:$PP/" 2>/dev/null || true)
cg_check "new connections refused while draining" "000" "$code"
wait "$dl" || true
cg_check "in-flight download completed" "200" "$(cat "$T/drain.code")"
cg_check "download intact" "$(sha256sum <"$T/www1/big.bin")" "$(sha256sum <"$T/drain.bin")"
cg_stop main
cg_check "exit status after drain" "0" "$CG_RC"
if grep -q 'shutdown: done' "$T/error.log"; then cg_ok "shutdown logged"; else cg_fail "no shutdown line"; fi
cg_done
