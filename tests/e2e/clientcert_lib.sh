# clientcert_lib.sh: the client-certificate test PKI and assertions shared by
# the clientcert_*.sh end-to-end tests. Source it after lib.sh.
#
# cc_pki DIR STORES: a two-level PKI made now (never committed, never stale):
#   root.pem (in STORES/root), ca.pem (issuing CA, in STORES/intermediate),
#   one client certificate per cause, each with its key; CRLs of both CAs in
#   STORES/crl (nothing revoked yet: cc_revoke adds "revoked").
#     good        issued by ca, clientAuth                -> ok
#     revoked     issued by ca, listed in ca's CRL        -> 403.13 revoked
#     untrusted   issued by a root not in the stores      -> 403.16 untrusted-root
#                 (sent with that root, so the path reaches it)
#     orphan      issued by a CA known nowhere            -> 403.16 incomplete-chain
#     banned      issued by ca, its cert in disallowed/   -> 403.16 distrusted
#     server      issued by ca, serverAuth only           -> 403.16 wrong-usage
#     expired     issued by ca, ended yesterday           -> 403.17 expired
#     future      issued by ca, starts tomorrow           -> 403.17 not-yet-valid
#   plus a.test / b.test / c.test server certificates from root.

if [ "${BASH_SOURCE[0]}" = "$0" ]; then echo "clientcert_lib.sh: helpers for clientcert_*.sh"; exit 0; fi

cc_issue() {  # cc_issue DIR NAME ISSUER profile-and-options...
    local dir=$1 name=$2 issuer=$3; shift 3
    "$CERTGATE" pki issue "$@" --issuer "$dir/$issuer.pem" --issuer-key "$dir/$issuer.key" \
        --out "$dir/$name.pem" --key-out "$dir/$name.key" >/dev/null
}

cc_pki() {
    local P=$1 S=$2 n
    mkdir -p "$P" "$S"
    "$CERTGATE" pki issue --profile root --cn "CG Test Root" --org "certgate tests" \
        --out "$P/root.pem" --key-out "$P/root.key" >/dev/null
    cc_issue "$P" ca root --profile intermediate --cn "CG Test Issuing CA" --org "certgate tests"
    "$CERTGATE" pki issue --profile root --cn "Stranger Root" --out "$P/stranger.pem" \
        --key-out "$P/stranger.key" >/dev/null
    "$CERTGATE" pki issue --profile root --cn "Hidden Root" --out "$P/hidden.pem" \
        --key-out "$P/hidden.key" >/dev/null
    cc_issue "$P" hiddenca hidden --profile intermediate --cn "Hidden Issuing CA"
    for n in a.test b.test c.test; do
        cc_issue "$P" "$n" root --profile server --cn "$n" --dns "$n" --ip 127.0.0.1
    done
    cc_issue "$P" good ca --profile client --cn "alice"
    cc_issue "$P" revoked ca --profile client --cn "rita revoked"
    cc_issue "$P" untrusted stranger --profile client --cn "ursula untrusted"
    cat "$P/stranger.pem" >>"$P/untrusted.pem"
    cc_issue "$P" orphan hiddenca --profile client --cn "oscar orphan"
    cc_issue "$P" banned ca --profile client --cn "bob banned"
    cc_issue "$P" server ca --profile client --cn "sam serverauth" --eku serverAuth
    cc_issue "$P" expired ca --profile client --cn "eve expired" --not-before -30d --not-after -1d
    cc_issue "$P" future ca --profile client --cn "fay future" --not-before +1d --not-after +30d
    "$CERTGATE" store import --stores "$S" "$P/root.pem" >/dev/null
    "$CERTGATE" store import --stores "$S" "$P/ca.pem" >/dev/null
    "$CERTGATE" store import --stores "$S" --to disallowed "$P/banned.pem" >/dev/null
    "$CERTGATE" pki crl --issuer "$P/root.pem" --issuer-key "$P/root.key" --out "$P/root.crl" >/dev/null
    "$CERTGATE" pki crl --issuer "$P/ca.pem" --issuer-key "$P/ca.key" --out "$P/ca.crl" >/dev/null
    "$CERTGATE" store import --stores "$S" "$P/root.crl" "$P/ca.crl" >/dev/null
}

