# revocation_lib.sh: the responders the revocation tests start, sourced
# after lib.sh. Every process is started in the background with its output
# in $T/NAME.out / $T/NAME.err, its pid in PID_NAME and in CG_PIDS (so
# lib.sh's exit trap stops it), and waited for until it listens.

start_bg() {  # start_bg NAME CMD...
    local name=$1; shift
    "$@" >"$T/$name.out" 2>"$T/$name.err" &
    CG_PIDS+=("$!")
    printf -v "PID_$name" '%s' "$!"
}

stop_bg() {  # stop_bg NAME: by its pid, waited for
    local v="PID_$1"
    kill -TERM "${!v}" 2>/dev/null || true
    timeout 10 tail --pid="${!v}" -f /dev/null || kill -KILL "${!v}" 2>/dev/null || true
}

# start_httpd DIR: revocation_httpd.py serving DIR (CRLs, fixed OCSP
# answers, a hanging responder); sets H to its base URL.
start_httpd() {
    start_bg httpd python3 -u "$CG_SOURCE_DIR/tests/e2e/revocation_httpd.py" "$1"
    cg_waitlog "$T/httpd.out" '^PORT [0-9]+' 10 || { echo "httpd did not start"; exit 1; }
    H="http://127.0.0.1:$(sed -n 's/^PORT \([0-9]*\)$/\1/p' "$T/httpd.out")"
}

# start_ocsp_responder NAME INDEX SIGNER: `openssl ocsp` answering for the
# CA $P/ca.pem from INDEX, signing as $P/SIGNER.pem; sets PORT_NAME.
start_ocsp_responder() {
    start_bg "$1" openssl ocsp -index "$2" -port 0 -CA "$P/ca.pem" \
        -rsigner "$P/$3.pem" -rkey "$P/$3.key" -nmin 10 -ignore_err
    cg_waitlog "$T/$1.out" '^ACCEPT ' 10 || { echo "openssl ocsp $1 did not start"; cat "$T/$1.err"; exit 1; }
    printf -v "PORT_$1" '%s' "$(sed -n 's/^ACCEPT .*:\([0-9]*\) PID=.*/\1/p' "$T/$1.out")"
}
