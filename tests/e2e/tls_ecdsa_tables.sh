# tls_ecdsa_tables.sh: the per-thread tables of P-256 keys
# (limits.ecdsa_key_tables, limits.ecdsa_key_table_uses; src/cert/ecdsa_tables.h)
# on a real server with real clients, counted through the admin endpoint's
# certgate_ecdsa_* series. One worker thread everywhere, so every signature
# is verified on the one thread and the counts are exact:
#   - tables on (uses 3): 8 full handshakes (TLS 1.2 and 1.3, one curl
#     process each, no session offered) with the same EC P-256 client chain:
#     the client key's table is made on its 3rd CertificateVerify; the chain
#     is judged once (verification cache), so the issuing CA's and the
#     root's keys verify one signature each and get none;
#   - the same without the verification cache and with 4 keys per thread:
#     the chain's two signatures go through the tables too, and one set of
#     4 keys drops its least recently used key, table and all;
#   - ecdsa_key_tables: 1 holds exactly one key (and table) per thread;
#   - ecdsa_key_tables: 0, and ec_key_decoding: provider: no table, ever;
#   - verdicts do not change: with every key's table made on its first
#     signature, the cause table (revoked, untrusted root, bad signature on
#     the chain, expired) and a failed CertificateVerify get what a server
#     without tables gives;
#   - `config check` refuses the keys out of range (file:line:col) and
#     prints their defaults; a reload that changes them says to restart and
#     the bounds of the start stay, one that sets them out of range is
#     refused.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/clientcert_lib.sh"

cc_pki_full   # P=$T/pki, S=$T/stores
for n in c1 c2; do cc_issue "$P" "$n" ca --profile client --cn "client $n"; done
mkdir -p "$T/www"
printf 'hi\n' >"$T/www/index.html"
cg_match "the client key is EC P-256" 'prime256v1' \
    "$(openssl x509 -in "$P/good.pem" -noout -text | grep 'ASN1 OID')"


# tables NAME: "verified built evicted held" from NAME's last scrape.
tables() {
    echo "$(cc_value "$1" certgate_ecdsa_table_verifications_total)" \
        "$(cc_value "$1" certgate_ecdsa_key_tables_built_total)" \
        "$(cc_value "$1" certgate_ecdsa_keys_evicted_total)" \
        "$(cc_value "$1" certgate_ecdsa_key_tables)"
}

FULL='certgate_tls_handshakes_total{type="full"}'
RESUMED='certgate_tls_handshakes_total{type="resumed"}'
GOOD_SHA=$(cc_sha256 "$P/good.pem")
N=8

# handshakes NAME TAG: N requests from good, each a full handshake with the
# client certificate (TLS 1.2 and 1.3 in turn): all 200, N full handshakes
# and no resumed one since the start of NAME, an access-log line with
# good's thumbprint per request.
handshakes() {
    local name=$1 tag=$2 i v codes=""
    for i in $(seq 1 $N); do
        v=$((i % 2 ? 2 : 3))
        codes+="$(cc_get "$name" good "$tag=$i" --tlsv1.$v --tls-max 1.$v) "
    done
    cg_check "$name: $N requests, all 200" "$(printf '200 %.0s' $(seq 1 $N))" "$codes"
    cc_scrape "$name" "$FULL" "$N"
    cg_check "$name: full handshakes / resumed" "$N 0" "$(cc_value "$name" "$FULL") $(cc_value "$name" "$RESUMED")"
    for i in 1 $N; do
        cg_check "$name: request $i: the client certificate, served" "200 $GOOD_SHA" \
            "$(cc_w3c "$T/$name.access.log" "$tag=$i" sc-status x-client-cert-sha256)"
    done
}