# cc_revoke DIR STORES: a newer CRL of the issuing CA revoking "revoked",
# imported into the stores (the older CRL is replaced: a higher number).
cc_revoke() {
    local P=$1 S=$2
    "$CERTGATE" pki crl --issuer "$P/ca.pem" --issuer-key "$P/ca.key" --revoke "$P/revoked.pem" \
        --number 2 --out "$P/ca2.crl" >/dev/null
    rm -f "$S"/crl/*
    "$CERTGATE" store import --stores "$S" "$P/root.crl" "$P/ca2.crl" >/dev/null
}

# The lower-case SHA-256 thumbprint of a PEM certificate.
cc_sha256() { openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr 'A-F' 'a-f'; }

# cc_w3c LOG QUERY FIELD...: the named W3C fields of the access-log line whose
# cs-uri-query is QUERY, space-separated (waits for the line: the log is
# flushed about once a second).
cc_w3c() {
    local log=$1 q=$2; shift 2
    cg_waitlog "$log" " $q " 10 || { echo "no access-log line for $q"; return 0; }
    awk -v q="$q" -v want="$*" '
        /^#Fields:/ { for (i = 2; i <= NF; i++) idx[$i] = i - 1; next }
        /^#/ { next }
        $(idx["cs-uri-query"]) == q {
            n = split(want, w, " "); out = ""
            for (i = 1; i <= n; i++) out = out (i > 1 ? " " : "") $(idx[w[i]])
            print out; exit
        }' "$log"
}

# cc_json FIELD: one member of the problem+json body on stdin ("-" if absent;
# "path" gives the number of path elements).
cc_json() {
    python3 -c '
import json, sys
d = json.load(sys.stdin)
v = d.get(sys.argv[1], "-")
print(len(v) if isinstance(v, list) else v)' "$1"
}

# cc_pki_more DIR STORES: the rest of the 403.16 reasons, after cc_pki (CRLs
# for every new CA but one, so revocation decides only where meant to):
#     badsig      issued by ca, its signature altered     -> 403.16 bad-signature
#     deep        under ca0 (path length 0) -> subca (both
#                 in the stores, also sent)               -> 403.16 constraint-violation
#     unknown     issued by nocrl, a CA in the stores with
#                 no CRL (on_unknown: deny)               -> 403.16 revocation-unknown
#     odd         issued by ca, an unknown critical
#                 extension                               -> 403.16 invalid
cc_pki_more() {
    local P=$1 S=$2
    cc_issue "$P" badsig ca --profile client --cn "bella badsig"
    # The last byte of the DER is the last byte of the ECDSA signature's s:
    # flipping it keeps the encoding valid and breaks the signature (the
    # certificate's own key, used for CertificateVerify, is untouched).
    python3 - "$P/badsig.pem" <<'PY'
import base64, sys
path = sys.argv[1]
text = open(path).read()
body = text.split("-----BEGIN CERTIFICATE-----")[1].split("-----END CERTIFICATE-----")[0]
der = bytearray(base64.b64decode(body))
der[-1] ^= 0x01
b64 = base64.b64encode(bytes(der)).decode()
with open(path, "w") as f:
    f.write("-----BEGIN CERTIFICATE-----\n")
    f.write("".join(b64[i:i + 64] + "\n" for i in range(0, len(b64), 64)))
    f.write("-----END CERTIFICATE-----\n")
PY
    cc_issue "$P" ca0 root --profile intermediate --cn "CG Path Zero CA" --path-len 0
    cc_issue "$P" subca ca0 --profile intermediate --cn "CG Too Deep CA"
    cc_issue "$P" deep subca --profile client --cn "dana deep"
    cat "$P/subca.pem" "$P/ca0.pem" >>"$P/deep.pem"
    cc_issue "$P" nocrl root --profile intermediate --cn "CG No CRL CA"
    cc_issue "$P" unknown nocrl --profile client --cn "uma unknown"
    "$CERTGATE" store import --stores "$S" "$P/nocrl.pem" >/dev/null
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$P/odd.key" \
        -subj "/CN=otto odd" -out "$P/odd.csr" 2>/dev/null
    printf '%s\n' 'basicConstraints = critical, CA:FALSE' 'keyUsage = critical, digitalSignature' \
        'extendedKeyUsage = clientAuth' 'subjectKeyIdentifier = hash' \
        'authorityKeyIdentifier = keyid' '1.3.6.1.4.1.55555.1.1 = critical, ASN1:UTF8String:must-understand' \
        >"$P/odd.ext"
    openssl x509 -req -in "$P/odd.csr" -CA "$P/ca.pem" -CAkey "$P/ca.key" -set_serial 0x5eed \
        -days 30 -sha256 -extfile "$P/odd.ext" -out "$P/odd.pem" 2>/dev/null
    local n
    # The path-zero CAs are in the stores too (their CRLs need them there);
    # the client still sends them.
    "$CERTGATE" store import --stores "$S" "$P/ca0.pem" "$P/subca.pem" >/dev/null
    for n in ca0 subca; do
        "$CERTGATE" pki crl --issuer "$P/$n.pem" --issuer-key "$P/$n.key" --out "$P/$n.crl" >/dev/null
        "$CERTGATE" store import --stores "$S" "$P/$n.crl" >/dev/null
    done
}

# cc_pki_full: the whole test PKI, every cause (cc_pki, then cc_revoke and
# cc_pki_more), in P=$T/pki with the stores in S=$T/stores (both set here).
cc_pki_full() {
    P="$T/pki"
    S="$T/stores"
    cc_pki "$P" "$S"
    cc_revoke "$P" "$S"
    cc_pki_more "$P" "$S"
}

# cc_site_config OUT LOG_PREFIX [LINE...]: the configuration most tests
# serve with: one worker, stores $S, site "main" for a.test at $T/www
# requiring a client certificate, TLS on 127.0.0.1:0 with $P/a.test.pem;
# logs LOG_PREFIXaccess.log (w3c) and LOG_PREFIXerror.log (info). Each LINE
# is one more top-level key.
cc_site_config() {
    local out=$1 logs=$2 line
    shift 2
    {
        printf 'workers: 1\nstores: %s\n' "$S"
        for line in "$@"; do printf '%s\n' "$line"; done
        cat <<YAML
access_log: { path: ${logs}access.log, format: w3c }
error_log: { path: ${logs}error.log, level: info }
sites:
  - name: main
    hostnames: [a.test]
    root: $T/www
    client_certificates: require
    bindings:
      - { listen: "127.0.0.1:0", tls: true, certificate: $P/a.test.pem, key: $P/a.test.key }
YAML
    } >"$out"
}

# ---- servers with an admin listener, driven by curl, counted by /metrics ----
declare -gA CC_PORT CC_ADMIN

# cc_serve_admin NAME LINE...: the one-site configuration of cc_site_config
# (workers: 1, client_certificates: require) with an admin listener and each
# LINE as a top-level key, in $T/NAME.yaml, logs $T/NAME.access.log and
# $T/NAME.error.log; started, its ports in CC_PORT[NAME] and CC_ADMIN[NAME].
cc_serve_admin() {
    local name=$1; shift
    cc_site_config "$T/$name.yaml" "$T/$name." 'admin: { listen: "127.0.0.1:0" }' "$@"
    cg_start "$name" "$T/$name.yaml"
    CC_PORT[$name]=$(cg_port "$name" 127.0.0.1:0)
    CC_ADMIN[$name]=$(cg_addr "$name" admin)
    [ -n "${CC_ADMIN[$name]}" ] || { echo "$name: no admin line in the ready file"; exit 1; }
}

# cc_get NAME CERT QUERY [curl args]: the status of GET /?QUERY to a.test
# from a new curl process (a new connection, no session to resume)
# presenting $P/CERT.pem.
cc_get() {
    local name=$1 cert=$2 q=$3; shift 3
    cg_curl_tls a.test "${CC_PORT[$name]}" --cacert "$P/root.pem" --no-sessionid \
        --cert "$P/$cert.pem" --key "$P/$cert.key" -o "$T/body" -w '%{http_code}' "$@" \
        "https://a.test:${CC_PORT[$name]}/?$q" 2>"$T/curl.err" || true
}

# cc_scrape NAME SERIES WANT: /metrics of NAME into $T/NAME.scrape, once
# SERIES reads WANT (polled, 10 s at most: the last scrape is kept either way).
cc_scrape() {
    python3 - "http://${CC_ADMIN[$1]}/metrics" "$2" "$3" "$T/$1.scrape" <<'PY'
import sys, time, urllib.request
url, series, want, out = sys.argv[1:5]
deadline = time.monotonic() + 10
while True:
    body = urllib.request.urlopen(url, timeout=10).read().decode()
    got = dict(l.rsplit(" ", 1) for l in body.splitlines() if l and not l.startswith("#"))
    if got.get(series) == want or time.monotonic() > deadline:
        break
    time.sleep(0.05)
open(out, "w").write(body)
PY
}

# cc_value NAME SERIES: SERIES in NAME's last scrape ("-" when absent).
cc_value() { awk -v s="$2" '$1 == s { print $2; f = 1 } END { if (!f) print "-" }' "$T/$1.scrape"; }

# ---- config check of limits --------------------------------------------------
# cc_min_site: the smallest site a configuration can have.
cc_min_site() { printf 'sites: [{name: a, bindings: [{listen: "127.0.0.1:0"}]}]\n'; }

# cc_refused YAML WANT: `config check` of YAML and cc_min_site exits 2 with
# the one line FILE:WANT on stderr and nothing on stdout.
cc_refused() {
    { printf '%s\n' "$1"; cc_min_site; } >"$T/bad.yaml"
    local rc=0
    "$CERTGATE" config check "$T/bad.yaml" >"$T/check.out" 2>"$T/check.err" || rc=$?
    cg_check "config check '$1': exit status" 2 "$rc"
    cg_check "config check '$1': the message" "$T/bad.yaml:$2" "$(cat "$T/check.err")"
    cg_check "config check '$1': nothing on stdout" "" "$(cat "$T/check.out")"
}

# cc_limits_printed YAML KEY...: the values `config check --print` shows for
# limits.KEY... of YAML (may be empty) and cc_min_site, on one line.
cc_limits_printed() {
    local yaml=$1; shift
    { [ -z "$yaml" ] || printf '%s\n' "$yaml"; cc_min_site; } >"$T/print.yaml"
    "$CERTGATE" config check --print "$T/print.yaml" 2>&1 |
        python3 -c 'import json, sys; l = json.load(sys.stdin)["limits"]; print(*(l[k] for k in sys.argv[1:]))' "$@" 2>&1
}
