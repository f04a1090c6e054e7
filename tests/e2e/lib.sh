# lib.sh: shared helpers for the serve_*.sh end-to-end tests. Source it.
#
# Environment (set by ctest): CERTGATE (the binary), CG_TMPDIR (scratch),
# CG_SOURCE_DIR. Every server started with cg_start is stopped by its pid
# when the test exits, whatever happens.

set -euo pipefail

# Run directly (ctest globs every tests/e2e/*.sh), there is nothing to test.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then echo "lib.sh: helpers for serve_*.sh"; exit 0; fi

: "${CERTGATE:?CERTGATE must name the certgate binary}"
: "${CG_TMPDIR:=/tmp}"
: "${CG_SOURCE_DIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
CG_PY="python3 $CG_SOURCE_DIR/tests/e2e/cgtest.py"

CG_NAME=$(basename "$0" .sh)
T="$CG_TMPDIR/$CG_NAME.$$"
rm -rf "$T"
mkdir -p "$T"
CG_PIDS=()
CG_FAILS=0

cg_cleanup() {
    local pid
    for pid in "${CG_PIDS[@]:-}"; do
        [ -n "$pid" ] || continue
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
            timeout 15 tail --pid="$pid" -f /dev/null 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
        fi
    done
}
trap cg_cleanup EXIT

cg_log() { printf '== %s\n' "$*"; }
cg_fail() { printf 'FAIL: %s\n' "$*"; CG_FAILS=$((CG_FAILS + 1)); }
cg_ok() { printf 'ok: %s\n' "$*"; }

# cg_check NAME EXPECTED ACTUAL: compares, records a failure.
cg_check() {
    if [ "$2" = "$3" ]; then cg_ok "$1"; else cg_fail "$1: expected '$2', got '$3'"; fi
}
# cg_match NAME REGEX ACTUAL
cg_match() {
    if [[ "$3" =~ $2 ]]; then cg_ok "$1"; else cg_fail "$1: expected /$2/, got '$3'"; fi
}

cg_done() {
    if [ "$CG_FAILS" -ne 0 ]; then
        echo "$CG_FAILS check(s) failed"
        for f in "$T"/*.err; do [ -f "$f" ] && { echo "--- $f"; tail -n 40 "$f"; }; done
        exit 1
    fi
    echo "all checks passed"
}

# cg_pki DIR NAME...: a root CA in DIR/ca.pem and, per NAME, a server
# certificate DIR/NAME.pem / DIR/NAME.key for that DNS name (and 127.0.0.1).
cg_pki() {
    local dir=$1; shift
    mkdir -p "$dir"
    "$CERTGATE" pki issue --profile root --cn "certgate test root $CG_NAME" \
        --out "$dir/ca.pem" --key-out "$dir/ca.key" >/dev/null
    local n
    for n in "$@"; do
        "$CERTGATE" pki issue --profile server --cn "$n" --dns "$n" --ip 127.0.0.1 \
            --issuer "$dir/ca.pem" --issuer-key "$dir/ca.key" \
            --out "$dir/$n.pem" --key-out "$dir/$n.key" >/dev/null
    done
}

# cg_start NAME CONFIG: starts `certgate serve`, waits for its ready line
# through a FIFO, and sets CG_PID_<NAME>. Lines "<listen> <ip:port> <scheme>"
# are kept in $T/NAME.ready; cg_addr NAME LISTEN prints the ip:port.
cg_start() {
    local name=$1 config=$2 fifo="$T/$1.fifo"
    rm -f "$fifo"
    mkfifo "$fifo"
    "$CERTGATE" serve --config "$config" --ready-file "$fifo" \
        >"$T/$name.out" 2>"$T/$name.err" &
    local pid=$!
    CG_PIDS+=("$pid")
    printf -v "CG_PID_$name" '%s' "$pid"
    if ! timeout 20 cat "$fifo" >"$T/$name.ready"; then
        echo "server $name did not become ready"; cat "$T/$name.err"; exit 1
    fi
    grep -q "^ready $pid\$" "$T/$name.ready" || { echo "bad ready file"; cat "$T/$name.ready"; exit 1; }
}

cg_addr() { awk -v l="$2" '$1 == l { print $2 }' "$T/$1.ready"; }
cg_port() { local a; a=$(cg_addr "$1" "$2"); echo "${a##*:}"; }

# cg_stop NAME [SIGNAL]: signals the server and waits for it (at most 30 s);
# its exit status goes to CG_RC (not a subshell: only the parent can wait).
cg_stop() {
    local pid_var="CG_PID_$1"
    local pid=${!pid_var}
    CG_RC=0
    kill -"${2:-TERM}" "$pid" 2>/dev/null || true
    if ! timeout 30 tail --pid="$pid" -f /dev/null; then
        echo "server $1 did not stop"; kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" || CG_RC=$?
}

# cg_waitlog FILE REGEX [TIMEOUT]: waits for a log line.
cg_waitlog() { $CG_PY waitlog "$1" "$2" "${3:-10}" >/dev/null; }

# curl against a TLS site by name on 127.0.0.1, trusting the test CA.
cg_curl_tls() {
    local host=$1 port=$2; shift 2
    curl -sS --max-time 10 --cacert "$T/pki/ca.pem" --resolve "$host:$port:127.0.0.1" "$@"
}