cg_log "tables on (ecdsa_key_table_uses: 3): $N full handshakes with one client key"
cc_serve_admin on 'limits: { ecdsa_key_table_uses: 3 }'
cc_scrape on "$FULL" 0
cg_check "on: at start, no key verified with a table" "0 0 0 0" "$(tables on)"
handshakes on a
cg_check "on: the chain judged once (misses, hits)" "1 $((N - 1))" \
    "$(cc_value on certgate_verification_cache_misses_total) $(cc_value on certgate_verification_cache_hits_total)"
# good's key verifies N CertificateVerify signatures: OpenSSL the first 2,
# its table (made on the 3rd) the 3rd and the rest. The chain is judged
# once: the issuing CA's and the root's keys verify 1 signature each.
cg_check "on: table verifications, built, evicted, held" "$((N - 2)) 1 0 1" "$(tables on)"

cg_log "tables on, no verification cache, 4 keys per thread: the chain's keys too, then LRU"
cc_serve_admin lru 'limits: { ecdsa_key_table_uses: 3, ecdsa_key_tables: 4, verification_cache_entries: 0 }'
handshakes lru b
# Each handshake now verifies 3 signatures: CertificateVerify (good's key),
# good's certificate (the CA's key) and the CA's certificate (the root's
# key). Each key's first 2 go to OpenSSL.
cg_check "lru: table verifications, built, evicted, held" "$((3 * (N - 2))) 3 0 3" "$(tables lru)"
# 4 keys per thread is one set of 4: c1's key is the 4th, no table yet.
cg_check "lru: c1: 200" 200 "$(cc_get lru c1 c=c1)"
cc_scrape lru "$FULL" $((N + 1))
cg_check "lru: c1: its chain with the tables, its key remembered" "$((3 * (N - 2) + 2)) 3 0 3" "$(tables lru)"
# c2's key is a 5th: the least recently used (good's, with its table) goes.
cg_check "lru: c2: 200" 200 "$(cc_get lru c2 c=c2)"
cc_scrape lru "$FULL" $((N + 2))
cg_check "lru: c2: good's key and table dropped" "$((3 * (N - 2) + 4)) 3 1 2" "$(tables lru)"
# good again: remembered anew (c1's key goes), verified by OpenSSL twice
# more, its table made again on the 3rd.
for i in 1 2 3; do
    cg_check "lru: good again ($i): 200" 200 "$(cc_get lru good "c=again$i")"
done
cc_scrape lru "$FULL" $((N + 5))
cg_check "lru: good's table made again on its 3rd signature" "$((3 * (N - 2) + 4 + 7)) 4 2 3" "$(tables lru)"

cg_log "ecdsa_key_tables: 1: one key per thread, whatever the sets"
cc_serve_admin one 'limits: { ecdsa_key_tables: 1, ecdsa_key_table_uses: 1 }'
# The first handshake verifies with good's key, the CA's and the root's in
# turn: each gets its table (uses: 1) and pushes the one before out.
cg_check "one: good: 200" 200 "$(cc_get one good c=one1)"
cc_scrape one "$FULL" 1
cg_check "one: 3 keys, 3 tables, 1 held" "3 3 2 1" "$(tables one)"
# The chain's verdict is cached: only good's key verifies, made again.
cg_check "one: good again: 200" 200 "$(cc_get one good c=one2)"
cc_scrape one "$FULL" 2
cg_check "one: good's key back, its table made again" "4 4 3 1" "$(tables one)"

cg_log "tables off (ecdsa_key_tables: 0)"
cc_serve_admin off 'limits: { ecdsa_key_table_uses: 1, ecdsa_key_tables: 0, verification_cache_entries: 0 }'
handshakes off c
cg_check "off: no table verification, none built" "0 0 0 0" "$(tables off)"

cg_log "ec_key_decoding: provider: the tables are not used"
cc_serve_admin provider 'ec_key_decoding: provider' 'limits: { ecdsa_key_table_uses: 1, verification_cache_entries: 0 }'
handshakes provider d
cg_check "provider: no table verification, none built" "0 0 0 0" "$(tables provider)"
for name in lru one off provider; do
    cg_stop "$name"
    cg_check "$name: exit status" 0 "$CG_RC"
