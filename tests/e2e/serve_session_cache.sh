# serve_session_cache.sh: limits.tls_session_cache bounds the server's TLS
# session cache. `config check` refuses a bound out of range with its
# file:line:col; a server with a bound of 1 keeps only the newest session (a
# client resuming an older one gets a full handshake), and a reload that
# raises the bound to 2 lets two sessions resume. TLS 1.2 (session ids) and
# TLS 1.3 (stateful tickets), two workers sharing the one cache.
source "$(dirname "$0")/lib.sh"

# --- config check: the bound is a number from 1 to 1048576 -----------------
cg_pki "$T/pki" localhost
P="$T/pki"
mkdir -p "$T/www"
printf 'hi\n' >"$T/www/index.html"
site() {
    cat <<EOF
sites:
  - name: main
    root: $T/www
    bindings:
      - { listen: "127.0.0.1:0", tls: true, certificate: $P/localhost.pem, key: $P/localhost.key }
EOF
}
for bad in 0 1048577 -1 2k many; do
    { printf 'workers: 2\nlimits:\n  tls_session_cache: %s\n' "$bad"; site; } >"$T/bad.yaml"
    rc=0
    "$CERTGATE" config check "$T/bad.yaml" >"$T/check.out" 2>"$T/check.err" || rc=$?
    cg_check "config check tls_session_cache: $bad: exit status" "2" "$rc"
    case $bad in
        0|1048577) want="expected a whole number from 1 to 1048576; got '$bad'" ;;
        *) want="expected a whole number; got '$bad'" ;;
    esac
    cg_check "config check tls_session_cache: $bad: file:line:col and the bounds" \
        "$T/bad.yaml:3:22: limits.tls_session_cache: $want" "$(cat "$T/check.err")"
done
for good in 1 1048576; do
    { printf 'limits: { tls_session_cache: %s }\n' "$good"; site; } >"$T/good.yaml"
    rc=0
    "$CERTGATE" config check --print "$T/good.yaml" >"$T/check.out" 2>"$T/check.err" || rc=$?
    cg_check "config check tls_session_cache: $good: accepted" "0" "$rc"
    cg_check "config check --print shows tls_session_cache: $good" "$good" \
        "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["limits"]["tls_session_cache"])' "$T/check.out")"
done
"$CERTGATE" config check --print "$T/good.yaml" >/dev/null
site >"$T/default.yaml"
cg_check "tls_session_cache defaults to 20480" "20480" \
    "$("$CERTGATE" config check --print "$T/default.yaml" | python3 -c 'import json,sys; print(json.load(sys.stdin)["limits"]["tls_session_cache"])')"

# --- the server honours the bound -------------------------------------------
write_conf() {
    { printf 'workers: 2\nerror_log: { path: %s, level: info }\nlimits: { tls_session_cache: %s }\n' \
        "$T/error.log" "$1"; site; } >"$T/cg.yaml"
}
write_conf 1
cg_start main "$T/cg.yaml"
PORT=$(cg_port main 127.0.0.1:0)

# sess VERSION NAME [s_client args]: one GET / over s_client; prints "New" or
# "Reused" and the status. -ign_eof waits for the server to close, so a
# TLS 1.3 ticket is read (and -sess_out written) before s_client exits.
sess() {
    local v=$1 name=$2 out; shift 2
    out=$(printf 'GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' |
        timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -servername localhost \
            -tls${v/./_} -ign_eof "$@" 2>&1 || true)
    printf '%s %s\n' "$(grep -oE '^(New|Reused)' <<<"$out" | head -1)" \
        "$(awk '/^HTTP\/1\.1 / { print $2; exit }' <<<"$out")"
}

for v in 1.2 1.3; do
    cg_log "TLS $v, tls_session_cache: 1"
    cg_check "TLS $v: session A: full handshake" "New 200" "$(sess $v A -sess_out "$T/a-$v.pem")"
    cg_check "TLS $v: session B: full handshake" "New 200" "$(sess $v B -sess_out "$T/b-$v.pem")"
    # B is the newest, the one the cache holds.
    cg_check "TLS $v: resuming B (the newest) resumes" "Reused 200" "$(sess $v B -sess_in "$T/b-$v.pem")"
    # A was dropped when B came in: its ticket or id no longer resumes.
    cg_check "TLS $v: resuming A (dropped for B) is a full handshake" "New 200" \
        "$(sess $v A -sess_in "$T/a-$v.pem")"
done

cg_log "reload with tls_session_cache: 2"
write_conf 2
kill -HUP "$CG_PID_main"
cg_waitlog "$T/error.log" 'reload: generation 2 applied' 20 || cg_fail "reload not applied"
for v in 1.2 1.3; do
    cg_log "TLS $v, tls_session_cache: 2"
    cg_check "TLS $v: session C: full handshake" "New 200" "$(sess $v C -sess_out "$T/c-$v.pem")"
    cg_check "TLS $v: session D: full handshake" "New 200" "$(sess $v D -sess_out "$T/d-$v.pem")"
    cg_check "TLS $v: resuming C (the older of two) resumes" "Reused 200" \
        "$(sess $v C -sess_in "$T/c-$v.pem")"
done

cg_log "reload back to tls_session_cache: 1: the cache shrinks at once"
cg_check "TLS 1.3: session E" "New 200" "$(sess 1.3 E -sess_out "$T/e.pem")"
cg_check "TLS 1.3: session F" "New 200" "$(sess 1.3 F -sess_out "$T/f.pem")"
write_conf 1
kill -HUP "$CG_PID_main"
cg_waitlog "$T/error.log" 'reload: generation 3 applied' 20 || cg_fail "reload not applied"
cg_check "TLS 1.3: after the shrink, F (newest) still resumes" "Reused 200" "$(sess 1.3 F -sess_in "$T/f.pem")"
cg_check "TLS 1.3: after the shrink, E (older) is gone" "New 200" "$(sess 1.3 E -sess_in "$T/e.pem")"

cg_stop main
cg_check "exit status" "0" "$CG_RC"
cg_done
