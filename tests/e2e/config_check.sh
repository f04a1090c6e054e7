# config_check.sh: `certgate config check` on a good file and on bad ones:
# exit status, the ok line and summary, the exact FILE:LINE:COL messages,
# and --print output that loads back to itself.
set -uo pipefail

: "${CERTGATE:?CERTGATE must name the certgate binary}"
: "${CG_TMPDIR:=/tmp}"
T="$CG_TMPDIR/config_check.$$"
rm -rf "$T"
mkdir -p "$T/conf/www"
trap 'rm -rf "$T"' EXIT
fails=0

fail() { printf 'FAIL: %s\n' "$*"; fails=$((fails + 1)); }
ok() { printf 'ok: %s\n' "$*"; }

# check NAME WANT_STATUS FILE [ARGS...]: runs config check, keeps out/err.
run() {
    local status
    "$CERTGATE" config check "$@" >"$T/out" 2>"$T/err"
    status=$?
    echo "$status"
}

expect_status() {   # NAME WANT GOT
    if [ "$2" = "$3" ]; then ok "$1: exit $3"; else fail "$1: exit $3, want $2"; cat "$T/out" "$T/err"; fi
}

expect_line() {     # NAME FILE LINE: the exact line is in FILE
    if grep -qxF -- "$3" "$2"; then ok "$1: '$3'"; else fail "$1: no line '$3' in:"; cat "$2"; fi
}

cd "$T/conf"
: >server.pem
: >server.key

cat >good.yaml <<'YAML'
workers: 2
stores: ./stores
access_log: { path: logs/access.log, format: w3c }
error_log: { path: "-", level: info }
limits: { header_bytes: 16k, header_timeout: 10s, body_timeout: 30s }
revocation: { mode: crl, scope: chain, on_unknown: deny, refresh: 1h }
sites:
  - name: main
    hostnames: [localhost, www.example.com]
    root: ./www
    ssl: require
    client_certificates: accept
    locations:
      - { path: /secure, client_certificates: require }
      - { path: /pub, ssl: allow, client_certificates: ignore }
    bindings:
      - { listen: "127.0.0.1:0", tls: true, certificate: server.pem, key: server.key }
      - { listen: "127.0.0.1:1" }
  - name: other
    revocation: { mode: ocsp+crl, timeout: 2s }
    bindings:
      - { listen: "127.0.0.1:0", tls: true, certificate: server.pem, key: server.key }
YAML

st=$(run good.yaml)
expect_status good 0 "$st"
expect_line good "$T/out" "good.yaml: ok (2 sites, 3 bindings)"
expect_line good "$T/out" "listener 127.0.0.1:0 (TLS)"
expect_line good "$T/out" "  site main: certificate $T/conf/server.pem; asks for a client certificate in the handshake: yes (CA list roots)"
expect_line good "$T/out" "  site other (default): certificate $T/conf/server.pem; asks for a client certificate in the handshake: yes (CA list roots)"
expect_line good "$T/out" "  location /secure              ssl require, client_certificates require"
expect_line good "$T/out" "  location /pub                 ssl allow, client_certificates ignore"
expect_line good "$T/out" "  elsewhere                     ssl require, client_certificates accept"
expect_line good "$T/out" "  revocation: mode ocsp+crl, scope chain, on_unknown deny, stale_grace 0s, clock_skew 5m, timeout 2s, refresh 1h, max_crl_age 0s, max_crl_size 64M"
[ -s "$T/err" ] && fail "good: unexpected stderr: $(cat "$T/err")"

# Run from another directory: relative paths still resolve next to the file.
st=$(cd / && "$CERTGATE" config check "$T/conf/good.yaml" >"$T/out" 2>"$T/err"; echo $?)
expect_status "good from /" 0 "$st"
expect_line "good from /" "$T/out" "access_log $T/conf/logs/access.log (w3c); error_log stderr (info)"