done

cg_log "verdicts with a table for every key (uses: 1) are those without tables"
for name in vt vn; do
    [ "$name" = vt ] && t=32 || t=0
    cc_serve_admin "$name" 'revocation: { mode: crl }' \
        "limits: { ecdsa_key_tables: $t, ecdsa_key_table_uses: 1, verification_cache_entries: 0 }"
done
# verdict NAME WHO: "status substatus reason" of one request from WHO, and
# how many signatures NAME verified with a table meanwhile (after a label).
NREQ=0
verdict() {
    local name=$1 who=$2 before code
    cc_scrape "$name" "$FULL" "$NREQ"
    before=$(cc_value "$name" certgate_ecdsa_table_verifications_total)
    code=$(cc_get "$name" "$who" "v=$who")
    cc_scrape "$name" "$FULL" $((NREQ + 1))
    echo "$code $(cc_w3c "$T/$name.access.log" "v=$who" sc-substatus x-reason)" \
        "tables:$(($(cc_value "$name" certgate_ecdsa_table_verifications_total) - before))"
}
# good's chain comes first: the issuing CA's and the root's keys have their
# tables from then on, so badsig's altered signature (by the issuing CA) is
# refused by the CA's table.
for who in good revoked untrusted badsig expired; do
    case $who in
        good) want="200 0 ok" ;;
        revoked) want="403 13 revoked" ;;
        untrusted) want="403 16 untrusted-root" ;;
        badsig) want="403 16 bad-signature" ;;
        expired) want="403 17 expired" ;;
    esac
    with=$(verdict vt "$who")
    without=$(verdict vn "$who")
    NREQ=$((NREQ + 1))
    cg_check "$who: with tables" "$want" "${with% tables:*}"
    cg_check "$who: without tables" "$want" "${without% tables:*}"
    # Its CertificateVerify and at least one certificate's signature.
    cg_match "$who: with tables, its signatures verified with them" 'tables:([2-9]|[1-9][0-9]+)$' "$with"
    cg_check "$who: without tables, none" "tables:0" "${without##* }"
done
# A failed CertificateVerify: good's certificate, another key's signature
# (cgtest.py forgekey); good's key has its table: the one signature of the
# handshake is verified with it, and refused.
$CG_PY forgekey "$P/good.key" "$P/untrusted.key" >"$P/forged.key"
for name in vt vn; do
    cc_scrape "$name" "$FULL" "$NREQ"
    before=$(cc_value "$name" certgate_ecdsa_table_verifications_total)
    out=$(printf 'GET /?v=forged HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n' |
        timeout 10 openssl s_client -connect "127.0.0.1:${CC_PORT[$name]}" -servername a.test -tls1_3 \
            -cert "$P/good.pem" -key "$P/forged.key" -ign_eof 2>&1 || true)
    cg_match "$name: forged key: the handshake ends with decrypt_error" 'alert decrypt error' "$out"
    cc_scrape "$name" 'certgate_tls_handshake_failures_total{kind="certificate-verify-failed"}' 1
    cg_check "$name: forged key: counted as certificate-verify-failed" 1 \
        "$(cc_value "$name" 'certgate_tls_handshake_failures_total{kind="certificate-verify-failed"}')"
    [ "$name" = vt ] && want=1 || want=0
    cg_check "$name: forged key: signatures verified with a table" "$want" \
        "$(($(cc_value "$name" certgate_ecdsa_table_verifications_total) - before))"
done
for name in vt vn; do
    cg_stop "$name"
    cg_check "$name: exit status" 0 "$CG_RC"
done

cg_log "config check: the bounds, file:line:col, and the defaults"
cc_refused 'limits: { ecdsa_key_table_uses: 0 }' \
    "1:33: limits.ecdsa_key_table_uses: expected a whole number from 1 to 1000000; got '0'"
