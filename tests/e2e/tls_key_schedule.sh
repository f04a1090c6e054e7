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

tm_loadgen key-schedule
tm_bad_value_and_reload tls_key_schedule -ciphersuites TLS_AES_256_GCM_SHA384

for mode in builtin openssl; do cg_stop "$mode"; done
cg_done