# --print: JSON (also YAML) that loads back to exactly itself.
st=$(run --print good.yaml)
expect_status print 0 "$st"
cp "$T/out" printed.json
if python3 -m json.tool printed.json >/dev/null; then ok "print: valid JSON"; else fail "print: not JSON"; fi
st=$(run --print printed.json)
expect_status "print round trip" 0 "$st"
if cmp -s printed.json "$T/out"; then ok "print: round trip identical"; else fail "print: round trip differs"; diff printed.json "$T/out"; fi

# The verification cache's limits: the defaults, values set, "0" for no cache.
vc_json() {   # EXPR over the printed limits `l`
    python3 -c 'import json,sys; l=json.load(open(sys.argv[1]))["limits"]; print(eval(sys.argv[2]))' "$T/out" "$1"
}
st=$(run --print good.yaml)
expect_status "vcache defaults" 0 "$st"
got=$(vc_json '(l["verification_cache_entries"], l["verification_cache_bytes"])')
if [ "$got" = "(10000, '32M')" ]; then ok "vcache defaults: $got"; else fail "vcache defaults: $got"; fi
printf '%s\n' 'limits: { verification_cache_entries: 250000, verification_cache_bytes: 1G }' \
    'sites: [{name: a, bindings: [{listen: ":80"}]}]' >vcache.yaml
st=$(run --print vcache.yaml)
expect_status "vcache set" 0 "$st"
got=$(vc_json '(l["verification_cache_entries"], l["verification_cache_bytes"])')
if [ "$got" = "(250000, '1G')" ]; then ok "vcache set: $got"; else fail "vcache set: $got"; fi
printf '%s\n' 'limits: { verification_cache_entries: 0 }' \
    'sites: [{name: a, bindings: [{listen: ":80"}]}]' >vcache-off.yaml
st=$(run --print vcache-off.yaml)
expect_status "vcache off" 0 "$st"
got=$(vc_json 'l["verification_cache_entries"]')
if [ "$got" = 0 ]; then ok "vcache off: $got"; else fail "vcache off: $got"; fi

# The static-file cache's limits: the defaults, then values set.
st=$(run --print good.yaml)
got=$(vc_json '(l["file_cache_entries"], l["file_cache_bytes"], l["file_cache_max_file"], l["file_cache_valid"])')
if [ "$got" = "(1000, '16M', '64k', '1s')" ]; then ok "file cache defaults: $got"; else fail "file cache defaults: $got"; fi
printf '%s\n' 'limits: { file_cache_entries: 0, file_cache_bytes: 1M, file_cache_max_file: 4k, file_cache_valid: 250ms }' \
    'sites: [{name: a, bindings: [{listen: ":80"}]}]' >fcache.yaml
st=$(run --print fcache.yaml)
expect_status "file cache set" 0 "$st"
got=$(vc_json '(l["file_cache_entries"], l["file_cache_bytes"], l["file_cache_max_file"], l["file_cache_valid"])')
if [ "$got" = "(0, '1M', '4k', '250ms')" ]; then ok "file cache set: $got"; else fail "file cache set: $got"; fi

# bad CASE-NAME YAML WANT-STDERR-LINE
bad() {
    printf '%s\n' "$2" >bad.yaml
    local st
    st=$(run bad.yaml)
    expect_status "$1" 2 "$st"
    expect_line "$1" "$T/err" "$3"
    [ -s "$T/out" ] && fail "$1: unexpected stdout: $(cat "$T/out")"
}

bad duration 'limits:
  header_timeout: ten
sites: []' \
    "bad.yaml:2:19: limits.header_timeout: expected a duration like 10s, 500ms, 2m; got 'ten'"

bad file-cache-max-file 'limits: { file_cache_max_file: 128k }
sites: []' \
    "bad.yaml:1:32: limits.file_cache_max_file: expected a size like 16384, 16k, 10M, 1G from 1 to 64k; got '128k'"

