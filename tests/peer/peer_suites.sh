#!/usr/bin/env bash
# Peer suites: every chain and CRL case of ../shared/peer-suites (written
# outside this project, never edited here) played through `certgate verify`.
# Prints one line per disagreement, a summary per suite, per kind and per
# expected category, then "N passed, N failed". Fails when the agreement
# drops below FLOOR (the figure reached when this file was last changed), so
# a regression in the verdict engine shows here.
#
# Env: CERTGATE (the binary), CG_SOURCE_DIR, CG_TMPDIR (from ctest).
# PEER_VERBOSE=1 prints every case; PEER_ONLY=<id substring> runs a subset.
set -u

FLOOR=433

: "${CERTGATE:?CERTGATE must point at the certgate binary}"
: "${CG_SOURCE_DIR:?CG_SOURCE_DIR must point at the source tree}"
SUITES="$CG_SOURCE_DIR/../shared/peer-suites"
if [ ! -f "$SUITES/nist-pkits/manifest.tsv" ] || [ ! -f "$SUITES/chromium-pki/manifest.tsv" ]; then
    echo "FAIL: peer suites not found at $SUITES (expected nist-pkits/ and chromium-pki/ with manifest.tsv)" >&2
    exit 1
fi
TMP="${CG_TMPDIR:-/tmp}/peer_suites.$$"
mkdir -p "$TMP/empty-stores"
trap 'rm -rf "$TMP"' EXIT
RESULTS="$TMP/results.tsv"
: >"$RESULTS"

# manifest purpose -> --purpose
purpose_arg() {
    case "$1" in
        clientAuth) echo client ;;
        serverAuth) echo server ;;
        *) echo any ;;
    esac
}

run_case() {   # suite dir, then the manifest columns
    local suite=$1 id=$2 kind=$3 leaf=$4 inters=$5 anchors=$6 crls=$7 epoch=$9 purpose=${10}
    local options=${11} expected=${12} category=${13}
    local -a args=(verify "$suite/$leaf" --at "@$epoch" --purpose "$(purpose_arg "$purpose")" --json)
    local f opt revocation=off scope=chain

    IFS=';' read -r -a list <<<"$inters"
    for f in "${list[@]}"; do [ "$f" = "-" ] || args+=(--chain "$suite/$f"); done
    if [ "$anchors" = "-" ]; then
        args+=(--stores "$TMP/empty-stores")   # no trust anchor at all
    else
        IFS=';' read -r -a list <<<"$anchors"
        for f in "${list[@]}"; do args+=(--root "$suite/$f"); done
    fi
    IFS=';' read -r -a list <<<"$crls"
    for f in "${list[@]}"; do [ "$f" = "-" ] || args+=(--crl "$suite/$f"); done
    IFS=';' read -r -a list <<<"$options"
    for opt in "${list[@]}"; do
        case "$opt" in
            crl_check_all) revocation=crl; scope=chain ;;
            crl_check_leaf) revocation=crl; scope=leaf ;;
            policy=*) args+=(--policy "${opt#policy=}") ;;
            explicit_policy) args+=(--explicit-policy) ;;
            inhibit_map) args+=(--inhibit-policy-mapping) ;;
            inhibit_any) args+=(--inhibit-any-policy) ;;
            max_crl_age=*) args+=(--max-crl-age "${opt#max_crl_age=}") ;;
            anchor_unconstrained) args+=(--anchor-unconstrained) ;;
            # Always on in the engine: extended CRL support, deltas, policy
            # processing. Informational: the rest (see the suite README).
            *) ;;
        esac
    done
    args+=(--revocation "$revocation" --revocation-scope "$scope")

    local out err rc got reason
    out=$("$CERTGATE" "${args[@]}" 2>"$TMP/stderr")
    rc=$?
    err=$(head -c 300 "$TMP/stderr" | tr '\n\t' '  ')
    case $rc in
        0) got=accept; reason=ok ;;
        1) got=reject
           reason=$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["verdict"]["reason"])' 2>/dev/null || echo "?") ;;
        2) # An input certgate refuses to read (a malformed CRL) is never accepted.
           got=reject; reason="input-error: $err" ;;
        *) got=crash; reason="exit $rc: $err" ;;
    esac
    local verdict=agree
    [ "$got" = "$expected" ] || verdict=DISAGREE
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(basename "$suite")" "$kind" "$id" "$expected" \
        "$category" "$got" "$reason" >>"$RESULTS"
    if [ "$verdict" = DISAGREE ] || [ "${PEER_VERBOSE:-0}" = 1 ]; then
        printf '%-9s %s: expected %s (%s), certgate %s (%s)\n' "$verdict" "$id" "$expected" \
            "$category" "$got" "$reason"
    fi
}

skipped=0
for name in nist-pkits chromium-pki; do
    suite="$SUITES/$name"
    while IFS=$'\t' read -r id kind leaf inters anchors crls ocsp vtime epoch purpose options expected category desc; do
        [ "$id" = id ] && continue
        if [ "$kind" = ocsp ]; then   # OCSP comes with the revocation issue
            skipped=$((skipped + 1))
            continue
        fi
        case "$id" in *"${PEER_ONLY:-}"*) ;; *) continue ;; esac
        run_case "$suite" "$id" "$kind" "$leaf" "$inters" "$anchors" "$crls" "$vtime" "$epoch" \
            "$purpose" "$options" "$expected" "$category"
    done <"$suite/manifest.tsv"
done

echo
awk -F'\t' -v skipped="$skipped" '
    { ok = ($4 == $6); n[$1]++; a[$1] += ok; nk[$1 " " $2]++; ak[$1 " " $2] += ok;
      cat = ($4 == "accept") ? "accept" : $5; nc[cat]++; ac[cat] += ok; total++; pass += ok }
    END {
        for (s in n) printf "%s: %d/%d agree\n", s, a[s], n[s]
        for (k in nk) printf "  %s: %d/%d\n", k, ak[k], nk[k]
        print "by expected outcome / category:"
        for (c in nc) printf "  %-28s %d/%d\n", c, ac[c], nc[c]
        printf "ocsp cases skipped: %d\n", skipped
        printf "%d passed, %d failed\n", pass, total - pass
    }' "$RESULTS" | sort -s -k1,1 | sed 's/^/  /;s/^  \([0-9]* passed\)/\1/'

pass=$(awk -F'\t' '$4 == $6' "$RESULTS" | wc -l)
crashes=$(awk -F'\t' '$6 == "crash"' "$RESULTS" | wc -l)
if [ "$crashes" -gt 0 ]; then
    echo "FAIL: certgate verify crashed or misbehaved on $crashes case(s)" >&2
    exit 1
fi
if [ -z "${PEER_ONLY:-}" ] && [ "$pass" -lt "$FLOOR" ]; then
    echo "FAIL: $pass cases agree, below the floor of $FLOOR" >&2
    exit 1
fi
exit 0
