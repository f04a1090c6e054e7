# metrics.sh: GET /metrics on the admin listener. Real traffic (curl and
# openssl s_client with the test PKI) moves exactly the counters it should:
# requests by site and status class, refusals by site and reason slug (the
# access log's), full and resumed handshakes, handshake failures by kind,
# refused renegotiations, connections, the session and verification caches,
# and a request served with its revocation status unknown under
# on_unknown: allow (parked, a CRL fetch that got HTTP 404, the answers its
# verdict used). The admin listener serves nothing of a site, scrapes count
# nowhere, the body is well-formed exposition format 0.0.4, and a reload
# (SIGHUP) keeps every counter.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/clientcert_lib.sh"

P="$T/pki"
S="$T/stores"
cc_pki "$P" "$S"
# A second issuing CA with no CRL anywhere: its client certificates can only
# be checked through their distribution point.
cc_issue "$P" ca2 root --profile intermediate --cn "CG Test CA Without CRL"
"$CERTGATE" store import --stores "$S" "$P/ca2.pem" >/dev/null
mkdir -p "$T/www/secure"
printf 'home\n' >"$T/www/index.html"
printf 'members-only-content\n' >"$T/www/secure/index.html"

config() {  # config EXTRA_SITE_YAML
    cat <<EOF
workers: 2
stores: $S
access_log: { path: $T/access.log, format: w3c }
error_log: { path: $T/error.log, level: info }
limits: { handshake_timeout: 2s }
admin: { listen: "127.0.0.1:0" }
sites:
  - name: main
    hostnames: [a.test]
    root: $T/www
    client_certificates: accept
    locations:
      - { path: /secure, client_certificates: require }
    bindings:
      - { listen: "127.0.0.1:0", tls: true, certificate: $P/a.test.pem, key: $P/a.test.key }
  - name: other
    hostnames: [b.test]
    root: $T/www
    bindings:
      - { listen: "127.0.0.1:0", tls: true, certificate: $P/b.test.pem, key: $P/b.test.key }
  - name: rev
    hostnames: [c.test]
    root: $T/www
    client_certificates: require
    revocation: { mode: crl, on_unknown: allow, timeout: 5s }
    bindings:
      - { listen: "127.0.0.1:0", tls: true, certificate: $P/c.test.pem, key: $P/c.test.key }
$1
EOF
}
config "" >"$T/cg.yaml"
cg_start main "$T/cg.yaml"
AP=$(cg_port main 127.0.0.1:0)
ADMIN=$(cg_addr main admin)
[ -n "$ADMIN" ] || { echo "no admin line in the ready file"; cat "$T/main.ready"; exit 1; }

scrape() { curl -sS --max-time 10 "http://$ADMIN/metrics"; }

# value SCRAPE_FILE SERIES: the value of one series ("-" when absent).
value() { awk -v s="$2" 'substr($0, 1, length(s) + 1) == s " " { print $2; f = 1 } END { if (!f) print "-" }' "$1"; }

# The expected value of every series the traffic moves; the rest must stay 0.
declare -A WANT=([certgate_connections_open]=0)
# Not asserted exactly here: an estimate of memory (checked to be > 0
# below), the decoded certificates each handshake keeps or reuses (counted
# exactly by tls_cert_reuse.sh), and OpenSSL's repeated lookups (as many
# per handshake as OpenSSL's version makes; checked below).
declare -A LOOSE=([certgate_verification_cache_bytes]=1
    [certgate_decoded_certificates_reused_total]=1 [certgate_decoded_certificates_kept_total]=1
    [certgate_decoded_certificates_evicted_total]=1 [certgate_decoded_certificates]=1
    ['certgate_openssl_lookups_total{lookup="kdf-fetch",answer="thread"}']=1
    ['certgate_openssl_lookups_total{lookup="kdf-fetch",answer="openssl"}']=1
    ['certgate_openssl_lookups_total{lookup="keymgmt-names",answer="thread"}']=1
    ['certgate_openssl_lookups_total{lookup="keymgmt-names",answer="openssl"}']=1)
bump() { WANT[$1]=$(( ${WANT[$1]:-0} + ${2:-1} )); }

