# demo.sh: `certgate serve` with no configuration runs the built-in demo.
# Every curl command it prints is run exactly as printed (only output
# options are appended: -sS --max-time, -o, -w) and must give the answer
# printed under it; then again pinned to TLS 1.2 and to TLS 1.3. The
# who-am-I page names the valid certificate in HTML and JSON; a second run
# reuses the state directory without regenerating it; a taken port is
# refused with a message naming it and the options to use.
source "$(dirname "$0")/lib.sh"

# The demo runs only where no ./certgate.yaml exists: run it from an empty dir.
mkdir -p "$T/cwd"

# demo_start NAME [ARGS...]: starts the demo in $T/cwd, waits for the ready
# line through a FIFO. stdout in $T/NAME.out (complete once ready), stderr
# in $T/NAME.err, pid in CG_PID_NAME.
demo_start() {
    local name=$1 fifo="$T/$1.fifo"
    shift
    rm -f "$fifo"
    mkfifo "$fifo"
    (cd "$T/cwd" && exec "$CERTGATE" serve --ready-file "$fifo" "$@") \
        >"$T/$name.out" 2>"$T/$name.err" &
    local pid=$!
    CG_PIDS+=("$pid")
    printf -v "CG_PID_$name" '%s' "$pid"
    if ! timeout 60 cat "$fifo" >"$T/$name.ready"; then
        echo "demo $name did not become ready"; cat "$T/$name.err"; exit 1
    fi
    grep -q "^ready $pid\$" "$T/$name.ready" || { echo "bad ready file"; cat "$T/$name.ready"; exit 1; }
}

DEMO_ARGS=(--state-dir "$T/state" --demo-https-port 0 --demo-http-port 0)

cg_log "first run: creates the state directory"
demo_start first "${DEMO_ARGS[@]}"
cat "$T/first.out"
cg_match "says it created the PKI" "demo PKI created" "$(cat "$T/first.out")"
for f in certgate.yaml www/secure/index.html ca/root.pem stores/crl clients/valid.p12; do
    [ -e "$T/state/$f" ] && cg_ok "wrote $f" || cg_fail "missing $T/state/$f"
done
cg_match "config names the handler" "handler: certificate-info" "$(cat "$T/state/certgate.yaml")"
cg_check "the written config checks" "0" "$("$CERTGATE" config check "$T/state/certgate.yaml" >/dev/null 2>&1; echo $?)"

# Pairs of "    curl ..." and "    -> ANSWER" lines, as printed.
mapfile -t CMDS < <(awk '/^    curl / { c = substr($0, 5) } /^    -> / && c != "" { print c; c = "" }' "$T/first.out")
mapfile -t WANT < <(awk '/^    curl / { c = 1 } /^    -> / && c { print substr($0, 8); c = 0 }' "$T/first.out")
cg_check "printed commands" "9" "${#CMDS[@]}"
[ "${#CMDS[@]}" = "${#WANT[@]}" ] || cg_fail "commands and answers do not pair up"

run_printed() {   # run_printed CMD OUTFILE [CURL OPTIONS]: prints the status code
    local cmd=$1 out=$2; shift 2
    eval "$cmd $* -sS --max-time 10 -o \"\$out\" -w '%{http_code}'"
}

# As printed, then pinned to TLS 1.2 and to TLS 1.3 (the only options added
# to a printed command besides the output ones): the same answers.
for tls in printed "--tlsv1.2 --tls-max 1.2" "--tlsv1.3"; do
    extra=$tls; [ "$tls" = printed ] && extra=""
    for i in "${!CMDS[@]}"; do
        cmd=${CMDS[$i]} want=${WANT[$i]}
        code=${want%% *} slug=${want#* }
        rm -f "$T/body.$i"
        status=$(run_printed "$cmd" "$T/body.$i" $extra || true)
        body=$(cat "$T/body.$i" 2>/dev/null || true)
        if [ "$code" = "200" ]; then
            cg_check "[$want] ($tls) status: $cmd" "200" "$status"
            cg_match "[$want] ($tls) body" "you are in" "$body"
        else
            cg_check "[$want] ($tls) status: $cmd" "${code%%.*}" "$status"
            cg_match "[$want] ($tls) code in body" "${code//./\\.}" "$body"
            cg_match "[$want] ($tls) reason in body" "$slug" "$body"
        fi
    done
done

cg_log "who am I, in HTML and in JSON"
mapfile -t WHO < <(awk '/^Who am I/ { w = 1; next } w && /^    curl / { print substr($0, 5) } /^$/ { w = 0 }' "$T/first.out")
cg_check "two who-am-I commands" "2" "${#WHO[@]}"
html=$(eval "${WHO[0]} -sS --max-time 10" || true)
cg_match "HTML names the valid certificate" "<th>Subject</th><td>[^<]*valid" "$html"
cg_match "HTML says ok" "200 &middot; ok" "$html"
cg_match "HTML: /secure would let it in" "you would be let in" "$html"
json=$(eval "${WHO[1]} -sS --max-time 10" || true)
cg_match "JSON subject" '"subject":"[^"]*valid' "$json"
cg_match "JSON verdict" '"reason":"ok"' "$json"
ecmd=${WHO[1]//clients\/valid./clients\/expired.}
json=$(eval "$ecmd -sS --max-time 10" || true)
cg_match "JSON for expired under accept: 403.17 at /secure" '"required_at":\{[^}]*"code":"403.17"' "$json"
for i in "${!WANT[@]}"; do [ "${WANT[$i]}" = "403.7 cert-required" ] && nocert=${CMDS[$i]}; done
none=$(eval "${nocert/\/secure\//\/} -sS --max-time 10 -H 'Accept: application/json'" || true)
cg_match "JSON without a certificate" '"certificate":null' "$none"

cg_log "a taken port is named, with the options to choose others"
HTTPS_PORT=$(awk '$3 == "https" && $2 ~ /^127\.0\.0\.1:/ { sub(/.*:/, "", $2); print $2; exit }' "$T/first.ready")
set +e
(cd "$T/cwd" && timeout 30 "$CERTGATE" serve --state-dir "$T/state2" --demo-https-port "$HTTPS_PORT" \
    --demo-http-port 0) >"$T/taken.out" 2>"$T/taken.err"
rc=$?
set -e
cg_check "taken port: exit status" "2" "$rc"
cg_match "taken port: names it" "port $HTTPS_PORT \(https\) is taken" "$(cat "$T/taken.err")"
cg_match "taken port: says how to choose" "--demo-https-port" "$(cat "$T/taken.err")"

cg_stop first
cg_check "first run stops cleanly" "0" "$CG_RC"

cg_log "second run: reuses the state directory"
before=$(cd "$T/state" && sha256sum ca/root.pem clients/valid.pem clients/valid.key stores/crl/* www/secure/index.html)
demo_start second "${DEMO_ARGS[@]}"
cg_match "says it reused" "reused; nothing regenerated" "$(cat "$T/second.out")"
after=$(cd "$T/state" && sha256sum ca/root.pem clients/valid.pem clients/valid.key stores/crl/* www/secure/index.html)
cg_check "PKI and www untouched" "$before" "$after"
mapfile -t CMDS2 < <(awk '/^    curl / { c = substr($0, 5) } /^    -> / && c != "" { print c; c = "" }' "$T/second.out")
status=$(run_printed "${CMDS2[0]}" "$T/body.second" || true)
cg_check "valid certificate on the second run" "200" "$status"
cg_stop second
cg_check "second run stops cleanly" "0" "$CG_RC"

cg_done
