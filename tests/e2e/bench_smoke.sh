# bench_smoke.sh: a short run of bench/loadgen against certgate, so the
# benchmark harness cannot rot: mutual TLS with a two-level client chain,
# full handshakes then keep-alive, zero errors and some throughput; then a
# few idle connections held and released (the protocol bench/compare uses).
# shellcheck shell=bash source=lib.sh
source "$(dirname "$0")/lib.sh"

: "${CG_BUILD_DIR:?CG_BUILD_DIR must name the build directory}"
LOADGEN="$CG_BUILD_DIR/loadgen"
[ -x "$LOADGEN" ] || { echo "FAIL: $LOADGEN is not built"; exit 1; }

# root -> intermediate -> server and client, generated now, never committed
P="$T/pki"
mkdir -p "$P" "$T/www" "$T/stores"
"$CERTGATE" pki issue --profile root --cn "bench smoke root" --out "$P/root.pem" --key-out "$P/root.key" >/dev/null
"$CERTGATE" pki issue --profile intermediate --cn "bench smoke intermediate" \
    --issuer "$P/root.pem" --issuer-key "$P/root.key" --out "$P/int.pem" --key-out "$P/int.key" >/dev/null
"$CERTGATE" pki issue --profile server --cn localhost --dns localhost --ip 127.0.0.1 \
    --issuer "$P/int.pem" --issuer-key "$P/int.key" --chain --out "$P/server.pem" --key-out "$P/server.key" >/dev/null
"$CERTGATE" pki issue --profile client --cn "bench smoke client" \
    --issuer "$P/int.pem" --issuer-key "$P/int.key" --chain --out "$P/client.pem" --key-out "$P/client.key" >/dev/null
"$CERTGATE" store import "$P/root.pem" --stores "$T/stores" >/dev/null
head -c 1024 /dev/zero | tr '\0' 'x' >"$T/www/index.html"

cat >"$T/cg.yaml" <<EOF
workers: 1
stores: $T/stores
access_log: { path: $T/access.log, format: combined }
error_log: { path: $T/error.log, level: warn }
sites:
  - name: bench
    root: $T/www
    client_certificates: require
    bindings:
      - { listen: "127.0.0.1:0", tls: true, certificate: $P/server.pem, key: $P/server.key }
EOF
cg_start cg "$T/cg.yaml"
PORT=$(cg_port cg 127.0.0.1:0)
LG=("$LOADGEN" --port "$PORT" --sni localhost --ca "$P/root.pem" --cert "$P/client.pem"
    --key "$P/client.key" --path /index.html --concurrency 4 --json)

# json FILE EXPR: evaluates a Python expression over the report `r`.
json() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }

for mode in new keepalive; do
    cg_log "loadgen --mode $mode"
    rc=0
    "${LG[@]}" --mode "$mode" --duration 2 --warmup 0.5 >"$T/$mode.json" 2>"$T/$mode.err" || rc=$?
    cat "$T/$mode.json"
    cg_check "$mode: exit status" 0 "$rc"
    cg_check "$mode: no error" 0 "$(json "$T/$mode.json" 'r["errors"]["total"]')"
    cg_check "$mode: every answer 200" True "$(json "$T/$mode.json" 'r["requests"] > 0 and r["status"] == {"200": r["requests"]}')"
    cg_check "$mode: 1 KiB bodies" True "$(json "$T/$mode.json" 'r["body_bytes"] == 1024 * r["requests"]')"
    cg_check "$mode: throughput" True "$(json "$T/$mode.json" 'r["requests_per_s"] > 0 and r["latency_ms"]["p99"] > 0')"
done
cg_check "new: a full handshake per request" True \
    "$(json "$T/new.json" 'r["handshakes_full"] > 0 and r["handshakes_resumed"] == 0')"
cg_check "keepalive: fewer handshakes than requests" True \
    "$(json "$T/keepalive.json" 'r["handshakes"] < r["requests"]')"

# loadgen verifies the server: its chain once (then the same leaf's DER is
# accepted as verified) and its name; a server it cannot verify gets no
# request through.
"$CERTGATE" pki issue --profile root --cn "another root" --out "$P/other-root.pem" \
    --key-out "$P/other-root.key" >/dev/null
for bad in "another root:--ca $P/other-root.pem --sni localhost" "a name not in the certificate:--ca $P/root.pem --sni other.test"; do
    what=${bad%%:*}
    read -r -a args <<<"${bad#*:}"
    cg_log "loadgen against a server it cannot verify: $what"
    rc=0
    "$LOADGEN" --port "$PORT" "${args[@]}" --cert "$P/client.pem" --key "$P/client.key" \
        --path /index.html --concurrency 2 --mode new --requests 4 --duration 2 --warmup 0 \
        --timeout 5 --json >"$T/bad.json" 2>/dev/null || rc=$?
    cg_check "$what: exit status 3 (errors)" 3 "$rc"
    cg_check "$what: handshake errors, no answer" True \
        "$(json "$T/bad.json" 'r["errors"]["handshake"] > 0 and r["status"] == {}')"
done

cg_log "loadgen --mode idle: hold 20 connections, then SIGTERM"
mkfifo "$T/idle.fifo"
"${LG[@]}" --mode idle --idle-count 20 --duration 60 >"$T/idle.fifo" 2>"$T/idle.err" &
idle_pid=$!
CG_PIDS+=("$idle_pid")
exec 3<"$T/idle.fifo"
line=""
read -r -t 30 line <&3 || true
cg_check "idle: all held" "idle-ready 20" "$line"
kill -TERM "$idle_pid"
report=$(timeout 30 cat <&3 || true)
exec 3<&-
rc=0
wait "$idle_pid" || rc=$?
printf '%s\n' "$report" >"$T/idle.json"
cg_check "idle: exit status" 0 "$rc"
cg_check "idle: held to the end, no error" "20 0" "$(json "$T/idle.json" '"%d %d" % (r["idle_held"], r["errors"]["total"])')"

cg_log "refuses a target other than 127.0.0.1"
rc=0
"$LOADGEN" --host 127.0.0.2 --port "$PORT" --ca "$P/root.pem" --duration 1 >/dev/null 2>"$T/refuse.err" || rc=$?
cg_check "non-loopback target refused" 2 "$rc"
cg_match "refusal says why" "only ever goes to 127.0.0.1" "$(cat "$T/refuse.err")"

cg_stop cg
cg_check "server stopped cleanly" 0 "$CG_RC"
cg_done
