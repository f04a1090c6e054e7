# tlsmode_lib.sh: for tests of a top-level key that picks who computes part
# of TLS (tls_key_schedule, tls_key_exchange): one server per mode, the same
# stores and certificates, and the helpers to talk to them. Sourced after
# lib.sh and clientcert_lib.sh.
#
#   tm_start KEY           PKI in $P (good-chain.pem: leaf + CA), stores in
#                          $S, $T/www/index.html; servers "builtin" and
#                          "openssl" started with KEY: MODE; checks that
#                          `config check --print` shows the mode set and
#                          "builtin" when KEY is unset. $LOADGEN is set.
#   port_of MODE           the server's port
#   sclient MODE V OUT [s_client args]
#                          one GET / over openssl s_client, TLS V (1.2 or
#                          1.3), the transcript in OUT; -ign_eof waits for the
#                          server to close (Connection: close), so a TLS 1.3
#                          ticket is read and saved before it exits
#   status_of OUT          the HTTP status in a transcript
#   json FILE EXPR         EXPR evaluated in Python with r = FILE's JSON
#   tm_loadgen OPTION      loadgen with --OPTION builtin and openssl, full
#                          handshakes and resumptions, against both servers:
#                          every answer 200; and a bad --OPTION value is a
#                          usage error
#   tm_bad_value_and_reload KEY [s_client args]
#                          a bad KEY value is refused with file:line:col; a
#                          reload of the builtin server that changes KEY
#                          warns "restart to apply", and the server still
#                          serves (one s_client GET over TLS 1.3 with the
#                          arguments given; transcript $T/after-reload.txt)

: "${CG_BUILD_DIR:?CG_BUILD_DIR must name the build directory}"
LOADGEN="$CG_BUILD_DIR/loadgen"
[ -x "$LOADGEN" ] || { echo "FAIL: $LOADGEN is not built"; exit 1; }
P="$T/pki"
S="$T/stores"

tm_start() {
    local key=$1 mode
    cc_pki "$P" "$S"
    cat "$P/good.pem" "$P/ca.pem" >"$P/good-chain.pem"
    mkdir -p "$T/www"
    printf 'members-only-content\n' >"$T/www/index.html"
    for mode in builtin openssl; do
        cc_site_config "$T/$mode.yaml" "$T/$mode." "$key: $mode"
        cg_start "$mode" "$T/$mode.yaml"
    done
    cg_check "config check --print: the mode set" openssl "$(tm_printed "$key" "$T/openssl.yaml")"
    sed "/^$key:/d" "$T/builtin.yaml" >"$T/default.yaml"
    cg_check "config check --print: the default" builtin "$(tm_printed "$key" "$T/default.yaml")"
}

tm_printed() {
    "$CERTGATE" config check --print "$2" 2>&1 |
        python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1" 2>&1
}

port_of() { cg_port "$1" 127.0.0.1:0; }

sclient() {
    local mode=$1 v=$2 out=$3
    shift 3
    printf 'GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n' |
        timeout 10 openssl s_client -connect "127.0.0.1:$(port_of "$mode")" -servername a.test \
            -tls${v/./_} -ign_eof -CAfile "$P/root.pem" -cert "$P/good.pem" -key "$P/good.key" \
            "$@" >"$out" 2>&1 || true
}

status_of() { awk '/^HTTP\/1\.1 / { print $2; exit }' "$1"; }

json() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }

tm_loadgen() {
    local opt=$1 mode choice lm rc
    for mode in builtin openssl; do
        for choice in builtin openssl; do
            for lm in new resume; do
                cg_log "loadgen --$opt $choice --mode $lm against the $mode server"
                rc=0
                "$LOADGEN" --port "$(port_of $mode)" --sni a.test --ca "$P/root.pem" \
                    --cert "$P/good-chain.pem" --key "$P/good.key" --path /index.html --concurrency 2 \
                    --tls 1.3 --mode $lm --requests 40 --warmup 0 --duration 30 --$opt $choice \
                    --json >"$T/lg.json" 2>"$T/lg.err" || rc=$?
                cg_check "loadgen $choice $lm vs $mode: exit status" 0 "$rc"
                cg_check "loadgen $choice $lm vs $mode: every answer 200, no error" True \
                    "$(json "$T/lg.json" 'r["requests"] >= 40 and r["errors"]["total"] == 0 and r["status"] == {"200": r["requests"]}')"
                [ $lm = new ] || cg_check "loadgen $choice resume vs $mode: resumed" True \
                    "$(json "$T/lg.json" 'r["handshakes_resumed"] > 0')"
            done
        done
    done
    rc=0
    "$LOADGEN" --port 1 --ca "$P/root.pem" --$opt fast >/dev/null 2>"$T/lg.err" || rc=$?
    cg_check "loadgen: a bad --$opt is a usage error" 2 "$rc"
}

tm_bad_value_and_reload() {
    local key=$1
    shift
    cg_log "a bad value in the config names the file, line and column"
    sed "s/$key: openssl/$key: fast/" "$T/openssl.yaml" >"$T/bad.yaml"
    cg_match "bad $key" "bad\.yaml:3:19: $key: expected one of builtin \| openssl; got 'fast'" \
        "$("$CERTGATE" config check "$T/bad.yaml" 2>&1 || true)"

    cg_log "a reload that changes the mode warns: restart to apply"
    sed -i "s/$key: builtin/$key: openssl/" "$T/builtin.yaml"
    kill -HUP "$CG_PID_builtin"
    cg_waitlog "$T/builtin.error.log" "$key changed from builtin to openssl: restart to apply" ||
        cg_fail "no reload warning: $(cat "$T/builtin.error.log")"
    sclient builtin 1.3 "$T/after-reload.txt" "$@"
    cg_check "still served after the reload" 200 "$(status_of "$T/after-reload.txt")"
}
