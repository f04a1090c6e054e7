# tls_key_schedule.sh: `tls_key_schedule: builtin` (the default) and
# `openssl` serve the same. Two servers, one per mode, the same stores and
# certificates. openssl s_client (OpenSSL's own key schedule on the client's
# side, so a wrong secret on the server's fails the handshake) presents a
# client certificate over TLS 1.3 with TLS_AES_128_GCM_SHA256 and
# TLS_AES_256_GCM_SHA384, and over TLS 1.2 with a SHA-256 and a SHA-384
# suite: each a full handshake, then a resumption of the session it saved;
# curl does a TLS 1.3 GET per suite; loadgen runs full handshakes and
# resumptions with its own --key-schedule builtin and openssl against both.
# `config check` prints the mode (builtin when unset) and refuses a bad value
# with file:line:col; a reload that changes it warns: restart to apply.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/clientcert_lib.sh"

# shellcheck source=tlsmode_lib.sh
source "$(dirname "$0")/tlsmode_lib.sh"

tm_start tls_key_schedule
handshake_of() { grep -E '^(New|Reused), ' "$1" | head -1; }

for mode in builtin openssl; do
    for suite in TLS_AES_128_GCM_SHA256 TLS_AES_256_GCM_SHA384 \
                 ECDHE-ECDSA-AES128-GCM-SHA256 ECDHE-ECDSA-AES256-GCM-SHA384; do
        case $suite in
            TLS_*) v=1.3; pick=(-ciphersuites "$suite") ;;
            *) v=1.2; pick=(-cipher "$suite") ;;
        esac
        cg_log "$mode: TLS $v $suite, a full handshake then a resumption"
        sclient $mode $v "$T/$mode.$suite.1.txt" "${pick[@]}" -sess_out "$T/$mode.$suite.sess"
        cg_check "$mode $suite full: served" 200 "$(status_of "$T/$mode.$suite.1.txt")"
        cg_check "$mode $suite full: a new session" "New, TLSv$v, Cipher is $suite" \
            "$(handshake_of "$T/$mode.$suite.1.txt")"
        cg_match "$mode $suite full: the content" members-only-content "$(cat "$T/$mode.$suite.1.txt")"
        sclient $mode $v "$T/$mode.$suite.2.txt" "${pick[@]}" -sess_in "$T/$mode.$suite.sess"
        cg_check "$mode $suite resumed: served" 200 "$(status_of "$T/$mode.$suite.2.txt")"
        cg_check "$mode $suite resumed: reused" "Reused, TLSv$v, Cipher is $suite" \
            "$(handshake_of "$T/$mode.$suite.2.txt")"
    done
    for suite in TLS_AES_128_GCM_SHA256 TLS_AES_256_GCM_SHA384; do
        cg_check "$mode: curl TLS 1.3 $suite" 200 \
            "$(cg_curl_tls a.test "$(port_of $mode)" --cacert "$P/root.pem" --tlsv1.3 \
                --tls13-ciphers "$suite" --cert "$P/good.pem" --key "$P/good.key" \
                -o /dev/null -w '%{http_code}' "https://a.test:$(port_of $mode)/?curl-$suite" 2>&1)"
    done
done
# The access log is buffered: the last request's line shows all are written.
cg_waitlog "$T/builtin.access.log" 'curl-TLS_AES_256_GCM_SHA384' ||
    cg_fail "builtin: the last request was not logged"
cg_check "builtin: every request logged 200" 10 \
    "$(awk '!/^#/ && / 200 /' "$T/builtin.access.log" | wc -l)"

# json FILE EXPR: evaluates a Python expression over loadgen's report `r`.
for mode in builtin openssl; do
    for ks in builtin openssl; do
        for lm in new resume; do
            cg_log "loadgen --key-schedule $ks --mode $lm against the $mode server"
            rc=0
            "$LOADGEN" --port "$(port_of $mode)" --sni a.test --ca "$P/root.pem" \
                --cert "$P/good-chain.pem" --key "$P/good.key" --path /index.html --concurrency 2 \
                --tls 1.3 --mode $lm --requests 40 --warmup 0 --duration 30 --key-schedule $ks \
                --json >"$T/lg.json" 2>"$T/lg.err" || rc=$?
            cg_check "loadgen $ks $lm vs $mode: exit status" 0 "$rc"
            cg_check "loadgen $ks $lm vs $mode: every answer 200, no error" True \
                "$(json "$T/lg.json" 'r["requests"] >= 40 and r["errors"]["total"] == 0 and r["status"] == {"200": r["requests"]}')"
            [ $lm = new ] || cg_check "loadgen $ks resume vs $mode: resumed" True \
                "$(json "$T/lg.json" 'r["handshakes_resumed"] > 0')"
        done
    done
done
rc=0
"$LOADGEN" --port 1 --ca "$P/root.pem" --key-schedule fast >/dev/null 2>"$T/lg.err" || rc=$?
cg_check "loadgen: a bad --key-schedule is a usage error" 2 "$rc"

cg_log "a bad value in the config names the file, line and column"
sed 's/tls_key_schedule: openssl/tls_key_schedule: fast/' "$T/openssl.yaml" >"$T/bad.yaml"
cg_match "bad tls_key_schedule" "bad\.yaml:3:19: tls_key_schedule: expected one of builtin \| openssl; got 'fast'" \
    "$("$CERTGATE" config check "$T/bad.yaml" 2>&1 || true)"

cg_log "a reload that changes the mode warns: restart to apply"
sed -i 's/tls_key_schedule: builtin/tls_key_schedule: openssl/' "$T/builtin.yaml"
kill -HUP "$CG_PID_builtin"
cg_waitlog "$T/builtin.error.log" 'tls_key_schedule changed from builtin to openssl: restart to apply' ||
    cg_fail "no reload warning: $(cat "$T/builtin.error.log")"
sclient builtin 1.3 "$T/after-reload.txt" -ciphersuites TLS_AES_256_GCM_SHA384
cg_check "still served after the reload" 200 "$(status_of "$T/after-reload.txt")"

for mode in builtin openssl; do cg_stop "$mode"; done
cg_done