cc_refused 'limits: { ecdsa_key_table_uses: 1000001 }' \
    "1:33: limits.ecdsa_key_table_uses: expected a whole number from 1 to 1000000; got '1000001'"
cc_refused 'limits: { ecdsa_key_tables: 70000 }' \
    "1:29: limits.ecdsa_key_tables: expected a whole number from 0 to 4096; got '70000'"
cc_refused 'limits:
  ecdsa_key_tables: -1' \
    "2:21: limits.ecdsa_key_tables: expected a whole number; got '-1'"
KEYS="ecdsa_key_tables ecdsa_key_table_uses"   # as config check --print shows them
cg_check "config check --print: the defaults" "32 16" "$(cc_limits_printed "" $KEYS)"
cg_check "config check --print: the largest values" "4096 1000000" \
    "$(cc_limits_printed 'limits: { ecdsa_key_tables: 4096, ecdsa_key_table_uses: 1000000 }' $KEYS)"
cg_check "config check --print: the smallest values" "0 1" \
    "$(cc_limits_printed 'limits: { ecdsa_key_tables: 0, ecdsa_key_table_uses: 1 }' $KEYS)"

cg_log "reload: the bounds are read at start; changing them says to restart"
WARN='[warn] reload: limits.ecdsa_key_tables or _uses changed: restart to apply'
kill -HUP "$CG_PID_on"
cg_waitlog "$T/on.error.log" 'reload: generation 2 applied' 20 || cg_fail "reload 2 not applied"
cg_check "reload with the same bounds: no warning" 0 "$(grep -cF "$WARN" "$T/on.error.log" || true)"
sed -i 's/ecdsa_key_table_uses: 3 }/ecdsa_key_table_uses: 3, ecdsa_key_tables: 0 }/' "$T/on.yaml"
kill -HUP "$CG_PID_on"
cg_waitlog "$T/on.error.log" 'reload: generation 3 applied' 20 || cg_fail "reload 3 not applied"
cg_check "reload with ecdsa_key_tables: 0: the warning, once" 1 "$(grep -cF "$WARN" "$T/on.error.log" || true)"
# Still the start's bounds: good's table is kept and used. A generation
# judges the chain anew (the verification cache is keyed by it): the CA's
# and the root's keys verify their 2nd signature each, still no table.
cg_check "on: after the reload, 200" 200 "$(cc_get on good a=after)"
cc_scrape on "$FULL" $((N + 1))
cg_check "on: after the reload, still verified with the table" "$((N - 1)) 1 0 1" "$(tables on)"
sed -i 's/ecdsa_key_table_uses: 3, ecdsa_key_tables: 0 }/ecdsa_key_table_uses: 5 }/' "$T/on.yaml"
kill -HUP "$CG_PID_on"
cg_waitlog "$T/on.error.log" 'reload: generation 4 applied' 20 || cg_fail "reload 4 not applied"
cg_check "reload with ecdsa_key_table_uses: 5: the warning again" 2 "$(grep -cF "$WARN" "$T/on.error.log" || true)"
sed -i 's/ecdsa_key_table_uses: 5 }/ecdsa_key_table_uses: 0 }/' "$T/on.yaml"
kill -HUP "$CG_PID_on"
cg_waitlog "$T/on.error.log" 'reload: refused.*ecdsa_key_table_uses' 20 ||
    cg_fail "reload with ecdsa_key_table_uses: 0 not refused"
# Generation 4 (uses: 5, applied but for the bounds) judges the chain
# again: the CA's and the root's keys reach 3 signatures under the start's
# bound of 3 and get their tables; good's is used once more.
cg_check "on: after the refused reload, 200" 200 "$(cc_get on good a=refused)"
cc_scrape on "$FULL" $((N + 2))
cg_check "on: after the refused reload, the start's bound of 3 for every key" "$((N + 2)) 3 0 3" "$(tables on)"

cg_stop on
cg_check "on: exit status" 0 "$CG_RC"
cg_done