# check_all TAG: waits (bounded) until every expected series reached its
# value (a request is counted when its response is out, which may be a
# moment after the client read it), then asserts every one exactly, and
# that every other counter is 0.
check_all() {
    local tag=$1 s
    for s in "${!WANT[@]}"; do printf '%s %s\n' "$s" "${WANT[$s]}"; done >"$T/want.txt"
    python3 - "http://$ADMIN/metrics" "$T/want.txt" "$T/scrape.txt" <<'PY'
# Polls /metrics until every series reached its expected value (10 s at
# most), the way cg_waitlog waits for a log line; the last scrape is kept.
import sys, time, urllib.request
url, want_file, out = sys.argv[1:4]
want = {}
for line in open(want_file):
    k, v = line.rsplit(" ", 1)
    want[k] = int(v)
deadline = time.monotonic() + 10
while True:
    body = urllib.request.urlopen(url, timeout=10).read().decode()
    got = dict(l.rsplit(" ", 1) for l in body.splitlines() if l and not l.startswith("#"))
    if all(int(got.get(k, -1)) == v for k, v in want.items()) or time.monotonic() > deadline:
        break
    time.sleep(0.05)
open(out, "w").write(body)
PY
    for s in "${!WANT[@]}"; do
        cg_check "$tag: $s" "${WANT[$s]}" "$(value "$T/scrape.txt" "$s")"
    done
    while read -r s v; do
        [ -n "${WANT[$s]+x}" ] || [ -n "${LOOSE[$s]+x}" ] || cg_fail "$tag: $s is $v, expected 0"
    done < <(awk '!/^#/ && $2 != 0' "$T/scrape.txt")
    cp "$T/scrape.txt" "$T/scrape-$tag.txt"
}

# The exposition format: HELP then TYPE before a family's samples, sample
# lines name{label="value",...} integer, no series twice.
check_format() {
    python3 - "$1" <<'PY'
import re, sys
lines = open(sys.argv[1]).read().split("\n")
assert lines[-1] == "", "the body ends with a line feed"
name_re = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
label_re = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
sample = re.compile(r"^(%s)(\{%s(?:,%s)*\})? (\d+)$" % (name_re, label_re, label_re))
helped, typed, seen = set(), {}, set()
for n, line in enumerate(lines[:-1], 1):
    if line.startswith("# HELP "):
        name = line.split(" ")[2]
        assert name not in helped, "HELP twice for %s" % name
        helped.add(name)
    elif line.startswith("# TYPE "):
        _, _, name, kind = line.split(" ")
        assert name in helped and name not in typed, "TYPE of %s: line %d" % (name, n)
        assert kind in ("counter", "gauge"), line
        assert (kind == "counter") == name.endswith("_total"), "counter names end in _total: " + name
        typed[name] = kind
    else:
        m = sample.match(line)
        assert m, "line %d is not a sample: %r" % (n, line)
        assert m.group(1) in typed, "sample before its TYPE: line %d" % n
        key = m.group(1) + (m.group(2) or "")
        assert key not in seen, "series twice: " + key
        seen.add(key)
print(len(typed), len(seen))
PY
}