bad vcache-entries 'limits: { verification_cache_entries: 20000000 }
sites: []' \
    "bad.yaml:1:39: limits.verification_cache_entries: expected a whole number from 0 to 10000000; got '20000000'"

bad vcache-bytes 'limits:
  verification_cache_bytes: 64k
sites: []' \
    "bad.yaml:2:29: limits.verification_cache_bytes: expected a size like 16384, 16k, 10M, 1G from 1M to 64G; got '64k'"

bad typo 'workers: 2
sites:
  - name: a
    hostname: [a.example]
    bindings: [{listen: ":80"}]' \
    "bad.yaml:4:5: sites[0]: unknown key 'hostname' (did you mean 'hostnames'?); valid keys: name, hostnames, root, symlinks, ssl, client_certificates, revocation, locations, bindings"

bad admin-clash 'admin: { listen: "127.0.0.1:8080" }
sites:
  - name: a
    bindings: [{listen: "*:8080"}]' \
    "bad.yaml:1:18: admin.listen: '127.0.0.1:8080' clashes with site 'a' listening on '*:8080' (line 4): the admin listener needs an address of its own"

bad duplicate 'sites: [{name: a, bindings: [{listen: ":80"}]}]
sites: [{name: b, bindings: [{listen: ":81"}]}]' \
    "bad.yaml:2:1: duplicate key 'sites' (first set at line 1, column 8)"

bad syntax 'sites:
  - name: a
   bindings: []' \
    "bad.yaml:3:4: YAML syntax error: did not find expected '-' indicator while parsing a block collection"

bad alias 'defaults: &d {ssl: require}
sites: []' \
    "bad.yaml:1:11: YAML anchors are not supported (&d): write the value out in full"

bad missing-cert 'sites:
  - name: a
    bindings:
      - listen: "127.0.0.1:8443"
        tls: true
        certificate: missing.pem
        key: server.key' \
    "bad.yaml:6:22: sites[0].bindings[0].certificate: cannot read certificate '$T/conf/missing.pem': No such file or directory"

bad shared-address 'sites:
  - { name: a, bindings: [{ listen: ":8443", tls: true, certificate: server.pem, key: server.key }] }
  - { name: b, hostnames: [b.example], bindings: [{ listen: "0.0.0.0:8443" }] }' \
    "bad.yaml:3:61: sites[1].bindings[0].listen: tls: false here, but site 'a' uses the same address (':8443') with tls: true; one address is either TLS or plain HTTP"

bad bool 'sites: [{name: a, bindings: [{listen: ":80", tls: yes}]}]' \
    "bad.yaml:1:51: sites[0].bindings[0].tls: expected true or false; got 'yes'"

# Files that cannot be read, and usage errors.
st=$(run nope.yaml)
expect_status "missing file" 2 "$st"
expect_line "missing file" "$T/err" "nope.yaml: cannot open: No such file or directory"

head -c 1100000 /dev/zero | tr '\0' '#' >big.yaml
st=$(run big.yaml)
expect_status "big file" 2 "$st"
expect_line "big file" "$T/err" "big.yaml: file too large (the limit is 1048576 bytes)"

st=$(run)
expect_status "no file" 2 "$st"
st=$("$CERTGATE" config frobnicate >/dev/null 2>&1; echo $?)
expect_status "unknown action" 2 "$st"
st=$("$CERTGATE" config check --help >/dev/null 2>&1; echo $?)
expect_status "help" 0 "$st"

# A warning does not fail the check, and says where.
cat >warn.yaml <<'YAML'
sites:
  - name: a
    ssl: require
    bindings: [{listen: ":80"}]
YAML
st=$(run warn.yaml)
expect_status warning 0 "$st"
expect_line warning "$T/err" "warning: warn.yaml:2:5: sites[0]: site 'a' requires TLS but has no TLS binding: every request gets 403.4"

if [ "$fails" -ne 0 ]; then
    echo "config_check: $fails failure(s)"
    exit 1
fi
echo "config_check: all passed"