cg_log "at start: every counter at 0, the format is right"
scrape >"$T/scrape0.txt"
counts=$(check_format "$T/scrape0.txt" || echo bad)
cg_match "format: families and series" '^[0-9]+ [0-9]+$' "$counts"
cg_check "at start: nothing non-zero" "" "$(awk '!/^#/ && $2 != 0' "$T/scrape0.txt")"
cg_check "sites of the config, then (none)" "main other rev (none)" \
    "$(awk -F'"' '/^certgate_http_requests_total\{/ && /status_class="2xx"/ { print $2 }' "$T/scrape0.txt" | xargs)"
cg_check "refusal rows per site: every 403.x reason and 421" \
    "403.4:ssl-required 403.7:cert-required 403.12:mapping-denied 403.13:revoked 403.16:revocation-unknown 403.16:untrusted-root 403.16:incomplete-chain 403.16:distrusted 403.16:wrong-usage 403.16:bad-signature 403.16:constraint-violation 403.16:invalid 403.17:expired 403.17:not-yet-valid 403.14:directory-listing-denied 403:forbidden 421:misdirected-request" \
    "$(awk -F'"' '/^certgate_http_refusals_total\{site="main"/ { print $4 ":" $6 }' "$T/scrape0.txt" | xargs)"

R='certgate_http_requests_total{site="'
F='certgate_http_refusals_total{site="'
HS='certgate_tls_handshakes_total{type="'
HF='certgate_tls_handshake_failures_total{kind="'
get() {  # get NAME CERT PATH [curl args]: status code of one request to a.test
    local host=$1 cert=$2 path=$3; shift 3
    local c=()
    [ "$cert" = none ] || c=(--cert "$P/$cert.pem" --key "$P/$cert.key")
    curl -sS --max-time 10 --cacert "$P/root.pem" --resolve "$host:$AP:127.0.0.1" "${c[@]}" \
        -o "$T/body" -w '%{http_code}' "$@" "https://$host:$AP$path" || true
}
full() { bump "${HS}full\"}"; bump certgate_connections_accepted_total; bump certgate_tls_session_cache_entries; }

cg_log "a good certificate, none, an expired one, an untrusted one on a location that requires one"
cg_check "good: 200" "200" "$(get a.test good '/secure/?c=good')"
full; bump "${R}main\",status_class=\"2xx\"}"; bump certgate_verification_cache_misses_total
cg_check "none: 403" "403" "$(get a.test none '/secure/?c=none')"
full; bump "${R}main\",status_class=\"4xx\"}"; bump "${F}main\",code=\"403.7\",reason=\"cert-required\"}"
cg_check "expired: 403" "403" "$(get a.test expired '/secure/?c=expired')"
full; bump "${R}main\",status_class=\"4xx\"}"; bump "${F}main\",code=\"403.17\",reason=\"expired\"}"
bump certgate_verification_cache_misses_total
cg_check "untrusted: 403" "403" "$(get a.test untrusted '/secure/?c=untrusted')"
full; bump "${R}main\",status_class=\"4xx\"}"; bump "${F}main\",code=\"403.16\",reason=\"untrusted-root\"}"
bump certgate_verification_cache_misses_total
# Kept: the verdicts on the good, expired and untrusted chains (no
# certificate: nothing to keep).
bump certgate_verification_cache_entries 3
check_all causes
cg_match "verification cache: bytes held" '^[1-9][0-9]*$' "$(value "$T/scrape.txt" certgate_verification_cache_bytes)"
# Each worker thread passes its first key-schedule fetch (per property
# query) and its first question about each key manager to OpenSSL, and
# answers every later one itself.
for l in kdf-fetch keymgmt-names; do
    cg_match "$l: answered by the thread" '^[1-9][0-9]+$' \
        "$(value "$T/scrape.txt" "certgate_openssl_lookups_total{lookup=\"$l\",answer=\"thread\"}")"
    cg_match "$l: passed to OpenSSL, a few" '^[1-9]$' \
        "$(value "$T/scrape.txt" "certgate_openssl_lookups_total{lookup=\"$l\",answer=\"openssl\"}")"
done

cg_log "a session made, then resumed (TLS 1.3, stateful ticket)"
sclient() {  # sclient QUERY OUT [s_client args]
    local q=$1 out=$2; shift 2
    printf 'GET /secure/?%s HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n' "$q" |
        timeout 10 openssl s_client -connect "127.0.0.1:$AP" -servername a.test -ign_eof "$@" \
            >"$out" 2>&1 || true
}
sclient c=first "$T/first.txt" -tls1_3 -cert "$P/good.pem" -key "$P/good.key" -sess_out "$T/sess.pem"
cg_match "first: a full handshake, served" '^New, .*HTTP/1.1 200' "$(grep -E '^(New|Reused), |^HTTP/1.1' "$T/first.txt" | xargs)"
full; bump "${R}main\",status_class=\"2xx\"}"; bump certgate_verification_cache_hits_total
sclient c=again "$T/again.txt" -tls1_3 -sess_in "$T/sess.pem"
cg_match "again: resumed, served" '^Reused, .*HTTP/1.1 200' "$(grep -E '^(New|Reused), |^HTTP/1.1' "$T/again.txt" | xargs)"
# The resumed connection gets a ticket of its own: one more session held.
bump "${HS}resumed\"}"; bump certgate_connections_accepted_total; bump certgate_tls_session_cache_entries
bump certgate_tls_session_cache_hits_total; bump "${R}main\",status_class=\"2xx\"}"
bump certgate_verification_cache_hits_total
check_all resume

cg_log "421: Host names a site with another certificate policy, or no site at all"
cg_check "Host b.test on a.test's connection: 421" "421" "$(get a.test good '/?c=mis' -H 'Host: b.test')"
full; bump "${R}other\",status_class=\"4xx\"}"; bump "${F}other\",code=\"421\",reason=\"misdirected-request\"}"
cg_check "Host d.test (no such site): 421" "421" "$(get a.test none '/?c=nosite' -H 'Host: d.test')"
full; bump "${R}(none)\",status_class=\"4xx\"}"; bump "${F}(none)\",code=\"421\",reason=\"misdirected-request\"}"
check_all misdirected

cg_log "handshake failures, by kind"
code=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$AP/?c=plain" || true)
cg_check "plain HTTP on the TLS port: 400" "400" "$code"
bump "${HF}not-tls\"}"; bump certgate_connections_accepted_total; bump "${R}(none)\",status_class=\"4xx\"}"
code=$(curl -sS --max-time 10 --resolve "a.test:$AP:127.0.0.1" -o /dev/null -w '%{http_code}' "https://a.test:$AP/" 2>/dev/null || true)
cg_check "a client that does not trust the server: no answer" "000" "$code"
bump "${HF}client-alert\"}"; bump certgate_connections_accepted_total
out=$(timeout 10 openssl s_client -connect "127.0.0.1:$AP" -servername a.test -tls1_2 -cipher AES128-SHA </dev/null 2>&1 || true)
cg_match "no cipher in common: the server says so" 'alert handshake failure' "$out"
bump "${HF}protocol\"}"; bump certgate_connections_accepted_total
# The start of a ClientHello record, then the client goes.
python3 -c 'import socket, sys; s = socket.create_connection(("127.0.0.1", int(sys.argv[1]))); s.sendall(b"\x16\x03\x01"); s.close()' "$AP"
bump "${HF}closed\"}"; bump certgate_connections_accepted_total
# Connected, silent: closed at limits.handshake_timeout (2 s); the client
# holds the socket until the server closed it.
python3 -c 'import socket, sys; s = socket.create_connection(("127.0.0.1", int(sys.argv[1]))); s.settimeout(10); print(len(s.recv(1)))' "$AP" >"$T/silent.txt"
cg_check "silent client: closed by the server" "0" "$(cat "$T/silent.txt")"
bump "${HF}timeout\"}"; bump certgate_connections_accepted_total
# A certificate whose CertificateVerify fails: good's public key with
# untrusted's private scalar (serve_tls_clientcert.sh proves the pair
# really signs wrong); the handshake ends with decrypt_error.
$CG_PY forgekey "$P/good.key" "$P/untrusted.key" >"$P/forged.key"
out=$(printf 'GET /?c=forged HTTP/1.1\r\nHost: a.test\r\n\r\n' |
    timeout 10 openssl s_client -connect "127.0.0.1:$AP" -servername a.test -tls1_3 \
        -cert "$P/good.pem" -key "$P/forged.key" -ign_eof 2>&1 || true)
cg_match "forged key: the server ends the handshake with decrypt_error" 'alert decrypt error' "$out"
bump "${HF}certificate-verify-failed\"}"; bump certgate_connections_accepted_total
check_all failures

cg_log "client-initiated renegotiation (TLS 1.2) is refused and counted"
mkfifo "$T/reneg.in"
timeout 10 openssl s_client -connect "127.0.0.1:$AP" -servername a.test -tls1_2 \
    -cert "$P/good.pem" -key "$P/good.key" <"$T/reneg.in" >"$T/reneg.out" 2>&1 &
rpid=$!
exec 3>"$T/reneg.in"
printf 'R\n' >&3
wait "$rpid" || true
exec 3>&-
cg_match "renegotiation: refused by the server" 'RENEGOTIATING.*no renegotiation' "$(tr '\n' ' ' <"$T/reneg.out")"
# The client ends the connection with a fatal alert, which drops its
# session from the cache: no session more than before.
full; bump certgate_tls_renegotiations_refused_total; bump certgate_tls_session_cache_entries -1
check_all renegotiation

cg_log "revocation unknown under on_unknown: allow: parked, fetched (HTTP 404), served, counted"
# The distribution point is the admin listener, which answers 404 to
# anything but /metrics: a real HTTP error from a real server.
cc_issue "$P" dp ca2 --profile client --cn "dora distribution point" --crl-url "http://$ADMIN/ca2.crl"
code=$(curl -sS --max-time 15 --cacert "$P/root.pem" --resolve "c.test:$AP:127.0.0.1" \
    --cert "$P/dp.pem" --key "$P/dp.key" -o "$T/body" -w '%{http_code}' "https://c.test:$AP/?c=rev" || true)
cg_check "revocation unknown, allowed: 200" "200" "$code"
full; bump "${R}rev\",status_class=\"2xx\"}"; bump certgate_verification_cache_misses_total
# Parked unless the fetch was over before the request could park (the
# admin listener answers from the other worker: on a loaded machine that
# can come first); the error log says which, from the same decision.
if grep -qF 'revocation: request /?c=rev waited' "$T/error.log"; then
    bump certgate_revocation_parked_requests_total
fi
bump certgate_revocation_unknown_allowed_total
bump 'certgate_revocation_fetches_total{source="crl",outcome="http-error"}'
bump 'certgate_revocation_answers_total{source="none",status="unknown"}'         # the leaf
bump 'certgate_revocation_answers_total{source="local-crl",status="good"}'      # ca2, by root's CRL
check_all revocation
cg_waitlog "$T/error.log" 'served with revocation status unknown' || cg_fail "no log line for the allowed request"

cg_log "the admin listener serves nothing of a site, and scrapes count nowhere"
ac=$(curl -sS --max-time 10 -o "$T/admin-root" -w '%{http_code}' "http://$ADMIN/" || true)
cg_check "admin /: 404" "404" "$ac"
ac=$(curl -sS --max-time 10 -H 'Host: a.test' -o "$T/admin-secure" -w '%{http_code}' "http://$ADMIN/secure/index.html" || true)
cg_check "admin /secure/index.html with Host a.test: 404" "404" "$ac"
if grep -q -e home -e members-only "$T/admin-root" "$T/admin-secure"; then cg_fail "site content on the admin listener"; else cg_ok "no site content on the admin listener"; fi
ac=$(curl -sS --max-time 10 -X POST -d x -o /dev/null -w '%{http_code}' "http://$ADMIN/metrics" || true)
cg_check "admin POST /metrics: 405" "405" "$ac"
cg_match "admin /metrics: content type 0.0.4" 'Content-Type: text/plain; version=0.0.4; charset=utf-8' \
    "$(curl -sS --max-time 10 -I "http://$ADMIN/metrics" | tr -d '\r')"
ac=$(curl -sS --max-time 5 --cacert "$P/root.pem" -o /dev/null -w '%{http_code}' "https://$ADMIN/metrics" 2>/dev/null || true)
cg_check "admin over TLS: no answer (plain HTTP only)" "000" "$ac"
check_all admin
counts=$(check_format "$T/scrape.txt" || echo bad)
cg_match "format after traffic" '^[0-9]+ [0-9]+$' "$counts"

cg_log "the access log and the refusal counters tell the same story"
cg_waitlog "$T/access.log" ' c=rev ' || cg_fail "access log not flushed"
for reason in cert-required expired untrusted-root misdirected-request; do
    logged=$(awk -v r="$reason" '/^#Fields:/ { for (i = 2; i <= NF; i++) idx[$i] = i - 1; next } /^#/ { next } $(idx["x-reason"]) == r && ($(idx["sc-status"]) == 403 || $(idx["sc-status"]) == 421) { n++ } END { print n + 0 }' "$T/access.log")
    counted=$(awk -v r="reason=\"$reason\"}" 'index($0, r) && /^certgate_http_refusals_total/ { n += $2 } END { print n + 0 }' "$T/scrape.txt")
    cg_check "$reason: access-log lines = counter" "$logged" "$counted"
done

cg_log "reload (SIGHUP) with one more site: every counter kept"
config "  - name: extra
    hostnames: [e.test]
    root: $T/www
    bindings:
      - { listen: \"127.0.0.1:0\", tls: true, certificate: $P/a.test.pem, key: $P/a.test.key }" >"$T/cg.yaml"
kill -HUP "$CG_PID_main"
cg_waitlog "$T/error.log" 'reload: generation 2 applied' 20 || cg_fail "reload not applied"
check_all reload
cg_check "the new site is listed, at 0" "0" "$(value "$T/scrape.txt" "${R}extra\",status_class=\"2xx\"}")"
cg_check "good after the reload: 200" "200" "$(get a.test good '/secure/?c=after')"
full; bump "${R}main\",status_class=\"2xx\"}"
# A new trust store generation: the chain is judged again, and kept beside
# the old generation's verdicts (they age out of the cache by its bounds).
bump certgate_verification_cache_misses_total; bump certgate_verification_cache_entries
check_all after-reload

cg_stop main
cg_check "exit status" "0" "$CG_RC"
cg_done
